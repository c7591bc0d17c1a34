//! Residuals of reverse mode through a scan, kept as JAX's partial evaluation keeps them: the
//! values one step's VJP reads that depend on the step's arguments alone (not on the
//! cotangents) and cost more than elementwise arithmetic to compute again (transcendentals,
//! matrix products, factorizations and solves) are extra stacked results of the forward loop
//! (`Kind::Scan`'s `saved`), so one run of the forward loop computes them; the reverse steps read
//! them as rows instead of running the forward body again. The cheap work between them
//! (`1 - t * t`, a broadcast, a sum) is recomputed in the reverse steps from the carries, the
//! rows and the residuals.

use super::build::{add_missing_inputs, LeafType};
use super::replay::replay;
use super::step_vjp::vjp_of;
use crate::error::{Error, Result};
use crate::ir::{Graph, NodeId, Op, Operands};
use crate::trace::context::{tracing, with_top};
use crate::trace::trace_body;
use std::collections::HashMap;
use std::ops::Range;

/// The results of a scan body: `carry` carries, then `ys` stacked outputs, then (a scan keeping
/// its carries) `kept` carries again, then the residuals.
#[derive(Clone, Copy, Debug)]
pub(super) struct Layout {
    /// Carry leaves.
    pub carry: usize,
    /// `xs` leaves (the body's inputs after the carry; the captures follow).
    pub xs: usize,
    /// Stacked outputs of the user's.
    pub ys: usize,
    /// Kept carries (`carry` or 0).
    pub kept: usize,
}

impl Layout {
    /// The results one step's VJP pairs with cotangents: the carry and the `ys`.
    pub fn paired(&self) -> usize {
        self.carry + self.ys
    }

    /// The first residual result.
    pub fn first_residual(&self) -> usize {
        self.carry + self.ys + self.kept
    }
}

/// Adds to the forward `body` (its results as `layout` says, no residuals yet) the residuals its
/// VJP reads, as its last results, and returns how many. None outside a trace that can be
/// differentiated, or when the body's VJP cannot be traced: reverse mode replays the body then.
pub(super) fn save(name: &str, body: &mut Graph, layout: Layout) -> usize {
    let untraced = with_top(|t| t.captures.as_ref().is_some_and(|c| c.untraced)).unwrap_or(true);
    if !tracing() || untraced {
        return 0;
    }
    match with_residuals(name, body, layout) {
        Ok(Some((graph, count))) => {
            *body = graph;
            count
        }
        Ok(None) => 0,
        Err(e) => {
            log::debug!("{name}: reverse mode runs the body again (its residuals: {e})");
            0
        }
    }
}

/// `body` with the residuals of its VJP as extra last results, and their number; `None` when
/// its VJP reads none.
pub(super) fn with_residuals(name: &str, body: &Graph, layout: Layout) -> Result<Option<(Graph, usize)>> {
    if body.outputs.len() != layout.first_residual() {
        return Err(Error::argument(name, "internal: a scan body's results are not as its layout says"));
    }
    let (step, args) = step_graph(name, body, layout.paired(), 0..0)?;
    let saved = costly_known(&step, layout.carry + layout.xs, args);
    if saved.is_empty() {
        return Ok(None);
    }
    let mut graph = body.clone();
    let residuals = graft(&mut graph, &step, &saved);
    graph.outputs.extend(residuals);
    Ok(Some((graph, saved.len())))
}

/// The reverse step of a scan whose forward `body` saves `saved` residuals: a graph of inputs
/// `[args.., cts.., residuals..]` (the body's inputs, the cotangents of its carry and `ys`, one
/// row of each residual) and results the cotangents of `args`, which reads the residuals where
/// it would compute them again.
pub(super) fn reverse_step(name: &str, body: &Graph, layout: Layout, saved: usize) -> Result<Graph> {
    let first = layout.first_residual();
    if body.outputs.len() != first + saved {
        return Err(Error::argument(name, "internal: a scan body's residuals are not as its layout says"));
    }
    let (step, args) = step_graph(name, body, layout.paired(), first..first + saved)?;
    // The VJP computes a residual again where its rule needs it (`cos x` for `sin x`): merged
    // with the replayed residual here, so the input below replaces both.
    let mut step = crate::opt::cse(&step)?;
    let residuals = step.outputs.split_off(args);
    let first_input = args + layout.paired();
    for (k, r) in residuals.into_iter().enumerate() {
        let node = &mut step.nodes[r];
        if !matches!(node.op, Op::Input(_)) {
            node.op = Op::Input(first_input + k);
            node.inputs = Operands::new();
        }
    }
    step.into_pruned()
}

/// The types of the inputs of `g`, by input number.
fn input_types(g: &Graph) -> Result<Vec<LeafType>> {
    let mut types: Vec<Option<LeafType>> = vec![None; g.num_inputs()];
    for n in &g.nodes {
        if let Op::Input(k) = n.op {
            types[k] = Some((n.dtype, n.shape.to_vec()));
        }
    }
    types.into_iter().map(|t| t.ok_or_else(|| Error::argument("scan", "internal: a body lacks an input"))).collect()
}

/// One step's VJP of `body` as a graph of inputs `[args.., cts..]` (the body's own inputs, then
/// a cotangent for each of its first `paired` results) and results the cotangents of `args`,
/// then the body's results `extra` as the same trace computed them; and the number of `args`.
fn step_graph(name: &str, body: &Graph, paired: usize, extra: Range<usize>) -> Result<(Graph, usize)> {
    if paired > body.outputs.len() || extra.end > body.outputs.len() {
        return Err(Error::argument(name, "internal: results of a body it does not have"));
    }
    let args = input_types(body)?;
    let n = args.len();
    let cts = body.outputs[..paired].iter().map(|&o| (body.nodes[o].dtype, body.nodes[o].shape.to_vec()));
    let types: Vec<LeafType> = args.into_iter().chain(cts).collect();
    let name = format!("{name} (one reverse step)");
    let step = trace_body(&name, &types, Vec::new(), |all| {
        let (a, c) = all.split_at(n);
        let outputs = replay(body, a)?;
        let g = vjp_of(&outputs[..paired], a, c)?;
        Ok(g.into_iter().chain(outputs[extra].iter().cloned()).collect())
    })?;
    if !step.captures.is_empty() {
        return Err(Error::Gradient(format!("internal: {name} read values from outside")));
    }
    let mut graph = step.graph;
    add_missing_inputs(&mut graph, &types);
    Ok((graph, n))
}

/// True for a node worth keeping rather than computing again: a transcendental (a host call or
/// an inline polynomial per element), a matrix product, a factorization or solve.
fn costly(g: &Graph, id: NodeId) -> bool {
    let node = &g.nodes[id];
    let complex = node.inputs.first().is_some_and(|&i| g.nodes[i].dtype.is_complex());
    node.op.is_costly(complex) || matches!(node.op, Op::MatMul | Op::Linalg(_))
}

/// The residuals of the step graph `g` (inputs `first_capture..first_ct` are the captures,
/// those from `first_ct` on the cotangents): the costly nodes that depend on no cotangent and
/// that its results need, other than through another such node; in graph order. Not those that
/// depend on the captures alone: the reverse loop computes them once, not once a step.
fn costly_known(g: &Graph, first_capture: usize, first_ct: usize) -> Vec<NodeId> {
    let n = g.nodes.len();
    let (mut known, mut invariant) = (vec![true; n], vec![true; n]);
    for (id, node) in g.nodes.iter().enumerate() {
        (known[id], invariant[id]) = match node.op {
            Op::Input(k) => (k < first_ct, k >= first_capture && k < first_ct),
            _ => (node.inputs.iter().all(|&i| known[i]), node.inputs.iter().all(|&i| invariant[i])),
        };
    }
    let mut needed = vec![false; n];
    for &o in &g.outputs {
        needed[o] = true;
    }
    let mut saved = Vec::new();
    for id in (0..n).rev() {
        if !needed[id] {
            continue;
        }
        if known[id] && !invariant[id] && costly(g, id) {
            saved.push(id);
            continue;
        }
        for &i in &g.nodes[id].inputs {
            needed[i] = true;
        }
    }
    saved.reverse();
    saved
}

/// Copies into `body` the nodes of the step graph `g` that the nodes `saved` are computed from
/// (they read the body's inputs only), reusing a node of `body` wherever it is the same op on
/// the same operands; the nodes of `body` that compute `saved`.
fn graft(body: &mut Graph, g: &Graph, saved: &[NodeId]) -> Vec<NodeId> {
    let mut wanted = vec![false; g.nodes.len()];
    for &s in saved {
        wanted[s] = true;
    }
    for id in (0..g.nodes.len()).rev() {
        if wanted[id] {
            for &i in &g.nodes[id].inputs {
                wanted[i] = true;
            }
        }
    }
    // Each node of `body` under the first node that is the same op on the same operands (the
    // body's trace repeats its constants, say).
    let mut same: HashMap<(Op, Vec<NodeId>), NodeId> = HashMap::with_capacity(body.nodes.len());
    let mut first: Vec<NodeId> = Vec::with_capacity(body.nodes.len());
    for (id, n) in body.nodes.iter().enumerate() {
        let key = (n.op.clone(), n.inputs.iter().map(|&i| first[i]).collect());
        first.push(*same.entry(key).or_insert(id));
    }
    let mut map = vec![usize::MAX; g.nodes.len()];
    for (id, node) in g.nodes.iter().enumerate().filter(|&(id, _)| wanted[id]) {
        let inputs: Vec<NodeId> = node.inputs.iter().map(|&i| map[i]).collect();
        let key = (node.op.clone(), inputs);
        map[id] = *same.entry(key).or_insert_with_key(|(op, inputs)| {
            let copy =
                crate::ir::Node { op: op.clone(), inputs: Operands::from_slice(inputs), region: 0, ..node.clone() };
            body.nodes.push(copy);
            body.nodes.len() - 1
        });
    }
    saved.iter().map(|&s| map[s]).collect()
}
