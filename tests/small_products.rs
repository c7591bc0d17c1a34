//! Small real matrix products (at most 4,096 multiply-adds) run as plain loops that sum each
//! element in order over the shared axis: the interpreter and the JIT (which emits them inline
//! among its loop nests, reading transposed operands through strides) agree bit for bit, the
//! result is within the GEMM bound of an exact (f64-accumulated) product, and sizes just above
//! the threshold still go to faer.

mod common;

use common::data::{exact_bits as bits, real_data, Lcg};
use cranegrad::internals::interp;
use cranegrad::internals::jit;
use cranegrad::internals::Data;
use cranegrad::ir::{BinaryOp, Graph, Op, UnaryOp};
use cranegrad::DType;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

fn values(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = Lcg(seed);
    (0..n).map(|_| (rng.unit() - 0.5) * 4.0).collect()
}

fn data(d: DType, shape: &[usize], seed: u64) -> Arc<Data> {
    real_data(d, shape, values(seed, shape.iter().product()))
}

fn as_f64(d: &Data) -> Vec<f64> {
    match d {
        Data::F32(a) => a.iter().map(|&x| x as f64).collect(),
        Data::F64(a) => a.iter().copied().collect(),
        _ => panic!("real data"),
    }
}

/// `op(a) @ op(b)` for `[m, k] x [k, n]`, with either operand stored transposed and permuted in
/// the graph (the JIT passes such an operand to the product as strides).
fn product_graph(d: DType, m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Graph {
    let mut g = Graph::new();
    let a = g.input(0, d, &if ta { [k, m] } else { [m, k] });
    let b = g.input(1, d, &if tb { [n, k] } else { [k, n] });
    let a = if ta { g.push(Op::Permute(vec![1, 0]), vec![a], 0).unwrap() } else { a };
    let b = if tb { g.push(Op::Permute(vec![1, 0]), vec![b], 0).unwrap() } else { b };
    let c = g.push(Op::MatMul, vec![a, b], 0).unwrap();
    g.outputs = vec![c];
    g
}

#[test]
fn small_products_agree_bit_for_bit_in_every_layout_and_within_the_gemm_bound() {
    for d in [DType::F64, DType::F32] {
        let u = if d == DType::F64 { f64::EPSILON / 2.0 } else { f32::EPSILON as f64 / 2.0 };
        for (m, k, n) in [
            (1, 14, 14),
            (14, 1, 14),
            (14, 14, 1),
            (3, 5, 7),
            (16, 16, 16),
            (16, 16, 17),
            (1, 1, 1),
            (1, 2, 70),
            (2, 3, 40),
            (1, 1, 33),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let g = product_graph(d, m, k, n, ta, tb);
                let shape_a = if ta { [k, m] } else { [m, k] };
                let shape_b = if tb { [n, k] } else { [k, n] };
                let inputs = [data(d, &shape_a, 1 + m as u64), data(d, &shape_b, 2 + n as u64)];
                let want = interp::run(&g, &inputs).unwrap();
                let got = jit::compile(&g).unwrap().run(&inputs).unwrap();
                let case = format!("{d:?} {m}x{k}x{n} ta {ta} tb {tb}");
                assert_eq!(bits(&want[0]), bits(&got[0]), "{case}");
                // Against the exact product (f64 sums of the same values).
                let (av, bv) = (as_f64(&inputs[0]), as_f64(&inputs[1]));
                let at = |i: usize, p: usize| if ta { av[p * m + i] } else { av[i * k + p] };
                let bt = |p: usize, j: usize| if tb { bv[j * k + p] } else { bv[p * n + j] };
                let c = as_f64(&got[0]);
                for i in 0..m {
                    for j in 0..n {
                        let exact: f64 = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
                        let bound: f64 = (0..k).map(|p| (at(i, p) * bt(p, j)).abs()).sum::<f64>() * k as f64 * u;
                        let err = (c[i * n + j] - exact).abs();
                        assert!(err <= bound + 1e-300, "{case} [{i}, {j}]: error {err:e} over {bound:e}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_small_product_sums_in_order_over_the_shared_axis() {
    // (1 + 1e16) - 1e16 in order is 0 (the 1 is lost); 1 + (1e16 - 1e16), summing from the
    // end or pairing the large terms, would be 1.
    let a = Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[1, 3]), vec![1.0, 1e16, -1e16]).unwrap()));
    let b = Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[3, 1]), vec![1.0, 1.0, 1.0]).unwrap()));
    let g = product_graph(DType::F64, 1, 3, 1, false, false);
    let want = interp::run(&g, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(as_f64(&want[0]), vec![0.0]);
    let got = jit::compile(&g).unwrap().run(&[a, b]).unwrap();
    assert_eq!(as_f64(&got[0]), vec![0.0]);
}

/// Runs `g` on `inputs` through the interpreter and the JIT and asserts the same bits.
fn assert_same_bits(g: &Graph, inputs: &[Arc<Data>], case: &str) {
    let want = interp::run(g, inputs).unwrap();
    let got = jit::compile(g).unwrap().run(inputs).unwrap();
    assert_eq!(want.len(), got.len(), "{case}");
    for (w, o) in want.iter().zip(&got) {
        assert_eq!(bits(w), bits(o), "{case}");
    }
}

#[test]
fn batched_small_products_agree_bit_for_bit() {
    for d in [DType::F64, DType::F32] {
        let mut g = Graph::new();
        let a = g.input(0, d, &[3, 2, 5]);
        let b = g.input(1, d, &[3, 7, 5]);
        let bt = g.push(Op::Permute(vec![0, 2, 1]), vec![b], 0).unwrap();
        let c = g.push(Op::MatMul, vec![a, bt], 0).unwrap();
        g.outputs = vec![c];
        assert_same_bits(&g, &[data(d, &[3, 2, 5], 7), data(d, &[3, 7, 5], 8)], &format!("{d:?} batched"));
    }
}

#[test]
fn small_products_are_inline_loop_nests_and_larger_ones_call_gemm() {
    for (m, k, n, inline) in [(1, 14, 14, true), (16, 16, 16, true), (16, 16, 17, false)] {
        let clif = jit::compile(&product_graph(DType::F64, m, k, n, false, false)).unwrap().clif_text();
        // Each function's header comment names the nodes its loop nests compute.
        assert_eq!(clif.contains("= matmul"), inline, "{m}x{k}x{n}:\n{clif}");
    }
}

#[test]
fn a_recurrent_step_with_inline_products_agrees_bit_for_bit() {
    // h' = tanh(x w + h u); s = sum(h'^2): two products feeding a fused expression and a sum,
    // all in one function.
    for d in [DType::F64, DType::F32] {
        let mut g = Graph::new();
        let x = g.input(0, d, &[1, 14]);
        let w = g.input(1, d, &[14, 14]);
        let h = g.input(2, d, &[1, 14]);
        let u = g.input(3, d, &[14, 14]);
        let xw = g.push(Op::MatMul, vec![x, w], 0).unwrap();
        let hu = g.push(Op::MatMul, vec![h, u], 0).unwrap();
        let z = g.push(Op::Binary(BinaryOp::Add), vec![xw, hu], 0).unwrap();
        let h1 = g.push(Op::Unary(UnaryOp::Tanh), vec![z], 0).unwrap();
        let sq = g.push(Op::Binary(BinaryOp::Mul), vec![h1, h1], 0).unwrap();
        let s = g.push(Op::ReduceSum(vec![0, 1]), vec![sq], 0).unwrap();
        let h1u = g.push(Op::MatMul, vec![h1, u], 0).unwrap();
        g.outputs = vec![s, h1u];
        let inputs = [data(d, &[1, 14], 1), data(d, &[14, 14], 2), data(d, &[1, 14], 3), data(d, &[14, 14], 4)];
        assert_same_bits(&g, &inputs, &format!("{d:?} recurrent step"));
    }
}

#[test]
#[cfg(target_arch = "x86_64")]
fn a_product_keeps_its_accumulators_in_registers() {
    // A recurrent step's `[1, 14] @ [14, 14]^T`: seven vector accumulators over 14 steps of the
    // summed axis, each step reading 15 operand elements. Read in the order they are used (the
    // operand loads are pure values to Cranelift), the accumulators and the step's values fit
    // the 16 vector registers: no vector register is spilled to the stack.
    for (ta, tb) in [(false, true), (false, false)] {
        let g = product_graph(DType::F64, 1, 14, 14, ta, tb);
        let machine = jit::compile(&g).unwrap().disassembly();
        assert!(machine.contains("mulpd"), "{machine}");
        let spills: Vec<&str> = machine.lines().filter(|l| l.contains("xmm") && l.contains("(%rsp)")).collect();
        assert!(spills.is_empty(), "vector spills {spills:?} in\n{machine}");
    }
}
