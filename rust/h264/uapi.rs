// SPDX-License-Identifier: GPL-2.0
//! The stateless H.264 encode uAPI we implement, in one place (research/uapi.md §8.3).
//!
//! `ENCODE_PARAMS` is the May-2026 proposal's struct (uapi.md §2.5, 44 bytes); SPS and PPS are
//! mainline's `v4l2_ctrl_h264_sps`/`_pps` (1048 / 12 bytes), which the series reuses. The C
//! twin of the new definitions is `uapi/slenc-h264-enc.h`; a host test compiles it and compares
//! every size and offset with the ones asserted here, so a layout change is a one-file edit on
//! each side. GStreamer's `v4l2slh264enc` refuses to register when an element size differs
//! (uapi.md §5), hence the compile-time asserts.
//!
//! The structs are plain `#[repr(C)]` data; `from_bytes`/`to_bytes` convert from and to the
//! control payload in native byte order without `unsafe`.

use core::mem::{offset_of, size_of};

// ---------------------------------------------------------------------------------------------
// Control IDs (numeric values from mainline <linux/v4l2-controls.h>, uapi.md §8.3).

/// `V4L2_CTRL_CLASS_CODEC | 0x900`: base of the stateful codec controls.
pub const CID_CODEC_BASE: u32 = 0x0099_0900;
/// `V4L2_CTRL_CLASS_CODEC_STATELESS | 0x900` (0x00a40900).
pub const CID_CODEC_STATELESS_BASE: u32 = 0x00a4_0900;

/// `V4L2_CID_STATELESS_H264_START_CODE`: menu, see [`StartCode`].
pub const CID_STATELESS_H264_START_CODE: u32 = CID_CODEC_STATELESS_BASE + 1;
/// `V4L2_CID_STATELESS_H264_SPS` (type [`CTRL_TYPE_H264_SPS`], [`H264Sps`]).
pub const CID_STATELESS_H264_SPS: u32 = CID_CODEC_STATELESS_BASE + 2;
/// `V4L2_CID_STATELESS_H264_PPS` (type [`CTRL_TYPE_H264_PPS`], [`H264Pps`]).
pub const CID_STATELESS_H264_PPS: u32 = CID_CODEC_STATELESS_BASE + 3;
/// `V4L2_CID_STATELESS_H264_ENCODE_PARAMS` = base + 8 = 0x00a40908 (uapi.md §2.5).
pub const CID_STATELESS_H264_ENCODE_PARAMS: u32 = CID_CODEC_STATELESS_BASE + 8;

/// `V4L2_CID_MPEG_VIDEO_GOP_SIZE` (auto mode, uapi.md §8.6).
pub const CID_MPEG_VIDEO_GOP_SIZE: u32 = CID_CODEC_BASE + 203;
/// `V4L2_CID_MPEG_VIDEO_BITRATE_MODE`, see [`BitrateMode`].
pub const CID_MPEG_VIDEO_BITRATE_MODE: u32 = CID_CODEC_BASE + 206;
/// `V4L2_CID_MPEG_VIDEO_BITRATE` in bit/s.
pub const CID_MPEG_VIDEO_BITRATE: u32 = CID_CODEC_BASE + 207;
/// `V4L2_CID_MPEG_VIDEO_BITRATE_PEAK` in bit/s (VBR).
pub const CID_MPEG_VIDEO_BITRATE_PEAK: u32 = CID_CODEC_BASE + 208;
/// `V4L2_CID_MPEG_VIDEO_FRAME_RC_ENABLE`: 0 means direct QP.
pub const CID_MPEG_VIDEO_FRAME_RC_ENABLE: u32 = CID_CODEC_BASE + 215;
/// `V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME` (button, auto mode).
pub const CID_MPEG_VIDEO_FORCE_KEY_FRAME: u32 = CID_CODEC_BASE + 229;
/// `V4L2_CID_MPEG_VIDEO_AU_DELIMITER`: bool, write an AUD before each frame.
pub const CID_MPEG_VIDEO_AU_DELIMITER: u32 = CID_CODEC_BASE + 231;
/// `V4L2_CID_MPEG_VIDEO_H264_I_FRAME_QP`.
pub const CID_MPEG_VIDEO_H264_I_FRAME_QP: u32 = CID_CODEC_BASE + 350;
/// `V4L2_CID_MPEG_VIDEO_H264_P_FRAME_QP`.
pub const CID_MPEG_VIDEO_H264_P_FRAME_QP: u32 = CID_CODEC_BASE + 351;
/// `V4L2_CID_MPEG_VIDEO_H264_B_FRAME_QP`.
pub const CID_MPEG_VIDEO_H264_B_FRAME_QP: u32 = CID_CODEC_BASE + 352;
/// `V4L2_CID_MPEG_VIDEO_H264_MIN_QP`.
pub const CID_MPEG_VIDEO_H264_MIN_QP: u32 = CID_CODEC_BASE + 353;
/// `V4L2_CID_MPEG_VIDEO_H264_MAX_QP`.
pub const CID_MPEG_VIDEO_H264_MAX_QP: u32 = CID_CODEC_BASE + 354;
/// `V4L2_CID_MPEG_VIDEO_H264_CPB_SIZE` in kB (HRD buffer for RC).
pub const CID_MPEG_VIDEO_H264_CPB_SIZE: u32 = CID_CODEC_BASE + 356;
/// `V4L2_CID_MPEG_VIDEO_H264_ENTROPY_MODE` (stateful node): 0 CAVLC, 1 CABAC.
pub const CID_MPEG_VIDEO_H264_ENTROPY_MODE: u32 = CID_CODEC_BASE + 357;
/// `V4L2_CID_MPEG_VIDEO_H264_I_PERIOD` (stateful node).
pub const CID_MPEG_VIDEO_H264_I_PERIOD: u32 = CID_CODEC_BASE + 358;
/// `V4L2_CID_MPEG_VIDEO_H264_LEVEL` (stateful node), menu 0 = 1.0 … 15 = 5.1.
pub const CID_MPEG_VIDEO_H264_LEVEL: u32 = CID_CODEC_BASE + 359;
/// `V4L2_CID_MPEG_VIDEO_H264_PROFILE` (stateful node), menu 0 = baseline, 2 = main, 4 = high.
pub const CID_MPEG_VIDEO_H264_PROFILE: u32 = CID_CODEC_BASE + 363;
/// `V4L2_CID_MPEG_VIDEO_H264_VUI_EXT_SAR_HEIGHT`.
pub const CID_MPEG_VIDEO_H264_VUI_EXT_SAR_HEIGHT: u32 = CID_CODEC_BASE + 364;
/// `V4L2_CID_MPEG_VIDEO_H264_VUI_EXT_SAR_WIDTH`.
pub const CID_MPEG_VIDEO_H264_VUI_EXT_SAR_WIDTH: u32 = CID_CODEC_BASE + 365;
/// `V4L2_CID_MPEG_VIDEO_H264_VUI_SAR_ENABLE`.
pub const CID_MPEG_VIDEO_H264_VUI_SAR_ENABLE: u32 = CID_CODEC_BASE + 366;
/// `V4L2_CID_MPEG_VIDEO_H264_VUI_SAR_IDC`: menu equal to `aspect_ratio_idc` (Table E-1),
/// 17 meaning Extended_SAR (255 in the bitstream).
pub const CID_MPEG_VIDEO_H264_VUI_SAR_IDC: u32 = CID_CODEC_BASE + 367;
/// `V4L2_CID_MPEG_VIDEO_PREPEND_SPSPPS_TO_IDR`: bool; our default is 1 (uapi.md §8.3).
pub const CID_MPEG_VIDEO_PREPEND_SPSPPS_TO_IDR: u32 = CID_CODEC_BASE + 644;
/// `V4L2_CID_MPEG_VIDEO_CONSTANT_QUALITY`: 0..100 (CQ mode).
pub const CID_MPEG_VIDEO_CONSTANT_QUALITY: u32 = CID_CODEC_BASE + 645;

/// `V4L2_CTRL_TYPE_H264_SPS`.
pub const CTRL_TYPE_H264_SPS: u32 = 0x0200;
/// `V4L2_CTRL_TYPE_H264_PPS`.
pub const CTRL_TYPE_H264_PPS: u32 = 0x0201;
/// `V4L2_CTRL_TYPE_H264_ENCODE_PARAMS` (new in the series, uapi.md §2.5).
pub const CTRL_TYPE_H264_ENCODE_PARAMS: u32 = 0x0206;

/// `V4L2_MPEG_VIDEO_H264_VUI_SAR_IDC_EXTENDED`: the menu value meaning "use EXT_SAR_*".
pub const VUI_SAR_IDC_EXTENDED: u32 = 17;

/// `V4L2_CID_STATELESS_H264_START_CODE` menu values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u32)]
pub enum StartCode {
    /// `V4L2_STATELESS_H264_START_CODE_NONE`: bare NAL units.
    None = 0,
    /// `V4L2_STATELESS_H264_START_CODE_ANNEX_B`: each NAL unit after a start code (default).
    #[default]
    AnnexB = 1,
}

/// `V4L2_CID_MPEG_VIDEO_BITRATE_MODE` menu values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum BitrateMode {
    /// `V4L2_MPEG_VIDEO_BITRATE_MODE_VBR`.
    Vbr = 0,
    /// `V4L2_MPEG_VIDEO_BITRATE_MODE_CBR` (default).
    Cbr = 1,
    /// `V4L2_MPEG_VIDEO_BITRATE_MODE_CQ`.
    Cq = 2,
}

impl StartCode {
    /// Menu value to enum; `None` (the Option) for values outside the menu.
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::None),
            1 => Some(Self::AnnexB),
            _ => None,
        }
    }
}

impl BitrateMode {
    /// Menu value to enum; `None` for values outside the menu.
    pub fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Vbr),
            1 => Some(Self::Cbr),
            2 => Some(Self::Cq),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Slice types and flags.

/// `V4L2_H264_SLICE_TYPE_P`.
pub const SLICE_TYPE_P: u8 = 0;
/// `V4L2_H264_SLICE_TYPE_B`.
pub const SLICE_TYPE_B: u8 = 1;
/// `V4L2_H264_SLICE_TYPE_I`.
pub const SLICE_TYPE_I: u8 = 2;
/// `V4L2_H264_SLICE_TYPE_SP`.
pub const SLICE_TYPE_SP: u8 = 3;
/// `V4L2_H264_SLICE_TYPE_SI`.
pub const SLICE_TYPE_SI: u8 = 4;

/// `V4L2_H264_SLICE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE`, added to the decoder flags by the series.
pub const SLICE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE: u32 = 0x04;

/// `V4L2_H264_ENCODE_FLAG_IDR_PIC`.
pub const ENCODE_FLAG_IDR_PIC: u32 = 0x01;
/// `V4L2_H264_ENCODE_FLAG_FIELD_PIC`.
pub const ENCODE_FLAG_FIELD_PIC: u32 = 0x02;
/// `V4L2_H264_ENCODE_FLAG_BOTTOM_FIELD`.
pub const ENCODE_FLAG_BOTTOM_FIELD: u32 = 0x04;
/// `V4L2_H264_ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED`.
pub const ENCODE_FLAG_DIRECT_SPATIAL_MV_PRED: u32 = 0x08;
/// `V4L2_H264_ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE`.
pub const ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE: u32 = 0x10;
/// `V4L2_H264_ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS`.
pub const ENCODE_FLAG_NO_OUTPUT_OF_PRIOR_PICS: u32 = 0x20;
/// `V4L2_H264_ENCODE_FLAG_LONG_TERM_REFERENCE`.
pub const ENCODE_FLAG_LONG_TERM_REFERENCE: u32 = 0x40;

/// `V4L2_H264_SPS_CONSTRAINT_SET0_FLAG` … `SET5` are bits 0..5 of `constraint_set_flags`
/// (bit n = constraint_set*n*_flag; note the bitstream writes set0 first).
pub const SPS_CONSTRAINT_SET0_FLAG: u8 = 0x01;
/// `V4L2_H264_SPS_CONSTRAINT_SET1_FLAG`.
pub const SPS_CONSTRAINT_SET1_FLAG: u8 = 0x02;
/// `V4L2_H264_SPS_CONSTRAINT_SET2_FLAG`.
pub const SPS_CONSTRAINT_SET2_FLAG: u8 = 0x04;
/// `V4L2_H264_SPS_CONSTRAINT_SET3_FLAG`.
pub const SPS_CONSTRAINT_SET3_FLAG: u8 = 0x08;
/// `V4L2_H264_SPS_CONSTRAINT_SET4_FLAG`.
pub const SPS_CONSTRAINT_SET4_FLAG: u8 = 0x10;
/// `V4L2_H264_SPS_CONSTRAINT_SET5_FLAG`.
pub const SPS_CONSTRAINT_SET5_FLAG: u8 = 0x20;

/// `V4L2_H264_SPS_FLAG_SEPARATE_COLOUR_PLANE`.
pub const SPS_FLAG_SEPARATE_COLOUR_PLANE: u32 = 0x01;
/// `V4L2_H264_SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS`.
pub const SPS_FLAG_QPPRIME_Y_ZERO_TRANSFORM_BYPASS: u32 = 0x02;
/// `V4L2_H264_SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO`.
pub const SPS_FLAG_DELTA_PIC_ORDER_ALWAYS_ZERO: u32 = 0x04;
/// `V4L2_H264_SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED`.
pub const SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED: u32 = 0x08;
/// `V4L2_H264_SPS_FLAG_FRAME_MBS_ONLY`.
pub const SPS_FLAG_FRAME_MBS_ONLY: u32 = 0x10;
/// `V4L2_H264_SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD`.
pub const SPS_FLAG_MB_ADAPTIVE_FRAME_FIELD: u32 = 0x20;
/// `V4L2_H264_SPS_FLAG_DIRECT_8X8_INFERENCE`.
pub const SPS_FLAG_DIRECT_8X8_INFERENCE: u32 = 0x40;

/// `V4L2_H264_PPS_FLAG_ENTROPY_CODING_MODE` (CABAC).
pub const PPS_FLAG_ENTROPY_CODING_MODE: u16 = 0x0001;
/// `V4L2_H264_PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT`.
pub const PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT: u16 = 0x0002;
/// `V4L2_H264_PPS_FLAG_WEIGHTED_PRED`.
pub const PPS_FLAG_WEIGHTED_PRED: u16 = 0x0004;
/// `V4L2_H264_PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT`.
pub const PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT: u16 = 0x0008;
/// `V4L2_H264_PPS_FLAG_CONSTRAINED_INTRA_PRED`.
pub const PPS_FLAG_CONSTRAINED_INTRA_PRED: u16 = 0x0010;
/// `V4L2_H264_PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT`.
pub const PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT: u16 = 0x0020;
/// `V4L2_H264_PPS_FLAG_TRANSFORM_8X8_MODE`.
pub const PPS_FLAG_TRANSFORM_8X8_MODE: u16 = 0x0040;
/// `V4L2_H264_PPS_FLAG_SCALING_MATRIX_PRESENT`.
pub const PPS_FLAG_SCALING_MATRIX_PRESENT: u16 = 0x0080;

// ---------------------------------------------------------------------------------------------
// Structs.

/// `struct v4l2_ctrl_h264_sps` (mainline, 1048 bytes).
#[repr(C)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H264Sps {
    /// profile_idc (66 baseline, 77 main, 100 high).
    pub profile_idc: u8,
    /// `SPS_CONSTRAINT_SET*_FLAG` bits.
    pub constraint_set_flags: u8,
    /// level_idc (10 × level, 9 for level 1b in the non-baseline encoding).
    pub level_idc: u8,
    /// seq_parameter_set_id.
    pub seq_parameter_set_id: u8,
    /// chroma_format_idc (1 = 4:2:0).
    pub chroma_format_idc: u8,
    /// bit_depth_luma_minus8.
    pub bit_depth_luma_minus8: u8,
    /// bit_depth_chroma_minus8.
    pub bit_depth_chroma_minus8: u8,
    /// log2_max_frame_num_minus4 (0..=12).
    pub log2_max_frame_num_minus4: u8,
    /// pic_order_cnt_type (0..=2).
    pub pic_order_cnt_type: u8,
    /// log2_max_pic_order_cnt_lsb_minus4 (0..=12).
    pub log2_max_pic_order_cnt_lsb_minus4: u8,
    /// max_num_ref_frames.
    pub max_num_ref_frames: u8,
    /// num_ref_frames_in_pic_order_cnt_cycle (POC type 1).
    pub num_ref_frames_in_pic_order_cnt_cycle: u8,
    /// offset_for_ref_frame (POC type 1).
    pub offset_for_ref_frame: [i32; 255],
    /// offset_for_non_ref_pic (POC type 1).
    pub offset_for_non_ref_pic: i32,
    /// offset_for_top_to_bottom_field (POC type 1).
    pub offset_for_top_to_bottom_field: i32,
    /// pic_width_in_mbs_minus1.
    pub pic_width_in_mbs_minus1: u16,
    /// pic_height_in_map_units_minus1.
    pub pic_height_in_map_units_minus1: u16,
    /// `SPS_FLAG_*` bits.
    pub flags: u32,
}

/// `struct v4l2_ctrl_h264_pps` (mainline, 12 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct H264Pps {
    /// pic_parameter_set_id.
    pub pic_parameter_set_id: u8,
    /// seq_parameter_set_id.
    pub seq_parameter_set_id: u8,
    /// num_slice_groups_minus1.
    pub num_slice_groups_minus1: u8,
    /// num_ref_idx_l0_default_active_minus1.
    pub num_ref_idx_l0_default_active_minus1: u8,
    /// num_ref_idx_l1_default_active_minus1.
    pub num_ref_idx_l1_default_active_minus1: u8,
    /// weighted_bipred_idc.
    pub weighted_bipred_idc: u8,
    /// pic_init_qp_minus26.
    pub pic_init_qp_minus26: i8,
    /// pic_init_qs_minus26.
    pub pic_init_qs_minus26: i8,
    /// chroma_qp_index_offset.
    pub chroma_qp_index_offset: i8,
    /// second_chroma_qp_index_offset.
    pub second_chroma_qp_index_offset: i8,
    /// `PPS_FLAG_*` bits.
    pub flags: u16,
}

/// `struct v4l2_ctrl_h264_encode_params` (May-2026 series, 44 bytes, uapi.md §2.5).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct H264EncodeParams {
    /// nal_ref_idc (0..=3).
    pub nal_ref_idc: u8,
    /// `SLICE_TYPE_*`.
    pub slice_type: u8,
    /// pic_parameter_set_id.
    pub pic_parameter_set_id: u8,
    /// colour_plane_id (0..=2).
    pub colour_plane_id: u8,
    /// frame_num.
    pub frame_num: u16,
    /// idr_pic_id.
    pub idr_pic_id: u16,
    /// pic_order_cnt_lsb.
    pub pic_order_cnt_lsb: u16,
    /// Must be zero.
    pub reserved0: [u8; 2],
    /// delta_pic_order_cnt_bottom.
    pub delta_pic_order_cnt_bottom: i32,
    /// delta_pic_order_cnt\[0\].
    pub delta_pic_order_cnt0: i32,
    /// delta_pic_order_cnt\[1\].
    pub delta_pic_order_cnt1: i32,
    /// num_ref_idx_l0_active_minus1 (0..=31).
    pub num_ref_idx_l0_active_minus1: u8,
    /// num_ref_idx_l1_active_minus1 (0..=31).
    pub num_ref_idx_l1_active_minus1: u8,
    /// cabac_init_idc (0..=2).
    pub cabac_init_idc: u8,
    /// slice_qp_delta; overwritten by the driver's rate control (uapi.md §2.5 step 5).
    pub slice_qp_delta: i8,
    /// disable_deblocking_filter_idc (0..=2).
    pub disable_deblocking_filter_idc: u8,
    /// slice_alpha_c0_offset_div2 (-6..=6).
    pub slice_alpha_c0_offset_div2: i8,
    /// slice_beta_offset_div2 (-6..=6).
    pub slice_beta_offset_div2: i8,
    /// Must be zero.
    pub reserved1: [u8; 6],
    /// `ENCODE_FLAG_*` bits (3 bytes of implicit padding precede it).
    pub flags: u32,
}

/// Size of [`H264Sps`] as the control's `elem_size`.
pub const H264_SPS_SIZE: usize = 1048;
/// Size of [`H264Pps`] as the control's `elem_size`.
pub const H264_PPS_SIZE: usize = 12;
/// Size of [`H264EncodeParams`] as the control's `elem_size`.
pub const H264_ENCODE_PARAMS_SIZE: usize = 44;

const _: () = assert!(size_of::<H264Sps>() == H264_SPS_SIZE);
const _: () = assert!(size_of::<H264Pps>() == H264_PPS_SIZE);
const _: () = assert!(size_of::<H264EncodeParams>() == H264_ENCODE_PARAMS_SIZE);
const _: () = assert!(core::mem::align_of::<H264EncodeParams>() == 4);
const _: () = {
    assert!(offset_of!(H264Sps, num_ref_frames_in_pic_order_cnt_cycle) == 11);
    assert!(offset_of!(H264Sps, offset_for_ref_frame) == 12);
    assert!(offset_of!(H264Sps, offset_for_non_ref_pic) == 1032);
    assert!(offset_of!(H264Sps, offset_for_top_to_bottom_field) == 1036);
    assert!(offset_of!(H264Sps, pic_width_in_mbs_minus1) == 1040);
    assert!(offset_of!(H264Sps, pic_height_in_map_units_minus1) == 1042);
    assert!(offset_of!(H264Sps, flags) == 1044);
    assert!(offset_of!(H264Pps, second_chroma_qp_index_offset) == 9);
    assert!(offset_of!(H264Pps, flags) == 10);
    // uapi.md §2.5 table.
    assert!(offset_of!(H264EncodeParams, nal_ref_idc) == 0);
    assert!(offset_of!(H264EncodeParams, slice_type) == 1);
    assert!(offset_of!(H264EncodeParams, pic_parameter_set_id) == 2);
    assert!(offset_of!(H264EncodeParams, colour_plane_id) == 3);
    assert!(offset_of!(H264EncodeParams, frame_num) == 4);
    assert!(offset_of!(H264EncodeParams, idr_pic_id) == 6);
    assert!(offset_of!(H264EncodeParams, pic_order_cnt_lsb) == 8);
    assert!(offset_of!(H264EncodeParams, reserved0) == 10);
    assert!(offset_of!(H264EncodeParams, delta_pic_order_cnt_bottom) == 12);
    assert!(offset_of!(H264EncodeParams, delta_pic_order_cnt0) == 16);
    assert!(offset_of!(H264EncodeParams, delta_pic_order_cnt1) == 20);
    assert!(offset_of!(H264EncodeParams, num_ref_idx_l0_active_minus1) == 24);
    assert!(offset_of!(H264EncodeParams, num_ref_idx_l1_active_minus1) == 25);
    assert!(offset_of!(H264EncodeParams, cabac_init_idc) == 26);
    assert!(offset_of!(H264EncodeParams, slice_qp_delta) == 27);
    assert!(offset_of!(H264EncodeParams, disable_deblocking_filter_idc) == 28);
    assert!(offset_of!(H264EncodeParams, slice_alpha_c0_offset_div2) == 29);
    assert!(offset_of!(H264EncodeParams, slice_beta_offset_div2) == 30);
    assert!(offset_of!(H264EncodeParams, reserved1) == 31);
    assert!(offset_of!(H264EncodeParams, flags) == 40);
};

// ---------------------------------------------------------------------------------------------
// Byte conversion (native endianness, like the C struct in memory).

/// Cursor over a control payload; the sizes are fixed by the asserts above, so reads are in
/// bounds by construction, but it still uses checked access to stay panic-free.
struct Rd<'a> {
    b: &'a [u8],
    at: usize,
}

impl Rd<'_> {
    fn arr<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self.b.get(self.at..self.at + N) {
            out.copy_from_slice(src);
        }
        self.at += N;
        out
    }
    fn u8(&mut self) -> u8 {
        self.arr::<1>()[0]
    }
    fn i8(&mut self) -> i8 {
        self.u8() as i8
    }
    fn u16(&mut self) -> u16 {
        u16::from_ne_bytes(self.arr())
    }
    fn u32(&mut self) -> u32 {
        u32::from_ne_bytes(self.arr())
    }
    fn i32(&mut self) -> i32 {
        i32::from_ne_bytes(self.arr())
    }
}

struct Wr<'a> {
    b: &'a mut [u8],
    at: usize,
}

impl Wr<'_> {
    fn bytes(&mut self, v: &[u8]) {
        if let Some(dst) = self.b.get_mut(self.at..self.at + v.len()) {
            dst.copy_from_slice(v);
        }
        self.at += v.len();
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn i8(&mut self, v: i8) {
        self.bytes(&[v as u8]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_ne_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_ne_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.bytes(&v.to_ne_bytes());
    }
}

impl Default for H264Sps {
    fn default() -> Self {
        Self {
            profile_idc: 0,
            constraint_set_flags: 0,
            level_idc: 0,
            seq_parameter_set_id: 0,
            chroma_format_idc: 0,
            bit_depth_luma_minus8: 0,
            bit_depth_chroma_minus8: 0,
            log2_max_frame_num_minus4: 0,
            pic_order_cnt_type: 0,
            log2_max_pic_order_cnt_lsb_minus4: 0,
            max_num_ref_frames: 0,
            num_ref_frames_in_pic_order_cnt_cycle: 0,
            offset_for_ref_frame: [0; 255],
            offset_for_non_ref_pic: 0,
            offset_for_top_to_bottom_field: 0,
            pic_width_in_mbs_minus1: 0,
            pic_height_in_map_units_minus1: 0,
            flags: 0,
        }
    }
}

impl H264Sps {
    /// Decodes a control payload in place (no 1 KiB temporary on a small kernel stack).
    pub fn load_bytes(&mut self, b: &[u8; H264_SPS_SIZE]) {
        let mut r = Rd { b, at: 0 };
        self.profile_idc = r.u8();
        self.constraint_set_flags = r.u8();
        self.level_idc = r.u8();
        self.seq_parameter_set_id = r.u8();
        self.chroma_format_idc = r.u8();
        self.bit_depth_luma_minus8 = r.u8();
        self.bit_depth_chroma_minus8 = r.u8();
        self.log2_max_frame_num_minus4 = r.u8();
        self.pic_order_cnt_type = r.u8();
        self.log2_max_pic_order_cnt_lsb_minus4 = r.u8();
        self.max_num_ref_frames = r.u8();
        self.num_ref_frames_in_pic_order_cnt_cycle = r.u8();
        for o in self.offset_for_ref_frame.iter_mut() {
            *o = r.i32();
        }
        self.offset_for_non_ref_pic = r.i32();
        self.offset_for_top_to_bottom_field = r.i32();
        self.pic_width_in_mbs_minus1 = r.u16();
        self.pic_height_in_map_units_minus1 = r.u16();
        self.flags = r.u32();
    }

    /// Decodes a control payload.
    pub fn from_bytes(b: &[u8; H264_SPS_SIZE]) -> Self {
        let mut s = Self::default();
        s.load_bytes(b);
        s
    }

    /// Encodes into a control payload.
    pub fn to_bytes(&self, out: &mut [u8; H264_SPS_SIZE]) {
        let mut w = Wr { b: out, at: 0 };
        w.bytes(&[
            self.profile_idc,
            self.constraint_set_flags,
            self.level_idc,
            self.seq_parameter_set_id,
            self.chroma_format_idc,
            self.bit_depth_luma_minus8,
            self.bit_depth_chroma_minus8,
            self.log2_max_frame_num_minus4,
            self.pic_order_cnt_type,
            self.log2_max_pic_order_cnt_lsb_minus4,
            self.max_num_ref_frames,
            self.num_ref_frames_in_pic_order_cnt_cycle,
        ]);
        for &o in self.offset_for_ref_frame.iter() {
            w.i32(o);
        }
        w.i32(self.offset_for_non_ref_pic);
        w.i32(self.offset_for_top_to_bottom_field);
        w.u16(self.pic_width_in_mbs_minus1);
        w.u16(self.pic_height_in_map_units_minus1);
        w.u32(self.flags);
    }
}

impl H264Pps {
    /// Decodes a control payload.
    pub fn from_bytes(b: &[u8; H264_PPS_SIZE]) -> Self {
        let mut r = Rd { b, at: 0 };
        Self {
            pic_parameter_set_id: r.u8(),
            seq_parameter_set_id: r.u8(),
            num_slice_groups_minus1: r.u8(),
            num_ref_idx_l0_default_active_minus1: r.u8(),
            num_ref_idx_l1_default_active_minus1: r.u8(),
            weighted_bipred_idc: r.u8(),
            pic_init_qp_minus26: r.i8(),
            pic_init_qs_minus26: r.i8(),
            chroma_qp_index_offset: r.i8(),
            second_chroma_qp_index_offset: r.i8(),
            flags: r.u16(),
        }
    }

    /// Encodes into a control payload.
    pub fn to_bytes(&self, out: &mut [u8; H264_PPS_SIZE]) {
        let mut w = Wr { b: out, at: 0 };
        w.u8(self.pic_parameter_set_id);
        w.u8(self.seq_parameter_set_id);
        w.u8(self.num_slice_groups_minus1);
        w.u8(self.num_ref_idx_l0_default_active_minus1);
        w.u8(self.num_ref_idx_l1_default_active_minus1);
        w.u8(self.weighted_bipred_idc);
        w.i8(self.pic_init_qp_minus26);
        w.i8(self.pic_init_qs_minus26);
        w.i8(self.chroma_qp_index_offset);
        w.i8(self.second_chroma_qp_index_offset);
        w.u16(self.flags);
    }
}

impl H264EncodeParams {
    /// The control's default value (uapi.md §8.3): an IDR I frame, nal_ref_idc 1.
    pub const DEFAULT_CTRL: Self = Self {
        nal_ref_idc: 1,
        slice_type: SLICE_TYPE_I,
        pic_parameter_set_id: 0,
        colour_plane_id: 0,
        frame_num: 0,
        idr_pic_id: 0,
        pic_order_cnt_lsb: 0,
        reserved0: [0; 2],
        delta_pic_order_cnt_bottom: 0,
        delta_pic_order_cnt0: 0,
        delta_pic_order_cnt1: 0,
        num_ref_idx_l0_active_minus1: 0,
        num_ref_idx_l1_active_minus1: 0,
        cabac_init_idc: 0,
        slice_qp_delta: 0,
        disable_deblocking_filter_idc: 0,
        slice_alpha_c0_offset_div2: 0,
        slice_beta_offset_div2: 0,
        reserved1: [0; 6],
        flags: ENCODE_FLAG_IDR_PIC,
    };

    /// True for an IDR picture.
    pub fn is_idr(&self) -> bool {
        self.flags & ENCODE_FLAG_IDR_PIC != 0
    }

    /// Decodes a control payload (padding bytes 37..40 are ignored).
    pub fn from_bytes(b: &[u8; H264_ENCODE_PARAMS_SIZE]) -> Self {
        let mut r = Rd { b, at: 0 };
        Self {
            nal_ref_idc: r.u8(),
            slice_type: r.u8(),
            pic_parameter_set_id: r.u8(),
            colour_plane_id: r.u8(),
            frame_num: r.u16(),
            idr_pic_id: r.u16(),
            pic_order_cnt_lsb: r.u16(),
            reserved0: r.arr(),
            delta_pic_order_cnt_bottom: r.i32(),
            delta_pic_order_cnt0: r.i32(),
            delta_pic_order_cnt1: r.i32(),
            num_ref_idx_l0_active_minus1: r.u8(),
            num_ref_idx_l1_active_minus1: r.u8(),
            cabac_init_idc: r.u8(),
            slice_qp_delta: r.i8(),
            disable_deblocking_filter_idc: r.u8(),
            slice_alpha_c0_offset_div2: r.i8(),
            slice_beta_offset_div2: r.i8(),
            reserved1: r.arr(),
            flags: {
                let _pad: [u8; 3] = r.arr();
                r.u32()
            },
        }
    }

    /// Encodes into a control payload (padding written as zeros).
    pub fn to_bytes(&self, out: &mut [u8; H264_ENCODE_PARAMS_SIZE]) {
        let mut w = Wr { b: out, at: 0 };
        w.u8(self.nal_ref_idc);
        w.u8(self.slice_type);
        w.u8(self.pic_parameter_set_id);
        w.u8(self.colour_plane_id);
        w.u16(self.frame_num);
        w.u16(self.idr_pic_id);
        w.u16(self.pic_order_cnt_lsb);
        w.bytes(&self.reserved0);
        w.i32(self.delta_pic_order_cnt_bottom);
        w.i32(self.delta_pic_order_cnt0);
        w.i32(self.delta_pic_order_cnt1);
        w.u8(self.num_ref_idx_l0_active_minus1);
        w.u8(self.num_ref_idx_l1_active_minus1);
        w.u8(self.cabac_init_idc);
        w.i8(self.slice_qp_delta);
        w.u8(self.disable_deblocking_filter_idc);
        w.i8(self.slice_alpha_c0_offset_div2);
        w.i8(self.slice_beta_offset_div2);
        w.bytes(&self.reserved1);
        w.bytes(&[0; 3]);
        w.u32(self.flags);
    }
}

#[cfg(test)]
mod tests;
