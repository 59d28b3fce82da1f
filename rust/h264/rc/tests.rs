// SPDX-License-Identifier: GPL-2.0
//! Rate control against a synthetic encoder: a frame of complexity `c` (bits at QP 12) coded at
//! `qp` takes `c · 2^(−(qp−12)/6)` bits, times some noise; I frames cost 3× a P frame.
use super::*;
use crate::h264::testutil::Rng;
use std::vec::Vec;

fn cfg(mode: RcMode, bitrate: u32, fps: u32) -> RcConfig {
    RcConfig {
        mode,
        min_qp: 0,
        max_qp: 51,
        bitrate,
        peak_bitrate: 0,
        cpb_bits: 0,
        fps_num: fps,
        fps_den: 1,
        frame_mbs: 8160,
    }
}

/// Bytes the synthetic encoder produces.
fn encode(c: f64, intra: bool, qp: u8, noise: f64) -> u32 {
    let c = if intra { 3.0 * c } else { c };
    let bits = c * (2f64).powf(-(qp as f64 - 12.0) / 6.0) * noise;
    (bits / 8.0).max(1.0) as u32
}

struct Trace {
    bytes: Vec<u32>,
    qps: Vec<u8>,
    cuts: Vec<bool>,
    overflows: u32,
}

/// Drives `rc` through `n` frames, an I frame every `gop`, with `code(frame, intra, qp)` as the
/// encoder (bytes of that frame at that QP). With `retry`, a frame rate control wants again is
/// coded once more at its retry QP, as the driver does: `code` then sees the same frame twice
/// and must code it from the state it had before the first attempt.
fn drive(
    rc: &mut RateControl,
    n: usize,
    gop: usize,
    retry: bool,
    mut code: impl FnMut(usize, bool, u8) -> u32,
) -> Trace {
    let mut t = Trace {
        bytes: Vec::new(),
        qps: Vec::new(),
        cuts: Vec::new(),
        overflows: 0,
    };
    for k in 0..n {
        let intra = k % gop == 0;
        let mut qp = rc.frame_qp(intra);
        let limit = rc.max_frame_bits();
        let mut b = code(k, intra, qp);
        if retry && rc.wants_retry(b) {
            qp = rc.retry_qp();
            b = code(k, intra, qp);
        }
        if (b as u64) * 8 > limit {
            t.overflows += 1;
            if std::env::var("RC_DEBUG").is_ok() {
                std::println!(
                    "overflow at {k}: intra {intra} qp {qp} bits {} limit {limit} fullness {}",
                    b as u64 * 8,
                    rc.buffer_fullness()
                );
                for j in k.saturating_sub(5)..k {
                    std::println!(
                        "  {j}: qp {} bytes {} cut {}",
                        t.qps[j],
                        t.bytes[j],
                        t.cuts[j]
                    );
                }
            }
        }
        rc.update(intra, qp, b);
        t.bytes.push(b);
        t.qps.push(qp);
        t.cuts.push(rc.scene_cut_detected());
    }
    assert_eq!(t.overflows, rc.overflows());
    t
}

/// Runs `n` frames of the textbook model, IDR every `gop`, with `complexity(frame)` and
/// ±`noise` relative noise.
fn run(
    rc: &mut RateControl,
    n: usize,
    gop: usize,
    noise: f64,
    seed: u64,
    complexity: impl Fn(usize) -> f64,
) -> Trace {
    let mut rng = Rng::new(seed);
    drive(rc, n, gop, false, |k, intra, qp| {
        let nz = 1.0 + noise * (2.0 * (rng.next_u32() as f64 / u32::MAX as f64) - 1.0);
        encode(complexity(k), intra, qp, nz)
    })
}

fn kbps(bytes: &[u32], fps: u32) -> f64 {
    bytes.iter().map(|&b| b as f64 * 8.0).sum::<f64>() / bytes.len() as f64 * fps as f64 / 1000.0
}

#[test]
fn cbr_steady_scene_hits_bitrate() {
    let mut rc = RateControl::new(cfg(RcMode::Cbr, 2_000_000, 30)).unwrap();
    let t = run(&mut rc, 900, 30, 0.1, 1, |_| 600_000.0);
    assert_eq!(t.overflows, 0);
    let rate = kbps(&t.bytes[300..], 30);
    assert!((rate - 2000.0).abs() < 2000.0 * 0.05, "rate {rate} kbit/s");
    // Steady QP on P frames once settled.
    let p: Vec<u8> = t.qps[300..]
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 30 != 0)
        .map(|(_, &q)| q)
        .collect();
    let (lo, hi) = (p.iter().min().unwrap(), p.iter().max().unwrap());
    assert!(hi - lo <= 4, "P QP range {lo}..{hi}");
}

#[test]
fn cbr_scene_cuts_no_overflow_fast_reaction() {
    let fps = 30;
    let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, fps)).unwrap();
    // ×6 harder at frame 100 (mid-GOP), back to easy at 250, with 20 % noise.
    let t = run(&mut rc, 400, 60, 0.2, 2, |k| {
        if (100..250).contains(&k) {
            1_800_000.0
        } else {
            300_000.0
        }
    });
    assert_eq!(t.overflows, 0);
    assert!(t.cuts[100], "cut detected on the first frame after it");
    assert!(t.cuts[250]);
    // Within 3 frames the P frames are back within 2× of the per-frame budget.
    let budget = 1_000_000.0 / fps as f64 / 8.0;
    for k in 103..110 {
        if k % 60 != 0 {
            assert!(
                (t.bytes[k] as f64) < 2.0 * budget,
                "frame {k}: {} bytes",
                t.bytes[k]
            );
        }
    }
    let rate = kbps(&t.bytes[120..240], fps);
    assert!((rate - 1000.0).abs() < 100.0, "hard scene rate {rate}");
}

#[test]
fn vbr_average_and_peak() {
    let fps = 25;
    let mut c = cfg(RcMode::Vbr, 1_500_000, fps);
    c.peak_bitrate = 3_000_000;
    let mut rc = RateControl::new(c).unwrap();
    // Scenes of varying difficulty, 4 s each.
    let t = run(&mut rc, 2000, 50, 0.1, 3, |k| {
        [200_000.0, 900_000.0, 500_000.0, 1_400_000.0][(k / 100) % 4]
    });
    assert_eq!(t.overflows, 0, "peak bucket never overflows");
    let rate = kbps(&t.bytes[200..], fps);
    assert!((rate - 1500.0).abs() < 150.0, "average {rate}");
    // No one-second window above the peak by more than the buffer allows (1 s of peak).
    for w in t.bytes.windows(fps as usize) {
        let bits: f64 = w.iter().map(|&b| b as f64 * 8.0).sum();
        assert!(bits < 2.0 * 3_000_000.0);
    }
}

#[test]
fn cpb_size_respected() {
    let mut c = cfg(RcMode::Cbr, 500_000, 30);
    c.cpb_bits = 500_000 / 2; // half a second
    let mut rc = RateControl::new(c).unwrap();
    let t = run(&mut rc, 600, 30, 0.15, 4, |k| {
        if k % 97 < 50 {
            100_000.0
        } else {
            400_000.0
        }
    });
    assert_eq!(t.overflows, 0);
    assert!(rc.buffer_fullness() <= 250_000);
}

#[test]
fn direct_and_constant_quality() {
    let mut c = cfg(RcMode::Direct { i_qp: 24, p_qp: 28 }, 0, 0);
    c.min_qp = 10;
    c.max_qp = 26;
    let mut rc = RateControl::new(c).unwrap();
    assert_eq!((rc.frame_qp(true), rc.frame_qp(false)), (24, 26));
    assert_eq!(rc.max_frame_bits(), u64::MAX);
    rc.update(false, 26, 123_456); // feedback is harmless
    assert_eq!(rc.frame_qp(false), 26);
    let mut last = 52;
    for q in 0..=100u8 {
        let mut rc = RateControl::new(cfg(RcMode::ConstantQuality { quality: q }, 0, 0)).unwrap();
        let qp = rc.frame_qp(false);
        assert!(qp <= last, "monotonic");
        last = qp;
    }
    assert_eq!(last, 0);
    let mut c = cfg(RcMode::ConstantQuality { quality: 0 }, 0, 0);
    c.max_qp = 40;
    assert_eq!(RateControl::new(c).unwrap().frame_qp(true), 40);
}

#[test]
fn config_errors() {
    assert_eq!(
        RateControl::new(cfg(RcMode::Cbr, 0, 30)).err(),
        Some(RcError::Config)
    );
    assert_eq!(
        RateControl::new(cfg(RcMode::Vbr, 1000, 0)).err(),
        Some(RcError::Config)
    );
    let mut c = cfg(RcMode::Cbr, 1000, 30);
    c.min_qp = 40;
    c.max_qp = 30;
    assert_eq!(RateControl::new(c).err(), Some(RcError::Config));
    assert_eq!(
        RateControl::new(cfg(RcMode::Direct { i_qp: 52, p_qp: 0 }, 0, 0)).err(),
        Some(RcError::Config)
    );
}

#[test]
fn retry_raises_qp() {
    let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
    let q = rc.frame_qp(true);
    assert_eq!(rc.retry_qp(), (q + 6).min(51));
}

#[test]
fn reconfigure_bitrate_mid_stream() {
    let mut rc = RateControl::new(cfg(RcMode::Cbr, 4_000_000, 30)).unwrap();
    let t1 = run(&mut rc, 300, 30, 0.1, 6, |_| 800_000.0);
    rc.reconfigure(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
    let t2 = run(&mut rc, 600, 30, 0.1, 7, |_| 800_000.0);
    assert!((kbps(&t1.bytes[150..], 30) - 4000.0).abs() < 200.0);
    assert!((kbps(&t2.bytes[300..], 30) - 1000.0).abs() < 50.0);
    assert_eq!(t2.overflows, 0);
}

/// Property: random bitrates, frame rates, buffer sizes and scenes whose complexity changes by
/// at most 2× from frame to frame (half of SURPRISE, leaving room for the model's lag and the
/// noise) never overflow the buffer (CBR and VBR), as long
/// as the QP range is not the limit.
#[test]
fn prop_never_overflows() {
    // 99 first; 12 and 16 found I frames far over a slow P model's drift.
    for seed in [99, 12, 16] {
        let mut rng = Rng::new(seed);
        for case in 0..300 {
            let fps = rng.range(5, 60) as u32;
            let bitrate = rng.range(200_000, 20_000_000) as u32;
            let vbr = rng.bool();
            let mut c = cfg(if vbr { RcMode::Vbr } else { RcMode::Cbr }, bitrate, fps);
            c.cpb_bits = if rng.bool() {
                0
            } else {
                (bitrate as i64 * rng.range(25, 200) / 100) as u32
            };
            c.peak_bitrate = if vbr {
                (bitrate as i64 * rng.range(100, 300) / 100) as u32
            } else {
                0
            };
            let mut rc = RateControl::new(c).unwrap();
            let per_frame = bitrate as f64 / fps as f64;
            // Complexities keeping the needed QP well inside 0..51.
            let mut cx = per_frame * 2.0;
            let mut scene = Vec::new();
            for _ in 0..500 {
                let f = (2f64).powf((rng.next_u32() as f64 / u32::MAX as f64) * 2.0 - 1.0); // ×0.5..×2
                cx = (cx * f).clamp(per_frame * 0.5, per_frame * 10.0);
                scene.push(cx);
            }
            let gop = rng.range(1, 120) as usize;
            let t = run(&mut rc, 500, gop, 0.05, case, |k| scene[k]);
            assert_eq!(
                t.overflows, 0,
                "seed {seed} case {case}: fps {fps} bitrate {bitrate} vbr {vbr} gop {gop}"
            );
        }
    }
}

/// `cargo test -p slenc-core rc_benchmark -- --ignored --nocapture` prints how close each mode
/// gets to its target and how steady the QP is.
#[test]
#[ignore]
fn rc_benchmark() {
    use std::println;
    let scenes =
        |k: usize| [300_000.0, 1_200_000.0, 600_000.0, 2_400_000.0, 150_000.0][(k / 150) % 5];
    for (name, mode) in [("CBR", RcMode::Cbr), ("VBR", RcMode::Vbr)] {
        for &(bitrate, fps) in &[(500_000u32, 30u32), (2_000_000, 30), (8_000_000, 60)] {
            let mut c = cfg(mode, bitrate, fps);
            c.peak_bitrate = bitrate * 2;
            let mut rc = RateControl::new(c).unwrap();
            let start = std::time::Instant::now();
            let t = run(&mut rc, 3000, 60, 0.15, 11, |k| {
                scenes(k) * bitrate as f64 / 2_000_000.0
            });
            let ns = start.elapsed().as_nanos() as f64 / 3000.0;
            let rate = kbps(&t.bytes, fps);
            let mean_qp = t.qps.iter().map(|&q| q as f64).sum::<f64>() / t.qps.len() as f64;
            let jitter = t
                .qps
                .windows(2)
                .map(|w| (w[1] as f64 - w[0] as f64).abs())
                .sum::<f64>()
                / t.qps.len() as f64;
            println!(
                "{name} {:>5} kbit/s @{fps}: got {:>8.1} kbit/s ({:+.2} %), mean QP {:.1}, |ΔQP| {:.2}/frame, overflows {}, {:.0} ns/frame",
                bitrate / 1000, rate, (rate / (bitrate as f64 / 1000.0) - 1.0) * 100.0, mean_qp, jitter, t.overflows, ns
            );
        }
    }
}

#[test]
fn extreme_frame_rates_do_not_overflow() {
    for (num, den) in [(1u32, u32::MAX), (u32::MAX, 1), (1, 1)] {
        let mut c = cfg(RcMode::Vbr, u32::MAX, 1);
        c.fps_num = num;
        c.fps_den = den;
        c.peak_bitrate = u32::MAX;
        let mut rc = RateControl::new(c).unwrap();
        for k in 0..50 {
            let q = rc.frame_qp(k % 7 == 0);
            rc.update(k % 7 == 0, q, if k % 2 == 0 { u32::MAX } else { 0 });
        }
    }
}

#[test]
fn config_from_controls() {
    let d = RcControls::default();
    let c = RcConfig::from_controls(&d, 1, 30, 100);
    assert_eq!(c.mode, RcMode::Direct { i_qp: 24, p_qp: 28 });
    assert_eq!((c.min_qp, c.max_qp, c.fps_num, c.fps_den), (0, 51, 30, 1));
    assert!(RateControl::new(c).is_ok());
    // GStreamer's CBR with bitrate = G_MAXUINT and its QP range 10..51 (uapi.md §5, §8.5).
    let g = RcControls {
        frame_rc_enable: true,
        bitrate: u32::MAX,
        min_qp: 10,
        ..d
    };
    let c = RcConfig::from_controls(&g, 1001, 30000, 8160);
    assert_eq!(c.mode, RcMode::Cbr);
    assert_eq!((c.fps_num, c.fps_den, c.min_qp), (30000, 1001, 10));
    assert!(RateControl::new(c).is_ok());
    // CQ, VBR, odd values.
    let q = RcControls {
        frame_rc_enable: true,
        bitrate_mode: 2,
        constant_quality: 500,
        min_qp: 60,
        max_qp: 20,
        ..d
    };
    let c = RcConfig::from_controls(&q, 0, 0, 1);
    assert_eq!(c.mode, RcMode::ConstantQuality { quality: 100 });
    assert_eq!((c.min_qp, c.max_qp, c.fps_num), (20, 51, 30));
    let v = RcControls {
        frame_rc_enable: true,
        bitrate_mode: 0,
        cpb_size_kb: 250,
        ..d
    };
    let c = RcConfig::from_controls(&v, 1, 25, 1);
    assert_eq!((c.mode, c.cpb_bits), (RcMode::Vbr, 2_000_000));
    let u = RcControls {
        frame_rc_enable: true,
        bitrate_mode: 9,
        ..d
    };
    assert_eq!(RcConfig::from_controls(&u, 1, 25, 1).mode, RcMode::Cbr);
}

#[test]
fn cbr_windows_with_known_period() {
    // Every window as long as the I period spends the period's share, once settled, whether
    // the period is configured or only seen in the stream.
    for hint in [30, 0] {
        let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
        rc.set_i_period_hint(hint);
        let t = run(&mut rc, 600, 30, 0.2, 11, |k| {
            if k < 300 {
                400_000.0
            } else {
                700_000.0
            }
        });
        assert_eq!(t.overflows, 0);
        for (i, w) in t.bytes.windows(30).enumerate().skip(60) {
            let kbit: f64 = w.iter().map(|&b| b as f64 * 8.0 / 1000.0).sum();
            // Within 10 %, and within 20 % for the windows that see the scene change.
            let tolerance = if (271..360).contains(&i) {
                200.0
            } else {
                100.0
            };
            assert!(
                (kbit - 1000.0).abs() < tolerance,
                "hint {hint}: window at {i}: {kbit:.0} kbit"
            );
        }
    }
}

#[test]
fn retry_only_far_above_target_and_once() {
    let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
    run(&mut rc, 60, 30, 0.1, 12, |_| 300_000.0);
    let qp = rc.frame_qp(false);
    let (_, _, target) = rc.pending.unwrap();
    let within = ((target * RETRY_FACTOR) >> 3) as u32;
    assert!(!rc.wants_retry(within), "at the limit");
    assert!(rc.wants_retry(within + 1));
    assert_eq!(rc.retry_qp(), qp + 6);
    assert!(!rc.wants_retry(u32::MAX), "once per frame");
    rc.update(false, qp + 6, within);
    // A new frame may be retried again, the further over its target the coarser: 16x is
    // three octaves over twice the target, 18 QP. QP-driven modes never are.
    let qp = rc.frame_qp(false);
    let (_, _, target) = rc.pending.unwrap();
    assert!(rc.wants_retry((target * 16 / 8) as u32));
    assert_eq!(rc.retry_qp(), (qp + 18).min(51));
    let mut d = RateControl::new(cfg(RcMode::Direct { i_qp: 20, p_qp: 20 }, 0, 0)).unwrap();
    d.frame_qp(false);
    assert!(!d.wants_retry(u32::MAX));
}

/// A synthetic encoder with what natural content adds to the textbook model: the reference
/// holds detail down to some QP (`held`). A P frame finer than that pays for refining it
/// (×1.7 per step, up to three), one coarser is mostly skipped (÷2.5 per step, up to two) and
/// leaves the detail in place, which then fades half-way towards the coarser QP per frame.
/// Intra frames (I frames, cuts) cost 8× a P frame and replace all of it.
struct Natural {
    held: f64,
    rng: Rng,
}

impl Natural {
    fn new(seed: u64) -> Self {
        Self {
            held: 51.0,
            rng: Rng::new(seed),
        }
    }

    /// Bytes of a frame of complexity `c` (P frame bits at QP 12, steady), ±10 % noise.
    fn code(&mut self, c: f64, intra: bool, qp: u8) -> u32 {
        let q = qp as f64;
        let nz = 0.9 + 0.2 * (self.rng.next_u32() as f64 / u32::MAX as f64);
        let mut bits = c * (2f64).powf(-(q - 12.0) / 6.0) * nz;
        if intra {
            bits *= 8.0;
            self.held = q;
        } else if q < self.held {
            bits *= (1.7f64).powf((self.held - q).min(3.0));
            self.held = q;
        } else {
            bits /= (2.5f64).powf((q - self.held).min(2.0));
            self.held += (q - self.held) / 2.0;
        }
        (bits / 8.0).max(1.0) as u32
    }
}

/// Runs `n` frames of [`Natural`] content of complexity `c(frame)` with an I frame every
/// `gop` (the I period hinted) and a cut at `cut` (an intra-coded P frame), re-encoding a frame
/// when rate control asks for it as the driver does.
fn run_natural(
    rc: &mut RateControl,
    seed: u64,
    n: usize,
    gop: usize,
    cut: usize,
    c: impl Fn(usize) -> f64,
) -> Trace {
    rc.set_i_period_hint(gop as u32);
    let mut enc = Natural::new(seed);
    // (frame, the reference's detail before its first attempt): a re-encode starts from there.
    let mut first: Option<(usize, f64)> = None;
    drive(rc, n, gop, true, |k, intra, qp| {
        match first {
            Some((f, held)) if f == k => enc.held = held,
            _ => first = Some((k, enc.held)),
        }
        enc.code(c(k), intra || k == cut, qp)
    })
}

#[test]
fn scene_cuts_only_on_intra_coded_frames() {
    // Natural content in steady state steps its QP now and then; only the intra-coded P
    // frame at the cut counts as a scene change.
    for seed in 1..=4 {
        let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
        let t = run_natural(&mut rc, seed, 330, 30, 165, |_| 600_000.0);
        // (A frame after the cut may also count while the QP finds the new scene.)
        let cuts: Vec<usize> = (0..330)
            .filter(|&k| k % 30 != 0 && !(166..195).contains(&k) && t.cuts[k])
            .collect();
        assert_eq!(cuts, [165], "seed {seed}");
    }
}

#[test]
fn p_qp_steady_on_natural_content() {
    // Each QP step makes the next frame 2-4x off the model; a model that follows that much
    // steps the QP back and forth (at half the pair error: 100-140 changes here).
    for seed in 1..=4 {
        let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
        let t = run_natural(&mut rc, seed, 330, 30, 330, |_| 600_000.0);
        // P frames after the first second, but for the first after each I frame.
        let changes = (61..330)
            .filter(|&k| k % 30 > 1 && t.qps[k] != t.qps[k - 1])
            .count();
        assert!(changes < 70, "seed {seed}: {changes} P QP changes");
        let kbit: f64 = kbps(&t.bytes[60..], 30);
        assert!(
            (kbit - 1000.0).abs() < 50.0,
            "seed {seed}: {kbit:.0} kbit/s"
        );
    }
}

#[test]
fn no_p_qp_jump_after_an_i_frame() {
    // The buffer keeps the I frames a few QP coarser than the P frames; the first P frame
    // after one refines it and comes out several times its target. Re-encoding it 6 QP
    // coarser made the P QP jump and take a second to come back.
    for seed in 1..=3 {
        let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
        let t = run_natural(&mut rc, seed, 330, 30, 330, |k| {
            if k < 150 {
                600_000.0
            } else {
                150_000.0
            }
        });
        for k in (30..330).step_by(30) {
            let (before, i, after) = (t.qps[k - 1], t.qps[k], t.qps[k + 1]);
            assert!(
                after <= before + 1 && after + 6 >= i,
                "seed {seed}: P {before}, I {i}, P {after} at {k}"
            );
        }
    }
}

#[test]
fn first_p_frame_moves_the_model_half_way() {
    // A P frame right after the first I frame has a fresh intra reference and comes out
    // smaller than the P frames after it: 16x under the prior moves the model 8x, not 16x.
    let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
    let q = rc.frame_qp(true);
    rc.update(true, q, 20_000);
    let prior = rc.log_p;
    let q = rc.frame_qp(false);
    let bytes = (rc.predict(false, q) >> 7) as u32; // 1/16 of the prediction, in bytes
    rc.update(false, q, bytes);
    assert!(
        (rc.log_p - (prior - 2 * Q8)).abs() <= 4,
        "{} {}",
        rc.log_p,
        prior
    );
}

#[test]
fn first_p_frame_not_coarser_than_the_i_frame() {
    // The prior (P = a third of I) is far off for content whose P frames are cheap: the
    // first P frame came out at QP 48 after an I frame at 35, mostly skipped, and its size
    // then set the model for a sawtooth.
    let mut c = cfg(RcMode::Cbr, 1_000_000, 30);
    c.frame_mbs = 1200;
    let mut rc = RateControl::new(c).unwrap();
    let t = run_natural(&mut rc, 1, 60, 30, 60, |_| 600_000.0);
    assert!(t.qps[1] <= t.qps[0], "I {} then P {}", t.qps[0], t.qps[1]);
    assert!(
        t.qps[2..30].iter().all(|&q| q + 6 >= t.qps[1]),
        "{:?}",
        &t.qps[..30]
    );
}

#[test]
fn cbr_recovers_fast_from_a_cut_to_cheaper_content() {
    // 8x cheaper from a P frame in the middle of a period: the QP must come down ~17 steps.
    // At one step per frame (with a model following the old scene) it took the rest of the
    // period and the next, and the 1-s windows after the cut came out 25-33 % short.
    for (c0, c1) in [(600_000.0, 80_000.0), (300_000.0, 40_000.0)] {
        for seed in 1..=3 {
            let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
            let t = run_natural(
                &mut rc,
                seed,
                330,
                30,
                165,
                |k| if k < 165 { c0 } else { c1 },
            );
            assert_eq!(t.overflows, 0);
            let rate = kbps(&t.bytes[170..200], 30);
            assert!(
                (rate - 1000.0).abs() < 80.0,
                "{c1}, seed {seed}: {rate:.0} kbit/s"
            );
            for (k, e) in window_errors(&t.bytes, 1_000_000, 30)
                .iter()
                .enumerate()
                .skip(166)
                .take(35)
            {
                assert!(e.abs() < 0.12, "{c1}, seed {seed}: window at {k}: {e:+.3}");
            }
        }
    }
}

#[test]
fn half_of_a_cut_frame_is_charged_to_its_period() {
    // A frame on a cut is an I frame the period did not plan: paying all of it back in the
    // period leaves every 1-s window after the cut short by all of it.
    let mut rc = RateControl::new(cfg(RcMode::Cbr, 1_000_000, 30)).unwrap();
    run(&mut rc, 45, 30, 0.05, 13, |_| 300_000.0);
    let qp = rc.frame_qp(false);
    let (_, _, target) = rc.pending.unwrap();
    let bits = rc.predict(true, qp) * 2;
    let spent = rc.period_spent;
    rc.update(false, qp, (bits / 8) as u32);
    assert!(rc.scene_cut_detected());
    let charged = rc.period_spent - spent;
    let want = target + (bits / 8 * 8 - target) / 2;
    assert!(
        charged.abs_diff(want) <= 8,
        "{charged} of {bits}, target {target}"
    );
}

fn window_errors(bytes: &[u32], bitrate: u32, fps: usize) -> Vec<f64> {
    bytes
        .windows(fps)
        .map(|w| w.iter().map(|&b| b as f64 * 8.0).sum::<f64>() / bitrate as f64 - 1.0)
        .collect()
}
