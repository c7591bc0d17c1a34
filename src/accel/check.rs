//! Check mode: compare accelerated outputs with an un-accelerated run.

use crate::array::Data;
use crate::error::Result;
use crate::interp;
use crate::ir::{Graph, Node, Op};
use crate::trace::Tree;
use std::sync::Arc;

/// What check mode does on each cached call.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum CheckMode {
    /// No check (the default).
    #[default]
    None,
    /// Also run the function un-accelerated and compare every output: a difference larger
    /// than the tolerance (absolute, per element) logs a warning and counts as a check failure.
    Tolerance(f64),
}

/// The largest absolute elementwise difference between two outputs, or infinity when their
/// shapes or dtypes differ; NaN in the same place counts as equal.
fn max_difference(a: &crate::DlArray, b: &crate::DlArray) -> Result<f64> {
    Ok(data_difference(a.data()?, b.data()?))
}

/// [`max_difference`] of two values.
fn data_difference(a: &Data, b: &Data) -> f64 {
    if a.shape() != b.shape() || a.dtype() != b.dtype() {
        return f64::INFINITY;
    }
    a.to_c128_vec()
        .iter()
        .zip(b.to_c128_vec())
        .map(|(x, y)| {
            let same_nan = (x.re.is_nan() == y.re.is_nan()) && (x.im.is_nan() == y.im.is_nan());
            let d = (x - y).norm();
            if d.is_nan() && same_nan {
                0.0
            } else if d.is_nan() {
                f64::INFINITY
            } else {
                d
            }
        })
        .fold(0.0, f64::max)
}

/// The outputs (by position) whose difference exceeds `tol`, with the difference.
pub(crate) fn compare<R: Tree>(accelerated: &R, reference: &R, tol: f64) -> Result<Vec<(usize, f64)>> {
    let (a, b) = (accelerated.arrays(), reference.arrays());
    let mut out = Vec::new();
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        let d = max_difference(x, y)?;
        if d > tol {
            out.push((i, d));
        }
    }
    if a.len() != b.len() {
        out.push((a.len().min(b.len()), f64::INFINITY));
    }
    Ok(out)
}

/// `mul at src/model.rs:12` (or just `mul` when the node has no origin).
fn describe(n: &Node) -> String {
    let attrs = n.op.attributes();
    let op = if attrs.is_empty() { n.op.to_string() } else { format!("{} {attrs}", n.op) };
    match n.origin {
        Some(o) => format!("`{op}` at {o}"),
        None => format!("`{op}`"),
    }
}

/// The nodes of `g` that `Graph::pruned` keeps (what the outputs need, and every input), in
/// order: the ids that line up with a pruned copy's nodes.
fn kept(g: &Graph) -> Option<Vec<usize>> {
    let live = g.live().ok()?;
    Some((0..g.nodes.len()).filter(|&i| live[i] || matches!(g.nodes[i].op, Op::Input(_))).collect())
}

/// Where the cached trace `cached` (pruned, as traced on the entry's first call) and a new
/// un-accelerated trace `now` (with the value of each of its nodes) first part ways for the
/// same `inputs`: the first node whose op, operands, dtype or shape differ (control flow that
/// depends on values took another branch), or else the first whose value differs by more
/// than `tol` between the cached trace (evaluated on `inputs` with the interpreter) and the
/// new run (a value read with `to_scalar` and frozen into the trace as a constant, say).
/// `None` when neither is found. Costs one interpretation of the cached graph: it runs only
/// after a check has failed.
pub(crate) fn first_divergence(
    cached: &Graph,
    now: &Graph,
    now_values: &[Option<Arc<Data>>],
    inputs: &[Arc<Data>],
    tol: f64,
) -> Option<String> {
    let ids = kept(now)?;
    // New-graph id -> position in the pruned order, to compare operands.
    let mut position = vec![usize::MAX; now.nodes.len()];
    for (k, &id) in ids.iter().enumerate() {
        position[id] = k;
    }
    let mut values: Vec<Arc<Data>> = Vec::with_capacity(cached.nodes.len());
    for (k, a) in cached.nodes.iter().enumerate() {
        let Some(&id) = ids.get(k) else {
            return Some(format!("the cached trace has more nodes; its node {k} is {}", describe(a)));
        };
        let b = &now.nodes[id];
        let same_operands =
            a.inputs.len() == b.inputs.len() && a.inputs.iter().zip(&b.inputs).all(|(&i, &j)| position[j] == i);
        let same_op = a.op.to_string() == b.op.to_string() && a.op.attributes() == b.op.attributes();
        if !same_op || !same_operands || a.dtype != b.dtype || a.shape != b.shape {
            return Some(format!(
                "the traces part ways at node {k}: the cached trace has {}, the un-accelerated run {}",
                describe(a),
                describe(b)
            ));
        }
        let value = match &a.op {
            Op::Input(i) => inputs.get(*i)?.clone(),
            Op::Constant(d) => d.clone(),
            op => {
                let operands: Vec<&Data> = a.inputs.iter().map(|&i| &*values[i]).collect();
                Arc::new(interp::eval(op, &operands).ok()?)
            }
        };
        if let Some(Some(reference)) = now_values.get(id) {
            let d = data_difference(&value, reference);
            if d > tol {
                return Some(format!("the first op whose value differs is node {k}, {} (by {d:e})", describe(a)));
            }
        }
        values.push(value);
    }
    None
}
