// SPDX-License-Identifier: GPL-2.0
//! Memory as the VE sees it: by 32-bit bus (DMA) address.
//!
//! The V3s has no IOMMU, so every VE buffer is one physically contiguous DMA allocation and the
//! VE is programmed with `dma_addr_t` values (cedrus.md §3). A [`Bus`] maps such addresses to
//! memory: in host tests a set of `Vec<u8>` regions (`host::HostBus`, test builds only); in the kernel the
//! glue implements it over its DMA-coherent allocations. An access must lie inside one mapped
//! buffer; anything else is a [`BusError`] and the model turns it into an error status instead
//! of touching memory.

/// A failed bus access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusError {
    /// `[addr, addr + len)` is not inside one mapped buffer (or wraps past 4 GiB).
    Unmapped {
        /// First byte of the access.
        addr: u32,
        /// Length of the access.
        len: u32,
    },
}

/// Memory by bus address. Implementations must not panic on any address or length.
pub trait Bus {
    /// Copies `out.len()` bytes starting at `addr` into `out`.
    fn read(&self, addr: u32, out: &mut [u8]) -> Result<(), BusError>;
    /// Copies `data` to memory starting at `addr`.
    fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), BusError>;
    /// Succeeds when every byte of `[addr, addr + len)` is readable and writable within one
    /// buffer, so the model can validate a job before it touches memory.
    fn check(&self, addr: u32, len: u32) -> Result<(), BusError>;
}

/// Host-side bus over heap regions, for `cargo test`.
#[cfg(test)]
pub mod host {
    use super::{Bus, BusError};
    use std::vec;
    use std::vec::Vec;

    /// One mapped buffer.
    struct Region {
        base: u32,
        data: Vec<u8>,
    }

    /// A bus made of separately allocated regions (like separate DMA allocations).
    #[derive(Default)]
    pub struct HostBus {
        regions: Vec<Region>,
    }

    impl HostBus {
        /// An empty bus.
        pub fn new() -> Self {
            Self::default()
        }

        /// Maps `len` zeroed bytes at `base`. Panics (test code) on overlap.
        pub fn map(&mut self, base: u32, len: usize) {
            let end = base as u64 + len as u64;
            assert!(end <= 1 << 32, "region wraps");
            for r in &self.regions {
                let rend = r.base as u64 + r.data.len() as u64;
                assert!(
                    end <= r.base as u64 || base as u64 >= rend,
                    "overlapping regions"
                );
            }
            self.regions.push(Region {
                base,
                data: vec![0; len],
            });
        }

        fn find(&self, addr: u32, len: u32) -> Result<(usize, usize), BusError> {
            let err = BusError::Unmapped { addr, len };
            let end = addr.checked_add(len).ok_or(err)?;
            for (i, r) in self.regions.iter().enumerate() {
                let rend = r.base as u64 + r.data.len() as u64;
                if addr >= r.base && end as u64 <= rend {
                    return Ok((i, (addr - r.base) as usize));
                }
            }
            Err(err)
        }

        /// Bytes at `[addr, addr + len)` (test helper).
        pub fn slice(&self, addr: u32, len: usize) -> &[u8] {
            let (i, off) = self.find(addr, len as u32).expect("unmapped");
            &self.regions[i].data[off..off + len]
        }

        /// Mutable bytes at `[addr, addr + len)` (test helper).
        pub fn slice_mut(&mut self, addr: u32, len: usize) -> &mut [u8] {
            let (i, off) = self.find(addr, len as u32).expect("unmapped");
            &mut self.regions[i].data[off..off + len]
        }
    }

    impl Bus for HostBus {
        fn read(&self, addr: u32, out: &mut [u8]) -> Result<(), BusError> {
            let len = u32::try_from(out.len()).map_err(|_| BusError::Unmapped {
                addr,
                len: u32::MAX,
            })?;
            let (i, off) = self.find(addr, len)?;
            out.copy_from_slice(&self.regions[i].data[off..off + out.len()]);
            Ok(())
        }

        fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), BusError> {
            let len = u32::try_from(data.len()).map_err(|_| BusError::Unmapped {
                addr,
                len: u32::MAX,
            })?;
            let (i, off) = self.find(addr, len)?;
            self.regions[i].data[off..off + data.len()].copy_from_slice(data);
            Ok(())
        }

        fn check(&self, addr: u32, len: u32) -> Result<(), BusError> {
            self.find(addr, len).map(|_| ())
        }
    }
}
