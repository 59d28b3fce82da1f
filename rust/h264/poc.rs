// SPDX-License-Identifier: GPL-2.0
//! Picture order count as a decoder derives it (H.264 8.2.1.1 for type 0, 8.2.1.3 for type 2),
//! for frames. The encoder keeps one of these in step with the stream so the DPB knows each
//! reference's POC exactly as the decoder will.

use super::uapi::{H264EncodeParams, H264Sps};

/// Errors of the POC derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PocError {
    /// POC type 1 is not implemented (the state layer refuses it).
    UnsupportedType,
}

/// The decoder-side POC state carried between pictures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PocState {
    /// prevPicOrderCntMsb / prevPicOrderCntLsb (type 0): of the previous reference picture.
    prev_msb: i32,
    prev_lsb: u32,
    /// prevFrameNumOffset and prevFrameNum (type 2).
    prev_frame_num_offset: u32,
    prev_frame_num: u32,
}

impl PocState {
    /// Derives the POC of the picture `p` and advances the state past it.
    pub fn next(&mut self, sps: &H264Sps, p: &H264EncodeParams) -> Result<i32, PocError> {
        let idr = p.is_idr();
        let is_ref = p.nal_ref_idc != 0;
        let frame_num = p.frame_num as u32;
        let max_frame_num = 1u32 << (sps.log2_max_frame_num_minus4.min(12) + 4);
        match sps.pic_order_cnt_type {
            0 => {
                let max = 1u32 << (sps.log2_max_pic_order_cnt_lsb_minus4.min(12) + 4);
                let lsb = p.pic_order_cnt_lsb as u32 & (max - 1);
                let (prev_msb, prev_lsb) = if idr {
                    (0, 0)
                } else {
                    (self.prev_msb, self.prev_lsb)
                };
                let (l, pl, m) = (lsb as i64, prev_lsb as i64, max as i64);
                let msb = if l < pl && pl - l >= m / 2 {
                    prev_msb as i64 + m
                } else if l > pl && l - pl > m / 2 {
                    prev_msb as i64 - m
                } else {
                    prev_msb as i64
                } as i32;
                if is_ref {
                    self.prev_msb = msb;
                    self.prev_lsb = lsb;
                }
                // Frames: TopFieldOrderCnt = msb + lsb, bottom adds delta_pic_order_cnt_bottom.
                let top = msb.wrapping_add(lsb as i32);
                let bottom = top.wrapping_add(p.delta_pic_order_cnt_bottom);
                Ok(top.min(bottom))
            }
            2 => {
                let offset = if idr {
                    0
                } else if self.prev_frame_num > frame_num {
                    self.prev_frame_num_offset.wrapping_add(max_frame_num)
                } else {
                    self.prev_frame_num_offset
                };
                self.prev_frame_num_offset = offset;
                self.prev_frame_num = frame_num;
                let abs = offset.wrapping_add(frame_num);
                let temp = if idr {
                    0
                } else {
                    (abs.wrapping_mul(2) as i32).wrapping_sub(!is_ref as i32)
                };
                Ok(temp)
            }
            _ => Err(PocError::UnsupportedType),
        }
    }
}
