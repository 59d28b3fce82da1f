// SPDX-License-Identifier: GPL-2.0
//! One-line errors: what failed (the ioctl and its errno where there is one) and on what.

use std::fmt;
use std::path::Path;

use nix::errno::Errno;

#[derive(Debug)]
pub struct Error(pub String);

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `EINVAL (Invalid argument)`.
pub fn errno_str(e: Errno) -> String {
    format!("{e:?} ({})", e.desc())
}

impl Error {
    pub fn msg(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// `IOCTL on PATH: ERRNO (text)`.
    pub fn ioctl(name: &str, path: &Path, e: Errno) -> Self {
        Self(format!("{name} on {}: {}", path.display(), errno_str(e)))
    }

    /// A file that could not be opened.
    pub fn open(path: &Path, e: std::io::Error) -> Self {
        let hint = match e.kind() {
            std::io::ErrorKind::PermissionDenied => {
                " (permission denied: run as root or join the 'video' group)"
            }
            _ => "",
        };
        Self(format!("open {}: {e}{hint}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let e = Error::ioctl("VIDIOC_S_FMT", Path::new("/dev/video0"), Errno::EINVAL);
        assert_eq!(
            e.to_string(),
            "VIDIOC_S_FMT on /dev/video0: EINVAL (Invalid argument)"
        );
    }
}
