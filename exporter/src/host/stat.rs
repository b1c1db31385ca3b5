//! The `stat` collector: boot time, context switches, forks, interrupts,
//! running/blocked processes and (with `--collector.stat.softirq`) softirqs
//! per vector, from `/proc/stat`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// Flags of the `stat` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Export softirq calls per vector.
    #[arg(long = "collector.stat.softirq", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub stat_softirq: bool,
}

/// Softirq vectors in the order of the `softirq` line.
const SOFTIRQ_VECTORS: [&str; 10] = ["hi", "timer", "net_tx", "net_rx", "block", "block_iopoll", "tasklet", "sched", "hrtimer", "rcu"];

/// The values of `/proc/stat` this collector reports.
#[derive(Debug, Default, PartialEq)]
pub struct Stat {
    /// `btime`.
    pub boot_time: u64,
    /// `ctxt`.
    pub context_switches: u64,
    /// `processes`.
    pub forks: u64,
    /// First field of `intr`.
    pub interrupts: u64,
    /// `procs_running`.
    pub procs_running: u64,
    /// `procs_blocked`.
    pub procs_blocked: u64,
    /// Per-vector fields of `softirq`.
    pub softirqs: Vec<u64>,
}

/// Parses `/proc/stat` (the non-cpu lines).
pub fn parse(text: &str) -> Result<Stat, String> {
    let mut st = Stat::default();
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        let slot = match key {
            "btime" => &mut st.boot_time,
            "ctxt" => &mut st.context_switches,
            "processes" => &mut st.forks,
            "intr" => &mut st.interrupts,
            "procs_running" => &mut st.procs_running,
            "procs_blocked" => &mut st.procs_blocked,
            "softirq" => {
                let values: Result<Vec<u64>, _> = fields.skip(1).map(str::parse).collect();
                st.softirqs = values.map_err(|_| format!("line {}: bad softirq field in {line:?}", n + 1))?;
                continue;
            }
            _ => continue,
        };
        *slot = fields
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("line {}: bad {key} value in {line:?}", n + 1))?;
    }
    Ok(st)
}

struct StatCollector {
    paths: Arc<HostPaths>,
    softirq: bool,
}

impl HostCollector for StatCollector {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.paths.proc("stat");
        let st = parse(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        out.counter("node_intr_total", "Total number of interrupts serviced.", &[], st.interrupts as f64);
        out.counter("node_context_switches_total", "Total number of context switches.", &[], st.context_switches as f64);
        out.counter("node_forks_total", "Total number of forks.", &[], st.forks as f64);
        out.gauge("node_boot_time_seconds", "Node boot time, in unixtime.", &[], st.boot_time as f64);
        out.gauge("node_procs_running", "Number of processes in runnable state.", &[], st.procs_running as f64);
        out.gauge("node_procs_blocked", "Number of processes blocked waiting for I/O to complete.", &[], st.procs_blocked as f64);
        if self.softirq {
            let fam = out.family("node_softirqs_total", "Number of softirq calls.", Kind::Counter);
            for (vector, v) in SOFTIRQ_VECTORS.iter().zip(&st.softirqs) {
                fam.add(&[("vector", vector)], *v as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(StatCollector { paths: cx.paths.clone(), softirq: o.stat_softirq })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters() {
        let st = parse("cpu  1 2 3\nintr 8885917 17 0\nctxt 38014093\nbtime 1418183276\nprocesses 26442\nprocs_running 2\nprocs_blocked 0\nsoftirq 5057579 250191 1481983 1647 211099 186066 0 1783454 622196 12499 508444\n").unwrap();
        assert_eq!(st.interrupts, 8885917);
        assert_eq!(st.boot_time, 1418183276);
        assert_eq!(st.softirqs.len(), 10);
        assert_eq!(st.softirqs[9], 508444);
    }

    #[test]
    fn garbled_lines_name_the_line() {
        let err = parse("ctxt 1\nbtime abc\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        assert!(parse("softirq 1 2 x\n").is_err());
        assert!(parse("ctxt\n").is_err());
    }
}
