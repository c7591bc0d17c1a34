//! Reductions: sum and mean over everything or over axes, max and min over axes.

use super::arith::constant_f64;
use crate::error::Error;
use crate::ir::Op;
use crate::trace::{emit, DlArray};

fn reduce(op: fn(Vec<usize>) -> Op, x: &DlArray, axes: &[usize], keepdims: bool) -> DlArray {
    if x.is_failed() {
        return x.clone();
    }
    let x = x.cast(x.dtype().arithmetic());
    let r = if axes.is_empty() { x.clone() } else { emit(op(axes.to_vec()), &[&x]) };
    if keepdims && !r.is_failed() {
        let shape: Vec<usize> = (0..x.ndim()).map(|i| if axes.contains(&i) { 1 } else { x.shape()[i] }).collect();
        r.reshape(&shape)
    } else {
        r
    }
}

fn count(x: &DlArray, axes: &[usize]) -> Result<f64, Error> {
    axes.iter()
        .map(|&a| {
            x.shape().get(a).copied().ok_or_else(|| {
                Error::shape("mean", &[x.shape()], format!("axis {a} is not below the rank {}", x.ndim()))
            })
        })
        .product::<Result<usize, Error>>()
        .map(|n| n as f64)
}

impl DlArray {
    /// The sum of all elements, shape `[]`.
    #[track_caller]
    pub fn sum_all(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        let axes: Vec<usize> = (0..self.ndim()).collect();
        reduce(Op::ReduceSum, self, &axes, false)
    }

    /// The mean of all elements, shape `[]`.
    #[track_caller]
    pub fn mean_all(&self) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        self.sum_all() / constant_f64(self.numel() as f64)
    }

    /// The sum over `axes`, which are removed unless `keepdims`.
    #[track_caller]
    pub fn sum_axes(&self, axes: &[usize], keepdims: bool) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        reduce(Op::ReduceSum, self, axes, keepdims)
    }

    /// The mean over `axes`, which are removed unless `keepdims`.
    #[track_caller]
    pub fn mean_axes(&self, axes: &[usize], keepdims: bool) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        match count(self, axes) {
            Ok(n) => self.sum_axes(axes, keepdims) / constant_f64(n),
            Err(e) => DlArray::failed(e),
        }
    }

    /// The maximum over `axes` (removed unless `keepdims`), ignoring NaN; real types only.
    #[track_caller]
    pub fn max_axes(&self, axes: &[usize], keepdims: bool) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        reduce(Op::ReduceMax, self, axes, keepdims)
    }

    /// The minimum over `axes` (removed unless `keepdims`), ignoring NaN; real types only.
    #[track_caller]
    pub fn min_axes(&self, axes: &[usize], keepdims: bool) -> DlArray {
        let _origin = crate::trace::current_origin::user_call();
        reduce(Op::ReduceMin, self, axes, keepdims)
    }
}
