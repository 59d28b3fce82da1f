// SPDX-License-Identifier: GPL-2.0
//! End-to-end tests: every stream is decoded by ffmpeg (the oracle) and its output must equal
//! our reconstruction bit for bit, with no decoder complaints.

use super::testutil::*;
use super::*;
use std::format;
use std::vec::Vec;

const CAVLC: Entropy = Entropy::Cavlc;
const CABAC0: Entropy = Entropy::Cabac { init_idc: 0 };

#[test]
fn i_cavlc_single_mb() {
    let f = synthetic(1, 1, 1, 1);
    check_bitexact(&f, &Cfg::new(CAVLC, 26), "i_cavlc_single_mb");
}

#[test]
fn i_cavlc_qps() {
    let f = synthetic(4, 3, 1, 2);
    for qp in [0u8, 10, 26, 40, 51] {
        check_bitexact(&f, &Cfg::new(CAVLC, qp), &format!("i_cavlc_qp{qp}"));
    }
}

#[test]
fn i_cabac_qps() {
    let f = synthetic(4, 3, 1, 3);
    for qp in [0u8, 10, 26, 40, 51] {
        check_bitexact(&f, &Cfg::new(CABAC0, qp), &format!("i_cabac_qp{qp}"));
    }
}

#[test]
fn p_cavlc() {
    let f = synthetic(5, 4, 4, 4);
    for qp in [10u8, 26, 40] {
        check_bitexact(&f, &Cfg::new(CAVLC, qp), &format!("p_cavlc_qp{qp}"));
    }
}

#[test]
fn p_cabac_init_idc() {
    let f = synthetic(5, 4, 4, 5);
    for idc in 0..3u8 {
        check_bitexact(&f, &Cfg::new(Entropy::Cabac { init_idc: idc }, 26), &format!("p_cabac_idc{idc}"));
    }
}

#[test]
fn natural_content_both_coders() {
    let f = lavfi("testsrc2=size=192x128:rate=25", 192, 128, 4);
    for e in [CAVLC, CABAC0] {
        for qp in [0u8, 26, 51] {
            check_bitexact(&f, &Cfg::new(e, qp), &format!("testsrc2_{qp}_{:?}", e == CAVLC));
        }
    }
}

#[test]
fn deblocking_variants() {
    let f = lavfi("testsrc2=size=160x96:rate=25", 160, 96, 3);
    let variants: Vec<(u8, i8, i8, i8)> = std::vec![(1, 0, 0, 0), (2, 0, 0, 3), (0, 6, 6, -12), (0, -6, -6, 12), (0, 3, -2, 5)];
    for (idc, a, b, cqp) in variants {
        for e in [CAVLC, Entropy::Cabac { init_idc: 1 }] {
            let mut c = Cfg::new(e, 30);
            c.deblock = Deblock { disable_idc: idc, alpha_c0_offset_div2: a, beta_offset_div2: b };
            c.chroma_qp_index_offset = cqp;
            check_bitexact(&f, &c, &format!("deblock_{idc}_{a}_{b}_{cqp}"));
        }
    }
}
