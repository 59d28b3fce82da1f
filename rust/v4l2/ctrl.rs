// SPDX-License-Identifier: GPL-2.0
//! Controls: building a context's control handler, and reading values at job time.
//!
//! The control framework stores the values; the driver reads them when a job runs (after the
//! job's request, if any, has been applied), so no `s_ctrl` callback is needed. Compound
//! controls of our own type get their validation through [`Validate`].

use super::bindings as b;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::prelude::*;

/// Adds controls to a handler that is being set up.
pub(crate) struct Builder<'a> {
    hdl: *mut b::v4l2_ctrl_handler,
    _p: PhantomData<&'a mut b::v4l2_ctrl_handler>,
}

/// A control of a context's handler; valid as long as the context.
#[derive(Clone, Copy)]
pub(crate) struct Ctrl(NonNull<b::v4l2_ctrl>);

// SAFETY: a `v4l2_ctrl` is only accessed through the framework's functions, which lock its
// handler.
unsafe impl Send for Ctrl {}
// SAFETY: see `Send`.
unsafe impl Sync for Ctrl {}

/// Validation (and normalisation) of a compound control of our own type.
pub(crate) trait Validate {
    /// Checks `value` (exactly the control's `elem_size` bytes), fixing the fields the uAPI says
    /// the driver normalises silently.
    fn validate(value: &mut [u8]) -> Result;
}

/// How a custom compound control is described.
pub(crate) struct Compound {
    /// Control ID.
    pub(crate) id: u32,
    /// Name shown by `VIDIOC_QUERY_EXT_CTRL`.
    pub(crate) name: &'static CStr,
    /// Control type (`V4L2_CTRL_TYPE_*`, or one of ours).
    pub(crate) ctrl_type: u32,
    /// Default value, `elem_size` bytes.
    pub(crate) default: &'static [u8],
}

impl<'a> Builder<'a> {
    pub(super) fn new(hdl: *mut b::v4l2_ctrl_handler) -> Self {
        Self {
            hdl,
            _p: PhantomData,
        }
    }

    fn wrap(c: *mut b::v4l2_ctrl) -> Option<Ctrl> {
        NonNull::new(c).map(Ctrl)
    }

    /// A standard integer or boolean control (range and default chosen by the driver).
    pub(crate) fn std(&mut self, id: u32, min: i64, max: i64, step: u64, def: i64) -> Option<Ctrl> {
        // SAFETY: `hdl` is an initialised handler being set up; errors are recorded in it.
        Self::wrap(unsafe {
            b::v4l2_ctrl_new_std(self.hdl, core::ptr::null(), id, min, max, step, def)
        })
    }

    /// A standard button control (e.g. force key frame); [`Ctrl::take_pressed`] tells whether
    /// it was pressed since the last call.
    pub(crate) fn button(&mut self, id: u32) -> Option<Ctrl> {
        // SAFETY: as for `std`; `BUTTON_OPS` is static.
        Self::wrap(unsafe { b::v4l2_ctrl_new_std(self.hdl, &BUTTON_OPS, id, 0, 0, 0, 0) })
    }

    /// A standard menu control, items in `skip_mask` hidden.
    pub(crate) fn menu(&mut self, id: u32, max: u8, skip_mask: u64, def: u8) -> Option<Ctrl> {
        // SAFETY: as for `std`.
        Self::wrap(unsafe {
            b::v4l2_ctrl_new_std_menu(self.hdl, core::ptr::null(), id, max, skip_mask, def)
        })
    }

    /// A standard compound control (e.g. the H.264 SPS/PPS) with the framework's default value.
    pub(crate) fn std_compound(&mut self, id: u32) -> Option<Ctrl> {
        let null = b::v4l2_ctrl_ptr {
            p_const: core::ptr::null(),
        };
        // SAFETY: as for `std`; a null default means "the type's default".
        Self::wrap(unsafe {
            b::v4l2_ctrl_new_std_compound(self.hdl, core::ptr::null(), id, null, null, null)
        })
    }

    /// A compound control of our own type, validated by `V`.
    pub(crate) fn custom<V: Validate>(&mut self, c: &Compound) -> Option<Ctrl> {
        let cfg = b::v4l2_ctrl_config {
            type_ops: &TypeOps::<V>::OPS,
            id: c.id,
            name: c.name.as_char_ptr(),
            type_: c.ctrl_type,
            min: 0,
            max: 0,
            step: 0,
            def: 0,
            p_def: b::v4l2_ctrl_ptr {
                p_const: c.default.as_ptr().cast(),
            },
            elem_size: u32::try_from(c.default.len()).unwrap_or(0),
            ..Default::default()
        };
        // SAFETY: as for `std`; the framework copies the configuration, and `default` is static.
        Self::wrap(unsafe { b::v4l2_ctrl_new_custom(self.hdl, &cfg, core::ptr::null_mut()) })
    }
}

impl Ctrl {
    /// The current value of an integer, boolean or menu control.
    pub(crate) fn get(&self) -> i32 {
        // SAFETY: the control is alive (see the type's documentation); the call locks it.
        unsafe { b::v4l2_ctrl_g_ctrl(self.0.as_ptr()) }
    }

    /// Makes the control read-only (a value the driver reports, e.g. minimum buffers).
    pub(crate) fn set_read_only(&self) {
        // SAFETY: called while the handler is being set up, before the control is visible.
        unsafe { (*self.0.as_ptr()).flags |= b::V4L2_CTRL_FLAG_READ_ONLY as usize };
    }

    /// Whether a [`Builder::button`] control was pressed since the last call.
    pub(crate) fn take_pressed(&self) -> bool {
        let c = self.0.as_ptr();
        // SAFETY: as for `get`; `priv_` is read and cleared under the control's lock.
        unsafe {
            b::slenc_ctrl_lock(c);
            let pressed = !(*c).priv_.is_null();
            (*c).priv_ = core::ptr::null_mut();
            b::slenc_ctrl_unlock(c);
            pressed
        }
    }

    /// Sets an integer, boolean or menu control.
    pub(crate) fn set(&self, v: i32) -> Result {
        // SAFETY: as for `get`.
        let ret = unsafe {
            b::slenc_ctrl_lock(self.0.as_ptr());
            let r = b::__v4l2_ctrl_s_ctrl(self.0.as_ptr(), v);
            b::slenc_ctrl_unlock(self.0.as_ptr());
            r
        };
        kernel::error::to_result(ret)
    }

    /// Copies the current value of a compound control into `out` (its `elem_size` bytes).
    pub(crate) fn get_compound(&self, out: &mut [u8]) -> Result {
        let c = self.0.as_ptr();
        // SAFETY: as for `get`; the value is read under the control's lock and the copy is
        // bounded by both sizes.
        unsafe {
            b::slenc_ctrl_lock(c);
            let n = ((*c).elem_size as usize).min(out.len());
            let ok = n == out.len();
            core::ptr::copy_nonoverlapping((*c).p_cur.p_const.cast::<u8>(), out.as_mut_ptr(), n);
            b::slenc_ctrl_unlock(c);
            if ok {
                Ok(())
            } else {
                Err(EINVAL)
            }
        }
    }

    /// Writes `value` back into a compound control (the driver's adapted SPS/PPS/params).
    pub(crate) fn set_compound(&self, value: &[u8]) -> Result {
        let c = self.0.as_ptr();
        // SAFETY: as for `get`; `value` has the control's size (checked).
        let ret = unsafe {
            if value.len() != (*c).elem_size as usize {
                return Err(EINVAL);
            }
            b::slenc_ctrl_lock(c);
            let r = b::__v4l2_ctrl_s_ctrl_compound(c, (*c).type_, value.as_ptr().cast());
            b::slenc_ctrl_unlock(c);
            r
        };
        kernel::error::to_result(ret)
    }
}

/// Control operations of [`Builder::button`] controls.
static BUTTON_OPS: b::v4l2_ctrl_ops = b::v4l2_ctrl_ops {
    g_volatile_ctrl: None,
    try_ctrl: None,
    s_ctrl: Some(button_pressed),
};

/// A button has no value; its press is remembered in the control's otherwise unused `priv`
/// pointer (non-null = pressed), under the handler's lock.
unsafe extern "C" fn button_pressed(ctrl: *mut b::v4l2_ctrl) -> i32 {
    // SAFETY: the framework calls `s_ctrl` with the handler's lock held on a live control.
    unsafe { (*ctrl).priv_ = core::ptr::NonNull::<u8>::dangling().as_ptr().cast() };
    0
}

/// The type operations of a custom compound control validated by `V`: the framework's own
/// equal/init/log, our validation.
struct TypeOps<V>(PhantomData<V>);

impl<V: Validate> TypeOps<V> {
    const OPS: b::v4l2_ctrl_type_ops = b::v4l2_ctrl_type_ops {
        equal: Some(b::v4l2_ctrl_type_op_equal),
        init: Some(b::v4l2_ctrl_type_op_init),
        minimum: None,
        maximum: None,
        log: Some(b::v4l2_ctrl_type_op_log),
        validate: Some(validate::<V>),
    };
}

unsafe extern "C" fn validate<V: Validate>(
    ctrl: *const b::v4l2_ctrl,
    ptr: b::v4l2_ctrl_ptr,
) -> i32 {
    // SAFETY: the framework passes a live control and a value buffer of its `elem_size` bytes
    // (one element: our compound controls are not arrays).
    let value =
        unsafe { core::slice::from_raw_parts_mut(ptr.p.cast::<u8>(), (*ctrl).elem_size as usize) };
    match V::validate(value) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Applies the controls of the request `req` (if any) to `hdl` before a job runs.
///
/// # Safety
///
/// `req` must be null or a live request, `hdl` a live handler.
pub(crate) unsafe fn request_setup(req: *mut b::media_request, hdl: *mut b::v4l2_ctrl_handler) {
    if !req.is_null() {
        // SAFETY: per the requirements.
        unsafe { b::v4l2_ctrl_request_setup(req, hdl) };
    }
}

/// Marks the controls of request `req` (if any) complete; the request completes once its
/// buffers are done too.
///
/// # Safety
///
/// As for [`request_setup`].
pub(crate) unsafe fn request_complete(req: *mut b::media_request, hdl: *mut b::v4l2_ctrl_handler) {
    if !req.is_null() {
        // SAFETY: per the requirements.
        unsafe { b::v4l2_ctrl_request_complete(req, hdl) };
    }
}
