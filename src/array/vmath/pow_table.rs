//! `pow`'s table of logarithms (ARM's optimized-routines `pow_log_data.c`, `N = 128`): the
//! reduced argument `z` in `[0x1.69555p-1, 0x1.69555p0)` falls in one of `N` subintervals (cut by
//! the bits of `z`); subinterval `i` has a point `c` near its centre where `1/c` has few bits
//! (`round(N/centre)/N` below 1, `round(2N/centre)/(2N)` from 1 on), so `z/c - 1` is exact.
//! Entry `i` is `1/c`, `log c` rounded to a multiple of `2^-43` (so `k ln2hi + log c` is exact),
//! the rest of `log c`, and a zero, at `4i` to `4i + 3` (two pairs for [`Lanes::gather_pair`]).
//! Computed at 300 bits by `mpmath` from those rules; the test below checks every entry against
//! `libm`'s `log`, and the first and last against the published table.
//!
//! [`Lanes::gather_pair`]: super::Lanes::gather_pair

use super::Table;

/// A float of bits `b`.
const fn d(b: u64) -> f64 {
    f64::from_bits(b)
}

/// The table, four floats an entry.
pub static POW_LOG_TABLE: Table = Table::F64(&ENTRIES);

#[rustfmt::skip]
static ENTRIES: [f64; 512] = [
    d(0x3ff6_a000_0000_0000), d(0xbfd6_2c82_f2b9_c800), d(0x3cfa_b424_2837_5680), d(0),
    d(0x3ff6_8000_0000_0000), d(0xbfd5_d1bd_bf58_0800), d(0xbd1c_a508_d8e0_f720), d(0),
    d(0x3ff6_6000_0000_0000), d(0xbfd5_7677_1745_5800), d(0xbd23_62a4_d5b6_506d), d(0),
    d(0x3ff6_4000_0000_0000), d(0xbfd5_1aad_872d_f800), d(0xbce6_84e4_9eb0_67d5), d(0),
    d(0x3ff6_2000_0000_0000), d(0xbfd4_be5f_9577_7800), d(0xbd04_1b69_9329_3ee0), d(0),
    d(0x3ff6_0000_0000_0000), d(0xbfd4_618b_c21c_6000), d(0x3d13_d82f_484c_84cc), d(0),
    d(0x3ff5_e000_0000_0000), d(0xbfd4_0430_8686_a800), d(0x3cdc_42f3_ed82_0b3a), d(0),
    d(0x3ff5_c000_0000_0000), d(0xbfd3_a64c_5569_4800), d(0x3d20_b1c6_8651_9460), d(0),
    d(0x3ff5_a000_0000_0000), d(0xbfd3_47dd_9a98_8000), d(0x3d25_594d_d4c5_8092), d(0),
    d(0x3ff5_8000_0000_0000), d(0xbfd2_e8e2_bae1_2000), d(0x3d26_7b1e_99b7_2bd8), d(0),
    d(0x3ff5_6000_0000_0000), d(0xbfd2_895a_13de_8800), d(0x3d15_ca14_b6cf_b03f), d(0),
    d(0x3ff5_6000_0000_0000), d(0xbfd2_895a_13de_8800), d(0x3d15_ca14_b6cf_b03f), d(0),
    d(0x3ff5_4000_0000_0000), d(0xbfd2_2941_fbcf_7800), d(0xbd16_5a24_2853_da76), d(0),
    d(0x3ff5_2000_0000_0000), d(0xbfd1_c898_c169_9800), d(0xbd1f_afbc_68e7_5404), d(0),
    d(0x3ff5_0000_0000_0000), d(0xbfd1_675c_abab_a800), d(0x3d1f_1fc6_3382_a8f0), d(0),
    d(0x3ff4_e000_0000_0000), d(0xbfd1_058b_f9ae_4800), d(0xbd26_a8c4_fd05_5a66), d(0),
    d(0x3ff4_c000_0000_0000), d(0xbfd0_a324_e273_9000), d(0xbd0c_6bee_7ef4_030e), d(0),
    d(0x3ff4_a000_0000_0000), d(0xbfd0_4025_94b4_d000), d(0xbcf0_36b8_9ef4_2d7f), d(0),
    d(0x3ff4_a000_0000_0000), d(0xbfd0_4025_94b4_d000), d(0xbcf0_36b8_9ef4_2d7f), d(0),
    d(0x3ff4_8000_0000_0000), d(0xbfcf_b918_6d5e_4000), d(0x3d0d_572a_ab99_3c87), d(0),
    d(0x3ff4_6000_0000_0000), d(0xbfce_f0ad_cbdc_6000), d(0x3d2b_26b7_9c86_af24), d(0),
    d(0x3ff4_4000_0000_0000), d(0xbfce_2707_6e2a_f000), d(0xbd17_2f4f_543f_ff10), d(0),
    d(0x3ff4_2000_0000_0000), d(0xbfcd_5c21_6b4f_c000), d(0x3d21_ba91_bbca_681b), d(0),
    d(0x3ff4_0000_0000_0000), d(0xbfcc_8ff7_c79a_a000), d(0x3d27_794f_689f_8434), d(0),
    d(0x3ff4_0000_0000_0000), d(0xbfcc_8ff7_c79a_a000), d(0x3d27_794f_689f_8434), d(0),
    d(0x3ff3_e000_0000_0000), d(0xbfcb_c286_742d_9000), d(0x3d19_4eb0_318b_b78f), d(0),
    d(0x3ff3_c000_0000_0000), d(0xbfca_f3c9_4e80_c000), d(0x3cba_4e63_3fcd_9066), d(0),
    d(0x3ff3_a000_0000_0000), d(0xbfca_23bc_1fe2_b000), d(0xbd25_8c64_dc46_c1ea), d(0),
    d(0x3ff3_a000_0000_0000), d(0xbfca_23bc_1fe2_b000), d(0xbd25_8c64_dc46_c1ea), d(0),
    d(0x3ff3_8000_0000_0000), d(0xbfc9_525a_9cf4_5000), d(0xbd2a_d1d9_04c1_d4e3), d(0),
    d(0x3ff3_6000_0000_0000), d(0xbfc8_7fa0_6520_d000), d(0x3d2b_bdbf_7fdb_fa09), d(0),
    d(0x3ff3_4000_0000_0000), d(0xbfc7_ab89_0210_e000), d(0x3d2b_db90_7253_4a58), d(0),
    d(0x3ff3_4000_0000_0000), d(0xbfc7_ab89_0210_e000), d(0x3d2b_db90_7253_4a58), d(0),
    d(0x3ff3_2000_0000_0000), d(0xbfc6_d60f_e719_d000), d(0xbd10_e46a_a3b2_e266), d(0),
    d(0x3ff3_0000_0000_0000), d(0xbfc5_ff30_70a7_9000), d(0xbd1e_9e43_9f10_5039), d(0),
    d(0x3ff3_0000_0000_0000), d(0xbfc5_ff30_70a7_9000), d(0xbd1e_9e43_9f10_5039), d(0),
    d(0x3ff2_e000_0000_0000), d(0xbfc5_26e5_e3a1_b000), d(0xbd20_de8b_9007_5b8f), d(0),
    d(0x3ff2_c000_0000_0000), d(0xbfc4_4d2b_6ccb_8000), d(0x3d17_0cc1_6135_783c), d(0),
    d(0x3ff2_c000_0000_0000), d(0xbfc4_4d2b_6ccb_8000), d(0x3d17_0cc1_6135_783c), d(0),
    d(0x3ff2_a000_0000_0000), d(0xbfc3_71fc_201e_9000), d(0x3cf1_7886_4d27_543a), d(0),
    d(0x3ff2_8000_0000_0000), d(0xbfc2_9552_f81f_f000), d(0xbd24_8d30_1771_c408), d(0),
    d(0x3ff2_6000_0000_0000), d(0xbfc1_b72a_d52f_6000), d(0xbd2e_80a4_1811_a396), d(0),
    d(0x3ff2_6000_0000_0000), d(0xbfc1_b72a_d52f_6000), d(0xbd2e_80a4_1811_a396), d(0),
    d(0x3ff2_4000_0000_0000), d(0xbfc0_d77e_7cd0_9000), d(0x3d0a_6996_88e8_5bf4), d(0),
    d(0x3ff2_4000_0000_0000), d(0xbfc0_d77e_7cd0_9000), d(0x3d0a_6996_88e8_5bf4), d(0),
    d(0x3ff2_2000_0000_0000), d(0xbfbf_ec91_31db_e000), d(0xbd25_7554_5ca3_33f2), d(0),
    d(0x3ff2_0000_0000_0000), d(0xbfbe_2707_6e2b_0000), d(0x3d2a_342c_2af0_003c), d(0),
    d(0x3ff2_0000_0000_0000), d(0xbfbe_2707_6e2b_0000), d(0x3d2a_342c_2af0_003c), d(0),
    d(0x3ff1_e000_0000_0000), d(0xbfbc_5e54_8f5b_c000), d(0xbd1d_0c57_585f_be06), d(0),
    d(0x3ff1_c000_0000_0000), d(0xbfba_926d_3a4a_e000), d(0x3d25_3935_e85b_aac8), d(0),
    d(0x3ff1_c000_0000_0000), d(0xbfba_926d_3a4a_e000), d(0x3d25_3935_e85b_aac8), d(0),
    d(0x3ff1_a000_0000_0000), d(0xbfb8_c345_d631_a000), d(0x3d13_7c29_4d2f_5668), d(0),
    d(0x3ff1_a000_0000_0000), d(0xbfb8_c345_d631_a000), d(0x3d13_7c29_4d2f_5668), d(0),
    d(0x3ff1_8000_0000_0000), d(0xbfb6_f0d2_8ae5_6000), d(0xbd26_9737_c933_73da), d(0),
    d(0x3ff1_6000_0000_0000), d(0xbfb5_1b07_3f06_2000), d(0x3d1f_025b_61c6_5e57), d(0),
    d(0x3ff1_6000_0000_0000), d(0xbfb5_1b07_3f06_2000), d(0x3d1f_025b_61c6_5e57), d(0),
    d(0x3ff1_4000_0000_0000), d(0xbfb3_41d7_961b_e000), d(0x3d2c_5eda_ccf9_13df), d(0),
    d(0x3ff1_4000_0000_0000), d(0xbfb3_41d7_961b_e000), d(0x3d2c_5eda_ccf9_13df), d(0),
    d(0x3ff1_2000_0000_0000), d(0xbfb1_6536_eea3_8000), d(0x3d14_7c5e_768f_a309), d(0),
    d(0x3ff1_0000_0000_0000), d(0xbfaf_0a30_c011_8000), d(0x3d2d_599e_8336_8e91), d(0),
    d(0x3ff1_0000_0000_0000), d(0xbfaf_0a30_c011_8000), d(0x3d2d_599e_8336_8e91), d(0),
    d(0x3ff0_e000_0000_0000), d(0xbfab_42dd_7119_8000), d(0x3d1c_827a_e5d6_704c), d(0),
    d(0x3ff0_e000_0000_0000), d(0xbfab_42dd_7119_8000), d(0x3d1c_827a_e5d6_704c), d(0),
    d(0x3ff0_c000_0000_0000), d(0xbfa7_7458_f632_c000), d(0xbd2c_fc46_34f2_a1ee), d(0),
    d(0x3ff0_c000_0000_0000), d(0xbfa7_7458_f632_c000), d(0xbd2c_fc46_34f2_a1ee), d(0),
    d(0x3ff0_a000_0000_0000), d(0xbfa3_9e87_b9fe_c000), d(0x3cf5_02b7_f526_feaa), d(0),
    d(0x3ff0_a000_0000_0000), d(0xbfa3_9e87_b9fe_c000), d(0x3cf5_02b7_f526_feaa), d(0),
    d(0x3ff0_8000_0000_0000), d(0xbf9f_829b_0e78_0000), d(0xbd29_8026_7c7e_09e4), d(0),
    d(0x3ff0_8000_0000_0000), d(0xbf9f_829b_0e78_0000), d(0xbd29_8026_7c7e_09e4), d(0),
    d(0x3ff0_6000_0000_0000), d(0xbf97_b91b_07d5_8000), d(0xbd28_8d54_93fa_a639), d(0),
    d(0x3ff0_4000_0000_0000), d(0xbf8f_c0a8_b0fc_0000), d(0xbcdf_1e7c_f6d3_a69c), d(0),
    d(0x3ff0_4000_0000_0000), d(0xbf8f_c0a8_b0fc_0000), d(0xbcdf_1e7c_f6d3_a69c), d(0),
    d(0x3ff0_2000_0000_0000), d(0xbf7f_e02a_6b10_0000), d(0xbd19_e23f_0dda_40e4), d(0),
    d(0x3ff0_2000_0000_0000), d(0xbf7f_e02a_6b10_0000), d(0xbd19_e23f_0dda_40e4), d(0),
    d(0x3ff0_0000_0000_0000), d(0x0000_0000_0000_0000), d(0x0000_0000_0000_0000), d(0),
    d(0x3ff0_0000_0000_0000), d(0x0000_0000_0000_0000), d(0x0000_0000_0000_0000), d(0),
    d(0x3fef_c000_0000_0000), d(0x3f80_1015_7589_0000), d(0xbd10_c76b_999d_2be8), d(0),
    d(0x3fef_8000_0000_0000), d(0x3f90_2056_5893_8000), d(0xbd23_dc5b_06e2_f7d2), d(0),
    d(0x3fef_4000_0000_0000), d(0x3f98_4925_28c9_0000), d(0xbd2a_a0ba_325a_0c34), d(0),
    d(0x3fef_0000_0000_0000), d(0x3fa0_415d_89e7_4000), d(0x3d01_11c0_5cf1_d753), d(0),
    d(0x3fee_c000_0000_0000), d(0x3fa4_66ae_d42e_0000), d(0xbd2c_1673_75bd_fd28), d(0),
    d(0x3fee_8000_0000_0000), d(0x3fa8_94aa_149f_c000), d(0xbd19_7995_d05a_267d), d(0),
    d(0x3fee_4000_0000_0000), d(0x3fac_cb73_cddd_c000), d(0xbd1a_68f2_47d8_2807), d(0),
    d(0x3fee_2000_0000_0000), d(0x3fae_ea31_c006_c000), d(0xbd0e_113e_4fc9_3b7b), d(0),
    d(0x3fed_e000_0000_0000), d(0x3fb1_973b_d146_6000), d(0xbd25_325d_560d_9e9b), d(0),
    d(0x3fed_a000_0000_0000), d(0x3fb3_bdf5_a7d1_e000), d(0x3d2c_c85e_a5db_4ed7), d(0),
    d(0x3fed_6000_0000_0000), d(0x3fb5_e95a_4d97_a000), d(0xbd2c_6906_3c5d_1d1e), d(0),
    d(0x3fed_4000_0000_0000), d(0x3fb7_00d3_0aea_c000), d(0x3cec_1e8d_a99d_ed32), d(0),
    d(0x3fed_0000_0000_0000), d(0x3fb9_335e_5d59_4000), d(0x3d23_115c_3abd_47da), d(0),
    d(0x3fec_c000_0000_0000), d(0x3fbb_6ac8_8dad_6000), d(0xbd13_9080_2bf7_68e5), d(0),
    d(0x3fec_a000_0000_0000), d(0x3fbc_8858_01bc_4000), d(0x3d26_46d1_c65a_acd3), d(0),
    d(0x3fec_6000_0000_0000), d(0x3fbe_c739_830a_2000), d(0xbd2d_c068_afe6_45e0), d(0),
    d(0x3fec_4000_0000_0000), d(0x3fbf_e891_39db_e000), d(0xbd25_34d6_4fa1_0afd), d(0),
    d(0x3fec_0000_0000_0000), d(0x3fc1_178e_8227_e000), d(0x3d21_ef78_ce2d_07f2), d(0),
    d(0x3feb_e000_0000_0000), d(0x3fc1_aa2b_7e23_f000), d(0x3d2c_a78e_4438_9934), d(0),
    d(0x3feb_a000_0000_0000), d(0x3fc2_d161_0c86_8000), d(0x3d03_9d6c_cb81_b4a1), d(0),
    d(0x3feb_8000_0000_0000), d(0x3fc3_65fc_b015_9000), d(0x3cc6_2fa8_234b_7289), d(0),
    d(0x3feb_4000_0000_0000), d(0x3fc4_913d_8333_b000), d(0x3d25_8379_54fd_b678), d(0),
    d(0x3feb_2000_0000_0000), d(0x3fc5_27e5_e4a1_b000), d(0x3d26_33e8_e569_7dc7), d(0),
    d(0x3fea_e000_0000_0000), d(0x3fc6_574e_be8c_1000), d(0x3d19_cf8b_2c3c_2e78), d(0),
    d(0x3fea_c000_0000_0000), d(0x3fc6_f012_8b75_7000), d(0xbd25_118d_e59c_21e1), d(0),
    d(0x3fea_a000_0000_0000), d(0x3fc7_898d_8544_5000), d(0xbd1c_6610_7091_4305), d(0),
    d(0x3fea_6000_0000_0000), d(0x3fc8_beaf_eb39_0000), d(0xbd07_3d54_aae9_2cd1), d(0),
    d(0x3fea_4000_0000_0000), d(0x3fc9_5a5a_dcf7_0000), d(0x3d07_f228_58a0_ff6f), d(0),
    d(0x3fea_0000_0000_0000), d(0x3fca_93ed_3c8a_e000), d(0xbd28_7243_5056_2169), d(0),
    d(0x3fe9_e000_0000_0000), d(0x3fcb_31d8_575b_d000), d(0xbd0c_358d_4eac_e1aa), d(0),
    d(0x3fe9_c000_0000_0000), d(0x3fcb_d087_383b_e000), d(0xbd2d_4bc4_5954_12b6), d(0),
    d(0x3fe9_a000_0000_0000), d(0x3fcc_6ffb_c6f0_1000), d(0xbcf1_ec72_c596_2bd2), d(0),
    d(0x3fe9_6000_0000_0000), d(0x3fcd_b13d_b0d4_9000), d(0xbd2a_ff2a_f715_b035), d(0),
    d(0x3fe9_4000_0000_0000), d(0x3fce_530e_ffe7_1000), d(0x3cc2_1227_6041_f430), d(0),
    d(0x3fe9_2000_0000_0000), d(0x3fce_f5ad_e4dd_0000), d(0xbcca_2115_65bb_8e11), d(0),
    d(0x3fe9_0000_0000_0000), d(0x3fcf_991c_6cb3_b000), d(0x3d1b_cbec_ca0c_df30), d(0),
    d(0x3fe8_c000_0000_0000), d(0x3fd0_7138_604d_5800), d(0x3cf8_9cdb_16ed_4e91), d(0),
    d(0x3fe8_a000_0000_0000), d(0x3fd0_c42d_6761_6000), d(0x3d27_188b_163c_eae9), d(0),
    d(0x3fe8_8000_0000_0000), d(0x3fd1_178e_8227_e800), d(0xbd2c_210e_63a5_f01c), d(0),
    d(0x3fe8_6000_0000_0000), d(0x3fd1_6b5c_cbac_f800), d(0x3d2b_9acd_f7a5_1681), d(0),
    d(0x3fe8_4000_0000_0000), d(0x3fd1_bf99_635a_6800), d(0x3d2c_a6ed_5147_bdb7), d(0),
    d(0x3fe8_2000_0000_0000), d(0x3fd2_1445_6d0e_b800), d(0x3d0a_87de_ba46_baea), d(0),
    d(0x3fe7_e000_0000_0000), d(0x3fd2_bef0_7cdc_9000), d(0x3d2a_9cfa_4a50_04f4), d(0),
    d(0x3fe7_c000_0000_0000), d(0x3fd3_14f1_e1d3_6000), d(0xbd28_e27a_d321_3cb8), d(0),
    d(0x3fe7_a000_0000_0000), d(0x3fd3_6b67_76be_1000), d(0x3d11_6ecd_b0f1_77c8), d(0),
    d(0x3fe7_8000_0000_0000), d(0x3fd3_c252_7733_3000), d(0x3d18_3b54_b606_bd5c), d(0),
    d(0x3fe7_6000_0000_0000), d(0x3fd4_19b4_23d5_e800), d(0x3d08_e436_ec90_e09d), d(0),
    d(0x3fe7_4000_0000_0000), d(0x3fd4_718d_c271_c800), d(0xbd2f_27ce_0967_d675), d(0),
    d(0x3fe7_2000_0000_0000), d(0x3fd4_c9e0_9e17_3000), d(0xbd2e_2089_1b0a_d8a4), d(0),
    d(0x3fe7_0000_0000_0000), d(0x3fd5_22ae_0738_a000), d(0x3d2e_be70_8164_c759), d(0),
    d(0x3fe6_e000_0000_0000), d(0x3fd5_7bf7_53c8_d000), d(0x3d1f_aded_ee5d_40ef), d(0),
    d(0x3fe6_c000_0000_0000), d(0x3fd5_d5bd_df59_6000), d(0xbd0a_0b2a_08a4_65dc), d(0),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_follow_their_rules() {
        let off = 0x3fe6_9555_0000_0000u64;
        for i in 0..128u64 {
            let (invc, logc, tail) =
                (ENTRIES[4 * i as usize], ENTRIES[4 * i as usize + 1], ENTRIES[4 * i as usize + 2]);
            let lo = f64::from_bits(off + (i << 45));
            let hi = f64::from_bits(off + ((i + 1) << 45));
            let centre = 0.5 * (lo + hi);
            let want = if centre < 1.0 { (128.0 / centre).round() / 128.0 } else { (256.0 / centre).round() / 256.0 };
            assert_eq!(invc, want, "entry {i}");
            assert!((lo * invc - 1.0).abs() < 1.0 / 128.0 && (hi * invc - 1.0).abs() < 1.0 / 128.0, "entry {i}");
            assert_eq!((logc * 2f64.powi(43)).fract(), 0.0, "entry {i}");
            let log_c = -libm::log(invc);
            assert!((logc + tail - log_c).abs() <= log_c.abs() * f64::EPSILON + 1e-300, "entry {i}");
        }
        // ARM's published first and last entries.
        assert_eq!(
            &ENTRIES[..3],
            &[
                f64::from_bits(0x3ff6_a000_0000_0000),
                -f64::from_bits(0x3fd6_2c82_f2b9_c800),
                f64::from_bits(0x3cfa_b424_2837_5680)
            ]
        );
        assert_eq!(ENTRIES[4 * 127], f64::from_bits(0x3fe6_c000_0000_0000));
    }
}
