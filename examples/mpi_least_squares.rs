//! Nonlinear least squares over MPI: a logistic curve fitted to 1,000,000 observations split
//! across the ranks, by L-BFGS on a data-parallel, accelerated loss and gradient.
//!
//! ```text
//! cargo build --release --features mpi --example mpi_least_squares
//! mpirun -n 4 target/release/examples/mpi_least_squares
//! ```
//!
//! The data set (the same for any number of ranks): observation `i` (0 <= i < 1,000,000) has
//! the features `x_i = (1, u(i, 1), ..., u(i, 7))` and the response
//! `y_i = sigmoid(x_i . w*) + 0.05 u(i, 8)`, with `w*_j = (-1)^j (1 + j) / 8` and `u(i, k)` a
//! uniform number in `[-1, 1)` from a SplitMix64 hash of `(i, k)`. Rank `r` of `P` generates
//! and holds the observations `[r N / P, (r + 1) N / P)` only.
//!
//! The loss is `L(w) = sum_i (sigmoid(x_i . w) - y_i)^2 / (2 N)`: each rank's accelerated
//! function returns its shard's part of the sum and its gradient, and `DataParallel` adds them
//! over the ranks (in rank order: every rank gets the same bits), so `lbfgsupdate` on every
//! rank takes the same step from `w = 0`. Rank 0 then evaluates the whole data set with the
//! same accelerated function in one process, at the start point, and prints the agreement
//! `E = max(|L_P - L_1| / |L_1|, max_j |g_P,j - g_1,j| / max_j |g_1,j|)` in its last line:
//! `ranks P: loss L after K iterations, agreement with one process E`.

use cranegrad::mpi::{allreduce_sum, rsmpi, rsmpi::traits::*, DataParallel};
use cranegrad::prelude::*;
use ndarray::{Array1, Array2};
use std::time::Instant;

/// Observations in all.
const N: usize = 1_000_000;
/// Features per observation, the constant 1 included.
const D: usize = 8;
/// L-BFGS stops when the gradient's 2-norm falls below this, or after `MAX_ITERATIONS`.
const GRADIENT_TOLERANCE: f64 = 1e-10;
const MAX_ITERATIONS: usize = 200;

/// SplitMix64's output function.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in `[-1, 1)` for observation `i` and stream `k`.
fn u(i: usize, k: usize) -> f64 {
    let bits = splitmix64((i as u64) << 4 | k as u64) >> 11;
    bits as f64 / (1u64 << 52) as f64 - 1.0
}

/// The true parameters.
fn w_true() -> Vec<f64> {
    (0..D).map(|j| if j % 2 == 0 { 1.0 } else { -1.0 } * (1 + j) as f64 / D as f64).collect()
}

/// The observations `[lo, hi)`: features `[hi - lo, D]` and responses `[hi - lo]`.
fn observations(lo: usize, hi: usize) -> (DlArray, DlArray) {
    let w = w_true();
    let x = Array2::from_shape_fn((hi - lo, D), |(i, j)| if j == 0 { 1.0 } else { u(lo + i, j) });
    let y = Array1::from_shape_fn(hi - lo, |i| {
        let z: f64 = x.row(i).iter().zip(&w).map(|(a, b)| a * b).sum();
        1.0 / (1.0 + (-z).exp()) + 0.05 * u(lo + i, D)
    });
    (DlArray::from(x), DlArray::from(y))
}

/// A shard's part of the loss, `sum (sigmoid(x w) - y)^2 / (2 N)`, and its gradient.
fn loss_and_gradient() -> AcceleratedFunction<(DlArray, DlArray, DlArray), (DlArray, DlArray)> {
    accelerate(|(w, x, y): (DlArray, DlArray, DlArray)| {
        let r = x.matmul(&w).sigmoid() - &y;
        let loss = r.square().sum_all() * (0.5 / N as f64);
        let g = dlgradient(&loss, &w)?;
        Ok((loss, g))
    })
}

/// The relative difference of two results: the loss's, and the gradient's largest difference
/// relative to its largest component.
fn agreement((l, g): &(DlArray, DlArray), (l1, g1): &(DlArray, DlArray)) -> Result<f64> {
    let (l, l1) = (l.to_scalar::<f64>()?, l1.to_scalar::<f64>()?);
    let (g, g1) = (g.extractdata::<f64>()?, g1.extractdata::<f64>()?);
    let scale = g1.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let dg = g.iter().zip(&g1).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    Ok(((l - l1).abs() / l1.abs()).max(dg / scale))
}

fn main() -> Result<()> {
    let universe = rsmpi::initialize().ok_or_else(|| Error::Argument {
        op: "mpi_least_squares".into(),
        detail: "MPI was initialized already".into(),
    })?;
    let world = universe.world();
    let (rank, size) = (world.rank() as usize, world.size() as usize);
    let say = |line: String| {
        if rank == 0 {
            println!("{line}");
        }
    };

    let started = Instant::now();
    let (lo, hi) = (rank * N / size, (rank + 1) * N / size);
    let (x, y) = observations(lo, hi);
    world.barrier();
    say(format!(
        "data: {N} observations x {D} features over {size} ranks ({} to {} a rank), generated in {:.2} s",
        N / size,
        N.div_ceil(size),
        started.elapsed().as_secs_f64()
    ));

    let dp = DataParallel::new(loss_and_gradient(), world.duplicate());
    let w0 = DlArray::from(Array1::<f64>::zeros(D));
    let first = Instant::now();
    let at_start = dp.call((w0.clone(), x.clone(), y.clone()))?;
    say(format!("first call (trace, compile, run, sum): {:.1} ms", first.elapsed().as_secs_f64() * 1e3));

    // L-BFGS on every rank, from the same start, with the same summed losses and gradients.
    let evaluations = std::cell::Cell::new(0usize);
    let loss = |w: &DlArray| {
        evaluations.set(evaluations.get() + 1);
        dp.call((w.clone(), x.clone(), y.clone()))
    };
    let mut state = LbfgsState::default();
    let mut w = w0.clone();
    world.barrier();
    let fit = Instant::now();
    while state.iteration == 0 || (state.iteration < MAX_ITERATIONS && state.gradients_norm >= GRADIENT_TOLERANCE) {
        w = lbfgsupdate(&w, loss, &mut state, &LbfgsOptions::default())?;
        if state.step_norm == 0.0 {
            break; // No step lowered the loss: as far as rounding allows.
        }
    }
    let seconds = fit.elapsed().as_secs_f64();
    let k = state.iteration;
    say(format!(
        "L-BFGS: {k} iterations, {} loss evaluations in {seconds:.3} s: {:.2} ms per iteration, {:.2} ms per \
         evaluation (gradient norm {:.1e})",
        evaluations.get(),
        seconds * 1e3 / k as f64,
        seconds * 1e3 / evaluations.get() as f64,
        state.gradients_norm
    ));
    let fitted = w.extractdata::<f64>()?;
    let error = fitted.iter().zip(w_true()).fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    say(format!("fitted parameters {:.4}; largest difference from w* {error:.1e}", fitted));

    // What the sum over the ranks costs by itself: the agreement and the exchange of the loss
    // and gradient (9 f64).
    let reps = 200;
    world.barrier();
    let timer = Instant::now();
    for _ in 0..reps {
        allreduce_sum(&at_start, dp.communicator())?;
    }
    say(format!(
        "allreduce_sum of the loss and gradient: {:.1} us a call",
        timer.elapsed().as_secs_f64() * 1e6 / reps as f64
    ));

    if rank == 0 {
        // The whole data set in this process, through the same accelerated function.
        let (x1, y1) = observations(0, N);
        let one = dp.function().call((w0, x1, y1))?;
        let e = agreement(&at_start, &one)?;
        println!("ranks {size}: loss {:.12e} after {k} iterations, agreement with one process {e:.1e}", state.loss);
        if e.is_nan() || e > 1e-12 {
            return Err(Error::Argument {
                op: "mpi_least_squares".into(),
                detail: format!("the ranks' sums differ from one process's by {e:e}, more than 1e-12"),
            });
        }
    }
    Ok(())
}
