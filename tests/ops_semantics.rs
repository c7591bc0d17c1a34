//! Operation semantics (docs/API.md section 2), each checked against values computed independently
//! with plain ndarray or std on the raw data.

// `s![1..-1]` is ndarray's slice syntax (a negative end counts from the back), not a range.
#![allow(clippy::reversed_empty_ranges)]

mod common;

use common::{assert_close, Rng};
use cranegrad::prelude::*;
use ndarray::{array, s, Array, ArrayD, Axis, Ix2, IxDyn, NewAxis};
use num_complex::Complex64;

fn arange(shape: &[usize]) -> ArrayD<f64> {
    let n: usize = shape.iter().product();
    Array::from_iter((0..n).map(|v| v as f64)).into_shape_with_order(IxDyn(shape)).unwrap()
}

fn data(x: &DlArray) -> ArrayD<f64> {
    x.extractdata::<f64>().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn at_is_the_row_major_linear_index() {
    let a = arange(&[2, 3, 4]).mapv(|v| v * 1.5 - 7.0);
    let x = DlArray::from(a.clone());
    let flat: Vec<f64> = a.iter().copied().collect();
    for (i, &want) in flat.iter().enumerate() {
        let e = x.at(i);
        assert_eq!(e.shape(), &[] as &[usize]);
        assert_eq!(e.to_scalar::<f64>().unwrap(), want, "at({i})");
    }
    assert_eq!(DlArray::scalar(4.0).at(0).to_scalar::<f64>().unwrap(), 4.0);
    let z = DlArray::from(array![[Complex64::new(1.0, 2.0), Complex64::new(3.0, 4.0)]]);
    assert_eq!(z.at(1).to_scalar::<Complex64>().unwrap(), Complex64::new(3.0, 4.0));
}

/// Compares `x.slice(s![..])` with ndarray's own `.slice(s![..])` on the same data.
macro_rules! same_as_ndarray {
    ($a:expr, $($info:tt)*) => {{
        let a = &$a;
        let want = a.slice(s![$($info)*]).to_owned().into_dyn();
        let got = DlArray::from(a.clone()).slice(s![$($info)*]);
        assert_eq!(got.shape(), want.shape(), "shape of s![{}]", stringify!($($info)*));
        assert_eq!(data(&got), want, "values of s![{}]", stringify!($($info)*));
    }};
}

#[test]
fn slice_matches_ndarray_on_vectors() {
    let v = arange(&[7]).into_dimensionality::<ndarray::Ix1>().unwrap();
    same_as_ndarray!(v, ..);
    same_as_ndarray!(v, ..;-2);
    same_as_ndarray!(v, ..;-1);
    same_as_ndarray!(v, -3..;2);
    same_as_ndarray!(v, -3..);
    same_as_ndarray!(v, ..-2);
    same_as_ndarray!(v, 1..-1);
    same_as_ndarray!(v, 1..-1;-2);
    same_as_ndarray!(v, 2..6;-3);
    same_as_ndarray!(v, 1..4;3);
    same_as_ndarray!(v, 5..2);
    same_as_ndarray!(v, 3..3);
    same_as_ndarray!(v, -7..;-4);
    same_as_ndarray!(v, 2);
    same_as_ndarray!(v, -1);
    same_as_ndarray!(v, NewAxis, 2..5);
    same_as_ndarray!(v, 2..5, NewAxis);
}

#[test]
fn slice_matches_ndarray_on_matrices_and_tensors() {
    let m = arange(&[4, 5]).into_dimensionality::<Ix2>().unwrap();
    same_as_ndarray!(m, 1..-1, ..;-1);
    same_as_ndarray!(m, ..;-2, 1..;2);
    same_as_ndarray!(m, -1, ..);
    same_as_ndarray!(m, .., -2);
    same_as_ndarray!(m, 2, 3);
    same_as_ndarray!(m, NewAxis, ..;-3, NewAxis, 4);
    let got = DlArray::from(m.clone()).slice(s![1..3]);
    assert_eq!(data(&got), m.slice(s![1..3, ..]).to_owned().into_dyn());
    let t = arange(&[3, 4, 5]).into_dimensionality::<ndarray::Ix3>().unwrap();
    same_as_ndarray!(t, 1.., ..;-3, 1..4;2);
    same_as_ndarray!(t, -1, .., ..;-1);
    same_as_ndarray!(t, ..;-1, 2, -4..-1);
    same_as_ndarray!(t, NewAxis, 0, NewAxis, .., -1);
    // Unnamed trailing axes are taken whole.
    let got = DlArray::from(t.clone().into_dyn()).slice(s![1]);
    assert_eq!(data(&got), t.slice(s![1, .., ..]).to_owned().into_dyn());
}

#[test]
fn slice_of_complex_and_logical_keeps_the_dtype() {
    let z = Array::from_shape_fn(5, |i| Complex64::new(i as f64, -(i as f64)));
    let got = DlArray::from(z.clone()).slice(s![..;-2]);
    assert_eq!(got.extractdata::<Complex64>().unwrap(), z.slice(s![..;-2]).to_owned().into_dyn());
    let b = array![true, false, false, true];
    let got = DlArray::from(b.clone()).slice(s![1..]);
    assert_eq!(got.extractdata::<bool>().unwrap(), b.slice(s![1..]).to_owned().into_dyn());
}

#[test]
fn reshape_transpose_permute_concat() {
    let a = arange(&[2, 3, 4]);
    let x = DlArray::from(a.clone());
    assert_eq!(data(&x.reshape(&[4, 6])), a.clone().into_shape_with_order(IxDyn(&[4, 6])).unwrap());
    assert_eq!(data(&x.reshape(&[24])), arange(&[24]));
    assert_eq!(data(&x.reshape(&[2, 1, 12, 1])), arange(&[2, 1, 12, 1]));
    assert_eq!(data(&x.transpose()), a.clone().reversed_axes().as_standard_layout().to_owned());
    assert_eq!(x.transpose().shape(), &[4, 3, 2]);
    for axes in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let want = a.clone().permuted_axes(IxDyn(&axes)).as_standard_layout().to_owned();
        assert_eq!(data(&x.permute(&axes)), want, "permute {axes:?}");
    }
    let m = DlArray::from(array![[1.0, 2.0], [3.0, 4.0]]);
    assert_eq!(data(&m.transpose()), array![[1.0, 3.0], [2.0, 4.0]].into_dyn());
    let b = arange(&[2, 1, 4]).mapv(|v| -v);
    let c = arange(&[2, 3, 4]).mapv(|v| v + 100.0);
    let y = DlArray::from(b.clone());
    let w = DlArray::from(c.clone());
    let want = ndarray::concatenate(Axis(1), &[a.view(), b.view(), c.view()]).unwrap();
    assert_eq!(data(&concat(&[&x, &y, &w], 1)), want);
    let want = ndarray::concatenate(Axis(0), &[a.view(), c.view()]).unwrap();
    assert_eq!(data(&concat(&[&x, &w], 0)), want);
    let want = ndarray::concatenate(Axis(2), &[a.view(), a.view()]).unwrap();
    assert_eq!(data(&concat(&[&x, &x], 2)), want);
    // Promotion across the joined arrays.
    let mixed = concat(&[&DlArray::from(array![1.0f32]), &DlArray::from(array![2.0])], 0);
    assert_eq!(mixed.dtype(), DType::F32);
    assert_eq!(concat(&[&x], 0).shape(), x.shape());
}

fn sum_over(a: &ArrayD<f64>, axes: &[usize], keepdims: bool) -> ArrayD<f64> {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable_by(|p, q| q.cmp(p));
    let mut r = a.clone();
    for &ax in &sorted {
        r = if keepdims { r.sum_axis(Axis(ax)).insert_axis(Axis(ax)) } else { r.sum_axis(Axis(ax)) };
    }
    r
}

#[test]
fn sums_and_means_over_each_axis_with_keepdims() {
    let mut rng = Rng::new(21);
    let a = rng.array(&[2, 3, 4], -1.0, 1.0);
    let x = DlArray::from(a.clone());
    assert_close(&data(&x.sum_all()), &ndarray::arr0(a.sum()).into_dyn(), 1e-14);
    assert_close(&data(&x.mean_all()), &ndarray::arr0(a.sum() / 24.0).into_dyn(), 1e-14);
    assert_eq!(x.sum_all().shape(), &[] as &[usize]);
    let axes_sets: [&[usize]; 8] = [&[0], &[1], &[2], &[0, 1], &[0, 2], &[1, 2], &[2, 0], &[0, 1, 2]];
    for axes in axes_sets {
        let count: usize = axes.iter().map(|&ax| a.shape()[ax]).product();
        for keepdims in [false, true] {
            let want = sum_over(&a, axes, keepdims);
            let got = x.sum_axes(axes, keepdims);
            assert_eq!(got.shape(), want.shape(), "sum axes {axes:?} keepdims {keepdims}");
            assert_close(&data(&got), &want, 1e-14);
            let got = x.mean_axes(axes, keepdims);
            assert_close(&data(&got), &want.mapv(|v| v / count as f64), 1e-14);
        }
    }
    assert_eq!(data(&x.sum_axes(&[], false)), a);
    // Logical sums count, in double.
    let b = DlArray::from(array![[true, false, true], [true, true, true]]);
    let s = b.sum_axes(&[1], false);
    assert_eq!(s.dtype(), DType::F64);
    assert_eq!(data(&s), array![2.0, 3.0].into_dyn());
    // Complex sums.
    let z = DlArray::from(array![Complex64::new(1.0, 2.0), Complex64::new(-3.0, 0.5)]);
    assert_eq!(z.sum_all().to_scalar::<Complex64>().unwrap(), Complex64::new(-2.0, 2.5));
}

#[test]
fn max_and_min_over_axes() {
    let a = array![[3.0, -1.0, 7.0], [2.0, 5.0, f64::NAN]].into_dyn();
    let x = DlArray::from(a);
    assert_eq!(data(&x.max_axes(&[0], false)), array![3.0, 5.0, 7.0].into_dyn());
    assert_eq!(data(&x.min_axes(&[1], true)), array![[-1.0], [2.0]].into_dyn());
    assert_eq!(data(&x.max_axes(&[0, 1], false)), ndarray::arr0(7.0).into_dyn());
}

/// numpy matmul, written out with explicit loops.
fn matmul_ref(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    let (va, vb) = (a.ndim() == 1, b.ndim() == 1);
    let a = if va { a.clone().insert_axis(Axis(0)) } else { a.clone() };
    let b = if vb { b.clone().insert_axis(Axis(1)) } else { b.clone() };
    let (ra, rb) = (a.ndim(), b.ndim());
    let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
    assert_eq!(k, b.shape()[rb - 2]);
    let (ba, bb) = (&a.shape()[..ra - 2], &b.shape()[..rb - 2]);
    let rank = ba.len().max(bb.len());
    let pad = |s: &[usize]| -> Vec<usize> { std::iter::repeat_n(1, rank - s.len()).chain(s.iter().copied()).collect() };
    let (pa, pb) = (pad(ba), pad(bb));
    let batch: Vec<usize> = pa.iter().zip(&pb).map(|(&p, &q)| p.max(q)).collect();
    let mut out_shape = batch.clone();
    out_shape.extend([m, n]);
    let mut out = ArrayD::zeros(IxDyn(&out_shape));
    let nb: usize = batch.iter().product();
    for flat in 0..nb {
        let mut idx = vec![0; rank];
        let mut rest = flat;
        for d in (0..rank).rev() {
            idx[d] = rest % batch[d];
            rest /= batch[d];
        }
        let ia: Vec<usize> = idx[rank - ba.len()..].iter().zip(ba).map(|(&i, &d)| if d == 1 { 0 } else { i }).collect();
        let ib: Vec<usize> = idx[rank - bb.len()..].iter().zip(bb).map(|(&i, &d)| if d == 1 { 0 } else { i }).collect();
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0;
                for p in 0..k {
                    let mut xa = ia.clone();
                    xa.extend([i, p]);
                    let mut xb = ib.clone();
                    xb.extend([p, j]);
                    acc += a[IxDyn(&xa)] * b[IxDyn(&xb)];
                }
                let mut xo = idx.clone();
                xo.extend([i, j]);
                out[IxDyn(&xo)] = acc;
            }
        }
    }
    let mut shape = out.shape().to_vec();
    if vb {
        shape.pop();
    }
    if va {
        shape.remove(shape.len() - if vb { 1 } else { 2 });
    }
    out.into_shape_with_order(IxDyn(&shape)).unwrap()
}

#[test]
fn matmul_2d_batched_broadcast_and_one_dimensional() {
    let mut rng = Rng::new(22);
    let cases: [(&[usize], &[usize], &[usize]); 10] = [
        (&[2, 3], &[3, 4], &[2, 4]),
        (&[5, 2, 3], &[5, 3, 4], &[5, 2, 4]),
        (&[2, 3, 2, 3], &[2, 3, 3, 2], &[2, 3, 2, 2]),
        (&[2, 1, 2, 3], &[4, 3, 2], &[2, 4, 2, 2]),
        (&[2, 3], &[4, 3, 5], &[4, 2, 5]),
        (&[3], &[3, 4], &[4]),
        (&[2, 3], &[3], &[2]),
        (&[3], &[3], &[]),
        (&[3], &[2, 3, 4], &[2, 4]),
        (&[2, 2, 3], &[3], &[2, 2]),
    ];
    for (sa, sb, so) in cases {
        let a = rng.array(sa, -1.0, 1.0);
        let b = rng.array(sb, -1.0, 1.0);
        let got = DlArray::from(a.clone()).matmul(&DlArray::from(b.clone()));
        assert_eq!(got.shape(), so, "{sa:?} x {sb:?}");
        assert_close(&data(&got), &matmul_ref(&a, &b), 1e-13);
    }
    let a = array![[1.0, 2.0], [3.0, 4.0]];
    let b = array![[5.0, 6.0], [7.0, 8.0]];
    let got = DlArray::from(a.clone()).matmul(&DlArray::from(b.clone()));
    assert_eq!(data(&got), a.dot(&b).into_dyn());
    // Complex and single precision.
    let z = array![[Complex64::new(1.0, 1.0), Complex64::new(0.0, 2.0)]];
    let w = array![[Complex64::new(2.0, 0.0)], [Complex64::new(1.0, -1.0)]];
    let got = DlArray::from(z.clone()).matmul(&DlArray::from(w.clone()));
    assert_eq!(got.extractdata::<Complex64>().unwrap(), z.dot(&w).into_dyn());
    let f = DlArray::from(array![[1.0f32, 2.0]]).matmul(&DlArray::from(array![[3.0], [4.0]]));
    assert_eq!(f.dtype(), DType::F32);
    assert_eq!(f.extractdata::<f32>().unwrap(), array![[11.0f32]].into_dyn());
}

type Method = fn(&DlArray) -> DlArray;
type Reference = fn(f64) -> f64;
type Reference32 = fn(f32) -> f32;
type ComplexReference = fn(Complex64) -> Complex64;
type PartReference = fn(Complex64) -> f64;
type Comparison = fn(&DlArray, &DlArray) -> DlArray;
type Order = fn(f64, f64) -> bool;

fn round_half_away(v: f64) -> f64 {
    v.round()
}

fn sign(v: f64) -> f64 {
    if v > 0.0 {
        1.0
    } else if v < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[test]
fn every_real_elementwise_method_matches_std() {
    let mut rng = Rng::new(23);
    let mut values = rng.array(&[40], -3.0, 3.0);
    // Kinks, halves (MATLAB rounds them away from zero) and zero.
    for (i, v) in [0.0, 0.5, -0.5, 1.5, -2.5, 2.0, -1.0].iter().enumerate() {
        values[i] = *v;
    }
    let x = DlArray::from(values.clone());
    let cases: Vec<(&str, Method, Reference)> = vec![
        ("exp", |x| x.exp(), f64::exp),
        ("log", |x| x.log(), f64::ln),
        ("sin", |x| x.sin(), f64::sin),
        ("cos", |x| x.cos(), f64::cos),
        ("tan", |x| x.tan(), f64::tan),
        ("tanh", |x| x.tanh(), f64::tanh),
        ("sqrt", |x| x.sqrt(), f64::sqrt),
        ("abs", |x| x.abs(), f64::abs),
        ("square", |x| x.square(), |v| v * v),
        ("sigmoid", |x| x.sigmoid(), |v| 1.0 / (1.0 + (-v).exp())),
        ("relu", |x| x.relu(), |v| v.max(0.0)),
        ("powf 3", |x| x.powf(3.0), |v| v.powf(3.0)),
        ("powf 0.5", |x| x.powf(0.5), |v| v.powf(0.5)),
        ("powf -2", |x| x.powf(-2.0), |v| v.powf(-2.0)),
        ("real", |x| x.real(), |v| v),
        ("imag", |x| x.imag(), |_| 0.0),
        ("conj", |x| x.conj(), |v| v),
        ("neg", |x| -x, |v| -v),
        ("floor", |x| x.floor(), f64::floor),
        ("ceil", |x| x.ceil(), f64::ceil),
        ("round", |x| x.round(), round_half_away),
        ("log1p", |x| x.log1p(), f64::ln_1p),
        ("expm1", |x| x.expm1(), f64::exp_m1),
        ("asin", |x| x.asin(), f64::asin),
        ("acos", |x| x.acos(), f64::acos),
        ("atan", |x| x.atan(), f64::atan),
        ("asinh", |x| x.asinh(), f64::asinh),
        ("acosh", |x| x.acosh(), f64::acosh),
        ("atanh", |x| x.atanh(), f64::atanh),
        ("erf", |x| x.erf(), libm::erf),
        ("sign", |x| x.sign(), sign),
        ("recip", |x| x.recip(), |v| 1.0 / v),
        ("stop_gradient", |x| x.stop_gradient(), |v| v),
    ];
    // Derived coverage: every unary primitive (the rows of ir/primitives.rs) has a case here.
    for u in cranegrad::ir::UnaryOp::ALL {
        assert!(
            cases.iter().any(|c| c.0 == u.name()),
            "UnaryOp::{u:?} has no real reference case in this list: add one (docs/ARCHITECTURE.md)"
        );
    }
    for (name, method, reference) in cases {
        let got = method(&x);
        assert_eq!(got.dtype(), DType::F64, "{name}");
        let got = data(&got);
        for (j, (&g, &v)) in got.iter().zip(values.iter()).enumerate() {
            let want = reference(v);
            let ok = (g.is_nan() && want.is_nan()) || g == want || (g - want).abs() <= 1e-14 * (1.0 + want.abs());
            assert!(ok, "{name}({v}) at {j}: got {g}, std gives {want}");
        }
    }
}

#[test]
fn single_precision_methods_match_std_f32() {
    let values = array![-2.5f32, -0.3, 0.0, 0.7, 1.5, 2.9];
    let x = DlArray::from(values.clone());
    let cases: Vec<(&str, Method, Reference32)> = vec![
        ("exp", |x| x.exp(), f32::exp),
        ("sin", |x| x.sin(), f32::sin),
        ("tanh", |x| x.tanh(), f32::tanh),
        ("abs", |x| x.abs(), f32::abs),
        ("round", |x| x.round(), f32::round),
        ("atan", |x| x.atan(), f32::atan),
    ];
    for (name, method, reference) in cases {
        let got = method(&x);
        assert_eq!(got.dtype(), DType::F32, "{name}");
        for (&g, &v) in got.extractdata::<f32>().unwrap().iter().zip(values.iter()) {
            let want = reference(v);
            assert!((g - want).abs() <= 1e-6 * (1.0 + want.abs()), "{name}({v}): got {g}, std gives {want}");
        }
    }
}

#[test]
fn complex_elementwise_methods_match_num_complex() {
    let mut rng = Rng::new(24);
    let values = rng.complex(&[12], -2.0, 2.0);
    let x = DlArray::from(values.clone());
    let cases: Vec<(&str, Method, ComplexReference)> = vec![
        ("exp", |x| x.exp(), |v| v.exp()),
        ("log", |x| x.log(), |v| v.ln()),
        ("sin", |x| x.sin(), |v| v.sin()),
        ("cos", |x| x.cos(), |v| v.cos()),
        ("tan", |x| x.tan(), |v| v.tan()),
        ("tanh", |x| x.tanh(), |v| v.tanh()),
        ("sqrt", |x| x.sqrt(), |v| v.sqrt()),
        ("square", |x| x.square(), |v| v * v),
        ("recip", |x| x.recip(), |v| v.inv()),
        ("conj", |x| x.conj(), |v| v.conj()),
        ("neg", |x| -x, |v| -v),
        ("powf 2.5", |x| x.powf(2.5), |v| v.powf(2.5)),
        ("sign", |x| x.sign(), |v| v / v.norm()),
        ("sigmoid", |x| x.sigmoid(), |v| (1.0 + (-v).exp()).inv()),
        ("log1p", |x| x.log1p(), |v| (1.0 + v).ln()),
        ("expm1", |x| x.expm1(), |v| v.exp() - 1.0),
        ("asin", |x| x.asin(), |v| v.asin()),
        ("acos", |x| x.acos(), |v| v.acos()),
        ("atan", |x| x.atan(), |v| v.atan()),
        ("asinh", |x| x.asinh(), |v| v.asinh()),
        ("acosh", |x| x.acosh(), |v| v.acosh()),
        ("atanh", |x| x.atanh(), |v| v.atanh()),
        ("stop_gradient", |x| x.stop_gradient(), |v| v),
    ];
    let complex_names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    for (name, method, reference) in cases {
        let got = method(&x);
        assert_eq!(got.dtype(), DType::C128, "{name}");
        for (&g, &v) in got.extractdata::<Complex64>().unwrap().iter().zip(values.iter()) {
            let want = reference(v);
            assert!((g - want).norm() <= 1e-12 * (1.0 + want.norm()), "{name}({v}): got {g}, want {want}");
        }
    }
    let parts: Vec<(&str, Method, PartReference)> =
        vec![("abs", |x| x.abs(), |v| v.norm()), ("real", |x| x.real(), |v| v.re), ("imag", |x| x.imag(), |v| v.im)];
    // Derived coverage: every unary primitive defined on complex operands has a case.
    for u in cranegrad::ir::UnaryOp::ALL.into_iter().filter(|u| !u.real_only()) {
        assert!(
            complex_names.contains(&u.name()) || parts.iter().any(|c| c.0 == u.name()),
            "UnaryOp::{u:?} has no complex reference case in this list: add one (docs/ARCHITECTURE.md)"
        );
    }
    for (name, method, reference) in parts {
        let got = method(&x);
        assert_eq!(got.dtype(), DType::F64, "{name}");
        for (&g, &v) in data(&got).iter().zip(values.iter()) {
            assert!((g - reference(v)).abs() <= 1e-14 * (1.0 + g.abs()), "{name}({v}): got {g}");
        }
    }
    let re = DlArray::from(array![1.0, 2.0]);
    let im = DlArray::from(array![[3.0], [-4.0]]);
    let c = DlArray::complex(&re, &im);
    assert_eq!(
        c.extractdata::<Complex64>().unwrap(),
        array![
            [Complex64::new(1.0, 3.0), Complex64::new(2.0, 3.0)],
            [Complex64::new(1.0, -4.0), Complex64::new(2.0, -4.0)]
        ]
        .into_dyn()
    );
}

#[test]
fn binary_methods_and_comparisons_match_std() {
    let a = array![[1.0, -2.0, 3.0], [0.5, f64::NAN, -1.0]];
    let b = array![2.0, -2.0, f64::NAN];
    let (x, y) = (DlArray::from(a.clone()), DlArray::from(b.clone()));
    let pairs = |f: fn(f64, f64) -> f64| -> ArrayD<f64> {
        Array::from_shape_fn((2, 3), |(i, j)| f(a[[i, j]], b[j])).into_dyn()
    };
    let same = |got: &DlArray, want: ArrayD<f64>, name: &str| {
        let got = data(got);
        for (g, w) in got.iter().zip(want.iter()) {
            assert!((g.is_nan() && w.is_nan()) || (g - w).abs() <= 1e-15 * (1.0 + w.abs()), "{name}: {got} vs {want}");
        }
    };
    // MATLAB's max/min ignore NaN, as f64::max/min do.
    same(&x.maximum(&y), pairs(f64::max), "maximum");
    same(&x.minimum(&y), pairs(f64::min), "minimum");
    same(&x.atan2(&y), pairs(f64::atan2), "atan2");
    same(&x.pow(&y), pairs(f64::powf), "pow");
    same(&(&x + &y), pairs(|p, q| p + q), "+");
    same(&(&x - &y), pairs(|p, q| p - q), "-");
    same(&(&x * &y), pairs(|p, q| p * q), "*");
    same(&(&x / &y), pairs(|p, q| p / q), "/");
    let cmp: Vec<(&str, Comparison, Order)> = vec![
        ("lt", |p, q| p.lt(q), |p, q| p < q),
        ("le", |p, q| p.le(q), |p, q| p <= q),
        ("gt", |p, q| p.gt(q), |p, q| p > q),
        ("ge", |p, q| p.ge(q), |p, q| p >= q),
        ("eq", |p, q| p.eq_elem(q), |p, q| p == q),
        ("ne", |p, q| p.ne_elem(q), |p, q| p != q),
    ];
    for c in cranegrad::ir::CmpOp::ALL {
        assert!(cmp.iter().any(|k| k.0 == c.name()), "CmpOp::{c:?} has no case in this list");
    }
    for (name, op, reference) in cmp {
        let got = op(&x, &y);
        assert_eq!(got.dtype(), DType::Bool, "{name}");
        let want = Array::from_shape_fn((2, 3), |(i, j)| reference(a[[i, j]], b[j])).into_dyn();
        assert_eq!(got.extractdata::<bool>().unwrap(), want, "{name}");
    }
    let cond = x.gt(&y);
    let picked = select(&cond, &x, &DlArray::scalar(-9.0));
    let want = Array::from_shape_fn((2, 3), |(i, j)| if a[[i, j]] > b[j] { a[[i, j]] } else { -9.0 }).into_dyn();
    same(&picked, want, "select");
    // Mixed precision comparisons promote first.
    let c = DlArray::from(array![1.0f32, 2.0]).lt(&DlArray::from(array![1.5, 1.5]));
    assert_eq!(c.extractdata::<bool>().unwrap(), array![true, false].into_dyn());
    // Complex equality.
    let z = DlArray::from(array![Complex64::new(1.0, 1.0), Complex64::new(1.0, 0.0)]);
    assert_eq!(z.eq_elem(&DlArray::scalar(1.0)).extractdata::<bool>().unwrap(), array![false, true].into_dyn());
}

#[test]
fn real_domain_errors_are_nan_as_documented() {
    let x = DlArray::from(array![-1.0, 4.0]);
    let l = data(&x.log());
    assert!(l[0].is_nan() && l[1] == 4.0f64.ln());
    let s = data(&x.sqrt());
    assert!(s[0].is_nan() && s[1] == 2.0);
}

#[test]
fn ops_work_inside_and_outside_a_trace_alike() {
    let f = |x: &DlArray| (x.slice(s![..;-1]).matmul(&x.reshape(&[3, 1])).exp() + x.sum_all()).sin();
    let x0 = DlArray::from(array![0.1, -0.2, 0.3]);
    let outside = data(&f(&x0));
    let inside = dlfeval(|x: DlArray| Ok(f(&x)), x0).unwrap();
    assert_eq!(data(&inside), outside);
    assert!(!inside.is_traced());
}

#[test]
fn and_or_not_on_logical_arrays_broadcast_and_compile() {
    let f = |(p, q): (DlArray, DlArray)| Ok((p.and(&q), p.or(&q), p.not(), p.and(&DlArray::from(ndarray::arr0(true)))));
    let p = DlArray::from(ndarray::array![true, true, false, false]);
    let q = DlArray::from(ndarray::array![true, false, true, false]);
    let bools = |a: &DlArray| a.extractdata::<bool>().unwrap().iter().copied().collect::<Vec<bool>>();
    for (a, o, n, s) in [dlfeval(f, (p.clone(), q.clone())).unwrap(), accelerate(f).call((p.clone(), q)).unwrap()] {
        assert_eq!(bools(&a), vec![true, false, false, false]);
        assert_eq!(bools(&o), vec![true, true, true, false]);
        assert_eq!(bools(&n), vec![false, false, true, true]);
        assert_eq!(bools(&s), bools(&p));
    }
    // Numeric operands are an error that names the op.
    let e = DlArray::from(ndarray::array![1.0]).and(&p).extractdata::<bool>().unwrap_err().to_string();
    assert!(e.contains("and") && e.contains("logical"), "{e}");
}
