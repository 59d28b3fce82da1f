// SPDX-License-Identifier: GPL-2.0
//! Register-level tests: the model driven exactly as cedrus.md §2 / §7 programs the VE, plus
//! the misuse the model must catch.

use super::bus::host::HostBus;
use super::*;
use std::vec;
use std::vec::Vec;

pub(super) const SRC: u32 = 0x4000_0000;
pub(super) const STM: u32 = 0x4100_0000;
pub(super) const REC_A: u32 = 0x4200_0000;
pub(super) const REC_B: u32 = 0x4300_0000;
pub(super) const SUB_A: u32 = 0x4400_0000;
pub(super) const SUB_B: u32 = 0x4410_0000;
pub(super) const MBI: u32 = 0x4500_0000;
/// Bytes mapped after the stream window to catch writes past STM_END.
const GUARD: usize = 64;

pub(super) struct Rig {
    pub ve: Ve<HostBus>,
    pub w: u32,
    pub h: u32,
    pub stm_size: u32,
    pub scratch: Vec<u8>,
}

pub(super) fn w32<R: Register>(ve: &mut Ve<HostBus>, v: R) {
    ve.write32(R::OFFSET, v.raw());
}

impl Rig {
    /// Maps every buffer for a `w × h` MB picture and fills the source with a pattern.
    pub fn new(w: u32, h: u32, stm_size: u32) -> Self {
        let mut bus = HostBus::new();
        let stride = (w * 16) as usize;
        let luma = stride * (h * 16) as usize;
        bus.map(SRC, luma * 3 / 2);
        bus.map(STM, stm_size as usize + GUARD);
        for rec in [REC_A, REC_B] {
            bus.map(rec, regs::rec_bytes(w, h).unwrap() as usize);
        }
        for sub in [SUB_A, SUB_B] {
            bus.map(sub, regs::subpix_bytes(w, h).unwrap() as usize);
        }
        bus.map(MBI, regs::mb_info_bytes(w).unwrap() as usize);
        let src = bus.slice_mut(SRC, luma * 3 / 2);
        for (i, b) in src.iter_mut().enumerate() {
            *b = ((i * 7 + i / stride * 3) & 0xFF) as u8;
        }
        let ve = Ve::new(bus, VeConfig::default());
        Self {
            ve,
            w,
            h,
            stm_size,
            scratch: vec![0; scratch_bytes(w, h).unwrap()],
        }
    }

    /// §7 step 1: encoder on, with the reset pulse.
    pub fn enable(&mut self) {
        let ve = &mut self.ve;
        let m = ve.read32(VeMode::OFFSET);
        ve.write32(VeMode::OFFSET, (m & !0xC7) | VeMode::DEC_DISABLED);
        let r = ve.read32(VeReset::OFFSET);
        ve.write32(VeReset::OFFSET, r | VeReset::ENCODER_RESET.mask());
        ve.write32(VeReset::OFFSET, r & !VeReset::ENCODER_RESET.mask());
        let m = ve.read32(VeMode::OFFSET);
        ve.write32(VeMode::OFFSET, m | VeMode::ENCODE_LOW_BYTE);
    }

    /// §7 step 2: ISP input (NV12, BT.601) from SRC with the natural stride.
    pub fn isp(&mut self) {
        let (w, h) = (self.w, self.h);
        let ve = &mut self.ve;
        w32(
            ve,
            IspPicInfo::default()
                .with(IspPicInfo::WIDTH_MBS, w)
                .with(IspPicInfo::HEIGHT_MBS, h),
        );
        w32(
            ve,
            IspScalerSize::default()
                .with(IspScalerSize::WIDTH_MBS, w)
                .with(IspScalerSize::HEIGHT_MBS, h),
        );
        w32(
            ve,
            IspPicStride0::default().with(IspPicStride0::INPUT_STRIDE_MBS, w),
        );
        w32(ve, IspCtrl::default());
        w32(ve, IspInputLuma(SRC));
        w32(ve, IspInputChroma0(SRC + w * 16 * h * 16));
    }

    /// §7 step 3: stream window.
    pub fn stream(&mut self) {
        let size = self.stm_size;
        let ve = &mut self.ve;
        w32(ve, AvcStartTrig(0));
        w32(ve, AvcStmBitOffset(0));
        w32(ve, AvcStmStart(STM));
        w32(ve, AvcStmEnd(STM + size - 1));
        w32(ve, AvcStmBitMax(size * 8));
        w32(ve, AvcStmBitLen(0));
        w32(ve, AvcResidualBits(0));
        w32(ve, AvcHeaderBits(0));
    }

    /// One put-bits command with polling (§2.2).
    pub fn put(&mut self, n: u32, v: u32) {
        self.poll_ready();
        w32(&mut self.ve, AvcPutBitsData(v));
        w32(&mut self.ve, AvcStartTrig::put_bits(n));
    }

    pub fn cmd(&mut self, cmd: u32, v: u32) {
        self.poll_ready();
        w32(&mut self.ve, AvcPutBitsData(v));
        w32(
            &mut self.ve,
            AvcStartTrig::default().with(AvcStartTrig::CMD, cmd),
        );
    }

    pub fn poll_ready(&mut self) {
        for _ in 0..100 {
            if AvcStatus(self.ve.read32(AvcStatus::OFFSET)).is_set(AvcStatus::PUT_BITS_READY) {
                return;
            }
        }
        panic!("put-bits never ready");
    }

    pub fn set_eptb(&mut self, on: bool) {
        let p0 = AvcPara0(self.ve.read32(AvcPara0::OFFSET)).with_bit(AvcPara0::EPTB_DIS, !on);
        w32(&mut self.ve, p0);
    }

    /// §7 steps 5–6 for a job: buffers and parameters.
    #[allow(clippy::too_many_arguments)]
    pub fn job(
        &mut self,
        p: bool,
        cabac: bool,
        qp: u32,
        rec: u32,
        refr: u32,
        sub_new: u32,
        sub_last: u32,
    ) {
        let (w, h) = (self.w, self.h);
        let luma = regs::rec_luma_bytes(w, h).unwrap();
        let ve = &mut self.ve;
        w32(ve, AvcMbInfo(MBI));
        w32(ve, AvcMvBufAddr(0));
        w32(ve, AvcRecY(rec));
        w32(ve, AvcRecC(rec + luma));
        w32(ve, AvcRef0Y(refr));
        w32(ve, AvcRef0C(refr + luma));
        w32(ve, AvcSubpixNew(sub_new));
        w32(ve, AvcSubpixLast(sub_last));
        w32(ve, AvcDeblk(0));
        w32(ve, AvcCyclicIntraRefresh(0));
        let p0 = AvcPara0::default()
            .with(AvcPara0::SLICE_TYPE, p as u32)
            .with_bit(AvcPara0::ENTROPY_CABAC, cabac)
            .with(AvcPara0::CABAC_INIT_IDC, (p && cabac) as u32);
        w32(ve, p0);
        let p1 = AvcPara1::default()
            .with(AvcPara1::CHROMA_QP_OFFSET, 4)
            .with(AvcPara1::STRIDE_MBS_DIV_48, regs::stride_mbs_div_48(w))
            .with(AvcPara1::QP, qp);
        w32(ve, p1);
        w32(ve, AvcPara2(0));
        w32(ve, AvcDynamicMePar0(0));
        w32(ve, AvcDynamicMePar1(0));
        for o in [
            AvcRcInit::OFFSET,
            AvcRcMadTh0::OFFSET,
            AvcRcMadTh1::OFFSET,
            AvcRcMadTh2::OFFSET,
            AvcRcMadTh3::OFFSET,
        ] {
            ve.write32(o, 0);
        }
        w32(ve, AvcMePara(AvcMePara::BOOTLIN));
        w32(ve, AvcMad(0));
        w32(ve, AvcOvertimeMb(0));
        w32(ve, AvcMeInfo(0));
    }

    /// §7 step 7.
    pub fn trigger(&mut self) {
        w32(&mut self.ve, AvcIntEn(0x3));
        w32(&mut self.ve, AvcStartTrig::enc_start());
    }

    /// Runs the pending job with the stub engine.
    pub fn run(&mut self) -> Option<JobEnd> {
        self.ve.run(&mut StubEngine, &mut self.scratch)
    }

    /// The IRQ handler of §7: status, length, then disable and clear.
    pub fn irq(&mut self) -> (u32, u32) {
        let st = self.ve.read32(AvcStatus::OFFSET) & AvcStatus::DONE_MASK;
        let len = self.ve.read32(AvcStmBitLen::OFFSET);
        w32(&mut self.ve, AvcIntEn(0));
        w32(&mut self.ve, AvcStatus(0xF));
        (st, len)
    }

    /// A complete frame with a few header bits, per §7. Returns (status, bits).
    pub fn frame(
        &mut self,
        p: bool,
        rec: u32,
        refr: u32,
        sub_new: u32,
        sub_last: u32,
    ) -> (u32, u32) {
        self.enable();
        self.isp();
        self.stream();
        self.set_eptb(false);
        self.put(32, 1);
        self.set_eptb(true);
        self.put(8, if p { 0x41 } else { 0x65 });
        self.job(p, false, 26, rec, refr, sub_new, sub_last);
        self.trigger();
        self.run();
        assert!(self.ve.irq_pending());
        self.irq()
    }
}

#[test]
fn full_sequence_i_then_p() {
    let mut r = Rig::new(4, 3, 4096);
    assert_eq!(r.ve.read32(VeVersion::OFFSET) >> 16, 0x1681);
    let (st, bits) = r.frame(false, REC_A, REC_A, SUB_A, SUB_A);
    assert_eq!(st, AvcStatus::FINISH.mask(), "{:?}", r.ve.fault());
    assert_eq!(bits % 8, 0);
    let stm = r.ve.bus().slice(STM, 5).to_vec();
    assert_eq!(stm, [0, 0, 0, 1, 0x65]);
    // Stub engine: recon is the source, laid out with the REC stride.
    let (w, h) = (4usize, 3usize);
    let rs = regs::rec_stride(4).unwrap() as usize;
    for row in 0..h * 16 {
        let src =
            r.ve.bus()
                .slice(SRC + (row * w * 16) as u32, w * 16)
                .to_vec();
        assert_eq!(
            r.ve.bus().slice(REC_A + (row * rs) as u32, w * 16),
            &src[..]
        );
    }
    assert!(!r.ve.irq_pending());

    let (st, bits2) = r.frame(true, REC_B, REC_A, SUB_B, SUB_A);
    assert_eq!(st, AvcStatus::FINISH.mask(), "{:?}", r.ve.fault());
    assert_eq!(bits2, bits);
    // And back, ping-pong as cedrus.md §6 item 4 recommends.
    let (st, _) = r.frame(true, REC_A, REC_B, SUB_A, SUB_B);
    assert_eq!(st, AvcStatus::FINISH.mask(), "{:?}", r.ve.fault());

    let jobs: Vec<_> = r.ve.trace().jobs().copied().collect();
    assert_eq!(jobs.len(), 3);
    assert_eq!(jobs[0].slice_type, 0);
    assert_eq!(jobs[1].slice_type, 1);
    assert_eq!(jobs[1].header_bits, 40);
    assert_eq!(jobs[1].total_bits, bits);
    assert!(jobs
        .iter()
        .all(|j| j.end == JobEnd::Finished && j.qp == 26 && j.width_mbs == 4));
    assert_eq!(r.ve.fault(), None);
}

#[test]
fn size_responds_to_qp() {
    let mut sizes = [0u32; 2];
    for (i, qp) in [10u32, 45].into_iter().enumerate() {
        let mut r = Rig::new(2, 2, 4096);
        r.enable();
        r.isp();
        r.stream();
        r.job(false, false, qp, REC_A, REC_A, SUB_A, SUB_A);
        r.trigger();
        r.run();
        let (st, bits) = r.irq();
        assert_eq!(st, 1);
        sizes[i] = bits;
    }
    assert!(sizes[0] > sizes[1], "{sizes:?}");
}

#[test]
fn trigger_without_buffers_stalls() {
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    w32(&mut r.ve, AvcPara1(1 << 10 | 26));
    r.trigger();
    assert!(!r.ve.is_busy(), "refused at trigger");
    assert!(r.ve.irq_pending());
    assert_eq!(r.irq().0, AvcStatus::STALL.mask());
    assert_eq!(
        r.ve.fault(),
        Some(Fault::MissingBuffer { reg: "AVC_REC_Y" })
    );
    assert_eq!(r.ve.trace().last_job().unwrap().end, JobEnd::Stalled);
}

#[test]
fn trigger_without_stream_or_enable() {
    let mut r = Rig::new(2, 2, 4096);
    r.trigger();
    assert_eq!(r.ve.fault(), Some(Fault::NotEncoding));
    assert_eq!(r.irq().0, AvcStatus::STALL.mask());
    r.enable();
    r.isp();
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    assert_eq!(
        r.ve.fault(),
        Some(Fault::MissingBuffer {
            reg: "AVC_STM_START_ADDR"
        })
    );
}

#[test]
fn put_bits_while_not_ready() {
    let mut r = Rig::new(2, 2, 4096);
    r.ve.inject.put_bits_busy_reads = 3;
    r.enable();
    r.isp();
    r.stream();
    r.put(8, 0xAB); // polls: fine
                    // A driver that does not poll:
    w32(&mut r.ve, AvcPutBitsData(0xCD));
    w32(&mut r.ve, AvcStartTrig::put_bits(8));
    assert_eq!(r.ve.fault(), Some(Fault::PutBitsNotReady));
    assert_eq!(r.ve.read32(AvcStmBitLen::OFFSET), 8, "the put was dropped");
    // The job that follows fails with the misuse.
    r.poll_ready();
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    assert_eq!(r.irq().0, AvcStatus::STALL.mask());
    assert_eq!(
        r.ve.trace().last_job().unwrap().fault,
        Some(Fault::PutBitsNotReady)
    );
}

#[test]
fn put_bits_while_busy_and_in_reset() {
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    assert!(r.ve.is_busy());
    assert!(!AvcStatus(r.ve.read32(AvcStatus::OFFSET)).is_set(AvcStatus::PUT_BITS_READY));
    assert!(!VeReset(r.ve.read32(VeReset::OFFSET)).is_set(VeReset::SYNC_IDLE));
    w32(&mut r.ve, AvcStartTrig::put_bits(8));
    assert_eq!(r.ve.fault(), Some(Fault::Busy));
    assert_eq!(
        r.run(),
        Some(JobEnd::Stalled),
        "misuse during the job fails it"
    );
    assert_eq!(r.irq().0, AvcStatus::STALL.mask());
    assert!(VeReset(r.ve.read32(VeReset::OFFSET)).is_set(VeReset::SYNC_IDLE));

    w32(
        &mut r.ve,
        VeReset::default().with_bit(VeReset::ENCODER_RESET, true),
    );
    r.ve.take_fault();
    w32(&mut r.ve, AvcPutBitsData(1));
    assert_eq!(r.ve.fault(), Some(Fault::InReset));
}

#[test]
fn put_bits_bad_count_and_value() {
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    for (n, v, f) in [
        (0, 0, Fault::PutBitsCount { n: 0 }),
        (33, 0, Fault::PutBitsCount { n: 33 }),
        (4, 0x10, Fault::PutBitsValue),
    ] {
        r.ve.take_fault();
        r.put(n, v);
        assert_eq!(r.ve.fault(), Some(f));
    }
    r.ve.take_fault();
    r.cmd(AvcStartTrig::CMD_PUT_VLC_SE, i32::MIN as u32);
    assert_eq!(r.ve.fault(), Some(Fault::PutBitsValue));
    r.ve.take_fault();
    r.cmd(AvcStartTrig::CMD_ENC_CONTINUE, 0);
    assert!(matches!(r.ve.fault(), Some(Fault::BadCommand { .. })));
    assert_eq!(r.ve.read32(AvcStmBitLen::OFFSET), 0);
}

#[test]
fn put_bits_ue_se_align_and_32() {
    use crate::h264::bits::{BitSink, BitWriter};
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    let mut expect = [0u8; 64];
    let mut bw = BitWriter::new(&mut expect);
    bw.set_emulation_prevention(true);
    r.put(32, 0xDEAD_BEEF);
    bw.put_bits(32, 0xDEAD_BEEF).unwrap();
    for v in [0u32, 1, 2, 7, 254, 65535, u32::MAX - 1, u32::MAX] {
        r.cmd(AvcStartTrig::CMD_PUT_VLC_UE, v);
        bw.put_ue(v).unwrap();
    }
    for v in [0i32, 1, -1, 26, -26, i32::MAX, i32::MIN + 1] {
        r.cmd(AvcStartTrig::CMD_PUT_VLC_SE, v as u32);
        bw.put_se(v).unwrap();
    }
    r.put(3, 0b101);
    bw.put_bits(3, 0b101).unwrap();
    // §2.2: align by reading STM_BIT_LEN …
    let len = r.ve.read32(AvcStmBitLen::OFFSET);
    assert_eq!(
        len as u64,
        bw.bit_position() + (bw.bytes_written() as u64 * 8 - (bw.bit_position() & !7))
    );
    r.put(1, 1);
    bw.put_bit(true).unwrap();
    // … or with the BYTE_ALIGN command.
    r.cmd(AvcStartTrig::CMD_BYTE_ALIGN, 0);
    bw.align_zero().unwrap();
    let n = bw.bytes_written();
    assert_eq!(r.ve.read32(AvcStmBitLen::OFFSET), n as u32 * 8);
    assert_eq!(r.ve.bus().slice(STM, n), &expect[..n]);
    assert_eq!(r.ve.fault(), None);
}

#[test]
fn eptb_in_put_bits() {
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    r.set_eptb(false);
    r.put(32, 1);
    r.set_eptb(true);
    for b in [0x67u32, 0, 0, 1, 0, 0, 0, 0, 0, 3] {
        r.put(8, b);
    }
    let len = r.ve.read32(AvcStmBitLen::OFFSET);
    assert_eq!(len, 8 * 17, "LEN counts the inserted 0x03 bytes");
    assert_eq!(
        r.ve.bus().slice(STM, 17),
        &[0, 0, 0, 1, 0x67, 0, 0, 3, 1, 0, 0, 3, 0, 0, 3, 0, 3][..]
    );
}

#[test]
fn output_overflow_stalls_within_window() {
    let mut r = Rig::new(4, 4, 40);
    r.ve.bus_mut().slice_mut(STM + 40, GUARD).fill(0xEE);
    r.enable();
    r.isp();
    r.stream();
    r.put(32, 1);
    r.job(false, false, 10, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    assert_eq!(r.run(), Some(JobEnd::Stalled));
    let (st, bits) = r.irq();
    assert_eq!(st, AvcStatus::STALL.mask());
    assert_eq!(bits, 40 * 8, "stopped exactly at STM_BIT_MAX");
    assert_eq!(r.ve.fault(), Some(Fault::StreamFull));
    assert!(
        r.ve.bus().slice(STM + 40, GUARD).iter().all(|&b| b == 0xEE),
        "nothing past STM_END"
    );
    // The reconstruction of a failed job is not written.
    assert!(r.ve.bus().slice(REC_A, 64).iter().all(|&b| b == 0));
}

#[test]
fn put_bits_overflow_fails_next_job() {
    let mut r = Rig::new(2, 2, 4);
    r.enable();
    r.isp();
    r.stream();
    r.put(32, 0x1234_5678);
    assert_eq!(r.ve.fault(), None);
    r.put(8, 0x9A);
    assert_eq!(r.ve.fault(), Some(Fault::StreamFull));
    assert_eq!(r.ve.read32(AvcStmBitLen::OFFSET), 32);
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    assert_eq!(r.irq().0, AvcStatus::STALL.mask());
}

#[test]
fn stream_window_checks() {
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    for (start, end, max, off) in [
        (STM, STM + 4095, 4097 * 8, 0),     // BIT_MAX beyond END
        (STM, STM - 1, 8, 0),               // END before START
        (STM, STM + 4095, 4095 * 8 + 3, 0), // not whole bytes
        (STM, STM + 4095, 4096 * 8, 8),     // BIT_OFFSET unsupported
    ] {
        r.ve.take_fault();
        w32(&mut r.ve, AvcStmStart(start));
        w32(&mut r.ve, AvcStmEnd(end));
        w32(&mut r.ve, AvcStmBitMax(max));
        w32(&mut r.ve, AvcStmBitOffset(off));
        r.put(8, 1);
        assert!(
            matches!(
                r.ve.fault(),
                Some(Fault::StreamWindow | Fault::BadField { .. })
            ),
            "{:?}",
            r.ve.fault()
        );
        assert_eq!(r.ve.read32(AvcStmBitLen::OFFSET), 0);
    }
    // A window larger than the mapped buffer.
    r.ve.take_fault();
    w32(&mut r.ve, AvcStmBitOffset(0));
    w32(&mut r.ve, AvcStmEnd(STM + (1 << 20)));
    w32(&mut r.ve, AvcStmBitMax(4096 * 8));
    r.put(8, 1);
    assert!(
        matches!(r.ve.fault(), Some(Fault::Bus { .. })),
        "{:?}",
        r.ve.fault()
    );
}

/// Programs a valid I job, applies `tweak`, triggers, and returns the fault.
fn refused(tweak: impl FnOnce(&mut Rig)) -> Fault {
    let mut r = Rig::new(4, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    tweak(&mut r);
    r.trigger();
    assert!(!r.ve.is_busy());
    assert_eq!(r.irq().0, AvcStatus::STALL.mask());
    r.ve.fault().unwrap()
}

#[test]
fn bad_strides_and_alignment() {
    assert_eq!(
        refused(|r| w32(&mut r.ve, IspPicStride0(3 << 16))),
        Fault::Stride { stride_mbs: 3 }
    );
    // A larger stride is fine, but PARA1 must carry ceil(stride/48).
    assert!(matches!(
        refused(|r| w32(&mut r.ve, IspPicStride0(49 << 16))),
        Fault::BadField {
            field: "STRIDE_MBS_DIV_48",
            ..
        }
    ));
    assert_eq!(
        refused(|r| w32(&mut r.ve, IspInputChroma0(SRC + 8))),
        Fault::Misaligned {
            reg: "ISP_INPUT_CHROMA0_ADDR",
            addr: SRC + 8
        }
    );
    assert_eq!(
        refused(|r| w32(&mut r.ve, AvcRecY(REC_A + 4))),
        Fault::Misaligned {
            reg: "AVC_REC_Y",
            addr: REC_A + 4
        }
    );
}

#[test]
fn bad_addresses_and_sizes() {
    // Unmapped.
    assert!(matches!(
        refused(|r| w32(&mut r.ve, AvcMbInfo(0x5000_0000))),
        Fault::Bus {
            reg: "AVC_MB_INFO_ADDR",
            ..
        }
    ));
    // Mapped but too small for the hardware's REC chroma (§3): REC_C at the end of REC_A.
    assert!(matches!(
        refused(|r| w32(
            &mut r.ve,
            AvcRecC(REC_A + regs::rec_bytes(4, 2).unwrap() - 256)
        )),
        Fault::Bus {
            reg: "AVC_REC_C",
            ..
        }
    ));
    // A source larger than its buffer: stride 5 MBs makes the luma plane run past SRC's end.
    assert!(matches!(
        refused(|r| {
            w32(&mut r.ve, IspPicStride0(40 << 16));
            let p1 = AvcPara1(r.ve.read32(AvcPara1::OFFSET)).with(AvcPara1::STRIDE_MBS_DIV_48, 1);
            w32(&mut r.ve, p1);
        }),
        Fault::Bus {
            reg: "ISP_INPUT_CHROMA0_ADDR" | "ISP_INPUT_LUMA_ADDR",
            ..
        }
    ));
    // Stream window overlapping the reconstruction.
    assert!(matches!(
        refused(|r| w32(&mut r.ve, AvcRecY(STM))),
        Fault::Bus { .. } | Fault::Overlap { .. }
    ));
    // MV write-back enabled without an MV buffer.
    assert_eq!(
        refused(|r| w32(&mut r.ve, AvcMePara(0x4))),
        Fault::MissingBuffer {
            reg: "AVC_MV_BUF_ADDR"
        }
    );
}

#[test]
fn p_frame_reference_rules() {
    let mut r = Rig::new(2, 2, 4096);
    let (st, _) = r.frame(false, REC_A, REC_A, SUB_A, SUB_A);
    assert_eq!(st, 1);
    // P reading the buffer it writes (cedrus.md §6 item 4).
    let (st, _) = r.frame(true, REC_A, REC_A, SUB_B, SUB_A);
    assert_eq!(st, AvcStatus::STALL.mask());
    assert!(matches!(r.ve.fault(), Some(Fault::Overlap { .. })));
    // Sub-pixel buffer that does not belong to the reference.
    let (st, _) = r.frame(true, REC_B, REC_A, SUB_A, SUB_B);
    assert_eq!(st, AvcStatus::STALL.mask());
    assert_eq!(r.ve.fault(), Some(Fault::SubpixMismatch));
    // The correct pairing works.
    let (st, _) = r.frame(true, REC_B, REC_A, SUB_B, SUB_A);
    assert_eq!(st, 1, "{:?}", r.ve.fault());
}

#[test]
fn sizes_beyond_max() {
    assert_eq!(
        refused(|r| w32(&mut r.ve, IspPicInfo(121 << 16 | 2))),
        Fault::PictureSize {
            width_mbs: 121,
            height_mbs: 2
        }
    );
    assert_eq!(
        refused(|r| w32(&mut r.ve, IspPicInfo(4 << 16 | 69))),
        Fault::PictureSize {
            width_mbs: 4,
            height_mbs: 69
        }
    );
    assert_eq!(
        refused(|r| w32(&mut r.ve, IspPicInfo(0))),
        Fault::PictureSize {
            width_mbs: 0,
            height_mbs: 0
        }
    );
    assert!(matches!(
        refused(|r| w32(&mut r.ve, IspScalerSize(4 << 16 | 2))),
        Fault::BadField {
            reg: "ISP_SCALER_SIZE",
            ..
        }
    ));
}

#[test]
fn max_size_1920x1088_runs() {
    let mut r = Rig::new(120, 68, 1 << 20);
    let (st, bits) = r.frame(false, REC_A, REC_A, SUB_A, SUB_A);
    assert_eq!(st, 1, "{:?}", r.ve.fault());
    assert!(bits > 120 * 68 * 8);
}

#[test]
fn unsupported_parameters() {
    let set0 = |f: Field<AvcPara0>, v: u32| {
        move |r: &mut Rig| {
            let p = AvcPara0(r.ve.read32(AvcPara0::OFFSET)).with(f, v);
            w32(&mut r.ve, p);
        }
    };
    for (f, v, name) in [
        (AvcPara0::SLICE_TYPE, 2, "SLICE_TYPE"),
        (AvcPara0::SLICE_TYPE, 3, "SLICE_TYPE"),
        (AvcPara0::PIC_TYPE, 1, "PIC_TYPE"),
        (AvcPara0::SLICE_MODE_EN, 1, "SLICE_MODE_EN"),
        (AvcPara0::DEBLOCK_IDC, 3, "DEBLOCK_IDC"),
        (AvcPara0::ALPHA_OFFSET_DIV2, 7, "ALPHA_OFFSET_DIV2"),
        (AvcPara0::BETA_OFFSET_DIV2, 0x9, "BETA_OFFSET_DIV2"), // −7
        (AvcPara0::CABAC_INIT_IDC, 3, "CABAC_INIT_IDC"),
    ] {
        assert!(
            matches!(refused(set0(f, v)), Fault::BadField { field, .. } if field == name),
            "{name}"
        );
    }
    let qp = |v| {
        move |r: &mut Rig| {
            let p = AvcPara1(r.ve.read32(AvcPara1::OFFSET)).with(AvcPara1::QP, v);
            w32(&mut r.ve, p);
        }
    };
    assert!(matches!(
        refused(qp(52)),
        Fault::BadField {
            field: "QP",
            value: 52,
            ..
        }
    ));
    assert!(matches!(
        refused(|r| w32(&mut r.ve, IspCtrl(4 << 27))),
        Fault::BadField {
            field: "FORMAT",
            ..
        }
    ));
    assert!(matches!(
        refused(|r| w32(&mut r.ve, AvcPara2(1))),
        Fault::BadField {
            reg: "AVC_PARA2",
            ..
        }
    ));
    assert!(matches!(
        refused(|r| w32(&mut r.ve, AvcMePara(1 << 18 | 1 << 16))),
        Fault::BadField {
            field: "DEBLK_TO_DRAM",
            ..
        }
    ));
    // Negative offsets inside −6..6 and each deblocking mode are accepted.
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    r.job(false, true, 51, REC_A, REC_A, SUB_A, SUB_A);
    let p = AvcPara0(r.ve.read32(AvcPara0::OFFSET))
        .with(AvcPara0::ALPHA_OFFSET_DIV2, 0xA) // −6
        .with(AvcPara0::BETA_OFFSET_DIV2, 6)
        .with(AvcPara0::DEBLOCK_IDC, 2);
    w32(&mut r.ve, p);
    r.trigger();
    assert!(r.ve.is_busy(), "{:?}", r.ve.fault());
}

#[test]
fn status_write_one_to_clear() {
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    r.trigger(); // refused: STALL
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    r.run(); // FINISH
    let st = AvcStatus(r.ve.read32(AvcStatus::OFFSET));
    assert!(
        st.is_set(AvcStatus::FINISH)
            && st.is_set(AvcStatus::STALL)
            && st.is_set(AvcStatus::PUT_BITS_READY)
    );
    // Writing 0 or the read-only ready bit clears nothing.
    w32(&mut r.ve, AvcStatus(0));
    w32(&mut r.ve, AvcStatus(1 << 9));
    assert_eq!(r.ve.read32(AvcStatus::OFFSET) & 0xF, 0x3);
    // Clearing FINISH only; the line stays up for STALL.
    w32(&mut r.ve, AvcStatus(1));
    assert_eq!(r.ve.read32(AvcStatus::OFFSET) & 0xF, 0x2);
    assert!(r.ve.irq_pending());
    // Disabling STALL drops the line without clearing.
    w32(&mut r.ve, AvcIntEn(1));
    assert!(!r.ve.irq_pending());
    w32(&mut r.ve, AvcStatus(2));
    assert_eq!(r.ve.read32(AvcStatus::OFFSET) & 0xF, 0);
    // Read-only version register.
    w32(&mut r.ve, VeVersion(0));
    assert_eq!(r.ve.read32(VeVersion::OFFSET), 0x1681_0000);
}

#[test]
fn interrupt_only_when_enabled() {
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    w32(&mut r.ve, AvcStartTrig::enc_start());
    r.run();
    assert!(!r.ve.irq_pending(), "INT_EN = 0");
    assert_eq!(r.ve.read32(AvcStatus::OFFSET) & 0xF, 1, "status still set");
    w32(&mut r.ve, AvcIntEn(1));
    assert!(r.ve.irq_pending(), "level: enabling later raises the line");
}

#[test]
fn hang_injection_and_resets() {
    let mut r = Rig::new(2, 2, 4096);
    r.ve.inject.hang = true;
    r.enable();
    r.isp();
    r.stream();
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    assert_eq!(r.run(), None);
    assert_eq!(r.run(), None);
    assert!(r.ve.is_busy() && !r.ve.irq_pending());
    // Watchdog: block reset (reset_control_reset).
    r.ve.reset_line();
    assert!(!r.ve.is_busy());
    assert_eq!(r.ve.read32(VeMode::OFFSET), 0);
    assert_eq!(r.ve.read32(AvcRecY::OFFSET), 0);
    assert_eq!(r.ve.trace().last_job().unwrap().end, JobEnd::Aborted);
    // The encoder reset bit aborts as well and clears the encoder registers.
    r.enable();
    r.isp();
    r.stream();
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    assert!(r.ve.is_busy());
    w32(&mut r.ve, VeReset(VeReset::ENCODER_RESET.mask()));
    assert!(!r.ve.is_busy());
    assert_eq!(r.ve.read32(IspPicInfo::OFFSET), 0);
    assert_eq!(r.ve.read32(AvcIntEn::OFFSET), 0);
    assert_eq!(r.ve.read32(VeMode::OFFSET) & 0xFF, 0xC7, "VE_MODE survives");
    w32(&mut r.ve, VeReset(0));
    // After the hang is lifted, a normal frame works again.
    r.ve.inject.hang = false;
    let (st, _) = r.frame(false, REC_A, REC_A, SUB_A, SUB_A);
    assert_eq!(st, 1, "{:?}", r.ve.fault());
}

#[test]
fn write_while_busy_and_unknown_registers() {
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    w32(&mut r.ve, AvcRecY(REC_B));
    assert_eq!(
        r.ve.fault(),
        Some(Fault::WriteWhileBusy {
            offset: AvcRecY::OFFSET
        })
    );
    assert_eq!(r.run(), Some(JobEnd::Stalled));
    r.irq();
    r.ve.take_fault();
    r.ve.write32(0x050, 1); // decoder BUF_CTRL
    assert_eq!(r.ve.fault(), Some(Fault::UnknownRegister { offset: 0x050 }));
    r.ve.write32(0xB06, 1);
    r.ve.write32(0x1000, 1);
    r.ve.write32(u32::MAX, 1);
    assert_eq!(r.ve.read32(0x050), 0);
    assert_eq!(r.ve.read32(0xB06), 0);
    assert_eq!(r.ve.read32(u32::MAX), 0);
}

#[test]
fn trace_ring() {
    let mut r = Rig::new(2, 2, 4096);
    for i in 0..300u32 {
        r.ve.write32(AvcMad::OFFSET, i);
    }
    let w: Vec<_> = r.ve.trace().writes().copied().collect();
    assert_eq!(w.len(), trace::WRITE_RING);
    assert_eq!(w[0].value, 300 - trace::WRITE_RING as u32);
    assert_eq!(
        w.last().unwrap(),
        &RegWrite {
            seq: 299,
            offset: 0xB50,
            value: 299
        }
    );
    for _ in 0..20 {
        r.frame(false, REC_A, REC_A, SUB_A, SUB_A);
    }
    let jobs: Vec<_> = r.ve.trace().jobs().collect();
    assert_eq!(jobs.len(), trace::JOB_RING);
    assert_eq!(jobs.last().unwrap().seq, 19);
    assert_eq!(r.ve.trace().total_jobs(), 20);
}

#[test]
fn scratch_too_small() {
    let mut r = Rig::new(2, 2, 4096);
    r.enable();
    r.isp();
    r.stream();
    r.job(false, false, 26, REC_A, REC_A, SUB_A, SUB_A);
    r.trigger();
    let mut small = vec![0u8; 100];
    assert_eq!(r.ve.run(&mut StubEngine, &mut small), Some(JobEnd::Stalled));
    assert_eq!(r.ve.fault(), Some(Fault::Scratch));
}

/// Random register traffic never panics and never writes outside mapped buffers (HostBus
/// panics on an out-of-range helper access but the model only uses checked accesses).
#[test]
fn random_register_traffic_never_panics() {
    let mut seed = 0x1234_5678u32;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let interesting = [
        0u32,
        1,
        0xF,
        0xC7,
        0x3,
        0x8,
        0x101,
        0x2001,
        STM,
        STM + 4095,
        4096 * 8,
        REC_A,
        SUB_A,
        MBI,
        SRC,
        u32::MAX,
    ];
    for round in 0..200 {
        let mut r = Rig::new(2, 2, 4096);
        if round % 2 == 0 {
            r.enable();
            r.isp();
            r.stream();
            r.job(
                round % 4 == 0,
                round % 3 == 0,
                26,
                REC_A,
                REC_A,
                SUB_A,
                SUB_A,
            );
        }
        for _ in 0..200 {
            let off = match rnd() % 4 {
                0 => regs::REGISTERS[(rnd() as usize) % regs::REGISTERS.len()].0,
                1 => AvcStartTrig::OFFSET,
                2 => rnd() & 0xFFC,
                _ => rnd(),
            };
            let v = if rnd() % 2 == 0 {
                interesting[(rnd() as usize) % interesting.len()]
            } else {
                rnd()
            };
            r.ve.write32(off, v);
            r.ve.read32(rnd() & 0xFFC);
            if rnd() % 8 == 0 {
                r.run();
            }
        }
        r.run();
    }
}

#[test]
fn trace_dump_names_registers() {
    let mut r = Rig::new(2, 2, 4096);
    r.frame(false, REC_A, REC_A, SUB_A, SUB_A);
    let mut s = std::string::String::new();
    r.ve.trace().dump(&mut s).unwrap();
    assert!(s.contains("AVC_STARTTRIG"), "{s}");
    assert!(s.contains("job 0: 2x2 MBs type 0 CAVLC qp 26"), "{s}");
}

#[test]
fn model_is_small() {
    // The kernel boxes it; keep the by-value temporary well under the 8 KiB ARM stack.
    assert!(
        core::mem::size_of::<Ve<HostBus>>() < 4 * 1024,
        "{}",
        core::mem::size_of::<Ve<HostBus>>()
    );
}

#[test]
fn p_frame_without_a_previous_reconstruction() {
    // REF0/SUBPIX_LAST never written by an encode: the model refuses to predict from garbage.
    let mut r = Rig::new(2, 2, 4096);
    let (st, _) = r.frame(true, REC_B, REC_A, SUB_B, SUB_A);
    assert_eq!(st, AvcStatus::STALL.mask());
    assert_eq!(r.ve.fault(), Some(Fault::SubpixMismatch));
}
