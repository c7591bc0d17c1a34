//! What every loop and branch does: read a tree's leaves and their types, check what a body
//! returned against what it must return, and record the target's results in the trace.

use super::hidden_results::WHILE_CARRIES_BOUND;
use super::target::{Keep, Kind, LoopTarget};
use crate::array::{DType, Data};
use crate::error::{Error, Result};
use crate::ir::{Call, CallTarget, Graph, Op, Operands};
use crate::trace::context::with_top;
use crate::trace::{emit_outputs, DlArray, Leaf, Tree};
use std::sync::Arc;

/// A leaf's dtype and shape.
pub(crate) type LeafType = (DType, Vec<usize>);

/// The arrays of `tree` (checked: one carrying an error is that error) and their types.
pub(crate) fn leaves<T: Tree>(tree: &T) -> Result<(Vec<DlArray>, Vec<LeafType>)> {
    let arrays: Vec<DlArray> = tree.arrays().into_iter().cloned().collect();
    let mut types = Vec::with_capacity(arrays.len());
    for a in &arrays {
        let (dtype, shape) = a.meta()?;
        types.push((dtype, shape.to_vec()));
    }
    Ok((arrays, types))
}

/// The structure of a tree: its containers and where its arrays are (plain values ignored).
pub(crate) fn structure<T: Tree>(tree: &T) -> String {
    let mut s = String::new();
    tree.visit(&mut |leaf| match leaf {
        Leaf::Array(_) => s.push('a'),
        Leaf::Open(kind, n) => s.push_str(&format!("{kind}{n}(")),
        Leaf::Close => s.push(')'),
        _ => {}
    });
    s
}

/// `Err` naming `call` unless `got` has the structure and leaf types `want` describes.
pub(crate) fn check_returned(
    call: &str,
    what: &str,
    want: (&str, &[LeafType]),
    got: (&str, &[LeafType]),
) -> Result<()> {
    if want.0 != got.0 || want.1.len() != got.1.len() {
        return Err(Error::argument(
            call,
            format!(
                "{what} has another structure: {} arrays where {} are expected (the {what} must be a tree \
                 like the one passed in, with the same shapes and dtypes)",
                got.1.len(),
                want.1.len()
            ),
        ));
    }
    for (k, (w, g)) in want.1.iter().zip(got.1).enumerate() {
        if w != g {
            return Err(Error::argument(
                call,
                format!("{what}: leaf {k} is {}{:?}, but it must be {}{:?}", g.0, g.1, w.0, w.1),
            ));
        }
    }
    Ok(())
}

/// Appends an input node for every input number below `count` that `g` lacks, so sibling
/// bodies take the same operands.
pub(crate) fn add_missing_inputs(g: &mut Graph, types: &[LeafType]) {
    let present: Vec<bool> = {
        let mut p = vec![false; types.len()];
        for n in &g.nodes {
            if let Op::Input(k) = n.op {
                if k < p.len() {
                    p[k] = true;
                }
            }
        }
        p
    };
    for (k, (dtype, shape)) in types.iter().enumerate().filter(|(k, _)| !present[*k]) {
        g.nodes.push(crate::ir::Node::new(Op::Input(k), Operands::new(), *dtype, shape.clone(), 0));
    }
}

/// The first `visible` results of `target` on `operands` (all: `None`): one `call` node each in
/// the current trace, or plain arrays outside any trace; the target runs once. When the run is
/// recorded in a trace, what its reverse mode reads waits in the target (`hidden_results.rs`).
pub(crate) fn record(target: Arc<LoopTarget>, operands: &[DlArray], visible: Option<usize>) -> Result<Vec<DlArray>> {
    let target_dyn: Arc<dyn CallTarget> = target.clone();
    let count = visible.unwrap_or(target.outputs.len());
    let ops = (0..count).map(|output| Op::Call(Call { target: target_dyn.clone(), output })).collect();
    let refs: Vec<&DlArray> = operands.iter().collect();
    // Only a run recorded in a trace (an operand its node) can be differentiated later.
    let traced = with_top(|t| operands.iter().any(|a| t.own(a.node).is_some())).unwrap_or(false);
    emit_outputs(ops, &refs, |datas| run_recorded(&target, datas, count, traced))
}

/// The first `visible` results of a run of `target` on `operands` through the interpreter;
/// when the run is `traced` (it can be differentiated), what reverse mode will read is kept.
fn run_recorded(target: &LoopTarget, operands: &[Arc<Data>], visible: usize, traced: bool) -> Result<Vec<Arc<Data>>> {
    match (&target.kind, traced) {
        (&Kind::While { max_iterations }, true) => {
            let keep = Keep::Within(WHILE_CARRIES_BOUND);
            let (mut results, carries) = target.run_while(operands, max_iterations, false, keep)?;
            if let Some(carries) = carries {
                target.hidden.keep_carries(operands, carries);
            }
            results.truncate(visible);
            Ok(results)
        }
        _ => {
            let mut results = target.execute(operands, false, None)?;
            let hidden = results.split_off(visible);
            if traced && !hidden.is_empty() {
                target.hidden.keep(operands, visible, hidden);
            }
            Ok(results)
        }
    }
}

/// The types of `arrays`.
pub(crate) fn types_of(arrays: &[DlArray]) -> Result<Vec<LeafType>> {
    arrays.iter().map(|a| a.meta().map(|(d, s)| (d, s.to_vec()))).collect()
}

/// The bodies without their dead nodes and the captures they still read: a capture that only
/// dead code read (a value computed for a `dlgradient` inside the body and then unused, say) is
/// no operand of the loop, so nothing outside depends on the loop through it. Inputs
/// `0..arguments` are the bodies' own; the captures' inputs are renumbered in order.
pub(crate) fn prune_captures(
    graphs: Vec<Graph>,
    arguments: usize,
    captures: Vec<DlArray>,
) -> Result<(Vec<Graph>, Vec<DlArray>)> {
    let graphs: Vec<Graph> = graphs.into_iter().map(Graph::into_pruned).collect::<Result<_>>()?;
    let mut used = vec![false; captures.len()];
    for g in &graphs {
        let mut read = vec![false; g.nodes.len()];
        for n in &g.nodes {
            for &i in &n.inputs {
                read[i] = true;
            }
        }
        for &o in &g.outputs {
            read[o] = true;
        }
        for (id, n) in g.nodes.iter().enumerate() {
            if let Op::Input(k) = n.op {
                if k >= arguments && k - arguments < used.len() && read[id] {
                    used[k - arguments] = true;
                }
            }
        }
    }
    let mut renumbered = vec![None; captures.len()];
    let mut next = arguments;
    for (k, &u) in used.iter().enumerate() {
        if u {
            renumbered[k] = Some(next);
            next += 1;
        }
    }
    let graphs = graphs.into_iter().map(|g| without_inputs(g, arguments, &renumbered)).collect();
    let kept = captures.into_iter().zip(&used).filter(|(_, &u)| u).map(|(c, _)| c).collect();
    Ok((graphs, kept))
}

/// `g` with the capture inputs that `renumbered` drops (`None`) removed and the others renumbered.
fn without_inputs(g: Graph, arguments: usize, renumbered: &[Option<usize>]) -> Graph {
    let mut map = vec![usize::MAX; g.nodes.len()];
    let mut nodes = Vec::with_capacity(g.nodes.len());
    for (id, mut n) in g.nodes.into_iter().enumerate() {
        if let Op::Input(k) = n.op {
            if k >= arguments {
                match renumbered.get(k - arguments).copied().flatten() {
                    Some(new) => n.op = Op::Input(new),
                    None => continue,
                }
            }
        }
        for i in n.inputs.iter_mut() {
            *i = map[*i];
        }
        map[id] = nodes.len();
        nodes.push(n);
    }
    let outputs = g.outputs.iter().map(|&o| map[o]).collect();
    let regions = g.regions.iter().map(|r| r.remapped(&map)).collect();
    Graph { nodes, outputs, regions }
}
