// SPDX-License-Identifier: GPL-2.0
//! `slenc-enc`: encodes a raw file or a generated test pattern through slenc's stateless H.264
//! encoder node, driving it with media requests exactly as GStreamer's `v4l2slh264enc` does
//! (research/uapi.md §5), and writes the Annex-B stream.

mod annexb;
mod args;
mod device;
mod encode;
mod error;
mod pattern;
mod sys;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use args::{Args, Command, RateControl, Source};
use error::{Error, Result};

/// Totals printed at the end.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub frames: u64,
    pub i_frames: u64,
    pub p_frames: u64,
    pub bytes: u64,
    /// Frames the encoder returned with `V4L2_BUF_FLAG_ERROR`.
    pub errors: u64,
    /// Frames whose checks (timestamp, flags, payload) failed.
    pub flagged: u64,
}

impl Summary {
    pub fn add(&mut self, r: &encode::FrameResult) {
        if r.error {
            self.errors += 1;
            return;
        }
        self.frames += 1;
        if r.idr {
            self.i_frames += 1;
        } else {
            self.p_frames += 1;
        }
        self.bytes += r.bytes as u64;
        if !r.problems.is_empty() {
            self.flagged += 1;
        }
    }

    /// Average bit/s over the encoded frames at `fps` (0 with no frames).
    pub fn bitrate(&self, fps: u32) -> u64 {
        (self.bytes * 8 * fps as u64)
            .checked_div(self.frames)
            .unwrap_or(0)
    }

    pub fn line(&self, fps: u32) -> String {
        let bps = self.bitrate(fps);
        let mut s = format!(
            "summary: {} frames (I {}, P {}), {} bytes, average {}.{:02} kbit/s at {} fps",
            self.frames,
            self.i_frames,
            self.p_frames,
            self.bytes,
            bps / 1000,
            (bps % 1000) / 10,
            fps
        );
        if self.errors > 0 {
            s += &format!(", {} frame(s) returned with an error", self.errors);
        }
        if self.flagged > 0 {
            s += &format!(", {} frame(s) failed checks", self.flagged);
        }
        s
    }
}

/// `frame N type I|P size BYTES qp Q`.
pub fn frame_line(r: &encode::FrameResult) -> String {
    format!(
        "frame {} type {} size {} qp {}",
        r.index,
        if r.idr { "I" } else { "P" },
        r.bytes,
        r.qp.map(|q| q.to_string()).unwrap_or_else(|| "?".into())
    )
}

fn run(args: &Args) -> Result<bool> {
    let (w, h) = (args.width as usize, args.height as usize);
    let frame_bytes = args.format.frame_bytes(w, h);
    let mut reader = match &args.source {
        Source::File(p) => {
            Some(pattern::RawReader::open(p, frame_bytes).map_err(|e| Error::open(p, e))?)
        }
        Source::Pattern => None,
    };

    let mut node = device::open(args.device.as_deref())?;
    eprintln!(
        "device {} (card '{}', driver {}, bus {}), media {}",
        node.video_path.display(),
        node.cap.card,
        node.cap.driver,
        node.cap.bus_info,
        node.media_path.display()
    );
    device::abi_check(&node)?;

    let out_file = File::create(&args.output)
        .map_err(|e| Error::msg(format!("create {}: {e}", args.output.display())))?;
    let mut out = BufWriter::new(out_file);

    eprintln!(
        "encoding {} {}x{} at {} fps, GOP {}, {}, {}",
        args.format.name(),
        args.width,
        args.height,
        args.fps,
        args.gop,
        match args.rc {
            RateControl::ConstQp(q) => format!("constant QP {q}"),
            RateControl::Cbr(b) => format!("CBR {b} bit/s"),
        },
        if args.cabac { "CABAC" } else { "CAVLC" }
    );
    let mut enc = encode::Encoder::setup(&mut node, args)?;

    let mut packed = vec![0u8; frame_bytes];
    let mut sum = Summary::default();
    let mut ok = true;
    let mut index: u64 = 0;
    loop {
        if let Some(n) = args.frames {
            if index >= n as u64 {
                break;
            }
        }
        match &mut reader {
            Some(r) => {
                let got = r.read_frame(&mut packed).map_err(|e| {
                    Error::msg(format!(
                        "reading {}: {e}",
                        match &args.source {
                            Source::File(p) => p.display().to_string(),
                            Source::Pattern => String::new(),
                        }
                    ))
                })?;
                if !got {
                    break;
                }
            }
            None => pattern::fill_pattern(args.format, w, h, index as u32, &mut packed),
        }
        let r = enc.encode_frame(index, &packed, &mut out)?;
        sum.add(&r);
        if r.error {
            eprintln!("frame {index}: encoder returned an error (V4L2_BUF_FLAG_ERROR)");
            ok = false;
            if !args.keep_going {
                break;
            }
        } else {
            println!("{}", frame_line(&r));
            for p in &r.problems {
                eprintln!("frame {index}: {p}");
                ok = false;
            }
        }
        index += 1;
    }
    enc.stop();
    out.flush()
        .map_err(|e| Error::msg(format!("writing {}: {e}", args.output.display())))?;
    println!("{}", sum.line(args.fps));
    if sum.frames > 0 {
        eprintln!("wrote {}", args.output.display());
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let cmd = match args::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("slenc-enc: {e}");
            return ExitCode::from(2);
        }
    };
    match cmd {
        Command::Help => {
            print!("{}", args::USAGE);
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("slenc-enc {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Encode(a) => match run(&a) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("slenc-enc: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use encode::FrameResult;

    fn fr(index: u64, idr: bool, bytes: usize, error: bool) -> FrameResult {
        FrameResult {
            index,
            idr,
            bytes,
            qp: Some(26),
            problems: vec![],
            error,
        }
    }

    #[test]
    fn summary_arithmetic() {
        let mut s = Summary::default();
        s.add(&fr(0, true, 5000, false));
        for i in 1..10 {
            s.add(&fr(i, false, 1000, false));
        }
        assert_eq!(
            (s.frames, s.i_frames, s.p_frames, s.bytes),
            (10, 1, 9, 14000)
        );
        // 14000 B over 10 frames at 30 fps = 1400 B/frame = 336000 bit/s.
        assert_eq!(s.bitrate(30), 336_000);
        assert_eq!(
            s.line(30),
            "summary: 10 frames (I 1, P 9), 14000 bytes, average 336.00 kbit/s at 30 fps"
        );
        assert_eq!(Summary::default().bitrate(30), 0);
    }

    #[test]
    fn summary_counts_errors_apart() {
        let mut s = Summary::default();
        s.add(&fr(0, true, 0, true));
        s.add(&fr(1, false, 0, true));
        assert_eq!((s.frames, s.errors, s.bytes), (0, 2, 0));
        assert!(s.line(25).contains("2 frame(s) returned with an error"));
        let mut bad = fr(2, false, 10, false);
        bad.problems.push("x".into());
        s.add(&bad);
        assert!(s.line(25).contains("1 frame(s) failed checks"));
    }

    #[test]
    fn bitrate_fraction() {
        let s = Summary {
            frames: 3,
            bytes: 1001,
            ..Default::default()
        };
        // 1001·8·25/3 = 66733 bit/s
        assert_eq!(s.bitrate(25), 66_733);
        assert!(s.line(25).contains("66.73 kbit/s"));
    }

    #[test]
    fn frame_lines() {
        assert_eq!(
            frame_line(&fr(0, true, 1234, false)),
            "frame 0 type I size 1234 qp 26"
        );
        let mut r = fr(7, false, 99, false);
        r.qp = None;
        assert_eq!(frame_line(&r), "frame 7 type P size 99 qp ?");
    }
}
