//! Constant folding.

use super::bits::splat_scalar;
use super::dce::prune;
use super::rewrite::Rewriter;
use crate::array::Data;
use crate::error::Result;
use crate::interp;
use crate::ir::{verify, Graph, Node, NodeId, Op};
use rustc_hash::FxHashMap as HashMap;
use smallvec::SmallVec;
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
/// keeps the node's region.
///
/// Splats (arrays of one repeated value) are folded at any size without being stored: a
/// constant of more than 64 elements that repeats one value becomes `broadcast` of a scalar
/// constant, and an elementwise op whose operands are all splats becomes `broadcast` of the op
/// applied to their scalars (exact: every element is that same computation).
///
/// `Err` when `g` does not [`verify`]. The result is pruned ([`dce`](super::dce)).
pub fn fold_constants(g: &Graph) -> Result<Graph> {
    verify(g)?;
    fold_constants_verified(g)?.map_or_else(|| g.pruned(), Ok)
}

/// [`fold_constants`] of a graph known to verify.
pub(super) fn fold_constants_verified(g: &Graph) -> Result<Option<Graph>> {
    let mut rw = Rewriter::new(g);
    // The value of every new node known to be constant (folded or not), by new id.
    let mut known: HashMap<NodeId, Arc<Data>> = HashMap::default();
    // The scalar every element of a new node equals (same bits), for constant splats of any size.
    let mut splats: HashMap<NodeId, Arc<Data>> = HashMap::default();
    for (id, n) in g.nodes.iter().enumerate() {
        let inputs = rw.mapped_inputs(id);
        let operands = all_found(&inputs, &known);
        let splat_operands = all_found(&inputs, &splats);
        let numel: usize = n.shape.iter().product();
        // A call runs the user's code (an external function) on every run, never at compile time.
        let evaluable = !matches!(n.op, Op::Input(_) | Op::Constant(_) | Op::Call(_)) && !inputs.is_empty();
        let new_id = match (operands, splat_operands) {
            (Some(values), _) if evaluable && numel <= MAX_FOLDED_ELEMENTS => {
                let refs: SmallVec<[&Data; 3]> = values.iter().map(|d| &**d).collect();
                let value = Arc::new(interp::eval(&n.op, &refs).map_err(|e| match n.origin {
                    Some(origin) => e.at(origin),
                    None => e,
                })?);
                let largest_operand = values.iter().map(|d| d.numel()).max().unwrap_or(0);
                let new_id = if numel <= largest_operand || numel <= SMALL {
                    let new_id = rw.push(Op::Constant(value.clone()), vec![], n.region)?;
                    rw.set(id, new_id);
                    new_id
                } else {
                    rw.copy(id)
                };
                known.insert(new_id, value);
                new_id
            }
            (_, Some(scalars)) if evaluable && n.op.is_elementwise() && numel > SMALL => {
                // An elementwise op of splats is the splat of the op on their scalars.
                let refs: SmallVec<[&Data; 3]> = scalars.iter().map(|d| &**d).collect();
                let value = Arc::new(interp::eval(&n.op, &refs)?);
                let new_id = splat_node(&mut rw, value.clone(), n)?;
                rw.set(id, new_id);
                splats.insert(new_id, value);
                continue;
            }
            (_, Some(scalars)) if matches!(n.op, Op::Broadcast(_) | Op::Reshape(_)) => {
                let new_id = rw.copy(id);
                splats.insert(new_id, scalars[0].clone());
                continue;
            }
            _ => match &n.op {
                Op::Constant(d) if d.numel() > SMALL => match splat_scalar(d) {
                    // A large constant of one value: a scalar and a broadcast.
                    Some(scalar) => {
                        let scalar = Arc::new(scalar);
                        let new_id = splat_node(&mut rw, scalar.clone(), n)?;
                        rw.set(id, new_id);
                        splats.insert(new_id, scalar);
                        continue;
                    }
                    None => {
                        let new_id = rw.copy(id);
                        known.insert(new_id, d.clone());
                        new_id
                    }
                },
                Op::Constant(d) => {
                    let new_id = rw.copy(id);
                    known.insert(new_id, d.clone());
                    new_id
                }
                _ => rw.copy(id),
            },
        };
        if let Some(scalar) = known.get(&new_id).and_then(|d| splat_scalar(d)) {
            splats.insert(new_id, Arc::new(scalar));
        }
    }
    rw.finish().map(prune).transpose()
}

/// The value of every one of `inputs` in `values`, or `None` when one has none.
fn all_found(inputs: &[NodeId], values: &HashMap<NodeId, Arc<Data>>) -> Option<SmallVec<[Arc<Data>; 3]>> {
    let mut found = SmallVec::new();
    for i in inputs {
        found.push(values.get(i)?.clone());
    }
    Some(found)
}

/// `broadcast(scalar)` to the shape of `n`, in `n`'s region.
fn splat_node(rw: &mut Rewriter, scalar: Arc<Data>, n: &Node) -> Result<NodeId> {
    let c = rw.push(Op::Constant(scalar), vec![], n.region)?;
    rw.push(Op::Broadcast(n.shape.to_vec()), vec![c], n.region)
}
