//! The first call of an accelerated function, phase by phase (trace, differentiate, optimize,
//! compile, run; from `AcceleratedFunction::build_reports`):
//!
//! 1. W2 (extended Rosenbrock, value and gradient) at n = 1e6 and 1e7, beside two hand-written
//!    passes over the data (the budget: 10 ms at 1e6, 100 ms at 1e7, plus two passes);
//! 2. a two-layer recurrent loss on 14-wide vectors unrolled over 64 to 1,024 time steps, with
//!    its gradient (best of 5, in five rounds that each call every length once): graph sizes,
//!    kernels and seconds per phase, the growth per doubling and the time per step.
//!
//! Run: `cargo bench --bench first_call` (`STEPS=64,128` to choose the unrolled lengths).

#[path = "support/unrolled_loss.rs"]
mod unrolled_loss;

use cranegrad::prelude::*;
use ndarray::{s, Array1};
use std::hint::black_box;
use std::time::{Duration, Instant};
use unrolled_loss::{recurrent_inputs, recurrent_loss};

fn extended_rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

/// Two passes over `x` by hand: the value, then the gradient (what a first call must at least
/// read and write).
fn two_passes(x: &[f64], g: &mut [f64]) -> f64 {
    let mut y = 0.0;
    for w in x.windows(2) {
        let r = w[1] - w[0] * w[0];
        y += 100.0 * r * r + (1.0 - w[0]) * (1.0 - w[0]);
    }
    g.fill(0.0);
    for (i, w) in x.windows(2).enumerate() {
        let r = w[1] - w[0] * w[0];
        g[i] += -400.0 * w[0] * r - 2.0 * (1.0 - w[0]);
        g[i + 1] += 200.0 * r;
    }
    y
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<()> {
    println!("| workload | first call | trace | differentiate | optimize | compile | run | budget | nodes traced / optimized | kernels |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for n in [1_000_000usize, 10_000_000] {
        let x0: Vec<f64> = (0..n).map(|i| (i % 7) as f64 * 0.3 - 1.0).collect();
        let mut g = vec![0.0; n];
        let passes = median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    black_box(two_passes(black_box(&x0), &mut g));
                    t.elapsed()
                })
                .collect(),
        );
        let x = DlArray::from(Array1::from_vec(x0));
        let mut best = None;
        for _ in 0..5 {
            let af = accelerate(|x: DlArray| extended_rosenbrock(&x));
            let t = Instant::now();
            black_box(af.call(x.clone())?);
            let first = t.elapsed();
            let report = af.build_reports().remove(0);
            if best.as_ref().is_none_or(|(d, _)| first < *d) {
                best = Some((first, report));
            }
        }
        let (first, r) = best.expect("five runs");
        let budget = Duration::from_millis(if n == 1_000_000 { 10 } else { 100 }) + passes;
        println!(
            "| W2 n = {n:e} (best of 5) | {} | {} | {} | {} | {} | {} | {} (two passes {}) | {} / {} | {} |",
            ms(first),
            ms(r.trace),
            ms(r.differentiate),
            ms(r.optimize),
            ms(r.compile),
            ms(r.run),
            ms(budget),
            ms(passes),
            r.traced_nodes,
            r.optimized_nodes,
            r.kernels
        );
    }
    let steps: Vec<usize> = std::env::var("STEPS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![64, 128, 256, 512, 1024]);
    // Five rounds, each calling every length once (a new accelerated function each time), so
    // that the machine's drift during the run falls on every length alike; each length's row is
    // its best call.
    let mut best: Vec<Option<(Duration, BuildReport)>> = steps.iter().map(|_| None).collect();
    for _ in 0..5 {
        for (&steps, best) in steps.iter().zip(&mut best) {
            let (p, xs) = recurrent_inputs(steps);
            let af = accelerate(move |(p, xs): (Vec<DlArray>, DlArray)| {
                let l = recurrent_loss(&p, &xs, steps);
                let g = dlgradient(&l, &p)?;
                Ok((l, g))
            });
            let t = Instant::now();
            black_box(af.call((p, xs))?);
            let first = t.elapsed();
            let report = af.build_reports().remove(0);
            if best.as_ref().is_none_or(|(d, _)| first < *d) {
                *best = Some((first, report));
            }
        }
    }
    let mut previous: Option<Duration> = None;
    for (steps, best) in steps.into_iter().zip(best) {
        let (first, r) = best.expect("five rounds");
        let growth = previous.map(|d| format!(", {:.2}x the previous", first.as_secs_f64() / d.as_secs_f64()));
        previous = Some(first);
        println!(
            "| recurrent loss, {steps} steps (best of 5) | {}{} ({:.1} us a step) | {} | {} | {} | {} | {} | - | {} / {} | {} ({} compiled functions) |",
            ms(first),
            growth.unwrap_or_default(),
            first.as_secs_f64() * 1e6 / steps as f64,
            ms(r.trace),
            ms(r.differentiate),
            ms(r.optimize),
            ms(r.compile),
            ms(r.run),
            r.traced_nodes,
            r.optimized_nodes,
            r.kernels,
            r.functions
        );
    }
    Ok(())
}
