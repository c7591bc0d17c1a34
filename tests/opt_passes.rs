//! The optimization passes: each fires where it should, leaves alone what it must, and the
//! optimized graph computes the same bits as the original under the interpreter.

mod common;

use common::data::{f64_data, same_bits};
use cranegrad::internals::interp;
use cranegrad::internals::opt::{cse, dce, fold_constants, optimize, simplify};
use cranegrad::ir::{self, AxisSlice, BinaryOp, Graph, NodeId, Op, UnaryOp};
use cranegrad::prelude::*;
use cranegrad::{internals::Data, DType};
use ndarray::{s, Array1, Array2, ArrayD, IxDyn};
use std::sync::Arc;

fn scalar(v: f64) -> Op {
    Op::Constant(Arc::new(Data::F64(ndarray::arr0(v).into_dyn())))
}

fn constant(v: Vec<f64>) -> Op {
    Op::Constant(Arc::new(Data::F64(Array1::from(v).into_dyn())))
}

/// Asserts that `after` verifies and gives the same outputs as `before` on `inputs`.
fn assert_same_outputs(before: &Graph, after: &Graph, inputs: &[Arc<Data>]) {
    ir::verify(after).unwrap_or_else(|e| panic!("{e}\n{}", ir::to_text(after)));
    assert_eq!(after.num_inputs(), before.num_inputs(), "the signature changed");
    let x = interp::run(before, inputs).unwrap();
    let y = interp::run(after, inputs).unwrap();
    assert_eq!(x.len(), y.len());
    for (i, (a, b)) in x.iter().zip(&y).enumerate() {
        assert!(
            same_bits(a, b),
            "output {i} differs:\n{a}\nvs\n{b}\nbefore:\n{}after:\n{}",
            ir::to_text(before),
            ir::to_text(after)
        );
    }
}

fn count(g: &Graph, pred: impl Fn(&Op) -> bool) -> usize {
    g.nodes.iter().filter(|n| pred(&n.op)).count()
}

fn bin(g: &mut Graph, b: BinaryOp, x: NodeId, y: NodeId) -> NodeId {
    g.push(Op::Binary(b), vec![x, y], 0).unwrap()
}

fn un(g: &mut Graph, u: UnaryOp, x: NodeId) -> NodeId {
    g.push(Op::Unary(u), vec![x], 0).unwrap()
}

#[test]
fn dce_drops_what_the_outputs_do_not_need_but_keeps_every_input() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[8]);
    let _unused_input = g.input(1, DType::F64, &[3]);
    let dead = un(&mut g, UnaryOp::Exp, x);
    let _dead2 = un(&mut g, UnaryOp::Sin, dead);
    let live = un(&mut g, UnaryOp::Cos, x);
    g.outputs = vec![live, x];
    let o = dce(&g).unwrap();
    assert_eq!(o.nodes.len(), 3);
    assert_eq!(count(&o, |op| matches!(op, Op::Input(_))), 2);
    assert_eq!(count(&o, |op| matches!(op, Op::Unary(UnaryOp::Exp | UnaryOp::Sin))), 0);
    assert_same_outputs(&g, &o, &[f64_data(&[8], 0), f64_data(&[3], 1)]);
}

#[test]
fn cse_merges_identical_nodes_equal_constants_and_swapped_commutative_operands() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[8]);
    let y = g.input(1, DType::F64, &[8]);
    let e1 = un(&mut g, UnaryOp::Exp, x);
    let e2 = un(&mut g, UnaryOp::Exp, x);
    let c1 = g.push(scalar(2.0), vec![], 0).unwrap();
    let c2 = g.push(scalar(2.0), vec![], 0).unwrap();
    let m1 = bin(&mut g, BinaryOp::Mul, e1, c1);
    let m2 = bin(&mut g, BinaryOp::Mul, c2, e2); // same product, operands swapped
    let a1 = bin(&mut g, BinaryOp::Sub, x, y);
    let a2 = bin(&mut g, BinaryOp::Sub, y, x); // not commutative: must stay
    let s1 = bin(&mut g, BinaryOp::Add, m1, a1);
    let s2 = bin(&mut g, BinaryOp::Add, m2, a2);
    g.outputs = vec![s1, s2];
    let o = cse(&g).unwrap();
    assert_eq!(count(&o, |op| matches!(op, Op::Unary(UnaryOp::Exp))), 1);
    assert_eq!(count(&o, |op| matches!(op, Op::Constant(_))), 1);
    assert_eq!(count(&o, |op| matches!(op, Op::Binary(BinaryOp::Mul))), 1);
    assert_eq!(count(&o, |op| matches!(op, Op::Binary(BinaryOp::Sub))), 2);
    assert!(o.nodes.len() < g.nodes.len());
    assert_same_outputs(&g, &o, &[f64_data(&[8], 0), f64_data(&[8], 3)]);
}

#[test]
fn cse_keeps_constants_that_differ_only_in_the_sign_of_zero() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[8]);
    let z = g.push(scalar(0.0), vec![], 0).unwrap();
    let nz = g.push(scalar(-0.0), vec![], 0).unwrap();
    let a = bin(&mut g, BinaryOp::Add, x, z);
    let b = bin(&mut g, BinaryOp::Add, x, nz);
    g.outputs = vec![a, b];
    let o = cse(&g).unwrap();
    assert_eq!(count(&o, |op| matches!(op, Op::Constant(_))), 2);
    assert_same_outputs(&g, &o, &[f64_data(&[8], 0)]);
}

#[test]
fn fold_evaluates_constant_subgraphs_with_the_interpreter() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[3]);
    let a = g.push(constant(vec![1.0, f64::NAN, -0.0]), vec![], 0).unwrap();
    let b = g.push(scalar(3.0), vec![], 0).unwrap();
    let e = un(&mut g, UnaryOp::Exp, a);
    let m = bin(&mut g, BinaryOp::Mul, e, b);
    let s = bin(&mut g, BinaryOp::Add, x, m);
    g.outputs = vec![s, m];
    let o = fold_constants(&g).unwrap();
    assert_eq!(count(&o, |op| matches!(op, Op::Unary(_))), 0);
    assert_eq!(count(&o, |op| matches!(op, Op::Binary(BinaryOp::Mul))), 0);
    assert_eq!(o.nodes.len(), 3); // input, folded constant, add
    assert!(matches!(o.nodes[o.outputs[1]].op, Op::Constant(_)), "an output may become a constant");
    assert_same_outputs(&g, &o, &[f64_data(&[3], 2)]);
}

#[test]
fn fold_does_not_expand_a_scalar_into_a_large_constant() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[1000]);
    let c = g.push(scalar(3.0), vec![], 0).unwrap();
    let b = g.push(Op::Broadcast(vec![1000]), vec![c], 0).unwrap();
    let big = g.push(Op::Broadcast(vec![2000]), vec![c], 0).unwrap();
    let s = bin(&mut g, BinaryOp::Add, x, b);
    let t = g.push(Op::ReduceSum(vec![0]), vec![big], 0).unwrap();
    g.outputs = vec![s, t];
    let o = fold_constants(&g).unwrap();
    assert!(o.nodes.iter().all(|n| match &n.op {
        Op::Constant(d) => d.numel() <= 1,
        _ => true,
    }));
    // the broadcast to 2000 elements is not stored, but its sum is a scalar, so it folds.
    assert!(matches!(o.nodes[o.outputs[1]].op, Op::Constant(_)));
    assert_same_outputs(&g, &o, &[f64_data(&[1000], 0)]);
}

#[test]
fn fold_turns_large_splats_into_broadcast_scalars_and_folds_ops_on_them() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[100]);
    let splat = |g: &mut Graph, v: f64| {
        g.push(Op::Constant(Arc::new(Data::F64(ArrayD::from_elem(IxDyn(&[100]), v)))), vec![], 0).unwrap()
    };
    let nz = splat(&mut g, -0.0);
    let nan = splat(&mut g, f64::NAN);
    let inf = splat(&mut g, f64::NEG_INFINITY);
    let a = bin(&mut g, BinaryOp::Mul, nz, inf); // NaN
    let b = bin(&mut g, BinaryOp::Sub, nz, nan);
    let c = un(&mut g, UnaryOp::Neg, nz); // +0
    let d = bin(&mut g, BinaryOp::Add, x, c);
    let e = bin(&mut g, BinaryOp::Max, d, b);
    let f = bin(&mut g, BinaryOp::Add, e, a);
    g.outputs = vec![f, c, d];
    let o = fold_constants(&g).unwrap();
    assert!(o.nodes.iter().all(|n| !matches!(n.op, Op::Constant(_)) || n.shape.is_empty()), "{}", ir::to_text(&o));
    assert_same_outputs(&g, &o, &[f64_data(&[100], 0)]);
    let o = optimize(&g).unwrap();
    assert!(o.nodes.iter().all(|n| !matches!(n.op, Op::Constant(_)) || n.shape.is_empty()), "{}", ir::to_text(&o));
    assert_same_outputs(&g, &o, &[f64_data(&[100], 0)]);
}

/// Builds `f(x)` on an input `x: f64[8]`, simplifies, checks the result and returns it.
fn simplified(f: impl FnOnce(&mut Graph, NodeId) -> NodeId) -> (Graph, Graph) {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[8]);
    let y = f(&mut g, x);
    g.outputs = vec![y];
    let o = simplify(&g).unwrap();
    assert_same_outputs(&g, &o, &[f64_data(&[8], 0)]);
    let o2 = optimize(&g).unwrap();
    assert_same_outputs(&g, &o2, &[f64_data(&[8], 0)]);
    (g, o)
}

#[test]
fn simplify_removes_multiplication_and_division_by_one_and_pow_one() {
    for (b, left) in [(BinaryOp::Mul, false), (BinaryOp::Mul, true), (BinaryOp::Div, false), (BinaryOp::Pow, false)] {
        let (_, o) = simplified(|g, x| {
            let one = g.push(scalar(1.0), vec![], 0).unwrap();
            if left {
                bin(g, b, one, x)
            } else {
                bin(g, b, x, one)
            }
        });
        assert_eq!(o.nodes.len(), 1, "{b:?}:\n{}", ir::to_text(&o));
        assert_eq!(o.outputs, vec![0]);
    }
}

#[test]
fn simplify_sees_ones_through_broadcast_and_reshape() {
    let (_, o) = simplified(|g, x| {
        let one = g.push(constant(vec![1.0, 1.0]), vec![], 0).unwrap();
        let r = g.push(Op::Reshape(vec![1, 2]), vec![one], 0).unwrap();
        let b = g.push(Op::Broadcast(vec![4, 2]), vec![r], 0).unwrap();
        let b = g.push(Op::Reshape(vec![8]), vec![b], 0).unwrap();
        bin(g, BinaryOp::Mul, x, b)
    });
    assert_eq!(o.nodes.len(), 1, "{}", ir::to_text(&o));
}

#[test]
fn simplify_turns_multiplication_by_minus_one_into_neg() {
    let (_, o) = simplified(|g, x| {
        let m = g.push(scalar(-1.0), vec![], 0).unwrap();
        bin(g, BinaryOp::Mul, m, x)
    });
    assert_eq!(count(&o, |op| matches!(op, Op::Binary(_))), 0);
    assert_eq!(count(&o, |op| matches!(op, Op::Unary(UnaryOp::Neg))), 1);
}

#[test]
fn simplify_adds_minus_zero_and_subtracts_plus_zero_but_not_the_converse() {
    let (_, o) = simplified(|g, x| {
        let z = g.push(scalar(-0.0), vec![], 0).unwrap();
        bin(g, BinaryOp::Add, z, x)
    });
    assert_eq!(o.nodes.len(), 1);
    let (_, o) = simplified(|g, x| {
        let z = g.push(scalar(0.0), vec![], 0).unwrap();
        bin(g, BinaryOp::Sub, x, z)
    });
    assert_eq!(o.nodes.len(), 1);
    // x + 0 maps -0 to +0, x - (-0) too: both must stay.
    for (b, v) in [(BinaryOp::Add, 0.0), (BinaryOp::Sub, -0.0)] {
        let (g, o) = simplified(|g, x| {
            let z = g.push(scalar(v), vec![], 0).unwrap();
            bin(g, b, x, z)
        });
        assert_eq!(o.nodes.len(), g.nodes.len(), "{b:?} {v}");
        let out = interp::run(&o, &[f64_data(&[8], 0)]).unwrap();
        assert!(out[0].get_c128(0).unwrap().re.is_sign_positive(), "-0 {b:?} {v} must give +0");
    }
}

#[test]
fn simplify_does_not_touch_times_zero_or_identities_that_broadcast() {
    // x * 0 is NaN for NaN and inf, -0 for negative x.
    let (g, o) = simplified(|g, x| {
        let z = g.push(scalar(0.0), vec![], 0).unwrap();
        bin(g, BinaryOp::Mul, x, z)
    });
    assert_eq!(o.nodes.len(), g.nodes.len());
    assert_eq!(count(&o, |op| matches!(op, Op::Binary(BinaryOp::Mul))), 1);
    // x + (-0) where the constant broadcasts x to a larger shape: the shape would change.
    let (g, o) = simplified(|g, x| {
        let z = g.push(Op::Constant(Arc::new(Data::F64(ArrayD::from_elem(IxDyn(&[3, 8]), -0.0)))), vec![], 0).unwrap();
        bin(g, BinaryOp::Add, x, z)
    });
    assert_eq!(o.nodes.len(), g.nodes.len());
    assert_eq!(o.nodes[o.outputs[0]].shape[..], [3, 8]);
}

#[test]
fn simplify_leaves_complex_multiplication_by_one_alone() {
    // (a + ib) * (1 + 0i) computes a*1 - b*0: NaN for b = inf.
    let mut g = Graph::new();
    let x = g.input(0, DType::C128, &[2]);
    let one =
        g.push(Op::Constant(Arc::new(Data::scalar(DType::C128, num_complex::Complex64::new(1.0, 0.0)))), vec![], 0);
    let m = bin(&mut g, BinaryOp::Mul, x, one.unwrap());
    g.outputs = vec![m];
    let o = optimize(&g).unwrap();
    assert_eq!(o.nodes.len(), g.nodes.len());
    let v = ndarray::array![num_complex::Complex64::new(1.0, f64::INFINITY), num_complex::Complex64::new(-0.0, 2.0)];
    let out = interp::run(&o, &[Arc::new(Data::C128(v.into_dyn()))]).unwrap();
    assert!(out[0].get_c128(0).unwrap().re.is_nan(), "the rule would have been wrong here");
}

#[test]
fn simplify_does_not_rewrite_pow_two_as_a_product() {
    let (g, o) = simplified(|g, x| {
        let two = g.push(scalar(2.0), vec![], 0).unwrap();
        bin(g, BinaryOp::Pow, x, two)
    });
    assert_eq!(o.nodes.len(), g.nodes.len());
    assert_eq!(count(&o, |op| matches!(op, Op::Binary(BinaryOp::Pow))), 1);
}

#[test]
fn simplify_cancels_double_neg_and_conj_and_drops_identity_casts() {
    let (_, o) = simplified(|g, x| {
        let a = un(g, UnaryOp::Neg, x);
        let a = un(g, UnaryOp::Neg, a);
        let a = un(g, UnaryOp::Conj, a); // conj of a real is the identity
        let a = un(g, UnaryOp::Real, a);
        g.push(Op::Cast(DType::F64), vec![a], 0).unwrap()
    });
    assert_eq!(o.nodes.len(), 1, "{}", ir::to_text(&o));
    let mut g = Graph::new();
    let z = g.input(0, DType::C128, &[2]);
    let a = un(&mut g, UnaryOp::Conj, z);
    let a = un(&mut g, UnaryOp::Conj, a);
    g.outputs = vec![a];
    assert_eq!(simplify(&g).unwrap().nodes.len(), 1);
}

#[test]
fn simplify_collapses_layout_chains() {
    let (_, o) = simplified(|g, x| {
        let a = g.push(Op::Reshape(vec![2, 4]), vec![x], 0).unwrap();
        let a = g.push(Op::Reshape(vec![4, 2]), vec![a], 0).unwrap();
        let a = g.push(Op::Reshape(vec![4, 2]), vec![a], 0).unwrap(); // same shape
        let a = g.push(Op::Broadcast(vec![4, 2]), vec![a], 0).unwrap(); // same shape
        let a = g.push(Op::Permute(vec![0, 1]), vec![a], 0).unwrap(); // identity
        let a = g.push(Op::Permute(vec![1, 0]), vec![a], 0).unwrap();
        let a = g.push(Op::Permute(vec![1, 0]), vec![a], 0).unwrap(); // undoes the last
        let a = g.push(Op::Slice(vec![AxisSlice::full(4), AxisSlice::full(2)]), vec![a], 0).unwrap();
        let a = g.push(Op::ReduceSum(vec![]), vec![a], 0).unwrap();
        g.push(Op::Reshape(vec![8]), vec![a], 0).unwrap()
    });
    assert_eq!(o.nodes.len(), 1, "{}", ir::to_text(&o));
}

#[test]
fn simplify_composes_slices_permutes_and_broadcasts() {
    let (_, o) = simplified(|g, x| {
        let a = g.push(Op::Slice(vec![AxisSlice { start: 1, len: 6, step: 1 }]), vec![x], 0).unwrap();
        let a = g.push(Op::Slice(vec![AxisSlice { start: 5, len: 3, step: -2 }]), vec![a], 0).unwrap();
        let a = g.push(Op::Reshape(vec![3, 1]), vec![a], 0).unwrap();
        let a = g.push(Op::Broadcast(vec![3, 2]), vec![a], 0).unwrap();
        let a = g.push(Op::Broadcast(vec![2, 3, 2]), vec![a], 0).unwrap();
        let a = g.push(Op::Permute(vec![2, 0, 1]), vec![a], 0).unwrap();
        g.push(Op::Permute(vec![1, 0, 2]), vec![a], 0).unwrap()
    });
    assert_eq!(count(&o, |op| matches!(op, Op::Slice(_))), 1, "{}", ir::to_text(&o));
    assert_eq!(count(&o, |op| matches!(op, Op::Broadcast(_))), 1);
    assert_eq!(count(&o, |op| matches!(op, Op::Permute(_))), 1);
}

#[test]
fn simplify_cancels_slice_of_pad_and_picks_the_branch_of_a_constant_select() {
    let (_, o) = simplified(|g, x| {
        let slices = vec![AxisSlice { start: 2, len: 8, step: 1 }];
        let p = g.push(Op::Pad { shape: vec![12], slices: slices.clone() }, vec![x], 0).unwrap();
        g.push(Op::Slice(slices), vec![p], 0).unwrap()
    });
    assert_eq!(o.nodes.len(), 1);
    for cond in [true, false] {
        let (_, o) = simplified(|g, x| {
            let c = g.push(Op::Constant(Arc::new(Data::Bool(ndarray::arr0(cond).into_dyn()))), vec![], 0).unwrap();
            let e = un(g, UnaryOp::Exp, x);
            let y = g.push(scalar(7.0), vec![], 0).unwrap();
            g.push(Op::Select, vec![c, e, y], 0).unwrap()
        });
        assert_eq!(count(&o, |op| matches!(op, Op::Select)), 0);
        assert_eq!(count(&o, |op| matches!(op, Op::Unary(UnaryOp::Exp))), usize::from(cond));
        // the false branch is a scalar: it comes back broadcast to the result's shape
        assert_eq!(count(&o, |op| matches!(op, Op::Broadcast(_))), usize::from(!cond));
    }
}

#[test]
fn simplify_drops_explicit_broadcasts_and_shrinks_splat_constants_of_elementwise_ops() {
    let (_, o) = simplified(|g, x| {
        let r = g.push(Op::Reshape(vec![1, 8]), vec![x], 0).unwrap();
        let y = g.push(Op::Reshape(vec![4, 2]), vec![x], 0).unwrap();
        let y =
            g.push(Op::Slice(vec![AxisSlice::full(4), AxisSlice { start: 0, len: 1, step: 1 }]), vec![y], 0).unwrap();
        let b = g.push(Op::Broadcast(vec![4, 8]), vec![y], 0).unwrap();
        let m = bin(g, BinaryOp::Mul, r, b); // [1, 8] * [4, 8]: the broadcast of [4, 1] is implicit
        let threes = g.push(Op::Constant(Arc::new(Data::F64(ArrayD::from_elem(IxDyn(&[4, 8]), 3.0)))), vec![], 0);
        let a = bin(g, BinaryOp::Add, m, threes.unwrap());
        let s = g.push(Op::ReduceSum(vec![0]), vec![a], 0).unwrap();
        g.push(Op::Reshape(vec![8]), vec![s], 0).unwrap()
    });
    assert_eq!(count(&o, |op| matches!(op, Op::Broadcast(_))), 0, "{}", ir::to_text(&o));
    assert!(o.nodes.iter().all(|n| !matches!(n.op, Op::Constant(_)) || n.shape.is_empty()), "{}", ir::to_text(&o));
}

#[test]
fn simplify_keeps_a_broadcast_that_sets_the_result_shape() {
    let (g, o) = simplified(|g, x| {
        let b = g.push(Op::Broadcast(vec![3, 8]), vec![x], 0).unwrap();
        let c = g.push(Op::Constant(Arc::new(Data::F64(ArrayD::from_elem(IxDyn(&[3, 8]), 2.0)))), vec![], 0);
        bin(g, BinaryOp::Mul, b, c.unwrap())
    });
    assert_eq!(count(&o, |op| matches!(op, Op::Broadcast(_))), 1);
    assert_eq!(o.nodes[o.outputs[0]].shape, g.nodes[g.outputs[0]].shape);
}

#[test]
fn simplify_folds_negation_into_addition_and_subtraction() {
    for (b, left) in [(BinaryOp::Add, false), (BinaryOp::Add, true), (BinaryOp::Sub, false)] {
        let mut g = Graph::new();
        let x = g.input(0, DType::F64, &[8]);
        let y = g.input(1, DType::F64, &[8]);
        let ny = un(&mut g, UnaryOp::Neg, y);
        let r = if left { bin(&mut g, b, ny, x) } else { bin(&mut g, b, x, ny) };
        g.outputs = vec![r];
        let o = simplify(&g).unwrap();
        assert_eq!(count(&o, |op| matches!(op, Op::Unary(UnaryOp::Neg))), 0, "{b:?} {left}");
        assert_eq!(o.nodes.len(), 3);
        assert_same_outputs(&g, &o, &[f64_data(&[8], 0), f64_data(&[8], 3)]);
        assert_same_outputs(&g, &o, &[f64_data(&[8], 5), f64_data(&[8], 1)]);
    }
}

fn extended_rosenbrock(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let head = x.slice(s![..-1]);
    let tail = x.slice(s![1..]);
    let y = (100.0 * (tail - x.slice(s![..-1]).square()).square() + (1.0 - head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

#[test]
fn optimized_rosenbrock_gradient_is_smaller_and_computes_the_same() {
    let x0 = DlArray::from(Array1::from_iter((0..7).map(|i| 0.3 * i as f64 - 1.0)));
    let g = cranegrad::trace_graph(|x: DlArray| extended_rosenbrock(&x), x0.clone()).unwrap();
    let o = optimize(&g).unwrap();
    println!("rosenbrock value+gradient: {} nodes before, {} after", g.nodes.len(), o.nodes.len());
    println!("before:\n{}", ir::to_text(&g));
    println!("after:\n{}", ir::to_text(&o));
    assert!(o.nodes.len() < g.nodes.len());
    // the two x[:-1] slices are one node now
    let slices: Vec<&Op> = o.nodes.iter().map(|n| &n.op).filter(|op| matches!(op, Op::Slice(_))).collect();
    assert_eq!(slices.len(), 2, "{}", ir::to_text(&o));
    assert!(ir::to_text(&o).contains("-- backward"), "the backward region is still marked");
    let data = x0.data().unwrap().clone();
    assert_same_outputs(&g, &o, &[data]);
    let special = f64_data(&[7], 0);
    assert_same_outputs(&g, &o, &[special]);
    assert_eq!(optimize(&o).unwrap().nodes.len(), o.nodes.len(), "optimize reaches a fixed point");
}

#[test]
fn optimized_rosenbrock_gradient_has_the_same_shape_for_large_inputs_and_no_large_constants() {
    let small =
        cranegrad::trace_graph(|x: DlArray| extended_rosenbrock(&x), DlArray::from(Array1::linspace(-1.0, 1.0, 7)));
    let x0 = DlArray::from(Array1::linspace(-1.0, 1.0, 5000));
    let g = cranegrad::trace_graph(|x: DlArray| extended_rosenbrock(&x), x0.clone()).unwrap();
    let o = optimize(&g).unwrap();
    let small = optimize(&small.unwrap()).unwrap();
    println!("rosenbrock n=5000: {} nodes before, {} after", g.nodes.len(), o.nodes.len());
    assert_eq!(o.nodes.len(), small.nodes.len(), "{}", ir::to_text(&o));
    assert!(o.nodes.iter().all(|n| !matches!(n.op, Op::Constant(_)) || n.shape.is_empty()), "{}", ir::to_text(&o));
    assert_same_outputs(&g, &o, &[x0.data().unwrap().clone()]);
}

#[test]
fn optimized_second_order_rosenbrock_computes_the_same() {
    let x0 = DlArray::from(Array1::linspace(-1.0, 1.5, 9));
    let g = cranegrad::trace_graph(
        |x: DlArray| {
            let (y, grad) = extended_rosenbrock(&x)?;
            let s = grad.square().sum_all();
            let h = dlgradient(&s, &x)?;
            Ok((y, grad, h))
        },
        x0.clone(),
    )
    .unwrap();
    let o = optimize(&g).unwrap();
    println!("rosenbrock second order: {} nodes before, {} after", g.nodes.len(), o.nodes.len());
    println!("after:\n{}", ir::to_text(&o));
    assert!(o.nodes.len() < g.nodes.len());
    assert_same_outputs(&g, &o, &[x0.data().unwrap().clone()]);
    assert_same_outputs(&g, &o, &[f64_data(&[9], 2)]);
}

fn mlp_loss(p: &(DlArray, DlArray, DlArray, DlArray), x: &DlArray, t: &DlArray) -> DlArray {
    let (w1, b1, w2, b2) = p;
    let h = (x.matmul(w1) + b1).tanh();
    let logits = h.matmul(w2) + b2;
    let m = logits.max_axes(&[1], true);
    let z = &logits - &m;
    let lse = z.exp().sum_axes(&[1], true).log();
    -(t * (z - lse)).sum_all() / x.shape()[0] as f64
}

#[test]
fn optimized_mlp_gradient_is_smaller_and_computes_the_same() {
    for (b, d, h, c) in [(4, 5, 6, 3), (128, 64, 128, 10)] {
        let arr = |r: usize, k: usize, seed: f64| {
            DlArray::from(Array2::from_shape_fn((r, k), |(i, j)| ((i * 7 + j * 3) as f64 * seed).sin()))
        };
        let vec1 = |k: usize, seed: f64| DlArray::from(Array1::from_shape_fn(k, |i| (i as f64 * seed).cos() * 0.1));
        let mut t = Array2::zeros((b, c));
        for i in 0..b {
            t[[i, i % c]] = 1.0;
        }
        let args = (arr(d, h, 0.37), vec1(h, 0.5), arr(h, c, 0.91), vec1(c, 0.23), arr(b, d, 1.3), DlArray::from(t));
        let g = cranegrad::trace_graph(
            |(w1, b1, w2, b2, x, t): (DlArray, DlArray, DlArray, DlArray, DlArray, DlArray)| {
                let p = (w1, b1, w2, b2);
                let loss = mlp_loss(&p, &x, &t);
                let grads = dlgradient(&loss, (&p.0, &p.1, &p.2, &p.3))?;
                Ok((loss, grads))
            },
            args.clone(),
        )
        .unwrap();
        let o = optimize(&g).unwrap();
        println!("mlp (B, D, H, C) = {:?}: {} nodes before, {} after", (b, d, h, c), g.nodes.len(), o.nodes.len());
        println!("after:\n{}", ir::to_text(&o));
        assert!(o.nodes.len() < g.nodes.len());
        assert!(o.nodes.iter().all(|n| !matches!(n.op, Op::Constant(_)) || n.shape.is_empty()), "{}", ir::to_text(&o));
        let mut inputs = Vec::new();
        args.visit(&mut |leaf| {
            if let Leaf::Array(a) = leaf {
                inputs.push(a.data().unwrap().clone());
            }
        });
        assert_eq!(inputs.len(), 6);
        assert_same_outputs(&g, &o, &inputs);
    }
}

#[test]
fn optimize_rejects_a_malformed_graph() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[2]);
    g.outputs = vec![x + 5];
    assert!(optimize(&g).is_err());
    assert!(fold_constants(&g).is_err());
    assert!(simplify(&g).is_err());
    assert!(dce(&g).is_err(), "dce refuses a malformed graph");
    assert!(cse(&g).is_err(), "cse refuses a malformed graph");
    // an operand that does not precede its user
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[2]);
    let e = un(&mut g, UnaryOp::Exp, x);
    g.nodes[e].inputs = vec![e + 1].into();
    g.outputs = vec![e];
    assert!(optimize(&g).is_err());
    assert!(cse(&g).is_err());
    assert!(dce(&g).is_err());
}

/// Found by the random-program fuzzer: two reversals on different axes compose to a reversal of
/// both, not to the identity (the result has the input's shape, which is not enough).
#[test]
fn slices_that_keep_the_shape_are_not_the_identity() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[2, 3]);
    let rev1 = vec![AxisSlice::full(2), AxisSlice { start: 2, len: 3, step: -1 }];
    let rev0 = vec![AxisSlice { start: 1, len: 2, step: -1 }, AxisSlice::full(3)];
    let a = g.push(Op::Slice(rev1), vec![x], 0).unwrap();
    let b = g.push(Op::Slice(rev0), vec![a], 0).unwrap();
    g.outputs = vec![b];
    let o = optimize(&g).unwrap();
    assert_same_outputs(&g, &o, &[f64_data(&[2, 3], 0)]);
    assert!(o.nodes.iter().any(|n| matches!(n.op, Op::Slice(_))), "{}", ir::to_text(&o));
    // Reversing the same axis twice is the identity.
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[2, 3]);
    let r = vec![AxisSlice::full(2), AxisSlice { start: 2, len: 3, step: -1 }];
    let a = g.push(Op::Slice(r.clone()), vec![x], 0).unwrap();
    let b = g.push(Op::Slice(r), vec![a], 0).unwrap();
    g.outputs = vec![b];
    assert_eq!(optimize(&g).unwrap().nodes.len(), 1);
}

/// A cyclic permutation of a cube applied twice keeps the shape but is not the identity.
#[test]
fn permutations_that_keep_the_shape_are_not_the_identity() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[2, 2, 2]);
    let a = g.push(Op::Permute(vec![1, 2, 0]), vec![x], 0).unwrap();
    let b = g.push(Op::Permute(vec![1, 2, 0]), vec![a], 0).unwrap();
    g.outputs = vec![b];
    let o = optimize(&g).unwrap();
    assert_same_outputs(&g, &o, &[f64_data(&[2, 2, 2], 0)]);
    assert!(o.nodes.iter().any(|n| matches!(n.op, Op::Permute(_))), "{}", ir::to_text(&o));
}
