//! Sums over the rows of a matrix (axis 0 of a 2-D operand, or of a higher one whose other axes
//! are taken together as the columns) longer than one block: block by block across the
//! columns. A column at a time, each element of a column sum would be read a
//! row apart, one page apart for wide rows: every read a TLB miss, and each cache line fetched
//! for one element. Here block `b` of every column (of the chunk) is summed before block
//! `b + 1` of any, so the block's rows are read while their pages and lines are at hand; each
//! column keeps its binary counter of partial sums in a stack slot between blocks. Every column
//! is summed in the interpreter's blocked order (`sum.rs`), so the bits do not change.

use super::emitter::{elem_ty, jerr, Reduction};
use super::emitter::{Elem, Index, KernelEmitter};
use super::lanes::Lane;
use super::reduce::ReduceLevel;
use super::sum::{Accumulators, Partials, PartialsAt};
use super::vector::{vector_type, Scan};
use crate::array::DType;
use crate::error::Result;
use crate::interp::{SUM_ACCUMULATORS, SUM_BLOCK};
use crate::ir::{BinaryOp, NodeId};
use crate::jit::limits::MIN_VECTOR_LOOP;
use crate::jit::plan::split::{is_leading_sum, split, Split};
use cranelift_codegen::ir::{types, InstBuilder, StackSlot, StackSlotData, StackSlotKind, Type, Value};
use cranelift_frontend::Variable;

/// The most bytes of partial sums a leading-axis sum keeps on the stack.
const PARTIALS_BYTES: usize = 1 << 16;

/// What the pieces of one leading-axis sum's code share.
struct LeadingSum {
    root: NodeId,
    operand: NodeId,
    dtype: DType,
    /// The operand's shape, and its axes after the first (the columns, taken together).
    in_shape: Vec<usize>,
    trailing: Vec<usize>,
    /// Blocks of rows, and levels of each column's binary counter.
    blocks: usize,
    levels: usize,
    /// The columns `lo..hi` this code sums (a chunk's, or all).
    lo: Value,
    hi: Value,
    /// The columns' partial sums: `levels` elements a column, from column `lo` on.
    slot: StackSlot,
    /// The scalar accumulators, and in vector code the vector ones and their type.
    accs: Vec<Vec<Variable>>,
    vector: Option<(Type, Vec<Variable>)>,
}

impl LeadingSum {
    /// Bytes of partial sums a column keeps.
    fn column_bytes(&self) -> i64 {
        (self.levels * self.dtype.size_of()) as i64
    }
}

impl KernelEmitter<'_, '_> {
    /// Emits reduction `root` as a leading-axis sum when it is one and its partial sums fit
    /// on the stack; false (nothing emitted) otherwise.
    pub(crate) fn emit_leading_sum(&mut self, root: NodeId) -> Result<bool> {
        let node = &self.g.nodes[root];
        let operand = node.inputs[0];
        let in_shape = self.g.nodes[operand].shape.to_vec();
        if !is_leading_sum(&node.op, &in_shape) {
            return Ok(false);
        }
        let dtype = node.dtype;
        let trailing = in_shape[1..].to_vec();
        let columns: usize = trailing.iter().product();
        let last = trailing[trailing.len() - 1];
        let (full_blocks, tail) = (in_shape[0] / SUM_BLOCK, in_shape[0] % SUM_BLOCK);
        let blocks = full_blocks + usize::from(tail > 0);
        let levels = (usize::BITS - blocks.leading_zeros()) as usize;
        let width = match (&self.range, split(self.g, self.plan, root)) {
            (Some(_), Some(Split::Rows { chunk, .. })) => chunk,
            (Some(_), _) => return Err(jerr("a chunked leading-axis sum without row chunks")),
            (None, _) => columns,
        };
        let bytes = width * levels * dtype.size_of();
        if bytes > PARTIALS_BYTES {
            return Ok(false);
        }
        let (lo, hi) = match self.range.take() {
            Some(r) => r,
            None => (self.b.ins().iconst(types::I64, 0), self.b.ins().iconst(types::I64, columns as i64)),
        };
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            u32::try_from(bytes).map_err(jerr)?,
            4,
        ));
        let accs: Vec<Vec<Variable>> = (0..SUM_ACCUMULATORS)
            .map(|_| (0..if dtype.is_complex() { 2 } else { 1 }).map(|_| self.b.declare_var(elem_ty(dtype))).collect())
            .collect();
        // In vector code, a vector of adjacent columns at a time: lane `l` of accumulator `r`
        // is accumulator `r` of column `j + l`, adding that column's elements in its order. (A
        // vector must not cross a row of the last axis: with several trailing axes, the last
        // one and every chunk start are multiples of its lanes.)
        let lanes_fit = |vt: &Type| {
            let l = vt.lane_count() as usize;
            trailing.len() == 1 || (last % l == 0 && width % l == 0)
        };
        let vector = self
            .column_vector_type(operand, dtype, last)
            .filter(lanes_fit)
            .map(|vt| (vt, (0..SUM_ACCUMULATORS).map(|_| self.b.declare_var(vt)).collect()));
        let sum = LeadingSum { root, operand, dtype, in_shape, trailing, blocks, levels, lo, hi, slot, accs, vector };
        let mut full_block = |k: &mut Self, b: Value| k.leading_block(&sum, b, SUM_BLOCK);
        self.emit_loop(full_blocks, &mut full_block)?;
        if tail > 0 {
            let b = self.b.ins().iconst(types::I64, full_blocks as i64);
            self.leading_block(&sum, b, tail)?;
        }
        self.leading_totals(&sum)?;
        Ok(true)
    }

    /// The address of column `j`'s partial sums.
    fn leading_partials(&mut self, sum: &LeadingSum, j: Value) -> Partials {
        let base = self.b.ins().stack_addr(self.ptr_ty, sum.slot, 0);
        let within = self.b.ins().isub(j, sum.lo);
        let off = self.b.ins().imul_imm_s(within, sum.column_bytes());
        Partials { at: PartialsAt::Ptr(self.b.ins().iadd(base, off)), size: sum.dtype.size_of() as i64 }
    }

    /// The trailing index of column `j`.
    fn leading_column_index(&mut self, sum: &LeadingSum, j: Value) -> Vec<Value> {
        let mut idx = vec![j; sum.trailing.len()];
        if sum.trailing.len() > 1 {
            let mut rest = j;
            for (a, &d) in sum.trailing.iter().enumerate().rev() {
                idx[a] = self.b.ins().urem_imm_s(rest, d as i64);
                rest = self.b.ins().udiv_imm_s(rest, d as i64);
            }
        }
        idx
    }

    /// Block `b` (of `len` rows) of every column, each block sum entering its column's binary
    /// counter.
    fn leading_block(&mut self, sum: &LeadingSum, b: Value, len: usize) -> Result<()> {
        let base = self.b.ins().imul_imm_s(b, SUM_BLOCK as i64);
        let last = sum.trailing[sum.trailing.len() - 1];
        let mut columns_at_once = |k: &mut Self, j: Value| -> Result<()> {
            let Some((vt, vaccs)) = &sum.vector else { return Err(jerr("column vectors without a vector type")) };
            let idx = k.leading_column_index(sum, j);
            let sums = k.column_vectors_block(sum.operand, *vt, vaccs, (base, len), &idx, last)?;
            for (lane, s) in sums.into_iter().enumerate() {
                let column = k.b.ins().iadd_imm_s(j, lane as i64);
                let partials = k.leading_partials(sum, column);
                k.merge_partial(&partials, b, Elem::Scalar(s), sum.dtype)?;
            }
            Ok(())
        };
        let rest = match &sum.vector {
            Some((vt, _)) => self.emit_dyn(sum.lo, sum.hi, vt.lane_count() as i64, &mut columns_at_once)?,
            None => sum.lo,
        };
        let vars: Vec<Vec<Variable>> = Vec::new();
        let mut column = |k: &mut Self, j: Value| -> Result<()> {
            let full: Vec<Option<Value>> =
                std::iter::once(None).chain(k.leading_column_index(sum, j).into_iter().map(Some)).collect();
            let red = ReduceLevel {
                level: 0,
                axes: &[0],
                in_shape: &sum.in_shape,
                full: &full,
                vars: &vars,
                operand: sum.operand,
                dtype: sum.dtype,
                kind: Reduction::Sum,
                sibling: None,
            };
            let s = k.sum_block(&red, &Accumulators { scalar: &sum.accs, vector: None }, base, len)?;
            let partials = k.leading_partials(sum, j);
            k.merge_partial(&partials, b, s, sum.dtype)
        };
        self.emit_dyn(rest, sum.hi, 1, &mut column).map(|_| ())
    }

    /// Each column's partials added from the lowest level up, as `whole_sum` does, and stored.
    fn leading_totals(&mut self, sum: &LeadingSum) -> Result<()> {
        let size = sum.dtype.size_of() as i64;
        let mut total = |k: &mut Self, j: Value| -> Result<()> {
            let partials = k.leading_partials(sum, j);
            let PartialsAt::Ptr(at0) = partials.at else { return Err(jerr("partials on the stack")) };
            let mut t: Option<Elem> = None;
            for level in (0..sum.levels).filter(|l| (sum.blocks >> l) & 1 == 1) {
                let at = k.b.ins().iadd_imm_s(at0, level as i64 * size);
                let p = k.load_elem(at, sum.dtype);
                t = Some(match t {
                    None => p,
                    Some(t) => k.binary(BinaryOp::Add, sum.dtype, p, t)?,
                });
            }
            let t = t.ok_or_else(|| jerr("a sum of no blocks"))?;
            let idx = k.leading_column_index(sum, j);
            k.store(sum.root, &idx, t);
            Ok(())
        };
        self.emit_dyn(sum.lo, sum.hi, 1, &mut total).map(|_| ())
    }

    /// The vector type for adding whole vectors of adjacent columns of `operand` (of `last`
    /// elements along its last axis), when its expression reads them as vectors.
    fn column_vector_type(&mut self, operand: NodeId, dtype: DType, last: usize) -> Option<Type> {
        let vt = vector_type(dtype).filter(|_| !dtype.is_complex() && last as i64 >= MIN_VECTOR_LOOP)?;
        let axis = self.g.nodes[operand].shape.len() - 1;
        let saved = self.span;
        self.span = (0, last as i64);
        let mut s = Scan::new(dtype);
        self.scan(operand, Lane::Axis(axis, Some(0)), false, &mut s);
        self.span = saved;
        s.vector.then_some(vt)
    }

    /// Rows `base..base + len` (one block) of the vector of columns from trailing index `idx`
    /// of `operand` (of `last` elements along its last axis), each
    /// lane in the blocked order of its column (row `r` into accumulator `r % 4`, combined
    /// `(a0 + a1) + (a2 + a3)`): the block sum of each column, lane by lane.
    fn column_vectors_block(
        &mut self,
        operand: NodeId,
        vt: Type,
        vaccs: &[Variable],
        (base, len): (Value, usize),
        idx: &[Value],
        last: usize,
    ) -> Result<Vec<Value>> {
        let axis = idx.len();
        for &acc in vaccs {
            let z = self.real_const(vt.lane_type(), 0.0);
            let z = self.b.ins().splat(vt, z);
            self.b.def_var(acc, z);
        }
        let add_row = |k: &mut Self, i: Value, acc: Variable| -> Result<()> {
            k.memo.clear();
            k.span = (0, last as i64);
            k.vec = Some(vt);
            let full: Vec<Value> = std::iter::once(i).chain(idx.iter().copied()).collect();
            let x = k.expr(operand, Index::Multi(full, Lane::Axis(axis, Some(0))));
            k.vec = None;
            let Elem::Scalar(x) = x? else { return Err(jerr("a vector column sum of complex elements")) };
            let a = k.b.use_var(acc);
            let s = k.b.ins().fadd(a, x);
            k.b.def_var(acc, s);
            Ok(())
        };
        let groups = len / SUM_ACCUMULATORS;
        let mut group = |k: &mut Self, g: Value| -> Result<()> {
            let first = k.b.ins().imul_imm_s(g, SUM_ACCUMULATORS as i64);
            let first = k.b.ins().iadd(first, base);
            for (r, &acc) in vaccs.iter().enumerate() {
                let i = k.offset(first, r as i64);
                add_row(k, i, acc)?;
            }
            Ok(())
        };
        self.emit_loop(groups, &mut group)?;
        for (r, &acc) in vaccs.iter().enumerate().take(len % SUM_ACCUMULATORS) {
            let i = self.offset(base, (groups * SUM_ACCUMULATORS + r) as i64);
            add_row(self, i, acc)?;
        }
        let a: Vec<Value> = vaccs.iter().map(|&v| self.b.use_var(v)).collect();
        let low = self.b.ins().fadd(a[0], a[1]);
        let high = self.b.ins().fadd(a[2], a[3]);
        let sum = self.b.ins().fadd(low, high);
        Ok((0..vt.lane_count()).map(|l| self.b.ins().extractlane(sum, l as u8)).collect())
    }
}
