//! A compiled kernel with transcendentals runs a first version that takes every lane down the
//! common path and only notes the lanes that needed a rare one (`exp` near overflow, `log` of a
//! subnormal, `pow` of a negative base, ...); when any did, a second version runs the kernel
//! again with the rare paths. The bits must be the interpreter's either way: with no rare
//! argument, with one at the start, the middle or the end of a long array (a parallel chunk, a
//! sum's block, a vector loop's scalar tail), in elementwise kernels and in sums.

mod common;

use common::data::{exact_bits, real_data, XorShift};
use cranegrad::internals::{interp, jit, Data};
use cranegrad::ir::{self, BinaryOp, Graph, Lowering, Op, UnaryOp};
use cranegrad::DType;
use std::sync::Arc;

/// Arguments that take some algorithm's rare path.
const RARE: [f64; 10] = [1000.0, -1000.0, 720.0, f64::NAN, f64::INFINITY, 0.0, -0.0, 1e-310, -2.0, 1e300];

/// `op` applied to the inputs (one or two, of `shape`), as two outputs: the elementwise result
/// and the sum of all its elements.
fn graph(op: Op, arity: usize, dtype: DType, shape: &[usize]) -> Graph {
    let mut g = Graph::new();
    let xs: Vec<_> = (0..arity).map(|k| g.input(k, dtype, shape)).collect();
    let y = g.push(op, xs, 0).unwrap();
    let s = g.push(Op::ReduceSum((0..shape.len()).collect()), vec![y], 0).unwrap();
    g.outputs = vec![y, s];
    g
}

/// Common arguments (in `[0.25, 2.25)`, inside every function's domain but `acosh`'s lower
/// half, whose NaN is a rare path too), with `rare` at position `at` when given.
fn values(n: usize, seed: u64, rare: Option<(usize, f64)>) -> Vec<f64> {
    let mut rng = XorShift::golden(seed);
    let mut v: Vec<f64> = (0..n).map(|_| 0.25 + 2.0 * rng.unit()).collect();
    if let Some((at, x)) = rare {
        v[at] = x;
    }
    v
}

/// Compiles `g` once and runs it on the common arguments, then with each rare argument at the
/// start, the middle and the end of the first input: bits as the interpreter's.
fn check(g: &Graph, arity: usize, dtype: DType, shape: &[usize]) {
    let n: usize = shape.iter().product();
    let compiled = jit::compile(g).unwrap_or_else(|e| panic!("{e}\n{}", ir::to_text(g)));
    let mut cases = vec![None];
    for (k, &x) in RARE.iter().enumerate() {
        cases.push(Some(([0, n / 2, n - 1][k % 3], x)));
    }
    for case in cases {
        let inputs: Vec<Arc<Data>> = (0..arity)
            .map(|k| real_data(dtype, shape, values(n, 7 + k as u64, if k == 0 { case } else { None })))
            .collect();
        let want = interp::run(g, &inputs).unwrap();
        let got = compiled.run(&inputs).unwrap();
        for (w, h) in want.iter().zip(&got) {
            let (bw, bh) = (exact_bits(w), exact_bits(h));
            if let Some(i) = bw.iter().zip(&bh).position(|(a, b)| a != b) {
                panic!("{shape:?} {dtype}, rare {case:?}: differs at {i}\n{}", ir::to_text(g));
            }
        }
    }
}

/// Sizes: a short vector, a vector loop with a scalar tail, a long vector split into chunks
/// and sum blocks, a matrix split by rows.
const SHAPES: [&[usize]; 4] = [&[3], &[1001], &[300_001], &[640, 515]];

#[test]
fn unary_transcendentals_with_rare_arguments_anywhere() {
    for u in UnaryOp::ALL.into_iter().filter(|u| u.lowering(false) == Lowering::Polynomial) {
        for dtype in [DType::F64, DType::F32] {
            for shape in SHAPES {
                check(&graph(Op::Unary(u), 1, dtype, shape), 1, dtype, shape);
            }
        }
    }
}

#[test]
fn binary_transcendentals_with_rare_arguments_anywhere() {
    for b in BinaryOp::ALL.into_iter().filter(|b| b.lowering(false) == Lowering::Polynomial) {
        for dtype in [DType::F64, DType::F32] {
            for shape in SHAPES {
                check(&graph(Op::Binary(b), 2, dtype, shape), 2, dtype, shape);
            }
        }
    }
}
