//! Reduction kernels: a sum, max or min over some axes is a loop nest over its output whose
//! body accumulates over the reduced axes, one level (and one accumulator) per axis; sums keep
//! the interpreter's blocked order (`sum.rs`). Reductions over the same axes of operands of one
//! shape share one loop nest, and a sibling kernel can be written inside a sum's loop
//! (`sibling.rs`).

use super::columns::AxisSum;
use super::emitter::{elem_ty, jerr, Elem, Index, KernelEmitter, Reduction};
use super::lanes::Lane;
use crate::array::DType;
use crate::error::Result;
use crate::ir::{NodeId, Op};
use cranelift_codegen::ir::Value;
use cranelift_frontend::Variable;

impl KernelEmitter<'_, '_> {
    /// How many of the kernels at the start of `roots` are reductions over the same axes of
    /// operands of the same shape, none reading another's result (at least 1 when the first is
    /// a plain reduction, else 0): they run in one loop nest over their common output, each
    /// element of each in its own blocked order, reading each operand row once for all.
    pub(crate) fn reductions_alike(&self, roots: &[NodeId]) -> usize {
        let plain_reduction = |k: NodeId| {
            self.g.nodes[k].op.is_reduction() && self.plan.sibling[k].is_none() && !self.g.nodes[k].shape.is_empty()
        };
        let axes = |k: NodeId| self.g.nodes[k].op.reduced_axes();
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
    pub(crate) fn emit_reduce_group(&mut self, bufs: Value, roots: &[NodeId]) -> Result<()> {
        for &root in roots {
            self.add_pointers(bufs, root)?;
        }
        let axes =
            self.g.nodes[roots[0]].op.reduced_axes().ok_or_else(|| jerr("a reduction group of other kernels"))?;
        self.emit_reduce_all(roots, axes)
    }

    pub(crate) fn emit_reduce(&mut self, root: NodeId, axes: &[usize]) -> Result<()> {
        if self.emit_leading_sum(root)? {
            return Ok(());
        }
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

    pub(crate) fn read_vars(&mut self, vars: &[Variable]) -> Elem {
        if vars.len() == 2 {
            Elem::Complex(self.b.use_var(vars[0]), self.b.use_var(vars[1]))
        } else {
            Elem::Scalar(self.b.use_var(vars[0]))
        }
    }

    pub(crate) fn write_vars(&mut self, vars: &[Variable], v: Elem) {
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
    pub(crate) fn reduce_level(&mut self, red: &ReduceLevel<'_>) -> Result<()> {
        let ReduceLevel { level, vars, kind, .. } = *red;
        if kind == Reduction::Sum {
            // The interpreter's blocked order (`sum.rs`), for the same bits.
            let total = self.blocked_sum(red)?;
            self.write_vars(&vars[level], total);
            return Ok(());
        }
        self.extremum_level(red)
    }

    /// Element `i` of a reduction level's axis: the next level's result, or the operand's
    /// value at the full index.
    pub(crate) fn level_element(&mut self, red: &ReduceLevel<'_>, i: Value) -> Result<Elem> {
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
            if let Some(f) = red.sibling.filter(|f| f.node == red.operand) {
                // The sum's operand as its sibling: computed, stored, and added.
                self.span = f.window;
                let w = self.expr_op(f.node, Index::Multi(idx.clone(), Lane::Axis(axis, Some(0))))?;
                self.store(f.node, &idx, w);
                return Ok(w);
            }
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
pub(crate) struct ReduceLevel<'r> {
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

/// The lane of a kernel's own index: its innermost axis moves with the innermost loop.
pub(crate) fn inner_lane(shape: &[usize]) -> Lane {
    if shape.is_empty() {
        Lane::Fixed
    } else {
        Lane::Axis(shape.len() - 1, Some(0))
    }
}

/// The part of a sibling kernel written inside its sum's loop.
pub(crate) struct Fused {
    /// The sibling kernel.
    pub node: NodeId,
    /// The guard-free piece of the sibling's loop its fused elements lie in (the span its
    /// expression is emitted for).
    pub window: (i64, i64),
    /// The sum's blocks `blocks.0..blocks.1` that write the sibling's elements (the last one
    /// may be the sum's partial tail block).
    pub blocks: (usize, usize),
    /// The sibling's elements those blocks write.
    pub covered: (i64, i64),
    /// The sum over one axis of the sibling that its loop nest computes (`columns.rs`), if any.
    pub axis_sum: Option<AxisSum>,
}
