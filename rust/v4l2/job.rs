// SPDX-License-Identifier: GPL-2.0
//! mem2mem jobs: the `device_run`/`job_ready`/`job_abort` adapters, and [`Job`], the driver's
//! handle on one running job (its OUTPUT and CAPTURE buffers), which must always be finished.

use super::{bindings as b, ctrl, file::Fh, NodeOps};
use core::ptr;
use kernel::{
    ffi::{c_int, c_void},
    prelude::*,
};

/// The m2m operations of our nodes.
pub(crate) fn m2m_operations<T: NodeOps>() -> b::v4l2_m2m_ops {
    b::v4l2_m2m_ops {
        device_run: Some(device_run::<T>),
        job_ready: Some(job_ready::<T>),
        job_abort: Some(job_abort::<T>),
    }
}

unsafe extern "C" fn device_run<T: NodeOps>(priv_: *mut c_void) {
    // SAFETY: `priv_` is the live `Fh` of the context the m2m core schedules; it stays alive
    // until the job is finished (context release waits for it).
    let fh = unsafe { Fh::<T>::from_priv(priv_) };
    let m2m = fh.m2m_ctx();
    // SAFETY: the m2m core only runs a job when both queues have a buffer ready.
    let (src, dst) = unsafe {
        (
            b::slenc_m2m_next_src_buf(m2m),
            b::slenc_m2m_next_dst_buf(m2m),
        )
    };
    if src.is_null() || dst.is_null() {
        // Cannot happen per the m2m core's contract; do not leave the device stuck.
        // SAFETY: the job of this context is the running one.
        unsafe { b::v4l2_m2m_job_finish(fh.shared().nodes[fh.node].m2m_dev, m2m) };
        return;
    }
    // SAFETY: `src` is a live buffer; its request (if any) stays alive until completed.
    let req = unsafe { (*src).vb2_buf.req_obj.req };
    // SAFETY: as above; the handler is the context's.
    unsafe { ctrl::request_setup(req, fh.hdl.get()) };
    fh.ctx.device_run(Job {
        fh: ptr::from_ref(fh),
        src,
        dst,
        req,
    });
}

unsafe extern "C" fn job_ready<T: NodeOps>(priv_: *mut c_void) -> c_int {
    // SAFETY: as for `device_run`.
    let fh = unsafe { Fh::<T>::from_priv(priv_) };
    c_int::from(fh.ctx.job_ready())
}

unsafe extern "C" fn job_abort<T: NodeOps>(priv_: *mut c_void) {
    // SAFETY: as for `device_run`.
    let fh = unsafe { Fh::<T>::from_priv(priv_) };
    fh.ctx.job_abort();
}

/// A bus address as `u64` (`dma_addr_t` is 32 bits on 32-bit ARM).
#[allow(clippy::useless_conversion)]
fn dma_u64(a: b::dma_addr_t) -> u64 {
    u64::from(a)
}

/// A running job. Dropping it without [`Job::finish`] fails it (buffers returned with ERROR),
/// so a job is never lost.
pub(crate) struct Job<T: NodeOps> {
    fh: *const Fh<T>,
    src: *mut b::vb2_v4l2_buffer,
    dst: *mut b::vb2_v4l2_buffer,
    req: *mut b::media_request,
}

// SAFETY: a job may complete on another thread (interrupt, work item); the buffers and the
// context stay alive until it is finished.
unsafe impl<T: NodeOps> Send for Job<T> {}

/// What a successful job produced.
pub(crate) struct Done {
    /// Bytes written into the CAPTURE buffer.
    pub(crate) bytes: usize,
    /// The frame is a key frame (I/IDR, or JPEG).
    pub(crate) keyframe: bool,
    /// Only the CAPTURE buffer was used, for stream headers (stateful header mode
    /// `SEPARATE`): the OUTPUT buffer stays queued for the next job, which codes the frame.
    pub(crate) header_only: bool,
    /// Microseconds the completion spent running a model's encode (0 on hardware), so the
    /// statistics can tell the driver's own CPU time from the model's.
    pub(crate) model_us: u32,
}

impl<T: NodeOps> Job<T> {
    /// The context this job belongs to.
    pub(crate) fn ctx(&self) -> &T {
        // SAFETY: the context outlives its running job.
        unsafe { &(*self.fh).ctx }
    }

    /// The OUTPUT buffer's sequence number.
    pub(crate) fn sequence(&self) -> u32 {
        // SAFETY: the buffer is alive while the job runs.
        unsafe { (*self.src).sequence }
    }

    /// The kernel mapping of OUTPUT plane `plane`, its bytes used.
    pub(crate) fn src_plane(&self, plane: u32) -> Option<&[u8]> {
        // SAFETY: the buffer is alive and owned by the driver while the job runs; dma-contig
        // buffers have a kernel mapping covering their payload.
        unsafe {
            let vb = &raw mut (*self.src).vb2_buf;
            if plane >= (*vb).num_planes {
                return None;
            }
            let p = b::vb2_plane_vaddr(vb, plane).cast::<u8>();
            let len = b::slenc_vb2_get_plane_payload(vb, plane);
            (!p.is_null()).then(|| core::slice::from_raw_parts(p, len))
        }
    }

    /// Whether the job's OUTPUT buffer came with a media request.
    pub(crate) fn has_request(&self) -> bool {
        !self.req.is_null()
    }

    /// OUTPUT plane `plane` as a bus region (for a model), `None` if there is no such plane.
    pub(crate) fn src_region(&self, plane: u32) -> Option<super::dma::Region> {
        // SAFETY: as for `src_plane`; the region covers the whole plane.
        unsafe {
            let vb = &raw mut (*self.src).vb2_buf;
            if plane >= (*vb).num_planes {
                return None;
            }
            let p = b::vb2_plane_vaddr(vb, plane).cast::<u8>();
            let len = b::slenc_vb2_plane_size(vb, plane);
            super::dma::Region::new(dma_u64(b::slenc_vb2_dma_contig_plane_dma_addr(vb, plane)), p, len)
        }
    }

    /// The CAPTURE buffer as a bus region (for a model).
    pub(crate) fn dst_region(&self) -> Option<super::dma::Region> {
        // SAFETY: as for `src_plane`.
        unsafe {
            let vb = &raw mut (*self.dst).vb2_buf;
            let p = b::vb2_plane_vaddr(vb, 0).cast::<u8>();
            let len = b::slenc_vb2_plane_size(vb, 0);
            super::dma::Region::new(dma_u64(b::slenc_vb2_dma_contig_plane_dma_addr(vb, 0)), p, len)
        }
    }

    /// The number of memory planes of the OUTPUT buffer (2 for NV12M, 1 for NV12).
    pub(crate) fn src_num_planes(&self) -> u32 {
        // SAFETY: as for `src_plane`.
        unsafe { (*self.src).vb2_buf.num_planes }
    }

    /// The bus address of OUTPUT plane `plane` (for hardware).
    pub(crate) fn src_dma(&self, plane: u32) -> u64 {
        // SAFETY: as for `src_plane`.
        unsafe { dma_u64(b::slenc_vb2_dma_contig_plane_dma_addr(&raw mut (*self.src).vb2_buf, plane)) }
    }

    /// The kernel mapping of the whole CAPTURE buffer.
    pub(crate) fn dst(&mut self) -> Option<&mut [u8]> {
        // SAFETY: as for `src_plane`; `&mut self` makes the slice unique.
        unsafe {
            let vb = &raw mut (*self.dst).vb2_buf;
            let p = b::vb2_plane_vaddr(vb, 0).cast::<u8>();
            let len = b::slenc_vb2_plane_size(vb, 0);
            (!p.is_null()).then(|| core::slice::from_raw_parts_mut(p, len))
        }
    }

    /// The bus address and size of the CAPTURE buffer (for hardware).
    pub(crate) fn dst_dma(&self) -> (u64, usize) {
        // SAFETY: as for `src_plane`.
        unsafe {
            let vb = &raw mut (*self.dst).vb2_buf;
            (
                dma_u64(b::slenc_vb2_dma_contig_plane_dma_addr(vb, 0)),
                b::slenc_vb2_plane_size(vb, 0),
            )
        }
    }

    /// Finishes the job: buffers back to userspace (DONE with the payload and frame flags, or
    /// ERROR), the request completed, the drain handled, the next job scheduled.
    pub(crate) fn finish(self, result: Result<Done>) {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is consumed; its pointers are the running job's.
        unsafe { this.complete(result) };
    }

    unsafe fn complete(&self, result: Result<Done>) {
        if let Ok(Done {
            bytes,
            header_only: true,
            ..
        }) = result
        {
            // SAFETY: as below.
            return unsafe { self.complete_header(bytes) };
        }
        // SAFETY: the context outlives its running job.
        let fh = unsafe { &*self.fh };
        let m2m = fh.m2m_ctx();
        // SAFETY: the job's buffers are the first on their queues (`device_run` took the next
        // ones and nothing else removes buffers while a job runs); they are alive and ours.
        unsafe {
            // The buffers go back under the drain lock (see `Fh::drain_lock`); the next job is
            // scheduled after it.
            b::slenc_mutex_lock(fh.drain_lock.get());
            let src = b::slenc_m2m_src_buf_remove(m2m);
            let dst = b::slenc_m2m_dst_buf_remove(m2m);
            debug_assert!(src == self.src && dst == self.dst);
            b::v4l2_m2m_buf_copy_metadata(self.src, self.dst);
            for (buf, seq) in [(self.src, &fh.seq[0]), (self.dst, &fh.seq[1])] {
                (*buf).sequence = seq.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            }
            let last = b::slenc_m2m_is_last_draining_src_buf(m2m, self.src);
            let state = match result {
                Ok(done) => {
                    let size = b::slenc_vb2_plane_size(&raw mut (*self.dst).vb2_buf, 0);
                    b::slenc_vb2_set_plane_payload(
                        &raw mut (*self.dst).vb2_buf,
                        0,
                        done.bytes.min(size),
                    );
                    (*self.dst).flags &= !(b::V4L2_BUF_FLAG_KEYFRAME | b::V4L2_BUF_FLAG_PFRAME);
                    (*self.dst).flags |= if done.keyframe {
                        b::V4L2_BUF_FLAG_KEYFRAME
                    } else {
                        b::V4L2_BUF_FLAG_PFRAME
                    };
                    b::vb2_buffer_state_VB2_BUF_STATE_DONE
                }
                Err(_) => {
                    b::slenc_vb2_set_plane_payload(&raw mut (*self.dst).vb2_buf, 0, 0);
                    b::vb2_buffer_state_VB2_BUF_STATE_ERROR
                }
            };
            ctrl::request_complete(self.req, fh.hdl.get());
            b::slenc_m2m_buf_done(self.src, state);
            if last {
                // EOS before the LAST buffer: a client that dequeues LAST then looks for the
                // event must find it.
                super::ioctl::queue_eos(fh.raw_fh());
                (*self.dst).flags |= b::V4L2_BUF_FLAG_LAST;
                b::slenc_m2m_buf_done(self.dst, state);
                b::slenc_m2m_mark_stopped(m2m);
            } else {
                b::slenc_m2m_buf_done(self.dst, state);
            }
            b::slenc_mutex_unlock(fh.drain_lock.get());
            b::v4l2_m2m_job_finish(fh.shared().nodes[fh.node].m2m_dev, m2m);
        }
    }
}

impl<T: NodeOps> Job<T> {
    /// Returns the CAPTURE buffer alone with `bytes` of stream headers; the OUTPUT buffer
    /// (and its request, if any) stays first on its queue for the next job.
    unsafe fn complete_header(&self, bytes: usize) {
        // SAFETY: the context outlives its running job.
        let fh = unsafe { &*self.fh };
        let m2m = fh.m2m_ctx();
        // SAFETY: as in `complete`; only the CAPTURE buffer is taken off its queue.
        unsafe {
            b::slenc_mutex_lock(fh.drain_lock.get());
            let dst = b::slenc_m2m_dst_buf_remove(m2m);
            debug_assert!(dst == self.dst);
            // The headers belong to the frame that follows: same timestamp.
            b::v4l2_m2m_buf_copy_metadata(self.src, self.dst);
            (*self.dst).sequence = fh.seq[1].fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            let size = b::slenc_vb2_plane_size(&raw mut (*self.dst).vb2_buf, 0);
            b::slenc_vb2_set_plane_payload(&raw mut (*self.dst).vb2_buf, 0, bytes.min(size));
            (*self.dst).flags &= !(b::V4L2_BUF_FLAG_KEYFRAME | b::V4L2_BUF_FLAG_PFRAME);
            b::slenc_m2m_buf_done(self.dst, b::vb2_buffer_state_VB2_BUF_STATE_DONE);
            b::slenc_mutex_unlock(fh.drain_lock.get());
            b::v4l2_m2m_job_finish(fh.shared().nodes[fh.node].m2m_dev, m2m);
        }
    }
}

impl<T: NodeOps> Drop for Job<T> {
    fn drop(&mut self) {
        // SAFETY: an unfinished job is failed exactly once, here.
        unsafe { self.complete(Err(EIO)) };
    }
}
