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

/// Whether an ignored flag takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    /// `--flag`, `--no-flag`, `--flag=true`.
    Bool,
    /// `--flag=VALUE` or `--flag VALUE`.
    Value,
}

/// node_exporter's flags that this exporter accepts and ignores: those of
/// the [`UNBUILT`] collectors, and settings of node_exporter's Go runtime
/// and netlink readers.
static IGNORED: &[(&str, Takes)] = &[
    ("runtime.gomaxprocs", Takes::Value),
    ("web.systemd-socket", Takes::Bool),
    ("collector.netclass.netlink", Takes::Bool),
    ("collector.netclass_rtnl.with-stats", Takes::Bool),
    ("collector.netdev.address-info", Takes::Bool),
    ("collector.netdev.enable-detailed-metrics", Takes::Bool),
    ("collector.netdev.label-ifalias", Takes::Bool),
    ("collector.ethtool.device-include", Takes::Value),
    ("collector.ethtool.device-exclude", Takes::Value),
    ("collector.ethtool.metrics-include", Takes::Value),
    ("collector.ntp.server", Takes::Value),
    ("collector.ntp.server-port", Takes::Value),
    ("collector.ntp.protocol-version", Takes::Value),
    ("collector.ntp.server-is-local", Takes::Bool),
    ("collector.ntp.ip-ttl", Takes::Value),
    ("collector.ntp.max-distance", Takes::Value),
    ("collector.ntp.local-offset-tolerance", Takes::Value),
    ("collector.perf.cpus", Takes::Value),
    ("collector.perf.tracepoint", Takes::Value),
    ("collector.perf.disable-hardware-profilers", Takes::Bool),
    ("collector.perf.hardware-profilers", Takes::Value),
    ("collector.perf.disable-software-profilers", Takes::Bool),
    ("collector.perf.software-profilers", Takes::Value),
    ("collector.perf.disable-cache-profilers", Takes::Bool),
    ("collector.perf.cache-profilers", Takes::Value),
    ("collector.runit.servicedir", Takes::Value),
    ("collector.supervisord.url", Takes::Value),
    ("collector.systemd.unit-include", Takes::Value),
    ("collector.systemd.unit-exclude", Takes::Value),
    ("collector.systemd.private", Takes::Bool),
    ("collector.systemd.enable-task-metrics", Takes::Bool),
    ("collector.systemd.enable-restarts-metrics", Takes::Bool),
    ("collector.systemd.enable-start-time-metrics", Takes::Bool),
];

/// Why `flag` (one of [`IGNORED`]) does nothing here.
fn why_ignored(flag: &str) -> String {
    let collector = flag.strip_prefix("collector.").and_then(|n| n.split('.').next()).and_then(unbuilt);
    match (flag, collector) {
        (_, Some(c)) => format!("flag --{flag} has no effect: the {} collector is not built in this exporter ({})", c.name, c.why),
        ("web.systemd-socket", None) => "flag --web.systemd-socket has no effect: this exporter opens its --web.listen-address itself".to_owned(),
        _ => format!("flag --{flag} is node_exporter's and has no effect in this exporter"),
    }
}

/// Takes node_exporter's ignored flags (in every form: `--flag`,
/// `--no-flag`, `--flag=value`, `--flag value`) off `args`; returns the
/// rest, and a warning for each flag that was given (once per flag).
pub fn take_ignored(args: &[String]) -> (Vec<String>, Vec<String>) {
    let mut rest = Vec::with_capacity(args.len());
    let mut given: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let body = arg.strip_prefix("--").unwrap_or("");
        let (name, has_value) = body.split_once('=').map_or((body, false), |(n, _)| (n, true));
        let found = IGNORED.iter().find(|(flag, takes)| *flag == name || (*takes == Takes::Bool && name.strip_prefix("no-") == Some(flag)));
        let Some((flag, takes)) = found else {
            rest.push(arg.clone());
            continue;
        };
        if *takes == Takes::Value && !has_value {
            // `--flag VALUE`: the value is the next argument.
            let _ = it.next();
        }
        if !given.contains(flag) {
            given.push(flag);
        }
    }
    (rest, given.into_iter().map(why_ignored).collect())
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
        let (rest, w) = take_ignored(&strings(&[
            "--collector.systemd.private",
            "--runtime.gomaxprocs=2",
            "--collector.perf.tracepoint=a:b",
            "--collector.perf.tracepoint",
            "c:d",
            "--no-collector.netdev.netlink",
            "--collector.cpu.info",
        ]));
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w.iter().any(|l| l.contains("systemd collector is not built") && l.contains("D-Bus")), "{w:?}");
        // What is not node_exporter's ignored flags stays, values included.
        assert_eq!(rest, strings(&["--no-collector.netdev.netlink", "--collector.cpu.info"]));
        assert!(take_ignored(&[]).1.is_empty());
    }
}
