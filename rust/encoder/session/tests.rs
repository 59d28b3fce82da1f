// SPDX-License-Identifier: GPL-2.0
//! Session tests without hardware: frame decisions, reference slots, the commit/fail rules,
//! header emission. The end-to-end tests with the VE model and ffmpeg are in
//! `hw/cedrus/backend/tests.rs`.

use super::*;
use crate::h264::bits::{BitSink, BitWriter};
use crate::h264::state::{Rect, StateError};
use std::vec::Vec;

fn caps() -> Capabilities {
    Capabilities {
        cabac: true,
        transform_8x8: false,
        inter: true,
        max_ref_frames: 1,
        forced_poc_type: None,
        forced_log2_max_frame_num_minus4: None,
        forced_log2_max_poc_lsb_minus4: None,
        hw_headers: 0,
        width_align: 16,
        height_align: 16,
        min_width: 16,
        min_height: 16,
        max_width: 1920,
        max_height: 1088,
        max_level_idc: 40,
    }
}

fn limits() -> SessionLimits {
    SessionLimits {
        rec_slots: 2,
        chroma_qp_offset_min: 0,
        chroma_qp_offset_max: 7,
        min_qp: 0,
        max_qp: 51,
    }
}

fn src(w: u32, h: u32) -> SourceFormat {
    SourceFormat {
        width: w,
        height: h,
        crop: Rect {
            left: 0,
            top: 0,
            width: w,
            height: h,
        },
        timeperframe_num: 1,
        timeperframe_den: 30,
        ..SourceFormat::default()
    }
}

fn session() -> H264Session {
    H264Session::with_limits(&caps(), &limits(), &src(320, 240))
}

fn stateful(gop_size: u32) -> FrameInput<'static> {
    FrameInput {
        parameter_sets: None,
        params: None,
        coding: CodingSettings::default(),
        gop: GopSettings {
            gop_size,
            ..GopSettings::default()
        },
        rc: RcControls::default(),
        opts: StreamOptions::default(),
        header_mode: HeaderMode::JoinedWith1stFrame,
        hrd: false,
    }
}

/// Plans and completes a frame with a made-up size.
fn step(s: &mut H264Session, input: &FrameInput<'_>) -> FramePlan {
    let p = s.prepare(input).expect("prepare");
    s.complete(&p, 1000);
    p
}

/// The header bytes of a plan, through our memory bit writer.
fn headers(s: &H264Session, p: &FramePlan) -> Vec<u8> {
    let mut buf = [0u8; 4096];
    let mut w = BitWriter::new(&mut buf);
    assert_eq!(s.write_headers(p, &mut w).unwrap(), AuTail::SliceOpen);
    w.align_zero().unwrap();
    w.written().to_vec()
}

#[test]
fn stateful_gop_types_slots_and_counters() {
    let mut s = session();
    s.reset();
    let input = stateful(4);
    let plans: Vec<_> = (0..9).map(|_| step(&mut s, &input)).collect();
    let idr: Vec<bool> = plans.iter().map(|p| p.idr).collect();
    assert_eq!(
        idr,
        [true, false, false, false, true, false, false, false, true]
    );
    for w in plans.windows(2) {
        if !w[1].idr {
            assert_eq!(w[1].slice, SliceKind::P);
            assert_eq!(w[1].ref_slot, Some(w[0].rec_slot));
            assert_ne!(w[1].rec_slot, w[0].rec_slot);
            assert_eq!(w[1].frame_num, w[0].frame_num + 1);
            assert_eq!(w[1].poc, w[0].poc + 2);
        } else {
            assert_eq!((w[1].frame_num, w[1].poc, w[1].ref_slot), (0, 0, None));
        }
    }
    assert_eq!(s.frames_completed(), 9);
}

#[test]
fn fail_leaves_references_and_forces_idr() {
    let mut s = session();
    let input = stateful(0);
    let a = step(&mut s, &input);
    let b = step(&mut s, &input);
    let c = s.prepare(&input).unwrap();
    assert_eq!(c.ref_slot, Some(b.rec_slot));
    s.fail(&c);
    assert!(s.idr_pending());
    let d = step(&mut s, &input);
    assert!(d.idr && d.slice == SliceKind::I);
    assert!(d.emit.sps_pps, "PREPEND_SPSPPS_TO_IDR");
    let _ = a;
    let e = step(&mut s, &input);
    assert_eq!(e.ref_slot, Some(d.rec_slot));
    assert_eq!(e.frame_num, 1);
    assert!(!s.idr_pending());
}

#[test]
fn force_key_frame_and_restart() {
    let mut s = session();
    let mut input = stateful(0);
    step(&mut s, &input);
    step(&mut s, &input);
    input.gop.force_key_frame = true;
    assert!(step(&mut s, &input).idr);
    input.gop.force_key_frame = false;
    assert!(!step(&mut s, &input).idr);
    s.reset();
    let p = step(&mut s, &input);
    assert!(p.idr && p.emit.sps_pps);
}

#[test]
fn stateless_first_frame_rules() {
    let mut s = session();
    let sps = H264Sps {
        profile_idc: 66,
        level_idc: 30,
        chroma_format_idc: 1,
        max_num_ref_frames: 1,
        flags: SPS_FLAG_FRAME_MBS_ONLY,
        ..H264Sps::default()
    };
    let pps = H264Pps {
        chroma_qp_index_offset: -4, // below the VE's range: clamped to 0
        second_chroma_qp_index_offset: 5,
        flags: PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT,
        ..H264Pps::default()
    };
    let p = H264EncodeParams {
        nal_ref_idc: 2,
        slice_type: SLICE_TYPE_P,
        frame_num: 3,
        ..H264EncodeParams::default()
    };
    let mut input = FrameInput {
        parameter_sets: Some(ParameterSets {
            sps: &sps,
            pps: &pps,
        }),
        params: Some(&p),
        ..stateful(0)
    };
    assert_eq!(
        s.prepare(&input).unwrap_err(),
        SessionError::State(StateError::FirstFrameNotIntra)
    );
    let i = H264EncodeParams {
        slice_type: SLICE_TYPE_I,
        flags: ENCODE_FLAG_IDR_PIC,
        frame_num: 0,
        ..p
    };
    input.params = Some(&i);
    let plan = step(&mut s, &input);
    assert!(plan.idr);
    assert_eq!(plan.chroma_qp_index_offset, 0);
    assert_eq!(plan.state.pps.second_chroma_qp_index_offset, 0);
    // Baseline, CAVLC, equal offsets: still labelled baseline.
    assert_eq!(plan.state.sps.profile_idc, 66);
    let p1 = H264EncodeParams {
        frame_num: 1,
        pic_order_cnt_lsb: 2,
        ..p
    };
    input.params = Some(&p1);
    let plan = step(&mut s, &input);
    assert_eq!((plan.slice, plan.ref_slot.is_some()), (SliceKind::P, true));
    let b = H264EncodeParams {
        slice_type: SLICE_TYPE_B,
        frame_num: 2,
        ..p
    };
    input.params = Some(&b);
    assert!(matches!(
        s.prepare(&input),
        Err(SessionError::State(StateError::Unsupported(_)))
    ));
}

#[test]
fn sps_change_forces_idr_pps_change_does_not() {
    let mut s = session();
    let mut input = stateful(0);
    input.coding.profile_idc = 66;
    step(&mut s, &input);
    let p = step(&mut s, &input);
    assert!(!p.idr && !p.emit.sps_pps);
    // Baseline → CABAC: the profile is relabelled to main, a new SPS: IDR.
    input.coding.cabac = true;
    let p = step(&mut s, &input);
    assert!(p.idr && p.emit.sps_pps && p.cabac);
    assert_eq!(p.state.sps.profile_idc, 77);
    // The GOP restarted there: the next frame continues from frame_num 0.
    let p = step(&mut s, &input);
    assert!(!p.idr && p.frame_num == 1 && p.poc == 2);
    // Main + CABAC → main + CAVLC: only the PPS changes: no IDR, SPS+PPS re-sent.
    input.coding.profile_idc = 77;
    step(&mut s, &input);
    input.coding.cabac = false;
    let p = step(&mut s, &input);
    assert!(!p.idr && p.emit.sps_pps && !p.cabac);
    // A new source size changes the SPS: IDR.
    s.set_source(&src(640, 480));
    let p = step(&mut s, &input);
    assert!(p.idr && p.width_mbs == 40);
}

#[test]
fn auto_mode_switch_forces_idr() {
    let mut s = session();
    let sps = H264Sps {
        profile_idc: 77,
        level_idc: 30,
        chroma_format_idc: 1,
        log2_max_frame_num_minus4: 4,
        log2_max_pic_order_cnt_lsb_minus4: 4,
        max_num_ref_frames: 1,
        flags: SPS_FLAG_FRAME_MBS_ONLY,
        ..H264Sps::default()
    };
    let pps = H264Pps::default();
    let ps = ParameterSets {
        sps: &sps,
        pps: &pps,
    };
    // Auto mode on the stateless node (uapi.md §8.6): the GOP decides.
    let auto = FrameInput {
        parameter_sets: Some(ps),
        ..stateful(0)
    };
    assert!(step(&mut s, &auto).idr);
    assert!(!step(&mut s, &auto).idr);
    let p = H264EncodeParams {
        nal_ref_idc: 2,
        slice_type: SLICE_TYPE_P,
        frame_num: 7,
        pic_order_cnt_lsb: 14,
        ..H264EncodeParams::default()
    };
    let manual = FrameInput {
        params: Some(&p),
        ..auto
    };
    let plan = step(&mut s, &manual);
    assert!(plan.idr, "switching to request params restarts");
    assert_eq!(plan.state.params.slice_type, SLICE_TYPE_I);
    assert!(step(&mut s, &auto).idr, "and back");
}

#[test]
fn rc_modes_and_limits() {
    let mut s = session();
    let mut input = stateful(0);
    input.rc.i_frame_qp = 10;
    input.rc.min_qp = 20;
    assert_eq!(step(&mut s, &input).qp, 20, "MIN_QP clamps");
    input.rc = RcControls {
        frame_rc_enable: true,
        bitrate_mode: BitrateMode::Cq as u32,
        constant_quality: 100,
        ..RcControls::default()
    };
    assert_eq!(step(&mut s, &input).qp, 0);
    input.rc.bitrate_mode = BitrateMode::Cbr as u32;
    input.rc.bitrate = 500_000;
    let p = step(&mut s, &input);
    assert!(p.qp <= 51);
    // The plan's QP is the slice header's.
    assert_eq!(
        p.qp as i32,
        26 + p.state.pps.pic_init_qp_minus26 as i32 + p.state.params.slice_qp_delta as i32
    );
    // The hardware's QP range wins over the controls.
    let l = SessionLimits {
        min_qp: 30,
        max_qp: 40,
        ..limits()
    };
    let mut s = H264Session::with_limits(&caps(), &l, &src(320, 240));
    let mut input = stateful(0);
    input.rc.i_frame_qp = 10;
    input.rc.p_frame_qp = 50;
    assert_eq!(step(&mut s, &input).qp, 30);
    assert_eq!(step(&mut s, &input).qp, 40);
    let l = SessionLimits {
        min_qp: 30,
        max_qp: 20,
        ..limits()
    };
    let mut bad = H264Session::with_limits(&caps(), &l, &src(320, 240));
    assert_eq!(bad.prepare(&input).unwrap_err(), SessionError::Config);
}

#[test]
fn hrd_sei_with_cbr() {
    let mut s = session();
    let mut input = stateful(0);
    input.hrd = true;
    input.rc.frame_rc_enable = true;
    input.rc.bitrate = 400_000;
    let p = s.prepare(&input).unwrap();
    assert!(p.state.extra.vui.and_then(|v| v.nal_hrd).is_some());
    let types = |h: &[u8]| -> Vec<u8> {
        h.windows(4)
            .filter(|w| w[..3] == [0, 0, 1])
            .map(|w| w[3] & 0x1F)
            .collect()
    };
    assert_eq!(types(&headers(&s, &p)), [7, 8, 6, 5]);
    s.complete(&p, 5000);
    let p = s.prepare(&input).unwrap();
    assert_eq!(types(&headers(&s, &p)), [6, 1]);
    // Direct QP: nothing to declare.
    input.rc.frame_rc_enable = false;
    let mut s = session();
    let p = s.prepare(&input).unwrap();
    assert!(p.state.extra.vui.and_then(|v| v.nal_hrd).is_none());
}

#[test]
fn header_emission_order_and_modes() {
    let mut s = session();
    let mut input = stateful(0);
    input.opts.aud = true;
    let p = s.prepare(&input).unwrap();
    let h = headers(&s, &p);
    // AUD (4-byte start code), SPS, PPS, IDR slice.
    assert_eq!(&h[..5], &[0, 0, 0, 1, 0x09]);
    let nal_types: Vec<u8> = h
        .windows(4)
        .filter(|w| w[..3] == [0, 0, 1])
        .map(|w| w[3] & 0x1F)
        .collect();
    assert_eq!(nal_types, [9, 7, 8, 5]);
    s.complete(&p, 100);
    let p = s.prepare(&input).unwrap();
    let h = headers(&s, &p);
    let nal_types: Vec<u8> = h
        .windows(4)
        .filter(|w| w[..3] == [0, 0, 1])
        .map(|w| w[3] & 0x1F)
        .collect();
    assert_eq!(nal_types, [9, 1]);

    // Separate header mode: SPS/PPS in their own buffer, the frame starts with the slice.
    let mut s = session();
    input.opts.aud = false;
    input.header_mode = HeaderMode::Separate;
    let p = s.prepare(&input).unwrap();
    assert!(p.separate_sps_pps && !p.emit.sps_pps);
    let mut buf = [0u8; 256];
    let mut w = BitWriter::new(&mut buf);
    s.write_parameter_sets(&p, &mut w).unwrap();
    let ps = w.written().to_vec();
    assert_eq!(&ps[..5], &[0, 0, 0, 1, 0x67]);
    assert!(ps[4..].windows(4).any(|x| x == [0, 0, 1, 0x68]));
    assert_eq!(&headers(&s, &p)[..5], &[0, 0, 0, 1, 0x65]);

    // No start codes.
    let mut s = session();
    input.header_mode = HeaderMode::JoinedWith1stFrame;
    input.opts.start_code = StartCode::None;
    let p = s.prepare(&input).unwrap();
    assert_eq!(headers(&s, &p)[0], 0x67);
}

#[test]
fn separate_header_buffer_once_per_idr() {
    let mut s = session();
    let mut input = stateful(3);
    input.header_mode = HeaderMode::Separate;
    let types = |h: &[u8]| -> Vec<u8> {
        h.windows(4)
            .filter(|w| w[..3] == [0, 0, 1])
            .map(|w| w[3] & 0x1F)
            .collect()
    };
    for gop in 0..2 {
        // The IDR first asks for a header-only buffer; once it is out, the same frame is
        // planned again without SPS/PPS (and stays an IDR).
        let p = s.prepare(&input).unwrap();
        assert!(p.separate_sps_pps && p.idr, "GOP {gop}");
        s.parameter_sets_sent();
        let p = s.prepare(&input).unwrap();
        assert!(!p.separate_sps_pps && p.idr && !p.emit.sps_pps);
        assert_eq!(types(&headers(&s, &p)), [5]);
        s.complete(&p, 1000);
        for _ in 1..3 {
            let p = s.prepare(&input).unwrap();
            assert!(!p.separate_sps_pps && !p.idr);
            s.complete(&p, 300);
        }
    }
    // A failed frame after its headers went out: the next one (an IDR) sends them again.
    let p = s.prepare(&input).unwrap();
    s.parameter_sets_sent();
    s.fail(&p);
    assert!(s.prepare(&input).unwrap().separate_sps_pps);
}

#[test]
fn prepare_does_not_commit() {
    let mut s = session();
    let input = stateful(0);
    let a = s.prepare(&input).unwrap();
    let b = s.prepare(&input).unwrap();
    assert_eq!(a.state, b.state);
    assert_eq!(a.rec_slot, b.rec_slot);
    s.complete(&b, 10);
    let c = s.prepare(&input).unwrap();
    assert_eq!(c.frame_num, 1);
    // A plan that was never prepared is ignored.
    s.complete(&FramePlan::default(), 10);
    assert_eq!(s.frames_completed(), 1);
}

#[test]
fn fuzzed_inputs_never_panic() {
    // Random control values through prepare/complete/fail: errors are fine, panics are not.
    let mut seed = 0x1234_5678u32;
    let mut rnd = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let mut s = session();
    for _ in 0..3000 {
        let mut sps = H264Sps {
            profile_idc: rnd() as u8,
            constraint_set_flags: rnd() as u8,
            level_idc: rnd() as u8,
            chroma_format_idc: (rnd() % 4) as u8,
            log2_max_frame_num_minus4: (rnd() % 14) as u8,
            pic_order_cnt_type: (rnd() % 3) as u8,
            log2_max_pic_order_cnt_lsb_minus4: (rnd() % 14) as u8,
            max_num_ref_frames: (rnd() % 18) as u8,
            flags: rnd() & 0x7F,
            ..H264Sps::default()
        };
        sps.pic_width_in_mbs_minus1 = rnd() as u16;
        let pps = H264Pps {
            num_ref_idx_l0_default_active_minus1: (rnd() % 33) as u8,
            pic_init_qp_minus26: rnd() as i8,
            chroma_qp_index_offset: rnd() as i8,
            second_chroma_qp_index_offset: rnd() as i8,
            flags: rnd() as u16,
            ..H264Pps::default()
        };
        let p = H264EncodeParams {
            nal_ref_idc: (rnd() % 5) as u8,
            slice_type: (rnd() % 6) as u8,
            frame_num: rnd() as u16,
            idr_pic_id: rnd() as u16,
            pic_order_cnt_lsb: rnd() as u16,
            num_ref_idx_l0_active_minus1: (rnd() % 40) as u8,
            cabac_init_idc: (rnd() % 4) as u8,
            slice_qp_delta: rnd() as i8,
            disable_deblocking_filter_idc: (rnd() % 4) as u8,
            slice_alpha_c0_offset_div2: (rnd() % 16) as i8 - 8,
            slice_beta_offset_div2: (rnd() % 16) as i8 - 8,
            flags: rnd() & 0x7F,
            ..H264EncodeParams::default()
        };
        let r = rnd();
        let input = FrameInput {
            parameter_sets: (r & 1 != 0).then_some(ParameterSets {
                sps: &sps,
                pps: &pps,
            }),
            params: (r & 2 != 0).then_some(&p),
            coding: CodingSettings {
                profile_idc: rnd() as u8,
                level_idc: rnd() as u8,
                cabac: r & 4 != 0,
                cabac_init_idc: rnd() as u8,
                chroma_qp_index_offset: rnd() as i8,
                disable_deblocking_filter_idc: rnd() as u8,
                alpha_c0_offset_div2: rnd() as i8,
                beta_offset_div2: rnd() as i8,
                log2_max_frame_num_minus4: rnd() as u8,
                log2_max_poc_lsb_minus4: rnd() as u8,
                constraint_set_flags: rnd() as u8,
            },
            gop: GopSettings {
                gop_size: rnd() % 5,
                i_period: rnd() % 4,
                force_key_frame: r & 8 != 0,
            },
            rc: RcControls {
                frame_rc_enable: r & 16 != 0,
                bitrate_mode: rnd() % 4,
                bitrate: rnd() >> (rnd() % 32),
                bitrate_peak: rnd(),
                constant_quality: rnd() % 128,
                cpb_size_kb: rnd() >> (rnd() % 32),
                i_frame_qp: rnd() % 60,
                p_frame_qp: rnd() % 60,
                min_qp: rnd() % 60,
                max_qp: rnd() % 60,
            },
            hrd: r & 256 != 0,
            opts: StreamOptions {
                aud: r & 32 != 0,
                prepend_sps_pps: r & 64 != 0,
                ..StreamOptions::default()
            },
            header_mode: if r & 128 != 0 {
                HeaderMode::Separate
            } else {
                HeaderMode::JoinedWith1stFrame
            },
        };
        if rnd() % 50 == 0 {
            s.set_source(&SourceFormat {
                width: rnd() % 2048,
                height: rnd() % 2048,
                crop: Rect {
                    left: rnd() % 64,
                    top: rnd() % 64,
                    width: rnd() % 2048,
                    height: rnd() % 2048,
                },
                timeperframe_num: rnd() % 3,
                timeperframe_den: rnd(),
                ..SourceFormat::default()
            });
        }
        if rnd() % 100 == 0 {
            s.set_source(&src(320, 240));
        }
        if let Ok(plan) = s.prepare(&input) {
            let mut buf = [0u8; 2048];
            let mut w = BitWriter::new(&mut buf);
            let _ = s.write_headers(&plan, &mut w);
            match rnd() % 4 {
                0 => s.fail(&plan),
                _ => s.complete(&plan, rnd()),
            }
        }
        if rnd() % 200 == 0 {
            s.reset();
        }
    }
}

#[test]
fn write_headers_matches_the_core_au_writer() {
    // write_headers is au::write_au_units with the plan's units; in the joined mode that is
    // the state's own plan, so both writers must produce the same bytes.
    use crate::h264::au::write_au_headers;
    for (aud, hrd, rc) in [
        (false, false, false),
        (true, false, true),
        (true, true, true),
    ] {
        let mut s = session();
        let mut input = stateful(3);
        input.opts.aud = aud;
        input.hrd = hrd;
        input.rc.frame_rc_enable = rc;
        for _ in 0..5 {
            let p = s.prepare(&input).unwrap();
            let ours = headers(&s, &p);
            let mut buf = [0u8; 4096];
            let mut w = BitWriter::new(&mut buf);
            assert_eq!(
                write_au_headers(&mut w, &p.state, &caps()).unwrap(),
                AuTail::SliceOpen
            );
            w.align_zero().unwrap();
            assert_eq!(ours, w.written(), "aud {aud} hrd {hrd}");
            s.complete(&p, 3000);
        }
    }
}

#[test]
fn retry_recodes_a_frame_far_over_its_target() {
    let mut s = session();
    let mut input = stateful(0);
    input.rc.frame_rc_enable = true;
    input.rc.bitrate_mode = BitrateMode::Cbr as u32;
    input.rc.bitrate = 500_000;
    for _ in 0..5 {
        let p = s.prepare(&input).unwrap();
        s.complete(&p, 2000);
    }
    let mut p = s.prepare(&input).unwrap();
    let before = p.clone();
    // Modest overshoot: no retry.
    assert!(!s.retry(&mut p, 3000));
    // A scene cut: the same frame again, coarser (at least 6 QP, more the further over it
    // is), the slice header following.
    assert!(s.retry(&mut p, 200_000));
    assert!(p.qp > before.qp + 6, "{} -> {}", before.qp, p.qp);
    assert_eq!(
        p.qp as i32,
        26 + p.state.pps.pic_init_qp_minus26 as i32 + p.state.params.slice_qp_delta as i32
    );
    assert_eq!(
        (p.frame_num, p.poc, p.rec_slot),
        (before.frame_num, before.poc, before.rec_slot)
    );
    // Once per frame.
    assert!(!s.retry(&mut p, 200_000));
    s.complete(&p, 30_000);
    // Never in the QP-driven modes, nor for a plan that was not prepared.
    input.rc.frame_rc_enable = false;
    let mut p = s.prepare(&input).unwrap();
    assert!(!s.retry(&mut p, u32::MAX));
    assert!(!s.retry(&mut FramePlan::default(), u32::MAX));
}
