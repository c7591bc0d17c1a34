//! Kernels and loop nests: a function runs several kernels in a row; each kernel is a loop nest
//! over its output (and, for a reduction, over the reduced axes, with an accumulator per level)
//! whose body evaluates the fused expression at one multi-index. Every bound is a constant.

use super::columns::AxisSum;
use super::emitter::{elem_ty, jerr, Elem, Index, KernelEmitter, Lane, Reduction};
use super::parallel::Split;
use super::sibling::Fused;
use super::vector::{vector_type, Scan, MAX_PIECES, MIN_SHORT_VECTOR_LOOP, MIN_VECTOR_LOOP};
use crate::array::DType;
use crate::error::Result;
use crate::ir::{NodeId, Op};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_frontend::Variable;
use cranelift_module::Module;

impl KernelEmitter<'_, '_> {
    /// The slots a kernel rooted at `root` reads (not its own).
    /// Walks the fused expression with an explicit stack, visiting each node once.
    pub(super) fn collect_slots(&self, root: NodeId, out: &mut Vec<usize>) {
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
            if group > 1 {
                self.emit_reduce_group(bufs, &roots[at..at + group])?;
            } else {
                self.emit_kernel(bufs, roots[at])?;
            }
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
        self.b.ins().return_(&[]);
        self.b.seal_all_blocks();
        let cfg = self.module.target_config();
        self.b.finalize(cfg);
        Ok(())
    }

    /// Emits the loop nest of kernel `root` at the current position.
    pub(super) fn emit_kernel(&mut self, bufs: Value, root: NodeId) -> Result<()> {
        let node = &self.g.nodes[root];
        if let Op::Concat(axis) = node.op {
            return self.emit_concat_pieces(bufs, root, axis);
        }
        if let Some(sib) = self.plan.sibling[root] {
            return self.emit_sum_with_sibling(bufs, root, sib);
        }
        self.load_pointers(bufs, root, root)?;
        match &node.op {
            Op::ReduceSum(axes) | Op::ReduceMax(axes) | Op::ReduceMin(axes) => {
                let axes = axes.clone();
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
    pub(super) fn write_element(
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
    pub(super) fn load_pointers(&mut self, bufs: Value, root: NodeId, expr: NodeId) -> Result<()> {
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
    pub(super) fn slot_pointer(&mut self, bufs: Value, slot: usize) -> Value {
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
    pub(super) fn emit_concat_pieces(&mut self, bufs: Value, root: NodeId, axis: usize) -> Result<()> {
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

    /// A loop over `0..n`: `body(i)`. Nothing for `n == 0`, no loop for `n == 1`.
    pub(super) fn emit_loop(&mut self, n: usize, body: &mut dyn FnMut(&mut Self, Value) -> Result<()>) -> Result<()> {
        self.emit_range(0, 1, n as i64, body)
    }

    /// A loop over `i = start + k * step` for `k` in `0..count`: `body(i)`.
    pub(super) fn emit_range(
        &mut self,
        start: i64,
        step: i64,
        count: i64,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<()> {
        if count <= 0 {
            return Ok(());
        }
        if count == 1 {
            let z = self.b.ins().iconst(types::I64, start);
            return body(self, z);
        }
        let head = self.b.create_block();
        let exit = self.b.create_block();
        self.b.append_block_param(head, types::I64);
        let z = self.b.ins().iconst(types::I64, start);
        self.b.ins().jump(head, &[z.into()]);
        self.b.switch_to_block(head);
        let i = self.b.block_params(head)[0];
        body(self, i)?;
        let i1 = self.b.ins().iadd_imm_s(i, step);
        let c = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, i1, start + count * step);
        self.b.ins().brif(c, head, &[i1.into()], exit, &[]);
        self.b.switch_to_block(exit);
        Ok(())
    }

    /// A loop over `i = lo, lo + step, ...` while `i + step <= hi` (run-time bounds): `body(i)`.
    /// Returns the first `i` not run.
    pub(super) fn emit_dyn(
        &mut self,
        lo: Value,
        hi: Value,
        step: i64,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<Value> {
        let (head, run, exit) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.append_block_param(head, types::I64);
        self.b.append_block_param(exit, types::I64);
        self.b.ins().jump(head, &[lo.into()]);
        self.b.switch_to_block(head);
        let i = self.b.block_params(head)[0];
        let next = self.b.ins().iadd_imm_s(i, step);
        let c = self.b.ins().icmp(IntCC::UnsignedLessThanOrEqual, next, hi);
        self.b.ins().brif(c, run, &[], exit, &[i.into()]);
        self.b.switch_to_block(run);
        body(self, i)?;
        self.b.ins().jump(head, &[next.into()]);
        self.b.switch_to_block(exit);
        Ok(self.b.block_params(exit)[0])
    }

    /// The loop nest over `shape` of a kernel computing `expr` (from its operands if `own`):
    /// plain loops over the outer axes, and the innermost axis split into pieces at the
    /// boundaries of pads and concatenations along it (so each piece knows its guards), each
    /// piece run on vectors where [`scan`](Self::scan) allows, with a scalar remainder.
    pub(super) fn nest_pieces(
        &mut self,
        shape: &[usize],
        expr: NodeId,
        own: bool,
        body: &mut dyn FnMut(&mut Self, &[Value]) -> Result<()>,
    ) -> Result<()> {
        let Some((&n, outer)) = shape.split_last() else { return body(self, &[]) };
        let lane = inner_lane(shape);
        let dtype = self.g.nodes[expr].dtype;
        let mut inner = |k: &mut Self, idx: &[Value]| -> Result<()> {
            k.pieces(n, expr, own, lane, dtype, &mut |k: &mut Self, i: Value| {
                let mut full = idx.to_vec();
                full.push(i);
                body(k, &full)
            })
        };
        self.nest(outer, &[], &mut inner)
    }

    /// The innermost loop `0..n` of an expression whose index moves along `lane`, in pieces.
    pub(super) fn pieces(
        &mut self,
        n: usize,
        expr: NodeId,
        own: bool,
        lane: Lane,
        dtype: DType,
        body: &mut dyn FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<()> {
        self.pieces_in(n, expr, own, lane, dtype, (0, n as i64), body)
    }

    /// [`pieces`](Self::pieces) of the part `clip` of the loop `0..n` only.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pieces_in(
        &mut self,
        n: usize,
        expr: NodeId,
        own: bool,
        lane: Lane,
        dtype: DType,
        clip: (i64, i64),
        body: &mut dyn FnMut(&mut Self, Value) -> Result<()>,
    ) -> Result<()> {
        let saved = (self.span, self.vec);
        let range = self.range.take();
        let n = n as i64;
        self.span = (0, n);
        let mut s = Scan::new(dtype);
        self.scan(expr, lane, own, &mut s);
        let mut bounds: Vec<i64> = s.cuts.into_iter().filter(|&c| c > 0 && c < n).collect();
        bounds.sort_unstable();
        bounds.dedup();
        if bounds.len() >= MAX_PIECES {
            bounds.clear();
        }
        bounds.insert(0, 0);
        bounds.push(n);
        for w in bounds.windows(2) {
            let (lo, hi) = (w[0].max(clip.0), w[1].min(clip.1));
            if lo >= hi {
                continue;
            }
            self.span = (lo, hi);
            let mut s = Scan::new(dtype);
            self.scan(expr, lane, own, &mut s);
            let least = if self.short_vectors { MIN_SHORT_VECTOR_LOOP } else { MIN_VECTOR_LOOP };
            let vt = vector_type(dtype).filter(|_| s.vector && hi - lo >= least);
            if let Some((rlo, rhi)) = range {
                // A chunk function: this piece clipped to the chunk's range.
                let (a, b) = (self.b.ins().iconst(types::I64, lo), self.b.ins().iconst(types::I64, hi));
                let (a, b) = (self.b.ins().umax(a, rlo), self.b.ins().umin(b, rhi));
                let mut start = a;
                if let Some(vt) = vt {
                    self.vec = Some(vt);
                    let r = self.emit_dyn(a, b, vt.lane_count() as i64, body);
                    self.vec = None;
                    start = r?;
                }
                self.emit_dyn(start, b, 1, body)?;
                continue;
            }
            let mut start = lo;
            if let Some(vt) = vt {
                let width = vt.lane_count() as i64;
                let count = (hi - lo) / width;
                if count > 0 {
                    self.vec = Some(vt);
                    let r = self.emit_range(lo, width, count, body);
                    self.vec = None;
                    r?;
                    start = lo + count * width;
                }
            }
            self.emit_range(start, 1, hi - start, body)?;
        }
        (self.span, self.vec) = saved;
        Ok(())
    }

    pub(super) fn nest(
        &mut self,
        dims: &[usize],
        idx: &[Value],
        body: &mut dyn FnMut(&mut Self, &[Value]) -> Result<()>,
    ) -> Result<()> {
        if idx.len() == dims.len() {
            return body(self, idx);
        }
        let n = dims[idx.len()];
        let mut inner = |k: &mut Self, i: Value| -> Result<()> {
            let mut idx2 = idx.to_vec();
            idx2.push(i);
            k.nest(dims, &idx2, body)
        };
        if let Some((lo, hi)) = self.range.take() {
            // A chunk function: this outermost loop runs the chunk's range only.
            return self.emit_dyn(lo, hi, 1, &mut inner).map(|_| ());
        }
        self.emit_loop(n, &mut inner)
    }

    /// How many of the kernels at the start of `roots` are reductions over the same axes of
    /// operands of the same shape, none reading another's result (at least 1 when the first is
    /// a plain reduction, else 0): they run in one loop nest over their common output, each
    /// element of each in its own blocked order, reading each operand row once for all.
    fn reductions_alike(&self, roots: &[NodeId]) -> usize {
        let plain_reduction = |k: NodeId| {
            matches!(self.g.nodes[k].op, Op::ReduceSum(_) | Op::ReduceMax(_) | Op::ReduceMin(_))
                && self.plan.sibling[k].is_none()
                && !self.g.nodes[k].shape.is_empty()
        };
        let axes = |k: NodeId| reduced_axes(&self.g.nodes[k].op);
        let Some(&first) = roots.first().filter(|&&k| plain_reduction(k)) else { return 0 };
        let in_shape = &self.g.nodes[self.g.nodes[first].inputs[0]].shape;
        let mut group_slots = vec![self.plan.buffer[first]];
        let mut n = 1;
        for &k in &roots[1..] {
            if !plain_reduction(k)
                || axes(k) != axes(first)
                || &self.g.nodes[self.g.nodes[k].inputs[0]].shape != in_shape
            {
                break;
            }
            let mut reads = Vec::new();
            self.collect_slots(k, &mut reads);
            if reads.iter().any(|s| group_slots.contains(&Some(*s))) {
                break;
            }
            group_slots.push(self.plan.buffer[k]);
            n += 1;
        }
        n
    }

    /// Reductions `roots` (see [`reductions_alike`](Self::reductions_alike)) in one loop nest.
    fn emit_reduce_group(&mut self, bufs: Value, roots: &[NodeId]) -> Result<()> {
        for &root in roots {
            self.add_pointers(bufs, root)?;
        }
        let axes =
            reduced_axes(&self.g.nodes[roots[0]].op).ok_or_else(|| jerr("a reduction group of other kernels"))?;
        self.emit_reduce_all(roots, axes)
    }

    pub(super) fn emit_reduce(&mut self, root: NodeId, axes: &[usize]) -> Result<()> {
        self.emit_reduce_all(&[root], axes)
    }

    /// Reductions `roots` over `axes` of operands of one shape: one loop nest over the common
    /// output shape whose body computes and stores each root's element.
    fn emit_reduce_all(&mut self, roots: &[NodeId], axes: &[usize]) -> Result<()> {
        let first = &self.g.nodes[roots[0]];
        let in_shape = self.g.nodes[first.inputs[0]].shape.clone();
        let out_shape = first.shape.clone();
        let mut sorted = axes.to_vec();
        sorted.sort_unstable();
        let keep: Vec<usize> = (0..in_shape.len()).filter(|a| !sorted.contains(a)).collect();
        let mut body = |k: &mut Self, out_idx: &[Value]| -> Result<()> {
            for &root in roots {
                k.reduce_element(root, &sorted, &keep, &in_shape, out_idx)?;
            }
            Ok(())
        };
        self.nest(&out_shape, &[], &mut body)
    }

    /// Element `out_idx` of reduction `root` over the `sorted` axes of its operand (of shape
    /// `in_shape`; `keep` are the other axes), computed and stored.
    fn reduce_element(
        &mut self,
        root: NodeId,
        sorted: &[usize],
        keep: &[usize],
        in_shape: &[usize],
        out_idx: &[Value],
    ) -> Result<()> {
        let node = &self.g.nodes[root];
        let operand = node.inputs[0];
        let dtype = node.dtype;
        let kind = match node.op {
            Op::ReduceSum(_) => Reduction::Sum,
            Op::ReduceMax(_) => Reduction::Max,
            _ => Reduction::Min,
        };
        let mut full: Vec<Option<Value>> = vec![None; in_shape.len()];
        for (p, &a) in keep.iter().enumerate() {
            full[a] = Some(out_idx[p]);
        }
        let v = if sorted.is_empty() {
            self.memo.clear();
            let idx: Vec<Value> = full.iter().map(|v| v.expect("every axis kept")).collect();
            self.expr(operand, Index::Multi(idx, Lane::Unknown))?
        } else {
            let vars: Vec<Vec<Variable>> = (0..sorted.len())
                .map(|_| {
                    let n = if dtype.is_complex() { 2 } else { 1 };
                    (0..n).map(|_| self.b.declare_var(elem_ty(dtype))).collect()
                })
                .collect();
            let red = ReduceLevel {
                level: 0,
                axes: sorted,
                in_shape,
                full: &full,
                vars: &vars,
                operand,
                dtype,
                kind,
                sibling: None,
            };
            self.reduce_level(&red)?;
            self.read_vars(&vars[0])
        };
        self.store(root, out_idx, v);
        Ok(())
    }

    pub(super) fn read_vars(&mut self, vars: &[Variable]) -> Elem {
        if vars.len() == 2 {
            Elem::Complex(self.b.use_var(vars[0]), self.b.use_var(vars[1]))
        } else {
            Elem::Scalar(self.b.use_var(vars[0]))
        }
    }

    pub(super) fn write_vars(&mut self, vars: &[Variable], v: Elem) {
        match v {
            Elem::Scalar(x) => self.b.def_var(vars[0], x),
            Elem::Complex(r, i) => {
                self.b.def_var(vars[0], r);
                self.b.def_var(vars[1], i);
            }
        }
    }

    /// The accumulation over one reduced axis (and, nested inside, the deeper ones) into
    /// `red.vars[red.level]`.
    pub(super) fn reduce_level(&mut self, red: &ReduceLevel<'_>) -> Result<()> {
        let ReduceLevel { level, axes, in_shape, vars, dtype, kind, .. } = *red;
        if kind == Reduction::Sum {
            // The interpreter's blocked order (`sum.rs`), for the same bits.
            let total = self.blocked_sum(red)?;
            self.write_vars(&vars[level], total);
            return Ok(());
        }
        let init = self.fconst(dtype, f64::NAN);
        self.write_vars(&vars[level], init);
        let n = in_shape[axes[level]];
        let mut body = |k: &mut Self, i: Value| -> Result<()> {
            let v = k.level_element(red, i)?;
            let acc = k.read_vars(&vars[level]);
            let r = k.binary(kind.combine(), dtype, acc, v)?;
            k.write_vars(&vars[level], r);
            Ok(())
        };
        self.emit_loop(n, &mut body)
    }

    /// Element `i` of a reduction level's axis: the next level's result, or the operand's
    /// value at the full index.
    pub(super) fn level_element(&mut self, red: &ReduceLevel<'_>, i: Value) -> Result<Elem> {
        let mut full2 = red.full.to_vec();
        full2[red.axes[red.level]] = Some(i);
        if red.level + 1 < red.axes.len() {
            self.reduce_level(&ReduceLevel { level: red.level + 1, full: &full2, ..*red })?;
            Ok(self.read_vars(&red.vars[red.level + 1]))
        } else {
            // The innermost reduced axis is the innermost loop: its span is the whole axis.
            self.memo.clear();
            let axis = red.axes[red.level];
            self.span = (0, red.in_shape[axis] as i64);
            let idx: Vec<Value> = full2.iter().map(|v| v.expect("every axis set")).collect();
            let v = self.expr(red.operand, Index::Multi(idx.clone(), Lane::Axis(axis, Some(0))))?;
            if let Some(f) = red.sibling {
                // The sibling's element at the same index, sharing what the sum computed.
                self.span = f.window;
                let w = self.expr_op(f.node, Index::Multi(idx.clone(), Lane::Axis(axis, Some(0))))?;
                self.store(f.node, &idx, w);
                if let (Some(a), [i, j, ..]) = (&f.axis_sum, idx.as_slice()) {
                    self.accumulate_axis_sum(a, *i, *j, w)?;
                }
            }
            Ok(v)
        }
    }
}

/// One level (one reduced axis) of a reduction kernel being emitted.
#[derive(Copy, Clone)]
pub(super) struct ReduceLevel<'r> {
    pub level: usize,
    pub axes: &'r [usize],
    pub in_shape: &'r [usize],
    pub full: &'r [Option<Value>],
    pub vars: &'r [Vec<Variable>],
    pub operand: NodeId,
    pub dtype: DType,
    pub kind: Reduction,
    /// A sibling kernel written at each element this level reads (`sibling.rs`).
    pub sibling: Option<&'r Fused>,
}

/// The axes a reduction reduces (`None` for other ops).
fn reduced_axes(op: &Op) -> Option<&[usize]> {
    match op {
        Op::ReduceSum(a) | Op::ReduceMax(a) | Op::ReduceMin(a) => Some(a),
        _ => None,
    }
}

/// The lane of a kernel's own index: its innermost axis moves with the innermost loop.
pub(super) fn inner_lane(shape: &[usize]) -> Lane {
    if shape.is_empty() {
        Lane::Fixed
    } else {
        Lane::Axis(shape.len() - 1, Some(0))
    }
}
