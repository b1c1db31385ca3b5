//! `promtool test rules` unit tests, generated from the inventory: for each
//! service the RPO and RTO alerts fire, and stay silent, at the times its
//! tier's targets say; for each UPS the on-battery and runtime alerts fire.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::duration::humanize;
use crate::generate::{q, rule_file, RULES_FILE};
use crate::inventory::{GuestKind, Inventory, RunsOn, Service};

#[derive(Debug, Serialize)]
struct TestFile {
    rule_files: Vec<String>,
    evaluation_interval: String,
    tests: Vec<TestGroup>,
}

#[derive(Debug, Serialize)]
struct TestGroup {
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

/// Minutes, rounded up.
fn minutes_ceil(secs: u64) -> u64 {
    secs.div_ceil(60)
}

/// Renders the few template forms the generated annotations use.
fn render(template: &str, labels: &BTreeMap<String, String>, value: f64) -> String {
    let mut out = template.replace("{{ $value | humanizeDuration }}", &humanize(value));
    for (k, v) in labels {
        out = out.replace(&format!("{{{{ $labels.{k} }}}}"), v);
    }
    out
}

/// The expected alert for `alertname` with these labels and value, its
/// annotations rendered from the generated rule itself.
fn expect(inv: &Inventory, alertname: &str, labels: &[(&str, &str)], value: f64) -> ExpAlert {
    let rules = rule_file(inv);
    let rule = rules.groups.iter().flat_map(|g| &g.rules).find(|r| r.alert.as_deref() == Some(alertname));
    let mut l: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    if let Some(r) = rule {
        l.extend(r.labels.clone());
    }
    let annotations = rule.map(|r| r.annotations.iter().map(|(k, t)| (k.clone(), render(t, &l, value))).collect()).unwrap_or_default();
    ExpAlert { exp_labels: l, exp_annotations: annotations }
}

fn at(mins: u64) -> String {
    format!("{mins}m")
}

/// The input series whose value says the service is up (1) or down (0).
fn up_series(s: &Service) -> String {
    match &s.runs_on {
        RunsOn::ProxmoxGuest { proxmox_guest, kind } => {
            let k = if *kind == GuestKind::Lxc { "lxc" } else { "qemu" };
            format!("pve_up{{id=\"{k}/{proxmox_guest}\"}}")
        }
        RunsOn::Container { container, node } => format!("docker_container_state{{name={},node={},state=\"running\"}}", q(container), q(node)),
        RunsOn::Probe { probe } => format!("probe_success{{instance={}}}", q(probe)),
    }
}

/// The input series holding the newest backup's time.
fn backup_series(s: &Service) -> Option<String> {
    let b = s.backup.as_ref()?;
    if let Some(t) = &b.textfile {
        return Some(format!("backup_last_success_timestamp_seconds{{backup_job={}}}", q(&t.job)));
    }
    match &s.runs_on {
        RunsOn::ProxmoxGuest { proxmox_guest, kind } if b.proxmox => {
            let k = if *kind == GuestKind::Lxc { "lxc" } else { "qemu" };
            Some(format!("pve_backup_last_timestamp_seconds{{id=\"{k}/{proxmox_guest}\"}}"))
        }
        _ => None,
    }
}

fn rpo_test(inv: &Inventory, s: &Service) -> Option<TestGroup> {
    let series = backup_series(s)?;
    let rpo = inv.tier_of(s).rpo.secs();
    let labels = [("service", s.name.as_str()), ("tier", s.tier.as_str())];
    // A backup taken at t=0: its age is the evaluation time.
    let quiet = minutes_ceil(rpo / 2).max(1);
    let firing = minutes_ceil(rpo + 300 + 60);
    let mut tests = vec![
        AlertTest { eval_time: at(quiet), alertname: "BackupAgeNearRPO".into(), exp_alerts: vec![] },
        AlertTest { eval_time: at(quiet), alertname: "BackupAgeOverRPO".into(), exp_alerts: vec![] },
        AlertTest { eval_time: at(firing), alertname: "BackupAgeOverRPO".into(), exp_alerts: vec![expect(inv, "BackupAgeOverRPO", &labels, (firing * 60) as f64)] },
        AlertTest { eval_time: at(firing), alertname: "BackupAgeNearRPO".into(), exp_alerts: vec![expect(inv, "BackupAgeNearRPO", &labels, (firing * 60) as f64)] },
    ];
    // Near-RPO alone, where the tier leaves room between 75% and 100%.
    let near = minutes_ceil(rpo * 3 / 4 + 300 + 60);
    if near * 60 < rpo {
        tests.push(AlertTest { eval_time: at(near), alertname: "BackupAgeNearRPO".into(), exp_alerts: vec![expect(inv, "BackupAgeNearRPO", &labels, (near * 60) as f64)] });
        tests.push(AlertTest { eval_time: at(near), alertname: "BackupAgeOverRPO".into(), exp_alerts: vec![] });
    }
    Some(TestGroup { interval: "1m".into(), input_series: vec![InputSeries { series, values: format!("0x{}", firing + 5) }], alert_rule_test: tests })
}

fn rto_test(inv: &Inventory, s: &Service) -> TestGroup {
    let rto = inv.tier_of(s).rto.secs();
    let labels = [("service", s.name.as_str()), ("tier", s.tier.as_str())];
    // Up for the first 10 minutes (last up sample at 10m), down from 11m.
    let last_up = 600u64;
    let down_alert = 15u64;
    let half = minutes_ceil(last_up + rto / 2 + 60);
    let beyond = minutes_ceil(last_up + rto + 60);
    let tests = vec![
        AlertTest { eval_time: at(5), alertname: "ServiceDown".into(), exp_alerts: vec![] },
        AlertTest {
            eval_time: at(down_alert),
            alertname: "ServiceDown".into(),
            exp_alerts: vec![expect(inv, "ServiceDown", &labels, rto as f64 - (down_alert * 60 - last_up) as f64)],
        },
        AlertTest { eval_time: at(down_alert), alertname: "ServiceDownHalfRTO".into(), exp_alerts: vec![] },
        AlertTest { eval_time: at(half), alertname: "ServiceDownHalfRTO".into(), exp_alerts: vec![expect(inv, "ServiceDownHalfRTO", &labels, (half * 60 - last_up) as f64)] },
        AlertTest { eval_time: at(half), alertname: "ServiceDownBeyondRTO".into(), exp_alerts: vec![] },
        AlertTest { eval_time: at(beyond), alertname: "ServiceDownBeyondRTO".into(), exp_alerts: vec![expect(inv, "ServiceDownBeyondRTO", &labels, (beyond * 60 - last_up) as f64)] },
    ];
    TestGroup { interval: "1m".into(), input_series: vec![InputSeries { series: up_series(s), values: format!("1x10 0x{}", beyond + 5) }], alert_rule_test: tests }
}

fn missing_test(inv: &Inventory) -> Option<TestGroup> {
    let with_backup: Vec<&Service> = inv.services.iter().filter(|s| s.backup.is_some()).collect();
    if with_backup.is_empty() {
        return None;
    }
    let expected = |name: &str| with_backup.iter().map(|s| expect(inv, name, &[("service", &s.name), ("tier", &s.tier)], 0.0)).collect::<Vec<_>>();
    // Nothing reports a backup or a drill: after their `for`, both fire for every service with an RPO.
    Some(TestGroup {
        interval: "1m".into(),
        input_series: vec![],
        alert_rule_test: vec![
            AlertTest { eval_time: "20m".into(), alertname: "BackupMissing".into(), exp_alerts: vec![] },
            AlertTest { eval_time: "31m".into(), alertname: "BackupMissing".into(), exp_alerts: expected("BackupMissing") },
            AlertTest { eval_time: "61m".into(), alertname: "RestoreDrillOverdue".into(), exp_alerts: expected("RestoreDrillOverdue") },
        ],
    })
}

fn ups_tests(inv: &Inventory) -> Vec<TestGroup> {
    let margin = inv.settings.ups_runtime_margin.secs();
    let mut out = Vec::new();
    for u in &inv.ups {
        let budget = u.shutdown_budget.secs();
        let low = (budget + margin).saturating_sub(60);
        let ok = budget + margin + 600;
        let status = |flag: &str, v: u8| InputSeries { series: format!("nut_ups_status{{status={},ups={}}}", q(flag), q(&u.name)), values: format!("{v}x30") };
        out.push(TestGroup {
            interval: "1m".into(),
            input_series: vec![
                status("OB", 1),
                status("OL", 0),
                status("LB", 0),
                InputSeries { series: format!("nut_battery_runtime_seconds{{ups={}}}", q(&u.name)), values: format!("{low}x30") },
            ],
            alert_rule_test: vec![
                AlertTest { eval_time: "5m".into(), alertname: "UPSOnBattery".into(), exp_alerts: vec![expect(inv, "UPSOnBattery", &[("ups", &u.name), ("status", "OB")], 1.0)] },
                AlertTest { eval_time: "5m".into(), alertname: "UPSLowBattery".into(), exp_alerts: vec![] },
                AlertTest {
                    eval_time: "5m".into(),
                    alertname: "UPSRuntimeBelowShutdownBudget".into(),
                    exp_alerts: vec![expect(inv, "UPSRuntimeBelowShutdownBudget", &[("ups", &u.name)], low as f64)],
                },
            ],
        });
        out.push(TestGroup {
            interval: "1m".into(),
            input_series: vec![status("OB", 1), InputSeries { series: format!("nut_battery_runtime_seconds{{ups={}}}", q(&u.name)), values: format!("{ok}x30") }],
            alert_rule_test: vec![AlertTest { eval_time: "5m".into(), alertname: "UPSRuntimeBelowShutdownBudget".into(), exp_alerts: vec![] }],
        });
    }
    out
}

/// The promtool test file as YAML.
pub fn tests_yaml(inv: &Inventory) -> String {
    let mut tests = Vec::new();
    for s in &inv.services {
        tests.extend(rpo_test(inv, s));
        tests.push(rto_test(inv, s));
    }
    tests.extend(missing_test(inv));
    tests.extend(ups_tests(inv));
    let file = TestFile { rule_files: vec![RULES_FILE.into()], evaluation_interval: "1m".into(), tests };
    format!(
        "# Generated by `homelab-exporter rules`: promtool unit tests of {RULES_FILE}. Run: promtool test rules {}\n{}",
        crate::generate::TESTS_FILE,
        serde_yaml_ng::to_string(&file).unwrap_or_default()
    )
}
