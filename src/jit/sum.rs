//! The blocked summation order of reductions, emitted to match the interpreter's
//! `blocked_sum` bit for bit: blocks of `SUM_BLOCK` elements into four accumulators (element `j`
//! into accumulator `j % 4`), combined `(a0 + a1) + (a2 + a3)`; block sums merged pairwise as a
//! binary counter through a small stack array of partial sums; the remaining partials added from
//! the lowest level up. Four independent accumulators also break the chain of dependent adds.

use super::emitter::{elem_ty, jerr, Elem, KernelEmitter, Lane};
use super::kernel::ReduceLevel;
use super::vector::{vector_type, Scan};
use crate::array::DType;
use crate::error::Result;
use crate::interp::{SUM_ACCUMULATORS, SUM_BLOCK};
use crate::ir::BinaryOp;
use cranelift_codegen::ir::{types, InstBuilder, StackSlot, StackSlotData, StackSlotKind, Type, Value};
use cranelift_frontend::Variable;

/// The accumulators of a level: four scalar ones, and in vector code the vectors whose lanes
/// they are.
struct Accumulators<'v> {
    scalar: &'v [Vec<Variable>],
    vector: Option<(Type, &'v [Variable])>,
}

/// Where a level's partial sums live while it is emitted.
struct Partials {
    slot: StackSlot,
    /// Bytes per element.
    size: i64,
}

impl KernelEmitter<'_, '_> {
    /// The sum over one reduction level's axis, in the blocked order.
    pub(super) fn blocked_sum(&mut self, red: &ReduceLevel<'_>) -> Result<Elem> {
        let n = red.in_shape[red.axes[red.level]];
        let dtype = red.dtype;
        if n == 0 {
            return Ok(self.zero(dtype));
        }
        let (full_blocks, tail) = (n / SUM_BLOCK, n % SUM_BLOCK);
        let blocks = full_blocks + usize::from(tail > 0);
        let levels = (usize::BITS - blocks.leading_zeros()) as usize;
        let size = dtype.size_of() as i64;
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (levels as i64 * size) as u32,
            4,
        ));
        let partials = Partials { slot, size };
        let accs: Vec<Vec<Variable>> = (0..SUM_ACCUMULATORS)
            .map(|_| (0..if dtype.is_complex() { 2 } else { 1 }).map(|_| self.b.declare_var(elem_ty(dtype))).collect())
            .collect();
        // The innermost level runs on vectors when its elements allow: the accumulators are
        // then the lanes of `4 / W` vectors (lane `r` of vector `v` is accumulator `v W + r`),
        // so each accumulator adds the same elements in the same order as in scalar code.
        let vt = if red.level + 1 == red.axes.len() {
            let axis = red.axes[red.level];
            let saved = self.span;
            self.span = (0, n as i64);
            let mut s = Scan::new(dtype);
            self.scan(red.operand, Lane::Axis(axis, Some(0)), false, &mut s);
            self.span = saved;
            vector_type(dtype).filter(|_| s.vector)
        } else {
            None
        };
        let vaccs: Vec<Variable> = match vt {
            Some(v) => (0..SUM_ACCUMULATORS / v.lane_count() as usize).map(|_| self.b.declare_var(v)).collect(),
            None => Vec::new(),
        };
        let sums = Accumulators { scalar: &accs, vector: vt.map(|v| (v, vaccs.as_slice())) };
        let mut block = |k: &mut Self, b: Value| -> Result<()> {
            let base = k.b.ins().imul_imm_s(b, SUM_BLOCK as i64);
            let s = k.sum_block(red, &sums, base, SUM_BLOCK)?;
            k.merge_partial(&partials, b, s, dtype)
        };
        self.emit_loop(full_blocks, &mut block)?;
        if tail > 0 {
            let base = self.b.ins().iconst(types::I64, (full_blocks * SUM_BLOCK) as i64);
            let s = self.sum_block(red, &sums, base, tail)?;
            let count = self.b.ins().iconst(types::I64, full_blocks as i64);
            self.merge_partial(&partials, count, s, dtype)?;
        }
        let mut total: Option<Elem> = None;
        for level in (0..levels).filter(|l| (blocks >> l) & 1 == 1) {
            let at = self.b.ins().stack_addr(self.ptr_ty, partials.slot, 0);
            let at = self.b.ins().iadd_imm_s(at, level as i64 * partials.size);
            let p = self.load_elem(at, dtype);
            total = Some(match total {
                None => p,
                Some(t) => self.binary(BinaryOp::Add, dtype, p, t)?,
            });
        }
        Ok(total.unwrap_or_else(|| self.zero(dtype)))
    }

    /// The sum of `len` elements from index `base` into the accumulators, combined.
    fn sum_block(&mut self, red: &ReduceLevel<'_>, sums: &Accumulators<'_>, base: Value, len: usize) -> Result<Elem> {
        let dtype = red.dtype;
        let accs = sums.scalar;
        let groups = len / SUM_ACCUMULATORS;
        match sums.vector {
            Some((vt, vaccs)) if groups > 0 => {
                let width = vt.lane_count() as usize;
                for &acc in vaccs {
                    let zero = self.zero(dtype);
                    let Elem::Scalar(z) = zero else { return Err(jerr("vector sum of complex elements")) };
                    let z = self.b.ins().splat(vt, z);
                    self.b.def_var(acc, z);
                }
                let mut group = |k: &mut Self, g: Value| -> Result<()> {
                    let first = k.b.ins().imul_imm_s(g, SUM_ACCUMULATORS as i64);
                    let first = k.b.ins().iadd(first, base);
                    for (v, &acc) in vaccs.iter().enumerate() {
                        let i = k.b.ins().iadd_imm_s(first, (v * width) as i64);
                        k.vec = Some(vt);
                        let x = k.level_element(red, i);
                        k.vec = None;
                        let Elem::Scalar(x) = x? else { return Err(jerr("vector sum of complex elements")) };
                        let a = k.b.use_var(acc);
                        let s = k.b.ins().fadd(a, x);
                        k.b.def_var(acc, s);
                    }
                    Ok(())
                };
                self.emit_loop(groups, &mut group)?;
                for (r, acc) in accs.iter().enumerate() {
                    let v = self.b.use_var(vaccs[r / width]);
                    let lane = self.b.ins().extractlane(v, (r % width) as u8);
                    self.write_vars(acc, Elem::Scalar(lane));
                }
            }
            _ => {
                for acc in accs {
                    let zero = self.zero(dtype);
                    self.write_vars(acc, zero);
                }
                let mut group = |k: &mut Self, g: Value| -> Result<()> {
                    let first = k.b.ins().imul_imm_s(g, SUM_ACCUMULATORS as i64);
                    let first = k.b.ins().iadd(first, base);
                    for (r, acc) in accs.iter().enumerate() {
                        let i = k.b.ins().iadd_imm_s(first, r as i64);
                        k.accumulate(red, acc, i)?;
                    }
                    Ok(())
                };
                self.emit_loop(groups, &mut group)?;
            }
        }
        for (r, acc) in accs.iter().enumerate().take(len % SUM_ACCUMULATORS) {
            let i = self.b.ins().iadd_imm_s(base, (groups * SUM_ACCUMULATORS + r) as i64);
            self.accumulate(red, acc, i)?;
        }
        let a: Vec<Elem> = accs.iter().map(|acc| self.read_vars(acc)).collect();
        let low = self.binary(BinaryOp::Add, dtype, a[0], a[1])?;
        let high = self.binary(BinaryOp::Add, dtype, a[2], a[3])?;
        self.binary(BinaryOp::Add, dtype, low, high)
    }

    /// `acc = acc + element i`.
    fn accumulate(&mut self, red: &ReduceLevel<'_>, acc: &[Variable], i: Value) -> Result<()> {
        let v = self.level_element(red, i)?;
        let a = self.read_vars(acc);
        let s = self.binary(BinaryOp::Add, red.dtype, a, v)?;
        self.write_vars(acc, s);
        Ok(())
    }

    /// Block number `count`'s sum `s` enters the binary counter of partial sums: while bit `l`
    /// of `count` is set, `s = partial[l] + s` and `l += 1`; then `partial[l] = s`.
    fn merge_partial(&mut self, partials: &Partials, count: Value, s: Elem, dtype: DType) -> Result<()> {
        let level = self.b.declare_var(types::I64);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(level, zero);
        let carry: Vec<Variable> =
            (0..if dtype.is_complex() { 2 } else { 1 }).map(|_| self.b.declare_var(elem_ty(dtype))).collect();
        self.write_vars(&carry, s);
        let (head, body, exit) = (self.b.create_block(), self.b.create_block(), self.b.create_block());
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(head);
        let l = self.b.use_var(level);
        let shifted = self.b.ins().ushr(count, l);
        let bit = self.b.ins().band_imm_s(shifted, 1);
        self.b.ins().brif(bit, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        let l = self.b.use_var(level);
        let at = self.partial_addr(partials, l);
        let p = self.load_elem(at, dtype);
        let c = self.read_vars(&carry);
        let merged = self.binary(BinaryOp::Add, dtype, p, c)?;
        self.write_vars(&carry, merged);
        let next = self.b.ins().iadd_imm_s(l, 1);
        self.b.def_var(level, next);
        self.b.ins().jump(head, &[]);
        self.b.switch_to_block(exit);
        let l = self.b.use_var(level);
        let at = self.partial_addr(partials, l);
        let c = self.read_vars(&carry);
        self.store_elem(at, c, dtype);
        Ok(())
    }

    /// The address of partial sum `level` (a run-time value).
    fn partial_addr(&mut self, partials: &Partials, level: Value) -> Value {
        let base = self.b.ins().stack_addr(self.ptr_ty, partials.slot, 0);
        let off = self.b.ins().imul_imm_s(level, partials.size);
        self.b.ins().iadd(base, off)
    }
}
