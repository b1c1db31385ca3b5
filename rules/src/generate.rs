//! Prometheus rules and the Alertmanager configuration from the inventory.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::Inventory;

/// Name of the generated rule file.
pub const RULES_FILE: &str = "homelab-rules.yml";
/// Name of the generated promtool test file.
pub const TESTS_FILE: &str = "homelab-rules.test.yml";
/// Name of the generated Alertmanager configuration.
pub const ALERTMANAGER_FILE: &str = "alertmanager.yml";
/// Name of the generated reference of every alert.
pub const ALERTS_REFERENCE: &str = "ALERTS.md";
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

/// A recording rule with these labels.
pub fn record(name: &str, expr: String, labels: &[(&str, String)]) -> Rule {
    Rule {
        record: Some(name.to_owned()),
        expr,
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
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

/// An alerting rule.
pub fn alert(a: AlertSpec<'_>) -> Rule {
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
            name: "HostZfsPoolUnhealthy",
            expr: "node_zfs_zpool_state{state!=\"online\"} == 1".into(),
            for_: "5m",
            severity: "critical",
            summary: "ZFS pool {{ $labels.zpool }} on {{ $labels.instance }} is {{ $labels.state }}",
            description: "ZFS pool {{ $labels.zpool }} on {{ $labels.instance }} reports {{ $labels.state }} (the zfs collector, from the pool's kstat state): a disk has failed or gone missing, and the pool runs without (or with less) redundancy. `zpool status {{ $labels.zpool }}` names the device; replace it and let the pool resilver before another one fails.",
        }),
        alert(AlertSpec {
            name: "RaspberryPiUnderVoltage",
            expr: "rpi_throttled{condition=\"under_voltage\"} == 1".into(),
            for_: "1m",
            severity: "critical",
            summary: "{{ $labels.instance }} is under-voltage",
            description: "The power supply of Raspberry Pi {{ $labels.instance }} delivers too little now (firmware throttle word, bit 0): the CPU is slowed, USB devices may drop and the SD card may be corrupted. Use the official power supply or a short, thick cable rated for the current; take power-hungry USB devices onto a powered hub.",
        }),
        alert(AlertSpec {
            name: "RaspberryPiUnderVoltageSinceBoot",
            expr: "rpi_throttled_since_boot{condition=\"under_voltage\"} == 1 unless on(instance) (rpi_throttled{condition=\"under_voltage\"} == 1)".into(),
            for_: "5m",
            severity: "warning",
            summary: "{{ $labels.instance }} was under-voltage since it booted",
            description: "Raspberry Pi {{ $labels.instance }} has been under-voltage since its last boot (firmware throttle word, bit 16), though not now: its power supply is marginal and dips under load. Replace the supply or the cable before it corrupts the SD card; the flag clears at the next reboot.",
        }),
        alert(AlertSpec {
            name: "RaspberryPiThrottled",
            expr: "rpi_throttled{condition=~\"throttled|arm_frequency_capped|soft_temp_limit\"} == 1".into(),
            for_: "10m",
            severity: "warning",
            summary: "{{ $labels.instance }} is slowed by its firmware ({{ $labels.condition }})",
            description: "The firmware of Raspberry Pi {{ $labels.instance }} reports {{ $labels.condition }} now: the CPU runs below its speed because of heat or power. Add cooling (a heatsink, a fan, a case with airflow) and check the power supply.",
        }),
        alert(AlertSpec {
            name: "StorageWearingOut",
            expr: "mmc_life_time_estimate >= 9 or on(instance, device) (mmc_pre_eol_info >= 2)".into(),
            for_: "1h",
            severity: "warning",
            summary: "Storage {{ $labels.device }} of {{ $labels.instance }} is wearing out",
            description: "The eMMC or SD card {{ $labels.device }} of {{ $labels.instance }} reports 80 % or more of its rated life used (life_time estimate 9 or more) or its reserved blocks running out (pre-EOL warning): make sure its backups work, then replace it.",
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
            for_: "2m",
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

/// Every rule group.
pub fn rule_file(inv: &Inventory) -> RuleFile {
    let mut file = RuleFile { groups: vec![crate::recovery::group(inv), crate::ups::group(inv), host_group(inv), containers_and_proxmox_group(inv), meta_group(inv)] };
    add_runbooks(&mut file, &inv.settings.runbook_url);
    file
}

/// Alerts about the alerting itself: an always-firing watchdog for a
/// dead man's switch, rules that fail to evaluate, and nodes of the
/// inventory that Prometheus does not scrape at all.
fn meta_group(inv: &Inventory) -> Group {
    let _ = inv;
    let rules = vec![
        alert(AlertSpec {
            name: "Watchdog",
            expr: "vector(1)".into(),
            for_: "0s",
            severity: "none",
            summary: "Alerting works",
            description: "Always firing, so a dead man's switch outside the lab (healthchecks.io, a cron job, an ntfy topic that expects it) notices when Prometheus or Alertmanager stops.",
        }),
        alert(AlertSpec {
            name: "PrometheusRuleEvaluationFailures",
            expr: "increase(prometheus_rule_evaluation_failures_total[10m]) > 0".into(),
            for_: "0s",
            severity: "warning",
            summary: "Rules of {{ $labels.rule_group }} fail to evaluate",
            description: "Prometheus failed to evaluate rules of {{ $labels.rule_group }} in the last 10 minutes: alerts of that group may never fire. Its log says why. (Needs Prometheus to scrape itself.)",
        }),
        alert(AlertSpec {
            name: "ExporterAbsent",
            expr: "homelab:node_expected unless on(node) up".into(),
            for_: "10m",
            severity: "warning",
            summary: "Prometheus does not scrape {{ $labels.node }}",
            description: "The inventory lists node {{ $labels.node }}, but Prometheus has no target with node=\"{{ $labels.node }}\": add the file_sd targets (`homelab-exporter targets`) to its scrape configuration.",
        }),
    ];
    Group { name: "homelab.meta".into(), rules }
}

/// The first line of every generated file.
pub const HEADER: &str = "# Generated by `homelab-exporter rules` from the inventory. Do not edit: change the inventory and generate again.\n";

/// The rule file as YAML.
pub fn rules_yaml(inv: &Inventory) -> String {
    format!("{HEADER}{}", serde_yaml_ng::to_string(&rule_file(inv)).unwrap_or_default())
}

/// The reference of every alert the rule file holds: group, severity
/// (per tier where the tier decides it), pending period and text, then the
/// inhibitions of the Alertmanager configuration.
pub fn alerts_reference(inv: &Inventory) -> String {
    let file = rule_file(inv);
    let mut out = String::from("# Alerts\n\nGenerated by `homelab-exporter rules` from the inventory: every alert of `homelab-rules.yml`. Where an alert has one rule per tier, its severity is the tier's (a tier that pages gets `critical`).\n\n| alert | group | severity | for | summary |\n|---|---|---|---|---|\n");
    let mut seen: Vec<(String, String)> = Vec::new();
    for g in &file.groups {
        for r in &g.rules {
            let Some(name) = &r.alert else { continue };
            let severity = r.labels.get("severity").cloned().unwrap_or_default();
            let tier = inv.tiers.keys().find(|t| r.expr.contains(&format!("tier={}", q(t))));
            let severity = match tier {
                Some(t) => format!("{severity} (tier {t})"),
                None => severity,
            };
            if let Some(row) = seen.iter_mut().find(|(n, _)| n == name) {
                if !row.1.contains(&severity) {
                    row.1.push_str(&format!(", {severity}"));
                }
                continue;
            }
            seen.push((name.clone(), severity));
        }
    }
    for (name, severity) in &seen {
        let rules: Vec<(&Group, &Rule)> = file.groups.iter().flat_map(|g| g.rules.iter().map(move |r| (g, r))).filter(|(_, r)| r.alert.as_ref() == Some(name)).collect();
        let Some((g, r)) = rules.first() else { continue };
        let fors: Vec<String> = rules.iter().map(|(_, r)| r.for_.clone().unwrap_or_else(|| "0s".into())).fold(Vec::new(), |mut v, f| {
            if !v.contains(&f) {
                v.push(f);
            }
            v
        });
        let summary = r.annotations.get("summary").cloned().unwrap_or_default().replace('|', "\\|");
        out.push_str(&format!("| `{name}` | {} | {severity} | {} | {summary} |\n", g.name, fors.join(", ")));
    }
    out.push_str("\n## Inhibitions\n\nWhile the source alert fires, the target alerts with the same values of the listed labels are not sent.\n\n| source | target | equal | why |\n|---|---|---|---|\n");
    for i in crate::alertmanager::INHIBITIONS {
        let m = |l: &[&str]| l.iter().map(|x| format!("`{x}`")).collect::<Vec<_>>().join(" ").replace('|', "\\|");
        out.push_str(&format!("| {} | {} | {} | {} |\n", m(i.source), m(i.target), i.equal.join(", "), i.why));
    }
    out
}

/// The Alertmanager configuration (see [`crate::alertmanager`]).
pub fn alertmanager_yaml(inv: &Inventory) -> String {
    crate::alertmanager::config(inv)
}

/// The guide to the textfile metrics that backup and drill scripts write.
pub fn textfile_guide(inv: &Inventory) -> String {
    let jobs: Vec<String> = inv
        .services
        .iter()
        .flat_map(|s| {
            s.backups.iter().filter(|b| matches!(b.source, crate::inventory::BackupSource::Textfile { .. })).map(move |b| {
                format!("- `{}` (service {}): runs every {}, missed after {} more", b.label(), s.name, b.every, b.grace)
            })
        })
        .collect();
    format!(
        "# Textfile metrics for backups and restore drills\n\n\
Generated by `homelab-exporter rules`. The rules read these metrics, which your scripts write as `.prom` files into the exporter's `--collector.textfile.directory`:\n\n\
| metric | labels | meaning |\n|---|---|---|\n\
| `backup_last_success_timestamp_seconds` | `backup_job` | unix time the backup job last succeeded |\n\
| `backup_last_size_bytes` | `backup_job` | size of that backup |\n\
| `backup_last_run_success` | `backup_job` | 1 when the job's last run succeeded, 0 when it failed (BackupFailed fires on 0) |\n\
| `backup_last_run_timestamp_seconds` | `backup_job` | unix time the job last ran, whatever the outcome |\n\
| `restore_drill_last_success_timestamp_seconds` | `service` | unix time a restore of the service was last tested and worked |\n\
| `restore_drill_duration_seconds` | `service` | how long that restore took (compared with the service's RTO) |\n\n\
The label is `backup_job`, not `job`: Prometheus sets `job` on every scraped series and would rename a `job` label of the file to `exported_job`.\n\n\
Backup jobs named in the inventory:\n\n{}\n\n\
Keep two files per job: the success file is replaced only when a run succeeds (so the time of the last good backup survives a failed run), the status file after every run. Write each atomically (a temporary file, then `mv`), so the exporter never reads half a file:\n\n\
```sh\n\
#!/bin/sh\n\
set -u\n\
dir=/var/lib/homelab-exporter/textfile\n\
job=ha-config\n\
write() {{ # write NAME: standard input becomes $dir/NAME, atomically\n\
  tmp=$(mktemp \"$dir/.$1.XXXXXX\") && cat > \"$tmp\" && chmod 644 \"$tmp\" && mv \"$tmp\" \"$dir/$1\"\n\
}}\n\
if restic backup /srv/home-assistant; then     # your backup command\n\
  ok=1\n\
  size=$(du -sb /srv/home-assistant | cut -f1)\n\
  write \"backup-$job.prom\" <<EOF\n\
# HELP backup_last_success_timestamp_seconds Unix time the backup job last succeeded.\n\
# TYPE backup_last_success_timestamp_seconds gauge\n\
backup_last_success_timestamp_seconds{{backup_job=\"$job\"}} $(date +%s)\n\
# HELP backup_last_size_bytes Size of the last successful backup.\n\
# TYPE backup_last_size_bytes gauge\n\
backup_last_size_bytes{{backup_job=\"$job\"}} $size\n\
EOF\n\
else\n\
  ok=0\n\
fi\n\
write \"backup-$job-status.prom\" <<EOF\n\
# HELP backup_last_run_success Whether the backup job's last run succeeded.\n\
# TYPE backup_last_run_success gauge\n\
backup_last_run_success{{backup_job=\"$job\"}} $ok\n\
# HELP backup_last_run_timestamp_seconds Unix time the backup job last ran.\n\
# TYPE backup_last_run_timestamp_seconds gauge\n\
backup_last_run_timestamp_seconds{{backup_job=\"$job\"}} $(date +%s)\n\
EOF\n\
```\n\n\
A restore drill script does the same with `restore_drill_last_success_timestamp_seconds{{service=\"...\"}}` and `restore_drill_duration_seconds{{service=\"...\"}}` after it restored the backup somewhere and checked it.\n",
        if jobs.is_empty() { "- (none)".to_owned() } else { jobs.join("\n") }
    )
}
