//! Outer products as elementwise products. A real matrix product over a shared axis of length
//! one, `a [.., m, 1] @ b [.., 1, n]`, small enough to be a small product (`m n` at most
//! `interp::SMALL_PRODUCT_WORK`), is `+0 + a * b` elementwise (the operands broadcast against
//! each other): a small product sums each element from `+0` in order with no fused
//! multiply-add (`interp::small_product`, and the JIT's `product.rs`), so with one term it is
//! `+0 + a[i] b[j]`, bit for bit, signed zeros included (`+0 + -0` is `+0`).
//!
//! Reverse mode makes one such product per time step for each weight of a recurrent loss
//! (`x_tᵀ dz_t`) and adds them up; as an elementwise expression each one fuses into the kernel
//! of that sum instead of being written to memory and read back.

use super::rewrite::Rewriter;
use crate::array::{DType, Data};
use crate::error::Result;
use crate::interp::is_small_product;
use crate::ir::{broadcast_shapes, BinaryOp, Node, NodeId, Op};
use num_complex::Complex64;

/// `+0 + a * b` for a matrix product `n` of operands `x` over an axis of length one (see the
/// module documentation), or `None`.
pub(super) fn outer_product(rw: &mut Rewriter, n: &Node, x: &[NodeId]) -> Result<Option<NodeId>> {
    let (a, b) = (&rw.node(x[0]).shape, &rw.node(x[1]).shape);
    let r = a.len();
    if !matches!(n.op, Op::MatMul)
        || !matches!(n.dtype, DType::F32 | DType::F64)
        || r < 2
        || b.len() != r
        || a[r - 1] != 1
        || !is_small_product(a[r - 2], 1, b[r - 1])
    {
        return Ok(None);
    }
    if broadcast_shapes(a, b).as_deref() != Some(&n.shape[..]) {
        return Ok(None);
    }
    let product = rw.push(Op::Binary(BinaryOp::Mul), vec![x[0], x[1]], n.region)?;
    let zero = rw.scalar_constant(Data::scalar(n.dtype, Complex64::new(0.0, 0.0)), n.region)?;
    rw.push(Op::Binary(BinaryOp::Add), vec![zero, product], n.region).map(Some)
}
