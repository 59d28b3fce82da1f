// SPDX-License-Identifier: GPL-2.0
//! Per-context statistics and the last reconstructed picture, in debugfs under
//! `/sys/kernel/debug/slenc-<block>/`: `ctx<N>` (counters) and `ctx<N>-rec` (picture) for
//! each open file of either node, removed when it closes, and `private_bytes_1080p`, what one
//! context needs at the largest size. Kept by the engine as frames finish; read by people
//! tuning a pipeline and by the guest tests.

use kernel::{
    debugfs, fmt,
    fs::file,
    new_mutex,
    prelude::*,
    str::CString,
    sync::{Arc, Mutex},
    uaccess::UserSliceWriter,
};

/// A mean over a stream of any length in 32-bit arithmetic (no 64-bit division on 32-bit
/// ARM): when the sum gets large, sum and count are halved, which keeps the ratio and gives
/// recent frames a little more weight.
#[derive(Default, Clone, Copy)]
struct Mean {
    sum: u32,
    n: u32,
}

impl Mean {
    fn add(&mut self, v: u32) {
        if self.sum.checked_add(v).is_none_or(|s| s > u32::MAX / 2) {
            self.sum /= 2;
            self.n = self.n.div_ceil(2);
        }
        self.sum = self.sum.saturating_add(v);
        self.n = self.n.saturating_add(1);
    }

    fn get(&self) -> u32 {
        self.sum.checked_div(self.n).unwrap_or(0)
    }
}

/// The counters of one context.
#[derive(Default)]
struct Counters {
    frames: u64,
    bytes: u64,
    errors: u64,
    timeouts: u64,
    qp: Mean,
    hw_us: Mean,
    hw_us_last: u32,
    hw_us_max: u32,
    driver_us: Mean,
    private_bytes: u32,
}

impl Counters {
    fn hw(&mut self, us: u32) {
        self.hw_us_last = us;
        self.hw_us_max = self.hw_us_max.max(us);
        self.hw_us.add(us);
    }
}

/// A context's statistics (cheap to clone: shared with its debugfs file).
#[derive(Clone)]
pub(crate) struct Stats(Arc<Mutex<Counters>>);

impl Stats {
    /// Fresh counters.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(Arc::pin_init(
            new_mutex!(Counters::default()),
            GFP_KERNEL,
        )?))
    }

    /// A frame was coded into `bytes` in `hw_us` microseconds on the block, and the driver
    /// spent `driver_us` of CPU time on it (programming and completion, without the block's
    /// or the model's own encode).
    pub(crate) fn done(&self, bytes: usize, hw_us: u32, driver_us: u32) {
        let mut c = self.0.lock();
        c.frames += 1;
        c.bytes += bytes as u64;
        c.hw(hw_us);
        c.driver_us.add(driver_us);
    }

    /// A frame failed (refused, did not fit, hardware error), after `hw_us` on the block.
    pub(crate) fn failed(&self, hw_us: u32) {
        let mut c = self.0.lock();
        c.errors += 1;
        if hw_us > 0 {
            c.hw(hw_us);
        }
    }

    /// The watchdog failed a frame after `hw_us` on the block.
    pub(crate) fn timed_out(&self, hw_us: u32) {
        let mut c = self.0.lock();
        c.timeouts += 1;
        c.hw(hw_us);
    }

    /// The QP a frame was coded with (the slice QP; after a rate-control retry, the last one).
    pub(crate) fn qp(&self, qp: u8) {
        self.0.lock().qp.add(qp.into());
    }

    /// The context's private buffers now take `bytes` (0 when they are freed).
    pub(crate) fn private_bytes(&self, bytes: u32) {
        self.0.lock().private_bytes = bytes;
    }
}

impl debugfs::Writer for Stats {
    fn write(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.0.lock();
        writeln!(f, "frames: {}", c.frames)?;
        writeln!(f, "bytes: {}", c.bytes)?;
        writeln!(f, "average_qp: {}", c.qp.get())?;
        writeln!(f, "hw_time_us_last: {}", c.hw_us_last)?;
        writeln!(f, "hw_time_us_avg: {}", c.hw_us.get())?;
        writeln!(f, "hw_time_us_max: {}", c.hw_us_max)?;
        writeln!(f, "driver_time_us_avg: {}", c.driver_us.get())?;
        writeln!(f, "errors: {}", c.errors)?;
        writeln!(f, "timeouts: {}", c.timeouts)?;
        writeln!(f, "private_bytes: {}", c.private_bytes)
    }
}

/// A context's stream state, shared with its `ctx<N>-rec` file.
type SharedStream = Arc<Mutex<Option<KBox<super::cedrus::Stream>>>>;

/// `ctx<N>-rec`: the reconstruction of the context's last coded frame, tight NV12 at the
/// coded size (empty before the first frame and after STREAMOFF). Tests compare it with what a
/// decoder makes of the stream: the block's reference pictures must be the decoder's.
struct Reconstruction(SharedStream);

impl debugfs::BinaryWriter for Reconstruction {
    fn write_to_slice(
        &self,
        writer: &mut UserSliceWriter,
        offset: &mut file::Offset,
    ) -> Result<usize> {
        // Built per read: a debugging path, and the block writes the other slot meanwhile.
        let pic = match Option::as_ref(&*self.0.lock()) {
            Some(st) => st.last_reconstruction(),
            None => None,
        };
        match pic {
            Some(p) => writer.write_slice_file(&p, offset),
            None => Ok(0),
        }
    }
}

/// A context's debugfs files; removed when dropped (the file handle is closed).
pub(crate) struct StatsFile {
    _stats: Pin<KBox<debugfs::File<Stats>>>,
    _rec: Pin<KBox<debugfs::File<Reconstruction>>>,
}

impl StatsFile {
    /// Creates `ctx<id>` (statistics) and `ctx<id>-rec` (reconstruction) in `dir`.
    pub(crate) fn new(
        dir: &debugfs::Dir,
        id: u32,
        stats: &Stats,
        stream: &SharedStream,
    ) -> Result<Self> {
        let name = CString::try_from_fmt(fmt!("ctx{id}"))?;
        let rec_name = CString::try_from_fmt(fmt!("ctx{id}-rec"))?;
        Ok(Self {
            _stats: KBox::pin_init(dir.read_only_file(&name, stats.clone()), GFP_KERNEL)?,
            _rec: KBox::pin_init(
                dir.read_binary_file(&rec_name, Reconstruction(stream.clone())),
                GFP_KERNEL,
            )?,
        })
    }
}
