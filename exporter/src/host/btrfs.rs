//! The `btrfs` collector: per-filesystem Btrfs statistics from
//! `/sys/fs/btrfs/<uuid>/` as `node_btrfs_*{uuid}`: label, global reserve,
//! commit statistics, space reserved, used and allocated per block group
//! type and layout, and the size of each member device.
//!
//! node_exporter also asks each mounted filesystem for its devices' usage
//! and error counters with btrfs ioctls, which adds
//! `node_btrfs_device_unused_bytes`, `node_btrfs_device_errors_total` and a
//! `btrfs_dev_uuid` label on `node_btrfs_device_size_bytes`. That part is
//! not done here: an ioctl needs `unsafe` code, which this crate forbids.
//! Without it node_exporter falls back to what sysfs says, as here.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, with_attr};
use crate::metrics::{Kind, Snapshot};

/// Bytes of a sector, the unit of a block device's `size` attribute.
const SECTOR: u64 = 512;

/// The block group types under `allocation/`, as the `block_group_type` label names them.
pub const BLOCK_GROUP_TYPES: [&str; 3] = ["data", "metadata", "system"];

/// The counters of `commit_stats` (kernel 6.0 and later), zeros without it.
#[derive(Debug, Default, PartialEq, Clone, Copy)]
pub struct CommitStats {
    /// Transactions committed.
    pub commits: u64,
    /// Duration of the last commit, milliseconds.
    pub last_commit_ms: u64,
    /// Duration of the slowest commit, milliseconds.
    pub max_commit_ms: u64,
    /// Sum of all commits' durations, milliseconds.
    pub total_commit_ms: u64,
}

/// Parses `commit_stats`: `key value` lines; keys not known are skipped.
pub fn parse_commit_stats(text: &str) -> Result<CommitStats, String> {
    let mut stats = CommitStats::default();
    for (n, line) in text.lines().enumerate() {
        let mut words = line.split_ascii_whitespace();
        let (Some(key), Some(value), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!("line {}: expected \"key value\", got {line:?}", n + 1));
        };
        let value = value.parse::<u64>().map_err(|_| format!("line {}: {key}: not an unsigned integer: {value:?}", n + 1))?;
        match key {
            "commits" => stats.commits = value,
            "last_commit_ms" => stats.last_commit_ms = value,
            "max_commit_ms" => stats.max_commit_ms = value,
            "total_commit_ms" => stats.total_commit_ms = value,
            _ => {}
        }
    }
    Ok(stats)
}

/// Bytes stored on disk per byte of data for a layout (`raid1` → 2), given
/// the filesystem's number of devices; 0 for a layout not known.
pub fn allocation_ratio(mode: &str, devices: usize) -> f64 {
    let n = devices as f64;
    match mode {
        "single" | "raid0" => 1.0,
        "dup" | "raid1" | "raid10" => 2.0,
        "raid1c3" => 3.0,
        "raid1c4" => 4.0,
        "raid5" => n / (n - 1.0),
        "raid6" => n / (n - 2.0),
        _ => 0.0,
    }
}

/// One layout (profile) of a block group type: `allocation/<type>/<mode>/`.
#[derive(Debug, PartialEq, Clone)]
pub struct Layout {
    /// The layout's directory name (`raid1`, `single`, ...).
    pub mode: String,
    /// `total_bytes`: space allocated.
    pub total_bytes: u64,
    /// `used_bytes`: space used.
    pub used_bytes: u64,
    /// See [`allocation_ratio`].
    pub ratio: f64,
}

/// One block group type: `allocation/<type>/`.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct Allocation {
    /// `bytes_reserved`.
    pub reserved_bytes: u64,
    /// Its layouts, by name.
    pub layouts: Vec<Layout>,
}

/// What is read of one filesystem.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct Filesystem {
    /// `metadata_uuid`, or the directory's name without it.
    pub uuid: String,
    /// `label`, empty for none.
    pub label: String,
    /// `allocation/global_rsv_size`.
    pub global_rsv_size: u64,
    /// Per entry of [`BLOCK_GROUP_TYPES`].
    pub allocations: Vec<Allocation>,
    /// `commit_stats`.
    pub commits: CommitStats,
    /// Member devices by name with their sizes in bytes.
    pub devices: Vec<(String, u64)>,
}

/// Reads a numeric attribute; an absent one reads as 0.
fn value(path: &Path) -> Result<u64, Error> {
    match with_attr(path, |s| s.trim().parse::<u64>().ok()) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(Error::parse(path, "not an unsigned integer")),
        Err(e) if e.is_not_found() => Ok(0),
        Err(e) => Err(e),
    }
}

/// Reads a text attribute, trimmed; an absent one reads as empty.
fn text(path: &Path) -> Result<String, Error> {
    match with_attr(path, |s| s.trim().to_owned()) {
        Err(e) if e.is_not_found() => Ok(String::new()),
        other => other,
    }
}

/// The subdirectories of `dir`, sorted.
fn subdirs(dir: &Path) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// Reads one filesystem's directory; `None` when it has gone (unmounted
/// since the listing).
fn read_filesystem(dir: &Path, name: &str) -> Result<Option<Filesystem>, Error> {
    let devices = match list_dir(&dir.join("devices")) {
        Ok(d) => d,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let devices = devices
        .into_iter()
        .map(|d| {
            let size = value(&dir.join("devices").join(&d).join("size"))?;
            Ok((d, size.saturating_mul(SECTOR)))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mut allocations = Vec::with_capacity(BLOCK_GROUP_TYPES.len());
    for kind in BLOCK_GROUP_TYPES {
        let at = dir.join("allocation").join(kind);
        let layouts = subdirs(&at)?
            .into_iter()
            .map(|mode| {
                Ok(Layout {
                    total_bytes: value(&at.join(&mode).join("total_bytes"))?,
                    used_bytes: value(&at.join(&mode).join("used_bytes"))?,
                    ratio: allocation_ratio(&mode, devices.len()),
                    mode,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        allocations.push(Allocation { reserved_bytes: value(&at.join("bytes_reserved"))?, layouts });
    }
    let commits_path = dir.join("commit_stats");
    let commits = match read_to_string(&commits_path) {
        Ok(t) => parse_commit_stats(&t).map_err(|d| Error::parse(&commits_path, d))?,
        Err(e) if e.is_not_found() => CommitStats::default(),
        Err(e) => return Err(e),
    };
    let uuid = text(&dir.join("metadata_uuid"))?;
    Ok(Some(Filesystem {
        uuid: if uuid.is_empty() { name.to_owned() } else { uuid },
        label: text(&dir.join("label"))?,
        global_rsv_size: value(&dir.join("allocation/global_rsv_size"))?,
        allocations,
        commits,
        devices,
    }))
}

struct Btrfs(Arc<HostPaths>);

impl HostCollector for Btrfs {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.0.sys("fs/btrfs");
        let names = match list_dir(&base) {
            Ok(n) => n,
            Err(e) if e.is_not_found() => {
                return Err(Error::NoData(format!("{} does not exist: the btrfs module is not loaded", base.display())));
            }
            Err(e) => return Err(e),
        };
        let mut filesystems = Vec::new();
        // Filesystems are the directories named by UUID; `features` is not one.
        for name in names.iter().filter(|n| n.contains('-')) {
            if let Some(fs) = read_filesystem(&base.join(name), name)? {
                filesystems.push(fs);
            }
        }
        emit(&filesystems, out);
        Ok(())
    }
}

/// Adds the series of `filesystems` to `out`, one family at a time.
pub fn emit(filesystems: &[Filesystem], out: &mut Snapshot) {
    if filesystems.is_empty() {
        return;
    }
    for fs in filesystems {
        out.gauge("node_btrfs_info", "Filesystem information", &[("label", &fs.label), ("uuid", &fs.uuid)], 1.0);
    }
    type Scalar = (&'static str, &'static str, Kind, fn(&Filesystem) -> f64);
    let scalars: [Scalar; 5] = [
        ("node_btrfs_global_rsv_size_bytes", "Size of global reserve.", Kind::Gauge, |f| f.global_rsv_size as f64),
        ("node_btrfs_commits_total", "The total number of commits that have occurred.", Kind::Counter, |f| f.commits.commits as f64),
        ("node_btrfs_last_commit_seconds", "Duration of the most recent commit, in seconds.", Kind::Gauge, |f| f.commits.last_commit_ms as f64 / 1000.0),
        ("node_btrfs_max_commit_seconds", "Duration of the slowest commit, in seconds.", Kind::Gauge, |f| f.commits.max_commit_ms as f64 / 1000.0),
        ("node_btrfs_commit_seconds_total", "Sum of the duration of all commits, in seconds.", Kind::Counter, |f| f.commits.total_commit_ms as f64 / 1000.0),
    ];
    for (name, help, kind, get) in scalars {
        let family = out.family(name, help, kind);
        for fs in filesystems {
            family.add(&[("uuid", &fs.uuid)], get(fs));
        }
    }
    let family = out.family("node_btrfs_reserved_bytes", "Amount of space reserved for a data type", Kind::Gauge);
    for fs in filesystems {
        for (kind, a) in BLOCK_GROUP_TYPES.iter().zip(&fs.allocations) {
            family.add(&[("block_group_type", kind), ("uuid", &fs.uuid)], a.reserved_bytes as f64);
        }
    }
    type PerLayout = (&'static str, &'static str, fn(&Layout) -> f64);
    let per_layout: [PerLayout; 3] = [
        ("node_btrfs_used_bytes", "Amount of used space by a layout/data type", |l| l.used_bytes as f64),
        ("node_btrfs_size_bytes", "Amount of space allocated for a layout/data type", |l| l.total_bytes as f64),
        ("node_btrfs_allocation_ratio", "Data allocation ratio for a layout/data type", |l| l.ratio),
    ];
    for (name, help, get) in per_layout {
        let family = out.family(name, help, Kind::Gauge);
        for fs in filesystems {
            for (kind, a) in BLOCK_GROUP_TYPES.iter().zip(&fs.allocations) {
                for l in &a.layouts {
                    family.add(&[("block_group_type", kind), ("mode", &l.mode), ("uuid", &fs.uuid)], get(l));
                }
            }
        }
    }
    let family = out.family("node_btrfs_device_size_bytes", "Size of a device that is part of the filesystem.", Kind::Gauge);
    for fs in filesystems {
        for (device, size) in &fs.devices {
            family.add(&[("device", device), ("uuid", &fs.uuid)], *size as f64);
        }
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Btrfs(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commit_stats() {
        let s = parse_commit_stats("commits 258051\nlast_commit_ms 1000\nmax_commit_ms 51462\ntotal_commit_ms 47836090\n").unwrap();
        assert_eq!(s, CommitStats { commits: 258051, last_commit_ms: 1000, max_commit_ms: 51462, total_commit_ms: 47836090 });
        assert_eq!(parse_commit_stats("").unwrap(), CommitStats::default());
        assert_eq!(parse_commit_stats("future_thing 3\n").unwrap(), CommitStats::default());
    }

    #[test]
    fn refuses_malformed_commit_stats() {
        assert!(parse_commit_stats("commits\n").unwrap_err().contains("line 1"));
        assert!(parse_commit_stats("commits 1\n\n").unwrap_err().contains("line 2"));
        assert!(parse_commit_stats("commits 1 2\n").is_err());
        assert!(parse_commit_stats("commits -1\n").unwrap_err().contains("commits"));
        assert!(parse_commit_stats("commits 18446744073709551616\n").is_err());
    }

    #[test]
    fn ratios_follow_the_layout() {
        assert_eq!(allocation_ratio("raid1", 2), 2.0);
        assert_eq!(allocation_ratio("raid1c3", 3), 3.0);
        assert_eq!(allocation_ratio("raid5", 4), 4.0 / 3.0);
        assert_eq!(allocation_ratio("raid6", 4), 2.0);
        assert_eq!(allocation_ratio("single", 1), 1.0);
        assert_eq!(allocation_ratio("newmode", 3), 0.0);
        // As node_exporter: a degenerate raid5 divides by zero.
        assert!(allocation_ratio("raid5", 1).is_infinite());
    }

    use crate::host::util::write_tree_file as write;

    fn collector(sysfs: &Path) -> Arc<dyn HostCollector> {
        let paths = Arc::new(HostPaths { sysfs: sysfs.into(), ..HostPaths::default() });
        let Some(Collector::Host(c)) = build(&Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        c
    }

    #[test]
    fn reads_a_filesystem_tree() {
        let dir = tempfile::tempdir().unwrap();
        let fs = "fs/btrfs/0abb23a9-579b-43e6-ad30-227ef47fcb9d";
        let root = dir.path();
        write(root, &format!("{fs}/label"), "fixture\n");
        write(root, &format!("{fs}/devices/loop25/size"), "20971520\n");
        write(root, &format!("{fs}/devices/loop26/size"), "20971520\n");
        write(root, &format!("{fs}/allocation/global_rsv_size"), "16777216\n");
        for kind in BLOCK_GROUP_TYPES {
            write(root, &format!("{fs}/allocation/{kind}/bytes_reserved"), "0\n");
            write(root, &format!("{fs}/allocation/{kind}/raid1/total_bytes"), "8388608\n");
            write(root, &format!("{fs}/allocation/{kind}/raid1/used_bytes"), "16384\n");
        }
        write(root, "fs/btrfs/features/raid56", "0\n");
        let c = collector(root);
        let scrape = Scrape { deadline: std::time::Instant::now() };
        let mut out = Snapshot::new();
        c.gather(&scrape, &mut out).unwrap();
        let find = |n: &str| out.families.iter().find(|f| f.name == n).unwrap();
        // No metadata_uuid: the directory names the filesystem.
        let info = &find("node_btrfs_info").samples;
        assert_eq!(info.len(), 1);
        assert_eq!(info[0].labels[1].1, "0abb23a9-579b-43e6-ad30-227ef47fcb9d");
        assert_eq!(find("node_btrfs_device_size_bytes").samples[0].value, 10737418240.0);
        assert_eq!(find("node_btrfs_allocation_ratio").samples.len(), 3);
        assert_eq!(find("node_btrfs_commits_total").samples[0].value, 0.0);

        write(root, &format!("{fs}/commit_stats"), "commits x\n");
        let e = c.gather(&scrape, &mut Snapshot::new()).unwrap_err().to_string();
        assert!(e.contains("commit_stats") && e.contains("line 1"), "{e}");
        write(root, &format!("{fs}/commit_stats"), "commits 1\n");
        write(root, &format!("{fs}/allocation/data/raid1/used_bytes"), "lots\n");
        let e = c.gather(&scrape, &mut Snapshot::new()).unwrap_err().to_string();
        assert!(e.contains("data/raid1/used_bytes"), "{e}");
    }

    #[test]
    fn no_btrfs_directory_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let scrape = Scrape { deadline: std::time::Instant::now() };
        assert!(matches!(collector(dir.path()).gather(&scrape, &mut Snapshot::new()), Err(Error::NoData(_))));
        std::fs::create_dir_all(dir.path().join("fs/btrfs/features")).unwrap();
        let mut out = Snapshot::new();
        collector(dir.path()).gather(&scrape, &mut out).unwrap();
        assert!(out.families.is_empty());
    }
}
