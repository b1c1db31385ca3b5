//! The `arp` collector: ARP (neighbour) entries per device, from
//! `/proc/net/arp`. Like netdev, it reads the exporter's own network
//! namespace by default (node_exporter's netlink mode sees the same);
//! `--no-collector.arp.netlink` reads `<procfs>/net/arp`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::Filter;
use crate::metrics::{Kind, Snapshot};

/// Flags of the `arp` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of arp devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.arp.device-include")]
    pub arp_device_include: Option<String>,
    /// Regexp of arp devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.arp.device-exclude")]
    pub arp_device_exclude: Option<String>,
    /// Read the live network namespace (node_exporter's netlink mode); false reads <procfs>/net/arp.
    #[arg(long = "collector.arp.netlink", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub arp_netlink: bool,
}

/// Counts the entries of `/proc/net/arp` per device.
pub fn parse(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        if f.len() < 6 {
            return Err(format!("line {}: expected 6 columns, got {}", n + 1, f.len()));
        }
        *out.entry(f[5].to_owned()).or_insert(0) += 1;
    }
    Ok(out)
}

struct Arp {
    paths: Arc<HostPaths>,
    filter: Filter,
    live: bool,
}

impl HostCollector for Arp {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = if self.live { PathBuf::from("/proc/self/net/arp") } else { self.paths.proc("net/arp") };
        let counts = parse(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        let fam = out.family("node_arp_entries", "ARP entries by device", Kind::Gauge);
        for (dev, n) in counts.iter().filter(|(d, _)| self.filter.accepts(d)) {
            fam.add(&[("device", dev)], *n as f64);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Arp {
        paths: cx.paths.clone(),
        filter: Filter::exclusive("arp", "device", o.arp_device_include.as_deref(), o.arp_device_exclude.as_deref())?,
        live: o.arp_netlink,
    })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_per_device_and_refuses_short_lines() {
        let v = super::parse("IP address HW type Flags HW address Mask Device\n10.0.0.1 0x1 0x2 aa:bb * eth0\n10.0.0.2 0x1 0x2 aa:cc * eth0\n10.0.0.3 0x1 0x2 aa:dd * wlan0\n").unwrap();
        assert_eq!(v.get("eth0"), Some(&2));
        assert_eq!(v.get("wlan0"), Some(&1));
        assert!(super::parse("h\n10.0.0.1 0x1\n").is_err());
    }
}
