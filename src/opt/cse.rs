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
    let mut seen: HashMap<Key<'_>, NodeId> = HashMap::with_capacity_and_hasher(g.nodes.len(), Default::default());
    for (id, n) in g.nodes.iter().enumerate() {
        let k = key(&n.op, rw.mapped_inputs(id).into_iter());
        match seen.get(&k) {
            Some(&same) => rw.set(id, same),
            None => {
                let new_id = rw.copy(id);
                seen.insert(k, new_id);
            }
        }
    }
    prune(rw.finish())
}

/// What CSE compares: the op (reductions with their axes sorted, [`Op::canonical`]) and the
/// operands (sorted for an op that commutes).
type Key<'g> = (Cow<'g, Op>, SmallVec<[NodeId; 4]>);

/// The [`Key`] of a node with op `op` and operands `inputs`.
fn key(op: &Op, inputs: impl Iterator<Item = NodeId>) -> Key<'_> {
    let mut inputs: SmallVec<[NodeId; 4]> = inputs.collect();
    if op.commutes() {
        inputs.sort_unstable();
    }
    let op = match op {
        Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_) => Cow::Owned(op.canonical()),
        _ => Cow::Borrowed(op),
    };
    (op, inputs)
}

/// True when [`cse`] would merge two nodes of `g`: two nodes with the same key, their operands
/// taken as they are (with no merge before them, the operands are not renamed). When it is
/// false, `cse` of a pruned graph is the graph itself, and `optimize` skips building it.
pub(super) fn has_duplicates(g: &Graph) -> bool {
    let mut seen: FxHashSet<Key<'_>> = FxHashSet::with_capacity_and_hasher(g.nodes.len(), Default::default());
    !g.nodes.iter().all(|n| seen.insert(key(&n.op, n.inputs.iter().copied())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::DType;
    use crate::ir::{BinaryOp, UnaryOp};

    #[test]
    fn duplicates_are_found_in_either_operand_order_and_only_then() {
        let mut g = Graph::new();
        let x = g.input(0, DType::F64, &[3]);
        let y = g.input(1, DType::F64, &[3]);
        let a = g.push(Op::Binary(BinaryOp::Add), vec![x, y], 0).unwrap();
        let s = g.push(Op::Binary(BinaryOp::Sub), vec![x, y], 0).unwrap();
        g.outputs = vec![a, s];
        assert!(!has_duplicates(&g));
        assert_eq!(cse(&g).unwrap().nodes.len(), g.nodes.len());
        let b = g.push(Op::Binary(BinaryOp::Add), vec![y, x], 0).unwrap();
        g.outputs.push(b);
        assert!(has_duplicates(&g));
        // `sub` does not commute: `x - y` and `y - x` are two nodes.
        let mut h = Graph::new();
        let (x2, y2) = (h.input(0, DType::F64, &[3]), h.input(1, DType::F64, &[3]));
        let s1 = h.push(Op::Binary(BinaryOp::Sub), vec![x2, y2], 0).unwrap();
        let s2 = h.push(Op::Binary(BinaryOp::Sub), vec![y2, x2], 0).unwrap();
        h.outputs = vec![s1, s2];
        assert!(!has_duplicates(&h));
        let mut e = Graph::new();
        let x = e.input(0, DType::F64, &[3]);
        let p = e.push(Op::Unary(UnaryOp::Exp), vec![x], 0).unwrap();
        let q = e.push(Op::Unary(UnaryOp::Exp), vec![x], 0).unwrap();
        e.outputs = vec![p, q];
        assert!(has_duplicates(&e));
        assert_eq!(cse(&e).unwrap().nodes.len(), 2);
    }
}
