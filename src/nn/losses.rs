//! Loss functions: cross-entropy, half mean squared error, L1 and Huber losses.

use super::{first_error, float_type, require_real_float, scalar_of, shape_error};
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
pub fn crossentropy(p: &DlArray, t: &DlArray) -> DlArray {
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

/// MATLAB's half mean squared error `sum((y - t)^2) / (2 N)`, `N` the number of observations
/// (the length of axis 0; 1 for a scalar).
pub fn mse(y: &DlArray, t: &DlArray) -> DlArray {
    match operands("mse", y, t) {
        Ok((n, y, t)) => (y - t).square().sum_all() / (2.0 * n),
        Err(e) => e,
    }
}

/// The L1 loss `sum(|y - t|) / N`, `N` the number of observations (the length of axis 0).
pub fn l1loss(y: &DlArray, t: &DlArray) -> DlArray {
    match operands("l1loss", y, t) {
        Ok((n, y, t)) => (y - t).abs().sum_all() / n,
        Err(e) => e,
    }
}

/// The Huber loss, summed over the elements and divided by the number of observations `N`
/// (the length of axis 0): per element, with `r = y - t`, `r^2 / 2` when `|r| <= delta`, else
/// `delta (|r| - delta / 2)` (MATLAB's `huber`, whose default `delta` is 1). `delta` must be
/// positive.
pub fn huber(y: &DlArray, t: &DlArray, delta: f64) -> DlArray {
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
