//! The `netdev` collector: per-interface traffic counters as
//! `node_network_{receive,transmit}_*_total`.
//!
//! node_exporter reads these over netlink by default, which always sees the
//! exporter's own network namespace whatever `--path.procfs` says. We keep
//! that meaning without a netlink socket: by default we read the process's
//! own `/proc/self/net/dev` (plus `rx_nohandler` from
//! `/sys/class/net/<dev>/statistics`, which only netlink reports otherwise).
//! Run the exporter in the host's network namespace (`network_mode: host`)
//! to see the host's interfaces. `--no-collector.netdev.netlink` reads
//! `<procfs>/net/dev` instead, as node_exporter's procfs mode does.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{read_u64, Filter};
use crate::metrics::{Kind, Snapshot};

/// Flags of the `netdev` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of net devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.netdev.device-include")]
    pub netdev_device_include: Option<String>,
    /// Regexp of net devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.netdev.device-exclude")]
    pub netdev_device_exclude: Option<String>,
    /// Read the live network namespace's counters (node_exporter's netlink mode);
    /// false reads <procfs>/net/dev.
    #[arg(long = "collector.netdev.netlink", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub netdev_netlink: bool,
}

/// Column names of `/proc/net/dev`, receive then transmit.
const COLUMNS: [&str; 16] = [
    "receive_bytes", "receive_packets", "receive_errs", "receive_drop", "receive_fifo", "receive_frame", "receive_compressed", "receive_multicast",
    "transmit_bytes", "transmit_packets", "transmit_errs", "transmit_drop", "transmit_fifo", "transmit_colls", "transmit_carrier", "transmit_compressed",
];

/// Metric name and help of each column, made once for the process so that
/// a scrape borrows them instead of formatting 32 strings.
static COLUMN_NAMES: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    COLUMNS.iter().map(|c| (format!("node_network_{c}_total"), format!("Network device statistic {c}."))).collect()
});

/// A line of a `net/dev` file that did not have the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {detail}")]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong, quoting the word or line.
    pub detail: String,
}

/// Parses `/proc/net/dev` (or `/proc/<pid>/net/dev`, a container's
/// namespace): two header lines, then `device: 8 receive counters
/// 8 transmit counters` per line; blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<(String, [u64; 16])>, BadLine> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate().skip(2) {
        let bad = |detail: String| BadLine { line: n + 1, detail };
        let Some((dev, rest)) = line.split_once(':') else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(bad(format!("no device name in {line:?}")));
        };
        let mut values = [0u64; 16];
        let mut count = 0;
        for f in rest.split_ascii_whitespace() {
            let slot = values.get_mut(count).ok_or_else(|| bad(format!("more than 16 counters in {line:?}")))?;
            *slot = f.parse().map_err(|_| bad(format!("bad counter {f:?}")))?;
            count += 1;
        }
        if count != 16 {
            return Err(bad(format!("expected 16 counters, got {count}")));
        }
        out.push((dev.trim().to_owned(), values));
    }
    Ok(out)
}

struct Netdev {
    paths: Arc<HostPaths>,
    filter: Filter,
    live: bool,
}

impl HostCollector for Netdev {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = if self.live { PathBuf::from("/proc/self/net/dev") } else { self.paths.proc("net/dev") };
        let devices = parse(&read_to_string(&path)?).map_err(|e| Error::parse(&path, e.to_string()))?;
        let devices: Vec<_> = devices.into_iter().filter(|(d, _)| self.filter.accepts(d)).collect();
        for (i, (name, help)) in COLUMN_NAMES.iter().enumerate() {
            let fam = out.family(name.as_str(), help.as_str(), Kind::Counter);
            for (dev, values) in &devices {
                fam.add(&[("device", dev)], values[i] as f64);
            }
        }
        if self.live {
            let fam = out.family("node_network_receive_nohandler_total", "Network device statistic receive_nohandler.", Kind::Counter);
            for (dev, _) in &devices {
                let p = PathBuf::from("/sys/class/net").join(dev).join("statistics/rx_nohandler");
                if let Ok(v) = read_u64(&p) {
                    fam.add(&[("device", dev)], v as f64);
                }
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Netdev {
        paths: cx.paths.clone(),
        filter: Filter::exclusive("netdev", "device", o.netdev_device_include.as_deref(), o.netdev_device_exclude.as_deref())?,
        live: o.netdev_netlink,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "Inter-|   Receive |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:   14143     120    0    0    0     0          0         0    14143     120    0    0    0     0       0          0\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";

    #[test]
    fn parses_devices() {
        let v = parse(DEV).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].0, "eth0");
        assert_eq!(v[1].1[15], 16);
    }

    #[test]
    fn garbled_lines_are_errors() {
        assert!(parse("h\nh\n  eth0: 1 2 3\n").is_err());
        assert!(parse("h\nh\n  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n").is_err());
        assert!(parse("h\nh\nno colon here\n").is_err());
    }
}
