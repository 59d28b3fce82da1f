// SPDX-License-Identifier: GPL-2.0
//! Frame-level rate control (uapi.md §2.5 step 5, §8.4 step 4): direct QP, constant quality,
//! CBR and VBR with a peak, clamped to MIN/MAX_QP, fed back by each frame's coded size.
//!
//! The model is the usual one for hardware encoders without statistics: a frame's size halves
//! every 6 QP steps, `bits ≈ C · 2^(−(qp − 12)/6)`, with one complexity `C` per frame type kept
//! in the log domain (Q8 fixed point, [`super::fixed`]). Rate-driven modes choose the QP whose
//! predicted size meets a target; the target follows a leaky-bucket (HRD/VBV) model of the
//! coded picture buffer so that, as long as a frame is at most [`SURPRISE`]× larger than
//! predicted, the buffer never overflows (CBR, and the peak bucket of VBR).
//!
//! What natural content adds, and how it is handled:
//! - P frames trade bits with each other (a coarse frame leaves more to code to the next one;
//!   grain is coded at a low QP and skipped at a high one), so consecutive P frames vary 2–4×
//!   at one QP: a P frame finer than its reference pays for refining it, one coarser is
//!   mostly skipped. The P model follows *pairs* of frames, slowly (a quarter of their error,
//!   so that a step's transient does not step the QP back); P QP moves one step per frame
//!   (more only when far off), with hysteresis, at most an octave below the reference. For
//!   the buffer's sake the QP is still checked against the last frame's size.
//! - A scene cut on a P frame is a 4× jump on a frame coded like an intra frame (harder
//!   scene), or on a frame not skewed by a QP step (easier). After one, when the new scene
//!   turns out cheaper, the model follows each frame and the QP comes down by how far short
//!   the frames fall, until one reaches its target ("recovering").
//! - CBR with a known I period (configured, or seen in the stream) budgets per period: the P
//!   frames share what the I frame left of the period's bits, and the next period gives back
//!   half of the buffer's excess, so every window of one period spends about its share. A
//!   frame on a cut is half charged to its period, half left to the buffer.
//! - A frame far above its target (a scene cut on a P frame) can be coded once more at a
//!   coarser QP ([`RateControl::wants_retry`]), as much coarser as its size says, rather than
//!   take a second's share on its own. The first P frame after an I frame is not: its size is
//!   the I frame's refinement.
//!
//! All arithmetic is integer; the only u64 division goes through [`div_u64`].

use super::fixed::{div_u64, exp2_q8, log2_q8, Q8};

/// How much larger than predicted a frame may be while the buffer still cannot overflow: the
/// target never exceeds 1/SURPRISE of the free buffer space.
pub const SURPRISE: u32 = 4;

/// Rate-control mode (`FRAME_RC_ENABLE` and `BITRATE_MODE`, uapi.md §8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcMode {
    /// FRAME_RC_ENABLE = 0: `H264_I_FRAME_QP` / `H264_P_FRAME_QP`.
    Direct {
        /// QP of I frames.
        i_qp: u8,
        /// QP of P frames.
        p_qp: u8,
    },
    /// BITRATE_MODE = CQ: `CONSTANT_QUALITY` 0..=100 (100 = best).
    ConstantQuality {
        /// Quality 0..=100.
        quality: u8,
    },
    /// BITRATE_MODE = CBR at `bitrate`.
    Cbr,
    /// BITRATE_MODE = VBR: average `bitrate`, at most `peak_bitrate` over the buffer.
    Vbr,
}

/// Rate-control settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RcConfig {
    /// Mode.
    pub mode: RcMode,
    /// `H264_MIN_QP`.
    pub min_qp: u8,
    /// `H264_MAX_QP`.
    pub max_qp: u8,
    /// `BITRATE` in bit/s (CBR target, VBR average).
    pub bitrate: u32,
    /// `BITRATE_PEAK` in bit/s (VBR); 0 = twice the bitrate.
    pub peak_bitrate: u32,
    /// Coded picture buffer size in bits (`H264_CPB_SIZE` × 8000); 0 = one second of
    /// (peak) bitrate.
    pub cpb_bits: u32,
    /// Frame rate numerator (frames per second = num/den, i.e. timeperframe den/num).
    pub fps_num: u32,
    /// Frame rate denominator.
    pub fps_den: u32,
    /// Macroblocks per frame (for the first frame's guess).
    pub frame_mbs: u32,
}

/// The rate-control controls as V4L2 delivers them (uapi.md §8.3), before interpretation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RcControls {
    /// `MPEG_VIDEO_FRAME_RC_ENABLE`.
    pub frame_rc_enable: bool,
    /// `MPEG_VIDEO_BITRATE_MODE` menu value (see [`super::uapi::BitrateMode`]).
    pub bitrate_mode: u32,
    /// `MPEG_VIDEO_BITRATE` (bit/s).
    pub bitrate: u32,
    /// `MPEG_VIDEO_BITRATE_PEAK` (bit/s).
    pub bitrate_peak: u32,
    /// `MPEG_VIDEO_CONSTANT_QUALITY` (0..=100).
    pub constant_quality: u32,
    /// `H264_MIN_QP`.
    pub min_qp: u32,
    /// `H264_MAX_QP`.
    pub max_qp: u32,
    /// `H264_I_FRAME_QP`.
    pub i_frame_qp: u32,
    /// `H264_P_FRAME_QP`.
    pub p_frame_qp: u32,
    /// `H264_CPB_SIZE` in kilobytes (0 = default).
    pub cpb_size_kb: u32,
}

impl Default for RcControls {
    /// The defaults of uapi.md §2.5 (VC8000E table) / §8.3: RC off, CBR 2 Mbit/s, CQ 80,
    /// QP 0..51, I/P QP 24/28.
    fn default() -> Self {
        Self {
            frame_rc_enable: false,
            bitrate_mode: 1,
            bitrate: 2_000_000,
            bitrate_peak: 0,
            constant_quality: 80,
            min_qp: 0,
            max_qp: 51,
            i_frame_qp: 24,
            p_frame_qp: 28,
            cpb_size_kb: 0,
        }
    }
}

impl RcConfig {
    /// Interprets the controls for a stream at `timeperframe_num/den` seconds per frame with
    /// `frame_mbs` macroblocks, tolerating what userspace may send: QPs above 51 are clamped,
    /// MIN > MAX is swapped, an unknown mode falls back to CBR, an unknown frame rate to
    /// 30 fps.
    pub fn from_controls(
        c: &RcControls,
        timeperframe_num: u32,
        timeperframe_den: u32,
        frame_mbs: u32,
    ) -> Self {
        let qp = |v: u32| v.min(51) as u8;
        let (min_qp, max_qp) = if c.min_qp <= c.max_qp {
            (qp(c.min_qp), qp(c.max_qp))
        } else {
            (qp(c.max_qp), qp(c.min_qp))
        };
        let mode = if !c.frame_rc_enable {
            RcMode::Direct {
                i_qp: qp(c.i_frame_qp),
                p_qp: qp(c.p_frame_qp),
            }
        } else {
            match super::uapi::BitrateMode::from_u32(c.bitrate_mode) {
                Some(super::uapi::BitrateMode::Vbr) => RcMode::Vbr,
                Some(super::uapi::BitrateMode::Cq) => RcMode::ConstantQuality {
                    quality: c.constant_quality.min(100) as u8,
                },
                _ => RcMode::Cbr,
            }
        };
        let (fps_num, fps_den) = if timeperframe_num == 0 || timeperframe_den == 0 {
            (30, 1)
        } else {
            (timeperframe_den, timeperframe_num)
        };
        Self {
            mode,
            min_qp,
            max_qp,
            bitrate: c.bitrate.max(1),
            peak_bitrate: c.bitrate_peak,
            cpb_bits: c.cpb_size_kb.saturating_mul(8000),
            fps_num,
            fps_den,
            frame_mbs,
        }
    }
}

/// Invalid settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RcError {
    /// Zero bitrate or frame rate in a rate-driven mode, or min_qp > max_qp, or a QP > 51.
    Config,
}

/// The rate controller of one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateControl {
    cfg: RcConfig,
    /// Bits the channel removes from the buffer per frame (CBR: bitrate; VBR: peak).
    drain_per_frame: u64,
    /// Average bits per frame (bitrate / fps).
    avg_per_frame: u64,
    cpb_bits: u64,
    /// Encoder-side buffer fullness (bits waiting for the channel), 0..=cpb_bits.
    fullness: u64,
    /// VBR: bits spent above (positive) or below the average so far, bounded.
    debt: i64,
    /// log2 of a P frame's bits at QP 12, Q8.
    log_p: i32,
    /// log2 of an I frame's bits at QP 12, Q8. Learnt from I frames only (P frames of
    /// natural content are too noisy to predict an I frame from); a scene change seen on a P
    /// frame moves it too.
    log_i: i32,
    /// The last P frame's size as a complexity (log2 of its bits at QP 12, Q8), undamped.
    last_p_log: i32,
    /// `log_p` when the last I frame was coded.
    log_p_at_i: i32,
    measured_p: bool,
    measured_i: bool,
    last_qp: [u8; 2],
    /// Type, QP and target size (bits) of the frame being encoded.
    pending: Option<(bool, u8, u64)>,
    /// That frame was already re-encoded once.
    retried: bool,
    /// Bits of that frame's attempt that [`RateControl::wants_retry`] wanted again; 0 = none.
    attempt_bits: u64,
    /// log2(coded / target) of the last P frame, Q8: how far off the last step was.
    last_p_err: i32,
    /// The last P frame's predicted and coded bits.
    last_p_pair: Option<(u64, u64)>,
    /// QP of the last coded frame, I or P: the next P frame's reference.
    ref_qp: Option<u8>,
    /// The last coded frame was a P frame coarser than its own reference.
    ref_coarser: bool,
    /// Frames coded since the last I frame (that one included); 0 before the first.
    since_i: u32,
    /// Distance between the last two I frames, 0 until seen twice.
    i_period_seen: u32,
    /// The I period the stream is configured with ([`RateControl::set_i_period_hint`]).
    i_period_hint: u32,
    /// Bits spent since the last I frame (that one included).
    period_spent: u64,
    /// Bits of that I frame.
    period_i_bits: u64,
    /// Buffer fullness above (positive) or below the aimed level when the period began.
    period_carry: i64,
    scene_cut: bool,
    /// Since a scene cut, P frames came in short of their targets and none not finer than
    /// its reference reached it yet (see [`RateControl::update`]).
    recovering: bool,
    overflows: u32,
}

/// Log-domain gap between I and P frames at equal QP used before both were measured (an I frame
/// is about 3× a P frame).
const I_OVER_P_Q8: i32 = 406; // log2(3) · 256
/// A frame more than this many times its target is worth re-encoding
/// ([`RateControl::wants_retry`]).
pub const RETRY_FACTOR: u64 = 4;
/// A frame whose size differs from the prediction by more than this (1.5 octaves ≈ 2.8×) is
/// treated as a scene change.
const SCENE_CUT_Q8: i32 = 384;
/// The same for P frames: two octaves (4×). Consecutive P frames of natural content at
/// neighbouring QPs differ by up to 3×, which must not count as a cut. A cut to a harder scene
/// must also cost within an octave of an I frame at its QP ([`RateControl::update`]).
const P_SCENE_CUT_Q8: i32 = 512;

fn idx(intra: bool) -> usize {
    if intra {
        0
    } else {
        1
    }
}

impl RateControl {
    /// A controller for a new stream.
    pub fn new(cfg: RcConfig) -> Result<Self, RcError> {
        let mut rc = Self {
            cfg,
            drain_per_frame: 0,
            avg_per_frame: 0,
            cpb_bits: 0,
            fullness: 0,
            debt: 0,
            log_p: 0,
            log_i: 0,
            log_p_at_i: 0,
            last_p_log: i32::MIN / 2,
            measured_p: false,
            measured_i: false,
            last_qp: [26, 28],
            pending: None,
            retried: false,
            attempt_bits: 0,
            last_p_err: 0,
            last_p_pair: None,
            ref_qp: None,
            ref_coarser: false,
            since_i: 0,
            i_period_seen: 0,
            i_period_hint: 0,
            period_spent: 0,
            period_i_bits: 0,
            period_carry: 0,
            scene_cut: false,
            recovering: false,
            overflows: 0,
        };
        rc.reconfigure(cfg)?;
        // First guess (used until a frame of each type was coded): I ≈ 200 bits/MB at QP 26
        // (=> ×5 at QP 12), P a third of that.
        let i_log = log2_q8(cfg.frame_mbs.max(1) as u64 * 200) + (26 - 12) * Q8 / 6;
        rc.log_i = i_log;
        rc.log_p = i_log - I_OVER_P_Q8;
        rc.log_p_at_i = rc.log_p;
        Ok(rc)
    }

    /// Applies new settings mid-stream (bitrate change, …), keeping the learnt complexities.
    pub fn reconfigure(&mut self, cfg: RcConfig) -> Result<(), RcError> {
        if cfg.min_qp > cfg.max_qp || cfg.max_qp > 51 {
            return Err(RcError::Config);
        }
        let rate_driven = matches!(cfg.mode, RcMode::Cbr | RcMode::Vbr);
        if rate_driven && (cfg.bitrate == 0 || cfg.fps_num == 0 || cfg.fps_den == 0) {
            return Err(RcError::Config);
        }
        if let RcMode::Direct { i_qp, p_qp } = cfg.mode {
            if i_qp > 51 || p_qp > 51 {
                return Err(RcError::Config);
            }
        }
        self.cfg = cfg;
        if rate_driven {
            // Capped at 2^40 bits per frame so the signed bookkeeping below cannot overflow
            // whatever the frame rate (e.g. timeperframe 1/u32::MAX).
            let per_frame = |rate: u32| {
                div_u64(rate as u64 * cfg.fps_den as u64, cfg.fps_num).clamp(1, 1 << 40)
            };
            self.avg_per_frame = per_frame(cfg.bitrate);
            let peak = match cfg.mode {
                RcMode::Vbr if cfg.peak_bitrate >= cfg.bitrate => cfg.peak_bitrate,
                RcMode::Vbr => cfg.bitrate.saturating_mul(2),
                _ => cfg.bitrate,
            };
            self.drain_per_frame = per_frame(peak);
            let old_cpb = self.cpb_bits;
            self.cpb_bits = if cfg.cpb_bits != 0 {
                cfg.cpb_bits as u64
            } else {
                peak as u64
            };
            // The buffer must hold a few frames for the model to have room.
            self.cpb_bits = self.cpb_bits.max(self.drain_per_frame.saturating_mul(4));
            // Keep the relative fullness across a size change (a smaller buffer must not start
            // out full).
            self.fullness = if old_cpb == 0 {
                self.cpb_bits >> 2
            } else {
                let old = old_cpb.min(u32::MAX as u64) as u32;
                div_u64(
                    self.fullness
                        .min(old as u64)
                        .saturating_mul(self.cpb_bits.min(u32::MAX as u64)),
                    old,
                )
            }
            .min(self.cpb_bits);
        }
        Ok(())
    }

    /// The settings in use.
    pub fn config(&self) -> &RcConfig {
        &self.cfg
    }

    fn clamp(&self, qp: i32) -> u8 {
        qp.clamp(self.cfg.min_qp as i32, self.cfg.max_qp as i32) as u8
    }

    /// log2 of the bits at QP 12 of a frame of the type, Q8.
    fn log_c(&self, intra: bool) -> i32 {
        if intra {
            // The scene may have drifted since the last I frame: follow the P model when it
            // got harder (never easier: the P model is noisy, and an I frame predicted too
            // small could overflow the buffer).
            self.log_i + (self.log_p.max(self.last_p_log) - self.log_p_at_i).max(0)
        } else {
            self.log_p
        }
    }

    /// Predicted bits of a frame of the type at `qp`.
    fn predict(&self, intra: bool, qp: u8) -> u64 {
        exp2_q8(self.log_c(intra) - (qp as i32 - 12) * Q8 / 6)
    }

    /// The QP at which the model predicts `target` bits.
    fn qp_for(&self, intra: bool, target: u64) -> i32 {
        // qp = 12 + 6·(log C − log target); round to nearest.
        let d = self.log_c(intra) - log2_q8(target.max(1));
        12 + (6 * d + if d >= 0 { Q8 / 2 } else { -Q8 / 2 }) / Q8
    }

    /// Largest frame (bits) the buffer can take now; `u64::MAX` in the QP-driven modes. A
    /// backend may use it as its output limit and re-encode with [`RateControl::retry_qp`].
    pub fn max_frame_bits(&self) -> u64 {
        match self.cfg.mode {
            RcMode::Cbr | RcMode::Vbr => self.cpb_bits - self.fullness.min(self.cpb_bits),
            _ => u64::MAX,
        }
    }

    /// Chooses the QP of the next frame.
    pub fn frame_qp(&mut self, intra: bool) -> u8 {
        let qp = match self.cfg.mode {
            RcMode::Direct { i_qp, p_qp } => self.clamp(if intra { i_qp } else { p_qp } as i32),
            RcMode::ConstantQuality { quality } => {
                // Linear map, 100 → 0 and 0 → 51 (uapi.md §2.5 step 5: "linear map").
                let q = quality.min(100) as i32;
                self.clamp((51 * (100 - q) + 50) / 100)
            }
            RcMode::Cbr | RcMode::Vbr => {
                let (qp, target) = self.rate_qp(intra);
                self.pending = Some((intra, qp, target));
                qp
            }
        };
        if !matches!(self.cfg.mode, RcMode::Cbr | RcMode::Vbr) {
            self.pending = Some((intra, qp, self.predict(intra, qp)));
        }
        self.retried = false;
        self.attempt_bits = 0;
        if let Some(l) = self.last_qp.get_mut(idx(intra)) {
            *l = qp;
        }
        qp
    }

    /// The QP of the next frame and the size (bits) it aims at.
    fn rate_qp(&self, intra: bool) -> (u8, u64) {
        let avg = self.avg_per_frame as i64;
        // Base: the average frame, steered towards a quarter-full buffer (CBR; the other three
        // quarters are headroom for a scene change landing on an I frame) or towards a zero
        // bit debt (VBR).
        let base = match (self.cfg.mode, self.period_share(intra)) {
            (RcMode::Vbr, _) => avg - (self.debt >> 4),
            // CBR with a known I period: what is left of the period's budget, spread over the
            // frames left, so every period — and so every window as long — spends its share.
            (_, Some(share)) => share as i64,
            // A gentle pull (1/32 of the error per frame) spreads an I frame's excess over the
            // following P frames instead of starving the next few.
            _ => avg + (((self.cpb_bits >> 2) as i64 - self.fullness as i64) >> 5),
        };
        let base = base.max(avg >> 3).max(1) as u64;
        // I frames take what the model says they cost relative to P at a QP 3 lower (finer),
        // bounded so one I frame does not eat the buffer.
        let mut target = if intra {
            // log2 of the I/P target ratio: the size ratio at a QP 3 lower (half an octave).
            let ratio = (self.log_i - self.log_p + Q8 / 2).clamp(0, 3 * Q8);
            exp2_q8(log2_q8(base) + ratio)
        } else {
            base
        };
        // Never plan more than 1/SURPRISE of the free space: even a frame SURPRISE× larger than
        // predicted fits. Before any frame was measured the model is only a guess from the
        // frame size: be SURPRISE times more careful.
        let measured = self.measured_p || self.measured_i;
        let share = if measured { SURPRISE } else { SURPRISE * 2 };
        let free = self.max_frame_bits();
        let cap = div_u64(free, share);
        target = target.min(cap).max(1);
        let mut qp = self.qp_for(intra, target);
        // Keep quality steady. On natural content a P frame's size follows its QP far more
        // steeply than the model's 6-QP octave (grain is coded at a low QP, skipped at a high
        // one) and also depends on its reference (after a coarse frame the next has more to
        // code), so big P steps feed on themselves: P frames come down by one QP per frame and
        // go up by one per frame, three when the last P frame missed its target by more than
        // a factor 2 (up) or 4 (down), without limit after a scene change; the buffer may
        // still demand more (below). I frames come down by at most three.
        let last = self.last_qp.get(idx(intra)).copied().unwrap_or(26) as i32;
        let last_p = self.last_qp.get(idx(false)).copied().unwrap_or(26) as i32;
        if intra && self.measured_p && self.i_period() >= 2 {
            // With a known I period the P frames pay for the I frame (`period_share`): code
            // it at their quality, two QP finer (it is their reference), so its size follows
            // the content like theirs; only the buffer limits it (below).
            qp = last_p - 2;
        } else if intra && self.measured_i {
            qp = qp.max(last - 3);
        } else if !intra && !self.measured_p {
            // The first P frame, after the first I frame: not coarser than it. A coarser one
            // is mostly skipped and would teach the model nothing (the prior puts P frames at
            // a third of an I frame, which natural content often beats by far).
            if let Some(r) = self.ref_qp {
                qp = qp.min(r as i32);
            }
        } else if !intra && self.recovering {
            // After a cut to a cheaper scene the model still holds the old one, and the usual
            // steps (one QP per frame, a few when far off, with hysteresis) took 15-30 frames
            // down while every 1-s window holding them came out short. Follow the frames
            // instead: a QP down per half octave the last one fell short (each step inflates
            // the next frame, which refines its reference, so the size alone understates how
            // far off the QP is), at most 6; hold after one that reached its target, which
            // may be its refinement alone.
            let short = (-self.last_p_err * 2 + Q8 - 1) / Q8;
            qp = last - short.clamp(0, 6);
        } else if !intra {
            let down = if self.last_p_err < -4 * Q8 {
                6
            } else if self.last_p_err < -2 * Q8 {
                3
            } else if self.last_p_err < -Q8 {
                2
            } else {
                1
            };
            let up = if self.scene_cut {
                51
            } else if self.last_p_err > Q8 {
                3
            } else {
                1
            };
            // Hysteresis: a one-step difference is within the model's noise, and stepping on
            // it makes QP and size alternate frame by frame.
            if (qp - last).abs() <= 1 && !self.scene_cut {
                qp = last;
            }
            qp = qp.clamp(last - down, last + up);
        }
        if !intra && self.measured_p {
            // A P frame much finer than its reference pays for refining all of it: after an I
            // frame the buffer kept coarse, a P frame at the QP of the P frames before it cost
            // 4-8x their size, was re-encoded 6 QP coarser, and the P QP then took a second to
            // come back. Come down at most an octave below the reference.
            if let Some(r) = self.ref_qp {
                qp = qp.max(r as i32 - 6);
            }
        }
        // The prediction at the clamped QP may still exceed the buffer share: step up. The
        // model is damped; for the buffer's sake a P frame is also assumed to cost what the
        // last one did.
        let mut qp = self.clamp(qp);
        let safe_log = if intra {
            self.log_c(true)
        } else {
            self.log_p.max(self.last_p_log)
        };
        while qp < self.cfg.max_qp && exp2_q8(safe_log - (qp as i32 - 12) * Q8 / 6) > cap {
            qp += 1;
        }
        (qp, target)
    }

    /// The distance between I frames the stream is configured with (the stateful node's GOP
    /// or I period; 0 = unknown). Used until the distance was seen in the stream.
    pub fn set_i_period_hint(&mut self, frames: u32) {
        self.i_period_hint = frames;
    }

    /// The I period in use: the one seen in the stream, else the configured one.
    fn i_period(&self) -> u32 {
        if self.i_period_seen != 0 {
            self.i_period_seen
        } else {
            self.i_period_hint
        }
    }

    /// CBR, P frame inside a known I period: the period's budget (the average frame times its
    /// length, less half the last period's excess) less its I frame, shared equally by its P
    /// frames, minus 1/16 of what the P frames so far spent above that plan. The plan is fixed
    /// for the period so the QP does not swing towards its end; what the period misses carries
    /// into the next one.
    fn period_share(&self, intra: bool) -> Option<u64> {
        let period = self.i_period();
        if intra || period < 2 || self.since_i == 0 || self.since_i >= period {
            return None;
        }
        let i_charge = self.period_i_bits.min(self.cpb_bits);
        let budget = (self.avg_per_frame as i64).saturating_mul(period as i64)
            - (self.period_carry >> 1)
            - i_charge as i64;
        let plan = div_u64(budget.max(0) as u64, period - 1).max(self.avg_per_frame >> 2);
        let spent_p = self.period_spent.saturating_sub(self.period_i_bits);
        let dev = spent_p as i64 - plan.saturating_mul(self.since_i as u64 - 1) as i64;
        Some((plan as i64 - (dev >> 4)).max((plan >> 2) as i64) as u64)
    }

    /// Like [`RateControl::frame_qp`] for a re-encode of the same frame after the hardware
    /// reported an output overflow or [`RateControl::wants_retry`] asked for one: 6 QP (half
    /// the size) above the last attempt, or, after `wants_retry`, as far as the model's octave
    /// per 6 QP says brings the attempt to twice its target.
    pub fn retry_qp(&mut self) -> u8 {
        let (intra, qp, target) = self.pending.unwrap_or((false, 26, 0));
        // A frame wanted again is 4x its target or more; a cut to a new scene is mostly intra,
        // whose size follows the model's octave well, and came out 8-10x at rc_natural's low
        // rates: 6 QP left it at the retry limit, a second's share of the rate on its own
        // within any 1-s window holding it. Twice the target is the middle of the range a
        // frame is accepted in (in the log domain: target to RETRY_FACTOR × target).
        let step = if self.attempt_bits != 0 {
            let over = log2_q8(self.attempt_bits)
                - log2_q8(target.saturating_mul(RETRY_FACTOR / 2).max(1));
            (6 * over + Q8 - 1) / Q8
        } else {
            0
        };
        self.attempt_bits = 0;
        let qp = self.clamp(qp as i32 + step.max(6));
        self.pending = Some((intra, qp, target));
        self.retried = true;
        qp
    }

    /// Whether the frame just coded with `coded_bytes` is so far above its target — more than
    /// [`RETRY_FACTOR`] times, and above the average frame — that re-encoding it once at
    /// [`RateControl::retry_qp`] is worth a second hardware run: a scene cut on a P frame
    /// would otherwise take a second's share of the rate on its own. Rate-driven modes only;
    /// once per frame; never the first P frame after an I frame, whose size is the I frame's
    /// refinement (re-encoding it coarser only hands that to the next frames). When it says
    /// yes, the size sets how much coarser [`RateControl::retry_qp`] goes.
    pub fn wants_retry(&mut self, coded_bytes: u32) -> bool {
        let bits = (coded_bytes as u64) << 3;
        let want = match self.pending {
            Some((_, qp, target)) if matches!(self.cfg.mode, RcMode::Cbr | RcMode::Vbr) => {
                !self.retried
                    && self.since_i != 1
                    && qp < self.cfg.max_qp
                    && bits > self.avg_per_frame
                    && bits > target.saturating_mul(RETRY_FACTOR)
            }
            _ => false,
        };
        self.attempt_bits = if want { bits } else { 0 };
        want
    }

    /// Whether the last frame looked like a scene change (its size was far from the model):
    /// a stateful encoder may want to code an IDR next.
    pub fn scene_cut_detected(&self) -> bool {
        self.scene_cut
    }

    /// Buffer overflows seen so far (a frame larger than [`RateControl::max_frame_bits`]).
    pub fn overflows(&self) -> u32 {
        self.overflows
    }

    /// The buffering period's initial_cpb_removal_delay (90 kHz) matching the model: the time
    /// the decoder's buffer needs to fill to where ours leaves it, (CPB − fullness) / rate.
    /// 0 in the QP-driven modes (no HRD to declare).
    pub fn initial_cpb_removal_delay_90k(&self) -> u32 {
        if !matches!(self.cfg.mode, RcMode::Cbr | RcMode::Vbr) {
            return 0;
        }
        let rate = match self.cfg.mode {
            RcMode::Vbr if self.cfg.peak_bitrate >= self.cfg.bitrate => self.cfg.peak_bitrate,
            RcMode::Vbr => self.cfg.bitrate.saturating_mul(2),
            _ => self.cfg.bitrate,
        };
        let room = self.cpb_bits.saturating_sub(self.fullness);
        div_u64(room.saturating_mul(90_000), rate.max(1)).clamp(1, (1 << 24) - 1) as u32
    }

    /// The HRD rate (bit/s) and buffer size (bits) the model uses, for
    /// [`super::sei::hrd_params`]: the channel rate (CBR bitrate, VBR peak) and the CPB.
    pub fn hrd_rate_and_size(&self) -> (u32, u32) {
        let rate = match self.cfg.mode {
            RcMode::Vbr if self.cfg.peak_bitrate >= self.cfg.bitrate => self.cfg.peak_bitrate,
            RcMode::Vbr => self.cfg.bitrate.saturating_mul(2),
            _ => self.cfg.bitrate,
        };
        (rate, self.cpb_bits.min(u32::MAX as u64) as u32)
    }

    /// Current encoder-side buffer fullness in bits (rate-driven modes).
    pub fn buffer_fullness(&self) -> u64 {
        self.fullness
    }

    /// Feeds back a coded frame: its type, the QP it was coded with and its size in bytes
    /// (`bytesused` minus nothing: headers count against the rate too).
    pub fn update(&mut self, intra: bool, qp: u8, coded_bytes: u32) {
        let bits = (coded_bytes as u64) << 3;
        let observed = log2_q8(bits.max(1)) + (qp.min(51) as i32 - 12) * Q8 / 6;
        let i = idx(intra);
        let jump = observed - self.log_c(intra);
        // Bits the period's P frames answer for (`period_share`).
        let mut charged = bits;
        if intra {
            self.scene_cut = self.measured_i && jump.abs() > SCENE_CUT_Q8;
            if !self.measured_i || self.scene_cut {
                self.log_i = observed;
                if !self.measured_p || self.scene_cut {
                    // Nothing measured yet, or the whole scene moved: scale the P model too.
                    self.log_p += jump;
                }
            } else {
                // Same scene: three quarters of the new observation (from the prediction,
                // drift included).
                self.log_i = self.log_c(true) + jump - (jump >> 2);
                // The prediction followed the P model since the last I frame: an octave off,
                // the P model is off too (it follows slowly, and may still hold a scene the
                // content left well before this frame).
                if jump.abs() > Q8 {
                    self.log_p += jump >> 1;
                }
            }
            self.measured_i = true;
            self.log_p_at_i = self.log_p.max(self.last_p_log);
        } else {
            // The first P frame after an I frame is not judged: its size says more about the
            // I frame's quality (its reference) than about the scene.
            // Consecutive P frames trade bits (a coarse frame leaves more to code to the next),
            // so the model follows pairs: the last two frames' bits against their predictions.
            let predicted = self.predict(false, qp);
            let pair = match self.last_p_pair {
                Some((p0, b0)) => {
                    log2_q8(bits.saturating_add(b0).max(1))
                        - log2_q8(predicted.saturating_add(p0).max(1))
                }
                None => jump,
            };
            self.last_p_pair = Some((predicted, bits));
            self.last_p_log = observed;
            let after_cut = self.scene_cut;
            // A P frame finer than its reference pays for refining it, one coarser is mostly
            // skipped, and so is the next one at its QP (the reference still holds the finer
            // detail): on natural content either comes out 2-4x off the model while the scene
            // stays, and taking them for cuts made the QP chase its own steps. A frame on a
            // cut to a harder scene is coded mostly intra, so it costs about what an I frame
            // would (before an I frame was measured, the pair must show it: one expensive
            // frame after a cheap one is the pair effect). A cut to an easier scene can only
            // show on a frame not coarser than its reference, whose reference is not either;
            // it is only noted (the model follows at its damped pace).
            let intra_like = if self.measured_i {
                observed > self.log_i - Q8
            } else {
                pair > Q8
            };
            let unskewed = self.ref_qp.is_some_and(|r| qp <= r) && !self.ref_coarser;
            self.scene_cut = self.measured_p
                && self.since_i != 1
                && jump.abs() > P_SCENE_CUT_Q8
                && if jump > 0 { intra_like } else { unskewed };
            let harder = self.scene_cut && jump > 0;
            if harder {
                // A frame on a cut is mostly intra-coded, an I frame the period did not plan.
                // Paid back within the period, as P frames over their plan are, it left every
                // 1-s window after the cut short by all of it; the windows holding it carry
                // it whatever follows. Half: the buffer keeps the rest, which the next period
                // gives back in part (`period_carry`).
                if let Some((false, _, target)) = self.pending {
                    charged = bits.min(target) + (bits.saturating_sub(target) >> 1);
                }
            }
            if harder && !after_cut && self.measured_i {
                // A P frame on a cut to a harder scene is mostly intra-coded: the P frames of
                // the new scene will cost about the I/P gap less (a slow pan over the new
                // scene can be cheaper than the old one; the next frame tells).
                let gap = (self.log_i - self.log_p).max(0);
                self.log_p = self.log_p.max(observed - gap);
            } else if self.since_i == 1 && self.measured_p {
                // The first P frame after an I frame says more about the I frame's quality
                // (its reference) than about the scene: not judged (see `last_p_err`).
            } else if !self.measured_p {
                // The first P frame: its reference is a fresh I frame, so it comes out smaller
                // than the P frames after it will. Meet the prior (the I frame less the usual
                // I/P gap) half-way.
                self.log_p += jump >> 1;
            } else if harder {
                // The second frame of a harder scene: take it as is (fast reaction).
                self.log_p = observed;
            } else if self.recovering && !self.scene_cut {
                // Recovering from a cut: the new scene is what its frames say, and its I
                // frames follow (the I model still holds the old scene, whose next I frame
                // would come out a fraction of its share and leave the P frames after it to
                // refine all of it). The drift base moves along, so that the I frames still
                // follow the P model up from here.
                let d = observed - self.log_p;
                self.log_i += d;
                self.log_p_at_i += d;
                self.log_p = observed;
            } else {
                // A quarter of the pair's error: consecutive P frames of natural content vary
                // by 2–4× at one QP (see rate_qp). At half, each QP step's transient (a frame
                // finer than its reference pays for refining it, one coarser is mostly
                // skipped) moved the model by more than the hysteresis and the QP stepped
                // back: QP and size oscillated with a period of a few frames.
                self.log_p += pair >> 2;
            }
            if self.scene_cut {
                // The next frame belongs to the new scene: do not pair it with this one.
                self.last_p_pair = None;
            }
            if let Some((false, _, target)) = self.pending {
                // A cut to an easier scene, or the frame after a cut short of its target (the
                // new scene is cheaper than the I/P gap made it): recover (`rate_qp`), until a
                // frame not finer than its reference (not inflated by refining it) reaches its
                // target.
                if (self.scene_cut && !harder) || (after_cut && bits < target) {
                    self.recovering = true;
                }
                if !self.scene_cut && bits >= target && self.ref_qp.is_some_and(|r| qp >= r) {
                    self.recovering = false;
                }
                // Like the cut detection, the first P frame after an I frame does not judge
                // the step size.
                self.last_p_err = if self.since_i == 1 {
                    0
                } else {
                    log2_q8(bits.max(1)) - log2_q8(target.max(1))
                };
            }
            self.measured_p = true;
        }
        if let Some(l) = self.last_qp.get_mut(i) {
            *l = qp;
        }
        self.ref_coarser = !intra && self.ref_qp.is_some_and(|r| qp > r);
        self.ref_qp = Some(qp);
        self.pending = None;
        if matches!(self.cfg.mode, RcMode::Cbr | RcMode::Vbr) {
            if bits > self.max_frame_bits() {
                self.overflows = self.overflows.saturating_add(1);
            }
            // I-period bookkeeping (CBR budget per period), before this frame enters the
            // buffer: the period's budget pays for its I frame.
            if intra {
                if self.since_i != 0 {
                    self.i_period_seen = self.since_i;
                }
                // How far the buffer is above the quarter-full level it aims at (as the
                // fullness steering below): the new period gives back half of it. (Not the
                // plain bit debt: bits not sent while the buffer was empty are gone.)
                self.period_carry = self.fullness.min(i64::MAX as u64) as i64
                    - (self.cpb_bits >> 2).min(i64::MAX as u64) as i64;
                self.since_i = 0;
                self.period_spent = 0;
                self.period_i_bits = bits;
            }
            self.since_i = self.since_i.saturating_add(1);
            self.period_spent = self.period_spent.saturating_add(charged);
            // Leaky bucket: the frame enters, the channel drains one frame period.
            self.fullness = self
                .fullness
                .saturating_add(bits)
                .min(self.cpb_bits)
                .saturating_sub(self.drain_per_frame);
            // VBR debt, bounded to ±2 s of average rate so old history does not dominate.
            // (u32 division: frames per second, rounded down.)
            let fps = (self.cfg.fps_num / self.cfg.fps_den.max(1)).max(4) as i64;
            let bound = (self.avg_per_frame as i64).saturating_mul(2 * fps).max(0);
            self.debt = (self.debt + bits as i64 - self.avg_per_frame as i64).clamp(-bound, bound);
        }
    }
}

#[cfg(test)]
mod tests;
