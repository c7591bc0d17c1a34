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
