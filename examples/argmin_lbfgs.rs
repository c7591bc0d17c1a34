//! argmin's L-BFGS on native code: the extended Rosenbrock function at n = 10,000, from
//! x = -1.2 everywhere, with a More-Thuente line search. The value and gradient come from one
//! accelerated function (traced and compiled on the first call); `cranegrad::argmin` makes it
//! an argmin problem whose cost and gradient at one point cost one native call. argmin's
//! terminal observer (`argmin-observer-slog`) logs the progress every 10 iterations; at the
//! end the example prints the iterations, the evaluations, the time per evaluation accelerated
//! and un-accelerated, and the native calls per iteration.
//!
//! ```text
//! cargo run --release --features argmin --example argmin_lbfgs
//! ```

use ::argmin::core::observers::ObserverMode;
use ::argmin::core::{Executor, State, TerminationStatus};
use ::argmin::solver::linesearch::MoreThuenteLineSearch;
use ::argmin::solver::quasinewton::LBFGS;
use argmin_observer_slog::SlogLogger;
use cranegrad::argmin::ArgminProblem;
use cranegrad::prelude::*;
use ndarray::{s, Array1};
use std::time::{Duration, Instant};

const N: usize = 10_000;
/// L-BFGS history length.
const HISTORY: usize = 10;
/// More-Thuente's sufficient decrease constant (argmin's default).
const C1: f64 = 1e-4;
/// More-Thuente's curvature constant. With argmin's default 0.9, L-BFGS from x = -1.2 ends in
/// the extended Rosenbrock function's other local minimum, near x_0 = -1 (f = 3.987); a
/// stricter curvature condition (0.7 or less, here 0.5) keeps it on the way to x = 1.
const C2: f64 = 0.5;

/// `sum(100 (x[1:] - x[:-1]^2)^2 + (1 - x[:-1])^2)` and its gradient.
fn extended_rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

/// The median time of one call of `f` over `reps` calls (after one warm-up call).
fn median_time(reps: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    f()?;
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[reps / 2])
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let af = accelerate(|x: DlArray| extended_rosenbrock(&x));
    let x0 = vec![-1.2; N];
    println!(
        "extended Rosenbrock, n = {N}, from x = -1.2; argmin L-BFGS (history {HISTORY}), More-Thuente line search (c1 = {C1}, c2 = {C2})"
    );

    let line_search = MoreThuenteLineSearch::new().with_c(C1, C2)?;
    let solver = LBFGS::new(line_search, HISTORY).with_tolerance_grad(1e-10)?;
    let start = Instant::now();
    let result = Executor::new(ArgminProblem::new(af.clone()), solver)
        .configure(|state| state.param(x0.clone()).max_iters(100_000))
        .add_observer(SlogLogger::term(), ObserverMode::Every(10))
        .run()?;
    let elapsed = start.elapsed();

    let state = &result.state;
    let iterations = state.get_iter();
    let counts = &result.problem.counts;
    let count = |key: &str| counts.get(key).copied().unwrap_or(0);
    let (costs, gradients) = (count("cost_count"), count("gradient_count"));
    let problem = result.problem.problem.as_ref().ok_or("argmin kept the problem")?;
    let x = state.get_best_param().ok_or("no best parameters")?;
    let f = state.get_best_cost();
    let worst = x.iter().map(|v| (v - 1.0).abs()).fold(0.0, f64::max);
    if let TerminationStatus::Terminated(reason) = state.get_termination_status() {
        println!("argmin stopped: {reason}");
    }
    println!("iterations: {iterations}");
    println!(
        "evaluations asked by argmin: {costs} costs, {gradients} gradients; native calls: {} ({} served from the last call)",
        problem.calls(),
        problem.cache_hits()
    );
    println!("native calls per iteration: {:.2}", problem.calls() as f64 / iterations.max(1) as f64);
    println!("solve time: {:.3} s; max |x_i - 1| = {worst:.1e}", elapsed.as_secs_f64());

    // One value-and-gradient evaluation at x0, accelerated (the compiled code) and
    // un-accelerated (the same function under dlfeval).
    let x0 = DlArray::from(Array1::from_vec(x0));
    let accelerated = median_time(201, || af.call(x0.clone()).map(drop))?;
    let eager = median_time(21, || dlfeval(|x: DlArray| extended_rosenbrock(&x), x0.clone()).map(drop))?;
    println!(
        "time per evaluation: accelerated {:.1} us, un-accelerated {:.1} us ({:.1}x)",
        accelerated.as_secs_f64() * 1e6,
        eager.as_secs_f64() * 1e6,
        eager.as_secs_f64() / accelerated.as_secs_f64()
    );
    if !(f < 1e-10 && worst < 1e-5) {
        return Err(
            format!("no minimum: f = {f:.3e}, max |x_i - 1| = {worst:.1e} after {iterations} iterations").into()
        );
    }
    println!("minimum found: f = {f:.3e} after {iterations} iterations");
    Ok(())
}
