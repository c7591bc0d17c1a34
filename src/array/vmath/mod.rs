//! Vector math: the real transcendentals as branch-free range reductions and polynomials,
//! written once over [`Lanes`], the operations they are made of.
//!
//! The interpreter runs them on scalars ([`Scalar`]: `f32`, `f64`); the JIT implements `Lanes`
//! on Cranelift values (scalars, `f64x2`, `f32x4`) and emits the same operations in the same
//! order, so compiled code and the interpreter agree bit for bit. No multiply-add is fused.
//! Special cases are chosen by masks (`sel`), never by a branch, so every lane of a vector runs
//! the same instructions.
//!
//! The algorithms are FreeBSD's (fdlibm's, as musl and the `libm` crate carry them) made
//! branch-free: every path is computed and the result selected. `exp` is ARM's
//! optimized-routines' table-driven one (`exp_table.rs`, entries read by
//! [`Lanes::gather_pair`]; no division, about 30 operations a vector against fdlibm's 45 and a
//! division), fdlibm's under a branch for `|x|` from 708 on (87 for `f32`) and NaN. The reduction of
//! `sin`, `cos` and `tan` arguments beyond `2^20 pi/2` (`f64`; `2^12 pi/2` for `f32`) by `pi/2` to the
//! last bit (Payne-Hanek, `pio2.rs`, a table of the bits of `2/pi` read by [`Lanes::gather`]):
//! it runs under one branch, taken when some lane needs it ([`Lanes::when_any`]), and its
//! result is selected in those lanes only, so the bits do not depend on the neighbours. Measured
//! accuracy (`tests/transcendental_ulps.rs`, 10^6 points a function; every `f32` for `sin`,
//! `cos` and `tan` in an ignored test): `exp`, `log`, `sin`, `cos`, `asin`, `acos`, `atan` and
//! `pow` within 1 ulp, `tan`, `expm1`, `log1p`, `tanh`, `erf`, `asinh`, `acosh`, `atanh` and
//! `atan2` within 2 ulp, special values exact. `pow` (`pow.rs`) is ARM's table-driven one too
//! (`log |x|` from a table, `e^(y log |x|)` on `exp`'s table), fdlibm's made branch-free
//! (`pow_fdlibm.rs`) under a branch for zeros, subnormal, negative and infinite `x`, NaN and
//! results near overflow or underflow; its `f32` is evaluated in `f64` and rounded once more.
//! `erf` runs each of its four intervals of `|x|` under such a branch (their rationals and the
//! tail's `exp` are too many operations to compute all four in every lane).
//!
//! `expm1` is not fdlibm's (five cases of `k`, all computed: about 100 operations a vector, twice
//! libm's time) but `exp`'s reduction and rational with one formula for every `k` (about 55
//! operations). `tanh` is Cephes' (`1 - 2 / (e^(2|x|) + 1)` with the inline `exp` from 0.625
//! on, a rational below, one division for both, about 55 operations), not fdlibm's (an `expm1`,
//! a Taylor series, three cases, about 110 operations: a program of thousands of small
//! kernels, W8, ran 25% slower). `atan` is fdlibm's with its four reductions selected by masks
//! and one division, `atan2` fdlibm's on it (its zeros and infinities selected by masks);
//! `asin` and `acos` fdlibm's with their rational evaluated once (in `x^2` below `|x| = 0.5`,
//! in `(1 - |x|) / 2` from there on) and their paths selected by masks; `erf` fdlibm's with one
//! `exp` in the tail where fdlibm has two; `asinh`, `acosh` and `atanh` fdlibm's with the
//! argument of each interval's `log` or `log1p` selected before one logarithm (`acosh`'s near 1
//! carried to twice the precision: fdlibm's rounding there costs 2 ulp).

mod asin;
mod atan;
mod erf;
mod exp;
mod exp_table;
mod hyperbolic;
mod log;
mod pio2;
mod pow;
mod pow_fdlibm;
mod pow_table;
mod prec;
mod trig;

pub use asin::{acos, asin};
pub use atan::{atan, atan2};
pub use erf::erf;
pub use exp::{exp, expm1, tanh};
pub use hyperbolic::{acosh, asinh, atanh};
pub use log::{ln, ln_1p};
pub use pow::pow;
pub use prec::{Prec, Table, F32, F64};
pub use trig::{cos, sin, tan};

/// The operations the algorithms are written in: IEEE arithmetic on floats (one lane or
/// several), comparisons giving masks, selection by mask, and integer operations on the floats'
/// bits (integers of the float's width, wrapping).
pub trait Lanes {
    /// A float (or a vector of floats).
    type F: Copy;
    /// The bits of a float (or of each lane).
    type I: Copy;
    /// A comparison result.
    type M: Copy;
    /// The constants of the element type.
    fn prec(&self) -> &'static Prec;
    /// The constant `x` (exact in the element type).
    fn c(&mut self, x: f64) -> Self::F;
    /// The integer constant `x` (truncated to the element's width).
    fn ci(&mut self, x: u64) -> Self::I;
    /// `a + b`.
    fn add(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `a - b`.
    fn sub(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b`.
    fn mul(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b + c`, rounded once (a fused multiply-add).
    fn mul_add(&mut self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    /// `a / b`.
    fn div(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `sqrt a` (correctly rounded).
    fn sqrt(&mut self, a: Self::F) -> Self::F;
    /// `|a|`.
    fn abs(&mut self, a: Self::F) -> Self::F;
    /// `-a`.
    fn neg(&mut self, a: Self::F) -> Self::F;
    /// `a < b`.
    fn lt(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `!(a < b)`: `a >= b`, or either is NaN.
    fn not_lt(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `a <= b`.
    fn le(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `a == b`.
    fn eq(&mut self, a: Self::F, b: Self::F) -> Self::M;
    /// `a` is NaN.
    fn nan(&mut self, a: Self::F) -> Self::M;
    /// Either mask.
    fn or(&mut self, a: Self::M, b: Self::M) -> Self::M;
    /// Both masks.
    fn and(&mut self, a: Self::M, b: Self::M) -> Self::M;
    /// `m ? a : b`.
    fn sel(&mut self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    /// The bits of `a`.
    fn bits(&mut self, a: Self::F) -> Self::I;
    /// The float of bits `a`.
    fn float(&mut self, a: Self::I) -> Self::F;
    /// `a + b`, wrapping.
    fn iadd(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// `a & b`.
    fn iand(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// `a | b`.
    fn ior(&mut self, a: Self::I, b: Self::I) -> Self::I;
    /// `a << s`.
    fn shl(&mut self, a: Self::I, s: u32) -> Self::I;
    /// `a >> s`, logical.
    fn ushr(&mut self, a: Self::I, s: u32) -> Self::I;
    /// `tab[i]` in each lane, `i` an index within the table.
    fn gather(&mut self, tab: Table, i: Self::I) -> Self::F;
    /// Entries `2i` and `2i + 1` of `tab` in each lane (one load of the pair where it can).
    fn gather_pair(&mut self, tab: Table, i: Self::I) -> (Self::F, Self::F);
    /// `m ? slow : fast` in each lane, where `slow` is computed only when `m` holds in some
    /// lane (one branch around it): the rare path of an algorithm.
    fn when_any<const N: usize>(
        &mut self,
        m: Self::M,
        fast: [Self::F; N],
        slow: impl FnOnce(&mut Self) -> [Self::F; N],
    ) -> [Self::F; N];
}

/// Shared steps of the algorithms.
pub(crate) trait Steps: Lanes {
    /// `c[0] + x (c[1] + x (c[2] + ...))`, each step a fused multiply-add. Inlined always, so
    /// that the interpreter's loops compiled for the CPU's features (`array/cpu.rs`) run each
    /// step as one instruction, not as a call to libm's `fma`.
    #[inline(always)]
    fn horner(&mut self, x: Self::F, c: &[f64]) -> Self::F {
        let (last, rest) = c.split_last().expect("a polynomial has coefficients");
        let mut p = self.c(*last);
        for &k in rest.iter().rev() {
            let kc = self.c(k);
            p = self.mul_add(x, p, kc);
        }
        p
    }

    /// `x` rounded to an integer (to nearest, |x| < 2^(mantissa bits - 1)), as a float, and the
    /// float `x + shift` whose low bits hold that integer.
    fn round(&mut self, x: Self::F) -> (Self::F, Self::F) {
        let shift = self.c(self.prec().shift);
        let kd = self.add(x, shift);
        (self.sub(kd, shift), kd)
    }

    /// `2^k` for an integer `k` (a float) of a normal result.
    fn pow2(&mut self, k: Self::F) -> Self::F {
        let p = self.prec();
        let (_, kd) = self.round(k);
        let b = self.bits(kd);
        let bias = self.ci(p.bias);
        let e = self.iadd(b, bias);
        let e = self.shl(e, p.mant);
        self.float(e)
    }

    /// The unbiased exponent field of `bits` (a positive float's), as a float.
    fn exponent(&mut self, bits: Self::I) -> Self::F {
        let p = self.prec();
        let e = self.ushr(bits, p.mant);
        let two = self.ci(p.two_mant_bits);
        let e = self.ior(e, two);
        let e = self.float(e);
        let c = self.c(p.two_mant + p.bias as f64);
        self.sub(e, c)
    }

    /// `x` with the sign of `s`.
    fn copysign(&mut self, x: Self::F, s: Self::F) -> Self::F {
        let p = self.prec();
        let sign = self.ci(p.sign);
        let rest = self.ci(!p.sign);
        let xb = self.bits(x);
        let sb = self.bits(s);
        let xb = self.iand(xb, rest);
        let sb = self.iand(sb, sign);
        let r = self.ior(xb, sb);
        self.float(r)
    }

    /// `a + b` exactly, as the rounded sum and its error (Knuth's TwoSum).
    fn two_sum(&mut self, a: Self::F, b: Self::F) -> (Self::F, Self::F) {
        let s = self.add(a, b);
        let bb = self.sub(s, a);
        let sb = self.sub(s, bb);
        let ea = self.sub(a, sb);
        let eb = self.sub(b, bb);
        (s, self.add(ea, eb))
    }

    /// `a + b` exactly when `a` is zero or its exponent is at least `b`'s (Fast2Sum).
    fn fast_two_sum(&mut self, a: Self::F, b: Self::F) -> (Self::F, Self::F) {
        let s = self.add(a, b);
        let t = self.sub(a, s);
        (s, self.add(t, b))
    }

    /// `x` in two halves of at most half the mantissa each (Veltkamp), `factor` being
    /// `2^ceil((mant + 1) / 2) + 1`.
    fn split(&mut self, x: Self::F, factor: f64) -> (Self::F, Self::F) {
        let f = self.c(factor);
        let t = self.mul(x, f);
        let d = self.sub(t, x);
        let hi = self.sub(t, d);
        (hi, self.sub(x, hi))
    }

    /// `x` clamped to `[lo, hi]` (a NaN stays NaN).
    fn clamp(&mut self, x: Self::F, lo: f64, hi: f64) -> Self::F {
        let (l, h) = (self.c(lo), self.c(hi));
        let below = self.lt(x, l);
        let x = self.sel(below, l, x);
        let above = self.lt(h, x);
        self.sel(above, h, x)
    }
}

impl<L: Lanes + ?Sized> Steps for L {}

/// [`Lanes`] on one `f64` or `f32`: the interpreter's kernels.
pub struct Scalar<T>(std::marker::PhantomData<T>);

impl<T> Default for Scalar<T> {
    fn default() -> Self {
        Scalar(std::marker::PhantomData)
    }
}

macro_rules! scalar_lanes {
    ($t:ty, $i:ty, $prec:expr, $tab:ident) => {
        impl Lanes for Scalar<$t> {
            type F = $t;
            type I = $i;
            type M = bool;
            #[inline(always)]
            fn prec(&self) -> &'static Prec {
                $prec
            }
            #[inline(always)]
            fn c(&mut self, x: f64) -> $t {
                x as $t
            }
            #[inline(always)]
            fn ci(&mut self, x: u64) -> $i {
                x as $i
            }
            #[inline(always)]
            fn add(&mut self, a: $t, b: $t) -> $t {
                a + b
            }
            #[inline(always)]
            fn sub(&mut self, a: $t, b: $t) -> $t {
                a - b
            }
            #[inline(always)]
            fn mul(&mut self, a: $t, b: $t) -> $t {
                a * b
            }
            #[inline(always)]
            fn mul_add(&mut self, a: $t, b: $t, c: $t) -> $t {
                a.mul_add(b, c)
            }
            #[inline(always)]
            fn div(&mut self, a: $t, b: $t) -> $t {
                a / b
            }
            #[inline(always)]
            fn sqrt(&mut self, a: $t) -> $t {
                a.sqrt()
            }
            #[inline(always)]
            fn abs(&mut self, a: $t) -> $t {
                a.abs()
            }
            #[inline(always)]
            fn neg(&mut self, a: $t) -> $t {
                -a
            }
            #[inline(always)]
            fn lt(&mut self, a: $t, b: $t) -> bool {
                a < b
            }
            #[inline(always)]
            fn not_lt(&mut self, a: $t, b: $t) -> bool {
                a >= b || a.is_nan() || b.is_nan()
            }
            #[inline(always)]
            fn le(&mut self, a: $t, b: $t) -> bool {
                a <= b
            }
            #[inline(always)]
            fn eq(&mut self, a: $t, b: $t) -> bool {
                a == b
            }
            #[inline(always)]
            fn nan(&mut self, a: $t) -> bool {
                a.is_nan()
            }
            #[inline(always)]
            fn or(&mut self, a: bool, b: bool) -> bool {
                a | b
            }
            #[inline(always)]
            fn and(&mut self, a: bool, b: bool) -> bool {
                a & b
            }
            #[inline(always)]
            fn sel(&mut self, m: bool, a: $t, b: $t) -> $t {
                if m {
                    a
                } else {
                    b
                }
            }
            #[inline(always)]
            fn bits(&mut self, a: $t) -> $i {
                a.to_bits()
            }
            #[inline(always)]
            fn float(&mut self, a: $i) -> $t {
                <$t>::from_bits(a)
            }
            #[inline(always)]
            fn iadd(&mut self, a: $i, b: $i) -> $i {
                a.wrapping_add(b)
            }
            #[inline(always)]
            fn iand(&mut self, a: $i, b: $i) -> $i {
                a & b
            }
            #[inline(always)]
            fn ior(&mut self, a: $i, b: $i) -> $i {
                a | b
            }
            #[inline(always)]
            fn shl(&mut self, a: $i, s: u32) -> $i {
                a << s
            }
            #[inline(always)]
            fn ushr(&mut self, a: $i, s: u32) -> $i {
                a >> s
            }
            #[inline(always)]
            fn gather(&mut self, tab: Table, i: $i) -> $t {
                match tab {
                    Table::$tab(t) => t[i as usize],
                    _ => unreachable!("a table of another precision"),
                }
            }
            #[inline(always)]
            fn gather_pair(&mut self, tab: Table, i: $i) -> ($t, $t) {
                match tab {
                    Table::$tab(t) => (t[2 * i as usize], t[2 * i as usize + 1]),
                    _ => unreachable!("a table of another precision"),
                }
            }
            #[inline(always)]
            fn when_any<const N: usize>(
                &mut self,
                m: bool,
                fast: [$t; N],
                slow: impl FnOnce(&mut Self) -> [$t; N],
            ) -> [$t; N] {
                if m {
                    slow(self)
                } else {
                    fast
                }
            }
        }
    };
}

scalar_lanes!(f64, u64, &F64, F64);
scalar_lanes!(f32, u32, &F32, F32);
