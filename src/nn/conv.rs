//! Convolution (`dlconv`) as im2col: one strided slice of the padded input per kernel offset,
//! stacked and multiplied by the reshaped weights in one batched matrix product.

use super::{argument_error, concat_parts, first_error, shape_error, slice_axes, zero_pad};
use crate::trace::DlArray;

/// Options of [`dlconv`]. Every per-axis field may be empty (the default for every axis), hold
/// one value (used for every spatial axis) or one value per spatial axis; `padding` may also
/// hold `2 d` values: the padding before each of the `d` spatial axes, then after each (for a
/// 1-D signal, `[before, after]`).
///
/// ```
/// use cranegrad::prelude::*;
/// let opts = ConvOptions::default().stride(&[2]).padding(&[1]).dilation(&[1]).groups(1);
/// assert_eq!(opts.stride, vec![2]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    /// Step between output positions per spatial axis (default 1).
    pub stride: Vec<usize>,
    /// Zero padding per spatial axis (default 0); symmetric, or `2 d` values (befores, afters).
    pub padding: Vec<usize>,
    /// Spacing between kernel taps per spatial axis (default 1).
    pub dilation: Vec<usize>,
    /// Number of channel groups (default 1); divides both the input and output channels.
    pub groups: usize,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions { stride: vec![], padding: vec![], dilation: vec![], groups: 1 }
    }
}

impl ConvOptions {
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

    /// With this dilation.
    pub fn dilation(mut self, dilation: &[usize]) -> Self {
        self.dilation = dilation.to_vec();
        self
    }

    /// With this many groups.
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

/// One value per spatial axis from an option field that is empty, holds one value, or holds
/// one per axis.
pub(crate) fn per_axis(op: &str, name: &str, v: &[usize], d: usize, default: usize) -> Result<Vec<usize>, DlArray> {
    match v.len() {
        0 => Ok(vec![default; d]),
        1 => Ok(vec![v[0]; d]),
        n if n == d => Ok(v.to_vec()),
        n => Err(argument_error(op, format!("{name} has {n} values; give 1 or {d} (one per spatial axis)"))),
    }
}

/// The padding before and after each spatial axis.
pub(crate) fn padding_of(op: &str, v: &[usize], d: usize) -> Result<(Vec<usize>, Vec<usize>), DlArray> {
    if v.len() == 2 * d {
        return Ok((v[..d].to_vec(), v[d..].to_vec()));
    }
    let p = per_axis(op, "padding", v, d, 0)?;
    Ok((p.clone(), p))
}

/// The sliding windows of a `[N, C, *spatial]` array: the input padded with `pad`, then for
/// each kernel offset (row-major over `kernel`) the strided slice `[N, C, *out]` that the
/// offset sees. Returns the slices and the output spatial shape.
pub(crate) struct Windows {
    /// One `[N, C, *out]` slice per kernel offset.
    pub slices: Vec<DlArray>,
    /// The output spatial shape.
    pub out: Vec<usize>,
}

/// The windows of `xp` (already padded) for `kernel`, `stride` and `dilation`.
pub(crate) fn windows(
    op: &str,
    xp: &DlArray,
    kernel: &[usize],
    stride: &[usize],
    dilation: &[usize],
) -> Result<Windows, DlArray> {
    let d = kernel.len();
    let spatial = &xp.shape()[2..];
    let mut out = Vec::with_capacity(d);
    for i in 0..d {
        if kernel[i] == 0 || stride[i] == 0 || dilation[i] == 0 {
            return Err(argument_error(op, "kernel sizes, strides and dilations must be at least 1"));
        }
        let reach = dilation[i] * (kernel[i] - 1) + 1;
        if spatial[i] < reach {
            return Err(shape_error(
                op,
                &[xp.shape(), kernel],
                format!(
                    "spatial axis {i} has {} elements after padding, fewer than the kernel reach {reach}",
                    spatial[i]
                ),
            ));
        }
        out.push((spatial[i] - reach) / stride[i] + 1);
    }
    let count: usize = kernel.iter().product();
    let mut slices = Vec::with_capacity(count);
    for flat in 0..count {
        let mut rest = flat;
        let mut offset = vec![0; d];
        for i in (0..d).rev() {
            offset[i] = rest % kernel[i];
            rest /= kernel[i];
        }
        let parts: Vec<(usize, usize, usize, usize)> =
            (0..d).map(|i| (i + 2, offset[i] * dilation[i], out[i], stride[i])).collect();
        slices.push(slice_axes(xp, &parts));
    }
    Ok(Windows { slices, out })
}

/// Checked operands of a convolution: (groups, kernel, stride, dilation, padding before/after).
struct ConvPlan {
    groups: usize,
    kernel: Vec<usize>,
    stride: Vec<usize>,
    dilation: Vec<usize>,
    before: Vec<usize>,
    after: Vec<usize>,
}

fn plan(x: &DlArray, w: &DlArray, b: &DlArray, opts: &ConvOptions) -> Result<ConvPlan, DlArray> {
    if let Some(e) = first_error(&[x, w, b]) {
        return Err(e);
    }
    let shapes: [&[usize]; 3] = [x.shape(), w.shape(), b.shape()];
    if x.ndim() < 3 || w.ndim() != x.ndim() {
        return Err(shape_error(
            "dlconv",
            &shapes,
            "x must be [N, Cin, *spatial] and w [Cout, Cin / groups, *kernel] with as many spatial axes",
        ));
    }
    let d = x.ndim() - 2;
    let (cin, cout, g) = (x.shape()[1], w.shape()[0], opts.groups);
    if g == 0 || cin % g != 0 || cout % g != 0 || w.shape()[1] * g != cin {
        return Err(shape_error(
            "dlconv",
            &shapes,
            format!("groups = {g} must divide Cin = {cin} and Cout = {cout}, and w must have Cin / groups channels"),
        ));
    }
    if b.numel() != cout && b.numel() != 1 {
        return Err(shape_error(
            "dlconv",
            &shapes,
            format!("the bias must have {cout} elements (one per output channel) or 1"),
        ));
    }
    let (before, after) = padding_of("dlconv", &opts.padding, d)?;
    Ok(ConvPlan {
        groups: g,
        kernel: w.shape()[2..].to_vec(),
        stride: per_axis("dlconv", "stride", &opts.stride, d, 1)?,
        dilation: per_axis("dlconv", "dilation", &opts.dilation, d, 1)?,
        before,
        after,
    })
}

fn padded(x: &DlArray, p: &ConvPlan) -> DlArray {
    let before: Vec<usize> = [0, 0].iter().chain(&p.before).copied().collect();
    let after: Vec<usize> = [0, 0].iter().chain(&p.after).copied().collect();
    zero_pad(x, &before, &after)
}

/// The plan and the kernel-offset windows of the padded input, or the array carrying the error.
fn plan_and_windows(x: &DlArray, w: &DlArray, b: &DlArray, opts: &ConvOptions) -> Result<(ConvPlan, Windows), DlArray> {
    let p = plan(x, w, b, opts)?;
    let win = windows("dlconv", &padded(x, &p), &p.kernel, &p.stride, &p.dilation)?;
    Ok((p, win))
}

fn add_bias(y: DlArray, b: &DlArray, cout: usize) -> DlArray {
    let mut shape = vec![1; y.ndim()];
    shape[1] = b.numel().min(cout);
    y + b.reshape(&shape)
}

/// Convolution (cross-correlation, as MATLAB's and PyTorch's) of `x [N, Cin, *spatial]` with
/// `w [Cout, Cin / groups, *kernel]` plus the bias `b [Cout]` (or one element), for any number
/// of spatial axes (1-D signals, 2-D images, ...). The result is `[N, Cout, *out]` with
/// `out = (spatial + padding - dilation (kernel - 1) - 1) / stride + 1` (rounded down).
/// Padding is with zeros.
///
/// Computed as im2col: each kernel offset contributes one strided slice of the padded input;
/// the slices are stacked into `[N, groups, Cin / groups * K, out]` and multiplied by the
/// weights reshaped to `[groups, Cout / groups, Cin / groups * K]` in one batched matmul.
#[track_caller]
pub fn dlconv(x: &DlArray, w: &DlArray, b: &DlArray, opts: &ConvOptions) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    let (p, win) = match plan_and_windows(x, w, b, opts) {
        Ok(pw) => pw,
        Err(e) => return e,
    };
    let (n, cin, cout, g) = (x.shape()[0], x.shape()[1], w.shape()[0], p.groups);
    let positions: usize = win.out.iter().product();
    let k = win.slices.len();
    let stacked: Vec<DlArray> = win.slices.iter().map(|s| s.reshape(&[n, cin, 1, positions])).collect();
    let cols = concat_parts(&stacked, 2).reshape(&[n, g, cin / g * k, positions]);
    let wg = w.reshape(&[g, cout / g, cin / g * k]);
    let y = wg.matmul(&cols);
    let mut shape = vec![n, cout];
    shape.extend_from_slice(&win.out);
    add_bias(y.reshape(&shape), b, cout)
}

/// [`dlconv`] computed by shifted slices instead of im2col: one batched matmul per kernel
/// offset, summed. Same results; kept to compare the two strategies (see the crate's
/// benchmarks notes).
#[track_caller]
pub fn dlconv_shifted(x: &DlArray, w: &DlArray, b: &DlArray, opts: &ConvOptions) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    let (p, win) = match plan_and_windows(x, w, b, opts) {
        Ok(pw) => pw,
        Err(e) => return e,
    };
    let (n, cin, cout, g) = (x.shape()[0], x.shape()[1], w.shape()[0], p.groups);
    let positions: usize = win.out.iter().product();
    let k = win.slices.len();
    let wk = w.reshape(&[g, cout / g, cin / g, k]);
    let mut y: Option<DlArray> = None;
    for (i, s) in win.slices.iter().enumerate() {
        let wi = super::slice_axis(&wk, 3, i, 1, 1).reshape(&[g, cout / g, cin / g]);
        let term = wi.matmul(&s.reshape(&[n, g, cin / g, positions]));
        y = Some(match y {
            Some(acc) => acc + term,
            None => term,
        });
    }
    let Some(y) = y else {
        return argument_error("dlconv", "the kernel is empty");
    };
    let mut shape = vec![n, cout];
    shape.extend_from_slice(&win.out);
    add_bias(y.reshape(&shape), b, cout)
}
