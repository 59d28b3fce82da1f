// SPDX-License-Identifier: GPL-2.0
//! Header writers checked against ffmpeg, an oracle nobody here wrote (ARCHITECTURE.md §7):
//! `-bsf:v trace_headers` must report every field as intended, and a stream of all-I_PCM
//! macroblocks (followed by all-skip P frames) must decode to exactly the input pictures,
//! which also proves the cropping fields.

use super::bits::BitWriter;
use super::nal::end_nal;
use super::oracle::*;
use super::pps::write_pps;
use super::slice_header::{begin_slice_nal, write_slice_header};
use super::sps::*;
use super::testutil::Rng;
use super::uapi::*;
use std::format;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

// ---------------------------------------------------------------------------------------------
// Expected trace fields, derived from what we asked the writers to write.

type Fields = Vec<(String, i64)>;

fn push(f: &mut Fields, name: &str, v: i64) {
    f.push((name.to_string(), v));
}

fn expect_nal(f: &mut Fields, nal_ref_idc: u8, nal_type: u8) {
    push(f, "forbidden_zero_bit", 0);
    push(f, "nal_ref_idc", nal_ref_idc as i64);
    push(f, "nal_unit_type", nal_type as i64);
}

fn expect_sps(sps: &H264Sps, extra: &SpsExtra) -> Fields {
    let mut f = Fields::new();
    expect_nal(&mut f, 3, 7);
    push(&mut f, "profile_idc", sps.profile_idc as i64);
    for i in 0..6 {
        push(
            &mut f,
            &format!("constraint_set{i}_flag"),
            ((sps.constraint_set_flags >> i) & 1) as i64,
        );
    }
    push(&mut f, "reserved_zero_2bits", 0);
    push(&mut f, "level_idc", sps.level_idc as i64);
    push(
        &mut f,
        "seq_parameter_set_id",
        sps.seq_parameter_set_id as i64,
    );
    if profile_has_chroma_info(sps.profile_idc) {
        push(&mut f, "chroma_format_idc", sps.chroma_format_idc as i64);
        push(
            &mut f,
            "bit_depth_luma_minus8",
            sps.bit_depth_luma_minus8 as i64,
        );
        push(
            &mut f,
            "bit_depth_chroma_minus8",
            sps.bit_depth_chroma_minus8 as i64,
        );
        push(&mut f, "seq_scaling_matrix_present_flag", 0);
    }
    push(
        &mut f,
        "log2_max_frame_num_minus4",
        sps.log2_max_frame_num_minus4 as i64,
    );
    push(&mut f, "pic_order_cnt_type", sps.pic_order_cnt_type as i64);
    match sps.pic_order_cnt_type {
        0 => push(
            &mut f,
            "log2_max_pic_order_cnt_lsb_minus4",
            sps.log2_max_pic_order_cnt_lsb_minus4 as i64,
        ),
        1 => {
            push(
                &mut f,
                "delta_pic_order_always_zero_flag",
                (sps.flags & SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO != 0) as i64,
            );
            push(
                &mut f,
                "offset_for_non_ref_pic",
                sps.offset_for_non_ref_pic as i64,
            );
            push(
                &mut f,
                "offset_for_top_to_bottom_field",
                sps.offset_for_top_to_bottom_field as i64,
            );
            push(
                &mut f,
                "num_ref_frames_in_pic_order_cnt_cycle",
                sps.num_ref_frames_in_pic_order_cnt_cycle as i64,
            );
            for i in 0..sps.num_ref_frames_in_pic_order_cnt_cycle as usize {
                push(
                    &mut f,
                    &format!("offset_for_ref_frame[{i}]"),
                    sps.offset_for_ref_frame[i] as i64,
                );
            }
        }
        _ => {}
    }
    push(&mut f, "max_num_ref_frames", sps.max_num_ref_frames as i64);
    push(
        &mut f,
        "gaps_in_frame_num_allowed_flag",
        (sps.flags & SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED != 0) as i64,
    );
    push(
        &mut f,
        "pic_width_in_mbs_minus1",
        sps.pic_width_in_mbs_minus1 as i64,
    );
    push(
        &mut f,
        "pic_height_in_map_units_minus1",
        sps.pic_height_in_map_units_minus1 as i64,
    );
    push(&mut f, "frame_mbs_only_flag", 1);
    push(
        &mut f,
        "direct_8x8_inference_flag",
        (sps.flags & SPS_FLAG_DIRECT_8X8_INFERENCE != 0) as i64,
    );
    push(&mut f, "frame_cropping_flag", extra.crop.is_some() as i64);
    if let Some(c) = extra.crop {
        push(&mut f, "frame_crop_left_offset", c.left as i64);
        push(&mut f, "frame_crop_right_offset", c.right as i64);
        push(&mut f, "frame_crop_top_offset", c.top as i64);
        push(&mut f, "frame_crop_bottom_offset", c.bottom as i64);
    }
    push(
        &mut f,
        "vui_parameters_present_flag",
        extra.vui.is_some() as i64,
    );
    if let Some(v) = &extra.vui {
        push(
            &mut f,
            "aspect_ratio_info_present_flag",
            v.aspect_ratio.is_some() as i64,
        );
        if let Some(a) = v.aspect_ratio {
            push(&mut f, "aspect_ratio_idc", a.idc as i64);
            if a.idc == EXTENDED_SAR {
                push(&mut f, "sar_width", a.sar_width as i64);
                push(&mut f, "sar_height", a.sar_height as i64);
            }
        }
        push(
            &mut f,
            "overscan_info_present_flag",
            v.overscan_appropriate.is_some() as i64,
        );
        if let Some(o) = v.overscan_appropriate {
            push(&mut f, "overscan_appropriate_flag", o as i64);
        }
        push(
            &mut f,
            "video_signal_type_present_flag",
            v.video_signal.is_some() as i64,
        );
        if let Some(vs) = v.video_signal {
            push(&mut f, "video_format", vs.video_format as i64);
            push(&mut f, "video_full_range_flag", vs.full_range as i64);
            push(
                &mut f,
                "colour_description_present_flag",
                vs.colour.is_some() as i64,
            );
            if let Some(c) = vs.colour {
                push(&mut f, "colour_primaries", c.colour_primaries as i64);
                push(
                    &mut f,
                    "transfer_characteristics",
                    c.transfer_characteristics as i64,
                );
                push(&mut f, "matrix_coefficients", c.matrix_coefficients as i64);
            }
        }
        push(
            &mut f,
            "chroma_loc_info_present_flag",
            v.chroma_loc.is_some() as i64,
        );
        if let Some((t, b)) = v.chroma_loc {
            push(&mut f, "chroma_sample_loc_type_top_field", t as i64);
            push(&mut f, "chroma_sample_loc_type_bottom_field", b as i64);
        }
        push(
            &mut f,
            "timing_info_present_flag",
            v.timing.is_some() as i64,
        );
        if let Some(t) = v.timing {
            push(&mut f, "num_units_in_tick", t.num_units_in_tick as i64);
            push(&mut f, "time_scale", t.time_scale as i64);
            push(&mut f, "fixed_frame_rate_flag", t.fixed_frame_rate as i64);
        }
        push(
            &mut f,
            "nal_hrd_parameters_present_flag",
            v.nal_hrd.is_some() as i64,
        );
        if let Some(h) = v.nal_hrd {
            push(&mut f, "cpb_cnt_minus1", 0);
            push(&mut f, "bit_rate_scale", h.bit_rate_scale as i64);
            push(&mut f, "cpb_size_scale", h.cpb_size_scale as i64);
            push(
                &mut f,
                "bit_rate_value_minus1[0]",
                h.bit_rate_value_minus1 as i64,
            );
            push(
                &mut f,
                "cpb_size_value_minus1[0]",
                h.cpb_size_value_minus1 as i64,
            );
            push(&mut f, "cbr_flag[0]", h.cbr as i64);
            push(
                &mut f,
                "initial_cpb_removal_delay_length_minus1",
                h.initial_cpb_removal_delay_length_minus1 as i64,
            );
            push(
                &mut f,
                "cpb_removal_delay_length_minus1",
                h.cpb_removal_delay_length_minus1 as i64,
            );
            push(
                &mut f,
                "dpb_output_delay_length_minus1",
                h.dpb_output_delay_length_minus1 as i64,
            );
            push(&mut f, "time_offset_length", h.time_offset_length as i64);
            push(&mut f, "low_delay_hrd_flag", v.low_delay_hrd as i64);
        }
        push(&mut f, "vcl_hrd_parameters_present_flag", 0);
        push(
            &mut f,
            "pic_struct_present_flag",
            v.pic_struct_present as i64,
        );
        push(
            &mut f,
            "bitstream_restriction_flag",
            v.bitstream_restriction.is_some() as i64,
        );
        if let Some(b) = v.bitstream_restriction {
            push(
                &mut f,
                "motion_vectors_over_pic_boundaries_flag",
                b.motion_vectors_over_pic_boundaries as i64,
            );
            push(
                &mut f,
                "max_bytes_per_pic_denom",
                b.max_bytes_per_pic_denom as i64,
            );
            push(
                &mut f,
                "max_bits_per_mb_denom",
                b.max_bits_per_mb_denom as i64,
            );
            push(
                &mut f,
                "log2_max_mv_length_horizontal",
                b.log2_max_mv_length_horizontal as i64,
            );
            push(
                &mut f,
                "log2_max_mv_length_vertical",
                b.log2_max_mv_length_vertical as i64,
            );
            push(
                &mut f,
                "max_num_reorder_frames",
                b.max_num_reorder_frames as i64,
            );
            push(
                &mut f,
                "max_dec_frame_buffering",
                b.max_dec_frame_buffering as i64,
            );
        }
    }
    f
}

fn expect_pps(pps: &H264Pps) -> Fields {
    let mut f = Fields::new();
    let fl = |b: u16| (pps.flags & b != 0) as i64;
    expect_nal(&mut f, 3, 8);
    push(
        &mut f,
        "pic_parameter_set_id",
        pps.pic_parameter_set_id as i64,
    );
    push(
        &mut f,
        "seq_parameter_set_id",
        pps.seq_parameter_set_id as i64,
    );
    push(
        &mut f,
        "entropy_coding_mode_flag",
        fl(PPS_FLAG_ENTROPY_CODING_MODE),
    );
    push(
        &mut f,
        "bottom_field_pic_order_in_frame_present_flag",
        fl(PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT),
    );
    push(&mut f, "num_slice_groups_minus1", 0);
    push(
        &mut f,
        "num_ref_idx_l0_default_active_minus1",
        pps.num_ref_idx_l0_default_active_minus1 as i64,
    );
    push(
        &mut f,
        "num_ref_idx_l1_default_active_minus1",
        pps.num_ref_idx_l1_default_active_minus1 as i64,
    );
    push(&mut f, "weighted_pred_flag", fl(PPS_FLAG_WEIGHTED_PRED));
    push(
        &mut f,
        "weighted_bipred_idc",
        pps.weighted_bipred_idc as i64,
    );
    push(
        &mut f,
        "pic_init_qp_minus26",
        pps.pic_init_qp_minus26 as i64,
    );
    push(
        &mut f,
        "pic_init_qs_minus26",
        pps.pic_init_qs_minus26 as i64,
    );
    push(
        &mut f,
        "chroma_qp_index_offset",
        pps.chroma_qp_index_offset as i64,
    );
    push(
        &mut f,
        "deblocking_filter_control_present_flag",
        fl(PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT),
    );
    push(
        &mut f,
        "constrained_intra_pred_flag",
        fl(PPS_FLAG_CONSTRAINED_INTRA_PRED),
    );
    push(&mut f, "redundant_pic_cnt_present_flag", 0);
    if super::pps::pps_needs_extension(pps) {
        push(
            &mut f,
            "transform_8x8_mode_flag",
            fl(PPS_FLAG_TRANSFORM_8X8_MODE),
        );
        push(&mut f, "pic_scaling_matrix_present_flag", 0);
        push(
            &mut f,
            "second_chroma_qp_index_offset",
            pps.second_chroma_qp_index_offset as i64,
        );
    }
    f
}

fn expect_slice(sps: &H264Sps, pps: &H264Pps, p: &H264EncodeParams) -> Fields {
    let mut f = Fields::new();
    let idr = p.is_idr();
    expect_nal(&mut f, p.nal_ref_idc, if idr { 5 } else { 1 });
    push(&mut f, "first_mb_in_slice", 0);
    push(&mut f, "slice_type", p.slice_type as i64);
    push(
        &mut f,
        "pic_parameter_set_id",
        p.pic_parameter_set_id as i64,
    );
    push(&mut f, "frame_num", p.frame_num as i64);
    if idr {
        push(&mut f, "idr_pic_id", p.idr_pic_id as i64);
    }
    let bottom = pps.flags & PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT != 0;
    match sps.pic_order_cnt_type {
        0 => {
            push(&mut f, "pic_order_cnt_lsb", p.pic_order_cnt_lsb as i64);
            if bottom {
                push(
                    &mut f,
                    "delta_pic_order_cnt_bottom",
                    p.delta_pic_order_cnt_bottom as i64,
                );
            }
        }
        1 if sps.flags & SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO == 0 => {
            push(
                &mut f,
                "delta_pic_order_cnt[0]",
                p.delta_pic_order_cnt0 as i64,
            );
            if bottom {
                push(
                    &mut f,
                    "delta_pic_order_cnt[1]",
                    p.delta_pic_order_cnt1 as i64,
                );
            }
        }
        _ => {}
    }
    let is_p = p.slice_type == SLICE_TYPE_P;
    if is_p {
        let ov = p.flags & ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE != 0;
        push(&mut f, "num_ref_idx_active_override_flag", ov as i64);
        if ov {
            push(
                &mut f,
                "num_ref_idx_l0_active_minus1",
                p.num_ref_idx_l0_active_minus1 as i64,
            );
        }
        push(&mut f, "ref_pic_list_modification_flag_l0", 0);
    }
    if p.nal_ref_idc != 0 {
        if idr {
            push(
                &mut f,
                "no_output_of_prior_pics_flag",
                (p.flags & ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS != 0) as i64,
            );
            push(
                &mut f,
                "long_term_reference_flag",
                (p.flags & ENCODE_FLAG_LONG_TERM_REFERENCE != 0) as i64,
            );
        } else {
            push(&mut f, "adaptive_ref_pic_marking_mode_flag", 0);
        }
    }
    if is_p && pps.flags & PPS_FLAG_ENTROPY_CODING_MODE != 0 {
        push(&mut f, "cabac_init_idc", p.cabac_init_idc as i64);
    }
    push(&mut f, "slice_qp_delta", p.slice_qp_delta as i64);
    if pps.flags & PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT != 0 {
        push(
            &mut f,
            "disable_deblocking_filter_idc",
            p.disable_deblocking_filter_idc as i64,
        );
        if p.disable_deblocking_filter_idc != 1 {
            push(
                &mut f,
                "slice_alpha_c0_offset_div2",
                p.slice_alpha_c0_offset_div2 as i64,
            );
            push(
                &mut f,
                "slice_beta_offset_div2",
                p.slice_beta_offset_div2 as i64,
            );
        }
    }
    f
}

fn expect_aud(primary: u8) -> Fields {
    let mut f = Fields::new();
    expect_nal(&mut f, 0, 9);
    push(&mut f, "primary_pic_type", primary as i64);
    f
}

fn assert_unit(unit: &TracedUnit, want: &Fields, ctx: &str) {
    for (name, v) in want {
        match unit.fields.get(name) {
            Some(got) => assert_eq!(got, v, "{ctx}: {} field {name}", unit.title),
            None => panic!(
                "{ctx}: {} has no field {name}; traced: {:?}",
                unit.title, unit.fields
            ),
        }
    }
    // Nothing unexpected either (rbsp trailing bits aside).
    for name in unit.fields.keys() {
        if name.starts_with("rbsp_") || name == "seq_scaling_matrix_present_flag" {
            continue;
        }
        if name == "qpprime_y_zero_transform_bypass_flag"
            || name == "separate_colour_plane_flag"
            || name == "cabac_alignment_one_bit"
        {
            continue;
        }
        assert!(
            want.iter().any(|(n, _)| n == name),
            "{ctx}: {} unexpected field {name}",
            unit.title
        );
    }
}

/// The expected unit sequence of `write_stream`.
fn expect_stream(cfg: &StreamCfg, frames: &[Frame]) -> Vec<Fields> {
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if cfg.aud {
            out.push(expect_aud(if f.params.slice_type == SLICE_TYPE_I {
                0
            } else {
                1
            }));
        }
        if i == 0 || f.params.is_idr() {
            out.push(expect_sps(&cfg.sps, &cfg.extra));
            out.push(expect_pps(&cfg.pps));
        }
        out.push(expect_slice(&cfg.sps, &cfg.pps, &f.params));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Random valid parameters.

fn random_vui(rng: &mut Rng, sps: &H264Sps) -> Vui {
    let opt = |rng: &mut Rng| rng.range(0, 2) != 0;
    let mut v = Vui::default();
    if opt(rng) {
        let idc = if rng.bool() {
            EXTENDED_SAR
        } else {
            rng.range(1, 16) as u8
        };
        v.aspect_ratio = Some(AspectRatio {
            idc,
            sar_width: if idc == EXTENDED_SAR {
                rng.range(1, 65535) as u16
            } else {
                0
            },
            sar_height: if idc == EXTENDED_SAR {
                rng.range(1, 65535) as u16
            } else {
                0
            },
        });
    }
    if opt(rng) {
        v.overscan_appropriate = Some(rng.bool());
    }
    if opt(rng) {
        v.video_signal = Some(VideoSignal {
            video_format: rng.range(0, 5) as u8,
            full_range: rng.bool(),
            colour: if rng.bool() {
                Some(ColourDescription {
                    colour_primaries: rng.range(1, 12) as u8,
                    transfer_characteristics: rng.range(1, 18) as u8,
                    matrix_coefficients: rng.range(0, 11) as u8,
                })
            } else {
                None
            },
        });
    }
    if opt(rng) {
        v.chroma_loc = Some((rng.range(0, 5) as u32, rng.range(0, 5) as u32));
    }
    if opt(rng) {
        v.timing = Some(Timing {
            num_units_in_tick: rng.range(1, 100_000) as u32,
            time_scale: rng.range(1, u32::MAX as i64) as u32,
            fixed_frame_rate: rng.bool(),
        });
    }
    if rng.range(0, 3) == 0 {
        v.nal_hrd = Some(Hrd {
            bit_rate_scale: rng.range(0, 15) as u8,
            cpb_size_scale: rng.range(0, 15) as u8,
            bit_rate_value_minus1: rng.range(0, 1 << 20) as u32,
            cpb_size_value_minus1: rng.range(0, 1 << 20) as u32,
            cbr: rng.bool(),
            initial_cpb_removal_delay_length_minus1: rng.range(0, 31) as u8,
            cpb_removal_delay_length_minus1: rng.range(0, 31) as u8,
            dpb_output_delay_length_minus1: rng.range(0, 31) as u8,
            time_offset_length: rng.range(0, 31) as u8,
        });
        v.low_delay_hrd = rng.bool();
    }
    v.pic_struct_present = false;
    if opt(rng) {
        let dec = rng.range(sps.max_num_ref_frames as i64, 16) as u32;
        v.bitstream_restriction = Some(BitstreamRestriction {
            motion_vectors_over_pic_boundaries: rng.bool(),
            max_bytes_per_pic_denom: rng.range(0, 16) as u32,
            max_bits_per_mb_denom: rng.range(0, 16) as u32,
            log2_max_mv_length_horizontal: rng.range(0, 15) as u32,
            log2_max_mv_length_vertical: rng.range(0, 15) as u32,
            max_num_reorder_frames: rng.range(0, dec as i64) as u32,
            max_dec_frame_buffering: dec,
        });
    }
    v
}

/// A random valid configuration. `decodable` restricts it to what the I_PCM/skip stub can
/// produce (CAVLC, 8-bit 4:2:0, POC types 0/2).
fn random_cfg(rng: &mut Rng, decodable: bool) -> (StreamCfg, u32, u32) {
    let profile = [66u8, 77, 100][rng.range(0, 2) as usize];
    let vw = rng.range(1, 96) as u32;
    let vh = rng.range(1, 80) as u32;
    let poc_type = if decodable {
        [0u8, 2][rng.range(0, 1) as usize]
    } else {
        rng.range(0, 2) as u8
    };
    let mut sps = H264Sps {
        profile_idc: profile,
        constraint_set_flags: rng.range(0, 0x3f) as u8,
        level_idc: [10u8, 11, 20, 30, 31, 40, 41, 51][rng.range(0, 7) as usize],
        seq_parameter_set_id: rng.range(0, 31) as u8,
        chroma_format_idc: 1,
        log2_max_frame_num_minus4: rng.range(0, 12) as u8,
        pic_order_cnt_type: poc_type,
        log2_max_pic_order_cnt_lsb_minus4: rng.range(0, 12) as u8,
        max_num_ref_frames: rng.range(1, 4) as u8,
        pic_width_in_mbs_minus1: (vw.div_ceil(16) - 1) as u16,
        pic_height_in_map_units_minus1: (vh.div_ceil(16) - 1) as u16,
        flags: SPS_FLAG_FRAME_MBS_ONLY
            | if rng.bool() {
                SPS_FLAG_DIRECT_8X8_INFERENCE
            } else {
                0
            }
            | if rng.bool() {
                SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED
            } else {
                0
            },
        ..Default::default()
    };
    if poc_type == 1 {
        sps.flags |= if rng.bool() {
            SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO
        } else {
            0
        };
        sps.offset_for_non_ref_pic = rng.range(-1000, 1000) as i32;
        sps.offset_for_top_to_bottom_field = rng.range(-1000, 1000) as i32;
        sps.num_ref_frames_in_pic_order_cnt_cycle = rng.range(0, 5) as u8;
        for o in sps.offset_for_ref_frame.iter_mut().take(5) {
            *o = rng.range(-1000, 1000) as i32;
        }
    }
    let crop = crop_for_visible(&sps, vw, vh);
    let vui = if rng.bool() {
        Some(random_vui(rng, &sps))
    } else {
        None
    };
    let mut pps = H264Pps {
        pic_parameter_set_id: rng.range(0, 255) as u8,
        seq_parameter_set_id: sps.seq_parameter_set_id,
        num_ref_idx_l0_default_active_minus1: rng.range(0, 3) as u8,
        pic_init_qp_minus26: rng.range(-26, 25) as i8,
        pic_init_qs_minus26: rng.range(-26, 25) as i8,
        chroma_qp_index_offset: rng.range(-12, 12) as i8,
        flags: if rng.bool() {
            PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT
        } else {
            0
        } | if rng.bool() {
            PPS_FLAG_CONSTRAINED_INTRA_PRED
        } else {
            0
        } | if rng.bool() {
            PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT
        } else {
            0
        },
        ..Default::default()
    };
    pps.second_chroma_qp_index_offset = pps.chroma_qp_index_offset;
    if profile != 66 && !decodable && rng.bool() {
        pps.flags |= PPS_FLAG_ENTROPY_CODING_MODE;
    }
    if profile == 100 && rng.bool() {
        pps.second_chroma_qp_index_offset = rng.range(-12, 12) as i8;
        if !decodable && rng.bool() {
            pps.flags |= PPS_FLAG_TRANSFORM_8X8_MODE;
        }
    }
    let cfg = StreamCfg {
        sps,
        extra: SpsExtra { crop, vui },
        pps,
        framing: StartCode::AnnexB,
        aud: rng.bool(),
    };
    (cfg, vw, vh)
}

/// Random per-frame fields for frame `i` of a GOP (IDR at `i == 0`).
fn random_params(rng: &mut Rng, cfg: &StreamCfg, i: u32, idr_pic_id: u16) -> H264EncodeParams {
    let sps = &cfg.sps;
    let idr = i == 0;
    let max_fn = 1u32 << (sps.log2_max_frame_num_minus4 + 4);
    let max_lsb = 1u32 << (sps.log2_max_pic_order_cnt_lsb_minus4 + 4);
    let qp0 = 26 + cfg.pps.pic_init_qp_minus26 as i64;
    let deblock = rng.range(0, 2) as u8;
    let mut p = H264EncodeParams {
        nal_ref_idc: if idr {
            rng.range(1, 3) as u8
        } else {
            rng.range(0, 3) as u8
        },
        slice_type: if idr { SLICE_TYPE_I } else { SLICE_TYPE_P },
        pic_parameter_set_id: cfg.pps.pic_parameter_set_id,
        frame_num: if idr { 0 } else { (i % max_fn) as u16 },
        idr_pic_id: if idr { idr_pic_id } else { 0 },
        pic_order_cnt_lsb: if idr { 0 } else { ((2 * i) % max_lsb) as u16 },
        delta_pic_order_cnt_bottom: rng.range(-100, 100) as i32,
        delta_pic_order_cnt0: rng.range(-100, 100) as i32,
        delta_pic_order_cnt1: rng.range(-100, 100) as i32,
        num_ref_idx_l0_active_minus1: rng.range(0, 31) as u8,
        cabac_init_idc: rng.range(0, 2) as u8,
        slice_qp_delta: (rng.range(0, 51) - qp0) as i8,
        disable_deblocking_filter_idc: deblock,
        slice_alpha_c0_offset_div2: rng.range(-6, 6) as i8,
        slice_beta_offset_div2: rng.range(-6, 6) as i8,
        flags: 0,
        ..Default::default()
    };
    if idr {
        p.flags |= ENCODE_FLAG_IDR_PIC;
        if rng.bool() {
            p.flags |= ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS;
        }
    } else if rng.bool() {
        p.flags |= ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE;
    }
    p
}

/// Property: for random valid SPS/PPS/VUI/slice parameters (all features the writers support,
/// CABAC and POC type 1 included), ffmpeg's trace_headers reads back exactly the intended value
/// of every header field, and no other field.
#[test]
fn prop_trace_headers_match_intent() {
    let mut rng = Rng::new(0x5eed);
    for case in 0..60 {
        let decodable = case % 2 == 0;
        let (cfg, vw, vh) = random_cfg(&mut rng, decodable);
        let pic = Picture::random(
            (cfg.sps.pic_width_in_mbs_minus1 as usize + 1) * 16,
            (cfg.sps.pic_height_in_map_units_minus1 as usize + 1) * 16,
            &mut rng,
        );
        let mut frames = Vec::new();
        let mut idr_id = rng.range(0, 65535) as u16;
        for i in 0..6u32 {
            let gop_i = i % 3;
            if gop_i == 0 {
                idr_id = idr_id.wrapping_add(1);
            }
            let params = random_params(&mut rng, &cfg, gop_i, idr_id);
            frames.push(Frame {
                params,
                pcm: if gop_i == 0 { Some(&pic) } else { None },
                headers_only: !decodable,
            });
        }
        let stream = write_stream(&cfg, &frames);
        let units = trace_headers(&stream, &format!("trace{case}.h264"));
        let want = expect_stream(&cfg, &frames);
        assert_eq!(
            units.len(),
            want.len(),
            "case {case}: unit count; {units:?}"
        );
        for (u, w) in units.iter().zip(want.iter()) {
            assert_unit(u, w, &format!("case {case} ({vw}x{vh})"));
        }
    }
}

/// Property: an I_PCM IDR followed by all-skip P frames, then a second IDR, decodes to exactly
/// the visible part of the input pictures: proves the slice header, the frame_num/POC/IDR
/// fields in use, and the cropping offsets (ffmpeg crops to what the SPS says).
#[test]
fn prop_pcm_stream_decodes_exactly() {
    let mut rng = Rng::new(0xdec0de);
    for case in 0..30 {
        let (mut cfg, vw, vh) = random_cfg(&mut rng, true);
        // Only even visible sizes are representable in 4:2:0 (crop unit 2).
        let (vw, vh) = (vw.div_ceil(2) * 2, vh.div_ceil(2) * 2);
        cfg.extra.crop = crop_for_visible(&cfg.sps, vw, vh);
        if let Some(v) = cfg.extra.vui.as_mut() {
            // Output order = decode order, as our streams declare (no reordering delay).
            if let Some(b) = v.bitstream_restriction.as_mut() {
                b.max_num_reorder_frames = 0;
            }
            // ffmpeg rejects some SARs for tiny pictures ("ignoring invalid SAR") and then
            // re-initialises (flushing the DPB) on every frame; the trace test covers SAR.
            v.aspect_ratio = None;
        }
        let (cw, ch) = (
            (cfg.sps.pic_width_in_mbs_minus1 as usize + 1) * 16,
            (cfg.sps.pic_height_in_map_units_minus1 as usize + 1) * 16,
        );
        let pics = [
            Picture::random(cw, ch, &mut rng),
            Picture::random(cw, ch, &mut rng),
        ];
        let mut frames = Vec::new();
        let mut expect = Vec::new();
        for (g, pic) in pics.iter().enumerate() {
            for i in 0..3u32 {
                let mut params = random_params(&mut rng, &cfg, i, g as u16);
                // References must exist for the skip frames to copy.
                if i < 2 {
                    params.nal_ref_idc = params.nal_ref_idc.max(1);
                }
                // A single active reference: the skip frames copy the previous frame.
                params.flags &= !ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE;
                params.flags &= !ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS;
                // Frame POC = min(top, bottom): a random bottom delta would reorder output.
                params.delta_pic_order_cnt_bottom = 0;
                frames.push(Frame {
                    params,
                    pcm: if i == 0 { Some(pic) } else { None },
                    headers_only: false,
                });
                expect.extend(pic.visible_i420(vw as usize, vh as usize));
            }
        }
        // num_ref_idx_l0 default must not exceed the references available.
        cfg.pps.num_ref_idx_l0_default_active_minus1 = 0;
        let stream = write_stream(&cfg, &frames);
        let got = decode_i420(&stream, &format!("pcm{case}.h264"));
        assert_eq!(got.len(), expect.len(), "case {case}: {vw}x{vh} size");
        assert!(got == expect, "case {case}: {vw}x{vh} pixels differ");
    }
}

/// Property (DPB against ffmpeg): random I/P streams with several references, non-reference
/// frames, frame_num wrap and IDRs, where each P frame copies RefPicList0[k] for a random k of
/// the list our [`Dpb`] built. The decoder must output exactly the picture our DPB says sits in
/// that reconstruction slot, so our list order, sliding window and slot bookkeeping equal the
/// decoder's.
#[test]
fn prop_dpb_lists_match_decoder() {
    use super::dpb::Dpb;
    use super::poc::PocState;
    let mut rng = Rng::new(0xd9b);
    for case in 0..12 {
        let refs = rng.range(1, 4) as u8;
        let poc_type = [0u8, 2][rng.range(0, 1) as usize];
        let sps = H264Sps {
            profile_idc: 77,
            level_idc: 30,
            chroma_format_idc: 1,
            log2_max_frame_num_minus4: 0,
            pic_order_cnt_type: poc_type,
            log2_max_pic_order_cnt_lsb_minus4: 1,
            max_num_ref_frames: refs,
            pic_width_in_mbs_minus1: 1,
            pic_height_in_map_units_minus1: 1,
            flags: SPS_FLAG_FRAME_MBS_ONLY,
            ..Default::default()
        };
        let cfg = StreamCfg {
            extra: SpsExtra {
                crop: None,
                vui: Some(Vui {
                    bitstream_restriction: Some(super::vui::restriction(refs)),
                    ..Default::default()
                }),
            },
            sps,
            pps: H264Pps::default(),
            framing: StartCode::AnnexB,
            aud: false,
        };
        let (w, h) = (32usize, 32usize);
        let mbs = 4u32;
        let mut dpb = Dpb::new(refs + 1 + rng.range(0, 1) as u8, refs, 4, false).unwrap();
        let mut poc = PocState::default();
        let mut slot_pic: Vec<usize> = vec![usize::MAX; 17];
        let mut pics: Vec<Picture> = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut wr = BitWriter::new(&mut buf);
        let mut expect = Vec::new();
        let (mut frame_num, mut count, mut prev_ref) = (0u32, 0u32, true);
        for k in 0..60 {
            let idr = k == 0 || rng.range(0, 25) == 0;
            let intra = idr || rng.range(0, 6) == 0;
            // POC type 2 forbids two non-reference frames in a row.
            let nal_ref = if idr || (!prev_ref && poc_type == 2) || rng.range(0, 3) != 0 {
                2
            } else {
                0
            };
            if idr {
                frame_num = 0;
                count = 0;
            } else if prev_ref {
                frame_num = (frame_num + 1) & 15;
            }
            count += 1;
            let mut p = H264EncodeParams {
                nal_ref_idc: nal_ref,
                slice_type: if intra { SLICE_TYPE_I } else { SLICE_TYPE_P },
                frame_num: frame_num as u16,
                idr_pic_id: k as u16,
                pic_order_cnt_lsb: if poc_type == 0 {
                    ((2 * count) & 31) as u16
                } else {
                    0
                },
                flags: if idr { ENCODE_FLAG_IDR_PIC } else { 0 },
                ..Default::default()
            };
            if idr {
                p.pic_order_cnt_lsb = 0;
            }
            let avail = dpb.refs().len() as i64;
            let active = if intra { 1 } else { rng.range(1, avail) as u8 };
            if !intra {
                p.flags |= ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE;
                p.num_ref_idx_l0_active_minus1 = active - 1;
            }
            let poc_v = poc.next(&cfg.sps, &p).unwrap();
            let plan = dpb.plan(&p, poc_v).unwrap();
            begin_slice_nal(&mut wr, StartCode::AnnexB, true, &p).unwrap();
            write_slice_header(&mut wr, &cfg.sps, &cfg.pps, &p, 0).unwrap();
            let shown = if intra {
                pics.push(Picture::random(w, h, &mut rng));
                write_pcm_slice_data(&mut wr, pics.last().unwrap()).unwrap();
                pics.len() - 1
            } else {
                let kk = rng.range(0, active as i64 - 1) as u32;
                let r = plan.l0()[kk as usize];
                write_ref_copy_slice_data(&mut wr, mbs, kk, active as u32 - 1).unwrap();
                slot_pic[r.slot.unwrap() as usize]
            };
            end_nal(&mut wr).unwrap();
            slot_pic[plan.cur_slot as usize] = shown;
            expect.extend(pics[shown].visible_i420(w, h));
            dpb.commit(&plan);
            prev_ref = nal_ref != 0;
        }
        let n = wr.finish().unwrap();
        // Parameter sets go in front of the slices.
        let mut head = vec![0u8; 256];
        let mut hw = BitWriter::new(&mut head);
        write_sps(&mut hw, StartCode::AnnexB, true, &cfg.sps, &cfg.extra).unwrap();
        write_pps(&mut hw, StartCode::AnnexB, false, &cfg.pps).unwrap();
        let hn = hw.finish().unwrap();
        let mut stream = head[..hn].to_vec();
        stream.extend_from_slice(&buf[..n]);
        let got = decode_i420(&stream, &format!("dpb{case}.h264"));
        assert_eq!(got.len(), expect.len(), "case {case}: frame count");
        for (i, (a, b)) in got
            .chunks(w * h * 3 / 2)
            .zip(expect.chunks(w * h * 3 / 2))
            .enumerate()
        {
            assert!(
                a == b,
                "case {case} (refs {refs}, poc type {poc_type}): frame {i} differs"
            );
        }
    }
}
