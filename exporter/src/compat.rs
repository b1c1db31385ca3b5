//! node_exporter's command line where this exporter has nothing behind it:
//! the collectors it does not build (their switches are accepted, and the
//! start-up log and landing page say why they do nothing), the flags of
//! those collectors and the settings that mean nothing here (accepted, and
//! a warning names each one given), and node_exporter's deprecated flag
//! spellings (rewritten to the current flag, with a warning).
//!
//! A command line written for node_exporter 1.12 therefore starts this
//! exporter unchanged; `exporter/tests/it/node_exporter_flags.rs` holds it
//! to every flag and collector node_exporter documents.

/// A node_exporter collector this exporter does not build.
#[derive(Debug, Clone, Copy)]
pub struct Unbuilt {
    /// node_exporter's name for it (`--collector.NAME`).
    pub name: &'static str,
    /// Whether node_exporter runs it by default.
    pub default_enabled: bool,
    /// Why it is not built, worded for the log and the landing page.
    pub why: &'static str,
}

/// node_exporter's Linux collectors that are not built here.
pub static UNBUILT: &[Unbuilt] = &[
    Unbuilt { name: "ethtool", default_enabled: false, why: "reads the SIOCETHTOOL ioctl, which this exporter does not implement" },
    Unbuilt { name: "logind", default_enabled: false, why: "reads systemd-logind over D-Bus, which this exporter does not speak" },
    Unbuilt { name: "network_route", default_enabled: false, why: "reads the routing table over rtnetlink, which this exporter does not implement" },
    Unbuilt { name: "ntp", default_enabled: false, why: "deprecated in node_exporter; the timex collector reports the kernel's clock synchronisation" },
    Unbuilt { name: "perf", default_enabled: false, why: "needs perf_event_open and CAP_PERFMON, which a homelab exporter should not hold" },
    Unbuilt { name: "runit", default_enabled: false, why: "deprecated in node_exporter and not implemented here" },
    Unbuilt { name: "supervisord", default_enabled: false, why: "deprecated in node_exporter and not implemented here" },
    Unbuilt { name: "systemd", default_enabled: false, why: "reads systemd over D-Bus, which this exporter does not speak" },
    Unbuilt { name: "tcpstat", default_enabled: false, why: "reads sockets over NETLINK_SOCK_DIAG, which this exporter does not implement" },
];

/// Looks an unbuilt collector up by name.
pub fn unbuilt(name: &str) -> Option<&'static Unbuilt> {
    UNBUILT.iter().find(|u| u.name == name)
}

/// node_exporter's deprecated flag names and the flags that replaced them.
pub static ALIASES: &[(&str, &str)] = &[
    ("collector.diskstats.ignored-devices", "collector.diskstats.device-exclude"),
    ("collector.filesystem.ignored-fs-types", "collector.filesystem.fs-types-exclude"),
    ("collector.filesystem.ignored-mount-points", "collector.filesystem.mount-points-exclude"),
    ("collector.netdev.device-blacklist", "collector.netdev.device-exclude"),
    ("collector.netdev.device-whitelist", "collector.netdev.device-include"),
    ("collector.qdisk.device-exclude", "collector.qdisc.device-exclude"),
    ("collector.qdisk.device-include", "collector.qdisc.device-include"),
    ("collector.systemd.unit-blacklist", "collector.systemd.unit-exclude"),
    ("collector.systemd.unit-whitelist", "collector.systemd.unit-include"),
];

/// Rewrites deprecated flag names in `args` to the current ones; returns a
/// warning for each one rewritten. A deprecated flag given beside its
/// current name is refused, as node_exporter refuses it.
pub fn rewrite_aliases(args: &[String]) -> Result<(Vec<String>, Vec<String>), String> {
    let name_of = |arg: &str| arg.strip_prefix("--").map(|body| body.split_once('=').map_or(body, |(n, _)| n).to_owned());
    let given: Vec<String> = args.iter().filter_map(|a| name_of(a)).collect();
    let mut warnings = Vec::new();
    let mut out = Vec::with_capacity(args.len());
    for arg in args {
        let alias = name_of(arg).and_then(|name| ALIASES.iter().find(|(old, _)| *old == name));
        let Some((old, new)) = alias else {
            out.push(arg.clone());
            continue;
        };
        if given.iter().any(|g| g == new) {
            return Err(format!("--{old} and --{new} are mutually exclusive (--{old} is the deprecated name of --{new})"));
        }
        warnings.push(format!("flag --{old} is deprecated: use --{new} (it was taken as that)"));
        out.push(arg.replacen(old, new, 1));
    }
    Ok((out, warnings))
}

/// node_exporter's flags that this exporter accepts and ignores, each with
/// the reason. They belong to [`UNBUILT`] collectors or to node_exporter's
/// Go runtime and netlink readers.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
#[command(next_help_heading = "node_exporter flags accepted without effect")]
pub struct Ignored {
    /// node_exporter: the number of CPUs Go runs on. No effect here (one thread serves, four read files).
    #[arg(long = "runtime.gomaxprocs")]
    pub runtime_gomaxprocs: Option<String>,
    /// node_exporter: read interfaces over rtnetlink in the netclass collector. No effect: sysfs is read.
    #[arg(long = "collector.netclass.netlink", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub netclass_netlink: Option<bool>,
    /// node_exporter: expose per-device statistics from rtnetlink. No effect: the netdev collector reports them.
    #[arg(long = "collector.netclass_rtnl.with-stats", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub netclass_rtnl_with_stats: Option<bool>,
    /// node_exporter: node_network_address_info from getifaddrs. Not implemented.
    #[arg(long = "collector.netdev.address-info", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub netdev_address_info: Option<bool>,
    /// node_exporter: netdev's detailed error counters. Not implemented.
    #[arg(long = "collector.netdev.enable-detailed-metrics", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub netdev_enable_detailed_metrics: Option<bool>,
    /// node_exporter: an ifalias label on netdev's series. Not implemented.
    #[arg(long = "collector.netdev.label-ifalias", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub netdev_label_ifalias: Option<bool>,
    /// Flag of node_exporter's ethtool collector (not built here).
    #[arg(long = "collector.ethtool.device-include")]
    pub ethtool_device_include: Option<String>,
    /// Flag of node_exporter's ethtool collector (not built here).
    #[arg(long = "collector.ethtool.device-exclude")]
    pub ethtool_device_exclude: Option<String>,
    /// Flag of node_exporter's ethtool collector (not built here).
    #[arg(long = "collector.ethtool.metrics-include")]
    pub ethtool_metrics_include: Option<String>,
    /// Flag of node_exporter's ntp collector (not built here).
    #[arg(long = "collector.ntp.server")]
    pub ntp_server: Option<String>,
    /// Flag of node_exporter's ntp collector (not built here).
    #[arg(long = "collector.ntp.server-port")]
    pub ntp_server_port: Option<String>,
    /// Flag of node_exporter's ntp collector (not built here).
    #[arg(long = "collector.ntp.protocol-version")]
    pub ntp_protocol_version: Option<String>,
    /// Flag of node_exporter's ntp collector (not built here).
    #[arg(long = "collector.ntp.server-is-local", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub ntp_server_is_local: Option<bool>,
    /// Flag of node_exporter's ntp collector (not built here).
    #[arg(long = "collector.ntp.ip-ttl")]
    pub ntp_ip_ttl: Option<String>,
    /// Flag of node_exporter's ntp collector (not built here).
    #[arg(long = "collector.ntp.max-distance")]
    pub ntp_max_distance: Option<String>,
    /// Flag of node_exporter's ntp collector (not built here).
    #[arg(long = "collector.ntp.local-offset-tolerance")]
    pub ntp_local_offset_tolerance: Option<String>,
    /// Flag of node_exporter's perf collector (not built here).
    #[arg(long = "collector.perf.cpus")]
    pub perf_cpus: Option<String>,
    /// Flag of node_exporter's perf collector (not built here).
    #[arg(long = "collector.perf.tracepoint")]
    pub perf_tracepoint: Vec<String>,
    /// Flag of node_exporter's perf collector (not built here).
    #[arg(long = "collector.perf.disable-hardware-profilers", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub perf_disable_hardware_profilers: Option<bool>,
    /// Flag of node_exporter's perf collector (not built here).
    #[arg(long = "collector.perf.hardware-profilers")]
    pub perf_hardware_profilers: Vec<String>,
    /// Flag of node_exporter's perf collector (not built here).
    #[arg(long = "collector.perf.disable-software-profilers", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub perf_disable_software_profilers: Option<bool>,
    /// Flag of node_exporter's perf collector (not built here).
    #[arg(long = "collector.perf.software-profilers")]
    pub perf_software_profilers: Vec<String>,
    /// Flag of node_exporter's perf collector (not built here).
    #[arg(long = "collector.perf.disable-cache-profilers", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub perf_disable_cache_profilers: Option<bool>,
    /// Flag of node_exporter's perf collector (not built here).
    #[arg(long = "collector.perf.cache-profilers")]
    pub perf_cache_profilers: Vec<String>,
    /// Flag of node_exporter's runit collector (not built here).
    #[arg(long = "collector.runit.servicedir")]
    pub runit_servicedir: Option<String>,
    /// Flag of node_exporter's supervisord collector (not built here).
    #[arg(long = "collector.supervisord.url")]
    pub supervisord_url: Option<String>,
    /// Flag of node_exporter's systemd collector (not built here).
    #[arg(long = "collector.systemd.unit-include")]
    pub systemd_unit_include: Option<String>,
    /// Flag of node_exporter's systemd collector (not built here).
    #[arg(long = "collector.systemd.unit-exclude")]
    pub systemd_unit_exclude: Option<String>,
    /// Flag of node_exporter's systemd collector (not built here).
    #[arg(long = "collector.systemd.private", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub systemd_private: Option<bool>,
    /// Flag of node_exporter's systemd collector (not built here).
    #[arg(long = "collector.systemd.enable-task-metrics", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub systemd_enable_task_metrics: Option<bool>,
    /// Flag of node_exporter's systemd collector (not built here).
    #[arg(long = "collector.systemd.enable-restarts-metrics", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub systemd_enable_restarts_metrics: Option<bool>,
    /// Flag of node_exporter's systemd collector (not built here).
    #[arg(long = "collector.systemd.enable-start-time-metrics", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub systemd_enable_start_time_metrics: Option<bool>,
}

impl Ignored {
    /// A warning for each ignored flag that was given.
    pub fn warnings(&self) -> Vec<String> {
        let given: &[(&str, bool)] = &[
            ("runtime.gomaxprocs", self.runtime_gomaxprocs.is_some()),
            ("collector.netclass.netlink", self.netclass_netlink.is_some()),
            ("collector.netclass_rtnl.with-stats", self.netclass_rtnl_with_stats.is_some()),
            ("collector.netdev.address-info", self.netdev_address_info.is_some()),
            ("collector.netdev.enable-detailed-metrics", self.netdev_enable_detailed_metrics.is_some()),
            ("collector.netdev.label-ifalias", self.netdev_label_ifalias.is_some()),
            ("collector.ethtool.device-include", self.ethtool_device_include.is_some()),
            ("collector.ethtool.device-exclude", self.ethtool_device_exclude.is_some()),
            ("collector.ethtool.metrics-include", self.ethtool_metrics_include.is_some()),
            ("collector.ntp.server", self.ntp_server.is_some()),
            ("collector.ntp.server-port", self.ntp_server_port.is_some()),
            ("collector.ntp.protocol-version", self.ntp_protocol_version.is_some()),
            ("collector.ntp.server-is-local", self.ntp_server_is_local.is_some()),
            ("collector.ntp.ip-ttl", self.ntp_ip_ttl.is_some()),
            ("collector.ntp.max-distance", self.ntp_max_distance.is_some()),
            ("collector.ntp.local-offset-tolerance", self.ntp_local_offset_tolerance.is_some()),
            ("collector.perf.cpus", self.perf_cpus.is_some()),
            ("collector.perf.tracepoint", !self.perf_tracepoint.is_empty()),
            ("collector.perf.disable-hardware-profilers", self.perf_disable_hardware_profilers.is_some()),
            ("collector.perf.hardware-profilers", !self.perf_hardware_profilers.is_empty()),
            ("collector.perf.disable-software-profilers", self.perf_disable_software_profilers.is_some()),
            ("collector.perf.software-profilers", !self.perf_software_profilers.is_empty()),
            ("collector.perf.disable-cache-profilers", self.perf_disable_cache_profilers.is_some()),
            ("collector.perf.cache-profilers", !self.perf_cache_profilers.is_empty()),
            ("collector.runit.servicedir", self.runit_servicedir.is_some()),
            ("collector.supervisord.url", self.supervisord_url.is_some()),
            ("collector.systemd.unit-include", self.systemd_unit_include.is_some()),
            ("collector.systemd.unit-exclude", self.systemd_unit_exclude.is_some()),
            ("collector.systemd.private", self.systemd_private.is_some()),
            ("collector.systemd.enable-task-metrics", self.systemd_enable_task_metrics.is_some()),
            ("collector.systemd.enable-restarts-metrics", self.systemd_enable_restarts_metrics.is_some()),
            ("collector.systemd.enable-start-time-metrics", self.systemd_enable_start_time_metrics.is_some()),
        ];
        given
            .iter()
            .filter(|(_, on)| *on)
            .map(|(name, _)| {
                let collector = name.strip_prefix("collector.").and_then(|n| n.split('.').next()).and_then(unbuilt);
                match collector {
                    Some(c) => format!("flag --{name} has no effect: the {} collector is not built in this exporter ({})", c.name, c.why),
                    None => format!("flag --{name} is node_exporter's and has no effect in this exporter"),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn deprecated_names_become_the_current_flags_with_a_warning() {
        let (args, warnings) = rewrite_aliases(&strings(&[
            "--collector.filesystem.ignored-mount-points=^/boot",
            "--collector.netdev.device-whitelist",
            "eth0",
            "--collector.cpu.info",
        ]))
        .unwrap();
        assert_eq!(args, strings(&["--collector.filesystem.mount-points-exclude=^/boot", "--collector.netdev.device-include", "eth0", "--collector.cpu.info"]));
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].contains("--collector.filesystem.mount-points-exclude"), "{}", warnings[0]);
        // Beside the current name, the deprecated one is refused.
        let both = rewrite_aliases(&strings(&["--collector.qdisk.device-include=a", "--collector.qdisc.device-include=b"])).unwrap_err();
        assert!(both.contains("mutually exclusive"), "{both}");
    }

    #[test]
    fn each_ignored_flag_given_is_named_once() {
        let o: Ignored = crate::collector::parse_options(&["--collector.systemd.private", "--runtime.gomaxprocs=2", "--collector.perf.tracepoint=a:b"]).unwrap();
        let w = o.warnings();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w.iter().any(|l| l.contains("systemd collector is not built") && l.contains("D-Bus")), "{w:?}");
        assert!(Ignored::default().warnings().is_empty());
    }
}
