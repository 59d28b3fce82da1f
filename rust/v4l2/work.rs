// SPDX-License-Identifier: GPL-2.0
//! Work items for a device's completion path and watchdog, with the cancel/flush the kernel
//! crate does not offer (a device must stop its work before it is freed).

use super::bindings as b;
use kernel::types::Opaque;

/// Something that embeds work items and handles them. Implementors must be `'static` and not
/// move once [`Work::init`] ran (they live in the device's heap-allocated state).
pub(crate) trait WorkHandler: Sync {
    /// The completion work item ran.
    fn work(&self);
    /// The watchdog fired.
    fn watchdog(&self);
    /// The embedded work items.
    fn works(&self) -> &Works;
}

/// A work item and a delayed work item (the watchdog), embedded in a [`WorkHandler`].
pub(crate) struct Works {
    work: Opaque<b::work_struct>,
    watchdog: Opaque<b::delayed_work>,
    owner: core::cell::Cell<*const ()>,
    run: core::cell::Cell<Option<unsafe fn(*const (), bool)>>,
}

// SAFETY: the cells are written once in `init`, before the items can run, and only read after.
unsafe impl Sync for Works {}
// SAFETY: see `Sync`; the C structures are managed by the workqueue core.
unsafe impl Send for Works {}

impl Works {
    /// Uninitialised work items; call [`Works::init`] once they are in place.
    pub(crate) fn new() -> Self {
        Self {
            work: Opaque::zeroed(),
            watchdog: Opaque::zeroed(),
            owner: core::cell::Cell::new(core::ptr::null()),
            run: core::cell::Cell::new(None),
        }
    }

    /// Binds the work items to `owner`, which embeds them.
    ///
    /// # Safety
    ///
    /// `owner` must not move or be freed until [`Works::cancel`] returned, and `init` must run
    /// before any other method, once.
    pub(crate) unsafe fn init<H: WorkHandler>(&self, owner: &H) {
        self.owner.set(core::ptr::from_ref(owner).cast());
        self.run.set(Some(dispatch::<H>));
        // SAFETY: the items are zeroed and in place; the callbacks find `self` by address.
        unsafe {
            b::slenc_init_work(self.work.get(), Some(work_fn));
            b::slenc_init_delayed_work(self.watchdog.get(), Some(watchdog_fn));
        }
    }

    /// Queues the completion work item.
    pub(crate) fn schedule(&self) {
        // SAFETY: initialised by `init` (the type's contract).
        unsafe { b::slenc_schedule_work(self.work.get()) };
    }

    /// Whether the completion work item is queued and has not started yet.
    pub(crate) fn completion_pending(&self) -> bool {
        // SAFETY: the work item was initialised in `init` and lives as long as `self`.
        unsafe { b::slenc_work_pending(self.work.get()) }
    }

    /// (Re)arms the watchdog to fire in `ms` milliseconds.
    pub(crate) fn arm_watchdog(&self, ms: u32) {
        // SAFETY: as for `schedule`.
        unsafe { b::slenc_mod_delayed_work(self.watchdog.get(), ms as usize) };
    }

    /// Waits for both items to be idle and not queued. Must be called before the owner goes.
    pub(crate) fn cancel(&self) {
        if self.run.get().is_none() {
            return;
        }
        // SAFETY: as for `schedule`.
        unsafe {
            b::slenc_cancel_delayed_work_sync(self.watchdog.get());
            b::slenc_cancel_work_sync(self.work.get());
        }
    }
}

unsafe fn dispatch<H: WorkHandler>(owner: *const (), watchdog: bool) {
    // SAFETY: `owner` is the `H` given to `init`, alive until `cancel` (per `init`'s contract),
    // which waits for this callback.
    let h = unsafe { &*owner.cast::<H>() };
    if watchdog {
        h.watchdog();
    } else {
        h.work();
    }
}

/// Finds the `Works` embedding `work` (at field `work` or inside the delayed `watchdog`).
unsafe fn works_of(work: *mut b::work_struct, watchdog: bool) -> *const Works {
    if watchdog {
        // SAFETY: `work` is the `work` member of our `delayed_work`, itself the `watchdog` field.
        unsafe {
            let dw = b::slenc_to_delayed_work(work);
            dw.cast::<u8>()
                .sub(core::mem::offset_of!(Works, watchdog))
                .cast()
        }
    } else {
        // SAFETY: `work` is the `work` field of a `Works`.
        unsafe {
            work.cast::<u8>()
                .sub(core::mem::offset_of!(Works, work))
                .cast()
        }
    }
}

unsafe extern "C" fn work_fn(work: *mut b::work_struct) {
    // SAFETY: the workqueue core calls this for our initialised items only.
    unsafe {
        let w = &*works_of(work, false);
        if let Some(run) = w.run.get() {
            run(w.owner.get(), false);
        }
    }
}

unsafe extern "C" fn watchdog_fn(work: *mut b::work_struct) {
    // SAFETY: as for `work_fn`.
    unsafe {
        let w = &*works_of(work, true);
        if let Some(run) = w.run.get() {
            run(w.owner.get(), true);
        }
    }
}
