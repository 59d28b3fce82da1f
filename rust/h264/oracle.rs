// SPDX-License-Identifier: GPL-2.0
//! Test-only oracle plumbing: stub slice data that any decoder must reconstruct exactly
//! (I_PCM pictures, all-skip P frames, P frames copying one reference), a stream builder, and
//! ffmpeg runners (`trace_headers` and a raw decode), see ARCHITECTURE.md §7.

use super::bits::{BitSink, BitWriter};
use super::nal::{self, end_nal, HeaderError};
use super::pps::write_pps;
use super::slice_header::{begin_slice_nal, write_slice_header};
use super::sps::*;
use super::testutil::Rng;
use super::uapi::*;
use std::collections::HashMap;
use std::format;
use std::path::PathBuf;
use std::process::Command;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

/// A 4:2:0 picture (I420 planes) of the coded size.
pub struct Picture {
    pub w: usize,
    pub h: usize,
    pub y: Vec<u8>,
    pub u: Vec<u8>,
    pub v: Vec<u8>,
}

impl Picture {
    pub fn random(w: usize, h: usize, rng: &mut Rng) -> Self {
        let gen = |n: usize, rng: &mut Rng| (0..n).map(|_| rng.next_u32() as u8).collect();
        Self {
            w,
            h,
            y: gen(w * h, rng),
            u: gen(w * h / 4, rng),
            v: gen(w * h / 4, rng),
        }
    }

    /// The top-left `vw`×`vh` part as I420 bytes (what ffmpeg outputs for a cropped stream).
    pub fn visible_i420(&self, vw: usize, vh: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for r in 0..vh {
            out.extend_from_slice(&self.y[r * self.w..r * self.w + vw]);
        }
        for plane in [&self.u, &self.v] {
            for r in 0..vh.div_ceil(2) {
                let cw = self.w / 2;
                out.extend_from_slice(&plane[r * cw..r * cw + vw.div_ceil(2)]);
            }
        }
        out
    }
}

/// slice_data() of an I slice in CAVLC where every macroblock is I_PCM (7.3.5, mb_type 25).
pub fn write_pcm_slice_data<S: BitSink>(s: &mut S, pic: &Picture) -> Result<(), HeaderError> {
    let (mbw, mbh) = (pic.w / 16, pic.h / 16);
    for my in 0..mbh {
        for mx in 0..mbw {
            s.put_ue(25)?;
            s.align_zero()?; // pcm_alignment_zero_bit
            for r in 0..16 {
                for c in 0..16 {
                    s.put_bits(8, pic.y[(my * 16 + r) * pic.w + mx * 16 + c] as u32)?;
                }
            }
            for plane in [&pic.u, &pic.v] {
                for r in 0..8 {
                    for c in 0..8 {
                        s.put_bits(8, plane[(my * 8 + r) * (pic.w / 2) + mx * 8 + c] as u32)?;
                    }
                }
            }
        }
    }
    s.rbsp_trailing_bits()?;
    Ok(())
}

/// slice_data() of a P slice in CAVLC where every macroblock is skipped (mb_skip_run).
pub fn write_skip_slice_data<S: BitSink>(s: &mut S, mbs: u32) -> Result<(), HeaderError> {
    s.put_ue(mbs)?;
    s.rbsp_trailing_bits()?;
    Ok(())
}

/// One frame to put in a test stream.
pub struct Frame<'a> {
    pub params: H264EncodeParams,
    /// `Some` for I_PCM content; `None` for an all-skip P frame.
    pub pcm: Option<&'a Picture>,
    /// For CABAC P frames (trace only, not decodable): raw filler after the header.
    pub headers_only: bool,
}

pub struct StreamCfg {
    pub sps: H264Sps,
    pub extra: SpsExtra,
    pub pps: H264Pps,
    pub framing: StartCode,
    pub aud: bool,
}

pub fn write_stream(cfg: &StreamCfg, frames: &[Frame]) -> Vec<u8> {
    let mbs = (cfg.sps.pic_width_in_mbs_minus1 as u32 + 1)
        * (cfg.sps.pic_height_in_map_units_minus1 as u32 + 1);
    let mut buf = vec![0u8; 64 + frames.len() * (mbs as usize * 400 + 128)];
    let mut w = BitWriter::new(&mut buf);
    for (i, f) in frames.iter().enumerate() {
        let mut first = true;
        if cfg.aud {
            nal::write_aud(
                &mut w,
                cfg.framing,
                if f.params.slice_type == SLICE_TYPE_I {
                    0
                } else {
                    1
                },
            )
            .unwrap();
            first = false;
        }
        if i == 0 || f.params.is_idr() {
            write_sps(&mut w, cfg.framing, first, &cfg.sps, &cfg.extra).unwrap();
            write_pps(&mut w, cfg.framing, false, &cfg.pps).unwrap();
            first = false;
        }
        begin_slice_nal(&mut w, cfg.framing, first, &f.params).unwrap();
        write_slice_header(&mut w, &cfg.sps, &cfg.pps, &f.params, 0).unwrap();
        if f.headers_only {
            if cfg.pps.flags & PPS_FLAG_ENTROPY_CODING_MODE != 0 {
                w.align_with(true).unwrap(); // cabac_alignment_one_bit
            }
            w.put_bits(32, 0xdead_beef).unwrap();
            w.rbsp_trailing_bits().unwrap();
        } else if let Some(p) = f.pcm {
            write_pcm_slice_data(&mut w, p).unwrap();
        } else {
            write_skip_slice_data(&mut w, mbs).unwrap();
        }
        end_nal(&mut w).unwrap();
    }
    let n = w.finish().unwrap();
    buf.truncate(n);
    buf
}

fn tmp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("slenc-h264-oracle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// One NAL unit as printed by trace_headers: its title ("Slice Header", …) and its fields,
/// keyed by name (array fields keep their `[i]`).
#[derive(Debug)]
pub struct TracedUnit {
    pub title: String,
    pub fields: HashMap<String, i64>,
}

/// Runs trace_headers over the stream (units of the packets only, not the extradata copy).
pub fn trace_headers(stream: &[u8], name: &str) -> Vec<TracedUnit> {
    let path = tmp_path(name);
    std::fs::write(&path, stream).unwrap();
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-loglevel",
            "info",
            "-f",
            "h264",
            "-i",
        ])
        .arg(&path)
        .args(["-c:v", "copy", "-bsf:v", "trace_headers", "-f", "null", "-"])
        .output()
        .expect("ffmpeg is needed for the oracle tests");
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "ffmpeg failed:\n{text}");
    let mut units: Vec<TracedUnit> = Vec::new();
    let mut in_packets = false;
    let mut title = String::new();
    for line in text.lines() {
        let Some(idx) = line.find("[trace_headers @") else {
            continue;
        };
        let Some((_, rest)) = line[idx..].split_once("] ") else {
            continue;
        };
        if rest.starts_with("Packet:") {
            in_packets = true;
            continue;
        }
        if !in_packets {
            continue;
        }
        // "<bitpos> <name> <bits> = <value>", or a unit title.
        let mut it = rest.split_whitespace();
        let (Some(pos), Some(field)) = (it.next(), it.next()) else {
            continue;
        };
        if pos.parse::<u64>().is_err() {
            // A unit title, or a sub-structure title inside one (SEI messages): a unit only
            // starts at its forbidden_zero_bit.
            title = rest.trim().to_string();
            continue;
        }
        if field == "forbidden_zero_bit" {
            units.push(TracedUnit {
                title: title.clone(),
                fields: HashMap::new(),
            });
        }
        let Some(val) = rest
            .rsplit_once("= ")
            .and_then(|(_, v)| v.trim().parse::<i64>().ok())
        else {
            continue;
        };
        if let Some(u) = units.last_mut() {
            u.fields.insert(field.to_string(), val);
        }
    }
    units
}

/// Decodes with ffmpeg to raw I420 frames.
pub fn decode_i420(stream: &[u8], name: &str) -> Vec<u8> {
    let path = tmp_path(name);
    std::fs::write(&path, stream).unwrap();
    let out = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "h264",
            "-i",
        ])
        .arg(&path)
        .args(["-fps_mode", "passthrough", "-f", "rawvideo", "-"])
        .output()
        .expect("ffmpeg is needed for the oracle tests");
    let err = String::from_utf8_lossy(&out.stderr);
    // Muxer complaints about our random VUI timing (equal timestamps) are not decode errors.
    assert!(
        out.status.success() && !err.contains("[h264 @"),
        "ffmpeg decode failed: {err}"
    );
    out.stdout
}

/// slice_data() of a CAVLC P slice where every macroblock is P_L0_16x16 with ref_idx `k`,
/// zero motion vector difference and no residual (7.3.4/7.3.5): with all motion vectors zero
/// the prediction is zero too, so the decoded frame is exactly RefPicList0[k].
pub fn write_ref_copy_slice_data<S: BitSink>(
    s: &mut S,
    mbs: u32,
    k: u32,
    active_minus1: u32,
) -> Result<(), HeaderError> {
    for _ in 0..mbs {
        s.put_ue(0)?; // mb_skip_run
        s.put_ue(0)?; // mb_type P_L0_16x16
        match active_minus1 {
            0 => {}
            1 => s.put_bit(k == 0)?, // te(v) with cMax 1: inverted bit
            _ => s.put_ue(k)?,
        }
        s.put_se(0)?; // mvd_l0 x
        s.put_se(0)?; // mvd_l0 y
        s.put_ue(0)?; // coded_block_pattern me(v): inter codeNum 0 = cbp 0
    }
    s.rbsp_trailing_bits()?;
    Ok(())
}
