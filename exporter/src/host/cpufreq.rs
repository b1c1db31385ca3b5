//! The `cpufreq` collector: CPU and scaling frequencies and the governor of
//! each CPU from `/sys/devices/system/cpu/cpu*/cpufreq`.

use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr, read_u64};
use crate::metrics::{Kind, Snapshot};

struct Cpufreq(Arc<HostPaths>);

/// kHz attributes and the metric each becomes.
const ATTRS: [(&str, &str, &str); 6] = [
    ("cpuinfo_cur_freq", "node_cpu_frequency_hertz", "Current CPU thread frequency in hertz."),
    ("cpuinfo_max_freq", "node_cpu_frequency_max_hertz", "Maximum CPU thread frequency in hertz."),
    ("cpuinfo_min_freq", "node_cpu_frequency_min_hertz", "Minimum CPU thread frequency in hertz."),
    ("scaling_cur_freq", "node_cpu_scaling_frequency_hertz", "Current scaled CPU thread frequency in hertz."),
    ("scaling_max_freq", "node_cpu_scaling_frequency_max_hertz", "Maximum scaled CPU thread frequency in hertz."),
    ("scaling_min_freq", "node_cpu_scaling_frequency_min_hertz", "Minimum scaled CPU thread frequency in hertz."),
];

impl HostCollector for Cpufreq {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.0.sys("devices/system/cpu");
        let cpus: Vec<String> = list_dir(&base)?
            .into_iter()
            .filter(|n| n.strip_prefix("cpu").is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit())))
            .collect();
        for cpu_dir in &cpus {
            let dir = base.join(cpu_dir).join("cpufreq");
            if !dir.exists() {
                continue;
            }
            let cpu = &cpu_dir[3..];
            for (file, name, help) in ATTRS {
                match read_u64(&dir.join(file)) {
                    Ok(khz) => out.gauge(name, help, &[("cpu", cpu)], khz as f64 * 1000.0),
                    Err(e) if e.is_not_found() => {}
                    // cpuinfo_cur_freq is readable by root only.
                    Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::PermissionDenied => {}
                    Err(e) => return Err(e),
                }
            }
            if let (Ok(available), Ok(current)) = (read_attr(&dir.join("scaling_available_governors")), read_attr(&dir.join("scaling_governor"))) {
                let fam = out.family("node_cpu_scaling_governor", "Current enabled CPU frequency governor.", Kind::Gauge);
                for g in available.split_ascii_whitespace() {
                    fam.add(&[("cpu", cpu), ("governor", g)], if g == current.trim() { 1.0 } else { 0.0 });
                }
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Cpufreq(cx.paths.clone()))))
}
