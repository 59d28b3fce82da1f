// SPDX-License-Identifier: GPL-2.0
use super::*;
use crate::h264::testutil::Rng;
use crate::h264::uapi::{ENCODE_FLAG_IDR_PIC, SLICE_TYPE_I};
use std::vec::Vec;

fn idr() -> H264EncodeParams {
    H264EncodeParams {
        slice_type: SLICE_TYPE_I,
        nal_ref_idc: 1,
        flags: ENCODE_FLAG_IDR_PIC,
        ..Default::default()
    }
}

fn pf(frame_num: u16, nal_ref_idc: u8, active: u8) -> H264EncodeParams {
    H264EncodeParams {
        slice_type: SLICE_TYPE_P,
        nal_ref_idc,
        frame_num,
        num_ref_idx_l0_active_minus1: active - 1,
        ..Default::default()
    }
}

fn frame_nums(plan: &FramePlan) -> Vec<u16> {
    plan.l0().iter().map(|r| r.frame_num).collect()
}

#[test]
fn config_checked() {
    assert_eq!(Dpb::new(1, 1, 4, false), Err(DpbError::Config));
    assert_eq!(Dpb::new(18, 16, 4, false), Err(DpbError::Config));
    assert_eq!(Dpb::new(4, 4, 4, false), Err(DpbError::Config));
    assert_eq!(Dpb::new(2, 1, 3, false), Err(DpbError::Config));
    assert!(Dpb::new(2, 0, 16, false).is_ok()); // intra-only streams still keep the IDR
    assert!(Dpb::new(17, 16, 16, false).is_ok());
}

#[test]
fn single_reference_ping_pong() {
    let mut d = Dpb::new(2, 1, 4, false).unwrap();
    let plan = d.plan(&idr(), 0).unwrap();
    assert_eq!(plan.cur_slot, 0);
    d.commit(&plan);
    for n in 1..40u16 {
        let p = pf(n & 15, 2, 1);
        let plan = d.plan(&p, 2 * n as i32).unwrap();
        assert_eq!(plan.cur_slot as u16, n & 1, "slots alternate");
        assert_eq!(plan.l0().len(), 1);
        assert_eq!(plan.l0()[0].slot, Some(((n + 1) & 1) as u8));
        assert_eq!(plan.l0()[0].frame_num, (n - 1) & 15);
        d.commit(&plan);
        assert_eq!(d.refs().len(), 1);
    }
}

#[test]
fn sliding_window_and_order_across_wrap() {
    let mut d = Dpb::new(4, 3, 4, false).unwrap();
    d.commit(&d.plan(&idr(), 0).unwrap());
    for n in 1..=20u16 {
        let p = pf(n & 15, 2, 3);
        let plan = d.plan(&p, 0).unwrap();
        let want: Vec<u16> = (1..=3u16)
            .filter(|k| *k <= n)
            .map(|k| (n - k) & 15)
            .collect();
        assert_eq!(frame_nums(&plan), want, "frame {n}");
        // The current slot never holds a live reference.
        assert!(d.refs().iter().all(|r| r.slot != Some(plan.cur_slot)));
        d.commit(&plan);
        assert!(d.refs().len() <= 3);
    }
    // num_ref_idx_l0_active caps the list.
    let plan = d.plan(&pf(21 & 15, 2, 2), 0).unwrap();
    assert_eq!(plan.l0().len(), 2);
}

#[test]
fn non_reference_frames_not_kept() {
    let mut d = Dpb::new(3, 2, 4, false).unwrap();
    let i = d.plan(&idr(), 0).unwrap();
    d.commit(&i);
    let nr = d.plan(&pf(1, 0, 2), 1).unwrap();
    assert_eq!(nr.l0().len(), 1);
    d.commit(&nr);
    assert_eq!(d.refs().len(), 1);
    // Next frame keeps frame_num 1 (PrevRefFrameNum is still 0) and can reuse that slot.
    let p = d.plan(&pf(1, 2, 2), 2).unwrap();
    assert_eq!(p.cur_slot, nr.cur_slot);
    assert_eq!(frame_nums(&p), [0]);
}

#[test]
fn idr_flushes() {
    let mut d = Dpb::new(3, 2, 4, false).unwrap();
    d.commit(&d.plan(&idr(), 0).unwrap());
    d.commit(&d.plan(&pf(1, 2, 2), 2).unwrap());
    assert_eq!(d.refs().len(), 2);
    let plan = d.plan(&idr(), 0).unwrap();
    assert_eq!(plan.cur_slot, 0, "all slots free again");
    d.commit(&plan);
    assert_eq!(d.refs().len(), 1);
    d.flush();
    assert_eq!(d.plan(&pf(1, 2, 1), 2), Err(DpbError::NoReference));
}

#[test]
fn frame_num_gaps() {
    let mut d = Dpb::new(4, 3, 4, false).unwrap();
    d.commit(&d.plan(&idr(), 0).unwrap());
    assert_eq!(d.plan(&pf(3, 2, 1), 6), Err(DpbError::FrameNumGap));
    let mut d = Dpb::new(4, 3, 4, true).unwrap();
    d.commit(&d.plan(&idr(), 0).unwrap());
    assert_eq!(d.plan(&pf(3, 2, 1), 6), Err(DpbError::GapReference));
    // An I frame after the gap: frames 1 and 2 are inferred, then the I (3) slides the IDR out.
    let i = H264EncodeParams {
        slice_type: SLICE_TYPE_I,
        nal_ref_idc: 2,
        frame_num: 3,
        ..Default::default()
    };
    let plan = d.plan(&i, 6).unwrap();
    d.commit(&plan);
    let kept: Vec<(Option<u8>, u16)> = d.refs().iter().map(|r| (r.slot, r.frame_num)).collect();
    assert_eq!(kept, [(None, 1), (None, 2), (Some(plan.cur_slot), 3)]);
    // The next P references the I first, then the non-existing frames.
    let p = d.plan(&pf(4, 2, 3), 8).unwrap();
    assert_eq!(frame_nums(&p), [3, 2, 1]);
    assert_eq!(p.l0()[0].slot, Some(plan.cur_slot));
}

/// Property: against a straightforward model (a Vec in decoding order, sorted copies), random
/// streams give the same DPB content and lists, and slots are never shared.
#[test]
fn prop_matches_model() {
    let mut rng = Rng::new(42);
    for _ in 0..300 {
        let refs = rng.range(1, 6) as u8;
        let slots = refs + 1 + rng.range(0, 2) as u8;
        let log2 = rng.range(4, 6) as u8;
        let max = 1u32 << log2;
        let mut d = Dpb::new(slots, refs, log2, false).unwrap();
        let mut model: Vec<(u16, u8)> = Vec::new(); // (frame_num, slot), decoding order
        let mut frame_num = 0u32;
        let mut prev_was_ref = true;
        for k in 0..100 {
            let is_idr = k == 0 || rng.range(0, 30) == 0;
            let nal_ref = if rng.range(0, 3) == 0 { 0 } else { 2 };
            if !is_idr && prev_was_ref {
                frame_num = (frame_num + 1) & (max - 1);
            }
            let p = if is_idr {
                frame_num = 0;
                idr()
            } else {
                pf(frame_num as u16, nal_ref, rng.range(1, refs as i64) as u8)
            };
            let plan = d.plan(&p, 0).unwrap();
            if is_idr {
                model.clear();
            }
            let cur = p.frame_num as i32;
            let wrap = |f: u16| {
                if f as i32 > cur {
                    f as i32 - max as i32
                } else {
                    f as i32
                }
            };
            if !is_idr {
                let mut sorted = model.clone();
                sorted.sort_by_key(|&(f, _)| -wrap(f));
                let active = (p.num_ref_idx_l0_active_minus1 as usize + 1).min(sorted.len());
                let want: Vec<(u16, Option<u8>)> = sorted[..active]
                    .iter()
                    .map(|&(f, s)| (f, Some(s)))
                    .collect();
                let got: Vec<(u16, Option<u8>)> =
                    plan.l0().iter().map(|r| (r.frame_num, r.slot)).collect();
                assert_eq!(got, want);
            }
            assert!(plan.cur_slot < slots);
            assert!(model.iter().all(|&(_, s)| s != plan.cur_slot) || is_idr);
            d.commit(&plan);
            if p.nal_ref_idc != 0 {
                if model.len() == refs as usize {
                    let oldest = (0..model.len()).min_by_key(|&i| wrap(model[i].0)).unwrap();
                    model.remove(oldest);
                }
                model.push((p.frame_num, plan.cur_slot));
            }
            prev_was_ref = p.nal_ref_idc != 0;
            let got: Vec<(u16, u8)> = d
                .refs()
                .iter()
                .map(|r| (r.frame_num, r.slot.unwrap()))
                .collect();
            assert_eq!(got, model);
        }
    }
}

#[test]
fn fit_active_refs_shrinks_to_available() {
    let mut d = Dpb::new(4, 3, 4, false).unwrap();
    d.commit(&d.plan(&idr(), 0).unwrap());
    let mut p = pf(1, 2, 3);
    let plan = d.plan(&p, 2).unwrap();
    plan.fit_active_refs(&mut p);
    assert_eq!(p.num_ref_idx_l0_active_minus1, 0);
    assert_ne!(
        p.flags & crate::h264::uapi::ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE,
        0
    );
    // Enough references: untouched.
    d.commit(&plan);
    let mut q = pf(2, 2, 2);
    d.plan(&q, 4).unwrap().fit_active_refs(&mut q);
    assert_eq!((q.num_ref_idx_l0_active_minus1, q.flags), (1, 0));
    // I frames untouched.
    let mut i = idr();
    d.plan(&i, 0).unwrap().fit_active_refs(&mut i);
    assert_eq!(i, idr());
}
