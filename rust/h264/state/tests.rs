// SPDX-License-Identifier: GPL-2.0
//! The adaptation rules of uapi.md §2.5 step 1 / §8.4 step 2, case by case, plus an
//! end-to-end check that an adapted GStreamer-style stream decodes (ffmpeg oracle).
use super::*;
use crate::h264::sps::{AspectRatio, ColourDescription, Timing};

/// cedrus V3s as uapi.md §8.4 describes it: CAVLC+CABAC, one reference, POC type 0, and the
/// Bootlin driver's log2_max_frame_num 8 / log2_max_poc_lsb 8 (§2.3).
fn cedrus() -> Capabilities {
    Capabilities {
        cabac: true,
        transform_8x8: false,
        inter: true,
        max_ref_frames: 1,
        forced_poc_type: Some(0),
        forced_log2_max_frame_num_minus4: Some(4),
        forced_log2_max_poc_lsb_minus4: Some(4),
        hw_headers: 0,
        width_align: 16,
        height_align: 16,
        min_width: 16,
        min_height: 16,
        max_width: 1920,
        max_height: 1088,
        max_level_idc: 41,
    }
}

/// VEPU2: POC type 2, hardware slice header (uapi.md §2.5 porting note).
fn vepu2() -> Capabilities {
    Capabilities {
        forced_poc_type: Some(2),
        forced_log2_max_frame_num_minus4: None,
        forced_log2_max_poc_lsb_minus4: None,
        hw_headers: HW_SLICE_HEADER,
        ..cedrus()
    }
}

fn unconstrained() -> Capabilities {
    Capabilities {
        cabac: true,
        transform_8x8: true,
        inter: true,
        max_ref_frames: 16,
        forced_poc_type: None,
        forced_log2_max_frame_num_minus4: None,
        forced_log2_max_poc_lsb_minus4: None,
        hw_headers: 0,
        width_align: 16,
        height_align: 16,
        min_width: 16,
        min_height: 16,
        max_width: 4096,
        max_height: 4096,
        max_level_idc: 52,
    }
}

/// What GStreamer's v4l2slh264enc sets (uapi.md §5): main, level 4.0, quantizer 18, CAVLC.
fn gst_sps(w: u32, h: u32) -> H264Sps {
    H264Sps {
        profile_idc: 77,
        level_idc: 40,
        chroma_format_idc: 1,
        pic_width_in_mbs_minus1: (w.div_ceil(16) - 1) as u16,
        pic_height_in_map_units_minus1: (h.div_ceil(16) - 1) as u16,
        max_num_ref_frames: 1,
        pic_order_cnt_type: 0,
        log2_max_pic_order_cnt_lsb_minus4: 0,
        log2_max_frame_num_minus4: 12,
        flags: SPS_FLAG_FRAME_MBS_ONLY
            | SPS_FLAG_DIRECT_8X8_INFERENCE
            | SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED,
        ..Default::default()
    }
}

fn gst_pps() -> H264Pps {
    H264Pps {
        flags: PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT,
        chroma_qp_index_offset: 4,
        second_chroma_qp_index_offset: 4,
        pic_init_qp_minus26: 18 - 26,
        ..Default::default()
    }
}

fn gst_key(idr_pic_id: u16) -> H264EncodeParams {
    H264EncodeParams {
        slice_type: SLICE_TYPE_I,
        flags: ENCODE_FLAG_IDR_PIC,
        nal_ref_idc: 1,
        idr_pic_id,
        slice_alpha_c0_offset_div2: -2,
        slice_beta_offset_div2: 5,
        ..Default::default()
    }
}

fn gst_inter(n: u32) -> H264EncodeParams {
    H264EncodeParams {
        slice_type: SLICE_TYPE_P,
        nal_ref_idc: 2,
        frame_num: (n & 0xffff) as u16,
        pic_order_cnt_lsb: (n % 16) as u16,
        slice_alpha_c0_offset_div2: -2,
        slice_beta_offset_div2: 5,
        ..Default::default()
    }
}

fn src(w: u32, h: u32) -> SourceFormat {
    SourceFormat {
        width: w.div_ceil(16) * 16,
        height: h.div_ceil(16) * 16,
        crop: Rect {
            left: 0,
            top: 0,
            width: w,
            height: h,
        },
        colorimetry: Colorimetry::default(),
        timeperframe_num: 1,
        timeperframe_den: 30,
    }
}

struct Run {
    caps: Capabilities,
    src: SourceFormat,
    opts: StreamOptions,
    tracker: StreamTracker,
    st: FrameState,
}

impl Run {
    fn new(caps: Capabilities, src: SourceFormat) -> Self {
        Self {
            caps,
            src,
            opts: StreamOptions::default(),
            tracker: StreamTracker::default(),
            st: FrameState::default(),
        }
    }
    fn frame(
        &mut self,
        sps: &H264Sps,
        pps: &H264Pps,
        p: &H264EncodeParams,
    ) -> Result<(), StateError> {
        self.st.prepare(
            sps,
            pps,
            p,
            &self.src,
            &self.opts,
            &self.caps,
            &self.tracker,
        )?;
        self.tracker.commit(&self.st);
        Ok(())
    }
}

#[test]
fn size_forced_from_output_format_and_cropped() {
    let mut r = Run::new(unconstrained(), src(1920, 1080));
    let mut sps = gst_sps(640, 480); // stale size in the control: overridden
    sps.pic_width_in_mbs_minus1 = 3;
    r.frame(&sps, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(
        (
            r.st.sps.pic_width_in_mbs_minus1,
            r.st.sps.pic_height_in_map_units_minus1
        ),
        (119, 67)
    );
    assert_eq!(
        r.st.extra.crop,
        Some(Crop {
            left: 0,
            right: 0,
            top: 0,
            bottom: 4
        })
    );
    // Multiple of 16: no cropping.
    let mut r = Run::new(unconstrained(), src(1280, 720));
    r.frame(&gst_sps(1280, 720), &gst_pps(), &gst_key(0))
        .unwrap();
    assert_eq!(r.st.extra.crop, None);
    // A crop rectangle with an offset (S_SELECTION), odd edges rounded outwards.
    let mut s = src(64, 64);
    s.crop = Rect {
        left: 4,
        top: 2,
        width: 50,
        height: 41,
    };
    let mut r = Run::new(unconstrained(), s);
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(
        r.st.extra.crop,
        Some(Crop {
            left: 2,
            right: 5,
            top: 1,
            bottom: 10
        })
    );
}

#[test]
fn bad_formats_refused() {
    let mut s = src(64, 64);
    s.width = 72;
    let mut r = Run::new(unconstrained(), s);
    assert_eq!(
        r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)),
        Err(StateError::Format("coded size not aligned"))
    );
    let mut r = Run::new(cedrus(), src(4096, 2160));
    assert_eq!(
        r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)),
        Err(StateError::Format("coded size out of range"))
    );
    let mut s = src(64, 64);
    s.crop = Rect {
        left: 32,
        top: 0,
        width: 40,
        height: 64,
    };
    let mut r = Run::new(unconstrained(), s);
    assert_eq!(
        r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)),
        Err(StateError::Format("crop outside the frame"))
    );
    let mut s = src(64, 64);
    s.crop.width = 0;
    let mut r = Run::new(unconstrained(), s);
    assert_eq!(
        r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)),
        Err(StateError::Format("crop outside the frame"))
    );
}

#[test]
fn vui_from_timeperframe_colorimetry_and_sar() {
    let mut s = src(320, 240);
    s.timeperframe_num = 1001;
    s.timeperframe_den = 30000;
    s.colorimetry = Colorimetry {
        colorspace: 3,
        ..Default::default()
    }; // REC709, defaults
    let mut r = Run::new(unconstrained(), s);
    r.opts.sar = SarControls {
        enable: true,
        idc: VUI_SAR_IDC_EXTENDED,
        ext_width: 4,
        ext_height: 3,
    };
    r.frame(&gst_sps(320, 240), &gst_pps(), &gst_key(0))
        .unwrap();
    let v = r.st.extra.vui.unwrap();
    assert_eq!(
        v.timing,
        Some(Timing {
            num_units_in_tick: 1001,
            time_scale: 60000,
            fixed_frame_rate: false
        })
    );
    let vs = v.video_signal.unwrap();
    assert!(!vs.full_range);
    assert_eq!(
        vs.colour,
        Some(ColourDescription {
            colour_primaries: 1,
            transfer_characteristics: 1,
            matrix_coefficients: 1
        })
    );
    assert_eq!(
        v.aspect_ratio,
        Some(AspectRatio {
            idc: 255,
            sar_width: 4,
            sar_height: 3
        })
    );
    let br = v.bitstream_restriction.unwrap();
    assert_eq!(
        (br.max_num_reorder_frames, br.max_dec_frame_buffering),
        (0, 1)
    );

    // Defaults say nothing; JPEG colorspace is full range with sRGB curves and BT.601 matrix.
    let mut s = src(320, 240);
    s.timeperframe_num = 0;
    let mut r = Run::new(unconstrained(), s);
    r.frame(&gst_sps(320, 240), &gst_pps(), &gst_key(0))
        .unwrap();
    let v = r.st.extra.vui.unwrap();
    assert_eq!(
        (v.timing, v.video_signal, v.aspect_ratio),
        (None, None, None)
    );
    let mut s = src(320, 240);
    s.colorimetry.colorspace = 7;
    let mut r = Run::new(unconstrained(), s);
    r.opts.sar = SarControls {
        enable: true,
        idc: 1,
        ..Default::default()
    };
    r.frame(&gst_sps(320, 240), &gst_pps(), &gst_key(0))
        .unwrap();
    let v = r.st.extra.vui.unwrap();
    let vs = v.video_signal.unwrap();
    assert!(vs.full_range);
    assert_eq!(
        vs.colour,
        Some(ColourDescription {
            colour_primaries: 1,
            transfer_characteristics: 13,
            matrix_coefficients: 6
        })
    );
    assert_eq!(
        v.aspect_ratio,
        Some(AspectRatio {
            idc: 1,
            sar_width: 0,
            sar_height: 0
        })
    );
}

#[test]
fn poc_type_rules() {
    let mut sps = gst_sps(64, 64);
    sps.pic_order_cnt_type = 1;
    let mut r = Run::new(unconstrained(), src(64, 64));
    assert_eq!(
        r.frame(&sps, &gst_pps(), &gst_key(0)),
        Err(StateError::Unsupported("pic_order_cnt_type 1"))
    );
    sps.pic_order_cnt_type = 2;
    r.frame(&sps, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(r.st.sps.pic_order_cnt_type, 2);
    // VEPU2 forces type 2 over the userspace type 0 and drops the POC lsb.
    let mut r = Run::new(vepu2(), src(64, 64));
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)).unwrap();
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(3))
        .unwrap();
    assert_eq!(r.st.sps.pic_order_cnt_type, 2);
    assert_eq!(r.st.params.pic_order_cnt_lsb, 0);
}

#[test]
fn pps_sanitized_and_single_ids() {
    let pps = H264Pps {
        pic_parameter_set_id: 7,
        seq_parameter_set_id: 3,
        num_slice_groups_minus1: 2,
        num_ref_idx_l0_default_active_minus1: 9,
        num_ref_idx_l1_default_active_minus1: 4,
        weighted_bipred_idc: 1,
        flags: PPS_FLAG_WEIGHTED_PRED
            | PPS_FLAG_REDUNDANT_PIC_CNT_PRESENT
            | PPS_FLAG_SCALING_MATRIX_PRESENT
            | PPS_FLAG_BOTTOM_FIELD_PIC_ORDER_IN_FRAME_PRESENT
            | PPS_FLAG_CONSTRAINED_INTRA_PRED,
        ..gst_pps()
    };
    let mut sps = gst_sps(64, 64);
    sps.seq_parameter_set_id = 3;
    sps.max_num_ref_frames = 2;
    let mut p = gst_key(0);
    p.pic_parameter_set_id = 7;
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.frame(&sps, &pps, &p).unwrap();
    let q = r.st.pps;
    assert_eq!(
        (
            q.pic_parameter_set_id,
            q.seq_parameter_set_id,
            r.st.sps.seq_parameter_set_id
        ),
        (0, 0, 0)
    );
    assert_eq!(r.st.params.pic_parameter_set_id, 0);
    assert_eq!(q.num_slice_groups_minus1, 0);
    assert_eq!(q.weighted_bipred_idc, 0);
    assert_eq!(q.flags, PPS_FLAG_CONSTRAINED_INTRA_PRED);
    // num_ref_idx capped at max_num_ref_frames.
    assert_eq!(
        (
            q.num_ref_idx_l0_default_active_minus1,
            q.num_ref_idx_l1_default_active_minus1
        ),
        (1, 0)
    );
}

#[test]
fn slice_type_mapping() {
    let mut r = Run::new(unconstrained(), src(64, 64));
    let si = H264EncodeParams {
        slice_type: SLICE_TYPE_SI,
        flags: 0,
        ..gst_key(0)
    };
    r.frame(&gst_sps(64, 64), &gst_pps(), &si).unwrap();
    assert_eq!(r.st.params.slice_type, SLICE_TYPE_I);
    let sp = H264EncodeParams {
        slice_type: SLICE_TYPE_SP,
        ..gst_inter(1)
    };
    r.frame(&gst_sps(64, 64), &gst_pps(), &sp).unwrap();
    assert_eq!(r.st.params.slice_type, SLICE_TYPE_P);
    let b = H264EncodeParams {
        slice_type: SLICE_TYPE_B,
        ..gst_inter(2)
    };
    assert_eq!(
        r.frame(&gst_sps(64, 64), &gst_pps(), &b),
        Err(StateError::Unsupported("B frames"))
    );
    // A backend without inter prediction codes P as (non-IDR) I.
    let mut r = Run::new(
        Capabilities {
            inter: false,
            ..unconstrained()
        },
        src(64, 64),
    );
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(r.st.sps.max_num_ref_frames, 0);
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(1))
        .unwrap();
    assert_eq!(r.st.params.slice_type, SLICE_TYPE_I);
    assert!(!r.st.params.is_idr());
}

#[test]
fn first_frame_must_be_intra() {
    let mut r = Run::new(unconstrained(), src(64, 64));
    assert_eq!(
        r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(1)),
        Err(StateError::FirstFrameNotIntra)
    );
    // An I first frame becomes IDR.
    let i = H264EncodeParams {
        flags: 0,
        nal_ref_idc: 0,
        frame_num: 4,
        ..gst_key(0)
    };
    r.frame(&gst_sps(64, 64), &gst_pps(), &i).unwrap();
    assert!(r.st.params.is_idr());
    assert_eq!((r.st.params.nal_ref_idc, r.st.params.frame_num), (1, 0));
    // After a restart the rule applies again.
    r.tracker.reset();
    assert_eq!(
        r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(1)),
        Err(StateError::FirstFrameNotIntra)
    );
}

#[test]
fn capabilities_drop_features_and_relabel_profile() {
    // Baseline asked, CABAC used, hardware can: Main, not baseline-conformant.
    let mut sps = gst_sps(64, 64);
    sps.profile_idc = 66;
    sps.constraint_set_flags = SPS_CONSTRAINT_SET0_FLAG | SPS_CONSTRAINT_SET1_FLAG;
    let cabac_pps = H264Pps {
        flags: gst_pps().flags | PPS_FLAG_ENTROPY_CODING_MODE,
        ..gst_pps()
    };
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.frame(&sps, &cabac_pps, &gst_key(0)).unwrap();
    assert_eq!(
        (r.st.sps.profile_idc, r.st.sps.constraint_set_flags),
        (77, SPS_CONSTRAINT_SET1_FLAG)
    );
    // Same with a CAVLC-only backend: CABAC dropped, constrained baseline stays truthful.
    let mut r = Run::new(
        Capabilities {
            cabac: false,
            ..unconstrained()
        },
        src(64, 64),
    );
    r.frame(&sps, &cabac_pps, &gst_key(0)).unwrap();
    assert_eq!(r.st.pps.flags & PPS_FLAG_ENTROPY_CODING_MODE, 0);
    assert_eq!(
        (r.st.sps.profile_idc, r.st.sps.constraint_set_flags),
        (66, 0x03)
    );
    // 8x8 transform needs High; dropped on hardware without it (profile stays as asked).
    let mut hsps = gst_sps(64, 64);
    hsps.profile_idc = 100;
    hsps.constraint_set_flags =
        SPS_CONSTRAINT_SET1_FLAG | SPS_CONSTRAINT_SET4_FLAG | SPS_CONSTRAINT_SET5_FLAG;
    let t8 = H264Pps {
        flags: gst_pps().flags | PPS_FLAG_TRANSFORM_8X8_MODE,
        ..gst_pps()
    };
    let mut r = Run::new(cedrus(), src(64, 64));
    r.frame(&hsps, &t8, &gst_key(0)).unwrap();
    assert_eq!(r.st.pps.flags & PPS_FLAG_TRANSFORM_8X8_MODE, 0);
    assert_eq!(r.st.sps.profile_idc, 100);
    // It still conforms to Main: set1 kept, as are set4 (frame only) and set5 (no B).
    assert_eq!(r.st.sps.constraint_set_flags, 0x32);
    // Main asked but 8x8 used on capable hardware: relabelled High, set1 cleared.
    let mut msps = gst_sps(64, 64);
    msps.constraint_set_flags = SPS_CONSTRAINT_SET1_FLAG;
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.frame(&msps, &t8, &gst_key(0)).unwrap();
    assert_eq!(
        (r.st.sps.profile_idc, r.st.sps.constraint_set_flags),
        (100, 0)
    );
    // Baseline: set4/set5 are reserved and cleared; Extended relabelled Main.
    let mut b = gst_sps(64, 64);
    b.profile_idc = 66;
    b.constraint_set_flags = 0x30;
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.frame(&b, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(
        (r.st.sps.profile_idc, r.st.sps.constraint_set_flags),
        (66, 0)
    );
    b.profile_idc = 88;
    b.constraint_set_flags = SPS_CONSTRAINT_SET2_FLAG;
    r.frame(&b, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(
        (r.st.sps.profile_idc, r.st.sps.constraint_set_flags),
        (77, SPS_CONSTRAINT_SET2_FLAG)
    );
}

#[test]
fn refs_and_counter_widths_constrained() {
    let mut sps = gst_sps(64, 64);
    sps.max_num_ref_frames = 4;
    let mut r = Run::new(cedrus(), src(64, 64));
    r.frame(&sps, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(r.st.sps.max_num_ref_frames, 1);
    assert_eq!(
        (
            r.st.sps.log2_max_frame_num_minus4,
            r.st.sps.log2_max_pic_order_cnt_lsb_minus4
        ),
        (4, 4)
    );
    // GStreamer's frame_num counts mod 2^16: reduced mod 256 here.
    r.frame(&sps, &gst_pps(), &gst_inter(300)).unwrap();
    assert_eq!(r.st.params.frame_num, 300 & 255);
    // num_ref_idx override capped.
    let mut p = gst_inter(301);
    p.flags |= ENCODE_FLAG_NUM_REF_IDX_ACTIVE_OVERRIDE;
    p.num_ref_idx_l0_active_minus1 = 5;
    r.frame(&sps, &gst_pps(), &p).unwrap();
    assert_eq!(r.st.params.num_ref_idx_l0_active_minus1, 0);
    // max_num_ref_frames 0 with inter hardware becomes 1.
    let mut z = gst_sps(64, 64);
    z.max_num_ref_frames = 0;
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.frame(&z, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(r.st.sps.max_num_ref_frames, 1);
}

#[test]
fn level_raised_to_fit() {
    let mut sps = gst_sps(1920, 1080);
    sps.level_idc = 30;
    let mut r = Run::new(unconstrained(), src(1920, 1080));
    r.frame(&sps, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(r.st.sps.level_idc, 40);
    // 1080p60 needs 4.2.
    let mut s = src(1920, 1080);
    s.timeperframe_den = 60;
    let mut r = Run::new(unconstrained(), s);
    r.frame(&sps, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(r.st.sps.level_idc, 42);
    // Capped at the backend's maximum (4.1 on cedrus): kept as asked when nothing fits.
    let mut r = Run::new(cedrus(), s);
    r.frame(&sps, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(r.st.sps.level_idc, 30);
    // Level 1b (11 + set3 in Main) for QCIF@15 is kept; relabelled to High it becomes 9.
    let mut q = gst_sps(176, 144);
    q.level_idc = 11;
    q.constraint_set_flags = SPS_CONSTRAINT_SET3_FLAG;
    let mut s = src(176, 144);
    s.timeperframe_den = 15;
    let mut r = Run::new(unconstrained(), s);
    r.frame(&q, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(
        (r.st.sps.level_idc, r.st.sps.constraint_set_flags),
        (11, SPS_CONSTRAINT_SET3_FLAG)
    );
    let t8 = H264Pps {
        flags: gst_pps().flags | PPS_FLAG_TRANSFORM_8X8_MODE,
        ..gst_pps()
    };
    r.frame(&q, &t8, &gst_key(0)).unwrap();
    assert_eq!(
        (
            r.st.sps.profile_idc,
            r.st.sps.level_idc,
            r.st.sps.constraint_set_flags
        ),
        (100, 9, 0)
    );
    // Plain level 1.1 in Main: set3 not claimed.
    q.constraint_set_flags = 0;
    r.frame(&q, &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!((r.st.sps.level_idc, r.st.sps.constraint_set_flags), (11, 0));
}

#[test]
fn slice_fields_follow_pps() {
    let pps = H264Pps {
        flags: 0,
        ..gst_pps()
    }; // no deblocking control, CAVLC
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.frame(&gst_sps(64, 64), &pps, &gst_key(0)).unwrap();
    let mut p = gst_inter(1);
    p.disable_deblocking_filter_idc = 2;
    p.cabac_init_idc = 2;
    r.frame(&gst_sps(64, 64), &pps, &p).unwrap();
    let q = r.st.params;
    assert_eq!(
        (
            q.disable_deblocking_filter_idc,
            q.slice_alpha_c0_offset_div2,
            q.slice_beta_offset_div2
        ),
        (0, 0, 0)
    );
    assert_eq!(q.cabac_init_idc, 0);
    // With the control flag the offsets stay, except when filtering is off (idc 1).
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(
        (
            r.st.params.slice_alpha_c0_offset_div2,
            r.st.params.slice_beta_offset_div2
        ),
        (-2, 5)
    );
    let mut p = gst_inter(1);
    p.disable_deblocking_filter_idc = 1;
    r.frame(&gst_sps(64, 64), &gst_pps(), &p).unwrap();
    assert_eq!(
        (
            r.st.params.slice_alpha_c0_offset_div2,
            r.st.params.slice_beta_offset_div2
        ),
        (0, 0)
    );
    // RC's QP becomes slice_qp_delta against the PPS (uapi.md §8.4 step 4).
    r.st.set_qp(30);
    assert_eq!(r.st.params.slice_qp_delta, 30 - 18);
}

#[test]
fn header_plan() {
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.opts.prepend_sps_pps = false;
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)).unwrap();
    assert_eq!(
        r.st.plan,
        HeaderPlan {
            aud: false,
            sps_pps: true
        }
    );
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(1))
        .unwrap();
    assert!(!r.st.plan.sps_pps);
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(1)).unwrap();
    assert!(!r.st.plan.sps_pps, "IDR without PREPEND and without change");
    r.opts.prepend_sps_pps = true;
    r.opts.aud = true;
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(2)).unwrap();
    assert_eq!(
        r.st.plan,
        HeaderPlan {
            aud: true,
            sps_pps: true
        }
    );
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(1))
        .unwrap();
    assert!(!r.st.plan.sps_pps);
    // A PPS change mid-stream is announced.
    let pps = H264Pps {
        pic_init_qp_minus26: 0,
        ..gst_pps()
    };
    r.frame(&gst_sps(64, 64), &pps, &gst_inter(2)).unwrap();
    assert!(r.st.plan.sps_pps);
}

#[test]
fn invalid_controls_refused() {
    let mut r = Run::new(unconstrained(), src(64, 64));
    let mut p = gst_key(0);
    p.cabac_init_idc = 9;
    assert_eq!(
        r.frame(&gst_sps(64, 64), &gst_pps(), &p),
        Err(StateError::Invalid(ValidateError::Range("cabac_init_idc")))
    );
    let mut s = gst_sps(64, 64);
    s.log2_max_frame_num_minus4 = 13;
    assert!(matches!(
        r.frame(&s, &gst_pps(), &gst_key(0)),
        Err(StateError::Invalid(_))
    ));
}

/// End to end: GStreamer's control values through `prepare` and `write_au_headers`, with the
/// I_PCM/skip slice data stub, decode to the input pictures (cedrus constraints: POC lsb and
/// frame_num reduced, AUD and prepended SPS/PPS, 1080-style cropping).
#[test]
fn adapted_stream_decodes() {
    use crate::h264::au::{write_au_headers, AuTail};
    use crate::h264::bits::{BitSink, BitWriter};
    use crate::h264::nal::end_nal;
    use crate::h264::oracle::{decode_i420, write_pcm_slice_data, write_skip_slice_data, Picture};
    use crate::h264::testutil::Rng;

    let (w, h) = (100u32, 60u32);
    let mut r = Run::new(cedrus(), src(w, h));
    r.opts.aud = true;
    let mut rng = Rng::new(9);
    let (cw, ch) = (r.src.width as usize, r.src.height as usize);
    let pics = [
        Picture::random(cw, ch, &mut rng),
        Picture::random(cw, ch, &mut rng),
    ];
    let mut buf = std::vec![0u8; 1 << 20];
    let mut wr = BitWriter::new(&mut buf);
    let mut expect = std::vec::Vec::new();
    let mut n = 0u32;
    for (g, pic) in pics.iter().enumerate() {
        for i in 0..20u32 {
            let p = if i == 0 {
                gst_key(g as u16)
            } else {
                gst_inter(n)
            };
            n += 1;
            r.st.prepare(
                &gst_sps(w, h),
                &gst_pps(),
                &p,
                &r.src,
                &r.opts,
                &r.caps,
                &r.tracker,
            )
            .unwrap();
            r.st.set_qp(30);
            assert_eq!(
                write_au_headers(&mut wr, &r.st, &r.caps).unwrap(),
                AuTail::SliceOpen
            );
            if i == 0 {
                write_pcm_slice_data(&mut wr, pic).unwrap();
            } else {
                write_skip_slice_data(&mut wr, (cw * ch / 256) as u32).unwrap();
            }
            end_nal(&mut wr).unwrap();
            r.tracker.commit(&r.st);
            expect.extend(pic.visible_i420(w as usize, h as usize));
        }
    }
    assert!(wr.is_byte_aligned());
    let len = wr.finish().unwrap();
    let got = decode_i420(&buf[..len], "adapted.h264");
    assert_eq!(got.len(), expect.len());
    assert!(got == expect);
}

/// Counters are re-based, not masked: userspace wrapping at 16 under a 256 field keeps
/// increasing; wrapping at 2^16 under a 16 field wraps at 16; POC follows 8.2.1.1.
#[test]
fn counters_rebased_across_widths() {
    // GStreamer (frame_num mod 2^16, POC lsb +1 mod 16) on cedrus (256/256).
    let mut r = Run::new(cedrus(), src(64, 64));
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)).unwrap();
    for n in 1..600u32 {
        r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(n))
            .unwrap();
        assert_eq!(r.st.params.frame_num as u32, n & 255);
        assert_eq!(r.st.params.pic_order_cnt_lsb as u32, n & 255);
        assert_eq!(r.st.poc(), n as i32);
    }
    // Narrower forced widths: 16/16.
    let caps = Capabilities {
        forced_log2_max_frame_num_minus4: Some(0),
        forced_log2_max_poc_lsb_minus4: Some(0),
        ..cedrus()
    };
    let mut r = Run::new(caps, src(64, 64));
    let mut sps = gst_sps(64, 64);
    sps.log2_max_pic_order_cnt_lsb_minus4 = 8; // userspace lsb modulo 4096, steps of 2
    r.frame(&sps, &gst_pps(), &gst_key(0)).unwrap();
    for n in 1..100u32 {
        let mut p = gst_inter(n);
        p.pic_order_cnt_lsb = ((2 * n) & 4095) as u16;
        r.frame(&sps, &gst_pps(), &p).unwrap();
        assert_eq!(r.st.params.frame_num as u32, n & 15);
        assert_eq!(r.st.params.pic_order_cnt_lsb as u32, (2 * n) & 15);
        assert_eq!(r.st.poc(), 2 * n as i32);
    }
    // A non-reference frame does not advance frame_num for the next one; an IDR resets.
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(0)).unwrap();
    let mut p = gst_inter(1);
    p.nal_ref_idc = 0;
    r.frame(&gst_sps(64, 64), &gst_pps(), &p).unwrap();
    assert_eq!(r.st.params.frame_num, 1);
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(1))
        .unwrap();
    assert_eq!(r.st.params.frame_num, 1);
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(1)).unwrap();
    assert_eq!(
        (
            r.st.params.frame_num,
            r.st.params.pic_order_cnt_lsb,
            r.st.poc()
        ),
        (0, 0, 0)
    );
    // Userspace POC type 2 onto our type 0: POC = 2·frame order (−1 for non-reference).
    let mut sps = gst_sps(64, 64);
    sps.pic_order_cnt_type = 2;
    let mut r = Run::new(cedrus(), src(64, 64));
    r.frame(&sps, &gst_pps(), &gst_key(0)).unwrap();
    r.frame(&sps, &gst_pps(), &gst_inter(1)).unwrap();
    assert_eq!(
        (
            r.st.sps.pic_order_cnt_type,
            r.st.params.pic_order_cnt_lsb,
            r.st.poc()
        ),
        (0, 2, 2)
    );
    let mut p = gst_inter(2);
    p.nal_ref_idc = 0;
    r.frame(&sps, &gst_pps(), &p).unwrap();
    assert_eq!(r.st.poc(), 3);
}

#[test]
fn hardware_slice_header_leaves_slice_to_hardware() {
    use crate::h264::au::{write_au_headers, AuTail};
    use crate::h264::bits::BitWriter;
    let mut r = Run::new(vepu2(), src(64, 64));
    r.opts.aud = true;
    r.st.prepare(
        &gst_sps(64, 64),
        &gst_pps(),
        &gst_key(0),
        &r.src,
        &r.opts,
        &r.caps,
        &r.tracker,
    )
    .unwrap();
    let mut buf = [0u8; 256];
    let mut w = BitWriter::new(&mut buf);
    assert_eq!(
        write_au_headers(&mut w, &r.st, &r.caps).unwrap(),
        AuTail::HardwareSlice
    );
    let n = w.finish().unwrap();
    // AUD, SPS, PPS each behind a 4-byte start code, nothing after the PPS.
    let starts: std::vec::Vec<usize> = (0..n.saturating_sub(3))
        .filter(|&i| buf[i..i + 4] == [0, 0, 0, 1])
        .collect();
    assert_eq!(starts.len(), 3);
    assert_eq!(
        [
            buf[starts[0] + 4] & 31,
            buf[starts[1] + 4] & 31,
            buf[starts[2] + 4] & 31
        ],
        [9, 7, 8]
    );
}

/// Property: on every backend, the POC the state predicts equals what a decoder derives from the
/// adapted fields (8.2.1), and the adapted frame_num sequence never has a gap the DPB would
/// refuse.
#[test]
fn prop_state_poc_matches_decoder_derivation() {
    use crate::h264::dpb::Dpb;
    use crate::h264::poc::PocState;
    use crate::h264::testutil::Rng;
    let mut rng = Rng::new(77);
    for case in 0..200 {
        let caps = [cedrus(), vepu2(), unconstrained()][rng.range(0, 2) as usize];
        let mut sps = gst_sps(64, 64);
        sps.log2_max_frame_num_minus4 = rng.range(0, 12) as u8;
        sps.log2_max_pic_order_cnt_lsb_minus4 = rng.range(0, 12) as u8;
        sps.pic_order_cnt_type = [0u8, 2][rng.range(0, 1) as usize];
        sps.flags &= !SPS_FLAG_GAPS_IN_FRAME_NUM_VALUE_ALLOWED;
        let user_max_fn = 1u32 << (sps.log2_max_frame_num_minus4 + 4);
        let user_max_lsb = 1u32 << (sps.log2_max_pic_order_cnt_lsb_minus4 + 4);
        let mut r = Run::new(caps, src(64, 64));
        let mut poc = PocState::default();
        let mut dpb: Option<Dpb> = None;
        let (mut fnum, mut cnt, mut prev_ref) = (0u32, 0u32, true);
        for k in 0..300 {
            let idr = k == 0 || rng.range(0, 50) == 0;
            let nal_ref =
                if idr || (!prev_ref && sps.pic_order_cnt_type == 2) || rng.range(0, 3) != 0 {
                    2
                } else {
                    0
                };
            let p = if idr {
                (fnum, cnt) = (0, 0);
                gst_key(k as u16)
            } else {
                if prev_ref {
                    fnum = (fnum + 1) & (user_max_fn - 1);
                }
                cnt += 1;
                H264EncodeParams {
                    nal_ref_idc: nal_ref,
                    frame_num: fnum as u16,
                    pic_order_cnt_lsb: ((2 * cnt) & (user_max_lsb - 1)) as u16,
                    ..gst_inter(0)
                }
            };
            r.st.prepare(&sps, &gst_pps(), &p, &r.src, &r.opts, &r.caps, &r.tracker)
                .unwrap();
            let d = dpb.get_or_insert_with(|| {
                Dpb::new(
                    r.st.sps.max_num_ref_frames + 1,
                    r.st.sps.max_num_ref_frames,
                    r.st.sps.log2_max_frame_num_minus4 + 4,
                    false,
                )
                .unwrap()
            });
            let derived = poc.next(&r.st.sps, &r.st.params).unwrap();
            assert_eq!(derived, r.st.poc(), "case {case} frame {k}");
            let plan = d.plan(&r.st.params, derived).unwrap();
            d.commit(&plan);
            r.tracker.commit(&r.st);
            prev_ref = r.st.params.nal_ref_idc != 0;
        }
    }
}

/// An SPS may only change at an IDR (7.4.1.2.1): a frame-rate change mid-GOP (S_PARM) turns
/// the next frame into an IDR with a fresh idr_pic_id, and the new SPS is sent.
#[test]
fn sps_change_forces_idr() {
    let mut r = Run::new(unconstrained(), src(64, 64));
    r.opts.prepend_sps_pps = false;
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_key(5)).unwrap();
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(1))
        .unwrap();
    assert!(!r.st.params.is_idr());
    r.src.timeperframe_den = 25;
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(2))
        .unwrap();
    assert!(r.st.params.is_idr());
    assert_eq!(r.st.params.slice_type, SLICE_TYPE_I);
    assert_eq!(
        (r.st.params.idr_pic_id, r.st.params.frame_num, r.st.poc()),
        (6, 0, 0)
    );
    assert!(r.st.plan.sps_pps);
    // Then the stream continues normally; a PPS-only change does not force an IDR.
    r.frame(&gst_sps(64, 64), &gst_pps(), &gst_inter(3))
        .unwrap();
    assert!(!r.st.params.is_idr());
    let pps = H264Pps {
        pic_init_qp_minus26: 3,
        ..gst_pps()
    };
    r.frame(&gst_sps(64, 64), &pps, &gst_inter(4)).unwrap();
    assert!(!r.st.params.is_idr());
    assert!(r.st.plan.sps_pps);
}
