//! The `ksmd` collector: kernel samepage merging (which Proxmox turns on to
//! share identical guest pages) from `/sys/kernel/mm/ksm/*` as
//! `node_ksmd_*`.

use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::with_attr;
use crate::metrics::{Kind, Snapshot};

/// (file, metric name, help, type, divisor). Files a kernel lacks (older
/// ones have no `general_profit`) are skipped.
const FILES: [(&str, &str, &str, Kind, f64); 10] = [
    ("full_scans", "node_ksmd_full_scans_total", "How many times all mergeable areas have been scanned.", Kind::Counter, 1.0),
    (
        "general_profit",
        "node_ksmd_general_profit_bytes",
        "How effective is KSM. ksm_saved_pages * sizeof(page) - (all_rmap_items) * sizeof(rmap_item)",
        Kind::Gauge,
        1.0,
    ),
    ("merge_across_nodes", "node_ksmd_merge_across_nodes", "Specifies if pages from different NUMA nodes can be merged.", Kind::Gauge, 1.0),
    ("pages_shared", "node_ksmd_pages_shared", "How many shared pages are being used.", Kind::Gauge, 1.0),
    ("pages_sharing", "node_ksmd_pages_sharing", "How many more sites are sharing them i.e. how much saved.", Kind::Gauge, 1.0),
    ("pages_to_scan", "node_ksmd_pages_to_scan", "How many pages to scan before ksmd goes to sleep.", Kind::Gauge, 1.0),
    ("pages_unshared", "node_ksmd_pages_unshared", "How many pages unique but repeatedly checked for merging.", Kind::Gauge, 1.0),
    ("pages_volatile", "node_ksmd_pages_volatile", "How many pages changing too fast to be placed in a tree.", Kind::Gauge, 1.0),
    ("run", "node_ksmd_run", "The status of ksmd. stopped = 0, running = 1", Kind::Gauge, 1.0),
    ("sleep_millisecs", "node_ksmd_sleep_seconds", "How many seconds ksmd should sleep before next scan.", Kind::Gauge, 1000.0),
];

/// Parses one attribute: an integer (`general_profit` may be negative).
pub fn parse_value(text: &str) -> Result<f64, String> {
    text.trim().parse::<i64>().map(|v| v as f64).map_err(|_| format!("not an integer: {text:?}"))
}

struct Ksmd(Arc<HostPaths>);

impl HostCollector for Ksmd {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let dir = self.0.sys("kernel/mm/ksm");
        if !dir.is_dir() {
            return Err(Error::NoData(format!("no {}: the kernel has no samepage merging", dir.display())));
        }
        for (file, name, help, kind, divisor) in FILES {
            let path = dir.join(file);
            let v = match with_attr(&path, parse_value) {
                Ok(v) => v.map_err(|d| Error::parse(&path, d))?,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            out.family(name, help, kind).add(&[], v / divisor);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Ksmd(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values() {
        assert_eq!(parse_value("1044480\n"), Ok(1044480.0));
        assert_eq!(parse_value("-4096"), Ok(-4096.0));
        assert!(parse_value("").is_err());
        assert!(parse_value("abc").is_err());
        assert!(parse_value("99999999999999999999999").is_err());
    }
}
