// SPDX-License-Identifier: GPL-2.0
use super::*;
use crate::h264::bits::BitWriter;

fn sps() -> H264Sps {
    H264Sps {
        profile_idc: 77,
        chroma_format_idc: 1,
        max_num_ref_frames: 1,
        flags: SPS_FLAG_FRAME_MBS_ONLY,
        ..Default::default()
    }
}

fn p_frame() -> H264EncodeParams {
    H264EncodeParams {
        slice_type: SLICE_TYPE_P,
        nal_ref_idc: 2,
        frame_num: 1,
        flags: 0,
        ..Default::default()
    }
}

fn write(sps: &H264Sps, pps: &H264Pps, p: &H264EncodeParams) -> Result<(), HeaderError> {
    let mut buf = [0u8; 64];
    let mut w = BitWriter::new(&mut buf);
    write_slice_header(&mut w, sps, pps, p, 0)
}

#[test]
fn refuses_unsupported_slices() {
    let pps = H264Pps::default();
    for (t, e) in [
        (SLICE_TYPE_B, HeaderError::Unsupported("B slices")),
        (SLICE_TYPE_SP, HeaderError::Unsupported("SP/SI slices")),
        (SLICE_TYPE_SI, HeaderError::Unsupported("SP/SI slices")),
        (5, HeaderError::Invalid("slice_type")),
    ] {
        assert_eq!(
            write(
                &sps(),
                &pps,
                &H264EncodeParams {
                    slice_type: t,
                    ..p_frame()
                }
            ),
            Err(e)
        );
    }
    let idr_p = H264EncodeParams {
        flags: ENCODE_FLAG_IDR_PIC,
        frame_num: 0,
        ..p_frame()
    };
    assert_eq!(
        write(&sps(), &pps, &idr_p),
        Err(HeaderError::Invalid("IDR must be an I slice"))
    );
}

#[test]
fn refuses_out_of_range_fields() {
    let pps = H264Pps::default();
    let cases: [(H264EncodeParams, &str); 7] = [
        (
            H264EncodeParams {
                frame_num: 16,
                ..p_frame()
            },
            "frame_num",
        ),
        (
            H264EncodeParams {
                pic_order_cnt_lsb: 16,
                ..p_frame()
            },
            "pic_order_cnt_lsb",
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
                slice_alpha_c0_offset_div2: 7,
                ..p_frame()
            },
            "slice_alpha_c0_offset_div2",
        ),
        (
            H264EncodeParams {
                slice_qp_delta: 26,
                ..p_frame()
            },
            "slice QP",
        ),
        (
            H264EncodeParams {
                pic_parameter_set_id: 1,
                ..p_frame()
            },
            "pic_parameter_set_id",
        ),
        (
            H264EncodeParams {
                flags: ENCODE_FLAG_FIELD_PIC,
                ..p_frame()
            },
            "field pictures",
        ),
    ];
    for (p, what) in cases {
        assert_eq!(write(&sps(), &pps, &p), Err(HeaderError::Invalid(what)));
    }
    assert!(write(&sps(), &pps, &p_frame()).is_ok());
}

#[test]
fn refuses_unsupported_pps_features() {
    let p = p_frame();
    let wp = H264Pps {
        flags: PPS_FLAG_WEIGHTED_PRED,
        ..Default::default()
    };
    assert_eq!(
        write(&sps(), &wp, &p),
        Err(HeaderError::Unsupported("weighted prediction"))
    );
    let sg = H264Pps {
        num_slice_groups_minus1: 1,
        ..Default::default()
    };
    assert_eq!(
        write(&sps(), &sg, &p),
        Err(HeaderError::Unsupported("slice groups"))
    );
    let rp = H264Pps {
        flags: PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT,
        ..Default::default()
    };
    assert_eq!(
        write(&sps(), &rp, &p),
        Err(HeaderError::Unsupported("redundant pictures"))
    );
}

#[test]
fn idr_needs_reference_idc() {
    let mut buf = [0u8; 16];
    let mut w = BitWriter::new(&mut buf);
    let p = H264EncodeParams {
        nal_ref_idc: 0,
        ..H264EncodeParams::DEFAULT_CTRL
    };
    assert_eq!(
        begin_slice_nal(&mut w, StartCode::AnnexB, true, &p),
        Err(HeaderError::Invalid("IDR with nal_ref_idc 0"))
    );
}
