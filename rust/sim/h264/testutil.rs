// SPDX-License-Identifier: GPL-2.0
//! Test-only helpers: frame buffers, test content, a minimal SPS/PPS/slice-header writer (the
//! real one belongs to the H.264 core) and the ffmpeg oracle.

use super::*;
use crate::h264::bits::{BitSink, BitWriter};
use std::format;
use std::io::Write;
use std::process::{Command, Stdio};
use std::string::String;
use std::vec;
use std::vec::Vec;

/// An owned NV12 frame with stride = width.
#[derive(Clone)]
pub struct Frame {
    pub w: usize,
    pub h: usize,
    pub y: Vec<u8>,
    pub uv: Vec<u8>,
}

impl Frame {
    pub fn new(w_mbs: usize, h_mbs: usize) -> Self {
        let (w, h) = (w_mbs * 16, h_mbs * 16);
        Frame {
            w,
            h,
            y: vec![0; w * h],
            uv: vec![0; w * h / 2],
        }
    }
    pub fn view(&self) -> Nv12<'_> {
        Nv12 {
            y: Plane {
                data: &self.y,
                stride: self.w,
            },
            uv: Plane {
                data: &self.uv,
                stride: self.w,
            },
        }
    }
    pub fn view_mut(&mut self) -> Nv12Mut<'_> {
        Nv12Mut {
            y: PlaneMut {
                data: &mut self.y,
                stride: self.w,
            },
            uv: PlaneMut {
                data: &mut self.uv,
                stride: self.w,
            },
        }
    }
    pub fn from_raw(w: usize, h: usize, raw: &[u8]) -> Self {
        Frame {
            w,
            h,
            y: raw[..w * h].to_vec(),
            uv: raw[w * h..w * h * 3 / 2].to_vec(),
        }
    }
}

/// Frames from an ffmpeg lavfi source, converted to NV12 at w×h.
pub fn lavfi(src: &str, w: usize, h: usize, n: usize) -> Vec<Frame> {
    let out = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            src,
            "-frames:v",
            &format!("{n}"),
            "-vf",
        ])
        .arg(format!("scale={w}:{h}:flags=bicubic,format=nv12"))
        .args(["-f", "rawvideo", "-pix_fmt", "nv12", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg lavfi failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fs = w * h * 3 / 2;
    assert_eq!(out.stdout.len(), fs * n, "lavfi frame count");
    out.stdout
        .chunks(fs)
        .map(|c| Frame::from_raw(w, h, c))
        .collect()
}

/// Synthetic content: gradients, noise and a moving textured square.
pub fn synthetic(w_mbs: usize, h_mbs: usize, n: usize, seed: u64) -> Vec<Frame> {
    let mut rng = crate::h264::testutil::Rng::new(seed);
    let mut v = Vec::new();
    for t in 0..n {
        let mut f = Frame::new(w_mbs, h_mbs);
        let (w, h) = (f.w, f.h);
        for y in 0..h {
            for x in 0..w {
                let mut s = ((x * 255) / w.max(1)) as i32 / 2 + ((y * 255) / h.max(1)) as i32 / 3;
                // Moving square with a checker texture.
                let sx = (x as i32 - 3 * t as i32).rem_euclid(w as i32 + 32);
                let sy = (y as i32 - 2 * t as i32).rem_euclid(h as i32 + 32);
                if sx > w as i32 / 4 && sx < w as i32 / 2 && sy > h as i32 / 4 && sy < h as i32 / 2
                {
                    s = if ((x / 3) ^ (y / 5)) & 1 == 1 {
                        220
                    } else {
                        30
                    };
                }
                s += (rng.next_u32() % 9) as i32 - 4;
                f.y[y * w + x] = s.clamp(0, 255) as u8;
            }
        }
        for y in 0..h / 2 {
            for x in 0..w / 2 {
                f.uv[y * w + 2 * x] =
                    (128 + (x as i32 - w as i32 / 4) / 2 + (t as i32)).clamp(0, 255) as u8;
                f.uv[y * w + 2 * x + 1] =
                    (128 + (y as i32 - h as i32 / 4) / 2 + (rng.next_u32() % 5) as i32)
                        .clamp(0, 255) as u8;
            }
        }
        v.push(f);
    }
    v
}

/// Encoder configuration for a test sequence.
#[derive(Clone, Copy)]
pub struct Cfg {
    pub entropy: Entropy,
    pub qp: u8,
    pub chroma_qp_index_offset: i8,
    pub deblock: Deblock,
    /// Every `intra_period`-th frame is an IDR (0: only the first).
    pub intra_period: usize,
}

impl Cfg {
    pub fn new(entropy: Entropy, qp: u8) -> Self {
        Cfg {
            entropy,
            qp,
            chroma_qp_index_offset: 0,
            deblock: Deblock::default(),
            intra_period: 0,
        }
    }
}

fn nal_start(w: &mut BitWriter, header: u8) {
    w.set_emulation_prevention(false);
    w.put_bytes_raw(&[0, 0, 0, 1, header]).unwrap();
    w.set_emulation_prevention(true);
}

fn write_sps(w: &mut BitWriter, wm: usize, hm: usize) {
    nal_start(w, 0x67);
    w.put_bits(8, 77).unwrap(); // Main
    w.put_bits(8, 0).unwrap();
    w.put_bits(8, 40).unwrap(); // level 4.0
    w.put_ue(0).unwrap(); // sps id
    w.put_ue(0).unwrap(); // log2_max_frame_num_minus4
    w.put_ue(2).unwrap(); // pic_order_cnt_type
    w.put_ue(1).unwrap(); // max_num_ref_frames
    w.put_bit(false).unwrap();
    w.put_ue(wm as u32 - 1).unwrap();
    w.put_ue(hm as u32 - 1).unwrap();
    w.put_bit(true).unwrap(); // frame_mbs_only
    w.put_bit(true).unwrap(); // direct_8x8_inference
    w.put_bit(false).unwrap(); // cropping
    w.put_bit(false).unwrap(); // vui
    w.rbsp_trailing_bits().unwrap();
    w.end_nal().unwrap();
}

fn write_pps(w: &mut BitWriter, c: &Cfg) {
    nal_start(w, 0x68);
    w.put_ue(0).unwrap();
    w.put_ue(0).unwrap();
    w.put_bit(matches!(c.entropy, Entropy::Cabac { .. }))
        .unwrap();
    w.put_bit(false).unwrap();
    w.put_ue(0).unwrap(); // slice groups
    w.put_ue(0).unwrap(); // num_ref_idx_l0_default_active_minus1
    w.put_ue(0).unwrap();
    w.put_bit(false).unwrap(); // weighted_pred
    w.put_bits(2, 0).unwrap();
    w.put_se(0).unwrap(); // pic_init_qp_minus26
    w.put_se(0).unwrap();
    w.put_se(c.chroma_qp_index_offset as i32).unwrap();
    w.put_bit(true).unwrap(); // deblocking_filter_control_present
    w.put_bit(false).unwrap(); // constrained_intra_pred
    w.put_bit(false).unwrap(); // redundant_pic_cnt_present
    w.rbsp_trailing_bits().unwrap();
    w.end_nal().unwrap();
}

fn write_slice_header(w: &mut BitWriter, p: &SliceParams, idr: bool, frame_num: u32) {
    nal_start(w, if idr { 0x65 } else { 0x61 });
    w.put_ue(0).unwrap(); // first_mb_in_slice
    w.put_ue(if p.slice_type == SliceType::I { 7 } else { 5 })
        .unwrap();
    w.put_ue(0).unwrap(); // pps id
    w.put_bits(4, frame_num & 15).unwrap();
    if idr {
        w.put_ue(0).unwrap();
    }
    if p.slice_type == SliceType::P {
        w.put_bit(false).unwrap(); // num_ref_idx_active_override_flag
        w.put_bit(false).unwrap(); // ref_pic_list_modification_flag_l0
    }
    if idr {
        w.put_bit(false).unwrap();
        w.put_bit(false).unwrap();
    } else {
        w.put_bit(false).unwrap(); // adaptive_ref_pic_marking_mode_flag
    }
    if let (Entropy::Cabac { init_idc }, SliceType::P) = (p.entropy, p.slice_type) {
        w.put_ue(init_idc as u32).unwrap();
    }
    w.put_se(p.qp as i32 - 26).unwrap();
    w.put_ue(p.deblock.disable_idc as u32).unwrap();
    if p.deblock.disable_idc != 1 {
        w.put_se(p.deblock.alpha_c0_offset_div2 as i32).unwrap();
        w.put_se(p.deblock.beta_offset_div2 as i32).unwrap();
    }
}

/// Result of encoding a sequence.
pub struct Encoded {
    pub stream: Vec<u8>,
    pub recon: Vec<Frame>,
    pub stats: Vec<SliceStats>,
}

/// Encodes `frames` as I P P P … with our encoder and the test header writer.
pub fn encode_seq(frames: &[Frame], c: &Cfg) -> Encoded {
    let wm = frames[0].w / 16;
    let hm = frames[0].h / 16;
    let mut buf = vec![0u8; frames.len() * frames[0].w * frames[0].h * 4 + 4096];
    let mut recon: Vec<Frame> = Vec::new();
    let mut stats = Vec::new();
    let mut scratch = vec![MbInfo::default(); scratch_len(wm as u16, hm as u16)];
    let len;
    {
        let mut w = BitWriter::new(&mut buf);
        write_sps(&mut w, wm, hm);
        write_pps(&mut w, c);
        let mut frame_num = 0u32;
        for (i, f) in frames.iter().enumerate() {
            let idr = i == 0 || (c.intra_period > 0 && i % c.intra_period == 0);
            if idr {
                frame_num = 0;
            }
            let p = SliceParams {
                slice_type: if idr { SliceType::I } else { SliceType::P },
                qp: c.qp,
                chroma_qp_index_offset: c.chroma_qp_index_offset,
                entropy: c.entropy,
                deblock: c.deblock,
                width_mbs: wm as u16,
                height_mbs: hm as u16,
            };
            write_slice_header(&mut w, &p, idr, frame_num);
            let mut rec = Frame::new(wm, hm);
            let st = {
                let refv = recon.last().map(|r: &Frame| r.view());
                encode_slice(
                    &p,
                    &f.view(),
                    refv.as_ref(),
                    &mut rec.view_mut(),
                    &mut scratch,
                    &mut w,
                )
                .expect("encode_slice")
            };
            w.end_nal().unwrap();
            stats.push(st);
            recon.push(rec);
            frame_num += 1;
        }
        len = w.bytes_written();
    }
    buf.truncate(len);
    Encoded {
        stream: buf,
        recon,
        stats,
    }
}

/// Decodes an Annex B stream with ffmpeg; returns (NV12 frames, stderr).
pub fn ffmpeg_decode(stream: &[u8], w: usize, h: usize) -> (Vec<Frame>, String) {
    let mut child = Command::new("ffmpeg")
        .args([
            "-v", "error", "-threads", "1", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt",
            "nv12", "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ffmpeg");
    let mut stdin = child.stdin.take().unwrap();
    let data = stream.to_vec();
    let t = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    t.join().unwrap();
    let fs = w * h * 3 / 2;
    let frames = out
        .stdout
        .chunks(fs)
        .filter(|c| c.len() == fs)
        .map(|c| Frame::from_raw(w, h, c))
        .collect();
    (frames, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Encodes, decodes with ffmpeg and asserts the decoded pictures equal our reconstruction.
pub fn check_bitexact(frames: &[Frame], c: &Cfg, what: &str) -> Encoded {
    let e = encode_seq(frames, c);
    let (dec, err) = ffmpeg_decode(&e.stream, frames[0].w, frames[0].h);
    if std::env::var("SLENC_DUMP").is_ok() {
        std::fs::write(format!("/tmp/slenc_{what}.h264"), &e.stream).unwrap();
    }
    assert!(err.is_empty(), "{what}: ffmpeg reported: {err}");
    assert_eq!(dec.len(), frames.len(), "{what}: decoded frame count");
    for (i, (d, r)) in dec.iter().zip(e.recon.iter()).enumerate() {
        if d.y != r.y || d.uv != r.uv {
            let w = d.w;
            let pos = d.y.iter().zip(r.y.iter()).position(|(a, b)| a != b);
            let cpos = d.uv.iter().zip(r.uv.iter()).position(|(a, b)| a != b);
            let mb = |p: Option<usize>, rows: usize| p.map(|p| ((p % w) / 16, (p / w) / rows));
            panic!(
                "{what}: frame {i} ({:?}) differs: first luma diff at {:?} (mb {:?}), chroma at {:?} (mb {:?})",
                e.stats[i],
                pos.map(|p| (p % w, p / w)),
                mb(pos, 16),
                cpos.map(|p| (p % w, p / w)),
                cpos.map(|p| ((p % w) / 16, (p / w) / 8))
            );
        }
    }
    e
}

/// PSNR of the luma plane in dB (test-only floating point).
pub fn psnr(a: &Frame, b: &Frame) -> f64 {
    let mut se = 0f64;
    for (x, y) in a.y.iter().zip(b.y.iter()) {
        let d = *x as f64 - *y as f64;
        se += d * d;
    }
    let mse = se / a.y.len() as f64;
    if mse == 0.0 {
        return 99.0;
    }
    10.0 * (255.0 * 255.0 / mse).log10()
}

/// A camera pan over a still picture from lavfi: each frame is a 2:1 box-filtered crop of a
/// twice-larger picture moved by (3, 1) large-picture samples per frame, i.e. (1.5, 0.5)
/// samples of motion, so the motion search needs sub-sample vectors.
pub fn pan(src: &str, w: usize, h: usize, n: usize) -> Vec<Frame> {
    let (bw, bh) = ((2 * w + 3 * n + 5) & !1, (2 * h + n + 5) & !1);
    let big = lavfi(src, bw, bh, 1).remove(0);
    let mut v = Vec::new();
    for t in 0..n {
        let (ox, oy) = (3 * t, t);
        let mut f = Frame {
            w,
            h,
            y: vec![0; w * h],
            uv: vec![0; w * h / 2],
        };
        for y in 0..h {
            for x in 0..w {
                let (sx, sy) = (ox + 2 * x, oy + 2 * y);
                let s = big.y[sy * bw + sx] as u32
                    + big.y[sy * bw + sx + 1] as u32
                    + big.y[(sy + 1) * bw + sx] as u32
                    + big.y[(sy + 1) * bw + sx + 1] as u32;
                f.y[y * w + x] = ((s + 2) >> 2) as u8;
            }
        }
        for y in 0..h / 2 {
            for x in 0..w / 2 {
                for c in 0..2 {
                    let (sx, sy) = (ox / 2 + 2 * x, oy / 2 + 2 * y);
                    let g = |xx: usize, yy: usize| big.uv[yy * bw + 2 * xx + c] as u32;
                    let s = g(sx, sy) + g(sx + 1, sy) + g(sx, sy + 1) + g(sx + 1, sy + 1);
                    f.uv[y * w + 2 * x + c] = ((s + 2) >> 2) as u8;
                }
            }
        }
        v.push(f);
    }
    v
}
