// SPDX-License-Identifier: GPL-2.0
//! MSB-first bit writing for H.264 headers and slice data.
//!
//! Two layers: the [`BitSink`] trait (anything that accepts bits: our memory writer, or a
//! hardware put-bits block such as the cedrus VE's) with the Exp-Golomb and trailing-bits
//! helpers built on top of `put_bits`, and [`BitWriter`], a sink over a caller-provided byte
//! buffer that can insert emulation-prevention bytes on the fly (H.264 7.4.1). [`escape_rbsp`]
//! does the same escaping as a separate pass.
//!
//! Nothing here allocates, divides a `u64` or panics.

/// Errors of the bit writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitError {
    /// The output buffer is full (or the hardware FIFO refused the bits).
    Overflow,
    /// `put_bits` was asked for more than 32 bits.
    InvalidCount,
    /// A byte-aligned operation (raw bytes, finishing) was attempted mid-byte.
    NotAligned,
    /// The value cannot be coded (e.g. `se(v)` of `i32::MIN`, whose codeNum needs 33 bits).
    ValueOutOfRange,
}

/// Anything that accepts bits MSB-first: our memory writer, or a hardware put-bits block.
///
/// Only `put_bits` and `bit_position` must be implemented; the syntax-element helpers are
/// provided on top of them so every sink codes them identically.
pub trait BitSink {
    /// Writes the low `n` bits of `value`, most significant first. `n` is in `0..=32`;
    /// bits of `value` above `n` are ignored.
    fn put_bits(&mut self, n: u32, value: u32) -> Result<(), BitError>;

    /// Bits written so far (payload bits, not counting emulation-prevention bytes).
    fn bit_position(&self) -> u64;

    /// Writes one bit (`u(1)` / `f(1)`).
    fn put_bit(&mut self, bit: bool) -> Result<(), BitError> {
        self.put_bits(1, bit as u32)
    }

    /// Writes `ue(v)`, unsigned Exp-Golomb (H.264 9.1): `len-1` zeros, then `v+1` in `len` bits.
    /// Every `u32` is codable, including `u32::MAX` (65 bits).
    fn put_ue(&mut self, v: u32) -> Result<(), BitError> {
        match v.checked_add(1) {
            Some(code) => {
                // len = number of significant bits of v+1 (1..=32).
                let len = 32 - code.leading_zeros();
                self.put_bits(len - 1, 0)?;
                self.put_bits(len, code)
            }
            None => {
                // v+1 == 2^32: 32 zeros, a one, then 32 zero bits of the suffix.
                self.put_bits(32, 0)?;
                self.put_bit(true)?;
                self.put_bits(32, 0)
            }
        }
    }

    /// Writes `se(v)`, signed Exp-Golomb (H.264 9.1.1): positive v maps to codeNum 2v-1,
    /// non-positive v to -2v. `i32::MIN` is the only value that does not fit and is refused.
    fn put_se(&mut self, v: i32) -> Result<(), BitError> {
        let code: i64 = if v > 0 {
            2 * (v as i64) - 1
        } else {
            -2 * (v as i64)
        };
        let code = u32::try_from(code).map_err(|_| BitError::ValueOutOfRange)?;
        self.put_ue(code)
    }

    /// True when the next bit starts a byte.
    fn is_byte_aligned(&self) -> bool {
        // `& 7`, not `% 8`: no u64 modulo in code that links into a 32-bit ARM module.
        self.bit_position() & 7 == 0
    }

    /// Writes zero bits up to the next byte boundary (e.g. `pcm_alignment_zero_bit`,
    /// `cabac_alignment_one_bit` needs ones: use [`BitSink::align_with`]).
    fn align_zero(&mut self) -> Result<(), BitError> {
        self.align_with(false)
    }

    /// Pads to the next byte boundary with copies of `bit`.
    fn align_with(&mut self, bit: bool) -> Result<(), BitError> {
        let pad = (8 - (self.bit_position() & 7) as u32) & 7;
        let value = if bit { (1u32 << pad) - 1 } else { 0 };
        self.put_bits(pad, value)
    }

    /// Writes `rbsp_trailing_bits()` (7.3.2.11): a stop bit of 1, then zeros to alignment.
    fn rbsp_trailing_bits(&mut self) -> Result<(), BitError> {
        self.put_bit(true)?;
        self.align_zero()
    }
}

/// A [`BitSink`] over a caller-provided byte buffer.
///
/// With emulation prevention on, a 0x03 byte is inserted whenever two zero bytes would be
/// followed by a byte in 0x00..=0x03 (H.264 7.4.1), so the output is a valid NAL payload.
/// After an error the buffer content past the last complete byte is unspecified; the caller
/// is expected to give up on the unit (e.g. report a too-small CAPTURE buffer).
pub struct BitWriter<'a> {
    buf: &'a mut [u8],
    /// Complete bytes in `buf`, emulation-prevention bytes included.
    len: usize,
    /// Pending bits not yet forming a full byte, right-aligned.
    acc: u32,
    /// Number of pending bits in `acc` (0..=7).
    nacc: u32,
    /// Payload bits written (excluding emulation-prevention bytes).
    bits: u64,
    /// Consecutive zero bytes at the end of the output, for emulation prevention.
    zeros: u32,
    ep: bool,
}

impl<'a> BitWriter<'a> {
    /// Creates a writer at the start of `buf`, emulation prevention off.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            len: 0,
            acc: 0,
            nacc: 0,
            bits: 0,
            zeros: 0,
            ep: false,
        }
    }

    /// Turns on-the-fly 0x03 insertion on or off. Turn it on at the start of a NAL payload
    /// (after the start code) and off for start codes; the zero-run counter is reset so that
    /// escaping never looks across a unit boundary.
    pub fn set_emulation_prevention(&mut self, on: bool) {
        self.ep = on;
        self.zeros = 0;
    }

    /// Writes bytes verbatim (start codes, pre-escaped data). Must be byte aligned.
    pub fn put_bytes_raw(&mut self, bytes: &[u8]) -> Result<(), BitError> {
        if self.nacc != 0 {
            return Err(BitError::NotAligned);
        }
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(BitError::Overflow)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(BitError::Overflow)?;
        dst.copy_from_slice(bytes);
        self.len = end;
        self.bits += (bytes.len() as u64) << 3;
        // Raw bytes are not payload: the next escaped byte starts a fresh zero run.
        self.zeros = 0;
        Ok(())
    }

    /// Complete bytes written, emulation-prevention bytes included.
    pub fn bytes_written(&self) -> usize {
        self.len
    }

    /// Ends a NAL payload: requires byte alignment and, with emulation prevention on, appends
    /// the final 0x03 that H.264 7.4.1 requires when the payload ends in a zero byte (only
    /// possible after `cabac_zero_word`s). Returns [`BitWriter::bytes_written`].
    pub fn end_nal(&mut self) -> Result<usize, BitError> {
        if self.nacc != 0 {
            return Err(BitError::NotAligned);
        }
        if self.ep && self.zeros > 0 {
            self.push(0x03)?;
            self.zeros = 0;
        }
        Ok(self.len)
    }

    /// Finishes writing: requires byte alignment (callers pad explicitly, e.g. with
    /// `rbsp_trailing_bits`) and returns the number of bytes written.
    pub fn finish(mut self) -> Result<usize, BitError> {
        self.end_nal()
    }

    /// The written bytes so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn push(&mut self, b: u8) -> Result<(), BitError> {
        let slot = self.buf.get_mut(self.len).ok_or(BitError::Overflow)?;
        *slot = b;
        self.len += 1;
        Ok(())
    }

    /// Emits one payload byte, escaping it if needed.
    fn emit(&mut self, b: u8) -> Result<(), BitError> {
        if self.ep && self.zeros >= 2 && b <= 3 {
            self.push(0x03)?;
            self.zeros = 0;
        }
        self.push(b)?;
        if b == 0 {
            self.zeros += 1;
        } else {
            self.zeros = 0;
        }
        Ok(())
    }
}

impl BitSink for BitWriter<'_> {
    fn put_bits(&mut self, n: u32, value: u32) -> Result<(), BitError> {
        if n > 32 {
            return Err(BitError::InvalidCount);
        }
        let mut left = n;
        while left > 0 {
            let take = core::cmp::min(left, 8 - self.nacc);
            // `take` is 1..=8 and `left - take` < 32, so the shifts are in range.
            let chunk = (value >> (left - take)) & ((1u32 << take) - 1);
            self.acc = (self.acc << take) | chunk;
            self.nacc += take;
            left -= take;
            if self.nacc == 8 {
                let byte = (self.acc & 0xff) as u8;
                self.acc = 0;
                self.nacc = 0;
                self.emit(byte)?;
            }
            self.bits += take as u64;
        }
        Ok(())
    }

    fn bit_position(&self) -> u64 {
        self.bits
    }
}

/// Escapes an RBSP into a NAL payload (inserts emulation-prevention bytes, H.264 7.4.1),
/// including the final 0x03 after a trailing zero byte. Returns the payload length.
pub fn escape_rbsp(rbsp: &[u8], out: &mut [u8]) -> Result<usize, BitError> {
    let mut w = BitWriter::new(out);
    w.set_emulation_prevention(true);
    for &b in rbsp {
        w.emit(b)?;
        w.bits += 8;
    }
    w.finish()
}

/// Upper bound of [`escape_rbsp`]'s output for an RBSP of `len` bytes (one extra byte per two
/// input bytes, plus the trailing 0x03), for sizing buffers.
pub const fn escaped_len_bound(len: usize) -> usize {
    len.saturating_add(len / 2).saturating_add(1)
}

#[cfg(test)]
mod tests;
