//! Common-subexpression elimination.

use super::dce::prune;
use super::rewrite::Rewriter;
use crate::error::Result;
use crate::ir::{verify, Graph, Node, NodeId, Op};
use hashbrown::HashTable;
use rustc_hash::FxHasher;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::hash::{Hash, Hasher};

/// The graph with structurally identical nodes merged: two nodes with the same op, the same
/// attributes and the same operands (after merging their operands) become one, the first.
/// Identity is `Op`'s own equality on [`Op::canonical`]: constants are identical when their
/// dtype, shape and element bits agree. The operands of `add`, `mul`,
/// `eq` and `ne` are taken in either order (they commute exactly). The result is pruned
/// ([`dce`](super::dce)). A graph that does not [`verify`] is an `Err`, as for the other passes.
pub fn cse(g: &Graph) -> Result<Graph> {
    verify(g)?;
    cse_verified(g)?.map_or_else(|| g.pruned(), Ok)
}

/// [`cse`] of a graph known to verify; `None` when it has nothing to merge.
pub(super) fn cse_verified(g: &Graph) -> Result<Option<Graph>> {
    if u32::try_from(g.nodes.len()).is_err() {
        return Err(crate::error::Error::argument("cse", "a graph of more than 2^32 nodes"));
    }
    let mut rw = Rewriter::new(g);
    let mut seen = Seen::with_capacity(g.nodes.len());
    for (id, n) in g.nodes.iter().enumerate() {
        let k = key(&n.op, rw.mapped_inputs(id).into_iter());
        let h = hash(&k);
        match seen.find(h, &k, rw.nodes()) {
            Some(same) => rw.set(id, same),
            None => {
                let new_id = rw.copy(id);
                seen.insert(h, new_id, rw.nodes());
            }
        }
    }
    rw.finish().map(prune).transpose()
}

/// The first node with each [`Key`], held as the node's id alone (four bytes; the table keeps
/// seven bits of each hash beside it): a key is rebuilt from its node to be compared, so the
/// table stays small (a long trace's table of whole keys, and then of hashes and ids, outgrew
/// the caches).
struct Seen {
    ids: HashTable<u32>,
}

impl Seen {
    fn with_capacity(n: usize) -> Self {
        Seen { ids: HashTable::with_capacity(n) }
    }

    /// The node of `nodes` with key `k` (whose hash is `h`), if one was inserted.
    fn find(&self, h: u64, k: &Key<'_>, nodes: &[Node]) -> Option<NodeId> {
        let same = |&id: &u32| key(&nodes[id as usize].op, nodes[id as usize].inputs.iter().copied()) == *k;
        self.ids.find(h, same).map(|&id| id as usize)
    }

    /// Records node `id` of `nodes`, whose key has hash `h` (and which [`Seen::find`] did not
    /// find).
    fn insert(&mut self, h: u64, id: NodeId, nodes: &[Node]) {
        let rehash = |&i: &u32| hash(&key(&nodes[i as usize].op, nodes[i as usize].inputs.iter().copied()));
        self.ids.insert_unique(h, id as u32, rehash);
    }
}

/// The hash of a key.
fn hash(k: &Key<'_>) -> u64 {
    let mut h = FxHasher::default();
    k.hash(&mut h);
    h.finish()
}

/// What CSE compares: the op (reductions with their axes sorted, [`Op::canonical`]) and the
/// operands (sorted for an op that commutes).
type Key<'g> = (Cow<'g, Op>, SmallVec<[NodeId; 4]>);

/// The [`Key`] of a node with op `op` and operands `inputs`.
fn key(op: &Op, inputs_iter: impl Iterator<Item = NodeId>) -> Key<'_> {
    let mut inputs: SmallVec<[NodeId; 4]> = SmallVec::new();
    for i in inputs_iter {
        inputs.push(i);
    }
    if op.commutes() {
        inputs.sort_unstable();
    }
    let op = match op {
        op if op.is_reduction() => Cow::Owned(op.canonical()),
        _ => Cow::Borrowed(op),
    };
    (op, inputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::DType;
    use crate::ir::{BinaryOp, UnaryOp};

    /// True when CSE merges two nodes of `g` (it returns a new graph only then).
    fn has_duplicates(g: &Graph) -> bool {
        cse_verified(g).unwrap().is_some()
    }

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
