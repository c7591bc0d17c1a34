//! `trace_graph`: the IR of one traced call as a [`Graph`], for the optimizer and the JIT.

use super::eval::{capture, graph_with_outputs};
use super::tree::Tree;
use crate::error::Result;
use crate::ir::Graph;

/// The graph of one traced call of `f(args)`, traced as inside an accelerated function (so the
/// nodes of `dlgradient` calls are recorded): the arrays of `args`, in visiting order, are its
/// inputs and the arrays of the result, in visiting order, its outputs (results that are not
/// traced become constants). The same trace [`make_ir`](crate::make_ir) prints.
///
/// ```
/// use cranegrad::prelude::*;
/// let g = cranegrad::trace_graph(|x: DlArray| Ok(x.exp() * 2.0), DlArray::scalar(1.0)).unwrap();
/// assert_eq!(g.outputs.len(), 1);
/// ```
pub fn trace_graph<A: Tree, R: Tree, F: FnOnce(A) -> Result<R>>(f: F, args: A) -> Result<Graph> {
    let (result, mut trace) = capture(f, &args, super::context::Mode::Lazy)?;
    graph_with_outputs(&result, &mut trace)
}
