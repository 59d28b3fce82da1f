// SPDX-License-Identifier: GPL-2.0
//! CABAC: the arithmetic encoder (9.3.4), context initialisation (9.3.1.1), binarisations and
//! context index selection (9.3.2, 9.3.3) for the syntax elements we use.

pub mod tables;

use super::mb::{pred_i4_mode, Coeffs};
use super::tables::BLK_RASTER;
use super::{MbInfo, MbType};
use crate::h264::bits::{BitError, BitSink};
use tables::{INIT_I, INIT_P, NUM_CTX, RANGE_LPS, TRANS_LPS, TRANS_MPS};

/// The binary arithmetic encoder with its context states.
///
/// Bit-exact with 9.3.4.2–9.3.4.5 (PutBit with bitsOutstanding), but byte-oriented, as in
/// x264: `low` keeps the bits not yet output above the 10-bit codILow window, so that a
/// renormalisation is one shift and a carry simply propagates into them; every 8 such bits
/// become a byte. A byte of 0xff may still receive a carry, so such bytes are counted in
/// `outstanding` and held back together with the byte before them (`pending`). No branch
/// per output bit.
pub struct Engine {
    /// codILow with `queue + 8` pending output bits above its 10 bits (and a carry above).
    low: u32,
    range: u32,
    /// Pending bits above the window − 8 (−9 at the start: the first bit PutBit would write
    /// is always 0 and is not written, 9.3.4.2).
    queue: i32,
    /// 0xff bytes held back after `pending`.
    outstanding: u32,
    /// The last byte that is not 0xff, held back for a carry; None before the first byte.
    pending: Option<u8>,
    /// Output bits not yet handed to the sink (right-aligned), batched because a sink call per
    /// byte is slow.
    acc: u32,
    nacc: u32,
    /// (pStateIdx << 1) | valMPS per ctxIdx.
    st: [u8; NUM_CTX],
    /// Bins coded so far (BinCountsInNALunits).
    pub bins: u32,
}

/// The context states of a slice (9.3.1.1): `(pStateIdx << 1) | valMPS` per ctxIdx.
fn init_contexts(p_slice: bool, init_idc: u8, qp: u8) -> [u8; NUM_CTX] {
    let tab = if p_slice {
        &INIT_P[(init_idc as usize).min(2)]
    } else {
        &INIT_I
    };
    let mut st = [0u8; NUM_CTX];
    let qp = qp.min(51) as i32;
    for (s, &(m, n)) in st.iter_mut().zip(tab.iter()) {
        let pre = (((m as i32 * qp) >> 4) + n as i32).clamp(1, 126);
        *s = if pre <= 63 {
            ((63 - pre) << 1) as u8
        } else {
            (((pre - 64) << 1) | 1) as u8
        };
    }
    st
}

impl Engine {
    /// Initialises contexts for the slice (9.3.1.1) and the engine (9.3.4.1).
    pub fn new(p_slice: bool, init_idc: u8, qp: u8) -> Self {
        let st = init_contexts(p_slice, init_idc, qp);
        Engine {
            low: 0,
            range: 510,
            queue: -9,
            outstanding: 0,
            pending: None,
            acc: 0,
            nacc: 0,
            st,
            bins: 0,
        }
    }

    /// Queues `n` (≤ 8) bits.
    #[inline(always)]
    fn emit<S: BitSink>(&mut self, out: &mut S, n: u32, v: u32) -> Result<(), BitError> {
        self.acc = (self.acc << n) | (v & ((1 << n) - 1));
        self.nacc += n;
        if self.nacc >= 24 {
            self.flush_bits(out)?;
        }
        Ok(())
    }

    /// Hands all queued bits to the sink.
    fn flush_bits<S: BitSink>(&mut self, out: &mut S) -> Result<(), BitError> {
        if self.nacc > 0 {
            out.put_bits(self.nacc, self.acc)?;
        }
        self.acc = 0;
        self.nacc = 0;
        Ok(())
    }

    /// Resolves the held-back bytes with `carry` (0 or 1) and holds back `byte` (not 0xff).
    #[inline(never)]
    fn put_byte<S: BitSink>(&mut self, out: &mut S, byte: u32, carry: u32) -> Result<(), BitError> {
        if let Some(p) = self.pending {
            self.emit(out, 8, p as u32 + carry)?;
        }
        let fill = 0xffu32.wrapping_add(carry);
        while self.outstanding > 0 {
            self.emit(out, 8, fill)?;
            self.outstanding -= 1;
        }
        self.pending = Some(byte as u8);
        Ok(())
    }

    /// Moves the top 8 pending bits (and the carry above them) out of `low` once there are
    /// 8 of them.
    #[inline(always)]
    fn settle<S: BitSink>(&mut self, out: &mut S) -> Result<(), BitError> {
        if self.queue < 0 {
            return Ok(());
        }
        let sh = (self.queue + 10) as u32 & 31;
        let top = self.low >> sh;
        self.low &= (1u32 << sh) - 1;
        self.queue -= 8;
        let byte = top & 0xff;
        if byte == 0xff {
            // No carry is possible here: codILow < 1024 keeps the bits above a fresh carry 0.
            self.outstanding += 1;
            Ok(())
        } else {
            self.put_byte(out, byte, top >> 8)
        }
    }

    /// RenormE (9.3.4.3) as one shift: 0 for most bins, at most 7.
    #[inline(always)]
    fn renorm<S: BitSink>(&mut self, out: &mut S) -> Result<(), BitError> {
        let shift = self.range.leading_zeros().saturating_sub(23);
        self.range <<= shift;
        self.low <<= shift;
        self.queue += shift as i32;
        self.settle(out)
    }

    /// Encodes one decision bin with context `ctx` (9.3.4.2).
    #[inline(always)]
    pub fn decision<S: BitSink>(
        &mut self,
        out: &mut S,
        ctx: usize,
        bin: bool,
    ) -> Result<(), BitError> {
        // Every bin counts towards the bin/byte limit (7.4.2.10, cabac_zero_words).
        self.bins = self.bins.wrapping_add(1);
        let s = self.st.get(ctx).copied().unwrap_or(0);
        let (state, mps) = ((s >> 1) as usize, s & 1);
        let lps = RANGE_LPS[state & 63][((self.range >> 6) & 3) as usize] as u32;
        self.range -= lps;
        let ns = if bin as u8 == mps {
            (TRANS_MPS[state & 63] << 1) | mps
        } else {
            self.low += self.range;
            self.range = lps;
            let m = if state == 0 { 1 - mps } else { mps };
            (TRANS_LPS[state & 63] << 1) | m
        };
        if let Some(slot) = self.st.get_mut(ctx) {
            *slot = ns;
        }
        self.renorm(out)
    }

    /// Encodes one bypass bin (9.3.4.4).
    pub fn bypass<S: BitSink>(&mut self, out: &mut S, bin: bool) -> Result<(), BitError> {
        self.bins = self.bins.wrapping_add(1);
        self.low <<= 1;
        if bin {
            self.low += self.range;
        }
        self.queue += 1;
        self.settle(out)
    }

    /// Encodes a bin before termination (9.3.4.5); a 1 flushes the engine, whose last written
    /// bit is the rbsp_stop_one_bit.
    pub fn terminate<S: BitSink>(&mut self, out: &mut S, bin: bool) -> Result<(), BitError> {
        self.bins = self.bins.wrapping_add(1);
        self.range -= 2;
        if !bin {
            return self.renorm(out);
        }
        self.low += self.range;
        self.range = 2;
        self.renorm(out)?;
        // EncodeFlush: PutBit((codILow >> 9) & 1), then ((codILow >> 7) & 3) | 1 as 2 bits,
        // i.e. the queue + 8 pending bits, window bits 9 and 8, and the stop bit. The bit
        // above the pending ones is the carry into the held-back bytes (or, before any byte,
        // the first bit, which is not written and always 0).
        let n = (self.queue + 10).clamp(1, 16) as u32;
        let carry = (self.low >> (n + 8)) & 1;
        let bits = (self.low >> 8) & ((1u32 << n) - 1);
        if let Some(p) = self.pending.take() {
            self.emit(out, 8, p as u32 + carry)?;
        }
        let fill = 0xffu32.wrapping_add(carry);
        while self.outstanding > 0 {
            self.emit(out, 8, fill)?;
            self.outstanding -= 1;
        }
        if n > 8 {
            self.emit(out, n - 8, bits >> 8)?;
        }
        self.emit(out, n.min(8), bits)?;
        self.emit(out, 1, 1)?;
        self.flush_bits(out)
    }

    /// Exp-Golomb k-th order suffix in bypass bins (9.3.2.3).
    fn exp_golomb<S: BitSink>(
        &mut self,
        out: &mut S,
        mut v: u32,
        mut k: u32,
    ) -> Result<(), BitError> {
        loop {
            if v >= (1 << k) {
                self.bypass(out, true)?;
                v -= 1 << k;
                k += 1;
            } else {
                self.bypass(out, false)?;
                while k > 0 {
                    k -= 1;
                    self.bypass(out, (v >> k) & 1 == 1)?;
                }
                return Ok(());
            }
        }
    }
}

/// ctxBlockCat values (Table 9-42).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cat {
    LumaDc = 0,
    LumaAc = 1,
    Luma4x4 = 2,
    ChromaDc = 3,
    ChromaAc = 4,
}

const CBF_OFF: [usize; 5] = [0, 4, 8, 12, 16];
const SIG_OFF: [usize; 5] = [0, 15, 29, 44, 47];
const ABS_OFF: [usize; 5] = [0, 10, 20, 30, 39];

/// |mvd| component of quadrant `q` of a neighbouring (or the current) macroblock; 0 when it
/// is missing, skipped or intra.
fn mvd_abs(m: Option<&MbInfo>, q: usize, comp: usize) -> u32 {
    match m {
        Some(m) if matches!(m.mb_type, MbType::P16x16 | MbType::P8x8) => {
            m.mvds[q][comp].unsigned_abs() as u32
        }
        _ => 0,
    }
}

/// CABAC macroblock writer.
pub struct CabacWriter {
    e: Engine,
    p_slice: bool,
}

impl CabacWriter {
    /// Writes cabac_alignment_one_bit and initialises the engine for the slice.
    pub fn new<S: BitSink>(
        out: &mut S,
        p_slice: bool,
        init_idc: u8,
        qp: u8,
    ) -> Result<Self, BitError> {
        out.align_with(true)?;
        Ok(CabacWriter {
            e: Engine::new(p_slice, init_idc, qp),
            p_slice,
        })
    }

    fn bin<S: BitSink>(&mut self, out: &mut S, ctx: usize, b: bool) -> Result<(), BitError> {
        self.e.decision(out, ctx, b)
    }

    /// Writes one macroblock (including mb_skip_flag in P slices) and end_of_slice_flag.
    pub fn mb<S: BitSink>(
        &mut self,
        out: &mut S,
        cur: &MbInfo,
        co: &Coeffs,
        left: Option<&MbInfo>,
        top: Option<&MbInfo>,
        last: bool,
    ) -> Result<(), BitError> {
        if self.p_slice {
            let c = |n: Option<&MbInfo>| {
                n.map(|m| m.mb_type != MbType::PSkip).unwrap_or(false) as usize
            };
            let skip = cur.mb_type == MbType::PSkip;
            self.bin(out, 11 + c(left) + c(top), skip)?;
            if skip {
                return self.e.terminate(out, last);
            }
        }
        self.mb_type(out, cur, left, top)?;
        let intra = cur.mb_type.is_intra();
        match cur.mb_type {
            MbType::I4x4 => {
                for blk in 0..16 {
                    let r = BLK_RASTER[blk];
                    let pm = pred_i4_mode(&cur.i4_modes, r & 3, r >> 2, left, top);
                    let m = cur.i4_modes[r];
                    self.bin(out, 68, m == pm)?;
                    if m != pm {
                        let rem = if m < pm { m } else { m - 1 };
                        for k in 0..3 {
                            self.bin(out, 69, (rem >> k) & 1 == 1)?;
                        }
                    }
                }
                self.chroma_mode(out, cur, left, top)?;
            }
            MbType::I16x16 => self.chroma_mode(out, cur, left, top)?,
            _ => {
                let parts: &[usize] = if cur.mb_type == MbType::P8x8 {
                    for _ in 0..4 {
                        self.bin(out, 21, true)?; // sub_mb_type P_L0_8x8
                    }
                    &[0, 1, 2, 3]
                } else {
                    &[0]
                };
                for &q in parts {
                    let (x, y) = ((q & 1) * 2, (q >> 1) * 2);
                    for comp in 0..2 {
                        // absMvdComp of the partitions left of and above this one (9.3.3.1.1.7).
                        let a = if x > 0 {
                            mvd_abs(Some(cur), q - 1, comp)
                        } else {
                            mvd_abs(left, q + 1, comp)
                        };
                        let b = if y > 0 {
                            mvd_abs(Some(cur), q - 2, comp)
                        } else {
                            mvd_abs(top, q + 2, comp)
                        };
                        let base = if comp == 0 { 40 } else { 47 };
                        self.mvd(out, base, a + b, cur.mvds[q][comp] as i32)?;
                    }
                }
            }
        }
        if cur.mb_type != MbType::I16x16 {
            self.cbp(out, cur, left, top)?;
        }
        if cur.cbp != 0 || cur.mb_type == MbType::I16x16 {
            self.bin(out, 60, false)?; // mb_qp_delta = 0
            self.residual(out, cur, co, left, top, intra)?;
        }
        self.e.terminate(out, last)
    }

    fn mb_type<S: BitSink>(
        &mut self,
        out: &mut S,
        cur: &MbInfo,
        left: Option<&MbInfo>,
        top: Option<&MbInfo>,
    ) -> Result<(), BitError> {
        let i16 = cur.mb_type == MbType::I16x16;
        let cbp_l = cur.cbp & 15;
        let cbp_c = cur.cbp >> 4;
        // (first bin ctx, then ctxIdx for luma, chroma, chroma==2, mode bits)
        let (c_l, c_c, c_c2, c_m1, c_m0);
        if self.p_slice {
            if cur.mb_type == MbType::P16x16 || cur.mb_type == MbType::P8x8 {
                // P_L0_16x16 "000", P_8x8 "001" (Table 9-37).
                self.bin(out, 14, false)?;
                self.bin(out, 15, false)?;
                return self.bin(out, 16, cur.mb_type == MbType::P8x8);
            }
            self.bin(out, 14, true)?;
            self.bin(out, 17, i16)?;
            (c_l, c_c, c_c2, c_m1, c_m0) = (18, 19, 19, 20, 20);
        } else {
            let c =
                |n: Option<&MbInfo>| n.map(|m| m.mb_type != MbType::I4x4).unwrap_or(false) as usize;
            self.bin(out, 3 + c(left) + c(top), i16)?;
            (c_l, c_c, c_c2, c_m1, c_m0) = (6, 7, 8, 9, 10);
        }
        if !i16 {
            return Ok(());
        }
        self.e.terminate(out, false)?;
        self.bin(out, c_l, cbp_l != 0)?;
        self.bin(out, c_c, cbp_c != 0)?;
        if cbp_c != 0 {
            self.bin(out, c_c2, cbp_c == 2)?;
        }
        self.bin(out, c_m1, cur.i16_mode & 2 != 0)?;
        self.bin(out, c_m0, cur.i16_mode & 1 != 0)
    }

    fn chroma_mode<S: BitSink>(
        &mut self,
        out: &mut S,
        cur: &MbInfo,
        left: Option<&MbInfo>,
        top: Option<&MbInfo>,
    ) -> Result<(), BitError> {
        let c = |n: Option<&MbInfo>| {
            n.map(|m| m.mb_type.is_intra() && m.chroma_mode != 0)
                .unwrap_or(false) as usize
        };
        let m = cur.chroma_mode;
        self.bin(out, 64 + c(left) + c(top), m != 0)?;
        if m != 0 {
            self.bin(out, 67, m != 1)?;
            if m != 1 {
                self.bin(out, 67, m != 2)?;
            }
        }
        Ok(())
    }

    fn mvd<S: BitSink>(
        &mut self,
        out: &mut S,
        base: usize,
        sum: u32,
        v: i32,
    ) -> Result<(), BitError> {
        let a = v.unsigned_abs();
        let inc = if sum < 3 {
            0
        } else if sum <= 32 {
            1
        } else {
            2
        };
        self.bin(out, base + inc, a != 0)?;
        if a == 0 {
            return Ok(());
        }
        const INC: [usize; 8] = [3, 4, 5, 6, 6, 6, 6, 6];
        let prefix = a.min(9);
        for i in 1..prefix as usize {
            self.bin(out, base + INC[i - 1], true)?;
        }
        if prefix < 9 {
            self.bin(out, base + INC[prefix as usize - 1], false)?;
        } else {
            self.e.exp_golomb(out, a - 9, 3)?;
        }
        self.e.bypass(out, v < 0)
    }

    fn cbp<S: BitSink>(
        &mut self,
        out: &mut S,
        cur: &MbInfo,
        left: Option<&MbInfo>,
        top: Option<&MbInfo>,
    ) -> Result<(), BitError> {
        // condTermFlagN is 1 when the neighbouring 8×8 block has no coded luma (or is skipped),
        // 0 when it is coded or the neighbour is missing (9.3.3.1.1.4).
        let nb = |n: Option<&MbInfo>, b8: usize| -> usize {
            match n {
                None => 0,
                Some(m) if m.mb_type == MbType::PSkip => 1,
                Some(m) => ((m.cbp >> b8) & 1 == 0) as usize,
            }
        };
        let cbp = cur.cbp;
        for b8 in 0..4usize {
            let (x, y) = (b8 & 1, b8 >> 1);
            let a = if x > 0 {
                ((cbp >> (b8 - 1)) & 1 == 0) as usize
            } else {
                nb(left, b8 + 1)
            };
            let b = if y > 0 {
                ((cbp >> (b8 - 2)) & 1 == 0) as usize
            } else {
                nb(top, b8 + 2)
            };
            self.bin(out, 73 + a + 2 * b, (cbp >> b8) & 1 != 0)?;
        }
        let cc = |n: Option<&MbInfo>, two: bool| -> usize {
            match n {
                None => 0,
                Some(m) if m.mb_type == MbType::PSkip => 0,
                Some(m) => {
                    let c = m.cbp >> 4;
                    (if two { c == 2 } else { c != 0 }) as usize
                }
            }
        };
        let c = cbp >> 4;
        self.bin(out, 77 + cc(left, false) + 2 * cc(top, false), c != 0)?;
        if c != 0 {
            self.bin(out, 77 + 4 + cc(left, true) + 2 * cc(top, true), c == 2)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn residual<S: BitSink>(
        &mut self,
        out: &mut S,
        cur: &MbInfo,
        co: &Coeffs,
        left: Option<&MbInfo>,
        top: Option<&MbInfo>,
        intra: bool,
    ) -> Result<(), BitError> {
        let missing = intra as usize;
        let cbp_l = cur.cbp & 15;
        let cbp_c = cur.cbp >> 4;
        // coded_block_flag of a luma 4×4 (or AC) block of a neighbouring macroblock.
        let luma_nb = |n: Option<&MbInfo>, r: usize| -> usize {
            match n {
                None => missing,
                Some(m) if m.mb_type == MbType::PSkip => 0,
                Some(m) => {
                    let b8 = ((r >> 3) << 1) | ((r & 3) >> 1);
                    if (m.cbp >> b8) & 1 == 0 {
                        0
                    } else {
                        (m.nnz[r] > 0) as usize
                    }
                }
            }
        };
        let luma_inc = |r: usize| -> usize {
            let (x, y) = (r & 3, r >> 2);
            let a = if x > 0 {
                (cur.nnz[r - 1] > 0) as usize
            } else {
                luma_nb(left, r + 3)
            };
            let b = if y > 0 {
                (cur.nnz[r - 4] > 0) as usize
            } else {
                luma_nb(top, r + 12)
            };
            a + 2 * b
        };
        if cur.mb_type == MbType::I16x16 {
            let dc_nb = |n: Option<&MbInfo>| -> usize {
                match n {
                    None => missing,
                    Some(m) if m.mb_type == MbType::I16x16 => (m.cbf_dc & 1) as usize,
                    Some(_) => 0,
                }
            };
            let inc = dc_nb(left) + 2 * dc_nb(top);
            self.block(out, &co.luma_dc, Cat::LumaDc, inc)?;
            if cbp_l != 0 {
                for blk in 0..16 {
                    let r = BLK_RASTER[blk];
                    self.block(out, &co.luma[r][1..16], Cat::LumaAc, luma_inc(r))?;
                }
            }
        } else {
            for blk in 0..16 {
                if cbp_l & (1 << (blk >> 2)) == 0 {
                    continue;
                }
                let r = BLK_RASTER[blk];
                self.block(out, &co.luma[r], Cat::Luma4x4, luma_inc(r))?;
            }
        }
        if cbp_c != 0 {
            for c in 0..2 {
                let nb = |n: Option<&MbInfo>| -> usize {
                    match n {
                        None => missing,
                        Some(m) if m.mb_type == MbType::PSkip || m.cbp >> 4 == 0 => 0,
                        Some(m) => ((m.cbf_dc >> (1 + c)) & 1) as usize,
                    }
                };
                let inc = nb(left) + 2 * nb(top);
                self.block(out, &co.cdc[c], Cat::ChromaDc, inc)?;
            }
        }
        if cbp_c == 2 {
            for c in 0..2 {
                let nb = |n: Option<&MbInfo>, b: usize| -> usize {
                    match n {
                        None => missing,
                        Some(m) if m.mb_type == MbType::PSkip || m.cbp >> 4 != 2 => 0,
                        Some(m) => (m.nnz_c[c][b] > 0) as usize,
                    }
                };
                for b in 0..4 {
                    let (x, y) = (b & 1, b >> 1);
                    let a = if x > 0 {
                        (cur.nnz_c[c][b - 1] > 0) as usize
                    } else {
                        nb(left, b + 1)
                    };
                    let t = if y > 0 {
                        (cur.nnz_c[c][b - 2] > 0) as usize
                    } else {
                        nb(top, b + 2)
                    };
                    self.block(out, &co.cac[c][b][1..16], Cat::ChromaAc, a + 2 * t)?;
                }
            }
        }
        Ok(())
    }

    /// residual_block_cabac() for one block (coefficients in scan order).
    fn block<S: BitSink>(
        &mut self,
        out: &mut S,
        c: &[i16],
        cat: Cat,
        cbf_inc: usize,
    ) -> Result<(), BitError> {
        let cat_i = cat as usize;
        let last = c.iter().rposition(|&v| v != 0);
        self.bin(out, 85 + CBF_OFF[cat_i] + cbf_inc, last.is_some())?;
        let last = match last {
            Some(l) => l,
            None => return Ok(()),
        };
        let n = c.len();
        let sig = 105 + SIG_OFF[cat_i];
        let lst = 166 + SIG_OFF[cat_i];
        for (i, &v) in c.iter().enumerate().take(n - 1) {
            let inc = if cat == Cat::ChromaDc { i.min(2) } else { i };
            self.bin(out, sig + inc, v != 0)?;
            if v != 0 {
                self.bin(out, lst + inc, i == last)?;
                if i == last {
                    break;
                }
            }
        }
        let abs = 227 + ABS_OFF[cat_i];
        let max_gt1 = if cat == Cat::ChromaDc { 3 } else { 4 };
        let (mut eq1, mut gt1) = (0usize, 0usize);
        for &v in c[..=last].iter().rev() {
            if v == 0 {
                continue;
            }
            let m1 = v.unsigned_abs() as u32 - 1;
            let inc0 = if gt1 != 0 { 0 } else { (1 + eq1).min(4) };
            self.bin(out, abs + inc0, m1 > 0)?;
            if m1 > 0 {
                let ctx = abs + 5 + gt1.min(max_gt1);
                let prefix = m1.min(14);
                for _ in 1..prefix {
                    self.bin(out, ctx, true)?;
                }
                if prefix < 14 {
                    self.bin(out, ctx, false)?;
                } else {
                    self.e.exp_golomb(out, m1 - 14, 0)?;
                }
                gt1 += 1;
            } else {
                eq1 += 1;
            }
            self.e.bypass(out, v < 0)?;
        }
        Ok(())
    }

    /// Bins coded so far in this slice.
    pub fn bins(&self) -> u32 {
        self.e.bins
    }

    /// Pads after the final flush (whose last bit was the stop bit) to a byte boundary.
    pub fn finish<S: BitSink>(&mut self, out: &mut S) -> Result<(), BitError> {
        out.align_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::bits::BitWriter;
    use crate::h264::testutil::Rng;

    /// The bit-serial encoder exactly as written in 9.3.4 (the reference for the tests).
    pub struct RefEngine {
        low: u32,
        range: u32,
        outstanding: u32,
        first: bool,
        /// Output bits not yet handed to the sink (right-aligned), batched because a sink call per
        /// bit is the slowest part of CABAC otherwise.
        acc: u32,
        nacc: u32,
        /// (pStateIdx << 1) | valMPS per ctxIdx.
        st: [u8; NUM_CTX],
        /// Bins coded so far (BinCountsInNALunits).
        pub bins: u32,
    }

    impl RefEngine {
        /// Initialises contexts for the slice (9.3.1.1) and the engine (9.3.4.1).
        pub fn new(p_slice: bool, init_idc: u8, qp: u8) -> Self {
            let st = super::init_contexts(p_slice, init_idc, qp);
            RefEngine {
                low: 0,
                range: 510,
                outstanding: 0,
                first: true,
                acc: 0,
                nacc: 0,
                st,
                bins: 0,
            }
        }

        /// Queues `n` (≤ 8) bits.
        fn emit<S: BitSink>(&mut self, out: &mut S, n: u32, v: u32) -> Result<(), BitError> {
            self.acc = (self.acc << n) | (v & ((1 << n) - 1));
            self.nacc += n;
            if self.nacc >= 24 {
                self.flush_bits(out)?;
            }
            Ok(())
        }

        /// Hands all queued bits to the sink.
        fn flush_bits<S: BitSink>(&mut self, out: &mut S) -> Result<(), BitError> {
            if self.nacc > 0 {
                out.put_bits(self.nacc, self.acc)?;
            }
            self.acc = 0;
            self.nacc = 0;
            Ok(())
        }

        fn put_bit<S: BitSink>(&mut self, out: &mut S, b: u32) -> Result<(), BitError> {
            if self.first {
                self.first = false;
            } else {
                self.emit(out, 1, b)?;
            }
            let fill = if b == 0 { 0xff } else { 0 };
            while self.outstanding > 0 {
                let n = self.outstanding.min(8);
                self.emit(out, n, fill)?;
                self.outstanding -= n;
            }
            Ok(())
        }

        /// RenormE (9.3.4.3). Most bins (MPS in a wide interval) need none: that test is inlined
        /// into every caller, the loop is not.
        #[inline(always)]
        fn renorm<S: BitSink>(&mut self, out: &mut S) -> Result<(), BitError> {
            if self.range >= 256 {
                return Ok(());
            }
            self.renorm_loop(out)
        }

        #[inline(never)]
        fn renorm_loop<S: BitSink>(&mut self, out: &mut S) -> Result<(), BitError> {
            while self.range < 256 {
                if self.low < 256 {
                    self.put_bit(out, 0)?;
                } else if self.low >= 512 {
                    self.low -= 512;
                    self.put_bit(out, 1)?;
                } else {
                    self.low -= 256;
                    self.outstanding += 1;
                }
                self.range <<= 1;
                self.low <<= 1;
            }
            Ok(())
        }

        /// Encodes one decision bin with context `ctx` (9.3.4.2).
        pub fn decision<S: BitSink>(
            &mut self,
            out: &mut S,
            ctx: usize,
            bin: bool,
        ) -> Result<(), BitError> {
            let s = self.st.get(ctx).copied().unwrap_or(0);
            let (state, mps) = ((s >> 1) as usize, s & 1);
            let lps = RANGE_LPS[state & 63][((self.range >> 6) & 3) as usize] as u32;
            self.range -= lps;
            let ns = if bin as u8 == mps {
                (TRANS_MPS[state & 63] << 1) | mps
            } else {
                self.low += self.range;
                self.range = lps;
                let m = if state == 0 { 1 - mps } else { mps };
                (TRANS_LPS[state & 63] << 1) | m
            };
            if let Some(slot) = self.st.get_mut(ctx) {
                *slot = ns;
            }
            self.renorm(out)
        }

        /// Encodes one bypass bin (9.3.4.4).
        pub fn bypass<S: BitSink>(&mut self, out: &mut S, bin: bool) -> Result<(), BitError> {
            self.bins = self.bins.wrapping_add(1);
            self.low <<= 1;
            if bin {
                self.low += self.range;
            }
            if self.low >= 1024 {
                self.put_bit(out, 1)?;
                self.low -= 1024;
            } else if self.low < 512 {
                self.put_bit(out, 0)?;
            } else {
                self.low -= 512;
                self.outstanding += 1;
            }
            Ok(())
        }

        /// Encodes a bin before termination (9.3.4.5); a 1 flushes the engine, whose last written
        /// bit is the rbsp_stop_one_bit.
        pub fn terminate<S: BitSink>(&mut self, out: &mut S, bin: bool) -> Result<(), BitError> {
            self.bins = self.bins.wrapping_add(1);
            self.range -= 2;
            if bin {
                self.low += self.range;
                self.range = 2;
                self.renorm(out)?;
                self.put_bit(out, (self.low >> 9) & 1)?;
                self.emit(out, 2, ((self.low >> 7) & 3) | 1)?;
                self.flush_bits(out)
            } else {
                self.renorm(out)
            }
        }
    }

    /// The byte-oriented engine writes exactly the bits of the bit-serial one, for skewed and
    /// balanced bin streams, bypass runs and termination (including nearly empty slices).
    #[test]
    fn engine_matches_the_bit_serial_reference() {
        let mut rng = Rng::new(5);
        for round in 0..400 {
            let mut a_buf = [0u8; 4096];
            let mut b_buf = [0u8; 4096];
            let mut a = BitWriter::new(&mut a_buf);
            let mut b = BitWriter::new(&mut b_buf);
            let mut e = Engine::new(true, (round % 3) as u8, (round % 52) as u8);
            let mut r = RefEngine::new(true, (round % 3) as u8, (round % 52) as u8);
            let n = match round % 4 {
                0 => round % 7,
                _ => rng.range(0, 3000) as usize,
            };
            let skew = rng.range(0, 100);
            for _ in 0..n {
                let k = rng.range(0, 99);
                if k < 80 {
                    let ctx = rng.range(0, 40) as usize;
                    let bin = rng.range(0, 99) < skew;
                    e.decision(&mut a, ctx, bin).unwrap();
                    r.decision(&mut b, ctx, bin).unwrap();
                } else if k < 98 {
                    let bin = rng.bool();
                    e.bypass(&mut a, bin).unwrap();
                    r.bypass(&mut b, bin).unwrap();
                } else {
                    e.terminate(&mut a, false).unwrap();
                    r.terminate(&mut b, false).unwrap();
                }
            }
            e.terminate(&mut a, true).unwrap();
            r.terminate(&mut b, true).unwrap();
            assert_eq!(a.bit_position(), b.bit_position(), "round {round}");
            let (na, nb) = (a.bytes_written(), b.bytes_written());
            assert_eq!(a.written()[..na], b.written()[..nb], "round {round}");
        }
    }
}
