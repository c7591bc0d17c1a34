//! Linear-algebra workloads (API section 8): the negative log marginal likelihood of a Gaussian
//! process with an RBF kernel and its gradient with respect to the three hyperparameters
//! (log lengthscale, log signal variance, log noise variance) at n = 500 and n = 2,000, and
//! 10,000 batched 3x3 solves with their gradient. The same rows are in `benches/compare_jax.py`.

use crate::measure::median;
use crate::models::data;
use crate::Row;
use cranegrad::prelude::*;
use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, Side};
use std::time::Duration;

/// The data of the GP rows: inputs in [-3, 3], targets sin(2x) plus noise, and the
/// hyperparameters at which the gradient is taken.
pub fn gp_data(n: usize) -> (Vec<f64>, Vec<f64>, [f64; 3]) {
    let x: Vec<f64> = data(n, 21).iter().map(|v| 3.0 * v).collect();
    let noise = data(n, 22);
    let y: Vec<f64> = x.iter().zip(&noise).map(|(x, e)| (2.0 * x).sin() + 0.1 * e).collect();
    (x, y, [0.5f64.ln(), 1.0f64.ln(), 0.01f64.ln()])
}

/// The negative log marginal likelihood of `y` at inputs `x` (both `[n]`) under a GP with an
/// RBF kernel of log-hyperparameters `p = [log l, log sf2, log sn2]`, and its gradient.
pub fn gp_nll(p: &DlArray, x: &DlArray, y: &DlArray) -> Result<(DlArray, DlArray)> {
    let n = x.numel();
    let (l2, sf2, sn2) = ((p.at(0) * 2.0).exp(), p.at(1).exp(), p.at(2).exp());
    let eye = DlArray::from(ndarray::Array2::<f64>::eye(n).into_dyn());
    let d2 = (x.reshape(&[n, 1]) - x.reshape(&[1, n])).square();
    let k = sf2 * (d2 * -0.5 / l2).exp() + &eye * sn2;
    let l = chol_with(&k, Triangle::Lower);
    let yc = y.reshape(&[n, 1]);
    let z = linsolve(&l, &yc, LinsolveOptions { lt: true, ..Default::default() });
    let alpha = linsolve(&l, &z, LinsolveOptions { lt: true, transa: true, ..Default::default() });
    let log_diag = (&l * &eye).sum_axes(&[1], false).log().sum_all();
    let nll = (yc * alpha).sum_all() * 0.5 + log_diag + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    let g = dlgradient(&nll, p)?;
    Ok((nll, g))
}

/// The same by hand with faer: `K = L L'`, `alpha = K^-1 y`, and
/// `d nll / d theta = tr((K^-1 - alpha alpha') dK/dtheta) / 2`.
pub fn gp_nll_by_hand(x: &[f64], y: &[f64], p: [f64; 3]) -> (f64, [f64; 3]) {
    let n = x.len();
    let (l2, sf2, sn2) = ((2.0 * p[0]).exp(), p[1].exp(), p[2].exp());
    let rbf = Mat::from_fn(n, n, |i, j| sf2 * (-0.5 * (x[i] - x[j]).powi(2) / l2).exp());
    let k = Mat::from_fn(n, n, |i, j| rbf[(i, j)] + if i == j { sn2 } else { 0.0 });
    let llt = k.llt(Side::Lower).expect("positive definite");
    let yc = Mat::from_fn(n, 1, |i, _| y[i]);
    let alpha = llt.solve(&yc);
    let kinv = llt.inverse();
    let lf = llt.L();
    let log_diag: f64 = (0..n).map(|i| lf[(i, i)].ln()).sum();
    let fit: f64 = (0..n).map(|i| y[i] * alpha[(i, 0)]).sum();
    let nll = 0.5 * fit + log_diag + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    let mut g = [0.0; 3];
    for j in 0..n {
        for i in 0..n {
            let w = 0.5 * (kinv[(i, j)] - alpha[(i, 0)] * alpha[(j, 0)]);
            let r = rbf[(i, j)];
            g[0] += w * r * (x[i] - x[j]).powi(2) / l2;
            g[1] += w * r;
            if i == j {
                g[2] += w * sn2;
            }
        }
    }
    (nll, g)
}

/// The GP rows at `n` points: accelerated, eager and by hand, the accelerated result checked
/// against the hand-written one.
pub fn gp_row(n: usize, budget: Duration) -> Result<Row> {
    let (xs, ys, p0) = gp_data(n);
    let x = DlArray::from(ndarray::Array1::from_vec(xs.clone()));
    let y = DlArray::from(ndarray::Array1::from_vec(ys.clone()));
    let p = DlArray::from(ndarray::Array1::from_vec(p0.to_vec()));
    let args = (p.clone(), x.clone(), y.clone());
    let af = accelerate(|(p, x, y): (DlArray, DlArray, DlArray)| gp_nll(&p, &x, &y));
    let (nll, g) = af.call(args.clone())?;
    let (hand_nll, hand_g) = gp_nll_by_hand(&xs, &ys, p0);
    let g = g.extractdata::<f64>()?;
    assert!((nll.to_scalar::<f64>()? - hand_nll).abs() <= 1e-8 * hand_nll.abs().max(1.0), "GP nll differs");
    for (a, b) in g.iter().zip(hand_g) {
        assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "GP gradient differs: {a} vs {b}");
    }
    let accelerated = median(budget, || {
        af.call(args.clone()).unwrap();
    });
    let eager = median(budget, || {
        dlfeval(|(p, x, y): (DlArray, DlArray, DlArray)| gp_nll(&p, &x, &y), args.clone()).unwrap();
    });
    let hand = median(budget, || {
        std::hint::black_box(gp_nll_by_hand(&xs, &ys, p0));
    });
    Ok(Row {
        workload: format!("GP nll + grad (RBF, 3 hyperparameters), n={n}"),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: Some(hand),
        note: "hand: faer llt, K^-1 and the trace formula".into(),
    })
}

/// `sum((a \ b)^2)` over a batch and its gradients with respect to `a` and `b`.
pub fn batched_solve(a: &DlArray, b: &DlArray) -> Result<(DlArray, DlArray, DlArray)> {
    let loss = mldivide(a, b).square().sum_all();
    let (ga, gb) = dlgradient(&loss, (a, b))?;
    Ok((loss, ga, gb))
}

/// 10,000 3x3 systems `a [10000, 3, 3]` (random plus 3 I), `b [10000, 3, 1]`.
pub fn batched_args(count: usize) -> (DlArray, DlArray) {
    let a: Vec<f64> =
        data(count * 9, 31).iter().enumerate().map(|(i, v)| v + if (i % 9) % 4 == 0 { 3.0 } else { 0.0 }).collect();
    let a = ndarray::Array3::from_shape_vec((count, 3, 3), a).expect("shape");
    let b = ndarray::Array3::from_shape_vec((count, 3, 1), data(count * 3, 32)).expect("shape");
    (DlArray::from(a), DlArray::from(b))
}

/// The batched-solve row: accelerated and eager.
pub fn batched_row(budget: Duration) -> Result<Row> {
    let count = 10_000;
    let args = batched_args(count);
    let af = accelerate(|(a, b): (DlArray, DlArray)| batched_solve(&a, &b));
    af.call(args.clone())?;
    let accelerated = median(budget, || {
        af.call(args.clone()).unwrap();
    });
    let eager = median(budget, || {
        dlfeval(|(a, b): (DlArray, DlArray)| batched_solve(&a, &b), args.clone()).unwrap();
    });
    Ok(Row {
        workload: format!("{count} batched 3x3 solves + grad"),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: None,
        note: "d/da and d/db of sum((a \\ b)^2)".into(),
    })
}
