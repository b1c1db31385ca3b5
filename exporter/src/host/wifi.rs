//! The `wifi` collector: each wireless interface's frequency, the BSS it
//! is associated with and its stations' signal, bitrates and counters.
//! node_exporter asks the kernel over nl80211 (generic netlink); this
//! exporter does not speak nl80211 yet, so it reads only node_exporter's
//! test fixtures (`--collector.wifi.fixtures=DIR`: `interfaces.json`,
//! `<iface>/bss.json`, `<iface>/stationinfo.json`); without them it is
//! not built, and the start-up log and the landing page say why.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, Scrape};
use crate::host::gojson::{array, mac, Fields};
use crate::metrics::{Kind, Snapshot};

/// Flags of the `wifi` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// test fixtures to use for wifi collector metrics
    #[arg(long = "collector.wifi.fixtures", default_value = "")]
    pub wifi_fixtures: String,
}

/// A wireless interface (Go's `wifi.Interface`, the fields used).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Interface {
    /// Name; virtual devices have none and are skipped.
    pub name: String,
    /// Frequency in MHz.
    pub frequency_mhz: i64,
}

/// The BSS an interface is in (Go's `wifi.BSS`, the fields used).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Bss {
    /// Network name.
    pub ssid: String,
    /// The access point's hardware address, printed.
    pub bssid: String,
    /// Go's `wifi.BSSStatus`.
    pub status: i64,
}

impl Bss {
    /// The `mode` label: what the interface is to the BSS.
    pub fn mode(&self) -> &'static str {
        // Authenticated (0) or associated (1): a client; IBSS joined (3): ad hoc.
        match self.status {
            0 | 1 => "client",
            3 => "ad-hoc",
            _ => "unknown",
        }
    }
}

/// A station (Go's `wifi.StationInfo`, the fields used).
#[derive(Debug, Default, PartialEq)]
pub struct Station {
    /// Hardware address, printed.
    pub address: String,
    /// Time connected, seconds.
    pub connected: f64,
    /// Time since last activity, seconds.
    pub inactive: f64,
    /// `ReceivedBytes`, `TransmittedBytes`, `ReceivedPackets`,
    /// `TransmittedPackets`, `ReceiveBitrate`, `TransmitBitrate`, `Signal`,
    /// `TransmitRetries`, `TransmitFailed`, `BeaconLoss`.
    pub counts: [i64; 10],
}

/// The integer fields of [`Station::counts`], in order.
const STATION_INTS: [&str; 10] =
    ["ReceivedBytes", "TransmittedBytes", "ReceivedPackets", "TransmittedPackets", "ReceiveBitrate", "TransmitBitrate", "Signal", "TransmitRetries", "TransmitFailed", "BeaconLoss"];

/// A Go `time.Duration` (nanoseconds) in seconds, computed as Go does.
fn seconds(ns: i64) -> f64 {
    (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1e9
}

fn json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))
}

/// Parses `interfaces.json`.
pub fn parse_interfaces(text: &str) -> Result<Vec<Interface>, String> {
    let v = json(text)?;
    array(&v, "interfaces")?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let f = Fields::of(item, &format!("element {i}"))?;
            let at = |e: String| format!("element {i}: {e}");
            Ok(Interface { name: f.string("Name").map_err(at)?, frequency_mhz: f.int("Frequency").map_err(at)? })
        })
        .collect()
}

/// Parses a `bss.json`.
pub fn parse_bss(text: &str) -> Result<Bss, String> {
    let v = json(text)?;
    let f = Fields::of(&v, "bss")?;
    Ok(Bss { ssid: f.string("SSID")?, bssid: mac(&f.bytes("BSSID")?), status: f.int("Status")? })
}

/// Parses a `stationinfo.json`.
pub fn parse_stations(text: &str) -> Result<Vec<Station>, String> {
    let v = json(text)?;
    array(&v, "stations")?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let f = Fields::of(item, &format!("element {i}"))?;
            let at = |e: String| format!("element {i}: {e}");
            let mut counts = [0i64; 10];
            for (slot, name) in counts.iter_mut().zip(STATION_INTS) {
                *slot = f.int(name).map_err(at)?;
            }
            Ok(Station {
                address: mac(&f.bytes("HardwareAddr").map_err(at)?),
                connected: seconds(f.int("Connected").map_err(at)?),
                inactive: seconds(f.int("Inactive").map_err(at)?),
                counts,
            })
        })
        .collect()
}

/// Reads a fixture file: `None` when it does not exist (no such
/// information for this interface), parsed with `parse` otherwise.
fn fixture<T>(path: &Path, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, Error> {
    match read_to_string(path) {
        Ok(text) => parse(&text).map(Some).map_err(|d| Error::parse(path, d)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// (metric, help, kind, value) of each station series.
type StationMetric = (&'static str, &'static str, Kind, fn(&Station) -> f64);

const STATION_METRICS: [StationMetric; 12] = [
    ("node_wifi_station_connected_seconds_total", "The total number of seconds a station has been connected to an access point.", Kind::Counter, |s| s.connected),
    ("node_wifi_station_inactive_seconds", "The number of seconds since any wireless activity has occurred on a station.", Kind::Gauge, |s| s.inactive),
    ("node_wifi_station_receive_bits_per_second", "The current WiFi receive bitrate of a station, in bits per second.", Kind::Gauge, |s| s.counts[4] as f64),
    ("node_wifi_station_transmit_bits_per_second", "The current WiFi transmit bitrate of a station, in bits per second.", Kind::Gauge, |s| s.counts[5] as f64),
    ("node_wifi_station_receive_bytes_total", "The total number of bytes received by a WiFi station.", Kind::Counter, |s| s.counts[0] as f64),
    ("node_wifi_station_transmit_bytes_total", "The total number of bytes transmitted by a WiFi station.", Kind::Counter, |s| s.counts[1] as f64),
    ("node_wifi_station_signal_dbm", "The current WiFi signal strength, in decibel-milliwatts (dBm).", Kind::Gauge, |s| s.counts[6] as f64),
    ("node_wifi_station_transmit_retries_total", "The total number of times a station has had to retry while sending a packet.", Kind::Counter, |s| s.counts[7] as f64),
    ("node_wifi_station_transmit_failed_total", "The total number of times a station has failed to send a packet.", Kind::Counter, |s| s.counts[8] as f64),
    ("node_wifi_station_beacon_loss_total", "The total number of times a station has detected a beacon loss.", Kind::Counter, |s| s.counts[9] as f64),
    ("node_wifi_station_transmitted_packets_total", "The total number of packets transmitted by a station.", Kind::Counter, |s| s.counts[3] as f64),
    ("node_wifi_station_received_packets_total", "The total number of packets received by a station.", Kind::Counter, |s| s.counts[2] as f64),
];

struct Wifi {
    fixtures: PathBuf,
}

impl HostCollector for Wifi {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let dir = &self.fixtures;
        let path = dir.join("interfaces.json");
        let interfaces = parse_interfaces(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        for ifi in interfaces.iter().filter(|i| !i.name.is_empty()) {
            let device = ifi.name.as_str();
            out.gauge("node_wifi_interface_frequency_hertz", "The current frequency a WiFi interface is operating at, in hertz.", &[("device", device)], ifi.frequency_mhz as f64 * 1000.0 * 1000.0);
            let own = dir.join(device);
            if let Some(bss) = fixture(&own.join("bss.json"), parse_bss)? {
                out.gauge(
                    "node_wifi_station_info",
                    "Labeled WiFi interface station information as provided by the operating system.",
                    &[("device", device), ("bssid", &bss.bssid), ("ssid", &bss.ssid), ("mode", bss.mode())],
                    1.0,
                );
            }
            for station in fixture(&own.join("stationinfo.json"), parse_stations)?.unwrap_or_default() {
                for (name, help, kind, value) in STATION_METRICS {
                    out.family(name, help, kind).add(&[("device", device), ("mac_address", &station.address)], value(&station));
                }
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, _: &Context) -> Result<Option<Collector>, BuildError> {
    // Without fixtures there is nothing this exporter can read (the
    // registry's entry says why, once, at start and on the landing page).
    if o.wifi_fixtures.is_empty() {
        return Ok(None);
    }
    Ok(Some(Collector::host(Wifi { fixtures: PathBuf::from(&o.wifi_fixtures) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_node_exporters_fixtures() {
        let ifs = parse_interfaces(r#"[{"name":"wlan0","type":2,"frequency":2412},{"name":"wlan1","type":3,"frequency":2412},{"type":10}]"#).unwrap();
        assert_eq!(ifs.len(), 3);
        assert_eq!(ifs[0], Interface { name: "wlan0".into(), frequency_mhz: 2412 });
        assert_eq!(ifs[2].name, "");
        let bss = parse_bss(r#"{"ssid":"Example","bssid":"ABEiM0RV","status":1}"#).unwrap();
        assert_eq!(bss, Bss { ssid: "Example".into(), bssid: "00:11:22:33:44:55".into(), status: 1 });
        assert_eq!(bss.mode(), "client");
        assert_eq!(Bss { status: 3, ..Bss::default() }.mode(), "ad-hoc");
        assert_eq!(Bss { status: 2, ..Bss::default() }.mode(), "unknown");
        let st = parse_stations(
            r#"[{"hardwareaddr":"qrvM3e7/","connected":30000000000,"inactive":400000000,"receivebitrate":128000000,"transmitbitrate":164000000,"signal":-52,"transmitretries":10,"transmitfailed":2,"beaconloss":1}]"#,
        )
        .unwrap();
        assert_eq!(st[0].address, "aa:bb:cc:dd:ee:ff");
        assert_eq!((st[0].connected, st[0].inactive), (30.0, 0.4));
        assert_eq!(st[0].counts, [0, 0, 0, 0, 128_000_000, 164_000_000, -52, 10, 2, 1]);
    }

    #[test]
    fn refuses_malformed_fixtures() {
        assert!(parse_interfaces("").is_err());
        assert!(parse_interfaces("{}").unwrap_err().contains("array"));
        assert!(parse_interfaces(r#"[{"name":5}]"#).unwrap_err().contains("element 0"));
        assert!(parse_bss(r#"{"bssid":"not base64!"}"#).unwrap_err().contains("BSSID"));
        assert!(parse_bss("[]").is_err());
        assert!(parse_stations(r#"[{"signal":1.5}]"#).unwrap_err().contains("Signal"));
        assert!(parse_stations(r#"[{"connected":99999999999999999999}]"#).is_err());
    }

    #[test]
    fn durations_are_seconds_as_go_computes_them() {
        assert_eq!(seconds(800_000_000), 0.8);
        assert_eq!(seconds(60_000_000_000), 60.0);
        assert_eq!(seconds(-1_500_000_000), -1.5);
    }

    #[test]
    fn missing_per_interface_files_are_skipped_and_without_fixtures_it_is_not_built() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("interfaces.json"), r#"[{"name":"wlan1","frequency":5180}]"#).unwrap();
        let o = Options { wifi_fixtures: dir.path().display().to_string() };
        let paths = std::sync::Arc::new(crate::collector::HostPaths::default());
        let Some(Collector::Host(c)) = build(&o, &Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        let mut out = Snapshot::new();
        c.gather(&Scrape { deadline: std::time::Instant::now() }, &mut out).unwrap();
        assert_eq!(out.sample_count(), 1);
        assert_eq!(out.families[0].samples[0].value, 5.18e9);
        std::fs::create_dir(dir.path().join("wlan1")).unwrap();
        std::fs::write(dir.path().join("wlan1/bss.json"), "{").unwrap();
        assert!(c.gather(&Scrape { deadline: std::time::Instant::now() }, &mut Snapshot::new()).unwrap_err().to_string().contains("bss.json"));

        // On a live host (no fixtures) it is not built: nl80211 is not implemented.
        assert!(build(&Options::default(), &Context::new(&paths)).unwrap().is_none());
    }
}
