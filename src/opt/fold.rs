//! Constant folding.

use super::dce::dce;
use super::rewrite::Rewriter;
use crate::array::Data;
use crate::error::Result;
use crate::interp;
use crate::ir::{Graph, NodeId, Op};
use std::collections::HashMap;
use std::sync::Arc;

/// Results with more elements than this are never folded (they would bloat the graph).
pub const MAX_FOLDED_ELEMENTS: usize = 4096;

/// Results with at most this many elements are folded even when they are larger than every
/// operand.
const SMALL: usize = 64;

/// The graph with every node whose operands are all constants replaced by a constant holding
/// its value, computed with [`interp::eval`] (so the value is exactly what the interpreter would
/// compute at run time). A node is folded only when its result has at most
/// [`MAX_FOLDED_ELEMENTS`] elements and it does not expand its operands into a larger array
/// (a `broadcast` of a scalar to 1000 elements stays a broadcast: it is cheaper to keep a
/// scalar than to store its copies), unless the result is small (at most 64 elements); such a
/// node stays, but its value is still known, so a reduction of it folds. The folded constant
/// keeps the node's region. The result is pruned ([`dce`]).
pub fn fold_constants(g: &Graph) -> Result<Graph> {
    let mut rw = Rewriter::new(g);
    // The value of every new node known to be constant (folded or not), by new id.
    let mut known: HashMap<NodeId, Arc<Data>> = HashMap::new();
    for (id, n) in g.nodes.iter().enumerate() {
        let inputs = rw.mapped_inputs(id);
        let operands: Option<Vec<Arc<Data>>> = inputs.iter().map(|i| known.get(i).cloned()).collect();
        let numel: usize = n.shape.iter().product();
        let evaluable = !matches!(n.op, Op::Input(_) | Op::Constant(_)) && !inputs.is_empty();
        match operands {
            Some(values) if evaluable && numel <= MAX_FOLDED_ELEMENTS => {
                let refs: Vec<&Data> = values.iter().map(|d| &**d).collect();
                let value = Arc::new(interp::eval(&n.op, &refs)?);
                let largest_operand = values.iter().map(|d| d.numel()).max().unwrap_or(0);
                let new_id = if numel <= largest_operand || numel <= SMALL {
                    let new_id = rw.push(Op::Constant(value.clone()), vec![], n.region)?;
                    rw.set(id, new_id);
                    new_id
                } else {
                    rw.copy(id)
                };
                known.insert(new_id, value);
            }
            _ => {
                let new_id = rw.copy(id);
                if let Op::Constant(d) = &n.op {
                    known.insert(new_id, d.clone());
                }
            }
        }
    }
    Ok(dce(&rw.finish()))
}
