//! Gaussian-process regression: fit the hyperparameters of an RBF kernel by maximizing the
//! marginal likelihood with `lbfgsupdate` on an accelerated loss-and-gradient (a Cholesky
//! factor, two triangular solves and the log of its diagonal), then draw the posterior mean and
//! its ±2σ band in `target/examples-out/gp_regression.png`.
//!
//! ```text
//! cargo run --release --example gp_regression
//! ```
//!
//! The data are generated, with a fixed seed, from a GP with known hyperparameters
//! ([`TRUE_PARAMETERS`]: lengthscale 0.8, signal variance 1.5, noise variance 0.04): 400
//! inputs uniform in [-10, 10], a function drawn from the prior `f = L z` (`L = chol(K)` of the
//! kernel matrix at those inputs, `z` standard normal), and targets `y = f + noise`. The fit
//! starts from lengthscale, signal variance and noise variance all 1.

#[path = "support/fonts.rs"]
mod fonts;
#[path = "support/out.rs"]
mod out;

use cranegrad::prelude::*;
use ndarray::{Array1, Array2};
use plotters::prelude::*;

type BoxError = Box<dyn std::error::Error>;

/// The generating hyperparameters: lengthscale, signal variance, noise variance.
pub const TRUE_PARAMETERS: [f64; 3] = [0.8, 1.5, 0.04];

/// The number of observations.
pub const N: usize = 400;

/// A small deterministic generator: xorshift, uniform in [0, 1), and normals by Box-Muller.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// The RBF kernel `sf2 exp(-(a_i - b_j)^2 / (2 l^2))` between inputs `a [n]` and `b [m]`.
fn rbf(a: &DlArray, b: &DlArray, l2: &DlArray, sf2: &DlArray) -> DlArray {
    let d2 = (a.reshape(&[a.numel(), 1]) - b.reshape(&[1, b.numel()])).square();
    sf2 * (d2 * -0.5 / l2).exp()
}

/// The identity matrix of order `n`.
fn eye(n: usize) -> DlArray {
    DlArray::from(Array2::<f64>::eye(n))
}

/// The negative log marginal likelihood of `y` at `x` for log-hyperparameters
/// `p = [log l, log sf2, log sn2]`: `y' K^-1 y / 2 + sum(log diag L) + n log(2 pi) / 2`.
pub fn nll(p: &DlArray, x: &DlArray, y: &DlArray) -> DlArray {
    let n = x.numel();
    let (l2, sf2, sn2) = ((p.at(0) * 2.0).exp(), p.at(1).exp(), p.at(2).exp());
    let k = rbf(x, x, &l2, &sf2) + eye(n) * sn2;
    let l = chol_with(&k, Triangle::Lower);
    let yc = y.reshape(&[n, 1]);
    let z = linsolve(&l, &yc, LinsolveOptions { lt: true, ..Default::default() });
    let alpha = linsolve(&l, &z, LinsolveOptions { lt: true, transa: true, ..Default::default() });
    let log_diag = (&l * eye(n)).sum_axes(&[1], false).log().sum_all();
    (yc * alpha).sum_all() * 0.5 + log_diag + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln()
}

/// The observations: inputs, targets.
pub fn data() -> Result<(DlArray, DlArray)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let x = DlArray::from(Array1::from_iter((0..N).map(|_| -10.0 + 20.0 * rng.uniform())));
    let [l, sf2, sn2] = TRUE_PARAMETERS;
    let k = rbf(&x, &x, &DlArray::scalar(l * l), &DlArray::scalar(sf2)) + eye(N) * 1e-8;
    let z = DlArray::from(Array1::from_iter((0..N).map(|_| rng.normal())));
    let f = chol_with(&k, Triangle::Lower).matmul(&z);
    let noise = DlArray::from(Array1::from_iter((0..N).map(|_| sn2.sqrt() * rng.normal())));
    let y = f + noise;
    y.data()?;
    Ok((x, y))
}

/// The result of the fit.
pub struct Report {
    /// Fitted lengthscale, signal variance, noise variance.
    pub fitted: [f64; 3],
    /// The negative log likelihood at the start and at the fit.
    pub start_nll: f64,
    pub final_nll: f64,
    /// The negative log likelihood at the generating hyperparameters.
    pub true_nll: f64,
    /// L-BFGS iterations.
    pub iterations: usize,
    /// The log-hyperparameters fitted.
    pub p: DlArray,
}

/// Fits the hyperparameters to [`data`] from lengthscale, signal and noise variance 1.
pub fn run() -> Result<Report> {
    let (x, y) = data()?;
    let loss_and_grad = accelerate(|(p, x, y): (DlArray, DlArray, DlArray)| {
        let loss = nll(&p, &x, &y);
        let g = dlgradient(&loss, &p)?;
        Ok((loss, g))
    });
    let mut p = DlArray::from(ndarray::array![0.0, 0.0, 0.0]);
    let start_nll = loss_and_grad.call((p.clone(), x.clone(), y.clone()))?.0.to_scalar::<f64>()?;
    // The gradient at the start is in the hundreds (400 observations): a first step scaled
    // down, so the line search starts within the range where the kernel matrix stays positive
    // definite.
    let mut state = LbfgsState::new(10, 1e-3);
    let mut iterations = 0;
    while iterations < 200 {
        let before = state.loss;
        p = lbfgsupdate(
            &p,
            |p| loss_and_grad.call((p.clone(), x.clone(), y.clone())),
            &mut state,
            &LbfgsOptions::default(),
        )?;
        iterations += 1;
        // Converged, or at the floor of rounding: a step that no longer lowers the loss (the
        // gradient of 400 observations' likelihood does not get much below 1e-7 there).
        if state.gradients_norm < 1e-7 || state.loss >= before {
            break;
        }
    }
    let logs = p.extractdata::<f64>()?;
    let fitted = [(logs[0]).exp(), logs[1].exp(), logs[2].exp()];
    let truth = DlArray::from(Array1::from_iter(TRUE_PARAMETERS.iter().map(|v| v.ln())));
    let true_nll = nll(&truth, &x, &y).to_scalar::<f64>()?;
    Ok(Report { fitted, start_nll, final_nll: state.loss, true_nll, iterations, p })
}

/// The posterior mean and standard deviation of the latent function at `xs` given the data,
/// for log-hyperparameters `p`.
pub fn posterior(p: &DlArray, x: &DlArray, y: &DlArray, xs: &DlArray) -> Result<(Vec<f64>, Vec<f64>)> {
    let n = x.numel();
    let (l2, sf2, sn2) = ((p.at(0) * 2.0).exp(), p.at(1).exp(), p.at(2).exp());
    let l = chol_with(&(rbf(x, x, &l2, &sf2) + eye(n) * sn2), Triangle::Lower);
    let ks = rbf(x, xs, &l2, &sf2);
    let lower = LinsolveOptions { lt: true, ..Default::default() };
    let alpha = linsolve(&l, &linsolve(&l, &y.reshape(&[n, 1]), lower), LinsolveOptions { transa: true, ..lower });
    let mean = ks.transpose().matmul(&alpha).reshape(&[xs.numel()]);
    let v = linsolve(&l, &ks, lower);
    let var = (sf2 - v.square().sum_axes(&[0], false)).relu();
    let vec = |a: &DlArray| -> Result<Vec<f64>> { Ok(a.extractdata::<f64>()?.iter().copied().collect()) };
    Ok((vec(&mean)?, vec(&var.sqrt())?))
}

/// Draws the data, the posterior mean and its ±2σ band.
fn picture(path: &std::path::Path, report: &Report) -> std::result::Result<(), BoxError> {
    let (x, y) = data()?;
    let grid: Vec<f64> = (0..500).map(|i| -10.5 + 21.0 * i as f64 / 499.0).collect();
    let (mean, sd) = posterior(&report.p, &x, &y, &DlArray::from(Array1::from_vec(grid.clone())))?;
    let labels = fonts::register_font();
    let root = BitMapBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(16);
    if labels {
        let [l, sf2, sn2] = report.fitted;
        builder
            .caption(format!("GP posterior mean ± 2σ (l = {l:.3}, σf² = {sf2:.3}, σn² = {sn2:.4})"), ("sans-serif", 20))
            .x_label_area_size(32)
            .y_label_area_size(40);
    }
    let mut chart = builder.build_cartesian_2d(-10.5..10.5, -5.0..5.0)?;
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(WHITE.mix(0.0));
    if !labels {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw()?;
    let upper = grid.iter().zip(mean.iter().zip(&sd)).map(|(&g, (&m, &s))| (g, m + 2.0 * s));
    let lower = grid.iter().zip(mean.iter().zip(&sd)).map(|(&g, (&m, &s))| (g, m - 2.0 * s)).rev();
    chart.draw_series(std::iter::once(Polygon::new(upper.chain(lower).collect::<Vec<_>>(), BLUE.mix(0.2))))?;
    chart.draw_series(LineSeries::new(grid.iter().copied().zip(mean.iter().copied()), BLUE.stroke_width(3)))?;
    let (xd, yd) = (x.extractdata::<f64>()?, y.extractdata::<f64>()?);
    chart.draw_series(xd.iter().zip(yd.iter()).map(|(&a, &b)| Circle::new((a, b), 2, BLACK.filled())))?;
    root.present()?;
    Ok(())
}

#[allow(dead_code)]
fn main() -> std::result::Result<(), BoxError> {
    let report = run()?;
    let [l, sf2, sn2] = report.fitted;
    let [tl, tsf2, tsn2] = TRUE_PARAMETERS;
    println!("{N} observations from a GP with lengthscale {tl}, signal variance {tsf2}, noise variance {tsn2}");
    println!("fitted after {} L-BFGS iterations:", report.iterations);
    println!("  lengthscale      {l:.4}   (generating {tl})");
    println!("  signal variance  {sf2:.4}   (generating {tsf2})");
    println!("  noise variance   {sn2:.5}  (generating {tsn2})");
    println!(
        "negative log likelihood: {:.4} at the start, {:.4} fitted ({:.4} at the generating values)",
        report.start_nll, report.final_nll, report.true_nll
    );
    let path = out::out_path("gp_regression.png")?;
    picture(&path, &report)?;
    println!("posterior mean and ±2σ band: {}", out::shown(&path));
    Ok(())
}
