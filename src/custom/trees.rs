//! Trees rebuilt from a template and a list of arrays, and zero cotangents.

use crate::array::Data;
use crate::error::{Error, Result};
use crate::trace::{DlArray, Tree};
use std::sync::Arc;

/// `tree`'s structure and plain values with a placeholder for every array (holds no data).
pub(crate) fn template<T: Tree>(tree: &T) -> Result<T> {
    tree.map_arrays(&mut |_| Ok(DlArray::scalar(0.0)))
}

/// `template` with its arrays replaced, in order, by `arrays`; `Err` naming `call` when the
/// counts differ.
pub(crate) fn rebuild<T: Tree>(call: &str, template: &T, arrays: &[DlArray]) -> Result<T> {
    let mut next = arrays.iter();
    let tree = template.map_arrays(&mut |_| {
        next.next().cloned().ok_or_else(|| Error::argument(call, "fewer arrays than the tree has leaves"))
    })?;
    match next.next() {
        None => Ok(tree),
        Some(_) => Err(Error::argument(call, "more arrays than the tree has leaves")),
    }
}

/// An untraced array of zeros of `like`'s dtype and shape.
pub(crate) fn zeros_like(like: &DlArray) -> Result<DlArray> {
    let (dtype, shape) = like.meta()?;
    Ok(DlArray::from_data(Arc::new(Data::zeros(dtype, shape))))
}

/// The cotangents of a function's outputs when only output `k`'s is `ct`.
pub(crate) fn one_hot_cotangents(outputs: &[DlArray], k: usize, ct: &DlArray) -> Result<Vec<DlArray>> {
    outputs.iter().enumerate().map(|(j, y)| if j == k { Ok(ct.clone()) } else { zeros_like(y) }).collect()
}

/// The cotangents a rule returned, checked against the inputs (one each, of the input's shape)
/// and cast to each input's dtype.
pub(crate) fn input_cotangents(call: &str, inputs: &[DlArray], cts: Vec<DlArray>) -> Result<Vec<DlArray>> {
    if cts.len() != inputs.len() {
        return Err(Error::argument(
            call,
            format!("the derivative rule returned {} cotangents for {} inputs", cts.len(), inputs.len()),
        ));
    }
    inputs
        .iter()
        .zip(cts)
        .map(|(x, g)| {
            let ((dx, sx), (_, sg)) = (x.meta()?, g.meta()?);
            if sx != sg {
                return Err(Error::shape(call, &[sx, sg], "a cotangent must have its input's shape"));
            }
            Ok(if g.dtype() == dx || dx == crate::DType::Bool { g } else { g.cast(dx) })
        })
        .collect()
}
