//! Shape operations: reshape, transpose, permute, broadcast, concat, and the sum back to a
//! broadcast operand's shape that every broadcasting VJP needs.

use crate::array::promote;
use crate::error::Error;
use crate::ir::{broadcasts_to, Op};
use crate::trace::{emit, DlArray};

impl DlArray {
    /// The same elements in a new shape (row-major order); the element count must agree.
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        if self.shape() == shape && !self.is_failed() {
            return self.clone();
        }
        emit(Op::Reshape(shape.to_vec()), &[self])
    }

    /// The axes reversed (the matrix transpose for 2-D).
    #[track_caller]
    pub fn transpose(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        let axes: Vec<usize> = (0..self.ndim()).rev().collect();
        self.permute(&axes)
    }

    /// The axes reordered: result axis `i` is axis `axes[i]` of `self`.
    #[track_caller]
    pub fn permute(&self, axes: &[usize]) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        if axes.iter().enumerate().all(|(i, &a)| i == a) && axes.len() == self.ndim() && !self.is_failed() {
            return self.clone();
        }
        emit(Op::Permute(axes.to_vec()), &[self])
    }

    /// numpy broadcast to `shape`.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        if self.shape() == shape && !self.is_failed() {
            return self.clone();
        }
        emit(Op::Broadcast(shape.to_vec()), &[self])
    }

    /// The sum of `self` down to `shape`, undoing a numpy broadcast from `shape` (the VJP of
    /// broadcasting).
    #[track_caller]
    pub fn sum_to_shape(&self, shape: &[usize]) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        if self.shape() == shape {
            return self.clone();
        }
        if !broadcasts_to(shape, self.shape()) {
            return DlArray::failed(Error::shape(
                "sum_to_shape",
                &[self.shape(), shape],
                "the second does not broadcast to the first",
            ));
        }
        let lead = self.ndim() - shape.len();
        let axes: Vec<usize> =
            (0..self.ndim()).filter(|&i| i < lead || (shape[i - lead] == 1 && self.shape()[i] != 1)).collect();
        let summed = if axes.is_empty() { self.clone() } else { emit(Op::ReduceSum(axes), &[self]) };
        summed.reshape(shape)
    }
}

/// The arrays joined along `axis`, after promoting them to one type (MATLAB rules).
#[track_caller]
pub fn concat(arrays: &[&DlArray], axis: usize) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    let Some(first) = arrays.first() else {
        return DlArray::failed(Error::argument("concat", "needs at least one array"));
    };
    let t = arrays.iter().skip(1).fold(first.dtype(), |t, a| if a.dtype() == t { t } else { promote(t, a.dtype()) });
    let cast: Vec<DlArray> = arrays.iter().map(|a| a.cast(t)).collect();
    let refs: Vec<&DlArray> = cast.iter().collect();
    if refs.len() == 1 {
        return cast[0].clone();
    }
    emit(Op::Concat(axis), &refs)
}
