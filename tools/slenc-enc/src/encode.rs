// SPDX-License-Identifier: GPL-2.0
//! Setting up the stateless node and the per-frame request loop, in the order and with the
//! values GStreamer's `v4l2slh264enc` (Paul Kocialkowski's May-2026 element) uses
//! (research/uapi.md §5):
//!
//! formats (OUTPUT raw at the visible size, CROP selection, CAPTURE `H264_SLICE` 0x0 with a
//! 4 MiB sizeimage, S_PARM) → OUTPUT `REQBUFS(MMAP, 4)` + `EXPBUF` + `REQBUFS(0)` +
//! `REQBUFS(DMABUF, 32)`, CAPTURE `REQBUFS(MMAP, 4)` → STREAMON → SPS, PPS and RC controls
//! outside any request → per frame: request, ENCODE_PARAMS in it, QBUF OUTPUT (DMABUF, request,
//! timestamp = frame number in tv_usec), QBUF CAPTURE, queue the request, poll it for 1 s,
//! DQBUF both, check, REINIT the request and reuse it.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use nix::errno::Errno;
use nix::poll::PollFlags;
use slenc_core::h264::level;
use slenc_core::h264::uapi::{self, H264EncodeParams, H264Pps, H264Sps};
use v4l2r::bindings;
use v4l2r::ioctl::{
    self as vio, BufferFlags, CtrlWhich, ExpbufFlags, QBufPlane, QBuffer, Request, SelectionFlags,
    SelectionTarget, SelectionType, V4l2Buffer,
};
use v4l2r::memory::{DmaBufHandle, MemoryType, MmapHandle};
use v4l2r::QueueType;

use crate::annexb;
use crate::args::{Args, RateControl};
use crate::device::Node;
use crate::error::{errno_str, Error, Result};
use crate::pattern::{self, PixFmt, PlaneSpec, FOURCC_H264_SLICE};
use crate::sys::{self, Mapping};

const OUT_Q: QueueType = QueueType::VideoOutputMplane;
const CAP_Q: QueueType = QueueType::VideoCaptureMplane;
/// MMAP buffers exported for the OUTPUT copy pool, as the element does.
const OUT_EXPORT_BUFS: u32 = 4;
/// DMABUF slots requested on OUTPUT after freeing the MMAP ones (the element asks for 32).
const OUT_DMABUF_BUFS: u32 = 32;
const CAP_BUFS: u32 = 4;
/// CAPTURE sizeimage the element asks for.
const CAP_SIZEIMAGE: u32 = 4 << 20;
/// The element's poll timeout on the request fd (the default of `--timeout`).
pub const POLL_TIMEOUT_MS: u16 = 1000;

// ---------------------------------------------------------------------------------------------
// Pure parts: parameter sequencing and control values (unit-tested without a device).

/// Per-frame ENCODE_PARAMS the way the element fills them.
#[derive(Debug, Clone)]
pub struct FrameSeq {
    gop: u32,
    cabac_init_idc: Option<u8>,
    frame_num: u16,
    poc_lsb: u16,
    idr_pic_id: u16,
    prev_idr: bool,
    index: u64,
}

/// `MaxPicOrderCntLsb` for `log2_max_pic_order_cnt_lsb_minus4` = 0.
pub const MAX_POC_LSB: u16 = 16;

impl FrameSeq {
    /// `gop` ≥ 1: an IDR every `gop` frames. `cabac_init_idc` is `Some` when CABAC is on.
    pub fn new(gop: u32, cabac_init_idc: Option<u8>) -> Self {
        Self {
            gop: gop.max(1),
            cabac_init_idc,
            frame_num: 0,
            poc_lsb: 0,
            idr_pic_id: 0,
            prev_idr: false,
            index: 0,
        }
    }

    /// The parameters of the next frame (memset-0 base, then the element's fields).
    pub fn next_params(&mut self) -> H264EncodeParams {
        let key = self.index % self.gop as u64 == 0;
        self.index += 1;
        let mut p = H264EncodeParams {
            pic_parameter_set_id: 0,
            slice_alpha_c0_offset_div2: -2,
            slice_beta_offset_div2: 5,
            cabac_init_idc: self.cabac_init_idc.unwrap_or(0),
            ..Default::default()
        };
        if key {
            self.idr_pic_id = if self.prev_idr {
                self.idr_pic_id.wrapping_add(1)
            } else {
                0
            };
            self.frame_num = 0;
            self.poc_lsb = 0;
            self.prev_idr = true;
            p.slice_type = uapi::SLICE_TYPE_I;
            p.flags = uapi::ENCODE_FLAG_IDR_PIC;
            p.nal_ref_idc = 1;
            p.idr_pic_id = self.idr_pic_id;
        } else {
            self.frame_num = self.frame_num.wrapping_add(1);
            self.poc_lsb = (self.poc_lsb + 1) % MAX_POC_LSB;
            self.prev_idr = false;
            p.slice_type = uapi::SLICE_TYPE_P;
            p.nal_ref_idc = 2;
        }
        p.frame_num = self.frame_num;
        p.pic_order_cnt_lsb = self.poc_lsb;
        p
    }
}

/// Macroblocks covering `px` pixels.
pub fn mbs(px: u32) -> u32 {
    px.div_ceil(16)
}

/// The SPS the element sets once: main profile, poc type 0, one reference frame.
pub fn build_sps(w: u32, h: u32, fps: u32) -> H264Sps {
    let (wm, hm) = (mbs(w), mbs(h));
    let level_idc = level::choose_level(10, 62, wm * hm, 1, fps, 1).unwrap_or(62);
    H264Sps {
        profile_idc: 77,
        constraint_set_flags: uapi::SPS_CONSTRAINT_SET1_FLAG,
        level_idc,
        seq_parameter_set_id: 0,
        chroma_format_idc: 1,
        log2_max_frame_num_minus4: 12,
        pic_order_cnt_type: 0,
        log2_max_pic_order_cnt_lsb_minus4: 0,
        max_num_ref_frames: 1,
        pic_width_in_mbs_minus1: (wm - 1) as u16,
        pic_height_in_map_units_minus1: (hm - 1) as u16,
        flags: uapi::SPS_FLAG_FRAME_MBS_ONLY
            | uapi::SPS_FLAG_DIRECT_8X8_INFERENCE
            | uapi::SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED,
        ..Default::default()
    }
}

/// The PPS: deblocking control present, CABAC per `--cabac`, chroma offsets 4 like the element,
/// pic_init_qp = the constant QP (26 under CBR).
pub fn build_pps(rc: RateControl, cabac: bool) -> H264Pps {
    let init_qp = match rc {
        RateControl::ConstQp(q) => q as i8,
        RateControl::Cbr(_) => 26,
    };
    let mut flags = uapi::PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT;
    if cabac {
        flags |= uapi::PPS_FLAG_ENTROPY_CODING_MODE;
    }
    H264Pps {
        pic_parameter_set_id: 0,
        seq_parameter_set_id: 0,
        weighted_bipred_idc: 0,
        chroma_qp_index_offset: 4,
        second_chroma_qp_index_offset: 4,
        pic_init_qp_minus26: init_qp - 26,
        flags,
        ..Default::default()
    }
}

/// The rate-control controls, in the element's two calls: `{MIN_QP, MAX_QP, FRAME_RC_ENABLE}`,
/// then `{I_FRAME_QP, P_FRAME_QP}` for constant QP or `{BITRATE_MODE = CBR, BITRATE}`.
pub fn rc_groups(rc: RateControl, qp_min: u8, qp_max: u8) -> [Vec<(u32, i32)>; 2] {
    let first = vec![
        (uapi::CID_MPEG_VIDEO_H264_MIN_QP, qp_min as i32),
        (uapi::CID_MPEG_VIDEO_H264_MAX_QP, qp_max as i32),
        (
            uapi::CID_MPEG_VIDEO_FRAME_RC_ENABLE,
            matches!(rc, RateControl::Cbr(_)) as i32,
        ),
    ];
    let second = match rc {
        RateControl::ConstQp(q) => vec![
            (uapi::CID_MPEG_VIDEO_H264_I_FRAME_QP, q as i32),
            (uapi::CID_MPEG_VIDEO_H264_P_FRAME_QP, q as i32),
        ],
        RateControl::Cbr(b) => vec![
            (
                uapi::CID_MPEG_VIDEO_BITRATE_MODE,
                uapi::BitrateMode::Cbr as i32,
            ),
            (uapi::CID_MPEG_VIDEO_BITRATE, b as i32),
        ],
    };
    [first, second]
}

/// The V4L2 name of a control this tool sets.
pub fn ctrl_name(id: u32) -> String {
    let n = match id {
        uapi::CID_STATELESS_H264_ENCODE_PARAMS => "V4L2_CID_STATELESS_H264_ENCODE_PARAMS",
        uapi::CID_STATELESS_H264_SPS => "V4L2_CID_STATELESS_H264_SPS",
        uapi::CID_STATELESS_H264_PPS => "V4L2_CID_STATELESS_H264_PPS",
        uapi::CID_MPEG_VIDEO_H264_MIN_QP => "V4L2_CID_MPEG_VIDEO_H264_MIN_QP",
        uapi::CID_MPEG_VIDEO_H264_MAX_QP => "V4L2_CID_MPEG_VIDEO_H264_MAX_QP",
        uapi::CID_MPEG_VIDEO_FRAME_RC_ENABLE => "V4L2_CID_MPEG_VIDEO_FRAME_RC_ENABLE",
        uapi::CID_MPEG_VIDEO_H264_I_FRAME_QP => "V4L2_CID_MPEG_VIDEO_H264_I_FRAME_QP",
        uapi::CID_MPEG_VIDEO_H264_P_FRAME_QP => "V4L2_CID_MPEG_VIDEO_H264_P_FRAME_QP",
        uapi::CID_MPEG_VIDEO_BITRATE_MODE => "V4L2_CID_MPEG_VIDEO_BITRATE_MODE",
        uapi::CID_MPEG_VIDEO_BITRATE => "V4L2_CID_MPEG_VIDEO_BITRATE",
        uapi::CID_MPEG_VIDEO_GOP_SIZE => "V4L2_CID_MPEG_VIDEO_GOP_SIZE",
        _ => return format!("control 0x{id:08x}"),
    };
    n.to_string()
}

/// Which control an `S_EXT_CTRLS` failure names: `error_idx` < count points at one control;
/// `error_idx` == count means the set as a whole was refused.
pub fn blame(ids: &[u32], error_idx: u32) -> String {
    match ids.get(error_idx as usize) {
        Some(&id) => ctrl_name(id),
        None => format!(
            "the set as a whole (error_idx = count) of {}",
            ids.iter()
                .map(|&i| ctrl_name(i))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// QP of a frame from the read-back PPS and ENCODE_PARAMS (the driver overwrites
/// slice_qp_delta with its rate control's choice).
pub fn frame_qp(pps: &H264Pps, ep: &H264EncodeParams) -> i32 {
    26 + pps.pic_init_qp_minus26 as i32 + ep.slice_qp_delta as i32
}

// ---------------------------------------------------------------------------------------------
// Controls as raw `v4l2_ext_control`s (v4l2r has typed wrappers only for mainline payloads).

enum CtrlVal {
    Int(i32),
    Bytes(Vec<u8>),
}

/// A list of controls whose compound payloads it owns, so the pointers stay valid for the ioctl.
struct CtrlList {
    ids: Vec<u32>,
    vals: Vec<CtrlVal>,
}

impl CtrlList {
    fn new() -> Self {
        Self {
            ids: Vec::new(),
            vals: Vec::new(),
        }
    }
    fn int(mut self, id: u32, v: i32) -> Self {
        self.ids.push(id);
        self.vals.push(CtrlVal::Int(v));
        self
    }
    fn bytes(mut self, id: u32, b: Vec<u8>) -> Self {
        self.ids.push(id);
        self.vals.push(CtrlVal::Bytes(b));
        self
    }
    fn raw(&mut self) -> Vec<bindings::v4l2_ext_control> {
        self.ids
            .iter()
            .zip(self.vals.iter_mut())
            .map(|(&id, v)| {
                let mut c = bindings::v4l2_ext_control {
                    id,
                    ..Default::default()
                };
                match v {
                    CtrlVal::Int(i) => c.__bindgen_anon_1.value = *i,
                    CtrlVal::Bytes(b) => {
                        c.size = b.len() as u32;
                        c.__bindgen_anon_1.ptr = b.as_mut_ptr() as *mut std::ffi::c_void;
                    }
                }
                c
            })
            .collect()
    }
    fn payload(&self, i: usize) -> Option<&[u8]> {
        match self.vals.get(i) {
            Some(CtrlVal::Bytes(b)) => Some(b),
            _ => None,
        }
    }
}

fn s_ext_ctrls(node: &Node, which: CtrlWhich, mut list: CtrlList, what: &str) -> Result<()> {
    let mut raw = list.raw();
    vio::s_ext_ctrls(&node.video, which, &mut raw[..]).map_err(|e| {
        let idx = e.error_idx;
        let errno: Errno = e.into();
        Error::msg(format!(
            "VIDIOC_S_EXT_CTRLS({what}) on {}: {} — refused control: {}",
            node.video_path.display(),
            errno_str(errno),
            blame(&list.ids, idx)
        ))
    })
}

/// Reads back ENCODE_PARAMS and PPS (current values) to learn the QP the driver chose.
fn read_qp(node: &Node) -> Option<i32> {
    let mut list = CtrlList::new()
        .bytes(
            uapi::CID_STATELESS_H264_ENCODE_PARAMS,
            vec![0; uapi::H264_ENCODE_PARAMS_SIZE],
        )
        .bytes(uapi::CID_STATELESS_H264_PPS, vec![0; uapi::H264_PPS_SIZE]);
    let mut raw = list.raw();
    vio::g_ext_ctrls(&node.video, CtrlWhich::Current, &mut raw[..]).ok()?;
    drop(raw);
    let ep: &[u8; uapi::H264_ENCODE_PARAMS_SIZE] = list.payload(0)?.try_into().ok()?;
    let pps: &[u8; uapi::H264_PPS_SIZE] = list.payload(1)?.try_into().ok()?;
    let qp = frame_qp(&H264Pps::from_bytes(pps), &H264EncodeParams::from_bytes(ep));
    (0..=51).contains(&qp).then_some(qp)
}

/// Fallback when ENCODE_PARAMS cannot be read back: the I/P_FRAME_QP control of the frame's
/// type, meaningful with the rate control off.
fn read_qp_control(node: &Node, idr: bool) -> Option<i32> {
    let id = if idr {
        uapi::CID_MPEG_VIDEO_H264_I_FRAME_QP
    } else {
        uapi::CID_MPEG_VIDEO_H264_P_FRAME_QP
    };
    let mut list = CtrlList::new().int(id, 0);
    let mut raw = list.raw();
    vio::g_ext_ctrls(&node.video, CtrlWhich::Current, &mut raw[..]).ok()?;
    Some(sys::ext_ctrl_value(&raw[0]))
}

// ---------------------------------------------------------------------------------------------
// The device side.

/// The OUTPUT QBUF of frame `index`: DMABUF slot `slot` with one fd per memory plane, in the
/// request `req_fd` (`V4L2_BUF_FLAG_REQUEST_FD`), timestamp 0 s + `index` µs.
fn output_qbuf(
    slot: usize,
    index: u64,
    req_fd: RawFd,
    fds: &[RawFd],
    lengths: &[u32],
    bytesused: &[u32],
) -> QBuffer<DmaBufHandle<File>> {
    let mut q = QBuffer::<DmaBufHandle<File>>::new(OUT_Q, slot as u32)
        .set_timestamp(0, index as _)
        .set_request(req_fd);
    for (p, &fd) in fds.iter().enumerate() {
        let mut plane = QBufPlane::new(bytesused[p] as usize);
        plane.0.m.fd = fd;
        plane.0.length = lengths[p];
        q.planes.push(plane);
    }
    q
}

/// One OUTPUT slot: the exported DMA-BUF of each memory plane, mapped for the CPU.
struct OutSlot {
    fds: Vec<File>,
    maps: Vec<Mapping>,
    lengths: Vec<u32>,
}

/// What one encoded frame came back as.
#[derive(Debug, Clone)]
pub struct FrameResult {
    pub index: u64,
    pub idr: bool,
    pub bytes: usize,
    pub qp: Option<i32>,
    /// Problems found by the checks (timestamp, flags, payload); empty when all is well.
    pub problems: Vec<String>,
    /// `V4L2_BUF_FLAG_ERROR` was set.
    pub error: bool,
}

pub struct Encoder<'a> {
    node: &'a Node,
    fmt: PixFmt,
    width: usize,
    height: usize,
    layout: Vec<PlaneSpec>,
    out_sizeimage: Vec<u32>,
    out_slots: Vec<OutSlot>,
    cap_maps: Vec<v4l2r::ioctl::PlaneMapping>,
    cap_lengths: Vec<u32>,
    requests: Vec<Request>,
    seq: FrameSeq,
    rc: RateControl,
    verbose: bool,
    streaming: bool,
    timeout_ms: u16,
}

/// The errno of a v4l2r convert-style error (QBUF, DQBUF, QUERYBUF), as text.
fn conv_err(e: impl vio::IntoErrno) -> String {
    errno_str(Errno::from_raw(e.into_errno()))
}

fn io<T, E: Into<Errno>>(r: std::result::Result<T, E>, name: &str, node: &Node) -> Result<T> {
    r.map_err(|e| Error::ioctl(name, &node.video_path, e.into()))
}

impl<'a> Encoder<'a> {
    /// Formats, buffers, STREAMON and the stream-level controls.
    pub fn setup(node: &'a mut Node, args: &Args) -> Result<Self> {
        let w = args.width;
        let h = args.height;
        let fmt = args.format;

        // OUTPUT format at the visible size; the driver rounds up to its step (16).
        let mut f = bindings::v4l2_format {
            type_: OUT_Q as u32,
            ..Default::default()
        };
        f.fmt.pix_mp = bindings::v4l2_pix_format_mplane {
            width: w,
            height: h,
            pixelformat: fmt.fourcc(),
            field: bindings::v4l2_field_V4L2_FIELD_NONE,
            num_planes: fmt.mem_planes() as u8,
            ..Default::default()
        };
        let got: bindings::v4l2_format = vio::s_fmt(&mut node.video, f).map_err(|e| {
            Error::msg(format!(
                "VIDIOC_S_FMT(OUTPUT {}) on {}: {}",
                fmt.name(),
                node.video_path.display(),
                errno_str(e.into())
            ))
        })?;
        let pm = sys::pix_mp(&got);
        let got_fourcc = pm.pixelformat;
        if got_fourcc != fmt.fourcc() {
            return Err(Error::msg(format!(
                "VIDIOC_S_FMT(OUTPUT): the driver does not take {} (it answered fourcc 0x{got_fourcc:08x})",
                fmt.name()
            )));
        }
        let (fw, fh) = (pm.width, pm.height);
        let np = pm.num_planes as usize;
        if np != fmt.mem_planes() {
            return Err(Error::msg(format!(
                "VIDIOC_S_FMT(OUTPUT {}): driver returned {np} memory planes, expected {}",
                fmt.name(),
                fmt.mem_planes()
            )));
        }
        if fw < w || fh < h {
            return Err(Error::msg(format!(
                "VIDIOC_S_FMT(OUTPUT): the driver shrank {w}x{h} to {fw}x{fh} (too large for it?)"
            )));
        }
        let pf = pm.plane_fmt;
        let bpl: Vec<usize> = (0..np).map(|i| pf[i].bytesperline as usize).collect();
        let out_sizeimage: Vec<u32> = (0..np).map(|i| pf[i].sizeimage).collect();
        let layout = pattern::device_layout(fmt, w as usize, h as usize, fh as usize, &bpl)
            .map_err(|e| Error::msg(format!("VIDIOC_S_FMT(OUTPUT): {e}")))?;
        for s in &layout {
            if s.end() > out_sizeimage[s.mem_plane] as usize {
                return Err(Error::msg(format!(
                    "VIDIOC_S_FMT(OUTPUT): sizeimage {} of plane {} is below the {} bytes the frame needs",
                    out_sizeimage[s.mem_plane],
                    s.mem_plane,
                    s.end()
                )));
            }
        }
        eprintln!(
            "OUTPUT {} {w}x{h} (buffers {fw}x{fh}, bytesperline {bpl:?}, sizeimage {out_sizeimage:?})",
            fmt.name()
        );

        // CAPTURE: H264_SLICE, width/height left 0, 4 MiB asked.
        let mut f = bindings::v4l2_format {
            type_: CAP_Q as u32,
            ..Default::default()
        };
        let mut cpm = bindings::v4l2_pix_format_mplane {
            pixelformat: FOURCC_H264_SLICE,
            num_planes: 1,
            ..Default::default()
        };
        cpm.plane_fmt[0].sizeimage = CAP_SIZEIMAGE;
        f.fmt.pix_mp = cpm;
        let got: bindings::v4l2_format = vio::s_fmt(&mut node.video, f).map_err(|e| {
            Error::msg(format!(
                "VIDIOC_S_FMT(CAPTURE H264_SLICE, 0x0) on {}: {}",
                node.video_path.display(),
                errno_str(e.into())
            ))
        })?;
        let cpm = sys::pix_mp(&got);
        let cf = cpm.pixelformat;
        if cf != FOURCC_H264_SLICE {
            return Err(Error::msg(format!(
                "VIDIOC_S_FMT(CAPTURE): the driver answered fourcc 0x{cf:08x}, not H264_SLICE"
            )));
        }
        let (cw, ch, cs) = (cpm.width, cpm.height, cpm.plane_fmt[0].sizeimage);
        eprintln!("CAPTURE H264_SLICE {cw}x{ch}, sizeimage {cs}");

        // Visible size: S_SELECTION on the single-planar OUTPUT type, as the element does.
        let rect = bindings::v4l2_rect {
            left: 0,
            top: 0,
            width: w,
            height: h,
        };
        if let Err(e) = vio::s_selection::<_, bindings::v4l2_rect>(
            &node.video,
            SelectionType::Output,
            SelectionTarget::Crop,
            rect,
            SelectionFlags::empty(),
        ) {
            // The element ignores the result; say so only when the crop matters.
            if w % 16 != 0 || h % 16 != 0 {
                eprintln!(
                    "warning: VIDIOC_S_SELECTION(OUTPUT, CROP {w}x{h}) on {}: {} (the stream will show {fw}x{fh})",
                    node.video_path.display(),
                    errno_str(e.into())
                );
            }
        }

        // Frame rate.
        let mut parm = bindings::v4l2_streamparm {
            type_: OUT_Q as u32,
            ..Default::default()
        };
        parm.parm.output = bindings::v4l2_outputparm {
            timeperframe: bindings::v4l2_fract {
                numerator: 1,
                denominator: args.fps,
            },
            ..Default::default()
        };
        if let Err(e) = vio::s_parm::<_, bindings::v4l2_streamparm>(&node.video, parm) {
            eprintln!(
                "warning: VIDIOC_S_PARM(OUTPUT, 1/{}) on {}: {} (ignored, as the element does)",
                args.fps,
                node.video_path.display(),
                errno_str(e.into())
            );
        }

        // OUTPUT buffers: MMAP, export every plane, free, then DMABUF slots.
        let n: usize = io(
            vio::reqbufs::<usize>(&node.video, OUT_Q, MemoryType::Mmap, OUT_EXPORT_BUFS),
            "VIDIOC_REQBUFS(OUTPUT, MMAP, 4)",
            node,
        )?;
        if n == 0 {
            return Err(Error::msg(
                "VIDIOC_REQBUFS(OUTPUT, MMAP): the driver gave 0 buffers",
            ));
        }
        let mut out_slots = Vec::with_capacity(n);
        for i in 0..n {
            let qb: V4l2Buffer = vio::querybuf(&node.video, OUT_Q, i).map_err(|e| {
                Error::msg(format!(
                    "VIDIOC_QUERYBUF(OUTPUT {i}) on {}: {}",
                    node.video_path.display(),
                    conv_err(e)
                ))
            })?;
            let lengths: Vec<u32> = qb.as_v4l2_planes().iter().map(|p| p.length).collect();
            let mut fds = Vec::new();
            let mut maps = Vec::new();
            for (p, &len) in lengths.iter().enumerate() {
                let fd: File = io(
                    vio::expbuf(
                        &node.video,
                        OUT_Q,
                        i,
                        p,
                        ExpbufFlags::RDWR | ExpbufFlags::CLOEXEC,
                    ),
                    &format!("VIDIOC_EXPBUF(OUTPUT {i} plane {p})"),
                    node,
                )?;
                let m = Mapping::new(fd.as_fd(), len as usize).map_err(|e| {
                    Error::msg(format!(
                        "mmap of the DMA-BUF exported from OUTPUT {i} plane {p} ({len} bytes): {}",
                        errno_str(e)
                    ))
                })?;
                fds.push(fd);
                maps.push(m);
            }
            out_slots.push(OutSlot { fds, maps, lengths });
        }
        io(
            vio::reqbufs::<usize>(&node.video, OUT_Q, MemoryType::Mmap, 0),
            "VIDIOC_REQBUFS(OUTPUT, MMAP, 0)",
            node,
        )?;
        let nd: usize = io(
            vio::reqbufs::<usize>(&node.video, OUT_Q, MemoryType::DmaBuf, OUT_DMABUF_BUFS),
            "VIDIOC_REQBUFS(OUTPUT, DMABUF, 32)",
            node,
        )?;
        if nd == 0 {
            return Err(Error::msg(
                "VIDIOC_REQBUFS(OUTPUT, DMABUF): the driver gave 0 buffers",
            ));
        }
        out_slots.truncate(nd);

        // CAPTURE buffers: MMAP, mapped through the video node.
        let nc: usize = io(
            vio::reqbufs::<usize>(&node.video, CAP_Q, MemoryType::Mmap, CAP_BUFS),
            "VIDIOC_REQBUFS(CAPTURE, MMAP, 4)",
            node,
        )?;
        if nc == 0 {
            return Err(Error::msg(
                "VIDIOC_REQBUFS(CAPTURE, MMAP): the driver gave 0 buffers",
            ));
        }
        let mut cap_maps = Vec::with_capacity(nc);
        let mut cap_lengths = Vec::with_capacity(nc);
        for i in 0..nc {
            let qb: V4l2Buffer = vio::querybuf(&node.video, CAP_Q, i).map_err(|e| {
                Error::msg(format!(
                    "VIDIOC_QUERYBUF(CAPTURE {i}) on {}: {}",
                    node.video_path.display(),
                    conv_err(e)
                ))
            })?;
            let plane = qb.as_v4l2_planes()[0];
            let off = sys::plane_mem_offset(&plane);
            let m = io(
                vio::mmap(&node.video, off, plane.length),
                &format!("mmap(CAPTURE {i})"),
                node,
            )?;
            cap_maps.push(m);
            cap_lengths.push(plane.length);
        }

        io(
            vio::streamon(&node.video, OUT_Q),
            "VIDIOC_STREAMON(OUTPUT)",
            node,
        )?;
        io(
            vio::streamon(&node.video, CAP_Q),
            "VIDIOC_STREAMON(CAPTURE)",
            node,
        )?;

        let mut enc = Self {
            node,
            fmt,
            width: w as usize,
            height: h as usize,
            layout,
            out_sizeimage,
            out_slots,
            cap_maps,
            cap_lengths,
            requests: Vec::new(),
            seq: FrameSeq::new(args.gop, args.cabac.then_some(0)),
            rc: args.rc,
            verbose: args.verbose,
            streaming: true,
            timeout_ms: args.timeout_ms,
        };
        enc.set_stream_controls(args)?;
        Ok(enc)
    }

    /// SPS, PPS and RC outside any request, after STREAMON (uapi.md §5).
    fn set_stream_controls(&mut self, args: &Args) -> Result<()> {
        let node = self.node;
        let sps = build_sps(args.width, args.height, args.fps);
        let pps = build_pps(args.rc, args.cabac);
        let mut sb = vec![0u8; uapi::H264_SPS_SIZE];
        sps.to_bytes((&mut sb[..]).try_into().expect("SPS size"));
        let mut pb = vec![0u8; uapi::H264_PPS_SIZE];
        pps.to_bytes((&mut pb[..]).try_into().expect("PPS size"));
        s_ext_ctrls(
            node,
            CtrlWhich::Current,
            CtrlList::new()
                .bytes(uapi::CID_STATELESS_H264_SPS, sb)
                .bytes(uapi::CID_STATELESS_H264_PPS, pb),
            "SPS, PPS",
        )?;
        for (k, group) in rc_groups(args.rc, args.qp_min, args.qp_max)
            .into_iter()
            .enumerate()
        {
            let list = group
                .iter()
                .fold(CtrlList::new(), |l, &(id, v)| l.int(id, v));
            s_ext_ctrls(
                node,
                CtrlWhich::Current,
                list,
                if k == 0 {
                    "rate control"
                } else {
                    "QP / bitrate"
                },
            )?;
        }
        // GOP size only matters to the driver's request-less auto mode; not fatal.
        if let Err(e) = s_ext_ctrls(
            node,
            CtrlWhich::Current,
            CtrlList::new().int(uapi::CID_MPEG_VIDEO_GOP_SIZE, args.gop as i32),
            "GOP size",
        ) {
            eprintln!("warning: {e} (ignored: this tool picks the frame types itself)");
        }
        Ok(())
    }

    fn take_request(&mut self) -> Result<Request> {
        if let Some(r) = self.requests.pop() {
            return Ok(r);
        }
        Request::alloc(&self.node.media).map_err(|e| {
            let v4l2r::ioctl::RequestError::IoctlError(errno) = e else {
                return Error::msg(format!("MEDIA_IOC_REQUEST_ALLOC: {e}"));
            };
            let hint = if matches!(errno, Errno::ENOTTY | Errno::EINVAL | Errno::ENOSYS) {
                " — the media device does not support requests"
            } else {
                ""
            };
            Error::msg(format!(
                "MEDIA_IOC_REQUEST_ALLOC on {}: {}{hint}",
                self.node.media_path.display(),
                errno_str(errno)
            ))
        })
    }

    /// Copies one packed frame into OUTPUT slot `slot` (CPU access bracketed by DMA-BUF syncs).
    fn fill_slot(&mut self, slot: usize, packed: &[u8]) -> Result<()> {
        let (fmt, w, h) = (self.fmt, self.width, self.height);
        let s = &mut self.out_slots[slot];
        for fd in &s.fds {
            sys::dma_buf_sync(fd, sys::DMA_BUF_SYNC_START | sys::DMA_BUF_SYNC_WRITE).map_err(
                |e| {
                    Error::msg(format!(
                        "DMA_BUF_IOCTL_SYNC(START) on OUTPUT slot {slot}: {}",
                        errno_str(e)
                    ))
                },
            )?;
        }
        let mut views: Vec<&mut [u8]> = s.maps.iter_mut().map(|m| m.as_mut_slice()).collect();
        let r = pattern::scatter(fmt, w, h, packed, &self.layout, &mut views);
        for fd in &s.fds {
            sys::dma_buf_sync(fd, sys::DMA_BUF_SYNC_END | sys::DMA_BUF_SYNC_WRITE).map_err(
                |e| {
                    Error::msg(format!(
                        "DMA_BUF_IOCTL_SYNC(END) on OUTPUT slot {slot}: {}",
                        errno_str(e)
                    ))
                },
            )?;
        }
        r.map_err(|e| Error::msg(format!("OUTPUT slot {slot}: {e}")))
    }

    /// Dequeues a buffer of `queue`, waiting on the video node for what is left of the
    /// 1 s budget if it is not ready yet.
    fn dqbuf_wait(&self, queue: QueueType, frame: u64) -> Result<V4l2Buffer> {
        let name = if queue == OUT_Q { "OUTPUT" } else { "CAPTURE" };
        let mut waited = false;
        loop {
            match vio::dqbuf::<V4l2Buffer>(&self.node.video, queue) {
                Ok(b) => return Ok(b),
                Err(vio::DqBufError::IoctlError(vio::DqBufIoctlError::NotReady)) if !waited => {
                    waited = true;
                    let ev = if queue == OUT_Q {
                        PollFlags::POLLOUT
                    } else {
                        PollFlags::POLLIN
                    };
                    sys::poll_one(self.node.video.as_fd(), ev, self.timeout_ms).map_err(|e| {
                        Error::msg(format!("frame {frame}: poll on {}: {}", self.node.video_path.display(), errno_str(e)))
                    })?;
                }
                Err(vio::DqBufError::IoctlError(vio::DqBufIoctlError::NotReady)) => {
                    return Err(Error::msg(format!(
                        "frame {frame}: no {name} buffer to dequeue within 1 s after the request completed"
                    )))
                }
                Err(e) => {
                    return Err(Error::msg(format!(
                        "frame {frame}: VIDIOC_DQBUF({name}) on {}: {}",
                        self.node.video_path.display(),
                        conv_err(e)
                    )))
                }
            }
        }
    }

    /// Encodes one packed frame and writes its payload to `out`.
    pub fn encode_frame(
        &mut self,
        index: u64,
        packed: &[u8],
        out: &mut impl Write,
    ) -> Result<FrameResult> {
        let params = self.seq.next_params();
        let idr = params.is_idr();
        if self.verbose {
            eprintln!(
                "frame {index}: ENCODE_PARAMS slice_type {} flags 0x{:x} nal_ref_idc {} frame_num {} idr_pic_id {} poc_lsb {}",
                params.slice_type,
                params.flags,
                params.nal_ref_idc,
                params.frame_num,
                params.idr_pic_id,
                params.pic_order_cnt_lsb
            );
        }
        let slot = (index % self.out_slots.len() as u64) as usize;
        let cap = (index % self.cap_maps.len() as u64) as usize;
        self.fill_slot(slot, packed)?;

        let req = self.take_request()?;
        let node = self.node;

        // ENCODE_PARAMS in the request.
        let mut eb = vec![0u8; uapi::H264_ENCODE_PARAMS_SIZE];
        params.to_bytes((&mut eb[..]).try_into().expect("ENCODE_PARAMS size"));
        s_ext_ctrls(
            node,
            CtrlWhich::Request(req.as_raw_fd()),
            CtrlList::new().bytes(uapi::CID_STATELESS_H264_ENCODE_PARAMS, eb),
            &format!("ENCODE_PARAMS in the request of frame {index}"),
        )?;

        // OUTPUT: DMABUF with the request, timestamp = frame number in tv_usec.
        let s = &self.out_slots[slot];
        let fds: Vec<RawFd> = s.fds.iter().map(|f| f.as_raw_fd()).collect();
        let q = output_qbuf(
            slot,
            index,
            req.as_raw_fd(),
            &fds,
            &s.lengths,
            &self.out_sizeimage,
        );
        vio::qbuf::<_, ()>(&node.video, q).map_err(|e| {
            Error::msg(format!(
                "frame {index}: VIDIOC_QBUF(OUTPUT {slot}, DMABUF, REQUEST_FD) on {}: {}",
                node.video_path.display(),
                conv_err(e)
            ))
        })?;

        // CAPTURE: MMAP, no request.
        let mut q = QBuffer::<MmapHandle>::new(CAP_Q, cap as u32);
        let mut plane = QBufPlane::new(0);
        plane.0.length = self.cap_lengths[cap];
        q.planes.push(plane);
        vio::qbuf::<_, ()>(&node.video, q).map_err(|e| {
            Error::msg(format!(
                "frame {index}: VIDIOC_QBUF(CAPTURE {cap}) on {}: {}",
                node.video_path.display(),
                conv_err(e)
            ))
        })?;

        req.queue().map_err(|e| {
            Error::msg(format!(
                "frame {index}: MEDIA_REQUEST_IOC_QUEUE on {}: {}",
                node.media_path.display(),
                match e {
                    v4l2r::ioctl::RequestError::IoctlError(errno) => errno_str(errno),
                    other => other.to_string(),
                }
            ))
        })?;

        let ev = sys::poll_one(sys::borrow_raw(&req), PollFlags::POLLPRI, self.timeout_ms)
            .map_err(|e| {
                Error::msg(format!(
                    "frame {index}: poll on the request fd: {}",
                    errno_str(e)
                ))
            })?;
        if !ev.contains(PollFlags::POLLPRI) {
            return Err(Error::msg(format!(
                "frame {index}: the request did not complete within {} ms (poll on the request fd timed out{})",
                self.timeout_ms,
                if ev.is_empty() { String::new() } else { format!(", events {ev:?}") }
            )));
        }

        let ob = self.dqbuf_wait(OUT_Q, index)?;
        let cb = self.dqbuf_wait(CAP_Q, index)?;

        if self.verbose {
            for (name, b) in [("OUTPUT", &ob), ("CAPTURE", &cb)] {
                let t = b.timestamp();
                let p = b.as_v4l2_planes();
                eprintln!(
                    "frame {index}: DQBUF {name} index {} flags {:?} timestamp {}.{:06} bytesused {}",
                    b.index(),
                    b.flags(),
                    t.tv_sec,
                    t.tv_usec,
                    p.iter().map(|p| p.bytesused.to_string()).collect::<Vec<_>>().join("/")
                );
            }
        }
        let mut problems = Vec::new();
        let cflags = cb.flags();
        let error = cflags.contains(BufferFlags::ERROR) || ob.flags().contains(BufferFlags::ERROR);
        let cts = cb.timestamp();
        let ots = ob.timestamp();
        if cts.tv_sec != 0 || cts.tv_usec != index as _ {
            problems.push(format!(
                "CAPTURE timestamp {}.{:06} is not the OUTPUT one 0.{index:06} (driver must copy it)",
                cts.tv_sec, cts.tv_usec
            ));
        }
        if ots.tv_sec != 0 || ots.tv_usec != index as _ {
            problems.push(format!(
                "OUTPUT came back with timestamp {}.{:06}, queued 0.{index:06}",
                ots.tv_sec, ots.tv_usec
            ));
        }
        if ob.index() as usize != slot || cb.index() as usize != cap {
            problems.push(format!(
                "dequeued OUTPUT {} / CAPTURE {}, queued {slot} / {cap}",
                ob.index(),
                cb.index()
            ));
        }

        let mut bytes = 0;
        if !error {
            let (want, other) = if idr {
                (BufferFlags::KEYFRAME, BufferFlags::PFRAME)
            } else {
                (BufferFlags::PFRAME, BufferFlags::KEYFRAME)
            };
            if !cflags.contains(want)
                || cflags.contains(other)
                || cflags.contains(BufferFlags::BFRAME)
            {
                problems.push(format!(
                    "CAPTURE flags {:?}: expected {} for a{} frame",
                    cflags & (BufferFlags::KEYFRAME | BufferFlags::PFRAME | BufferFlags::BFRAME),
                    if idr { "KEYFRAME" } else { "PFRAME" },
                    if idr { "n I" } else { " P" }
                ));
            }
            let planes = cb.as_v4l2_planes();
            let used = planes[0].bytesused as usize;
            let off = planes[0].data_offset as usize;
            let map = &self.cap_maps[cap];
            if used > map.len() || off > used {
                return Err(Error::msg(format!(
                    "frame {index}: CAPTURE bytesused {used} (data_offset {off}) exceeds the buffer ({} bytes)",
                    map.len()
                )));
            }
            let data = &map[off..used];
            if let Some(p) = annexb::check_frame(data, idr) {
                problems.push(p);
            }
            out.write_all(data)
                .map_err(|e| Error::msg(format!("writing the output: {e}")))?;
            bytes = data.len();
        }

        let qp = if error {
            None
        } else {
            read_qp(node).or_else(|| {
                matches!(self.rc, RateControl::ConstQp(_))
                    .then(|| read_qp_control(node, idr))
                    .flatten()
            })
        };

        req.reinit()
            .map_err(|e| Error::msg(format!("frame {index}: MEDIA_REQUEST_IOC_REINIT: {e}")))?;
        self.requests.push(req);

        Ok(FrameResult {
            index,
            idr,
            bytes,
            qp,
            problems,
            error,
        })
    }

    /// STREAMOFF both queues (also what returns any buffer still queued after a failure).
    pub fn stop(&mut self) {
        if self.streaming {
            let _ = vio::streamoff(&self.node.video, OUT_Q);
            let _ = vio::streamoff(&self.node.video, CAP_Q);
            self.streaming = false;
        }
    }
}

impl Drop for Encoder<'_> {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gop_sequence() {
        let mut s = FrameSeq::new(4, None);
        let ps: Vec<H264EncodeParams> = (0..10).map(|_| s.next_params()).collect();
        let types: Vec<u8> = ps.iter().map(|p| p.slice_type).collect();
        let ty_i = uapi::SLICE_TYPE_I;
        let ty_p = uapi::SLICE_TYPE_P;
        assert_eq!(
            types,
            vec![ty_i, ty_p, ty_p, ty_p, ty_i, ty_p, ty_p, ty_p, ty_i, ty_p]
        );
        let fnum: Vec<u16> = ps.iter().map(|p| p.frame_num).collect();
        assert_eq!(fnum, vec![0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
        let poc: Vec<u16> = ps.iter().map(|p| p.pic_order_cnt_lsb).collect();
        assert_eq!(poc, vec![0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
        // idr_pic_id restarts at 0 after P frames.
        assert!(ps.iter().all(|p| p.idr_pic_id == 0));
        for p in &ps {
            assert_eq!(p.is_idr(), p.slice_type == ty_i);
            assert_eq!(p.nal_ref_idc, if p.is_idr() { 1 } else { 2 });
            assert_eq!(p.slice_alpha_c0_offset_div2, -2);
            assert_eq!(p.slice_beta_offset_div2, 5);
            assert_eq!(p.slice_qp_delta, 0);
            assert_eq!(p.num_ref_idx_l0_active_minus1, 0);
            assert_eq!(p.cabac_init_idc, 0);
        }
    }

    #[test]
    fn all_intra_counts_idr_pic_id() {
        let mut s = FrameSeq::new(1, Some(0));
        let ids: Vec<u16> = (0..5).map(|_| s.next_params().idr_pic_id).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn long_gop_wraps_poc_lsb() {
        let mut s = FrameSeq::new(100, None);
        let ps: Vec<H264EncodeParams> = (0..40).map(|_| s.next_params()).collect();
        assert_eq!(ps[15].pic_order_cnt_lsb, 15);
        assert_eq!(ps[16].pic_order_cnt_lsb, 0);
        assert_eq!(ps[33].pic_order_cnt_lsb, 1);
        assert_eq!(ps[39].frame_num, 39);
    }

    #[test]
    fn params_bytes_layout() {
        let mut s = FrameSeq::new(30, None);
        let p = s.next_params();
        let mut b = [0u8; 44];
        p.to_bytes(&mut b);
        assert_eq!(b[0], 1); // nal_ref_idc
        assert_eq!(b[1], uapi::SLICE_TYPE_I);
        assert_eq!(b[29] as i8, -2);
        assert_eq!(b[30], 5);
        assert_eq!(
            u32::from_ne_bytes(b[40..44].try_into().unwrap()),
            uapi::ENCODE_FLAG_IDR_PIC
        );
        let p = s.next_params();
        p.to_bytes(&mut b);
        assert_eq!((b[0], b[1]), (2, uapi::SLICE_TYPE_P));
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 1);
        assert_eq!(u32::from_ne_bytes(b[40..44].try_into().unwrap()), 0);
    }

    #[test]
    fn sps_pps_values() {
        let sps = build_sps(1280, 720, 30);
        assert_eq!(sps.profile_idc, 77);
        assert_eq!(sps.level_idc, 31);
        assert_eq!(sps.pic_width_in_mbs_minus1, 79);
        assert_eq!(sps.pic_height_in_map_units_minus1, 44);
        assert_eq!(sps.log2_max_frame_num_minus4, 12);
        assert_eq!(sps.max_num_ref_frames, 1);
        assert_eq!(sps.chroma_format_idc, 1);
        let sps = build_sps(170, 100, 30);
        assert_eq!(
            (
                sps.pic_width_in_mbs_minus1,
                sps.pic_height_in_map_units_minus1
            ),
            (10, 6)
        );
        let pps = build_pps(RateControl::ConstQp(18), true);
        assert_eq!(pps.pic_init_qp_minus26, -8);
        assert_ne!(pps.flags & uapi::PPS_FLAG_ENTROPY_CODING_MODE, 0);
        assert_ne!(
            pps.flags & uapi::PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT,
            0
        );
        let pps = build_pps(RateControl::Cbr(1_000_000), false);
        assert_eq!(pps.pic_init_qp_minus26, 0);
        assert_eq!(pps.flags & uapi::PPS_FLAG_ENTROPY_CODING_MODE, 0);
        assert_eq!(
            frame_qp(
                &pps,
                &H264EncodeParams {
                    slice_qp_delta: -3,
                    ..Default::default()
                }
            ),
            23
        );
    }

    #[test]
    fn rc_control_groups() {
        let [a, b] = rc_groups(RateControl::ConstQp(30), 10, 51);
        assert_eq!(
            a,
            vec![
                (uapi::CID_MPEG_VIDEO_H264_MIN_QP, 10),
                (uapi::CID_MPEG_VIDEO_H264_MAX_QP, 51),
                (uapi::CID_MPEG_VIDEO_FRAME_RC_ENABLE, 0)
            ]
        );
        assert_eq!(
            b,
            vec![
                (uapi::CID_MPEG_VIDEO_H264_I_FRAME_QP, 30),
                (uapi::CID_MPEG_VIDEO_H264_P_FRAME_QP, 30)
            ]
        );
        let [a, b] = rc_groups(RateControl::Cbr(500_000), 20, 40);
        assert_eq!(a[2], (uapi::CID_MPEG_VIDEO_FRAME_RC_ENABLE, 1));
        assert_eq!(
            b,
            vec![
                (uapi::CID_MPEG_VIDEO_BITRATE_MODE, 1),
                (uapi::CID_MPEG_VIDEO_BITRATE, 500_000)
            ]
        );
    }

    #[test]
    fn blame_names_the_control() {
        let ids = [uapi::CID_STATELESS_H264_SPS, uapi::CID_STATELESS_H264_PPS];
        assert_eq!(blame(&ids, 1), "V4L2_CID_STATELESS_H264_PPS");
        assert!(blame(&ids, 2).contains("as a whole"));
        assert_eq!(ctrl_name(0x1234), "control 0x00001234");
    }

    #[test]
    fn output_qbuf_as_v4l2r_lays_it_out() {
        // What v4l2r turns our QBuffer into is what reaches VIDIOC_QBUF.
        let q = output_qbuf(3, 17, 42, &[7, 8], &[4096, 2048], &[4000, 2000]);
        let mut b: vio::UncheckedV4l2Buffer = q.into();
        let raw = *b.as_mut();
        assert_eq!(raw.index, 3);
        assert_eq!(raw.type_, OUT_Q as u32);
        assert_eq!(raw.memory, bindings::v4l2_memory_V4L2_MEMORY_DMABUF);
        assert_ne!(raw.flags & bindings::V4L2_BUF_FLAG_REQUEST_FD, 0);
        assert_eq!(sys::buffer_request_fd(&raw), 42);
        assert_eq!((raw.timestamp.tv_sec, raw.timestamp.tv_usec), (0, 17));
        // Multi-planar: `length` is the plane array's size (VIDEO_MAX_PLANES), which vb2
        // accepts as long as it is at least the format's plane count.
        assert_eq!(raw.length, bindings::VIDEO_MAX_PLANES);
        let planes = b.1.as_ref().unwrap();
        assert_eq!(sys::plane_fd(&planes[0]), 7);
        assert_eq!(sys::plane_fd(&planes[1]), 8);
        assert_eq!((planes[0].length, planes[0].bytesused), (4096, 4000));
        assert_eq!((planes[1].length, planes[1].bytesused), (2048, 2000));
        assert_eq!(planes[2].length, 0);
    }

    #[test]
    fn ctrl_list_points_at_payloads() {
        let mut l = CtrlList::new()
            .int(uapi::CID_MPEG_VIDEO_BITRATE, 7)
            .bytes(uapi::CID_STATELESS_H264_PPS, vec![9; uapi::H264_PPS_SIZE]);
        let raw = l.raw();
        assert_eq!(raw.len(), 2);
        let (id0, sz0, id1, sz1) = (raw[0].id, raw[0].size, raw[1].id, raw[1].size);
        assert_eq!((id0, sz0), (uapi::CID_MPEG_VIDEO_BITRATE, 0));
        assert_eq!((id1, sz1), (uapi::CID_STATELESS_H264_PPS, 12));
        assert_eq!(sys::ext_ctrl_value(&raw[0]), 7);
        assert_eq!(
            sys::ext_ctrl_ptr(&raw[1]) as *const u8,
            l.payload(1).unwrap().as_ptr()
        );
    }
}
