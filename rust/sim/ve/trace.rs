// SPDX-License-Identifier: GPL-2.0
//! What the model saw: a ring of register writes and a ring of job summaries, for tests and
//! for the driver's debugfs. Fixed size, no allocation; the oldest entries are overwritten.

use super::Fault;

/// Register writes kept.
pub const WRITE_RING: usize = 128;
/// Job summaries kept.
pub const JOB_RING: usize = 16;

/// One register write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegWrite {
    /// Sequence number of the write since the model was created (wraps).
    pub seq: u32,
    /// Register offset from the VE base.
    pub offset: u16,
    /// Value written.
    pub value: u32,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobEnd {
    /// Still running (or hung by fault injection).
    #[default]
    Running,
    /// FINISH.
    Finished,
    /// STALL: output full or refused configuration (see `fault`).
    Stalled,
    /// Aborted by an encoder or block reset.
    Aborted,
}

/// Summary of one triggered job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobSummary {
    /// Job number since the model was created (wraps).
    pub seq: u32,
    /// Width in MBs (0 if the configuration was refused before decoding it).
    pub width_mbs: u16,
    /// Height in MBs.
    pub height_mbs: u16,
    /// AVC_PARA0.SLICE_TYPE.
    pub slice_type: u8,
    /// CABAC selected.
    pub cabac: bool,
    /// AVC_PARA1.QP.
    pub qp: u8,
    /// STM_BIT_LEN at trigger (header bits from put-bits).
    pub header_bits: u32,
    /// STM_BIT_LEN at the end.
    pub total_bits: u32,
    /// AVC_STATUS done bits at the end.
    pub status: u32,
    /// Outcome.
    pub end: JobEnd,
    /// Reason for STALL when it was not a full output buffer.
    pub fault: Option<Fault>,
}

/// The two rings.
pub struct Trace {
    writes: [RegWrite; WRITE_RING],
    nwrites: u32,
    jobs: [JobSummary; JOB_RING],
    njobs: u32,
}

impl Default for Trace {
    fn default() -> Self {
        Self::new()
    }
}

impl Trace {
    /// Empty trace.
    pub const fn new() -> Self {
        Self {
            writes: [RegWrite {
                seq: 0,
                offset: 0,
                value: 0,
            }; WRITE_RING],
            nwrites: 0,
            jobs: [JobSummary {
                seq: 0,
                width_mbs: 0,
                height_mbs: 0,
                slice_type: 0,
                cabac: false,
                qp: 0,
                header_bits: 0,
                total_bits: 0,
                status: 0,
                end: JobEnd::Running,
                fault: None,
            }; JOB_RING],
            njobs: 0,
        }
    }

    pub(crate) fn record_write(&mut self, offset: u32, value: u32) {
        let seq = self.nwrites;
        // WRITE_RING is a power of two: `&` instead of `%`.
        if let Some(slot) = self.writes.get_mut(seq as usize & (WRITE_RING - 1)) {
            *slot = RegWrite {
                seq,
                offset: (offset & 0xFFFF) as u16,
                value,
            };
        }
        self.nwrites = self.nwrites.wrapping_add(1);
    }

    /// Starts a job record and returns its sequence number.
    pub(crate) fn begin_job(&mut self, mut s: JobSummary) -> u32 {
        let seq = self.njobs;
        s.seq = seq;
        if let Some(slot) = self.jobs.get_mut(seq as usize & (JOB_RING - 1)) {
            *slot = s;
        }
        self.njobs = self.njobs.wrapping_add(1);
        seq
    }

    /// The record of job `seq`, if still in the ring.
    pub(crate) fn job_mut(&mut self, seq: u32) -> Option<&mut JobSummary> {
        let slot = self.jobs.get_mut(seq as usize & (JOB_RING - 1))?;
        (slot.seq == seq).then_some(slot)
    }

    /// Total register writes seen (wraps).
    pub fn total_writes(&self) -> u32 {
        self.nwrites
    }

    /// Total jobs triggered (wraps).
    pub fn total_jobs(&self) -> u32 {
        self.njobs
    }

    /// The kept register writes, oldest first.
    pub fn writes(&self) -> impl Iterator<Item = &RegWrite> + '_ {
        let n = core::cmp::min(self.nwrites as usize, WRITE_RING);
        let first = self.nwrites.wrapping_sub(n as u32);
        (0..n as u32).filter_map(move |i| {
            self.writes
                .get(first.wrapping_add(i) as usize & (WRITE_RING - 1))
        })
    }

    /// The kept job summaries, oldest first.
    pub fn jobs(&self) -> impl Iterator<Item = &JobSummary> + '_ {
        let n = core::cmp::min(self.njobs as usize, JOB_RING);
        let first = self.njobs.wrapping_sub(n as u32);
        (0..n as u32).filter_map(move |i| {
            self.jobs
                .get(first.wrapping_add(i) as usize & (JOB_RING - 1))
        })
    }

    /// The most recent job.
    pub fn last_job(&self) -> Option<&JobSummary> {
        if self.njobs == 0 {
            return None;
        }
        self.jobs
            .get(self.njobs.wrapping_sub(1) as usize & (JOB_RING - 1))
    }
}

impl Trace {
    /// Writes the trace as text (jobs, then register writes with their cedrus.md names), for
    /// debugfs (`seq_file` through `core::fmt::Write`) and test failure messages.
    pub fn dump<W: core::fmt::Write>(&self, out: &mut W) -> core::fmt::Result {
        writeln!(out, "jobs: {} total", self.njobs)?;
        for j in self.jobs() {
            writeln!(
                out,
                "job {}: {}x{} MBs type {} {} qp {} header {} bits, total {} bits, status {:#x}, {:?}{}",
                j.seq,
                j.width_mbs,
                j.height_mbs,
                j.slice_type,
                if j.cabac { "CABAC" } else { "CAVLC" },
                j.qp,
                j.header_bits,
                j.total_bits,
                j.status,
                j.end,
                if j.fault.is_some() { " (fault below)" } else { "" },
            )?;
            if let Some(f) = j.fault {
                writeln!(out, "  fault: {f:?}")?;
            }
        }
        writeln!(out, "register writes: {} total", self.nwrites)?;
        for w in self.writes() {
            let name = crate::hw::cedrus::regs::name_of(w.offset as u32).unwrap_or("?");
            writeln!(
                out,
                "{:>10} {:#05x} {:<26} {:#010x}",
                w.seq, w.offset, name, w.value
            )?;
        }
        Ok(())
    }
}
