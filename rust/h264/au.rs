// SPDX-License-Identifier: GPL-2.0
//! The software-written part of an access unit (uapi.md §8.4 step 5): AUD, SPS and PPS as the
//! frame state's [`HeaderPlan`](super::state::HeaderPlan) says, HRD SEI when the SPS declares
//! HRD parameters, then the slice NAL header and
//! slice header unless the hardware writes them ([`HW_SLICE_HEADER`]). The slice data follows,
//! from the hardware or the model.

use super::nal::{aud_primary_pic_type, write_aud, HeaderError, NalSink};
use super::pps::write_pps;
use super::sei::write_hrd_sei;
use super::slice_header::{begin_slice_nal, write_slice_header};
use super::sps::write_sps;
use super::state::{Capabilities, FrameState, HeaderPlan, HW_AUD, HW_PPS, HW_SLICE_HEADER, HW_SPS};
use super::uapi::SLICE_TYPE_P;

/// What [`write_au_headers`] left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuTail {
    /// The slice NAL unit is open after its slice header: the caller writes slice_data(), the
    /// trailing bits, and ends the NAL unit.
    SliceOpen,
    /// The hardware writes the slice NAL unit (header included) after these bytes.
    HardwareSlice,
}

/// Writes the units software is responsible for, in order, into `s`.
pub fn write_au_headers<S: NalSink + ?Sized>(
    s: &mut S,
    st: &FrameState,
    caps: &Capabilities,
) -> Result<AuTail, HeaderError> {
    write_au_units(s, st, st.plan, caps)
}

/// [`write_au_headers`] with the AUD and parameter sets taken from `units` instead of the
/// state's plan (a stateful encoder in header mode `Separate` moves SPS/PPS into a buffer of
/// their own).
pub fn write_au_units<S: NalSink + ?Sized>(
    s: &mut S,
    st: &FrameState,
    units: HeaderPlan,
    caps: &Capabilities,
) -> Result<AuTail, HeaderError> {
    let mut first = true;
    let hw = caps.hw_headers;
    if units.aud && hw & HW_AUD == 0 {
        let ppt = aud_primary_pic_type(st.params.slice_type == SLICE_TYPE_P, false);
        write_aud(s, st.framing, ppt)?;
        first = false;
    }
    // When the hardware writes the AUD it is first in the access unit anyway.
    if units.aud && hw & HW_AUD != 0 {
        first = false;
    }
    if units.sps_pps {
        if hw & HW_SPS == 0 {
            write_sps(s, st.framing, first, &st.sps, &st.extra)?;
        }
        if hw & HW_PPS == 0 {
            write_pps(s, st.framing, first, &st.pps)?;
        }
        first = false;
    }
    // SEI after the parameter sets, before the slice (7.4.1.2.3).
    if let (Some((bp, pt)), Some(hrd)) = (
        st.hrd_sei(st.initial_cpb_removal_delay_90k),
        st.extra.vui.as_ref().and_then(|v| v.nal_hrd),
    ) {
        write_hrd_sei(
            s,
            st.framing,
            first,
            st.sps.seq_parameter_set_id,
            &hrd,
            bp.as_ref(),
            &pt,
        )?;
        first = false;
    }
    if hw & HW_SLICE_HEADER != 0 {
        return Ok(AuTail::HardwareSlice);
    }
    begin_slice_nal(s, st.framing, first, &st.params)?;
    write_slice_header(s, &st.sps, &st.pps, &st.params, 0)?;
    Ok(AuTail::SliceOpen)
}
