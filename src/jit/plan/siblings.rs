//! Kernels that share a loop nest (see the planner's module documentation): a whole 1-D sum
//! and its 1-D sibling, a sum of every axis and a kernel of its operand's shape, a sum over one
//! axis of a 2-D kernel inside that kernel's nest; and the consumer lists they are found with.

use super::numel;
use super::split::elementwise_parallel_min;
use crate::array::DType;
use crate::interp::SUM_BLOCK;
use crate::ir::{Graph, NodeId, Op};
use crate::jit::limits::{INLINE_CONCAT_PARTS, MIN_VECTOR_LOOP};
use smallvec::SmallVec;

/// The most elements a kernel with an axis sum keeps (columns for a sum over the rows, rows
/// for a sum over the columns): its four accumulators per kept element live in the function's
/// stack frame (16 KiB at most).
const AXIS_SUM_MAX_KEPT: usize = 512;

/// Pairs axis sums with the kernel they sum (see the module's documentation): a kernel
/// `r = reduce_sum(e, axes = [a])` whose operand `e` is a real 2-D elementwise kernel with at
/// most `SUM_BLOCK` elements along `a` (one block of the blocked order per sum), at most
/// `AXIS_SUM_MAX_KEPT` along the other axis, small enough to stay on the calling thread, with no
/// sibling of its own, is computed in `e`'s loop nest: the sum over the rows of a layer's
/// gradient (its bias gradient), or over the columns of a row shorter than a vector loop
/// (`vector::MIN_VECTOR_LOOP`: its elements then come one at a time, in order), such as a
/// softmax's sum of exponentials. Returns, per node, the axis sum each kernel computes; marks
/// those sums absorbed.
pub(super) fn pair_axis_sums(
    g: &Graph,
    kernels: &[NodeId],
    (buffer, inline_const): (&[Option<usize>], &[bool]),
    sibling: &[Option<NodeId>],
    absorbed: &mut [bool],
) -> Vec<Option<(NodeId, usize)>> {
    let mut axis_sum = vec![None; g.nodes.len()];
    let mut is_kernel = vec![false; g.nodes.len()];
    for &k in kernels {
        is_kernel[k] = true;
    }
    for &r in kernels {
        let rn = &g.nodes[r];
        let axis = match &rn.op {
            Op::ReduceSum(axes) if axes.len() == 1 && axes[0] < 2 => axes[0],
            _ => continue,
        };
        let e = rn.inputs[0];
        let en = &g.nodes[e];
        if absorbed[r] || en.shape.len() != 2 {
            continue;
        }
        let elementwise = en.op.is_elementwise() || matches!(en.op, Op::Broadcast(_) | Op::Slice(_) | Op::Pad { .. });
        let (summed, kept) = (en.shape[axis], en.shape[1 - axis]);
        let scalar_rows = axis == 0 || (summed as i64) < MIN_VECTOR_LOOP;
        if is_kernel[e]
            && elementwise
            && scalar_rows
            && !absorbed[e]
            && sibling[e].is_none()
            && axis_sum[e].is_none()
            && matches!(en.dtype, DType::F32 | DType::F64)
            // A kernel with no elements runs no loop nest, so a sum paired with it would never
            // be written: an empty sum (all zeros) is a kernel of its own.
            && summed > 0
            && summed <= SUM_BLOCK
            && kept <= AXIS_SUM_MAX_KEPT
            && numel(&en.shape) < elementwise_parallel_min(g, buffer, inline_const, e)
        {
            axis_sum[e] = Some((r, axis));
            absorbed[r] = true;
        }
    }
    axis_sum
}

/// True for a kernel that is one elementwise loop nest and so can share a loop nest with a sum:
/// not a leaf, a reduction, a product, a call, or a concatenation written piece by piece.
fn fusable_kernel(g: &Graph, k: NodeId) -> bool {
    let nd = &g.nodes[k];
    match &nd.op {
        Op::Input(_) | Op::Constant(_) | Op::Call(_) => false,
        op if op.is_own_kernel() => false,
        Op::Concat(_) => nd.inputs.len() <= INLINE_CONCAT_PARTS,
        _ => true,
    }
}

/// The distinct live consumers of every node, in order, in one array (node `i`'s are
/// `ids[start[i]..start[i + 1]]`): no allocation per node.
pub(super) struct Consumers {
    start: Vec<usize>,
    ids: Vec<NodeId>,
}

impl Consumers {
    /// The consumers among the `live` nodes of `g`.
    pub(super) fn of(g: &Graph, live: &[bool]) -> Consumers {
        let n = g.nodes.len();
        // Calls `edge(operand, consumer)` once per distinct operand of each live node, in order
        // (`last[i] == id` once `id` is counted as a consumer of `i`).
        let mut last = vec![usize::MAX; n];
        let mut each_edge = |edge: &mut dyn FnMut(NodeId, NodeId)| {
            last.fill(usize::MAX);
            for id in (0..n).filter(|&id| live[id]) {
                for &i in &g.nodes[id].inputs {
                    if last[i] != id {
                        last[i] = id;
                        edge(i, id);
                    }
                }
            }
        };
        let mut start = vec![0usize; n + 1];
        each_edge(&mut |i, _| start[i + 1] += 1);
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut next = start.clone();
        let mut ids = vec![0; start[n]];
        each_edge(&mut |i, id| {
            ids[next[i]] = id;
            next[i] += 1;
        });
        Consumers { start, ids }
    }

    /// The consumers of node `id`, in order.
    pub(super) fn of_node(&self, id: NodeId) -> &[NodeId] {
        &self.ids[self.start[id]..self.start[id + 1]]
    }
}

/// The buffered nodes the fused expression of kernel `root` reads (not its own buffer).
pub(super) fn reads(g: &Graph, buffer: &[Option<usize>], inline_const: &[bool], root: NodeId) -> SmallVec<[NodeId; 8]> {
    let mut seen = super::small_set::SmallSet::default();
    let mut out = SmallVec::new();
    let mut stack: SmallVec<[NodeId; 16]> = SmallVec::from_slice(&g.nodes[root].inputs);
    while let Some(n) = stack.pop() {
        if !seen.insert(n) || inline_const[n] {
            continue;
        }
        if buffer[n].is_some() {
            out.push(n);
        } else {
            stack.extend_from_slice(&g.nodes[n].inputs);
        }
    }
    out
}

/// The shortest sum [`pair_siblings`] pairs (shorter sums have at most one block to share).
const SIBLING_MIN: usize = 2 * SUM_BLOCK;

/// How many of the kernels after a sum [`pair_siblings`] looks at for its sibling (so a long
/// trace of many sums is not searched in quadratic time).
const SIBLING_LOOKAHEAD: usize = 32;

/// Pairs sibling kernels (see the module's documentation): a sum kernel `s` of a whole 1-D
/// operand of `m >= SIBLING_MIN` elements takes the first of the next `SIBLING_LOOKAHEAD`
/// kernels `e` that is 1-D of the same dtype with `n` elements, `|n - m| <= SUM_BLOCK`, is
/// elementwise (not a reduction, a product or a concatenation written piece by piece), reads a
/// buffer that `s` reads, does not read `s`, and reads no kernel from `s` on (so it can run at
/// `s`'s place); or, first, `s`'s operand itself when it is such a kernel emitted just before
/// `s` (no kernel between them, so nothing it reads is overwritten before `s`'s place): the sum
/// then adds the elements it writes. Returns, per node, the sibling of each paired sum and whether each node is
/// absorbed into one.
pub(super) fn pair_siblings(
    g: &Graph,
    buffer: &[Option<usize>],
    inline_const: &[bool],
    kernels: &[NodeId],
) -> (Vec<Option<NodeId>>, Vec<bool>) {
    let n_nodes = g.nodes.len();
    let mut sibling = vec![None; n_nodes];
    let mut absorbed = vec![false; n_nodes];
    let mut position = vec![usize::MAX; n_nodes];
    for (p, &k) in kernels.iter().enumerate() {
        position[k] = p;
    }
    let candidate = |k: NodeId| g.nodes[k].shape.len() == 1 && fusable_kernel(g, k);
    for (ps, &s) in kernels.iter().enumerate() {
        let nd = &g.nodes[s];
        if !matches!(nd.op, Op::ReduceSum(_)) || !nd.shape.is_empty() || nd.dtype == DType::Bool {
            continue;
        }
        let operand = &g.nodes[nd.inputs[0]];
        let m = operand.shape.first().copied().unwrap_or(0);
        if operand.shape.len() != 1 || m < SIBLING_MIN {
            continue;
        }
        // The sum's operand, a kernel emitted just before it: computed in the sum's loop, each
        // element stored and added (`exp(x - m)` and its sum in a log-sum-exp).
        let o = nd.inputs[0];
        if ps > 0 && kernels[ps - 1] == o && !absorbed[o] && candidate(o) && g.nodes[o].dtype == nd.dtype {
            sibling[s] = Some(o);
            absorbed[o] = true;
            continue;
        }
        let sum_reads = reads(g, buffer, inline_const, s);
        for &e in kernels[ps + 1..].iter().take(SIBLING_LOOKAHEAD) {
            let en = &g.nodes[e];
            if absorbed[e] || sibling[e].is_some() || !candidate(e) || en.dtype != nd.dtype {
                continue;
            }
            if en.shape[0].abs_diff(m) > SUM_BLOCK {
                continue;
            }
            let e_reads = reads(g, buffer, inline_const, e);
            let ready = e_reads.iter().all(|&r| position[r] == usize::MAX || position[r] < ps);
            if ready && e_reads.iter().any(|r| sum_reads.contains(r)) {
                sibling[s] = Some(e);
                absorbed[e] = true;
                break;
            }
        }
    }
    (sibling, absorbed)
}

/// For each node, the kernel whose loop nest emits it: the sum whose sibling it is, the kernel
/// whose axis sum it is, else the node itself.
pub(super) fn hosts(sibling: &[Option<NodeId>], axis_sum: &[Option<(NodeId, usize)>]) -> Vec<NodeId> {
    let mut host: Vec<NodeId> = (0..sibling.len()).collect();
    for k in 0..sibling.len() {
        if let Some(e) = sibling[k] {
            host[e] = k;
        }
        if let Some((r, _)) = axis_sum[k] {
            host[r] = k;
        }
    }
    host
}

/// Pairs sums of every axis with siblings of their operand's shape (see the module's
/// documentation): a sum kernel `s` (not of booleans) of a non-empty operand of two or more
/// axes takes the first of the next `SIBLING_LOOKAHEAD` kernels `e` that has the operand's
/// shape and `s`'s dtype, is elementwise (as in [`pair_siblings`]), is small enough to stay on
/// the calling thread, reads a buffer that `s` reads, and depends on no kernel that depends on
/// `s`. `s` then moves to `e`'s place (it is emitted there, writing `e` too: `sibling.rs`), and
/// the kernels between them that depend on `s` (its readers, theirs, ...) move after `e`, so the
/// order stays topological. A kernel emitted in another's loop nest (an absorbed sibling or axis
/// sum) counts as part of that kernel. `e` may compute an axis sum of its own
/// ([`pair_axis_sums`]): it is computed in the shared loop nest.
pub(super) fn pair_full_sums(
    g: &Graph,
    reads_of: (&[Option<usize>], &[bool]),
    kernels: &mut [NodeId],
    (sibling, absorbed): (&mut [Option<NodeId>], &mut [bool]),
    axis_sum: &[Option<(NodeId, usize)>],
) {
    let n_nodes = g.nodes.len();
    let mut host = hosts(sibling, axis_sum);
    let full_sum = |s: NodeId| {
        let nd = &g.nodes[s];
        let operand = match (&nd.op, nd.inputs.first()) {
            (Op::ReduceSum(_), Some(&x)) => &g.nodes[x].shape,
            _ => return false,
        };
        nd.shape.is_empty() && nd.dtype != DType::Bool && operand.len() >= 2 && numel(operand) > 0
    };
    let sums: Vec<NodeId> = kernels.iter().copied().filter(|&s| full_sum(s)).collect();
    let mut position = vec![usize::MAX; n_nodes];
    for (p, &k) in kernels.iter().enumerate() {
        position[k] = p;
    }
    for s in sums {
        let ps = position[s];
        if absorbed[s] || sibling[s].is_some() || ps >= kernels.len() {
            continue;
        }
        let pairs = (&*sibling, &*absorbed);
        let Some((pe, e, after)) = full_sum_sibling(g, reads_of, kernels, ps, pairs, axis_sum, &host) else { continue };
        // Only `kernels[ps..=pe]` changes order.
        let (moved, stay): (Vec<NodeId>, Vec<NodeId>) =
            kernels[ps + 1..pe].iter().partition(|&&k| after.contains(&host[k]));
        let window: Vec<NodeId> = stay.into_iter().chain([s, e]).chain(moved).collect();
        for (p, &k) in (ps..).zip(&window) {
            position[k] = p;
        }
        kernels[ps..=pe].copy_from_slice(&window);
        sibling[s] = Some(e);
        absorbed[e] = true;
        host[e] = s;
    }
}

/// The sibling of full sum `kernels[ps]` (see [`pair_full_sums`]): its position, its node, and
/// the kernels from the sum on that depend on the sum (at most `SIBLING_LOOKAHEAD + 1`, the sum
/// first), which must move after the sibling. `host` is the kernel whose loop nest emits each
/// kernel.
fn full_sum_sibling(
    g: &Graph,
    (buffer, inline_const): (&[Option<usize>], &[bool]),
    kernels: &[NodeId],
    ps: usize,
    (sibling, absorbed): (&[Option<NodeId>], &[bool]),
    axis_sum: &[Option<(NodeId, usize)>],
    host: &[NodeId],
) -> Option<(usize, NodeId, Vec<NodeId>)> {
    let s = kernels[ps];
    let nd = &g.nodes[s];
    let shape = &g.nodes[nd.inputs[0]].shape;
    let sum_reads = reads(g, buffer, inline_const, s);
    let mut after = vec![s];
    for (pe, &e) in kernels.iter().enumerate().skip(ps + 1).take(SIBLING_LOOKAHEAD) {
        if absorbed[e] {
            // Emitted with its kernel (`host`).
            continue;
        }
        let e_reads = reads(g, buffer, inline_const, e);
        let mut unit_reads = e_reads.clone();
        for p in sibling[e].into_iter().chain(axis_sum[e].map(|(r, _)| r)) {
            unit_reads.extend(reads(g, buffer, inline_const, p));
        }
        if unit_reads.iter().any(|r| after.contains(&host[*r])) {
            after.push(e);
            continue;
        }
        let en = &g.nodes[e];
        if &en.shape == shape
            && en.dtype == nd.dtype
            && fusable_kernel(g, e)
            && sibling[e].is_none()
            && numel(&en.shape) < elementwise_parallel_min(g, buffer, inline_const, e)
            && e_reads.iter().any(|r| sum_reads.contains(r))
        {
            return Some((pe, e, after));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::BinaryOp;

    #[test]
    fn consumers_are_distinct_live_and_in_order() {
        let mut g = Graph::new();
        let x = g.input(0, DType::F64, &[3]);
        let y = g.input(1, DType::F64, &[3]);
        let square = g.push(Op::Binary(BinaryOp::Mul), vec![x, x], 0).unwrap();
        let dead = g.push(Op::Binary(BinaryOp::Add), vec![x, y], 0).unwrap();
        let sum = g.push(Op::Binary(BinaryOp::Add), vec![square, y], 0).unwrap();
        let parts = g.push(Op::Concat(0), vec![y, sum, y], 0).unwrap();
        g.outputs = vec![parts];
        let mut live = vec![true; g.nodes.len()];
        live[dead] = false;
        let c = Consumers::of(&g, &live);
        assert_eq!(c.of_node(x), &[square]);
        assert_eq!(c.of_node(y), &[sum, parts]);
        assert_eq!(c.of_node(square), &[sum]);
        assert_eq!(c.of_node(sum), &[parts]);
        assert!(c.of_node(dead).is_empty() && c.of_node(parts).is_empty());
    }
}
