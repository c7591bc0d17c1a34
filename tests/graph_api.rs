//! The public graph API never panics: malformed graphs and mismatched shapes are `Err`s.

use cranegrad::internals::opt::{cse, dce};
use cranegrad::internals::Data;
use cranegrad::ir::{Graph, Op, UnaryOp};
use cranegrad::DType;

#[test]
fn push_with_an_operand_that_is_not_a_node_is_an_err() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[2]);
    let e = g.push(Op::Unary(UnaryOp::Exp), vec![x + 1], 0).unwrap_err();
    assert!(e.to_string().contains("%1"), "{e}");
    assert_eq!(g.nodes.len(), 1, "nothing was appended");
    assert!(g.push(Op::Unary(UnaryOp::Exp), vec![x], 0).is_ok());
}

#[test]
fn live_and_pruned_with_a_bad_output_are_errs() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[2]);
    g.outputs = vec![x, 7];
    assert!(g.live().unwrap_err().to_string().contains("%7"));
    assert!(g.pruned().is_err());
    g.outputs = vec![x];
    assert_eq!(g.live().unwrap(), vec![true]);
    assert_eq!(g.pruned().unwrap().nodes.len(), 1);
}

#[test]
fn an_operand_after_its_user_is_an_err_everywhere() {
    let mut g = Graph::new();
    let x = g.input(0, DType::F64, &[2]);
    let e = g.push(Op::Unary(UnaryOp::Exp), vec![x], 0).unwrap();
    g.nodes[e].inputs = vec![e].into();
    g.outputs = vec![e];
    assert!(g.live().is_err());
    assert!(g.pruned().is_err());
    assert!(dce(&g).is_err());
    assert!(cse(&g).is_err());
}

#[test]
fn reshaped_to_another_count_is_an_err() {
    let d = Data::F64(ndarray::ArrayD::zeros(ndarray::IxDyn(&[2, 3])));
    assert_eq!(d.reshaped(&[3, 2]).unwrap().shape(), &[3, 2]);
    let e = d.reshaped(&[4, 2]).unwrap_err();
    assert!(e.to_string().contains("[2, 3]") && e.to_string().contains("[4, 2]"), "{e}");
}
