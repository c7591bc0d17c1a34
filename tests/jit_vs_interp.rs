//! Differential tests: every primitive and dtype, compiled vs interpreted, bit for bit.

mod common;

use common::data::{canonical_bits, Lcg as Rng};
use cranegrad::internals::interp;
use cranegrad::internals::jit;
use cranegrad::internals::Data;
use cranegrad::ir::{AxisSlice, BinaryOp, CmpOp, Graph, Op, UnaryOp};
use cranegrad::DType;
use ndarray::{ArrayD, IxDyn};
use num_complex::{Complex32, Complex64};
use std::sync::Arc;

/// Uniform in `[-3, 3)`, or with `specials` 15% of the time one of ten special values.
fn val(rng: &mut Rng, specials: bool) -> f64 {
    let r = rng.unit();
    if specials && r < 0.15 {
        let s = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5];
        return s[(rng.unit() * s.len() as f64) as usize % s.len()];
    }
    (rng.unit() - 0.5) * 6.0
}

fn random(rng: &mut Rng, d: DType, shape: &[usize], specials: bool) -> Arc<Data> {
    let n: usize = shape.iter().product();
    let s = IxDyn(shape);
    Arc::new(match d {
        DType::Bool => Data::Bool(ArrayD::from_shape_vec(s, (0..n).map(|_| rng.unit() < 0.5).collect()).unwrap()),
        DType::F32 => {
            Data::F32(ArrayD::from_shape_vec(s, (0..n).map(|_| val(rng, specials) as f32).collect()).unwrap())
        }
        DType::F64 => Data::F64(ArrayD::from_shape_vec(s, (0..n).map(|_| val(rng, specials)).collect()).unwrap()),
        DType::C64 => Data::C64(
            ArrayD::from_shape_vec(
                s,
                (0..n).map(|_| Complex32::new(val(rng, specials) as f32, val(rng, specials) as f32)).collect(),
            )
            .unwrap(),
        ),
        DType::C128 => Data::C128(
            ArrayD::from_shape_vec(s, (0..n).map(|_| Complex64::new(val(rng, specials), val(rng, specials))).collect())
                .unwrap(),
        ),
    })
}

/// Runs `g` both ways and compares bit for bit (NaNs compare equal whatever their payload).
pub fn check(g: &Graph, inputs: &[Arc<Data>]) -> jit::Compiled {
    let want = interp::run(g, inputs).expect("interp");
    let c = jit::compile(g).unwrap_or_else(|e| panic!("compile failed: {e}\n{}", cranegrad::ir::to_text(g)));
    let got = c.run(inputs).expect("jit run");
    assert_eq!(want.len(), got.len());
    for (k, (w, h)) in want.iter().zip(&got).enumerate() {
        assert_eq!(w.dtype(), h.dtype(), "output {k} dtype");
        assert_eq!(w.shape(), h.shape(), "output {k} shape");
        let (bw, bh) = (canonical_bits(w), canonical_bits(h));
        if bw != bh {
            let i = bw.iter().zip(&bh).position(|(a, b)| a != b).unwrap();
            panic!(
                "output {k} differs at {i}: interp {:?} jit {:?}\n{}\n{}",
                w.get_c128(i),
                h.get_c128(i),
                cranegrad::ir::to_text(g),
                c.clif_text()
            );
        }
    }
    c
}

const NUM: [DType; 4] = [DType::F32, DType::F64, DType::C64, DType::C128];

fn unary_graph(u: UnaryOp, d: DType, shape: &[usize]) -> Option<Graph> {
    let mut g = Graph::new();
    let x = g.input(0, d, shape);
    let y = g.push(Op::Unary(u), vec![x], 0).ok()?;
    g.outputs = vec![y];
    Some(g)
}

#[test]
fn every_unary_every_dtype() {
    let mut rng = Rng(1);
    for u in UnaryOp::ALL {
        for d in NUM {
            for shape in [&[][..], &[0], &[7], &[2, 3], &[1, 2, 1, 2, 1, 3]] {
                let Some(g) = unary_graph(u, d, shape) else { continue };
                let x = random(&mut rng, d, shape, true);
                check(&g, &[x]);
            }
        }
    }
}

fn binary_like(op: Op, d: DType, a: &[usize], b: &[usize], rng: &mut Rng) -> Option<()> {
    let mut g = Graph::new();
    let x = g.input(0, d, a);
    let y = g.input(1, d, b);
    let z = g.push(op, vec![x, y], 0).ok()?;
    g.outputs = vec![z];
    check(&g, &[random(rng, d, a, true), random(rng, d, b, true)]);
    Some(())
}

const PAIRS: [(&[usize], &[usize]); 7] = [
    (&[], &[]),
    (&[], &[4]),
    (&[5], &[5]),
    (&[2, 1], &[1, 3]),
    (&[0, 3], &[1, 3]),
    (&[3, 4], &[4]),
    (&[2, 1, 2, 1, 2, 1], &[1, 2, 1, 2, 1, 2]),
];

#[test]
fn every_binary_every_dtype_with_broadcasting() {
    let mut rng = Rng(2);
    for b in BinaryOp::ALL {
        for d in NUM {
            for (x, y) in PAIRS {
                binary_like(Op::Binary(b), d, x, y, &mut rng);
                binary_like(Op::Binary(b), d, y, x, &mut rng);
            }
        }
    }
}

#[test]
fn max_min_signed_zeros_and_nan() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[6]);
    let y = g.input(1, DType::F64, &[6]);
    let a = g.push(Op::Binary(BinaryOp::Max), vec![x, y], 0).unwrap();
    let b = g.push(Op::Binary(BinaryOp::Min), vec![x, y], 0).unwrap();
    g.outputs = vec![a, b];
    let xs = Arc::new(Data::F64(ndarray::arr1(&[0.0, -0.0, f64::NAN, 1.0, f64::NAN, -0.0]).into_dyn()));
    let ys = Arc::new(Data::F64(ndarray::arr1(&[-0.0, 0.0, 1.0, f64::NAN, f64::NAN, -0.0]).into_dyn()));
    check(&g, &[xs, ys]);
}

#[test]
fn every_compare_every_dtype() {
    let mut rng = Rng(3);
    for c in CmpOp::ALL {
        for d in DType::ALL {
            for (x, y) in PAIRS {
                binary_like(Op::Compare(c), d, x, y, &mut rng);
            }
        }
    }
}

#[test]
fn select_every_dtype() {
    let mut rng = Rng(4);
    for d in DType::ALL {
        for (c, a, b) in [(&[][..], &[3][..], &[3][..]), (&[2, 1], &[1, 3], &[]), (&[4], &[4], &[4]), (&[0], &[1], &[])]
        {
            let mut g = Graph::new();
            let ci = g.input(0, DType::Bool, c);
            let ai = g.input(1, d, a);
            let bi = g.input(2, d, b);
            let z = g.push(Op::Select, vec![ci, ai, bi], 0).unwrap();
            g.outputs = vec![z];
            check(
                &g,
                &[random(&mut rng, DType::Bool, c, true), random(&mut rng, d, a, true), random(&mut rng, d, b, true)],
            );
        }
    }
}

#[test]
fn every_cast() {
    let mut rng = Rng(5);
    for from in DType::ALL {
        for to in DType::ALL {
            let mut g = Graph::new();
            let x = g.input(0, from, &[9]);
            let y = g.push(Op::Cast(to), vec![x], 0).unwrap();
            g.outputs = vec![y];
            check(&g, &[random(&mut rng, from, &[9], true)]);
        }
    }
}

fn layout(op: Op, d: DType, shape: &[usize], rng: &mut Rng) {
    let mut g = Graph::new();
    let x = g.input(0, d, shape);
    let y = g.push(op.clone(), vec![x], 0).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    // Also fused behind an elementwise op, so the layout op is index arithmetic in a loop.
    g.outputs = vec![y];
    if d.is_float() {
        let z = g.push(Op::Unary(UnaryOp::Neg), vec![y], 0).unwrap();
        g.outputs = vec![z];
    }
    check(&g, &[random(rng, d, shape, true)]);
}

fn sl(start: usize, len: usize, step: isize) -> AxisSlice {
    AxisSlice { start, len, step }
}

#[test]
fn layout_ops_every_dtype() {
    let mut rng = Rng(6);
    for d in DType::ALL {
        layout(Op::Broadcast(vec![2, 3, 4]), d, &[3, 1], &mut rng);
        layout(Op::Broadcast(vec![4]), d, &[], &mut rng);
        layout(Op::Broadcast(vec![0, 4]), d, &[4], &mut rng);
        layout(Op::Reshape(vec![3, 2]), d, &[2, 3], &mut rng);
        layout(Op::Reshape(vec![6]), d, &[2, 1, 3], &mut rng);
        layout(Op::Reshape(vec![]), d, &[1, 1], &mut rng);
        layout(Op::Reshape(vec![1, 2, 3, 1, 2, 1]), d, &[3, 4], &mut rng);
        layout(Op::Permute(vec![1, 0]), d, &[2, 3], &mut rng);
        layout(Op::Permute(vec![2, 0, 1]), d, &[2, 3, 4], &mut rng);
        layout(Op::Permute(vec![5, 4, 3, 2, 1, 0]), d, &[2, 1, 3, 1, 2, 2], &mut rng);
        layout(Op::Slice(vec![sl(1, 4, 1)]), d, &[6], &mut rng);
        layout(Op::Slice(vec![sl(5, 3, -2)]), d, &[6], &mut rng);
        layout(Op::Slice(vec![sl(5, 6, -1), sl(0, 2, 2)]), d, &[6, 4], &mut rng);
        layout(Op::Slice(vec![sl(0, 0, 1)]), d, &[6], &mut rng);
        layout(Op::Pad { shape: vec![7], slices: vec![sl(1, 4, 1)] }, d, &[4], &mut rng);
        layout(Op::Pad { shape: vec![7], slices: vec![sl(6, 3, -2)] }, d, &[3], &mut rng);
        layout(Op::Pad { shape: vec![5, 6], slices: vec![sl(4, 2, -3), sl(1, 3, 2)] }, d, &[2, 3], &mut rng);
        layout(Op::Pad { shape: vec![3], slices: vec![sl(0, 0, 1)] }, d, &[0], &mut rng);
    }
}

#[test]
fn concat_every_dtype() {
    let mut rng = Rng(7);
    for d in DType::ALL {
        for (shapes, axis) in [
            (vec![vec![2], vec![3], vec![1]], 0),
            (vec![vec![2, 3], vec![2, 0], vec![2, 2]], 1),
            (vec![vec![1, 3], vec![2, 3]], 0),
            (vec![vec![0, 3], vec![0, 3]], 0),
        ] {
            let mut g = Graph::new();
            let ins: Vec<_> = shapes.iter().enumerate().map(|(k, s)| g.input(k, d, s)).collect();
            let c = g.push(Op::Concat(axis), ins, 0).unwrap();
            g.outputs = vec![c];
            let vals: Vec<_> = shapes.iter().map(|s| random(&mut rng, d, s, true)).collect();
            check(&g, &vals);
        }
    }
}

#[test]
fn reductions_every_dtype() {
    let mut rng = Rng(8);
    for d in NUM {
        for (shape, axes) in [
            (vec![5], vec![0]),
            (vec![], vec![]),
            (vec![3, 4], vec![1]),
            (vec![3, 4], vec![0]),
            (vec![3, 4], vec![0, 1]),
            (vec![2, 3, 4], vec![2, 0]),
            (vec![0], vec![0]),
            (vec![3, 0], vec![1]),
            (vec![2, 0, 3], vec![0]),
            (vec![2, 1, 2, 1, 2, 2], vec![0, 2, 5]),
        ] {
            for op in [Op::ReduceSum(axes.clone()), Op::ReduceMax(axes.clone()), Op::ReduceMin(axes.clone())] {
                let mut g = Graph::new();
                let x = g.input(0, d, &shape);
                let Ok(y) = g.push(op, vec![x], 0) else { continue };
                g.outputs = vec![y];
                check(&g, &[random(&mut rng, d, &shape, true)]);
                check(&g, &[random(&mut rng, d, &shape, false)]);
            }
        }
    }
    // All-NaN max is NaN.
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[3]);
    let y = g.push(Op::ReduceMax(vec![0]), vec![x], 0).unwrap();
    g.outputs = vec![y];
    check(&g, &[Arc::new(Data::F64(ndarray::arr1(&[f64::NAN; 3]).into_dyn()))]);
}

#[test]
fn matmul_every_dtype() {
    let mut rng = Rng(9);
    for d in NUM {
        for (a, b) in [
            (vec![2, 3], vec![3, 4]),
            (vec![1, 1], vec![1, 1]),
            (vec![2, 5, 3], vec![2, 3, 2]),
            (vec![3, 0], vec![0, 2]),
            (vec![0, 3], vec![3, 2]),
            (vec![17, 33], vec![33, 9]),
        ] {
            let mut g = Graph::new();
            let x = g.input(0, d, &a);
            let y = g.input(1, d, &b);
            // Operands computed by fused kernels, result consumed by one.
            let xs = g.push(Op::Unary(UnaryOp::Neg), vec![x], 0).unwrap();
            let z = g.push(Op::MatMul, vec![xs, y], 0).unwrap();
            let w = g.push(Op::Binary(BinaryOp::Add), vec![z, z], 0).unwrap();
            g.outputs = vec![w, z];
            check(&g, &[random(&mut rng, d, &a, false), random(&mut rng, d, &b, false)]);
        }
    }
}

#[test]
fn constants_inputs_as_outputs_and_shared_nodes() {
    let mut rng = Rng(10);
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[4]);
    let c =
        g.push(Op::Constant(Arc::new(Data::F64(ndarray::arr1(&[1.0, 2.0, 3.0, 4.0]).into_dyn()))), vec![], 0).unwrap();
    let s = g.push(Op::Constant(Arc::new(Data::scalar(DType::F64, Complex64::new(2.5, 0.0)))), vec![], 0).unwrap();
    let t = g.push(Op::Binary(BinaryOp::Mul), vec![x, c], 0).unwrap();
    let e = g.push(Op::Unary(UnaryOp::Exp), vec![t], 0).unwrap();
    let u = g.push(Op::Binary(BinaryOp::Add), vec![e, s], 0).unwrap();
    let v = g.push(Op::Binary(BinaryOp::Sub), vec![e, s], 0).unwrap();
    let w = g.push(Op::Binary(BinaryOp::Mul), vec![u, v], 0).unwrap();
    g.outputs = vec![w, x, s, c, w, e];
    check(&g, &[random(&mut rng, DType::F64, &[4], false)]);
}

#[test]
fn fusion_elementwise_chain_is_one_loop_and_sum_of_squares_too() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[100]);
    let s1 = g.push(Op::Slice(vec![sl(1, 99, 1)]), vec![x], 0).unwrap();
    let s0 = g.push(Op::Slice(vec![sl(0, 99, 1)]), vec![x], 0).unwrap();
    let sq = g.push(Op::Binary(BinaryOp::Mul), vec![s0, s0], 0).unwrap();
    let d = g.push(Op::Binary(BinaryOp::Sub), vec![s1, sq], 0).unwrap();
    let p = g.push(Op::Pad { shape: vec![100], slices: vec![sl(1, 99, 1)] }, vec![d], 0).unwrap();
    // round: a host call, in the same loop.
    let e = g.push(Op::Unary(UnaryOp::Round), vec![p], 0).unwrap();
    g.outputs = vec![e];
    let mut rng = Rng(11);
    let c = check(&g, &[random(&mut rng, DType::F64, &[100], false)]);
    assert_eq!(c.loop_count(), 1, "{}", c.clif_text());
    assert!(c.clif_text().contains("call"));

    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[1000]);
    let sq = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
    let s = g.push(Op::ReduceSum(vec![0]), vec![sq], 0).unwrap();
    g.outputs = vec![s];
    let c = check(&g, &[random(&mut rng, DType::F64, &[1000], false)]);
    assert_eq!(c.loop_count(), 1);
    let _ = c.disassembly();
}

#[test]
fn compiled_is_send_sync_and_checks_inputs() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<jit::Compiled>();
    let g = unary_graph(UnaryOp::Exp, DType::F64, &[3]).unwrap();
    let c = jit::compile(&g).unwrap();
    let mut rng = Rng(12);
    assert!(c.run(&[]).is_err());
    assert!(c.run(&[random(&mut rng, DType::F32, &[3], false)]).is_err());
    assert!(c.run(&[random(&mut rng, DType::F64, &[4], false)]).is_err());
    let c = Arc::new(c);
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || {
                let x = Arc::new(Data::F64(ndarray::arr1(&[1.0, 2.0, 3.0]).into_dyn()));
                c.run(&[x]).unwrap()
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
}

#[test]
fn deep_sharing_does_not_blow_up_code() {
    // x_{k+1} = x_k[1:] + x_k[:-1], 30 levels: duplication must stay bounded.
    let n = 40;
    let mut g = Graph::new();
    let mut x = g.input(0, DType::F64, &[n]);
    for k in 0..30 {
        let len = n - k;
        let a = g.push(Op::Slice(vec![sl(1, len - 1, 1)]), vec![x], 0).unwrap();
        let b = g.push(Op::Slice(vec![sl(0, len - 1, 1)]), vec![x], 0).unwrap();
        x = g.push(Op::Binary(BinaryOp::Add), vec![a, b], 0).unwrap();
    }
    g.outputs = vec![x];
    let mut rng = Rng(13);
    let c = check(&g, &[random(&mut rng, DType::F64, &[n], false)]);
    assert!(c.clif_text().len() < 2_000_000);
}

#[test]
fn extended_rosenbrock_value_and_gradient_is_at_most_two_passes_over_memory() {
    use cranegrad::prelude::*;
    use ndarray::s;
    let n = 1000;
    let x = DlArray::from(ndarray::Array1::linspace(-1.0, 1.0, n));
    let traced = cranegrad::trace_graph(
        |x: DlArray| {
            let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
            let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
            let g = dlgradient(&y, &x)?;
            Ok((y, g))
        },
        x.clone(),
    )
    .unwrap();
    let optimized = cranegrad::internals::opt::optimize(&traced.pruned().unwrap()).unwrap();
    let c = check(&optimized, &[x.data().unwrap().clone()]);
    assert!(
        c.loop_count() <= 2,
        "{} loops:\n{}\n{}",
        c.loop_count(),
        cranegrad::ir::to_text(&optimized),
        c.clif_text()
    );
}

/// A matrix product whose operand is a splat constant (a recurrent state that starts at zero)
/// gets the constant's buffer instead of an immediate.
#[test]
fn matmul_of_a_splat_constant_operand() {
    for value in [0.0, 1.5] {
        let mut g = Graph::new();
        let w = g.input(0, DType::F64, &[3, 2]);
        let h0 = g.nodes.len();
        g.nodes.push(cranegrad::ir::Node {
            op: Op::Constant(Arc::new(Data::F64(ArrayD::from_elem(IxDyn(&[1, 3]), value)))),
            inputs: vec![].into(),
            dtype: DType::F64,
            shape: vec![1, 3].into(),
            region: 0,
            origin: None,
        });
        let y = g.push(Op::MatMul, vec![h0, w], 0).unwrap();
        let t = g.push(Op::Unary(UnaryOp::Tanh), vec![y], 0).unwrap();
        g.outputs = vec![t];
        let x = Arc::new(Data::F64(ArrayD::from_shape_fn(IxDyn(&[3, 2]), |i| i[0] as f64 - 0.5 * i[1] as f64)));
        let want = interp::run(&g, std::slice::from_ref(&x)).unwrap();
        let got = jit::compile(&g).unwrap().run(&[x]).unwrap();
        assert_eq!(got, want);
    }
}
