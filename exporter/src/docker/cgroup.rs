//! A container's resource usage read straight from its cgroup files, cgroup
//! v1 (`cpuacct`, `cpu`, `memory`, `blkio`, `pids` hierarchies) and v2 (one
//! unified directory), for Docker's cgroupfs driver (`/docker/<id>`) and its
//! systemd driver (`/system.slice/docker-<id>.scope`). Pure parsers, one per
//! file format, and a thin reading layer around them. The values are the
//! ones runc hands to cAdvisor and to Docker's own stats endpoint.

use std::io;
use std::path::{Path, PathBuf};

use crate::collector::Error;

/// Which cgroup hierarchy the host mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// One hierarchy per controller (`<root>/memory/...`, `<root>/cpuacct/...`).
    V1,
    /// The unified hierarchy (`<root>/cgroup.controllers` exists).
    V2,
}

/// v2 when the root itself is a unified hierarchy; v1 otherwise (including
/// the "hybrid" layout, whose `unified/` directory holds no controllers).
pub fn detect(root: &Path) -> Version {
    if root.join("cgroup.controllers").exists() {
        Version::V2
    } else {
        Version::V1
    }
}

/// A line of a cgroup file that did not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {detail}")]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong, quoting the line.
    pub detail: String,
}

fn bad(line: usize, detail: impl Into<String>) -> BadLine {
    BadLine { line, detail: detail.into() }
}

fn number(line: usize, word: &str, whole: &str) -> Result<u64, BadLine> {
    word.parse::<u64>().map_err(|_| bad(line, format!("{word:?} is not a number in {whole:?}")))
}

/// CPU time (nanoseconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cpu {
    /// All CPU time (`cpuacct.usage`, v2 `usage_usec`).
    pub total_ns: u64,
    /// User time (`cpuacct.stat` `user` ticks, v2 `user_usec`).
    pub user_ns: u64,
    /// System time (`cpuacct.stat` `system` ticks, v2 `system_usec`).
    pub system_ns: u64,
}

/// CFS bandwidth control counters; only read when a quota is set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cfs {
    /// `nr_periods`.
    pub periods: u64,
    /// `nr_throttled`.
    pub throttled_periods: u64,
    /// `throttled_time` (v1, ns) or `throttled_usec` (v2) in nanoseconds.
    pub throttled_ns: u64,
}

/// Memory (bytes), as runc and cAdvisor derive it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// `memory.usage_in_bytes` / `memory.current`.
    pub usage: u64,
    /// Usage minus inactive file pages, floored at 0.
    pub working_set: u64,
    /// `total_rss` / `anon`.
    pub rss: u64,
    /// `total_cache` / `file`.
    pub cache: u64,
    /// `total_swap` / `memory.swap.current`.
    pub swap: u64,
    /// `total_mapped_file` / `file_mapped`.
    pub mapped_file: u64,
}

/// Block I/O of one device.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceIo {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// Bytes read.
    pub read_bytes: u64,
    /// Bytes written.
    pub write_bytes: u64,
    /// Read operations.
    pub reads: u64,
    /// Write operations.
    pub writes: u64,
}

/// Everything read from one container's cgroup. A part is `None` when its
/// controller is not enabled (a Raspberry Pi without `cgroup_enable=memory`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    /// CPU time.
    pub cpu: Option<Cpu>,
    /// Throttling, when a CPU quota is set.
    pub cfs: Option<Cfs>,
    /// Memory.
    pub memory: Option<Memory>,
    /// Memory limit in bytes; `Some(0)` for none (cAdvisor's convention).
    pub memory_limit: Option<u64>,
    /// OOM kills inside the cgroup (`oom_kill`).
    pub oom_kills: Option<u64>,
    /// Block I/O per device.
    pub io: Vec<DeviceIo>,
    /// Tasks (threads) now (`pids.current`).
    pub threads: Option<u64>,
    /// Task limit; `Some(0)` for none (cAdvisor's convention).
    pub threads_max: Option<u64>,
    /// Processes (`cgroup.procs`).
    pub procs: Option<Vec<u32>>,
}

/// Memory limits at or above this are "no limit" (the kernel rounds the
/// unlimited value to a page, so it is not exactly `i64::MAX`).
const UNLIMITED: u64 = 1 << 62;

// ---------------------------------------------------------------- parsers

/// A file holding one number (`cpuacct.usage`, `memory.current`, `pids.current`).
pub fn parse_value(text: &str) -> Result<u64, BadLine> {
    let word = text.trim();
    if word.is_empty() {
        return Err(bad(1, "empty file"));
    }
    number(1, word, word)
}

/// A limit file: a number, or `max` for none (`memory.max`, `pids.max`).
pub fn parse_limit(text: &str) -> Result<Option<u64>, BadLine> {
    match text.trim() {
        "max" => Ok(None),
        _ => parse_value(text).map(Some),
    }
}

/// `key value` lines (`cpu.stat`, `cpuacct.stat`, `memory.stat`,
/// `memory.oom_control`, `memory.events`).
pub fn parse_keyed(text: &str) -> Result<Keyed<'_>, BadLine> {
    let mut pairs = Vec::with_capacity(64);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(key), Some(value), None) => pairs.push((key, number(i + 1, value, line)?)),
            _ => return Err(bad(i + 1, format!("expected \"key value\", found {line:?}"))),
        }
    }
    Ok(Keyed(pairs))
}

/// The pairs of a `key value` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed<'a>(pub Vec<(&'a str, u64)>);

impl Keyed<'_> {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<u64> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
    /// The value of `key`, 0 when absent (runc reads these maps the same way).
    pub fn or0(&self, key: &str) -> u64 {
        self.get(key).unwrap_or(0)
    }
}

/// v1 `cpu.cfs_quota_us`: the quota in µs, `None` for `-1` (no quota).
pub fn parse_cfs_quota(text: &str) -> Result<Option<u64>, BadLine> {
    let word = text.trim();
    match word.parse::<i64>() {
        Ok(q) if q > 0 => Ok(Some(q.unsigned_abs())),
        Ok(_) => Ok(None),
        Err(_) => Err(bad(1, format!("{word:?} is not a number"))),
    }
}

/// v2 `cpu.max` (`$MAX $PERIOD`): the quota in µs, `None` for `max`.
pub fn parse_cpu_max(text: &str) -> Result<Option<u64>, BadLine> {
    let line = text.trim();
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("max"), _, None) => Ok(None),
        (Some(q), period, None) => {
            if let Some(p) = period {
                number(1, p, line)?;
            }
            number(1, q, line).map(Some)
        }
        _ => Err(bad(1, format!("expected \"$MAX $PERIOD\", found {line:?}"))),
    }
}

/// The operation column of a v1 blkio file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlkioOp {
    /// `Read`
    Read,
    /// `Write`
    Write,
    /// `Sync`, `Async`, `Discard`, `Total`: not used.
    Other,
}

/// One `MAJ:MIN Op value` line of a v1 blkio file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlkioLine {
    /// Device major number.
    pub major: u32,
    /// Device minor number.
    pub minor: u32,
    /// The operation.
    pub op: BlkioOp,
    /// The value.
    pub value: u64,
}

fn parse_dev(line: usize, word: &str, whole: &str) -> Result<(u32, u32), BadLine> {
    let (maj, min) = word.split_once(':').ok_or_else(|| bad(line, format!("expected MAJ:MIN, found {whole:?}")))?;
    let parse = |w: &str| w.parse::<u32>().map_err(|_| bad(line, format!("bad device number {word:?} in {whole:?}")));
    Ok((parse(maj)?, parse(min)?))
}

/// v1 `blkio.*io_service_bytes_recursive` / `blkio.*io_serviced_recursive`.
/// The closing `Total N` line is skipped.
pub fn parse_blkio(text: &str) -> Result<Vec<BlkioLine>, BadLine> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next(), words.next()) {
            (None, ..) => continue,
            (Some("Total"), Some(v), None, None) => {
                number(i + 1, v, line)?;
            }
            (Some(dev), Some(op), Some(value), None) => {
                let (major, minor) = parse_dev(i + 1, dev, line)?;
                let op = match op {
                    "Read" => BlkioOp::Read,
                    "Write" => BlkioOp::Write,
                    _ => BlkioOp::Other,
                };
                out.push(BlkioLine { major, minor, op, value: number(i + 1, value, line)? });
            }
            _ => return Err(bad(i + 1, format!("expected \"MAJ:MIN Op value\", found {line:?}"))),
        }
    }
    Ok(out)
}

/// Joins the bytes and operations files of v1 blkio into one entry per device.
pub fn blkio_devices(bytes: &[BlkioLine], ops: &[BlkioLine]) -> Vec<DeviceIo> {
    let mut out: Vec<DeviceIo> = Vec::new();
    let mut slot = |major: u32, minor: u32| -> usize {
        match out.iter().position(|d| d.major == major && d.minor == minor) {
            Some(i) => i,
            None => {
                out.push(DeviceIo { major, minor, ..Default::default() });
                out.len() - 1
            }
        }
    };
    let mut updates = Vec::with_capacity(bytes.len() + ops.len());
    for l in bytes {
        updates.push((slot(l.major, l.minor), l.op, l.value, true));
    }
    for l in ops {
        updates.push((slot(l.major, l.minor), l.op, l.value, false));
    }
    for (i, op, value, is_bytes) in updates {
        let d = &mut out[i];
        match (op, is_bytes) {
            (BlkioOp::Read, true) => d.read_bytes = value,
            (BlkioOp::Write, true) => d.write_bytes = value,
            (BlkioOp::Read, false) => d.reads = value,
            (BlkioOp::Write, false) => d.writes = value,
            (BlkioOp::Other, _) => {}
        }
    }
    out
}

/// v2 `io.stat`: `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..`
/// (keys the kernel may add later are ignored).
pub fn parse_io_stat(text: &str) -> Result<Vec<DeviceIo>, BadLine> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut words = line.split_whitespace();
        let Some(dev) = words.next() else { continue };
        let (major, minor) = parse_dev(i + 1, dev, line)?;
        let mut d = DeviceIo { major, minor, ..Default::default() };
        for word in words {
            let (key, value) = word.split_once('=').ok_or_else(|| bad(i + 1, format!("expected key=value, found {word:?} in {line:?}")))?;
            let field = match key {
                "rbytes" => &mut d.read_bytes,
                "wbytes" => &mut d.write_bytes,
                "rios" => &mut d.reads,
                "wios" => &mut d.writes,
                _ => continue,
            };
            *field = number(i + 1, value, line)?;
        }
        out.push(d);
    }
    Ok(out)
}

/// `cgroup.procs`: one PID per line.
pub fn parse_procs(text: &str) -> Result<Vec<u32>, BadLine> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| l.trim().parse::<u32>().map_err(|_| bad(i + 1, format!("{l:?} is not a PID"))))
        .collect()
}

/// The cgroup path of a process from `/proc/<pid>/cgroup`: the `0::` line on
/// v2, the line naming the `memory` (else `cpuacct`) controller on v1.
/// `None` when absent or outside the reader's cgroup namespace (`/..`).
pub fn parse_pid_cgroup(text: &str, version: Version) -> Option<String> {
    let mut fallback = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if !path.starts_with('/') || path.starts_with("/..") {
            continue;
        }
        match version {
            Version::V2 if controllers.is_empty() => return Some(path.to_owned()),
            Version::V1 if controllers.split(',').any(|c| c == "memory") => return Some(path.to_owned()),
            Version::V1 if controllers.split(',').any(|c| c == "cpuacct") => fallback = Some(path.to_owned()),
            _ => {}
        }
    }
    fallback
}

/// Where Docker puts a container's cgroup, most specific first: below its
/// `--cgroup-parent` when set, then the cgroupfs driver's `/docker/<id>`,
/// then the systemd driver's `/system.slice/docker-<id>.scope`.
pub fn candidate_paths(id: &str, cgroup_parent: &str) -> Vec<String> {
    let mut out = Vec::with_capacity(3);
    let parent = cgroup_parent.trim_end_matches('/');
    if !parent.is_empty() {
        if parent.ends_with(".slice") && !parent.contains('/') {
            out.push(format!("{}/docker-{id}.scope", expand_slice(parent)));
        } else {
            out.push(format!("/{}/{id}", parent.trim_start_matches('/')));
        }
    }
    out.push(format!("/docker/{id}"));
    out.push(format!("/system.slice/docker-{id}.scope"));
    out
}

/// systemd's slice naming: `a-b.slice` lives at `/a.slice/a-b.slice`.
fn expand_slice(slice: &str) -> String {
    let stem = slice.trim_end_matches(".slice");
    if stem.is_empty() || stem == "-" {
        return String::new();
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in stem.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push('/');
        path.push_str(&prefix);
        path.push_str(".slice");
    }
    path
}

// ---------------------------------------------------------------- reading

/// v1 controllers probed to decide whether a cgroup exists, in order.
const V1_PROBES: [&str; 4] = ["cpuacct", "memory", "cpu", "pids"];

/// The directory of controller `controller` (ignored on v2) for cgroup `rel`.
fn dir(root: &Path, version: Version, controller: &str, rel: &str) -> PathBuf {
    let rel = rel.trim_start_matches('/');
    match version {
        Version::V1 => root.join(controller).join(rel),
        Version::V2 => root.join(rel),
    }
}

/// Whether cgroup `rel` exists below `root`.
pub fn exists(root: &Path, version: Version, rel: &str) -> bool {
    match version {
        Version::V1 => V1_PROBES.iter().any(|c| dir(root, version, c, rel).is_dir()),
        Version::V2 => dir(root, version, "", rel).is_dir(),
    }
}

/// Finds the container's cgroup: the first existing candidate, else the
/// path its first process reports in `<procfs>/<pid>/cgroup`.
pub fn locate(root: &Path, version: Version, candidates: &[String], procfs: &Path, pid: u32) -> Option<String> {
    if let Some(found) = candidates.iter().find(|c| exists(root, version, c)) {
        return Some(found.clone());
    }
    if pid == 0 {
        return None;
    }
    let text = std::fs::read_to_string(procfs.join(pid.to_string()).join("cgroup")).ok()?;
    parse_pid_cgroup(&text, version).filter(|p| exists(root, version, p))
}

/// Reads a file; `None` when it does not exist (controller disabled, or the
/// container just stopped).
fn read_opt(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if matches!(e.kind(), io::ErrorKind::NotFound) || e.raw_os_error() == Some(19) => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Reads and parses a file; `None` when it does not exist.
fn parse_file<T>(path: &Path, parse: impl FnOnce(&str) -> Result<T, BadLine>) -> Result<Option<T>, Error> {
    match read_opt(path)? {
        Some(text) => parse(&text).map(Some).map_err(|e| Error::parse(path, e.to_string())),
        None => Ok(None),
    }
}

/// Reads every usage file of cgroup `rel`. `clock_ticks` is USER_HZ, the
/// unit of v1 `cpuacct.stat`. A cgroup with neither CPU nor memory files
/// (the container stopped meanwhile) is [`Error::NoData`].
pub fn read_usage(root: &Path, version: Version, rel: &str, clock_ticks: u64) -> Result<Usage, Error> {
    let usage = match version {
        Version::V1 => read_v1(root, rel, clock_ticks.max(1))?,
        Version::V2 => read_v2(&dir(root, version, "", rel))?,
    };
    if usage.cpu.is_none() && usage.memory.is_none() && usage.procs.is_none() {
        return Err(Error::NoData(format!("no cgroup files for {rel} below {}", root.display())));
    }
    Ok(usage)
}

fn read_v1(root: &Path, rel: &str, clock_ticks: u64) -> Result<Usage, Error> {
    let d = |controller: &str| dir(root, Version::V1, controller, rel);
    let mut usage = Usage::default();

    let cpuacct = d("cpuacct");
    if let Some(total_ns) = parse_file(&cpuacct.join("cpuacct.usage"), parse_value)? {
        let stat_path = cpuacct.join("cpuacct.stat");
        let (user_ns, system_ns) = match read_opt(&stat_path)? {
            Some(text) => {
                let stat = parse_keyed(&text).map_err(|e| Error::parse(&stat_path, e.to_string()))?;
                let ns = |ticks: u64| (ticks as u128 * 1_000_000_000 / clock_ticks as u128) as u64;
                (ns(stat.or0("user")), ns(stat.or0("system")))
            }
            None => (0, 0),
        };
        usage.cpu = Some(Cpu { total_ns, user_ns, system_ns });
    }

    let cpu = d("cpu");
    if parse_file(&cpu.join("cpu.cfs_quota_us"), parse_cfs_quota)?.flatten().is_some() {
        let path = cpu.join("cpu.stat");
        if let Some(text) = read_opt(&path)? {
            let stat = parse_keyed(&text).map_err(|e| Error::parse(&path, e.to_string()))?;
            usage.cfs = Some(Cfs {
                periods: stat.or0("nr_periods"),
                throttled_periods: stat.or0("nr_throttled"),
                throttled_ns: stat.or0("throttled_time"),
            });
        }
    }

    let memory = d("memory");
    if let Some(current) = parse_file(&memory.join("memory.usage_in_bytes"), parse_value)? {
        let path = memory.join("memory.stat");
        let text = read_opt(&path)?.unwrap_or_default();
        let stat = parse_keyed(&text).map_err(|e| Error::parse(&path, e.to_string()))?;
        // Hierarchical totals when the kernel keeps them (use_hierarchy=1,
        // always so since Linux 6.x), else the cgroup's own counters.
        let pick = |key: &str| stat.get(&format!("total_{key}")).unwrap_or_else(|| stat.or0(key));
        let inactive_file = pick("inactive_file");
        usage.memory = Some(Memory {
            usage: current,
            working_set: current.saturating_sub(inactive_file),
            rss: pick("rss"),
            cache: pick("cache"),
            swap: pick("swap"),
            mapped_file: pick("mapped_file"),
        });
        usage.memory_limit = parse_file(&memory.join("memory.limit_in_bytes"), parse_value)?
            .map(|l| if l >= UNLIMITED { 0 } else { l });
        let oom_path = memory.join("memory.oom_control");
        if let Some(text) = read_opt(&oom_path)? {
            usage.oom_kills = parse_keyed(&text).map_err(|e| Error::parse(&oom_path, e.to_string()))?.get("oom_kill");
        }
    }

    // runc's order: BFQ, then CFQ, then the throttling layer (which counts
    // I/O whatever the scheduler); the first with device lines wins.
    let blkio = d("blkio");
    for (bytes_file, ops_file) in [
        ("blkio.bfq.io_service_bytes_recursive", "blkio.bfq.io_serviced_recursive"),
        ("blkio.io_service_bytes_recursive", "blkio.io_serviced_recursive"),
        ("blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"),
    ] {
        let Some(bytes) = parse_file(&blkio.join(bytes_file), parse_blkio)? else { continue };
        if bytes.is_empty() {
            continue;
        }
        let ops = parse_file(&blkio.join(ops_file), parse_blkio)?.unwrap_or_default();
        usage.io = blkio_devices(&bytes, &ops);
        break;
    }

    let pids = d("pids");
    usage.threads = parse_file(&pids.join("pids.current"), parse_value)?;
    usage.threads_max = parse_file(&pids.join("pids.max"), parse_limit)?.map(|l| l.unwrap_or(0));

    for controller in ["cpu", "cpuacct", "memory", "pids"] {
        if let Some(procs) = parse_file(&d(controller).join("cgroup.procs"), parse_procs)? {
            usage.procs = Some(procs);
            break;
        }
    }
    Ok(usage)
}

fn read_v2(dir: &Path) -> Result<Usage, Error> {
    let mut usage = Usage::default();
    let path = dir.join("cpu.stat");
    if let Some(text) = read_opt(&path)? {
        let stat = parse_keyed(&text).map_err(|e| Error::parse(&path, e.to_string()))?;
        usage.cpu = Some(Cpu {
            total_ns: stat.or0("usage_usec").saturating_mul(1000),
            user_ns: stat.or0("user_usec").saturating_mul(1000),
            system_ns: stat.or0("system_usec").saturating_mul(1000),
        });
        if parse_file(&dir.join("cpu.max"), parse_cpu_max)?.flatten().is_some() {
            usage.cfs = Some(Cfs {
                periods: stat.or0("nr_periods"),
                throttled_periods: stat.or0("nr_throttled"),
                throttled_ns: stat.or0("throttled_usec").saturating_mul(1000),
            });
        }
    }

    if let Some(current) = parse_file(&dir.join("memory.current"), parse_value)? {
        let path = dir.join("memory.stat");
        let text = read_opt(&path)?.unwrap_or_default();
        let stat = parse_keyed(&text).map_err(|e| Error::parse(&path, e.to_string()))?;
        usage.memory = Some(Memory {
            usage: current,
            working_set: current.saturating_sub(stat.or0("inactive_file")),
            rss: stat.or0("anon"),
            cache: stat.or0("file"),
            swap: parse_file(&dir.join("memory.swap.current"), parse_value)?.unwrap_or(0),
            mapped_file: stat.or0("file_mapped"),
        });
        usage.memory_limit = parse_file(&dir.join("memory.max"), parse_limit)?
            .map(|l| l.filter(|&l| l < UNLIMITED).unwrap_or(0));
        let events = dir.join("memory.events");
        if let Some(text) = read_opt(&events)? {
            usage.oom_kills = parse_keyed(&text).map_err(|e| Error::parse(&events, e.to_string()))?.get("oom_kill");
        }
    }

    usage.io = parse_file(&dir.join("io.stat"), parse_io_stat)?.unwrap_or_default();
    usage.threads = parse_file(&dir.join("pids.current"), parse_value)?;
    usage.threads_max = parse_file(&dir.join("pids.max"), parse_limit)?.map(|l| l.unwrap_or(0));
    usage.procs = parse_file(&dir.join("cgroup.procs"), parse_procs)?;
    Ok(usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_values_and_limits() {
        assert_eq!(parse_value("2062930991\n"), Ok(2_062_930_991));
        assert_eq!(parse_value("").unwrap_err().line, 1);
        assert!(parse_value("12 13\n").unwrap_err().detail.contains("12 13"));
        assert!(parse_value("-1\n").is_err());
        assert_eq!(parse_limit("max\n"), Ok(None));
        assert_eq!(parse_limit("67108864\n"), Ok(Some(67_108_864)));
        assert!(parse_limit("maximal\n").is_err());
        assert_eq!(parse_cfs_quota("-1\n"), Ok(None));
        assert_eq!(parse_cfs_quota("50000\n"), Ok(Some(50_000)));
        assert!(parse_cfs_quota("x\n").is_err());
        assert_eq!(parse_cpu_max("max 100000\n"), Ok(None));
        assert_eq!(parse_cpu_max("50000 100000\n"), Ok(Some(50_000)));
        assert!(parse_cpu_max("50000 1x\n").is_err());
        assert!(parse_cpu_max("\n").is_err());
    }

    #[test]
    fn keyed_files() {
        let k = parse_keyed("nr_periods 42\nnr_throttled 40\n\nthrottled_time 1962351366\n").unwrap();
        assert_eq!(k.get("nr_throttled"), Some(40));
        assert_eq!(k.or0("burst_time"), 0);
        assert_eq!(parse_keyed("").unwrap().0, vec![]);
        let e = parse_keyed("user 205\nsystem x1\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.detail.contains("x1"), "{e}");
        assert_eq!(parse_keyed("user\n").unwrap_err().line, 1);
        assert_eq!(parse_keyed("user 1 2\n").unwrap_err().line, 1);
    }

    #[test]
    fn blkio_v1() {
        let bytes = parse_blkio("8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Discard 0\n8:0 Total 12288\n8:16 Read 1\nTotal 12289\n").unwrap();
        let ops = parse_blkio("8:0 Read 1\n8:0 Write 2\n8:0 Total 3\nTotal 3\n").unwrap();
        assert_eq!(
            blkio_devices(&bytes, &ops),
            vec![
                DeviceIo { major: 8, minor: 0, read_bytes: 4096, write_bytes: 8192, reads: 1, writes: 2 },
                DeviceIo { major: 8, minor: 16, read_bytes: 1, ..Default::default() },
            ]
        );
        assert_eq!(parse_blkio("Total 0\n").unwrap(), vec![]);
        assert_eq!(parse_blkio("").unwrap(), vec![]);
        assert_eq!(parse_blkio("8:0 Read\n").unwrap_err().line, 1);
        assert_eq!(parse_blkio("Total 0\n8-0 Read 1\n").unwrap_err().line, 2);
        assert_eq!(parse_blkio("8:0 Read one\n").unwrap_err().line, 1);
        assert_eq!(parse_blkio("Total x\n").unwrap_err().line, 1);
    }

    #[test]
    fn io_stat_v2() {
        let devs = parse_io_stat("8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n253:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0 cost.vrate=100.00\n").unwrap();
        assert_eq!(devs[0], DeviceIo { major: 8, minor: 16, read_bytes: 1_459_200, write_bytes: 314_773_504, reads: 192, writes: 353 });
        assert_eq!(devs[1].writes, 4);
        assert_eq!(parse_io_stat("").unwrap(), vec![]);
        assert_eq!(parse_io_stat("8:16 rbytes=x\n").unwrap_err().line, 1);
        assert_eq!(parse_io_stat("8:16 rbytes\n").unwrap_err().line, 1);
        assert_eq!(parse_io_stat("sda rbytes=1\n").unwrap_err().line, 1);
    }

    #[test]
    fn procs_and_pid_cgroup() {
        assert_eq!(parse_procs("2810\n2811\n"), Ok(vec![2810, 2811]));
        assert_eq!(parse_procs(""), Ok(vec![]));
        assert_eq!(parse_procs("12\nabc\n").unwrap_err().line, 2);
        let v1 = "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n2:cpuacct:/docker/abc\n0::/docker/abc\n";
        assert_eq!(parse_pid_cgroup(v1, Version::V1).as_deref(), Some("/docker/abc"));
        assert_eq!(parse_pid_cgroup("2:cpu,cpuacct:/x\n", Version::V1).as_deref(), Some("/x"));
        assert_eq!(parse_pid_cgroup("0::/system.slice/docker-abc.scope\n", Version::V2).as_deref(), Some("/system.slice/docker-abc.scope"));
        assert_eq!(parse_pid_cgroup("0::/../../system.slice/x.scope\n", Version::V2), None);
        assert_eq!(parse_pid_cgroup("garbage\n", Version::V2), None);
        assert_eq!(parse_pid_cgroup("", Version::V1), None);
    }

    #[test]
    fn candidates_per_driver() {
        assert_eq!(candidate_paths("abc", ""), vec!["/docker/abc", "/system.slice/docker-abc.scope"]);
        assert_eq!(candidate_paths("abc", "/mygroup/")[0], "/mygroup/abc");
        assert_eq!(candidate_paths("abc", "my-apps.slice")[0], "/my.slice/my-apps.slice/docker-abc.scope");
        assert_eq!(candidate_paths("abc", "-.slice")[0], "/docker-abc.scope");
    }

    #[test]
    fn detects_version() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect(dir.path()), Version::V1);
        std::fs::write(dir.path().join("cgroup.controllers"), "cpu memory\n").unwrap();
        assert_eq!(detect(dir.path()), Version::V2);
    }
}
