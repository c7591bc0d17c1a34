//! The `f64` reference of `erf`: its Taylor series in double-double up to 3 (terms below
//! 2^10, about 95 correct bits), beyond it (to 30; then 1) `1 - erfc`, `erfc` from its continued fraction (in
//! `f64`, about 50 bits: `erfc` is below 2^-15 there) and `e^(-x^2)` in double-double.

use super::{add, dd, div, exp_parts, ldexp, mul, Dd, Reference};

/// `2 / sqrt(pi)` and `sqrt(pi)` in double-double.
const TWO_OVER_SQRT_PI: Dd = Dd(std::f64::consts::FRAC_2_SQRT_PI, 1.533545961316588e-17);
const SQRT_PI: Dd = Dd(1.772453850905516, -7.666586499825799e-17);

/// `erf |x|` for `|x| <= 3`, scaled by `2^scale`.
fn series(ax: f64, scale: i32) -> Dd {
    let x = dd(ldexp(ax, scale));
    let x2 = mul(dd(ax), dd(ax));
    let (mut term, mut sum) = (x, x);
    for n in 1..200 {
        term = div(mul(term, Dd(-x2.0, -x2.1)), dd(n as f64));
        let t = div(term, dd((2 * n + 1) as f64));
        sum = add(sum, t);
        if t.0.abs() < sum.0.abs() * 2f64.powi(-110) {
            break;
        }
    }
    mul(sum, TWO_OVER_SQRT_PI)
}

/// `erfc x` for `x > 3`.
fn erfc_far(x: f64) -> Dd {
    let mut t = x;
    for n in (1..=300).rev() {
        t = x + (n as f64 / 2.0) / t;
    }
    let x2 = mul(dd(x), dd(x));
    let (y, k) = exp_parts(-x2.0);
    let e = add(dd(1.0), y);
    // e^(-x2.1), |x2.1| below 2^-40: 1 - x2.1.
    let e = mul(e, add(dd(1.0), dd(-x2.1)));
    let e = Dd(ldexp(e.0, k), ldexp(e.1, k));
    div(e, mul(SQRT_PI, dd(t)))
}

pub fn ref_erf(x: f64) -> Reference {
    let ax = x.abs();
    let (v, k) = if ax < 1e-100 {
        (series(ax, 600), -600)
    } else if ax <= 3.0 {
        (series(ax, 0), 0)
    } else if ax > 30.0 {
        // erfc below 2^-1300.
        (dd(1.0), 0)
    } else {
        let e = erfc_far(ax);
        (add(dd(1.0), Dd(-e.0, -e.1)), 0)
    };
    (if x < 0.0 { Dd(-v.0, -v.1) } else { v }, k)
}
