// SPDX-License-Identifier: GPL-2.0
//! Finding the stateless encoder node and its media device, and the uAPI ABI check that
//! GStreamer's element does before it registers (uapi.md §5).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use slenc_core::h264::uapi;
use v4l2r::bindings;
use v4l2r::ioctl::{self as vio, Capabilities, Capability, CtrlId, QueryCtrlFlags};

use crate::error::{Error, Result};
use crate::sys;

/// The card name suffix of slenc's stateless node (`rust/driver.rs`: `<variant>-h264-sl`).
pub const CARD_SUFFIX: &str = "-h264-sl";

/// An opened stateless node and its media device.
pub struct Node {
    pub video_path: PathBuf,
    pub video: File,
    pub cap: Capability,
    pub media_path: PathBuf,
    pub media: File,
}

fn open_rw_nonblock(p: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(p)
}

/// Whether a QUERYCAP answer is a stateless H.264 node we can drive: the card name, and
/// `V4L2_CAP_VIDEO_M2M_MPLANE` among the node's capabilities.
pub fn is_stateless_node(cap: &Capability) -> bool {
    cap.card.ends_with(CARD_SUFFIX) && cap.device_caps().contains(Capabilities::VIDEO_M2M_MPLANE)
}

/// The `/dev/videoN` names, sorted by N.
fn video_nodes() -> Vec<PathBuf> {
    let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir("/dev")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    let n = name.strip_prefix("video")?.parse::<u32>().ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|(_, p)| p).collect()
}

fn querycap(f: &File, path: &Path) -> Result<Capability> {
    vio::querycap::<Capability>(f).map_err(|e| Error::ioctl("VIDIOC_QUERYCAP", path, e.into()))
}

/// Opens `--device`, or the first node whose card ends in `-h264-sl`, and its media device.
pub fn open(device: Option<&Path>) -> Result<Node> {
    let (video_path, video, cap) = match device {
        Some(p) => {
            let f = open_rw_nonblock(p).map_err(|e| Error::open(p, e))?;
            let cap = querycap(&f, p)?;
            if !cap.device_caps().contains(Capabilities::VIDEO_M2M_MPLANE) {
                return Err(Error::msg(format!(
                    "{}: card '{}' (driver {}) is not a multi-planar M2M device (no V4L2_CAP_VIDEO_M2M_MPLANE)",
                    p.display(),
                    cap.card,
                    cap.driver
                )));
            }
            if !cap.card.ends_with(CARD_SUFFIX) {
                eprintln!(
                    "warning: {}: card '{}' does not end in '{CARD_SUFFIX}'; trying it anyway",
                    p.display(),
                    cap.card
                );
            }
            (p.to_path_buf(), f, cap)
        }
        None => {
            let nodes = video_nodes();
            let mut seen = Vec::new();
            let mut found = None;
            for p in nodes {
                let Ok(f) = open_rw_nonblock(&p) else {
                    continue;
                };
                let Ok(cap) = vio::querycap::<Capability>(&f) else {
                    continue;
                };
                if is_stateless_node(&cap) {
                    found = Some((p, f, cap));
                    break;
                }
                seen.push(format!("{} '{}'", p.display(), cap.card));
            }
            found.ok_or_else(|| {
                Error::msg(format!(
                    "no stateless H.264 encoder found: no /dev/video* with a card ending in '{CARD_SUFFIX}' and V4L2_CAP_VIDEO_M2M_MPLANE (seen: {}); is slenc loaded? use --device",
                    if seen.is_empty() { "none".to_string() } else { seen.join(", ") }
                ))
            })?
        }
    };
    let (media_path, media) = find_media(&video_path, &cap)?;
    Ok(Node {
        video_path,
        video,
        cap,
        media_path,
        media,
    })
}

/// The media device of a video node: first through sysfs
/// (`/sys/class/video4linux/videoN/device/media*`), else the `/dev/media*` whose
/// `MEDIA_IOC_DEVICE_INFO` bus_info (or driver) matches the node's QUERYCAP.
fn find_media(video_path: &Path, cap: &Capability) -> Result<(PathBuf, File)> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    // Resolve /dev/videoN symlinks (udev's by-path names) to the kernel name.
    let canon = std::fs::canonicalize(video_path).unwrap_or_else(|_| video_path.to_path_buf());
    if let Some(name) = canon.file_name().and_then(|n| n.to_str()) {
        let dev_dir = Path::new("/sys/class/video4linux")
            .join(name)
            .join("device");
        if let Ok(rd) = std::fs::read_dir(&dev_dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with("media") && n[5..].parse::<u32>().is_ok() {
                    candidates.push(Path::new("/dev").join(n));
                }
            }
        }
    }
    candidates.sort();
    for p in &candidates {
        if let Ok(f) = open_rw_nonblock(p) {
            return Ok((p.clone(), f));
        }
    }
    // Fallback: scan /dev/media*.
    let mut medias: Vec<PathBuf> = std::fs::read_dir("/dev")
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with("media") && n[5..].parse::<u32>().is_ok()
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    medias.sort();
    let mut by_driver = None;
    for p in medias {
        let Ok(f) = open_rw_nonblock(&p) else {
            continue;
        };
        let Ok(info) = sys::media_device_info(&f) else {
            continue;
        };
        if !cap.bus_info.is_empty() && sys::cstr(&info.bus_info) == cap.bus_info {
            return Ok((p, f));
        }
        if by_driver.is_none() && sys::cstr(&info.driver) == cap.driver {
            by_driver = Some((p, f));
        }
    }
    by_driver.ok_or_else(|| {
        Error::msg(format!(
            "{}: no media device found for it (no /sys/class/video4linux/{}/device/media*, and no /dev/media* with bus_info '{}' or driver '{}'); the stateless node needs the request API",
            video_path.display(),
            canon.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            cap.bus_info,
            cap.driver
        ))
    })
}

/// The three compound controls the element checks, with the sizes this tool was built for.
pub fn abi_controls() -> [(u32, &'static str, usize); 3] {
    [
        (
            uapi::CID_STATELESS_H264_ENCODE_PARAMS,
            "V4L2_CID_STATELESS_H264_ENCODE_PARAMS",
            uapi::H264_ENCODE_PARAMS_SIZE,
        ),
        (
            uapi::CID_STATELESS_H264_SPS,
            "V4L2_CID_STATELESS_H264_SPS",
            uapi::H264_SPS_SIZE,
        ),
        (
            uapi::CID_STATELESS_H264_PPS,
            "V4L2_CID_STATELESS_H264_PPS",
            uapi::H264_PPS_SIZE,
        ),
    ]
}

/// The ABI verdict for one control, from its `VIDIOC_QUERY_EXT_CTRL` element size.
pub fn check_elem_size(name: &str, id: u32, elem_size: u32, want: usize) -> Result<()> {
    if elem_size as usize != want {
        return Err(Error::msg(format!(
            "uAPI mismatch: {name} (0x{id:08x}) has elem_size {elem_size}, this tool speaks the May-2026 stateless-encode uAPI where it is {want} bytes"
        )));
    }
    Ok(())
}

/// `VIDIOC_QUERY_EXT_CTRL` on ENCODE_PARAMS, SPS and PPS: elem_size must be 44 / 1048 / 12.
pub fn abi_check(node: &Node) -> Result<()> {
    for (id, name, want) in abi_controls() {
        let cid = CtrlId::new(id).map_err(|_| Error::msg(format!("bad control id 0x{id:x}")))?;
        let q: bindings::v4l2_query_ext_ctrl =
            vio::query_ext_ctrl(&node.video, cid, QueryCtrlFlags::empty()).map_err(|e| {
                let errno: nix::errno::Errno = e.into();
                Error::msg(format!(
                    "VIDIOC_QUERY_EXT_CTRL({name}) on {}: {} — the node does not expose the stateless-encode control",
                    node.video_path.display(),
                    crate::error::errno_str(errno)
                ))
            })?;
        check_elem_size(name, id, q.elem_size, want)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_sizes() {
        let c = abi_controls();
        assert_eq!(c[0].0, 0x00a4_0908);
        assert_eq!(c[0].2, 44);
        assert_eq!(c[1].0, 0x00a4_0902);
        assert_eq!(c[1].2, 1048);
        assert_eq!(c[2].0, 0x00a4_0903);
        assert_eq!(c[2].2, 12);
        assert!(check_elem_size("X", 1, 44, 44).is_ok());
        let e = check_elem_size("V4L2_CID_STATELESS_H264_ENCODE_PARAMS", 0x00a40908, 40, 44)
            .unwrap_err()
            .to_string();
        assert!(e.contains("elem_size 40"), "{e}");
        assert!(e.contains("44 bytes"), "{e}");
    }
}
