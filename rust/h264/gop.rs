// SPDX-License-Identifier: GPL-2.0
//! Frame-type decisions for the stateful node and the stateless node's auto mode
//! (uapi.md §8.6): IDR every `GOP_SIZE` frames or on `FORCE_KEY_FRAME`, optional non-IDR I
//! frames every `H264_I_PERIOD`, and the frame_num / POC / idr_pic_id counters, producing the
//! same ENCODE_PARAMS a stateless client (GStreamer's v4l2slh264enc, uapi.md §5) would send.

use super::uapi::*;

/// GOP settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GopConfig {
    /// Frames from one IDR to the next (`MPEG_VIDEO_GOP_SIZE`); 0 = only the first frame.
    pub gop_size: u32,
    /// Frames between I frames inside a GOP (`H264_I_PERIOD`); 0 = none.
    pub i_period: u32,
    /// log2_max_frame_num_minus4 of the SPS the params go with.
    pub log2_max_frame_num_minus4: u8,
    /// log2_max_pic_order_cnt_lsb_minus4 of that SPS.
    pub log2_max_poc_lsb_minus4: u8,
    /// disable_deblocking_filter_idc for every slice.
    pub disable_deblocking_filter_idc: u8,
    /// slice_alpha_c0_offset_div2.
    pub alpha_c0_offset_div2: i8,
    /// slice_beta_offset_div2.
    pub beta_offset_div2: i8,
    /// cabac_init_idc for P slices (ignored with CAVLC by the state layer).
    pub cabac_init_idc: u8,
}

impl Default for GopConfig {
    fn default() -> Self {
        Self {
            gop_size: 30, // GStreamer's keyframe-interval default (uapi.md §5)
            i_period: 0,
            log2_max_frame_num_minus4: 12,
            log2_max_poc_lsb_minus4: 12,
            disable_deblocking_filter_idc: 0,
            alpha_c0_offset_div2: 0,
            beta_offset_div2: 0,
            cabac_init_idc: 0,
        }
    }
}

/// The GOP state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gop {
    cfg: GopConfig,
    /// Frames coded since the last IDR (the next frame's index in its GOP).
    since_idr: u32,
    frame_num: u32,
    idr_pic_id: u16,
    /// The next frame must be an IDR (start, restart, forced key frame).
    key_pending: bool,
    /// The previous frame was an IDR (consecutive IDRs need distinct idr_pic_id).
    last_was_idr: bool,
}

impl Gop {
    /// A GOP whose first frame is an IDR.
    pub fn new(cfg: GopConfig) -> Self {
        Self {
            cfg,
            since_idr: 0,
            frame_num: 0,
            idr_pic_id: 0,
            key_pending: true,
            last_was_idr: false,
        }
    }

    /// Changes the settings; takes effect from the next frame (a shorter GOP may make it an IDR).
    pub fn set_config(&mut self, cfg: GopConfig) {
        let widths_changed = cfg.log2_max_frame_num_minus4 != self.cfg.log2_max_frame_num_minus4
            || cfg.log2_max_poc_lsb_minus4 != self.cfg.log2_max_poc_lsb_minus4;
        self.cfg = cfg;
        if widths_changed {
            // New SPS: a new coded video sequence.
            self.key_pending = true;
        }
    }

    /// `FORCE_KEY_FRAME`: the next frame is an IDR.
    pub fn force_key_frame(&mut self) {
        self.key_pending = true;
    }

    /// Stream restart (STREAMON, `V4L2_ENC_CMD_START` after a drain): next frame is an IDR.
    pub fn restart(&mut self) {
        self.key_pending = true;
        self.since_idr = 0;
    }

    /// Whether the next frame will be an IDR.
    pub fn next_is_idr(&self) -> bool {
        self.key_pending || (self.cfg.gop_size != 0 && self.since_idr >= self.cfg.gop_size)
    }

    /// The parameters of the next frame; advances the counters.
    pub fn next_params(&mut self) -> H264EncodeParams {
        let mut p = H264EncodeParams {
            pic_parameter_set_id: 0,
            disable_deblocking_filter_idc: self.cfg.disable_deblocking_filter_idc.min(2),
            slice_alpha_c0_offset_div2: self.cfg.alpha_c0_offset_div2.clamp(-6, 6),
            slice_beta_offset_div2: self.cfg.beta_offset_div2.clamp(-6, 6),
            flags: 0,
            ..Default::default()
        };
        if self.next_is_idr() {
            if self.last_was_idr {
                self.idr_pic_id = self.idr_pic_id.wrapping_add(1);
            }
            self.key_pending = false;
            self.since_idr = 1;
            self.frame_num = 0;
            self.last_was_idr = true;
            p.slice_type = SLICE_TYPE_I;
            p.nal_ref_idc = 3;
            p.idr_pic_id = self.idr_pic_id;
            p.flags = ENCODE_FLAG_IDR_PIC;
            return p;
        }
        let max_fn = 1u32 << (self.cfg.log2_max_frame_num_minus4.min(12) + 4);
        let max_lsb = 1u32 << (self.cfg.log2_max_poc_lsb_minus4.min(12) + 4);
        // Every frame is a reference, so frame_num steps by one (7.4.3).
        self.frame_num = (self.frame_num + 1) & (max_fn - 1);
        let intra = self.cfg.i_period != 0 && self.since_idr % self.cfg.i_period == 0;
        p.slice_type = if intra { SLICE_TYPE_I } else { SLICE_TYPE_P };
        p.nal_ref_idc = if intra { 3 } else { 2 };
        p.frame_num = self.frame_num as u16;
        // Two POC units per frame, as for frames with both fields (8.2.1).
        p.pic_order_cnt_lsb = (self.since_idr.wrapping_mul(2) & (max_lsb - 1)) as u16;
        p.cabac_init_idc = if intra {
            0
        } else {
            self.cfg.cabac_init_idc.min(2)
        };
        self.since_idr = self.since_idr.wrapping_add(1);
        self.last_was_idr = false;
        p
    }
}

#[cfg(test)]
mod tests;
