// SPDX-License-Identifier: GPL-2.0
//! End-to-end tests: every stream is decoded by ffmpeg (the oracle) and its output must equal
//! our reconstruction bit for bit, with no decoder complaints.

use super::testutil::*;
use super::*;
use std::format;
use std::vec::Vec;

const CAVLC: Entropy = Entropy::Cavlc;
const CABAC0: Entropy = Entropy::Cabac { init_idc: 0 };

#[test]
fn i_cavlc_single_mb() {
    let f = synthetic(1, 1, 1, 1);
    check_bitexact(&f, &Cfg::new(CAVLC, 26), "i_cavlc_single_mb");
}

#[test]
fn i_cavlc_qps() {
    let f = synthetic(4, 3, 1, 2);
    for qp in [0u8, 10, 26, 40, 51] {
        check_bitexact(&f, &Cfg::new(CAVLC, qp), &format!("i_cavlc_qp{qp}"));
    }
}

#[test]
fn i_cabac_qps() {
    let f = synthetic(4, 3, 1, 3);
    for qp in [0u8, 10, 26, 40, 51] {
        check_bitexact(&f, &Cfg::new(CABAC0, qp), &format!("i_cabac_qp{qp}"));
    }
}

#[test]
fn p_cavlc() {
    let f = synthetic(5, 4, 4, 4);
    for qp in [10u8, 26, 40] {
        check_bitexact(&f, &Cfg::new(CAVLC, qp), &format!("p_cavlc_qp{qp}"));
    }
}

#[test]
fn p_cabac_init_idc() {
    let f = synthetic(5, 4, 4, 5);
    for idc in 0..3u8 {
        check_bitexact(
            &f,
            &Cfg::new(Entropy::Cabac { init_idc: idc }, 26),
            &format!("p_cabac_idc{idc}"),
        );
    }
}

#[test]
fn natural_content_both_coders() {
    let f = lavfi("testsrc2=size=192x128:rate=25", 192, 128, 4);
    for e in [CAVLC, CABAC0] {
        for qp in [0u8, 26, 51] {
            check_bitexact(
                &f,
                &Cfg::new(e, qp),
                &format!("testsrc2_{qp}_{:?}", e == CAVLC),
            );
        }
    }
}

#[test]
fn deblocking_variants() {
    let f = lavfi("testsrc2=size=160x96:rate=25", 160, 96, 3);
    let variants: Vec<(u8, i8, i8, i8)> = std::vec![
        (1, 0, 0, 0),
        (2, 0, 0, 3),
        (0, 6, 6, -12),
        (0, -6, -6, 12),
        (0, 3, -2, 5)
    ];
    for (idc, a, b, cqp) in variants {
        for e in [CAVLC, Entropy::Cabac { init_idc: 1 }] {
            let mut c = Cfg::new(e, 30);
            c.deblock = Deblock {
                disable_idc: idc,
                alpha_c0_offset_div2: a,
                beta_offset_div2: b,
            };
            c.chroma_qp_index_offset = cqp;
            check_bitexact(&f, &c, &format!("deblock_{idc}_{a}_{b}_{cqp}"));
        }
    }
}

/// Odd macroblock counts and a one-macroblock picture, I and P, both coders.
#[test]
fn odd_sizes() {
    for (wm, hm) in [(1usize, 1usize), (3, 5), (7, 1), (1, 6), (9, 7)] {
        let f = synthetic(wm, hm, 3, (wm * 31 + hm) as u64);
        for e in [CAVLC, Entropy::Cabac { init_idc: 2 }] {
            check_bitexact(&f, &Cfg::new(e, 28), &format!("odd_{wm}x{hm}"));
        }
    }
}

/// Full HD (1920×1088, 120×68 MBs), few frames, both coders.
#[test]
fn full_hd() {
    let f = lavfi("testsrc2=size=1920x1088:rate=25", 1920, 1088, 2);
    for e in [CAVLC, CABAC0] {
        let enc = check_bitexact(&f, &Cfg::new(e, 32), "full_hd");
        assert!(enc.stats[1].skip_mbs + enc.stats[1].inter_mbs > enc.stats[1].intra_mbs);
    }
}

/// A natural-looking moving sequence at 640×480: quality, rate behaviour, CABAC gain.
#[test]
fn quality_and_rate() {
    // A zooming Mandelbrot set is detailed, smooth and moving, like camera content.
    let f = lavfi(
        "mandelbrot=size=640x480:rate=25:start_scale=2.5",
        640,
        480,
        4,
    );
    let mut sizes = Vec::new();
    for qp in [10u8, 20, 26, 32, 40, 51] {
        let e = encode_seq(&f, &Cfg::new(CAVLC, qp));
        let bytes: usize = e.stream.len();
        if qp == 26 {
            for (src, rec) in f.iter().zip(e.recon.iter()) {
                let p = psnr(src, rec);
                std::println!("qp 26 psnr {p:.2} dB");
                assert!(p >= 36.0, "PSNR {p:.2} dB at QP 26");
            }
            let cabac = check_bitexact(&f, &Cfg::new(CABAC0, qp), "mandel_cabac")
                .stream
                .len();
            let gain = 100.0 * (bytes as f64 - cabac as f64) / bytes as f64;
            std::println!("qp 26: CAVLC {bytes} B, CABAC {cabac} B, gain {gain:.1} %");
            assert!(gain >= 8.0, "CABAC gain only {gain:.1} %");
        }
        std::println!("qp {qp}: {bytes} bytes, stats {:?}", e.stats);
        sizes.push(bytes);
    }
    for w in sizes.windows(2) {
        assert!(w[1] < w[0], "size must fall as QP rises: {sizes:?}");
    }
    // A camera pan over the same kind of picture (every P macroblock moves by sub-samples).
    let pf = pan("mandelbrot=size=1600x1100:start_scale=1.5", 640, 480, 4);
    for e in [CAVLC, CABAC0] {
        let enc = check_bitexact(&pf, &Cfg::new(e, 26), "pan640_qp26");
        for (src, rec) in pf.iter().zip(enc.recon.iter()) {
            let p = psnr(src, rec);
            std::println!("pan qp 26 psnr {p:.2} dB");
            assert!(p >= 36.0, "pan PSNR {p:.2} dB at QP 26");
        }
    }
}

/// CPU time of the calling thread in seconds (utime + stime from /proc, 10 ms ticks), so the
/// benchmark is not distorted by other processes competing for the cores.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: std::vec::Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Speed of 640×480 P frames on panning content (release build):
/// `cargo test --release -p slenc-core bench_p_640x480 -- --ignored --nocapture`.
/// Reports wall-clock and thread-CPU frame rates. Instructions per macroblock are measured with
/// `SLENC_BENCH_FRAMES=6 valgrind --tool=callgrind --toggle-collect='*encode_slice*' <test
/// binary> bench_p_640x480 --ignored` minus the same with `SLENC_BENCH_FRAMES=1` (the I frames),
/// divided by the P macroblocks.
#[test]
#[ignore]
fn bench_p_640x480() {
    let n: usize = std::env::var("SLENC_BENCH_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(31);
    let f = pan("mandelbrot=size=1600x1100:start_scale=1.5", 640, 480, n);
    if let Ok(path) = std::env::var("SLENC_DUMP_YUV") {
        // The same frames as raw NV12, e.g. to compare against another encoder.
        let raw: std::vec::Vec<u8> = f
            .iter()
            .flat_map(|fr| fr.y.iter().chain(fr.uv.iter()).copied())
            .collect();
        std::fs::write(path, raw).unwrap();
    }
    for (name, e) in [("CAVLC", CAVLC), ("CABAC", CABAC0)] {
        let c = Cfg::new(e, 26);
        let (t0, c0) = (std::time::Instant::now(), thread_cpu_seconds());
        let enc = encode_seq(&f, &c);
        let (total, ctotal) = (t0.elapsed().as_secs_f64(), thread_cpu_seconds() - c0);
        // The I frame alone, to subtract it.
        let (t1, c1) = (std::time::Instant::now(), thread_cpu_seconds());
        let _ = encode_seq(&f[..1], &c);
        let (i_time, ci_time) = (t1.elapsed().as_secs_f64(), thread_cpu_seconds() - c1);
        let p_frames = (f.len() - 1) as f64;
        let p_time = (total - i_time).max(1e-9);
        let cp_time = (ctotal - ci_time).max(1e-9);
        // Instruction counters are not available here (perf_event is refused in containers):
        // report cycles per macroblock from the CPU clock, and see the callgrind recipe above
        // for instructions.
        let mhz: f64 = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("cpu MHz"))
                    .and_then(|l| l.split(':').nth(1))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0.0);
        let us_mb = cp_time * 1e6 / (p_frames * 1200.0);
        std::println!(
            "{name}: P frames {:.1} fps wall, {:.1} fps thread-CPU ({:.2} us/MB, ~{:.0} cycles/MB at {mhz:.0} MHz), {} bytes, last P {:?}",
            p_frames / p_time,
            p_frames / cp_time,
            us_mb,
            us_mb * mhz,
            enc.stream.len(),
            enc.stats.last().unwrap()
        );
    }
}

/// Panning natural-looking content: sub-sample motion, vectors reaching past the edges.
#[test]
fn pan_both_coders() {
    let f = pan("mandelbrot=size=800x600:start_scale=1.5", 320, 176, 6);
    for (e, qp) in [
        (CAVLC, 22u8),
        (CABAC0, 30),
        (Entropy::Cabac { init_idc: 1 }, 40),
        (CAVLC, 0),
        (CABAC0, 0),
    ] {
        let enc = check_bitexact(&f, &Cfg::new(e, qp), &format!("pan_{qp}"));
        let s = enc.stats[3];
        assert!(s.inter_mbs > s.intra_mbs, "{:?}", enc.stats);
    }
}

/// Full-range noise at extreme QPs: large levels (CAVLC escapes, CABAC Exp-Golomb suffixes,
/// clamped levels) and large residuals in P frames; flat frames for the opposite extreme.
#[test]
fn extremes() {
    let mut rng = crate::h264::testutil::Rng::new(99);
    let mut f = std::vec![
        Frame::new(4, 3),
        Frame::new(4, 3),
        Frame::new(4, 3),
        Frame::new(4, 3)
    ];
    for (i, fr) in f.iter_mut().enumerate() {
        for v in fr.y.iter_mut().chain(fr.uv.iter_mut()) {
            *v = match i {
                0 | 1 => (rng.next_u32() & 255) as u8,
                2 => 0,
                _ => 255,
            };
        }
    }
    for e in [CAVLC, CABAC0, Entropy::Cabac { init_idc: 2 }] {
        for qp in [0u8, 51] {
            check_bitexact(&f, &Cfg::new(e, qp), &format!("extremes_{qp}"));
        }
    }
}

/// Fast motion across picture edges (vectors pointing outside the picture, large mvd).
#[test]
fn fast_motion() {
    let big = pan("testsrc2=size=640x480", 128, 96, 2).remove(0);
    let mut frames = std::vec::Vec::new();
    for t in 0..5i32 {
        let mut f = Frame::new(8, 6);
        for y in 0..96i32 {
            for x in 0..128i32 {
                let sx = (x + 23 * t - 40).clamp(0, 127) as usize;
                let sy = (y - 17 * t + 30).clamp(0, 95) as usize;
                f.y[y as usize * 128 + x as usize] = big.y[sy * 128 + sx];
                if y < 48 && x < 64 {
                    let (cx, cy) = ((sx / 2).min(63), (sy / 2).min(47));
                    f.uv[y as usize * 128 + 2 * x as usize] = big.uv[cy * 128 + 2 * cx];
                    f.uv[y as usize * 128 + 2 * x as usize + 1] = big.uv[cy * 128 + 2 * cx + 1];
                }
            }
        }
        frames.push(f);
    }
    for e in [CAVLC, CABAC0] {
        for qp in [18u8, 34] {
            check_bitexact(&frames, &Cfg::new(e, qp), &format!("fast_motion_{qp}"));
        }
    }
}

/// A scene cut inside a P sequence: most macroblocks of that P frame are intra (I4x4 and
/// I16x16 next to inter and skipped ones), both coders.
#[test]
fn scene_cut_intra_in_p() {
    let mut f = lavfi("testsrc2=size=160x128:rate=25", 160, 128, 2);
    f.extend(pan("mandelbrot=size=400x300:start_scale=1.2", 160, 128, 3));
    for (e, qp) in [
        (CAVLC, 12u8),
        (CAVLC, 30),
        (CABAC0, 12),
        (Entropy::Cabac { init_idc: 1 }, 30),
    ] {
        let enc = check_bitexact(&f, &Cfg::new(e, qp), &format!("scene_cut_{qp}"));
        let s = enc.stats[2];
        assert!(s.intra_mbs > 40 && s.i4x4_mbs > 0, "{:?}", enc.stats);
    }
}

/// Random parameters, strides with garbage padding, and invalid inputs: never a panic; valid
/// inputs give the same stream and reconstruction whatever the stride; invalid ones an error.
#[test]
fn robustness() {
    use crate::h264::bits::{BitError, BitWriter};
    let mut rng = crate::h264::testutil::Rng::new(2024);
    for round in 0..40 {
        let wm = rng.range(1, 6) as usize;
        let hm = rng.range(1, 5) as usize;
        let frames = synthetic(wm, hm, 2, round);
        let p = SliceParams {
            slice_type: SliceType::I,
            qp: rng.range(0, 51) as u8,
            chroma_qp_index_offset: rng.range(-12, 12) as i8,
            entropy: if rng.bool() {
                Entropy::Cavlc
            } else {
                Entropy::Cabac {
                    init_idc: rng.range(0, 2) as u8,
                }
            },
            deblock: Deblock {
                disable_idc: rng.range(0, 2) as u8,
                alpha_c0_offset_div2: rng.range(-6, 6) as i8,
                beta_offset_div2: rng.range(-6, 6) as i8,
            },
            width_mbs: wm as u16,
            height_mbs: hm as u16,
        };
        // Encode frame 0 (I) then frame 1 (P) with compact and with padded strides.
        let pad = rng.range(1, 40) as usize;
        let mut results = std::vec::Vec::new();
        for stride_extra in [0usize, pad] {
            let (w, h) = (wm * 16, hm * 16);
            let stride = w + stride_extra;
            let widen = |f: &Frame| -> (std::vec::Vec<u8>, std::vec::Vec<u8>) {
                let mut y = std::vec![0xA5u8; stride * h];
                let mut uv = std::vec![0x5Au8; stride * h / 2];
                for r in 0..h {
                    y[r * stride..r * stride + w].copy_from_slice(&f.y[r * w..r * w + w]);
                }
                for r in 0..h / 2 {
                    uv[r * stride..r * stride + w].copy_from_slice(&f.uv[r * w..r * w + w]);
                }
                (y, uv)
            };
            let mut scratch = std::vec![MbInfo::default(); scratch_len(wm as u16, hm as u16)];
            let mut out = std::vec![0u8; 1 << 20];
            let mut recs = std::vec::Vec::new();
            let mut w_ = BitWriter::new(&mut out);
            for (i, f) in frames.iter().enumerate() {
                let (sy, suv) = widen(f);
                let src = Nv12 {
                    y: Plane { data: &sy, stride },
                    uv: Plane { data: &suv, stride },
                };
                let mut ry = std::vec![0u8; stride * h];
                let mut ruv = std::vec![0u8; stride * h / 2];
                let mut pp = p;
                pp.slice_type = if i == 0 { SliceType::I } else { SliceType::P };
                {
                    let refr: Option<&(std::vec::Vec<u8>, std::vec::Vec<u8>)> = recs.last();
                    let refv = refr.map(|(a, b)| Nv12 {
                        y: Plane { data: a, stride },
                        uv: Plane { data: b, stride },
                    });
                    let mut rec = Nv12Mut {
                        y: PlaneMut {
                            data: &mut ry,
                            stride,
                        },
                        uv: PlaneMut {
                            data: &mut ruv,
                            stride,
                        },
                    };
                    encode_slice(&pp, &src, refv.as_ref(), &mut rec, &mut scratch, &mut w_)
                        .unwrap();
                }
                // Keep only the picture area for the comparison.
                let cy: std::vec::Vec<u8> = (0..h)
                    .flat_map(|r| ry[r * stride..r * stride + w].to_vec())
                    .collect();
                let cuv: std::vec::Vec<u8> = (0..h / 2)
                    .flat_map(|r| ruv[r * stride..r * stride + w].to_vec())
                    .collect();
                results.push((cy, cuv));
                recs.push((ry, ruv));
            }
            let n = w_.bytes_written();
            results.push((out[..n].to_vec(), std::vec::Vec::new()));
        }
        let half = results.len() / 2;
        assert!(
            results[..half] == results[half..],
            "round {round}: padded stride changed the output"
        );

        // Invalid inputs are refused without panicking.
        let f = &frames[0];
        let mut scratch = std::vec![MbInfo::default(); scratch_len(wm as u16, hm as u16)];
        let mut out = std::vec![0u8; 1 << 16];
        let mut rec_f = Frame::new(wm, hm);
        let mut w_ = BitWriter::new(&mut out);
        let mut bad = p;
        bad.qp = 52;
        assert_eq!(
            encode_slice(
                &bad,
                &f.view(),
                None,
                &mut rec_f.view_mut(),
                &mut scratch,
                &mut w_
            ),
            Err(EncodeError::BadParams)
        );
        bad = p;
        bad.slice_type = SliceType::P;
        assert_eq!(
            encode_slice(
                &bad,
                &f.view(),
                None,
                &mut rec_f.view_mut(),
                &mut scratch,
                &mut w_
            ),
            Err(EncodeError::MissingReference)
        );
        bad = p;
        bad.width_mbs += 1;
        assert_eq!(
            encode_slice(
                &bad,
                &f.view(),
                None,
                &mut rec_f.view_mut(),
                &mut scratch,
                &mut w_
            ),
            Err(EncodeError::BadPlane)
        );
        let short = &f.y[..f.y.len() - 1];
        let src = Nv12 {
            y: Plane {
                data: short,
                stride: f.w,
            },
            uv: f.view().uv,
        };
        assert_eq!(
            encode_slice(&p, &src, None, &mut rec_f.view_mut(), &mut scratch, &mut w_),
            Err(EncodeError::BadPlane)
        );
        assert_eq!(
            encode_slice(
                &p,
                &f.view(),
                None,
                &mut rec_f.view_mut(),
                &mut scratch[..wm * hm - 1],
                &mut w_
            ),
            Err(EncodeError::ScratchTooSmall)
        );
        // A tiny output buffer: the sink's overflow comes back as an error.
        let mut tiny = [0u8; 16];
        let mut wt = BitWriter::new(&mut tiny);
        assert_eq!(
            encode_slice(
                &p,
                &f.view(),
                None,
                &mut rec_f.view_mut(),
                &mut scratch,
                &mut wt
            ),
            Err(EncodeError::Bits(BitError::Overflow))
        );
    }
}

/// The CABAC bin-count check: our streams report their bins, and the zero-word helper agrees
/// with the inequality of 7.4.2.10.
#[test]
fn cabac_bin_budget() {
    let f = synthetic(4, 3, 3, 11);
    for qp in [0u8, 26, 51] {
        let e = encode_seq(&f, &Cfg::new(CABAC0, qp));
        for s in &e.stats {
            // Every macroblock codes at least a decision bin (mb_type or mb_skip_flag) and the
            // end_of_slice_flag: all bins count, decisions included.
            assert!(s.cabac_bins >= 2 * 4 * 3, "qp {qp}: {} bins", s.cabac_bins);
            // Generous byte count: nothing needed.
            assert_eq!(cabac_zero_words_needed(s, s.cabac_bins, 12), 0);
        }
    }
    let s = SliceStats {
        cabac_bins: 96 * 10 + 3200,
        ..SliceStats::default()
    };
    // 3200 excess bins need 300 bytes (32/3 bins per byte): 100 bytes present → 67 words.
    assert_eq!(cabac_zero_words_needed(&s, 100, 10), 67);
    assert_eq!(cabac_zero_words_needed(&s, 300, 10), 0);
}

/// Randomised sweep against ffmpeg: sizes, QP, chroma offset, entropy mode and init_idc,
/// deblocking controls, content and GOP structure. `SLENC_SWEEP=n` runs n cases (default 12).
#[test]
fn random_sweep() {
    let n: u64 = std::env::var("SLENC_SWEEP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let mut rng = crate::h264::testutil::Rng::new(77);
    let srcs = [
        "testsrc2=",
        "mandelbrot=",
        "cellauto=rule=110:",
        "life=mold=10:ratio=0.3:",
        "smptehdbars=",
        "rgbtestsrc=",
    ];
    for case in 0..n {
        let wm = rng.range(1, 12) as usize;
        let hm = rng.range(1, 9) as usize;
        let nf = rng.range(2, 5) as usize;
        let src = srcs[rng.range(0, srcs.len() as i64 - 1) as usize];
        let frames = match rng.range(0, 2) {
            0 => synthetic(wm, hm, nf, case),
            1 => lavfi(&format!("{src}size=320x240"), wm * 16, hm * 16, nf),
            _ => pan(&format!("{src}size=640x480"), wm * 16, hm * 16, nf),
        };
        let entropy = if rng.bool() {
            CAVLC
        } else {
            Entropy::Cabac {
                init_idc: rng.range(0, 2) as u8,
            }
        };
        let mut c = Cfg::new(entropy, rng.range(0, 51) as u8);
        c.chroma_qp_index_offset = rng.range(-12, 12) as i8;
        c.deblock = Deblock {
            disable_idc: rng.range(0, 2) as u8,
            alpha_c0_offset_div2: rng.range(-6, 6) as i8,
            beta_offset_div2: rng.range(-6, 6) as i8,
        };
        c.intra_period = rng.range(0, 3) as usize;
        let what = format!(
            "sweep{case}_{wm}x{hm}_{src}_qp{}_{:?}_{:?}_{}",
            c.qp, c.entropy, c.deblock, c.chroma_qp_index_offset
        );
        check_bitexact(&frames, &c, &what);
    }
}

/// Two motions meeting inside macroblocks (boundaries at x = 40 and y = 24): P_8x8 with
/// different quadrant vectors, their prediction, mvd contexts and deblocking.
#[test]
fn split_motion_p8x8() {
    let big = pan("mandelbrot=size=640x480:start_scale=1.2", 160, 96, 1).remove(0);
    let tex = lavfi("testsrc2=size=160x96", 160, 96, 1).remove(0);
    let mut frames = std::vec::Vec::new();
    for t in 0..5usize {
        let mut f = Frame::new(6, 4);
        for y in 0..64 {
            for x in 0..96 {
                let v = if x < 40 || y < 24 {
                    big.y[(y + 2 * t) * 160 + x + 3 * t]
                } else {
                    tex.y[(y + 10 - t) * 160 + x + 20 - 2 * t]
                };
                f.y[y * 96 + x] = v;
            }
        }
        for y in 0..32 {
            for x in 0..48 {
                for c in 0..2 {
                    f.uv[y * 96 + 2 * x + c] = if x < 20 || y < 12 {
                        big.uv[(y + t) * 160 + 2 * (x + t) + c]
                    } else {
                        tex.uv[(y + 5) * 160 + 2 * (x + 10 - t) + c]
                    };
                }
            }
        }
        frames.push(f);
    }
    let mut p8 = 0;
    for (e, qp) in [
        (CAVLC, 20u8),
        (CABAC0, 20),
        (Entropy::Cabac { init_idc: 2 }, 34),
        (CAVLC, 34),
    ] {
        let enc = check_bitexact(&frames, &Cfg::new(e, qp), &format!("split_{qp}"));
        p8 += enc.stats.iter().map(|s| s.p8x8_mbs).sum::<u32>();
    }
    std::println!("P_8x8 macroblocks: {p8}");
    assert!(p8 > 0, "no P_8x8 macroblock was chosen");
}
