// SPDX-License-Identifier: GPL-2.0
//! Kernel glue of the Allwinner V3s VE backend (`hw::cedrus::backend`): the per-context
//! private buffers and H.264 session, and the job path on the block — written once, generic
//! over [`VeBlock`], for both blocks a device can drive (ARCHITECTURE.md §5, "the same backend
//! code runs against a model or against MMIO"):
//! - the register-level model (`slenc.sim=cedrus-v3s`) with its memory reached by bus address;
//! - the real VE (`super::cedrus_hw`, MMIO, interrupt, clocks, reset, SRAM).
//!
//! Per job (research/uapi.md §8.4): the session plans the frame from the controls,
//! [`be::start_frame`] programs the VE (headers through put-bits) and triggers it; the
//! completion work item (run at once for the model, which encodes there; scheduled by the
//! interrupt on hardware) runs [`be::finish_frame`] and updates the session; the watchdog runs
//! [`be::reset`] and pulses the block's reset line (research/cedrus.md §2.1 step 5, §7).

use super::{
    context::Context,
    device::{Backend, Block, DevState, Running},
};
use crate::encoder::session::{FrameInput, FramePlan, H264Session, SessionLimits};
use crate::h264::state::{Rect as SRect, SourceFormat};
use crate::hw::cedrus::backend::{self as be, FrameBuffers, PrivateSizes, Regs};
#[cfg(slenc_sim)]
use crate::v4l2::dma::RegionBus;
use crate::v4l2::{
    dma::CoherentBuf,
    job::{Done, Job},
};
#[cfg(slenc_sim)]
use kernel::{new_mutex, sync::Mutex};
use kernel::{
    prelude::*,
    sync::Arc,
    time::{Instant, Monotonic},
};

/// The cedrus backend (one instance: the state lives in the device and the contexts).
pub(crate) struct Cedrus;

/// The backend of the V3s variant.
pub(crate) static CEDRUS: Cedrus = Cedrus;

/// Hardware limits the session must honour (research/cedrus.md §6): two reconstruction slots
/// (ping-pong), one chroma QP offset register 0..7.
pub(crate) const LIMITS: SessionLimits = SessionLimits {
    rec_slots: 2,
    chroma_qp_offset_min: 0,
    chroma_qp_offset_max: 7,
    min_qp: 0,
    max_qp: 51,
};

/// A context's streaming state: the H.264 session and the private buffers, allocated at
/// STREAMON and freed at STREAMOFF (one REC/REF pair per context, not one per input buffer).
pub(crate) struct Stream {
    pub(crate) session: H264Session,
    sizes: PrivateSizes,
    rec: [CoherentBuf; 2],
    subpix: [CoherentBuf; 2],
    mb_info: CoherentBuf,
    /// The reconstruction of the last coded frame: its slot and size in macroblocks.
    last_rec: Option<(u8, u16, u16)>,
}

impl Stream {
    /// Allocates the stream state for `src` on device `dev`.
    pub(crate) fn new(dev: &DevState, src: &SourceFormat) -> Result<KBox<Self>> {
        let sizes = be::private_sizes(src.width / 16, src.height / 16).ok_or(EINVAL)?;
        let d = dev.dev();
        let alloc = |n: u32| CoherentBuf::new(d, n as usize);
        Ok(KBox::new(
            Self {
                session: H264Session::with_limits(&be::CAPS, &LIMITS, src),
                sizes,
                rec: [alloc(sizes.rec)?, alloc(sizes.rec)?],
                subpix: [alloc(sizes.subpix)?, alloc(sizes.subpix)?],
                mb_info: alloc(sizes.mb_info)?,
                last_rec: None,
            },
            GFP_KERNEL,
        )?)
    }
    /// The reconstruction of the last coded frame as tight NV12 at the coded size (luma
    /// rows, then interleaved chroma rows), for tests that compare it with a decoder's
    /// picture. `None` before the first frame.
    pub(crate) fn last_reconstruction(&self) -> Option<KVVec<u8>> {
        let (slot, w_mbs, h_mbs) = self.last_rec?;
        let rec = self.rec.get(usize::from(slot))?.as_slice();
        let stride = crate::hw::cedrus::regs::rec_stride(w_mbs.into())? as usize;
        let (w, h) = (usize::from(w_mbs) * 16, usize::from(h_mbs) * 16);
        let chroma = self.sizes.rec_chroma_offset as usize;
        let mut out = KVVec::with_capacity(w * h * 3 / 2, GFP_KERNEL).ok()?;
        let rows = Iterator::chain(
            (0..h).map(|y| y * stride),
            (0..h / 2).map(|y| chroma + y * stride),
        );
        for start in rows {
            out.extend_from_slice(rec.get(start..start + w)?, GFP_KERNEL)
                .ok()?;
        }
        Some(out)
    }

    /// Bytes of private memory this context holds.
    pub(crate) fn private_bytes(&self) -> u32 {
        self.sizes.total
    }
}

/// A V3s VE a frame can run on: the register model, or the real block.
pub(crate) trait VeBlock: Send + Sync + 'static {
    /// The block held for one step of a job (see [`VeBlock::access`]).
    type Access<'a>: VeAccess
    where
        Self: 'a;

    /// Whether the completion path runs at once after a trigger (a model, which encodes
    /// there), rather than when the block's interrupt says it is done.
    const COMPLETES_AT_ONCE: bool;

    /// Holds the block for one step (programming a frame, collecting it, resetting): the
    /// model's lock, or the MMIO mapping — a revocable one (an RCU read-side section while
    /// held: nothing that sleeps may run then). `ENODEV` once the device is gone.
    fn access(&self) -> Result<Self::Access<'_>>;

    /// Pulses the block's reset line, after [`be::reset`] (the watchdog path). Called with no
    /// access held: it may sleep.
    fn reset_line(&self);
}

/// What a held block does besides its registers ([`Regs`], which [`be`] programs).
pub(crate) trait VeAccess: Regs {
    /// Readies the block for a new frame before it is programmed: the model maps the frame's
    /// buffers on its bus (the real VE reaches memory by bus address by itself) and counts the
    /// job; the hardware forgets any completion status left from before.
    fn load(&mut self, job: &Job<Context>, stream: &mut Stream) -> Result;
    /// The frame that was triggered has run: the model encodes it here; the hardware reports
    /// whether a done bit is up (the interrupt said so, or this is a pass that looks early).
    /// `false`: not finished (a hung model, a busy block), the watchdog will act.
    fn run(&mut self) -> bool;
    /// The frame's buffers are off the block (the model unmaps them).
    fn unload(&mut self);
}

/// Why a frame failed on the block.
#[derive(Debug)]
enum Failure {
    /// The backend or the block reported an error.
    Ve(be::CedrusError),
    /// The block is gone (the device was unbound).
    Gone,
}

impl Failure {
    /// The error the job's buffers come back with.
    fn errno(&self) -> Error {
        match self {
            Failure::Ve(be::CedrusError::OutputFull) => ENOSPC,
            Failure::Ve(_) => EIO,
            Failure::Gone => ENODEV,
        }
    }
}

/// The bus addresses of `job`'s frame: its OUTPUT and CAPTURE buffers and the context's private
/// buffers (`u32`: the V3s bus is 32 bits wide and has no IOMMU, cedrus.md §3).
fn frame_buffers(job: &Job<Context>, stream: &Stream) -> Result<FrameBuffers> {
    let addr = |a: u64| u32::try_from(a).map_err(|_| EINVAL);
    let (_, src_stride, src_height) = job.ctx().src_layout();
    let src_luma = addr(job.src_dma(0))?;
    // The source: two planes (NV12M), or one with the chroma after the luma (NV12).
    let src_chroma = if job.src_num_planes() > 1 {
        addr(job.src_dma(1))?
    } else {
        let luma_len =
            u32::try_from(src_stride as usize * src_height as usize).map_err(|_| EINVAL)?;
        src_luma.checked_add(luma_len).ok_or(EINVAL)?
    };
    let (dst, dst_size) = job.dst_dma();
    Ok(FrameBuffers {
        src_luma,
        src_chroma,
        src_stride,
        dst: addr(dst)?,
        dst_size: u32::try_from(dst_size).map_err(|_| EINVAL)?,
        rec: [addr(stream.rec[0].dma())?, addr(stream.rec[1].dma())?],
        subpix: [addr(stream.subpix[0].dma())?, addr(stream.subpix[1].dma())?],
        mb_info: addr(stream.mb_info.dma())?,
        sizes: stream.sizes,
    })
}

/// Plans `job`'s frame and starts it on `ve` (cedrus.md §7 "per frame").
fn start_on<V: VeBlock>(ve: &Arc<V>, job: &mut Job<Context>) -> Result<(KBox<dyn Running>, bool)> {
    let ctx = job.ctx();
    let input = ctx.frame_input(job.has_request())?;
    // Lock order: the stream, then the block (whose MMIO access must not sleep).
    let mut st = ctx.lock_stream();
    let stream = Option::as_mut(&mut *st).ok_or(EINVAL)?;
    let plan = stream.session.prepare(&input.borrow()).map_err(|e| {
        pr_debug!("slenc: cedrus: frame {} refused: {:?}\n", job.sequence(), e);
        EINVAL
    })?;
    if plan.separate_sps_pps {
        // Header mode SEPARATE: SPS/PPS in a CAPTURE buffer of their own, before the frame;
        // the OUTPUT buffer waits for the next job. Nothing runs on the VE.
        let mut hdr = KBox::new(HeaderOnly([0; HEADER_MAX], 0), GFP_KERNEL)?;
        let mut w = crate::h264::bits::BitWriter::new(&mut hdr.0);
        stream
            .session
            .write_parameter_sets(&plan, &mut w)
            .map_err(|_| EINVAL)?;
        hdr.1 = w.bytes_written();
        stream.session.parameter_sets_sent();
        return Ok((hdr, true));
    }
    if let Err(e) = ctx.write_back(&plan.state) {
        // The frame is fine; only the read-back is missing.
        pr_debug!(
            "slenc: cedrus: adapted controls not written back: {:?}\n",
            e
        );
    }
    let started = frame_buffers(job, stream)
        .map_err(|e| (e, None))
        .and_then(|bufs| {
            let mut a = ve.access().map_err(|e| (e, None))?;
            let r = match a.load(job, stream) {
                Err(e) => Err((e, None)),
                Ok(()) => be::start_frame(&mut a, &stream.session, &plan, &bufs)
                    .map_err(|e| (Failure::Ve(e).errno(), Some(e))),
            };
            if r.is_err() {
                a.unload();
            }
            r.map(|()| bufs)
        });
    let bufs = match started {
        Ok(bufs) => bufs,
        Err((err, ve_err)) => {
            // The session planned a frame that will not be: the next one is an IDR.
            stream.session.fail(&plan);
            pr_debug!(
                "slenc: cedrus: frame {} not started: {:?} {:?}\n",
                job.sequence(),
                err,
                ve_err
            );
            return Err(err);
        }
    };
    drop(st);
    let run: KBox<dyn Running> = KBox::new(
        OnVe {
            plan,
            bufs,
            ve: ve.clone(),
        },
        GFP_KERNEL,
    )?;
    Ok((run, V::COMPLETES_AT_ONCE))
}

/// A frame on the VE.
struct OnVe<V: VeBlock> {
    plan: FramePlan,
    /// The frame's buffers, for a re-encode ([`H264Session::retry`]).
    bufs: FrameBuffers,
    ve: Arc<V>,
}

impl Backend for Cedrus {
    fn start(&self, dev: &DevState, job: &mut Job<Context>) -> Result<(KBox<dyn Running>, bool)> {
        match dev.block() {
            #[cfg(slenc_sim)]
            Block::CedrusModel(m) => start_on(m, job),
            #[cfg(CONFIG_COMMON_CLK)]
            Block::CedrusHw(hw) => start_on(hw, job),
            Block::None => Err(ENODEV),
        }
    }
}

impl<V: VeBlock> OnVe<V> {
    /// The coded length of the frame, once the block is done with it (re-encoding it first
    /// when rate control asks), and the microseconds a model spent encoding it here (0 on
    /// hardware). `None`: not done yet.
    fn collect(
        &mut self,
        job: &mut Job<Context>,
    ) -> Option<(core::result::Result<u32, Failure>, u32)> {
        let mut model_us = 0u32;
        loop {
            let r = {
                let Ok(mut a) = self.ve.access() else {
                    return Some((Err(Failure::Gone), model_us));
                };
                let t = Instant::<Monotonic>::now();
                let ran = a.run();
                if V::COMPLETES_AT_ONCE {
                    model_us = model_us.saturating_add(
                        u32::try_from(t.elapsed().as_micros_ceil()).unwrap_or(u32::MAX),
                    );
                }
                if !ran {
                    // A hung model, or a block still busy: the watchdog will act.
                    return None;
                }
                be::finish_frame(&mut a).map_err(Failure::Ve)
            };
            // Rate control may want the frame once more, coarser (a scene cut far over its
            // target): same buffers, still mapped; locks in the order `start` takes them.
            if let Ok(n) = r {
                let ctx = job.ctx();
                let mut st = ctx.lock_stream();
                if let Some(stream) = Option::as_mut(&mut *st) {
                    if stream.session.retry(&mut self.plan, n) {
                        let Ok(mut a) = self.ve.access() else {
                            return Some((Err(Failure::Gone), model_us));
                        };
                        match be::start_frame(&mut a, &stream.session, &self.plan, &self.bufs) {
                            // A model encodes it in the next pass; the hardware interrupts
                            // again (the watchdog armed at the start covers both passes).
                            Ok(()) if V::COMPLETES_AT_ONCE => continue,
                            Ok(()) => return None,
                            Err(e) => {
                                a.unload();
                                return Some((Err(Failure::Ve(e)), model_us));
                            }
                        }
                    }
                }
            }
            if let Ok(mut a) = self.ve.access() {
                a.unload();
            }
            return Some((r, model_us));
        }
    }
}

impl<V: VeBlock> Running for OnVe<V> {
    fn complete(&mut self, job: &mut Job<Context>) -> Option<Result<Done>> {
        let (bytes, model_us) = self.collect(job)?;
        let ctx = job.ctx();
        let mut st = ctx.lock_stream();
        let Some(stream) = Option::as_mut(&mut *st) else {
            return Some(Err(EINVAL));
        };
        Some(match bytes {
            Ok(n) => {
                stream.session.complete(&self.plan, n);
                stream.last_rec = Some((
                    self.plan.rec_slot,
                    self.plan.width_mbs,
                    self.plan.height_mbs,
                ));
                ctx.stats().qp(self.plan.qp);
                Ok(Done {
                    bytes: n as usize,
                    keyframe: self.plan.is_intra(),
                    header_only: false,
                    model_us,
                })
            }
            Err(e) => {
                stream.session.fail(&self.plan);
                pr_debug!("slenc: cedrus: frame {} failed: {:?}\n", job.sequence(), e);
                Err(e.errno())
            }
        })
    }

    fn abort(&mut self, job: &mut Job<Context>) {
        if let Ok(mut a) = self.ve.access() {
            be::reset(&mut a);
            a.unload();
        }
        self.ve.reset_line();
        if let Some(s) = Option::as_mut(&mut *job.ctx().lock_stream()) {
            s.session.fail(&self.plan);
        }
    }
}

/// Room for SPS + PPS: with VUI and HRD they stay below 100 bytes.
const HEADER_MAX: usize = 256;

/// A header-only buffer (header mode SEPARATE): SPS + PPS, copied into the CAPTURE buffer
/// when the job completes; nothing runs on the VE.
struct HeaderOnly([u8; HEADER_MAX], usize);

impl Running for HeaderOnly {
    fn complete(&mut self, job: &mut Job<Context>) -> Option<Result<Done>> {
        let src = self.0.get(..self.1)?;
        Some(match job.dst().and_then(|d| d.get_mut(..src.len())) {
            Some(dst) => {
                dst.copy_from_slice(src);
                Ok(Done {
                    bytes: src.len(),
                    keyframe: false,
                    header_only: true,
                    model_us: 0,
                })
            }
            None => Err(ENOSPC),
        })
    }

    fn abort(&mut self, _job: &mut Job<Context>) {}
}

/// The VE model of a simulated device and the memory its encoder needs.
#[cfg(slenc_sim)]
pub(crate) struct Model {
    ve: crate::sim::ve::Ve<RegionBus>,
    /// Jobs started, for the `sim_hang` fault injection.
    jobs: u32,
    scratch: KVVec<u8>,
    mb_scratch: KVVec<crate::sim::h264::MbInfo>,
}

#[cfg(slenc_sim)]
impl Model {
    /// A model with scratch memory for the largest picture.
    pub(crate) fn new() -> Result<Arc<Mutex<KBox<Self>>>> {
        let mut scratch = KVVec::with_capacity(crate::sim::ve::MAX_SCRATCH_BYTES, GFP_KERNEL)?;
        scratch.resize(crate::sim::ve::MAX_SCRATCH_BYTES, 0, GFP_KERNEL)?;
        let n = crate::sim::h264::scratch_len(120, 68);
        let mut mb_scratch = KVVec::with_capacity(n, GFP_KERNEL)?;
        mb_scratch.resize(n, crate::sim::h264::MbInfo::default(), GFP_KERNEL)?;
        let m = KBox::new(
            Self {
                ve: crate::sim::ve::Ve::new(RegionBus::new(), Default::default()),
                jobs: 0,
                scratch,
                mb_scratch,
            },
            GFP_KERNEL,
        )?;
        Arc::pin_init(new_mutex!(m), GFP_KERNEL)
    }
}

/// The model, locked for one step of a job.
#[cfg(slenc_sim)]
pub(crate) struct ModelAccess<'a>(kernel::sync::MutexGuard<'a, KBox<Model>>);

#[cfg(slenc_sim)]
impl Regs for ModelAccess<'_> {
    fn read32(&mut self, off: u32) -> u32 {
        Regs::read32(&mut self.0.ve, off)
    }
    fn write32(&mut self, off: u32, val: u32) {
        Regs::write32(&mut self.0.ve, off, val)
    }
}

#[cfg(slenc_sim)]
impl VeAccess for ModelAccess<'_> {
    fn load(&mut self, job: &Job<Context>, stream: &mut Stream) -> Result {
        let m = &mut **self.0;
        let bus = m.ve.bus_mut();
        bus.clear();
        // The source: one plane (NV12) or two (NV12M).
        for plane in 0..2 {
            if let Some(p) = job.src_region(plane) {
                // SAFETY: the OUTPUT buffer belongs to the job until it is finished, and the
                // bus is cleared before that (`unload`, from `complete`/`abort`, or the next
                // `load`).
                unsafe { bus.map(p)? };
            }
        }
        if let Some(r) = job.dst_region() {
            // SAFETY: as above, for the CAPTURE buffer.
            unsafe { bus.map(r)? };
        }
        for b in Iterator::chain(stream.rec.iter_mut(), stream.subpix.iter_mut()) {
            // SAFETY: the context's private buffers outlive its running job.
            unsafe { bus.map(b.region().ok_or(EINVAL)?)? };
        }
        // SAFETY: as above.
        unsafe { bus.map(stream.mb_info.region().ok_or(EINVAL)?)? };
        m.jobs = m.jobs.wrapping_add(1);
        // Fault injection for the watchdog's tests: this job never completes.
        m.ve.inject.hang = crate::module_parameters::sim_hang.value() == m.jobs;
        Ok(())
    }

    fn run(&mut self) -> bool {
        let m = &mut **self.0;
        let mut engine = crate::sim::ve::SwEngine::new(&mut m.mb_scratch);
        // `None` with the job still on the model: it "hangs" (fault injection), no interrupt.
        !(m.ve.run(&mut engine, &mut m.scratch).is_none() && m.ve.is_busy())
    }

    fn unload(&mut self) {
        self.0.ve.bus_mut().clear();
    }
}

#[cfg(slenc_sim)]
impl VeBlock for Mutex<KBox<Model>> {
    type Access<'a> = ModelAccess<'a>;
    const COMPLETES_AT_ONCE: bool = true;

    fn access(&self) -> Result<ModelAccess<'_>> {
        Ok(ModelAccess(self.lock()))
    }

    fn reset_line(&self) {
        let mut m = self.lock();
        m.ve.reset_line();
        m.ve.inject.hang = false;
    }
}

/// The source format of a context as the session sees it.
pub(crate) fn source_format(
    width: u32,
    height: u32,
    crop: crate::v4l2::Rect,
    tpf: (u32, u32),
    colorspace: u32,
    xfer: u8,
    ycbcr: u8,
    quant: u8,
) -> SourceFormat {
    SourceFormat {
        width,
        height,
        crop: SRect {
            left: crop.left,
            top: crop.top,
            width: crop.width,
            height: crop.height,
        },
        colorimetry: crate::h264::vui::Colorimetry {
            colorspace,
            xfer_func: xfer.into(),
            ycbcr_enc: ycbcr.into(),
            quantization: quant.into(),
        },
        timeperframe_num: tpf.0,
        timeperframe_den: tpf.1,
    }
}

/// Owned inputs of one frame (the session borrows from them).
pub(crate) struct OwnedInput {
    pub(crate) sps: crate::h264::uapi::H264Sps,
    pub(crate) pps: crate::h264::uapi::H264Pps,
    pub(crate) params: crate::h264::uapi::H264EncodeParams,
    pub(crate) stateless: bool,
    pub(crate) use_params: bool,
    pub(crate) base: FrameInput<'static>,
}

impl OwnedInput {
    /// The session's view.
    pub(crate) fn borrow(&self) -> FrameInput<'_> {
        let mut f = self.base;
        f.parameter_sets = self
            .stateless
            .then_some(crate::encoder::session::ParameterSets {
                sps: &self.sps,
                pps: &self.pps,
            });
        f.params = self.use_params.then_some(&self.params);
        f
    }
}
