//! `exp` (a table of `2^(j/N)` and a short polynomial, no division; fdlibm's `e_exp.c` made
//! branch-free for the arguments near overflow and underflow), `expm1` (on fdlibm's reduction
//! and rational, one formula for every `k`) and `tanh` (Cephes', on `exp`).

use super::{Lanes, Steps};

/// `e^x`: the table-driven path (`exp_by_table`) where `|x|` is below the table's bound, else
/// (overflow, underflow, subnormal results, NaN: a branch taken when some lane needs it)
/// fdlibm's reduction (`exp_by_halves`).
#[inline(always)]
pub fn exp<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let t = l.prec().exp.table;
    let y = exp_by_table(l, x, None);
    let ax = l.abs(x);
    let fast = l.c(t.fast);
    let slow = l.not_lt(ax, fast);
    let [y] = l.when_any(
        slow,
        [y],
        #[inline(always)]
        |l| [exp_by_halves(l, x)],
    );
    y
}

/// `e^(x + tail)` for `|x|` below the table's bound (`|tail|` below `2^-8 / N`, or none):
/// `x = (k/N) ln2 + r`, `e^x = s (1 + t) e^r` with `2^(k/N) = s (1 + t)` from the table, as
/// `s + s (t + r + r^2 P(r))`. Other arguments give garbage (every index stays in the table).
#[inline(always)]
pub(super) fn exp_by_table<L: Lanes>(l: &mut L, x: L::F, tail: Option<L::F>) -> L::F {
    let p = l.prec();
    let t = p.exp.table;
    let (inv, shift) = (l.c(t.inv_ln2_n), l.c(p.shift));
    let shifted = l.mul_add(x, inv, shift);
    let k = l.sub(shifted, shift);
    let ki = l.bits(shifted);
    let (hi, lo) = (l.c(t.neg_ln2_n.0), l.c(t.neg_ln2_n.1));
    let r = l.mul_add(k, hi, x);
    let r = l.mul_add(k, lo, r);
    let r = match tail {
        Some(t) => l.add(r, t),
        None => r,
    };
    let mask = l.ci((1 << t.bits) - 1);
    let j = l.iand(ki, mask);
    let top = l.shl(ki, p.mant - t.bits);
    let (tab_tail, s) = l.gather_pair(t.pairs, j);
    let sb = l.bits(s);
    let sb = l.iadd(sb, top);
    let scale = l.float(sb);
    let rr = l.mul(r, r);
    let poly = estrin(l, r, rr, t.poly);
    let tr = l.add(tab_tail, r);
    let tmp = l.mul_add(rr, poly, tr);
    l.mul_add(scale, tmp, scale)
}

/// `c[0] + x c[1] + x^2 (c[2] + x c[3]) + ...` (pairs, then Horner in `x^2 = xx`), each step
/// a fused multiply-add.
#[inline(always)]
fn estrin<L: Lanes>(l: &mut L, x: L::F, xx: L::F, c: &[f64]) -> L::F {
    let mut acc = None;
    for pair in c.chunks(2).rev() {
        let mut v = l.c(pair[0]);
        if let Some(&c1) = pair.get(1) {
            let c1 = l.c(c1);
            v = l.mul_add(x, c1, v);
        }
        acc = Some(match acc {
            None => v,
            Some(a) => l.mul_add(xx, a, v),
        });
    }
    acc.expect("a polynomial has coefficients")
}

/// `e^x` by fdlibm's `e_exp.c`, branch-free: `x = k ln2 + r` (`|r| <= ln2 / 2`, `r = hi - lo`),
/// `e^r` from a rational in `r`, scaled by `2^k` in two steps (a subnormal result is rounded
/// once); overflow, underflow and NaN exact.
#[inline(always)]
fn exp_by_halves<L: Lanes>(l: &mut L, x: L::F) -> L::F {
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
    // y = 1 + (r c / (2 - c) - lo + hi), c = r - rr (P1 + rr (P2 + ...))
    let q = expm1_tail(l, r);
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
#[inline(always)]
pub(super) fn scale<L: Lanes>(l: &mut L, y: L::F, k: L::F) -> L::F {
    let half = l.c(0.5);
    let h = l.mul(k, half);
    let (k1, _) = l.round(h);
    let k2 = l.sub(k, k1);
    let s1 = l.pow2(k1);
    let s2 = l.pow2(k2);
    let y = l.mul(y, s1);
    l.mul(y, s2)
}

/// `e^x - 1`, accurate near 0: `x = k ln2 + r` (`|r| <= ln2 / 2`, `r` and its correction `c`
/// from the two parts of `ln2`), `e^r - 1 - r` from `exp`'s rational, and
/// `e^x - 1 = 2 ((2^(k-1) - 1/2) + 2^(k-1) r + 2^(k-1) (c + e^r - 1 - r))` summed with the error
/// of the first two terms carried (one formula for every `k`, no cases).
#[inline(always)]
pub fn expm1<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().expm1;
    // The clamped range keeps 2^(k-1) normal; below it the result rounds to -1, above it
    // overflows. A NaN propagates, and is returned as is below.
    let xc = l.clamp(x, p.clamp.0, p.clamp.1);
    let inv = l.c(p.inv_ln2);
    let t = l.mul(xc, inv);
    let (k, _) = l.round(t);
    let (ln2hi, ln2lo) = (l.c(p.ln2.0), l.c(p.ln2.1));
    let khi = l.mul(k, ln2hi);
    let hi = l.sub(xc, khi);
    let lo = l.mul(k, ln2lo);
    let r = l.sub(hi, lo);
    let hr = l.sub(hi, r);
    let c = l.sub(hr, lo);
    let q = expm1_tail(l, r);
    let one = l.c(1.0);
    let km1 = l.sub(k, one);
    let s = l.pow2(km1);
    let mhalf = l.c(-0.5);
    // (a, ea) = 2^(k-1) - 1/2 exactly; (h, e) = a + 2^(k-1) r exactly (|a| is at least
    // 2^(k-1) / 2 or zero, |2^(k-1) r| at most 0.35 2^(k-1)).
    let (a, ea) = l.two_sum(s, mhalf);
    let sr = l.mul(s, r);
    let (h, e) = l.fast_two_sum(a, sr);
    let cq = l.add(c, q);
    let scq = l.mul(s, cq);
    let tail = l.add(e, ea);
    let tail = l.add(tail, scq);
    let y = l.add(h, tail);
    let y = l.add(y, y);
    let (over, inf) = (l.c(p.over), l.c(f64::INFINITY));
    let is_over = l.lt(over, x);
    let y = l.sel(is_over, inf, y);
    // Tiny arguments (subnormals and signed zeros among them) are their own result.
    let ax = l.abs(x);
    let tiny = l.c(p.tiny);
    let is_tiny = l.lt(ax, tiny);
    let nan = l.nan(x);
    let keep = l.or(is_tiny, nan);
    l.sel(keep, x, y)
}

/// `e^r - 1 - r` for `|r| <= ln2 / 2`, by `exp`'s rational: `r c / (2 - c)`, `c = r - r^2 P(r^2)`.
#[inline(always)]
fn expm1_tail<L: Lanes>(l: &mut L, r: L::F) -> L::F {
    let p = &l.prec().exp;
    let rr = l.mul(r, r);
    let poly = l.horner(rr, p.p);
    let t = l.mul(rr, poly);
    let c = l.sub(r, t);
    let rc = l.mul(r, c);
    let two = l.c(2.0);
    let den = l.sub(two, c);
    l.div(rc, den)
}

/// `tanh x` (Cephes' `tanh`): `1 - 2 / (e^(2|x|) + 1)` from `|x| = big` on (`exp`'s table path,
/// no branch), below it
/// `|x| + |x| z P(z) / Q(z)`, `z = x^2`; one division, of the numerator and denominator each
/// lane needs; the sign of `x` restored.
#[inline(always)]
pub fn tanh<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().tanh;
    let ax = l.abs(x);
    let two = l.c(2.0);
    let a2 = l.mul(two, ax);
    // From `2|x| = 80` on, `2 / (e^(2|x|) + 1)` is below half an ulp of 1 in either precision:
    // the argument is capped there, inside `exp`'s table path (a NaN passes, replaced below).
    let cap = l.c(80.0);
    let over = l.lt(cap, a2);
    let a2 = l.sel(over, cap, a2);
    let e = exp_by_table(l, a2, None);
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
