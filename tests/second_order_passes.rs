//! W4's shape (the gradient of `sum(grad^2)` of the extended Rosenbrock function) compiles to
//! two passes over memory, like the hand-written `g` then `2 H g`: the planner prices an
//! expression above a buffer without the buffer's own expression, so the stencil of the second
//! pass stays inline instead of being buffered piecewise (issue 10).

use cranegrad::ir::{AxisSlice, BinaryOp, Op, UnaryOp};
use cranegrad::prelude::*;
use cranegrad::{internals::interp, internals::jit, internals::opt};
use ndarray::s;
use std::sync::Arc;

fn gradient_norm_gradient(x: DlArray) -> Result<DlArray> {
    let options = GradOptions { enable_higher_derivatives: Some(true), ..Default::default() };
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient_with(&y, &x, options)?;
    dlgradient_with(&g.square().sum_all(), &x, options)
}

#[test]
fn second_order_rosenbrock_is_two_passes() {
    let n = 1000;
    let x0 = DlArray::from(ndarray::Array1::linspace(-1.5, 1.5, n));
    let g = cranegrad::trace_graph(gradient_norm_gradient, x0).unwrap();
    let o = opt::optimize(&g).unwrap();
    let c = jit::compile(&o).unwrap();
    assert_eq!(c.loop_count(), 2, "{}", cranegrad::ir::to_text(&o));
    let x = Arc::new(cranegrad::internals::Data::new(ndarray::Array1::linspace(-1.5, 1.5, n).into_dyn()));
    let got = c.run(std::slice::from_ref(&x)).unwrap();
    assert_eq!(got, interp::run(&o, std::slice::from_ref(&x)).unwrap());
    // The optimized graph (its sign rules included) has the unoptimized graph's bits.
    assert_eq!(got, interp::run(&g, &[x]).unwrap());
}

#[test]
fn second_order_rosenbrock_has_only_the_stencils_layout_ops() {
    // The layout ops left in W4's optimized graph are the ones the two passes need: the two
    // shifted views of x, the shifted views of the buffered first pass, and two overlapping pad
    // pairs (the scatter-add of each pass). No broadcast, reshape, concat or reduction remains,
    // and no pad pair is disjoint (the disjoint-pads rule has nothing to assemble).
    let n = 1000;
    let x0 = DlArray::from(ndarray::Array1::linspace(-1.5, 1.5, n));
    let g = cranegrad::trace_graph(gradient_norm_gradient, x0).unwrap();
    let o = opt::optimize(&g).unwrap();
    let text = cranegrad::ir::to_text(&o);
    let ops = |f: &dyn Fn(&Op) -> bool| o.nodes.iter().filter(|n| f(&n.op)).count();
    assert_eq!(ops(&|op| matches!(op, Op::Broadcast(_) | Op::Reshape(_) | Op::Concat(_))), 0, "{text}");
    assert_eq!(ops(&|op| matches!(op, Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_))), 0, "{text}");
    // One neg: the first pass's `-(200 (tail - head^2))`, used by two products. The second
    // pass's were moved out of `(-a) * b` and `(-a) - a` and absorbed by the sums (opt/signs.rs).
    assert_eq!(ops(&|op| *op == Op::Unary(UnaryOp::Neg)), 1, "{text}");
    let head = AxisSlice { start: 0, len: n - 1, step: 1 };
    let tail = AxisSlice { start: 1, len: n - 1, step: 1 };
    let pads: Vec<&Op> = o.nodes.iter().map(|n| &n.op).filter(|op| matches!(op, Op::Pad { .. })).collect();
    let pad_at = |s: &AxisSlice| Op::Pad { shape: vec![n], slices: vec![*s] };
    assert_eq!(pads, vec![&pad_at(&tail), &pad_at(&head), &pad_at(&tail), &pad_at(&head)], "{text}");
    for pair in o.nodes.iter().filter(|m| m.op == Op::Binary(BinaryOp::Add) && m.shape[..] == [n]) {
        assert!(
            pair.inputs.iter().all(|&i| matches!(o.nodes[i].op, Op::Pad { .. })) || pair.inputs[0] == pair.inputs[1]
        );
    }
    let slices: Vec<(usize, &Op)> =
        o.nodes.iter().filter(|m| matches!(m.op, Op::Slice(_))).map(|m| (m.inputs[0], &m.op)).collect();
    assert_eq!(slices.len(), 4, "{text}");
    assert!(slices[..2].iter().all(|&(i, _)| i == 0), "{text}");
    assert!(slices[2..].iter().all(|&(i, _)| i == slices[2].0 && i != 0), "{text}");
    assert_eq!(
        slices.iter().map(|s| s.1.clone()).collect::<Vec<_>>(),
        vec![Op::Slice(vec![head]), Op::Slice(vec![tail]), Op::Slice(vec![head]), Op::Slice(vec![tail])]
    );
}
