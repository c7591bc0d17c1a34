//! The maximum or minimum of every element of a large array is taken by rows of 4,096
//! elements, then over the rows' results (and the tail's), so that the JIT runs it on every
//! core. The rewrite must fire from 2^18 elements on, not below, and keep the bits exactly: a
//! NaN is skipped, ties of signed zeros fall the same way, an all-NaN vector gives NaN, under
//! the interpreter and compiled.

mod common;

use common::data::{exact_bits, real_data, XorShift};
use cranegrad::internals::{interp, jit, opt::optimize, Data};
use cranegrad::ir::{self, Graph, Op};
use cranegrad::DType;
use std::sync::Arc;

/// `reduce_max` (or `reduce_min`) of an input vector of `n` elements of `dtype`.
fn extreme(n: usize, dtype: DType, max: bool) -> Graph {
    let mut g = Graph::new();
    let x = g.input(0, dtype, &[n]);
    let op = if max { Op::ReduceMax(vec![0]) } else { Op::ReduceMin(vec![0]) };
    let r = g.push(op, vec![x], 0).unwrap();
    g.outputs = vec![r];
    g
}

/// Random values, and the special ones where `pattern` puts them: the extreme a signed zero
/// tie (both zeros, the true extreme's magnitude elsewhere), NaN everywhere, NaN and infinities
/// scattered, or the extreme in the tail.
fn values(n: usize, pattern: usize, max: bool, seed: u64) -> Vec<f64> {
    let mut rng = XorShift::golden(seed);
    let sign = if max { 1.0 } else { -1.0 };
    let mut v: Vec<f64> = (0..n).map(|_| -sign * (1.0 + rng.unit())).collect();
    match pattern {
        0 => {
            // Every element negative for a maximum (positive for a minimum) but two zeros.
            let (a, b) = (rng.below(n), rng.below(n));
            v[a] = 0.0;
            v[b] = -0.0;
        }
        1 => v.iter_mut().for_each(|x| *x = f64::NAN),
        2 => {
            for _ in 0..64 {
                let i = rng.below(n);
                v[i] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY][rng.below(3)];
            }
        }
        _ => v[n - 1] = sign * 3.0,
    }
    v
}

#[test]
fn long_extremes_go_by_rows_with_the_same_bits() {
    for (n, rows) in [(1 << 18, true), ((1 << 18) + 4095, true), (3 * 4096 * 29 + 1, true), ((1 << 18) - 1, false)] {
        for dtype in [DType::F64, DType::F32] {
            for max in [true, false] {
                let g = extreme(n, dtype, max);
                let o = optimize(&g).unwrap();
                let by_rows = o.nodes.iter().any(|n| n.shape.len() == 2 && n.shape[1] == 4096);
                assert_eq!(by_rows, rows, "n = {n}\n{}", ir::to_text(&o));
                let compiled = jit::compile(&o).unwrap();
                for pattern in 0..4 {
                    let input: Vec<Arc<Data>> = vec![real_data(dtype, &[n], values(n, pattern, max, n as u64))];
                    let want = interp::run(&g, &input).unwrap();
                    let got = interp::run(&o, &input).unwrap();
                    let native = compiled.run(&input).unwrap();
                    let label = format!("n = {n}, {dtype}, max {max}, pattern {pattern}: {want:?}");
                    assert_eq!(exact_bits(&want[0]), exact_bits(&got[0]), "{label} interpreted {got:?}");
                    assert_eq!(exact_bits(&want[0]), exact_bits(&native[0]), "{label} compiled {native:?}");
                }
            }
        }
    }
}

#[test]
fn the_extreme_of_every_element_of_a_matrix_goes_by_rows() {
    for max in [true, false] {
        let mut g = Graph::new();
        let x = g.input(0, DType::F64, &[700, 401]);
        let op = if max { Op::ReduceMax(vec![0, 1]) } else { Op::ReduceMin(vec![0, 1]) };
        let r = g.push(op, vec![x], 0).unwrap();
        g.outputs = vec![r];
        let o = optimize(&g).unwrap();
        assert!(o.nodes.iter().any(|n| n.shape[..] == [68, 4096]), "{}", ir::to_text(&o));
        for pattern in 0..4 {
            let input = vec![real_data(DType::F64, &[700, 401], values(700 * 401, pattern, max, 7))];
            let want = interp::run(&g, &input).unwrap();
            let native = jit::compile(&o).unwrap().run(&input).unwrap();
            assert_eq!(exact_bits(&want[0]), exact_bits(&native[0]), "max {max}, pattern {pattern}");
        }
    }
}

#[test]
fn the_rows_of_a_long_maximum_run_in_chunks() {
    let o = optimize(&extreme(1 << 20, DType::F64, true)).unwrap();
    let text = jit::compile(&o).unwrap().clif_text();
    assert!(text.contains("run in chunks, Rows { units: 256"), "{text}");
}
