//! Every bad input gives an `Err` whose message says what went wrong (docs/API.md section 3), and
//! nothing panics across the public API.

// `s![1..-1]`-style bounds are ndarray's slice syntax, not ranges.
#![allow(clippy::reversed_empty_ranges)]

use cranegrad::prelude::*;
use ndarray::{array, s, ArrayD, IxDyn};
use num_complex::Complex64;
use std::panic::{catch_unwind, AssertUnwindSafe};

fn v(values: &[f64]) -> DlArray {
    DlArray::from(ndarray::Array1::from(values.to_vec()))
}

fn m23() -> DlArray {
    DlArray::from(array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
}

#[track_caller]
fn assert_mentions(e: &Error, parts: &[&str]) {
    let text = e.to_string();
    for p in parts {
        assert!(text.contains(p), "{text:?} should mention {p:?}");
    }
}

#[test]
fn dlgradient_outside_dlfeval() {
    let x = v(&[1.0, 2.0]);
    let e = dlgradient(&x.sum_all(), &x).unwrap_err();
    assert_mentions(&e, &["outside dlfeval"]);
}

#[test]
fn dlgradient_of_a_non_scalar() {
    let e = dlfeval(|x: DlArray| dlgradient(&x.square(), &x), v(&[1.0, 2.0])).unwrap_err();
    assert_mentions(&e, &["scalar", "[2]", "sum_all"]);
}

#[test]
fn dlgradient_of_a_complex_y() {
    let e = dlfeval(|x: DlArray| dlgradient(&(&x * Complex64::new(1.0, 1.0)).sum_all(), &x), v(&[1.0])).unwrap_err();
    assert_mentions(&e, &["real", "c128"]);
}

#[test]
fn dlgradient_of_an_untraced_y() {
    let outside = DlArray::scalar(3.0);
    let e = dlfeval(|x: DlArray| dlgradient(&(&outside * 2.0), &x), v(&[1.0])).unwrap_err();
    assert_mentions(&e, &["not traced"]);
    // A gradient taken without higher derivatives is untraced too.
    let e = dlfeval(
        |x: DlArray| {
            let g = dlgradient(&x.square().sum_all(), &x)?;
            dlgradient(&g.sum_all(), &x)
        },
        v(&[1.0]),
    )
    .unwrap_err();
    assert_mentions(&e, &["not traced"]);
}

#[test]
fn shape_mismatch_inside_dlfeval_names_the_op_and_shapes() {
    let e = dlfeval(|(a, b): (DlArray, DlArray)| Ok(&a + &b), (m23(), v(&[1.0, 2.0, 3.0, 4.0]))).unwrap_err();
    assert_mentions(&e, &["add", "[2, 3]", "[4]"]);
    // Reported even when the closure drops the failed array and returns something else.
    let e = dlfeval(
        |(a, b): (DlArray, DlArray)| {
            let _unused = &a * &b;
            Ok(a)
        },
        (m23(), v(&[1.0, 2.0, 3.0, 4.0])),
    )
    .unwrap_err();
    assert_mentions(&e, &["mul", "[2, 3]", "[4]"]);
    // And dlgradient reports it too.
    let e = dlfeval(
        |(a, b): (DlArray, DlArray)| {
            let bad = (&a - &b).sum_all();
            dlgradient(&bad, &a)
        },
        (m23(), v(&[1.0, 2.0])),
    )
    .unwrap_err();
    assert_mentions(&e, &["sub", "[2, 3]", "[2]"]);
}

#[test]
fn matmul_mismatch() {
    let e = dlfeval(
        |(a, b): (DlArray, DlArray)| Ok(a.matmul(&b)),
        (m23(), DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[4, 2])))),
    )
    .unwrap_err();
    assert_mentions(&e, &["matmul", "[2, 3]", "[4, 2]"]);
    let e = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[2, 2, 3])))
        .matmul(&DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[3, 3, 2]))))
        .extractdata::<f64>()
        .unwrap_err();
    assert_mentions(&e, &["matmul", "batch"]);
    let e = m23().matmul(&DlArray::scalar(2.0)).extractdata::<f64>().unwrap_err();
    assert_mentions(&e, &["matmul"]);
}

#[test]
fn reshape_to_the_wrong_count() {
    let e = dlfeval(|x: DlArray| Ok(x.reshape(&[4, 2])), m23()).unwrap_err();
    assert_mentions(&e, &["reshape", "[2, 3]", "[4, 2]"]);
}

#[test]
fn at_out_of_range() {
    let e = m23().at(6).extractdata::<f64>().unwrap_err();
    assert_mentions(&e, &["at", "6", "6 elements"]);
    let e = dlfeval(|x: DlArray| Ok(x.at(100)), m23()).unwrap_err();
    assert_mentions(&e, &["at", "100"]);
    assert!(DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[0]))).at(0).extractdata::<f64>().is_err());
}

#[test]
fn slice_out_of_range() {
    let x = v(&[1.0, 2.0, 3.0]);
    let e = x.slice(s![5..]).extractdata::<f64>().unwrap_err();
    assert_mentions(&e, &["slice", "axis 0", "length 3"]);
    let e = x.slice(s![3]).extractdata::<f64>().unwrap_err();
    assert_mentions(&e, &["slice", "index 3"]);
    let e = x.slice(s![-4]).extractdata::<f64>().unwrap_err();
    assert_mentions(&e, &["slice", "-4"]);
    let e = x.slice(s![..-5]).extractdata::<f64>().unwrap_err();
    assert_mentions(&e, &["slice"]);
    let e = dlfeval(|x: DlArray| Ok(x.slice(s![.., .., 0])), m23()).unwrap_err();
    assert_mentions(&e, &["slice", "3 axes", "[2, 3]"]);
}

#[test]
fn extractdata_and_to_scalar_of_the_wrong_type() {
    let e = m23().extractdata::<Complex64>().unwrap_err();
    assert_mentions(&e, &["extractdata"]);
    let e = DlArray::scalar(1.0).to_scalar::<bool>().unwrap_err();
    assert_mentions(&e, &["to_scalar"]);
    let e = m23().to_scalar::<f64>().unwrap_err();
    assert_mentions(&e, &["to_scalar", "6 elements"]);
}

#[test]
fn a_failed_op_outside_a_trace_surfaces_at_extractdata() {
    let bad = &m23() + &v(&[1.0, 2.0]);
    let e = bad.extractdata::<f64>().unwrap_err();
    assert_mentions(&e, &["add", "[2, 3]", "[2]"]);
    assert!(bad.to_scalar::<f64>().is_err());
    // It propagates through later ops, unchanged.
    let later = (bad.exp() * 2.0).sum_all().reshape(&[1]);
    assert_eq!(later.extractdata::<f64>().unwrap_err(), e);
    assert!(format!("{later}").contains("add"));
    assert!(format!("{later:?}").contains("error"));
}

#[test]
fn a_panic_inside_dlfeval_becomes_an_err() {
    let e = dlfeval(
        |x: DlArray| -> Result<DlArray> {
            if x.numel() > 0 {
                panic!("boom from the model function");
            }
            Ok(x)
        },
        v(&[1.0]),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Panicked(_)));
    assert_mentions(&e, &["boom from the model function"]);
    // The trace stack is intact afterwards.
    let g = dlfeval(|x: DlArray| dlgradient(&x.square().sum_all(), &x), v(&[3.0])).unwrap();
    assert_eq!(g.to_scalar::<f64>().unwrap(), 6.0);
    let e = dlgradient(&v(&[1.0]).sum_all(), &v(&[1.0])).unwrap_err();
    assert_mentions(&e, &["outside dlfeval"]);
    // The same inside make_ir.
    let e = make_ir(|_: DlArray| -> Result<DlArray> { panic!("ir boom") }, v(&[1.0])).unwrap_err();
    assert_mentions(&e, &["ir boom"]);
}

#[test]
fn errors_from_the_closure_and_from_make_ir_pass_through() {
    let e = dlfeval(|_: DlArray| -> Result<DlArray> { Err(Error::Gradient("mine".into())) }, v(&[1.0])).unwrap_err();
    assert_mentions(&e, &["mine"]);
    let e = make_ir(|(a, b): (DlArray, DlArray)| Ok(&a / &b), (m23(), v(&[1.0, 2.0]))).unwrap_err();
    assert_mentions(&e, &["div", "[2, 3]", "[2]"]);
}

/// A deferred call that should produce an array carrying an error.
type Case<'a> = Box<dyn FnOnce() -> DlArray + 'a>;

/// Runs `f` and fails the test if it panics; returns whether `f` reported an error.
#[track_caller]
fn no_panic(label: &str, f: impl FnOnce() -> bool) -> bool {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(is_err) => is_err,
        Err(_) => panic!("{label} panicked"),
    }
}

#[test]
fn bad_inputs_give_errors_and_never_panic() {
    let x = m23();
    let z = DlArray::from(array![Complex64::new(1.0, 1.0)]);
    let b = DlArray::from(array![true, false]);
    let empty = DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[0, 3])));
    let err = |a: DlArray| a.extractdata::<f64>().is_err() && a.extractdata::<Complex64>().is_err();
    let cases: Vec<(&str, Case<'_>)> = vec![
        ("permute with too few axes", Box::new(|| x.permute(&[0]))),
        ("permute with a repeated axis", Box::new(|| x.permute(&[0, 0]))),
        ("permute with an axis out of range", Box::new(|| x.permute(&[0, 5]))),
        ("sum over an axis out of range", Box::new(|| x.sum_axes(&[2], false))),
        ("sum over a repeated axis", Box::new(|| x.sum_axes(&[1, 1], true))),
        ("mean over an axis out of range", Box::new(|| x.mean_axes(&[7], true))),
        ("max over an axis out of range", Box::new(|| x.max_axes(&[3], false))),
        ("max of complex", Box::new(|| z.max_axes(&[0], false))),
        ("concat of different shapes", Box::new(|| concat(&[&x, &v(&[1.0])], 0))),
        ("concat along a missing axis", Box::new(|| concat(&[&x, &x], 2))),
        ("concat of nothing", Box::new(|| concat(&[], 0))),
        ("broadcast to an incompatible shape", Box::new(|| x.broadcast_to(&[3, 3]))),
        ("broadcast to fewer axes", Box::new(|| x.broadcast_to(&[3]))),
        ("erf of complex", Box::new(|| z.erf())),
        ("floor of complex", Box::new(|| z.floor())),
        ("maximum of complex", Box::new(|| z.maximum(&z))),
        ("atan2 of complex", Box::new(|| z.atan2(&z))),
        ("complex from complex", Box::new(|| DlArray::complex(&z, &z))),
        ("lt of complex", Box::new(|| z.lt(&z).cast(DType::F64))),
        ("select with shapes that do not broadcast", Box::new(|| select(&b, &x, &x))),
        ("reshape of an empty array to a nonempty shape", Box::new(|| empty.reshape(&[1]))),
        ("at on an empty array", Box::new(|| empty.at(0))),
        ("slice with too many axes", Box::new(|| x.slice(s![0, 0, 0]))),
        ("slice past the end", Box::new(|| x.slice(s![.., 1..9]))),
        ("matmul of a vector and a scalar", Box::new(|| v(&[1.0]).matmul(&DlArray::scalar(1.0)))),
        ("matmul of vectors of different lengths", Box::new(|| v(&[1.0, 2.0]).matmul(&v(&[1.0])))),
        ("cast of a failed array", Box::new(|| x.reshape(&[5]).cast(DType::F32))),
        ("operator on a failed array", Box::new(|| 1.0 + x.reshape(&[5]))),
        ("reshape to a count that overflows", Box::new(|| x.reshape(&[usize::MAX, 2, 3]))),
        ("reshape of an empty array to a huge shape", Box::new(|| empty.reshape(&[usize::MAX, 0, 2]).reshape(&[1]))),
        ("method on a failed array", Box::new(|| x.reshape(&[5]).slice(s![..;-1]).at(0).matmul(&x))),
    ];
    for (label, case) in cases {
        assert!(no_panic(label, || err(case())), "{label} should be an error");
    }
    // Gradients of bad things, inside and outside traces.
    assert!(no_panic("dlgradient of a failed y", || {
        dlfeval(|a: DlArray| dlgradient(&a.reshape(&[7]).sum_all(), &a), m23()).is_err()
    }));
    assert!(no_panic("dlgradient with respect to a failed variable", || {
        dlfeval(|a: DlArray| dlgradient(&a.sum_all(), &a.reshape(&[7])), m23()).is_err()
    }));
    assert!(no_panic("dlgradient of a logical y", || {
        dlfeval(|a: DlArray| dlgradient(&a.sum_all().gt(&DlArray::scalar(0.0)), &a), m23()).is_err()
    }));
    assert!(no_panic("dlfeval with a failed argument", || dlfeval(|a: DlArray| Ok(a), x.reshape(&[5])).is_err()));
    assert!(no_panic("display of a failed array", || !format!("{}", x.reshape(&[5])).is_empty()));
    assert!(no_panic("to_scalar of an empty array", || empty.to_scalar::<f64>().is_err()));
    // Well-defined edge cases are not errors.
    assert!(!no_panic("sum of an empty array", || err(empty.sum_all())));
    assert!(!no_panic("matmul with an empty inner axis", || {
        err(DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[2, 0])))
            .matmul(&DlArray::from(ArrayD::<f64>::zeros(IxDyn(&[0, 3])))))
    }));
    assert!(!no_panic("an empty slice", || err(x.slice(s![.., 2..1]))));
}

#[test]
fn the_public_interpreter_refuses_operands_and_graphs_that_break_the_rules() {
    use cranegrad::internals::interp;
    use cranegrad::internals::Data;
    use cranegrad::ir::{Graph, Node, Op};
    use std::sync::Arc;
    let x = Data::zeros(DType::F64, &[2, 3]);
    let err = interp::eval(&Op::Reshape(vec![4]), &[&x]).unwrap_err();
    assert!(err.to_string().contains("reshape"), "{err}");
    let mut g = Graph::new();
    let a = g.input(0, DType::F64, &[2]);
    g.nodes.push(Node::new(Op::Reshape(vec![3]), vec![a], DType::F64, vec![3], 0));
    g.outputs = vec![1];
    let err = interp::run(&g, &[Arc::new(Data::zeros(DType::F64, &[2]))]).unwrap_err();
    assert!(err.to_string().contains("reshape"), "{err}");
}
