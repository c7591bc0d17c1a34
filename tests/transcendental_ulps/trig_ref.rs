//! The `f64` reference of `sin` and `cos`: `x 2/pi` modulo 4 exactly, in 256-bit fixed point
//! (the integer significand times 256 bits of `2/pi` from the first that matters), the fraction
//! times `pi/2` and the Taylor series in double-double. Independent of `array/vmath`'s
//! reduction (integer arithmetic, its own bits of `2/pi`, no table).

use super::{add, dd, div, mul, two_sum, Dd, Reference};

/// The bits of `2/pi` after the point, 24 a word (to bit 1320).
const TWO_OVER_PI: [u32; 55] = [
    0xA2F983, 0x6E4E44, 0x1529FC, 0x2757D1, 0xF534DD, 0xC0DB62, 0x95993C, 0x439041, 0xFE5163, 0xABDEBB, 0xC561B7,
    0x246E3A, 0x424DD2, 0xE00649, 0x2EEA09, 0xD1921C, 0xFE1DEB, 0x1CB129, 0xA73EE8, 0x8235F5, 0x2EBB44, 0x84E99C,
    0x7026B4, 0x5F7E41, 0x3991D6, 0x398353, 0x39F49C, 0x845F8B, 0xBDF928, 0x3B1FF8, 0x97FFDE, 0x05980F, 0xEF2F11,
    0x8B5A0A, 0x6D1F6D, 0x367ECF, 0x27CB09, 0xB74F46, 0x3F669E, 0x5FEA2D, 0x7527BA, 0xC7EBE5, 0xF17B3D, 0x0739F7,
    0x8A5292, 0xEA6BFB, 0x5FB11F, 0x8D5D08, 0x560330, 0x46FC7B, 0x6BABF0, 0xCFBC20, 0x9AF436, 0x1DA9E3, 0x91615E,
];

/// `pi / 2` in double-double.
const PIO2: Dd = Dd(std::f64::consts::FRAC_PI_2, 6.123233995736766e-17);

fn bit(k: i64) -> u64 {
    if k < 1 {
        return 0;
    }
    let k = (k - 1) as usize;
    u64::from((TWO_OVER_PI[k / 24] >> (23 - k % 24)) & 1)
}

/// `|x| = (n + f) pi/2`, `n` in `0..4`, `f` in `[-1/2, 1/2)`, `f` in double-double.
fn reduce(ax: f64) -> (u32, Dd) {
    let b = ax.to_bits();
    let (field, frac) = ((b >> 52) as i64, b & ((1 << 52) - 1));
    let (big_x, e) = if field == 0 { (frac, -1074) } else { (frac | 1 << 52, field - 1075) };
    // g: bits e-1 .. e+254 of 2/pi (weights 2^1 .. 2^-254 once scaled by 2^e), limb 0 lowest.
    let mut g = [0u64; 4];
    for i in 0..256 {
        g[3 - i / 64] |= bit(e - 1 + i as i64) << (63 - i % 64);
    }
    // p = X g modulo 2^256: its value modulo 4 is p 2^-254.
    let mut p = [0u64; 4];
    let mut carry = 0u128;
    for (i, &gi) in g.iter().enumerate() {
        let t = u128::from(gi) * u128::from(big_x) + carry;
        p[i] = t as u64;
        carry = t >> 64;
    }
    // n = round(p 2^-254) mod 4; f = p 2^-254 - n, as a signed 256-bit number.
    let top = p[3] >> 62;
    let half = (p[3] >> 61) & 1;
    let n = ((top + half) & 3) as u32;
    // |f| as a 254-bit fraction: the low 254 bits, or 2^254 less them (f below zero).
    let mut q = p;
    q[3] &= (1 << 62) - 1;
    if half == 1 {
        let mut c = 1u128;
        for limb in q.iter_mut() {
            let t = u128::from(!*limb) + c;
            *limb = t as u64;
            c = t >> 64;
        }
        q[3] &= (1 << 62) - 1;
    }
    let mut f = Dd(0.0, 0.0);
    for (i, &limb) in q.iter().enumerate() {
        let (hi, lo) = ((limb >> 32) as f64, (limb & 0xffff_ffff) as f64);
        let s = (64 * i) as i32 - 254;
        f = add(f, add(dd(hi * 2f64.powi(s + 32)), dd(lo * 2f64.powi(s))));
    }
    if half == 1 {
        f = neg(f);
    }
    (n, f)
}

/// `(sin r, cos r)` for `|r| <= pi/4` in double-double (Taylor).
fn sin_cos(r: Dd) -> (Dd, Dd) {
    let r2 = mul(r, r);
    let (mut s, mut c) = (r, dd(1.0));
    let (mut ts, mut tc) = (r, dd(1.0));
    for k in 1..30 {
        let k = k as f64;
        ts = mul(mul(ts, r2), dd(-1.0 / ((2.0 * k) * (2.0 * k + 1.0))));
        tc = mul(mul(tc, r2), dd(-1.0 / ((2.0 * k - 1.0) * (2.0 * k))));
        s = add(s, ts);
        c = add(c, tc);
    }
    (s, c)
}

fn neg(a: Dd) -> Dd {
    Dd(-a.0, -a.1)
}

fn trig(x: f64, cosine: bool) -> Reference {
    let ax = x.abs();
    if ax < 1e-30 {
        let v = if cosine { dd(1.0) } else { two_sum(x, -x * x * x / 6.0) };
        return (v, 0);
    }
    let (n, f) = reduce(ax);
    let (s, c) = sin_cos(mul(f, PIO2));
    let v = match (cosine, n) {
        (false, 0) | (true, 3) => s,
        (false, 1) | (true, 0) => c,
        (false, 2) | (true, 1) => neg(s),
        _ => neg(c),
    };
    (if x < 0.0 && !cosine { neg(v) } else { v }, 0)
}

pub fn ref_sin(x: f64) -> Reference {
    trig(x, false)
}

pub fn ref_cos(x: f64) -> Reference {
    trig(x, true)
}

pub fn ref_tan(x: f64) -> Reference {
    let ax = x.abs();
    if ax < 1e-30 {
        return (two_sum(x, x * x * x / 3.0), 0);
    }
    let (n, f) = reduce(ax);
    let (s, c) = sin_cos(mul(f, PIO2));
    let v = if n % 2 == 0 { div(s, c) } else { neg(div(c, s)) };
    (if x < 0.0 { neg(v) } else { v }, 0)
}

/// `atan x` from `y0`, `libm`'s value: `atan x = y0 + atan d`, `d = tan(atan x - y0) =
/// (x cos y0 - sin y0) / (cos y0 + x sin y0)` with `sin y0`, `cos y0` in double-double (`d`
/// is within an ulp or so of `y0`, so `atan d = d` to 2^-100 of it); beyond `2^60`,
/// `pi/2 - 1/x`.
pub fn ref_atan(x: f64) -> Reference {
    if x.abs() > 2f64.powi(60) {
        let v = add(PIO2, dd(-1.0 / x.abs()));
        return (if x < 0.0 { neg(v) } else { v }, 0);
    }
    let y0 = libm::atan(x);
    let (s, c) = (ref_sin(y0).0, ref_cos(y0).0);
    let num = add(mul(dd(x), c), neg(s));
    let den = add(c, mul(dd(x), s));
    (add(dd(y0), div(num, den)), 0)
}
