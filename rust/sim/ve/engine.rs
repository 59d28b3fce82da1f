// SPDX-License-Identifier: GPL-2.0
//! The encoder behind the model's trigger.
//!
//! The model decodes the registers into a [`SliceJob`] and hands the frames to a
//! [`SliceEngine`]. The real one is the software slice encoder of `crate::sim::h264`; the
//! trait keeps the register model independent of it and lets tests use [`StubEngine`].

use crate::h264::bits::{BitError, BitSink};

/// Slice type of the job (AVC_PARA0.SLICE_TYPE 0 or 1; P-skipped and B are refused by the
/// model, cedrus.md §1.3, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobSliceType {
    /// Intra.
    I,
    /// Predicted from REF0.
    P,
}

/// Entropy coder (AVC_PARA0 bit 8 and CABAC_INIT_IDC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobEntropy {
    /// CAVLC.
    Cavlc,
    /// CABAC with `cabac_init_idc` 0..2.
    Cabac {
        /// cabac_init_idc.
        init_idc: u8,
    },
}

/// Deblocking parameters (AVC_PARA0 DEBLOCK_IDC, ALPHA/BETA_OFFSET_DIV2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobDeblock {
    /// disable_deblocking_filter_idc 0..2.
    pub disable_idc: u8,
    /// slice_alpha_c0_offset_div2, −6..6.
    pub alpha_c0_offset_div2: i8,
    /// slice_beta_offset_div2, −6..6.
    pub beta_offset_div2: i8,
}

/// Everything the slice-data encoder needs, decoded from the registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceJob {
    /// Slice type.
    pub slice_type: JobSliceType,
    /// Slice QP 0..51 (AVC_PARA1.QP).
    pub qp: u8,
    /// chroma_qp_index_offset 0..7 (AVC_PARA1.CHROMA_QP_OFFSET).
    pub chroma_qp_index_offset: i8,
    /// Entropy coder.
    pub entropy: JobEntropy,
    /// Deblocking.
    pub deblock: JobDeblock,
    /// Width in MBs.
    pub width_mbs: u16,
    /// Height in MBs.
    pub height_mbs: u16,
}

/// An NV12 frame in scratch memory: luma then interleaved chroma, same stride.
pub struct Frame<'a> {
    /// Luma plane, `stride × 16·height_mbs` bytes.
    pub y: &'a [u8],
    /// Interleaved CbCr plane, `stride × 8·height_mbs` bytes.
    pub uv: &'a [u8],
    /// Bytes per row of both planes.
    pub stride: usize,
}

/// A writable NV12 frame (the reconstruction).
pub struct FrameMut<'a> {
    /// Luma plane.
    pub y: &'a mut [u8],
    /// Interleaved CbCr plane.
    pub uv: &'a mut [u8],
    /// Bytes per row of both planes.
    pub stride: usize,
}

/// Why the engine failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineError {
    /// The bit sink refused bits (the stream unit is full or faulted).
    Bits(BitError),
    /// The engine refused the job (parameters or buffers it cannot handle).
    Rejected,
}

impl From<BitError> for EngineError {
    fn from(e: BitError) -> Self {
        EngineError::Bits(e)
    }
}

/// Encodes the slice data of one picture: everything after the slice header, up to and
/// including `rbsp_slice_trailing_bits`, into `out`, and writes the reconstruction.
pub trait SliceEngine {
    /// Encodes one slice. `reference` is `Some` exactly for P slices.
    fn encode<S: BitSink>(
        &mut self,
        job: &SliceJob,
        src: &Frame<'_>,
        reference: Option<&Frame<'_>>,
        recon: &mut FrameMut<'_>,
        out: &mut S,
    ) -> Result<(), EngineError>;
}

/// A stand-in engine for register-level tests: the reconstruction is the source, and the
/// "slice data" is the rounded mean of each MB's luma, repeated more often at low QP so the
/// size responds to QP. It does not produce decodable H.264.
#[derive(Debug, Default, Clone, Copy)]
pub struct StubEngine;

impl SliceEngine for StubEngine {
    fn encode<S: BitSink>(
        &mut self,
        job: &SliceJob,
        src: &Frame<'_>,
        _reference: Option<&Frame<'_>>,
        recon: &mut FrameMut<'_>,
        out: &mut S,
    ) -> Result<(), EngineError> {
        let n = recon.y.len().min(src.y.len());
        recon
            .y
            .get_mut(..n)
            .ok_or(EngineError::Rejected)?
            .copy_from_slice(src.y.get(..n).ok_or(EngineError::Rejected)?);
        let n = recon.uv.len().min(src.uv.len());
        recon
            .uv
            .get_mut(..n)
            .ok_or(EngineError::Rejected)?
            .copy_from_slice(src.uv.get(..n).ok_or(EngineError::Rejected)?);
        if let JobEntropy::Cabac { .. } = job.entropy {
            out.align_with(true)?; // cabac_alignment_one_bit
        }
        let reps = 1 + (51u32.saturating_sub(job.qp as u32) >> 3);
        let mut rows = src.y.chunks(src.stride.max(1));
        for _ in 0..job.height_mbs {
            let mut sums = [0u32; 256];
            for _ in 0..16 {
                let row = rows.next().unwrap_or(&[]);
                for (s, mb) in sums
                    .iter_mut()
                    .zip(row.chunks(16).take(job.width_mbs as usize))
                {
                    *s = mb.iter().fold(*s, |a, &p| a.wrapping_add(p as u32));
                }
            }
            for &sum in sums.iter().take(job.width_mbs as usize) {
                for _ in 0..reps {
                    out.put_bits(8, sum.wrapping_add(128) >> 8)?;
                }
            }
        }
        out.rbsp_trailing_bits()?;
        Ok(())
    }
}

/// A decodable stand-in: every macroblock is coded as I_PCM (CAVLC only), so the
/// reconstruction is the source bit for bit and any H.264 decoder reproduces it. Lets the
/// model, the put-bits headers and the driver be tested end to end before (or besides) the
/// real software encoder. CABAC jobs are rejected.
#[derive(Debug, Default, Clone, Copy)]
pub struct PcmEngine;

impl SliceEngine for PcmEngine {
    fn encode<S: BitSink>(
        &mut self,
        job: &SliceJob,
        src: &Frame<'_>,
        _reference: Option<&Frame<'_>>,
        recon: &mut FrameMut<'_>,
        out: &mut S,
    ) -> Result<(), EngineError> {
        if job.entropy != JobEntropy::Cavlc {
            return Err(EngineError::Rejected);
        }
        let p = job.slice_type == JobSliceType::P;
        let (w, h) = (job.width_mbs as usize, job.height_mbs as usize);
        let stride = src.stride;
        if recon.stride != stride {
            return Err(EngineError::Rejected);
        }
        for mby in 0..h {
            for mbx in 0..w {
                if p {
                    out.put_ue(0)?; // mb_skip_run (7.3.4)
                }
                // mb_type I_PCM: 25 in I slices, 5 + 25 in P slices (Tables 7-11, 7-13).
                out.put_ue(if p { 30 } else { 25 })?;
                out.align_zero()?; // pcm_alignment_zero_bit
                for r in 0..16 {
                    let (o, e) = mb_row(mby * 16 + r, stride, mbx)?;
                    let row = src.y.get(o..e).ok_or(EngineError::Rejected)?;
                    recon
                        .y
                        .get_mut(o..e)
                        .ok_or(EngineError::Rejected)?
                        .copy_from_slice(row);
                    for &b in row {
                        out.put_bits(8, b as u32)?;
                    }
                }
                for plane in 0..2 {
                    for r in 0..8 {
                        let (o, e) = mb_row(mby * 8 + r, stride, mbx)?;
                        let row = src.uv.get(o..e).ok_or(EngineError::Rejected)?;
                        recon
                            .uv
                            .get_mut(o..e)
                            .ok_or(EngineError::Rejected)?
                            .copy_from_slice(row);
                        for &b in row.iter().skip(plane).step_by(2) {
                            out.put_bits(8, b as u32)?;
                        }
                    }
                }
            }
        }
        out.rbsp_trailing_bits()?;
        Ok(())
    }
}

/// Byte range of the 16 bytes of macroblock column `mbx` in row `row` (checked maths: the
/// model bounds the sizes, but the engine must not rely on it).
fn mb_row(row: usize, stride: usize, mbx: usize) -> Result<(usize, usize), EngineError> {
    let o = row
        .checked_mul(stride)
        .and_then(|v| v.checked_add(mbx.checked_mul(16)?))
        .ok_or(EngineError::Rejected)?;
    Ok((o, o.checked_add(16).ok_or(EngineError::Rejected)?))
}

/// The real engine: the software H.264 slice encoder of `crate::sim::h264`, so the model's
/// output decodes and its size responds to QP like the hardware's (ARCHITECTURE.md §5).
///
/// Its per-macroblock scratch is caller-provided (the kernel allocates it once):
/// [`SwEngine::scratch_len`] entries for the largest picture.
pub struct SwEngine<'a> {
    /// Per-macroblock state of the encoder.
    pub scratch: &'a mut [crate::sim::h264::MbInfo],
    /// Statistics of the last successful slice.
    pub last_stats: Option<crate::sim::h264::SliceStats>,
    /// The encoder's error when the last job was refused (diagnostics).
    pub last_error: Option<crate::sim::h264::EncodeError>,
}

impl<'a> SwEngine<'a> {
    /// An engine using `scratch` as its macroblock state.
    pub fn new(scratch: &'a mut [crate::sim::h264::MbInfo]) -> Self {
        Self {
            scratch,
            last_stats: None,
            last_error: None,
        }
    }

    /// Scratch entries needed for a `width_mbs × height_mbs` picture.
    pub fn scratch_len(width_mbs: u16, height_mbs: u16) -> usize {
        crate::sim::h264::scratch_len(width_mbs, height_mbs)
    }
}

impl SliceEngine for SwEngine<'_> {
    fn encode<S: BitSink>(
        &mut self,
        job: &SliceJob,
        src: &Frame<'_>,
        reference: Option<&Frame<'_>>,
        recon: &mut FrameMut<'_>,
        out: &mut S,
    ) -> Result<(), EngineError> {
        use crate::sim::h264 as sw;
        let params = sw::SliceParams {
            slice_type: match job.slice_type {
                JobSliceType::I => sw::SliceType::I,
                JobSliceType::P => sw::SliceType::P,
            },
            qp: job.qp,
            chroma_qp_index_offset: job.chroma_qp_index_offset,
            entropy: match job.entropy {
                JobEntropy::Cavlc => sw::Entropy::Cavlc,
                JobEntropy::Cabac { init_idc } => sw::Entropy::Cabac { init_idc },
            },
            deblock: sw::Deblock {
                disable_idc: job.deblock.disable_idc,
                alpha_c0_offset_div2: job.deblock.alpha_c0_offset_div2,
                beta_offset_div2: job.deblock.beta_offset_div2,
            },
            width_mbs: job.width_mbs,
            height_mbs: job.height_mbs,
        };
        fn nv12<'f>(f: &Frame<'f>) -> crate::sim::h264::Nv12<'f> {
            use crate::sim::h264::{Nv12, Plane};
            Nv12 {
                y: Plane {
                    data: f.y,
                    stride: f.stride,
                },
                uv: Plane {
                    data: f.uv,
                    stride: f.stride,
                },
            }
        }
        let src = nv12(src);
        let reference = reference.map(nv12);
        let mut rec = sw::Nv12Mut {
            y: sw::PlaneMut {
                data: &mut *recon.y,
                stride: recon.stride,
            },
            uv: sw::PlaneMut {
                data: &mut *recon.uv,
                stride: recon.stride,
            },
        };
        self.last_stats = None;
        self.last_error = None;
        match sw::encode_slice(
            &params,
            &src,
            reference.as_ref(),
            &mut rec,
            self.scratch,
            out,
        ) {
            Ok(stats) => {
                self.last_stats = Some(stats);
                Ok(())
            }
            Err(e) => {
                self.last_error = Some(e);
                Err(match e {
                    sw::EncodeError::Bits(b) => EngineError::Bits(b),
                    _ => EngineError::Rejected,
                })
            }
        }
    }
}
