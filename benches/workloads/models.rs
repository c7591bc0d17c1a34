//! The functions the workloads differentiate, and their hand-written counterparts.

use cranegrad::prelude::*;
use ndarray::{s, Array1, Array2};
use num_complex::Complex64;

/// The seed's Rosenbrock function with its gradient.
pub fn rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

/// Value and gradient of the seed's Rosenbrock function, by hand.
pub fn rosenbrock_by_hand(x: &[f64; 2]) -> (f64, [f64; 2]) {
    let (a, b) = (x[0], x[1]);
    let r = b - a * a;
    (100.0 * r * r + (1.0 - a) * (1.0 - a), [-400.0 * a * r - 2.0 * (1.0 - a), 200.0 * r])
}

/// `sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)` with its gradient.
pub fn extended_rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

/// Log-sum-exp of a vector, `m + log(sum(exp(x - m)))` with `m = stop_gradient(max(x))` (JAX's
/// `logsumexp`), with its gradient (the softmax).
pub fn log_sum_exp(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let m = x.max_axes(&[0], true).stop_gradient();
    let y = ((x - &m).exp().sum_axes(&[0], true).log() + &m).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

/// The same by hand: the maximum, then one pass for the sum of exponentials (libm's `exp`),
/// then one for the softmax.
pub fn log_sum_exp_by_hand(x: &[f64], g: &mut [f64]) -> f64 {
    let m = x.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let s: f64 = x.iter().map(|&v| (v - m).exp()).sum();
    for (gi, &v) in g.iter_mut().zip(x) {
        *gi = (v - m).exp() / s;
    }
    m + s.ln()
}

/// The same, fused by hand: one pass for the value and gradient.
pub fn extended_rosenbrock_by_hand(x: &[f64], g: &mut [f64]) -> f64 {
    let n = x.len();
    let mut y = 0.0;
    g.fill(0.0);
    for i in 0..n - 1 {
        let (a, b) = (x[i], x[i + 1]);
        let r = b - a * a;
        y += 100.0 * r * r + (1.0 - a) * (1.0 - a);
        g[i] += -400.0 * a * r - 2.0 * (1.0 - a);
        g[i + 1] += 200.0 * r;
    }
    y
}

/// [`extended_rosenbrock_by_hand`] in f32 (one thread, one pass).
pub fn extended_rosenbrock_by_hand_f32(x: &[f32], g: &mut [f32]) -> f32 {
    let n = x.len();
    let mut y = 0.0;
    g.fill(0.0);
    for i in 0..n - 1 {
        let (a, b) = (x[i], x[i + 1]);
        let r = b - a * a;
        y += 100.0 * r * r + (1.0 - a) * (1.0 - a);
        g[i] += -400.0 * a * r - 2.0 * (1.0 - a);
        g[i + 1] += 200.0 * r;
    }
    y
}

/// The gradient of `sum(grad(x)^2)` for the extended Rosenbrock function (second order).
pub fn gradient_norm_gradient(x: &DlArray) -> Result<DlArray> {
    let options = GradOptions { enable_higher_derivatives: Some(true), ..Default::default() };
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient_with(&y, x, options)?;
    dlgradient_with(&g.square().sum_all(), x, options)
}

/// W4 by hand: the gradient `g` of the extended Rosenbrock function (one pass, into `g`), then
/// `2 H g` (a second pass over the 2 x 2 Hessian blocks of the terms, into `out`).
pub fn gradient_norm_gradient_by_hand(x: &[f64], g: &mut [f64], out: &mut [f64]) {
    extended_rosenbrock_by_hand(x, g);
    out.fill(0.0);
    for i in 0..x.len() - 1 {
        let (a, b, ga, gb) = (x[i], x[i + 1], g[i], g[i + 1]);
        out[i] += 2.0 * ((1200.0 * a * a - 400.0 * b + 2.0) * ga - 400.0 * a * gb);
        out[i + 1] += 2.0 * (-400.0 * a * ga + 200.0 * gb);
    }
}

/// The Hessian-vector product `H v` of the extended Rosenbrock function (forward over reverse).
pub fn extended_rosenbrock_hvp(x: &DlArray, v: &DlArray) -> Result<DlArray> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    dlhvp(&y, x, v)
}

/// The same, by hand: one pass over the 2 x 2 Hessian blocks of the terms.
pub fn extended_rosenbrock_hvp_by_hand(x: &[f64], v: &[f64], hv: &mut [f64]) {
    hv.fill(0.0);
    for i in 0..x.len() - 1 {
        let (a, b, va, vb) = (x[i], x[i + 1], v[i], v[i + 1]);
        hv[i] += (1200.0 * a * a - 400.0 * b + 2.0) * va - 400.0 * a * vb;
        hv[i + 1] += -400.0 * a * va + 200.0 * vb;
    }
}

/// The seed's complex example: gradient of `sum(real((2+3i) z))`.
pub fn complex_gradient(z: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = (Complex64::new(2.0, 3.0) * z).real();
    let g = dlgradient(&y.sum_all(), z)?;
    Ok((y, g))
}

/// [`complex_gradient`] by hand: `real((2+3i) z)` and the constant gradient `2-3i`, both
/// freshly allocated per call as the accelerated function's outputs are.
pub fn complex_gradient_by_hand(z: &[Complex64]) -> (Vec<f64>, Vec<Complex64>) {
    let c = Complex64::new(2.0, 3.0);
    let y = z.iter().map(|&z| (c * z).re).collect();
    let g = vec![c.conj(); z.len()];
    (y, g)
}

/// `z = x + iy` on an `n x n` grid over [-2, 2]^2.
pub fn complex_grid(n: usize) -> DlArray {
    let t = Array1::linspace(-2.0, 2.0, n);
    DlArray::from(Array2::from_shape_fn((n, n), |(i, j)| Complex64::new(t[j], t[i])))
}

/// Deterministic pseudo-random numbers in [-1, 1).
pub fn data(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// Parameters `(W1, b1, W2, b2)`, inputs `X` and one-hot targets `T`.
pub type MlpArgs = ((DlArray, DlArray, DlArray, DlArray), DlArray, DlArray);

fn matrix(rows: usize, cols: usize, seed: u64, scale: f64) -> DlArray {
    let v: Vec<f64> = data(rows * cols, seed).into_iter().map(|x| x * scale).collect();
    DlArray::from(Array2::from_shape_vec((rows, cols), v).expect("sizes agree"))
}

/// Random MLP parameters and a batch for `(B, D, H, C)`.
pub fn mlp_args(b: usize, d: usize, h: usize, c: usize) -> MlpArgs {
    let targets = Array2::from_shape_fn((b, c), |(i, j)| if (i * 7 + 3) % c == j { 1.0 } else { 0.0 });
    (
        (
            matrix(d, h, 1, 1.0 / (d as f64).sqrt()),
            DlArray::from(Array1::from_vec(data(h, 2))),
            matrix(h, c, 3, 1.0 / (h as f64).sqrt()),
            DlArray::from(Array1::from_vec(data(c, 4))),
        ),
        matrix(b, d, 5, 1.0),
        DlArray::from(targets),
    )
}

/// `tanh(X W1 + b1) W2 + b2`, log-softmax cross-entropy, its value and the gradients of the
/// parameters.
#[allow(clippy::type_complexity)]
pub fn mlp_loss_and_grads(
    p: &(DlArray, DlArray, DlArray, DlArray),
    x: &DlArray,
    t: &DlArray,
) -> Result<(DlArray, (DlArray, DlArray, DlArray, DlArray))> {
    let (w1, b1, w2, b2) = p;
    let hidden = (x.matmul(w1) + b1).tanh();
    let logits = hidden.matmul(w2) + b2;
    let shifted = &logits - logits.max_axes(&[1], true);
    let log_probs = &shifted - shifted.exp().sum_axes(&[1], true).log();
    let loss = -(t * log_probs).sum_all() / x.shape()[0] as f64;
    let grads = dlgradient(&loss, (w1, b1, w2, b2))?;
    Ok((loss, grads))
}

/// W3 by hand with ndarray's `dot` (transposed operands as views): the same loss and
/// gradients `(dW1, db1, dW2, db2)` as [`mlp_loss_and_grads`], by the same formulas.
#[allow(clippy::type_complexity)]
pub fn mlp_by_hand(
    w1: &Array2<f64>,
    b1: &Array1<f64>,
    w2: &Array2<f64>,
    b2: &Array1<f64>,
    x: &Array2<f64>,
    t: &Array2<f64>,
) -> (f64, (Array2<f64>, Array1<f64>, Array2<f64>, Array1<f64>)) {
    use ndarray::Axis;
    let batch = x.nrows() as f64;
    let hidden = (x.dot(w1) + b1).mapv(f64::tanh);
    let logits = hidden.dot(w2) + b2;
    let mut loss = 0.0;
    let mut dlogits = Array2::zeros(logits.raw_dim());
    for ((row, trow), mut drow) in logits.outer_iter().zip(t.outer_iter()).zip(dlogits.outer_iter_mut()) {
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f64 = row.iter().map(|&v| (v - max).exp()).sum();
        let (lse, tsum) = (sum.ln(), trow.sum());
        for ((&v, &tv), d) in row.iter().zip(trow).zip(drow.iter_mut()) {
            let log_p = v - max - lse;
            loss -= tv * log_p;
            *d = (log_p.exp() * tsum - tv) / batch;
        }
    }
    let dw2 = hidden.t().dot(&dlogits);
    let db2 = dlogits.sum_axis(Axis(0));
    let mut dhidden = dlogits.dot(&w2.t());
    dhidden.zip_mut_with(&hidden, |d, &h| *d *= 1.0 - h * h);
    let dw1 = x.t().dot(&dhidden);
    let db1 = dhidden.sum_axis(Axis(0));
    (loss / batch, (dw1, db1, dw2, db2))
}
