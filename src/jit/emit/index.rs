//! Index arithmetic and memory: row-major strides, multi-index and linear-index conversions,
//! numpy broadcasting of an index to an operand, element loads and stores.

use super::emitter::{elem_ty, Elem, Index, KernelEmitter};
use super::lanes::{bcast_lane, linear_lane, Lane};
use crate::array::DType;
use crate::ir::NodeId;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};

/// `flags`, and if `pure`, read-only and free to move: Cranelift then treats the load as a pure
/// value (merged, hoisted, placed at its use).
pub(crate) fn pure_load(flags: MemFlagsData, pure: bool) -> MemFlagsData {
    if pure {
        flags.with_readonly().with_can_move()
    } else {
        flags
    }
}

/// Row-major strides (in elements) of `shape`.
fn strides(shape: &[usize]) -> Vec<i64> {
    let mut s = vec![1i64; shape.len()];
    for a in (0..shape.len().saturating_sub(1)).rev() {
        s[a] = s[a + 1] * shape[a + 1] as i64;
    }
    s
}

impl KernelEmitter<'_, '_> {
    /// The row-major linear index of `idx` into `shape`. The constant offsets its axes carry
    /// are summed into one, so that one element reached through different slices and pads
    /// has one index value (and Cranelift merges its loads).
    pub(crate) fn linear(&mut self, idx: &Index, shape: &[usize]) -> Value {
        match idx {
            Index::Linear(l, _) => *l,
            Index::Multi(m, _) => {
                let st = strides(shape);
                let mut acc: Option<Value> = None;
                let mut constant = 0i64;
                for a in 0..shape.len() {
                    if shape[a] == 1 {
                        continue;
                    }
                    let (base, c) = self.offsets.get(&m[a]).copied().unwrap_or((m[a], 0));
                    constant += c * st[a];
                    let t = if st[a] == 1 { base } else { self.b.ins().imul_imm_s(base, st[a]) };
                    acc = Some(match acc {
                        None => t,
                        Some(x) => self.b.ins().iadd(x, t),
                    });
                }
                let acc = acc.unwrap_or_else(|| self.b.ins().iconst(types::I64, 0));
                self.offset(acc, constant)
            }
        }
    }

    /// `v + c` for an index value `v`, folded with the constant that `v` itself adds (`(i - 1)
    /// + 1` is `i`), and remembered for [`KernelEmitter::linear`].
    pub(crate) fn offset(&mut self, v: Value, c: i64) -> Value {
        if c == 0 {
            return v;
        }
        let (base, c0) = self.offsets.get(&v).copied().unwrap_or((v, 0));
        let total = c0 + c;
        if total == 0 {
            // `base` dominates the definition of `v`, which dominates this use.
            return base;
        }
        let r = self.b.ins().iadd_imm_s(base, total);
        self.offsets.insert(r, (base, total));
        r
    }

    pub(crate) fn multi_index(&mut self, idx: &Index, shape: &[usize]) -> Vec<Value> {
        match idx {
            Index::Multi(m, _) => m.clone(),
            Index::Linear(l, _) => {
                let mut out = vec![*l; shape.len()];
                let mut rest = *l;
                for a in (0..shape.len()).rev() {
                    let d = shape[a] as i64;
                    if d == 1 {
                        out[a] = self.b.ins().iconst(types::I64, 0);
                    } else if a == 0 {
                        out[a] = rest;
                    } else {
                        out[a] = self.b.ins().urem_imm_s(rest, d);
                        rest = self.b.ins().udiv_imm_s(rest, d);
                    }
                }
                out
            }
        }
    }

    /// The address of element `lin` of materialized node `n`. A constant offset that `lin`
    /// carries is added last, where x64 folds it into the access's displacement.
    pub(crate) fn addr(&mut self, n: NodeId, lin: Value) -> Value {
        let slot = self.plan.buffer[n].expect("materialized");
        let p = self.ptrs[&slot];
        let size = self.g.nodes[n].dtype.size_of() as i64;
        let (base, constant) = self.offsets.get(&lin).copied().unwrap_or((lin, 0));
        let off = if size == 1 { base } else { self.b.ins().imul_imm_s(base, size) };
        let at = self.b.ins().iadd(p, off);
        if constant == 0 {
            at
        } else {
            self.b.ins().iadd_imm_s(at, constant * size)
        }
    }

    /// Element `idx` of materialized node `n` (in vector mode, the elements of every lane).
    pub(crate) fn load(&mut self, n: NodeId, idx: &Index) -> Elem {
        let shape = self.g.nodes[n].shape.clone();
        let d = self.g.nodes[n].dtype;
        if let Some(x) = self.forwarded(n, linear_lane(idx.lane(), &shape)) {
            return Elem::Scalar(x);
        }
        let lin = self.linear(idx, &shape);
        let a = self.addr(n, lin);
        // A kernel never writes what its expression reads (one that writes over an operand,
        // `plan/in_place.rs`, stores each element after the one load of it that the stored
        // value depends on), and outside a branch every address it forms is an element of the
        // operand, so the load is a pure value: Cranelift merges repeated loads (across stores
        // too), hoists invariant ones out of loops, and places each next to its use.
        let pure = self.branches == 0;
        if self.vec.is_some() {
            let lane = linear_lane(idx.lane(), &shape);
            if d.is_complex() {
                let (re, im) = self.load_complex_lanes(a, elem_ty(d), lane, pure);
                return Elem::Complex(re, im);
            }
            return Elem::Scalar(self.load_lanes(a, elem_ty(d), lane, pure));
        }
        self.load_elem_with(a, d, pure)
    }

    /// Stores `v` as element `idx` of materialized node `n`.
    pub(crate) fn store(&mut self, n: NodeId, idx: &[Value], v: Elem) {
        let shape = self.g.nodes[n].shape.clone();
        let d = self.g.nodes[n].dtype;
        let lin = self.linear(&Index::Multi(idx.to_vec(), Lane::Fixed), &shape);
        let a = self.addr(n, lin);
        self.store_elem(a, v, d);
        self.remember_stored(n, &v);
    }

    /// Loads one element of `dtype` at address `at`.
    pub(crate) fn load_elem(&mut self, at: Value, dtype: DType) -> Elem {
        self.load_elem_with(at, dtype, false)
    }

    /// [`KernelEmitter::load_elem`], a pure value if `pure` (see [`pure_load`]).
    fn load_elem_with(&mut self, at: Value, dtype: DType, pure: bool) -> Elem {
        let (ty, f) = (elem_ty(dtype), pure_load(MemFlagsData::trusted(), pure));
        if dtype.is_complex() {
            let half = (dtype.size_of() / 2) as i32;
            Elem::Complex(self.b.ins().load(ty, f, at, 0), self.b.ins().load(ty, f, at, half))
        } else {
            Elem::Scalar(self.b.ins().load(ty, f, at, 0))
        }
    }

    /// Stores one element of `dtype` at address `at`.
    pub(crate) fn store_elem(&mut self, at: Value, v: Elem, dtype: DType) {
        let f = MemFlagsData::trusted();
        match v {
            Elem::Scalar(x) if self.b.func.dfg.value_type(x).is_vector() => {
                // Vector stores are not known to be 16-byte aligned.
                self.b.ins().store(MemFlagsData::new().with_notrap(), x, at, 0);
            }
            Elem::Scalar(x) => {
                self.b.ins().store(f, x, at, 0);
            }
            Elem::Complex(re, im) if self.b.func.dfg.value_type(re).is_vector() => {
                self.store_complex_lanes(at, re, im);
            }
            Elem::Complex(re, im) => {
                let half = (dtype.size_of() / 2) as i32;
                self.b.ins().store(f, re, at, 0);
                self.b.ins().store(f, im, at, half);
            }
        }
    }

    /// The index of operand `i` of `n` under numpy broadcasting.
    pub(crate) fn bcast(&mut self, idx: &Index, out: &[usize], inp: &[usize]) -> Index {
        if out == inp {
            return idx.clone();
        }
        let lane = bcast_lane(idx.lane(), out, inp);
        let m = self.multi_index(idx, out);
        let off = out.len() - inp.len();
        let v = inp
            .iter()
            .enumerate()
            .map(|(j, &d)| if d == 1 && out[off + j] != 1 { self.b.ins().iconst(types::I64, 0) } else { m[off + j] })
            .collect();
        Index::Multi(v, lane)
    }
}
