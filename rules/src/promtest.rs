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

/// Renders the few template forms the generated annotations use.
fn render(template: &str, labels: &BTreeMap<String, String>, value: f64) -> String {
    let mut out = template
        .replace("{{ $value | humanizeDuration }}", &humanize(value))
        .replace("{{ $value | humanizePercentage }}", &percentage(value))
        .replace("{{ $value }}", &go_value(value));
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
    // Nothing reports a backup: after its `for`, BackupMissing fires for
    // every service that should be backed up. One service had a restore
    // drill just now: RestoreDrillOverdue fires for all the others.
    let drilled = with_backup[0];
    let drill_expected: Vec<ExpAlert> =
        with_backup.iter().skip(1).map(|s| expect(inv, "RestoreDrillOverdue", &[("service", &s.name), ("tier", &s.tier)], 0.0)).collect();
    Some(TestGroup {
        interval: "1m".into(),
        input_series: vec![InputSeries { series: format!("restore_drill_last_success_timestamp_seconds{{service={}}}", q(&drilled.name)), values: "0+60x100".into() }],
        alert_rule_test: vec![
            AlertTest { eval_time: "20m".into(), alertname: "BackupMissing".into(), exp_alerts: vec![] },
            AlertTest { eval_time: "31m".into(), alertname: "BackupMissing".into(), exp_alerts: expected("BackupMissing") },
            AlertTest { eval_time: "61m".into(), alertname: "RestoreDrillOverdue".into(), exp_alerts: drill_expected },
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
                status("RB", 0),
                status("OVER", 0),
                InputSeries { series: format!("nut_load{{ups={}}}", q(&u.name)), values: "0.5x30".into() },
                InputSeries { series: format!("nut_battery_runtime_seconds{{ups={}}}", q(&u.name)), values: format!("{low}x30") },
            ],
            alert_rule_test: vec![
                AlertTest { eval_time: "5m".into(), alertname: "UPSOnBattery".into(), exp_alerts: vec![expect(inv, "UPSOnBattery", &[("ups", &u.name), ("status", "OB")], 1.0)] },
                AlertTest { eval_time: "5m".into(), alertname: "UPSLowBattery".into(), exp_alerts: vec![] },
                AlertTest { eval_time: "15m".into(), alertname: "UPSBatteryNeedsReplacement".into(), exp_alerts: vec![] },
                AlertTest { eval_time: "15m".into(), alertname: "UPSOverload".into(), exp_alerts: vec![] },
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
        // On line, but the battery is low, worn out, and the load too high.
        out.push(TestGroup {
            interval: "1m".into(),
            input_series: vec![
                status("OB", 0),
                status("OL", 1),
                status("LB", 1),
                status("RB", 1),
                status("OVER", 0),
                InputSeries { series: format!("nut_load{{ups={}}}", q(&u.name)), values: "0.95x30".into() },
            ],
            alert_rule_test: vec![
                AlertTest { eval_time: "15m".into(), alertname: "UPSOnBattery".into(), exp_alerts: vec![] },
                AlertTest { eval_time: "15m".into(), alertname: "UPSLowBattery".into(), exp_alerts: vec![expect(inv, "UPSLowBattery", &[("ups", &u.name), ("status", "LB")], 1.0)] },
                AlertTest {
                    eval_time: "15m".into(),
                    alertname: "UPSBatteryNeedsReplacement".into(),
                    exp_alerts: vec![expect(inv, "UPSBatteryNeedsReplacement", &[("ups", &u.name), ("status", "RB")], 1.0)],
                },
                AlertTest { eval_time: "15m".into(), alertname: "UPSOverload".into(), exp_alerts: vec![expect(inv, "UPSOverload", &[("ups", &u.name)], 0.95)] },
            ],
        });
    }
    out
}

/// One alert, fed series for an instance where it must fire and one where
/// it must stay silent: (alert, eval minute, series, expected labels, value).
type Case<'a> = (&'a str, u64, Vec<(String, String)>, Vec<(&'a str, &'a str)>, f64);

fn cases(inv: &Inventory) -> Vec<Case<'static>> {
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
    // The inventory's containers: the first runs, the others are missing.
    let containers: Vec<(&Service, &String, &String)> = inv.services.iter().filter_map(|s| match &s.runs_on { RunsOn::Container { container, node } => Some((s, container, node)), _ => None }).collect();
    if let Some((first, c, n)) = containers.first() {
        let _ = first;
        out.push(("ContainerNotRunning", 10, vec![s(&format!("docker_container_state{{name={},node={},state=\"running\"}}", q(c), q(n)), "1x60")], vec![], f64::NAN));
    }
    out
}

fn case_groups(inv: &Inventory) -> Vec<TestGroup> {
    let containers: Vec<(&Service, &String, &String)> = inv.services.iter().filter_map(|s| match &s.runs_on { RunsOn::Container { container, node } => Some((s, container, node)), _ => None }).collect();
    cases(inv)
        .into_iter()
        .map(|(alert, minute, series, labels, value)| {
            let exp_alerts = if alert == "ContainerNotRunning" {
                containers.iter().skip(1).map(|(s, c, n)| expect(inv, alert, &[("service", &s.name), ("name", c), ("node", n)], 1.0)).collect()
            } else {
                vec![expect(inv, alert, &labels, value)]
            };
            TestGroup {
                interval: "1m".into(),
                input_series: series.into_iter().map(|(series, values)| InputSeries { series, values }).collect(),
                alert_rule_test: vec![AlertTest { eval_time: at(minute), alertname: alert.into(), exp_alerts }],
            }
        })
        .collect()
}

/// Replication older than the RPO: the first Proxmox guest's replica is as
/// old as the evaluation time; the second's is always fresh.
fn replication_test(inv: &Inventory) -> Option<TestGroup> {
    let guests: Vec<(&Service, u32)> = inv.services.iter().filter_map(|s| match &s.runs_on { RunsOn::ProxmoxGuest { proxmox_guest, .. } => Some((s, *proxmox_guest)), _ => None }).collect();
    let (stale, id) = guests.first()?;
    let rpo = inv.tier_of(stale).rpo.secs();
    let firing = minutes_ceil(rpo + 360);
    let mut series = vec![InputSeries { series: format!("pve_replication_last_sync_timestamp_seconds{{id=\"{id}-0\"}}"), values: format!("0x{}", firing + 5) }];
    if let Some((_, fresh)) = guests.get(1) {
        series.push(InputSeries { series: format!("pve_replication_last_sync_timestamp_seconds{{id=\"{fresh}-0\"}}"), values: format!("0+60x{}", firing + 5) });
    }
    Some(TestGroup {
        interval: "1m".into(),
        input_series: series,
        alert_rule_test: vec![AlertTest {
            eval_time: at(firing),
            alertname: "ReplicationOlderThanRPO".into(),
            exp_alerts: vec![expect(inv, "ReplicationOlderThanRPO", &[("service", &stale.name), ("tier", &stale.tier)], (firing * 60) as f64)],
        }],
    })
}

/// A restore that took longer than the RTO fires; a quick one does not.
fn drill_duration_test(inv: &Inventory) -> Option<TestGroup> {
    let mut backed: Vec<&Service> = inv.services.iter().filter(|s| s.backup.is_some()).collect();
    backed.sort_by_key(|s| inv.tier_of(s).rto.secs());
    let slow = backed.first()?;
    let too_long = inv.tier_of(slow).rto.secs() + 1200;
    let mut series = vec![InputSeries { series: format!("restore_drill_duration_seconds{{service={}}}", q(&slow.name)), values: format!("{too_long}x30") }];
    if let Some(quick) = backed.get(1) {
        series.push(InputSeries { series: format!("restore_drill_duration_seconds{{service={}}}", q(&quick.name)), values: "60x30".into() });
    }
    Some(TestGroup {
        interval: "1m".into(),
        input_series: series,
        alert_rule_test: vec![AlertTest {
            eval_time: "5m".into(),
            alertname: "RestoreDrillSlowerThanRTO".into(),
            exp_alerts: vec![expect(inv, "RestoreDrillSlowerThanRTO", &[("service", &slow.name), ("tier", &slow.tier)], too_long as f64)],
        }],
    })
}

/// The promtool test file as YAML.
pub fn tests_yaml(inv: &Inventory) -> String {
    let mut tests = Vec::new();
    for s in &inv.services {
        tests.extend(rpo_test(inv, s));
        tests.push(rto_test(inv, s));
    }
    tests.extend(missing_test(inv));
    tests.extend(replication_test(inv));
    tests.extend(drill_duration_test(inv));
    tests.extend(ups_tests(inv));
    tests.extend(case_groups(inv));
    let file = TestFile { rule_files: vec![RULES_FILE.into()], evaluation_interval: "1m".into(), tests };
    format!(
        "# Generated by `homelab-exporter rules`: promtool unit tests of {RULES_FILE}. Run: promtool test rules {}\n{}",
        crate::generate::TESTS_FILE,
        serde_yaml_ng::to_string(&file).unwrap_or_default()
    )
}
