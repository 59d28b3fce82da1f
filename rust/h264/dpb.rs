// SPDX-License-Identifier: GPL-2.0
//! Reference management (uapi.md §2.5 step 4, §8.4 step 3): a decoded picture buffer with
//! sliding-window marking (8.2.5.3), IDR flush, frame_num gap handling (8.2.5.2), and the
//! initial P reference list (8.2.4.2.1), mapped onto the reconstruction slots the backend owns.
//!
//! The DPB mirrors what a decoder does with the same stream, so that the picture the hardware
//! references at ref_idx *n* is the one the decoder will use. Use it in two steps:
//! [`Dpb::plan`] (pure: picks the reconstruction slot and builds L0) before the hardware runs,
//! and [`Dpb::commit`] after it completed, so a failed encode leaves the DPB unchanged.

use super::uapi::{H264EncodeParams, ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE, SLICE_TYPE_P};

/// Largest DPB we track (max_num_ref_frames ≤ 16).
pub const MAX_REFS: usize = 16;
/// Largest number of reconstruction slots.
pub const MAX_SLOTS: usize = MAX_REFS + 1;

/// Errors of reference management.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpbError {
    /// Fewer than `1 + max_num_ref_frames` slots, more than [`MAX_SLOTS`], or bad sizes.
    Config,
    /// A P frame without any usable reference (e.g. the DPB was flushed).
    NoReference,
    /// The newest reference in decoding order is a "non-existing" frame from a frame_num gap:
    /// the default list would point a P frame at it, so the frame must be coded as I.
    GapReference,
    /// frame_num skips values although the SPS does not allow gaps.
    FrameNumGap,
    /// No free reconstruction slot (cannot happen with enough slots).
    NoSlot,
}

/// A reference picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefPic {
    /// Reconstruction slot holding it; `None` for a "non-existing" frame inferred from a gap.
    pub slot: Option<u8>,
    /// frame_num.
    pub frame_num: u16,
    /// Picture order count.
    pub poc: i32,
}

/// What the hardware needs for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramePlan {
    /// Slot the reconstruction of this frame goes to.
    pub cur_slot: u8,
    /// RefPicList0 (P frames), index = ref_idx; only `l0_len` entries are valid.
    pub l0: [RefPic; MAX_REFS],
    /// Valid entries in `l0` (num_ref_idx_l0_active, capped at the references available).
    pub l0_len: u8,
    idr: bool,
    is_ref: bool,
    frame_num: u16,
    poc: i32,
}

impl FramePlan {
    /// The valid part of L0.
    pub fn l0(&self) -> &[RefPic] {
        self.l0.get(..self.l0_len as usize).unwrap_or(&[])
    }

    /// Shrinks the active list of a P frame to the references that exist (setting
    /// num_ref_idx_active_override_flag), so the slice never announces "no reference picture"
    /// entries (legal if unused, but decoders complain). Call before writing the slice header.
    pub fn fit_active_refs(&self, p: &mut H264EncodeParams) {
        if p.slice_type == SLICE_TYPE_P
            && self.l0_len > 0
            && self.l0_len < p.num_ref_idx_l0_active_minus1.saturating_add(1)
        {
            p.num_ref_idx_l0_active_minus1 = self.l0_len - 1;
            p.flags |= ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE;
        }
    }
}

const NO_PIC: RefPic = RefPic {
    slot: None,
    frame_num: 0,
    poc: 0,
};

/// The decoded picture buffer of short-term reference frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dpb {
    refs: [RefPic; MAX_REFS],
    len: u8,
    num_slots: u8,
    max_refs: u8,
    log2_max_frame_num: u8,
    gaps_allowed: bool,
    /// PrevRefFrameNum (7.4.3), valid once a frame was committed.
    prev_ref_frame_num: Option<u16>,
}

impl Dpb {
    /// A DPB for `max_num_ref_frames` references over `num_slots` reconstruction slots
    /// (at least `1 + max_num_ref_frames`: every reference plus the frame being encoded).
    pub fn new(
        num_slots: u8,
        max_num_ref_frames: u8,
        log2_max_frame_num: u8,
        gaps_allowed: bool,
    ) -> Result<Self, DpbError> {
        let max_refs = max_num_ref_frames.max(1);
        if max_refs as usize > MAX_REFS
            || num_slots as usize > MAX_SLOTS
            || num_slots < 1 + max_refs
            || !(4..=16).contains(&log2_max_frame_num)
        {
            return Err(DpbError::Config);
        }
        Ok(Self {
            refs: [NO_PIC; MAX_REFS],
            len: 0,
            num_slots,
            max_refs,
            log2_max_frame_num,
            gaps_allowed,
            prev_ref_frame_num: None,
        })
    }

    /// Forgets every reference (new stream).
    pub fn flush(&mut self) {
        self.len = 0;
        self.prev_ref_frame_num = None;
    }

    /// The references, oldest first in decoding order.
    pub fn refs(&self) -> &[RefPic] {
        self.refs.get(..self.len as usize).unwrap_or(&[])
    }

    fn max_frame_num(&self) -> u32 {
        1u32 << self.log2_max_frame_num
    }

    /// FrameNumWrap of a reference seen from a picture with `cur` frame_num (8.2.4.1).
    fn wrap(&self, frame_num: u16, cur: u16) -> i32 {
        if frame_num > cur {
            frame_num as i32 - self.max_frame_num() as i32
        } else {
            frame_num as i32
        }
    }

    /// The frame_nums skipped before `frame_num` (8.2.5.2): `(first, count)`.
    fn gap(&self, p: &H264EncodeParams) -> (u32, u32) {
        let Some(prev) = self.prev_ref_frame_num else {
            return (0, 0);
        };
        let max = self.max_frame_num();
        let fnum = p.frame_num as u32;
        if p.is_idr() || fnum == prev as u32 || fnum == (prev as u32 + 1) & (max - 1) {
            return (0, 0);
        }
        let first = (prev as u32 + 1) & (max - 1);
        let count = fnum.wrapping_sub(first) & (max - 1);
        (first, count)
    }

    /// Plans frame `p` (with POC `poc`): its reconstruction slot and, for P, its list 0.
    pub fn plan(&self, p: &H264EncodeParams, poc: i32) -> Result<FramePlan, DpbError> {
        let idr = p.is_idr();
        let (_, gap) = self.gap(p);
        if gap > 0 && !self.gaps_allowed {
            return Err(DpbError::FrameNumGap);
        }
        // The references visible to this frame (an IDR flushes them first).
        let visible: &[RefPic] = if idr { &[] } else { self.refs() };
        let mut plan = FramePlan {
            cur_slot: 0,
            l0: [NO_PIC; MAX_REFS],
            l0_len: 0,
            idr,
            is_ref: p.nal_ref_idc != 0,
            frame_num: p.frame_num,
            poc,
        };
        // Lowest slot not holding a reference that survives into this frame.
        plan.cur_slot = (0..self.num_slots)
            .find(|s| !visible.iter().any(|r| r.slot == Some(*s)))
            .ok_or(DpbError::NoSlot)?;
        if p.slice_type == SLICE_TYPE_P {
            if gap > 0 {
                return Err(DpbError::GapReference);
            }
            // Descending PicNum (= FrameNumWrap for frames), 8.2.4.2.1.
            let mut n = 0usize;
            for r in visible {
                let w = self.wrap(r.frame_num, p.frame_num);
                let mut i = n;
                while i > 0 {
                    let prev = plan.l0.get(i - 1).copied().unwrap_or(NO_PIC);
                    if self.wrap(prev.frame_num, p.frame_num) >= w {
                        break;
                    }
                    if let Some(slot) = plan.l0.get_mut(i) {
                        *slot = prev;
                    }
                    i -= 1;
                }
                if let Some(slot) = plan.l0.get_mut(i) {
                    *slot = *r;
                }
                n += 1;
            }
            let active = (p.num_ref_idx_l0_active_minus1 as usize + 1).min(n);
            if active == 0 {
                return Err(DpbError::NoReference);
            }
            if plan.l0.first().and_then(|r| r.slot).is_none() {
                return Err(DpbError::GapReference);
            }
            plan.l0_len = active as u8;
        }
        Ok(plan)
    }

    /// Sliding window (8.2.5.3): drops the short-term reference with the smallest FrameNumWrap
    /// when the DPB is full.
    fn slide(&mut self, cur: u16) {
        if self.len < self.max_refs {
            return;
        }
        let mut oldest = 0usize;
        for i in 1..self.len as usize {
            let a = self.refs.get(i).map(|r| self.wrap(r.frame_num, cur));
            let b = self.refs.get(oldest).map(|r| self.wrap(r.frame_num, cur));
            if a < b {
                oldest = i;
            }
        }
        // Close the gap (manual shift: slice rotation carries an assertion we cannot reach but
        // would still link a panic path).
        for j in oldest..(self.len as usize).saturating_sub(1) {
            let next = self.refs.get(j + 1).copied().unwrap_or(NO_PIC);
            if let Some(r) = self.refs.get_mut(j) {
                *r = next;
            }
        }
        self.len = self.len.saturating_sub(1);
    }

    fn push(&mut self, cur: u16, pic: RefPic) {
        self.slide(cur);
        if let Some(slot) = self.refs.get_mut(self.len as usize) {
            *slot = pic;
            self.len += 1;
        }
    }

    /// Applies the marking of a completed frame: IDR flush, "non-existing" frames for a
    /// frame_num gap, then the sliding window and the frame itself if it is a reference
    /// (frames with nal_ref_idc 0 are not kept).
    pub fn commit(&mut self, plan: &FramePlan) {
        if plan.idr {
            self.len = 0;
            self.prev_ref_frame_num = None;
        } else {
            let probe = H264EncodeParams {
                frame_num: plan.frame_num,
                ..Default::default()
            };
            let (first, count) = self.gap(&probe);
            let max = self.max_frame_num();
            for k in 0..count {
                let fnum = ((first + k) & (max - 1)) as u16;
                self.push(
                    fnum,
                    RefPic {
                        slot: None,
                        frame_num: fnum,
                        poc: 0,
                    },
                );
                // After the gap process PrevRefFrameNum is the last inferred frame (7.4.3).
                self.prev_ref_frame_num = Some(fnum);
            }
        }
        if plan.is_ref {
            self.push(
                plan.frame_num,
                RefPic {
                    slot: Some(plan.cur_slot),
                    frame_num: plan.frame_num,
                    poc: plan.poc,
                },
            );
            self.prev_ref_frame_num = Some(plan.frame_num);
        }
    }
}

#[cfg(test)]
mod tests;
