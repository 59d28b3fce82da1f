// SPDX-License-Identifier: GPL-2.0
//! Picture parameter set RBSP writer (H.264 7.3.2.2).
//!
//! Slice groups and scaling matrices cannot be written (the uAPI carries no data for them and
//! the state layer drops them, uapi.md §2.5 step 1); asking for them is an error here.

use super::bits::BitSink;
use super::nal::{begin_nal, end_nal, nal_type, HeaderError, NalSink};
use super::uapi::*;

/// Whether the PPS needs the High-profile extension (transform_8x8_mode_flag and friends).
pub fn pps_needs_extension(pps: &H264Pps) -> bool {
    pps.flags & (PPS_FLAG_TRANSFORM_8X8_MODE | PPS_FLAG_SCALING_MATRIX_PRESENT) != 0
        || pps.second_chroma_qp_index_offset != pps.chroma_qp_index_offset
}

fn check(cond: bool, what: &'static str) -> Result<(), HeaderError> {
    if cond {
        Ok(())
    } else {
        Err(HeaderError::Invalid(what))
    }
}

/// Writes the PPS RBSP, including its trailing bits.
pub fn write_pps_rbsp<S: BitSink + ?Sized>(s: &mut S, pps: &H264Pps) -> Result<(), HeaderError> {
    if pps.num_slice_groups_minus1 != 0 {
        return Err(HeaderError::Unsupported("slice groups"));
    }
    if pps.flags & PPS_FLAG_SCALING_MATRIX_PRESENT != 0 {
        return Err(HeaderError::Unsupported("scaling matrix"));
    }
    check(pps.seq_parameter_set_id <= 31, "seq_parameter_set_id")?;
    check(
        pps.num_ref_idx_l0_default_active_minus1 <= 31,
        "num_ref_idx_l0_default_active_minus1",
    )?;
    check(
        pps.num_ref_idx_l1_default_active_minus1 <= 31,
        "num_ref_idx_l1_default_active_minus1",
    )?;
    check(pps.weighted_bipred_idc <= 2, "weighted_bipred_idc")?;
    check(
        (-26..=25).contains(&pps.pic_init_qp_minus26),
        "pic_init_qp_minus26",
    )?;
    check(
        (-26..=25).contains(&pps.pic_init_qs_minus26),
        "pic_init_qs_minus26",
    )?;
    check(
        (-12..=12).contains(&pps.chroma_qp_index_offset),
        "chroma_qp_index_offset",
    )?;
    check(
        (-12..=12).contains(&pps.second_chroma_qp_index_offset),
        "second_chroma_qp_index_offset",
    )?;

    s.put_ue(pps.pic_parameter_set_id as u32)?;
    s.put_ue(pps.seq_parameter_set_id as u32)?;
    s.put_bit(pps.flags & PPS_FLAG_ENTROPY_CODING_MODE != 0)?;
    s.put_bit(pps.flags & PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT != 0)?;
    s.put_ue(0)?; // num_slice_groups_minus1
    s.put_ue(pps.num_ref_idx_l0_default_active_minus1 as u32)?;
    s.put_ue(pps.num_ref_idx_l1_default_active_minus1 as u32)?;
    s.put_bit(pps.flags & PPS_FLAG_WEIGHTED_PRED != 0)?;
    s.put_bits(2, pps.weighted_bipred_idc as u32)?;
    s.put_se(pps.pic_init_qp_minus26 as i32)?;
    s.put_se(pps.pic_init_qs_minus26 as i32)?;
    s.put_se(pps.chroma_qp_index_offset as i32)?;
    s.put_bit(pps.flags & PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT != 0)?;
    s.put_bit(pps.flags & PPS_FLAG_CONSTRAINED_INTRA_PRED != 0)?;
    s.put_bit(pps.flags & PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT != 0)?;
    if pps_needs_extension(pps) {
        s.put_bit(pps.flags & PPS_FLAG_TRANSFORM_8X8_MODE != 0)?;
        s.put_bit(false)?; // pic_scaling_matrix_present_flag
        s.put_se(pps.second_chroma_qp_index_offset as i32)?;
    }
    s.rbsp_trailing_bits()?;
    Ok(())
}

/// Writes a complete PPS NAL unit (nal_ref_idc 3, 4-byte start code under Annex B).
pub fn write_pps<S: NalSink + ?Sized>(
    s: &mut S,
    framing: StartCode,
    first_in_access_unit: bool,
    pps: &H264Pps,
) -> Result<(), HeaderError> {
    begin_nal(s, framing, first_in_access_unit, 3, nal_type::PPS)?;
    write_pps_rbsp(s, pps)?;
    end_nal(s)
}
