//! The `drbd` collector: DRBD 8 device statistics from `/proc/drbd` as
//! `node_drbd_*`. The file is read as words: `N:` starts device `drbdN`,
//! and each `key:value` after it is one of the device's values.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// The numeric keys: (key, metric name, help, kind, multiplier). Sizes the
/// kernel gives in KiB are reported in bytes; `nr` is reported as written,
/// as node_exporter does.
const NUMERIC: [(&str, &str, &str, Kind, f64); 12] = [
    ("ns", "node_drbd_network_sent_bytes_total", "Total number of bytes sent via the network.", Kind::Counter, 1024.0),
    ("nr", "node_drbd_network_received_bytes_total", "Total number of bytes received via the network.", Kind::Counter, 1.0),
    ("dw", "node_drbd_disk_written_bytes_total", "Net data written on local hard disk; in bytes.", Kind::Counter, 1024.0),
    ("dr", "node_drbd_disk_read_bytes_total", "Net data read from local hard disk; in bytes.", Kind::Counter, 1024.0),
    ("al", "node_drbd_activitylog_writes_total", "Number of updates of the activity log area of the meta data.", Kind::Counter, 1.0),
    ("bm", "node_drbd_bitmap_writes_total", "Number of updates of the bitmap area of the meta data.", Kind::Counter, 1.0),
    ("lo", "node_drbd_local_pending", "Number of open requests to the local I/O sub-system.", Kind::Gauge, 1.0),
    (
        "pe",
        "node_drbd_remote_pending",
        "Number of requests sent to the peer, but that have not yet been answered by the latter.",
        Kind::Gauge,
        1.0,
    ),
    (
        "ua",
        "node_drbd_remote_unacknowledged",
        "Number of requests received by the peer via the network connection, but that have not yet been answered.",
        Kind::Gauge,
        1.0,
    ),
    (
        "ap",
        "node_drbd_application_pending",
        "Number of block I/O requests forwarded to DRBD, but not yet answered by DRBD.",
        Kind::Gauge,
        1.0,
    ),
    ("ep", "node_drbd_epochs", "Number of Epochs currently on the fly.", Kind::Gauge, 1.0),
    ("oos", "node_drbd_out_of_sync_bytes", "Amount of data known to be out of sync; in bytes.", Kind::Gauge, 1024.0),
];

/// The `local/remote` keys: (key, metric name, help, the value that counts as 1).
const PAIRS: [(&str, &str, &str, &str); 2] = [
    ("ro", "node_drbd_node_role_is_primary", "Whether the role of the node is in the primary state.", "Primary"),
    ("ds", "node_drbd_disk_state_is_up_to_date", "Whether the disk of the node is up to date.", "UpToDate"),
];

/// One value of one device.
#[derive(Debug, PartialEq)]
pub enum Value {
    /// A number, already multiplied: index into [`NUMERIC`].
    Numeric(usize, f64),
    /// Whether the local and the remote side are in the good state: index into [`PAIRS`].
    Pair(usize, bool, bool),
    /// `cs:`, whether the connection state is `Connected`.
    Connected(bool),
}

/// Parses `/proc/drbd` into (device, value) pairs, in file order. Words
/// that are not `key:value`, and keys not reported, are skipped; a device
/// value before the first `N:` belongs to device `unknown`.
pub fn parse(text: &str) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    let mut device = "unknown".to_owned();
    for word in text.split_ascii_whitespace() {
        let mut parts = word.split(':');
        let (Some(key), Some(value), None) = (parts.next(), parts.next(), parts.next()) else { continue };
        if value.is_empty() {
            if let Ok(id) = key.parse::<u64>() {
                device = format!("drbd{id}");
                continue;
            }
        }
        if let Some(i) = NUMERIC.iter().position(|m| m.0 == key) {
            let v: f64 = value.parse().map_err(|_| format!("{device}: {key}:{value} is not a number"))?;
            let multiplier = NUMERIC.get(i).map_or(1.0, |m| m.4);
            out.push((device.clone(), Value::Numeric(i, v * multiplier)));
        } else if let Some(i) = PAIRS.iter().position(|m| m.0 == key) {
            let good = PAIRS.get(i).map_or("", |m| m.3);
            let Some((local, remote)) = value.split_once('/') else {
                return Err(format!("{device}: {key}:{value} is not local/remote"));
            };
            let remote = remote.split('/').next().unwrap_or_default();
            out.push((device.clone(), Value::Pair(i, local == good, remote == good)));
        } else if key == "cs" {
            out.push((device.clone(), Value::Connected(value == "Connected")));
        }
    }
    Ok(out)
}

struct Drbd(Arc<HostPaths>);

impl HostCollector for Drbd {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("drbd");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /proc/drbd: the drbd module is not loaded".into())),
            Err(e) => return Err(e),
        };
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        for (device, value) in parse(&text).map_err(|d| Error::parse(&path, d))? {
            match value {
                Value::Numeric(i, v) => {
                    if let Some((_, name, help, kind, _)) = NUMERIC.get(i) {
                        out.family(*name, *help, *kind).add(&[("device", &device)], v);
                    }
                }
                Value::Pair(i, local, remote) => {
                    if let Some((_, name, help, _)) = PAIRS.get(i) {
                        out.family(*name, *help, Kind::Gauge)
                            .add(&[("device", &device), ("node", "local")], flag(local))
                            .add(&[("device", &device), ("node", "remote")], flag(remote));
                    }
                }
                Value::Connected(c) => out.gauge("node_drbd_connected", "Whether DRBD is connected to the peer.", &[("device", &device)], flag(c)),
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Drbd(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "version: 8.4.3 (api:1/proto:86-101)\nsrcversion: 1A9F77B1CA5FF92235C2213 \n\n \
        1: cs:Connected ro:Primary/Primary ds:UpToDate/UpToDate C r-----\n    \
        ns:17324442 nr:10961011 dw:28263521 dr:118696670 al:1100 bm:221 lo:12345 pe:12346 ua:12347 ap:12348 ep:1 wo:d oos:12349\n";

    #[test]
    fn parses_the_fixture() {
        let v = parse(FIXTURE).unwrap();
        assert_eq!(v.len(), 15);
        assert_eq!(v[0], ("drbd1".into(), Value::Connected(true)));
        assert_eq!(v[1], ("drbd1".into(), Value::Pair(0, true, true)));
        assert_eq!(v[3], ("drbd1".into(), Value::Numeric(0, 17324442.0 * 1024.0)));
        assert_eq!(v[4], ("drbd1".into(), Value::Numeric(1, 10961011.0)));
        let v = parse(" 0: cs:StandAlone ro:Secondary/Unknown ds:Diskless/DUnknown\n").unwrap();
        assert_eq!(v[0], ("drbd0".into(), Value::Connected(false)));
        assert_eq!(v[1], ("drbd0".into(), Value::Pair(0, false, false)));
    }

    #[test]
    fn refuses_malformed_values() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("1: ns:lots\n").unwrap_err().contains("drbd1"));
        assert!(parse("1: ro:Primary\n").is_err());
        assert_eq!(parse("garbage words: here\n").unwrap(), vec![]);
    }
}
