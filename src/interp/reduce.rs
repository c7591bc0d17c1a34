//! Kernels of the reductions: sum, max, min over a set of axes (removed).

use crate::array::{Data, Element, Num, RealNum};
use crate::error::{Error, Result};
use ndarray::{ArrayD, Axis};

fn fold<T: Element>(a: &ArrayD<T>, axes: &[usize], init: T, f: impl Fn(T, T) -> T + Copy) -> Data {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut out = a.clone();
    for axis in sorted {
        out = out.fold_axis(Axis(axis), init, |&acc, &v| f(acc, v));
    }
    T::into_data(out)
}

fn sum<T: Num>(a: &ArrayD<T>, axes: &[usize]) -> Data {
    fold(a, axes, T::zero(), |x, y| x + y)
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
