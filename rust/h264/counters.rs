// SPDX-License-Identifier: GPL-2.0
//! frame_num / POC re-basing between userspace's SPS field widths and ours, and the clock-tick
//! counter of the HRD picture timing.

use super::sei::DELAY_BITS;
use super::uapi::{H264EncodeParams, H264Sps};

/// Picture counters carried from frame to frame to re-base userspace's frame_num and POC onto
/// the (possibly different) field widths of the adapted SPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// Userspace's frame_num of the last frame.
    pub(super) user_frame_num: u16,
    /// Frames (frame_num steps) since the last IDR, unwrapped.
    pub(super) frame_num_abs: u32,
    /// Userspace's POC type 0 state of the last reference picture (8.2.1.1):
    /// prevPicOrderCntMsb and prevPicOrderCntLsb, in userspace's lsb width.
    pub(super) user_poc_msb: i32,
    pub(super) user_poc_lsb: u16,
    /// The POC of this picture (relative to the last IDR).
    pub(super) poc: i32,
    /// idr_pic_id of the last IDR picture.
    pub(super) last_idr_pic_id: u16,
    /// Access units since the last buffering period (IDR), this one included.
    pub(super) au_since_bp: u32,
    /// cpb_removal_delay of this access unit (ticks, modulo 2^24).
    pub(super) cpb_removal_delay: u32,
}

/// PicOrderCntMsb of 8.2.1.1 for a picture with `lsb`, given the previous reference picture's
/// msb/lsb and MaxPicOrderCntLsb = `max`.
fn poc_msb(prev_msb: i32, prev_lsb: u16, lsb: u16, max: u32) -> i32 {
    let (lsb, prev_lsb, max) = (lsb as i32, prev_lsb as i32, max as i32);
    if lsb < prev_lsb && prev_lsb - lsb >= max >> 1 {
        prev_msb.wrapping_add(max)
    } else if lsb > prev_lsb && lsb - prev_lsb > max >> 1 {
        prev_msb.wrapping_sub(max)
    } else {
        prev_msb
    }
}

/// Re-bases userspace's frame_num and POC onto the adapted SPS's field widths and POC type.
///
/// Reducing a counter modulo a smaller power of two is enough, but a backend may force a
/// *wider* field than userspace uses (GStreamer counts POC lsb modulo 16, cedrus uses 256), and
/// then plain masking would make the counters jump backwards at userspace's wrap. So the
/// counters are unwrapped in userspace's widths (frame_num steps since the IDR; the POC by the
/// 8.2.1.1 rule) and written back in ours. Writes frame_num and pic_order_cnt_lsb into `p`.
pub(super) fn rebase_counters(
    user: &H264Sps,
    ours: &H264Sps,
    p: &mut H264EncodeParams,
    prev: &Counters,
) -> Counters {
    let user_max_fn = 1u32 << (user.log2_max_frame_num_minus4.min(12) + 4);
    let max_fn = 1u32 << (ours.log2_max_frame_num_minus4 + 4);
    let user_max_lsb = 1u32 << (user.log2_max_pic_order_cnt_lsb_minus4.min(12) + 4);
    let max_lsb = 1u32 << (ours.log2_max_pic_order_cnt_lsb_minus4 + 4);
    let is_ref = p.nal_ref_idc != 0;
    let mut c = Counters {
        user_frame_num: p.frame_num,
        ..*prev
    };
    // Two clock ticks per frame (time_scale = 2·den, num_units_in_tick = num). The BP access
    // unit counts from the previous BP (C.1.2); the very first one is 0.
    c.au_since_bp = prev.au_since_bp.wrapping_add(1);
    c.cpb_removal_delay = c.au_since_bp.wrapping_mul(2) & ((1 << DELAY_BITS) - 1);
    if p.is_idr() {
        c.au_since_bp = 0;
        c.last_idr_pic_id = p.idr_pic_id;
        c.frame_num_abs = 0;
        c.user_poc_msb = 0;
        c.user_poc_lsb = 0;
        c.poc = 0;
        p.frame_num = 0;
        p.pic_order_cnt_lsb = 0;
        return c;
    }
    let step = (p.frame_num as u32).wrapping_sub(prev.user_frame_num as u32) & (user_max_fn - 1);
    c.frame_num_abs = prev.frame_num_abs.wrapping_add(step);
    p.frame_num = (c.frame_num_abs & (max_fn - 1)) as u16;
    c.poc = if user.pic_order_cnt_type == 0 {
        let lsb = (p.pic_order_cnt_lsb as u32 & (user_max_lsb - 1)) as u16;
        let msb = poc_msb(prev.user_poc_msb, prev.user_poc_lsb, lsb, user_max_lsb);
        if is_ref {
            c.user_poc_msb = msb;
            c.user_poc_lsb = lsb;
        }
        msb.wrapping_add(lsb as i32)
    } else {
        // Types 1/2 from userspace: the frame order (type 2 semantics, 8.2.1.3).
        (c.frame_num_abs.wrapping_mul(2) as i32).wrapping_sub(!is_ref as i32)
    };
    p.pic_order_cnt_lsb = if ours.pic_order_cnt_type == 0 {
        (c.poc as u32 & (max_lsb - 1)) as u16
    } else {
        // Type 2: the decoder derives the POC from frame_num.
        c.poc = (c.frame_num_abs.wrapping_mul(2) as i32).wrapping_sub(!is_ref as i32);
        0
    };
    c
}
