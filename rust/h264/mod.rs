// SPDX-License-Identifier: GPL-2.0
//! H.264 encode core: bit writer, headers, frame state, references, rate control.
//!
//! Everything here is `no_std`, allocation-free and panic-free (ARCHITECTURE.md §3).

pub mod au;
pub mod bits;
pub mod dpb;
pub mod fixed;
pub mod gop;
pub mod level;
pub mod nal;
pub mod poc;
pub mod pps;
pub mod rc;
pub mod slice_header;
pub mod sps;
pub mod state;
pub mod uapi;
pub mod validate;
pub mod vui;

#[cfg(test)]
#[allow(dead_code)] // shared by several test modules; not every helper is used by each
pub(crate) mod testutil;

#[cfg(test)]
mod oracle_tests;
