//! Matrix products as the planner sees them: which run inline as loop nests, which call GEMM,
//! and how each operand is read (a transposed operand through strides, never copied).

use super::Plan;
use crate::array::DType;
use crate::error::{Error, Result};
use crate::ir::{Graph, NodeId, Op};

/// True for a permutation that swaps the last two axes and keeps the others: a matrix product
/// reads its operand through strides instead of a copy.
pub(crate) fn is_matrix_transpose(op: &Op) -> bool {
    match op {
        Op::Permute(axes) => {
            let r = axes.len();
            r >= 2
                && axes[r - 2] == r - 1
                && axes[r - 1] == r - 2
                && axes[..r - 2].iter().enumerate().all(|(i, &a)| i == a)
        }
        _ => false,
    }
}

/// The buffer slot that holds matrix product operand `id`, and whether it holds the operand's
/// transpose (the operand is a transposing permutation without a buffer of its own).
pub(crate) fn matmul_operand(g: &Graph, plan: &Plan, id: NodeId) -> Result<(usize, bool)> {
    if let Some(slot) = plan.buffer[id] {
        return Ok((slot, false));
    }
    let node = &g.nodes[id];
    if is_matrix_transpose(&node.op) {
        if let Some(slot) = plan.buffer[node.inputs[0]] {
            return Ok((slot, true));
        }
    }
    Err(Error::argument("compile", format!("matrix product operand %{id} has no buffer")))
}

/// True when matrix product `id` is emitted inline: a real product of at most
/// `interp::SMALL_PRODUCT_WORK` multiply-adds per matrix.
pub(crate) fn is_inline_product(g: &Graph, id: NodeId) -> bool {
    let node = &g.nodes[id];
    if !matches!(node.op, Op::MatMul) || !matches!(node.dtype, DType::F32 | DType::F64) {
        return false;
    }
    let sa = &g.nodes[node.inputs[0]].shape;
    let r = sa.len();
    r >= 2 && crate::interp::is_small_product(sa[r - 2], sa[r - 1], node.shape[r - 1])
}
