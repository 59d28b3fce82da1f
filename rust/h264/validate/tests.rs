// SPDX-License-Identifier: GPL-2.0
//! One test per row of the series' ENCODE_PARAMS validation (uapi.md §2.5 "Validation").
use super::*;

fn p_frame() -> H264EncodeParams {
    H264EncodeParams {
        slice_type: SLICE_TYPE_P,
        nal_ref_idc: 2,
        frame_num: 3,
        pic_order_cnt_lsb: 6,
        flags: 0,
        ..H264EncodeParams::DEFAULT_CTRL
    }
}

#[test]
fn idr_requires_i() {
    let mut p = H264EncodeParams {
        flags: ENCODE_FLAG_IDR_PIC,
        ..p_frame()
    };
    assert_eq!(
        validate_encode_params(&mut p),
        Err(ValidateError::IdrNotIntra)
    );
    let mut d = H264EncodeParams::DEFAULT_CTRL;
    assert_eq!(validate_encode_params(&mut d), Ok(()));
}

#[test]
fn ranges_refused() {
    let cases: [(H264EncodeParams, &str); 9] = [
        (
            H264EncodeParams {
                colour_plane_id: 3,
                ..p_frame()
            },
            "colour_plane_id",
        ),
        (
            H264EncodeParams {
                cabac_init_idc: 3,
                ..p_frame()
            },
            "cabac_init_idc",
        ),
        (
            H264EncodeParams {
                disable_deblocking_filter_idc: 3,
                ..p_frame()
            },
            "disable_deblocking_filter_idc",
        ),
        (
            H264EncodeParams {
                slice_alpha_c0_offset_div2: -7,
                ..p_frame()
            },
            "slice_alpha_c0_offset_div2",
        ),
        (
            H264EncodeParams {
                slice_beta_offset_div2: 7,
                ..p_frame()
            },
            "slice_beta_offset_div2",
        ),
        (
            H264EncodeParams {
                num_ref_idx_l0_active_minus1: 32,
                ..p_frame()
            },
            "num_ref_idx_l0_active_minus1",
        ),
        (
            H264EncodeParams {
                num_ref_idx_l1_active_minus1: 32,
                ..p_frame()
            },
            "num_ref_idx_l1_active_minus1",
        ),
        (
            H264EncodeParams {
                slice_type: 5,
                ..p_frame()
            },
            "slice_type",
        ),
        (
            H264EncodeParams {
                nal_ref_idc: 4,
                ..p_frame()
            },
            "nal_ref_idc",
        ),
    ];
    for (mut p, what) in cases {
        assert_eq!(
            validate_encode_params(&mut p),
            Err(ValidateError::Range(what))
        );
    }
    // The limits themselves are accepted.
    let mut p = H264EncodeParams {
        colour_plane_id: 2,
        cabac_init_idc: 2,
        disable_deblocking_filter_idc: 2,
        slice_alpha_c0_offset_div2: -6,
        slice_beta_offset_div2: 6,
        num_ref_idx_l0_active_minus1: 31,
        ..p_frame()
    };
    assert_eq!(validate_encode_params(&mut p), Ok(()));
}

#[test]
fn direct_spatial_cleared_unless_b() {
    let mut p = H264EncodeParams {
        flags: ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED,
        ..p_frame()
    };
    validate_encode_params(&mut p).unwrap();
    assert_eq!(p.flags & ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED, 0);
    let mut b = H264EncodeParams {
        slice_type: SLICE_TYPE_B,
        ..p
    };
    b.flags |= ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED;
    b.num_ref_idx_l1_active_minus1 = 3;
    validate_encode_params(&mut b).unwrap();
    assert_ne!(b.flags & ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED, 0);
    assert_eq!(b.num_ref_idx_l1_active_minus1, 3);
}

#[test]
fn long_term_cleared_unless_idr_reference() {
    let mut p = H264EncodeParams {
        flags: ENCODE_FLAG_LONG_TERM_REFERENCE,
        ..p_frame()
    };
    validate_encode_params(&mut p).unwrap();
    assert_eq!(p.flags & ENCODE_FLAG_LONG_TERM_REFERENCE, 0);
    let mut i = H264EncodeParams::DEFAULT_CTRL;
    i.flags |= ENCODE_FLAG_LONG_TERM_REFERENCE;
    validate_encode_params(&mut i).unwrap();
    assert_ne!(i.flags & ENCODE_FLAG_LONG_TERM_REFERENCE, 0);
    i.nal_ref_idc = 0;
    validate_encode_params(&mut i).unwrap();
    assert_eq!(i.flags & ENCODE_FLAG_LONG_TERM_REFERENCE, 0);
}

#[test]
fn ref_idx_zeroed_by_type() {
    for t in [SLICE_TYPE_I, SLICE_TYPE_SI] {
        let mut p = H264EncodeParams {
            slice_type: t,
            num_ref_idx_l0_active_minus1: 4,
            num_ref_idx_l1_active_minus1: 4,
            flags: 0,
            ..p_frame()
        };
        validate_encode_params(&mut p).unwrap();
        assert_eq!(
            (
                p.num_ref_idx_l0_active_minus1,
                p.num_ref_idx_l1_active_minus1
            ),
            (0, 0)
        );
    }
    let mut p = H264EncodeParams {
        num_ref_idx_l0_active_minus1: 4,
        num_ref_idx_l1_active_minus1: 4,
        ..p_frame()
    };
    validate_encode_params(&mut p).unwrap();
    assert_eq!(
        (
            p.num_ref_idx_l0_active_minus1,
            p.num_ref_idx_l1_active_minus1
        ),
        (4, 0)
    );
}

#[test]
fn idr_zeroes_frame_num_and_poc_else_idr_pic_id() {
    let mut i = H264EncodeParams {
        frame_num: 5,
        pic_order_cnt_lsb: 9,
        delta_pic_order_cnt_bottom: 1,
        delta_pic_order_cnt0: 2,
        delta_pic_order_cnt1: 3,
        idr_pic_id: 7,
        ..H264EncodeParams::DEFAULT_CTRL
    };
    validate_encode_params(&mut i).unwrap();
    assert_eq!(
        (
            i.frame_num,
            i.pic_order_cnt_lsb,
            i.delta_pic_order_cnt_bottom,
            i.delta_pic_order_cnt0,
            i.delta_pic_order_cnt1
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(i.idr_pic_id, 7);
    let mut p = H264EncodeParams {
        idr_pic_id: 7,
        ..p_frame()
    };
    validate_encode_params(&mut p).unwrap();
    assert_eq!((p.idr_pic_id, p.frame_num, p.pic_order_cnt_lsb), (0, 3, 6));
}

#[test]
fn reserved_zeroed() {
    let mut p = H264EncodeParams {
        reserved0: [1, 2],
        reserved1: [1; 6],
        ..p_frame()
    };
    validate_encode_params(&mut p).unwrap();
    assert_eq!((p.reserved0, p.reserved1), ([0; 2], [0; 6]));
}

#[test]
fn sps_pps_ranges() {
    assert!(validate_sps(&H264Sps::default()).is_ok());
    assert_eq!(
        validate_sps(&H264Sps {
            max_num_ref_frames: 17,
            ..Default::default()
        }),
        Err(ValidateError::Range("max_num_ref_frames"))
    );
    assert_eq!(
        validate_sps(&H264Sps {
            pic_order_cnt_type: 3,
            ..Default::default()
        }),
        Err(ValidateError::Range("pic_order_cnt_type"))
    );
    assert!(validate_pps(&H264Pps::default()).is_ok());
    assert_eq!(
        validate_pps(&H264Pps {
            pic_init_qp_minus26: -27,
            ..Default::default()
        }),
        Err(ValidateError::Range("pic_init_qp_minus26"))
    );
}
