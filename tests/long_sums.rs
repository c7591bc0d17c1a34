//! The sum of every element of a large array of two or more axes is taken over every axis but
//! the first, then over the first, so that the JIT runs it on every core. The rewrite must fire
//! from 2^21 elements with rows of at least 64, not below, and keep the bits exactly (the
//! interpreter adds over the last axis first anyway): under the interpreter and compiled, for
//! real and complex dtypes, with special values among the terms.

mod common;

use common::data::{canonical_bits, XorShift};
use cranegrad::internals::{interp, jit, opt::optimize, Data};
use cranegrad::ir::{self, Graph, Op};
use cranegrad::DType;
use ndarray::{ArrayD, IxDyn};
use num_complex::Complex;
use std::sync::Arc;

/// `reduce_sum(x .* x, every axis)` of an input of `shape` and `dtype`.
fn sum_of_squares(shape: &[usize], dtype: DType) -> Graph {
    let mut g = Graph::new();
    let x = g.input(0, dtype, shape);
    let sq = g.push(Op::Binary(ir::BinaryOp::Mul), vec![x, x], 0).unwrap();
    let r = g.push(Op::ReduceSum((0..shape.len()).rev().collect()), vec![sq], 0).unwrap();
    g.outputs = vec![r];
    g
}

/// Random values of mixed sign and magnitude, with an infinity and a NaN where `special`.
fn values(n: usize, seed: u64, special: bool) -> Vec<f64> {
    let mut rng = XorShift::golden(seed);
    let mut v: Vec<f64> = (0..n).map(|_| (rng.unit() - 0.5) * 10f64.powi(rng.below(7) as i32 - 3)).collect();
    if special {
        v[rng.below(n)] = f64::INFINITY;
        v[rng.below(n)] = f64::NAN;
    }
    v
}

fn data(dtype: DType, shape: &[usize], v: Vec<f64>) -> Arc<Data> {
    let a = ArrayD::from_shape_vec(IxDyn(shape), v).unwrap();
    Arc::new(match dtype {
        DType::F32 => Data::F32(a.mapv(|x| x as f32)),
        DType::C128 => Data::C128(a.mapv(|x| Complex::new(x, 0.5 - x))),
        _ => Data::F64(a),
    })
}

#[test]
fn long_sums_of_every_axis_go_by_rows_with_the_same_bits() {
    let cases: [(&[usize], bool); 6] = [
        (&[2048, 1024], true),
        (&[3, 700_000], true),
        (&[130, 128, 129], true),
        (&[2047, 1024], false),
        (&[1 << 16, 32], false),
        (&[1, 1 << 21], false),
    ];
    for (shape, rows) in cases {
        for dtype in [DType::F64, DType::F32, DType::C128] {
            let g = sum_of_squares(shape, dtype);
            let o = optimize(&g).unwrap();
            let sums = o.nodes.iter().filter(|n| matches!(n.op, Op::ReduceSum(_))).count();
            assert_eq!(sums == 2, rows, "{shape:?} {dtype}\n{}", ir::to_text(&o));
            let compiled = jit::compile(&o).unwrap();
            let n = shape.iter().product();
            for special in [false, true] {
                let input = vec![data(dtype, shape, values(n, n as u64, special))];
                let want = interp::run(&g, &input).unwrap();
                let got = interp::run(&o, &input).unwrap();
                let native = compiled.run(&input).unwrap();
                let label = format!("{shape:?} {dtype}, special {special}: {want:?}");
                assert_eq!(canonical_bits(&want[0]), canonical_bits(&got[0]), "{label} interpreted {got:?}");
                assert_eq!(canonical_bits(&want[0]), canonical_bits(&native[0]), "{label} compiled {native:?}");
            }
        }
    }
}

#[test]
fn the_rows_of_a_long_sum_run_in_chunks() {
    let o = optimize(&sum_of_squares(&[4096, 1024], DType::F64)).unwrap();
    let text = jit::compile(&o).unwrap().clif_text();
    assert!(text.contains("run in chunks, Rows { units: 4096"), "{text}");
}
