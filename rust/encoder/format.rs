// SPDX-License-Identifier: GPL-2.0
//! Format negotiation for both nodes: the raw OUTPUT formats, the coded CAPTURE formats, sizes,
//! strides and buffer sizes. Pure code (no `kernel::`), tested on the host.
//!
//! research/uapi.md §8.2: OUTPUT sizes step by 16 (the encoder works in macroblocks) and the
//! visible size is kept for the crop; CAPTURE `S_FMT` with width/height 0 takes the coded size.

/// Builds a V4L2 fourcc.
pub const fn fourcc(s: &[u8; 4]) -> u32 {
    (s[0] as u32) | ((s[1] as u32) << 8) | ((s[2] as u32) << 16) | ((s[3] as u32) << 24)
}

/// `V4L2_PIX_FMT_NV12`: Y plane then interleaved CbCr, one memory plane.
pub const NV12: u32 = fourcc(b"NV12");
/// `V4L2_PIX_FMT_NV12M`: NV12 in two memory planes.
pub const NV12M: u32 = fourcc(b"NM12");
/// `V4L2_PIX_FMT_YUV420`: Y, Cb, Cr planes, one memory plane.
pub const YUV420: u32 = fourcc(b"YU12");
/// `V4L2_PIX_FMT_YUV420M`: Y, Cb, Cr in three memory planes.
pub const YUV420M: u32 = fourcc(b"YM12");
/// `V4L2_PIX_FMT_H264`: H.264 Annex-B access units (stateful node).
pub const H264: u32 = fourcc(b"H264");
/// `V4L2_PIX_FMT_H264_SLICE`: H.264 slices, the stateless node's coded format.
pub const H264_SLICE: u32 = fourcc(b"S264");
/// `V4L2_PIX_FMT_JPEG`.
pub const JPEG: u32 = fourcc(b"JPEG");

/// Smallest and largest picture, in pixels.
pub const MIN_SIZE: u32 = 16;
/// Per-backend maxima are lower; this bounds every computation below against overflow.
pub const MAX_SIZE: u32 = 4096;
/// Macroblock size: OUTPUT sizes step by this.
pub const MB: u32 = 16;

/// A raw picture layout on the OUTPUT queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawFormat {
    /// Fourcc, one of the raw formats above.
    pub fourcc: u32,
    /// Coded (16-aligned) width in pixels.
    pub width: u32,
    /// Coded (16-aligned) height in pixels.
    pub height: u32,
    /// Number of memory planes (1 for NV12/YUV420, 2 for NV12M, 3 for YUV420M).
    pub num_planes: u8,
    /// Bytes per line of each memory plane.
    pub bytesperline: [u32; 3],
    /// Size of each memory plane.
    pub sizeimage: [u32; 3],
}

/// Whether `fourcc` is a raw format this module knows how to lay out.
pub fn is_raw(fourcc: u32) -> bool {
    matches!(fourcc, NV12 | NV12M | YUV420 | YUV420M)
}

/// Rounds `v` up to a multiple of 16, clamped to the supported range.
pub fn align_mb(v: u32, max: u32) -> u32 {
    let max = max.clamp(MIN_SIZE, MAX_SIZE) & !(MB - 1);
    let v = v.clamp(MIN_SIZE, max);
    ((v + MB - 1) & !(MB - 1)).min(max)
}

/// Lays out a raw picture of (at least) `width`×`height`, with the caller's `bytesperline` for
/// the first plane if it is large enough (and no larger than 4× the width), else the tight one.
/// Chroma strides follow the luma stride as V4L2 defines for these formats.
pub fn raw_layout(
    fourcc: u32,
    width: u32,
    height: u32,
    max_w: u32,
    max_h: u32,
    bpl: u32,
) -> RawFormat {
    let fourcc = if is_raw(fourcc) { fourcc } else { NV12 };
    let w = align_mb(width, max_w);
    let h = align_mb(height, max_h);
    let stride = if bpl >= w && bpl <= 4 * w {
        (bpl + 15) & !15
    } else {
        w
    };
    let luma = stride * h;
    let mut f = RawFormat {
        fourcc,
        width: w,
        height: h,
        num_planes: 1,
        bytesperline: [stride, 0, 0],
        sizeimage: [0; 3],
    };
    match fourcc {
        NV12 | YUV420 => f.sizeimage[0] = luma + luma / 2,
        NV12M => {
            f.num_planes = 2;
            f.bytesperline = [stride, stride, 0];
            f.sizeimage = [luma, luma / 2, 0];
        }
        _ => {
            f.num_planes = 3;
            f.bytesperline = [stride, stride / 2, stride / 2];
            f.sizeimage = [luma, luma / 4, luma / 4];
        }
    }
    f
}

/// Size of a CAPTURE (coded) buffer: what userspace asked for, clamped between a worst-case
/// bound for one frame and a sane maximum (research/uapi.md §8.2: on a 64 MiB board a 4 MiB
/// request for a small picture is wasteful).
pub fn coded_size(requested: u32, width: u32, height: u32) -> u32 {
    let pixels = width.min(MAX_SIZE) * height.min(MAX_SIZE);
    // Half a raw frame plus room for headers covers any sane QP at these sizes.
    let min = (pixels * 3 / 4).max(16 * 1024) + 4096;
    let max = (pixels * 3 / 2 + 64 * 1024).max(min);
    if requested == 0 {
        min
    } else {
        requested.clamp(min, max)
    }
}

/// A crop (visible) rectangle on the OUTPUT queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// Fits a requested crop into a `coded_w`×`coded_h` picture: even offsets (4:2:0 cropping is in
/// units of 2), at least 16×16, the picture never extended. The SPS's frame_cropping cannot crop
/// more than 15 pixels off a side beyond the macroblock grid, so the crop must cover the last
/// macroblock row and column.
pub fn fit_crop(r: Rect, coded_w: u32, coded_h: u32) -> Rect {
    let width = (r.width.clamp(MIN_SIZE, coded_w) + 1) & !1;
    let height = (r.height.clamp(MIN_SIZE, coded_h) + 1) & !1;
    let width = width.min(coded_w);
    let height = height.min(coded_h);
    let left = (r.left.min(coded_w - width)) & !1;
    let top = (r.top.min(coded_h - height)) & !1;
    Rect {
        left,
        top,
        width,
        height,
    }
}

#[cfg(test)]
mod tests;
