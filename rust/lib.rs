// SPDX-License-Identifier: GPL-2.0
//! Host crate root for slenc's pure code.
//!
//! The kernel module's crate root (`slenc_main.rs`) declares the same modules at the same paths,
//! so code here may refer to its siblings as `crate::h264`, `crate::sim`, … in both builds.
//! Everything below is `no_std` and allocation-free (ARCHITECTURE.md §3); only tests use `std`.

#![no_std]

#[cfg(test)]
extern crate std;

pub mod h264;
pub mod hw;
pub mod sim;

/// The parts of the encode engine that are pure code.
pub mod encoder {
    pub mod format;
    pub mod session;
}
