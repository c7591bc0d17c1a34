//! Chunked kernels over the same rows run together, chunk by chunk: a softmax's maximum of each
//! row, its exponentials, their sum and the gradient that reads them take each chunk of rows
//! once. The results keep the interpreter's bits on pools of 1, 2 and 3 threads; a kernel that
//! reads another's result in other rows, or reads a small result that must wait for the whole
//! group, does not join it.

mod common;

use common::data::{compiled_like_the_interpreter, XorShift};
use cranegrad::internals::Data;
use cranegrad::ir::{AxisSlice, BinaryOp, Graph, NodeId, Op, UnaryOp};
use cranegrad::prelude::*;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

/// `rows x cols` values in `[-scale, scale)` of `dtype`.
fn matrix(dtype: DType, rows: usize, cols: usize, scale: f64, seed: u64) -> Arc<Data> {
    let mut rng = XorShift::golden(seed);
    let v: Vec<f64> = (0..rows * cols).map(|_| (rng.unit() * 2.0 - 1.0) * scale).collect();
    let a = ArrayD::from_shape_vec(IxDyn(&[rows, cols]), v).unwrap();
    Arc::new(match dtype {
        DType::F32 => Data::F32(a.mapv(|x| x as f32)),
        _ => Data::F64(a),
    })
}

/// One-hot targets: row `i` of class `(7 i + 3) mod cols`.
fn one_hot(dtype: DType, rows: usize, cols: usize) -> Arc<Data> {
    let a = ArrayD::from_shape_fn(IxDyn(&[rows, cols]), |ix| f64::from(u8::from((7 * ix[0] + 3) % cols == ix[1])));
    Arc::new(match dtype {
        DType::F32 => Data::F32(a.mapv(|x| x as f32)),
        _ => Data::F64(a),
    })
}

/// The optimized graph of `f` on `args`.
fn optimized<A: cranegrad::Tree, R: cranegrad::Tree>(f: impl FnOnce(A) -> Result<R>, args: A) -> Graph {
    let g = cranegrad::trace_graph(f, args).unwrap();
    cranegrad::internals::opt::optimize(&g).unwrap()
}

fn op(g: &mut Graph, op: Op, inputs: &[NodeId]) -> NodeId {
    g.push(op, inputs.to_vec(), 0).unwrap()
}

#[test]
fn a_softmax_cross_entropy_and_its_gradient_run_as_one_group_of_rows() {
    for dtype in [DType::F64, DType::F32] {
        for (rows, cols) in [(600, 1000), (513, 701), (40, 20_000)] {
            let what = format!("cross-entropy {dtype} [{rows}, {cols}]");
            let (x, t) = (matrix(dtype, rows, cols, 8.0, rows as u64), one_hot(dtype, rows, cols));
            let args = (DlArray::from(x.as_ref().clone()), DlArray::from(t.as_ref().clone()));
            let g = optimized(
                |(x, t): (DlArray, DlArray)| {
                    let loss = -(log_softmax(&x, 1) * &t).sum_all() / rows as f64;
                    let dx = dlgradient(&loss, &x)?;
                    Ok((loss, dx))
                },
                args,
            );
            let c = compiled_like_the_interpreter(&g, &[x, t], &what);
            let sizes = c.row_group_sizes();
            // The maximum, the exponentials, their sum, the loss's rows and the gradient.
            assert!(sizes.iter().any(|&n| n >= 4), "{what}: groups {sizes:?}");
        }
    }
}

#[test]
fn a_softmax_of_a_product_keeps_the_interpreters_bits() {
    let (h, w) = (matrix(DType::F64, 512, 16, 1.0, 1), matrix(DType::F64, 16, 1200, 1.0, 2));
    let args = (DlArray::from(h.as_ref().clone()), DlArray::from(w.as_ref().clone()));
    let g = optimized(
        |(h, w): (DlArray, DlArray)| {
            // The products' bits are faer's, not the interpreter's: no gradient through them.
            let p = softmax(&h.matmul(&w), 1);
            let loss = (&p * &p).sum_all();
            Ok((p, loss))
        },
        args,
    );
    let c = compiled_like_the_interpreter(&g, &[h, w], "softmax of h W");
    assert!(!c.row_group_sizes().is_empty(), "no group");
}

#[test]
fn a_kernel_that_reads_other_rows_of_a_members_result_does_not_join() {
    // m = max of each row; y = x - m in reversed row order: row i of y reads m[rows - 1 - i].
    let (rows, cols) = (700, 900);
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[rows, cols]);
    let m = op(&mut g, Op::ReduceMax(vec![1]), &[x]);
    let reversed = AxisSlice { start: rows - 1, len: rows, step: -1 };
    let m_rev = op(&mut g, Op::Slice(vec![reversed]), &[m]);
    let column = op(&mut g, Op::Reshape(vec![rows, 1]), &[m_rev]);
    let y = op(&mut g, Op::Binary(BinaryOp::Sub), &[x, column]);
    let e = op(&mut g, Op::Unary(UnaryOp::Exp), &[y]);
    g.outputs = vec![e];
    compiled_like_the_interpreter(&g, &[matrix(DType::F64, rows, cols, 3.0, 9)], "reversed rows");
}

#[test]
fn a_kernel_that_reads_a_result_of_the_whole_waits_for_it() {
    // m = max of each row (split); t = sum of m (small: it waits for the group); y = exp(x - t)
    // reads t, so it cannot run in m's chunks; z = exp(x - m) can.
    let (rows, cols) = (600, 800);
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[rows, cols]);
    let m = op(&mut g, Op::ReduceMax(vec![1]), &[x]);
    let t = op(&mut g, Op::ReduceSum(vec![0]), &[m]);
    let d = op(&mut g, Op::Binary(BinaryOp::Sub), &[x, t]);
    let y = op(&mut g, Op::Unary(UnaryOp::Exp), &[d]);
    let column = op(&mut g, Op::Reshape(vec![rows, 1]), &[m]);
    let dz = op(&mut g, Op::Binary(BinaryOp::Sub), &[x, column]);
    let z = op(&mut g, Op::Unary(UnaryOp::Exp), &[dz]);
    let sz = op(&mut g, Op::ReduceSum(vec![1]), &[z]);
    g.outputs = vec![y, t, sz];
    compiled_like_the_interpreter(&g, &[matrix(DType::F64, rows, cols, 0.01, 4)], "a result of the whole");
}

/// A random program over a matrix `[rows, cols]` and a vector `[rows]`: elementwise ops, sums
/// and maxima of each row broadcast back along the rows, rows taken in reverse, and sums of the
/// whole, several of its nodes outputs.
fn random_program(rng: &mut XorShift, rows: usize, cols: usize) -> Graph {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[rows, cols]);
    let v = g.input(1, DType::F64, &[rows]);
    let (mut mats, mut vecs) = (vec![x], vec![v]);
    for _ in 0..12 {
        let pick = |rng: &mut XorShift, of: &[NodeId]| of[rng.below(of.len())];
        match rng.below(7) {
            0 => {
                let a = pick(rng, &mats);
                let s = op(&mut g, Op::Unary(UnaryOp::Tanh), &[a]);
                mats.push(op(&mut g, Op::Unary(UnaryOp::Exp), &[s]));
            }
            1 => {
                let (a, b) = (pick(rng, &mats), pick(rng, &mats));
                let f = [BinaryOp::Add, BinaryOp::Mul, BinaryOp::Sub][rng.below(3)];
                mats.push(op(&mut g, Op::Binary(f), &[a, b]));
            }
            2 => {
                let a = pick(rng, &mats);
                let r = if rng.below(2) == 0 { Op::ReduceMax(vec![1]) } else { Op::ReduceSum(vec![1]) };
                vecs.push(op(&mut g, r, &[a]));
            }
            3 => {
                let (a, w) = (pick(rng, &mats), pick(rng, &vecs));
                let column = op(&mut g, Op::Reshape(vec![rows, 1]), &[w]);
                mats.push(op(&mut g, Op::Binary(BinaryOp::Sub), &[a, column]));
            }
            4 => {
                let w = pick(rng, &vecs);
                let reversed = AxisSlice { start: rows - 1, len: rows, step: -1 };
                vecs.push(op(&mut g, Op::Slice(vec![reversed]), &[w]));
            }
            5 => {
                let (a, w) = (pick(rng, &mats), pick(rng, &vecs));
                let total = op(&mut g, Op::ReduceSum(vec![0]), &[w]);
                let t = op(&mut g, Op::Unary(UnaryOp::Tanh), &[total]);
                mats.push(op(&mut g, Op::Binary(BinaryOp::Mul), &[a, t]));
            }
            _ => {
                let (w, u) = (pick(rng, &vecs), pick(rng, &vecs));
                let s = op(&mut g, Op::Unary(UnaryOp::Tanh), &[w]);
                vecs.push(op(&mut g, Op::Binary(BinaryOp::Add), &[s, u]));
            }
        }
    }
    let (last_mat, last_vec) = (mats[mats.len() - 1], vecs[vecs.len() - 1]);
    g.outputs = vec![last_mat, last_vec, mats[mats.len() / 2]];
    g
}

#[test]
fn random_programs_over_rows_keep_the_interpreters_bits() {
    let mut rng = XorShift::golden(2026);
    let mut grouped = 0;
    for case in 0..40 {
        let (rows, cols) = (300 + rng.below(400), 600 + rng.below(500));
        let g = random_program(&mut rng, rows, cols);
        let x = matrix(DType::F64, rows, cols, 0.5, case);
        let v = Arc::new(Data::F64(ArrayD::from_shape_fn(IxDyn(&[rows]), |ix| (ix[0] % 13) as f64 * 0.1 - 0.6)));
        let c = compiled_like_the_interpreter(&g, &[x, v], &format!("random program {case} [{rows}, {cols}]"));
        grouped += usize::from(!c.row_group_sizes().is_empty());
    }
    assert!(grouped >= 10, "only {grouped} of 40 programs ran a group");
}

#[test]
fn softmax_log_softmax_and_the_cross_entropies_read_their_rows_in_a_group() {
    let (rows, cols) = (600, 1000);
    let (x, t) = (matrix(DType::F64, rows, cols, 6.0, 17), one_hot(DType::F64, rows, cols));
    let classes = Arc::new(Data::F64(ArrayD::from_shape_fn(IxDyn(&[rows]), |ix| ((7 * ix[0] + 3) % cols) as f64)));
    let dl = |d: &Arc<Data>| DlArray::from(d.as_ref().clone());
    type Loss = fn(&DlArray, &DlArray) -> DlArray;
    let losses: [(&str, Loss, &Arc<Data>); 4] = [
        ("softmax", |x, _| softmax(x, 1).square().sum_all(), &t),
        ("log_softmax", |x, t| -(log_softmax(x, 1) * t).sum_all(), &t),
        ("crossentropy", |x, t| crossentropy(&softmax(x, 1), t), &t),
        ("indexcrossentropy", |x, t| indexcrossentropy(&softmax(x, 1), t), &classes),
    ];
    for (what, loss, targets) in losses {
        let g = optimized(
            |(x, t): (DlArray, DlArray)| {
                let l = loss(&x, &t);
                let dx = dlgradient(&l, &x)?;
                Ok((l, dx))
            },
            (dl(&x), dl(targets)),
        );
        let c = compiled_like_the_interpreter(&g, &[x.clone(), targets.clone()], what);
        // The maximum, the exponentials, their sums and at least one kernel that reads them
        // (the last pass may instead carry the loss's sum of the whole in its loop nest).
        let largest = c.row_group_sizes().into_iter().max().unwrap_or(0);
        assert!(largest >= 4, "{what}: groups {:?} of {} loops", c.row_group_sizes(), c.loop_count());
    }
}
