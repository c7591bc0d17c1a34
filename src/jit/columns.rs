//! Column sums in the loop nest of the kernel they sum (`plan::pair_column_sums`): while a 2-D
//! kernel writes each element, it also adds it into one of four rows of accumulators (row `i`
//! into row `i % 4`, in a stack slot), and after its loop nest each column's four accumulators
//! are combined `(a0 + a1) + (a2 + a3)`. With at most `SUM_BLOCK` rows this is the
//! interpreter's blocked order for each column, so the sum has the same bits, and the kernel's
//! buffer is not read a second time.

use super::emitter::{elem_ty, jerr, Elem, KernelEmitter};
use crate::array::DType;
use crate::error::Result;
use crate::interp::SUM_ACCUMULATORS;
use crate::ir::NodeId;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, StackSlot, StackSlotData, StackSlotKind, Value};

/// A column sum being accumulated by the kernel whose loop nest is being emitted.
pub(super) struct ColumnSum {
    /// The accumulators: `SUM_ACCUMULATORS` rows of `columns` elements.
    slot: StackSlot,
    columns: usize,
    dtype: DType,
    /// The sum's own buffer.
    out: Value,
}

impl KernelEmitter<'_, '_> {
    /// Starts the column sum `sum` of kernel `root` (of shape `[rows, columns]`): loads its
    /// buffer's pointer and zeroes the accumulators.
    pub(super) fn begin_column_sum(&mut self, bufs: Value, root: NodeId, sum: NodeId) -> Result<ColumnSum> {
        let node = &self.g.nodes[root];
        let (columns, dtype) = (node.shape[1], node.dtype);
        let size = dtype.size_of();
        let bytes = SUM_ACCUMULATORS * columns * size;
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            u32::try_from(bytes).map_err(jerr)?,
            4,
        ));
        let sum_slot = self.plan.buffer[sum].ok_or_else(|| jerr("a column sum without a buffer"))?;
        let out = self.b.ins().load(self.ptr_ty, MemFlagsData::trusted().with_readonly(), bufs, (sum_slot * 8) as i32);
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
        Ok(ColumnSum { slot, columns, dtype, out })
    }

    /// Adds element (or, in vector code, elements) `v` at `[i, j]` into accumulator row `i % 4`.
    pub(super) fn accumulate_column(&mut self, sum: &ColumnSum, i: Value, j: Value, v: Elem) -> Result<()> {
        let Elem::Scalar(v) = v else { return Err(jerr("a column sum of complex elements")) };
        let size = sum.dtype.size_of() as i64;
        let row = self.b.ins().band_imm_s(i, (SUM_ACCUMULATORS - 1) as i64);
        let row = self.b.ins().imul_imm_s(row, sum.columns as i64 * size);
        let col = self.b.ins().imul_imm_s(j, size);
        let off = self.b.ins().iadd(row, col);
        let base = self.b.ins().stack_addr(self.ptr_ty, sum.slot, 0);
        let at = self.b.ins().iadd(base, off);
        let ty = self.b.func.dfg.value_type(v);
        let flags = if ty.is_vector() { MemFlagsData::new().with_notrap() } else { MemFlagsData::trusted() };
        let acc = self.b.ins().load(ty, flags, at, 0);
        let total = self.b.ins().fadd(acc, v);
        self.b.ins().store(flags, total, at, 0);
        Ok(())
    }

    /// Combines each column's accumulators into the sum's buffer.
    pub(super) fn finish_column_sum(&mut self, sum: &ColumnSum) -> Result<()> {
        let size = sum.dtype.size_of() as i64;
        let ty = elem_ty(sum.dtype);
        let row_bytes = sum.columns as i64 * size;
        let mut column = |k: &mut Self, j: Value| -> Result<()> {
            let base = k.b.ins().stack_addr(k.ptr_ty, sum.slot, 0);
            let col = k.b.ins().imul_imm_s(j, size);
            let at = k.b.ins().iadd(base, col);
            let a: Vec<Value> = (0..SUM_ACCUMULATORS as i64)
                .map(|r| k.b.ins().load(ty, MemFlagsData::trusted(), at, (r * row_bytes) as i32))
                .collect();
            let low = k.b.ins().fadd(a[0], a[1]);
            let high = k.b.ins().fadd(a[2], a[3]);
            let total = k.b.ins().fadd(low, high);
            let out = k.b.ins().iadd(sum.out, col);
            k.b.ins().store(MemFlagsData::trusted(), total, out, 0);
            Ok(())
        };
        self.emit_loop(sum.columns, &mut column)
    }
}
