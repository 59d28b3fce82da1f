// SPDX-License-Identifier: GPL-2.0
//! A software H.264 slice-data encoder: the "hardware" inside the encoder models.
//!
//! [`encode_slice`] codes one slice covering a whole 8-bit 4:2:0 frame into a caller-provided
//! [`BitSink`], after the slice header the caller wrote, and writes the decoder's (deblocked)
//! reconstruction, so the model's reference frames are exactly what a decoder holds.
//!
//! Coding tools (all within Main profile): I and P slices; CAVLC or CABAC (cabac_init_idc
//! 0..=2); Intra 4×4 (9 modes) and Intra 16×16 (4 modes) with 4 chroma modes, in I and P
//! slices; P_L0_16x16, P_8x8 (four P_L0_8x8) and P_Skip with one reference picture
//! (num_ref_idx_l0_active = 1, so no ref_idx); quarter-sample motion; the in-loop deblocking
//! filter with disable_deblocking_filter_idc 0/1/2 and its offsets; chroma_qp_index_offset.
//! Assumed by the caller's headers: frame_mbs_only, no weighted prediction, no
//! transform_8x8_mode, no scaling matrices, one slice per picture, mb_qp_delta always 0 (every
//! macroblock uses SliceQPY).
//!
//! Module map: [`mb`] (mode decision, residual coding, reconstruction), [`intra`], [`inter`]
//! (interpolation, MV prediction, motion search), [`transform`], [`quant`], [`cavlc`],
//! [`cabac`] (engine, contexts, binarisations), [`deblock`], [`tables`].
//!
//! Encoder choices (not normative): mode decisions by SATD/SAD + λ·bits, dead-zone
//! quantisation (f = 1/3 intra, 1/6 inter), coefficient decimation of inter blocks, diamond
//! integer search (±64 samples) with half/quarter refinement, levels clamped to ±2047 (what
//! CAVLC can code in Main profile), P_Skip when the skip vector quantises to nothing.
//!
//! Kernel constraints: no allocation (per-macroblock state lives in caller-provided [`MbInfo`]
//! scratch), no floating point, no 64-bit division, no `unsafe`. Stack: the deepest call chain
//! measured on armv7a (`-Z emit-stack-sizes`) is about 4.5 KiB below `encode_slice`'s own
//! frame (≈ 2 KiB), so run it where ~7 KiB of stack are free.
//!
//! CABAC streams can, in principle, exceed the bin-count limit of 7.4.2.10; the caller appends
//! [`cabac_zero_words_needed`] cabac_zero_words after the slice to stay conformant.

// Index loops over blocks and samples mirror the standard's notation (blkIdx, x, y) and keep
// the neighbour arithmetic readable; iterator rewrites would obscure it.
#![allow(clippy::needless_range_loop)]

pub mod cabac;
pub mod cavlc;
pub mod deblock;
pub mod inter;
pub mod intra;
pub mod mb;
pub mod quant;
pub mod tables;
pub mod transform;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use crate::h264::bits::{BitError, BitSink};

/// Slice type of the slice to encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceType {
    /// Intra slice.
    I,
    /// Predicted slice with one reference picture (refIdx 0).
    P,
}

/// Entropy coder, which must match the PPS's entropy_coding_mode_flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entropy {
    /// CAVLC.
    Cavlc,
    /// CABAC with the slice header's cabac_init_idc (0..=2, ignored for I slices).
    Cabac {
        /// cabac_init_idc.
        init_idc: u8,
    },
}

/// Deblocking controls from the slice header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Deblock {
    /// disable_deblocking_filter_idc: 0 on, 1 off, 2 on except across slice edges.
    pub disable_idc: u8,
    /// slice_alpha_c0_offset_div2 (−6..=6).
    pub alpha_c0_offset_div2: i8,
    /// slice_beta_offset_div2 (−6..=6).
    pub beta_offset_div2: i8,
}

/// Everything the slice data depends on from the SPS/PPS/slice header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceParams {
    /// I or P.
    pub slice_type: SliceType,
    /// SliceQPY (0..=51); every macroblock uses it (mb_qp_delta is always 0).
    pub qp: u8,
    /// PPS chroma_qp_index_offset (−12..=12).
    pub chroma_qp_index_offset: i8,
    /// Entropy coder.
    pub entropy: Entropy,
    /// Deblocking.
    pub deblock: Deblock,
    /// Picture width in macroblocks.
    pub width_mbs: u16,
    /// Picture height in macroblocks.
    pub height_mbs: u16,
}

/// A read-only 8-bit plane.
#[derive(Clone, Copy, Debug)]
pub struct Plane<'a> {
    /// Samples, row after row.
    pub data: &'a [u8],
    /// Bytes from one row to the next.
    pub stride: usize,
}

/// A writable 8-bit plane.
#[derive(Debug)]
pub struct PlaneMut<'a> {
    /// Samples, row after row.
    pub data: &'a mut [u8],
    /// Bytes from one row to the next.
    pub stride: usize,
}

/// An NV12 frame (Y plane, interleaved CbCr plane at half resolution), sized in whole MBs.
#[derive(Clone, Copy, Debug)]
pub struct Nv12<'a> {
    /// Luma, width_mbs·16 × height_mbs·16.
    pub y: Plane<'a>,
    /// CbCr pairs, width_mbs·8 pairs × height_mbs·8 rows.
    pub uv: Plane<'a>,
}

/// A writable NV12 frame.
#[derive(Debug)]
pub struct Nv12Mut<'a> {
    /// Luma.
    pub y: PlaneMut<'a>,
    /// CbCr pairs.
    pub uv: PlaneMut<'a>,
}

impl<'a> Nv12Mut<'a> {
    /// A read-only view (e.g. to use a reconstruction as the next frame's reference).
    pub fn as_ref(&self) -> Nv12<'_> {
        Nv12 {
            y: Plane {
                data: self.y.data,
                stride: self.y.stride,
            },
            uv: Plane {
                data: self.uv.data,
                stride: self.uv.stride,
            },
        }
    }
}

/// Macroblock types we code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MbType {
    /// I_NxN with 4×4 prediction.
    #[default]
    I4x4,
    /// I_16x16_*.
    I16x16,
    /// P_L0_16x16.
    P16x16,
    /// P_8x8 with four P_L0_8x8 sub-macroblocks.
    P8x8,
    /// P_Skip.
    PSkip,
}

impl MbType {
    /// Intra macroblock.
    pub fn is_intra(self) -> bool {
        matches!(self, MbType::I4x4 | MbType::I16x16)
    }
}

/// Per-macroblock state kept for neighbours (prediction, entropy contexts, deblocking).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MbInfo {
    /// Macroblock type.
    pub mb_type: MbType,
    /// Intra16x16PredMode (I16x16 only).
    pub i16_mode: u8,
    /// intra_chroma_pred_mode (intra only, 0 otherwise).
    pub chroma_mode: u8,
    /// Intra4x4PredMode per 4×4 block in raster order (I4x4 only).
    pub i4_modes: [u8; 16],
    /// coded_block_pattern: bits 0..3 luma 8×8 blocks, bits 4..5 chroma (0, 1 or 2).
    pub cbp: u8,
    /// Non-zero coefficients per luma 4×4 block, raster order (AC only for I16x16).
    pub nnz: [u8; 16],
    /// Non-zero AC coefficients per chroma 4×4 block, [Cb, Cr] × raster order.
    pub nnz_c: [[u8; 4]; 2],
    /// coded_block_flag of the DC blocks: bit 0 luma (I16x16), bit 1 Cb, bit 2 Cr.
    pub cbf_dc: u8,
    /// Motion vector (quarter samples) of each 8×8 quadrant in raster order (all equal unless
    /// P8x8), zero for intra.
    pub mvs: [[i16; 2]; 4],
    /// Coded motion vector differences per 8×8 quadrant (CABAC contexts), zero unless
    /// P16x16/P8x8.
    pub mvds: [[i16; 2]; 4],
}

/// The 8×8 quadrant (raster order) holding luma 4×4 block (x, y) of a macroblock.
pub fn quadrant(x: usize, y: usize) -> usize {
    (y >> 1) * 2 + (x >> 1)
}

/// Number of [`MbInfo`] entries `encode_slice` needs as scratch.
pub fn scratch_len(width_mbs: u16, height_mbs: u16) -> usize {
    width_mbs as usize * height_mbs as usize
}

/// What one slice cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SliceStats {
    /// Bits written by `encode_slice` (slice data and trailing bits).
    pub bits: u64,
    /// Intra macroblocks (both sizes).
    pub intra_mbs: u32,
    /// Of those, Intra 4×4.
    pub i4x4_mbs: u32,
    /// P_Skip macroblocks.
    pub skip_mbs: u32,
    /// P_L0_16x16 and P_8x8 macroblocks.
    pub inter_mbs: u32,
    /// Of those, P_8x8.
    pub p8x8_mbs: u32,
    /// CABAC bins coded in the slice data (0 for CAVLC), for the bin-count limit of 7.4.2.10:
    /// see [`cabac_zero_words_needed`].
    pub cabac_bins: u32,
}

/// Number of cabac_zero_word (0x0000) the caller must append after the slice's
/// rbsp_slice_trailing_bits so that the NAL unit satisfies the CABAC bin-count constraint
/// (7.4.2.10, 9.3.4.6): BinCountsInNALunits ≤ 32/3 · NumBytesInVclNALunits +
/// RawMbBits · PicSizeInMbs / 32, with RawMbBits = 3072 for 8-bit 4:2:0. `nal_bytes` is the
/// size of the slice NAL unit (header byte and emulation prevention included) as written so
/// far. Rarely non-zero (only for extremely compressible, low-QP content).
pub fn cabac_zero_words_needed(stats: &SliceStats, nal_bytes: u32, pic_size_in_mbs: u32) -> u32 {
    // Everything in u32/u64 multiplications and shifts; the one division is by a constant on
    // u32 values (no 64-bit division on 32-bit ARM).
    let bins = stats.cabac_bins as u64;
    let allowance_mb = 96u64 * pic_size_in_mbs as u64; // 3072 / 32
                                                       // bins ≤ 32·bytes/3 + allowance  ⇔  3·(bins − allowance) ≤ 32·bytes.
    let excess3 = 3 * bins.saturating_sub(allowance_mb);
    let have = 32 * nal_bytes as u64;
    if excess3 <= have {
        return 0;
    }
    // Each cabac_zero_word adds 3 bytes (0x000003 after emulation prevention).
    let missing = (excess3 - have).min(u32::MAX as u64) as u32; // in 1/32 bytes
    let bytes = missing.div_ceil(32);
    bytes.div_ceil(3)
}

/// Why a slice could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A parameter is out of range (QP, offsets, idc, zero size).
    BadParams,
    /// A plane is smaller than the picture (or its stride too small).
    BadPlane,
    /// P slice without a reference picture.
    MissingReference,
    /// Fewer than [`scratch_len`] scratch entries.
    ScratchTooSmall,
    /// The bit sink refused the bits (e.g. output buffer full).
    Bits(BitError),
}

impl From<BitError> for EncodeError {
    fn from(e: BitError) -> Self {
        EncodeError::Bits(e)
    }
}

fn plane_ok(len: usize, stride: usize, width: usize, height: usize) -> bool {
    stride >= width
        && height > 0
        && match (height - 1)
            .checked_mul(stride)
            .and_then(|v| v.checked_add(width))
        {
            Some(need) => len >= need,
            None => false,
        }
}

fn frame_ok(f_y: (usize, usize), f_uv: (usize, usize), w: usize, h: usize) -> bool {
    plane_ok(f_y.0, f_y.1, w * 16, h * 16) && plane_ok(f_uv.0, f_uv.1, w * 16, h * 8)
}

/// Encodes one slice covering the whole picture.
///
/// Writes slice_data() after the slice header the caller already put into `out` (for CABAC
/// this includes cabac_alignment_one_bit), then rbsp_slice_trailing_bits(); the caller ends
/// the NAL unit. `recon` receives the decoder's output picture (deblocked), which must not
/// alias `reference`. `scratch` needs [`scratch_len`] entries.
pub fn encode_slice<S: BitSink>(
    p: &SliceParams,
    src: &Nv12,
    reference: Option<&Nv12>,
    recon: &mut Nv12Mut,
    scratch: &mut [MbInfo],
    out: &mut S,
) -> Result<SliceStats, EncodeError> {
    let w = p.width_mbs as usize;
    let h = p.height_mbs as usize;
    let init_ok = match p.entropy {
        Entropy::Cavlc => true,
        Entropy::Cabac { init_idc } => init_idc <= 2,
    };
    if w == 0
        || h == 0
        || p.qp > 51
        || !(-12..=12).contains(&p.chroma_qp_index_offset)
        || p.deblock.disable_idc > 2
        || !(-6..=6).contains(&p.deblock.alpha_c0_offset_div2)
        || !(-6..=6).contains(&p.deblock.beta_offset_div2)
        || !init_ok
    {
        return Err(EncodeError::BadParams);
    }
    if !frame_ok(
        (src.y.data.len(), src.y.stride),
        (src.uv.data.len(), src.uv.stride),
        w,
        h,
    ) || !frame_ok(
        (recon.y.data.len(), recon.y.stride),
        (recon.uv.data.len(), recon.uv.stride),
        w,
        h,
    ) {
        return Err(EncodeError::BadPlane);
    }
    if p.slice_type == SliceType::P {
        match reference {
            None => return Err(EncodeError::MissingReference),
            Some(r) => {
                if !frame_ok(
                    (r.y.data.len(), r.y.stride),
                    (r.uv.data.len(), r.uv.stride),
                    w,
                    h,
                ) {
                    return Err(EncodeError::BadPlane);
                }
            }
        }
    }
    let n = scratch_len(p.width_mbs, p.height_mbs);
    let info = scratch.get_mut(..n).ok_or(EncodeError::ScratchTooSmall)?;
    let start = out.bit_position();
    let mut stats = mb::encode_mbs(p, src, reference, recon, info, out)?;
    deblock::deblock_picture(p, recon, info);
    stats.bits = out.bit_position() - start;
    Ok(stats)
}
