//! An unrolled loop compiles its repeated code once: the kernels of a long trace are cut into
//! functions at the period they repeat with, each function reads its buffers through its own
//! pointer table, and functions with the same code share one compiled copy. Contiguous slices
//! of inputs (a time step's row) are read in place rather than copied. Results stay those of
//! the interpreter bit for bit, and functions that differ in any constant are not shared.

mod common;
#[path = "../benches/support/unrolled_loss.rs"]
mod unrolled_loss;

use common::data::{real_data, same_bits, Lcg};
use cranegrad::internals::interp;
use cranegrad::internals::jit;
use cranegrad::internals::Data;
use cranegrad::ir::{AxisSlice, BinaryOp, Graph, Op, UnaryOp};
use cranegrad::prelude::*;
use cranegrad::DType;
use num_complex::Complex64;
use std::sync::Arc;
use unrolled_loss::{recurrent_inputs, recurrent_loss};

fn data(d: DType, shape: &[usize], seed: u64) -> Arc<Data> {
    let mut rng = Lcg(seed);
    real_data(d, shape, (0..shape.iter().product()).map(|_| rng.unit() - 0.5).collect())
}

fn assert_same_bits(g: &Graph, inputs: &[Arc<Data>], what: &str) -> jit::Compiled {
    let want = interp::run(g, inputs).unwrap();
    let compiled = jit::compile(g).unwrap();
    for _ in 0..2 {
        let got = compiled.run(inputs).unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(same_bits(a, b), "{what}: output {i} differs from the interpreter");
        }
    }
    compiled
}

#[test]
fn the_steps_of_an_unrolled_loss_share_their_compiled_functions() {
    let mut reports = Vec::new();
    for steps in [24, 96] {
        let af = accelerate(move |(p, xs): (Vec<DlArray>, DlArray)| {
            let l = recurrent_loss(&p, &xs, steps);
            let g = dlgradient(&l, &p)?;
            Ok((l, g))
        });
        let (p, xs) = recurrent_inputs(steps);
        let (l, g) = af.call((p.clone(), xs.clone())).unwrap();
        // The same bits as the eager (interpreted) evaluation of the same function.
        let (le, ge) = dlfeval(
            |(p, xs): (Vec<DlArray>, DlArray)| {
                let l = recurrent_loss(&p, &xs, steps);
                let g = dlgradient(&l, &p)?;
                Ok((l, g))
            },
            (p, xs),
        )
        .unwrap();
        assert_eq!(l.to_scalar::<f64>().unwrap().to_bits(), le.to_scalar::<f64>().unwrap().to_bits());
        for (a, b) in g.iter().zip(&ge) {
            assert!(same_bits(a.data().unwrap(), b.data().unwrap()), "{steps} steps: a gradient differs from eager");
        }
        let report = af.build_reports()[0].clone();
        assert!(report.kernels > 8 * steps, "{report}");
        if steps == 96 {
            let dump = af.native_dump();
            assert!(dump.contains("the code of kernels"), "no shared function in the dump");
        }
        reports.push(report);
    }
    // Four times the steps, four times the kernels, and about as many compiled functions (a few
    // more where the cuts of the forward and backward stretches fall differently).
    let (short, long) = (&reports[0], &reports[1]);
    assert!(long.kernels > 3 * short.kernels, "{short}\n{long}");
    assert!(long.functions <= short.functions + 8 && long.functions <= 20, "{short}\n{long}");
}

#[test]
fn steps_that_differ_in_a_constant_do_not_share_code() {
    // h <- tanh(h * c_t + x_t) over 40 steps; c_t is one of two immediates, in an irregular
    // pattern, so some stretches repeat and some do not.
    for d in [DType::F64, DType::F32] {
        let steps = 40;
        let mut g = Graph::new();
        let xs = g.input(0, d, &[steps, 14]);
        let mut h = g.input(1, d, &[1, 14]);
        let w = g.input(2, d, &[14, 14]);
        let mut outs = Vec::new();
        for t in 0..steps {
            let row = vec![AxisSlice { start: t, len: 1, step: 1 }, AxisSlice::full(14)];
            let x = g.push(Op::Slice(row), vec![xs], 0).unwrap();
            let c = if t % 7 == 3 || t % 11 == 5 { 0.75 } else { 1.25 };
            let c = g.push(Op::Constant(Arc::new(Data::scalar(d, Complex64::new(c, 0.0)))), vec![], 0).unwrap();
            let hc = g.push(Op::Binary(BinaryOp::Mul), vec![h, c], 0).unwrap();
            let z = g.push(Op::Binary(BinaryOp::Add), vec![hc, x], 0).unwrap();
            h = g.push(Op::Unary(UnaryOp::Tanh), vec![z], 0).unwrap();
            // Materialized each step: read by the next step and by a product.
            let hw = g.push(Op::MatMul, vec![h, w], 0).unwrap();
            outs.push(hw);
        }
        g.outputs = outs;
        let inputs = [data(d, &[steps, 14], 1), data(d, &[1, 14], 2), data(d, &[14, 14], 3)];
        let compiled = assert_same_bits(&g, &inputs, &format!("{d:?} steps with two constants"));
        assert!(compiled.function_count() >= 2);
    }
}

#[test]
fn contiguous_slices_of_inputs_are_read_in_place() {
    // y_t = xs[t] @ w for 8 rows: 8 products and no copies of the rows.
    for d in [DType::F64, DType::F32] {
        let mut g = Graph::new();
        let xs = g.input(0, d, &[8, 14]);
        let w = g.input(1, d, &[14, 14]);
        let mut outs = Vec::new();
        for t in 0..8 {
            let row = vec![AxisSlice { start: t, len: 1, step: 1 }, AxisSlice::full(14)];
            let x = g.push(Op::Slice(row), vec![xs], 0).unwrap();
            outs.push(g.push(Op::MatMul, vec![x, w], 0).unwrap());
        }
        // Two rows at once, and slices that are not contiguous (copied by a kernel).
        let mut slice = |of: usize, axes: [(usize, usize, isize); 2]| {
            let axes = axes.iter().map(|&(start, len, step)| AxisSlice { start, len, step }).collect();
            g.push(Op::Slice(axes), vec![of], 0).unwrap()
        };
        let pair = slice(xs, [(5, 2, 1), (0, 14, 1)]);
        let strided = slice(xs, [(1, 4, 2), (0, 14, 1)]);
        let head = slice(xs, [(0, 1, 1), (0, 3, 1)]); // part of one row: contiguous
        let columns = slice(xs, [(0, 8, 1), (0, 3, 1)]); // three columns: not contiguous
        let rows_of_w = slice(w, [(2, 3, 1), (0, 14, 1)]);
        for (a, b) in [(pair, w), (strided, w), (head, rows_of_w), (columns, rows_of_w)] {
            outs.push(g.push(Op::MatMul, vec![a, b], 0).unwrap());
        }
        g.outputs = outs;
        let inputs = [data(d, &[8, 14], 4), data(d, &[14, 14], 5)];
        let compiled = assert_same_bits(&g, &inputs, &format!("{d:?} slices"));
        // The 12 products, plus copies of the two slices that are not contiguous only.
        assert!(compiled.loop_count() <= 14, "{} loops", compiled.loop_count());
    }
}

#[test]
fn steps_that_differ_in_an_attribute_or_in_sharing_do_not_share_code() {
    // h <- step_v(h, x_t) over 60 steps, where the variant v of each step (an irregular
    // pattern) differs from the others in a slice offset, a reduction's axis, a pad's
    // placement, or in whether one subexpression is shared or written twice.
    let steps = 60;
    let mut g = Graph::new();
    let xs = g.input(0, DType::F64, &[steps, 6]);
    let mut h = g.input(1, DType::F64, &[6, 6]);
    let mut outs = Vec::new();
    for t in 0..steps {
        let row = vec![AxisSlice { start: t, len: 1, step: 1 }, AxisSlice::full(6)];
        let x = g.push(Op::Slice(row), vec![xs], 0).unwrap();
        let variant = (t * 7 + t / 5) % 5;
        let z = match variant {
            0 | 1 => {
                // A window of h at offset `variant`, padded back.
                let w = vec![AxisSlice { start: variant, len: 5, step: 1 }, AxisSlice::full(6)];
                let s = g.push(Op::Slice(w), vec![h], 0).unwrap();
                let placed = vec![AxisSlice { start: 1 - variant, len: 5, step: 1 }, AxisSlice::full(6)];
                g.push(Op::Pad { shape: vec![6, 6], slices: placed }, vec![s], 0).unwrap()
            }
            2 | 3 => {
                // A sum over axis `variant - 2`, broadcast back by the add below.
                let axis = variant - 2;
                let r = g.push(Op::ReduceSum(vec![axis]), vec![h], 0).unwrap();
                let shape = if axis == 0 { vec![1, 6] } else { vec![6, 1] };
                let r = g.push(Op::Reshape(shape), vec![r], 0).unwrap();
                g.push(Op::Binary(BinaryOp::Mul), vec![h, r], 0).unwrap()
            }
            _ => {
                // tanh(h) * tanh(h), once as one shared node and once as two equal ones.
                let a = g.push(Op::Unary(UnaryOp::Tanh), vec![h], 0).unwrap();
                let b = if t % 2 == 0 { a } else { g.push(Op::Unary(UnaryOp::Tanh), vec![h], 0).unwrap() };
                g.push(Op::Binary(BinaryOp::Mul), vec![a, b], 0).unwrap()
            }
        };
        let z = g.push(Op::Binary(BinaryOp::Add), vec![z, x], 0).unwrap();
        h = g.push(Op::Unary(UnaryOp::Sin), vec![z], 0).unwrap();
        if t % 10 == 9 {
            outs.push(h);
        }
    }
    g.outputs = outs;
    let inputs = [data(DType::F64, &[steps, 6], 7), data(DType::F64, &[6, 6], 8)];
    let compiled = assert_same_bits(&g, &inputs, "steps with five variants");
    assert!(compiled.function_count() >= 2);
}
