// SPDX-License-Identifier: GPL-2.0
//! Register-level model of the Allwinner V3s Video Engine's AVC (H.264) encoder.
//!
//! [`Ve`] is the 4 KiB register window of cedrus.md §1 with the hardware's side effects:
//! mode/reset/version, the ISP input block, the AVC parameters, put-bits into the output
//! stream (with emulation prevention), the stream window and length, the picture buffers,
//! trigger, write-1-to-clear status and the interrupt line. A trigger latches and checks the
//! whole configuration; [`Ve::run`] then performs the encode (reading the NV12 source and the
//! reference through the [`Bus`], running a [`SliceEngine`], writing the stream and the
//! reconstruction back) and raises FINISH or STALL. The split lets the kernel run the encode
//! from a work item and deliver [`Ve::irq_pending`] asynchronously, as an interrupt would be.
//!
//! The driver is not trusted: every value is checked. Where cedrus.md says the hardware's
//! behaviour is unknown, the model takes the strictest reading, says so where it decides, and
//! refuses the job with STALL plus a precise [`Fault`] (readable with [`Ve::fault`] and in the
//! [`Trace`]) instead of guessing. It never writes outside the buffers it was given.
//!
//! Model-only conventions (the real formats are internal to the VE and opaque, cedrus.md §3):
//! - REC/REF buffers hold NV12 with a luma stride of ALIGN(w,2)·16 ([`regs::rec_stride`]),
//!   luma at REC_Y and interleaved chroma at REC_C with the same stride; the sizes checked are
//!   the ones Bootlin allocates ([`regs::rec_luma_bytes`], [`regs::rec_chroma_bytes`]).
//! - SUBPIX_NEW receives a small tag naming the reconstruction it belongs to; a P job whose
//!   SUBPIX_LAST does not carry the tag of its REF0 is refused (a mismatched pair would give
//!   wrong predictions on hardware).
//! - Address 0 means "not programmed" for every buffer register (their reset value).
//!
//! Kernel glue (`slenc.sim=cedrus-v3s`), in outline:
//! 1. Implement [`Bus`] over the DMA-coherent allocations the backend makes (look the bus
//!    address up in the list of live allocations; refuse anything else).
//! 2. Keep `Ve<YourBus>` behind the lock that serialises MMIO; route the backend's
//!    `readl`/`writel` to [`Ve::read32`]/[`Ve::write32`].
//! 3. After a write, if [`Ve::is_busy`], queue a work item that calls [`Ve::run`] with the
//!    engine and a [`scratch_bytes`]-sized buffer (vmalloc'd once, [`MAX_SCRATCH_BYTES`]), then,
//!    if [`Ve::irq_pending`], calls the backend's IRQ handler as the interrupt would.
//! 4. The watchdog's reset maps to [`Ve::reset_line`]; debugfs prints [`Trace::dump`].

pub mod bus;
pub mod engine;
mod stream;
pub mod trace;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_e2e;

pub use bus::{Bus, BusError};
pub use engine::{
    EngineError, Frame, FrameMut, JobDeblock, JobEntropy, JobSliceType, PcmEngine, SliceEngine,
    SliceJob, StubEngine, SwEngine,
};
pub use trace::{JobEnd, JobSummary, RegWrite, Trace};

use crate::h264::bits::{BitError, BitSink};
use crate::hw::cedrus::regs::{self, *};
use stream::{Stream, StreamStop, Window};

/// Why the model refused a command or a job. Not a hardware register: the hardware would
/// misbehave in unknown ways; the model stops and says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// VE_MODE is not in encode mode (needs ENC_ENABLE, ENC_ISP_ENABLE, DEC_MODE = 7, §1.1).
    NotEncoding,
    /// A command or register write while VE_RESET.ENCODER_RESET is held.
    InReset,
    /// A command while a job is running.
    Busy,
    /// A register other than VE_RESET/AVC_STATUS/AVC_INT_EN written while a job is running.
    WriteWhileBusy {
        /// Offset written.
        offset: u32,
    },
    /// A write to an offset that is not an encoder register of cedrus.md §1.
    UnknownRegister {
        /// Offset written.
        offset: u32,
    },
    /// AVC_STARTTRIG command or mode the model does not implement.
    BadCommand {
        /// The raw STARTTRIG value.
        value: u32,
    },
    /// Put-bits with NUM_BITS outside 1..=32.
    PutBitsCount {
        /// NUM_BITS.
        n: u32,
    },
    /// Put-bits data with bits above NUM_BITS set, or se(v) of i32::MIN.
    PutBitsValue,
    /// Put-bits issued while AVC_STATUS.PUT_BITS_READY was clear.
    PutBitsNotReady,
    /// STM_START/END/BIT_MAX/BIT_OFFSET/BIT_LEN inconsistent.
    StreamWindow,
    /// The output stream is full (STALL, §2.3).
    StreamFull,
    /// Picture size zero or above 1920×1088.
    PictureSize {
        /// Width in MBs.
        width_mbs: u32,
        /// Height in MBs.
        height_mbs: u32,
    },
    /// Input stride smaller than the width.
    Stride {
        /// Stride in MBs.
        stride_mbs: u32,
    },
    /// A field holds a value the hardware does not accept or the model does not implement.
    BadField {
        /// Register name.
        reg: &'static str,
        /// Field name.
        field: &'static str,
        /// Value found.
        value: u32,
    },
    /// A buffer register is 0.
    MissingBuffer {
        /// Register name.
        reg: &'static str,
    },
    /// A buffer address is not 16-byte aligned.
    Misaligned {
        /// Register name.
        reg: &'static str,
        /// Address.
        addr: u32,
    },
    /// A buffer is not mapped or too small for what the hardware reads or writes there.
    Bus {
        /// Register name.
        reg: &'static str,
        /// The failed range.
        err: BusError,
    },
    /// Two buffers overlap where one is written.
    Overlap {
        /// First register.
        a: &'static str,
        /// Second register.
        b: &'static str,
    },
    /// SUBPIX_LAST does not belong to REF0.
    SubpixMismatch,
    /// The caller's scratch memory is smaller than [`scratch_bytes`].
    Scratch,
    /// The slice engine failed.
    Engine(EngineError),
}

/// Knobs for the driver's error-path tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultInjection {
    /// A triggered job never completes (until an encoder or block reset): exercises the
    /// driver's watchdog (Bootlin: 2 s, cedrus.md §2.1 step 5).
    pub hang: bool,
    /// After each put-bits command, PUT_BITS_READY reads 0 this many times: a driver that
    /// does not poll (cedrus.md §2.2) trips [`Fault::PutBitsNotReady`].
    pub put_bits_busy_reads: u8,
}

/// Model configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VeConfig {
    /// Raw VE_VERSION. The V3s value is unknown (cedrus.md §8); the default puts the V3s SoC
    /// ID 0x1681 in `[31:16]`, which is ≥ 0x1633 like the newer VE the V3s is inferred to be.
    pub version: u32,
}

impl Default for VeConfig {
    fn default() -> Self {
        Self {
            version: 0x1681_0000,
        }
    }
}

/// Scratch bytes [`Ve::run`] needs for a `width_mbs × height_mbs` picture: three NV12 frames
/// (source, reference, reconstruction), 384 bytes per MB each. `None` on overflow.
pub const fn scratch_bytes(width_mbs: u32, height_mbs: u32) -> Option<usize> {
    match width_mbs.checked_mul(height_mbs) {
        Some(mbs) => match mbs.checked_mul(384 * 3) {
            Some(b) => Some(b as usize),
            None => None,
        },
        None => None,
    }
}

/// Scratch bytes for the largest picture the model accepts (1920×1088): about 9.4 MB.
pub const MAX_SCRATCH_BYTES: usize = (MAX_WIDTH_MBS * MAX_HEIGHT_MBS * 384 * 3) as usize;

/// One slot per register of cedrus.md §1 (not the whole 4 KiB window): keeps `Ve` small
/// enough (about 3 KiB with the trace) to build without a large stack temporary.
const NREGS: usize = regs::REGISTERS.len();

/// Slot of the register at `offset`, if it is one.
fn slot(offset: u32) -> Option<usize> {
    regs::REGISTERS
        .binary_search_by_key(&offset, |(o, _)| *o)
        .ok()
}
/// Magic of the model's SUBPIX tag.
const SUBPIX_MAGIC: [u8; 8] = *b"slVEsubp";
/// Buffer address alignment the model demands. cedrus.md §3 sees nothing beyond 4 KiB pages
/// for allocations and 16-byte units for strides; 16 bytes is the strict reading that
/// Bootlin's layout (chroma = luma + bytesperline × height) still satisfies.
const ADDR_ALIGN: u32 = 16;

/// A job latched at trigger.
#[derive(Debug, Clone, Copy)]
struct Latched {
    seq: u32,
    job: SliceJob,
    src_y: u32,
    src_c: u32,
    src_stride: u32,
    rec_y: u32,
    rec_c: u32,
    ref_y: u32,
    ref_c: u32,
    subpix_new: u32,
    win: Window,
    ep: bool,
}

/// The V3s VE encoder model over memory `B`.
pub struct Ve<B: Bus> {
    bus: B,
    regs: [u32; NREGS],
    cfg: VeConfig,
    stream: Stream,
    /// Sticky done bits of AVC_STATUS (FINISH, STALL, OVERTIME_MB, OVERTIME).
    status: u32,
    busy: Option<Latched>,
    /// A misuse seen since the last trigger/reset: the next (or running) job fails with it.
    poison: Option<Fault>,
    /// Last fault, for diagnostics.
    fault: Option<Fault>,
    faults: u32,
    ready_wait: u8,
    trace: Trace,
    /// Fault injection for the driver's tests.
    pub inject: FaultInjection,
}

impl<B: Bus> Ve<B> {
    /// A model in its power-on state over `bus`.
    pub fn new(bus: B, cfg: VeConfig) -> Self {
        Self {
            bus,
            regs: [0; NREGS],
            cfg,
            stream: Stream::new(),
            status: 0,
            busy: None,
            poison: None,
            fault: None,
            faults: 0,
            ready_wait: 0,
            trace: Trace::new(),
            inject: FaultInjection::default(),
        }
    }

    /// The memory.
    pub fn bus(&self) -> &B {
        &self.bus
    }

    /// The memory, mutably (to map buffers or fill frames).
    pub fn bus_mut(&mut self) -> &mut B {
        &mut self.bus
    }

    /// What the model saw.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The last fault (sticky until [`Ve::take_fault`] or a block reset).
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }

    /// Returns and clears the last fault.
    pub fn take_fault(&mut self) -> Option<Fault> {
        self.fault.take()
    }

    /// Faults seen since creation (wraps).
    pub fn fault_count(&self) -> u32 {
        self.faults
    }

    /// True while a triggered job has not completed: the kernel glue then calls [`Ve::run`]
    /// (from a work item), unless fault injection makes the job hang.
    pub fn is_busy(&self) -> bool {
        self.busy.is_some()
    }

    /// The interrupt line (level): a done bit of AVC_STATUS that AVC_INT_EN enables. INT_EN
    /// bits 0..2 match STATUS bits 0..2 (cedrus.md §1.3); bit 3 (old code wrote 0xF) is taken
    /// to enable OVERTIME. The model itself never raises the OVERTIME bits.
    pub fn irq_pending(&self) -> bool {
        self.status & self.reg(AvcIntEn::OFFSET) & AvcStatus::DONE_MASK != 0
    }

    /// The block reset line (`reset_control_reset`, used by Bootlin's watchdog, §2.1 step 5):
    /// aborts any job and returns every register to its power-on value. The trace is kept.
    pub fn reset_line(&mut self) {
        self.abort_job();
        self.regs = [0; NREGS];
        self.encoder_reset_state();
        self.fault = None;
    }

    fn reg(&self, offset: u32) -> u32 {
        slot(offset)
            .and_then(|i| self.regs.get(i))
            .copied()
            .unwrap_or(0)
    }

    fn get<R: Register>(&self) -> R {
        R::from_raw(self.reg(R::OFFSET))
    }

    fn set_fault(&mut self, f: Fault) {
        self.fault = Some(f);
        self.faults = self.faults.wrapping_add(1);
    }

    /// Records a misuse and makes the running or next job fail with it.
    fn misuse(&mut self, f: Fault) {
        self.set_fault(f);
        self.poison.get_or_insert(f);
    }

    fn encoding_enabled(&self) -> bool {
        let m = self.get::<VeMode>();
        m.is_set(VeMode::ENC_ENABLE)
            && m.is_set(VeMode::ENC_ISP_ENABLE)
            && m.get(VeMode::DEC_MODE) == VeMode::DEC_DISABLED
    }

    fn in_reset(&self) -> bool {
        self.get::<VeReset>().is_set(VeReset::ENCODER_RESET)
    }

    fn put_bits_ready(&self) -> bool {
        self.busy.is_none() && !self.in_reset() && self.encoding_enabled() && self.ready_wait == 0
    }

    /// A 32-bit MMIO read at `offset` from the VE base. Unaligned or unknown offsets read 0.
    /// Takes `&mut self` because reading AVC_STATUS advances the put-bits-ready delay.
    pub fn read32(&mut self, offset: u32) -> u32 {
        if offset & 3 != 0 || offset >= VE_WINDOW {
            return 0;
        }
        match offset {
            VeReset::OFFSET => {
                let mut v = self.reg(offset);
                // SYNC_IDLE/CACHE_SYNC_IDLE (§1.1): idle whenever no job runs.
                if self.busy.is_none() {
                    v |= VeReset::SYNC_IDLE.mask() | VeReset::CACHE_SYNC_IDLE.mask();
                }
                v
            }
            VeVersion::OFFSET => self.cfg.version,
            AvcStatus::OFFSET => {
                let ready = self.put_bits_ready();
                if self.ready_wait > 0 {
                    self.ready_wait -= 1;
                }
                AvcStatus::from_raw(self.status)
                    .with_bit(AvcStatus::PUT_BITS_READY, ready)
                    .raw()
            }
            AvcStmBitLen::OFFSET => self.stream.bit_len(),
            _ if regs::name_of(offset).is_some() => self.reg(offset),
            _ => 0,
        }
    }

    /// A 32-bit MMIO write of `value` at `offset` from the VE base, with the hardware's side
    /// effects (put-bits, trigger, write-1-to-clear, reset).
    pub fn write32(&mut self, offset: u32, value: u32) {
        self.trace.record_write(offset, value);
        if offset & 3 != 0 || offset >= VE_WINDOW || regs::name_of(offset).is_none() {
            // Decoder registers and holes: the encoder driver has no business there.
            self.set_fault(Fault::UnknownRegister { offset });
            return;
        }
        let always_ok = matches!(
            offset,
            VeReset::OFFSET | AvcStatus::OFFSET | AvcIntEn::OFFSET
        );
        if self.busy.is_some() && !always_ok {
            // The job in flight uses its latched configuration, but the driver is broken.
            self.misuse(Fault::WriteWhileBusy { offset });
        }
        if offset >= IspPicInfo::OFFSET && self.in_reset() {
            // Strict reading: an encoder held in reset ignores its registers.
            self.misuse(Fault::InReset);
            return;
        }
        match offset {
            VeVersion::OFFSET => {}
            VeReset::OFFSET => {
                let v = value & !(VeReset::SYNC_IDLE.mask() | VeReset::CACHE_SYNC_IDLE.mask());
                self.store(offset, v);
                if VeReset::from_raw(v).is_set(VeReset::ENCODER_RESET) {
                    self.encoder_reset();
                }
            }
            AvcStatus::OFFSET => self.status &= !(value & AvcStatus::DONE_MASK),
            AvcStartTrig::OFFSET => {
                self.store(offset, value);
                self.command(AvcStartTrig::from_raw(value));
            }
            AvcStmBitLen::OFFSET => {
                let start = self.reg(AvcStmStart::OFFSET);
                self.stream.set_bit_len(value, start, &self.bus);
            }
            _ => self.store(offset, value),
        }
    }

    fn store(&mut self, offset: u32, value: u32) {
        if let Some(r) = slot(offset).and_then(|i| self.regs.get_mut(i)) {
            *r = value;
        }
    }

    fn abort_job(&mut self) {
        if let Some(l) = self.busy.take() {
            if let Some(j) = self.trace.job_mut(l.seq) {
                j.end = JobEnd::Aborted;
            }
        }
    }

    fn encoder_reset_state(&mut self) {
        self.stream = Stream::new();
        self.status = 0;
        self.poison = None;
        self.ready_wait = 0;
    }

    /// VE_RESET.ENCODER_RESET: aborts the job and clears the ISP and AVC registers. Which
    /// registers the real reset clears is unknown (§8); clearing all of them is the strict
    /// reading (Bootlin reprograms everything after the reset every job, §2.1).
    fn encoder_reset(&mut self) {
        self.abort_job();
        // REGISTERS is sorted by offset: everything from ISP_PIC_INFO on is ISP or AVC.
        let first = slot(IspPicInfo::OFFSET).unwrap_or(NREGS);
        if let Some(r) = self.regs.get_mut(first..) {
            r.fill(0);
        }
        self.encoder_reset_state();
    }

    /// The stream window from STM_START/END/BIT_MAX/BIT_OFFSET, checked against the bus.
    fn window(&self) -> Result<Window, Fault> {
        let off = self.reg(AvcStmBitOffset::OFFSET);
        if off != 0 {
            // Semantics unknown (Bootlin writes 0, §2.1): strict reading, refuse.
            return Err(Fault::BadField {
                reg: AvcStmBitOffset::NAME,
                field: "BITS",
                value: off,
            });
        }
        let start = self.reg(AvcStmStart::OFFSET);
        let end = self.reg(AvcStmEnd::OFFSET);
        let max = self.reg(AvcStmBitMax::OFFSET);
        if start == 0 {
            return Err(Fault::MissingBuffer {
                reg: AvcStmStart::NAME,
            });
        }
        // END is inclusive (§1.3): size = END − START + 1, which cannot wrap since START ≠ 0.
        let size = end
            .checked_sub(start)
            .and_then(|d| d.checked_add(1))
            .ok_or(Fault::StreamWindow)?;
        if max == 0 || max & 7 != 0 || max >> 3 > size {
            return Err(Fault::StreamWindow);
        }
        self.bus.check(start, size).map_err(|err| Fault::Bus {
            reg: AvcStmStart::NAME,
            err,
        })?;
        Ok(Window {
            start,
            cap: max >> 3,
        })
    }

    fn command(&mut self, t: AvcStartTrig) {
        let cmd = t.get(AvcStartTrig::CMD);
        if cmd == 0 {
            // Bootlin clears STARTTRIG before programming a job (§2.1 step 4.1).
            return;
        }
        if self.busy.is_some() {
            return self.misuse(Fault::Busy);
        }
        if t.get(AvcStartTrig::ENC_MODE) != AvcStartTrig::MODE_H264 {
            return self.misuse(Fault::BadCommand { value: t.raw() });
        }
        match cmd {
            AvcStartTrig::CMD_PUT_BITS
            | AvcStartTrig::CMD_BYTE_ALIGN
            | AvcStartTrig::CMD_PUT_VLC_SE
            | AvcStartTrig::CMD_PUT_VLC_UE => self.put_bits_cmd(t),
            AvcStartTrig::CMD_ENC_START => self.trigger(),
            // ENC_CONTINUE is for slice mode, which no open implementation uses (§6).
            _ => self.misuse(Fault::BadCommand { value: t.raw() }),
        }
    }

    fn put_bits_cmd(&mut self, t: AvcStartTrig) {
        if !self.encoding_enabled() {
            return self.misuse(Fault::NotEncoding);
        }
        if !self.put_bits_ready() {
            return self.misuse(Fault::PutBitsNotReady);
        }
        let win = match self.window() {
            Ok(w) => w,
            Err(f) => return self.misuse(f),
        };
        let cmd = t.get(AvcStartTrig::CMD);
        let n = t.get(AvcStartTrig::NUM_BITS);
        let value = self.reg(AvcPutBitsData::OFFSET);
        if cmd == AvcStartTrig::CMD_PUT_BITS {
            if n == 0 || n > 32 {
                return self.misuse(Fault::PutBitsCount { n });
            }
            // The data is right-aligned (§1.3); stray high bits mean a driver bug.
            if n < 32 && value >> n != 0 {
                return self.misuse(Fault::PutBitsValue);
            }
        }
        let ep = !self.get::<AvcPara0>().is_set(AvcPara0::EPTB_DIS);
        let mut w = self.stream.writer(&mut self.bus, win, ep);
        let res = match cmd {
            AvcStartTrig::CMD_PUT_BITS => w.put_bits(n, value),
            // BYTE_ALIGN pads with zero bits (the command's fill value is undocumented).
            AvcStartTrig::CMD_BYTE_ALIGN => w.align_zero_bits(),
            AvcStartTrig::CMD_PUT_VLC_UE => w.put_ue(value),
            _ => w.put_se(value as i32),
        };
        let flushed = w.flush();
        self.ready_wait = self.inject.put_bits_busy_reads;
        match (res, flushed) {
            (Err(BitError::ValueOutOfRange), _) => self.misuse(Fault::PutBitsValue),
            (_, Err(StreamStop::Bus(err))) => self.misuse(Fault::Bus {
                reg: AvcStmStart::NAME,
                err,
            }),
            // The stream stops; the job that follows ends in STALL (§2.3).
            (Err(_), _) | (_, Err(StreamStop::Full)) => self.set_fault(Fault::StreamFull),
            (Ok(()), Ok(())) => {}
        }
    }

    fn trigger(&mut self) {
        let p0 = self.get::<AvcPara0>();
        let p1 = self.get::<AvcPara1>();
        let pic = self.get::<IspPicInfo>();
        let summary = JobSummary {
            width_mbs: pic.get(IspPicInfo::WIDTH_MBS) as u16,
            height_mbs: pic.get(IspPicInfo::HEIGHT_MBS) as u16,
            slice_type: p0.get(AvcPara0::SLICE_TYPE) as u8,
            cabac: p0.is_set(AvcPara0::ENTROPY_CABAC),
            qp: p1.get(AvcPara1::QP) as u8,
            header_bits: self.stream.bit_len(),
            ..JobSummary::default()
        };
        let seq = self.trace.begin_job(summary);
        let checked = match self.poison.take() {
            Some(f) => Err(f),
            None => match self.stream.stop {
                Some(StreamStop::Full) => Err(Fault::StreamFull),
                Some(StreamStop::Bus(err)) => Err(Fault::Bus {
                    reg: AvcStmStart::NAME,
                    err,
                }),
                None => self.validate(seq),
            },
        };
        match checked {
            Ok(l) => self.busy = Some(l),
            Err(f) => self.complete(seq, Err(f)),
        }
    }

    /// Ends job `seq`: FINISH, or STALL with the reason.
    fn complete(&mut self, seq: u32, res: Result<(), Fault>) {
        self.busy = None;
        let (bit, end, fault) = match res {
            Ok(()) => (AvcStatus::FINISH.mask(), JobEnd::Finished, None),
            Err(f) => {
                self.set_fault(f);
                (AvcStatus::STALL.mask(), JobEnd::Stalled, Some(f))
            }
        };
        self.status |= bit;
        let bits = self.stream.bit_len();
        let status = self.status;
        if let Some(j) = self.trace.job_mut(seq) {
            j.end = end;
            j.fault = fault;
            j.total_bits = bits;
            j.status = status;
        }
    }

    fn check_buf(&self, reg: &'static str, addr: u32, len: u32) -> Result<(u32, u32), Fault> {
        if addr == 0 {
            return Err(Fault::MissingBuffer { reg });
        }
        if addr & (ADDR_ALIGN - 1) != 0 {
            return Err(Fault::Misaligned { reg, addr });
        }
        self.bus
            .check(addr, len)
            .map_err(|err| Fault::Bus { reg, err })?;
        Ok((addr, len))
    }

    /// Checks and latches the whole configuration (cedrus.md §2.1, §7).
    fn validate(&self, seq: u32) -> Result<Latched, Fault> {
        if !self.encoding_enabled() {
            return Err(Fault::NotEncoding);
        }
        let win = self.window()?;
        if self.stream.bit_len() > win.cap.saturating_mul(8) {
            return Err(Fault::StreamWindow);
        }

        // Picture (§1.2).
        let pic = self.get::<IspPicInfo>();
        let (w, h) = (
            pic.get(IspPicInfo::WIDTH_MBS),
            pic.get(IspPicInfo::HEIGHT_MBS),
        );
        if w == 0 || h == 0 || w > MAX_WIDTH_MBS || h > MAX_HEIGHT_MBS {
            return Err(Fault::PictureSize {
                width_mbs: w,
                height_mbs: h,
            });
        }
        let sc = self.get::<IspScalerSize>();
        // Bootlin writes the picture size here with the scaler off (§1.2); strict: must match.
        if sc.get(IspScalerSize::WIDTH_MBS) != w || sc.get(IspScalerSize::HEIGHT_MBS) != h {
            return Err(Fault::BadField {
                reg: IspScalerSize::NAME,
                field: "SIZE",
                value: sc.raw(),
            });
        }
        let stride_mbs = self
            .get::<IspPicStride0>()
            .get(IspPicStride0::INPUT_STRIDE_MBS);
        if stride_mbs < w {
            return Err(Fault::Stride { stride_mbs });
        }
        let ctrl = self.get::<IspCtrl>();
        // Only NV12, linear, no transforms are known to work (§1.2); the scaler/thumbnail
        // outputs and ISP interrupts are not modelled.
        for (f, name) in [
            (IspCtrl::FORMAT, "FORMAT"),
            (IspCtrl::HFLIP, "HFLIP"),
            (IspCtrl::ROTATION, "ROTATION"),
            (IspCtrl::THUMB_EN, "THUMB_EN"),
            (IspCtrl::SCALER_EN, "SCALER_EN"),
            (IspCtrl::ISP_IRQ_EN, "ISP_IRQ_EN"),
        ] {
            if ctrl.get(f) != 0 {
                return Err(Fault::BadField {
                    reg: IspCtrl::NAME,
                    field: name,
                    value: ctrl.get(f),
                });
            }
        }
        if ctrl.get(IspCtrl::COLORSPACE) > IspCtrl::CS_YCC {
            return Err(Fault::BadField {
                reg: IspCtrl::NAME,
                field: "COLORSPACE",
                value: 3,
            });
        }

        // PARA0 (§1.3).
        let p0 = self.get::<AvcPara0>();
        let bad0 = |field: &'static str, value: u32| Fault::BadField {
            reg: AvcPara0::NAME,
            field,
            value,
        };
        for (f, name) in [
            (AvcPara0::STUFF_ZERO_AFTER_FF_EN, "STUFF_ZERO_AFTER_FF_EN"),
            (AvcPara0::SLICE_MODE_EN, "SLICE_MODE_EN"),
            (AvcPara0::REF_PIC_REORDER_FLAG, "REF_PIC_REORDER_FLAG"),
            (AvcPara0::CTX_INIT_METHOD, "CTX_INIT_METHOD"),
            (AvcPara0::REF_PIC_TYPE, "REF_PIC_TYPE"),
            (AvcPara0::PIC_TYPE, "PIC_TYPE"),
        ] {
            // Frame pictures, single slice, default contexts only (§6).
            if p0.get(f) != 0 {
                return Err(bad0(name, p0.get(f)));
            }
        }
        let slice_type = match p0.get(AvcPara0::SLICE_TYPE) {
            AvcPara0::SLICE_TYPE_I => JobSliceType::I,
            AvcPara0::SLICE_TYPE_P => JobSliceType::P,
            v => return Err(bad0("SLICE_TYPE", v)),
        };
        let idc = p0.get(AvcPara0::DEBLOCK_IDC);
        if idc > 2 {
            return Err(bad0("DEBLOCK_IDC", idc));
        }
        let alpha = sext4(p0.get(AvcPara0::ALPHA_OFFSET_DIV2));
        let beta = sext4(p0.get(AvcPara0::BETA_OFFSET_DIV2));
        // H.264 7.4.3 limits both to −6..6; the 4-bit field could hold −8..7.
        if !(-6..=6).contains(&alpha) {
            return Err(bad0(
                "ALPHA_OFFSET_DIV2",
                p0.get(AvcPara0::ALPHA_OFFSET_DIV2),
            ));
        }
        if !(-6..=6).contains(&beta) {
            return Err(bad0("BETA_OFFSET_DIV2", p0.get(AvcPara0::BETA_OFFSET_DIV2)));
        }
        let init_idc = p0.get(AvcPara0::CABAC_INIT_IDC);
        if init_idc > 2 {
            return Err(bad0("CABAC_INIT_IDC", init_idc));
        }
        let entropy = if p0.is_set(AvcPara0::ENTROPY_CABAC) {
            JobEntropy::Cabac {
                init_idc: init_idc as u8,
            }
        } else {
            JobEntropy::Cavlc
        };

        // PARA1 (§1.3): fixed QP only (§6).
        let p1 = self.get::<AvcPara1>();
        let bad1 = |field: &'static str, value: u32| Fault::BadField {
            reg: AvcPara1::NAME,
            field,
            value,
        };
        for (f, name) in [
            (AvcPara1::RC_MODE, "RC_MODE"),
            (AvcPara1::MODE_OPTIMIZE_EN, "MODE_OPTIMIZE_EN"),
            (AvcPara1::CLIP_MV_EN, "CLIP_MV_EN"),
            (AvcPara1::TILE32_OUTPUT_EN, "TILE32_OUTPUT_EN"),
            (AvcPara1::DYNAMIC_ME_EN, "DYNAMIC_ME_EN"),
        ] {
            if p1.get(f) != 0 {
                return Err(bad1(name, p1.get(f)));
            }
        }
        let qp = p1.get(AvcPara1::QP);
        // Bootlin allows 0..51; whether 48..51 work on hardware is unknown (§6).
        if qp > 51 {
            return Err(bad1("QP", qp));
        }
        let div48 = p1.get(AvcPara1::STRIDE_MBS_DIV_48);
        if div48 != stride_mbs_div_48(stride_mbs) {
            return Err(bad1("STRIDE_MBS_DIV_48", div48));
        }
        let chroma_off = p1.get(AvcPara1::CHROMA_QP_OFFSET) as i8;

        // Undocumented blocks the model does not implement: must be off (Bootlin writes 0).
        let para2 = self.reg(AvcPara2::OFFSET);
        if para2 != 0 {
            return Err(Fault::BadField {
                reg: AvcPara2::NAME,
                field: "VALUE",
                value: para2,
            });
        }
        if self
            .get::<AvcCyclicIntraRefresh>()
            .is_set(AvcCyclicIntraRefresh::EN)
        {
            return Err(Fault::BadField {
                reg: AvcCyclicIntraRefresh::NAME,
                field: "EN",
                value: 1,
            });
        }
        if self
            .get::<AvcTemporalFilterPar>()
            .is_set(AvcTemporalFilterPar::EN)
        {
            return Err(Fault::BadField {
                reg: AvcTemporalFilterPar::NAME,
                field: "EN",
                value: 1,
            });
        }
        let me = self.get::<AvcMePara>();
        // Buffers of unknown size (§3): DRAM deblocking/T-pixel and ROI are refused.
        for (f, name) in [
            (AvcMePara::DEBLK_TO_DRAM, "DEBLK_TO_DRAM"),
            (AvcMePara::TPIX_TO_DRAM, "TPIX_TO_DRAM"),
            (AvcMePara::ROI_EN, "ROI_EN"),
        ] {
            if me.is_set(f) {
                return Err(Fault::BadField {
                    reg: AvcMePara::NAME,
                    field: name,
                    value: 1,
                });
            }
        }

        // Buffers (§3). All sizes fit u32 for w ≤ 120, h ≤ 68.
        let too_big = Fault::PictureSize {
            width_mbs: w,
            height_mbs: h,
        };
        let src_stride = stride_mbs.checked_mul(16).ok_or(too_big)?;
        let src_luma = src_stride
            .checked_mul(h)
            .and_then(|x| x.checked_mul(16))
            .ok_or(too_big)?;
        let src_y = self.check_buf(IspInputLuma::NAME, self.reg(IspInputLuma::OFFSET), src_luma)?;
        let src_c = self.check_buf(
            IspInputChroma0::NAME,
            self.reg(IspInputChroma0::OFFSET),
            src_luma >> 1,
        )?;
        let luma = rec_luma_bytes(w, h).ok_or(too_big)?;
        let chroma = rec_chroma_bytes(w, h).ok_or(too_big)?;
        let rec_y = self.check_buf(AvcRecY::NAME, self.reg(AvcRecY::OFFSET), luma)?;
        let rec_c = self.check_buf(AvcRecC::NAME, self.reg(AvcRecC::OFFSET), chroma)?;
        // Bootlin programs REF0 for I frames too (§2.1 step 4.6); strict: it must be valid.
        let ref_y = self.check_buf(AvcRef0Y::NAME, self.reg(AvcRef0Y::OFFSET), luma)?;
        let ref_c = self.check_buf(AvcRef0C::NAME, self.reg(AvcRef0C::OFFSET), chroma)?;
        let sp = subpix_bytes(w, h).ok_or(too_big)?;
        let sp_new = self.check_buf(AvcSubpixNew::NAME, self.reg(AvcSubpixNew::OFFSET), sp)?;
        let sp_last = self.check_buf(AvcSubpixLast::NAME, self.reg(AvcSubpixLast::OFFSET), sp)?;
        let mbi = self.check_buf(
            AvcMbInfo::NAME,
            self.reg(AvcMbInfo::OFFSET),
            mb_info_bytes(w).ok_or(too_big)?,
        )?;
        let stm = (win.start, win.cap);
        let mv = if me.is_set(AvcMePara::WB_MV_INFO_DIS) {
            None
        } else {
            // Write-back on: the buffer must exist (size from jemk, unverified on V3s, §3).
            Some(self.check_buf(
                AvcMvBufAddr::NAME,
                self.reg(AvcMvBufAddr::OFFSET),
                mv_bytes(w, h).ok_or(too_big)?,
            )?)
        };

        // Nothing written may overlap anything else the job touches.
        let p = slice_type == JobSliceType::P;
        let written: [(&'static str, Option<(u32, u32)>); 6] = [
            (AvcStmStart::NAME, Some(stm)),
            (AvcRecY::NAME, Some(rec_y)),
            (AvcRecC::NAME, Some(rec_c)),
            (AvcSubpixNew::NAME, Some(sp_new)),
            (AvcMbInfo::NAME, Some(mbi)),
            (AvcMvBufAddr::NAME, mv),
        ];
        let read: [(&'static str, Option<(u32, u32)>); 5] = [
            (IspInputLuma::NAME, Some(src_y)),
            (IspInputChroma0::NAME, Some(src_c)),
            // An I job does not read its reference (Bootlin points REF0 at REC then, §2.1).
            (AvcRef0Y::NAME, p.then_some(ref_y)),
            (AvcRef0C::NAME, p.then_some(ref_c)),
            (AvcSubpixLast::NAME, p.then_some(sp_last)),
        ];
        for (i, (an, a)) in written.iter().enumerate() {
            let Some(a) = a else { continue };
            for (bn, b) in written.iter().skip(i + 1).chain(read.iter()) {
                if let Some(b) = b {
                    if overlaps(*a, *b) {
                        return Err(Fault::Overlap { a: an, b: bn });
                    }
                }
            }
        }

        if p {
            let mut tag = [0u8; 16];
            self.bus
                .read(sp_last.0, &mut tag)
                .map_err(|err| Fault::Bus {
                    reg: AvcSubpixLast::NAME,
                    err,
                })?;
            if tag != subpix_tag(ref_y.0, ref_c.0) {
                return Err(Fault::SubpixMismatch);
            }
        }

        Ok(Latched {
            seq,
            job: SliceJob {
                slice_type,
                qp: qp as u8,
                chroma_qp_index_offset: chroma_off,
                entropy,
                deblock: JobDeblock {
                    disable_idc: idc as u8,
                    alpha_c0_offset_div2: alpha,
                    beta_offset_div2: beta,
                },
                width_mbs: w as u16,
                height_mbs: h as u16,
            },
            src_y: src_y.0,
            src_c: src_c.0,
            src_stride,
            rec_y: rec_y.0,
            rec_c: rec_c.0,
            ref_y: ref_y.0,
            ref_c: ref_c.0,
            subpix_new: sp_new.0,
            win,
            ep: !p0.is_set(AvcPara0::EPTB_DIS),
        })
    }

    /// Runs the triggered job, if any, to completion: the encode itself. `scratch` must hold
    /// [`scratch_bytes`] for the picture. Returns how the job ended, or `None` when no job
    /// was pending or fault injection keeps it hanging.
    pub fn run<E: SliceEngine>(&mut self, engine: &mut E, scratch: &mut [u8]) -> Option<JobEnd> {
        let l = self.busy?;
        if self.inject.hang {
            return None;
        }
        let res = match self.poison.take() {
            Some(f) => Err(f),
            None => self.encode(&l, engine, scratch),
        };
        let end = if res.is_ok() {
            JobEnd::Finished
        } else {
            JobEnd::Stalled
        };
        self.complete(l.seq, res);
        Some(end)
    }

    fn encode<E: SliceEngine>(
        &mut self,
        l: &Latched,
        engine: &mut E,
        scratch: &mut [u8],
    ) -> Result<(), Fault> {
        let (w, h) = (l.job.width_mbs as u32, l.job.height_mbs as u32);
        // w ≤ 120 and h ≤ 68 were checked at trigger; checked math keeps 32-bit ARM honest.
        let stride = w.checked_mul(16).ok_or(Fault::Scratch)? as usize;
        let luma = w
            .checked_mul(h)
            .and_then(|m| m.checked_mul(256))
            .ok_or(Fault::Scratch)? as usize;
        let chroma = luma >> 1;
        let frame = luma.checked_add(chroma).ok_or(Fault::Scratch)?;
        let need = scratch_bytes(w, h).ok_or(Fault::Scratch)?;
        let scratch = scratch.get_mut(..need).ok_or(Fault::Scratch)?;
        // Checked splits: the lengths are right by construction, but no panic path at all.
        let (src, rest) = scratch.split_at_mut_checked(frame).ok_or(Fault::Scratch)?;
        let (refb, recon) = rest.split_at_mut_checked(frame).ok_or(Fault::Scratch)?;
        let (src_y, src_uv) = src.split_at_mut_checked(luma).ok_or(Fault::Scratch)?;
        let (ref_y, ref_uv) = refb.split_at_mut_checked(luma).ok_or(Fault::Scratch)?;
        let (rec_y, rec_uv) = recon.split_at_mut_checked(luma).ok_or(Fault::Scratch)?;

        let bus_err = |reg: &'static str| move |err| Fault::Bus { reg, err };
        read_plane(&self.bus, l.src_y, l.src_stride, src_y, stride)
            .map_err(bus_err(IspInputLuma::NAME))?;
        read_plane(&self.bus, l.src_c, l.src_stride, src_uv, stride)
            .map_err(bus_err(IspInputChroma0::NAME))?;
        let rstride = rec_stride(w).ok_or(Fault::Scratch)?;
        let p = l.job.slice_type == JobSliceType::P;
        if p {
            read_plane(&self.bus, l.ref_y, rstride, ref_y, stride)
                .map_err(bus_err(AvcRef0Y::NAME))?;
            read_plane(&self.bus, l.ref_c, rstride, ref_uv, stride)
                .map_err(bus_err(AvcRef0C::NAME))?;
        }

        let src_f = Frame {
            y: src_y,
            uv: src_uv,
            stride,
        };
        let ref_f = Frame {
            y: ref_y,
            uv: ref_uv,
            stride,
        };
        let mut rec_f = FrameMut {
            y: rec_y,
            uv: rec_uv,
            stride,
        };
        let mut out = self.stream.writer(&mut self.bus, l.win, l.ep);
        let res = engine.encode(&l.job, &src_f, p.then_some(&ref_f), &mut rec_f, &mut out);
        // An engine that stops mid-byte gets zero padding, as the stream must end aligned.
        let res = res.and_then(|()| out.align_zero_bits().map_err(EngineError::Bits));
        let flushed = out.flush();
        match (res, flushed) {
            (_, Err(StreamStop::Full)) => return Err(Fault::StreamFull),
            (_, Err(StreamStop::Bus(err))) => {
                return Err(Fault::Bus {
                    reg: AvcStmStart::NAME,
                    err,
                })
            }
            (Err(e), Ok(())) => return Err(Fault::Engine(e)),
            (Ok(()), Ok(())) => {}
        }

        write_plane(&mut self.bus, l.rec_y, rstride, rec_f.y, stride)
            .map_err(bus_err(AvcRecY::NAME))?;
        write_plane(&mut self.bus, l.rec_c, rstride, rec_f.uv, stride)
            .map_err(bus_err(AvcRecC::NAME))?;
        self.bus
            .write(l.subpix_new, &subpix_tag(l.rec_y, l.rec_c))
            .map_err(bus_err(AvcSubpixNew::NAME))?;
        Ok(())
    }
}

/// Sign-extends a 4-bit two's-complement field (§1.3).
fn sext4(v: u32) -> i8 {
    (((v & 0xF) as i8) << 4) >> 4
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    // Ranges were bus-checked, so `addr + len` does not wrap; saturate anyway.
    a.0 < b.0.saturating_add(b.1) && b.0 < a.0.saturating_add(a.1)
}

fn subpix_tag(rec_y: u32, rec_c: u32) -> [u8; 16] {
    let mut t = [0u8; 16];
    t[..8].copy_from_slice(&SUBPIX_MAGIC);
    t[8..12].copy_from_slice(&rec_y.to_le_bytes());
    t[12..].copy_from_slice(&rec_c.to_le_bytes());
    t
}

/// Reads rows of `row_len` bytes from `addr` with `bus_stride` into the packed `dst`.
fn read_plane<B: Bus>(
    bus: &B,
    addr: u32,
    bus_stride: u32,
    dst: &mut [u8],
    row_len: usize,
) -> Result<(), BusError> {
    let mut i = 0usize;
    for row in dst.chunks_mut(row_len.max(1)) {
        bus.read(row_addr(addr, bus_stride, i)?, row)?;
        i = i.wrapping_add(1);
    }
    Ok(())
}

/// Writes the packed `src` rows to `addr` with `bus_stride`.
fn write_plane<B: Bus>(
    bus: &mut B,
    addr: u32,
    bus_stride: u32,
    src: &[u8],
    row_len: usize,
) -> Result<(), BusError> {
    let mut i = 0usize;
    for row in src.chunks(row_len.max(1)) {
        bus.write(row_addr(addr, bus_stride, i)?, row)?;
        i = i.wrapping_add(1);
    }
    Ok(())
}

/// `addr + row · stride`, or a bus error when it wraps.
fn row_addr(addr: u32, stride: u32, row: usize) -> Result<u32, BusError> {
    u32::try_from(row)
        .ok()
        .and_then(|r| r.checked_mul(stride))
        .and_then(|off| addr.checked_add(off))
        .ok_or(BusError::Unmapped {
            addr,
            len: u32::MAX,
        })
}

/// The model is driven by the same backend code as the MMIO window
/// (`hw::cedrus::backend`, ARCHITECTURE.md §5).
impl<B: Bus> crate::hw::cedrus::backend::Regs for Ve<B> {
    fn read32(&mut self, off: u32) -> u32 {
        Ve::read32(self, off)
    }
    fn write32(&mut self, off: u32, val: u32) {
        Ve::write32(self, off, val)
    }
}
