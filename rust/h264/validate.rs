// SPDX-License-Identifier: GPL-2.0
//! Control-time validation of the compound controls (what the series adds to
//! `std_validate_compound`, uapi.md §2.5 "Validation"): refuse what is out of range, and
//! normalise what the syntax makes irrelevant so that later stages see canonical values.

use super::uapi::*;

/// A control value refused at `S_EXT_CTRLS` time (-EINVAL in the glue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidateError {
    /// The named field is out of its range.
    Range(&'static str),
    /// IDR_PIC was set on a slice that is not I.
    IdrNotIntra,
}

fn range(cond: bool, what: &'static str) -> Result<(), ValidateError> {
    if cond {
        Ok(())
    } else {
        Err(ValidateError::Range(what))
    }
}

/// Validates and normalises an ENCODE_PARAMS value in place (uapi.md §2.5):
/// - IDR_PIC requires slice_type I;
/// - colour_plane_id ≤ 2, cabac_init_idc ≤ 2, disable_deblocking_filter_idc ≤ 2,
///   alpha/beta offsets in −6..=6, num_ref_idx_*_active_minus1 ≤ 31, slice_type ≤ 4,
///   nal_ref_idc ≤ 3;
/// - DIRECT_SPATIAL_MV_PRED is cleared unless B; LONG_TERM_REFERENCE unless IDR with
///   nal_ref_idc ≠ 0;
/// - num_ref_idx_l0 is zeroed for I/SI, num_ref_idx_l1 unless B;
/// - on IDR frame_num and the POC fields are zeroed, otherwise idr_pic_id;
/// - the reserved fields are zeroed.
pub fn validate_encode_params(p: &mut H264EncodeParams) -> Result<(), ValidateError> {
    range(p.slice_type <= SLICE_TYPE_SI, "slice_type")?;
    range(p.nal_ref_idc <= 3, "nal_ref_idc")?;
    let idr = p.is_idr();
    if idr && p.slice_type != SLICE_TYPE_I {
        return Err(ValidateError::IdrNotIntra);
    }
    range(p.colour_plane_id <= 2, "colour_plane_id")?;
    range(p.cabac_init_idc <= 2, "cabac_init_idc")?;
    range(
        p.disable_deblocking_filter_idc <= 2,
        "disable_deblocking_filter_idc",
    )?;
    range(
        (-6..=6).contains(&p.slice_alpha_c0_offset_div2),
        "slice_alpha_c0_offset_div2",
    )?;
    range(
        (-6..=6).contains(&p.slice_beta_offset_div2),
        "slice_beta_offset_div2",
    )?;
    range(
        p.num_ref_idx_l0_active_minus1 <= 31,
        "num_ref_idx_l0_active_minus1",
    )?;
    range(
        p.num_ref_idx_l1_active_minus1 <= 31,
        "num_ref_idx_l1_active_minus1",
    )?;

    if p.slice_type != SLICE_TYPE_B {
        p.flags &= !ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED;
        p.num_ref_idx_l1_active_minus1 = 0;
    }
    if !idr || p.nal_ref_idc == 0 {
        p.flags &= !ENCODE_FLAG_LONG_TERM_REFERENCE;
    }
    if p.slice_type == SLICE_TYPE_I || p.slice_type == SLICE_TYPE_SI {
        p.num_ref_idx_l0_active_minus1 = 0;
    }
    if idr {
        p.frame_num = 0;
        p.pic_order_cnt_lsb = 0;
        p.delta_pic_order_cnt_bottom = 0;
        p.delta_pic_order_cnt0 = 0;
        p.delta_pic_order_cnt1 = 0;
    } else {
        p.idr_pic_id = 0;
    }
    p.reserved0 = [0; 2];
    p.reserved1 = [0; 6];
    Ok(())
}

/// Range checks of the SPS control (the syntax limits of 7.4.2.1.1).
pub fn validate_sps(s: &H264Sps) -> Result<(), ValidateError> {
    range(s.seq_parameter_set_id <= 31, "seq_parameter_set_id")?;
    range(s.chroma_format_idc <= 3, "chroma_format_idc")?;
    range(s.bit_depth_luma_minus8 <= 6, "bit_depth_luma_minus8")?;
    range(s.bit_depth_chroma_minus8 <= 6, "bit_depth_chroma_minus8")?;
    range(
        s.log2_max_frame_num_minus4 <= 12,
        "log2_max_frame_num_minus4",
    )?;
    range(s.pic_order_cnt_type <= 2, "pic_order_cnt_type")?;
    range(
        s.log2_max_pic_order_cnt_lsb_minus4 <= 12,
        "log2_max_pic_order_cnt_lsb_minus4",
    )?;
    range(s.max_num_ref_frames <= 16, "max_num_ref_frames")?;
    range(s.constraint_set_flags & 0xc0 == 0, "constraint_set_flags")?;
    Ok(())
}

/// Range checks of the PPS control (7.4.2.2).
pub fn validate_pps(p: &H264Pps) -> Result<(), ValidateError> {
    range(p.seq_parameter_set_id <= 31, "seq_parameter_set_id")?;
    range(p.num_slice_groups_minus1 <= 7, "num_slice_groups_minus1")?;
    range(
        p.num_ref_idx_l0_default_active_minus1 <= 31,
        "num_ref_idx_l0_default_active_minus1",
    )?;
    range(
        p.num_ref_idx_l1_default_active_minus1 <= 31,
        "num_ref_idx_l1_default_active_minus1",
    )?;
    range(p.weighted_bipred_idc <= 2, "weighted_bipred_idc")?;
    range(
        (-26..=25).contains(&p.pic_init_qp_minus26),
        "pic_init_qp_minus26",
    )?;
    range(
        (-26..=25).contains(&p.pic_init_qs_minus26),
        "pic_init_qs_minus26",
    )?;
    range(
        (-12..=12).contains(&p.chroma_qp_index_offset),
        "chroma_qp_index_offset",
    )?;
    range(
        (-12..=12).contains(&p.second_chroma_qp_index_offset),
        "second_chroma_qp_index_offset",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
