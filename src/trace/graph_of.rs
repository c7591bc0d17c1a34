//! `trace_graph`: the graph of one traced call, for compiling and testing.

use super::eval::{capture, graph_with_outputs};
use crate::autodiff::Tree;
use crate::error::Result;
use crate::ir::Graph;

/// The graph of one traced call of `f(args)`, as [`make_ir`](crate::make_ir) prints it:
/// inputs are the arrays of `args` in visiting order, outputs the arrays of the result, and
/// `dlgradient` calls inside `f` are expanded into nodes (to any order). The graph is not
/// optimized.
///
/// ```
/// use cranegrad::prelude::*;
/// let g = cranegrad::trace_graph(|x: DlArray| Ok(x.exp() * 2.0), DlArray::scalar(1.0)).unwrap();
/// assert_eq!(g.outputs.len(), 1);
/// ```
pub fn trace_graph<A: Tree, R: Tree, F: FnOnce(A) -> Result<R>>(f: F, args: A) -> Result<Graph> {
    let (result, mut trace) = capture(f, &args, true)?;
    graph_with_outputs(&result, &mut trace)
}
