//! The `filesystem` collector: size, free space and inodes of every mount
//! in `<procfs>/1/mountinfo` (or `self/mountinfo`), from `statfs(2)`.
//!
//! A NAS mounts NFS and CIFS shares, and a `statfs` of a share whose server
//! is gone can block for minutes. Each `statfs` therefore runs on a worker
//! thread and is waited for at most `--collector.filesystem.mount-timeout`
//! and never more than half of the time left before the scrape deadline
//! (so the other mounts are still read in that scrape). A mount that does not answer is
//! reported with `node_filesystem_device_error 1` and quarantined: later
//! scrapes report it the same way without calling `statfs` again, until
//! the stuck call returns.
//!
//! Local disk and memory filesystems ([`IN_MEMORY_STATFS`]) are the
//! exception: their `statfs` answers from counters the kernel keeps in
//! memory and does no I/O, so it runs on the collector's own thread: handing
//! it to another thread costs more than the call (benches/RESULTS.md).
//! Should such a call block anyway (a filesystem lock held
//! by a stuck writer), that scrape loses this collector's series, and later
//! scrapes report the mount as failed without calling `statfs` until the
//! call returns.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};


use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::Filter;
use crate::metrics::Snapshot;

/// node_exporter's default mount point exclusion.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str = "^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node_exporter's default filesystem type exclusion.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str =
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|erofs|sysfs|tracefs)$";

/// Filesystem types whose `statfs` reads in-memory counters (superblock,
/// per-CPU free counts) and never waits for a disk or a server; these are
/// called inline. Network and FUSE filesystems, and any type not listed,
/// go to a worker thread under the timeout.
pub const IN_MEMORY_STATFS: &[&str] = &[
    "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "vfat", "msdos", "exfat", "ntfs3", "hfsplus", "jfs", "nilfs2", "tmpfs", "ramfs",
];

/// At most this many `statfs` calls may be stuck at once; beyond it, mounts
/// are reported as failed without a new thread.
const MAX_STUCK: usize = 8;

/// Flags of the `filesystem` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of mount points to exclude for filesystem collector (mutually exclusive to mount-points-include). [default: the pseudo and container mounts]
    #[arg(long = "collector.filesystem.mount-points-exclude")]
    pub filesystem_mount_points_exclude: Option<String>,
    /// Regexp of mount points to include for filesystem collector (mutually exclusive to mount-points-exclude).
    #[arg(long = "collector.filesystem.mount-points-include")]
    pub filesystem_mount_points_include: Option<String>,
    /// Regexp of filesystem types to exclude for filesystem collector (mutually exclusive to fs-types-include). [default: the pseudo filesystems]
    #[arg(long = "collector.filesystem.fs-types-exclude")]
    pub filesystem_fs_types_exclude: Option<String>,
    /// Regexp of filesystem types to include for filesystem collector (mutually exclusive to fs-types-exclude).
    #[arg(long = "collector.filesystem.fs-types-include")]
    pub filesystem_fs_types_include: Option<String>,
    /// How long to wait for a mount to respond before marking it as stale (e.g. 5s).
    #[arg(long = "collector.filesystem.mount-timeout", default_value = "5s", value_parser = crate::duration::parse_timeout)]
    pub filesystem_mount_timeout: Duration,
    /// Accepted for node_exporter's command lines. Here `statfs` runs inline for local
    /// filesystems and on a thread per possibly hanging mount (at most 8 stuck at once).
    #[arg(long = "collector.filesystem.stat-workers", default_value_t = 4)]
    pub filesystem_stat_workers: u16,
}

/// node_exporter's rule for a pair of filters with a default exclude: an
/// include alone replaces the default exclude; both given is an error.
fn filter_pair(stem: &str, include: Option<&str>, exclude: Option<&str>, default_exclude: &str) -> Result<Filter, BuildError> {
    match (include, exclude) {
        (Some(_), Some(_)) => Err(BuildError {
            collector: "filesystem",
            detail: format!("--collector.filesystem.{stem}-exclude and --collector.filesystem.{stem}-include are mutually exclusive"),
        }),
        (Some(inc), None) => Filter::new("filesystem", Some(inc), None),
        (None, exc) => Filter::new("filesystem", None, Some(exc.unwrap_or(default_exclude))),
    }
}

/// One mount of `mountinfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    /// Mount source (`/dev/sda1`, `server:/export`).
    pub device: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// Filesystem type.
    pub fs_type: String,
    /// Per-mount options, e.g. `rw,relatime`.
    pub options: String,
    /// Major device number.
    pub major: String,
    /// Minor device number.
    pub minor: String,
}

/// Undoes mountinfo's octal escapes (`\040` is a space).
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('\\') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// One line of `mountinfo` as written, escapes and all.
#[derive(Debug, Clone, Copy)]
struct RawMount<'a> {
    device: &'a str,
    mount_point: &'a str,
    fs_type: &'a str,
    options: &'a str,
    major: &'a str,
    minor: &'a str,
}

impl RawMount<'_> {
    fn to_mount(self) -> Mount {
        Mount {
            device: unescape(self.device).into_owned(),
            mount_point: unescape(self.mount_point).into_owned(),
            fs_type: self.fs_type.to_owned(),
            options: self.options.to_owned(),
            major: self.major.to_owned(),
            minor: self.minor.to_owned(),
        }
    }
}

/// Passes each line of `/proc/<pid>/mountinfo` to `f` without copying it;
/// on a malformed line, returns its error (the lines before it have been
/// passed). The collector keeps a copy only of the mounts its filters let
/// through: a container sees tens of mounts and reports a few.
fn visit_mountinfo<'a>(text: &'a str, mut f: impl FnMut(RawMount<'a>)) -> Result<(), String> {
    for (n, line) in text.lines().enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let fields: smallvec::SmallVec<[&str; 16]> = line.split(' ').collect();
        let sep = fields.iter().position(|x| *x == "-").ok_or_else(|| format!("line {}: no '-' separator", n + 1))?;
        if sep < 6 || fields.len() < sep + 3 {
            return Err(format!("line {}: too few fields", n + 1));
        }
        let (major, minor) = fields[2].split_once(':').ok_or_else(|| format!("line {}: bad device number {:?}", n + 1, fields[2]))?;
        f(RawMount { device: fields[sep + 2], mount_point: fields[4], fs_type: fields[sep + 1], options: fields[5], major, minor });
    }
    Ok(())
}

/// Parses `/proc/<pid>/mountinfo`.
pub fn parse_mountinfo(text: &str) -> Result<Vec<Mount>, String> {
    let mut out = Vec::new();
    visit_mountinfo(text, |m| out.push(m.to_mount()))?;
    Ok(out)
}

/// What `statfs` says of a mount, in bytes and inodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsStats {
    /// Total size.
    pub size: f64,
    /// Free, including what is reserved for root.
    pub free: f64,
    /// Available to unprivileged users.
    pub avail: f64,
    /// Total inodes.
    pub files: f64,
    /// Free inodes.
    pub files_free: f64,
}

/// The stat function; injectable so tests can simulate a hung mount.
pub type StatFn = Arc<dyn Fn(&Path) -> io::Result<FsStats> + Send + Sync>;

fn real_statfs(path: &Path) -> io::Result<FsStats> {
    let s = rustix::fs::statfs(path)?;
    let bsize = s.f_bsize as f64;
    Ok(FsStats {
        size: s.f_blocks as f64 * bsize,
        free: s.f_bfree as f64 * bsize,
        avail: s.f_bavail as f64 * bsize,
        files: s.f_files as f64,
        files_free: s.f_ffree as f64,
    })
}

/// The mounts to report, after exclusion, with rootfs applied.
struct Target {
    mount: Mount,
    /// Mount point as reported (rootfs prefix removed).
    label: String,
    /// Path given to statfs.
    stat_path: PathBuf,
}

/// Runs statfs on `targets` off the calling thread; see the module docs.
struct Statter {
    stat: StatFn,
    quarantined: Arc<Mutex<HashSet<PathBuf>>>,
    stuck_threads: Arc<AtomicUsize>,
    /// Worker threads waiting for a batch. A scrape takes one (or starts
    /// one) and gives it back when every `statfs` of its batch returned in
    /// time; a worker left behind in a hung call is never given back.
    ///
    /// Why keep them: starting a thread per scrape (clone, a stack mapped
    /// and unmapped, with the TLB shootdown that costs every core) took
    /// longer than the two or three `statfs` calls it made.
    idle: Mutex<Vec<StatWorker>>,
    /// Inline calls in progress per mount: how many, and since when the
    /// mount has had one without a break.
    inline: Mutex<HashMap<PathBuf, (usize, Instant)>>,
}

/// Most idle workers kept (concurrent scrapes each need one).
const MAX_IDLE_WORKERS: usize = 2;

/// One batch for a worker: the mounts, where to send each result, and the
/// flag the scrape sets when it stops waiting.
struct Batch {
    paths: Vec<(usize, PathBuf)>,
    results: mpsc::Sender<(usize, io::Result<FsStats>)>,
    abandoned: Arc<AtomicBool>,
}

/// The sending side of a worker thread's queue.
struct StatWorker(mpsc::Sender<Batch>);

impl Statter {
    fn is_quarantined(&self, p: &Path) -> bool {
        self.quarantined.lock().map(|q| q.contains(p)).unwrap_or(false)
    }

    /// Starts a worker thread; it runs batches until its queue is dropped
    /// or a batch is abandoned under it.
    fn spawn_worker(&self) -> Option<StatWorker> {
        let (tx, rx) = mpsc::channel::<Batch>();
        let stat = self.stat.clone();
        let quarantined = self.quarantined.clone();
        let stuck_threads = self.stuck_threads.clone();
        let spawned = std::thread::Builder::new().name("statfs".into()).spawn(move || {
            for batch in rx {
                for (i, path) in batch.paths {
                    if batch.abandoned.load(Ordering::Acquire) {
                        return;
                    }
                    let r = stat(&path);
                    if batch.abandoned.load(Ordering::Acquire) {
                        // This call outlived its scrape: the mount answers again.
                        if let Ok(mut q) = quarantined.lock() {
                            q.remove(&path);
                        }
                        stuck_threads.fetch_sub(1, Ordering::AcqRel);
                        tracing::info!(mount = %path.display(), "statfs returned; mount leaves quarantine");
                        return;
                    }
                    if batch.results.send((i, r)).is_err() {
                        break;
                    }
                }
            }
        });
        spawned.ok().map(|_| StatWorker(tx))
    }

    /// Hands `batch` to an idle worker, or to a new one; the worker, to be
    /// given back with [`Statter::give_back`].
    fn dispatch(&self, mut batch: Batch) -> Option<StatWorker> {
        let idle = self.idle.lock().ok().and_then(|mut w| w.pop());
        if let Some(worker) = idle {
            match worker.0.send(batch) {
                Ok(()) => return Some(worker),
                // Its thread is gone; start another.
                Err(mpsc::SendError(b)) => batch = b,
            }
        }
        let worker = self.spawn_worker()?;
        worker.0.send(batch).ok()?;
        Some(worker)
    }

    fn give_back(&self, worker: StatWorker) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < MAX_IDLE_WORKERS {
                idle.push(worker);
            }
        }
    }

    /// `statfs` of a mount with an in-memory `statfs`, on this thread;
    /// `None` when an earlier call on it has been running for longer than
    /// `per_mount` (it is stuck after all).
    fn stat_inline(&self, path: &Path, per_mount: Duration) -> Option<io::Result<FsStats>> {
        if let Ok(mut calls) = self.inline.lock() {
            match calls.get_mut(path) {
                Some((_, since)) if since.elapsed() > per_mount => return None,
                Some((n, _)) => *n += 1,
                None => {
                    calls.insert(path.to_owned(), (1, Instant::now()));
                }
            }
        }
        let r = (self.stat)(path);
        if let Ok(mut calls) = self.inline.lock() {
            if let Some((n, _)) = calls.get_mut(path) {
                *n -= 1;
                if *n == 0 {
                    calls.remove(path);
                }
            }
        }
        Some(r)
    }

    /// Results in the order of `paths`; `None` when quarantined, timed out
    /// or skipped. `inline[i]` says that `paths[i]` is called on this thread.
    fn stat_all(&self, paths: &[PathBuf], inline: &[bool], per_mount: Duration, scrape: &Scrape) -> Vec<Option<io::Result<FsStats>>> {
        let mut results: Vec<Option<io::Result<FsStats>>> = (0..paths.len()).map(|_| None).collect();
        for (i, path) in paths.iter().enumerate() {
            if inline.get(i) == Some(&true) {
                results[i] = self.stat_inline(path, per_mount);
            }
        }
        let threaded = |i: &usize| inline.get(*i) != Some(&true);
        let mut start = 0;
        while start < paths.len() {
            let todo: Vec<(usize, PathBuf)> =
                (start..paths.len()).filter(threaded).filter(|i| !self.is_quarantined(&paths[*i])).map(|i| (i, paths[i].clone())).collect();
            if todo.is_empty() || self.stuck_threads.load(Ordering::Acquire) >= MAX_STUCK {
                break;
            }
            let (tx, rx) = mpsc::channel();
            let abandoned = Arc::new(AtomicBool::new(false));
            let waiting_for = todo.clone();
            let Some(worker) = self.dispatch(Batch { paths: todo, results: tx, abandoned: abandoned.clone() }) else { break };
            let mut next = start;
            let mut finished = true;
            for (i, path) in &waiting_for {
                // Half of what is left at most, so one hung mount leaves time
                // for the others in the same scrape.
                let wait = per_mount.min(scrape.remaining() / 2);
                match rx.recv_timeout(wait) {
                    Ok((j, r)) => {
                        results[j] = Some(r);
                        next = j + 1;
                    }
                    Err(_) => {
                        abandoned.store(true, Ordering::Release);
                        self.stuck_threads.fetch_add(1, Ordering::AcqRel);
                        if let Ok(mut q) = self.quarantined.lock() {
                            q.insert(path.clone());
                        }
                        tracing::warn!(mount = %path.display(), timeout = ?wait, "statfs did not return in time; mount quarantined");
                        next = i + 1;
                        finished = false;
                        break;
                    }
                }
            }
            if finished {
                self.give_back(worker);
            }
            if finished || scrape.remaining().is_zero() {
                break;
            }
            start = next;
        }
        results
    }
}

struct Filesystem {
    paths: Arc<HostPaths>,
    /// Asked about every mount on every scrape: answers are remembered.
    mount_points: Filter,
    fs_types: Filter,
    timeout: Duration,
    statter: Statter,
}

impl Filesystem {
    fn targets(&self) -> Result<Vec<Target>, Error> {
        let path = self.paths.proc("1/mountinfo");
        let (path, text) = match read_to_string(&path) {
            Ok(t) => (path, t),
            Err(e) if e.is_not_found() => {
                let p = self.paths.proc("self/mountinfo");
                let t = read_to_string(&p)?;
                (p, t)
            }
            Err(e) => return Err(e),
        };
        let rootfs = self.paths.rootfs.to_string_lossy();
        let rootfs = rootfs.trim_end_matches('/');
        let mut out: Vec<Target> = Vec::new();
        visit_mountinfo(&text, |m| {
            let mount_point = unescape(m.mount_point);
            let label = match mount_point.strip_prefix(rootfs) {
                Some(rest) if !rootfs.is_empty() && (rest.is_empty() || rest.starts_with('/')) => if rest.is_empty() { "/" } else { rest },
                _ => &mount_point,
            };
            if !self.mount_points.accepts(label) || !self.fs_types.accepts(m.fs_type) {
                return;
            }
            // A later mount on the same point hides the earlier one.
            out.retain(|t| t.label != label);
            out.push(Target { label: label.to_owned(), stat_path: self.paths.root(label), mount: m.to_mount() });
        })
        .map_err(|d| Error::parse(&path, d))?;
        Ok(out)
    }
}

impl HostCollector for Filesystem {
    fn gather(&self, scrape: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let targets = self.targets()?;
        let paths: Vec<PathBuf> = targets.iter().map(|t| t.stat_path.clone()).collect();
        let inline: Vec<bool> = targets.iter().map(|t| IN_MEMORY_STATFS.contains(&t.mount.fs_type.as_str())).collect();
        let results = self.statter.stat_all(&paths, &inline, self.timeout, scrape);
        for (t, r) in targets.iter().zip(results) {
            let labels = [("device", t.mount.device.as_str()), ("mountpoint", t.label.as_str()), ("fstype", t.mount.fs_type.as_str())];
            let readonly = t.mount.options.split(',').any(|o| o == "ro");
            out.gauge("node_filesystem_readonly", "Filesystem read-only status.", &labels, if readonly { 1.0 } else { 0.0 });
            out.gauge(
                "node_filesystem_mount_info",
                "Filesystem mount information.",
                &[("device", &t.mount.device), ("major", &t.mount.major), ("minor", &t.mount.minor), ("mountpoint", &t.label)],
                1.0,
            );
            let stats = match r {
                Some(Ok(s)) => s,
                Some(Err(e)) => {
                    tracing::debug!(mountpoint = %t.label, err = %e, "statfs failed");
                    out.gauge("node_filesystem_device_error", "Whether an error occurred while getting statistics for the given device.", &labels, 1.0);
                    continue;
                }
                None => {
                    out.gauge("node_filesystem_device_error", "Whether an error occurred while getting statistics for the given device.", &labels, 1.0);
                    continue;
                }
            };
            out.gauge("node_filesystem_device_error", "Whether an error occurred while getting statistics for the given device.", &labels, 0.0);
            out.gauge("node_filesystem_size_bytes", "Filesystem size in bytes.", &labels, stats.size);
            out.gauge("node_filesystem_free_bytes", "Filesystem free space in bytes.", &labels, stats.free);
            out.gauge("node_filesystem_avail_bytes", "Filesystem space available to non-root users in bytes.", &labels, stats.avail);
            out.gauge("node_filesystem_files", "Filesystem total file nodes.", &labels, stats.files);
            out.gauge("node_filesystem_files_free", "Filesystem total free file nodes.", &labels, stats.files_free);
        }
        Ok(())
    }
}

/// Builds the collector with a given stat function (tests inject one).
pub fn with_stat(o: &Options, cx: &Context, stat: StatFn) -> Result<Collector, BuildError> {
    Ok(Collector::host(Filesystem {
        paths: cx.paths.clone(),
        mount_points: filter_pair(
            "mount-points",
            o.filesystem_mount_points_include.as_deref(),
            o.filesystem_mount_points_exclude.as_deref(),
            DEFAULT_MOUNT_POINTS_EXCLUDE,
        )?,
        fs_types: filter_pair("fs-types", o.filesystem_fs_types_include.as_deref(), o.filesystem_fs_types_exclude.as_deref(), DEFAULT_FS_TYPES_EXCLUDE)?,
        timeout: o.filesystem_mount_timeout,
        statter: Statter { stat, quarantined: Arc::default(), stuck_threads: Arc::default(), idle: Mutex::default(), inline: Mutex::default() },
    }))
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    with_stat(o, cx, Arc::new(real_statfs)).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_with_escapes_and_optional_fields() {
        let m = parse_mountinfo("36 35 98:0 /mnt1 /mnt/my\\040share rw,noatime master:1 shared:2 - cifs //nas/share\\040x rw\n").unwrap();
        assert_eq!(m[0].mount_point, "/mnt/my share");
        assert_eq!(m[0].device, "//nas/share x");
        assert_eq!((m[0].major.as_str(), m[0].minor.as_str(), m[0].fs_type.as_str()), ("98", "0", "cifs"));
    }

    #[test]
    fn garbled_mountinfo_is_an_error() {
        assert!(parse_mountinfo("36 35 98:0 / /mnt rw\n").is_err());
        assert!(parse_mountinfo("36 35 98 / /mnt rw - ext4 /dev/sda rw\n").is_err());
        assert!(parse_mountinfo("- ext4\n").is_err());
    }

    /// A procfs holding only `1/mountinfo`, the paths that read it and
    /// options with this mount timeout; the directory lives as long as the
    /// first value.
    fn procfs_with_mountinfo(mountinfo: &str, timeout: Duration) -> (tempfile::TempDir, Arc<HostPaths>, Options) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("1")).unwrap();
        std::fs::write(dir.path().join("1/mountinfo"), mountinfo).unwrap();
        let paths = Arc::new(HostPaths { procfs: dir.path().to_owned(), ..HostPaths::default() });
        (dir, paths, Options { filesystem_mount_timeout: timeout, ..Options::default() })
    }

    fn value(s: &Snapshot, name: &str, mountpoint: &str) -> Option<f64> {
        s.families
            .iter()
            .filter(|f| f.name == name)
            .flat_map(|f| &f.samples)
            .find(|x| x.labels.iter().any(|(k, v)| k == "mountpoint" && v == mountpoint))
            .map(|x| x.value)
    }

    /// Local filesystems are stat'ed on the collector's thread, network
    /// ones on a worker; a local call that blocks anyway makes the next
    /// scrapes skip that mount (device_error 1, no call) until it returns.
    #[test]
    fn local_mounts_are_stated_inline_and_a_stuck_one_is_skipped() {
        let (_dir, paths, options) = procfs_with_mountinfo(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:50 / /mnt/nas rw - nfs4 nas:/export rw\n3 1 8:2 / /data rw - xfs /dev/sda2 rw\n",
            Duration::from_millis(50),
        );
        let threads: Arc<Mutex<Vec<(PathBuf, std::thread::ThreadId)>>> = Arc::default();
        let seen = threads.clone();
        let block_data = Arc::new(AtomicBool::new(false));
        let blocking = block_data.clone();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let stat: StatFn = Arc::new(move |p: &Path| {
            seen.lock().unwrap().push((p.to_owned(), std::thread::current().id()));
            if p.ends_with("data") && blocking.swap(false, Ordering::SeqCst) {
                let _ = release_rx.lock().unwrap().recv_timeout(Duration::from_secs(10));
            }
            Ok(FsStats { size: 100.0, free: 50.0, avail: 40.0, files: 10.0, files_free: 5.0 })
        });
        let Collector::Host(c) = with_stat(&options, &Context::new(&paths), stat).unwrap() else { unreachable!() };
        let deadline = || Scrape { deadline: Instant::now() + Duration::from_secs(5) };

        let mut first = Snapshot::new();
        c.gather(&deadline(), &mut first).unwrap();
        let me = std::thread::current().id();
        let calls = threads.lock().unwrap().clone();
        assert_eq!(calls.len(), 3, "{calls:?}");
        for (path, thread) in &calls {
            let local = !path.ends_with("mnt/nas");
            assert_eq!(*thread == me, local, "{} stat'ed on the {} thread", path.display(), if *thread == me { "collector's" } else { "worker" });
        }
        assert_eq!(value(&first, "node_filesystem_size_bytes", "/data"), Some(100.0));

        // The next call on /data blocks on the collector's thread.
        block_data.store(true, Ordering::SeqCst);
        let stuck = {
            let c = c.clone();
            std::thread::spawn(move || {
                let mut out = Snapshot::new();
                c.gather(&Scrape { deadline: Instant::now() + Duration::from_secs(5) }, &mut out).unwrap();
                value(&out, "node_filesystem_size_bytes", "/data")
            })
        };
        let t0 = Instant::now();
        while !threads.lock().unwrap().iter().skip(3).any(|(p, _)| p.ends_with("data")) {
            assert!(t0.elapsed() < Duration::from_secs(5), "the blocking call never started");
            std::thread::sleep(Duration::from_millis(5));
        }
        // Past the mount timeout, a scrape reports /data failed without calling it.
        std::thread::sleep(Duration::from_millis(80));
        let before = threads.lock().unwrap().len();
        let mut second = Snapshot::new();
        c.gather(&deadline(), &mut second).unwrap();
        assert_eq!(value(&second, "node_filesystem_device_error", "/data"), Some(1.0));
        assert_eq!(value(&second, "node_filesystem_size_bytes", "/data"), None);
        assert_eq!(value(&second, "node_filesystem_size_bytes", "/"), Some(100.0));
        let during: Vec<PathBuf> = threads.lock().unwrap()[before..].iter().map(|(p, _)| p.clone()).collect();
        assert!(!during.iter().any(|p| p.ends_with("data")), "{during:?}");

        // It returns: the blocked scrape completes and /data is read again.
        release_tx.send(()).unwrap();
        assert_eq!(stuck.join().unwrap(), Some(100.0));
        let mut third = Snapshot::new();
        c.gather(&deadline(), &mut third).unwrap();
        assert_eq!(value(&third, "node_filesystem_size_bytes", "/data"), Some(100.0));
        assert_eq!(value(&third, "node_filesystem_device_error", "/data"), Some(0.0));
    }

    /// A statfs that never returns (a dead NFS server) must not hold the
    /// scrape past its deadline, and later scrapes must skip that mount.
    #[test]
    fn hung_statfs_is_abandoned_at_the_deadline_and_quarantined() {
        let (_dir, paths, options) = procfs_with_mountinfo(
            "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:50 / /mnt/nas rw - nfs4 nas:/export rw\n3 1 8:2 / /data rw - ext4 /dev/sda2 rw\n4 1 0:5 / /proc rw - proc proc rw\n",
            Duration::from_secs(10),
        );
        let calls = Arc::new(AtomicUsize::new(0));
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let counter = calls.clone();
        let hung = Arc::new(AtomicBool::new(true));
        let is_hung = hung.clone();
        let stat: StatFn = Arc::new(move |p: &Path| {
            counter.fetch_add(1, Ordering::SeqCst);
            if p.ends_with("mnt/nas") && is_hung.load(Ordering::SeqCst) {
                // Blocks until the test lets it go: a hung NFS statfs.
                let _ = release_rx.lock().unwrap().recv();
                return Err(io::Error::other("released"));
            }
            Ok(FsStats { size: 100.0, free: 50.0, avail: 40.0, files: 10.0, files_free: 5.0 })
        });
        let Collector::Host(c) = with_stat(&options, &Context::new(&paths), stat).unwrap() else { unreachable!() };

        let start = Instant::now();
        let mut first = Snapshot::new();
        c.gather(&Scrape { deadline: start + Duration::from_millis(300) }, &mut first).unwrap();
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1500), "gather took {took:?}");
        assert_eq!(value(&first, "node_filesystem_device_error", "/mnt/nas"), Some(1.0));
        assert_eq!(value(&first, "node_filesystem_size_bytes", "/mnt/nas"), None);
        assert_eq!(value(&first, "node_filesystem_size_bytes", "/"), Some(100.0));
        assert_eq!(value(&first, "node_filesystem_size_bytes", "/data"), Some(100.0), "mounts after the hung one are still read");
        assert_eq!(value(&first, "node_filesystem_size_bytes", "/proc"), None, "excluded by fstype");
        let calls_after_first = calls.load(Ordering::SeqCst);
        assert_eq!(calls_after_first, 3);

        let mut second = Snapshot::new();
        c.gather(&Scrape { deadline: Instant::now() + Duration::from_millis(300) }, &mut second).unwrap();
        assert_eq!(value(&second, "node_filesystem_device_error", "/mnt/nas"), Some(1.0));
        assert_eq!(calls.load(Ordering::SeqCst), calls_after_first + 2, "the quarantined mount is not stat'ed again");

        // The server comes back: the stuck call returns, the mount leaves quarantine.
        hung.store(false, Ordering::SeqCst);
        release_tx.send(()).unwrap();
        let wait = Instant::now();
        let mut third = Snapshot::new();
        loop {
            third.families.clear();
            c.gather(&Scrape { deadline: Instant::now() + Duration::from_millis(300) }, &mut third).unwrap();
            if value(&third, "node_filesystem_device_error", "/mnt/nas") == Some(0.0) || wait.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(release_tx);
        assert_eq!(value(&third, "node_filesystem_device_error", "/mnt/nas"), Some(0.0));
    }
}
