//! The optimizers: single steps against values worked out by hand from MATLAB's documented
//! formulas, updates over trees, error cases, and a few hundred steps minimizing known functions.

use cranegrad::prelude::*;
use ndarray::{array, ArrayD};
use num_complex::Complex64;
use std::collections::BTreeMap;

fn f64s(x: &DlArray) -> Vec<f64> {
    x.extractdata::<f64>().unwrap().iter().copied().collect()
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= tol, "got {actual:?}, expected {expected:?} (tolerance {tol})");
    }
}

fn p0() -> DlArray {
    DlArray::from(array![1.0, -2.0])
}
fn g1() -> DlArray {
    DlArray::from(array![0.1, -0.3])
}
fn g2() -> DlArray {
    DlArray::from(array![0.2, 0.1])
}

#[test]
fn adam_two_steps_match_the_formula_by_hand() {
    let mut state = AdamState::default();
    assert!(state.is_empty());
    let p1 = adamupdate(&p0(), &g1(), &mut state, 1, &AdamOptions::default()).unwrap();
    // m = 0.1 g = [0.01, -0.03]; v = 0.001 g^2 = [1e-5, 9e-5]
    assert_close(&f64s(&state.average_grad()[0]), &[0.01, -0.03], 1e-17);
    assert_close(&f64s(&state.average_sq_grad()[0]), &[1e-5, 9e-5], 1e-19);
    // bias correction t = 1: sqrt(1 - 0.999) / (1 - 0.9) = 0.31622776601683794
    // p = 1 - 1e-3 * 0.316227766 * 0.01 / (sqrt(1e-5) + 1e-8)
    //   = 1 - 1e-3 * (1 - 1e-8 / 0.00316227766) = 0.9990000031622677
    // p = -2 - 1e-3 * 0.316227766 * -0.03 / (sqrt(9e-5) + 1e-8)
    //   = -2 + 1e-3 * (1 - 1e-8 / 0.00948683298) = -1.9990000010540914
    assert_close(&f64s(&p1), &[0.9990000031622677, -1.9990000010540914], 1e-13);
    let p2 = adamupdate(&p1, &g2(), &mut state, 2, &AdamOptions::default()).unwrap();
    // m = 0.9 [0.01, -0.03] + 0.1 [0.2, 0.1] = [0.029, -0.017]
    // v = 0.999 [1e-5, 9e-5] + 0.001 [0.04, 0.01] = [4.999e-5, 9.991e-5]
    assert_close(&f64s(&state.average_grad()[0]), &[0.029, -0.017], 1e-16);
    assert_close(&f64s(&state.average_sq_grad()[0]), &[4.999e-5, 9.991e-5], 1e-18);
    // bias correction t = 2: sqrt(1 - 0.999^2) / (1 - 0.9^2) = 0.044710177 / 0.19 = 0.23531672532745276
    // p = 0.9990000031622677 - 1e-3 * 0.2353167 * 0.029 / (sqrt(4.999e-5) + 1e-8) = 0.998034822501554
    // p = -1.9990000010540914 - 1e-3 * 0.2353167 * -0.017 / (sqrt(9.991e-5) + 1e-8) = -1.9985997828825353
    assert_close(&f64s(&p2), &[0.998034822501554, -1.9985997828825353], 1e-13);
}

#[test]
fn adam_with_matlab_documentation_options() {
    // MATLAB's adamupdate example: learnRate 0.05, gradDecay 0.75, sqGradDecay 0.95, grad = ones.
    let options = AdamOptions { learn_rate: 0.05, grad_decay: 0.75, sq_grad_decay: 0.95, epsilon: 1e-8 };
    let mut state = AdamState::default();
    let p = adamupdate(&DlArray::from(array![0.5, 0.25]), &DlArray::from(array![1.0, 1.0]), &mut state, 1, &options)
        .unwrap();
    // m = 0.25, v = 0.05, bias correction = sqrt(0.05) / 0.25 = 0.8944271909999159
    // step = 0.05 * 0.894427191 * 0.25 / (sqrt(0.05) + 1e-8) = 0.04999999776393212
    assert_close(&f64s(&p), &[0.5 - 0.04999999776393212, 0.25 - 0.04999999776393212], 1e-15);
}

#[test]
fn sgdm_two_steps_match_the_formula_by_hand() {
    let mut vel = SgdmState::default();
    let p1 = sgdmupdate(&p0(), &g1(), &mut vel, &SgdmOptions::default()).unwrap();
    // vel = 0.9 * 0 - 0.01 [0.1, -0.3] = [-0.001, 0.003]; p = [1, -2] + vel = [0.999, -1.997]
    assert_close(&f64s(&vel.velocity()[0]), &[-0.001, 0.003], 1e-17);
    assert_close(&f64s(&p1), &[0.999, -1.997], 1e-15);
    let p2 = sgdmupdate(&p1, &g2(), &mut vel, &SgdmOptions::default()).unwrap();
    // vel = 0.9 [-0.001, 0.003] - 0.01 [0.2, 0.1] = [-0.0029, 0.0017]; p = [0.9961, -1.9953]
    assert_close(&f64s(&vel.velocity()[0]), &[-0.0029, 0.0017], 1e-17);
    assert_close(&f64s(&p2), &[0.9961, -1.9953], 1e-15);
}

#[test]
fn rmsprop_two_steps_match_the_formula_by_hand() {
    let mut avg = RmspropState::default();
    let p1 = rmspropupdate(&p0(), &g1(), &mut avg, &RmspropOptions::default()).unwrap();
    // v = 0.1 [0.01, 0.09] = [0.001, 0.009]
    // p = 1 - 1e-3 * 0.1 / (sqrt(0.001) + 1e-8) = 0.9968377233398313
    // p = -2 - 1e-3 * -0.3 / (sqrt(0.009) + 1e-8) = -1.9968377226731648
    assert_close(&f64s(&avg.average_sq_grad()[0]), &[0.001, 0.009], 1e-17);
    assert_close(&f64s(&p1), &[0.9968377233398313, -1.9968377226731648], 1e-14);
    let p2 = rmspropupdate(&p1, &g2(), &mut avg, &RmspropOptions::default()).unwrap();
    // v = 0.9 [0.001, 0.009] + 0.1 [0.04, 0.01] = [0.0049, 0.0091]
    // p = 0.9968377233 - 1e-3 * 0.2 / (sqrt(0.0049) + 1e-8) = 0.9939805808908517
    // p = -1.9968377227 - 1e-3 * 0.1 / (sqrt(0.0091) + 1e-8) = -1.9978860073999967
    assert_close(&f64s(&avg.average_sq_grad()[0]), &[0.0049, 0.0091], 1e-17);
    assert_close(&f64s(&p2), &[0.9939805808908517, -1.9978860073999967], 1e-14);
}

#[test]
fn dlupdate_applies_the_function_to_every_parameter() {
    let p = dlupdate(|p: &DlArray, g: &DlArray| p - 0.01 * g, &p0(), &g1()).unwrap();
    // [1 - 0.001, -2 + 0.003]
    assert_close(&f64s(&p), &[0.999, -1.997], 1e-15);
    let err = dlupdate(|p: &DlArray, _g: &DlArray| p.reshape(&[3]), &p0(), &g1()).unwrap_err();
    assert!(err.to_string().contains("dlupdate"), "{err}");
}

#[test]
fn single_precision_parameters_stay_single() {
    let p = DlArray::from(array![1.0f32, -2.0]);
    let g = DlArray::from(array![0.1f32, -0.3]);
    let mut adam = AdamState::default();
    let a = adamupdate(&p, &g, &mut adam, 1, &AdamOptions::default()).unwrap();
    assert_eq!(a.dtype(), DType::F32);
    assert_eq!(adam.average_grad()[0].dtype(), DType::F32);
    let a: Vec<f64> = a.extractdata::<f32>().unwrap().iter().map(|&v| v as f64).collect();
    assert_close(&a, &[0.9990000031622677, -1.9990000010540914], 1e-6);
    let mut vel = SgdmState::default();
    assert_eq!(sgdmupdate(&p, &g, &mut vel, &SgdmOptions::default()).unwrap().dtype(), DType::F32);
    let mut avg = RmspropState::default();
    assert_eq!(rmspropupdate(&p, &g, &mut avg, &RmspropOptions::default()).unwrap().dtype(), DType::F32);
    // double parameters with single gradients stay double
    let p64 = DlArray::from(array![1.0, -2.0]);
    let mut vel = SgdmState::default();
    let s = sgdmupdate(&p64, &g, &mut vel, &SgdmOptions::default()).unwrap();
    assert_eq!(s.dtype(), DType::F64);
    assert_close(&f64s(&s), &[0.999, -1.997], 1e-8);
}

#[test]
fn complex_parameters_update_their_real_and_imaginary_parts() {
    let p = DlArray::from(ndarray::arr1(&[Complex64::new(1.0, 2.0)]));
    let g = DlArray::from(ndarray::arr1(&[Complex64::new(0.5, -0.25)]));
    let mut vel = SgdmState::default();
    let s = sgdmupdate(&p, &g, &mut vel, &SgdmOptions::default()).unwrap();
    // vel = -0.01 (0.5 - 0.25i) = -0.005 + 0.0025i; p = 0.995 + 2.0025i
    let s = s.extractdata::<Complex64>().unwrap()[0];
    assert!((s - Complex64::new(0.995, 2.0025)).norm() < 1e-15, "{s}");
    let mut adam = AdamState::default();
    let a = adamupdate(&p, &g, &mut adam, 1, &AdamOptions::default()).unwrap();
    // each part moves by about learn_rate against its gradient's sign: 1 - 1e-3, 2 + 1e-3
    let a = a.extractdata::<Complex64>().unwrap()[0];
    assert!((a - Complex64::new(0.999, 2.001)).norm() < 1e-7, "{a}");
    // the state holds the real part's averages in its real part, the imaginary part's in its imaginary part
    // m = 0.1 (0.5, -0.25); v = 0.001 (0.25, 0.0625), up to the rounding of 1 - 0.9 and 1 - 0.999
    let m = adam.average_grad()[0].extractdata::<Complex64>().unwrap()[0];
    let v = adam.average_sq_grad()[0].extractdata::<Complex64>().unwrap()[0];
    assert!((m - Complex64::new(0.05, -0.025)).norm() < 1e-16, "{m}");
    assert!((v - Complex64::new(0.00025, 0.0000625)).norm() < 1e-18, "{v}");
}

/// Every optimizer applied to a tree gives, array by array, what it gives on each array alone.
fn check_tree_matches_single_arrays<T: Tree>(params: &T, grads: &T) {
    let singles: Vec<(DlArray, DlArray)> =
        params.arrays().into_iter().cloned().zip(grads.arrays().into_iter().cloned()).collect();
    let options = AdamOptions { learn_rate: 0.1, ..AdamOptions::default() };
    let (mut adam, mut vel, mut avg) = (AdamState::default(), SgdmState::default(), RmspropState::default());
    let mut tree_results = Vec::new();
    let a = adamupdate(params, grads, &mut adam, 1, &options).unwrap();
    let a = adamupdate(&a, grads, &mut adam, 2, &options).unwrap();
    tree_results.push(a.arrays().into_iter().cloned().collect::<Vec<_>>());
    let s = sgdmupdate(params, grads, &mut vel, &SgdmOptions::default()).unwrap();
    tree_results.push(s.arrays().into_iter().cloned().collect());
    let r = rmspropupdate(params, grads, &mut avg, &RmspropOptions::default()).unwrap();
    tree_results.push(r.arrays().into_iter().cloned().collect());
    let d = dlupdate(|p: &DlArray, g: &DlArray| p - 0.5 * g, params, grads).unwrap();
    tree_results.push(d.arrays().into_iter().cloned().collect());
    assert_eq!(adam.average_grad().len(), singles.len());
    for (k, (p, g)) in singles.iter().enumerate() {
        let (mut adam1, mut vel1, mut avg1) = (AdamState::default(), SgdmState::default(), RmspropState::default());
        let a = adamupdate(p, g, &mut adam1, 1, &options).unwrap();
        let expected = [
            adamupdate(&a, g, &mut adam1, 2, &options).unwrap(),
            sgdmupdate(p, g, &mut vel1, &SgdmOptions::default()).unwrap(),
            rmspropupdate(p, g, &mut avg1, &RmspropOptions::default()).unwrap(),
            p - 0.5 * g,
        ];
        for (which, e) in expected.iter().enumerate() {
            let got = &tree_results[which][k];
            assert_eq!(got.shape(), p.shape());
            assert_eq!(got.data().unwrap(), e.data().unwrap(), "optimizer {which}, array {k}");
        }
        assert_ne!(p.data().unwrap(), tree_results[0][k].data().unwrap(), "array {k} did not move");
    }
}

fn arr(v: &[f64], shape: &[usize]) -> DlArray {
    DlArray::from(ArrayD::from_shape_vec(shape.to_vec(), v.to_vec()).unwrap())
}

#[test]
fn vec_trees() {
    let params = vec![arr(&[1.0, 2.0, 3.0], &[3]), arr(&[4.0], &[]), arr(&[1.0, -1.0, 0.5, 2.0], &[2, 2])];
    let grads = vec![arr(&[0.1, -0.2, 0.3], &[3]), arr(&[-1.0], &[]), arr(&[0.5, 0.5, -0.5, 1.0], &[2, 2])];
    check_tree_matches_single_arrays(&params, &grads);
}

#[test]
fn btreemap_trees() {
    let params: BTreeMap<String, DlArray> =
        [("w".to_string(), arr(&[1.0, 2.0], &[2])), ("b".to_string(), arr(&[0.5], &[1]))].into();
    let grads: BTreeMap<String, DlArray> =
        [("w".to_string(), arr(&[0.3, -0.4], &[2])), ("b".to_string(), arr(&[2.0], &[1]))].into();
    check_tree_matches_single_arrays(&params, &grads);
}

fn table(w: &[f64], b: &[f64]) -> ParamTable {
    let mut t = ParamTable::new();
    t.push("fc1", "Weights", arr(w, &[2, 2]));
    t.push("fc1", "Bias", arr(b, &[2]));
    t
}

#[test]
fn param_table_trees() {
    let params = table(&[1.0, 2.0, 3.0, 4.0], &[0.0, 1.0]);
    let grads = table(&[0.1, 0.2, -0.3, 0.4], &[-1.0, 1.0]);
    check_tree_matches_single_arrays(&params, &grads);
    let mut adam = AdamState::default();
    let updated = adamupdate(&params, &grads, &mut adam, 1, &AdamOptions::default()).unwrap();
    let names: Vec<(&str, &str)> = updated.iter().map(|r| (r.layer.as_str(), r.parameter.as_str())).collect();
    assert_eq!(names, [("fc1", "Weights"), ("fc1", "Bias")]);
}

#[test]
fn nested_trees() {
    type Nested = (ParamTable, Vec<BTreeMap<String, DlArray>>, f64);
    let params: Nested =
        (table(&[1.0, 2.0, 3.0, 4.0], &[0.0, 1.0]), vec![[("k".to_string(), arr(&[5.0, 6.0, 7.0], &[3]))].into()], 0.5);
    let grads: Nested = (
        table(&[0.1, 0.2, -0.3, 0.4], &[-1.0, 1.0]),
        vec![[("k".to_string(), arr(&[1.0, 0.0, -1.0], &[3]))].into()],
        0.5,
    );
    check_tree_matches_single_arrays(&params, &grads);
}

#[test]
fn gradients_of_another_structure_are_errors() {
    let mut adam = AdamState::default();
    let o = AdamOptions::default();
    // different lengths
    let e = adamupdate(&vec![p0(), p0()], &vec![g1()], &mut adam, 1, &o).unwrap_err();
    assert!(e.to_string().contains("do not match"), "{e}");
    // different shapes
    let e = adamupdate(&vec![p0()], &vec![arr(&[1.0, 2.0, 3.0], &[3])], &mut adam, 1, &o).unwrap_err();
    assert!(e.to_string().contains("[3]"), "{e}");
    // different keys
    let a: BTreeMap<String, DlArray> = [("a".to_string(), p0())].into();
    let b: BTreeMap<String, DlArray> = [("b".to_string(), g1())].into();
    assert!(adamupdate(&a, &b, &mut adam, 1, &o).is_err());
    // different table names
    let mut t2 = ParamTable::new();
    t2.push("fc2", "Weights", arr(&[1.0, 2.0, 3.0, 4.0], &[2, 2]));
    t2.push("fc1", "Bias", arr(&[1.0, 2.0], &[2]));
    let t1 = table(&[1.0, 2.0, 3.0, 4.0], &[0.0, 1.0]);
    assert!(sgdmupdate(&t1, &t2, &mut SgdmState::default(), &SgdmOptions::default()).is_err());
    assert!(rmspropupdate(&t1, &t2, &mut RmspropState::default(), &RmspropOptions::default()).is_err());
    assert!(dlupdate(|p: &DlArray, _: &DlArray| p.clone(), &t1, &t2).is_err());
    // none of those touched the state
    assert!(adam.is_empty());
}

#[test]
fn state_of_another_tree_is_an_error() {
    let o = AdamOptions::default();
    let mut adam = AdamState::default();
    adamupdate(&p0(), &g1(), &mut adam, 1, &o).unwrap();
    let before = adam.average_grad()[0].data().unwrap().clone();
    let other = arr(&[1.0, 2.0, 3.0], &[3]);
    let e = adamupdate(&other, &other, &mut adam, 2, &o).unwrap_err();
    assert!(e.to_string().contains("state"), "{e}");
    assert!(adamupdate(&vec![p0(), p0()], &vec![g1(), g1()], &mut adam, 2, &o).is_err());
    // a single-precision tree with a double-precision state
    let p32 = DlArray::from(array![1.0f32, 2.0]);
    assert!(adamupdate(&p32, &p32, &mut adam, 2, &o).is_err());
    assert_eq!(adam.average_grad()[0].data().unwrap(), &before);
    let mut vel = SgdmState::default();
    sgdmupdate(&p0(), &g1(), &mut vel, &SgdmOptions::default()).unwrap();
    assert!(sgdmupdate(&other, &other, &mut vel, &SgdmOptions::default()).is_err());
    let mut avg = RmspropState::default();
    rmspropupdate(&p0(), &g1(), &mut avg, &RmspropOptions::default()).unwrap();
    assert!(rmspropupdate(&other, &other, &mut avg, &RmspropOptions::default()).is_err());
}

#[test]
fn bad_arguments_are_errors() {
    let mut adam = AdamState::default();
    let e = adamupdate(&p0(), &g1(), &mut adam, 0, &AdamOptions::default()).unwrap_err();
    assert!(e.to_string().contains("iteration"), "{e}");
    for o in [
        AdamOptions { learn_rate: 0.0, ..Default::default() },
        AdamOptions { grad_decay: 1.0, ..Default::default() },
        AdamOptions { sq_grad_decay: -0.1, ..Default::default() },
        AdamOptions { epsilon: f64::NAN, ..Default::default() },
    ] {
        assert!(adamupdate(&p0(), &g1(), &mut adam, 1, &o).is_err(), "{o:?}");
    }
    let o = SgdmOptions { momentum: 1.5, ..Default::default() };
    assert!(sgdmupdate(&p0(), &g1(), &mut SgdmState::default(), &o).is_err());
    let o = RmspropOptions { sq_grad_decay: 1.0, ..Default::default() };
    assert!(rmspropupdate(&p0(), &g1(), &mut RmspropState::default(), &o).is_err());
    // logical parameters, complex gradients of real parameters
    let b = DlArray::from(array![true, false]);
    assert!(sgdmupdate(&b, &b, &mut SgdmState::default(), &SgdmOptions::default()).is_err());
    let z = DlArray::from(ndarray::arr1(&[Complex64::new(1.0, 1.0), Complex64::new(0.0, 1.0)]));
    assert!(sgdmupdate(&p0(), &z, &mut SgdmState::default(), &SgdmOptions::default()).is_err());
    assert!(adam.is_empty());
}

#[test]
fn updates_inside_dlfeval_are_untraced() {
    let (p, g) = dlfeval(
        |x: DlArray| {
            let g = dlgradient(&x.square().sum_all(), &x)?;
            let p = sgdmupdate(&x, &g, &mut SgdmState::default(), &SgdmOptions::default())?;
            assert!(!p.is_traced());
            Ok((p, g))
        },
        p0(),
    )
    .unwrap();
    // g = 2 x = [2, -4]; p = x - 0.01 g = [0.98, -1.96]
    assert_close(&f64s(&g), &[2.0, -4.0], 0.0);
    assert_close(&f64s(&p), &[0.98, -1.96], 1e-15);
}

/// `f(x) = (x1 - 1)^2 + 10 (x2 + 2)^2`, its value and gradient; minimum 0 at (1, -2).
fn quadratic(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = (x.at(0) - 1.0).square() + 10.0 * (x.at(1) + 2.0).square();
    Ok((y.clone(), dlgradient(&y, x)?))
}

fn rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
    Ok((y.clone(), dlgradient(&y, x)?))
}

fn minimize(
    f: fn(&DlArray) -> Result<(DlArray, DlArray)>,
    x0: &[f64],
    steps: usize,
    mut step: impl FnMut(&DlArray, &DlArray, usize) -> DlArray,
) -> (Vec<f64>, f64) {
    let mut x = DlArray::from(ndarray::arr1(x0));
    for iteration in 1..=steps {
        let (_, g) = dlfeval(|x: DlArray| f(&x), x.clone()).unwrap();
        x = step(&x, &g, iteration);
    }
    let (y, _) = dlfeval(|x: DlArray| f(&x), x.clone()).unwrap();
    (f64s(&x), y.to_scalar::<f64>().unwrap())
}

#[test]
fn adam_minimizes_a_quadratic_and_rosenbrock() {
    let mut state = AdamState::default();
    let o = AdamOptions { learn_rate: 0.05, ..AdamOptions::default() };
    let (x, y) = minimize(quadratic, &[0.0, 0.0], 400, |x, g, t| adamupdate(x, g, &mut state, t, &o).unwrap());
    assert_close(&x, &[1.0, -2.0], 1e-3);
    assert!(y < 1e-5, "{y}");
    let mut state = AdamState::default();
    // Rosenbrock's curved valley is slow: 2000 steps from the seed's starting point
    let o = AdamOptions { learn_rate: 0.1, ..AdamOptions::default() };
    let (x, y) = minimize(rosenbrock, &[-1.0, 2.0], 2000, |x, g, t| adamupdate(x, g, &mut state, t, &o).unwrap());
    assert_close(&x, &[1.0, 1.0], 1e-3);
    assert!(y < 1e-6, "{y}");
}

#[test]
fn sgdm_minimizes_a_quadratic() {
    let mut vel = SgdmState::default();
    let o = SgdmOptions::default();
    let (x, y) = minimize(quadratic, &[0.0, 0.0], 400, |x, g, _| sgdmupdate(x, g, &mut vel, &o).unwrap());
    assert_close(&x, &[1.0, -2.0], 1e-4);
    assert!(y < 1e-8, "{y}");
}

#[test]
fn rmsprop_minimizes_a_quadratic() {
    let mut avg = RmspropState::default();
    let o = RmspropOptions { learn_rate: 0.01, ..RmspropOptions::default() };
    let (x, y) = minimize(quadratic, &[0.0, 0.0], 500, |x, g, _| rmspropupdate(x, g, &mut avg, &o).unwrap());
    assert_close(&x, &[1.0, -2.0], 1e-2);
    assert!(y < 1e-3, "{y}");
}

#[test]
fn dlupdate_gradient_descent_minimizes_a_quadratic() {
    let (x, y) = minimize(quadratic, &[0.0, 0.0], 300, |x, g, _| {
        dlupdate(|p: &DlArray, g: &DlArray| p - 0.04 * g, x, g).unwrap()
    });
    // each step multiplies the error by (1 - 0.08) and (1 - 0.8): 0.92^300 ~ 1.4e-11
    assert_close(&x, &[1.0, -2.0], 1e-9);
    assert!(y < 1e-18, "{y}");
}
