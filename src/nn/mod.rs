//! Deep-learning operations (docs/API.md §5): activations, losses, fully connected, convolution,
//! pooling, normalization, embedding, recurrent layers, attention, dropout, and the math a loss
//! needs (products, cumulative sums, norms, linear interpolation).
//!
//! Every operation here is a composition of the primitive set (`crate::ir::Op`): no operation
//! adds a primitive, so each one is differentiable to any order by the ordinary VJP table and
//! is lowered by the JIT like any other trace. Layouts are batch-first with channels second:
//! features `[N, C]`, signals `[N, C, L]`, images `[N, C, H, W]`, sequences `[N, T, C]`.
//!
//! Bad shapes or arguments never panic: the result is an array carrying an
//! [`crate::Error`] that names the operation and the shapes.

mod activations;
mod attention;
pub(crate) mod conv;
mod dropout;
mod embed;
mod fully_connected;
mod losses;
mod math;
mod norm;
mod pool;
mod recurrent;

pub use activations::{gelu, leakyrelu, log_softmax, relu, sigmoid, softmax};
pub use attention::attention;
pub use conv::{dlconv, ConvOptions};
pub use dropout::dropout;
pub use embed::embed;
pub use fully_connected::fullyconnect;
pub use losses::indexcrossentropy;
pub use losses::{crossentropy, huber, l1loss, mse};
pub use math::{cumsum, interp1, norm, prod};
pub use norm::{batchnorm, batchnorm_inference, layernorm, NORM_EPSILON};
pub use pool::{avgpool, maxpool, PoolOptions};
pub use recurrent::{gru, lstm};

use crate::array::{DType, Data};
use crate::error::Error;
use crate::ir::{AxisSlice, Op};
use crate::trace::{emit, DlArray};
use ndarray::ArrayD;
use std::sync::Arc;

/// An array carrying a shape error of `op`.
pub(crate) fn shape_error(op: &str, shapes: &[&[usize]], detail: impl Into<String>) -> DlArray {
    DlArray::failed(Error::shape(op, shapes, detail))
}

/// An array carrying an argument error of `op`.
pub(crate) fn argument_error(op: &str, detail: impl Into<String>) -> DlArray {
    DlArray::failed(Error::argument(op, detail))
}

/// The first of `arrays` that carries an error, if any.
pub(crate) fn first_error(arrays: &[&DlArray]) -> Option<DlArray> {
    arrays.iter().find(|a| a.is_failed()).map(|a| (*a).clone())
}

/// `Some(error array)` unless `x` is a real floating-point array (f32 or f64).
pub(crate) fn require_real_float(op: &str, x: &DlArray) -> Option<DlArray> {
    match x.dtype() {
        DType::F32 | DType::F64 => None,
        d => Some(DlArray::failed(Error::dtype(op, &[d], "needs a real floating-point array (single or double)"))),
    }
}

/// The floating-point type `x` computes in (logical becomes double).
pub(crate) fn float_type(x: &DlArray) -> DType {
    x.dtype().arithmetic()
}

/// An untraced constant of `dtype` holding `a`.
pub(crate) fn constant(a: ArrayD<f64>, dtype: DType) -> DlArray {
    DlArray::from_data(Arc::new(Data::F64(a).cast(dtype)))
}

/// An untraced scalar constant of `dtype`.
pub(crate) fn scalar_of(v: f64, dtype: DType) -> DlArray {
    constant(ndarray::arr0(v).into_dyn(), dtype)
}

/// The strided slice `start, start + step, ...` (`len` elements) of `x` along `axis`.
pub(crate) fn slice_axis(x: &DlArray, axis: usize, start: usize, len: usize, step: usize) -> DlArray {
    let mut slices: Vec<AxisSlice> = x.shape().iter().map(|&n| AxisSlice::full(n)).collect();
    slices[axis] = AxisSlice { start, len, step: step as isize };
    if slices.iter().zip(x.shape()).all(|(s, &n)| s.is_full(n)) {
        return x.clone();
    }
    emit(Op::Slice(slices), &[x])
}

/// A strided slice of several axes at once: `(axis, start, len, step)` per entry.
pub(crate) fn slice_axes(x: &DlArray, parts: &[(usize, usize, usize, usize)]) -> DlArray {
    let mut slices: Vec<AxisSlice> = x.shape().iter().map(|&n| AxisSlice::full(n)).collect();
    for &(axis, start, len, step) in parts {
        slices[axis] = AxisSlice { start, len, step: step as isize };
    }
    if slices.iter().zip(x.shape()).all(|(s, &n)| s.is_full(n)) {
        return x.clone();
    }
    emit(Op::Slice(slices), &[x])
}

/// `x` with `before[i]` zeros in front of and `after[i]` zeros behind axis `i`.
pub(crate) fn zero_pad(x: &DlArray, before: &[usize], after: &[usize]) -> DlArray {
    if before.iter().chain(after).all(|&p| p == 0) {
        return x.clone();
    }
    let shape: Vec<usize> = x.shape().iter().zip(before.iter().zip(after)).map(|(&n, (&b, &a))| n + b + a).collect();
    let slices: Vec<AxisSlice> =
        x.shape().iter().zip(before).map(|(&n, &b)| AxisSlice { start: b, len: n, step: 1 }).collect();
    emit(Op::Pad { shape, slices }, &[x])
}

/// `concat` of owned parts (no copy when there is one).
pub(crate) fn concat_parts(parts: &[DlArray], axis: usize) -> DlArray {
    let refs: Vec<&DlArray> = parts.iter().collect();
    crate::ops::concat(&refs, axis)
}
