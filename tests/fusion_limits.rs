//! How far the planner fuses: an inline expression that would read more than eight distinct
//! buffers is cut (an unrolled accumulation, such as a weight's gradient summed over time
//! steps, would otherwise read more pointers in one loop nest than there are registers), and
//! the cut changes no bit.

use cranegrad::internals::Data;
use cranegrad::ir::{BinaryOp, Graph, Op};
use cranegrad::{internals::interp, internals::jit, DType};
use std::sync::Arc;

#[test]
fn a_sum_of_forty_inputs_is_cut_every_eight_buffers_with_the_same_bits() {
    let (terms, n) = (40, 14);
    let mut g = Graph::new();
    let xs: Vec<usize> = (0..terms).map(|k| g.input(k, DType::F64, &[n])).collect();
    let mut total = xs[0];
    for &x in &xs[1..] {
        total = g.push(Op::Binary(BinaryOp::Add), vec![total, x], 0).unwrap();
    }
    g.outputs = vec![total];
    let c = jit::compile(&g).unwrap();
    // The running sum after term k reads k + 1 inputs: the ninth read cuts it (the sums after
    // terms 8, 16, 24 and 32 are buffers, each later one read as one buffer), and the output is
    // the fifth loop nest. Without the limit it would be one.
    assert_eq!(c.loop_count(), 5);
    let inputs: Vec<Arc<Data>> = (0..terms)
        .map(|k| {
            let v = ndarray::Array1::from_shape_fn(n, |i| ((k * 31 + i * 7) % 13) as f64 * 0.37 - 1.9);
            Arc::new(Data::F64(v.into_dyn()))
        })
        .collect();
    assert_eq!(c.run(&inputs).unwrap(), interp::run(&g, &inputs).unwrap());
}
