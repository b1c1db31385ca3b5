//! The `softnet` collector: per-CPU packet processing statistics from
//! `/proc/net/softnet_stat` (hexadecimal columns).

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// One line of `softnet_stat`.
#[derive(Debug, Default, PartialEq)]
pub struct Softnet {
    /// CPU index (column 13 on newer kernels, else the line number).
    pub cpu: u32,
    /// Packets processed.
    pub processed: u64,
    /// Packets dropped.
    pub dropped: u64,
    /// Times the budget ran out.
    pub time_squeezed: u64,
    /// Collisions taking the device lock.
    pub cpu_collision: u64,
    /// Times woken up by RPS.
    pub received_rps: u64,
    /// Times the flow limit was reached.
    pub flow_limit_count: u64,
    /// Backlog length.
    pub backlog_len: u64,
}

/// Parses `softnet_stat`.
pub fn parse(text: &str) -> Result<Vec<Softnet>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let cols: Vec<&str> = line.split_ascii_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        if cols.len() < 9 {
            return Err(format!("line {}: expected at least 9 columns, got {}", n + 1, cols.len()));
        }
        let hex = |i: usize| -> Result<u64, String> {
            match cols.get(i) {
                None => Ok(0),
                Some(c) => u64::from_str_radix(c, 16).map_err(|_| format!("line {}: bad hex {c:?}", n + 1)),
            }
        };
        out.push(Softnet {
            cpu: if cols.len() >= 13 { hex(12)? as u32 } else { n as u32 },
            processed: hex(0)?,
            dropped: hex(1)?,
            time_squeezed: hex(2)?,
            cpu_collision: hex(8)?,
            received_rps: hex(9)?,
            flow_limit_count: hex(10)?,
            backlog_len: hex(11)?,
        });
    }
    Ok(out)
}

struct SoftnetCollector(Arc<HostPaths>);

impl HostCollector for SoftnetCollector {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("net/softnet_stat");
        let rows = parse(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        type Column = (&'static str, &'static str, Kind, fn(&Softnet) -> u64);
        let families: [Column; 7] = [
            ("node_softnet_processed_total", "Number of processed packets", Kind::Counter, |s| s.processed),
            ("node_softnet_dropped_total", "Number of dropped packets", Kind::Counter, |s| s.dropped),
            ("node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota", Kind::Counter, |s| s.time_squeezed),
            ("node_softnet_cpu_collision_total", "Number of collision occur while obtaining device lock while transmitting", Kind::Counter, |s| s.cpu_collision),
            ("node_softnet_received_rps_total", "Number of times cpu woken up received_rps", Kind::Counter, |s| s.received_rps),
            ("node_softnet_flow_limit_count_total", "Number of times flow limit has been reached", Kind::Counter, |s| s.flow_limit_count),
            ("node_softnet_backlog_len", "Softnet backlog status", Kind::Gauge, |s| s.backlog_len),
        ];
        let cpus: Vec<String> = rows.iter().map(|r| r.cpu.to_string()).collect();
        for (name, help, kind, get) in families {
            let fam = out.family(name, help, kind);
            for (row, cpu) in rows.iter().zip(&cpus) {
                fam.add(&[("cpu", cpu)], get(row) as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(SoftnetCollector(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_old_and_new_layouts() {
        let v = parse("00049279 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n000dfb82 00000029 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n").unwrap();
        assert_eq!(v[1].cpu, 1);
        assert_eq!(v[1].dropped, 0x29);
        let v = parse("1 2 3 0 0 0 0 0 4 5 6 7 a\n").unwrap();
        assert_eq!((v[0].cpu, v[0].backlog_len, v[0].flow_limit_count), (10, 7, 6));
        assert!(parse("1 2 3\n").is_err());
        assert!(parse("zz 2 3 0 0 0 0 0 4\n").is_err());
    }
}
