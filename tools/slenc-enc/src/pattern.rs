// SPDX-License-Identifier: GPL-2.0
//! Raw frames: the pixel formats we offer, their layouts (packed in a file, padded in the device's
//! buffers), the generated test pattern and the raw-file reader.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The OUTPUT pixel formats the tool speaks (uapi.md §8.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixFmt {
    /// `V4L2_PIX_FMT_NV12`: one memory plane, Y then interleaved CbCr.
    Nv12,
    /// `V4L2_PIX_FMT_NV12M`: Y and CbCr in two memory planes.
    Nv12m,
    /// `V4L2_PIX_FMT_YUV420` ('YU12'): one memory plane, Y, Cb, Cr.
    Yuv420,
    /// `V4L2_PIX_FMT_YUV420M` ('YM12'): Y, Cb, Cr in three memory planes.
    Yuv420m,
}

const fn fourcc(s: &[u8; 4]) -> u32 {
    (s[0] as u32) | (s[1] as u32) << 8 | (s[2] as u32) << 16 | (s[3] as u32) << 24
}

/// `V4L2_PIX_FMT_H264_SLICE`.
pub const FOURCC_H264_SLICE: u32 = fourcc(b"S264");

impl PixFmt {
    pub fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "nv12" => Some(Self::Nv12),
            "nv12m" => Some(Self::Nv12m),
            "yuv420" | "i420" | "yu12" => Some(Self::Yuv420),
            "yuv420m" | "ym12" => Some(Self::Yuv420m),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Nv12 => "nv12",
            Self::Nv12m => "nv12m",
            Self::Yuv420 => "yuv420",
            Self::Yuv420m => "yuv420m",
        }
    }

    pub fn fourcc(self) -> u32 {
        match self {
            Self::Nv12 => fourcc(b"NV12"),
            Self::Nv12m => fourcc(b"NM12"),
            Self::Yuv420 => fourcc(b"YU12"),
            Self::Yuv420m => fourcc(b"YM12"),
        }
    }

    /// Memory planes (V4L2 `num_planes` on the MPLANE API).
    pub fn mem_planes(self) -> usize {
        match self {
            Self::Nv12 | Self::Yuv420 => 1,
            Self::Nv12m => 2,
            Self::Yuv420m => 3,
        }
    }

    /// True for the semi-planar (interleaved CbCr) formats.
    pub fn semi_planar(self) -> bool {
        matches!(self, Self::Nv12 | Self::Nv12m)
    }

    /// Component planes of one frame packed without padding (the `--input` file layout):
    /// `(bytes per row, rows)` for Y, then CbCr or Cb and Cr. `w` and `h` are even.
    pub fn packed_planes(self, w: usize, h: usize) -> Vec<(usize, usize)> {
        if self.semi_planar() {
            vec![(w, h), (w, h / 2)]
        } else {
            vec![(w, h), (w / 2, h / 2), (w / 2, h / 2)]
        }
    }

    /// Bytes of one packed frame (w·h·3/2).
    pub fn frame_bytes(self, w: usize, h: usize) -> usize {
        self.packed_planes(w, h).iter().map(|(a, b)| a * b).sum()
    }
}

/// Where one component plane lives in the device's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneSpec {
    /// Index of the V4L2 memory plane.
    pub mem_plane: usize,
    /// Byte offset inside that memory plane.
    pub offset: usize,
    /// Bytes from one row to the next.
    pub stride: usize,
    /// Bytes of picture per row.
    pub width_bytes: usize,
    /// Rows of picture.
    pub rows: usize,
}

impl PlaneSpec {
    /// Bytes of the memory plane this component needs (up to the end of its last row).
    pub fn end(&self) -> usize {
        if self.rows == 0 {
            self.offset
        } else {
            self.offset + self.stride * (self.rows - 1) + self.width_bytes
        }
    }
}

/// The component planes of a frame of visible size `w`×`h` in the buffers of a format that
/// S_FMT returned with height `fmt_h` (the padded height) and `bytesperline` per memory plane.
/// Single-plane formats put the chroma after `bytesperline · fmt_h` luma bytes, with the
/// stride halved for the 3-plane format, as V4L2 defines them.
pub fn device_layout(
    fmt: PixFmt,
    w: usize,
    h: usize,
    fmt_h: usize,
    bytesperline: &[usize],
) -> Result<Vec<PlaneSpec>, String> {
    if bytesperline.len() < fmt.mem_planes() {
        return Err(format!(
            "format {} needs {} memory planes, the driver returned {}",
            fmt.name(),
            fmt.mem_planes(),
            bytesperline.len()
        ));
    }
    let bpl0 = bytesperline[0];
    let y = PlaneSpec {
        mem_plane: 0,
        offset: 0,
        stride: bpl0,
        width_bytes: w,
        rows: h,
    };
    let specs = match fmt {
        PixFmt::Nv12 => vec![
            y,
            PlaneSpec {
                mem_plane: 0,
                offset: bpl0 * fmt_h,
                stride: bpl0,
                width_bytes: w,
                rows: h / 2,
            },
        ],
        PixFmt::Nv12m => vec![
            y,
            PlaneSpec {
                mem_plane: 1,
                offset: 0,
                stride: bytesperline[1],
                width_bytes: w,
                rows: h / 2,
            },
        ],
        PixFmt::Yuv420 => {
            let cstride = bpl0 / 2;
            let cb = bpl0 * fmt_h;
            let cr = cb + cstride * (fmt_h / 2);
            vec![
                y,
                PlaneSpec {
                    mem_plane: 0,
                    offset: cb,
                    stride: cstride,
                    width_bytes: w / 2,
                    rows: h / 2,
                },
                PlaneSpec {
                    mem_plane: 0,
                    offset: cr,
                    stride: cstride,
                    width_bytes: w / 2,
                    rows: h / 2,
                },
            ]
        }
        PixFmt::Yuv420m => vec![
            y,
            PlaneSpec {
                mem_plane: 1,
                offset: 0,
                stride: bytesperline[1],
                width_bytes: w / 2,
                rows: h / 2,
            },
            PlaneSpec {
                mem_plane: 2,
                offset: 0,
                stride: bytesperline[2],
                width_bytes: w / 2,
                rows: h / 2,
            },
        ],
    };
    for s in &specs {
        if s.stride < s.width_bytes {
            return Err(format!(
                "bytesperline {} of memory plane {} is below the {} bytes of a row",
                s.stride, s.mem_plane, s.width_bytes
            ));
        }
    }
    Ok(specs)
}

/// Copies a packed frame into the device's memory planes. Fails (rather than writing out of
/// bounds) when a memory plane is shorter than the layout needs.
pub fn scatter(
    fmt: PixFmt,
    w: usize,
    h: usize,
    packed: &[u8],
    specs: &[PlaneSpec],
    dst: &mut [&mut [u8]],
) -> Result<(), String> {
    let packed_planes = fmt.packed_planes(w, h);
    if packed.len() < fmt.frame_bytes(w, h) || specs.len() != packed_planes.len() {
        return Err("packed frame and layout disagree".into());
    }
    let mut src = 0;
    for (spec, &(pw, rows)) in specs.iter().zip(packed_planes.iter()) {
        let plane = dst
            .get_mut(spec.mem_plane)
            .ok_or_else(|| format!("memory plane {} is not mapped", spec.mem_plane))?;
        if spec.end() > plane.len() {
            return Err(format!(
                "memory plane {} has {} bytes, the frame needs {}",
                spec.mem_plane,
                plane.len(),
                spec.end()
            ));
        }
        for r in 0..rows {
            let d = spec.offset + r * spec.stride;
            plane[d..d + pw].copy_from_slice(&packed[src..src + pw]);
            src += pw;
        }
    }
    Ok(())
}

/// Position of the moving box's top-left corner along one axis: a triangle wave of speed
/// `speed` pixels per frame over `0..=span`, kept even for 4:2:0.
fn bounce(n: u32, speed: u32, span: u32) -> u32 {
    if span == 0 {
        return 0;
    }
    let period = 2 * span;
    let t = (n.wrapping_mul(speed)) % period;
    let p = if t <= span { t } else { period - t };
    p & !1
}

/// The box of frame `n`: `(x, y, width, height)`, all even.
pub fn box_rect(w: u32, h: u32, n: u32) -> (u32, u32, u32, u32) {
    let bw = (w / 4).max(2) & !1;
    let bh = (h / 4).max(2) & !1;
    (bounce(n, 6, w - bw), bounce(n, 4, h - bh), bw, bh)
}

/// Writes frame `n` of the test pattern, packed in `fmt`'s file layout, into `out`
/// (`fmt.frame_bytes(w, h)` bytes): a luma gradient that drifts one pixel per frame, chroma
/// gradients across and down, and a bright box bouncing around. Deterministic in `n`.
pub fn fill_pattern(fmt: PixFmt, w: usize, h: usize, n: u32, out: &mut [u8]) {
    let (bx, by, bw, bh) = box_rect(w as u32, h as u32, n);
    let (bx, by, bw, bh) = (bx as usize, by as usize, bw as usize, bh as usize);
    let in_box = |x: usize, y: usize| x >= bx && x < bx + bw && y >= by && y < by + bh;
    let shift = n as usize;

    let (luma, chroma) = out.split_at_mut(w * h);
    for y in 0..h {
        for x in 0..w {
            luma[y * w + x] = if in_box(x, y) {
                235
            } else {
                (16 + ((x + y + shift) * 219 / (w + h)) % 220) as u8
            };
        }
    }
    let (cw, ch) = (w / 2, h / 2);
    let cb = |x: usize, y: usize| -> u8 {
        if in_box(2 * x, 2 * y) {
            90
        } else {
            (16 + x * 224 / cw) as u8
        }
    };
    let cr = |x: usize, y: usize| -> u8 {
        if in_box(2 * x, 2 * y) {
            240
        } else {
            (16 + y * 224 / ch) as u8
        }
    };
    if fmt.semi_planar() {
        for y in 0..ch {
            for x in 0..cw {
                chroma[y * w + 2 * x] = cb(x, y);
                chroma[y * w + 2 * x + 1] = cr(x, y);
            }
        }
    } else {
        let (u, v) = chroma.split_at_mut(cw * ch);
        for y in 0..ch {
            for x in 0..cw {
                u[y * cw + x] = cb(x, y);
                v[y * cw + x] = cr(x, y);
            }
        }
    }
}

/// Reads packed frames back to back from a raw file.
pub struct RawReader {
    file: File,
    frame_bytes: usize,
    frames_read: u64,
}

impl RawReader {
    pub fn open(path: &Path, frame_bytes: usize) -> io::Result<Self> {
        Ok(Self {
            file: File::open(path)?,
            frame_bytes,
            frames_read: 0,
        })
    }

    /// Fills `out` with the next frame: `Ok(false)` at a clean end of file, an error for a
    /// partial last frame.
    pub fn read_frame(&mut self, out: &mut [u8]) -> io::Result<bool> {
        read_frame_from(
            &mut self.file,
            &mut out[..self.frame_bytes],
            self.frames_read,
        )
        .inspect(|&got| {
            if got {
                self.frames_read += 1;
            }
        })
    }
}

fn read_frame_from(r: &mut impl Read, out: &mut [u8], index: u64) -> io::Result<bool> {
    let mut got = 0;
    while got < out.len() {
        match r.read(&mut out[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if got == 0 {
        Ok(false)
    } else if got < out.len() {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "frame {index} is partial: {got} of {} bytes (wrong --size or --format?)",
                out.len()
            ),
        ))
    } else {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [PixFmt; 4] = [PixFmt::Nv12, PixFmt::Nv12m, PixFmt::Yuv420, PixFmt::Yuv420m];

    #[test]
    fn fourccs() {
        assert_eq!(PixFmt::Nv12.fourcc(), 0x3231_564e);
        assert_eq!(PixFmt::Nv12m.fourcc(), 0x3231_4d4e);
        assert_eq!(PixFmt::Yuv420.fourcc(), 0x3231_5559);
        assert_eq!(PixFmt::Yuv420m.fourcc(), 0x3231_4d59);
        assert_eq!(FOURCC_H264_SLICE, 0x3436_3253);
        for f in ALL {
            assert_eq!(PixFmt::from_name(f.name()), Some(f));
        }
    }

    #[test]
    fn packed_plane_sizes() {
        assert_eq!(
            PixFmt::Nv12.packed_planes(320, 240),
            vec![(320, 240), (320, 120)]
        );
        assert_eq!(
            PixFmt::Nv12m.packed_planes(320, 240),
            vec![(320, 240), (320, 120)]
        );
        assert_eq!(
            PixFmt::Yuv420.packed_planes(320, 240),
            vec![(320, 240), (160, 120), (160, 120)]
        );
        for f in ALL {
            assert_eq!(f.frame_bytes(320, 240), 320 * 240 * 3 / 2);
            assert_eq!(f.frame_bytes(176, 144), 38016);
        }
    }

    #[test]
    fn device_layouts() {
        // 170x100 visible, S_FMT rounded to 176x112.
        let l = device_layout(PixFmt::Nv12, 170, 100, 112, &[176]).unwrap();
        assert_eq!(l[1].offset, 176 * 112);
        assert_eq!(l[1].rows, 50);
        assert_eq!(l[1].end(), 176 * 112 + 176 * 49 + 170);
        let l = device_layout(PixFmt::Yuv420, 170, 100, 112, &[176]).unwrap();
        assert_eq!(l[1].stride, 88);
        assert_eq!(l[2].offset, 176 * 112 + 88 * 56);
        assert_eq!(l[2].width_bytes, 85);
        let l = device_layout(PixFmt::Yuv420m, 170, 100, 112, &[176, 96, 96]).unwrap();
        assert_eq!((l[1].mem_plane, l[2].mem_plane, l[2].stride), (1, 2, 96));
        let l = device_layout(PixFmt::Nv12m, 170, 100, 112, &[176, 176]).unwrap();
        assert_eq!((l[1].mem_plane, l[1].offset), (1, 0));
        assert!(device_layout(PixFmt::Nv12m, 170, 100, 112, &[176]).is_err());
        assert!(device_layout(PixFmt::Nv12, 170, 100, 112, &[160]).is_err());
    }

    #[test]
    fn pattern_is_deterministic_and_moves() {
        for f in ALL {
            let n = f.frame_bytes(64, 48);
            let (mut a, mut b, mut c) = (vec![0; n], vec![0; n], vec![0; n]);
            fill_pattern(f, 64, 48, 7, &mut a);
            fill_pattern(f, 64, 48, 7, &mut b);
            fill_pattern(f, 64, 48, 8, &mut c);
            assert_eq!(a, b, "{f:?}");
            assert_ne!(a, c, "{f:?}");
            // Every sample is in the video range.
            assert!(a.iter().all(|&s| (16..=240).contains(&s)), "{f:?}");
        }
    }

    #[test]
    fn pattern_box_and_chroma_order() {
        let (w, h) = (64usize, 48usize);
        let (bx, by, bw, bh) = box_rect(w as u32, h as u32, 3);
        assert_eq!((bw, bh), (16, 12));
        let mut nv = vec![0; PixFmt::Nv12.frame_bytes(w, h)];
        let mut i4 = vec![0; PixFmt::Yuv420.frame_bytes(w, h)];
        fill_pattern(PixFmt::Nv12, w, h, 3, &mut nv);
        fill_pattern(PixFmt::Yuv420, w, h, 3, &mut i4);
        assert_eq!(nv[..w * h], i4[..w * h]);
        assert_eq!(nv[by as usize * w + bx as usize], 235);
        // NV12's interleaved chroma equals I420's separate planes.
        let (cw, ch) = (w / 2, h / 2);
        for y in 0..ch {
            for x in 0..cw {
                assert_eq!(nv[w * h + y * w + 2 * x], i4[w * h + y * cw + x]);
                assert_eq!(
                    nv[w * h + y * w + 2 * x + 1],
                    i4[w * h + cw * ch + y * cw + x]
                );
            }
        }
    }

    #[test]
    fn box_stays_inside() {
        for n in 0..500 {
            let (x, y, bw, bh) = box_rect(176, 144, n);
            assert!(x + bw <= 176 && y + bh <= 144);
            assert_eq!(x % 2 + y % 2, 0);
        }
    }

    #[test]
    fn scatter_into_padded_planes() {
        for f in ALL {
            let (w, h, fh) = (20usize, 10usize, 16usize);
            let mut packed = vec![0; f.frame_bytes(w, h)];
            for (i, b) in packed.iter_mut().enumerate() {
                *b = (i % 251) as u8;
            }
            let bpl: Vec<usize> = match f.mem_planes() {
                1 => vec![32],
                2 => vec![32, 32],
                _ => vec![32, 16, 16],
            };
            let specs = device_layout(f, w, h, fh, &bpl).unwrap();
            let sizes: Vec<usize> = match f {
                PixFmt::Nv12 | PixFmt::Yuv420 => vec![32 * fh * 3 / 2],
                PixFmt::Nv12m => vec![32 * fh, 32 * fh / 2],
                PixFmt::Yuv420m => vec![32 * fh, 16 * fh / 2, 16 * fh / 2],
            };
            let mut bufs: Vec<Vec<u8>> = sizes.iter().map(|&s| vec![0xAA; s]).collect();
            let mut views: Vec<&mut [u8]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
            scatter(f, w, h, &packed, &specs, &mut views).unwrap();
            // Read it back through the layout.
            let mut back = Vec::new();
            for s in &specs {
                for r in 0..s.rows {
                    let o = s.offset + r * s.stride;
                    back.extend_from_slice(&bufs[s.mem_plane][o..o + s.width_bytes]);
                }
            }
            assert_eq!(back, packed, "{f:?}");
            // Padding bytes are untouched.
            assert_eq!(bufs[0][w], 0xAA, "{f:?}");
            // A short plane is an error, not a panic.
            let mut small = vec![0u8; 10];
            let mut v: Vec<&mut [u8]> = vec![small.as_mut_slice(), &mut [], &mut []];
            assert!(scatter(f, w, h, &packed, &specs, &mut v).is_err());
        }
    }

    #[test]
    fn raw_reader_frames_and_partial_tail() {
        let data: Vec<u8> = (0..25u8).collect();
        let mut cur = io::Cursor::new(data);
        let mut buf = [0u8; 10];
        assert!(read_frame_from(&mut cur, &mut buf, 0).unwrap());
        assert_eq!(buf[0], 0);
        assert!(read_frame_from(&mut cur, &mut buf, 1).unwrap());
        assert_eq!(buf[0], 10);
        let e = read_frame_from(&mut cur, &mut buf, 2).unwrap_err();
        assert!(e.to_string().contains("5 of 10"));
        let mut empty = io::Cursor::new(Vec::<u8>::new());
        assert!(!read_frame_from(&mut empty, &mut buf, 0).unwrap());
    }
}
