//! A maximum or minimum over a kernel's innermost reduced axis runs first with the processor's
//! own comparison (`x < acc ? x : acc`, one `minpd` on x64 where the exact combine of
//! `RealNum::minimum` takes seven instructions), from the infinity of the other side. Like the
//! exact combine it passes over NaN; unlike it, it does not make a tie of signed zeros `-0`
//! (for a maximum `+0`), and it cannot tell a row of NaN from one of infinities. Its result is
//! the exact one's whenever it is neither zero nor its starting infinity: every element equal
//! to a nonzero extreme has the extreme's bits. Otherwise (a zero extreme, a row of NaN or of
//! the starting infinity, an empty one) the level runs again with the exact combine, under a
//! branch. The bits are the interpreter's either way.

use super::emitter::{elem_ty, jerr, Elem, Fold, KernelEmitter, Reduction};
use super::reduce::ReduceLevel;
use crate::error::Result;
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, Type, Value};

/// Independent vector accumulators of a vectorized maximum or minimum (their chains of
/// comparisons overlap).
const MINMAX_VECTORS: usize = 4;

impl KernelEmitter<'_, '_> {
    /// A maximum or minimum level: with the processor's comparison, then, when its result may
    /// differ from the exact one, again with the exact combine (see the module's documentation).
    /// Only the innermost level of a real reduction without a sibling takes the first pass.
    pub(crate) fn extremum_level(&mut self, red: &ReduceLevel<'_>) -> Result<()> {
        let ReduceLevel { level, axes, dtype, kind, .. } = *red;
        if level + 1 != axes.len() || red.sibling.is_some() || dtype.is_complex() {
            return self.exact_extremum_level(red);
        }
        let total = self.fold_level(red, Fold::Quick)?;
        let ty = elem_ty(dtype);
        let (zero, start) = (self.real_const(ty, 0.0), self.real_const(ty, Fold::Quick.start(kind)));
        let is_zero = self.b.ins().fcmp(FloatCC::Equal, total, zero);
        let is_start = self.b.ins().fcmp(FloatCC::Equal, total, start);
        let again = self.b.ins().bor(is_zero, is_start);
        let (exact, done) = (self.b.create_block(), self.b.create_block());
        self.b.set_cold_block(exact);
        self.b.ins().brif(again, exact, &[], done, &[]);
        self.b.switch_to_block(exact);
        self.memo.clear();
        self.exact_extremum_level(red)?;
        self.b.ins().jump(done, &[]);
        self.b.switch_to_block(done);
        self.memo.clear();
        Ok(())
    }

    /// A maximum or minimum level with the exact combine (`RealNum::maximum` / `minimum`) into
    /// `red.vars[red.level]`. Such an extreme does not depend on the order of its elements
    /// (ties of signed zeros included), so it may run in vector lanes.
    pub(crate) fn exact_extremum_level(&mut self, red: &ReduceLevel<'_>) -> Result<()> {
        self.fold_level(red, Fold::Exact).map(|_| ())
    }

    /// The elements of one maximum or minimum level folded by `fold` from its start, in
    /// vectors where the elements allow ([`minmax_vectors`](Self::minmax_vectors)) and the rest
    /// one at a time, into `red.vars[red.level]`; the result.
    fn fold_level(&mut self, red: &ReduceLevel<'_>, fold: Fold) -> Result<Value> {
        let ReduceLevel { level, axes, in_shape, vars, dtype, kind, .. } = *red;
        let ty = elem_ty(dtype);
        let n = in_shape[axes[level]];
        let mut first = 0;
        let mut total = self.real_const(ty, fold.start(kind));
        if let Some(vt) = self.sum_vector_type(red, n) {
            (first, total) = self.minmax_vectors(red, vt, n, fold, total)?;
        }
        let acc = self.b.declare_var(ty);
        self.b.def_var(acc, total);
        let mut body = |k: &mut Self, i: Value| -> Result<()> {
            let Elem::Scalar(x) = k.level_element(red, i)? else { return Err(jerr("a complex extremum")) };
            let a = k.b.use_var(acc);
            let r = k.fold(fold, red, a, x)?;
            k.b.def_var(acc, r);
            Ok(())
        };
        let lo = self.b.ins().iconst(types::I64, first as i64);
        let hi = self.b.ins().iconst(types::I64, n as i64);
        self.emit_dyn(lo, hi, 1, &mut body)?;
        let total = self.b.use_var(acc);
        self.write_vars(&vars[level], Elem::Scalar(total));
        Ok(total)
    }

    /// The first `n - n % (MINMAX_VECTORS * lanes)` elements of a maximum or minimum level, in
    /// vectors of type `vt` from `fold`'s start in every lane, folded by `fold` into
    /// `MINMAX_VECTORS` independent accumulators and then, lane by lane, into `total`: the
    /// number of elements done and the new total.
    pub(crate) fn minmax_vectors(
        &mut self,
        red: &ReduceLevel<'_>,
        vt: Type,
        n: usize,
        fold: Fold,
        mut total: Value,
    ) -> Result<(usize, Value)> {
        let width = vt.lane_count() as usize;
        let groups = n / (MINMAX_VECTORS * width);
        if groups == 0 {
            return Ok((0, total));
        }
        let accs: Vec<_> = (0..MINMAX_VECTORS).map(|_| self.b.declare_var(vt)).collect();
        let s = self.real_const(vt.lane_type(), fold.start(red.kind));
        let s = self.b.ins().splat(vt, s);
        for &a in &accs {
            self.b.def_var(a, s);
        }
        let mut group = |k: &mut Self, g: Value| -> Result<()> {
            let first = k.b.ins().imul_imm_s(g, (MINMAX_VECTORS * width) as i64);
            for (v, &a) in accs.iter().enumerate() {
                let i = k.offset(first, (v * width) as i64);
                k.vec = Some(vt);
                let x = k.level_element(red, i);
                k.vec = None;
                let Elem::Scalar(x) = x? else { return Err(jerr("a vector extremum of complex elements")) };
                let old = k.b.use_var(a);
                let r = k.fold(fold, red, old, x)?;
                k.b.def_var(a, r);
            }
            Ok(())
        };
        self.emit_loop(groups, &mut group)?;
        for &a in &accs {
            let v = self.b.use_var(a);
            for lane in 0..width {
                let x = self.b.ins().extractlane(v, lane as u8);
                total = self.fold(fold, red, total, x)?;
            }
        }
        Ok((groups * MINMAX_VECTORS * width, total))
    }

    /// `acc` with element `x` folded in by `fold`.
    fn fold(&mut self, fold: Fold, red: &ReduceLevel<'_>, acc: Value, x: Value) -> Result<Value> {
        match fold {
            Fold::Exact => match self.binary(red.kind.combine(), red.dtype, Elem::Scalar(acc), Elem::Scalar(x))? {
                Elem::Scalar(r) => Ok(r),
                Elem::Complex(..) => Err(jerr("a vector extremum of complex elements")),
            },
            Fold::Quick => Ok(self.quick_combine(red.kind == Reduction::Max, x, acc)),
        }
    }

    /// `x < acc ? x : acc` (a maximum: `acc < x`), in the form Cranelift lowers to one
    /// `minpd` / `maxpd` on vectors: `acc` when `x` is NaN.
    fn quick_combine(&mut self, max: bool, x: Value, acc: Value) -> Value {
        let better = if max {
            self.b.ins().fcmp(FloatCC::LessThan, acc, x)
        } else {
            self.b.ins().fcmp(FloatCC::LessThan, x, acc)
        };
        self.sel(better, x, acc)
    }
}
