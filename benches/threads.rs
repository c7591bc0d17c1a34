//! Thread scaling of one `AcceleratedFunction`: W1 (the seed Rosenbrock, per-call overhead) and
//! W2 at n = 1e5 (compute-bound), called from 1, 2, 4, ... threads at once for a fixed time.
//! Prints calls per second and the speed-up over one thread; the statistics must stay exact.
//! Run: `cargo bench --bench threads` (`THREADS=1,2,4,8,16` to choose the thread counts,
//! `SECONDS=1` for the time per measurement).

use cranegrad::prelude::*;
use ndarray::{s, Array1};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

fn extended_rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

/// A value-and-gradient function of one array.
type Loss = Arc<AcceleratedFunction<DlArray, (DlArray, DlArray)>>;

/// Calls per second of `af` on `x` from `threads` threads for `time`.
fn rate(
    af: &Arc<AcceleratedFunction<DlArray, (DlArray, DlArray)>>,
    x: &DlArray,
    threads: usize,
    time: Duration,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            // Each thread has its own copy of the data, as callers on different threads do: a
            // shared array's reference count would be one more cache line the threads fight over.
            let x = DlArray::from(x.extractdata::<f64>().expect("f64 input"));
            let (af, stop, calls) = (af.clone(), stop.clone(), calls.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    std::hint::black_box(af.call(x.clone()).expect("call"));
                    n += 1;
                }
                calls.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(time);
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    calls.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let counts: Vec<usize> = std::env::var("THREADS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 4]);
    let seconds: f64 = std::env::var("SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
    let time = Duration::from_secs_f64(seconds);
    println!("{} cores available", std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    println!("| workload | threads | calls/s | speed-up over 1 thread |");
    println!("|---|---|---|---|");
    let workloads: Vec<(&str, DlArray, Loss)> = vec![
        (
            "W1 rosenbrock [-1, 2]",
            DlArray::from(ndarray::array![-1.0, 2.0]),
            Arc::new(accelerate(|x: DlArray| rosenbrock(&x))),
        ),
        (
            "W2 ext. rosenbrock n=1e5",
            DlArray::from(Array1::from_shape_fn(100_000, |i| (i % 7) as f64 * 0.3 - 1.0)),
            Arc::new(accelerate(|x: DlArray| extended_rosenbrock(&x))),
        ),
    ];
    for (name, x, af) in workloads {
        af.call(x.clone()).expect("first call");
        let mut one = None;
        for &t in &counts {
            let r = rate(&af, &x, t, time);
            let base = *one.get_or_insert(r);
            println!("| {name} | {t} | {r:.0} | {:.2}x |", r / base);
        }
        // One miss (the first call), every other call a hit, counted exactly under concurrency.
        assert!(af.hit_rate() > 99.0 && af.hit_rate() < 100.0, "hit rate {}", af.hit_rate());
    }
}
