// SPDX-License-Identifier: GPL-2.0
//! DMA glue: coherent allocations for a backend's private buffers, and memory by bus address
//! for the models (ARCHITECTURE.md §5: a model reads and writes buffers by bus address, exactly
//! as the block would).

use super::bindings as b;
use core::ptr::NonNull;
use kernel::prelude::*;

/// A DMA-coherent buffer of a device, freed on drop.
pub(crate) struct CoherentBuf {
    dev: *mut b::device,
    cpu: NonNull<u8>,
    dma: b::dma_addr_t,
    len: usize,
}

// SAFETY: the buffer is plain memory owned by this value; the device outlives it (it is
// allocated per context and the context holds a reference on the device state).
unsafe impl Send for CoherentBuf {}
// SAFETY: `&CoherentBuf` only gives the addresses; the contents are reached through `&mut`.
unsafe impl Sync for CoherentBuf {}

impl CoherentBuf {
    /// Allocates `len` zeroed bytes of DMA-coherent memory for `dev`.
    pub(crate) fn new(dev: *mut b::device, len: usize) -> Result<Self> {
        if len == 0 {
            return Err(EINVAL);
        }
        let mut dma: b::dma_addr_t = 0;
        // SAFETY: `dev` is a live device with DMA configured (the caller's contract); the
        // allocation is freed in `drop` with the same arguments.
        let cpu = unsafe {
            b::dma_alloc_attrs(
                dev,
                len,
                &mut dma,
                kernel::bindings::GFP_KERNEL | kernel::bindings::__GFP_ZERO,
                0,
            )
        };
        let cpu = NonNull::new(cpu.cast::<u8>()).ok_or(ENOMEM)?;
        Ok(Self { dev, cpu, dma, len })
    }

    /// The bus address.
    pub(crate) fn dma(&self) -> u64 {
        // `dma_addr_t` is 32 bits on 32-bit ARM, 64 elsewhere.
        #[allow(clippy::useless_conversion)]
        u64::from(self.dma)
    }

    /// The size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The contents, for reading back what the block wrote (the caller makes sure the block
    /// is not writing this buffer now).
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: `cpu` points to `len` bytes owned by this value for its lifetime; the
        // block writes it only while a job that uses it runs, which the caller excludes.
        unsafe { core::slice::from_raw_parts(self.cpu.as_ptr(), self.len) }
    }

    /// A region for a [`RegionBus`].
    pub(crate) fn region(&mut self) -> Option<Region> {
        Region::new(self.dma(), self.cpu.as_ptr(), self.len)
    }
}

impl Drop for CoherentBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with these arguments, freed once.
        unsafe { b::dma_free_attrs(self.dev, self.len, self.cpu.as_ptr().cast(), self.dma, 0) };
    }
}

/// One mapped buffer: bus address, kernel mapping, length.
#[derive(Clone, Copy)]
pub(crate) struct Region {
    base: u32,
    cpu: *mut u8,
    len: u32,
}

impl Region {
    /// A region for `len` bytes at kernel address `cpu` and bus address `dma`; `None` if it
    /// does not fit the 32-bit bus the models have.
    pub(crate) fn new(dma: u64, cpu: *mut u8, len: usize) -> Option<Self> {
        let base = u32::try_from(dma).ok()?;
        let len = u32::try_from(len).ok()?;
        base.checked_add(len)?;
        (!cpu.is_null()).then_some(Self { base, cpu, len })
    }

    /// The bus address.
    pub(crate) fn base(&self) -> u32 {
        self.base
    }

    /// The byte range `[addr, addr + len)` of this region, as an offset, if it lies inside.
    fn offset(&self, addr: u32, len: u32) -> Option<usize> {
        let off = addr.checked_sub(self.base)?;
        (off.checked_add(len)? <= self.len).then_some(off as usize)
    }
}

/// Memory by bus address over the regions of one job (its vb2 buffers and the backend's
/// private buffers); used by the models in place of the real bus.
pub(crate) struct RegionBus {
    regions: [Option<Region>; 12],
}

// SAFETY: the regions are buffers owned by the running job and the context, which outlive the
// bus; only one job (so one bus) touches them at a time.
unsafe impl Send for RegionBus {}

impl RegionBus {
    /// An empty bus.
    pub(crate) fn new() -> Self {
        Self {
            regions: [None; 12],
        }
    }

    /// Maps a region; fails when full.
    ///
    /// # Safety
    ///
    /// The region's memory must stay valid and not be accessed by anything else until the bus
    /// is cleared or dropped.
    pub(crate) unsafe fn map(&mut self, r: Region) -> Result {
        let slot = self
            .regions
            .iter_mut()
            .find(|s| s.is_none())
            .ok_or(ENOSPC)?;
        *slot = Some(r);
        Ok(())
    }

    /// Unmaps everything.
    pub(crate) fn clear(&mut self) {
        self.regions = [None; 12];
    }

    fn find(&self, addr: u32, len: u32) -> Option<(Region, usize)> {
        self.regions
            .iter()
            .flatten()
            .find_map(|r| r.offset(addr, len).map(|o| (*r, o)))
    }
}

#[cfg(slenc_sim)]
impl crate::sim::ve::Bus for RegionBus {
    fn read(
        &self,
        addr: u32,
        out: &mut [u8],
    ) -> core::result::Result<(), crate::sim::ve::BusError> {
        let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
        let (r, off) = self
            .find(addr, len)
            .ok_or(crate::sim::ve::BusError::Unmapped { addr, len })?;
        // SAFETY: `find` checked `[off, off + len)` lies inside the region, whose memory is
        // valid and ours per `map`'s contract.
        unsafe { core::ptr::copy_nonoverlapping(r.cpu.add(off), out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    fn write(
        &mut self,
        addr: u32,
        data: &[u8],
    ) -> core::result::Result<(), crate::sim::ve::BusError> {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let (r, off) = self
            .find(addr, len)
            .ok_or(crate::sim::ve::BusError::Unmapped { addr, len })?;
        // SAFETY: as for `read`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), r.cpu.add(off), data.len()) };
        Ok(())
    }

    fn check(&self, addr: u32, len: u32) -> core::result::Result<(), crate::sim::ve::BusError> {
        self.find(addr, len)
            .map(|_| ())
            .ok_or(crate::sim::ve::BusError::Unmapped { addr, len })
    }
}
