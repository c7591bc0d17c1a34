//! Kernels of the reductions: sum, max, min over a set of axes (removed).

use crate::array::{Data, Element, Num, RealNum};
use crate::error::{Error, Result};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

/// `f` folded over one axis, each lane from `init` in index order (ndarray's `fold_axis`
/// order, which the JIT reproduces bit for bit); the last axis of contiguous data is folded
/// straight from the slice.
fn fold_one<T: Element>(a: ArrayViewD<'_, T>, axis: usize, init: T, f: impl Fn(T, T) -> T + Copy) -> ArrayD<T> {
    let n = a.shape()[axis];
    if axis + 1 == a.ndim() && n > 0 {
        if let Some(s) = a.as_slice() {
            let lanes: Vec<T> = s.chunks_exact(n).map(|lane| lane.iter().fold(init, |acc, &v| f(acc, v))).collect();
            if let Ok(out) = ArrayD::from_shape_vec(IxDyn(&a.shape()[..axis]), lanes) {
                return out;
            }
        }
    }
    a.fold_axis(Axis(axis), init, |&acc, &v| f(acc, v))
}

fn fold<T: Element>(a: &ArrayD<T>, axes: &[usize], init: T, f: impl Fn(T, T) -> T + Copy) -> Data {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let Some((&first, rest)) = sorted.split_first() else { return T::into_data(a.clone()) };
    let mut out = fold_one(a.view(), first, init, f);
    for &axis in rest {
        out = fold_one(out.view(), axis, init, f);
    }
    T::into_data(out)
}

/// Elements per block of a sum (a multiple of [`SUM_ACCUMULATORS`]).
pub(crate) const SUM_BLOCK: usize = 256;
/// Independent accumulators within a block.
pub(crate) const SUM_ACCUMULATORS: usize = 4;

/// The sum of a lane in the fixed blocked order that the JIT reproduces bit for bit: blocks of
/// [`SUM_BLOCK`] elements, each summed into [`SUM_ACCUMULATORS`] accumulators (element `j` of a
/// block into accumulator `j % 4`, each starting at zero) combined as `(a0 + a1) + (a2 + a3)`;
/// the block sums combined pairwise, as a binary counter (block `b` merges with the partial sum
/// of each lower level whose bit is set in `b`, older partial on the left), and the remaining
/// partials added from the lowest level up, older on the left. The rounding error grows with
/// the logarithm of the length, not the length.
pub(crate) fn blocked_sum<T: Num>(lane: impl Iterator<Item = T>) -> T {
    let mut partial: Vec<T> = Vec::new();
    let mut count = 0usize;
    let mut acc = [T::zero(); SUM_ACCUMULATORS];
    let mut j = 0;
    let merge = |partial: &mut Vec<T>, count: &mut usize, acc: &[T; SUM_ACCUMULATORS]| {
        let mut c = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        let mut level = 0;
        while (*count >> level) & 1 == 1 {
            c = partial[level] + c;
            level += 1;
        }
        if partial.len() <= level {
            partial.resize(level + 1, T::zero());
        }
        partial[level] = c;
        *count += 1;
    };
    for v in lane {
        acc[j % SUM_ACCUMULATORS] = acc[j % SUM_ACCUMULATORS] + v;
        j += 1;
        if j == SUM_BLOCK {
            merge(&mut partial, &mut count, &acc);
            acc = [T::zero(); SUM_ACCUMULATORS];
            j = 0;
        }
    }
    if j > 0 {
        merge(&mut partial, &mut count, &acc);
    }
    let mut total: Option<T> = None;
    for (level, &p) in partial.iter().enumerate() {
        if (count >> level) & 1 == 1 {
            total = Some(match total {
                None => p,
                Some(t) => p + t,
            });
        }
    }
    total.unwrap_or_else(T::zero)
}

/// Sums over one axis, each lane in the blocked order of [`blocked_sum`].
fn sum_one<T: Num>(a: ArrayViewD<'_, T>, axis: usize) -> ArrayD<T> {
    let mut out_shape = a.shape().to_vec();
    out_shape.remove(axis);
    let n = a.shape()[axis];
    let sums: Vec<T> = match a.as_slice() {
        Some(s) if axis + 1 == a.ndim() && n > 0 => s.chunks_exact(n).map(|l| blocked_sum(l.iter().copied())).collect(),
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
