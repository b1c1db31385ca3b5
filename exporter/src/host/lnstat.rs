//! The `lnstat` collector: the per-CPU network cache counters of every
//! file in `/proc/net/stat` (`arp_cache`, `nf_conntrack`, ...) as
//! `node_lnstat_<column>_total{subsystem, cpu}`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{is_name_part, list_dir, static_name, Memo};
use crate::metrics::{Kind, Name, Snapshot};

/// One `/proc/net/stat` file: its column names (first line) and, per
/// column, the hexadecimal counters of the rows below, one per CPU.
pub fn parse(text: &str) -> Result<Vec<(&str, Vec<u64>)>, String> {
    let mut lines = text.lines();
    let mut columns: Vec<(&str, Vec<u64>)> = Vec::new();
    let mut slot_of = Vec::new();
    for name in lines.next().unwrap_or_default().split_ascii_whitespace() {
        if !is_name_part(name) {
            return Err(format!("line 1: column name {name:?} cannot be part of a metric name"));
        }
        // A name repeated in the header adds to the first column of that name.
        let slot = match columns.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                columns.push((name, Vec::new()));
                columns.len() - 1
            }
        };
        slot_of.push(slot);
    }
    for (n, line) in lines.enumerate() {
        for (i, field) in line.split_ascii_whitespace().enumerate() {
            let v = u64::from_str_radix(field, 16).map_err(|_| format!("line {}: {field:?} is not a hexadecimal counter", n + 2))?;
            let column = slot_of.get(i).and_then(|&s| columns.get_mut(s)).ok_or_else(|| format!("line {}: more values than columns", n + 2))?;
            column.1.push(v);
        }
    }
    Ok(columns)
}

struct Lnstat {
    paths: Arc<HostPaths>,
    /// `node_lnstat_<column>_total` by column name.
    names: Memo<Name>,
}

impl HostCollector for Lnstat {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let dir = self.paths.proc("net/stat");
        let files = match list_dir(&dir) {
            Ok(f) => f,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /proc/net/stat in this procfs".into())),
            Err(e) => return Err(e),
        };
        let mut cpus: Vec<String> = Vec::new();
        for file in &files {
            let path = dir.join(file);
            let text = read_to_string(&path)?;
            for (column, values) in parse(&text).map_err(|d| Error::parse(&path, d))? {
                let name = self.names.get(column, |c| static_name(format!("node_lnstat_{c}_total")));
                let fam = out.family(name, "linux network cache stats", Kind::Counter);
                for (cpu, v) in values.iter().enumerate() {
                    if cpus.len() <= cpu {
                        cpus.push(cpu.to_string());
                    }
                    let cpu = cpus.get(cpu).map(String::as_str).unwrap_or_default();
                    fam.add(&[("cpu", cpu), ("subsystem", file)], *v as f64);
                }
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Lnstat { paths: cx.paths.clone(), names: Memo::default() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_columns_per_cpu() {
        let text = "entries  allocs destroys\n00000014  00000001 0000000a\n00000014  0000000d 0000000e\n";
        let c = parse(text).unwrap();
        assert_eq!(c, vec![("entries", vec![20, 20]), ("allocs", vec![1, 13]), ("destroys", vec![10, 14])]);
        assert_eq!(parse("").unwrap(), vec![]);
        assert_eq!(parse("a a\n1 2\n").unwrap(), vec![("a", vec![1, 2])]);
    }

    #[test]
    fn refuses_malformed_files() {
        assert!(parse("entries allocs\n1 2 3\n").unwrap_err().contains("line 2"));
        assert!(parse("entries\nzz\n").is_err());
        assert!(parse("entries\n1ffffffffffffffff\n").is_err());
        assert!(parse("bad-name\n1\n").is_err());
    }
}
