//! The `Polynomial` rows: `array/vmath`'s algorithms emitted through [`Lanes`] on Cranelift
//! values, one scalar or a vector of lanes (`f64x2`, `f32x4`). The algorithm is the one the
//! interpreter's scalar kernel runs, operation for operation, so the bits agree.

use super::emitter::{elem_ty, jerr, KernelEmitter};
use crate::array::vmath::{self, Lanes, Prec, Table};
use crate::array::DType;
use crate::error::Result;
use crate::ir::{BinaryOp, PolynomialBinary, PolynomialUnary, UnaryOp};
use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};

/// [`Lanes`] on the emitter's builder: floats of `ty` (a scalar type or the vector loop's
/// type), their bits as integers of `int`.
struct Clif<'k, 'a, 'b> {
    k: &'k mut KernelEmitter<'a, 'b>,
    prec: &'static Prec,
    ty: Type,
    int: Type,
}

impl Lanes for Clif<'_, '_, '_> {
    type F = Value;
    type I = Value;
    type M = Value;
    fn prec(&self) -> &'static Prec {
        self.prec
    }
    fn c(&mut self, x: f64) -> Value {
        // Of `ty`, which is not the kernel's vector type where `f32` runs widened.
        let c = if self.ty.lane_type() == types::F32 {
            self.k.b.ins().f32const(x as f32)
        } else {
            self.k.b.ins().f64const(x)
        };
        if self.ty.is_vector() {
            self.k.b.ins().splat(self.ty, c)
        } else {
            c
        }
    }
    fn ci(&mut self, x: u64) -> Value {
        let lane = self.int.lane_type();
        let c = self.k.b.ins().iconst(lane, x as i64 & lane_mask(lane));
        if self.int.is_vector() {
            self.k.b.ins().splat(self.int, c)
        } else {
            c
        }
    }
    fn add(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().fadd(a, b)
    }
    fn sub(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().fsub(a, b)
    }
    fn mul(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().fmul(a, b)
    }
    fn mul_add(&mut self, a: Value, b: Value, c: Value) -> Value {
        self.k.b.ins().fma(a, b, c)
    }
    fn div(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().fdiv(a, b)
    }
    fn sqrt(&mut self, a: Value) -> Value {
        self.k.b.ins().sqrt(a)
    }
    fn abs(&mut self, a: Value) -> Value {
        self.k.absolute(a)
    }
    fn neg(&mut self, a: Value) -> Value {
        self.k.negate(a)
    }
    fn lt(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().fcmp(FloatCC::LessThan, a, b)
    }
    fn not_lt(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().fcmp(FloatCC::UnorderedOrGreaterThanOrEqual, a, b)
    }
    fn le(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().fcmp(FloatCC::LessThanOrEqual, a, b)
    }
    fn eq(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().fcmp(FloatCC::Equal, a, b)
    }
    fn nan(&mut self, a: Value) -> Value {
        self.k.b.ins().fcmp(FloatCC::Unordered, a, a)
    }
    fn or(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().bor(a, b)
    }
    fn and(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().band(a, b)
    }
    fn sel(&mut self, m: Value, a: Value, b: Value) -> Value {
        self.k.sel(m, a, b)
    }
    fn bits(&mut self, a: Value) -> Value {
        self.k.b.ins().bitcast(self.int, MemFlagsData::new(), a)
    }
    fn float(&mut self, a: Value) -> Value {
        self.k.b.ins().bitcast(self.ty, MemFlagsData::new(), a)
    }
    fn iadd(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().iadd(a, b)
    }
    fn iand(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().band(a, b)
    }
    fn ior(&mut self, a: Value, b: Value) -> Value {
        self.k.b.ins().bor(a, b)
    }
    fn shl(&mut self, a: Value, s: u32) -> Value {
        self.k.b.ins().ishl_imm_u(a, i64::from(s))
    }
    fn ushr(&mut self, a: Value, s: u32) -> Value {
        self.k.b.ins().ushr_imm_u(a, i64::from(s))
    }
    fn gather(&mut self, tab: Table, i: Value) -> Value {
        if !self.ty.is_vector() {
            return self.load(tab, i);
        }
        let mut out = None;
        for lane in 0..self.ty.lane_count() as u8 {
            let il = self.k.b.ins().extractlane(i, lane);
            let v = self.load(tab, il);
            out = Some(match out {
                None => self.k.b.ins().scalar_to_vector(self.ty, v),
                Some(acc) => self.k.b.ins().insertlane(acc, v, lane),
            });
        }
        out.expect("a vector has lanes")
    }
    fn gather_pair(&mut self, tab: Table, i: Value) -> (Value, Value) {
        if !self.ty.is_vector() {
            let (i0, i1) = self.pair_indices(i);
            return (self.load(tab, i0), self.load(tab, i1));
        }
        // Each lane's pair is one load of twice the element's width; the pairs of all lanes
        // fill two vectors, whose even and odd elements are the two results.
        let lanes = self.ty.lane_count() as u8;
        let pair_ty = if self.ty.lane_type() == types::F64 { types::F64X2 } else { types::F64 };
        let mut halves = [None, None];
        for lane in 0..lanes {
            let il = self.k.b.ins().extractlane(i, lane);
            let at = self.address(tab, il, 2);
            let v = self.k.b.ins().load(pair_ty, MemFlagsData::trusted().with_readonly(), at, 0);
            if pair_ty.is_vector() {
                halves[lane as usize] = Some(v);
                continue;
            }
            // f32 pairs: two per f64x2, lanes 0-1 in the first, 2-3 in the second.
            let (h, at_lane) = ((lane / 2) as usize, lane % 2);
            halves[h] = Some(match halves[h] {
                None => self.k.b.ins().scalar_to_vector(types::F64X2, v),
                Some(acc) => self.k.b.ins().insertlane(acc, v, at_lane),
            });
        }
        let [a, b] = halves.map(|h| h.expect("a vector has lanes"));
        let (a, b) = (self.k.reinterpret(self.ty, a), self.k.reinterpret(self.ty, b));
        (self.k.even_lanes(self.ty, a, b), self.k.odd_lanes(self.ty, a, b))
    }
    fn when_any<const N: usize>(
        &mut self,
        m: Value,
        fast: [Value; N],
        slow: impl FnOnce(&mut Self) -> [Value; N],
    ) -> [Value; N] {
        if self.k.note_rare_lanes(m) {
            return fast;
        }
        let any = if self.ty.is_vector() { self.k.b.ins().vany_true(m) } else { m };
        let (cold, merge) = (self.k.b.create_block(), self.k.b.create_block());
        for _ in 0..N {
            self.k.b.append_block_param(merge, self.ty);
        }
        self.k.b.set_cold_block(cold);
        let args = fast.map(|v| v.into());
        self.k.b.ins().brif(any, cold, &[], merge, &args);
        self.k.b.switch_to_block(cold);
        let s = slow(self);
        let mut picked = Vec::with_capacity(N);
        for (s, f) in s.into_iter().zip(fast) {
            picked.push(self.k.sel(m, s, f).into());
        }
        self.k.b.ins().jump(merge, &picked);
        self.k.b.switch_to_block(merge);
        let p = self.k.b.block_params(merge);
        std::array::from_fn(|i| p[i])
    }
}

impl Clif<'_, '_, '_> {
    /// One element of a table at integer index `i` (a scalar of the integer lane type).
    fn load(&mut self, tab: Table, i: Value) -> Value {
        let at = self.address(tab, i, 1);
        // The table is a static of the program, never written.
        self.k.b.ins().load(self.ty.lane_type(), MemFlagsData::trusted().with_readonly(), at, 0)
    }

    /// The address of element `i * stride` of a table (`i` a scalar of the integer lane type).
    fn address(&mut self, tab: Table, i: Value, stride: i64) -> Value {
        let (base, size) = match tab {
            Table::F64(t) => (t.as_ptr() as i64, 8),
            Table::F32(t) => (t.as_ptr() as i64, 4),
        };
        let b = &mut self.k.b;
        let i = if b.func.dfg.value_type(i) == types::I64 { i } else { b.ins().uextend(types::I64, i) };
        let off = b.ins().imul_imm_u(i, size * stride);
        b.ins().iadd_imm_s(off, base)
    }

    /// The indices `2i` and `2i + 1` (scalars).
    fn pair_indices(&mut self, i: Value) -> (Value, Value) {
        let b = &mut self.k.b;
        let i0 = b.ins().iadd(i, i);
        let i1 = b.ins().iadd_imm_s(i0, 1);
        (i0, i1)
    }
}

/// The bits of an integer lane type, as a mask of an `i64` immediate.
fn lane_mask(lane: Type) -> i64 {
    if lane.bits() >= 64 {
        -1
    } else {
        (1i64 << lane.bits()) - 1
    }
}

impl<'a, 'b> KernelEmitter<'a, 'b> {
    /// [`Lanes`] for the `Polynomial` row `name` on real dtype `d`, on values of `x`'s type (a
    /// scalar or the vector loop's lanes).
    fn lanes(&mut self, name: &str, d: DType, x: Value) -> Result<Clif<'_, 'a, 'b>> {
        let (prec, int) = match elem_ty(d) {
            types::F64 => (&vmath::F64, types::I64),
            types::F32 => (&vmath::F32, types::I32),
            _ => return Err(jerr(format!("{name} on {d}"))),
        };
        let ty = self.b.func.dfg.value_type(x);
        let int = if ty.is_vector() { int.by(ty.lane_count()).expect("a vector of lanes") } else { int };
        Ok(Clif { k: self, prec, ty, int })
    }

    /// One element (or one vector of lanes) of the `Polynomial` row `u` on real dtype `d`.
    pub(crate) fn unary_polynomial(&mut self, u: UnaryOp, d: DType, x: Value) -> Result<Value> {
        let Some(p) = u.polynomial_real() else { return Err(jerr(format!("{} has no polynomial", u.name()))) };
        let mut l = self.lanes(u.name(), d, x)?;
        Ok(match p {
            PolynomialUnary::Exp => vmath::exp(&mut l, x),
            PolynomialUnary::Log => vmath::ln(&mut l, x),
            PolynomialUnary::Log1p => vmath::ln_1p(&mut l, x),
            PolynomialUnary::Sin => vmath::sin(&mut l, x),
            PolynomialUnary::Cos => vmath::cos(&mut l, x),
            PolynomialUnary::Tan => vmath::tan(&mut l, x),
            PolynomialUnary::Tanh => vmath::tanh(&mut l, x),
            PolynomialUnary::Expm1 => vmath::expm1(&mut l, x),
            PolynomialUnary::Asin => vmath::asin(&mut l, x),
            PolynomialUnary::Acos => vmath::acos(&mut l, x),
            PolynomialUnary::Atan => vmath::atan(&mut l, x),
            PolynomialUnary::Asinh => vmath::asinh(&mut l, x),
            PolynomialUnary::Acosh => vmath::acosh(&mut l, x),
            PolynomialUnary::Atanh => vmath::atanh(&mut l, x),
            PolynomialUnary::Erf => vmath::erf(&mut l, x),
        })
    }

    /// One element (or one vector of lanes) of the `Polynomial` binary row `op` on real dtype
    /// `d`, operands `x` and `y` of one type.
    pub(crate) fn binary_polynomial(&mut self, op: BinaryOp, d: DType, x: Value, y: Value) -> Result<Value> {
        let Some(p) = op.polynomial_real() else { return Err(jerr(format!("{} has no polynomial", op.name()))) };
        if p == PolynomialBinary::Pow && d == DType::F32 {
            return self.widened(x, y, |k, x, y| k.binary_polynomial(op, DType::F64, x, y));
        }
        let mut l = self.lanes(op.name(), d, x)?;
        Ok(match p {
            PolynomialBinary::Atan2 => vmath::atan2(&mut l, x, y),
            PolynomialBinary::Pow => vmath::pow(&mut l, x, y),
        })
    }

    /// `f(x, y)` of `f32` operands (a scalar or `f32x4` lanes) evaluated on their exact `f64`
    /// widenings (`f64x2` halves) and rounded back, as the interpreter's `f32` kernel does.
    fn widened(
        &mut self,
        x: Value,
        y: Value,
        mut f: impl FnMut(&mut Self, Value, Value) -> Result<Value>,
    ) -> Result<Value> {
        if !self.b.func.dfg.value_type(x).is_vector() {
            let (xw, yw) = (self.b.ins().fpromote(types::F64, x), self.b.ins().fpromote(types::F64, y));
            let r = f(self, xw, yw)?;
            return Ok(self.b.ins().fdemote(types::F32, r));
        }
        let mut halves = [None, None];
        for (h, half) in halves.iter_mut().enumerate() {
            let (xh, yh) = if h == 0 { (x, y) } else { (self.high_half(x), self.high_half(y)) };
            let (xw, yw) = (self.b.ins().fvpromote_low(xh), self.b.ins().fvpromote_low(yh));
            let r = f(self, xw, yw)?;
            *half = Some(self.b.ins().fvdemote(r));
        }
        let [lo, hi] = halves.map(|h| h.expect("two halves"));
        // Each demoted half holds its two lanes in its low 64 bits.
        let (lo, hi) = (self.reinterpret(types::F64X2, lo), self.reinterpret(types::F64X2, hi));
        let r = self.even_lanes(types::F64X2, lo, hi);
        Ok(self.reinterpret(types::F32X4, r))
    }

    /// Lanes 2 and 3 of an `f32x4` moved to lanes 0 and 1.
    fn high_half(&mut self, v: Value) -> Value {
        let w = self.reinterpret(types::F64X2, v);
        let h = self.odd_lanes(types::F64X2, w, w);
        self.reinterpret(types::F32X4, h)
    }
}
