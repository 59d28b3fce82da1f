// SPDX-License-Identifier: GPL-2.0
//! Host end-to-end tests: [`H264Session`] + this backend + the VE model (`sim::ve`, software
//! slice encoder behind the trigger) over a [`HostBus`]. ffmpeg is the oracle
//! (ARCHITECTURE.md §7): every stream must decode without a message, and the decoded frames
//! must equal the model's REC buffers bit for bit.

use super::*;
use crate::encoder::session::*;
use crate::h264::state::{Rect, SourceFormat, StreamOptions};
use crate::h264::uapi::*;
use crate::sim::h264::MbInfo;
use crate::sim::ve::bus::host::HostBus;
use crate::sim::ve::{JobEnd, SwEngine, Ve, VeConfig};
use std::vec;
use std::vec::Vec;

const SRC: u32 = 0x1000_0000;
const DST: u32 = 0x2000_0000;
const REC: [u32; 2] = [0x3000_0000, 0x3100_0000];
const SUB: [u32; 2] = [0x3800_0000, 0x3810_0000];
const MBI: u32 = 0x3900_0000;

/// One context's worth of buffers on a host bus, with the model.
struct Rig {
    ve: Ve<HostBus>,
    scratch: Vec<u8>,
    mb: Vec<MbInfo>,
    bufs: FrameBuffers,
    /// Coded size in pixels.
    w: u32,
    h: u32,
    /// Visible size.
    vw: u32,
    vh: u32,
}

impl Rig {
    fn new(vw: u32, vh: u32, dst_size: u32) -> Self {
        let (w, h) = ((vw + 15) & !15, (vh + 15) & !15);
        let (wm, hm) = (w / 16, h / 16);
        let sizes = private_sizes(wm, hm).unwrap();
        let mut bus = HostBus::new();
        bus.map(SRC, (w * h * 3 / 2) as usize);
        bus.map(DST, dst_size as usize);
        for i in 0..2 {
            bus.map(REC[i], sizes.rec as usize);
            bus.map(SUB[i], sizes.subpix as usize);
        }
        bus.map(MBI, sizes.mb_info as usize);
        Rig {
            ve: Ve::new(bus, VeConfig::default()),
            scratch: vec![0; crate::sim::ve::scratch_bytes(wm, hm).unwrap()],
            mb: vec![MbInfo::default(); SwEngine::scratch_len(wm as u16, hm as u16)],
            bufs: FrameBuffers {
                src_luma: SRC,
                src_chroma: SRC + w * h,
                src_stride: w,
                dst: DST,
                dst_size,
                rec: REC,
                subpix: SUB,
                mb_info: MBI,
                sizes,
            },
            w,
            h,
            vw,
            vh,
        }
    }

    fn source(&self, fps: u32) -> SourceFormat {
        SourceFormat {
            width: self.w,
            height: self.h,
            crop: Rect {
                left: 0,
                top: 0,
                width: self.vw,
                height: self.vh,
            },
            timeperframe_num: 1,
            timeperframe_den: fps,
            ..SourceFormat::default()
        }
    }

    /// Writes frame `idx` of a synthetic sequence (smooth gradient, a textured block moving
    /// 3 px/frame, mild noise) into the OUTPUT buffer.
    fn fill(&mut self, idx: u32) {
        let (w, h) = (self.w as usize, self.h as usize);
        let src = self.ve.bus_mut().slice_mut(SRC, w * h * 3 / 2);
        let mut seed = idx.wrapping_mul(2_654_435_761) | 1;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed & 3) as i32
        };
        let bx = (idx as usize * 3) % w.max(1);
        let by = (idx as usize * 2) % h.max(1);
        for y in 0..h {
            for x in 0..w {
                let mut v = ((x * 160 / w) + (y * 60 / h) + 20) as i32;
                let (dx, dy) = ((x + w - bx) % w, (y + h - by) % h);
                if dx < w / 4 && dy < h / 4 {
                    v = 40 + (((dx / 4) ^ (dy / 4)) & 7) as i32 * 24;
                }
                src[y * w + x] = (v + noise()).clamp(0, 255) as u8;
            }
        }
        for y in 0..h / 2 {
            for x in 0..w / 2 {
                let o = w * h + y * w + 2 * x;
                src[o] = (128 + (x * 40 / w) as i32 - 10 + noise()) as u8;
                src[o + 1] = (118 + (y * 40 / h) as i32 + noise()) as u8;
            }
        }
    }

    /// The visible part of REC slot `slot`, packed NV12 (what ffmpeg outputs).
    fn recon(&self, slot: u8) -> Vec<u8> {
        let base = REC[slot as usize];
        let rs = rec_stride(self.w / 16).unwrap();
        let off = self.bufs.sizes.rec_chroma_offset;
        let mut pic = Vec::new();
        for row in 0..self.vh {
            pic.extend_from_slice(self.ve.bus().slice(base + row * rs, self.vw as usize));
        }
        for row in 0..self.vh / 2 {
            pic.extend_from_slice(self.ve.bus().slice(base + off + row * rs, self.vw as usize));
        }
        pic
    }

    /// One frame through session + backend + model. `Ok((plan, AU bytes, REC))` or the
    /// backend error (the session's `fail` already called).
    fn frame(
        &mut self,
        s: &mut H264Session,
        input: &FrameInput<'_>,
        idx: u32,
    ) -> Result<(FramePlan, Vec<u8>, Vec<u8>), CedrusError> {
        let plan = s.prepare(input).expect("prepare");
        self.fill(idx);
        if let Err(e) = start_frame(&mut self.ve, s, &plan, &self.bufs) {
            s.fail(&plan);
            return Err(e);
        }
        assert!(self.ve.is_busy(), "refused: {:?}", self.ve.fault());
        let mut eng = SwEngine::new(&mut self.mb);
        let end = self.ve.run(&mut eng, &mut self.scratch);
        assert!(end.is_some());
        assert!(self.ve.irq_pending());
        match finish_frame(&mut self.ve) {
            Ok(n) => {
                assert_eq!(end, Some(JobEnd::Finished));
                assert!(!self.ve.irq_pending(), "W1C cleared the line");
                s.complete(&plan, n);
                let au = self.ve.bus().slice(DST, n as usize).to_vec();
                let rec = self.recon(plan.rec_slot);
                Ok((plan, au, rec))
            }
            Err(e) => {
                s.fail(&plan);
                Err(e)
            }
        }
    }
}

/// Decodes with ffmpeg into packed NV12; any message on stderr (warnings included) fails.
fn ffmpeg_decode(name: &str, stream: &[u8]) -> Vec<u8> {
    use std::process::Command;
    let path = std::env::temp_dir().join(std::format!(
        "slenc-be-{}-{}.h264",
        name,
        std::process::id()
    ));
    std::fs::write(&path, stream).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "warning", "-f", "h264", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "nv12", "-"])
        .output()
        .expect("ffmpeg (the oracle) must be installed");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg on {name}: {}",
        std::string::String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The decoded frames equal the reconstructions, in order.
fn check_decoded(name: &str, vw: u32, vh: u32, stream: &[u8], recons: &[Vec<u8>]) {
    let dec = ffmpeg_decode(name, stream);
    let frame = (vw * vh * 3 / 2) as usize;
    assert_eq!(dec.len(), frame * recons.len(), "{name}: frame count");
    for (i, rec) in recons.iter().enumerate() {
        let d = &dec[i * frame..(i + 1) * frame];
        let first = rec.iter().zip(d).position(|(a, b)| a != b);
        assert!(
            first.is_none(),
            "{name}: frame {i} differs at byte {first:?}"
        );
    }
}

fn stateful_input(coding: CodingSettings, gop: GopSettings, rc: RcControls) -> FrameInput<'static> {
    FrameInput {
        parameter_sets: None,
        params: None,
        coding,
        gop,
        rc,
        opts: StreamOptions::default(),
        header_mode: HeaderMode::JoinedWith1stFrame,
        hrd: false,
    }
}

/// Encodes `n` frames in stateful mode; returns the stream, the plans and the REC pictures.
fn run_stateful(
    name: &str,
    vw: u32,
    vh: u32,
    n: u32,
    input: &FrameInput<'_>,
) -> (Vec<u8>, Vec<FramePlan>) {
    let mut rig = Rig::new(vw, vh, 1 << 20);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    s.reset();
    let (mut stream, mut plans, mut recons) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let (plan, au, rec) = rig.frame(&mut s, input, i).expect("frame");
        stream.extend_from_slice(&au);
        plans.push(plan);
        recons.push(rec);
    }
    check_decoded(name, vw, vh, &stream, &recons);
    (stream, plans)
}

#[test]
fn private_sizes_1080p_fit_budget() {
    let s = private_sizes(120, 68).unwrap();
    // cedrus.md §3: REC 1920×1152 + 1920×576 (4 KiB aligned), subpix 352×145, MB-info 16 KiB.
    assert_eq!(s.rec_chroma_offset, 2_211_840);
    assert_eq!(s.rec, 3_317_760);
    assert_eq!(s.subpix, 352 * 145);
    assert_eq!(s.mb_info, 16_384);
    assert_eq!(s.mv, 0);
    assert_eq!(s.total, 2 * 3_317_760 + 2 * 352 * 145 + 16_384);
    assert!(s.total <= 10 << 20, "{} bytes per context", s.total);
    assert_eq!(private_sizes(0, 1), None);
    assert_eq!(private_sizes(121, 68), None);
    assert_eq!(private_sizes(120, 69), None);
}

#[test]
fn stateful_gop30_cavlc_fixed_qp_640x480() {
    let input = stateful_input(
        CodingSettings::default(),
        GopSettings {
            gop_size: 30,
            ..GopSettings::default()
        },
        RcControls::default(),
    );
    let (_, plans) = run_stateful("gop30-cavlc", 640, 480, 34, &input);
    for (i, p) in plans.iter().enumerate() {
        assert_eq!(p.idr, i % 30 == 0, "frame {i}");
        assert_eq!(p.slice == SliceKind::I, i % 30 == 0);
        assert_eq!(p.qp, if p.idr { 24 } else { 28 }); // RcControls defaults
        assert!(!p.cabac);
        // SPS/PPS with every IDR (PREPEND default 1), never in between.
        assert_eq!(p.emit.sps_pps, p.idr);
    }
    // REC/REF ping-pong over the two slots.
    assert_eq!(plans[1].ref_slot, Some(plans[0].rec_slot));
    assert_ne!(plans[1].rec_slot, plans[0].rec_slot);
    assert_eq!(plans[2].rec_slot, plans[0].rec_slot);
}

#[test]
fn stateful_idr_only_cabac_640x480() {
    let input = stateful_input(
        CodingSettings {
            cabac: true,
            ..CodingSettings::default()
        },
        GopSettings {
            gop_size: 1,
            ..GopSettings::default()
        },
        RcControls {
            i_frame_qp: 30,
            ..RcControls::default()
        },
    );
    let (_, plans) = run_stateful("idr-cabac", 640, 480, 4, &input);
    let mut ids = Vec::new();
    for p in &plans {
        assert!(p.idr && p.cabac && p.qp == 30);
        ids.push(p.state.params.idr_pic_id);
    }
    // Consecutive IDRs carry different idr_pic_id (7.4.3).
    assert!(ids.windows(2).all(|w| w[0] != w[1]), "{ids:?}");
}

#[test]
fn stateful_cabac_ippp_deblock_offsets_aud_640x480() {
    let mut input = stateful_input(
        CodingSettings {
            cabac: true,
            cabac_init_idc: 1,
            chroma_qp_index_offset: 3,
            alpha_c0_offset_div2: -3,
            beta_offset_div2: 2,
            ..CodingSettings::default()
        },
        GopSettings::default(),
        RcControls {
            i_frame_qp: 32,
            p_frame_qp: 34,
            ..RcControls::default()
        },
    );
    input.opts.aud = true;
    let (stream, plans) = run_stateful("cabac-ippp", 640, 480, 6, &input);
    assert_eq!(&stream[..6], &[0, 0, 0, 1, 0x09, 0x10], "AUD first (I)");
    // The SPS's VUI timing (num_units_in_tick = 1 → 00 00 00 01) needs emulation prevention:
    // EPTB stays on for header RBSPs (cedrus.md §6 item 2), so the VE inserted a 0x03.
    let sps_end = stream[11..]
        .windows(4)
        .position(|w| w == [0, 0, 0, 1])
        .unwrap()
        + 11;
    assert_eq!(stream[10] & 0x1F, 7, "SPS after the AUD");
    assert!(stream[11..sps_end].windows(3).any(|w| w == [0, 0, 3]));
    let p = &plans[3];
    assert!(p.cabac && p.slice == SliceKind::P && p.cabac_init_idc == 1);
    assert_eq!(p.chroma_qp_index_offset, 3);
    assert_eq!(
        (p.deblock.alpha_c0_offset_div2, p.deblock.beta_offset_div2),
        (-3, 2)
    );
}

#[test]
fn stateful_deblocking_off_cavlc() {
    let input = stateful_input(
        CodingSettings {
            disable_deblocking_filter_idc: 1,
            alpha_c0_offset_div2: 4,    // not carried when the filter is off
            chroma_qp_index_offset: -2, // clamped to the VE's 0..7
            ..CodingSettings::default()
        },
        GopSettings::default(),
        RcControls::default(),
    );
    let (_, plans) = run_stateful("deblock-off", 320, 240, 3, &input);
    assert_eq!(
        plans[1].deblock,
        Deblock {
            disable_idc: 1,
            ..Deblock::default()
        }
    );
    assert_eq!(plans[1].chroma_qp_index_offset, 0);
    assert_eq!(plans[1].state.pps.second_chroma_qp_index_offset, 0);
}

/// GStreamer-like stateless client (uapi.md §5): its own SPS/PPS and per-frame params.
struct Client {
    sps: H264Sps,
    pps: H264Pps,
    n: u32,
    gop: u32,
}

impl Client {
    fn new(vw: u32, vh: u32) -> Self {
        let sps = H264Sps {
            profile_idc: 77,
            level_idc: 30,
            chroma_format_idc: 1,
            log2_max_frame_num_minus4: 0, // 16 frame_nums, as a client with a short GOP
            pic_order_cnt_type: 0,
            log2_max_pic_order_cnt_lsb_minus4: 0,
            max_num_ref_frames: 1,
            pic_width_in_mbs_minus1: (vw.div_ceil(16) - 1) as u16,
            pic_height_in_map_units_minus1: (vh.div_ceil(16) - 1) as u16,
            flags: SPS_FLAG_FRAME_MBS_ONLY | SPS_FLAG_DIRECT_8X8_INFERENCE,
            ..H264Sps::default()
        };
        let pps = H264Pps {
            pic_init_qp_minus26: 2,
            chroma_qp_index_offset: 1,
            second_chroma_qp_index_offset: 1,
            flags: PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT | PPS_FLAG_ENTROPY_CODING_MODE,
            ..H264Pps::default()
        };
        Client {
            sps,
            pps,
            n: 0,
            gop: 10,
        }
    }

    fn next(&mut self) -> H264EncodeParams {
        let k = self.n % self.gop;
        self.n += 1;
        let idr = k == 0;
        H264EncodeParams {
            nal_ref_idc: if idr { 3 } else { 2 },
            slice_type: if idr { SLICE_TYPE_I } else { SLICE_TYPE_P },
            frame_num: (k & 15) as u16,
            idr_pic_id: ((self.n / self.gop) & 1) as u16,
            pic_order_cnt_lsb: ((2 * k) & 15) as u16,
            cabac_init_idc: if idr { 0 } else { 2 },
            flags: if idr { ENCODE_FLAG_IDR_PIC } else { 0 },
            ..H264EncodeParams::default()
        }
    }
}

fn stateless_input<'a>(c: &'a Client, p: &'a H264EncodeParams) -> FrameInput<'a> {
    FrameInput {
        parameter_sets: Some(ParameterSets {
            sps: &c.sps,
            pps: &c.pps,
        }),
        params: Some(p),
        coding: CodingSettings::default(),
        gop: GopSettings::default(),
        rc: RcControls {
            i_frame_qp: 27,
            p_frame_qp: 29,
            ..RcControls::default()
        },
        opts: StreamOptions::default(),
        header_mode: HeaderMode::JoinedWith1stFrame,
        hrd: false,
    }
}

fn run_stateless(name: &str, vw: u32, vh: u32, n: u32) -> Vec<FramePlan> {
    let mut rig = Rig::new(vw, vh, 1 << 20);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(25));
    s.reset();
    let mut c = Client::new(vw, vh);
    let (mut stream, mut plans, mut recons) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let p = c.next();
        let input = stateless_input(&c, &p);
        let (plan, au, rec) = rig.frame(&mut s, &input, i).expect("frame");
        stream.extend_from_slice(&au);
        plans.push(plan);
        recons.push(rec);
    }
    check_decoded(name, vw, vh, &stream, &recons);
    plans
}

#[test]
fn stateless_params_640x480() {
    let plans = run_stateless("stateless-640", 640, 480, 12);
    for (i, p) in plans.iter().enumerate() {
        assert_eq!(p.idr, i % 10 == 0);
        assert!(p.cabac);
        assert_eq!(p.qp, if p.idr { 27 } else { 29 });
        // slice_qp_delta written back relative to the client's pic_init_qp (28).
        assert_eq!(p.state.params.slice_qp_delta as i32, p.qp as i32 - 28);
        assert_eq!(p.cabac_init_idc, if p.idr { 0 } else { 2 });
    }
}

#[test]
fn stateless_params_636x476_cropped() {
    let plans = run_stateless("stateless-636", 636, 476, 4);
    assert_eq!(plans[0].width_mbs, 40);
    assert_eq!(plans[0].height_mbs, 30);
    let crop = plans[0].state.extra.crop.unwrap();
    assert_eq!((crop.left, crop.right, crop.top, crop.bottom), (0, 2, 0, 2));
}

#[test]
fn stateless_rejects_p_first_and_b() {
    let rig = Rig::new(320, 240, 1 << 16);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    let c = Client::new(320, 240);
    let p = H264EncodeParams {
        nal_ref_idc: 2,
        slice_type: SLICE_TYPE_P,
        frame_num: 1,
        ..H264EncodeParams::default()
    };
    assert_eq!(
        s.prepare(&stateless_input(&c, &p)).unwrap_err(),
        SessionError::State(crate::h264::state::StateError::FirstFrameNotIntra)
    );
    let b = H264EncodeParams {
        slice_type: SLICE_TYPE_B,
        ..p
    };
    assert!(matches!(
        s.prepare(&stateless_input(&c, &b)),
        Err(SessionError::State(
            crate::h264::state::StateError::Unsupported(_)
        ))
    ));
}

#[test]
fn too_small_capture_fails_one_frame_then_idr() {
    // Frames 0–2 fine, frame 3 gets a 64-byte window (a P frame of this content needs more),
    // frame 4 must come out as an IDR and the delivered stream (without frame 3) decodes.
    let (vw, vh) = (320, 240);
    let mut rig = Rig::new(vw, vh, 1 << 20);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    s.reset();
    let input = stateful_input(
        CodingSettings::default(),
        GopSettings::default(),
        RcControls {
            p_frame_qp: 20,
            ..RcControls::default()
        },
    );
    let (mut stream, mut recons) = (Vec::new(), Vec::new());
    for i in 0..7u32 {
        rig.bufs.dst_size = if i == 3 { 64 } else { 1 << 20 };
        match rig.frame(&mut s, &input, i) {
            Ok((plan, au, rec)) => {
                assert_ne!(i, 3);
                assert_eq!(plan.idr, i == 0 || i == 4, "frame {i}");
                stream.extend_from_slice(&au);
                recons.push(rec);
            }
            Err(e) => {
                assert_eq!(i, 3);
                assert_eq!(e, CedrusError::OutputFull);
                // The VE ran and stalled at STM_BIT_MAX (not the pre-trigger header check).
                assert_eq!(
                    rig.ve.trace().last_job().map(|j| j.end),
                    Some(JobEnd::Stalled)
                );
                assert!(s.idr_pending());
            }
        }
    }
    check_decoded("overflow", vw, vh, &stream, &recons);
}

#[test]
fn headers_larger_than_capture_fail_before_trigger() {
    let mut rig = Rig::new(320, 240, 1 << 16);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    let input = stateful_input(
        CodingSettings::default(),
        GopSettings::default(),
        RcControls::default(),
    );
    rig.bufs.dst_size = 16;
    assert_eq!(
        rig.frame(&mut s, &input, 0).unwrap_err(),
        CedrusError::OutputFull
    );
    assert!(!rig.ve.is_busy());
    rig.bufs.dst_size = 1 << 16;
    let (plan, _, _) = rig.frame(&mut s, &input, 1).unwrap();
    assert!(plan.idr);
}

#[test]
fn watchdog_reset_then_idr() {
    let mut rig = Rig::new(320, 240, 1 << 18);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    let input = stateful_input(
        CodingSettings::default(),
        GopSettings::default(),
        RcControls::default(),
    );
    let mut stream = Vec::new();
    let mut recons = Vec::new();
    let (_, au, rec) = rig.frame(&mut s, &input, 0).unwrap();
    stream.extend_from_slice(&au);
    recons.push(rec);
    // The next job hangs: no interrupt; the watchdog resets the encoder and fails the frame.
    let plan = s.prepare(&input).unwrap();
    assert!(!plan.idr);
    start_frame(&mut rig.ve, &s, &plan, &rig.bufs).unwrap();
    rig.ve.inject.hang = true;
    let mut eng = SwEngine::new(&mut rig.mb);
    assert_eq!(rig.ve.run(&mut eng, &mut rig.scratch), None);
    assert_eq!(finish_frame(&mut rig.ve), Err(CedrusError::NotDone));
    reset(&mut rig.ve);
    assert!(!rig.ve.is_busy() && !rig.ve.irq_pending());
    s.fail(&plan);
    rig.ve.inject.hang = false;
    for i in 1..3 {
        let (plan, au, rec) = rig.frame(&mut s, &input, i).unwrap();
        assert_eq!(plan.idr, i == 1);
        stream.extend_from_slice(&au);
        recons.push(rec);
    }
    check_decoded("watchdog", 320, 240, &stream, &recons);
}

#[test]
fn put_bits_ready_is_polled() {
    let mut rig = Rig::new(160, 128, 1 << 16);
    rig.ve.inject.put_bits_busy_reads = 3;
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    let input = stateful_input(
        CodingSettings::default(),
        GopSettings::default(),
        RcControls::default(),
    );
    let mut stream = Vec::new();
    let mut recons = Vec::new();
    for i in 0..2 {
        let (_, au, rec) = rig.frame(&mut s, &input, i).unwrap();
        stream.extend_from_slice(&au);
        recons.push(rec);
    }
    assert_eq!(rig.ve.fault(), None);
    check_decoded("poll", 160, 128, &stream, &recons);
}

#[test]
fn cbr_300_frames_within_5_percent() {
    let (vw, vh, fps, bitrate) = (320u32, 240u32, 30u32, 400_000u32);
    let mut rig = Rig::new(vw, vh, 1 << 20);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(fps));
    s.reset();
    let mut input = stateful_input(
        CodingSettings::default(),
        GopSettings {
            gop_size: 60,
            ..GopSettings::default()
        },
        RcControls {
            frame_rc_enable: true,
            bitrate_mode: BitrateMode::Cbr as u32,
            bitrate,
            cpb_size_kb: 0, // one second of bitrate (the RC default)
            ..RcControls::default()
        },
    );
    // With HRD signalling: NAL HRD in the SPS, buffering period and picture timing SEI.
    input.hrd = true;
    let n = 300u32;
    let (mut stream, mut recons) = (Vec::new(), Vec::new());
    for i in 0..n {
        let (_, au, rec) = rig.frame(&mut s, &input, i).expect("frame");
        stream.extend_from_slice(&au);
        if i < 8 {
            recons.push(rec);
        }
    }
    let bits = stream.len() as u64 * 8;
    let target = bitrate as u64 * n as u64 / fps as u64;
    let dev = bits.abs_diff(target) * 100 / target;
    std::eprintln!("CBR: {bits} bits for a target of {target} ({dev} % off)");
    assert!(
        bits * 100 <= target * 105 && bits * 100 >= target * 95,
        "{bits} vs {target}"
    );
    assert!(
        stream.windows(4).any(|w| w == [0, 0, 1, 6]),
        "HRD SEI present"
    );
    // The whole stream decodes (the first frames are compared bit for bit).
    let dec = ffmpeg_decode("cbr", &stream);
    let frame = (vw * vh * 3 / 2) as usize;
    assert_eq!(dec.len(), frame * n as usize);
    for (i, rec) in recons.iter().enumerate() {
        assert!(dec[i * frame..(i + 1) * frame] == rec[..], "frame {i}");
    }
}

#[test]
fn registers_agree_with_the_plan() {
    let mut rig = Rig::new(320, 240, 1 << 18);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    let input = stateful_input(
        CodingSettings {
            cabac: true,
            cabac_init_idc: 2,
            chroma_qp_index_offset: 5,
            disable_deblocking_filter_idc: 2,
            alpha_c0_offset_div2: -6,
            beta_offset_div2: 6,
            ..CodingSettings::default()
        },
        GopSettings::default(),
        RcControls {
            i_frame_qp: 33,
            p_frame_qp: 35,
            ..RcControls::default()
        },
    );
    for i in 0..2 {
        let plan = s.prepare(&input).unwrap();
        rig.fill(i);
        start_frame(&mut rig.ve, &s, &plan, &rig.bufs).unwrap();
        let p0 = AvcPara0(rig.ve.read32(AvcPara0::OFFSET));
        let p1 = AvcPara1(rig.ve.read32(AvcPara1::OFFSET));
        assert!(
            !p0.is_set(AvcPara0::EPTB_DIS),
            "slice data escaped by the VE"
        );
        assert_eq!(p0.get(AvcPara0::SLICE_TYPE), i);
        assert!(p0.is_set(AvcPara0::ENTROPY_CABAC));
        assert_eq!(p0.get(AvcPara0::CABAC_INIT_IDC), plan.cabac_init_idc as u32);
        assert_eq!(plan.cabac_init_idc, if i == 0 { 0 } else { 2 });
        assert_eq!(p0.get(AvcPara0::DEBLOCK_IDC), 2);
        assert_eq!(p0.get(AvcPara0::ALPHA_OFFSET_DIV2), 0xA); // −6
        assert_eq!(p0.get(AvcPara0::BETA_OFFSET_DIV2), 6);
        assert_eq!(p1.get(AvcPara1::QP), plan.qp as u32);
        assert_eq!(p1.get(AvcPara1::CHROMA_QP_OFFSET), 5);
        assert_eq!(p1.get(AvcPara1::STRIDE_MBS_DIV_48), 1);
        assert_eq!(rig.ve.read32(AvcMePara::OFFSET), AvcMePara::BOOTLIN);
        assert_eq!(rig.ve.read32(AvcIntEn::OFFSET), 3);
        let rec = REC[plan.rec_slot as usize];
        assert_eq!(rig.ve.read32(AvcRecY::OFFSET), rec);
        assert_eq!(
            rig.ve.read32(AvcRecC::OFFSET),
            rec + rig.bufs.sizes.rec_chroma_offset
        );
        let refb = plan.ref_slot.map_or(rec, |r| REC[r as usize]);
        assert_eq!(rig.ve.read32(AvcRef0Y::OFFSET), refb);
        let mut eng = SwEngine::new(&mut rig.mb);
        assert_eq!(
            rig.ve.run(&mut eng, &mut rig.scratch),
            Some(JobEnd::Finished)
        );
        let n = finish_frame(&mut rig.ve).unwrap();
        s.complete(&plan, n);
    }
}

#[test]
fn midstream_changes_decode() {
    // Entropy switch (PPS only), a QP change, a bitrate-mode switch, then auto mode on the
    // stateless node: one stream, decodable, REC equal to the decoder's output.
    let (vw, vh) = (320, 240);
    let mut rig = Rig::new(vw, vh, 1 << 20);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    let mut input = stateful_input(
        CodingSettings::default(),
        GopSettings::default(),
        RcControls::default(),
    );
    let (mut stream, mut recons, mut idrs) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..12u32 {
        match i {
            3 => input.coding.cabac = true,
            5 => input.rc.p_frame_qp = 40,
            7 => {
                input.rc.frame_rc_enable = true;
                input.rc.bitrate = 300_000;
            }
            _ => {}
        }
        let (plan, au, rec) = rig.frame(&mut s, &input, i).unwrap();
        if plan.idr {
            idrs.push(i);
        }
        stream.extend_from_slice(&au);
        recons.push(rec);
    }
    assert_eq!(idrs, [0], "no change here needs an IDR");
    check_decoded("midstream", vw, vh, &stream, &recons);
}

#[test]
fn stateless_auto_mode_and_separate_headers() {
    // The stateless node without ENCODE_PARAMS (uapi.md §8.6 auto mode), with the SPS/PPS in
    // their own buffer (HEADER_MODE_SEPARATE) written by the CPU.
    let (vw, vh) = (320, 240);
    let mut rig = Rig::new(vw, vh, 1 << 20);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    let c = Client::new(vw, vh);
    let input = FrameInput {
        parameter_sets: Some(ParameterSets {
            sps: &c.sps,
            pps: &c.pps,
        }),
        params: None,
        header_mode: HeaderMode::Separate,
        gop: GopSettings {
            gop_size: 4,
            ..GopSettings::default()
        },
        ..stateful_input(
            CodingSettings::default(),
            GopSettings::default(),
            RcControls::default(),
        )
    };
    let (mut stream, mut recons) = (Vec::new(), Vec::new());
    for i in 0..6u32 {
        let plan = s.prepare(&input).unwrap();
        assert_eq!(plan.separate_sps_pps, i % 4 == 0);
        assert!(!plan.emit.sps_pps);
        if plan.separate_sps_pps {
            let mut buf = [0u8; 512];
            let mut w = crate::h264::bits::BitWriter::new(&mut buf);
            s.write_parameter_sets(&plan, &mut w).unwrap();
            stream.extend_from_slice(w.written());
        }
        rig.fill(i);
        start_frame(&mut rig.ve, &s, &plan, &rig.bufs).unwrap();
        let mut eng = SwEngine::new(&mut rig.mb);
        rig.ve.run(&mut eng, &mut rig.scratch);
        let n = finish_frame(&mut rig.ve).unwrap();
        s.complete(&plan, n);
        stream.extend_from_slice(rig.ve.bus().slice(DST, n as usize));
        recons.push(rig.recon(plan.rec_slot));
    }
    check_decoded("auto-separate", vw, vh, &stream, &recons);
}

#[test]
fn full_hd_1920x1080_through_the_backend() {
    // The largest picture: private buffers sized by private_sizes() suffice for the model,
    // and the 1080 visible lines crop out of 1088 coded ones.
    let mut input = stateful_input(
        CodingSettings {
            cabac: true,
            ..CodingSettings::default()
        },
        GopSettings::default(),
        RcControls::default(),
    );
    input.rc.p_frame_qp = 32;
    let (_, plans) = run_stateful("1080p", 1920, 1080, 2, &input);
    assert_eq!((plans[0].width_mbs, plans[0].height_mbs), (120, 68));
    assert_eq!(plans[0].state.sps.level_idc, 40);
}

#[test]
fn stateless_too_small_capture_then_idr_and_counters_continue() {
    // The client keeps counting through a failed frame; the session codes the next request as
    // an IDR and re-bases the client's later frame_num/POC so the stream has no gap.
    let (vw, vh) = (320, 240);
    let mut rig = Rig::new(vw, vh, 1 << 20);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(25));
    let mut c = Client::new(vw, vh);
    c.gop = 100;
    let (mut stream, mut recons, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..14u32 {
        let p = c.next();
        let input = stateless_input(&c, &p);
        rig.bufs.dst_size = if i == 5 { 24 } else { 1 << 20 };
        match rig.frame(&mut s, &input, i) {
            Ok((plan, au, rec)) => {
                assert_ne!(i, 5, "{} bytes fit", au.len());
                kinds.push((plan.idr, plan.frame_num));
                stream.extend_from_slice(&au);
                recons.push(rec);
            }
            Err(e) => {
                assert_eq!((i, e), (5, CedrusError::OutputFull));
                kinds.push((false, u16::MAX));
            }
        }
    }
    assert_eq!(kinds[6], (true, 0), "the frame after the failure is an IDR");
    assert_eq!(kinds[7], (false, 1));
    assert_eq!(kinds[13], (false, 7));
    check_decoded("stateless-overflow", vw, vh, &stream, &recons);
}

/// A register file with no side effects: reads return what was last written (or `fixed`).
struct Plain {
    regs: std::collections::BTreeMap<u32, u32>,
    fixed: std::collections::BTreeMap<u32, u32>,
    writes: Vec<(u32, u32)>,
}

impl Plain {
    fn new(fixed: &[(u32, u32)]) -> Self {
        Plain {
            regs: Default::default(),
            fixed: fixed.iter().copied().collect(),
            writes: Vec::new(),
        }
    }
}

impl Regs for Plain {
    fn read32(&mut self, off: u32) -> u32 {
        self.fixed
            .get(&off)
            .or(self.regs.get(&off))
            .copied()
            .unwrap_or(0)
    }
    fn write32(&mut self, off: u32, val: u32) {
        self.regs.insert(off, val);
        self.writes.push((off, val));
    }
}

#[test]
fn finish_frame_status_mapping() {
    let st = AvcStatus::OFFSET;
    let len = AvcStmBitLen::OFFSET;
    let max = AvcStmBitMax::OFFSET;
    let case = |status: u32, bits: u32| {
        let mut r = Plain::new(&[(st, status), (len, bits), (max, 8000)]);
        let res = finish_frame(&mut r);
        (res, r.writes)
    };
    let (res, w) = case(0x200, 800); // only PUT_BITS_READY: not ours
    assert_eq!(res, Err(CedrusError::NotDone));
    assert!(w.is_empty(), "nothing cleared");
    let (res, w) = case(1, 800);
    assert_eq!(res, Ok(100));
    assert_eq!(w, [(AvcIntEn::OFFSET, 0), (st, 0xF)], "disable, then W1C");
    assert_eq!(case(1, 803).0, Err(CedrusError::BadLength { bits: 803 }));
    assert_eq!(case(1, 8008).0, Err(CedrusError::BadLength { bits: 8008 }));
    assert_eq!(case(2, 8000).0, Err(CedrusError::OutputFull));
    assert_eq!(case(2, 7990).0, Err(CedrusError::OutputFull));
    assert_eq!(case(2, 400).0, Err(CedrusError::Stalled { status: 2 }));
    assert_eq!(case(8 | 1, 400).0, Err(CedrusError::Overtime { status: 9 }));
    assert_eq!(case(4, 400).0, Err(CedrusError::Overtime { status: 4 }));
}

#[test]
fn start_frame_timeouts_and_bad_buffers() {
    let rig = Rig::new(320, 240, 1 << 16);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    let input = stateful_input(
        CodingSettings::default(),
        GopSettings::default(),
        RcControls::default(),
    );
    let plan = s.prepare(&input).unwrap();
    // PUT_BITS_READY never comes up.
    let mut r = Plain::new(&[(AvcStatus::OFFSET, 0)]);
    assert_eq!(
        start_frame(&mut r, &s, &plan, &rig.bufs),
        Err(CedrusError::PutBitsTimeout)
    );
    assert!(!r
        .writes
        .iter()
        .any(|w| w.0 == AvcStartTrig::OFFSET && w.1 == 8));
    // Ready, but the VE never reports sync idle.
    let mut r = Plain::new(&[(AvcStatus::OFFSET, 0x200), (VeReset::OFFSET, 0)]);
    assert_eq!(
        start_frame(&mut r, &s, &plan, &rig.bufs),
        Err(CedrusError::SyncTimeout)
    );
    // Buffers the VE cannot take: refused before any register is written.
    let bad = [
        FrameBuffers {
            src_stride: 328,
            ..rig.bufs
        },
        FrameBuffers {
            src_luma: 0,
            ..rig.bufs
        },
        FrameBuffers {
            dst: DST + 4,
            ..rig.bufs
        },
        FrameBuffers {
            dst_size: 0,
            ..rig.bufs
        },
        FrameBuffers {
            dst_size: u32::MAX,
            ..rig.bufs
        },
        FrameBuffers {
            rec: [REC[0], 0],
            ..rig.bufs
        },
        FrameBuffers {
            subpix: [SUB[0], SUB[0]],
            ..rig.bufs
        },
        FrameBuffers {
            sizes: private_sizes(10, 10).unwrap(),
            ..rig.bufs
        },
        FrameBuffers {
            dst: !15,
            dst_size: 1 << 20,
            ..rig.bufs
        },
    ];
    for (i, b) in bad.iter().enumerate() {
        let mut r = Plain::new(&[(AvcStatus::OFFSET, 0x200), (VeReset::OFFSET, 0x300)]);
        let res = start_frame(&mut r, &s, &plan, b);
        assert!(
            matches!(res, Err(CedrusError::Buffers(_))),
            "case {i}: {res:?}"
        );
        assert!(r.writes.is_empty(), "case {i}");
    }
    // A plan the registers cannot express (chroma offset outside 0..7).
    let mut p2 = plan.clone();
    p2.chroma_qp_index_offset = -1;
    let mut r = Plain::new(&[(AvcStatus::OFFSET, 0x200), (VeReset::OFFSET, 0x300)]);
    assert!(matches!(
        start_frame(&mut r, &s, &p2, &rig.bufs),
        Err(CedrusError::Plan(_))
    ));
}

#[test]
fn stateful_non_idr_i_frames_and_vbr() {
    // I_PERIOD: non-IDR I frames inside an open GOP, rate-controlled (VBR with a peak).
    let input = stateful_input(
        CodingSettings {
            cabac: true,
            ..CodingSettings::default()
        },
        GopSettings {
            gop_size: 0,
            i_period: 3,
            force_key_frame: false,
        },
        RcControls {
            frame_rc_enable: true,
            bitrate_mode: BitrateMode::Vbr as u32,
            bitrate: 200_000,
            bitrate_peak: 400_000,
            ..RcControls::default()
        },
    );
    let (_, plans) = run_stateful("iperiod-vbr", 160, 128, 8, &input);
    let kinds: Vec<(bool, SliceKind)> = plans.iter().map(|p| (p.idr, p.slice)).collect();
    use SliceKind::*;
    assert_eq!(
        kinds,
        [
            (true, I),
            (false, P),
            (false, P),
            (false, I),
            (false, P),
            (false, P),
            (false, I),
            (false, P)
        ]
    );
    assert_eq!(plans[4].ref_slot, Some(plans[3].rec_slot));
}

#[test]
fn stateless_non_reference_frames_keep_the_right_reference() {
    // Every other P frame has nal_ref_idc 0: it is written to the free slot and never
    // referenced; the next P frame still predicts from the last reference (DPB → slot → REF0).
    let (vw, vh) = (192, 144);
    let mut rig = Rig::new(vw, vh, 1 << 20);
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &rig.source(30));
    let c = Client::new(vw, vh);
    let (mut stream, mut recons) = (Vec::new(), Vec::new());
    let (mut frame_num, mut last_ref_slot) = (0u16, None);
    for k in 0..10u32 {
        let idr = k == 0;
        let is_ref = idr || k % 2 == 1;
        let p = H264EncodeParams {
            nal_ref_idc: if is_ref { 2 } else { 0 },
            slice_type: if idr { SLICE_TYPE_I } else { SLICE_TYPE_P },
            frame_num: frame_num & 15,
            pic_order_cnt_lsb: ((2 * k) & 15) as u16,
            flags: if idr { ENCODE_FLAG_IDR_PIC } else { 0 },
            ..H264EncodeParams::default()
        };
        // frame_num counts reference frames (7.4.3).
        if is_ref {
            frame_num += 1;
        }
        let input = stateless_input(&c, &p);
        let (plan, au, rec) = rig.frame(&mut s, &input, k).unwrap();
        if !idr {
            assert_eq!(plan.ref_slot, last_ref_slot, "frame {k}");
        }
        if is_ref {
            last_ref_slot = Some(plan.rec_slot);
        } else {
            assert_ne!(Some(plan.rec_slot), last_ref_slot);
        }
        stream.extend_from_slice(&au);
        recons.push(rec);
    }
    check_decoded("non-ref", vw, vh, &stream, &recons);
}
