//! `pow`'s general path (fdlibm's `e_pow.c`, branch-free, on `f64` lanes): `log2 |x|` to
//! twice the precision (`t1 + t2`), `y` split in two, `y log2 |x| = n + f`, `2^f` from `exp`'s
//! rational, scaled by `2^n`; the special cases of C99's `pow` selected by masks. fdlibm's bits,
//! but for one path: for `|y|` beyond `2^31` and `|x|` near 1 fdlibm takes `log2 |x|` from a
//! series whose leading product is inexact unless the low bits of `x` are zero (up to 650 ulp
//! off): here the reduction serves every `x`. `pow.rs` runs it in the lanes its table-driven
//! path does not serve.
// The coefficients are written as fdlibm publishes them (more digits than the type holds;
// `ln 2` is fdlibm's, not `std`'s constant).
#![allow(clippy::excessive_precision, clippy::approx_constant)]

use super::exp::scale;
use super::{Lanes, Steps};

/// A float of bits `b` (f64).
const fn d(b: u64) -> f64 {
    f64::from_bits(b)
}

/// The constants of `pow`, fdlibm's (`e_pow.c`).
struct PowConsts {
    /// The mantissa `m` of `|x|` (in `[1, 2)`) from this on is reduced around `1.5`
    /// (`sqrt(3/2)`), and from the second on halved and reduced around `1` (`sqrt 3`).
    pub bounds: (f64, f64),
    /// `log2 1.5` in two parts (`dp_h`, `dp_l`).
    pub log2_15: (f64, f64),
    /// `L1, L2, ...`: `(3/2) (log((1 + s) / (1 - s)) - 2s - (2/3) s^3) = s^4 (L1 + s^2 L2 + ...)`.
    pub l: &'static [f64],
    /// `2 / (3 ln 2)`, its leading part (few bits) and the rest.
    pub cp: (f64, f64, f64),
    /// `ln 2`, its leading part (few bits) and the rest.
    pub lg2: (f64, f64, f64),
    /// `-(width of the exponent range - log2(the largest float + half an ulp))`: at `z` =
    /// `over`, the margin of overflow.
    pub ovt: f64,
    /// `y log2 |x|` above this overflows, below `under` underflows (`1024`, `-1075`).
    pub over: f64,
    /// See `over`.
    pub under: f64,
    /// The bits of a float's high part (its product with another is exact).
    pub high: u64,
    /// The bits of the high part of the argument of `2^f` (`f32`: fewer than `high`).
    pub exp_high: u64,
    /// `1 + m` of few bits, fdlibm's `t_h`, is the float of bits
    /// `(((bits(m) >> 1) & high) | th_or) + th_add` (and `1.5 + m` that plus `0.5`).
    pub th_or: u64,
    /// See `th_or`.
    pub th_add: u64,
    /// `|z|` from this on, `z = n + f` with `n` nonzero (just above `0.5`).
    pub half: f64,
}

/// `f64`'s.
static POW_F64: PowConsts = PowConsts {
    bounds: (d(0x3ff3_988f_0000_0000), d(0x3ffb_b67a_0000_0000)),
    log2_15: (5.84962487220764160156e-01, 1.35003920212974897128e-08),
    l: &[
        5.99999999999994648725e-01,
        4.28571428578550184252e-01,
        3.33333329818377432918e-01,
        2.72728123808534006489e-01,
        2.30660745775561754067e-01,
        2.06975017800338417784e-01,
    ],
    cp: (9.61796693925975554329e-01, 9.61796700954437255859e-01, -7.02846165095275826516e-09),
    lg2: (6.93147180559945286227e-01, 6.93147182464599609375e-01, -1.90465429995776804525e-09),
    ovt: 8.0085662595372944372e-17,
    over: 1024.0,
    under: -1075.0,
    high: 0xffff_ffff_0000_0000,
    exp_high: 0xffff_ffff_0000_0000,
    th_or: 0x2000_0000_0000_0000,
    th_add: 1 << 51,
    half: d(0x3fe0_0001_0000_0000),
};

/// `x` less its low bits (those not in `mask`).
#[inline(always)]
fn trunc<L: Lanes>(l: &mut L, x: L::F, mask: u64) -> L::F {
    let b = l.bits(x);
    let m = l.ci(mask);
    let b = l.iand(b, m);
    l.float(b)
}

/// `|x| = 2^n m` (`|x|` positive and finite), `m` in `[sqrt(3)/2, sqrt 3)`: `(m, n, k)`, `k`
/// where `m` is reduced around `1.5` (else around `1`).
#[inline(always)]
fn reduce<L: Lanes>(l: &mut L, ax: L::F) -> (L::F, L::F, L::M) {
    let (p, lg) = (&POW_F64, &l.prec().log);
    let (min, sc) = (l.c(lg.min_normal), l.c(lg.sub_scale));
    let sub = l.lt(ax, min);
    let scaled = l.mul(ax, sc);
    let a = l.sel(sub, scaled, ax);
    let (subk, zero) = (l.c(-lg.sub_k), l.c(0.0));
    let adj = l.sel(sub, subk, zero);
    let b = l.bits(a);
    let n = l.exponent(b);
    let n = l.add(n, adj);
    let mm = l.ci(lg.mant_mask);
    let m = l.iand(b, mm);
    let one = l.c(1.0);
    let ob = l.bits(one);
    let m = l.ior(m, ob);
    let m = l.float(m);
    let (b1, b2) = (l.c(p.bounds.0), l.c(p.bounds.1));
    let from1 = l.le(b1, m);
    let below2 = l.lt(m, b2);
    let k = l.and(from1, below2);
    let big = l.le(b2, m);
    let half = l.c(0.5);
    let mh = l.mul(m, half);
    let m = l.sel(big, mh, m);
    let n1 = l.add(n, one);
    let n = l.sel(big, n1, n);
    (m, n, k)
}

/// `log2 |x| = t1 + t2` (`t1` of few bits) for `|x|` positive and finite: `|x| = 2^n m`,
/// `s = (m - c) / (m + c)` (`c` = `1` or `1.5`) in two parts, `log m = log c + 2s + (2/3) s^3 +
/// s^4 L(s^2)` carried in two parts.
#[inline(always)]
fn log2<L: Lanes>(l: &mut L, ax: L::F) -> (L::F, L::F) {
    let p = &POW_F64;
    let (m, n, k) = reduce(l, ax);
    let (one, zero, half) = (l.c(1.0), l.c(0.0), l.c(0.5));
    let c15 = l.c(1.5);
    let bp = l.sel(k, c15, one);
    let (dh, dl) = (l.c(p.log2_15.0), l.c(p.log2_15.1));
    let dp_h = l.sel(k, dh, zero);
    let dp_l = l.sel(k, dl, zero);
    // s = u v, s_h its high part, s_l = v ((u - s_h t_h) - s_h t_l), t_h + t_l = m + bp.
    let u = l.sub(m, bp);
    let mb = l.add(m, bp);
    let v = l.div(one, mb);
    let ss = l.mul(u, v);
    let s_h = trunc(l, ss, p.high);
    let mbits = l.bits(m);
    let hb = l.ushr(mbits, 1);
    let hm = l.ci(p.high);
    let hb = l.iand(hb, hm);
    let or = l.ci(p.th_or);
    let hb = l.ior(hb, or);
    let add = l.ci(p.th_add);
    let hb = l.iadd(hb, add);
    let th = l.float(hb);
    let kh = l.sel(k, half, zero);
    let t_h = l.add(th, kh);
    let tb = l.sub(t_h, bp);
    let t_l = l.sub(m, tb);
    let st = l.mul(s_h, t_h);
    let us = l.sub(u, st);
    let sl = l.mul(s_h, t_l);
    let us = l.sub(us, sl);
    let s_l = l.mul(v, us);
    // r = s^4 L(s^2) + s_l (s_h + s); 3 + s_h^2 + r = t_h + t_l.
    let s2 = l.mul(ss, ss);
    let s4 = l.mul(s2, s2);
    let poly = l.horner(s2, p.l);
    let r = l.mul(s4, poly);
    let hs = l.add(s_h, ss);
    let lh = l.mul(s_l, hs);
    let r = l.add(r, lh);
    let s2 = l.mul(s_h, s_h);
    let three = l.c(3.0);
    let t = l.add(three, s2);
    let t = l.add(t, r);
    let t_h = trunc(l, t, p.high);
    let t3 = l.sub(t_h, three);
    let t3 = l.sub(t3, s2);
    let t_l = l.sub(r, t3);
    log2_sum(l, (s_h, s_l, ss), (t_h, t_l), (n, dp_h, dp_l))
}

/// The end of [`log2`]: `p = s (t_h + t_l)` in two parts (`p_h + p_l`), times `2 / (3 ln 2)`
/// in two parts, plus `n + log2 c`: `t1 + t2`.
#[inline(always)]
fn log2_sum<L: Lanes>(
    l: &mut L,
    (s_h, s_l, ss): (L::F, L::F, L::F),
    (t_h, t_l): (L::F, L::F),
    (n, dp_h, dp_l): (L::F, L::F, L::F),
) -> (L::F, L::F) {
    let p = &POW_F64;
    let u = l.mul(s_h, t_h);
    let a = l.mul(s_l, t_h);
    let b = l.mul(t_l, ss);
    let v = l.add(a, b);
    let uv = l.add(u, v);
    let p_h = trunc(l, uv, p.high);
    let pu = l.sub(p_h, u);
    let p_l = l.sub(v, pu);
    let (cp, cp_h, cp_l) = (l.c(p.cp.0), l.c(p.cp.1), l.c(p.cp.2));
    let z_h = l.mul(cp_h, p_h);
    let a = l.mul(cp_l, p_h);
    let b = l.mul(p_l, cp);
    let z_l = l.add(a, b);
    let z_l = l.add(z_l, dp_l);
    let t = l.add(z_h, z_l);
    let t = l.add(t, dp_h);
    let t = l.add(t, n);
    let t1 = trunc(l, t, p.high);
    let e = l.sub(t1, n);
    let e = l.sub(e, dp_h);
    let e = l.sub(e, z_h);
    let t2 = l.sub(z_l, e);
    (t1, t2)
}

/// `2^(p_h + p_l)` for `z = p_h + p_l` within the thresholds (beyond them, garbage, replaced by
/// the caller): `z = n + f`, `n` the nearest integer (ties away from 0, `0` below `half`),
/// `2^f = e^(f ln 2)` from `exp`'s rational, `f ln 2` in two parts.
#[inline(always)]
fn exp2<L: Lanes>(l: &mut L, p_h: L::F, p_l: L::F, z: L::F) -> L::F {
    let p = &POW_F64;
    let (one, zero, half) = (l.c(1.0), l.c(0.0), l.c(0.5));
    let az = l.abs(z);
    let a = l.add(az, half);
    let (r, _) = l.round(a);
    let up = l.lt(a, r);
    let d = l.sel(up, one, zero);
    let f = l.sub(r, d);
    let f = l.copysign(f, z);
    let hm = l.c(p.half);
    let small = l.lt(az, hm);
    let n = l.sel(small, zero, f);
    let p_h = l.sub(p_h, n);
    let s = l.add(p_l, p_h);
    let t = trunc(l, s, p.exp_high);
    let (lg2, lg2_h, lg2_l) = (l.c(p.lg2.0), l.c(p.lg2.1), l.c(p.lg2.2));
    let u = l.mul(t, lg2_h);
    let th = l.sub(t, p_h);
    let v = l.sub(p_l, th);
    let v = l.mul(v, lg2);
    let tl = l.mul(t, lg2_l);
    let v = l.add(v, tl);
    let z = l.add(u, v);
    let zu = l.sub(z, u);
    let w = l.sub(v, zu);
    let tt = l.mul(z, z);
    // `exp`'s rational (fdlibm's `P1..P5`, shared with `e_exp.c`).
    let poly = l.horner(tt, l.prec().exp.p);
    let tp = l.mul(tt, poly);
    let t1 = l.sub(z, tp);
    let zt = l.mul(z, t1);
    let two = l.c(2.0);
    let den = l.sub(t1, two);
    let q = l.div(zt, den);
    let zw = l.mul(z, w);
    let wz = l.add(w, zw);
    let r = l.sub(q, wz);
    let rz = l.sub(r, z);
    let e = l.sub(one, rz);
    scale(l, e, n)
}

/// Whether `y` is not an integer, and whether it is an odd one (an infinity: an even integer).
#[inline(always)]
fn parity<L: Lanes>(l: &mut L, y: L::F) -> (L::M, L::M) {
    let shift = l.prec().two_mant;
    let (zero, half, big) = (l.c(0.0), l.c(0.5), l.c(shift));
    let ay = l.abs(y);
    // Below 2^mant, adding 2^mant rounds to an integer; from there on every float is one.
    let small = l.lt(ay, big);
    let a = l.sel(small, ay, big);
    let r = l.add(a, big);
    let r = l.sub(r, big);
    let int = l.eq(r, a);
    let da = l.sub(a, r);
    let da = l.abs(da);
    let non_int = l.lt(zero, da);
    // y / 2 of an integer y: an integer, or one and a half (odd y); from 2^mant on, even.
    let h = l.mul(ay, half);
    let hs = l.lt(h, big);
    let h = l.sel(hs, h, big);
    let rh = l.add(h, big);
    let rh = l.sub(rh, big);
    let dh = l.sub(h, rh);
    let dh = l.abs(dh);
    let frac = l.lt(zero, dh);
    (non_int, l.and(int, frac))
}

/// `x^y` (C99's `pow`): `|x|^y = 2^(y log2 |x|)` with `log2 |x|` and the product carried to
/// twice the precision, negated for negative `x` and odd integer `y`, NaN for negative `x` and
/// non-integer `y`; overflow to `inf` and underflow to `0` at fdlibm's thresholds; `x^±0 = 1`
/// and `1^y = 1` (NaN too), `(-1)^±inf = 1`, the cases of zeros and infinities, and `y` = `±1`,
/// `2` and `0.5` (`x`, `1/x`, `x^2`, `sqrt x`) selected by masks.
#[inline(always)]
pub fn pow<L: Lanes>(l: &mut L, x: L::F, y: L::F) -> L::F {
    let p = &POW_F64;
    let ax = l.abs(x);
    let (t1, t2) = log2(l, ax);
    // y t = (y1 + (y - y1)) (t1 + t2) = p_h + p_l, y1 of few bits: p_h exact.
    let y1 = trunc(l, y, p.high);
    let yy = l.sub(y, y1);
    let a = l.mul(yy, t1);
    let b = l.mul(y, t2);
    let p_l = l.add(a, b);
    let p_h = l.mul(y1, t1);
    let z = l.add(p_l, p_h);
    let v = exp2(l, p_h, p_l, z);
    let v = over_under(l, v, z, p_h, p_l);
    specials(l, x, y, v)
}

/// `v`, or `inf` where `z = p_h + p_l` (rounded) overflows, `0` where it underflows.
#[inline(always)]
fn over_under<L: Lanes>(l: &mut L, v: L::F, z: L::F, p_h: L::F, p_l: L::F) -> L::F {
    let p = &POW_F64;
    let (over, under, ovt) = (l.c(p.over), l.c(p.under), l.c(p.ovt));
    let (inf, zero) = (l.c(f64::INFINITY), l.c(0.0));
    let zp = l.sub(z, p_h);
    let pl = l.add(p_l, ovt);
    let beyond = l.lt(over, z);
    let at = l.eq(z, over);
    let margin = l.lt(zp, pl);
    let at = l.and(at, margin);
    let is_over = l.or(beyond, at);
    let v = l.sel(is_over, inf, v);
    let beyond = l.lt(z, under);
    let at = l.eq(z, under);
    let margin = l.le(p_l, zp);
    let at = l.and(at, margin);
    let is_under = l.or(beyond, at);
    l.sel(is_under, zero, v)
}

/// The result from `v` (`|x|^y` of a finite nonzero `|x|`, not 1): the sign of negative `x`,
/// and fdlibm's special cases over it, in its order.
#[inline(always)]
fn specials<L: Lanes>(l: &mut L, x: L::F, y: L::F, v: L::F) -> L::F {
    let (one, zero, m1) = (l.c(1.0), l.c(0.0), l.c(-1.0));
    let (inf, nan) = (l.c(f64::INFINITY), l.c(f64::NAN));
    let ax = l.abs(x);
    let (non_int, odd) = parity(l, y);
    let sx = l.copysign(one, x);
    let x_neg = l.lt(sx, zero);
    let neg_odd = l.and(x_neg, odd);
    let sign = l.sel(neg_odd, m1, one);
    let v = l.mul(v, sign);
    let neg_non_int = l.and(x_neg, non_int);
    let v = l.sel(neg_non_int, nan, v);
    // x = ±0, ±1, ±inf: |x| or 1 / |x| (exact: inf, 1, 0), signed or NaN as above.
    let y_neg = l.lt(y, zero);
    let inv = l.div(one, x);
    let inv = l.abs(inv);
    let z = l.sel(y_neg, inv, ax);
    let nz = l.neg(z);
    let z = l.sel(neg_odd, nz, z);
    let is_one = l.eq(ax, one);
    let bad = l.and(neg_non_int, is_one);
    let z = l.sel(bad, nan, z);
    let is_zero = l.eq(ax, zero);
    let is_inf = l.eq(ax, inf);
    let edge = l.or(is_zero, is_one);
    let edge = l.or(edge, is_inf);
    let v = l.sel(edge, z, v);
    small_y(l, x, y, v)
}

/// `v`, or the cases of `y` = `0.5` (`sqrt x` for `x` of a clear sign bit), `2`, `±1` and `±inf`,
/// NaN as `x + y`, then `1^y = x^±0 = 1`.
#[inline(always)]
fn small_y<L: Lanes>(l: &mut L, x: L::F, y: L::F, v: L::F) -> L::F {
    let (one, zero, half, two, m1) = (l.c(1.0), l.c(0.0), l.c(0.5), l.c(2.0), l.c(-1.0));
    let inf = l.c(f64::INFINITY);
    let ax = l.abs(x);
    let sx = l.copysign(one, x);
    let x_pos = l.lt(zero, sx);
    let is_half = l.eq(y, half);
    let root = l.and(is_half, x_pos);
    let sq = l.sqrt(x);
    let v = l.sel(root, sq, v);
    let is_two = l.eq(y, two);
    let xx = l.mul(x, x);
    let v = l.sel(is_two, xx, v);
    let is_one = l.eq(y, one);
    let v = l.sel(is_one, x, v);
    let is_m1 = l.eq(y, m1);
    let inv = l.div(one, x);
    let v = l.sel(is_m1, inv, v);
    // y = ±inf: inf where |x| > 1 and y > 0 or |x| < 1 and y < 0, else 0; 1 at |x| = 1.
    let ay = l.abs(y);
    let y_inf = l.eq(ay, inf);
    let x_big = l.lt(one, ax);
    let y_pos = l.lt(zero, y);
    let x_small = l.lt(ax, one);
    let y_neg = l.lt(y, zero);
    let up = l.and(x_big, y_pos);
    let down = l.and(x_small, y_neg);
    let grows = l.or(up, down);
    let r = l.sel(grows, inf, zero);
    let x_one = l.eq(ax, one);
    let r = l.sel(x_one, one, r);
    let v = l.sel(y_inf, r, v);
    let x_nan = l.nan(x);
    let y_nan = l.nan(y);
    let any_nan = l.or(x_nan, y_nan);
    let s = l.add(x, y);
    let v = l.sel(any_nan, s, v);
    let x1 = l.eq(x, one);
    let v = l.sel(x1, one, v);
    let y0 = l.eq(y, zero);
    l.sel(y0, one, v)
}
