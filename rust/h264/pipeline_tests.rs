// SPDX-License-Identifier: GPL-2.0
//! The per-frame sequence of mod.rs, end to end, for three backend shapes: GOP → state →
//! RC → DPB → access-unit writer → (stub) slice data → commit, decoded by ffmpeg. The stub
//! "hardware" codes I frames as I_PCM pictures and P frames as copies of a random entry of the
//! list the DPB built, so the decoded output proves headers, counters, POC, reference lists and
//! slot bookkeeping together. For the VEPU2-like backend the test writes the slice header the
//! way the hardware would (after `AuTail::HardwareSlice`), from the adapted state.

use super::au::{write_au_headers, AuTail};
use super::bits::BitWriter;
use super::dpb::Dpb;
use super::gop::{Gop, GopConfig};
use super::nal::end_nal;
use super::oracle::{
    decode_i420, trace_headers, write_pcm_slice_data, write_ref_copy_slice_data, Picture,
};
use super::rc::{RateControl, RcConfig, RcMode};
use super::sei::hrd_params;
use super::slice_header::{begin_slice_nal, write_slice_header};
use super::state::*;
use super::testutil::Rng;
use super::uapi::*;
use super::vui::Colorimetry;
use std::vec;
use std::vec::Vec;

fn caps(max_ref_frames: u8, poc: Option<u8>, hw: u32) -> Capabilities {
    Capabilities {
        cabac: false,
        transform_8x8: false,
        inter: true,
        max_ref_frames,
        forced_poc_type: poc,
        forced_log2_max_frame_num_minus4: if poc == Some(0) { Some(4) } else { None },
        forced_log2_max_poc_lsb_minus4: if poc == Some(0) { Some(4) } else { None },
        hw_headers: hw,
        width_align: 16,
        height_align: 16,
        min_width: 16,
        min_height: 16,
        max_width: 1920,
        max_height: 1088,
        max_level_idc: 41,
    }
}

#[test]
fn engine_sequence_decodes() {
    run_engine(false);
}

/// Same with HRD signalling (CBR): SPS NAL HRD parameters, buffering period SEI on IDR and
/// picture timing SEI on every frame; the stream still decodes, and trace_headers reads back
/// the SEI fields the model intended.
#[test]
fn engine_sequence_with_hrd_sei() {
    run_engine(true);
}

fn run_engine(with_hrd: bool) {
    let backends = [
        ("cedrus-like", caps(1, Some(0), 0)),
        ("vepu2-like", caps(1, Some(2), HW_SLICE_HEADER)),
        ("multi-ref", caps(3, None, 0)),
    ];
    for (name, caps) in backends {
        let mut rng = Rng::new(0xe2e);
        let (vw, vh) = (44u32, 30u32);
        let src = SourceFormat {
            width: 48,
            height: 32,
            crop: Rect {
                left: 0,
                top: 0,
                width: vw,
                height: vh,
            },
            colorimetry: Colorimetry {
                colorspace: 1,
                ..Default::default()
            },
            timeperframe_num: 1,
            timeperframe_den: 30,
        };
        let gcfg = GopConfig {
            gop_size: 12,
            i_period: 5,
            ..Default::default()
        };
        let sps = H264Sps {
            profile_idc: 77,
            level_idc: 30,
            chroma_format_idc: 1,
            max_num_ref_frames: 3,
            log2_max_frame_num_minus4: gcfg.log2_max_frame_num_minus4,
            log2_max_pic_order_cnt_lsb_minus4: gcfg.log2_max_poc_lsb_minus4,
            flags: SPS_FLAG_FRAME_MBS_ONLY | SPS_FLAG_DIRECT_8X8_INFERENCE,
            ..Default::default()
        };
        let pps = H264Pps {
            num_ref_idx_l0_default_active_minus1: 2,
            flags: PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT,
            ..Default::default()
        };
        let mut opts = StreamOptions {
            aud: true,
            ..Default::default()
        };
        let mut gop = Gop::new(gcfg);
        let mut tracker = StreamTracker::default();
        let mut st = FrameState::default();
        let mut rc = RateControl::new(RcConfig {
            mode: RcMode::Cbr,
            min_qp: 10,
            max_qp: 51,
            bitrate: 2_000_000,
            peak_bitrate: 0,
            cpb_bits: 0,
            fps_num: 30,
            fps_den: 1,
            frame_mbs: 6,
        })
        .unwrap();
        if with_hrd {
            let (rate, cpb) = rc.hrd_rate_and_size();
            opts.hrd = Some(hrd_params(rate, cpb, true));
        }
        // (initial_cpb_removal_delay on IDR, cpb_removal_delay) per frame, for the trace.
        let mut want_sei: Vec<(Option<u32>, u32)> = Vec::new();
        let mut dpb: Option<Dpb> = None;
        let mut slot_pic = [usize::MAX; 17];
        let mut pics: Vec<Picture> = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut w = BitWriter::new(&mut buf);
        let mut expect = Vec::new();
        let mut au_start = 0;
        for k in 0..40 {
            if k == 17 {
                gop.force_key_frame();
            }
            let p = gop.next_params();
            st.prepare(&sps, &pps, &p, &src, &opts, &caps, &tracker)
                .unwrap();
            let intra = st.params.slice_type == SLICE_TYPE_I;
            let qp = rc.frame_qp(intra);
            st.set_qp(qp);
            st.initial_cpb_removal_delay_90k = rc.initial_cpb_removal_delay_90k();
            if let Some((bp, pt)) = st.hrd_sei(st.initial_cpb_removal_delay_90k) {
                want_sei.push((
                    bp.map(|b| b.initial_cpb_removal_delay),
                    pt.cpb_removal_delay,
                ));
            }
            let refs = st.sps.max_num_ref_frames;
            let d = dpb.get_or_insert_with(|| {
                Dpb::new(refs + 1, refs, st.sps.log2_max_frame_num_minus4 + 4, false).unwrap()
            });
            let plan = d.plan(&st.params, st.poc()).unwrap();
            plan.fit_active_refs(&mut st.params);
            match write_au_headers(&mut w, &st, &caps).unwrap() {
                AuTail::SliceOpen => {}
                AuTail::HardwareSlice => {
                    // What VEPU2 would write itself.
                    begin_slice_nal(&mut w, st.framing, false, &st.params).unwrap();
                    write_slice_header(&mut w, &st.sps, &st.pps, &st.params, 0).unwrap();
                }
            }
            let shown = if intra {
                pics.push(Picture::random(48, 32, &mut rng));
                write_pcm_slice_data(&mut w, pics.last().unwrap()).unwrap();
                pics.len() - 1
            } else {
                let l0 = plan.l0();
                let kk = rng.range(0, l0.len() as i64 - 1) as u32;
                let active_minus1 = st.params.num_ref_idx_l0_active_minus1 as u32;
                write_ref_copy_slice_data(&mut w, 6, kk, active_minus1).unwrap();
                slot_pic[l0[kk as usize].slot.unwrap() as usize]
            };
            end_nal(&mut w).unwrap();
            slot_pic[plan.cur_slot as usize] = shown;
            expect.extend(pics[shown].visible_i420(vw as usize, vh as usize));
            // Completion.
            d.commit(&plan);
            tracker.commit(&st);
            let bytes = w.bytes_written() - au_start;
            au_start = w.bytes_written();
            rc.update(intra, qp, bytes as u32);
        }
        let n = w.finish().unwrap();
        let got = decode_i420(&buf[..n], &std::format!("engine-{name}-{with_hrd}.h264"));
        if with_hrd {
            assert_eq!(want_sei.len(), 40);
            let units = trace_headers(&buf[..n], &std::format!("engine-{name}-sei.h264"));
            let sei: Vec<_> = units
                .iter()
                .filter(|u| u.fields.get("nal_unit_type") == Some(&6))
                .collect();
            assert_eq!(sei.len(), 40, "{name}: one SEI per access unit");
            for (k, (u, (bp, cpb))) in sei.iter().zip(want_sei.iter()).enumerate() {
                assert_eq!(
                    u.fields.get("cpb_removal_delay"),
                    Some(&(*cpb as i64)),
                    "{name} AU {k}"
                );
                assert_eq!(u.fields.get("dpb_output_delay"), Some(&0), "{name} AU {k}");
                match bp {
                    Some(d) => {
                        assert_eq!(
                            u.fields.get("initial_cpb_removal_delay[0]"),
                            Some(&(*d as i64)),
                            "{name} AU {k}"
                        );
                        assert_eq!(
                            u.fields.get("initial_cpb_removal_delay_offset[0]"),
                            Some(&0)
                        );
                    }
                    None => assert!(!u.fields.contains_key("initial_cpb_removal_delay[0]")),
                }
            }
        } else {
            assert!(want_sei.is_empty());
        }
        assert_eq!(got.len(), expect.len(), "{name}: frame count");
        for (i, (a, b)) in got
            .chunks(44 * 30 * 3 / 2)
            .zip(expect.chunks(44 * 30 * 3 / 2))
            .enumerate()
        {
            assert!(a == b, "{name}: frame {i} differs");
        }
    }
}
