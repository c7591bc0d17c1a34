//! Loss functions: cross-entropy (with one-hot or index targets), half mean squared error, L1
//! and Huber losses.

use super::{constant, first_error, float_type, require_real_float, scalar_of, shape_error};
use crate::array::DType;
use crate::ops::select;
use crate::trace::DlArray;

/// Checks that `y` and `t` agree in shape and are real floats; the number of observations `N`
/// (the length of axis 0, 1 for a scalar) and both operands in their common float type.
fn operands(op: &str, y: &DlArray, t: &DlArray) -> Result<(f64, DlArray, DlArray), DlArray> {
    if let Some(e) = first_error(&[y, t]) {
        return Err(e);
    }
    if y.shape() != t.shape() {
        return Err(shape_error(op, &[y.shape(), t.shape()], "predictions and targets must have the same shape"));
    }
    let dtype = crate::array::promote(float_type(y), float_type(t));
    let (y, t) = (y.cast(dtype), t.cast(dtype));
    if let Some(e) = require_real_float(op, &y) {
        return Err(e);
    }
    let n = y.shape().first().copied().unwrap_or(1).max(1);
    Ok((n as f64, y, t))
}

/// Categorical cross-entropy `-sum(t * log(p)) / N` for probabilities `p` and targets `t` of
/// one shape, classes on axis 1, `N` the length of axis 0 (the number of observations, as
/// MATLAB's default `NormalizationFactor="batch-size"`).
///
/// Probabilities below the machine epsilon of their type (`eps = 2.2e-16` in double,
/// `1.19e-7` in single) are raised to it before the logarithm, as MATLAB's classification
/// loss bounds its predictions away from zero (`boundAwayFromZero`); a zero probability with a
/// nonzero target therefore costs `-log(eps)` (36.04 in double, 15.94 in single) per unit of
/// target instead of `Inf`, and its gradient is zero. MATLAB's `crossentropy` reference page
/// does not state the bound; this is the behavior of its implementation.
#[track_caller]
pub fn crossentropy(p: &DlArray, t: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    let (n, p, t) = match operands("crossentropy", p, t) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if p.ndim() < 2 {
        return shape_error(
            "crossentropy",
            &[p.shape(), t.shape()],
            "needs [N, classes, ...] arrays (classes on axis 1)",
        );
    }
    let eps = if p.dtype() == DType::F32 { f32::EPSILON as f64 } else { f64::EPSILON };
    let bounded = p.maximum(&scalar_of(eps, p.dtype()));
    -((t * bounded.log()).sum_all() / n)
}

/// Cross-entropy with class indices (MATLAB R2024b's `indexcrossentropy`, 0-based):
/// probabilities `p [N, C]` and targets `t [N]`, `t[n]` the class of observation `n` as a whole
/// number in `0..C` stored in any real numeric dtype (single, double); the loss is
/// `-sum_n log p[n, t[n]] / N`, with [`crossentropy`]'s bound away from zero.
///
/// The targets are compared with `0..C` inside the trace (a one-hot matrix), so an accelerated
/// function uses the targets it is called with. A target that is not a whole number in `0..C`
/// is a deferred error (the result carries it; `dlfeval`, `dlgradient` and accelerated calls
/// return it) when its value is seen: eagerly, and when a trace is recorded; a later
/// accelerated call with such a target gets a zero term for that observation, as
/// [`embed`](super::embed) does.
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// let p = DlArray::from(array![[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]);
/// let t = DlArray::from(array![0.0, 2.0]);
/// let loss = indexcrossentropy(&p, &t).to_scalar::<f64>().unwrap();
/// assert!((loss - -(0.5f64.ln() + 0.8f64.ln()) / 2.0).abs() < 1e-15);
/// assert!(indexcrossentropy(&p, &DlArray::from(array![0.0, 3.0])).to_scalar::<f64>().is_err());
/// ```
#[track_caller]
pub fn indexcrossentropy(p: &DlArray, t: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    const OP: &str = "indexcrossentropy";
    if let Some(e) = first_error(&[p, t]) {
        return e;
    }
    let shapes: [&[usize]; 2] = [p.shape(), t.shape()];
    if p.ndim() != 2 {
        return shape_error(OP, &shapes, "p must be probabilities [N, C] (observations, classes)");
    }
    let (n, classes) = (p.shape()[0], p.shape()[1]);
    if t.shape() != [n] {
        return shape_error(OP, &shapes, format!("t must be [N] = [{n}]: one class index per row of p"));
    }
    if let Some(e) = require_real_float(OP, p) {
        return e;
    }
    if !matches!(t.dtype(), DType::F32 | DType::F64) {
        return super::argument_error(
            OP,
            format!("t must hold class indices in a real numeric type (single or double), not {}", t.dtype()),
        );
    }
    let idx = t.cast(DType::F64);
    if let Ok(values) = idx.extractdata::<f64>() {
        if let Some((k, bad)) =
            values.iter().enumerate().find(|(_, &v)| !(v >= 0.0 && v < classes as f64 && v.fract() == 0.0))
        {
            return shape_error(
                OP,
                &shapes,
                format!("t[{k}] = {bad} is not a class index: indices are whole numbers in 0..{classes} (0-based)"),
            );
        }
    }
    let range = constant(ndarray::Array2::from_shape_fn((1, classes), |(_, j)| j as f64).into_dyn(), DType::F64);
    let onehot = idx.reshape(&[n, 1]).eq_elem(&range).cast(p.dtype());
    crossentropy(p, &onehot)
}

/// MATLAB's half mean squared error `sum((y - t)^2) / (2 N)`, `N` the number of observations
/// (the length of axis 0; 1 for a scalar).
#[track_caller]
pub fn mse(y: &DlArray, t: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    match operands("mse", y, t) {
        Ok((n, y, t)) => (y - t).square().sum_all() / (2.0 * n),
        Err(e) => e,
    }
}

/// The L1 loss `sum(|y - t|) / N`, `N` the number of observations (the length of axis 0).
#[track_caller]
pub fn l1loss(y: &DlArray, t: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    match operands("l1loss", y, t) {
        Ok((n, y, t)) => (y - t).abs().sum_all() / n,
        Err(e) => e,
    }
}

/// The Huber loss, summed over the elements and divided by the number of observations `N`
/// (the length of axis 0): per element, with `r = y - t`, `r^2 / 2` when `|r| <= delta`, else
/// `delta (|r| - delta / 2)` (MATLAB's `huber`, whose default `delta` is 1). `delta` must be
/// positive.
#[track_caller]
pub fn huber(y: &DlArray, t: &DlArray, delta: f64) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    let (n, y, t) = match operands("huber", y, t) {
        Ok(v) => v,
        Err(e) => return e,
    };
    if !(delta > 0.0 && delta.is_finite()) {
        return super::argument_error("huber", format!("delta must be positive and finite, got {delta}"));
    }
    let r = y - t;
    let a = r.abs();
    let small = a.le(&scalar_of(delta, a.dtype()));
    let quadratic = 0.5 * r.square();
    let linear = delta * (&a - 0.5 * delta);
    select(&small, &quadratic, &linear).sum_all() / n
}
