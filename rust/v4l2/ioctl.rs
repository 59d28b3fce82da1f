// SPDX-License-Identifier: GPL-2.0
//! The ioctl operations of our nodes: adapters from `v4l2_ioctl_ops` to [`NodeOps`], and the
//! mem2mem core's own helpers for buffers, streaming and the encoder commands.

use super::{bindings as b, device::copy_cstr, file::Fh, Format, NodeOps, Queue, Rect};
use kernel::{
    ffi::{c_int, c_void},
    prelude::*,
};

/// The ioctl operations of our nodes.
pub(crate) fn ioctl_operations<T: NodeOps>() -> b::v4l2_ioctl_ops {
    b::v4l2_ioctl_ops {
        vidioc_querycap: Some(querycap::<T>),
        vidioc_enum_fmt_vid_out: Some(enum_fmt::<T, true>),
        vidioc_enum_fmt_vid_cap: Some(enum_fmt::<T, false>),
        vidioc_g_fmt_vid_out_mplane: Some(g_fmt::<T>),
        vidioc_g_fmt_vid_cap_mplane: Some(g_fmt::<T>),
        vidioc_try_fmt_vid_out_mplane: Some(try_fmt::<T>),
        vidioc_try_fmt_vid_cap_mplane: Some(try_fmt::<T>),
        vidioc_s_fmt_vid_out_mplane: Some(s_fmt::<T>),
        vidioc_s_fmt_vid_cap_mplane: Some(s_fmt::<T>),
        vidioc_g_selection: Some(g_selection::<T>),
        vidioc_s_selection: Some(s_selection::<T>),
        vidioc_g_parm: Some(g_parm::<T>),
        vidioc_s_parm: Some(s_parm::<T>),
        vidioc_enum_framesizes: Some(enum_framesizes::<T>),
        vidioc_enum_frameintervals: Some(enum_frameintervals::<T>),
        vidioc_reqbufs: Some(b::v4l2_m2m_ioctl_reqbufs),
        vidioc_querybuf: Some(b::v4l2_m2m_ioctl_querybuf),
        vidioc_qbuf: Some(b::v4l2_m2m_ioctl_qbuf),
        vidioc_dqbuf: Some(b::v4l2_m2m_ioctl_dqbuf),
        vidioc_prepare_buf: Some(b::v4l2_m2m_ioctl_prepare_buf),
        vidioc_create_bufs: Some(b::v4l2_m2m_ioctl_create_bufs),
        vidioc_expbuf: Some(b::v4l2_m2m_ioctl_expbuf),
        vidioc_remove_bufs: Some(b::v4l2_m2m_ioctl_remove_bufs),
        vidioc_streamon: Some(b::v4l2_m2m_ioctl_streamon),
        vidioc_streamoff: Some(b::v4l2_m2m_ioctl_streamoff),
        vidioc_try_encoder_cmd: Some(b::v4l2_m2m_ioctl_try_encoder_cmd),
        vidioc_encoder_cmd: Some(encoder_cmd::<T>),
        vidioc_subscribe_event: Some(subscribe_event),
        vidioc_unsubscribe_event: Some(b::v4l2_event_unsubscribe),
        ..Default::default()
    }
}

/// The file handle of an ioctl's file.
///
/// # Safety
///
/// `file` must be an open file of one of our nodes.
unsafe fn fh<'a, T: NodeOps>(file: *mut b::file) -> &'a Fh<T> {
    // SAFETY: per the requirements.
    unsafe { Fh::from_file(file) }
}

unsafe extern "C" fn querycap<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    cap: *mut b::v4l2_capability,
) -> c_int {
    // SAFETY: the V4L2 core calls ioctls only for open files of our nodes, with valid
    // argument structures (zeroed for QUERYCAP).
    let (fh, cap) = unsafe { (fh::<T>(file), &mut *cap) };
    copy_cstr(&mut cap.driver, super::device::DRIVER);
    copy_cstr(&mut cap.card, fh.shared().nodes[fh.node].info.card);
    copy_cstr(&mut cap.bus_info, super::device::BUS_INFO);
    0
}

unsafe extern "C" fn enum_fmt<T: NodeOps, const OUT: bool>(
    file: *mut b::file,
    _priv: *mut c_void,
    f: *mut b::v4l2_fmtdesc,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, f) = unsafe { (fh::<T>(file), &mut *f) };
    let q = if OUT { Queue::Output } else { Queue::Capture };
    match fh.ctx.enum_fmt(q, f.index) {
        Some(fourcc) => {
            f.pixelformat = fourcc;
            if !OUT {
                f.flags = b::V4L2_FMT_FLAG_COMPRESSED;
            }
            0
        }
        None => EINVAL.to_errno(),
    }
}

fn queue_of_type(ty: u32) -> Option<Queue> {
    match ty {
        b::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE
        | b::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_OUTPUT => Some(Queue::Output),
        b::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE
        | b::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE => Some(Queue::Capture),
        _ => None,
    }
}

/// Reads the driver's view of a multi-planar format.
fn from_v4l2(f: &b::v4l2_format) -> Format {
    // SAFETY: the ioctl core only calls the `*_mplane` handlers with `pix_mp` in use.
    let p = unsafe { &f.fmt.pix_mp };
    let mut out = Format {
        fourcc: p.pixelformat,
        width: p.width,
        height: p.height,
        num_planes: p.num_planes.min(3),
        colorspace: p.colorspace,
        xfer_func: p.xfer_func,
        // SAFETY: `ycbcr_enc` and `hsv_enc` share storage; both are plain `u8`.
        ycbcr_enc: unsafe { p.__bindgen_anon_1.ycbcr_enc },
        quantization: p.quantization,
        ..Default::default()
    };
    for (i, pl) in p.plane_fmt.iter().take(3).enumerate() {
        out.bytesperline[i] = pl.bytesperline;
        out.sizeimage[i] = pl.sizeimage;
    }
    out
}

/// Writes the driver's format back into the ioctl's structure.
fn to_v4l2(f: &mut b::v4l2_format, v: &Format) {
    // SAFETY: as for `from_v4l2`.
    let p = unsafe { &mut f.fmt.pix_mp };
    p.pixelformat = v.fourcc;
    p.width = v.width;
    p.height = v.height;
    p.field = b::v4l2_field_V4L2_FIELD_NONE;
    p.num_planes = v.num_planes.clamp(1, 3);
    p.colorspace = v.colorspace;
    p.xfer_func = v.xfer_func;
    p.__bindgen_anon_1.ycbcr_enc = v.ycbcr_enc;
    p.quantization = v.quantization;
    p.flags = 0;
    p.reserved = [0; 7];
    for (i, pl) in p.plane_fmt.iter_mut().enumerate() {
        let used = i < usize::from(p.num_planes);
        pl.bytesperline = if used { v.bytesperline[i.min(2)] } else { 0 };
        pl.sizeimage = if used { v.sizeimage[i.min(2)] } else { 0 };
        pl.reserved = [0; 6];
    }
}

unsafe extern "C" fn g_fmt<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    f: *mut b::v4l2_format,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, f) = unsafe { (fh::<T>(file), &mut *f) };
    let Some(q) = queue_of_type(f.type_) else {
        return EINVAL.to_errno();
    };
    to_v4l2(f, &fh.ctx.g_fmt(q));
    0
}

unsafe extern "C" fn try_fmt<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    f: *mut b::v4l2_format,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, f) = unsafe { (fh::<T>(file), &mut *f) };
    let Some(q) = queue_of_type(f.type_) else {
        return EINVAL.to_errno();
    };
    let v = fh.ctx.try_fmt(q, &from_v4l2(f));
    to_v4l2(f, &v);
    0
}

unsafe extern "C" fn s_fmt<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    f: *mut b::v4l2_format,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, f) = unsafe { (fh::<T>(file), &mut *f) };
    let Some(q) = queue_of_type(f.type_) else {
        return EINVAL.to_errno();
    };
    // SAFETY: the m2m context is alive while the file is open; the device lock is held.
    let vq = unsafe { b::v4l2_m2m_get_vq(fh.m2m_ctx(), f.type_) };
    // SAFETY: `vq` is the context's live queue.
    let busy = !vq.is_null() && unsafe { b::slenc_vb2_is_busy(vq) };
    let v = fh.ctx.try_fmt(q, &from_v4l2(f));
    match fh.ctx.s_fmt(q, &v, busy) {
        Ok(set) => {
            to_v4l2(f, &set);
            0
        }
        Err(e) => e.to_errno(),
    }
}

unsafe extern "C" fn g_selection<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    s: *mut b::v4l2_selection,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, s) = unsafe { (fh::<T>(file), &mut *s) };
    if queue_of_type(s.type_) != Some(Queue::Output) {
        return EINVAL.to_errno();
    }
    let (crop, bounds) = fh.ctx.crop();
    let r = match s.target {
        b::V4L2_SEL_TGT_CROP => crop,
        b::V4L2_SEL_TGT_CROP_DEFAULT | b::V4L2_SEL_TGT_CROP_BOUNDS => bounds,
        _ => return EINVAL.to_errno(),
    };
    s.r = rect_to_v4l2(r);
    0
}

unsafe extern "C" fn s_selection<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    s: *mut b::v4l2_selection,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, s) = unsafe { (fh::<T>(file), &mut *s) };
    if queue_of_type(s.type_) != Some(Queue::Output) || s.target != b::V4L2_SEL_TGT_CROP {
        return EINVAL.to_errno();
    }
    let r = Rect {
        left: s.r.left.max(0) as u32,
        top: s.r.top.max(0) as u32,
        width: s.r.width,
        height: s.r.height,
    };
    match fh.ctx.s_crop(r) {
        Ok(set) => {
            s.r = rect_to_v4l2(set);
            0
        }
        Err(e) => e.to_errno(),
    }
}

fn rect_to_v4l2(r: Rect) -> b::v4l2_rect {
    b::v4l2_rect {
        left: r.left as i32,
        top: r.top as i32,
        width: r.width,
        height: r.height,
    }
}

unsafe extern "C" fn g_parm<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    p: *mut b::v4l2_streamparm,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, p) = unsafe { (fh::<T>(file), &mut *p) };
    parm::<T>(fh, p, false)
}

unsafe extern "C" fn s_parm<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    p: *mut b::v4l2_streamparm,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, p) = unsafe { (fh::<T>(file), &mut *p) };
    parm::<T>(fh, p, true)
}

/// `G/S_PARM` on OUTPUT: the frame interval (timing in the SPS VUI and rate control). CAPTURE
/// (a coded frame interval, optional in the stateful encoder interface) is refused: the coded
/// side always runs at the OUTPUT interval. The stateless node disables both (see `device.rs`).
fn parm<T: NodeOps>(fh: &Fh<T>, p: &mut b::v4l2_streamparm, set: bool) -> c_int {
    if queue_of_type(p.type_) != Some(Queue::Output) {
        return EINVAL.to_errno();
    }
    // SAFETY: for an OUTPUT buffer type the union holds `output`.
    let out = unsafe { &mut p.parm.output };
    let (cap, tpf) = (&mut out.capability, &mut out.timeperframe);
    let t = if set {
        fh.ctx.s_timeperframe((tpf.numerator, tpf.denominator))
    } else {
        fh.ctx.timeperframe()
    };
    *cap = b::V4L2_CAP_TIMEPERFRAME;
    tpf.numerator = t.0;
    tpf.denominator = t.1;
    0
}

/// The frame sizes of `fourcc` for enumeration entry `index` (stepwise: only entry 0). The
/// stateless node never gets here: it disables these ioctls (see `device.rs`).
fn sizes<T: NodeOps>(fh: &Fh<T>, index: u32, fourcc: u32) -> Option<super::FrameSizes> {
    if index != 0 {
        return None;
    }
    fh.ctx.framesizes(fourcc)
}

unsafe extern "C" fn enum_framesizes<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    f: *mut b::v4l2_frmsizeenum,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, f) = unsafe { (fh::<T>(file), &mut *f) };
    let Some(s) = sizes(fh, f.index, f.pixel_format) else {
        return EINVAL.to_errno();
    };
    f.type_ = b::v4l2_frmsizetypes_V4L2_FRMSIZE_TYPE_STEPWISE;
    f.__bindgen_anon_1.stepwise = b::v4l2_frmsize_stepwise {
        min_width: s.min_width,
        max_width: s.max_width,
        step_width: s.step_width,
        min_height: s.min_height,
        max_height: s.max_height,
        step_height: s.step_height,
    };
    0
}

unsafe extern "C" fn enum_frameintervals<T: NodeOps>(
    file: *mut b::file,
    _priv: *mut c_void,
    f: *mut b::v4l2_frmivalenum,
) -> c_int {
    // SAFETY: as for `querycap`.
    let (fh, f) = unsafe { (fh::<T>(file), &mut *f) };
    let Some(s) = sizes(fh, f.index, f.pixel_format) else {
        return EINVAL.to_errno();
    };
    if f.width < s.min_width
        || f.width > s.max_width
        || f.height < s.min_height
        || f.height > s.max_height
    {
        return EINVAL.to_errno();
    }
    // Hardware encodes are not paced: any interval from 1/1000 s to 1000 s is accepted.
    f.type_ = b::v4l2_frmivaltypes_V4L2_FRMIVAL_TYPE_CONTINUOUS;
    f.__bindgen_anon_1.stepwise = b::v4l2_frmival_stepwise {
        min: b::v4l2_fract {
            numerator: 1,
            denominator: 1000,
        },
        max: b::v4l2_fract {
            numerator: 1000,
            denominator: 1,
        },
        step: b::v4l2_fract {
            numerator: 1,
            denominator: 1,
        },
    };
    0
}

unsafe extern "C" fn encoder_cmd<T: NodeOps>(
    file: *mut b::file,
    priv_: *mut c_void,
    ec: *mut b::v4l2_encoder_cmd,
) -> c_int {
    // SAFETY: as for `querycap`.
    let fh = unsafe { fh::<T>(file) };
    // SAFETY: the m2m core's drain state machine (stateful encoder interface): STOP marks the
    // last OUTPUT buffer, or the next CAPTURE buffer if nothing is queued; START resumes.
    // Under the drain lock, so a job cannot be half-way through returning its buffers.
    // SAFETY: the lock lives in the file handle, initialised at open, destroyed at release.
    unsafe { b::slenc_mutex_lock(fh.drain_lock.get()) };
    let ret = unsafe { b::v4l2_m2m_ioctl_encoder_cmd(file, priv_, ec) };
    if ret == 0 {
        // SAFETY: the m2m context is alive while the file is open.
        let stopped = unsafe { (*fh.m2m_ctx()).has_stopped };
        // SAFETY: `ec` is valid (checked by the core).
        if stopped && unsafe { (*ec).cmd } == b::V4L2_ENC_CMD_STOP {
            queue_eos(fh.raw_fh());
        }
    }
    // SAFETY: locked above, by this thread.
    unsafe { b::slenc_mutex_unlock(fh.drain_lock.get()) };
    ret
}

unsafe extern "C" fn subscribe_event(
    fh: *mut b::v4l2_fh,
    sub: *const b::v4l2_event_subscription,
) -> c_int {
    // SAFETY: the V4L2 core passes a live file handle and subscription.
    unsafe {
        match (*sub).type_ {
            b::V4L2_EVENT_EOS => b::v4l2_event_subscribe(fh, sub, 2, core::ptr::null()),
            _ => b::v4l2_ctrl_subscribe_event(fh, sub),
        }
    }
}

/// Queues `V4L2_EVENT_EOS` on a file handle (end of a drain).
pub(crate) fn queue_eos(fh: *mut b::v4l2_fh) {
    let ev = b::v4l2_event {
        type_: b::V4L2_EVENT_EOS,
        ..Default::default()
    };
    // SAFETY: `fh` is a live file handle of ours; the event is copied.
    unsafe { b::v4l2_event_queue_fh(fh, &ev) };
}
