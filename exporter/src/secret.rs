//! Secrets: the Proxmox API token and NUT passwords, read once at start-up
//! from a file (with permission checks) or an environment variable
//! ([`Source`]).
//!
//! A secret file must be a regular file (a symbolic link to one is fine:
//! Kubernetes mounts secrets that way) that only its owner may write. One
//! that its group or others may write is refused, as ssh refuses such a
//! key: whoever can rewrite it chooses the credentials the exporter sends.
//! One that every user may read is accepted with a warning naming the file
//! (never its content), logged once per file: Docker and Swarm mount their
//! secrets 0444 and Kubernetes defaults to 0644, so refusing those would
//! break the common deployments for no gain inside a container.
//!
//! Anything that is not a regular file (a FIFO, a device, a directory) is
//! refused before it is read, so a wrong path cannot block start-up.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::fs::{Mode, OFlags};

/// Secret files larger than this are refused: a token or password is a
/// line, and a wrong path must not be read into memory whole.
pub const MAX_BYTES: u64 = 64 * 1024;

/// Why a secret file was refused. The message names the file and never
/// quotes its content.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// It could not be opened or examined (missing, no permission).
    #[error("{}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It is a directory, FIFO, socket or device.
    #[error("{} is a {kind}, not a regular file", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// Its group or others may write it.
    #[error(
        "{} is writable by {who} (mode {mode:04o}): whoever can write it can replace the secret; \
         make it writable by its owner only (chmod go-w, e.g. mode 0600 or 0400)",
        path.display()
    )]
    Writable {
        /// The file.
        path: PathBuf,
        /// "its group", "others" or both.
        who: &'static str,
        /// Its permission bits.
        mode: u32,
    },
    /// It is larger than [`MAX_BYTES`].
    #[error("{} is larger than {MAX_BYTES} bytes: not a token or password file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Reading it failed.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It is not UTF-8 text.
    #[error("{} is not UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
}

/// Files already warned about, so each is named once per process (the
/// NUT settings are read for the collector and for the prober).
static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn kind_of(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_block_device() || t.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

/// Checks the type and mode of an opened secret file: `Ok(true)` when
/// every user may read it (worth a warning), an error when it is refused.
fn check(path: &Path, meta: &std::fs::Metadata) -> Result<bool, Error> {
    if !meta.is_file() {
        return Err(Error::NotRegular {
            path: path.to_owned(),
            kind: kind_of(meta.file_type()),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => Some("its group and others"),
        (true, false) => Some("its group"),
        (false, true) => Some("others"),
        (false, false) => None,
    };
    if let Some(who) = who {
        return Err(Error::Writable {
            path: path.to_owned(),
            who,
            mode,
        });
    }
    Ok(mode & 0o004 != 0)
}

/// Reads a secret file whole, after the checks of the module docs. The
/// text is returned as it is (trailing newline included).
pub fn read(path: &Path) -> Result<String, Error> {
    let open_err = |source: io::Error| Error::Open {
        path: path.to_owned(),
        source,
    };
    // Follows symbolic links. Checked before opening so that a device is
    // never opened; checked again on the opened file against a swap.
    check(path, &std::fs::metadata(path).map_err(open_err)?)?;
    // Non-blocking, so a FIFO put there in between cannot hold start-up.
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| open_err(e.into()))?;
    let file = File::from(fd);
    let world_readable = check(path, &file.metadata().map_err(open_err)?)?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error::TooLarge {
            path: path.to_owned(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| Error::NotText {
        path: path.to_owned(),
    })?;
    if world_readable {
        let first = WARNED
            .lock()
            .map(|mut w| w.insert(path.to_owned()))
            .unwrap_or(true);
        if first {
            tracing::warn!(
                file = %path.display(),
                "secret file is readable by every user of this host; make it readable by its owner only \
                 (chmod o-r) unless it is a container secret mounted that way"
            );
        }
    }
    Ok(text)
}

/// Where a secret comes from: a file (read by [`read`], with its checks)
/// or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A secret file.
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
}

/// Why a secret could not be read from its source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file was refused.
    #[error(transparent)]
    File(#[from] Error),
    /// The variable is unset, empty or only white space.
    #[error("environment variable {0} is not set")]
    Unset(String),
}

/// Both the file and the environment variable of one secret were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Both;

impl Source {
    /// The source that a pair of settings (`*_file`, `*_env`) names, when
    /// one does; both at once is an error.
    pub fn from_pair(file: Option<&Path>, env: Option<&str>) -> Result<Option<Self>, Both> {
        match (file, env) {
            (Some(_), Some(_)) => Err(Both),
            (Some(f), None) => Ok(Some(Source::File(f.to_owned()))),
            (None, Some(v)) => Ok(Some(Source::Env(v.to_owned()))),
            (None, None) => Ok(None),
        }
    }

    /// Where it is read from, for messages: the path, or
    /// `environment variable NAME`. Never the secret.
    pub fn name(&self) -> String {
        match self {
            Source::File(path) => path.display().to_string(),
            Source::Env(var) => format!("environment variable {var}"),
        }
    }

    /// The secret's text, as the file or variable holds it.
    pub fn read(&self) -> Result<String, SourceError> {
        match self {
            Source::File(path) => Ok(read(path)?),
            Source::Env(var) => match std::env::var(var) {
                Ok(v) if !v.trim().is_empty() => Ok(v),
                _ => Err(SourceError::Unset(var.clone())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with_mode(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "user@pve!id=s3cr3t-value\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn owner_only_and_read_only_modes_are_read() {
        let dir = tempfile::tempdir().unwrap();
        for mode in [0o600, 0o400, 0o640, 0o440, 0o644, 0o444] {
            let p = file_with_mode(dir.path(), &format!("ok{mode:o}"), mode);
            assert_eq!(
                read(&p).unwrap(),
                "user@pve!id=s3cr3t-value\n",
                "mode {mode:o}"
            );
        }
    }

    #[test]
    fn group_or_other_writable_is_refused_naming_the_file_not_the_content() {
        let dir = tempfile::tempdir().unwrap();
        for (mode, who) in [
            (0o620, "its group"),
            (0o602, "others"),
            (0o666, "its group and others"),
            (0o660, "its group"),
        ] {
            let p = file_with_mode(dir.path(), &format!("bad{mode:o}"), mode);
            let e = read(&p).unwrap_err().to_string();
            assert!(
                e.contains(&p.display().to_string())
                    && e.contains(&format!("writable by {who} (mode 0{mode:o})")),
                "{e}"
            );
            assert!(!e.contains("s3cr3t"), "{e}");
        }
    }

    #[test]
    fn symlink_to_a_regular_file_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = file_with_mode(dir.path(), "..data-token", 0o400);
        let link = dir.path().join("token");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read(&link).unwrap(), "user@pve!id=s3cr3t-value\n");
        // The mode that counts is the file's, not the link's (always 0777).
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(read(&link), Err(Error::Writable { .. })));
    }

    #[test]
    fn directories_fifos_devices_and_missing_files_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(dir.path()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotRegular {
                    kind: "directory",
                    ..
                }
            ),
            "{e}"
        );
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let e = read(&fifo).unwrap_err();
        assert!(matches!(e, Error::NotRegular { kind: "FIFO", .. }), "{e}");
        assert!(
            e.to_string()
                .ends_with("fifo is a FIFO, not a regular file"),
            "{e}"
        );
        let e = read(Path::new("/dev/zero")).unwrap_err();
        assert!(matches!(e, Error::NotRegular { kind: "device", .. }), "{e}");
        let e = read(&dir.path().join("missing")).unwrap_err();
        assert!(
            matches!(e, Error::Open { .. }) && e.to_string().contains("missing"),
            "{e}"
        );
    }

    #[test]
    fn large_and_binary_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; MAX_BYTES as usize + 1]).unwrap();
        std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(read(&big), Err(Error::TooLarge { .. })));
        let exact = dir.path().join("exact");
        std::fs::write(&exact, vec![b'a'; MAX_BYTES as usize]).unwrap();
        std::fs::set_permissions(&exact, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&exact).unwrap().len(), MAX_BYTES as usize);
        let bin = dir.path().join("bin");
        std::fs::write(&bin, [0xff, 0xfe, 0x00]).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(read(&bin), Err(Error::NotText { .. })));
    }

    #[test]
    fn sources_are_a_file_or_a_variable_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let p = file_with_mode(dir.path(), "pw", 0o600);
        assert_eq!(Source::from_pair(Some(&p), Some("V")), Err(Both));
        assert_eq!(Source::from_pair(None, None), Ok(None));
        let file = Source::from_pair(Some(&p), None).unwrap().unwrap();
        assert_eq!(file.read().unwrap(), "user@pve!id=s3cr3t-value\n");
        assert_eq!(file.name(), p.display().to_string());
        let unset = Source::Env("HOMELAB_TEST_SURELY_UNSET_VARIABLE".into());
        assert_eq!(unset.read().unwrap_err().to_string(), "environment variable HOMELAB_TEST_SURELY_UNSET_VARIABLE is not set");
        assert_eq!(unset.name(), "environment variable HOMELAB_TEST_SURELY_UNSET_VARIABLE");
    }
}
