//! Kernels that write over an operand: an elementwise kernel whose operand is a temporary of
//! its shape and dtype, read by no kernel after it, takes the operand's slot (a softmax written
//! over the exponentials it scales). Its stores then land on the cache lines its loads just
//! brought in, where a fresh buffer's lines are first read from memory for ownership: the
//! gradient of log-sum-exp over 10 MB ran its last pass in about half the time.
//!
//! Sound because the kernel reads each element of the operand at the index it writes, in the
//! same iteration and before the store that depends on it (the operand reaches it through
//! elementwise nodes of its shape only, no layout node), and every other reader of the operand
//! has run before it. A graph output's allocation is taken by the operand instead (the operand
//! is then computed into the output's memory and scaled there), and so by every temporary that
//! already shares the operand's slot. The kernel's rare paths stay in its one loop
//! (`emit/versions.rs` would run it again over what it wrote).

use super::small_set::SmallSet;
use super::{Facts, Plan, Slot};
use crate::ir::{Graph, NodeId};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

/// Lets each kernel of `plan` that may write over an operand (see the module's documentation)
/// share that operand's slot, and marks it in `plan.in_place`.
pub(super) fn write_over_operands(g: &Graph, facts: &Facts, plan: &mut Plan) {
    let when = run_positions(g, plan);
    // The nodes that share each temporary's slot, where more than one does.
    let mut sharing: FxHashMap<usize, SmallVec<[NodeId; 4]>> = FxHashMap::default();
    for i in 0..plan.kernels.len() {
        let o = plan.kernels[i];
        let Some(t) = operand_to_write_over(g, facts, plan, &when, o) else { continue };
        let (Some(own), Some(theirs)) = (plan.buffer[o], plan.buffer[t]) else { continue };
        let chain = sharing.entry(theirs).or_insert_with(|| smallvec::smallvec![t]);
        if matches!(plan.slots[own], Slot::Output(_)) {
            // The operand (and the temporaries written over before it) move into the output.
            for n in sharing.remove(&theirs).unwrap_or_default() {
                plan.buffer[n] = Some(own);
            }
        } else {
            chain.push(o);
            plan.buffer[o] = Some(theirs);
        }
        plan.in_place[o] = true;
    }
}

/// When each kernel runs: its position in `plan.kernels`, or for a kernel emitted inside
/// another's loop nest (a sum's sibling, a sum over one axis) that kernel's; `usize::MAX` for
/// other nodes.
fn run_positions(g: &Graph, plan: &Plan) -> Vec<usize> {
    let n = g.nodes.len();
    let host = super::siblings::hosts(&plan.sibling, &plan.axis_sum);
    let mut position = vec![usize::MAX; n];
    for (p, &k) in plan.kernels.iter().enumerate() {
        position[k] = p;
    }
    (0..n)
        .map(|k| {
            // A host is never absorbed in turn in a way that loops; a few steps suffice.
            let mut h = k;
            for _ in 0..4 {
                if !plan.absorbed[h] || host[h] == h {
                    break;
                }
                h = host[h];
            }
            if plan.absorbed[h] {
                usize::MAX
            } else {
                position[h]
            }
        })
        .collect()
}

/// The operand kernel `o` may write over, if any: `o` is an elementwise kernel emitted on its
/// own, and the operand a temporary of its shape and dtype, computed by an elementwise kernel,
/// that `o`'s expression reads at `o`'s own index and that every other reader reads before `o`
/// runs ([`read_at_the_same_index`]).
fn operand_to_write_over(g: &Graph, facts: &Facts, plan: &Plan, when: &[usize], o: NodeId) -> Option<NodeId> {
    let node = &g.nodes[o];
    let own = plan.buffer[o]?;
    let on_its_own = plan.sibling[o].is_none() && plan.axis_sum[o].is_none() && !plan.absorbed[o];
    if !node.op.is_elementwise() || !on_its_own || !matches!(plan.slots[own], Slot::Temp(_) | Slot::Output(_)) {
        return None;
    }
    super::siblings::reads(g, &plan.buffer, &plan.inline_const, o).into_iter().find(|&t| {
        let tn = &g.nodes[t];
        let temporary = plan.buffer[t].is_some_and(|slot| matches!(plan.slots[slot], Slot::Temp(_)));
        temporary
            && !facts.is_output[t]
            && tn.op.is_elementwise()
            && tn.shape == node.shape
            && tn.dtype == node.dtype
            && read_at_the_same_index(g, facts, plan, when, (t, o))
    })
}

/// The most nodes [`read_at_the_same_index`] follows from one temporary.
const MAX_WALK: usize = 64;

/// True when every path from temporary `t` to a consumer ends at `o` after elementwise nodes
/// of `t`'s shape computed inline (so `o` reads `t` at its own index), or at an elementwise or
/// reduction kernel that runs before `o`.
fn read_at_the_same_index(g: &Graph, facts: &Facts, plan: &Plan, when: &[usize], (t, o): (NodeId, NodeId)) -> bool {
    let shape = &g.nodes[t].shape;
    let mut seen = SmallSet::default();
    let mut stack: SmallVec<[NodeId; 16]> = smallvec::smallvec![t];
    let mut walked = 0;
    while let Some(x) = stack.pop() {
        walked += 1;
        if walked > MAX_WALK {
            return false;
        }
        for &c in facts.consumers.of_node(x) {
            let cn = &g.nodes[c];
            let elementwise = cn.op.is_elementwise();
            if c == o || (plan.buffer[c].is_some() && (elementwise || cn.op.is_reduction()) && when[c] < when[o]) {
                continue;
            }
            if plan.buffer[c].is_some() || !elementwise || &cn.shape != shape {
                return false;
            }
            if seen.insert(c) {
                stack.push(c);
            }
        }
    }
    true
}
