// SPDX-License-Identifier: GPL-2.0
//! Deriving the VUI from what V4L2 tells the kernel (uapi.md §2.5 step 1): timing from the
//! OUTPUT timeperframe, the colour description from the OUTPUT format's colorimetry, and the
//! sample aspect ratio from the `H264_VUI_SAR_*` controls.

use super::sps::*;
use super::uapi::VUI_SAR_IDC_EXTENDED;

/// The colorimetry fields of a V4L2 format (`enum v4l2_colorspace`, `v4l2_xfer_func`,
/// `v4l2_ycbcr_encoding`, `v4l2_quantization` values; 0 = default everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Colorimetry {
    /// `V4L2_COLORSPACE_*`.
    pub colorspace: u32,
    /// `V4L2_XFER_FUNC_*`.
    pub xfer_func: u32,
    /// `V4L2_YCBCR_ENC_*`.
    pub ycbcr_enc: u32,
    /// `V4L2_QUANTIZATION_*`.
    pub quantization: u32,
}

/// The `V4L2_CID_MPEG_VIDEO_H264_VUI_SAR_*` control values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SarControls {
    /// VUI_SAR_ENABLE.
    pub enable: bool,
    /// VUI_SAR_IDC menu value (0..=16 as Table E-1, 17 = extended).
    pub idc: u32,
    /// VUI_EXT_SAR_WIDTH.
    pub ext_width: u16,
    /// VUI_EXT_SAR_HEIGHT.
    pub ext_height: u16,
}

// enum v4l2_colorspace
const CS_DEFAULT: u32 = 0;
const CS_SMPTE170M: u32 = 1;
const CS_SMPTE240M: u32 = 2;
const CS_REC709: u32 = 3;
const CS_BT878: u32 = 4;
const CS_470_SYSTEM_M: u32 = 5;
const CS_470_SYSTEM_BG: u32 = 6;
const CS_JPEG: u32 = 7;
const CS_SRGB: u32 = 8;
const CS_OPRGB: u32 = 9;
const CS_BT2020: u32 = 10;
const CS_RAW: u32 = 11;
const CS_DCI_P3: u32 = 12;
// enum v4l2_xfer_func
const XF_709: u32 = 1;
const XF_SRGB: u32 = 2;
const XF_OPRGB: u32 = 3;
const XF_SMPTE240M: u32 = 4;
const XF_NONE: u32 = 5;
const XF_DCI_P3: u32 = 6;
const XF_SMPTE2084: u32 = 7;
// enum v4l2_ycbcr_encoding
const YE_601: u32 = 1;
const YE_709: u32 = 2;
const YE_XV601: u32 = 3;
const YE_XV709: u32 = 4;
const YE_SYCC: u32 = 5;
const YE_BT2020: u32 = 6;
const YE_BT2020_CONST_LUM: u32 = 7;
const YE_SMPTE240M: u32 = 8;
// enum v4l2_quantization
const Q_FULL: u32 = 1;
const Q_LIM: u32 = 2;

/// "Unspecified" in Tables E-3/E-4/E-5.
const UNSPECIFIED: u8 = 2;

/// Fills the V4L2 "default" values the way the V4L2 `V4L2_MAP_*_DEFAULT` rules do for a YUV
/// format.
pub fn resolve_defaults(c: &Colorimetry) -> Colorimetry {
    let xfer_func = if c.xfer_func != 0 {
        c.xfer_func
    } else {
        match c.colorspace {
            CS_OPRGB => XF_OPRGB,
            CS_SMPTE240M => XF_SMPTE240M,
            CS_DCI_P3 => XF_DCI_P3,
            CS_RAW => XF_NONE,
            CS_SRGB | CS_JPEG => XF_SRGB,
            _ => XF_709,
        }
    };
    let ycbcr_enc = if c.ycbcr_enc != 0 {
        c.ycbcr_enc
    } else {
        match c.colorspace {
            CS_REC709 | CS_DCI_P3 => YE_709,
            CS_BT2020 => YE_BT2020,
            CS_SMPTE240M => YE_SMPTE240M,
            _ => YE_601,
        }
    };
    let quantization = if c.quantization != 0 {
        c.quantization
    } else if c.colorspace == CS_JPEG {
        Q_FULL
    } else {
        Q_LIM
    };
    Colorimetry {
        colorspace: c.colorspace,
        xfer_func,
        ycbcr_enc,
        quantization,
    }
}

/// The video signal type for a colorimetry: `None` when everything is default (nothing to say),
/// otherwise full-range flag plus, when the colorspace is known, the colour description.
pub fn video_signal(c: &Colorimetry) -> Option<VideoSignal> {
    if c.colorspace == CS_DEFAULT && c.quantization != Q_FULL {
        return None;
    }
    let r = resolve_defaults(c);
    let colour = if c.colorspace == CS_DEFAULT {
        None
    } else {
        let colour_primaries = match r.colorspace {
            CS_REC709 | CS_SRGB | CS_JPEG => 1,
            CS_470_SYSTEM_M => 4,
            CS_470_SYSTEM_BG => 5,
            CS_SMPTE170M | CS_BT878 => 6,
            CS_SMPTE240M => 7,
            CS_BT2020 => 9,
            CS_DCI_P3 => 11,
            _ => UNSPECIFIED,
        };
        let transfer_characteristics = match r.xfer_func {
            XF_709 => match r.colorspace {
                // BT.601 525/625 systems use the same curve under their own codes.
                CS_SMPTE170M | CS_BT878 => 6,
                CS_BT2020 => 14,
                _ => 1,
            },
            XF_SRGB => 13,
            XF_SMPTE240M => 7,
            XF_NONE => 8,
            XF_SMPTE2084 => 16,
            _ => UNSPECIFIED,
        };
        let matrix_coefficients = match r.ycbcr_enc {
            YE_601 | YE_XV601 | YE_SYCC => 6,
            YE_709 | YE_XV709 => 1,
            YE_BT2020 => 9,
            YE_BT2020_CONST_LUM => 10,
            YE_SMPTE240M => 7,
            _ => UNSPECIFIED,
        };
        Some(ColourDescription {
            colour_primaries,
            transfer_characteristics,
            matrix_coefficients,
        })
    };
    Some(VideoSignal {
        video_format: 5, // unspecified
        full_range: r.quantization == Q_FULL,
        colour,
    })
}

/// Timing for frames of `num/den` seconds: num_units_in_tick = num, time_scale = 2·den (one
/// frame is two field ticks), uapi.md §2.5 step 1. `None` if unknown or unrepresentable.
pub fn timing(timeperframe_num: u32, timeperframe_den: u32) -> Option<Timing> {
    if timeperframe_num == 0 || timeperframe_den == 0 {
        return None;
    }
    Some(Timing {
        num_units_in_tick: timeperframe_num,
        time_scale: timeperframe_den.checked_mul(2)?,
        fixed_frame_rate: false,
    })
}

/// The aspect ratio from the SAR controls, `None` when disabled or unspecified.
pub fn aspect_ratio(c: &SarControls) -> Option<AspectRatio> {
    if !c.enable || c.idc == 0 {
        return None;
    }
    if c.idc == VUI_SAR_IDC_EXTENDED {
        if c.ext_width == 0 || c.ext_height == 0 {
            return None; // 0 is "unspecified" (E.2.1): say nothing instead.
        }
        return Some(AspectRatio {
            idc: EXTENDED_SAR,
            sar_width: c.ext_width,
            sar_height: c.ext_height,
        });
    }
    if c.idc > 16 {
        return None;
    }
    Some(AspectRatio {
        idc: c.idc as u8,
        sar_width: 0,
        sar_height: 0,
    })
}

/// The bitstream restriction of an I/P stream: output order is decode order
/// (max_num_reorder_frames 0), so decoders need not delay output, and the DPB holds the
/// references only.
pub fn restriction(max_num_ref_frames: u8) -> BitstreamRestriction {
    BitstreamRestriction {
        motion_vectors_over_pic_boundaries: true,
        max_bytes_per_pic_denom: 0,
        max_bits_per_mb_denom: 0,
        log2_max_mv_length_horizontal: 15,
        log2_max_mv_length_vertical: 15,
        max_num_reorder_frames: 0,
        max_dec_frame_buffering: max_num_ref_frames.max(1) as u32,
    }
}
