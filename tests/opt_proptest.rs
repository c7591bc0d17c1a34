//! Random small graphs of elementwise, broadcast, select and reduction nodes with special
//! constants (0, -0, 1, -1, NaN, inf): `optimize` must give a graph that verifies and computes
//! the same bits (any NaN equal to any NaN).

mod common;

use common::data::same_bits;
use cranegrad::internals::interp;
use cranegrad::internals::opt::optimize;
use cranegrad::ir::{self, AxisSlice, BinaryOp, CmpOp, Graph, NodeId, Op, UnaryOp};
use cranegrad::{internals::Data, DType};
use ndarray::{ArrayD, IxDyn};
use proptest::prelude::*;
use std::sync::Arc;

const VALUES: [f64; 12] =
    [0.0, -0.0, 1.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2.0, 0.5, -3.5, 1e-310, 7.25];

const UNARY: [UnaryOp; 12] = [
    UnaryOp::Neg,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Sqrt,
    UnaryOp::Abs,
    UnaryOp::Sin,
    UnaryOp::Tanh,
    UnaryOp::Recip,
    UnaryOp::Conj,
    UnaryOp::Real,
    UnaryOp::Floor,
    UnaryOp::Sign,
];

const BINARY: [BinaryOp; 7] =
    [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow, BinaryOp::Max, BinaryOp::Min];

/// One step of a random program; `usize` fields pick operands (modulo the pool size).
#[derive(Clone, Debug)]
enum Step {
    /// A constant: shape index (0 `[]`, 1 `[3]`, 2 `[2, 3]`), and value indices (repeated when
    /// `splat`).
    Constant(usize, Vec<usize>, bool),
    Unary(usize, usize),
    Binary(usize, usize, usize),
    /// `x op c` (or `c op x` when the flag is set) with a scalar constant `c` of one value,
    /// broadcast to `x`'s shape when the second flag is set: where identities like `x * 1` live.
    BinaryConstant(usize, usize, usize, bool, bool),
    /// `select(cmp(a, b), c, d)`.
    Select(usize, usize, usize, usize, usize),
    /// `select(constant, a, b)`.
    SelectConstant(bool, usize, usize),
    /// Reduction kind (sum, max, min), operand, whether over every axis (else the first one,
    /// or none when `empty`).
    Reduce(usize, usize, bool, bool),
    /// Broadcast to the next larger shape of the family.
    Broadcast(usize),
    /// Reverse the last axis (a slice with step -1), twice when `twice`.
    Reverse(usize, bool),
    /// Reshape `[2, 3]` to `[6]` and back, or `[3]` to `[1, 3]` then broadcast.
    Reshape(usize),
    /// `permute` twice (`[2, 3]` -> `[3, 2]` -> `[2, 3]`).
    Transpose(usize),
    /// `cast` to the graph's dtype (the identity).
    Cast(usize),
}

fn step() -> impl Strategy<Value = Step> {
    let i = || any::<usize>();
    prop_oneof![
        3 => (0..3usize, prop::collection::vec(0..VALUES.len(), 6), any::<bool>()).prop_map(|(s, v, b)| Step::Constant(s, v, b)),
        3 => (0..UNARY.len(), i()).prop_map(|(u, a)| Step::Unary(u, a)),
        5 => (0..BINARY.len(), i(), i()).prop_map(|(b, x, y)| Step::Binary(b, x, y)),
        5 => (0..BINARY.len(), i(), 0..VALUES.len(), any::<bool>(), any::<bool>())
            .prop_map(|(b, x, v, l, w)| Step::BinaryConstant(b, x, v, l, w)),
        1 => (0..6usize, i(), i(), i(), i()).prop_map(|(c, a, b, x, y)| Step::Select(c, a, b, x, y)),
        1 => (any::<bool>(), i(), i()).prop_map(|(c, a, b)| Step::SelectConstant(c, a, b)),
        1 => (0..3usize, i(), any::<bool>(), any::<bool>()).prop_map(|(k, a, all, e)| Step::Reduce(k, a, all, e)),
        1 => i().prop_map(Step::Broadcast),
        1 => (i(), any::<bool>()).prop_map(|(a, t)| Step::Reverse(a, t)),
        1 => i().prop_map(Step::Reshape),
        1 => i().prop_map(Step::Transpose),
        1 => i().prop_map(Step::Cast),
    ]
}

const SHAPES: [&[usize]; 3] = [&[], &[3], &[2, 3]];

thread_local! {
    /// The dtype of the graph being built (`f64` or `f32`).
    static DTYPE: std::cell::Cell<DType> = const { std::cell::Cell::new(DType::F64) };
}

fn dtype() -> DType {
    DTYPE.with(|d| d.get())
}

fn data(shape: &[usize], values: &[usize], splat: bool) -> Data {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|k| VALUES[values[if splat { 0 } else { k % values.len() }]]).collect();
    Data::F64(ArrayD::from_shape_vec(IxDyn(shape), v).expect("shape fits")).cast(dtype())
}

/// The graph a program builds, over inputs `x: [2, 3]` and `y: [3]` of [`dtype`].
/// Node `k` of the pool (inputs included) is an output when `outputs[k % len]`; the last always.
fn build(steps: &[Step], outputs: &[bool]) -> Graph {
    let mut g = Graph::new();
    let mut pool: Vec<NodeId> = vec![g.input(0, dtype(), &[2, 3]), g.input(1, dtype(), &[3])];
    let pick = |pool: &[NodeId], k: usize| pool[k % pool.len()];
    for s in steps {
        let node = match s {
            Step::Constant(shape, v, splat) => {
                g.push(Op::Constant(Arc::new(data(SHAPES[*shape], v, *splat))), vec![], 0)
            }
            Step::Unary(u, a) => g.push(Op::Unary(UNARY[*u]), vec![pick(&pool, *a)], 0),
            Step::Binary(b, x, y) => g.push(Op::Binary(BINARY[*b]), vec![pick(&pool, *x), pick(&pool, *y)], 0),
            Step::BinaryConstant(b, x, v, left, wide) => {
                let x = pick(&pool, *x);
                let mut c = g.push(Op::Constant(Arc::new(data(&[], &[*v], true))), vec![], 0).unwrap();
                if *wide {
                    c = g.push(Op::Broadcast(g.nodes[x].shape.to_vec()), vec![c], 0).unwrap();
                }
                let operands = if *left { vec![c, x] } else { vec![x, c] };
                g.push(Op::Binary(BINARY[*b]), operands, 0)
            }
            Step::Select(c, a, b, x, y) => {
                let cmp = g.push(Op::Compare(CmpOp::ALL[*c]), vec![pick(&pool, *a), pick(&pool, *b)], 0).unwrap();
                g.push(Op::Select, vec![cmp, pick(&pool, *x), pick(&pool, *y)], 0)
            }
            Step::SelectConstant(c, a, b) => {
                let cond = g.push(Op::Constant(Arc::new(Data::Bool(ndarray::arr0(*c).into_dyn()))), vec![], 0).unwrap();
                g.push(Op::Select, vec![cond, pick(&pool, *a), pick(&pool, *b)], 0)
            }
            Step::Reduce(kind, a, all, empty) => {
                let a = pick(&pool, *a);
                let rank = g.nodes[a].shape.len();
                let axes: Vec<usize> = if *empty || rank == 0 {
                    vec![]
                } else if *all {
                    (0..rank).collect()
                } else {
                    vec![0]
                };
                let op = [Op::ReduceSum(axes.clone()), Op::ReduceMax(axes.clone()), Op::ReduceMin(axes)][*kind].clone();
                g.push(op, vec![a], 0)
            }
            Step::Broadcast(a) => {
                let a = pick(&pool, *a);
                let to = if g.nodes[a].shape.is_empty() { vec![3] } else { vec![2, 3] };
                g.push(Op::Broadcast(to), vec![a], 0)
            }
            Step::Reverse(a, twice) => {
                let a = pick(&pool, *a);
                let shape = g.nodes[a].shape.clone();
                let mut slices: Vec<AxisSlice> = shape.iter().map(|&d| AxisSlice::full(d)).collect();
                if let Some(last) = slices.last_mut() {
                    *last = AxisSlice { start: 2, len: 3, step: -1 };
                }
                let r = g.push(Op::Slice(slices.clone()), vec![a], 0).unwrap();
                if *twice {
                    g.push(Op::Slice(slices), vec![r], 0)
                } else {
                    Ok(r)
                }
            }
            Step::Reshape(a) => {
                let a = pick(&pool, *a);
                match g.nodes[a].shape.len() {
                    2 => {
                        let r = g.push(Op::Reshape(vec![6]), vec![a], 0).unwrap();
                        g.push(Op::Reshape(vec![2, 3]), vec![r], 0)
                    }
                    1 => {
                        let r = g.push(Op::Reshape(vec![1, 3]), vec![a], 0).unwrap();
                        g.push(Op::Broadcast(vec![2, 3]), vec![r], 0)
                    }
                    _ => g.push(Op::Reshape(vec![]), vec![a], 0),
                }
            }
            Step::Transpose(a) => {
                let a = pick(&pool, *a);
                if g.nodes[a].shape.len() == 2 {
                    let t = g.push(Op::Permute(vec![1, 0]), vec![a], 0).unwrap();
                    g.push(Op::Permute(vec![1, 0]), vec![t], 0)
                } else {
                    Ok(a)
                }
            }
            Step::Cast(a) => g.push(Op::Cast(dtype()), vec![pick(&pool, *a)], 0),
        };
        pool.push(node.expect("every step is well typed"));
    }
    g.outputs = pool.iter().enumerate().filter(|(k, _)| outputs[k % outputs.len()]).map(|(_, &id)| id).collect();
    g.outputs.push(*pool.last().expect("the pool is never empty"));
    g
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn optimize_keeps_every_bit(
        steps in prop::collection::vec(step(), 1..24),
        outputs in prop::collection::vec(prop::bool::weighted(0.7), 1..8),
        xv in prop::collection::vec(0..VALUES.len(), 6),
        yv in prop::collection::vec(0..VALUES.len(), 3),
        single in any::<bool>(),
    ) {
        DTYPE.with(|d| d.set(if single { DType::F32 } else { DType::F64 }));
        let g = build(&steps, &outputs);
        ir::verify(&g).expect("the generator builds valid graphs");
        let o = optimize(&g).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(ir::verify(&o).is_ok());
        // only scalar constants may be new (splat constants shrink to scalars)
        let weight = |g: &Graph| g.nodes.iter().filter(|n| !(matches!(n.op, Op::Constant(_)) && n.shape.is_empty())).count();
        prop_assert!(weight(&o) <= weight(&g));
        prop_assert_eq!(o.num_inputs(), 2);
        let inputs = [Arc::new(data(&[2, 3], &xv, false)), Arc::new(data(&[3], &yv, false))];
        let before = interp::run(&g, &inputs).expect("the original runs");
        let after = interp::run(&o, &inputs).expect("the optimized graph runs");
        prop_assert_eq!(before.len(), after.len());
        for (i, (a, b)) in before.iter().zip(&after).enumerate() {
            prop_assert!(same_bits(a, b), "output {}: {} vs {}\nbefore:\n{}after:\n{}", i, a, b, ir::to_text(&g), ir::to_text(&o));
        }
    }
}
