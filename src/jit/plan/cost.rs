//! What a node costs when it is computed inline (in simple CLIF ops), and the summed cost of
//! each node's fused expression: cheap nodes are recomputed by each consumer rather than
//! materialized.

use crate::array::Data;
use crate::ir::{materialized_op, Graph, Node, Op};
use crate::jit::limits::CHEAP;

/// True for a constant whose elements are all bit-identical (emitted as an immediate).
pub(super) fn splat(d: &Data) -> bool {
    let v = d.to_c128_vec();
    !v.is_empty() && v.iter().all(|c| c.re.to_bits() == v[0].re.to_bits() && c.im.to_bits() == v[0].im.to_bits())
}

/// True for the nodes a fused expression stops at: inputs, constants, and the kernels of their
/// own (reductions, matrix products).
pub(super) fn is_leaf(op: &Op) -> bool {
    matches!(op, Op::Input(_) | Op::Constant(_)) || op.is_own_kernel()
}

/// A node's own inline cost, its operands' aside.
pub(super) fn own_cost(g: &Graph, nd: &Node) -> usize {
    let first_complex = nd.inputs.first().is_some_and(|&i| g.nodes[i].dtype.is_complex());
    match &nd.op {
        materialized_op!() | Op::CustomVjp(_) => 0,
        // A host call per element, or a transcendental's polynomial, costs more than any
        // cheap inline expression: buffered rather than recomputed by each consumer.
        op if op.is_costly(first_complex) => CHEAP + 1,
        Op::Unary(_) | Op::Binary(_) if nd.dtype.is_complex() => 3,
        Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select | Op::Cast(_) => 1,
        Op::Pad { .. } | Op::Concat(_) => 2,
        Op::Broadcast(_) | Op::Reshape(_) | Op::Permute(_) | Op::Slice(_) => 0,
    }
}

/// The cost of computing each node inline: the summed own cost of the distinct computed nodes
/// its fused expression reaches, stopping at leaves (inputs, constants, reductions, matrix
/// products) and at the nodes `stop` marks (buffered ones), capped just above `CHEAP`.
pub(super) fn inline_costs(g: &Graph, own: &[usize], stop: &[bool]) -> Vec<usize> {
    let leaf = |k: usize| stop[k] || is_leaf(&g.nodes[k].op);
    // `seen[k] == id + 1` once node `k` is in node `id`'s expression: one mark array and one
    // stack serve every node.
    let mut seen = vec![0usize; g.nodes.len()];
    let mut stack = Vec::new();
    let mut costs: Vec<usize> = Vec::with_capacity(g.nodes.len());
    for (id, node) in g.nodes.iter().enumerate() {
        // An operand's expression is part of this node's: when one is already not cheap, neither
        // is this one, with no walk (the walks of long chains were most of the planner's time).
        if !is_leaf(&node.op) {
            let widest = node.inputs.iter().filter(|&&i| !leaf(i)).map(|&i| costs[i]).max().unwrap_or(0);
            if own[id] + widest > CHEAP {
                costs.push(CHEAP + 1);
                continue;
            }
        }
        let mark = id + 1;
        seen[id] = mark;
        stack.clear();
        stack.push(id);
        let mut total = 0;
        let mut scanned = 0usize;
        while let Some(k) = stack.pop() {
            total += own[k];
            if total > CHEAP {
                break;
            }
            if is_leaf(&g.nodes[k].op) {
                continue;
            }
            for &i in &g.nodes[k].inputs {
                if seen[i] != mark && !leaf(i) {
                    seen[i] = mark;
                    stack.push(i);
                }
                // An expression with this many operand edges is not cheap (and the scan
                // stays bounded for nodes of many operands).
                scanned += 1;
                if scanned > 4 * CHEAP {
                    total = CHEAP + 1;
                    stack.clear();
                    break;
                }
            }
        }
        costs.push(total.min(CHEAP + 1));
    }
    costs
}
