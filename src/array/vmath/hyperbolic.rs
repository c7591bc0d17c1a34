//! `asinh`, `acosh` and `atanh` (fdlibm's `s_asinh.c`, `e_acosh.c` and `e_atanh.c`,
//! branch-free): the argument each interval's formula hands to `log` or `log1p` selected by
//! masks, one logarithm (and one division) for every lane.

use super::log::{ln_1p, ln_1p_or_ln};
use super::{Lanes, Steps};

/// `asinh x`: for `|x| <= 2`, `log1p(|x| + x^2 / (1 + sqrt(1 + x^2)))`; below `huge`,
/// `log(2|x| + 1 / (sqrt(x^2 + 1) + |x|))`; from `huge` on, `log(|x|) + ln 2` (the exponent of
/// `|x|` raised by one: no overflow); `x` itself below `tiny`; the sign of `x` restored.
#[inline(always)]
pub fn asinh<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().hyperbolic;
    let ax = l.abs(x);
    let (one, two, zero) = (l.c(1.0), l.c(2.0), l.c(0.0));
    let t = l.mul(x, x);
    let t1 = l.add(one, t);
    let s = l.sqrt(t1);
    let small = l.le(ax, two);
    // One division: t / (1 + s) up to 2, 1 / (s + |x|) beyond.
    let d_small = l.add(one, s);
    let d_big = l.add(s, ax);
    let num = l.sel(small, t, one);
    let den = l.sel(small, d_small, d_big);
    let q = l.div(num, den);
    let a_small = l.add(ax, q);
    let ax2 = l.mul(two, ax);
    let a_big = l.add(ax2, q);
    let a = l.sel(small, a_small, a_big);
    let huge = l.c(p.huge);
    let is_huge = l.le(huge, ax);
    let a = l.sel(is_huge, ax, a);
    let e = l.sel(is_huge, one, zero);
    let y = ln_1p_or_ln(l, a, small, e);
    let inf = l.c(f64::INFINITY);
    let is_inf = l.eq(ax, inf);
    let y = l.sel(is_inf, inf, y);
    let tiny = l.c(p.tiny);
    let is_tiny = l.lt(ax, tiny);
    let y = l.sel(is_tiny, ax, y);
    let y = l.copysign(y, x);
    let is_nan = l.nan(x);
    l.sel(is_nan, x, y)
}

/// `acosh x`: for `x <= 2`, `log1p(t + sqrt(2t + t^2))`, `t = x - 1`, the roundings of `2t + t^2`,
/// of its square root and of the sum carried to one rounding of the argument (near 1 `log1p`
/// passes the argument's error on whole); below `huge`,
/// `log(2x - 1 / (x + sqrt(x^2 - 1)))`; from `huge` on, `log(x) + ln 2` (the exponent of `x`
/// raised by one); 0 at 1, NaN below.
#[inline(always)]
pub fn acosh<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().hyperbolic;
    let (one, two, zero) = (l.c(1.0), l.c(2.0), l.c(0.0));
    let small = l.le(x, two);
    // One square root: of 2t + t^2 up to 2 (to u + ul, less the rounding of t^2: about t/4 of
    // u's ulp, small near 1, where the argument's error matters), of x^2 - 1 beyond.
    let t = l.sub(x, one);
    let t2 = l.mul(two, t);
    let tt = l.mul(t, t);
    let (u_small, ul) = l.fast_two_sum(t2, tt);
    let xx = l.mul(x, x);
    let u_big = l.sub(xx, one);
    let u = l.sel(small, u_small, u_big);
    let s = l.sqrt(u);
    // sqrt(u + ul) = hi + (u + ul - hi^2) / (s + hi), hi = s less its low bits (hi^2 and
    // u - hi^2 exact) up to 2, 1 / (x + s) beyond: one division.
    let sb = l.bits(s);
    let high = l.ci(p.high);
    let hb = l.iand(sb, high);
    let hi = l.float(hb);
    let hh = l.mul(hi, hi);
    let r = l.sub(u, hh);
    let r = l.add(r, ul);
    let sh = l.add(s, hi);
    let d = l.add(x, s);
    let num = l.sel(small, r, one);
    let den = l.sel(small, sh, d);
    let q = l.div(num, den);
    let (h, e) = l.two_sum(t, hi);
    let e = l.add(e, q);
    let a_small = l.add(h, e);
    let x2 = l.mul(two, x);
    let a_big = l.sub(x2, q);
    let a = l.sel(small, a_small, a_big);
    let huge = l.c(p.huge);
    let is_huge = l.le(huge, x);
    let a = l.sel(is_huge, x, a);
    let e = l.sel(is_huge, one, zero);
    let y = ln_1p_or_ln(l, a, small, e);
    let (inf, nan) = (l.c(f64::INFINITY), l.c(f64::NAN));
    let is_inf = l.eq(x, inf);
    let y = l.sel(is_inf, inf, y);
    // At 1 the correction is 0 / 0.
    let at_one = l.eq(x, one);
    let y = l.sel(at_one, zero, y);
    let below = l.lt(x, one);
    let y = l.sel(below, nan, y);
    let is_nan = l.nan(x);
    l.sel(is_nan, x, y)
}

/// `atanh x`: below `|x| = 0.5`, `log1p(t + t |x| / (1 - |x|)) / 2`, `t = 2|x|`; from there on
/// `log1p(2|x| / (1 - |x|)) / 2` (one division for both); `x` itself below `tiny`; the sign of
/// `x` restored; `±inf` at `±1`, NaN beyond.
#[inline(always)]
pub fn atanh<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().hyperbolic;
    let ax = l.abs(x);
    let (one, half) = (l.c(1.0), l.c(0.5));
    let t = l.add(ax, ax);
    let om = l.sub(one, ax);
    let tx = l.mul(t, ax);
    let small = l.lt(ax, half);
    let num = l.sel(small, tx, t);
    let q = l.div(num, om);
    let a_small = l.add(t, q);
    let a = l.sel(small, a_small, q);
    let lg = ln_1p(l, a);
    let y = l.mul(half, lg);
    let tiny = l.c(p.tiny);
    let is_tiny = l.lt(ax, tiny);
    let y = l.sel(is_tiny, ax, y);
    let y = l.copysign(y, x);
    let nan = l.c(f64::NAN);
    let beyond = l.lt(one, ax);
    let y = l.sel(beyond, nan, y);
    let is_nan = l.nan(x);
    l.sel(is_nan, x, y)
}
