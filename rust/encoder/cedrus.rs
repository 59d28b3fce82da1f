// SPDX-License-Identifier: GPL-2.0
//! Kernel glue of the Allwinner V3s VE backend (`hw::cedrus::backend`): the per-context
//! private buffers and H.264 session, and the block itself — the register-level model
//! (`slenc.sim=cedrus-v3s`, ARCHITECTURE.md §5) with its memory reached by bus address.
//!
//! Per job (research/uapi.md §8.4): the session plans the frame from the controls, the backend
//! programs the VE (headers through put-bits) and triggers it; the completion work item runs
//! the model (a real VE raises its interrupt), reads the result, and updates the session.

use super::{
    context::Context,
    device::{Backend, DevState, Running},
};
use crate::encoder::session::{FrameInput, FramePlan, H264Session, SessionLimits};
use crate::h264::state::{Rect as SRect, SourceFormat};
use crate::hw::cedrus::backend::{self as be, FrameBuffers, PrivateSizes};
use crate::v4l2::{
    dma::{CoherentBuf, RegionBus},
    job::{Done, Job},
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
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

/// A frame on the VE.
struct OnVe {
    plan: FramePlan,
    /// The frame's buffers, for a re-encode ([`H264Session::retry`]).
    bufs: FrameBuffers,
    #[cfg(slenc_sim)]
    model: Arc<Mutex<KBox<Model>>>,
}

impl Backend for Cedrus {
    fn start(&self, dev: &DevState, job: &mut Job<Context>) -> Result<(KBox<dyn Running>, bool)> {
        #[cfg(slenc_sim)]
        let model = dev.cedrus_model().ok_or(ENODEV)?;
        #[cfg(not(slenc_sim))]
        return Err(ENODEV);

        #[cfg(slenc_sim)]
        {
            let ctx = job.ctx();
            let input = ctx.frame_input(job.has_request())?;
            let mut st = ctx.lock_stream();
            let stream = Option::as_mut(&mut *st).ok_or(EINVAL)?;
            let plan = stream.session.prepare(&input.borrow()).map_err(|e| {
                pr_debug!("slenc: cedrus: frame {} refused: {:?}\n", job.sequence(), e);
                EINVAL
            })?;
            if plan.separate_sps_pps {
                // Header mode SEPARATE: SPS/PPS in a CAPTURE buffer of their own, before the
                // frame; the OUTPUT buffer waits for the next job.
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
                pr_debug!("slenc: cedrus: adapted controls not written back: {:?}\n", e);
            }
            let mut m = model.lock();
            let m = &mut **m;
            let bus = m.ve.bus_mut();
            bus.clear();
            let (src_dma, src_stride, src_height) = ctx.src_layout();
            let mut bufs = FrameBuffers {
                src_luma: u32::try_from(job.src_dma(0)).map_err(|_| EINVAL)?,
                src_chroma: 0,
                src_stride,
                dst: 0,
                dst_size: 0,
                rec: [0; 2],
                subpix: [0; 2],
                mb_info: 0,
                sizes: stream.sizes,
            };
            let _ = src_dma;
            // The source: one plane (NV12) or two (NV12M).
            let luma_len = src_stride as usize * src_height as usize;
            if let Some(p) = job.src_region(0) {
                // SAFETY: the OUTPUT buffer belongs to the job until it is finished, and the
                // bus is cleared before that (here, or in `complete`/`abort`).
                unsafe { bus.map(p)? };
            }
            if let Some(p) = job.src_region(1) {
                bufs.src_chroma = p.base();
                // SAFETY: as above.
                unsafe { bus.map(p)? };
            } else {
                bufs.src_chroma = bufs.src_luma + u32::try_from(luma_len).map_err(|_| EINVAL)?;
            }
            let (dst, dst_size) = job.dst_dma();
            bufs.dst = u32::try_from(dst).map_err(|_| EINVAL)?;
            bufs.dst_size = u32::try_from(dst_size).map_err(|_| EINVAL)?;
            if let Some(r) = job.dst_region() {
                // SAFETY: as above, for the CAPTURE buffer.
                unsafe { bus.map(r)? };
            }
            for (i, b) in stream.rec.iter_mut().enumerate() {
                bufs.rec[i] = u32::try_from(b.dma()).map_err(|_| EINVAL)?;
                // SAFETY: the context's private buffers outlive its running job.
                unsafe { bus.map(b.region().ok_or(EINVAL)?)? };
            }
            for (i, b) in stream.subpix.iter_mut().enumerate() {
                bufs.subpix[i] = u32::try_from(b.dma()).map_err(|_| EINVAL)?;
                // SAFETY: as above.
                unsafe { bus.map(b.region().ok_or(EINVAL)?)? };
            }
            bufs.mb_info = u32::try_from(stream.mb_info.dma()).map_err(|_| EINVAL)?;
            // SAFETY: as above.
            unsafe { bus.map(stream.mb_info.region().ok_or(EINVAL)?)? };
            m.jobs = m.jobs.wrapping_add(1);
            // Fault injection for the watchdog's tests: this job never completes.
            m.ve.inject.hang = crate::module_parameters::sim_hang.value() == m.jobs;
            if let Err(e) = be::start_frame(&mut m.ve, &stream.session, &plan, &bufs) {
                m.ve.bus_mut().clear();
                stream.session.fail(&plan);
                pr_debug!(
                    "slenc: cedrus: frame {} not started: {:?}\n",
                    job.sequence(),
                    e
                );
                return Err(if matches!(e, be::CedrusError::OutputFull) {
                    ENOSPC
                } else {
                    EIO
                });
            }
            drop(st);
            let run: KBox<dyn Running> = KBox::new(
                OnVe {
                    plan,
                    bufs,
                    model: model.clone(),
                },
                GFP_KERNEL,
            )?;
            Ok((run, true))
        }
    }
}

impl Running for OnVe {
    fn complete(&mut self, job: &mut Job<Context>) -> Option<Result<Done>> {
        let mut model_us = 0u32;
        #[cfg(slenc_sim)]
        let bytes = loop {
            let r = {
                let mut m = self.model.lock();
                let m = &mut **m;
                let mut engine = crate::sim::ve::SwEngine::new(&mut m.mb_scratch);
                let t = Instant::<Monotonic>::now();
                let ran = m.ve.run(&mut engine, &mut m.scratch);
                model_us = model_us.saturating_add(
                    u32::try_from(t.elapsed().as_micros_ceil()).unwrap_or(u32::MAX),
                );
                if ran.is_none() && m.ve.is_busy() {
                    // The model "hangs" (fault injection): no interrupt; the watchdog will act.
                    return None;
                }
                be::finish_frame(&mut m.ve)
            };
            // Rate control may want the frame once more, coarser (a scene cut far over its
            // target): same buffers, still mapped; locks in the order `start` takes them.
            if let Ok(n) = r {
                let ctx = job.ctx();
                let mut st = ctx.lock_stream();
                if let Some(stream) = Option::as_mut(&mut *st) {
                    if stream.session.retry(&mut self.plan, n) {
                        let mut m = self.model.lock();
                        match be::start_frame(&mut m.ve, &stream.session, &self.plan, &self.bufs)
                        {
                            Ok(()) => continue,
                            Err(e) => {
                                m.ve.bus_mut().clear();
                                break Err(e);
                            }
                        }
                    }
                }
            }
            self.model.lock().ve.bus_mut().clear();
            break r;
        };
        #[cfg(not(slenc_sim))]
        let bytes: core::result::Result<u32, be::CedrusError> = Err(be::CedrusError::NotDone);
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
                Err(if matches!(e, be::CedrusError::OutputFull) {
                    ENOSPC
                } else {
                    EIO
                })
            }
        })
    }

    fn abort(&mut self, job: &mut Job<Context>) {
        #[cfg(slenc_sim)]
        {
            let mut m = self.model.lock();
            be::reset(&mut m.ve);
            m.ve.reset_line();
            m.ve.inject.hang = false;
            m.ve.bus_mut().clear();
        }
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
