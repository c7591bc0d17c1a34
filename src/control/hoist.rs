//! Loop-invariant code motion for the running form of a body: the nodes that depend only on the
//! captures (and constants) are computed once per run of the loop, by a graph of their own, and
//! the body reads their values as extra inputs. The traced body (which derivatives replay) is
//! left as it is.

use crate::ir::{Graph, Node, NodeId, Op, Operands};

/// A body split in two: `pre` (inputs: the captures, renumbered from 0; outputs: the invariant
/// values the loop reads) and `body` (the body's inputs, then one per `pre` output).
pub(crate) struct Hoisted {
    pub pre: Graph,
    pub body: Graph,
}

/// True for nodes not worth hoisting on their own.
fn leaf(op: &Op) -> bool {
    matches!(op, Op::Input(_) | Op::Constant(_))
}

/// `g` split at its loop invariants (inputs `first_capture..` are the captures), or `None` when
/// nothing but inputs and constants is invariant.
pub(crate) fn hoist(g: &Graph, first_capture: usize) -> Option<Hoisted> {
    let n = g.nodes.len();
    let mut invariant = vec![false; n];
    for (id, node) in g.nodes.iter().enumerate() {
        invariant[id] = match node.op {
            Op::Input(k) => k >= first_capture,
            Op::Constant(_) => true,
            _ => !node.inputs.is_empty() && node.inputs.iter().all(|&i| invariant[i]),
        };
    }
    let mut frontier = vec![false; n];
    for (_, node) in g.nodes.iter().enumerate().filter(|(id, _)| !invariant[*id]) {
        for &i in node.inputs.iter().filter(|&&i| invariant[i] && !leaf(&g.nodes[i].op)) {
            frontier[i] = true;
        }
    }
    for &o in g.outputs.iter().filter(|&&o| invariant[o] && !leaf(&g.nodes[o].op)) {
        frontier[o] = true;
    }
    let hoisted: Vec<NodeId> = (0..n).filter(|&i| frontier[i]).collect();
    if hoisted.is_empty() {
        return None;
    }
    Some(Hoisted { pre: pre_graph(g, &invariant, &hoisted, first_capture), body: body_graph(g, &frontier, &invariant) })
}

/// The invariant nodes, the captures renumbered from 0, the hoisted nodes as outputs.
fn pre_graph(g: &Graph, invariant: &[bool], hoisted: &[NodeId], first_capture: usize) -> Graph {
    let mut map = vec![usize::MAX; g.nodes.len()];
    let mut pre = Graph::new();
    for (id, node) in g.nodes.iter().enumerate().filter(|(id, _)| invariant[*id]) {
        let op = match node.op {
            Op::Input(k) => Op::Input(k - first_capture),
            ref op => op.clone(),
        };
        let inputs: Operands = node.inputs.iter().map(|&i| map[i]).collect();
        pre.nodes.push(Node { op, inputs, region: 0, ..node.clone() });
        map[id] = pre.nodes.len() - 1;
    }
    pre.outputs = hoisted.iter().map(|&h| map[h]).collect();
    pre
}

/// The body with each hoisted node an input (numbered after the body's own) and the other
/// invariant nodes gone unless the body still reads them (inputs and constants).
fn body_graph(g: &Graph, frontier: &[bool], invariant: &[bool]) -> Graph {
    let inputs = g.num_inputs();
    let mut map = vec![usize::MAX; g.nodes.len()];
    let mut body = Graph { nodes: Vec::new(), outputs: Vec::new(), regions: vec![Default::default()] };
    let mut extra = 0;
    for (id, node) in g.nodes.iter().enumerate() {
        let new = if frontier[id] {
            extra += 1;
            Node::new(Op::Input(inputs + extra - 1), Operands::new(), node.dtype, node.shape.clone(), 0)
        } else if invariant[id] && !leaf(&node.op) {
            continue;
        } else {
            let inputs: Operands = node.inputs.iter().map(|&i| map[i]).collect();
            Node { inputs, region: 0, ..node.clone() }
        };
        body.nodes.push(new);
        map[id] = body.nodes.len() - 1;
    }
    body.outputs = g.outputs.iter().map(|&o| map[o]).collect();
    body
}
