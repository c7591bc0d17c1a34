//! `lbfgsupdate`, `LbfgsState`, `LbfgsOptions` (docs/API.md section 6): convergence on Rosenbrock
//! (2-D, and n = 50 over a `ParamTable` exactly as docs/API.md writes it) with every line search, the
//! state after each step, the exact first steps, and failures that leave parameters and state
//! untouched.

use cranegrad::prelude::*;
use ndarray::{array, s, Array1};
use num_complex::Complex64;
use std::collections::BTreeMap;

fn rosenbrock_2d() -> AcceleratedFunction<DlArray, (DlArray, DlArray)> {
    accelerate(|x: DlArray| {
        let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
        Ok((y.clone(), dlgradient(&y, &x)?))
    })
}

fn vec_of(x: &DlArray) -> Vec<f64> {
    x.extractdata::<f64>().unwrap().iter().copied().collect()
}

fn l2(a: &[f64]) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn defaults_are_matlabs() {
    let state = LbfgsState::default();
    assert_eq!(state.history_size(), 10);
    assert_eq!(state.initial_inverse_hessian_factor(), 1.0);
    assert_eq!(state.iteration, 0);
    assert_eq!(state.line_search_status, LineSearchStatus::NotStarted);
    let options = LbfgsOptions::default();
    assert_eq!(options.line_search_method, LineSearch::WeakWolfe);
    assert_eq!(options.max_num_line_search_iterations, 20);
    let state = LbfgsState::new(5, 0.5);
    assert_eq!((state.history_size(), state.initial_inverse_hessian_factor()), (5, 0.5));
}

#[test]
fn rosenbrock_2d_converges_with_every_line_search() {
    let f = rosenbrock_2d();
    for method in [LineSearch::WeakWolfe, LineSearch::StrongWolfe, LineSearch::Backtracking] {
        let options = LbfgsOptions { line_search_method: method, ..Default::default() };
        let mut state = LbfgsState::default();
        let mut x = DlArray::from(array![-1.2, 1.0]);
        let mut steps = 0;
        while steps < 200 && (steps == 0 || state.gradients_norm >= 1e-10) {
            x = lbfgsupdate(&x, |x| f.call(x.clone()), &mut state, &options).unwrap();
            steps += 1;
        }
        let v = vec_of(&x);
        assert!((v[0] - 1.0).abs() < 1e-8 && (v[1] - 1.0).abs() < 1e-8, "{method:?}: {v:?} after {steps} steps");
        assert!(state.loss < 1e-16, "{method:?}: loss {}", state.loss);
        assert!(steps < 100, "{method:?} took {steps} steps");
        assert_eq!(state.iteration, steps);
    }
}

#[test]
fn api_md_example_n_50_over_a_param_table() {
    let mut state = LbfgsState::default(); // history size 10, initial inverse Hessian factor 1
    let loss_and_grad = accelerate(|p: ParamTable| {
        let x = p.get("f", "x").cloned().unwrap_or_else(|| DlArray::scalar(0.0));
        let loss = (x.slice(s![1..]) - x.slice(s![..-1]).square()).square().sum_all();
        let grads = dlgradient(&loss, &p)?;
        Ok((loss, grads))
    });
    let mut params = ParamTable::new();
    params.push("f", "x", DlArray::from(ndarray::Array1::from_elem(50, -1.2)));
    let mut converged = false;
    for _ in 0..1000 {
        params = lbfgsupdate(&params, |p| loss_and_grad.call(p.clone()), &mut state, &LbfgsOptions::default()).unwrap();
        if state.gradients_norm < 1e-5 {
            converged = true;
            break;
        }
    }
    assert!(converged, "not converged after {} iterations: {state:?}", state.iteration);
    // The loss is zero exactly on x[i+1] = x[i]^2; check that relation at the result.
    let x = vec_of(params.get("f", "x").unwrap());
    let residual: f64 = x.windows(2).map(|w| (w[1] - w[0] * w[0]).powi(2)).sum();
    assert!((residual - state.loss).abs() <= 1e-12 * (1.0 + residual), "{residual} vs {}", state.loss);
    assert!(state.loss < 1e-8, "loss {}", state.loss);
    assert!(loss_and_grad.hit_rate() > 90.0);
}

#[test]
fn state_fields_after_each_step() {
    let f = rosenbrock_2d();
    let mut state = LbfgsState::new(3, 1.0);
    let mut x = DlArray::from(array![-1.0, 2.0]);
    let mut previous_loss = f.call(x.clone()).unwrap().0.to_scalar::<f64>().unwrap();
    for k in 1..=15 {
        let old = vec_of(&x);
        x = lbfgsupdate(&x, |x| f.call(x.clone()), &mut state, &LbfgsOptions::default()).unwrap();
        let new = vec_of(&x);
        let (loss, grad) = f.call(x.clone()).unwrap();
        assert_eq!(state.iteration, k);
        assert_eq!(state.line_search_status, LineSearchStatus::Found, "step {k}");
        assert_eq!(state.loss, loss.to_scalar::<f64>().unwrap(), "step {k}: the loss at the new parameters");
        assert!((state.gradients_norm - l2(&vec_of(&grad))).abs() <= 1e-12 * (1.0 + state.gradients_norm));
        let step: Vec<f64> = new.iter().zip(&old).map(|(a, b)| a - b).collect();
        assert!((state.step_norm - l2(&step)).abs() <= 1e-12 * (1.0 + state.step_norm), "step {k}");
        // Sufficient decrease: every accepted step lowers the loss.
        assert!(state.loss < previous_loss, "step {k}: {} after {previous_loss}", state.loss);
        assert!(state.history_len() <= 3);
        previous_loss = state.loss;
    }
    assert_eq!(state.history_len(), 3);
}

#[test]
fn first_steps_follow_the_formulas() {
    // f = x^2 from x = 1: g = 2, p = -lambda g. With backtracking and lambda = 1 the rate 1
    // overshoots to x = -1 (no sufficient decrease), the rate 1/2 lands on 0.
    let f = accelerate(|x: DlArray| {
        let y = x.square().sum_all();
        Ok((y.clone(), dlgradient(&y, &x)?))
    });
    let options = LbfgsOptions { line_search_method: LineSearch::Backtracking, ..Default::default() };
    let mut state = LbfgsState::default();
    let x = lbfgsupdate(&DlArray::from(array![1.0]), |x| f.call(x.clone()), &mut state, &options).unwrap();
    assert_eq!(vec_of(&x), vec![0.0]);
    assert_eq!((state.loss, state.step_norm, state.gradients_norm), (0.0, 1.0, 0.0));
    // With lambda = 0.25 the first step -0.25 * 2 = -0.5 is taken as is (rate 1).
    let mut state = LbfgsState::new(10, 0.25);
    let x = lbfgsupdate(&DlArray::from(array![1.0]), |x| f.call(x.clone()), &mut state, &options).unwrap();
    assert_eq!(vec_of(&x), vec![0.5]);
    assert_eq!(state.step_norm, 0.5);
    // The second step uses lambda = s'y / y'y = (-0.5)(-1) / 1 = 0.5: the exact minimizer.
    let x = lbfgsupdate(&x, |x| f.call(x.clone()), &mut state, &options).unwrap();
    assert_eq!(vec_of(&x), vec![0.0]);
    assert_eq!(state.iteration, 2);
    // At a stationary point the update stays there.
    let x = lbfgsupdate(&x, |x| f.call(x.clone()), &mut state, &options).unwrap();
    assert_eq!((vec_of(&x), state.step_norm, state.iteration), (vec![0.0], 0.0, 3));
}

#[test]
fn the_loss_is_evaluated_once_per_line_search_step_and_reused_between_updates() {
    let f = rosenbrock_2d();
    let mut calls = 0;
    let mut state = LbfgsState::default();
    let mut x = DlArray::from(array![-1.2, 1.0]);
    for _ in 0..5 {
        x = lbfgsupdate(
            &x,
            |x| {
                calls += 1;
                f.call(x.clone())
            },
            &mut state,
            &LbfgsOptions::default(),
        )
        .unwrap();
    }
    // The first update evaluates the start; every line search at least once; at most 20 each.
    assert!((6..=1 + 5 * 20).contains(&calls), "{calls}");
    let before = calls;
    // Other arrays than the last update returned: the update evaluates them first.
    let copy = DlArray::from(x.extractdata::<f64>().unwrap());
    lbfgsupdate(
        &copy,
        |x| {
            calls += 1;
            f.call(x.clone())
        },
        &mut state,
        &LbfgsOptions::default(),
    )
    .unwrap();
    assert!(calls >= before + 2);
}

#[test]
fn trees_of_single_double_and_complex_parameters() {
    // minimize |z - (1 + 2i)|^2 + sum((a - 3)^2) + sum((b - [1, -1])^2) over a map of a Vec of
    // single-precision arrays and a complex scalar.
    let target = Complex64::new(1.0, 2.0);
    let loss_fn = accelerate(move |p: BTreeMap<String, Vec<DlArray>>| {
        let (a, b, z) = (&p["real"][0], &p["real"][1], &p["complex"][0]);
        let loss = (a - 3.0).square().sum_all().cast(DType::F64)
            + (b - DlArray::from(array![1.0f32, -1.0])).square().sum_all().cast(DType::F64)
            + (z - target).abs().square().sum_all();
        Ok((loss.clone(), dlgradient(&loss, &p)?))
    });
    let mut p = BTreeMap::new();
    p.insert("real".to_string(), vec![DlArray::from(array![0.0f32, 1.0, 2.0]), DlArray::from(array![0.0f32, 0.0])]);
    p.insert("complex".to_string(), vec![DlArray::from(array![Complex64::new(0.0, 0.0)])]);
    let mut state = LbfgsState::default();
    for _ in 0..30 {
        p = lbfgsupdate(&p, |p| loss_fn.call(p.clone()), &mut state, &LbfgsOptions::default()).unwrap();
        if state.gradients_norm < 1e-6 {
            break;
        }
    }
    assert!(state.gradients_norm < 1e-4, "{state:?}");
    assert_eq!(p["real"][0].dtype(), DType::F32);
    assert_eq!(p["complex"][0].dtype(), DType::C128);
    let a = p["real"][0].extractdata::<f32>().unwrap();
    assert!(a.iter().all(|v| (v - 3.0).abs() < 1e-4), "{a}");
    let b = p["real"][1].extractdata::<f32>().unwrap();
    assert!((b[0] - 1.0).abs() < 1e-4 && (b[1] + 1.0).abs() < 1e-4, "{b}");
    let z = p["complex"][0].extractdata::<Complex64>().unwrap()[0];
    assert!((z - target).norm() < 1e-6, "{z}");
}

#[test]
fn a_failing_loss_function_leaves_parameters_and_state_untouched() {
    let f = rosenbrock_2d();
    let x0 = DlArray::from(array![-1.2, 1.0]);
    let mut state = LbfgsState::default();
    // Err at the start.
    let r = lbfgsupdate(&x0, |_: &DlArray| Err(Error::Io("disk on fire".into())), &mut state, &LbfgsOptions::default());
    assert!(matches!(&r, Err(Error::Io(m)) if m == "disk on fire"), "{r:?}");
    assert_eq!(state.iteration, 0);
    assert!(state.loss.is_nan());
    assert_eq!(vec_of(&x0), vec![-1.2, 1.0]);
    // A few good steps, then a loss function that fails inside the line search.
    let mut x = x0.clone();
    for _ in 0..3 {
        x = lbfgsupdate(&x, |x| f.call(x.clone()), &mut state, &LbfgsOptions::default()).unwrap();
    }
    let (snapshot, before) = (format!("{state:?}"), vec_of(&x));
    let mut calls = 0;
    let r = lbfgsupdate(
        &x,
        |x| {
            calls += 1;
            if calls == 1 {
                f.call(x.clone())
            } else {
                Err(Error::Io("lost the data".into()))
            }
        },
        &mut state,
        &LbfgsOptions::default(),
    );
    // The state holds the loss at x, so the first call is the line search's: it fails there.
    assert!(r.is_err());
    assert_eq!(format!("{state:?}"), snapshot);
    assert_eq!(vec_of(&x), before);
    // A loss function whose loss carries an error (a failed op) is an Err too.
    let bad = accelerate(|x: DlArray| {
        let y = (&x + DlArray::from(array![1.0, 2.0, 3.0])).sum_all();
        Ok((y.clone(), dlgradient(&y, &x)?))
    });
    let r = lbfgsupdate(&x, |x| bad.call(x.clone()), &mut state, &LbfgsOptions::default());
    let message = r.unwrap_err().to_string();
    assert!(message.contains("[2]") && message.contains("[3]"), "{message}");
    assert_eq!(format!("{state:?}"), snapshot);
}

#[test]
fn a_non_finite_loss_at_the_start_is_an_error() {
    let f = accelerate(|x: DlArray| {
        let y = x.log().sum_all();
        Ok((y.clone(), dlgradient(&y, &x)?))
    });
    let mut state = LbfgsState::default();
    let x = DlArray::from(array![-1.0, 2.0]);
    let e = lbfgsupdate(&x, |x| f.call(x.clone()), &mut state, &LbfgsOptions::default()).unwrap_err();
    assert!(e.to_string().contains("lbfgsupdate") && e.to_string().contains("NaN"), "{e}");
    assert_eq!(state.iteration, 0);
}

#[test]
fn a_failed_line_search_keeps_the_parameters_and_clears_the_history() {
    // f = 1000 x^2 from x = 1 with one evaluation per line search: the rate 1 lands at -1999.
    let f = accelerate(|x: DlArray| {
        let y = 1000.0 * x.square().sum_all();
        Ok((y.clone(), dlgradient(&y, &x)?))
    });
    let options = LbfgsOptions { max_num_line_search_iterations: 1, ..Default::default() };
    let mut state = LbfgsState::default();
    let x = lbfgsupdate(&DlArray::from(array![1.0]), |x| f.call(x.clone()), &mut state, &options).unwrap();
    assert_eq!(state.line_search_status, LineSearchStatus::Failed);
    assert_eq!(vec_of(&x), vec![1.0]);
    assert_eq!((state.loss, state.step_norm, state.iteration, state.history_len()), (1000.0, 0.0, 1, 0));
    // With the default 20 evaluations the same start succeeds.
    let x = lbfgsupdate(&x, |x| f.call(x.clone()), &mut state, &LbfgsOptions::default()).unwrap();
    assert_eq!(state.line_search_status, LineSearchStatus::Found);
    assert!(state.loss < 1000.0 && vec_of(&x)[0].abs() < 1.0);
}

#[test]
fn bad_arguments_are_errors() {
    let f = rosenbrock_2d();
    let x = DlArray::from(array![-1.2, 1.0]);
    let run = |state: &mut LbfgsState, options: &LbfgsOptions| {
        lbfgsupdate(&x, |x| f.call(x.clone()), state, options).map(|_| ()).unwrap_err().to_string()
    };
    assert!(run(&mut LbfgsState::new(0, 1.0), &LbfgsOptions::default()).contains("history size"));
    assert!(run(&mut LbfgsState::new(10, 0.0), &LbfgsOptions::default()).contains("inverse Hessian factor"));
    assert!(run(&mut LbfgsState::new(10, f64::NAN), &LbfgsOptions::default()).contains("inverse Hessian factor"));
    let none = LbfgsOptions { max_num_line_search_iterations: 0, ..Default::default() };
    assert!(run(&mut LbfgsState::default(), &none).contains("max_num_line_search_iterations"));
    // Gradients that do not match the parameters, a non-scalar loss, a logical parameter.
    let mut state = LbfgsState::default();
    let e = lbfgsupdate(
        &vec![x.clone()],
        |_: &Vec<DlArray>| Ok((DlArray::scalar(1.0), vec![DlArray::from(array![1.0])])),
        &mut state,
        &LbfgsOptions::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("lbfgsupdate") && e.to_string().contains("shape [2]"), "{e}");
    let e =
        lbfgsupdate(&x, |x: &DlArray| Ok((x.clone(), x.clone())), &mut state, &LbfgsOptions::default()).unwrap_err();
    assert!(e.to_string().contains("real scalar loss") && e.to_string().contains("[2]"), "{e}");
    let flag = DlArray::from(Array1::from_elem(2, true));
    let e =
        lbfgsupdate(&flag, |x: &DlArray| Ok((DlArray::scalar(1.0), x.clone())), &mut state, &LbfgsOptions::default())
            .unwrap_err();
    assert!(e.to_string().contains("logical"), "{e}");
    assert_eq!(state.iteration, 0);
}
