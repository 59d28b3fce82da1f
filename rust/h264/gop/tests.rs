// SPDX-License-Identifier: GPL-2.0
use super::*;
use crate::h264::validate::validate_encode_params;
use std::vec::Vec;

fn types(g: &mut Gop, n: usize) -> Vec<char> {
    (0..n)
        .map(|_| {
            let p = g.next_params();
            match (p.is_idr(), p.slice_type) {
                (true, _) => 'K',
                (false, SLICE_TYPE_I) => 'I',
                _ => 'P',
            }
        })
        .collect()
}

#[test]
fn idr_every_gop_size() {
    let mut g = Gop::new(GopConfig {
        gop_size: 4,
        ..Default::default()
    });
    assert_eq!(
        types(&mut g, 10).iter().collect::<std::string::String>(),
        "KPPPKPPPKP"
    );
    let mut g = Gop::new(GopConfig {
        gop_size: 0,
        ..Default::default()
    });
    assert_eq!(
        types(&mut g, 6).iter().collect::<std::string::String>(),
        "KPPPPP"
    );
    let mut g = Gop::new(GopConfig {
        gop_size: 1,
        ..Default::default()
    });
    assert_eq!(
        types(&mut g, 3).iter().collect::<std::string::String>(),
        "KKK"
    );
}

#[test]
fn i_period_inside_gop() {
    let mut g = Gop::new(GopConfig {
        gop_size: 9,
        i_period: 3,
        ..Default::default()
    });
    assert_eq!(
        types(&mut g, 10).iter().collect::<std::string::String>(),
        "KPPIPPIPPK"
    );
}

#[test]
fn force_key_and_restart() {
    let mut g = Gop::new(GopConfig {
        gop_size: 100,
        ..Default::default()
    });
    types(&mut g, 5);
    g.force_key_frame();
    assert!(g.next_is_idr());
    assert_eq!(
        types(&mut g, 3).iter().collect::<std::string::String>(),
        "KPP"
    );
    g.restart();
    assert_eq!(
        types(&mut g, 2).iter().collect::<std::string::String>(),
        "KP"
    );
    // New field widths mean a new SPS: IDR.
    g.set_config(GopConfig {
        gop_size: 100,
        log2_max_frame_num_minus4: 0,
        ..Default::default()
    });
    assert!(g.next_is_idr());
}

#[test]
fn counters_like_a_stateless_client() {
    let mut g = Gop::new(GopConfig {
        gop_size: 5,
        log2_max_frame_num_minus4: 0,
        log2_max_poc_lsb_minus4: 0,
        alpha_c0_offset_div2: -2,
        beta_offset_div2: 5,
        cabac_init_idc: 1,
        ..Default::default()
    });
    let mut idr_ids = Vec::new();
    for k in 0..40u32 {
        let mut p = g.next_params();
        let before = p;
        // Already canonical: control validation changes nothing.
        validate_encode_params(&mut p).unwrap();
        assert_eq!(p, before);
        let i = k % 5;
        assert_eq!(p.is_idr(), i == 0);
        assert_eq!(p.frame_num as u32, i & 15);
        assert_eq!(p.pic_order_cnt_lsb as u32, (2 * i) & 15);
        assert_eq!(
            (p.slice_alpha_c0_offset_div2, p.slice_beta_offset_div2),
            (-2, 5)
        );
        assert_eq!(p.cabac_init_idc, if i == 0 { 0 } else { 1 });
        assert!(p.nal_ref_idc > 0);
        if p.is_idr() {
            idr_ids.push(p.idr_pic_id);
        }
    }
    // idr_pic_id only has to differ between consecutive IDRs; non-consecutive may repeat.
    assert!(idr_ids.iter().all(|&x| x == 0));
    let mut g = Gop::new(GopConfig {
        gop_size: 1,
        ..Default::default()
    });
    let ids: Vec<u16> = (0..4).map(|_| g.next_params().idr_pic_id).collect();
    assert_eq!(ids, [0, 1, 2, 3]);
}

/// The GOP's params through the state layer and DPB, for the cedrus and VEPU2 constraints,
/// over many frames (frame_num wrap included).
#[test]
fn drives_state_and_dpb() {
    use crate::h264::dpb::Dpb;
    use crate::h264::poc::PocState;
    use crate::h264::state::*;
    use crate::h264::vui::Colorimetry;
    let caps = Capabilities {
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
    };
    for caps in [
        caps,
        Capabilities {
            forced_poc_type: Some(2),
            hw_headers: HW_SLICE_HEADER,
            ..caps
        },
    ] {
        let cfg = GopConfig {
            gop_size: 700,
            i_period: 97,
            ..Default::default()
        };
        let sps = H264Sps {
            profile_idc: 77,
            level_idc: 30,
            chroma_format_idc: 1,
            max_num_ref_frames: 1,
            log2_max_frame_num_minus4: cfg.log2_max_frame_num_minus4,
            log2_max_pic_order_cnt_lsb_minus4: cfg.log2_max_poc_lsb_minus4,
            flags: SPS_FLAG_FRAME_MBS_ONLY,
            ..Default::default()
        };
        let pps = H264Pps {
            flags: PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT,
            ..Default::default()
        };
        let srcf = SourceFormat {
            width: 320,
            height: 240,
            crop: Rect {
                left: 0,
                top: 0,
                width: 320,
                height: 240,
            },
            colorimetry: Colorimetry::default(),
            timeperframe_num: 1,
            timeperframe_den: 25,
        };
        let opts = StreamOptions::default();
        let mut g = Gop::new(cfg);
        let mut tr = StreamTracker::default();
        let mut st = FrameState::default();
        let mut dpb = Dpb::new(2, 1, 8, false).unwrap();
        let mut poc = PocState::default();
        for k in 0..2000 {
            if k == 1234 {
                g.force_key_frame();
            }
            let p = g.next_params();
            st.prepare(&sps, &pps, &p, &srcf, &opts, &caps, &tr)
                .unwrap();
            let v = poc.next(&st.sps, &st.params).unwrap();
            assert_eq!(v, st.poc());
            let plan = dpb.plan(&st.params, v).unwrap();
            if st.params.slice_type == SLICE_TYPE_P {
                assert_eq!(plan.l0().len(), 1);
            }
            dpb.commit(&plan);
            tr.commit(&st);
        }
    }
}
