//! The `netclass` collector: interface properties from `/sys/class/net`
//! (link state, speed, MTU, carrier changes) and `node_network_info`.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use regex_lite::Regex;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{attr_opt, list_dir};
use crate::metrics::{Kind, Snapshot};

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

/// Metric name and help of each [`NUMERIC`] attribute, made once for the
/// process so that a scrape borrows them.
static NUMERIC_NAMES: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    NUMERIC.iter().map(|(_, m, _)| (format!("node_network_{m}"), format!("Network device property: {m}"))).collect()
});

/// An attribute of the interface directory `dir` (a path ending in the
/// interface's name, reused from one attribute to the next), passed to `f`.
fn attr<R>(dir: &mut PathBuf, name: &str, f: impl FnOnce(&str) -> Option<R>) -> Option<R> {
    dir.push(name);
    let r = attr_opt(dir, f);
    dir.pop();
    r
}

fn owned(s: &str) -> Option<String> {
    Some(s.to_owned())
}

impl HostCollector for Netclass {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("class/net");
        for name in list_dir(&base)? {
            let mut dir = base.join(&name);
            if !dir.is_dir() || self.ignored.is_match(&name) {
                continue;
            }
            let operstate = attr(&mut dir, "operstate", owned).unwrap_or_default();
            out.gauge("node_network_up", "Value is 1 if operstate is 'up', 0 otherwise.", &[("device", &name)], if operstate == "up" { 1.0 } else { 0.0 });
            let flags = attr(&mut dir, "flags", parse_int);
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
                    ("address", &attr(&mut dir, "address", owned).unwrap_or_default()),
                    ("broadcast", &attr(&mut dir, "broadcast", owned).unwrap_or_default()),
                    ("duplex", &attr(&mut dir, "duplex", owned).unwrap_or_default()),
                    ("operstate", &operstate),
                    ("adminstate", adminstate),
                    ("ifalias", &attr(&mut dir, "ifalias", owned).unwrap_or_default()),
                ],
                1.0,
            );
            for ((file, _, counter), (metric, help)) in NUMERIC.iter().zip(NUMERIC_NAMES.iter()) {
                // Attributes a driver does not support read as an error; skip them.
                let Some(v) = attr(&mut dir, file, parse_int) else { continue };
                let kind = if *counter { Kind::Counter } else { Kind::Gauge };
                out.family(metric.as_str(), help.as_str(), kind).add(&[("device", &name)], v as f64);
            }
            if let Some(speed) = attr(&mut dir, "speed", parse_int) {
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
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let ignored = Regex::new(&o.netclass_ignored_devices)
        .map_err(|e| BuildError { collector: "netclass", detail: format!("--collector.netclass.ignored-devices {:?}: {e}", o.netclass_ignored_devices) })?;
    Ok(Some(Collector::host(Netclass { paths: cx.paths.clone(), ignored, ignore_invalid_speed: o.netclass_ignore_invalid_speed })))
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
