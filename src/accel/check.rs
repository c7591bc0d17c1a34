//! Check mode: compare accelerated outputs with an un-accelerated run.

use crate::error::Result;
use crate::trace::Tree;

/// What check mode does on each cached call.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum CheckMode {
    /// No check (the default).
    #[default]
    None,
    /// Also run the function un-accelerated and compare every output: a difference larger
    /// than the tolerance (absolute, per element) logs a warning and counts as a check failure.
    Tolerance(f64),
}

/// The largest absolute elementwise difference between two outputs, or infinity when their
/// shapes or dtypes differ; NaN in the same place counts as equal.
fn max_difference(a: &crate::DlArray, b: &crate::DlArray) -> Result<f64> {
    let (a, b) = (a.data()?, b.data()?);
    if a.shape() != b.shape() || a.dtype() != b.dtype() {
        return Ok(f64::INFINITY);
    }
    let diff = a
        .to_c128_vec()
        .iter()
        .zip(b.to_c128_vec())
        .map(|(x, y)| {
            let same_nan = (x.re.is_nan() == y.re.is_nan()) && (x.im.is_nan() == y.im.is_nan());
            let d = (x - y).norm();
            if d.is_nan() && same_nan {
                0.0
            } else if d.is_nan() {
                f64::INFINITY
            } else {
                d
            }
        })
        .fold(0.0, f64::max);
    Ok(diff)
}

/// The outputs (by position) whose difference exceeds `tol`, with the difference.
pub(crate) fn compare<R: Tree>(accelerated: &R, reference: &R, tol: f64) -> Result<Vec<(usize, f64)>> {
    let (a, b) = (accelerated.arrays(), reference.arrays());
    let mut out = Vec::new();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let d = max_difference(x, y)?;
        if d > tol {
            out.push((i, d));
        }
    }
    if a.len() != b.len() {
        out.push((a.len().min(b.len()), f64::INFINITY));
    }
    Ok(out)
}
