// SPDX-License-Identifier: GPL-2.0
use super::*;
use crate::h264::testutil::{unescape, BitReader, Rng};
use std::vec;
use std::vec::Vec;

/// 7.4.1: no `00 00 0{0,1,2}` anywhere, and `00 00 03` only as an escape (followed by a byte
/// in 0..=3, or at the very end).
fn assert_no_emulation(nal: &[u8]) {
    for (i, w) in nal.windows(3).enumerate() {
        assert!(
            !(w[0] == 0 && w[1] == 0 && w[2] <= 2),
            "start-code emulation {:02x?} at {i} in {:02x?}",
            w,
            nal
        );
        if w == [0, 0, 3] {
            if let Some(&next) = nal.get(i + 3) {
                assert!(next <= 3, "needless escape at {i} in {:02x?}", nal);
            }
        }
    }
    assert_ne!(nal.last(), Some(&0), "payload ends in zero byte");
}

/// Random bytes biased towards zeros and small values, the interesting cases.
fn biased_bytes(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| match rng.range(0, 3) {
            0 | 1 => 0,
            2 => rng.range(0, 4) as u8,
            _ => rng.next_u32() as u8,
        })
        .collect()
}

#[test]
fn put_bits_msb_first() {
    let mut buf = [0u8; 8];
    let mut w = BitWriter::new(&mut buf);
    w.put_bits(3, 0b101).unwrap();
    w.put_bits(5, 0b10011).unwrap();
    w.put_bits(32, 0xdead_beef).unwrap();
    w.put_bits(0, 0xffff).unwrap();
    w.put_bits(4, 0xf3).unwrap(); // only low 4 bits
    assert_eq!(w.bit_position(), 44);
    assert!(!w.is_byte_aligned());
    w.align_zero().unwrap();
    assert_eq!(w.finish().unwrap(), 6);
    assert_eq!(&buf[..6], &[0b1011_0011, 0xde, 0xad, 0xbe, 0xef, 0x30]);
}

#[test]
fn put_bits_rejects_more_than_32() {
    let mut buf = [0u8; 8];
    let mut w = BitWriter::new(&mut buf);
    assert_eq!(w.put_bits(33, 0), Err(BitError::InvalidCount));
}

#[test]
fn overflow_is_reported() {
    let mut buf = [0u8; 2];
    let mut w = BitWriter::new(&mut buf);
    w.put_bits(16, 0x1234).unwrap();
    assert_eq!(w.put_bits(8, 0x56), Err(BitError::Overflow));
    let mut buf = [0u8; 3];
    let mut w = BitWriter::new(&mut buf);
    assert_eq!(w.put_bytes_raw(&[0, 0, 0, 1]), Err(BitError::Overflow));
    // With EP the inserted byte also needs room.
    let mut buf = [0u8; 3];
    let mut w = BitWriter::new(&mut buf);
    w.set_emulation_prevention(true);
    w.put_bits(16, 0).unwrap();
    // 00 00 03 01 needs 4 bytes.
    assert_eq!(w.put_bits(8, 1), Err(BitError::Overflow));
}

#[test]
fn unaligned_operations_refused() {
    let mut buf = [0u8; 8];
    let mut w = BitWriter::new(&mut buf);
    w.put_bit(true).unwrap();
    assert_eq!(w.put_bytes_raw(&[0, 0, 1]), Err(BitError::NotAligned));
    assert_eq!(w.end_nal(), Err(BitError::NotAligned));
    assert_eq!(w.finish(), Err(BitError::NotAligned));
}

#[test]
fn trailing_bits() {
    for lead in 0..16u32 {
        let mut buf = [0u8; 4];
        let mut w = BitWriter::new(&mut buf);
        w.put_bits(lead, 0).unwrap();
        w.rbsp_trailing_bits().unwrap();
        assert!(w.is_byte_aligned());
        let n = w.finish().unwrap();
        assert_eq!(n as u32, lead / 8 + 1);
        let mut r = BitReader::new(&buf[..n]);
        r.u(lead);
        r.trailing();
    }
}

#[test]
fn align_with_ones() {
    let mut buf = [0u8; 2];
    let mut w = BitWriter::new(&mut buf);
    w.put_bits(3, 0).unwrap();
    w.align_with(true).unwrap();
    w.align_with(true).unwrap(); // already aligned: no-op
    assert_eq!(w.finish().unwrap(), 1);
    assert_eq!(buf[0], 0x1f);
}

#[test]
fn ue_known_codes() {
    // Table 9-2.
    let cases: &[(u32, &str)] = &[
        (0, "1"),
        (1, "010"),
        (2, "011"),
        (3, "00100"),
        (6, "00111"),
        (7, "0001000"),
        (14, "0001111"),
    ];
    for &(v, code) in cases {
        let mut buf = [0u8; 4];
        let mut w = BitWriter::new(&mut buf);
        w.put_ue(v).unwrap();
        assert_eq!(w.bit_position(), code.len() as u64);
        w.align_zero().unwrap();
        w.finish().unwrap();
        let mut r = BitReader::new(&buf);
        let got: std::string::String = (0..code.len())
            .map(|_| if r.bit() == 1 { '1' } else { '0' })
            .collect();
        assert_eq!(got, code, "ue({v})");
    }
}

#[test]
fn se_known_codes() {
    // Table 9-3: codeNum k maps to (-1)^(k+1) * Ceil(k/2).
    let cases: &[(i32, u32)] = &[(0, 0), (1, 1), (-1, 2), (2, 3), (-2, 4), (3, 5)];
    for &(v, k) in cases {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        let mut wa = BitWriter::new(&mut a);
        let mut wb = BitWriter::new(&mut b);
        wa.put_se(v).unwrap();
        wb.put_ue(k).unwrap();
        assert_eq!(wa.bit_position(), wb.bit_position());
        wa.align_zero().unwrap();
        wb.align_zero().unwrap();
        wa.finish().unwrap();
        wb.finish().unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn ue_se_extremes() {
    let mut buf = [0u8; 64];
    let mut w = BitWriter::new(&mut buf);
    w.put_ue(u32::MAX - 1).unwrap();
    w.put_ue(u32::MAX).unwrap();
    w.put_se(i32::MAX).unwrap();
    w.put_se(i32::MIN + 1).unwrap();
    assert_eq!(w.put_se(i32::MIN), Err(BitError::ValueOutOfRange));
    assert_eq!(w.bit_position(), 63 + 65 + 63 + 63);
    w.rbsp_trailing_bits().unwrap();
    let n = w.finish().unwrap();
    let mut r = BitReader::new(&buf[..n]);
    assert_eq!(r.ue(), u32::MAX - 1);
    // u32::MAX: 32 zeros, then 33-bit value 2^32.
    assert_eq!(r.u(32), 0);
    assert_eq!(r.bit(), 1);
    assert_eq!(r.u(32), 0);
    assert_eq!(r.se(), i32::MAX);
    assert_eq!(r.se(), i32::MIN + 1);
    r.trailing();
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Bits(u32, u32),
    Ue(u32),
    Se(i32),
}

fn random_op(rng: &mut Rng) -> Op {
    match rng.range(0, 2) {
        0 => {
            let n = rng.range(0, 32) as u32;
            let v = if n == 0 {
                0
            } else {
                rng.next_u32() >> (32 - n)
            };
            // Many zero runs to exercise EP.
            Op::Bits(n, if rng.bool() { 0 } else { v })
        }
        1 => Op::Ue(match rng.range(0, 3) {
            0 => rng.range(0, 8) as u32,
            1 => rng.next_u32() >> rng.range(0, 31),
            2 => u32::MAX - rng.range(0, 1) as u32,
            _ => rng.next_u32(),
        }),
        _ => Op::Se(match rng.range(0, 2) {
            0 => rng.range(-8, 8) as i32,
            1 => (rng.next_u32() as i32).max(i32::MIN + 1),
            _ => (rng.next_u32() as i32 >> rng.range(0, 31)).max(i32::MIN + 1),
        }),
    }
}

/// Property: random syntax elements written with EP on come back identical after unescaping,
/// the escaped stream has no start-code emulation, and EP never changes the bit count.
#[test]
fn prop_roundtrip_with_emulation_prevention() {
    let mut rng = Rng::new(1);
    for _case in 0..2000 {
        let ops: Vec<Op> = (0..rng.range(1, 40)).map(|_| random_op(&mut rng)).collect();
        let mut buf = vec![0u8; 1024];
        let mut plain = vec![0u8; 1024];
        let mut w = BitWriter::new(&mut buf);
        let mut p = BitWriter::new(&mut plain);
        w.set_emulation_prevention(true);
        for &op in &ops {
            match op {
                Op::Bits(n, v) => {
                    w.put_bits(n, v).unwrap();
                    p.put_bits(n, v).unwrap();
                }
                Op::Ue(v) => {
                    w.put_ue(v).unwrap();
                    p.put_ue(v).unwrap();
                }
                Op::Se(v) => {
                    w.put_se(v).unwrap();
                    p.put_se(v).unwrap();
                }
            }
        }
        assert_eq!(w.bit_position(), p.bit_position());
        w.rbsp_trailing_bits().unwrap();
        p.rbsp_trailing_bits().unwrap();
        let n = w.finish().unwrap();
        let pn = p.finish().unwrap();
        let nal = &buf[..n];
        assert_no_emulation(nal);
        let rbsp = unescape(nal);
        assert_eq!(&rbsp[..], &plain[..pn]);
        // Separate-pass escaping gives the same bytes as on-the-fly escaping.
        let mut out = vec![0u8; super::escaped_len_bound(pn)];
        let m = escape_rbsp(&plain[..pn], &mut out).unwrap();
        assert_eq!(&out[..m], nal);
        let mut r = BitReader::new(&rbsp);
        for &op in &ops {
            match op {
                Op::Bits(n, v) => assert_eq!(r.u(n), v),
                Op::Ue(v) if v == u32::MAX => {
                    assert_eq!(r.u(32), 0);
                    assert_eq!(r.u(33 - 1), 1 << 31);
                    assert_eq!(r.bit(), 0);
                }
                Op::Ue(v) => assert_eq!(r.ue(), v),
                Op::Se(v) => assert_eq!(r.se(), v),
            }
        }
        r.trailing();
    }
}

/// Property: escape_rbsp over random (zero-heavy) bytes never leaves `00 00 0{0..3}` and
/// unescapes back to the input; the output fits the advertised bound.
#[test]
fn prop_escape_random_bytes() {
    let mut rng = Rng::new(7);
    for _ in 0..5000 {
        let len = rng.range(0, 64) as usize;
        let rbsp = biased_bytes(&mut rng, len);
        let mut out = vec![0u8; escaped_len_bound(len)];
        let n = escape_rbsp(&rbsp, &mut out).unwrap();
        let nal = &out[..n];
        assert_no_emulation(nal);
        let back = unescape(nal);
        // 7.4.1 appends 0x03 after a final zero byte. A valid RBSP only ends in zeros through
        // cabac_zero_words (an even run); then the 0x03 is an escape the decoder drops. For
        // other (invalid) endings only the RBSP prefix is guaranteed.
        let run = rbsp.iter().rev().take_while(|&&b| b == 0).count();
        if run % 2 == 0 {
            assert_eq!(back, rbsp);
        } else {
            assert_eq!(&back[..rbsp.len()], &rbsp[..]);
        }
    }
}

#[test]
fn escape_examples() {
    let mut out = [0u8; 16];
    let n = escape_rbsp(&[0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 4], &mut out).unwrap();
    assert_eq!(&out[..n], &[0, 0, 3, 0, 0, 3, 1, 0, 0, 3, 2, 0, 0, 4]);
    let n = escape_rbsp(&[5, 0, 0], &mut out).unwrap();
    assert_eq!(&out[..n], &[5, 0, 0, 3]);
    let mut small = [0u8; 3];
    assert_eq!(escape_rbsp(&[0, 0, 1], &mut small), Err(BitError::Overflow));
}

#[test]
fn raw_bytes_are_not_escaped_and_reset_zero_run() {
    let mut buf = [0u8; 16];
    let mut w = BitWriter::new(&mut buf);
    w.put_bytes_raw(&[0, 0, 0, 1]).unwrap();
    w.set_emulation_prevention(true);
    w.put_bits(8, 0).unwrap();
    w.put_bits(8, 0x67).unwrap();
    w.put_bits(8, 0).unwrap();
    w.put_bits(8, 0).unwrap();
    w.put_bits(8, 0x01).unwrap();
    w.set_emulation_prevention(false);
    w.put_bytes_raw(&[0, 0, 1]).unwrap();
    assert_eq!(w.bit_position(), (4 + 5 + 3) * 8);
    let n = w.finish().unwrap();
    assert_eq!(&buf[..n], &[0, 0, 0, 1, 0, 0x67, 0, 0, 3, 1, 0, 0, 1]);
}

#[test]
fn end_nal_appends_03_after_cabac_zero_words() {
    let mut buf = [0u8; 16];
    let mut w = BitWriter::new(&mut buf);
    w.set_emulation_prevention(true);
    w.put_bits(8, 0x80).unwrap();
    w.put_bits(16, 0).unwrap(); // cabac_zero_word
    w.put_bits(16, 0).unwrap();
    let n = w.end_nal().unwrap();
    assert_eq!(&buf[..n], &[0x80, 0, 0, 3, 0, 0, 3]);
}
