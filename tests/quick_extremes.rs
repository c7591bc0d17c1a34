//! Maxima and minima over a kernel's innermost axis run first on the processor's comparison,
//! then again exactly when that result may differ (a zero extreme, a row of NaN or of the
//! starting infinity). Every row here is one such case or an ordinary one, in rows of lengths
//! around the vector loop's group (scalar remainders included), in `f32` and `f64`, over an
//! input, a fused expression and a matrix product computed by panels (k-means' distances, a
//! point on a centroid giving a zero): the bits are the interpreter's, NaN payloads included.

mod common;

use common::data::{exact_bits, real_data, XorShift};
use cranegrad::internals::{interp, jit, Data};
use cranegrad::ir::{BinaryOp, Graph, NodeId, Op};
use cranegrad::DType;
use std::sync::Arc;

/// Row patterns: ordinary values; the extreme a tie of signed zeros; the extreme a lone zero;
/// every element NaN (two payloads); every element the starting infinity; NaN and that
/// infinity mixed; the other infinity once; the extreme in the last element.
const PATTERNS: usize = 8;

/// Row `pattern` of `len` elements for a maximum (`max`) or a minimum.
fn row(len: usize, pattern: usize, max: bool, rng: &mut XorShift) -> Vec<f64> {
    let sign = if max { 1.0 } else { -1.0 };
    let mut v: Vec<f64> = (0..len).map(|_| -sign * (0.5 + rng.unit())).collect();
    let start = -sign * f64::INFINITY;
    let quiet_nan = f64::from_bits(0x7ff8_0000_0000_0123);
    match pattern {
        1 => {
            v[rng.below(len)] = 0.0;
            v[rng.below(len)] = -0.0;
        }
        2 => v[rng.below(len)] = if max { -0.0 } else { 0.0 },
        3 => v.iter_mut().enumerate().for_each(|(i, x)| *x = if i % 3 == 0 { quiet_nan } else { f64::NAN }),
        4 => v.iter_mut().for_each(|x| *x = start),
        5 => v.iter_mut().enumerate().for_each(|(i, x)| *x = if i % 2 == 0 { f64::NAN } else { start }),
        6 => v[rng.below(len)] = -start,
        7 => v[len - 1] = sign * 7.0,
        _ => {}
    }
    v
}

/// `rows` rows of `len` elements, cycling through the patterns.
fn matrix(rows: usize, len: usize, max: bool, seed: u64) -> Vec<f64> {
    let mut rng = XorShift::golden(seed);
    (0..rows).flat_map(|r| row(len, r % PATTERNS, max, &mut rng)).collect()
}

fn push(g: &mut Graph, op: Op, inputs: &[NodeId]) -> NodeId {
    g.push(op, inputs.to_vec(), 0).unwrap()
}

fn extreme_op(max: bool) -> Op {
    if max {
        Op::ReduceMax(vec![1])
    } else {
        Op::ReduceMin(vec![1])
    }
}

/// Runs `g` on `inputs` compiled and interpreted, and compares every output's bits.
fn check(g: &Graph, inputs: &[Arc<Data>], what: &str) {
    let want = interp::run(g, inputs).unwrap();
    let got = jit::compile(g).unwrap().run(inputs).unwrap();
    for (a, b) in want.iter().zip(&got) {
        assert_eq!(exact_bits(a), exact_bits(b), "{what}: compiled {b:?}, interpreted {a:?}");
    }
}

#[test]
fn extremes_of_rows_of_every_kind_keep_the_interpreters_bits() {
    for dtype in [DType::F64, DType::F32] {
        for max in [true, false] {
            for len in [1, 3, 7, 8, 9, 16, 17, 1000, 1001] {
                let rows = 3 * PATTERNS;
                // The extreme of each row of the input itself, and of `2 x - 1` fused into it.
                let mut g = Graph::new();
                let x = g.input(0, dtype, &[rows, len]);
                let direct = push(&mut g, extreme_op(max), &[x]);
                let two = push(&mut g, Op::Constant(Arc::new(Data::F64(ndarray::arr0(2.0).into_dyn()))), &[]);
                let two = push(&mut g, Op::Cast(dtype), &[two]);
                let doubled = push(&mut g, Op::Binary(BinaryOp::Mul), &[x, two]);
                let shifted = push(&mut g, Op::Binary(BinaryOp::Sub), &[doubled, two]);
                let fused = push(&mut g, extreme_op(max), &[shifted]);
                g.outputs = vec![direct, fused];
                let input = [real_data(dtype, &[rows, len], matrix(rows, len, max, len as u64))];
                check(&g, &input, &format!("{dtype}, max {max}, rows of {len}"));
            }
        }
    }
}

#[test]
fn k_means_distances_with_a_point_on_a_centroid_keep_the_interpreters_bits() {
    // min over centroids of |x|^2 - 2 x c' + |c|^2 (a product read by panels of rows), with
    // points that lie on a centroid (their distance comes out zero) and one with a NaN.
    let (n, k, d) = (3000, 200, 16);
    let mut rng = XorShift::golden(17);
    let c: Vec<f64> = (0..k * d).map(|_| (rng.below(8) as f64) - 4.0).collect();
    let mut x: Vec<f64> = (0..n * d).map(|_| rng.unit() * 8.0 - 4.0).collect();
    for p in (0..n).step_by(3) {
        let j = rng.below(k);
        x[p * d..(p + 1) * d].copy_from_slice(&c[j * d..(j + 1) * d]);
    }
    // A point with a NaN coordinate: every distance of its row is NaN.
    x[7 * d + 5] = f64::NAN;
    let mut g = Graph::new();
    let xs = g.input(0, DType::F64, &[n, d]);
    let cs = g.input(1, DType::F64, &[k, d]);
    let sq = push(&mut g, Op::Binary(BinaryOp::Mul), &[xs, xs]);
    let xx = push(&mut g, Op::ReduceSum(vec![1]), &[sq]);
    let xx = push(&mut g, Op::Reshape(vec![n, 1]), &[xx]);
    let csq = push(&mut g, Op::Binary(BinaryOp::Mul), &[cs, cs]);
    let cc = push(&mut g, Op::ReduceSum(vec![1]), &[csq]);
    let cc = push(&mut g, Op::Reshape(vec![1, k]), &[cc]);
    let ct = push(&mut g, Op::Permute(vec![1, 0]), &[cs]);
    let p = push(&mut g, Op::MatMul, &[xs, ct]);
    let two = push(&mut g, Op::Constant(Arc::new(Data::F64(ndarray::arr0(2.0).into_dyn()))), &[]);
    let p2 = push(&mut g, Op::Binary(BinaryOp::Mul), &[p, two]);
    let dist = push(&mut g, Op::Binary(BinaryOp::Sub), &[xx, p2]);
    let dist = push(&mut g, Op::Binary(BinaryOp::Add), &[dist, cc]);
    let nearest = push(&mut g, Op::ReduceMin(vec![1]), &[dist]);
    g.outputs = vec![nearest];
    let inputs = [real_data(DType::F64, &[n, d], x), real_data(DType::F64, &[k, d], c)];
    let want = interp::run(&g, &inputs).unwrap();
    let zeros = exact_bits(&want[0]).iter().filter(|&&b| f64::from_bits(b) == 0.0).count();
    assert!(zeros > 0, "some points lie exactly on a centroid");
    let compiled = jit::compile(&g).unwrap();
    assert_eq!(compiled.panel_count(), 1, "the product is read by panels");
    check(&g, &inputs, "k-means distances");
}
