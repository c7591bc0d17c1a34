//! `erf` (fdlibm's `s_erf.c`): the formula of each of its intervals of `|x|` under a branch
//! taken when some lane needs it, selected in those lanes, and `e^(-x^2)` of the tail by one
//! inline `exp`.
// The coefficients are written as fdlibm publishes them (more digits than the type holds).
#![allow(clippy::excessive_precision)]

use super::exp::exp_by_table;
use super::{Lanes, Steps};

/// The constants of `erf`, fdlibm's (`s_erf.c`, `s_erff.c`); each rational `P(u) / Q(u)` with
/// `Q`'s constant term `1` written out.
pub struct ErfConsts {
    /// The bounds of `|x|`'s intervals: `0.84375`, `1.25`, `1 / 0.35`, and from `6` on, `1`.
    pub bounds: [f64; 4],
    /// `erf 1` rounded to half the mantissa.
    pub erx: f64,
    /// `|x| < 0.84375`: `erf x = x + x P(x^2) / Q(x^2)`.
    pub small: (&'static [f64], &'static [f64]),
    /// `|x| < 1.25`: `erf x = erx + P(s) / Q(s)`, `s = |x| - 1`.
    pub mid: (&'static [f64], &'static [f64]),
    /// `|x| < 1 / 0.35`: `erf x = 1 - e^(-x^2 - 0.5625 + P(w) / Q(w)) / |x|`, `w = 1 / x^2`.
    pub tail: (&'static [f64], &'static [f64]),
    /// `|x| < 6`: the same with these.
    pub far: (&'static [f64], &'static [f64]),
}

/// `erf x`: by the interval of `|x|`, `|x| + |x| P/Q` (of `x^2`), `erx + P/Q` (of `|x| - 1`) or
/// `1 - e^(-x^2 - 0.5625 + P/Q) / |x|` (of `1 / x^2`, two sets of coefficients), `1` from 6 on;
/// the sign of `x` restored. Each interval's formula runs under a branch taken when some lane
/// lies in it ([`Lanes::when_any`]) and is selected in those lanes only. fdlibm computes the
/// exponential as two (`e^(-z^2 - 0.5625)` with `z` the high half of `|x|`, and of the rest);
/// here one, of the rounded sum: its error, at most a few ulps of `e^...`, is scaled by
/// `erfc |x| / erf |x|` (below 0.09) in the result.
#[inline(always)]
pub fn erf<L: Lanes>(l: &mut L, x: L::F) -> L::F {
    let p = &l.prec().erf;
    let ax = l.abs(x);
    let [b0, b1, _, b3] = p.bounds.map(|b| l.c(b));
    let small = l.lt(ax, b0);
    let from_mid = l.le(b0, ax);
    let below_tail = l.lt(ax, b1);
    let mid = l.and(from_mid, below_tail);
    let from_tail = l.le(b1, ax);
    let below_one = l.lt(ax, b3);
    let tail = l.and(from_tail, below_one);
    // From 6 on (and NaN, restored below), 1.
    let one = l.c(1.0);
    let [y] = l.when_any(
        tail,
        [one],
        #[inline(always)]
        |l| [erf_tail(l, ax)],
    );
    let [y] = l.when_any(
        mid,
        [y],
        #[inline(always)]
        |l| {
            let one = l.c(1.0);
            let s = l.sub(ax, one);
            let (n, d) = (l.horner(s, p.mid.0), l.horner(s, p.mid.1));
            let q = l.div(n, d);
            let erx = l.c(p.erx);
            [l.add(erx, q)]
        },
    );
    let [y] = l.when_any(
        small,
        [y],
        #[inline(always)]
        |l| {
            let z = l.mul(ax, ax);
            let (n, d) = (l.horner(z, p.small.0), l.horner(z, p.small.1));
            let q = l.div(n, d);
            let aq = l.mul(ax, q);
            [l.add(ax, aq)]
        },
    );
    let y = l.copysign(y, x);
    let nan = l.nan(x);
    l.sel(nan, x, y)
}

/// `erf |x|` for `1.25 <= |x| < 6`: `1 - e^(-x^2 - 0.5625 + P(w) / Q(w)) / |x|`, `w = 1 / x^2`,
/// the coefficients of `|x| < 1 / 0.35` or of beyond.
#[inline(always)]
fn erf_tail<L: Lanes>(l: &mut L, ax: L::F) -> L::F {
    let p = &l.prec().erf;
    let one = l.c(1.0);
    let z = l.mul(ax, ax);
    let w = l.div(one, z);
    let (n2, d2) = (l.horner(w, p.tail.0), l.horner(w, p.tail.1));
    let (n3, d3) = (l.horner(w, p.far.0), l.horner(w, p.far.1));
    let b2 = l.c(p.bounds[2]);
    let far = l.le(b2, ax);
    let num = l.sel(far, n3, n2);
    let den = l.sel(far, d3, d2);
    let q = l.div(num, den);
    let nz = l.neg(z);
    let c = l.c(0.5625);
    let a = l.sub(nz, c);
    let a = l.add(a, q);
    // Above -37 for `|x|` below 6: `exp`'s table path (other lanes' values are discarded).
    let e = exp_by_table(l, a, None);
    let r = l.div(e, ax);
    l.sub(one, r)
}

/// `f64`.
pub static ERF_F64: ErfConsts = ErfConsts {
    bounds: [0.84375, 1.25, 2.857143402099609375, 6.0],
    erx: 8.45062911510467529297e-01,
    small: (
        &[
            1.28379167095512558561e-01,
            -3.25042107247001499370e-01,
            -2.84817495755985104766e-02,
            -5.77027029648944159157e-03,
            -2.37630166566501626084e-05,
        ],
        &[
            1.0,
            3.97917223959155352819e-01,
            6.50222499887672944485e-02,
            5.08130628187576562776e-03,
            1.32494738004321644526e-04,
            -3.96022827877536812320e-06,
        ],
    ),
    mid: (
        &[
            -2.36211856075265944077e-03,
            4.14856118683748331666e-01,
            -3.72207876035701323847e-01,
            3.18346619901161753674e-01,
            -1.10894694282396677476e-01,
            3.54783043256182359371e-02,
            -2.16637559486879084300e-03,
        ],
        &[
            1.0,
            1.06420880400844228286e-01,
            5.40397917702171048937e-01,
            7.18286544141962662868e-02,
            1.26171219808761642112e-01,
            1.36370839120290507362e-02,
            1.19844998467991074170e-02,
        ],
    ),
    tail: (
        &[
            -9.86494403484714822705e-03,
            -6.93858572707181764372e-01,
            -1.05586262253232909814e+01,
            -6.23753324503260060396e+01,
            -1.62396669462573470355e+02,
            -1.84605092906711035994e+02,
            -8.12874355063065934246e+01,
            -9.81432934416914548592e+00,
        ],
        &[
            1.0,
            1.96512716674392571292e+01,
            1.37657754143519042600e+02,
            4.34565877475229228821e+02,
            6.45387271733267880336e+02,
            4.29008140027567833386e+02,
            1.08635005541779435134e+02,
            6.57024977031928170135e+00,
            -6.04244152148580987438e-02,
        ],
    ),
    far: (
        &[
            -9.86494292470009928597e-03,
            -7.99283237680523006574e-01,
            -1.77579549177547519889e+01,
            -1.60636384855821916062e+02,
            -6.37566443368389627722e+02,
            -1.02509513161107724954e+03,
            -4.83519191608651397019e+02,
        ],
        &[
            1.0,
            3.03380607434824582924e+01,
            3.25792512996573918826e+02,
            1.53672958608443695994e+03,
            3.19985821950859553908e+03,
            2.55305040643316442583e+03,
            4.74528541206955367215e+02,
            -2.24409524465858183362e+01,
        ],
    ),
};

/// `f32` (widened exactly).
pub static ERF_F32: ErfConsts = ErfConsts {
    bounds: [0.84375, 1.25, 2.857142686843872, 6.0],
    erx: 8.4506291151e-01f32 as f64,
    small: (
        &[
            1.2837916613e-01f32 as f64,
            -3.2504209876e-01f32 as f64,
            -2.8481749818e-02f32 as f64,
            -5.7702702470e-03f32 as f64,
            -2.3763017452e-05f32 as f64,
        ],
        &[
            1.0,
            3.9791721106e-01f32 as f64,
            6.5022252500e-02f32 as f64,
            5.0813062117e-03f32 as f64,
            1.3249473704e-04f32 as f64,
            -3.9602282413e-06f32 as f64,
        ],
    ),
    mid: (
        &[
            -2.3621185683e-03f32 as f64,
            4.1485610604e-01f32 as f64,
            -3.7220788002e-01f32 as f64,
            3.1834661961e-01f32 as f64,
            -1.1089469492e-01f32 as f64,
            3.5478305072e-02f32 as f64,
            -2.1663755178e-03f32 as f64,
        ],
        &[
            1.0,
            1.0642088205e-01f32 as f64,
            5.4039794207e-01f32 as f64,
            7.1828655899e-02f32 as f64,
            1.2617121637e-01f32 as f64,
            1.3637083583e-02f32 as f64,
            1.1984500103e-02f32 as f64,
        ],
    ),
    tail: (
        &[
            -9.8649440333e-03f32 as f64,
            -6.9385856390e-01f32 as f64,
            -1.0558626175e+01f32 as f64,
            -6.2375331879e+01f32 as f64,
            -1.6239666748e+02f32 as f64,
            -1.8460508728e+02f32 as f64,
            -8.1287437439e+01f32 as f64,
            -9.8143291473e+00f32 as f64,
        ],
        &[
            1.0,
            1.9651271820e+01f32 as f64,
            1.3765776062e+02f32 as f64,
            4.3456588745e+02f32 as f64,
            6.4538726807e+02f32 as f64,
            4.2900814819e+02f32 as f64,
            1.0863500214e+02f32 as f64,
            6.5702495575e+00f32 as f64,
            -6.0424413532e-02f32 as f64,
        ],
    ),
    far: (
        &[
            -9.8649431020e-03f32 as f64,
            -7.9928326607e-01f32 as f64,
            -1.7757955551e+01f32 as f64,
            -1.6063638306e+02f32 as f64,
            -6.3756646729e+02f32 as f64,
            -1.0250950928e+03f32 as f64,
            -4.8351919556e+02f32 as f64,
        ],
        &[
            1.0,
            3.0338060379e+01f32 as f64,
            3.2579251099e+02f32 as f64,
            1.5367296143e+03f32 as f64,
            3.1998581543e+03f32 as f64,
            2.5530502930e+03f32 as f64,
            4.7452853394e+02f32 as f64,
            -2.2440952301e+01f32 as f64,
        ],
    ),
};
