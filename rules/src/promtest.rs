//! `promtool test rules` unit tests, generated from the inventory: every
//! alert fires where its rule says and stays silent where it does not. The
//! RTO alerts are checked for every tier at the times its targets give,
//! the backup alerts for every backup of every service, the UPS alerts for
//! every UPS.
//!
//! promtool evaluates every rule at every step of a test group, so a group
//! that must reach a week in one-minute steps is slow. Each group therefore
//! runs at the coarsest evaluation interval its times allow, and groups of
//! one interval share a file: `homelab-rules.test.yml` (one minute) and
//! `homelab-rules.<interval>.test.yml`. Times that need no waiting (a
//! backup's age) are set in the input values instead of waited for.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::duration::{humanize, Duration};
use crate::generate::{q, rule_file, Rule, RULES_FILE};
use crate::inventory::{Backup, BackupSource, Inventory, RunsOn, Service};
use crate::recovery::{queried_duration, service_labels};

#[derive(Debug, Serialize)]
struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval: String,
    /// Without it promtool evaluates the groups of one instant in a random
    /// order, and an alert that reads another group's recorded series is a
    /// step late now and then.
    group_eval_order: Vec<String>,
    tests: Vec<TestGroup>,
}

#[derive(Debug, Serialize)]
struct TestGroup {
    name: String,
    interval: String,
    input_series: Vec<InputSeries>,
    alert_rule_test: Vec<AlertTest>,
}

#[derive(Debug, Serialize)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Debug, Serialize)]
struct AlertTest {
    eval_time: String,
    alertname: String,
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Debug, Serialize)]
struct ExpAlert {
    exp_labels: BTreeMap<String, String>,
    exp_annotations: BTreeMap<String, String>,
}

/// Go's `%v` of a float64, as templates print `$value`: shortest digits,
/// exponent form from 1e21.
fn go_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e21 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Go's `humanizePercentage`: `%.4g%%` of v*100.
fn percentage(v: f64) -> String {
    let p = v * 100.0;
    let digits = if p.abs() >= 1.0 { 3 - p.abs().log10().floor() as i32 } else { 3 };
    let s = format!("{:.*}", digits.max(0) as usize, p);
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s };
    format!("{s}%")
}

/// What a template's `query` parts return when the alert fires, by the
/// text of the query part.
type Queried = Vec<(String, f64)>;

/// Renders the template forms the generated annotations use.
fn render(template: &str, labels: &BTreeMap<String, String>, value: f64, queried: &Queried) -> String {
    let mut out = template.to_owned();
    for (part, v) in queried {
        out = out.replace(part, &humanize(*v));
    }
    out = out
        .replace("{{ $value | humanizeDuration }}", &humanize(value))
        .replace("{{ $value | humanizePercentage }}", &percentage(value))
        .replace("{{ $value }}", &go_value(value));
    for (k, v) in labels {
        out = out.replace(&format!("{{{{ $labels.{k} }}}}"), v);
    }
    out
}

/// The rule of `alertname` that applies to series with these labels: where
/// an alert has one rule per tier, the one that selects the tier.
/// (BackupMissing has one rule per deadline: `hint` is text of its
/// expression.)
fn rule_for<'a>(rules: &'a [&'a Rule], alertname: &str, labels: &[(&str, String)], hint: Option<&str>) -> Option<&'a Rule> {
    let tier = labels.iter().find(|(k, _)| *k == "tier").map(|(_, v)| format!("tier={}", q(v)));
    let named: Vec<&Rule> = rules.iter().copied().filter(|r| r.alert.as_deref() == Some(alertname)).collect();
    if let Some(h) = hint {
        return named.into_iter().find(|r| r.expr.contains(h));
    }
    named.iter().copied().find(|r| tier.as_ref().is_some_and(|t| r.expr.contains(t.as_str()))).or_else(|| named.first().copied())
}

/// Builds expected alerts from the generated rules themselves.
struct Expect<'a> {
    rules: Vec<&'a Rule>,
}

impl Expect<'_> {
    /// The expected alert with these labels and value; `queried` gives the
    /// values its annotations ask Prometheus for.
    fn alert(&self, alertname: &str, labels: &[(&str, String)], value: f64, queried: &Queried) -> ExpAlert {
        self.alert_of(alertname, None, labels, value, queried)
    }

    /// As `alert`, from the rule of `alertname` whose expression holds `hint`.
    fn alert_of(&self, alertname: &str, hint: Option<&str>, labels: &[(&str, String)], value: f64, queried: &Queried) -> ExpAlert {
        let rule = rule_for(&self.rules, alertname, labels, hint);
        let mut l: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        if let Some(r) = rule {
            l.extend(r.labels.clone());
        }
        let annotations = rule.map(|r| r.annotations.iter().map(|(k, t)| (k.clone(), render(t, &l, value, queried))).collect()).unwrap_or_default();
        ExpAlert { exp_labels: l, exp_annotations: annotations }
    }

    fn simple(&self, alertname: &str, labels: &[(&str, &str)], value: f64) -> ExpAlert {
        let owned: Vec<(&str, String)> = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        self.alert(alertname, &owned, value, &Vec::new())
    }
}

fn at(secs: u64) -> String {
    Duration(secs).to_string()
}

fn test(eval: u64, alertname: &str, exp_alerts: Vec<ExpAlert>) -> AlertTest {
    AlertTest { eval_time: at(eval), alertname: alertname.into(), exp_alerts }
}

/// The step of the groups that check one situation each (UPS, host,
/// container and Proxmox cases, backups, drills): their times are
/// multiples of it.
const CASE_STEP: u64 = 300;

/// Evaluation intervals a group may run at, finest first.
const STEPS: [u64; 5] = [60, 300, 900, 3600, 6 * 3600];

/// The coarsest interval that still resolves `finest` (the shortest time
/// the group must tell apart) while it keeps the rules' memory of state
/// across at least two evaluations; at most about 600 steps to `horizon`.
fn step_for(inv: &Inventory, horizon: u64, finest: u64) -> u64 {
    let memory = inv.settings.state_memory.secs();
    let fits = |e: u64| e * 2 <= memory && e <= finest.max(60);
    STEPS.iter().copied().filter(|e| fits(*e)).find(|e| horizon / e <= 600).unwrap_or_else(|| STEPS.iter().copied().rfind(|e| fits(*e)).unwrap_or(60))
}

/// `n` samples of a value: promtool's `VxN` means N+1 samples.
fn repeat(value: &str, n: u64) -> String {
    format!("{value}x{}", n.saturating_sub(1))
}

/// Input series by name, so a series set twice keeps the last values.
#[derive(Default)]
struct Inputs(BTreeMap<String, String>);

impl Inputs {
    fn set(&mut self, series: String, values: String) {
        self.0.insert(series, values);
    }

    fn into_vec(self) -> Vec<InputSeries> {
        self.0.into_iter().map(|(series, values)| InputSeries { series, values }).collect()
    }
}

/// The instance label of the target that reads a Proxmox cluster, in tests.
fn cluster_instance(cluster: &str) -> String {
    format!("pve-{cluster}")
}

/// A series of a Proxmox guest as the exporter of its cluster emits it;
/// for a named cluster also that exporter's `pve_cluster_info`.
fn guest_series(inputs: &mut Inputs, s: &Service, metric: &str, values: String, samples: u64) {
    let RunsOn::ProxmoxGuest { proxmox_guest, kind, cluster, .. } = &s.runs_on else { return };
    let id = format!("{}/{proxmox_guest}", kind.as_str());
    match cluster {
        Some(c) => {
            let instance = cluster_instance(c);
            inputs.set(format!("{metric}{{id=\"{id}\",instance={}}}", q(&instance)), values);
            inputs.set(format!("pve_cluster_info{{id={},instance={}}}", q(&format!("cluster/{c}")), q(&instance)), repeat("1", samples));
        }
        None => inputs.set(format!("{metric}{{id=\"{id}\"}}"), values),
    }
}

/// The series that says whether a service is up, with these values.
fn service_series(inputs: &mut Inputs, s: &Service, values: String, samples: u64) {
    match &s.runs_on {
        RunsOn::ProxmoxGuest { .. } => guest_series(inputs, s, "pve_up", values, samples),
        RunsOn::Container { container, node } => inputs.set(format!("docker_container_state{{name={},node={},state=\"running\"}}", q(container), q(node)), values),
        RunsOn::Probe { probe } => inputs.set(format!("probe_success{{instance={}}}", q(probe)), values),
        RunsOn::Node { node } => inputs.set(format!("up{{node={}}}", q(node)), values),
    }
}

/// Every node's exporter answering, for `samples` samples.
fn nodes_up(inv: &Inventory, inputs: &mut Inputs, samples: u64) {
    for n in &inv.nodes {
        inputs.set(format!("up{{node={}}}", q(&n.name)), repeat("1", samples));
    }
}

/// The RTO alerts of the tiers that run at step `e`: their services are up
/// for two samples, then down; every other service stays up. Each alert is
/// checked silent before its time and firing at it, with its value and
/// what is left of the RTO.
fn rto_group(inv: &Inventory, ex: &Expect<'_>, e: u64, tiers: &[&str]) -> TestGroup {
    let after = inv.settings.service_down_after.secs();
    let down_at = 2 * e;
    let first_past = |limit: u64, strictly: bool| down_at + (if strictly { limit / e + 1 } else { limit.div_ceil(e) }) * e;
    let driven: Vec<&Service> = inv.services.iter().filter(|s| tiers.contains(&s.tier.as_str())).collect();
    let mut times = vec![e];
    for s in &driven {
        let r = inv.tier_of(s).rto.secs();
        for t in [first_past(after, false), first_past(r / 2, true), first_past(r, true)] {
            times.extend([t, t - e]);
        }
    }
    times.sort_unstable();
    times.dedup();
    let horizon = times.last().copied().unwrap_or(e) + e;
    let samples = horizon / e + 1;
    let mut inputs = Inputs::default();
    nodes_up(inv, &mut inputs, samples);
    for s in &inv.services {
        let values = if driven.iter().any(|d| d.name == s.name) { format!("1x1 {}", repeat("0", samples - 2)) } else { repeat("1", samples) };
        service_series(&mut inputs, s, values, samples);
    }
    let left = queried_duration("homelab:service_rto_remaining_seconds", &["service"]);
    let mut tests = Vec::new();
    for &t in &times {
        for alertname in ["ServiceDown", "ServiceDownHalfRTO", "ServiceDownBeyondRTO"] {
            let exp = driven
                .iter()
                .filter_map(|s| {
                    let r = inv.tier_of(s).rto.secs();
                    let down = t.checked_sub(down_at)?;
                    let fires = match alertname {
                        "ServiceDown" => down >= after,
                        "ServiceDownHalfRTO" => 2 * down > r,
                        _ => down > r,
                    };
                    fires.then(|| ex.alert(alertname, &service_labels(s), down as f64, &vec![(left.clone(), r as f64 - down as f64)]))
                })
                .collect();
            tests.push(test(t, alertname, exp));
        }
    }
    TestGroup { name: format!("RTO alerts of tier {}", tiers.join(", ")), interval: at(e), input_series: inputs.into_vec(), alert_rule_test: tests }
}

/// The series of one backup: its newest success and its last run's status.
fn backup_series(inputs: &mut Inputs, s: &Service, b: &Backup, success: String, status: String, samples: u64) {
    match &b.source {
        BackupSource::Proxmox => {
            guest_series(inputs, s, "pve_backup_last_timestamp_seconds", success, samples);
            guest_series(inputs, s, "pve_backup_last_task_success", status, samples);
        }
        BackupSource::Textfile { job } => {
            inputs.set(format!("backup_last_success_timestamp_seconds{{backup_job={}}}", q(job)), success);
            inputs.set(format!("backup_last_run_success{{backup_job={}}}", q(job)), status);
        }
    }
}

fn backup_labels(s: &Service, b: &Backup) -> Vec<(&'static str, String)> {
    let mut l = service_labels(s);
    l.push(("backup", b.label().to_owned()));
    l.push(("source", b.source_label().to_owned()));
    l
}

/// Every backup on schedule (age half its interval at 5m: nothing fires),
/// then every one stale and its last run failed (at 10m: each backup's
/// missed run and failure, each service's RPO breach).
fn backup_group(inv: &Inventory, ex: &Expect<'_>) -> Option<TestGroup> {
    let backed: Vec<&Service> = inv.services.iter().filter(|s| !s.backups.is_empty()).collect();
    if backed.is_empty() {
        return None;
    }
    let mut inputs = Inputs::default();
    nodes_up(inv, &mut inputs, 11);
    let stale_age = |s: &Service, b: &Backup| b.deadline().secs().max(inv.tier_of(s).rpo.secs()) + 120;
    for s in &backed {
        for b in &s.backups {
            let fresh = 300i64 - (b.every.secs() / 2) as i64;
            let stale = 600i64 - stale_age(s, b) as i64;
            backup_series(&mut inputs, s, b, format!("{} {}", repeat(&fresh.to_string(), 6), repeat(&stale.to_string(), 5)), format!("{} {}", repeat("1", 6), repeat("0", 5)), 11);
        }
    }
    let every = queried_duration("homelab:backup_interval_seconds", &["service", "backup"]);
    let per_backup = |alertname: &str, value: &dyn Fn(&Service, &Backup) -> f64| -> Vec<ExpAlert> {
        backed.iter().flat_map(|s| s.backups.iter().map(move |b| (s, b))).map(|(s, b)| ex.alert(alertname, &backup_labels(s, b), value(s, b), &vec![(every.clone(), b.every.secs() as f64)])).collect()
    };
    let over_rpo: Vec<ExpAlert> = backed
        .iter()
        .map(|s| {
            let newest = s.backups.iter().map(|b| stale_age(s, b)).min().unwrap_or(0);
            ex.alert("BackupAgeOverRPO", &service_labels(s), newest as f64, &Vec::new())
        })
        .collect();
    let mut tests = Vec::new();
    for name in ["BackupRunMissed", "BackupFailed", "BackupAgeOverRPO", "BackupMissing"] {
        tests.push(test(300, name, vec![]));
    }
    tests.push(test(600, "BackupRunMissed", per_backup("BackupRunMissed", &|s, b| stale_age(s, b) as f64)));
    tests.push(test(600, "BackupFailed", per_backup("BackupFailed", &|_, _| 0.0)));
    tests.push(test(600, "BackupAgeOverRPO", over_rpo));
    tests.push(test(600, "BackupMissing", vec![]));
    Some(TestGroup { name: "backups on schedule, then missed and failed".into(), interval: "1m".into(), input_series: inputs.into_vec(), alert_rule_test: tests })
}

/// No backup metric at all: BackupMissing fires for each backup once its
/// interval plus grace has passed, not before.
fn missing_group(inv: &Inventory, ex: &Expect<'_>) -> Option<(u64, TestGroup)> {
    let all: Vec<(&Service, &Backup)> = inv.services.iter().flat_map(|s| s.backups.iter().map(move |b| (s, b))).collect();
    let longest = all.iter().map(|(_, b)| b.deadline().secs()).max()?;
    let e = step_for(inv, longest + 3600, longest / 4);
    let mut times: Vec<u64> = all.iter().flat_map(|(_, b)| [b.deadline().secs().div_ceil(e) * e, b.deadline().secs().div_ceil(e) * e - e]).collect();
    times.sort_unstable();
    times.dedup();
    let tests = times
        .iter()
        .map(|&t| {
            let exp = all.iter().filter(|(_, b)| b.deadline().secs() <= t).map(|(s, b)| {
                    let hint = format!("== {})", b.deadline().secs());
                    ex.alert_of("BackupMissing", Some(&hint), &backup_labels(s, b), b.deadline().secs() as f64, &Vec::new())
                })
                .collect();
            test(t, "BackupMissing", exp)
        })
        .collect();
    Some((e, TestGroup { name: "no backup ever seen".into(), interval: at(e), input_series: vec![], alert_rule_test: tests }))
}

/// Nodes answer but no series says anything of the services: each is
/// unknown (ServiceStateUnknown after 15m) and none is down. With nothing
/// scraped at all, every node of the inventory is absent.
fn unknown_groups(inv: &Inventory, ex: &Expect<'_>) -> Vec<TestGroup> {
    let mut inputs = Inputs::default();
    nodes_up(inv, &mut inputs, 20);
    let unknown: Vec<ExpAlert> = inv.services.iter().filter(|s| !matches!(s.runs_on, RunsOn::Node { .. })).map(|s| ex.alert("ServiceStateUnknown", &service_labels(s), 1.0, &Vec::new())).collect();
    let absent: Vec<ExpAlert> = inv.nodes.iter().map(|n| ex.simple("ExporterAbsent", &[("node", &n.name), ("kind", n.kind.as_str())], 1.0)).collect();
    vec![
        TestGroup {
            name: "first deployment: services never seen".into(),
            interval: "1m".into(),
            input_series: inputs.into_vec(),
            alert_rule_test: vec![
                test(10 * 60, "ServiceStateUnknown", vec![]),
                test(15 * 60, "ServiceStateUnknown", unknown),
                test(15 * 60, "ServiceDown", vec![]),
                test(15 * 60, "ServiceDownBeyondRTO", vec![]),
                test(15 * 60, "ExporterAbsent", vec![]),
            ],
        },
        TestGroup {
            name: "nothing scraped".into(),
            interval: "1m".into(),
            input_series: vec![],
            alert_rule_test: vec![test(5 * 60, "ExporterAbsent", vec![]), test(10 * 60, "ExporterAbsent", absent), test(0, "Watchdog", vec![ex.simple("Watchdog", &[], 1.0)])],
        },
    ]
}

/// Restore drills: one service drilled just now, the others never.
fn drill_group(inv: &Inventory, ex: &Expect<'_>) -> Option<TestGroup> {
    let backed: Vec<&Service> = inv.services.iter().filter(|s| !s.backups.is_empty()).collect();
    let drilled = backed.first()?;
    let overdue = backed.iter().skip(1).map(|s| ex.simple("RestoreDrillOverdue", &[("service", &s.name), ("tier", &s.tier)], 1.0)).collect();
    // The slowest drill against the shortest RTO; a quick one of another
    // service stays silent.
    let mut by_rto = backed.clone();
    by_rto.sort_by_key(|s| inv.tier_of(s).rto.secs());
    let slow = by_rto[0];
    let too_long = inv.tier_of(slow).rto.secs() + 1200;
    let mut series = vec![
        InputSeries { series: format!("restore_drill_last_success_timestamp_seconds{{service={}}}", q(&drilled.name)), values: "0+60x70".into() },
        InputSeries { series: format!("restore_drill_duration_seconds{{service={}}}", q(&slow.name)), values: repeat(&too_long.to_string(), 70) },
    ];
    if let Some(quick) = by_rto.get(1) {
        series.push(InputSeries { series: format!("restore_drill_duration_seconds{{service={}}}", q(&quick.name)), values: repeat("60", 70) });
    }
    Some(TestGroup {
        name: "restore drills".into(),
        interval: "1m".into(),
        input_series: series,
        alert_rule_test: vec![
            test(55 * 60, "RestoreDrillOverdue", vec![]),
            test(65 * 60, "RestoreDrillOverdue", overdue),
            test(5 * 60, "RestoreDrillSlowerThanRTO", vec![ex.simple("RestoreDrillSlowerThanRTO", &[("service", &slow.name), ("tier", &slow.tier)], too_long as f64)]),
        ],
    })
}

/// Replication older than the RPO: the first Proxmox guest's replica is as
/// old as the evaluation time; the second's is always fresh.
fn replication_group(inv: &Inventory, ex: &Expect<'_>) -> Option<TestGroup> {
    let guests: Vec<(&Service, u32)> = inv.services.iter().filter_map(|s| match &s.runs_on { RunsOn::ProxmoxGuest { proxmox_guest, .. } => Some((s, *proxmox_guest)), _ => None }).collect();
    let (stale, id) = guests.first()?;
    let rpo = inv.tier_of(stale).rpo.secs();
    // Its age is set in the values: the replica is already rpo + 10m old at 0.
    let start = -((rpo + 600) as i64);
    let mut series = vec![InputSeries { series: format!("pve_replication_last_sync_timestamp_seconds{{id=\"{id}-0\"}}"), values: repeat(&start.to_string(), 20) }];
    if let Some((_, fresh)) = guests.get(1) {
        series.push(InputSeries { series: format!("pve_replication_last_sync_timestamp_seconds{{id=\"{fresh}-0\"}}"), values: "0+60x20".into() });
    }
    let age = (rpo + 600 + 600) as f64;
    Some(TestGroup {
        name: "replication".into(),
        interval: "1m".into(),
        input_series: series,
        alert_rule_test: vec![test(600, "ReplicationOlderThanRPO", vec![ex.alert("ReplicationOlderThanRPO", &service_labels(stale), age, &Vec::new())])],
    })
}

fn ups_groups(inv: &Inventory, ex: &Expect<'_>) -> Vec<TestGroup> {
    let margin = inv.settings.ups_runtime_margin.secs();
    let before_inhibit = inv.settings.ups_on_battery_before_inhibit.secs();
    let budget_part = queried_duration("homelab:ups_shutdown_budget_seconds", &["ups", "node"]);
    let mut out = Vec::new();
    for u in &inv.ups {
        let budget = u.shutdown_budget.secs();
        let low = (budget + margin).saturating_sub(60);
        let ok = budget + margin + 600;
        let queried = vec![(budget_part.clone(), budget as f64)];
        let id = [("ups", u.name.clone()), ("node", u.node.clone())];
        // The same UPS as its reader and a second exporter of the same upsd
        // report it: only the reader's series count.
        let series = |readers: &[&str], flags: &[(&str, u8)], load: &str, runtime: u64, charge: &str| -> Vec<InputSeries> {
            let mut v = Vec::new();
            for reader in readers {
                let sel = format!("node={},ups={}", q(reader), q(&u.name));
                for (flag, on) in flags {
                    v.push(InputSeries { series: format!("nut_ups_status{{{sel},status={}}}", q(flag)), values: repeat(&on.to_string(), 50) });
                }
                v.push(InputSeries { series: format!("nut_load{{{sel}}}"), values: repeat(load, 50) });
                v.push(InputSeries { series: format!("nut_battery_runtime_seconds{{{sel}}}"), values: repeat(&runtime.to_string(), 50) });
                v.push(InputSeries { series: format!("nut_battery_charge{{{sel}}}"), values: repeat(charge, 50) });
            }
            v
        };
        let readers = [u.node.as_str(), "second-reader"];
        let on_battery = [("OB", 1), ("OL", 0), ("LB", 0), ("RB", 0), ("OVER", 0)];
        let on_line_worn = [("OB", 0), ("OL", 1), ("LB", 1), ("RB", 1), ("OVER", 0)];
        let on_line = [("OB", 0), ("OL", 1), ("LB", 0), ("RB", 0), ("OVER", 0)];
        let powered: Vec<ExpAlert> = u.powers.iter().map(|p| ex.simple("NodeOnUPSBattery", &[("node", p), ("ups", &u.name), ("ups_node", &u.node)], 1.0)).collect();
        out.push(TestGroup {
            name: format!("UPS {} on battery, too little runtime, read by two exporters", u.name),
            interval: "1m".into(),
            input_series: series(&readers, &on_battery, "0.5", low, "0.4"),
            alert_rule_test: vec![
                test(5 * 60, "UPSOnBattery", vec![ex.alert("UPSOnBattery", &id, 1.0, &Vec::new())]),
                test(5 * 60, "UPSLowBattery", vec![]),
                test(15 * 60, "UPSBatteryNeedsReplacement", vec![]),
                test(15 * 60, "UPSOverload", vec![]),
                test(5 * 60, "UPSRuntimeBelowShutdownBudget", vec![ex.alert("UPSRuntimeBelowShutdownBudget", &id, low as f64, &queried)]),
                test(5 * 60, "UPSBatteryCannotCoverBudget", vec![]),
                test((before_inhibit + 60).div_ceil(CASE_STEP) * CASE_STEP, "NodeOnUPSBattery", powered),
            ],
        });
        out.push(TestGroup {
            name: format!("UPS {} on battery with enough runtime", u.name),
            interval: "1m".into(),
            input_series: series(&readers, &on_battery, "0.5", ok, "0.9"),
            alert_rule_test: vec![test(5 * 60, "UPSRuntimeBelowShutdownBudget", vec![])],
        });
        out.push(TestGroup {
            name: format!("UPS {} on mains, recharging a worn battery, overloaded", u.name),
            interval: "1m".into(),
            input_series: series(&readers, &on_line_worn, "0.95", low, "0.5"),
            alert_rule_test: vec![
                test(15 * 60, "UPSOnBattery", vec![]),
                test(15 * 60, "UPSRuntimeBelowShutdownBudget", vec![]),
                test(40 * 60, "UPSBatteryCannotCoverBudget", vec![]),
                test(15 * 60, "UPSLowBattery", vec![ex.simple("UPSLowBattery", &[("ups", &u.name), ("node", &u.node), ("status", "LB")], 1.0)]),
                test(15 * 60, "UPSBatteryNeedsReplacement", vec![ex.simple("UPSBatteryNeedsReplacement", &[("ups", &u.name), ("node", &u.node), ("status", "RB")], 1.0)]),
                test(15 * 60, "UPSOverload", vec![ex.simple("UPSOverload", &[("ups", &u.name), ("node", &u.node)], 0.95)]),
                test(15 * 60, "NodeOnUPSBattery", vec![]),
            ],
        });
        out.push(TestGroup {
            name: format!("UPS {} on mains and charged, runtime below the budget", u.name),
            interval: "1m".into(),
            input_series: series(&readers, &on_line, "0.5", low, "1"),
            alert_rule_test: vec![
                test(25 * 60, "UPSBatteryCannotCoverBudget", vec![]),
                test(35 * 60, "UPSBatteryCannotCoverBudget", vec![ex.alert("UPSBatteryCannotCoverBudget", &id, low as f64, &queried)]),
                test(35 * 60, "UPSRuntimeBelowShutdownBudget", vec![]),
            ],
        });
    }
    out
}

/// One alert, fed series for an instance where it must fire and one where
/// it must stay silent: (alert, eval minute, series, expected labels, value).
type Case<'a> = (&'a str, u64, Vec<(String, String)>, Vec<(&'a str, &'a str)>, f64);

fn cases() -> Vec<Case<'static>> {
    let s = |series: &str, values: &str| (series.to_owned(), values.to_owned());
    let fs = |inst: &str, metric: &str, v: &str| s(&format!("{metric}{{device=\"sda1\",fstype=\"ext4\",instance=\"{inst}\",mountpoint=\"/\"}}"), v);
    let mut out: Vec<Case<'static>> = vec![
        (
            "HostFilesystemFillingUp",
            70,
            vec![fs("a", "node_filesystem_avail_bytes", "30-0.05x200"), fs("a", "node_filesystem_size_bytes", "100x200"), fs("a", "node_filesystem_readonly", "0x200"), fs("b", "node_filesystem_avail_bytes", "30x200"), fs("b", "node_filesystem_size_bytes", "100x200"), fs("b", "node_filesystem_readonly", "0x200")],
            vec![("device", "sda1"), ("fstype", "ext4"), ("instance", "a"), ("mountpoint", "/")],
            f64::NAN,
        ),
        (
            "HostFilesystemAlmostFull",
            40,
            vec![fs("a", "node_filesystem_avail_bytes", "10x60"), fs("a", "node_filesystem_size_bytes", "100x60"), fs("a", "node_filesystem_readonly", "0x60"), fs("b", "node_filesystem_avail_bytes", "50x60"), fs("b", "node_filesystem_size_bytes", "100x60"), fs("b", "node_filesystem_readonly", "0x60")],
            vec![("device", "sda1"), ("fstype", "ext4"), ("instance", "a"), ("mountpoint", "/")],
            0.1,
        ),
        (
            "HostFilesystemFull",
            10,
            vec![fs("a", "node_filesystem_avail_bytes", "4x60"), fs("a", "node_filesystem_size_bytes", "100x60"), fs("a", "node_filesystem_readonly", "0x60"), fs("b", "node_filesystem_avail_bytes", "10x60"), fs("b", "node_filesystem_size_bytes", "100x60"), fs("b", "node_filesystem_readonly", "0x60")],
            vec![("device", "sda1"), ("fstype", "ext4"), ("instance", "a"), ("mountpoint", "/")],
            0.04,
        ),
        (
            "HostInodesAlmostExhausted",
            40,
            vec![fs("a", "node_filesystem_files_free", "4x60"), fs("a", "node_filesystem_files", "100x60"), fs("a", "node_filesystem_readonly", "0x60"), fs("b", "node_filesystem_files_free", "50x60"), fs("b", "node_filesystem_files", "100x60"), fs("b", "node_filesystem_readonly", "0x60")],
            vec![("device", "sda1"), ("fstype", "ext4"), ("instance", "a"), ("mountpoint", "/")],
            0.04,
        ),
        (
            "HostMemoryLow",
            20,
            vec![s("node_memory_MemAvailable_bytes{instance=\"a\"}", "5x60"), s("node_memory_MemTotal_bytes{instance=\"a\"}", "100x60"), s("node_memory_MemAvailable_bytes{instance=\"b\"}", "50x60"), s("node_memory_MemTotal_bytes{instance=\"b\"}", "100x60")],
            vec![("instance", "a")],
            0.05,
        ),
        (
            "HostTemperatureHigh",
            15,
            vec![s("node_hwmon_temp_celsius{chip=\"cpu\",instance=\"a\",sensor=\"temp1\"}", "85x60"), s("node_thermal_zone_temp{instance=\"b\",type=\"cpu-thermal\",zone=\"0\"}", "50x60")],
            vec![("instance", "a")],
            85.0,
        ),
        (
            "HostCpuThrottled",
            40,
            vec![s("node_cpu_package_throttles_total{instance=\"a\",package=\"0\"}", "0+1x60"), s("node_cpu_package_throttles_total{instance=\"b\",package=\"0\"}", "5x60")],
            vec![("instance", "a")],
            f64::NAN,
        ),
        (
            "HostClockNotSynchronising",
            20,
            vec![s("node_timex_sync_status{instance=\"a\"}", "0x60"), s("node_timex_maxerror_seconds{instance=\"a\"}", "16x60"), s("node_timex_sync_status{instance=\"b\"}", "1x60"), s("node_timex_maxerror_seconds{instance=\"b\"}", "0.1x60")],
            vec![("instance", "a")],
            f64::NAN,
        ),
        (
            "HostRaidDegraded",
            20,
            vec![
                s("node_md_disks_required{device=\"md0\",instance=\"a\"}", "2x60"),
                s("node_md_disks{device=\"md0\",instance=\"a\",state=\"active\"}", "1x60"),
                s("node_md_disks{device=\"md0\",instance=\"a\",state=\"failed\"}", "0x60"),
                s("node_md_disks_required{device=\"md0\",instance=\"b\"}", "2x60"),
                s("node_md_disks{device=\"md0\",instance=\"b\",state=\"active\"}", "2x60"),
                s("node_md_disks{device=\"md0\",instance=\"b\",state=\"failed\"}", "0x60"),
            ],
            vec![("device", "md0"), ("instance", "a")],
            f64::NAN,
        ),
        (
            "HostRaidInactive",
            20,
            vec![s("node_md_state{device=\"md0\",instance=\"a\",state=\"inactive\"}", "1x60"), s("node_md_state{device=\"md0\",instance=\"b\",state=\"inactive\"}", "0x60")],
            vec![("device", "md0"), ("instance", "a"), ("state", "inactive")],
            f64::NAN,
        ),
        (
            "HostZfsPoolUnhealthy",
            10,
            vec![
                s("node_zfs_zpool_state{instance=\"a\",state=\"degraded\",zpool=\"tank\"}", "1x60"),
                s("node_zfs_zpool_state{instance=\"a\",state=\"online\",zpool=\"tank\"}", "0x60"),
                s("node_zfs_zpool_state{instance=\"b\",state=\"degraded\",zpool=\"tank\"}", "0x60"),
                s("node_zfs_zpool_state{instance=\"b\",state=\"online\",zpool=\"tank\"}", "1x60"),
            ],
            vec![("instance", "a"), ("state", "degraded"), ("zpool", "tank")],
            f64::NAN,
        ),
        (
            "RaspberryPiUnderVoltage",
            10,
            vec![s("rpi_throttled{condition=\"under_voltage\",instance=\"a\"}", "1x60"), s("rpi_throttled{condition=\"under_voltage\",instance=\"b\"}", "0x60")],
            vec![("condition", "under_voltage"), ("instance", "a")],
            f64::NAN,
        ),
        (
            "RaspberryPiUnderVoltageSinceBoot",
            10,
            vec![
                s("rpi_throttled_since_boot{condition=\"under_voltage\",instance=\"a\"}", "1x60"),
                s("rpi_throttled{condition=\"under_voltage\",instance=\"a\"}", "0x60"),
                s("rpi_throttled_since_boot{condition=\"under_voltage\",instance=\"b\"}", "0x60"),
                s("rpi_throttled{condition=\"under_voltage\",instance=\"b\"}", "0x60"),
            ],
            vec![("condition", "under_voltage"), ("instance", "a")],
            f64::NAN,
        ),
        (
            "RaspberryPiThrottled",
            15,
            vec![s("rpi_throttled{condition=\"soft_temp_limit\",instance=\"a\"}", "1x60"), s("rpi_throttled{condition=\"soft_temp_limit\",instance=\"b\"}", "0x60")],
            vec![("condition", "soft_temp_limit"), ("instance", "a")],
            f64::NAN,
        ),
        (
            "StorageWearingOut",
            70,
            vec![s("mmc_life_time_estimate{area=\"A\",device=\"mmcblk0\",instance=\"a\"}", "9x90"), s("mmc_life_time_estimate{area=\"A\",device=\"mmcblk0\",instance=\"b\"}", "3x90")],
            vec![("area", "A"), ("device", "mmcblk0"), ("instance", "a")],
            f64::NAN,
        ),
        (
            "HostTextfileError",
            20,
            vec![s("node_textfile_scrape_error{instance=\"a\"}", "1x60"), s("node_textfile_scrape_error{instance=\"b\"}", "0x60")],
            vec![("instance", "a")],
            f64::NAN,
        ),
        (
            "ExporterCollectorFailing",
            60,
            vec![s("node_scrape_collector_success{collector=\"hwmon\",instance=\"a\"}", "1x30 0x60"), s("node_scrape_collector_success{collector=\"hwmon\",instance=\"b\"}", "0x90")],
            vec![("collector", "hwmon"), ("instance", "a")],
            f64::NAN,
        ),
        ("ExporterDown", 10, vec![s("up{instance=\"a\",job=\"homelab\"}", "0x60"), s("up{instance=\"b\",job=\"homelab\"}", "1x60")], vec![("instance", "a"), ("job", "homelab")], f64::NAN),
        (
            "ContainerUnhealthy",
            10,
            vec![s("docker_container_health_status{instance=\"a\",name=\"web\",status=\"unhealthy\"}", "1x60"), s("docker_container_health_status{instance=\"b\",name=\"web\",status=\"unhealthy\"}", "0x60")],
            vec![("instance", "a"), ("name", "web"), ("status", "unhealthy")],
            f64::NAN,
        ),
        (
            "ContainerRestarting",
            20,
            vec![s("docker_container_restarts_total{instance=\"a\",name=\"web\"}", "0+1x60"), s("docker_container_restarts_total{instance=\"b\",name=\"web\"}", "1x60")],
            vec![("instance", "a"), ("name", "web")],
            f64::NAN,
        ),
        (
            "ContainerExitedWithError",
            10,
            vec![
                s("docker_container_exit_code{instance=\"a\",name=\"job\"}", "3x60"),
                s("docker_container_state{instance=\"a\",name=\"job\",state=\"exited\"}", "1x60"),
                s("docker_container_exit_code{instance=\"b\",name=\"job\"}", "0x60"),
                s("docker_container_state{instance=\"b\",name=\"job\",state=\"exited\"}", "1x60"),
            ],
            vec![("instance", "a"), ("name", "job")],
            3.0,
        ),
        (
            "ContainerOOMKilled",
            20,
            vec![s("container_oom_events_total{instance=\"a\",name=\"db\"}", "0+1x60"), s("container_oom_events_total{instance=\"b\",name=\"db\"}", "2x60")],
            vec![("instance", "a"), ("name", "db")],
            f64::NAN,
        ),
        (
            "ProxmoxGuestNotRunning",
            15,
            vec![s("pve_onboot_status{id=\"qemu/201\"}", "1x60"), s("pve_up{id=\"qemu/201\"}", "0x60"), s("pve_onboot_status{id=\"qemu/202\"}", "1x60"), s("pve_up{id=\"qemu/202\"}", "1x60")],
            vec![("id", "qemu/201")],
            f64::NAN,
        ),
        ("ProxmoxNodeDown", 10, vec![s("pve_up{id=\"node/pve3\"}", "0x60"), s("pve_up{id=\"node/pve1\"}", "1x60")], vec![("id", "node/pve3")], f64::NAN),
        (
            "ProxmoxStorageAlmostFull",
            40,
            vec![
                s("pve_disk_usage_bytes{id=\"storage/pve1/local\"}", "90x60"),
                s("pve_disk_size_bytes{id=\"storage/pve1/local\"}", "100x60"),
                s("pve_disk_usage_bytes{id=\"storage/pve1/nas\"}", "50x60"),
                s("pve_disk_size_bytes{id=\"storage/pve1/nas\"}", "100x60"),
            ],
            vec![("id", "storage/pve1/local")],
            0.9,
        ),
        ("ProxmoxGuestsNotBackedUp", 70, vec![s("pve_not_backed_up_total{id=\"cluster/lab\"}", "2x90"), s("pve_not_backed_up_total{id=\"cluster/other\"}", "0x90")], vec![("id", "cluster/lab")], 2.0),
        ("ProxmoxReplicationFailing", 20, vec![s("pve_replication_failed_syncs{id=\"201-0\"}", "3x60"), s("pve_replication_failed_syncs{id=\"202-0\"}", "0x60")], vec![("id", "201-0")], 3.0),
    ];
    out.push((
        "PrometheusRuleEvaluationFailures",
        20,
        vec![s("prometheus_rule_evaluation_failures_total{rule_group=\"homelab.recovery\"}", "0+1x60"), s("prometheus_rule_evaluation_failures_total{rule_group=\"homelab.ups\"}", "0x60")],
        vec![("rule_group", "homelab.recovery")],
        f64::NAN,
    ));
    out
}

fn case_groups(inv: &Inventory, ex: &Expect<'_>) -> Vec<TestGroup> {
    let containers: Vec<(&Service, &String, &String)> = inv.services.iter().filter_map(|s| match &s.runs_on { RunsOn::Container { container, node } => Some((s, container, node)), _ => None }).collect();
    let mut groups: Vec<TestGroup> = cases()
        .into_iter()
        .map(|(alert, minute, series, labels, value)| TestGroup {
            name: alert.into(),
            interval: "1m".into(),
            input_series: series.into_iter().map(|(series, values)| InputSeries { series, values }).collect(),
            alert_rule_test: vec![test(minute * 60, alert, vec![ex.simple(alert, &labels, value)])],
        })
        .collect();
    // The inventory's containers: the first runs, the others are missing.
    if let Some((_, c, n)) = containers.first() {
        groups.push(TestGroup {
            name: "ContainerNotRunning".into(),
            interval: "1m".into(),
            input_series: vec![InputSeries { series: format!("docker_container_state{{name={},node={},state=\"running\"}}", q(c), q(n)), values: "1x60".into() }],
            alert_rule_test: vec![test(
                600,
                "ContainerNotRunning",
                containers.iter().skip(1).map(|(s, c, n)| ex.simple("ContainerNotRunning", &[("service", &s.name), ("name", c), ("node", n)], 1.0)).collect(),
            )],
        });
    }
    groups
}

/// The name of the test file for groups evaluated every `step` seconds.
pub fn test_file_name(step: u64) -> String {
    if step == 60 {
        crate::generate::TESTS_FILE.to_owned()
    } else {
        format!("homelab-rules.{}.test.yml", Duration(step))
    }
}

/// Every test file: (name, YAML), the one-minute file first.
pub fn test_files(inv: &Inventory) -> Vec<(String, String)> {
    let file = rule_file(inv);
    let group_order: Vec<String> = file.groups.iter().map(|g| g.name.clone()).collect();
    let ex = Expect { rules: file.groups.iter().flat_map(|g| &g.rules).collect() };
    let mut by_step: BTreeMap<u64, Vec<TestGroup>> = BTreeMap::new();
    // Tiers that resolve at the same step share a group.
    let mut tiers_by_step: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for (name, t) in &inv.tiers {
        if inv.services.iter().any(|s| &s.tier == name) {
            let r = t.rto.secs();
            tiers_by_step.entry(step_for(inv, r + inv.settings.service_down_after.secs() + 3600, r / 8)).or_default().push(name);
        }
    }
    for (e, tiers) in &tiers_by_step {
        by_step.entry(*e).or_default().push(rto_group(inv, &ex, *e, tiers));
    }
    // Groups whose times are all multiples of five minutes run at that step.
    let minute = by_step.entry(CASE_STEP).or_default();
    minute.extend(backup_group(inv, &ex));
    minute.extend(unknown_groups(inv, &ex));
    minute.extend(drill_group(inv, &ex));
    minute.extend(replication_group(inv, &ex));
    minute.extend(ups_groups(inv, &ex));
    minute.extend(case_groups(inv, &ex));
    if let Some((e, g)) = missing_group(inv, &ex) {
        by_step.entry(e).or_default().push(g);
    }
    by_step
        .into_iter()
        .map(|(step, tests)| {
            let name = test_file_name(step);
            let file = TestFile { rule_files: vec![RULES_FILE.into()], evaluation_interval: at(step), group_eval_order: group_order.clone(), tests };
            let yaml = format!("# Generated by `homelab-exporter rules`: promtool unit tests of {RULES_FILE}. Run: promtool test rules homelab-rules*.test.yml\n{}", serde_yaml_ng::to_string(&file).unwrap_or_default());
            (name, yaml)
        })
        .collect()
}

/// The one-minute test file as YAML.
pub fn tests_yaml(inv: &Inventory) -> String {
    test_files(inv).into_iter().next().map(|(_, y)| y).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Alert names checked firing (a non-empty expected list) and silent (an
    /// empty list, or a group where a second instance stays silent beside
    /// the one that fires) across every generated test file.
    fn coverage(inv: &Inventory) -> (BTreeSet<String>, BTreeSet<String>) {
        let (mut firing, mut silent) = (BTreeSet::new(), BTreeSet::new());
        for (_, yaml) in test_files(inv) {
            let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
            for group in v["tests"].as_sequence().unwrap() {
                                for t in group["alert_rule_test"].as_sequence().unwrap() {
                    let alert = t["alertname"].as_str().unwrap().to_owned();
                    if t["exp_alerts"].as_sequence().unwrap().is_empty() {
                        silent.insert(alert);
                    } else {
                        // A healthy counterpart was fed beside the failing
                        // one: an input series identified by a value that
                        // no expected alert carries.
                        let expected: Vec<String> = t["exp_alerts"].as_sequence().unwrap().iter().flat_map(|a| a["exp_labels"].as_mapping().into_iter().flatten().filter_map(|(_, v)| v.as_str().map(str::to_owned))).collect();
                        let healthy = group["input_series"].as_sequence().unwrap().iter().any(|s| {
                            let series = s["series"].as_str().unwrap_or_default();
                            ["instance", "id", "service", "name", "rule_group"].iter().any(|k| {
                                let Some(rest) = series.split(&format!("{k}=\"")).nth(1) else { return false };
                                let value = rest.split('"').next().unwrap_or_default();
                                !expected.iter().any(|e| e == value || e.contains(&format!("{value}-")) || value.starts_with(&format!("{e}-")))
                            })
                        });
                        if healthy {
                            silent.insert(alert.clone());
                        }
                        firing.insert(alert);
                    }
                }
            }
        }
        (firing, silent)
    }

    #[test]
    fn every_alert_is_checked_firing_and_silent() {
        let inv = Inventory::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/homelab.yaml")).unwrap();
        let (firing, silent) = coverage(&inv);
        let file = rule_file(&inv);
        let alerts: BTreeSet<String> = file.groups.iter().flat_map(|g| &g.rules).filter_map(|r| r.alert.clone()).collect();
        let not_firing: Vec<&String> = alerts.iter().filter(|a| !firing.contains(*a)).collect();
        let not_silent: Vec<&String> = alerts.iter().filter(|a| !silent.contains(*a) && a.as_str() != "Watchdog").collect();
        assert!(not_firing.is_empty(), "never checked firing: {not_firing:?}");
        assert!(not_silent.is_empty(), "never checked silent: {not_silent:?}");
    }
}
