// SPDX-License-Identifier: GPL-2.0
//! Shared host-side pieces of the benchmarks (a bench is an external crate: public API only).
//!
//! - [`MemBus`]: memory by bus address for the VE model (the crate's `HostBus` is test-only).
//! - [`Rig`]: one context's buffers plus the VE model, and [`Rig::frame`], one frame through
//!   session → cedrus backend → VE model → software slice encoder, as the driver runs it.
//! - ffmpeg helpers: content from lavfi filter graphs (cached), the decode oracle and the
//!   per-slice QP as `trace_headers` reads it from the stream (ARCHITECTURE.md §7).
//! - [`Args`]: the command line (`cargo bench` passes `--bench`; `tools/bench` passes
//!   `--frames N` and friends for the callgrind runs).

#![allow(dead_code)]

use slenc_core::encoder::session::{FrameInput, FramePlan, H264Session};
use slenc_core::hw::cedrus::backend::{
    finish_frame, private_sizes, start_frame, CedrusError, FrameBuffers,
};
use slenc_core::hw::cedrus::regs::rec_stride;
use slenc_core::sim::h264::MbInfo;
use slenc_core::sim::ve::{scratch_bytes, Bus, BusError, JobEnd, SwEngine, Ve, VeConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Memory by bus address: separately allocated regions, like separate DMA allocations.
#[derive(Default)]
pub struct MemBus {
    regions: Vec<(u32, Vec<u8>)>,
}

impl MemBus {
    /// Maps `len` zeroed bytes at `base` (regions must not overlap; the bench's own layout).
    pub fn map(&mut self, base: u32, len: usize) {
        self.regions.push((base, vec![0; len]));
    }

    fn find(&self, addr: u32, len: u32) -> Result<(usize, usize), BusError> {
        let err = BusError::Unmapped { addr, len };
        let end = addr.checked_add(len).ok_or(err)? as u64;
        self.regions
            .iter()
            .position(|(b, d)| addr >= *b && end <= *b as u64 + d.len() as u64)
            .map(|i| (i, (addr - self.regions[i].0) as usize))
            .ok_or(err)
    }

    /// Bytes at `[addr, addr + len)`; panics when unmapped (bench code).
    pub fn slice(&self, addr: u32, len: usize) -> &[u8] {
        let (i, o) = self.find(addr, len as u32).expect("unmapped");
        &self.regions[i].1[o..o + len]
    }

    /// Mutable bytes at `[addr, addr + len)`.
    pub fn slice_mut(&mut self, addr: u32, len: usize) -> &mut [u8] {
        let (i, o) = self.find(addr, len as u32).expect("unmapped");
        &mut self.regions[i].1[o..o + len]
    }
}

impl Bus for MemBus {
    fn read(&self, addr: u32, out: &mut [u8]) -> Result<(), BusError> {
        let (i, o) = self.find(addr, out.len() as u32)?;
        out.copy_from_slice(&self.regions[i].1[o..o + out.len()]);
        Ok(())
    }
    fn write(&mut self, addr: u32, data: &[u8]) -> Result<(), BusError> {
        let (i, o) = self.find(addr, data.len() as u32)?;
        self.regions[i].1[o..o + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn check(&self, addr: u32, len: u32) -> Result<(), BusError> {
        self.find(addr, len).map(|_| ())
    }
}

const SRC: u32 = 0x1000_0000;
const DST: u32 = 0x2000_0000;
const REC: [u32; 2] = [0x3000_0000, 0x3100_0000];
const SUB: [u32; 2] = [0x3800_0000, 0x3810_0000];
const MBI: u32 = 0x3900_0000;

/// One frame's outcome.
pub struct Coded {
    pub plan: FramePlan,
    /// The access unit (`bytesused` bytes of the CAPTURE buffer).
    pub au: Vec<u8>,
    /// FNV-1a of the visible reconstruction (packed NV12), to compare with the decoder's.
    pub recon_hash: u64,
}

/// One context's worth of buffers with the VE model.
pub struct Rig {
    pub ve: Ve<MemBus>,
    scratch: Vec<u8>,
    mb: Vec<MbInfo>,
    pub bufs: FrameBuffers,
    /// Coded (MB-aligned) size.
    pub w: u32,
    pub h: u32,
}

impl Rig {
    /// Buffers for a `w × h` (multiple of 16) picture and a CAPTURE buffer of `dst_size`.
    pub fn new(w: u32, h: u32, dst_size: u32) -> Self {
        let (wm, hm) = (w / 16, h / 16);
        let sizes = private_sizes(wm, hm).expect("size");
        let mut bus = MemBus::default();
        bus.map(SRC, (w * h * 3 / 2) as usize);
        bus.map(DST, dst_size as usize);
        for i in 0..2 {
            bus.map(REC[i], sizes.rec as usize);
            bus.map(SUB[i], sizes.subpix as usize);
        }
        bus.map(MBI, sizes.mb_info as usize);
        Rig {
            ve: Ve::new(bus, VeConfig::default()),
            scratch: vec![0; scratch_bytes(wm, hm).unwrap()],
            mb: vec![MbInfo::default(); SwEngine::scratch_len(wm as u16, hm as u16)],
            bufs: FrameBuffers {
                src_luma: SRC,
                src_chroma: SRC + w * h,
                src_stride: w,
                dst: DST,
                dst_size,
                rec: REC,
                subpix: SUB,
                mb_info: MBI,
                sizes,
            },
            w,
            h,
        }
    }

    /// Copies one packed NV12 frame into the OUTPUT buffer.
    pub fn load(&mut self, nv12: &[u8]) {
        let n = (self.w * self.h * 3 / 2) as usize;
        self.ve
            .bus_mut()
            .slice_mut(SRC, n)
            .copy_from_slice(&nv12[..n]);
    }

    fn recon_hash(&self, slot: u8) -> u64 {
        let base = REC[slot as usize];
        let rs = rec_stride(self.w / 16).unwrap();
        let off = self.bufs.sizes.rec_chroma_offset;
        let bus = self.ve.bus();
        let mut h = Fnv::default();
        for row in 0..self.h {
            h.update(bus.slice(base + row * rs, self.w as usize));
        }
        for row in 0..self.h / 2 {
            h.update(bus.slice(base + off + row * rs, self.w as usize));
        }
        h.0
    }

    /// One frame through session + backend + model (the source must be loaded). On a backend
    /// error the session's `fail` is called, as the driver does.
    pub fn frame(
        &mut self,
        s: &mut H264Session,
        input: &FrameInput<'_>,
        want_recon: bool,
    ) -> Result<Coded, CedrusError> {
        let mut plan = s.prepare(input).expect("prepare");
        let mut result;
        loop {
            if let Err(e) = start_frame(&mut self.ve, s, &plan, &self.bufs) {
                s.fail(&plan);
                return Err(e);
            }
            let mut eng = SwEngine::new(&mut self.mb);
            let end = self.ve.run(&mut eng, &mut self.scratch);
            result = finish_frame(&mut self.ve).map(|n| (n, end));
            // Rate control may ask for the frame once more, coarser (a scene cut).
            match result {
                Ok((n, _)) if s.retry(&mut plan, n) => continue,
                _ => break,
            }
        }
        match result {
            Ok((n, end)) => {
                assert_eq!(end, Some(JobEnd::Finished));
                s.complete(&plan, n);
                let au = self.ve.bus().slice(DST, n as usize).to_vec();
                let recon_hash = if want_recon {
                    self.recon_hash(plan.rec_slot)
                } else {
                    0
                };
                Ok(Coded {
                    plan,
                    au,
                    recon_hash,
                })
            }
            Err(e) => {
                s.fail(&plan);
                Err(e)
            }
        }
    }
}

/// FNV-1a, 64 bit.
pub struct Fnv(pub u64);
impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}
impl Fnv {
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// Where generated content and streams go (`target/tmp`, kept between runs).
pub fn tmp_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("slenc-bench");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `n` frames of packed NV12 at `w × h` from an ffmpeg command line (`inputs` then
/// `-filter_complex graph`, output label `[out]`), cached under `name` in [`tmp_dir`] keyed by
/// a hash of the command so a changed recipe regenerates.
pub fn ffmpeg_clip(name: &str, inputs: &[&str], graph: &str, w: u32, h: u32, n: u32) -> Vec<u8> {
    let mut key = Fnv::default();
    for s in inputs.iter().chain([&graph]) {
        key.update(s.as_bytes());
    }
    key.update(format!("{w}x{h}x{n}").as_bytes());
    let path = tmp_dir().join(format!("{name}-{:016x}.nv12", key.0));
    let size = (w * h * 3 / 2 * n) as usize;
    if let Ok(d) = std::fs::read(&path) {
        if d.len() == size {
            return d;
        }
    }
    let t = std::time::Instant::now();
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-y"]);
    for i in inputs {
        cmd.args(["-f", "lavfi", "-i", i]);
    }
    cmd.args(["-filter_complex", graph, "-map", "[out]"])
        .args(["-frames:v", &n.to_string(), "-pix_fmt", "nv12"])
        .args(["-s", &format!("{w}x{h}"), "-f", "rawvideo"])
        .arg(&path);
    let out = cmd.output().expect("ffmpeg must be installed");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = std::fs::read(&path).unwrap();
    assert_eq!(d.len(), size, "ffmpeg produced the wrong frame count");
    eprintln!(
        "  (generated {name}: {n} frames {w}x{h} in {:.1} s, cached in {})",
        t.elapsed().as_secs_f64(),
        path.display()
    );
    d
}

/// Decodes an Annex B stream with `ffmpeg -v error`: `Ok(per-frame FNV of packed NV12)` when
/// ffmpeg exits cleanly with nothing on stderr, `Err(stderr)` otherwise.
pub fn ffmpeg_decode_hashes(stream: &[u8], w: u32, h: u32, name: &str) -> Result<Vec<u64>, String> {
    let path = tmp_dir().join(format!("{name}.h264"));
    std::fs::write(&path, stream).unwrap();
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "h264", "-i"])
        .arg(&path)
        .args(["-f", "rawvideo", "-pix_fmt", "nv12", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg must be installed");
    let mut stdout = child.stdout.take().unwrap();
    let fs = (w * h * 3 / 2) as usize;
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut hashes = Vec::new();
        let mut buf = vec![0u8; fs];
        while stdout.read_exact(&mut buf).is_ok() {
            let mut f = Fnv::default();
            f.update(&buf);
            hashes.push(f.0);
        }
        hashes
    });
    let out = child.wait_with_output().unwrap();
    let hashes = reader.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && err.is_empty() {
        Ok(hashes)
    } else {
        Err(err)
    }
}

/// SliceQPY of every slice, in stream order, as ffmpeg's `trace_headers` bitstream filter
/// reads it (26 + pic_init_qp_minus26 of the PPS + slice_qp_delta): an oracle we did not write.
pub fn ffmpeg_slice_qps(stream: &[u8], name: &str) -> Vec<i32> {
    let path = tmp_dir().join(format!("{name}-trace.h264"));
    std::fs::write(&path, stream).unwrap();
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-f", "h264", "-i"])
        .arg(&path)
        .args(["-c:v", "copy", "-bsf:v", "trace_headers", "-f", "null", "-"])
        .output()
        .expect("ffmpeg must be installed");
    let log = String::from_utf8_lossy(&out.stderr);
    let value = |l: &str| -> Option<i32> { l.rsplit('=').next()?.trim().parse().ok() };
    let mut pic_init = 0;
    let mut qps = Vec::new();
    for l in log.lines() {
        if l.contains(" pic_init_qp_minus26 ") {
            pic_init = value(l).unwrap_or(0);
        } else if l.contains(" slice_qp_delta ") {
            qps.push(26 + pic_init + value(l).unwrap_or(0));
        }
    }
    qps
}

/// The bench command line. Unknown flags (such as cargo's `--bench`) are ignored.
pub struct Args {
    args: Vec<String>,
}

impl Args {
    pub fn parse() -> Self {
        Args {
            args: std::env::args().skip(1).collect(),
        }
    }
    /// The value after `--name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        let flag = format!("--{name}");
        self.args
            .iter()
            .position(|a| *a == flag)
            .and_then(|i| self.args.get(i + 1))
            .map(|s| s.as_str())
    }
    pub fn number(&self, name: &str) -> Option<u64> {
        self.value(name).map(|v| v.parse().expect("a number"))
    }
    pub fn flag(&self, name: &str) -> bool {
        let flag = format!("--{name}");
        self.args.contains(&flag)
    }
}

/// One line of the summary table `tools/bench` collects: `SUMMARY|bench|figure|value|target|ok`.
pub fn summary(bench: &str, figure: &str, value: &str, target: &str, ok: Option<bool>) {
    let verdict = match ok {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "-",
    };
    println!("SUMMARY|{bench}|{figure}|{value}|{target}|{verdict}");
}

/// Nanoseconds this thread has run on a CPU (`/proc/thread-self/schedstat`), 0 when unknown.
/// On a shared machine this is steadier than the wall clock.
pub fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The 1-minute load average and the CPU count, to judge wall-clock figures.
pub fn load() -> String {
    let la = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "load average {} on {cpus} CPUs",
        la.split_whitespace().next().unwrap_or("?")
    )
}

/// Flushes stdout (results appear promptly when piped through `tee`).
pub fn flush() {
    let _ = std::io::stdout().flush();
}
