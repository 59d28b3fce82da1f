// SPDX-License-Identifier: GPL-2.0
//! The macroblock loop: mode decision (our choice), transform/quantisation, reconstruction
//! (the decoder's, exactly) and hand-off to the entropy coder.

use super::cabac::CabacWriter;
use super::cavlc::CavlcWriter;
use super::inter::{self, MvNb, RefPlane};
use super::intra::{self, Edge, Edge4};
use super::quant::{self, Rounding};
use super::tables::{BLK_RASTER, CHROMA_QP, LAMBDA, RASTER_BLK, ZIGZAG};
use super::transform::{fdct4, hadamard4, idct4, satd4};
use super::{
    quadrant, EncodeError, Entropy, MbInfo, MbType, Nv12, Nv12Mut, SliceParams, SliceStats,
    SliceType,
};
use crate::h264::bits::BitSink;

/// Quantised levels of one macroblock, in coding (scan) order.
#[derive(Clone, Copy)]
pub struct Coeffs {
    /// Intra16x16DCLevel, zig-zag order.
    pub luma_dc: [i16; 16],
    /// Luma 4×4 blocks by raster index, zig-zag order (position 0 unused for Intra16x16).
    pub luma: [[i16; 16]; 16],
    /// Chroma DC [Cb, Cr], raster order of the 2×2 blocks.
    pub cdc: [[i16; 4]; 2],
    /// Chroma AC [Cb, Cr] by raster block, zig-zag order (position 0 unused).
    pub cac: [[[i16; 16]; 4]; 2],
}

impl Coeffs {
    const ZERO: Coeffs = Coeffs {
        luma_dc: [0; 16],
        luma: [[0; 16]; 16],
        cdc: [[0; 4]; 2],
        cac: [[[0; 16]; 4]; 2],
    };
}

/// The Intra4x4PredMode predictor for block (bx, by) (8.3.1.1): `modes` holds the current
/// macroblock's modes (raster), neighbours that are not I4x4 count as DC.
pub fn pred_i4_mode(
    modes: &[u8; 16],
    bx: usize,
    by: usize,
    left: Option<&MbInfo>,
    top: Option<&MbInfo>,
) -> u8 {
    let nb = |m: &MbInfo, i: usize| {
        if m.mb_type == MbType::I4x4 {
            m.i4_modes[i]
        } else {
            2
        }
    };
    let a = if bx > 0 {
        Some(modes[by * 4 + bx - 1])
    } else {
        left.map(|l| nb(l, by * 4 + 3))
    };
    let b = if by > 0 {
        Some(modes[(by - 1) * 4 + bx])
    } else {
        top.map(|t| nb(t, 12 + bx))
    };
    match (a, b) {
        (Some(a), Some(b)) => a.min(b),
        _ => 2,
    }
}

fn clip(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// Per-slice constants.
struct Ctx {
    w: usize,
    h: usize,
    qp: u8,
    qpc: u8,
    lambda: u32,
}

/// Source samples of one macroblock.
struct Src {
    y: [u8; 256],
    c: [[u8; 64]; 2],
}

fn load_src(f: &Nv12, mx: usize, my: usize) -> Src {
    let mut s = Src {
        y: [0; 256],
        c: [[0; 64]; 2],
    };
    for j in 0..16 {
        let o = (my * 16 + j) * f.y.stride + mx * 16;
        if let Some(row) = f.y.data.get(o..o + 16) {
            s.y[j * 16..j * 16 + 16].copy_from_slice(row);
        }
    }
    for j in 0..8 {
        let o = (my * 8 + j) * f.uv.stride + mx * 16;
        if let Some(row) = f.uv.data.get(o..o + 16) {
            for i in 0..8 {
                s.c[0][j * 8 + i] = row[2 * i];
                s.c[1][j * 8 + i] = row[2 * i + 1];
            }
        }
    }
    s
}

fn get(d: &[u8], i: usize) -> u8 {
    d.get(i).copied().unwrap_or(0)
}

fn edge16(r: &Nv12Mut, mx: usize, my: usize) -> Edge {
    let s = r.y.stride;
    let d = &*r.y.data;
    let (x0, y0) = (mx * 16, my * 16);
    let mut e = Edge {
        top: [0; 16],
        left: [0; 16],
        tl: 0,
        has_top: my > 0,
        has_left: mx > 0,
    };
    for i in 0..16 {
        if e.has_top {
            e.top[i] = get(d, (y0 - 1) * s + x0 + i);
        }
        if e.has_left {
            e.left[i] = get(d, (y0 + i) * s + x0 - 1);
        }
    }
    if e.has_top && e.has_left {
        e.tl = get(d, (y0 - 1) * s + x0 - 1);
    }
    e
}

fn edge_c(r: &Nv12Mut, mx: usize, my: usize, c: usize) -> Edge {
    let s = r.uv.stride;
    let d = &*r.uv.data;
    let (x0, y0) = (mx * 8, my * 8);
    let mut e = Edge {
        top: [0; 16],
        left: [0; 16],
        tl: 0,
        has_top: my > 0,
        has_left: mx > 0,
    };
    for i in 0..8 {
        if e.has_top {
            e.top[i] = get(d, (y0 - 1) * s + 2 * (x0 + i) + c);
        }
        if e.has_left {
            e.left[i] = get(d, (y0 + i) * s + 2 * (x0 - 1) + c);
        }
    }
    if e.has_top && e.has_left {
        e.tl = get(d, (y0 - 1) * s + 2 * (x0 - 1) + c);
    }
    e
}

fn edge4(r: &Nv12Mut, mx: usize, my: usize, w: usize, bx: usize, by: usize) -> Edge4 {
    let s = r.y.stride;
    let d = &*r.y.data;
    let (px, py) = (mx * 16 + bx * 4, my * 16 + by * 4);
    let has_top = by > 0 || my > 0;
    let has_left = bx > 0 || mx > 0;
    // 6.4.11.4: the above-right block exists only if it is decoded before this one.
    let has_tr = if by == 0 {
        my > 0 && (bx < 3 || mx + 1 < w)
    } else {
        bx < 3 && RASTER_BLK[(by - 1) * 4 + bx + 1] < RASTER_BLK[by * 4 + bx]
    };
    let mut e = Edge4 {
        top: [0; 8],
        left: [0; 4],
        tl: 0,
        has_top,
        has_left,
        has_tl: has_top && has_left,
    };
    if has_top {
        for i in 0..4 {
            e.top[i] = get(d, (py - 1) * s + px + i);
        }
        for i in 4..8 {
            e.top[i] = if has_tr {
                get(d, (py - 1) * s + px + i)
            } else {
                e.top[3]
            };
        }
    }
    if has_left {
        for i in 0..4 {
            e.left[i] = get(d, (py + i) * s + px - 1);
        }
    }
    if e.has_tl {
        e.tl = get(d, (py - 1) * s + px - 1);
    }
    e
}

fn put_luma(r: &mut Nv12Mut, mx: usize, my: usize, blk: &[u8; 256]) {
    let s = r.y.stride;
    for j in 0..16 {
        let o = (my * 16 + j) * s + mx * 16;
        if let Some(row) = r.y.data.get_mut(o..o + 16) {
            row.copy_from_slice(&blk[j * 16..j * 16 + 16]);
        }
    }
}

fn put_luma4(r: &mut Nv12Mut, px: usize, py: usize, blk: &[u8; 16]) {
    let s = r.y.stride;
    for j in 0..4 {
        let o = (py + j) * s + px;
        if let Some(row) = r.y.data.get_mut(o..o + 4) {
            row.copy_from_slice(&blk[j * 4..j * 4 + 4]);
        }
    }
}

fn put_chroma(r: &mut Nv12Mut, mx: usize, my: usize, c: &[[u8; 64]; 2]) {
    let s = r.uv.stride;
    for j in 0..8 {
        let o = (my * 8 + j) * s + mx * 16;
        if let Some(row) = r.uv.data.get_mut(o..o + 16) {
            for i in 0..8 {
                row[2 * i] = c[0][j * 8 + i];
                row[2 * i + 1] = c[1][j * 8 + i];
            }
        }
    }
}

/// Residual of the 4×4 block at (bx, by) of an `S`-wide block of `L` samples.
#[inline(always)]
fn diff4<const S: usize, const L: usize>(
    s: &[u8; L],
    p: &[u8; L],
    bx: usize,
    by: usize,
) -> [i32; 16] {
    let mut d = [0i32; 16];
    for (j, dr) in d.chunks_exact_mut(4).enumerate() {
        let o = (by * 4 + j) * S + bx * 4;
        if let (Some(a), Some(b)) = (s.get(o..o + 4), p.get(o..o + 4)) {
            for ((v, &x), &y) in dr.iter_mut().zip(a).zip(b) {
                *v = x as i32 - y as i32;
            }
        }
    }
    d
}

fn satd16(s: &[u8; 256], p: &[u8; 256]) -> u32 {
    let mut t = 0;
    for by in 0..4 {
        for bx in 0..4 {
            t += satd4(&diff4::<16, 256>(s, p, bx, by));
        }
    }
    t
}

fn satd8(s: &[u8; 64], p: &[u8; 64]) -> u32 {
    let mut t = 0;
    for by in 0..2 {
        for bx in 0..2 {
            t += satd4(&diff4::<8, 64>(s, p, bx, by));
        }
    }
    t
}

/// Adds a residual block to the prediction and stores it into an `S`-wide block.
#[inline(always)]
fn add4<const S: usize, const L: usize>(
    rec: &mut [u8; L],
    p: &[u8; L],
    bx: usize,
    by: usize,
    r: &[i32; 16],
) {
    for (j, rr) in r.chunks_exact(4).enumerate() {
        let o = (by * 4 + j) * S + bx * 4;
        if let (Some(o), Some(p)) = (rec.get_mut(o..o + 4), p.get(o..o + 4)) {
            for ((o, &p), &r) in o.iter_mut().zip(p).zip(rr) {
                *o = clip(p as i32 + r);
            }
        }
    }
}

/// Cost of coding a 4×4 block's levels by the "decimation" rule: isolated ±1 levels far from
/// others are not worth their bits in inter blocks (a common encoder heuristic).
fn decimate_score(levels: &[i32; 16], first: usize) -> u32 {
    const RUN_SCORE: [u32; 16] = [3, 2, 2, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let mut score = 0;
    let mut run = 0usize;
    let mut seen = false;
    for k in (first..16).rev() {
        let v = levels[ZIGZAG[k]];
        if v == 0 {
            run += 1;
            continue;
        }
        if v.abs() > 1 {
            return 99;
        }
        if seen {
            score += RUN_SCORE[run.min(15)];
        }
        seen = true;
        run = 0;
    }
    if seen {
        score += RUN_SCORE[run.min(15)];
    }
    score
}

/// Codes an 8×8 chroma pair given its prediction: returns (CodedBlockPatternChroma, nnz, DC
/// flags in bits 1..2) and fills `co` and the reconstruction. With `cbp_only`, returns as
/// soon as the coded block pattern is known to be non-zero (`co` and `rec` not written).
fn code_chroma(
    src: &Src,
    pred: &[[u8; 64]; 2],
    qpc: u8,
    r: Rounding,
    co: &mut Coeffs,
    rec: &mut [[u8; 64]; 2],
    cbp_only: bool,
) -> (u8, [[u8; 4]; 2], u8) {
    let mut lev = [[[0i32; 16]; 4]; 2];
    let mut dc = [[0i32; 4]; 2];
    let mut nnz = [[0u8; 4]; 2];
    let zero_sad = if r == Rounding::Inter {
        quant::zero_sad_limit(qpc)
    } else {
        0
    };
    for c in 0..2 {
        for b in 0..4 {
            let mut d = diff4::<8, 64>(&src.c[c], &pred[c], b & 1, b >> 1);
            let sad: u32 = d.iter().map(|v| v.unsigned_abs()).sum();
            if sad <= zero_sad {
                // All AC levels are certainly zero; the DC is the plain sum.
                dc[c][b] = d.iter().sum();
                continue;
            }
            fdct4(&mut d);
            dc[c][b] = d[0];
            nnz[c][b] = quant::quant4(&mut d, qpc, r, true) as u8;
            if cbp_only && d[1..].iter().fold(0, |m, v| m | v.unsigned_abs() & !1) != 0 {
                // An AC level above 1 survives decimation (decimate_score 99).
                return (2, nnz, 0);
            }
            lev[c][b] = d;
        }
        super::transform::hadamard2(&mut dc[c]);
        quant::quant_dc(&mut dc[c], qpc, r);
        if r == Rounding::Inter {
            let s: u32 = (0..4)
                .filter(|&b| nnz[c][b] > 0)
                .map(|b| decimate_score(&lev[c][b], 1))
                .sum();
            if s < 7 {
                for b in 0..4 {
                    lev[c][b] = [0; 16];
                    nnz[c][b] = 0;
                }
            }
        }
    }
    let any_ac = nnz.iter().flatten().any(|&n| n > 0);
    let any_dc = dc.iter().flatten().any(|&v| v != 0);
    let cbp = if any_ac {
        2
    } else if any_dc {
        1
    } else {
        0
    };
    if cbp_only && cbp != 0 {
        return (cbp, nnz, 0);
    }
    let mut flags = 0;
    for c in 0..2 {
        if dc[c].iter().any(|&v| v != 0) {
            flags |= 2 << c;
        }
        for b in 0..4 {
            co.cdc[c][b] = dc[c][b] as i16;
            if nnz[c][b] == 0 {
                co.cac[c][b] = [0; 16];
                continue;
            }
            for k in 1..16 {
                co.cac[c][b][k] = lev[c][b][ZIGZAG[k]] as i16;
            }
            co.cac[c][b][0] = 0;
        }
        let mut dcr = dc[c];
        quant::dequant_chroma_dc(&mut dcr, qpc);
        for b in 0..4 {
            let d = if nnz[c][b] == 0 {
                // DC only: the inverse transform of a lone DC is flat, (dc + 32) >> 6.
                [(dcr[b] + 32) >> 6; 16]
            } else {
                let mut d = lev[c][b];
                quant::dequant4(&mut d, qpc, true);
                d[0] = dcr[b];
                idct4(&mut d);
                d
            };
            add4::<8, 64>(&mut rec[c], &pred[c], b & 1, b >> 1, &d);
        }
    }
    (cbp, nnz, flags)
}

/// Intra 16×16 luma coding with the given prediction. Returns (cbp luma, nnz, DC flag).
fn code_i16(
    src: &Src,
    pred: &[u8; 256],
    qp: u8,
    co: &mut Coeffs,
    rec: &mut [u8; 256],
) -> (u8, [u8; 16], bool) {
    let mut lev = [[0i32; 16]; 16];
    let mut dc = [0i32; 16];
    let mut nnz = [0u8; 16];
    for b in 0..16 {
        let mut d = diff4::<16, 256>(&src.y, pred, b & 3, b >> 2);
        fdct4(&mut d);
        dc[b] = d[0];
        nnz[b] = quant::quant4(&mut d, qp, Rounding::Intra, true) as u8;
        lev[b] = d;
    }
    hadamard4(&mut dc);
    for v in dc.iter_mut() {
        *v >>= 1;
    }
    let dc_nz = quant::quant_dc(&mut dc, qp, Rounding::Intra) > 0;
    let cbp = if nnz.iter().any(|&n| n > 0) { 15 } else { 0 };
    for k in 0..16 {
        co.luma_dc[k] = dc[ZIGZAG[k]] as i16;
    }
    for b in 0..16 {
        co.luma[b][0] = 0;
        for k in 1..16 {
            co.luma[b][k] = lev[b][ZIGZAG[k]] as i16;
        }
    }
    let mut dcr = dc;
    quant::dequant_luma_dc(&mut dcr, qp);
    for b in 0..16 {
        let mut d = lev[b];
        quant::dequant4(&mut d, qp, true);
        d[0] = dcr[b];
        idct4(&mut d);
        add4::<16, 256>(rec, pred, b & 3, b >> 2, &d);
    }
    (cbp, nnz, dc_nz)
}

/// Inter luma coding with the given prediction. Returns (cbp luma, nnz). With `cbp_only`,
/// returns as soon as the coded block pattern is known to be non-zero (`co` and `rec` not
/// written).
fn code_luma_inter(
    src: &Src,
    pred: &[u8; 256],
    qp: u8,
    co: &mut Coeffs,
    rec: &mut [u8; 256],
    cbp_only: bool,
) -> (u8, [u8; 16]) {
    let mut lev = [[0i32; 16]; 16];
    let mut nnz = [0u8; 16];
    let zero_sad = quant::zero_sad_limit(qp);
    for b in 0..16 {
        let mut d = diff4::<16, 256>(&src.y, pred, b & 3, b >> 2);
        let sad: u32 = d.iter().map(|v| v.unsigned_abs()).sum();
        if sad <= zero_sad {
            continue;
        }
        fdct4(&mut d);
        nnz[b] = quant::quant4(&mut d, qp, Rounding::Inter, false) as u8;
        if cbp_only && d.iter().fold(0, |m, v| m | v.unsigned_abs() & !1) != 0 {
            // A level above 1 survives decimation (decimate_score 99).
            return (1 << quadrant(b & 3, b >> 2), nnz);
        }
        lev[b] = d;
    }
    // Decimation per 8×8 and for the whole macroblock.
    let mut total = 0;
    let mut cbp = 0u8;
    for b8 in 0..4 {
        let blocks = b8_blocks(b8);
        let s: u32 = blocks
            .iter()
            .filter(|&&b| nnz[b] > 0)
            .map(|&b| decimate_score(&lev[b], 0))
            .sum();
        if s < 4 {
            for &b in blocks.iter() {
                lev[b] = [0; 16];
                nnz[b] = 0;
            }
        } else {
            total += s;
        }
    }
    if total < 6 {
        lev = [[0; 16]; 16];
        nnz = [0; 16];
    }
    for b8 in 0..4 {
        if b8_blocks(b8).iter().any(|&b| nnz[b] > 0) {
            cbp |= 1 << b8;
        }
    }
    if cbp_only && cbp != 0 {
        return (cbp, nnz);
    }
    if cbp == 0 {
        co.luma = [[0; 16]; 16];
        *rec = *pred;
        return (0, nnz);
    }
    for b in 0..16 {
        if nnz[b] == 0 {
            co.luma[b] = [0; 16];
            let (bx, by) = (b & 3, b >> 2);
            for j in 0..4 {
                let o = (by * 4 + j) * 16 + bx * 4;
                rec[o..o + 4].copy_from_slice(&pred[o..o + 4]);
            }
            continue;
        }
        for k in 0..16 {
            co.luma[b][k] = lev[b][ZIGZAG[k]] as i16;
        }
        let mut d = lev[b];
        quant::dequant4(&mut d, qp, false);
        idct4(&mut d);
        add4::<16, 256>(rec, pred, b & 3, b >> 2, &d);
    }
    (cbp, nnz)
}

/// Raster indices of the four 4×4 blocks of 8×8 block `b8`.
pub fn b8_blocks(b8: usize) -> [usize; 4] {
    let x = (b8 & 1) * 2;
    let y = (b8 >> 1) * 2;
    [
        y * 4 + x,
        y * 4 + x + 1,
        (y + 1) * 4 + x,
        (y + 1) * 4 + x + 1,
    ]
}

/// Chooses the best chroma intra mode by SATD.
fn best_chroma_mode(src: &Src, eu: &Edge, ev: &Edge) -> u8 {
    let mut best = (u32::MAX, 0u8);
    let mut pu = [0u8; 64];
    let mut pv = [0u8; 64];
    for m in 0..4u8 {
        if !intra::chroma_available(m, eu) {
            continue;
        }
        intra::pred_chroma(m, eu, &mut pu);
        intra::pred_chroma(m, ev, &mut pv);
        let c = satd8(&src.c[0], &pu) + satd8(&src.c[1], &pv);
        if c < best.0 {
            best = (c, m);
        }
    }
    best.1
}

/// SATD of two 16×16 blocks; stops (returning a value ≥ `limit`) once `limit` is reached.
fn satd16_lim(s: &[u8; 256], p: &[u8; 256], limit: u32) -> u32 {
    let mut t = 0;
    for by in 0..4 {
        for bx in 0..4 {
            t += satd4(&diff4::<16, 256>(s, p, bx, by));
        }
        if t >= limit {
            return t;
        }
    }
    t
}

/// Best Intra16x16 mode and its cost (SATD + λ·bits estimate); (u32::MAX, DC) when no mode
/// costs less than `thr` (modes are abandoned as soon as they cannot win).
fn best_i16(src: &Src, e: &Edge, lambda: u32, thr: u32) -> (u32, u8) {
    let mut best = (u32::MAX, intra::I16_DC);
    let mut p = [0u8; 256];
    for m in 0..4u8 {
        if !intra::i16_available(m, e) {
            continue;
        }
        intra::pred16(m, e, &mut p);
        // A mode is taken only if its cost is below both the best so far and `thr`.
        let limit = best.0.min(thr).saturating_sub(lambda * 4);
        let c = satd16_lim(&src.y, &p, limit) + lambda * 4;
        if c < best.0 && c < thr {
            best = (c, m);
        }
    }
    best
}

/// Codes the luma of an I4x4 macroblock straight into the reconstruction; returns the cost.
/// Gives up once the cost exceeds `limit`, returning a cost above it (the reconstruction and
/// `co` are then partly written).
#[allow(clippy::too_many_arguments)]
fn code_i4(
    ctx: &Ctx,
    src: &Src,
    rec: &mut Nv12Mut,
    mx: usize,
    my: usize,
    left: Option<&MbInfo>,
    top: Option<&MbInfo>,
    co: &mut Coeffs,
    cur: &mut MbInfo,
    limit: u32,
) -> u32 {
    let mut modes = [2u8; 16];
    let mut cost = 6 * ctx.lambda;
    let mut nnz = [0u8; 16];
    let mut p = [0u8; 16];
    let mut s = [0u8; 16];
    for blk in 0..16 {
        let r = BLK_RASTER[blk];
        let (bx, by) = (r & 3, r >> 2);
        let e = edge4(rec, mx, my, ctx.w, bx, by);
        let pm = pred_i4_mode(&modes, bx, by, left, top);
        for j in 0..4 {
            for i in 0..4 {
                s[j * 4 + i] = src.y[(by * 4 + j) * 16 + bx * 4 + i];
            }
        }
        let mut best = (u32::MAX, 2u8);
        for m in 0..9u8 {
            if !intra::i4_available(m, &e) {
                continue;
            }
            intra::pred4(m, &e, &mut p);
            let mut d = [0i32; 16];
            for i in 0..16 {
                d[i] = s[i] as i32 - p[i] as i32;
            }
            let c = satd4(&d) + ctx.lambda * if m == pm { 1 } else { 4 };
            if c < best.0 {
                best = (c, m);
            }
        }
        cost += best.0;
        if cost > limit {
            // The caller will not choose I4x4 (see `code_intra`).
            return cost;
        }
        let m = best.1;
        modes[r] = m;
        intra::pred4(m, &e, &mut p);
        let mut d = [0i32; 16];
        for i in 0..16 {
            d[i] = s[i] as i32 - p[i] as i32;
        }
        fdct4(&mut d);
        let nz = quant::quant4(&mut d, ctx.qp, Rounding::Intra, false);
        nnz[r] = nz as u8;
        for k in 0..16 {
            co.luma[r][k] = d[ZIGZAG[k]] as i16;
        }
        let mut out = [0u8; 16];
        if nz > 0 {
            quant::dequant4(&mut d, ctx.qp, false);
            idct4(&mut d);
            for i in 0..16 {
                out[i] = clip(p[i] as i32 + d[i]);
            }
        } else {
            out = p;
        }
        put_luma4(rec, mx * 16 + bx * 4, my * 16 + by * 4, &out);
    }
    let mut cbp = 0;
    for b8 in 0..4 {
        if b8_blocks(b8).iter().any(|&b| nnz[b] > 0) {
            cbp |= 1 << b8;
        }
    }
    cur.mb_type = MbType::I4x4;
    cur.i4_modes = modes;
    cur.nnz = nnz;
    cur.cbp = (cur.cbp & 0x30) | cbp;
    cost
}

/// Codes the chroma of an intra macroblock (mode chosen by SATD) into `cur`/`co`/recon.
fn code_intra_chroma(
    ctx: &Ctx,
    src: &Src,
    rec: &mut Nv12Mut,
    mx: usize,
    my: usize,
    co: &mut Coeffs,
    cur: &mut MbInfo,
) {
    let eu = edge_c(rec, mx, my, 0);
    let ev = edge_c(rec, mx, my, 1);
    let m = best_chroma_mode(src, &eu, &ev);
    let mut pred = [[0u8; 64]; 2];
    intra::pred_chroma(m, &eu, &mut pred[0]);
    intra::pred_chroma(m, &ev, &mut pred[1]);
    let mut rc = [[0u8; 64]; 2];
    let (cbp, nnz, flags) = code_chroma(src, &pred, ctx.qpc, Rounding::Intra, co, &mut rc, false);
    put_chroma(rec, mx, my, &rc);
    cur.chroma_mode = m;
    cur.cbp = (cur.cbp & 0x0f) | (cbp << 4);
    cur.nnz_c = nnz;
    cur.cbf_dc = (cur.cbf_dc & 1) | flags;
}

/// Codes the luma of an I16x16 macroblock with mode `m`.
#[allow(clippy::too_many_arguments)]
fn code_i16_mb(
    ctx: &Ctx,
    src: &Src,
    rec: &mut Nv12Mut,
    mx: usize,
    my: usize,
    m: u8,
    co: &mut Coeffs,
    cur: &mut MbInfo,
) {
    let e = edge16(rec, mx, my);
    let mut pred = [0u8; 256];
    intra::pred16(m, &e, &mut pred);
    let mut r = [0u8; 256];
    let (cbp, nnz, dc) = code_i16(src, &pred, ctx.qp, co, &mut r);
    put_luma(rec, mx, my, &r);
    cur.mb_type = MbType::I16x16;
    cur.i16_mode = m;
    cur.nnz = nnz;
    cur.cbp = (cur.cbp & 0x30) | cbp;
    cur.cbf_dc = (cur.cbf_dc & !1) | dc as u8;
}

/// Intra macroblock: I16x16 vs I4x4 decision and coding. `inter_cost` is the competing inter
/// cost (u32::MAX in I slices). Returns None when inter stays better.
#[allow(clippy::too_many_arguments)]
fn code_intra(
    ctx: &Ctx,
    src: &Src,
    rec: &mut Nv12Mut,
    mx: usize,
    my: usize,
    left: Option<&MbInfo>,
    top: Option<&MbInfo>,
    co: &mut Coeffs,
    inter_cost: u32,
) -> Option<MbInfo> {
    let e = edge16(rec, mx, my);
    let thr = inter_cost.saturating_add(inter_cost / 4);
    let (c16, m16) = best_i16(src, &e, ctx.lambda, thr);
    if c16 >= thr {
        return None;
    }
    let mut cur = MbInfo::default();
    // Past max(inter_cost, c16), I4x4 can no longer win: stopping there changes no decision.
    // When it stops, either I16x16 is coded over it or the caller codes the inter macroblock
    // (both rewrite the whole reconstruction and `co`).
    let limit = inter_cost.max(c16);
    let c4 = code_i4(ctx, src, rec, mx, my, left, top, co, &mut cur, limit);
    let best = c16.min(c4);
    if best >= inter_cost {
        return None;
    }
    if c16 < c4 {
        cur = MbInfo::default();
        code_i16_mb(ctx, src, rec, mx, my, m16, co, &mut cur);
    }
    code_intra_chroma(ctx, src, rec, mx, my, co, &mut cur);
    Some(cur)
}

/// The macroblocks around the current one (None when outside the picture).
#[derive(Clone, Copy)]
struct Nbs<'a> {
    left: Option<&'a MbInfo>,
    top: Option<&'a MbInfo>,
    topright: Option<&'a MbInfo>,
    topleft: Option<&'a MbInfo>,
}

/// Motion of the partition covering 4×4 block (x, y), x, y in −1..=4 relative to the current
/// macroblock (6.4.11.7): neighbouring macroblocks, or the current one's quadrants already
/// decided (`cur`); None when not available.
fn mv_nb(n: &Nbs, cur: &[Option<[i16; 2]>; 4], x: i32, y: i32) -> MvNb {
    let of = |m: Option<&MbInfo>, q: usize| -> MvNb {
        m.map(|m| {
            if m.mb_type.is_intra() {
                (-1, [0, 0])
            } else {
                (0, m.mvs[q])
            }
        })
    };
    if y < 0 {
        if x < 0 {
            of(n.topleft, 3)
        } else if x < 4 {
            of(n.top, 2 + (x as usize >> 1))
        } else {
            of(n.topright, 2)
        }
    } else if x < 0 {
        of(n.left, 1 + 2 * (y as usize >> 1))
    } else if x < 4 && y < 4 {
        cur[quadrant(x as usize, y as usize)].map(|mv| (0, mv))
    } else {
        None
    }
}

/// Predictor for the partition at 4×4 block (x, y) that is `w` blocks wide (8.4.1.3).
fn mvp_at(n: &Nbs, cur: &[Option<[i16; 2]>; 4], x: i32, y: i32, w: i32) -> [i16; 2] {
    let a = mv_nb(n, cur, x - 1, y);
    let b = mv_nb(n, cur, x, y - 1);
    let c = match mv_nb(n, cur, x + w, y - 1) {
        None => mv_nb(n, cur, x - 1, y - 1),
        c => c,
    };
    inter::mv_pred(a, b, c)
}

/// Chroma prediction of an inter macroblock whose 8×8 quadrants move by `mvs`.
fn chroma_pred(rc: &RefPlane, mx: usize, my: usize, mvs: &[[i16; 2]; 4]) -> [[u8; 64]; 2] {
    let mut pc = [[0u8; 64]; 2];
    let (cx, cy) = (mx as i32 * 8, my as i32 * 8);
    if mvs.iter().all(|m| *m == mvs[0]) {
        let (pu, pv) = pc.split_at_mut(1);
        inter::mc_chroma(rc, cx, cy, mvs[0], &mut pu[0], &mut pv[0]);
        return pc;
    }
    for (q, mv) in mvs.iter().enumerate() {
        let (ox, oy) = ((q & 1) * 4, (q >> 1) * 4);
        let mut tu = [0u8; 64];
        let mut tv = [0u8; 64];
        inter::mc_chroma(rc, cx + ox as i32, cy + oy as i32, *mv, &mut tu, &mut tv);
        for j in 0..4 {
            for i in 0..4 {
                pc[0][(oy + j) * 8 + ox + i] = tu[j * 8 + i];
                pc[1][(oy + j) * 8 + ox + i] = tv[j * 8 + i];
            }
        }
    }
    pc
}

/// Codes an inter macroblock with quadrant vectors `mvs` and luma prediction `pred` (residual,
/// reconstruction). With `skip_only`, gives up (None, nothing written) as soon as any residual
/// would be coded, which is all the P_Skip test needs to know.
#[allow(clippy::too_many_arguments)]
fn code_inter(
    ctx: &Ctx,
    src: &Src,
    pred: &[u8; 256],
    rc: &RefPlane,
    rec: &mut Nv12Mut,
    mx: usize,
    my: usize,
    mvs: [[i16; 2]; 4],
    co: &mut Coeffs,
    skip_only: bool,
) -> Option<MbInfo> {
    let mut ry = [0u8; 256];
    let (cbp_l, nnz) = code_luma_inter(src, pred, ctx.qp, co, &mut ry, skip_only);
    if skip_only && cbp_l != 0 {
        return None;
    }
    let pc = chroma_pred(rc, mx, my, &mvs);
    let mut rcb = [[0u8; 64]; 2];
    let (cbp_c, nnz_c, flags) =
        code_chroma(src, &pc, ctx.qpc, Rounding::Inter, co, &mut rcb, skip_only);
    if skip_only && cbp_c != 0 {
        return None;
    }
    put_luma(rec, mx, my, &ry);
    put_chroma(rec, mx, my, &rcb);
    Some(MbInfo {
        mb_type: MbType::P16x16,
        cbp: cbp_l | (cbp_c << 4),
        nnz,
        nnz_c,
        cbf_dc: flags,
        mvs,
        ..MbInfo::default()
    })
}

// One per slice, on the stack: the size difference between the variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Coder {
    Cavlc(CavlcWriter),
    Cabac(CabacWriter),
}

/// Encodes all macroblocks of the slice (raster order) and the slice trailing bits.
pub(crate) fn encode_mbs<S: BitSink>(
    p: &SliceParams,
    src: &Nv12,
    reference: Option<&Nv12>,
    rec: &mut Nv12Mut,
    info: &mut [MbInfo],
    out: &mut S,
) -> Result<SliceStats, EncodeError> {
    let w = p.width_mbs as usize;
    let h = p.height_mbs as usize;
    let qpi = (p.qp as i32 + p.chroma_qp_index_offset as i32).clamp(0, 51) as usize;
    let ctx = Ctx {
        w,
        h,
        qp: p.qp,
        qpc: CHROMA_QP[qpi],
        lambda: LAMBDA[p.qp as usize],
    };
    let is_p = p.slice_type == SliceType::P;
    let mut coder = match p.entropy {
        Entropy::Cavlc => Coder::Cavlc(CavlcWriter::new(is_p)),
        Entropy::Cabac { init_idc } => Coder::Cabac(CabacWriter::new(out, is_p, init_idc, p.qp)?),
    };
    let mut stats = SliceStats::default();
    let refs = match (is_p, reference) {
        (true, Some(r)) => Some((
            RefPlane {
                plane: &r.y,
                width: w * 16,
                height: h * 16,
            },
            RefPlane {
                plane: &r.uv,
                width: w * 8,
                height: h * 8,
            },
        )),
        _ => None,
    };
    for my in 0..ctx.h {
        for mx in 0..ctx.w {
            let idx = my * w + mx;
            let left = if mx > 0 {
                info.get(idx - 1).copied()
            } else {
                None
            };
            let top = if my > 0 {
                info.get(idx - w).copied()
            } else {
                None
            };
            let src_mb = load_src(src, mx, my);
            let mut co = Coeffs::ZERO;
            let cur = match &refs {
                None => code_intra(
                    &ctx,
                    &src_mb,
                    rec,
                    mx,
                    my,
                    left.as_ref(),
                    top.as_ref(),
                    &mut co,
                    u32::MAX,
                )
                .unwrap_or_default(),
                Some((rl, rc)) => {
                    let topright = if my > 0 && mx + 1 < w {
                        info.get(idx + 1 - w).copied()
                    } else {
                        None
                    };
                    let topleft = if my > 0 && mx > 0 {
                        info.get(idx - 1 - w).copied()
                    } else {
                        None
                    };
                    let nbs = Nbs {
                        left: left.as_ref(),
                        top: top.as_ref(),
                        topright: topright.as_ref(),
                        topleft: topleft.as_ref(),
                    };
                    code_p_mb(&ctx, &src_mb, rl, rc, rec, mx, my, &nbs, &mut co)
                }
            };
            if let Some(slot) = info.get_mut(idx) {
                *slot = cur;
            }
            match cur.mb_type {
                MbType::PSkip => stats.skip_mbs += 1,
                MbType::P16x16 => stats.inter_mbs += 1,
                MbType::P8x8 => {
                    stats.inter_mbs += 1;
                    stats.p8x8_mbs += 1
                }
                MbType::I4x4 => {
                    stats.intra_mbs += 1;
                    stats.i4x4_mbs += 1
                }
                MbType::I16x16 => stats.intra_mbs += 1,
            }
            let last = idx + 1 == w * h;
            match &mut coder {
                Coder::Cavlc(c) => c.mb(out, &cur, &co, left.as_ref(), top.as_ref())?,
                Coder::Cabac(c) => c.mb(out, &cur, &co, left.as_ref(), top.as_ref(), last)?,
            }
        }
    }
    match &mut coder {
        Coder::Cavlc(c) => c.finish(out)?,
        Coder::Cabac(c) => {
            c.finish(out)?;
            stats.cabac_bins = c.bins();
        }
    }
    Ok(stats)
}

/// P-slice macroblock decision: P_Skip, P_L0_16x16, P_8x8 or intra.
#[allow(clippy::too_many_arguments)]
fn code_p_mb(
    ctx: &Ctx,
    src: &Src,
    rl: &RefPlane,
    rc: &RefPlane,
    rec: &mut Nv12Mut,
    mx: usize,
    my: usize,
    n: &Nbs,
    co: &mut Coeffs,
) -> MbInfo {
    let none = [None; 4];
    let mvp = mvp_at(n, &none, 0, 0, 4);
    let smv = {
        let c = match mv_nb(n, &none, 4, -1) {
            None => mv_nb(n, &none, -1, -1),
            c => c,
        };
        inter::skip_mv(mv_nb(n, &none, -1, 0), mv_nb(n, &none, 0, -1), c)
    };
    let skip = MbInfo {
        mb_type: MbType::PSkip,
        mvs: [smv; 4],
        ..MbInfo::default()
    };
    let (bx, by) = (mx as i32 * 16, my as i32 * 16);
    // P_Skip when the skip vector leaves nothing worth coding.
    let mut pred = [0u8; 256];
    inter::mc_luma(rl, bx, by, smv, &mut pred);
    // A residual averaging more than ~half a quantiser step per sample is never all-zero after
    // quantisation: don't bother testing for P_Skip then.
    if inter::sad16(&src.y, &pred) <= 384 * ctx.lambda
        && code_inter(ctx, src, &pred, rc, rec, mx, my, [smv; 4], co, true).is_some()
    {
        return skip;
    }
    let q_mv = |m: Option<&MbInfo>, q: usize| m.map(|m| m.mvs[q]).unwrap_or([0, 0]);
    let extra = [smv, q_mv(n.left, 1), q_mv(n.top, 2)];
    let m = inter::search::<16>(&src.y, rl, bx, by, mvp, &extra, ctx.lambda, &mut pred);
    let mvbits = |mv: [i16; 2], p: [i16; 2]| {
        inter::se_bits(mv[0] as i32 - p[0] as i32) + inter::se_bits(mv[1] as i32 - p[1] as i32)
    };
    let mut mvs = [m.mv; 4];
    let mut mvps = [mvp; 4];
    let mut is8 = false;
    let mut bits = mvbits(m.mv, mvp) + 1;
    // Four 8×8 partitions, only where one vector leaves a large residual concentrated in part
    // of the macroblock (a sign of two motions), since the 8×8 searches are expensive.
    let quad_sad = |q: usize| -> u32 {
        let (x, y) = ((q & 1) * 8, (q >> 1) * 8);
        let mut t = 0u32;
        for j in 0..8 {
            let o = (y + j) * 16 + x;
            for i in 0..8 {
                t += (src.y[o + i] as i32 - pred[o + i] as i32).unsigned_abs();
            }
        }
        t
    };
    let qs = [quad_sad(0), quad_sad(1), quad_sad(2), quad_sad(3)];
    let (qmin, qmax) = (
        qs.iter().copied().min().unwrap_or(0),
        qs.iter().copied().max().unwrap_or(0),
    );
    if m.cost > 768 + 16 * ctx.lambda && qmax > 2 * qmin + 128 + 4 * ctx.lambda {
        let mut cur: [Option<[i16; 2]>; 4] = [None; 4];
        let mut cost8 = 10 * ctx.lambda;
        let mut bits8 = 10;
        let mut pred8 = [0u8; 256];
        let mut ps = [[0i16; 2]; 4];
        for q in 0..4 {
            let (x, y) = ((q & 1) * 2, (q >> 1) * 2);
            let p = mvp_at(n, &cur, x as i32, y as i32, 2);
            let mut s8 = [0u8; 256];
            for j in 0..8 {
                let o = (y * 4 + j) * 16 + x * 4;
                s8[j * 16..j * 16 + 8].copy_from_slice(&src.y[o..o + 8]);
            }
            let mut p8 = [0u8; 256];
            let mq = inter::search::<8>(
                &s8,
                rl,
                bx + x as i32 * 4,
                by + y as i32 * 4,
                p,
                &[m.mv],
                ctx.lambda,
                &mut p8,
            );
            for j in 0..8 {
                let o = (y * 4 + j) * 16 + x * 4;
                pred8[o..o + 8].copy_from_slice(&p8[j * 16..j * 16 + 8]);
            }
            cur[q] = Some(mq.mv);
            ps[q] = p;
            cost8 = cost8.saturating_add(mq.cost);
            bits8 += mvbits(mq.mv, p);
        }
        if cost8 < m.cost.saturating_add(ctx.lambda) {
            is8 = true;
            pred = pred8;
            mvps = ps;
            bits = bits8;
            for q in 0..4 {
                mvs[q] = cur[q].unwrap_or(m.mv);
            }
        }
    }
    // Intra only competes where prediction is poor (saves the intra search on most MBs).
    if m.cost > 256 * 2 + 24 * ctx.lambda {
        let inter_cost = satd16(&src.y, &pred) + ctx.lambda * bits;
        *co = Coeffs::ZERO;
        if let Some(c) = code_intra(ctx, src, rec, mx, my, n.left, n.top, co, inter_cost) {
            return c;
        }
        *co = Coeffs::ZERO;
    }
    let mut cur = code_inter(ctx, src, &pred, rc, rec, mx, my, mvs, co, false).unwrap_or_default();
    if !is8 && cur.cbp == 0 && m.mv == smv {
        return skip;
    }
    if is8 {
        cur.mb_type = MbType::P8x8;
    }
    for q in 0..4 {
        cur.mvds[q] = [mvs[q][0] - mvps[q][0], mvs[q][1] - mvps[q][1]];
    }
    cur
}
