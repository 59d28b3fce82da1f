// SPDX-License-Identifier: GPL-2.0
//! slenc's V4L2 layer: safe Rust over our own bindings (the `kernel` crate has no V4L2).
//!
//! The driver implements [`NodeOps`] for its per-file context; this layer turns the C callback
//! tables of the V4L2 core (file and ioctl operations, vb2 queue operations, mem2mem job
//! callbacks, media request operations) into calls of it, in the manner of the kernel's PHY
//! abstraction (`#[vtable]`-style trait plus generic `extern "C"` adapters).
//!
//! All `unsafe` of the driver lives below this module (and in the MMIO/DMA glue); every block
//! carries a `// SAFETY:` comment. Besides V4L2 it wraps the few other C APIs the `kernel` crate
//! lacks: DMA allocations ([`dma`]), work items ([`work`]), SRAM claims and reset lines ([`soc`]).

pub(crate) mod bindings;
pub(crate) mod ctrl;
pub(crate) mod device;
pub(crate) mod dma;
pub(crate) mod file;
pub(crate) mod ioctl;
pub(crate) mod job;
pub(crate) mod queue;
pub(crate) mod soc;
pub(crate) mod work;

pub(crate) use crate::encoder::format::Rect;
use kernel::prelude::*;

/// Which of a context's two queues.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Queue {
    /// Raw pictures from userspace (`V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE`).
    Output,
    /// Coded frames to userspace (`V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE`).
    Capture,
}

/// A multi-planar pixel format in the driver's terms (`v4l2_pix_format_mplane`, minus what
/// the layer fills in itself).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Format {
    /// Fourcc.
    pub(crate) fourcc: u32,
    /// Width in pixels.
    pub(crate) width: u32,
    /// Height in pixels.
    pub(crate) height: u32,
    /// Number of memory planes.
    pub(crate) num_planes: u8,
    /// Bytes per line of each plane (0 for coded formats).
    pub(crate) bytesperline: [u32; 3],
    /// Size of each plane.
    pub(crate) sizeimage: [u32; 3],
    /// `V4L2_COLORSPACE_*`.
    pub(crate) colorspace: u32,
    /// `V4L2_XFER_FUNC_*`.
    pub(crate) xfer_func: u8,
    /// `V4L2_YCBCR_ENC_*`.
    pub(crate) ycbcr_enc: u8,
    /// `V4L2_QUANTIZATION_*`.
    pub(crate) quantization: u8,
}

/// Frame sizes a format supports (`VIDIOC_ENUM_FRAMESIZES`, stepwise).
#[derive(Clone, Copy, Debug)]
pub(crate) struct FrameSizes {
    /// Minimum width.
    pub(crate) min_width: u32,
    /// Maximum width.
    pub(crate) max_width: u32,
    /// Width step.
    pub(crate) step_width: u32,
    /// Minimum height.
    pub(crate) min_height: u32,
    /// Maximum height.
    pub(crate) max_height: u32,
    /// Height step.
    pub(crate) step_height: u32,
}

/// A reference to the device state that a context may keep: the state outlives every open
/// file (see [`device`]), so the reference is valid for as long as the context.
pub(crate) struct DevRef<D>(core::ptr::NonNull<D>);

// SAFETY: `D` is `Send + Sync` (the `NodeOps::Dev` bound); this is a shared reference to it.
unsafe impl<D: Send + Sync> Send for DevRef<D> {}
// SAFETY: see `Send`.
unsafe impl<D: Send + Sync> Sync for DevRef<D> {}

impl<D> core::ops::Deref for DevRef<D> {
    type Target = D;
    fn deref(&self) -> &D {
        // SAFETY: per the type's invariant the state outlives the holder.
        unsafe { self.0.as_ref() }
    }
}

impl<D> DevRef<D> {
    /// # Safety
    ///
    /// `d` must outlive every use of the returned reference.
    pub(super) unsafe fn new(d: &D) -> Self {
        Self(core::ptr::NonNull::from(d))
    }
}

/// The two kinds of video node slenc registers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum NodeKind {
    /// The stateless H.264 encoder (research/uapi.md §8), with requests.
    Stateless,
    /// The stateful encoder (H.264, JPEG) of the kernel's stateful encoder interface.
    Stateful,
}

/// The driver side of a video node's open file. The layer calls it from the C callbacks; it
/// is shared between ioctls (serialised by the device lock) and mem2mem job callbacks (which
/// are not), so it takes `&self` and keeps its mutable state behind its own locks.
pub(crate) trait NodeOps: Sized + Send + Sync + 'static {
    /// Device-wide driver data, created at probe.
    type Dev: Send + Sync + 'static;

    /// The device state is in place (it does not move any more): finish setting it up, e.g.
    /// bind its work items. `dev` is the platform device, for DMA allocations.
    fn dev_init(data: &Self::Dev, dev: *mut bindings::device) -> Result;

    /// A file of `node` is being opened: create the context.
    fn open(dev: DevRef<Self::Dev>, node: NodeKind) -> Result<Self>;
    /// Adds the context's controls (the file is not visible to anyone yet). Errors are
    /// collected by the control handler and fail the open.
    fn add_controls(&mut self, node: NodeKind, ctrls: &mut ctrl::Builder<'_>);

    /// The fourcc of format `index` on queue `q`, `None` past the end.
    fn enum_fmt(&self, q: Queue, index: u32) -> Option<u32>;
    /// The current format of queue `q`.
    fn g_fmt(&self, q: Queue) -> Format;
    /// Adjusts `f` to what queue `q` would accept; never fails.
    fn try_fmt(&self, q: Queue, f: &Format) -> Format;
    /// Sets the format of queue `q` (already adjusted with `try_fmt`), `busy` when the queue
    /// has buffers allocated. Returns what was set.
    fn s_fmt(&self, q: Queue, f: &Format, busy: bool) -> Result<Format>;
    /// Frame sizes of the raw or coded format `fourcc`.
    fn framesizes(&self, fourcc: u32) -> Option<FrameSizes>;

    /// The OUTPUT crop rectangle and its bounds (the coded size).
    fn crop(&self) -> (Rect, Rect);
    /// Sets the OUTPUT crop, returning what was set.
    fn s_crop(&self, r: Rect) -> Result<Rect>;
    /// The OUTPUT frame interval (numerator, denominator).
    fn timeperframe(&self) -> (u32, u32);
    /// Sets the OUTPUT frame interval, returning what was set.
    fn s_timeperframe(&self, t: (u32, u32)) -> (u32, u32);

    /// Streaming starts on queue `q`: allocate private buffers, reset sequence state.
    fn start_streaming(&self, q: Queue) -> Result;
    /// Streaming stops on queue `q` (buffers are returned by the layer).
    fn stop_streaming(&self, q: Queue);
    /// Whether a job may run (both queues have a buffer is checked by the m2m core).
    fn job_ready(&self) -> bool {
        true
    }
    /// Runs one job: encode `job`'s OUTPUT buffer into its CAPTURE buffer and finish it, now or
    /// later from the completion path. The job must always be finished.
    fn device_run(&self, job: job::Job<Self>);
    /// The m2m core asks to abort the context's running job (close, stream-off); the job
    /// must still be finished, soon.
    fn job_abort(&self) {}
}
