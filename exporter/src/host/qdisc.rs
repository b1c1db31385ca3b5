//! The `qdisc` collector: statistics of each interface's root queueing
//! discipline. node_exporter asks the kernel over rtnetlink
//! (`RTM_GETQDISC`); this exporter does not speak rtnetlink yet, so it
//! reads only node_exporter's test fixture, `<dir>/results.json`
//! (`--collector.qdisc.fixtures=DIR`); without one it is not built, and
//! the start-up log and the landing page say why.

use std::path::PathBuf;

use serde_json::Value;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, Scrape};
use crate::host::gojson::{array, Fields};
use crate::host::util::Filter;
use crate::metrics::{Kind, Snapshot};

/// Flags of the `qdisc` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// test fixtures to use for qdisc collector end-to-end testing
    #[arg(long = "collector.qdisc.fixtures", default_value = "")]
    pub qdisc_fixtures: String,
    /// Regexp of qdisc devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.qdisc.device-include")]
    pub qdisc_device_include: Option<String>,
    /// Regexp of qdisc devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.qdisc.device-exclude")]
    pub qdisc_device_exclude: Option<String>,
}

/// One queueing discipline, as node_exporter's fixture (Go's
/// `qdisc.QdiscInfo`) describes it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Qdisc {
    /// Interface name.
    pub iface: String,
    /// Parent handle; 0 for a root qdisc.
    pub parent: u64,
    /// Kind (`fq`, `pfifo_fast`, ...).
    pub kind: String,
    /// Bytes sent.
    pub bytes: u64,
    /// Packets sent.
    pub packets: u64,
    /// Packets dropped.
    pub drops: u64,
    /// Packets requeued.
    pub requeues: u64,
    /// Overlimit packets.
    pub overlimits: u64,
    /// Packets in queue.
    pub qlen: u64,
    /// Bytes in queue.
    pub backlog: u64,
}

/// Parses `results.json`: an array of Go `QdiscInfo` objects.
pub fn parse(text: &str) -> Result<Vec<Qdisc>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let u32max = u64::from(u32::MAX);
    array(&v, "results")?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let f = Fields::of(item, &format!("element {i}"))?;
            let at = |e: String| format!("element {i}: {e}");
            Ok(Qdisc {
                iface: f.string("IfaceName").map_err(at)?,
                parent: f.uint("Parent", u32max).map_err(at)?,
                kind: f.string("Kind").map_err(at)?,
                bytes: f.uint("Bytes", u64::MAX).map_err(at)?,
                packets: f.uint("Packets", u32max).map_err(at)?,
                drops: f.uint("Drops", u32max).map_err(at)?,
                requeues: f.uint("Requeues", u32max).map_err(at)?,
                overlimits: f.uint("Overlimits", u32max).map_err(at)?,
                qlen: f.uint("Qlen", u32max).map_err(at)?,
                backlog: f.uint("Backlog", u32max).map_err(at)?,
            })
        })
        .collect()
}

/// (metric, help, kind, value) of each qdisc series.
type Metric = (&'static str, &'static str, Kind, fn(&Qdisc) -> u64);

const FAMILIES: [Metric; 7] = [
    ("node_qdisc_bytes_total", "Number of bytes sent.", Kind::Counter, |q| q.bytes),
    ("node_qdisc_packets_total", "Number of packets sent.", Kind::Counter, |q| q.packets),
    ("node_qdisc_drops_total", "Number of packets dropped.", Kind::Counter, |q| q.drops),
    ("node_qdisc_requeues_total", "Number of packets dequeued, not transmitted, and requeued.", Kind::Counter, |q| q.requeues),
    ("node_qdisc_overlimits_total", "Number of overlimit packets.", Kind::Counter, |q| q.overlimits),
    ("node_qdisc_current_queue_length", "Number of packets currently in queue to be sent.", Kind::Gauge, |q| q.qlen),
    ("node_qdisc_backlog", "Number of bytes currently in queue to be sent.", Kind::Gauge, |q| q.backlog),
];

struct QdiscCollector {
    fixtures: PathBuf,
    filter: Filter,
}

impl HostCollector for QdiscCollector {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let dir = &self.fixtures;
        let path = dir.join("results.json");
        let qdiscs = parse(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        // Only root qdiscs are reported.
        let roots: Vec<&Qdisc> = qdiscs.iter().filter(|q| q.parent == 0 && self.filter.accepts(&q.iface)).collect();
        for (name, help, kind, value) in FAMILIES {
            let fam = out.family(name, help, kind);
            for q in &roots {
                fam.add(&[("device", &q.iface), ("kind", &q.kind)], value(q) as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, _: &Context) -> Result<Option<Collector>, BuildError> {
    // The deprecated `collector.qdisk.*` spellings are the registry's
    // aliases (crate::compat::ALIASES): they arrive here as these flags.
    let filter = Filter::exclusive("qdisc", "device", o.qdisc_device_include.as_deref(), o.qdisc_device_exclude.as_deref())?;
    // Without fixtures there is nothing this exporter can read (the
    // registry's entry says why, once, at start and on the landing page).
    if o.qdisc_fixtures.is_empty() {
        return Ok(None);
    }
    Ok(Some(Collector::host(QdiscCollector { fixtures: PathBuf::from(&o.qdisc_fixtures), filter })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::HostPaths;
    use std::sync::Arc;

    const RESULTS: &str = r#"[
    {"IfaceName": "wlan0", "Bytes": 42, "Packets": 42, "Requeues": 1, "Kind": "fq", "Drops": 1},
    {"IfaceName": "eth0", "Bytes": 83, "Packets": 83, "Requeues": 2, "Kind": "pfifo_fast"},
    {"IfaceName": "eth0", "Parent": 65537, "Kind": "fq_codel", "qlen": 3}
]"#;

    #[test]
    fn parses_node_exporters_fixture() {
        let q = parse(RESULTS).unwrap();
        assert_eq!(q.len(), 3);
        assert_eq!(q[0], Qdisc { iface: "wlan0".into(), kind: "fq".into(), bytes: 42, packets: 42, requeues: 1, drops: 1, ..Qdisc::default() });
        assert_eq!((q[2].parent, q[2].qlen), (65537, 3));
    }

    #[test]
    fn refuses_malformed_fixtures() {
        assert!(parse("").unwrap_err().contains("not JSON"));
        assert!(parse("{}").unwrap_err().contains("array"));
        assert!(parse("[1]").unwrap_err().contains("element 0"));
        assert!(parse(r#"[{"Packets": 4294967296}]"#).unwrap_err().contains("Packets"));
        assert!(parse(r#"[{"Kind": 5}]"#).unwrap_err().contains("Kind"));
        assert!(parse(r#"[{"Bytes": -1}]"#).is_err());
        assert_eq!(parse("null").unwrap(), vec![]);
    }

    fn options(args: &[&str]) -> Options {
        crate::collector::parse_options(args).unwrap()
    }

    fn build_with(o: &Options) -> Result<Option<Collector>, BuildError> {
        build(o, &Context::new(&Arc::new(HostPaths::default())))
    }

    #[test]
    fn reads_root_qdiscs_of_included_devices_and_says_netlink_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("results.json"), RESULTS).unwrap();
        let fixtures = format!("--collector.qdisc.fixtures={}", dir.path().display());
        let Some(Collector::Host(c)) = build_with(&options(&[&fixtures, "--collector.qdisc.device-include=^eth"])).unwrap() else { panic!("not a host collector") };
        let mut out = Snapshot::new();
        c.gather(&Scrape { deadline: std::time::Instant::now() }, &mut out).unwrap();
        let bytes = out.families.iter().find(|f| f.name == "node_qdisc_bytes_total").unwrap();
        assert_eq!(bytes.samples.len(), 1);
        assert_eq!((bytes.samples[0].labels[1].1.as_str(), bytes.samples[0].value), ("pfifo_fast", 83.0));

        // On a live host (no fixtures) it is not built: rtnetlink is not implemented.
        assert!(build_with(&Options::default()).unwrap().is_none());
    }
}
