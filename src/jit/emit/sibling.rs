//! Sibling kernels in one loop nest: a sum of a whole 1-D operand and the 1-D kernel that
//! `plan::pair_siblings` paired with it (a value and its gradient, reading the same `x`).
//!
//! The sum's blocks define the loop: `sum.rs` emits them in its usual order, with the same
//! accumulators and vector lanes, so the sum's bits do not change. In the blocks that lie inside
//! one guard-free piece of the sibling (its *window*, `pieces` in `kernel.rs`), every element the
//! sum reads is followed by the sibling's element at the same index, computed in the same mode
//! (vector lanes or scalar) and reusing the loads and subexpressions the sum's element computed;
//! the sibling's value does not depend on where it is computed, so its bits do not change
//! either. The sibling's few elements outside those blocks (the ends) are written after the sum
//! by loops of their own. A sum split into chunks (`parallel.rs`) does this per chunk: each
//! chunk writes the sibling's elements of its own blocks (the last chunk also those past the
//! sum's end), so the chunks write disjoint elements.
//!
//! A sum of every axis of a 2-D (or higher) operand and a kernel of the operand's shape
//! (`plan::pair_full_sums`: a loss and its logits' gradient) share the sum's loop nest the same
//! way: its innermost level sums each row in the blocked order, and its blocks that lie in the
//! sibling's window write the sibling's elements of that row; the outer levels add the row sums
//! in the blocked order as usual, one element per iteration (`sum.rs`, `sum_block_rolled`), so
//! the rows' code, and the sibling's, is emitted once. Such a sum is never split into chunks.

use super::columns::AxisSum;
use super::emitter::{elem_ty, jerr, KernelEmitter, Reduction};
use super::lanes::Lane;
use super::reduce::{inner_lane, Fused, ReduceLevel};
use super::vector::{vector_type, Scan};
use crate::error::Result;
use crate::interp::SUM_BLOCK;
use crate::ir::NodeId;
use crate::jit::limits::{MAX_PIECES, MIN_VECTOR_LOOP};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_frontend::Variable;

impl KernelEmitter<'_, '_> {
    /// Which blocks of sum `sum` write sibling `sib`'s elements: the most that lie inside one
    /// piece of the sibling's loop where its expression has no guard, and runs on vectors
    /// whenever the sum's elements do. `None` when no block does. (For a sum of a 2-D or
    /// higher operand, the blocks of its innermost level, which sums each row along the last
    /// axis: the same blocks of every row.)
    fn fuse_sibling(&mut self, sum: NodeId, sib: NodeId) -> Option<Fused> {
        let g = self.g;
        let operand = g.nodes[sum].inputs[0];
        let axis = g.nodes[operand].shape.len().checked_sub(1)?;
        let (m, n) = (g.nodes[operand].shape[axis], *g.nodes[sib].shape.last()?);
        let dtype = g.nodes[sum].dtype;
        let saved = self.span;
        // The condition `sum.rs` runs the sum's innermost level on vectors under.
        self.span = (0, m as i64);
        let mut s = Scan::new(dtype);
        self.scan(operand, Lane::Axis(axis, Some(0)), false, &mut s);
        let vector = vector_type(dtype).is_some() && s.vector && !dtype.is_complex() && m as i64 >= MIN_VECTOR_LOOP;
        let lane = inner_lane(&g.nodes[sib].shape);
        self.span = (0, n as i64);
        let mut s = Scan::new(dtype);
        self.scan(sib, lane, true, &mut s);
        let mut bounds: Vec<i64> = s.cuts.into_iter().filter(|&c| c > 0 && c < n as i64).collect();
        bounds.sort_unstable();
        bounds.dedup();
        if bounds.len() >= MAX_PIECES {
            bounds.clear();
        }
        bounds.insert(0, 0);
        bounds.push(n as i64);
        let limit = m.min(n) as i64;
        let (full, tail) = (m / SUM_BLOCK, m % SUM_BLOCK);
        let mut best: Option<Fused> = None;
        for w in bounds.windows(2) {
            let (lo, hi) = (w[0], w[1].min(limit));
            if lo >= hi {
                continue;
            }
            if vector {
                self.span = (lo, hi);
                let mut s = Scan::new(dtype);
                self.scan(sib, lane, true, &mut s);
                if !s.vector {
                    continue;
                }
            }
            let first = (lo as usize).div_ceil(SUM_BLOCK);
            let mut end = (hi as usize / SUM_BLOCK).min(full);
            if tail > 0 && end == full && first <= full && m as i64 <= hi {
                end = full + 1;
            }
            if end <= first {
                continue;
            }
            let covered = ((first * SUM_BLOCK) as i64, (end * SUM_BLOCK).min(m) as i64);
            if best.as_ref().is_none_or(|b| b.covered.1 - b.covered.0 < covered.1 - covered.0) {
                best = Some(Fused { node: sib, window: (lo, hi), blocks: (first, end), covered, axis_sum: None });
            }
        }
        self.span = saved;
        best
    }

    /// Loads the pointers kernel `root` needs in addition to those already loaded.
    pub(crate) fn add_pointers(&mut self, bufs: Value, root: NodeId) -> Result<()> {
        let mut slots = vec![self.plan.buffer[root].ok_or_else(|| jerr("kernel root without a buffer"))?];
        self.collect_slots(root, &mut slots);
        for s in slots {
            if !self.ptrs.contains_key(&s) {
                let p = self.slot_pointer(bufs, s);
                self.ptrs.insert(s, p);
            }
        }
        Ok(())
    }

    /// The sum level of kernel `sum` (a whole 1-D sum), with `fused` written in its blocks.
    fn sibling_level<'r>(
        &self,
        sum: NodeId,
        in_shape: &'r [usize],
        vars: &'r [Vec<Variable>],
        fused: Option<&'r Fused>,
    ) -> ReduceLevel<'r> {
        let node = &self.g.nodes[sum];
        ReduceLevel {
            level: 0,
            axes: &[0],
            in_shape,
            full: &[None],
            vars,
            operand: node.inputs[0],
            dtype: node.dtype,
            kind: Reduction::Sum,
            sibling: fused,
        }
    }

    /// Kernel `sum` and its sibling `sib` at the current position: the sum's loop writing the
    /// sibling's fused elements, then the sibling's other elements.
    pub(crate) fn emit_sum_with_sibling(&mut self, bufs: Value, sum: NodeId, sib: NodeId) -> Result<()> {
        if self.g.nodes[self.g.nodes[sum].inputs[0]].shape.len() >= 2 {
            return self.emit_full_sum_with_sibling(bufs, sum, sib);
        }
        self.load_pointers(bufs, sum, sum)?;
        self.add_pointers(bufs, sib)?;
        let fused = self.fuse_sibling(sum, sib);
        let fused = self.producer_first(sum, sib, fused, None)?;
        let in_shape = self.g.nodes[self.g.nodes[sum].inputs[0]].shape.clone();
        let dtype = self.g.nodes[sum].dtype;
        let vars =
            vec![(0..if dtype.is_complex() { 2 } else { 1 }).map(|_| self.b.declare_var(elem_ty(dtype))).collect()];
        let red = self.sibling_level(sum, &in_shape, &vars, fused.as_ref());
        self.reduce_level(&red)?;
        let v = self.read_vars(&vars[0]);
        self.store(sum, &[], v);
        let n = self.g.nodes[sib].shape[0] as i64;
        if self.g.nodes[sum].inputs[0] == sib {
            // Written by the sum's blocks or before them.
            return Ok(());
        }
        let (c0, c1) = fused.as_ref().map_or((0, 0), |f| f.covered);
        self.emit_sibling_columns(sib, (0, c0), None)?;
        self.emit_sibling_columns(sib, (c1, n), None)
    }

    /// The chunk `(lo, hi, part)` of kernel `sum` split into chunks of blocks, with its sibling
    /// `sib`: blocks `lo..hi` of the sum writing the sibling's fused elements, then the
    /// sibling's other elements of the chunk's range (up to the sibling's end in the last).
    pub(crate) fn emit_sum_chunk_with_sibling(
        &mut self,
        bufs: Value,
        sum: NodeId,
        sib: NodeId,
        (lo, hi, part): (Value, Value, Value),
    ) -> Result<()> {
        self.load_pointers(bufs, sum, sum)?;
        self.add_pointers(bufs, sib)?;
        let fused = self.fuse_sibling(sum, sib);
        let in_shape = self.g.nodes[self.g.nodes[sum].inputs[0]].shape.clone();
        let (m, n) = (in_shape[0], self.g.nodes[sib].shape[0] as i64);
        let end = self.b.ins().iconst(types::I64, n);
        let first = self.b.ins().imul_imm_s(lo, SUM_BLOCK as i64);
        let first = self.b.ins().umin(first, end);
        let last = self.b.ins().imul_imm_s(hi, SUM_BLOCK as i64);
        let last = self.b.ins().umin(last, end);
        let is_last = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, hi, m.div_ceil(SUM_BLOCK) as i64);
        let last = self.b.ins().select(is_last, end, last);
        let fused = self.producer_first(sum, sib, fused, Some((first, last)))?;
        let red = self.sibling_level(sum, &in_shape, &[], fused.as_ref());
        self.sum_chunk(&red, lo, hi, part)?;
        if self.g.nodes[sum].inputs[0] == sib {
            // Written by the sum's blocks or before them.
            return Ok(());
        }
        let (c0, c1) = fused.as_ref().map_or((0, 0), |f| f.covered);
        self.range = Some((first, last));
        self.emit_sibling_columns(sib, (0, c0), None)?;
        self.range = Some((first, last));
        self.emit_sibling_columns(sib, (c1, n), None)?;
        if self.range.take().is_some() {
            return Err(jerr("a chunk of a sibling without a partitioned loop"));
        }
        Ok(())
    }

    /// For a sibling that is the sum's operand (`plan::pair_siblings`): the fused blocks when
    /// they cover every element; otherwise every element of the sibling written now, before the
    /// sum reads them (those of the chunk's range `range` in a chunk function), and no fused
    /// blocks.
    fn producer_first(
        &mut self,
        sum: NodeId,
        sib: NodeId,
        fused: Option<Fused>,
        range: Option<(Value, Value)>,
    ) -> Result<Option<Fused>> {
        let n = self.g.nodes[sib].shape[0] as i64;
        if self.g.nodes[sum].inputs[0] != sib || fused.as_ref().is_some_and(|f| f.covered == (0, n)) {
            return Ok(fused);
        }
        self.range = range;
        self.emit_sibling_columns(sib, (0, n), None)?;
        if self.range.take().is_some() {
            return Err(jerr("a chunk of a sibling without a partitioned loop"));
        }
        Ok(None)
    }

    /// Kernel `sum`, a sum of every axis of an operand of two or more axes, and its sibling
    /// `sib`, a kernel of the operand's shape (`plan::pair_full_sums`): the sum's loop nest in
    /// its usual order (each row along the last axis summed in the blocked order, then the
    /// row sums, level by level), whose innermost level writes the sibling's elements of the
    /// same row and column in its fused blocks (`fuse_sibling`: the same columns in every row);
    /// then the sibling's other columns, in a loop nest of their own. A sum over one axis of
    /// the sibling (`columns.rs`) accumulates each element the sibling writes, in either nest:
    /// one over the rows takes each column's elements in row order in either; one over the
    /// columns (of rows of scalar code) needs each row's elements in order, so it is fused only
    /// when the sum's blocks write every column (else the sibling has the second nest alone).
    fn emit_full_sum_with_sibling(&mut self, bufs: Value, sum: NodeId, sib: NodeId) -> Result<()> {
        self.load_pointers(bufs, sum, sum)?;
        self.add_pointers(bufs, sib)?;
        let in_shape = self.g.nodes[self.g.nodes[sum].inputs[0]].shape.clone();
        let n = *self.g.nodes[sib].shape.last().ok_or_else(|| jerr("a sibling of no axes"))? as i64;
        if self.g.nodes[sib].shape != in_shape {
            return Err(jerr("a sibling of another shape than its sum's operand"));
        }
        let mut fused = self.fuse_sibling(sum, sib);
        let axis_sum = self.plan.axis_sum[sib];
        if matches!(axis_sum, Some((_, 1))) && fused.as_ref().is_some_and(|f| f.covered != (0, n)) {
            fused = None;
        }
        let mut acc = match axis_sum {
            Some((r, axis)) => Some(self.begin_axis_sum(bufs, sib, r, axis)?),
            None => None,
        };
        if let Some(f) = fused.as_mut() {
            f.axis_sum = acc.take();
        }
        let dtype = self.g.nodes[sum].dtype;
        let axes: Vec<usize> = (0..in_shape.len()).collect();
        let full = vec![None; in_shape.len()];
        let vars: Vec<Vec<_>> = axes
            .iter()
            .map(|_| (0..if dtype.is_complex() { 2 } else { 1 }).map(|_| self.b.declare_var(elem_ty(dtype))).collect())
            .collect();
        let red = ReduceLevel {
            level: 0,
            axes: &axes,
            in_shape: &in_shape,
            full: &full,
            vars: &vars,
            operand: self.g.nodes[sum].inputs[0],
            dtype,
            kind: Reduction::Sum,
            sibling: fused.as_ref(),
        };
        self.reduce_level(&red)?;
        let v = self.read_vars(&vars[0]);
        self.store(sum, &[], v);
        let (c0, c1) = fused.as_ref().map_or((0, 0), |f| f.covered);
        let acc = fused.as_ref().map_or(acc.as_ref(), |f| f.axis_sum.as_ref());
        self.emit_sibling_columns(sib, (0, c0), acc)?;
        self.emit_sibling_columns(sib, (c1, n), acc)?;
        if let Some(a) = acc {
            self.finish_axis_sum(a)?;
        }
        Ok(())
    }

    /// The columns `clip` (along the last axis) of every row of kernel `sib`, each element
    /// also added to the axis sum `acc`; in a chunk function, the rows (or, for a 1-D
    /// sibling, the elements) of the chunk's range `self.range` only.
    fn emit_sibling_columns(&mut self, sib: NodeId, clip: (i64, i64), acc: Option<&AxisSum>) -> Result<()> {
        if clip.0 >= clip.1 {
            // Nothing to write (a chunk's range is consumed all the same).
            self.range = None;
            return Ok(());
        }
        let node = &self.g.nodes[sib];
        let (shape, dtype) = (node.shape.clone(), node.dtype);
        let Some((&n, outer)) = shape.split_last() else { return Err(jerr("a sibling of no axes")) };
        let lane = inner_lane(&shape);
        let mut row = |k: &mut Self, idx: &[Value]| -> Result<()> {
            k.pieces_in(n, sib, true, lane, dtype, clip, &mut |k: &mut Self, i: Value| {
                let mut at = idx.to_vec();
                at.push(i);
                k.write_element(sib, &at, lane, acc)
            })
        };
        self.nest(outer, &[], &mut row)
    }
}
