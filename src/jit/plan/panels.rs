//! Matrix products computed a panel of rows at a time inside the kernel that consumes them: a
//! product `[m, n]` that only one chunked kernel reads, row `i` in that kernel's unit `i` (the
//! distances of k-means before their minimum over each row), is never written whole. Each
//! chunk of the kernel multiplies its own rows into a panel that stays in cache and runs on
//! them (`run/panels.rs`): the product's `m n` elements are neither written to memory nor
//! read back.

use super::Plan;
use crate::ir::{Graph, NodeId};

/// Products summing over more terms than this are written whole: they are bound by their
/// arithmetic, not by writing and reading their result, and each panel would pack the whole
/// right operand again (W3's `[256, 784] x [784, 256]` ran 1.3x slower by panels).
pub(crate) const PANEL_MAX_DEPTH: usize = 64;

/// A kernel that computes a product by panels is cut into chunks of this many times the usual
/// elements ([`CHUNK`](crate::jit::limits::CHUNK)): each chunk's panel is one call of faer,
/// which packs the product's right operand again. The k-means cost's `[10000, 16] x [16, 1000]`
/// took 6.11-6.23 ms a call in panels of 128 rows, 6.37-6.48 ms in panels of 32.
pub(crate) const PANEL_CHUNK_FACTOR: usize = 4;

/// True when kernel `k` reads some matrix product of its expression by panels of rows
/// ([`reads_product_by_rows`]).
pub(crate) fn reads_some_product_by_rows(g: &Graph, plan: &Plan, k: NodeId) -> bool {
    super::siblings::reads(g, &plan.buffer, &plan.inline_const, k)
        .into_iter()
        .any(|p| matches!(g.nodes[p].op, crate::ir::Op::MatMul) && reads_product_by_rows(g, plan, k, p))
}

/// True when kernel `k` (split by rows) may compute matrix product `p` by panels of rows: `p`
/// is a real 2-D product of depth at most [`PANEL_MAX_DEPTH`] and no graph output, `k` runs over `p`'s shape with its units on
/// `p`'s rows (an elementwise kernel of `p`'s shape, or a reduction of an expression of `p`'s
/// shape over axes other than the first), and `p` reaches `k` only through elementwise nodes
/// of `p`'s shape fused into `k` alone (no layout op moves its rows, no other kernel reads it).
pub(crate) fn reads_product_by_rows(g: &Graph, plan: &Plan, k: NodeId, p: NodeId) -> bool {
    let (pn, kn) = (&g.nodes[p], &g.nodes[k]);
    if pn.shape.len() != 2 || pn.dtype.is_complex() || g.outputs.contains(&p) {
        return false;
    }
    if g.nodes[pn.inputs[0]].shape.last().is_none_or(|&depth| depth > PANEL_MAX_DEPTH) {
        return false;
    }
    if plan.sibling[k].is_some() || plan.axis_sum[k].is_some() || plan.absorbed[k] {
        return false;
    }
    let on_rows = match kn.op.reduced_axes() {
        Some(axes) => !axes.contains(&0) && g.nodes[kn.inputs[0]].shape == pn.shape,
        None => kn.op.is_elementwise() && kn.shape == pn.shape,
    };
    if !on_rows {
        return false;
    }
    let Ok(live) = g.live() else { return false };
    // Forward from p: every consumer is k, or an elementwise node of p's shape fused into
    // (computed inline by) its consumers, whose consumers are so in turn.
    let mut stack = vec![p];
    let mut seen = vec![false; g.nodes.len()];
    while let Some(x) = stack.pop() {
        for (c, node) in g.nodes.iter().enumerate().skip(x + 1) {
            if !live[c] || c == k || !node.inputs.contains(&x) {
                continue;
            }
            if plan.buffer[c].is_some() || !node.op.is_elementwise() || node.shape != pn.shape {
                return false;
            }
            if !seen[c] {
                seen[c] = true;
                stack.push(c);
            }
        }
    }
    true
}
