// SPDX-License-Identifier: GPL-2.0
//! Per-frame state: the SPS/PPS/ENCODE_PARAMS controls adapted to the OUTPUT format and
//! constrained to the backend (uapi.md §2.5 step 1, §8.4 steps 1–2).
//!
//! [`FrameState::prepare`] copies the controls, forces what the kernel decides (size and
//! cropping from the OUTPUT format, the VUI, a single SPS/PPS id, frame coding only), drops the
//! PPS features nobody implements, maps SI/SP to I/P, refuses B and a non-I first frame, then
//! applies the backend's [`Capabilities`] and relabels `profile_idc`, the constraint flags and
//! `level_idc` so that what the stream claims is true. The result is what gets written back into
//! the controls and into the bitstream.

pub use super::caps::{Capabilities, HW_AUD, HW_PPS, HW_SLICE_HEADER, HW_SPS};
use super::counters::{rebase_counters, Counters};
use super::level::choose_level;
use super::sei::{default_initial_delay_90k, BufferingPeriod, PicTiming, DELAY_BITS};
use super::sps::{Crop, Hrd, SpsExtra, Vui};
use super::uapi::*;
use super::validate::{validate_encode_params, validate_pps, validate_sps, ValidateError};
use super::vui::{self, Colorimetry, SarControls};

/// A rectangle in pixels (the OUTPUT CROP selection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rect {
    /// Left edge.
    pub left: u32,
    /// Top edge.
    pub top: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// What the OUTPUT queue tells us about the source (uapi.md §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SourceFormat {
    /// Coded width (the S_FMT width, already rounded up to the alignment).
    pub width: u32,
    /// Coded height.
    pub height: u32,
    /// Visible rectangle (S_SELECTION CROP; defaults to the S_FMT size).
    pub crop: Rect,
    /// Colorimetry of the format.
    pub colorimetry: Colorimetry,
    /// timeperframe numerator (seconds per frame = num/den); 0 if unknown.
    pub timeperframe_num: u32,
    /// timeperframe denominator.
    pub timeperframe_den: u32,
}

/// Stream-level options from the controls (uapi.md §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// STATELESS_H264_START_CODE.
    pub start_code: StartCode,
    /// MPEG_VIDEO_AU_DELIMITER.
    pub aud: bool,
    /// MPEG_VIDEO_PREPEND_SPSPPS_TO_IDR.
    pub prepend_sps_pps: bool,
    /// H264_VUI_SAR_*.
    pub sar: SarControls,
    /// NAL HRD parameters to declare (rate-controlled streams, see
    /// [`super::sei::hrd_params`]); with them every access unit carries picture timing SEI
    /// and every IDR a buffering period. Ignored without a frame rate (no clock tick).
    pub hrd: Option<Hrd>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            start_code: StartCode::AnnexB,
            aud: false,
            prepend_sps_pps: true, // our default, uapi.md §8.3
            sar: SarControls::default(),
            hrd: None,
        }
    }
}

/// Why a frame cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// A control value is out of range.
    Invalid(ValidateError),
    /// The OUTPUT format or crop does not suit the backend.
    Format(&'static str),
    /// A feature that cannot be adapted away (B frames, POC type 1).
    Unsupported(&'static str),
    /// The first frame of a stream must be an I frame (uapi.md §2.5).
    FirstFrameNotIntra,
    /// The backend's [`Capabilities`] are inconsistent (a driver bug).
    Capabilities,
}

impl From<ValidateError> for StateError {
    fn from(e: ValidateError) -> Self {
        StateError::Invalid(e)
    }
}

/// Which parameter-set units go into this access unit (the engine asks the backend which of
/// them it writes itself through [`Capabilities::hw_headers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderPlan {
    /// Write an AUD first.
    pub aud: bool,
    /// Write SPS and PPS before the slice.
    pub sps_pps: bool,
}

/// Stream history needed to adapt the next frame: whether a frame was already encoded, and the
/// parameter sets last written (to detect a change).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamTracker {
    started: bool,
    sps: H264Sps,
    pps: H264Pps,
    extra: SpsExtra,
    counters: Counters,
}

impl StreamTracker {
    /// A new stream (STREAMON, or a restart after drain).
    pub fn reset(&mut self) {
        self.started = false;
    }
    /// True once a frame has been committed.
    pub fn started(&self) -> bool {
        self.started
    }
    /// Records a frame as encoded (call after the hardware completed it).
    pub fn commit(&mut self, st: &FrameState) {
        self.started = true;
        self.sps.clone_from(&st.sps);
        self.pps = st.pps;
        self.extra = st.extra;
        self.counters = st.counters;
    }
}

/// The adapted state of one frame.
///
/// About 1.1 KiB (it holds an SPS): keep it, like the [`StreamTracker`], in the per-context
/// allocation rather than on a 32-bit ARM kernel stack.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FrameState {
    /// Adapted SPS (written back into the SPS control).
    pub sps: H264Sps,
    /// Adapted PPS (written back into the PPS control).
    pub pps: H264Pps,
    /// Adapted ENCODE_PARAMS (written back; slice_qp_delta is later set by RC).
    pub params: H264EncodeParams,
    /// Cropping and VUI.
    pub extra: SpsExtra,
    /// Units to write before the slice.
    pub plan: HeaderPlan,
    /// Annex B or bare NAL units.
    pub framing: StartCode,
    /// initial_cpb_removal_delay for this frame's buffering period SEI in 90 kHz units, from
    /// [`super::rc::RateControl::initial_cpb_removal_delay_90k`]; 0 = half a buffer. Set it
    /// after [`FrameState::prepare`] (which resets it).
    pub initial_cpb_removal_delay_90k: u32,
    /// Counters after this frame (committed into the tracker).
    counters: Counters,
}

fn rank_of(profile_idc: u8) -> u8 {
    match profile_idc {
        0..=66 => 0,
        67..=99 => 1, // Main, Extended: our streams are at most Main-level features here
        _ => 2,
    }
}

const PROFILES: [u8; 3] = [66, 77, 100];

impl FrameState {
    /// Builds the frame state from the current control values, the OUTPUT format, the stream
    /// options, the backend capabilities and the stream history.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        &mut self,
        sps: &H264Sps,
        pps: &H264Pps,
        params: &H264EncodeParams,
        src: &SourceFormat,
        opts: &StreamOptions,
        caps: &Capabilities,
        tracker: &StreamTracker,
    ) -> Result<(), StateError> {
        caps.check()?;
        validate_sps(sps)?;
        validate_pps(pps)?;
        self.sps.clone_from(sps);
        self.pps = *pps;
        self.params = *params;
        self.initial_cpb_removal_delay_90k = 0;
        validate_encode_params(&mut self.params)?;

        let crop = self.adapt_size(src, caps)?;
        self.adapt_sps(caps)?;
        self.adapt_pps(caps);
        self.relabel_profile(caps, src);
        let timing = vui::timing(src.timeperframe_num, src.timeperframe_den);
        let v = Vui {
            aspect_ratio: vui::aspect_ratio(&opts.sar),
            video_signal: vui::video_signal(&src.colorimetry),
            timing,
            // The HRD's delays count clock ticks: no timing, no HRD.
            nal_hrd: if timing.is_some() { opts.hrd } else { None },
            bitstream_restriction: Some(vui::restriction(self.sps.max_num_ref_frames)),
            ..Vui::default()
        };
        self.extra = SpsExtra { crop, vui: Some(v) };
        // An SPS may only change at an IDR picture (7.4.1.2.1): a new size, crop, frame rate
        // or profile mid-stream turns this frame into one.
        let sps_changed =
            tracker.started && (tracker.sps != self.sps || tracker.extra != self.extra);
        self.adapt_params(sps, caps, tracker, sps_changed)?;
        self.framing = opts.start_code;
        let changed = !tracker.started
            || tracker.sps != self.sps
            || tracker.pps != self.pps
            || tracker.extra != self.extra;
        self.plan = HeaderPlan {
            aud: opts.aud,
            sps_pps: changed || (self.params.is_idr() && opts.prepend_sps_pps),
        };
        Ok(())
    }

    /// The picture order count of this frame, relative to the last IDR (8.2.1), as the decoder
    /// will derive it from the adapted fields.
    pub fn poc(&self) -> i32 {
        self.counters.poc
    }

    /// The HRD SEI of this access unit, when the SPS declares NAL HRD parameters: a buffering
    /// period on IDR pictures (with `initial_delay_90k` from rate control, or half a buffer if
    /// 0) and the picture timing.
    pub fn hrd_sei(&self, initial_delay_90k: u32) -> Option<(Option<BufferingPeriod>, PicTiming)> {
        let hrd = self.extra.vui.as_ref()?.nal_hrd?;
        let bp = self.params.is_idr().then(|| BufferingPeriod {
            initial_cpb_removal_delay: if initial_delay_90k == 0 {
                default_initial_delay_90k(&hrd)
            } else {
                initial_delay_90k.min((1 << DELAY_BITS) - 1)
            },
            initial_cpb_removal_delay_offset: 0,
        });
        let pt = PicTiming {
            cpb_removal_delay: self.counters.cpb_removal_delay,
            dpb_output_delay: 0, // output order is decode order
        };
        Some((bp, pt))
    }

    /// The QP the PPS implies for slice_qp_delta = 0.
    pub fn pic_init_qp(&self) -> i32 {
        26 + self.pps.pic_init_qp_minus26 as i32
    }

    /// Sets slice_qp_delta for a frame QP chosen by rate control (uapi.md §8.4 step 4).
    pub fn set_qp(&mut self, qp: u8) {
        let qp = qp.min(51) as i32;
        self.params.slice_qp_delta = (qp - self.pic_init_qp()) as i8;
    }

    /// Frame size in MBs and cropping from the OUTPUT format and crop rectangle.
    fn adapt_size(
        &mut self,
        src: &SourceFormat,
        caps: &Capabilities,
    ) -> Result<Option<Crop>, StateError> {
        let (w, h) = (src.width, src.height);
        let wa = caps.width_align.max(16);
        let ha = caps.height_align.max(16);
        if w == 0 || h == 0 || w % wa != 0 || h % ha != 0 {
            return Err(StateError::Format("coded size not aligned"));
        }
        if w < caps.min_width || h < caps.min_height || w > caps.max_width || h > caps.max_height {
            return Err(StateError::Format("coded size out of range"));
        }
        let c = src.crop;
        let right_edge = c
            .left
            .checked_add(c.width)
            .ok_or(StateError::Format("crop"))?;
        let bottom_edge = c
            .top
            .checked_add(c.height)
            .ok_or(StateError::Format("crop"))?;
        if c.width == 0 || c.height == 0 || right_edge > w || bottom_edge > h {
            return Err(StateError::Format("crop outside the frame"));
        }
        let mbs_w = u16::try_from(w / 16).map_err(|_| StateError::Format("width"))?;
        let mbs_h = u16::try_from(h / 16).map_err(|_| StateError::Format("height"))?;
        self.sps.pic_width_in_mbs_minus1 = mbs_w - 1;
        self.sps.pic_height_in_map_units_minus1 = mbs_h - 1;
        // 4:2:0 frames: crop units of 2x2 luma samples (7.4.2.1.1). Odd edges round outwards.
        let crop = Crop {
            left: c.left / 2,
            right: (w - right_edge) / 2,
            top: c.top / 2,
            bottom: (h - bottom_edge) / 2,
        };
        Ok(if crop == Crop::default() {
            None
        } else {
            Some(crop)
        })
    }

    fn adapt_sps(&mut self, caps: &Capabilities) -> Result<(), StateError> {
        let s = &mut self.sps;
        // Our backends encode 8-bit 4:2:0 frames.
        s.chroma_format_idc = 1;
        s.bit_depth_luma_minus8 = 0;
        s.bit_depth_chroma_minus8 = 0;
        s.flags &= !(SPS_FLAG_SEPARATE_COLOUR_PLANE
            | SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS
            | SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD
            | SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO);
        s.flags |= SPS_FLAG_FRAME_MBS_ONLY;
        s.seq_parameter_set_id = 0;
        if let Some(t) = caps.forced_poc_type {
            s.pic_order_cnt_type = t;
        }
        if s.pic_order_cnt_type == 1 {
            // The series rejects every type but 0 (uapi.md §2.5); we also implement type 2,
            // which VEPU2 needs, but not type 1.
            return Err(StateError::Unsupported("pic_order_cnt_type 1"));
        }
        s.num_ref_frames_in_pic_order_cnt_cycle = 0;
        s.offset_for_ref_frame = [0; 255];
        s.offset_for_non_ref_pic = 0;
        s.offset_for_top_to_bottom_field = 0;
        if s.pic_order_cnt_type != 0 {
            s.log2_max_pic_order_cnt_lsb_minus4 = 0;
        }
        if let Some(v) = caps.forced_log2_max_frame_num_minus4 {
            s.log2_max_frame_num_minus4 = v;
        }
        if let Some(v) = caps.forced_log2_max_poc_lsb_minus4 {
            if s.pic_order_cnt_type == 0 {
                s.log2_max_pic_order_cnt_lsb_minus4 = v;
            }
        }
        s.max_num_ref_frames = if caps.inter && caps.max_ref_frames > 0 {
            s.max_num_ref_frames.clamp(1, caps.max_ref_frames)
        } else {
            0
        };
        Ok(())
    }

    fn adapt_pps(&mut self, caps: &Capabilities) {
        let p = &mut self.pps;
        p.pic_parameter_set_id = 0;
        p.seq_parameter_set_id = 0;
        p.num_slice_groups_minus1 = 0;
        p.weighted_bipred_idc = 0;
        p.flags &= !(PPS_FLAG_WEIGHTED_PRED
            | PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT
            | PPS_FLAG_SCALING_MATRIX_PRESENT
            | PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT);
        if !caps.cabac {
            p.flags &= !PPS_FLAG_ENTROPY_CODING_MODE;
        }
        if !caps.transform_8x8 {
            p.flags &= !PPS_FLAG_TRANSFORM_8X8_MODE;
        }
        let max_idx = self.sps.max_num_ref_frames.saturating_sub(1);
        p.num_ref_idx_l0_default_active_minus1 =
            p.num_ref_idx_l0_default_active_minus1.min(max_idx);
        p.num_ref_idx_l1_default_active_minus1 = 0;
    }

    /// Makes profile_idc, constraint flags and level_idc describe the stream we produce.
    fn relabel_profile(&mut self, caps: &Capabilities, src: &SourceFormat) {
        let cabac = self.pps.flags & PPS_FLAG_ENTROPY_CODING_MODE != 0;
        let high = self.pps.flags & PPS_FLAG_TRANSFORM_8X8_MODE != 0
            || self.pps.second_chroma_qp_index_offset != self.pps.chroma_qp_index_offset;
        let needed = if high { 2 } else { cabac as u8 };
        let s = &mut self.sps;
        let requested_profile = s.profile_idc;
        let rank = rank_of(requested_profile).max(needed);
        let profile = PROFILES.get(rank as usize).copied().unwrap_or(100);

        // Level 1b is spelled level_idc 11 + constraint_set3 below High, 9 in High (A.3.1/A.3.3).
        let mut level = s.level_idc;
        let was_1b = (level == 11
            && rank_of(requested_profile) < 2
            && s.constraint_set_flags & SPS_CONSTRAINT_SET3_FLAG != 0)
            || level == 9;
        if was_1b {
            level = 9;
        }
        let mbs =
            (s.pic_width_in_mbs_minus1 as u32 + 1) * (s.pic_height_in_map_units_minus1 as u32 + 1);
        // timeperframe num/den is seconds per frame: fps = den/num.
        if let Some(l) = choose_level(
            level,
            caps.max_level_idc,
            mbs,
            s.max_num_ref_frames.max(1) as u32,
            src.timeperframe_den,
            src.timeperframe_num,
        ) {
            level = l;
        }

        let conforms_baseline = !cabac && !high;
        let conforms_main = !high;
        let conforms_extended = conforms_baseline && s.flags & SPS_FLAG_DIRECT_8X8_INFERENCE != 0;
        let req = s.constraint_set_flags;
        let mut flags = 0u8;
        if req & SPS_CONSTRAINT_SET0_FLAG != 0 && conforms_baseline {
            flags |= SPS_CONSTRAINT_SET0_FLAG;
        }
        if req & SPS_CONSTRAINT_SET1_FLAG != 0 && conforms_main {
            flags |= SPS_CONSTRAINT_SET1_FLAG;
        }
        if req & SPS_CONSTRAINT_SET2_FLAG != 0 && conforms_extended {
            flags |= SPS_CONSTRAINT_SET2_FLAG;
        }
        if profile != 66 {
            // set4: frame_mbs_only (always true); set5: no B slices (always true). Both are
            // reserved for Baseline.
            flags |= req & (SPS_CONSTRAINT_SET4_FLAG | SPS_CONSTRAINT_SET5_FLAG);
        }
        if level == 9 && profile != 100 {
            level = 11;
            flags |= SPS_CONSTRAINT_SET3_FLAG;
        }
        s.profile_idc = profile;
        s.level_idc = level;
        s.constraint_set_flags = flags;
    }

    fn adapt_params(
        &mut self,
        user_sps: &H264Sps,
        caps: &Capabilities,
        tracker: &StreamTracker,
        force_idr: bool,
    ) -> Result<(), StateError> {
        let p = &mut self.params;
        p.pic_parameter_set_id = 0;
        p.colour_plane_id = 0;
        p.flags &= !(ENCODE_FLAG_FIELD_PIC | ENCODE_FLAG_BOTTOM_FIELD);
        // Sliding window only (uapi.md §2.5): no long-term references.
        p.flags &= !ENCODE_FLAG_LONG_TERM_REFERENCE;
        p.slice_type = match p.slice_type {
            SLICE_TYPE_SI => SLICE_TYPE_I,
            SLICE_TYPE_SP => SLICE_TYPE_P,
            SLICE_TYPE_B => return Err(StateError::Unsupported("B frames")),
            t => t,
        };
        if p.slice_type == SLICE_TYPE_P && (!caps.inter || self.sps.max_num_ref_frames == 0) {
            p.slice_type = SLICE_TYPE_I;
        }
        if !tracker.started {
            if p.slice_type != SLICE_TYPE_I {
                return Err(StateError::FirstFrameNotIntra);
            }
            // A stream starts with an IDR picture (7.4.1.2.4).
            p.flags |= ENCODE_FLAG_IDR_PIC;
        }
        if force_idr && !p.is_idr() {
            p.slice_type = SLICE_TYPE_I;
            p.flags |= ENCODE_FLAG_IDR_PIC;
            // Consecutive IDR pictures need different idr_pic_id (7.4.3).
            p.idr_pic_id = tracker.counters.last_idr_pic_id.wrapping_add(1);
        }
        let idr = p.is_idr();
        if idr {
            p.nal_ref_idc = p.nal_ref_idc.max(1);
        } else {
            p.idr_pic_id = 0;
            p.flags &= !ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS;
        }
        self.counters = rebase_counters(user_sps, &self.sps, p, &tracker.counters);
        if !tracker.started {
            self.counters.cpb_removal_delay = 0;
        }
        p.delta_pic_order_cnt_bottom = 0;
        p.delta_pic_order_cnt0 = 0;
        p.delta_pic_order_cnt1 = 0;
        let is_p = p.slice_type == SLICE_TYPE_P;
        let max_idx = self.sps.max_num_ref_frames.saturating_sub(1);
        if is_p && p.flags & ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE != 0 {
            p.num_ref_idx_l0_active_minus1 = p.num_ref_idx_l0_active_minus1.min(max_idx);
        } else {
            p.flags &= !ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE;
            p.num_ref_idx_l0_active_minus1 = if is_p {
                self.pps.num_ref_idx_l0_default_active_minus1
            } else {
                0
            };
        }
        p.num_ref_idx_l1_active_minus1 = 0;
        if !is_p || self.pps.flags & PPS_FLAG_ENTROPY_CODING_MODE == 0 {
            p.cabac_init_idc = 0;
        }
        // Without deblocking_filter_control_present_flag the decoder infers idc 0 and zero
        // offsets: the encoder must filter the same way.
        if self.pps.flags & PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT == 0 {
            p.disable_deblocking_filter_idc = 0;
        }
        if self.pps.flags & PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT == 0
            || p.disable_deblocking_filter_idc == 1
        {
            p.slice_alpha_c0_offset_div2 = 0;
            p.slice_beta_offset_div2 = 0;
        }
        // Keep the slice QP valid for the adapted PPS; RC sets the real value later.
        let qp = (26 + self.pps.pic_init_qp_minus26 as i32 + p.slice_qp_delta as i32).clamp(0, 51);
        p.slice_qp_delta = (qp - 26 - self.pps.pic_init_qp_minus26 as i32) as i8;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
