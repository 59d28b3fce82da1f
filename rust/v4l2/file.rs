// SPDX-License-Identifier: GPL-2.0
//! Open files of the video nodes: each is a V4L2 file handle with its own control handler,
//! mem2mem context (two vb2 queues) and driver context.

use super::{bindings as b, ctrl, device::Shared, NodeKind, NodeOps};
use core::ptr;
use kernel::{
    ffi::{c_int, c_uint},
    prelude::*,
    types::Opaque,
};

/// An open file. `#[repr(C)]` with the `v4l2_fh` first: `file->private_data` and the m2m
/// context's `priv` point to it.
#[repr(C)]
pub(crate) struct Fh<T: NodeOps> {
    fh: Opaque<b::v4l2_fh>,
    pub(crate) hdl: Opaque<b::v4l2_ctrl_handler>,
    pub(crate) shared: *const Shared<T>,
    pub(crate) node: usize,
    /// Sequence numbers of the next OUTPUT and CAPTURE buffers done.
    pub(crate) seq: [core::sync::atomic::AtomicU32; 2],
    /// Serialises `ENCODER_CMD` with the end of a job: the m2m core's drain state is not
    /// locked, and a STOP that lands while a finishing job has taken its OUTPUT buffer off the
    /// queue but not yet returned its CAPTURE buffer would return another CAPTURE buffer as
    /// LAST first (the client then misses the final frame). Mainline's stateful codecs add
    /// such a lock on top of mem2mem as well.
    pub(crate) drain_lock: Opaque<b::mutex>,
    pub(crate) ctx: T,
}

impl<T: NodeOps> Fh<T> {
    /// The file handle `priv` (m2m context `priv`, vb2 `drv_priv`) points to.
    ///
    /// # Safety
    ///
    /// `p` must point to a live `Fh<T>` (created by [`open`] and not yet released).
    pub(crate) unsafe fn from_priv<'a>(p: *mut kernel::ffi::c_void) -> &'a Self {
        // SAFETY: per the requirements.
        unsafe { &*p.cast::<Self>() }
    }

    /// The file handle of an open file of one of our nodes.
    ///
    /// # Safety
    ///
    /// `file` must be an open file of a node registered with `T`.
    pub(crate) unsafe fn from_file<'a>(file: *mut b::file) -> &'a Self {
        // SAFETY: `open` stored the `v4l2_fh` (the first field of `Fh`) in `private_data`.
        unsafe { &*(*file).private_data.cast::<Self>() }
    }

    /// The device state.
    pub(crate) fn shared(&self) -> &Shared<T> {
        // SAFETY: the file holds a reference on the node and so on `Shared`.
        unsafe { &*self.shared }
    }

    /// The node kind this file was opened on.
    pub(crate) fn kind(&self) -> NodeKind {
        self.shared().nodes[self.node].kind
    }

    /// The mem2mem context.
    pub(crate) fn m2m_ctx(&self) -> *mut b::v4l2_m2m_ctx {
        // SAFETY: set in `open` before the file is visible and never changed.
        unsafe { (*self.fh.get()).m2m_ctx }
    }

    /// The raw `v4l2_fh`.
    pub(crate) fn raw_fh(&self) -> *mut b::v4l2_fh {
        self.fh.get()
    }
}

/// The file operations of our nodes.
pub(crate) fn file_operations<T: NodeOps>() -> b::v4l2_file_operations {
    b::v4l2_file_operations {
        owner: super::device::module_ptr(),
        open: Some(open::<T>),
        release: Some(release::<T>),
        poll: Some(b::v4l2_m2m_fop_poll),
        unlocked_ioctl: Some(b::video_ioctl2),
        mmap: Some(b::v4l2_m2m_fop_mmap),
        ..Default::default()
    }
}

unsafe extern "C" fn open<T: NodeOps>(file: *mut b::file) -> c_int {
    // SAFETY: the V4L2 core calls `open` with the file of one of our registered nodes.
    let (shared, node) = unsafe { Shared::<T>::from_vdev(b::video_devdata(file)) };
    match open_inner::<T>(file, shared, node) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

fn open_inner<T: NodeOps>(file: *mut b::file, shared: &Shared<T>, node: usize) -> Result {
    let kind = shared.nodes[node].kind;
    // SAFETY: the file holds a reference on the node, so `shared` (and its data) outlives the
    // context, which is freed in `release`.
    let ctx = T::open(unsafe { super::DevRef::new(&shared.data) }, kind)?;
    let fh = KBox::into_raw(KBox::new(
        Fh {
            fh: Opaque::zeroed(),
            hdl: Opaque::zeroed(),
            shared: ptr::from_ref(shared),
            node,
            seq: [
                core::sync::atomic::AtomicU32::new(0),
                core::sync::atomic::AtomicU32::new(0),
            ],
            drain_lock: Opaque::zeroed(),
            ctx,
        },
        GFP_KERNEL,
    )?);
    // SAFETY: `fh` is ours until `v4l2_fh_add` publishes it; every error path frees what was
    // set up before it. The handler is initialised in place because controls point back at it.
    unsafe {
        b::slenc_drain_lock_init((*fh).drain_lock.get());
        let h = (*fh).hdl.get();
        if let Err(e) = kernel::error::to_result(b::slenc_ctrl_handler_init(h, 32)) {
            drop(KBox::from_raw(fh));
            return Err(e);
        }
        let mut builder = ctrl::Builder::new(h);
        (*fh).ctx.add_controls(kind, &mut builder);
        let err = (*h).error;
        if err != 0 {
            b::v4l2_ctrl_handler_free(h);
            drop(KBox::from_raw(fh));
            return Err(Error::from_errno(err));
        }
        let vfh = (*fh).fh.get();
        b::v4l2_fh_init(vfh, b::video_devdata(file));
        (*vfh).ctrl_handler = h;
        let m2m = b::v4l2_m2m_ctx_init(
            shared.nodes[node].m2m_dev,
            fh.cast(),
            Some(super::queue::queue_init::<T>),
        );
        if let Err(e) = kernel::error::from_err_ptr(m2m.cast::<kernel::ffi::c_void>()) {
            b::v4l2_fh_exit(vfh);
            b::v4l2_ctrl_handler_free(h);
            drop(KBox::from_raw(fh));
            return Err(e);
        }
        (*vfh).m2m_ctx = m2m;
        b::v4l2_ctrl_handler_setup(h);
        b::v4l2_fh_add(vfh, file);
    }
    Ok(())
}

unsafe extern "C" fn release<T: NodeOps>(file: *mut b::file) -> c_int {
    // SAFETY: `file` is an open file of one of our nodes.
    let fh = unsafe { Fh::<T>::from_file(file) };
    let raw = ptr::from_ref(fh).cast_mut();
    let lock = fh.shared().lock.get();
    // SAFETY: the file is being closed: no ioctl runs on it any more. Releasing the m2m context
    // waits for (and aborts) its running job and returns all its buffers; after that no callback
    // refers to the `Fh`, which is then freed.
    unsafe {
        b::v4l2_fh_del(fh.raw_fh(), file);
        b::slenc_mutex_lock(lock);
        b::v4l2_m2m_ctx_release(fh.m2m_ctx());
        b::slenc_mutex_unlock(lock);
        b::v4l2_ctrl_handler_free(fh.hdl.get());
        b::v4l2_fh_exit(fh.raw_fh());
        b::slenc_mutex_destroy(fh.drain_lock.get());
        drop(KBox::from_raw(raw));
    }
    0
}

/// Number of planes V4L2 reports for `n` (bounded to the array sizes we use).
pub(crate) fn planes(n: u8) -> c_uint {
    c_uint::from(n.clamp(1, 3))
}
