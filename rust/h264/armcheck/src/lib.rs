// SPDX-License-Identifier: GPL-2.0
#![no_std]
//! Instantiates every generic entry point of slenc-core's h264 module for a 32-bit ARM
//! target so `nm` can show whether any 64-bit division helper is referenced.
use slenc_core::h264::*;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[no_mangle]
pub extern "C" fn check_all(buf: *mut u8, len: usize, x: u32) -> u32 {
    // SAFETY: test harness only; never called, the code is only compiled and inspected.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    let mut w = bits::BitWriter::new(buf);
    let sps = uapi::H264Sps::default();
    let pps = uapi::H264Pps::default();
    let p = uapi::H264EncodeParams::DEFAULT_CTRL;
    let src = state::SourceFormat::default();
    let opts = state::StreamOptions::default();
    let caps = state::Capabilities {
        cabac: true, transform_8x8: true, inter: true, max_ref_frames: 1,
        forced_poc_type: None, forced_log2_max_frame_num_minus4: None, forced_log2_max_poc_lsb_minus4: None,
        hw_headers: x, width_align: 16, height_align: 16, min_width: 16, min_height: 16,
        max_width: 4096, max_height: 4096, max_level_idc: 51,
    };
    let tr = state::StreamTracker::default();
    let mut st = state::FrameState::default();
    let _ = st.prepare(&sps, &pps, &p, &src, &opts, &caps, &tr);
    let _ = au::write_au_headers(&mut w, &st, &caps);
    let _ = nal::write_aud(&mut w, uapi::StartCode::AnnexB, 0);
    let _ = sps::write_sps(&mut w, uapi::StartCode::AnnexB, true, &sps, &st.extra);
    let _ = pps::write_pps(&mut w, uapi::StartCode::AnnexB, true, &pps);
    let _ = slice_header::write_slice_header(&mut w, &sps, &pps, &p, x);
    use bits::BitSink;
    let _ = w.put_ue(x);
    let _ = w.put_se(x as i32);
    let _ = w.rbsp_trailing_bits();
    let mut d = dpb::Dpb::new(2, 1, 8, false).unwrap_or_else(|_| loop {});
    if let Ok(pl) = d.plan(&p, 0) { d.commit(&pl); }
    let mut poc = poc::PocState::default();
    let _ = poc.next(&sps, &p);
    let mut g = gop::Gop::new(gop::GopConfig::default());
    let gp = g.next_params();
    let cfg = rc::RcConfig { mode: rc::RcMode::Cbr, min_qp: 0, max_qp: 51, bitrate: x, peak_bitrate: x, cpb_bits: x, fps_num: x, fps_den: 1, frame_mbs: x };
    let mut r = match rc::RateControl::new(cfg) { Ok(r) => r, Err(_) => return 0 };
    let q = r.frame_qp(gp.is_idr());
    r.update(true, q, x);
    let _ = r.retry_qp();
    let _ = level::choose_level(40, 51, x, 1, x, 1);
    let mut out = [0u8; 64];
    let bw = w.bytes_written() as u32;
    let inp = [0u8, 0, 1, 0, 0, 0, 3, 5];
    let _ = bits::escape_rbsp(&inp[..(x as usize & 7)], &mut out);
    (fixed::div_u64(x as u64 * 7, x | 1) as u32) ^ (r.max_frame_bits() as u32) ^ bw
}
