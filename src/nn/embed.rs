//! Embedding lookup as a one-hot matrix product, so it differentiates (to any order) with
//! respect to the weights like any matmul.

use super::{constant, first_error, shape_error};
use crate::array::DType;
use crate::trace::DlArray;

/// The rows of `weights [vocab, dim]` picked by `indices` (any shape; 0-based integer values,
/// stored in any real type): the result has shape `[*indices.shape(), dim]`.
///
/// Computed as `onehot(indices) @ weights` with `onehot` built by comparing the indices with
/// `0..vocab` inside the trace, so an accelerated function looks up the indices it is called
/// with. Indices that are not integers in `0..vocab` are an error when their values are seen
/// (eagerly, and when a trace is recorded); an accelerated call with such indices later gets
/// zero rows for them.
#[track_caller]
pub fn embed(indices: &DlArray, weights: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if let Some(e) = first_error(&[indices, weights]) {
        return e;
    }
    let shapes: [&[usize]; 2] = [indices.shape(), weights.shape()];
    if weights.ndim() != 2 {
        return shape_error("embed", &shapes, "weights must be [vocab, dim]");
    }
    let (vocab, dim) = (weights.shape()[0], weights.shape()[1]);
    if indices.dtype().is_complex() {
        return shape_error("embed", &shapes, "indices must be real");
    }
    let idx = indices.cast(DType::F64);
    if let Ok(values) = idx.extractdata::<f64>() {
        if let Some(bad) = values.iter().find(|&&v| !(v >= 0.0 && v < vocab as f64 && v.fract() == 0.0)) {
            return shape_error("embed", &shapes, format!("index {bad} is not an integer in 0..{vocab}"));
        }
    }
    let m = indices.numel();
    let classes = constant(ndarray::Array2::from_shape_fn((1, vocab), |(_, j)| j as f64).into_dyn(), DType::F64);
    let onehot = idx.reshape(&[m, 1]).eq_elem(&classes).cast(weights.dtype().arithmetic());
    let mut shape = indices.shape().to_vec();
    shape.push(dim);
    onehot.matmul(weights).reshape(&shape)
}
