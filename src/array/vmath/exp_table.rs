//! `exp`'s table-driven path: `x = (k/N) ln2 + r` with `|r| <= ln2/(2N)`,
//! `e^x = 2^(k/N) e^r`, `2^(k/N)` from a table of `N` entries and `e^r` from a short polynomial
//! (ARM's optimized-routines `exp`, 0.51 ulp). No division.
//!
//! Entry `j` holds `2^(j/N) = s_j (1 + t_j)`: `s_j`, the float nearest `2^(j/N)`, with `j` taken
//! off its bits at the exponent's place less `log2 N` bits (so adding `k`'s bits there builds
//! `2^(k/N)`'s exponent and significand in one integer addition), and `t_j`, the rest, rounded.
//! Computed at 200 bits by `mpmath` (`s_j`'s bits less `j << (mant - log2 N)`; `t_j = (2^(j/N) -
//! s_j) / s_j`); a test below checks every entry against `libm`'s `exp2`.

use super::Table;

/// A float of bits `b` (f64).
const fn d(b: u64) -> f64 {
    f64::from_bits(b)
}

/// A float of bits `b` (f32).
const fn f(b: u32) -> f32 {
    f32::from_bits(b)
}

/// The constants of `exp`'s table-driven path, one precision.
pub struct ExpTable {
    /// `log2 N`.
    pub bits: u32,
    /// `N / ln 2`.
    pub inv_ln2_n: f64,
    /// `-ln2 / N` in two parts (`k` times the first exact).
    pub neg_ln2_n: (f64, f64),
    /// `C2, C3, ...`: `e^r = 1 + r + r^2 (C2 + r C3 + r^2 (C4 + r C5))`.
    pub poly: &'static [f64],
    /// `t_j` and `s_j`'s bits less `j << (mant - log2 N)` (as a float), entry `j` at `2j` and
    /// `2j + 1`.
    pub pairs: Table,
    /// `|x|` below this: the result and every `2^(k/N)` are normal.
    pub fast: f64,
}

/// `f64`: `N = 128`, degree 5.
pub static EXP_TABLE_F64: ExpTable = ExpTable {
    bits: 7,
    inv_ln2_n: d(0x4067_1547_652b_82fe),
    neg_ln2_n: (d(0xbf76_2e42_fefa_0000), d(0xbd0c_f79a_bc9e_3b3a)),
    poly: &[d(0x3fdf_ffff_ffff_fdbd), d(0x3fc5_5555_5555_543c), d(0x3fa5_5555_cf17_2b91), d(0x3f81_1111_67a4_d017)],
    pairs: Table::F64(&PAIRS_F64),
    fast: 708.0,
};

/// `f32`: `N = 64`, degree 3.
pub static EXP_TABLE_F32: ExpTable = ExpTable {
    bits: 6,
    inv_ln2_n: f(0x42b8_aa3b) as f64,
    neg_ln2_n: (-(f(0x3c31_6000) as f64), -(f(0x3690_bfbf) as f64)),
    poly: &[0.5, f(0x3e2a_aaab) as f64],
    pairs: Table::F32(&PAIRS_F32),
    fast: 87.0,
};

#[rustfmt::skip]
static PAIRS_F64: [f64; 256] = [
    d(0x0000_0000_0000_0000), d(0x3ff0_0000_0000_0000),
    d(0x3c9b_3b4f_1a88_bf6e), d(0x3fef_f63d_a9fb_3335),
    d(0xbc71_6013_9cd8_dc5d), d(0x3fef_ec9a_3e77_8061),
    d(0xbc90_5e7a_1087_66d1), d(0x3fef_e315_e86e_7f85),
    d(0x3c8c_d252_3567_f613), d(0x3fef_d9b0_d315_8574),
    d(0xbc8b_ce80_23f9_8efa), d(0x3fef_d06b_29dd_f6de),
    d(0x3c60_f74e_61e6_c861), d(0x3fef_c745_1875_9bc8),
    d(0x3c90_a3e4_5b33_d399), d(0x3fef_be3e_cac6_f383),
    d(0x3c97_9aa6_5d83_7b6d), d(0x3fef_b558_6cf9_890f),
    d(0x3c8e_b51a_92fd_effc), d(0x3fef_ac92_2b72_47f7),
    d(0x3c3e_be3d_702f_9cd1), d(0x3fef_a3ec_32d3_d1a2),
    d(0xbc6a_0334_8990_6e0b), d(0x3fef_9b66_affe_d31b),
    d(0xbc95_5652_2a2f_bd0e), d(0x3fef_9301_d012_5b51),
    d(0xbc50_80ef_8c4e_ea55), d(0x3fef_8abd_c06c_31cc),
    d(0xbc91_c923_b9d5_f416), d(0x3fef_829a_aea9_2de0),
    d(0x3c80_d3e3_e95c_55af), d(0x3fef_7a98_c8a5_8e51),
    d(0xbc80_1b15_eaa5_9348), d(0x3fef_72b8_3c7d_517b),
    d(0xbc8f_1ff0_55de_323d), d(0x3fef_6af9_388c_8dea),
    d(0x3c8b_898c_3f13_53bf), d(0x3fef_635b_eb6f_cb75),
    d(0xbc96_d99c_7611_eb26), d(0x3fef_5be0_8404_5cd4),
    d(0x3c9a_ecf7_3e3a_2f60), d(0x3fef_5487_3168_b9aa),
    d(0xbc8f_e782_cb86_389d), d(0x3fef_4d50_22fc_d91d),
    d(0x3c8a_6f41_44a6_c38d), d(0x3fef_463b_8862_8cd6),
    d(0x3c80_7a05_b0e4_047d), d(0x3fef_3f49_917d_dc96),
    d(0x3c96_8efd_e3a8_a894), d(0x3fef_387a_6e75_6238),
    d(0x3c87_5e18_f274_487d), d(0x3fef_31ce_4fb2_a63f),
    d(0x3c80_472b_981f_e7f2), d(0x3fef_2b45_65e2_7cdd),
    d(0xbc96_b87b_3f71_085e), d(0x3fef_24df_e1f5_6381),
    d(0x3c82_f7e1_6d09_ab31), d(0x3fef_1e9d_f51f_dee1),
    d(0xbc3d_219b_1a6f_bffa), d(0x3fef_187f_d0da_d990),
    d(0x3c8b_3782_720c_0ab4), d(0x3fef_1285_a6e4_030b),
    d(0x3c6e_1492_89ce_cb8f), d(0x3fef_0caf_a93e_2f56),
    d(0x3c83_4d75_4db0_abb6), d(0x3fef_06fe_0a31_b715),
    d(0x3c86_4201_e2ac_744c), d(0x3fef_0170_fc4c_d831),
    d(0x3c8f_dd39_5dd3_f84a), d(0x3fee_fc08_b264_16ff),
    d(0xbc86_a380_3b8e_5b04), d(0x3fee_f6c5_5f92_9ff1),
    d(0xbc92_4aed_cc4b_5068), d(0x3fee_f1a7_373a_a9cb),
    d(0xbc99_07f8_1b51_2d8e), d(0x3fee_ecae_6d05_d866),
    d(0xbc71_d1e8_3e94_36d2), d(0x3fee_e7db_34e5_9ff7),
    d(0xbc99_1919_b3ce_1b15), d(0x3fee_e32d_c313_a8e5),
    d(0x3c85_9f48_a72a_4c6d), d(0x3fee_dea6_4c12_3422),
    d(0xbc93_1260_7a28_698a), d(0x3fee_da45_04ac_801c),
    d(0xbc58_a78f_4817_895b), d(0x3fee_d60a_21f7_2e2a),
    d(0xbc7c_2c9b_6749_9a1b), d(0x3fee_d1f5_d950_a897),
    d(0x3c43_63ed_60c2_ac11), d(0x3fee_ce08_6061_892d),
    d(0x3c96_6609_3b06_64ef), d(0x3fee_ca41_ed1d_0057),
    d(0x3c6e_cce1_daa1_0379), d(0x3fee_c6a2_b5c1_3cd0),
    d(0x3c93_ff8e_3f0f_1230), d(0x3fee_c32a_f0d7_d3de),
    d(0x3c76_90ce_bb7a_afb0), d(0x3fee_bfda_d536_2a27),
    d(0x3c93_1dbd_eb54_e077), d(0x3fee_bcb2_99fd_dd0d),
    d(0xbc8f_9434_0071_a38e), d(0x3fee_b9b2_769d_2ca7),
    d(0xbc87_decc_dc93_a349), d(0x3fee_b6da_a2cf_6642),
    d(0xbc78_dec6_bd0f_385f), d(0x3fee_b42b_569d_4f82),
    d(0xbc86_1246_ec7b_5cf6), d(0x3fee_b1a4_ca5d_920f),
    d(0x3c93_3505_18fd_d78e), d(0x3fee_af47_36b5_27da),
    d(0x3c7b_98b7_2f8a_9b05), d(0x3fee_ad12_d497_c7fd),
    d(0x3c90_63e1_e21c_5409), d(0x3fee_ab07_dd48_5429),
    d(0x3c34_c785_5019_c6ea), d(0x3fee_a926_8a59_46b7),
    d(0x3c94_32e6_2b64_c035), d(0x3fee_a76f_15ad_2148),
    d(0xbc8c_e44a_6199_769f), d(0x3fee_a5e1_b976_dc09),
    d(0xbc8c_33c5_3bef_4da8), d(0x3fee_a47e_b03a_5585),
    d(0xbc84_5378_892b_e9ae), d(0x3fee_a346_34cc_c320),
    d(0xbc93_cedd_7856_5858), d(0x3fee_a238_8255_2225),
    d(0x3c57_10aa_807e_1964), d(0x3fee_a155_d44c_a973),
    d(0xbc93_b3ef_bf5e_2228), d(0x3fee_a09e_667f_3bcd),
    d(0xbc6a_12ad_8734_b982), d(0x3fee_a012_750b_dabf),
    d(0xbc63_67ef_b86d_a9ee), d(0x3fee_9fb2_3c65_1a2f),
    d(0xbc80_dc3d_54e0_8851), d(0x3fee_9f7d_f951_9484),
    d(0xbc78_1f64_7e5a_3ecf), d(0x3fee_9f75_e8ec_5f74),
    d(0xbc86_ee4a_c08b_7db0), d(0x3fee_9f9a_48a5_8174),
    d(0xbc86_1932_1e55_e68a), d(0x3fee_9feb_5642_67c9),
    d(0x3c90_9ccb_5e09_d4d3), d(0x3fee_a069_4fde_5d3f),
    d(0xbc7b_32dc_b94d_a51d), d(0x3fee_a114_73eb_0187),
    d(0x3c94_ecfd_5467_c06b), d(0x3fee_a1ed_0130_c132),
    d(0x3c65_ebe1_abd6_6c55), d(0x3fee_a2f3_36cf_4e62),
    d(0xbc88_a1c5_2fb3_cf42), d(0x3fee_a427_543e_1a12),
    d(0xbc93_69b6_f13b_3734), d(0x3fee_a589_994c_ce13),
    d(0xbc80_5e84_3a19_ff1e), d(0x3fee_a71a_4623_c7ad),
    d(0xbc94_d450_d872_576e), d(0x3fee_a8d9_9b44_92ed),
    d(0x3c90_ad67_5b0e_8a00), d(0x3fee_aac7_d98a_6699),
    d(0x3c8d_b72f_c1f0_eab4), d(0x3fee_ace5_422a_a0db),
    d(0xbc65_b660_9cc5_e7ff), d(0x3fee_af32_16b5_448c),
    d(0x3c7b_f683_59f3_5f44), d(0x3fee_b1ae_9915_7736),
    d(0xbc93_091f_a71e_3d83), d(0x3fee_b45b_0b91_ffc6),
    d(0xbc5d_a9b8_8b6c_1e29), d(0x3fee_b737_b0cd_c5e5),
    d(0xbc6c_23f9_7c90_b959), d(0x3fee_ba44_cbc8_520f),
    d(0xbc92_4343_22f4_f9aa), d(0x3fee_bd82_9fde_4e50),
    d(0xbc85_ca6c_d766_8e4b), d(0x3fee_c0f1_70ca_07ba),
    d(0x3c71_affc_2b91_ce27), d(0x3fee_c491_82a3_f090),
    d(0x3c6d_d235_e10a_73bb), d(0x3fee_c863_19e3_2323),
    d(0xbc87_c504_2262_2263), d(0x3fee_cc66_7b5d_e565),
    d(0x3c8b_1c86_e3e2_31d5), d(0x3fee_d09b_ec4a_2d33),
    d(0xbc91_bbd1_d3bc_bb15), d(0x3fee_d503_b23e_255d),
    d(0x3c90_cc31_9cee_31d2), d(0x3fee_d99e_1330_b358),
    d(0x3c84_6984_6e73_5ab3), d(0x3fee_de6b_5579_fdbf),
    d(0xbc82_dfcd_978e_9db4), d(0x3fee_e36b_bfd3_f37a),
    d(0x3c8c_1a77_92cb_3387), d(0x3fee_e89f_995a_d3ad),
    d(0xbc90_7b8f_4ad1_d9fa), d(0x3fee_ee07_298d_b666),
    d(0xbc55_c3d9_56dc_aeba), d(0x3fee_f3a2_b84f_15fb),
    d(0xbc90_a40e_3da6_f640), d(0x3fee_f972_8de5_593a),
    d(0xbc68_d6f4_38ad_9334), d(0x3fee_ff76_f2fb_5e47),
    d(0xbc91_eee2_6b58_8a35), d(0x3fef_05b0_30a1_064a),
    d(0x3c74_ffd7_0a5f_ddcd), d(0x3fef_0c1e_904b_c1d2),
    d(0xbc91_bdfb_fa92_98ac), d(0x3fef_12c2_5bd7_1e09),
    d(0x3c73_6eae_30af_0cb3), d(0x3fef_199b_dd85_529c),
    d(0x3c8e_e332_5c9f_fd94), d(0x3fef_20ab_5fff_d07a),
    d(0x3c84_e08f_d109_59ac), d(0x3fef_27f1_2e57_d14b),
    d(0x3c63_cdaf_384e_1a67), d(0x3fef_2f6d_9406_e7b5),
    d(0x3c67_6b2c_6c92_1968), d(0x3fef_3720_dcef_9069),
    d(0xbc80_8a18_83cc_b5d2), d(0x3fef_3f0b_555d_c3fa),
    d(0xbc8f_ad5d_3fff_fa6f), d(0x3fef_472d_4a07_897c),
    d(0xbc90_0dae_3875_a949), d(0x3fef_4f87_080d_89f2),
    d(0x3c74_a385_a63d_07a7), d(0x3fef_5818_dcfb_a487),
    d(0xbc82_919e_2040_220f), d(0x3fef_60e3_16c9_8398),
    d(0x3c8e_5a50_d5c1_92ac), d(0x3fef_69e6_03db_3285),
    d(0x3c84_3a59_ac01_6b4b), d(0x3fef_7321_f301_b460),
    d(0xbc82_d521_07b4_3e1f), d(0x3fef_7c97_337b_9b5f),
    d(0xbc89_2ab9_3b47_0dc9), d(0x3fef_8646_14f5_a129),
    d(0x3c74_b604_603a_88d3), d(0x3fef_902e_e78b_3ff6),
    d(0x3c83_c5ec_519d_7271), d(0x3fef_9a51_fbc7_4c83),
    d(0xbc8f_f712_8fd3_91f0), d(0x3fef_a4af_a2a4_90da),
    d(0xbc8d_ae98_e223_747d), d(0x3fef_af48_2d8e_67f1),
    d(0x3c8e_c3bc_41aa_2008), d(0x3fef_ba1b_ee61_5a27),
    d(0x3c84_2b94_c3a9_eb32), d(0x3fef_c52b_376b_ba97),
    d(0x3c8a_64a9_31d1_85ee), d(0x3fef_d076_5b6e_4540),
    d(0xbc8e_37ba_e43b_e3ed), d(0x3fef_dbfd_ad9c_be14),
    d(0x3c77_893b_4d91_cd9d), d(0x3fef_e7c1_819e_90d8),
    d(0x3c53_05c1_4160_cc89), d(0x3fef_f3c2_2b8f_71f1),
];

#[rustfmt::skip]
static PAIRS_F32: [f32; 128] = [
    f(0x0000_0000), f(0x3f80_0000), f(0xb1c2_22a1), f(0x3f7f_64d2),
    f(0xb34a_3a0a), f(0x3f7e_cd87), f(0xb2e9_95b7), f(0x3f7e_3a29),
    f(0x3346_cb6a), f(0x3f7d_aac3), f(0xb347_a6d3), f(0x3f7d_1f62),
    f(0xb36e_d17e), f(0x3f7c_980f), f(0x3359_7288), f(0x3f7c_14d5),
    f(0xb24e_0611), f(0x3f7b_95c2), f(0x3325_fe11), f(0x3f7b_1adf),
    f(0xb351_7dd9), f(0x3f7a_a43a), f(0x32ee_2ef5), f(0x3f7a_31dc),
    f(0x334b_2482), f(0x3f79_c3d3), f(0x32a3_945b), f(0x3f79_5a2b),
    f(0xb315_86de), f(0x3f78_f4f0), f(0x32bb_7020), f(0x3f78_942d),
    f(0x3309_2801), f(0x3f78_37f0), f(0xb335_20cc), f(0x3f77_e046),
    f(0xb2e6_f467), f(0x3f77_8d3a), f(0xb310_9bb7), f(0x3f77_3eda),
    f(0x331b_85f2), f(0x3f76_f532), f(0x31c8_68d2), f(0x3f76_b051),
    f(0x3099_b6f1), f(0x3f76_7043), f(0xb2ff_8e5f), f(0x3f76_3516),
    f(0xb305_1aa8), f(0x3f75_fed7), f(0xb2e5_1bf0), f(0x3f75_cd94),
    f(0xb2e2_a0da), f(0x3f75_a15b), f(0xb2dd_f652), f(0x3f75_7a3a),
    f(0xb200_6c56), f(0x3f75_583f), f(0xb2f1_5040), f(0x3f75_3b79),
    f(0xb336_5942), f(0x3f75_23f6), f(0x31d5_6adf), f(0x3f75_11c4),
    f(0x3293_02ae), f(0x3f75_04f3), f(0xb221_63af), f(0x3f74_fd92),
    f(0x32c5_95dc), f(0x3f74_fbaf), f(0xb2d5_5bcb), f(0x3f74_ff5b),
    f(0xb302_e5a2), f(0x3f75_08a4), f(0xb2c4_fd3d), f(0x3f75_179a),
    f(0xb28e_10a1), f(0x3f75_2c4d), f(0xb246_843e), f(0x3f75_46cd),
    f(0x31b3_d0e5), f(0x3f75_672a), f(0xb28d_f5d9), f(0x3f75_8d75),
    f(0xb31a_472b), f(0x3f75_b9be), f(0xafa9_3219), f(0x3f75_ec15),
    f(0x31d1_daf2), f(0x3f76_248c), f(0xb236_2361), f(0x3f76_6334),
    f(0xb305_bf64), f(0x3f76_a81e), f(0xb2ca_69ef), f(0x3f76_f35b),
    f(0xb27c_e182), f(0x3f77_44fd), f(0xb290_c398), f(0x3f77_9d16),
    f(0xb2f2_6443), f(0x3f77_fbb8), f(0xb310_a07b), f(0x3f78_60f5),
    f(0xb1b4_b0da), f(0x3f78_ccdf), f(0x3301_430e), f(0x3f79_3f89),
    f(0xb1da_8a8f), f(0x3f79_b907), f(0x32b0_e688), f(0x3f7a_396a),
    f(0xb1d2_90be), f(0x3f7a_c0c7), f(0x3205_1e65), f(0x3f7b_4f30),
    f(0xb2d5_b899), f(0x3f7b_e4ba), f(0x327e_d6de), f(0x3f7c_8177),
    f(0x31b0_a147), f(0x3f7d_257d), f(0x32ed_aedb), f(0x3f7d_d0df),
    f(0xb215_6afc), f(0x3f7e_83b3), f(0x3151_8a42), f(0x3f7f_3e0c),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The entries of a table as `(t_j, s_j)`, `s_j` rebuilt from its stored bits.
    fn entries(t: &ExpTable) -> Vec<(f64, f64)> {
        let n = 1usize << t.bits;
        (0..n)
            .map(|j| match t.pairs {
                Table::F64(p) => (p[2 * j], f64::from_bits(p[2 * j + 1].to_bits() + ((j as u64) << (52 - t.bits)))),
                Table::F32(p) => {
                    let s = f32::from_bits(p[2 * j + 1].to_bits() + ((j as u32) << (23 - t.bits)));
                    (p[2 * j] as f64, s as f64)
                }
            })
            .collect()
    }

    #[test]
    fn f64_entries_rebuild_their_powers_of_two() {
        for (j, (t, s)) in entries(&EXP_TABLE_F64).into_iter().enumerate() {
            let v = libm::exp2(j as f64 / 128.0);
            // libm's `exp2` is within an ulp; `s (1 + t)` carries about 2^-77.
            assert!((s - v).abs() <= v * f64::EPSILON, "entry {j}: {s} against {v}");
            assert!(t.abs() <= f64::EPSILON, "entry {j}: tail {t}");
            assert!((s + s * t - v).abs() <= v * f64::EPSILON, "entry {j}");
        }
    }

    #[test]
    fn f32_entries_are_the_nearest_floats_and_their_rests() {
        for (j, (t, s)) in entries(&EXP_TABLE_F32).into_iter().enumerate() {
            let v = libm::exp2(j as f64 / 64.0);
            assert_eq!(s, v as f32 as f64, "entry {j}");
            // `v`'s own error, an ulp of `f64`, bounds how well the rest is known.
            let rest = (v - s) / s;
            assert!((t - rest).abs() <= rest.abs() * 2f64.powi(-24) + f64::EPSILON, "entry {j}: {t} against {rest}");
        }
    }
}
