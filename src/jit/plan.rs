//! Fusion planning: which nodes get a buffer (are materialized) and which are computed inline
//! inside the loop of the kernel that consumes them.
//!
//! A node is materialized when it is an input or a non-scalar constant (its buffer is the
//! caller's / the graph's), a graph output, a reduction or matrix product (each is its own
//! kernel), an operand of a matrix product (a transpose of the last two axes is read through
//! strides: its operand gets the buffer), an elementwise node that would otherwise be computed
//! more than once (several consumers, or a consumer that broadcasts it to more elements), a
//! concatenation of many operands (written piece by piece), and any node whose fused expression
//! would nest deeper than `MAX_INLINE_DEPTH` (so code generation's recursion stays bounded) or
//! read more than `MAX_INLINE_READS` buffers.
//! Layout nodes (broadcast, reshape, permute, slice) are index arithmetic: they are never
//! materialized for having several consumers, they are duplicated into each consumer instead.
//!
//! Sibling kernels share one loop nest: a sum of a whole 1-D operand and a later 1-D kernel of
//! about its length, of its dtype, that reads one of the same buffers (a value and its gradient)
//! are emitted as one loop over the sum's blocks that also writes the other kernel's elements
//! ([`pair_siblings`]; `sum.rs` emits it, keeping the sum's order). A sum of every axis of a
//! 2-D (or higher) operand and a later kernel of the operand's shape reading one of the same
//! buffers (a loss and the gradient of its logits) share one loop nest the same way, the sum
//! moved to the other kernel's place ([`pair_full_sums`]). A sum over one axis of a
//! 2-D kernel's buffer (a bias gradient beside the layer's gradient, a softmax's sum of
//! exponentials) accumulates in that kernel's loop nest, which reads each element once
//! ([`pair_axis_sums`]; `columns.rs`).

use super::gemm::is_matrix_transpose;
use crate::array::{DType, Data};
use crate::error::Result;
use crate::interp::SUM_BLOCK;
use crate::ir::{AxisSlice, Graph, Lowering, NodeId, Op};
use smallvec::SmallVec;
use std::sync::Arc;

/// Where a buffer's memory comes from at run time.
#[derive(Clone, Debug)]
pub(crate) enum Slot {
    /// The caller's input `k`.
    Input(usize),
    /// A constant of the graph.
    Const(Arc<Data>),
    /// A temporary at this byte offset of the per-call arena.
    Temp(usize),
    /// The `k`-th freshly allocated output array.
    Output(usize),
    /// A contiguous slice of an input or constant, read in place: slot `of`'s buffer from
    /// this byte offset on (no kernel copies it).
    View { of: usize, offset: usize },
}

/// The fusion plan of a graph.
pub(crate) struct Plan {
    /// The buffer slot of each node, if it is materialized.
    pub buffer: Vec<Option<usize>>,
    /// The slots.
    pub slots: Vec<Slot>,
    /// Nodes that are constants with one element, emitted as immediates.
    pub inline_const: Vec<bool>,
    /// The materialized computed nodes, in topological order: one kernel (or GEMM call) each.
    pub kernels: Vec<NodeId>,
    /// Dtype and shape of each output allocation.
    pub out_allocs: Vec<(DType, Vec<usize>)>,
    /// The inline cost of each node (capped just above `CHEAP`).
    pub cost: Vec<usize>,
    /// Size of the temporary arena in bytes.
    pub arena_bytes: usize,
    /// Per node: for a sum kernel, the sibling kernel emitted in its loop nest.
    pub sibling: Vec<Option<NodeId>>,
    /// Per node: a kernel emitted inside its sibling sum's loop nest, or a column sum emitted
    /// inside the loop nest of the kernel it sums (not on its own).
    pub absorbed: Vec<bool>,
    /// Per node: for a 2-D kernel, a sum over one of its axes (`reduce_sum(axes = [a])`, with
    /// `a`) that its loop nest also computes ([`pair_axis_sums`]).
    pub axis_sum: Vec<Option<(NodeId, usize)>>,
}

fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

/// Nodes whose inline cost (in simple CLIF ops) is at most this are recomputed by each consumer.
pub(crate) const CHEAP: usize = 16;

/// A cheap node is materialized anyway when (times emitted) x (cost) exceeds this.
const RECOMPUTE_BUDGET: usize = 32;

/// The most levels of inline (fused, unmaterialized) nodes under one kernel's root.
pub(crate) const MAX_INLINE_DEPTH: usize = 48;

/// An inline node whose fused expression would read more distinct buffers than this is
/// materialized (its consumers read it as one buffer). Chosen on W8: 6 to 8 ran its hit 5-10%
/// faster than 12, 16 or no limit, where a weight's gradient summed over 48 time steps read
/// about 95 pointers in one loop nest and spilled them.
pub(crate) const MAX_INLINE_READS: usize = 8;

/// A concatenation of more operands than this is materialized, one loop per operand.
pub(crate) const INLINE_CONCAT_PARTS: usize = 4;

/// True for a constant whose elements are all bit-identical (emitted as an immediate).
fn splat(d: &Data) -> bool {
    let v = d.to_c128_vec();
    !v.is_empty() && v.iter().all(|c| c.re.to_bits() == v[0].re.to_bits() && c.im.to_bits() == v[0].im.to_bits())
}

fn is_leaf(op: &Op) -> bool {
    matches!(op, Op::Input(_) | Op::Constant(_) | Op::MatMul | Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_))
}

fn own_cost(g: &Graph, nd: &crate::ir::Node) -> usize {
    let d = |k: usize| g.nodes[nd.inputs[k]].dtype;
    match &nd.op {
        Op::Input(_)
        | Op::Constant(_)
        | Op::MatMul
        | Op::ReduceSum(_)
        | Op::ReduceMax(_)
        | Op::ReduceMin(_)
        | Op::Call(_) => 0,
        // A host call per element costs more than any inline expression.
        Op::Unary(u) if u.lowering(d(0).is_complex()) == Lowering::Host => CHEAP + 1,
        Op::Binary(b) if b.lowering(d(0).is_complex()) == Lowering::Host => CHEAP + 1,
        Op::Unary(_) | Op::Binary(_) if nd.dtype.is_complex() => 3,
        Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Select | Op::Cast(_) => 1,
        Op::Broadcast(_) | Op::Reshape(_) | Op::Permute(_) | Op::Slice(_) => 0,
        Op::Pad { .. } | Op::Concat(_) => 2,
    }
}

fn is_layout(op: &Op) -> bool {
    matches!(op, Op::Broadcast(_) | Op::Reshape(_) | Op::Permute(_) | Op::Slice(_))
}

/// The cost of computing each node inline: the summed own cost of the distinct computed nodes
/// its fused expression reaches, stopping at leaves (inputs, constants, reductions, matrix
/// products) and at the nodes `stop` marks (buffered ones), capped just above `CHEAP`.
fn inline_costs(g: &Graph, own: &[usize], stop: &[bool]) -> Vec<usize> {
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

/// Plans `g` (which must be verified).
pub(crate) fn plan(g: &Graph) -> Result<Plan> {
    let n = g.nodes.len();
    let live = g.live()?;
    let inline_const: Vec<bool> = g.nodes.iter().map(|nd| matches!(&nd.op, Op::Constant(d) if splat(d))).collect();
    // The cost of computing each node inline: the summed own cost of the distinct computed
    // nodes its fused expression reaches (stopping at inputs, constants, reductions, matrix
    // products). Cheap nodes are recomputed in each consumer rather than materialized.
    let own: Vec<usize> = g.nodes.iter().map(|nd| own_cost(g, nd)).collect();
    let mut is_output = vec![false; n];
    for &o in &g.outputs {
        is_output[o] = true;
    }
    let consumers = Consumers::of(g, &live);
    // Two rounds: the second prices each node's expression with the first round's buffers as
    // leaves (a node above a buffer does not recompute what the buffer holds).
    let mut cost;
    let mut mat = vec![false; n];
    let mut gemm_view = vec![false; n];
    let mut first_round = Vec::new();
    // Per node: how many times its consumers would emit it, and whether one broadcasts it.
    let mut counts = vec![0usize; n];
    let mut expands = vec![false; n];
    for round in 0..2 {
        if round == 1 {
            first_round = mat.clone();
        }
        cost = inline_costs(g, &own, &mat);
        // Nodes computed from splat constants only (a few register ops, no loads): never buffered.
        let mut const_like = inline_const.clone();
        for (id, nd) in g.nodes.iter().enumerate() {
            if !is_leaf(&nd.op) && !nd.inputs.is_empty() && cost[id] <= CHEAP {
                const_like[id] = nd.inputs.iter().all(|&i| const_like[i]);
            }
        }
        mat = vec![false; n];
        let mut emit = vec![0usize; n];
        // Transposes read by a matrix product through strides (`gemm.rs`): their operand gets the
        // buffer instead of them.
        gemm_view = vec![false; n];
        for id in (0..n).rev() {
            if !live[id] {
                continue;
            }
            let nd = &g.nodes[id];
            let mut count = usize::from(is_output[id]);
            let mut expanded = false;
            let mut forced = false;
            for &c in consumers.of_node(id) {
                count = count.saturating_add(if mat[c] { 1 } else { emit[c] });
                let cn = &g.nodes[c];
                let broadcasting = cn.op.is_elementwise() || matches!(cn.op, Op::Broadcast(_));
                if broadcasting && numel(&cn.shape) > numel(&nd.shape) {
                    expanded = true;
                }
                if matches!(cn.op, Op::MatMul) {
                    if is_matrix_transpose(&nd.op) && !is_output[id] {
                        gemm_view[id] = true;
                    } else {
                        forced = true;
                    }
                }
                if gemm_view[c] {
                    forced = true;
                }
            }
            emit[id] = count.max(1);
            counts[id] = count;
            expands[id] = expanded;
            mat[id] = match &nd.op {
                Op::Input(_) => true,
                Op::Constant(_) => !inline_const[id] || forced,
                Op::MatMul | Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_) => true,
                // Written piece by piece into its own buffer rather than tested per element.
                Op::Concat(_) if nd.inputs.len() > INLINE_CONCAT_PARTS => true,
                op => {
                    forced
                        || is_output[id]
                        || (!is_layout(op)
                        && numel(&nd.shape) > 0
                        // Recomputing a cheap node a few times beats a buffer; more often
                        // (nested duplication would grow the code exponentially) it does not.
                        && !const_like[id]
                        && ((count > 1 && (cost[id] > CHEAP || count.saturating_mul(cost[id].max(1)) > RECOMPUTE_BUDGET))
                            || (expanded && cost[id] > CHEAP)))
                }
            };
            // A splat constant is an immediate, unless a matrix product needs its buffer.
            if inline_const[id] && !is_output[id] && !forced {
                mat[id] = false;
            }
        }
    }
    // A node the first round buffered and the second did not keeps its buffer unless its
    // expression, priced with the buffers that remain, is still cheap enough for the times it
    // is emitted (nodes unbuffered together would otherwise recompute each other's
    // expressions), and unless a reduction or a reshape reads it (their index arithmetic is
    // not priced). Buffering more only lowers the other nodes' prices: one pass settles it.
    let remaining = inline_costs(g, &own, &mat);
    for id in 0..n {
        if live[id] && first_round[id] && !mat[id] {
            let (c, k) = (remaining[id], counts[id]);
            let read_by_reduction_or_reshape = consumers.of_node(id).iter().any(|&u| {
                matches!(g.nodes[u].op, Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_) | Op::Reshape(_))
            });
            if read_by_reduction_or_reshape
                || (k > 1 && (c > CHEAP || k.saturating_mul(c.max(1)) > RECOMPUTE_BUDGET))
                || (expands[id] && c > CHEAP)
            {
                mat[id] = true;
            }
        }
    }
    let cost = inline_costs(g, &own, &mat);
    // Bound the depth of every fused expression: code generation walks an expression
    // recursively, so a long chain of inline nodes (an unrolled loop of thousands of
    // elementwise steps) is cut into kernels of at most `MAX_INLINE_DEPTH` levels each.
    // Likewise the distinct buffers one fused expression reads: an unrolled accumulation (a
    // weight's gradient summed over time steps) would read one or two buffers per step in one
    // loop nest, more pointers than registers. (`buffers_read[id]` is what [`reads`] would walk
    // from `id`, built once for every node in order.)
    let mut depth = vec![0usize; n];
    let mut buffers_read: Vec<SmallVec<[NodeId; 4]>> = vec![SmallVec::new(); n];
    for id in 0..n {
        if !live[id] || mat[id] || inline_const[id] {
            continue;
        }
        let inputs = &g.nodes[id].inputs;
        let d = 1 + inputs.iter().map(|&i| depth[i]).max().unwrap_or(0);
        let mut r: SmallVec<[NodeId; 4]> = SmallVec::new();
        for &i in inputs {
            let read: &[NodeId] = match (mat[i], inline_const[i]) {
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
    // A layout node fed by a materialized node is fine; otherwise a materialized layout node
    // (forced) is a kernel of its own.
    let mut buffer = vec![None; n];
    let mut slots = Vec::new();
    let mut kernels = Vec::new();
    let mut out_allocs = Vec::new();
    let mut arena = 0usize;
    for id in 0..n {
        if !live[id] || !mat[id] {
            continue;
        }
        let nd = &g.nodes[id];
        // A contiguous slice of an input or constant is read in place: (offset, slot read).
        let view = match &nd.op {
            Op::Slice(s) if !is_output[id] => contiguous_offset(&g.nodes[nd.inputs[0]].shape, s)
                .zip(buffer[nd.inputs[0]])
                .filter(|&(_, of)| matches!(slots[of], Slot::Input(_) | Slot::Const(_))),
            _ => None,
        };
        let slot = match (&nd.op, view) {
            (Op::Input(k), _) => Slot::Input(*k),
            (Op::Constant(d), _) => Slot::Const(d.clone()),
            (_, Some((elements, of))) => Slot::View { of, offset: elements * nd.dtype.size_of() },
            _ => {
                kernels.push(id);
                if is_output[id] {
                    out_allocs.push((nd.dtype, nd.shape.to_vec()));
                    Slot::Output(out_allocs.len() - 1)
                } else {
                    let off = arena;
                    arena = arena.saturating_add((numel(&nd.shape) * nd.dtype.size_of()).div_ceil(16) * 16);
                    Slot::Temp(off)
                }
            }
        };
        buffer[id] = Some(slots.len());
        slots.push(slot);
    }
    let (mut sibling, mut absorbed) = pair_siblings(g, &buffer, &inline_const, &kernels);
    let axis_sum = pair_axis_sums(g, &kernels, (&buffer, &inline_const), &sibling, &mut absorbed);
    pair_full_sums(g, (&buffer, &inline_const), &mut kernels, (&mut sibling, &mut absorbed), &axis_sum);
    Ok(Plan { buffer, slots, inline_const, kernels, out_allocs, arena_bytes: arena, cost, sibling, absorbed, axis_sum })
}

/// The offset (in elements) of the first element of slice `s` of a row-major array of shape
/// `shape`, when the slice's elements are one contiguous run of the array in the same order
/// (some leading axes of one element, one axis taken in steps of 1, whole axes after it).
fn contiguous_offset(shape: &[usize], s: &[AxisSlice]) -> Option<usize> {
    if s.iter().any(|a| a.len == 0) {
        return None;
    }
    // The last axis not taken whole: the axes after it are whole, those before it must be
    // single elements, and it must go in steps of 1.
    let varying = s.iter().zip(shape).rposition(|(a, &n)| !a.is_full(n));
    let contiguous = varying.is_none_or(|j| (s[j].step == 1 || s[j].len == 1) && s[..j].iter().all(|a| a.len == 1));
    contiguous.then(|| s.iter().zip(shape).fold(0, |offset, (a, &n)| offset * n + a.start))
}

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
fn pair_axis_sums(
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
        let scalar_rows = axis == 0 || (summed as i64) < super::vector::MIN_VECTOR_LOOP;
        if is_kernel[e]
            && elementwise
            && scalar_rows
            && !absorbed[e]
            && sibling[e].is_none()
            && axis_sum[e].is_none()
            && matches!(en.dtype, DType::F32 | DType::F64)
            && summed <= SUM_BLOCK
            && kept <= AXIS_SUM_MAX_KEPT
            && numel(&en.shape) < super::parallel::elementwise_parallel_min(g, buffer, inline_const, e)
        {
            axis_sum[e] = Some((r, axis));
            absorbed[r] = true;
        }
    }
    axis_sum
}

/// The distinct live consumers of every node, in order, in one array (node `i`'s are
/// `ids[start[i]..start[i + 1]]`): no allocation per node.
struct Consumers {
    start: Vec<usize>,
    ids: Vec<NodeId>,
}

impl Consumers {
    /// The consumers among the `live` nodes of `g`.
    fn of(g: &Graph, live: &[bool]) -> Consumers {
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
    fn of_node(&self, id: NodeId) -> &[NodeId] {
        &self.ids[self.start[id]..self.start[id + 1]]
    }
}

/// The buffered nodes the fused expression of kernel `root` reads (not its own buffer).
fn reads(g: &Graph, buffer: &[Option<usize>], inline_const: &[bool], root: NodeId) -> SmallVec<[NodeId; 8]> {
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
/// `s`'s place). Returns, per node, the sibling of each paired sum and whether each node is
/// absorbed into one.
fn pair_siblings(
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
    let candidate = |k: NodeId| {
        let nd = &g.nodes[k];
        nd.shape.len() == 1
            && match &nd.op {
                Op::Input(_) | Op::Constant(_) | Op::MatMul | Op::Call(_) => false,
                Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_) => false,
                Op::Concat(_) => nd.inputs.len() <= INLINE_CONCAT_PARTS,
                _ => true,
            }
    };
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
fn pair_full_sums(
    g: &Graph,
    (buffer, inline_const): (&[Option<usize>], &[bool]),
    kernels: &mut [NodeId],
    (sibling, absorbed): (&mut [Option<NodeId>], &mut [bool]),
    axis_sum: &[Option<(NodeId, usize)>],
) {
    let n_nodes = g.nodes.len();
    // The kernel whose loop nest emits each kernel.
    let mut host: Vec<NodeId> = (0..n_nodes).collect();
    for &k in kernels.iter() {
        if let Some(e) = sibling[k] {
            host[e] = k;
        }
        if let Some((r, _)) = axis_sum[k] {
            host[r] = k;
        }
    }
    let full_sum = |s: NodeId| {
        let nd = &g.nodes[s];
        let operand = match (&nd.op, nd.inputs.first()) {
            (Op::ReduceSum(_), Some(&x)) => &g.nodes[x].shape,
            _ => return false,
        };
        nd.shape.is_empty() && nd.dtype != DType::Bool && operand.len() >= 2 && numel(operand) > 0
    };
    let elementwise = |k: NodeId| {
        let nd = &g.nodes[k];
        match &nd.op {
            Op::Input(_) | Op::Constant(_) | Op::MatMul | Op::Call(_) => false,
            Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_) => false,
            Op::Concat(_) => nd.inputs.len() <= INLINE_CONCAT_PARTS,
            _ => true,
        }
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
        let nd = &g.nodes[s];
        let shape = &g.nodes[nd.inputs[0]].shape;
        let sum_reads = reads(g, buffer, inline_const, s);
        // The kernels from `s` on that depend on `s` (at most `SIBLING_LOOKAHEAD + 1`).
        let mut after = vec![s];
        let mut found = None;
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
                && elementwise(e)
                && sibling[e].is_none()
                && numel(&en.shape) < super::parallel::elementwise_parallel_min(g, buffer, inline_const, e)
                && e_reads.iter().any(|r| sum_reads.contains(r))
            {
                found = Some((pe, e));
                break;
            }
        }
        let Some((pe, e)) = found else { continue };
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
