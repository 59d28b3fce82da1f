// SPDX-License-Identifier: GPL-2.0
//! Hardware backends: register definitions and per-frame register programming per encoder
//! block (`cedrus::backend` for the V3s VE).
//!
//! Pure code: compiled into the module and on the host, so the register files here are shared
//! by the real backends and by the register-level models in `crate::sim`.

pub mod cedrus;
