// SPDX-License-Identifier: GPL-2.0
//! Raw bindings for V4L2, vb2, m2m and the media controller, generated at build time by our
//! Kbuild from `bindings_helper.h` with the kernel's own bindgen flags.
//!
//! Only `rust/v4l2/` uses them; everything else goes through the safe wrappers there.

#![allow(
    clippy::all,
    dead_code,
    improper_ctypes,
    missing_docs,
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    unnecessary_transmutes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unused_imports
)]

use kernel::ffi;
use pin_init::MaybeZeroable;

// The kernel's bindgen parameters leave these to be mapped by hand, as its own bindings do.
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!(env!("SLENC_BINDINGS"));
