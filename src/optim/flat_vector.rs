//! Arithmetic on parameters flattened to one real vector, as the L-BFGS solver and its line
//! searches see them.

/// The dot product `a'b`.
pub(super) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The 2-norm of `a`.
pub(super) fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}

/// `x + a p`.
pub(super) fn axpy(x: &[f64], a: f64, p: &[f64]) -> Vec<f64> {
    x.iter().zip(p).map(|(x, p)| x + a * p).collect()
}
