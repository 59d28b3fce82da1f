// SPDX-License-Identifier: GPL-2.0
//! The controls of both nodes (research/uapi.md §8.3 for the stateless node; the stateful
//! encoder interface's codec controls for the stateful one).

use super::Engine;
use crate::v4l2::{bindings as b, ctrl::Builder, ctrl::Ctrl, NodeKind};

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
}

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
        s.force_key_frame = c.std(b::V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME, 0, 0, 0, 0);
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
