//! The `pressure` collector: pressure stall information from
//! `/proc/pressure/{cpu,io,memory,irq}` as `node_pressure_*_seconds_total`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::Snapshot;

/// The `total=` microseconds of the `some` and `full` lines.
#[derive(Debug, Default, PartialEq)]
pub struct Psi {
    /// `some total=`, when present.
    pub some: Option<u64>,
    /// `full total=`, when present.
    pub full: Option<u64>,
}

/// Parses one pressure file.
pub fn parse(text: &str) -> Result<Psi, String> {
    let mut psi = Psi::default();
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let kind = fields.next();
        let total = fields
            .find_map(|f| f.strip_prefix("total="))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("line {}: no total= in {line:?}", n + 1));
        match kind {
            Some("some") => psi.some = Some(total?),
            Some("full") => psi.full = Some(total?),
            None => {}
            Some(other) => return Err(format!("line {}: unknown kind {other:?}", n + 1)),
        }
    }
    Ok(psi)
}

struct Pressure(Arc<HostPaths>);

/// (metric name, help) of one pressure line.
type Line = Option<(&'static str, &'static str)>;

/// Each resource with its `some` and `full` metrics.
const RESOURCES: [(&str, Line, Line); 4] = [
    ("cpu", Some(("node_pressure_cpu_waiting_seconds_total", "Total time in seconds that processes have waited for CPU time")), None),
    (
        "io",
        Some(("node_pressure_io_waiting_seconds_total", "Total time in seconds that processes have waited due to IO congestion")),
        Some(("node_pressure_io_stalled_seconds_total", "Total time in seconds no process could make progress due to IO congestion")),
    ),
    (
        "memory",
        Some(("node_pressure_memory_waiting_seconds_total", "Total time in seconds that processes have waited for memory")),
        Some(("node_pressure_memory_stalled_seconds_total", "Total time in seconds no process could make progress due to memory congestion")),
    ),
    ("irq", None, Some(("node_pressure_irq_stalled_seconds_total", "Total time in seconds no process could make progress due to IRQ congestion"))),
];

impl HostCollector for Pressure {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let mut found = false;
        for (resource, some, full) in RESOURCES {
            let path = self.0.proc(&format!("pressure/{resource}"));
            let text = match read_to_string(&path) {
                Ok(t) => t,
                // irq pressure is newer than the others; a kernel without PSI has none.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            found = true;
            let psi = parse(&text).map_err(|d| Error::parse(&path, d))?;
            if let (Some((name, help)), Some(v)) = (some, psi.some) {
                out.counter(name, help, &[], v as f64 / 1000.0 / 1000.0);
            }
            if let (Some((name, help)), Some(v)) = (full, psi.full) {
                out.counter(name, help, &[], v as f64 / 1000.0 / 1000.0);
            }
        }
        if found {
            Ok(())
        } else {
            Err(Error::NoData("pressure stall information is not available on this kernel".into()))
        }
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Pressure(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_some_and_full() {
        let p = parse("some avg10=0.18 avg60=0.34 avg300=0.10 total=159886802\nfull avg10=0.18 avg60=0.34 avg300=0.10 total=159229614\n").unwrap();
        assert_eq!(p, Psi { some: Some(159886802), full: Some(159229614) });
        assert!(parse("some avg10=0.18\n").is_err());
        assert!(parse("weird total=1\n").is_err());
        assert!(parse("some total=x\n").is_err());
    }
}
