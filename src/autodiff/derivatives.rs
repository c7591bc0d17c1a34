//! Derivative operators next to `dlgradient` (docs/API.md §6): forward mode ([`dljvp`]), the
//! Hessian-vector product ([`dlhvp`]), and MATLAB's per-observation [`dljacobian`],
//! [`dldivergence`] and [`dllaplacian`].
//!
//! None of them adds a differentiation rule: each is a composition of reverse sweeps over the
//! same trace (the VJP table of `vjp.rs`), with higher derivatives on where a result is
//! differentiated again. Forward mode is the transpose of the VJP: for a fresh traced `u` of
//! `y`'s shape, `g(u) = dlgradient(sum(y * u), x)` is `J^T u`, linear in `u`, so the gradient of
//! `sum(g(u) * v)` with respect to `u` is `J v` (and does not depend on `u`'s value). So a
//! primitive still lives in four places, and every result is an ordinary traced array that can
//! be differentiated again and compiled by `accelerate`.

use super::differentiable::Differentiable;
use super::gradient::{gradients, GradOptions};
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::ir::Origin;
use crate::ir::{AxisSlice, Op};
use crate::trace::context::{tracing, with_top};
use crate::trace::current_origin;
use crate::trace::{emit, DlArray};
use std::sync::Arc;

/// The options of an inner sweep whose result is differentiated again by the operator itself.
const INNER: GradOptions =
    GradOptions { retain_data: true, enable_higher_derivatives: Some(true), allow_complex: true };

/// `options` for every sweep but the last, which must not release what later sweeps read.
fn retaining(options: GradOptions) -> GradOptions {
    GradOptions { retain_data: true, ..options }
}

fn require_tracing(call: &str) -> Result<()> {
    if tracing() {
        Ok(())
    } else {
        Err(Error::argument(
            call,
            "called outside dlfeval or an accelerated function: wrap the computation in dlfeval(|x| ..., x0)",
        ))
    }
}

/// Why `dtype` is not a real floating-point type, or `None` when it is.
fn not_real(dtype: DType) -> Option<&'static str> {
    match dtype {
        DType::F32 | DType::F64 => None,
        DType::Bool => Some("logical"),
        _ => Some("complex"),
    }
}

/// `name` (the differentiated array) must be a real floating-point array.
fn require_real(call: &str, name: &str, y: &DlArray) -> Result<()> {
    let d = y.array_type()?;
    if let Some(kind) = not_real(d.dtype()) {
        return Err(Error::dtype(
            call,
            &[d.dtype()],
            format!(
                "{name} (shape {:?}) is {kind}; it must be real single or double: take real() or abs() of it first",
                d.shape()
            ),
        ));
    }
    Ok(())
}

/// `name` must be a traced real floating-point array.
fn require_real_traced(call: &str, name: &str, y: &DlArray) -> Result<()> {
    require_real(call, name, y)?;
    if !y.is_traced() {
        return Err(Error::argument(
            call,
            format!(
                "{name} (shape {:?}) is not traced: compute it from the arrays passed to dlfeval (or the \
                 accelerated function), inside that call",
                y.shape()
            ),
        ));
    }
    Ok(())
}

/// The directions `vs`, one per variable of `xs`, checked (count, shape, dtype) and cast to
/// their variable's dtype.
fn directions(call: &str, xs: &[&DlArray], vs: &[&DlArray], options: &GradOptions) -> Result<Vec<DlArray>> {
    if xs.len() != vs.len() {
        return Err(Error::argument(
            call,
            format!(
                "x holds {} arrays but v holds {}: v must have the structure of x (one direction per variable)",
                xs.len(),
                vs.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(xs.len());
    for (k, (x, v)) in xs.iter().zip(vs).enumerate() {
        let (xd, vd) = (x.array_type()?, v.array_type()?);
        if xd.shape() != vd.shape() {
            return Err(Error::shape(
                call,
                &[xd.shape(), vd.shape()],
                format!("direction {k} must have the shape of its variable"),
            ));
        }
        if !xd.dtype().is_float() {
            return Err(Error::dtype(
                call,
                &[xd.dtype()],
                format!("variable {k} (shape {:?}) is logical; variables must be numeric", xd.shape()),
            ));
        }
        if xd.dtype().is_complex() && !options.allow_complex {
            return Err(Error::dtype(
                call,
                &[xd.dtype()],
                format!(
                    "variable {k} (shape {:?}) is complex but allow_complex is false; pass \
                     GradOptions {{ allow_complex: true, .. }}",
                    xd.shape()
                ),
            ));
        }
        if !vd.dtype().is_float() || (vd.dtype().is_complex() && !xd.dtype().is_complex()) {
            return Err(Error::dtype(
                call,
                &[xd.dtype(), vd.dtype()],
                format!("direction {k} (shape {:?}) must be numeric, and real for a real variable", vd.shape()),
            ));
        }
        out.push(v.cast(xd.dtype()));
    }
    Ok(out)
}

/// `sum_k sum(real(g_k * conj(v_k)))` over the gradients that are traced (an untraced gradient
/// is a constant: it adds nothing to a derivative); `None` when none is.
fn inner_product(gs: &[DlArray], vs: &[DlArray]) -> Option<DlArray> {
    let mut acc: Option<DlArray> = None;
    for (g, v) in gs.iter().zip(vs) {
        if !g.is_traced() {
            continue;
        }
        let term = if g.dtype().is_complex() { (g * v.conj()).real().sum_all() } else { (g * v).sum_all() };
        acc = Some(match acc {
            Some(a) => a + term,
            None => term,
        });
    }
    acc
}

fn zeros_like(a: &DlArray) -> DlArray {
    DlArray::from_data(Arc::new(Data::zeros(a.dtype(), a.shape())))
}

/// Forward mode: the directional derivative `J v` of `y` (any shape, real) with respect to
/// `xs` along `vs`, of `y`'s shape. `xs` is `&x` for one array or any tree (or a tuple of
/// those), as for [`dlgradient`](crate::dlgradient), and `vs` holds one direction per variable
/// with its variable's shape. Must be called inside [`dlfeval`](crate::dlfeval) or an
/// accelerated function; the result can be differentiated again when higher derivatives are on
/// (the default inside an accelerated function).
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// // y = x^2 elementwise: J = diag(2x), so J v = 2 x v
/// let jv = dlfeval(
///     |x: DlArray| dljvp(&x.square(), &x, &DlArray::from(array![1.0, 0.5])),
///     DlArray::from(array![3.0, 4.0]),
/// ).unwrap();
/// assert_eq!(jv.extractdata::<f64>().unwrap().into_raw_vec_and_offset().0, vec![6.0, 4.0]);
/// ```
#[track_caller]
pub fn dljvp<X: Differentiable, V: Differentiable>(y: &DlArray, xs: X, vs: V) -> Result<DlArray> {
    dljvp_with(y, xs, vs, GradOptions::default())
}

/// [`dljvp`] with options (`retain_data`, `enable_higher_derivatives` and `allow_complex` as
/// for [`dlgradient_with`](crate::dlgradient_with)).
#[track_caller]
pub fn dljvp_with<X: Differentiable, V: Differentiable>(
    y: &DlArray,
    xs: X,
    vs: V,
    options: GradOptions,
) -> Result<DlArray> {
    // The nodes made here carry this call's line, marked backward (the sweeps inside
    // attribute theirs to the forward ops whose rules made them).
    let _origin = current_origin::scoped(Some(Origin::caller().backward()));
    const CALL: &str = "dljvp";
    require_tracing(CALL)?;
    require_real_traced(CALL, "y", y)?;
    let (mut x_arrays, mut v_arrays) = (Vec::new(), Vec::new());
    xs.variables(&mut x_arrays);
    vs.variables(&mut v_arrays);
    let dirs = directions(CALL, &x_arrays, &v_arrays, &options)?;
    // u's value is irrelevant: g is linear in u and J v does not depend on it.
    let u = DlArray::from_data_traced(Data::zeros(y.dtype(), y.shape()));
    let g = gradients(&(y * &u).sum_all(), &x_arrays, &INNER)?;
    let Some(h) = inner_product(&g, &dirs) else {
        return Ok(zeros_like(y));
    };
    let mut jv = gradients(&h, &[&u], &options)?;
    jv.pop().ok_or_else(|| Error::argument(CALL, "internal: no gradient for u"))
}

/// The Hessian-vector product `H v` of the real scalar `y` with respect to `xs` (forward over
/// reverse: the gradient of `sum(dlgradient(y, xs) * v)`), with the structure, shapes and
/// dtypes of `xs`. `xs` and `vs` are as for [`dljvp`]. A direction computed from `xs` (the
/// gradient itself, say) is a constant direction: the result is `H v`, not the gradient of
/// `sum(g * v)` (the derivative of the gradient along `v` is taken by one more sweep then).
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// // y = x0^2 x1: H = [[2 x1, 2 x0], [2 x0, 0]]
/// let hv = dlfeval(
///     |x: DlArray| dlhvp(&(x.at(0).square() * x.at(1)), &x, &DlArray::from(array![1.0, 1.0])),
///     DlArray::from(array![3.0, 4.0]),
/// ).unwrap();
/// assert_eq!(hv.extractdata::<f64>().unwrap().into_raw_vec_and_offset().0, vec![14.0, 6.0]);
/// ```
#[track_caller]
pub fn dlhvp<X: Differentiable, V: Differentiable>(y: &DlArray, xs: X, vs: V) -> Result<X::Grad> {
    dlhvp_with(y, xs, vs, GradOptions::default())
}

/// [`dlhvp`] with options.
#[track_caller]
pub fn dlhvp_with<X: Differentiable, V: Differentiable>(
    y: &DlArray,
    xs: X,
    vs: V,
    options: GradOptions,
) -> Result<X::Grad> {
    // The nodes made here carry this call's line, marked backward (the sweeps inside
    // attribute theirs to the forward ops whose rules made them).
    let _origin = current_origin::scoped(Some(Origin::caller().backward()));
    const CALL: &str = "dlhvp";
    require_tracing(CALL)?;
    require_real_traced(CALL, "y", y)?;
    if y.numel() != 1 {
        return Err(Error::shape(
            CALL,
            &[y.shape()],
            "y must be a scalar (the Hessian of an array is not a matrix); reduce it first (sum_all or mean_all)",
        ));
    }
    let (mut x_arrays, mut v_arrays) = (Vec::new(), Vec::new());
    xs.variables(&mut x_arrays);
    vs.variables(&mut v_arrays);
    let dirs = directions(CALL, &x_arrays, &v_arrays, &options)?;
    let g = gradients(y, &x_arrays, &INNER)?;
    let hv = if depends_on(&dirs, &x_arrays) {
        // The gradient of sum(g v) would also differentiate v: H v is the derivative of g along
        // v instead, by the transpose trick of dljvp (one sweep more).
        let u: Vec<DlArray> =
            g.iter().map(|gk| DlArray::from_data_traced(Data::zeros(gk.dtype(), gk.shape()))).collect();
        let hu = match inner_product(&g, &u) {
            Some(s) => gradients(&s, &x_arrays, &INNER)?,
            None => Vec::new(),
        };
        match inner_product(&hu, &dirs) {
            Some(h) => gradients(&h, &u.iter().collect::<Vec<_>>(), &options)?,
            None => x_arrays.iter().map(|x| zeros_like(x)).collect(),
        }
    } else {
        match inner_product(&g, &dirs) {
            Some(h) => gradients(&h, &x_arrays, &options)?,
            None => x_arrays.iter().map(|x| zeros_like(x)).collect(),
        }
    };
    xs.assemble(&mut hv.into_iter())
}

/// True when some of `vs` is computed (in the innermost trace) from some of `xs`.
fn depends_on(vs: &[DlArray], xs: &[&DlArray]) -> bool {
    with_top(|t| {
        // Sets rather than per-node tables: the walk costs what it visits (nodes before the
        // earliest x are not followed), not the whole trace.
        let target: rustc_hash::FxHashSet<usize> = xs.iter().filter_map(|x| t.own(x.node)).collect();
        let Some(&lo) = target.iter().min() else { return false };
        let mut stack: Vec<usize> = vs.iter().filter_map(|v| t.own(v.node)).filter(|&id| id >= lo).collect();
        let mut seen = rustc_hash::FxHashSet::default();
        while let Some(id) = stack.pop() {
            if target.contains(&id) {
                return true;
            }
            if seen.insert(id) {
                stack.extend(t.graph.nodes[id].inputs.iter().copied().filter(|&i| i >= lo));
            }
        }
        false
    })
    .unwrap_or(false)
}

/// Checks `u` and `x` for the per-observation operators: real, traced `u`; real `x`; the same
/// rank; `axis` in range; equal sizes on every other axis. Returns `(Cu, Cx)`.
fn channels(call: &str, u: &DlArray, x: &DlArray, axis: usize) -> Result<(usize, usize)> {
    require_tracing(call)?;
    let (ud, xd) = (u.array_type()?, x.array_type()?);
    let shapes: [&[usize]; 2] = [ud.shape(), xd.shape()];
    require_real(call, "u", u)?;
    require_real(call, "x", x)?;
    if ud.shape().len() != xd.shape().len() {
        return Err(Error::shape(
            call,
            &shapes,
            "u and x must have the same number of axes: the channel axis and the same observation axes",
        ));
    }
    if axis >= ud.shape().len() {
        return Err(Error::shape(
            call,
            &shapes,
            format!("the channel axis {axis} is out of range for {} axes", ud.shape().len()),
        ));
    }
    if let Some(k) = (0..ud.shape().len()).find(|&k| k != axis && ud.shape()[k] != xd.shape()[k]) {
        return Err(Error::shape(
            call,
            &shapes,
            format!(
                "axis {k} indexes observations (the channel axis is {axis}) and must have the same size in u and x"
            ),
        ));
    }
    require_real_traced(call, "u", u)?;
    Ok((ud.shape()[axis], xd.shape()[axis]))
}

/// Entry `i` of `axis` of `x`, keeping the axis (length 1).
fn slice_axis(x: &DlArray, axis: usize, i: usize) -> DlArray {
    let mut slices: Vec<AxisSlice> = x.shape().iter().map(|&n| AxisSlice::full(n)).collect();
    slices[axis] = AxisSlice { start: i, len: 1, step: 1 };
    if slices.iter().zip(x.shape()).all(|(s, &n)| s.is_full(n)) {
        return x.clone();
    }
    emit(Op::Slice(slices), &[x])
}

/// `parts` joined along `axis`.
fn concat_parts(parts: &[DlArray], axis: usize) -> DlArray {
    let refs: Vec<&DlArray> = parts.iter().collect();
    crate::ops::concat(&refs, axis)
}

/// `a` with an axis of length 1 inserted at `axis`.
fn with_unit_axis(a: &DlArray, axis: usize) -> DlArray {
    let mut shape = a.shape().to_vec();
    shape.insert(axis, 1);
    a.reshape(&shape)
}

/// The gradient of `sum(u[.., i, ..])` (channel `i` on `axis`) with respect to `x`: row `i` of
/// every observation's Jacobian, of `x`'s shape.
fn jacobian_row(u: &DlArray, x: &DlArray, axis: usize, i: usize, options: &GradOptions) -> Result<DlArray> {
    let s = slice_axis(u, axis, i).sum_all();
    let mut g = gradients(&s, &[x], options)?;
    g.pop().ok_or_else(|| Error::argument("dljacobian", "internal: no gradient"))
}

/// A result assembled from parts: the error of a failed op surfaces as an `Err`.
fn checked(a: DlArray) -> Result<DlArray> {
    a.check()?;
    Ok(a)
}

/// The derivative operators' options: `enable_higher_derivatives: None` means on, as in MATLAB
/// R2024b (their results are what a PINN loss is made of, and a second operator on the same
/// trace needs the first's intermediate values).
fn higher_by_default(options: GradOptions) -> GradOptions {
    GradOptions { enable_higher_derivatives: Some(options.enable_higher_derivatives.unwrap_or(true)), ..options }
}

/// The per-observation Jacobian (MATLAB R2024b's `dljacobian`, batch-first): `axis` is the
/// channel axis of `u [.., Cu, ..]` and `x [.., Cx, ..]`, every other axis indexes independent
/// observations (the same sizes in `u` and `x`). The result has `u`'s shape with `[Cu, Cx]` in
/// place of `Cu`: entry `[n, i, j]` is `d u[n, i] / d x[n, j]`. `u` and `x` must be real; `u`
/// must be computed from `x` per observation (an observation that depends on another's inputs
/// is outside the contract, as in MATLAB). Costs one reverse sweep per channel of `u`.
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// // u = [x0 x1, x0 + x1] per row
/// let j = dlfeval(
///     |x: DlArray| {
///         let (a, b) = (x.slice(ndarray::s![.., 0..1]), x.slice(ndarray::s![.., 1..2]));
///         dljacobian(&concat(&[&(&a * &b), &(&a + &b)], 1), &x, 1)
///     },
///     DlArray::from(array![[2.0, 3.0]]),
/// ).unwrap();
/// assert_eq!(j.shape(), &[1, 2, 2]);
/// assert_eq!(j.extractdata::<f64>().unwrap().into_raw_vec_and_offset().0, vec![3.0, 2.0, 1.0, 1.0]);
/// ```
#[track_caller]
pub fn dljacobian(u: &DlArray, x: &DlArray, axis: usize) -> Result<DlArray> {
    dljacobian_with(u, x, axis, GradOptions::default())
}

/// [`dljacobian`] with options.
#[track_caller]
pub fn dljacobian_with(u: &DlArray, x: &DlArray, axis: usize, options: GradOptions) -> Result<DlArray> {
    let options = higher_by_default(options);
    // The nodes made here carry this call's line, marked backward (the sweeps inside
    // attribute theirs to the forward ops whose rules made them).
    let _origin = current_origin::scoped(Some(Origin::caller().backward()));
    let (cu, _) = channels("dljacobian", u, x, axis)?;
    let mut rows = Vec::with_capacity(cu);
    for i in 0..cu {
        let o = if i + 1 == cu { options } else { retaining(options) };
        rows.push(with_unit_axis(&jacobian_row(u, x, axis, i, &o)?.cast(u.dtype()), axis));
    }
    if rows.is_empty() {
        let mut shape = u.shape().to_vec();
        shape.insert(axis + 1, x.shape()[axis]);
        return Ok(DlArray::from_data(Arc::new(Data::zeros(u.dtype(), &shape))));
    }
    checked(concat_parts(&rows, axis))
}

/// The per-observation divergence `sum_i d u[n, i] / d x[n, i]` (MATLAB R2024b's
/// `dldivergence`, batch-first), `axis` the channel axis as in [`dljacobian`]; needs as many
/// channels in `u` as in `x`. The result has `u`'s shape with `axis` of length 1.
#[track_caller]
pub fn dldivergence(u: &DlArray, x: &DlArray, axis: usize) -> Result<DlArray> {
    dldivergence_with(u, x, axis, GradOptions::default())
}

/// [`dldivergence`] with options.
#[track_caller]
pub fn dldivergence_with(u: &DlArray, x: &DlArray, axis: usize, options: GradOptions) -> Result<DlArray> {
    let options = higher_by_default(options);
    // The nodes made here carry this call's line, marked backward (the sweeps inside
    // attribute theirs to the forward ops whose rules made them).
    let _origin = current_origin::scoped(Some(Origin::caller().backward()));
    const CALL: &str = "dldivergence";
    let (cu, cx) = channels(CALL, u, x, axis)?;
    if cu != cx {
        return Err(Error::shape(
            CALL,
            &[u.shape(), x.shape()],
            format!("u has {cu} channels on axis {axis} but x has {cx}: the divergence needs as many"),
        ));
    }
    let mut acc: Option<DlArray> = None;
    for i in 0..cu {
        let o = if i + 1 == cu { options } else { retaining(options) };
        let d = slice_axis(&jacobian_row(u, x, axis, i, &o)?, axis, i);
        acc = Some(match acc {
            Some(a) => a + d,
            None => d,
        });
    }
    match acc {
        Some(a) => checked(a.cast(u.dtype())),
        None => {
            let mut shape = u.shape().to_vec();
            shape[axis] = 1;
            Ok(DlArray::from_data(Arc::new(Data::zeros(u.dtype(), &shape))))
        }
    }
}

/// The per-observation Laplacian `sum_j d^2 u[n, i] / d x[n, j]^2` for every channel `i`
/// (MATLAB R2024b's `dllaplacian`, batch-first), `axis` the channel axis as in [`dljacobian`];
/// the result has `u`'s shape. Costs `Cu (1 + Cx)` reverse sweeps; the first of each channel
/// runs with higher derivatives on.
#[track_caller]
pub fn dllaplacian(u: &DlArray, x: &DlArray, axis: usize) -> Result<DlArray> {
    dllaplacian_with(u, x, axis, GradOptions::default())
}

/// [`dllaplacian`] with options.
#[track_caller]
pub fn dllaplacian_with(u: &DlArray, x: &DlArray, axis: usize, options: GradOptions) -> Result<DlArray> {
    let options = higher_by_default(options);
    // The nodes made here carry this call's line, marked backward (the sweeps inside
    // attribute theirs to the forward ops whose rules made them).
    let _origin = current_origin::scoped(Some(Origin::caller().backward()));
    const CALL: &str = "dllaplacian";
    let (cu, cx) = channels(CALL, u, x, axis)?;
    let mut zero_shape = x.shape().to_vec();
    zero_shape[axis] = 1;
    let zero = || DlArray::from_data(Arc::new(Data::zeros(u.dtype(), &zero_shape)));
    let mut per_channel = Vec::with_capacity(cu);
    for i in 0..cu {
        let g = jacobian_row(u, x, axis, i, &INNER)?;
        let mut acc: Option<DlArray> = None;
        if g.is_traced() {
            for j in 0..cx {
                let last = i + 1 == cu && j + 1 == cx;
                let o = if last { options } else { retaining(options) };
                let s = slice_axis(&g, axis, j).sum_all();
                let mut h = gradients(&s, &[x], &o)?;
                let h = h.pop().ok_or_else(|| Error::argument(CALL, "internal: no gradient"))?;
                let d = slice_axis(&h, axis, j);
                acc = Some(match acc {
                    Some(a) => a + d,
                    None => d,
                });
            }
        }
        per_channel.push(acc.unwrap_or_else(zero).cast(u.dtype()));
    }
    if per_channel.is_empty() {
        return Ok(zeros_like(u));
    }
    checked(concat_parts(&per_channel, axis))
}
