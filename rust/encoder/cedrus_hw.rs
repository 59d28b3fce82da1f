// SPDX-License-Identifier: GPL-2.0
//! The V3s Video Engine on a real board (device-tree compatible
//! `allwinner,sun8i-v3s-ve-h264enc`, `dts/sun8i-v3s-slenc.dtso`): bringing it up at probe, its
//! registers behind [`Regs`] for the shared job path in [`super::cedrus`], and its interrupt.
//!
//! Only built with `CONFIG_COMMON_CLK`: `kernel::clk` exists only then, and the x86_64 test
//! kernel has no common clock framework (nor does any x86 machine have this block). The arm
//! kernel of V3s boards (`ARCH_SUNXI` selects `COMMON_CLK`) and the arm64 one build it.
//!
//! # Probe (research/cedrus.md §7 "Probe", §5 for the resources)
//! SRAM C1 claimed for the VE; clocks `ahb`, `mod` (set to [`MOD_RATE`]) and `ram` enabled;
//! the reset line deasserted; the 4 KiB register window mapped (exclusively: a second driver on
//! the same block fails here); DMA limited to 32 bits; VE_VERSION read and logged. The driver
//! then registers the video nodes and requests the interrupt ([`request_irq`]).
//!
//! # Teardown, and why the hardware is unreachable after unbind
//! [`super::device::DevState`] (and with it an `Arc<VeHw>`) lives as long as the V4L2 device,
//! which open files keep past the unbind of the platform device, so the registers cannot simply
//! be owned by it. Instead every hardware resource is device-managed (devres), registered in
//! probe order — SRAM claim, clocks, reset line, register window — so the driver core releases
//! them in reverse order when the device is unbound (or a probe fails half-way):
//! 1. `unbind` first calls [`super::device::DevState::detach`]: no new job reaches the block,
//!    and the job on it completes or is reset by the watchdog, with everything still up;
//! 2. the driver data goes: the interrupt is freed (`free_irq` waits for a running handler),
//!    the video nodes are unregistered;
//! 3. devres: the register window is revoked — [`VeHw::access`] and the interrupt handler go
//!    through `try_access`, an RCU read-side section that revocation waits for, and fail once
//!    it is done — then the reset line is asserted and put ([`ResetOwner`]), the clocks are
//!    stopped, the SRAM goes back to the CPU.
//!
//! So after unbind no path can touch a register: a late work item, watchdog or job (a media
//! request queued on a file still open) finds the window revoked and fails with `ENODEV`, and
//! the watchdog's reset-line pulse finds the line gone.
//!
//! # Interrupt → completion
//! The handler ([`VeIrq`]) reads AVC_STATUS; with no done bit (0–3) up the interrupt is not
//! ours (`IRQ_NONE`: the line is shared, §1, §2.3). Otherwise it masks the encoder's interrupts
//! (AVC_INT_EN = 0) and acknowledges the done bits (write 1 to clear), as Bootlin's handler does
//! (§2.3), so the level-triggered line is quiet when it returns whatever INT_EN alone does to
//! it; the acknowledged bits are kept in [`VeHw::irq_status`], where the register accessor of the
//! completion path shows them as still set, and it schedules the device's completion work item.
//! There, [`finish_frame`](crate::hw::cedrus::backend::finish_frame) reads them with the coded
//! length and clears them, as it would on a block that kept them.

use super::{
    cedrus::{Stream, VeAccess, VeBlock},
    context::Context,
};
use crate::hw::cedrus::{
    backend::Regs,
    regs::{AvcIntEn, AvcStatus, VeVersion, VE_WINDOW},
};
use crate::v4l2::{
    device::DevHandle,
    job::Job,
    soc::{ResetLine, SramClaim},
};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::{
    clk::{Clk, Hertz},
    device::{Bound, Core, Device},
    devres::{self, DevresGuard},
    dma::{Device as _, DmaMask},
    io::{
        mem::{DevresExclusiveIoMem, ExclusiveIoMem},
        Io,
    },
    irq::{self, IrqReturn},
    new_mutex, platform,
    prelude::*,
    sync::{Arc, Mutex},
};

/// Size of the register window (cedrus.md §1: DT `reg` size 0x1000).
const VE_SIZE: usize = 0x1000;
const _: () = assert!(VE_SIZE == VE_WINDOW as usize);

/// Rate of the VE module clock: 402 MHz, what Bootlin's V3 encoder branch sets (cedrus.md §3
/// "Clocks", §7 "Probe"; mainline's decoder-only cedrus uses 297 MHz).
const MOD_RATE: Hertz = Hertz::from_mhz(402);

/// The VE's three clocks (cedrus.md §5: `ahb` bus gate, `mod` module clock, `ram` DRAM gate),
/// enabled. Dropping it stops them in reverse order (the fields drop in declaration order).
struct Clocks {
    _ram: ClkOn,
    _module: ClkOn,
    _ahb: ClkOn,
}

/// An enabled clock, disabled (then put) on drop.
struct ClkOn(Clk);

impl ClkOn {
    fn enable(clk: Clk) -> Result<Self> {
        clk.prepare_enable()?;
        Ok(Self(clk))
    }
}

impl Drop for ClkOn {
    fn drop(&mut self) {
        self.0.disable_unprepare();
    }
}

impl Clocks {
    /// Gets the clocks, sets the module clock rate, enables them: ahb, mod, ram. Returns them
    /// with the module clock's actual rate.
    fn enable(dev: &Device) -> Result<(Self, Hertz)> {
        let get = |name: &'static CStr| {
            Clk::get(dev, Some(name)).inspect_err(|e| {
                if *e != EPROBE_DEFER {
                    dev_err!(dev, "no '{}' clock: {:?}\n", name, e)
                }
            })
        };
        let ahb = get(c"ahb")?;
        let module = get(c"mod")?;
        let ram = get(c"ram")?;
        module.set_rate(MOD_RATE).inspect_err(|e| {
            dev_err!(
                dev,
                "cannot set the module clock to {} MHz: {:?}\n",
                MOD_RATE.as_mhz(),
                e
            )
        })?;
        let rate = module.rate();
        let ahb = ClkOn::enable(ahb)?;
        let module = ClkOn::enable(module)?;
        let ram = ClkOn::enable(ram)?;
        let clocks = Self {
            _ram: ram,
            _module: module,
            _ahb: ahb,
        };
        Ok((clocks, rate))
    }
}

/// The reset line shared with [`VeHw`] (for the watchdog's pulse), `None` once released.
type ResetSlot = Mutex<Option<ResetLine>>;

/// The devres entry that owns the reset line: at unbind it takes the line out of the shared
/// slot, which asserts and puts it; a pulse after that finds nothing to pulse.
struct ResetOwner(Arc<ResetSlot>);

impl Drop for ResetOwner {
    fn drop(&mut self) {
        drop(self.0.lock().take());
    }
}

/// Logs why the SRAM claim failed, in terms a board user can act on.
fn sram_error(dev: &Device, e: Error) {
    if e == EPROBE_DEFER {
        // The system controller has not probed yet; the driver core retries later.
    } else if e == EBUSY {
        // Kernels that refuse a second claim of a section say so when the in-tree cedrus driver
        // already bound a VE node. (Since claims are counted, as in 7.3, the exclusive request
        // of the register window below is what catches two drivers on one block.)
        dev_err!(
            dev,
            "SRAM C1 is busy: another driver holds it, most likely the in-tree cedrus driver \
             (sunxi-cedrus) bound to a Video Engine node of the base device tree; disable that \
             node or blacklist sunxi-cedrus\n"
        );
    } else if e == ENODEV {
        dev_err!(
            dev,
            "cannot claim SRAM C1: this kernel has no sunxi SRAM driver (CONFIG_SUNXI_SRAM)\n"
        );
    } else if e == ENOENT {
        dev_err!(
            dev,
            "no allwinner,sram property: the SRAM section is missing (apply \
             dts/sun8i-v3s-slenc.dtso)\n"
        );
    } else {
        dev_err!(dev, "cannot claim SRAM C1 (allwinner,sram): {:?}\n", e);
    }
}

/// The VE of a real V3s, shared by the device state (job path, watchdog) and the interrupt
/// handler. See the module documentation for its lifetime.
pub(crate) struct VeHw {
    /// The register window, revoked by the driver core at unbind.
    regs: DevresExclusiveIoMem<VE_SIZE>,
    /// The reset line, for the watchdog's pulse (owned by the devres entry [`ResetOwner`]).
    reset: Arc<ResetSlot>,
    /// AVC_STATUS done bits the interrupt handler acknowledged and
    /// [`finish_frame`](crate::hw::cedrus::backend::finish_frame) has not cleared yet (see the
    /// module documentation).
    irq_status: AtomicU32,
}

impl VeHw {
    /// Brings the VE of `pdev` up (see the module documentation); everything is undone by
    /// devres when the device is unbound or this fails.
    pub(crate) fn probe(pdev: &platform::Device<Core<'_>>) -> Result<Arc<Self>> {
        let dev: &Device<Bound> = pdev.as_ref();

        // 1. SRAM C1 to the VE: it keeps its deblocking data there (cedrus.md §3).
        let sram = SramClaim::claim(dev).inspect_err(|e| sram_error(dev, *e))?;
        devres::register(dev, sram, GFP_KERNEL)?;

        // 2. Clocks, module clock rate (cedrus.md §3 "Clocks", §7 "Probe" step 2).
        let (clocks, rate) = Clocks::enable(dev)?;
        devres::register(dev, clocks, GFP_KERNEL)?;

        // 3. Out of reset (§7 step 3), with the clocks running.
        let line = ResetLine::deasserted(dev).inspect_err(|e| {
            if *e != EPROBE_DEFER {
                dev_err!(dev, "cannot take the VE out of reset: {:?}\n", e)
            }
        })?;
        let reset = Arc::pin_init(new_mutex!(Some(line)), GFP_KERNEL)?;
        devres::register(dev, ResetOwner(reset.clone()), GFP_KERNEL)?;

        // 4. The register window, last: the first thing devres revokes.
        let regs = pdev
            .io_request_by_index(0)
            .ok_or(ENODEV)
            .inspect_err(|_| dev_err!(dev, "no register window (reg)\n"))?
            .iomap_exclusive_sized::<VE_SIZE>()
            .inspect_err(|e| {
                dev_err!(
                    dev,
                    "cannot map the VE registers ({:?}): is another driver (sunxi-cedrus) \
                     bound to the same block?\n",
                    e
                )
            })?
            .into_devres()?;

        // 5. The VE takes 32-bit bus addresses and has no IOMMU (cedrus.md §3).
        // SAFETY: the device is still being probed: nothing allocates or maps DMA memory for it
        // concurrently (the video nodes are registered later).
        unsafe { pdev.dma_set_mask_and_coherent(DmaMask::new::<32>())? };

        // 6. VE_VERSION (cedrus.md §1.1; its value on V3s is not documented, §8).
        let version = VeVersion(regs.access(dev)?.read32(VeVersion::OFFSET as usize));
        dev_info!(
            dev,
            "Video Engine version {:#06x}, module clock {} MHz\n",
            version.get(VeVersion::VERSION),
            rate.as_mhz()
        );

        Ok(Arc::new(
            Self {
                regs,
                reset,
                irq_status: AtomicU32::new(0),
            },
            GFP_KERNEL,
        )?)
    }
}

/// The real VE held for one step of a job: the register window (an RCU read-side section:
/// nothing that sleeps may run while this exists).
pub(crate) struct HwAccess<'a> {
    io: DevresGuard<'a, ExclusiveIoMem<'static, VE_SIZE>>,
    irq_status: &'a AtomicU32,
}

impl Regs for HwAccess<'_> {
    fn read32(&mut self, off: u32) -> u32 {
        // Offsets are the register map's (`hw::cedrus::regs`), all inside the window; the
        // runtime check cannot fail (a bug would read 0, which no poll takes for "ready").
        let v = (&*self.io).try_read32(off as usize).unwrap_or(0);
        if off == AvcStatus::OFFSET {
            // Done bits the interrupt handler acknowledged are still "up" for the job path.
            v | self.irq_status.load(Ordering::Acquire)
        } else {
            v
        }
    }

    fn write32(&mut self, off: u32, val: u32) {
        if off == AvcStatus::OFFSET {
            // Write 1 to clear, also for the bits the handler kept.
            self.irq_status.fetch_and(!val, Ordering::AcqRel);
        }
        let _ = (&*self.io).try_write32(val, off as usize);
    }
}

impl VeAccess for HwAccess<'_> {
    fn load(&mut self, _job: &Job<Context>, _stream: &mut Stream) -> Result {
        // Nothing to map: the VE reaches the buffers by bus address. A status kept from a job
        // the watchdog gave up on must not complete this one.
        self.irq_status.store(0, Ordering::Release);
        Ok(())
    }

    fn run(&mut self) -> bool {
        self.read32(AvcStatus::OFFSET) & AvcStatus::DONE_MASK != 0
    }

    fn unload(&mut self) {}
}

impl VeBlock for VeHw {
    type Access<'a> = HwAccess<'a>;
    const COMPLETES_AT_ONCE: bool = false;

    fn access(&self) -> Result<HwAccess<'_>> {
        let io = self.regs.try_access().ok_or(ENODEV)?;
        Ok(HwAccess {
            io,
            irq_status: &self.irq_status,
        })
    }

    fn reset_line(&self) {
        if let Some(line) = self.reset.lock().as_ref() {
            if let Err(e) = line.pulse() {
                dev_warn!(self.regs.device(), "VE reset line pulse failed: {:?}\n", e);
            }
        }
    }
}

/// The interrupt handler of the VE (see the module documentation).
pub(crate) struct VeIrq {
    hw: Arc<VeHw>,
    dev: DevHandle<Context>,
}

impl irq::Handler for VeIrq {
    fn handle(&self) -> IrqReturn {
        let Some(io) = self.hw.regs.try_access() else {
            return IrqReturn::None;
        };
        let io = &*io;
        let status = io.read32(AvcStatus::OFFSET as usize) & AvcStatus::DONE_MASK;
        if status == 0 {
            // Not the encoder's (cedrus.md §2.3): the VE's decoder side, or another device.
            return IrqReturn::None;
        }
        io.write32(0, AvcIntEn::OFFSET as usize);
        self.hw.irq_status.fetch_or(status, Ordering::AcqRel);
        io.write32(status, AvcStatus::OFFSET as usize);
        self.dev.interrupt();
        IrqReturn::Handled
    }
}

/// The registered interrupt handler; lives in the driver data, so it is freed at unbind.
pub(crate) type VeIrqRegistration<'a> = irq::Registration<'a, VeIrq>;

/// Requests the VE interrupt (cedrus.md §5: the only one, GIC SPI 58, level high; shared, as
/// the line may be) for the block `hw` of the device whose state `dev` refers to.
pub(crate) fn request_irq<'a>(
    pdev: &'a platform::Device<Core<'_>>,
    hw: Arc<VeHw>,
    dev: DevHandle<Context>,
) -> Result<Pin<KBox<VeIrqRegistration<'a>>>> {
    let pdev: &'a platform::Device<Bound> = pdev;
    // SAFETY: the registration is boxed and kept in the driver data until it is dropped at
    // unbind; it is never forgotten.
    let reg = unsafe {
        pdev.request_irq_by_index(
            irq::Flags::SHARED,
            0,
            c"slenc",
            Ok::<_, Error>(VeIrq { hw, dev }),
        )
    };
    KBox::pin_init(reg, GFP_KERNEL)
}
