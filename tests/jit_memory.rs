//! Compiling and dropping many graphs does not leak: each `Compiled` frees its JIT memory.

mod common;

use common::rss_kib;

use cranegrad::array::Data;
use cranegrad::ir::{BinaryOp, Graph, Op, UnaryOp};
use cranegrad::{jit, DType};
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
    let want = |v: f64| cranegrad::interp::run(&g, &[input(v)]).unwrap();
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
