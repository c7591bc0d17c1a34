//! Row groups in the schedule (`plan/row_groups.rs`): a chunked kernel starts a group, and each
//! kernel after it that keeps its rows joins it (a kernel too small to be split only when it
//! reads the members' results), while the kernels that cannot join (a small sum of the whole)
//! wait until the group has run. Each member is linked as a chunked step of
//! its own; the members' steps then become one step that runs them chunk by chunk.

use super::steps::Schedule;
use crate::error::Result;
use crate::ir::{Graph, NodeId};
use crate::jit::emit::jerr;
use crate::jit::plan::row_groups::{may_join, row_reads, slots_read, RowReads};
use crate::jit::plan::split::Split;
use crate::jit::plan::Plan;
use crate::jit::run::runtime::{RowGroup, Step};

/// The most kernels a group runs (each is a function of its own, where kernels too small to
/// be split would otherwise share functions, `plan/repeats.rs`), and the most small kernels
/// that may wait behind it.
const MAX_MEMBERS: usize = 16;

/// Consecutive chunked steps, from step `first` on, one per member, split into the same rows.
pub(super) struct RowGroupSteps {
    first: usize,
    /// Each member's slot and reads.
    members: Vec<(usize, RowReads)>,
    units: usize,
    /// The smallest of the members' chunks.
    chunk: usize,
}

impl Schedule {
    /// Chunked kernel `k`, about to be pushed as a step of its own: the first member of a new
    /// group.
    pub(super) fn start_row_group(&mut self, g: &Graph, plan: &Plan, k: NodeId, split: &Split) {
        let (&Split::Rows { units, chunk }, Some(writes)) = (split, plan.buffer[k]) else { return };
        if !plan_alone(plan, k) {
            return;
        }
        if let Some(reads) = row_reads(g, plan, k, units) {
            let first = self.steps.len();
            self.row_groups.push(RowGroupSteps { first, members: vec![(writes, reads)], units, chunk });
        }
    }

    /// How kernel `k` (split as `split`, or not split at all) runs as one more member of the
    /// group whose steps are the last ones, if it may: it keeps the group's rows, reads what the
    /// members write only in its own rows, writes nothing they read elsewhere, and neither reads
    /// what the kernels pending in `pending` (to run after the group) write nor writes what they
    /// read.
    pub(super) fn row_group_member(
        &mut self,
        g: &Graph,
        plan: &Plan,
        k: NodeId,
        split: Option<&Split>,
        pending: &[NodeId],
    ) -> Option<Split> {
        let steps = self.steps.len();
        let group = self.row_groups.last_mut().filter(|r| r.first + r.members.len() == steps)?;
        let units = group.units;
        // Bounded, so that scheduling stays linear in the kernels however long a run of small
        // ones waits behind a group.
        if group.members.len() >= MAX_MEMBERS || pending.len() > MAX_MEMBERS {
            return None;
        }
        let chunk = match split {
            None => units,
            Some(&Split::Rows { units: u, chunk }) if u == units => chunk,
            Some(_) => return None,
        };
        let writes = plan.buffer[k]?;
        let reads = row_reads(g, plan, k, units)?;
        // A kernel too small to be split joins only to read the members' rows while in cache.
        if split.is_none() && !group.members.iter().any(|(w, _)| reads.reads_by_rows(*w)) {
            return None;
        }
        if !plan_alone(plan, k)
            || !may_join(&group.members, writes, &reads)
            || !passes(g, plan, pending, &reads, writes)
        {
            return None;
        }
        group.members.push((writes, reads));
        group.chunk = group.chunk.min(chunk);
        Some(Split::Rows { units, chunk })
    }

    /// Replaces each group of two or more linked chunked steps by one step that runs them chunk
    /// by chunk.
    pub(super) fn merge_row_groups(&mut self) -> Result<()> {
        let groups: Vec<_> = self.row_groups.drain(..).rev().filter(|r| r.members.len() > 1).collect();
        for group in groups {
            let range = group.first..group.first + group.members.len();
            let mut parts = Vec::with_capacity(range.len());
            for step in self.steps.drain(range) {
                match step {
                    Step::Chunked { f, table, panel: None, .. } => parts.push((f, table)),
                    _ => return Err(jerr("internal: a row group of other steps")),
                }
            }
            let (units, chunk) = (group.units, group.chunk);
            self.steps.insert(group.first, Step::RowGroup(Box::new(RowGroup { parts, units, chunk })));
            self.shift_shares(group.first + group.members.len(), group.members.len() - 1);
        }
        Ok(())
    }
}

/// True when kernel `k`'s loop nest computes `k` alone (no sum of another kernel in it).
fn plan_alone(plan: &Plan, k: NodeId) -> bool {
    plan.sibling[k].is_none() && plan.axis_sum[k].is_none()
}

/// True when a kernel reading `reads` and writing slot `writes` may run before the kernels
/// `pending`: it reads nothing they write, and writes nothing they read.
fn passes(g: &Graph, plan: &Plan, pending: &[NodeId], reads: &RowReads, writes: usize) -> bool {
    pending.iter().all(|&p| {
        plan_alone(plan, p)
            && plan.buffer[p].is_some_and(|w| !reads.reads(w))
            && !slots_read(g, plan, p).contains(&writes)
    })
}
