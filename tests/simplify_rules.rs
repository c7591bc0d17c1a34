//! The layout rules of `opt::simplify` that reverse mode's graphs need (issue 10): a slice of a
//! pad, a pad of a pad, an elementwise op of equally placed pads, and an add of disjointly
//! placed pads; and small outer products as elementwise products. Each test checks that its rule fires (the shape of the simplified
//! graph) and that the result has the same bits as the original under the interpreter, on
//! inputs mixing signed zeros, NaN and infinities.

mod common;

use common::data::{f64_data, same_bits, XorShift as Rng, SPECIAL};
use cranegrad::internals::interp;
use cranegrad::internals::opt::{optimize, simplify};
use cranegrad::ir::{self, AxisSlice, BinaryOp, Graph, NodeId, Op, UnaryOp};
use cranegrad::{internals::Data, DType};
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

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
    // `p2 + p2` is `pad(x + x)` (the rule for elementwise ops of equally placed pads).
    let sum = g.push(Op::Binary(BinaryOp::Add), vec![p2, p2], 0).unwrap();
    g.outputs = vec![p2, q2, sum];
    let o = simplify(&g).unwrap();
    let pads: Vec<&Op> = o.nodes.iter().map(|n| &n.op).filter(|op| matches!(op, Op::Pad { .. })).collect();
    assert_eq!(
        pads,
        vec![
            &Op::Pad { shape: vec![9], slices: vec![unit(3, 3)] },
            &Op::Pad { shape: vec![8], slices: vec![AxisSlice { start: 7, len: 3, step: -2 }] },
            &Op::Pad { shape: vec![9], slices: vec![unit(3, 3)] },
        ],
        "{}",
        ir::to_text(&o)
    );
    for k in 0..8 {
        assert_same_outputs(&g, &o, &[f64_data(&[3], k)]);
    }
}

fn c128_data(shape: &[usize], offset: usize) -> Arc<Data> {
    let n: usize = shape.iter().product();
    let v: Vec<num_complex::Complex64> = (0..n)
        .map(|i| num_complex::Complex64::new(SPECIAL[(i + offset) % SPECIAL.len()], SPECIAL[(i + offset + 3) % 8]))
        .collect();
    Arc::new(Data::C128(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap()))
}

fn scalar_const(g: &mut Graph, v: f64) -> NodeId {
    g.push(Op::Constant(Arc::new(Data::scalar(DType::F64, num_complex::Complex64::new(v, 0.0)))), vec![], 0).unwrap()
}

fn pad(g: &mut Graph, x: NodeId, shape: &[usize], placed: Vec<AxisSlice>) -> NodeId {
    g.push(Op::Pad { shape: shape.to_vec(), slices: placed }, vec![x], 0).unwrap()
}

fn add(g: &mut Graph, a: NodeId, b: NodeId) -> NodeId {
    g.push(Op::Binary(BinaryOp::Add), vec![a, b], 0).unwrap()
}

/// Two inputs of length 6 placed at [2, 8) of 10, and `f` of the two pads as the outputs.
fn ops_of_pads(f: impl FnOnce(&mut Graph, NodeId, NodeId) -> Vec<NodeId>) -> Graph {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[6]);
    let y = g.input(1, DType::F64, &[6]);
    let px = pad(&mut g, x, &[10], vec![unit(2, 6)]);
    let py = pad(&mut g, y, &[10], vec![unit(2, 6)]);
    g.outputs = f(&mut g, px, py);
    g
}

fn assert_same_on_specials(g: &Graph, o: &Graph, shapes: &[&[usize]]) {
    for k in 0..8 {
        for j in 0..8 {
            let inputs: Vec<Arc<Data>> =
                shapes.iter().enumerate().map(|(i, s)| f64_data(s, if i == 0 { k } else { j })).collect();
            assert_same_outputs(g, o, &inputs);
        }
    }
}

#[test]
fn elementwise_op_of_equally_placed_pads_is_one_pad() {
    // add, mul, sub of the two pads; sqrt of one; times 2 and divided by 3 (0 * 2 = 0 / 3 = +0).
    let g = ops_of_pads(|g, px, py| {
        let two = scalar_const(g, 2.0);
        let three = scalar_const(g, 3.0);
        vec![
            add(g, px, py),
            g.push(Op::Binary(BinaryOp::Mul), vec![px, py], 0).unwrap(),
            g.push(Op::Binary(BinaryOp::Sub), vec![py, px], 0).unwrap(),
            g.push(Op::Unary(UnaryOp::Sqrt), vec![px], 0).unwrap(),
            g.push(Op::Binary(BinaryOp::Mul), vec![px, two], 0).unwrap(),
            g.push(Op::Binary(BinaryOp::Div), vec![py, three], 0).unwrap(),
        ]
    });
    let o = simplify(&g).unwrap();
    for &out in &o.outputs {
        let n = &o.nodes[out];
        assert_eq!(n.op, Op::Pad { shape: vec![10], slices: vec![unit(2, 6)] }, "{}", ir::to_text(&o));
        assert_eq!(o.nodes[n.inputs[0]].shape[..], [6], "{}", ir::to_text(&o));
    }
    assert_same_on_specials(&g, &o, &[&[6], &[6]]);
}

#[test]
fn elementwise_op_of_pads_that_moves_their_zeros_stays() {
    // neg(+0) = -0, +0 * -2 = -0, exp(+0) = 1, +0 + 1 = 1, +0 / -0 = NaN: the pad's zeros would
    // change, so each op stays on the padded arrays. So do pads of different placements.
    let g = ops_of_pads(|g, px, py| {
        let minus_two = scalar_const(g, -2.0);
        let one = scalar_const(g, 1.0);
        let x = g.inputs()[0];
        let shifted = pad(g, x, &[10], vec![unit(1, 6)]);
        vec![
            g.push(Op::Unary(UnaryOp::Neg), vec![px], 0).unwrap(),
            g.push(Op::Binary(BinaryOp::Mul), vec![px, minus_two], 0).unwrap(),
            g.push(Op::Unary(UnaryOp::Exp), vec![px], 0).unwrap(),
            add(g, py, one),
            g.push(Op::Binary(BinaryOp::Div), vec![px, py], 0).unwrap(),
            g.push(Op::Binary(BinaryOp::Mul), vec![px, shifted], 0).unwrap(),
        ]
    });
    let o = simplify(&g).unwrap();
    for &out in &o.outputs {
        let n = &o.nodes[out];
        assert!(matches!(n.op, Op::Unary(_) | Op::Binary(_)) && n.shape[..] == [10], "{}", ir::to_text(&o));
    }
    assert_same_on_specials(&g, &o, &[&[6], &[6]]);
}

#[test]
fn add_of_disjoint_pads_is_one_assembled_array_plus_zero() {
    // x (3) at [0, 3) and y (4) at [3, 7) of 7: concat(x, y) + 0, no pad left.
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[3]);
    let y = g.input(1, DType::F64, &[4]);
    let px = pad(&mut g, x, &[7], vec![unit(0, 3)]);
    let py = pad(&mut g, y, &[7], vec![unit(3, 4)]);
    let s = add(&mut g, py, px);
    g.outputs = vec![s];
    let o = simplify(&g).unwrap();
    assert_eq!(count(&o, |op| matches!(op, Op::Pad { .. })), 0, "{}", ir::to_text(&o));
    let out = &o.nodes[o.outputs[0]];
    assert_eq!(out.op, Op::Binary(BinaryOp::Add), "{}", ir::to_text(&o));
    assert_eq!(o.nodes[out.inputs[0]].op, Op::Concat(0), "{}", ir::to_text(&o));
    assert_eq!(o.nodes[out.inputs[0]].inputs[..], [0, 1], "{}", ir::to_text(&o));
    match &o.nodes[out.inputs[1]].op {
        Op::Constant(d) => assert_eq!(d.element_bits(), vec![0], "{}", ir::to_text(&o)),
        op => panic!("{op:?}"),
    }
    assert_same_on_specials(&g, &o, &[&[3], &[4]]);
    // The `+ 0` is needed: the bare concat keeps the -0 that the original turns into +0.
    let mut bare = Graph::new();
    let (bx, by) = (bare.input(0, DType::F64, &[3]), bare.input(1, DType::F64, &[4]));
    let c = bare.push(Op::Concat(0), vec![bx, by], 0).unwrap();
    bare.outputs = vec![c];
    let inputs = [f64_data(&[3], 0), f64_data(&[4], 0)];
    let want = interp::run(&g, &inputs).unwrap();
    assert_eq!(want[0].get_c128(0).unwrap().re.to_bits(), 0.0f64.to_bits());
    assert!(!same_bits(&want[0], &interp::run(&bare, &inputs).unwrap()[0]));
}

/// Four slices' cotangents of an array of 20 (lengths `lens` at `starts`), added in an
/// arbitrary order as reverse mode does.
fn chain_of_pads(lens: [usize; 4], starts: [usize; 4]) -> Graph {
    let mut g = Graph::new();
    let xs: Vec<NodeId> = lens.iter().enumerate().map(|(k, &l)| g.input(k, DType::F64, &[l])).collect();
    let ps: Vec<NodeId> = (0..4).map(|k| pad(&mut g, xs[k], &[20], vec![unit(starts[k], lens[k])])).collect();
    let s1 = add(&mut g, ps[2], ps[0]);
    let s2 = add(&mut g, ps[3], s1);
    let s3 = add(&mut g, s2, ps[1]);
    g.outputs = vec![s3];
    g
}

#[test]
fn chain_of_disjoint_pads_is_one_pad_of_one_concat() {
    // a (2) at [3, 5), b (3) at [5, 8), c (1) at [8, 9), d (4) at [9, 13): one concat of the
    // four, padded at [3, 13), plus +0; three adds became one.
    let lens = [2, 3, 1, 4];
    let g = chain_of_pads(lens, [3, 5, 8, 9]);
    let o = optimize(&g).unwrap();
    assert_eq!(count(&o, |op| *op == Op::Binary(BinaryOp::Add)), 1, "{}", ir::to_text(&o));
    assert_eq!(count(&o, |op| matches!(op, Op::Concat(_))), 1, "{}", ir::to_text(&o));
    let pads: Vec<&Op> = o.nodes.iter().map(|n| &n.op).filter(|op| matches!(op, Op::Pad { .. })).collect();
    assert_eq!(pads, vec![&Op::Pad { shape: vec![20], slices: vec![unit(3, 10)] }], "{}", ir::to_text(&o));
    for k in 0..8 {
        let inputs: Vec<Arc<Data>> = lens.iter().enumerate().map(|(i, &l)| f64_data(&[l], k + i)).collect();
        assert_same_outputs(&g, &o, &inputs);
        let jitted = cranegrad::internals::jit::compile(&o).unwrap().run(&inputs).unwrap();
        assert!(same_bits(&jitted[0], &interp::run(&g, &inputs).unwrap()[0]), "{}", ir::to_text(&o));
    }
}

#[test]
fn disjoint_pads_assemble_up_to_four_parts() {
    // a (2) at [3, 5), b (3) at [5, 8), c (1) at [10, 11): three pieces and a +0 gap, one
    // concat of four parts.
    let mut g = Graph::new();
    let xs: Vec<NodeId> = [2, 3, 1].iter().enumerate().map(|(k, &l)| g.input(k, DType::F64, &[l])).collect();
    let pa = pad(&mut g, xs[0], &[20], vec![unit(3, 2)]);
    let pb = pad(&mut g, xs[1], &[20], vec![unit(5, 3)]);
    let pc = pad(&mut g, xs[2], &[20], vec![unit(10, 1)]);
    let s1 = add(&mut g, pc, pa);
    let s2 = add(&mut g, pb, s1);
    g.outputs = vec![s2];
    let o = optimize(&g).unwrap();
    let concats: Vec<&ir::Node> = o.nodes.iter().filter(|n| matches!(n.op, Op::Concat(_))).collect();
    assert_eq!(concats.len(), 1, "{}", ir::to_text(&o));
    assert_eq!(concats[0].inputs.len(), 4, "{}", ir::to_text(&o));
    assert_eq!(count(&o, |op| *op == Op::Binary(BinaryOp::Add)), 1, "{}", ir::to_text(&o));
    for k in 0..8 {
        let inputs: Vec<Arc<Data>> = [2, 3, 1].iter().enumerate().map(|(i, &l)| f64_data(&[l], k + i)).collect();
        assert_same_outputs(&g, &o, &inputs);
    }
    // With d (4) at [14, 18) too, the whole sum would be a concat of six parts (two gaps),
    // which the backend writes into a buffer of its own. No concat has more than four parts,
    // and no more adds are left than the three of the chain.
    let g = chain_of_pads([2, 3, 1, 4], [3, 5, 10, 14]);
    let o = optimize(&g).unwrap();
    assert!(o.nodes.iter().all(|n| !matches!(n.op, Op::Concat(_)) || n.inputs.len() <= 4), "{}", ir::to_text(&o));
    assert!(count(&o, |op| *op == Op::Binary(BinaryOp::Add)) <= 3, "{}", ir::to_text(&o));
    for k in 0..8 {
        let inputs: Vec<Arc<Data>> = [2, 3, 1, 4].iter().enumerate().map(|(i, &l)| f64_data(&[l], k + i)).collect();
        assert_same_outputs(&g, &o, &inputs);
    }
}

#[test]
fn disjoint_pads_of_a_matrix_and_of_complex_arrays_assemble_exactly() {
    // Rows [0, 2) and [3, 4) of a 4 x 5 matrix (a zero row between them), in f64 and c128.
    for dtype in [DType::F64, DType::C128] {
        let mut g = Graph::new();
        let a = g.input(0, dtype, &[2, 5]);
        let b = g.input(1, dtype, &[1, 5]);
        let pa = pad(&mut g, a, &[4, 5], vec![unit(0, 2), unit(0, 5)]);
        let pb = pad(&mut g, b, &[4, 5], vec![unit(3, 1), unit(0, 5)]);
        let s = add(&mut g, pa, pb);
        g.outputs = vec![s];
        let o = simplify(&g).unwrap();
        assert_eq!(count(&o, |op| matches!(op, Op::Pad { .. })), 0, "{}", ir::to_text(&o));
        assert_eq!(count(&o, |op| *op == Op::Concat(0)), 1, "{}", ir::to_text(&o));
        for k in 0..8 {
            let data = |s: &[usize], k| if dtype == DType::F64 { f64_data(s, k) } else { c128_data(s, k) };
            assert_same_outputs(&g, &o, &[data(&[2, 5], k), data(&[1, 5], k + 3)]);
        }
    }
}

#[test]
fn overlapping_pads_and_boxes_differing_on_two_axes_stay() {
    // W2's stencil: d at [1, 10), e at [0, 9) of 10 (they overlap); and two corners of a
    // matrix (their boxes differ on both axes: no single concat assembles them).
    let mut g = Graph::new();
    let d = g.input(0, DType::F64, &[9]);
    let e = g.input(1, DType::F64, &[9]);
    let m = g.input(2, DType::F64, &[2, 2]);
    let pd = pad(&mut g, d, &[10], vec![unit(1, 9)]);
    let pe = pad(&mut g, e, &[10], vec![unit(0, 9)]);
    let stencil = add(&mut g, pd, pe);
    let top_left = pad(&mut g, m, &[4, 4], vec![unit(0, 2), unit(0, 2)]);
    let bottom_right = pad(&mut g, m, &[4, 4], vec![unit(2, 2), unit(2, 2)]);
    let corners = add(&mut g, top_left, bottom_right);
    g.outputs = vec![stencil, corners];
    let o = simplify(&g).unwrap();
    assert_eq!(count(&o, |op| matches!(op, Op::Pad { .. })), 4, "{}", ir::to_text(&o));
    assert_eq!(count(&o, |op| matches!(op, Op::Concat(_))), 0, "{}", ir::to_text(&o));
    for k in 0..8 {
        assert_same_outputs(&g, &o, &[f64_data(&[9], k), f64_data(&[9], k + 1), f64_data(&[2, 2], k + 2)]);
    }
}

#[test]
fn rosenbrock_gradient_assembles_the_cotangents_of_its_two_elements() {
    // W1: `x.at(0)` is used twice and `x.at(1)` once; the gradient was three pads added, and is
    // now the two cotangents side by side plus +0 (same bits, on signed zeros too).
    use cranegrad::prelude::*;
    let f = |x: DlArray| -> Result<(DlArray, DlArray)> {
        let y = 100.0 * (x.at(1) - x.at(0).square()).square() + (1.0 - x.at(0)).square();
        let g = dlgradient(&y, &x)?;
        Ok((y, g))
    };
    let g = cranegrad::trace_graph(f, DlArray::from(ndarray::array![-1.0, 2.0])).unwrap();
    assert_eq!(count(&g, |op| matches!(op, Op::Pad { .. })), 3, "{}", ir::to_text(&g));
    let o = optimize(&g).unwrap();
    assert_eq!(count(&o, |op| matches!(op, Op::Pad { .. })), 0, "{}", ir::to_text(&o));
    assert_eq!(count(&o, |op| *op == Op::Concat(0)), 1, "{}", ir::to_text(&o));
    for pair in [[1.0, 1.0], [0.0, -0.0], [-0.0, 0.0], [f64::INFINITY, 2.0], [-1.5, f64::NAN], [1e-200, -1e-200]] {
        let x = Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[2]), pair.to_vec()).unwrap()));
        assert_same_outputs(&g, &o, std::slice::from_ref(&x));
        // The backend computes the assembled form with the same bits.
        let jitted = cranegrad::internals::jit::compile(&o).unwrap().run(std::slice::from_ref(&x)).unwrap();
        for (a, b) in jitted.iter().zip(interp::run(&g, &[x]).unwrap()) {
            assert!(same_bits(a, &b), "{a} vs {b}");
        }
    }
}

/// A random sum of 2 to 5 pads into a 1-D or 2-D array: half the time the pads tile (with
/// gaps) one axis and agree on the other, else their boxes are random (mostly overlapping).
fn random_pad_sum(rng: &mut Rng) -> (Graph, Vec<Vec<usize>>) {
    let rank = 1 + rng.below(2);
    let shape: Vec<usize> = (0..rank).map(|_| 2 + rng.below(7)).collect();
    let k = 2 + rng.below(4);
    let mut boxes: Vec<Vec<AxisSlice>> = Vec::new();
    if rng.below(2) == 0 {
        let axis = rng.below(rank);
        let common: Vec<AxisSlice> = shape
            .iter()
            .map(|&d| {
                let start = rng.below(d);
                unit(start, 1 + rng.below(d - start))
            })
            .collect();
        let mut cuts: Vec<usize> = (0..=shape[axis]).collect();
        while cuts.len() > k + 1 {
            cuts.remove(rng.below(cuts.len()));
        }
        for w in cuts.windows(2) {
            if w[1] > w[0] && (rng.below(4) > 0 || boxes.len() < 2) {
                let mut b = common.clone();
                b[axis] = unit(w[0], w[1] - w[0]);
                boxes.push(b);
            }
        }
    }
    while boxes.len() < 2 {
        boxes.push(
            shape
                .iter()
                .map(|&d| {
                    let start = rng.below(d);
                    unit(start, 1 + rng.below(d - start))
                })
                .collect(),
        );
    }
    let mut g = Graph::new();
    let mut shapes = Vec::new();
    let mut terms: Vec<NodeId> = Vec::new();
    for (i, b) in boxes.iter().enumerate() {
        let lens: Vec<usize> = b.iter().map(|s| s.len).collect();
        let x = g.input(i, DType::F64, &lens);
        terms.push(pad(&mut g, x, &shape, b.clone()));
        shapes.push(lens);
    }
    while terms.len() > 1 {
        let a = terms.remove(rng.below(terms.len()));
        let b = terms.remove(rng.below(terms.len()));
        let s = add(&mut g, a, b);
        terms.push(s);
    }
    g.outputs = vec![terms[0]];
    (g, shapes)
}

#[test]
fn random_sums_of_pads_keep_their_bits_through_optimize_and_the_backend() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut assembled = 0;
    for case in 0..400 {
        let (g, shapes) = random_pad_sum(&mut rng);
        let o = optimize(&g).unwrap();
        assembled += usize::from(o.nodes.iter().any(|n| matches!(n.op, Op::Concat(_))));
        let compiled = cranegrad::internals::jit::compile(&o).unwrap();
        for k in 0..3 {
            let inputs: Vec<Arc<Data>> =
                shapes.iter().enumerate().map(|(i, s)| f64_data(s, case + k + 3 * i)).collect();
            assert_same_outputs(&g, &o, &inputs);
            let want = interp::run(&g, &inputs).unwrap();
            let got = compiled.run(&inputs).unwrap();
            assert!(same_bits(&got[0], &want[0]), "case {case}\n{}", ir::to_text(&o));
        }
    }
    // The generator reaches the rule often enough for this to test it.
    assert!(assembled > 150, "only {assembled} of 400 sums were assembled");
}

#[test]
fn elementwise_op_of_complex_pads_is_one_pad_where_it_keeps_plus_zero() {
    // (0+0i)(0+0i), |0+0i| and imag(0+0i) are +0 (abs and imag with a real result): one pad
    // each. conj(0+0i) = 0-0i and 1/(0+0i) are not: those stay on the padded arrays.
    let mut g = Graph::new();
    let z = g.input(0, DType::C128, &[6]);
    let w = g.input(1, DType::C128, &[6]);
    let pz = pad(&mut g, z, &[10], vec![unit(2, 6)]);
    let pw = pad(&mut g, w, &[10], vec![unit(2, 6)]);
    let fired = [
        g.push(Op::Binary(BinaryOp::Mul), vec![pz, pw], 0).unwrap(),
        g.push(Op::Unary(UnaryOp::Abs), vec![pz], 0).unwrap(),
        g.push(Op::Unary(UnaryOp::Imag), vec![pw], 0).unwrap(),
    ];
    let stayed = vec![
        g.push(Op::Unary(UnaryOp::Conj), vec![pz], 0).unwrap(),
        g.push(Op::Unary(UnaryOp::Recip), vec![pw], 0).unwrap(),
    ];
    g.outputs = fired.iter().chain(&stayed).copied().collect();
    let o = simplify(&g).unwrap();
    for (k, &out) in o.outputs.iter().enumerate() {
        let is_pad = matches!(o.nodes[out].op, Op::Pad { .. });
        assert_eq!(is_pad, k < fired.len(), "output {k}\n{}", ir::to_text(&o));
    }
    for k in 0..8 {
        assert_same_outputs(&g, &o, &[c128_data(&[6], k), c128_data(&[6], k + 5)]);
    }
}

// The sign rules (`opt/signs.rs`): a `neg` moved out of a product, a quotient or `(-a) - a` to
// where a consumer absorbs it, only where that adds no work.

fn binary(g: &mut Graph, b: BinaryOp, x: NodeId, y: NodeId) -> NodeId {
    g.push(Op::Binary(b), vec![x, y], 0).unwrap()
}

fn neg(g: &mut Graph, x: NodeId) -> NodeId {
    g.push(Op::Unary(UnaryOp::Neg), vec![x], 0).unwrap()
}

/// A graph of `inputs` inputs of length 8 and `dtype`, with `f` of them as the outputs.
fn on_inputs(dtype: DType, inputs: usize, f: impl FnOnce(&mut Graph, &[NodeId]) -> Vec<NodeId>) -> Graph {
    let mut g = Graph::new();
    let xs: Vec<NodeId> = (0..inputs).map(|k| g.input(k, dtype, &[8])).collect();
    g.outputs = f(&mut g, &xs);
    g
}

/// `o` computes `g`'s outputs bit for bit under the interpreter, and so does `o` compiled, on
/// every pair of the special values (the first two inputs rotated independently, a third
/// rotated with both).
fn assert_exact_in_both(g: &Graph, o: &Graph) {
    let compiled = cranegrad::internals::jit::compile(o).unwrap();
    let dtypes: Vec<DType> = g.inputs().iter().map(|&i| g.nodes[i].dtype).collect();
    for k in 0..8 {
        for j in 0..8 {
            let inputs: Vec<Arc<Data>> = dtypes
                .iter()
                .zip([k, j, k + 3 * j])
                .map(|(&d, offset)| if d == DType::F64 { f64_data(&[8], offset) } else { c128_data(&[8], offset) })
                .collect();
            assert_same_outputs(g, o, &inputs);
            let want = interp::run(g, &inputs).unwrap();
            for (a, b) in compiled.run(&inputs).unwrap().iter().zip(&want) {
                assert!(same_bits(a, b), "{a}\nvs\n{b}\n{}", ir::to_text(o));
            }
        }
    }
}

fn negs(g: &Graph) -> usize {
    count(g, |op| *op == Op::Unary(UnaryOp::Neg))
}

/// The op and operands of output `k` of `o`.
fn output(o: &Graph, k: usize) -> (&Op, &[NodeId]) {
    let n = &o.nodes[o.outputs[k]];
    (&n.op, &n.inputs)
}

#[test]
fn product_or_quotient_of_a_sole_neg_hands_the_neg_to_its_consumer() {
    // c + (-a) * b, (a / -b) + c, c - b * (-a): each neg has one consumer, moves out of the
    // product and is absorbed by the sum (c - a*b, c - a/b, c + b*a): three nodes fewer.
    // (-a) * b as an output stays: nothing would absorb the neg (two nodes for two).
    let g = on_inputs(DType::F64, 3, |g, x| {
        let (a, b, c) = (x[0], x[1], x[2]);
        let (n1, n2, n3, n4) = (neg(g, a), neg(g, b), neg(g, a), neg(g, a));
        let m1 = binary(g, BinaryOp::Mul, n1, b);
        let d2 = binary(g, BinaryOp::Div, a, n2);
        let m3 = binary(g, BinaryOp::Mul, b, n3);
        let m4 = binary(g, BinaryOp::Mul, n4, b);
        vec![binary(g, BinaryOp::Add, c, m1), binary(g, BinaryOp::Add, d2, c), binary(g, BinaryOp::Sub, c, m3), m4]
    });
    let o = simplify(&g).unwrap();
    let text = ir::to_text(&o);
    assert_eq!(o.nodes.len(), g.nodes.len() - 3, "{text}");
    assert_eq!(negs(&o), 1, "{text}");
    let (a, b, c) = (0, 1, 2);
    for (k, op, inner, operands) in [
        (0, BinaryOp::Sub, BinaryOp::Mul, [a, b]),
        (1, BinaryOp::Sub, BinaryOp::Div, [a, b]),
        (2, BinaryOp::Add, BinaryOp::Mul, [b, a]),
    ] {
        let (got, inputs) = output(&o, k);
        assert_eq!((got, inputs[0]), (&Op::Binary(op), c), "output {k}\n{text}");
        assert_eq!(o.nodes[inputs[1]].op, Op::Binary(inner), "output {k}\n{text}");
        assert_eq!(o.nodes[inputs[1]].inputs[..], operands, "output {k}\n{text}");
    }
    let (got, inputs) = output(&o, 3);
    assert_eq!(got, &Op::Binary(BinaryOp::Mul), "{text}");
    assert_eq!(o.nodes[inputs[0]].op, Op::Unary(UnaryOp::Neg), "{text}");
    assert_exact_in_both(&g, &o);
}

#[test]
fn product_of_a_shared_or_smaller_or_complex_neg_keeps_it() {
    // A neg with another consumer (moving it would leave it and add one), a neg of a scalar
    // (moving it would negate 8 elements instead of 1), and complex products: all stay.
    let shared = on_inputs(DType::F64, 3, |g, x| {
        let n = neg(g, x[0]);
        let m = binary(g, BinaryOp::Mul, n, x[1]);
        let e = g.push(Op::Unary(UnaryOp::Exp), vec![n], 0).unwrap();
        vec![binary(g, BinaryOp::Add, x[2], m), e]
    });
    let scalar = {
        let mut g = Graph::new();
        let b = g.input(0, DType::F64, &[8]);
        let c = g.input(1, DType::F64, &[8]);
        let s = g.input(2, DType::F64, &[]);
        let n = neg(&mut g, s);
        let m = binary(&mut g, BinaryOp::Div, b, n);
        g.outputs = vec![binary(&mut g, BinaryOp::Add, c, m)];
        g
    };
    let complex = on_inputs(DType::C128, 3, |g, x| {
        let n = neg(g, x[0]);
        let m = binary(g, BinaryOp::Mul, n, x[1]);
        vec![binary(g, BinaryOp::Add, x[2], m)]
    });
    for g in [&shared, &complex] {
        let o = simplify(g).unwrap();
        assert_eq!(ir::to_text(&o), ir::to_text(g));
        assert_exact_in_both(g, &o);
    }
    let o = simplify(&scalar).unwrap();
    assert_eq!(ir::to_text(&o), ir::to_text(&scalar));
    let specials: Vec<Arc<Data>> = vec![
        f64_data(&[8], 0),
        f64_data(&[8], 3),
        Arc::new(Data::scalar(DType::F64, num_complex::Complex64::new(-0.0, 0.0))),
    ];
    assert_same_outputs(&scalar, &o, &specials);
    // Why complex stays: re((-a) b) = (-1)(1) - (-1)(1) = +0 for a = b = 1 + i, where
    // -(a b) has re = -(1 - 1) = -0.
    let moved = on_inputs(DType::C128, 2, |g, x| {
        let m = binary(g, BinaryOp::Mul, x[0], x[1]);
        vec![neg(g, m)]
    });
    let kept = on_inputs(DType::C128, 2, |g, x| {
        let n = neg(g, x[0]);
        vec![binary(g, BinaryOp::Mul, n, x[1])]
    });
    let one_plus_i = Arc::new(Data::C128(ArrayD::from_elem(IxDyn(&[8]), num_complex::Complex64::new(1.0, 1.0))));
    let inputs = [one_plus_i.clone(), one_plus_i];
    let (m, k) = (interp::run(&moved, &inputs).unwrap(), interp::run(&kept, &inputs).unwrap());
    assert_eq!(m[0].get_c128(0).unwrap().re.to_bits(), (-0.0f64).to_bits());
    assert_eq!(k[0].get_c128(0).unwrap().re.to_bits(), 0.0f64.to_bits());
}

#[test]
fn product_or_quotient_of_two_negs_drops_both() {
    // (-a) * (-b) -> a * b and (-a) / (-a) -> a / a, whatever else uses the negs (here the
    // first neg is an output too, and stays for it).
    let g = on_inputs(DType::F64, 2, |g, x| {
        let (na, nb, nc) = (neg(g, x[0]), neg(g, x[1]), neg(g, x[0]));
        vec![binary(g, BinaryOp::Mul, na, nb), binary(g, BinaryOp::Div, nc, nc), na]
    });
    let o = simplify(&g).unwrap();
    let text = ir::to_text(&o);
    assert_eq!(negs(&o), 1, "{text}");
    assert_eq!(output(&o, 0), (&Op::Binary(BinaryOp::Mul), &[0, 1][..]), "{text}");
    assert_eq!(output(&o, 1), (&Op::Binary(BinaryOp::Div), &[0, 0][..]), "{text}");
    assert_exact_in_both(&g, &o);
    // Complex products and quotients of negs stay (the rule is for real dtypes).
    let complex = on_inputs(DType::C128, 2, |g, x| {
        let (na, nb) = (neg(g, x[0]), neg(g, x[1]));
        vec![binary(g, BinaryOp::Div, na, nb)]
    });
    let o = simplify(&complex).unwrap();
    assert_eq!(ir::to_text(&o), ir::to_text(&complex));
}

#[test]
fn minus_a_minus_a_is_minus_a_plus_a() {
    // (-a) - a -> -(a + a), in f64 and c128, under c - (...), which absorbs the neg:
    // c + (a + a). As an output (nothing absorbs the neg) (-b) - b stays.
    for dtype in [DType::F64, DType::C128] {
        let g = on_inputs(dtype, 3, |g, x| {
            let (n1, n2) = (neg(g, x[0]), neg(g, x[1]));
            let d1 = binary(g, BinaryOp::Sub, n1, x[0]);
            let d2 = binary(g, BinaryOp::Sub, n2, x[1]);
            vec![binary(g, BinaryOp::Sub, x[2], d1), d2]
        });
        let o = simplify(&g).unwrap();
        let text = ir::to_text(&o);
        assert_eq!(o.nodes.len(), g.nodes.len() - 1, "{text}");
        let (op, inputs) = output(&o, 0);
        assert_eq!((op, inputs[0]), (&Op::Binary(BinaryOp::Add), 2), "{text}");
        assert_eq!(o.nodes[inputs[1]].op, Op::Binary(BinaryOp::Add), "{text}");
        assert_eq!(o.nodes[inputs[1]].inputs[..], [0, 0], "{text}");
        let (op, inputs) = output(&o, 1);
        assert_eq!((op, inputs[1]), (&Op::Binary(BinaryOp::Sub), 1), "{text}");
        assert_eq!(o.nodes[inputs[0]].op, Op::Unary(UnaryOp::Neg), "{text}");
        assert_exact_in_both(&g, &o);
    }
}

#[test]
fn minus_a_minus_another_or_with_a_shared_neg_stays() {
    // (-a) - b stays (not exact, below); (-a) - a stays when the neg has another consumer
    // (the rewrite would keep it and add a node).
    let g = on_inputs(DType::F64, 3, |g, x| {
        let (n1, n2) = (neg(g, x[0]), neg(g, x[1]));
        let d1 = binary(g, BinaryOp::Sub, n1, x[1]);
        let d2 = binary(g, BinaryOp::Sub, n2, x[1]);
        let e = g.push(Op::Unary(UnaryOp::Exp), vec![n2], 0).unwrap();
        vec![binary(g, BinaryOp::Sub, x[2], d1), binary(g, BinaryOp::Sub, x[2], d2), e]
    });
    let o = simplify(&g).unwrap();
    assert_eq!(ir::to_text(&o), ir::to_text(&g));
    assert_exact_in_both(&g, &o);
    // Why (-a) - b stays: (-1) - (-1) is +0, -(1 + (-1)) is -0.
    let direct = on_inputs(DType::F64, 2, |g, x| {
        let n = neg(g, x[0]);
        vec![binary(g, BinaryOp::Sub, n, x[1])]
    });
    let moved = on_inputs(DType::F64, 2, |g, x| {
        let s = binary(g, BinaryOp::Add, x[0], x[1]);
        vec![neg(g, s)]
    });
    let filled = |v: f64| Arc::new(Data::F64(ArrayD::from_elem(IxDyn(&[8]), v)));
    let inputs = [filled(1.0), filled(-1.0)];
    let first = |g: &Graph| interp::run(g, &inputs).unwrap()[0].get_c128(0).unwrap().re.to_bits();
    assert_eq!((first(&direct), first(&moved)), (0.0f64.to_bits(), (-0.0f64).to_bits()));
}

#[test]
fn moved_neg_is_absorbed_by_every_consumer() {
    // W4's shape: m = (-a) * b used by s = c + m and by s + m: both adds become subs of a * b
    // and no neg is left (the neg moved out of the product dies). (-a) - (-b) -> b - a.
    let g = on_inputs(DType::F64, 3, |g, x| {
        let n = neg(g, x[0]);
        let m = binary(g, BinaryOp::Mul, n, x[1]);
        let s = binary(g, BinaryOp::Add, x[2], m);
        let t = binary(g, BinaryOp::Add, s, m);
        let (na, nb) = (neg(g, x[0]), neg(g, x[1]));
        vec![t, binary(g, BinaryOp::Sub, na, nb)]
    });
    let o = simplify(&g).unwrap();
    let text = ir::to_text(&o);
    assert_eq!(negs(&o), 0, "{text}");
    assert_eq!(o.nodes.len(), g.nodes.len() - 3, "{text}");
    let (op, inputs) = output(&o, 0);
    assert_eq!(op, &Op::Binary(BinaryOp::Sub), "{text}");
    let inner = &o.nodes[inputs[0]];
    assert_eq!((&inner.op, inner.inputs[0], inputs[1]), (&Op::Binary(BinaryOp::Sub), 2, inner.inputs[1]), "{text}");
    assert_eq!(o.nodes[inputs[1]].op, Op::Binary(BinaryOp::Mul), "{text}");
    assert_eq!(output(&o, 1), (&Op::Binary(BinaryOp::Sub), &[1, 0][..]), "{text}");
    assert_exact_in_both(&g, &o);
}

#[test]
fn neg_of_a_moved_neg_cancels() {
    // -((-a) * b) -> a * b and -((-a) - a) -> a + a: one node each. Under an op that would
    // not absorb it (exp), the neg of a / (-b) is not moved.
    let g = on_inputs(DType::F64, 2, |g, x| {
        let (n1, n2, n3) = (neg(g, x[0]), neg(g, x[0]), neg(g, x[1]));
        let m = binary(g, BinaryOp::Mul, n1, x[1]);
        let d = binary(g, BinaryOp::Sub, n2, x[0]);
        let q = binary(g, BinaryOp::Div, x[0], n3);
        let e = g.push(Op::Unary(UnaryOp::Exp), vec![q], 0).unwrap();
        vec![neg(g, m), neg(g, d), e]
    });
    let o = simplify(&g).unwrap();
    let text = ir::to_text(&o);
    assert_eq!(output(&o, 0), (&Op::Binary(BinaryOp::Mul), &[0, 1][..]), "{text}");
    assert_eq!(output(&o, 1), (&Op::Binary(BinaryOp::Add), &[0, 0][..]), "{text}");
    let (op, inputs) = output(&o, 2);
    assert_eq!(op, &Op::Unary(UnaryOp::Exp), "{text}");
    let q = &o.nodes[inputs[0]];
    assert_eq!((&q.op, &o.nodes[q.inputs[1]].op), (&Op::Binary(BinaryOp::Div), &Op::Unary(UnaryOp::Neg)), "{text}");
    assert_eq!(negs(&o), 1, "{text}");
    assert_eq!(o.nodes.len(), g.nodes.len() - 4, "{text}");
    assert_exact_in_both(&g, &o);
}

#[test]
fn moved_neg_passes_through_products_and_doubling() {
    // c + ((-a) * b) * d: the neg moves out of both products and the sum absorbs it; and
    // c + (r + r) for r = b * (-a) (the Hessian-vector product's shape): (-m) + (-m) ->
    // -(m + m), absorbed by the sum. Two negs fewer, and nothing else added.
    let g = on_inputs(DType::F64, 3, |g, x| {
        let (a, b, c) = (x[0], x[1], x[2]);
        let n1 = neg(g, a);
        let m = binary(g, BinaryOp::Mul, n1, b);
        let md = binary(g, BinaryOp::Div, m, c);
        let n2 = neg(g, a);
        let r = binary(g, BinaryOp::Mul, b, n2);
        let rr = binary(g, BinaryOp::Add, r, r);
        vec![binary(g, BinaryOp::Add, c, md), binary(g, BinaryOp::Add, c, rr)]
    });
    let o = simplify(&g).unwrap();
    let text = ir::to_text(&o);
    assert_eq!(negs(&o), 0, "{text}");
    assert_eq!(o.nodes.len(), g.nodes.len() - 2, "{text}");
    for k in 0..2 {
        let (op, inputs) = output(&o, k);
        assert_eq!((op, inputs[0]), (&Op::Binary(BinaryOp::Sub), 2), "output {k}\n{text}");
    }
    assert_exact_in_both(&g, &o);
    // (-a) + (-a) whose neg has another consumer keeps the neg: at most (-a) - a (one node for
    // one, by the sum rule), not -(a + a) beside it.
    let shared = on_inputs(DType::F64, 2, |g, x| {
        let n = neg(g, x[0]);
        let s = binary(g, BinaryOp::Add, n, n);
        let e = g.push(Op::Unary(UnaryOp::Exp), vec![n], 0).unwrap();
        vec![binary(g, BinaryOp::Add, x[1], s), e]
    });
    let o = simplify(&shared).unwrap();
    let text = ir::to_text(&o);
    assert_eq!((o.nodes.len(), negs(&o)), (shared.nodes.len(), 1), "{text}");
    assert_exact_in_both(&shared, &o);
}

/// `a @ b` for `a` of `[.., m, 1]` and `b` of `[.., 1, n]`.
fn outer_product(d: DType, batch: &[usize], m: usize, n: usize) -> Graph {
    let mut g = Graph::new();
    let a = g.input(0, d, &[batch, &[m, 1]].concat());
    let b = g.input(1, d, &[batch, &[1, n]].concat());
    let c = g.push(Op::MatMul, vec![a, b], 0).unwrap();
    g.outputs = vec![c];
    g
}

#[test]
fn small_outer_products_are_elementwise_products_plus_zero() {
    for (batch, m, n) in [(&[][..], 14, 14), (&[3][..], 5, 7), (&[][..], 1, 9), (&[][..], 64, 64)] {
        let g = outer_product(DType::F64, batch, m, n);
        let o = simplify(&g).unwrap();
        assert_eq!(count(&o, |op| matches!(op, Op::MatMul)), 0, "{}", ir::to_text(&o));
        assert!(o.nodes.iter().any(|n| n.op == Op::Binary(BinaryOp::Mul)), "{}", ir::to_text(&o));
        // Signed zeros, NaN and infinities on both sides: `-0 * 1.5` is `-0`, and the
        // product's `+0` start makes it `+0` in both forms.
        let sa = [batch, &[m, 1]].concat();
        let sb = [batch, &[1, n]].concat();
        assert_same_on_specials(&g, &o, &[&sa, &sb]);
        // And through the backend.
        for k in 0..4 {
            let inputs = [f64_data(&sa, k), f64_data(&sb, k + 3)];
            let want = interp::run(&g, &inputs).unwrap();
            let got = cranegrad::internals::jit::compile(&o).unwrap().run(&inputs).unwrap();
            assert!(same_bits(&want[0], &got[0]), "{batch:?} {m} x {n}");
        }
    }
    let f32_product = simplify(&outer_product(DType::F32, &[], 6, 4)).unwrap();
    assert_eq!(count(&f32_product, |op| matches!(op, Op::MatMul)), 0);
}

#[test]
fn large_complex_and_inner_products_stay_products() {
    // Above the small-product size a GEMM computes it (its zero handling is its own); complex
    // small products are not the interpreter's ordered loop; a shared axis longer than one.
    for g in [outer_product(DType::F64, &[], 65, 64), outer_product(DType::C128, &[], 4, 4)] {
        let o = simplify(&g).unwrap();
        assert_eq!(count(&o, |op| matches!(op, Op::MatMul)), 1, "{}", ir::to_text(&o));
    }
    let mut g = Graph::new();
    let a = g.input(0, DType::F64, &[3, 2]);
    let b = g.input(1, DType::F64, &[2, 3]);
    let c = g.push(Op::MatMul, vec![a, b], 0).unwrap();
    g.outputs = vec![c];
    assert_eq!(count(&simplify(&g).unwrap(), |op| matches!(op, Op::MatMul)), 1);
}
