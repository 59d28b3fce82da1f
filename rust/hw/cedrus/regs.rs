// SPDX-License-Identifier: GPL-2.0
//! Register map of the Allwinner V3s Video Engine (VE) for H.264 encoding.
//!
//! Every register of `research/cedrus.md` §1 that the AVC encoder path uses, as a typed
//! 32-bit register (`VeMode`, `AvcPara0`, …) with its offset from the VE base and its fields as
//! typed [`Field`] constants, in the spirit of the kernel's `register!` macro (this file is pure
//! code and cannot import `kernel::`). Both the driver backend and the model in
//! `crate::sim::ve` use this one file.
//!
//! Finding a register: offsets are in the names' order of the note, grouped as
//! top level (0x000–0x0F0, §1.1), ISP input (0xA00–0xA80, §1.2), AVC encoder (0xB04–0xBDC,
//! §1.3). [`name_of`] maps an offset back to the name used in the note (for traces/debugfs).
//!
//! Usage:
//! ```
//! use slenc_core::hw::cedrus::regs::*;
//! let p0 = AvcPara0::default()
//!     .with(AvcPara0::SLICE_TYPE, AvcPara0::SLICE_TYPE_P)
//!     .with_bit(AvcPara0::ENTROPY_CABAC, true)
//!     .with(AvcPara0::CABAC_INIT_IDC, 1);
//! assert_eq!(p0.get(AvcPara0::SLICE_TYPE), 1);
//! assert_eq!(AvcPara0::OFFSET, 0xB04);
//! ```

use core::marker::PhantomData;

/// Base bus address of the VE on V3s; the DT `reg` window is 4 KiB (cedrus.md §1).
pub const VE_BASE: u32 = 0x01C0_E000;
/// Size of the VE register window (cedrus.md §1, DT `reg` size 0x1000).
pub const VE_WINDOW: u32 = 0x1000;

/// A bit field `[hi:lo]` of register type `R` (the type parameter stops a field of one
/// register from being applied to another).
pub struct Field<R> {
    lo: u8,
    width: u8,
    _reg: PhantomData<R>,
}

impl<R> Clone for Field<R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R> Copy for Field<R> {}

impl<R> core::fmt::Debug for Field<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "[{}:{}]", self.hi(), self.lo)
    }
}

impl<R> Field<R> {
    /// The field `[hi:lo]`. The local `register!` macro checks `lo <= hi <= 31` at compile time; called
    /// with other values this clamps instead of panicking.
    pub const fn new(hi: u8, lo: u8) -> Self {
        let hi = if hi > 31 { 31 } else { hi };
        let lo = if lo > hi { hi } else { lo };
        Self {
            lo,
            width: hi - lo + 1,
            _reg: PhantomData,
        }
    }
    /// Lowest bit.
    pub const fn lo(self) -> u32 {
        self.lo as u32
    }
    /// Highest bit.
    pub const fn hi(self) -> u32 {
        self.lo as u32 + self.width as u32 - 1
    }
    /// Largest value the field holds (right-aligned).
    pub const fn max(self) -> u32 {
        // width is 1..=32 by construction; wrapping ops keep even impossible values panic-free
        // under the kernel's overflow checks.
        u32::MAX.wrapping_shr(32u32.wrapping_sub(self.width as u32))
    }
    /// The field's bits in place.
    pub const fn mask(self) -> u32 {
        self.max().wrapping_shl(self.lo as u32)
    }
    /// Extracts the field from a raw register value.
    pub const fn get(self, raw: u32) -> u32 {
        raw.wrapping_shr(self.lo as u32) & self.max()
    }
    /// Returns `raw` with the field replaced by `value`; bits of `value` above the field's
    /// width are dropped (as the hardware would), use [`Field::fits`] to check first.
    pub const fn set(self, raw: u32, value: u32) -> u32 {
        (raw & !self.mask()) | (value & self.max()).wrapping_shl(self.lo as u32)
    }
    /// True when `value` fits the field without truncation.
    pub const fn fits(self, value: u32) -> bool {
        value <= self.max()
    }
}

/// Common interface of all register types (for generic MMIO/model accessors).
pub trait Register: Copy {
    /// Offset from the VE base.
    const OFFSET: u32;
    /// Name used in `research/cedrus.md`.
    const NAME: &'static str;
    /// Wraps a raw value.
    fn from_raw(raw: u32) -> Self;
    /// The raw value.
    fn raw(self) -> u32;
}

/// Declares register types in the spirit of the kernel's `register!`: one `u32` newtype per
/// register, with `OFFSET`, `NAME`, typed field constants and builders. Also produces
/// [`REGISTERS`], the offset → name table.
macro_rules! register {
    ($(
        $(#[$doc:meta])*
        $ty:ident ($name:ident) @ $off:literal {
            $( $(#[$fdoc:meta])* $hi:literal : $lo:literal => $field:ident ),* $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            #[doc = ""]
            #[doc = concat!("Offset `", stringify!($off), "`, named `", stringify!($name), "` in cedrus.md.")]
            #[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
            pub struct $ty(pub u32);

            #[allow(dead_code)]
            impl $ty {
                /// Offset from the VE base.
                pub const OFFSET: u32 = $off;
                /// Name used in `research/cedrus.md`.
                pub const NAME: &'static str = stringify!($name);
                $(
                    $(#[$fdoc])*
                    #[doc = concat!(" Bits `[", stringify!($hi), ":", stringify!($lo), "]`.")]
                    pub const $field: Field<$ty> = Field::new($hi, $lo);
                )*
                /// Wraps a raw value.
                pub const fn from_raw(raw: u32) -> Self { Self(raw) }
                /// The raw value.
                pub const fn raw(self) -> u32 { self.0 }
                /// Reads one field.
                pub const fn get(self, f: Field<$ty>) -> u32 { f.get(self.0) }
                /// True when a (one-bit) field is non-zero.
                pub const fn is_set(self, f: Field<$ty>) -> bool { f.get(self.0) != 0 }
                /// Sets one field (value truncated to the field's width, see [`Field::set`]).
                pub const fn with(self, f: Field<$ty>, v: u32) -> Self { Self(f.set(self.0, v)) }
                /// Sets or clears a (one-bit) field.
                pub const fn with_bit(self, f: Field<$ty>, on: bool) -> Self {
                    Self(f.set(self.0, on as u32))
                }
                /// Sets one field, or `None` when `v` does not fit its width.
                pub const fn try_with(self, f: Field<$ty>, v: u32) -> Option<Self> {
                    if f.fits(v) { Some(self.with(f, v)) } else { None }
                }
            }

            // Field ranges are checked when the crate compiles.
            $( const _: () = assert!($hi < 32 && $lo <= $hi); )*

            impl Register for $ty {
                const OFFSET: u32 = $off;
                const NAME: &'static str = stringify!($name);
                fn from_raw(raw: u32) -> Self { Self(raw) }
                fn raw(self) -> u32 { self.0 }
            }
        )*

        /// Every register of this file as `(offset, cedrus.md name)`, sorted by offset.
        pub const REGISTERS: &[(u32, &str)] = &[ $( ($off, stringify!($name)) ),* ];
    };
}

register! {
    // ---- Top level (cedrus.md §1.1) -------------------------------------------------------

    /// Engine mode ("VE_CTRL" in older code). The encoder needs ENC_ENABLE and ENC_ISP_ENABLE
    /// with the decoder disabled (low byte 0xC7, cedrus.md §1.1, §7 step 1).
    VeMode(VE_MODE) @ 0x000 {
        /// RAM power-down.
        31:31 => RAMPD,
        /// Picture width is 4096.
        22:22 => PIC_WIDTH_IS_4096,
        /// Picture width is more than 2048.
        21:21 => PIC_WIDTH_MORE_2048,
        /// Reconstruction write mode (1 = "2MB", 0 = "1MB").
        20:20 => REC_WR_MODE,
        /// DDR mode: 3 = BW_128, 2 = BW_256.
        17:16 => DDR_MODE,
        /// AVC encoder enable.
        7:7 => ENC_ENABLE,
        /// ISP (encoder input) enable.
        6:6 => ENC_ISP_ENABLE,
        /// Decoder select; [`VeMode::DEC_DISABLED`] (7) while encoding.
        2:0 => DEC_MODE,
    }

    /// Reset and sync control (cedrus.md §1.1).
    VeReset(VE_RESET) @ 0x004 {
        /// Encoder request mask enable.
        25:25 => ENC_REQ_MASK_EN,
        /// Encoder reset; Bootlin pulses it (set, then clear) every job (§2.1 step 2).
        24:24 => ENCODER_RESET,
        /// Decoder VEBK reset.
        18:18 => DEC_VEBK_RESET,
        /// Decoder request mask enable.
        17:17 => DEC_REQ_MASK_EN,
        /// Decoder reset.
        16:16 => DECODER_RESET,
        /// Sync idle; polled (with CACHE_SYNC_IDLE) after the headers (§2.2, §7 step 4).
        9:9 => SYNC_IDLE,
        /// Cache sync idle.
        8:8 => CACHE_SYNC_IDLE,
        /// WDRAM clear.
        5:5 => WDRAM_CLR,
        /// Memory sync mask.
        4:4 => MEM_SYNC_MASK,
        /// Global reset.
        0:0 => GLOBAL_RESET,
    }

    /// Version register; the V3s value is unknown (cedrus.md §1.1, §8).
    VeVersion(VE_VERSION) @ 0x0F0 {
        /// VE version (≥ 0x1633 is the "newer VE" family, inferred for V3s, §1.1).
        31:16 => VERSION,
    }

    // ---- ISP input block (cedrus.md §1.2) -------------------------------------------------

    /// Picture size in macroblocks.
    IspPicInfo(ISP_PIC_INFO) @ 0xA00 {
        /// Width in MBs.
        31:16 => WIDTH_MBS,
        /// Height in MBs.
        15:0 => HEIGHT_MBS,
    }

    /// Input strides in macroblocks (bytesperline / 16; "cedar rounds down", §1.2).
    IspPicStride0(ISP_PIC_STRIDE0) @ 0xA04 {
        /// Input stride in MBs.
        26:16 => INPUT_STRIDE_MBS,
        /// Thumbnail stride in MBs.
        9:0 => THUMB_STRIDE_MBS,
    }

    /// ISP control: input format and transforms.
    IspCtrl(ISP_CTRL) @ 0xA08 {
        /// Input format, see `IspCtrl::FORMAT_*`.
        31:27 => FORMAT,
        /// Horizontal flip.
        22:22 => HFLIP,
        /// Rotation 0/90/180/270 = 0..3.
        21:20 => ROTATION,
        /// Thumbnail enable.
        19:19 => THUMB_EN,
        /// Scaler enable.
        16:16 => SCALER_EN,
        /// Colour space: 0 BT.601, 1 BT.709, 2 YCC.
        2:1 => COLORSPACE,
        /// ISP interrupt enable.
        0:0 => ISP_IRQ_EN,
    }

    /// Scaler size in MBs; Bootlin writes the picture size even with the scaler off (§1.2).
    IspScalerSize(ISP_SCALER_SIZE) @ 0xA2C {
        /// Height in MBs.
        26:16 => HEIGHT_MBS,
        /// Width in MBs.
        10:0 => WIDTH_MBS,
    }

    /// Scaler/thumbnail output luma address (unused for encoding, §1.2).
    IspOutputLuma(ISP_OUTPUT_LUMA) @ 0xA70 { 31:0 => ADDR }
    /// Scaler/thumbnail output chroma address (unused for encoding, §1.2).
    IspOutputChroma(ISP_OUTPUT_CHROMA) @ 0xA74 { 31:0 => ADDR }
    /// Source Y plane bus address.
    IspInputLuma(ISP_INPUT_LUMA_ADDR) @ 0xA78 { 31:0 => ADDR }
    /// Source UV plane (NV12) or U plane bus address.
    IspInputChroma0(ISP_INPUT_CHROMA0_ADDR) @ 0xA7C { 31:0 => ADDR }
    /// Source V plane bus address (planar formats only).
    IspInputChroma1(ISP_INPUT_CHROMA1_ADDR) @ 0xA80 { 31:0 => ADDR }

    // ---- AVC encoder (cedrus.md §1.3) -----------------------------------------------------

    /// Picture/slice parameters.
    AvcPara0(AVC_PARA0) @ 0xB04 {
        /// Disables emulation-prevention (0x03) insertion, for put-bits and slice data.
        31:31 => EPTB_DIS,
        /// Stuff zero after 0xFF.
        30:30 => STUFF_ZERO_AFTER_FF_EN,
        /// Multi-slice mode.
        29:29 => SLICE_MODE_EN,
        /// Reference picture reorder flag.
        28:28 => REF_PIC_REORDER_FLAG,
        /// frame_num (Bootlin always writes 0).
        27:24 => FRAME_NUM,
        /// slice_beta_offset_div2, 4-bit two's complement.
        23:20 => BETA_OFFSET_DIV2,
        /// slice_alpha_c0_offset_div2, 4-bit two's complement.
        19:16 => ALPHA_OFFSET_DIV2,
        /// idr_pic_id.
        15:15 => IDR_PIC_ID,
        /// disable_deblocking_filter_idc: 0 on, 1 off, 2 off at slice boundaries.
        13:12 => DEBLOCK_IDC,
        /// "FIX_MODE_NUM": cabac_init_idc.
        11:10 => CABAC_INIT_IDC,
        /// CABAC context init method.
        9:9 => CTX_INIT_METHOD,
        /// Entropy mode: 0 CAVLC, 1 CABAC.
        8:8 => ENTROPY_CABAC,
        /// Slice type: 0 I, 1 P, 2 P-skipped, 3 B.
        5:4 => SLICE_TYPE,
        /// Reference picture type: 0 frame, 1 top field, 2 bottom field.
        3:2 => REF_PIC_TYPE,
        /// Picture type: 0 frame, 1 top field, 2 bottom field.
        1:0 => PIC_TYPE,
    }

    /// QP and rate-control parameters (V3s layout; older VE differs, §1.3).
    AvcPara1(AVC_PARA1) @ 0xB08 {
        /// Mode optimisation enable.
        31:31 => MODE_OPTIMIZE_EN,
        /// Mode optimisation parameter.
        30:28 => MODE_OPTIMIZE_PAR,
        /// MV clipping enable.
        26:26 => CLIP_MV_EN,
        /// MV clipping parameter.
        25:24 => CLIP_MV_PAR,
        /// Temporal-filter history output disable.
        19:19 => TEMP_FILTER_HIS_OUT_DIS,
        /// chroma_qp_index_offset, 0..7 only (§6: negative offsets impossible).
        18:16 => CHROMA_QP_OFFSET,
        /// ceil(stride_mbs / 48), see [`stride_mbs_div_48`].
        13:10 => STRIDE_MBS_DIV_48,
        /// Tile32 output enable.
        9:9 => TILE32_OUTPUT_EN,
        /// Dynamic ME enable.
        8:8 => DYNAMIC_ME_EN,
        /// Rate-control mode: 0 = fixed QP (the only documented mode, §6).
        7:6 => RC_MODE,
        /// Fixed QP.
        5:0 => QP,
    }

    /// Undocumented; Bootlin writes 0 (§1.3).
    AvcPara2(AVC_PARA2) @ 0xB0C { 31:0 => VALUE }

    /// Motion-estimation parameters; Bootlin writes 0x00010004 (§1.3).
    AvcMePara(AVC_ME_PARA) @ 0xB10 {
        /// Quarter-pixel split off.
        21:21 => QPIX_SPLIT_OFF,
        /// Quarter-pixel smart off.
        20:20 => QPIX_SMART_OFF,
        /// T-pixel to DRAM.
        19:19 => TPIX_TO_DRAM,
        /// Deblocking buffer in DRAM (DEBLK_ADDR) instead of internal SRAM.
        18:18 => DEBLK_TO_DRAM,
        /// ROI enable.
        17:17 => ROI_EN,
        /// MV-info write-back disable (then MV_BUF_ADDR is unused).
        16:16 => WB_MV_INFO_DIS,
        /// Split-MB disable.
        15:15 => SPLIT_MB_DIS,
        /// Intra 4x4 disable.
        14:14 => INTRA_4X4_DIS,
        /// Intra plane prediction disable.
        13:13 => INTRA_PLAN_DIS,
        /// Quantisation threshold disable.
        12:12 => QUANT_THRESHOLD_DIS,
        /// Quarter-pixel 16x16 off.
        11:11 => QPIX_16X16_OFF_EN,
        /// Skip-MB disable.
        9:9 => SKIP_MB_DIS,
        /// Motion estimation disable.
        8:8 => ME_DIS,
        /// Coarse cost control.
        7:6 => COARSE_COST_CTRL,
        /// IME time priority.
        5:5 => IME_TIME_PRIO,
        /// QSMTSS refine disable.
        4:4 => QSMTSS_REFINE_DIS,
        /// QSMTSS disable.
        3:3 => QSMTSS_DIS,
        /// Fractional ME search level (Bootlin: 2).
        2:1 => FME_SEARCH_LEVEL,
        /// Intra prediction disable.
        0:0 => INTRA_PRED_DIS,
    }

    /// Interrupt enable (Bootlin: STALL | FINISH = 0x3; old code wrote 0xF).
    AvcIntEn(AVC_INT_EN) @ 0xB14 {
        /// MB overtime interrupt.
        2:2 => MB_OVERTIME,
        /// Stall interrupt.
        1:1 => STALL,
        /// Finish interrupt.
        0:0 => FINISH,
    }

    /// Trigger/command register.
    AvcStartTrig(AVC_STARTTRIG) @ 0xB18 {
        /// Encode mode: 0 H.264, 1 JPEG, 2 VP8.
        17:16 => ENC_MODE,
        /// Number of bits (1..32) for PUT_BITS; 6 bits wide, so 32 fits (§1.3).
        13:8 => NUM_BITS,
        /// Command, see `AvcStartTrig::CMD_*`.
        3:0 => CMD,
    }

    /// Status, write 1 to clear (§1.3, §2.3).
    AvcStatus(AVC_STATUS) @ 0xB1C {
        /// Put-bits ready: poll before every put-bits command.
        9:9 => PUT_BITS_READY,
        /// Overtime.
        3:3 => OVERTIME,
        /// MB overtime.
        2:2 => OVERTIME_MB,
        /// Stall (most likely "output buffer full", inferred, §2.3).
        1:1 => STALL,
        /// Encode finished.
        0:0 => FINISH,
    }

    /// Value for put-bits, right-aligned ("BASIC_BITS" in jemk).
    AvcPutBitsData(AVC_PUTBITSDATA) @ 0xB20 { 31:0 => VALUE }
    /// MB overtime threshold/counter (meaning undocumented, §8).
    AvcOvertimeMb(AVC_OVERTIME_MB) @ 0xB24 { 31:0 => VALUE }

    /// Cyclic intra refresh.
    AvcCyclicIntraRefresh(AVC_CYCLIC_INTRA_REFRESH) @ 0xB28 {
        /// Enable.
        31:31 => EN,
        /// Start column in MBs.
        23:16 => START_MB,
        /// End column in MBs.
        7:0 => END_MB,
    }

    /// Rate-control init (undocumented, §8).
    AvcRcInit(AVC_RC_INIT) @ 0xB2C { 31:0 => VALUE }
    /// RC MAD threshold 0.
    AvcRcMadTh0(AVC_RC_MAD_TH0) @ 0xB30 { 31:0 => VALUE }
    /// RC MAD threshold 1.
    AvcRcMadTh1(AVC_RC_MAD_TH1) @ 0xB34 { 31:0 => VALUE }
    /// RC MAD threshold 2.
    AvcRcMadTh2(AVC_RC_MAD_TH2) @ 0xB38 { 31:0 => VALUE }
    /// RC MAD threshold 3.
    AvcRcMadTh3(AVC_RC_MAD_TH3) @ 0xB3C { 31:0 => VALUE }
    /// RC MAD sum.
    AvcRcMadSum(AVC_RC_MAD_SUM) @ 0xB40 { 31:0 => VALUE }

    /// Temporal filter parameters.
    AvcTemporalFilterPar(AVC_TEMPORAL_FILTER_PAR) @ 0xB44 {
        /// Enable.
        31:31 => EN,
        /// Fixed picture variance enable.
        30:30 => FIXED_VAR_EN,
        /// Parameter 2.
        29:16 => PAR2,
        /// Parameter 1.
        14:8 => PAR1,
        /// Parameter 0.
        7:0 => PAR0,
    }

    /// Dynamic ME parameters 0.
    AvcDynamicMePar0(AVC_DYNAMIC_ME_PAR0) @ 0xB48 {
        /// High threshold.
        25:16 => TH_HI,
        /// Low threshold.
        9:0 => TH_LO,
    }
    /// Dynamic ME parameters 1.
    AvcDynamicMePar1(AVC_DYNAMIC_ME_PAR1) @ 0xB4C {
        /// High threshold.
        25:16 => TH_HI,
        /// Low threshold.
        9:0 => TH_LO,
    }

    /// MAD statistic.
    AvcMad(AVC_MAD) @ 0xB50 { 31:0 => VALUE }
    /// Residual bits statistic.
    AvcResidualBits(AVC_RESIDUAL_BITS) @ 0xB54 { 31:0 => VALUE }
    /// Header bits statistic.
    AvcHeaderBits(AVC_HEADER_BITS) @ 0xB58 { 31:0 => VALUE }
    /// ME info statistic.
    AvcMeInfo(AVC_ME_INFO) @ 0xB5C { 31:0 => VALUE }
    /// MV buffer address; 0 when ME_PARA.WB_MV_INFO_DIS is set (§1.3, §3).
    AvcMvBufAddr(AVC_MV_BUF_ADDR) @ 0xB60 { 31:0 => ADDR }

    /// Output bitstream start address.
    AvcStmStart(AVC_STM_START_ADDR) @ 0xB80 { 31:0 => ADDR }
    /// Output bitstream end address, inclusive: start + size − 1.
    AvcStmEnd(AVC_STM_END_ADDR) @ 0xB84 { 31:0 => ADDR }
    /// Output bitstream bit offset (Bootlin writes 0).
    AvcStmBitOffset(AVC_STM_BIT_OFFSET) @ 0xB88 { 31:0 => BITS }
    /// Output bitstream capacity in bits: size × 8.
    AvcStmBitMax(AVC_STM_BIT_MAX) @ 0xB8C { 31:0 => BITS }
    /// Bits written so far: put-bits headers plus slice data.
    AvcStmBitLen(AVC_STM_BIT_LEN) @ 0xB90 { 31:0 => BITS }

    /// Reference 0 luma (previous reconstruction).
    AvcRef0Y(AVC_REF0_Y) @ 0xBA0 { 31:0 => ADDR }
    /// Reference 0 chroma.
    AvcRef0C(AVC_REF0_C) @ 0xBA4 { 31:0 => ADDR }
    /// Reference 1 luma (unused).
    AvcRef1Y(AVC_REF1_Y) @ 0xBA8 { 31:0 => ADDR }
    /// Reference 1 chroma (unused).
    AvcRef1C(AVC_REF1_C) @ 0xBAC { 31:0 => ADDR }
    /// Reconstruction luma.
    AvcRecY(AVC_REC_Y) @ 0xBB0 { 31:0 => ADDR }
    /// Reconstruction chroma (Bootlin: REC luma + luma size).
    AvcRecC(AVC_REC_C) @ 0xBB4 { 31:0 => ADDR }
    /// Sub-pixel buffer of the reference frame.
    AvcSubpixLast(AVC_SUBPIX_ADDR_LAST) @ 0xBB8 { 31:0 => ADDR }
    /// Sub-pixel buffer of the current frame.
    AvcSubpixNew(AVC_SUBPIX_ADDR_NEW) @ 0xBBC { 31:0 => ADDR }
    /// MB-info buffer.
    AvcMbInfo(AVC_MB_INFO_ADDR) @ 0xBC0 { 31:0 => ADDR }
    /// Deblocking buffer; 0 = internal SRAM (needs the SRAM C1 claim, §3).
    AvcDeblk(AVC_DEBLK_ADDR) @ 0xBC4 { 31:0 => ADDR }
    /// Temporal-filter count buffer.
    AvcTfcnt(AVC_TFCNT_ADDR) @ 0xBC8 { 31:0 => ADDR }
    /// ROI QP offset.
    AvcRoiQpOffset(AVC_ROI_QP_OFFSET) @ 0xBCC { 31:0 => VALUE }
    /// ROI area 0.
    AvcRoi0Area(AVC_ROI_0_AREA) @ 0xBD0 { 31:0 => VALUE }
    /// ROI area 1.
    AvcRoi1Area(AVC_ROI_1_AREA) @ 0xBD4 { 31:0 => VALUE }
    /// ROI area 2.
    AvcRoi2Area(AVC_ROI_2_AREA) @ 0xBD8 { 31:0 => VALUE }
    /// ROI area 3.
    AvcRoi3Area(AVC_ROI_3_AREA) @ 0xBDC { 31:0 => VALUE }
}

impl VeMode {
    /// DEC_MODE: MPEG decoder.
    pub const DEC_MPEG: u32 = 0;
    /// DEC_MODE: H.264/VP8 decoder.
    pub const DEC_H264: u32 = 1;
    /// DEC_MODE: H.265 decoder.
    pub const DEC_H265: u32 = 4;
    /// DEC_MODE: decoder disabled (required while encoding on V3s, §1.1).
    pub const DEC_DISABLED: u32 = 7;
    /// DDR_MODE value BW_128.
    pub const DDR_BW_128: u32 = 3;
    /// DDR_MODE value BW_256.
    pub const DDR_BW_256: u32 = 2;
    /// The low byte Bootlin leaves in VE_MODE while encoding: ENC_ENABLE | ENC_ISP_ENABLE |
    /// DEC_DISABLED (§1.1).
    pub const ENCODE_LOW_BYTE: u32 = 0xC7;
}

impl IspCtrl {
    /// FORMAT: YUV420SP (NV12), the only format Bootlin exposes (§1.2).
    pub const FORMAT_NV12: u32 = 0;
    /// FORMAT: YVU420SP (NV21), untested (§1.2).
    pub const FORMAT_NV21: u32 = 4;
    /// FORMAT: YUV420P (I420), untested.
    pub const FORMAT_I420: u32 = 24;
    /// FORMAT: YVU420P (YV12), untested.
    pub const FORMAT_YV12: u32 = 26;
    /// COLORSPACE: BT.601.
    pub const CS_BT601: u32 = 0;
    /// COLORSPACE: BT.709.
    pub const CS_BT709: u32 = 1;
    /// COLORSPACE: YCC.
    pub const CS_YCC: u32 = 2;
}

impl AvcPara0 {
    /// SLICE_TYPE: I.
    pub const SLICE_TYPE_I: u32 = 0;
    /// SLICE_TYPE: P.
    pub const SLICE_TYPE_P: u32 = 1;
    /// SLICE_TYPE: P-skipped.
    pub const SLICE_TYPE_P_SKIPPED: u32 = 2;
    /// SLICE_TYPE: B (unused by any open implementation, §6).
    pub const SLICE_TYPE_B: u32 = 3;
}

impl AvcMePara {
    /// The value Bootlin writes on V3s: WB_MV_INFO_DIS | FME_SEARCH_LEVEL(2) (§1.3).
    pub const BOOTLIN: u32 = 0x0001_0004;
}

impl AvcStartTrig {
    /// ENC_MODE: H.264.
    pub const MODE_H264: u32 = 0;
    /// ENC_MODE: JPEG.
    pub const MODE_JPEG: u32 = 1;
    /// ENC_MODE: VP8.
    pub const MODE_VP8: u32 = 2;
    /// CMD: put `NUM_BITS` bits of AVC_PUTBITSDATA.
    pub const CMD_PUT_BITS: u32 = 1;
    /// CMD: byte align.
    pub const CMD_BYTE_ALIGN: u32 = 2;
    /// CMD: put AVC_PUTBITSDATA as se(v).
    pub const CMD_PUT_VLC_SE: u32 = 4;
    /// CMD: put AVC_PUTBITSDATA as ue(v).
    pub const CMD_PUT_VLC_UE: u32 = 5;
    /// CMD: start encoding.
    pub const CMD_ENC_START: u32 = 8;
    /// CMD: continue encoding (slice mode).
    pub const CMD_ENC_CONTINUE: u32 = 9;

    /// The put-bits command word `(nbits << 8) | PUT_BITS` (§2.2).
    pub const fn put_bits(nbits: u32) -> Self {
        Self(0)
            .with(Self::NUM_BITS, nbits)
            .with(Self::CMD, Self::CMD_PUT_BITS)
    }
    /// The trigger word for an H.264 encode: 0x00000008 (§2.1 step 6).
    pub const fn enc_start() -> Self {
        Self(0)
            .with(Self::ENC_MODE, Self::MODE_H264)
            .with(Self::CMD, Self::CMD_ENC_START)
    }
}

impl AvcStatus {
    /// The bits that end a job (FINISH, STALL, OVERTIME_MB, OVERTIME); also the value written
    /// to clear them (Bootlin's mask 0xF, §2.3).
    pub const DONE_MASK: u32 = 0xF;
}

/// Name of the register at `offset` (as in cedrus.md), for traces and debugfs.
pub fn name_of(offset: u32) -> Option<&'static str> {
    REGISTERS
        .iter()
        .find(|(o, _)| *o == offset)
        .map(|(_, n)| *n)
}

// ---- Limits and buffer sizes (cedrus.md §3) ------------------------------------------------

/// Largest width in MBs we accept: 1920 pixels. The V3s limit is undocumented (§3, §8); the
/// datasheet claims 1080p@30 (§6), so 1920×1088 is the strict reading.
pub const MAX_WIDTH_MBS: u32 = 120;
/// Largest height in MBs we accept: 1088 lines (see [`MAX_WIDTH_MBS`]).
pub const MAX_HEIGHT_MBS: u32 = 68;

const fn align_up(v: u32, a: u32) -> Option<u32> {
    // `a` is a power of two here.
    match v.checked_add(a.wrapping_sub(1)) {
        Some(x) => Some(x & !a.wrapping_sub(1)),
        None => None,
    }
}

const fn mul(a: u32, b: u32) -> Option<u32> {
    a.checked_mul(b)
}

/// AVC_PARA1.STRIDE_MBS_DIV_48 = ceil(stride_mbs / 48) (§1.3).
pub const fn stride_mbs_div_48(stride_mbs: u32) -> u32 {
    // u32 division only (ARCHITECTURE.md §3); stride_mbs is an 11-bit field.
    (stride_mbs.saturating_add(47)) / 48
}

/// Luma stride (bytes) of the reconstruction buffer: ALIGN(w, 2) · 16 (§3).
pub const fn rec_stride(w_mbs: u32) -> Option<u32> {
    match align_up(w_mbs, 2) {
        Some(w) => mul(w, 16),
        None => None,
    }
}

/// Reconstruction luma bytes: ALIGN(w,2)·16 × ALIGN(h+1,4)·16 (§3, Bootlin).
pub const fn rec_luma_bytes(w_mbs: u32, h_mbs: u32) -> Option<u32> {
    let (Some(stride), Some(h1)) = (rec_stride(w_mbs), h_mbs.checked_add(1)) else {
        return None;
    };
    let Some(rows) = align_up(h1, 4) else {
        return None;
    };
    let Some(rows) = mul(rows, 16) else {
        return None;
    };
    mul(stride, rows)
}

/// Reconstruction chroma bytes: ALIGN(w,2)·16 × ALIGN(ceil(h/2),4)·16, placed after luma (§3).
pub const fn rec_chroma_bytes(w_mbs: u32, h_mbs: u32) -> Option<u32> {
    let Some(stride) = rec_stride(w_mbs) else {
        return None;
    };
    let Some(rows) = align_up(h_mbs.div_ceil(2), 4) else {
        return None;
    };
    let Some(rows) = mul(rows, 16) else {
        return None;
    };
    mul(stride, rows)
}

/// Whole reconstruction buffer (luma + chroma) aligned up to 4 KiB (§3).
pub const fn rec_bytes(w_mbs: u32, h_mbs: u32) -> Option<u32> {
    let (Some(l), Some(c)) = (rec_luma_bytes(w_mbs, h_mbs), rec_chroma_bytes(w_mbs, h_mbs)) else {
        return None;
    };
    match l.checked_add(c) {
        Some(t) => align_up(t, 4096),
        None => None,
    }
}

/// Sub-pixel buffer bytes: (ALIGN_DOWN((w+47)·2/3, 32) + ALIGN(w,32)·2) × ((16h+72)/8)
/// (§3, Bootlin; about 50 KB at 1080p).
pub const fn subpix_bytes(w_mbs: u32, h_mbs: u32) -> Option<u32> {
    let Some(a) = w_mbs.checked_add(47) else {
        return None;
    };
    let Some(a) = mul(a, 2) else { return None };
    let a = (a / 3) & !31;
    let Some(b) = align_up(w_mbs, 32) else {
        return None;
    };
    let Some(b) = mul(b, 2) else { return None };
    let Some(cols) = a.checked_add(b) else {
        return None;
    };
    let Some(rows) = mul(h_mbs, 16) else {
        return None;
    };
    let Some(rows) = rows.checked_add(72) else {
        return None;
    };
    mul(cols, rows / 8)
}

/// MB-info buffer bytes: ceil(w/32) × 4 KiB (§3, Bootlin).
pub const fn mb_info_bytes(w_mbs: u32) -> Option<u32> {
    match align_up(w_mbs, 32) {
        Some(w) => mul(w / 32, 4096),
        None => None,
    }
}

/// MV buffer bytes when MV write-back is enabled: ALIGN(w,4) × h × 8 (§3, jemk's formula for
/// the older VE; unverified on V3s, which Bootlin runs with write-back disabled).
pub const fn mv_bytes(w_mbs: u32, h_mbs: u32) -> Option<u32> {
    let Some(w) = align_up(w_mbs, 4) else {
        return None;
    };
    let Some(x) = mul(w, h_mbs) else { return None };
    mul(x, 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_sorted_and_unique() {
        for w in REGISTERS.windows(2) {
            assert!(w[0].0 < w[1].0, "{:?}", w);
        }
        assert!(REGISTERS.iter().all(|(o, _)| *o < VE_WINDOW && o % 4 == 0));
        assert_eq!(name_of(0xB1C), Some("AVC_STATUS"));
        assert_eq!(name_of(0xB00), None);
    }

    #[test]
    fn fields() {
        assert_eq!(AvcStartTrig::put_bits(32).raw(), (32 << 8) | 1);
        assert_eq!(AvcStartTrig::enc_start().raw(), 8);
        assert_eq!(
            AvcMePara::default()
                .with_bit(AvcMePara::WB_MV_INFO_DIS, true)
                .with(AvcMePara::FME_SEARCH_LEVEL, 2)
                .raw(),
            AvcMePara::BOOTLIN
        );
        assert_eq!(AvcPara0::BETA_OFFSET_DIV2.mask(), 0x00F0_0000);
        assert_eq!(
            AvcPara0::default()
                .with(AvcPara0::ALPHA_OFFSET_DIV2, 0x1F)
                .raw(),
            0x000F_0000
        );
        assert!(AvcPara1::default().try_with(AvcPara1::QP, 64).is_none());
        assert_eq!(IspPicStride0::INPUT_STRIDE_MBS.mask(), 0x07FF_0000);
        assert_eq!(AvcPutBitsData::VALUE.mask(), u32::MAX);
        assert_eq!(
            VeMode::default()
                .with_bit(VeMode::ENC_ENABLE, true)
                .with_bit(VeMode::ENC_ISP_ENABLE, true)
                .with(VeMode::DEC_MODE, VeMode::DEC_DISABLED)
                .raw(),
            VeMode::ENCODE_LOW_BYTE
        );
    }

    #[test]
    fn sizes_match_note() {
        // 1080p: w = 120, h = 68 (§3).
        assert_eq!(rec_luma_bytes(120, 68), Some(2_211_840));
        assert_eq!(rec_chroma_bytes(120, 68), Some(1_105_920));
        assert_eq!(subpix_bytes(120, 68), Some(352 * 145));
        assert_eq!(mb_info_bytes(120), Some(4 * 4096));
        assert_eq!(stride_mbs_div_48(120), 3);
        assert_eq!(stride_mbs_div_48(48), 1);
        assert_eq!(rec_bytes(u32::MAX, 1), None);
        assert_eq!(subpix_bytes(u32::MAX, u32::MAX), None);
    }
}
