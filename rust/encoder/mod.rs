// SPDX-License-Identifier: GPL-2.0
//! The encode engine: per-device capabilities and per-file contexts (formats, crop, frame
//! interval, controls), behind the V4L2 layer's [`NodeOps`].
//!
//! Backends plug in through [`device::Backend`] (one per block and codec). Until a backend is attached,
//! jobs fail cleanly: both buffers come back with `V4L2_BUF_FLAG_ERROR`, never fake output.

pub(crate) mod cedrus;
// The real-hardware glue needs `kernel::clk`, which exists only with the common clock framework
// (not in the x86_64 test kernel); see its module documentation.
#[cfg(CONFIG_COMMON_CLK)]
pub(crate) mod cedrus_hw;
pub(crate) mod context;
pub(crate) mod controls;
pub(crate) mod device;
#[allow(
    unreachable_pub,
    reason = "pure module, also the host crate's public API"
)]
pub(crate) mod format;
#[allow(
    unreachable_pub,
    reason = "pure module, also the host crate's public API"
)]
pub(crate) mod session;
pub(crate) mod stats;

use crate::v4l2::FrameSizes;

/// What a block can do, as the nodes advertise it.
pub(crate) struct Caps {
    /// Raw OUTPUT formats, in preference order.
    pub(crate) raw_formats: &'static [u32],
    /// Whether the block encodes H.264 (stateless node, and H264 on the stateful node).
    pub(crate) h264: bool,
    /// Whether the block encodes JPEG (stateful node).
    pub(crate) jpeg: bool,
    /// Picture size limits (16-pixel steps).
    pub(crate) sizes: FrameSizes,
}

/// The device-wide engine state.
pub(crate) struct Engine {
    /// The block's capabilities.
    pub(crate) caps: &'static Caps,
    /// Name of the block, for messages.
    pub(crate) name: &'static str,
    /// The block driver; `None` until one is written for the block.
    pub(crate) backend: Option<&'static dyn device::Backend>,
}

impl Engine {
    /// Bytes of private memory one context needs at the largest picture, if the block has
    /// a backend.
    pub(crate) fn private_bytes_1080p(&self) -> Option<u32> {
        self.backend?;
        let s = &self.caps.sizes;
        crate::hw::cedrus::backend::private_sizes(s.max_width / 16, s.max_height / 16)
            .map(|p| p.total)
    }

    /// The coded formats of the stateful node.
    pub(crate) fn stateful_coded(&self) -> impl Iterator<Item = u32> + '_ {
        [
            (self.caps.h264, format::H264),
            (self.caps.jpeg, format::JPEG),
        ]
        .into_iter()
        .filter_map(|(ok, f)| ok.then_some(f))
    }
}
