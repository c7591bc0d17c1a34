//! The reduction of a huge argument by `pi / 2` (Payne and Hanek's): `|x| 2/pi` modulo 4 from
//! the bits of `2/pi` that matter at `x`'s exponent, read from a table with one row an exponent,
//! in products that are exact and sums that are exact or carry their error.
//!
//! `x = X 2^e` with `X` an integer of `mant + 1` bits, split `X = Xh + Xl` (`Xl` the low
//! `split` bits). A row holds `W = 2^e 2/pi` modulo 4 as `CHUNKS` numbers `w_j`, each a chunk of
//! `chunk` bits of `2/pi` at its place (`w_j = c_j 2^(2 - chunk (j + 1))`), so that `Xh w_j` and
//! `Xl w_j` are exact, `Xh w_0` is a multiple of 4 (dropped), and the terms down to `Xh w_2`
//! have their fractions summed exactly: the rest (below `2^-chunk` or so) is summed as an
//! expansion of three floats. The fraction left, in `[-1/2, 1/2]`, is multiplied by `pi / 2` in
//! two floats. Truncating `2/pi` after `CHUNKS` chunks errs by at most `2^(mant + 3 - chunk
//! CHUNKS)` quarter turns (`2^-137` for `f64`, `2^-70` for `f32`), far below the closest an
//! argument comes to a multiple of `pi / 2` (`2^-61` for `f64`, at `6381956970095103 2^797`;
//! the `f32` ones are all checked, `tests/transcendental_ulps.rs`'s exhaustive test).

use super::{Lanes, Steps};

/// Chunks of `2/pi` a row.
pub(super) const CHUNKS: usize = 8;

/// The bits of `2/pi` after the point, 24 a word (fdlibm's `ipio2`), as far as the largest
/// `f64` needs them (bit 1161).
const IPIO2: [u32; 49] = [
    0xA2F983, 0x6E4E44, 0x1529FC, 0x2757D1, 0xF534DD, 0xC0DB62, 0x95993C, 0x439041, 0xFE5163, 0xABDEBB, 0xC561B7,
    0x246E3A, 0x424DD2, 0xE00649, 0x2EEA09, 0xD1921C, 0xFE1DEB, 0x1CB129, 0xA73EE8, 0x8235F5, 0x2EBB44, 0x84E99C,
    0x7026B4, 0x5F7E41, 0x3991D6, 0x398353, 0x39F49C, 0x845F8B, 0xBDF928, 0x3B1FF8, 0x97FFDE, 0x05980F, 0xEF2F11,
    0x8B5A0A, 0x6D1F6D, 0x367ECF, 0x27CB09, 0xB74F46, 0x3F669E, 0x5FEA2D, 0x7527BA, 0xC7EBE5, 0xF17B3D, 0x0739F7,
    0x8A5292, 0xEA6BFB, 0x5FB11F, 0x8D5D08, 0x560330,
];

/// Bit `k` of `2/pi` (weight `2^-k`; zero for `k < 1`).
const fn bit(k: i32) -> u32 {
    if k < 1 {
        return 0;
    }
    let k = (k - 1) as usize;
    (IPIO2[k / 24] >> (23 - k % 24)) & 1
}

/// Fills `out` with the rows of exponents `first, first + 1, ...` for a precision of `mant`
/// mantissa bits and chunks of `chunk` bits.
const fn fill(out: &mut [f64], first: i32, mant: i32, chunk: i32) {
    let mut row = 0;
    while row * CHUNKS < out.len() {
        // x = X 2^e; the first bit of 2/pi that matters has weight 2^(1 - e).
        let e = first + row as i32 - mant;
        let mut j = 0;
        while j < CHUNKS {
            let k0 = e - 1 + chunk * j as i32;
            let (mut c, mut i) = (0u32, 0);
            while i < chunk {
                c = (c << 1) | bit(k0 + i);
                i += 1;
            }
            let mut w = c as f64 * 4.0;
            let mut s = 0;
            while s < chunk * (j as i32 + 1) {
                w *= 0.5;
                s += 1;
            }
            out[row * CHUNKS + j] = w;
            j += 1;
        }
        row += 1;
    }
}

/// The rows for `f64`: exponents 20 to 1023.
pub(super) static TABLE_F64: [f64; 1004 * CHUNKS] = {
    let mut t = [0.0; 1004 * CHUNKS];
    fill(&mut t, 20, 52, 24);
    t
};

/// The rows for `f32`: exponents 12 to 127.
pub(super) static TABLE_F32: [f32; 116 * CHUNKS] = {
    let mut w = [0.0; 116 * CHUNKS];
    fill(&mut w, 12, 23, 12);
    let mut t = [0.0f32; 116 * CHUNKS];
    let mut i = 0;
    while i < t.len() {
        t[i] = w[i] as f32;
        i += 1;
    }
    t
};

/// `ax` (positive, finite, from the table's first exponent on) as `(r, r_lo, n)`: `ax = n pi/2
/// + r + r_lo` with `|r| <= pi/4` (about) and `n` an integer of the same class modulo 4.
#[inline(always)]
pub(super) fn reduce_huge<L: Lanes>(l: &mut L, ax: L::F) -> [L::F; 3] {
    let p = l.prec();
    let h = &p.trig.huge;
    let b = l.bits(ax);
    // The row: the exponent, clamped (lanes of other arguments read a row and are discarded).
    let e = l.exponent(b);
    let first = l.c(h.first);
    let row = l.sub(e, first);
    let row = l.clamp(row, 0.0, h.rows - 1.0);
    let (_, kd) = l.round(row);
    let kb = l.bits(kd);
    let low = l.ci(0xffff);
    let row = l.iand(kb, low);
    let row = l.shl(row, CHUNKS.trailing_zeros());
    // X, and its high and low parts.
    let mant = l.ci(p.log.mant_mask);
    let m = l.iand(b, mant);
    let one = l.ci((p.bias + u64::from(p.mant)) << p.mant);
    let xb = l.ior(m, one);
    let x = l.float(xb);
    let high = l.ci(h.high);
    let xh = l.iand(xb, high);
    let xh = l.float(xh);
    let xl = l.sub(x, xh);
    let mut terms = Vec::with_capacity(2 * CHUNKS);
    for j in 0..CHUNKS {
        let off = l.ci(j as u64);
        let i = l.iadd(row, off);
        let w = l.gather(h.table, i);
        terms.push(l.mul(xh, w));
        terms.push(l.mul(xl, w));
    }
    // terms: Xh w0 (a multiple of 4), Xl w0, Xh w1, Xl w1, Xh w2 | Xl w2, Xh w3, ...
    let (n, s) = head(l, &terms[1..5]);
    let [a, c, d] = tail(l, &terms[5..]);
    let (u, e1) = l.two_sum(s, a);
    let (k, _) = l.round(u);
    let f = l.sub(u, k);
    let n = l.add(n, k);
    // The fraction f + e1 + c + d, as two floats.
    let (t1, t2) = l.two_sum(e1, c);
    let (g, g2) = l.two_sum(f, t1);
    let lo = l.add(g2, t2);
    let lo = l.add(lo, d);
    let (fh, fl) = l.two_sum(g, lo);
    let (r, r_lo) = times_pio2(l, fh, fl);
    [r, r_lo, n]
}

/// The sum of `terms` (exact, each below `2^(mant - 1)`, their bits from `2^-(2 chunk - 2)`
/// up) as an integer `n` and an exact fraction in `[-1/2, 1/2]`.
#[inline(always)]
fn head<L: Lanes>(l: &mut L, terms: &[L::F]) -> (L::F, L::F) {
    let mut n = l.c(0.0);
    let mut s = l.c(0.0);
    for &t in terms {
        let (k, _) = l.round(t);
        let f = l.sub(t, k);
        n = l.add(n, k);
        s = l.add(s, f);
        let (k, _) = l.round(s);
        s = l.sub(s, k);
        n = l.add(n, k);
    }
    (n, s)
}

/// The sum of `terms` as an expansion of three floats, the first the rounded sum.
#[inline(always)]
fn tail<L: Lanes>(l: &mut L, terms: &[L::F]) -> [L::F; 3] {
    let mut a = terms[0];
    let mut c = l.c(0.0);
    let mut d = l.c(0.0);
    for &t in &terms[1..] {
        let (s, e) = l.two_sum(a, t);
        a = s;
        let (s, e2) = l.two_sum(c, e);
        c = s;
        d = l.add(d, e2);
    }
    [a, c, d]
}

/// `(fh + fl) pi/2` as two floats (`fl` below an ulp of `fh`).
#[inline(always)]
fn times_pio2<L: Lanes>(l: &mut L, fh: L::F, fl: L::F) -> (L::F, L::F) {
    let h = &l.prec().trig.huge;
    let (ph, pl) = h.pio2;
    let pc = l.c(ph);
    let p = l.mul(fh, pc);
    // The error of fh * ph (Dekker), ph split in two constant halves.
    let (ah, al) = l.split(fh, h.veltkamp);
    let (bh, bl) = (l.c(h.pio2_split.0), l.c(h.pio2_split.1));
    let t = l.mul(ah, bh);
    let t = l.sub(t, p);
    let u = l.mul(ah, bl);
    let t = l.add(t, u);
    let u = l.mul(al, bh);
    let t = l.add(t, u);
    let u = l.mul(al, bl);
    let err = l.add(t, u);
    let plc = l.c(pl);
    let u = l.mul(fh, plc);
    let v = l.mul(fl, pc);
    let rest = l.add(u, v);
    let rest = l.add(rest, err);
    l.fast_two_sum(p, rest)
}
