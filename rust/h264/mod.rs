// SPDX-License-Identifier: GPL-2.0
//! H.264 encode core: bit writer, headers, frame state, references, rate control.
//!
//! Everything here is `no_std`, allocation-free and panic-free (ARCHITECTURE.md §3); the only
//! u64 division is [`fixed::div_u64`], and a test checks the ARM object code for 64-bit
//! division helpers.
//!
//! Per frame, the encode engine is expected to (uapi.md §8.4):
//! 1. build a [`state::FrameState`] with [`state::FrameState::prepare`] from the SPS/PPS/
//!    ENCODE_PARAMS controls (on the stateful node / auto mode, ENCODE_PARAMS come from
//!    [`gop::Gop::next_params`]), the OUTPUT format, the stream options and the backend's
//!    [`state::Capabilities`]; write the adapted values back into the controls
//!    ([`uapi::H264Sps::to_bytes`] …);
//! 2. pick the QP with [`rc::RateControl::frame_qp`] and store it with
//!    [`state::FrameState::set_qp`]; with HRD signalling ([`state::StreamOptions::hrd`] from
//!    [`sei::hrd_params`] over [`rc::RateControl::hrd_rate_and_size`]) also set
//!    [`state::FrameState::initial_cpb_removal_delay_90k`];
//! 3. plan references with [`dpb::Dpb::plan`] (reconstruction slot, list 0), using
//!    [`state::FrameState::poc`], and [`dpb::FramePlan::fit_active_refs`] on the params;
//! 4. write the software part of the access unit with [`au::write_au_headers`] into a
//!    [`bits::BitWriter`] over the CAPTURE buffer (or a hardware put-bits sink implementing
//!    [`nal::NalSink`]), then let the hardware (or model) write the slice data;
//! 5. on completion, [`dpb::Dpb::commit`], [`state::StreamTracker::commit`] and
//!    [`rc::RateControl::update`] with `bytesused`.

pub mod au;
pub mod bits;
pub mod caps;
pub mod counters;
pub mod dpb;
pub mod fixed;
pub mod gop;
pub mod level;
pub mod nal;
pub mod poc;
pub mod pps;
pub mod rc;
pub mod sei;
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
mod oracle;

#[cfg(test)]
mod oracle_tests;

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod pipeline_tests;
