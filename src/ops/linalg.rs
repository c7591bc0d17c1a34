//! Matrix products.

use crate::array::promote;
use crate::error::Error;
use crate::ir::{broadcast_shapes, Op, Shape};
use crate::trace::{emit, DlArray};

impl DlArray {
    /// The matrix product: 2-D `[m, k] x [k, n] -> [m, n]`; for higher ranks, batched over the
    /// leading axes, which broadcast (numpy's `matmul`). A 1-D operand is a row (left) or a
    /// column (right) vector whose axis is dropped from the result.
    #[track_caller]
    pub fn matmul(&self, other: &DlArray) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        if self.is_failed() {
            return self.clone();
        }
        if other.is_failed() {
            return other.clone();
        }
        let t = promote(self.dtype(), other.dtype());
        let (mut a, mut b) = (self.cast(t), other.cast(t));
        let (va, vb) = (a.ndim() == 1, b.ndim() == 1);
        if a.ndim() == 0 || b.ndim() == 0 {
            return DlArray::failed(Error::shape(
                "matmul",
                &[a.shape(), b.shape()],
                "operands must have at least one axis",
            ));
        }
        if va {
            a = a.reshape(&[1, a.numel()]);
        }
        if vb {
            b = b.reshape(&[b.numel(), 1]);
        }
        let (ra, rb) = (a.ndim(), b.ndim());
        let Some(batch) = broadcast_shapes(&a.shape()[..ra - 2], &b.shape()[..rb - 2]) else {
            return DlArray::failed(Error::shape(
                "matmul",
                &[self.shape(), other.shape()],
                "the batch axes do not broadcast",
            ));
        };
        let mut sa = Shape::from_slice(&batch);
        sa.extend_from_slice(&a.shape()[ra - 2..]);
        let mut sb = Shape::from_slice(&batch);
        sb.extend_from_slice(&b.shape()[rb - 2..]);
        let out = emit(Op::MatMul, &[&a.broadcast_to(&sa), &b.broadcast_to(&sb)]);
        if out.is_failed() || (!va && !vb) {
            return out;
        }
        let mut shape = out.shape().to_vec();
        let n = shape.len();
        if vb {
            shape.remove(n - 1);
        }
        if va {
            shape.remove(n - 2);
        }
        out.reshape(&shape)
    }
}
