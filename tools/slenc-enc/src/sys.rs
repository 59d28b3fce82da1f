// SPDX-License-Identifier: GPL-2.0
//! The few kernel interfaces v4l2r 0.0.6 does not wrap: the media device's info ioctl, CPU
//! access to a DMA-BUF (mmap + `DMA_BUF_IOCTL_SYNC`) and polling a request fd. All `unsafe` of
//! the tool is here.

use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};
use v4l2r::bindings;

/// `struct media_device_info` (<linux/media.h>, 256 bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MediaDeviceInfo {
    pub driver: [u8; 16],
    pub model: [u8; 32],
    pub serial: [u8; 40],
    pub bus_info: [u8; 32],
    pub media_version: u32,
    pub hw_revision: u32,
    pub driver_version: u32,
    pub reserved: [u32; 31],
}

const _: () = assert!(std::mem::size_of::<MediaDeviceInfo>() == 256);

/// `struct dma_buf_sync` (<linux/dma-buf.h>).
#[repr(C)]
struct DmaBufSync {
    flags: u64,
}

pub const DMA_BUF_SYNC_WRITE: u64 = 2;
pub const DMA_BUF_SYNC_START: u64 = 0;
pub const DMA_BUF_SYNC_END: u64 = 4;

/// `struct media_v2_topology` (packed, 72 bytes).
#[repr(C, packed)]
#[derive(Clone, Copy, Default)]
struct MediaV2Topology {
    topology_version: u64,
    num_entities: u32,
    reserved1: u32,
    ptr_entities: u64,
    num_interfaces: u32,
    reserved2: u32,
    ptr_interfaces: u64,
    num_pads: u32,
    reserved3: u32,
    ptr_pads: u64,
    num_links: u32,
    reserved4: u32,
    ptr_links: u64,
}

/// `struct media_v2_entity` (packed, 96 bytes).
#[repr(C, packed)]
#[derive(Clone, Copy)]
struct MediaV2Entity {
    id: u32,
    name: [u8; 64],
    function: u32,
    flags: u32,
    reserved: [u32; 5],
}

/// `struct media_v2_interface` (packed, 112 bytes); `raw[0..2]` is the devnode major/minor.
#[repr(C, packed)]
#[derive(Clone, Copy)]
struct MediaV2Interface {
    id: u32,
    intf_type: u32,
    flags: u32,
    reserved: [u32; 9],
    raw: [u32; 16],
}

const _: () = assert!(std::mem::size_of::<MediaV2Topology>() == 72);
const _: () = assert!(std::mem::size_of::<MediaV2Entity>() == 96);
const _: () = assert!(std::mem::size_of::<MediaV2Interface>() == 112);

/// `MEDIA_ENT_F_PROC_VIDEO_ENCODER`.
pub const MEDIA_ENT_F_PROC_VIDEO_ENCODER: u32 = 0x4007;

/// What the tool needs of a media graph.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Entity functions.
    pub functions: Vec<u32>,
    /// (major, minor) of every interface's device node.
    pub devnodes: Vec<(u32, u32)>,
}

mod ioctl {
    use super::{DmaBufSync, MediaDeviceInfo, MediaV2Topology};
    // MEDIA_IOC_G_TOPOLOGY = _IOWR('|', 0x04, struct media_v2_topology)
    nix::ioctl_readwrite!(media_ioc_g_topology, b'|', 0x04, MediaV2Topology);
    // MEDIA_IOC_DEVICE_INFO = _IOWR('|', 0x00, struct media_device_info)
    nix::ioctl_readwrite!(media_ioc_device_info, b'|', 0x00, MediaDeviceInfo);
    // DMA_BUF_IOCTL_SYNC = _IOW('b', 0, struct dma_buf_sync)
    nix::ioctl_write_ptr!(dma_buf_ioctl_sync, b'b', 0, DmaBufSync);
}

/// A NUL-padded C string field as text.
pub fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// `MEDIA_IOC_DEVICE_INFO`.
pub fn media_device_info(fd: &impl AsRawFd) -> Result<MediaDeviceInfo, Errno> {
    // SAFETY: all-zero bytes are a valid MediaDeviceInfo (integers and byte arrays only).
    let mut info: MediaDeviceInfo = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a live, writable struct of the size the ioctl number encodes.
    unsafe { ioctl::media_ioc_device_info(fd.as_raw_fd(), &mut info) }?;
    Ok(info)
}

/// `MEDIA_IOC_G_TOPOLOGY`, twice: counts, then entities and interfaces.
pub fn media_topology(fd: &impl AsRawFd) -> Result<Topology, Errno> {
    let mut t = MediaV2Topology::default();
    // SAFETY: `t` is a live struct of the ioctl's size; all pointers are 0 (counts only).
    unsafe { ioctl::media_ioc_g_topology(fd.as_raw_fd(), &mut t) }?;
    let ne = t.num_entities as usize;
    let ni = t.num_interfaces as usize;
    // SAFETY: all-zero bytes are valid for these integer-only structs.
    let mut ents: Vec<MediaV2Entity> = vec![unsafe { std::mem::zeroed() }; ne];
    // SAFETY: as above.
    let mut intfs: Vec<MediaV2Interface> = vec![unsafe { std::mem::zeroed() }; ni];
    let mut t2 = MediaV2Topology {
        num_entities: ne as u32,
        ptr_entities: ents.as_mut_ptr() as u64,
        num_interfaces: ni as u32,
        ptr_interfaces: intfs.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: the pointers address `ne` entities and `ni` interfaces that live across the call;
    // the kernel writes at most the counts given (it fails with ENOSPC if the graph grew).
    unsafe { ioctl::media_ioc_g_topology(fd.as_raw_fd(), &mut t2) }?;
    let ne = (t2.num_entities as usize).min(ents.len());
    let ni = (t2.num_interfaces as usize).min(intfs.len());
    Ok(Topology {
        functions: ents[..ne].iter().map(|e| e.function).collect(),
        devnodes: intfs[..ni].iter().map(|i| (i.raw[0], i.raw[1])).collect(),
    })
}

/// `DMA_BUF_IOCTL_SYNC` with `flags` (START/END | READ/WRITE).
pub fn dma_buf_sync(fd: &impl AsRawFd, flags: u64) -> Result<(), Errno> {
    let s = DmaBufSync { flags };
    // SAFETY: `s` is a live struct of the size the ioctl number encodes; the kernel only reads it.
    unsafe { ioctl::dma_buf_ioctl_sync(fd.as_raw_fd(), &s) }?;
    Ok(())
}

/// A shared read/write mapping of a DMA-BUF (or any mmap-able fd), unmapped on drop.
pub struct Mapping {
    ptr: NonNull<c_void>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes of `fd` from offset 0.
    pub fn new(fd: BorrowedFd<'_>, len: usize) -> Result<Self, Errno> {
        let nz = NonZeroUsize::new(len).ok_or(Errno::EINVAL)?;
        // SAFETY: a fresh shared mapping chosen by the kernel; it aliases no Rust object.
        let ptr = unsafe {
            mmap(
                None,
                nz,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                fd,
                0,
            )
        }?;
        Ok(Self { ptr, len })
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, writable, and `&mut self` makes this the only Rust view of it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr() as *mut u8, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned; no slice outlives `self`.
        let _ = unsafe { munmap(self.ptr, self.len) };
    }
}

/// Polls one fd for `events` for at most `timeout_ms`; returns the events seen (empty on
/// timeout).
pub fn poll_one(
    fd: BorrowedFd<'_>,
    events: PollFlags,
    timeout_ms: u16,
) -> Result<PollFlags, Errno> {
    let mut fds = [PollFd::new(fd, events)];
    loop {
        match nix::poll::poll(&mut fds, PollTimeout::from(timeout_ms)) {
            Ok(0) => return Ok(PollFlags::empty()),
            Ok(_) => return Ok(fds[0].revents().unwrap_or(PollFlags::empty())),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A borrowed fd for types that only implement `AsRawFd` (v4l2r's `Request`).
pub fn borrow_raw<T: AsRawFd>(owner: &T) -> BorrowedFd<'_> {
    // SAFETY: the fd is owned by `owner`, which the returned borrow cannot outlive.
    unsafe { BorrowedFd::borrow_raw(owner.as_raw_fd()) }
}

/// The multi-planar member of a `v4l2_format` the driver filled in.
pub fn pix_mp(f: &bindings::v4l2_format) -> bindings::v4l2_pix_format_mplane {
    // SAFETY: every bit pattern is a valid v4l2_pix_format_mplane (integers only); the tool only
    // uses MPLANE buffer types, for which the kernel fills this member.
    unsafe { f.fmt.pix_mp }
}

/// `m.mem_offset` of a plane QUERYBUF filled in for an MMAP buffer.
pub fn plane_mem_offset(p: &bindings::v4l2_plane) -> u32 {
    // SAFETY: any u32 is valid; for MMAP buffers this is the member the kernel writes.
    unsafe { p.m.mem_offset }
}

/// The 32-bit value of an integer `v4l2_ext_control`.
pub fn ext_ctrl_value(c: &bindings::v4l2_ext_control) -> i32 {
    // SAFETY: any i32 is valid; reading the union member as an integer is always defined.
    unsafe { c.__bindgen_anon_1.value }
}

#[cfg(test)]
/// The payload pointer of a compound `v4l2_ext_control`.
pub fn ext_ctrl_ptr(c: &bindings::v4l2_ext_control) -> *mut c_void {
    // SAFETY: reads the pointer bits only; nothing is dereferenced.
    unsafe { c.__bindgen_anon_1.ptr }
}

#[cfg(test)]
/// `request_fd` of a `v4l2_buffer`.
pub fn buffer_request_fd(b: &bindings::v4l2_buffer) -> i32 {
    // SAFETY: any i32 is valid; reads the integer member only.
    unsafe { b.__bindgen_anon_1.request_fd }
}

#[cfg(test)]
/// `m.fd` of a `v4l2_plane`.
pub fn plane_fd(p: &bindings::v4l2_plane) -> i32 {
    // SAFETY: any i32 is valid; reads the integer member only.
    unsafe { p.m.fd }
}
