// SPDX-License-Identifier: GPL-2.0
//! The V4L2 device: a `v4l2_device`, a media device, and one memory-to-memory video node per
//! [`NodeKind`], each with its own m2m device and media-controller entities
//! (`MEDIA_ENT_F_PROC_VIDEO_ENCODER`). The driver's engine keeps one job on the hardware at a
//! time across both.
//!
//! Lifetime: everything lives in one [`Shared`], reference counted by the `v4l2_device`. The
//! driver holds one reference; the V4L2 core takes one per registered node that it drops only
//! when the node's last open file is closed. So open files may outlive the unbind of the
//! platform device, and the m2m devices, the media device and the driver data are freed in the
//! `v4l2_device` release callback, never earlier.

use super::{bindings as b, NodeKind, NodeOps};
use core::ptr::{self, NonNull};
use kernel::{device, prelude::*, types::Opaque};

/// What a video node tells userspace about itself (`VIDIOC_QUERYCAP`).
pub(crate) struct NodeInfo {
    /// Card name (`v4l2_capability.card`, also the node's name).
    pub(crate) card: &'static CStr,
    /// Whether its queues support media requests.
    pub(crate) requests: bool,
}

/// Driver name (`v4l2_capability.driver`).
pub(crate) const DRIVER: &CStr = c"slenc";
/// Bus information (`v4l2_capability.bus_info`, media device `bus_info`).
pub(crate) const BUS_INFO: &CStr = c"platform:slenc";

/// One video node and its m2m device.
#[repr(C)]
pub(crate) struct Node {
    pub(crate) vdev: Opaque<b::video_device>,
    pub(crate) m2m_dev: *mut b::v4l2_m2m_dev,
    pub(crate) kind: NodeKind,
    pub(crate) info: NodeInfo,
    registered: bool,
    mc_registered: bool,
}

/// State shared by the driver and every open file; see the module documentation.
///
/// `#[repr(C)]` with the `v4l2_device` first, so the release callback can get back to the whole.
#[repr(C)]
pub(crate) struct Shared<T: NodeOps> {
    v4l2_dev: Opaque<b::v4l2_device>,
    mdev: Opaque<b::media_device>,
    /// Serialises the ioctls of both nodes and their vb2 queues (`video_device.lock`).
    pub(crate) lock: Opaque<b::mutex>,
    fops: b::v4l2_file_operations,
    ioctl_ops: b::v4l2_ioctl_ops,
    m2m_ops: b::v4l2_m2m_ops,
    mdev_ops: b::media_device_ops,
    pub(crate) nodes: [Node; 2],
    mdev_registered: bool,
    /// The driver's device-wide data.
    pub(crate) data: T::Dev,
}

// SAFETY: after registration the C structures are only touched by the V4L2 core under its own
// locks; `data` is `Send + Sync` by the trait bound.
unsafe impl<T: NodeOps> Send for Shared<T> {}
// SAFETY: see `Send`.
unsafe impl<T: NodeOps> Sync for Shared<T> {}

impl<T: NodeOps> Shared<T> {
    /// Returns the state and node index of the node `file` was opened on.
    ///
    /// # Safety
    ///
    /// `file` must be an open file of a node registered by [`Registration::<T>::new`].
    pub(crate) unsafe fn from_vdev<'a>(vdev: *mut b::video_device) -> (&'a Self, usize) {
        // SAFETY: per the requirements `vdev` is one of our nodes; its driver data is the
        // `Shared`, kept alive by the node's `v4l2_device` reference.
        let shared = unsafe { &*b::slenc_video_get_drvdata(vdev).cast::<Self>() };
        let idx = usize::from(!ptr::eq(shared.nodes[0].vdev.get(), vdev));
        (shared, idx)
    }

    /// The `struct device` of the platform device.
    pub(crate) fn dev(&self) -> *mut b::device {
        // SAFETY: `v4l2_dev` was registered on the device and keeps a reference to it.
        unsafe { (*self.v4l2_dev.get()).dev }
    }
}

/// A registered V4L2 device with its nodes; unregisters everything when dropped.
pub(crate) struct Registration<T: NodeOps> {
    shared: NonNull<Shared<T>>,
}

// SAFETY: the registration only holds a reference count on `Shared`, which is `Send + Sync`.
unsafe impl<T: NodeOps> Send for Registration<T> {}
// SAFETY: see `Send`.
unsafe impl<T: NodeOps> Sync for Registration<T> {}

impl<T: NodeOps> Registration<T> {
    /// Registers the V4L2 and media devices on `dev` with the two nodes `nodes` (stateless
    /// first, then stateful; a `None` node is not registered) and the driver data `data`.
    pub(crate) fn new(
        dev: &device::Device,
        model: &'static CStr,
        nodes: [Option<NodeInfo>; 2],
        data: T::Dev,
    ) -> Result<Self> {
        let mk_node = |kind, info: Option<NodeInfo>| Node {
            vdev: Opaque::zeroed(),
            m2m_dev: ptr::null_mut(),
            kind,
            info: info.unwrap_or(NodeInfo {
                card: c"",
                requests: false,
            }),
            registered: false,
            mc_registered: false,
        };
        let [sl, sf] = nodes;
        let wanted = [sl.is_some(), sf.is_some()];
        let shared = KBox::new(
            Shared::<T> {
                v4l2_dev: Opaque::zeroed(),
                mdev: Opaque::zeroed(),
                lock: Opaque::zeroed(),
                fops: super::file::file_operations::<T>(),
                ioctl_ops: super::ioctl::ioctl_operations::<T>(),
                m2m_ops: super::job::m2m_operations::<T>(),
                mdev_ops: b::media_device_ops {
                    req_validate: Some(b::vb2_request_validate),
                    req_queue: Some(b::v4l2_m2m_request_queue),
                    ..Default::default()
                },
                nodes: [
                    mk_node(NodeKind::Stateless, sl),
                    mk_node(NodeKind::Stateful, sf),
                ],
                mdev_registered: false,
                data,
            },
            GFP_KERNEL,
        )?;
        let shared = KBox::into_raw(shared);
        // SAFETY: `device::Device` is `#[repr(transparent)]` over `Opaque<struct device>`, so
        // the reference is a valid pointer to the C `struct device`, alive while we are bound.
        let raw_dev = ptr::from_ref(dev).cast::<b::device>().cast_mut();

        // SAFETY: `shared` was just allocated and is exclusively ours.
        unsafe {
            b::slenc_mutex_init((*shared).lock.get());
            let mdev = (*shared).mdev.get();
            (*mdev).dev = raw_dev;
            super::device::copy_cstr(&mut (*mdev).model, model);
            super::device::copy_cstr(&mut (*mdev).bus_info, BUS_INFO);
            (*mdev).ops = &raw const (*shared).mdev_ops;
            b::media_device_init(mdev);
            (*(*shared).v4l2_dev.get()).mdev = mdev;
        }
        // SAFETY: `shared` is valid and exclusively ours; `raw_dev` is valid.
        let ret = unsafe { b::v4l2_device_register(raw_dev, (*shared).v4l2_dev.get()) };
        if ret < 0 {
            // SAFETY: registration failed, nothing else refers to `shared`.
            unsafe {
                b::media_device_cleanup((*shared).mdev.get());
                b::slenc_mutex_destroy((*shared).lock.get());
                drop(KBox::from_raw(shared));
            }
            return Err(Error::from_errno(ret));
        }
        // SAFETY: from here on `shared` is freed by `release` when the last `v4l2_device`
        // reference goes away; dropping `this` on an error path below puts ours.
        unsafe { (*(*shared).v4l2_dev.get()).release = Some(release::<T>) };
        let this = Self {
            // SAFETY: `KBox::into_raw` never returns null.
            shared: unsafe { NonNull::new_unchecked(shared) },
        };
        // SAFETY: `shared` is in its final place; no node is registered yet.
        T::dev_init(unsafe { &(*shared).data }, raw_dev)?;
        for (i, want) in wanted.into_iter().enumerate() {
            if want {
                // SAFETY: `shared` is alive (we hold a reference) and not yet shared with
                // any other thread: no node is registered before this loop.
                unsafe { Self::register_node(shared, i)? };
            }
        }
        // SAFETY: all nodes and entities are registered.
        let ret = unsafe { b::__media_device_register((*shared).mdev.get(), module_ptr()) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // SAFETY: still ours; the media device is only unregistered in `drop`.
        unsafe { (*shared).mdev_registered = true };
        Ok(this)
    }

    /// Sets up and registers node `i` with its m2m device and media entities.
    ///
    /// # Safety
    ///
    /// `shared` must be valid and registered, with node `i` not yet registered.
    unsafe fn register_node(shared: *mut Shared<T>, i: usize) -> Result {
        // SAFETY: per the requirements.
        let s = unsafe { &mut *shared };
        let m2m = {
            // SAFETY: `m2m_ops` lives in `shared`, which outlives the m2m device (released in
            // `release`).
            let m = unsafe { b::v4l2_m2m_init(&raw const (*shared).m2m_ops) };
            kernel::error::from_err_ptr(m.cast::<kernel::ffi::c_void>())?;
            m
        };
        let node = &mut s.nodes[i];
        node.m2m_dev = m2m;
        let vdev = node.vdev.get();
        // SAFETY: `vdev` is zeroed and ours until registered; the pointers stored in it point
        // into `shared`, which outlives the node.
        unsafe {
            copy_cstr(&mut (*vdev).name, node.info.card);
            (*vdev).v4l2_dev = s.v4l2_dev.get();
            (*vdev).fops = &raw const (*shared).fops;
            (*vdev).ioctl_ops = &raw const (*shared).ioctl_ops;
            (*vdev).release = Some(b::video_device_release_empty);
            (*vdev).vfl_dir = b::vfl_devnode_direction_VFL_DIR_M2M;
            (*vdev).device_caps = b::V4L2_CAP_VIDEO_M2M_MPLANE | b::V4L2_CAP_STREAMING;
            (*vdev).lock = s.lock.get();
            if node.kind == NodeKind::Stateless {
                // v4l2-compliance holds that an m2m node that is not a stateful encoder has
                // neither G/S_PARM nor frame size/interval enumeration (v4l2_disable_ioctl).
                for nr in [21usize, 22, 74, 75] {
                    let bits = &mut (*vdev).valid_ioctls;
                    let w = core::mem::size_of_val(&bits[0]) * 8;
                    if let Some(word) = bits.get_mut(nr / w) {
                        *word |= 1 << (nr % w);
                    }
                }
            }
            b::slenc_video_set_drvdata(vdev, shared.cast());
        }
        // SAFETY: the node is fully initialised.
        let ret =
            unsafe { b::slenc_video_register_device(vdev, b::vfl_devnode_type_VFL_TYPE_VIDEO, -1) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        node.registered = true;
        // SAFETY: the node is registered on the m2m device it belongs to.
        let ret = unsafe {
            b::v4l2_m2m_register_media_controller(
                m2m,
                vdev,
                b::MEDIA_ENT_F_PROC_VIDEO_ENCODER as i32,
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        node.mc_registered = true;
        Ok(())
    }

    /// The device number (`/dev/videoN`) of node `i`, if registered.
    pub(crate) fn node_num(&self, i: usize) -> Option<u16> {
        // SAFETY: `shared` is alive while the registration holds its reference.
        let s = unsafe { self.shared.as_ref() };
        let node = s.nodes.get(i)?;
        // SAFETY: a registered node's number is fixed.
        node.registered.then(|| unsafe { (*node.vdev.get()).num })
    }

    /// The driver data.
    pub(crate) fn data(&self) -> &T::Dev {
        // SAFETY: `shared` is alive while the registration holds its reference.
        unsafe { &self.shared.as_ref().data }
    }

    /// A counted reference to the driver data, for what must reach it without borrowing the
    /// registration (an interrupt handler registered next to it).
    pub(crate) fn handle(&self) -> DevHandle<T> {
        // SAFETY: `shared` is alive while the registration holds its reference; the new
        // reference is put by `DevHandle::drop`.
        unsafe { b::slenc_v4l2_device_get(self.shared.as_ref().v4l2_dev.get()) };
        DevHandle {
            shared: self.shared,
        }
    }
}

/// A reference on the `v4l2_device` of a [`Registration`], giving access to the driver data: it
/// keeps the data alive (past the unbind of the platform device too, like an open file) until it
/// is dropped.
pub(crate) struct DevHandle<T: NodeOps> {
    shared: NonNull<Shared<T>>,
}

// SAFETY: the handle only holds a reference count on `Shared`, which is `Send + Sync`.
unsafe impl<T: NodeOps> Send for DevHandle<T> {}
// SAFETY: see `Send`; it only hands out `&T::Dev`, which is `Sync`.
unsafe impl<T: NodeOps> Sync for DevHandle<T> {}

impl<T: NodeOps> core::ops::Deref for DevHandle<T> {
    type Target = T::Dev;

    fn deref(&self) -> &T::Dev {
        // SAFETY: the reference the handle holds keeps `shared` alive.
        unsafe { &self.shared.as_ref().data }
    }
}

impl<T: NodeOps> Drop for DevHandle<T> {
    fn drop(&mut self) {
        // SAFETY: puts the reference taken in `Registration::handle`; when it is the last one,
        // `release` frees the state, which nothing else refers to any more.
        unsafe { b::v4l2_device_put((*self.shared.as_ptr()).v4l2_dev.get()) };
    }
}

impl<T: NodeOps> Drop for Registration<T> {
    fn drop(&mut self) {
        let s = self.shared.as_ptr();
        // SAFETY: we still hold the driver's `v4l2_device` reference, so `s` is alive; the
        // flags say what was registered. Open files keep their own node references and the last
        // one to go frees everything in `release`.
        unsafe {
            if (*s).mdev_registered {
                b::media_device_unregister((*s).mdev.get());
            }
            for node in (*s).nodes.iter_mut() {
                if node.mc_registered {
                    b::v4l2_m2m_unregister_media_controller(node.m2m_dev);
                    node.mc_registered = false;
                }
                if node.registered {
                    b::video_unregister_device(node.vdev.get());
                }
            }
            b::v4l2_device_unregister((*s).v4l2_dev.get());
            b::v4l2_device_put((*s).v4l2_dev.get());
        }
    }
}

/// `v4l2_device.release`: the last reference is gone (no node, no open file), free it all.
unsafe extern "C" fn release<T: NodeOps>(v4l2_dev: *mut b::v4l2_device) {
    let s = v4l2_dev.cast::<Shared<T>>();
    // SAFETY: `v4l2_dev` is the first field of a `#[repr(C)]` `Shared` allocated by
    // `KBox::into_raw` in `Registration::new`, and nothing refers to it any more.
    unsafe {
        for node in (*s).nodes.iter() {
            if !node.m2m_dev.is_null() {
                b::v4l2_m2m_release(node.m2m_dev);
            }
        }
        b::media_device_cleanup((*s).mdev.get());
        b::slenc_mutex_destroy((*s).lock.get());
        drop(KBox::from_raw(s));
    }
}

/// `THIS_MODULE` as our bindings' type.
pub(crate) fn module_ptr() -> *mut b::module {
    // `__this_module` is this module's own `struct module`, alive while its code runs.
    (&raw mut kernel::bindings::__this_module).cast()
}

/// Copies `src` into a fixed C char array (`c_char` or `u8`), truncating and always
/// NUL-terminating.
pub(crate) fn copy_cstr<C: From<u8> + Copy>(dst: &mut [C], src: &CStr) {
    let Some(max) = dst.len().checked_sub(1) else {
        return;
    };
    let bytes = src.to_bytes();
    let n = bytes.len().min(max);
    for (d, s) in dst.iter_mut().zip(bytes.iter().take(n)) {
        *d = C::from(*s);
    }
    if let Some(end) = dst.get_mut(n) {
        *end = C::from(0);
    }
}
