// SPDX-License-Identifier: GPL-2.0
//! SoC resources the `kernel` crate has no abstraction for: the Allwinner SRAM claim
//! (`sunxi_sram_claim`) and reset lines (`reset_control_*`), through the C helpers in
//! `helpers.c` (research/rust_for_linux.md §2.4: neither is in the 7.3 `kernel` crate).
//!
//! Each is an owning guard: the SRAM goes back to the CPU and the reset line is asserted and put
//! when the guard is dropped, so a probe that fails half-way undoes exactly what it did.

use super::bindings as b;
use core::ptr::{self, NonNull};
use kernel::{
    device::{Bound, Device},
    prelude::*,
    sync::aref::ARef,
};

/// The C `struct device` of `dev`, as our bindings name it.
fn raw_dev(dev: &Device) -> *mut b::device {
    // `device::Device` is `#[repr(transparent)]` over `Opaque<struct device>`: the reference is
    // the address of the C structure (the same cast as `device::Registration::new`).
    ptr::from_ref(dev).cast::<b::device>().cast_mut()
}

/// The SRAM sections a device's `allwinner,sram` property names, claimed for it from the
/// system controller (research/cedrus.md §3 "SRAM claim", §5); released on drop.
pub(crate) struct SramClaim {
    dev: ARef<Device>,
}

impl SramClaim {
    /// Claims the SRAM of `dev`. Errors are the controller's: `EPROBE_DEFER` until the
    /// system-control driver has probed, `ENOENT` without an `allwinner,sram` property, `EINVAL`
    /// for a section it does not know, `EBUSY` where a kernel refuses a second claim, and
    /// `ENODEV` when the kernel has no sunxi SRAM driver (`CONFIG_SUNXI_SRAM`).
    pub(crate) fn claim(dev: &Device<Bound>) -> Result<Self> {
        // SAFETY: `dev` is a live, bound device; the claim is undone in `drop` with the same
        // device, which `self.dev` keeps alive.
        let ret = unsafe { b::slenc_sram_claim(raw_dev(dev)) };
        kernel::error::to_result(ret)?;
        Ok(Self { dev: dev.into() })
    }
}

impl Drop for SramClaim {
    fn drop(&mut self) {
        // SAFETY: claimed in `claim` for this device, released once.
        unsafe { b::slenc_sram_release(raw_dev(&self.dev)) };
    }
}

/// An exclusive reset line of a device, deasserted while this value exists: asserted and put
/// on drop.
pub(crate) struct ResetLine {
    rc: NonNull<b::reset_control>,
}

// SAFETY: a `reset_control` handle may be used and put from any thread; the reset core
// serialises the operations on it.
unsafe impl Send for ResetLine {}
// SAFETY: all methods take `&self` and the reset core serialises them.
unsafe impl Sync for ResetLine {}

impl ResetLine {
    /// Gets the device's only (unnamed) exclusive reset line and takes the block out of reset.
    pub(crate) fn deasserted(dev: &Device<Bound>) -> Result<Self> {
        // SAFETY: `dev` is a live, bound device; a NULL id selects its only reset line.
        let rc = unsafe { b::slenc_reset_control_get_exclusive(raw_dev(dev), ptr::null()) };
        let rc = kernel::error::from_err_ptr(rc)?;
        // Without CONFIG_RESET_CONTROLLER the stub returns an error pointer, so `rc` is a real
        // handle here; stay safe against NULL all the same.
        let rc = NonNull::new(rc).ok_or(ENODEV)?;
        // SAFETY: `rc` is the handle just obtained.
        if let Err(e) =
            kernel::error::to_result(unsafe { b::slenc_reset_control_deassert(rc.as_ptr()) })
        {
            // SAFETY: obtained above, put once.
            unsafe { b::slenc_reset_control_put(rc.as_ptr()) };
            return Err(e);
        }
        Ok(Self { rc })
    }

    /// Pulses the line (asserted, then deasserted), resetting the block's whole state. Uses the
    /// controller's own reset operation (the sunxi CCU holds the line 10 µs), or assert plus
    /// deassert where the controller has none.
    pub(crate) fn pulse(&self) -> Result {
        // SAFETY: `self.rc` is a live handle (type invariant).
        let ret = unsafe { b::slenc_reset_control_reset(self.rc.as_ptr()) };
        if ret == 0 {
            return Ok(());
        }
        // SAFETY: as above.
        kernel::error::to_result(unsafe { b::slenc_reset_control_assert(self.rc.as_ptr()) })?;
        // SAFETY: as above.
        kernel::error::to_result(unsafe { b::slenc_reset_control_deassert(self.rc.as_ptr()) })
    }
}

impl Drop for ResetLine {
    fn drop(&mut self) {
        // SAFETY: `self.rc` is a live handle, put exactly once, here. A failed assert leaves
        // the block running out of reset, with its clocks about to be cut: nothing better to do.
        unsafe {
            let _ = b::slenc_reset_control_assert(self.rc.as_ptr());
            b::slenc_reset_control_put(self.rc.as_ptr());
        }
    }
}
