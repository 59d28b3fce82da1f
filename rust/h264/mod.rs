// SPDX-License-Identifier: GPL-2.0
//! H.264 encode core: bit writer, headers, frame state, references, rate control.

pub mod bits;
pub mod uapi;

#[cfg(test)]
#[allow(dead_code)] // shared by several test modules; not every helper is used by each
pub(crate) mod testutil;
