//! Clustering workloads from public benchmark definitions: ADBench's Gaussian mixture model
//! objective (d = 10, K = 25, n = 1,000) with its gradient with respect to every parameter, and
//! the k-means cost (the sum over points of the squared distance to the nearest of 1,000
//! centroids, n = 10,000, d = 16) with its gradient with respect to the centroids. The same rows
//! are in `benches/compare_jax.py`.

use crate::measure::median;
use crate::models::data;
use crate::Row;
use cranegrad::prelude::*;
use ndarray::s;
use std::time::Duration;

/// The parameters and data of the GMM row: `(alphas [K], means [K, d], icf [K, d + d(d-1)/2],
/// x [n, d])`, ADBench's names.
pub type GmmArgs = (DlArray, DlArray, DlArray, DlArray);

/// The sizes of the GMM row: `(d, K, n)`.
pub const GMM_SIZES: (usize, usize, usize) = (10, 25, 1_000);

/// The Wishart prior's `gamma` and `m` (ADBench's defaults).
const WISHART: (f64, f64) = (1.0, 0.0);

/// Reproducible GMM arguments: every parameter and point in `[-1, 1)`.
pub fn gmm_args(d: usize, k: usize, n: usize) -> GmmArgs {
    let t = d + d * (d - 1) / 2;
    let arr = |rows: usize, cols: usize, seed: u64| {
        DlArray::from(ndarray::Array2::from_shape_vec((rows, cols), data(rows * cols, seed)).expect("shape"))
    };
    let alphas = DlArray::from(ndarray::Array1::from_vec(data(k, 41)));
    (alphas, arr(k, d, 42), arr(k, t, 43), arr(n, d, 44))
}

/// `ln Gamma_p(a)`, the multivariate gamma function's logarithm.
fn log_multigamma(a: f64, p: usize) -> f64 {
    let pi_term = 0.25 * (p * (p - 1)) as f64 * std::f64::consts::PI.ln();
    pi_term + (0..p).map(|j| libm::lgamma(a - 0.5 * j as f64)).sum::<f64>()
}

/// The constant `[t, d * d]` matrix that places ADBench's off-diagonal `icf` entries (the
/// strict lower triangle, column by column) into a row-major `d x d` matrix.
fn placement(d: usize) -> DlArray {
    let t = d * (d - 1) / 2;
    let mut place = ndarray::Array2::<f64>::zeros((t, d * d));
    let mut idx = 0;
    for j in 0..d {
        for i in j + 1..d {
            place[[idx, i * d + j]] = 1.0;
            idx += 1;
        }
    }
    DlArray::from(place)
}

/// Log-sum-exp along `axis` (JAX's `logsumexp`: the maximum under `stop_gradient`).
fn log_sum_exp_along(x: &DlArray, axis: usize) -> DlArray {
    let m = x.max_axes(&[axis], true).stop_gradient();
    ((x - &m).exp().sum_axes(&[axis], true).log() + m).sum_axes(&[axis], false)
}

/// ADBench's GMM objective (the negative log-likelihood is its negation) with a Wishart prior:
/// each component's inverse covariance is `L L'`, `L` lower triangular with `exp(icf[:, :d])` on
/// its diagonal and `icf[:, d:]` below it.
pub fn gmm_objective(alphas: &DlArray, means: &DlArray, icf: &DlArray, x: &DlArray) -> DlArray {
    let (k, d) = (means.shape()[0], means.shape()[1]);
    let n = x.shape()[0];
    let (gamma, m) = WISHART;
    let log_diag = icf.slice(s![.., ..d]);
    let off = icf.slice(s![.., d..]);
    let qdiags = log_diag.exp();
    let sum_qs = log_diag.sum_axes(&[1], false);
    let eye = DlArray::from(ndarray::Array2::<f64>::eye(d));
    // L for every component, [K, d, d], and its rows stacked, [K d, d].
    let l = qdiags.reshape(&[k, d, 1]) * &eye + off.matmul(&placement(d)).reshape(&[k, d, d]);
    // L_k (x_i - mu_k) for every point and component: [n, K, d].
    let lx = x.matmul(&l.reshape(&[k * d, d]).transpose()).reshape(&[n, k, d]);
    let lmu = (&l * means.reshape(&[k, 1, d])).sum_axes(&[2], false);
    let lxc = lx - lmu.reshape(&[1, k, d]);
    let inner = alphas.reshape(&[1, k]) + sum_qs.reshape(&[1, k]) - lxc.square().sum_axes(&[2], false) * 0.5;
    let slse = log_sum_exp_along(&inner, 1).sum_all();
    let lse_alphas = log_sum_exp_along(&alphas.reshape(&[1, k]), 1).sum_all();
    let constant = -((n * d) as f64) * 0.5 * (2.0 * std::f64::consts::PI).ln();
    let nw = d as f64 + m + 1.0;
    let c = nw * d as f64 * (gamma.ln() - 0.5 * 2f64.ln()) - log_multigamma(0.5 * nw, d);
    let frob = qdiags.square().sum_all() + off.square().sum_all();
    let prior = frob * (0.5 * gamma * gamma) - sum_qs.sum_all() * m - k as f64 * c;
    slse - lse_alphas * n as f64 + prior + constant
}

/// The GMM objective and its gradients with respect to `alphas`, `means` and `icf`.
pub fn gmm_value_and_grad(args: &GmmArgs) -> Result<(DlArray, (DlArray, DlArray, DlArray))> {
    let (alphas, means, icf, x) = args;
    let f = gmm_objective(alphas, means, icf, x);
    let g = dlgradient(&f, (alphas, means, icf))?;
    Ok((f, g))
}

/// The GMM objective by hand in `f64` (loops over points, components and the triangle), for
/// checking the value.
pub fn gmm_objective_by_hand(alphas: &[f64], means: &[f64], icf: &[f64], x: &[f64], d: usize) -> f64 {
    let (k, t) = (alphas.len(), d + d * (d - 1) / 2);
    let n = x.len() / d;
    let (gamma, m) = WISHART;
    let lse = |v: &[f64]| {
        let mx = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        mx + v.iter().map(|a| (a - mx).exp()).sum::<f64>().ln()
    };
    let mut slse = 0.0;
    let mut inner = vec![0.0; k];
    let mut xc = vec![0.0; d];
    for i in 0..n {
        for c in 0..k {
            let q = &icf[c * t..(c + 1) * t];
            for a in 0..d {
                xc[a] = x[i * d + a] - means[c * d + a];
            }
            let mut sq = 0.0;
            let mut idx = d;
            let mut lxc: Vec<f64> = (0..d).map(|a| q[a].exp() * xc[a]).collect();
            for (j, &xj) in xc.iter().enumerate() {
                for l in &mut lxc[j + 1..] {
                    *l += q[idx] * xj;
                    idx += 1;
                }
            }
            for v in &lxc {
                sq += v * v;
            }
            inner[c] = alphas[c] + q[..d].iter().sum::<f64>() - 0.5 * sq;
        }
        slse += lse(&inner);
    }
    let nw = d as f64 + m + 1.0;
    let cst = nw * d as f64 * (gamma.ln() - 0.5 * 2f64.ln()) - log_multigamma(0.5 * nw, d);
    let mut prior = 0.0;
    for c in 0..k {
        let q = &icf[c * t..(c + 1) * t];
        let frob: f64 = q[..d].iter().map(|v| (2.0 * v).exp()).sum::<f64>() + q[d..].iter().map(|v| v * v).sum::<f64>();
        prior += 0.5 * gamma * gamma * frob - m * q[..d].iter().sum::<f64>();
    }
    let constant = -((n * d) as f64) * 0.5 * (2.0 * std::f64::consts::PI).ln();
    constant + slse - n as f64 * lse(alphas) + prior - k as f64 * cst
}

/// The GMM row: accelerated and eager, the value checked by hand and the gradient by central
/// differences on a few coordinates of each parameter.
pub fn gmm_row(budget: Duration) -> Result<Row> {
    let (d, k, n) = GMM_SIZES;
    let args = gmm_args(d, k, n);
    let af = accelerate(|a: GmmArgs| gmm_value_and_grad(&a));
    let (f, (_, gm, gi)) = af.call(args.clone())?;
    let flat = |a: &DlArray| -> Result<Vec<f64>> { Ok(a.extractdata::<f64>()?.iter().copied().collect()) };
    let (alphas, means, icf, x) = (flat(&args.0)?, flat(&args.1)?, flat(&args.2)?, flat(&args.3)?);
    let value = gmm_objective_by_hand(&alphas, &means, &icf, &x, d);
    let got = f.to_scalar::<f64>()?;
    assert!((got - value).abs() <= 1e-9 * value.abs(), "GMM objective {got} differs from {value} by hand");
    for (which, grad, base) in [(1, flat(&gm)?, &means), (2, flat(&gi)?, &icf)] {
        for j in [0, 7, base.len() / 2, base.len() - 1] {
            let h = 1e-6;
            let at = |dv: f64| {
                let mut p = base.clone();
                p[j] += dv;
                let (m, i) = if which == 1 { (&p, &icf) } else { (&means, &p) };
                gmm_objective_by_hand(&alphas, m, i, &x, d)
            };
            let fd = (at(h) - at(-h)) / (2.0 * h);
            assert!((fd - grad[j]).abs() <= 1e-5 * fd.abs().max(1.0), "GMM gradient {j}: {} vs {fd}", grad[j]);
        }
    }
    let accelerated = median(budget, || {
        af.call(args.clone()).unwrap();
    });
    let eager = median(budget, || {
        dlfeval(|a: GmmArgs| gmm_value_and_grad(&a), args.clone()).unwrap();
    });
    Ok(Row {
        workload: format!("GMM objective + grad (ADBench), d={d} K={k} n={n}"),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: None,
        note: "value checked by hand, gradient by central differences".into(),
    })
}

/// The k-means cost of `points [n, d]` for `centroids [K, d]`: the sum over points of the
/// squared distance to the nearest centroid (`|x|^2 - 2 x c' + |c|^2`, one product).
pub fn kmeans_cost(points: &DlArray, centroids: &DlArray) -> DlArray {
    let xx = points.square().sum_axes(&[1], true);
    let cc = centroids.square().sum_axes(&[1], false);
    let dist = xx - points.matmul(&centroids.transpose()) * 2.0 + cc.reshape(&[1, centroids.shape()[0]]);
    dist.min_axes(&[1], false).sum_all()
}

/// The k-means cost and its gradient with respect to the centroids.
pub fn kmeans_cost_and_grad(points: &DlArray, centroids: &DlArray) -> Result<(DlArray, DlArray)> {
    let cost = kmeans_cost(points, centroids);
    let g = dlgradient(&cost, centroids)?;
    Ok((cost, g))
}

/// The k-means cost and its gradient by hand: for each point the nearest centroid by the same
/// expanded distance, then `2 (c - x)` summed into that centroid's gradient.
pub fn kmeans_by_hand(x: &[f64], c: &[f64], d: usize, grad: &mut [f64]) -> f64 {
    let cc: Vec<f64> = c.chunks(d).map(|r| r.iter().map(|v| v * v).sum()).collect();
    grad.fill(0.0);
    let mut cost = 0.0;
    for p in x.chunks(d) {
        let xx: f64 = p.iter().map(|v| v * v).sum();
        let (mut best, mut at) = (f64::INFINITY, 0);
        for (j, cj) in c.chunks(d).enumerate() {
            let dot: f64 = p.iter().zip(cj).map(|(a, b)| a * b).sum();
            let dist = xx - 2.0 * dot + cc[j];
            if dist < best {
                (best, at) = (dist, j);
            }
        }
        cost += best;
        for (g, (cv, xv)) in grad[at * d..(at + 1) * d].iter_mut().zip(c[at * d..].iter().zip(p)) {
            *g += 2.0 * (cv - xv);
        }
    }
    cost
}

/// The k-means data: `n` points and `k` centroids in `d` dimensions, as row-major vectors and
/// as arrays.
pub struct KmeansData {
    pub n: usize,
    pub k: usize,
    pub d: usize,
    pub xs: Vec<f64>,
    pub cs: Vec<f64>,
    pub args: (DlArray, DlArray),
}

/// 10,000 points and 1,000 centroids in 16 dimensions.
pub fn kmeans_data() -> KmeansData {
    let (n, k, d) = (10_000, 1_000, 16);
    let xs = data(n * d, 51);
    let cs = data(k * d, 52);
    let x = DlArray::from(ndarray::Array2::from_shape_vec((n, d), xs.clone()).expect("shape"));
    let c = DlArray::from(ndarray::Array2::from_shape_vec((k, d), cs.clone()).expect("shape"));
    KmeansData { n, k, d, xs, cs, args: (x, c) }
}

/// The k-means rows, the cost alone and with its gradient: accelerated, eager and by hand
/// (checked against each other).
pub fn kmeans_rows(budget: Duration) -> Result<Vec<Row>> {
    let KmeansData { n, k, d, xs, cs, args } = kmeans_data();
    let af = accelerate(|(x, c): (DlArray, DlArray)| kmeans_cost_and_grad(&x, &c));
    let (cost, g) = af.call(args.clone())?;
    let mut hg = vec![0.0; k * d];
    let hand_cost = kmeans_by_hand(&xs, &cs, d, &mut hg);
    let got = cost.to_scalar::<f64>()?;
    assert!((got - hand_cost).abs() <= 1e-9 * hand_cost, "k-means cost {got} differs from {hand_cost} by hand");
    let worst = g.extractdata::<f64>()?.iter().zip(&hg).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-9, "k-means gradient differs by {worst:e}");
    let value_only = accelerate(|(x, c): (DlArray, DlArray)| Ok(kmeans_cost(&x, &c)));
    assert_eq!(value_only.call(args.clone())?.to_scalar::<f64>()?.to_bits(), got.to_bits(), "k-means cost alone");
    let cost_row = Row {
        workload: format!("k-means cost, n={n} K={k} d={d}"),
        eager: Some(median(budget, || {
            dlfeval(|(x, c): (DlArray, DlArray)| Ok(kmeans_cost(&x, &c)), args.clone()).unwrap();
        })),
        accelerated: Some(median(budget, || {
            value_only.call(args.clone()).unwrap();
        })),
        hand: None,
        note: String::new(),
    };
    let accelerated = median(budget, || {
        af.call(args.clone()).unwrap();
    });
    let eager = median(budget, || {
        dlfeval(|(x, c): (DlArray, DlArray)| kmeans_cost_and_grad(&x, &c), args.clone()).unwrap();
    });
    let hand = median(budget, || {
        std::hint::black_box(kmeans_by_hand(&xs, &cs, d, &mut hg));
    });
    let grad_row = Row {
        workload: format!("k-means cost + grad, n={n} K={k} d={d}"),
        eager: Some(eager),
        accelerated: Some(accelerated),
        hand: Some(hand),
        note: "d/d centroids; hand: the same expanded distances, one thread".into(),
    };
    Ok(vec![cost_row, grad_row])
}
