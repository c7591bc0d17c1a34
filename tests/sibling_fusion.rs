//! Sibling kernels share one loop nest: W2's value (a sum over `x`) and its gradient (an
//! elementwise kernel over `x`) compile to one loop nest that reads `x` once, with results
//! bit-identical to the interpreter's for lengths around the vector width and the sum's block,
//! and for lengths run in chunks on the thread pool (pools of 1, 2 and 3 threads), in f32 and
//! f64. Siblings longer and shorter than the sum, and scalar loops (a complex sum, a strided
//! one) are fused too; a sibling that reads the sum is not.

mod common;

use common::data::{compiled_like_the_interpreter, XorShift};
use cranegrad::internals::interp;
use cranegrad::internals::jit;
use cranegrad::internals::Data;
use cranegrad::ir::{AxisSlice, BinaryOp, Graph, Op};
use cranegrad::prelude::*;
use ndarray::{s, ArrayD, IxDyn};
use num_complex::Complex64;
use std::sync::Arc;

fn w2(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = XorShift::golden(seed);
    (0..n).map(|_| rng.unit() * 3.0 - 1.5).collect()
}

fn input(dtype: DType, n: usize) -> Arc<Data> {
    let v = ArrayD::from_shape_vec(IxDyn(&[n]), values(n, n as u64 + 7)).unwrap();
    let w = ArrayD::from_shape_vec(IxDyn(&[n]), values(n, n as u64 + 8)).unwrap();
    Arc::new(match dtype {
        DType::F32 => Data::F32(v.mapv(|x| x as f32)),
        DType::C128 => Data::C128(ndarray::Zip::from(&v).and(&w).map_collect(|&re, &im| Complex64::new(re, im))),
        _ => Data::F64(v),
    })
}

fn bits(d: &Data) -> Vec<u64> {
    d.element_bits()
}

/// W2's optimized value-and-gradient graph for `x` of `n` elements of `dtype`.
fn w2_graph(dtype: DType, n: usize) -> Graph {
    let x = match dtype {
        DType::F32 => DlArray::from(ndarray::Array1::from_vec(vec![0.5f32; n])),
        _ => DlArray::from(ndarray::Array1::from_vec(vec![0.5f64; n])),
    };
    let g = cranegrad::trace_graph(|x: DlArray| w2(&x), x).unwrap();
    cranegrad::internals::opt::optimize(&g).unwrap()
}

/// [`compiled_like_the_interpreter`] on the one input `x`.
fn check_bits(g: &Graph, x: Arc<Data>, what: &str) -> jit::Compiled {
    compiled_like_the_interpreter(g, &[x], what)
}

/// The generated functions: `; kernels...` and `; chunks...` headers of the CLIF text.
fn functions(clif: &str) -> usize {
    clif.lines().filter(|l| l.starts_with("; kernels") || l.starts_with("; chunks")).count()
}

#[test]
fn w2_value_and_gradient_are_one_loop_nest_with_the_interpreters_bits() {
    // Around the sum's smallest fused length (512 + 1), odd lengths (not a multiple of the
    // vector width), whole blocks, and lengths the thread pool runs in chunks (from 2^18 + 1).
    let sizes = [513, 514, 515, 1000, 1001, 1002, 1025, 1027, 4099, 65_537, 262_145, 262_147, 300_007, 1_000_003];
    for dtype in [DType::F64, DType::F32] {
        for n in sizes {
            let g = w2_graph(dtype, n);
            let what = format!("W2 {dtype:?} n={n}");
            let c = check_bits(&g, input(dtype, n), &what);
            assert_eq!(c.loop_count(), 1, "{what}: the value and the gradient are one loop nest");
            if n == 1000 || n == 300_007 {
                let clif = c.clif_text();
                assert_eq!(functions(&clif), 1, "{what}: one generated function\n{clif}");
                // `x` is the only input: its pointer is loaded from the buffer table once, and
                // the value's and the gradient's loads in the fused loop both go through it.
                let kernels: Vec<&str> = clif.lines().filter(|l| l.starts_with(";   %")).collect();
                assert_eq!(kernels.len(), 1, "{what}: one kernel listed\n{clif}");
                assert!(kernels[0].contains("reduce_sum"), "{what}: the sum's loop nest\n{clif}");
                // The gradient's vector stores (`store notrap`, not known aligned) are in the
                // sum's loops: two per group of the sum's blocks and of its tail, one more in
                // the loop of the gradient's first elements (alone, the gradient has one).
                let vector_stores = clif.lines().filter(|l| l.trim_start().starts_with("store notrap v")).count();
                assert!(vector_stores >= 3, "{what}: {vector_stores} vector stores\n{clif}");
            }
        }
    }
}

#[test]
fn w2_through_accelerate_builds_one_kernel() {
    for n in [1000usize, 300_007] {
        let x = DlArray::from(ndarray::Array1::from_vec(values(n, 3)));
        let af = accelerate(|x: DlArray| w2(&x));
        let (y, g) = af.call(x.clone()).unwrap();
        let (ye, ge) = dlfeval(|x: DlArray| w2(&x), x).unwrap();
        assert_eq!(af.build_reports()[0].kernels, 1, "n={n}");
        assert_eq!(y.to_scalar::<f64>().unwrap().to_bits(), ye.to_scalar::<f64>().unwrap().to_bits(), "n={n}");
        let (a, b) = (g.extractdata::<f64>().unwrap(), ge.extractdata::<f64>().unwrap());
        let same = a.iter().zip(b.iter()).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same && a.len() == b.len(), "n={n}: gradient differs from the eager one");
    }
}

/// `sum(x^2)` and `x - slice`-style siblings built by hand: a sibling longer than the sum (the
/// last chunk writes its extra elements), one shorter, and one that reads the sum (not fused).
#[test]
fn siblings_of_other_lengths_and_a_dependent_one() {
    for dtype in [DType::F64, DType::F32] {
        for n in [777usize, 4096, 300_001] {
            // y = sum(x[1..]^2), e = x * 3 over all n elements (one longer than the sum).
            let mut g = Graph::new();
            let x = g.input(0, dtype, &[n]);
            let tail = g.push(Op::Slice(vec![AxisSlice { start: 1, len: n - 1, step: 1 }]), vec![x], 0).unwrap();
            let sq = g.push(Op::Binary(BinaryOp::Mul), vec![tail, tail], 0).unwrap();
            let y = g.push(Op::ReduceSum(vec![0]), vec![sq], 0).unwrap();
            let e = g.push(Op::Binary(BinaryOp::Add), vec![x, x], 0).unwrap();
            let e = g.push(Op::Binary(BinaryOp::Mul), vec![e, x], 0).unwrap();
            g.outputs = vec![y, e];
            let c = check_bits(&g, input(dtype, n), &format!("longer sibling {dtype:?} n={n}"));
            assert_eq!(c.loop_count(), 1);
            // y = sum(x^2), e = x[1..] - x[..-1] (one shorter than the sum).
            let mut g = Graph::new();
            let x = g.input(0, dtype, &[n]);
            let sq = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
            let y = g.push(Op::ReduceSum(vec![0]), vec![sq], 0).unwrap();
            let head = g.push(Op::Slice(vec![AxisSlice { start: 0, len: n - 1, step: 1 }]), vec![x], 0).unwrap();
            let tail = g.push(Op::Slice(vec![AxisSlice { start: 1, len: n - 1, step: 1 }]), vec![x], 0).unwrap();
            let e = g.push(Op::Binary(BinaryOp::Sub), vec![tail, head], 0).unwrap();
            g.outputs = vec![e, y];
            let c = check_bits(&g, input(dtype, n), &format!("shorter sibling {dtype:?} n={n}"));
            assert_eq!(c.loop_count(), 1);
            // y = sum(x^2), e = x - y: e reads the sum, so it runs after it.
            let mut g = Graph::new();
            let x = g.input(0, dtype, &[n]);
            let sq = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
            let y = g.push(Op::ReduceSum(vec![0]), vec![sq], 0).unwrap();
            let e = g.push(Op::Binary(BinaryOp::Sub), vec![x, y], 0).unwrap();
            g.outputs = vec![y, e];
            let c = check_bits(&g, input(dtype, n), &format!("dependent sibling {dtype:?} n={n}"));
            assert_eq!(c.loop_count(), 2);
        }
    }
}

/// Sums that run as scalar code keep their sibling in the same loop, computed in scalar code:
/// a complex sum, and a real sum over every other element (a strided read is not vectorized).
#[test]
fn scalar_sums_with_siblings() {
    for n in [600usize, 1001, 300_003] {
        // y = sum(x * x), e = x * x + x, complex.
        let mut g = Graph::new();
        let x = g.input(0, DType::C128, &[n]);
        let sq = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
        let y = g.push(Op::ReduceSum(vec![0]), vec![sq], 0).unwrap();
        let e = g.push(Op::Binary(BinaryOp::Add), vec![sq, x], 0).unwrap();
        g.outputs = vec![y, e];
        let c = check_bits(&g, input(DType::C128, n), &format!("complex n={n}"));
        assert_eq!(c.loop_count(), 1, "complex n={n}");
        // y = sum(x[0..2n:2]^2), e = 3 x[..n].
        let mut g = Graph::new();
        let x = g.input(0, DType::F64, &[2 * n]);
        let even = g.push(Op::Slice(vec![AxisSlice { start: 0, len: n, step: 2 }]), vec![x], 0).unwrap();
        let sq = g.push(Op::Binary(BinaryOp::Mul), vec![even, even], 0).unwrap();
        let y = g.push(Op::ReduceSum(vec![0]), vec![sq], 0).unwrap();
        let head = g.push(Op::Slice(vec![AxisSlice { start: 0, len: n, step: 1 }]), vec![x], 0).unwrap();
        let e = g.push(Op::Binary(BinaryOp::Add), vec![head, head], 0).unwrap();
        let e = g.push(Op::Binary(BinaryOp::Add), vec![e, head], 0).unwrap();
        g.outputs = vec![y, e];
        let c = check_bits(&g, input(DType::F64, 2 * n), &format!("strided n={n}"));
        assert_eq!(c.loop_count(), 1, "strided n={n}");
    }
}

/// `e = a * (1 - b * b)` over `[rows, columns]` (a layer's gradient), its sum over the rows
/// (the bias gradient) and a product reading `e` (so `e` has a buffer).
fn gradient_and_column_sum(dtype: DType, rows: usize, columns: usize) -> Graph {
    let mut g = Graph::new();
    let a = g.input(0, dtype, &[rows, columns]);
    let b = g.input(1, dtype, &[rows, columns]);
    let w = g.input(2, dtype, &[columns, 3]);
    let bb = g.push(Op::Binary(BinaryOp::Mul), vec![b, b], 0).unwrap();
    let one = g.push(Op::Constant(Arc::new(Data::scalar(dtype, Complex64::new(1.0, 0.0)))), vec![], 0).unwrap();
    let d = g.push(Op::Binary(BinaryOp::Sub), vec![one, bb], 0).unwrap();
    let e = g.push(Op::Binary(BinaryOp::Mul), vec![a, d], 0).unwrap();
    let s = g.push(Op::ReduceSum(vec![0]), vec![e], 0).unwrap();
    let p = g.push(Op::MatMul, vec![e, w], 0).unwrap();
    g.outputs = vec![s, p, e];
    g
}

#[test]
fn a_sum_over_the_rows_of_a_kernel_is_computed_in_its_loop_nest() {
    for dtype in [DType::F64, DType::F32] {
        // Vector columns with a remainder, short rows, one row, and the most rows one block of
        // the blocked order holds.
        for (rows, columns) in [(256, 256), (5, 37), (1, 10), (7, 3), (256, 33)] {
            let g = gradient_and_column_sum(dtype, rows, columns);
            let data = |shape: &[usize], seed: u64| {
                let v = ArrayD::from_shape_vec(IxDyn(shape), values(shape.iter().product(), seed)).unwrap();
                Arc::new(match dtype {
                    DType::F32 => Data::F32(v.mapv(|x| x as f32)),
                    _ => Data::F64(v),
                })
            };
            let inputs = [data(&[rows, columns], 1), data(&[rows, columns], 2), data(&[columns, 3], 3)];
            let want = interp::run(&g, &inputs).unwrap();
            let c = jit::compile(&g).unwrap();
            let got = c.run(&inputs).unwrap();
            let case = format!("{dtype:?} [{rows}, {columns}]");
            for (w, o) in want.iter().zip(&got) {
                assert_eq!(bits(w), bits(o), "{case}");
            }
            // The gradient's loop nest and the product: the sum has no loop of its own.
            let product_loops = usize::from(rows * columns * 3 <= 4096);
            assert_eq!(c.loop_count(), 1 + product_loops, "{case}");
        }
    }
}

#[test]
fn a_sum_over_more_rows_than_one_block_keeps_its_own_loop() {
    let g = gradient_and_column_sum(DType::F64, 300, 8);
    let data = |shape: &[usize], seed: u64| {
        Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(shape), values(shape.iter().product(), seed)).unwrap()))
    };
    let inputs = [data(&[300, 8], 4), data(&[300, 8], 5), data(&[8, 3], 6)];
    let c = jit::compile(&g).unwrap();
    // The gradient's loop nest and the sum's (the product calls GEMM).
    assert_eq!(c.loop_count(), 2);
    for (w, o) in interp::run(&g, &inputs).unwrap().iter().zip(&c.run(&inputs).unwrap()) {
        assert_eq!(bits(w), bits(o));
    }
}

#[test]
fn independent_reductions_over_the_same_rows_share_one_loop_nest() {
    // Three reductions of the rows of [7, 4] expressions (a softmax backward's row sums, a
    // row max) and one that reads another's result (it stays after them).
    for dtype in [DType::F64, DType::F32] {
        let (rows, columns) = (7, 4);
        let mut g = Graph::new();
        let a = g.input(0, dtype, &[rows, columns]);
        let b = g.input(1, dtype, &[rows, columns]);
        let ab = g.push(Op::Binary(BinaryOp::Mul), vec![a, b], 0).unwrap();
        let s1 = g.push(Op::ReduceSum(vec![1]), vec![ab], 0).unwrap();
        let d = g.push(Op::Binary(BinaryOp::Sub), vec![a, b], 0).unwrap();
        let s2 = g.push(Op::ReduceMax(vec![1]), vec![d], 0).unwrap();
        let s3 = g.push(Op::ReduceSum(vec![1]), vec![b], 0).unwrap();
        g.outputs = vec![s1, s2, s3];
        let data = |seed: u64| {
            let v = ArrayD::from_shape_vec(IxDyn(&[rows, columns]), values(rows * columns, seed)).unwrap();
            Arc::new(match dtype {
                DType::F32 => Data::F32(v.mapv(|x| x as f32)),
                _ => Data::F64(v),
            })
        };
        let inputs = [data(11), data(12)];
        let c = jit::compile(&g).unwrap();
        for (w, o) in interp::run(&g, &inputs).unwrap().iter().zip(&c.run(&inputs).unwrap()) {
            assert_eq!(bits(w), bits(o), "{dtype:?}");
        }
        // Rows of 4: each sum's row is straight code and the max's a loop of its own (with the
        // branch to its exact pass and that pass's loop, `extremum.rs`), inside the one loop
        // over the rows (three loops over the rows would make six).
        let clif = c.clif_text();
        assert_eq!(clif.matches("brif").count(), 4, "{clif}");
    }
}

#[test]
fn a_sum_over_the_short_rows_of_a_kernel_is_computed_in_its_loop_nest() {
    // exp(x - max) of a softmax and its sum over each row of 10: one loop nest, the rows'
    // sums in the interpreter's blocked order. Rows of 40 run on vectors: their sum keeps its
    // own loop.
    for dtype in [DType::F64, DType::F32] {
        for (rows, columns, fused) in [(256, 10, true), (3, 1, true), (5, 31, true), (4, 40, false)] {
            let mut g = Graph::new();
            let x = g.input(0, dtype, &[rows, columns]);
            let m = g.push(Op::ReduceMax(vec![1]), vec![x], 0).unwrap();
            let m = g.push(Op::Reshape(vec![rows, 1]), vec![m], 0).unwrap();
            let d = g.push(Op::Binary(BinaryOp::Sub), vec![x, m], 0).unwrap();
            let e = g.push(Op::Unary(cranegrad::ir::UnaryOp::Exp), vec![d], 0).unwrap();
            let s = g.push(Op::ReduceSum(vec![1]), vec![e], 0).unwrap();
            g.outputs = vec![s, e];
            let v = ArrayD::from_shape_vec(IxDyn(&[rows, columns]), values(rows * columns, 21)).unwrap();
            let inputs = [Arc::new(match dtype {
                DType::F32 => Data::F32(v.mapv(|x| x as f32)),
                _ => Data::F64(v),
            })];
            let c = jit::compile(&g).unwrap();
            let case = format!("{dtype:?} [{rows}, {columns}]");
            for (w, o) in interp::run(&g, &inputs).unwrap().iter().zip(&c.run(&inputs).unwrap()) {
                assert_eq!(bits(w), bits(o), "{case}");
            }
            // The max, then exp with (or without) its row sums.
            assert_eq!(c.loop_count(), if fused { 2 } else { 3 }, "{case}");
        }
    }
}

/// The kernels the generated functions list (`;   %k = op [shape]` lines of the CLIF text).
fn listed_kernels(c: &jit::Compiled) -> Vec<String> {
    c.clif_text().lines().filter(|l| l.starts_with(";   %")).map(|l| l.trim_start_matches(";   ").to_string()).collect()
}

fn data_of(dtype: DType, shape: &[usize], seed: u64) -> Arc<Data> {
    let v = ArrayD::from_shape_vec(IxDyn(shape), values(shape.iter().product(), seed)).unwrap();
    Arc::new(match dtype {
        DType::F32 => Data::F32(v.mapv(|x| x as f32)),
        DType::C128 => Data::C128(v.mapv(|x| Complex64::new(x, 0.5 - x))),
        _ => Data::F64(v),
    })
}

/// How the gradient kernel of [`softmax_loss`] is summed.
#[derive(Clone, Copy, Debug)]
enum GradSum {
    None,
    /// Over the rows (a bias gradient: `columns.rs`).
    Rows,
    /// Over the columns.
    Columns,
}

/// A log-softmax cross-entropy loss of logits `z` and targets `t` (inputs 0 and 1, `[rows,
/// columns]`) and the logits' gradient: `loss = sum(t * (z - max - log(sum(exp(z - max)))))`
/// over both axes, `scaled = loss * -1/rows` (it reads the loss), and `grad = exp(z - max) /
/// sum - t` (a later kernel of the logits' shape that reads `t` too), with `sum` of `grad` as
/// `grad_sum` says. Returns the graph and the ids of the loss and the gradient.
fn softmax_loss(dtype: DType, rows: usize, columns: usize, grad_sum: GradSum) -> (Graph, usize, usize) {
    use cranegrad::ir::UnaryOp;
    let mut g = Graph::new();
    let z = g.input(0, dtype, &[rows, columns]);
    let t = g.input(1, dtype, &[rows, columns]);
    let m = g.push(Op::ReduceMax(vec![1]), vec![z], 0).unwrap();
    let m = g.push(Op::Reshape(vec![rows, 1]), vec![m], 0).unwrap();
    let d = g.push(Op::Binary(BinaryOp::Sub), vec![z, m], 0).unwrap();
    let e = g.push(Op::Unary(UnaryOp::Exp), vec![d], 0).unwrap();
    let s = g.push(Op::ReduceSum(vec![1]), vec![e], 0).unwrap();
    let s = g.push(Op::Reshape(vec![rows, 1]), vec![s], 0).unwrap();
    let l = g.push(Op::Unary(UnaryOp::Log), vec![s], 0).unwrap();
    let lp = g.push(Op::Binary(BinaryOp::Sub), vec![d, l], 0).unwrap();
    let p = g.push(Op::Binary(BinaryOp::Mul), vec![t, lp], 0).unwrap();
    let loss = g.push(Op::ReduceSum(vec![0, 1]), vec![p], 0).unwrap();
    let k = g.push(Op::Constant(Arc::new(Data::scalar(dtype, Complex64::new(-1.0 / rows as f64, 0.0)))), vec![], 0);
    let scaled = g.push(Op::Binary(BinaryOp::Mul), vec![loss, k.unwrap()], 0).unwrap();
    let q = g.push(Op::Binary(BinaryOp::Div), vec![e, s], 0).unwrap();
    let grad = g.push(Op::Binary(BinaryOp::Sub), vec![q, t], 0).unwrap();
    g.outputs = vec![scaled, grad];
    let axis = match grad_sum {
        GradSum::None => None,
        GradSum::Rows => Some(0),
        GradSum::Columns => Some(1),
    };
    if let Some(axis) = axis {
        let r = g.push(Op::ReduceSum(vec![axis]), vec![grad], 0).unwrap();
        g.outputs.push(r);
    }
    (g, loss, grad)
}

/// W3's loss and gradients (`benches/workloads/models.rs`): a tanh layer, logits, log-softmax
/// cross-entropy.
#[allow(clippy::type_complexity)]
fn w3(
    args: (DlArray, DlArray, DlArray, DlArray, DlArray, DlArray),
) -> Result<(DlArray, DlArray, DlArray, DlArray, DlArray)> {
    let (w1, b1, w2, b2, x, t) = args;
    let hidden = (x.matmul(&w1) + &b1).tanh();
    let logits = hidden.matmul(&w2) + &b2;
    let shifted = &logits - logits.max_axes(&[1], true);
    let log_probs = &shifted - shifted.exp().sum_axes(&[1], true).log();
    let loss = -(&t * log_probs).sum_all() / x.shape()[0] as f64;
    let (g1, g2, g3, g4) = dlgradient(&loss, (&w1, &b1, &w2, &b2))?;
    Ok((loss, g1, g2, g3, g4))
}

fn w3_args(b: usize, d: usize, h: usize, c: usize) -> (DlArray, DlArray, DlArray, DlArray, DlArray, DlArray) {
    let m = |shape: &[usize], seed: u64, scale: f64| {
        let v: Vec<f64> = values(shape.iter().product(), seed).into_iter().map(|x| x * scale).collect();
        DlArray::from(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
    };
    let targets = ArrayD::from_shape_fn(IxDyn(&[b, c]), |i| if (i[0] * 7 + 3) % c == i[1] { 1.0 } else { 0.0 });
    (
        m(&[d, h], 31, 1.0 / (d as f64).sqrt()),
        m(&[h], 32, 1.0),
        m(&[h, c], 33, 1.0 / (h as f64).sqrt()),
        m(&[c], 34, 1.0),
        m(&[b, d], 35, 1.0),
        DlArray::from(targets),
    )
}

#[test]
fn w3_loss_is_summed_in_the_loop_nest_of_the_logits_gradient() {
    // Through `accelerate`: W3's first function ran 9 kernels (11 in all), the loss its own
    // pass over the logits; the loss now runs in the loop nest of the logits' gradient.
    let args = w3_args(256, 784, 256, 10);
    let af = accelerate(w3);
    let (loss, ..) = af.call(args.clone()).unwrap();
    let (eager_loss, ..) = dlfeval(w3, args.clone()).unwrap();
    assert_eq!(loss.to_scalar::<f64>().unwrap().to_bits(), eager_loss.to_scalar::<f64>().unwrap().to_bits());
    assert_eq!(af.build_reports()[0].kernels, 10, "{}", af.native_dump());
    // The optimized graph, compiled: every output (the loss and the four gradients) has the
    // interpreter's bits, and the loss is listed with no kernel of the logits' shape after it.
    // (Products of at most 4096 multiply-adds, which both compute in the same order: a GEMM
    // call sums in another order than the interpreter's product. The next test checks W3's
    // part after the products at [256, 10].)
    for (b, d, h, c) in [(37, 5, 7, 10), (300, 2, 2, 3), (2, 2, 3, 300), (3, 2, 2, 5)] {
        let args = w3_args(b, d, h, c);
        let g = cranegrad::internals::opt::optimize(&cranegrad::trace_graph(w3, args.clone()).unwrap()).unwrap();
        let inputs: Vec<Arc<Data>> =
            [&args.0, &args.1, &args.2, &args.3, &args.4, &args.5].iter().map(|a| a.data().unwrap().clone()).collect();
        let what = format!("W3 ({b}, {d}, {h}, {c})");
        let compiled = compiled_like_the_interpreter(&g, &inputs, &what);
        let kernels = listed_kernels(&compiled);
        let loss = kernels.iter().position(|k| k.contains("reduce_sum []")).expect("the loss's kernel");
        let logits_shape = format!("[{b}, {c}]");
        assert!(
            !kernels[loss..].iter().any(|k| k.ends_with(&logits_shape)),
            "{what}: the logits' gradient is written in the loss's loop nest\n{kernels:#?}"
        );
    }
}

#[test]
fn a_loss_and_its_logits_gradient_share_one_loop_nest_with_the_interpreters_bits() {
    // Rows of scalar code and of vectors (with remainders), one row, one column, rows longer
    // than a block of the blocked order (several blocks per row), more rows than a block.
    let shapes =
        [(256, 10), (3, 5), (37, 10), (1000, 3), (1, 7), (9, 1), (7, 40), (20, 300), (3, 1000), (300, 300), (600, 33)];
    for dtype in [DType::F64, DType::F32] {
        for (rows, columns) in shapes {
            for grad_sum in [GradSum::None, GradSum::Rows, GradSum::Columns] {
                let (g, loss, grad) = softmax_loss(dtype, rows, columns, grad_sum);
                let inputs = [data_of(dtype, &[rows, columns], 41), data_of(dtype, &[rows, columns], 42)];
                let what = format!("{dtype:?} [{rows}, {columns}] {grad_sum:?}");
                let c = compiled_like_the_interpreter(&g, &inputs, &what);
                let kernels = listed_kernels(&c);
                assert!(kernels.iter().any(|k| k.starts_with(&format!("%{loss} "))), "{what}\n{kernels:#?}");
                assert!(!kernels.iter().any(|k| k.starts_with(&format!("%{grad} "))), "{what}\n{kernels:#?}");
            }
        }
    }
}

#[test]
fn full_sums_with_siblings_of_three_axes_padded_complex_and_dependent() {
    use cranegrad::ir::UnaryOp;
    // sum(x * y) over [4, 5, 6] and y * exp(x) beside it.
    for dtype in [DType::F64, DType::F32, DType::C128] {
        let shape = [4usize, 5, 6];
        let mut g = Graph::new();
        let x = g.input(0, dtype, &shape);
        let y = g.input(1, dtype, &shape);
        let xy = g.push(Op::Binary(BinaryOp::Mul), vec![x, y], 0).unwrap();
        let s = g.push(Op::ReduceSum(vec![0, 1, 2]), vec![xy], 0).unwrap();
        let e = g.push(Op::Unary(UnaryOp::Exp), vec![x], 0).unwrap();
        let e = g.push(Op::Binary(BinaryOp::Mul), vec![e, y], 0).unwrap();
        g.outputs = vec![s, e];
        let inputs = [data_of(dtype, &shape, 51), data_of(dtype, &shape, 52)];
        let c = compiled_like_the_interpreter(&g, &inputs, &format!("{dtype:?} 3 axes"));
        assert_eq!(c.loop_count(), 1, "{dtype:?} 3 axes");
    }
    // A sibling with a pad along the rows (its first column is a piece of its own): the sum's
    // blocks write the columns of one piece, a loop nest after it the others, and the sum over
    // the rows of the sibling takes each column in row order in either.
    for (rows, columns) in [(5, 500), (3, 10), (70, 400)] {
        let mut g = Graph::new();
        let x = g.input(0, DType::F64, &[rows, columns]);
        let y = g.input(1, DType::F64, &[rows, columns]);
        let xy = g.push(Op::Binary(BinaryOp::Mul), vec![x, y], 0).unwrap();
        let s = g.push(Op::ReduceSum(vec![0, 1]), vec![xy], 0).unwrap();
        let tail = AxisSlice { start: 1, len: columns - 1, step: 1 };
        let all = AxisSlice { start: 0, len: rows, step: 1 };
        let shifted = g.push(Op::Slice(vec![all, AxisSlice { start: 0, ..tail }]), vec![x], 0);
        let pad = g.push(Op::Pad { shape: vec![rows, columns], slices: vec![all, tail] }, vec![shifted.unwrap()], 0);
        let e = g.push(Op::Binary(BinaryOp::Sub), vec![pad.unwrap(), y], 0).unwrap();
        let r = g.push(Op::ReduceSum(vec![0]), vec![e], 0).unwrap();
        g.outputs = vec![s, e, r];
        let inputs = [data_of(DType::F64, &[rows, columns], 53), data_of(DType::F64, &[rows, columns], 54)];
        let c = compiled_like_the_interpreter(&g, &inputs, &format!("padded [{rows}, {columns}]"));
        assert_eq!(c.loop_count(), 1, "padded [{rows}, {columns}]");
    }
    // A kernel that reads the sum is not its sibling: the sum keeps its own loop nest.
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[6, 7]);
    let xx = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
    let s = g.push(Op::ReduceSum(vec![0, 1]), vec![xx], 0).unwrap();
    let e = g.push(Op::Binary(BinaryOp::Sub), vec![x, s], 0).unwrap();
    g.outputs = vec![s, e];
    let c = compiled_like_the_interpreter(&g, &[data_of(DType::F64, &[6, 7], 55)], "dependent");
    assert_eq!(c.loop_count(), 2, "dependent");
    // Between the sum and its sibling, a kernel that reads the sum and one that reads that
    // kernel: both move after the sibling, which takes the sum's place (3 loops, not 4).
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[6, 7]);
    let y = g.input(1, DType::F64, &[6, 7]);
    let xy = g.push(Op::Binary(BinaryOp::Mul), vec![x, y], 0).unwrap();
    let s = g.push(Op::ReduceSum(vec![0, 1]), vec![xy], 0).unwrap();
    let a = g.push(Op::Binary(BinaryOp::Mul), vec![x, s], 0).unwrap();
    let b = g.push(Op::Binary(BinaryOp::Add), vec![a, y], 0).unwrap();
    let e = g.push(Op::Binary(BinaryOp::Sub), vec![y, x], 0).unwrap();
    g.outputs = vec![b, s, e, a];
    let inputs = [data_of(DType::F64, &[6, 7], 56), data_of(DType::F64, &[6, 7], 57)];
    let c = compiled_like_the_interpreter(&g, &inputs, "reordered");
    let kernels = listed_kernels(&c);
    assert_eq!(c.loop_count(), 3, "reordered\n{kernels:#?}");
    let at = |k: usize| kernels.iter().position(|l| l.starts_with(&format!("%{k} "))).unwrap();
    assert!(at(s) < at(a) && at(a) < at(b), "reordered\n{kernels:#?}");
}

fn log_sum_exp(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let m = x.max_axes(&[0], true).stop_gradient();
    let y = ((x - &m).exp().sum_axes(&[0], true).log() + &m).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

#[test]
fn a_sums_operand_kernel_is_written_in_the_sums_loop_with_the_interpreters_bits() {
    // log-sum-exp: `exp(x - m)` (a buffer: the sum and the gradient read it) is computed in the
    // sum's loop, each element stored and added; the kernels are the maximum, the sum writing
    // the exponentials, and the gradient.
    let sizes = [1025, 1027, 4099, 65_537, 262_145, 300_007, 1_000_003];
    for dtype in [DType::F64, DType::F32] {
        for n in sizes {
            let x = match dtype {
                DType::F32 => DlArray::from(ndarray::Array1::from_vec(vec![0.5f32; n])),
                _ => DlArray::from(ndarray::Array1::from_vec(vec![0.5f64; n])),
            };
            let g = cranegrad::trace_graph(|x: DlArray| log_sum_exp(&x), x).unwrap();
            let g = cranegrad::internals::opt::optimize(&g).unwrap();
            let what = format!("log-sum-exp {dtype:?} n={n}");
            let c = check_bits(&g, input(dtype, n), &what);
            let clif = c.clif_text();
            let kernels: Vec<&str> = clif.lines().filter(|l| l.starts_with(";   %")).collect();
            assert!(!kernels.iter().any(|k| k.contains(" exp ")), "{what}: exp is no kernel of its own\n{clif}");
        }
    }
}
