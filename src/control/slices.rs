//! The rows of a scan: one step's slice of an `xs` leaf along axis 0, and the steps' `y`s
//! stacked along a new axis 0.

use crate::array::{with_data, DType, Data, Element};
use crate::error::{Error, Result};
use ndarray::{ArrayD, Axis, IxDyn};
use std::sync::Arc;

/// Row `t` of `x` along axis 0 (an array of one axis fewer).
pub(crate) fn row(x: &Data, t: usize) -> Result<Data> {
    with_data!(x, a => {
        if a.ndim() == 0 || t >= a.shape()[0] {
            return Err(Error::argument("scan", format!("row {t} of an array of shape {:?}", a.shape())));
        }
        Ok(Element::into_data(a.index_axis(Axis(0), t).to_owned()))
    })
}

/// `rows` stacked along a new axis 0 into an array of `shape` (`[rows.len(), ..]`).
pub(crate) fn stack_rows(rows: &[Arc<Data>], dtype: DType, shape: &[usize]) -> Result<Data> {
    fn typed<T: Element>(rows: &[Arc<Data>], shape: &[usize]) -> Result<Data> {
        let mut v: Vec<T> = Vec::with_capacity(shape.iter().product());
        for r in rows {
            let a = T::view(r).ok_or_else(|| Error::argument("scan", "a step's output changed dtype"))?;
            v.extend(a.iter().copied());
        }
        ArrayD::from_shape_vec(IxDyn(shape), v)
            .map(T::into_data)
            .map_err(|e| Error::argument("scan", format!("stacking the steps' outputs: {e}")))
    }
    match dtype {
        DType::Bool => typed::<bool>(rows, shape),
        DType::F32 => typed::<f32>(rows, shape),
        DType::F64 => typed::<f64>(rows, shape),
        DType::C64 => typed::<num_complex::Complex32>(rows, shape),
        DType::C128 => typed::<num_complex::Complex64>(rows, shape),
    }
}
