//! Math a loss needs: products and cumulative sums along axes, vector norms, and linear
//! interpolation in a table.

use super::{
    argument_error, concat_parts, first_error, require_real_float, scalar_of, shape_error, slice_axis, zero_pad,
};
use crate::array::DType;
use crate::ops::select;
use crate::trace::DlArray;

/// `Some(error)` unless `axes` are distinct and below the rank of `x`.
fn check_axes(op: &str, x: &DlArray, axes: &[usize]) -> Option<DlArray> {
    let mut seen = vec![false; x.ndim()];
    for &a in axes {
        if a >= x.ndim() || seen[a] {
            return Some(shape_error(
                op,
                &[x.shape()],
                format!("axes {axes:?} must be distinct and below the rank {}", x.ndim()),
            ));
        }
        seen[a] = true;
    }
    None
}

/// The product of the elements of `x` over `axes` (removed unless `keepdims`); 1 over an
/// empty axis. Computed as a log-depth tree of elementwise products of halves, so it has no
/// division and differentiates exactly at zeros (to any order).
#[track_caller]
pub fn prod(x: &DlArray, axes: &[usize], keepdims: bool) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if let Some(e) = first_error(&[x]).or_else(|| check_axes("prod", x, axes)) {
        return e;
    }
    if axes.is_empty() {
        return x.clone();
    }
    let x = x.cast(x.dtype().arithmetic());
    let kept: Vec<usize> = (0..x.ndim()).filter(|a| !axes.contains(a)).collect();
    let order: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let kept_shape: Vec<usize> = kept.iter().map(|&a| x.shape()[a]).collect();
    let rows: usize = kept_shape.iter().product();
    let mut m: usize = axes.iter().map(|&a| x.shape()[a]).product();
    let out_shape: Vec<usize> = if keepdims {
        (0..x.ndim()).map(|a| if axes.contains(&a) { 1 } else { x.shape()[a] }).collect()
    } else {
        kept_shape
    };
    if m == 0 {
        return super::constant(ndarray::ArrayD::from_elem(out_shape, 1.0), DType::F64).cast(x.dtype());
    }
    let mut y = x.permute(&order).reshape(&[rows, m]);
    while m > 1 {
        let half = m / 2;
        let product = slice_axis(&y, 1, 0, half, 1) * slice_axis(&y, 1, half, half, 1);
        y = if m % 2 == 1 { concat_parts(&[product, slice_axis(&y, 1, m - 1, 1, 1)], 1) } else { product };
        m = m.div_ceil(2);
    }
    y.reshape(&out_shape)
}

/// The cumulative sum of `x` along `axis` (same shape: element `i` is the sum of elements
/// `0..=i`). Computed as a log-depth scan of shifted (zero-padded) copies.
#[track_caller]
pub fn cumsum(x: &DlArray, axis: usize) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if let Some(e) = first_error(&[x]) {
        return e;
    }
    if axis >= x.ndim() {
        return shape_error("cumsum", &[x.shape()], format!("axis {axis} is not below the rank {}", x.ndim()));
    }
    let mut y = x.cast(x.dtype().arithmetic());
    let len = x.shape()[axis];
    let mut shift = 1;
    while shift < len {
        let mut before = vec![0; x.ndim()];
        before[axis] = shift;
        let after = vec![0; x.ndim()];
        let shifted = zero_pad(&slice_axis(&y, axis, 0, len - shift, 1), &before, &after);
        y = y + shifted;
        shift *= 2;
    }
    y
}

/// The vector `p`-norm of `x` over `axes` (removed; an empty list means every axis), as
/// MATLAB's `vecnorm`: `p = 1` sums magnitudes, `p = 2` is the Euclidean norm,
/// `p = f64::INFINITY` the largest magnitude, any other `p > 0` gives `(sum |x|^p)^(1/p)`.
/// Complex inputs use their magnitudes; the result is real.
#[track_caller]
pub fn norm(x: &DlArray, p: f64, axes: &[usize]) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if let Some(e) = first_error(&[x]).or_else(|| check_axes("norm", x, axes)) {
        return e;
    }
    if p.is_nan() || p <= 0.0 {
        return argument_error("norm", format!("p must be positive (1, 2, Inf, ...), got {p}"));
    }
    let all: Vec<usize> = (0..x.ndim()).collect();
    let axes = if axes.is_empty() { &all[..] } else { axes };
    let a = if x.dtype().is_complex() { x.abs() } else { x.cast(x.dtype().arithmetic()) };
    if p == 1.0 {
        a.abs().sum_axes(axes, false)
    } else if p == 2.0 {
        a.square().sum_axes(axes, false).sqrt()
    } else if p.is_infinite() {
        a.abs().max_axes(axes, false)
    } else {
        a.abs().powf(p).sum_axes(axes, false).powf(1.0 / p)
    }
}

/// Linear interpolation in the table `x [M]` (strictly increasing knots), `y [M]` at the
/// query points `xq` (any shape; the result has its shape), as MATLAB's `interp1(x, y, xq)`:
/// queries outside `[x(1), x(M)]` (and NaN queries) give NaN. Differentiable with respect to
/// `y`, the queries and the knots; at a knot the interval to its right is used (the last
/// interval includes its right end).
///
/// Computed with a weight per (query, interval) pair from comparisons, so the cost is
/// `numel(xq) * (M - 1)` and the table may be traced.
#[track_caller]
pub fn interp1(x: &DlArray, y: &DlArray, xq: &DlArray) -> DlArray {
    let _origin = crate::trace::current_origin::user_call();
    if let Some(e) = first_error(&[x, y, xq]) {
        return e;
    }
    let shapes: [&[usize]; 3] = [x.shape(), y.shape(), xq.shape()];
    if x.ndim() != 1 || y.shape() != x.shape() || x.numel() < 2 {
        return shape_error("interp1", &shapes, "x and y must be vectors of one length M >= 2");
    }
    let dtype = crate::array::promote(crate::array::promote(x.dtype(), y.dtype()), xq.dtype()).arithmetic();
    let (x, y, xq) = (x.cast(dtype), y.cast(dtype), xq.cast(dtype));
    if let Some(e) = require_real_float("interp1", &x) {
        return e;
    }
    if let Ok(knots) = x.cast(DType::F64).extractdata::<f64>() {
        let v: Vec<f64> = knots.iter().copied().collect();
        if v.windows(2).any(|w| w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater)) {
            return argument_error("interp1", "the sample points x must be strictly increasing (and not NaN)");
        }
    }
    let m = x.numel();
    let q = xq.reshape(&[xq.numel(), 1]);
    let row = |a: DlArray| a.reshape(&[1, m - 1]);
    let (x0, x1) = (row(slice_axis(&x, 0, 0, m - 1, 1)), row(slice_axis(&x, 0, 1, m - 1, 1)));
    let (y0, y1) = (row(slice_axis(&y, 0, 0, m - 1, 1)), row(slice_axis(&y, 0, 1, m - 1, 1)));
    let last = super::constant(
        ndarray::Array2::from_shape_fn((1, m - 1), |(_, j)| if j == m - 2 { 1.0 } else { 0.0 }).into_dyn(),
        DType::F64,
    )
    .gt(&scalar_of(0.5, DType::F64));
    let below_end = select(&last, &q.le(&x1), &q.lt(&x1));
    let never = scalar_of(0.0, DType::F64).gt(&scalar_of(1.0, DType::F64));
    let inside = select(&q.ge(&x0), &below_end, &never);
    let t = (&q - &x0) / (&x1 - &x0);
    let line = &y0 + t * (&y1 - &y0);
    let zero = scalar_of(0.0, dtype);
    let value = select(&inside, &line, &zero).sum_axes(&[1], false);
    let hits = select(&inside, &scalar_of(1.0, dtype), &zero).sum_axes(&[1], false);
    let nan = scalar_of(f64::NAN, dtype);
    select(&hits.gt(&scalar_of(0.5, dtype)), &value, &nan).reshape(xq.shape())
}
