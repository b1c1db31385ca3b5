//! The `netclass` collector: interface properties from `/sys/class/net`
//! (link state, speed, MTU, carrier changes) and `node_network_info`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

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
    /// What cannot change while an interface exists, per name: read again
    /// when the name's `ifindex` changes (the interface was recreated).
    /// Each sysfs attribute costs an open, a read and a close (some 8 µs
    /// here); these are a quarter of netclass's reads.
    fixed: Mutex<HashMap<String, Fixed>>,
}

/// The [`NUMERIC`] attributes fixed for an interface's lifetime: set when
/// it is created, by its driver or its kind.
const FIXED: [&str; 5] = ["addr_assign_type", "dev_id", "iflink", "name_assign_type", "type"];

/// An interface's fixed attributes, as last read.
#[derive(Debug, Default)]
struct Fixed {
    /// Whether the name is an interface directory (`bonding_masters` is a file).
    is_interface: bool,
    ifindex: Option<i64>,
    /// The value of each [`FIXED`] attribute, in that order.
    numeric: [Option<i64>; FIXED.len()],
    broadcast: String,
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

impl Netclass {
    /// Reads the fixed attributes of the interface directory `dir`.
    fn read_fixed(dir: &mut PathBuf, ifindex: Option<i64>) -> Fixed {
        Fixed {
            is_interface: true,
            ifindex,
            numeric: FIXED.map(|file| attr(dir, file, parse_int)),
            broadcast: attr(dir, "broadcast", owned).unwrap_or_default(),
        }
    }
}

impl HostCollector for Netclass {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("class/net");
        let names = list_dir(&base)?;
        let mut known = self.fixed.lock().map(|mut k| std::mem::take(&mut *k)).unwrap_or_default();
        known.retain(|name, _| names.contains(name));
        for name in names {
            if self.ignored.is_match(&name) {
                continue;
            }
            let mut dir = base.join(&name);
            let is_interface = match known.get(&name) {
                Some(f) => f.is_interface,
                None => dir.is_dir(),
            };
            if !is_interface {
                known.entry(name).or_default();
                continue;
            }
            let ifindex = attr(&mut dir, "ifindex", parse_int);
            // Read again when the interface is new or was recreated (its
            // ifindex changed); otherwise borrowed, with no copy.
            if known.get(&name).is_none_or(|f| ifindex.is_none() || f.ifindex != ifindex) {
                known.insert(name.clone(), Self::read_fixed(&mut dir, ifindex));
            }
            let Some(fixed) = known.get(&name) else { continue };
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
                    ("broadcast", &fixed.broadcast),
                    ("duplex", &attr(&mut dir, "duplex", owned).unwrap_or_default()),
                    ("operstate", &operstate),
                    ("adminstate", adminstate),
                    ("ifalias", &attr(&mut dir, "ifalias", owned).unwrap_or_default()),
                ],
                1.0,
            );
            for ((file, _, counter), (metric, help)) in NUMERIC.iter().zip(NUMERIC_NAMES.iter()) {
                let value = match (*file, FIXED.iter().position(|f| f == file)) {
                    ("ifindex", _) => ifindex,
                    ("flags", _) => flags,
                    (_, Some(i)) => fixed.numeric.get(i).copied().flatten(),
                    (file, None) => attr(&mut dir, file, parse_int),
                };
                // Attributes a driver does not support read as an error; skip them.
                let Some(v) = value else { continue };
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
        if let Ok(mut k) = self.fixed.lock() {
            *k = known;
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let ignored = Regex::new(&o.netclass_ignored_devices)
        .map_err(|e| BuildError { collector: "netclass", detail: format!("--collector.netclass.ignored-devices {:?}: {e}", o.netclass_ignored_devices) })?;
    Ok(Some(Collector::host(Netclass {
        paths: cx.paths.clone(),
        ignored,
        ignore_invalid_speed: o.netclass_ignore_invalid_speed,
        fixed: Mutex::default(),
    })))
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

    use super::*;

    fn interface(sys: &std::path::Path, name: &str, ifindex: u32, kind: u32) {
        let dir = sys.join("class/net").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, value) in [("ifindex", ifindex.to_string()), ("type", kind.to_string()), ("operstate", "up".into()), ("flags", "0x1003".into()), ("mtu", "1500".into())] {
            std::fs::write(dir.join(file), format!("{value}\n")).unwrap();
        }
    }

    fn value(out: &Snapshot, metric: &str, device: &str) -> Option<f64> {
        let family = out.families.iter().find(|f| f.name == metric)?;
        family.samples.iter().find(|s| s.labels.iter().any(|(k, v)| *k == "device" && v == device)).map(|s| s.value)
    }

    #[test]
    fn fixed_attributes_are_read_again_when_the_interface_is_recreated() {
        let dir = tempfile::tempdir().unwrap();
        interface(dir.path(), "eth0", 2, 1);
        std::fs::write(dir.path().join("class/net/bonding_masters"), "\n").unwrap();
        let paths = Arc::new(HostPaths { sysfs: dir.path().to_owned(), ..HostPaths::default() });
        let Some(Collector::Host(c)) = build(&Options::default(), &Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        let scrape = |c: &Arc<dyn HostCollector>| {
            let mut out = Snapshot::new();
            c.gather(&Scrape { deadline: std::time::Instant::now() + std::time::Duration::from_secs(5) }, &mut out).unwrap();
            out
        };
        let out = scrape(&c);
        assert_eq!(value(&out, "node_network_protocol_type", "eth0"), Some(1.0));
        assert_eq!(value(&out, "node_network_iface_id", "eth0"), Some(2.0));
        assert_eq!(value(&out, "node_network_flags", "eth0"), Some(4099.0));
        assert!(value(&out, "node_network_up", "bonding_masters").is_none());
        // The same interface: its type is not read again (it cannot change
        // while the interface exists); the MTU is.
        std::fs::write(dir.path().join("class/net/eth0/type"), "772\n").unwrap();
        std::fs::write(dir.path().join("class/net/eth0/mtu"), "9000\n").unwrap();
        let out = scrape(&c);
        assert_eq!(value(&out, "node_network_protocol_type", "eth0"), Some(1.0));
        assert_eq!(value(&out, "node_network_mtu_bytes", "eth0"), Some(9000.0));
        // Recreated under the same name: a new ifindex, read afresh.
        interface(dir.path(), "eth0", 7, 772);
        let out = scrape(&c);
        assert_eq!(value(&out, "node_network_protocol_type", "eth0"), Some(772.0));
        assert_eq!(value(&out, "node_network_iface_id", "eth0"), Some(7.0));
        // Gone: no series.
        std::fs::remove_dir_all(dir.path().join("class/net/eth0")).unwrap();
        assert!(value(&scrape(&c), "node_network_up", "eth0").is_none());
    }
}
