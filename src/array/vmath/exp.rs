//! `exp`, `expm1` (fdlibm's `e_exp.c`, `s_expm1.c`, branch-free) and `tanh` (Cephes', on `exp`).

use super::{Lanes, Steps};

/// `e^x`: `x = k ln2 + r` (`|r| <= ln2 / 2`, `r = hi - lo`), `e^r` from a rational in `r`,
/// scaled by `2^k` in two steps (a subnormal result is rounded once).
pub fn exp<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().exp;
    // Arguments beyond the thresholds compute garbage (no trap), replaced below; a NaN
    // propagates through every step.
    let xc = x;
    let inv = l.c(p.inv_ln2);
    let t = l.mul(xc, inv);
    let (k, _) = l.round(t);
    let (ln2hi, ln2lo) = (l.c(p.ln2.0), l.c(p.ln2.1));
    let khi = l.mul(k, ln2hi);
    let hi = l.sub(xc, khi);
    let lo = l.mul(k, ln2lo);
    let r = l.sub(hi, lo);
    let rr = l.mul(r, r);
    // c = r - rr (P1 + rr (P2 + ...)); y = 1 + (r c / (2 - c) - lo + hi)
    let poly = l.horner(rr, p.p);
    let t = l.mul(rr, poly);
    let c = l.sub(r, t);
    let rc = l.mul(r, c);
    let two = l.c(2.0);
    let den = l.sub(two, c);
    let q = l.div(rc, den);
    let q = l.sub(q, lo);
    let q = l.add(q, hi);
    let one = l.c(1.0);
    let y = l.add(one, q);
    let y = scale(l, y, k);
    let (over, under) = (l.c(p.over), l.c(p.under));
    let (inf, zero) = (l.c(f64::INFINITY), l.c(0.0));
    let big = l.lt(over, x);
    let y = l.sel(big, inf, y);
    let small = l.lt(x, under);
    l.sel(small, zero, y)
}

/// `y 2^k` for an integer `k` (a float) whose halves give normal powers of two: `(y 2^k1) 2^k2`,
/// one rounding.
fn scale<L: Lanes>(l: &mut L, y: L::F, k: L::F) -> L::F {
    let half = l.c(0.5);
    let h = l.mul(k, half);
    let (k1, _) = l.round(h);
    let k2 = l.sub(k, k1);
    let s1 = l.pow2(k1);
    let s2 = l.pow2(k2);
    let y = l.mul(y, s1);
    l.mul(y, s2)
}

/// `e^x - 1`, accurate near 0.
pub fn expm1<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().expm1;
    let xc = l.clamp(x, p.clamp.0, p.clamp.1);
    let ax = l.abs(x);
    // k = round(x / ln2), 0 for |x| <= ln2 / 2.
    let inv = l.c(p.inv_ln2);
    let t = l.mul(xc, inv);
    let (kn, _) = l.round(t);
    let half_ln2 = l.c(p.half_ln2);
    let reduce0 = l.lt(ax, half_ln2);
    let zero = l.c(0.0);
    let k = l.sel(reduce0, zero, kn);
    let (ln2hi, ln2lo) = (l.c(p.ln2.0), l.c(p.ln2.1));
    let khi = l.mul(k, ln2hi);
    let hi = l.sub(xc, khi);
    let lo = l.mul(k, ln2lo);
    let r = l.sub(hi, lo);
    let hr = l.sub(hi, r);
    let c = l.sub(hr, lo);
    let e = expm1_e(l, r, c, p.q);
    let y = expm1_scale(l, r, e, k);
    let (tiny, neg, over) = (l.c(p.tiny), l.c(p.neg), l.c(p.over));
    let (m1, inf) = (l.c(-1.0), l.c(f64::INFINITY));
    let is_neg = l.le(x, neg);
    let y = l.sel(is_neg, m1, y);
    let is_over = l.lt(over, x);
    let y = l.sel(is_over, inf, y);
    let is_tiny = l.lt(ax, tiny);
    let nan = l.nan(x);
    let keep = l.or(is_tiny, nan);
    l.sel(keep, x, y)
}

/// The pieces of `expm1` on the reduced `r` (correction `c`): `(hxs, e)` of fdlibm, returned as
/// `[r - (r e - hxs)]` for `k = 0` and the corrected `e` for the others.
struct Reduced<F> {
    /// The result when `k = 0`.
    k0: F,
    /// fdlibm's `e` after the correction (for `k != 0`).
    e: F,
}

fn expm1_e<L: Lanes>(l: &mut L, r: L::F, c: L::F, q: &[f64]) -> Reduced<L::F> {
    let half = l.c(0.5);
    let hfx = l.mul(half, r);
    let hxs = l.mul(r, hfx);
    let poly = l.horner(hxs, q);
    let t = l.mul(hxs, poly);
    let one = l.c(1.0);
    let r1 = l.add(one, t);
    let three = l.c(3.0);
    let rh = l.mul(r1, hfx);
    let t = l.sub(three, rh);
    let six = l.c(6.0);
    let num = l.sub(r1, t);
    let rt = l.mul(r, t);
    let den = l.sub(six, rt);
    let q = l.div(num, den);
    let e = l.mul(hxs, q);
    // k = 0: r - (r e - hxs)
    let re = l.mul(r, e);
    let re = l.sub(re, hxs);
    let k0 = l.sub(r, re);
    // e = r (e - c) - c - hxs
    let ec = l.sub(e, c);
    let e = l.mul(r, ec);
    let e = l.sub(e, c);
    let e = l.sub(e, hxs);
    Reduced { k0, e }
}

/// `2^k (r - e + 1) - 1` by fdlibm's cases of `k`, selected.
fn expm1_scale<L: Lanes>(l: &mut L, r: L::F, red: Reduced<L::F>, k: L::F) -> L::F {
    let p = &l.prec().expm1;
    let e = red.e;
    let (half, one, two) = (l.c(0.5), l.c(1.0), l.c(2.0));
    // k = -1: 0.5 (r - e) - 0.5
    let d = l.sub(r, e);
    let hd = l.mul(half, d);
    let km1 = l.sub(hd, half);
    let k1 = expm1_k1(l, r, e, d);
    // k < 0 or k > big: (r - e + 1) 2^(k-1) 2 - 1
    let y = l.add(d, one);
    let km = l.sub(k, one);
    let s = l.pow2(km);
    let y = l.mul(y, s);
    let y = l.mul(y, two);
    let far = l.sub(y, one);
    let near = expm1_near(l, r, e, d, k);
    // Select by k.
    let (zero, m1, big) = (l.c(0.0), l.c(-1.0), l.c(p.big));
    let neg_k = l.lt(k, zero);
    let big_k = l.lt(big, k);
    let is_far = l.or(neg_k, big_k);
    let y = l.sel(is_far, far, near);
    let is1 = l.eq(k, one);
    let y = l.sel(is1, k1, y);
    let ism1 = l.eq(k, m1);
    let y = l.sel(ism1, km1, y);
    let is0 = l.eq(k, zero);
    l.sel(is0, red.k0, y)
}

/// `expm1` for `k = 1`: `r < -0.25 ? -2 (e - (r + 0.5)) : 1 + 2 (r - e)` (`d = r - e`).
fn expm1_k1<L: Lanes>(l: &mut L, r: L::F, e: L::F, d: L::F) -> L::F {
    let (half, one, two) = (l.c(0.5), l.c(1.0), l.c(2.0));
    let rh = l.add(r, half);
    let erh = l.sub(e, rh);
    let m2 = l.c(-2.0);
    let low = l.mul(m2, erh);
    let td = l.mul(two, d);
    let high = l.add(one, td);
    let quarter = l.c(-0.25);
    let below = l.lt(r, quarter);
    l.sel(below, low, high)
}

/// `expm1` for `2 <= k <= big` (`d = r - e`).
fn expm1_near<L: Lanes>(l: &mut L, r: L::F, e: L::F, d: L::F, k: L::F) -> L::F {
    let p = &l.prec().expm1;
    let one = l.c(1.0);
    // 2 <= k <= big: k < split ? (r - e + (1 - 2^-k)) 2^k : (r - (e + 2^-k) + 1) 2^k
    let nk = l.neg(k);
    let uf = l.pow2(nk);
    let twopk = l.pow2(k);
    let u1 = l.sub(one, uf);
    let a = l.add(d, u1);
    let a = l.mul(a, twopk);
    let eu = l.add(e, uf);
    let b = l.sub(r, eu);
    let b = l.add(b, one);
    let b = l.mul(b, twopk);
    let split = l.c(p.split);
    let lo_k = l.lt(k, split);
    l.sel(lo_k, a, b)
}

/// `tanh x` (Cephes' `tanh`): `1 - 2 / (e^(2|x|) + 1)` from `|x| = big` on, below it
/// `|x| + |x| z P(z) / Q(z)`, `z = x^2`; one division, of the numerator and denominator each
/// lane needs; the sign of `x` restored.
pub fn tanh<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().tanh;
    let ax = l.abs(x);
    let two = l.c(2.0);
    let a2 = l.mul(two, ax);
    let e = exp(l, a2);
    let one = l.c(1.0);
    let e1 = l.add(e, one);
    let z = l.mul(ax, ax);
    let num = l.horner(z, p.p);
    let den = l.horner(z, p.q);
    let big = l.c(p.big);
    let is_big = l.le(big, ax);
    let num = l.sel(is_big, two, num);
    let den = l.sel(is_big, e1, den);
    let q = l.div(num, den);
    let tb = l.sub(one, q);
    let az = l.mul(ax, z);
    let s = l.mul(az, q);
    let ts = l.add(ax, s);
    let y = l.sel(is_big, tb, ts);
    let y = l.copysign(y, x);
    let nan = l.nan(x);
    l.sel(nan, x, y)
}
