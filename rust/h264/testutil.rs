// SPDX-License-Identifier: GPL-2.0
//! Test-only helpers shared by the h264 tests: a bit reader, NAL unescaping and a small
//! deterministic PRNG (so property tests are reproducible without extra crates).

use std::vec::Vec;

/// Removes emulation-prevention bytes (00 00 03 → 00 00) from a NAL payload.
pub fn unescape(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    out
}

/// MSB-first reader over an RBSP.
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn bit(&mut self) -> u32 {
        let byte = self.data[self.pos / 8];
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        b as u32
    }
    pub fn flag(&mut self) -> bool {
        self.bit() == 1
    }
    pub fn u(&mut self, n: u32) -> u32 {
        let mut v: u64 = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit() as u64;
        }
        v as u32
    }
    pub fn ue(&mut self) -> u32 {
        let mut lz = 0;
        while self.bit() == 0 {
            lz += 1;
            assert!(lz <= 32, "bad ue");
        }
        let mut v: u64 = 1;
        for _ in 0..lz {
            v = (v << 1) | self.bit() as u64;
        }
        (v - 1) as u32
    }
    pub fn se(&mut self) -> i32 {
        let k = self.ue() as i64;
        if k & 1 == 1 {
            ((k + 1) / 2) as i32
        } else {
            (-(k / 2)) as i32
        }
    }
    pub fn byte_aligned(&self) -> bool {
        self.pos % 8 == 0
    }
    /// Checks rbsp_trailing_bits and that nothing follows.
    pub fn trailing(&mut self) {
        assert_eq!(self.bit(), 1, "stop bit");
        while !self.byte_aligned() {
            assert_eq!(self.bit(), 0, "alignment zero bit");
        }
        assert_eq!(self.pos / 8, self.data.len(), "data after trailing bits");
    }
}

/// xorshift64*: deterministic, good enough to drive property tests.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// Uniform-ish in lo..=hi.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % ((hi - lo + 1) as u64)) as i64
    }
    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
}
