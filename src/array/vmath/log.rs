//! `log` and `log1p` (fdlibm's `e_log.c` as musl writes it, and `s_log1p.c`, branch-free).

use super::{Lanes, Steps};

/// `x = 2^k m` with `m` in `[sqrt(2)/2, sqrt(2))` (`x` positive and normal): `(k, m - 1)`.
#[inline(always)]
fn reduce<L: Lanes>(l: &mut L, x: L::F) -> (L::F, L::F) {
    let p = &l.prec().log;
    let b = l.bits(x);
    let off = l.ci(p.offset);
    let b = l.iadd(b, off);
    let k = l.exponent(b);
    let mask = l.ci(p.mant_mask);
    let m = l.iand(b, mask);
    let sh = l.ci(p.sqrt_half);
    let m = l.iadd(m, sh);
    let m = l.float(m);
    let one = l.c(1.0);
    (k, l.sub(m, one))
}

/// `log(1 + f) + k ln2 + c` as fdlibm sums it: `s (hfsq + R) + (k ln2lo + c) - hfsq + f + k ln2hi`.
#[inline(always)]
fn log_poly<L: Lanes>(l: &mut L, f: L::F, k: L::F, c: Option<L::F>) -> L::F {
    let p = &l.prec().log;
    let half = l.c(0.5);
    let hf = l.mul(half, f);
    let hfsq = l.mul(hf, f);
    let two = l.c(2.0);
    let den = l.add(two, f);
    let s = l.div(f, den);
    let z = l.mul(s, s);
    let w = l.mul(z, z);
    let even = l.horner(w, p.even);
    let t1 = l.mul(w, even);
    let odd = l.horner(w, p.odd);
    let t2 = l.mul(z, odd);
    let r = l.add(t2, t1);
    let (ln2hi, ln2lo) = (l.c(p.ln2.0), l.c(p.ln2.1));
    let hr = l.add(hfsq, r);
    let y = l.mul(s, hr);
    let klo = l.mul(k, ln2lo);
    let klo = match c {
        Some(c) => l.add(klo, c),
        None => klo,
    };
    let y = l.add(y, klo);
    let y = l.sub(y, hfsq);
    let y = l.add(y, f);
    let khi = l.mul(k, ln2hi);
    l.add(y, khi)
}

/// `ln x`; `-inf` at `±0`, NaN below 0.
#[inline(always)]
pub fn ln<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().log;
    let (min, scale) = (l.c(p.min_normal), l.c(p.sub_scale));
    let sub = l.lt(x, min);
    let xs = l.mul(x, scale);
    let xn = l.sel(sub, xs, x);
    let (k, f) = reduce(l, xn);
    let (subk, zero) = (l.c(-p.sub_k), l.c(0.0));
    let adj = l.sel(sub, subk, zero);
    let k = l.add(k, adj);
    let y = log_poly(l, f, k, None);
    let (ninf, inf, nan) = (l.c(f64::NEG_INFINITY), l.c(f64::INFINITY), l.c(f64::NAN));
    let is_inf = l.eq(x, inf);
    let y = l.sel(is_inf, inf, y);
    let negative = l.lt(x, zero);
    let y = l.sel(negative, nan, y);
    let is_zero = l.eq(x, zero);
    let y = l.sel(is_zero, ninf, y);
    let is_nan = l.nan(x);
    l.sel(is_nan, x, y)
}

/// `1 + x = 2^k (1 + f)` and the correction `c` of the rounding of `1 + x` (`c / (1 + x)`), or
/// `f = x` exactly near 0: `ln(1 + x) = log_poly(f, k, c)`.
#[inline(always)]
fn ln_1p_parts<L: Lanes>(l: &mut L, x: L::F) -> (L::F, L::F, L::F) {
    let p = &l.prec().log;
    let one = l.c(1.0);
    let u = l.add(one, x);
    let (k, fu) = reduce(l, u);
    // c = (k >= 2 ? 1 - (u - x) : x - (u - 1)) / u, zero from c_limit on.
    let ux = l.sub(u, x);
    let c_hi = l.sub(one, ux);
    let u1 = l.sub(u, one);
    let c_lo = l.sub(x, u1);
    let two = l.c(2.0);
    let k_hi = l.le(two, k);
    let c = l.sel(k_hi, c_hi, c_lo);
    let c = l.div(c, u);
    let (limit, zero) = (l.c(p.c_limit), l.c(0.0));
    let beyond = l.le(limit, k);
    let c = l.sel(beyond, zero, c);
    // Near 0 (k = 0): f = x, c = 0.
    let (lo, hi) = (l.c(-p.k0.0), l.c(p.k0.1));
    let above = l.lt(lo, x);
    let below = l.lt(x, hi);
    let near = l.and(above, below);
    let f = l.sel(near, x, fu);
    let c = l.sel(near, zero, c);
    let k = l.sel(near, zero, k);
    (k, f, c)
}

/// `ln(1 + a)` where `m` holds, `ln(2^e a)` elsewhere (`e` an integer, as a float), one
/// polynomial for both: the special cases are the caller's (`1 + a` positive and finite where
/// `m` holds, `a` positive, normal and finite elsewhere).
#[inline(always)]
pub(super) fn ln_1p_or_ln<L: Lanes>(l: &mut L, a: L::F, m: L::M, e: L::F) -> L::F {
    let (k1, f1, c1) = ln_1p_parts(l, a);
    let (k, f) = reduce(l, a);
    let k = l.add(k, e);
    let zero = l.c(0.0);
    let k = l.sel(m, k1, k);
    let f = l.sel(m, f1, f);
    let c = l.sel(m, c1, zero);
    log_poly(l, f, k, Some(c))
}

/// `ln(1 + x)`, accurate near 0: `1 + x = 2^k m` with the rounding of `1 + x` corrected by
/// `c / (1 + x)`, or `m = 1 + x` exactly near 0.
#[inline(always)]
pub fn ln_1p<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().log;
    let (k, f, c) = ln_1p_parts(l, x);
    let y = log_poly(l, f, k, Some(c));
    let (ninf, inf, nan, m1) = (l.c(f64::NEG_INFINITY), l.c(f64::INFINITY), l.c(f64::NAN), l.c(-1.0));
    let is_inf = l.eq(x, inf);
    let y = l.sel(is_inf, inf, y);
    let below = l.lt(x, m1);
    let y = l.sel(below, nan, y);
    let at = l.eq(x, m1);
    let y = l.sel(at, ninf, y);
    let ax = l.abs(x);
    let tiny = l.c(p.tiny);
    let is_tiny = l.lt(ax, tiny);
    let is_nan = l.nan(x);
    let keep = l.or(is_tiny, is_nan);
    l.sel(keep, x, y)
}
