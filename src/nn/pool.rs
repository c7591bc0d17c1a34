//! Max and average pooling over sliding windows (strided slices of the padded input).

use super::conv::{padding_of, per_axis, windows, Windows};
use super::{
    argument_error, concat_parts, constant, first_error, require_real_float, scalar_of, shape_error, zero_pad,
};
use crate::ops::select;
use crate::trace::DlArray;

/// Options of [`maxpool`] and [`avgpool`]. `size` must be given (one value for every spatial
/// axis, or one per axis); `stride` defaults to 1 (MATLAB's default) and `padding` to 0, with
/// the same forms as [`ConvOptions`](super::ConvOptions).
///
/// ```
/// use cranegrad::prelude::*;
/// let opts = PoolOptions::new(&[2, 2]).stride(&[2, 2]);
/// assert_eq!(opts.size, vec![2, 2]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolOptions {
    /// The window size per spatial axis.
    pub size: Vec<usize>,
    /// Step between windows per spatial axis (default 1).
    pub stride: Vec<usize>,
    /// Padding per spatial axis (default 0): symmetric, or `2 d` values (befores, afters).
    pub padding: Vec<usize>,
}

impl PoolOptions {
    /// Windows of `size`, stride 1, no padding.
    pub fn new(size: &[usize]) -> Self {
        PoolOptions { size: size.to_vec(), ..Default::default() }
    }

    /// With this stride.
    pub fn stride(mut self, stride: &[usize]) -> Self {
        self.stride = stride.to_vec();
        self
    }

    /// With this padding.
    pub fn padding(mut self, padding: &[usize]) -> Self {
        self.padding = padding.to_vec();
        self
    }
}

/// The windows of `x` padded with `fill` (`None`: zeros).
fn pooled_windows(op: &str, x: &DlArray, opts: &PoolOptions, fill: Option<f64>) -> Result<Windows, DlArray> {
    if let Some(e) = first_error(&[x]) {
        return Err(e);
    }
    if x.ndim() < 3 {
        return Err(shape_error(op, &[x.shape()], "x must be [N, C, *spatial] with at least one spatial axis"));
    }
    if let Some(e) = require_real_float(op, x) {
        return Err(e);
    }
    let d = x.ndim() - 2;
    if opts.size.is_empty() {
        return Err(argument_error(op, "PoolOptions::size must be given"));
    }
    let size = per_axis(op, "size", &opts.size, d, 1)?;
    let stride = per_axis(op, "stride", &opts.stride, d, 1)?;
    let (pb, pa) = padding_of(op, &opts.padding, d)?;
    let before: Vec<usize> = [0, 0].iter().chain(&pb).copied().collect();
    let after: Vec<usize> = [0, 0].iter().chain(&pa).copied().collect();
    let mut xp = zero_pad(x, &before, &after);
    if let (Some(v), true) = (fill, before.iter().chain(&after).any(|&p| p > 0)) {
        let ones = constant(ndarray::ArrayD::from_elem(x.shape(), 1.0), x.dtype());
        let inside = zero_pad(&ones, &before, &after).gt(&scalar_of(0.5, x.dtype()));
        xp = select(&inside, &xp, &scalar_of(v, x.dtype()));
    }
    windows(op, &xp, &size, &stride, &vec![1; d])
}

/// The shape of one window slice with a trailing axis of 1.
fn with_unit_axis(s: &DlArray) -> DlArray {
    let mut shape = s.shape().to_vec();
    shape.push(1);
    s.reshape(&shape)
}

/// Max pooling of `x [N, C, *spatial]` (1-D, 2-D, ...): the maximum over each window. Padding
/// takes `-Inf`, so padded positions never win (MATLAB's `maxpool`). Where several elements of
/// a window tie for the maximum, the gradient is shared equally among them.
#[track_caller]
pub fn maxpool(x: &DlArray, opts: &PoolOptions) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    match pooled_windows("maxpool", x, opts, Some(f64::NEG_INFINITY)) {
        Ok(win) => {
            let parts: Vec<DlArray> = win.slices.iter().map(with_unit_axis).collect();
            let last = x.ndim();
            concat_parts(&parts, last).max_axes(&[last], false)
        }
        Err(e) => e,
    }
}

/// Average pooling of `x [N, C, *spatial]` (1-D, 2-D, ...): the mean over each window. Padding
/// is with zeros and counts in the mean (MATLAB's `avgpool` with its default `PaddingValue` 0).
#[track_caller]
pub fn avgpool(x: &DlArray, opts: &PoolOptions) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    match pooled_windows("avgpool", x, opts, None) {
        Ok(win) => {
            let k = win.slices.len() as f64;
            let mut slices = win.slices.into_iter();
            let Some(first) = slices.next() else {
                return argument_error("avgpool", "the window is empty");
            };
            slices.fold(first, |acc, s| acc + s) / k
        }
        Err(e) => e,
    }
}
