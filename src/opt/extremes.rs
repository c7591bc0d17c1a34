//! The maximum or minimum of every element of a large array as one over rows, then over the
//! rows' results: `reduce_max(x)` of `x [n]` (an array of more axes read as one) ->
//! `max(reduce_max(reduce_max(reshape(x[..q B], [q, B]), [1])), reduce_max(x[q B..]))` with rows
//! of `B` elements (the last term only where `B` does not divide `n`). A reduction to one element is one loop, on one thread; a reduction of rows is
//! cut into chunks of rows that run on every core (`jit/plan/split.rs`). Exact: a maximum or
//! minimum does not depend on the order of its elements, NaN and signed zeros included
//! (`RealNum::maximum`, `RealNum::minimum`; the binary `max` and `min` fold the same way).

use super::rewrite::Rewriter;
use crate::array::DType;
use crate::error::Result;
use crate::ir::{AxisSlice, BinaryOp, Node, NodeId, Op};

/// Elements from which a vector's maximum or minimum is taken by rows (the JIT runs a kernel on
/// every core from `2^18` elements).
pub(super) const BY_ROWS_FROM: usize = 1 << 18;

/// Elements a row.
const ROW: usize = 4096;

/// The rewrite of the module's documentation for node `n` (operands `x`), or `None`.
pub(super) fn by_rows(rw: &mut Rewriter, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    let (axes, combine) = match &n.op {
        Op::ReduceMax(a) => (a, BinaryOp::Max),
        Op::ReduceMin(a) => (a, BinaryOp::Min),
        _ => return Ok(None),
    };
    let shape = &rw.node(x[0]).shape;
    let len: usize = shape.iter().product();
    let every_axis = axes.len() == shape.len() && axes.iter().enumerate().all(|(i, &a)| a == i);
    if !matches!(n.dtype, DType::F32 | DType::F64) || !every_axis || len < BY_ROWS_FROM {
        return Ok(None);
    }
    let vector = if shape.len() == 1 { x[0] } else { rw.push(Op::Reshape(vec![len]), vec![x[0]], n.region)? };
    let x = [vector];
    let (rows, whole) = (len / ROW, len / ROW * ROW);
    let reduce = |axes: Vec<usize>| if combine == BinaryOp::Max { Op::ReduceMax(axes) } else { Op::ReduceMin(axes) };
    let head = if whole == len { x[0] } else { rw.push(Op::Slice(vec![span(0, whole)]), vec![x[0]], n.region)? };
    let matrix = rw.push(Op::Reshape(vec![rows, ROW]), vec![head], n.region)?;
    let per_row = rw.push(reduce(vec![1]), vec![matrix], n.region)?;
    let total = rw.push(reduce(vec![0]), vec![per_row], n.region)?;
    if whole == len {
        return Ok(Some(total));
    }
    let tail = rw.push(Op::Slice(vec![span(whole, len - whole)]), vec![x[0]], n.region)?;
    let tail = rw.push(reduce(vec![0]), vec![tail], n.region)?;
    rw.push(Op::Binary(combine), vec![total, tail], n.region).map(Some)
}

/// `len` elements from `start`, one apart.
fn span(start: usize, len: usize) -> AxisSlice {
    AxisSlice { start, len, step: 1 }
}
