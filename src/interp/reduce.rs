//! Kernels of the reductions: sum, max, min over a set of axes (removed).

use super::blocked_sum::{blocked_sum, blocked_sum_slice, strided_sums};
use crate::array::{pool, Data, Element, Num, RealNum};
use crate::error::{Error, Result};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};
use rayon::prelude::*;

/// `reduce` of each lane of `n` consecutive elements of `s`, in order: on every core when `s`
/// is long ([`pool::in_parallel`]), each lane reduced by the same code whichever task holds it.
fn by_lanes<T: Element>(s: &[T], n: usize, reduce: impl Fn(&[T]) -> T + Send + Sync) -> Vec<T> {
    if pool::in_parallel(s.len()) && s.len() > n {
        let per_task = pool::PARALLEL_TASK.div_ceil(n);
        s.par_chunks_exact(n).with_min_len(per_task).map(reduce).collect()
    } else {
        s.chunks_exact(n).map(reduce).collect()
    }
}

/// `f` folded over one axis, each lane from `init` in index order (ndarray's `fold_axis`
/// order, which the JIT reproduces bit for bit); the last axis of contiguous data is folded
/// straight from the slice.
fn fold_one<T: Element>(
    a: ArrayViewD<'_, T>,
    axis: usize,
    init: T,
    f: impl Fn(T, T) -> T + Copy + Send + Sync,
) -> ArrayD<T> {
    let n = a.shape()[axis];
    if axis + 1 == a.ndim() && n > 0 {
        if let Some(s) = a.as_slice() {
            let lanes = by_lanes(s, n, |lane| lane.iter().fold(init, |acc, &v| f(acc, v)));
            if let Ok(out) = ArrayD::from_shape_vec(IxDyn(&a.shape()[..axis]), lanes) {
                return out;
            }
        }
    }
    a.fold_axis(Axis(axis), init, |&acc, &v| f(acc, v))
}

fn fold<T: Element>(a: &ArrayD<T>, axes: &[usize], init: T, f: impl Fn(T, T) -> T + Copy + Send + Sync) -> Data {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let Some((&first, rest)) = sorted.split_first() else { return T::into_data(a.clone()) };
    let mut out = fold_one(a.view(), first, init, f);
    for &axis in rest {
        out = fold_one(out.view(), axis, init, f);
    }
    T::into_data(out)
}

/// Sums over one axis, each lane in the blocked order of [`blocked_sum`].
fn sum_one<T: Num>(a: ArrayViewD<'_, T>, axis: usize) -> ArrayD<T> {
    let mut out_shape = a.shape().to_vec();
    out_shape.remove(axis);
    let n = a.shape()[axis];
    let sums: Vec<T> = match a.as_slice() {
        Some(s) if axis + 1 == a.ndim() && n > 0 => by_lanes(s, n, blocked_sum_slice),
        Some(s) => strided_sums(s, (a.shape()[..axis].iter().product(), n, a.shape()[axis + 1..].iter().product())),
        _ => a.lanes(Axis(axis)).into_iter().map(|l| blocked_sum(l.iter().copied())).collect(),
    };
    ArrayD::from_shape_vec(IxDyn(&out_shape), sums).unwrap_or_else(|_| ArrayD::from_elem(IxDyn(&out_shape), T::zero()))
}

fn sum<T: Num>(a: &ArrayD<T>, axes: &[usize]) -> Data {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let Some((&first, rest)) = sorted.split_first() else { return T::into_data(a.clone()) };
    let mut out = sum_one(a.view(), first);
    for &axis in rest {
        out = sum_one(out.view(), axis);
    }
    T::into_data(out)
}

/// Sum over `axes`.
pub(crate) fn reduce_sum(a: &Data, axes: &[usize]) -> Result<Data> {
    Ok(match a {
        Data::F32(x) => sum(x, axes),
        Data::F64(x) => sum(x, axes),
        Data::C64(x) => sum(x, axes),
        Data::C128(x) => sum(x, axes),
        Data::Bool(_) => return Err(Error::dtype("reduce_sum", &[a.dtype()], "needs a numeric operand")),
    })
}

fn extreme<T: RealNum>(a: &ArrayD<T>, axes: &[usize], max: bool) -> Data {
    let nan = T::zero() / T::zero();
    if max {
        fold(a, axes, nan, RealNum::maximum)
    } else {
        fold(a, axes, nan, RealNum::minimum)
    }
}

/// Maximum (`max`) or minimum over `axes`, ignoring NaN as MATLAB does; NaN when every
/// element is NaN, and for an empty axis.
pub(crate) fn reduce_extreme(a: &Data, axes: &[usize], max: bool) -> Result<Data> {
    Ok(match a {
        Data::F32(x) => extreme(x, axes, max),
        Data::F64(x) => extreme(x, axes, max),
        _ => return Err(Error::dtype("reduce_max", &[a.dtype()], "defined for real operands only")),
    })
}
