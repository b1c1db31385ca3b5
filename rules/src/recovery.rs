//! The recovery rules: each service's state (up, down or unknown) and how
//! long it has been down, its backups against their schedules and its RPO,
//! and the RTO/RPO alerts, with severities from the service's tier.
//!
//! A service is down when the series that says so is 0, when its node's
//! target is down or missing, or when a series that was there has vanished
//! for longer than a grace; it is unknown (no series recorded) when nothing
//! has ever said. The time it went down is itself a recorded series that
//! carries itself forward (`last_over_time` of its own past), so the clock
//! keeps running through a gap in the data such as a Prometheus restart.

use crate::duration::Duration;
use crate::generate::{alert, q, record, AlertSpec, Group, Rule};
use crate::inventory::{Backup, BackupSource, Inventory, RunsOn, Service};

/// The labels every series of a service carries: `service`, `tier`, and
/// `node` and `cluster` where the inventory knows them (so a down node's
/// inhibitions reach its services' alerts).
pub fn service_labels(s: &Service) -> Vec<(&'static str, String)> {
    let mut l = vec![("service", s.name.clone()), ("tier", s.tier.clone())];
    if let Some(n) = s.runs_on.node() {
        l.push(("node", n.to_owned()));
    }
    if let Some(c) = s.runs_on.cluster() {
        l.push(("cluster", c.to_owned()));
    }
    l
}

fn backup_labels(s: &Service, b: &Backup) -> Vec<(&'static str, String)> {
    let mut l = service_labels(s);
    l.push(("backup", b.label().to_owned()));
    l.push(("source", b.source_label().to_owned()));
    l
}

/// `{id="qemu/101"}` plus, for a guest of a named cluster, the join that
/// keeps only series scraped from the target that reads that cluster.
fn guest_selector(metric: &str, s: &Service) -> Option<String> {
    let RunsOn::ProxmoxGuest { proxmox_guest, kind, cluster, .. } = &s.runs_on else { return None };
    let series = format!("{metric}{{id=\"{}/{proxmox_guest}\"}}", kind.as_str());
    Some(match cluster {
        Some(c) => format!("({series} and on(instance) pve_cluster_info{{id={}}})", q(&format!("cluster/{c}"))),
        None => series,
    })
}

/// The expression that is 1 while the service's own series says it is up,
/// 0 while it says down, and empty when there is no such series.
pub fn up_expr(inv: &Inventory, s: &Service) -> String {
    match &s.runs_on {
        RunsOn::ProxmoxGuest { .. } => format!("max({})", guest_selector("pve_up", s).unwrap_or_default()),
        RunsOn::Container { container, node } => {
            let sel = format!("name={},node={}", q(container), q(node));
            let w = inv.settings.running_window;
            // Running now, running for most of the window (a crash loop is
            // down), and not failing its health check.
            format!(
                "max(docker_container_state{{{sel},state=\"running\"}}) * on() (max(avg_over_time(docker_container_state{{{sel},state=\"running\"}}[{w}])) >= bool {share}) * on() (1 - (max(docker_container_health_status{{{sel},status=\"unhealthy\"}}) or on() vector(0)))",
                share = inv.settings.running_share,
            )
        }
        RunsOn::Probe { probe } => format!("max(probe_success{{instance={}}})", q(probe)),
        RunsOn::Node { node } => format!("max(up{{node={}}})", q(node)),
    }
}

/// The unix time of the newest successful run of one backup of a service.
pub fn backup_expr(s: &Service, b: &Backup) -> Option<String> {
    match &b.source {
        BackupSource::Proxmox => Some(format!("max({})", guest_selector("pve_backup_last_timestamp_seconds", s)?)),
        BackupSource::Textfile { job } => Some(format!("max(backup_last_success_timestamp_seconds{{backup_job={}}})", q(job))),
    }
}

/// 1 when the newest run of one backup succeeded, 0 when it failed.
pub fn backup_status_expr(s: &Service, b: &Backup) -> Option<String> {
    match &b.source {
        BackupSource::Proxmox => Some(format!("min({})", guest_selector("pve_backup_last_task_success", s)?)),
        BackupSource::Textfile { job } => Some(format!("min(backup_last_run_success{{backup_job={}}})", q(job))),
    }
}

/// Annotation text that asks Prometheus for one value of a series when the
/// alert fires (`{{ with ... | query }}`), rendered as a duration.
pub fn queried_duration(metric: &str, keys: &[&str]) -> String {
    let matchers: Vec<String> = keys.iter().map(|k| format!("{k}=%q")).collect();
    let args: Vec<String> = keys.iter().map(|k| format!("$labels.{k}")).collect();
    format!("{{{{ with printf \"{metric}{{{}}}\" {} | query }}}}{{{{ . | first | value | humanizeDuration }}}}{{{{ end }}}}", matchers.join(","), args.join(" "))
}

fn policy(inv: &Inventory) -> Vec<Rule> {
    let mut rules = Vec::new();
    for n in &inv.nodes {
        rules.push(record("homelab:node_expected", "vector(1)".into(), &[("node", n.name.clone()), ("kind", n.kind.as_str().to_owned())]));
    }
    for s in &inv.services {
        let t = inv.tier_of(s);
        let labels = [("service", s.name.clone()), ("tier", s.tier.clone())];
        rules.push(record("homelab:service_rto_seconds", format!("vector({})", t.rto.secs()), &labels));
        rules.push(record("homelab:service_rpo_seconds", format!("vector({})", t.rpo.secs()), &labels));
        rules.push(record("homelab:service_expected", "vector(1)".into(), &service_labels(s)));
        if !s.backups.is_empty() {
            rules.push(record("homelab:service_backup_expected", "vector(1)".into(), &labels));
        }
        for b in &s.backups {
            rules.push(record("homelab:backup_interval_seconds", format!("vector({})", b.every.secs()), &backup_labels(s, b)));
            rules.push(record("homelab:backup_deadline_seconds", format!("vector({})", b.deadline().secs()), &backup_labels(s, b)));
        }
        if let RunsOn::Container { container, node } = &s.runs_on {
            rules.push(record("homelab:container_expected", "vector(1)".into(), &[("service", s.name.clone()), ("name", container.clone()), ("node", node.clone())]));
        }
    }
    rules
}

fn service_state(inv: &Inventory) -> Vec<Rule> {
    let set = &inv.settings;
    let memory = set.state_memory;
    let mut rules = Vec::new();
    for s in &inv.services {
        let labels = service_labels(s);
        let svc = q(&s.name);
        rules.push(record("homelab:service_observed_up", up_expr(inv, s), &labels));
        // Up or down as observed; else down at once when the node's target
        // is down or gone; else the last observation within the grace; else
        // down when a state was recorded before (the series vanished).
        let mut state = format!("max(homelab:service_observed_up{{service={svc}}})");
        if let Some(node) = s.runs_on.node() {
            state.push_str(&format!("\nor on() (max(up{{node={n}}}) == 0)\nor on() (max(absent(up{{node={n}}})) * 0)", n = q(node)));
        }
        if set.absent_grace.secs() > 0 {
            state.push_str(&format!("\nor on() max(last_over_time(homelab:service_observed_up{{service={svc}}}[{}]))", set.absent_grace));
        }
        state.push_str(&format!("\nor on() (0 * max(last_over_time(homelab:service_up{{service={svc}}}[{memory}])))"));
        rules.push(record("homelab:service_up", state, &labels));
        if let RunsOn::ProxmoxGuest { proxmox_guest, .. } = &s.runs_on {
            // Replication jobs are named <vmid>-<n>.
            rules.push(record(
                "homelab:service_replication_age_seconds",
                format!("time() - max(pve_replication_last_sync_timestamp_seconds{{id=~\"{proxmox_guest}-[0-9]+\"}})"),
                &labels,
            ));
        }
    }
    rules.push(record("homelab:service_last_up_timestamp_seconds", "(homelab:service_up == 1) * 0 + time()".into(), &[]));
    // The time the current outage began: carried forward from the rule's own
    // past while that is newer than the service's last up; else now.
    rules.push(record(
        "homelab:service_down_since_timestamp_seconds",
        format!(
            "(\n  last_over_time(homelab:service_down_since_timestamp_seconds[{memory}])\n    > on(service) group_left() max by(service) (last_over_time(homelab:service_last_up_timestamp_seconds[{memory}]))\n  or (last_over_time(homelab:service_down_since_timestamp_seconds[{memory}]) unless on(service) last_over_time(homelab:service_last_up_timestamp_seconds[{memory}]))\n  or (homelab:service_up == 0) * 0 + time()\n) and (homelab:service_up == 0)"
        ),
        &[],
    ));
    rules.push(record("homelab:service_down_seconds", "time() - homelab:service_down_since_timestamp_seconds".into(), &[]));
    rules.push(record("homelab:service_rto_remaining_seconds", "homelab:service_down_seconds * -1 + on(service) group_left() homelab:service_rto_seconds".into(), &[]));
    rules
}

fn backups(inv: &Inventory) -> Vec<Rule> {
    let mut rules = Vec::new();
    for s in &inv.services {
        for b in &s.backups {
            if let Some(e) = backup_expr(s, b) {
                rules.push(record("homelab:backup_last_success_timestamp_seconds", e, &backup_labels(s, b)));
            }
            if let Some(e) = backup_status_expr(s, b) {
                rules.push(record("homelab:backup_last_run_success", e, &backup_labels(s, b)));
            }
        }
    }
    rules.push(record("homelab:backup_age_seconds", "time() - homelab:backup_last_success_timestamp_seconds".into(), &[]));
    rules.push(record("homelab:service_backup_age_seconds", "min without(backup, source) (homelab:backup_age_seconds)".into(), &[]));
    rules
}

/// What an alert's severity is for a tier that pages and one that does not.
fn severity(pages: bool) -> &'static str {
    if pages {
        "critical"
    } else {
        "warning"
    }
}

/// The RTO and RPO alerts of one tier: its targets are written into the
/// text, its page policy into the severity.
fn tier_alerts(inv: &Inventory, name: &str) -> Vec<Rule> {
    let Some(t) = inv.tiers.get(name) else { return Vec::new() };
    let sev = severity(inv.pages(name));
    let sel = format!("{{tier={}}}", q(name));
    let left = queried_duration("homelab:service_rto_remaining_seconds", &["service"]);
    let after = inv.settings.service_down_after.secs();
    let (rto, rpo) = (t.rto, t.rpo);
    vec![
        alert(AlertSpec {
            name: "ServiceDown",
            expr: format!("homelab:service_down_seconds{sel} >= {after}"),
            for_: "0s",
            severity: sev,
            summary: "{{ $labels.service }} is down",
            description: &format!("{{{{ $labels.service }}}} ({{{{ $labels.tier }}}} tier) has been down for {{{{ $value | humanizeDuration }}}}; {left} of its {rto} RTO left."),
        }),
        alert(AlertSpec {
            name: "ServiceDownHalfRTO",
            expr: format!("homelab:service_down_seconds{sel} > on(service) group_left() (0.5 * homelab:service_rto_seconds)"),
            for_: "0s",
            severity: sev,
            summary: "{{ $labels.service }} has used half of its RTO",
            description: &format!("{{{{ $labels.service }}}} ({{{{ $labels.tier }}}} tier) has been down for {{{{ $value | humanizeDuration }}}}, more than half of its {rto} RTO; {left} left."),
        }),
        alert(AlertSpec {
            name: "ServiceDownBeyondRTO",
            expr: format!("homelab:service_down_seconds{sel} > on(service) group_left() homelab:service_rto_seconds"),
            for_: "0s",
            severity: sev,
            summary: "{{ $labels.service }} is down longer than its RTO",
            description: &format!("{{{{ $labels.service }}}} ({{{{ $labels.tier }}}} tier) has been down for {{{{ $value | humanizeDuration }}}}, beyond its {rto} RTO."),
        }),
        alert(AlertSpec {
            name: "BackupAgeOverRPO",
            expr: format!("homelab:service_backup_age_seconds{sel} > on(service) group_left() homelab:service_rpo_seconds"),
            for_: "0s",
            severity: sev,
            summary: "Backup of {{ $labels.service }} is older than its RPO",
            description: &format!("The newest successful backup of {{{{ $labels.service }}}} ({{{{ $labels.tier }}}} tier), across all its sources, is {{{{ $value | humanizeDuration }}}} old: more than its {rpo} RPO of data would be lost."),
        }),
    ]
}

fn service_alerts(inv: &Inventory) -> Vec<Rule> {
    let mut rules: Vec<Rule> = inv.tiers.keys().flat_map(|t| tier_alerts(inv, t)).collect();
    let every = queried_duration("homelab:backup_interval_seconds", &["service", "backup"]);
    let drill = inv.settings.restore_drill_interval;
    rules.push(alert(AlertSpec {
        name: "ServiceStateUnknown",
        expr: "homelab:service_expected unless on(service) homelab:service_up".into(),
        for_: "15m",
        severity: "warning",
        summary: "Nothing says whether {{ $labels.service }} is up",
        description: "No series has said whether {{ $labels.service }} is up since these rules were loaded, so its RTO clock cannot run: check its runs_on in the inventory (guest id, container name, probe URL) and that the exporter reading it is scraped.",
    }));
    rules.push(alert(AlertSpec {
        name: "BackupRunMissed",
        expr: "homelab:backup_age_seconds > on(service, backup) group_left() homelab:backup_deadline_seconds".into(),
        for_: "0s",
        severity: "warning",
        summary: "Backup {{ $labels.backup }} of {{ $labels.service }} missed its run",
        description: &format!("The newest successful {{{{ $labels.source }}}} backup {{{{ $labels.backup }}}} of {{{{ $labels.service }}}} is {{{{ $value | humanizeDuration }}}} old; it should run every {every}."),
    }));
    rules.push(alert(AlertSpec {
        name: "BackupFailed",
        expr: "homelab:backup_last_run_success == 0".into(),
        for_: "0s",
        severity: "warning",
        summary: "Backup {{ $labels.backup }} of {{ $labels.service }} failed",
        description: &format!("The last run of the {{{{ $labels.source }}}} backup {{{{ $labels.backup }}}} of {{{{ $labels.service }}}} failed; it should run every {every}. Fix it before the service's RPO is breached."),
    }));
    let mut deadlines: Vec<Duration> = inv.services.iter().flat_map(|s| s.backups.iter().map(Backup::deadline)).collect();
    deadlines.sort();
    deadlines.dedup();
    for d in deadlines {
        rules.push(alert(AlertSpec {
            name: "BackupMissing",
            expr: format!("(homelab:backup_deadline_seconds == {}) unless on(service, backup) homelab:backup_last_success_timestamp_seconds", d.secs()),
            for_: &d.to_string(),
            severity: "warning",
            summary: "No backup {{ $labels.backup }} of {{ $labels.service }} is known",
            description: &format!("No successful {{{{ $labels.source }}}} backup {{{{ $labels.backup }}}} of {{{{ $labels.service }}}} has been seen for {d}, its interval plus grace: it never ran, or its metrics (Proxmox storage content, the script's textfile) are gone."),
        }));
    }
    rules.push(alert(AlertSpec {
        name: "RestoreDrillOverdue",
        expr: format!(
            "(time() - max by(service) (restore_drill_last_success_timestamp_seconds) > {d}) and on(service) homelab:service_backup_expected or (homelab:service_backup_expected unless on(service) restore_drill_last_success_timestamp_seconds)",
            d = drill.secs()
        ),
        for_: "1h",
        severity: "warning",
        summary: "Restore drill of {{ $labels.service }} is overdue",
        description: &format!("No restore of {{{{ $labels.service }}}} has been tested within {drill} (restore_drill_last_success_timestamp_seconds)."),
    }));
    rules.push(alert(AlertSpec {
        name: "ReplicationOlderThanRPO",
        expr: "homelab:service_replication_age_seconds > on(service) group_left() homelab:service_rpo_seconds".into(),
        for_: "5m",
        severity: "warning",
        summary: "Replica of {{ $labels.service }} is older than its RPO",
        description: "The newest Proxmox replication of {{ $labels.service }} is {{ $value | humanizeDuration }} old, beyond its recovery point objective.",
    }));
    rules.push(alert(AlertSpec {
        name: "RestoreDrillSlowerThanRTO",
        expr: "max by(service) (restore_drill_duration_seconds) > on(service) group_left(tier) homelab:service_rto_seconds".into(),
        for_: "0s",
        severity: "warning",
        summary: "Restoring {{ $labels.service }} takes longer than its RTO",
        description: "The last restore drill of {{ $labels.service }} took {{ $value | humanizeDuration }}, longer than its recovery time objective.",
    }));
    rules
}

/// The recovery group: policy, observations and the alerts that join them,
/// in one group because its rules run in order at each evaluation and each
/// sees what the ones before it recorded at the same instant.
pub fn group(inv: &Inventory) -> Group {
    let mut rules = policy(inv);
    rules.extend(service_state(inv));
    rules.extend(backups(inv));
    rules.extend(service_alerts(inv));
    Group { name: "homelab.recovery".into(), rules }
}
