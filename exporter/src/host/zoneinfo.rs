//! The `zoneinfo` collector: per-zone page counts, watermarks and NUMA
//! allocation counters from `/proc/zoneinfo` as `node_zoneinfo_*`.
//!
//! The file is a list of blocks, each opened by a `Node N, zone NAME` line.
//! The kernel prints a node's `per-node stats` inside the block of its first
//! zone, so those values are reported with that zone, as node_exporter does.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Name, Snapshot};

/// (kernel key, metric name, help, type) of every value reported.
const FIELDS: &[(&str, &str, &str, Kind)] = &[
    ("nr_free_pages", "node_zoneinfo_nr_free_pages", "Total number of free pages in the zone", Kind::Gauge),
    ("min", "node_zoneinfo_min_pages", "Zone watermark pages_min", Kind::Gauge),
    ("low", "node_zoneinfo_low_pages", "Zone watermark pages_low", Kind::Gauge),
    ("high", "node_zoneinfo_high_pages", "Zone watermark pages_high", Kind::Gauge),
    ("scanned", "node_zoneinfo_scanned_pages", "Pages scanned since last reclaim", Kind::Gauge),
    ("spanned", "node_zoneinfo_spanned_pages", "Total pages spanned by the zone, including holes", Kind::Gauge),
    ("present", "node_zoneinfo_present_pages", "Physical pages existing within the zone", Kind::Gauge),
    ("managed", "node_zoneinfo_managed_pages", "Present pages managed by the buddy system", Kind::Gauge),
    ("nr_active_anon", "node_zoneinfo_nr_active_anon_pages", "Number of anonymous pages recently more used", Kind::Gauge),
    ("nr_inactive_anon", "node_zoneinfo_nr_inactive_anon_pages", "Number of anonymous pages recently less used", Kind::Gauge),
    ("nr_isolated_anon", "node_zoneinfo_nr_isolated_anon_pages", "Temporary isolated pages from anon lru", Kind::Gauge),
    ("nr_anon_pages", "node_zoneinfo_nr_anon_pages", "Number of anonymous pages currently used by the system", Kind::Gauge),
    (
        "nr_anon_transparent_hugepages",
        "node_zoneinfo_nr_anon_transparent_hugepages",
        "Number of anonymous transparent huge pages currently used by the system",
        Kind::Gauge,
    ),
    ("nr_active_file", "node_zoneinfo_nr_active_file_pages", "Number of active pages with file-backing", Kind::Gauge),
    ("nr_inactive_file", "node_zoneinfo_nr_inactive_file_pages", "Number of inactive pages with file-backing", Kind::Gauge),
    ("nr_isolated_file", "node_zoneinfo_nr_isolated_file_pages", "Temporary isolated pages from file lru", Kind::Gauge),
    ("nr_file_pages", "node_zoneinfo_nr_file_pages", "Number of file pages", Kind::Gauge),
    ("nr_slab_reclaimable", "node_zoneinfo_nr_slab_reclaimable_pages", "Number of reclaimable slab pages", Kind::Gauge),
    ("nr_slab_unreclaimable", "node_zoneinfo_nr_slab_unreclaimable_pages", "Number of unreclaimable slab pages", Kind::Gauge),
    ("nr_mlock_stack", "node_zoneinfo_nr_mlock_stack_pages", "mlock()ed pages found and moved off LRU", Kind::Gauge),
    ("nr_kernel_stack", "node_zoneinfo_nr_kernel_stacks", "Number of kernel stacks", Kind::Gauge),
    ("nr_mapped", "node_zoneinfo_nr_mapped_pages", "Number of mapped pages", Kind::Gauge),
    ("nr_dirty", "node_zoneinfo_nr_dirty_pages", "Number of dirty pages", Kind::Gauge),
    ("nr_writeback", "node_zoneinfo_nr_writeback_pages", "Number of writeback pages", Kind::Gauge),
    ("nr_unevictable", "node_zoneinfo_nr_unevictable_pages", "Number of unevictable pages", Kind::Gauge),
    ("nr_shmem", "node_zoneinfo_nr_shmem_pages", "Number of shmem pages (included tmpfs/GEM pages)", Kind::Gauge),
    ("nr_dirtied", "node_zoneinfo_nr_dirtied_total", "Page dirtyings since bootup", Kind::Counter),
    ("nr_written", "node_zoneinfo_nr_written_total", "Page writings since bootup", Kind::Counter),
    ("numa_hit", "node_zoneinfo_numa_hit_total", "Allocated in intended node", Kind::Counter),
    ("numa_miss", "node_zoneinfo_numa_miss_total", "Allocated in non intended node", Kind::Counter),
    ("numa_foreign", "node_zoneinfo_numa_foreign_total", "Was intended here, hit elsewhere", Kind::Counter),
    ("numa_interleave", "node_zoneinfo_numa_interleave_total", "Interleaver preferred this zone", Kind::Counter),
    ("numa_local", "node_zoneinfo_numa_local_total", "Allocation from local node", Kind::Counter),
    ("numa_other", "node_zoneinfo_numa_other_total", "Allocation from other node", Kind::Counter),
];

/// Names and helps of the first protection entries (a kernel has at most
/// six zones, so a zone's protection array has at most six entries).
const PROTECTION: [(&str, &str); 8] = [
    ("node_zoneinfo_protection_0", "Protection array 0. field"),
    ("node_zoneinfo_protection_1", "Protection array 1. field"),
    ("node_zoneinfo_protection_2", "Protection array 2. field"),
    ("node_zoneinfo_protection_3", "Protection array 3. field"),
    ("node_zoneinfo_protection_4", "Protection array 4. field"),
    ("node_zoneinfo_protection_5", "Protection array 5. field"),
    ("node_zoneinfo_protection_6", "Protection array 6. field"),
    ("node_zoneinfo_protection_7", "Protection array 7. field"),
];

/// One `Node N, zone NAME` block.
#[derive(Debug, Default, PartialEq)]
pub struct Zone {
    /// The node number, as written.
    pub node: String,
    /// The zone name (`DMA`, `Normal`, ...).
    pub zone: String,
    /// The values of [`FIELDS`], by index; `None` when the block lacks one.
    pub values: Vec<Option<i64>>,
    /// The `protection: (a, b, ...)` array.
    pub protection: Vec<i64>,
}

/// Parses `/proc/zoneinfo`.
pub fn parse(text: &str) -> Result<Vec<Zone>, String> {
    let mut zones: Vec<Zone> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |detail: String| format!("line {}: {detail}", n + 1);
        if let Some(rest) = line.strip_prefix("Node ") {
            let (node, zone) = rest
                .split_once(", zone")
                .map(|(node, zone)| (node.trim(), zone.trim()))
                .filter(|(node, zone)| !node.is_empty() && node.bytes().all(|b| b.is_ascii_digit()) && !zone.is_empty())
                .ok_or_else(|| at(format!("not a \"Node N, zone NAME\" line: {line:?}")))?;
            zones.push(Zone { node: node.to_owned(), zone: zone.to_owned(), values: vec![None; FIELDS.len()], protection: Vec::new() });
            continue;
        }
        let mut fields = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (fields.next(), fields.next()) else { continue };
        if key == "protection:" {
            let zone = zones.last_mut().ok_or_else(|| at("protection before any \"Node N, zone NAME\" line".into()))?;
            let list = line
                .split_once('(')
                .and_then(|(_, r)| r.split_once(')'))
                .map(|(inner, _)| inner)
                .ok_or_else(|| at(format!("protection without (...): {line:?}")))?;
            zone.protection = list
                .split(',')
                .map(|v| v.trim().parse::<i64>().map_err(|_| at(format!("protection entry {:?} is not an integer", v.trim()))))
                .collect::<Result<_, _>>()?;
            continue;
        }
        let Some(index) = FIELDS.iter().position(|(k, ..)| *k == key) else { continue };
        let zone = zones.last_mut().ok_or_else(|| at(format!("{key} before any \"Node N, zone NAME\" line")))?;
        let v = value.parse::<i64>().map_err(|_| at(format!("{key}: {value:?} is not an integer")))?;
        if let Some(slot) = zone.values.get_mut(index) {
            *slot = Some(v);
        }
    }
    Ok(zones)
}

struct Zoneinfo(Arc<HostPaths>);

impl HostCollector for Zoneinfo {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("zoneinfo");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: this kernel has no zoneinfo", path.display()))),
            Err(e) => return Err(e),
        };
        let zones = parse(&text).map_err(|d| Error::parse(&path, d))?;
        for z in &zones {
            let labels = [("node", z.node.as_str()), ("zone", z.zone.as_str())];
            for ((_, name, help, kind), v) in FIELDS.iter().zip(&z.values) {
                if let Some(v) = v {
                    out.family(*name, *help, *kind).add(&labels, *v as f64);
                }
            }
            for (i, v) in z.protection.iter().enumerate() {
                let (name, help): (Name, Name) = match PROTECTION.get(i) {
                    Some((name, help)) => ((*name).into(), (*help).into()),
                    None => (format!("node_zoneinfo_protection_{i}").into(), format!("Protection array {i}. field").into()),
                };
                out.family(name, help, Kind::Gauge).add(&labels, *v as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Zoneinfo(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../testdata/upstream/node_exporter/proc/zoneinfo");

    fn value(z: &Zone, key: &str) -> Option<i64> {
        let i = FIELDS.iter().position(|(k, ..)| *k == key).unwrap();
        z.values[i]
    }

    #[test]
    fn parses_the_fixture() {
        let zones = parse(FIXTURE).unwrap();
        let names: Vec<_> = zones.iter().map(|z| (z.node.as_str(), z.zone.as_str())).collect();
        assert_eq!(names, [("0", "DMA"), ("0", "DMA32"), ("0", "Normal"), ("0", "Movable"), ("0", "Device")]);
        let dma = &zones[0];
        assert_eq!(value(dma, "nr_free_pages"), Some(2949));
        // per-node stats belong to the node's first zone.
        assert_eq!(value(dma, "nr_dirtied"), Some(1189097));
        assert_eq!(value(&zones[1], "nr_dirtied"), None);
        assert_eq!(dma.protection, [0, 2039, 31932, 31932, 31932]);
        // "high:" of a pageset is not the watermark "high".
        assert_eq!(value(dma, "high"), Some(14));
        assert_eq!(value(&zones[2], "numa_hit"), Some(62836441));
        assert_eq!(value(&zones[3], "managed"), Some(0));
        assert_eq!(value(&zones[3], "nr_free_pages"), None);
    }

    #[test]
    fn refuses_malformed_input() {
        assert!(parse("").unwrap().is_empty());
        let e = parse("Node 0, zone DMA\n  pages free 1\n        min x\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("min"), "{e}");
        assert!(parse("Node 0, zone DMA\n  nr_free_pages 99999999999999999999999\n").is_err());
        assert!(parse("  nr_free_pages 1\n").unwrap_err().contains("before any"));
        assert!(parse("Node x, zone DMA\n").is_err());
        assert!(parse("Node 0\n").is_err());
        assert!(parse("Node 0, zone DMA\n protection: (0, 1\n").is_err());
        assert!(parse("Node 0, zone DMA\n protection: (0, y)\n").is_err());
        // A truncated last line is skipped, not misread.
        assert_eq!(parse("Node 0, zone DMA\n  nr_free_pages\n").unwrap()[0].values, vec![None; FIELDS.len()]);
    }
}
