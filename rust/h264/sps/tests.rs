// SPDX-License-Identifier: GPL-2.0
use super::*;
use crate::h264::bits::BitWriter;
use crate::h264::pps::write_pps_rbsp;

fn sps(w_mbs: u16, h_mbs: u16) -> H264Sps {
    H264Sps {
        profile_idc: 100,
        chroma_format_idc: 1,
        pic_width_in_mbs_minus1: w_mbs - 1,
        pic_height_in_map_units_minus1: h_mbs - 1,
        flags: SPS_FLAG_FRAME_MBS_ONLY,
        ..Default::default()
    }
}

#[test]
fn crop_for_1080p() {
    let s = sps(120, 68);
    assert_eq!(crop_units(&s), (2, 2));
    assert_eq!(
        crop_for_visible(&s, 1920, 1080),
        Some(Crop {
            left: 0,
            right: 0,
            top: 0,
            bottom: 4
        })
    );
    assert_eq!(crop_for_visible(&s, 1920, 1088), None);
    // Odd sizes round up to the crop unit.
    assert_eq!(
        crop_for_visible(&s, 1917, 1081),
        Some(Crop {
            left: 0,
            right: 1,
            top: 0,
            bottom: 3
        })
    );
    // A visible size larger than coded is clamped (no underflow).
    assert_eq!(crop_for_visible(&s, 4000, 4000), None);
}

#[test]
fn crop_units_other_formats() {
    let mut s = sps(2, 2);
    s.chroma_format_idc = 0;
    assert_eq!(crop_units(&s), (1, 1));
    s.chroma_format_idc = 2;
    assert_eq!(crop_units(&s), (2, 1));
    s.chroma_format_idc = 3;
    assert_eq!(crop_units(&s), (1, 1));
    s.flags &= !SPS_FLAG_FRAME_MBS_ONLY;
    assert_eq!(crop_units(&s), (1, 2));
    // Baseline carries no chroma_format_idc: 4:2:0 is implied.
    s.profile_idc = 66;
    s.flags |= SPS_FLAG_FRAME_MBS_ONLY;
    assert_eq!(crop_units(&s), (2, 2));
}

#[test]
fn sps_ranges_checked() {
    let mut buf = [0u8; 64];
    let mut w = BitWriter::new(&mut buf);
    let bad = [
        (
            H264Sps {
                log2_max_frame_num_minus4: 13,
                ..sps(1, 1)
            },
            "log2_max_frame_num_minus4",
        ),
        (
            H264Sps {
                pic_order_cnt_type: 3,
                ..sps(1, 1)
            },
            "pic_order_cnt_type",
        ),
        (
            H264Sps {
                seq_parameter_set_id: 32,
                ..sps(1, 1)
            },
            "seq_parameter_set_id",
        ),
        (
            H264Sps {
                constraint_set_flags: 0x40,
                ..sps(1, 1)
            },
            "constraint_set_flags",
        ),
        (
            H264Sps {
                chroma_format_idc: 4,
                ..sps(1, 1)
            },
            "chroma_format_idc",
        ),
    ];
    for (s, what) in bad {
        assert_eq!(
            write_sps_rbsp(&mut w, &s, &SpsExtra::default()),
            Err(HeaderError::Invalid(what))
        );
    }
    let vui = Vui {
        timing: Some(Timing {
            num_units_in_tick: 0,
            time_scale: 1,
            fixed_frame_rate: false,
        }),
        ..Default::default()
    };
    let mut buf = [0u8; 64];
    let mut w = BitWriter::new(&mut buf);
    assert_eq!(
        write_sps_rbsp(
            &mut w,
            &sps(1, 1),
            &SpsExtra {
                crop: None,
                vui: Some(vui)
            }
        ),
        Err(HeaderError::Invalid("timing_info"))
    );
}

#[test]
fn pps_ranges_checked() {
    let mut buf = [0u8; 64];
    let mut w = BitWriter::new(&mut buf);
    let bad = [
        (
            H264Pps {
                pic_init_qp_minus26: 26,
                ..Default::default()
            },
            HeaderError::Invalid("pic_init_qp_minus26"),
        ),
        (
            H264Pps {
                chroma_qp_index_offset: -13,
                ..Default::default()
            },
            HeaderError::Invalid("chroma_qp_index_offset"),
        ),
        (
            H264Pps {
                weighted_bipred_idc: 3,
                ..Default::default()
            },
            HeaderError::Invalid("weighted_bipred_idc"),
        ),
        (
            H264Pps {
                num_slice_groups_minus1: 1,
                ..Default::default()
            },
            HeaderError::Unsupported("slice groups"),
        ),
        (
            H264Pps {
                flags: PPS_FLAG_SCALING_MATRIX_PRESENT,
                ..Default::default()
            },
            HeaderError::Unsupported("scaling matrix"),
        ),
    ];
    for (p, e) in bad {
        assert_eq!(write_pps_rbsp(&mut w, &p), Err(e));
    }
}

#[test]
fn small_buffer_is_an_error_not_a_panic() {
    let s = sps(120, 68);
    let extra = SpsExtra {
        crop: crop_for_visible(&s, 1920, 1080),
        vui: Some(Vui::default()),
    };
    for len in 0..16 {
        let mut buf = std::vec![0u8; len];
        let mut w = BitWriter::new(&mut buf);
        let r = write_sps(&mut w, StartCode::AnnexB, true, &s, &extra);
        if len < 12 {
            assert!(matches!(r, Err(HeaderError::Bits(_))), "len {len}: {r:?}");
        }
    }
}
