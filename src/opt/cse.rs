//! Common-subexpression elimination.

use super::dce::dce;
use super::key::{commutes, op_key, OpKey};
use super::rewrite::Rewriter;
use crate::ir::{verify, Graph, NodeId};
use std::collections::HashMap;

/// The graph with structurally identical nodes merged: two nodes with the same op, the same
/// attributes and the same operands (after merging their operands) become one, the first.
/// Constants are identical when their dtype, shape and element bits agree (for constants of at
/// most 64 elements) or when they share storage (larger ones). The operands of `add`, `mul`,
/// `eq` and `ne` are taken in either order (they commute exactly). The result is pruned
/// ([`dce`]). A graph that does not [`verify`] comes back unchanged.
pub fn cse(g: &Graph) -> Graph {
    if verify(g).is_err() {
        return g.clone();
    }
    let mut rw = Rewriter::new(g);
    let mut seen: HashMap<(OpKey, Vec<NodeId>), NodeId> = HashMap::new();
    for (id, n) in g.nodes.iter().enumerate() {
        let mut inputs = rw.mapped_inputs(id);
        if commutes(&n.op) {
            inputs.sort_unstable();
        }
        let key = (op_key(&n.op), inputs);
        match seen.get(&key) {
            Some(&same) => rw.set(id, same),
            None => {
                let new_id = rw.copy(id);
                seen.insert(key, new_id);
            }
        }
    }
    dce(&rw.finish())
}
