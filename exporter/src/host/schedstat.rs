//! The `schedstat` collector: per-CPU scheduler statistics from
//! `/proc/schedstat` (running and waiting time, timeslices).

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// One CPU line: name (without `cpu`), running ns, waiting ns, timeslices.
#[derive(Debug, PartialEq)]
pub struct CpuSched {
    /// CPU number as written.
    pub cpu: String,
    /// Nanoseconds spent running a task.
    pub running_ns: u64,
    /// Nanoseconds tasks waited to run.
    pub waiting_ns: u64,
    /// Timeslices run.
    pub timeslices: u64,
}

/// Parses the `cpuN` lines of `/proc/schedstat`.
pub fn parse(text: &str) -> Result<Vec<CpuSched>, String> {
    let mut cpus = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("cpu") else { continue };
        let f: Vec<&str> = rest.split_ascii_whitespace().collect();
        if f.len() < 10 {
            return Err(format!("line {}: expected 10 fields, got {}", n + 1, f.len()));
        }
        let num = |i: usize| f[i].parse::<u64>().map_err(|_| format!("line {}: bad number {:?}", n + 1, f[i]));
        cpus.push(CpuSched { cpu: f[0].to_owned(), running_ns: num(7)?, waiting_ns: num(8)?, timeslices: num(9)? });
    }
    Ok(cpus)
}

struct Schedstat(Arc<HostPaths>);

impl HostCollector for Schedstat {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("schedstat");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData("schedstat file does not exist".into())),
            Err(e) => return Err(e),
        };
        let cpus = parse(&text).map_err(|d| Error::parse(&path, d))?;
        let running = out.family("node_schedstat_running_seconds_total", "Number of seconds CPU spent running a process.", Kind::Counter);
        for c in &cpus {
            running.add(&[("cpu", &c.cpu)], c.running_ns as f64 / 1e9);
        }
        let waiting = out.family("node_schedstat_waiting_seconds_total", "Number of seconds spent by processing waiting for this CPU.", Kind::Counter);
        for c in &cpus {
            waiting.add(&[("cpu", &c.cpu)], c.waiting_ns as f64 / 1e9);
        }
        let slices = out.family("node_schedstat_timeslices_total", "Number of timeslices executed by CPU.", Kind::Counter);
        for c in &cpus {
            slices.add(&[("cpu", &c.cpu)], c.timeslices as f64);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Schedstat(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_lines_and_refuses_short_ones() {
        let text = "version 15\ntimestamp 1\ncpu0 498494191 0 3533438552 2553969831 3853684107 2465731542 2045936778163039 343796328169361 4767485306\ndomain0 3 1 2\n";
        let v = parse(text).unwrap();
        assert_eq!(v, vec![CpuSched { cpu: "0".into(), running_ns: 2045936778163039, waiting_ns: 343796328169361, timeslices: 4767485306 }]);
        assert!(parse("cpu0 1 2 3\n").is_err());
        assert!(parse("cpu0 1 2 3 4 5 6 x 8 9\n").is_err());
    }
}
