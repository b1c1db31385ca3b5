//! The `fibrechannel` collector: Fibre Channel host adapters from
//! `/sys/class/fc_host/<host>`: port identity and state as
//! `node_fibrechannel_info`, and the counters of `statistics/`.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::parse_go_uint as parse_uint;
use crate::host::util::list_dir;
use crate::metrics::Snapshot;

/// Attributes that become labels of `node_fibrechannel_info`, in label
/// order after `fc_host`, and whether the kernel prints them with a `0x`
/// prefix that node_exporter drops.
const INFO: &[(&str, bool)] = &[
    ("speed", false),
    ("port_state", false),
    ("port_type", false),
    ("port_id", true),
    ("port_name", true),
    ("fabric_name", true),
    ("symbolic_name", false),
    ("supported_classes", false),
    ("supported_speeds", false),
    ("dev_loss_tmo", false),
];

/// (file under `statistics/`, metric name, help).
const COUNTERS: &[(&str, &str, &str)] = &[
    ("dumped_frames", "node_fibrechannel_dumped_frames_total", "Number of dumped frames"),
    ("error_frames", "node_fibrechannel_error_frames_total", "Number of errors in frames"),
    ("invalid_crc_count", "node_fibrechannel_invalid_crc_total", "Invalid Cyclic Redundancy Check count"),
    ("rx_frames", "node_fibrechannel_rx_frames_total", "Number of frames received"),
    ("rx_words", "node_fibrechannel_rx_words_total", "Number of words received by host port"),
    ("tx_frames", "node_fibrechannel_tx_frames_total", "Number of frames transmitted by host port"),
    ("tx_words", "node_fibrechannel_tx_words_total", "Number of words transmitted by host port"),
    ("seconds_since_last_reset", "node_fibrechannel_seconds_since_last_reset_total", "Number of seconds since last host port reset"),
    ("invalid_tx_word_count", "node_fibrechannel_invalid_tx_words_total", "Number of invalid words transmitted by host port"),
    ("link_failure_count", "node_fibrechannel_link_failure_total", "Number of times the host port link has failed"),
    ("loss_of_sync_count", "node_fibrechannel_loss_of_sync_total", "Number of failures on either bit or transmission word boundaries"),
    ("loss_of_signal_count", "node_fibrechannel_loss_of_signal_total", "Number of times signal has been lost"),
    ("nos_count", "node_fibrechannel_nos_total", "Number Not_Operational Primitive Sequence received by host port"),
    ("fcp_packet_aborts", "node_fibrechannel_fcp_packet_aborts_total", "Number of aborted packets"),
];

/// What an adapter's firmware reports for a counter it does not implement.
const UNIMPLEMENTED: u64 = u64::MAX;

/// A WWN or port id without the kernel's `0x` (node_exporter drops the
/// first two characters of any value longer than two).
pub fn strip_hex_prefix(value: &str) -> &str {
    if value.len() > 2 {
        value.get(2..).unwrap_or(value)
    } else {
        value
    }
}

/// A counter file's value; `None` for the firmware's "not implemented".
pub fn parse_counter(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    match parse_uint(text) {
        Some(UNIMPLEMENTED) => Ok(None),
        Some(v) => Ok(Some(v)),
        None => Err(format!("not an unsigned integer: {text:?}")),
    }
}

/// An attribute the driver may not expose: `None` then.
fn optional(path: &Path) -> Result<Option<String>, Error> {
    match read_to_string(path) {
        Ok(t) => Ok(Some(t.trim().to_owned())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads one statistics counter; write-only or vanished files are skipped.
fn counter(path: &Path) -> Result<Option<u64>, Error> {
    match read_to_string(path) {
        Ok(text) => parse_counter(&text).map_err(|d| Error::parse(path, d)),
        Err(Error::Io { source, .. })
            if matches!(source.kind(), io::ErrorKind::NotFound | io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) || source.raw_os_error() == Some(95) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

struct FibreChannel(Arc<HostPaths>);

impl HostCollector for FibreChannel {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.0.sys("class/fc_host");
        let hosts = match list_dir(&base) {
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /sys/class/fc_host: no Fibre Channel adapter".into())),
            other => other?,
        };
        for host in &hosts {
            let dir = base.join(host);
            let mut labels = vec![("fc_host".into(), host.clone())];
            let mut online = false;
            for (attr, hex) in INFO {
                let value = optional(&dir.join(attr))?;
                if *attr == "port_state" {
                    // An adapter whose state is unknown reports every counter as 0.
                    online = value.as_deref().is_some_and(|s| s != "Unknown");
                }
                let value = value.map(|v| if *hex { strip_hex_prefix(&v).to_owned() } else { v }).unwrap_or_default();
                labels.push(((*attr).into(), value));
            }
            out.family("node_fibrechannel_info", "Non-numeric data from /sys/class/fc_host/<host>, value is always 1.", crate::metrics::Kind::Gauge).add_owned(labels, 1.0);
            let stats = dir.join("statistics");
            for (file, name, help) in COUNTERS {
                let value = if online { counter(&stats.join(file))? } else { Some(0) };
                if let Some(v) = value {
                    out.counter(*name, *help, &[("fc_host", host)], v as f64);
                }
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(FibreChannel(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_hex_prefix_of_long_values_only() {
        assert_eq!(strip_hex_prefix("0x1000e0071bce95f2"), "1000e0071bce95f2");
        assert_eq!(strip_hex_prefix("0x0"), "0");
        assert_eq!(strip_hex_prefix("0x"), "0x");
        assert_eq!(strip_hex_prefix(""), "");
    }

    #[test]
    fn counters_are_hex_and_all_ones_means_unimplemented() {
        assert_eq!(parse_counter("0x13\n").unwrap(), Some(19));
        assert_eq!(parse_counter("0xffffffffffffffff").unwrap(), None);
        assert_eq!(parse_counter("12").unwrap(), Some(12));
        assert!(parse_counter("0x1ffffffffffffffff").is_err());
        assert!(parse_counter("").is_err());
        assert!(parse_counter("zz").is_err());
    }

    use crate::host::util::write_tree_file as write;

    fn gather(root: &Path) -> Result<Snapshot, Error> {
        let paths = Arc::new(HostPaths { sysfs: root.to_owned(), ..HostPaths::default() });
        let mut out = Snapshot::new();
        FibreChannel(paths).gather(&Scrape { deadline: std::time::Instant::now() }, &mut out).map(|()| out)
    }

    #[test]
    fn unknown_state_reports_zeros_and_missing_counters_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(gather(dir.path()), Err(Error::NoData(_))));
        let h = dir.path().join("class/fc_host");
        write(&h, "host0/port_state", "Unknown\n");
        write(&h, "host1/port_state", "Online\n");
        write(&h, "host1/statistics/rx_frames", "0x30\n");
        let s = gather(dir.path()).unwrap();
        let rx: Vec<(String, f64)> = s
            .families
            .iter()
            .filter(|f| f.name == "node_fibrechannel_rx_frames_total")
            .flat_map(|f| &f.samples)
            .map(|x| (x.labels[0].1.clone(), x.value))
            .collect();
        assert_eq!(rx, vec![("host0".into(), 0.0), ("host1".into(), 48.0)]);
        assert!(!s.families.iter().any(|f| f.name == "node_fibrechannel_tx_frames_total" && f.samples.iter().any(|x| x.labels[0].1 == "host1")));
        write(&h, "host1/statistics/tx_frames", "many\n");
        assert!(gather(dir.path()).unwrap_err().to_string().contains("tx_frames"));
    }
}
