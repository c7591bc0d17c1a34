//! The blocked summation order of reductions, emitted to match the interpreter's
//! `blocked_sum` bit for bit: blocks of `SUM_BLOCK` elements into four accumulators (element `j`
//! into accumulator `j % 4`), combined `(a0 + a1) + (a2 + a3)`; block sums merged pairwise as a
//! binary counter through a small stack array of partial sums; the remaining partials added from
//! the lowest level up. Four independent accumulators also break the chain of dependent adds.

use super::emitter::{elem_ty, jerr, Elem, KernelEmitter};
use super::lanes::Lane;
use super::loops::exit_or_run;
use super::reduce::ReduceLevel;
use super::vector::{vector_type, Scan};
use crate::array::DType;
use crate::error::Result;
use crate::interp::{SUM_ACCUMULATORS, SUM_BLOCK};
use crate::ir::BinaryOp;
use crate::jit::limits::MIN_VECTOR_LOOP;
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, StackSlot, StackSlotData, StackSlotKind, Type, Value};
use cranelift_frontend::Variable;

/// The accumulators of a level: four scalar ones, and in vector code the vectors whose lanes
/// they are.
pub(super) struct Accumulators<'v> {
    pub(super) scalar: &'v [Vec<Variable>],
    pub(super) vector: Option<(Type, &'v [Variable])>,
}

/// What the blocks of one blocked sum share while they are emitted.
struct BlockedSum<'v> {
    /// The accumulators of one block.
    sums: Accumulators<'v>,
    /// In vector code, the vector type and the two sets of vector accumulators of a block pair.
    pairs: Option<(Type, [&'v [Variable]; 2])>,
    /// The binary counter's partial sums.
    partials: Partials,
    /// A chunk's first block (its counter counts from there).
    first: Option<Value>,
    dtype: DType,
}

impl BlockedSum<'_> {
    /// Block `b`'s position in the binary counter.
    fn block_count(&self, k: &mut KernelEmitter<'_, '_>, b: Value) -> Value {
        match self.first {
            Some(lo) => k.b.ins().isub(b, lo),
            None => b,
        }
    }
}

/// A run of full blocks: `(first, end, level, two at a time)`.
type BlockRun<'r, 'l> = (usize, usize, &'r ReduceLevel<'l>, bool);

/// The blocks after the full ones: `(full blocks, elements of the partial block, its level)`.
type Tail<'r, 'l> = (usize, usize, &'r ReduceLevel<'l>);

/// Where a level's partial sums live while it is emitted: a stack slot, or (for one chunk of
/// a sum split across threads) the caller's memory.
pub(super) struct Partials {
    pub(super) at: PartialsAt,
    /// Bytes per element.
    pub(super) size: i64,
}

/// The memory of a level's partial sums.
pub(super) enum PartialsAt {
    /// A stack slot of the function.
    Slot(StackSlot),
    /// The caller's array (a chunk of a split sum).
    Ptr(Value),
}

impl KernelEmitter<'_, '_> {
    /// The sum over one reduction level's axis, in the blocked order.
    pub(crate) fn blocked_sum(&mut self, red: &ReduceLevel<'_>) -> Result<Elem> {
        Ok(self.blocked_sum_in(red, None)?.unwrap_or_else(|| self.zero(red.dtype)))
    }

    /// One chunk of a sum split across threads: blocks `lo..hi` of the level's axis (`hi` at
    /// most the number of blocks, `hi - lo` a power of two unless `hi` is the last), summed
    /// with a binary counter of their own whose partial sums are left at `part` for the caller
    /// to combine (`runtime::combine_chunks`), so that the result is the one-thread sum's bits.
    pub(crate) fn sum_chunk(&mut self, red: &ReduceLevel<'_>, lo: Value, hi: Value, part: Value) -> Result<()> {
        self.blocked_sum_in(red, Some((lo, hi, part))).map(|_| ())
    }

    /// [`blocked_sum`](Self::blocked_sum), or with `chunk` one chunk of it (see
    /// [`sum_chunk`](Self::sum_chunk)), which returns `None`.
    fn blocked_sum_in(&mut self, red: &ReduceLevel<'_>, chunk: Option<(Value, Value, Value)>) -> Result<Option<Elem>> {
        let n = red.in_shape[red.axes[red.level]];
        let dtype = red.dtype;
        if n == 0 {
            return Ok(None);
        }
        let (full_blocks, tail) = (n / SUM_BLOCK, n % SUM_BLOCK);
        let blocks = full_blocks + usize::from(tail > 0);
        let levels = (usize::BITS - blocks.leading_zeros()) as usize;
        let accs: Vec<Vec<Variable>> = (0..SUM_ACCUMULATORS)
            .map(|_| (0..if dtype.is_complex() { 2 } else { 1 }).map(|_| self.b.declare_var(elem_ty(dtype))).collect())
            .collect();
        let vt = self.sum_vector_type(red, n);
        let vaccs: Vec<Variable> = match vt {
            Some(v) => (0..SUM_ACCUMULATORS / v.lane_count() as usize).map(|_| self.b.declare_var(v)).collect(),
            None => Vec::new(),
        };
        // A sibling kernel is written by the innermost level (an outer level passes it down
        // to each of its elements' levels).
        let sibling = red.sibling.filter(|_| red.level + 1 == red.axes.len());
        if chunk.is_none() && blocks == 1 && sibling.is_none_or(|f| f.blocks.0 == 0) {
            // One block: the binary counter holds its sum alone, so the sum is the block's,
            // with no partial sums in memory (with a sibling, the block writes its elements).
            let sums = Accumulators { scalar: &accs, vector: vt.map(|v| (v, vaccs.as_slice())) };
            let base = self.b.ins().iconst(types::I64, 0);
            return self.sum_block(red, &sums, base, n).map(Some);
        }
        let partials = self.partials(chunk.map(|(_, _, part)| part), levels, dtype);
        // With vectors, two blocks at a time: their accumulators are independent chains of
        // additions (each still in its block's order), so their latencies overlap.
        let vaccs2: Vec<Variable> = vaccs.iter().map(|_| self.b.declare_var(vt.unwrap_or(types::F64X2))).collect();
        let sum = BlockedSum {
            sums: Accumulators { scalar: &accs, vector: vt.map(|v| (v, vaccs.as_slice())) },
            pairs: vt.map(|v| (v, [vaccs.as_slice(), vaccs2.as_slice()])),
            partials,
            first: chunk.map(|(lo, _, _)| lo),
            dtype,
        };
        // The full blocks in runs, in order: a run of blocks that also write a sibling kernel's
        // elements (`sibling.rs`) between runs that do not. With a sibling every run takes one
        // block at a time: the plain runs are a block or two at the ends, and the fused run has
        // the sibling's work to overlap its additions with (measured on W2: faster, less code).
        let plain = ReduceLevel { sibling: None, ..*red };
        let (runs, tail_level) = match sibling {
            Some(f) => {
                let (a, b) = (f.blocks.0.min(full_blocks), f.blocks.1.min(full_blocks));
                let tail_level = if f.blocks.1 > full_blocks { red } else { &plain };
                (vec![(0, a, &plain, false), (a, b, red, false), (b, full_blocks, &plain, false)], tail_level)
            }
            None => (vec![(0, full_blocks, red, true)], red),
        };
        let runs: Vec<BlockRun> = runs.into_iter().filter(|(a, b, ..)| a < b).collect();
        match chunk {
            None => self.whole_sum(&sum, &runs, (full_blocks, tail, tail_level), levels).map(Some),
            Some((lo, hi, _)) => {
                self.chunk_of_sum(&sum, &runs, (full_blocks, tail, tail_level), (lo, hi)).map(|_| None)
            }
        }
    }

    /// The vector type of the innermost level's accumulators, when its elements allow vectors:
    /// the accumulators are then the lanes of `4 / W` vectors (lane `r` of vector `v` is
    /// accumulator `v W + r`), so each accumulator adds the same elements in the same order as
    /// in scalar code.
    pub(super) fn sum_vector_type(&mut self, red: &ReduceLevel<'_>, n: usize) -> Option<Type> {
        if red.level + 1 != red.axes.len() {
            return None;
        }
        let axis = red.axes[red.level];
        let saved = self.span;
        self.span = (0, n as i64);
        let mut s = Scan::new(red.dtype);
        self.scan(red.operand, Lane::Axis(axis, Some(0)), false, &mut s);
        self.span = saved;
        vector_type(red.dtype).filter(|_| s.vector && !red.dtype.is_complex() && n as i64 >= MIN_VECTOR_LOOP)
    }

    /// The partial sums of `levels` levels: at `part` (a chunk's, the caller's memory) or in a
    /// new stack slot.
    fn partials(&mut self, part: Option<Value>, levels: usize, dtype: DType) -> Partials {
        let size = dtype.size_of() as i64;
        match part {
            Some(part) => Partials { at: PartialsAt::Ptr(part), size },
            None => {
                let bytes = (levels as i64 * size) as u32;
                let slot = self.b.create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, bytes, 4));
                Partials { at: PartialsAt::Slot(slot), size }
            }
        }
    }

    /// Blocks `lo..end` of a run, merged into the partial sums: with `pairs` (and vectors) two
    /// at a time while two remain.
    fn sum_blocks(
        &mut self,
        sum: &BlockedSum<'_>,
        (lo, end): (Value, Value),
        r: &ReduceLevel<'_>,
        pairs: bool,
    ) -> Result<()> {
        let dtype = sum.dtype;
        let mut block = |k: &mut Self, b: Value| -> Result<()> {
            let base = k.b.ins().imul_imm_s(b, SUM_BLOCK as i64);
            let s = k.sum_block(r, &sum.sums, base, SUM_BLOCK)?;
            let count = sum.block_count(k, b);
            k.merge_partial(&sum.partials, count, s, dtype)
        };
        let mut pair = |k: &mut Self, b: Value| -> Result<()> {
            let Some((vt, vaccs)) = sum.pairs else { return Err(jerr("block pairs without vectors")) };
            let base = k.b.ins().imul_imm_s(b, SUM_BLOCK as i64);
            let (s0, s1) = k.sum_block_pair(r, vt, vaccs, base)?;
            let count = sum.block_count(k, b);
            k.merge_partial(&sum.partials, count, s0, dtype)?;
            let next = k.b.ins().iadd_imm_s(count, 1);
            k.merge_partial(&sum.partials, next, s1, dtype)
        };
        let next = if sum.pairs.is_some() && pairs { self.emit_dyn(lo, end, 2, &mut pair)? } else { lo };
        self.emit_dyn(next, end, 1, &mut block).map(|_| ())
    }

    /// A whole sum: every run, the partial tail block, then the partials added from the lowest
    /// level up.
    fn whole_sum(
        &mut self,
        sum: &BlockedSum<'_>,
        runs: &[BlockRun<'_, '_>],
        (full_blocks, tail, tail_level): Tail<'_, '_>,
        levels: usize,
    ) -> Result<Elem> {
        let dtype = sum.dtype;
        for &(a, b, r, pairs) in runs {
            let (lo, end) = (self.b.ins().iconst(types::I64, a as i64), self.b.ins().iconst(types::I64, b as i64));
            self.sum_blocks(sum, (lo, end), r, pairs)?;
        }
        if tail > 0 {
            let base = self.b.ins().iconst(types::I64, (full_blocks * SUM_BLOCK) as i64);
            let s = self.sum_block(tail_level, &sum.sums, base, tail)?;
            let count = self.b.ins().iconst(types::I64, full_blocks as i64);
            self.merge_partial(&sum.partials, count, s, dtype)?;
        }
        let blocks = full_blocks + usize::from(tail > 0);
        let mut total: Option<Elem> = None;
        for level in (0..levels).filter(|l| (blocks >> l) & 1 == 1) {
            let at = self.partials_base(&sum.partials);
            let at = self.b.ins().iadd_imm_s(at, level as i64 * sum.partials.size);
            let p = self.load_elem(at, dtype);
            total = Some(match total {
                None => p,
                Some(t) => self.binary(BinaryOp::Add, dtype, p, t)?,
            });
        }
        total.ok_or_else(|| jerr("a sum of no blocks"))
    }

    /// Blocks `lo..hi` of a sum (one chunk), the partial tail block in the last chunk; the
    /// partials stay in the caller's memory.
    fn chunk_of_sum(
        &mut self,
        sum: &BlockedSum<'_>,
        runs: &[BlockRun<'_, '_>],
        (full_blocks, tail, tail_level): Tail<'_, '_>,
        (lo, hi): (Value, Value),
    ) -> Result<()> {
        let full = self.b.ins().iconst(types::I64, full_blocks as i64);
        let end = self.b.ins().umin(hi, full);
        for &(a, b, r, pairs) in runs {
            // This run's blocks in the chunk.
            let (a, b) = (self.b.ins().iconst(types::I64, a as i64), self.b.ins().iconst(types::I64, b as i64));
            let (a, b) = (self.b.ins().umax(a, lo), self.b.ins().umin(b, end));
            self.sum_blocks(sum, (a, b), r, pairs)?;
        }
        if tail > 0 {
            // The last chunk ends with the partial block.
            let (tb, done) = (self.b.create_block(), self.b.create_block());
            let last = self.b.ins().icmp_imm_s(IntCC::UnsignedGreaterThan, hi, full_blocks as i64);
            self.b.ins().brif(last, tb, &[], done, &[]);
            self.b.switch_to_block(tb);
            let base = self.b.ins().iconst(types::I64, (full_blocks * SUM_BLOCK) as i64);
            let s = self.sum_block(tail_level, &sum.sums, base, tail)?;
            let count = self.b.ins().isub(full, lo);
            self.merge_partial(&sum.partials, count, s, sum.dtype)?;
            self.b.ins().jump(done, &[]);
            self.b.switch_to_block(done);
        }
        Ok(())
    }

    /// The address of partial sum 0.
    fn partials_base(&mut self, partials: &Partials) -> Value {
        match partials.at {
            PartialsAt::Ptr(p) => p,
            PartialsAt::Slot(slot) => self.b.ins().stack_addr(self.ptr_ty, slot, 0),
        }
    }

    /// The sums of the two full blocks from index `base`, on vectors, each into its own
    /// accumulators (`accs[0]`, `accs[1]`) in the blocked order, combined.
    fn sum_block_pair(
        &mut self,
        red: &ReduceLevel<'_>,
        vt: Type,
        accs: [&[Variable]; 2],
        base: Value,
    ) -> Result<(Elem, Elem)> {
        let width = vt.lane_count() as usize;
        for vaccs in accs {
            for &acc in vaccs {
                let z = self.real_const(vt.lane_type(), 0.0);
                let z = self.b.ins().splat(vt, z);
                self.b.def_var(acc, z);
            }
        }
        let mut group = |k: &mut Self, g: Value| -> Result<()> {
            let first = k.b.ins().imul_imm_s(g, SUM_ACCUMULATORS as i64);
            let first = k.b.ins().iadd(first, base);
            for v in 0..accs[0].len() {
                for (blk, vaccs) in accs.iter().enumerate() {
                    let i = k.offset(first, (blk * SUM_BLOCK + v * width) as i64);
                    k.vec = Some(vt);
                    let x = k.level_element(red, i);
                    k.vec = None;
                    let Elem::Scalar(x) = x? else { return Err(jerr("vector sum of complex elements")) };
                    let a = k.b.use_var(vaccs[v]);
                    let s = k.b.ins().fadd(a, x);
                    k.b.def_var(vaccs[v], s);
                }
            }
            Ok(())
        };
        self.emit_loop(SUM_BLOCK / SUM_ACCUMULATORS, &mut group)?;
        let mut sums = [Elem::Scalar(base); 2];
        for (blk, vaccs) in accs.iter().enumerate() {
            let lanes: Vec<Value> = (0..SUM_ACCUMULATORS)
                .map(|r| {
                    let v = self.b.use_var(vaccs[r / width]);
                    self.b.ins().extractlane(v, (r % width) as u8)
                })
                .collect();
            let low = self.b.ins().fadd(lanes[0], lanes[1]);
            let high = self.b.ins().fadd(lanes[2], lanes[3]);
            sums[blk] = Elem::Scalar(self.b.ins().fadd(low, high));
        }
        Ok((sums[0], sums[1]))
    }

    /// The sum of `len` elements from index `base` into the accumulators, combined.
    pub(super) fn sum_block(
        &mut self,
        red: &ReduceLevel<'_>,
        sums: &Accumulators<'_>,
        base: Value,
        len: usize,
    ) -> Result<Elem> {
        if red.sibling.is_some() && red.level + 1 < red.axes.len() {
            return self.sum_block_rolled(red, base, len);
        }
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
                        let i = k.offset(first, (v * width) as i64);
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
                        let i = k.offset(first, r as i64);
                        k.accumulate(red, acc, i)?;
                    }
                    Ok(())
                };
                self.emit_loop(groups, &mut group)?;
            }
        }
        for (r, acc) in accs.iter().enumerate().take(len % SUM_ACCUMULATORS) {
            let i = self.offset(base, (groups * SUM_ACCUMULATORS + r) as i64);
            self.accumulate(red, acc, i)?;
        }
        let a: Vec<Elem> = accs.iter().map(|acc| self.read_vars(acc)).collect();
        let low = self.binary(BinaryOp::Add, dtype, a[0], a[1])?;
        let high = self.binary(BinaryOp::Add, dtype, a[2], a[3])?;
        self.binary(BinaryOp::Add, dtype, low, high)
    }

    /// [`sum_block`](Self::sum_block) of an outer level whose elements are sums of the next
    /// level that write a sibling kernel's elements (`sibling.rs`): one loop over the elements,
    /// so that the next level's code (and the sibling's) is emitted once rather than once per
    /// accumulator; element `j` of the block goes into accumulator `j % 4`, kept in a stack
    /// slot, in the same order as in [`sum_block`](Self::sum_block).
    fn sum_block_rolled(&mut self, red: &ReduceLevel<'_>, base: Value, len: usize) -> Result<Elem> {
        let dtype = red.dtype;
        let size = dtype.size_of() as i64;
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            (SUM_ACCUMULATORS as i64 * size) as u32,
            4,
        ));
        for r in 0..SUM_ACCUMULATORS as i64 {
            let at = self.b.ins().stack_addr(self.ptr_ty, slot, (r * size) as i32);
            let zero = self.zero(dtype);
            self.store_elem(at, zero, dtype);
        }
        let mut element = |k: &mut Self, j: Value| -> Result<()> {
            let i = k.b.ins().iadd(base, j);
            let v = k.level_element(red, i)?;
            let r = k.b.ins().band_imm_s(j, (SUM_ACCUMULATORS - 1) as i64);
            let off = k.b.ins().imul_imm_s(r, size);
            let at = k.b.ins().stack_addr(k.ptr_ty, slot, 0);
            let at = k.b.ins().iadd(at, off);
            let a = k.load_elem(at, dtype);
            let s = k.binary(BinaryOp::Add, dtype, a, v)?;
            k.store_elem(at, s, dtype);
            Ok(())
        };
        self.emit_loop(len, &mut element)?;
        let a: Vec<Elem> = (0..SUM_ACCUMULATORS as i64)
            .map(|r| {
                let at = self.b.ins().stack_addr(self.ptr_ty, slot, (r * size) as i32);
                self.load_elem(at, dtype)
            })
            .collect();
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
    pub(super) fn merge_partial(&mut self, partials: &Partials, count: Value, s: Elem, dtype: DType) -> Result<()> {
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
        let done = self.b.ins().icmp_imm_s(IntCC::Equal, bit, 0);
        exit_or_run(&mut self.b, done, exit, &[], body);
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
        let base = self.partials_base(partials);
        let off = self.b.ins().imul_imm_s(level, partials.size);
        self.b.ins().iadd(base, off)
    }
}
