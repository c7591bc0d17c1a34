//! MATLAB's "Solve Partial Differential Equations with L-BFGS Method and Deep Learning"
//! (a physics-informed neural network for Burgers' equation), in Rust.
//!
//! Burgers' equation `u_t + u u_x - (0.01 / pi) u_xx = 0` on `x in [-1, 1]`, `t in [0, 1]`,
//! with `u(x, 0) = -sin(pi x)` and `u(-1, t) = u(1, t) = 0`. A tanh MLP `u(x, t)` is trained so
//! that the equation's residual vanishes at collocation points inside the domain and the
//! initial and boundary values hold. The residual needs `u_t`, `u_x` (one `dljacobian`) and
//! `u_xx` (a `dljacobian` of `u_x`), and the training gradient differentiates through them:
//! third-order derivatives, all inside ONE accelerated loss-and-gradient function, trained with
//! `lbfgsupdate`. The prediction is compared with the exact solution (the Cole-Hopf
//! transformation, its integrals evaluated by Gauss-Hermite quadrature) at
//! `t = 0.25, 0.5, 0.75, 1`, and drawn next to it in `target/examples-out/pinn_burgers.png`.
//!
//! ```text
//! cargo run --release --example pinn_burgers
//! ```
//!
//! Sizes: MATLAB's network (9 fully connected layers of 20, tanh), its boundary and initial
//! points (25 + 25 + 50) and its 1,500 L-BFGS iterations (default `lbfgsState`, weak Wolfe line
//! search); 5,000 collocation points (MATLAB: 10,000) so the run takes about a minute and a half
//! on two cores. `PINN_ITERATIONS=n` changes the iteration limit.

#[path = "support/fonts.rs"]
mod fonts;
#[path = "support/out.rs"]
mod out;

use cranegrad::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};
use ndarray::{s, Array1, Array2};
use plotters::prelude::*;
use std::f64::consts::PI;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error>;

/// The viscosity `0.01 / pi`.
const NU: f64 = 0.01 / PI;
/// Fully connected layers (the last one is the output layer) and neurons per hidden layer.
const NUM_LAYERS: usize = 9;
const NUM_NEURONS: usize = 20;
/// Points: interior collocation points, points on each boundary, points at `t = 0`.
const NUM_COLLOCATION: usize = 5_000;
const NUM_BOUNDARY: usize = 25;
const NUM_INITIAL: usize = 50;
/// L-BFGS: iteration limit and MATLAB's stopping tolerances.
const MAX_ITERATIONS: usize = 1_500;
const GRADIENT_TOLERANCE: f64 = 1e-5;
const STEP_TOLERANCE: f64 = 1e-5;
/// Times at which the prediction is compared with the exact solution.
const TEST_TIMES: [f64; 4] = [0.25, 0.5, 0.75, 1.0];
/// Points in `x` of the comparison.
const NUM_TEST_X: usize = 1_001;

/// A small deterministic generator (xorshift64*), for the initial weights.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let u = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }
}

/// The `k`-th element of the van der Corput sequence in base `b` (Halton points fill the
/// domain more evenly than random ones, as MATLAB's Sobol points do).
fn halton(mut k: usize, b: usize) -> f64 {
    let (mut f, mut r) = (1.0, 0.0);
    while k > 0 {
        f /= b as f64;
        r += f * (k % b) as f64;
        k /= b;
    }
    r
}

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n).map(|k| a + (b - a) * k as f64 / (n - 1) as f64).collect()
}

/// MATLAB's initialization: Glorot-uniform weights, zero biases; layer `k` is `fc{k}`.
fn initial_parameters() -> ParamTable {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut params = ParamTable::new();
    for k in 1..=NUM_LAYERS {
        let fan_in = if k == 1 { 2 } else { NUM_NEURONS };
        let fan_out = if k == NUM_LAYERS { 1 } else { NUM_NEURONS };
        let bound = (6.0 / (fan_in + fan_out) as f64).sqrt();
        let w = Array2::from_shape_fn((fan_out, fan_in), |_| rng.uniform(-bound, bound));
        params.push(format!("fc{k}"), "Weights", DlArray::from(w));
        params.push(format!("fc{k}"), "Bias", DlArray::from(Array1::<f64>::zeros(fan_out)));
    }
    params
}

/// The network: `xt [N, 2]` (columns x and t) to `u [N, 1]`.
fn model(params: &ParamTable, xt: &DlArray) -> Result<DlArray> {
    let mut h = xt.clone();
    for k in 1..=NUM_LAYERS {
        let layer = format!("fc{k}");
        let missing = || Error::Argument { op: "model".into(), detail: format!("no parameters for layer {layer}") };
        let w = params.get(&layer, "Weights").ok_or_else(missing)?;
        let b = params.get(&layer, "Bias").ok_or_else(missing)?;
        h = fullyconnect(&h, w, b);
        if k < NUM_LAYERS {
            h = h.tanh();
        }
    }
    Ok(h)
}

/// The inputs of the loss besides the parameters: collocation points `[N, 2]`, initial and
/// boundary points `[M, 2]` and their values `[M, 1]`.
type Data = (DlArray, DlArray, DlArray);

/// MATLAB's `modelLoss`: the mean squared residual of Burgers' equation at the collocation
/// points plus the mean squared error at the initial and boundary points, and its gradients
/// with respect to the parameters.
fn model_loss((params, (xt, xt0, u0)): (ParamTable, Data)) -> Result<(DlArray, ParamTable)> {
    let u = model(&params, &xt)?;
    // [N, 1, 2]: d u / d x and d u / d t of every point (each point is one observation).
    let j = dljacobian(&u, &xt, 1)?;
    let (ux, ut) = (j.slice(s![.., 0, 0..1]), j.slice(s![.., 0, 1..2]));
    let uxx = dljacobian(&ux, &xt, 1)?.slice(s![.., 0, 0..1]);
    let residual = ut + &u * &ux - NU * uxx;
    let loss_f = residual.square().mean_all();
    let loss_u = (model(&params, &xt0)? - u0).square().mean_all();
    let loss = loss_f + loss_u;
    let gradients = dlgradient(&loss, &params)?;
    Ok((loss, gradients))
}

/// The training points: Halton collocation points inside the domain; `u(x, 0) = -sin(pi x)`
/// at `x` evenly spaced; `u(+-1, t) = 0` at `t` evenly spaced.
fn training_data() -> Data {
    let xt = Array2::from_shape_fn((NUM_COLLOCATION, 2), |(k, c)| {
        if c == 0 {
            2.0 * halton(k + 1, 2) - 1.0
        } else {
            halton(k + 1, 3)
        }
    });
    let mut points = Vec::new();
    for &x in &linspace(-1.0, 1.0, NUM_INITIAL) {
        points.push((x, 0.0, -(PI * x).sin()));
    }
    for &t in &linspace(0.0, 1.0, NUM_BOUNDARY) {
        points.push((-1.0, t, 0.0));
        points.push((1.0, t, 0.0));
    }
    let xt0 = Array2::from_shape_fn((points.len(), 2), |(k, c)| if c == 0 { points[k].0 } else { points[k].1 });
    let u0 = Array2::from_shape_fn((points.len(), 1), |(k, _)| points[k].2);
    (DlArray::from(xt), DlArray::from(xt0), DlArray::from(u0))
}

/// Gauss-Hermite nodes and weights for `int exp(-z^2) f(z) dz`, by Newton's method on the
/// orthonormal Hermite recurrence (Golub and Welsch's starting guesses, Numerical Recipes'
/// `gauher`).
fn gauss_hermite(n: usize) -> (Vec<f64>, Vec<f64>) {
    let pim4 = PI.powf(-0.25);
    let (mut x, mut w) = (vec![0.0; n], vec![0.0; n]);
    let mut z: f64 = 0.0;
    for i in 0..n.div_ceil(2) {
        z = match i {
            0 => (2.0 * n as f64 + 1.0).sqrt() - 1.85575 * (2.0 * n as f64 + 1.0).powf(-1.0 / 6.0),
            1 => z - 1.14 * (n as f64).powf(0.426) / z,
            2 => 1.86 * z - 0.86 * x[0],
            3 => 1.91 * z - 0.91 * x[1],
            _ => 2.0 * z - x[i - 2],
        };
        let mut pp = 1.0;
        for _ in 0..100 {
            let (mut p1, mut p2) = (pim4, 0.0);
            for j in 1..=n {
                let p3 = p2;
                p2 = p1;
                p1 = z * (2.0 / j as f64).sqrt() * p2 - ((j - 1) as f64 / j as f64).sqrt() * p3;
            }
            pp = (2.0 * n as f64).sqrt() * p2;
            let step = p1 / pp;
            z -= step;
            if step.abs() <= 1e-15 * z.abs().max(1.0) {
                break;
            }
        }
        x[i] = z;
        x[n - 1 - i] = -z;
        w[i] = 2.0 / (pp * pp);
        w[n - 1 - i] = w[i];
    }
    (x, w)
}

/// The exact solution by the Cole-Hopf transformation:
/// `u(x, t) = -int sin(pi (x - e)) F(x - e) G(e) de / int F(x - e) G(e) de` with
/// `F(y) = exp(-cos(pi y) / (2 pi nu))` and `G(e) = exp(-e^2 / (4 nu t))`; with
/// `e = sqrt(4 nu t) z` both integrals are Gauss-Hermite sums, scaled by their largest term.
fn exact_solution(x: f64, t: f64, rule: &(Vec<f64>, Vec<f64>)) -> f64 {
    if t == 0.0 {
        return -(PI * x).sin();
    }
    let c = (4.0 * NU * t).sqrt();
    let (nodes, weights) = rule;
    let exponent = |z: f64, w: f64| w.ln() - (PI * (x - c * z)).cos() / (2.0 * PI * NU);
    let top = nodes.iter().zip(weights).map(|(&z, &w)| exponent(z, w)).fold(f64::NEG_INFINITY, f64::max);
    let (mut num, mut den) = (0.0, 0.0);
    for (&z, &w) in nodes.iter().zip(weights) {
        let e = (exponent(z, w) - top).exp();
        num += (PI * (x - c * z)).sin() * e;
        den += e;
    }
    -num / den
}

/// The network's prediction at `x` for one `t`.
fn predict(params: &ParamTable, xs: &[f64], t: f64) -> Result<Vec<f64>> {
    let xt = Array2::from_shape_fn((xs.len(), 2), |(k, c)| if c == 0 { xs[k] } else { t });
    let u = model(params, &DlArray::from(xt))?;
    Ok(u.extractdata::<f64>()?.iter().copied().collect())
}

fn relative_l2(pred: &[f64], exact: &[f64]) -> f64 {
    let diff: f64 = pred.iter().zip(exact).map(|(p, e)| (p - e).powi(2)).sum();
    let norm: f64 = exact.iter().map(|e| e * e).sum();
    (diff / norm).sqrt()
}

/// Predicted (dashed) and exact (solid) `u(x)` at each test time, one panel per time.
fn picture(
    path: &std::path::Path,
    xs: &[f64],
    curves: &[(f64, Vec<f64>, Vec<f64>, f64)],
    labels: bool,
) -> std::result::Result<(), BoxError> {
    let root = BitMapBackend::new(path, (1000, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = if labels {
        root.titled("Burgers' equation: PINN prediction (dashed) vs exact solution (solid)", ("sans-serif", 22))?
    } else {
        root
    };
    for (panel, (t, pred, exact, err)) in root.split_evenly((2, 2)).iter().zip(curves) {
        let mut builder = ChartBuilder::on(panel);
        builder.margin(16);
        if labels {
            builder
                .caption(format!("t = {t:.2}, relative error {err:.4}"), ("sans-serif", 18))
                .x_label_area_size(32)
                .y_label_area_size(40);
        }
        let mut chart = builder.build_cartesian_2d(-1.0..1.0, -1.1..1.1)?;
        let mut mesh = chart.configure_mesh();
        mesh.light_line_style(WHITE.mix(0.0));
        if labels {
            mesh.x_desc("x").y_desc("u(x, t)");
        } else {
            mesh.x_labels(0).y_labels(0);
        }
        mesh.draw()?;
        chart.draw_series(LineSeries::new(xs.iter().copied().zip(exact.iter().copied()), BLUE.stroke_width(3)))?;
        let dashed = xs.iter().copied().zip(pred.iter().copied()).collect::<Vec<_>>();
        chart.draw_series(DashedLineSeries::new(dashed, 8, 6, RED.stroke_width(3)))?;
    }
    root.present()?;
    Ok(())
}

fn main() -> std::result::Result<(), BoxError> {
    let max_iterations = match std::env::var("PINN_ITERATIONS") {
        Ok(v) => v.parse::<usize>().map_err(|e| format!("PINN_ITERATIONS={v}: {e}"))?,
        Err(_) => MAX_ITERATIONS,
    };
    let data = training_data();
    let mut params = initial_parameters();
    let num_learnables: usize = params.arrays().iter().map(|a| a.numel()).sum();
    println!(
        "network: {NUM_LAYERS} fully connected layers of {NUM_NEURONS} (tanh), {num_learnables} learnables; \
         {NUM_COLLOCATION} collocation points, {} initial and boundary points",
        data.1.shape()[0]
    );

    // One accelerated function: the network, its first and second derivatives with respect to
    // the inputs, the residual, the loss, and the gradients of the loss (third order).
    let loss_fn = accelerate(model_loss);
    let start = Instant::now();
    let (loss0, _) = loss_fn.call((params.clone(), data.clone()))?;
    let first_call = start.elapsed();
    println!(
        "first call (trace, differentiate, optimize, compile): {:.2} s, loss {:.4}",
        first_call.as_secs_f64(),
        loss0.to_scalar::<f64>()?
    );

    let bar = ProgressBar::new(max_iterations as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} iterations  {msg}  [{elapsed_precise}]")?);
    let mut state = LbfgsState::default();
    let options = LbfgsOptions::default();
    let training = Instant::now();
    for _ in 0..max_iterations {
        params = lbfgsupdate(&params, |p| loss_fn.call((p.clone(), data.clone())), &mut state, &options)?;
        bar.inc(1);
        bar.set_message(format!("loss {:.3e}  gradient norm {:.2e}", state.loss, state.gradients_norm));
        if state.gradients_norm < GRADIENT_TOLERANCE || state.step_norm < STEP_TOLERANCE {
            break;
        }
    }
    bar.finish();
    let trained = training.elapsed();
    let per_iteration = trained / state.iteration.max(1) as u32;
    println!(
        "L-BFGS: {} iterations in {:.1} s, final loss {:.3e}, gradient norm {:.2e}, line search {:?}",
        state.iteration,
        trained.as_secs_f64(),
        state.loss,
        state.gradients_norm,
        state.line_search_status
    );

    // The same iterations from the trained state, accelerated and un-accelerated (the same
    // function with acceleration off): their line searches take the same steps.
    let eager = accelerate(model_loss);
    eager.set_enabled(false);
    let compared = 3;
    let time_iterations = |f: &AcceleratedFunction<(ParamTable, Data), (DlArray, ParamTable)>| -> Result<Duration> {
        let (mut s, mut p) = (state.clone(), params.clone());
        let start = Instant::now();
        for _ in 0..compared {
            p = lbfgsupdate(&p, |p| f.call((p.clone(), data.clone())), &mut s, &options)?;
        }
        Ok(start.elapsed() / compared)
    };
    let (fast, slow) = (time_iterations(&loss_fn)?, time_iterations(&eager)?);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "time per L-BFGS iteration: accelerated {:.1} ms, un-accelerated {:.1} ms ({:.1}x; {compared} iterations \
         from the trained state; training averaged {:.1} ms)",
        ms(fast),
        ms(slow),
        slow.as_secs_f64() / fast.as_secs_f64(),
        ms(per_iteration)
    );

    // Relative L2 errors against the exact solution.
    // 100 nodes resolve the integrands (the Newton iteration for the nodes loses accuracy past
    // about 150); a second rule of 80 nodes must agree, as a check on the quadrature.
    let (rule, check) = (gauss_hermite(100), gauss_hermite(80));
    let xs = linspace(-1.0, 1.0, NUM_TEST_X);
    let mut curves = Vec::new();
    println!();
    println!("|   t  | relative L2 error |");
    println!("|------|-------------------|");
    for &t in &TEST_TIMES {
        let pred = predict(&params, &xs, t)?;
        let exact: Vec<f64> = xs.iter().map(|&x| exact_solution(x, t, &rule)).collect();
        let disagreement =
            xs.iter().zip(&exact).map(|(&x, e)| (exact_solution(x, t, &check) - e).abs()).fold(0.0, f64::max);
        if disagreement > 1e-8 {
            return Err(format!("the quadrature rules disagree by {disagreement:e} at t = {t}").into());
        }
        let err = relative_l2(&pred, &exact);
        println!("| {t:.2} | {err:17.4} |");
        curves.push((t, pred, exact, err));
    }
    println!();

    let path = out::out_path("pinn_burgers.png")?;
    picture(&path, &xs, &curves, fonts::register_font())?;
    println!("wrote {}", out::shown(&path));
    let worst = curves.iter().map(|c| c.3).fold(0.0, f64::max);
    println!("max relative error: {worst:.3}");
    Ok(())
}
