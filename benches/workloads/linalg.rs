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

/// `x = a \ b` for one 3x3 system (`trans`: `a' \ b`) by Gaussian elimination with partial
/// pivoting.
fn solve3(a: &[f64], b: [f64; 3], trans: bool) -> [f64; 3] {
    let mut m = [[0.0; 4]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = if trans { a[j * 3 + i] } else { a[i * 3 + j] };
        }
        m[i][3] = b[i];
    }
    for c in 0..3 {
        let p = (c..3).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs())).unwrap_or(c);
        m.swap(c, p);
        let pivot = m[c];
        for row in m.iter_mut().skip(c + 1) {
            let f = row[c] / pivot[c];
            for (v, p) in row.iter_mut().zip(pivot).skip(c) {
                *v -= f * p;
            }
        }
    }
    let mut x = [0.0; 3];
    for i in (0..3).rev() {
        let s: f64 = (i + 1..3).map(|k| m[i][k] * x[k]).sum();
        x[i] = (m[i][3] - s) / m[i][i];
    }
    x
}

/// The batched solves by hand: the loss, and its gradients `gb = a^-T (2 x)`, `ga = -gb x'`.
pub fn batched_by_hand(a: &[f64], b: &[f64], ga: &mut [f64], gb: &mut [f64]) -> f64 {
    let mut loss = 0.0;
    for k in 0..b.len() / 3 {
        let ak = &a[k * 9..k * 9 + 9];
        let x = solve3(ak, [b[k * 3], b[k * 3 + 1], b[k * 3 + 2]], false);
        loss += x.iter().map(|v| v * v).sum::<f64>();
        let g = solve3(ak, [2.0 * x[0], 2.0 * x[1], 2.0 * x[2]], true);
        for i in 0..3 {
            gb[k * 3 + i] = g[i];
            for j in 0..3 {
                ga[k * 9 + i * 3 + j] = -g[i] * x[j];
            }
        }
    }
    loss
}

/// The batched-solve row: accelerated, eager and by hand (checked against each other).
pub fn batched_row(budget: Duration) -> Result<Row> {
    let count = 10_000;
    let args = batched_args(count);
    let af = accelerate(|(a, b): (DlArray, DlArray)| batched_solve(&a, &b));
    let (loss, ga, _) = af.call(args.clone())?;
    let a: Vec<f64> = args.0.extractdata::<f64>()?.iter().copied().collect();
    let b: Vec<f64> = args.1.extractdata::<f64>()?.iter().copied().collect();
    let (mut hga, mut hgb) = (vec![0.0; a.len()], vec![0.0; b.len()]);
    let hand_loss = batched_by_hand(&a, &b, &mut hga, &mut hgb);
    assert!((loss.to_scalar::<f64>()? - hand_loss).abs() <= 1e-9 * hand_loss, "batched loss differs");
    let worst = ga.extractdata::<f64>()?.iter().zip(&hga).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-9, "batched gradient differs by {worst:e}");
    let accelerated = median(budget, || {
        af.call(args.clone()).unwrap();
    });
    let eager = median(budget, || {
        dlfeval(|(a, b): (DlArray, DlArray)| batched_solve(&a, &b), args.clone()).unwrap();
    });
    let hand = median(budget, || {
        std::hint::black_box(batched_by_hand(&a, &b, &mut hga, &mut hgb));
    });
    Ok(Row {
        workload: format!("{count} batched 3x3 solves + grad"),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: Some(hand),
        note: "d/da and d/db of sum((a \\ b)^2); hand: elimination with partial pivoting, one thread".into(),
    })
}
