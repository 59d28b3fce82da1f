// SPDX-License-Identifier: GPL-2.0
//! Intra prediction (8.3): 16×16 luma, 4×4 luma (9 modes) and 8×8 chroma, from neighbouring
//! reconstructed (not yet deblocked) samples, exactly as the decoder forms them.

/// Neighbour samples of a 16×16 luma or 8×8 chroma block. Only the first `n` entries of `top`
/// and `left` are meaningful (16 for luma, 8 for chroma).
#[derive(Clone, Copy)]
pub struct Edge {
    /// Row above, left to right.
    pub top: [u8; 16],
    /// Column to the left, top to bottom.
    pub left: [u8; 16],
    /// Sample above-left.
    pub tl: u8,
    /// The MB above exists (same slice).
    pub has_top: bool,
    /// The MB to the left exists.
    pub has_left: bool,
}

impl Edge {
    /// Plane prediction needs the corner too, which exists exactly when both sides do.
    fn has_tl(&self) -> bool {
        self.has_top && self.has_left
    }
}

/// Intra16x16PredMode values (Table 7-11).
pub const I16_V: u8 = 0;
/// Horizontal.
pub const I16_H: u8 = 1;
/// DC.
pub const I16_DC: u8 = 2;
/// Plane.
pub const I16_PLANE: u8 = 3;

/// intra_chroma_pred_mode values (7.4.5.1): note DC is 0 here.
pub const C_DC: u8 = 0;
/// Horizontal.
pub const C_H: u8 = 1;
/// Vertical.
pub const C_V: u8 = 2;
/// Plane.
pub const C_PLANE: u8 = 3;

fn clip(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// Whether a 16×16 mode can be used with these neighbours.
pub fn i16_available(mode: u8, e: &Edge) -> bool {
    match mode {
        I16_V => e.has_top,
        I16_H => e.has_left,
        I16_DC => true,
        _ => e.has_tl(),
    }
}

/// Predicts a 16×16 luma block (raster) with `mode`; the caller checks availability.
pub fn pred16(mode: u8, e: &Edge, out: &mut [u8; 256]) {
    match mode {
        I16_V => {
            for y in 0..16 {
                out[y * 16..y * 16 + 16].copy_from_slice(&e.top);
            }
        }
        I16_H => {
            for y in 0..16 {
                out[y * 16..y * 16 + 16].fill(e.left[y]);
            }
        }
        I16_DC => {
            let st: u32 = e.top.iter().map(|&v| v as u32).sum();
            let sl: u32 = e.left.iter().map(|&v| v as u32).sum();
            let dc = match (e.has_top, e.has_left) {
                (true, true) => (st + sl + 16) >> 5,
                (true, false) => (st + 8) >> 4,
                (false, true) => (sl + 8) >> 4,
                _ => 128,
            };
            out.fill(dc as u8);
        }
        _ => {
            let t = |x: i32| -> i32 {
                if x < 0 {
                    e.tl as i32
                } else {
                    e.top[x as usize] as i32
                }
            };
            let l = |y: i32| -> i32 {
                if y < 0 {
                    e.tl as i32
                } else {
                    e.left[y as usize] as i32
                }
            };
            let mut h = 0;
            let mut v = 0;
            for k in 0..8 {
                h += (k + 1) * (t(8 + k) - t(6 - k));
                v += (k + 1) * (l(8 + k) - l(6 - k));
            }
            let a = 16 * (l(15) + t(15));
            let b = (5 * h + 32) >> 6;
            let c = (5 * v + 32) >> 6;
            for y in 0..16 {
                for x in 0..16 {
                    out[y * 16 + x] = clip((a + b * (x as i32 - 7) + c * (y as i32 - 7) + 16) >> 5);
                }
            }
        }
    }
}

/// Whether a chroma mode can be used.
pub fn chroma_available(mode: u8, e: &Edge) -> bool {
    match mode {
        C_DC => true,
        C_H => e.has_left,
        C_V => e.has_top,
        _ => e.has_tl(),
    }
}

/// Predicts an 8×8 chroma block (raster) with intra_chroma_pred_mode `mode` (8.3.4).
pub fn pred_chroma(mode: u8, e: &Edge, out: &mut [u8; 64]) {
    match mode {
        C_DC => {
            for by in 0..2 {
                for bx in 0..2 {
                    let st: u32 = e.top[bx * 4..bx * 4 + 4].iter().map(|&v| v as u32).sum();
                    let sl: u32 = e.left[by * 4..by * 4 + 4].iter().map(|&v| v as u32).sum();
                    // 8.3.4.1-3: corner blocks use both sides; the top-right block prefers the
                    // top row, the bottom-left block the left column.
                    let both = (st + sl + 4) >> 3;
                    let top = (st + 2) >> 2;
                    let left = (sl + 2) >> 2;
                    let dc = if bx == by {
                        match (e.has_top, e.has_left) {
                            (true, true) => both,
                            (true, false) => top,
                            (false, true) => left,
                            _ => 128,
                        }
                    } else if bx == 1 {
                        if e.has_top {
                            top
                        } else if e.has_left {
                            left
                        } else {
                            128
                        }
                    } else if e.has_left {
                        left
                    } else if e.has_top {
                        top
                    } else {
                        128
                    };
                    for y in 0..4 {
                        for x in 0..4 {
                            out[(by * 4 + y) * 8 + bx * 4 + x] = dc as u8;
                        }
                    }
                }
            }
        }
        C_H => {
            for y in 0..8 {
                out[y * 8..y * 8 + 8].fill(e.left[y]);
            }
        }
        C_V => {
            for y in 0..8 {
                out[y * 8..y * 8 + 8].copy_from_slice(&e.top[..8]);
            }
        }
        _ => {
            let t = |x: i32| -> i32 {
                if x < 0 {
                    e.tl as i32
                } else {
                    e.top[x as usize] as i32
                }
            };
            let l = |y: i32| -> i32 {
                if y < 0 {
                    e.tl as i32
                } else {
                    e.left[y as usize] as i32
                }
            };
            let mut h = 0;
            let mut v = 0;
            for k in 0..4 {
                h += (k + 1) * (t(4 + k) - t(2 - k));
                v += (k + 1) * (l(4 + k) - l(2 - k));
            }
            let a = 16 * (l(7) + t(7));
            let b = (34 * h + 32) >> 6;
            let c = (34 * v + 32) >> 6;
            for y in 0..8 {
                for x in 0..8 {
                    out[y * 8 + x] = clip((a + b * (x as i32 - 3) + c * (y as i32 - 3) + 16) >> 5);
                }
            }
        }
    }
}

/// Neighbours of one 4×4 luma block.
#[derive(Clone, Copy)]
pub struct Edge4 {
    /// Above (0..4) and above-right (4..8, already substituted when unavailable).
    pub top: [u8; 8],
    /// Left column.
    pub left: [u8; 4],
    /// Above-left.
    pub tl: u8,
    /// Availability of the row above.
    pub has_top: bool,
    /// Availability of the left column.
    pub has_left: bool,
    /// Availability of the above-left sample.
    pub has_tl: bool,
}

/// Intra4x4PredMode names (Table 8-2).
pub const I4_V: u8 = 0;
/// Horizontal.
pub const I4_H: u8 = 1;
/// DC.
pub const I4_DC: u8 = 2;

/// Whether a 4×4 mode can be used with these neighbours.
pub fn i4_available(mode: u8, e: &Edge4) -> bool {
    match mode {
        0 | 3 | 7 => e.has_top,
        1 | 8 => e.has_left,
        2 => true,
        _ => e.has_top && e.has_left && e.has_tl,
    }
}

/// Predicts a 4×4 block (raster) with Intra4x4PredMode `mode` (8.3.1.2).
pub fn pred4(mode: u8, e: &Edge4, out: &mut [u8; 16]) {
    let t = |k: i32| -> i32 {
        if k < 0 {
            e.tl as i32
        } else {
            e.top[k as usize] as i32
        }
    };
    let l = |k: i32| -> i32 {
        if k < 0 {
            e.tl as i32
        } else {
            e.left[k as usize] as i32
        }
    };
    for y in 0..4i32 {
        for x in 0..4i32 {
            let v = match mode {
                0 => t(x),
                1 => l(y),
                2 => {
                    let st: i32 = (0..4).map(t).sum();
                    let sl: i32 = (0..4).map(l).sum();
                    match (e.has_top, e.has_left) {
                        (true, true) => (st + sl + 4) >> 3,
                        (true, false) => (st + 2) >> 2,
                        (false, true) => (sl + 2) >> 2,
                        _ => 128,
                    }
                }
                3 => {
                    if x == 3 && y == 3 {
                        (t(6) + 3 * t(7) + 2) >> 2
                    } else {
                        (t(x + y) + 2 * t(x + y + 1) + t(x + y + 2) + 2) >> 2
                    }
                }
                4 => {
                    if x > y {
                        (t(x - y - 2) + 2 * t(x - y - 1) + t(x - y) + 2) >> 2
                    } else if x < y {
                        (l(y - x - 2) + 2 * l(y - x - 1) + l(y - x) + 2) >> 2
                    } else {
                        (t(0) + 2 * e.tl as i32 + l(0) + 2) >> 2
                    }
                }
                5 => {
                    let z = 2 * x - y;
                    if z >= 0 && z & 1 == 0 {
                        (t(x - (y >> 1) - 1) + t(x - (y >> 1)) + 1) >> 1
                    } else if z >= 0 {
                        (t(x - (y >> 1) - 2) + 2 * t(x - (y >> 1) - 1) + t(x - (y >> 1)) + 2) >> 2
                    } else if z == -1 {
                        (l(0) + 2 * e.tl as i32 + t(0) + 2) >> 2
                    } else {
                        (l(y - 1) + 2 * l(y - 2) + l(y - 3) + 2) >> 2
                    }
                }
                6 => {
                    let z = 2 * y - x;
                    if z >= 0 && z & 1 == 0 {
                        (l(y - (x >> 1) - 1) + l(y - (x >> 1)) + 1) >> 1
                    } else if z >= 0 {
                        (l(y - (x >> 1) - 2) + 2 * l(y - (x >> 1) - 1) + l(y - (x >> 1)) + 2) >> 2
                    } else if z == -1 {
                        (l(0) + 2 * e.tl as i32 + t(0) + 2) >> 2
                    } else {
                        (t(x - 1) + 2 * t(x - 2) + t(x - 3) + 2) >> 2
                    }
                }
                7 => {
                    let k = x + (y >> 1);
                    if y & 1 == 0 {
                        (t(k) + t(k + 1) + 1) >> 1
                    } else {
                        (t(k) + 2 * t(k + 1) + t(k + 2) + 2) >> 2
                    }
                }
                _ => {
                    let z = x + 2 * y;
                    let k = y + (x >> 1);
                    if z > 5 {
                        l(3)
                    } else if z == 5 {
                        (l(2) + 3 * l(3) + 2) >> 2
                    } else if z & 1 == 0 {
                        (l(k) + l(k + 1) + 1) >> 1
                    } else {
                        (l(k) + 2 * l(k + 1) + l(k + 2) + 2) >> 2
                    }
                }
            };
            out[(y * 4 + x) as usize] = v as u8;
        }
    }
}
