//! The `f64` reference of `pow`, its points and its special arguments: `|x|^y = e^(y ln |x|)`
//! with `ln |x|` from `log_dd` (one Newton step from `libm`'s value), the product in
//! double-double and `e^(h + l) = e^h (1 + l + l^2 / 2)` by `exp_parts` (the power of two kept
//! apart, so results beyond the range are measured too); the sign of negative `x` and odd `y`.

use super::{add, any_bits, dd, exp_parts, log_dd, mul, Dd, Reference, Rng};

/// `x^y` for finite nonzero `x` (negative only with an integer `y`) and finite `y`.
pub fn ref_pow(x: f64, y: f64) -> Reference {
    let ax = x.abs();
    let ln = log_dd(libm::log(ax), dd(ax));
    let p = mul(dd(y), ln);
    let (e, k) = exp_parts(p.0);
    let tail = add(dd(1.0), Dd(p.1, p.1 * p.1 * 0.5));
    let m = mul(add(dd(1.0), e), tail);
    let odd = y.abs() < 2f64.powi(53) && y % 2.0 != 0.0;
    (if x < 0.0 && odd { Dd(-m.0, -m.1) } else { m }, k)
}

/// `y` with `y log2 |x|` near `z` (NaN-free: `|x|` away from 1 by at least an ulp).
fn y_for(x: f64, z: f64) -> f64 {
    let l = x.abs().log2();
    if l == 0.0 {
        z
    } else {
        z / l
    }
}

/// `(x, y)`: every binade of `x` with `y log2 |x|` anywhere from underflow (subnormal results
/// included) to overflow and at both thresholds, the working range, `x` near 1 (by as little as
/// an ulp) with `y` as large as the range allows, negative `x` with integer `y` (odd and even,
/// up to huge odd ones near `x = -1`), and every pair of binades.
pub fn pow_points(rng: &mut Rng, single: bool) -> (f64, f64) {
    let (over, under, sub, bits) = if single { (128.0, -150.0, -126.0, 24) } else { (1024.0, -1075.0, -1022.0, 53) };
    let (x, y) = match rng.next() % 7 {
        0 => {
            let x = any_bits(rng, single).abs();
            (x, y_for(x, rng.uniform(under, over)))
        }
        1 => {
            let x = any_bits(rng, single).abs();
            let edge = [over, under, sub][(rng.next() % 3) as usize];
            (x, y_for(x, edge + rng.uniform(-2.0, 2.0)))
        }
        2 => (rng.uniform(0.0, 10.0), rng.uniform(-40.0, 40.0)),
        3 => {
            let x = 1.0 + rng.uniform(-1.0, 1.0) * 2f64.powi(-((rng.next() % bits) as i32));
            (x, y_for(x, rng.uniform(under, over)))
        }
        4 => {
            let x = -rng.uniform(0.0, 8.0);
            let y = rng.uniform(-1.0, 1.0) * y_for(x, over);
            (x, y.round())
        }
        5 => {
            // x near -1 and a huge integer y, odd about half the time.
            let x = -(1.0 + rng.uniform(-1.0, 1.0) * 2f64.powi(-((rng.next() % bits) as i32)));
            let y = (rng.uniform(-1.0, 1.0) * y_for(x, over)).round();
            (x, if y.abs() < 2f64.powi(bits as i32 - 1) { y + (rng.next() % 2) as f64 } else { y })
        }
        _ => (any_bits(rng, single), any_bits(rng, single)),
    };
    if single {
        (x as f32 as f64, y as f32 as f64)
    } else {
        (x, y)
    }
}

/// The special arguments of `pow` (every pair of them is checked): zeros, infinities, NaN, `±1`
/// and the `y` fdlibm treats apart (`±1`, `2`, `0.5`), odd and even integers of either sign up
/// to the last odd ones (`2^53 - 1`, `2^24 - 1` for `f32`) and beyond, non-integers, the
/// extremes and the smallest subnormals, the floats next to 1, and the thresholds of `y log2 |x|`.
pub const POW_SPECIALS: [f64; 38] = [
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    1.0,
    -1.0,
    0.5,
    -0.5,
    2.0,
    -2.0,
    3.0,
    -3.0,
    1.5,
    -1.5,
    0.25,
    10.0,
    f64::MAX,
    -f64::MAX,
    f64::MIN_POSITIVE,
    -f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    f32::MAX as f64,
    -(f32::MAX as f64),
    1.401298464324817e-45,
    1.1754943508222875e-38,
    9007199254740991.0,
    -9007199254740991.0,
    9007199254740992.0,
    16777215.0,
    -16777215.0,
    2147483649.0,
    1.0 - 1.1102230246251565e-16,
    1.0 + 2.220446049250313e-16,
    1024.0,
    -1075.0,
    -149.5,
];
