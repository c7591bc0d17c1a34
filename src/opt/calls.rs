//! Calls without their unused outputs: for each call (the nodes calling one target on the same
//! operands), the outputs the graph still reads are asked of the target
//! ([`CallTarget::pruned`](crate::ir::CallTarget::pruned)); when it gives a smaller target (a
//! loop without its unused carries), the call's nodes call that one instead, on the operands
//! it takes. Run on a pruned graph (every call node is read). A while loop that reverse steps
//! through the same loop on the same operands follow is kept whole: the compiled program runs
//! it once for both (`CallTarget::forward_loop`), which a smaller copy would not allow.

use crate::error::Result;
use crate::ir::{Call, Graph, LoopIdentity, NodeId, Op, Operands};
use rustc_hash::{FxHashMap, FxHashSet};

/// A call: its target's address and its operands.
type CallKey = (usize, Operands);

/// `g` with its calls pruned, or `None` when no target gave a smaller one.
pub(super) fn prune_call_outputs(g: &Graph) -> Result<Option<Graph>> {
    let mut used: FxHashMap<CallKey, (Vec<bool>, Vec<NodeId>)> = FxHashMap::default();
    for (id, node) in g.nodes.iter().enumerate() {
        if let Op::Call(c) = &node.op {
            let key = (std::sync::Arc::as_ptr(&c.target) as *const () as usize, node.inputs.clone());
            let entry = used.entry(key).or_insert_with(|| (vec![false; c.target.output_types().len()], Vec::new()));
            if let Some(u) = entry.0.get_mut(c.output) {
                *u = true;
            }
            entry.1.push(id);
        }
    }
    let reversed: FxHashSet<(LoopIdentity, &[NodeId])> = g
        .nodes
        .iter()
        .filter_map(|node| match &node.op {
            Op::Call(c) => c.target.reverse_of().and_then(|(id, n)| Some((id, node.inputs.get(..n)?))),
            _ => None,
        })
        .collect();
    let mut out: Option<Graph> = None;
    for (used, ids) in used.values() {
        let Op::Call(c) = &g.nodes[ids[0]].op else { continue };
        let shared = c.target.forward_loop().is_some_and(|id| reversed.contains(&(id, &g.nodes[ids[0]].inputs[..])));
        if shared {
            continue;
        }
        let Some(p) = c.target.pruned(used) else { continue };
        let graph = out.get_or_insert_with(|| g.clone());
        for &id in ids {
            let node = &mut graph.nodes[id];
            let Op::Call(old) = &node.op else { continue };
            let Some(output) = p.outputs.get(old.output).copied().flatten() else { continue };
            let inputs: Operands = p.operands.iter().map(|&k| node.inputs[k]).collect();
            node.op = Op::Call(Call { target: p.target.clone(), output });
            node.inputs = inputs;
        }
    }
    out.map(super::dce::prune).transpose()
}
