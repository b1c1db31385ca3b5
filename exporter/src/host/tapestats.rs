//! The `tapestats` collector: SCSI tape drives (the LTO drive a homelab
//! backs up to) from `/sys/class/scsi_tape/st<N>/stats/`.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, with_attr, Filter};
use crate::metrics::{Kind, Snapshot};

/// Flags of the `tapestats` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of devices to ignore for tapestats.
    #[arg(long = "collector.tapestats.ignored-devices", default_value = "^$")]
    pub tapestats_ignored_devices: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { tapestats_ignored_devices: "^$".into() }
    }
}

/// The files of `stats/`, each with its metric, help, type and scale
/// (nanoseconds become seconds).
const STATS: &[(&str, &str, &str, Kind, f64)] = &[
    ("in_flight", "node_tape_io_now", "The number of I/Os currently outstanding to this device.", Kind::Gauge, 1.0),
    (
        "io_ns",
        "node_tape_io_time_seconds_total",
        "The amount of time spent waiting for all I/O to complete (including read and write). This includes tape movement commands such as seeking between file or set marks and implicit tape movement such as when rewind on close tape devices are used.",
        Kind::Counter,
        1e-9,
    ),
    (
        "other_cnt",
        "node_tape_io_others_total",
        "The number of I/Os issued to the tape drive other than read or write commands. The time taken to complete these commands uses the following calculation io_time_seconds_total-read_time_seconds_total-write_time_seconds_total",
        Kind::Counter,
        1.0,
    ),
    ("read_byte_cnt", "node_tape_read_bytes_total", "The number of bytes read from the tape drive.", Kind::Counter, 1.0),
    ("read_cnt", "node_tape_reads_completed_total", "The number of read requests issued to the tape drive.", Kind::Counter, 1.0),
    ("read_ns", "node_tape_read_time_seconds_total", "The amount of time spent waiting for read requests to complete.", Kind::Counter, 1e-9),
    (
        "resid_cnt",
        "node_tape_residual_total",
        "The number of times during a read or write we found the residual amount to be non-zero. This should mean that a program is issuing a read larger thean the block size on tape. For write not all data made it to tape.",
        Kind::Counter,
        1.0,
    ),
    ("write_byte_cnt", "node_tape_written_bytes_total", "The number of bytes written to the tape drive.", Kind::Counter, 1.0),
    ("write_cnt", "node_tape_writes_completed_total", "The number of write requests issued to the tape drive.", Kind::Counter, 1.0),
    ("write_ns", "node_tape_write_time_seconds_total", "The amount of time spent waiting for write requests to complete.", Kind::Counter, 1e-9),
];

/// True for the rewinding tape device of a drive (`st0`); the other names
/// (`nst0`, `st0a`, `st0l`, ...) are views of the same drive.
pub fn is_drive(name: &str) -> bool {
    name.strip_prefix("st").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// One counter of `stats/`: 0 when the kernel lacks the file, an error
/// when it cannot be read or is not a number.
fn counter(path: &Path) -> Result<u64, Error> {
    match with_attr(path, |s| s.trim().parse::<u64>().map_err(|_| Error::parse(path, format!("not an unsigned integer: {s:?}")))) {
        Ok(v) => v,
        Err(e) if e.is_not_found() => Ok(0),
        Err(e) => Err(e),
    }
}

struct Tapestats {
    paths: Arc<HostPaths>,
    ignored: Filter,
}

impl HostCollector for Tapestats {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("class/scsi_tape");
        let names = match list_dir(&base) {
            Ok(n) => n,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /sys/class/scsi_tape: no SCSI tape drive".into())),
            Err(e) => return Err(e),
        };
        for device in names.iter().filter(|n| is_drive(n) && !self.ignored.accepts(n)) {
            let stats = base.join(device).join("stats");
            // Read every file first: a drive is reported whole or not at all.
            let mut values = [0u64; STATS.len()];
            for (slot, (file, ..)) in values.iter_mut().zip(STATS) {
                *slot = counter(&stats.join(file))?;
            }
            for (v, (_, name, help, kind, scale)) in values.iter().zip(STATS) {
                out.family(*name, *help, *kind).add(&[("device", device)], *v as f64 * scale);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    // The flag names the devices to ignore: a filter that accepts them.
    let ignored = Filter::new("tapestats", Some(&o.tapestats_ignored_devices), None)?;
    Ok(Some(Collector::host(Tapestats { paths: cx.paths.clone(), ignored })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rewinding_devices_are_drives() {
        assert!(is_drive("st0") && is_drive("st12"));
        for not in ["nst0", "st0a", "st0l", "st0m", "st", "sta", ""] {
            assert!(!is_drive(not), "{not}");
        }
    }

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let stats = dir.path().join("class/scsi_tape/st0/stats");
        std::fs::create_dir_all(&stats).unwrap();
        std::fs::create_dir_all(dir.path().join("class/scsi_tape/nst0/stats")).unwrap();
        std::fs::write(dir.path().join("class/scsi_tape/nst0/stats/io_ns"), "garbage").unwrap();
        for (f, v) in files {
            std::fs::write(stats.join(f), v).unwrap();
        }
        dir
    }

    fn gather(dir: &Path, ignored: &str) -> Result<Snapshot, Error> {
        let paths = Arc::new(HostPaths { sysfs: dir.into(), ..HostPaths::default() });
        let c = Tapestats { paths, ignored: Filter::new("tapestats", Some(ignored), None).unwrap() };
        let mut out = Snapshot::new();
        c.gather(&Scrape { deadline: std::time::Instant::now() }, &mut out).map(|()| out)
    }

    #[test]
    fn fixture_counters_scaled_like_node_exporter() {
        let dir = tree(&[("io_ns", "9247011087720\n"), ("in_flight", "1\n"), ("write_byte_cnt", "1496246784000\n")]);
        let out = gather(dir.path(), "^$").unwrap();
        let value = |name: &str| out.families.iter().find(|f| f.name == name).unwrap().samples[0].value;
        assert_eq!(value("node_tape_io_time_seconds_total"), 9247.01108772);
        assert_eq!(value("node_tape_io_now"), 1.0);
        assert_eq!(value("node_tape_written_bytes_total"), 1.496246784e12);
        assert_eq!(value("node_tape_reads_completed_total"), 0.0);
        assert_eq!(out.sample_count(), STATS.len());
        assert_eq!(gather(dir.path(), "^st0$").unwrap().sample_count(), 0);
    }

    #[test]
    fn garbled_counter_fails_naming_the_file() {
        for bad in ["", "-1", "12x", "99999999999999999999999"] {
            let dir = tree(&[("read_cnt", bad)]);
            let e = gather(dir.path(), "^$").unwrap_err().to_string();
            assert!(e.contains("st0/stats/read_cnt"), "{e}");
        }
        assert!(matches!(gather(Path::new("/nonexistent-sysfs"), "^$"), Err(Error::NoData(_))));
    }
}
