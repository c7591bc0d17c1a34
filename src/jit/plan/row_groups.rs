//! Kernels run together, chunk by chunk: consecutive kernels split into the same rows
//! (`Split::Rows` with the same units, the leading axis of each), each reading the others'
//! results only in its own rows, run as one step whose chunks run every member on their rows in
//! turn (`run/pool.rs`). A softmax's maximum of each row, its exponentials, their sum and what
//! reads them then take each chunk of rows from memory once and read it again from cache, where
//! each kernel on its own read all the rows from memory. Every element is computed by the same
//! instructions as before, so the bits do not change.
//!
//! A kernel reads a buffer *by rows* when its unit `i` reads only row `i` of it: through
//! elementwise nodes, reshapes and broadcasts that keep the leading axis (a value per row
//! `[rows, 1]` broadcast along a row is read by rows). Any other read may touch any row. A
//! kernel joins the group when it reads by rows every buffer an earlier member writes, and
//! writes no buffer an earlier member reads otherwise: within a chunk the members run in order,
//! and different chunks touch different rows of everything they share.

use super::small_set::SmallSet;
use super::Plan;
use crate::ir::{Graph, NodeId, Op};
use smallvec::SmallVec;

/// The slots a kernel reads, each by rows or not.
#[derive(Clone, Debug, Default)]
pub(crate) struct RowReads {
    /// Slots read only in the kernel's own rows.
    by_rows: SmallVec<[usize; 8]>,
    /// Slots read anywhere.
    anywhere: SmallVec<[usize; 8]>,
}

impl RowReads {
    /// True when slot `slot` is read by rows.
    pub(crate) fn reads_by_rows(&self, slot: usize) -> bool {
        self.by_rows.contains(&slot)
    }

    /// True when slot `slot` is read at all.
    pub(crate) fn reads(&self, slot: usize) -> bool {
        self.by_rows.contains(&slot) || self.anywhere.contains(&slot)
    }
}

/// How kernel `k` (the root of a loop nest over `units` leading rows) reads its buffers, or
/// `None` when its unit `i` does not write row `i` of its own result alone (a root other than
/// an elementwise node or a reduction that keeps the leading axis).
pub(crate) fn row_reads(g: &Graph, plan: &Plan, k: NodeId, units: usize) -> Option<RowReads> {
    let node = &g.nodes[k];
    let keeps_rows = match node.op.reduced_axes() {
        Some(axes) => !axes.contains(&0),
        None => node.op.is_elementwise(),
    };
    if !keeps_rows || node.shape.first() != Some(&units) {
        return None;
    }
    let mut reads = RowReads::default();
    let mut seen: [SmallSet; 2] = Default::default();
    let mut stack: SmallVec<[(NodeId, bool); 16]> = node.inputs.iter().map(|&c| (c, keeps_row(g, k, c))).collect();
    while let Some((n, by_rows)) = stack.pop() {
        if !seen[usize::from(by_rows)].insert(n) || plan.inline_const[n] {
            continue;
        }
        if let Some(slot) = plan.buffer[n] {
            let list = if by_rows { &mut reads.by_rows } else { &mut reads.anywhere };
            if !list.contains(&slot) {
                list.push(slot);
            }
            continue;
        }
        stack.extend(g.nodes[n].inputs.iter().map(|&c| (c, by_rows && keeps_row(g, n, c))));
    }
    Some(reads)
}

/// True when node `p`'s row `i` (of its leading axis) reads operand `c` in `c`'s row `i` alone.
fn keeps_row(g: &Graph, p: NodeId, c: NodeId) -> bool {
    let (pn, cn) = (&g.nodes[p], &g.nodes[c]);
    let same_leading = !pn.shape.is_empty() && cn.shape.first() == pn.shape.first();
    match &pn.op {
        // Broadcasting aligns the last axes: an operand of the same rank keeps the leading one.
        op if op.is_elementwise() => same_leading && cn.shape.len() == pn.shape.len(),
        Op::Broadcast(_) => same_leading && cn.shape.len() == pn.shape.len(),
        // Row-major: the same leading extent leaves the same elements in each row.
        Op::Reshape(_) => same_leading,
        op => op.reduced_axes().is_some_and(|axes| !axes.contains(&0)) && same_leading,
    }
}

/// True when a kernel reading `reads` and writing `writes` may join a group whose members
/// (`members`: each one's slot and reads) ran before it in each chunk.
pub(crate) fn may_join(members: &[(usize, RowReads)], writes: usize, reads: &RowReads) -> bool {
    members.iter().all(|(written, earlier)| !reads.anywhere.contains(written) && !earlier.anywhere.contains(&writes))
}

/// The slots kernel `k`'s fused expression reads.
pub(crate) fn slots_read(g: &Graph, plan: &Plan, k: NodeId) -> SmallVec<[usize; 8]> {
    super::siblings::reads(g, &plan.buffer, &plan.inline_const, k).into_iter().filter_map(|n| plan.buffer[n]).collect()
}
