//! The `f64` references of the inverse trigonometric and hyperbolic functions: one Newton step
//! from `libm`'s value in double-double (on `trig_ref.rs`'s `sin` and `cos`, or on `log_dd`),
//! short series near 0, the logarithm's asymptote for huge arguments.

use super::trig_ref::{ref_cos, ref_sin};
use super::{add, dd, div, two_sum, Dd, Reference};

fn neg(a: Dd) -> Dd {
    Dd(-a.0, -a.1)
}

fn sub(a: Dd, b: Dd) -> Dd {
    add(a, neg(b))
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
