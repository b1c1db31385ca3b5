//! The `softirqs` collector: softirqs handled per CPU and type from
//! `/proc/softirqs` as `node_softirqs_functions_total{cpu,type}`.
//!
//! The per-type totals of `/proc/stat` (`node_softirqs_total{vector}`)
//! belong to the `stat` collector.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// The softirq types reported, as the file names them (without the colon).
const TYPES: [&str; 10] = ["HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"];

/// One row: a type of [`TYPES`] and its count on each CPU, by column.
#[derive(Debug, PartialEq)]
pub struct Row {
    /// The type, one of [`TYPES`].
    pub kind: &'static str,
    /// Counts, CPU 0 first.
    pub counts: Vec<u64>,
}

/// Parses `/proc/softirqs`: a header of CPU names, then one row per type.
/// Rows of types not in [`TYPES`] are skipped.
pub fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines();
    if lines.next().is_none_or(|h| !h.trim_start().starts_with("CPU")) {
        return Err("line 1: no header of CPU names".into());
    }
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let at = |detail: String| format!("line {}: {detail}", n + 2);
        let mut fields = line.split_ascii_whitespace();
        let Some(label) = fields.next() else { continue };
        let name = label.strip_suffix(':').ok_or_else(|| at(format!("row name {label:?} has no colon")))?;
        let Some(kind) = TYPES.iter().find(|t| **t == name) else { continue };
        let counts = fields
            .enumerate()
            .map(|(cpu, c)| c.parse::<u64>().map_err(|_| at(format!("{name} on CPU {cpu}: {c:?} is not an unsigned integer"))))
            .collect::<Result<Vec<_>, _>>()?;
        rows.push(Row { kind, counts });
    }
    Ok(rows)
}

struct Softirqs(Arc<HostPaths>);

impl HostCollector for Softirqs {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("softirqs");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: this kernel does not count softirqs per CPU", path.display()))),
            Err(e) => return Err(e),
        };
        let rows = parse(&text).map_err(|d| Error::parse(&path, d))?;
        let family = out.family("node_softirqs_functions_total", "Softirq counts per CPU.", Kind::Counter);
        let width = rows.iter().map(|r| r.counts.len()).max().unwrap_or(0);
        let cpus: Vec<String> = (0..width).map(|i| i.to_string()).collect();
        for row in &rows {
            for (cpu, v) in cpus.iter().zip(&row.counts) {
                family.add(&[("cpu", cpu), ("type", row.kind)], *v as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Softirqs(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../testdata/upstream/node_exporter/proc/softirqs");

    #[test]
    fn parses_the_fixture() {
        let rows = parse(FIXTURE).unwrap();
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[0], Row { kind: "HI", counts: vec![7, 1] });
        assert_eq!(rows[9], Row { kind: "RCU", counts: vec![155929, 146631] });
    }

    #[test]
    fn refuses_malformed_input() {
        assert!(parse("").is_err());
        assert!(parse("garbage\n").is_err());
        let head = "    CPU0 CPU1\n";
        assert!(parse(head).unwrap().is_empty());
        assert!(parse(&format!("{head}HI: 1 x\n")).unwrap_err().contains("line 2"));
        assert!(parse(&format!("{head}HI: 1 99999999999999999999999\n")).is_err());
        assert!(parse(&format!("{head}HI 1 2\n")).unwrap_err().contains("colon"));
        // Types this exporter does not know are skipped.
        assert!(parse(&format!("{head}NEW_KIND: 1 2\n")).unwrap().is_empty());
    }
}
