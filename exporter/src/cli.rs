//! Command line and settings: node_exporter's flag conventions, merged with
//! the configuration file (flags win), checked before anything starts.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;

use crate::collector::HostPaths;
use crate::config::{ConfigError, Loaded};
use crate::host;
use crate::registry::COLLECTORS;

/// The default listen port: one no other homelab exporter uses.
pub const DEFAULT_PORT: u16 = 9839;

/// Flags of `homelab-exporter [serve]`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "homelab-exporter",
    version,
    about = "Host, UPS, Docker and Proxmox metrics for Prometheus, in one small binary.",
    args_override_self = true,
    after_help = "Collectors are switched with --collector.NAME and --no-collector.NAME; \
                  --collector.disable-defaults keeps only those named. Subcommands: \
                  rules, dashboards, targets, check-config, healthcheck."
)]
pub struct Flags {
    /// Address to listen on for the web interface and telemetry.
    #[arg(long = "web.listen-address", default_value = ":9839")]
    pub listen_address: String,
    /// Path under which metrics are exposed.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    pub telemetry_path: String,
    /// exporter-toolkit web configuration file (TLS, basic auth).
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    /// Maximum number of scrapes served at once (503 beyond it); 0 for no limit.
    #[arg(long = "web.max-requests", default_value_t = 40)]
    pub max_requests: usize,
    /// YAML configuration file.
    #[arg(long = "config.file")]
    pub config_file: Option<PathBuf>,
    /// Only log messages with this severity or above.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,
    /// Output format of log messages.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,
    /// procfs mountpoint.
    #[arg(long = "path.procfs", default_value = "/proc")]
    pub procfs: PathBuf,
    /// sysfs mountpoint.
    #[arg(long = "path.sysfs", default_value = "/sys")]
    pub sysfs: PathBuf,
    /// rootfs mountpoint.
    #[arg(long = "path.rootfs", default_value = "/")]
    pub rootfs: PathBuf,
    /// udev data path.
    #[arg(long = "path.udev.data", default_value = "/run/udev/data")]
    pub udev_data: PathBuf,
    /// Disable all collectors except those enabled by name.
    #[arg(long = "collector.disable-defaults", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub disable_defaults: bool,

    #[allow(missing_docs)]
    #[command(flatten)]
    pub arp: host::arp::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub conntrack: host::conntrack::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub cpu: host::cpu::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub cpufreq: host::cpufreq::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub diskstats: host::diskstats::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub docker: crate::docker::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub entropy: host::entropy::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub filefd: host::filefd::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub filesystem: host::filesystem::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub hwmon: host::hwmon::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub interrupts: host::interrupts::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub loadavg: host::loadavg::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub mdadm: host::mdadm::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub meminfo: host::meminfo::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub netclass: host::netclass::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub netdev: host::netdev::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub netstat: host::netstat::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub os: host::os::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub powersupplyclass: host::powersupplyclass::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub pressure: host::pressure::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub processes: host::processes::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub schedstat: host::schedstat::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub sockstat: host::sockstat::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub softnet: host::softnet::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub stat: host::stat::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub textfile: host::textfile::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub thermal_zone: host::thermal_zone::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub time: host::time::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub timex: host::timex::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub udp_queues: host::udp_queues::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub uname: host::uname::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub vmstat: host::vmstat::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub watchdog: host::watchdog::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub nut: crate::nut::Options,
    #[allow(missing_docs)]
    #[command(flatten)]
    pub proxmox: crate::proxmox::Options,
}

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
}

/// Why the command line or configuration was refused (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// clap's own message (bad flag, bad value, `--help`, `--version`).
    #[error("{0}")]
    Clap(#[from] clap::Error),
    /// The configuration file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A collector name that does not exist, or a setting a collector refused.
    #[error("{0}")]
    Invalid(String),
}

/// Splits collector switches (`--collector.NAME`, `--no-collector.NAME`,
/// `--collector.NAME=false`) off the arguments and turns `--no-FLAG` into
/// `--FLAG=false` for the remaining boolean flags.
fn split_switches(args: &[String]) -> (Vec<String>, Vec<(String, bool)>) {
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
        if let Some(body) = arg.strip_prefix("--no-") {
            if !body.contains('=') {
                rest.push(format!("--{body}=false"));
                continue;
            }
        }
        rest.push(arg.clone());
    }
    (rest, switches)
}

/// Parses `args` (without the program name) and the configuration file they
/// name into settings. Nothing is started.
pub fn parse_settings(args: &[String]) -> Result<Settings, CliError> {
    let (cli_rest, cli_switches) = split_switches(args);
    // A first pass finds the configuration file.
    let first = Flags::try_parse_from(std::iter::once("homelab-exporter".to_owned()).chain(cli_rest.iter().cloned()))?;
    let config = first.config_file.as_deref().map(Loaded::read).transpose()?;

    let (file_rest, file_switches) = match &config {
        Some(c) => split_switches(&c.as_args()),
        None => (Vec::new(), Vec::new()),
    };
    if let Some(c) = &config {
        // Check the file's flags on their own, so an error names its line.
        if let Err(e) = Flags::try_parse_from(std::iter::once("homelab-exporter".to_owned()).chain(file_rest.iter().cloned())) {
            let key = c.file.flags.keys().find(|k| e.to_string().contains(k.as_str())).cloned().unwrap_or_default();
            let first_line = e.to_string().lines().next().unwrap_or("invalid flag").trim_start_matches("error: ").to_owned();
            return Err(c.error_at_key(&key, format!("flags.{key}: {first_line}")).into());
        }
        for (name, _) in &file_switches {
            if crate::registry::find(name).is_none() {
                return Err(c.error_at_key(&format!("collector.{name}"), format!("flags: unknown collector {name:?}")).into());
            }
        }
    }
    let flags = Flags::try_parse_from(
        std::iter::once("homelab-exporter".to_owned()).chain(file_rest).chain(cli_rest),
    )?;

    let mut on: Vec<(&'static str, bool)> = COLLECTORS
        .iter()
        .map(|e| (e.name, e.default_enabled && !flags.disable_defaults))
        .collect();
    for (name, value) in file_switches.iter().chain(cli_switches.iter()) {
        match on.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = *value,
            None => {
                return Err(CliError::Invalid(format!(
                    "unknown collector {name:?} (known: {})",
                    COLLECTORS.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
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
    Ok(Settings {
        enabled: on.into_iter().filter(|(_, v)| *v).map(|(n, _)| n).collect(),
        flags,
        paths,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Flags::command().debug_assert();
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
    fn unknown_collector_and_flag_are_refused() {
        assert!(parse_settings(&args(&["--collector.nonesuch"])).is_err());
        assert!(parse_settings(&args(&["--web.nonesuch=1"])).is_err());
    }
}
