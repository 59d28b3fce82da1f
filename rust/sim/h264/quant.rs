// SPDX-License-Identifier: GPL-2.0
//! Quantisation (encoder's choice: dead-zone rounding f = 1/3 intra, 1/6 inter) and the exact
//! dequantisation of the decoder (8.5.12.1, 8.5.10, 8.5.11.2).

use super::tables::{DEQUANT_V, POS_CLASS, QUANT_MF};

/// Largest level magnitude we emit. CAVLC in Main profile cannot code levels much above 2063
/// (level_prefix ≤ 15), so both entropy coders use the same clamp and the reconstruction stays
/// what the decoder sees.
pub const MAX_LEVEL: i32 = 2047;

/// Rounding offset numerator (of 1<<qbits) for intra (1/3) and inter (1/6) blocks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rounding {
    /// f = 1/3.
    Intra,
    /// f = 1/6.
    Inter,
}

fn offset(qbits: u32, r: Rounding) -> i32 {
    let one = 1i32 << qbits;
    match r {
        Rounding::Intra => one / 3,
        Rounding::Inter => one / 6,
    }
}

#[inline(always)]
fn quant1(w: i32, mf: i32, f: i32, qbits: u32) -> i32 {
    // |w| ≤ 32640 (luma DC after the halving Hadamard) and mf ≤ 13107, so the product and
    // the rounding offset (< 2^23) fit in u32; saturate anyway for out-of-model inputs.
    let a = (w
        .unsigned_abs()
        .wrapping_mul(mf as u32)
        .wrapping_add(f as u32)
        >> qbits) as i32;
    let a = if a > MAX_LEVEL { MAX_LEVEL } else { a };
    if w < 0 {
        -a
    } else {
        a
    }
}

/// [`QUANT_MF`] per raster position of a 4×4 block, for each qP % 6.
const QUANT_MF16: [[i32; 16]; 6] = per_position(&QUANT_MF);
/// [`DEQUANT_V`] per raster position of a 4×4 block, for each qP % 6.
const DEQUANT_V16: [[i32; 16]; 6] = per_position(&DEQUANT_V);

const fn per_position(t: &[[i32; 3]; 6]) -> [[i32; 16]; 6] {
    let mut o = [[0; 16]; 6];
    let mut m = 0;
    while m < 6 {
        let mut i = 0;
        while i < 16 {
            o[m][i] = t[m][POS_CLASS[i]];
            i += 1;
        }
        m += 1;
    }
    o
}

/// Quantises a transformed 4×4 block (raster) in place; `skip_dc` leaves position 0 alone
/// (Intra16x16 and chroma AC blocks code their DC separately). Returns the number of non-zero
/// levels. One straight loop over per-position factors, so that it vectorises.
pub fn quant4(b: &mut [i32; 16], qp: u8, r: Rounding, skip_dc: bool) -> u32 {
    let q6 = (qp / 6) as u32;
    let Some(mf) = QUANT_MF16.get((qp % 6) as usize) else {
        return 0;
    };
    let qbits = 15 + q6;
    let f = offset(qbits, r);
    let dc = b[0];
    let mut nz = 0;
    for (v, &m) in b.iter_mut().zip(mf.iter()) {
        *v = quant1(*v, m, f, qbits);
        nz += (*v != 0) as u32;
    }
    if skip_dc {
        nz -= (b[0] != 0) as u32;
        b[0] = dc;
    }
    nz
}

/// Quantises DC coefficients (after the Hadamard) of luma (16, already halved) or chroma (4).
pub fn quant_dc(b: &mut [i32], qp: u8, r: Rounding) -> u32 {
    let q6 = (qp / 6) as u32;
    let m = (qp % 6) as usize;
    let qbits = 16 + q6;
    let f = offset(qbits, r);
    let mf = QUANT_MF[m][0];
    let mut nz = 0;
    for v in b.iter_mut() {
        *v = quant1(*v, mf, f, qbits);
        nz += (*v != 0) as u32;
    }
    nz
}

/// Dequantises 4×4 levels (raster) in place: d = c · v · 2^(qP/6), which equals 8.5.12.1 with
/// flat scaling matrices. `skip_dc` leaves position 0 alone.
pub fn dequant4(b: &mut [i32; 16], qp: u8, skip_dc: bool) {
    let q6 = (qp / 6) as u32;
    let Some(v) = DEQUANT_V16.get((qp % 6) as usize) else {
        return;
    };
    let dc = b[0];
    for (c, &v) in b.iter_mut().zip(v.iter()) {
        *c = (*c * v) << q6;
    }
    if skip_dc {
        b[0] = dc;
    }
}

/// Intra16x16 luma DC: inverse Hadamard of the levels (raster 4×4) then scaling (8.5.10).
pub fn dequant_luma_dc(c: &mut [i32; 16], qp: u8) {
    super::transform::hadamard4(c);
    let q6 = (qp / 6) as i32;
    let ls = 16 * DEQUANT_V[(qp % 6) as usize][0];
    for v in c.iter_mut() {
        *v = if qp >= 36 {
            (*v * ls) << (q6 - 6)
        } else {
            (*v * ls + (1 << (5 - q6))) >> (6 - q6)
        };
    }
}

/// Chroma DC (4:2:0): inverse 2×2 Hadamard then scaling (8.5.11.2).
pub fn dequant_chroma_dc(c: &mut [i32; 4], qpc: u8) {
    super::transform::hadamard2(c);
    let q6 = (qpc / 6) as u32;
    let ls = 16 * DEQUANT_V[(qpc % 6) as usize][0];
    for v in c.iter_mut() {
        *v = ((*v * ls) << q6) >> 5;
    }
}

/// Largest 4×4 residual SAD that is certain to quantise to all-zero levels (inter rounding):
/// every coefficient is at most 4·SAD (class 1), 2·SAD (class 2) or SAD (class 0) in magnitude,
/// so SAD·max(MF0, 4·MF1, 2·MF2) + f < 2^qbits guarantees zeros. Lets the encoder skip the
/// transform of such blocks without changing the result.
pub fn zero_sad_limit(qp: u8) -> u32 {
    // Panic-free on any input (checked lookup, shift and division; no overflow): QPs outside
    // 0..=51 get 0, which only disables the shortcut.
    if qp > 51 {
        return 0;
    }
    let Some(mf) = QUANT_MF.get((qp % 6) as usize) else {
        return 0;
    };
    let qbits = 15 + (qp / 6) as u32;
    let one = 1u32.checked_shl(qbits).unwrap_or(0);
    let f = one / 6;
    let k = (mf[0].unsigned_abs())
        .max(mf[1].unsigned_abs().saturating_mul(4))
        .max(mf[2].unsigned_abs().saturating_mul(2));
    one.saturating_sub(f)
        .saturating_sub(1)
        .checked_div(k)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::testutil::Rng;

    /// Blocks within the zero-SAD limit really quantise to zero, at every QP.
    #[test]
    fn zero_sad_limit_is_safe() {
        let mut rng = Rng::new(7);
        for qp in 0..=51u8 {
            let lim = zero_sad_limit(qp) as i64;
            for _ in 0..2000 {
                let mut b = [0i32; 16];
                let mut left = lim;
                for v in b.iter_mut() {
                    let m = rng.range(0, left.min(255));
                    left -= m;
                    *v = if rng.bool() { m as i32 } else { -(m as i32) };
                }
                super::super::transform::fdct4(&mut b);
                assert_eq!(quant4(&mut b, qp, Rounding::Inter, false), 0, "qp {qp}");
            }
        }
    }
}
