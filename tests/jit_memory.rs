//! Compiling and dropping many graphs does not leak: each `Compiled` frees its JIT memory.

mod common;

use common::rss_kib;

use cranegrad::internals::Data;
use cranegrad::ir::{BinaryOp, Graph, Op, UnaryOp};
use cranegrad::{internals::jit, DType};
use std::sync::Arc;

fn small(k: usize) -> Graph {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[4 + k % 3]);
    let e = g.push(Op::Unary(UnaryOp::Exp), vec![x], 0).unwrap();
    let m = g.push(Op::Binary(BinaryOp::Mul), vec![e, x], 0).unwrap();
    let s = g.push(Op::ReduceSum(vec![0]), vec![m], 0).unwrap();
    g.outputs = vec![s, m];
    g
}

#[test]
fn compile_and_drop_ten_thousand_graphs() {
    let run = |k: usize| {
        let g = small(k);
        let c = jit::compile(&g).unwrap();
        let x = Arc::new(Data::zeros(DType::F64, &[4 + k % 3]));
        let out = c.run(&[x]).unwrap();
        assert_eq!(out.len(), 2);
    };
    for k in 0..500 {
        run(k);
    }
    let before = rss_kib();
    for k in 0..10_000 {
        run(k);
    }
    let after = rss_kib();
    let growth = after.saturating_sub(before);
    eprintln!("VmRSS before {before} KiB, after {after} KiB, growth {growth} KiB");
    assert!(growth < 64 * 1024, "RSS grew by {growth} KiB");
}

#[test]
fn small_outputs_the_caller_let_go_are_written_again_and_kept_ones_never() {
    let g = small(0);
    let c = jit::compile(&g).unwrap();
    let input = |v: f64| Arc::new(Data::F64(ndarray::Array1::from_elem(4, v).into_dyn()));
    let want = |v: f64| cranegrad::internals::interp::run(&g, &[input(v)]).unwrap();
    // Kept by the caller: the next run allocates, and the kept values do not change.
    let first = c.run(&[input(1.0)]).unwrap();
    let second = c.run(&[input(2.0)]).unwrap();
    assert_eq!(first, want(1.0));
    assert_eq!(second, want(2.0));
    assert!(!Arc::ptr_eq(&first[1], &second[1]));
    // Let go: the next run on this thread writes into the same arrays, with the right values.
    let addresses: Vec<*const Data> = second.iter().map(Arc::as_ptr).collect();
    drop(second);
    let third = c.run(&[input(3.0)]).unwrap();
    assert_eq!(third, want(3.0));
    assert_eq!(third.iter().map(Arc::as_ptr).collect::<Vec<_>>(), addresses);
    // Another graph run in between on this thread takes the store: still the right values.
    let other = jit::compile(&small(1)).unwrap();
    drop(third);
    other.run(&[Arc::new(Data::zeros(DType::F64, &[5]))]).unwrap();
    assert_eq!(c.run(&[input(4.0)]).unwrap(), want(4.0));
    assert_eq!(first, want(1.0));
}

#[test]
fn a_pointer_table_kept_between_runs_follows_new_inputs_outputs_and_graphs() {
    // `exp(x) * sum(exp(x))`: the sum is a temporary (an arena entry of the table), `x` an
    // input entry and the product an output entry.
    let graph = |n: usize| {
        let mut g = Graph::new();
        let x = g.input(0, DType::F64, &[n]);
        let e = g.push(Op::Unary(UnaryOp::Exp), vec![x], 0).unwrap();
        let s = g.push(Op::ReduceSum(vec![0]), vec![e], 0).unwrap();
        let b = g.push(Op::Broadcast(vec![n]), vec![s], 0).unwrap();
        let m = g.push(Op::Binary(BinaryOp::Mul), vec![e, b], 0).unwrap();
        g.outputs = vec![m];
        g
    };
    let (ga, gb) = (graph(6), graph(9));
    let (a, b) = (jit::compile(&ga).unwrap(), jit::compile(&gb).unwrap());
    let input =
        |n: usize, v: f64| Arc::new(Data::F64(ndarray::Array1::from_shape_fn(n, |i| v + i as f64 * 0.1).into_dyn()));
    // Each run has a new input array at another address (the earlier ones are kept alive);
    // the outputs are kept (so the next run allocates new ones) except in the last round, and
    // the other graph runs on this thread before round 2.
    let mut kept = Vec::new();
    for (k, v) in [0.5, -1.0, 2.0, 0.25, 3.0].into_iter().enumerate() {
        if k == 2 {
            let y = input(9, v);
            assert_eq!(b.run(std::slice::from_ref(&y)).unwrap(), cranegrad::internals::interp::run(&gb, &[y]).unwrap());
        }
        let x = input(6, v);
        let out = a.run(std::slice::from_ref(&x)).unwrap();
        assert_eq!(out, cranegrad::internals::interp::run(&ga, std::slice::from_ref(&x)).unwrap(), "run {k}");
        if k < 4 {
            kept.push((x, out));
        }
    }
}
