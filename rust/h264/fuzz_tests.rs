// SPDX-License-Identifier: GPL-2.0
//! "No panics on any input" (ARCHITECTURE.md §3), exercised with arbitrary control payloads,
//! formats, capabilities and feedback. Tests run with overflow checks on, so an arithmetic
//! overflow would fail here too.

use super::au::write_au_headers;
use super::bits::BitWriter;
use super::dpb::Dpb;
use super::gop::{Gop, GopConfig};
use super::poc::PocState;
use super::rc::{RateControl, RcConfig, RcMode};
use super::state::*;
use super::testutil::Rng;
use super::uapi::*;
use super::vui::{Colorimetry, SarControls};
use std::vec;

fn bytes<const N: usize>(rng: &mut Rng) -> [u8; N] {
    let mut b = [0u8; N];
    for x in b.iter_mut() {
        // Mostly small values so that some inputs get past validation.
        *x = match rng.range(0, 3) {
            0 => 0,
            1 => rng.range(0, 3) as u8,
            2 => rng.range(0, 40) as u8,
            _ => rng.next_u32() as u8,
        };
    }
    b
}

/// A valid payload with up to 3 random bytes replaced, or fully random bytes.
fn mutated<const N: usize>(rng: &mut Rng, valid: [u8; N]) -> [u8; N] {
    if rng.range(0, 4) == 0 {
        return bytes::<N>(rng);
    }
    let mut b = valid;
    for _ in 0..rng.range(0, 3) {
        let i = rng.range(0, N as i64 - 1) as usize;
        b[i] = if rng.bool() {
            rng.range(0, 3) as u8
        } else {
            rng.next_u32() as u8
        };
    }
    b
}

fn valid_payloads() -> (
    [u8; H264_SPS_SIZE],
    [u8; H264_PPS_SIZE],
    [u8; H264_ENCODE_PARAMS_SIZE],
) {
    let sps = H264Sps {
        profile_idc: 77,
        level_idc: 40,
        chroma_format_idc: 1,
        max_num_ref_frames: 1,
        log2_max_frame_num_minus4: 12,
        pic_width_in_mbs_minus1: 3,
        pic_height_in_map_units_minus1: 3,
        flags: SPS_FLAG_FRAME_MBS_ONLY,
        ..Default::default()
    };
    let pps = H264Pps {
        flags: PPS_FLAG_DEBLOCKING_FILTER_CONTROL_PRESENT,
        ..Default::default()
    };
    let (mut a, mut b, mut c) = (
        [0u8; H264_SPS_SIZE],
        [0u8; H264_PPS_SIZE],
        [0u8; H264_ENCODE_PARAMS_SIZE],
    );
    sps.to_bytes(&mut a);
    pps.to_bytes(&mut b);
    H264EncodeParams::DEFAULT_CTRL.to_bytes(&mut c);
    (a, b, c)
}

fn any_u32(rng: &mut Rng) -> u32 {
    match rng.range(0, 3) {
        0 => 0,
        1 => rng.range(1, 4096) as u32,
        2 => u32::MAX - rng.range(0, 3) as u32,
        _ => rng.next_u32(),
    }
}

#[test]
fn state_and_writers_never_panic() {
    let mut rng = Rng::new(0xf022);
    let mut ok = 0;
    for _ in 0..20000 {
        let (vs, vp, ve) = valid_payloads();
        let sps = H264Sps::from_bytes(&mutated(&mut rng, vs));
        let pps = H264Pps::from_bytes(&mutated(&mut rng, vp));
        let p = H264EncodeParams::from_bytes(&mutated(&mut rng, ve));
        let sane = rng.range(0, 4) != 0;
        let w = if sane || rng.bool() {
            rng.range(1, 128) as u32 * 16
        } else {
            any_u32(&mut rng)
        };
        let h = if sane || rng.bool() {
            rng.range(1, 128) as u32 * 16
        } else {
            any_u32(&mut rng)
        };
        let src = SourceFormat {
            width: w,
            height: h,
            crop: Rect {
                left: if sane || rng.bool() {
                    0
                } else {
                    any_u32(&mut rng)
                },
                top: if sane || rng.bool() {
                    0
                } else {
                    any_u32(&mut rng)
                },
                width: if sane {
                    w - rng.range(0, 15) as u32
                } else {
                    any_u32(&mut rng)
                },
                height: if sane {
                    h - rng.range(0, 15) as u32
                } else {
                    any_u32(&mut rng)
                },
            },
            colorimetry: Colorimetry {
                colorspace: rng.range(0, 14) as u32,
                xfer_func: rng.range(0, 9) as u32,
                ycbcr_enc: rng.range(0, 10) as u32,
                quantization: rng.range(0, 3) as u32,
            },
            timeperframe_num: any_u32(&mut rng),
            timeperframe_den: any_u32(&mut rng),
        };
        let caps = Capabilities {
            cabac: rng.bool(),
            transform_8x8: rng.bool(),
            inter: rng.bool(),
            max_ref_frames: rng.range(0, 20) as u8,
            forced_poc_type: if rng.bool() {
                None
            } else {
                Some(rng.range(0, 3) as u8)
            },
            forced_log2_max_frame_num_minus4: if rng.bool() {
                None
            } else {
                Some(rng.range(0, 14) as u8)
            },
            forced_log2_max_poc_lsb_minus4: if rng.bool() {
                None
            } else {
                Some(rng.range(0, 14) as u8)
            },
            hw_headers: rng.range(0, 15) as u32,
            width_align: [0u32, 1, 16, 32, 64][rng.range(0, 4) as usize],
            height_align: [0u32, 1, 16, 32, 64][rng.range(0, 4) as usize],
            min_width: rng.range(0, 64) as u32,
            min_height: rng.range(0, 64) as u32,
            max_width: if sane { 4096 } else { any_u32(&mut rng) },
            max_height: if sane { 4096 } else { any_u32(&mut rng) },
            max_level_idc: rng.range(0, 70) as u8,
        };
        let opts = StreamOptions {
            start_code: if rng.bool() {
                StartCode::AnnexB
            } else {
                StartCode::None
            },
            aud: rng.bool(),
            prepend_sps_pps: rng.bool(),
            sar: SarControls {
                enable: rng.bool(),
                idc: rng.range(0, 20) as u32,
                ext_width: rng.next_u32() as u16,
                ext_height: rng.next_u32() as u16,
            },
            hrd: if rng.bool() {
                Some(super::sei::hrd_params(
                    any_u32(&mut rng),
                    any_u32(&mut rng),
                    rng.bool(),
                ))
            } else {
                None
            },
        };
        let mut tracker = StreamTracker::default();
        if rng.bool() {
            let mut warm = FrameState::default();
            let key = H264EncodeParams::DEFAULT_CTRL;
            if warm
                .prepare(&sps, &pps, &key, &src, &opts, &caps, &tracker)
                .is_ok()
            {
                tracker.commit(&warm);
            }
        }
        let mut st = FrameState::default();
        if st
            .prepare(&sps, &pps, &p, &src, &opts, &caps, &tracker)
            .is_err()
        {
            continue;
        }
        ok += 1;
        st.set_qp(rng.range(0, 60) as u8);
        st.initial_cpb_removal_delay_90k = any_u32(&mut rng);
        for len in [0usize, 7, 40, 4096] {
            let mut buf = vec![0u8; len];
            let mut wr = BitWriter::new(&mut buf);
            // Errors are fine (small buffers); panics are not. A prepared state must write.
            let r = write_au_headers(&mut wr, &st, &caps);
            if len == 4096 {
                assert!(r.is_ok(), "{r:?} for {st:?}");
            }
        }
        let mut poc = PocState::default();
        let _ = poc.next(&st.sps, &st.params);
    }
    assert!(
        ok > 1000,
        "only {ok} inputs got through prepare: fuzzing too shallow"
    );
}

#[test]
fn dpb_never_panics() {
    let mut rng = Rng::new(0xd0b);
    for _ in 0..2000 {
        let Ok(mut d) = Dpb::new(
            rng.range(0, 20) as u8,
            rng.range(0, 20) as u8,
            rng.range(0, 20) as u8,
            rng.bool(),
        ) else {
            continue;
        };
        for _ in 0..50 {
            let p = H264EncodeParams::from_bytes(&bytes::<H264_ENCODE_PARAMS_SIZE>(&mut rng));
            if let Ok(plan) = d.plan(&p, rng.next_u32() as i32) {
                d.commit(&plan);
            }
            if rng.range(0, 40) == 0 {
                d.flush();
            }
        }
    }
}

#[test]
fn rc_and_gop_never_panic() {
    let mut rng = Rng::new(0x2c);
    for _ in 0..3000 {
        let mode = match rng.range(0, 3) {
            0 => RcMode::Direct {
                i_qp: rng.range(0, 60) as u8,
                p_qp: rng.range(0, 60) as u8,
            },
            1 => RcMode::ConstantQuality {
                quality: rng.next_u32() as u8,
            },
            2 => RcMode::Cbr,
            _ => RcMode::Vbr,
        };
        let cfg = RcConfig {
            mode,
            min_qp: rng.range(0, 60) as u8,
            max_qp: rng.range(0, 60) as u8,
            bitrate: any_u32(&mut rng),
            peak_bitrate: any_u32(&mut rng),
            cpb_bits: any_u32(&mut rng),
            fps_num: any_u32(&mut rng),
            fps_den: any_u32(&mut rng),
            frame_mbs: any_u32(&mut rng),
        };
        let Ok(mut rc) = RateControl::new(cfg) else {
            continue;
        };
        for _ in 0..100 {
            let intra = rng.bool();
            let qp = if rng.range(0, 10) == 0 {
                rc.retry_qp()
            } else {
                rc.frame_qp(intra)
            };
            assert!(qp <= 51);
            let _ = rc.max_frame_bits();
            let _ = rc.initial_cpb_removal_delay_90k();
            let (r, c) = rc.hrd_rate_and_size();
            let _ = super::sei::hrd_params(r, c, rng.bool());
            rc.update(intra, rng.range(0, 60) as u8, any_u32(&mut rng));
        }
        let mut g = Gop::new(GopConfig {
            gop_size: any_u32(&mut rng),
            i_period: any_u32(&mut rng),
            log2_max_frame_num_minus4: rng.range(0, 20) as u8,
            log2_max_poc_lsb_minus4: rng.range(0, 20) as u8,
            disable_deblocking_filter_idc: rng.next_u32() as u8,
            alpha_c0_offset_div2: rng.next_u32() as i8,
            beta_offset_div2: rng.next_u32() as i8,
            cabac_init_idc: rng.next_u32() as u8,
        });
        for _ in 0..50 {
            let mut p = g.next_params();
            assert!(super::validate::validate_encode_params(&mut p).is_ok());
            if rng.range(0, 20) == 0 {
                g.force_key_frame();
            }
        }
    }
}

/// ARCHITECTURE.md §3: no 64-bit division helper may be referenced on 32-bit ARM. Builds
/// `rust/h264/armcheck` (which instantiates every generic entry point) for armv7a-none-eabi
/// with overflow checks on, then checks the assembly of both crates for `__aeabi_uldivmod` /
/// `__aeabi_ldivmod`. Skipped (with a note) when that target is not installed.
#[test]
fn arm_object_has_no_64bit_division() {
    use std::process::Command;
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| std::string::String::from_utf8_lossy(&o.stdout).contains("armv7a-none-eabi"))
        .unwrap_or(false);
    if !installed {
        std::eprintln!("armv7a-none-eabi not installed: skipping the ARM division check");
        return;
    }
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("h264/armcheck");
    let target = std::env::temp_dir().join(std::format!("slenc-armcheck-{}", std::process::id()));
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--target",
            "armv7a-none-eabi",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env("RUSTFLAGS", "--emit=asm")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        std::string::String::from_utf8_lossy(&out.stderr)
    );
    let deps = target.join("armv7a-none-eabi/release/deps");
    let mut checked = 0;
    for e in std::fs::read_dir(&deps).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "s") {
            let asm = std::fs::read_to_string(&p).unwrap();
            for bad in [
                "__aeabi_uldivmod",
                "__aeabi_ldivmod",
                "__udivdi3",
                "__divdi3",
                "__umoddi3",
                "__moddi3",
            ] {
                assert!(!asm.contains(bad), "{} references {bad}", p.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "no assembly found in {}", deps.display());
    let _ = std::fs::remove_dir_all(&target);
}
