//! Gradient checks against central finite differences for every primitive and public op, first
//! order and second order (Hessian-vector products), real and complex, double and single
//! precision. The harness is in `common/mod.rs`.
//!
//! Tolerances: double precision uses `Tol::F64` (step 1e-5, rel/abs 1e-6); single precision
//! uses `Tol::F32` (step 1e-2, rel/abs 1e-2), because f32 rounding over a step of 1e-2 is about
//! 1e-5 relative and the O(step^2) truncation about 1e-4.

// `s![1..-1]` is ndarray's slice syntax (a negative end counts from the back), not a range.
#![allow(clippy::reversed_empty_ranges)]

mod common;

use common::*;
use cranegrad::prelude::*;
use ndarray::{s, ArrayD, NewAxis};
use num_complex::Complex64;

type Op1 = fn(&DlArray) -> DlArray;

/// Every unary method with an input range away from its kinks, poles and branch cuts.
fn unary_cases(rng: &mut Rng) -> Vec<(&'static str, Op1, ArrayD<f64>)> {
    let shape = [2, 3];
    let mut r = |lo: f64, hi: f64| rng.array(&shape, lo, hi);
    let mut cases: Vec<(&'static str, Op1, ArrayD<f64>)> = vec![
        ("neg", |x| -x, r(-1.5, 1.5)),
        ("exp", |x| x.exp(), r(-1.5, 1.5)),
        ("log", |x| x.log(), r(0.5, 2.0)),
        ("sin", |x| x.sin(), r(-2.0, 2.0)),
        ("cos", |x| x.cos(), r(-2.0, 2.0)),
        ("tan", |x| x.tan(), r(-1.0, 1.0)),
        ("tanh", |x| x.tanh(), r(-1.5, 1.5)),
        ("sqrt", |x| x.sqrt(), r(0.5, 2.0)),
        ("square", |x| x.square(), r(-1.5, 1.5)),
        ("sigmoid", |x| x.sigmoid(), r(-3.0, 3.0)),
        ("recip", |x| x.recip(), r(0.5, 2.0)),
        ("erf", |x| x.erf(), r(-1.5, 1.5)),
        ("real", |x| x.real(), r(-1.5, 1.5)),
        ("conj", |x| x.conj(), r(-1.5, 1.5)),
        ("log1p", |x| x.log1p(), r(-0.5, 2.0)),
        ("expm1", |x| x.expm1(), r(-1.5, 1.5)),
        ("asin", |x| x.asin(), r(-0.8, 0.8)),
        ("acos", |x| x.acos(), r(-0.8, 0.8)),
        ("atan", |x| x.atan(), r(-2.0, 2.0)),
        ("asinh", |x| x.asinh(), r(-2.0, 2.0)),
        ("acosh", |x| x.acosh(), r(1.3, 3.0)),
        ("atanh", |x| x.atanh(), r(-0.8, 0.8)),
        ("powf 2.5", |x| x.powf(2.5), r(0.5, 2.0)),
        ("powf -1.5", |x| x.powf(-1.5), r(0.5, 2.0)),
        ("powf 3 on negatives", |x| x.powf(3.0), r(-2.0, -0.5)),
        // Zero-gradient functions: inputs away from their jumps (the chance of one within the
        // step of an integer or a half is negligible, and the seed is fixed).
        ("floor", |x| x.floor(), r(-2.0, 2.0)),
        ("ceil", |x| x.ceil(), r(-2.0, 2.0)),
        ("round", |x| x.round(), r(-2.0, 2.0)),
        ("imag of real", |x| x.imag() + x, r(-1.5, 1.5)),
        // Values unchanged, derivatives zero: the difference of two copies has derivative zero
        // both ways, and the sine's carries the check.
        ("stop_gradient", |x| x.sin() + (x.stop_gradient() - x.stop_gradient()), r(-1.5, 1.5)),
    ];
    cases.push(("abs", |x| x.abs(), rng.away_from_zero(&shape, 0.3, 2.0)));
    cases.push(("sign", |x| x.sign() * x, rng.away_from_zero(&shape, 0.3, 2.0)));
    cases.push(("relu", |x| x.relu(), rng.away_from_zero(&shape, 0.3, 2.0)));
    cases
}

#[test]
fn every_unary_op_first_and_second_order_f64() {
    let mut rng = Rng::new(1);
    let mut failures = Failures::default();
    for (name, op, x) in unary_cases(&mut rng) {
        let f = move |xs: &[DlArray]| op(&xs[0]);
        let args = [Arg::f64(&x)];
        failures.record(&format!("{name} first order"), try_check_grad_args(&f, &args, Tol::F64, 3));
        failures.record(&format!("{name} second order"), try_check_hvp_args(&f, &args, Tol::F64, 5));
    }
    failures.assert_none();
}

#[test]
fn every_unary_op_first_and_second_order_f32() {
    let mut rng = Rng::new(2);
    let mut failures = Failures::default();
    for (name, op, x) in unary_cases(&mut rng) {
        if matches!(name, "floor" | "ceil" | "round") {
            continue; // a step of 1e-2 may cross a jump
        }
        let f = move |xs: &[DlArray]| {
            let y = op(&xs[0]);
            assert_eq!(y.dtype(), DType::F32, "{name} of f32 must stay f32");
            y
        };
        let args = [Arg::f32(&x)];
        failures.record(&format!("{name} first order f32"), try_check_grad_args(&f, &args, Tol::F32, 3));
        failures.record(&format!("{name} second order f32"), try_check_hvp_args(&f, &args, Tol::F32, 5));
    }
    failures.assert_none();
}

type Op2 = fn(&DlArray, &DlArray) -> DlArray;

fn binary_ops() -> Vec<(&'static str, Op2)> {
    vec![
        ("add", |a, b| a + b),
        ("sub", |a, b| a - b),
        ("mul", |a, b| a * b),
        ("div", |a, b| a / b),
        ("pow", |a, b| a.pow(b)),
        ("max (maximum)", |a, b| a.maximum(b)),
        ("min (minimum)", |a, b| a.minimum(b)),
        ("atan2", |a, b| a.atan2(b)),
        ("complex", DlArray::complex),
        ("select by gt", |a, b| select(&a.gt(b), a, b)),
        ("select by le", |a, b| select(&a.le(b), &a.square(), &b.sin())),
    ]
}

/// Positive operands (pow's base, div's denominator) whose every pair differs by more than the
/// f32 step, so max, min and the selects have no ties within a finite-difference step.
fn separated(rng: &mut Rng, sa: &[usize], sb: &[usize]) -> (ArrayD<f64>, ArrayD<f64>) {
    loop {
        let a = rng.array(sa, 0.5, 2.0);
        let b = rng.array(sb, 0.5, 2.0);
        if a.iter().all(|x| b.iter().all(|y| (x - y).abs() > 0.05)) {
            return (a, b);
        }
    }
}

#[test]
fn every_binary_op_with_broadcasting_first_and_second_order() {
    let shapes: [(&[usize], &[usize]); 6] =
        [(&[2, 3], &[2, 3]), (&[3, 1], &[1, 4]), (&[2, 3], &[3]), (&[], &[2, 2]), (&[2, 2], &[]), (&[4], &[2, 1])];
    let mut rng = Rng::new(3);
    let mut failures = Failures::default();
    for (name, op) in binary_ops() {
        for (sa, sb) in shapes {
            // Positive operands (pow's base, div's denominator), values spread so that max/min
            // and the selects have no ties.
            let (a, b) = separated(&mut rng, sa, sb);
            let f = move |xs: &[DlArray]| op(&xs[0], &xs[1]);
            let args = [Arg::f64(&a), Arg::f64(&b)];
            let label = format!("{name} {sa:?} x {sb:?}");
            failures.record(&format!("{label} first order"), try_check_grad_args(&f, &args, Tol::F64, 3));
            failures.record(&format!("{label} second order"), try_check_hvp_args(&f, &args, Tol::F64, 5));
            let args32 = [Arg::f32(&a), Arg::f32(&b)];
            failures.record(&format!("{label} first order f32"), try_check_grad_args(&f, &args32, Tol::F32, 3));
            failures.record(&format!("{label} second order f32"), try_check_hvp_args(&f, &args32, Tol::F32, 5));
        }
    }
    failures.assert_none();
}

#[test]
fn scalar_operands_on_either_side() {
    let mut rng = Rng::new(4);
    let x = rng.array(&[2, 3], 0.5, 2.0);
    check_both(
        |xs| 3.0 * &xs[0] - &xs[0] / 2.0 + 1.0 / &xs[0] - (2.0 - &xs[0]).square(),
        std::slice::from_ref(&x),
        Tol::F64,
    );
    check_both(|xs| (Complex64::new(1.0, 2.0) * &xs[0] - Complex64::new(0.5, -1.0)).square(), &[x], Tol::F64);
}

#[test]
fn select_broadcasts_its_condition_and_branches() {
    let mut rng = Rng::new(5);
    let c = rng.array(&[2, 3], -1.0, 1.0);
    let a = rng.array(&[3], -1.0, 1.0);
    let b = rng.array(&[], -1.0, 1.0);
    check_both(|xs| select(&xs[0].gt(&DlArray::scalar(0.0)), &xs[1].exp(), &xs[2].square()), &[c, a, b], Tol::F64);
}

#[test]
fn casts_between_float_types_and_complex() {
    let mut rng = Rng::new(6);
    let x = rng.array(&[2, 3], -1.0, 1.0);
    check_both(|xs| xs[0].cast(DType::C128).exp() * Complex64::new(0.3, 0.7), std::slice::from_ref(&x), Tol::F64);
    // Through single precision and back: f32 rounding, so the f32 tolerance.
    let args = [Arg::f64(&x)];
    let f = |xs: &[DlArray]| xs[0].cast(DType::F32).sin().cast(DType::F64);
    try_check_grad_args(&f, &args, Tol::F32, 3).unwrap();
    try_check_hvp_args(&f, &args, Tol::F32, 3).unwrap();
    let z = rng.complex(&[2, 2], -1.0, 1.0);
    check_grad_complex(|xs| xs[0].cast(DType::F64).square(), std::slice::from_ref(&z), Tol::F64);
    check_hvp_complex(|xs| xs[0].cast(DType::F64).square(), std::slice::from_ref(&z), Tol::F64);
    check_both(|xs| xs[0].cast(DType::F32).cast(DType::C64).cast(DType::C128).square(), &[x], Tol::F32);
    // Logical operands carry no gradient; the numeric one does.
    let y = rng.array(&[3], -1.0, 1.0);
    check_both(|xs| xs[0].gt(&DlArray::scalar(0.0)).cast(DType::F64) * xs[0].square(), &[y], Tol::F64);
}

#[test]
fn broadcast_reshape_permute_transpose() {
    let mut rng = Rng::new(7);
    let x = rng.array(&[2, 1, 3], -1.0, 1.0);
    check_both(|xs| xs[0].broadcast_to(&[4, 2, 5, 3]).sin(), std::slice::from_ref(&x), Tol::F64);
    check_both(
        |xs| xs[0].reshape(&[3, 2]).square().matmul(&xs[0].reshape(&[2, 3])),
        std::slice::from_ref(&x),
        Tol::F64,
    );
    let y = rng.array(&[2, 3, 4], -1.0, 1.0);
    check_both(|xs| xs[0].permute(&[2, 0, 1]).square(), std::slice::from_ref(&y), Tol::F64);
    check_both(|xs| xs[0].transpose().sin(), std::slice::from_ref(&y), Tol::F64);
    check_both(|xs| xs[0].permute(&[1, 2, 0]).reshape(&[12, 2]).exp(), &[y], Tol::F64);
}

#[test]
fn slices_including_negative_steps_and_the_pad_they_differentiate_to() {
    let mut rng = Rng::new(8);
    let v = rng.array(&[7], -1.0, 1.0);
    let m = rng.array(&[4, 5], -1.0, 1.0);
    let t = rng.array(&[3, 4, 5], -1.0, 1.0);
    let mut failures = Failures::default();
    let vector_cases: Vec<(&str, Op1)> = vec![
        ("..", |x| x.slice(s![..])),
        ("..;-2", |x| x.slice(s![..;-2])),
        ("-3..;2", |x| x.slice(s![-3..;2])),
        ("1..-1", |x| x.slice(s![1..-1])),
        ("..;-1", |x| x.slice(s![..;-1])),
        ("2..6;-3", |x| x.slice(s![2..6;-3])),
        ("index -2", |x| x.slice(s![-2])),
        ("at 4", |x| x.at(4)),
        ("NewAxis", |x| x.slice(s![NewAxis, 1..4])),
    ];
    let matrix_cases: Vec<(&str, Op1)> = vec![
        ("1..-1, ..;-1", |x| x.slice(s![1..-1, ..;-1])),
        ("..;2, -2", |x| x.slice(s![..;2, -2])),
        ("-1, ..;-2", |x| x.slice(s![-1, ..;-2])),
        ("at 13", |x| x.at(13)),
    ];
    let tensor_cases: Vec<(&str, Op1)> = vec![
        ("1.., ..;-3, 1..4;2", |x| x.slice(s![1.., ..;-3, 1..4;2])),
        ("NewAxis, 0, .., -1", |x| x.slice(s![NewAxis, 0, .., -1])),
    ];
    for (cases, x) in [(vector_cases, &v), (matrix_cases, &m), (tensor_cases, &t)] {
        for (name, op) in cases {
            let args = [Arg::f64(x)];
            let linear = move |xs: &[DlArray]| op(&xs[0]);
            // Squared, so the cotangent of the slice depends on x and its pad is differentiated.
            let squared = move |xs: &[DlArray]| op(&xs[0]).square();
            failures.record(&format!("slice {name} first order"), try_check_grad_args(&linear, &args, Tol::F64, 3));
            failures.record(&format!("slice {name} second order"), try_check_hvp_args(&squared, &args, Tol::F64, 5));
        }
    }
    failures.assert_none();
}

#[test]
fn concat_along_each_axis() {
    let mut rng = Rng::new(9);
    let a = rng.array(&[2, 3], -1.0, 1.0);
    let b = rng.array(&[2, 3], -1.0, 1.0);
    let c = rng.array(&[1, 3], -1.0, 1.0);
    check_both(|xs| concat(&[&xs[0], &xs[1], &xs[2]], 0).square(), &[a.clone(), b.clone(), c], Tol::F64);
    let d = rng.array(&[2, 1], -1.0, 1.0);
    check_both(|xs| concat(&[&xs[0], &xs[1].sin(), &xs[2]], 1).square(), &[a, b, d], Tol::F64);
}

#[test]
fn reductions_over_each_axis_with_and_without_keepdims() {
    let mut rng = Rng::new(10);
    let x = rng.array(&[2, 3, 4], -1.0, 1.0);
    let mut failures = Failures::default();
    let axes_sets: [&[usize]; 7] = [&[0], &[1], &[2], &[0, 1], &[1, 2], &[0, 2], &[0, 1, 2]];
    for axes in axes_sets {
        for keepdims in [false, true] {
            let args = [Arg::f64(&x)];
            let label = format!("axes {axes:?} keepdims {keepdims}");
            let sum = move |xs: &[DlArray]| xs[0].sum_axes(axes, keepdims).square();
            let mean = move |xs: &[DlArray]| xs[0].mean_axes(axes, keepdims).sin();
            let max = move |xs: &[DlArray]| xs[0].max_axes(axes, keepdims).square();
            let min = move |xs: &[DlArray]| xs[0].min_axes(axes, keepdims).exp();
            let cases: [(&str, TestFn<'_>); 4] = [("sum", &sum), ("mean", &mean), ("max", &max), ("min", &min)];
            for (name, f) in cases {
                failures.record(&format!("{name} {label} first order"), try_check_grad_args(f, &args, Tol::F64, 3));
                failures.record(&format!("{name} {label} second order"), try_check_hvp_args(f, &args, Tol::F64, 5));
            }
        }
    }
    failures.record(
        "sum_all",
        try_check_grad_args(&|xs: &[DlArray]| xs[0].sum_all().square(), &[Arg::f64(&x)], Tol::F64, 3),
    );
    failures.record(
        "sum_all hvp",
        try_check_hvp_args(&|xs: &[DlArray]| xs[0].sum_all().square(), &[Arg::f64(&x)], Tol::F64, 3),
    );
    failures.record(
        "mean_all",
        try_check_grad_args(&|xs: &[DlArray]| xs[0].mean_all().exp(), &[Arg::f64(&x)], Tol::F64, 3),
    );
    failures.record(
        "mean_all hvp",
        try_check_hvp_args(&|xs: &[DlArray]| xs[0].mean_all().exp(), &[Arg::f64(&x)], Tol::F64, 3),
    );
    failures.assert_none();
}

#[test]
fn matmul_2d_batched_broadcast_and_vectors() {
    let mut rng = Rng::new(11);
    let pairs: [(&[usize], &[usize]); 9] = [
        (&[2, 3], &[3, 4]),
        (&[2, 2, 3], &[2, 3, 4]),
        (&[2, 2, 2, 3], &[2, 2, 3, 2]),
        (&[2, 1, 2, 3], &[3, 3, 2]),
        (&[2, 3], &[2, 3, 2]),
        (&[3], &[3, 2]),
        (&[2, 3], &[3]),
        (&[3], &[3]),
        (&[3], &[2, 3, 2]),
    ];
    let mut failures = Failures::default();
    for (sa, sb) in pairs {
        let a = rng.array(sa, -1.0, 1.0);
        let b = rng.array(sb, -1.0, 1.0);
        let args = [Arg::f64(&a), Arg::f64(&b)];
        let f = |xs: &[DlArray]| xs[0].matmul(&xs[1]);
        let g = |xs: &[DlArray]| xs[0].matmul(&xs[1]).square();
        let label = format!("{sa:?} x {sb:?}");
        failures.record(&format!("{label} first order"), try_check_grad_args(&f, &args, Tol::F64, 3));
        failures.record(&format!("{label} second order"), try_check_hvp_args(&g, &args, Tol::F64, 5));
        let args32 = [Arg::f32(&a), Arg::f32(&b)];
        failures.record(&format!("{label} f32"), try_check_grad_args(&g, &args32, Tol::F32, 3));
    }
    failures.assert_none();
}

/// Complex inputs for the holomorphic functions: real parts positive, away from the branch cut
/// of log and sqrt on the negative real axis.
fn complex_input(rng: &mut Rng, shape: &[usize]) -> ArrayD<Complex64> {
    ArrayD::from_shape_fn(ndarray::IxDyn(shape), |_| Complex64::new(rng.uniform(0.5, 1.5), rng.uniform(-1.0, 1.0)))
}

#[test]
fn holomorphic_unary_ops_on_complex_inputs() {
    let mut rng = Rng::new(12);
    let cases: Vec<(&str, Op1)> = vec![
        ("exp", |x| x.exp()),
        ("log", |x| x.log()),
        ("sin", |x| x.sin()),
        ("cos", |x| x.cos()),
        ("tanh", |x| x.tanh()),
        ("sqrt", |x| x.sqrt()),
        ("recip", |x| x.recip()),
        ("square", |x| x.square()),
        ("neg", |x| -x),
        ("powf 2.5", |x| x.powf(2.5)),
        ("sum_all", |x| x.sum_all()),
        ("sum_axes", |x| x.sum_axes(&[0], false)),
        ("tan", |x| x.tan()),
        ("real", |x| x.real()),
        ("imag", |x| x.imag()),
        ("conj", |x| x.conj()),
        ("abs", |x| x.abs()),
        ("sign", |x| x.sign()),
        ("sign times x", |x| x.sign() * x),
        ("real of (2+3i) x", |x| (Complex64::new(2.0, 3.0) * x).real()),
        ("slice", |x| x.slice(s![..;-1, 1..]).exp()),
        ("transpose", |x| x.transpose().sin()),
    ];
    let mut failures = Failures::default();
    for (name, op) in cases {
        let z = complex_input(&mut rng, &[2, 3]);
        let f = move |xs: &[DlArray]| op(&xs[0]);
        let args = [Arg::c128(&z)];
        failures.record(&format!("{name} first order"), try_check_grad_args(&f, &args, Tol::F64, 3));
        failures.record(&format!("{name} second order"), try_check_hvp_args(&f, &args, Tol::F64, 5));
        let args32 = [Arg::c64(&z)];
        failures.record(&format!("{name} first order c64"), try_check_grad_args(&f, &args32, Tol::F32, 3));
    }
    failures.assert_none();
}

#[test]
fn holomorphic_binary_ops_on_complex_inputs() {
    let mut rng = Rng::new(13);
    let cases: Vec<(&str, Op2)> = vec![
        ("mul", |a, b| a * b),
        ("div", |a, b| a / b),
        ("add", |a, b| a + b),
        ("sub", |a, b| a - b),
        ("pow", |a, b| a.pow(b)),
        ("matmul", |a, b| a.matmul(&b.transpose())),
        ("select", |a, b| select(&a.real().gt(&b.real()), &a.exp(), &b.square())),
        ("concat", |a, b| concat(&[a, &b.sin()], 1).square()),
        ("broadcast", |a, b| a.sum_axes(&[0], true).broadcast_to(&[3, 2, 3]) * b),
        ("mean and permute", |a, b| a.mean_axes(&[1], true) * b.permute(&[0, 1]).log()),
    ];
    let mut failures = Failures::default();
    for (name, op) in cases {
        let a = complex_input(&mut rng, &[2, 3]);
        let b = complex_input(&mut rng, &[2, 3]);
        let f = move |xs: &[DlArray]| op(&xs[0], &xs[1]);
        let args = [Arg::c128(&a), Arg::c128(&b)];
        failures.record(&format!("{name} first order"), try_check_grad_args(&f, &args, Tol::F64, 3));
        failures.record(&format!("{name} second order"), try_check_hvp_args(&f, &args, Tol::F64, 5));
        // Mixed: a real operand promoted to complex.
        let r = rng.array(&[2, 3], 0.5, 1.5);
        let mixed = [Arg::f64(&r), Arg::c128(&b)];
        failures.record(&format!("{name} real x complex"), try_check_grad_args(&f, &mixed, Tol::F64, 3));
        failures.record(&format!("{name} real x complex hvp"), try_check_hvp_args(&f, &mixed, Tol::F64, 3));
    }
    // Batched complex matmul with broadcasting.
    let a = complex_input(&mut rng, &[2, 2, 3]);
    let b = complex_input(&mut rng, &[3, 2]);
    let f = |xs: &[DlArray]| xs[0].matmul(&xs[1]);
    let args = [Arg::c128(&a), Arg::c128(&b)];
    failures.record("batched matmul", try_check_grad_args(&f, &args, Tol::F64, 3));
    failures.record("batched matmul hvp", try_check_hvp_args(&|xs: &[DlArray]| f(xs).square(), &args, Tol::F64, 3));
    failures.assert_none();
}

#[test]
fn complex_from_two_real_arrays() {
    let mut rng = Rng::new(14);
    let re = rng.array(&[2, 3], -1.0, 1.0);
    let im = rng.array(&[3], -1.0, 1.0);
    check_both(|xs| DlArray::complex(&xs[0], &xs[1]), &[re.clone(), im.clone()], Tol::F64);
    check_both(|xs| DlArray::complex(&xs[0], &xs[1]).exp().abs(), &[re, im], Tol::F64);
}

#[test]
fn composite_functions_exercise_chains() {
    let mut rng = Rng::new(15);
    let x = rng.array(&[4], -1.0, 1.0);
    // The extended Rosenbrock function of the benchmarks.
    check_both(
        |xs| {
            let x = &xs[0];
            let head = x.slice(s![..-1]);
            let tail = x.slice(s![1..]);
            (100.0 * (tail - head.square()).square() + (1.0 - &head).square()).sum_all()
        },
        &[x],
        Tol::F64,
    );
    // A small MLP with a log-sum-exp.
    let xb = rng.array(&[3, 4], -1.0, 1.0);
    let w = rng.array(&[4, 5], -1.0, 1.0);
    let b = rng.array(&[5], -1.0, 1.0);
    check_both(
        |xs| {
            let h = (xs[0].matmul(&xs[1]) + &xs[2]).tanh();
            let m = h.max_axes(&[1], true);
            (&h - &m).exp().sum_axes(&[1], true).log() + m
        },
        &[xb, w, b],
        Tol::F64,
    );
}

/// The primitive a case exercises: the first word of its label.
fn primitive_of(label: &str) -> &str {
    label.split_whitespace().next().unwrap_or_default()
}

/// A new unary or binary primitive without a gradient check here fails this test; each case
/// named after a primitive must really emit it (checked in the IR).
#[test]
fn every_elementwise_primitive_has_a_gradient_check() {
    use cranegrad::ir::{BinaryOp, UnaryOp};
    let mut rng = Rng::new(16);
    let unary = unary_cases(&mut rng);
    for u in UnaryOp::ALL {
        let (label, op, x) = unary
            .iter()
            .find(|(label, _, _)| primitive_of(label) == u.name())
            .unwrap_or_else(|| panic!("no gradient check for the unary primitive {}", u.name()));
        let op = *op;
        let ir = make_ir(|x: DlArray| Ok(op(&x)), DlArray::from(x.clone())).unwrap();
        assert!(ir.contains(&format!(" = {} ", u.name())), "case {label:?} does not emit {}:\n{ir}", u.name());
    }
    let binary = binary_ops();
    for b in BinaryOp::ALL {
        let (label, op) = binary
            .iter()
            .find(|(label, _)| primitive_of(label) == b.name())
            .unwrap_or_else(|| panic!("no gradient check for the binary primitive {}", b.name()));
        let op = *op;
        let args = (DlArray::from(ndarray::array![1.0, 2.0]), DlArray::from(ndarray::array![3.0, 0.5]));
        let ir = make_ir(|(a, c): (DlArray, DlArray)| Ok(op(&a, &c)), args).unwrap();
        assert!(ir.contains(&format!(" = {} ", b.name())), "case {label:?} does not emit {}:\n{ir}", b.name());
    }
}

#[test]
fn inverse_functions_on_complex_inputs() {
    let mut rng = Rng::new(17);
    // Inputs away from each branch cut: asin, acos, atanh (real axis beyond +-1), atan, asinh
    // (imaginary axis beyond +-i), log1p (real axis below -1), acosh (real axis below 1).
    let small = |rng: &mut Rng| {
        ArrayD::from_shape_fn(ndarray::IxDyn(&[2, 2]), |_| {
            Complex64::new(rng.uniform(0.1, 0.6), rng.uniform(-0.5, 0.5))
        })
    };
    let cases: Vec<(&str, Op1)> = vec![
        ("asin", |x| x.asin()),
        ("acos", |x| x.acos()),
        ("atan", |x| x.atan()),
        ("asinh", |x| x.asinh()),
        ("atanh", |x| x.atanh()),
        ("log1p", |x| x.log1p()),
        ("expm1", |x| x.expm1()),
        ("sigmoid", |x| x.sigmoid()),
    ];
    let mut failures = Failures::default();
    for (name, op) in cases {
        let args = [Arg::c128(&small(&mut rng))];
        let f = move |xs: &[DlArray]| op(&xs[0]);
        failures.record(&format!("{name} first order"), try_check_grad_args(&f, &args, Tol::F64, 3));
        failures.record(&format!("{name} second order"), try_check_hvp_args(&f, &args, Tol::F64, 5));
    }
    let z = ArrayD::from_shape_fn(ndarray::IxDyn(&[2, 2]), |_| {
        Complex64::new(rng.uniform(1.5, 2.5), rng.uniform(-0.5, 0.5))
    });
    let f = |xs: &[DlArray]| xs[0].acosh();
    failures.record("acosh first order", try_check_grad_args(&f, &[Arg::c128(&z)], Tol::F64, 3));
    failures.record("acosh second order", try_check_hvp_args(&f, &[Arg::c128(&z)], Tol::F64, 5));
    failures.assert_none();
}

/// Gradients at points finite differences cannot check: kinks, ties and NaN, where the rule is
/// a documented choice.
#[test]
fn gradients_at_kinks_ties_and_nan_follow_the_documented_choice() {
    let grads = |f: fn(&DlArray, &DlArray) -> DlArray, a: f64, b: f64| -> (f64, f64) {
        let (ga, gb) = dlfeval(
            |(a, b): (DlArray, DlArray)| dlgradient(&f(&a, &b).sum_all(), (&a, &b)),
            (DlArray::scalar(a), DlArray::scalar(b)),
        )
        .unwrap();
        (ga.to_scalar::<f64>().unwrap(), gb.to_scalar::<f64>().unwrap())
    };
    let max: fn(&DlArray, &DlArray) -> DlArray = |a, b| a.maximum(b);
    let min: fn(&DlArray, &DlArray) -> DlArray = |a, b| a.minimum(b);
    // At ties the gradient goes to self.
    assert_eq!(grads(max, 2.0, 2.0), (1.0, 0.0));
    assert_eq!(grads(min, 2.0, 2.0), (1.0, 0.0));
    // NaN is ignored, so the gradient goes to the operand that was chosen.
    assert_eq!(grads(max, f64::NAN, 1.0), (0.0, 1.0));
    assert_eq!(grads(max, 1.0, f64::NAN), (1.0, 0.0));
    assert_eq!(grads(min, f64::NAN, 1.0), (0.0, 1.0));
    assert_eq!(grads(min, 1.0, f64::NAN), (1.0, 0.0));
    // relu, abs and sign have gradient 0 at 0 (MATLAB's choice for relu).
    let at_zero = |f: fn(&DlArray) -> DlArray| -> f64 {
        dlfeval(|x: DlArray| dlgradient(&f(&x), &x), DlArray::scalar(0.0)).unwrap().to_scalar::<f64>().unwrap()
    };
    assert_eq!(at_zero(|x| x.relu()), 0.0);
    assert_eq!(at_zero(|x| x.abs()), 0.0);
    assert_eq!(at_zero(|x| x.sign()), 0.0);
    // A tie in a max reduction splits the gradient evenly.
    let g = dlfeval(
        |x: DlArray| dlgradient(&x.max_axes(&[0], false).sum_all(), &x),
        DlArray::from(ndarray::array![3.0, 1.0, 3.0]),
    )
    .unwrap();
    assert_eq!(g.extractdata::<f64>().unwrap(), ndarray::array![0.5, 0.0, 0.5].into_dyn());
    // y = x itself.
    let g = dlfeval(|x: DlArray| dlgradient(&x, &x), DlArray::scalar(4.0)).unwrap();
    assert_eq!(g.to_scalar::<f64>().unwrap(), 1.0);
    // An empty slice contributes nothing.
    let g = dlfeval(
        |x: DlArray| dlgradient(&(x.slice(s![2..1]).sum_all() + x.sum_all()), &x),
        DlArray::from(ndarray::array![1.0, 2.0, 3.0]),
    )
    .unwrap();
    assert_eq!(g.extractdata::<f64>().unwrap(), ndarray::array![1.0, 1.0, 1.0].into_dyn());
}

/// A random expression over two inputs `a: [2, 3]` and `b: [3]`, built from smooth ops so that
/// finite differences apply everywhere; every intermediate has shape `[2, 3]`.
fn random_program(rng: &mut Rng, depth: usize, xs: &[DlArray]) -> DlArray {
    if depth == 0 {
        return match rng.next_u64() % 3 {
            0 => xs[0].clone(),
            1 => &xs[0] * &xs[1],
            _ => xs[1].broadcast_to(&[2, 3]) - &xs[0],
        };
    }
    let choice = rng.next_u64() % 14;
    let x = random_program(rng, depth - 1, xs);
    match choice {
        0 => x.sin(),
        1 => x.cos(),
        2 => x.tanh(),
        3 => x.sigmoid(),
        4 => x.atan(),
        5 => x.asinh(),
        6 => x.tanh().exp(),
        7 => 0.5 * x.square(),
        8 => x.slice(s![..;-1, ..]).erf(),
        9 => x.transpose().slice(s![.., ..;-1]).transpose(),
        10 => &x - x.mean_axes(&[1], true),
        11 => {
            let y = random_program(rng, depth - 1, xs);
            &x * y.cos()
        }
        12 => {
            let y = random_program(rng, depth - 1, xs);
            x.tanh().matmul(&y.transpose()).matmul(&y.sin()) * 0.3
        }
        _ => {
            let y = random_program(rng, depth - 1, xs);
            &x / (1.0 + y.square())
        }
    }
}

#[test]
fn random_compositions_first_and_second_order() {
    let mut failures = Failures::default();
    for seed in 1..=40u64 {
        let mut data_rng = Rng::new(1000 + seed);
        let a = data_rng.array(&[2, 3], -1.0, 1.0);
        let b = data_rng.array(&[3], -1.0, 1.0);
        let f = move |xs: &[DlArray]| random_program(&mut Rng::new(seed), 4, xs);
        let args = [Arg::f64(&a), Arg::f64(&b)];
        failures.record(&format!("program {seed} first order"), try_check_grad_args(&f, &args, Tol::F64, seed));
        failures.record(&format!("program {seed} second order"), try_check_hvp_args(&f, &args, Tol::F64, seed));
    }
    failures.assert_none();
}

/// Like [`random_program`] for complex inputs, with holomorphic ops and the non-holomorphic
/// `conj`, `real`, `abs` mixed in.
fn random_complex_program(rng: &mut Rng, depth: usize, xs: &[DlArray]) -> DlArray {
    if depth == 0 {
        return match rng.next_u64() % 2 {
            0 => xs[0].clone(),
            _ => &xs[0] * &xs[1],
        };
    }
    let x = random_complex_program(rng, depth - 1, xs);
    match rng.next_u64() % 11 {
        0 => x.sin(),
        1 => x.cos(),
        2 => (0.5 * &x).tanh(),
        3 => (0.5 * &x).exp(),
        4 => 0.5 * x.square(),
        5 => x.slice(s![..;-1, ..]).conj(),
        6 => &x - x.mean_axes(&[0], true),
        7 => x.real() * &x,
        8 => (x.abs() + 1.0).log() * &x,
        9 => {
            let y = random_complex_program(rng, depth - 1, xs);
            x.matmul(&y.transpose()).matmul(&y) * 0.3
        }
        _ => {
            let y = random_complex_program(rng, depth - 1, xs);
            &x * y.sin()
        }
    }
}

#[test]
fn random_complex_compositions_first_and_second_order() {
    let mut failures = Failures::default();
    for seed in 1..=30u64 {
        let mut data_rng = Rng::new(2000 + seed);
        let a = data_rng.complex(&[2, 3], -0.8, 0.8);
        let b = data_rng.complex(&[3], -0.8, 0.8);
        let f = move |xs: &[DlArray]| random_complex_program(&mut Rng::new(seed), 4, xs);
        let args = [Arg::c128(&a), Arg::c128(&b)];
        failures.record(&format!("program {seed} first order"), try_check_grad_args(&f, &args, Tol::F64, seed));
        failures.record(&format!("program {seed} second order"), try_check_hvp_args(&f, &args, Tol::F64, seed));
    }
    failures.assert_none();
}

/// softplus with its stable derivative as a rule of the user's: the rule, not the forward's
/// ops, is differentiated, to first and second order.
fn softplus() -> CustomFunction<DlArray, DlArray> {
    custom_vjp(|x: DlArray| Ok((x.exp() + 1.0).log()), |x: &DlArray, _y: &DlArray, ct: DlArray| Ok(ct * x.sigmoid()))
}

#[test]
fn custom_vjp_first_and_second_order() {
    let mut rng = Rng::new(40);
    let sp = softplus();
    check_both(
        move |xs| sp.call(xs[0].clone()).unwrap() * &xs[1],
        &[rng.array(&[2, 3], -3.0, 3.0), rng.array(&[2, 3], -1.0, 1.0)],
        Tol::F64,
    );
    // Two inputs and two outputs (a tuple each): the rule gets the outputs' cotangents as a tuple.
    let f = custom_vjp(
        |(a, b): (DlArray, DlArray)| Ok((&a * &b, a.sin())),
        |(a, b): &(DlArray, DlArray), _y: &(DlArray, DlArray), (g1, g2): (DlArray, DlArray)| {
            Ok((&g1 * b + g2 * a.cos(), g1 * a))
        },
    );
    check_both(
        move |xs| {
            let (p, s) = f.call((xs[0].clone(), xs[1].clone())).unwrap();
            (p.square() + s * &xs[1]).sum_all()
        },
        &[rng.array(&[3], -1.0, 1.0), rng.array(&[3], -1.0, 1.0)],
        Tol::F64,
    );
}

/// `x^3` computed by Rust code the trace cannot see, with its rule `3 x^2 ct` in ops.
fn cube() -> ExternalFunction {
    external(
        "cube",
        |shapes: &[&[usize]], dtypes: &[DType]| Ok(vec![(shapes[0].to_vec(), dtypes[0])]),
        |x: &[ArrayD<f64>]| Ok(vec![x[0].mapv(|v| v * v * v)]),
        |x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(vec![&ct[0] * 3.0 * x[0].square()]),
    )
}

#[test]
fn external_first_and_second_order() {
    let mut rng = Rng::new(41);
    let c = cube();
    check_both(
        move |xs| (c.call(&[&xs[0]]).unwrap().remove(0) * xs[1].sin()).sum_all(),
        &[rng.array(&[4], -1.5, 1.5), rng.array(&[4], -1.0, 1.0)],
        Tol::F64,
    );
    // Two outputs, and a rule that calls another external function.
    let inner = cube();
    let two = external(
        "cube and product",
        |shapes: &[&[usize]], dtypes: &[DType]| Ok(vec![(shapes[0].to_vec(), dtypes[0]); 2]),
        |x: &[ArrayD<f64>]| Ok(vec![x[0].mapv(|v| v * v * v), &x[0] * &x[1]]),
        move |x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| {
            let dcube = inner.call(&[&x[0]])?.remove(0) / &x[0] * 3.0;
            Ok(vec![&ct[0] * dcube + &ct[1] * &x[1], &ct[1] * &x[0]])
        },
    );
    check_both(
        move |xs| {
            let out = two.call(&[&xs[0], &xs[1]]).unwrap();
            (&out[0] * &out[1]).sum_all()
        },
        &[rng.away_from_zero(&[3], 0.5, 1.5), rng.array(&[3], -1.0, 1.0)],
        Tol::F64,
    );
}

/// A step of a small nonlinear recurrence, with a captured weight.
fn recurrence(i: &DlArray, x: &DlArray, w: &DlArray) -> DlArray {
    (x * w).sin() + x * 0.5 + (i * 0.1).cos() * w
}

#[test]
fn loops_and_branches_first_and_second_order() {
    let mut rng = Rng::new(43);
    let x0 = rng.array(&[3], -1.0, 1.0);
    let w = rng.array(&[3], -1.0, 1.0);
    // fori_loop: the carry and the captured weight.
    check_both(
        |xs| {
            let w = xs[1].clone();
            fori_loop(4, xs[0].clone(), |i, x| Ok(recurrence(i, &x, &w))).unwrap().square().sum_all()
        },
        &[x0.clone(), w.clone()],
        Tol::F64,
    );
    // scan: gradients flow to xs, the carry's tree and the stacked outputs.
    let xs = rng.array(&[5, 3], -1.0, 1.0);
    check_both(
        |a| {
            let w = a[2].clone();
            let ((h, s), ys) = scan((a[0].clone(), DlArray::scalar(0.0)), a[1].clone(), |(h, s), x: DlArray| {
                let h = (&h * &w + &x).tanh();
                let s = &s + h.sum_all();
                Ok(((h.clone(), s), h.square()))
            })
            .unwrap();
            h.sum_all() + s * 0.3 + ys.sin().sum_all()
        },
        &[x0.clone(), xs, w.clone()],
        Tol::F64,
    );
    // cond: each side's gradient, with a captured array in one branch.
    for shift in [-3.0, 3.0] {
        check_both(
            |a| {
                let w = a[1].clone();
                let pred = (a[0].sum_all() + shift).gt(&DlArray::scalar(0.0));
                cond(&pred, a[0].clone(), |x| Ok((&x * &w).exp().sum_all()), |x| Ok(x.sin().sum_all())).unwrap()
            },
            &[x0.clone(), w.clone()],
            Tol::F64,
        );
    }
    // A loop inside a loop.
    check_both(
        |a| {
            let w = a[1].clone();
            fori_loop(3, a[0].clone(), |_, x| fori_loop(2, x, |j, y| Ok(recurrence(j, &y, &w)))).unwrap().sum_all()
        },
        &[x0.clone(), w.clone()],
        Tol::F64,
    );
}

#[test]
fn while_loop_first_and_second_order() {
    let mut rng = Rng::new(47);
    // Scaling until the norm passes a bound: the trip count is fixed near the point.
    check_both(
        |a| {
            let w = a[1].clone();
            let x = while_loop(
                a[0].clone(),
                |x| Ok(x.square().sum_all().lt(&DlArray::scalar(40.0))),
                |x| Ok((&x * &w).sin() * 0.5 + &x * 1.7),
            )
            .unwrap();
            x.exp().sum_all()
        },
        &[rng.array(&[3], 0.5, 1.0), rng.array(&[3], 0.5, 1.0)],
        Tol::F64,
    );
}

#[test]
fn loops_complex_first_order() {
    let mut rng = Rng::new(53);
    check_grad_complex(
        |a| {
            let w = a[1].clone();
            fori_loop(3, a[0].clone(), |_, z| Ok((&z * &w).sin() + &z)).unwrap().abs().square().sum_all()
        },
        &[rng.complex(&[2], -0.8, 0.8), rng.complex(&[2], -0.8, 0.8)],
        Tol::F64,
    );
}

#[test]
fn checkpointed_scan_first_and_second_order() {
    let mut rng = Rng::new(59);
    let options = LoopOptions { max_iterations: None, checkpoint_every: Some(3) };
    check_both(
        move |a| {
            let w = a[2].clone();
            let (h, ys) = scan_with(
                a[0].clone(),
                a[1].clone(),
                |h, x: DlArray| {
                    let h = (&h * &w + &x).tanh();
                    Ok((h.clone(), h.square()))
                },
                options,
            )
            .unwrap();
            h.sum_all() + ys.sin().sum_all()
        },
        &[rng.array(&[3], -1.0, 1.0), rng.array(&[9, 3], -1.0, 1.0), rng.array(&[3], -1.0, 1.0)],
        Tol::F64,
    );
}

/// `x + shift * I` for `x [.., n, n]`: a well-conditioned matrix from a random one.
fn shifted_identity(x: &DlArray, shift: f64) -> DlArray {
    let n = x.shape()[x.ndim() - 1];
    let eye = DlArray::from(ndarray::Array2::<f64>::eye(n).into_dyn()).cast(x.dtype());
    x + eye * shift
}

/// `x x' + n I`: symmetric positive definite.
fn spd(x: &DlArray) -> DlArray {
    let n = x.shape()[x.ndim() - 1];
    let r = x.ndim();
    let mut axes: Vec<usize> = (0..r).collect();
    axes.swap(r - 2, r - 1);
    shifted_identity(&x.matmul(&x.permute(&axes)), n as f64)
}

/// `(x + x') / 2`.
fn sym(x: &DlArray) -> DlArray {
    let r = x.ndim();
    let mut axes: Vec<usize> = (0..r).collect();
    axes.swap(r - 2, r - 1);
    (x + x.permute(&axes)) * 0.5
}

/// One checked case: a name, a function of the arguments, and the arguments' shapes.
type LinalgCase = (&'static str, fn(&[DlArray]) -> DlArray, Vec<Vec<usize>>);

fn linalg_cases() -> Vec<LinalgCase> {
    fn tri(lower: bool, transa: bool) -> fn(&[DlArray]) -> DlArray {
        match (lower, transa) {
            (true, false) => {
                |x| linsolve(&shifted_identity(&x[0], 3.0), &x[1], LinsolveOptions { lt: true, ..Default::default() })
            }
            (true, true) => |x| {
                linsolve(
                    &shifted_identity(&x[0], 3.0),
                    &x[1],
                    LinsolveOptions { lt: true, transa: true, ..Default::default() },
                )
            },
            (false, false) => {
                |x| linsolve(&shifted_identity(&x[0], 3.0), &x[1], LinsolveOptions { ut: true, ..Default::default() })
            }
            (false, true) => |x| {
                linsolve(
                    &shifted_identity(&x[0], 3.0),
                    &x[1],
                    LinsolveOptions { ut: true, transa: true, ..Default::default() },
                )
            },
        }
    }
    let eig: fn(&[DlArray]) -> DlArray = |x| {
        let (l, v) = eig_symmetric(&sym(&x[0])).unwrap();
        let mut shape = l.shape().to_vec();
        shape.insert(shape.len() - 1, 1);
        concat(&[&v, &l.reshape(&shape)], l.ndim() - 1)
    };
    vec![
        ("mldivide", |x| mldivide(&shifted_identity(&x[0], 3.0), &x[1]), vec![vec![3, 3], vec![3, 2]]),
        ("mldivide batched", |x| mldivide(&shifted_identity(&x[0], 3.0), &x[1]), vec![vec![2, 3, 3], vec![2, 3, 2]]),
        ("mldivide vector", |x| mldivide(&shifted_identity(&x[0], 3.0), &x[1]), vec![vec![3, 3], vec![3]]),
        ("mldivide tall (least squares)", |x| mldivide(&x[0], &x[1]), vec![vec![4, 2], vec![4, 2]]),
        ("mldivide wide (minimum norm)", |x| mldivide(&x[0], &x[1]), vec![vec![2, 4], vec![2, 1]]),
        ("mrdivide", |x| mrdivide(&x[1], &shifted_identity(&x[0], 3.0)), vec![vec![3, 3], vec![2, 3]]),
        (
            "linsolve transa",
            |x| linsolve(&shifted_identity(&x[0], 3.0), &x[1], LinsolveOptions { transa: true, ..Default::default() }),
            vec![vec![3, 3], vec![3, 2]],
        ),
        ("linsolve lt", tri(true, false), vec![vec![3, 3], vec![3, 2]]),
        ("linsolve lt transa", tri(true, true), vec![vec![3, 3], vec![3, 2]]),
        ("linsolve ut", tri(false, false), vec![vec![3, 3], vec![3, 2]]),
        ("linsolve ut transa batched", tri(false, true), vec![vec![2, 3, 3], vec![2, 3, 2]]),
        ("chol", |x| chol(&spd(&x[0])), vec![vec![3, 3]]),
        ("chol lower batched", |x| chol_with(&spd(&x[0]), Triangle::Lower), vec![vec![2, 3, 3]]),
        ("inv", |x| inv(&shifted_identity(&x[0], 3.0)), vec![vec![3, 3]]),
        ("inv batched", |x| inv(&shifted_identity(&x[0], 3.0)), vec![vec![2, 3, 3]]),
        ("det", |x| det(&shifted_identity(&x[0], 1.0)), vec![vec![3, 3]]),
        ("det batched", |x| det(&x[0]), vec![vec![2, 3, 3]]),
        ("logdet", |x| logdet(&shifted_identity(&x[0], 3.0)), vec![vec![3, 3]]),
        ("logdet batched of spd", |x| logdet(&spd(&x[0])), vec![vec![2, 3, 3]]),
        ("eig_symmetric", eig, vec![vec![3, 3]]),
        ("eig_symmetric batched", eig, vec![vec![2, 3, 3]]),
    ]
}

#[test]
fn linalg_first_and_second_order_f64() {
    let mut rng = Rng::new(51);
    let mut failures = Failures::default();
    for (name, f, shapes) in linalg_cases() {
        let args: Vec<Arg> = shapes.iter().map(|s| Arg::f64(&rng.array(s, -1.0, 1.0))).collect();
        let square = move |xs: &[DlArray]| f(xs).square();
        failures.record(&format!("{name} first order"), try_check_grad_args(&f, &args, Tol::F64, 3));
        failures.record(&format!("{name} second order"), try_check_hvp_args(&square, &args, Tol::F64, 5));
    }
    failures.assert_none();
}

#[test]
fn linalg_first_order_f32() {
    let mut rng = Rng::new(52);
    let mut failures = Failures::default();
    for (name, f, shapes) in linalg_cases() {
        let args: Vec<Arg> = shapes.iter().map(|s| Arg::f32(&rng.array(s, -1.0, 1.0))).collect();
        failures.record(&format!("{name} f32"), try_check_grad_args(&f, &args, Tol::F32, 3));
    }
    failures.assert_none();
}

#[test]
fn linalg_forward_mode_matches_reverse() {
    // dljvp (forward mode, by transposing the rules) against the reverse gradient's projection.
    let mut rng = Rng::new(53);
    let x = DlArray::from(rng.array(&[3, 3], -1.0, 1.0));
    let b = DlArray::from(rng.array(&[3, 2], -1.0, 1.0));
    let v = DlArray::from(rng.array(&[3, 3], -1.0, 1.0));
    let (jv, gv) = dlfeval(
        |(x, b, v): (DlArray, DlArray, DlArray)| {
            let a = spd(&x);
            let y = (chol(&a).mldivide(&b).sum_all() + logdet(&a)).square();
            let jv = dljvp_with(&y, &x, &v, GradOptions { retain_data: true, ..Default::default() })?;
            let g = dlgradient(&y, &x)?;
            Ok((jv, (g * &v).sum_all()))
        },
        (x, b, v),
    )
    .unwrap();
    let (jv, gv) = (jv.to_scalar::<f64>().unwrap(), gv.to_scalar::<f64>().unwrap());
    assert!((jv - gv).abs() <= 1e-9 * gv.abs().max(1.0), "forward {jv} vs reverse {gv}");
}

/// One step of a recurrent cell on rows `[1, 3]` whose VJP reads residuals of every kind the
/// forward loop saves: matrix products, tanh and sigmoids, an exponential, a power, and the
/// cosine of a sine's derivative (computed by the VJP alone).
fn residual_cell(h: &DlArray, x: &DlArray, w: &DlArray) -> (DlArray, DlArray) {
    let z = h.matmul(w) + x;
    let h = (&z * 0.7).tanh() * z.sigmoid() + z.sin() * 0.3 + (&z * 0.2).exp().powf(1.5) * 0.1;
    let y = h.matmul(w).log1p();
    (h, y)
}

#[test]
fn scan_with_saved_residuals_first_and_second_order() {
    let mut rng = Rng::new(61);
    let (h0, xs, w) = (rng.array(&[1, 3], -0.5, 0.5), rng.array(&[5, 1, 3], -0.5, 0.5), rng.array(&[3, 3], -0.4, 0.4));
    // Gradients to the carry, the rows and the captured weight, through the stacked outputs too.
    check_both(
        |a| {
            let w = a[2].clone();
            let (h, ys) = scan(a[0].clone(), a[1].clone(), |h, x: DlArray| Ok(residual_cell(&h, &x, &w))).unwrap();
            h.square().sum_all() + ys.sum_all() * 0.5
        },
        &[h0.clone(), xs.clone(), w.clone()],
        Tol::F64,
    );
    // A scan inside a scan: the inner loop's residuals, and the outer one's of its results.
    check_both(
        |a| {
            let w = a[2].clone();
            let outer = |h: DlArray, x: DlArray| {
                let rows = x.reshape(&[1, 1, 3]) * DlArray::from(ndarray::array![0.5, 1.0, -0.7]).reshape(&[3, 1, 1]);
                let (h, ys) = scan(h, rows, |h, x: DlArray| Ok(residual_cell(&h, &x, &w)))?;
                Ok((h.tanh(), ys.sum_all()))
            };
            let (h, ys) = scan(a[0].clone(), a[1].clone(), outer).unwrap();
            h.sum_all() + ys.sum_all()
        },
        &[h0, xs, w],
        Tol::F64,
    );
}

#[test]
fn scan_with_saved_complex_residuals_first_order() {
    let mut rng = Rng::new(67);
    check_grad_complex(
        |a| {
            let w = a[1].clone();
            let (z, ys) = scan(a[0].clone(), a[2].clone(), |z, x: DlArray| {
                let z = (&z * &w + &x).sin() + (&z * 0.5).exp() * 0.2;
                Ok((z.clone(), z.tanh()))
            })
            .unwrap();
            z.abs().square().sum_all() + ys.abs().square().sum_all()
        },
        &[rng.complex(&[2], -0.6, 0.6), rng.complex(&[2], -0.6, 0.6), rng.complex(&[4, 2], -0.6, 0.6)],
        Tol::F64,
    );
}
