//! Property tests: random elementwise / layout / reduction graphs, and traced first- and
//! second-order gradient graphs, compiled vs interpreted, bit for bit.

mod common;

use common::data::canonical_bits;
use cranegrad::internals::interp;
use cranegrad::internals::Data;
use cranegrad::ir::{AxisSlice, BinaryOp, CmpOp, Graph, NodeId, Op, UnaryOp};
use cranegrad::prelude::*;
use cranegrad::{internals::jit, trace_graph};
use ndarray::{s, ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};
use proptest::prelude::*;
use std::sync::Arc;

fn agree(g: &Graph, inputs: &[Arc<Data>]) -> Result<(), String> {
    let want = interp::run(g, inputs).map_err(|e| format!("interp: {e}"))?;
    let c = jit::compile(g).map_err(|e| format!("compile: {e}"))?;
    let got = c.run(inputs).map_err(|e| format!("run: {e}"))?;
    for (k, (w, h)) in want.iter().zip(&got).enumerate() {
        if w.dtype() != h.dtype() || w.shape() != h.shape() || canonical_bits(w) != canonical_bits(h) {
            return Err(format!("output {k} differs:\n{}\ninterp {w:?}\njit {h:?}", cranegrad::ir::to_text(g)));
        }
    }
    Ok(())
}

fn data(d: DType, shape: &[usize], vals: &[f64]) -> Arc<Data> {
    let n: usize = shape.iter().product();
    let v = |i: usize| vals[i % vals.len()];
    let s = IxDyn(shape);
    Arc::new(match d {
        DType::Bool => Data::Bool(ArrayD::from_shape_vec(s, (0..n).map(|i| v(i) > 0.0).collect()).unwrap()),
        DType::F32 => Data::F32(ArrayD::from_shape_vec(s, (0..n).map(|i| v(i) as f32).collect()).unwrap()),
        DType::F64 => Data::F64(ArrayD::from_shape_vec(s, (0..n).map(v).collect()).unwrap()),
        DType::C64 => Data::C64(
            ArrayD::from_shape_vec(s, (0..n).map(|i| Complex32::new(v(i) as f32, v(i + 7) as f32)).collect()).unwrap(),
        ),
        DType::C128 => {
            Data::C128(ArrayD::from_shape_vec(s, (0..n).map(|i| Complex64::new(v(i), v(i + 7))).collect()).unwrap())
        }
    })
}

fn build(dt: DType, steps: &[(usize, usize, usize, usize)]) -> Graph {
    let mut g = Graph::new();
    let mut pool: Vec<NodeId> = vec![g.input(0, dt, &[3, 4]), g.input(1, dt, &[4]), g.input(2, dt, &[])];
    for &(kind, a, b, c) in steps {
        let x = pool[a % pool.len()];
        let y = pool[b % pool.len()];
        let z = pool[c % pool.len()];
        let rank = g.nodes[x].shape.len();
        let shape = g.nodes[x].shape.clone();
        // Every elementwise primitive by construction (the lists of ir/primitives.rs), then
        // the structural ones.
        let (nu, nb) = (UnaryOp::ALL.len(), BinaryOp::ALL.len());
        let r = match kind {
            k if k < nu => g.push(Op::Unary(UnaryOp::ALL[k]), vec![x], 0),
            k if k < nu + nb => g.push(Op::Binary(BinaryOp::ALL[k - nu]), vec![x, y], 0),
            k => match k - nu - nb {
                0 if rank > 0 => g.push(Op::ReduceSum(vec![b % rank]), vec![x], 0),
                1 if rank > 0 => g.push(Op::ReduceMax(vec![b % rank]), vec![x], 0),
                2 => g
                    .push(Op::Compare(CmpOp::ALL[b % CmpOp::ALL.len()]), vec![x, y], 0)
                    .and_then(|cnd| g.push(Op::Select, vec![cnd, x, z], 0)),
                3 if rank > 0 && shape[0] > 0 => {
                    let mut sl: Vec<AxisSlice> = shape.iter().map(|&n| AxisSlice::full(n)).collect();
                    sl[0] = AxisSlice { start: shape[0] - 1, len: shape[0], step: -1 };
                    g.push(Op::Slice(sl), vec![x], 0)
                }
                4 if rank > 0 => {
                    let mut sl: Vec<AxisSlice> = shape.iter().map(|&n| AxisSlice::full(n)).collect();
                    let mut to = shape.clone();
                    to[0] += 2;
                    sl[0] = AxisSlice { start: 1, len: shape[0], step: 1 };
                    g.push(Op::Pad { shape: to.to_vec(), slices: sl }, vec![x], 0)
                }
                5 => {
                    let mut to = vec![2];
                    to.extend(&shape);
                    g.push(Op::Broadcast(to), vec![x], 0)
                }
                6 => g.push(Op::ReduceSum((0..rank).collect()), vec![x], 0),
                7 if rank == 2 => g.push(Op::Permute(vec![1, 0]), vec![x], 0),
                8 => g.push(Op::Reshape(vec![shape.iter().product()]), vec![x], 0),
                9 if rank > 0 => g.push(Op::Concat(0), vec![x, x], 0).or_else(|_| g.push(Op::Concat(0), vec![x, y], 0)),
                10 => g
                    .push(Op::Cast(DType::Bool), vec![x], 0)
                    .and_then(|c| g.push(Op::Cast(if b % 2 == 0 { DType::F32 } else { DType::C128 }), vec![c], 0)),
                11 if rank > 0 => g.push(Op::ReduceMin((0..rank).filter(|a| (b >> a) & 1 == 1).collect()), vec![x], 0),
                _ => continue,
            },
        };
        if let Ok(n) = r {
            if g.nodes[n].shape.iter().product::<usize>() <= 4096 {
                pool.push(n);
            }
        }
    }
    let last = *pool.last().unwrap();
    let mid = pool[pool.len() / 2];
    g.outputs = vec![last, mid];
    g
}

/// Step kinds: every unary and binary primitive, then 12 structural ones.
const KINDS: usize = UnaryOp::ALL.len() + BinaryOp::ALL.len() + 12;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn random_graphs_agree(
        dt in 0usize..4,
        steps in prop::collection::vec((0usize..KINDS, any::<usize>(), any::<usize>(), any::<usize>()), 1..20),
        vals in prop::collection::vec(-4.0f64..4.0, 1..8),
    ) {
        let dt = [DType::F32, DType::F64, DType::C64, DType::C128][dt];
        let g = build(dt, &steps);
        let ins = [data(dt, &[3, 4], &vals), data(dt, &[4], &vals), data(dt, &[], &vals)];
        agree(&g, &ins).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn rosenbrock_gradient_agrees(vals in prop::collection::vec(-3.0f64..3.0, 2..40)) {
        let g = trace_graph(|x: DlArray| rosenbrock_vg(&x), DlArray::from(ndarray::Array1::from(vals.clone()))).unwrap();
        let x = data(DType::F64, &[vals.len()], &vals);
        agree(&g, &[x]).map_err(TestCaseError::fail)?;
    }
}

fn rosenbrock(x: &DlArray) -> DlArray {
    let a = x.slice(s![1..]);
    let b = x.slice(s![..-1]);
    (100.0 * (a - b.square()).square() + (1.0 - x.slice(s![..-1])).square()).sum_all()
}

fn rosenbrock_vg(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let y = rosenbrock(x);
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

#[test]
fn rosenbrock_value_and_gradient_graph() {
    let n = 1000;
    let vals: Vec<f64> = (0..n).map(|i| ((i * 37 % 101) as f64 / 50.0) - 1.0).collect();
    let g = trace_graph(|x: DlArray| rosenbrock_vg(&x), DlArray::from(ndarray::Array1::from(vals.clone()))).unwrap();
    agree(&g, &[data(DType::F64, &[n], &vals)]).unwrap();
}

fn log_softmax_ce(z: &DlArray, y: &DlArray) -> DlArray {
    let m = z.max_axes(&[1], true);
    let zs = z - &m;
    let lse = zs.exp().sum_axes(&[1], true).log();
    let logp = zs - lse;
    -(y * &logp).sum_axes(&[1], false).mean_all()
}

fn mlp_loss(x: &DlArray, y: &DlArray, w1: &DlArray, b1: &DlArray, w2: &DlArray, b2: &DlArray) -> DlArray {
    let h = (x.matmul(w1) + b1).tanh();
    let z = h.matmul(w2) + b2;
    log_softmax_ce(&z, y)
}

pub fn mlp_args(b: usize, d: usize, h: usize, c: usize) -> Vec<DlArray> {
    let f = |shape: &[usize], seed: usize| {
        let n: usize = shape.iter().product();
        let v: Vec<f64> = (0..n).map(|i| (((i * 7919 + seed * 104729) % 1000) as f64 / 1000.0 - 0.5) * 0.5).collect();
        DlArray::from(ArrayD::from_shape_vec(IxDyn(shape), v).unwrap())
    };
    let mut yv = vec![0.0; b * c];
    for i in 0..b {
        yv[i * c + (i * 3) % c] = 1.0;
    }
    vec![
        f(&[b, d], 1),
        DlArray::from(ArrayD::from_shape_vec(IxDyn(&[b, c]), yv).unwrap()),
        f(&[d, h], 2),
        f(&[1, h], 3),
        f(&[h, c], 4),
        f(&[1, c], 5),
    ]
}

#[test]
fn tanh_mlp_loss_gradient_graph() {
    let args = mlp_args(8, 5, 6, 3);
    let g = trace_graph(
        |a: Vec<DlArray>| {
            let loss = mlp_loss(&a[0], &a[1], &a[2], &a[3], &a[4], &a[5]);
            let (g1, g2, g3, g4) = dlgradient(&loss, (&a[2], &a[3], &a[4], &a[5]))?;
            Ok((loss, g1, g2, g3, g4))
        },
        args.clone(),
    )
    .unwrap();
    let ins: Vec<Arc<Data>> = args.iter().map(|a| a.data().unwrap().clone()).collect();
    agree(&g, &ins).unwrap();
}

#[test]
fn hessian_vector_second_order_graph() {
    let n = 12;
    let xv: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    let vv: Vec<f64> = (0..n).map(|i| (i as f64 * 0.91).cos()).collect();
    let args = (DlArray::from(ndarray::Array1::from(xv.clone())), DlArray::from(ndarray::Array1::from(vv.clone())));
    let g = trace_graph(
        |(x, v): (DlArray, DlArray)| {
            let y = rosenbrock(&x) + (x.sin() * x.exp()).sum_all();
            let gr = dlgradient(&y, &x)?;
            let hv = dlgradient(&(&gr * &v).sum_all(), &x)?;
            Ok((y, gr, hv))
        },
        args,
    )
    .unwrap();
    agree(&g, &[data(DType::F64, &[n], &xv), data(DType::F64, &[n], &vv)]).unwrap();
}
