//! The exporter's own process metrics (`process_*`, as every Prometheus
//! client library exposes them) and its build info. Always read from the
//! real `/proc/self`, whatever `--path.procfs` says.

use crate::metrics::{Kind, Snapshot};

/// Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on
/// every Linux architecture we build for).
const USER_HZ: f64 = 100.0;

/// Fields of `/proc/self/stat` we use.
#[derive(Debug, Default, PartialEq)]
pub struct ProcStat {
    /// utime + stime in ticks.
    pub cpu_ticks: u64,
    /// Start time in ticks after boot.
    pub start_ticks: u64,
    /// Virtual memory size in bytes.
    pub vsize: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
    /// Number of threads.
    pub threads: u64,
}

/// Parses `/proc/<pid>/stat`. The command name may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    // After ")": state is field 3 of the man page, so man field N is f[N-3].
    let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(ProcStat {
        // Saturating: a garbled file must not overflow the sum.
        cpu_ticks: num(14)?.saturating_add(num(15)?),
        threads: num(20)?,
        start_ticks: num(22)?,
        vsize: num(23)?,
        rss_pages: num(24)?,
    })
}

/// A small procfs file of this process as text.
fn read(path: &str) -> Option<String> {
    let mut buf = Vec::new();
    crate::collector::read_into(std::path::Path::new(path), &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

fn boot_time() -> Option<f64> {
    let stat = read("/proc/stat")?;
    stat.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

/// The process's start time: read once (it cannot change), since the boot
/// time comes from `/proc/stat`, the most expensive file of `/proc` to
/// generate.
fn start_time(start_ticks: u64) -> Option<f64> {
    static START: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();
    *START.get_or_init(|| boot_time().map(|bt| bt + start_ticks as f64 / USER_HZ))
}

fn max_fds() -> Option<f64> {
    let limits = read("/proc/self/limits")?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_ascii_whitespace().nth(3).and_then(|v| v.parse().ok())
}

/// Gathers the build info and the process metrics into `out`. Missing
/// files are skipped.
pub fn gather(out: &mut Snapshot) {
    build_info(out);
    process(out);
}

/// `homelab_exporter_build_info`, which `--web.disable-exporter-metrics`
/// keeps (as node_exporter keeps `node_exporter_build_info`).
pub fn build_info(out: &mut Snapshot) {
    out.family(
        "homelab_exporter_build_info",
        "A metric with a constant '1' value labeled by version, revision (git, set at build time) and platform of homelab-exporter.",
        Kind::Gauge,
    )
    .add(
        &[
            ("version", env!("CARGO_PKG_VERSION")),
            ("revision", option_env!("HOMELAB_REVISION").unwrap_or("unknown")),
            ("os", std::env::consts::OS),
            ("arch", std::env::consts::ARCH),
        ],
        1.0,
    );
}

/// The `process_*` series.
fn process(out: &mut Snapshot) {
    if let Some(st) = read("/proc/self/stat").as_deref().and_then(parse_stat) {
        let page = rustix::param::page_size() as f64;
        out.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", &[], st.cpu_ticks as f64 / USER_HZ);
        out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.", &[], st.rss_pages as f64 * page);
        out.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", &[], st.vsize as f64);
        out.gauge("process_threads", "Number of OS threads in the process.", &[], st.threads as f64);
        if let Some(start) = start_time(st.start_ticks) {
            out.gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", &[], start);
        }
    }
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        out.gauge("process_open_fds", "Number of open file descriptors.", &[], dir.count() as f64);
    }
    if let Some(m) = max_fds() {
        out.gauge("process_max_fds", "Maximum number of open file descriptors.", &[], m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line = "1234 (we ird) (name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 5000 10485760 512 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
        let st = parse_stat(line).unwrap();
        assert_eq!(st, ProcStat { cpu_ticks: 300, threads: 3, start_ticks: 5000, vsize: 10485760, rss_pages: 512 });
        assert!(parse_stat("garbage").is_none());
        assert!(parse_stat("1 (x) S 1 2").is_none());
    }

    /// Found by fuzzing: utime + stime overflowed (a panic in a debug
    /// build) when the two counters were near `u64::MAX`.
    #[test]
    fn huge_cpu_times_do_not_overflow() {
        let max = u64::MAX;
        let line = format!("1 (x) S 1 1 1 0 -1 0 0 0 0 0 {max} {max} 0 0 20 0 1 0 5 6 7\n");
        assert_eq!(parse_stat(&line).map(|s| s.cpu_ticks), Some(max));
    }

    #[test]
    fn gathers_own_process() {
        let mut s = Snapshot::new();
        gather(&mut s);
        let names: Vec<&str> = s.families.iter().map(|f| &*f.name).collect();
        assert!(names.contains(&"process_resident_memory_bytes"), "{names:?}");
        assert!(names.contains(&"process_open_fds"), "{names:?}");
    }

    #[test]
    fn build_info_names_version_revision_and_platform() {
        let mut out = Snapshot::new();
        gather(&mut out);
        let info = out.families.iter().find(|f| f.name == "homelab_exporter_build_info").unwrap();
        let labels: Vec<(String, String)> = info.samples[0].labels.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["version", "revision", "os", "arch"]);
        assert!(labels.iter().all(|(_, v)| !v.is_empty()), "{labels:?}");
        assert!(labels.contains(&("arch".to_owned(), std::env::consts::ARCH.to_owned())));
    }
}
