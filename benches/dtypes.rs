//! W2 (the extended Rosenbrock value and gradient) in f32 against f64, over sizes: the time per
//! element of each accelerated call and their ratio. It shows where the f32 / f64 ratio of
//! `cargo bench --bench workloads` comes from. Both loops are the same 128-bit vector
//! instructions (four f32 lanes, two f64 lanes: Cranelift lowers no wider vectors on x86-64) and
//! are bound by their arithmetic, not by memory, so an f32 element costs half an f64 one at every
//! size, in the cache and out of it; the fixed cost of a call (`2 t32 - t64`, the pool's hand-off
//! and the outputs) puts the ratio of whole calls just above one half.
//!
//! Run: `cargo bench --bench dtypes` (`SIZES=250000,1000000` to choose the sizes). The sizes are
//! measured in five interleaved rounds, each row the median of its rounds.

#[allow(dead_code)]
#[path = "workloads/models.rs"]
mod models;

use cranegrad::prelude::*;
use models::{data, extended_rosenbrock};
use std::time::{Duration, Instant};

/// The median time of one call of `f`, over calls for about `budget`.
fn median_call(budget: Duration, f: &mut dyn FnMut()) -> Duration {
    let mut samples = Vec::new();
    let deadline = Instant::now() + budget;
    while samples.len() < 5 || Instant::now() < deadline {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<()> {
    let sizes: Vec<usize> = std::env::var("SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![250_000, 500_000, 1_000_000, 2_000_000, 4_000_000]);
    let mut cases = Vec::new();
    for &n in &sizes {
        let x = data(n, 7);
        let x64 = DlArray::from(ndarray::Array1::from_vec(x.clone()));
        let x32 = DlArray::from(ndarray::Array1::from_vec(x.iter().map(|&v| v as f32).collect::<Vec<_>>()));
        let (f64_call, f32_call) =
            (accelerate(|x: DlArray| extended_rosenbrock(&x)), accelerate(|x: DlArray| extended_rosenbrock(&x)));
        f64_call.call(x64.clone())?;
        f32_call.call(x32.clone())?;
        cases.push((n, f64_call, x64, f32_call, x32));
    }
    let rounds = 5;
    let mut times = vec![(Vec::new(), Vec::new()); cases.len()];
    for _ in 0..rounds {
        for (case, (t64, t32)) in cases.iter().zip(&mut times) {
            let (_, f64_call, x64, f32_call, x32) = case;
            t64.push(median_call(Duration::from_millis(200), &mut || {
                f64_call.call(x64.clone()).expect("the f64 call ran once already");
            }));
            t32.push(median_call(Duration::from_millis(200), &mut || {
                f32_call.call(x32.clone()).expect("the f32 call ran once already");
            }));
        }
    }
    println!("| n | f64 call | f32 call | f64 ns an element | f32 ns an element | f32 / f64 | 2 t32 - t64 |");
    println!("|---|---|---|---|---|---|---|");
    for (case, (t64, t32)) in cases.iter().zip(&mut times) {
        let n = case.0;
        t64.sort();
        t32.sort();
        let (a, b) = (t64[rounds / 2].as_secs_f64(), t32[rounds / 2].as_secs_f64());
        println!(
            "| {n:e} | {:.1} us | {:.1} us | {:.3} | {:.3} | {:.3}x | {:.1} us |",
            a * 1e6,
            b * 1e6,
            a * 1e9 / n as f64,
            b * 1e9 / n as f64,
            b / a,
            (2.0 * b - a) * 1e6
        );
    }
    Ok(())
}
