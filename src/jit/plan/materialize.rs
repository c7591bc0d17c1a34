//! Which nodes get a buffer (see the planner's module documentation): two rounds of pricing
//! and deciding, a settling pass, and the bounds on every fused expression's depth and reads.

use super::cost::{inline_costs, is_leaf};
use super::products::is_matrix_transpose;
use super::{numel, Facts};
use crate::ir::{Graph, NodeId, Op};
use crate::jit::limits::{CHEAP, INLINE_CONCAT_PARTS, MAX_INLINE_DEPTH, MAX_INLINE_READS};
use smallvec::SmallVec;

/// A cheap node is materialized anyway when (times emitted) x (cost) exceeds this.
const RECOMPUTE_BUDGET: usize = 32;

/// A node emitted more than once with some emission at other indices (read through a slice,
/// concatenation, pad or permutation), whose own expression reads a computed value at other
/// indices too (an RK4 stage, read shifted by the next stage, which reads the previous one
/// shifted), is materialized when its inline cost exceeds this: its emissions share no work,
/// and nested, each level multiplies the recomputation, where a buffer costs a store and a
/// load per use.
const REINDEXED_CHEAP: usize = 2;

/// One round's decisions.
struct Round {
    /// Materialized.
    mat: Vec<bool>,
    /// How many times its consumers would emit each node.
    counts: Vec<usize>,
    /// Whether a consumer broadcasts it to more elements.
    expands: Vec<bool>,
    /// Whether some emission reads it at other indices than its own.
    reindexed: Vec<bool>,
}

/// How a node's consumers use it.
struct Uses {
    /// Times it would be emitted (a materialized consumer emits it once).
    count: usize,
    /// A consumer broadcasts it to more elements.
    expanded: bool,
    /// A matrix product (or a transpose it reads through strides) or a call needs its buffer.
    forced: bool,
    /// Some emission reads it at other indices than its own (through an index-moving layout
    /// op, here or in an inline consumer's expression).
    reindexed: bool,
}

/// True when recomputing a node of inline cost `cost` at each of `count` uses, or in a
/// broadcast when `expanded`, costs more than a buffer.
/// `reindexed`: some emission reads the node at other indices and its own expression reads a
/// computed value at other indices ([`REINDEXED_CHEAP`]).
fn too_costly(count: usize, cost: usize, expanded: bool, reindexed: bool) -> bool {
    let shared = count > 1 && (cost > CHEAP || count.saturating_mul(cost.max(1)) > RECOMPUTE_BUDGET);
    shared || (expanded && cost > CHEAP) || (reindexed && count > 1 && cost > REINDEXED_CHEAP)
}

/// For each node, whether its fused expression (stopping at `stop`'s buffers and the leaves)
/// reads an inline node (a computed value, or a view of one) through an index-moving layout
/// op: `concat(1, slice(y))` does, `slice(x)` of an input does not.
fn reads_moved_values(g: &Graph, facts: &Facts, stop: &[bool]) -> Vec<bool> {
    let mut moved = vec![false; g.nodes.len()];
    for (id, nd) in g.nodes.iter().enumerate() {
        if is_leaf(&nd.op) || facts.inline_const[id] {
            continue;
        }
        let inline = |i: NodeId| !stop[i] && !is_leaf(&g.nodes[i].op) && !facts.inline_const[i];
        moved[id] = nd.inputs.iter().any(|&i| inline(i) && (moved[i] || moves_indices(&nd.op)));
    }
    moved
}

/// True for the layout ops whose result's element `i` is not their operand's element `i`.
fn moves_indices(op: &Op) -> bool {
    matches!(op, Op::Slice(_) | Op::Concat(_) | Op::Pad { .. } | Op::Permute(_))
}

/// The materialized nodes: two rounds, the second pricing each node's expression with the
/// first round's buffers as leaves (a node above a buffer does not recompute what the buffer
/// holds), then [`keep_first_round`].
pub(super) fn materialized(g: &Graph, facts: &Facts) -> Vec<bool> {
    let first = decide(g, facts, &vec![false; g.nodes.len()]);
    let second = decide(g, facts, &first.mat);
    keep_first_round(g, facts, &first.mat, second)
}

/// One round: prices every node's expression with `priced_with`'s buffers as leaves and
/// decides, from the outputs back, which nodes get a buffer.
fn decide(g: &Graph, facts: &Facts, priced_with: &[bool]) -> Round {
    let n = g.nodes.len();
    let cost = inline_costs(g, &facts.own, priced_with);
    // Nodes computed from splat constants only (a few register ops, no loads): never buffered.
    let mut const_like = facts.inline_const.clone();
    for (id, nd) in g.nodes.iter().enumerate() {
        if !is_leaf(&nd.op) && !nd.inputs.is_empty() && cost[id] <= CHEAP {
            const_like[id] = nd.inputs.iter().all(|&i| const_like[i]);
        }
    }
    let moved = reads_moved_values(g, facts, priced_with);
    let mut round =
        Round { mat: vec![false; n], counts: vec![0; n], expands: vec![false; n], reindexed: vec![false; n] };
    let mut emit = vec![0usize; n];
    // Transposes read by a matrix product through strides (`run/gemm.rs`): their operand gets
    // the buffer instead of them.
    let mut gemm_view = vec![false; n];
    for id in (0..n).rev() {
        if !facts.live[id] {
            continue;
        }
        let uses = uses(g, facts, id, (&round.mat, &emit, &round.reindexed), &mut gemm_view);
        emit[id] = uses.count.max(1);
        round.counts[id] = uses.count;
        round.expands[id] = uses.expanded;
        round.reindexed[id] = uses.reindexed;
        let uses = Uses { reindexed: uses.reindexed && moved[id], ..uses };
        round.mat[id] = needs_buffer(g, facts, id, &uses, cost[id], const_like[id]);
    }
    round
}

/// How the consumers of `id` use it, given the decisions already made for them (`mat`, and
/// `emit`: the times each is emitted); marks `id` in `gemm_view` when a matrix product reads
/// it as a transposed view.
fn uses(
    g: &Graph,
    facts: &Facts,
    id: NodeId,
    (mat, emit, reindexed): (&[bool], &[usize], &[bool]),
    gemm_view: &mut [bool],
) -> Uses {
    let nd = &g.nodes[id];
    let mut u = Uses { count: usize::from(facts.is_output[id]), expanded: false, forced: false, reindexed: false };
    for &c in facts.consumers.of_node(id) {
        u.count = u.count.saturating_add(if mat[c] { 1 } else { emit[c] });
        let cn = &g.nodes[c];
        u.reindexed |= moves_indices(&cn.op) || (!mat[c] && reindexed[c]);
        let broadcasting = cn.op.is_elementwise() || matches!(cn.op, Op::Broadcast(_));
        if broadcasting && numel(&cn.shape) > numel(&nd.shape) {
            u.expanded = true;
        }
        if matches!(cn.op, Op::MatMul) {
            if is_matrix_transpose(&nd.op) && !facts.is_output[id] {
                gemm_view[id] = true;
            } else {
                u.forced = true;
            }
        }
        if gemm_view[c] || matches!(cn.op, Op::Call(_) | Op::Linalg(_)) {
            u.forced = true;
        }
    }
    u
}

/// Whether node `id`, used as `uses` says, with inline cost `cost`, gets a buffer.
fn needs_buffer(g: &Graph, facts: &Facts, id: NodeId, uses: &Uses, cost: usize, const_like: bool) -> bool {
    let nd = &g.nodes[id];
    // A splat constant is an immediate, unless a matrix product needs its buffer.
    if facts.inline_const[id] && !facts.is_output[id] && !uses.forced {
        return false;
    }
    match &nd.op {
        Op::Input(_) => true,
        Op::Constant(_) => !facts.inline_const[id] || uses.forced,
        op if op.is_own_kernel() => true,
        // Written piece by piece into its own buffer rather than tested per element.
        Op::Concat(_) if nd.inputs.len() > INLINE_CONCAT_PARTS => true,
        op => {
            uses.forced
                || facts.is_output[id]
                || (!op.is_layout()
                    && numel(&nd.shape) > 0
                    // Recomputing a cheap node a few times beats a buffer; more often (nested
                    // duplication would grow the code exponentially) it does not.
                    && !const_like
                    && too_costly(uses.count, cost, uses.expanded, uses.reindexed))
        }
    }
}

/// A node the first round buffered and the second did not keeps its buffer unless its
/// expression, priced with the buffers that remain, is still cheap enough for the times it is
/// emitted (nodes unbuffered together would otherwise recompute each other's expressions), and
/// unless a reduction or a reshape reads it (their index arithmetic is not priced). Buffering
/// more only lowers the other nodes' prices: one pass settles it.
fn keep_first_round(g: &Graph, facts: &Facts, first: &[bool], second: Round) -> Vec<bool> {
    let Round { mut mat, counts, expands, reindexed } = second;
    let remaining = inline_costs(g, &facts.own, &mat);
    let moved = reads_moved_values(g, facts, &mat);
    for id in 0..g.nodes.len() {
        if facts.live[id] && first[id] && !mat[id] {
            let read_by_reduction_or_reshape = facts
                .consumers
                .of_node(id)
                .iter()
                .any(|&u| g.nodes[u].op.is_reduction() || matches!(g.nodes[u].op, Op::Reshape(_)));
            if read_by_reduction_or_reshape
                || too_costly(counts[id], remaining[id], expands[id], reindexed[id] && moved[id])
            {
                mat[id] = true;
            }
        }
    }
    mat
}

/// Bounds the depth of every fused expression: code generation walks an expression
/// recursively, so a long chain of inline nodes (an unrolled loop of thousands of elementwise
/// steps) is cut into kernels of at most `MAX_INLINE_DEPTH` levels each. Likewise the distinct
/// buffers one fused expression reads: an unrolled accumulation (a weight's gradient summed
/// over time steps) would read one or two buffers per step in one loop nest, more pointers than
/// registers. (`buffers_read[id]` is what `siblings::reads` would walk from `id`, built once
/// for every node in order.)
pub(super) fn bound_expressions(g: &Graph, facts: &Facts, mat: &mut [bool]) {
    let n = g.nodes.len();
    let mut depth = vec![0usize; n];
    let mut buffers_read: Vec<SmallVec<[NodeId; 4]>> = vec![SmallVec::new(); n];
    for id in 0..n {
        if !facts.live[id] || mat[id] || facts.inline_const[id] {
            continue;
        }
        let inputs = &g.nodes[id].inputs;
        let d = 1 + inputs.iter().map(|&i| depth[i]).max().unwrap_or(0);
        let mut r: SmallVec<[NodeId; 4]> = SmallVec::new();
        for &i in inputs {
            let read: &[NodeId] = match (mat[i], facts.inline_const[i]) {
                (true, _) => std::slice::from_ref(&i),
                (false, true) => &[],
                (false, false) => &buffers_read[i],
            };
            for &b in read {
                if !r.contains(&b) {
                    r.push(b);
                }
            }
        }
        if d > MAX_INLINE_DEPTH || r.len() > MAX_INLINE_READS {
            mat[id] = true;
        } else {
            depth[id] = d;
            buffers_read[id] = r;
        }
    }
}
