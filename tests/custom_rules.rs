//! `stop_gradient`, `custom_vjp` and `external` (docs/API.md section 9), eagerly and inside
//! `accelerate`: the same results both ways, the user's rule used (not the forward's ops),
//! errors and panics of user code as an `Err` that names the function and its line, and a
//! function that serves the next good call after one. Also the derivative operators' default
//! (higher derivatives on).

use cranegrad::prelude::*;
use ndarray::{array, ArrayD};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn values(a: &DlArray) -> Vec<f64> {
    a.extractdata::<f64>().unwrap().iter().copied().collect()
}

fn same_shape(shapes: &[&[usize]], dtypes: &[DType]) -> Result<Vec<(Vec<usize>, DType)>> {
    Ok(vec![(shapes[0].to_vec(), dtypes[0])])
}

#[test]
fn stop_gradient_keeps_values_and_zeroes_every_derivative() {
    let f = |x: DlArray| {
        let y = (x.square() * stop_gradient(&x)).sum_all();
        let g = dlgradient(&y, &x)?;
        let v = DlArray::from(array![1.0, 0.0]);
        let jv = dljvp(&(x.square() * x.stop_gradient()), &x, &v)?;
        Ok((y, g, jv))
    };
    let x0 = DlArray::from(array![2.0, 3.0]);
    let (y, g, jv) = dlfeval(f, x0.clone()).unwrap();
    assert_eq!(y.to_scalar::<f64>().unwrap(), 8.0 + 27.0);
    // d/dx (x^2 * c) with c = x held constant: 2 x c.
    assert_eq!(values(&g), vec![8.0, 18.0]);
    assert_eq!(values(&jv), vec![8.0, 0.0]);
    let af = accelerate(f);
    let (ya, ga, jva) = af.call(x0).unwrap();
    assert_eq!(values(&ya), values(&y));
    assert_eq!(values(&ga), values(&g));
    assert_eq!(values(&jva), values(&jv));
    // A logical array passes through.
    let p = DlArray::from(array![true, false]);
    assert_eq!(stop_gradient(&p).dtype(), DType::Bool);
}

#[test]
fn custom_vjp_uses_the_rule_eagerly_and_compiled() {
    // A rule that is deliberately not the forward's derivative: twice the cotangent.
    let doubled = custom_vjp(|x: DlArray| Ok(x.sin()), |_x: &DlArray, _y: &DlArray, ct: DlArray| Ok(ct * 2.0));
    let f = move |x: DlArray| {
        let y = doubled.call(x.clone())?.sum_all();
        Ok((y.clone(), dlgradient(&y, &x)?))
    };
    let x0 = DlArray::from(array![0.5, -1.0, 2.0]);
    let (y, g) = dlfeval(f.clone(), x0.clone()).unwrap();
    let want: f64 = [0.5f64, -1.0, 2.0].iter().map(|v| v.sin()).sum();
    assert!((y.to_scalar::<f64>().unwrap() - want).abs() < 1e-15);
    assert_eq!(values(&g), vec![2.0, 2.0, 2.0]);
    let af = accelerate(f);
    for _ in 0..2 {
        let (ya, ga) = af.call(x0.clone()).unwrap();
        assert_eq!(values(&ya), values(&y));
        assert_eq!(values(&ga), values(&g));
    }
    // Outside any trace the forward just runs.
    let plain = custom_vjp(|x: DlArray| Ok(x.exp()), |_x: &DlArray, _y: &DlArray, ct: DlArray| Ok(ct));
    assert_eq!(values(&plain.call(DlArray::from(array![0.0])).unwrap()), vec![1.0]);
}

#[test]
fn custom_vjp_second_derivative_is_the_rules_derivative() {
    // softplus with rule sigmoid(x) ct: the second derivative is sigmoid'(x) = s (1 - s).
    let softplus = custom_vjp(
        |x: DlArray| Ok((x.exp() + 1.0).log()),
        |x: &DlArray, _y: &DlArray, ct: DlArray| Ok(ct * x.sigmoid()),
    );
    let f = move |x: DlArray| {
        let y = softplus.call(x.clone())?.sum_all();
        let g = dlgradient_with(&y, &x, GradOptions { enable_higher_derivatives: Some(true), ..Default::default() })?;
        dlgradient(&g.sum_all(), &x)
    };
    let xs: [f64; 3] = [-2.0, 0.0, 1.5];
    let h = dlfeval(f.clone(), DlArray::from(array![-2.0, 0.0, 1.5])).unwrap();
    let ha = accelerate(f).call(DlArray::from(array![-2.0, 0.0, 1.5])).unwrap();
    for (i, x) in xs.iter().enumerate() {
        let s = 1.0 / (1.0 + (-x).exp());
        assert!((values(&h)[i] - s * (1.0 - s)).abs() < 1e-14, "{x}");
        assert!((values(&ha)[i] - values(&h)[i]).abs() < 1e-14);
    }
}

fn square() -> ExternalFunction {
    external(
        "square",
        same_shape,
        |x: &[ArrayD<f64>]| Ok(vec![x[0].mapv(|v| v * v)]),
        |x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(vec![&ct[0] * 2.0 * &x[0]]),
    )
}

#[test]
fn external_functions_run_eagerly_and_from_compiled_code() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let sq = external(
        "square",
        same_shape,
        move |x: &[ArrayD<f64>]| {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok(vec![x[0].mapv(|v| v * v)])
        },
        |x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(vec![&ct[0] * 2.0 * &x[0]]),
    );
    let f = move |x: DlArray| {
        let y = (sq.call(&[&x])?.remove(0) * x.sin()).sum_all();
        Ok((y.clone(), dlgradient(&y, &x)?))
    };
    let x0 = DlArray::from(array![0.5, -1.0, 2.0]);
    let (y, g) = dlfeval(f.clone(), x0.clone()).unwrap();
    let want_g: Vec<f64> = [0.5f64, -1.0, 2.0].iter().map(|v| 2.0 * v * v.sin() + v * v * v.cos()).collect();
    for (a, b) in values(&g).iter().zip(&want_g) {
        assert!((a - b).abs() < 1e-14);
    }
    let af = accelerate(f);
    af.call(x0.clone()).unwrap();
    let before = calls.load(Ordering::SeqCst);
    let (ya, ga) = af.call(x0.clone()).unwrap();
    // A hit runs the forward once (the backward's call of the same target on the same input is
    // merged with the forward's).
    assert_eq!(calls.load(Ordering::SeqCst) - before, 1);
    assert_eq!(values(&ya), values(&y));
    assert_eq!(values(&ga), values(&g));
    // f32 inputs are converted, outputs follow spec.
    let y32 = square().call(&[&DlArray::from(array![1.5f32])]).unwrap().remove(0);
    assert_eq!(y32.dtype(), DType::F32);
    assert_eq!(y32.to_scalar::<f32>().unwrap(), 2.25);
}

#[test]
fn two_external_functions_of_one_signature_stay_apart() {
    let double = external(
        "double",
        same_shape,
        |x: &[ArrayD<f64>]| Ok(vec![&x[0] * 2.0]),
        |_x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(vec![&ct[0] * 2.0]),
    );
    let sq = square();
    let af = accelerate(move |x: DlArray| Ok((sq.call(&[&x])?.remove(0), double.call(&[&x])?.remove(0))));
    let (a, b) = af.call(DlArray::from(array![3.0])).unwrap();
    assert_eq!((values(&a), values(&b)), (vec![9.0], vec![6.0]));
}

#[test]
fn errors_and_panics_of_user_code_are_errs_and_the_function_serves_the_next_call() {
    let picky = external(
        "picky",
        same_shape,
        |x: &[ArrayD<f64>]| {
            let v = x[0][[0]];
            if v < 0.0 {
                return Err(Error::msg("negative input"));
            }
            if v > 100.0 {
                panic!("too large");
            }
            Ok(vec![x[0].clone()])
        },
        |_x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(vec![ct[0].clone()]),
    );
    let line = line!() + 1;
    let af = accelerate(move |x: DlArray| Ok(picky.call(&[&x])?.remove(0) * 2.0));
    assert_eq!(values(&af.call(DlArray::from(array![1.0])).unwrap()), vec![2.0]);
    let e = af.call(DlArray::from(array![-1.0])).unwrap_err().to_string();
    assert!(e.contains("picky") && e.contains("negative input"), "{e}");
    assert!(e.contains(&format!("custom_rules.rs:{line}")), "{e}");
    let e = af.call(DlArray::from(array![1000.0])).unwrap_err().to_string();
    assert!(e.contains("picky") && e.contains("panicked") && e.contains("too large"), "{e}");
    assert_eq!(values(&af.call(DlArray::from(array![4.0])).unwrap()), vec![8.0]);
    // A forward that breaks its spec, a spec that refuses, a rule that returns the wrong shape.
    let liar = external(
        "liar",
        same_shape,
        |_x: &[ArrayD<f64>]| Ok(vec![ArrayD::zeros(ndarray::IxDyn(&[7]))]),
        |_x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(vec![ct[0].clone()]),
    );
    let e = liar.call(&[&DlArray::from(array![1.0, 2.0])]).unwrap_err().to_string();
    assert!(e.contains("liar") && e.contains("spec"), "{e}");
    let refusing = external(
        "refusing",
        |_s: &[&[usize]], _d: &[DType]| Err(Error::msg("no")),
        |x: &[ArrayD<f64>]| Ok(x.to_vec()),
        |_x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(ct.to_vec()),
    );
    assert!(refusing.call(&[&DlArray::from(array![1.0])]).unwrap_err().to_string().contains("refusing"));
    let wrong_rule = external(
        "wrong rule",
        same_shape,
        |x: &[ArrayD<f64>]| Ok(x.to_vec()),
        |_x: &[DlArray], _y: &[DlArray], _ct: &[DlArray]| Ok(vec![DlArray::from(array![1.0, 2.0, 3.0])]),
    );
    let e = dlfeval(
        move |x: DlArray| dlgradient(&wrong_rule.call(&[&x])?.remove(0).sum_all(), &x),
        DlArray::from(array![1.0]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("wrong rule") && e.contains("shape"), "{e}");
    // Complex input is refused.
    let c = DlArray::from(array![num_complex::Complex64::new(1.0, 1.0)]);
    assert!(square().call(&[&c]).is_err());
}

#[test]
fn derivative_operators_default_to_higher_derivatives() {
    // u = [x0^2 x1, x0 + x1^3] per observation: a Jacobian, then a Laplacian of the same u,
    // under dlfeval without retain_data, and the Jacobian differentiated again.
    let (j, l, g) = dlfeval(
        |x: DlArray| {
            let (a, b) = (x.slice(ndarray::s![.., 0..1]), x.slice(ndarray::s![.., 1..2]));
            let u = concat(&[&(a.square() * &b), &(&a + b.powf(3.0))], 1);
            let j = dljacobian(&u, &x, 1)?;
            let l = dllaplacian(&u, &x, 1)?;
            let g = dlgradient(&j.sum_all(), &x)?;
            Ok((j, l, g))
        },
        DlArray::from(array![[2.0, 3.0]]),
    )
    .unwrap();
    // J = [[2 x0 x1, x0^2], [1, 3 x1^2]]; Laplacian [2 x1, 6 x1]; d/dx sum(J) = [2 x1 + 2 x0, 2 x0 + 6 x1].
    assert_eq!(values(&j), vec![12.0, 4.0, 1.0, 27.0]);
    assert_eq!(values(&l), vec![6.0, 18.0]);
    assert_eq!(values(&g), vec![6.0 + 4.0, 4.0 + 18.0]);
}

#[test]
fn forward_mode_goes_through_both_kinds_by_transposition() {
    // d/dt [cube(x + t v) + softplus(x + t v)] at t = 0 is (3 x^2 + sigmoid(x)) v.
    let softplus = custom_vjp(
        |x: DlArray| Ok((x.exp() + 1.0).log()),
        |x: &DlArray, _y: &DlArray, ct: DlArray| Ok(ct * x.sigmoid()),
    );
    let cube = external(
        "cube",
        same_shape,
        |x: &[ArrayD<f64>]| Ok(vec![x[0].mapv(|v| v * v * v)]),
        |x: &[DlArray], _y: &[DlArray], ct: &[DlArray]| Ok(vec![&ct[0] * 3.0 * x[0].square()]),
    );
    let f = move |(x, v): (DlArray, DlArray)| {
        let y = cube.call(&[&x])?.remove(0) + softplus.call(x.clone())?;
        dljvp(&y, &x, &v)
    };
    let args = (DlArray::from(array![0.5, -1.0]), DlArray::from(array![2.0, 3.0]));
    let jv = dlfeval(f.clone(), args.clone()).unwrap();
    let want: Vec<f64> =
        [(0.5f64, 2.0), (-1.0, 3.0)].iter().map(|(x, v)| (3.0 * x * x + 1.0 / (1.0 + (-x).exp())) * v).collect();
    for (a, b) in values(&jv).iter().zip(&want) {
        assert!((a - b).abs() < 1e-14, "{a} vs {b}");
    }
    assert_eq!(values(&accelerate(f).call(args).unwrap()), values(&jv));
}
