//! The `f64` references of the inverse trigonometric and hyperbolic functions: one Newton step
//! from `libm`'s value in double-double (on `trig_ref.rs`'s `sin` and `cos`, or on `log_dd`),
//! short series near 0, the logarithm's asymptote for huge arguments.

use super::trig_ref::{ref_cos, ref_sin};
use super::{add, dd, div, ldexp, log_dd, mul, two_sum, Dd, Reference};

const LN2: Dd = Dd(std::f64::consts::LN_2, 2.3190468138462996e-17);

fn neg(a: Dd) -> Dd {
    Dd(-a.0, -a.1)
}

fn sub(a: Dd, b: Dd) -> Dd {
    add(a, neg(b))
}

/// `sqrt a` in double-double.
fn sqrt(a: Dd) -> Dd {
    let s = a.0.sqrt();
    if s == 0.0 {
        return dd(0.0);
    }
    let r = sub(a, mul(dd(s), dd(s)));
    add(dd(s), dd(r.0 / (2.0 * s)))
}

/// `asin x = y0 + (x - sin y0) / cos y0`.
pub fn ref_asin(x: f64) -> Reference {
    if x.abs() < 1e-5 {
        let x3 = x * x * x;
        return (add(two_sum(x, x3 / 6.0), dd(3.0 * x3 * x * x / 40.0)), 0);
    }
    let y0 = libm::asin(x);
    let (s, c) = (ref_sin(y0).0, ref_cos(y0).0);
    (add(dd(y0), div(sub(dd(x), s), c)), 0)
}

/// `acos x = y0 + (cos y0 - x) / sin y0`.
pub fn ref_acos(x: f64) -> Reference {
    let y0 = libm::acos(x);
    let (s, c) = (ref_sin(y0).0, ref_cos(y0).0);
    (add(dd(y0), div(sub(c, dd(x)), s)), 0)
}

/// `atan2(y, x) = z0 + d`, `d = tan(atan2(y, x) - z0) = (y cos z0 - x sin z0) / (x cos z0 + y sin z0)`
/// (the operands scaled by a power of two that keeps the products finite); `y / x` where that is
/// below `2^-500` and `x` positive (`sin z0` would lose bits below the normal range).
pub fn ref_atan2(y: f64, x: f64) -> Reference {
    let z0 = libm::atan2(y, x);
    if z0.abs() < 2f64.powi(-500) && x > 0.0 {
        return (div(dd(y), dd(x)), 0);
    }
    let m = y.abs().max(x.abs());
    let k = if m > 2f64.powi(500) {
        -600
    } else if m < 2f64.powi(-500) {
        600
    } else {
        0
    };
    let (y, x) = (ldexp(y, k), ldexp(x, k));
    let (s, c) = (ref_sin(z0).0, ref_cos(z0).0);
    let num = sub(mul(dd(y), c), mul(dd(x), s));
    let den = add(mul(dd(x), c), mul(dd(y), s));
    (add(dd(z0), div(num, den)), 0)
}

/// `ln v` for `v` in double-double.
fn ln(v: Dd) -> Dd {
    log_dd(libm::log(v.0), v)
}

/// `asinh |x| = ln(|x| + sqrt(x^2 + 1))`, odd.
pub fn ref_asinh(x: f64) -> Reference {
    let ax = x.abs();
    let v = if ax < 1e-5 {
        let x3 = ax * ax * ax;
        add(two_sum(ax, -x3 / 6.0), dd(3.0 * x3 * ax * ax / 40.0))
    } else if ax > 2f64.powi(500) {
        add(ln(dd(ax)), LN2)
    } else {
        ln(add(dd(ax), sqrt(add(mul(dd(ax), dd(ax)), dd(1.0)))))
    };
    (if x < 0.0 { neg(v) } else { v }, 0)
}

/// `acosh x = ln(x + sqrt(x^2 - 1))`.
pub fn ref_acosh(x: f64) -> Reference {
    if x > 2f64.powi(500) {
        return (add(ln(dd(x)), LN2), 0);
    }
    (ln(add(dd(x), sqrt(sub(mul(dd(x), dd(x)), dd(1.0))))), 0)
}

/// `atanh x = ln((1 + x) / (1 - x)) / 2`, odd.
pub fn ref_atanh(x: f64) -> Reference {
    let ax = x.abs();
    let v = if ax < 1e-5 {
        let x3 = ax * ax * ax;
        add(two_sum(ax, x3 / 3.0), dd(x3 * ax * ax / 5.0))
    } else {
        let l = ln(div(two_sum(1.0, ax), two_sum(1.0, -ax)));
        Dd(l.0 * 0.5, l.1 * 0.5)
    };
    (if x < 0.0 { neg(v) } else { v }, 0)
}
