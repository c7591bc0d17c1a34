//! The derivative operators of docs/API.md section 6: `dljvp`, `dlhvp`, `dljacobian`,
//! `dldivergence`, `dllaplacian`. Each is checked against central finite differences, eagerly
//! (`dlfeval`) and accelerated, and differentiated again (up to third order) against finite
//! differences of itself; bad inputs are `Err`s naming the call and the shapes.

mod common;

use common::{Rng, Tol};
use cranegrad::prelude::*;
use ndarray::{array, s, Array2, ArrayD, IxDyn};

fn higher() -> GradOptions {
    GradOptions { enable_higher_derivatives: Some(true), ..Default::default() }
}

fn f64s(x: &DlArray) -> ArrayD<f64> {
    x.extractdata::<f64>().unwrap_or_else(|e| panic!("{e}"))
}

#[track_caller]
fn assert_fd(what: &str, got: &ArrayD<f64>, want: &ArrayD<f64>, tol: Tol) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes differ");
    for (j, (a, b)) in got.iter().zip(want.iter()).enumerate() {
        let ok = (a - b).abs() <= tol.abs + tol.rel * a.abs().max(b.abs());
        assert!(ok, "{what}: element {j}: got {a}, finite differences {b}\n got  {got}\n want {want}");
    }
}

/// A nonlinear map from `x [2, 3]` to `y [3, 2]` that mixes every element.
fn mix(x: &DlArray) -> DlArray {
    let a = x.sin().matmul(&x.transpose()); // [2, 2]
    let b = (x.transpose() * 0.5).exp(); // [3, 2]
    b.matmul(&a) + x.transpose().square()
}

/// `(f(x + t v) - f(x - t v)) / 2t`, evaluated eagerly.
fn directional_fd(f: &dyn Fn(&DlArray) -> DlArray, x: &ArrayD<f64>, v: &ArrayD<f64>, t: f64) -> ArrayD<f64> {
    let at = |x: ArrayD<f64>| f64s(&f(&DlArray::from(x)));
    (at(x + &(v * t)) - at(x - &(v * t))) / (2.0 * t)
}

#[test]
fn jvp_matches_finite_differences_eager_and_accelerated() {
    let mut rng = Rng::new(1);
    let x0 = rng.array(&[2, 3], -1.0, 1.0);
    let v0 = rng.array(&[2, 3], -1.0, 1.0);
    let want = directional_fd(&mix, &x0, &v0, 1e-5);
    let v = DlArray::from(v0.clone());
    let got = dlfeval(|x: DlArray| dljvp(&mix(&x), &x, &v), DlArray::from(x0.clone())).unwrap();
    assert!(!got.is_traced());
    assert_fd("dljvp eager", &f64s(&got), &want, Tol::F64);
    let af = accelerate(|(x, v): (DlArray, DlArray)| dljvp(&mix(&x), &x, &v));
    for _ in 0..2 {
        let got = af.call((DlArray::from(x0.clone()), DlArray::from(v0.clone()))).unwrap();
        assert_fd("dljvp accelerated", &f64s(&got), &want, Tol::F64);
    }
    assert_eq!(af.hit_rate(), 50.0);
}

#[test]
fn jvp_is_linear_in_v_and_exact_on_simple_functions() {
    // y = A x for a constant matrix: J v = A v exactly, for any x.
    let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
    let v1 = array![1.0, 0.0, -1.0];
    let got = dlfeval(
        |x: DlArray| dljvp(&DlArray::from(a.clone()).matmul(&x.reshape(&[3, 1])), &x, &DlArray::from(v1.clone())),
        DlArray::from(array![0.3, -0.7, 2.0]),
    )
    .unwrap();
    assert_eq!(got.shape(), &[2, 1]);
    assert_eq!(f64s(&got), array![[-2.0], [-2.0]].into_dyn());
    // Scalar y: J v is the gradient dotted with v.
    let x0 = array![0.5, -1.5, 2.0];
    let (jv, g) = dlfeval(
        |x: DlArray| {
            let y = (x.exp() * &x).sum_all();
            let jv = dljvp_with(
                &y,
                &x,
                &DlArray::from(v1.clone()),
                GradOptions { retain_data: true, ..Default::default() },
            )?;
            Ok((jv, dlgradient(&y, &x)?))
        },
        DlArray::from(x0),
    )
    .unwrap();
    let dot: f64 = f64s(&g).iter().zip(v1.iter()).map(|(a, b)| a * b).sum();
    assert!((jv.to_scalar::<f64>().unwrap() - dot).abs() < 1e-12 * (1.0 + dot.abs()));
}

#[test]
fn jvp_over_a_tree_of_variables() {
    // y = a * sin(b) elementwise, variables (a, [b]) as a tuple of an array and a Vec.
    let mut rng = Rng::new(2);
    let (a0, b0) = (rng.array(&[4], -1.0, 1.0), rng.array(&[4], -1.0, 1.0));
    let (va, vb) = (rng.array(&[4], -1.0, 1.0), rng.array(&[4], -1.0, 1.0));
    let got = dlfeval(
        |(a, b): (DlArray, Vec<DlArray>)| {
            let y = &a * b[0].sin();
            dljvp(&y, (&a, &b), (&DlArray::from(va.clone()), &vec![DlArray::from(vb.clone())]))
        },
        (DlArray::from(a0.clone()), vec![DlArray::from(b0.clone())]),
    )
    .unwrap();
    let want = &va * &b0.mapv(f64::sin) + &a0 * &b0.mapv(f64::cos) * &vb;
    assert_fd("dljvp tree", &f64s(&got), &want, Tol { step: 0.0, rel: 1e-14, abs: 1e-14 });
}

#[test]
fn jvp_of_an_independent_output_is_zero_and_complex_x_follows_the_seed_convention() {
    let got = dlfeval(
        |(x, z): (DlArray, DlArray)| dljvp(&x.square(), &z, &DlArray::from(array![1.0, 1.0])),
        (DlArray::from(array![1.0, 2.0]), DlArray::from(array![3.0, 4.0])),
    )
    .unwrap();
    assert_eq!(f64s(&got), array![0.0, 0.0].into_dyn());
    // y = real((2+3i) z) = 2a - 3b for z = a + ib: along v = va + i vb, J v = 2 va - 3 vb.
    use num_complex::Complex64 as C;
    let got = dlfeval(
        |z: DlArray| dljvp(&(C::new(2.0, 3.0) * &z).real(), &z, &DlArray::from(array![C::new(1.0, 0.5)])),
        DlArray::from(array![C::new(0.3, -0.2)]),
    )
    .unwrap();
    assert!((f64s(&got)[0] - (2.0 - 1.5)).abs() < 1e-14);
}

/// The gradient of `sum(w * f(x))` from `dlfeval`, against finite differences of the same sum,
/// and against the accelerated gradient. `f` must trace its result (higher derivatives on).
fn check_differentiable(
    what: &str,
    f: impl Fn(&DlArray) -> Result<DlArray> + Send + Sync + Clone + 'static,
    x0: &ArrayD<f64>,
    tol: Tol,
) {
    let out_shape = dlfeval(|x: DlArray| f(&x), DlArray::from(x0.clone())).unwrap().shape().to_vec();
    let w = DlArray::from(Rng::new(5).array(&out_shape, -1.0, 1.0));
    let value = |x: &ArrayD<f64>| -> f64 {
        let w = w.clone();
        dlfeval(|x: DlArray| Ok((f(&x)? * &w).sum_all()), DlArray::from(x.clone())).unwrap().to_scalar::<f64>().unwrap()
    };
    let mut want = ArrayD::zeros(x0.raw_dim());
    for j in 0..x0.len() {
        let (mut p, mut m) = (x0.clone(), x0.clone());
        p.as_slice_mut().unwrap()[j] += tol.step;
        m.as_slice_mut().unwrap()[j] -= tol.step;
        want.as_slice_mut().unwrap()[j] = (value(&p) - value(&m)) / (2.0 * tol.step);
    }
    let (f2, w2) = (f.clone(), w.clone());
    let got = dlfeval(
        move |x: DlArray| {
            let y = f2(&x)?;
            assert!(y.is_traced(), "{what}: the result is not traced with higher derivatives on");
            dlgradient(&(y * &w2).sum_all(), &x)
        },
        DlArray::from(x0.clone()),
    )
    .unwrap();
    assert_fd(what, &f64s(&got), &want, tol);
    let af = accelerate(move |(x, w): (DlArray, DlArray)| dlgradient(&(f(&x)? * &w).sum_all(), &x));
    let fast = af.call((DlArray::from(x0.clone()), w)).unwrap();
    assert_fd(&format!("{what} (accelerated)"), &f64s(&fast), &want, tol);
}

#[test]
fn jvp_and_hvp_are_differentiable_again() {
    let mut rng = Rng::new(3);
    let x0 = rng.array(&[2, 3], -1.0, 1.0);
    let v = DlArray::from(rng.array(&[2, 3], -1.0, 1.0));
    let v2 = v.clone();
    check_differentiable("gradient of dljvp", move |x| dljvp_with(&mix(x), x, &v, higher()), &x0, Tol::F64);
    check_differentiable(
        "gradient of dlhvp",
        move |x| dlhvp_with(&mix(x).square().sum_all(), x, &v2, higher()),
        &x0,
        Tol::F64,
    );
}

fn ext_rosenbrock(x: &DlArray) -> DlArray {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all()
}

#[test]
fn hvp_matches_finite_differences_of_the_gradient() {
    let mut rng = Rng::new(4);
    let x0 = rng.array(&[7], -1.5, 1.5);
    let v0 = rng.array(&[7], -1.0, 1.0);
    let grad = |x: &DlArray| dlfeval(|x: DlArray| dlgradient(&ext_rosenbrock(&x), &x), x.clone()).unwrap();
    let want = directional_fd(&grad, &x0, &v0, 1e-5);
    let v = DlArray::from(v0.clone());
    let got = dlfeval(|x: DlArray| dlhvp(&ext_rosenbrock(&x), &x, &v), DlArray::from(x0.clone())).unwrap();
    assert_fd("dlhvp", &f64s(&got), &want, Tol::F64);
    let af = accelerate(|(x, v): (DlArray, DlArray)| dlhvp(&ext_rosenbrock(&x), &x, &v));
    let fast = af.call((DlArray::from(x0), DlArray::from(v0))).unwrap();
    assert_fd("dlhvp accelerated", &f64s(&fast), &want, Tol::F64);
    // Over a tree: y = sum(a^2 b) + sum(b^3) with variables (a, b): returns a tuple.
    let (ha, hb) = dlfeval(
        |(a, b): (DlArray, DlArray)| {
            let y = (a.square() * &b).sum_all() + b.powf(3.0).sum_all();
            dlhvp(&y, (&a, &b), (&DlArray::from(array![1.0, 0.0]), &DlArray::from(array![0.0, 1.0])))
        },
        (DlArray::from(array![2.0, 3.0]), DlArray::from(array![5.0, 7.0])),
    )
    .unwrap();
    // H = [[2b, 0, 2a, 0], [0, 2b, 0, 2a], [2a, 0, 6b, 0], [0, 2a, 0, 6b]] at a = (2, 3), b = (5, 7)
    assert_eq!(f64s(&ha), array![10.0, 6.0].into_dyn());
    assert_eq!(f64s(&hb), array![4.0, 42.0].into_dyn());
}

#[test]
fn hvp_along_a_direction_computed_from_x_treats_it_as_constant() {
    // v = g(x) itself: H g, not the gradient of sum(g * g) (which is 2 H g).
    let mut rng = Rng::new(9);
    let x0 = rng.array(&[6], -1.5, 1.5);
    let (hg, g) = dlfeval(
        |x: DlArray| {
            let y = ext_rosenbrock(&x);
            let higher = GradOptions { enable_higher_derivatives: Some(true), retain_data: true, ..Default::default() };
            let g = dlgradient_with(&y, &x, higher)?;
            Ok((dlhvp(&y, &x, &g)?, g))
        },
        DlArray::from(x0.clone()),
    )
    .unwrap();
    let grad = |x: &DlArray| dlfeval(|x: DlArray| dlgradient(&ext_rosenbrock(&x), &x), x.clone()).unwrap();
    // g is large (thousands): the step is scaled so x moves by 1e-5 at most.
    let g = f64s(&g);
    let step = 1e-5 / g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let want = directional_fd(&grad, &x0, &g, step);
    assert_fd("dlhvp along its own gradient", &f64s(&hg), &want, Tol::F64);
    // The same accelerated, and differentiable again.
    let af = accelerate(|x: DlArray| {
        let y = ext_rosenbrock(&x);
        let g = dlgradient(&y, &x)?;
        dlhvp(&y, &x, &g)
    });
    assert_fd(
        "dlhvp along its gradient (accelerated)",
        &f64s(&af.call(DlArray::from(x0.clone())).unwrap()),
        &want,
        Tol::F64,
    );
    check_differentiable(
        "gradient of dlhvp along the gradient",
        |x| {
            let y = ext_rosenbrock(x);
            let g = dlgradient_with(&y, x, higher())?;
            dlhvp_with(&y, x, &g, higher())
        },
        &x0,
        Tol::F64,
    );
}

/// Per observation: `u[n, :] = tanh(W x[n, :] + b)` with a fixed `W [3, 2]` and a
/// per-observation quadratic term, so the Jacobian differs between observations.
fn per_row(x: &DlArray) -> DlArray {
    let w = DlArray::from(array![[0.7, -1.2], [0.4, 0.9], [-0.5, 0.3]]);
    let lin = x.matmul(&w.transpose()) + DlArray::from(array![0.1, -0.2, 0.3]);
    let q = (x.square().sum_axes(&[1], true) * 0.5).sin();
    lin.tanh() * q + x.slice(s![.., 0..1]) * x.slice(s![.., 1..2])
}

/// The per-observation Jacobian by finite differences: channel `j` of every observation moved
/// at once (observations are independent).
fn jacobian_fd(f: &dyn Fn(&DlArray) -> DlArray, x0: &Array2<f64>, h: f64) -> ArrayD<f64> {
    let (n, cx) = x0.dim();
    let cu = f(&DlArray::from(x0.clone())).shape()[1];
    let mut out = ArrayD::zeros(IxDyn(&[n, cu, cx]));
    for j in 0..cx {
        let (mut p, mut m) = (x0.clone(), x0.clone());
        p.column_mut(j).mapv_inplace(|v| v + h);
        m.column_mut(j).mapv_inplace(|v| v - h);
        let d = (f64s(&f(&DlArray::from(p))) - f64s(&f(&DlArray::from(m)))) / (2.0 * h);
        out.slice_mut(s![.., .., j]).assign(&d);
    }
    out
}

#[test]
fn jacobian_divergence_laplacian_match_finite_differences() {
    let mut rng = Rng::new(6);
    let x0: Array2<f64> = rng.array(&[5, 2], -1.0, 1.0).into_dimensionality().unwrap();
    let want_j = jacobian_fd(&per_row, &x0, 1e-5);
    let j = dlfeval(|x: DlArray| dljacobian(&per_row(&x), &x, 1), DlArray::from(x0.clone())).unwrap();
    assert_eq!(j.shape(), &[5, 3, 2]);
    assert_fd("dljacobian", &f64s(&j), &want_j, Tol::F64);
    // Laplacian: sum_j d/dx_j of J[:, i, j], by finite differences of the exact Jacobian.
    let jac = |x: &DlArray| dlfeval(|x: DlArray| dljacobian(&per_row(&x), &x, 1), x.clone()).unwrap();
    let mut want_l = ArrayD::<f64>::zeros(IxDyn(&[5, 3]));
    for jx in 0..2 {
        let (mut p, mut m) = (x0.clone(), x0.clone());
        p.column_mut(jx).mapv_inplace(|v| v + 1e-5);
        m.column_mut(jx).mapv_inplace(|v| v - 1e-5);
        let d = (f64s(&jac(&DlArray::from(p))) - f64s(&jac(&DlArray::from(m)))) / 2e-5;
        want_l = want_l + d.slice(s![.., .., jx]);
    }
    let l = dlfeval(|x: DlArray| dllaplacian(&per_row(&x), &x, 1), DlArray::from(x0.clone())).unwrap();
    assert_eq!(l.shape(), &[5, 3]);
    assert_fd("dllaplacian", &f64s(&l), &want_l, Tol::F64);
    // Divergence of a map with as many channels as x: the trace of the Jacobian.
    let square = |x: &DlArray| per_row(x).slice(s![.., 1..3]);
    let want_jsq = jacobian_fd(&square, &x0, 1e-5);
    let want_d = (&want_jsq.slice(s![.., 0, 0]) + &want_jsq.slice(s![.., 1, 1])).insert_axis(ndarray::Axis(1));
    let d = dlfeval(|x: DlArray| dldivergence(&square(&x), &x, 1), DlArray::from(x0.clone())).unwrap();
    assert_eq!(d.shape(), &[5, 1]);
    assert_fd("dldivergence", &f64s(&d), &want_d.into_dyn(), Tol::F64);
    // The same three accelerated.
    let af = accelerate(move |x: DlArray| {
        let u = per_row(&x);
        Ok((dljacobian(&u, &x, 1)?, dllaplacian(&u, &x, 1)?, dldivergence(&u.slice(s![.., 1..3]), &x, 1)?))
    });
    let (j2, l2, d2) = af.call(DlArray::from(x0)).unwrap();
    assert_fd("dljacobian accelerated", &f64s(&j2), &f64s(&j), Tol { step: 0.0, rel: 1e-12, abs: 1e-12 });
    assert_fd("dllaplacian accelerated", &f64s(&l2), &f64s(&l), Tol { step: 0.0, rel: 1e-12, abs: 1e-12 });
    assert_fd("dldivergence accelerated", &f64s(&d2), &f64s(&d), Tol { step: 0.0, rel: 1e-12, abs: 1e-12 });
}

#[test]
fn channel_axis_other_than_one_and_observation_axes_on_both_sides() {
    // x [2, 3, 4]: channels on axis 1 (size 3), observations over axes 0 and 2.
    // u[a, :, c] = [x0 x1, x2^2] of observation (a, c).
    let mut rng = Rng::new(7);
    let x0 = rng.array(&[2, 3, 4], -1.0, 1.0);
    let f = |x: &DlArray| {
        let c = |k: usize| x.slice(s![.., k..k + 1, ..]);
        concat(&[&(c(0) * c(1)), &c(2).square()], 1)
    };
    let (j, l) = dlfeval(
        |x: DlArray| {
            let u = f(&x);
            Ok((
                dljacobian_with(&u, &x, 1, GradOptions { retain_data: true, ..Default::default() })?,
                dllaplacian(&u, &x, 1)?,
            ))
        },
        DlArray::from(x0.clone()),
    )
    .unwrap();
    assert_eq!(j.shape(), &[2, 2, 3, 4]);
    assert_eq!(l.shape(), &[2, 2, 4]);
    let (j, l) = (f64s(&j), f64s(&l));
    for a in 0..2 {
        for c in 0..4 {
            let x = |k: usize| x0[[a, k, c]];
            let want = [[x(1), x(0), 0.0], [0.0, 0.0, 2.0 * x(2)]];
            for i in 0..2 {
                for k in 0..3 {
                    assert!((j[[a, i, k, c]] - want[i][k]).abs() < 1e-14, "J[{a}, {i}, {k}, {c}]");
                }
            }
            assert!(l[[a, 0, c]].abs() < 1e-14 && (l[[a, 1, c]] - 2.0).abs() < 1e-14);
        }
    }
    // Channels on the last axis: u [N, Cu] seen as [Cu, N] (axis 0).
    let xt = rng.array(&[2, 5], -1.0, 1.0);
    let jt = dlfeval(|x: DlArray| dljacobian(&x.sin(), &x, 0), DlArray::from(xt.clone())).unwrap();
    assert_eq!(jt.shape(), &[2, 2, 5]);
    let jt = f64s(&jt);
    for n in 0..5 {
        assert!((jt[[0, 0, n]] - xt[[0, n]].cos()).abs() < 1e-14 && jt[[0, 1, n]] == 0.0 && jt[[1, 0, n]] == 0.0);
    }
}

#[test]
fn a_training_gradient_through_a_laplacian_is_third_order() {
    // A small tanh network u(x) of x [4, 2]; the loss is sum(w * lap(u)), differentiated with
    // respect to the first layer's weights.
    let mut rng = Rng::new(8);
    let x0 = rng.array(&[4, 2], -1.0, 1.0);
    let w2 = DlArray::from(rng.array(&[2, 3], -1.0, 1.0));
    let w1_0 = rng.array(&[3, 2], -1.0, 1.0);
    let net = move |w1: &DlArray| -> Result<DlArray> {
        // A traced constant of this trace: the variable of the Laplacian.
        let x = DlArray::from(x0.clone());
        let hidden = fullyconnect(&x, w1, &DlArray::from(array![0.1, 0.2, -0.3])).tanh();
        let u = fullyconnect(&hidden, &w2, &DlArray::from(array![0.0, 0.5]));
        dllaplacian_with(&u, &x, 1, higher())
    };
    check_differentiable("gradient through dllaplacian (third order)", net, &w1_0, Tol::F64);
    // And through dljacobian and dldivergence (second order).
    let (xj, w2j) = (rng.array(&[4, 2], -1.0, 1.0), DlArray::from(rng.array(&[2, 3], -1.0, 1.0)));
    check_differentiable(
        "gradient through dljacobian and dldivergence",
        move |w1: &DlArray| {
            let x = DlArray::from(xj.clone());
            let hidden = fullyconnect(&x, w1, &DlArray::from(array![0.1, 0.2, -0.3])).tanh();
            let u = fullyconnect(&hidden, &w2j, &DlArray::from(array![0.0, 0.5]));
            let j = dljacobian_with(&u, &x, 1, GradOptions { retain_data: true, ..higher() })?;
            let d = dldivergence_with(&u, &x, 1, higher())?;
            Ok(j.sum_axes(&[2], false) + d)
        },
        &w1_0,
        Tol::F64,
    );
}

#[test]
fn single_precision_keeps_u_dtype() {
    let x0 = array![[0.5f32, -0.25], [1.0, 2.0]];
    let (j, l) = dlfeval(
        |x: DlArray| {
            let u = x.sin();
            Ok((
                dljacobian_with(&u, &x, 1, GradOptions { retain_data: true, ..Default::default() })?,
                dllaplacian(&u, &x, 1)?,
            ))
        },
        DlArray::from(x0.clone()),
    )
    .unwrap();
    assert_eq!((j.dtype(), l.dtype()), (DType::F32, DType::F32));
    let l = l.extractdata::<f32>().unwrap();
    for (a, b) in l.iter().zip(x0.iter()) {
        assert!((a + b.sin()).abs() < 1e-6);
    }
}

/// A function of one traced array, for the error cases.
type Traced = dyn Fn(&DlArray) -> Result<DlArray>;

#[track_caller]
fn assert_err_mentions<T: std::fmt::Debug>(r: Result<T>, parts: &[&str]) {
    let e = r.expect_err("expected an Err").to_string();
    for p in parts {
        assert!(e.contains(p), "error {e:?} does not mention {p:?}");
    }
}

#[test]
fn bad_inputs_are_errors_naming_the_call_and_shapes() {
    let x2 = DlArray::from(array![[1.0, 2.0], [3.0, 4.0]]);
    // Outside any trace.
    assert_err_mentions(dljvp(&x2, &x2, &x2), &["dljvp", "dlfeval"]);
    assert_err_mentions(dljacobian(&x2, &x2, 1), &["dljacobian", "dlfeval"]);
    let run = |f: Box<Traced>| dlfeval(|x: DlArray| f(&x), x2.clone());
    // Axis out of range, observation axes that differ, rank mismatch.
    assert_err_mentions(run(Box::new(|x| dljacobian(&x.sin(), x, 2))), &["dljacobian", "[2, 2]", "axis 2"]);
    assert_err_mentions(
        run(Box::new(|x| dllaplacian(&x.slice(s![0..1, ..]), x, 1))),
        &["dllaplacian", "[1, 2] and [2, 2]", "axis 0"],
    );
    assert_err_mentions(run(Box::new(|x| dldivergence(&x.sum_all(), x, 0))), &["dldivergence", "[] and [2, 2]"]);
    // Divergence needs Cu == Cx.
    assert_err_mentions(
        run(Box::new(|x| dldivergence(&x.slice(s![.., 0..1]), x, 1))),
        &["dldivergence", "[2, 1] and [2, 2]", "1 channels", "2"],
    );
    // Complex and logical u, complex y.
    use num_complex::Complex64 as C;
    assert_err_mentions(
        run(Box::new(|x| dljacobian(&(x * C::new(0.0, 1.0)), x, 1))),
        &["dljacobian", "complex", "[2, 2]"],
    );
    assert_err_mentions(run(Box::new(|x| dljacobian(&x.gt(&DlArray::scalar(0.0)), x, 1))), &["dljacobian", "logical"]);
    assert_err_mentions(
        run(Box::new(|x| dljvp(&(x * C::new(0.0, 1.0)), x, &DlArray::from(array![[1.0, 2.0], [3.0, 4.0]])))),
        &["dljvp", "complex", "[2, 2]"],
    );
    // Direction of the wrong shape, wrong count, complex for a real x.
    assert_err_mentions(
        run(Box::new(|x| dljvp(&x.sin(), x, &DlArray::from(array![1.0, 2.0])))),
        &["dljvp", "[2, 2] and [2]"],
    );
    assert_err_mentions(
        run(Box::new(|x| dljvp(&x.sin(), x, (&DlArray::from(array![1.0]), &DlArray::from(array![1.0]))))),
        &["dljvp", "1 arrays", "2"],
    );
    assert_err_mentions(
        run(Box::new(|x| dlhvp(&x.sin().sum_all(), x, &(x * C::new(0.0, 1.0)).untraced()?))),
        &["dlhvp", "real for a real variable"],
    );
    // dlhvp needs a scalar y; an untraced y is an error too.
    assert_err_mentions(run(Box::new(|x| dlhvp(&x.sin(), x, x))), &["dlhvp", "[2, 2]", "scalar"]);
    assert_err_mentions(
        run(Box::new(|x| dljvp(&DlArray::from(array![1.0]).untraced()?, x, x))),
        &["dljvp", "not traced"],
    );
    // An op that failed earlier surfaces its own error.
    assert_err_mentions(
        run(Box::new(|x| dljacobian(&(x + DlArray::from(array![1.0, 2.0, 3.0])), x, 1))),
        &["[2, 2]", "[3]"],
    );
}

#[test]
fn retain_data_semantics_follow_dlgradient() {
    // Without retain_data, a later dlgradient that needs the released trace is an Err.
    let r = dlfeval(
        |x: DlArray| {
            let y = x.sin().square().sum_all();
            dljvp(&y, &x, &DlArray::from(array![1.0, 1.0]))?;
            dlgradient(&y, &x)
        },
        DlArray::from(array![0.5, 1.0]),
    );
    assert!(matches!(r, Err(Error::Released)), "{r:?}");
    let r = dlfeval(
        |x: DlArray| {
            let y = x.sin().square().sum_all();
            let options = GradOptions { retain_data: true, ..Default::default() };
            let jv = dljvp_with(&y, &x, &DlArray::from(array![1.0, 1.0]), options)?;
            Ok((jv, dlgradient(&y, &x)?))
        },
        DlArray::from(array![0.5, 1.0]),
    );
    let (jv, g) = r.unwrap();
    let g = f64s(&g);
    assert!((jv.to_scalar::<f64>().unwrap() - (g[0] + g[1])).abs() < 1e-14);
}
