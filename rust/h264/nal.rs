// SPDX-License-Identifier: GPL-2.0
//! NAL unit framing (Annex B start codes, NAL header, emulation prevention) and the access
//! unit delimiter.
//!
//! The header writers (`sps`, `pps`, `slice_header`) write RBSP syntax into any
//! [`BitSink`]; framing needs a sink that can also switch emulation prevention on and off,
//! which is what [`NalSink`] adds. Our [`BitWriter`] is one; a hardware put-bits block with an
//! escaping switch (cedrus `PARA0_EPTB_DIS`, uapi.md §2.3) can be another.

use super::bits::{BitError, BitSink, BitWriter};
use super::uapi::StartCode;

/// `nal_unit_type` values we write (Table 7-1).
pub mod nal_type {
    /// Coded slice of a non-IDR picture.
    pub const SLICE: u8 = 1;
    /// Coded slice of an IDR picture.
    pub const IDR: u8 = 5;
    /// Supplemental enhancement information.
    pub const SEI: u8 = 6;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Access unit delimiter.
    pub const AUD: u8 = 9;
}

/// Errors of the header writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The sink refused the bits (buffer full, …).
    Bits(BitError),
    /// A syntax element is out of its range (the state layer should have caught it).
    Invalid(&'static str),
    /// A feature we do not write (slice groups, scaling matrices, weighted prediction, …).
    Unsupported(&'static str),
}

impl From<BitError> for HeaderError {
    fn from(e: BitError) -> Self {
        HeaderError::Bits(e)
    }
}

/// A [`BitSink`] that frames NAL units: it can escape payload bytes (7.4.1) on demand.
pub trait NalSink: BitSink {
    /// Turns emulation prevention on (NAL payload) or off (start codes).
    fn set_escaping(&mut self, on: bool);
    /// Ends a NAL payload (byte aligned): appends the 0x03 that must follow a final zero byte
    /// (cabac_zero_words) and turns escaping off.
    fn finish_payload(&mut self) -> Result<(), BitError>;
}

impl NalSink for BitWriter<'_> {
    fn set_escaping(&mut self, on: bool) {
        self.set_emulation_prevention(on);
    }
    fn finish_payload(&mut self) -> Result<(), BitError> {
        self.end_nal()?;
        self.set_emulation_prevention(false);
        Ok(())
    }
}

/// Whether a NAL unit needs the 4-byte start code (Annex B.1.2: the `zero_byte` is required
/// before SPS and PPS and before the first NAL unit of an access unit).
pub fn needs_zero_byte(nal_unit_type: u8, first_in_access_unit: bool) -> bool {
    first_in_access_unit || nal_unit_type == nal_type::SPS || nal_unit_type == nal_type::PPS
}

/// Starts a NAL unit: the start code (if `framing` is Annex B; 4 bytes when
/// [`needs_zero_byte`]), then the one-byte NAL header with escaping on.
///
/// With [`StartCode::None`] the NAL units are written back to back without any prefix: this is
/// the `V4L2_STATELESS_H264_START_CODE_NONE` reading of uapi.md §2.5/§8.3 (the series gives no
/// further semantics, so a consumer of that mode must frame units itself).
pub fn begin_nal<S: NalSink + ?Sized>(
    s: &mut S,
    framing: StartCode,
    first_in_access_unit: bool,
    nal_ref_idc: u8,
    nal_unit_type: u8,
) -> Result<(), HeaderError> {
    if nal_ref_idc > 3 {
        return Err(HeaderError::Invalid("nal_ref_idc"));
    }
    if nal_unit_type > 31 {
        return Err(HeaderError::Invalid("nal_unit_type"));
    }
    if !s.is_byte_aligned() {
        return Err(HeaderError::Bits(BitError::NotAligned));
    }
    s.set_escaping(false);
    if framing == StartCode::AnnexB {
        if needs_zero_byte(nal_unit_type, first_in_access_unit) {
            s.put_bits(8, 0)?;
        }
        s.put_bits(24, 0x00_0001)?;
    }
    s.set_escaping(true);
    // forbidden_zero_bit, nal_ref_idc, nal_unit_type (7.3.1).
    s.put_bits(8, ((nal_ref_idc as u32) << 5) | nal_unit_type as u32)?;
    Ok(())
}

/// Ends a NAL unit whose RBSP (including its trailing bits) has been written.
pub fn end_nal<S: NalSink + ?Sized>(s: &mut S) -> Result<(), HeaderError> {
    if !s.is_byte_aligned() {
        return Err(HeaderError::Bits(BitError::NotAligned));
    }
    s.finish_payload()?;
    Ok(())
}

/// `primary_pic_type` of the access unit delimiter (Table 7-5) for the slice types present.
pub fn aud_primary_pic_type(has_p: bool, has_b: bool) -> u8 {
    match (has_p, has_b) {
        (false, false) => 0, // I
        (true, false) => 1,  // I, P
        _ => 2,              // I, P, B
    }
}

/// Writes an access unit delimiter RBSP (7.3.2.4): `primary_pic_type` u(3), trailing bits.
pub fn write_aud_rbsp<S: BitSink + ?Sized>(
    s: &mut S,
    primary_pic_type: u8,
) -> Result<(), HeaderError> {
    if primary_pic_type > 7 {
        return Err(HeaderError::Invalid("primary_pic_type"));
    }
    s.put_bits(3, primary_pic_type as u32)?;
    s.rbsp_trailing_bits()?;
    Ok(())
}

/// Writes a complete AUD NAL unit (always the first unit of its access unit, nal_ref_idc 0).
pub fn write_aud<S: NalSink + ?Sized>(
    s: &mut S,
    framing: StartCode,
    primary_pic_type: u8,
) -> Result<(), HeaderError> {
    begin_nal(s, framing, true, 0, nal_type::AUD)?;
    write_aud_rbsp(s, primary_pic_type)?;
    end_nal(s)
}

#[cfg(test)]
mod tests;
