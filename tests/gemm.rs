//! Matrix products in the JIT (issue 10): transposed operands are read through strides (no copy
//! kernel), results agree with the interpreter (another GEMM, another summation order) within
//! `2 k u |a| |b|`, and a product has the same bits on every call and for any number of rayon
//! threads, the large ones (which run on the pool) included.

mod common;

use common::data::{lcg_step, real_data, XorShift};
use cranegrad::internals::interp;
use cranegrad::internals::jit;
use cranegrad::ir::{Graph, Op};
use cranegrad::{internals::Data, DType};
use std::sync::Arc;

/// Pseudo-random values in [-1, 1) of `dtype` (f32 or f64).
fn data(dtype: DType, shape: &[usize], seed: u64) -> Arc<Data> {
    let n: usize = shape.iter().product();
    let mut rng = XorShift(lcg_step(seed));
    real_data(dtype, shape, (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect())
}

/// `op(a) @ op(b)` with `a`, `b` inputs of the given (stored) shapes; `ta`/`tb` transpose the
/// last two axes of the stored operand first.
fn product(dtype: DType, sa: &[usize], sb: &[usize], ta: bool, tb: bool) -> Graph {
    let mut g = Graph::new();
    let swap = |r: usize| -> Vec<usize> {
        let mut p: Vec<usize> = (0..r).collect();
        p.swap(r - 2, r - 1);
        p
    };
    let mut a = g.input(0, dtype, sa);
    let mut b = g.input(1, dtype, sb);
    if ta {
        a = g.push(Op::Permute(swap(sa.len())), vec![a], 0).unwrap();
    }
    if tb {
        b = g.push(Op::Permute(swap(sb.len())), vec![b], 0).unwrap();
    }
    let c = g.push(Op::MatMul, vec![a, b], 0).unwrap();
    g.outputs = vec![c];
    g
}

/// Elementwise `|x - y| <= 2 k u (|a| |b|)`: two products each within the GEMM error bound
/// `k u |a| |b|` of the exact one, where `abs_ab` is the product of the absolute values.
fn within_bound(x: &Data, y: &Data, abs_ab: &Data, k: usize, u: f64) -> bool {
    let (x, y, m) = (x.to_c128_vec(), y.to_c128_vec(), abs_ab.to_c128_vec());
    x.len() == y.len() && x.iter().zip(&y).zip(&m).all(|((x, y), m)| (x.re - y.re).abs() <= 2.0 * k as f64 * u * m.re)
}

fn abs_product(g: &Graph, inputs: &[Arc<Data>]) -> Data {
    let abs: Vec<Arc<Data>> = inputs
        .iter()
        .map(|d| {
            Arc::new(match &**d {
                Data::F32(a) => Data::F32(a.mapv(f32::abs)),
                Data::F64(a) => Data::F64(a.mapv(f64::abs)),
                other => other.clone(),
            })
        })
        .collect();
    (*interp::run(g, &abs).unwrap()[0]).clone()
}

#[test]
fn transposed_operands_are_read_through_strides_and_agree_with_the_interpreter() {
    // (stored a, stored b, ta, tb): the products reverse mode makes (W3's and W7's kinds).
    let cases: &[(&[usize], &[usize], bool, bool)] = &[
        (&[7, 5], &[5, 3], false, false),
        (&[5, 7], &[5, 3], true, false),
        (&[7, 5], &[3, 5], false, true),
        (&[5, 7], &[3, 5], true, true),
        (&[4, 9, 6], &[4, 9, 8], true, false),
        (&[2, 6, 9], &[2, 8, 9], false, true),
        (&[64, 130], &[64, 33], true, false),
        (&[130, 64], &[33, 64], false, true),
    ];
    for dtype in [DType::F64, DType::F32] {
        let u = if dtype == DType::F64 { f64::EPSILON } else { f32::EPSILON as f64 } / 2.0;
        for (i, &(sa, sb, ta, tb)) in cases.iter().enumerate() {
            let g = product(dtype, sa, sb, ta, tb);
            let inputs = [data(dtype, sa, 2 * i as u64 + 1), data(dtype, sb, 2 * i as u64 + 2)];
            let c = jit::compile(&g).unwrap();
            let r = sa.len();
            let (m, k) = if ta { (sa[r - 1], sa[r - 2]) } else { (sa[r - 2], sa[r - 1]) };
            let n = if tb { sb[r - 2] } else { sb[r - 1] };
            // No copy kernel for the transposes: the product (a loop nest when small, a GEMM
            // call otherwise) is the only step.
            let product_loops = usize::from(m * k * n <= 4096);
            assert_eq!(c.loop_count(), product_loops, "case {i}: a transpose was copied");
            let got = c.run(&inputs).unwrap();
            let want = interp::run(&g, &inputs).unwrap();
            assert!(
                within_bound(&got[0], &want[0], &abs_product(&g, &inputs), k, u),
                "case {i} {dtype:?}: outside the GEMM bound"
            );
        }
    }
}

#[test]
fn an_empty_sum_gives_zeros() {
    // k = 0: every element is an empty sum, +0, on every run (the arena is reused).
    let g = product(DType::F64, &[3, 0], &[0, 4], false, false);
    let c = jit::compile(&g).unwrap();
    for _ in 0..3 {
        let got = c.run(&[data(DType::F64, &[3, 0], 1), data(DType::F64, &[0, 4], 2)]).unwrap();
        assert_eq!(got[0].shape(), &[3, 4]);
        assert!(got[0].to_c128_vec().iter().all(|z| z.re.to_bits() == 0 && z.im == 0.0));
    }
}

#[test]
fn products_have_the_same_bits_for_any_thread_count() {
    // 256^3 multiply-adds (large enough to run on the pool) and a small one, transposed or not.
    for (sa, sb, ta) in
        [([256usize, 256usize], [256usize, 256usize], false), ([256, 256], [256, 256], true), ([9, 5], [9, 4], true)]
    {
        for dtype in [DType::F64, DType::F32] {
            let g = product(dtype, &sa, &sb, ta, false);
            let inputs = [data(dtype, &sa, 11), data(dtype, &sb, 12)];
            let c = jit::compile(&g).unwrap();
            let reference = c.run(&inputs).unwrap();
            assert_eq!(reference, c.run(&inputs).unwrap(), "two runs differ");
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let jit_out = pool.install(|| c.run(&inputs).unwrap());
                assert_eq!(reference, jit_out, "{threads} threads: the JIT's bits changed");
            }
        }
    }
}
