//! Tracing a loop's body (or a branch, or a predicate) once into a graph of its own: its
//! inputs are the body's arguments, then every array of an enclosing trace the body reads (its
//! captures, which become operands of the loop node), and its outputs are what it returns.

use super::context::{tracing, with_top, Captures, Mode, TraceGuard};
use super::{DlArray, Value};
use crate::array::DType;
use crate::error::{Error, Result};
use crate::ir::{Graph, Op, Operands, Shape};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A traced body: its graph and the arrays of enclosing traces it captured, in input order
/// after the body's own arguments.
pub(crate) struct Body {
    /// Inputs `0..arguments` are the arguments, then one per capture; outputs as returned.
    pub graph: Graph,
    /// Every capture so far (those of bodies traced before with the same list included).
    pub captures: Vec<DlArray>,
}

/// Traces `f` on placeholder arguments of the given types into a [`Body`]. `captures` are the
/// captures of sibling bodies traced before (a predicate and its loop's body, two branches):
/// they keep their input numbers here, so all siblings take the same operands. `f`'s `Err`, a
/// panic in it, or an error an op recorded is an `Err` naming `call`.
pub(crate) fn trace_body(
    call: &str,
    arguments: &[(DType, Vec<usize>)],
    captures: Vec<DlArray>,
    f: impl FnOnce(Vec<DlArray>) -> Result<Vec<DlArray>>,
) -> Result<Body> {
    let _origin = super::current_origin::scoped(None);
    let untraced = !tracing() || with_top(|t| t.captures.as_ref().is_some_and(|c| c.untraced)).unwrap_or(false);
    let guard = TraceGuard::push(Mode::Lazy);
    let args = with_top(|t| {
        let placeholders: Vec<DlArray> = arguments
            .iter()
            .enumerate()
            .map(|(k, (dtype, shape))| {
                let at = t.record_lazy(Op::Input(k), Operands::new(), *dtype, Shape::from_slice(shape));
                DlArray { value: Ok(Value::pending(*dtype, shape.clone(), at)), node: Some(at) }
            })
            .collect();
        let mut c = Captures { first: arguments.len(), untraced, ..Captures::default() };
        for a in &captures {
            c.arrays.push(a.clone());
        }
        t.captures = Some(c);
        for a in &captures {
            t.recapture(a);
        }
        placeholders
    })
    .unwrap_or_default();
    let result = catch_unwind(AssertUnwindSafe(|| f(args)));
    let outputs = match &result {
        Ok(Ok(outputs)) => with_top(|t| outputs.iter().map(|a| body_output(t, a)).collect::<Result<Vec<_>>>()),
        _ => None,
    };
    let mut trace = guard.pop();
    match result {
        Err(p) => return Err(Error::Panicked(format!("{call}: {}", super::panic_message(p)))),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(_)) => {}
    }
    if let Some(e) = trace.error.take() {
        return Err(e);
    }
    let outputs = outputs.ok_or_else(|| Error::argument(call, "internal: the body's trace ended early"))??;
    let captures = trace.captures.take().map(|c| c.arrays).unwrap_or_default();
    let mut graph = std::mem::take(&mut trace.graph);
    graph.outputs = outputs;
    Ok(Body { graph, captures })
}

/// The node of a returned array in the body's trace: its own, a capture's input, or a new
/// constant for an array of no trace.
fn body_output(t: &mut super::context::Trace, a: &DlArray) -> Result<usize> {
    a.check()?;
    if let Some(id) = t.own_or_capture(a) {
        return Ok(id);
    }
    let d = a.data()?.clone();
    Ok(t.record(Op::Constant(d.clone()), vec![], d).id)
}
