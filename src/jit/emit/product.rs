//! Small real matrix products emitted inline, as loop nests inside the kernel functions.
//!
//! A product of at most `interp::SMALL_PRODUCT_WORK` multiply-adds per matrix (a recurrent
//! step's `[1, 14] x [14, 14]`, an outer product of two vectors) costs less than a call into
//! the runtime's GEMM: here it is a loop nest among the other loop nests of its function, with
//! no call, no dispatch and no zeroing pass. Each row of the result is computed in tiles of up
//! to [`TILE_VECTORS`] vectors of columns (plus scalar columns past the last whole vector),
//! each tile's accumulators kept in registers over the summed axis.
//!
//! Each `c[i, j]` is `((0 + a[i, 0] b[0, j]) + a[i, 1] b[1, j]) + ...`, the summed axis in order
//! from zero with rounded products and no fused multiply-add: the interpreter's
//! `small_product`, bit for bit, whatever the operands' layouts. A transposed operand (the
//! permutation of a matrix product operand that has no buffer of its own) is read through
//! strides.

use super::emitter::{elem_ty, jerr, KernelEmitter};
use super::index::pure_load;
use super::vector::vector_type;
use crate::array::DType;
use crate::error::Result;
use crate::ir::NodeId;
use crate::jit::plan::products::matmul_operand;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::Variable;

/// Vectors of columns accumulated together in registers (16 `f64` or 32 `f32` columns).
const TILE_VECTORS: usize = 8;

/// One matrix operand (for `a`, one row of it): its base pointer and its row and column
/// strides in bytes.
#[derive(Copy, Clone)]
struct Operand {
    base: Value,
    row: i64,
    col: i64,
}

/// The columns of one tile of a result row.
struct Tile {
    /// The first column (a run-time value inside the loop over whole tiles).
    start: Value,
    /// Whole vectors of columns.
    vectors: usize,
    /// Single columns after them.
    scalars: usize,
}

impl KernelEmitter<'_, '_> {
    /// Emits matrix product `root` (see [`is_inline_product`]) at the current position; the
    /// pointers of its buffers are loaded.
    pub(crate) fn emit_small_product(&mut self, root: NodeId) -> Result<()> {
        let node = &self.g.nodes[root];
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let ((slot_a, ta), (slot_b, tb)) =
            (matmul_operand(self.g, self.plan, a)?, matmul_operand(self.g, self.plan, b)?);
        let slot_c = self.plan.buffer[root].ok_or_else(|| jerr("a product without a buffer"))?;
        let shape = &self.g.nodes[a].shape;
        let r = shape.len();
        let (batch, m, k, n) =
            (shape[..r - 2].iter().product::<usize>(), shape[r - 2], shape[r - 1], node.shape[r - 1]);
        let dtype = node.dtype;
        let size = dtype.size_of() as i64;
        let ptr = |s: usize| self.ptrs.get(&s).copied().ok_or_else(|| jerr(format!("slot {s} is not loaded")));
        let (pa, pb, pc) = (ptr(slot_a)?, ptr(slot_b)?, ptr(slot_c)?);
        // Element strides of `a` ([m, k], or stored as [k, m]) and `b` ([k, n], or [n, k]).
        let (a_row, a_col) = if ta { (1, m as i64) } else { (k as i64, 1) };
        let (b_row, b_col) = if tb { (1, k as i64) } else { (n as i64, 1) };
        let mut per_matrix = |e: &mut Self, t: Value| -> Result<()> {
            let at = |e: &mut Self, base: Value, elems: usize| {
                let off = e.b.ins().imul_imm_s(t, (elems as i64) * size);
                e.b.ins().iadd(base, off)
            };
            let (ma, mb, mc) = (at(e, pa, m * k), at(e, pb, k * n), at(e, pc, m * n));
            let mut row = |e: &mut Self, i: Value| -> Result<()> {
                let a_off = e.b.ins().imul_imm_s(i, a_row * size);
                let a_row_base = e.b.ins().iadd(ma, a_off);
                let c_off = e.b.ins().imul_imm_s(i, n as i64 * size);
                let c_row = e.b.ins().iadd(mc, c_off);
                let a_op = Operand { base: a_row_base, row: 0, col: a_col * size };
                let b_op = Operand { base: mb, row: b_row * size, col: b_col * size };
                e.product_row(dtype, k, n, a_op, b_op, c_row)
            };
            e.emit_loop(m, &mut row)
        };
        self.emit_loop(batch, &mut per_matrix)
    }

    /// One row of the result, `c_row[j] = sum_p a_row[p] b[p, j]`, in tiles of columns.
    fn product_row(&mut self, dtype: DType, k: usize, n: usize, a: Operand, b: Operand, c_row: Value) -> Result<()> {
        let width = vector_type(dtype).map_or(1, |v| v.lane_count() as usize);
        let tile_columns = TILE_VECTORS * width;
        let whole = n / tile_columns;
        let mut tile = |e: &mut Self, j: Value| -> Result<()> {
            e.product_tile(dtype, k, a, b, c_row, &Tile { start: j, vectors: TILE_VECTORS, scalars: 0 })
        };
        self.emit_range(0, tile_columns as i64, whole as i64, &mut tile)?;
        let rest = n - whole * tile_columns;
        if rest > 0 {
            let start = self.b.ins().iconst(types::I64, (whole * tile_columns) as i64);
            self.product_tile(dtype, k, a, b, c_row, &Tile { start, vectors: rest / width, scalars: rest % width })?;
        }
        Ok(())
    }

    /// One tile of a result row: its accumulators start at zero, take one product per step of
    /// the summed axis, in order, and are stored once.
    fn product_tile(
        &mut self,
        dtype: DType,
        k: usize,
        a: Operand,
        b: Operand,
        c_row: Value,
        tile: &Tile,
    ) -> Result<()> {
        let ty = elem_ty(dtype);
        let vt = vector_type(dtype).filter(|_| tile.vectors > 0);
        let width = vt.map_or(1, |v| v.lane_count() as usize);
        let size = dtype.size_of() as i64;
        // Each accumulator: its variable, its vector type (none for a single column), and the
        // tile column it starts at.
        let accs: Vec<(Variable, Option<Type>, i64)> = (0..tile.vectors)
            .map(|c| (vt, c * width))
            .chain((0..tile.scalars).map(|s| (None, tile.vectors * width + s)))
            .map(|(v, column)| (self.b.declare_var(v.unwrap_or(ty)), v, column as i64))
            .collect();
        let zero = if ty == types::F32 { self.b.ins().f32const(0.0) } else { self.b.ins().f64const(0.0) };
        for &(var, v, _) in &accs {
            let z = match v {
                Some(v) => self.b.ins().splat(v, zero),
                None => zero,
            };
            self.b.def_var(var, z);
        }
        // The tile's first column in `b` (on row 0) and in `c`.
        let b_cols = self.b.ins().imul_imm_s(tile.start, b.col);
        let b_tile = self.b.ins().iadd(b.base, b_cols);
        let c_cols = self.b.ins().imul_imm_s(tile.start, size);
        let c_tile = self.b.ins().iadd(c_row, c_cols);
        let trusted = MemFlagsData::trusted();
        // The operands' loads are pure values (`pure_load`): no kernel writes an operand while
        // the product reads it, and every address is an element of the operand. Cranelift then
        // places each load next to the multiply that uses it, instead of all of a step's loads
        // first, whose values would push the accumulators out of registers.
        let operand = pure_load(trusted, true);
        let mut step = |e: &mut Self, p: Value| -> Result<()> {
            let a_off = e.b.ins().imul_imm_s(p, a.col);
            let a_at = e.b.ins().iadd(a.base, a_off);
            let x = e.b.ins().load(ty, operand, a_at, 0);
            let b_off = e.b.ins().imul_imm_s(p, b.row);
            let b_at = e.b.ins().iadd(b_tile, b_off);
            let xs = vt.map(|v| e.b.ins().splat(v, x));
            for &(var, v, column) in &accs {
                let (x, y) = match (v, xs) {
                    (Some(v), Some(xs)) => (xs, e.load_columns(v, b_at, column, b.col)?),
                    _ => (x, e.b.ins().load(ty, operand, b_at, offset(column * b.col)?)),
                };
                let prod = e.b.ins().fmul(x, y);
                let acc = e.b.use_var(var);
                let sum = e.b.ins().fadd(acc, prod);
                e.b.def_var(var, sum);
            }
            Ok(())
        };
        self.emit_loop(k, &mut step)?;
        for &(var, v, column) in &accs {
            let acc = self.b.use_var(var);
            let flags = if v.is_some() { MemFlagsData::new().with_notrap() } else { trusted };
            self.b.ins().store(flags, acc, c_tile, offset(column * size)?);
        }
        Ok(())
    }

    /// The vector of `v`'s lane count of columns starting `column` columns after `at`, columns
    /// `stride` bytes apart: one load when they are adjacent, one load per lane otherwise.
    fn load_columns(&mut self, v: Type, at: Value, column: i64, stride: i64) -> Result<Value> {
        let lane_ty = v.lane_type();
        if stride == lane_ty.bytes() as i64 {
            let flags = pure_load(MemFlagsData::new().with_notrap(), true);
            return Ok(self.b.ins().load(v, flags, at, offset(column * stride)?));
        }
        let flags = pure_load(MemFlagsData::trusted(), true);
        let mut out = None;
        for l in 0..v.lane_count() as u8 {
            let x = self.b.ins().load(lane_ty, flags, at, offset((column + l as i64) * stride)?);
            // The first lane as a splat: one instruction with its load on x64, where
            // `scalar_to_vector` clears the vector first.
            out = Some(match out {
                None => self.b.ins().splat(v, x),
                Some(acc) => self.b.ins().insertlane(acc, x, l),
            });
        }
        Ok(out.expect("a vector has lanes"))
    }
}

/// A byte offset as a load's or store's immediate.
fn offset(bytes: i64) -> Result<i32> {
    i32::try_from(bytes).map_err(|_| jerr(format!("offset {bytes} does not fit an immediate")))
}
