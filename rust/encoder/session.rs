// SPDX-License-Identifier: GPL-2.0
//! The per-context H.264 encode state machine shared by the stateless and the stateful node
//! (ARCHITECTURE.md §1 "one frame", uapi.md §8.4): controls + OUTPUT format in, a
//! hardware-independent [`FramePlan`] out, then the headers, then the outcome back in.
//!
//! One frame is three calls, with exactly one frame in flight per session:
//! 1. [`H264Session::prepare`] (in `device_run`): frame state adaptation
//!    ([`FrameState::prepare`], uapi.md §8.4 steps 1–2), the frame type (the request's
//!    ENCODE_PARAMS on the stateless node, [`Gop`] on the stateful node and in the stateless
//!    node's auto mode, uapi.md §8.6), references ([`Dpb::plan`], step 3), the POC, and the QP
//!    ([`RateControl`], step 4). Nothing the decoder would see is committed yet.
//! 2. [`H264Session::write_headers`]: AUD/SPS/PPS/HRD SEI/slice header into any [`NalSink`]
//!    (the backend's put-bits block or a CPU buffer), step 5.
//! 3. [`H264Session::complete`] with the coded size (step 6: DPB marking, POC, GOP counters,
//!    RC statistics), or [`H264Session::fail`].
//!
//! Why "prepare, then commit": a frame that fails in the hardware must leave the reference
//! state as it was, otherwise the encoder and a decoder of the delivered stream disagree on
//! what the next P frame references (dpb.rs module docs).
//!
//! After a failed frame the next one is an IDR ([`H264Session::fail`]); on the stateless node
//! the client's later frame_num/POC are re-based onto that IDR so the stream has no gap.
//!
//! Everything is `no_std`, allocation-free and panic-free (ARCHITECTURE.md §3).

use crate::h264::au::{write_au_units, AuTail};
use crate::h264::dpb::{self, Dpb, DpbError};
use crate::h264::gop::{Gop, GopConfig};
use crate::h264::nal::{HeaderError, NalSink};
use crate::h264::poc::{PocError, PocState};
use crate::h264::pps::write_pps;
/// The rate-control controls [`FrameInput::rc`] carries (re-exported for the glue).
pub use crate::h264::rc::RcControls;
use crate::h264::rc::{RateControl, RcConfig, RcError, RcMode};
use crate::h264::sei::hrd_params;
use crate::h264::sps::write_sps;
use crate::h264::state::{
    Capabilities, FrameState, HeaderPlan, SourceFormat, StateError, StreamOptions, StreamTracker,
};
use crate::h264::uapi::*;

/// Why a frame cannot be prepared (the glue fails the job with -EINVAL for the state and
/// configuration variants, uapi.md §8.1 "always complete the request").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// The controls or the format cannot be adapted (B frames, a non-I first frame, …).
    State(StateError),
    /// Reference management refused the frame (frame_num gap, no reference, …).
    Dpb(DpbError),
    /// POC derivation failed (type 1).
    Poc(PocError),
    /// The rate-control settings are invalid (zero bitrate in CBR, min QP > max QP, …).
    Rc(RcError),
    /// The session limits do not suit the capabilities (a driver bug).
    Config,
}

impl From<StateError> for SessionError {
    fn from(e: StateError) -> Self {
        SessionError::State(e)
    }
}
impl From<DpbError> for SessionError {
    fn from(e: DpbError) -> Self {
        SessionError::Dpb(e)
    }
}
impl From<PocError> for SessionError {
    fn from(e: PocError) -> Self {
        SessionError::Poc(e)
    }
}
impl From<RcError> for SessionError {
    fn from(e: RcError) -> Self {
        SessionError::Rc(e)
    }
}

/// Backend properties the uAPI [`Capabilities`] do not describe but the session must honour
/// so that the slice header and the hardware agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Reconstruction slots the backend owns (cedrus: 2, ping-pong, cedrus.md §6 item 4).
    /// At least `1 + caps.max_ref_frames`.
    pub rec_slots: u8,
    /// Smallest chroma_qp_index_offset the hardware can apply (cedrus: 0, the 3-bit
    /// AVC_PARA1 field, cedrus.md §6). The PPS is clamped into the range, and
    /// second_chroma_qp_index_offset is forced equal (one offset register for Cb and Cr).
    pub chroma_qp_offset_min: i8,
    /// Largest chroma_qp_index_offset (cedrus: 7).
    pub chroma_qp_offset_max: i8,
    /// Smallest QP the hardware takes.
    pub min_qp: u8,
    /// Largest QP the hardware takes (≤ 51).
    pub max_qp: u8,
}

impl SessionLimits {
    /// Limits that only follow the H.264 syntax: `1 + max_ref_frames` slots, offsets −12..12,
    /// QP 0..51.
    pub fn syntax_only(caps: &Capabilities) -> Self {
        Self {
            rec_slots: caps.max_ref_frames.max(1).saturating_add(1),
            chroma_qp_offset_min: -12,
            chroma_qp_offset_max: 12,
            min_qp: 0,
            max_qp: 51,
        }
    }
}

/// Picture-coding settings for the stateful node, where the session writes the SPS/PPS itself
/// from the standard controls (cedrus.md §4 control list; uapi.md §8.6 auto mode uses the
/// deblocking and cabac_init_idc fields too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodingSettings {
    /// profile_idc from `H264_PROFILE` (66 baseline, 77 main, 100 high; the glue maps the
    /// menu). The state layer relabels it to what the stream really uses.
    pub profile_idc: u8,
    /// constraint_set flags (`SPS_CONSTRAINT_SET*`; constrained baseline = 66 + set1).
    pub constraint_set_flags: u8,
    /// level_idc from `H264_LEVEL` (10 × level); raised to what size and rate need.
    pub level_idc: u8,
    /// `H264_ENTROPY_MODE` = CABAC.
    pub cabac: bool,
    /// cabac_init_idc of P slices (0..=2).
    pub cabac_init_idc: u8,
    /// `H264_CHROMA_QP_INDEX_OFFSET`.
    pub chroma_qp_index_offset: i8,
    /// `H264_LOOP_FILTER_MODE`: disable_deblocking_filter_idc 0..=2.
    pub disable_deblocking_filter_idc: u8,
    /// `H264_LOOP_FILTER_ALPHA` (slice_alpha_c0_offset_div2, −6..=6).
    pub alpha_c0_offset_div2: i8,
    /// `H264_LOOP_FILTER_BETA` (slice_beta_offset_div2, −6..=6).
    pub beta_offset_div2: i8,
    /// log2_max_frame_num_minus4 of the SPS we write (Bootlin: 4, i.e. 8 bits, cedrus.md §2.2).
    pub log2_max_frame_num_minus4: u8,
    /// log2_max_pic_order_cnt_lsb_minus4 (Bootlin: 4).
    pub log2_max_poc_lsb_minus4: u8,
}

impl Default for CodingSettings {
    fn default() -> Self {
        Self {
            profile_idc: 77, // main: GStreamer's default (uapi.md §8.5)
            constraint_set_flags: 0,
            level_idc: 31,
            cabac: false,
            cabac_init_idc: 0,
            chroma_qp_index_offset: 0,
            disable_deblocking_filter_idc: 0,
            alpha_c0_offset_div2: 0,
            beta_offset_div2: 0,
            log2_max_frame_num_minus4: 4,
            log2_max_poc_lsb_minus4: 4,
        }
    }
}

/// Frame-type settings when the session decides (stateful node, stateless auto mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GopSettings {
    /// `MPEG_VIDEO_GOP_SIZE`: frames from one IDR to the next; 0 = only the first; 1 = all IDR.
    pub gop_size: u32,
    /// `H264_I_PERIOD`: non-IDR I frames every this many frames inside a GOP; 0 = none.
    pub i_period: u32,
    /// `FORCE_KEY_FRAME` was pressed since the last frame: this frame is an IDR.
    pub force_key_frame: bool,
}

impl Default for GopSettings {
    fn default() -> Self {
        Self {
            gop_size: 30,
            i_period: 0,
            force_key_frame: false,
        }
    }
}

/// Where the SPS/PPS go (`MPEG_VIDEO_HEADER_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeaderMode {
    /// `JOINED_WITH_1ST_FRAME`: SPS/PPS precede the slice in the same buffer (default; the
    /// only mode of the stateless node and of Bootlin's encoder, cedrus.md §4).
    #[default]
    JoinedWith1stFrame,
    /// `SEPARATE`: SPS/PPS go into a buffer of their own, written by the glue with
    /// [`H264Session::write_parameter_sets`] before the frame ([`FramePlan::separate_sps_pps`]).
    Separate,
}

/// The parameter-set controls of the stateless node.
#[derive(Debug, Clone, Copy)]
pub struct ParameterSets<'a> {
    /// `STATELESS_H264_SPS`.
    pub sps: &'a H264Sps,
    /// `STATELESS_H264_PPS`.
    pub pps: &'a H264Pps,
}

/// Everything one frame is encoded from (read from the controls by the glue in `device_run`,
/// after the request's controls were applied, uapi.md §8.4 step 1).
#[derive(Debug, Clone, Copy)]
pub struct FrameInput<'a> {
    /// Stateless node: the SPS/PPS controls. `None` (stateful node): the session builds them
    /// from [`FrameInput::coding`].
    pub parameter_sets: Option<ParameterSets<'a>>,
    /// Stateless node: the request's ENCODE_PARAMS. `None` (stateful node, or the stateless
    /// node's auto mode when no params were set since the last frame, uapi.md §8.6): the
    /// session's GOP decides.
    pub params: Option<&'a H264EncodeParams>,
    /// SPS/PPS settings (used when `parameter_sets` is `None`; deblocking and cabac_init_idc
    /// also feed the GOP's params).
    pub coding: CodingSettings,
    /// GOP settings (used when `params` is `None`).
    pub gop: GopSettings,
    /// The rate-control controls as V4L2 delivers them (uapi.md §8.3, §8.4 step 4);
    /// interpreted by [`RcConfig::from_controls`] and clamped to the [`SessionLimits`].
    pub rc: RcControls,
    /// Declare NAL HRD parameters in the SPS of rate-controlled (CBR/VBR) streams, with a
    /// buffering period SEI on every IDR and a picture timing SEI on every frame (h264::sei).
    /// Ignored for direct QP and CQ, and without a frame rate.
    pub hrd: bool,
    /// Start code, AUD, prepend SPS/PPS, SAR.
    pub opts: StreamOptions,
    /// Header placement.
    pub header_mode: HeaderMode,
}

/// Slice type of a planned frame (we code I and P only, cedrus.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SliceKind {
    /// Intra (IDR or not, see [`FramePlan::idr`]).
    #[default]
    I,
    /// Predicted from the reference in [`FramePlan::ref_slot`].
    P,
}

/// Deblocking exactly as the slice header says it (the hardware must filter the same way, or
/// its reconstruction drifts from the decoder's, cedrus.md §6 item 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Deblock {
    /// disable_deblocking_filter_idc (0 on, 1 off, 2 off across slice edges).
    pub disable_idc: u8,
    /// slice_alpha_c0_offset_div2 (−6..=6; 0 when the filter is off).
    pub alpha_c0_offset_div2: i8,
    /// slice_beta_offset_div2 (−6..=6; 0 when the filter is off).
    pub beta_offset_div2: i8,
}

/// Which header units the access unit carries, in stream order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderEmit {
    /// An access unit delimiter first.
    pub aud: bool,
    /// SPS + PPS before the slice, in this buffer.
    pub sps_pps: bool,
}

/// Everything a backend needs for one frame, and what the glue writes back into the controls.
///
/// The public fields are derived from [`FramePlan::state`] and agree with the headers
/// [`H264Session::write_headers`] writes; a backend programs its registers from them only.
#[derive(Debug, Clone, Default)]
pub struct FramePlan {
    /// The adapted SPS/PPS/ENCODE_PARAMS (with slice_qp_delta from RC): write back into the
    /// controls (uapi.md §8.3 "writes the adapted values back").
    pub state: FrameState,
    /// I or P.
    pub slice: SliceKind,
    /// An IDR picture (CAPTURE flag KEYFRAME; P frames get PFRAME, uapi.md §8.1).
    pub idr: bool,
    /// Slice QP (0..=51) = 26 + pic_init_qp_minus26 + slice_qp_delta.
    pub qp: u8,
    /// CABAC entropy coding (PPS entropy_coding_mode_flag).
    pub cabac: bool,
    /// cabac_init_idc as in the slice header (0 for I slices and CAVLC).
    pub cabac_init_idc: u8,
    /// chroma_qp_index_offset of the PPS (Cb and Cr alike).
    pub chroma_qp_index_offset: i8,
    /// Deblocking as in the slice header.
    pub deblock: Deblock,
    /// Header units in this access unit.
    pub emit: HeaderEmit,
    /// Header mode `Separate` and this frame needs SPS/PPS: the glue emits a header-only
    /// buffer first with [`H264Session::write_parameter_sets`].
    pub separate_sps_pps: bool,
    /// Reconstruction slot the hardware writes (0..rec_slots).
    pub rec_slot: u8,
    /// Reconstruction slot the hardware reads (P frames: RefPicList0\[0\]).
    pub ref_slot: Option<u8>,
    /// Picture width in macroblocks.
    pub width_mbs: u16,
    /// Picture height in macroblocks.
    pub height_mbs: u16,
    /// Picture order count (relative to the last IDR), as a decoder derives it.
    pub poc: i32,
    /// frame_num as written.
    pub frame_num: u16,
    // What complete() commits.
    dpb: Option<dpb::FramePlan>,
    dpb_key: DpbKey,
    poc_after: PocState,
    gop_after: Option<Gop>,
    auto: bool,
    user_fn_shift: (u16, u16),
}

impl FramePlan {
    /// True for I frames (CAPTURE flag KEYFRAME applies to IDR and I, uapi.md §8.1).
    pub fn is_intra(&self) -> bool {
        self.slice == SliceKind::I
    }
}

/// The DPB shape an SPS implies; a different one needs a new DPB (and an IDR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct DpbKey {
    max_refs: u8,
    log2_max_frame_num: u8,
    gaps: bool,
}

impl DpbKey {
    fn of(sps: &H264Sps) -> Self {
        Self {
            max_refs: sps.max_num_ref_frames.max(1),
            log2_max_frame_num: sps.log2_max_frame_num_minus4.min(12) + 4,
            gaps: sps.flags & SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED != 0,
        }
    }
}

/// The encode state of one context (one stream).
pub struct H264Session {
    caps: Capabilities,
    limits: SessionLimits,
    src: SourceFormat,
    tracker: StreamTracker,
    dpb: Option<Dpb>,
    dpb_key: DpbKey,
    poc: PocState,
    gop: Gop,
    rc: Option<RateControl>,
    /// The next frame must be an IDR (after [`H264Session::fail`]).
    need_idr: bool,
    /// Whether the last committed frame came from the GOP (auto) or from the request.
    last_auto: Option<bool>,
    /// idr_pic_id of the last committed IDR, and whether the last frame was one (consecutive
    /// IDRs need different ids, 7.4.3).
    last_idr_pic_id: u16,
    last_was_idr: bool,
    /// Stateless node after a forced IDR: the request's frame_num and pic_order_cnt_lsb that
    /// became our frame 0 / POC 0 (subtracted from later requests' until userspace's own IDR).
    user_fn_shift: (u16, u16),
    /// Scratch for the SPS the stateful node builds (kept here: 1 KiB off the stack).
    built_sps: H264Sps,
    frames: u32,
    /// Header mode `Separate`: the SPS/PPS of the frame now waiting were already delivered in
    /// a header-only buffer ([`H264Session::parameter_sets_sent`]); cleared when a frame ends.
    ps_sent: bool,
}

impl H264Session {
    /// A session for a backend with `caps`, limited only by the H.264 syntax otherwise.
    pub fn new(caps: &Capabilities, src: &SourceFormat) -> Self {
        Self::with_limits(caps, &SessionLimits::syntax_only(caps), src)
    }

    /// A session with backend `limits` (e.g. `hw::cedrus::backend::LIMITS`).
    pub fn with_limits(caps: &Capabilities, limits: &SessionLimits, src: &SourceFormat) -> Self {
        Self {
            caps: *caps,
            limits: *limits,
            src: *src,
            tracker: StreamTracker::default(),
            dpb: None,
            dpb_key: DpbKey::default(),
            poc: PocState::default(),
            gop: Gop::new(GopConfig::default()),
            rc: None,
            need_idr: false,
            last_auto: None,
            last_idr_pic_id: 0,
            last_was_idr: false,
            user_fn_shift: (0, 0),
            built_sps: H264Sps::default(),
            frames: 0,
            ps_sent: false,
        }
    }

    /// STREAMON (or `V4L2_ENC_CMD_START` after a drain): a new stream. The next frame is an
    /// IDR with fresh SPS/PPS, the DPB is flushed and rate control starts over.
    pub fn reset(&mut self) {
        self.tracker.reset();
        self.dpb = None;
        self.poc = PocState::default();
        self.gop.restart();
        self.rc = None;
        self.need_idr = false;
        self.last_auto = None;
        self.ps_sent = false;
        self.last_was_idr = false;
        self.user_fn_shift = (0, 0);
    }

    /// A new OUTPUT format (S_FMT/S_SELECTION/S_PARM between streams). Takes effect from the
    /// next frame; a size change changes the SPS, which forces an IDR.
    pub fn set_source(&mut self, src: &SourceFormat) {
        self.src = *src;
    }

    /// The OUTPUT format in use.
    pub fn source(&self) -> &SourceFormat {
        &self.src
    }

    /// The backend capabilities.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Frames completed since creation (wraps).
    pub fn frames_completed(&self) -> u32 {
        self.frames
    }

    /// Whether the next frame will be forced to an IDR because a frame failed.
    pub fn idr_pending(&self) -> bool {
        self.need_idr
    }

    /// The rate controller, once a frame was prepared (statistics for debugfs and tests).
    pub fn rate_control(&self) -> Option<&RateControl> {
        self.rc.as_ref()
    }

    /// Plans the next frame. See [`H264Session::prepare_into`], which avoids moving the
    /// ~1.2 KiB plan through the (8 KiB, on 32-bit ARM) kernel stack.
    pub fn prepare(&mut self, input: &FrameInput<'_>) -> Result<FramePlan, SessionError> {
        let mut plan = FramePlan::default();
        self.prepare_into(input, &mut plan)?;
        Ok(plan)
    }

    /// Plans the next frame into `out` (e.g. a plan kept in the context between `device_run`
    /// and the completion). On error `out` is unspecified and the session unchanged except for
    /// a rate-control reconfiguration.
    pub fn prepare_into(
        &mut self,
        input: &FrameInput<'_>,
        out: &mut FramePlan,
    ) -> Result<(), SessionError> {
        if self.limits.rec_slots < 2
            || self.limits.max_qp > 51
            || self.limits.min_qp > self.limits.max_qp
            || self.limits.chroma_qp_offset_min > self.limits.chroma_qp_offset_max
        {
            return Err(SessionError::Config);
        }
        if input.parameter_sets.is_none() {
            self.build_sps(&input.coding);
        }
        // Rate control first: the HRD parameters the SPS declares come from its model.
        let cfg = self.rc_config(&input.rc);
        match &mut self.rc {
            Some(rc) => {
                if rc.config() != &cfg {
                    rc.reconfigure(cfg)?;
                }
            }
            None => self.rc = Some(RateControl::new(cfg)?),
        }
        let auto = input.params.is_none();
        if let Some(rc) = self.rc.as_mut() {
            // The RC budgets per I period; in auto mode we know it, a client's is learnt.
            let g = &input.gop;
            let period = if !auto {
                0
            } else if g.i_period != 0 && (g.gop_size == 0 || g.i_period < g.gop_size) {
                g.i_period
            } else {
                g.gop_size
            };
            rc.set_i_period_hint(period);
        }
        // Switching between request params and the GOP cannot keep frame_num continuous:
        // restart with an IDR (uapi.md §8.6 "keeping every stream spec-valid").
        let switched = self.last_auto.is_some_and(|a| a != auto);
        let force = self.need_idr || switched || (auto && input.gop.force_key_frame);
        let asked_idr = self.attempt(input, force, out)?;
        if auto && out.state.params.is_idr() && !asked_idr {
            // The state layer turned the GOP's P/I frame into an IDR (a new SPS is only
            // activated by an IDR, 7.4.1.2.1): restart the GOP there so its counters match.
            self.attempt(input, true, out)?;
        }
        self.finish_plan(input.header_mode, out)
    }

    /// The stateful node's SPS from the coding settings (before adaptation).
    fn build_sps(&mut self, c: &CodingSettings) {
        let s = &mut self.built_sps;
        *s = H264Sps::default();
        s.profile_idc = c.profile_idc;
        s.constraint_set_flags = c.constraint_set_flags;
        s.level_idc = c.level_idc;
        s.chroma_format_idc = 1;
        s.log2_max_frame_num_minus4 = c.log2_max_frame_num_minus4.min(12);
        s.pic_order_cnt_type = 0;
        s.log2_max_pic_order_cnt_lsb_minus4 = c.log2_max_poc_lsb_minus4.min(12);
        s.max_num_ref_frames = self.caps.max_ref_frames.max(1);
        // Sizes are overwritten from the OUTPUT format by the state layer.
        s.flags = SPS_FLAG_FRAME_MBS_ONLY | SPS_FLAG_DIRECT_8X8_INFERENCE;
    }

    fn built_pps(c: &CodingSettings) -> H264Pps {
        H264Pps {
            chroma_qp_index_offset: c.chroma_qp_index_offset,
            second_chroma_qp_index_offset: c.chroma_qp_index_offset,
            flags: PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT
                | if c.cabac {
                    PPS_FLAG_ENTROPY_CODING_MODE
                } else {
                    0
                },
            ..H264Pps::default()
        }
    }

    /// One adaptation pass: frame params (forced to IDR when `force`), then the state layer.
    fn attempt(
        &self,
        input: &FrameInput<'_>,
        force: bool,
        out: &mut FramePlan,
    ) -> Result<bool, SessionError> {
        let c = &input.coding;
        let (user_sps, mut pps) = match input.parameter_sets {
            Some(ps) => (ps.sps, *ps.pps),
            None => (&self.built_sps, Self::built_pps(c)),
        };
        // The backend has one chroma QP offset register with a limited range: make the PPS
        // say what the hardware does (cedrus.md §6), before the state layer labels the profile
        // (a second offset would need the High profile's PPS extension).
        // (max/min, not clamp: clamp's min ≤ max assertion would link a panic path.)
        pps.chroma_qp_index_offset = pps
            .chroma_qp_index_offset
            .max(self.limits.chroma_qp_offset_min)
            .min(self.limits.chroma_qp_offset_max);
        pps.second_chroma_qp_index_offset = pps.chroma_qp_index_offset;

        let mut gop_after = None;
        let params = match input.params {
            Some(p) => {
                let mut p = *p;
                let user_fn_mask = (1u32 << (user_sps.log2_max_frame_num_minus4.min(12) + 4)) - 1;
                let user_lsb_mask =
                    (1u32 << (user_sps.log2_max_pic_order_cnt_lsb_minus4.min(12) + 4)) - 1;
                let user_fn = p.frame_num;
                let user_lsb = p.pic_order_cnt_lsb;
                if force {
                    // After a failed frame (or a mode switch) the references the request
                    // assumes may not exist for the decoder: code this frame as an IDR. The
                    // adapted params written back tell userspace.
                    p.slice_type = SLICE_TYPE_I;
                    p.flags |= ENCODE_FLAG_IDR_PIC;
                    p.nal_ref_idc = p.nal_ref_idc.max(1);
                    p.frame_num = 0;
                    p.pic_order_cnt_lsb = 0;
                    p.num_ref_idx_l0_active_minus1 = 0;
                    p.flags &= !ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE;
                    if self.last_was_idr {
                        p.idr_pic_id = self.last_idr_pic_id.wrapping_add(1);
                    }
                    // Userspace keeps counting from its frame_num here, while the stream
                    // restarts at 0: shift its later frame_nums by this much, or the state
                    // layer sees a frame_num gap (7.4.3) after our IDR.
                    // Same for the POC lsb, or a later frame could get a POC below the IDR's.
                    out.user_fn_shift = (user_fn, user_lsb);
                } else if p.is_idr() {
                    out.user_fn_shift = (0, 0);
                } else {
                    let (fs, ls) = self.user_fn_shift;
                    out.user_fn_shift = (fs, ls);
                    p.frame_num = (p.frame_num.wrapping_sub(fs) as u32 & user_fn_mask) as u16;
                    p.pic_order_cnt_lsb =
                        (p.pic_order_cnt_lsb.wrapping_sub(ls) as u32 & user_lsb_mask) as u16;
                }
                p
            }
            None => {
                let mut g = self.gop.clone();
                g.set_config(GopConfig {
                    gop_size: input.gop.gop_size,
                    i_period: input.gop.i_period,
                    log2_max_frame_num_minus4: user_sps.log2_max_frame_num_minus4.min(12),
                    log2_max_poc_lsb_minus4: user_sps.log2_max_pic_order_cnt_lsb_minus4.min(12),
                    disable_deblocking_filter_idc: c.disable_deblocking_filter_idc,
                    alpha_c0_offset_div2: c.alpha_c0_offset_div2,
                    beta_offset_div2: c.beta_offset_div2,
                    cabac_init_idc: c.cabac_init_idc,
                });
                if force || !self.tracker.started() {
                    g.force_key_frame();
                }
                let p = g.next_params();
                gop_after = Some(g);
                p
            }
        };
        let mut opts = input.opts;
        opts.hrd = None;
        if let Some(rc) = self.rc.as_ref().filter(|_| input.hrd) {
            if matches!(rc.config().mode, RcMode::Cbr | RcMode::Vbr) {
                let (rate, cpb) = rc.hrd_rate_and_size();
                opts.hrd = Some(hrd_params(
                    rate,
                    cpb,
                    matches!(rc.config().mode, RcMode::Cbr),
                ));
            }
        }
        out.state.prepare(
            user_sps,
            &pps,
            &params,
            &self.src,
            &opts,
            &self.caps,
            &self.tracker,
        )?;
        out.gop_after = gop_after;
        out.auto = input.params.is_none();
        Ok(params.is_idr())
    }

    /// References, POC, QP and the derived fields of a prepared state.
    fn finish_plan(
        &mut self,
        header_mode: HeaderMode,
        out: &mut FramePlan,
    ) -> Result<(), SessionError> {
        let st = &out.state;
        let p = st.params;
        let idr = p.is_idr();
        let key = DpbKey::of(&st.sps);
        // A DPB of another shape only comes with a new SPS, i.e. an IDR (see prepare_into).
        let fresh;
        let dpb = match &self.dpb {
            Some(d) if self.dpb_key == key && !idr => d,
            _ => {
                fresh = Dpb::new(
                    self.limits.rec_slots,
                    key.max_refs,
                    key.log2_max_frame_num,
                    key.gaps,
                )?;
                &fresh
            }
        };
        let mut poc = if idr { PocState::default() } else { self.poc };
        let poc_val = poc.next(&st.sps, &p)?;
        let dp = dpb.plan(&p, poc_val)?;
        let intra = p.slice_type != SLICE_TYPE_P;

        // Rate control (uapi.md §8.4 step 4), clamped to the hardware's QP range too.
        let rc = self.rc.as_mut().ok_or(SessionError::Config)?;
        let qp = rc
            .frame_qp(intra)
            .max(self.limits.min_qp)
            .min(self.limits.max_qp);
        out.state.set_qp(qp);
        out.state.initial_cpb_removal_delay_90k = rc.initial_cpb_removal_delay_90k();
        // Never announce more active references than exist (decoders complain).
        dp.fit_active_refs(&mut out.state.params);

        let st = &out.state;
        let p = st.params;
        out.slice = if intra { SliceKind::I } else { SliceKind::P };
        out.idr = idr;
        out.qp = qp;
        out.cabac = st.pps.flags & PPS_FLAG_ENTROPY_CODING_MODE != 0;
        out.cabac_init_idc = if out.cabac && !intra {
            p.cabac_init_idc
        } else {
            0
        };
        out.chroma_qp_index_offset = st.pps.chroma_qp_index_offset;
        // The state layer zeroes what the slice header will not carry (no control-present
        // flag: idc 0 and no offsets; idc 1: no offsets).
        out.deblock = Deblock {
            disable_idc: p.disable_deblocking_filter_idc,
            alpha_c0_offset_div2: p.slice_alpha_c0_offset_div2,
            beta_offset_div2: p.slice_beta_offset_div2,
        };
        let separate = header_mode == HeaderMode::Separate;
        out.emit = HeaderEmit {
            aud: st.plan.aud,
            sps_pps: st.plan.sps_pps && !separate,
        };
        // Once the header-only buffer is out, the frame itself goes without (it is the same
        // frame: the glue re-plans it with the next CAPTURE buffer).
        out.separate_sps_pps = st.plan.sps_pps && separate && !self.ps_sent;
        out.rec_slot = dp.cur_slot;
        out.ref_slot = if intra {
            None
        } else {
            dp.l0().first().and_then(|r| r.slot)
        };
        if !intra && out.ref_slot.is_none() {
            return Err(SessionError::Dpb(DpbError::NoReference));
        }
        out.width_mbs = st.sps.pic_width_in_mbs_minus1.saturating_add(1);
        out.height_mbs = st.sps.pic_height_in_map_units_minus1.saturating_add(1);
        out.poc = poc_val;
        out.frame_num = p.frame_num;
        out.dpb = Some(dp);
        out.dpb_key = key;
        out.poc_after = poc;
        Ok(())
    }

    fn rc_config(&self, c: &RcControls) -> RcConfig {
        let mbs = (self.src.width >> 4).saturating_mul(self.src.height >> 4);
        let mut cfg =
            RcConfig::from_controls(c, self.src.timeperframe_num, self.src.timeperframe_den, mbs);
        // The hardware's QP range (from_controls already ordered min ≤ max ≤ 51).
        cfg.max_qp = cfg.max_qp.min(self.limits.max_qp);
        cfg.min_qp = cfg.min_qp.max(self.limits.min_qp).min(cfg.max_qp);
        cfg
    }

    /// Writes the access unit's header units in stream order into `sink`: AUD, SPS, PPS (as
    /// [`FramePlan::emit`] says), then the slice NAL header and slice header, left unaligned
    /// with escaping on, for the slice data to follow (uapi.md §8.4 step 5). Units the
    /// hardware writes itself ([`Capabilities::hw_headers`]) are skipped: this is
    /// [`crate::h264::au::write_au_units`] with the plan's units.
    pub fn write_headers<S: NalSink + ?Sized>(
        &self,
        plan: &FramePlan,
        sink: &mut S,
    ) -> Result<AuTail, HeaderError> {
        let units = HeaderPlan {
            aud: plan.emit.aud,
            sps_pps: plan.emit.sps_pps,
        };
        write_au_units(sink, &plan.state, units, &self.caps)
    }

    /// Writes SPS + PPS alone (header mode `Separate`: the header-only CAPTURE buffer that
    /// precedes the frame when [`FramePlan::separate_sps_pps`] is set).
    pub fn write_parameter_sets<S: NalSink + ?Sized>(
        &self,
        plan: &FramePlan,
        sink: &mut S,
    ) -> Result<(), HeaderError> {
        let st = &plan.state;
        write_sps(sink, st.framing, true, &st.sps, &st.extra)?;
        write_pps(sink, st.framing, false, &st.pps)
    }

    /// Header mode `Separate`: the header-only buffer of the frame [`FramePlan`] describes was
    /// delivered. Nothing else is committed; the same frame is prepared again (with the next
    /// CAPTURE buffer) and then carries no SPS/PPS. Cleared by [`H264Session::complete`],
    /// [`H264Session::fail`] and [`H264Session::reset`], so the next frame that needs them
    /// gets its own header-only buffer.
    pub fn parameter_sets_sent(&mut self) {
        self.ps_sent = true;
    }

    /// The frame was coded with `coded_bytes` but rate control wants it once more at a
    /// coarser QP ([`RateControl::wants_retry`]: far above its target, e.g. a scene cut on a P
    /// frame). Returns whether it does; then `plan` carries the new QP and the backend codes
    /// the same frame again from it (headers included: `slice_qp_delta` changed) and reports
    /// the new size to [`H264Session::complete`] as usual. Nothing else of the plan changes.
    pub fn retry(&mut self, plan: &mut FramePlan, coded_bytes: u32) -> bool {
        let Some(rc) = self.rc.as_mut() else {
            return false;
        };
        if plan.dpb.is_none() || !rc.wants_retry(coded_bytes) {
            return false;
        }
        let qp = rc
            .retry_qp()
            .max(self.limits.min_qp)
            .min(self.limits.max_qp);
        if qp <= plan.qp {
            return false;
        }
        plan.qp = qp;
        plan.state.set_qp(qp);
        true
    }

    /// The frame was coded: `coded_bytes` is the whole access unit (`bytesused`: headers and
    /// slice data). Commits the stream history, the DPB marking (IDR flush, sliding window),
    /// the POC state, the GOP counters and feeds rate control (uapi.md §8.4 step 6).
    ///
    /// `plan` must be the one last returned by [`H264Session::prepare`] (one job in flight);
    /// a plan that was never prepared (`FramePlan::default()`) is ignored.
    pub fn complete(&mut self, plan: &FramePlan, coded_bytes: u32) {
        let Some(dp) = plan.dpb.as_ref() else {
            return; // not a prepared plan
        };
        self.tracker.commit(&plan.state);
        if plan.idr || self.dpb.is_none() || self.dpb_key != plan.dpb_key {
            self.dpb = Dpb::new(
                self.limits.rec_slots,
                plan.dpb_key.max_refs,
                plan.dpb_key.log2_max_frame_num,
                plan.dpb_key.gaps,
            )
            .ok();
            self.dpb_key = plan.dpb_key;
        }
        if let Some(d) = self.dpb.as_mut() {
            d.commit(dp);
        }
        self.poc = plan.poc_after;
        if let Some(g) = &plan.gop_after {
            self.gop = g.clone();
        }
        if let Some(rc) = self.rc.as_mut() {
            rc.update(plan.is_intra(), plan.qp, coded_bytes);
        }
        self.last_auto = Some(plan.auto);
        if !plan.auto {
            self.user_fn_shift = plan.user_fn_shift;
        }
        self.last_was_idr = plan.idr;
        if plan.idr {
            self.last_idr_pic_id = plan.state.params.idr_pic_id;
        }
        self.need_idr = false;
        self.ps_sent = false;
        self.frames = self.frames.wrapping_add(1);
    }

    /// The frame failed (output too small, hardware error, watchdog): nothing of it is
    /// committed — references, POC, GOP counters and RC statistics stay as they were — and
    /// the **next frame is coded as an IDR** whatever the request or the GOP says. Reason:
    /// userspace gets this frame's CAPTURE buffer with the ERROR flag and drops it, and on the
    /// stateless node it has already advanced its frame_num/POC past it, so only an IDR keeps
    /// the delivered stream decodable without gaps or a reference the decoder never saw.
    pub fn fail(&mut self, plan: &FramePlan) {
        let _ = plan;
        self.need_idr = true;
        self.ps_sent = false;
    }
}

#[cfg(test)]
mod tests;
