//! W4's shape (the gradient of `sum(grad^2)` of the extended Rosenbrock function) compiles to
//! two passes over memory, like the hand-written `g` then `2 H g`: the planner prices an
//! expression above a buffer without the buffer's own expression, so the stencil of the second
//! pass stays inline instead of being buffered piecewise (issue 10).

use cranegrad::prelude::*;
use cranegrad::{interp, jit, opt};
use ndarray::s;
use std::sync::Arc;

fn gradient_norm_gradient(x: DlArray) -> Result<DlArray> {
    let options = GradOptions { enable_higher_derivatives: Some(true), ..Default::default() };
    let (head, tail) = (x.slice(s![..-1]), x.slice(s![1..]));
    let y = (100.0 * (&tail - head.square()).square() + (1.0 - &head).square()).sum_all();
    let g = dlgradient_with(&y, &x, options)?;
    dlgradient_with(&g.square().sum_all(), &x, options)
}

#[test]
fn second_order_rosenbrock_is_two_passes() {
    let n = 1000;
    let x0 = DlArray::from(ndarray::Array1::linspace(-1.5, 1.5, n));
    let g = cranegrad::trace_graph(gradient_norm_gradient, x0).unwrap();
    let o = opt::optimize(&g).unwrap();
    let c = jit::compile(&o).unwrap();
    assert_eq!(c.loop_count(), 2, "{}", cranegrad::ir::to_text(&o));
    let x = Arc::new(cranegrad::array::Data::new(ndarray::Array1::linspace(-1.5, 1.5, n).into_dyn()));
    let got = c.run(std::slice::from_ref(&x)).unwrap();
    assert_eq!(got, interp::run(&o, &[x]).unwrap());
}
