//! `asin` and `acos` (fdlibm's `e_asin.c` and `e_acos.c`, branch-free): the rational `R` in `x^2`
//! below `|x| = 0.5`, in `z = (1 - |x|) / 2` from there on, one evaluation of it for every lane.

use super::{Lanes, Steps};

/// `z` (`x^2` where `small` holds, `(1 - |x|) / 2` elsewhere) and `R(z) = z P(z) / Q(z)`.
#[inline(always)]
fn rational<L: Lanes>(l: &mut L, x: L::F, ax: L::F, small: L::M) -> (L::F, L::F, L::F) {
    let p = &l.prec().asin;
    let (one, half) = (l.c(1.0), l.c(0.5));
    let w = l.sub(one, ax);
    let t = l.mul(w, half);
    let xx = l.mul(x, x);
    let z = l.sel(small, xx, t);
    let num = l.horner(z, p.p);
    let num = l.mul(z, num);
    let den = l.horner(z, p.q);
    (t, z, l.div(num, den))
}

/// `s` less its low bits, and `c = (t - hi^2) / (s + hi)`, so that `hi + c` is `sqrt t` to
/// about twice the precision (`s = sqrt t`).
#[inline(always)]
fn sqrt_parts<L: Lanes>(l: &mut L, s: L::F, t: L::F) -> (L::F, L::F) {
    let p = &l.prec().asin;
    let sb = l.bits(s);
    let high = l.ci(p.high);
    let hb = l.iand(sb, high);
    let hi = l.float(hb);
    let hh = l.mul(hi, hi);
    let num = l.sub(t, hh);
    let den = l.add(s, hi);
    (hi, l.div(num, den))
}

/// `asin x`: below `|x| = 0.5`, `|x| + |x| R(x^2)`; from there on `pi/2 - 2 asin(sqrt z)`,
/// `z = (1 - |x|) / 2`, with `sqrt z` in two parts below 0.975 (fdlibm's `pio4_hi` form); the sign
/// of `x` restored; NaN beyond `|x| = 1`.
#[inline(always)]
pub fn asin<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().asin;
    let ax = l.abs(x);
    let half = l.c(0.5);
    let small = l.lt(ax, half);
    let (t, _, r) = rational(l, x, ax, small);
    let xr = l.mul(ax, r);
    let y_small = l.add(ax, xr);
    let s = l.sqrt(t);
    let (pio2_hi, pio2_lo, two) = (l.c(p.pio2.0), l.c(p.pio2.1), l.c(2.0));
    // Near 1: pio2_hi - (2 (s + s r) - pio2_lo).
    let sr = l.mul(s, r);
    let ssr = l.add(s, sr);
    let u = l.mul(two, ssr);
    let u = l.sub(u, pio2_lo);
    let y_near = l.sub(pio2_hi, u);
    // Between: pio4_hi - ((2 s r - (pio2_lo - 2 c)) - (pio4_hi - 2 hi)).
    let (hi, c) = sqrt_parts(l, s, t);
    let s2 = l.mul(two, s);
    let s2r = l.mul(s2, r);
    let c2 = l.mul(two, c);
    let lc = l.sub(pio2_lo, c2);
    let pp = l.sub(s2r, lc);
    let pio4_hi = l.c(p.pio4_hi);
    let h2 = l.mul(two, hi);
    let qq = l.sub(pio4_hi, h2);
    let pq = l.sub(pp, qq);
    let y_mid = l.sub(pio4_hi, pq);
    let near_one = l.c(p.near_one);
    let near = l.le(near_one, ax);
    let y = l.sel(near, y_near, y_mid);
    let y = l.sel(small, y_small, y);
    let y = l.copysign(y, x);
    let (one, nan) = (l.c(1.0), l.c(f64::NAN));
    let beyond = l.lt(one, ax);
    let y = l.sel(beyond, nan, y);
    let is_nan = l.nan(x);
    l.sel(is_nan, x, y)
}

/// `acos x`: below `|x| = 0.5`, `pi/2 - (x - (pio2_lo - x R(x^2)))`; below -0.5,
/// `2 (pio2_hi - (s + (R(z) s - pio2_lo)))`; above 0.5, `2 (hi + (R(z) s + c))` with
/// `s = sqrt z = hi + c` to twice the precision, `z = (1 - |x|) / 2`; `acos 1 = 0`, NaN beyond
/// `|x| = 1`.
#[inline(always)]
pub fn acos<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().asin;
    let ax = l.abs(x);
    let half = l.c(0.5);
    let small = l.lt(ax, half);
    let (_, z, r) = rational(l, x, ax, small);
    let (pio2_hi, pio2_lo, two) = (l.c(p.pio2.0), l.c(p.pio2.1), l.c(2.0));
    let xr = l.mul(x, r);
    let u = l.sub(pio2_lo, xr);
    let u = l.sub(x, u);
    let y_small = l.sub(pio2_hi, u);
    let s = l.sqrt(z);
    let rs = l.mul(r, s);
    // x < -0.5.
    let w = l.sub(rs, pio2_lo);
    let sw = l.add(s, w);
    let u = l.sub(pio2_hi, sw);
    let y_neg = l.mul(two, u);
    // x > 0.5.
    let (hi, c) = sqrt_parts(l, s, z);
    let w = l.add(rs, c);
    let hw = l.add(hi, w);
    let y_pos = l.mul(two, hw);
    let zero = l.c(0.0);
    let neg = l.lt(x, zero);
    let y = l.sel(neg, y_neg, y_pos);
    let y = l.sel(small, y_small, y);
    let one = l.c(1.0);
    let at_one = l.eq(x, one);
    let y = l.sel(at_one, zero, y);
    let nan = l.c(f64::NAN);
    let beyond = l.lt(one, ax);
    let y = l.sel(beyond, nan, y);
    let is_nan = l.nan(x);
    l.sel(is_nan, x, y)
}
