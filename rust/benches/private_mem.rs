// SPDX-License-Identifier: GPL-2.0
//! Benchmark 4: private memory per encoding context for the cedrus backend
//! (`hw::cedrus::backend::private_sizes`: two REC/REF buffers, two sub-pixel buffers, the
//! MB-info buffer, no MV buffer), at 1920×1088 and a few smaller sizes, plus the per-context
//! structures of the pure code (`H264Session`, the `FramePlan` kept between `device_run` and
//! the completion). The VE model's scratch is listed for information: it exists only when the
//! module is built with models.

mod common;

use common::*;
use slenc_core::encoder::session::{FramePlan, H264Session};
use slenc_core::hw::cedrus::backend::private_sizes;
use slenc_core::sim::ve::scratch_bytes;

const MIB: f64 = 1024.0 * 1024.0;
const PAGE: u64 = 4096;

fn main() {
    println!("== private_mem: cedrus private buffers per context");
    println!(
        "   {:>9}  {:>10} {:>11} {:>8} {:>8} {:>12} {:>9} {:>12}",
        "size", "rec (x2)", "subpix (x2)", "mb_info", "mv", "total B", "MiB", "pow2-order B"
    );
    for (w, h) in [(1920u32, 1088u32), (1280, 720), (640, 480), (320, 240)] {
        let (wm, hm) = (w / 16, h.div_ceil(16));
        let s = private_sizes(wm, hm).expect("size in range");
        // dma_alloc_coherent without CMA takes 2^order pages per allocation: the worst case.
        let pow2 = |b: u32| -> u64 {
            let pages = (b as u64).div_ceil(PAGE).max(1);
            pages.next_power_of_two() * PAGE
        };
        let pow2_total = 2 * pow2(s.rec) + 2 * pow2(s.subpix) + pow2(s.mb_info);
        println!(
            "   {:>9}  {:>10} {:>11} {:>8} {:>8} {:>12} {:>9.3} {:>12}",
            format!("{w}x{h}"),
            s.rec,
            s.subpix,
            s.mb_info,
            s.mv,
            s.total,
            s.total as f64 / MIB,
            pow2_total
        );
        if (w, h) == (1920, 1088) {
            summary(
                "private_mem",
                "cedrus private buffers per context, 1920x1088",
                &format!("{} B = {:.2} MiB", s.total, s.total as f64 / MIB),
                "<= 10 MiB",
                Some(s.total as f64 <= 10.0 * MIB),
            );
            summary(
                "private_mem",
                "same, if each buffer is rounded to 2^order pages",
                &format!("{pow2_total} B = {:.2} MiB", pow2_total as f64 / MIB),
                "-",
                None,
            );
            let sc = scratch_bytes(wm, hm).unwrap();
            println!(
                "   VE model scratch at 1920x1088 (model builds only): {sc} B = {:.2} MiB",
                sc as f64 / MIB
            );
        }
    }
    let sess = std::mem::size_of::<H264Session>();
    let plan = std::mem::size_of::<FramePlan>();
    println!("   size_of H264Session = {sess} B, FramePlan = {plan} B (x86_64 host layout)");
    summary(
        "private_mem",
        "per-context structs: H264Session + FramePlan (host layout)",
        &format!("{sess} + {plan} B"),
        "-",
        None,
    );
}
