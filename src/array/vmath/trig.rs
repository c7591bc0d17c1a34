//! `sin`, `cos` and `tan` (fdlibm's `k_sin.c`, `k_cos.c`, `k_tan.c` and `e_rem_pio2.c`,
//! branch-free): `x = n pi/2 + r`, `|r| <= pi/4` (about) in two floats, and the kernel of the
//! quadrant `n mod 4`, its sign.
//!
//! Below `bound` (`2^20 pi/2` for `f64`, `2^12 pi/2` for `f32`) the reduction is Cody and
//! Waite's, with `pi/2` in parts short enough that `n` times each is exact and every subtraction
//! carrying its error; from `bound` on it is `pio2.rs`'s, computed only when some lane needs it.

use super::pio2::reduce_huge;
use super::{Lanes, Steps};

/// `x` reduced: `|x|`, the quadrant `q`, both kernels on the remainder, the constant 2, and
/// whether `q` is 1 and whether it is odd.
struct Quadrant<L: Lanes> {
    ax: L::F,
    q: L::F,
    s: L::F,
    c: L::F,
    two: L::F,
    q1: L::M,
    odd: L::M,
}

/// [`Quadrant`] of `x`: what `sin` and `cos` both start from.
#[inline(always)]
fn in_quadrant<L: Lanes>(l: &mut L, x: L::F) -> Quadrant<L> {
    let ax = l.abs(x);
    let [r, r_lo, n] = reduce(l, x, ax);
    let q = quadrant(l, n);
    let s = kernel_sin(l, r, r_lo);
    let c = kernel_cos(l, r, r_lo);
    let (one, two, three) = (l.c(1.0), l.c(2.0), l.c(3.0));
    let q1 = l.eq(q, one);
    let q3 = l.eq(q, three);
    let odd = l.or(q1, q3);
    Quadrant { ax, q, s, c, two, q1, odd }
}

/// `sin x`; NaN at `±inf`.
#[inline(always)]
pub fn sin<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let Quadrant { ax, q, s, c, two, q1: _, odd } = in_quadrant(l, x);
    // sin: s, c, -s, -c by quadrant.
    let y = l.sel(odd, c, s);
    let ny = l.neg(y);
    let neg = l.le(two, q);
    let y = l.sel(neg, ny, y);
    let tiny = l.c(l.prec().trig.tiny);
    let is_tiny = l.lt(ax, tiny);
    let y = l.sel(is_tiny, x, y);
    special(l, x, ax, y)
}

/// `cos x`; NaN at `±inf`.
#[inline(always)]
pub fn cos<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let Quadrant { ax, q, s, c, two, q1, odd } = in_quadrant(l, x);
    // cos: c, -s, -c, s by quadrant.
    let y = l.sel(odd, s, c);
    let ny = l.neg(y);
    let q2 = l.eq(q, two);
    let neg = l.or(q1, q2);
    let y = l.sel(neg, ny, y);
    special(l, x, ax, y)
}

/// `tan x`; NaN at `±inf`. fdlibm's `__tan`: the odd polynomial of `tan r`, from `|r| = 0.6744`
/// on of `tan(pi/4 - |r|)`, and `-1 / tan r` in the odd quadrants; one division for both.
#[inline(always)]
pub fn tan<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let ax = l.abs(x);
    let [r, r_lo, n] = reduce(l, x, ax);
    let q = quadrant(l, n);
    let (one, three) = (l.c(1.0), l.c(3.0));
    let q1 = l.eq(q, one);
    let q3 = l.eq(q, three);
    let odd = l.or(q1, q3);
    let t = &l.prec().trig.tan;
    // |r| from `big` on: r = (pi/4 - |r|) + (pi/4 lo - |r_lo|), r_lo = 0.
    let zero = l.c(0.0);
    let negative = l.lt(r, zero);
    let ar = l.abs(r);
    let nlo = l.neg(r_lo);
    let alo = l.sel(negative, nlo, r_lo);
    let (p4, p4lo) = (l.c(t.pio4.0), l.c(t.pio4.1));
    let z = l.sub(p4, ar);
    let w = l.sub(p4lo, alo);
    let rb = l.add(z, w);
    let big = l.c(t.big);
    let is_big = l.le(big, ar);
    let x1 = l.sel(is_big, rb, r);
    let y1 = l.sel(is_big, zero, r_lo);
    let (w, rr) = tan_poly(l, x1, y1);
    // One division: big, w^2 / (w + v) (v = -1 in odd quadrants, else 1); odd, -1 / w.
    let m1 = l.c(-1.0);
    let v = l.sel(odd, m1, one);
    let ww = l.mul(w, w);
    let wv = l.add(w, v);
    let num = l.sel(is_big, ww, m1);
    let den = l.sel(is_big, wv, w);
    let a = l.div(num, den);
    // big: ±(v - 2 (x1 - (a - rr)))
    let d = l.sub(a, rr);
    let d = l.sub(x1, d);
    let two = l.c(2.0);
    let d = l.mul(two, d);
    let yb = l.sub(v, d);
    let nyb = l.neg(yb);
    let yb = l.sel(negative, nyb, yb);
    // odd: -1 / (x1 + rr) to the last bit: t = a's high half, t + a (1 + t zh + t (rr - (zh - x1)))
    let mask = l.ci(t.high);
    let wb = l.bits(w);
    let zh = l.iand(wb, mask);
    let zh = l.float(zh);
    let zx = l.sub(zh, x1);
    let vv = l.sub(rr, zx);
    let ab = l.bits(a);
    let th = l.iand(ab, mask);
    let th = l.float(th);
    let tz = l.mul(th, zh);
    let s = l.add(one, tz);
    let tv = l.mul(th, vv);
    let s = l.add(s, tv);
    let s = l.mul(a, s);
    let yo = l.add(th, s);
    let y = l.sel(odd, yo, w);
    let y = l.sel(is_big, yb, y);
    let tiny = l.c(l.prec().trig.tiny);
    let is_tiny = l.lt(ax, tiny);
    let y = l.sel(is_tiny, x, y);
    special(l, x, ax, y)
}

/// `(x + r, r)` of fdlibm's `__tan`: `tan(x + y) = x + r`, `r = y + z (s (R + V) + y) + s T0`
/// (`z = x^2`, `s = z x`, `R` and `V / z` polynomials in `z^2`).
#[inline(always)]
fn tan_poly<L: Lanes>(l: &mut L, x: L::F, y: L::F) -> (L::F, L::F) {
    let t = &l.prec().trig.tan;
    let z = l.mul(x, x);
    let w = l.mul(z, z);
    let r = l.horner(w, t.r);
    let v = l.horner(w, t.v);
    let v = l.mul(z, v);
    let s = l.mul(z, x);
    let rv = l.add(r, v);
    let srv = l.mul(s, rv);
    let srv = l.add(srv, y);
    let zr = l.mul(z, srv);
    let r = l.add(y, zr);
    let t0 = l.c(t.t0);
    let st = l.mul(s, t0);
    let r = l.add(r, st);
    (l.add(x, r), r)
}

/// NaN at `±inf`, and a NaN argument itself.
#[inline(always)]
fn special<L: Lanes>(l: &mut L, x: L::F, ax: L::F, y: L::F) -> L::F {
    let (inf, nan) = (l.c(f64::INFINITY), l.c(f64::NAN));
    let is_inf = l.eq(ax, inf);
    let y = l.sel(is_inf, nan, y);
    let is_nan = l.nan(x);
    l.sel(is_nan, x, y)
}

/// `x = n pi/2 + r + r_lo`: `[r, r_lo, n]`.
#[inline(always)]
fn reduce<L: Lanes>(l: &mut L, x: L::F, ax: L::F) -> [L::F; 3] {
    let fast = cody_waite(l, x);
    let t = &l.prec().trig;
    let (bound, inf) = (l.c(t.bound), l.c(f64::INFINITY));
    let big = l.le(bound, ax);
    let finite = l.lt(ax, inf);
    let huge = l.and(big, finite);
    l.when_any(
        huge,
        fast,
        #[inline(always)]
        |l| {
            let [r, r_lo, n] = reduce_huge(l, ax);
            let zero = l.c(0.0);
            let negative = l.lt(x, zero);
            let (nr, nlo, nn) = (l.neg(r), l.neg(r_lo), l.neg(n));
            [l.sel(negative, nr, r), l.sel(negative, nlo, r_lo), l.sel(negative, nn, n)]
        },
    )
}

/// The reduction below `bound`: `n = round(x 2/pi)`, `x - n P1` exact, then `n` times each
/// further part subtracted, the errors summed, and the tail.
#[inline(always)]
fn cody_waite<L: Lanes>(l: &mut L, x: L::F) -> [L::F; 3] {
    let t = &l.prec().trig;
    let inv = l.c(t.inv_pio2);
    let xi = l.mul(x, inv);
    let (n, _) = l.round(xi);
    let p1 = l.c(-t.pio2[0]);
    let w = l.mul(n, p1);
    let mut r = l.add(x, w);
    let mut err = l.c(0.0);
    for &part in &t.pio2[1..] {
        let pc = l.c(-part);
        let w = l.mul(n, pc);
        let (s, e) = l.two_sum(r, w);
        r = s;
        err = l.add(err, e);
    }
    let tc = l.c(-t.pio2_tail);
    let w = l.mul(n, tc);
    let c = l.add(err, w);
    let (y0, y1) = l.fast_two_sum(r, c);
    [y0, y1, n]
}

/// `n mod 4`, in `{0, 1, 2, 3}`.
#[inline(always)]
fn quadrant<L: Lanes>(l: &mut L, n: L::F) -> L::F {
    let quarter = l.c(0.25);
    let t = l.mul(n, quarter);
    let (k, _) = l.round(t);
    let four = l.c(4.0);
    let k4 = l.mul(k, four);
    let q = l.sub(n, k4);
    let zero = l.c(0.0);
    let below = l.lt(q, zero);
    let q4 = l.add(q, four);
    l.sel(below, q4, q)
}

/// `sin(x + y)`, `|x| <= pi/4`, `y` below an ulp of `x` (fdlibm's `__sin` with `iy = 1`).
#[inline(always)]
fn kernel_sin<L: Lanes>(l: &mut L, x: L::F, y: L::F) -> L::F {
    let s = l.prec().trig.sin;
    let z = l.mul(x, x);
    let v = l.mul(z, x);
    let r = l.horner(z, &s[1..]);
    // x - ((z (y/2 - v r) - y) - v S1)
    let half = l.c(0.5);
    let hy = l.mul(half, y);
    let vr = l.mul(v, r);
    let t = l.sub(hy, vr);
    let t = l.mul(z, t);
    let t = l.sub(t, y);
    let s1 = l.c(s[0]);
    let vs = l.mul(v, s1);
    let t = l.sub(t, vs);
    l.sub(x, t)
}

/// `cos(x + y)`, `|x| <= pi/4`, `y` below an ulp of `x` (fdlibm's `__cos`).
#[inline(always)]
fn kernel_cos<L: Lanes>(l: &mut L, x: L::F, y: L::F) -> L::F {
    let c = l.prec().trig.cos;
    let z = l.mul(x, x);
    let p = l.horner(z, c);
    let r = l.mul(z, p);
    // w + (((1 - w) - z/2) + (z r - x y)), w = 1 - z/2
    let (half, one) = (l.c(0.5), l.c(1.0));
    let hz = l.mul(half, z);
    let w = l.sub(one, hz);
    let a = l.sub(one, w);
    let a = l.sub(a, hz);
    let zr = l.mul(z, r);
    let xy = l.mul(x, y);
    let b = l.sub(zr, xy);
    let a = l.add(a, b);
    l.add(w, a)
}
