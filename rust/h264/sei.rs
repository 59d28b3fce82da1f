// SPDX-License-Identifier: GPL-2.0
//! HRD signalling: the NAL HRD parameters of a CBR/VBR stream (E.1.2) and the buffering period
//! and picture timing SEI messages (D.1.2, D.1.3) that make the rate controller's leaky-bucket
//! model checkable by a decoder or analyser.

use super::bits::BitSink;
use super::nal::{begin_nal, end_nal, nal_type, HeaderError, NalSink};
use super::sps::Hrd;
use super::uapi::StartCode;

/// payloadType of buffering_period().
pub const SEI_BUFFERING_PERIOD: u8 = 0;
/// payloadType of pic_timing().
pub const SEI_PIC_TIMING: u8 = 1;

/// Length in bits of every delay field we declare (the `*_length_minus1` fields are 23).
pub const DELAY_BITS: u32 = 24;

/// NAL HRD parameters for one schedule at `bitrate` bit/s with a `cpb_bits` buffer. The
/// values are rounded up to what the syntax can express (the declared rate and buffer are never
/// smaller than the real ones, by less than 64 bit/s and 16 bits).
pub fn hrd_params(bitrate: u32, cpb_bits: u32, cbr: bool) -> Hrd {
    // bit_rate = (value + 1) · 2^(6 + scale): use the largest scale that keeps it exact.
    let scale_of = |v: u32, base: u32| (v.trailing_zeros().saturating_sub(base)).min(15);
    let br_scale = scale_of(bitrate.max(1), 6);
    let cpb_scale = scale_of(cpb_bits.max(1), 4);
    let up = |v: u32, shift: u32| (((v.max(1) as u64) + (1u64 << shift) - 1) >> shift) as u32;
    Hrd {
        bit_rate_scale: br_scale as u8,
        cpb_size_scale: cpb_scale as u8,
        bit_rate_value_minus1: up(bitrate, 6 + br_scale) - 1,
        cpb_size_value_minus1: up(cpb_bits, 4 + cpb_scale) - 1,
        cbr,
        initial_cpb_removal_delay_length_minus1: (DELAY_BITS - 1) as u8,
        cpb_removal_delay_length_minus1: (DELAY_BITS - 1) as u8,
        dpb_output_delay_length_minus1: (DELAY_BITS - 1) as u8,
        time_offset_length: 0,
    }
}

/// Half a buffer of initial delay, in 90 kHz units: the default when rate control gives none.
pub fn default_initial_delay_90k(hrd: &Hrd) -> u32 {
    let rate = ((hrd.bit_rate_value_minus1 as u64 + 1) << (6 + hrd.bit_rate_scale as u32))
        .min(u32::MAX as u64);
    let cpb = (hrd.cpb_size_value_minus1 as u64 + 1) << (4 + hrd.cpb_size_scale as u32);
    let d = super::fixed::div_u64((cpb >> 1).saturating_mul(90_000), rate as u32);
    d.clamp(1, (1 << DELAY_BITS) - 1) as u32
}

/// buffering_period() values for SchedSelIdx 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferingPeriod {
    /// initial_cpb_removal_delay in 90 kHz units (> 0).
    pub initial_cpb_removal_delay: u32,
    /// initial_cpb_removal_delay_offset in 90 kHz units.
    pub initial_cpb_removal_delay_offset: u32,
}

/// pic_timing() values (no pic_struct: pic_struct_present_flag is 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PicTiming {
    /// cpb_removal_delay in clock ticks, modulo 2^24.
    pub cpb_removal_delay: u32,
    /// dpb_output_delay in clock ticks.
    pub dpb_output_delay: u32,
}

/// Bits of ue(v): 2·floor(log2(v + 1)) + 1.
fn ue_bits(v: u32) -> u32 {
    let x = v as u64 + 1;
    2 * (63 - x.leading_zeros()) + 1
}

fn field_len(minus1: u8) -> Result<u32, HeaderError> {
    if minus1 > 31 {
        return Err(HeaderError::Invalid("hrd length"));
    }
    Ok(minus1 as u32 + 1)
}

fn fits(v: u32, bits: u32) -> bool {
    bits >= 32 || v < (1u32 << bits)
}

/// Writes one sei_message(): type, size, payload written by `body` (of `bits` bits), and the
/// payload alignment bits.
fn message<S: BitSink + ?Sized>(
    s: &mut S,
    payload_type: u8,
    bits: u32,
    body: impl FnOnce(&mut S) -> Result<(), HeaderError>,
) -> Result<(), HeaderError> {
    let size = bits.div_ceil(8);
    if size >= 255 {
        return Err(HeaderError::Invalid("sei payload size"));
    }
    s.put_bits(8, payload_type as u32)?;
    s.put_bits(8, size)?;
    let start = s.bit_position();
    body(s)?;
    if s.bit_position() - start != bits as u64 {
        return Err(HeaderError::Invalid("sei payload length"));
    }
    if !s.is_byte_aligned() {
        // bit_equal_to_one, then bit_equal_to_zero to alignment (7.3.2.3.1).
        s.put_bit(true)?;
        s.align_zero()?;
    }
    Ok(())
}

/// Writes an SEI NAL unit with a buffering period (when `bp` is given, i.e. on IDR pictures)
/// and a picture timing message, for SPS `sps_id` declaring `hrd`.
pub fn write_hrd_sei<S: NalSink + ?Sized>(
    s: &mut S,
    framing: StartCode,
    first_in_access_unit: bool,
    sps_id: u8,
    hrd: &Hrd,
    bp: Option<&BufferingPeriod>,
    pt: &PicTiming,
) -> Result<(), HeaderError> {
    let init_len = field_len(hrd.initial_cpb_removal_delay_length_minus1)?;
    let cpb_len = field_len(hrd.cpb_removal_delay_length_minus1)?;
    let dpb_len = field_len(hrd.dpb_output_delay_length_minus1)?;
    if let Some(b) = bp {
        if b.initial_cpb_removal_delay == 0
            || !fits(b.initial_cpb_removal_delay, init_len)
            || !fits(b.initial_cpb_removal_delay_offset, init_len)
        {
            return Err(HeaderError::Invalid("initial_cpb_removal_delay"));
        }
    }
    if !fits(pt.cpb_removal_delay, cpb_len) || !fits(pt.dpb_output_delay, dpb_len) {
        return Err(HeaderError::Invalid("pic_timing delay"));
    }
    begin_nal(s, framing, first_in_access_unit, 0, nal_type::SEI)?;
    if let Some(b) = bp {
        let bits = ue_bits(sps_id as u32) + 2 * init_len;
        message(s, SEI_BUFFERING_PERIOD, bits, |s| {
            s.put_ue(sps_id as u32)?;
            s.put_bits(init_len, b.initial_cpb_removal_delay)?;
            s.put_bits(init_len, b.initial_cpb_removal_delay_offset)?;
            Ok(())
        })?;
    }
    message(s, SEI_PIC_TIMING, cpb_len + dpb_len, |s| {
        s.put_bits(cpb_len, pt.cpb_removal_delay)?;
        s.put_bits(dpb_len, pt.dpb_output_delay)?;
        Ok(())
    })?;
    s.rbsp_trailing_bits()?;
    end_nal(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h264::bits::BitWriter;
    use crate::h264::testutil::{unescape, BitReader};

    fn rate(h: &Hrd) -> u64 {
        (h.bit_rate_value_minus1 as u64 + 1) << (6 + h.bit_rate_scale)
    }
    fn size(h: &Hrd) -> u64 {
        (h.cpb_size_value_minus1 as u64 + 1) << (4 + h.cpb_size_scale)
    }

    #[test]
    fn hrd_values_exact_or_rounded_up() {
        let h = hrd_params(2_000_000, 2_000_000, true);
        assert_eq!((rate(&h), size(&h)), (2_000_000, 2_000_000));
        for (r, c) in [
            (1u32, 1u32),
            (1000, 999),
            (u32::MAX, u32::MAX),
            (12_345_678, 7),
        ] {
            let h = hrd_params(r, c, false);
            assert!(rate(&h) >= r as u64 && rate(&h) < r as u64 + 64, "{r}");
            assert!(size(&h) >= c as u64 && size(&h) < c as u64 + 16, "{c}");
        }
        let h = hrd_params(1_000_000, 1_000_000, true);
        assert_eq!(default_initial_delay_90k(&h), 45_000);
    }

    #[test]
    fn sei_layout_and_ranges() {
        let h = hrd_params(1_000_000, 500_000, true);
        let mut buf = [0u8; 64];
        let mut w = BitWriter::new(&mut buf);
        let bp = BufferingPeriod {
            initial_cpb_removal_delay: 1234,
            initial_cpb_removal_delay_offset: 0,
        };
        let pt = PicTiming {
            cpb_removal_delay: 6,
            dpb_output_delay: 0,
        };
        write_hrd_sei(&mut w, StartCode::None, true, 0, &h, Some(&bp), &pt).unwrap();
        let n = w.finish().unwrap();
        let rbsp = unescape(&buf[..n]);
        let mut r = BitReader::new(&rbsp);
        assert_eq!(r.u(8), 6); // NAL header
        assert_eq!((r.u(8), r.u(8)), (0, 7)); // BP, 49 bits -> 7 bytes
        assert_eq!((r.ue(), r.u(24), r.u(24)), (0, 1234, 0));
        assert_eq!(r.u(7), 0b100_0000); // payload alignment
        assert_eq!((r.u(8), r.u(8)), (1, 6));
        assert_eq!((r.u(24), r.u(24)), (6, 0));
        r.trailing();
        let mut w = BitWriter::new(&mut buf);
        let zero = BufferingPeriod {
            initial_cpb_removal_delay: 0,
            ..bp
        };
        assert_eq!(
            write_hrd_sei(&mut w, StartCode::None, true, 0, &h, Some(&zero), &pt),
            Err(HeaderError::Invalid("initial_cpb_removal_delay"))
        );
        let big = PicTiming {
            cpb_removal_delay: 1 << 24,
            ..pt
        };
        assert_eq!(
            write_hrd_sei(&mut w, StartCode::None, true, 0, &h, None, &big),
            Err(HeaderError::Invalid("pic_timing delay"))
        );
    }
}
