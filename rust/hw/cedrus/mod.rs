// SPDX-License-Identifier: GPL-2.0
//! Allwinner Video Engine ("cedrus") as found on V3/V3s/S3: AVC (H.264) encoder.
//!
//! Facts come from `research/cedrus.md`; see [`regs`] for the register map and [`backend`] for
//! the per-frame programming (which the kernel glue and the model's tests share).

pub mod backend;
pub mod regs;
