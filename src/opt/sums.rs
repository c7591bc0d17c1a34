//! The sum of every element of an array of two or more axes as a sum over every axis but the
//! first, then over the first: `reduce_sum(x, [0, 1, ..])` of `x [n, ..]` ->
//! `reduce_sum(reduce_sum(x, [1, ..]), [0])`. Exact: a sum over several axes adds over the last
//! one first, then each earlier one in turn, each lane in the blocked order
//! (`interp::reduce_sum`), so both graphs add the same terms in the same order. A reduction to
//! one element of a matrix is one loop on one thread, while a reduction of its rows is cut into
//! chunks of rows that run on every core (`jit/plan/split.rs`), and a matrix product that it
//! reads is then computed by panels of rows inside those chunks instead of being written whole
//! (`jit/plan/panels.rs`): the least-squares loss `sum((a b - c)^2)` of a large product.

use super::rewrite::Rewriter;
use crate::array::DType;
use crate::error::Result;
use crate::ir::{Node, NodeId, Op};

/// Elements from which a sum of every element is taken by rows. Measured on the 2-core build
/// machine (`sum(x .* x)` of an `f64` input, one kernel against by rows, medians of 41 calls,
/// three alternations): from `2^21` elements by rows is steadily faster (`[2048, 2048]` 0.59x to
/// 0.61x, `[200, 100, 100]` 0.61x to 0.64x); at `2^20` it swings between 0.5x and 1.45x with
/// the pool's wake-ups, and at `2^18` it is 2x slower.
const BY_ROWS_FROM: usize = 1 << 21;

/// Elements a row at least: each row's sum is written and read back by the second reduction,
/// a cost of two elements a row (`[250000, 4]` ran 1.2x to 1.6x slower by rows).
const ROW_AT_LEAST: usize = 64;

/// The rewrite of the module's documentation for node `n` (operand `x`), or `None`.
pub(super) fn by_rows(rw: &mut Rewriter, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    let Op::ReduceSum(axes) = &n.op else { return Ok(None) };
    let shape = &rw.node(x[0]).shape;
    let rank = shape.len();
    let len: usize = shape.iter().product();
    let mut sorted = axes.clone();
    sorted.sort_unstable();
    let every_axis = sorted.iter().copied().eq(0..rank);
    if n.dtype == DType::Bool || rank < 2 || !every_axis || len < BY_ROWS_FROM {
        return Ok(None);
    }
    if shape[0] < 2 || len / shape[0] < ROW_AT_LEAST {
        return Ok(None);
    }
    let rows = rw.push(Op::ReduceSum((1..rank).collect()), vec![x[0]], n.region)?;
    rw.push(Op::ReduceSum(vec![0]), vec![rows], n.region).map(Some)
}
