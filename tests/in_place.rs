//! Kernels that write over an operand: an elementwise kernel over a temporary of its shape that
//! nothing reads later takes the temporary's buffer (log-sum-exp's gradient is written over the
//! exponentials it scales). The results keep the interpreter's bits in `f32` and `f64`, for short
//! arrays and arrays run in chunks on pools of 1, 2 and 3 threads; a kernel with rare paths
//! (`exp` overflowing) that writes over its operand still gives them; a temporary read again
//! later is not written over; chains of temporaries share one buffer.

mod common;

use common::data::{compiled_like_the_interpreter, XorShift};
use cranegrad::internals::Data;
use cranegrad::ir::{BinaryOp, Graph, NodeId, Op, UnaryOp};
use cranegrad::prelude::*;
use ndarray::{ArrayD, IxDyn};
use num_complex::Complex64;
use std::sync::Arc;

/// Lengths: below a vector loop's width, odd ones, and ones run in chunks on the pool.
const SIZES: [usize; 4] = [3, 1001, 300_001, 640_515];

/// `n` values in `[-scale, scale)`, with `rare` at the start, the middle and the end when given.
fn input(dtype: DType, n: usize, scale: f64, rare: Option<f64>) -> Arc<Data> {
    let mut rng = XorShift::golden(n as u64 + 5);
    let mut v: Vec<f64> = (0..n).map(|_| (rng.unit() * 2.0 - 1.0) * scale).collect();
    if let Some(r) = rare {
        for at in [n / 2, n - 1, n.min(7) - 1] {
            v[at] = r;
        }
    }
    let a = ArrayD::from_shape_vec(IxDyn(&[n]), v).unwrap();
    Arc::new(match dtype {
        DType::F32 => Data::F32(a.mapv(|x| x as f32)),
        _ => Data::F64(a),
    })
}

/// How many kernels of `g` write over an operand, once its outputs are checked against the
/// interpreter's on 1, 2 and 3 threads.
fn in_place_kernels(g: &Graph, x: Arc<Data>, what: &str) -> usize {
    compiled_like_the_interpreter(g, &[x], what).in_place_count()
}

fn op(g: &mut Graph, op: Op, inputs: &[NodeId]) -> NodeId {
    g.push(op, inputs.to_vec(), 0).unwrap()
}

/// A scalar constant of `dtype`.
fn constant(g: &mut Graph, dtype: DType, v: f64) -> NodeId {
    let d = Data::scalar(dtype, Complex64::new(v, 0.0));
    g.push(Op::Constant(Arc::new(d)), vec![], 0).unwrap()
}

/// `sum(a)` reshaped to `[1]`, to scale an array of `a`'s length.
fn total(g: &mut Graph, a: NodeId) -> NodeId {
    let s = op(g, Op::ReduceSum(vec![0]), &[a]);
    op(g, Op::Reshape(vec![1]), &[s])
}

#[test]
fn log_sum_exp_gradient_is_written_over_the_exponentials() {
    fn lse(x: &DlArray) -> Result<(DlArray, DlArray)> {
        let m = x.max_axes(&[0], true).stop_gradient();
        let y = ((x - &m).exp().sum_axes(&[0], true).log() + &m).sum_all();
        let g = dlgradient(&y, x)?;
        Ok((y, g))
    }
    for n in SIZES {
        let x0 = input(DType::F64, n, 4.0, None);
        let x = DlArray::from(x0.as_ref().clone());
        let g = cranegrad::trace_graph(|x: DlArray| lse(&x), x.clone()).unwrap();
        let g = cranegrad::internals::opt::optimize(&g).unwrap();
        assert_eq!(in_place_kernels(&g, x0, &format!("LSE n={n}")), 1, "LSE n={n}: the gradient over `exp`");
        let af = accelerate(|x: DlArray| lse(&x));
        let (y, grad) = af.call(x.clone()).unwrap();
        let (ye, ge) = dlfeval(|x: DlArray| lse(&x), x).unwrap();
        assert_eq!(y.to_scalar::<f64>().unwrap().to_bits(), ye.to_scalar::<f64>().unwrap().to_bits());
        let (a, b) = (grad.extractdata::<f64>().unwrap(), ge.extractdata::<f64>().unwrap());
        assert!(a.len() == b.len() && a.iter().zip(b.iter()).all(|(p, q)| p.to_bits() == q.to_bits()), "n={n}");
    }
}

#[test]
fn a_kernel_with_rare_paths_writes_over_its_operand_with_the_interpreters_bits() {
    // t = c tanh(x) (read by a maximum first, so it has a buffer), out = exp(t): the rare
    // x = 9 gives t = c, past `exp`'s overflow threshold, so its rare path runs partway through.
    for dtype in [DType::F64, DType::F32] {
        let c = if dtype == DType::F32 { 100.0 } else { 1000.0 };
        for n in SIZES {
            let mut g = Graph::new();
            let x = g.input(0, dtype, &[n]);
            let scale = constant(&mut g, dtype, c);
            let th = op(&mut g, Op::Unary(UnaryOp::Tanh), &[x]);
            let t = op(&mut g, Op::Binary(BinaryOp::Mul), &[th, scale]);
            let m = op(&mut g, Op::ReduceMax(vec![0]), &[t]);
            let e = op(&mut g, Op::Unary(UnaryOp::Exp), &[t]);
            g.outputs = vec![m, e];
            let what = format!("exp over its operand {dtype:?} n={n}");
            assert_eq!(in_place_kernels(&g, input(dtype, n, 0.7, Some(9.0)), &what), 1, "{what}");
        }
    }
}

#[test]
fn a_temporary_read_again_later_is_not_written_over() {
    // t = exp(x); out = 3 t (an output); later sum(t t): `out` must leave `t` as it is.
    for dtype in [DType::F64, DType::F32] {
        for n in SIZES {
            let mut g = Graph::new();
            let x = g.input(0, dtype, &[n]);
            let three = constant(&mut g, dtype, 3.0);
            let t = op(&mut g, Op::Unary(UnaryOp::Exp), &[x]);
            let first = total(&mut g, t);
            let out = op(&mut g, Op::Binary(BinaryOp::Mul), &[t, three]);
            let tt = op(&mut g, Op::Binary(BinaryOp::Mul), &[t, t]);
            let tt = op(&mut g, Op::Binary(BinaryOp::Add), &[tt, out]);
            let later = op(&mut g, Op::ReduceSum(vec![0]), &[tt]);
            g.outputs = vec![first, out, later];
            let what = format!("read later {dtype:?} n={n}");
            let x0 = input(dtype, n, 2.0, None);
            assert_eq!(in_place_kernels(&g, x0, &what), 0, "{what}");
        }
    }
}

#[test]
fn a_chain_of_temporaries_shares_the_outputs_buffer() {
    // a = exp(x), b = exp(a - max(a)), out = exp(b - max(b)): b over a, out over b (so a and b
    // are computed in the output's memory).
    for dtype in [DType::F64, DType::F32] {
        for n in SIZES {
            let mut g = Graph::new();
            let x = g.input(0, dtype, &[n]);
            let a = op(&mut g, Op::Unary(UnaryOp::Exp), &[x]);
            let b = exp_less_max(&mut g, a);
            let out = exp_less_max(&mut g, b);
            g.outputs = vec![out];
            let what = format!("chain {dtype:?} n={n}");
            assert_eq!(in_place_kernels(&g, input(dtype, n, 1.0, None), &what), 2, "{what}");
        }
    }
}

/// `exp(a - max(a))`.
fn exp_less_max(g: &mut Graph, a: NodeId) -> NodeId {
    let m = op(g, Op::ReduceMax(vec![0]), &[a]);
    let m = op(g, Op::Reshape(vec![1]), &[m]);
    let d = op(g, Op::Binary(BinaryOp::Sub), &[a, m]);
    op(g, Op::Unary(UnaryOp::Exp), &[d])
}
