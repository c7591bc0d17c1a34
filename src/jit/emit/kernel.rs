//! Kernels and loop nests: a function runs several kernels in a row; each kernel is a loop nest
//! over its output (and, for a reduction, over the reduced axes, with an accumulator per level)
//! whose body evaluates the fused expression at one multi-index. Every bound is a constant.

use super::columns::AxisSum;
use super::emitter::Reduction;
use super::emitter::{jerr, Index, KernelEmitter};
use super::lanes::Lane;
use super::reduce::{inner_lane, ReduceLevel};
use crate::error::Result;
use crate::ir::{NodeId, Op};
use crate::jit::plan::split::Split;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;
use cranelift_module::Module;

impl KernelEmitter<'_, '_> {
    /// The slots a kernel rooted at `root` reads (not its own).
    /// Walks the fused expression with an explicit stack, visiting each node once.
    pub(crate) fn collect_slots(&self, root: NodeId, out: &mut Vec<usize>) {
        let mut seen = rustc_hash::FxHashSet::default();
        let mut stack: Vec<NodeId> = self.g.nodes[root].inputs.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            if !seen.insert(n) {
                continue;
            }
            if let Some(s) = self.plan.buffer[n] {
                if !out.contains(&s) {
                    out.push(s);
                }
                continue;
            }
            if self.plan.inline_const[n] {
                continue;
            }
            stack.extend(self.g.nodes[n].inputs.iter().rev());
        }
    }

    /// Emits one function that runs the kernels `roots` (materialized, computed nodes) in
    /// order, each a loop nest of its own.
    pub(crate) fn emit_kernels(mut self, roots: &[NodeId]) -> Result<()> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let bufs = self.b.block_params(entry)[0];
        let mut at = 0;
        while at < roots.len() {
            // Pointers are loaded again for each kernel, in the block it starts in, so each
            // load dominates its uses.
            self.ptrs.clear();
            self.memo.clear();
            let group = self.reductions_alike(&roots[at..]);
            self.with_rare_paths_apart(&roots[at..at + group.max(1)], |k| {
                if group > 1 {
                    k.emit_reduce_group(bufs, &roots[at..at + group])
                } else {
                    k.emit_kernel(bufs, roots[at])
                }
            })?;
            self.forward_results(&roots[at..at + group.max(1)]);
            at += group.max(1);
        }
        self.b.ins().return_(&[]);
        self.b.seal_all_blocks();
        let cfg = self.module.target_config();
        self.b.finalize(cfg);
        Ok(())
    }

    /// Emits one chunk function `fn(bufs, lo, hi, part)` of kernel `root`, split as `split`
    /// says (`parallel.rs`): it runs units `lo..hi` of the kernel's outermost loop, or blocks
    /// `lo..hi` of a sum, leaving their partial sums at `part`.
    pub(crate) fn emit_chunk_function(mut self, root: NodeId, split: &Split) -> Result<()> {
        let entry = self.b.create_block();
        self.b.append_block_params_for_function_params(entry);
        self.b.switch_to_block(entry);
        let p = self.b.block_params(entry).to_vec();
        let (bufs, lo, hi, part) = (p[0], p[1], p[2], p[3]);
        if let Split::Sum { .. } = split {
            // The runtime writes the combined sum through the table's first entry.
            self.table.push(self.plan.buffer[root].ok_or_else(|| jerr("a sum without a buffer"))?);
        }
        self.with_rare_paths_apart(&[root], |k| k.emit_chunk(bufs, root, split, (lo, hi, part)))?;
        self.b.ins().return_(&[]);
        self.b.seal_all_blocks();
        let cfg = self.module.target_config();
        self.b.finalize(cfg);
        Ok(())
    }

    /// The body of a chunk function (`emit_chunk_function`): units or blocks `lo..hi` of kernel
    /// `root`, a sum's partials at `part`.
    fn emit_chunk(
        &mut self,
        bufs: Value,
        root: NodeId,
        split: &Split,
        (lo, hi, part): (Value, Value, Value),
    ) -> Result<()> {
        match split {
            Split::Rows { .. } => {
                self.range = Some((lo, hi));
                self.emit_kernel(bufs, root)?;
                if self.range.take().is_some() {
                    return Err(jerr("a chunked kernel without a partitioned loop"));
                }
            }
            Split::Sum { .. } if self.plan.sibling[root].is_some() => {
                let sib = self.plan.sibling[root].ok_or_else(|| jerr("a sibling"))?;
                self.emit_sum_chunk_with_sibling(bufs, root, sib, (lo, hi, part))?;
            }
            Split::Sum { .. } => {
                self.load_pointers(bufs, root, root)?;
                let node = &self.g.nodes[root];
                let operand = node.inputs[0];
                let in_shape = self.g.nodes[operand].shape.clone();
                let dtype = node.dtype;
                let axes = vec![0usize];
                let vars: Vec<Vec<Variable>> = Vec::new();
                let red = ReduceLevel {
                    level: 0,
                    axes: &axes,
                    in_shape: &in_shape,
                    full: &[None],
                    vars: &vars,
                    operand,
                    dtype,
                    kind: Reduction::Sum,
                    sibling: None,
                };
                self.sum_chunk(&red, lo, hi, part)?;
            }
        }
        Ok(())
    }

    /// Emits the loop nest of kernel `root` at the current position.
    pub(crate) fn emit_kernel(&mut self, bufs: Value, root: NodeId) -> Result<()> {
        let node = &self.g.nodes[root];
        if let Op::Concat(axis) = node.op {
            return self.emit_concat_pieces(bufs, root, axis);
        }
        if let Some(sib) = self.plan.sibling[root] {
            return self.emit_sum_with_sibling(bufs, root, sib);
        }
        self.load_pointers(bufs, root, root)?;
        match &node.op {
            op if op.is_reduction() => {
                let axes = op.reduced_axes().unwrap_or_default().to_vec();
                self.emit_reduce(root, &axes)?;
            }
            Op::MatMul => self.emit_small_product(root)?,
            _ if node.shape.len() >= 2
                && self.range.is_none()
                && self.plan.axis_sum[root].is_none()
                && self.reads_same_shape_only(root) =>
            {
                // One loop over the elements in memory order: no loop per axis, and a vector
                // loop however short the last axis is.
                let n = node.shape.iter().product::<usize>();
                let dtype = node.dtype;
                let mut body = |k: &mut Self, i: Value| -> Result<()> {
                    k.memo.clear();
                    let v = k.expr_op(root, Index::Linear(i, Lane::Flat))?;
                    let at = k.addr(root, i);
                    k.store_elem(at, v, dtype);
                    Ok(())
                };
                self.with_short_vectors(true, |k| k.pieces(n, root, true, Lane::Flat, dtype, &mut body))?;
            }
            _ => {
                let shape = node.shape.clone();
                let lane = inner_lane(&shape);
                let axis_sum = match self.plan.axis_sum[root] {
                    Some((sum, axis)) => Some(self.begin_axis_sum(bufs, root, sum, axis)?),
                    None => None,
                };
                let mut body = |k: &mut Self, idx: &[Value]| k.write_element(root, idx, lane, axis_sum.as_ref());
                let short = axis_sum.is_none();
                self.with_short_vectors(short, |k| k.nest_pieces(&shape, root, true, &mut body))?;
                if let Some(sum) = &axis_sum {
                    self.finish_axis_sum(sum)?;
                }
            }
        }
        Ok(())
    }

    /// Computes kernel `root`'s element at multi-index `idx` (its innermost index moving along
    /// `lane`) and stores it, adding it to `axis_sum` when the kernel accumulates one.
    pub(crate) fn write_element(
        &mut self,
        root: NodeId,
        idx: &[Value],
        lane: Lane,
        axis_sum: Option<&AxisSum>,
    ) -> Result<()> {
        self.memo.clear();
        let v = self.expr_op(root, Index::Multi(idx.to_vec(), lane))?;
        self.store(root, idx, v);
        match (axis_sum, idx) {
            (Some(sum), [i, j, ..]) => self.accumulate_axis_sum(sum, *i, *j, v),
            _ => Ok(()),
        }
    }

    /// Runs `emit` with [`KernelEmitter::short_vectors`] set to `on` (and cleared after).
    fn with_short_vectors(&mut self, on: bool, emit: impl FnOnce(&mut Self) -> Result<()>) -> Result<()> {
        self.short_vectors = on;
        let r = emit(self);
        self.short_vectors = false;
        r
    }

    /// True when kernel `root`'s fused expression is elementwise ops only, each operand of the
    /// root's shape (or an immediate): every element it reads has the root element's linear
    /// index, so the kernel can run as one loop over the elements in memory order.
    fn reads_same_shape_only(&self, root: NodeId) -> bool {
        let shape = &self.g.nodes[root].shape;
        let mut seen = rustc_hash::FxHashSet::default();
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            let node = &self.g.nodes[n];
            if !node.op.is_elementwise() {
                return false;
            }
            for &i in &node.inputs {
                if self.plan.inline_const[i] {
                    continue;
                }
                if &self.g.nodes[i].shape != shape {
                    return false;
                }
                if self.plan.buffer[i].is_none() && seen.insert(i) {
                    stack.push(i);
                }
            }
        }
        true
    }

    /// Loads the buffer pointers that kernel `root` needs to compute `expr` (its own
    /// expression, or one piece of it) at the current position.
    pub(crate) fn load_pointers(&mut self, bufs: Value, root: NodeId, expr: NodeId) -> Result<()> {
        let mut slots = vec![self.plan.buffer[root].ok_or_else(|| jerr("kernel root without a buffer"))?];
        if expr == root {
            self.collect_slots(root, &mut slots);
        } else if let Some(s) = self.plan.buffer[expr] {
            slots.push(s);
        } else {
            self.collect_slots(expr, &mut slots);
        }
        self.ptrs.clear();
        for s in slots {
            let p = self.slot_pointer(bufs, s);
            self.ptrs.insert(s, p);
        }
        Ok(())
    }

    /// The base pointer of buffer slot `slot`, loaded from the function's pointer table `bufs`
    /// (see [`KernelEmitter::table`]).
    pub(crate) fn slot_pointer(&mut self, bufs: Value, slot: usize) -> Value {
        let entry = match self.table.iter().position(|&s| s == slot) {
            Some(i) => i,
            None => {
                self.table.push(slot);
                self.table.len() - 1
            }
        };
        self.b.ins().load(self.ptr_ty, MemFlagsData::trusted().with_readonly(), bufs, (entry * 8) as i32)
    }

    /// A materialized concatenation: one loop nest per operand, each writing its own range of
    /// the output, with no test per element (and no nesting that grows with the operands).
    pub(crate) fn emit_concat_pieces(&mut self, bufs: Value, root: NodeId, axis: usize) -> Result<()> {
        let mut offset = 0usize;
        for &part in &self.g.nodes[root].inputs {
            let shape = self.g.nodes[part].shape.clone();
            let len = shape[axis];
            if len > 0 {
                self.load_pointers(bufs, root, part)?;
                let lane = inner_lane(&shape);
                let mut body = |k: &mut Self, idx: &[Value]| -> Result<()> {
                    k.memo.clear();
                    let v = k.expr(part, Index::Multi(idx.to_vec(), lane))?;
                    let mut out_idx = idx.to_vec();
                    out_idx[axis] = k.offset(idx[axis], offset as i64);
                    k.store(root, &out_idx, v);
                    Ok(())
                };
                self.nest_pieces(&shape, part, false, &mut body)?;
            }
            offset += len;
        }
        Ok(())
    }
}
