// SPDX-License-Identifier: GPL-2.0
use super::*;
use std::format;
use std::path::PathBuf;
use std::process::Command;
use std::string::String;
use std::vec::Vec;

/// One line per checked quantity: `name value`, printed by the C side and computed here.
fn rust_layout() -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = Vec::new();
    macro_rules! off {
        ($cty:literal, $rty:ty, $($f:ident),*) => {
            $( v.push((format!("{}.{}", $cty, stringify!($f)), offset_of!($rty, $f) as u64)); )*
        };
    }
    v.push(("sizeof.sps".into(), size_of::<H264Sps>() as u64));
    v.push(("sizeof.pps".into(), size_of::<H264Pps>() as u64));
    v.push(("sizeof.enc".into(), size_of::<H264EncodeParams>() as u64));
    v.push((
        "alignof.enc".into(),
        core::mem::align_of::<H264EncodeParams>() as u64,
    ));
    off!(
        "sps",
        H264Sps,
        profile_idc,
        constraint_set_flags,
        level_idc,
        seq_parameter_set_id,
        chroma_format_idc,
        bit_depth_luma_minus8,
        bit_depth_chroma_minus8,
        log2_max_frame_num_minus4,
        pic_order_cnt_type,
        log2_max_pic_order_cnt_lsb_minus4,
        max_num_ref_frames,
        num_ref_frames_in_pic_order_cnt_cycle,
        offset_for_ref_frame,
        offset_for_non_ref_pic,
        offset_for_top_to_bottom_field,
        pic_width_in_mbs_minus1,
        pic_height_in_map_units_minus1,
        flags
    );
    off!(
        "pps",
        H264Pps,
        pic_parameter_set_id,
        seq_parameter_set_id,
        num_slice_groups_minus1,
        num_ref_idx_l0_default_active_minus1,
        num_ref_idx_l1_default_active_minus1,
        weighted_bipred_idc,
        pic_init_qp_minus26,
        pic_init_qs_minus26,
        chroma_qp_index_offset,
        second_chroma_qp_index_offset,
        flags
    );
    off!(
        "enc",
        H264EncodeParams,
        nal_ref_idc,
        slice_type,
        pic_parameter_set_id,
        colour_plane_id,
        frame_num,
        idr_pic_id,
        pic_order_cnt_lsb,
        reserved0,
        delta_pic_order_cnt_bottom,
        delta_pic_order_cnt0,
        delta_pic_order_cnt1,
        num_ref_idx_l0_active_minus1,
        num_ref_idx_l1_active_minus1,
        cabac_init_idc,
        slice_qp_delta,
        disable_deblocking_filter_idc,
        slice_alpha_c0_offset_div2,
        slice_beta_offset_div2,
        reserved1,
        flags
    );
    let consts: &[(&str, u64)] = &[
        (
            "V4L2_CID_STATELESS_H264_ENCODE_PARAMS",
            CID_STATELESS_H264_ENCODE_PARAMS as u64,
        ),
        ("V4L2_CID_STATELESS_H264_SPS", CID_STATELESS_H264_SPS as u64),
        ("V4L2_CID_STATELESS_H264_PPS", CID_STATELESS_H264_PPS as u64),
        (
            "V4L2_CID_STATELESS_H264_START_CODE",
            CID_STATELESS_H264_START_CODE as u64,
        ),
        (
            "V4L2_CTRL_TYPE_H264_ENCODE_PARAMS",
            CTRL_TYPE_H264_ENCODE_PARAMS as u64,
        ),
        ("V4L2_CTRL_TYPE_H264_SPS", CTRL_TYPE_H264_SPS as u64),
        ("V4L2_CTRL_TYPE_H264_PPS", CTRL_TYPE_H264_PPS as u64),
        (
            "V4L2_CID_MPEG_VIDEO_GOP_SIZE",
            CID_MPEG_VIDEO_GOP_SIZE as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_BITRATE_MODE",
            CID_MPEG_VIDEO_BITRATE_MODE as u64,
        ),
        ("V4L2_CID_MPEG_VIDEO_BITRATE", CID_MPEG_VIDEO_BITRATE as u64),
        (
            "V4L2_CID_MPEG_VIDEO_BITRATE_PEAK",
            CID_MPEG_VIDEO_BITRATE_PEAK as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_FRAME_RC_ENABLE",
            CID_MPEG_VIDEO_FRAME_RC_ENABLE as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME",
            CID_MPEG_VIDEO_FORCE_KEY_FRAME as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_AU_DELIMITER",
            CID_MPEG_VIDEO_AU_DELIMITER as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_I_FRAME_QP",
            CID_MPEG_VIDEO_H264_I_FRAME_QP as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_P_FRAME_QP",
            CID_MPEG_VIDEO_H264_P_FRAME_QP as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_B_FRAME_QP",
            CID_MPEG_VIDEO_H264_B_FRAME_QP as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_MIN_QP",
            CID_MPEG_VIDEO_H264_MIN_QP as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_MAX_QP",
            CID_MPEG_VIDEO_H264_MAX_QP as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_CPB_SIZE",
            CID_MPEG_VIDEO_H264_CPB_SIZE as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_ENTROPY_MODE",
            CID_MPEG_VIDEO_H264_ENTROPY_MODE as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_I_PERIOD",
            CID_MPEG_VIDEO_H264_I_PERIOD as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_LEVEL",
            CID_MPEG_VIDEO_H264_LEVEL as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_PROFILE",
            CID_MPEG_VIDEO_H264_PROFILE as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_VUI_EXT_SAR_HEIGHT",
            CID_MPEG_VIDEO_H264_VUI_EXT_SAR_HEIGHT as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_VUI_EXT_SAR_WIDTH",
            CID_MPEG_VIDEO_H264_VUI_EXT_SAR_WIDTH as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_VUI_SAR_ENABLE",
            CID_MPEG_VIDEO_H264_VUI_SAR_ENABLE as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_H264_VUI_SAR_IDC",
            CID_MPEG_VIDEO_H264_VUI_SAR_IDC as u64,
        ),
        (
            "V4L2_MPEG_VIDEO_H264_VUI_SAR_IDC_EXTENDED",
            VUI_SAR_IDC_EXTENDED as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_PREPEND_SPSPPS_TO_IDR",
            CID_MPEG_VIDEO_PREPEND_SPSPPS_TO_IDR as u64,
        ),
        (
            "V4L2_CID_MPEG_VIDEO_CONSTANT_QUALITY",
            CID_MPEG_VIDEO_CONSTANT_QUALITY as u64,
        ),
        (
            "V4L2_STATELESS_H264_START_CODE_NONE",
            StartCode::None as u64,
        ),
        (
            "V4L2_STATELESS_H264_START_CODE_ANNEX_B",
            StartCode::AnnexB as u64,
        ),
        ("V4L2_MPEG_VIDEO_BITRATE_MODE_VBR", BitrateMode::Vbr as u64),
        ("V4L2_MPEG_VIDEO_BITRATE_MODE_CBR", BitrateMode::Cbr as u64),
        ("V4L2_MPEG_VIDEO_BITRATE_MODE_CQ", BitrateMode::Cq as u64),
        ("V4L2_H264_SLICE_TYPE_P", SLICE_TYPE_P as u64),
        ("V4L2_H264_SLICE_TYPE_B", SLICE_TYPE_B as u64),
        ("V4L2_H264_SLICE_TYPE_I", SLICE_TYPE_I as u64),
        ("V4L2_H264_SLICE_TYPE_SP", SLICE_TYPE_SP as u64),
        ("V4L2_H264_SLICE_TYPE_SI", SLICE_TYPE_SI as u64),
        (
            "V4L2_H264_SLICE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE",
            SLICE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE as u64,
        ),
        ("V4L2_H264_ENCODE_FLAG_IDR_PIC", ENCODE_FLAG_IDR_PIC as u64),
        (
            "V4L2_H264_ENCODE_FLAG_FIELD_PIC",
            ENCODE_FLAG_FIELD_PIC as u64,
        ),
        (
            "V4L2_H264_ENCODE_FLAG_BOTTOM_FIELD",
            ENCODE_FLAG_BOTTOM_FIELD as u64,
        ),
        (
            "V4L2_H264_ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED",
            ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED as u64,
        ),
        (
            "V4L2_H264_ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE",
            ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE as u64,
        ),
        (
            "V4L2_H264_ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS",
            ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS as u64,
        ),
        (
            "V4L2_H264_ENCODE_FLAG_LONG_TERM_REFERENCE",
            ENCODE_FLAG_LONG_TERM_REFERENCE as u64,
        ),
        (
            "V4L2_H264_SPS_CONSTRAINT_SET0_FLAG",
            SPS_CONSTRAINT_SET0_FLAG as u64,
        ),
        (
            "V4L2_H264_SPS_CONSTRAINT_SET1_FLAG",
            SPS_CONSTRAINT_SET1_FLAG as u64,
        ),
        (
            "V4L2_H264_SPS_CONSTRAINT_SET2_FLAG",
            SPS_CONSTRAINT_SET2_FLAG as u64,
        ),
        (
            "V4L2_H264_SPS_CONSTRAINT_SET3_FLAG",
            SPS_CONSTRAINT_SET3_FLAG as u64,
        ),
        (
            "V4L2_H264_SPS_CONSTRAINT_SET4_FLAG",
            SPS_CONSTRAINT_SET4_FLAG as u64,
        ),
        (
            "V4L2_H264_SPS_CONSTRAINT_SET5_FLAG",
            SPS_CONSTRAINT_SET5_FLAG as u64,
        ),
        (
            "V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE",
            SPS_FLAG_SEPARATE_COLOUR_PLANE as u64,
        ),
        (
            "V4L2_H264_SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS",
            SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS as u64,
        ),
        (
            "V4L2_H264_SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO",
            SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO as u64,
        ),
        (
            "V4L2_H264_SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED",
            SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED as u64,
        ),
        (
            "V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY",
            SPS_FLAG_FRAME_MBS_ONLY as u64,
        ),
        (
            "V4L2_H264_SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD",
            SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD as u64,
        ),
        (
            "V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE",
            SPS_FLAG_DIRECT_8X8_INFERENCE as u64,
        ),
        (
            "V4L2_H264_PPS_FLAG_ENTROPY_CODING_MODE",
            PPS_FLAG_ENTROPY_CODING_MODE as u64,
        ),
        (
            "V4L2_H264_PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT",
            PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT as u64,
        ),
        (
            "V4L2_H264_PPS_FLAG_WEIGHTED_PRED",
            PPS_FLAG_WEIGHTED_PRED as u64,
        ),
        (
            "V4L2_H264_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT",
            PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT as u64,
        ),
        (
            "V4L2_H264_PPS_FLAG_CONSTRAINED_INTRA_PRED",
            PPS_FLAG_CONSTRAINED_INTRA_PRED as u64,
        ),
        (
            "V4L2_H264_PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT",
            PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT as u64,
        ),
        (
            "V4L2_H264_PPS_FLAG_TRANSFORM_8X8_MODE",
            PPS_FLAG_TRANSFORM_8X8_MODE as u64,
        ),
        (
            "V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT",
            PPS_FLAG_SCALING_MATRIX_PRESENT as u64,
        ),
    ];
    for &(n, val) in consts {
        v.push((n.into(), val));
    }
    v
}

/// Compiles `uapi/slenc-h264-enc.h` (with the system's mainline <linux/videodev2.h> for the
/// SPS/PPS structs and the stateful IDs) and checks every size, offset and constant against
/// the Rust definitions.
#[test]
fn c_header_matches_rust_layout() {
    let layout = rust_layout();
    let uapi_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../uapi");
    let dir = std::env::temp_dir().join(format!("slenc-uapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <sys/time.h>\n#include <linux/videodev2.h>\n\
         #include \"slenc-h264-enc.h\"\n\
         typedef struct v4l2_ctrl_h264_sps sps; typedef struct v4l2_ctrl_h264_pps pps;\n\
         typedef struct v4l2_ctrl_h264_encode_params enc;\n\
         int main(void) {\n",
    );
    for (name, _) in &layout {
        let expr = if let Some(t) = name.strip_prefix("sizeof.") {
            format!("sizeof({t})")
        } else if let Some(t) = name.strip_prefix("alignof.") {
            format!("_Alignof({t})")
        } else if let Some((t, f)) = name.split_once('.') {
            format!("offsetof({t}, {f})")
        } else {
            format!("({name})")
        };
        c += &format!("  printf(\"%s %llu\\n\", \"{name}\", (unsigned long long){expr});\n");
    }
    c += "  return 0;\n}\n";
    let src = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&src, c).unwrap();
    let out = Command::new("cc")
        .args(["-std=gnu11", "-Wall", "-Werror", "-I"])
        .arg(&uapi_dir)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("a C compiler (cc) is needed for the uAPI layout test");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(run.status.success());
    let text = String::from_utf8(run.stdout).unwrap();
    let got: Vec<(String, u64)> = text
        .lines()
        .map(|l| {
            let (n, v) = l.split_once(' ').unwrap();
            (n.into(), v.parse().unwrap())
        })
        .collect();
    assert_eq!(got.len(), layout.len());
    for ((n, cv), (_, rv)) in got.iter().zip(layout.iter()) {
        assert_eq!(cv, rv, "{n}: C says {cv}, Rust says {rv}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bytes_roundtrip() {
    let mut sps = H264Sps {
        profile_idc: 100,
        constraint_set_flags: 0x3,
        level_idc: 41,
        pic_width_in_mbs_minus1: 119,
        pic_height_in_map_units_minus1: 67,
        flags: SPS_FLAG_FRAME_MBS_ONLY | SPS_FLAG_DIRECT_8X8_INFERENCE,
        offset_for_non_ref_pic: -7,
        ..Default::default()
    };
    sps.offset_for_ref_frame[254] = -123456;
    let mut b = [0u8; H264_SPS_SIZE];
    sps.to_bytes(&mut b);
    assert_eq!(H264Sps::from_bytes(&b), sps);
    assert_eq!(b[0], 100);
    assert_eq!(&b[1040..1042], &119u16.to_ne_bytes());

    let pps = H264Pps {
        pic_init_qp_minus26: -8,
        chroma_qp_index_offset: 4,
        second_chroma_qp_index_offset: -12,
        flags: PPS_FLAG_ENTROPY_CODING_MODE | PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT,
        ..Default::default()
    };
    let mut b = [0u8; H264_PPS_SIZE];
    pps.to_bytes(&mut b);
    assert_eq!(H264Pps::from_bytes(&b), pps);
    assert_eq!(b[6], (-8i8) as u8);

    let enc = H264EncodeParams {
        nal_ref_idc: 2,
        slice_type: SLICE_TYPE_P,
        frame_num: 0x1234,
        pic_order_cnt_lsb: 77,
        delta_pic_order_cnt1: -5,
        slice_qp_delta: -3,
        slice_alpha_c0_offset_div2: -2,
        slice_beta_offset_div2: 5,
        flags: ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS,
        ..H264EncodeParams::DEFAULT_CTRL
    };
    let mut b = [0xffu8; H264_ENCODE_PARAMS_SIZE];
    enc.to_bytes(&mut b);
    assert_eq!(&b[37..40], &[0, 0, 0]);
    assert_eq!(
        &b[40..44],
        &ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS.to_ne_bytes()
    );
    assert_eq!(&b[4..6], &0x1234u16.to_ne_bytes());
    assert_eq!(b[29], (-2i8) as u8);
    assert_eq!(H264EncodeParams::from_bytes(&b), enc);
}

#[test]
fn default_ctrl_is_idr_i() {
    let d = H264EncodeParams::DEFAULT_CTRL;
    assert!(d.is_idr());
    assert_eq!(d.slice_type, SLICE_TYPE_I);
    assert_eq!(d.nal_ref_idc, 1);
    assert_eq!(CID_STATELESS_H264_ENCODE_PARAMS, 0x00a4_0908);
}

#[test]
fn menus() {
    assert_eq!(StartCode::from_u32(1), Some(StartCode::AnnexB));
    assert_eq!(StartCode::from_u32(2), None);
    assert_eq!(BitrateMode::from_u32(2), Some(BitrateMode::Cq));
    assert_eq!(BitrateMode::from_u32(3), None);
}

#[test]
fn sps_load_in_place() {
    let mut src = H264Sps {
        profile_idc: 77,
        flags: 0x50,
        ..Default::default()
    };
    src.offset_for_ref_frame[3] = -9;
    let mut b = [0u8; H264_SPS_SIZE];
    src.to_bytes(&mut b);
    let mut dst = H264Sps {
        level_idc: 99,
        ..Default::default()
    };
    dst.load_bytes(&b);
    assert_eq!(dst, src);
}
