//! The one table of collectors: name, whether it runs by default, and how
//! it is built from the settings. Adding a collector is one module plus one
//! line here.

use crate::cli::Settings;
use crate::collector::Collector;
use crate::host;

/// Why a collector could not be built from the settings.
#[derive(Debug, thiserror::Error)]
#[error("collector {collector}: {detail}")]
pub struct BuildError {
    /// The collector's name.
    pub collector: &'static str,
    /// What is wrong, naming the flag or key.
    pub detail: String,
}

/// Builds a collector from the settings; `Ok(None)` when it has nothing to
/// do with these settings (a NUT collector with no target, say).
pub type Constructor = fn(&Settings) -> Result<Option<Collector>, BuildError>;

/// One row of the table.
pub struct Entry {
    /// Name used in flags (`--collector.NAME`) and in the `collector` label.
    pub name: &'static str,
    /// Whether it runs without being named.
    pub default_enabled: bool,
    /// How to build it.
    pub build: Constructor,
}

macro_rules! entry {
    ($name:literal, $on:expr, $build:path) => {
        Entry { name: $name, default_enabled: $on, build: $build }
    };
}

/// Every collector, in the order they are listed on the landing page.
/// Defaults follow node_exporter's for the host collectors.
pub static COLLECTORS: &[Entry] = &[
    entry!("arp", true, host::arp::build),
    entry!("conntrack", true, host::conntrack::build),
    entry!("cpu", true, host::cpu::build),
    entry!("cpufreq", true, host::cpufreq::build),
    entry!("diskstats", true, host::diskstats::build),
    entry!("docker", true, crate::docker::build),
    entry!("entropy", true, host::entropy::build),
    entry!("filefd", true, host::filefd::build),
    entry!("filesystem", true, host::filesystem::build),
    entry!("hwmon", true, host::hwmon::build),
    entry!("interrupts", false, host::interrupts::build),
    entry!("loadavg", true, host::loadavg::build),
    entry!("mdadm", true, host::mdadm::build),
    entry!("meminfo", true, host::meminfo::build),
    entry!("netclass", true, host::netclass::build),
    entry!("netdev", true, host::netdev::build),
    entry!("netstat", true, host::netstat::build),
    entry!("os", true, host::os::build),
    entry!("powersupplyclass", true, host::powersupplyclass::build),
    entry!("pressure", true, host::pressure::build),
    entry!("processes", false, host::processes::build),
    entry!("schedstat", true, host::schedstat::build),
    entry!("sockstat", true, host::sockstat::build),
    entry!("softnet", true, host::softnet::build),
    entry!("stat", true, host::stat::build),
    entry!("textfile", true, host::textfile::build),
    entry!("thermal_zone", true, host::thermal_zone::build),
    entry!("time", true, host::time::build),
    entry!("timex", true, host::timex::build),
    entry!("udp_queues", true, host::udp_queues::build),
    entry!("uname", true, host::uname::build),
    entry!("vmstat", true, host::vmstat::build),
    entry!("watchdog", true, host::watchdog::build),
    entry!("nut", true, crate::nut::build),
    entry!("proxmox", true, crate::proxmox::build),
];

/// Looks a collector up by name.
pub fn find(name: &str) -> Option<&'static Entry> {
    COLLECTORS.iter().find(|e| e.name == name)
}
