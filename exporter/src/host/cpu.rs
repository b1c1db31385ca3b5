//! The `cpu` collector: time per CPU and mode from `/proc/stat`, guest time,
//! thermal throttle counts and isolated CPUs from sysfs, and (with
//! `--collector.cpu.info`) the `/proc/cpuinfo` description of each CPU.

use std::collections::BTreeMap;
use std::sync::Arc;

use regex_lite::Regex;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr, read_u64};
use crate::metrics::{Kind, Snapshot};

/// USER_HZ: `/proc/stat` counts in hundredths of a second on Linux.
const USER_HZ: f64 = 100.0;

/// Flags of the `cpu` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Enables metric node_cpu_info.
    #[arg(long = "collector.cpu.info", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub cpu_info: bool,
    /// Filter the `flags` field in cpuInfo with a value that must be a regular expression.
    #[arg(long = "collector.cpu.info.flags-include")]
    pub cpu_info_flags_include: Option<String>,
    /// Filter the `bugs` field in cpuInfo with a value that must be a regular expression.
    #[arg(long = "collector.cpu.info.bugs-include")]
    pub cpu_info_bugs_include: Option<String>,
    /// Enables metric node_cpu_guest_seconds_total.
    #[arg(long = "collector.cpu.guest", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub cpu_guest: bool,
}

/// Ticks of one `cpuN` line of `/proc/stat`.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct CpuTimes {
    /// CPU number as written after `cpu`.
    pub cpu: String,
    /// user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice.
    pub ticks: [u64; 10],
}

/// Parses the per-CPU lines of `/proc/stat` (not the `cpu` total line).
pub fn parse_stat(text: &str) -> Result<Vec<CpuTimes>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("cpu") else { continue };
        if rest.starts_with(' ') {
            continue; // the total line
        }
        let mut fields = rest.split_ascii_whitespace();
        let cpu = fields.next().unwrap_or_default();
        if cpu.parse::<u32>().is_err() {
            return Err(format!("line {}: bad CPU number in {line:?}", n + 1));
        }
        let mut t = CpuTimes { cpu: cpu.to_owned(), ticks: [0; 10] };
        let mut count = 0;
        for (slot, f) in t.ticks.iter_mut().zip(fields) {
            *slot = f.parse().map_err(|_| format!("line {}: bad tick count {f:?}", n + 1))?;
            count += 1;
        }
        if count < 4 {
            return Err(format!("line {}: too few fields in {line:?}", n + 1));
        }
        out.push(t);
    }
    Ok(out)
}

/// One processor of `/proc/cpuinfo`, with the fields node_cpu_info reports.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct CpuInfo {
    /// `processor`.
    pub processor: String,
    /// `vendor_id` (x86) or `CPU implementer` (Arm).
    pub vendor: String,
    /// `cpu family` or `CPU architecture`.
    pub family: String,
    /// `model` or `CPU part`.
    pub model: String,
    /// `model name`.
    pub model_name: String,
    /// `stepping` or `CPU revision`.
    pub stepping: String,
    /// `microcode`.
    pub microcode: String,
    /// `cache size`.
    pub cachesize: String,
    /// `physical id`.
    pub package: String,
    /// `core id`.
    pub core: String,
    /// `cpu MHz`.
    pub mhz: Option<f64>,
    /// `flags` or `Features`.
    pub flags: Vec<String>,
    /// `bugs`.
    pub bugs: Vec<String>,
}

/// Parses `/proc/cpuinfo` (x86 and Arm layouts).
pub fn parse_cpuinfo(text: &str) -> Vec<CpuInfo> {
    let mut out: Vec<CpuInfo> = Vec::new();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else { continue };
        let (key, value) = (key.trim(), value.trim());
        if key == "processor" {
            out.push(CpuInfo { processor: value.to_owned(), package: "0".into(), core: value.to_owned(), ..Default::default() });
            continue;
        }
        let Some(cpu) = out.last_mut() else { continue };
        match key {
            "vendor_id" | "CPU implementer" => cpu.vendor = value.to_owned(),
            "cpu family" | "CPU architecture" => cpu.family = value.to_owned(),
            "model" | "CPU part" => cpu.model = value.to_owned(),
            "model name" => cpu.model_name = value.to_owned(),
            "stepping" | "CPU revision" => cpu.stepping = value.to_owned(),
            "microcode" => cpu.microcode = value.to_owned(),
            "cache size" => cpu.cachesize = value.to_owned(),
            "physical id" => cpu.package = value.to_owned(),
            "core id" => cpu.core = value.to_owned(),
            "cpu MHz" => cpu.mhz = value.parse().ok(),
            "flags" | "Features" => cpu.flags = value.split_ascii_whitespace().map(str::to_owned).collect(),
            "bugs" => cpu.bugs = value.split_ascii_whitespace().map(str::to_owned).collect(),
            _ => {}
        }
    }
    out
}

/// The most CPUs a CPU list may name, all ranges together (Linux builds
/// for at most 8192). A list naming more is garbled: refused, so that it
/// cannot take memory and a series per CPU without bound.
const MAX_LISTED_CPUS: usize = 65536;

/// Parses a kernel CPU list such as `1,3-5,9`.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().map_err(|_| format!("bad CPU range {part:?}"))?, b.parse().map_err(|_| format!("bad CPU range {part:?}"))?);
                if b < a || (b - a) as usize >= MAX_LISTED_CPUS - out.len() {
                    return Err(format!("bad CPU range {part:?} (at most {MAX_LISTED_CPUS} CPUs in all)"));
                }
                out.extend(a..=b);
            }
            None => {
                if out.len() >= MAX_LISTED_CPUS {
                    return Err(format!("more than {MAX_LISTED_CPUS} CPUs listed"));
                }
                out.push(part.parse().map_err(|_| format!("bad CPU number {part:?}"))?);
            }
        }
    }
    Ok(out)
}

struct Cpu {
    paths: Arc<HostPaths>,
    /// Each CPU's (package, core) from sysfs `topology/`, which is the
    /// hardware's and cannot change: read once per CPU (two files per CPU
    /// per scrape otherwise). A CPU whose topology cannot be read is tried
    /// again on the next scrape.
    topology: std::sync::Mutex<std::collections::HashMap<String, (String, String)>>,
    info: bool,
    guest: bool,
    flags_include: Option<Regex>,
    bugs_include: Option<Regex>,
}

const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

impl Cpu {
    fn times(&self, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.paths.proc("stat");
        let cpus = parse_stat(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        let fam = out.family("node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", Kind::Counter);
        for c in &cpus {
            for (i, mode) in MODES.iter().enumerate() {
                fam.add(&[("cpu", &c.cpu), ("mode", mode)], c.ticks[i] as f64 / USER_HZ);
            }
        }
        if self.guest {
            let fam = out.family("node_cpu_guest_seconds_total", "Seconds the CPUs spent in guests (VMs) for each mode.", Kind::Counter);
            for c in &cpus {
                fam.add(&[("cpu", &c.cpu), ("mode", "user")], c.ticks[8] as f64 / USER_HZ);
                fam.add(&[("cpu", &c.cpu), ("mode", "nice")], c.ticks[9] as f64 / USER_HZ);
            }
        }
        Ok(())
    }

    fn throttles(&self, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("devices/system/cpu");
        let Ok(entries) = list_dir(&base) else { return Ok(()) };
        let mut core: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut package: BTreeMap<String, u64> = BTreeMap::new();
        for name in entries.iter().filter(|n| n.strip_prefix("cpu").is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))) {
            let dir = base.join(name);
            let known = self.topology.lock().ok().and_then(|t| t.get(name).cloned());
            let (pkg, core_id) = match known {
                Some(ids) => ids,
                None => {
                    let Ok(pkg) = read_attr(&dir.join("topology/physical_package_id")) else { continue };
                    let Ok(core_id) = read_attr(&dir.join("topology/core_id")) else { continue };
                    if let Ok(mut t) = self.topology.lock() {
                        t.insert(name.clone(), (pkg.clone(), core_id.clone()));
                    }
                    (pkg, core_id)
                }
            };
            if let Ok(v) = read_u64(&dir.join("thermal_throttle/core_throttle_count")) {
                core.entry((pkg.clone(), core_id)).or_insert(v);
            }
            if let Ok(v) = read_u64(&dir.join("thermal_throttle/package_throttle_count")) {
                package.entry(pkg).or_insert(v);
            }
        }
        if !core.is_empty() {
            let fam = out.family("node_cpu_core_throttles_total", "Number of times this CPU core has been throttled.", Kind::Counter);
            for ((pkg, c), v) in &core {
                fam.add(&[("package", pkg), ("core", c)], *v as f64);
            }
        }
        if !package.is_empty() {
            let fam = out.family("node_cpu_package_throttles_total", "Number of times this CPU package has been throttled.", Kind::Counter);
            for (pkg, v) in &package {
                fam.add(&[("package", pkg)], *v as f64);
            }
        }
        let isolated_path = base.join("isolated");
        if let Ok(text) = read_attr(&isolated_path) {
            let cpus = parse_cpu_list(&text).map_err(|d| Error::parse(&isolated_path, d))?;
            if !cpus.is_empty() {
                let fam = out.family("node_cpu_isolated", "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.", Kind::Gauge);
                for c in cpus {
                    fam.add(&[("cpu", &c.to_string())], 1.0);
                }
            }
        }
        Ok(())
    }

    fn info(&self, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.paths.proc("cpuinfo");
        let cpus = parse_cpuinfo(&read_to_string(&path)?);
        let fam = out.family("node_cpu_info", "CPU information from /proc/cpuinfo.", Kind::Gauge);
        for c in &cpus {
            fam.add(
                &[
                    ("package", &c.package),
                    ("core", &c.core),
                    ("cpu", &c.processor),
                    ("vendor", &c.vendor),
                    ("family", &c.family),
                    ("model", &c.model),
                    ("model_name", &c.model_name),
                    ("microcode", &c.microcode),
                    ("stepping", &c.stepping),
                    ("cachesize", &c.cachesize),
                ],
                1.0,
            );
        }
        let fam = out.family("node_cpu_frequency_hertz", "CPU frequency in hertz from /proc/cpuinfo.", Kind::Gauge);
        for c in &cpus {
            if let Some(mhz) = c.mhz {
                fam.add(&[("package", &c.package), ("core", &c.core), ("cpu", &c.processor)], mhz * 1e6);
            }
        }
        if let Some(first) = cpus.first() {
            let help_flags = "The `flags` field of CPU information from /proc/cpuinfo taken from the first core.";
            let help_bugs = "The `bugs` field of CPU information from /proc/cpuinfo taken from the first core.";
            for (name, help, label, values, filter) in [
                ("node_cpu_flag_info", help_flags, "flag", &first.flags, &self.flags_include),
                ("node_cpu_bug_info", help_bugs, "bug", &first.bugs, &self.bugs_include),
            ] {
                // node_exporter reports these only when a filter is given.
                let Some(re) = filter else { continue };
                let fam = out.family(name, help, Kind::Gauge);
                for v in values.iter().filter(|v| re.is_match(v)) {
                    fam.add(&[(label, v)], 1.0);
                }
            }
        }
        Ok(())
    }
}

impl HostCollector for Cpu {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        if self.info {
            self.info(out)?;
        }
        self.times(out)?;
        self.throttles(out)
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let compile = |flag: &str, p: &Option<String>| {
        p.as_deref()
            .filter(|p| !p.is_empty())
            .map(|p| Regex::new(p).map_err(|e| BuildError { collector: "cpu", detail: format!("--{flag} {p:?}: {e}") }))
            .transpose()
    };
    Ok(Some(Collector::host(Cpu {
        paths: cx.paths.clone(),
        topology: std::sync::Mutex::default(),
        info: o.cpu_info,
        guest: o.cpu_guest,
        flags_include: compile("collector.cpu.info.flags-include", &o.cpu_info_flags_include)?,
        bugs_include: compile("collector.cpu.info.bugs-include", &o.cpu_info_bugs_include)?,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_per_cpu_lines_only() {
        let v = parse_stat("cpu  1 2 3 4\ncpu0 44490 19 21045 1087069 220 1 3410 0 2 1\nintr 5\n").unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].ticks, [44490, 19, 21045, 1087069, 220, 1, 3410, 0, 2, 1]);
        // Old kernels have fewer columns; missing ones are zero.
        assert_eq!(parse_stat("cpu0 1 2 3 4\n").unwrap()[0].ticks[4], 0);
    }

    #[test]
    fn garbled_stat_lines_are_errors() {
        assert!(parse_stat("cpu0 1 x 3 4\n").is_err());
        assert!(parse_stat("cpu0 1 2\n").is_err());
        assert!(parse_stat("cpuX 1 2 3 4\n").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("1,3-5,9\n").unwrap(), vec![1, 3, 4, 5, 9]);
        assert_eq!(parse_cpu_list("\n").unwrap(), Vec::<u32>::new());
        assert!(parse_cpu_list("5-3").is_err());
        assert!(parse_cpu_list("a").is_err());
    }

    /// Ranges were bounded one by one only: a few kilobytes of ranges
    /// named a hundred million CPUs, each to become a series (seen
    /// reviewing what the host_sys fuzz target reaches).
    #[test]
    fn cpu_lists_are_bounded_in_all() {
        let many = "0-65535,".repeat(2);
        assert!(parse_cpu_list(&many).unwrap_err().contains("at most 65536"));
        assert_eq!(parse_cpu_list("0-65535").unwrap().len(), 65536);
        assert!(parse_cpu_list("0-65535,7").is_err());
        assert!(parse_cpu_list("0-65536").is_err());
        assert!(parse_cpu_list(&"1,".repeat(65537)).is_err());
        assert_eq!(parse_cpu_list("0-4294967295").map_err(|e| e.contains("range")), Err(true));
    }

    #[test]
    fn parses_arm_cpuinfo() {
        let v = parse_cpuinfo("processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd crc32\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd08\nCPU revision\t: 3\n\nprocessor\t: 1\n");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].vendor, "0x41");
        assert_eq!(v[0].model, "0xd08");
        assert_eq!(v[0].flags, vec!["fp", "asimd", "crc32"]);
        assert_eq!(v[1].core, "1");
    }
}
