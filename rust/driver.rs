// SPDX-License-Identifier: GPL-2.0
//! The platform driver: device-tree matching for the three boards' encoder blocks, and the
//! simulated device that `slenc.sim=<variant>` creates for the models (ARCHITECTURE.md §5).
//!
//! A device-tree match brings the block itself up where its hardware glue is written (the V3s
//! VE, `encoder::cedrus_hw`); a simulated device gets the block's model.

use crate::encoder::{
    context::Context,
    device::{Block, DevState},
    format as fmt, Caps, Engine,
};
use crate::v4l2::{bindings as b, device as v4l2dev, FrameSizes};
use core::ptr::NonNull;
use kernel::{device::Core, of, platform, prelude::*};

/// One encoder block slenc can drive, on hardware or as a model.
pub(crate) struct Variant {
    /// Name used by `slenc.sim=`.
    pub(crate) name: &'static str,
    /// Card name of the stateless node (`VIDIOC_QUERYCAP`).
    pub(crate) card_sl: &'static CStr,
    /// Card name of the stateful node.
    pub(crate) card_enc: &'static CStr,
    /// Media device model.
    pub(crate) model: &'static CStr,
    /// The engine: capabilities and (later) the backend.
    pub(crate) engine: Engine,
    /// The glue that brings the real block up at probe, if written.
    pub(crate) hw: Hw,
}

/// Real-hardware glue of a variant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hw {
    /// None yet: a device-tree match registers the nodes, and every frame fails cleanly.
    None,
    /// The V3s Video Engine (`encoder::cedrus_hw`).
    CedrusV3s,
}

/// Sizes up to 1080p in macroblock steps: what all three blocks are specified for.
const SIZES_1080P: FrameSizes = FrameSizes {
    min_width: 16,
    max_width: 1920,
    step_width: 16,
    min_height: 16,
    max_height: 1088,
    step_height: 16,
};

/// Allwinner V3s Video Engine, AVC encoder (research/cedrus.md): NV12 through its ISP block.
pub(crate) static CEDRUS_V3S: Variant = Variant {
    name: "cedrus-v3s",
    card_sl: c"cedrus-v3s-h264-sl",
    card_enc: c"cedrus-v3s-enc",
    model: c"slenc cedrus-v3s",
    engine: Engine {
        name: "cedrus-v3s",
        backend: Some(&crate::encoder::cedrus::CEDRUS),
        caps: &Caps {
            raw_formats: &[fmt::NV12, fmt::NV12M],
            h264: true,
            jpeg: false,
            sizes: SIZES_1080P,
        },
    },
    hw: Hw::CedrusV3s,
};
/// Rockchip RK3399 VEPU2 (research/hantro_amlogic.md §1.3).
pub(crate) static VEPU2_RK3399: Variant = Variant {
    name: "vepu2-rk3399",
    card_sl: c"vepu2-rk3399-h264-sl",
    card_enc: c"vepu2-rk3399-enc",
    model: c"slenc vepu2-rk3399",
    engine: Engine {
        name: "vepu2-rk3399",
        backend: None,
        caps: &HANTRO_CAPS,
    },
    hw: Hw::None,
};
/// Hantro H1, VEPU1 register layout (research/hantro_amlogic.md §1.2).
pub(crate) static H1: Variant = Variant {
    name: "h1",
    card_sl: c"h1-h264-sl",
    card_enc: c"h1-enc",
    model: c"slenc h1",
    engine: Engine {
        name: "h1",
        backend: None,
        caps: &HANTRO_CAPS,
    },
    hw: Hw::None,
};
static HANTRO_CAPS: Caps = Caps {
    raw_formats: &[fmt::NV12, fmt::NV12M, fmt::YUV420, fmt::YUV420M],
    h264: true,
    jpeg: true,
    sizes: SIZES_1080P,
};
/// Amlogic S805 (meson8b) HCODEC, JPEG only (research/hantro_amlogic.md §3).
pub(crate) static MESON8B_JPEG: Variant = Variant {
    name: "meson8b-jpeg",
    card_sl: c"meson8b-h264-sl",
    card_enc: c"meson8b-jpeg-enc",
    model: c"slenc meson8b-jpeg",
    engine: Engine {
        name: "meson8b-jpeg",
        backend: None,
        caps: &Caps {
            raw_formats: &[fmt::NV12, fmt::YUV420],
            h264: false,
            jpeg: true,
            sizes: SIZES_1080P,
        },
    },
    hw: Hw::None,
};

static VARIANTS: [&Variant; 4] = [&CEDRUS_V3S, &VEPU2_RK3399, &H1, &MESON8B_JPEG];

kernel::of_device_table!(
    OF_TABLE,
    <SlencDriver as platform::Driver>::IdInfo,
    [
        // Our own compatibles, so the in-tree cedrus/hantro drivers never bind the same block.
        (
            of::DeviceId::new(c"allwinner,sun8i-v3s-ve-h264enc"),
            &CEDRUS_V3S
        ),
        (
            of::DeviceId::new(c"rockchip,rk3399-vepu2-enc"),
            &VEPU2_RK3399
        ),
        (of::DeviceId::new(c"rockchip,rk3288-vepu-enc"), &H1),
        (
            of::DeviceId::new(c"amlogic,meson8b-hcodec-jpegenc"),
            &MESON8B_JPEG
        ),
    ]
);

/// Driver name, also the name of the simulated platform device so the two match by name.
const DRIVER_NAME: &CStr = v4l2dev::DRIVER;

/// The platform driver.
pub(crate) struct SlencDriver;

/// Per-device driver data. Dropped at unbind after [`platform::Driver::unbind`], fields in
/// declaration order; the hardware resources go after it, with devres (`encoder::cedrus_hw`).
pub(crate) struct SlencData<'bound> {
    /// The VE interrupt of a real V3s: freed first, so no handler runs once the nodes go.
    #[cfg(CONFIG_COMMON_CLK)]
    _irq: Option<Pin<KBox<crate::encoder::cedrus_hw::VeIrqRegistration<'bound>>>>,
    #[cfg(not(CONFIG_COMMON_CLK))]
    _bound: core::marker::PhantomData<&'bound ()>,
    v4l2: v4l2dev::Registration<Context>,
}

/// Brings up the real block of `variant` on `pdev`.
fn hw_block(pdev: &platform::Device<Core<'_>>, variant: &Variant) -> Result<Block> {
    match variant.hw {
        Hw::None => Ok(Block::None),
        #[cfg(CONFIG_COMMON_CLK)]
        Hw::CedrusV3s => Ok(Block::CedrusHw(crate::encoder::cedrus_hw::VeHw::probe(
            pdev,
        )?)),
        #[cfg(not(CONFIG_COMMON_CLK))]
        Hw::CedrusV3s => {
            dev_err!(
                pdev.as_ref(),
                "{}: this kernel has no common clock framework (CONFIG_COMMON_CLK), which the \
                 Video Engine glue needs\n",
                variant.name
            );
            Err(ENODEV)
        }
    }
}

/// The block of a simulated device of `variant`: its model, when models are built in.
fn sim_block(variant: &Variant) -> Result<Block> {
    #[cfg(slenc_sim)]
    return Block::model_for(&variant.engine);
    #[cfg(not(slenc_sim))]
    {
        let _ = variant;
        Ok(Block::None)
    }
}

impl platform::Driver for SlencDriver {
    type IdInfo = &'static Variant;
    type Data<'bound> = SlencData<'bound>;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        let dev = pdev.as_ref();
        kernel::warn_on!(crate::module_parameters::selftest_warn.value());
        // A device-tree match names its variant; the simulated device (matched by name) takes
        // the one `slenc.sim=` asked for.
        let variant: &'static Variant = match info {
            Some(v) => v,
            None => sim_variant()?.ok_or(ENODEV)?,
        };
        let block = match info {
            Some(_) => hw_block(pdev, variant)?,
            None => sim_block(variant)?,
        };
        let stateless = variant.engine.caps.h264.then_some(v4l2dev::NodeInfo {
            card: variant.card_sl,
            requests: true,
        });
        let stateful = Some(v4l2dev::NodeInfo {
            card: variant.card_enc,
            requests: false,
        });
        let reg = v4l2dev::Registration::<Context>::new(
            dev,
            variant.model,
            [stateless, stateful],
            DevState::new(&variant.engine, block)?,
        )?;
        // The interrupt comes after the nodes, as its handler needs the device state they
        // share; a job started in between is completed when the handler gets the (level)
        // interrupt, or by the watchdog.
        #[cfg(CONFIG_COMMON_CLK)]
        let irq = match reg.data().block() {
            Block::CedrusHw(hw) => {
                match crate::encoder::cedrus_hw::request_irq(pdev, hw.clone(), reg.handle()) {
                    Ok(irq) => Some(irq),
                    Err(e) => {
                        dev_err!(dev, "cannot request the interrupt: {:?}\n", e);
                        // Nothing may be left on the block when devres takes it down.
                        reg.data().detach();
                        return Err(e);
                    }
                }
            }
            _ => None,
        };
        for (i, kind) in ["stateless H.264", "stateful"].iter().enumerate() {
            if let Some(n) = reg.node_num(i) {
                dev_info!(
                    dev,
                    "{}: {} encoder at /dev/video{}\n",
                    variant.name,
                    kind,
                    n
                );
            }
        }
        Ok(SlencData {
            #[cfg(CONFIG_COMMON_CLK)]
            _irq: irq,
            #[cfg(not(CONFIG_COMMON_CLK))]
            _bound: core::marker::PhantomData,
            v4l2: reg,
        })
    }

    fn unbind<'bound>(_pdev: &'bound platform::Device<Core<'_>>, this: Pin<&SlencData<'bound>>) {
        // The block must be idle, and stay so, before its interrupt, registers, reset line and
        // clocks go (after this returns: the driver data, then devres).
        this.v4l2.data().detach();
    }
}

/// Returns the variant `slenc.sim=` names, `None` when it is unset.
fn sim_variant() -> Result<Option<&'static Variant>> {
    // SAFETY: the parameter is set before `init` and only read afterwards; the C string it
    // points to lives as long as the module.
    let raw = unsafe { b::slenc_param_sim() };
    if raw.is_null() {
        return Ok(None);
    }
    // SAFETY: module parameters of type `charp` are NUL-terminated strings.
    let name = unsafe { CStr::from_char_ptr(raw) };
    let name = name.to_str().map_err(|_| EINVAL)?;
    if name.is_empty() {
        return Ok(None);
    }
    match VARIANTS.iter().find(|v| v.name == name) {
        Some(v) => Ok(Some(*v)),
        None => {
            pr_err!(
                "slenc: unknown sim variant '{}' (cedrus-v3s, vepu2-rk3399, h1, meson8b-jpeg)\n",
                name
            );
            Err(EINVAL)
        }
    }
}

/// The platform device `slenc.sim=` creates; unregistered when dropped.
struct SimDevice(NonNull<b::platform_device>);

// SAFETY: a registered platform device may be unregistered from any thread.
unsafe impl Send for SimDevice {}
// SAFETY: `&SimDevice` gives no access to the device.
unsafe impl Sync for SimDevice {}

impl SimDevice {
    fn register() -> Result<Self> {
        let info = b::platform_device_info {
            name: DRIVER_NAME.as_char_ptr(),
            id: b::PLATFORM_DEVID_NONE,
            // The models reach buffers by 32-bit bus address, like the real blocks.
            dma_mask: u64::from(u32::MAX),
            ..Default::default()
        };
        // SAFETY: `info` is valid for the call; the core copies what it keeps.
        let pdev = unsafe { b::platform_device_register_full(&info) };
        if pdev.is_null() {
            return Err(ENOMEM);
        }
        let err = kernel::error::from_err_ptr(pdev.cast::<kernel::ffi::c_void>());
        err?;
        Ok(Self(NonNull::new(pdev).ok_or(ENOMEM)?))
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        // SAFETY: the device was registered by `register` and is unregistered only here.
        unsafe { b::platform_device_unregister(self.0.as_ptr()) };
    }
}

/// The module: the platform driver, plus the simulated device when `slenc.sim=` is set.
#[pin_data]
pub(crate) struct SlencModule {
    // Dropped first: the simulated device goes before its driver.
    sim: Option<SimDevice>,
    #[pin]
    driver: kernel::driver::Registration<platform::Adapter<SlencDriver>>,
}

impl kernel::InPlaceModule for SlencModule {
    fn init(module: &'static kernel::ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            driver <- kernel::driver::Registration::new(DRIVER_NAME, module),
            sim: match sim_variant()? {
                Some(_) => Some(SimDevice::register()?),
                None => None,
            },
        })
    }
}
