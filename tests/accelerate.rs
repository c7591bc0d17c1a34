//! `accelerate`: cache keys, statistics, eviction, clearing, enabled, check mode, failures,
//! nesting, threads, the IR dump.

use cranegrad::prelude::*;
use ndarray::{array, Array1};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
    let dydx = dlgradient(&y, x)?;
    Ok((y, dydx))
}

fn vec_of(a: &DlArray) -> Vec<f64> {
    a.extractdata::<f64>().unwrap().iter().copied().collect()
}

#[test]
fn seed_rosenbrock_through_accelerate_matches_dlfeval() {
    let af = accelerate(|x: DlArray| rosenbrock(&x));
    let x0 = DlArray::from(array![-1.0, 2.0]);
    for _ in 0..3 {
        let (f, g) = af.call(x0.clone()).unwrap();
        assert_eq!(f.to_scalar::<f64>().unwrap(), 104.0);
        assert_eq!(vec_of(&g), vec![396.0, 200.0]);
    }
    let (f, g) = af.call(DlArray::from(array![0.5, 0.25])).unwrap();
    assert_eq!(f.to_scalar::<f64>().unwrap(), 0.25);
    assert_eq!(vec_of(&g), vec![-1.0, 0.0]);
    assert!((af.hit_rate() - 75.0).abs() < 1e-12);
}

#[test]
fn no_user_code_runs_on_a_hit() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let af = accelerate(move |x: DlArray| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(x.exp().sum_all())
    });
    for i in 0..5 {
        let y = af.call(DlArray::from(array![i as f64, 1.0])).unwrap();
        assert!((y.to_scalar::<f64>().unwrap() - ((i as f64).exp() + 1f64.exp())).abs() < 1e-12);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(af.hit_rate(), 80.0);
}

#[test]
fn key_is_structure_shape_dtype_and_plain_values_never_array_values() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let af = accelerate(move |(x, scale, flag): (DlArray, f64, bool)| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(if flag { &x * scale } else { -&x })
    });
    let x = DlArray::from(array![1.0, 2.0]);
    af.call((x.clone(), 2.0, true)).unwrap();
    af.call((DlArray::from(array![5.0, 6.0]), 2.0, true)).unwrap(); // hit: values differ only
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    af.call((x.clone(), 3.0, true)).unwrap(); // plain value differs
    af.call((x.clone(), 3.0, false)).unwrap(); // bool differs
    af.call((DlArray::from(array![1.0, 2.0, 3.0]), 3.0, false)).unwrap(); // shape differs
    af.call((DlArray::from(array![1.0f32, 2.0]), 3.0, false)).unwrap(); // dtype differs
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    let y = af.call((DlArray::from(array![7.0, 8.0]), 3.0, true)).unwrap();
    assert_eq!(vec_of(&y), vec![21.0, 24.0]);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
}

#[test]
fn least_recently_used_entry_is_evicted_and_occupancy_follows() {
    let af = accelerate(|x: DlArray| Ok(x.sum_all()));
    assert_eq!(af.cache_size(), 50);
    af.set_cache_size(2);
    let of = |n: usize| DlArray::from(Array1::<f64>::ones(n));
    af.call(of(1)).unwrap();
    assert_eq!(af.occupancy(), 50.0);
    af.call(of(2)).unwrap();
    af.call(of(1)).unwrap(); // hit: 1 is now the most recent
    af.call(of(3)).unwrap(); // evicts 2
    assert_eq!(af.occupancy(), 100.0);
    af.call(of(1)).unwrap(); // still cached
    assert_eq!(af.hit_rate(), 40.0);
    af.call(of(2)).unwrap(); // was evicted: a miss
    assert!((af.hit_rate() - 100.0 * 2.0 / 6.0).abs() < 1e-9);
    af.clear_cache();
    assert_eq!(af.occupancy(), 0.0);
    assert_eq!(af.num_entries(), 0);
    assert_eq!(af.call(of(4)).unwrap().to_scalar::<f64>().unwrap(), 4.0);
}

#[test]
fn disabled_runs_the_function_with_the_same_results() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let af = accelerate(move |x: DlArray| {
        counter.fetch_add(1, Ordering::SeqCst);
        rosenbrock(&x)
    });
    let x0 = DlArray::from(array![-1.0, 2.0]);
    let accelerated = af.call(x0.clone()).unwrap();
    af.set_enabled(false);
    assert!(!af.enabled());
    let plain = af.call(x0.clone()).unwrap();
    let plain2 = af.call(x0.clone()).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(vec_of(&accelerated.1), vec_of(&plain.1));
    assert_eq!(vec_of(&plain2.0), vec![104.0]);
}

#[test]
fn check_mode_catches_value_dependent_control_flow() {
    // Rust control flow on input values is frozen into the trace: MATLAB's warning case.
    let af = accelerate(|x: DlArray| {
        let first = x.at(0).to_scalar::<f64>()?;
        Ok(if first > 0.0 { x.square() } else { -&x })
    });
    af.set_check_mode(CheckMode::Tolerance(1e-4));
    assert_eq!(af.check_mode(), CheckMode::Tolerance(1e-4));
    af.call(DlArray::from(array![1.0, 2.0])).unwrap();
    let frozen = af.call(DlArray::from(array![3.0, 4.0])).unwrap();
    assert_eq!(af.check_failures(), 0);
    assert_eq!(vec_of(&frozen), vec![9.0, 16.0]);
    let wrong = af.call(DlArray::from(array![-1.0, 2.0])).unwrap();
    assert_eq!(vec_of(&wrong), vec![1.0, 4.0], "the call returns the accelerated outputs, as MATLAB does");
    assert_eq!(af.check_failures(), 1);
}

#[test]
fn a_failed_trace_caches_nothing_and_leaves_the_function_usable() {
    let af = accelerate(|(x, fail): (DlArray, bool)| {
        if fail {
            return Ok(&x + &DlArray::from(array![1.0, 2.0, 3.0]));
        }
        Ok(x.sum_all())
    });
    let x = DlArray::from(array![1.0, 2.0]);
    let err = af.call((x.clone(), true)).unwrap_err();
    assert!(err.to_string().contains("add"), "{err}");
    assert_eq!(af.num_entries(), 0);
    assert_eq!(af.call((x.clone(), false)).unwrap().to_scalar::<f64>().unwrap(), 3.0);

    let panicky = accelerate(|x: DlArray| -> Result<DlArray> {
        if x.numel() == 3 {
            panic!("three is right out");
        }
        Ok(x.sum_all())
    });
    let err = panicky.call(DlArray::from(array![1.0, 2.0, 3.0])).unwrap_err();
    assert!(err.to_string().contains("three is right out"), "{err}");
    assert_eq!(panicky.num_entries(), 0);
    assert_eq!(panicky.call(DlArray::from(array![1.0, 2.0])).unwrap().to_scalar::<f64>().unwrap(), 3.0);
    assert_eq!(panicky.num_entries(), 1);
}

#[test]
fn callable_inside_dlfeval_and_differentiable_from_outside() {
    let af = accelerate(|x: DlArray| rosenbrock(&x));
    let x0 = DlArray::from(array![-1.0, 2.0]);
    let (f, g) = dlfeval(|x: DlArray| af.call(x), x0.clone()).unwrap();
    assert_eq!(f.to_scalar::<f64>().unwrap(), 104.0);
    assert_eq!(vec_of(&g), vec![396.0, 200.0]);
    // Differentiate the accelerated value from outside: d/dx of f equals the inner gradient.
    let outer = dlfeval(
        |x: DlArray| {
            let (f, _) = af.call(x.clone())?;
            dlgradient(&f, &x)
        },
        x0.clone(),
    )
    .unwrap();
    assert_eq!(vec_of(&outer), vec![396.0, 200.0]);
    // Second order through it: d/dx sum(grad^2).
    let hess = dlfeval(
        |x: DlArray| {
            let (_, g) = af.call(x.clone())?;
            dlgradient_with(
                &g.square().sum_all(),
                &x,
                GradOptions { enable_higher_derivatives: Some(true), ..Default::default() },
            )
        },
        x0,
    )
    .unwrap();
    // H = [[1200 x0^2 - 400 x1 + 2, -400 x0], [-400 x0, 200]] at (-1, 2): [[402, 400], [400, 200]]
    // d sum(g^2) = 2 H g = 2 [402*396 + 400*200, 400*396 + 200*200]
    assert_eq!(vec_of(&hess), vec![2.0 * (402.0 * 396.0 + 400.0 * 200.0), 2.0 * (400.0 * 396.0 + 200.0 * 200.0)]);
}

#[test]
fn one_instance_serves_eight_threads_with_mixed_shapes() {
    let af = accelerate(|x: DlArray| {
        let y = (x.sin() * &x).sum_all();
        let g = dlgradient(&y, &x)?;
        Ok((y, g))
    });
    let calls_per_thread = 40;
    std::thread::scope(|s| {
        for t in 0..8 {
            let af = af.clone();
            s.spawn(move || {
                for i in 0..calls_per_thread {
                    let n = 1 + (t + i) % 4;
                    let x = DlArray::from(Array1::from_shape_fn(n, |k| (k + t + i) as f64 * 0.1));
                    let (y, g) = af.call(x.clone()).unwrap();
                    let xs: Vec<f64> = vec_of(&x);
                    let expect_y: f64 = xs.iter().map(|v| v.sin() * v).sum();
                    assert!((y.to_scalar::<f64>().unwrap() - expect_y).abs() < 1e-12);
                    for (gi, v) in vec_of(&g).iter().zip(&xs) {
                        assert!((gi - (v.cos() * v + v.sin())).abs() < 1e-12);
                    }
                }
            });
        }
    });
    let total = 8.0 * calls_per_thread as f64;
    // Four signatures: at most four misses (a waiter on another thread's trace is a hit).
    let misses = total * (1.0 - af.hit_rate() / 100.0);
    assert!((misses - 4.0).abs() < 1e-6, "misses {misses}");
    assert_eq!((af.hits(), af.misses()), (total as u64 - 4, 4));
    assert_eq!(af.num_entries(), 4);
    // The per-entry hit counts (sharded per thread) add up to every hit.
    let dump = af.ir_dump();
    let per_entry: u64 =
        dump.lines().filter_map(|l| l.rsplit_once("   hits ").map(|(_, n)| n.trim().parse::<u64>().unwrap())).sum();
    assert_eq!(per_entry as f64, total - 4.0, "{dump}");
}

#[test]
fn hits_race_with_eviction_resizing_and_clearing() {
    let af = accelerate(|x: DlArray| Ok((&x * 2.0).sum_all()));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let calls = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (af, stop, calls) = (af.clone(), &stop, &calls);
            s.spawn(move || {
                let mut i = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let n = 1 + (t + i) % 6;
                    let y = af.call(DlArray::from(Array1::from_elem(n, 1.5))).unwrap();
                    assert_eq!(y.to_scalar::<f64>().unwrap(), 3.0 * n as f64);
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    i += 1;
                }
            });
        }
        let (af, stop, calls) = (af.clone(), &stop, &calls);
        s.spawn(move || {
            // At least 200 changes, and until the callers have made 400 calls between them.
            let mut k = 0;
            while k < 200 || calls.load(std::sync::atomic::Ordering::Relaxed) < 400 {
                k += 1;
                match k % 3 {
                    0 => af.clear_cache(),
                    1 => af.set_cache_size(1 + k % 4),
                    _ => af.set_cache_size(50),
                }
                std::thread::yield_now();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
    });
    // Every call was counted once, as a hit or a miss.
    let total = calls.load(std::sync::atomic::Ordering::Relaxed);
    assert!(total > 0);
    assert_eq!(af.hits() + af.misses(), total, "hits {} misses {}", af.hits(), af.misses());
    assert!(af.misses() >= 1 && af.num_entries() <= 6);
}

#[test]
fn ir_dump_shows_signature_hits_and_marked_backward_part() {
    let af = accelerate(|x: DlArray| rosenbrock(&x));
    let x0 = DlArray::from(array![-1.0, 2.0]);
    af.call(x0.clone()).unwrap();
    af.call(x0.clone()).unwrap();
    af.call(x0).unwrap();
    let dump = af.ir_dump();
    assert!(dump.contains("(in0: f64[2])"), "{dump}");
    assert!(dump.contains("hits 2"), "{dump}");
    assert!(dump.contains("-- backward: d %"), "{dump}");
    assert!(dump.contains(": f64[2]"), "{dump}");
    assert!(dump.lines().any(|l| l.trim_start().starts_with("outputs")), "{dump}");
    assert!(af.ir_dump_dot().starts_with("digraph"));
    let native = af.native_dump();
    assert!(native.contains("function") && !native.contains("interpreted"), "{native}");
    assert!(af.ir_dump_stage(DumpStage::Unoptimized).contains("input 0"));
}

#[test]
fn inside_dlfeval_an_accelerated_call_is_one_node_per_output_with_a_compiled_vjp() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let af = accelerate(move |x: DlArray| {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok((x.sin() * &x).sum_all())
    });
    let ir = make_ir(|x: DlArray| Ok(af.call(x)?.exp()), DlArray::from(array![1.0, 2.0])).unwrap();
    assert!(ir.contains("sin"), "inside an accelerated trace (make_ir traces like one) calls are inlined: {ir}");
    for k in 0..3 {
        let x0 = DlArray::from(array![0.5 + k as f64, 1.5]);
        let g = dlfeval(
            |x: DlArray| {
                let y = af.call(x.clone())?;
                dlgradient(&(y.square()), &x)
            },
            x0.clone(),
        )
        .unwrap();
        let xs = vec_of(&x0);
        let y: f64 = xs.iter().map(|v| v.sin() * v).sum();
        let expect: Vec<f64> = xs.iter().map(|v| 2.0 * y * (v.cos() * v + v.sin())).collect();
        for (a, b) in vec_of(&g).iter().zip(&expect) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }
    // make_ir ran it inline once; the forward entry traced it once, the backward function once:
    // the three dlfeval calls ran no user code beyond those traces.
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// A logger that keeps every record, for the retrace explanation test.
struct Recorder(std::sync::Mutex<Vec<String>>);

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        self.0.lock().unwrap().push(format!("{} {}", record.level(), record.args()));
    }
    fn flush(&self) {}
}

static RECORDER: Recorder = Recorder(std::sync::Mutex::new(Vec::new()));

#[test]
fn a_retrace_logs_which_input_differs_from_the_nearest_cached_signature() {
    let _ = log::set_logger(&RECORDER);
    log::set_max_level(log::LevelFilter::Debug);
    let af = accelerate(|(x, y, scale): (DlArray, DlArray, f64)| Ok((&x + &y) * scale));
    let two = DlArray::from(array![1.0, 2.0]);
    af.call((two.clone(), two.clone(), 1.0)).unwrap();
    af.call((two.clone(), DlArray::from(array![3.0]), 1.0)).unwrap();
    af.call((two.clone(), two.cast(DType::F32), 1.0)).unwrap();
    af.call((two.clone(), two.clone(), 2.5)).unwrap();
    let logs = RECORDER.0.lock().unwrap().join("\n");
    assert!(logs.contains("DEBUG") && logs.contains("input array 1 has shape [1], the cached one [2]"), "{logs}");
    assert!(logs.contains("input array 1 has dtype f32, the cached one f64"), "{logs}");
    assert!(logs.contains("a plain input is 2.5, the cached one 1.0"), "{logs}");
}

#[test]
fn call_ref_borrows_the_arguments_and_gives_what_call_gives() {
    let af = accelerate(|x: DlArray| rosenbrock(&x));
    let x0 = DlArray::from(ndarray::array![-1.0, 2.0]);
    let (f1, g1) = af.call_ref(&x0).unwrap();
    let (f2, g2) = af.call(x0.clone()).unwrap();
    assert_eq!((vec_of(&f1), vec_of(&g1)), (vec_of(&f2), vec_of(&g2)));
    assert_eq!((vec_of(&f1), vec_of(&g1)), (vec![104.0], vec![396.0, 200.0]));
    // The first call_ref was the miss; the call and this one are hits.
    af.call_ref(&x0).unwrap();
    assert!((af.hit_rate() - 200.0 / 3.0).abs() < 1e-9, "{}", af.hit_rate());
}
