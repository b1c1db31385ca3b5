//! The `diskstats` collector: I/O counters per block device from
//! `/proc/diskstats`, and what udev knows of each device (`node_disk_info`,
//! filesystem, device mapper and ATA properties) from its database.

use std::collections::HashMap;
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{read_u64, Filter};
use crate::metrics::{Kind, Snapshot};

/// node_exporter's default: partitions and virtual devices are left out.
pub const DEFAULT_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// Flags of the `diskstats` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of diskstats devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.diskstats.device-exclude")]
    pub diskstats_device_exclude: Option<String>,
    /// Regexp of diskstats devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.diskstats.device-include")]
    pub diskstats_device_include: Option<String>,
}

/// The kernel counts sectors of 512 bytes here, whatever the device's own size.
const SECTOR: f64 = 512.0;

/// One line of `/proc/diskstats`.
#[derive(Debug, PartialEq)]
pub struct DiskStats {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
    /// Device name.
    pub name: String,
    /// The counters after the name (11, 15 or 17 of them).
    pub values: Vec<u64>,
}

/// Parses `/proc/diskstats`.
pub fn parse(text: &str) -> Result<Vec<DiskStats>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() < 14 {
            return Err(format!("line {}: expected at least 14 fields, got {}", n + 1, f.len()));
        }
        let bad = |what: &str| format!("line {}: bad {what} in {line:?}", n + 1);
        let values: Result<Vec<u64>, _> = f[3..].iter().map(|v| v.parse::<u64>()).collect();
        out.push(DiskStats {
            major: f[0].parse().map_err(|_| bad("major"))?,
            minor: f[1].parse().map_err(|_| bad("minor"))?,
            name: f[2].to_owned(),
            values: values.map_err(|_| bad("counter"))?,
        });
    }
    Ok(out)
}

/// Parses a udev database entry: its `E:KEY=VALUE` properties.
pub fn parse_udev(text: &str) -> HashMap<&str, &str> {
    text.lines().filter_map(|l| l.strip_prefix("E:")).filter_map(|kv| kv.split_once('=')).collect()
}

/// (index in the counters, metric, help, kind, scale).
const COUNTERS: &[(usize, &str, &str, Kind, f64)] = &[
    (0, "node_disk_reads_completed_total", "The total number of reads completed successfully.", Kind::Counter, 1.0),
    (1, "node_disk_reads_merged_total", "The total number of reads merged.", Kind::Counter, 1.0),
    (2, "node_disk_read_bytes_total", "The total number of bytes read successfully.", Kind::Counter, SECTOR),
    (3, "node_disk_read_time_seconds_total", "The total number of seconds spent by all reads.", Kind::Counter, 0.001),
    (4, "node_disk_writes_completed_total", "The total number of writes completed successfully.", Kind::Counter, 1.0),
    (5, "node_disk_writes_merged_total", "The number of writes merged.", Kind::Counter, 1.0),
    (6, "node_disk_written_bytes_total", "The total number of bytes written successfully.", Kind::Counter, SECTOR),
    (7, "node_disk_write_time_seconds_total", "This is the total number of seconds spent by all writes.", Kind::Counter, 0.001),
    (8, "node_disk_io_now", "The number of I/Os currently in progress.", Kind::Gauge, 1.0),
    (9, "node_disk_io_time_seconds_total", "Total seconds spent doing I/Os.", Kind::Counter, 0.001),
    (10, "node_disk_io_time_weighted_seconds_total", "The weighted # of seconds spent doing I/Os.", Kind::Counter, 0.001),
    (11, "node_disk_discards_completed_total", "The total number of discards completed successfully.", Kind::Counter, 1.0),
    (12, "node_disk_discards_merged_total", "The total number of discards merged.", Kind::Counter, 1.0),
    (13, "node_disk_discarded_sectors_total", "The total number of sectors discarded successfully.", Kind::Counter, 1.0),
    (14, "node_disk_discard_time_seconds_total", "This is the total number of seconds spent by all discards.", Kind::Counter, 0.001),
    (15, "node_disk_flush_requests_total", "The total number of flush requests completed successfully", Kind::Counter, 1.0),
    (16, "node_disk_flush_requests_time_seconds_total", "This is the total number of seconds spent by all flush requests.", Kind::Counter, 0.001),
];

struct Diskstats {
    paths: Arc<HostPaths>,
    filter: Filter,
}

impl Diskstats {
    fn udev(&self, d: &DiskStats, out: &mut Snapshot) {
        let text = std::fs::read_to_string(self.paths.udev_data.join(format!("b{}:{}", d.major, d.minor))).unwrap_or_default();
        let props = parse_udev(&text);
        let get = |k: &str| props.get(k).copied().unwrap_or("");
        let dev = d.name.as_str();
        let serial = match get("ID_SERIAL_SHORT") {
            "" => get("ID_SERIAL"),
            s => s,
        };
        let rotational = read_u64(&self.paths.sys(&format!("block/{dev}/queue/rotational"))).unwrap_or(0).to_string();
        out.gauge(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            &[
                ("device", dev),
                ("major", &d.major.to_string()),
                ("minor", &d.minor.to_string()),
                ("path", get("ID_PATH")),
                ("wwn", get("ID_WWN")),
                ("model", get("ID_MODEL")),
                ("serial", serial),
                ("revision", get("ID_REVISION")),
                ("rotational", &rotational),
            ],
            1.0,
        );
        if !get("ID_FS_TYPE").is_empty() {
            out.gauge(
                "node_disk_filesystem_info",
                "Info about disk filesystem.",
                &[("device", dev), ("type", get("ID_FS_TYPE")), ("usage", get("ID_FS_USAGE")), ("uuid", get("ID_FS_UUID")), ("version", get("ID_FS_VERSION"))],
                1.0,
            );
        }
        if !get("DM_NAME").is_empty() {
            out.gauge(
                "node_disk_device_mapper_info",
                "Info about disk device mapper.",
                &[("device", dev), ("name", get("DM_NAME")), ("uuid", get("DM_UUID")), ("vg_name", get("DM_VG_NAME")), ("lv_name", get("DM_LV_NAME")), ("lv_layer", get("DM_LV_LAYER"))],
                1.0,
            );
        }
        for (key, name, help) in [
            ("ID_ATA_ROTATION_RATE_RPM", "node_disk_ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs)."),
            ("ID_ATA_WRITE_CACHE", "node_disk_ata_write_cache", "ATA disk has a write cache."),
            ("ID_ATA_WRITE_CACHE_ENABLED", "node_disk_ata_write_cache_enabled", "ATA disk has its write cache enabled."),
        ] {
            if props.contains_key("ID_ATA") {
                if let Some(v) = props.get(key).and_then(|v| v.parse::<f64>().ok()) {
                    out.gauge(name, help, &[("device", dev)], v);
                }
            }
        }
    }
}

impl HostCollector for Diskstats {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.paths.proc("diskstats");
        let disks = parse(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        let disks: Vec<&DiskStats> = disks.iter().filter(|d| self.filter.accepts(&d.name)).collect();
        for (i, name, help, kind, scale) in COUNTERS {
            let fam = out.family(*name, *help, *kind);
            for d in &disks {
                if let Some(v) = d.values.get(*i) {
                    fam.add(&[("device", &d.name)], *v as f64 * scale);
                }
            }
        }
        for d in &disks {
            self.udev(d, out);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    // The default exclusion applies only when no include pattern is given.
    let exclude = match &o.diskstats_device_include {
        Some(_) => o.diskstats_device_exclude.as_deref(),
        None => Some(o.diskstats_device_exclude.as_deref().unwrap_or(DEFAULT_EXCLUDE)),
    };
    let filter = Filter::exclusive("diskstats", "device", o.diskstats_device_include.as_deref(), exclude)?;
    Ok(Some(Collector::host(Diskstats { paths: cx.paths.clone(), filter })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_11_15_and_17_counter_layouts() {
        let v = parse("   8       0 sda 1 2 3 4 5 6 7 8 0 10 11\n   8      16 sdb 1 2 3 4 5 6 7 8 0 10 11 12 13 14 15\n 259 0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n").unwrap();
        assert_eq!(v.iter().map(|d| d.values.len()).collect::<Vec<_>>(), vec![11, 15, 17]);
        assert_eq!(v[2].name, "nvme0n1");
    }

    #[test]
    fn garbled_lines_are_errors() {
        assert!(parse("8 0 sda 1 2 3\n").is_err());
        assert!(parse("x 0 sda 1 2 3 4 5 6 7 8 9 10 11\n").is_err());
        assert!(parse("8 0 sda 1 2 3 4 5 6 7 8 9 10 -1\n").is_err());
    }

    #[test]
    fn default_exclude_keeps_disks_and_drops_partitions() {
        let f = Filter::new("diskstats", None, Some(DEFAULT_EXCLUDE)).unwrap();
        for keep in ["sda", "nvme0n1", "mmcblk0", "mmcblk0p1", "dm-0", "md0"] {
            assert!(f.accepts(keep), "{keep}");
        }
        for drop in ["sda1", "nvme0n1p1", "loop0", "ram0", "zram0", "vda2"] {
            assert!(!f.accepts(drop), "{drop}");
        }
    }

    #[test]
    fn udev_properties() {
        let p = parse_udev("S:disk/by-id/x\nE:ID_MODEL=TOSHIBA\nE:DM_LV_LAYER=\nbroken\n");
        assert_eq!(p.get("ID_MODEL"), Some(&"TOSHIBA"));
        assert_eq!(p.get("DM_LV_LAYER"), Some(&""));
        assert_eq!(p.len(), 2);
    }
}
