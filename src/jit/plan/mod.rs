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
//!
//! The phases, one file each: what each node costs inline (`cost.rs`), which nodes get a
//! buffer (`materialize.rs`), the buffers' slots (`slots.rs`), the kernels that share a loop nest
//! (`siblings.rs`), the kernels that write over an operand (`in_place.rs`); then, for the code
//! generators, which kernels run in chunks on the pool (`split.rs`), how matrix products read
//! their operands (`products.rs`), which products are computed by panels of rows inside their
//! consumer (`panels.rs`, in wider chunks), and where a run of kernels repeats (`repeats.rs`).

mod cost;
mod in_place;
mod materialize;
pub(crate) mod panels;
pub(crate) mod products;
pub(crate) mod repeats;
pub(crate) mod row_groups;
mod siblings;
mod slots;
pub(crate) mod small_set;
pub(crate) mod split;

use crate::array::{DType, Data};
use crate::error::Result;
use crate::ir::{Graph, NodeId, Op};
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
    /// Per node: a kernel that writes over one of its operands (shares its slot,
    /// [`in_place`]).
    pub in_place: Vec<bool>,
}

/// The number of elements of `shape`.
fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// What the planner knows of every node before it decides anything.
struct Facts {
    /// Reached from the outputs.
    live: Vec<bool>,
    /// A constant whose elements are all one value: an immediate, no buffer.
    inline_const: Vec<bool>,
    /// Each node's own inline cost (`cost::own_cost`).
    own: Vec<usize>,
    /// A graph output.
    is_output: Vec<bool>,
    /// The live consumers of each node.
    consumers: siblings::Consumers,
}

impl Facts {
    /// The facts of `g`.
    fn of(g: &Graph) -> Result<Facts> {
        let live = g.live()?;
        let inline_const = g.nodes.iter().map(|nd| matches!(&nd.op, Op::Constant(d) if cost::splat(d))).collect();
        let own = g.nodes.iter().map(|nd| cost::own_cost(g, nd)).collect();
        let mut is_output = vec![false; g.nodes.len()];
        for &o in &g.outputs {
            is_output[o] = true;
        }
        let consumers = siblings::Consumers::of(g, &live);
        Ok(Facts { live, inline_const, own, is_output, consumers })
    }
}

/// Plans `g` (which must be verified).
pub(crate) fn plan(g: &Graph) -> Result<Plan> {
    let mut facts = Facts::of(g)?;
    let mut mat = materialize::materialized(g, &facts);
    let cost = cost::inline_costs(g, &facts.own, &mat);
    materialize::bound_expressions(g, &facts, &mut mat);
    let slots::Assigned { buffer, slots, mut kernels, out_allocs, arena_bytes } = slots::assign(g, &facts, &mat);
    // The plan keeps the immediates; writing over operands needs the other facts only.
    let inline_const = std::mem::take(&mut facts.inline_const);
    let (mut sibling, mut absorbed) = siblings::pair_siblings(g, &buffer, &inline_const, &kernels);
    let axis_sum = siblings::pair_axis_sums(g, &kernels, (&buffer, &inline_const), &sibling, &mut absorbed);
    let pairs = (&mut sibling[..], &mut absorbed[..]);
    siblings::pair_full_sums(g, (&buffer, &inline_const), &mut kernels, pairs, &axis_sum);
    let in_place = vec![false; g.nodes.len()];
    let mut plan = Plan {
        buffer,
        slots,
        inline_const,
        kernels,
        out_allocs,
        arena_bytes,
        cost,
        sibling,
        absorbed,
        axis_sum,
        in_place,
    };
    in_place::write_over_operands(g, &facts, &mut plan);
    Ok(plan)
}
