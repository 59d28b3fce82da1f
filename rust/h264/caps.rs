// SPDX-License-Identifier: GPL-2.0
//! What a backend can encode ([`Capabilities`]), against which the frame state is constrained
//! (uapi.md §8.4 step 2), and which NAL units its hardware writes itself.

use super::state::StateError;

/// The hardware writes the access unit delimiter.
pub const HW_AUD: u32 = 1 << 0;
/// The hardware writes the SPS.
pub const HW_SPS: u32 = 1 << 1;
/// The hardware writes the PPS.
pub const HW_PPS: u32 = 1 << 2;
/// The hardware writes the slice NAL header and slice header (VEPU2/H1, uapi.md §2.5).
pub const HW_SLICE_HEADER: u32 = 1 << 3;

/// What a backend can encode (reported by the codec ops, ARCHITECTURE.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// CABAC entropy coding (CAVLC is always available).
    pub cabac: bool,
    /// 8x8 transform (High profile).
    pub transform_8x8: bool,
    /// Inter prediction (P frames). Without it every frame is coded as I.
    pub inter: bool,
    /// Most reference frames the backend can use (reconstruction slots minus the current one).
    pub max_ref_frames: u8,
    /// POC type the backend needs (VEPU2 writes slice headers with type 2), if any.
    pub forced_poc_type: Option<u8>,
    /// log2_max_frame_num_minus4 the backend needs, if any.
    pub forced_log2_max_frame_num_minus4: Option<u8>,
    /// log2_max_pic_order_cnt_lsb_minus4 the backend needs, if any.
    pub forced_log2_max_poc_lsb_minus4: Option<u8>,
    /// `HW_*` bits: the units the hardware writes itself.
    pub hw_headers: u32,
    /// Required alignment of the coded width, in pixels (≥ 16).
    pub width_align: u32,
    /// Required alignment of the coded height, in pixels (≥ 16).
    pub height_align: u32,
    /// Smallest coded width.
    pub min_width: u32,
    /// Smallest coded height.
    pub min_height: u32,
    /// Largest coded width.
    pub max_width: u32,
    /// Largest coded height.
    pub max_height: u32,
    /// Highest level_idc the backend can sustain.
    pub max_level_idc: u8,
}

impl Capabilities {
    /// Checks the description itself: forced fields in their syntax ranges (POC type 0 or 2),
    /// at most 16 references, non-zero size limits.
    pub fn check(&self) -> Result<(), StateError> {
        let ok = self.forced_poc_type.is_none_or(|t| t == 0 || t == 2)
            && self
                .forced_log2_max_frame_num_minus4
                .is_none_or(|v| v <= 12)
            && self.forced_log2_max_poc_lsb_minus4.is_none_or(|v| v <= 12)
            && self.max_ref_frames <= 16
            && self.min_width <= self.max_width
            && self.min_height <= self.max_height
            && self.max_width > 0
            && self.max_height > 0;
        if ok {
            Ok(())
        } else {
            Err(StateError::Capabilities)
        }
    }
}
