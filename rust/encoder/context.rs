// SPDX-License-Identifier: GPL-2.0
//! A context: one open file of either node, with its formats, crop, frame interval and
//! controls. Implements the V4L2 layer's [`NodeOps`].

use super::{controls::Controls, device::DevState, format as fmt, Engine};
use crate::v4l2::{
    bindings as b, ctrl::Builder, job::Job, DevRef, Format, FrameSizes, NodeKind, NodeOps, Queue,
    Rect,
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

/// `V4L2_COLORSPACE_REC709` and the default encodings: what a camera or test source produces
/// unless userspace says otherwise.
const COLORSPACE_REC709: u32 = 3;

/// The mutable part of a context.
struct State {
    out: Format,
    cap: Format,
    crop: Rect,
    timeperframe: (u32, u32),
    streaming: [bool; 2],
}

/// A context (see the module documentation).
pub(crate) struct Context {
    dev: DevRef<DevState>,
    engine: &'static Engine,
    node: NodeKind,
    state: Arc<Mutex<State>>,
    /// The backend's streaming state (session, private buffers), between STREAMON and
    /// STREAMOFF.
    stream: Arc<Mutex<Option<KBox<super::cedrus::Stream>>>>,
    ctrls: Controls,
    stats: super::stats::Stats,
    /// The statistics file in debugfs, removed when the file closes.
    _stats_file: Option<super::stats::StatsFile>,
}

impl Context {
    /// The context's statistics (debugfs).
    pub(crate) fn stats(&self) -> &super::stats::Stats {
        &self.stats
    }

    fn coded_formats(&self) -> impl Iterator<Item = u32> + '_ {
        let sl = (self.node == NodeKind::Stateless).then_some(fmt::H264_SLICE);
        Iterator::chain(
            sl.into_iter(),
            (self.node == NodeKind::Stateful)
                .then(|| self.engine.stateful_coded())
                .into_iter()
                .flatten(),
        )
    }

    fn raw(&self, f: &Format) -> Format {
        let s = &self.engine.caps.sizes;
        let fourcc = if self.engine.caps.raw_formats.contains(&f.fourcc) {
            f.fourcc
        } else {
            self.engine
                .caps
                .raw_formats
                .first()
                .copied()
                .unwrap_or(fmt::NV12)
        };
        let l = fmt::raw_layout(
            fourcc,
            f.width,
            f.height,
            s.max_width,
            s.max_height,
            f.bytesperline[0],
        );
        Format {
            fourcc: l.fourcc,
            width: l.width,
            height: l.height,
            num_planes: l.num_planes,
            bytesperline: l.bytesperline,
            sizeimage: l.sizeimage,
            colorspace: if f.colorspace == 0 {
                COLORSPACE_REC709
            } else {
                f.colorspace
            },
            xfer_func: f.xfer_func,
            ycbcr_enc: f.ycbcr_enc,
            quantization: f.quantization,
        }
    }

    fn coded(&self, f: &Format, out: &Format) -> Format {
        let fourcc = if self.coded_formats().any(|c| c == f.fourcc) {
            f.fourcc
        } else {
            self.coded_formats().next().unwrap_or(fmt::H264)
        };
        // The coded size follows the OUTPUT format (research/uapi.md §8.2: width/height 0 is
        // accepted and filled in).
        Format {
            fourcc,
            width: out.width,
            height: out.height,
            num_planes: 1,
            bytesperline: [0; 3],
            sizeimage: [fmt::coded_size(f.sizeimage[0], out.width, out.height), 0, 0],
            colorspace: out.colorspace,
            xfer_func: out.xfer_func,
            ycbcr_enc: out.ycbcr_enc,
            quantization: out.quantization,
        }
    }
}

impl Context {
    /// Whether the CAPTURE format is H.264 (the stateless node always is).
    fn coded_is_h264(&self) -> bool {
        matches!(self.state.lock().cap.fourcc, fmt::H264 | fmt::H264_SLICE)
    }

    /// The backend's streaming state.
    pub(crate) fn lock_stream(
        &self,
    ) -> kernel::sync::lock::Guard<
        '_,
        Option<KBox<super::cedrus::Stream>>,
        kernel::sync::lock::mutex::MutexBackend,
    > {
        self.stream.lock()
    }

    /// The OUTPUT layout: (unused, bytes per line, coded height).
    pub(crate) fn src_layout(&self) -> (u64, u32, u32) {
        let s = self.state.lock();
        (0, s.out.bytesperline[0], s.out.height)
    }

    /// Reads the controls into one frame's encode inputs (research/uapi.md §8.4 step 1). On
    /// the stateless node, a job with a request carries its ENCODE_PARAMS; one without (a
    /// plain m2m client such as v4l2-ctl) is encoded in auto mode, the driver choosing frame
    /// types (§8.6).
    pub(crate) fn frame_input(&self, has_request: bool) -> Result<KBox<super::cedrus::OwnedInput>> {
        use crate::encoder::session::{CodingSettings, FrameInput, GopSettings, HeaderMode};
        use crate::h264::{state::StreamOptions, uapi};
        let c = &self.ctrls;
        let get = |ctrl: &Option<crate::v4l2::ctrl::Ctrl>, default: i32| {
            ctrl.map_or(default, |x| x.get())
        };
        let stateless = self.node == NodeKind::Stateless;
        let mut coding = CodingSettings::default();
        coding.cabac = get(&c.entropy, 0) == 1;
        coding.profile_idc = match get(&c.profile, 2) {
            0 => 66,
            1 => {
                coding.constraint_set_flags = 0x40;
                66
            }
            _ => 77,
        };
        coding.level_idc = match get(&c.level, 9) {
            0 => 10,
            1 => 9,
            n @ 2..=4 => 11 + (n - 2) as u8,
            n @ 5..=7 => 20 + (n - 5) as u8,
            n @ 8..=10 => 30 + (n - 8) as u8,
            n @ 11..=13 => 40 + (n - 11) as u8,
            n @ 14..=16 => 50 + (n - 14) as u8,
            _ => 40,
        };
        let rc = crate::h264::rc::RcControls {
            frame_rc_enable: get(&c.frame_rc, 0) != 0,
            bitrate_mode: get(&c.bitrate_mode, 1) as u32,
            bitrate: get(&c.bitrate, 2_000_000) as u32,
            bitrate_peak: get(&c.bitrate_peak, 0) as u32,
            constant_quality: get(&c.constant_quality, 50) as u32,
            min_qp: get(&c.min_qp, 0) as u32,
            max_qp: get(&c.max_qp, 51) as u32,
            i_frame_qp: get(&c.i_qp, 26) as u32,
            p_frame_qp: get(&c.p_qp, 28) as u32,
            cpb_size_kb: 0,
        };
        let opts = StreamOptions {
            start_code: if get(&c.start_code, 1) == 0 {
                uapi::StartCode::None
            } else {
                uapi::StartCode::AnnexB
            },
            aud: get(&c.aud, 0) != 0,
            prepend_sps_pps: get(&c.prepend_sps_pps, 1) != 0,
            ..Default::default()
        };
        let gop = GopSettings {
            gop_size: get(&c.gop_size, 30) as u32,
            i_period: 0,
            force_key_frame: c.force_key_frame.is_some_and(|k| k.take_pressed()),
        };
        let mut input = KBox::new(
            super::cedrus::OwnedInput {
                sps: Default::default(),
                pps: Default::default(),
                params: uapi::H264EncodeParams::DEFAULT_CTRL,
                stateless,
                use_params: stateless && has_request,
                base: FrameInput {
                    parameter_sets: None,
                    params: None,
                    coding,
                    gop,
                    rc,
                    // Rate-controlled streams declare their HRD (buffering/timing SEI).
                    hrd: true,
                    opts,
                    header_mode: if get(&c.header_mode, 1) == 0 {
                        HeaderMode::Separate
                    } else {
                        HeaderMode::JoinedWith1stFrame
                    },
                },
            },
            GFP_KERNEL,
        )?;
        if stateless {
            let mut sps = [0u8; uapi::H264_SPS_SIZE];
            let mut pps = [0u8; uapi::H264_PPS_SIZE];
            let mut par = [0u8; uapi::H264_ENCODE_PARAMS_SIZE];
            c.sps.ok_or(EINVAL)?.get_compound(&mut sps)?;
            c.pps.ok_or(EINVAL)?.get_compound(&mut pps)?;
            c.encode_params.ok_or(EINVAL)?.get_compound(&mut par)?;
            input.sps = uapi::H264Sps::from_bytes(&sps);
            input.pps = uapi::H264Pps::from_bytes(&pps);
            input.params = uapi::H264EncodeParams::from_bytes(&par);
        }
        Ok(input)
    }
}

impl Context {
    /// Writes the frame's adapted SPS, PPS and ENCODE_PARAMS back into the stateless node's
    /// controls (uapi.md §2.5 step 3, §8.3): a client reads what the stream really carries,
    /// and after a request completes, the request holds them too (the request's values are
    /// taken from the handler on completion). Adapting adapted values changes nothing, so the
    /// next frame is not seen as a parameter change.
    pub(crate) fn write_back(&self, st: &crate::h264::state::FrameState) -> Result {
        use crate::h264::uapi;
        if self.node != NodeKind::Stateless {
            return Ok(());
        }
        let c = &self.ctrls;
        let mut sps = [0u8; uapi::H264_SPS_SIZE];
        st.sps.to_bytes(&mut sps);
        c.sps.ok_or(EINVAL)?.set_compound(&sps)?;
        let mut pps = [0u8; uapi::H264_PPS_SIZE];
        st.pps.to_bytes(&mut pps);
        c.pps.ok_or(EINVAL)?.set_compound(&pps)?;
        let mut par = [0u8; uapi::H264_ENCODE_PARAMS_SIZE];
        st.params.to_bytes(&mut par);
        c.encode_params.ok_or(EINVAL)?.set_compound(&par)
    }
}

impl NodeOps for Context {
    type Dev = DevState;

    fn dev_init(data: &DevState, dev: *mut b::device) -> Result {
        super::device::dev_init(data, dev)
    }

    fn open(dev: DevRef<DevState>, node: NodeKind) -> Result<Self> {
        let engine = dev.engine;
        let stats = super::stats::Stats::new()?;
        let stream = Arc::pin_init(new_mutex!(None), GFP_KERNEL)?;
        // Statistics are a debugging aid: no debugfs file is no reason to refuse the open.
        let stats_file =
            super::stats::StatsFile::new(&dev.debugfs, dev.next_ctx_id(), &stats, &stream)
                .ok();
        let mut this = Self {
            dev,
            engine,
            node,
            state: Arc::pin_init(
                new_mutex!(State {
                    out: Format::default(),
                    cap: Format::default(),
                    crop: Rect {
                        left: 0,
                        top: 0,
                        width: 0,
                        height: 0
                    },
                    timeperframe: (1, 30),
                    streaming: [false; 2],
                }),
                GFP_KERNEL,
            )?,
            stream,
            ctrls: Controls::default(),
            stats,
            _stats_file: stats_file,
        };
        // Every client sets its own size; the default is what streams without one
        // (v4l2-compliance): 320x240 keeps a model's frames in the TCG guest well inside the
        // tool's 2 s poll timeout (a 640x480 IDR took up to 2 s there).
        let out = this.raw(&Format {
            width: 320,
            height: 240,
            ..Default::default()
        });
        let cap = this.coded(&Format::default(), &out);
        {
            let mut s = this.state.lock();
            s.out = out;
            s.cap = cap;
            s.crop = Rect {
                left: 0,
                top: 0,
                width: out.width,
                height: out.height,
            };
        }
        this.ctrls = Controls::default();
        Ok(this)
    }

    fn add_controls(&mut self, node: NodeKind, ctrls: &mut Builder<'_>) {
        self.ctrls = Controls::add(self.engine, node, ctrls);
    }

    fn enum_fmt(&self, q: Queue, index: u32) -> Option<u32> {
        let i = usize::try_from(index).ok()?;
        match q {
            Queue::Output => self.engine.caps.raw_formats.get(i).copied(),
            Queue::Capture => self.coded_formats().nth(i),
        }
    }

    fn g_fmt(&self, q: Queue) -> Format {
        let s = self.state.lock();
        match q {
            Queue::Output => s.out,
            Queue::Capture => s.cap,
        }
    }

    fn try_fmt(&self, q: Queue, f: &Format) -> Format {
        match q {
            Queue::Output => self.raw(f),
            Queue::Capture => {
                let out = self.state.lock().out;
                self.coded(f, &out)
            }
        }
    }

    fn s_fmt(&self, q: Queue, f: &Format, busy: bool) -> Result<Format> {
        if busy {
            return Err(EBUSY);
        }
        let mut s = self.state.lock();
        match q {
            Queue::Output => {
                let out = self.raw(f);
                // S_FMT resets the visible rectangle to the whole picture; a smaller one is set
                // with S_SELECTION (stateful encoder interface, initialization step 6;
                // v4l2-compliance checks that the crop equals the format after S_FMT).
                let visible = Rect {
                    left: 0,
                    top: 0,
                    width: out.width,
                    height: out.height,
                };
                s.out = out;
                s.crop = visible;
                // The coded format follows the raw one (size, colorimetry). Its buffer size
                // only grows: a client that negotiated the CAPTURE format first (GStreamer's
                // v4l2h264enc) keeps the sizeimage it was given, and allocates by it.
                let cap = s.cap;
                let mut coded = self.coded(&cap, &out);
                if let (Some(new), Some(old)) = (coded.sizeimage.first_mut(), cap.sizeimage.first())
                {
                    *new = (*new).max(*old);
                }
                s.cap = coded;
                Ok(out)
            }
            Queue::Capture => {
                let cap = self.coded(f, &s.out);
                s.cap = cap;
                Ok(cap)
            }
        }
    }

    fn framesizes(&self, fourcc: u32) -> Option<FrameSizes> {
        (self.engine.caps.raw_formats.contains(&fourcc)
            || self.coded_formats().any(|c| c == fourcc))
        .then_some(self.engine.caps.sizes)
    }

    fn crop(&self) -> (Rect, Rect) {
        let s = self.state.lock();
        (
            s.crop,
            Rect {
                left: 0,
                top: 0,
                width: s.out.width,
                height: s.out.height,
            },
        )
    }

    fn s_crop(&self, r: Rect) -> Result<Rect> {
        let mut s = self.state.lock();
        if s.streaming[0] {
            return Err(EBUSY);
        }
        s.crop = fmt::fit_crop(r, s.out.width, s.out.height);
        Ok(s.crop)
    }

    fn timeperframe(&self) -> (u32, u32) {
        self.state.lock().timeperframe
    }

    fn s_timeperframe(&self, t: (u32, u32)) -> (u32, u32) {
        // 1/1000 s .. 1000 s, as ENUM_FRAMEINTERVALS says; a zero term means the default.
        let t = if t.0 == 0 || t.1 == 0 {
            (1, 30)
        } else {
            let (n, d) = (t.0.min(1000 * t.1.min(1_000_000)), t.1);
            (n.max(d.div_ceil(1000)), d)
        };
        self.state.lock().timeperframe = t;
        t
    }

    fn start_streaming(&self, q: Queue) -> Result {
        let src = {
            let mut s = self.state.lock();
            s.streaming[usize::from(q == Queue::Capture)] = true;
            super::cedrus::source_format(
                s.out.width,
                s.out.height,
                s.crop,
                s.timeperframe,
                s.out.colorspace,
                s.out.xfer_func,
                s.out.ycbcr_enc,
                s.out.quantization,
            )
        };
        let mut stream = self.stream.lock();
        if stream.is_none() && self.engine.backend.is_some() && self.coded_is_h264() {
            // Private buffers per context, sized for the OUTPUT format (research/cedrus.md §3).
            let st = super::cedrus::Stream::new(&self.dev, &src)?;
            self.stats.private_bytes(st.private_bytes());
            *stream = Some(st);
        }
        Ok(())
    }

    fn stop_streaming(&self, q: Queue) {
        let both_off = {
            let mut s = self.state.lock();
            s.streaming[usize::from(q == Queue::Capture)] = false;
            !s.streaming[0] && !s.streaming[1]
        };
        if both_off {
            *self.stream.lock() = None;
            self.stats.private_bytes(0);
        } else if let Some(st) = Option::as_mut(&mut *self.stream.lock()) {
            // Stopping one queue restarts the stream: the next frame is an IDR.
            st.session.reset();
        }
    }

    fn job_ready(&self) -> bool {
        true
    }

    fn device_run(&self, job: Job<Self>) {
        self.dev.device_run(job);
    }
}
