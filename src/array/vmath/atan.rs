//! `atan` (fdlibm's `s_atan.c`, branch-free): the four reductions of `|x|` chosen by masks, one
//! division and one polynomial for every lane; `atan2` on it.

use super::{Lanes, Steps};

/// `atan x`: `|x|` reduced to `t = (|x| - c) / (1 + c |x|)` around `c` in `0, 0.5, 1, 1.5, inf`
/// (by the interval of `|x|`), `atan |x| = atan c + atan t`, `atan c` in two parts and `atan t`
/// from an odd polynomial; the sign of `x` restored.
#[inline(always)]
pub fn atan<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().atan;
    let ax = l.abs(x);
    let (one, two, m1) = (l.c(1.0), l.c(2.0), l.c(-1.0));
    // The reductions, fdlibm's expressions: x / 1, (2x - 1) / (2 + x), (x - 1) / (x + 1),
    // (x - 1.5) / (1 + 1.5 x), -1 / x; the numerators exact.
    let tx = l.mul(two, ax);
    let n0 = l.sub(tx, one);
    let d0 = l.add(two, ax);
    let n1 = l.sub(ax, one);
    let d1 = l.add(ax, one);
    let c15 = l.c(1.5);
    let n2 = l.sub(ax, c15);
    let cx = l.mul(c15, ax);
    let d2 = l.add(one, cx);
    let (mut num, mut den, mut hi, mut lo) = (ax, one, l.c(0.0), l.c(0.0));
    let parts = [(n0, d0), (n1, d1), (n2, d2), (m1, ax)];
    for (i, (n, d)) in parts.into_iter().enumerate() {
        let from = l.c(p.bounds[i]);
        let m = l.le(from, ax);
        num = l.sel(m, n, num);
        den = l.sel(m, d, den);
        let (h, o) = (l.c(p.hi[i]), l.c(p.lo[i]));
        hi = l.sel(m, h, hi);
        lo = l.sel(m, o, lo);
    }
    let t = l.div(num, den);
    // atan t = t - t (z P(w) + w Q(w)), z = t^2, w = z^2.
    let z = l.mul(t, t);
    let w = l.mul(z, z);
    let even = l.horner(w, p.even);
    let s1 = l.mul(z, even);
    let odd = l.horner(w, p.odd);
    let s2 = l.mul(w, odd);
    let s = l.add(s1, s2);
    let ts = l.mul(t, s);
    // hi - ((t s - lo) - t); below the first bound hi = lo = 0 and this is t - t s.
    let u = l.sub(ts, lo);
    let u = l.sub(u, t);
    let y = l.sub(hi, u);
    let y = l.copysign(y, x);
    let nan = l.nan(x);
    l.sel(nan, x, y)
}

/// `atan2(y, x)` (fdlibm's `e_atan2.c`, branch-free): `z = atan(|y| / |x|)`, `pi - (z - pi_lo)`
/// when `x` is negative (its sign bit), `pi/2` from `|y| / |x| = big` on, the sign of `y`
/// restored; the cases of zeros and infinities selected by masks (each quadrant's `0`, `pi/4`,
/// `pi/2`, `3 pi/4`, `pi`), NaN as `x + y`.
#[inline(always)]
pub fn atan2<L: Lanes>(l: &mut L, y: L::F, x: L::F) -> L::F {
    let p = &l.prec().atan2;
    let ay = l.abs(y);
    let ax = l.abs(x);
    let r = l.div(ay, ax);
    let z = atan(l, r);
    let (one, zero) = (l.c(1.0), l.c(0.0));
    let sx = l.copysign(one, x);
    let x_neg = l.lt(sx, zero);
    let (pi, pi_lo) = (l.c(p.pi.0), l.c(p.pi.1));
    let zl = l.sub(z, pi_lo);
    let left = l.sub(pi, zl);
    let v = l.sel(x_neg, left, z);
    let pio2 = l.c(p.pio2);
    let big = l.c(p.big);
    let is_big = l.lt(big, r);
    let v = l.sel(is_big, pio2, v);
    // x = ±0, or y infinite and x finite: pi/2.
    let inf = l.c(f64::INFINITY);
    let x_zero = l.eq(x, zero);
    let y_inf = l.eq(ay, inf);
    let x_fin = l.lt(ax, inf);
    let y_up = l.and(y_inf, x_fin);
    let vertical = l.or(x_zero, y_up);
    let v = l.sel(vertical, pio2, v);
    // Both infinite: pi/4 or 3 pi/4.
    let x_inf = l.eq(ax, inf);
    let both = l.and(x_inf, y_inf);
    let (q1, q2) = (l.c(p.pio4), l.c(3.0 * p.pio4));
    let diagonal = l.sel(x_neg, q2, q1);
    let v = l.sel(both, diagonal, v);
    // y = ±0: 0 or pi.
    let y_zero = l.eq(y, zero);
    let flat = l.sel(x_neg, pi, zero);
    let v = l.sel(y_zero, flat, v);
    let v = l.copysign(v, y);
    let x_nan = l.nan(x);
    let y_nan = l.nan(y);
    let any_nan = l.or(x_nan, y_nan);
    let s = l.add(x, y);
    l.sel(any_nan, s, v)
}
