//! Prometheus rules and the Alertmanager configuration from the inventory.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::{GuestKind, Inventory, RunsOn, Service};

/// Name of the generated rule file.
pub const RULES_FILE: &str = "homelab-rules.yml";
/// Name of the generated promtool test file.
pub const TESTS_FILE: &str = "homelab-rules.test.yml";
/// Name of the generated Alertmanager configuration.
pub const ALERTMANAGER_FILE: &str = "alertmanager.yml";
/// Name of the generated guide to the textfile metrics scripts write.
pub const TEXTFILE_GUIDE: &str = "TEXTFILE-METRICS.md";

/// A rule file.
#[derive(Debug, Serialize)]
pub struct RuleFile {
    /// Rule groups.
    pub groups: Vec<Group>,
}

/// A rule group.
#[derive(Debug, Serialize)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Rules, evaluated in order.
    pub rules: Vec<Rule>,
}

/// A recording or alerting rule.
#[derive(Debug, Serialize, Default)]
pub struct Rule {
    /// Recorded series name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Alert name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// PromQL.
    pub expr: String,
    /// Pending period.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<String>,
    /// Labels added.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Quotes a label value for a PromQL selector.
pub fn q(v: &str) -> String {
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

fn record(name: &str, expr: String, labels: &[(&str, &str)]) -> Rule {
    Rule {
        record: Some(name.to_owned()),
        expr,
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..Default::default()
    }
}

/// An alert: name, expression, `for`, severity, summary, description.
pub struct AlertSpec<'a> {
    /// Alert name.
    pub name: &'a str,
    /// PromQL.
    pub expr: String,
    /// Pending period (`0s` for none).
    pub for_: &'a str,
    /// warning or critical.
    pub severity: &'a str,
    /// One line.
    pub summary: &'a str,
    /// Details, may use `$labels` and `$value`.
    pub description: &'a str,
}

fn alert(a: AlertSpec<'_>) -> Rule {
    Rule {
        alert: Some(a.name.to_owned()),
        expr: a.expr,
        for_: (a.for_ != "0s").then(|| a.for_.to_owned()),
        labels: [("severity".to_owned(), a.severity.to_owned())].into(),
        annotations: [("summary".to_owned(), a.summary.to_owned()), ("description".to_owned(), a.description.to_owned())].into(),
        ..Default::default()
    }
}

/// Adds `runbook_url` (the configured base plus the alert's name in lower
/// case) to every alert.
fn add_runbooks(file: &mut RuleFile, base: &str) {
    if base.is_empty() {
        return;
    }
    for r in file.groups.iter_mut().flat_map(|g| g.rules.iter_mut()) {
        if let Some(name) = &r.alert {
            r.annotations.insert("runbook_url".into(), format!("{base}{}", name.to_lowercase()));
        }
    }
}

/// The expression that is 1 while a service is up.
pub fn up_expr(s: &Service) -> String {
    match &s.runs_on {
        RunsOn::ProxmoxGuest { proxmox_guest, kind } => {
            let k = if *kind == GuestKind::Lxc { "lxc" } else { "qemu" };
            format!("max(pve_up{{id=\"{k}/{proxmox_guest}\"}})")
        }
        RunsOn::Container { container, node } => format!("max(docker_container_state{{name={},node={},state=\"running\"}})", q(container), q(node)),
        RunsOn::Probe { probe } => format!("max(probe_success{{instance={}}})", q(probe)),
    }
}

/// The expression giving the unix time of a service's newest good backup.
pub fn backup_expr(s: &Service) -> Option<String> {
    let b = s.backup.as_ref()?;
    if let Some(t) = &b.textfile {
        return Some(format!("max(backup_last_success_timestamp_seconds{{backup_job={}}})", q(&t.job)));
    }
    match (&s.runs_on, b.proxmox) {
        (RunsOn::ProxmoxGuest { proxmox_guest, kind }, true) => {
            let k = if *kind == GuestKind::Lxc { "lxc" } else { "qemu" };
            Some(format!("max(pve_backup_last_timestamp_seconds{{id=\"{k}/{proxmox_guest}\"}})"))
        }
        _ => None,
    }
}

/// The look-back window for a service's last up sample: twice its RTO, at
/// least an hour, so "down longer than the RTO" is still computed from data.
pub fn down_window(inv: &Inventory, s: &Service) -> u64 {
    (inv.tier_of(s).rto.secs() * 2).max(3600)
}

fn policy_group(inv: &Inventory) -> Group {
    let mut rules = Vec::new();
    for s in &inv.services {
        let t = inv.tier_of(s);
        let labels = [("service", s.name.as_str()), ("tier", s.tier.as_str())];
        rules.push(record("homelab:service_rto_seconds", format!("vector({})", t.rto.secs()), &labels));
        rules.push(record("homelab:service_rpo_seconds", format!("vector({})", t.rpo.secs()), &labels));
        if s.backup.is_some() {
            rules.push(record("homelab:service_backup_expected", "vector(1)".into(), &labels));
        }
        if let RunsOn::Container { container, node } = &s.runs_on {
            rules.push(record("homelab:container_expected", "vector(1)".into(), &[("service", s.name.as_str()), ("name", container.as_str()), ("node", node.as_str())]));
        }
    }
    Group { name: "homelab.policy".into(), rules }
}

fn observation_group(inv: &Inventory) -> Group {
    let mut rules = Vec::new();
    for s in &inv.services {
        let labels = [("service", s.name.as_str())];
        rules.push(record("homelab:service_up", up_expr(s), &labels));
        // From the raw expression, not the series recorded just above: a rule
        // does not see what an earlier rule of its group recorded at the
        // same evaluation.
        rules.push(record("homelab:service_last_up_timestamp_seconds", format!("timestamp({} == 1)", up_expr(s)), &labels));
        let w = down_window(inv, s);
        // Time down from the newest up sample in the window; when the window
        // holds none, the service has been down at least the whole window.
        rules.push(record(
            "homelab:service_down_seconds",
            format!(
                "(time() - max_over_time(homelab:service_last_up_timestamp_seconds{{service={svc}}}[{w}s]) or on() ({up} * 0 + {w})) and on() ({up} == 0)",
                svc = q(&s.name),
                up = up_expr(s),
            ),
            &labels,
        ));
        if let Some(b) = backup_expr(s) {
            rules.push(record("homelab:service_backup_age_seconds", format!("time() - {b}"), &labels));
        }
        if let RunsOn::ProxmoxGuest { proxmox_guest, .. } = &s.runs_on {
            // Replication jobs are named <vmid>-<n>.
            rules.push(record(
                "homelab:service_replication_age_seconds",
                format!("time() - max(pve_replication_last_sync_timestamp_seconds{{id=~\"{proxmox_guest}-[0-9]+\"}})"),
                &labels,
            ));
        }
    }
    rules.push(record("homelab:service_rto_remaining_seconds", "homelab:service_rto_seconds - on(service) group_left homelab:service_down_seconds".into(), &[]));
    Group { name: "homelab.observations".into(), rules }
}

fn rpo_group(inv: &Inventory) -> Group {
    let drill = inv.settings.restore_drill_interval.secs();
    let rules = vec![
        alert(AlertSpec {
            name: "BackupAgeNearRPO",
            expr: "homelab:service_backup_age_seconds > on(service) group_left(tier) (0.75 * homelab:service_rpo_seconds)".into(),
            for_: "5m",
            severity: "warning",
            summary: "Backup of {{ $labels.service }} is close to its RPO",
            description: "The newest backup of {{ $labels.service }} ({{ $labels.tier }} tier) is {{ $value | humanizeDuration }} old, more than 75% of its recovery point objective.",
        }),
        alert(AlertSpec {
            name: "BackupAgeOverRPO",
            expr: "homelab:service_backup_age_seconds > on(service) group_left(tier) homelab:service_rpo_seconds".into(),
            for_: "5m",
            severity: "critical",
            summary: "Backup of {{ $labels.service }} is older than its RPO",
            description: "The newest backup of {{ $labels.service }} ({{ $labels.tier }} tier) is {{ $value | humanizeDuration }} old: more data than the recovery point objective allows would be lost.",
        }),
        alert(AlertSpec {
            name: "BackupMissing",
            expr: "homelab:service_backup_expected unless on(service) homelab:service_backup_age_seconds".into(),
            for_: "30m",
            severity: "critical",
            summary: "No backup of {{ $labels.service }} is known",
            description: "{{ $labels.service }} should be backed up but no backup metric is known: it never succeeded, or its source (Proxmox storage content, the backup script's textfile) is gone.",
        }),
        alert(AlertSpec {
            name: "RestoreDrillOverdue",
            expr: format!(
                "(time() - max by(service) (restore_drill_last_success_timestamp_seconds) > {drill}) and on(service) homelab:service_backup_expected or (homelab:service_backup_expected unless on(service) restore_drill_last_success_timestamp_seconds)"
            ),
            for_: "1h",
            severity: "warning",
            summary: "Restore drill of {{ $labels.service }} is overdue",
            description: &format!("No restore of {{{{ $labels.service }}}} has been tested within {} (restore_drill_last_success_timestamp_seconds).", inv.settings.restore_drill_interval),
        }),
        alert(AlertSpec {
            name: "ReplicationOlderThanRPO",
            expr: "homelab:service_replication_age_seconds > on(service) group_left(tier) homelab:service_rpo_seconds".into(),
            for_: "5m",
            severity: "warning",
            summary: "Replica of {{ $labels.service }} is older than its RPO",
            description: "The newest Proxmox replication of {{ $labels.service }} is {{ $value | humanizeDuration }} old, beyond its recovery point objective.",
        }),
        alert(AlertSpec {
            name: "RestoreDrillSlowerThanRTO",
            expr: "max by(service) (restore_drill_duration_seconds) > on(service) group_left(tier) homelab:service_rto_seconds".into(),
            for_: "0s",
            severity: "warning",
            summary: "Restoring {{ $labels.service }} takes longer than its RTO",
            description: "The last restore drill of {{ $labels.service }} took {{ $value | humanizeDuration }}, longer than its recovery time objective.",
        }),
    ];
    Group { name: "homelab.rpo".into(), rules }
}

fn rto_group() -> Group {
    let rules = vec![
        alert(AlertSpec {
            name: "ServiceDown",
            expr: "homelab:service_rto_remaining_seconds".into(),
            for_: "2m",
            severity: "info",
            summary: "{{ $labels.service }} is down",
            description: "{{ $labels.service }} ({{ $labels.tier }} tier) is down; {{ $value | humanizeDuration }} of its RTO budget left.",
        }),
        alert(AlertSpec {
            name: "ServiceDownHalfRTO",
            expr: "homelab:service_down_seconds > on(service) group_left(tier) (0.5 * homelab:service_rto_seconds)".into(),
            for_: "0s",
            severity: "warning",
            summary: "{{ $labels.service }} has used half of its RTO",
            description: "{{ $labels.service }} ({{ $labels.tier }} tier) has been down for {{ $value | humanizeDuration }}, more than half of its recovery time objective.",
        }),
        alert(AlertSpec {
            name: "ServiceDownBeyondRTO",
            expr: "homelab:service_down_seconds > on(service) group_left(tier) homelab:service_rto_seconds".into(),
            for_: "0s",
            severity: "critical",
            summary: "{{ $labels.service }} is down longer than its RTO",
            description: "{{ $labels.service }} ({{ $labels.tier }} tier) has been down for {{ $value | humanizeDuration }}, beyond its recovery time objective.",
        }),
    ];
    Group { name: "homelab.rto".into(), rules }
}

fn ups_group(inv: &Inventory) -> Group {
    let margin = inv.settings.ups_runtime_margin.secs();
    let mut rules: Vec<Rule> = inv
        .ups
        .iter()
        .map(|u| record("homelab:ups_shutdown_budget_seconds", format!("vector({})", u.shutdown_budget.secs()), &[("ups", u.name.as_str())]))
        .collect();
    rules.extend([
        alert(AlertSpec {
            name: "UPSOnBattery",
            expr: "nut_ups_status{status=\"OB\"} == 1".into(),
            for_: "30s",
            severity: "warning",
            summary: "UPS {{ $labels.ups }} is on battery",
            description: "Mains power is lost at UPS {{ $labels.ups }}.",
        }),
        alert(AlertSpec {
            name: "UPSLowBattery",
            expr: "nut_ups_status{status=\"LB\"} == 1".into(),
            for_: "0s",
            severity: "critical",
            summary: "UPS {{ $labels.ups }} battery is low",
            description: "UPS {{ $labels.ups }} reports low battery: the nodes it powers are about to shut down.",
        }),
        alert(AlertSpec {
            name: "UPSRuntimeBelowShutdownBudget",
            expr: format!("nut_battery_runtime_seconds < on(ups) (homelab:ups_shutdown_budget_seconds + {margin})"),
            for_: "1m",
            severity: "critical",
            summary: "UPS {{ $labels.ups }} cannot carry its nodes through a clean shutdown",
            description: &format!("UPS {{{{ $labels.ups }}}} has {{{{ $value | humanizeDuration }}}} of runtime left, less than the time its nodes need to shut down plus {}.", inv.settings.ups_runtime_margin),
        }),
        alert(AlertSpec {
            name: "UPSBatteryNeedsReplacement",
            expr: "nut_ups_status{status=\"RB\"} == 1".into(),
            for_: "10m",
            severity: "warning",
            summary: "UPS {{ $labels.ups }} battery needs replacing",
            description: "UPS {{ $labels.ups }} reports that its battery needs replacing.",
        }),
        alert(AlertSpec {
            name: "UPSOverload",
            expr: format!("(nut_ups_status{{status=\"OVER\"}} == 1) or on(ups) (nut_load > {})", inv.settings.ups_overload_ratio),
            for_: "5m",
            severity: "warning",
            summary: "UPS {{ $labels.ups }} is overloaded",
            description: "UPS {{ $labels.ups }} is overloaded: it may not carry its nodes on battery.",
        }),
    ]);
    Group { name: "homelab.ups".into(), rules }
}

fn host_group(inv: &Inventory) -> Group {
    let s = &inv.settings;
    let fs = "fstype!~\"tmpfs|ramfs|squashfs|overlay\"";
    let rules = vec![
        alert(AlertSpec {
            name: "HostFilesystemFillingUp",
            expr: format!("predict_linear(node_filesystem_avail_bytes{{{fs}}}[6h], 24 * 3600) < 0 and node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}} < 0.4 and node_filesystem_readonly{{{fs}}} == 0"),
            for_: "1h",
            severity: "warning",
            summary: "{{ $labels.mountpoint }} on {{ $labels.instance }} fills up within a day",
            description: "At the rate of the last 6 hours, {{ $labels.mountpoint }} ({{ $labels.device }}) on {{ $labels.instance }} is full within 24 hours.",
        }),
        alert(AlertSpec {
            name: "HostFilesystemAlmostFull",
            expr: format!("node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}} < {} and node_filesystem_readonly{{{fs}}} == 0", s.filesystem_free_warning),
            for_: "30m",
            severity: "warning",
            summary: "{{ $labels.mountpoint }} on {{ $labels.instance }} is almost full",
            description: "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} space left.",
        }),
        alert(AlertSpec {
            name: "HostFilesystemFull",
            expr: format!("node_filesystem_avail_bytes{{{fs}}} / node_filesystem_size_bytes{{{fs}}} < {} and node_filesystem_readonly{{{fs}}} == 0", s.filesystem_free_critical),
            for_: "5m",
            severity: "critical",
            summary: "{{ $labels.mountpoint }} on {{ $labels.instance }} is full",
            description: "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} space left.",
        }),
        alert(AlertSpec {
            name: "HostInodesAlmostExhausted",
            expr: format!("node_filesystem_files_free{{{fs}}} / node_filesystem_files{{{fs}}} < {} and node_filesystem_readonly{{{fs}}} == 0", s.inodes_free_critical),
            for_: "30m",
            severity: "critical",
            summary: "{{ $labels.mountpoint }} on {{ $labels.instance }} is running out of inodes",
            description: "{{ $labels.mountpoint }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} inodes left.",
        }),
        alert(AlertSpec {
            name: "HostMemoryLow",
            expr: format!("node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < {}", s.memory_available_warning),
            for_: "15m",
            severity: "warning",
            summary: "{{ $labels.instance }} is low on memory",
            description: "{{ $labels.instance }} has {{ $value | humanizePercentage }} of its memory available.",
        }),
        alert(AlertSpec {
            name: "HostTemperatureHigh",
            expr: format!("max by(instance) (node_hwmon_temp_celsius) > {t} or max by(instance) (node_thermal_zone_temp) > {t}", t = s.temperature_celsius_warning),
            for_: "10m",
            severity: "warning",
            summary: "{{ $labels.instance }} runs hot",
            description: "{{ $labels.instance }} is at {{ $value }} °C; a Raspberry Pi throttles its CPU at 80–85 °C.",
        }),
        alert(AlertSpec {
            name: "HostCpuThrottled",
            expr: "sum by(instance) (increase(node_cpu_package_throttles_total[15m])) > 0 or sum by(instance) (increase(node_cpu_core_throttles_total[15m])) > 0".into(),
            for_: "15m",
            severity: "warning",
            summary: "CPU of {{ $labels.instance }} is thermally throttled",
            description: "The CPU of {{ $labels.instance }} was throttled in the last 15 minutes: cooling is not keeping up.",
        }),
        alert(AlertSpec {
            name: "HostClockNotSynchronising",
            expr: "min_over_time(node_timex_sync_status[5m]) == 0 and node_timex_maxerror_seconds >= 16".into(),
            for_: "10m",
            severity: "warning",
            summary: "Clock of {{ $labels.instance }} is not synchronising",
            description: "NTP does not discipline the clock of {{ $labels.instance }}; TLS, backups and logs depend on it.",
        }),
        alert(AlertSpec {
            name: "HostRaidDegraded",
            expr: "node_md_disks_required - ignoring(state) node_md_disks{state=\"active\"} > 0 or node_md_disks{state=\"failed\"} > 0".into(),
            for_: "15m",
            severity: "critical",
            summary: "RAID {{ $labels.device }} on {{ $labels.instance }} is degraded",
            description: "md array {{ $labels.device }} on {{ $labels.instance }} is missing disks or has failed ones.",
        }),
        alert(AlertSpec {
            name: "HostRaidInactive",
            expr: "node_md_state{state=\"inactive\"} == 1".into(),
            for_: "15m",
            severity: "critical",
            summary: "RAID {{ $labels.device }} on {{ $labels.instance }} is inactive",
            description: "md array {{ $labels.device }} on {{ $labels.instance }} is not running.",
        }),
        alert(AlertSpec {
            name: "HostTextfileError",
            expr: "node_textfile_scrape_error == 1".into(),
            for_: "15m",
            severity: "warning",
            summary: "Textfile metrics on {{ $labels.instance }} cannot be read",
            description: "A .prom file on {{ $labels.instance }} could not be read or parsed: backup and drill metrics may be stale.",
        }),
        alert(AlertSpec {
            name: "ExporterCollectorFailing",
            expr: "node_scrape_collector_success == 0 and on(instance, collector) max_over_time(node_scrape_collector_success[1d]) == 1".into(),
            for_: "15m",
            severity: "warning",
            summary: "Collector {{ $labels.collector }} fails on {{ $labels.instance }}",
            description: "The {{ $labels.collector }} collector worked within the last day but fails now; see the exporter's log and landing page.",
        }),
        alert(AlertSpec {
            name: "ExporterDown",
            expr: "up == 0".into(),
            for_: "5m",
            severity: "critical",
            summary: "{{ $labels.instance }} cannot be scraped",
            description: "Prometheus cannot scrape {{ $labels.job }} on {{ $labels.instance }}.",
        }),
    ];
    Group { name: "homelab.host".into(), rules }
}

fn containers_and_proxmox_group(inv: &Inventory) -> Group {
    let rules = vec![
        alert(AlertSpec {
            name: "ContainerUnhealthy",
            expr: "docker_container_health_status{status=\"unhealthy\"} == 1".into(),
            for_: "5m",
            severity: "warning",
            summary: "Container {{ $labels.name }} is unhealthy",
            description: "The health check of container {{ $labels.name }} on {{ $labels.instance }} fails.",
        }),
        alert(AlertSpec {
            name: "ContainerRestarting",
            expr: "increase(docker_container_restarts_total[15m]) > 2".into(),
            for_: "0s",
            severity: "warning",
            summary: "Container {{ $labels.name }} keeps restarting",
            description: "Container {{ $labels.name }} on {{ $labels.instance }} restarted more than twice in 15 minutes.",
        }),
        alert(AlertSpec {
            name: "ContainerExitedWithError",
            expr: "docker_container_exit_code != 0 and on(instance, name) docker_container_state{state=\"exited\"} == 1".into(),
            for_: "5m",
            severity: "warning",
            summary: "Container {{ $labels.name }} exited with code {{ $value }}",
            description: "Container {{ $labels.name }} on {{ $labels.instance }} stopped with a non-zero exit code.",
        }),
        alert(AlertSpec {
            name: "ContainerOOMKilled",
            expr: "increase(container_oom_events_total[15m]) > 0".into(),
            for_: "0s",
            severity: "warning",
            summary: "Container {{ $labels.name }} ran out of memory",
            description: "The kernel killed a process of container {{ $labels.name }} on {{ $labels.instance }} for lack of memory in the last 15 minutes.",
        }),
        alert(AlertSpec {
            name: "ContainerNotRunning",
            expr: "homelab:container_expected unless on(name, node) (docker_container_state{state=\"running\"} == 1)".into(),
            for_: "5m",
            severity: "warning",
            summary: "Container {{ $labels.name }} on {{ $labels.node }} is not running",
            description: "The inventory says container {{ $labels.name }} (service {{ $labels.service }}) runs on {{ $labels.node }}, but it is not running there.",
        }),
        alert(AlertSpec {
            name: "ProxmoxGuestNotRunning",
            expr: "pve_onboot_status == 1 and on(id) pve_up == 0".into(),
            for_: "10m",
            severity: "warning",
            summary: "Proxmox guest {{ $labels.id }} should run but does not",
            description: "Guest {{ $labels.id }} starts on boot but is not running.",
        }),
        alert(AlertSpec {
            name: "ProxmoxNodeDown",
            expr: "pve_up{id=~\"node/.+\"} == 0".into(),
            for_: "5m",
            severity: "critical",
            summary: "Proxmox node {{ $labels.id }} is down",
            description: "The cluster reports {{ $labels.id }} offline.",
        }),
        alert(AlertSpec {
            name: "ProxmoxStorageAlmostFull",
            expr: format!("pve_disk_usage_bytes{{id=~\"storage/.+\"}} / pve_disk_size_bytes{{id=~\"storage/.+\"}} > {}", inv.settings.storage_used_warning),
            for_: "30m",
            severity: "warning",
            summary: "Proxmox storage {{ $labels.id }} is almost full",
            description: "Storage {{ $labels.id }} is {{ $value | humanizePercentage }} full; backups to it may fail.",
        }),
        alert(AlertSpec {
            name: "ProxmoxGuestsNotBackedUp",
            expr: "pve_not_backed_up_total > 0".into(),
            for_: "1h",
            severity: "warning",
            summary: "Proxmox guests without a backup job",
            description: "{{ $value }} guests are in no backup job.",
        }),
        alert(AlertSpec {
            name: "ProxmoxReplicationFailing",
            expr: "pve_replication_failed_syncs > 0".into(),
            for_: "15m",
            severity: "warning",
            summary: "Replication of {{ $labels.id }} fails",
            description: "Replication job of {{ $labels.id }} has {{ $value }} failed syncs.",
        }),
    ];
    Group { name: "homelab.containers-proxmox".into(), rules }
}

/// Every rule group. Policy, observations and the RPO/RTO alerts share one
/// group: rules of a group run in order at each evaluation, so an alert
/// always joins against observations of the same instant (separate groups
/// run independently and may lag each other by an interval).
pub fn rule_file(inv: &Inventory) -> RuleFile {
    let mut recovery = policy_group(inv);
    recovery.name = "homelab.recovery".into();
    for g in [observation_group(inv), rpo_group(inv), rto_group()] {
        recovery.rules.extend(g.rules);
    }
    let mut file = RuleFile { groups: vec![recovery, ups_group(inv), host_group(inv), containers_and_proxmox_group(inv)] };
    add_runbooks(&mut file, &inv.settings.runbook_url);
    file
}

const HEADER: &str = "# Generated by `homelab-exporter rules` from the inventory. Do not edit: change the inventory and generate again.\n";

/// The rule file as YAML.
pub fn rules_yaml(inv: &Inventory) -> String {
    format!("{HEADER}{}", serde_yaml_ng::to_string(&rule_file(inv)).unwrap_or_default())
}

/// A complete Alertmanager configuration: critical alerts page at once and
/// repeat hourly, warnings are grouped and repeat daily; a critical alert
/// silences the warning of the same service or UPS. The receiver is a
/// placeholder webhook on 127.0.0.1: point it at ntfy, Gotify or email.
pub fn alertmanager_yaml(inv: &Inventory) -> String {
    // While a UPS is on battery, the alerts of the nodes it powers (which
    // may shut down on purpose) are silenced; so are a down node's services.
    let mut ups_inhibits = String::new();
    for u in &inv.ups {
        if u.powers.is_empty() {
            continue;
        }
        let nodes: Vec<String> = u.powers.iter().map(|n| regex_escape(n)).collect();
        ups_inhibits.push_str(&format!(
            "  - source_matchers: ['alertname=\"UPSOnBattery\"', 'ups={}']\n    target_matchers: ['alertname=~\"ExporterDown|ExporterCollectorFailing|Host.+|ProxmoxNodeDown|ContainerNotRunning\"', 'node=~\"{}\"']\n",
            serde_json::to_string(&u.name).unwrap_or_default(),
            nodes.join("|")
        ));
    }
    format!(
        "{HEADER}{}{ups_inhibits}{}",
        r#"route:
  receiver: homelab
  group_by: [alertname, service, ups, instance]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 24h
  routes:
    - matchers: ['severity="critical"']
      receiver: homelab
      group_wait: 10s
      repeat_interval: 1h
    - matchers: ['severity="warning"']
      receiver: homelab
    - matchers: ['severity="info"']
      receiver: homelab
      group_interval: 30m
      repeat_interval: 7d
inhibit_rules:
  - source_matchers: ['severity="critical"', 'service=~".+"']
    target_matchers: ['severity="warning"', 'service=~".+"']
    equal: [service]
  - source_matchers: ['alertname="UPSLowBattery"']
    target_matchers: ['alertname="UPSOnBattery"']
    equal: [ups]
  - source_matchers: ['alertname="ExporterDown"']
    target_matchers: ['alertname="ExporterCollectorFailing"']
    equal: [instance]
  - source_matchers: ['alertname="ExporterDown"', 'node=~".+"']
    target_matchers: ['service=~".+"', 'node=~".+"']
    equal: [node]
"#,
        r#"receivers:
  - name: homelab
    webhook_configs:
      - url: http://127.0.0.1:9095/
        send_resolved: true
"#
    )
}

/// Escapes a node name for an Alertmanager regex matcher.
fn regex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The guide to the textfile metrics that backup and drill scripts write.
pub fn textfile_guide(inv: &Inventory) -> String {
    let jobs: Vec<String> = inv
        .services
        .iter()
        .filter_map(|s| s.backup.as_ref().and_then(|b| b.textfile.as_ref()).map(|t| format!("- `{}` (service {})", t.job, s.name)))
        .collect();
    format!(
        "# Textfile metrics for backups and restore drills\n\n\
Generated by `homelab-exporter rules`. The rules read these metrics, which your scripts write as `.prom` files into the exporter's `--collector.textfile.directory`:\n\n\
| metric | labels | meaning |\n|---|---|---|\n\
| `backup_last_success_timestamp_seconds` | `backup_job` | unix time the backup job last succeeded |\n\
| `backup_last_size_bytes` | `backup_job` | size of that backup |\n\
| `restore_drill_last_success_timestamp_seconds` | `service` | unix time a restore of the service was last tested and worked |\n\
| `restore_drill_duration_seconds` | `service` | how long that restore took (compared with the service's RTO) |\n\n\
The label is `backup_job`, not `job`: Prometheus sets `job` on every scraped series and would rename a `job` label of the file to `exported_job`.\n\n\
Backup jobs named in the inventory:\n\n{}\n\n\
Write the file atomically (a temporary file, then `mv`), so the exporter never reads half a file:\n\n\
```sh\n\
#!/bin/sh\n\
set -eu\n\
dir=/var/lib/homelab-exporter/textfile\n\
job=ha-config\n\
restic backup /srv/home-assistant            # your backup command\n\
size=$(du -sb /srv/home-assistant | cut -f1)\n\
tmp=$(mktemp \"$dir/.backup-$job.XXXXXX\")\n\
cat > \"$tmp\" <<EOF\n\
# HELP backup_last_success_timestamp_seconds Unix time the backup job last succeeded.\n\
# TYPE backup_last_success_timestamp_seconds gauge\n\
backup_last_success_timestamp_seconds{{backup_job=\"$job\"}} $(date +%s)\n\
# HELP backup_last_size_bytes Size of the last successful backup.\n\
# TYPE backup_last_size_bytes gauge\n\
backup_last_size_bytes{{backup_job=\"$job\"}} $size\n\
EOF\n\
chmod 644 \"$tmp\"\n\
mv \"$tmp\" \"$dir/backup-$job.prom\"\n\
```\n\n\
A restore drill script does the same with `restore_drill_last_success_timestamp_seconds{{service=\"...\"}}` and `restore_drill_duration_seconds{{service=\"...\"}}` after it restored the backup somewhere and checked it.\n",
        if jobs.is_empty() { "- (none)".to_owned() } else { jobs.join("\n") }
    )
}
