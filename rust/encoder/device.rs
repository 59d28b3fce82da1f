// SPDX-License-Identifier: GPL-2.0
//! The device-wide encoder state: the block's capabilities, and the one job that may be on
//! the hardware at a time, its completion and its watchdog.
//!
//! A job is started from `device_run`; it completes from the completion work item, which a model
//! runs at once (it encodes there) and a real block's interrupt handler schedules
//! ([`DevState::interrupt`]), or fails from the watchdog when the block does not finish within
//! [`WATCHDOG_MS`] (research/uapi.md §8.1: userspace polls with a 1 s timeout, so a stuck frame
//! must come back as an error before that).
//!
//! The state lives as long as the V4L2 device, which open files keep past the unbind of the
//! platform device; the hardware does not. At unbind the driver calls [`DevState::detach`]: from
//! then on no job touches the block, and it returns once the job on the block (if any) is done.

use super::{context::Context, Engine};
use crate::v4l2::{
    bindings as b,
    job::{Done, Job},
    work::{WorkHandler, Works},
    NodeOps,
};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{
    new_condvar, new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, CondVar, Mutex},
    time::{Instant, Monotonic},
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
    /// and whether the completion path must be scheduled at once (a model, which runs there);
    /// a real block returns `false` and its interrupt handler calls [`DevState::interrupt`].
    fn start(&self, dev: &DevState, job: &mut Job<Context>) -> Result<(KBox<dyn Running>, bool)>;
}

/// The job on the hardware and the backend state that goes with it.
struct InFlight {
    job: Job<Context>,
    run: KBox<dyn Running>,
    /// When the block was started, for the statistics' hardware time.
    started: Instant<Monotonic>,
    /// Microseconds `Backend::start` took (the driver's CPU time before the block runs).
    start_us: u32,
}

impl InFlight {
    /// Microseconds since the block was started.
    fn hw_us(&self) -> u32 {
        micros(self.started)
    }
}

/// Microseconds since `t`.
fn micros(t: Instant<Monotonic>) -> u32 {
    u32::try_from(t.elapsed().as_micros_ceil()).unwrap_or(u32::MAX)
}

/// The engine's queue: the job on the hardware, and the jobs waiting for the block.
///
/// Each node's m2m core hands us at most one job at a time, but it may hand over the next one
/// from inside `v4l2_m2m_job_finish` (synchronously, through `device_run`) while we are still
/// finishing the previous one. So the block is *claimed* from the moment a job is taken on until
/// the next one is started or nothing is left, and every job arriving meanwhile waits here, in
/// order; nobody else starts a job while the block is claimed.
#[derive(Default)]
struct Slots {
    /// Someone owns the block: a job is on it, or one is being started or finished.
    claimed: bool,
    busy: Option<InFlight>,
    /// Waiting jobs, oldest first: at most one per node.
    pending: [Option<Job<Context>>; 2],
    /// The device was unbound ([`DevState::detach`]): jobs fail without touching the block.
    detached: bool,
}

impl Slots {
    /// Queues `job` behind the others; gives it back if the queue is full.
    fn push(&mut self, job: Job<Context>) -> Option<Job<Context>> {
        match self.pending.iter_mut().find(|p| p.is_none()) {
            Some(slot) => {
                *slot = Some(job);
                None
            }
            None => Some(job),
        }
    }

    /// The oldest waiting job.
    fn pop(&mut self) -> Option<Job<Context>> {
        let [a, b] = &mut self.pending;
        let job = a.take();
        *a = b.take();
        job
    }
}

/// The block a device drives, as its backend reaches it.
pub(crate) enum Block {
    /// Nothing: no backend is written for this block yet, jobs fail with `ENODEV`.
    None,
    /// The VE register model of a simulated V3s (ARCHITECTURE.md §5).
    #[cfg(slenc_sim)]
    CedrusModel(Arc<Mutex<KBox<super::cedrus::Model>>>),
    /// The VE of a real V3s (only built where the `kernel` crate has clocks, see
    /// [`super::cedrus_hw`]).
    #[cfg(CONFIG_COMMON_CLK)]
    CedrusHw(Arc<super::cedrus_hw::VeHw>),
}

impl Block {
    /// The block of a simulated device of `engine`: its model, if the engine has a backend.
    #[cfg(slenc_sim)]
    pub(crate) fn model_for(engine: &Engine) -> Result<Self> {
        Ok(match engine.backend {
            Some(_) => Self::CedrusModel(super::cedrus::Model::new()?),
            None => Self::None,
        })
    }
}

/// The device-wide state (see the module documentation).
pub(crate) struct DevState {
    /// The block's capabilities and backend.
    pub(crate) engine: &'static Engine,
    /// The platform device (DMA allocations), set by `dev_init`.
    dev: core::cell::Cell<*mut b::device>,
    slots: Arc<Mutex<Slots>>,
    /// Signalled when the block is released (`Slots::claimed` goes false), for `detach`.
    idle: Arc<CondVar>,
    /// An interrupt came and no job was published yet (see [`DevState::run`]).
    irq_seen: AtomicBool,
    works: Works,
    /// `/sys/kernel/debug/slenc-<block>/`: one statistics file per context (`stats.rs`).
    pub(crate) debugfs: kernel::debugfs::Dir,
    /// Numbers the contexts' statistics files.
    next_ctx: core::sync::atomic::AtomicU32,
    /// `private_bytes_1080p`: what one context's private buffers take at 1920×1088.
    _mem_file: Option<Pin<KBox<kernel::debugfs::File<u32>>>>,
    /// All frames of all contexts since the device appeared (`stats`), for benchmarks.
    totals: super::stats::Stats,
    _totals_file: Option<Pin<KBox<kernel::debugfs::File<super::stats::Stats>>>>,
    /// The block the backend drives.
    block: Block,
}

// SAFETY: `dev` is written once in `dev_init` before the device is visible, then only read.
unsafe impl Sync for DevState {}
// SAFETY: all other fields are `Send`; `dev` is a plain device pointer valid for the lifetime.
unsafe impl Send for DevState {}

impl DevState {
    /// A device state for `engine`, driving `block`.
    pub(crate) fn new(engine: &'static Engine, block: Block) -> Result<Self> {
        let name = CString::try_from_fmt(fmt!("slenc-{}", engine.name))?;
        let debugfs = kernel::debugfs::Dir::new(&name);
        let mem_file = match engine.private_bytes_1080p() {
            Some(n) => Some(KBox::pin_init(
                debugfs.read_only_file(c"private_bytes_1080p", n),
                GFP_KERNEL,
            )?),
            None => None,
        };
        let totals = super::stats::Stats::new()?;
        let totals_file = KBox::pin_init(
            debugfs.read_only_file(c"stats", totals.clone()),
            GFP_KERNEL,
        )
        .ok();
        Ok(Self {
            totals,
            _totals_file: totals_file,
            debugfs,
            next_ctx: core::sync::atomic::AtomicU32::new(0),
            _mem_file: mem_file,
            engine,
            dev: core::cell::Cell::new(core::ptr::null_mut()),
            slots: Arc::pin_init(new_mutex!(Slots::default()), GFP_KERNEL)?,
            idle: Arc::pin_init(new_condvar!("slenc_idle"), GFP_KERNEL)?,
            irq_seen: AtomicBool::new(false),
            works: Works::new(),
            block,
        })
    }

    /// The block the backend drives.
    pub(crate) fn block(&self) -> &Block {
        &self.block
    }

    /// The block raised its interrupt for the job on it (called from the hard interrupt
    /// handler): runs the completion path.
    #[cfg_attr(
        not(CONFIG_COMMON_CLK),
        expect(
            dead_code,
            reason = "only real hardware interrupts (encoder::cedrus_hw)"
        )
    )]
    pub(crate) fn interrupt(&self) {
        self.irq_seen.store(true, Ordering::Release);
        self.works.schedule();
    }

    /// The device is being unbound: from now on jobs fail with `ENODEV` without touching the
    /// block, and this returns once no job is on it any more (the job there completes, or the
    /// watchdog fails it, within [`WATCHDOG_MS`]). The driver calls it while the block, its
    /// interrupt and its clocks are still there.
    pub(crate) fn detach(&self) {
        let mut slots = self.slots.lock();
        slots.detached = true;
        while slots.claimed {
            self.idle.wait(&mut slots);
        }
    }

    /// Binds the work items; called once the state is in place.
    pub(crate) fn init(&self, dev: *mut b::device) {
        self.dev.set(dev);
        // SAFETY: the state lives in the V4L2 device's heap allocation, never moves, and
        // cancels the work items in `drop` before it is freed.
        unsafe { self.works.init(self) };
    }

    /// A number for a new context's statistics file.
    pub(crate) fn next_ctx_id(&self) -> u32 {
        self.next_ctx
            .fetch_add(1, core::sync::atomic::Ordering::Relaxed)
    }

    /// The platform device, for DMA allocations.
    pub(crate) fn dev(&self) -> *mut b::device {
        self.dev.get()
    }

    /// Runs `job` on the block now, or after the jobs before it.
    pub(crate) fn device_run(&self, job: Job<Context>) {
        let mut slots = self.slots.lock();
        if slots.claimed {
            let refused = slots.push(job);
            drop(slots);
            if let Some(job) = refused {
                // Impossible with two m2m cores of one job each; never lose a job anyway.
                job.finish(Err(EBUSY));
            }
            return;
        }
        slots.claimed = true;
        drop(slots);
        self.run(job);
    }

    /// Starts `job` on the claimed block; if it cannot start, fails it and goes on with the
    /// next waiting job, until one is on the block or none is left (the claim is released).
    fn run(&self, mut job: Job<Context>) {
        loop {
            let t = Instant::now();
            match self.start(&mut job) {
                Ok((run, complete_now)) => {
                    let start_us = micros(t);
                    // `busy` first: the completion path and the watchdog look for it there.
                    self.slots.lock().busy = Some(InFlight {
                        job,
                        run,
                        started: Instant::now(),
                        start_us,
                    });
                    self.works.arm_watchdog(WATCHDOG_MS);
                    // A real block may finish before the job is published above: its
                    // interrupt's completion pass then found nothing to complete (and left
                    // `irq_seen` set), so run it again now.
                    if complete_now || self.irq_seen.swap(false, Ordering::AcqRel) {
                        self.works.schedule();
                    }
                    return;
                }
                Err(e) => {
                    job.ctx().stats().failed(0);
                    self.totals.failed(0);
                    // Finishing may hand us the node's next job (it waits: still claimed).
                    job.finish(Err(e));
                    match self.next() {
                        Some(next) => job = next,
                        None => return,
                    }
                }
            }
        }
    }

    /// The next waiting job, keeping the claim; or none, releasing it.
    fn next(&self) -> Option<Job<Context>> {
        let mut slots = self.slots.lock();
        let job = slots.pop();
        if job.is_none() {
            slots.claimed = false;
            self.idle.notify_all();
        }
        job
    }

    /// Programs the block for `job` and starts it (the block is claimed and idle).
    fn start(&self, job: &mut Job<Context>) -> Result<(KBox<dyn Running>, bool)> {
        if self.slots.lock().detached {
            pr_debug!(
                "slenc: {}: frame {} failed: device unbound\n",
                self.engine.name,
                job.sequence()
            );
            return Err(ENODEV);
        }
        let Some(backend) = self.engine.backend else {
            // No backend is attached to this block yet: fail the frame cleanly rather than
            // produce fake output.
            pr_debug!(
                "slenc: {}: frame {} failed: no backend\n",
                self.engine.name,
                job.sequence()
            );
            return Err(ENODEV);
        };
        backend.start(self, job)
    }

    /// The job on the block is off it: finish it and start the next one, if any.
    fn retire(&self, job: Job<Context>, result: Result<Done>) {
        job.finish(result);
        if let Some(next) = self.next() {
            self.run(next);
        }
    }

    /// The completion path: the job is taken off the hardware and finished, the next started.
    pub(crate) fn completed(&self) {
        let mut slots = self.slots.lock();
        let Some(f) = slots.busy.as_mut() else {
            // No job published yet: `run` looks at `irq_seen` once it is.
            return;
        };
        // This pass looks at the block; a later interrupt sets the flag again.
        self.irq_seen.store(false, Ordering::Release);
        let t = Instant::now();
        let Some(r) = f.run.complete(&mut f.job) else {
            return;
        };
        let complete_us = micros(t);
        let Some(f) = slots.busy.take() else {
            return;
        };
        drop(slots);
        let hw_us = f.hw_us();
        let stats = f.job.ctx().stats();
        match &r {
            Ok(d) if d.header_only => {}
            Ok(d) => {
                let driver_us = f
                    .start_us
                    .saturating_add(complete_us)
                    .saturating_sub(d.model_us);
                stats.done(d.bytes, hw_us, driver_us);
                self.totals.done(d.bytes, hw_us, driver_us);
            }
            Err(_) => {
                stats.failed(hw_us);
                self.totals.failed(hw_us);
            }
        }
        let InFlight { job, run, .. } = f;
        drop(run);
        self.retire(job, r);
    }
}

impl WorkHandler for DevState {
    fn work(&self) {
        self.completed();
    }

    fn watchdog(&self) {
        if self.works.completion_pending() {
            // The block is done (or the model is about to run) and only the completion has
            // not run yet: a busy system, not a stuck block. Look again later rather than
            // fail a finished frame (seen in the TCG guest under load: frames of a
            // healthy model returned with ERROR).
            self.works.arm_watchdog(WATCHDOG_MS);
            return;
        }
        let Some(mut f) = self.slots.lock().busy.take() else {
            return;
        };
        pr_warn!(
            "slenc: {}: frame {} timed out, resetting the block\n",
            self.engine.name,
            f.job.sequence()
        );
        f.run.abort(&mut f.job);
        f.job.ctx().stats().timed_out(f.hw_us());
        self.totals.timed_out(f.hw_us());
        let InFlight { job, run, .. } = f;
        drop(run);
        self.retire(job, Err(ETIMEDOUT));
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
