//! The rebuilding helper every pass uses: walk the old graph in order and, for each node, either
//! copy it, push replacement nodes, or alias it to a node already in the new graph. Outputs
//! and regions are renumbered at the end.

use crate::array::Data;
use crate::error::Result;
use crate::ir::{Graph, Node, NodeId, Op, Operands, Origin};
use rustc_hash::FxHashMap as HashMap;
use std::cell::Cell;
use std::sync::Arc;

thread_local! {
    /// The node buffer of a graph an earlier pass replaced, kept empty for the next rewrite on
    /// this thread: a fresh buffer of megabytes per pass costs its page faults again.
    static SPARE: Cell<Vec<Node>> = const { Cell::new(Vec::new()) };
}

/// Keeps the node buffer of `g`, which a pass has replaced, for the next rewrite on this
/// thread (its nodes are dropped).
pub(crate) fn recycle(g: Graph) {
    let mut nodes = g.nodes;
    nodes.clear();
    SPARE.with(|s| {
        let kept = s.take();
        s.set(if nodes.capacity() > kept.capacity() { nodes } else { kept });
    });
}

/// Frees the kept node buffer.
pub(crate) fn release_spare() {
    drop(SPARE.with(|s| s.take()));
}

/// A new graph under construction from an old one, with the old-to-new node map.
///
/// The new graph is built lazily: while every node so far is copied unchanged, nothing is
/// written (the new graph is that prefix of the old one, with the same ids), so a pass where
/// no rule fires costs one read-only walk and [`Rewriter::finish`] says the graph is unchanged.
pub(crate) struct Rewriter<'a> {
    /// The graph being rewritten.
    pub old: &'a Graph,
    /// The graph being built, once it differs from a prefix of `old` (see `copied`).
    new: Graph,
    /// While `new` is empty and unwritten: how many leading nodes of `old` were copied as
    /// they are (the new graph so far is `old.nodes[..copied]`).
    copied: usize,
    /// True once `new` holds the new graph's nodes.
    written: bool,
    /// For each old node already visited, the new node that computes its value.
    map: Vec<NodeId>,
    /// The origin of the old node being rewritten (the last one passed to
    /// [`Rewriter::mapped_inputs`] or [`Rewriter::copy`]): the nodes [`Rewriter::push`] adds
    /// in its place carry it.
    origin: Option<Origin>,
    /// The first node of the new graph holding each scalar constant (by op: dtype and bits).
    scalars: HashMap<Op, NodeId>,
}

impl<'a> Rewriter<'a> {
    /// An empty new graph with the old graph's regions (renumbered in [`Rewriter::finish`]).
    pub fn new(old: &'a Graph) -> Self {
        Rewriter {
            old,
            new: Graph { nodes: Vec::new(), outputs: Vec::new(), regions: Vec::new() },
            copied: 0,
            written: false,
            map: vec![usize::MAX; old.nodes.len()],
            origin: None,
            scalars: HashMap::default(),
        }
    }

    /// The new operands of old node `old_id`, which becomes the node being rewritten (whose
    /// origin pushed nodes carry).
    pub fn mapped_inputs(&mut self, old_id: NodeId) -> Operands {
        self.origin = self.old.nodes[old_id].origin;
        let mut inputs = Operands::from_slice(&self.old.nodes[old_id].inputs);
        for i in inputs.iter_mut() {
            *i = self.map[*i];
        }
        inputs
    }

    /// Records that old node `old_id` is computed by new node `new_id` (an earlier node or one
    /// just pushed: either way the new graph is no longer a copy of the old one).
    pub fn set(&mut self, old_id: NodeId, new_id: NodeId) {
        self.write();
        self.map[old_id] = new_id;
    }

    /// The nodes of the new graph so far.
    pub fn nodes(&self) -> &[Node] {
        if self.written {
            &self.new.nodes
        } else {
            &self.old.nodes[..self.copied]
        }
    }

    /// A node of the new graph.
    pub fn node(&self, new_id: NodeId) -> &Node {
        &self.nodes()[new_id]
    }

    /// Starts writing the new graph: the prefix copied so far becomes real nodes.
    fn write(&mut self) {
        if !self.written {
            self.new.nodes = SPARE.with(|s| s.take());
            self.new.nodes.reserve(self.old.nodes.len());
            self.new.nodes.extend_from_slice(&self.old.nodes[..self.copied]);
            self.written = true;
        }
    }

    /// Copies old node `old_id` with its operands renamed; returns its new id.
    pub fn copy(&mut self, old_id: NodeId) -> NodeId {
        self.origin = self.old.nodes[old_id].origin;
        // Unwritten, every earlier node maps to itself: the next node in order is its own copy.
        if !self.written && old_id == self.copied {
            self.copied += 1;
            self.map[old_id] = old_id;
            self.note_scalar(old_id);
            return old_id;
        }
        self.write();
        let mut node = self.old.nodes[old_id].clone();
        for i in node.inputs.iter_mut() {
            *i = self.map[*i];
        }
        self.new.nodes.push(node);
        let id = self.new.nodes.len() - 1;
        self.map[old_id] = id;
        self.note_scalar(id);
        id
    }

    /// Records new node `id` when it is the first scalar constant with its value.
    fn note_scalar(&mut self, id: NodeId) {
        let op = &self.nodes()[id].op;
        if let Op::Constant(d) = op {
            if d.shape().is_empty() && !self.scalars.contains_key(op) {
                let op = op.clone();
                self.scalars.insert(op, id);
            }
        }
    }

    /// A scalar constant holding `d` (which must have shape `[]`): the new graph's node with the
    /// same dtype and bits when it has one (so the next round's CSE has nothing left to merge,
    /// and `optimize` no extra round to run), else a new node in `region`.
    pub fn scalar_constant(&mut self, d: Data, region: u32) -> Result<NodeId> {
        let op = Op::Constant(Arc::new(d));
        match self.scalars.get(&op) {
            Some(&id) => Ok(id),
            None => self.push(op, vec![], region),
        }
    }

    /// Appends `op` on new operands, checking its type rule; the node carries the origin of
    /// the old node being rewritten.
    pub fn push(&mut self, op: Op, inputs: impl Into<Operands>, region: u32) -> Result<NodeId> {
        self.write();
        let id = self.new.push(op, inputs.into(), region)?;
        self.new.nodes[id].origin = self.origin;
        self.note_scalar(id);
        Ok(id)
    }

    /// The new graph: outputs and regions renamed through the map (regions naming a node that
    /// has no counterpart drop it); `None` when every node was copied as it is, so the new
    /// graph would equal the old one.
    pub fn finish(mut self) -> Option<Graph> {
        if !self.written && self.copied == self.old.nodes.len() {
            return None;
        }
        self.write();
        self.new.outputs = self.old.outputs.iter().map(|&o| self.map[o]).collect();
        self.new.regions = self.old.regions.iter().map(|r| r.remapped(&self.map)).collect();
        Some(self.new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::array::DType;
    use crate::ir::UnaryOp;

    #[test]
    fn a_rewrite_that_copies_every_node_writes_nothing() {
        let mut g = Graph::new();
        let x = g.input(0, DType::F64, &[3]);
        let e = g.push(Op::Unary(UnaryOp::Exp), vec![x], 0).unwrap();
        g.outputs = vec![e];
        let mut rw = Rewriter::new(&g);
        for id in 0..g.nodes.len() {
            assert_eq!(rw.copy(id), id);
        }
        assert_eq!(rw.nodes().len(), 2);
        assert!(rw.finish().is_none());
        // A replaced node writes the new graph: the copied prefix, then the new node.
        let mut rw = Rewriter::new(&g);
        rw.copy(x);
        let operands = rw.mapped_inputs(e);
        let neg = rw.push(Op::Unary(UnaryOp::Neg), operands, 0).unwrap();
        rw.set(e, neg);
        let h = rw.finish().expect("a changed graph");
        assert_eq!(h.nodes.len(), 2);
        assert_eq!(h.nodes[1].op, Op::Unary(UnaryOp::Neg));
        assert_eq!(h.nodes[1].inputs[..], [0]);
        assert_eq!(h.outputs, vec![1]);
    }
}
