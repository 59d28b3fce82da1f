// SPDX-License-Identifier: GPL-2.0
//! Slice header writer (H.264 7.3.3) for the frames we encode: I and P (B, SP, SI are refused),
//! IDR and non-IDR, POC types 0/1/2, no reference list modification, sliding-window
//! dec_ref_pic_marking, deblocking fields, cabac_init_idc and slice_qp_delta.
//!
//! The fields come from the (already validated and constrained) ENCODE_PARAMS control,
//! uapi.md §2.5; the SPS/PPS decide which fields are present.

use super::bits::BitSink;
use super::nal::{begin_nal, nal_type, HeaderError, NalSink};
use super::uapi::*;

fn check(cond: bool, what: &'static str) -> Result<(), HeaderError> {
    if cond {
        Ok(())
    } else {
        Err(HeaderError::Invalid(what))
    }
}

/// The `nal_unit_type` of a frame's slices.
pub fn slice_nal_type(p: &H264EncodeParams) -> u8 {
    if p.is_idr() {
        nal_type::IDR
    } else {
        nal_type::SLICE
    }
}

/// Starts the NAL unit of a slice (type 5 for IDR, 1 otherwise; nal_ref_idc from `p`).
pub fn begin_slice_nal<S: NalSink + ?Sized>(
    s: &mut S,
    framing: StartCode,
    first_in_access_unit: bool,
    p: &H264EncodeParams,
) -> Result<(), HeaderError> {
    if p.is_idr() && p.nal_ref_idc == 0 {
        return Err(HeaderError::Invalid("IDR with nal_ref_idc 0"));
    }
    begin_nal(
        s,
        framing,
        first_in_access_unit,
        p.nal_ref_idc,
        slice_nal_type(p),
    )
}

/// Writes slice_header() (7.3.3) of a frame slice starting at macroblock `first_mb_in_slice`.
/// The caller continues with slice_data() (for CABAC starting with cabac_alignment_one_bits).
pub fn write_slice_header<S: BitSink + ?Sized>(
    s: &mut S,
    sps: &H264Sps,
    pps: &H264Pps,
    p: &H264EncodeParams,
    first_mb_in_slice: u32,
) -> Result<(), HeaderError> {
    let idr = p.is_idr();
    let is_p = match p.slice_type {
        SLICE_TYPE_I => false,
        SLICE_TYPE_P => true,
        SLICE_TYPE_B => return Err(HeaderError::Unsupported("B slices")),
        SLICE_TYPE_SP | SLICE_TYPE_SI => return Err(HeaderError::Unsupported("SP/SI slices")),
        _ => return Err(HeaderError::Invalid("slice_type")),
    };
    check(!(idr && is_p), "IDR must be an I slice")?;
    check(p.flags & ENCODE_FLAG_FIELD_PIC == 0, "field pictures")?;
    check(
        sps.flags & SPS_FLAG_FRAME_MBS_ONLY != 0,
        "frame_mbs_only_flag 0",
    )?;
    check(
        p.pic_parameter_set_id == pps.pic_parameter_set_id,
        "pic_parameter_set_id",
    )?;
    check(
        pps.seq_parameter_set_id == sps.seq_parameter_set_id,
        "seq_parameter_set_id",
    )?;
    check(
        sps.log2_max_frame_num_minus4 <= 12,
        "log2_max_frame_num_minus4",
    )?;
    check(
        sps.log2_max_pic_order_cnt_lsb_minus4 <= 12,
        "log2_max_pic_order_cnt_lsb_minus4",
    )?;
    check(p.cabac_init_idc <= 2, "cabac_init_idc")?;
    check(
        p.disable_deblocking_filter_idc <= 2,
        "disable_deblocking_filter_idc",
    )?;
    check(
        (-6..=6).contains(&p.slice_alpha_c0_offset_div2),
        "slice_alpha_c0_offset_div2",
    )?;
    check(
        (-6..=6).contains(&p.slice_beta_offset_div2),
        "slice_beta_offset_div2",
    )?;
    check(
        p.num_ref_idx_l0_active_minus1 <= 31,
        "num_ref_idx_l0_active_minus1",
    )?;
    let qp = 26 + pps.pic_init_qp_minus26 as i32 + p.slice_qp_delta as i32;
    check((0..=51).contains(&qp), "slice QP")?;
    if pps.num_slice_groups_minus1 != 0 {
        return Err(HeaderError::Unsupported("slice groups"));
    }
    if is_p && pps.flags & PPS_FLAG_WEIGHTED_PRED != 0 {
        return Err(HeaderError::Unsupported("weighted prediction"));
    }
    if pps.flags & PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT != 0 {
        return Err(HeaderError::Unsupported("redundant pictures"));
    }

    s.put_ue(first_mb_in_slice)?;
    s.put_ue(p.slice_type as u32)?;
    s.put_ue(p.pic_parameter_set_id as u32)?;
    if sps.flags & SPS_FLAG_SEPARATE_COLOUR_PLANE != 0 {
        check(p.colour_plane_id <= 2, "colour_plane_id")?;
        s.put_bits(2, p.colour_plane_id as u32)?;
    }
    let frame_num_bits = sps.log2_max_frame_num_minus4 as u32 + 4;
    check((p.frame_num as u32) < (1u32 << frame_num_bits), "frame_num")?;
    check(!idr || p.frame_num == 0, "IDR frame_num")?;
    s.put_bits(frame_num_bits, p.frame_num as u32)?;
    // frame_mbs_only_flag is 1: no field_pic_flag.
    if idr {
        s.put_ue(p.idr_pic_id as u32)?;
    }
    let bottom_present = pps.flags & PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT != 0;
    match sps.pic_order_cnt_type {
        0 => {
            let lsb_bits = sps.log2_max_pic_order_cnt_lsb_minus4 as u32 + 4;
            check(
                (p.pic_order_cnt_lsb as u32) < (1u32 << lsb_bits),
                "pic_order_cnt_lsb",
            )?;
            s.put_bits(lsb_bits, p.pic_order_cnt_lsb as u32)?;
            if bottom_present {
                s.put_se(p.delta_pic_order_cnt_bottom)?;
            }
        }
        1 => {
            if sps.flags & SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO == 0 {
                s.put_se(p.delta_pic_order_cnt0)?;
                if bottom_present {
                    s.put_se(p.delta_pic_order_cnt1)?;
                }
            }
        }
        2 => {}
        _ => return Err(HeaderError::Invalid("pic_order_cnt_type")),
    }
    // redundant_pic_cnt_present_flag refused above; no direct_spatial_mv_pred (no B).
    if is_p {
        let override_ = p.flags & ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE != 0;
        s.put_bit(override_)?;
        if override_ {
            s.put_ue(p.num_ref_idx_l0_active_minus1 as u32)?;
        }
        // ref_pic_list_modification(): ref_pic_list_modification_flag_l0 = 0, the default
        // list (most recent reference first) is what the DPB provides.
        s.put_bit(false)?;
    }
    // pred_weight_table(): weighted prediction refused above.
    if p.nal_ref_idc != 0 {
        // dec_ref_pic_marking() (7.3.3.3).
        if idr {
            s.put_bit(p.flags & ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS != 0)?;
            s.put_bit(p.flags & ENCODE_FLAG_LONG_TERM_REFERENCE != 0)?;
        } else {
            // adaptive_ref_pic_marking_mode_flag = 0: sliding window (uapi.md §2.5).
            s.put_bit(false)?;
        }
    }
    if pps.flags & PPS_FLAG_ENTROPY_CODING_MODE != 0 && is_p {
        s.put_ue(p.cabac_init_idc as u32)?;
    }
    s.put_se(p.slice_qp_delta as i32)?;
    if pps.flags & PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT != 0 {
        s.put_ue(p.disable_deblocking_filter_idc as u32)?;
        if p.disable_deblocking_filter_idc != 1 {
            s.put_se(p.slice_alpha_c0_offset_div2 as i32)?;
            s.put_se(p.slice_beta_offset_div2 as i32)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
