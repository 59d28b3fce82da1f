// SPDX-License-Identifier: GPL-2.0
//! CAVLC macroblock layer and residual coding (7.3.5, 9.2).

use super::mb::{pred_i4_mode, Coeffs};
use super::tables::{
    Vlc, BLK_RASTER, CBP_INTER_OF_CODE, CBP_INTRA_OF_CODE, COEFF_TOKEN_0, COEFF_TOKEN_2,
    COEFF_TOKEN_4, COEFF_TOKEN_CDC, RUN_BEFORE, TOTAL_ZEROS, TOTAL_ZEROS_CDC,
};
use super::{MbInfo, MbType};
use crate::h264::bits::{BitError, BitSink};

fn put<S: BitSink>(out: &mut S, v: Vlc) -> Result<(), BitError> {
    out.put_bits(v.0 as u32, v.1 as u32)
}

/// nC from the neighbouring blocks' counts (9.2.1).
fn nc(a: Option<u8>, b: Option<u8>) -> i32 {
    match (a, b) {
        (Some(a), Some(b)) => (a as i32 + b as i32 + 1) >> 1,
        (Some(a), None) => a as i32,
        (None, Some(b)) => b as i32,
        _ => 0,
    }
}

/// Writes one residual_block_cavlc() for `coeffs` (scan order, `coeffs.len()` = maxNumCoeff)
/// with the given nC (−1 for chroma DC).
pub fn residual_block<S: BitSink>(out: &mut S, coeffs: &[i16], nc: i32) -> Result<(), BitError> {
    let max = coeffs.len();
    // Non-zero levels from the highest frequency down, with the zeros below each.
    let mut levels = [0i32; 16];
    let mut runs = [0u32; 16];
    let mut total = 0usize;
    let mut last_pos = 0usize;
    for (i, &c) in coeffs.iter().enumerate().rev() {
        if c != 0 {
            if total == 0 {
                last_pos = i;
            }
            levels[total] = c as i32;
            total += 1;
        } else if total > 0 {
            runs[total - 1] += 1;
        }
    }
    let mut t1 = 0usize;
    while t1 < total && t1 < 3 && levels[t1].abs() == 1 {
        t1 += 1;
    }
    // coeff_token.
    if nc < 0 {
        put(out, COEFF_TOKEN_CDC[total.min(4)][t1])?;
    } else if nc < 2 {
        put(out, COEFF_TOKEN_0[total][t1])?;
    } else if nc < 4 {
        put(out, COEFF_TOKEN_2[total][t1])?;
    } else if nc < 8 {
        put(out, COEFF_TOKEN_4[total][t1])?;
    } else if total == 0 {
        out.put_bits(6, 3)?;
    } else {
        out.put_bits(6, (((total - 1) << 2) | t1) as u32)?;
    }
    if total == 0 {
        return Ok(());
    }
    // Levels (9.2.2.1).
    let mut suffix_len: u32 = if total > 10 && t1 < 3 { 1 } else { 0 };
    for (i, &lv) in levels.iter().enumerate().take(total) {
        if i < t1 {
            out.put_bit(lv < 0)?;
            continue;
        }
        let mut code: u32 = if lv > 0 {
            (2 * lv - 2) as u32
        } else {
            (-2 * lv - 1) as u32
        };
        if i == t1 && t1 < 3 {
            code -= 2;
        }
        if suffix_len == 0 {
            if code < 14 {
                out.put_bits(code + 1, 1)?;
            } else if code < 30 {
                out.put_bits(15, 1)?;
                out.put_bits(4, code - 14)?;
            } else {
                out.put_bits(16, 1)?;
                out.put_bits(12, (code - 30).min(4095))?;
            }
        } else if code < (15 << suffix_len) {
            out.put_bits((code >> suffix_len) + 1, 1)?;
            out.put_bits(suffix_len, code & ((1 << suffix_len) - 1))?;
        } else {
            out.put_bits(16, 1)?;
            out.put_bits(12, (code - (15 << suffix_len)).min(4095))?;
        }
        if suffix_len == 0 {
            suffix_len = 1;
        }
        if lv.unsigned_abs() > (3 << (suffix_len - 1)) && suffix_len < 6 {
            suffix_len += 1;
        }
    }
    // total_zeros and run_before.
    let total_zeros = last_pos + 1 - total;
    if total < max {
        if nc < 0 {
            put(out, TOTAL_ZEROS_CDC[total - 1][total_zeros])?;
        } else {
            put(out, TOTAL_ZEROS[total - 1][total_zeros])?;
        }
    }
    let mut zeros_left = total_zeros;
    for &run in runs.iter().take(total - 1) {
        if zeros_left == 0 {
            break;
        }
        put(out, RUN_BEFORE[zeros_left.min(7) - 1][run as usize])?;
        zeros_left -= run as usize;
    }
    Ok(())
}

/// CAVLC macroblock writer (keeps the pending mb_skip_run).
pub struct CavlcWriter {
    p_slice: bool,
    skip_run: u32,
}

fn cbp_code(cbp: u8, intra: bool) -> u32 {
    let t = if intra {
        &CBP_INTRA_OF_CODE
    } else {
        &CBP_INTER_OF_CODE
    };
    t.iter().position(|&c| c == cbp).unwrap_or(0) as u32
}

/// Collects a macroblock's many short codes into 32-bit words for the sink (one call per
/// word instead of one per code); flushed at the end of the macroblock.
struct Batch<'a, S: BitSink> {
    out: &'a mut S,
    /// Pending bits, right-aligned (fewer than 32).
    acc: u64,
    n: u32,
}

impl<S: BitSink> Batch<'_, S> {
    fn flush(&mut self) -> Result<(), BitError> {
        if self.n > 0 {
            self.out.put_bits(self.n, self.acc as u32)?;
        }
        self.acc = 0;
        self.n = 0;
        Ok(())
    }
}

impl<S: BitSink> BitSink for Batch<'_, S> {
    fn put_bits(&mut self, n: u32, value: u32) -> Result<(), BitError> {
        if n > 32 {
            return Err(BitError::InvalidCount);
        }
        let v = (value as u64) & ((1u64 << n) - 1);
        self.acc = (self.acc << n) | v;
        self.n += n;
        if self.n >= 32 {
            let k = self.n - 32;
            self.out.put_bits(32, (self.acc >> k) as u32)?;
            self.acc &= (1u64 << k) - 1;
            self.n = k;
        }
        Ok(())
    }

    fn bit_position(&self) -> u64 {
        self.out.bit_position() + self.n as u64
    }
}

impl CavlcWriter {
    /// A writer for an I (`p_slice` false) or P slice.
    pub fn new(p_slice: bool) -> Self {
        CavlcWriter {
            p_slice,
            skip_run: 0,
        }
    }

    /// Writes one macroblock (or counts it into the skip run).
    pub fn mb<S: BitSink>(
        &mut self,
        out: &mut S,
        cur: &MbInfo,
        co: &Coeffs,
        left: Option<&MbInfo>,
        top: Option<&MbInfo>,
    ) -> Result<(), BitError> {
        if cur.mb_type == MbType::PSkip {
            self.skip_run += 1;
            return Ok(());
        }
        let mut b = Batch { out, acc: 0, n: 0 };
        self.mb_coded(&mut b, cur, co, left, top)?;
        b.flush()
    }

    fn mb_coded<S: BitSink>(
        &mut self,
        out: &mut S,
        cur: &MbInfo,
        co: &Coeffs,
        left: Option<&MbInfo>,
        top: Option<&MbInfo>,
    ) -> Result<(), BitError> {
        if self.p_slice {
            out.put_ue(self.skip_run)?;
            self.skip_run = 0;
        }
        let base = if self.p_slice { 5 } else { 0 };
        let cbp_l = cur.cbp & 15;
        let cbp_c = cur.cbp >> 4;
        match cur.mb_type {
            MbType::I4x4 => {
                out.put_ue(base)?;
                for blk in 0..16 {
                    let r = BLK_RASTER[blk];
                    let pm = pred_i4_mode(&cur.i4_modes, r & 3, r >> 2, left, top);
                    let m = cur.i4_modes[r];
                    if m == pm {
                        out.put_bit(true)?;
                    } else {
                        out.put_bit(false)?;
                        out.put_bits(3, if m < pm { m } else { m - 1 } as u32)?;
                    }
                }
                out.put_ue(cur.chroma_mode as u32)?;
            }
            MbType::I16x16 => {
                let t =
                    1 + cur.i16_mode as u32 + 4 * cbp_c as u32 + if cbp_l != 0 { 12 } else { 0 };
                out.put_ue(base + t)?;
                out.put_ue(cur.chroma_mode as u32)?;
            }
            MbType::P8x8 => {
                out.put_ue(3)?;
                for _ in 0..4 {
                    out.put_ue(0)?; // sub_mb_type P_L0_8x8
                }
                for d in cur.mvds.iter() {
                    out.put_se(d[0] as i32)?;
                    out.put_se(d[1] as i32)?;
                }
            }
            _ => {
                out.put_ue(0)?;
                out.put_se(cur.mvds[0][0] as i32)?;
                out.put_se(cur.mvds[0][1] as i32)?;
            }
        }
        if cur.mb_type != MbType::I16x16 {
            out.put_ue(cbp_code(cur.cbp, cur.mb_type == MbType::I4x4))?;
        }
        if cur.cbp == 0 && cur.mb_type != MbType::I16x16 {
            return Ok(());
        }
        out.put_se(0)?; // mb_qp_delta
        let nnz_a = |x: usize, y: usize| -> Option<u8> {
            if x > 0 {
                Some(cur.nnz[y * 4 + x - 1])
            } else {
                left.map(|l| {
                    if l.mb_type == MbType::PSkip {
                        0
                    } else {
                        l.nnz[y * 4 + 3]
                    }
                })
            }
        };
        let nnz_b = |x: usize, y: usize| -> Option<u8> {
            if y > 0 {
                Some(cur.nnz[(y - 1) * 4 + x])
            } else {
                top.map(|t| {
                    if t.mb_type == MbType::PSkip {
                        0
                    } else {
                        t.nnz[12 + x]
                    }
                })
            }
        };
        if cur.mb_type == MbType::I16x16 {
            residual_block(out, &co.luma_dc, nc(nnz_a(0, 0), nnz_b(0, 0)))?;
            if cbp_l != 0 {
                for blk in 0..16 {
                    let r = BLK_RASTER[blk];
                    let n = nc(nnz_a(r & 3, r >> 2), nnz_b(r & 3, r >> 2));
                    residual_block(out, &co.luma[r][1..16], n)?;
                }
            }
        } else {
            for blk in 0..16 {
                if cbp_l & (1 << (blk >> 2)) == 0 {
                    continue;
                }
                let r = BLK_RASTER[blk];
                let n = nc(nnz_a(r & 3, r >> 2), nnz_b(r & 3, r >> 2));
                residual_block(out, &co.luma[r], n)?;
            }
        }
        if cbp_c != 0 {
            for c in 0..2 {
                residual_block(out, &co.cdc[c], -1)?;
            }
        }
        if cbp_c == 2 {
            for c in 0..2 {
                for b in 0..4 {
                    let (x, y) = (b & 1, b >> 1);
                    let a = if x > 0 {
                        Some(cur.nnz_c[c][b - 1])
                    } else {
                        left.map(|l| l.nnz_c[c][y * 2 + 1])
                    };
                    let t = if y > 0 {
                        Some(cur.nnz_c[c][b - 2])
                    } else {
                        top.map(|t| t.nnz_c[c][2 + x])
                    };
                    residual_block(out, &co.cac[c][b][1..16], nc(a, t))?;
                }
            }
        }
        Ok(())
    }

    /// Flushes a trailing skip run and writes rbsp_slice_trailing_bits.
    pub fn finish<S: BitSink>(&mut self, out: &mut S) -> Result<(), BitError> {
        if self.p_slice && self.skip_run > 0 {
            out.put_ue(self.skip_run)?;
            self.skip_run = 0;
        }
        out.rbsp_trailing_bits()
    }
}
