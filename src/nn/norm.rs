//! Batch and layer normalization.

use super::{first_error, require_real_float, shape_error};
use crate::ir::broadcast_shapes;
use crate::trace::DlArray;

/// The variance offset added before the square root (MATLAB's default `Epsilon`, 1e-5).
pub const NORM_EPSILON: f64 = 1e-5;

/// `offset` and `scale` (`[C]`) reshaped to broadcast along axis 1 of `x`, or an error array.
fn per_channel(op: &str, x: &DlArray, arrays: &[&DlArray]) -> Result<Vec<DlArray>, DlArray> {
    if let Some(e) = first_error(&[x]).or_else(|| first_error(arrays)) {
        return Err(e);
    }
    if let Some(e) = require_real_float(op, x) {
        return Err(e);
    }
    if x.ndim() < 2 {
        return Err(shape_error(op, &[x.shape()], "x must be [N, C, ...] (channels on axis 1)"));
    }
    let c = x.shape()[1];
    let mut shape = vec![1; x.ndim()];
    shape[1] = c;
    arrays
        .iter()
        .map(|a| {
            if a.numel() == c {
                Ok(a.reshape(&shape))
            } else {
                let mut shapes: Vec<&[usize]> = vec![x.shape()];
                shapes.extend(arrays.iter().map(|a| a.shape()));
                Err(shape_error(op, &shapes, format!("offset, scale, mean and variance must have C = {c} elements")))
            }
        })
        .collect()
}

/// The axes of `x` other than the channel axis 1.
fn non_channel_axes(x: &DlArray) -> Vec<usize> {
    (0..x.ndim()).filter(|&a| a != 1).collect()
}

/// Batch normalization in training mode: `x [N, C, ...]` normalized per channel with the
/// statistics of this batch (mean and variance over every axis but 1), then
/// `scale * xhat + offset` with `offset`, `scale` of `C` elements. Returns
/// `(y, mean, variance)`, the statistics of shape `[C]`; the variance is the biased one used to
/// normalize (divided by the number of elements per channel), `epsilon` is [`NORM_EPSILON`].
/// As MATLAB's `[Y, mu, sigmaSq] = batchnorm(X, offset, scaleFactor)`; pass the statistics (or
/// running averages of them) to [`batchnorm_inference`] to normalize with fixed statistics.
#[track_caller]
pub fn batchnorm(x: &DlArray, offset: &DlArray, scale: &DlArray) -> (DlArray, DlArray, DlArray) {
    let _origin = crate::trace::current_origin::user_call();
    let parts = match per_channel("batchnorm", x, &[offset, scale]) {
        Ok(p) => p,
        Err(e) => return (e.clone(), e.clone(), e),
    };
    let axes = non_channel_axes(x);
    let mean = x.mean_axes(&axes, true);
    let centered = x - &mean;
    let var = centered.square().mean_axes(&axes, true);
    let y = &parts[1] * &centered / (&var + NORM_EPSILON).sqrt() + &parts[0];
    let c = [x.shape()[1]];
    (y, mean.reshape(&c), var.reshape(&c))
}

/// Batch normalization in inference mode: `scale * (x - mean) / sqrt(var + epsilon) + offset`
/// per channel (axis 1) with the given statistics (`C` elements each), `epsilon` is
/// [`NORM_EPSILON`].
#[track_caller]
pub fn batchnorm_inference(x: &DlArray, offset: &DlArray, scale: &DlArray, mean: &DlArray, var: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    match per_channel("batchnorm_inference", x, &[offset, scale, mean, var]) {
        Ok(p) => &p[1] * (x - &p[2]) / (&p[3] + NORM_EPSILON).sqrt() + &p[0],
        Err(e) => e,
    }
}

/// Layer normalization: `x` normalized with the mean and (biased) variance over `axes`, taken
/// separately for every index of the other axes (each observation uses its own statistics, so
/// there is no separate inference mode, as in MATLAB's `layernorm`), then `scale * xhat + offset`.
/// `offset` and `scale` broadcast against `x` numpy-style: `[C]` for sequences `[N, T, C]`
/// normalized over axis 2, `[C, 1, 1]` for per-channel parameters of images `[N, C, H, W]`
/// normalized over `[1, 2, 3]`. `epsilon` is [`NORM_EPSILON`].
#[track_caller]
pub fn layernorm(x: &DlArray, offset: &DlArray, scale: &DlArray, axes: &[usize]) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if let Some(e) = first_error(&[x, offset, scale]) {
        return e;
    }
    if let Some(e) = require_real_float("layernorm", x) {
        return e;
    }
    let shapes: [&[usize]; 3] = [x.shape(), offset.shape(), scale.shape()];
    if axes.is_empty() || axes.iter().any(|&a| a >= x.ndim()) {
        return shape_error(
            "layernorm",
            &shapes,
            format!("axes {axes:?} must be nonempty and below the rank {}", x.ndim()),
        );
    }
    for p in [offset, scale] {
        if broadcast_shapes(p.shape(), x.shape()).as_deref() != Some(x.shape()) {
            return shape_error("layernorm", &shapes, "offset and scale must broadcast to the shape of x");
        }
    }
    let mean = x.mean_axes(axes, true);
    let centered = x - &mean;
    let var = centered.square().mean_axes(axes, true);
    scale * &centered / (&var + NORM_EPSILON).sqrt() + offset
}
