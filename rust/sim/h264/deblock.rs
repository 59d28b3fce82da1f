// SPDX-License-Identifier: GPL-2.0
//! In-loop deblocking filter (8.7), applied to the whole reconstructed picture after all its
//! macroblocks are decoded, macroblock by macroblock in raster order, exactly as a decoder does.

use super::tables::{ALPHA, BETA, CHROMA_QP, TC0};
use super::{quadrant, MbInfo, Nv12Mut, SliceParams};

#[derive(Clone, Copy)]
struct Th {
    alpha: i32,
    beta: i32,
    index_a: usize,
}

fn thresholds(qp: u8, off_a: i32, off_b: i32) -> Th {
    let ia = (qp as i32 + off_a).clamp(0, 51) as usize;
    let ib = (qp as i32 + off_b).clamp(0, 51) as usize;
    Th {
        alpha: ALPHA[ia] as i32,
        beta: BETA[ib] as i32,
        index_a: ia,
    }
}

/// Filters one line of samples across an edge: q0 at `base`, p0 at `base − step`. Lines whose
/// eight samples are not all inside `d` are left alone (cannot happen for a validated picture).
fn filter_luma(d: &mut [u8], base: usize, step: usize, bs: u8, t: &Th) {
    if base < 4 * step || base + 3 * step >= d.len() {
        return;
    }
    let (ip0, ip1, ip2, iq1, iq2) = (
        base - step,
        base - 2 * step,
        base - 3 * step,
        base + step,
        base + 2 * step,
    );
    let p0 = d[ip0] as i32;
    let q0 = d[base] as i32;
    let p1 = d[ip1] as i32;
    let q1 = d[iq1] as i32;
    if (p0 - q0).abs() >= t.alpha || (p1 - p0).abs() >= t.beta || (q1 - q0).abs() >= t.beta {
        return;
    }
    let p2 = d[ip2] as i32;
    let q2 = d[iq2] as i32;
    let ap = (p2 - p0).abs() < t.beta;
    let aq = (q2 - q0).abs() < t.beta;
    let c = |v: i32| v.clamp(0, 255) as u8;
    if bs < 4 {
        let tc0 = TC0[(bs - 1) as usize][t.index_a] as i32;
        let tc = tc0 + ap as i32 + aq as i32;
        let delta = ((((q0 - p0) << 2) + (p1 - q1) + 4) >> 3).clamp(-tc, tc);
        d[ip0] = c(p0 + delta);
        d[base] = c(q0 - delta);
        if ap {
            d[ip1] = c(p1 + ((p2 + ((p0 + q0 + 1) >> 1) - (p1 << 1)) >> 1).clamp(-tc0, tc0));
        }
        if aq {
            d[iq1] = c(q1 + ((q2 + ((p0 + q0 + 1) >> 1) - (q1 << 1)) >> 1).clamp(-tc0, tc0));
        }
    } else {
        let strong = (p0 - q0).abs() < ((t.alpha >> 2) + 2);
        if ap && strong {
            let p3 = d[base - 4 * step] as i32;
            d[ip0] = c((p2 + 2 * p1 + 2 * p0 + 2 * q0 + q1 + 4) >> 3);
            d[ip1] = c((p2 + p1 + p0 + q0 + 2) >> 2);
            d[ip2] = c((2 * p3 + 3 * p2 + p1 + p0 + q0 + 4) >> 3);
        } else {
            d[ip0] = c((2 * p1 + p0 + q1 + 2) >> 2);
        }
        if aq && strong {
            let q3 = d[base + 3 * step] as i32;
            d[base] = c((p1 + 2 * p0 + 2 * q0 + 2 * q1 + q2 + 4) >> 3);
            d[iq1] = c((p0 + q0 + q1 + q2 + 2) >> 2);
            d[iq2] = c((2 * q3 + 3 * q2 + q1 + q0 + p0 + 4) >> 3);
        } else {
            d[base] = c((2 * q1 + q0 + p1 + 2) >> 2);
        }
    }
}

fn filter_chroma(d: &mut [u8], base: usize, step: usize, bs: u8, t: &Th) {
    if base < 2 * step || base + step >= d.len() {
        return;
    }
    let (ip0, ip1, iq1) = (base - step, base - 2 * step, base + step);
    let p0 = d[ip0] as i32;
    let q0 = d[base] as i32;
    let p1 = d[ip1] as i32;
    let q1 = d[iq1] as i32;
    if (p0 - q0).abs() >= t.alpha || (p1 - p0).abs() >= t.beta || (q1 - q0).abs() >= t.beta {
        return;
    }
    let c = |v: i32| v.clamp(0, 255) as u8;
    if bs < 4 {
        let tc = TC0[(bs - 1) as usize][t.index_a] as i32 + 1;
        let delta = ((((q0 - p0) << 2) + (p1 - q1) + 4) >> 3).clamp(-tc, tc);
        d[ip0] = c(p0 + delta);
        d[base] = c(q0 - delta);
    } else {
        d[ip0] = c((2 * p1 + p0 + q1 + 2) >> 2);
        d[base] = c((2 * q1 + q0 + p1 + 2) >> 2);
    }
}

/// Boundary strength between luma 4×4 block `bp` of `p` and `bq` of `q` (8.7.2.1).
fn strength(p: &MbInfo, bp: usize, q: &MbInfo, bq: usize, mb_edge: bool) -> u8 {
    if p.mb_type.is_intra() || q.mb_type.is_intra() {
        return if mb_edge { 4 } else { 3 };
    }
    if p.nnz[bp] > 0 || q.nnz[bq] > 0 {
        return 2;
    }
    // One reference picture and one vector per partition: only the vectors can differ.
    let pm = p.mvs[quadrant(bp & 3, bp >> 2)];
    let qm = q.mvs[quadrant(bq & 3, bq >> 2)];
    if (pm[0] - qm[0]).abs() >= 4 || (pm[1] - qm[1]).abs() >= 4 {
        return 1;
    }
    0
}

/// Deblocks the reconstructed picture in place.
pub fn deblock_picture(p: &SliceParams, rec: &mut Nv12Mut, info: &[MbInfo]) {
    if p.deblock.disable_idc == 1 {
        return;
    }
    let w = p.width_mbs as usize;
    let h = p.height_mbs as usize;
    let off_a = p.deblock.alpha_c0_offset_div2 as i32 * 2;
    let off_b = p.deblock.beta_offset_div2 as i32 * 2;
    let qpi = (p.qp as i32 + p.chroma_qp_index_offset as i32).clamp(0, 51) as usize;
    let tl = thresholds(p.qp, off_a, off_b);
    let tc = thresholds(CHROMA_QP[qpi], off_a, off_b);
    let ys = rec.y.stride;
    let cs = rec.uv.stride;
    // α = 0 means no sample pair can pass the filter test: nothing to do for that plane.
    let luma_on = tl.alpha > 0;
    let chroma_on = tc.alpha > 0;
    if !luma_on && !chroma_on {
        return;
    }
    for my in 0..h {
        for mx in 0..w {
            let idx = my * w + mx;
            let q = match info.get(idx) {
                Some(m) => *m,
                None => return,
            };
            // Vertical edges (left to right), then horizontal edges (top to bottom).
            for dir in 0..2 {
                let mut bs_edges = [[0u8; 4]; 4];
                for e in 0..4 {
                    let nb = if e > 0 {
                        Some(q)
                    } else if dir == 0 && mx > 0 {
                        info.get(idx - 1).copied()
                    } else if dir == 1 && my > 0 {
                        info.get(idx - w).copied()
                    } else {
                        None
                    };
                    let pm = match nb {
                        Some(m) => m,
                        None => continue,
                    };
                    for k in 0..4 {
                        let (bq, bp) = if dir == 0 {
                            (k * 4 + e, if e > 0 { k * 4 + e - 1 } else { k * 4 + 3 })
                        } else {
                            (e * 4 + k, if e > 0 { (e - 1) * 4 + k } else { 12 + k })
                        };
                        bs_edges[e][k] = strength(&pm, bp, &q, bq, e == 0);
                    }
                    let bs = bs_edges[e];
                    if bs == [0; 4] || !luma_on {
                        continue;
                    }
                    let d = &mut *rec.y.data;
                    for i in 0..16 {
                        let b = bs[i >> 2];
                        if b == 0 {
                            continue;
                        }
                        let (base, step) = if dir == 0 {
                            ((my * 16 + i) * ys + mx * 16 + e * 4, 1)
                        } else {
                            ((my * 16 + e * 4) * ys + mx * 16 + i, ys)
                        };
                        filter_luma(d, base, step, b, &tl);
                    }
                }
                // Chroma edges 0 and 2 (in 4×4 luma-edge units) with the luma strengths.
                for ce in 0..2 {
                    let e = ce * 2;
                    let bs = bs_edges[e];
                    if bs == [0; 4] || !chroma_on {
                        continue;
                    }
                    let d = &mut *rec.uv.data;
                    for i in 0..8 {
                        let b = bs[i >> 1];
                        if b == 0 {
                            continue;
                        }
                        for comp in 0..2 {
                            let (base, step) = if dir == 0 {
                                ((my * 8 + i) * cs + 2 * (mx * 8 + ce * 4) + comp, 2)
                            } else {
                                ((my * 8 + ce * 4) * cs + 2 * (mx * 8 + i) + comp, cs)
                            };
                            filter_chroma(d, base, step, b, &tc);
                        }
                    }
                }
            }
        }
    }
}
