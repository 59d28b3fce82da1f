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
    let (media_path, media) = find_media(&video_path, &video, &cap)?;
    Ok(Node {
        video_path,
        video,
        cap,
        media_path,
        media,
    })
}

/// The media device of a video node: the one whose graph (`MEDIA_IOC_G_TOPOLOGY`) has an
/// interface for the node's device number. Candidates are tried in this order: sysfs
/// (`/sys/class/video4linux/videoN/device/media*`), then every `/dev/media*`. If no graph can be
/// read, the first sysfs candidate or the `/dev/media*` whose `MEDIA_IOC_DEVICE_INFO` bus_info
/// matches the node's QUERYCAP is taken.
fn find_media(video_path: &Path, video: &File, cap: &Capability) -> Result<(PathBuf, File)> {
    let rdev = video
        .metadata()
        .map(|m| std::os::unix::fs::MetadataExt::rdev(&m))
        .unwrap_or(0);
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    let canon = std::fs::canonicalize(video_path).unwrap_or_else(|_| video_path.to_path_buf());
    let node_name = canon
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let media_names = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        let k = n.strip_prefix("media")?.parse::<u32>().ok()?;
                        Some((k, Path::new("/dev").join(n)))
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v.into_iter().map(|(_, p)| p).collect()
    };
    let sysfs = media_names(
        &Path::new("/sys/class/video4linux")
            .join(&node_name)
            .join("device"),
    );
    let mut candidates = sysfs.clone();
    for p in media_names(Path::new("/dev")) {
        if !candidates.contains(&p) {
            candidates.push(p);
        }
    }

    let mut fallback: Option<(PathBuf, File)> = None;
    for p in &candidates {
        let Ok(f) = open_rw_nonblock(p) else { continue };
        match sys::media_topology(&f) {
            Ok(t) => {
                if t.devnodes.contains(&(major, minor)) {
                    if !t.functions.contains(&sys::MEDIA_ENT_F_PROC_VIDEO_ENCODER) {
                        eprintln!(
                            "warning: {}: no entity with function MEDIA_ENT_F_PROC_VIDEO_ENCODER (GStreamer's element would not register)",
                            p.display()
                        );
                    }
                    return Ok((p.clone(), f));
                }
            }
            Err(_) => {
                let by_bus = sys::media_device_info(&f)
                    .map(|i| !cap.bus_info.is_empty() && sys::cstr(&i.bus_info) == cap.bus_info)
                    .unwrap_or(false);
                if fallback.is_none() && (sysfs.contains(p) || by_bus) {
                    fallback = Some((p.clone(), f));
                }
            }
        }
    }
    fallback.ok_or_else(|| {
        Error::msg(format!(
            "{}: no media device found for it (no media graph with an interface for device {major}:{minor}, no /sys/class/video4linux/{node_name}/device/media*, no /dev/media* with bus_info '{}'); the stateless node needs the request API",
            video_path.display(),
            cap.bus_info
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
