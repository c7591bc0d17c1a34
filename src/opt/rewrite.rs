//! The rebuilding helper every pass uses: walk the old graph in order and, for each node, either
//! copy it, push replacement nodes, or alias it to a node already in the new graph. Outputs
//! and regions are renumbered at the end.

use crate::array::Data;
use crate::error::Result;
use crate::ir::{Graph, Node, NodeId, Op, Origin};
use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

/// A new graph under construction from an old one, with the old-to-new node map.
pub(crate) struct Rewriter<'a> {
    /// The graph being rewritten.
    pub old: &'a Graph,
    /// The graph being built.
    pub new: Graph,
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
        let new = Graph { nodes: Vec::with_capacity(old.nodes.len()), outputs: Vec::new(), regions: Vec::new() };
        Rewriter { old, new, map: vec![usize::MAX; old.nodes.len()], origin: None, scalars: HashMap::default() }
    }

    /// The new operands of old node `old_id`, which becomes the node being rewritten (whose
    /// origin pushed nodes carry).
    pub fn mapped_inputs(&mut self, old_id: NodeId) -> Vec<NodeId> {
        self.origin = self.old.nodes[old_id].origin;
        self.old.nodes[old_id].inputs.iter().map(|&i| self.map[i]).collect()
    }

    /// Records that old node `old_id` is computed by new node `new_id`.
    pub fn set(&mut self, old_id: NodeId, new_id: NodeId) {
        self.map[old_id] = new_id;
    }

    /// A node of the new graph.
    pub fn node(&self, new_id: NodeId) -> &Node {
        &self.new.nodes[new_id]
    }

    /// Copies old node `old_id` with its operands renamed; returns its new id.
    pub fn copy(&mut self, old_id: NodeId) -> NodeId {
        self.origin = self.old.nodes[old_id].origin;
        let old = &self.old.nodes[old_id];
        self.new.nodes.push(Node {
            op: old.op.clone(),
            inputs: old.inputs.iter().map(|&i| self.map[i]).collect(),
            dtype: old.dtype,
            shape: old.shape.clone(),
            region: old.region,
            origin: old.origin,
        });
        let id = self.new.nodes.len() - 1;
        self.map[old_id] = id;
        self.note_scalar(id);
        id
    }

    /// Records new node `id` when it is the first scalar constant with its value.
    fn note_scalar(&mut self, id: NodeId) {
        if let Op::Constant(d) = &self.new.nodes[id].op {
            if d.shape().is_empty() {
                self.scalars.entry(self.new.nodes[id].op.clone()).or_insert(id);
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
    pub fn push(&mut self, op: Op, inputs: Vec<NodeId>, region: u32) -> Result<NodeId> {
        let id = self.new.push(op, inputs, region)?;
        self.new.nodes[id].origin = self.origin;
        self.note_scalar(id);
        Ok(id)
    }

    /// The new graph: outputs and regions renamed through the map (regions naming a node that
    /// has no counterpart drop it).
    pub fn finish(mut self) -> Graph {
        self.new.outputs = self.old.outputs.iter().map(|&o| self.map[o]).collect();
        self.new.regions = self.old.regions.iter().map(|r| r.remapped(&self.map)).collect();
        self.new
    }
}
