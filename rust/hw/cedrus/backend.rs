// SPDX-License-Identifier: GPL-2.0
//! Per-frame programming of the V3s VE AVC encoder (cedrus.md §2, §7), written once against
//! [`Regs`] so the same code drives MMIO in the kernel and the register model
//! (`crate::sim::ve::Ve`, ARCHITECTURE.md §5).
//!
//! The backend is stateless: everything that persists between frames (references, POC, RC)
//! lives in the [`H264Session`]; the backend turns one [`FramePlan`] plus the frame's bus
//! addresses ([`FrameBuffers`]) into a register sequence, and the status registers into a
//! coded length or a [`CedrusError`].
//!
//! Deliberate departures from Bootlin's encoder, per cedrus.md §6 "issues worth not copying":
//! - emulation prevention stays on for header RBSPs and is off only around start codes
//!   (item 2, jemk/Luc style);
//! - AVC_PARA0.DEBLOCK_IDC and the α/β offsets are programmed from the same plan fields the
//!   slice header carries (item 3);
//! - REC/REF and SUBPIX buffers are one ping-pong pair per context, chosen by the DPB's slots,
//!   never tied to OUTPUT buffers (item 4).
//!
//! Kernel glue, per context (the model's tests in `backend/tests.rs` do exactly this):
//! 1. STREAMON: allocate [`private_sizes`] (2 × REC, 2 × SUBPIX, MB-info; CMA, no kernel
//!    mapping), `session.set_source(..)`, `session.reset()`.
//! 2. `device_run`: read the controls into a `FrameInput`, `session.prepare_into(&input, &mut
//!    ctx.plan)` (error: fail the job, -EINVAL); write `plan.state` SPS/PPS/params back into the
//!    controls; fill [`FrameBuffers`]; arm the watchdog; [`start_frame`] (error: fail the job,
//!    `session.fail(&plan)`; [`CedrusError::OutputFull`] = "CAPTURE buffer too small").
//! 3. IRQ: [`finish_frame`]; [`CedrusError::NotDone`] = IRQ_NONE. `Ok(n)`: `bytesused = n`,
//!    KEYFRAME if `plan.is_intra()` else PFRAME, `session.complete(&plan, n)`. `Err`:
//!    buffers in ERROR state, `session.fail(&plan)`. Complete the request either way.
//! 4. Watchdog: [`reset`] (plus the block reset line), `session.fail(&plan)`, buffers ERROR.
//! 5. STREAMOFF: free the private buffers; the next STREAMON resets the session.

use super::regs::*;
use crate::encoder::session::{FramePlan, H264Session, SessionLimits, SliceKind};
use crate::h264::bits::{BitError, BitSink};
use crate::h264::nal::{HeaderError, NalSink};
use crate::h264::state::Capabilities;

/// 32-bit register access relative to the VE base: MMIO in the kernel, the model on the host.
pub trait Regs {
    /// Reads the register at `off`.
    fn read32(&mut self, off: u32) -> u32;
    /// Writes `val` to the register at `off`.
    fn write32(&mut self, off: u32, val: u32);
}

impl<T: Regs + ?Sized> Regs for &mut T {
    fn read32(&mut self, off: u32) -> u32 {
        (**self).read32(off)
    }
    fn write32(&mut self, off: u32, val: u32) {
        (**self).write32(off, val)
    }
}

/// What the V3s AVC encoder can do, for [`H264Session`] (cedrus.md §6): CABAC, no 8x8
/// transform, P frames with one reference, headers all written by us through put-bits
/// (uapi.md §8.4 step 5 "cedrus"), MB-aligned sizes up to 1920×1088 (the strict reading of
/// "1080p@30", regs::MAX_*), level ≤ 4.0 (1080p30).
pub const CAPS: Capabilities = Capabilities {
    cabac: true,
    transform_8x8: false,
    inter: true,
    max_ref_frames: 1,
    forced_poc_type: None,
    forced_log2_max_frame_num_minus4: None,
    forced_log2_max_poc_lsb_minus4: None,
    hw_headers: 0,
    width_align: 16,
    height_align: 16,
    min_width: 16,
    min_height: 16,
    max_width: MAX_WIDTH_MBS * 16,
    max_height: MAX_HEIGHT_MBS * 16,
    max_level_idc: 40,
};

/// The session limits the registers impose: two reconstruction slots (one REC/REF ping-pong
/// pair per context), chroma QP offset 0..7 (3-bit AVC_PARA1 field, cedrus.md §6), QP 0..51
/// (Bootlin's range; whether 48..51 work on silicon is unknown, §6).
pub const LIMITS: SessionLimits = SessionLimits {
    rec_slots: 2,
    chroma_qp_offset_min: 0,
    chroma_qp_offset_max: 7,
    min_qp: 0,
    max_qp: 51,
};

/// Reads of AVC_STATUS before a put-bits is given up (Bootlin polls 10 µs × 100 = 1 ms,
/// cedrus.md §2.2; an MMIO read takes well over 100 ns, so this bounds the wait similarly
/// without a sleep in pure code).
pub const PUT_BITS_POLL: u32 = 10_000;
/// Reads of VE_RESET waiting for SYNC_IDLE | CACHE_SYNC_IDLE after the headers (§2.2).
pub const SYNC_POLL: u32 = 10_000;

/// Errors of the backend. The glue maps them to buffer states and messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CedrusError {
    /// The frame geometry or a buffer does not suit the VE (size, stride, zero or unaligned
    /// address, too small a private buffer). Names the offending item.
    Buffers(&'static str),
    /// The plan holds a value the registers cannot express (a driver bug: the session limits
    /// should have prevented it).
    Plan(&'static str),
    /// PUT_BITS_READY did not come up.
    PutBitsTimeout,
    /// VE_RESET sync-idle bits did not come up after the headers.
    SyncTimeout,
    /// Writing the headers failed (syntax out of range: a session bug).
    Header(HeaderError),
    /// The CAPTURE buffer is too small for this frame (headers already fill it, or the VE
    /// stalled at STM_BIT_MAX): "CAPTURE buffer too small". The frame is lost; the session's
    /// `fail` makes the next one an IDR.
    OutputFull,
    /// No done bit in AVC_STATUS: the interrupt was not ours / the job is still running.
    NotDone,
    /// The VE stalled short of the output limit (unknown cause, cedrus.md §2.3).
    Stalled {
        /// AVC_STATUS.
        status: u32,
    },
    /// OVERTIME or OVERTIME_MB (cedrus.md §1.3).
    Overtime {
        /// AVC_STATUS.
        status: u32,
    },
    /// FINISH with a bit length that is not whole bytes or exceeds the buffer.
    BadLength {
        /// STM_BIT_LEN.
        bits: u32,
    },
}

/// Sizes of the per-context private buffers (cedrus.md §3), in bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PrivateSizes {
    /// One REC/REF buffer (luma, then chroma at [`PrivateSizes::rec_chroma_offset`]), 4 KiB
    /// aligned. Two are needed (ping-pong).
    pub rec: u32,
    /// Offset of the chroma plane inside a REC buffer (= luma bytes).
    pub rec_chroma_offset: u32,
    /// One sub-pixel buffer; two are needed (paired with the REC buffers).
    pub subpix: u32,
    /// The MB-info buffer (one per context).
    pub mb_info: u32,
    /// MV buffer: 0, MV write-back stays disabled (ME_PARA.WB_MV_INFO_DIS, §1.3, §3).
    pub mv: u32,
    /// Everything for one context: 2 × rec + 2 × subpix + mb_info + mv.
    pub total: u32,
}

/// Private buffer sizes for a `w_mbs × h_mbs` picture; `None` when out of range
/// (0 or above 120 × 68 MBs).
pub const fn private_sizes(w_mbs: u32, h_mbs: u32) -> Option<PrivateSizes> {
    if w_mbs == 0 || h_mbs == 0 || w_mbs > MAX_WIDTH_MBS || h_mbs > MAX_HEIGHT_MBS {
        return None;
    }
    let (Some(rec), Some(luma), Some(subpix), Some(mb_info)) = (
        rec_bytes(w_mbs, h_mbs),
        rec_luma_bytes(w_mbs, h_mbs),
        subpix_bytes(w_mbs, h_mbs),
        mb_info_bytes(w_mbs),
    ) else {
        return None;
    };
    // Within the limits above every term is a few MiB: no overflow possible, but stay checked.
    let Some(two_rec) = rec.checked_mul(2) else {
        return None;
    };
    let Some(two_sub) = subpix.checked_mul(2) else {
        return None;
    };
    let Some(t) = two_rec.checked_add(two_sub) else {
        return None;
    };
    let Some(total) = t.checked_add(mb_info) else {
        return None;
    };
    Some(PrivateSizes {
        rec,
        rec_chroma_offset: luma,
        subpix,
        mb_info,
        mv: 0,
        total,
    })
}

/// Bus addresses of one frame's buffers (`dma_addr_t` as `u32`: the V3s has no IOMMU and a
/// 32-bit bus, cedrus.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameBuffers {
    /// Source NV12 luma plane (OUTPUT buffer).
    pub src_luma: u32,
    /// Source interleaved CbCr plane (single-plane NV12: luma + bytesperline × height).
    pub src_chroma: u32,
    /// Source bytesperline (both planes); a multiple of 16 (the ISP takes it in MBs, §1.2).
    pub src_stride: u32,
    /// CAPTURE buffer address.
    pub dst: u32,
    /// CAPTURE buffer size in bytes (the whole plane goes to STM_END/STM_BIT_MAX, §3).
    pub dst_size: u32,
    /// The two REC/REF buffers ([`PrivateSizes::rec`] bytes each), indexed by session slot.
    pub rec: [u32; 2],
    /// The two sub-pixel buffers, paired with `rec` by index.
    pub subpix: [u32; 2],
    /// The MB-info buffer.
    pub mb_info: u32,
    /// Sizes the private buffers were allocated with (checked against the picture).
    pub sizes: PrivateSizes,
}

/// A [`NalSink`] over the VE put-bits block (cedrus.md §2.2): every put is "poll
/// PUT_BITS_READY, write AVC_PUTBITSDATA, write STARTTRIG = (n << 8) | PUT_BITS"; escaping maps
/// to AVC_PARA0.EPTB_DIS (start codes with it set, RBSP with it clear, §7 step 4).
pub struct PutBitsSink<'r, R: Regs> {
    r: &'r mut R,
    /// Payload bits put so far (emulation-prevention bytes excluded, as [`BitSink`] defines).
    bits: u64,
    /// Sticky error beyond what [`BitError`] can say.
    err: Option<CedrusError>,
}

impl<'r, R: Regs> PutBitsSink<'r, R> {
    /// A sink at the start of the stream window (STM_BIT_LEN = 0).
    pub fn new(r: &'r mut R) -> Self {
        Self {
            r,
            bits: 0,
            err: None,
        }
    }

    /// The first error a put ran into, if any.
    pub fn error(&self) -> Option<CedrusError> {
        self.err
    }

    fn wait_ready(&mut self) -> Result<(), BitError> {
        for _ in 0..PUT_BITS_POLL {
            if AvcStatus(self.r.read32(AvcStatus::OFFSET)).is_set(AvcStatus::PUT_BITS_READY) {
                return Ok(());
            }
        }
        self.err.get_or_insert(CedrusError::PutBitsTimeout);
        Err(BitError::Overflow)
    }
}

impl<R: Regs> BitSink for PutBitsSink<'_, R> {
    fn put_bits(&mut self, n: u32, value: u32) -> Result<(), BitError> {
        if n == 0 {
            return Ok(());
        }
        if n > 32 {
            return Err(BitError::InvalidCount);
        }
        if self.err.is_some() {
            return Err(BitError::Overflow);
        }
        self.wait_ready()?;
        // Right-aligned data with nothing above n bits (§1.3 AVC_PUTBITSDATA).
        let v = if n == 32 {
            value
        } else {
            value & ((1u32 << n) - 1)
        };
        self.r.write32(AvcPutBitsData::OFFSET, v);
        self.r
            .write32(AvcStartTrig::OFFSET, AvcStartTrig::put_bits(n).raw());
        self.bits = self.bits.wrapping_add(n as u64);
        Ok(())
    }

    fn bit_position(&self) -> u64 {
        self.bits
    }
}

impl<R: Regs> NalSink for PutBitsSink<'_, R> {
    fn set_escaping(&mut self, on: bool) {
        // Only EPTB_DIS matters while headers go out; the frame's PARA0 is written after them
        // (with EPTB_DIS clear, so slice data is escaped by the VE).
        self.r.write32(
            AvcPara0::OFFSET,
            AvcPara0::default().with_bit(AvcPara0::EPTB_DIS, !on).raw(),
        );
    }

    fn finish_payload(&mut self) -> Result<(), BitError> {
        // Our header RBSPs end with rbsp_stop_one_bit, never with a zero byte, so no
        // cabac_zero_word escape is due (nal.rs NalSink::finish_payload).
        self.set_escaping(false);
        Ok(())
    }
}

fn field<Rg>(f: Field<Rg>, v: u32, what: &'static str) -> Result<u32, CedrusError> {
    if f.fits(v) {
        Ok(v)
    } else {
        Err(CedrusError::Buffers(what))
    }
}

/// 4-bit two's complement of a deblocking offset (−6..=6, AVC_PARA0 §1.3).
fn s4(v: i8, what: &'static str) -> Result<u32, CedrusError> {
    if (-6..=6).contains(&v) {
        Ok((v as u8 as u32) & 0xF)
    } else {
        Err(CedrusError::Plan(what))
    }
}

fn nonzero_aligned(addr: u32, what: &'static str) -> Result<u32, CedrusError> {
    // 16-byte alignment: what the strides need, and what the model demands (sim/ve ADDR_ALIGN).
    if addr == 0 || addr & 15 != 0 {
        Err(CedrusError::Buffers(what))
    } else {
        Ok(addr)
    }
}

/// Programs and triggers one frame (cedrus.md §7 "per frame", steps 1–7).
///
/// On `Err` nothing was triggered; the glue fails the job and calls the session's `fail`
/// ([`CedrusError::OutputFull`] when the headers alone do not fit the CAPTURE buffer).
pub fn start_frame<R: Regs>(
    r: &mut R,
    session: &H264Session,
    plan: &FramePlan,
    bufs: &FrameBuffers,
) -> Result<(), CedrusError> {
    let (w, h) = (plan.width_mbs as u32, plan.height_mbs as u32);
    let sizes = private_sizes(w, h).ok_or(CedrusError::Buffers("picture size"))?;
    let b = bufs;
    if b.sizes.rec < sizes.rec
        || b.sizes.rec_chroma_offset != sizes.rec_chroma_offset
        || b.sizes.subpix < sizes.subpix
        || b.sizes.mb_info < sizes.mb_info
    {
        return Err(CedrusError::Buffers("private buffers too small"));
    }
    if b.src_stride & 15 != 0 || b.src_stride < w * 16 {
        return Err(CedrusError::Buffers("source stride"));
    }
    // "cedar rounds down" the stride in MBs (§1.2): it is exact here.
    let stride_mbs = field(
        IspPicStride0::INPUT_STRIDE_MBS,
        b.src_stride >> 4,
        "source stride",
    )?;
    let src_y = nonzero_aligned(b.src_luma, "source luma")?;
    let src_c = nonzero_aligned(b.src_chroma, "source chroma")?;
    let dst = nonzero_aligned(b.dst, "CAPTURE buffer")?;
    // STM_BIT_MAX holds size × 8 in 32 bits; STM_END is inclusive.
    if b.dst_size == 0 || b.dst_size > (u32::MAX >> 3) {
        return Err(CedrusError::Buffers("CAPTURE size"));
    }
    let dst_end = dst
        .checked_add(b.dst_size - 1)
        .ok_or(CedrusError::Buffers("CAPTURE buffer wraps"))?;
    // Both pairs, used or not this frame: a missing or shared buffer is a glue bug that would
    // otherwise only show on the next P frame.
    for (a, what) in [
        (b.rec[0], "REC buffer"),
        (b.rec[1], "REC buffer"),
        (b.subpix[0], "subpix buffer"),
        (b.subpix[1], "subpix buffer"),
    ] {
        nonzero_aligned(a, what)?;
    }
    if b.rec[0] == b.rec[1] || b.subpix[0] == b.subpix[1] {
        return Err(CedrusError::Buffers("ping-pong buffers must differ"));
    }
    let slot = |s: u8, arr: &[u32; 2], what| -> Result<u32, CedrusError> {
        nonzero_aligned(
            arr.get(s as usize)
                .copied()
                .ok_or(CedrusError::Plan("slot"))?,
            what,
        )
    };
    let rec = slot(plan.rec_slot, &b.rec, "REC buffer")?;
    let sub_new = slot(plan.rec_slot, &b.subpix, "subpix buffer")?;
    // I frames: REF0 = REC and SUBPIX_LAST = SUBPIX_NEW, as Bootlin (§2.1 step 4.6–7); the
    // VE does not read them then.
    let (refb, sub_last) = match (plan.slice, plan.ref_slot) {
        (SliceKind::P, Some(s)) => (
            slot(s, &b.rec, "REF buffer")?,
            slot(s, &b.subpix, "subpix buffer")?,
        ),
        (SliceKind::P, None) => return Err(CedrusError::Plan("P frame without reference")),
        (SliceKind::I, _) => (rec, sub_new),
    };
    if plan.slice == SliceKind::P && refb == rec {
        return Err(CedrusError::Plan("REF equals REC"));
    }
    let mb_info = nonzero_aligned(b.mb_info, "MB-info buffer")?;
    let rec_c = rec
        .checked_add(sizes.rec_chroma_offset)
        .ok_or(CedrusError::Buffers("REC buffer wraps"))?;
    let ref_c = refb
        .checked_add(sizes.rec_chroma_offset)
        .ok_or(CedrusError::Buffers("REF buffer wraps"))?;

    // Parameters first (pure), so a bad plan is refused before the VE is touched.
    let chroma_off = u32::try_from(plan.chroma_qp_index_offset)
        .ok()
        .filter(|v| AvcPara1::CHROMA_QP_OFFSET.fits(*v))
        .ok_or(CedrusError::Plan("chroma_qp_index_offset outside 0..7"))?;
    if plan.qp > 51 {
        return Err(CedrusError::Plan("QP"));
    }
    if plan.deblock.disable_idc > 2 || plan.cabac_init_idc > 2 {
        return Err(CedrusError::Plan("deblocking/cabac_init_idc"));
    }
    let para0 = AvcPara0::default()
        .with(
            AvcPara0::SLICE_TYPE,
            match plan.slice {
                SliceKind::I => AvcPara0::SLICE_TYPE_I,
                SliceKind::P => AvcPara0::SLICE_TYPE_P,
            },
        )
        .with_bit(AvcPara0::ENTROPY_CABAC, plan.cabac)
        .with(AvcPara0::CABAC_INIT_IDC, plan.cabac_init_idc as u32)
        // Same values as the slice header (§6 item 3).
        .with(AvcPara0::DEBLOCK_IDC, plan.deblock.disable_idc as u32)
        .with(
            AvcPara0::ALPHA_OFFSET_DIV2,
            s4(plan.deblock.alpha_c0_offset_div2, "alpha offset")?,
        )
        .with(
            AvcPara0::BETA_OFFSET_DIV2,
            s4(plan.deblock.beta_offset_div2, "beta offset")?,
        );
    // EPTB_DIS clear: the VE escapes the slice data. FRAME_NUM stays 0 like Bootlin's (the
    // slice header is ours, §2.1 step 4.9).
    let para1 = AvcPara1::default()
        .with(AvcPara1::CHROMA_QP_OFFSET, chroma_off)
        .with(AvcPara1::STRIDE_MBS_DIV_48, stride_mbs_div_48(stride_mbs))
        .with(AvcPara1::RC_MODE, 0)
        .with(AvcPara1::QP, plan.qp as u32);

    // 1. Encoder on, reset pulse (§7 step 1; every job, so decoder jobs in between are fine).
    let mode = VeMode(r.read32(VeMode::OFFSET));
    let off =
        VeMode(mode.raw() & !VeMode::ENCODE_LOW_BYTE).with(VeMode::DEC_MODE, VeMode::DEC_DISABLED);
    r.write32(VeMode::OFFSET, off.raw());
    let rst = VeReset(
        r.read32(VeReset::OFFSET) & !(VeReset::SYNC_IDLE.mask() | VeReset::CACHE_SYNC_IDLE.mask()),
    );
    r.write32(
        VeReset::OFFSET,
        rst.with_bit(VeReset::ENCODER_RESET, true).raw(),
    );
    r.write32(
        VeReset::OFFSET,
        rst.with_bit(VeReset::ENCODER_RESET, false).raw(),
    );
    r.write32(VeMode::OFFSET, off.raw() | VeMode::ENCODE_LOW_BYTE);

    // 2. ISP input: NV12, linear, BT.601, no scaler (§1.2, §7 step 2).
    let wf = field(IspPicInfo::WIDTH_MBS, w, "width")?;
    let hf = field(IspPicInfo::HEIGHT_MBS, h, "height")?;
    r.write32(
        IspPicInfo::OFFSET,
        IspPicInfo::default()
            .with(IspPicInfo::WIDTH_MBS, wf)
            .with(IspPicInfo::HEIGHT_MBS, hf)
            .raw(),
    );
    r.write32(
        IspScalerSize::OFFSET,
        IspScalerSize::default()
            .with(IspScalerSize::WIDTH_MBS, wf)
            .with(IspScalerSize::HEIGHT_MBS, hf)
            .raw(),
    );
    r.write32(
        IspPicStride0::OFFSET,
        IspPicStride0::default()
            .with(IspPicStride0::INPUT_STRIDE_MBS, stride_mbs)
            .raw(),
    );
    r.write32(
        IspCtrl::OFFSET,
        IspCtrl::default()
            .with(IspCtrl::FORMAT, IspCtrl::FORMAT_NV12)
            .with(IspCtrl::COLORSPACE, IspCtrl::CS_BT601)
            .raw(),
    );
    r.write32(IspInputLuma::OFFSET, src_y);
    r.write32(IspInputChroma0::OFFSET, src_c);

    // 3. Stream window (§7 step 3).
    r.write32(AvcStartTrig::OFFSET, 0);
    r.write32(AvcStmBitOffset::OFFSET, 0);
    r.write32(AvcStmStart::OFFSET, dst);
    r.write32(AvcStmEnd::OFFSET, dst_end);
    r.write32(AvcStmBitMax::OFFSET, b.dst_size << 3);
    r.write32(AvcStmBitLen::OFFSET, 0);
    r.write32(AvcResidualBits::OFFSET, 0);
    r.write32(AvcHeaderBits::OFFSET, 0);

    // 4. Headers through put-bits (§7 step 4), then wait for the VE to settle.
    {
        let mut sink = PutBitsSink::new(r);
        let res = session.write_headers(plan, &mut sink);
        if let Some(e) = sink.error() {
            return Err(e);
        }
        res.map_err(CedrusError::Header)?;
    }
    let mut idle = false;
    for _ in 0..SYNC_POLL {
        let v = VeReset(r.read32(VeReset::OFFSET));
        if v.is_set(VeReset::SYNC_IDLE) && v.is_set(VeReset::CACHE_SYNC_IDLE) {
            idle = true;
            break;
        }
    }
    if !idle {
        return Err(CedrusError::SyncTimeout);
    }
    // Headers that already reach the end of the CAPTURE buffer: refuse before triggering
    // (the VE would only stall, §2.3).
    if r.read32(AvcStmBitLen::OFFSET) >= b.dst_size << 3 {
        return Err(CedrusError::OutputFull);
    }

    // 5. Buffers (§7 step 5).
    r.write32(AvcMbInfo::OFFSET, mb_info);
    r.write32(AvcMvBufAddr::OFFSET, 0);
    r.write32(AvcRecY::OFFSET, rec);
    r.write32(AvcRecC::OFFSET, rec_c);
    r.write32(AvcRef0Y::OFFSET, refb);
    r.write32(AvcRef0C::OFFSET, ref_c);
    r.write32(AvcSubpixNew::OFFSET, sub_new);
    r.write32(AvcSubpixLast::OFFSET, sub_last);
    r.write32(AvcDeblk::OFFSET, 0);
    r.write32(AvcCyclicIntraRefresh::OFFSET, 0);

    // 6. Parameters (§7 step 6); ME on (Bootlin's 0x00010004).
    r.write32(AvcPara0::OFFSET, para0.raw());
    r.write32(AvcPara1::OFFSET, para1.raw());
    r.write32(AvcPara2::OFFSET, 0);
    r.write32(AvcDynamicMePar0::OFFSET, 0);
    r.write32(AvcDynamicMePar1::OFFSET, 0);
    r.write32(AvcRcInit::OFFSET, 0);
    r.write32(AvcRcMadTh0::OFFSET, 0);
    r.write32(AvcRcMadTh1::OFFSET, 0);
    r.write32(AvcRcMadTh2::OFFSET, 0);
    r.write32(AvcRcMadTh3::OFFSET, 0);
    r.write32(AvcMePara::OFFSET, AvcMePara::BOOTLIN);
    r.write32(AvcMad::OFFSET, 0);
    r.write32(AvcOvertimeMb::OFFSET, 0);
    r.write32(AvcMeInfo::OFFSET, 0);

    // 7. Interrupts and trigger.
    r.write32(
        AvcIntEn::OFFSET,
        AvcIntEn::default()
            .with_bit(AvcIntEn::STALL, true)
            .with_bit(AvcIntEn::FINISH, true)
            .raw(),
    );
    r.write32(AvcStartTrig::OFFSET, AvcStartTrig::enc_start().raw());
    Ok(())
}

/// Handles the end of a job (the IRQ, §2.3 and §7 "IRQ"): reads AVC_STATUS and STM_BIT_LEN,
/// disables and clears the interrupt (write 1 to clear), and returns the bytes in the CAPTURE
/// buffer (headers + slice data = `bytesused`).
///
/// [`CedrusError::NotDone`] when no done bit is set (not our interrupt; nothing cleared).
/// STALL at the end of the window is [`CedrusError::OutputFull`] so the driver can report a
/// too-small CAPTURE buffer.
pub fn finish_frame<R: Regs>(r: &mut R) -> Result<u32, CedrusError> {
    let status = r.read32(AvcStatus::OFFSET) & AvcStatus::DONE_MASK;
    if status == 0 {
        return Err(CedrusError::NotDone);
    }
    let bits = r.read32(AvcStmBitLen::OFFSET);
    let max = r.read32(AvcStmBitMax::OFFSET);
    r.write32(AvcIntEn::OFFSET, 0);
    r.write32(AvcStatus::OFFSET, AvcStatus::DONE_MASK);
    let st = AvcStatus(status);
    if st.is_set(AvcStatus::OVERTIME) || st.is_set(AvcStatus::OVERTIME_MB) {
        return Err(CedrusError::Overtime { status });
    }
    if st.is_set(AvcStatus::STALL) || !st.is_set(AvcStatus::FINISH) {
        // STALL is "most likely output buffer full" (§2.3, an inference): only call it that
        // when the stream really reached the end of the window (within one 32-bit word).
        return if bits.saturating_add(32) >= max {
            Err(CedrusError::OutputFull)
        } else {
            Err(CedrusError::Stalled { status })
        };
    }
    if bits & 7 != 0 || bits > max {
        return Err(CedrusError::BadLength { bits });
    }
    Ok(bits >> 3)
}

/// Watchdog path (Bootlin: 2 s, cedrus.md §2.1 step 5): interrupts off, status cleared,
/// encoder reset pulsed, encoder disabled in VE_MODE. The glue may also pulse the block's
/// reset line (`reset_control_reset`) and then calls the session's `fail`.
pub fn reset<R: Regs>(r: &mut R) {
    r.write32(AvcIntEn::OFFSET, 0);
    r.write32(AvcStatus::OFFSET, AvcStatus::DONE_MASK);
    let rst = VeReset(
        r.read32(VeReset::OFFSET) & !(VeReset::SYNC_IDLE.mask() | VeReset::CACHE_SYNC_IDLE.mask()),
    );
    r.write32(
        VeReset::OFFSET,
        rst.with_bit(VeReset::ENCODER_RESET, true).raw(),
    );
    r.write32(
        VeReset::OFFSET,
        rst.with_bit(VeReset::ENCODER_RESET, false).raw(),
    );
    let mode = VeMode(r.read32(VeMode::OFFSET));
    r.write32(
        VeMode::OFFSET,
        VeMode(mode.raw() & !VeMode::ENCODE_LOW_BYTE)
            .with(VeMode::DEC_MODE, VeMode::DEC_DISABLED)
            .raw(),
    );
}

#[cfg(test)]
mod tests;
