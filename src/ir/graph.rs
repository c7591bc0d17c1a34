//! Nodes and graphs: a graph is a list of nodes in topological order (operands before users).

use super::{infer, Op, Origin};
use crate::array::DType;
use crate::error::{Error, Result};
use smallvec::SmallVec;

/// Index of a node in its graph.
pub type NodeId = usize;

/// A node's operands: inline up to two (most primitives), so a node owns no heap memory.
pub type Operands = SmallVec<[NodeId; 2]>;

/// A node's shape: inline up to two axes (the shapes of the long unrolled graphs; more spill to the heap).
pub type Shape = SmallVec<[usize; 2]>;

/// One primitive application, with its inferred dtype and shape.
#[derive(Debug)]
pub struct Node {
    /// The primitive.
    pub op: Op,
    /// Operand nodes, all earlier in the graph.
    pub inputs: Operands,
    /// Element type of the result.
    pub dtype: DType,
    /// Shape of the result.
    pub shape: Shape,
    /// Which part of the trace recorded it: 0 is the forward pass, `k > 0` is the `k`-th
    /// `dlgradient` call (its label is `Graph::regions[k]`).
    pub region: u32,
    /// The user's call that recorded it (file and line), when known; kept through the
    /// optimizer, and marked `backward` on nodes the reverse sweep made.
    pub origin: Option<Origin>,
}

impl Clone for Node {
    /// Copies the operands and the shape as slices (smallvec's own `clone` goes element by
    /// element through `extend`, a measurable cost when a pass copies every node).
    fn clone(&self) -> Self {
        Node {
            op: self.op.clone(),
            inputs: Operands::from_slice(&self.inputs),
            dtype: self.dtype,
            shape: Shape::from_slice(&self.shape),
            region: self.region,
            origin: self.origin,
        }
    }
}

impl Node {
    /// A node with no recorded origin.
    pub fn new(op: Op, inputs: impl Into<Operands>, dtype: DType, shape: impl Into<Shape>, region: u32) -> Self {
        Node { op, inputs: inputs.into(), dtype, shape: shape.into(), region, origin: None }
    }

    /// The same node with `origin`.
    pub fn with_origin(self, origin: Option<Origin>) -> Self {
        Node { origin, ..self }
    }
}

/// A traced computation.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Nodes in topological order.
    pub nodes: Vec<Node>,
    /// The graph's results.
    pub outputs: Vec<NodeId>,
    /// The regions, indexed by `Node::region`; index 0 is the forward pass.
    pub regions: Vec<Region>,
}

/// A part of the graph: the forward pass, or the backward pass one `dlgradient` call recorded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Region {
    /// The differentiated scalar (`None` for the forward pass).
    pub of: Option<NodeId>,
    /// The variables.
    pub wrt: Vec<NodeId>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Self {
        Graph { nodes: Vec::new(), outputs: Vec::new(), regions: vec![Region::default()] }
    }

    /// Appends an input node of the given type.
    pub fn input(&mut self, k: usize, dtype: DType, shape: &[usize]) -> NodeId {
        self.nodes.push(Node::new(Op::Input(k), vec![], dtype, shape.to_vec(), 0));
        self.nodes.len() - 1
    }

    /// Appends `op` applied to `inputs`, checking that every operand is an earlier node and
    /// the op's type rule.
    pub fn push(&mut self, op: Op, inputs: impl Into<Operands>, region: u32) -> Result<NodeId> {
        let inputs = inputs.into();
        if let Some(&bad) = inputs.iter().find(|&&i| i >= self.nodes.len()) {
            return Err(Error::argument(
                op.name(),
                format!("operand %{bad} is not a node of the graph (it has {} nodes)", self.nodes.len()),
            ));
        }
        let types: SmallVec<[(DType, &[usize]); 4]> =
            inputs.iter().map(|&i| (self.nodes[i].dtype, self.nodes[i].shape.as_slice())).collect();
        let (dtype, shape) = infer(&op, &types)?;
        drop(types);
        self.nodes.push(Node::new(op, inputs, dtype, shape, region));
        Ok(self.nodes.len() - 1)
    }

    /// The input nodes, ordered by input index.
    pub fn inputs(&self) -> Vec<NodeId> {
        let mut v: Vec<(usize, NodeId)> = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(id, n)| match n.op {
                Op::Input(k) => Some((k, id)),
                _ => None,
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, id)| id).collect()
    }

    /// The call nodes around `id` (itself included) that call the same target as `id` on
    /// `inputs`: the outputs of one call, which a multi-output call records next to each other
    /// (lazily traced calls may have constants recorded between them, which are skipped).
    pub fn call_siblings(&self, id: NodeId, inputs: &[NodeId]) -> Vec<NodeId> {
        let Op::Call(c) = &self.nodes[id].op else { return vec![id] };
        let same = |j: NodeId| match &self.nodes[j].op {
            Op::Call(d) => std::sync::Arc::ptr_eq(&c.target, &d.target) && self.nodes[j].inputs.as_slice() == inputs,
            _ => false,
        };
        let skip = |j: NodeId| matches!(self.nodes[j].op, Op::Constant(_));
        let (mut lo, mut hi) = (id, id);
        let mut j = id;
        while j > 0 && (same(j - 1) || skip(j - 1)) {
            j -= 1;
            if same(j) {
                lo = j;
            }
        }
        j = id;
        while j + 1 < self.nodes.len() && (same(j + 1) || skip(j + 1)) {
            j += 1;
            if same(j) {
                hi = j;
            }
        }
        (lo..=hi).filter(|&j| same(j)).collect()
    }

    /// Number of inputs (one more than the largest input index).
    pub fn num_inputs(&self) -> usize {
        self.nodes
            .iter()
            .filter_map(|n| match n.op {
                Op::Input(k) => Some(k + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// For each node, whether the outputs depend on it; an output or operand that is not an
    /// earlier node is an `Err`.
    pub fn live(&self) -> Result<Vec<bool>> {
        let n = self.nodes.len();
        let mut live = vec![false; n];
        for &o in &self.outputs {
            *live
                .get_mut(o)
                .ok_or_else(|| Error::argument("graph", format!("output %{o} is not a node (of {n})")))? = true;
        }
        for id in (0..n).rev() {
            if live[id] {
                for &i in &self.nodes[id].inputs {
                    if i >= id {
                        return Err(Error::argument("graph", format!("%{id} reads %{i}, which does not precede it")));
                    }
                    live[i] = true;
                }
            }
        }
        Ok(live)
    }

    /// The graph restricted to what the outputs need (and every input, so the signature stays),
    /// renumbered in the same order.
    /// A malformed graph (see [`Graph::live`]) is an `Err`.
    pub fn pruned(&self) -> Result<Graph> {
        self.clone().into_pruned()
    }

    /// [`Graph::pruned`] of a graph the caller gives up: the live nodes are moved, not copied.
    pub fn into_pruned(self) -> Result<Graph> {
        let mut live = self.live()?;
        for (id, n) in self.nodes.iter().enumerate() {
            if matches!(n.op, Op::Input(_)) {
                live[id] = true;
            }
        }
        let kept = live.iter().filter(|&&l| l).count();
        if kept == self.nodes.len() {
            // Nothing dies: the graph is already pruned (its node ids do not change).
            return Ok(self);
        }
        // Compacted in place: each live node moves down past the dead ones before it, and its
        // operands (earlier nodes, already moved) are renamed.
        let mut map = vec![usize::MAX; self.nodes.len()];
        let mut nodes = self.nodes;
        let (mut id, mut next) = (0, 0);
        nodes.retain_mut(|n| {
            let keep = live[id];
            if keep {
                for i in &mut n.inputs {
                    *i = map[*i];
                }
                map[id] = next;
                next += 1;
            }
            id += 1;
            keep
        });
        let outputs = self.outputs.iter().map(|&o| map[o]).collect();
        let regions = self.regions.iter().map(|r| r.remapped(&map)).collect();
        Ok(Graph { nodes, outputs, regions })
    }
}

impl Region {
    /// The region with its node ids renamed by `map` (`usize::MAX` for removed nodes, which
    /// are dropped).
    pub fn remapped(&self, map: &[usize]) -> Region {
        let keep = |&i: &NodeId| map.get(i).copied().filter(|&j| j != usize::MAX);
        Region { of: self.of.as_ref().and_then(keep), wrt: self.wrt.iter().filter_map(keep).collect() }
    }
}
