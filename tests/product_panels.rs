//! A matrix product that only one chunked kernel reads, row by row (the distances of k-means
//! before their minimum over each row), is computed by panels of rows inside that kernel's
//! chunks and never written whole: the same bits for any number of threads, the interpreter's
//! values to the GEMM bound, and the product kept whole where anything else reads it or where
//! it sums over many terms.

mod common;

use common::data::{exact_bits as bits, XorShift};
use cranegrad::internals::opt::optimize;
use cranegrad::internals::{interp, jit, Data};
use cranegrad::prelude::*;
use std::sync::Arc;

fn matrix(rows: usize, cols: usize, seed: u64) -> DlArray {
    let mut rng = XorShift::golden(seed);
    let v: Vec<f64> = (0..rows * cols).map(|_| rng.unit() * 2.0 - 1.0).collect();
    DlArray::from(ndarray::Array2::from_shape_vec((rows, cols), v).unwrap().into_dyn())
}

/// The elements of `d` as `f64`.
fn values(d: &Data) -> Vec<f64> {
    match &d.cast(DType::F64) {
        Data::F64(a) => a.iter().copied().collect(),
        _ => unreachable!("a cast to f64"),
    }
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

/// Compiles `f` at `args`, checks how many products run by panels, and compares the results
/// under pools of 1, 2 and 3 threads (bit for bit) and with the interpreter (to `tol` relative
/// to the largest magnitude).
fn check(
    name: &str,
    f: impl Fn((DlArray, DlArray)) -> Result<Vec<DlArray>>,
    args: (DlArray, DlArray),
    panels: usize,
    tol: f64,
) {
    let g = optimize(&cranegrad::trace_graph(&f, args.clone()).unwrap()).unwrap();
    let inputs: Vec<Arc<Data>> = [&args.0, &args.1].iter().map(|a| a.data().unwrap().clone()).collect();
    let compiled = jit::compile(&g).unwrap();
    assert_eq!(compiled.panel_count(), panels, "{name}: products computed by panels");
    let want = interp::run(&g, &inputs).unwrap();
    let one = pool(1).install(|| compiled.run(&inputs).unwrap());
    for threads in [2, 3] {
        let got = pool(threads).install(|| compiled.run(&inputs).unwrap());
        for (a, b) in got.iter().zip(&one) {
            assert_eq!(bits(a), bits(b), "{name}: {threads} threads");
        }
    }
    for (a, b) in one.iter().zip(&want) {
        let (a, b) = (values(a), values(b));
        let scale = b.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() <= tol * scale, "{name}: {x} vs {y}");
        }
    }
}

/// The k-means cost: each point's squared distance to its nearest centroid, summed.
fn kmeans((x, c): (DlArray, DlArray)) -> Result<Vec<DlArray>> {
    let xx = x.square().sum_axes(&[1], true);
    let cc = c.square().sum_axes(&[1], false);
    let dist = xx - x.matmul(&c.transpose()) * 2.0 + cc.reshape(&[1, c.shape()[0]]);
    Ok(vec![dist.min_axes(&[1], false).sum_all()])
}

#[test]
fn a_product_read_by_rows_is_computed_by_panels_inside_its_reader() {
    // Row counts that cut into unequal chunks and panels; f64 and f32.
    for (m, n, d) in [(1000, 700, 16), (333, 2000, 5), (2049, 300, 33)] {
        let args = (matrix(m, d, 1), matrix(n, d, 2));
        check(&format!("k-means {m}x{n}x{d}"), kmeans, args.clone(), 1, 1e-12);
        let f32_args = (args.0.cast(DType::F32), args.1.cast(DType::F32));
        check(&format!("k-means f32 {m}x{n}x{d}"), kmeans, f32_args, 1, 1e-4);
    }
    // An elementwise reader of the product's shape, its operand stored transposed (x' c').
    let args = (matrix(24, 900, 3), matrix(700, 24, 4));
    let scaled = |(x, c): (DlArray, DlArray)| Ok(vec![(x.transpose().matmul(&c.transpose()) * 0.5).tanh()]);
    check("tanh(x' c' / 2)", scaled, args, 1, 1e-12);
    // A least-squares loss, the sum of every element of a large product's expression: summed
    // by rows first, so the rows' sums read the product by panels.
    let args = (matrix(2100, 16, 5), matrix(1000, 16, 6));
    let least_squares = |(x, c): (DlArray, DlArray)| Ok(vec![(x.matmul(&c.transpose()) - 0.25).square().sum_all()]);
    check("sum((x c' - 1/4)^2)", least_squares, args, 1, 1e-12);
}

#[test]
fn a_product_that_anything_else_reads_is_written_whole() {
    let args = (matrix(1000, 16, 5), matrix(700, 16, 6));
    // Also an output.
    let both = |(x, c): (DlArray, DlArray)| {
        let p = x.matmul(&c.transpose());
        Ok(vec![p.max_axes(&[1], false), p])
    };
    check("product also an output", both, args.clone(), 0, 1e-12);
    // Read by two kernels (a value and its gradient's mask).
    let grad = |(x, c): (DlArray, DlArray)| {
        let (cost, g) = dlfeval_inner(&x, &c)?;
        Ok(vec![cost, g])
    };
    check("k-means and its gradient", grad, args.clone(), 0, 1e-12);
    // Deep: bound by its arithmetic, written whole by one GEMM call.
    let deep = (matrix(600, 100, 7), matrix(700, 100, 8));
    check("product of depth 100", kmeans, deep, 0, 1e-12);
    // Read transposed: its rows are not the reader's units.
    let transposed =
        |(x, c): (DlArray, DlArray)| Ok(vec![x.matmul(&c.transpose()).transpose().exp().sum_axes(&[1], false)]);
    check("product read transposed", transposed, args, 0, 1e-12);
}

/// The k-means cost and its gradient with respect to the centroids.
fn dlfeval_inner(x: &DlArray, c: &DlArray) -> Result<(DlArray, DlArray)> {
    let cost = kmeans((x.clone(), c.clone()))?.remove(0);
    let g = dlgradient(&cost, c)?;
    Ok((cost, g))
}
