// SPDX-License-Identifier: GPL-2.0
//! The controls of both nodes (research/uapi.md §8.3 for the stateless node; the stateful
//! encoder interface's codec controls for the stateful one).

use super::Engine;
use crate::h264::uapi::{self, H264EncodeParams, H264_ENCODE_PARAMS_SIZE};
use crate::v4l2::{
    bindings as b,
    ctrl::{Builder, Compound, Ctrl, Validate},
    NodeKind,
};
use kernel::prelude::*;

/// Handles on a context's controls; read when a job runs.
#[derive(Default)]
pub(crate) struct Controls {
    /// GOP size: IDR period of the driver's own frame-type decisions.
    pub(crate) gop_size: Option<Ctrl>,
    /// Force the next frame to be an IDR.
    pub(crate) force_key_frame: Option<Ctrl>,
    /// Rate control on (otherwise the I/P QP controls give the QP).
    pub(crate) frame_rc: Option<Ctrl>,
    /// Bitrate mode (VBR, CBR, CQ).
    pub(crate) bitrate_mode: Option<Ctrl>,
    /// Target bitrate in bit/s.
    pub(crate) bitrate: Option<Ctrl>,
    /// Peak bitrate in bit/s (VBR).
    pub(crate) bitrate_peak: Option<Ctrl>,
    /// Constant quality 0..100 (CQ).
    pub(crate) constant_quality: Option<Ctrl>,
    /// QP of I frames without rate control.
    pub(crate) i_qp: Option<Ctrl>,
    /// QP of P frames without rate control.
    pub(crate) p_qp: Option<Ctrl>,
    /// Lowest QP rate control may use.
    pub(crate) min_qp: Option<Ctrl>,
    /// Highest QP rate control may use.
    pub(crate) max_qp: Option<Ctrl>,
    /// H.264 profile (stateful node).
    pub(crate) profile: Option<Ctrl>,
    /// H.264 level (stateful node).
    pub(crate) level: Option<Ctrl>,
    /// Entropy coding mode (CAVLC/CABAC, stateful node).
    pub(crate) entropy: Option<Ctrl>,
    /// Header mode: SPS/PPS in their own buffer or joined with the first frame.
    pub(crate) header_mode: Option<Ctrl>,
    /// Repeat SPS/PPS before every IDR.
    pub(crate) prepend_sps_pps: Option<Ctrl>,
    /// Write an access unit delimiter before each frame.
    pub(crate) aud: Option<Ctrl>,
    /// JPEG quality 1..100.
    pub(crate) jpeg_quality: Option<Ctrl>,
    /// Stateless: the SPS to encode with.
    pub(crate) sps: Option<Ctrl>,
    /// Stateless: the PPS to encode with.
    pub(crate) pps: Option<Ctrl>,
    /// Stateless: Annex-B start codes or none.
    pub(crate) start_code: Option<Ctrl>,
    /// Stateless: the frame's encode parameters (research/uapi.md §2.5, 44 bytes).
    pub(crate) encode_params: Option<Ctrl>,
}

/// `ENCODE_PARAMS` validation: range checks and the normalisation the proposal does
/// (research/uapi.md §2.5), in the pure uAPI module.
struct EncodeParamsValidate;

impl Validate for EncodeParamsValidate {
    fn validate(value: &mut [u8]) -> Result {
        let bytes: &mut [u8; H264_ENCODE_PARAMS_SIZE] = value.try_into().map_err(|_| EINVAL)?;
        let mut p = H264EncodeParams::from_bytes(bytes);
        crate::h264::validate::validate_encode_params(&mut p).map_err(|_| EINVAL)?;
        p.to_bytes(bytes);
        Ok(())
    }
}

/// Default `ENCODE_PARAMS`: an IDR I slice, nal_ref_idc 1 (research/uapi.md §8.3).
/// The control framework keeps a pointer to the default, so it is a static byte image of
/// `H264EncodeParams::DEFAULT_CTRL` (layout: uapi.md §2.5: flags at byte 40).
pub(crate) static ENCODE_PARAMS_DEFAULT: [u8; H264_ENCODE_PARAMS_SIZE] = {
    let mut b = [0u8; H264_ENCODE_PARAMS_SIZE];
    b[0] = uapi::H264EncodeParams::DEFAULT_CTRL.nal_ref_idc;
    b[1] = uapi::H264EncodeParams::DEFAULT_CTRL.slice_type;
    let f = uapi::H264EncodeParams::DEFAULT_CTRL.flags.to_le_bytes();
    b[40] = f[0];
    b[41] = f[1];
    b[42] = f[2];
    b[43] = f[3];
    b
};

impl Controls {
    /// Creates the controls of a `node` context on `engine`.
    pub(crate) fn add(engine: &Engine, node: NodeKind, c: &mut Builder<'_>) -> Self {
        let mut s = Self::default();
        // Rate control, shared by both nodes (research/uapi.md §8.3: the stateful RC controls).
        s.frame_rc = c.std(b::V4L2_CID_MPEG_VIDEO_FRAME_RC_ENABLE, 0, 1, 1, 0);
        s.bitrate_mode = c.menu(
            b::V4L2_CID_MPEG_VIDEO_BITRATE_MODE,
            b::v4l2_mpeg_video_bitrate_mode_V4L2_MPEG_VIDEO_BITRATE_MODE_CQ as u8,
            0,
            b::v4l2_mpeg_video_bitrate_mode_V4L2_MPEG_VIDEO_BITRATE_MODE_CBR as u8,
        );
        // research/uapi.md §8.5: GStreamer may send -1 (G_MAXUINT); keep a sane range that
        // the control core clamps into.
        s.bitrate = c.std(
            b::V4L2_CID_MPEG_VIDEO_BITRATE,
            1000,
            40_000_000,
            1,
            2_000_000,
        );
        s.bitrate_peak = c.std(
            b::V4L2_CID_MPEG_VIDEO_BITRATE_PEAK,
            1000,
            40_000_000,
            1,
            4_000_000,
        );
        s.constant_quality = c.std(b::V4L2_CID_MPEG_VIDEO_CONSTANT_QUALITY, 0, 100, 1, 50);
        s.gop_size = c.std(b::V4L2_CID_MPEG_VIDEO_GOP_SIZE, 0, 1024, 1, 30);
        // One OUTPUT buffer is enough to make progress: the stateful encoder interface asks
        // encoders to say so (and v4l2-compliance wants it nowhere else).
        if node == NodeKind::Stateful {
            if let Some(m) = c.std(b::V4L2_CID_MIN_BUFFERS_FOR_OUTPUT, 1, 32, 1, 1) {
                m.set_read_only();
            }
        }
        s.force_key_frame = c.button(b::V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME);
        if engine.caps.h264 {
            s.i_qp = c.std(b::V4L2_CID_MPEG_VIDEO_H264_I_FRAME_QP, 0, 51, 1, 26);
            s.p_qp = c.std(b::V4L2_CID_MPEG_VIDEO_H264_P_FRAME_QP, 0, 51, 1, 28);
            s.min_qp = c.std(b::V4L2_CID_MPEG_VIDEO_H264_MIN_QP, 0, 51, 1, 10);
            s.max_qp = c.std(b::V4L2_CID_MPEG_VIDEO_H264_MAX_QP, 0, 51, 1, 51);
            s.aud = c.std(b::V4L2_CID_MPEG_VIDEO_AU_DELIMITER, 0, 1, 1, 0);
            s.prepend_sps_pps = c.std(b::V4L2_CID_MPEG_VIDEO_PREPEND_SPSPPS_TO_IDR, 0, 1, 1, 1);
        }
        match node {
            NodeKind::Stateless => {
                s.sps = c.std_compound(b::V4L2_CID_STATELESS_H264_SPS);
                s.pps = c.std_compound(b::V4L2_CID_STATELESS_H264_PPS);
                s.encode_params = c.custom::<EncodeParamsValidate>(&Compound {
                    id: uapi::CID_STATELESS_H264_ENCODE_PARAMS,
                    name: c"H264 Encode Parameters",
                    ctrl_type: uapi::CTRL_TYPE_H264_ENCODE_PARAMS,
                    default: &ENCODE_PARAMS_DEFAULT,
                });
                s.start_code = c.menu(
                    b::V4L2_CID_STATELESS_H264_START_CODE,
                    b::v4l2_stateless_h264_start_code_V4L2_STATELESS_H264_START_CODE_ANNEX_B as u8,
                    0,
                    b::v4l2_stateless_h264_start_code_V4L2_STATELESS_H264_START_CODE_ANNEX_B as u8,
                );
            }
            NodeKind::Stateful => {
                if engine.caps.h264 {
                    let p = b::v4l2_mpeg_video_h264_profile_V4L2_MPEG_VIDEO_H264_PROFILE_MAIN as u8;
                    // Baseline, constrained baseline and main: I/P only, no 8x8 transform.
                    let skip = !((1u64 << 0) | (1u64 << 1) | (1u64 << 2));
                    s.profile = c.menu(b::V4L2_CID_MPEG_VIDEO_H264_PROFILE, p, skip, p);
                    s.level = c.menu(
                        b::V4L2_CID_MPEG_VIDEO_H264_LEVEL,
                        b::v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_5_1 as u8,
                        0,
                        b::v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_4_0 as u8,
                    );
                    s.entropy = c.menu(
                        b::V4L2_CID_MPEG_VIDEO_H264_ENTROPY_MODE,
                        b::v4l2_mpeg_video_h264_entropy_mode_V4L2_MPEG_VIDEO_H264_ENTROPY_MODE_CABAC
                            as u8,
                        0,
                        b::v4l2_mpeg_video_h264_entropy_mode_V4L2_MPEG_VIDEO_H264_ENTROPY_MODE_CABAC
                            as u8,
                    );
                    // SEPARATE: SPS/PPS come in a CAPTURE buffer of their own before each
                    // IDR. JOINED by default, as v4l2-ctl and ffmpeg expect.
                    s.header_mode = c.menu(
                        b::V4L2_CID_MPEG_VIDEO_HEADER_MODE,
                        b::v4l2_mpeg_video_header_mode_V4L2_MPEG_VIDEO_HEADER_MODE_JOINED_WITH_1ST_FRAME as u8,
                        0,
                        b::v4l2_mpeg_video_header_mode_V4L2_MPEG_VIDEO_HEADER_MODE_JOINED_WITH_1ST_FRAME as u8,
                    );
                }
                if engine.caps.jpeg {
                    s.jpeg_quality = c.std(b::V4L2_CID_JPEG_COMPRESSION_QUALITY, 1, 100, 1, 75);
                }
            }
        }
        s
    }
}
