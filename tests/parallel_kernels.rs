//! Large kernels run in chunks on the thread pool: the same bits for any number of threads
//! (pools of 1, 2 and 3 threads), the same bits as the interpreter, and many user threads
//! calling one accelerated function at once.

mod common;

use common::data::{exact_bits as bits, same_bits, XorShift};
use cranegrad::internals::interp;
use cranegrad::internals::jit;
use cranegrad::internals::Data;
use cranegrad::ir::{AxisSlice, BinaryOp, Graph, Op};
use cranegrad::prelude::*;
use ndarray::{s, Array1, ArrayD, IxDyn};
use std::sync::Arc;

fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = XorShift::golden(seed);
    (0..n).map(|_| rng.unit() * 2.0 - 1.0).collect()
}

fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}

/// A sum of `n` squares and an elementwise map, compiled; results under pools of 1, 2 and 3
/// threads and the interpreter's must agree bit for bit.
fn check_sizes(dtype: DType) {
    let min = 1 << 18;
    for n in [min - 1, min, min + 1, 300_007, 1_048_576, 1_000_003] {
        let mut g = Graph::new();
        let x = g.input(0, dtype, &[n]);
        let sq = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
        let sum = g.push(Op::ReduceSum(vec![0]), vec![sq], 0).unwrap();
        let head = g.push(Op::Slice(vec![AxisSlice { start: 0, len: n - 1, step: 1 }]), vec![x], 0).unwrap();
        let tail = g.push(Op::Slice(vec![AxisSlice { start: 1, len: n - 1, step: 1 }]), vec![x], 0).unwrap();
        let d = g.push(Op::Binary(BinaryOp::Sub), vec![tail, head], 0).unwrap();
        let pad =
            g.push(Op::Pad { shape: vec![n], slices: vec![AxisSlice { start: 1, len: n - 1, step: 1 }] }, vec![d], 0);
        let pad = pad.unwrap();
        let out = g.push(Op::Binary(BinaryOp::Add), vec![pad, sq], 0).unwrap();
        g.outputs = vec![sum, out];
        let v = ArrayD::from_shape_vec(IxDyn(&[n]), values(n, n as u64)).unwrap();
        let data = Arc::new(match dtype {
            DType::F32 => Data::F32(v.mapv(|x| x as f32)),
            _ => Data::F64(v),
        });
        let inputs = [data];
        let want = interp::run(&g, &inputs).unwrap();
        let c = jit::compile(&g).unwrap();
        if n >= min {
            assert!(c.clif_text().contains("chunks_n"), "n = {n}: no kernel was split");
        }
        for threads in [1, 2, 3] {
            let got = pool(threads).install(|| c.run(&inputs).unwrap());
            for (a, b) in got.iter().zip(&want) {
                assert_eq!(bits(a), bits(b), "{dtype} n = {n}, {threads} threads");
            }
        }
        // From outside any pool: the steps run on a thread of the global pool, the others
        // kept awake.
        let got = c.run(&inputs).unwrap();
        for (a, b) in got.iter().zip(&want) {
            assert_eq!(bits(a), bits(b), "{dtype} n = {n}, the global pool");
        }
    }
}

#[test]
fn split_kernels_give_the_same_bits_for_any_number_of_threads_f64() {
    check_sizes(DType::F64);
}

#[test]
fn split_kernels_give_the_same_bits_for_any_number_of_threads_f32() {
    check_sizes(DType::F32);
}

#[test]
fn rows_of_a_matrix_and_their_sums_are_split_too() {
    let (r, c) = (900, 300);
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[r, c]);
    let e = g.push(Op::Unary(cranegrad::ir::UnaryOp::Exp), vec![x], 0).unwrap();
    let rows = g.push(Op::ReduceSum(vec![1]), vec![e], 0).unwrap();
    let mx = g.push(Op::ReduceMax(vec![1]), vec![x], 0).unwrap();
    g.outputs = vec![e, rows, mx];
    let inputs = [Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[r, c]), values(r * c, 3)).unwrap()))];
    let want = interp::run(&g, &inputs).unwrap();
    let compiled = jit::compile(&g).unwrap();
    assert!(compiled.clif_text().contains("chunks_n"), "no kernel was split");
    for threads in [1, 2] {
        let got = pool(threads).install(|| compiled.run(&inputs).unwrap());
        assert_eq!(got, want, "{threads} threads");
    }
}

#[test]
fn sums_over_the_rows_of_a_matrix_go_block_by_block_with_the_same_bits() {
    // Rows of one block and of many (with and without a partial block), columns fewer than a
    // chunk's, a chunk's and many chunks' (split), f64, f32 and complex.
    for shape in [
        vec![256, 5],
        vec![257, 1],
        vec![600, 17],
        vec![1_000, 3],
        vec![10_000, 40],
        vec![3_000, 1_000],
        vec![700, 33],
        // Higher ranks: the trailing axes are the columns (vectors only where the last axis
        // holds whole vectors).
        vec![1_000, 25, 10],
        vec![600, 3, 64],
        vec![300, 7, 3],
        vec![20_000, 2, 2, 8],
    ] {
        let (r, c) = (shape[0], shape[1..].iter().product::<usize>());
        for dtype in [DType::F64, DType::F32, DType::C128] {
            let mut g = Graph::new();
            let x = g.input(0, dtype, &shape);
            let sq = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
            let cols = g.push(Op::ReduceSum(vec![0]), vec![sq], 0).unwrap();
            g.outputs = vec![cols];
            let v = ArrayD::from_shape_vec(IxDyn(&shape), values(r * c, (r + c) as u64)).unwrap();
            let data = Arc::new(match dtype {
                DType::F32 => Data::F32(v.mapv(|x| x as f32)),
                DType::C128 => Data::C128(v.mapv(|x| num_complex::Complex64::new(x, 0.5 - x))),
                _ => Data::F64(v),
            });
            let inputs = [data];
            let want = interp::run(&g, &inputs).unwrap();
            let compiled = jit::compile(&g).unwrap();
            if dtype == DType::F64 && r > 256 && shape[shape.len() - 1] >= 32 {
                // Vectors of adjacent columns (the sum is the graph's one kernel).
                assert!(compiled.clif_text().contains("f64x2"), "{shape:?}: no vector code");
            }
            for threads in [1, 2, 3] {
                let got = pool(threads).install(|| compiled.run(&inputs).unwrap());
                assert!(same_bits(&got[0], &want[0]), "{dtype} {shape:?}, {threads} threads");
            }
        }
    }
}

fn w2(x: &DlArray) -> Result<(DlArray, DlArray)> {
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient(&y, x)?;
    Ok((y, g))
}

#[test]
fn eight_user_threads_call_a_large_accelerated_function_at_once() {
    let x = DlArray::from(Array1::from_vec(values(600_000, 9)));
    let af = accelerate(|x: DlArray| w2(&x));
    let (y0, g0) = dlfeval(|x: DlArray| w2(&x), x.clone()).unwrap();
    let (y0, g0) = (y0.to_scalar::<f64>().unwrap(), g0.extractdata::<f64>().unwrap());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..5 {
                    let (y, g) = af.call(x.clone()).unwrap();
                    assert_eq!(y.to_scalar::<f64>().unwrap().to_bits(), y0.to_bits());
                    assert_eq!(g.extractdata::<f64>().unwrap(), g0);
                }
            });
        }
    });
    // And from inside the pool's own threads.
    pool(2).install(|| {
        use rayon::prelude::*;
        (0..4).into_par_iter().for_each(|_| {
            let (y, _) = af.call(x.clone()).unwrap();
            assert_eq!(y.to_scalar::<f64>().unwrap().to_bits(), y0.to_bits());
        });
    });
}

#[test]
fn a_large_output_the_caller_keeps_is_never_written_again() {
    // Large outputs are reused by the next run only once the caller has dropped them.
    let n = 400_000;
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[n]);
    let y = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
    g.outputs = vec![y];
    let c = jit::compile(&g).unwrap();
    let a = Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[n]), values(n, 1)).unwrap()));
    let b = Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[n]), values(n, 2)).unwrap()));
    let first = c.run(std::slice::from_ref(&a)).unwrap();
    let kept = bits(&first[0]);
    let second = c.run(std::slice::from_ref(&b)).unwrap();
    assert_eq!(bits(&first[0]), kept, "a kept output was overwritten");
    assert_eq!(second, interp::run(&g, std::slice::from_ref(&b)).unwrap());
    drop(first);
    // Now the first output's memory may be reused: the results stay right.
    for input in [&a, &b, &a] {
        let got = c.run(std::slice::from_ref(input)).unwrap();
        assert_eq!(got, interp::run(&g, std::slice::from_ref(input)).unwrap());
    }
}

#[test]
fn costly_elementwise_kernels_are_split_from_fewer_elements() {
    // tanh(x + b) over 256 x 160 (40,960 elements, under the split threshold of inline
    // arithmetic): a host call per element, so it runs in chunks; the product and the long
    // chain of arithmetic beside it, of the same size, do not.
    let (r, c) = (256, 160);
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[r, c]);
    let b = g.input(1, DType::F64, &[c]);
    let z = g.push(Op::Binary(BinaryOp::Add), vec![x, b], 0).unwrap();
    let t = g.push(Op::Unary(cranegrad::ir::UnaryOp::Tanh), vec![z], 0).unwrap();
    let cheap = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
    // A long chain of inline arithmetic (no host call) is not split either.
    let mut long = x;
    for k in 0..24 {
        let op = if k % 2 == 0 { BinaryOp::Add } else { BinaryOp::Mul };
        long = g.push(Op::Binary(op), vec![long, z], 0).unwrap();
    }
    g.outputs = vec![t, cheap, long];
    let inputs = [
        Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[r, c]), values(r * c, 5)).unwrap())),
        Arc::new(Data::F64(ArrayD::from_shape_vec(IxDyn(&[c]), values(c, 6)).unwrap())),
    ];
    let want = interp::run(&g, &inputs).unwrap();
    let compiled = jit::compile(&g).unwrap();
    let clif = compiled.clif_text();
    assert_eq!(clif.matches("(run in chunks").count(), 1, "{clif}");
    assert!(clif.contains(&format!("chunks_n{t}")), "the tanh kernel was not split");
    for threads in [1, 2, 3] {
        let got = pool(threads).install(|| compiled.run(&inputs).unwrap());
        assert_eq!(got, want, "{threads} threads");
    }
}
