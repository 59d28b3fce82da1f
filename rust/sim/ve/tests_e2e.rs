// SPDX-License-Identifier: GPL-2.0
//! End-to-end: SPS/PPS/slice headers through the put-bits registers (cedrus.md §2.2), trigger
//! I then P frames (§7), read the stream out of "memory", decode it with ffmpeg and compare
//! the picture with the REC buffer bit for bit.

use super::bus::host::HostBus;
use super::tests::{w32, Rig, MBI, REC_A, REC_B, SRC, STM, SUB_A, SUB_B};
use super::*;
use crate::h264::bits::{BitError, BitSink};
use std::vec::Vec;

/// A [`BitSink`] that is the VE's put-bits unit: every call is a register sequence.
struct PutBits<'a>(&'a mut Rig);

impl BitSink for PutBits<'_> {
    fn put_bits(&mut self, n: u32, value: u32) -> Result<(), BitError> {
        if n == 0 {
            return Ok(());
        }
        self.0.put(n, value);
        Ok(())
    }
    fn bit_position(&self) -> u64 {
        // STM_BIT_LEN; a `&self` read cannot advance the ready delay, so use the stream state.
        self.0.ve.stream.bit_len() as u64
    }
    // Use the hardware's Exp-Golomb commands rather than the generic ones.
    fn put_ue(&mut self, v: u32) -> Result<(), BitError> {
        self.0.cmd(AvcStartTrig::CMD_PUT_VLC_UE, v);
        Ok(())
    }
    fn put_se(&mut self, v: i32) -> Result<(), BitError> {
        self.0.cmd(AvcStartTrig::CMD_PUT_VLC_SE, v as u32);
        Ok(())
    }
}

/// Stream parameters of the test-only header writer.
#[derive(Clone, Copy)]
struct Params {
    w: u32,
    h: u32,
    cabac: bool,
    chroma_qp_offset: i32,
    /// disable_deblocking_filter_idc, alpha, beta (slice header and AVC_PARA0 alike).
    deblock: (u32, i32, i32),
}

impl Params {
    const fn new(w: u32, h: u32, cabac: bool) -> Self {
        Self {
            w,
            h,
            cabac,
            chroma_qp_offset: 4,
            deblock: (0, 0, 0),
        }
    }
}

/// Start code with EPTB off, then the NAL header with EPTB on (jemk/Luc style, §2.2 and §6
/// item 2).
fn nal_start(r: &mut Rig, header: u32) {
    r.set_eptb(false);
    r.put(32, 1);
    r.set_eptb(true);
    r.put(8, header);
}

fn write_sps(r: &mut Rig, p: &Params) {
    nal_start(r, 0x67);
    let mut s = PutBits(r);
    s.put_bits(8, if p.cabac { 77 } else { 66 }).unwrap(); // profile_idc
    s.put_bits(8, 0).unwrap(); // constraint flags
    s.put_bits(8, 40).unwrap(); // level_idc
    s.put_ue(0).unwrap(); // seq_parameter_set_id
    s.put_ue(4).unwrap(); // log2_max_frame_num_minus4 (8 bits, §2.1)
    s.put_ue(0).unwrap(); // pic_order_cnt_type
    s.put_ue(4).unwrap(); // log2_max_pic_order_cnt_lsb_minus4
    s.put_ue(1).unwrap(); // max_num_ref_frames
    s.put_bit(false).unwrap(); // gaps_in_frame_num_value_allowed_flag
    s.put_ue(p.w - 1).unwrap();
    s.put_ue(p.h - 1).unwrap();
    s.put_bit(true).unwrap(); // frame_mbs_only_flag
    s.put_bit(true).unwrap(); // direct_8x8_inference_flag
    s.put_bit(false).unwrap(); // frame_cropping_flag
    s.put_bit(false).unwrap(); // vui_parameters_present_flag
    s.rbsp_trailing_bits().unwrap();
}

fn write_pps(r: &mut Rig, p: &Params) {
    nal_start(r, 0x68);
    let mut s = PutBits(r);
    s.put_ue(0).unwrap(); // pic_parameter_set_id
    s.put_ue(0).unwrap(); // seq_parameter_set_id
    s.put_bit(p.cabac).unwrap(); // entropy_coding_mode_flag
    s.put_bit(false).unwrap(); // bottom_field_pic_order_in_frame_present_flag
    s.put_ue(0).unwrap(); // num_slice_groups_minus1
    s.put_ue(0).unwrap(); // num_ref_idx_l0_default_active_minus1
    s.put_ue(0).unwrap(); // num_ref_idx_l1_default_active_minus1
    s.put_bit(false).unwrap(); // weighted_pred_flag
    s.put_bits(2, 0).unwrap(); // weighted_bipred_idc
    s.put_se(0).unwrap(); // pic_init_qp_minus26
    s.put_se(0).unwrap(); // pic_init_qs_minus26
    s.put_se(p.chroma_qp_offset).unwrap();
    s.put_bit(true).unwrap(); // deblocking_filter_control_present_flag
    s.put_bit(false).unwrap(); // constrained_intra_pred_flag
    s.put_bit(false).unwrap(); // redundant_pic_cnt_present_flag
    s.rbsp_trailing_bits().unwrap();
}

/// Slice header (§2.2 layout); slice data follows without alignment.
fn write_slice_header(r: &mut Rig, p: &Params, idx: u32, qp: u32) {
    let idr = idx == 0;
    nal_start(r, if idr { 0x65 } else { 0x61 });
    let mut s = PutBits(r);
    s.put_ue(0).unwrap(); // first_mb_in_slice
    s.put_ue(if idr { 2 } else { 0 }).unwrap(); // slice_type I / P
    s.put_ue(0).unwrap(); // pic_parameter_set_id
    s.put_bits(8, idx & 0xFF).unwrap(); // frame_num
    if idr {
        s.put_ue(0).unwrap(); // idr_pic_id
    }
    s.put_bits(8, (idx * 2) & 0xFF).unwrap(); // pic_order_cnt_lsb
    if !idr {
        s.put_bit(false).unwrap(); // num_ref_idx_active_override_flag
        s.put_bit(false).unwrap(); // ref_pic_list_modification_flag_l0
    }
    if idr {
        s.put_bit(false).unwrap(); // no_output_of_prior_pics_flag
        s.put_bit(false).unwrap(); // long_term_reference_flag
    } else {
        s.put_bit(false).unwrap(); // adaptive_ref_pic_marking_mode_flag
    }
    if p.cabac && !idr {
        s.put_ue(1).unwrap(); // cabac_init_idc (Bootlin: 1 for P, §2.1)
    }
    s.put_se(qp as i32 - 26).unwrap(); // slice_qp_delta
    s.put_ue(p.deblock.0).unwrap(); // disable_deblocking_filter_idc
    if p.deblock.0 != 1 {
        s.put_se(p.deblock.1).unwrap(); // slice_alpha_c0_offset_div2
        s.put_se(p.deblock.2).unwrap(); // slice_beta_offset_div2
    }
}

/// Fills the source with frame `idx` of a moving pattern.
fn fill_source(bus: &mut HostBus, w: u32, h: u32, idx: u32) {
    let (stride, rows) = ((w * 16) as usize, (h * 16) as usize);
    let src = bus.slice_mut(SRC, stride * rows * 3 / 2);
    for (i, b) in src.iter_mut().enumerate() {
        let (x, y) = (i % stride, i / stride);
        // The first MB is black with zero chroma: long zero runs in PCM data force 0x03
        // insertion in the slice data.
        *b = if x < 16 && (y < 16 || (y >= rows && y < rows + 8)) {
            0
        } else if y < rows {
            ((x + 2 * y + 5 * idx as usize) & 0xFF) as u8 ^ (((x / 8 + y / 8) & 1) as u8 * 0x40)
        } else {
            (128 + ((x + y + idx as usize) & 0x3F)) as u8
        };
    }
}

/// Encodes `n` frames (IDR then P) through the register interface with `engine`. Returns the
/// Annex-B stream and the reconstructions (tightly packed NV12) read from REC.
fn encode_sequence<E: SliceEngine>(
    engine: &mut E,
    p: &Params,
    n: u32,
    qp: u32,
) -> (Vec<u8>, Vec<Vec<u8>>) {
    encode_sequence_with(engine, p, n, qp, |r, p, idx, qp| {
        if idx == 0 {
            write_sps(r, p);
            write_pps(r, p);
        }
        write_slice_header(r, p, idx, qp);
    })
}

/// As [`encode_sequence`], with `headers(rig, params, frame index, qp)` writing the headers
/// through put-bits.
fn encode_sequence_with<E: SliceEngine>(
    engine: &mut E,
    p: &Params,
    n: u32,
    qp: u32,
    mut headers: impl FnMut(&mut Rig, &Params, u32, u32),
) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut r = Rig::new(p.w, p.h, 1 << 20);
    let mut stream = Vec::new();
    let mut recons = Vec::new();
    let luma = regs::rec_luma_bytes(p.w, p.h).unwrap();
    for idx in 0..n {
        fill_source(r.ve.bus_mut(), p.w, p.h, idx);
        // §7 steps 1–3.
        r.enable();
        r.isp();
        r.stream();
        // Step 4: headers by put-bits (SPS/PPS with the IDR, §2.1 PREPEND_SPSPPS_TO_IDR).
        headers(&mut r, p, idx, qp);
        for _ in 0..10 {
            let v = r.ve.read32(VeReset::OFFSET);
            if v & 0x300 == 0x300 {
                break;
            }
        }
        // Steps 5–6, ping-pong REC/SUBPIX (§6 item 4).
        let (rec, refr, sub_new, sub_last) = if idx % 2 == 0 {
            (REC_A, REC_B, SUB_A, SUB_B)
        } else {
            (REC_B, REC_A, SUB_B, SUB_A)
        };
        let (refr, sub_last) = if idx == 0 {
            (rec, sub_new)
        } else {
            (refr, sub_last)
        };
        r.job(idx > 0, p.cabac, qp, rec, refr, sub_new, sub_last);
        let c = AvcPara1(r.ve.read32(AvcPara1::OFFSET))
            .with(AvcPara1::CHROMA_QP_OFFSET, p.chroma_qp_offset as u32);
        w32(&mut r.ve, c);
        // §6 item 3: the deblocking fields must match the slice header.
        let d = AvcPara0(r.ve.read32(AvcPara0::OFFSET))
            .with(AvcPara0::DEBLOCK_IDC, p.deblock.0)
            .with(AvcPara0::ALPHA_OFFSET_DIV2, p.deblock.1 as u32 & 0xF)
            .with(AvcPara0::BETA_OFFSET_DIV2, p.deblock.2 as u32 & 0xF);
        w32(&mut r.ve, d);
        // Step 7 and the IRQ.
        r.trigger();
        assert!(r.ve.is_busy(), "refused: {:?}", r.ve.fault());
        assert_eq!(
            r.ve.run(engine, &mut r.scratch),
            Some(JobEnd::Finished),
            "{:?}",
            r.ve.fault()
        );
        assert!(r.ve.irq_pending());
        let (st, bits) = r.irq();
        assert_eq!(st, AvcStatus::FINISH.mask());
        assert_eq!(bits % 8, 0);
        stream.extend_from_slice(r.ve.bus().slice(STM, (bits / 8) as usize));
        // Read REC back in the model's layout (stride ALIGN(w,2)·16).
        let rs = regs::rec_stride(p.w).unwrap() as usize;
        let ws = (p.w * 16) as usize;
        let mut pic = Vec::new();
        for row in 0..(p.h * 16) as usize {
            pic.extend_from_slice(r.ve.bus().slice(rec + (row * rs) as u32, ws));
        }
        for row in 0..(p.h * 8) as usize {
            pic.extend_from_slice(r.ve.bus().slice(rec + luma + (row * rs) as u32, ws));
        }
        recons.push(pic);
    }
    let _ = MBI;
    (stream, recons)
}

/// Decodes with ffmpeg; `None` when ffmpeg is not installed.
fn ffmpeg_decode(name: &str, stream: &[u8]) -> Option<Vec<u8>> {
    use std::process::Command;
    let path = std::env::temp_dir().join(std::format!(
        "slenc-ve-{}-{}.h264",
        name,
        std::process::id()
    ));
    std::fs::write(&path, stream).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "nv12", "-"])
        .output();
    let _ = std::fs::remove_file(&path);
    let out = match out {
        Ok(o) => o,
        Err(_) => {
            std::eprintln!("ffmpeg not found: skipping decode check");
            return None;
        }
    };
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "ffmpeg: {}",
        std::string::String::from_utf8_lossy(&out.stderr)
    );
    Some(out.stdout)
}

fn check_against_ffmpeg<E: SliceEngine>(name: &str, engine: &mut E, p: Params, n: u32, qp: u32) {
    let (stream, recons) = encode_sequence(engine, &p, n, qp);
    check_decoded(name, &p, n, &stream, &recons);
}

fn check_decoded(name: &str, p: &Params, n: u32, stream: &[u8], recons: &[Vec<u8>]) {
    if name == "pcm" {
        assert!(
            stream.windows(3).any(|w| w == [0, 0, 3]),
            "EPTB exercised in slice data"
        );
    }
    let Some(decoded) = ffmpeg_decode(name, stream) else {
        return;
    };
    let frame = (p.w * p.h * 384) as usize;
    assert_eq!(decoded.len(), frame * n as usize, "frame count");
    for (i, rec) in recons.iter().enumerate() {
        let dec = &decoded[i * frame..(i + 1) * frame];
        let first = rec.iter().zip(dec).position(|(a, b)| a != b);
        assert!(
            first.is_none(),
            "frame {i}: REC differs from ffmpeg at byte {first:?}"
        );
    }
}

#[test]
fn e2e_pcm_headers_by_put_bits_decode_with_ffmpeg() {
    // I then P frames; PCM data is full of zero runs, so EPTB in slice data is exercised.
    check_against_ffmpeg("pcm", &mut PcmEngine, Params::new(5, 3, false), 4, 30);
}

#[test]
fn e2e_pcm_sources_match_recon() {
    // PCM is lossless: REC must equal the source of each frame.
    let p = Params {
        chroma_qp_offset: 0,
        ..Params::new(3, 2, false)
    };
    let (_, recons) = encode_sequence(&mut PcmEngine, &p, 2, 26);
    let mut bus = HostBus::new();
    bus.map(SRC, (p.w * p.h * 384) as usize);
    for (i, rec) in recons.iter().enumerate() {
        fill_source(&mut bus, p.w, p.h, i as u32);
        assert_eq!(&rec[..], bus.slice(SRC, rec.len()));
    }
}

/// The backend's intended header path: h264-core's writers over a [`NalSink`] that drives the
/// VE's put-bits registers, with escaping mapped to AVC_PARA0.EPTB_DIS (cedrus.md §2.2, §7
/// step 4: start codes with EPTB off, RBSP with EPTB on).
struct VeNal<'a>(&'a mut Rig);

impl BitSink for VeNal<'_> {
    fn put_bits(&mut self, n: u32, value: u32) -> Result<(), BitError> {
        PutBits(self.0).put_bits(n, value)
    }
    fn bit_position(&self) -> u64 {
        self.0.ve.stream.bit_len() as u64
    }
    fn put_ue(&mut self, v: u32) -> Result<(), BitError> {
        PutBits(self.0).put_ue(v)
    }
    fn put_se(&mut self, v: i32) -> Result<(), BitError> {
        PutBits(self.0).put_se(v)
    }
}

impl crate::h264::nal::NalSink for VeNal<'_> {
    fn set_escaping(&mut self, on: bool) {
        self.0.set_eptb(on);
    }
    fn finish_payload(&mut self) -> Result<(), BitError> {
        // Our RBSPs end with rbsp_stop_one_bit, never with a zero byte.
        self.0.set_eptb(false);
        Ok(())
    }
}

fn core_headers<E: SliceEngine>(name: &str, engine: &mut E, p: Params) {
    use crate::h264::uapi::*;
    use crate::h264::{pps, slice_header, sps};
    let s = H264Sps {
        profile_idc: if p.cabac { 77 } else { 66 },
        level_idc: 30,
        chroma_format_idc: 1,
        log2_max_frame_num_minus4: 4,
        log2_max_pic_order_cnt_lsb_minus4: 4,
        max_num_ref_frames: 1,
        pic_width_in_mbs_minus1: (p.w - 1) as u16,
        pic_height_in_map_units_minus1: (p.h - 1) as u16,
        flags: SPS_FLAG_FRAME_MBS_ONLY | SPS_FLAG_DIRECT_8X8_INFERENCE,
        ..H264Sps::default()
    };
    let pp = H264Pps {
        chroma_qp_index_offset: p.chroma_qp_offset as i8,
        // The VE has one chroma offset for Cb and Cr (AVC_PARA1[18:16]): no PPS extension.
        second_chroma_qp_index_offset: p.chroma_qp_offset as i8,
        flags: PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT
            | if p.cabac {
                PPS_FLAG_ENTROPY_CODING_MODE
            } else {
                0
            },
        ..H264Pps::default()
    };
    let n = 3;
    let (stream, recons) = encode_sequence_with(engine, &p, n, 28, |r, _, idx, qp| {
        let mut sink = VeNal(r);
        let ep = H264EncodeParams {
            nal_ref_idc: 3,
            slice_type: if idx == 0 { SLICE_TYPE_I } else { SLICE_TYPE_P },
            frame_num: idx as u16,
            pic_order_cnt_lsb: (idx * 2) as u16,
            slice_qp_delta: (qp as i32 - 26) as i8,
            // Must match AVC_PARA0.CABAC_INIT_IDC, which the rig sets to 1 for CABAC P.
            cabac_init_idc: (p.cabac && idx != 0) as u8,
            flags: if idx == 0 { ENCODE_FLAG_IDR_PIC } else { 0 },
            ..H264EncodeParams::default()
        };
        if idx == 0 {
            sps::write_sps(
                &mut sink,
                StartCode::AnnexB,
                true,
                &s,
                &sps::SpsExtra::default(),
            )
            .unwrap();
            pps::write_pps(&mut sink, StartCode::AnnexB, false, &pp).unwrap();
        }
        slice_header::begin_slice_nal(&mut sink, StartCode::AnnexB, idx != 0, &ep).unwrap();
        slice_header::write_slice_header(&mut sink, &s, &pp, &ep, 0).unwrap();
    });
    check_decoded(name, &p, n, &stream, &recons);
}

#[test]
fn e2e_h264_core_headers_over_put_bits() {
    core_headers("core-pcm", &mut PcmEngine, Params::new(6, 4, false));
    let mut mb = std::vec![crate::sim::h264::MbInfo::default(); SwEngine::scratch_len(6, 4)];
    core_headers(
        "core-sw-cavlc",
        &mut SwEngine::new(&mut mb),
        Params::new(6, 4, false),
    );
    core_headers(
        "core-sw-cabac",
        &mut SwEngine::new(&mut mb),
        Params::new(6, 4, true),
    );
}

/// The software encoder behind the registers: scratch sized for the picture.
fn sw_check(name: &str, p: Params, n: u32, qp: u32) -> Vec<u8> {
    let mut mb = std::vec![crate::sim::h264::MbInfo::default(); SwEngine::scratch_len(p.w as u16, p.h as u16)];
    let mut engine = SwEngine::new(&mut mb);
    let (stream, recons) = encode_sequence(&mut engine, &p, n, qp);
    check_decoded(name, &p, n, &stream, &recons);
    stream
}

#[test]
fn e2e_sw_cavlc_i_then_p_matches_ffmpeg() {
    sw_check("sw-cavlc", Params::new(11, 7, false), 4, 28);
}

#[test]
fn e2e_sw_cabac_i_then_p_matches_ffmpeg() {
    sw_check("sw-cabac", Params::new(11, 7, true), 4, 28);
}

#[test]
fn e2e_sw_deblocking_variants_match_ffmpeg() {
    for (i, deblock) in [(1, 0, 0), (0, -6, 6), (2, 3, -2)].into_iter().enumerate() {
        let p = Params {
            deblock,
            chroma_qp_offset: (i as i32) * 3,
            ..Params::new(6, 5, i == 2)
        };
        sw_check("sw-deblock", p, 3, 36);
    }
}

#[test]
fn e2e_sw_size_responds_to_qp() {
    let lo = sw_check("sw-qp20", Params::new(8, 6, false), 2, 20).len();
    let hi = sw_check("sw-qp40", Params::new(8, 6, false), 2, 40).len();
    assert!(lo > 2 * hi, "QP 20: {lo} bytes, QP 40: {hi} bytes");
}

#[test]
fn e2e_sw_overflow_stalls() {
    let p = Params::new(8, 6, false);
    let mut mb = std::vec![crate::sim::h264::MbInfo::default(); SwEngine::scratch_len(8, 6)];
    let mut engine = SwEngine::new(&mut mb);
    let mut r = Rig::new(p.w, p.h, 200);
    fill_source(r.ve.bus_mut(), p.w, p.h, 0);
    r.enable();
    r.isp();
    r.stream();
    write_sps(&mut r, &p);
    write_pps(&mut r, &p);
    write_slice_header(&mut r, &p, 0, 10);
    r.job(false, false, 10, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    assert_eq!(r.ve.run(&mut engine, &mut r.scratch), Some(JobEnd::Stalled));
    let (st, bits) = r.irq();
    assert_eq!(st, AvcStatus::STALL.mask());
    assert_eq!(bits, 200 * 8);
    assert_eq!(r.ve.fault(), Some(Fault::StreamFull));
    assert!(matches!(
        engine.last_error,
        Some(crate::sim::h264::EncodeError::Bits(_))
    ));
}

#[test]
fn e2e_sw_1920x1088_i_then_p() {
    // The largest picture the model accepts (regs::MAX_*), CABAC, through the registers.
    sw_check("sw-1080p", Params::new(120, 68, true), 2, 30);
}
