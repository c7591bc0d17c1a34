//! Accuracy of the real transcendentals (`array/vmath`: the interpreter's kernels, and the
//! JIT's inline code, which agrees with them bit for bit; checked here on vector lanes and on
//! the scalar remainder, for the rows lowered `Polynomial`), over 10^6 points a function and precision
//! spread over the whole domain: random bit patterns (every binade, subnormals included),
//! uniform draws over the working range, points near 0, near 1 and near the overflow and
//! underflow thresholds; for `sin`, `cos`, `tan`, the floats nearest multiples of `pi/2`, both sides
//! of the bound of the fast reduction, and huge arguments.
//!
//! References: for `f32`, the `libm` crate's `f64` function at the (exact) `f32` argument,
//! unrounded (its error, under one `f64` ulp, is 2^-29 of an `f32` ulp); for `f64`, a
//! double-double evaluation written here (about 100 correct bits): `exp` by reduction to
//! `[-ln2/2, ln2/2]`, ten halvings and a Taylor series in double-double; `log` and `log1p` by
//! one Newton step on it from `libm`'s value; `expm1` and `tanh` from the same series; `sin`,
//! `cos` and `tan` by an exact reduction in integers and their series (`trig_ref.rs`, itself
//! checked against `libm`); `atan` by one Newton step from `libm`'s value on those `sin` and
//! `cos`; `asin`, `acos` and `atan2` likewise (`inverse_ref.rs`); `asinh`, `acosh` and `atanh` by their
//! logarithms in double-double (`inverse_ref.rs`, on the Newton step of `log`), series near 0;
//! `erf` by its series and continued fraction (`erf_ref.rs`, checked against `libm`); `pow` as
//! `e^(y ln |x|)` with the logarithm's Newton step and the product in double-double
//! (`pow_ref.rs`).
//! Errors are in units of the last place of the true value (the subnormal ulp below the normal
//! range). Bounds: `exp`, `log`, `sin`, `cos`, `atan`, `asin`, `acos`, `pow` 1 ulp; `tan`, `expm1`,
//! `log1p`, `tanh`, `erf`, `asinh`, `acosh`, `atanh`, `atan2` 2 ulp. The binary rows
//! (`atan2`, `pow`) run on pairs: every pair of special arguments (libm's value exactly where one
//! is a zero, an infinity or NaN, or where libm's value is one), every pair of binades, and the edges
//! of their reductions (for `pow`, `y log2 |x|` up to both thresholds, `x` near `±1`, negative
//! `x` with integer `y`).

use cranegrad::internals::{interp, jit, Data, Num, RealNum};
use cranegrad::ir::{BinaryOp, Graph, Lowering, Op, UnaryOp};
use cranegrad::DType;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

#[path = "transcendental_ulps/erf_ref.rs"]
mod erf_ref;
#[path = "transcendental_ulps/inverse_ref.rs"]
mod inverse_ref;
#[path = "transcendental_ulps/pow_ref.rs"]
mod pow_ref;
#[path = "transcendental_ulps/trig_ref.rs"]
mod trig_ref;

const POINTS: usize = 1_000_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

// ---- double-double ----

#[derive(Copy, Clone, Debug)]
struct Dd(f64, f64);

fn two_sum(a: f64, b: f64) -> Dd {
    let s = a + b;
    let bb = s - a;
    Dd(s, (a - (s - bb)) + (b - bb))
}

fn add(a: Dd, b: Dd) -> Dd {
    let s = two_sum(a.0, b.0);
    let t = two_sum(a.1, b.1);
    let s = two_sum(s.0, s.1 + t.0);
    two_sum(s.0, s.1 + t.1)
}

fn mul(a: Dd, b: Dd) -> Dd {
    let p = a.0 * b.0;
    let e = a.0.mul_add(b.0, -p);
    two_sum(p, e + (a.0 * b.1 + a.1 * b.0))
}

fn div(a: Dd, b: Dd) -> Dd {
    let q1 = a.0 / b.0;
    let r = add(a, mul(b, Dd(-q1, 0.0)));
    let q2 = r.0 / b.0;
    let r = add(r, mul(b, Dd(-q2, 0.0)));
    let q3 = r.0 / b.0;
    add(two_sum(q1, q2), Dd(q3, 0.0))
}

fn dd(x: f64) -> Dd {
    Dd(x, 0.0)
}

/// `x 2^n`, exactly for a result in range.
fn ldexp(x: f64, n: i32) -> f64 {
    let h = n / 2;
    x * 2f64.powi(h) * 2f64.powi(n - h)
}

/// `e^x = (1 + y) 2^k`, `y` in double-double (accurate as `expm1` when `k = 0`).
fn exp_parts(x: f64) -> (Dd, i32) {
    if x.abs() < 1e-200 {
        // Below the halvings' reach (they would make it subnormal): x + x^2 / 2 is exact enough.
        return (two_sum(x, x * x * 0.5), 0);
    }
    const LN2: [f64; 3] = [std::f64::consts::LN_2, 2.3190468138462996e-17, 5.707708438416212e-34];
    let k = (x / LN2[0]).round();
    let r = add(add(dd(x), mul(Dd(LN2[0], LN2[1]), dd(-k))), dd(-k * LN2[2]));
    let r = Dd(r.0 / 1024.0, r.1 / 1024.0);
    // expm1(r) by Taylor: r + r^2/2 + ...
    let mut term = r;
    let mut y = r;
    for n in 2..16 {
        term = div(mul(term, r), dd(n as f64));
        y = add(y, term);
    }
    // expm1(2r) = 2 y + y^2, ten times.
    for _ in 0..10 {
        y = add(add(y, y), mul(y, y));
    }
    (y, k as i32)
}

/// `ln v` for `v` in double-double from `y0`, a close `f64` value of it: one Newton step,
/// `ln v = y0 + ln(v e^-y0) = y0 + w - w^2 / 2` with `w = v e^-y0 - 1`.
fn log_dd(y0: f64, one_plus: Dd) -> Dd {
    let (y, k) = exp_parts(-y0);
    let s = Dd(ldexp(one_plus.0, k), ldexp(one_plus.1, k));
    let w = add(add(dd(s.0 - 1.0), dd(s.1)), mul(s, y));
    let w = add(w, mul(mul(w, w), dd(-0.5)));
    add(dd(y0), w)
}

/// A reference `(m, k)`: the value `m 2^k`.
type Reference = (Dd, i32);

fn ref_exp(x: f64) -> Reference {
    let (y, k) = exp_parts(x);
    (add(dd(1.0), y), k)
}

fn ref_expm1(x: f64) -> Reference {
    if x < -50.0 {
        // -1 + e^x, e^x below 2^-70 of the result.
        return (dd(-1.0), 0);
    }
    let (y, k) = exp_parts(x);
    if k == 0 {
        return (y, 0);
    }
    let e = add(dd(1.0), y);
    (add(Dd(ldexp(e.0, k), ldexp(e.1, k)), dd(-1.0)), 0)
}

fn ref_log(x: f64) -> Reference {
    (log_dd(libm::log(x), dd(x)), 0)
}

fn ref_log1p(x: f64) -> Reference {
    (log_dd(libm::log1p(x), two_sum(1.0, x)), 0)
}

fn ref_tanh(x: f64) -> Reference {
    if x.abs() > 20.0 {
        return (dd(x.signum()), 0);
    }
    let (y, k) = exp_parts(2.0 * x);
    let em1 = if k == 0 {
        y
    } else {
        let e = add(dd(1.0), y);
        add(Dd(ldexp(e.0, k), ldexp(e.1, k)), dd(-1.0))
    };
    (div(em1, add(em1, dd(2.0))), 0)
}

/// The error of `got` against `m 2^k`, in ulps of the true value in a format of `mant`
/// mantissa bits and least normal exponent `emin`.
fn ulps(got: f64, (m, k): Reference, mant: i32, emin: i32) -> f64 {
    if m.0 == 0.0 {
        return if got == 0.0 { 0.0 } else { f64::INFINITY };
    }
    let e = m.0.abs().log2().floor() as i32 + k;
    let ulp_exp = e.max(emin) - mant;
    let scaled = ldexp(got, -k);
    let diff = (scaled - m.0) - m.1;
    ldexp(diff.abs(), k - ulp_exp)
}

struct Case {
    name: &'static str,
    /// The row (`None`: a composition of rows).
    op: Option<UnaryOp>,
    bound: f64,
    f64: fn(f64) -> f64,
    f32: fn(f32) -> f32,
    reference: fn(f64) -> Reference,
    libm: fn(f64) -> f64,
    points: fn(&mut Rng, bool) -> f64,
}

/// A random finite float of either sign (every binade alike), as an f32 when `single`.
fn any_bits(rng: &mut Rng, single: bool) -> f64 {
    loop {
        let x = if single { f32::from_bits(rng.next() as u32) as f64 } else { f64::from_bits(rng.next()) };
        if x.is_finite() {
            return x;
        }
    }
}

fn exp_points(rng: &mut Rng, single: bool) -> f64 {
    let (lo, hi) = if single { (-104.0, 89.0) } else { (-746.0, 710.0) };
    match rng.next() % 4 {
        0 => rng.uniform(lo, hi),
        1 => rng.uniform(-2.0, 2.0),
        2 => any_bits(rng, single),
        _ => {
            let edge = [lo + 0.5, hi - 1.0, lo + 11.0, if single { -87.3 } else { -708.4 }][(rng.next() % 4) as usize];
            edge + rng.uniform(-1.0, 1.0)
        }
    }
}

fn log_points(rng: &mut Rng, single: bool) -> f64 {
    match rng.next() % 3 {
        0 => any_bits(rng, single).abs(),
        1 => 1.0 + rng.uniform(-0.5, 0.5) * 2f64.powi(-((rng.next() % 40) as i32)),
        _ => rng.uniform(0.0, 4.0),
    }
}

fn log1p_points(rng: &mut Rng, single: bool) -> f64 {
    match rng.next() % 4 {
        0 => any_bits(rng, single).abs(),
        1 => -any_bits(rng, single).abs().min(1.0),
        2 => rng.uniform(-1.0, 3.0),
        _ => -1.0 + rng.unit() * 2f64.powi(-((rng.next() % 50) as i32)),
    }
}

fn expm1_points(rng: &mut Rng, single: bool) -> f64 {
    let hi = if single { 89.0 } else { 710.0 };
    match rng.next() % 4 {
        0 => rng.uniform(-60.0, hi),
        1 => rng.uniform(-2.0, 2.0),
        2 => {
            let x = any_bits(rng, single);
            x.min(hi)
        }
        _ => rng.uniform(-1.0, 1.0) * 2f64.powi(-((rng.next() % 60) as i32)),
    }
}

fn tanh_points(rng: &mut Rng, single: bool) -> f64 {
    match rng.next() % 3 {
        0 => rng.uniform(-25.0, 25.0),
        1 => rng.uniform(-1.0, 1.0),
        _ => any_bits(rng, single),
    }
}

/// The working range of `sin` and `cos` around the bound of their fast reduction, points near
/// multiples of `pi/2` (the cancellations), every binade (mostly huge arguments) and small ones.
fn trig_points(rng: &mut Rng, single: bool) -> f64 {
    let (bound, quarters) = if single { (6433.0, 4096) } else { (1647099.0, 1 << 20) };
    let sign = if rng.next() % 2 == 0 { 1.0 } else { -1.0 };
    sign * match rng.next() % 6 {
        0 => rng.uniform(0.0, 10.0),
        1 => rng.uniform(0.0, bound),
        2 => any_bits(rng, single).abs(),
        3 => {
            // The float nearest k pi/2, or a few ulps off it.
            let k = (rng.next() % quarters) as f64;
            let x = k * std::f64::consts::FRAC_PI_2;
            let steps = (rng.next() % 7) as i64 - 3;
            if single {
                f32::from_bits(((x as f32).to_bits() as i64 + steps) as u32) as f64
            } else {
                f64::from_bits((x.to_bits() as i64 + steps) as u64)
            }
        }
        4 => bound * (1.0 + rng.uniform(-0.01, 0.01)),
        _ => rng.unit() * 2f64.powi(-((rng.next() % 40) as i32)),
    }
}

/// Every binade, the working range, and both sides of each bound of `atan`'s reductions.
fn atan_points(rng: &mut Rng, single: bool) -> f64 {
    let sign = if rng.next() % 2 == 0 { 1.0 } else { -1.0 };
    sign * match rng.next() % 4 {
        0 => any_bits(rng, single).abs(),
        1 => rng.uniform(0.0, 4.0),
        2 => [0.4375, 0.6875, 1.1875, 2.4375][(rng.next() % 4) as usize] * (1.0 + rng.uniform(-1e-3, 1e-3)),
        _ => rng.unit() * 2f64.powi(((rng.next() % 80) as i32) - 40),
    }
}

/// Every binade, the working range, both sides of each bound of `erf`'s intervals, and tiny
/// arguments.
fn erf_points(rng: &mut Rng, single: bool) -> f64 {
    let sign = if rng.next() % 2 == 0 { 1.0 } else { -1.0 };
    sign * match rng.next() % 4 {
        0 => any_bits(rng, single).abs(),
        1 => rng.uniform(0.0, 6.5),
        2 => [0.84375, 1.25, 1.0 / 0.35, 6.0][(rng.next() % 4) as usize] * (1.0 + rng.uniform(-1e-3, 1e-3)),
        _ => rng.unit() * 2f64.powi(-((rng.next() % 60) as i32)),
    }
}

/// Every binade (beyond `|x| = 1` too: NaN), the working range, both sides of `0.5` and
/// `0.975` (where the reductions change), arguments approaching `±1`, and tiny ones.
fn asin_points(rng: &mut Rng, single: bool) -> f64 {
    let sign = if rng.next() % 2 == 0 { 1.0 } else { -1.0 };
    sign * match rng.next() % 5 {
        0 => any_bits(rng, single).abs(),
        1 => rng.uniform(0.0, 1.0),
        2 => [0.5, 0.975, 1.0][(rng.next() % 3) as usize] * (1.0 + rng.uniform(-1e-3, 1e-3)),
        3 => 1.0 - rng.unit() * 2f64.powi(-((rng.next() % 54) as i32)),
        _ => rng.unit() * 2f64.powi(-((rng.next() % 60) as i32)),
    }
}

/// `libm`'s `acosh`, NaN below 1 (where the crate's, musl's, reads the exponent without the
/// sign and returns a number for some negative arguments).
fn libm_acosh(x: f64) -> f64 {
    if x < 1.0 {
        f64::NAN
    } else {
        libm::acosh(x)
    }
}

/// The bounds of `asinh`'s and `acosh`'s intervals (`2`, `huge`), and `tiny`.
fn hyperbolic_edges(single: bool) -> [f64; 3] {
    if single {
        [2.0, 4096.0, 2f64.powi(-12)]
    } else {
        [2.0, 2f64.powi(28), 2f64.powi(-28)]
    }
}

/// Every binade, the working range, both sides of each bound of the intervals, tiny arguments.
fn asinh_points(rng: &mut Rng, single: bool) -> f64 {
    let sign = if rng.next() % 2 == 0 { 1.0 } else { -1.0 };
    sign * match rng.next() % 4 {
        0 => any_bits(rng, single).abs(),
        1 => rng.uniform(0.0, 4.0),
        2 => hyperbolic_edges(single)[(rng.next() % 3) as usize] * (1.0 + rng.uniform(-1e-3, 1e-3)),
        _ => rng.unit() * 2f64.powi(-((rng.next() % 60) as i32)),
    }
}

/// Every binade (below 1 too: NaN), the working range, arguments approaching 1, both sides of
/// each bound of the intervals.
fn acosh_points(rng: &mut Rng, single: bool) -> f64 {
    match rng.next() % 4 {
        0 => any_bits(rng, single),
        1 => rng.uniform(1.0, 4.0),
        2 => 1.0 + rng.unit() * 2f64.powi(-((rng.next() % 54) as i32)),
        _ => hyperbolic_edges(single)[(rng.next() % 2) as usize] * (1.0 + rng.uniform(-1e-3, 1e-3)),
    }
}

/// Every binade (beyond `|x| = 1` too: NaN), the working range, both sides of 0.5 and of
/// `tiny`, arguments approaching `±1`.
fn atanh_points(rng: &mut Rng, single: bool) -> f64 {
    let sign = if rng.next() % 2 == 0 { 1.0 } else { -1.0 };
    sign * match rng.next() % 5 {
        0 => any_bits(rng, single).abs(),
        1 => rng.uniform(0.0, 1.0),
        2 => [0.5, hyperbolic_edges(single)[2]][(rng.next() % 2) as usize] * (1.0 + rng.uniform(-1e-3, 1e-3)),
        3 => 1.0 - rng.unit() * 2f64.powi(-((rng.next() % 54) as i32)),
        _ => rng.unit() * 2f64.powi(-((rng.next() % 60) as i32)),
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "exp",
            op: Some(UnaryOp::Exp),
            bound: 1.0,
            f64: Num::exp,
            f32: Num::exp,
            reference: ref_exp,
            libm: libm::exp,
            points: exp_points,
        },
        Case {
            name: "log",
            op: Some(UnaryOp::Log),
            bound: 1.0,
            f64: Num::ln,
            f32: Num::ln,
            reference: ref_log,
            libm: libm::log,
            points: log_points,
        },
        Case {
            name: "sin",
            op: Some(UnaryOp::Sin),
            bound: 1.0,
            f64: Num::sin,
            f32: Num::sin,
            reference: trig_ref::ref_sin,
            libm: libm::sin,
            points: trig_points,
        },
        Case {
            name: "cos",
            op: Some(UnaryOp::Cos),
            bound: 1.0,
            f64: Num::cos,
            f32: Num::cos,
            reference: trig_ref::ref_cos,
            libm: libm::cos,
            points: trig_points,
        },
        Case {
            name: "tan",
            op: Some(UnaryOp::Tan),
            bound: 2.0,
            f64: Num::tan,
            f32: Num::tan,
            reference: trig_ref::ref_tan,
            libm: libm::tan,
            points: trig_points,
        },
        Case {
            name: "expm1",
            op: Some(UnaryOp::Expm1),
            bound: 2.0,
            f64: Num::exp_m1,
            f32: Num::exp_m1,
            reference: ref_expm1,
            libm: libm::expm1,
            points: expm1_points,
        },
        Case {
            name: "log1p",
            op: Some(UnaryOp::Log1p),
            bound: 2.0,
            f64: Num::ln_1p,
            f32: Num::ln_1p,
            reference: ref_log1p,
            libm: libm::log1p,
            points: log1p_points,
        },
        Case {
            name: "tanh",
            op: Some(UnaryOp::Tanh),
            bound: 2.0,
            f64: Num::tanh,
            f32: Num::tanh,
            reference: ref_tanh,
            libm: libm::tanh,
            points: tanh_points,
        },
        Case {
            name: "atan",
            op: Some(UnaryOp::Atan),
            bound: 1.0,
            f64: Num::atan,
            f32: Num::atan,
            reference: trig_ref::ref_atan,
            libm: libm::atan,
            points: atan_points,
        },
        Case {
            name: "asin",
            op: Some(UnaryOp::Asin),
            bound: 1.0,
            f64: Num::asin,
            f32: Num::asin,
            reference: inverse_ref::ref_asin,
            libm: libm::asin,
            points: asin_points,
        },
        Case {
            name: "acos",
            op: Some(UnaryOp::Acos),
            bound: 1.0,
            f64: Num::acos,
            f32: Num::acos,
            reference: inverse_ref::ref_acos,
            libm: libm::acos,
            points: asin_points,
        },
        Case {
            name: "asinh",
            op: Some(UnaryOp::Asinh),
            bound: 2.0,
            f64: Num::asinh,
            f32: Num::asinh,
            reference: inverse_ref::ref_asinh,
            libm: libm::asinh,
            points: asinh_points,
        },
        Case {
            name: "acosh",
            op: Some(UnaryOp::Acosh),
            bound: 2.0,
            f64: Num::acosh,
            f32: Num::acosh,
            reference: inverse_ref::ref_acosh,
            libm: libm_acosh,
            points: acosh_points,
        },
        Case {
            name: "atanh",
            op: Some(UnaryOp::Atanh),
            bound: 2.0,
            f64: Num::atanh,
            f32: Num::atanh,
            reference: inverse_ref::ref_atanh,
            libm: libm::atanh,
            points: atanh_points,
        },
        Case {
            name: "erf",
            op: Some(UnaryOp::Erf),
            bound: 2.0,
            f64: RealNum::erf,
            f32: RealNum::erf,
            reference: erf_ref::ref_erf,
            libm: libm::erf,
            points: erf_points,
        },
    ]
}

/// Special arguments, checked first: zeros, infinities, NaN, the extremes and the smallest
/// subnormals, and the thresholds of overflow and underflow of each function and precision.
const SPECIALS: [f64; 32] = [
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    -f64::NAN,
    f64::MAX,
    -f64::MAX,
    f64::MIN_POSITIVE,
    -f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    1e-310,
    1.0,
    -1.0,
    709.782_712_893_384,
    709.782712893384,
    -745.133_219_101_941_1,
    -745.1332191019412,
    -708.396_418_532_264_1,
    88.72283935546875,
    88.7228317260742,
    -103.97208404541016,
    -103.972084,
    -87.33654022216797,
    1.401298464324817e-45,
    1.1754943508222875e-38,
    f32::MAX as f64,
    -(f32::MAX as f64),
    0.5,
    // The double closest to a multiple of pi/2 (6381956970095103 2^797, 2^-61 off), and pi/2.
    5.319_372_648_326_541e255,
    std::f64::consts::FRAC_PI_2,
];

/// Both values are NaN, or they are the same float (zeros by sign), or both overflow alike.
fn same_special(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan()) || got.to_bits() == want.to_bits()
}

fn worst(c: &Case, single: bool) -> (f64, f64) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ c.name.len() as u64 ^ single as u64);
    let (mut worst, mut at) = (0.0f64, 0.0f64);
    for x in SPECIALS.iter().copied().map(Some).chain(std::iter::repeat_n(None, POINTS)) {
        let x = x.unwrap_or_else(|| (c.points)(&mut rng, single));
        let err = if single {
            let x = x as f32;
            let got = (c.f32)(x);
            let want = (c.libm)(x as f64);
            if !want.is_finite() || want == 0.0 || want.abs() > f32::MAX as f64 * (1.0 + 2f64.powi(-25)) {
                assert!(
                    same_special(got as f64, (want as f32) as f64),
                    "{}({x:e}) f32 = {got:e}, want {want:e}",
                    c.name
                );
                continue;
            }
            ulps(got as f64, (dd(want), 0), 23, -126)
        } else {
            let got = (c.f64)(x);
            // Infinities, NaN, zeros, overflow and underflow: libm's value, exactly.
            let lib = (c.libm)(x);
            if !lib.is_finite() || lib == 0.0 {
                assert!(same_special(got, lib), "{}({x:e}) f64 = {got:e}, want {lib:e}", c.name);
                continue;
            }
            let want = (c.reference)(x);
            ulps(got, want, 52, -1022)
        };
        if err > worst || err.is_nan() {
            (worst, at) = (err, x);
        }
    }
    (worst, at)
}

/// Graph `g` compiled (no host call, vector loops of `f32x4` if `single`, else `f64x2`) gives
/// the interpreter's bits on `inputs`; `name` and `d` label the failure.
fn compiled_agrees(g: &Graph, inputs: &[Arc<Data>], name: &str, d: DType, single: bool) {
    let want = interp::run(g, inputs).unwrap();
    let compiled = jit::compile(g).unwrap();
    let text = compiled.clif_text();
    assert!(!text.contains("call"), "{name}: a host call");
    assert!(text.contains(if single { "f32x4" } else { "f64x2" }), "{name}: no vector loop");
    let got = compiled.run(inputs).unwrap();
    let bits = |d: &Data| -> Vec<u64> {
        match d {
            Data::F32(a) => a.iter().map(|v| v.to_bits() as u64).collect(),
            Data::F64(a) => a.iter().map(|v| v.to_bits()).collect(),
            _ => unreachable!(),
        }
    };
    let (w, h) = (bits(&want[0]), bits(&got[0]));
    let bad = w.iter().zip(&h).position(|(a, b)| a != b);
    assert!(
        bad.is_none(),
        "{name} {d}: JIT and interpreter differ at element {bad:?}: {:x?}",
        bad.map(|i| (w[i], h[i]))
    );
}

/// The JIT's code (vector lanes and the scalar remainder) against the interpreter, bit for bit.
fn jit_agrees(c: &Case, op: UnaryOp, single: bool) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ c.name.len() as u64);
    let n = 4099;
    let mut xs: Vec<f64> = SPECIALS.to_vec();
    xs.extend((SPECIALS.len()..n).map(|_| (c.points)(&mut rng, single)));
    let (d, data) = if single {
        (DType::F32, Data::F32(ArrayD::from_shape_vec(IxDyn(&[n]), xs.iter().map(|&x| x as f32).collect()).unwrap()))
    } else {
        (DType::F64, Data::F64(ArrayD::from_shape_vec(IxDyn(&[n]), xs).unwrap()))
    };
    let mut g = Graph::new();
    let x = g.input(0, d, &[n]);
    let y = g.push(Op::Unary(op), vec![x], 0).unwrap();
    g.outputs = vec![y];
    let inputs = [Arc::new(data)];
    compiled_agrees(&g, &inputs, c.name, d, single);
}

#[test]
fn compiled_transcendentals_match_the_interpreter_bit_for_bit() {
    for c in cases() {
        let Some(op) = c.op.filter(|op| op.lowering(false) == Lowering::Polynomial) else { continue };
        jit_agrees(&c, op, false);
        jit_agrees(&c, op, true);
    }
}

#[test]
fn transcendentals_within_their_ulp_bounds() {
    let mut report = Vec::new();
    let mut failed = false;
    for c in cases() {
        for single in [false, true] {
            let (w, at) = worst(&c, single);
            let ok = w <= c.bound;
            failed |= !ok;
            report.push(format!(
                "{:6} {}: worst {w:.3} ulp at {at:e} (bound {}){}",
                c.name,
                if single { "f32" } else { "f64" },
                c.bound,
                if ok { "" } else { "  FAILED" }
            ));
        }
    }
    println!("{}", report.join("\n"));
    assert!(!failed, "{}", report.join("\n"));
}

/// The `f64` reference of `sin` and `cos` (`trig_ref.rs`) against the `libm` crate's (within
/// 1 ulp of the truth): they agree within 1 ulp over the points of the accuracy test, huge
/// arguments and the closest to multiples of `pi/2` included.
#[test]
fn trig_reference_agrees_with_libm() {
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    for x in
        SPECIALS.iter().copied().filter(|x| x.is_finite()).chain((0..100_000).map(|_| trig_points(&mut rng, false)))
    {
        for (name, lib, reference) in [
            ("sin", libm::sin as fn(f64) -> f64, trig_ref::ref_sin as fn(f64) -> Reference),
            ("cos", libm::cos, trig_ref::ref_cos),
        ] {
            let (got, want) = (lib(x), reference(x));
            let err = ulps(got, want, 52, -1022);
            assert!(err <= 1.0, "{name}({x:e}): libm {got:e} is {err} ulp from the reference {want:?}");
        }
    }
}

/// The `f64` reference of `erf` (`erf_ref.rs`) against the `libm` crate's (within 1 ulp of the
/// truth): they agree within 1 ulp over the points of the accuracy test.
#[test]
fn erf_reference_agrees_with_libm() {
    let mut rng = Rng(0x1405_7b7e_f767_814f);
    for x in SPECIALS
        .iter()
        .copied()
        .filter(|x| x.is_finite() && *x != 0.0)
        .chain((0..100_000).map(|_| erf_points(&mut rng, false)))
    {
        let (got, want) = (libm::erf(x), erf_ref::ref_erf(x));
        let err = ulps(got, want, 52, -1022);
        assert!(err <= 1.0, "erf({x:e}): libm {got:e} is {err} ulp from the reference {want:?}");
    }
}

/// Every positive `f32` (`sin` and `tan` are odd and `cos` even in every operation of the
/// algorithm, so the negative ones give the same errors): `sin` and `cos` within 1 ulp of
/// `libm`'s `f64` value, `tan` within 2. About six billion evaluations: `cargo test --release
/// --test transcendental_ulps -- --ignored`.
#[test]
#[ignore]
fn sin_cos_tan_f32_exhaustive() {
    let mut worst = [(0.0f64, 0.0f32); 3];
    let fs = [(Num::sin as fn(f32) -> f32, libm::sin as fn(f64) -> f64), (Num::cos, libm::cos), (Num::tan, libm::tan)];
    for b in 0..0x7f80_0000u32 {
        let x = f32::from_bits(b);
        for (w, (f, lib)) in worst.iter_mut().zip(fs) {
            let err = ulps(f(x) as f64, (dd(lib(x as f64)), 0), 23, -126);
            if err > w.0 {
                *w = (err, x);
            }
        }
    }
    for (name, (err, at)) in ["sin", "cos", "tan"].iter().zip(worst) {
        println!("{name} f32: worst {err:.3} ulp at {at:e}");
    }
    assert!(worst[0].0 <= 1.0 && worst[1].0 <= 1.0 && worst[2].0 <= 2.0, "{worst:?}");
}

type F64Fn = fn(f64) -> f64;

/// The limits of `expm1`, `atan` and `erf` at the infinities and past their thresholds, and
/// `asin`, `acos` at the ends of their domain and at 0, `asinh`, `acosh`, `atanh` at their
/// poles, infinities and signed zeros, exactly (`libm`'s `f64` value, rounded
/// for `f32`: `atan` of a huge `f32` is `pi/2` rounded, where `libm`'s `atanf` gives the float
/// below).
#[test]
fn limits_are_exact() {
    let points: [(&str, f64); 24] = [
        ("expm1", f64::NEG_INFINITY),
        ("expm1", -800.0),
        ("expm1", -38.0),
        ("atan", f64::INFINITY),
        ("atan", f64::NEG_INFINITY),
        ("atan", -1e300),
        ("erf", f64::INFINITY),
        ("erf", f64::NEG_INFINITY),
        ("erf", 6.0),
        ("erf", -30.0),
        ("asin", 1.0),
        ("asin", -1.0),
        ("acos", 1.0),
        ("acos", -1.0),
        ("acos", 0.0),
        ("acos", -0.0),
        ("asinh", f64::INFINITY),
        ("asinh", f64::NEG_INFINITY),
        ("asinh", -0.0),
        ("acosh", f64::INFINITY),
        ("acosh", 1.0),
        ("atanh", 1.0),
        ("atanh", -1.0),
        ("atanh", -0.0),
    ];
    for (name, x) in points {
        let (f, g32, lib): (F64Fn, fn(f32) -> f32, F64Fn) = match name {
            "expm1" => (Num::exp_m1, Num::exp_m1, libm::expm1),
            "atan" => (Num::atan, Num::atan, libm::atan),
            "asin" => (Num::asin, Num::asin, libm::asin),
            "acos" => (Num::acos, Num::acos, libm::acos),
            "asinh" => (Num::asinh, Num::asinh, libm::asinh),
            "acosh" => (Num::acosh, Num::acosh, libm::acosh),
            "atanh" => (Num::atanh, Num::atanh, libm::atanh),
            _ => (RealNum::erf, RealNum::erf, libm::erf),
        };
        assert_eq!(f(x).to_bits(), lib(x).to_bits(), "{name}({x:e}) f64");
        let x32 = x as f32;
        assert_eq!(g32(x32).to_bits(), (lib(x32 as f64) as f32).to_bits(), "{name}({x32:e}) f32");
    }
}

/// A binary row's accuracy case: as [`Case`], on pairs.
struct BinaryCase {
    name: &'static str,
    op: BinaryOp,
    bound: f64,
    /// Every pair of these is checked first.
    specials: &'static [f64],
    f64: fn(f64, f64) -> f64,
    f32: fn(f32, f32) -> f32,
    reference: fn(f64, f64) -> Reference,
    libm: fn(f64, f64) -> f64,
    points: fn(&mut Rng, bool) -> (f64, f64),
}

/// The special arguments of a binary case: every pair of these.
const BINARY_SPECIALS: [f64; 16] = [
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    1.0,
    -1.0,
    0.5,
    -2.0,
    f64::MAX,
    -f64::MAX,
    f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    f32::MAX as f64,
    1.401298464324817e-45,
];

fn binary_specials(specials: &'static [f64]) -> Vec<(f64, f64)> {
    specials.iter().flat_map(|&a| specials.iter().map(move |&b| (a, b))).collect()
}

/// `(y, x)`: every pair of binades, the working range, ratios near the bounds of `atan`'s
/// reductions, near `big` (where every quadrant gives `pi/2`) and near its inverse, in all four
/// quadrants.
fn atan2_points(rng: &mut Rng, single: bool) -> (f64, f64) {
    let (sy, sx) = (if rng.next() % 2 == 0 { 1.0 } else { -1.0 }, if rng.next() % 2 == 0 { 1.0 } else { -1.0 });
    let big = if single { 2f64.powi(26) } else { 2f64.powi(60) };
    let (y, x) = match rng.next() % 4 {
        0 => (any_bits(rng, single).abs(), any_bits(rng, single).abs()),
        1 => (rng.uniform(0.0, 10.0), rng.uniform(0.0, 10.0)),
        2 => {
            let x = rng.uniform(0.5, 2.0) * 2f64.powi(((rng.next() % 40) as i32) - 20);
            let r = [0.4375, 0.6875, 1.1875, 2.4375, 1.0][(rng.next() % 5) as usize];
            (x * r * (1.0 + rng.uniform(-1e-3, 1e-3)), x)
        }
        _ => {
            let x = rng.uniform(0.5, 2.0) * 2f64.powi(((rng.next() % 40) as i32) - 20);
            let r = if rng.next() % 2 == 0 { big } else { 1.0 / big };
            (x * r * (1.0 + rng.uniform(-0.5, 0.5)), x)
        }
    };
    let (y, x) = if single { (y as f32 as f64, x as f32 as f64) } else { (y, x) };
    (sy * y, sx * x)
}

fn binary_cases() -> Vec<BinaryCase> {
    vec![
        BinaryCase {
            name: "atan2",
            op: BinaryOp::Atan2,
            bound: 2.0,
            specials: &BINARY_SPECIALS,
            f64: RealNum::atan2,
            f32: RealNum::atan2,
            reference: inverse_ref::ref_atan2,
            libm: libm::atan2,
            points: atan2_points,
        },
        BinaryCase {
            name: "pow",
            op: BinaryOp::Pow,
            bound: 1.0,
            specials: &pow_ref::POW_SPECIALS,
            f64: Num::pow,
            f32: Num::pow,
            reference: pow_ref::ref_pow,
            libm: libm::pow,
            points: pow_ref::pow_points,
        },
    ]
}

fn binary_worst(c: &BinaryCase, single: bool) -> (f64, (f64, f64)) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ c.name.len() as u64 ^ single as u64);
    let (mut worst, mut at) = (0.0f64, (0.0, 0.0));
    for p in binary_specials(c.specials).into_iter().map(Some).chain(std::iter::repeat_n(None, POINTS)) {
        let (a, b) = p.unwrap_or_else(|| (c.points)(&mut rng, single));
        // A zero, an infinity or NaN among the operands: libm's value, exactly (for atan2, the
        // quadrants' multiples of pi/4).
        let exceptional = |v: f64| v == 0.0 || !v.is_finite() || (single && (v as f32).is_infinite());
        if exceptional(a) || exceptional(b) {
            let (got, want) = if single {
                let (a, b) = (a as f32, b as f32);
                ((c.f32)(a, b) as f64, (c.libm)(a as f64, b as f64) as f32 as f64)
            } else {
                ((c.f64)(a, b), (c.libm)(a, b))
            };
            assert!(same_special(got, want), "{}({a:e}, {b:e}) single {single}: {got:e}, want {want:e}", c.name);
            continue;
        }
        let err = if single {
            let (a, b) = (a as f32, b as f32);
            let got = (c.f32)(a, b);
            let want = (c.libm)(a as f64, b as f64);
            if !want.is_finite() || want == 0.0 || want.abs() > f32::MAX as f64 * (1.0 + 2f64.powi(-25)) {
                assert!(
                    same_special(got as f64, (want as f32) as f64),
                    "{}({a:e}, {b:e}) f32 = {got:e}, want {want:e}",
                    c.name
                );
                continue;
            }
            ulps(got as f64, (dd(want), 0), 23, -126)
        } else {
            let got = (c.f64)(a, b);
            let lib = (c.libm)(a, b);
            if !lib.is_finite() || lib == 0.0 {
                assert!(same_special(got, lib), "{}({a:e}, {b:e}) f64 = {got:e}, want {lib:e}", c.name);
                continue;
            }
            ulps(got, (c.reference)(a, b), 52, -1022)
        };
        if err > worst || err.is_nan() {
            (worst, at) = (err, (a, b));
        }
    }
    (worst, at)
}

#[test]
fn binary_transcendentals_within_their_ulp_bounds() {
    let mut report = Vec::new();
    let mut failed = false;
    for c in binary_cases() {
        for single in [false, true] {
            let (w, at) = binary_worst(&c, single);
            let ok = w <= c.bound;
            failed |= !ok;
            report.push(format!(
                "{:6} {}: worst {w:.3} ulp at ({:e}, {:e}) (bound {}){}",
                c.name,
                if single { "f32" } else { "f64" },
                at.0,
                at.1,
                c.bound,
                if ok { "" } else { "  FAILED" }
            ));
        }
    }
    println!("{}", report.join("\n"));
    assert!(!failed, "{}", report.join("\n"));
}

/// The JIT's code for a binary row (vector lanes and the scalar remainder) against the
/// interpreter, bit for bit.
fn binary_jit_agrees(c: &BinaryCase, single: bool) {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ c.name.len() as u64);
    let n = 4099;
    let mut pairs = binary_specials(c.specials);
    let k = pairs.len();
    pairs.extend((k..n).map(|_| (c.points)(&mut rng, single)));
    let column = |j: usize| -> (DType, Data) {
        let v: Vec<f64> = pairs.iter().map(|p| if j == 0 { p.0 } else { p.1 }).collect();
        if single {
            (DType::F32, Data::F32(ArrayD::from_shape_vec(IxDyn(&[n]), v.iter().map(|&x| x as f32).collect()).unwrap()))
        } else {
            (DType::F64, Data::F64(ArrayD::from_shape_vec(IxDyn(&[n]), v).unwrap()))
        }
    };
    let ((d, a), (_, b)) = (column(0), column(1));
    let mut g = Graph::new();
    let x = g.input(0, d, &[n]);
    let y = g.input(1, d, &[n]);
    let z = g.push(Op::Binary(c.op), vec![x, y], 0).unwrap();
    g.outputs = vec![z];
    let inputs = [Arc::new(a), Arc::new(b)];
    compiled_agrees(&g, &inputs, c.name, d, single);
}

#[test]
fn compiled_binary_transcendentals_match_the_interpreter_bit_for_bit() {
    for c in binary_cases() {
        assert_eq!(c.op.lowering(false), Lowering::Polynomial, "{}", c.name);
        binary_jit_agrees(&c, false);
        binary_jit_agrees(&c, true);
    }
}
