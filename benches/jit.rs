//! Compiled vs interpreted vs hand-written, on traced value+gradient graphs (unoptimized: the
//! graph passes live on another branch, so duplicate slices etc. are measured as traced).
//!
//! W2: extended Rosenbrock value + gradient at n = 1e5, 1e6 (f64).
//! W3: two-layer tanh MLP with log-softmax cross-entropy, value + grads of W1 b1 W2 b2,
//!     (B, D, H, C) = (128, 64, 128, 10).

use cranegrad::internals::Data;
use cranegrad::prelude::*;
use cranegrad::{internals::interp, internals::jit, trace_graph};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use ndarray::{s, ArrayD, IxDyn};
use std::sync::Arc;
use std::time::Duration;

fn rosenbrock_vg(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let a = x.slice(s![1..]);
    let b = x.slice(s![..-1]);
    let y = (100.0 * (a - b.square()).square() + (1.0 - x.slice(s![..-1])).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

fn rosenbrock_hand(x: &[f64]) -> (f64, Vec<f64>) {
    let n = x.len();
    let mut g = vec![0.0; n];
    let mut f = 0.0;
    for i in 0..n - 1 {
        let (xi, xj) = (x[i], x[i + 1]);
        let t = xj - xi * xi;
        let u = 1.0 - xi;
        f += 100.0 * t * t + u * u;
        g[i] += -400.0 * t * xi - 2.0 * u;
        g[i + 1] += 200.0 * t;
    }
    (f, g)
}

fn w2(c: &mut Criterion) {
    let mut group = c.benchmark_group("W2_rosenbrock_value_grad");
    group.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for n in [100_000usize, 1_000_000] {
        let xv: Vec<f64> = (0..n).map(|i| ((i * 37 % 101) as f64 / 50.0) - 1.0).collect();
        let x = DlArray::from(ndarray::Array1::from(xv.clone()));
        let g = trace_graph(|x: DlArray| rosenbrock_vg(&x), x).unwrap();
        let compiled = jit::compile(&g).unwrap();
        eprintln!("W2 n={n}: {} nodes, {} kernels", g.nodes.len(), compiled.loop_count());
        let input = vec![Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[n]), xv.clone()).unwrap()))];
        group.bench_with_input(BenchmarkId::new("jit", n), &n, |b, _| {
            b.iter(|| compiled.run(black_box(&input)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("interp", n), &n, |b, _| {
            b.iter(|| interp::run(&g, black_box(&input)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("hand", n), &n, |b, _| b.iter(|| rosenbrock_hand(black_box(&xv))));
    }
    group.finish();
}

fn log_softmax_ce(z: &DlArray, y: &DlArray) -> DlArray {
    let m = z.max_axes(&[1], true);
    let zs = z - &m;
    let lse = zs.exp().sum_axes(&[1], true).log();
    let logp = zs - lse;
    -(y * &logp).sum_axes(&[1], false).mean_all()
}

fn mlp_vg(a: Vec<DlArray>) -> Result<(DlArray, DlArray, DlArray, DlArray, DlArray)> {
    let (x, y, w1, b1, w2, b2) = (&a[0], &a[1], &a[2], &a[3], &a[4], &a[5]);
    let h = (x.matmul(w1) + b1).tanh();
    let z = h.matmul(w2) + b2;
    let loss = log_softmax_ce(&z, y);
    let (g1, g2, g3, g4) = dlgradient(&loss, (w1, b1, w2, b2))?;
    Ok((loss, g1, g2, g3, g4))
}

fn w3(c: &mut Criterion) {
    let (bb, d, h, cc) = (128, 64, 128, 10);
    let f = |shape: &[usize], seed: usize| {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|i| (((i * 7919 + seed * 104729) % 1000) as f64 / 1000.0 - 0.5) * 0.5).collect();
        DlArray::from(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
    };
    let mut yv = vec![0.0; bb * cc];
    for i in 0..bb {
        yv[i * cc + (i * 3) % cc] = 1.0;
    }
    let args = vec![
        f(&[bb, d], 1),
        DlArray::from(ArrayD::from_shape_vec(IxDyn(&[bb, cc]), yv).unwrap()),
        f(&[d, h], 2),
        f(&[1, h], 3),
        f(&[h, cc], 4),
        f(&[1, cc], 5),
    ];
    let g = trace_graph(mlp_vg, args.clone()).unwrap();
    let compiled = jit::compile(&g).unwrap();
    eprintln!("W3: {} nodes, {} kernels", g.nodes.len(), compiled.loop_count());
    let input: Vec<Arc<Data>> = args.iter().map(|a| a.data().unwrap().clone()).collect();
    let mut group = c.benchmark_group("W3_mlp_value_grad");
    group.sample_size(30).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    group.bench_function("jit", |b| b.iter(|| compiled.run(black_box(&input)).unwrap()));
    group.bench_function("interp", |b| b.iter(|| interp::run(&g, black_box(&input)).unwrap()));
    group.finish();
}

criterion_group!(benches, w2, w3);
criterion_main!(benches);
