// SPDX-License-Identifier: GPL-2.0
use super::*;
use crate::h264::testutil::unescape;

#[test]
fn aud_annexb() {
    let mut buf = [0u8; 16];
    let mut w = BitWriter::new(&mut buf);
    write_aud(&mut w, StartCode::AnnexB, aud_primary_pic_type(true, false)).unwrap();
    let n = w.finish().unwrap();
    // 4-byte start code, header 0x09, primary_pic_type 1 (001) + stop bit + 4 zeros.
    assert_eq!(&buf[..n], &[0, 0, 0, 1, 0x09, 0b0011_0000]);
}

#[test]
fn aud_no_start_code() {
    let mut buf = [0u8; 16];
    let mut w = BitWriter::new(&mut buf);
    write_aud(&mut w, StartCode::None, 0).unwrap();
    let n = w.finish().unwrap();
    assert_eq!(&buf[..n], &[0x09, 0b0001_0000]);
}

#[test]
fn start_code_lengths() {
    assert!(needs_zero_byte(nal_type::SPS, false));
    assert!(needs_zero_byte(nal_type::PPS, false));
    assert!(needs_zero_byte(nal_type::SLICE, true));
    assert!(!needs_zero_byte(nal_type::SLICE, false));
    assert!(!needs_zero_byte(nal_type::IDR, false));
    let mut buf = [0u8; 16];
    let mut w = BitWriter::new(&mut buf);
    begin_nal(&mut w, StartCode::AnnexB, false, 2, nal_type::SLICE).unwrap();
    w.put_bits(16, 0).unwrap();
    w.put_bits(8, 1).unwrap();
    w.rbsp_trailing_bits().unwrap();
    end_nal(&mut w).unwrap();
    let n = w.finish().unwrap();
    // The payload is escaped, the start code is not.
    assert_eq!(&buf[..n], &[0, 0, 1, 0x41, 0, 0, 3, 1, 0x80]);
    assert_eq!(unescape(&buf[3..n]), [0x41, 0, 0, 1, 0x80]);
}

#[test]
fn header_field_ranges() {
    let mut buf = [0u8; 16];
    let mut w = BitWriter::new(&mut buf);
    assert_eq!(
        begin_nal(&mut w, StartCode::AnnexB, true, 4, 1),
        Err(HeaderError::Invalid("nal_ref_idc"))
    );
    assert_eq!(
        begin_nal(&mut w, StartCode::AnnexB, true, 0, 32),
        Err(HeaderError::Invalid("nal_unit_type"))
    );
    assert_eq!(
        write_aud_rbsp(&mut w, 8),
        Err(HeaderError::Invalid("primary_pic_type"))
    );
    w.put_bit(true).unwrap();
    assert_eq!(
        begin_nal(&mut w, StartCode::AnnexB, true, 0, 9),
        Err(HeaderError::Bits(BitError::NotAligned))
    );
}

#[test]
fn overflow_surfaces_as_bits_error() {
    let mut buf = [0u8; 4];
    let mut w = BitWriter::new(&mut buf);
    assert_eq!(
        write_aud(&mut w, StartCode::AnnexB, 0),
        Err(HeaderError::Bits(BitError::Overflow))
    );
}
