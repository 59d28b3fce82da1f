// SPDX-License-Identifier: GPL-2.0
//! Benchmark 1: rate control on natural-looking content, through the real pipeline on the host
//! (H264Session → cedrus backend → VE register model → software slice encoder).
//!
//! Content (ffmpeg lavfi, cached in target/tmp): 330 frames of 640×480 at 30 fps, a slow
//! zoom and pan over a Mandelbrot still (frames 0..164), then a hard scene cut to a slow pan
//! over a blurred "life" texture (165..329, a P frame in the middle of a GOP), both with mild
//! temporal grain like a camera's. Stateful-node settings: GOP 30 (IDR every second), Main
//! profile, CABAC.
//!
//! Modes: CBR 1 Mbit/s (NAL HRD + SEI), VBR 1 Mbit/s average / 2 Mbit/s peak (NAL HRD + SEI),
//! CQ 50, direct QP (I 26 / P 30). Every stream is decoded by `ffmpeg -v error` (must be
//! silent), the decoded frames must equal the model's reconstructions bit for bit, and the
//! slice QPs are read back from the stream with ffmpeg's `trace_headers`.

mod common;

use common::*;
use slenc_core::encoder::session::{
    CodingSettings, FrameInput, GopSettings, H264Session, HeaderMode,
};
use slenc_core::h264::rc::RcControls;
use slenc_core::h264::state::{Rect, SourceFormat, StreamOptions};
use slenc_core::h264::uapi::BitrateMode;
use slenc_core::hw::cedrus::backend::{CAPS, LIMITS};
use std::time::Instant;

const W: u32 = 640;
const H: u32 = 480;
const FPS: u32 = 30;
const FRAMES: u32 = 330;
const CUT: u32 = 165;
const TARGET: u32 = 1_000_000;
const PEAK: u32 = 2_000_000;
const CQ: u32 = 50;
const I_QP: u32 = 26;
const P_QP: u32 = 30;

fn clip() -> Vec<u8> {
    let a = "mandelbrot=s=1600x1200:start_scale=0.02:maxiter=600:end_pts=1,trim=end_frame=1";
    let b = "life=s=480x360:mold=10:r=1:ratio=0.35:death_color=#3a5f0b:life_color=#e0c080:\
             mold_color=#204060,trim=start_frame=40:end_frame=41";
    let graph = format!(
        "[0:v]zoompan=z='1+0.0015*on':x='iw/2-iw/zoom/2+on*0.9':y='ih/2-ih/zoom/2+on*0.4':\
         d={CUT}:s={W}x{H}:fps={FPS},setpts=N/{FPS}/TB[a];\
         [1:v]scale=1920x1440:flags=bicubic,gblur=sigma=3,zoompan=z='1.2-0.001*on':\
         x='on*1.6':y='ih/2-ih/zoom/2-on*0.3':d={}:s={W}x{H}:fps={FPS},setpts=N/{FPS}/TB[b];\
         [a][b]concat=n=2:v=1,noise=alls=3:allf=t,format=nv12[out]",
        FRAMES - CUT
    );
    ffmpeg_clip("natural", &[a, b], &graph, W, H, FRAMES)
}

#[derive(Clone, Copy)]
enum Mode {
    Cbr,
    Vbr,
    Cq,
    Direct,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Cbr => "CBR",
            Mode::Vbr => "VBR",
            Mode::Cq => "CQ",
            Mode::Direct => "QP",
        }
    }
    fn controls(self) -> RcControls {
        let base = RcControls {
            bitrate: TARGET,
            bitrate_peak: PEAK,
            i_frame_qp: I_QP,
            p_frame_qp: P_QP,
            constant_quality: CQ,
            ..RcControls::default()
        };
        let rc = |m: BitrateMode| RcControls {
            frame_rc_enable: true,
            bitrate_mode: m as u32,
            ..base
        };
        match self {
            Mode::Cbr => rc(BitrateMode::Cbr),
            Mode::Vbr => rc(BitrateMode::Vbr),
            Mode::Cq => rc(BitrateMode::Cq),
            Mode::Direct => base,
        }
    }
}

struct Run {
    bytes: Vec<u32>,
    qp: Vec<u8>,
    intra: Vec<bool>,
    idr: Vec<bool>,
    stream: Vec<u8>,
    recon: Vec<u64>,
    /// Declared NAL HRD: rate, CPB size, first initial_cpb_removal_delay (90 kHz).
    hrd: Option<(u32, u32, u32)>,
    rc_overflows: u32,
    secs: f64,
    cpu_secs: f64,
    /// Frames the rate controller took for a scene change (size far off its model).
    rc_cuts: Vec<usize>,
}

fn encode(mode: Mode, clip: &[u8]) -> Run {
    let src = SourceFormat {
        width: W,
        height: H,
        crop: Rect {
            left: 0,
            top: 0,
            width: W,
            height: H,
        },
        timeperframe_num: 1,
        timeperframe_den: FPS,
        ..SourceFormat::default()
    };
    let rate_driven = matches!(mode, Mode::Cbr | Mode::Vbr);
    let input = FrameInput {
        parameter_sets: None,
        params: None,
        coding: CodingSettings {
            profile_idc: 77,
            cabac: true,
            ..CodingSettings::default()
        },
        gop: GopSettings {
            gop_size: FPS,
            ..GopSettings::default()
        },
        rc: mode.controls(),
        hrd: rate_driven,
        opts: StreamOptions::default(),
        header_mode: HeaderMode::JoinedWith1stFrame,
    };
    let mut s = H264Session::with_limits(&CAPS, &LIMITS, &src);
    let mut rig = Rig::new(W, H, W * H * 2);
    let fsize = (W * H * 3 / 2) as usize;
    let mut r = Run {
        bytes: vec![],
        qp: vec![],
        intra: vec![],
        idr: vec![],
        stream: vec![],
        recon: vec![],
        hrd: None,
        rc_overflows: 0,
        secs: 0.0,
        cpu_secs: 0.0,
        rc_cuts: vec![],
    };
    let t = Instant::now();
    let cpu = cpu_ns();
    for i in 0..FRAMES as usize {
        rig.load(&clip[i * fsize..(i + 1) * fsize]);
        let c = rig
            .frame(&mut s, &input, true)
            .unwrap_or_else(|e| panic!("{} frame {i}: {e:?}", mode.name()));
        if i == 0 && rate_driven {
            let (rate, cpb) = s.rate_control().unwrap().hrd_rate_and_size();
            r.hrd = Some((rate, cpb, c.plan.state.initial_cpb_removal_delay_90k));
        }
        if s.rate_control().is_some_and(|rc| rc.scene_cut_detected()) {
            r.rc_cuts.push(i);
        }
        r.bytes.push(c.au.len() as u32);
        r.qp.push(c.plan.qp);
        r.intra.push(c.plan.is_intra());
        r.idr.push(c.plan.idr);
        r.stream.extend_from_slice(&c.au);
        r.recon.push(c.recon_hash);
    }
    r.secs = t.elapsed().as_secs_f64();
    r.cpu_secs = (cpu_ns() - cpu) as f64 / 1e9;
    r.rc_overflows = s.rate_control().map_or(0, |rc| rc.overflows());
    r
}

/// Annex C check of the declared NAL HRD, from the first buffering period: bits arrive at
/// `rate` from t = 0 (CBR: continuously; VBR: an access unit starts arriving no earlier than
/// its removal time minus the initial delay), access unit n is removed at init + n/fps.
/// Returns (late access units = CPB underflows, CPB overflows, lowest and highest
/// occupancy just before a removal, in bits).
fn hrd_check(bytes: &[u32], rate: u32, cpb: u32, init_90k: u32, cbr: bool) -> (u32, u32, f64, f64) {
    let r = rate as f64;
    let init = init_90k as f64 / 90_000.0;
    let tr = |n: usize| init + n as f64 / FPS as f64;
    let mut ai = vec![0.0; bytes.len()];
    let mut af = vec![0.0; bytes.len()];
    let mut prev_af = 0.0f64;
    for (n, &b) in bytes.iter().enumerate() {
        let start = if cbr || n == 0 {
            prev_af
        } else {
            prev_af.max(tr(n) - init)
        };
        ai[n] = start;
        af[n] = start + (b as f64 * 8.0) / r;
        prev_af = af[n];
    }
    let (mut late, mut over) = (0, 0);
    let (mut lo, mut hi) = (f64::MAX, 0.0f64);
    for (n, &a_n) in af.iter().enumerate() {
        let t = tr(n);
        if a_n > t + 1e-9 {
            late += 1;
        }
        let mut occ = 0.0;
        for k in n..bytes.len() {
            if ai[k] >= t {
                break;
            }
            occ += ((t - ai[k]) * r).min(bytes[k] as f64 * 8.0);
        }
        if occ > cpb as f64 + 1e-6 {
            over += 1;
        }
        lo = lo.min(occ);
        hi = hi.max(occ);
    }
    (late, over, lo, hi)
}

/// Bits in every window of `FPS` consecutive frames (one second).
fn windows(bytes: &[u32]) -> Vec<u64> {
    bytes
        .windows(FPS as usize)
        .map(|w| w.iter().map(|&b| b as u64 * 8).sum())
        .collect()
}

fn rate_driven(m: Mode) -> bool {
    matches!(m, Mode::Cbr | Mode::Vbr)
}

fn pct(v: f64) -> String {
    format!("{:+.2} %", v * 100.0)
}

fn main() {
    let args = Args::parse();
    let only = args.value("mode").map(str::to_ascii_uppercase);
    println!("== rc_natural: rate control on natural content, {W}x{H}@{FPS}, {FRAMES} frames, scene cut at {CUT}");
    let clip = clip();
    println!("   ({})", load());
    let secs = FRAMES as f64 / FPS as f64;
    let mut all_ok = true;
    for mode in [Mode::Cbr, Mode::Vbr, Mode::Cq, Mode::Direct] {
        if only.as_deref().is_some_and(|m| m != mode.name()) {
            continue;
        }
        let name = mode.name();
        let r = encode(mode, &clip);
        let total: u64 = r.bytes.iter().map(|&b| b as u64 * 8).sum();
        let rate = total as f64 / secs;
        let qmin = *r.qp.iter().min().unwrap();
        let qmax = *r.qp.iter().max().unwrap();
        let pmin =
            r.qp.iter()
                .zip(&r.intra)
                .filter(|(_, &i)| !i)
                .map(|(q, _)| *q)
                .min();
        let pmax =
            r.qp.iter()
                .zip(&r.intra)
                .filter(|(_, &i)| !i)
                .map(|(q, _)| *q)
                .max();
        println!(
            "\n-- {name}: {} frames ({} IDR) in {:.1} s = {:.1} fps ({:.1} fps on-CPU time) \
             through session+backend+VE model",
            FRAMES,
            r.idr.iter().filter(|&&b| b).count(),
            r.secs,
            FRAMES as f64 / r.secs,
            FRAMES as f64 / r.cpu_secs
        );
        println!(
            "   average bitrate {:.1} kbit/s, QP {qmin}..{qmax} (P frames {}..{})",
            rate / 1000.0,
            pmin.unwrap(),
            pmax.unwrap()
        );
        let per_sec: Vec<String> = r
            .bytes
            .chunks(FPS as usize)
            .map(|c| {
                format!(
                    "{:.0}",
                    c.iter().map(|&b| b as f64 * 8.0).sum::<f64>() / 1000.0
                )
            })
            .collect();
        println!("   kbit per second: {}", per_sec.join(" "));
        if rate_driven(mode) {
            let swing: f64 =
                r.qp.windows(2)
                    .zip(r.intra.windows(2))
                    .filter(|(_, i)| !i[0] && !i[1])
                    .map(|(q, _)| (q[1] as f64 - q[0] as f64).abs())
                    .sum::<f64>()
                    / r.intra.windows(2).filter(|i| !i[0] && !i[1]).count() as f64;
            println!(
                "   RC: mean |QP change| between consecutive P frames {swing:.2}; \
                 {} frames taken for scene changes (real cut: {CUT}): {:?}{}",
                r.rc_cuts.len(),
                &r.rc_cuts[..r.rc_cuts.len().min(12)],
                if r.rc_cuts.len() > 12 { " ..." } else { "" }
            );
        }
        let around: Vec<String> = (CUT as usize - 3..CUT as usize + 6)
            .map(|i| format!("{}:{}B/q{}", i, r.bytes[i], r.qp[i]))
            .collect();
        println!("   around the cut: {}", around.join(" "));
        if args.flag("verbose") {
            for (i, (b, q)) in r.bytes.iter().zip(&r.qp).enumerate() {
                println!(
                    "   frame {i:3} {}{b:6} B  QP {q}",
                    if r.intra[i] { "I" } else { "P" }
                );
            }
        }

        // The oracle: ffmpeg decodes silently, and to our reconstructions.
        let decoded = ffmpeg_decode_hashes(&r.stream, W, H, &format!("rc-{name}"));
        let decode_ok = match &decoded {
            Ok(h) => *h == r.recon,
            Err(_) => false,
        };
        match &decoded {
            Ok(h) if *h == r.recon => println!(
                "   ffmpeg -v error: decodes silently, {} frames equal the reconstructions",
                h.len()
            ),
            Ok(h) => println!(
                "   ffmpeg: decoded {} frames, NOT equal to the reconstructions",
                h.len()
            ),
            Err(e) => println!("   ffmpeg reported: {e}"),
        }
        let stream_qps = ffmpeg_slice_qps(&r.stream, &format!("rc-{name}"));
        let qps_match = stream_qps.len() == r.qp.len()
            && stream_qps.iter().zip(&r.qp).all(|(a, b)| *a == *b as i32);
        println!(
            "   trace_headers: {} slices, slice QPs {} the plan's",
            stream_qps.len(),
            if qps_match { "equal" } else { "DIFFER from" }
        );
        let bench = "rc_natural";
        summary(
            bench,
            &format!("{name}: stream decodes (ffmpeg -v error), = recon"),
            if decode_ok { "yes" } else { "no" },
            "yes",
            Some(decode_ok),
        );
        all_ok &= decode_ok && qps_match;
        summary(
            bench,
            &format!("{name}: QP range (I and P)"),
            &format!("{qmin}..{qmax}"),
            "-",
            None,
        );

        match mode {
            Mode::Cbr | Mode::Vbr => {
                let avg_err = rate / TARGET as f64 - 1.0;
                let win = windows(&r.bytes);
                let (wi, wbits) = win
                    .iter()
                    .enumerate()
                    .max_by(|a, b| {
                        let ea = (*a.1 as f64 / TARGET as f64 - 1.0).abs();
                        let eb = (*b.1 as f64 / TARGET as f64 - 1.0).abs();
                        ea.total_cmp(&eb)
                    })
                    .unwrap();
                let win_err = *wbits as f64 / TARGET as f64 - 1.0;
                let wmax = *win.iter().max().unwrap();
                let (hrd_rate, cpb, init) = r.hrd.unwrap();
                let (late, over, lo, hi) =
                    hrd_check(&r.bytes, hrd_rate, cpb, init, matches!(mode, Mode::Cbr));
                println!(
                    "   total error {}, worst 1-s window {} (frames {}..{}), largest window {:.0} kbit",
                    pct(avg_err),
                    pct(win_err),
                    wi,
                    wi + FPS as usize - 1,
                    wmax as f64 / 1000.0
                );
                println!(
                    "   HRD: rate {hrd_rate} bit/s, CPB {cpb} bit, initial delay {init}/90000 s; \
                     RC overflows {}; Annex C: {late} late AUs (underflow), {over} overflows, \
                     occupancy {:.0}..{:.0} bit",
                    r.rc_overflows, lo, hi
                );
                if let Mode::Cbr = mode {
                    let ok1 = avg_err.abs() <= 0.03;
                    let ok2 = win_err.abs() <= 0.10;
                    let ok3 = r.rc_overflows == 0 && late == 0;
                    summary(
                        bench,
                        "CBR 1 Mbit/s: total bitrate error",
                        &pct(avg_err),
                        "within 3 %",
                        Some(ok1),
                    );
                    summary(
                        bench,
                        "CBR: worst 1-s window error",
                        &pct(win_err),
                        "within 10 %",
                        Some(ok2),
                    );
                    summary(
                        bench,
                        "CBR: HRD buffer overflows (RC / Annex C late AUs)",
                        &format!("{} / {late}", r.rc_overflows),
                        "0",
                        Some(ok3),
                    );
                    summary(
                        bench,
                        "CBR: Annex C CPB overflows (filler needed)",
                        &over.to_string(),
                        "-",
                        None,
                    );
                    all_ok &= ok1 && ok2 && ok3;
                } else {
                    let okp = wmax <= PEAK as u64;
                    let ok3 = r.rc_overflows == 0 && late == 0;
                    summary(
                        bench,
                        "VBR 1/2 Mbit/s: average bitrate error",
                        &pct(avg_err),
                        "-",
                        None,
                    );
                    summary(
                        bench,
                        "VBR: largest 1-s window vs peak",
                        &format!("{:.0} kbit", wmax as f64 / 1000.0),
                        "<= 2000 kbit",
                        Some(okp),
                    );
                    summary(
                        bench,
                        "VBR: HRD buffer overflows (RC / Annex C late AUs)",
                        &format!("{} / {late}", r.rc_overflows),
                        "0",
                        Some(ok3),
                    );
                    all_ok &= okp && ok3;
                }
            }
            Mode::Cq | Mode::Direct => {
                let want = |intra: bool| -> u8 {
                    match mode {
                        Mode::Cq => ((51 * (100 - CQ) + 50) / 100) as u8,
                        _ if intra => I_QP as u8,
                        _ => P_QP as u8,
                    }
                };
                let bad =
                    r.qp.iter()
                        .zip(&r.intra)
                        .filter(|(q, i)| **q != want(**i))
                        .count();
                let ok = bad == 0 && qps_match;
                let what = match mode {
                    Mode::Cq => format!("CQ {CQ} (QP {}): frames off the requested QP", want(true)),
                    _ => format!("QP I {I_QP} / P {P_QP}: frames off the requested QP"),
                };
                println!(
                    "   {bad} frames coded at another QP than requested; average {:.1} kbit/s",
                    rate / 1000.0
                );
                summary(
                    bench,
                    &what,
                    &format!(
                        "{bad} of {FRAMES}{}",
                        if qps_match {
                            ""
                        } else {
                            " (stream QPs differ)"
                        }
                    ),
                    "0",
                    Some(ok),
                );
                summary(
                    bench,
                    &format!("{name}: average bitrate"),
                    &format!("{:.0} kbit/s", rate / 1000.0),
                    "-",
                    None,
                );
                all_ok &= ok;
            }
        }
        flush();
    }
    println!(
        "\nrc_natural: {}",
        if all_ok {
            "all targets met"
        } else {
            "SOME TARGETS MISSED"
        }
    );
}
