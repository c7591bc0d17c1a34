//! Kernels of the layout primitives: broadcast, reshape, permute, slice, pad, concat.

use crate::array::with_data;
use crate::array::{broadcast, pool, standard, Data, Element};
use crate::error::{Error, Result};
use crate::ir::AxisSlice;
use ndarray::{ArrayD, ArrayViewD, IxDyn, Slice};

/// The ndarray slice that takes `s` along one axis.
fn nd_slice(s: &AxisSlice) -> Slice {
    if s.len == 0 {
        return Slice::new(0, Some(0), 1);
    }
    if s.step > 0 {
        let end = s.start as isize + (s.len as isize - 1) * s.step + 1;
        Slice::new(s.start as isize, Some(end), s.step)
    } else {
        let low = s.start as isize + (s.len as isize - 1) * s.step;
        Slice::new(low, Some(s.start as isize + 1), s.step)
    }
}

fn sliced<'a, T>(a: &'a ArrayD<T>, slices: &[AxisSlice]) -> ArrayViewD<'a, T> {
    let mut v = a.view();
    for (axis, s) in slices.iter().enumerate() {
        v.slice_axis_inplace(ndarray::Axis(axis), nd_slice(s));
    }
    v
}

/// numpy broadcast of `a` to `shape`.
pub(crate) fn broadcast(a: &Data, shape: &[usize]) -> Result<Data> {
    with_data!(a, x => {
        let b = x
            .broadcast(IxDyn(shape))
            .ok_or_else(|| Error::shape("broadcast", &[x.shape(), shape], "the first does not broadcast to the second"))?;
        Ok(Element::into_data(match x.as_slice() {
            Some(xs) => broadcast::copy(shape, xs, x.shape()),
            None => pool::copy(b),
        }))
    })
}

/// The axes of `a` reordered: result axis `i` is input axis `axes[i]`.
pub(crate) fn permute(a: &Data, axes: &[usize]) -> Data {
    with_data!(a, x => Element::into_data(within(x, x.view().permuted_axes(IxDyn(axes)))))
}

/// The strided slice of `a`.
pub(crate) fn slice(a: &Data, slices: &[AxisSlice]) -> Data {
    with_data!(a, x => Element::into_data(within(x, sliced(x, slices))))
}

/// A row-major copy of `view`, a view of `x`.
fn within<T: Element>(x: &ArrayD<T>, view: ArrayViewD<'_, T>) -> ArrayD<T> {
    match x.as_slice() {
        Some(s) => pool::copy_within(s, view),
        None => pool::copy(view),
    }
}

/// Zeros of `shape` with `a` written where `slices` would read.
pub(crate) fn pad(a: &Data, shape: &[usize], slices: &[AxisSlice]) -> Data {
    fn place<T: Element>(x: &ArrayD<T>, shape: &[usize], slices: &[AxisSlice]) -> Data {
        let mut out = pool::filled(shape, T::default());
        {
            let mut v = out.view_mut();
            for (axis, s) in slices.iter().enumerate() {
                v.slice_axis_inplace(ndarray::Axis(axis), nd_slice(s));
            }
            v.assign(x);
        }
        T::into_data(out)
    }
    with_data!(a, x => place(x, shape, slices))
}

/// The inputs joined along `axis` (all of one dtype).
pub(crate) fn concat(inputs: &[&Data], axis: usize) -> Result<Data> {
    fn join<T: Element>(inputs: &[&Data], axis: usize) -> Result<Data> {
        let views: Vec<ArrayViewD<T>> =
            inputs.iter().map(|d| T::view(d).map(|a| a.view())).collect::<Option<_>>().ok_or_else(|| {
                let dtypes: Vec<_> = inputs.iter().map(|d| d.dtype()).collect();
                Error::dtype("concat", &dtypes, "operands must have one dtype")
            })?;
        if let Some(out) = join_rows(&views, axis) {
            return Ok(T::into_data(out));
        }
        let out =
            ndarray::concatenate(ndarray::Axis(axis), &views).map_err(|e| Error::argument("concat", e.to_string()))?;
        Ok(T::into_data(standard(out)))
    }
    let first = inputs.first().ok_or_else(|| Error::argument("concat", "needs at least one operand"))?;
    match first {
        Data::Bool(_) => join::<bool>(inputs, axis),
        Data::F32(_) => join::<f32>(inputs, axis),
        Data::F64(_) => join::<f64>(inputs, axis),
        Data::C64(_) => join::<num_complex::Complex32>(inputs, axis),
        Data::C128(_) => join::<num_complex::Complex64>(inputs, axis),
    }
}

/// Row-major operands of one shape but along `axis` joined along it: for each index of the
/// axes before `axis`, each operand's block of the rest copied in turn, into a pooled result.
/// `None` where an operand is not row-major or the shapes do not join (ndarray's `concatenate`
/// then copies, or says why not).
fn join_rows<T: Element>(views: &[ArrayViewD<'_, T>], axis: usize) -> Option<ArrayD<T>> {
    let first = views.first()?.shape();
    let joins = |s: &[usize]| s.len() == first.len() && (0..s.len()).all(|i| i == axis || s[i] == first[i]);
    if axis >= first.len() || !views.iter().all(|v| joins(v.shape())) {
        return None;
    }
    let slices: Vec<&[T]> = views.iter().map(|v| v.as_slice()).collect::<Option<_>>()?;
    let mut shape = first.to_vec();
    shape[axis] = views.iter().map(|v| v.shape()[axis]).sum();
    let outer: usize = first[..axis].iter().product();
    let blocks: Vec<usize> = views.iter().map(|v| v.shape()[axis..].iter().product()).collect();
    Some(pool::array(&shape, |out| {
        for o in 0..outer {
            for (s, &b) in slices.iter().zip(&blocks) {
                out.extend_from_slice(&s[o * b..(o + 1) * b]);
            }
        }
    }))
}
