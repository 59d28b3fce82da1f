// SPDX-License-Identifier: GPL-2.0
//! The device-wide encoder state: the block's capabilities, and the one job that may be on
//! the hardware at a time, its completion and its watchdog.
//!
//! A job is started from `device_run`; it completes from the completion work item (the model's
//! "interrupt"; a real block's IRQ thread does the same), or fails from the watchdog when the
//! block does not finish within [`WATCHDOG_MS`] (research/uapi.md §8.1: userspace polls with a
//! 1 s timeout, so a stuck frame must come back as an error before that).

use super::{context::Context, Engine};
use crate::v4l2::{
    bindings as b,
    job::{Done, Job},
    work::{WorkHandler, Works},
    NodeOps,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// How long a job may run before the watchdog fails it.
pub(crate) const WATCHDOG_MS: u32 = 500;

/// What a backend does with the job on the hardware.
pub(crate) trait Running: Send {
    /// The block finished (or the model ran): collect the result; `None` if the block has not
    /// finished after all (a spurious interrupt, a hung model), leaving it to the watchdog.
    fn complete(&mut self, job: &mut Job<Context>) -> Option<Result<Done>>;
    /// The watchdog fired: reset the block. The job is then failed.
    fn abort(&mut self, job: &mut Job<Context>);
}

/// A block driver: programs the block for a job and starts it.
pub(crate) trait Backend: Sync {
    /// Programs the block for `job` and starts it. Returns what tracks the job on the hardware,
    /// and whether the completion path must be scheduled at once (a model, which runs there).
    fn start(&self, dev: &DevState, job: &mut Job<Context>) -> Result<(KBox<dyn Running>, bool)>;
}

/// The job on the hardware and the backend state that goes with it.
struct InFlight {
    job: Job<Context>,
    run: KBox<dyn Running>,
}

/// The engine's queue: the job on the hardware, and the one the other node's m2m core may
/// have handed us meanwhile (each node's m2m core runs one job at a time, so at most one).
#[derive(Default)]
struct Slots {
    busy: Option<InFlight>,
    pending: Option<Job<Context>>,
}

/// The device-wide state (see the module documentation).
pub(crate) struct DevState {
    /// The block's capabilities and backend.
    pub(crate) engine: &'static Engine,
    /// The platform device (DMA allocations), set by `dev_init`.
    dev: core::cell::Cell<*mut b::device>,
    slots: Arc<Mutex<Slots>>,
    works: Works,
    /// The VE model of a simulated V3s.
    #[cfg(slenc_sim)]
    model: Option<Arc<Mutex<KBox<super::cedrus::Model>>>>,
}

// SAFETY: `dev` is written once in `dev_init` before the device is visible, then only read.
unsafe impl Sync for DevState {}
// SAFETY: all other fields are `Send`; `dev` is a plain device pointer valid for the lifetime.
unsafe impl Send for DevState {}

impl DevState {
    /// A device state for `engine`, with the block's model when `sim`.
    pub(crate) fn new(engine: &'static Engine, sim: bool) -> Result<Self> {
        Ok(Self {
            engine,
            dev: core::cell::Cell::new(core::ptr::null_mut()),
            slots: Arc::pin_init(new_mutex!(Slots::default()), GFP_KERNEL)?,
            works: Works::new(),
            #[cfg(slenc_sim)]
            model: match (sim, engine.backend.is_some()) {
                (true, true) => Some(super::cedrus::Model::new()?),
                _ => None,
            },
        })
    }

    /// The VE model, on a simulated V3s.
    #[cfg(slenc_sim)]
    pub(crate) fn cedrus_model(&self) -> Option<Arc<Mutex<KBox<super::cedrus::Model>>>> {
        self.model.clone()
    }

    /// Binds the work items; called once the state is in place.
    pub(crate) fn init(&self, dev: *mut b::device) {
        self.dev.set(dev);
        // SAFETY: the state lives in the V4L2 device's heap allocation, never moves, and
        // cancels the work items in `drop` before it is freed.
        unsafe { self.works.init(self) };
    }

    /// The platform device, for DMA allocations.
    pub(crate) fn dev(&self) -> *mut b::device {
        self.dev.get()
    }

    /// Runs `job` on the block now, or after the job on it.
    pub(crate) fn device_run(&self, job: Job<Context>) {
        let mut slots = self.slots.lock();
        if slots.busy.is_some() {
            if slots.pending.is_none() {
                slots.pending = Some(job);
                return;
            }
            drop(slots);
            // Impossible with two m2m cores of one job each; never lose a job anyway.
            job.finish(Err(EBUSY));
            return;
        }
        drop(slots);
        self.start(job);
    }

    fn start(&self, mut job: Job<Context>) {
        let Some(backend) = self.engine.backend else {
            // No backend is attached to this block yet: fail the frame cleanly rather than
            // produce fake output.
            pr_debug!(
                "slenc: {}: frame {} failed: no backend\n",
                self.engine.name,
                job.sequence()
            );
            job.finish(Err(ENODEV));
            self.start_pending();
            return;
        };
        match backend.start(self, &mut job) {
            Ok((run, complete_now)) => {
                self.slots.lock().busy = Some(InFlight { job, run });
                self.works.arm_watchdog(WATCHDOG_MS);
                if complete_now {
                    self.works.schedule();
                }
            }
            Err(e) => {
                job.finish(Err(e));
                self.start_pending();
            }
        }
    }

    fn start_pending(&self) {
        let next = self.slots.lock().pending.take();
        if let Some(job) = next {
            self.start(job);
        }
    }

    /// The completion path: the job is taken off the hardware and finished, the next started.
    pub(crate) fn completed(&self) {
        let mut slots = self.slots.lock();
        let Some(f) = slots.busy.as_mut() else {
            return;
        };
        let Some(r) = f.run.complete(&mut f.job) else {
            return;
        };
        let Some(f) = slots.busy.take() else {
            return;
        };
        drop(slots);
        f.job.finish(r);
        self.start_pending();
    }
}

impl WorkHandler for DevState {
    fn work(&self) {
        self.completed();
    }

    fn watchdog(&self) {
        let Some(mut f) = self.slots.lock().busy.take() else {
            return;
        };
        pr_warn!(
            "slenc: {}: frame {} timed out, resetting the block\n",
            self.engine.name,
            f.job.sequence()
        );
        f.run.abort(&mut f.job);
        f.job.finish(Err(ETIMEDOUT));
        self.start_pending();
    }

    fn works(&self) -> &Works {
        &self.works
    }
}

impl Drop for DevState {
    fn drop(&mut self) {
        self.works.cancel();
    }
}

/// `NodeOps::dev_init` for [`Context`].
pub(crate) fn dev_init(data: &<Context as NodeOps>::Dev, dev: *mut b::device) -> Result {
    data.init(dev);
    Ok(())
}
