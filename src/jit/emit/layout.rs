//! The layout ops of a fused expression: each maps the index it is asked for to its operand's
//! index (reshape, permute, slice), or guards it (pad, concatenation), moving the lane with it.

use super::emitter::{jerr, Elem, Index, KernelEmitter};
use super::lanes::{
    concat_part, concat_parts_of, keeps_last_axis, linear_lane, multi_lane, pad_guard, permute_lane, slice_lane, Guard,
    Lane,
};
use crate::array::DType;
use crate::error::Result;
use crate::ir::{AxisSlice, NodeId};
use crate::jit::limits::CHEAP;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

impl KernelEmitter<'_, '_> {
    /// A reshape at `idx`: the linear index, or, when only the leading axes are regrouped, the
    /// last axis passed through.
    pub(crate) fn reshape_op(&mut self, n: NodeId, idx: Index) -> Result<Elem> {
        let g = self.g;
        let node = &g.nodes[n];
        let inp = &g.nodes[node.inputs[0]].shape;
        let lane = idx.lane();
        if let (Index::Multi(m, Lane::Axis(_, off)), true) = (&idx, keeps_last_axis(lane, &node.shape, inp)) {
            // Only the leading axes are regrouped: the last one is passed through.
            let r = m.len();
            let lead = self.linear(&Index::Multi(m[..r - 1].to_vec(), Lane::Fixed), &node.shape[..r - 1]);
            let mut inner = self.multi_index(&Index::Linear(lead, Lane::Fixed), &inp[..inp.len() - 1]);
            inner.push(m[r - 1]);
            return self.expr(node.inputs[0], Index::Multi(inner, Lane::Axis(inp.len() - 1, *off)));
        }
        let l = self.linear(&idx, &node.shape);
        self.expr(node.inputs[0], Index::Linear(l, linear_lane(lane, &node.shape)))
    }

    /// A permutation at `idx`: the multi-index permuted.
    pub(crate) fn permute_op(&mut self, n: NodeId, idx: Index, axes: &[usize]) -> Result<Elem> {
        let g = self.g;
        let node = &g.nodes[n];
        let m = self.multi_index(&idx, &node.shape);
        let lane = permute_lane(idx.lane(), &node.shape, axes);
        let mut inner = m.clone();
        for (i, &a) in axes.iter().enumerate() {
            inner[a] = m[i];
        }
        self.expr(node.inputs[0], Index::Multi(inner, lane))
    }

    /// A slice at `idx`: each sliced axis offset and scaled.
    pub(crate) fn slice_op(&mut self, n: NodeId, idx: Index, slices: &[AxisSlice]) -> Result<Elem> {
        let g = self.g;
        let node = &g.nodes[n];
        let in_shape = g.nodes[node.inputs[0]].shape.clone();
        let lane = slice_lane(multi_lane(idx.lane(), &node.shape), slices, &in_shape);
        let m = self.multi_index(&idx, &node.shape);
        let mut inner = Vec::with_capacity(m.len());
        for (a, s) in slices.iter().enumerate() {
            if s.is_full(in_shape[a]) {
                inner.push(m[a]);
            } else if s.len == 1 {
                inner.push(self.b.ins().iconst(types::I64, s.start as i64));
            } else {
                let t = if s.step == 1 { m[a] } else { self.b.ins().imul_imm_s(m[a], s.step as i64) };
                let t = self.offset(t, s.start as i64);
                inner.push(t);
            }
        }
        self.expr(node.inputs[0], Index::Multi(inner, lane))
    }

    /// A pad at `idx`: the operand where the guard holds, zero elsewhere (no test where the
    /// guard is known for the whole span).
    pub(crate) fn pad_op(&mut self, n: NodeId, idx: Index, (shape, slices): (&[usize], &[AxisSlice])) -> Result<Elem> {
        let node = &self.g.nodes[n];
        let dtype = node.dtype;
        if slices.iter().any(|s| s.len == 0) {
            return Ok(self.zero(dtype));
        }
        // On the innermost loop's axis the guard may be known for the whole span.
        let lane = multi_lane(idx.lane(), shape);
        let (guard, _) = pad_guard(lane, slices, shape, self.span);
        let (known, lane) = match (guard, lane) {
            (Guard::Outside, _) => return Ok(self.zero(dtype)),
            (Guard::Inside(inner_lane), Lane::Axis(a, _)) => (Some(a), inner_lane),
            (Guard::Mixed, _) => (None, Lane::Unknown),
            _ => (None, lane),
        };
        let m = self.multi_index(&idx, shape);
        let mut cond: Option<Value> = None;
        let mut inner = Vec::new();
        for (a, s) in slices.iter().enumerate() {
            if s.is_full(shape[a]) {
                inner.push(m[a]);
                continue;
            }
            if known == Some(a) {
                // Inside for every element of the span (step 1): no test.
                inner.push(self.offset(m[a], -(s.start as i64)));
                continue;
            }
            let st = s.step.unsigned_abs() as i64;
            let rel = if s.step > 0 {
                self.offset(m[a], -(s.start as i64))
            } else {
                let c = self.b.ins().iconst(types::I64, s.start as i64);
                self.b.ins().isub(c, m[a])
            };
            let span = (s.len as i64 - 1) * st + 1;
            let mut c = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, rel, span);
            let q = if st > 1 {
                let r = self.b.ins().urem_imm_s(rel, st);
                let c2 = self.b.ins().icmp_imm_s(IntCC::Equal, r, 0);
                c = self.b.ins().band(c, c2);
                self.b.ins().udiv_imm_s(rel, st)
            } else {
                rel
            };
            cond = Some(match cond {
                None => c,
                Some(x) => self.b.ins().band(x, c),
            });
            inner.push(q);
        }
        let Some(cond) = cond else {
            return self.expr(node.inputs[0], Index::Multi(inner, lane));
        };
        let operand = node.inputs[0];
        if self.plan.buffer[operand].is_some() || self.plan.cost[operand] <= CHEAP {
            // Branch-free: read at a clamped (valid) index, then select.
            let zero_i = self.b.ins().iconst(types::I64, 0);
            let clamped: Vec<Value> = inner.iter().map(|&q| self.b.ins().select(cond, q, zero_i)).collect();
            let v = self.expr(operand, Index::Multi(clamped, lane))?;
            let z = self.zero(dtype);
            return Ok(match (v, z) {
                (Elem::Scalar(x), Elem::Scalar(y)) => Elem::Scalar(self.sel(cond, x, y)),
                (Elem::Complex(xr, xi), Elem::Complex(yr, yi)) => {
                    Elem::Complex(self.sel(cond, xr, yr), self.sel(cond, xi, yi))
                }
                _ => return Err(jerr("pad kinds")),
            });
        }
        self.branch(
            dtype,
            cond,
            &mut |k| k.expr(operand, Index::Multi(inner.clone(), lane)),
            &mut |k| Ok(k.zero(dtype)),
        )
    }

    /// A concatenation at `idx`: the part that holds the index (no test where one part covers
    /// the whole span).
    pub(crate) fn concat_op(&mut self, n: NodeId, idx: Index, axis: usize) -> Result<Elem> {
        let g = self.g;
        let node = &g.nodes[n];
        let dtype = node.dtype;
        let m = self.multi_index(&idx, &node.shape);
        let parts = concat_parts_of(self.g, n, axis);
        let lane = multi_lane(idx.lane(), &node.shape);
        match concat_part(lane, axis, &parts, self.span) {
            // One part covers the whole span: no test.
            Ok(Some(p)) => self.concat_parts(&parts[p..p + 1], axis, &m, dtype, lane),
            Ok(None) => self.concat_parts(&parts, axis, &m, dtype, lane),
            Err(_) => self.concat_parts(&parts, axis, &m, dtype, Lane::Unknown),
        }
    }

    pub(crate) fn concat_parts(
        &mut self,
        parts: &[(NodeId, usize, usize)],
        axis: usize,
        m: &[Value],
        dtype: DType,
        lane: Lane,
    ) -> Result<Elem> {
        match parts {
            [] => Ok(self.zero(dtype)),
            [(i, off, _)] => {
                let mut inner = m.to_vec();
                inner[axis] = self.offset(m[axis], -(*off as i64));
                let lane = match lane {
                    Lane::Axis(a, o) if a == axis => Lane::Axis(a, o.map(|o| o - *off as i64)),
                    other => other,
                };
                self.expr(*i, Index::Multi(inner, lane))
            }
            _ => {
                // Binary search over the parts: the nesting grows with log2(parts), not parts.
                let (low, high) = parts.split_at(parts.len() / 2);
                let (_, off, _) = high[0];
                let c = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, m[axis], off as i64);
                self.branch(dtype, c, &mut |k| k.concat_parts(low, axis, m, dtype, lane), &mut |k| {
                    k.concat_parts(high, axis, m, dtype, lane)
                })
            }
        }
    }
}
