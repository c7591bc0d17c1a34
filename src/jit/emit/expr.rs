//! The fused expression walk: the value of a node at one index, computed from its operands
//! through the layout ops (broadcast, reshape, permute, slice, pad, concat are index arithmetic)
//! down to materialized buffers and immediates; elementwise ops go to `lower.rs`. The walk's
//! depth is bounded by the planner (`limits::MAX_INLINE_DEPTH`).

use super::emitter::{elem_ty, jerr, Elem, Index, KernelEmitter};
use crate::array::DType;
use crate::error::Result;
use crate::ir::{materialized_op, NodeId, Op};
use cranelift_codegen::ir::{types, InstBuilder};

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
            Op::Select => self.select_op(n, &idx),
            Op::Cast(to) => {
                let a = self.operand(n, 0, &idx)?;
                Ok(self.cast(in_dtype(0), *to, a))
            }
            Op::Broadcast(_) | Op::CustomVjp(_) => self.operand(n, 0, &idx),
            Op::Reshape(_) => self.reshape_op(n, idx),
            Op::Permute(axes) => self.permute_op(n, idx, axes),
            Op::Slice(slices) => self.slice_op(n, idx, slices),
            Op::Pad { shape, slices } => self.pad_op(n, idx, (shape, slices)),
            Op::Concat(axis) => self.concat_op(n, idx, *axis),
            materialized_op!() => Err(jerr(format!("%{n} = {} must be materialized", node.op))),
        }
    }

    /// `select(c, a, e)` at `idx`.
    fn select_op(&mut self, n: NodeId, idx: &Index) -> Result<Elem> {
        let c = self.operand(n, 0, idx)?;
        let a = self.operand(n, 1, idx)?;
        let e = self.operand(n, 2, idx)?;
        let Elem::Scalar(c) = c else { return Err(jerr("select condition")) };
        Ok(match (a, e) {
            (Elem::Scalar(x), Elem::Scalar(y)) => Elem::Scalar(self.sel(c, x, y)),
            (Elem::Complex(xr, xi), Elem::Complex(yr, yi)) => Elem::Complex(self.sel(c, xr, yr), self.sel(c, xi, yi)),
            _ => return Err(jerr("select branches")),
        })
    }
}
