//! The constants of the algorithms, one table per precision (fdlibm's coefficients and
//! thresholds; an `f32` table holds `f32` values, widened exactly).
// The coefficients are written as fdlibm publishes them (more digits than the type holds; the
// value is the nearest float, as there), and `1 / ln 2` is fdlibm's, not `std`'s constant.
#![allow(clippy::excessive_precision, clippy::approx_constant)]

use super::erf::{ErfConsts, ERF_F32, ERF_F64};
use super::exp_table::{ExpTable, EXP_TABLE_F32, EXP_TABLE_F64};
use super::pio2::{TABLE_F32, TABLE_F64};

/// A float of bits `b` (f64).
const fn d(b: u64) -> f64 {
    f64::from_bits(b)
}

/// A float of bits `b` (f32), widened.
const fn s(b: u32) -> f64 {
    f32::from_bits(b) as f64
}

/// The constants of one precision.
pub struct Prec {
    /// Mantissa bits.
    pub mant: u32,
    /// Exponent bias.
    pub bias: u64,
    /// The sign bit.
    pub sign: u64,
    /// `1.5 * 2^mant`: adding it rounds to an integer held in the low bits.
    pub shift: f64,
    /// `2^mant`.
    pub two_mant: f64,
    /// The bits of `2^mant`.
    pub two_mant_bits: u64,
    /// `exp`.
    pub exp: ExpConsts,
    /// `expm1`.
    pub expm1: Expm1Consts,
    /// `log` and `log1p`.
    pub log: LogConsts,
    /// `tanh`.
    pub tanh: TanhConsts,
    /// `sin` and `cos`.
    pub trig: TrigConsts,
    /// `atan`.
    pub atan: AtanConsts,
    /// `atan2`.
    pub atan2: Atan2Consts,
    /// `asin` and `acos`.
    pub asin: AsinConsts,
    /// `asinh`, `acosh` and `atanh`.
    pub hyperbolic: HyperbolicConsts,
    /// `erf`.
    pub erf: &'static ErfConsts,
}

/// A table of constants of one precision, read by [`Lanes::gather`](super::Lanes::gather).
#[derive(Copy, Clone, Debug)]
pub enum Table {
    /// `f64` values.
    F64(&'static [f64]),
    /// `f32` values.
    F32(&'static [f32]),
}

/// The constants of `sin` and `cos`.
pub struct TrigConsts {
    /// `2 / pi`.
    pub inv_pio2: f64,
    /// `pi / 2` in parts short enough that `n` times each is exact while `|x| < bound`.
    pub pio2: &'static [f64],
    /// `pi / 2` less its parts.
    pub pio2_tail: f64,
    /// `|x|` from this on (finite): the reduction of huge arguments.
    pub bound: f64,
    /// `|x|` below this: `sin x = x`.
    pub tiny: f64,
    /// `S1, S2, ...`: `sin r = r + r^3 (S1 + r^2 S2 + ...)`.
    pub sin: &'static [f64],
    /// `C1, C2, ...`: `cos r = 1 - r^2 / 2 + r^4 (C1 + r^2 C2 + ...)`.
    pub cos: &'static [f64],
    /// `tan`.
    pub tan: TanConsts,
    /// The reduction of huge arguments.
    pub huge: HugeConsts,
}

/// The constants of `tan` (fdlibm's `__tan`): `tan r = r + r^3 (T0 + z R(z^2) + z^2 V(z^2))`,
/// `z = r^2`.
pub struct TanConsts {
    /// `T0`.
    pub t0: f64,
    /// `R`: `T1, T3, ..., T11`.
    pub r: &'static [f64],
    /// `V`: `T2, T4, ..., T12`.
    pub v: &'static [f64],
    /// `pi / 4` in two floats.
    pub pio4: (f64, f64),
    /// `|r|` from this on: `tan(pi/4 - |r|)`.
    pub big: f64,
    /// The bits of a float's high half.
    pub high: u64,
}

/// The constants of the reduction of huge arguments (`pio2.rs`).
pub struct HugeConsts {
    /// The chunks of `2/pi`, one row an exponent.
    pub table: Table,
    /// The exponent of the first row.
    pub first: f64,
    /// The rows.
    pub rows: f64,
    /// The significand's high part: all but its low bits.
    pub high: u64,
    /// `pi / 2` as two floats.
    pub pio2: (f64, f64),
    /// The first of those in two halves of half the mantissa.
    pub pio2_split: (f64, f64),
    /// `2^ceil((mant + 1) / 2) + 1`, which splits a float in halves.
    pub veltkamp: f64,
}

/// The constants of `exp`.
pub struct ExpConsts {
    /// The table-driven path.
    pub table: &'static ExpTable,
    /// `ln 2` in two parts (`k * hi` exact).
    pub ln2: (f64, f64),
    /// `1 / ln 2`.
    pub inv_ln2: f64,
    /// The rational's polynomial in `r^2`.
    pub p: &'static [f64],
    /// Above this, `+inf`.
    pub over: f64,
    /// Below this, `+0`.
    pub under: f64,
}

/// The constants of `expm1` (its polynomial is `exp`'s).
pub struct Expm1Consts {
    /// `ln 2` in two parts (`k * hi` exact).
    pub ln2: (f64, f64),
    /// `1 / ln 2`.
    pub inv_ln2: f64,
    /// `|x|` below this: `x`.
    pub tiny: f64,
    /// Above this, `+inf`.
    pub over: f64,
    /// The range arguments are clamped to: `2^(k-1)` stays normal, and below it the result
    /// rounds to `-1`.
    pub clamp: (f64, f64),
}

/// The constants of `log` and `log1p`.
pub struct LogConsts {
    /// `ln 2` in two parts.
    pub ln2: (f64, f64),
    /// `Lg1, Lg3, Lg5, ...`.
    pub odd: &'static [f64],
    /// `Lg2, Lg4, ...`.
    pub even: &'static [f64],
    /// The bits of `1` minus those of `sqrt(2)/2`: added before the exponent is read, so the
    /// mantissa lands in `[sqrt(2)/2, sqrt(2))`.
    pub offset: u64,
    /// The bits of `sqrt(2)/2`.
    pub sqrt_half: u64,
    /// The mantissa field.
    pub mant_mask: u64,
    /// The smallest normal number.
    pub min_normal: f64,
    /// Subnormals are scaled by this (`2^sub_k`).
    pub sub_scale: f64,
    /// The exponent of `sub_scale`.
    pub sub_k: f64,
    /// `log1p`: `1 + x` in `[sqrt(2)/2, sqrt(2))` for `-k0.0 < x < k0.1`: no reduction.
    pub k0: (f64, f64),
    /// `log1p`: `|x|` below this gives `x`.
    pub tiny: f64,
    /// `log1p`: the correction term is zero from this exponent on.
    pub c_limit: f64,
}

/// The constants of `atan`.
pub struct AtanConsts {
    /// The lower bounds of `|x|`'s intervals of reduction around `0.5`, `1`, `1.5` and `inf`.
    pub bounds: [f64; 4],
    /// `atan 0.5`, `atan 1`, `atan 1.5`, `pi / 2`: their leading parts.
    pub hi: [f64; 4],
    /// Their remainders.
    pub lo: [f64; 4],
    /// `aT[0], aT[2], ...`: `atan t = t - t (z (aT[0] + w aT[2] + ...) + w (aT[1] + w aT[3] + ...))`.
    pub even: &'static [f64],
    /// `aT[1], aT[3], ...`.
    pub odd: &'static [f64],
}

/// The constants of `atan2` (fdlibm's `e_atan2.c`).
pub struct Atan2Consts {
    /// `pi` in two parts.
    pub pi: (f64, f64),
    /// `pi / 2`, rounded.
    pub pio2: f64,
    /// `pi / 4`, rounded.
    pub pio4: f64,
    /// `|y| / |x|` beyond this: `pi / 2` in every quadrant.
    pub big: f64,
}

/// The constants of `asin` and `acos` (fdlibm's `e_asin.c`, `e_acos.c`):
/// `R(z) = z P(z) / Q(z)` approximates `asin(sqrt z) / sqrt z - 1`.
pub struct AsinConsts {
    /// `P`: `pS0, pS1, ...`.
    pub p: &'static [f64],
    /// `Q`: `1, qS1, qS2, ...`.
    pub q: &'static [f64],
    /// `pi / 2` in two parts.
    pub pio2: (f64, f64),
    /// Half of `pi / 2`'s leading part (`pi / 4` to a float's precision; fdlibm's `f32` value, `pi / 4`
    /// rounded up, is an `f32` ulp of `pi / 2` off the sum).
    pub pio4_hi: f64,
    /// `|x|` from this on, `asin` takes fdlibm's shorter formula near 1.
    pub near_one: f64,
    /// The bits of a float's high half (`sqrt z` less its low bits: its square is exact).
    pub high: u64,
}

/// The thresholds of `asinh`, `acosh` and `atanh`.
pub struct HyperbolicConsts {
    /// `|x|` below this: `asinh x = atanh x = x`.
    pub tiny: f64,
    /// `|x|` from this on: `asinh |x| = acosh |x| = ln |x| + ln 2`.
    pub huge: f64,
    /// The bits of a float's high half (a square root less its low bits: its square is exact).
    pub high: u64,
}

/// The constants of `tanh`.
pub struct TanhConsts {
    /// `|x|` at or above this: `1 - 2 / (e^(2|x|) + 1)`.
    pub big: f64,
    /// Below `big`, `tanh x = x + x z P(z) / Q(z)`, `z = x^2`: `P`.
    pub p: &'static [f64],
    /// `Q`.
    pub q: &'static [f64],
}

/// `f64`.
pub static F64: Prec = Prec {
    mant: 52,
    bias: 1023,
    sign: 1 << 63,
    shift: 6755399441055744.0,
    two_mant: 4503599627370496.0,
    two_mant_bits: 0x4330_0000_0000_0000,
    exp: ExpConsts {
        table: &EXP_TABLE_F64,
        ln2: (6.93147180369123816490e-01, 1.90821492927058770002e-10),
        inv_ln2: 1.44269504088896338700e+00,
        p: &[
            1.66666666666666019037e-01,
            -2.77777777770155933842e-03,
            6.61375632143793436117e-05,
            -1.65339022054652515390e-06,
            4.13813679705723846039e-08,
        ],
        over: 7.09782712893383973096e+02,
        under: -7.45133219101941108420e+02,
    },
    expm1: Expm1Consts {
        ln2: (6.93147180369123816490e-01, 1.90821492927058770002e-10),
        inv_ln2: 1.44269504088896338700e+00,
        tiny: d(0x3c90_0000_0000_0000),
        over: 7.09782712893383973096e+02,
        clamp: (-40.0, 710.0),
    },
    log: LogConsts {
        ln2: (6.93147180369123816490e-01, 1.90821492927058770002e-10),
        odd: &[6.666666666666735130e-01, 2.857142874366239149e-01, 1.818357216161805012e-01, 1.479819860511658591e-01],
        even: &[3.999999999940941908e-01, 2.222219843214978396e-01, 1.531383769920937332e-01],
        offset: (0x3ff0_0000 - 0x3fe6_a09e) << 32,
        sqrt_half: 0x3fe6_a09e << 32,
        mant_mask: 0x000f_ffff_ffff_ffff,
        min_normal: d(0x0010_0000_0000_0000),
        sub_scale: d(0x4350_0000_0000_0000),
        sub_k: 54.0,
        k0: (d(0x3fd2_bec5_0000_0000), d(0x3fda_827a_0000_0000)),
        tiny: d(0x3ca0_0000_0000_0000),
        c_limit: 54.0,
    },
    tanh: TanhConsts {
        big: 0.625,
        p: &[-1.61468768441708447952e+03, -9.92877231001918586564e+01, -9.64399179425052238628e-01],
        q: &[4.84406305325125486048e+03, 2.23548839060100448583e+03, 1.12811678491632931402e+02, 1.0],
    },
    trig: TrigConsts {
        inv_pio2: 6.36619772367581382433e-01,
        pio2: &[d(0x3ff9_21fb_5440_0000), d(0x3dd0_b461_1a60_0000), d(0x3ba3_198a_2e00_0000)],
        pio2_tail: d(0x397b_839a_2520_49c1),
        // 2^20 pi/2 and a little less: n <= 2^20, and the parts have 33 bits.
        bound: 1647099.0,
        tiny: d(0x3e50_0000_0000_0000),
        sin: &[
            -1.66666666666666324348e-01,
            8.33333333332248946124e-03,
            -1.98412698298579493134e-04,
            2.75573137070700676789e-06,
            -2.50507602534068634195e-08,
            1.58969099521155010221e-10,
        ],
        cos: &[
            4.16666666666666019037e-02,
            -1.38888888888741095749e-03,
            2.48015872894767294178e-05,
            -2.75573143513906633035e-07,
            2.08757232129817482790e-09,
            -1.13596475577881948265e-11,
        ],
        tan: TanConsts {
            t0: 3.33333333333334091986e-01,
            r: &[
                1.33333333333201242699e-01,
                2.18694882948595424599e-02,
                3.59207910759131235356e-03,
                5.88041240820264096874e-04,
                7.81794442939557092300e-05,
                -1.85586374855275456654e-05,
            ],
            v: &[
                5.39682539762260521377e-02,
                8.86323982359930005737e-03,
                1.45620945432529025516e-03,
                2.46463134818469906812e-04,
                7.14072491382608190305e-05,
                2.59073051863633712884e-05,
            ],
            pio4: (7.85398163397448278999e-01, 3.06161699786838301793e-17),
            big: d(0x3fe5_9428_0000_0000),
            high: 0xffff_ffff_0000_0000,
        },
        huge: HugeConsts {
            table: Table::F64(&TABLE_F64),
            first: 20.0,
            rows: 1004.0,
            high: !((1 << 27) - 1),
            pio2: (d(0x3ff9_21fb_5444_2d18), d(0x3c91_a626_3314_5c07)),
            pio2_split: (d(0x3ff9_21fb_5800_0000), -d(0x3e4d_de97_4000_0000)),
            veltkamp: 134217729.0,
        },
    },
    atan: AtanConsts {
        bounds: [0.4375, 0.6875, 1.1875, 2.4375],
        hi: [
            4.63647609000806093515e-01,
            7.85398163397448278999e-01,
            9.82793723247329054082e-01,
            1.57079632679489655800e+00,
        ],
        lo: [
            2.26987774529616870924e-17,
            3.06161699786838301793e-17,
            1.39033110312309984516e-17,
            6.12323399573676603587e-17,
        ],
        even: &[
            3.33333333333329318027e-01,
            1.42857142725034663711e-01,
            9.09088713343650656196e-02,
            6.66107313738753120669e-02,
            4.97687799461593236017e-02,
            1.62858201153657823623e-02,
        ],
        odd: &[
            -1.99999999998764832476e-01,
            -1.11111104054623557880e-01,
            -7.69187620504482999495e-02,
            -5.83357013379057348645e-02,
            -3.65315727442169155270e-02,
        ],
    },
    atan2: Atan2Consts {
        pi: (d(0x4009_21fb_5444_2d18), d(0x3ca1_a626_3314_5c07)),
        pio2: d(0x3ff9_21fb_5444_2d18),
        pio4: d(0x3fe9_21fb_5444_2d18),
        big: d(0x43b0_0000_0000_0000),
    },
    asin: AsinConsts {
        p: &[
            1.66666666666666657415e-01,
            -3.25565818622400915405e-01,
            2.01212532134862925881e-01,
            -4.00555345006794114027e-02,
            7.91534994289814532176e-04,
            3.47933107596021167570e-05,
        ],
        q: &[
            1.0,
            -2.40339491173441421878e+00,
            2.02094576023350569471e+00,
            -6.88283971605453293030e-01,
            7.70381505559019352791e-02,
        ],
        pio2: (d(0x3ff9_21fb_5444_2d18), d(0x3c91_a626_3314_5c07)),
        pio4_hi: d(0x3fe9_21fb_5444_2d18),
        near_one: 0.975,
        high: 0xffff_ffff_0000_0000,
    },
    hyperbolic: HyperbolicConsts {
        tiny: d(0x3e30_0000_0000_0000),
        huge: d(0x41b0_0000_0000_0000),
        high: 0xffff_ffff_0000_0000,
    },
    erf: &ERF_F64,
};

/// `f32`.
pub static F32: Prec = Prec {
    mant: 23,
    bias: 127,
    sign: 1 << 31,
    shift: 12582912.0,
    two_mant: 8388608.0,
    two_mant_bits: 0x4b00_0000,
    exp: ExpConsts {
        table: &EXP_TABLE_F32,
        ln2: (s(0x3f31_7200), s(0x35bf_be8e)),
        inv_ln2: s(0x3fb8_aa3b),
        p: &[1.6666625440e-1f32 as f64, -2.7667332906e-3f32 as f64],
        over: s(0x42b1_7217),
        under: -s(0x42cf_f1b4),
    },
    expm1: Expm1Consts {
        ln2: (s(0x3f31_7180), s(0x3717_f7d1)),
        inv_ln2: s(0x3fb8_aa3b),
        tiny: s(0x3300_0000),
        over: s(0x42b1_7217),
        clamp: (-20.0, 89.0),
    },
    log: LogConsts {
        ln2: (s(0x3f31_7180), s(0x3717_f7d1)),
        odd: &[0.66666662693f32 as f64, 0.28498786688f32 as f64],
        even: &[0.40000972152f32 as f64, 0.24279078841f32 as f64],
        offset: 0x3f80_0000 - 0x3f35_04f3,
        sqrt_half: 0x3f35_04f3,
        mant_mask: 0x007f_ffff,
        min_normal: s(0x0080_0000),
        sub_scale: s(0x4c00_0000),
        sub_k: 25.0,
        k0: (s(0x3e95_f61a), s(0x3ed4_13d0)),
        tiny: s(0x3380_0000),
        c_limit: 25.0,
    },
    tanh: TanhConsts {
        big: 0.625,
        p: &[
            -3.33332819422e-01f32 as f64,
            1.33314422036e-01f32 as f64,
            -5.37397155531e-02f32 as f64,
            2.06390887954e-02f32 as f64,
            -5.70498872745e-03f32 as f64,
        ],
        q: &[1.0],
    },
    trig: TrigConsts {
        inv_pio2: s(0x3f22_f983),
        pio2: &[s(0x3fc9_0000), s(0x39fd_a000), s(0x33a2_2000), s(0x2c34_6000), s(0x248d_3000)],
        pio2_tail: s(0x1d18_cc51),
        // 2^12 pi/2 and a little less: n <= 2^12, and the parts have 12 bits.
        bound: 6433.0,
        tiny: s(0x3980_0000),
        sin: &[
            -1.6666667163e-01f32 as f64,
            8.3333337680e-03f32 as f64,
            -1.9841270114e-04f32 as f64,
            2.7557314297e-06f32 as f64,
            -2.5050759689e-08f32 as f64,
        ],
        cos: &[
            4.1666667908e-02f32 as f64,
            -1.3888889225e-03f32 as f64,
            2.4801587642e-05f32 as f64,
            -2.7557314297e-07f32 as f64,
            2.0875723372e-09f32 as f64,
        ],
        tan: TanConsts {
            t0: 3.33333333333334091986e-01f32 as f64,
            r: &[
                1.33333333333201242699e-01f32 as f64,
                2.18694882948595424599e-02f32 as f64,
                3.59207910759131235356e-03f32 as f64,
                5.88041240820264096874e-04f32 as f64,
                7.81794442939557092300e-05f32 as f64,
                -1.85586374855275456654e-05f32 as f64,
            ],
            v: &[
                5.39682539762260521377e-02f32 as f64,
                8.86323982359930005737e-03f32 as f64,
                1.45620945432529025516e-03f32 as f64,
                2.46463134818469906812e-04f32 as f64,
                7.14072491382608190305e-05f32 as f64,
                2.59073051863633712884e-05f32 as f64,
            ],
            pio4: (s(0x3f49_0fda), s(0x3322_2168)),
            big: s(0x3f2c_a140),
            high: 0xffff_f000,
        },
        huge: HugeConsts {
            table: Table::F32(&TABLE_F32),
            first: 12.0,
            rows: 116.0,
            high: 0xffff_f000,
            pio2: (s(0x3fc9_0fdb), s(0xb33b_bd2e)),
            pio2_split: (1.57080078125, -4.410743713378906e-06),
            veltkamp: 4097.0,
        },
    },
    atan: AtanConsts {
        bounds: [0.4375, 0.6875, 1.1875, 2.4375],
        hi: [s(0x3eed_6338), s(0x3f49_0fda), s(0x3f7b_985e), s(0x3fc9_0fda)],
        lo: [s(0x31ac_3769), s(0x3322_2168), s(0x3314_0fb4), s(0x33a2_2168)],
        even: &[3.3333328366e-01f32 as f64, 1.4253635705e-01f32 as f64, 6.1687607318e-02f32 as f64],
        odd: &[-1.9999158382e-01f32 as f64, -1.0648017377e-01f32 as f64],
    },
    atan2: Atan2Consts {
        pi: (s(0x4049_0fdb), s(0xb3bb_bd2e)),
        pio2: s(0x3fc9_0fdb),
        pio4: s(0x3f49_0fdb),
        big: s(0x4c80_0000),
    },
    asin: AsinConsts {
        p: &[1.6666586697e-01f32 as f64, -4.2743422091e-02f32 as f64, -8.6563630030e-03f32 as f64],
        q: &[1.0, -7.0662963390e-01f32 as f64],
        pio2: (s(0x3fc9_0fda), s(0x33a2_2168)),
        pio4_hi: s(0x3f49_0fda),
        near_one: 0.975f32 as f64,
        high: 0xffff_f000,
    },
    hyperbolic: HyperbolicConsts { tiny: s(0x3980_0000), huge: s(0x4580_0000), high: 0xffff_f000 },
    erf: &ERF_F32,
};
