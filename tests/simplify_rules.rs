//! The layout rules of `opt::simplify` that reverse mode's graphs need (issue 10): a slice of a
//! pad and a pad of a pad. Each test checks that its rule fires (the shape of the simplified
//! graph) and that the result has the same bits as the original under the interpreter, on
//! inputs mixing signed zeros, NaN and infinities.

use cranegrad::array::{DType, Data};
use cranegrad::interp;
use cranegrad::ir::{self, AxisSlice, BinaryOp, Graph, Op};
use cranegrad::opt::{optimize, simplify};
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

const SPECIAL: [f64; 8] = [-0.0, 0.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5, -2.25, 1e-310];

fn f64_data(shape: &[usize], offset: usize) -> Arc<Data> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|i| SPECIAL[(i + offset) % SPECIAL.len()]).collect();
    Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()))
}

fn same_bits(a: &Data, b: &Data) -> bool {
    let bits = |v: f64| if v.is_nan() { u64::MAX } else { v.to_bits() };
    a.dtype() == b.dtype()
        && a.shape() == b.shape()
        && a.to_c128_vec()
            .iter()
            .zip(b.to_c128_vec())
            .all(|(x, y)| bits(x.re) == bits(y.re) && bits(x.im) == bits(y.im))
}

/// `after` verifies and computes `before`'s outputs bit for bit.
fn assert_same_outputs(before: &Graph, after: &Graph, inputs: &[Arc<Data>]) {
    ir::verify(after).unwrap_or_else(|e| panic!("{e}\n{}", ir::to_text(after)));
    let x = interp::run(before, inputs).unwrap();
    let y = interp::run(after, inputs).unwrap();
    for (a, b) in x.iter().zip(&y) {
        assert!(same_bits(a, b), "{a}\nvs\n{b}\nbefore:\n{}after:\n{}", ir::to_text(before), ir::to_text(after));
    }
}

fn count(g: &Graph, pred: impl Fn(&Op) -> bool) -> usize {
    g.nodes.iter().filter(|n| pred(&n.op)).count()
}

fn unit(start: usize, len: usize) -> AxisSlice {
    AxisSlice { start, len, step: 1 }
}

/// `slice(pad(x))` on one axis of length 10, `x` of length 6 placed at `placed`.
fn slice_of_pad(placed: usize, window: AxisSlice) -> Graph {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[6]);
    let p = g.push(Op::Pad { shape: vec![10], slices: vec![unit(placed, 6)] }, vec![x], 0).unwrap();
    let s = g.push(Op::Slice(vec![window]), vec![p], 0).unwrap();
    g.outputs = vec![s];
    g
}

#[test]
fn slice_inside_a_pad_is_a_slice_of_its_operand() {
    // x at [2, 8); the window [3, 7) lies inside it: x[1..5].
    let g = slice_of_pad(2, unit(3, 4));
    let o = simplify(&g).unwrap();
    assert_eq!(count(&o, |op| matches!(op, Op::Pad { .. })), 0, "{}", ir::to_text(&o));
    assert!(o.nodes.iter().any(|n| n.op == Op::Slice(vec![unit(1, 4)])), "{}", ir::to_text(&o));
    for k in 0..8 {
        assert_same_outputs(&g, &o, &[f64_data(&[6], k)]);
    }
}

#[test]
fn slice_missing_a_pad_is_zeros() {
    // x at [4, 10); the window [0, 3) misses it: +0 everywhere, whatever x holds.
    let g = slice_of_pad(4, unit(0, 3));
    let o = simplify(&g).unwrap();
    assert_eq!(count(&o, |op| matches!(op, Op::Pad { .. } | Op::Slice(_))), 0, "{}", ir::to_text(&o));
    let out = &o.nodes[o.outputs[0]];
    assert!(matches!(out.op, Op::Broadcast(_)), "{}", ir::to_text(&o));
    assert!(matches!(o.nodes[out.inputs[0]].op, Op::Constant(_)), "{}", ir::to_text(&o));
    for k in 0..8 {
        assert_same_outputs(&g, &o, &[f64_data(&[6], k)]);
    }
}

#[test]
fn slice_overlapping_a_pad_pads_the_overlap() {
    // x at [1, 7); the window [0, 9) (as reverse mode's `pad` then `slice [0:n-1]`): the
    // overlap x[0..6] padded at [1, 7) into 9.
    let g = slice_of_pad(1, unit(0, 9));
    let o = simplify(&g).unwrap();
    assert_eq!(count(&o, |op| matches!(op, Op::Slice(_))), 0, "{}", ir::to_text(&o));
    let pads: Vec<&Op> = o.nodes.iter().map(|n| &n.op).filter(|op| matches!(op, Op::Pad { .. })).collect();
    assert_eq!(pads, vec![&Op::Pad { shape: vec![9], slices: vec![unit(1, 6)] }], "{}", ir::to_text(&o));
    // A window cutting x on both ends: a slice of x padded into the window.
    let g2 = slice_of_pad(3, unit(5, 5));
    let o2 = simplify(&g2).unwrap();
    assert!(o2.nodes.iter().any(|n| n.op == Op::Slice(vec![unit(2, 4)])), "{}", ir::to_text(&o2));
    assert!(o2.nodes.iter().any(|n| n.op == Op::Pad { shape: vec![5], slices: vec![unit(0, 4)] }));
    for k in 0..8 {
        assert_same_outputs(&g, &o, &[f64_data(&[6], k)]);
        assert_same_outputs(&g2, &o2, &[f64_data(&[6], k)]);
    }
}

#[test]
fn slice_of_a_two_axis_pad_is_exact() {
    // Every window of a 2-D pad of a 2 x 3 array into 4 x 5 at (1, 2), through `optimize`.
    let placed = vec![unit(1, 2), unit(2, 3)];
    for (r0, rl, c0, cl) in [(0, 4, 0, 5), (1, 2, 0, 5), (0, 1, 0, 5), (2, 2, 3, 2), (0, 3, 4, 1), (3, 1, 0, 2)] {
        let mut g = Graph::new();
        let x = g.input(0, DType::F64, &[2, 3]);
        let p = g.push(Op::Pad { shape: vec![4, 5], slices: placed.clone() }, vec![x], 0).unwrap();
        let s = g.push(Op::Slice(vec![unit(r0, rl), unit(c0, cl)]), vec![p], 0).unwrap();
        g.outputs = vec![s];
        let o = optimize(&g).unwrap();
        assert!(count(&o, |op| matches!(op, Op::Slice(_))) + count(&o, |op| matches!(op, Op::Pad { .. })) <= 2);
        for k in 0..8 {
            assert_same_outputs(&g, &o, &[f64_data(&[2, 3], k)]);
        }
    }
}

#[test]
fn pad_of_a_pad_is_one_pad() {
    // x (3) at [1, 4) of 5, that at [2, 7) of 9: x at [3, 6) of 9. With a step: x at every
    // other position of 6 (0, 2, 4), that reversed into 8 at [7, 1] step -1.
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[3]);
    let p1 = g.push(Op::Pad { shape: vec![5], slices: vec![unit(1, 3)] }, vec![x], 0).unwrap();
    let p2 = g.push(Op::Pad { shape: vec![9], slices: vec![unit(2, 5)] }, vec![p1], 0).unwrap();
    let q1 =
        g.push(Op::Pad { shape: vec![6], slices: vec![AxisSlice { start: 0, len: 3, step: 2 }] }, vec![x], 0).unwrap();
    let q2 = g
        .push(Op::Pad { shape: vec![8], slices: vec![AxisSlice { start: 7, len: 6, step: -1 }] }, vec![q1], 0)
        .unwrap();
    let sum = g.push(Op::Binary(BinaryOp::Add), vec![p2, p2], 0).unwrap();
    g.outputs = vec![p2, q2, sum];
    let o = simplify(&g).unwrap();
    let pads: Vec<&Op> = o.nodes.iter().map(|n| &n.op).filter(|op| matches!(op, Op::Pad { .. })).collect();
    assert_eq!(
        pads,
        vec![
            &Op::Pad { shape: vec![9], slices: vec![unit(3, 3)] },
            &Op::Pad { shape: vec![8], slices: vec![AxisSlice { start: 7, len: 3, step: -2 }] }
        ],
        "{}",
        ir::to_text(&o)
    );
    for k in 0..8 {
        assert_same_outputs(&g, &o, &[f64_data(&[3], k)]);
    }
}
