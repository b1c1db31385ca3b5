//! The `processes` collector (off by default, as in node_exporter): the
//! number of processes and threads, processes per state, and the kernel's
//! limits, from `/proc/<pid>/stat` and `/proc/sys/kernel/{pid_max,threads-max}`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::read_u64;
use crate::metrics::{Kind, Snapshot};

/// State letter and thread count of one `/proc/<pid>/stat`. The command
/// name may hold spaces and parentheses, so fields count from the last `)`.
pub fn parse_stat(text: &str) -> Option<(String, u64)> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut f = rest.split_ascii_whitespace();
    let state = f.next()?.to_owned();
    // After the state: ppid pgrp session tty_nr tpgid flags minflt cminflt
    // majflt cmajflt utime stime cutime cstime priority nice num_threads.
    let threads = f.nth(16)?.parse().ok()?;
    Some((state, threads))
}

struct Processes(Arc<HostPaths>);

impl HostCollector for Processes {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let dir = self.0.proc("");
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let (mut pids, mut threads) = (0u64, 0u64);
        let mut states: BTreeMap<String, u64> = BTreeMap::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            // A process may exit between the listing and the read: skip it.
            let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            let Some((state, n)) = parse_stat(&text) else { continue };
            pids += 1;
            threads += n;
            *states.entry(state).or_insert(0) += 1;
        }
        out.gauge("node_processes_pids", "Number of PIDs", &[], pids as f64);
        out.gauge("node_processes_threads", "Allocated threads in system", &[], threads as f64);
        let fam = out.family("node_processes_state", "Number of processes in each state.", Kind::Gauge);
        for (state, n) in &states {
            fam.add(&[("state", state)], *n as f64);
        }
        if let Ok(v) = read_u64(&self.0.proc("sys/kernel/pid_max")) {
            out.gauge("node_processes_max_processes", "Number of max PIDs limit", &[], v as f64);
        }
        if let Ok(v) = read_u64(&self.0.proc("sys/kernel/threads-max")) {
            out.gauge("node_processes_max_threads", "Limit of threads in the system", &[], v as f64);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Processes(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_state_and_threads() {
        let line = "1 (systemd) S 0 1 1 0 -1 4194560 9061 9416027 94 2620 36 98 54406 13885 20 0 1 0 29 109604864 2507\n";
        assert_eq!(super::parse_stat(line), Some(("S".into(), 1)));
        assert_eq!(super::parse_stat("7 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 4 0"), Some(("R".into(), 4)));
        assert_eq!(super::parse_stat("garbage"), None);
        assert_eq!(super::parse_stat("1 (x) S 1 2"), None);
    }
}
