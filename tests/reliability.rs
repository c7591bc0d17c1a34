//! Reliability through the public API: every line of docs/API.md section 3's error contract has its
//! own test; sizes that cannot exist or cannot be allocated are errors; faults in user code
//! (a panic or an `Err` on the first call, in a check-mode re-run, in a nested accelerated
//! call) leave the caches consistent and the function usable; memory stays bounded across many
//! signatures and cache clears.

mod common;

use common::rss_kib;

use cranegrad::prelude::*;
use ndarray::{array, Array1, ArrayD, IxDyn};
use num_complex::Complex64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn v(values: &[f64]) -> DlArray {
    DlArray::from(Array1::from(values.to_vec()))
}

#[track_caller]
fn assert_mentions(e: &Error, parts: &[&str]) {
    let text = e.to_string();
    for p in parts {
        assert!(text.contains(p), "{text:?} should mention {p:?}");
    }
}

fn quadratic(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = x.square().sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

// ----- docs/API.md section 3, line by line -----

#[test]
fn contract_dlgradient_outside_any_trace_is_an_err() {
    let x = v(&[1.0]);
    assert_mentions(&dlgradient(&x.sum_all(), &x).unwrap_err(), &["outside dlfeval"]);
}

#[test]
fn contract_y_with_more_than_one_element_is_an_err() {
    let e = dlfeval(|x: DlArray| dlgradient(&x, &x), v(&[1.0, 2.0])).unwrap_err();
    assert_mentions(&e, &["scalar", "[2]"]);
    let af = accelerate(|x: DlArray| dlgradient(&x, &x));
    assert_mentions(&af.call(v(&[1.0, 2.0])).unwrap_err(), &["scalar", "[2]"]);
}

#[test]
fn contract_a_complex_y_is_an_err() {
    let e = dlfeval(|x: DlArray| dlgradient(&(&x * Complex64::new(0.0, 1.0)).sum_all(), &x), v(&[1.0])).unwrap_err();
    assert_mentions(&e, &["real"]);
}

#[test]
fn contract_y_not_traced_is_an_err() {
    // A constant made inside the call depends on no input: MATLAB's "value to differentiate
    // is not traced", not a silent zero gradient.
    let e = dlfeval(|x: DlArray| dlgradient(&DlArray::scalar(1.0), &x), v(&[1.0, 2.0])).unwrap_err();
    assert_mentions(&e, &["not traced"]);
    let e = dlfeval(|x: DlArray| dlgradient(&(DlArray::scalar(1.0) * 2.0 + 1.0), &x), v(&[1.0])).unwrap_err();
    assert_mentions(&e, &["not traced"]);
    let af = accelerate(|x: DlArray| dlgradient(&DlArray::scalar(1.0), &x));
    assert_mentions(&af.call(v(&[1.0])).unwrap_err(), &["not traced"]);
    assert_eq!(af.occupancy(), 0.0, "a failed trace caches nothing");
    // An array from outside the call is not traced either.
    let outside = DlArray::scalar(3.0);
    let e = dlfeval(|x: DlArray| dlgradient(&(&outside * 2.0), &x), v(&[1.0])).unwrap_err();
    assert_mentions(&e, &["not traced"]);
}

#[test]
fn contract_a_constant_made_inside_can_still_be_a_variable() {
    // y depends on the variable itself, so it is traced.
    let g = dlfeval(
        |x: DlArray| {
            let c = DlArray::scalar(3.0);
            dlgradient(&(&c * &c + x.sum_all()), &c)
        },
        v(&[1.0]),
    )
    .unwrap();
    assert_eq!(g.to_scalar::<f64>().unwrap(), 6.0);
}

#[test]
fn contract_a_variable_y_does_not_depend_on_gets_zeros() {
    let (ga, gb) =
        dlfeval(|(a, b): (DlArray, DlArray)| dlgradient(&a.square().sum_all(), (&a, &b)), (v(&[2.0]), v(&[5.0, 6.0])))
            .unwrap();
    assert_eq!(ga.extractdata::<f64>().unwrap(), ArrayD::from_elem(IxDyn(&[1]), 4.0));
    assert_eq!(gb.extractdata::<f64>().unwrap(), ArrayD::<f64>::zeros(IxDyn(&[2])));
}

#[test]
fn contract_incompatible_shapes_inside_dlfeval_name_the_op_and_shapes() {
    let e = dlfeval(|(a, b): (DlArray, DlArray)| Ok(&a * &b), (v(&[1.0, 2.0]), v(&[1.0, 2.0, 3.0]))).unwrap_err();
    assert_mentions(&e, &["mul", "[2]", "[3]"]);
}

#[test]
fn contract_incompatible_shapes_inside_an_accelerated_call_name_the_op_and_shapes() {
    let af = accelerate(|(a, b): (DlArray, DlArray)| Ok((&a - &b).sum_all()));
    let e = af.call((v(&[1.0, 2.0]), v(&[1.0, 2.0, 3.0]))).unwrap_err();
    assert_mentions(&e, &["sub", "[2]", "[3]"]);
    assert_eq!(af.occupancy(), 0.0);
    // The function stays usable for arguments that fit.
    let y = af.call((v(&[1.0, 2.0]), v(&[0.5, 0.5]))).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 2.0);
}

#[test]
fn contract_a_failed_op_is_carried_to_dlgradient_dlfeval_and_call() {
    let bad = |(a, b): (DlArray, DlArray)| -> Result<DlArray> {
        let _dropped = &a + &b; // fails, and the closure ignores it
        Ok(a.sum_all())
    };
    let args = (v(&[1.0, 2.0]), v(&[1.0, 2.0, 3.0]));
    assert_mentions(&dlfeval(bad, args.clone()).unwrap_err(), &["add", "[2]", "[3]"]);
    assert_mentions(&accelerate(bad).call(args.clone()).unwrap_err(), &["add", "[2]", "[3]"]);
    let e = dlfeval(
        |(a, b): (DlArray, DlArray)| {
            let _dropped = &a + &b;
            dlgradient(&a.sum_all(), &a)
        },
        args,
    )
    .unwrap_err();
    assert_mentions(&e, &["add"]);
}

#[test]
fn contract_results_come_back_with_no_trace() {
    let (y, g) = dlfeval(|x: DlArray| quadratic(&x), v(&[1.0, 2.0])).unwrap();
    assert!(!y.is_traced() && !g.is_traced());
    let (y, g) = accelerate(|x: DlArray| quadratic(&x)).call(v(&[1.0, 2.0])).unwrap();
    assert!(!y.is_traced() && !g.is_traced());
}

#[test]
fn contract_higher_derivatives_default_on_inside_accelerate_off_under_dlfeval() {
    let second = |x: DlArray| -> Result<DlArray> {
        let g = dlgradient(&x.powf(3.0).sum_all(), &x)?;
        dlgradient(&g.sum_all(), &x)
    };
    // Inside an accelerated function the gradient is traced: d/dx sum(3x^2) = 6x.
    let h = accelerate(second).call(v(&[2.0])).unwrap();
    assert_eq!(h.to_scalar::<f64>().unwrap(), 12.0);
    // Under dlfeval it is not, so differentiating it again is "not traced".
    assert_mentions(&dlfeval(second, v(&[2.0])).unwrap_err(), &["not traced"]);
}

#[test]
fn contract_allow_complex_false_refuses_a_complex_variable() {
    let options = GradOptions { allow_complex: false, ..GradOptions::default() };
    let z = DlArray::from(array![Complex64::new(1.0, 2.0)]);
    let e = dlfeval(|z: DlArray| dlgradient_with(&z.abs().sum_all(), &z, options), z).unwrap_err();
    assert_mentions(&e, &["allow_complex"]);
}

// ----- sizes -----

#[test]
fn a_result_too_large_for_memory_is_an_err_naming_the_op() {
    // 2^24 x 2^24 doubles (2 PiB): the allocator refuses it; no abort.
    let n = 1usize << 24;
    let a = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[n, 1])));
    let b = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[1, n])));
    let e = (&a + &b).extractdata::<f64>().unwrap_err();
    assert_mentions(&e, &["add", "16777216"]);
    let e = dlfeval(|(a, b): (DlArray, DlArray)| Ok((&a * &b).sum_all()), (a.clone(), b.clone())).unwrap_err();
    assert_mentions(&e, &["mul"]);
    let af = accelerate(|(a, b): (DlArray, DlArray)| Ok((&a * &b).sum_all()));
    assert_mentions(&af.call((a, b)).unwrap_err(), &["mul"]);
}

#[test]
fn a_shape_whose_size_overflows_is_an_err() {
    let big = 1usize << 40;
    let empty = |shape: &[usize]| DlArray::from(ArrayD::<f64>::from_shape_vec(IxDyn(shape), vec![]).unwrap());
    let a = empty(&[big, 0, 1]);
    let b = empty(&[1, 0, big]);
    let e = (&a + &b).extractdata::<f64>().unwrap_err();
    assert_mentions(&e, &["add", "too large"]);
    let e = empty(&[0]).reshape(&[usize::MAX, 2, 0]).extractdata::<f64>();
    assert_mentions(&e.unwrap_err(), &["reshape"]);
}

// ----- faults in user code -----

#[test]
fn a_panic_on_the_first_call_caches_nothing_and_the_next_call_works() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let af = accelerate(move |x: DlArray| {
        if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("first call fails");
        }
        quadratic(&x)
    });
    assert_mentions(&af.call(v(&[1.0, 2.0])).unwrap_err(), &["first call fails"]);
    assert_eq!(af.occupancy(), 0.0);
    let (y, _) = af.call(v(&[1.0, 2.0])).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 5.0);
    let (y, g) = af.call(v(&[3.0, 2.0])).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 13.0);
    assert_eq!(g.extractdata::<f64>().unwrap().into_raw_vec_and_offset().0, vec![6.0, 4.0]);
    assert_eq!(af.hit_rate(), 100.0 / 3.0);
}

#[test]
fn an_err_on_the_first_call_caches_nothing_and_the_next_call_works() {
    let af = accelerate(|(x, fail): (DlArray, bool)| {
        if fail {
            return Err(Error::Gradient("the user's own error".into()));
        }
        quadratic(&x)
    });
    assert_mentions(&af.call((v(&[1.0]), true)).unwrap_err(), &["the user's own error"]);
    assert_eq!(af.occupancy(), 0.0);
    assert_eq!(af.call((v(&[1.0]), false)).unwrap().0.to_scalar::<f64>().unwrap(), 1.0);
    assert!(af.call((v(&[1.0]), true)).is_err());
    assert_eq!(af.call((v(&[2.0]), false)).unwrap().0.to_scalar::<f64>().unwrap(), 4.0);
}

#[test]
fn a_panic_in_a_check_mode_rerun_counts_as_a_check_failure_and_keeps_the_cache() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let af = accelerate(move |x: DlArray| {
        // Calls 1 (the trace) and 2 (the first re-run) work; the third run panics.
        if counter.fetch_add(1, Ordering::SeqCst) == 2 {
            panic!("the re-run fails");
        }
        quadratic(&x)
    });
    af.set_check_mode(CheckMode::Tolerance(1e-12));
    af.call(v(&[1.0])).unwrap();
    let (y, _) = af.call(v(&[2.0])).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 4.0);
    assert_eq!(af.check_failures(), 0);
    let (y, _) = af.call(v(&[3.0])).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 9.0, "the accelerated result is returned");
    assert_eq!(af.check_failures(), 1);
    assert_eq!(af.occupancy(), 2.0);
    let (y, _) = af.call(v(&[4.0])).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 16.0);
}

#[test]
fn a_fault_inside_a_nested_accelerated_call_leaves_both_functions_usable() {
    let inner = Arc::new(accelerate(|(x, fail): (DlArray, bool)| {
        if fail {
            panic!("inner fails");
        }
        Ok(x.exp().sum_all())
    }));
    let inner2 = inner.clone();
    let outer = accelerate(move |(x, fail): (DlArray, bool)| {
        let y = inner2.call((x.clone(), fail))?;
        let g = dlgradient(&y, &x)?;
        Ok((y, g))
    });
    assert_mentions(&outer.call((v(&[0.0]), true)).unwrap_err(), &["inner fails"]);
    assert_eq!(outer.occupancy(), 0.0);
    let (y, g) = outer.call((v(&[0.0]), false)).unwrap();
    assert_eq!((y.to_scalar::<f64>().unwrap(), g.extractdata::<f64>().unwrap()[0]), (1.0, 1.0));
    // Inside dlfeval the inner function is a call node with its own cache.
    assert_mentions(&dlfeval(|x: DlArray| inner.call((x, true)), v(&[0.0])).unwrap_err(), &["inner fails"]);
    let before = inner.occupancy();
    let (y, g) = dlfeval(
        |x: DlArray| {
            let y = inner.call((x.clone(), false))?;
            Ok((y.clone(), dlgradient(&y, &x)?))
        },
        v(&[0.0]),
    )
    .unwrap();
    assert_eq!((y.to_scalar::<f64>().unwrap(), g.extractdata::<f64>().unwrap()[0]), (1.0, 1.0));
    assert!(inner.occupancy() > before);
}

// ----- memory -----

/// Calls `af` with `count` distinct signatures (a plain value is part of the key).
fn distinct_signatures(af: &AcceleratedFunction<(DlArray, i64), (DlArray, DlArray)>, from: i64, count: i64) {
    for k in from..from + count {
        let (y, _) = af.call((v(&[1.0, 2.0]), k)).unwrap();
        assert_eq!(y.to_scalar::<f64>().unwrap(), 5.0 * k as f64);
    }
}

fn scaled() -> AcceleratedFunction<(DlArray, i64), (DlArray, DlArray)> {
    accelerate(|(x, k): (DlArray, i64)| {
        let y = (x.square() * k as f64).sum_all();
        let g = dlgradient(&y, &x)?;
        Ok((y, g))
    })
}

/// RSS may grow by at most this over 10,000 signatures (each entry's code is freed on
/// eviction; what remains is allocator slack).
const GROWTH_BOUND_KIB: usize = 8 * 1024;

#[test]
fn ten_thousand_signatures_with_a_small_cache_keep_memory_bounded() {
    let af = scaled();
    af.set_cache_size(8);
    distinct_signatures(&af, 0, 500);
    let before = rss_kib();
    distinct_signatures(&af, 500, 10_000);
    let growth = rss_kib().saturating_sub(before);
    eprintln!("cache 8: RSS growth {growth} KiB over 10,000 signatures");
    assert!(growth < GROWTH_BOUND_KIB, "RSS grew by {growth} KiB");
    assert_eq!(af.occupancy(), 100.0);
}

#[test]
fn ten_thousand_signatures_with_the_default_cache_and_many_clears_keep_memory_bounded() {
    let af = scaled();
    assert_eq!(af.cache_size(), 50);
    distinct_signatures(&af, 0, 500);
    let before = rss_kib();
    distinct_signatures(&af, 500, 10_000);
    for round in 0..1_000 {
        distinct_signatures(&af, round % 3, 1);
        af.clear_cache();
        assert_eq!(af.occupancy(), 0.0);
    }
    let growth = rss_kib().saturating_sub(before);
    eprintln!("cache 50 + 1,000 clears: RSS growth {growth} KiB");
    assert!(growth < GROWTH_BOUND_KIB, "RSS grew by {growth} KiB");
}
