// SPDX-License-Identifier: GPL-2.0
//! Sequence parameter set RBSP writer (H.264 7.3.2.1.1) with frame cropping and VUI (E.1.1).
//!
//! The V4L2 SPS control ([`H264Sps`]) carries the core syntax; what the uAPI leaves to the
//! kernel (cropping from the OUTPUT crop rectangle, VUI from timeperframe / colorimetry / SAR
//! controls, uapi.md §2.5 step 1) comes in [`SpsExtra`].

use super::bits::BitSink;
use super::nal::{begin_nal, end_nal, nal_type, HeaderError, NalSink};
use super::uapi::*;

/// Frame cropping offsets, in crop units (the `frame_crop_*_offset` syntax values; for 4:2:0
/// frame pictures one unit is 2 luma samples in each direction, 7.4.2.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Crop {
    /// frame_crop_left_offset.
    pub left: u32,
    /// frame_crop_right_offset.
    pub right: u32,
    /// frame_crop_top_offset.
    pub top: u32,
    /// frame_crop_bottom_offset.
    pub bottom: u32,
}

/// `aspect_ratio_idc` meaning an explicit SAR follows (Table E-1).
pub const EXTENDED_SAR: u8 = 255;

/// Sample aspect ratio (E.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AspectRatio {
    /// aspect_ratio_idc (1..=16 or [`EXTENDED_SAR`]).
    pub idc: u8,
    /// sar_width, written only for [`EXTENDED_SAR`].
    pub sar_width: u16,
    /// sar_height, written only for [`EXTENDED_SAR`].
    pub sar_height: u16,
}

/// Colour description (Tables E-3, E-4, E-5 codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ColourDescription {
    /// colour_primaries.
    pub colour_primaries: u8,
    /// transfer_characteristics.
    pub transfer_characteristics: u8,
    /// matrix_coefficients.
    pub matrix_coefficients: u8,
}

/// Video signal type (E.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VideoSignal {
    /// video_format (0..=7, 5 = unspecified).
    pub video_format: u8,
    /// video_full_range_flag.
    pub full_range: bool,
    /// Colour description, when known.
    pub colour: Option<ColourDescription>,
}

/// Timing information (E.2.1). For frame pictures at `n/d` seconds per frame the series uses
/// num_units_in_tick = n, time_scale = 2·d (uapi.md §2.5 step 1), one frame being two ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// num_units_in_tick (> 0).
    pub num_units_in_tick: u32,
    /// time_scale (> 0).
    pub time_scale: u32,
    /// fixed_frame_rate_flag.
    pub fixed_frame_rate: bool,
}

/// HRD parameters (E.1.2) with a single schedule (cpb_cnt_minus1 = 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hrd {
    /// bit_rate_scale (0..=15): bit rate = (value+1) · 2^(6+scale).
    pub bit_rate_scale: u8,
    /// cpb_size_scale (0..=15): CPB size = (value+1) · 2^(4+scale).
    pub cpb_size_scale: u8,
    /// bit_rate_value_minus1\[0\].
    pub bit_rate_value_minus1: u32,
    /// cpb_size_value_minus1\[0\].
    pub cpb_size_value_minus1: u32,
    /// cbr_flag\[0\].
    pub cbr: bool,
    /// initial_cpb_removal_delay_length_minus1 (0..=31).
    pub initial_cpb_removal_delay_length_minus1: u8,
    /// cpb_removal_delay_length_minus1 (0..=31).
    pub cpb_removal_delay_length_minus1: u8,
    /// dpb_output_delay_length_minus1 (0..=31).
    pub dpb_output_delay_length_minus1: u8,
    /// time_offset_length (0..=31).
    pub time_offset_length: u8,
}

/// Bitstream restriction (E.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BitstreamRestriction {
    /// motion_vectors_over_pic_boundaries_flag.
    pub motion_vectors_over_pic_boundaries: bool,
    /// max_bytes_per_pic_denom (0..=16).
    pub max_bytes_per_pic_denom: u32,
    /// max_bits_per_mb_denom (0..=16).
    pub max_bits_per_mb_denom: u32,
    /// log2_max_mv_length_horizontal (0..=15).
    pub log2_max_mv_length_horizontal: u32,
    /// log2_max_mv_length_vertical (0..=15).
    pub log2_max_mv_length_vertical: u32,
    /// max_num_reorder_frames (0 for I/P streams: output order is decode order).
    pub max_num_reorder_frames: u32,
    /// max_dec_frame_buffering.
    pub max_dec_frame_buffering: u32,
}

/// VUI parameters (E.1.1); `None` fields are written as "not present".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Vui {
    /// Aspect ratio.
    pub aspect_ratio: Option<AspectRatio>,
    /// overscan_appropriate_flag, if signalled.
    pub overscan_appropriate: Option<bool>,
    /// Video signal type.
    pub video_signal: Option<VideoSignal>,
    /// chroma_sample_loc_type_top_field / _bottom_field, if signalled.
    pub chroma_loc: Option<(u32, u32)>,
    /// Timing.
    pub timing: Option<Timing>,
    /// NAL HRD parameters (VCL HRD is never written).
    pub nal_hrd: Option<Hrd>,
    /// low_delay_hrd_flag (written only with HRD parameters).
    pub low_delay_hrd: bool,
    /// pic_struct_present_flag.
    pub pic_struct_present: bool,
    /// Bitstream restriction.
    pub bitstream_restriction: Option<BitstreamRestriction>,
}

/// What the kernel adds to the SPS control's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpsExtra {
    /// Frame cropping, if any offset is non-zero.
    pub crop: Option<Crop>,
    /// VUI, if present.
    pub vui: Option<Vui>,
}

/// profile_idc values whose SPS carries chroma_format_idc and bit depths (7.3.2.1.1).
pub fn profile_has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

/// Crop units (CropUnitX, CropUnitY) of 7.4.2.1.1 for a frame-only SPS.
pub fn crop_units(sps: &H264Sps) -> (u32, u32) {
    let chroma = if profile_has_chroma_info(sps.profile_idc) {
        sps.chroma_format_idc
    } else {
        1
    };
    let separate = sps.flags & SPS_FLAG_SEPARATE_COLOUR_PLANE != 0;
    let frame_only = sps.flags & SPS_FLAG_FRAME_MBS_ONLY != 0;
    let (sub_w, sub_h) = match (chroma, separate) {
        (0, _) | (3, true) => (1, 1),
        (1, _) => (2, 2),
        (2, _) => (2, 1),
        _ => (1, 1),
    };
    let mono = chroma == 0 || separate;
    let ux = if mono { 1 } else { sub_w };
    let uy = (if mono { 1 } else { sub_h }) * if frame_only { 1 } else { 2 };
    (ux, uy)
}

/// Cropping that shows the top-left `width`×`height` of the coded picture of `sps`, or `None`
/// when nothing needs cropping. A visible size that is not a multiple of the crop unit (odd
/// sizes in 4:2:0) is rounded up to it: the bitstream cannot express it.
pub fn crop_for_visible(sps: &H264Sps, width: u32, height: u32) -> Option<Crop> {
    let (ux, uy) = crop_units(sps);
    let frame_only = sps.flags & SPS_FLAG_FRAME_MBS_ONLY != 0;
    let coded_w = (sps.pic_width_in_mbs_minus1 as u32 + 1) * 16;
    let coded_h =
        (sps.pic_height_in_map_units_minus1 as u32 + 1) * 16 * if frame_only { 1 } else { 2 };
    // u32 division by the small constants 1 or 2 (or 4): not a u64 division.
    let right = coded_w.saturating_sub(width) / ux;
    let bottom = coded_h.saturating_sub(height) / uy;
    if right == 0 && bottom == 0 {
        None
    } else {
        Some(Crop {
            left: 0,
            right,
            top: 0,
            bottom,
        })
    }
}

fn check(cond: bool, what: &'static str) -> Result<(), HeaderError> {
    if cond {
        Ok(())
    } else {
        Err(HeaderError::Invalid(what))
    }
}

/// Writes the SPS RBSP (7.3.2.1.1), including its trailing bits.
pub fn write_sps_rbsp<S: BitSink + ?Sized>(
    s: &mut S,
    sps: &H264Sps,
    extra: &SpsExtra,
) -> Result<(), HeaderError> {
    check(sps.seq_parameter_set_id <= 31, "seq_parameter_set_id")?;
    check(
        sps.log2_max_frame_num_minus4 <= 12,
        "log2_max_frame_num_minus4",
    )?;
    check(sps.pic_order_cnt_type <= 2, "pic_order_cnt_type")?;
    check(
        sps.log2_max_pic_order_cnt_lsb_minus4 <= 12,
        "log2_max_pic_order_cnt_lsb_minus4",
    )?;
    check(sps.constraint_set_flags & 0xc0 == 0, "constraint_set_flags")?;

    s.put_bits(8, sps.profile_idc as u32)?;
    // constraint_set0_flag comes first in the bitstream and is bit 0 in V4L2.
    for i in 0..6 {
        s.put_bit(sps.constraint_set_flags & (1 << i) != 0)?;
    }
    s.put_bits(2, 0)?; // reserved_zero_2bits
    s.put_bits(8, sps.level_idc as u32)?;
    s.put_ue(sps.seq_parameter_set_id as u32)?;
    if profile_has_chroma_info(sps.profile_idc) {
        check(sps.chroma_format_idc <= 3, "chroma_format_idc")?;
        check(sps.bit_depth_luma_minus8 <= 6, "bit_depth_luma_minus8")?;
        check(sps.bit_depth_chroma_minus8 <= 6, "bit_depth_chroma_minus8")?;
        s.put_ue(sps.chroma_format_idc as u32)?;
        if sps.chroma_format_idc == 3 {
            s.put_bit(sps.flags & SPS_FLAG_SEPARATE_COLOUR_PLANE != 0)?;
        }
        s.put_ue(sps.bit_depth_luma_minus8 as u32)?;
        s.put_ue(sps.bit_depth_chroma_minus8 as u32)?;
        s.put_bit(sps.flags & SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS != 0)?;
        // seq_scaling_matrix_present_flag: the uAPI has no SPS scaling lists.
        s.put_bit(false)?;
    }
    s.put_ue(sps.log2_max_frame_num_minus4 as u32)?;
    s.put_ue(sps.pic_order_cnt_type as u32)?;
    match sps.pic_order_cnt_type {
        0 => s.put_ue(sps.log2_max_pic_order_cnt_lsb_minus4 as u32)?,
        1 => {
            s.put_bit(sps.flags & SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO != 0)?;
            s.put_se(sps.offset_for_non_ref_pic)?;
            s.put_se(sps.offset_for_top_to_bottom_field)?;
            s.put_ue(sps.num_ref_frames_in_pic_order_cnt_cycle as u32)?;
            let n = sps.num_ref_frames_in_pic_order_cnt_cycle as usize;
            let offsets = sps
                .offset_for_ref_frame
                .get(..n)
                .ok_or(HeaderError::Invalid(
                    "num_ref_frames_in_pic_order_cnt_cycle",
                ))?;
            for &o in offsets {
                s.put_se(o)?;
            }
        }
        _ => {}
    }
    s.put_ue(sps.max_num_ref_frames as u32)?;
    s.put_bit(sps.flags & SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED != 0)?;
    s.put_ue(sps.pic_width_in_mbs_minus1 as u32)?;
    s.put_ue(sps.pic_height_in_map_units_minus1 as u32)?;
    let frame_mbs_only = sps.flags & SPS_FLAG_FRAME_MBS_ONLY != 0;
    s.put_bit(frame_mbs_only)?;
    if !frame_mbs_only {
        s.put_bit(sps.flags & SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD != 0)?;
    }
    s.put_bit(sps.flags & SPS_FLAG_DIRECT_8X8_INFERENCE != 0)?;
    match extra.crop {
        Some(c) => {
            s.put_bit(true)?;
            s.put_ue(c.left)?;
            s.put_ue(c.right)?;
            s.put_ue(c.top)?;
            s.put_ue(c.bottom)?;
        }
        None => s.put_bit(false)?,
    }
    match &extra.vui {
        Some(v) => {
            s.put_bit(true)?;
            write_vui(s, v)?;
        }
        None => s.put_bit(false)?,
    }
    s.rbsp_trailing_bits()?;
    Ok(())
}

/// Writes vui_parameters() (E.1.1).
pub fn write_vui<S: BitSink + ?Sized>(s: &mut S, v: &Vui) -> Result<(), HeaderError> {
    match v.aspect_ratio {
        Some(a) => {
            s.put_bit(true)?;
            s.put_bits(8, a.idc as u32)?;
            if a.idc == EXTENDED_SAR {
                s.put_bits(16, a.sar_width as u32)?;
                s.put_bits(16, a.sar_height as u32)?;
            }
        }
        None => s.put_bit(false)?,
    }
    match v.overscan_appropriate {
        Some(o) => {
            s.put_bit(true)?;
            s.put_bit(o)?;
        }
        None => s.put_bit(false)?,
    }
    match v.video_signal {
        Some(vs) => {
            check(vs.video_format <= 7, "video_format")?;
            s.put_bit(true)?;
            s.put_bits(3, vs.video_format as u32)?;
            s.put_bit(vs.full_range)?;
            match vs.colour {
                Some(c) => {
                    s.put_bit(true)?;
                    s.put_bits(8, c.colour_primaries as u32)?;
                    s.put_bits(8, c.transfer_characteristics as u32)?;
                    s.put_bits(8, c.matrix_coefficients as u32)?;
                }
                None => s.put_bit(false)?,
            }
        }
        None => s.put_bit(false)?,
    }
    match v.chroma_loc {
        Some((top, bottom)) => {
            check(top <= 5 && bottom <= 5, "chroma_sample_loc_type")?;
            s.put_bit(true)?;
            s.put_ue(top)?;
            s.put_ue(bottom)?;
        }
        None => s.put_bit(false)?,
    }
    match v.timing {
        Some(t) => {
            check(t.num_units_in_tick > 0 && t.time_scale > 0, "timing_info")?;
            s.put_bit(true)?;
            s.put_bits(32, t.num_units_in_tick)?;
            s.put_bits(32, t.time_scale)?;
            s.put_bit(t.fixed_frame_rate)?;
        }
        None => s.put_bit(false)?,
    }
    match v.nal_hrd {
        Some(h) => {
            s.put_bit(true)?;
            write_hrd(s, &h)?;
        }
        None => s.put_bit(false)?,
    }
    s.put_bit(false)?; // vcl_hrd_parameters_present_flag
    if v.nal_hrd.is_some() {
        s.put_bit(v.low_delay_hrd)?;
    }
    s.put_bit(v.pic_struct_present)?;
    match v.bitstream_restriction {
        Some(b) => {
            s.put_bit(true)?;
            s.put_bit(b.motion_vectors_over_pic_boundaries)?;
            s.put_ue(b.max_bytes_per_pic_denom)?;
            s.put_ue(b.max_bits_per_mb_denom)?;
            s.put_ue(b.log2_max_mv_length_horizontal)?;
            s.put_ue(b.log2_max_mv_length_vertical)?;
            s.put_ue(b.max_num_reorder_frames)?;
            s.put_ue(b.max_dec_frame_buffering)?;
        }
        None => s.put_bit(false)?,
    }
    Ok(())
}

/// Writes hrd_parameters() (E.1.2) for one schedule.
pub fn write_hrd<S: BitSink + ?Sized>(s: &mut S, h: &Hrd) -> Result<(), HeaderError> {
    check(
        h.bit_rate_scale <= 15 && h.cpb_size_scale <= 15,
        "hrd scale",
    )?;
    check(
        h.initial_cpb_removal_delay_length_minus1 <= 31
            && h.cpb_removal_delay_length_minus1 <= 31
            && h.dpb_output_delay_length_minus1 <= 31
            && h.time_offset_length <= 31,
        "hrd lengths",
    )?;
    s.put_ue(0)?; // cpb_cnt_minus1
    s.put_bits(4, h.bit_rate_scale as u32)?;
    s.put_bits(4, h.cpb_size_scale as u32)?;
    s.put_ue(h.bit_rate_value_minus1)?;
    s.put_ue(h.cpb_size_value_minus1)?;
    s.put_bit(h.cbr)?;
    s.put_bits(5, h.initial_cpb_removal_delay_length_minus1 as u32)?;
    s.put_bits(5, h.cpb_removal_delay_length_minus1 as u32)?;
    s.put_bits(5, h.dpb_output_delay_length_minus1 as u32)?;
    s.put_bits(5, h.time_offset_length as u32)?;
    Ok(())
}

/// Writes a complete SPS NAL unit (nal_ref_idc 3, 4-byte start code under Annex B).
pub fn write_sps<S: NalSink + ?Sized>(
    s: &mut S,
    framing: StartCode,
    first_in_access_unit: bool,
    sps: &H264Sps,
    extra: &SpsExtra,
) -> Result<(), HeaderError> {
    begin_nal(s, framing, first_in_access_unit, 3, nal_type::SPS)?;
    write_sps_rbsp(s, sps, extra)?;
    end_nal(s)
}

#[cfg(test)]
mod tests;
