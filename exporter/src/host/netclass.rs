//! The `netclass` collector: interface properties from `/sys/class/net`
//! (link state, speed, MTU, carrier changes) and `node_network_info`.

use std::path::Path;
use std::sync::Arc;

use regex_lite::Regex;

use crate::cli::Settings;
use crate::collector::{Collector, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr};
use crate::metrics::{Kind, Snapshot};
use crate::registry::BuildError;

/// Flags of the `netclass` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of net devices to ignore for netclass collector.
    #[arg(long = "collector.netclass.ignored-devices", default_value = "^$")]
    pub netclass_ignored_devices: String,
    /// Ignore devices where the speed is invalid. This will be the default behavior in 2.x.
    #[arg(long = "collector.netclass.ignore-invalid-speed", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub netclass_ignore_invalid_speed: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { netclass_ignored_devices: "^$".into(), netclass_ignore_invalid_speed: false }
    }
}

/// (sysfs attribute, metric name without `node_network_`, counter?).
const NUMERIC: &[(&str, &str, bool)] = &[
    ("addr_assign_type", "address_assign_type", false),
    ("carrier", "carrier", false),
    ("carrier_changes", "carrier_changes_total", true),
    ("carrier_up_count", "carrier_up_changes_total", true),
    ("carrier_down_count", "carrier_down_changes_total", true),
    ("dev_id", "device_id", false),
    ("dormant", "dormant", false),
    ("flags", "flags", false),
    ("ifindex", "iface_id", false),
    ("iflink", "iface_link", false),
    ("link_mode", "iface_link_mode", false),
    ("mtu", "mtu_bytes", false),
    ("name_assign_type", "name_assign_type", false),
    ("netdev_group", "net_dev_group", false),
    ("type", "protocol_type", false),
    ("tx_queue_len", "transmit_queue_length", false),
];

/// Parses a sysfs integer, decimal or `0x` hexadecimal.
pub fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// `IFF_UP`: the interface is administratively up.
const IFF_UP: i64 = 0x1;

struct Netclass {
    paths: Arc<HostPaths>,
    ignored: Regex,
    ignore_invalid_speed: bool,
}

fn attr(dir: &Path, name: &str) -> Option<String> {
    read_attr(&dir.join(name)).ok()
}

impl HostCollector for Netclass {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("class/net");
        for name in list_dir(&base)? {
            let dir = base.join(&name);
            if !dir.is_dir() || self.ignored.is_match(&name) {
                continue;
            }
            let operstate = attr(&dir, "operstate").unwrap_or_default();
            out.gauge("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", &[("device", &name)], if operstate == "up" { 1.0 } else { 0.0 });
            let flags = attr(&dir, "flags").and_then(|f| parse_int(&f));
            let adminstate = match flags {
                Some(f) if f & IFF_UP != 0 => "up",
                Some(_) => "down",
                None => "",
            };
            out.gauge(
                "node_network_info",
                "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
                &[
                    ("device", &name),
                    ("address", &attr(&dir, "address").unwrap_or_default()),
                    ("broadcast", &attr(&dir, "broadcast").unwrap_or_default()),
                    ("duplex", &attr(&dir, "duplex").unwrap_or_default()),
                    ("operstate", &operstate),
                    ("adminstate", adminstate),
                    ("ifalias", &attr(&dir, "ifalias").unwrap_or_default()),
                ],
                1.0,
            );
            for (file, metric, counter) in NUMERIC {
                // Attributes a driver does not support read as an error; skip them.
                let Some(v) = attr(&dir, file).and_then(|s| parse_int(&s)) else { continue };
                let kind = if *counter { Kind::Counter } else { Kind::Gauge };
                out.family(format!("node_network_{metric}"), format!("Network device property: {metric}"), kind).add(&[("device", &name)], v as f64);
            }
            if let Some(speed) = attr(&dir, "speed").and_then(|s| parse_int(&s)) {
                if speed >= 0 || !self.ignore_invalid_speed {
                    // Mbit/s to bytes per second.
                    out.gauge("node_network_speed_bytes", "Network device property: speed_bytes", &[("device", &name)], speed as f64 * 1000.0 * 1000.0 / 8.0);
                }
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(settings: &Settings) -> Result<Option<Collector>, BuildError> {
    let o = &settings.flags.netclass;
    let ignored = Regex::new(&o.netclass_ignored_devices)
        .map_err(|e| BuildError { collector: "netclass", detail: format!("--collector.netclass.ignored-devices {:?}: {e}", o.netclass_ignored_devices) })?;
    Ok(Some(Collector::host(Netclass { paths: settings.paths.clone(), ignored, ignore_invalid_speed: o.netclass_ignore_invalid_speed })))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_decimal_and_hex() {
        assert_eq!(super::parse_int("0x1303\n"), Some(4867));
        assert_eq!(super::parse_int("-1"), Some(-1));
        assert_eq!(super::parse_int("0xZZ"), None);
        assert_eq!(super::parse_int(""), None);
    }
}
