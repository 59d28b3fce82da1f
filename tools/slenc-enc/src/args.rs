// SPDX-License-Identifier: GPL-2.0
//! Command-line options of `slenc-enc` (hand-parsed: a dozen flags need no parser crate).

use std::fmt;
use std::path::PathBuf;

use crate::pattern::PixFmt;

/// Rate control chosen on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateControl {
    /// Constant QP (`FRAME_RC_ENABLE` = 0, I/P_FRAME_QP = the value).
    ConstQp(u8),
    /// CBR at this many bit/s (`FRAME_RC_ENABLE` = 1, `BITRATE_MODE` = CBR).
    Cbr(u32),
}

/// Where the raw frames come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The generated moving test pattern.
    Pattern,
    /// A raw file, frames packed back to back in the chosen format at the visible size.
    File(PathBuf),
}

/// Everything the encode needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub device: Option<PathBuf>,
    pub width: u32,
    pub height: u32,
    pub format: PixFmt,
    /// `None`: every frame of the input file (30 for the pattern).
    pub frames: Option<u32>,
    pub gop: u32,
    pub rc: RateControl,
    pub qp_min: u8,
    pub qp_max: u8,
    pub cabac: bool,
    pub source: Source,
    pub fps: u32,
    pub output: PathBuf,
    /// Go on after a frame that came back with `V4L2_BUF_FLAG_ERROR`.
    pub keep_going: bool,
    /// Print each frame's ENCODE_PARAMS and the dequeued buffers on stderr.
    pub verbose: bool,
    /// How long to wait for a frame (poll timeout), in milliseconds.
    pub timeout_ms: u16,
}

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Encode(Args),
    Help,
    Version,
}

/// A command-line mistake, printed as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Frames encoded from the pattern when `--frames` is not given.
pub const DEFAULT_PATTERN_FRAMES: u32 = 30;
/// Largest frame side the tool accepts (the hardware we drive stops well below).
pub const MAX_SIDE: u32 = 8192;

pub const USAGE: &str = "\
slenc-enc: encode raw video or a test pattern with slenc's stateless H.264 encoder node
(V4L2 requests, the way GStreamer's v4l2slh264enc drives it).

usage: slenc-enc [--device /dev/videoN] [--size WxH] [--format nv12|nv12m|yuv420|yuv420m]
                 [--frames N] [--gop N] [--qp N | --bitrate BPS] [--qp-min N] [--qp-max N]
                 [--cabac] [--input FILE.yuv | --pattern] [--fps N] [--timeout MS] [--output FILE.h264]
                 [--keep-going] [--verbose]

  --device PATH     stateless node; default: the first /dev/video* whose card ends in -h264-sl
  --size WxH        visible size, even numbers (default 640x480)
  --format F        OUTPUT pixel format and layout of --input (default nv12)
  --frames N        frames to encode (default: all of --input, 30 for --pattern)
  --gop N           an IDR every N frames (default 30; 1 = all intra)
  --qp N            constant QP 0..51 (default 26)
  --bitrate BPS     CBR at BPS bit/s instead of constant QP
  --qp-min/--qp-max clamp of the QP (default 10 / 51; --qp outside widens it)
  --cabac           CABAC entropy coding (default CAVLC)
  --input FILE      raw frames in --format at --size, packed without padding
  --pattern         generated moving test pattern (default when --input is absent)
  --fps N           frame rate for S_PARM, the rate control and the bitrate summary (default 30)
  --timeout MS      how long to wait for each frame, 100..60000 ms (default 1000, as the
                    GStreamer element; raise it for slow simulated blocks)
  --output FILE     Annex-B output (default out.h264)
  --keep-going      go on after a frame the encoder returned with an error
  --verbose, -v     print each frame's ENCODE_PARAMS and dequeued buffers on stderr
";

fn parse_u32(opt: &str, v: &str) -> Result<u32, ArgError> {
    v.parse::<u32>()
        .map_err(|_| ArgError(format!("{opt}: '{v}' is not a non-negative integer")))
}

fn parse_qp(opt: &str, v: &str) -> Result<u8, ArgError> {
    let n = parse_u32(opt, v)?;
    if n > 51 {
        return Err(ArgError(format!("{opt}: QP {n} is outside 0..51")));
    }
    Ok(n as u8)
}

/// Parses `WxH` (also `W*H`), both even and in 16..=MAX_SIDE.
pub fn parse_size(v: &str) -> Result<(u32, u32), ArgError> {
    let bad = || ArgError(format!("--size: '{v}' is not WIDTHxHEIGHT (e.g. 640x480)"));
    let (w, h) = v.split_once(['x', 'X', '*']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(16..=MAX_SIDE).contains(&w) || !(16..=MAX_SIDE).contains(&h) {
        return Err(ArgError(format!(
            "--size: {w}x{h} is outside 16x16..{MAX_SIDE}x{MAX_SIDE}"
        )));
    }
    if w % 2 != 0 || h % 2 != 0 {
        return Err(ArgError(format!(
            "--size: {w}x{h} must have even sides (4:2:0 chroma)"
        )));
    }
    Ok((w, h))
}

/// Parses the arguments after the program name.
pub fn parse<I, S>(argv: I) -> Result<Command, ArgError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut device = None;
    let mut size = (640, 480);
    let mut format = PixFmt::Nv12;
    let mut frames = None;
    let mut gop = 30;
    let mut qp: Option<u8> = None;
    let mut bitrate: Option<u32> = None;
    let mut qp_min: Option<u8> = None;
    let mut qp_max: Option<u8> = None;
    let mut cabac = false;
    let mut input: Option<PathBuf> = None;
    let mut pattern = false;
    let mut fps = 30;
    let mut timeout_ms: u16 = crate::encode::POLL_TIMEOUT_MS;
    let mut output = PathBuf::from("out.h264");
    let mut keep_going = false;
    let mut verbose = false;

    let argv: Vec<String> = argv.into_iter().map(|s| s.as_ref().to_owned()).collect();
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        // Accept both `--opt value` and `--opt=value`.
        let (opt, inline) = match arg.split_once('=') {
            Some((o, v)) if o.starts_with("--") => (o.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let takes_value = matches!(
            opt.as_str(),
            "--device"
                | "-d"
                | "--size"
                | "-s"
                | "--format"
                | "-f"
                | "--frames"
                | "-n"
                | "--gop"
                | "-g"
                | "--qp"
                | "-q"
                | "--bitrate"
                | "-b"
                | "--qp-min"
                | "--qp-max"
                | "--input"
                | "-i"
                | "--fps"
                | "--timeout"
                | "--output"
                | "-o"
        );
        let value = if takes_value {
            match inline {
                Some(v) => v,
                None => it
                    .next()
                    .ok_or_else(|| ArgError(format!("{opt} needs a value")))?,
            }
        } else {
            if inline.is_some() {
                return Err(ArgError(format!("{opt} takes no value")));
            }
            String::new()
        };
        match opt.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            "--device" | "-d" => device = Some(PathBuf::from(value)),
            "--size" | "-s" => size = parse_size(&value)?,
            "--format" | "-f" => {
                format = PixFmt::from_name(&value).ok_or_else(|| {
                    ArgError(format!(
                        "--format: '{value}' is not one of nv12, nv12m, yuv420, yuv420m"
                    ))
                })?
            }
            "--frames" | "-n" => {
                let n = parse_u32(&opt, &value)?;
                if n == 0 {
                    return Err(ArgError("--frames: must be at least 1".into()));
                }
                frames = Some(n)
            }
            "--gop" | "-g" => {
                gop = parse_u32(&opt, &value)?;
                if gop == 0 {
                    return Err(ArgError("--gop: must be at least 1".into()));
                }
            }
            "--qp" | "-q" => qp = Some(parse_qp(&opt, &value)?),
            "--bitrate" | "-b" => {
                let b = parse_u32(&opt, &value)?;
                if b < 1000 {
                    return Err(ArgError(format!(
                        "--bitrate: {b} bit/s is below the control's minimum of 1000"
                    )));
                }
                bitrate = Some(b)
            }
            "--qp-min" => qp_min = Some(parse_qp(&opt, &value)?),
            "--qp-max" => qp_max = Some(parse_qp(&opt, &value)?),
            "--cabac" => cabac = true,
            "--input" | "-i" => input = Some(PathBuf::from(value)),
            "--pattern" => pattern = true,
            "--timeout" => {
                let t = parse_u32(&opt, &value)?;
                if !(100..=60_000).contains(&t) {
                    return Err(ArgError(format!("--timeout: {t} ms is outside 100..60000")));
                }
                timeout_ms = t as u16;
            }
            "--fps" => {
                fps = parse_u32(&opt, &value)?;
                if !(1..=240).contains(&fps) {
                    return Err(ArgError(format!("--fps: {fps} is outside 1..240")));
                }
            }
            "--output" | "-o" => output = PathBuf::from(value),
            "--keep-going" => keep_going = true,
            "--verbose" | "-v" => verbose = true,
            other => return Err(ArgError(format!("unknown argument '{other}' (try --help)"))),
        }
    }

    let rc = match (qp, bitrate) {
        (Some(_), Some(_)) => {
            return Err(ArgError(
                "--qp and --bitrate exclude each other (constant QP or CBR)".into(),
            ))
        }
        (_, Some(b)) => RateControl::Cbr(b),
        (q, None) => RateControl::ConstQp(q.unwrap_or(26)),
    };
    let source = match (input, pattern) {
        (Some(_), true) => return Err(ArgError("--input and --pattern exclude each other".into())),
        (Some(p), false) => Source::File(p),
        (None, _) => Source::Pattern,
    };
    if source == Source::Pattern && frames.is_none() {
        frames = Some(DEFAULT_PATTERN_FRAMES);
    }
    // Like the element: qp-min 10 / qp-max 51 unless told; a constant QP outside widens them.
    let mut lo = qp_min.unwrap_or(10);
    let mut hi = qp_max.unwrap_or(51);
    if lo > hi {
        return Err(ArgError(format!("--qp-min {lo} is above --qp-max {hi}")));
    }
    if let RateControl::ConstQp(q) = rc {
        if qp_min.is_none() {
            lo = lo.min(q);
        }
        if qp_max.is_none() {
            hi = hi.max(q);
        }
        if q < lo || q > hi {
            return Err(ArgError(format!(
                "--qp {q} is outside --qp-min {lo} .. --qp-max {hi}"
            )));
        }
    }

    Ok(Command::Encode(Args {
        device,
        width: size.0,
        height: size.1,
        format,
        frames,
        gop,
        rc,
        qp_min: lo,
        qp_max: hi,
        cabac,
        source,
        fps,
        timeout_ms,
        output,
        keep_going,
        verbose,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(args: &[&str]) -> Args {
        match parse(args).unwrap() {
            Command::Encode(a) => a,
            c => panic!("not an encode: {c:?}"),
        }
    }

    fn err(args: &[&str]) -> String {
        parse(args).unwrap_err().0
    }

    #[test]
    fn defaults() {
        let a = enc(&[]);
        assert_eq!(a.device, None);
        assert_eq!((a.width, a.height), (640, 480));
        assert_eq!(a.format, PixFmt::Nv12);
        assert_eq!(a.frames, Some(DEFAULT_PATTERN_FRAMES));
        assert_eq!(a.gop, 30);
        assert_eq!(a.rc, RateControl::ConstQp(26));
        assert_eq!((a.qp_min, a.qp_max), (10, 51));
        assert!(!a.cabac);
        assert_eq!(a.source, Source::Pattern);
        assert_eq!(a.fps, 30);
        assert_eq!(a.output, PathBuf::from("out.h264"));
        assert!(!a.keep_going);
        assert!(!a.verbose);
    }

    #[test]
    fn full_line() {
        let a = enc(&[
            "--device",
            "/dev/video3",
            "--size",
            "1280x720",
            "--format=yuv420m",
            "--frames",
            "100",
            "--gop",
            "10",
            "--bitrate",
            "2000000",
            "--cabac",
            "--input",
            "in.yuv",
            "--fps",
            "25",
            "-o",
            "x.h264",
            "--keep-going",
            "-v",
        ]);
        assert_eq!(a.device, Some(PathBuf::from("/dev/video3")));
        assert_eq!((a.width, a.height), (1280, 720));
        assert_eq!(a.format, PixFmt::Yuv420m);
        assert_eq!(a.frames, Some(100));
        assert_eq!(a.gop, 10);
        assert_eq!(a.rc, RateControl::Cbr(2_000_000));
        assert!(a.cabac);
        assert_eq!(a.source, Source::File(PathBuf::from("in.yuv")));
        assert_eq!(a.fps, 25);
        assert_eq!(a.output, PathBuf::from("x.h264"));
        assert!(a.keep_going);
        assert!(a.verbose);
    }

    #[test]
    fn input_without_frames_reads_everything() {
        assert_eq!(enc(&["--input", "a.yuv"]).frames, None);
    }

    #[test]
    fn qp_widens_default_clamp() {
        let a = enc(&["--qp", "5"]);
        assert_eq!(a.rc, RateControl::ConstQp(5));
        assert_eq!((a.qp_min, a.qp_max), (5, 51));
        assert!(err(&["--qp", "5", "--qp-min", "10"]).contains("outside"));
        assert!(err(&["--qp-min", "30", "--qp-max", "20"]).contains("above"));
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(["--help"]).unwrap(), Command::Help);
        assert_eq!(parse(["-h"]).unwrap(), Command::Help);
        assert_eq!(parse(["--version"]).unwrap(), Command::Version);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(err(&["--size", "640"]).contains("WIDTHxHEIGHT"));
        assert!(err(&["--size", "641x480"]).contains("even"));
        assert!(err(&["--size", "8x8"]).contains("outside"));
        assert!(err(&["--format", "yuyv"]).contains("nv12"));
        assert!(err(&["--qp", "52"]).contains("0..51"));
        assert!(err(&["--qp", "20", "--bitrate", "100000"]).contains("exclude"));
        assert!(err(&["--input", "a", "--pattern"]).contains("exclude"));
        assert!(err(&["--gop", "0"]).contains("at least 1"));
        assert!(err(&["--frames", "0"]).contains("at least 1"));
        assert!(err(&["--fps", "0"]).contains("outside"));
        assert!(err(&["--timeout", "50"]).contains("outside"));
        assert!(err(&["--bitrate", "10"]).contains("minimum"));
        assert!(err(&["--frames"]).contains("needs a value"));
        assert!(err(&["--cabac=1"]).contains("takes no value"));
        assert!(err(&["--bogus"]).contains("unknown argument"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("320x240").unwrap(), (320, 240));
        assert_eq!(parse_size("1920X1080").unwrap(), (1920, 1080));
        assert_eq!(parse_size("176*144").unwrap(), (176, 144));
    }
}
