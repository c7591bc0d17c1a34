//! Activations and the (log-)softmax.

use super::{float_type, require_real_float, scalar_of, shape_error};
use crate::ops::select;
use crate::trace::DlArray;

/// Rectified linear unit `max(x, 0)` (gradient 0 at 0, as MATLAB's `relu`).
#[track_caller]
pub fn relu(x: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    x.relu()
}

/// Leaky rectified linear unit: `x` where `x > 0`, else `scale * x` (MATLAB's `leakyrelu`,
/// whose default scale is 0.01).
#[track_caller]
pub fn leakyrelu(x: &DlArray, scale: f64) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if let Some(e) = require_real_float("leakyrelu", &x.cast(float_type(x))) {
        return e;
    }
    let x = x.cast(float_type(x));
    select(&x.gt(&scalar_of(0.0, x.dtype())), &x, &(&x * scale))
}

/// Gaussian error linear unit in its exact (erf) form, `0.5 x (1 + erf(x / sqrt 2))`.
#[track_caller]
pub fn gelu(x: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    0.5 * x * (1.0 + (x * std::f64::consts::FRAC_1_SQRT_2).erf())
}

/// The logistic function `1 / (1 + e^-x)` (overflow-free, see [`DlArray::sigmoid`]).
#[track_caller]
pub fn sigmoid(x: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    x.sigmoid()
}

/// `x - max(x)` along `axis`, or an error array when `axis` is out of range. The maximum is held
/// constant under differentiation (as JAX's `softmax`): the (log-)softmax does not change when
/// its logits shift by one value along `axis`, so every derivative through the maximum is zero,
/// and the gradient would otherwise spend four passes over the logits computing it.
fn shifted(op: &str, x: &DlArray, axis: usize) -> Result<DlArray, DlArray> {
    if let Some(e) = super::first_error(&[x]) {
        return Err(e);
    }
    if axis >= x.ndim() {
        return Err(shape_error(op, &[x.shape()], format!("axis {axis} is not below the rank {}", x.ndim())));
    }
    if let Some(e) = require_real_float(op, &x.cast(float_type(x))) {
        return Err(e);
    }
    let x = x.cast(float_type(x));
    Ok(&x - x.max_axes(&[axis], true).stop_gradient())
}

/// `exp(x) / sum(exp(x))` along `axis`, computed after subtracting the maximum along `axis`
/// so that logits of any magnitude give finite results.
#[track_caller]
pub fn softmax(x: &DlArray, axis: usize) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    match shifted("softmax", x, axis) {
        Ok(z) => {
            let e = z.exp();
            &e / e.sum_axes(&[axis], true)
        }
        Err(e) => e,
    }
}

/// `log(softmax(x, axis))`, computed as `z - log(sum(exp(z)))` with `z = x - max(x)` so that it
/// stays finite (and accurate) for logits of any magnitude.
#[track_caller]
pub fn log_softmax(x: &DlArray, axis: usize) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    match shifted("log_softmax", x, axis) {
        Ok(z) => &z - z.exp().sum_axes(&[axis], true).log(),
        Err(e) => e,
    }
}
