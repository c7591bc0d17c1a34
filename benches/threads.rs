//! Thread scaling of one `AcceleratedFunction`: W1 (the seed Rosenbrock, per-call overhead) and
//! W2 at n = 1e5 (compute-bound), called from 1, 2, 4, ... threads at once for a fixed time.
//! Prints calls per second and the speed-up over one thread; the statistics must stay exact.
//! W1 also runs with every thread sharing one input array: cloning it into `af.call` writes its
//! reference count (one cache line the threads fight over), `af.call_ref(&x)` writes none.
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

/// How the threads get their input.
#[derive(Clone, Copy, PartialEq)]
enum Input {
    /// Each thread its own copy, passed by value (`af.call(x.clone())`).
    OwnCopy,
    /// One array shared by all, a clone of it passed by value (`af.call(shared.clone())`).
    SharedClone,
    /// One array shared by all, borrowed (`af.call_ref(&shared)`).
    SharedRef,
}

/// Calls per second of `af` on `x` from `threads` threads for `time`.
fn rate(af: &Loss, x: &DlArray, input: Input, threads: usize, time: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            // An own copy of the data, or the one shared array.
            let x = match input {
                Input::OwnCopy => DlArray::from(x.extractdata::<f64>().expect("f64 input")),
                Input::SharedClone | Input::SharedRef => x.clone(),
            };
            let (af, stop, calls) = (af.clone(), stop.clone(), calls.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let out = match input {
                        Input::SharedRef => af.call_ref(&x),
                        Input::OwnCopy | Input::SharedClone => af.call(x.clone()),
                    };
                    std::hint::black_box(out.expect("call"));
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
    let w1: Loss = Arc::new(accelerate(|x: DlArray| rosenbrock(&x)));
    let x1 = DlArray::from(ndarray::array![-1.0, 2.0]);
    let workloads: Vec<(&str, DlArray, Loss, Input)> = vec![
        ("W1 rosenbrock [-1, 2]", x1.clone(), w1.clone(), Input::OwnCopy),
        ("W1, one shared input, af.call(x.clone())", x1.clone(), w1.clone(), Input::SharedClone),
        ("W1, one shared input, af.call_ref(&x)", x1, w1, Input::SharedRef),
        (
            "W2 ext. rosenbrock n=1e5",
            DlArray::from(Array1::from_shape_fn(100_000, |i| (i % 7) as f64 * 0.3 - 1.0)),
            Arc::new(accelerate(|x: DlArray| extended_rosenbrock(&x))),
            Input::OwnCopy,
        ),
    ];
    for (name, x, af, input) in workloads {
        af.call(x.clone()).expect("first call");
        let mut one = None;
        for &t in &counts {
            let r = rate(&af, &x, input, t, time);
            let base = *one.get_or_insert(r);
            println!("| {name} | {t} | {r:.0} | {:.2}x |", r / base);
        }
        // One miss (the first call), every other call a hit, counted exactly under concurrency.
        assert!(af.hit_rate() > 99.0 && af.hit_rate() < 100.0, "hit rate {}", af.hit_rate());
    }
}
