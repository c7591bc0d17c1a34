//! docs/API.md section 2's numerics line: reductions add in a fixed blocked (pairwise) order, eagerly
//! and in compiled code alike, so the same input gives the same bits on every call and in every
//! path, and an f32 sum of a million terms keeps its accuracy.

mod common;

use common::Rng;
use cranegrad::internals::Data;
use cranegrad::ir::{Graph, Op};
use cranegrad::prelude::*;
use cranegrad::{internals::interp, internals::jit};
use ndarray::{Array1, ArrayD, IxDyn};
use num_complex::Complex64;
use std::sync::Arc;

fn million_f32() -> (Array1<f32>, f64) {
    let mut rng = Rng::new(5);
    let x: Array1<f32> = Array1::from_shape_fn(1_000_000, |_| rng.uniform(0.0, 1.0) as f32);
    // The exact sum of the f32 values, to within 1e-16 relative (f64 pairs of 2^-24 steps).
    let exact: f64 = x.iter().map(|&v| v as f64).sum();
    (x, exact)
}

#[test]
fn an_f32_sum_of_a_million_terms_is_accurate() {
    let (x, exact) = million_f32();
    let eager = DlArray::from(x.clone()).sum_all().to_scalar::<f32>().unwrap() as f64;
    let rel = ((eager - exact) / exact).abs();
    eprintln!("f32 sum of 1e6 terms: relative error {rel:.2e} (one running f32 accumulator: about 1e-3)");
    assert!(rel < 2e-7, "relative error {rel:e}");
    // One running accumulator is far worse: the blocked order is what makes the difference.
    let naive = x.iter().fold(0.0f32, |a, &v| a + v) as f64;
    assert!(((naive - exact) / exact).abs() > 10.0 * rel);
}

#[test]
fn sums_have_the_same_bits_eagerly_accelerated_and_on_every_call() {
    let (x, _) = million_f32();
    let x = DlArray::from(x);
    let eager = x.sum_all().to_scalar::<f32>().unwrap();
    let af = accelerate(|x: DlArray| Ok(x.sum_all()));
    for _ in 0..3 {
        let got = af.call(x.clone()).unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(got.to_bits(), eager.to_bits());
    }
    let mean = accelerate(|x: DlArray| Ok(x.mean_all())).call(x.clone()).unwrap();
    assert_eq!(mean.to_scalar::<f32>().unwrap().to_bits(), x.mean_all().to_scalar::<f32>().unwrap().to_bits());
}

/// `reduce_sum` over `axes` of `data`: the JIT against the interpreter, bit for bit.
fn jit_matches(data: Data, axes: &[usize]) {
    let shape = data.shape().to_vec();
    let mut g = Graph::new();
    let x = g.input(0, data.dtype(), &shape);
    let s = g.push(Op::ReduceSum(axes.to_vec()), vec![x], 0).unwrap();
    g.outputs = vec![s];
    let inputs = [Arc::new(data)];
    let want = interp::run(&g, &inputs).unwrap();
    let got = jit::compile(&g).unwrap().run(&inputs).unwrap();
    assert_eq!(got, want, "shape {shape:?} axes {axes:?}");
}

#[test]
fn blocked_sums_agree_bit_for_bit_across_block_counts_and_axes() {
    let mut rng = Rng::new(9);
    // Lengths around the block size (256) and past several levels of the pairwise counter.
    for n in [1, 3, 255, 256, 257, 511, 512, 1000, 4097, 70_001] {
        let a = rng.array(&[n], -1.0, 1.0);
        jit_matches(Data::F64(a.clone()), &[0]);
        jit_matches(Data::F32(a.mapv(|v| v as f32)), &[0]);
    }
    let m = rng.array(&[300, 700], -1.0, 1.0);
    for axes in [&[0][..], &[1], &[0, 1], &[1, 0]] {
        jit_matches(Data::F64(m.clone()), axes);
    }
    let c: ArrayD<Complex64> = rng.complex(&[513, 3], -1.0, 1.0);
    jit_matches(Data::C128(c.clone()), &[0]);
    jit_matches(Data::C128(c), &[0, 1]);
    let t = rng.array(&[3, 260, 5], -1.0, 1.0);
    jit_matches(Data::F64(t.clone()), &[1]);
    jit_matches(Data::F64(t), &[0, 2]);
    let empty = ArrayD::<f64>::zeros(IxDyn(&[0, 4]));
    jit_matches(Data::F64(empty), &[0]);
}

/// `n` values with many signed zeros and NaNs among small integers (ties everywhere).
fn tie_heavy(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| match (rng.uniform(0.0, 8.0)) as u32 {
            0 => 0.0,
            1 => -0.0,
            2 => f64::NAN,
            k => (k as f64 - 5.0).floor(),
        })
        .collect()
}

#[test]
fn max_and_min_break_ties_of_signed_zeros_the_same_way_in_any_order() {
    let bits = |a: &DlArray| a.extractdata::<f64>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let v = |x: &[f64]| DlArray::from(Array1::from_vec(x.to_vec()));
    for (xs, max, min) in [
        (vec![0.0, -0.0], 0.0f64, -0.0f64),
        (vec![-0.0, 0.0], 0.0, -0.0),
        (vec![f64::NAN, -0.0, f64::NAN, 0.0], 0.0, -0.0),
        (vec![-0.0, -0.0], -0.0, -0.0),
    ] {
        let got_max = v(&xs).max_axes(&[0], false).to_scalar::<f64>().unwrap();
        let got_min = v(&xs).min_axes(&[0], false).to_scalar::<f64>().unwrap();
        assert_eq!((got_max.to_bits(), got_min.to_bits()), (max.to_bits(), min.to_bits()), "{xs:?}");
    }
    let (a, b) = (v(&[0.0, -0.0, f64::NAN, 1.0]), v(&[-0.0, 0.0, -0.0, f64::NAN]));
    assert_eq!(bits(&a.maximum(&b)), bits(&b.maximum(&a)));
    assert_eq!(bits(&a.minimum(&b)), bits(&b.minimum(&a)));
    assert_eq!(bits(&a.maximum(&b)), [0.0f64, 0.0, -0.0, 1.0].map(f64::to_bits).to_vec());
    assert!(DlArray::from(Array1::from_vec(vec![f64::NAN; 3]))
        .max_axes(&[0], false)
        .to_scalar::<f64>()
        .unwrap()
        .is_nan());
}

#[test]
fn compiled_max_and_min_reductions_give_the_interpreters_bits() {
    // Lengths below, at and far above a vector loop's; a reduction over the last axis (vectors
    // of lanes) and over the first; f64 and f32.
    for (rows, cols) in [(1, 7), (3, 16), (5, 33), (2, 1_000), (1, 100_003), (700, 9)] {
        for dtype in [DType::F64, DType::F32] {
            for op in [Op::ReduceMax(vec![1]), Op::ReduceMin(vec![1]), Op::ReduceMax(vec![0]), Op::ReduceMin(vec![0])] {
                let mut g = Graph::new();
                let x = g.input(0, dtype, &[rows, cols]);
                let r = g.push(op.clone(), vec![x], 0).unwrap();
                g.outputs = vec![r];
                let v =
                    ArrayD::from_shape_vec(IxDyn(&[rows, cols]), tie_heavy(rows * cols, (rows * cols) as u64)).unwrap();
                let data = Arc::new(match dtype {
                    DType::F32 => Data::F32(v.mapv(|x| x as f32)),
                    _ => Data::F64(v),
                });
                let inputs = [data];
                let want = interp::run(&g, &inputs).unwrap();
                let got = jit::compile(&g).unwrap().run(&inputs).unwrap();
                assert!(common::data::same_bits(&got[0], &want[0]), "{op:?} {dtype} [{rows}, {cols}]");
            }
        }
    }
}
