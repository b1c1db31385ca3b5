//! What a collector is: the traits host and network collectors implement,
//! what they are built from ([`Context`]) and the errors of building
//! ([`BuildError`]) and gathering ([`Error`]).

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use crate::config_key::Locator;
use crate::metrics::Snapshot;

/// Where the host collectors read from. Injectable so tests run on fixture
/// trees and a container can read the host's `/proc` mounted elsewhere.
#[derive(Debug, Clone)]
pub struct HostPaths {
    /// procfs mount point (`--path.procfs`).
    pub procfs: PathBuf,
    /// sysfs mount point (`--path.sysfs`).
    pub sysfs: PathBuf,
    /// Root filesystem (`--path.rootfs`), for mount points and `/etc`.
    pub rootfs: PathBuf,
    /// udev database (`--path.udev.data`).
    pub udev_data: PathBuf,
}

impl Default for HostPaths {
    fn default() -> Self {
        Self {
            procfs: "/proc".into(),
            sysfs: "/sys".into(),
            rootfs: "/".into(),
            udev_data: "/run/udev/data".into(),
        }
    }
}

impl HostPaths {
    /// A path below procfs.
    pub fn proc(&self, rel: &str) -> PathBuf {
        self.procfs.join(rel)
    }
    /// A path below sysfs.
    pub fn sys(&self, rel: &str) -> PathBuf {
        self.sysfs.join(rel)
    }
    /// A path below the root filesystem.
    pub fn root(&self, rel: &str) -> PathBuf {
        self.rootfs.join(rel.trim_start_matches('/'))
    }
}

/// Why a collector could not be built from its options.
#[derive(Debug, thiserror::Error)]
#[error("collector {collector}: {detail}")]
pub struct BuildError {
    /// The collector's name.
    pub collector: &'static str,
    /// What is wrong, naming the flag or key.
    pub detail: String,
}

/// What a collector is built from besides its own options: where to read,
/// and its section of the configuration file (`S`) with a way to point an
/// error at a key of that file.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a, S = ()> {
    /// Where host collectors read.
    pub paths: &'a Arc<HostPaths>,
    /// The collector's section of the configuration file, when it has one.
    pub section: Option<&'a S>,
    /// The configuration file, to name the line of a bad key.
    pub file: Option<Locator<'a>>,
}

impl<'a> Context<'a> {
    /// A context with no configuration file.
    pub fn new(paths: &'a Arc<HostPaths>) -> Self {
        Self { paths, section: None, file: None }
    }
}

impl<'a, S> Context<'a, S> {
    /// The same context with a section of the configuration file.
    pub fn with_section<T>(self, section: Option<&'a T>, file: Option<Locator<'a>>) -> Context<'a, T> {
        Context { paths: self.paths, section, file }
    }

    /// `detail` about `key` of the section, with the file and line where
    /// the key is written when the context has the file.
    pub fn at_key(&self, key: &str, detail: String) -> String {
        match self.file {
            Some(file) => file.error_at_key(key, detail).to_string(),
            None => detail,
        }
    }
}

/// What every collector learns about the scrape it runs in.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The instant by which the whole scrape must be answered.
    pub deadline: Instant,
}

impl Scrape {
    /// Time left before the deadline (zero when it has passed).
    pub fn remaining(&self) -> std::time::Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Time a network collector may spend on its backends: the time left
    /// less a margin (a tenth of it, at least 25 ms, at most 500 ms, never
    /// more than half), so that it reports a hung backend itself
    /// (`homelab_exporter_target_up 0`) before the engine cuts it off. With
    /// a margin of a few milliseconds, a busy machine let the engine's
    /// deadline win and that series went missing from the scrape.
    pub fn backend_budget(&self) -> std::time::Duration {
        let remaining = self.remaining();
        let margin = (remaining / 10).max(std::time::Duration::from_millis(25)).min(std::time::Duration::from_millis(500)).min(remaining / 2);
        remaining.saturating_sub(margin)
    }
}

/// Why a collector failed. The message names the file, endpoint or line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or socket could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// What was read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Content did not have the expected shape.
    #[error("parsing {path}: {detail}")]
    Parse {
        /// What was parsed.
        path: PathBuf,
        /// What was wrong, with the offending line where there is one.
        detail: String,
    },
    /// The source exists but had nothing to report (no such hardware, say).
    #[error("no data: {0}")]
    NoData(String),
    /// Anything else, already worded for the log.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
    /// A parse error in `path`.
    pub fn parse(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        Error::Parse { path: path.into(), detail: detail.into() }
    }
    /// True when the error is a file that does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Reads a whole (small) file as text, mapping the error to [`Error::Io`].
pub fn read_to_string(path: &Path) -> Result<String, Error> {
    let mut buf = Vec::new();
    read_into(path, &mut buf).map_err(|e| Error::io(path, e))?;
    String::from_utf8(buf).map_err(|_| Error::parse(path, "not UTF-8"))
}

/// Largest file [`read_into`] reads; a larger one is an error rather than
/// a scrape's worth of memory (no `/proc` or `/sys` file we read comes near).
pub const MAX_FILE: usize = 16 << 20;

/// Reads a whole file into `buf` (cleared first), with one `open`, reads
/// until end of file and one `close`, and no other system call.
///
/// Why not `std::fs::read_to_string`: it asks `statx` for the size first
/// (and `File::read_to_string` adds an `lseek`), one or two more system
/// calls per file, for sizes that are 0 in procfs and 4096 in sysfs
/// whatever the content. A scrape reads some 140 files; the reads are most
/// of its floor. A caller that keeps `buf` between files also reuses its
/// allocation.
pub fn read_into(path: &Path, buf: &mut Vec<u8>) -> io::Result<()> {
    use std::io::Read as _;
    buf.clear();
    // rustix's `open` is the one system call: musl's `open(O_CLOEXEC)`,
    // which `File::open` calls in the static builds, follows it with an
    // `fcntl(F_SETFD)` every time (for kernels older than 2.6.23).
    let fd = rustix::fs::open(path, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())?;
    let mut file = std::fs::File::from(fd);
    let mut len = 0;
    loop {
        if len == buf.len() {
            if len >= MAX_FILE {
                buf.truncate(len);
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("larger than {MAX_FILE} bytes")));
            }
            // Zero-filled growth: reading into spare capacity needs unsafe
            // code, and clearing a few KiB costs less than one system call.
            buf.resize((len * 2).clamp(4096, MAX_FILE), 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(len);
                return Err(e);
            }
        }
    }
    buf.truncate(len);
    Ok(())
}

/// A collector that reads local files: it blocks, so it runs on the
/// blocking pool. Its gather fills `out` and does no encoding.
pub trait HostCollector: Send + Sync + 'static {
    /// Gathers one snapshot.
    fn gather(&self, scrape: &Scrape, out: &mut Snapshot) -> Result<(), Error>;
}

/// A boxed future returned by [`AsyncCollector::gather`].
pub type GatherFuture<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>>;

/// A collector that talks to a server (upsd, dockerd, Proxmox): it runs on
/// the async runtime and is cancelled at the scrape deadline.
pub trait AsyncCollector: Send + Sync + 'static {
    /// Gathers one snapshot.
    fn gather<'a>(&'a self, scrape: &'a Scrape, out: &'a mut Snapshot) -> GatherFuture<'a>;
}

/// Why a probe request was refused, worded for the client.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The `target` parameter is malformed (HTTP 400).
    #[error("{0}")]
    BadTarget(String),
    /// The target may not be probed (HTTP 403).
    #[error("{0}")]
    NotAllowed(String),
}

/// A boxed future returned by [`Probe::probe`].
pub type ProbeFuture<'a> = Pin<Box<dyn Future<Output = Result<Snapshot, ProbeError>> + Send + 'a>>;

/// Answers `/probe?module=MODULE&target=...`: one target's series, on
/// request, within the scrape.
pub trait Probe: Send + Sync + 'static {
    /// The `module` parameter it answers (and its flags' stem:
    /// `--collector.MODULE.probe`).
    fn module(&self) -> &'static str;
    /// Queries `target` into a snapshot.
    fn probe<'a>(&'a self, target: &'a str, scrape: &'a Scrape) -> ProbeFuture<'a>;

    /// Answers the compatibility path of another exporter of the same
    /// kind (for NUT, the Go NUT exporter's `/ups_metrics`), given its
    /// decoded query parameters; `None` when the module has none.
    fn probe_compat<'a>(&'a self, params: &'a [(String, String)], scrape: &'a Scrape) -> Option<ProbeFuture<'a>> {
        let _ = (params, scrape);
        None
    }
}

/// A constructed collector of either kind.
#[derive(Clone)]
pub enum Collector {
    /// Runs on the blocking pool.
    Host(Arc<dyn HostCollector>),
    /// Runs on the async runtime.
    Async(Arc<dyn AsyncCollector>),
}

impl Collector {
    /// Wraps a host collector.
    pub fn host(c: impl HostCollector) -> Self {
        Collector::Host(Arc::new(c))
    }
    /// Wraps an async collector.
    pub fn network(c: impl AsyncCollector) -> Self {
        Collector::Async(Arc::new(c))
    }
}

/// A collector's options parsed from flags alone, without the rest of the
/// command line: for tests of an `Options`' defaults and value checks.
#[cfg(test)]
pub fn parse_options<O: clap::Args + clap::FromArgMatches>(args: &[&str]) -> Result<O, clap::Error> {
    let command = O::augment_args(clap::Command::new("options").no_binary_name(true));
    O::from_arg_matches(&command.try_get_matches_from(args)?)
}

/// Runs `f` with a context holding section `name` of the configuration
/// file `text` at `path`, or with no file: for tests of a collector's
/// section. Only the section's own schema is checked.
#[cfg(test)]
pub fn with_config<S: serde::de::DeserializeOwned, R>(
    file: Option<(&Path, &str)>,
    name: &str,
    f: impl FnOnce(&Context<S>) -> R,
) -> Result<R, serde_yaml_ng::Error> {
    let paths = Arc::new(HostPaths::default());
    let Some((path, text)) = file else {
        return Ok(f(&Context::new(&paths).with_section(None, None)));
    };
    let mut sections: std::collections::HashMap<String, S> = serde_yaml_ng::from_str(text)?;
    let section = sections.remove(name);
    Ok(f(&Context::new(&paths).with_section(section.as_ref(), Some(Locator { path, text }))))
}
