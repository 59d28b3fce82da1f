// SPDX-License-Identifier: GPL-2.0
//! The vb2 queues of a context (dma-contig; MMAP and DMABUF, so EXPBUF works) and their
//! operations.

use super::{bindings as b, ctrl, file::Fh, NodeKind, NodeOps, Queue};
use kernel::{
    ffi::{c_int, c_uint, c_void},
    prelude::*,
};

/// `queue_init` of `v4l2_m2m_ctx_init`: sets up the OUTPUT (`src`) and CAPTURE (`dst`) queues.
pub(super) unsafe extern "C" fn queue_init<T: NodeOps>(
    priv_: *mut c_void,
    src: *mut b::vb2_queue,
    dst: *mut b::vb2_queue,
) -> c_int {
    // SAFETY: `priv_` is the `Fh` `open` passed to `v4l2_m2m_ctx_init`; it is being set up.
    let fh = unsafe { Fh::<T>::from_priv(priv_) };
    let requests = fh.shared().nodes[fh.node].info.requests;
    for (q, ty) in [
        (src, b::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE),
        (dst, b::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE),
    ] {
        // SAFETY: the m2m core hands us zeroed queues to fill in; every pointer stored outlives
        // them (the `Fh`, the device lock and device in `Shared`, static operation tables).
        let ret = unsafe {
            (*q).type_ = ty;
            (*q).io_modes = b::vb2_io_modes_VB2_MMAP | b::vb2_io_modes_VB2_DMABUF;
            (*q).drv_priv = priv_;
            (*q).buf_struct_size = core::mem::size_of::<b::v4l2_m2m_buffer>() as c_uint;
            (*q).ops = &QueueOps::<T>::OPS;
            (*q).mem_ops = b::slenc_vb2_dma_contig_memops();
            (*q).timestamp_flags = b::V4L2_BUF_FLAG_TIMESTAMP_COPY;
            (*q).lock = fh.shared().lock.get();
            (*q).dev = fh.shared().dev();
            (*q).set_supports_requests(u32::from(
                requests && ty == b::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
            ));
            b::vb2_queue_init(q)
        };
        if ret < 0 {
            return ret;
        }
    }
    0
}

struct QueueOps<T>(core::marker::PhantomData<T>);

impl<T: NodeOps> QueueOps<T> {
    const OPS: b::vb2_ops = b::vb2_ops {
        queue_setup: Some(queue_setup::<T>),
        buf_out_validate: Some(buf_out_validate),
        buf_prepare: Some(buf_prepare::<T>),
        buf_queue: Some(buf_queue::<T>),
        start_streaming: Some(start_streaming::<T>),
        stop_streaming: Some(stop_streaming::<T>),
        buf_request_complete: Some(buf_request_complete::<T>),
        ..unsafe_zeroed_ops()
    };
}

const fn unsafe_zeroed_ops() -> b::vb2_ops {
    // SAFETY: `vb2_ops` is a table of optional function pointers, for which all-zero is `None`.
    unsafe { core::mem::zeroed() }
}

fn queue_of(q: *const b::vb2_queue) -> Queue {
    // SAFETY: vb2 passes live queues; `type_` is fixed at init.
    if unsafe { (*q).type_ } == b::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE {
        Queue::Output
    } else {
        Queue::Capture
    }
}

unsafe fn fh_of<'a, T: NodeOps>(q: *mut b::vb2_queue) -> &'a Fh<T> {
    // SAFETY: the caller passes one of our queues, whose `drv_priv` is the live `Fh`.
    unsafe { Fh::from_priv(b::slenc_vb2_get_drv_priv(q)) }
}

unsafe extern "C" fn queue_setup<T: NodeOps>(
    q: *mut b::vb2_queue,
    _nbuffers: *mut c_uint,
    nplanes: *mut c_uint,
    sizes: *mut c_uint,
    _alloc_devs: *mut *mut b::device,
) -> c_int {
    // SAFETY: vb2 calls this for our queues with valid out-pointers (`sizes` has room for
    // `VB2_MAX_PLANES`).
    unsafe {
        let fh = fh_of::<T>(q);
        let f = fh.ctx.g_fmt(queue_of(q));
        let n = super::file::planes(f.num_planes);
        if *nplanes != 0 {
            // CREATE_BUFS: the sizes asked for must hold the current format.
            if *nplanes != n {
                return EINVAL.to_errno();
            }
            for i in 0..n as usize {
                if *sizes.add(i) < f.sizeimage[i] {
                    return EINVAL.to_errno();
                }
            }
            return 0;
        }
        *nplanes = n;
        for i in 0..n as usize {
            *sizes.add(i) = f.sizeimage[i];
        }
    }
    0
}

unsafe extern "C" fn buf_out_validate(vb: *mut b::vb2_buffer) -> c_int {
    // SAFETY: vb2 passes a live buffer of our queue.
    unsafe { (*b::slenc_to_vb2_v4l2_buffer(vb)).field = b::v4l2_field_V4L2_FIELD_NONE };
    0
}

unsafe extern "C" fn buf_prepare<T: NodeOps>(vb: *mut b::vb2_buffer) -> c_int {
    // SAFETY: vb2 passes a live buffer of one of our queues.
    unsafe {
        let q = (*vb).vb2_queue;
        let fh = fh_of::<T>(q);
        let qk = queue_of(q);
        let f = fh.ctx.g_fmt(qk);
        for i in 0..super::file::planes(f.num_planes) {
            let need = u64::from(f.sizeimage[i as usize]);
            if (b::slenc_vb2_plane_size(vb, i) as u64) < need {
                return EINVAL.to_errno();
            }
            if qk == Queue::Capture {
                b::slenc_vb2_set_plane_payload(vb, i, 0);
            }
        }
    }
    0
}

unsafe extern "C" fn buf_queue<T: NodeOps>(vb: *mut b::vb2_buffer) {
    // SAFETY: vb2 passes a live buffer of one of our queues, with the queue lock held.
    unsafe {
        let q = (*vb).vb2_queue;
        let fh = fh_of::<T>(q);
        let vbuf = b::slenc_to_vb2_v4l2_buffer(vb);
        // A drain that found no OUTPUT buffer left marks the next CAPTURE buffer as the last
        // one (stateful encoder interface), empty.
        if queue_of(q) == Queue::Capture && b::slenc_m2m_dst_buf_is_last(fh.m2m_ctx()) {
            b::slenc_vb2_set_plane_payload(vb, 0, 0);
            super::ioctl::queue_eos(fh.raw_fh());
            b::v4l2_m2m_last_buffer_done(fh.m2m_ctx(), vbuf);
            return;
        }
        b::v4l2_m2m_buf_queue(fh.m2m_ctx(), vbuf);
    }
}

unsafe extern "C" fn buf_request_complete<T: NodeOps>(vb: *mut b::vb2_buffer) {
    // SAFETY: vb2 passes a live buffer whose request is being cancelled.
    unsafe {
        let fh = fh_of::<T>((*vb).vb2_queue);
        ctrl::request_complete((*vb).req_obj.req, fh.hdl.get());
    }
}

unsafe extern "C" fn start_streaming<T: NodeOps>(q: *mut b::vb2_queue, _count: c_uint) -> c_int {
    // SAFETY: vb2 calls this for our queues, with the queue lock held.
    let fh = unsafe { fh_of::<T>(q) };
    let qk = queue_of(q);
    fh.seq[usize::from(qk == Queue::Capture)].store(0, core::sync::atomic::Ordering::Relaxed);
    if qk == Queue::Output && fh.kind() == NodeKind::Stateful {
        // A new encoding session after a drain (stateful encoder interface).
        // SAFETY: the m2m context is alive while the file is.
        unsafe { b::slenc_m2m_clear_state(fh.m2m_ctx()) };
    }
    match fh.ctx.start_streaming(qk) {
        Ok(()) => 0,
        Err(e) => {
            // SAFETY: on failure vb2 requires the queued buffers back in state QUEUED.
            unsafe { return_buffers(fh, qk, b::vb2_buffer_state_VB2_BUF_STATE_QUEUED) };
            e.to_errno()
        }
    }
}

unsafe extern "C" fn stop_streaming<T: NodeOps>(q: *mut b::vb2_queue) {
    // SAFETY: vb2 calls this for our queues, with the queue lock held and no job running on
    // this context (the m2m core waits for it).
    let fh = unsafe { fh_of::<T>(q) };
    let qk = queue_of(q);
    fh.ctx.stop_streaming(qk);
    // SAFETY: as above.
    unsafe { return_buffers(fh, qk, b::vb2_buffer_state_VB2_BUF_STATE_ERROR) };
}

/// Gives every buffer still queued on `qk` back to vb2 in `state`, completing their requests.
///
/// # Safety
///
/// Called with the queue lock held and no job of the context running.
unsafe fn return_buffers<T: NodeOps>(fh: &Fh<T>, qk: Queue, state: b::vb2_buffer_state) {
    loop {
        // SAFETY: per the requirements the m2m context's lists are ours.
        let buf = unsafe {
            match qk {
                Queue::Output => b::slenc_m2m_src_buf_remove(fh.m2m_ctx()),
                Queue::Capture => b::slenc_m2m_dst_buf_remove(fh.m2m_ctx()),
            }
        };
        if buf.is_null() {
            break;
        }
        // SAFETY: `buf` was just taken off the queue and is ours to return.
        unsafe {
            ctrl::request_complete((*buf).vb2_buf.req_obj.req, fh.hdl.get());
            b::slenc_m2m_buf_done(buf, state);
        }
    }
}
