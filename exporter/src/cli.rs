//! The command line: node_exporter's flag conventions, each collector's
//! options flattened in, merged with the configuration file's `flags:`
//! (flags win). The collector switches (`--collector.NAME`) are the
//! registry's; see [`crate::registry`].

use std::path::PathBuf;

use clap::Parser;

use crate::config::{ConfigError, Loaded};
use crate::host;

/// The default listen port: one no other homelab exporter uses.
pub const DEFAULT_PORT: u16 = 9839;

/// What `--version` prints after the name: the version, the revision it was
/// built from (`HOMELAB_REVISION` at build time, which scripts/release.sh and
/// scripts/test.sh set from git) and the platform it was built for.
pub fn version_line() -> &'static str {
    static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LINE.get_or_init(|| {
        let libc = if cfg!(target_env = "musl") { "musl, static" } else { "gnu" };
        format!(
            "{} (revision {}, {}-{}, {libc})",
            env!("CARGO_PKG_VERSION"),
            option_env!("HOMELAB_REVISION").unwrap_or("unknown"),
            std::env::consts::ARCH,
            std::env::consts::OS
        )
    })
}

/// Flags of `homelab-exporter [serve]`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "homelab-exporter",
    version = version_line(),
    about = "Host, UPS, Docker and Proxmox metrics for Prometheus, in one small binary.",
    args_override_self = true,
    after_help = "Collectors are switched with --collector.NAME and --no-collector.NAME; \
                  --collector.disable-defaults keeps only those named. Subcommands: \
                  rules, dashboards, targets, check-config, healthcheck. node_exporter's \
                  flags that have nothing behind them here (those of the collectors not \
                  built, --runtime.gomaxprocs, --web.systemd-socket) are accepted with a \
                  warning; its deprecated spellings are taken as the current flags."
)]
pub struct Flags {
    /// Addresses on which to expose metrics and the web interface (repeatable).
    #[arg(long = "web.listen-address", default_value = ":9839", action = clap::ArgAction::Append)]
    pub listen_address: Vec<String>,
    /// Exclude metrics about the exporter itself (process_*).
    #[arg(long = "web.disable-exporter-metrics", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub disable_exporter_metrics: bool,
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

    /// Flags of the `arp` collector.
    #[command(flatten)]
    pub arp: host::arp::Options,
    /// Flags of the `bcache` collector.
    #[command(flatten)]
    pub bcache: host::bcache::Options,
    /// Flags of the `cpu` collector.
    #[command(flatten)]
    pub cpu: host::cpu::Options,
    /// Flags of the `diskstats` collector.
    #[command(flatten)]
    pub diskstats: host::diskstats::Options,
    /// Flags of the `docker` collector.
    #[command(flatten)]
    pub docker: crate::docker::Options,
    /// Flags of the `filesystem` collector.
    #[command(flatten)]
    pub filesystem: host::filesystem::Options,
    /// Flags of the `hwmon` collector.
    #[command(flatten)]
    pub hwmon: host::hwmon::Options,
    /// Flags of the `interrupts` collector.
    #[command(flatten)]
    pub interrupts: host::interrupts::Options,
    /// Flags of the `infiniband` collector.
    #[command(flatten)]
    pub infiniband: host::infiniband::Options,
    /// Flags of the `ipvs` collector.
    #[command(flatten)]
    pub ipvs: host::ipvs::Options,
    /// Flags of the `netclass` collector.
    #[command(flatten)]
    pub netclass: host::netclass::Options,
    /// Flags of the `netdev` collector.
    #[command(flatten)]
    pub netdev: host::netdev::Options,
    /// Flags of the `netstat` collector.
    #[command(flatten)]
    pub netstat: host::netstat::Options,
    /// Flags of the `pcidevice` collector.
    #[command(flatten)]
    pub pcidevice: host::pcidevice::Options,
    /// Flags of the `powersupplyclass` collector.
    #[command(flatten)]
    pub powersupplyclass: host::powersupplyclass::Options,
    /// Flags of the `rapl` collector.
    #[command(flatten)]
    pub rapl: host::rapl::Options,
    /// Flags of the `slabinfo` collector.
    #[command(flatten)]
    pub slabinfo: host::slabinfo::Options,
    /// Flags of the `qdisc` collector.
    #[command(flatten)]
    pub qdisc: host::qdisc::Options,
    /// Flags of the `stat` collector.
    #[command(flatten)]
    pub stat: host::stat::Options,
    /// Flags of the `tapestats` collector.
    #[command(flatten)]
    pub tapestats: host::tapestats::Options,
    /// Flags of the `sysctl` collector.
    #[command(flatten)]
    pub sysctl: host::sysctl::Options,
    /// Flags of the `textfile` collector.
    #[command(flatten)]
    pub textfile: host::textfile::Options,
    /// Flags of the `vmstat` collector.
    #[command(flatten)]
    pub vmstat: host::vmstat::Options,
    /// Flags of the `wifi` collector.
    #[command(flatten)]
    pub wifi: host::wifi::Options,
    /// Flags of the `nut` collector.
    #[command(flatten)]
    pub nut: crate::nut::Options,
    /// Flags of the `proxmox` collector.
    #[command(flatten)]
    pub proxmox: crate::proxmox::Options,
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

/// The program name clap sees before the arguments.
const PROGRAM: &str = "homelab-exporter";

/// Turns `--no-FLAG` into `--FLAG=false`, for boolean flags.
fn negations(args: impl IntoIterator<Item = String>) -> impl Iterator<Item = String> {
    args.into_iter().map(|arg| match arg.strip_prefix("--no-") {
        Some(body) if !body.contains('=') => format!("--{body}=false"),
        _ => arg,
    })
}

/// Parses flags (collector switches already taken off by the registry).
pub fn parse_flags(args: impl IntoIterator<Item = String>) -> Result<Flags, clap::Error> {
    Flags::try_parse_from(std::iter::once(PROGRAM.to_owned()).chain(negations(args)))
}

/// Reads the configuration file that `args` name, if any.
pub fn config_file(args: &[String]) -> Result<Option<Loaded>, CliError> {
    let first = parse_flags(args.iter().cloned())?;
    Ok(first.config_file.as_deref().map(Loaded::read).transpose()?)
}

/// Checks the flags of the file's `flags:` section on their own, so that
/// an error names its line.
pub fn check_file_flags(file: &Loaded, args: &[String]) -> Result<(), CliError> {
    if let Err(e) = parse_flags(args.iter().cloned()) {
        let key = file.file.flags.keys().find(|k| e.to_string().contains(k.as_str())).cloned().unwrap_or_default();
        let first_line = e.to_string().lines().next().unwrap_or("invalid flag").trim_start_matches("error: ").to_owned();
        return Err(file.error_at_key(&key, format!("flags.{key}: {first_line}")).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Flags::command().debug_assert();
    }

    #[test]
    fn negated_flags_are_false() {
        let flags = parse_flags(["--no-collector.stat.softirq".to_owned()]).unwrap();
        assert!(!flags.stat.stat_softirq);
        assert!(parse_flags(["--web.nonesuch=1".to_owned()]).is_err());
    }
}
