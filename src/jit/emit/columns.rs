//! Sums over one axis of a 2-D kernel in the loop nest of that kernel (`plan::pair_axis_sums`):
//! while the kernel writes element `[i, j]`, it also adds it into one of the four accumulators
//! (in a stack slot) of the sum's element it belongs to: accumulator `i % 4` of column `j` for
//! a sum over the rows, `j % 4` of row `i` for a sum over the columns. After the loop nest each
//! sum element's accumulators are combined `(a0 + a1) + (a2 + a3)`. With at most `SUM_BLOCK`
//! elements summed this is the interpreter's blocked order, so the sum has the same bits, and
//! the kernel's buffer is not read a second time. (A sum over the columns is paired only when
//! its rows are scalar loops, so its elements arrive one at a time.)

use super::emitter::{elem_ty, jerr, Elem, KernelEmitter};
use crate::array::DType;
use crate::error::Result;
use crate::interp::SUM_ACCUMULATORS;
use crate::ir::NodeId;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, StackSlot, StackSlotData, StackSlotKind, Value};

/// An axis sum being accumulated by the kernel whose loop nest is being emitted.
pub(crate) struct AxisSum {
    /// The accumulators: `SUM_ACCUMULATORS` per element of the sum.
    slot: StackSlot,
    /// The summed axis (0: over the rows; 1: over the columns).
    axis: usize,
    /// The elements of the sum (the kernel's extent along the other axis).
    kept: usize,
    dtype: DType,
    /// The sum's own buffer.
    out: Value,
}

impl AxisSum {
    /// Byte strides of the accumulators: from one accumulator of an element to the next, and
    /// from one element of the sum to the next.
    fn strides(&self) -> (i64, i64) {
        let size = self.dtype.size_of() as i64;
        match self.axis {
            // Four rows of `kept` columns: accumulator r of column j at r * kept + j.
            0 => (self.kept as i64 * size, size),
            // `kept` rows of four: accumulator r of row i at i * 4 + r.
            _ => (size, SUM_ACCUMULATORS as i64 * size),
        }
    }
}

impl KernelEmitter<'_, '_> {
    /// Starts the sum `sum` over `axis` of kernel `root` (of shape `[rows, columns]`): loads
    /// its buffer's pointer and zeroes the accumulators.
    pub(crate) fn begin_axis_sum(&mut self, bufs: Value, root: NodeId, sum: NodeId, axis: usize) -> Result<AxisSum> {
        let node = &self.g.nodes[root];
        let (kept, dtype) = (node.shape[1 - axis], node.dtype);
        let size = dtype.size_of();
        let bytes = SUM_ACCUMULATORS * kept * size;
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            u32::try_from(bytes).map_err(jerr)?,
            4,
        ));
        let sum_slot = self.plan.buffer[sum].ok_or_else(|| jerr("an axis sum without a buffer"))?;
        let out = self.slot_pointer(bufs, sum_slot);
        // `bytes` is a multiple of 16 (four rows of 4- or 8-byte elements).
        let zero = self.b.ins().f64const(0.0);
        let zero = self.b.ins().splat(types::F64X2, zero);
        let base = self.b.ins().stack_addr(self.ptr_ty, slot, 0);
        let mut clear = |k: &mut Self, at: Value| -> Result<()> {
            let a = k.b.ins().iadd(base, at);
            k.b.ins().store(MemFlagsData::trusted(), zero, a, 0);
            Ok(())
        };
        self.emit_range(0, 16, (bytes / 16) as i64, &mut clear)?;
        Ok(AxisSum { slot, axis, kept, dtype, out })
    }

    /// Adds element `v` at `[i, j]` (in vector code, the elements of a run of columns, for a
    /// sum over the rows) into its accumulator.
    pub(crate) fn accumulate_axis_sum(&mut self, sum: &AxisSum, i: Value, j: Value, v: Elem) -> Result<()> {
        let Elem::Scalar(v) = v else { return Err(jerr("an axis sum of complex elements")) };
        let ty = self.b.func.dfg.value_type(v);
        if ty.is_vector() && sum.axis == 1 {
            return Err(jerr("a sum over the columns in vector code"));
        }
        let (position, element) = if sum.axis == 0 { (i, j) } else { (j, i) };
        let (accumulator_stride, element_stride) = sum.strides();
        let r = self.b.ins().band_imm_s(position, (SUM_ACCUMULATORS - 1) as i64);
        let r = self.b.ins().imul_imm_s(r, accumulator_stride);
        let e = self.b.ins().imul_imm_s(element, element_stride);
        let off = self.b.ins().iadd(r, e);
        let base = self.b.ins().stack_addr(self.ptr_ty, sum.slot, 0);
        let at = self.b.ins().iadd(base, off);
        let flags = if ty.is_vector() { MemFlagsData::new().with_notrap() } else { MemFlagsData::trusted() };
        let acc = self.b.ins().load(ty, flags, at, 0);
        let total = self.b.ins().fadd(acc, v);
        self.b.ins().store(flags, total, at, 0);
        Ok(())
    }

    /// Combines each sum element's accumulators into the sum's buffer.
    pub(crate) fn finish_axis_sum(&mut self, sum: &AxisSum) -> Result<()> {
        let size = sum.dtype.size_of() as i64;
        let ty = elem_ty(sum.dtype);
        let (accumulator_stride, element_stride) = sum.strides();
        let mut element = |k: &mut Self, e: Value| -> Result<()> {
            let base = k.b.ins().stack_addr(k.ptr_ty, sum.slot, 0);
            let first = k.b.ins().imul_imm_s(e, element_stride);
            let at = k.b.ins().iadd(base, first);
            let a: Vec<Value> = (0..SUM_ACCUMULATORS as i64)
                .map(|r| k.b.ins().load(ty, MemFlagsData::trusted(), at, (r * accumulator_stride) as i32))
                .collect();
            let low = k.b.ins().fadd(a[0], a[1]);
            let high = k.b.ins().fadd(a[2], a[3]);
            let total = k.b.ins().fadd(low, high);
            let off = k.b.ins().imul_imm_s(e, size);
            let out = k.b.ins().iadd(sum.out, off);
            k.b.ins().store(MemFlagsData::trusted(), total, out, 0);
            Ok(())
        };
        self.emit_loop(sum.kept, &mut element)
    }
}
