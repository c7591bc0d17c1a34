//! `pow` (ARM's optimized-routines `pow`, 0.52 ulp, without fused multiply-adds): `log |x|` to
//! about 68 bits from a table (`pow_table.rs`) and a polynomial, `y log |x|` in two parts, and
//! `e^(hi + lo)` on `exp`'s table; no division. It serves positive normal `x` where
//! `|y ln x|` is below `exp`'s bound; the other lanes (zeros, subnormal and negative `x`,
//! infinities, NaN, results near overflow or underflow) take fdlibm's `pow` (`pow_fdlibm.rs`)
//! under a branch taken when some lane needs it, which gives every special case of C99's `pow`.
//! `f32` is evaluated in `f64` and rounded once more (`pow_f32`): within 0.51 `f32` ulp.

use super::exp::exp_by_table;
use super::pow_table::POW_LOG_TABLE;
use super::{Lanes, Steps};

/// A float of bits `b`.
const fn d(b: u64) -> f64 {
    f64::from_bits(b)
}

/// The bits of the low end of the reduced argument's range, `0x1.69555p-1`.
const OFF: u64 = 0x3fe6_9555_0000_0000;
/// `ln 2` in two parts (`k` times the first, plus a table's `log c`, exact).
const LN2: (f64, f64) = (d(0x3fe6_2e42_fefa_3800), d(0x3d2e_f357_93c7_6730));
/// `A0 .. A6`, scaled as the evaluation uses them: `log(1 + r) = r + A0 r^2 + A0 r^3 (A1 + r A2
/// + A0 r^2 (A3 + r A4 + A0 r^2 (A5 + r A6)))`.
const A: [f64; 7] = [
    -0.5,
    d(0x3fd5_5555_5555_5560) * -2.0,
    -d(0x3fd0_0000_0000_0006) * -2.0,
    d(0x3fc9_9999_9959_554e) * 4.0,
    -d(0x3fc5_5555_5529_a47a) * 4.0,
    d(0x3fc2_495b_9b48_45e9) * -8.0,
    -d(0x3fc0_002b_8b26_3fc3) * -8.0,
];
/// The bits kept in the high parts of `y` and of `log |x|` (their product is exact).
const HIGH: u64 = !0 << 27;
/// `|y ln x|` below this: `exp`'s table path, a normal result.
const FAST: f64 = 708.0;

/// `x^y` (C99's `pow`) on `f64` lanes.
#[inline(always)]
pub fn pow<L: Lanes>(l: &mut L, x: L::F, y: L::F) -> L::F {
    let (hi, lo) = log_parts(l, x);
    let yb = l.bits(y);
    let high = l.ci(HIGH);
    let yhi = l.iand(yb, high);
    let yhi = l.float(yhi);
    let ylo = l.sub(y, yhi);
    let hb = l.bits(hi);
    let lhi = l.iand(hb, high);
    let lhi = l.float(lhi);
    let llo = l.sub(hi, lhi);
    let llo = l.add(llo, lo);
    let ehi = l.mul(yhi, lhi);
    let a = l.mul(ylo, lhi);
    let b = l.mul(y, llo);
    let elo = l.add(a, b);
    let v = exp_by_table(l, ehi, Some(elo));
    // Positive normal finite `x` and `|y ln x|` in range (NaN `y` makes it NaN), else fdlibm's.
    let (min, inf, fast) = (l.c(f64::MIN_POSITIVE), l.c(f64::INFINITY), l.c(FAST));
    let small = l.lt(x, min);
    let nan = l.nan(x);
    let small = l.or(small, nan);
    let huge = l.le(inf, x);
    let ae = l.abs(ehi);
    let far = l.not_lt(ae, fast);
    let slow = l.or(small, huge);
    let slow = l.or(slow, far);
    let [v] = l.when_any(
        slow,
        [v],
        #[inline(always)]
        |l| [super::pow_fdlibm::pow(l, x, y)],
    );
    v
}

/// `log x = hi + lo` for positive normal `x` (other arguments: garbage, indices in the table):
/// `x = 2^k z`, `z` in `[OFF, 2 OFF)`, `log x = k ln2 + log c + log(z/c)`, `r = z/c - 1` exact
/// (in two parts, `z` split so that each product is exact), the sum carried in two parts.
#[inline(always)]
fn log_parts<L: Lanes>(l: &mut L, x: L::F) -> (L::F, L::F) {
    let ix = l.bits(x);
    let neg_off = l.ci(OFF.wrapping_neg());
    let tmp = l.iadd(ix, neg_off);
    // Pair indices `2i` and `2i + 1` of entry `i = (tmp >> 45) % 128`.
    let t = l.ushr(tmp, 44);
    let m = l.ci(254);
    let i0 = l.iand(t, m);
    let one_i = l.ci(1);
    let i1 = l.ior(i0, one_i);
    // k = tmp >> 52 (arithmetic), from its 12 bits biased by 1023.
    let bias = l.ci(1023 << 52);
    let kb = l.iadd(tmp, bias);
    let kd = l.exponent(kb);
    let low = l.ci((1 << 52) - 1);
    let iz = l.iand(tmp, low);
    let off = l.ci(OFF);
    let iz = l.iadd(iz, off);
    let z = l.float(iz);
    let (invc, logc) = l.gather_pair(POW_LOG_TABLE, i0);
    let (logctail, _) = l.gather_pair(POW_LOG_TABLE, i1);
    // z = zhi + zlo, zhi of 21 bits: r = (zhi / c - 1) + zlo / c, each part exact.
    let round = l.ci(1 << 31);
    let zb = l.iadd(iz, round);
    let top = l.ci(!0 << 32);
    let zb = l.iand(zb, top);
    let zhi = l.float(zb);
    let zlo = l.sub(z, zhi);
    let one = l.c(1.0);
    let rhi = l.mul(zhi, invc);
    let rhi = l.sub(rhi, one);
    let rlo = l.mul(zlo, invc);
    let r = l.add(rhi, rlo);
    // k ln2 + log c + r, in two parts.
    let (ln2hi, ln2lo) = (l.c(LN2.0), l.c(LN2.1));
    let t1 = l.mul(kd, ln2hi);
    let t1 = l.add(t1, logc);
    let t2 = l.add(t1, r);
    let lo1 = l.mul(kd, ln2lo);
    let lo1 = l.add(lo1, logctail);
    let lo2 = l.sub(t1, t2);
    let lo2 = l.add(lo2, r);
    log_sum(l, (r, rhi, rlo), t2, (lo1, lo2))
}

/// The end of [`log_parts`]: `t2 + A0 r^2` in two parts and the polynomial's rest, added to the
/// low parts `lo12`.
#[inline(always)]
fn log_sum<L: Lanes>(l: &mut L, (r, rhi, rlo): (L::F, L::F, L::F), t2: L::F, lo12: (L::F, L::F)) -> (L::F, L::F) {
    let a0 = l.c(A[0]);
    let ar = l.mul(a0, r);
    let ar2 = l.mul(r, ar);
    let ar3 = l.mul(r, ar2);
    let arhi = l.mul(a0, rhi);
    let arhi2 = l.mul(rhi, arhi);
    let hi = l.add(t2, arhi2);
    let s = l.add(ar, arhi);
    let lo3 = l.mul(rlo, s);
    let lo4 = l.sub(t2, hi);
    let lo4 = l.add(lo4, arhi2);
    // A1 + r A2 + ar2 (A3 + r A4 + ar2 (A5 + r A6)).
    let pair = |l: &mut L, c0: f64, c1: f64| {
        let (c0, c1) = (l.c(c0), l.c(c1));
        let t = l.mul(r, c1);
        l.add(c0, t)
    };
    let p56 = pair(l, A[5], A[6]);
    let p34 = pair(l, A[3], A[4]);
    let p12 = pair(l, A[1], A[2]);
    let q = l.mul(ar2, p56);
    let q = l.add(p34, q);
    let q = l.mul(ar2, q);
    let q = l.add(p12, q);
    let p = l.mul(ar3, q);
    let lo = l.add(lo12.0, lo12.1);
    let lo = l.add(lo, lo3);
    let lo = l.add(lo, lo4);
    let lo = l.add(lo, p);
    let y = l.add(hi, lo);
    let tail = l.sub(hi, y);
    let tail = l.add(tail, lo);
    (y, tail)
}
