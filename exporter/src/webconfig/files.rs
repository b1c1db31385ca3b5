//! The files a web configuration is read from: read bounded, stamped to
//! notice changes, and named in its errors.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Why a web configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("--web.config.file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid web configuration.
    #[error("--web.config.file {}: {detail}", located(path, *line))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key (0 when unknown).
        line: usize,
        /// What is wrong, naming the key; never a secret.
        detail: String,
    },
}

fn located(path: &Path, line: usize) -> String {
    if line == 0 {
        path.display().to_string()
    } else {
        format!("{}:{line}", path.display())
    }
}

/// When a file was last changed, as far as `stat` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    device: u64,
}

/// The files a configuration was built from and their stamps when read
/// (`None`: it could not be looked at).
pub(super) type Stamps = Vec<(PathBuf, Option<Stamp>)>;

pub(super) fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        inode: m.ino(),
        device: m.dev(),
    })
}

pub(super) fn restamp(stamps: &Stamps) -> Stamps {
    stamps.iter().map(|(p, _)| (p.clone(), stamp(p))).collect()
}

/// Reads one file a configuration names, noting its stamp; `dir` makes a
/// relative path absolute as exporter-toolkit does.
pub(super) fn read_named(dir: &Path, name: &str, stamps: &mut Stamps) -> (PathBuf, std::io::Result<Vec<u8>>) {
    let path = if Path::new(name).is_absolute() {
        PathBuf::from(name)
    } else {
        dir.join(name)
    };
    let before = stamp(&path);
    let data = read_bounded(&path);
    stamps.push((path.clone(), before));
    (path, data)
}

/// Largest certificate, key or CA file read.
pub(super) const MAX_NAMED_FILE: u64 = 1 << 20;

/// Reads a certificate, key or CA file: a regular file (symbolic links
/// followed) of at most 1 MiB, opened without blocking. A file name that
/// points at a device or a FIFO (`/dev/zero`, say) gets an error instead of
/// an endless read or a start-up that waits for a writer.
pub(super) fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let not_regular = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let fd = rustix::fs::open(path, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())?;
    let file = std::fs::File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut data = Vec::new();
    file.take(MAX_NAMED_FILE + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_NAMED_FILE {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "larger than 1 MiB"));
    }
    Ok(data)
}
