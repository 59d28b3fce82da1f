// SPDX-License-Identifier: GPL-2.0
//! slenc: V4L2 memory-to-memory encoders for the Allwinner V3s Video Engine, the Hantro H1 and
//! RK3399 VEPU2, and the Amlogic S805 HCODEC.
//!
//! This is the kernel crate root. The pure modules (`h264`, `sim`, …) are the same files the host
//! crate (`lib.rs`) builds for tests, declared here at the same paths (ARCHITECTURE.md §2).

mod driver;
mod encoder;
#[allow(dead_code, reason = "abstraction layer: not every wrapper is used yet")]
mod v4l2;

// The pure modules, shared with the host crate (lib.rs). Used piecemeal by the driver, so the
// parts a given build does not call are expected; they are tested on the host.
#[allow(
    dead_code,
    unreachable_pub,
    unused_imports,
    elided_lifetimes_in_paths,
    reason = "pure library code, partly used per build, written to the host crate's lints"
)]
mod h264;
#[allow(
    dead_code,
    unreachable_pub,
    unused_imports,
    elided_lifetimes_in_paths,
    reason = "pure library code, partly used per build, written to the host crate's lints"
)]
mod hw;
#[cfg(slenc_sim)]
#[allow(
    dead_code,
    unreachable_pub,
    unused_imports,
    elided_lifetimes_in_paths,
    reason = "pure library code, partly used per build, written to the host crate's lints"
)]
mod sim;

kernel::prelude::module! {
    type: driver::SlencModule,
    name: "slenc",
    authors: ["The slenc developers"],
    description: "Stateless and stateful V4L2 H.264/JPEG encoders for Allwinner, Rockchip/Hantro and Amlogic SoCs",
    license: "GPL",
    params: {
        sim_hang: u32 {
            default: 0,
            description: "test hook: the simulated block never finishes its Nth job (1-based; 0 = never)",
        },
        selftest_warn: bool {
            default: false,
            description: "test hook: WARN at probe, so the test harness can prove it catches warnings",
        },
    },
}
