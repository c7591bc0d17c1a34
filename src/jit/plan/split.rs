//! Which kernels run in chunks on the pool, and how they are cut (`run/pool.rs` runs them):
//! the chunks depend only on the kernel's shape, never on the number of threads.

use super::{numel, Plan};
use crate::array::DType;
use crate::interp::SUM_BLOCK;
use crate::ir::{Graph, NodeId, Op};
use crate::jit::limits::{CHUNK, COSTLY_FACTOR, INLINE_CONCAT_PARTS, PARALLEL_MIN};

/// The fewest elements elementwise kernel `k` is split from: fewer when its fused expression
/// (down to the buffers in `buffer` and the immediates in `inline_const`) calls a host
/// function per element or evaluates a transcendental's polynomial (`Op::is_costly`), about
/// `COSTLY_FACTOR` times the work of inline arithmetic.
pub(crate) fn elementwise_parallel_min(g: &Graph, buffer: &[Option<usize>], inline_const: &[bool], k: NodeId) -> usize {
    let mut seen = super::small_set::SmallSet::default();
    let mut stack: smallvec::SmallVec<[NodeId; 16]> = smallvec::smallvec![k];
    while let Some(n) = stack.pop() {
        let nd = &g.nodes[n];
        let first_complex = nd.inputs.first().is_some_and(|&x| g.nodes[x].dtype.is_complex());
        if nd.op.is_costly(first_complex) {
            return PARALLEL_MIN / COSTLY_FACTOR;
        }
        for &i in &nd.inputs {
            if buffer[i].is_none() && !inline_const[i] && seen.insert(i) {
                stack.push(i);
            }
        }
    }
    PARALLEL_MIN
}

/// The columns of a split leading-axis sum's chunk, at least: a chunk reads this many
/// elements of each row (two cache lines of `f64`).
pub(crate) const LEADING_SUM_COLUMNS: usize = 16;

/// True when `op` on an operand of shape `in_shape` is a sum over its first axis, longer than
/// one block, of an operand of two axes or more (`emit/leading_sum.rs`; its chunks are at
/// least [`LEADING_SUM_COLUMNS`] wide, a multiple of every vector's lanes).
pub(crate) fn is_leading_sum(op: &Op, in_shape: &[usize]) -> bool {
    matches!(op, Op::ReduceSum(axes) if axes.as_slice() == [0]) && in_shape.len() >= 2 && in_shape[0] > SUM_BLOCK
}

/// How a kernel is split into chunks.
#[derive(Clone, Debug)]
pub(crate) enum Split {
    /// `units` iterations of the outermost loop, `chunk` per chunk.
    Rows { units: usize, chunk: usize },
    /// A 1-D sum of `blocks` blocks into the root's buffer, `SUM_CHUNK_BLOCKS` per chunk (the
    /// first entry of the chunk function's pointer table).
    Sum { blocks: usize, dtype: DType },
}

/// How kernel `k` of `plan` is split, if it is large enough to be.
pub(crate) fn split(g: &Graph, plan: &Plan, k: NodeId) -> Option<Split> {
    let node = &g.nodes[k];
    let out = numel(&node.shape);
    match &node.op {
        Op::MatMul | Op::Linalg(_) | Op::Input(_) | Op::Constant(_) | Op::Call(_) => None,
        // Written piece by piece: no single outermost loop.
        Op::Concat(_) if plan.buffer[k].is_some() && node.inputs.len() > INLINE_CONCAT_PARTS => None,
        op if op.is_reduction() => {
            let in_shape = &g.nodes[node.inputs[0]].shape;
            let work = numel(in_shape);
            if work < PARALLEL_MIN {
                return None;
            }
            if node.shape.is_empty() {
                // Only a sum of one axis is split (by blocks).
                return match (&node.op, in_shape.len()) {
                    (Op::ReduceSum(_), 1) if plan.buffer[k].is_some() => {
                        Some(Split::Sum { blocks: in_shape[0].div_ceil(SUM_BLOCK), dtype: node.dtype })
                    }
                    _ => None,
                };
            }
            let units = node.shape[0];
            let mut chunk = (CHUNK * units / work).max(1);
            if super::panels::reads_some_product_by_rows(g, plan, k) {
                chunk *= super::panels::PANEL_CHUNK_FACTOR;
            }
            if is_leading_sum(&node.op, in_shape) {
                chunk = chunk.max(LEADING_SUM_COLUMNS).next_multiple_of(4);
            }
            (units > chunk).then_some(Split::Rows { units, chunk })
        }
        _ => {
            let least = elementwise_parallel_min(g, &plan.buffer, &plan.inline_const, k);
            let chunk_elements = if least < PARALLEL_MIN { CHUNK / COSTLY_FACTOR } else { CHUNK };
            if out < least || node.shape.is_empty() {
                return None;
            }
            let units = node.shape[0];
            let chunk = if node.shape.len() == 1 { chunk_elements } else { (chunk_elements * units / out).max(1) };
            (units > chunk).then_some(Split::Rows { units, chunk })
        }
    }
}
