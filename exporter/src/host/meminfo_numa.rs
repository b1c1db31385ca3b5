//! The `meminfo_numa` collector: each NUMA node's memory from
//! `/sys/devices/system/node/nodeN/meminfo` (gauges, bytes) and its
//! allocation counters from `.../numastat` (counters), as
//! `node_memory_numa_*{node}`.
//!
//! The `meminfo` collector owns every other `node_memory_*` family.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{is_name_part, list_dir, static_name, Memo};
use crate::metrics::{Kind, Name, Snapshot};

/// One value: the metric name stem (after `node_memory_numa_`), its node
/// and its value in base units.
#[derive(Debug, PartialEq)]
pub struct Field {
    /// `Active_anon`, `numa_hit_total`, ...
    pub stem: String,
    /// The node number.
    pub node: String,
    /// The value (bytes for meminfo's kB lines).
    pub value: f64,
}

/// Parses a node's `meminfo`: lines `Node N Key: value [kB]`. `Key(x)`
/// becomes `Key_x`, as in `/proc/meminfo`'s metrics.
pub fn parse_meminfo(text: &str) -> Result<Vec<Field>, String> {
    let mut fields = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |detail: String| format!("line {}: {detail}", n + 1);
        let parts: Vec<&str> = line.split_ascii_whitespace().collect();
        let (node, key, value, unit) = match parts.as_slice() {
            ["Node", node, key, value] => (node, key, value, None),
            ["Node", node, key, value, unit] => (node, key, value, Some(*unit)),
            _ => return Err(at(format!("not a \"Node N Key: value [kB]\" line: {line:?}"))),
        };
        let mut value: f64 = value.parse::<u64>().map_err(|_| at(format!("value {value:?} is not an unsigned integer")))? as f64;
        match unit {
            None => {}
            Some("kB") => value *= 1024.0,
            Some(other) => return Err(at(format!("unknown unit {other:?}"))),
        }
        let key = key.strip_suffix(':').ok_or_else(|| at(format!("key {key:?} has no colon")))?;
        let stem = match key.split_once('(') {
            Some((head, tail)) => format!("{head}_{}", tail.strip_suffix(')').ok_or_else(|| at(format!("key {key:?} has an unclosed parenthesis")))?),
            None => key.to_owned(),
        };
        if !is_name_part(&stem) {
            return Err(at(format!("key {key:?} cannot be a metric name")));
        }
        fields.push(Field { stem, node: (*node).to_owned(), value });
    }
    Ok(fields)
}

/// Parses a node's `numastat`: lines `name count`, reported as `name_total`.
pub fn parse_numastat(text: &str, node: &str) -> Result<Vec<Field>, String> {
    let mut fields = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |detail: String| format!("line {}: {detail}", n + 1);
        let parts: Vec<&str> = line.split_ascii_whitespace().collect();
        let [name, value] = parts.as_slice() else { return Err(at(format!("not a \"name count\" line: {line:?}"))) };
        if !is_name_part(name) {
            return Err(at(format!("name {name:?} cannot be a metric name")));
        }
        let value = value.parse::<u64>().map_err(|_| at(format!("count {value:?} is not an unsigned integer")))?;
        fields.push(Field { stem: format!("{name}_total"), node: node.to_owned(), value: value as f64 });
    }
    Ok(fields)
}

struct MeminfoNuma {
    paths: Arc<HostPaths>,
    /// Metric name and help per stem, made once (see [`Memo`]).
    names: Memo<(Name, Name)>,
}

impl MeminfoNuma {
    fn emit(&self, fields: &[Field], kind: Kind, out: &mut Snapshot) {
        for f in fields {
            let (name, help) = self.names.get(&f.stem, |stem| {
                (static_name(format!("node_memory_numa_{stem}")), static_name(format!("Memory information field {stem}.")))
            });
            out.family(name, help, kind).add(&[("node", &f.node)], f.value);
        }
    }
}

impl HostCollector for MeminfoNuma {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("devices/system/node");
        let entries = match list_dir(&base) {
            Ok(e) => e,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: the kernel has no NUMA support", base.display()))),
            Err(e) => return Err(e),
        };
        for entry in &entries {
            let Some(number) = entry.strip_prefix("node").filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) else { continue };
            let dir = base.join(entry);
            let path = dir.join("meminfo");
            let fields = parse_meminfo(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
            self.emit(&fields, Kind::Gauge, out);
            let path = dir.join("numastat");
            let fields = parse_numastat(&read_to_string(&path)?, number).map_err(|d| Error::parse(&path, d))?;
            self.emit(&fields, Kind::Counter, out);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(MeminfoNuma { paths: cx.paths.clone(), names: Memo::default() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMINFO: &str = include_str!("../../../testdata/upstream/node_exporter/sys/devices/system/node/node1/meminfo");
    const NUMASTAT: &str = include_str!("../../../testdata/upstream/node_exporter/sys/devices/system/node/node0/numastat");

    #[test]
    fn parses_the_fixtures() {
        let m = parse_meminfo(MEMINFO).unwrap();
        assert_eq!(m[0], Field { stem: "MemTotal".into(), node: "1".into(), value: 134217728.0 * 1024.0 });
        assert!(m.iter().any(|f| f.stem == "Active_anon" && f.value == 590464.0 * 1024.0));
        assert!(m.iter().any(|f| f.stem == "HugePages_Total" && f.value == 0.0));
        let s = parse_numastat(NUMASTAT, "0").unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s[0], Field { stem: "numa_hit_total".into(), node: "0".into(), value: 193460335812.0 });
    }

    #[test]
    fn refuses_malformed_input() {
        assert!(parse_meminfo("").unwrap().is_empty());
        assert!(parse_meminfo("Node 0 MemTotal:\n").unwrap_err().contains("line 1"));
        assert!(parse_meminfo("Node 0 MemTotal: x kB\n").is_err());
        assert!(parse_meminfo("Node 0 MemTotal: 1 MB\n").unwrap_err().contains("unit"));
        assert!(parse_meminfo("Node 0 MemTotal: 99999999999999999999999 kB\n").is_err());
        assert!(parse_meminfo("Node 0 Mem-Total: 1 kB\n").is_err());
        assert!(parse_meminfo("Node 0 Active(anon: 1 kB\n").is_err());
        assert!(parse_numastat("numa_hit\n", "0").unwrap_err().contains("line 1"));
        assert!(parse_numastat("numa_hit -1\n", "0").is_err());
        assert!(parse_numastat("numa hit 1\n", "0").is_err());
    }
}
