//! The one table of collectors (name, whether it runs by default, how it
//! is built from its options) and the collector switches
//! (`--collector.NAME`, `--no-collector.NAME`, `--collector.disable-defaults`).
//!
//! This is the one module that knows both the command line and the
//! collectors: a collector is built from its own options and a
//! [`Context`]; it never sees the command line. Adding a collector is one
//! module plus one line in [`COLLECTORS`] (and a field in
//! [`crate::cli::Flags`] when it has flags).

use std::sync::Arc;

use crate::cli::{self, CliError, Flags};
use crate::collector::{BuildError, Collector, Context, HostPaths, Probe};
use crate::config::Loaded;
use crate::scrape::{Engine, NotRunning, Standing};
use crate::{compat, docker, host, nut, proxmox};

/// Everything a serving exporter is built from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The merged flags.
    pub flags: Flags,
    /// Where host collectors read.
    pub paths: Arc<HostPaths>,
    /// Names of the collectors that run, in table order.
    pub enabled: Vec<&'static str>,
    /// The configuration file, when one was given.
    pub config: Option<Loaded>,
    /// Collectors node_exporter has that were switched on here but are
    /// not built ([`compat::UNBUILT`]).
    pub unbuilt: Vec<&'static compat::Unbuilt>,
    /// Warnings to log at start: deprecated flag names, flags without effect.
    pub warnings: Vec<String>,
}

impl Settings {
    /// What every collector is built with besides its options.
    pub fn context(&self) -> Context<'_> {
        Context::new(&self.paths)
    }

    /// The context of a collector with a section of the configuration file.
    pub fn context_with<S>(&self, section: impl FnOnce(&Loaded) -> Option<&S>) -> Context<'_, S> {
        let file = self.config.as_ref();
        self.context().with_section(file.and_then(section), file.map(Loaded::locator))
    }
}

/// Builds a collector from the settings; `Ok(None)` when it has nothing to
/// do with these settings (a NUT collector with no target, say).
pub type Constructor = fn(&Settings) -> Result<Option<Collector>, BuildError>;

/// One row of the table.
#[derive(Clone, Copy)]
pub struct Entry {
    /// Name used in flags (`--collector.NAME`) and in the `collector` label.
    pub name: &'static str,
    /// Whether it runs without being named.
    pub default_enabled: bool,
    /// How to build it.
    pub build: Constructor,
    /// Why it does nothing when its constructor returns `Ok(None)`.
    pub idle: &'static str,
}

/// One row of the table: `entry!("name", default_on, |settings| constructor)`,
/// with, for a collector whose constructor may decide there is nothing to
/// do, why: `entry!("name", default_on, constructor, "no such device")`.
#[macro_export]
macro_rules! entry {
    ($name:literal, $on:expr, $build:expr) => {
        $crate::registry::Entry { name: $name, default_enabled: $on, build: $build, idle: "nothing to read on this machine" }
    };
    ($name:literal, $on:expr, $build:expr, $idle:literal) => {
        $crate::registry::Entry { name: $name, default_enabled: $on, build: $build, idle: $idle }
    };
}

/// Every collector, in the order they are listed on the landing page.
/// Defaults follow node_exporter's for the host collectors.
pub static COLLECTORS: &[Entry] = &[
    entry!("arp", true, |s| host::arp::build(&s.flags.arp, &s.context())),
    entry!("bcache", true, |s| host::bcache::build(&s.flags.bcache, &s.context())),
    entry!("bcachefs", true, |s| host::bcachefs::build(&s.context())),
    entry!("bonding", true, |s| host::bonding::build(&s.context())),
    entry!("btrfs", true, |s| host::btrfs::build(&s.context())),
    entry!("buddyinfo", false, |s| host::buddyinfo::build(&s.context())),
    entry!("cgroups", false, |s| host::cgroups::build(&s.context())),
    entry!("conntrack", true, |s| host::conntrack::build(&s.context())),
    entry!("cpu", true, |s| host::cpu::build(&s.flags.cpu, &s.context())),
    entry!("cpu_vulnerabilities", false, |s| host::cpu_vulnerabilities::build(&s.context())),
    entry!("cpufreq", true, |s| host::cpufreq::build(&s.context())),
    entry!("diskstats", true, |s| host::diskstats::build(&s.flags.diskstats, &s.context())),
    entry!("dmi", true, |s| host::dmi::build(&s.context())),
    entry!("dmmultipath", true, |s| host::dmmultipath::build(&s.context())),
    entry!("docker", true, |s| docker::build(&s.flags.docker, &s.context()), "no Docker socket at the default path (set --collector.docker.host)"),
    entry!("drbd", false, |s| host::drbd::build(&s.context()), "no /proc/drbd (drbd module not loaded)"),
    entry!("drm", false, |s| host::drm::build(&s.context())),
    entry!("edac", true, |s| host::edac::build(&s.context()), "no EDAC memory controllers in sysfs"),
    entry!("entropy", true, |s| host::entropy::build(&s.context())),
    entry!("fibrechannel", true, |s| host::fibrechannel::build(&s.context())),
    entry!("filefd", true, |s| host::filefd::build(&s.context())),
    entry!("filesystem", true, |s| host::filesystem::build(&s.flags.filesystem, &s.context())),
    entry!("hwmon", true, |s| host::hwmon::build(&s.flags.hwmon, &s.context())),
    entry!("infiniband", true, |s| host::infiniband::build(&s.flags.infiniband, &s.context())),
    entry!("interrupts", false, |s| host::interrupts::build(&s.flags.interrupts, &s.context())),
    entry!("ipvs", true, |s| host::ipvs::build(&s.flags.ipvs, &s.context())),
    entry!("kernel_hung", true, |s| host::kernel_hung::build(&s.context())),
    entry!("ksmd", false, |s| host::ksmd::build(&s.context())),
    entry!("lnstat", false, |s| host::lnstat::build(&s.context())),
    entry!("loadavg", true, |s| host::loadavg::build(&s.context())),
    entry!("mdadm", true, |s| host::mdadm::build(&s.context())),
    entry!("meminfo", true, |s| host::meminfo::build(&s.context())),
    entry!("meminfo_numa", false, |s| host::meminfo_numa::build(&s.context())),
    entry!("mmc", true, |s| host::mmc::build(&s.context()), "no block devices in sysfs"),
    entry!("mountstats", false, |s| host::mountstats::build(&s.context())),
    entry!("netclass", true, |s| host::netclass::build(&s.flags.netclass, &s.context())),
    entry!("netdev", true, |s| host::netdev::build(&s.flags.netdev, &s.context())),
    entry!("netstat", true, |s| host::netstat::build(&s.flags.netstat, &s.context())),
    entry!("nfs", true, |s| host::nfs::build(&s.context()), "no /proc/net/rpc/nfs (NFS client not loaded)"),
    entry!("nfsd", true, |s| host::nfsd::build(&s.context()), "no /proc/net/rpc/nfsd (NFS server not loaded)"),
    entry!("nvme", true, |s| host::nvme::build(&s.context())),
    entry!("nvmesubsystem", false, |s| host::nvmesubsystem::build(&s.context())),
    entry!("os", true, |s| host::os::build(&s.context())),
    entry!("pcidevice", false, |s| host::pcidevice::build(&s.flags.pcidevice, &s.context())),
    entry!("powersupplyclass", true, |s| host::powersupplyclass::build(&s.flags.powersupplyclass, &s.context())),
    entry!("pressure", true, |s| host::pressure::build(&s.context())),
    entry!(
        "qdisc",
        false,
        |s| host::qdisc::build(&s.flags.qdisc, &s.context()),
        "qdisc statistics come from rtnetlink, which this exporter does not implement; only --collector.qdisc.fixtures is read"
    ),
    entry!("rapl", true, |s| host::rapl::build(&s.flags.rapl, &s.context())),
    entry!("raspberrypi", true, |s| host::raspberrypi::build(&s.context()), "not a Raspberry Pi (no firmware device in sysfs)"),
    entry!("processes", false, |s| host::processes::build(&s.context())),
    entry!("schedstat", true, |s| host::schedstat::build(&s.context())),
    entry!("selinux", true, |s| host::selinux::build(&s.context())),
    entry!("slabinfo", false, |s| host::slabinfo::build(&s.flags.slabinfo, &s.context())),
    entry!("sockstat", true, |s| host::sockstat::build(&s.context())),
    entry!("softirqs", false, |s| host::softirqs::build(&s.context())),
    entry!("softnet", true, |s| host::softnet::build(&s.context())),
    entry!("stat", true, |s| host::stat::build(&s.flags.stat, &s.context())),
    entry!("swap", false, |s| host::swap::build(&s.context())),
    entry!("sysctl", false, |s| host::sysctl::build(&s.flags.sysctl, &s.context())),
    entry!("tapestats", true, |s| host::tapestats::build(&s.flags.tapestats, &s.context())),
    entry!("textfile", true, |s| host::textfile::build(&s.flags.textfile, &s.context())),
    entry!("thermal_zone", true, |s| host::thermal_zone::build(&s.context())),
    entry!("time", true, |s| host::time::build(&s.context())),
    entry!("timex", true, |s| host::timex::build(&s.context())),
    entry!("udp_queues", true, |s| host::udp_queues::build(&s.context())),
    entry!("uname", true, |s| host::uname::build(&s.context())),
    entry!("vmstat", true, |s| host::vmstat::build(&s.flags.vmstat, &s.context())),
    entry!("watchdog", true, |s| host::watchdog::build(&s.context())),
    entry!("xfs", true, |s| host::xfs::build(&s.context())),
    entry!("zfs", true, |s| host::zfs::build(&s.context())),
    entry!(
        "nut",
        true,
        |s| nut::build(&s.flags.nut, &s.context_with(|c| c.file.nut.as_ref())),
        "no upsd to read (set --collector.nut.target or nut: in the configuration file)"
    ),
    entry!(
        "proxmox",
        true,
        |s| proxmox::build(&s.flags.proxmox, &s.context_with(|c| c.file.proxmox.as_ref())),
        "no Proxmox API to read (set --collector.proxmox.url or proxmox: in the configuration file)"
    ),
    entry!("zoneinfo", false, |s| host::zoneinfo::build(&s.context())),
    entry!(
        "wifi",
        false,
        |s| host::wifi::build(&s.flags.wifi, &s.context()),
        "WiFi statistics come from nl80211, which this exporter does not implement; only --collector.wifi.fixtures is read"
    ),
    entry!("xfrm", false, |s| host::xfrm::build(&s.context())),
];

/// Looks a collector up by name.
pub fn find(name: &str) -> Option<&'static Entry> {
    COLLECTORS.iter().find(|e| e.name == name)
}

/// A collector switch: its name and whether it turns the collector on.
type Switch = (String, bool);

/// Takes the collector switches (`--collector.NAME`, `--no-collector.NAME`,
/// `--collector.NAME=false`) off the arguments.
fn split_switches(args: &[String]) -> (Vec<String>, Vec<Switch>) {
    let mut rest = Vec::with_capacity(args.len());
    let mut switches = Vec::new();
    for arg in args {
        if let Some(body) = arg.strip_prefix("--no-collector.") {
            if !body.contains('.') && !body.contains('=') && body != "disable-defaults" {
                switches.push((body.to_owned(), false));
                continue;
            }
        }
        if let Some(body) = arg.strip_prefix("--collector.") {
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            if !name.contains('.') && name != "disable-defaults" {
                let on = !matches!(value, Some("false") | Some("0"));
                switches.push((name.to_owned(), on));
                continue;
            }
        }
        rest.push(arg.clone());
    }
    (rest, switches)
}

/// Parses `args` (without the program name) and the configuration file they
/// name into settings, with the collectors of [`COLLECTORS`]. Nothing is
/// started.
pub fn parse_settings(args: &[String]) -> Result<Settings, CliError> {
    parse_settings_with(COLLECTORS, args)
}

/// [`parse_settings`] with another table of collectors.
pub fn parse_settings_with(table: &[Entry], args: &[String]) -> Result<Settings, CliError> {
    let (args, mut warnings) = compat::rewrite_aliases(args).map_err(CliError::Invalid)?;
    let (args, ignored) = compat::take_ignored(&args);
    warnings.extend(ignored);
    let (cli_rest, cli_switches) = split_switches(&args);
    let config = cli::config_file(&cli_rest)?;

    let (file_rest, file_switches) = match &config {
        Some(c) => {
            let (file_args, ignored) = compat::take_ignored(&c.as_args());
            warnings.extend(ignored);
            split_switches(&file_args)
        }
        None => (Vec::new(), Vec::new()),
    };
    if let Some(c) = &config {
        cli::check_file_flags(c, &file_rest)?;
        for (name, _) in &file_switches {
            if !table.iter().any(|e| e.name == name) && compat::unbuilt(name).is_none() {
                return Err(c.error_at_key(&format!("collector.{name}"), format!("flags: unknown collector {name:?}")).into());
            }
        }
    }
    let flags = cli::parse_flags(file_rest.into_iter().chain(cli_rest))?;

    let mut on: Vec<(&'static str, bool)> =
        table.iter().map(|e| (e.name, e.default_enabled && !flags.disable_defaults)).collect();
    let mut unbuilt: Vec<(&'static compat::Unbuilt, bool)> =
        compat::UNBUILT.iter().map(|u| (u, u.default_enabled && !flags.disable_defaults)).collect();
    for (name, value) in file_switches.iter().chain(cli_switches.iter()) {
        match on.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = *value,
            None if compat::unbuilt(name).is_some() => {
                if let Some(slot) = unbuilt.iter_mut().find(|(u, _)| u.name == name) {
                    slot.1 = *value;
                    if *value {
                        warnings.push(format!("collector {name} is switched on but not built in this exporter: it {}", slot.0.why));
                    }
                }
            }
            None => {
                return Err(CliError::Invalid(format!(
                    "unknown collector {name:?} (known: {})",
                    table.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
                )))
            }
        }
    }
    let paths = Arc::new(HostPaths {
        procfs: flags.procfs.clone(),
        sysfs: flags.sysfs.clone(),
        rootfs: flags.rootfs.clone(),
        udev_data: flags.udev_data.clone(),
    });
    let unbuilt: Vec<&'static compat::Unbuilt> = unbuilt.into_iter().filter(|(_, v)| *v).map(|(u, _)| u).collect();
    Ok(Settings { enabled: on.into_iter().filter(|(_, v)| *v).map(|(n, _)| n).collect(), flags, paths, config, unbuilt, warnings })
}

/// Built collectors by name, in table order.
type Built = Vec<(&'static str, Collector)>;

/// Builds every enabled collector of `table`, in table order.
pub fn build_enabled(table: &[Entry], settings: &Settings) -> Result<Vec<(&'static str, Collector)>, BuildError> {
    Ok(build_table(table, settings)?.0)
}

/// Builds every enabled collector of `table`, in table order, and says why
/// each of the others does not run.
fn build_table(table: &[Entry], settings: &Settings) -> Result<(Built, Vec<NotRunning>), BuildError> {
    let mut collectors = Vec::new();
    let mut others = Vec::new();
    for entry in table {
        if !settings.enabled.contains(&entry.name) {
            let reason = if entry.default_enabled && settings.flags.disable_defaults {
                format!("--collector.disable-defaults (--collector.{} turns it on)", entry.name)
            } else if entry.default_enabled {
                format!("switched off (--no-collector.{})", entry.name)
            } else {
                format!("off by default (--collector.{} turns it on)", entry.name)
            };
            others.push(NotRunning { name: entry.name, state: Standing::Disabled, reason });
            continue;
        }
        match (entry.build)(settings)? {
            Some(c) => collectors.push((entry.name, c)),
            None => others.push(NotRunning { name: entry.name, state: Standing::Idle, reason: entry.idle.to_owned() }),
        }
    }
    for u in compat::UNBUILT {
        let (state, reason) = if settings.unbuilt.iter().any(|on| on.name == u.name) {
            (Standing::Unbuilt, format!("not built in this exporter: it {}", u.why))
        } else {
            (Standing::Disabled, format!("off (node_exporter's; not built in this exporter: it {})", u.why))
        };
        others.push(NotRunning { name: u.name, state, reason });
    }
    Ok((collectors, others))
}

/// The scrape engine over every enabled collector.
pub fn engine(settings: &Settings) -> Result<Engine, BuildError> {
    let (collectors, others) = build_table(COLLECTORS, settings)?;
    Ok(Engine::from_collectors(collectors).with_not_running(others).with_exporter_metrics(!settings.flags.disable_exporter_metrics))
}

/// The handler of `/probe`: NUT's, when `--collector.nut.probe` is on.
pub fn probe(settings: &Settings) -> Result<Option<Arc<dyn Probe>>, BuildError> {
    let prober = nut::build_prober(&settings.flags.nut, &settings.context_with(|c| c.file.nut.as_ref()))?;
    Ok(prober.map(|p| Arc::new(p) as Arc<dyn Probe>))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn collector_switches_follow_node_exporter() {
        let s = parse_settings(&args(&["--no-collector.cpu", "--collector.disable-defaults", "--collector.loadavg"])).unwrap();
        assert_eq!(s.enabled, vec!["loadavg"]);
        let s = parse_settings(&args(&["--no-collector.cpu"])).unwrap();
        assert!(!s.enabled.contains(&"cpu"));
        assert!(s.enabled.contains(&"meminfo"));
    }

    #[test]
    fn a_collector_is_either_built_or_listed_as_unbuilt() {
        for u in compat::UNBUILT {
            assert!(find(u.name).is_none(), "{} is built and listed as unbuilt", u.name);
        }
        let s = parse_settings(&args(&["--collector.systemd", "--no-collector.cpu"])).unwrap();
        assert!(s.unbuilt.iter().any(|u| u.name == "systemd"));
        assert_eq!(s.warnings.iter().filter(|w| w.contains("systemd")).count(), 1, "{:?}", s.warnings);
        let s = parse_settings(&args(&[])).unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    /// node_exporter's misspelled `collector.qdisk.*` flags, through the
    /// aliases, to the qdisc collector.
    #[test]
    fn the_misspelled_flags_stand_in_for_the_right_ones_but_not_beside_them() {
        let paths = std::sync::Arc::new(HostPaths::default());
        let build_with = |o: &host::qdisc::Options| host::qdisc::build(o, &Context::new(&paths));
        let s = parse_settings(&args(&["--collector.qdisk.device-include=eth0"])).unwrap();
        assert_eq!(s.flags.qdisc.qdisc_device_include.as_deref(), Some("eth0"));
        assert!(build_with(&s.flags.qdisc).is_ok());
        let s = parse_settings(&args(&["--collector.qdisk.device-exclude=eth0"])).unwrap();
        assert!(build_with(&s.flags.qdisc).is_ok());
        let both = parse_settings(&args(&["--collector.qdisk.device-include=a", "--collector.qdisc.device-include=b"])).err().unwrap().to_string();
        assert!(both.contains("mutually exclusive"), "{both}");
        let s = parse_settings(&args(&["--collector.qdisc.device-include=a", "--collector.qdisk.device-exclude=b"])).unwrap();
        assert!(build_with(&s.flags.qdisc).is_err());
    }

    #[test]
    fn unknown_collector_and_flag_are_refused() {
        assert!(parse_settings(&args(&["--collector.nonesuch"])).is_err());
        assert!(parse_settings(&args(&["--web.nonesuch=1"])).is_err());
    }
}
