//! `dlfeval` and `make_ir`: run a function with tracing on.

use super::context::{Mode, Trace, TraceGuard};
use super::tree::Tree;
use super::{DlArray, Value};
use crate::error::{Error, Result};
use crate::ir::{to_text, type_text, Graph, Op};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The message of a caught panic.
pub(crate) fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".into()
    }
}

/// Runs `f(args)` on a new trace (recording as `mode` says) whose inputs are the arrays of
/// `args`, in visiting order. Returns the result still traced, and the trace. A panic in `f`,
/// an `Err` from `f`, or an error an operation recorded is an `Err`; the trace is popped in
/// every case.
pub(crate) fn capture<A: Tree, R: Tree>(f: impl FnOnce(A) -> Result<R>, args: &A, mode: Mode) -> Result<(R, Trace)> {
    // A new trace starts with no current origin: its ops record their own call sites, even
    // when it is traced from inside another op (an accelerated callee's gradient, say).
    let _origin = super::current_origin::scoped(None);
    // Arguments pending in an outer lazy trace are computed before the new trace starts.
    let datas: Vec<_> = args.arrays().iter().map(|a| a.data().cloned()).collect();
    let guard = TraceGuard::push(mode);
    let mut datas = datas.into_iter();
    let mut k = 0;
    let traced = args.map_arrays(&mut |_| {
        let data = datas.next().ok_or_else(|| Error::argument("trace", "internal: argument count"))??;
        let node = super::context::with_top(|t| t.input(k, data.clone()));
        k += 1;
        Ok(DlArray { value: Ok(Value::Ready(data)), node })
    });
    let result = match traced {
        Ok(traced) => catch_unwind(AssertUnwindSafe(|| f(traced))),
        Err(e) => Ok(Err(e)),
    };
    let trace = guard.pop();
    let result = match result {
        Ok(r) => r,
        Err(p) => return Err(Error::Panicked(panic_message(p))),
    };
    if let Some(e) = &trace.error {
        return Err(e.clone());
    }
    Ok((result?, trace))
}

/// Evaluates `f(args)` with tracing on, so [`dlgradient`](crate::dlgradient) can be called
/// inside `f`. `args` and the result are any [`Tree`] (a `DlArray`, tuples, `Vec`, maps,
/// [`ParamTable`](crate::ParamTable), nested); the results come back with no trace.
///
/// Returns the first error an operation inside `f` recorded (shapes that do not fit, say), or
/// `f`'s own `Err`, or `Err` if `f` panics.
///
/// ```
/// use cranegrad::prelude::*;
/// use ndarray::array;
/// let x0 = DlArray::from(array![3.0]);
/// let g = dlfeval(|x: DlArray| dlgradient(&x.square().sum_all(), &x), x0).unwrap();
/// assert_eq!(g.extractdata::<f64>().unwrap()[[0]], 6.0);
/// ```
///
/// Called inside a traced function (an argument is traced there: inside `dlfeval`, an
/// accelerated function or a loop's body), `dlfeval` makes the traced arguments **fresh
/// variables** in the same trace, as JAX's `grad(f)(x)`: a `dlgradient` inside `f` sees only the
/// paths from them, even when the caller computed them from its own variables, and the results
/// stay traced, so the caller can differentiate through them.
pub fn dlfeval<A: Tree, R: Tree, F: FnOnce(A) -> Result<R>>(f: F, args: A) -> Result<R> {
    if super::context::with_top(|t| args.arrays().iter().any(|a| t.resolves(a))).unwrap_or(false) {
        let fresh = args.map_arrays(&mut |a| Ok(a.fresh()))?;
        return match catch_unwind(AssertUnwindSafe(|| f(fresh))) {
            Ok(result) => result,
            Err(p) => Err(Error::Panicked(panic_message(p))),
        };
    }
    let (result, _trace) = capture(f, &args, Mode::Eager)?;
    result.map_arrays(&mut |a| a.untraced())
}

/// The graph of a captured trace with the given results as its outputs; results that are not
/// nodes of the trace become constants. The graph is moved out of the trace (its values stay).
pub(crate) fn graph_with_outputs<R: Tree>(result: &R, trace: &mut Trace) -> Result<Graph> {
    let mut outputs = Vec::new();
    let mut failure = None;
    result.visit(&mut |leaf| {
        if let super::tree::Leaf::Array(a) = leaf {
            let id = match (a.check(), trace.own(a.node)) {
                (Err(e), _) => Err(e),
                (Ok(()), Some(id)) => Ok(id),
                (Ok(()), None) => a.data().map(|d| trace.record(Op::Constant(d.clone()), vec![], d.clone()).id),
            };
            match id {
                Ok(id) => outputs.push(id),
                Err(e) => failure = failure.take().or(Some(e)),
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    let mut g = std::mem::take(&mut trace.graph);
    g.outputs = outputs;
    Ok(g)
}

/// `(in0: f64[2], in1: f32[])`: the input signature of a graph.
pub(crate) fn signature_text(g: &Graph) -> String {
    let parts: Vec<String> =
        g.inputs().iter().enumerate().map(|(k, &id)| format!("in{k}: {}", type_text(&g.nodes[id]))).collect();
    format!("({})", parts.join(", "))
}

/// The IR of one traced call of `f(args)`, as JAX's `make_jaxpr`: a header with the input
/// signature, then one node per line with its dtype and shape, `dlgradient` parts marked, and
/// the outputs. Gradients are traced as inside an accelerated function, so their nodes show.
/// Each node line ends with the origin column: the user's `file:line` that recorded it, with
/// `(backward of)` on the nodes `dlgradient` made for the op at that line. For the same text
/// without origins (diff-friendly), print [`trace_graph`](crate::trace_graph)'s graph with
/// `cranegrad::ir::to_text_with(&g, &cranegrad::ir::DumpOptions::plain())`.
///
/// ```
/// use cranegrad::prelude::*;
/// let ir = make_ir(|x: DlArray| Ok(x.exp() * 2.0), DlArray::scalar(1.0)).unwrap();
/// assert!(ir.contains("exp"));
/// ```
pub fn make_ir<A: Tree, R: Tree, F: FnOnce(A) -> Result<R>>(f: F, args: A) -> Result<String> {
    let (result, mut trace) = capture(f, &args, Mode::Lazy)?;
    let g = graph_with_outputs(&result, &mut trace)?;
    Ok(format!("make_ir {}\n{}", signature_text(&g), to_text(&g)))
}
