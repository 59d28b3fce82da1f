// SPDX-License-Identifier: GPL-2.0
//! The VE's output bitstream unit ("STM"/"VLE"): put-bits and slice data go through the same
//! bit accumulator into the stream buffer, with optional emulation prevention.
//!
//! Facts (cedrus.md §1.3): the stream lives in `[STM_START, STM_END]` (END inclusive),
//! STM_BIT_MAX = size × 8, STM_BIT_LEN counts the bits written so far — header bits from
//! put-bits plus slice data — and the driver reads it to byte-align headers (§2.2) and to get
//! the coded length (§2.3). AVC_PARA0.EPTB_DIS turns 0x03 insertion off.
//!
//! Model choices where the note is silent:
//! - STM_BIT_LEN counts bits as stored in memory, emulation-prevention bytes included, since
//!   the driver takes `STM_BIT_LEN / 8` as the payload length (§2.3).
//! - A partial byte stays in the accumulator until complete (emulation prevention decides per
//!   complete byte, so the hardware cannot have stored it earlier); STM_BIT_LEN includes it.
//! - Whether EPTB applies is decided when a byte completes, from the PARA0 value of that
//!   moment; the zero-run history spans put-bits and slice data of one stream.
//! - Writing STM_BIT_LEN moves the write position; the history of zero bytes restarts.
//! - Output stops at the first byte that does not fit (STALL, §2.3 "most likely output buffer
//!   full"); nothing is written past STM_END or STM_BIT_MAX.

use super::bus::{Bus, BusError};
use crate::h264::bits::{BitError, BitSink};

/// The stream window, from STM_START/STM_END/STM_BIT_MAX (validated by the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// STM_START.
    pub start: u32,
    /// Usable bytes: min(STM_END − STM_START + 1, STM_BIT_MAX / 8).
    pub cap: u32,
}

/// Why the stream stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamStop {
    /// The window is full.
    Full,
    /// The bus refused a write (the buffer went away under the model).
    Bus(BusError),
}

const CHUNK: usize = 64;

/// Accumulator and write position of the stream unit.
pub(crate) struct Stream {
    /// Bytes emitted since STM_START (emulation-prevention bytes included; buffered ones too).
    emitted: u32,
    /// Pending bits, right-aligned.
    acc: u32,
    /// Number of pending bits (0..=7).
    nacc: u32,
    /// Zero bytes at the end of the output, for emulation prevention.
    zeros: u32,
    /// Bytes emitted but not yet on the bus; they belong at `emitted - nbuf`.
    buf: [u8; CHUNK],
    nbuf: usize,
    /// Set once the stream stopped; later bits are dropped.
    pub stop: Option<StreamStop>,
}

impl Stream {
    /// Power-on / reset state.
    pub const fn new() -> Self {
        Self {
            emitted: 0,
            acc: 0,
            nacc: 0,
            zeros: 0,
            buf: [0; CHUNK],
            nbuf: 0,
            stop: None,
        }
    }

    /// STM_BIT_LEN as the driver reads it.
    pub fn bit_len(&self) -> u32 {
        // Saturates: `emitted` never exceeds the 32-bit window, but the model must not panic.
        self.emitted.saturating_mul(8).saturating_add(self.nacc)
    }

    /// Driver write to STM_BIT_LEN: moves the write position to `bits`. A partial byte is
    /// reloaded from memory so that later bits complete it; if that read fails the pending
    /// bits are zero and the stream will stop at the first flush anyway.
    pub fn set_bit_len<B: Bus>(&mut self, bits: u32, start: u32, bus: &B) {
        *self = Self::new();
        self.emitted = bits >> 3;
        self.nacc = bits & 7;
        if self.nacc != 0 {
            let mut b = [0u8; 1];
            if let Some(addr) = start.checked_add(self.emitted) {
                if bus.read(addr, &mut b).is_ok() {
                    // nacc is 1..=7: keep the top nacc bits of the stored byte.
                    self.acc = (b[0] as u32).wrapping_shr(8u32.wrapping_sub(self.nacc));
                }
            }
        }
    }

    /// A writer for one command or one job.
    pub fn writer<'a, B: Bus>(
        &'a mut self,
        bus: &'a mut B,
        win: Window,
        ep: bool,
    ) -> StreamWriter<'a, B> {
        StreamWriter {
            st: self,
            bus,
            win,
            ep,
        }
    }
}

/// A [`BitSink`] over the stream unit, writing through the [`Bus`].
pub(crate) struct StreamWriter<'a, B: Bus> {
    st: &'a mut Stream,
    bus: &'a mut B,
    win: Window,
    ep: bool,
}

impl<B: Bus> StreamWriter<'_, B> {
    /// Writes buffered bytes to memory. Must be called before the writer is dropped.
    pub fn flush(&mut self) -> Result<(), StreamStop> {
        if self.st.nbuf == 0 {
            return self.st.stop.map_or(Ok(()), Err);
        }
        let n = self.st.nbuf;
        self.st.nbuf = 0;
        // `emitted >= n` and `emitted <= cap`, checked in `push`.
        let off = self.st.emitted.wrapping_sub(n as u32);
        let res = match self.win.start.checked_add(off) {
            Some(addr) => self.bus.write(addr, self.st.buf.get(..n).unwrap_or(&[])),
            None => Err(BusError::Unmapped {
                addr: self.win.start,
                len: off,
            }),
        };
        if let Err(e) = res {
            self.st.stop.get_or_insert(StreamStop::Bus(e));
        }
        self.st.stop.map_or(Ok(()), Err)
    }

    /// Pads the pending byte with zero bits (hardware BYTE_ALIGN command, and the end of a
    /// job when the encoder left a partial byte).
    pub fn align_zero_bits(&mut self) -> Result<(), BitError> {
        let pad = 8u32.wrapping_sub(self.st.nacc) & 7;
        self.put_bits(pad, 0)
    }

    fn push(&mut self, b: u8) -> Result<(), BitError> {
        if self.st.stop.is_some() {
            return Err(BitError::Overflow);
        }
        if self.st.emitted >= self.win.cap {
            self.st.stop = Some(StreamStop::Full);
            return Err(BitError::Overflow);
        }
        if self.st.nbuf >= CHUNK {
            self.flush().map_err(|_| BitError::Overflow)?;
        }
        if let Some(slot) = self.st.buf.get_mut(self.st.nbuf) {
            *slot = b;
        }
        // Bounded by CHUNK and by `cap` (checked above).
        self.st.nbuf = self.st.nbuf.wrapping_add(1);
        self.st.emitted = self.st.emitted.wrapping_add(1);
        Ok(())
    }

    fn emit(&mut self, b: u8) -> Result<(), BitError> {
        if self.ep && self.st.zeros >= 2 && b <= 3 {
            self.push(0x03)?;
            self.st.zeros = 0;
        }
        self.push(b)?;
        self.st.zeros = if b == 0 {
            self.st.zeros.saturating_add(1)
        } else {
            0
        };
        Ok(())
    }
}

impl<B: Bus> BitSink for StreamWriter<'_, B> {
    fn put_bits(&mut self, n: u32, value: u32) -> Result<(), BitError> {
        if n > 32 {
            return Err(BitError::InvalidCount);
        }
        if self.st.stop.is_some() {
            return Err(BitError::Overflow);
        }
        let mut left = n;
        while left > 0 {
            // nacc is 0..=7, so take is 1..=8 and left − take is 0..=31: the wrapping ops
            // never wrap; they only keep the kernel's overflow checks out of this hot loop.
            let take = core::cmp::min(left, 8u32.wrapping_sub(self.st.nacc) & 0xF).max(1);
            let chunk = value.wrapping_shr(left.wrapping_sub(take))
                & (1u32.wrapping_shl(take).wrapping_sub(1));
            self.st.acc = self.st.acc.wrapping_shl(take) | chunk;
            self.st.nacc = self.st.nacc.wrapping_add(take);
            left = left.saturating_sub(take);
            if self.st.nacc >= 8 {
                let byte = (self.st.acc & 0xff) as u8;
                self.st.acc = 0;
                self.st.nacc = 0;
                self.emit(byte)?;
            }
        }
        Ok(())
    }

    /// Bits in the stream, as STM_BIT_LEN counts them (emulation-prevention bytes included;
    /// they are whole bytes, so byte alignment is the same as for payload bits).
    fn bit_position(&self) -> u64 {
        self.st.bit_len() as u64
    }
}
