//! Common-subexpression elimination.

use super::dce::prune;
use super::rewrite::Rewriter;
use crate::error::Result;
use crate::ir::{verify, Graph, NodeId, Op};
use rustc_hash::{FxHashMap as HashMap, FxHashSet};
use smallvec::SmallVec;
use std::borrow::Cow;

/// The graph with structurally identical nodes merged: two nodes with the same op, the same
/// attributes and the same operands (after merging their operands) become one, the first.
/// Identity is `Op`'s own equality on [`Op::canonical`]: constants are identical when their
/// dtype, shape and element bits agree. The operands of `add`, `mul`,
/// `eq` and `ne` are taken in either order (they commute exactly). The result is pruned
/// ([`dce`](super::dce)). A graph that does not [`verify`] is an `Err`, as for the other passes.
pub fn cse(g: &Graph) -> Result<Graph> {
    verify(g)?;
    cse_verified(g)
}

/// [`cse`] of a graph known to verify.
pub(super) fn cse_verified(g: &Graph) -> Result<Graph> {
    let mut rw = Rewriter::new(g);
    let mut seen: HashMap<(Op, Vec<NodeId>), NodeId> =
        HashMap::with_capacity_and_hasher(g.nodes.len(), Default::default());
    for (id, n) in g.nodes.iter().enumerate() {
        let mut inputs = rw.mapped_inputs(id);
        if n.op.commutes() {
            inputs.sort_unstable();
        }
        let key = (n.op.canonical(), inputs);
        match seen.get(&key) {
            Some(&same) => rw.set(id, same),
            None => {
                let new_id = rw.copy(id);
                seen.insert(key, new_id);
            }
        }
    }
    prune(rw.finish())
}

/// True when [`cse`] would merge two nodes of `g`: two nodes with the same key, their operands
/// taken as they are (with no merge before them, the operands are not renamed). When it is
/// false, `cse` of a pruned graph is the graph itself, and `optimize` skips building it.
pub(super) fn has_duplicates(g: &Graph) -> bool {
    let mut seen: FxHashSet<(Cow<'_, Op>, SmallVec<[NodeId; 4]>)> =
        FxHashSet::with_capacity_and_hasher(g.nodes.len(), Default::default());
    for n in &g.nodes {
        let mut inputs: SmallVec<[NodeId; 4]> = n.inputs.iter().copied().collect();
        if n.op.commutes() {
            inputs.sort_unstable();
        }
        let op = match n.op {
            Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_) => Cow::Owned(n.op.canonical()),
            _ => Cow::Borrowed(&n.op),
        };
        if !seen.insert((op, inputs)) {
            return true;
        }
    }
    false
}
