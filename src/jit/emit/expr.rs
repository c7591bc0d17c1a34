//! The fused expression walk: the value of a node at one index, computed from its operands
//! through the layout ops (broadcast, reshape, permute, slice, pad, concat are index arithmetic)
//! down to materialized buffers and immediates; elementwise ops go to `lower.rs`. The walk's
//! depth is bounded by the planner (`limits::MAX_INLINE_DEPTH`).

use super::emitter::{elem_ty, jerr, Elem, Index, KernelEmitter};
use super::lanes::{concat_part, keeps_last_axis, linear_lane, multi_lane, pad_guard, slice_lane, Guard, Lane};
use crate::array::DType;
use crate::error::Result;
use crate::ir::{NodeId, Op};
use crate::jit::limits::CHEAP;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};

impl KernelEmitter<'_, '_> {
    pub(crate) fn expr(&mut self, n: NodeId, idx: Index) -> Result<Elem> {
        if self.plan.buffer[n].is_some() {
            return Ok(self.load(n, &idx));
        }
        if self.plan.inline_const[n] {
            if let Op::Constant(d) = &self.g.nodes[n].op {
                let c = d.get_c128(0).ok_or_else(|| jerr("empty scalar constant"))?;
                let dt = d.dtype();
                let ty = elem_ty(dt);
                return Ok(match dt {
                    DType::Bool => Elem::Scalar(self.b.ins().iconst(types::I8, (c.re != 0.0 || c.im != 0.0) as i64)),
                    DType::F32 | DType::F64 => Elem::Scalar(self.real_const(ty, c.re)),
                    _ => Elem::Complex(self.real_const(ty, c.re), self.real_const(ty, c.im)),
                });
            }
        }
        // A linear index is memoized as a one-element key: for a node of rank one it is the
        // multi-index, and a node of higher rank has longer multi-indices.
        let key = match &idx {
            Index::Multi(m, _) => m.clone(),
            Index::Linear(l, _) => vec![*l],
        };
        if let Some(v) = self.memo.get(&(n, key.clone())) {
            return Ok(*v);
        }
        let v = self.expr_op(n, idx)?;
        self.memo.insert((n, key), v);
        Ok(v)
    }

    pub(crate) fn operand(&mut self, n: NodeId, k: usize, idx: &Index) -> Result<Elem> {
        let i = self.g.nodes[n].inputs[k];
        let out = self.g.nodes[n].shape.clone();
        let inp = self.g.nodes[i].shape.clone();
        let ii = self.bcast(idx, &out, &inp);
        self.expr(i, ii)
    }

    /// The value of `n` at `idx` computed from its operands (never from its own buffer).
    pub(crate) fn expr_op(&mut self, n: NodeId, idx: Index) -> Result<Elem> {
        let g = self.g;
        let node = &g.nodes[n];
        let in_dtype = |k: usize| g.nodes[node.inputs[k]].dtype;
        match &node.op {
            Op::Unary(u) => {
                let a = self.operand(n, 0, &idx)?;
                self.unary(*u, in_dtype(0), a)
            }
            Op::Binary(bop) => {
                let a = self.operand(n, 0, &idx)?;
                let c = self.operand(n, 1, &idx)?;
                self.binary(*bop, in_dtype(0), a, c)
            }
            Op::Compare(c) => {
                let a = self.operand(n, 0, &idx)?;
                let b2 = self.operand(n, 1, &idx)?;
                Ok(Elem::Scalar(self.compare(*c, in_dtype(0), a, b2)))
            }
            Op::Select => {
                let c = self.operand(n, 0, &idx)?;
                let a = self.operand(n, 1, &idx)?;
                let e = self.operand(n, 2, &idx)?;
                let Elem::Scalar(c) = c else { return Err(jerr("select condition")) };
                Ok(match (a, e) {
                    (Elem::Scalar(x), Elem::Scalar(y)) => Elem::Scalar(self.sel(c, x, y)),
                    (Elem::Complex(xr, xi), Elem::Complex(yr, yi)) => {
                        Elem::Complex(self.sel(c, xr, yr), self.sel(c, xi, yi))
                    }
                    _ => return Err(jerr("select branches")),
                })
            }
            Op::Cast(to) => {
                let a = self.operand(n, 0, &idx)?;
                Ok(self.cast(in_dtype(0), *to, a))
            }
            Op::Broadcast(_) => self.operand(n, 0, &idx),
            Op::Reshape(_) => {
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
            Op::Permute(axes) => {
                let m = self.multi_index(&idx, &node.shape);
                let lane = match multi_lane(idx.lane(), &node.shape) {
                    Lane::Axis(a, off) => Lane::Axis(axes[a], off),
                    other => other,
                };
                let mut inner = m.clone();
                for (i, &a) in axes.iter().enumerate() {
                    inner[a] = m[i];
                }
                self.expr(node.inputs[0], Index::Multi(inner, lane))
            }
            Op::Slice(slices) => {
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
            Op::Pad { shape, slices } => {
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
                self.branch(dtype, cond, &mut |k| k.expr(operand, Index::Multi(inner.clone(), lane)), &mut |k| {
                    Ok(k.zero(dtype))
                })
            }
            Op::Concat(axis) => {
                let axis = *axis;
                let dtype = node.dtype;
                let m = self.multi_index(&idx, &node.shape);
                let mut parts = Vec::new();
                let mut off = 0usize;
                for &i in &node.inputs {
                    let len = g.nodes[i].shape[axis];
                    if len > 0 {
                        parts.push((i, off, len));
                    }
                    off += len;
                }
                let lane = multi_lane(idx.lane(), &node.shape);
                match concat_part(lane, axis, &parts, self.span) {
                    // One part covers the whole span: no test.
                    Ok(Some(p)) => self.concat_parts(&parts[p..p + 1], axis, &m, dtype, lane),
                    Ok(None) => self.concat_parts(&parts, axis, &m, dtype, lane),
                    Err(_) => self.concat_parts(&parts, axis, &m, dtype, Lane::Unknown),
                }
            }
            Op::Input(_)
            | Op::Constant(_)
            | Op::ReduceSum(_)
            | Op::ReduceMax(_)
            | Op::ReduceMin(_)
            | Op::MatMul
            | Op::Call(_) => Err(jerr(format!("%{n} = {} must be materialized", node.op))),
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
