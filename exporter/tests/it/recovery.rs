//! The recovery alerts end to end, in the failure they exist for: a node
//! dies. Two exporters run as two nodes ("nas" with a real container in a
//! private dockerd, "pi" with the host collectors); a real Prometheus
//! scrapes both and evaluates the rules generated for an inventory with
//! short test tiers (RTO 1m); a real Alertmanager runs the generated
//! configuration. The test stops the NAS's exporter, by pid, and checks
//! through Alertmanager's API and its webhook that:
//! - the RTO alerts of the NAS's services (ServiceDownHalfRTO, then
//!   ServiceDownBeyondRTO) reach the receiver, and nothing of the Pi's;
//! - ServiceDown of those services is inhibited by ExporterDown of their
//!   node, and ServiceDownHalfRTO by ServiceDownBeyondRTO;
//! - the watchdog reaches its own receiver;
//! - restarting Prometheus mid-outage keeps the outage's start (the clock
//!   is stored data, not the evaluator's memory).
//!
//! The rules' pending periods are shortened to 2s and Alertmanager's group
//! timers to 1s; the expressions are the generated ones. Everything listens
//! on 127.0.0.1 and is stopped by pid.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::alerting::{generate_fast_rules, get, prometheus_query, require, start_alertmanager, start_prometheus, wait_until, write_prometheus_config, Proc, Webhook};
use crate::common::{free_port, Exporter};
use crate::docker::Dockerd;

const INVENTORY: &str = "\
tiers:
  critical: {rto: 1m, rpo: 1h}
  standard: {rto: 10m, rpo: 1d}
nodes:
  - {name: nas, address: 127.0.0.1}
  - {name: pi, address: 127.0.0.1}
services:
  - {name: nextcloud, tier: critical, runs_on: {container: nextcloud, node: nas}}
  - {name: nas-shares, tier: critical, runs_on: {node: nas}}
  - {name: pi-apps, tier: standard, runs_on: {node: pi}}
settings:
  service_down_after: 10s
  running_window: 1m
  state_memory: 10m
";

/// Alertmanager's view of the alerts named `alertname`: (labels, state,
/// inhibited by how many).
fn am_alerts(port: u16, alertname: &str) -> Vec<(serde_json::Value, String, usize)> {
    am_alerts_full(port, alertname).into_iter().map(|(labels, state, by, _)| (labels, state, by.len())).collect()
}

/// As `am_alerts`, with the fingerprints of the inhibiting alerts and the
/// alert's own fingerprint.
fn am_alerts_full(port: u16, alertname: &str) -> Vec<(serde_json::Value, String, Vec<String>, String)> {
    let body = get(port, "/api/v2/alerts");
    let all: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap_or_default();
    all.into_iter()
        .filter(|a| a["labels"]["alertname"] == alertname)
        .map(|a| {
            let state = a["status"]["state"].as_str().unwrap_or_default().to_owned();
            let by = a["status"]["inhibitedBy"].as_array().into_iter().flatten().filter_map(|f| f.as_str().map(str::to_owned)).collect();
            (a["labels"].clone(), state, by, a["fingerprint"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn services_of(alerts: &[(serde_json::Value, String, usize)]) -> Vec<String> {
    let mut s: Vec<String> = alerts.iter().filter_map(|(l, _, _)| l["service"].as_str().map(str::to_owned)).collect();
    s.sort();
    s
}

fn stop_by_pid(mut p: Proc) {
    let child = &mut p.0;
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_dead_node_pages_its_services_rto_alerts_with_the_promised_inhibitions() {
    if !require("/usr/bin/prometheus", "prometheus") || !require("/usr/bin/prometheus-alertmanager", "prometheus-alertmanager") {
        return;
    }
    let Some(docker) = Dockerd::start() else { return };
    docker.run(&["--name", "nextcloud", "local/busybox", "sleep", "3600"]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let nas = Exporter::start(&["--collector.disable-defaults".into(), "--collector.docker".into(), docker.host_flag()]);
    let pi = Exporter::start(&["--collector.disable-defaults".into(), "--collector.loadavg".into()]);
    assert!(nas.metrics().contains("docker_container_state{"), "the NAS's exporter sees no container");

    // Rules and Alertmanager configuration from the inventory.
    std::fs::write(d.join("homelab.yaml"), INVENTORY).unwrap();
    let rules_dir = generate_fast_rules(&d.join("homelab.yaml"), d);
    let hook = Webhook::start();
    let am_port = free_port();
    let _am = start_alertmanager(d, &rules_dir, &hook, am_port);

    let prom_port = free_port();
    write_prometheus_config(d, &rules_dir, am_port, &[(nas.port, "nas"), (pi.port, "pi")]);
    let mut prom = Some(start_prometheus(d, prom_port));
    let logs = || {
        let alerts = get(prom_port, "/api/v1/alerts");
        let rules = get(prom_port, "/api/v1/rules");
        let rules: serde_json::Value = serde_json::from_slice(&rules).unwrap_or_default();
        let broken: Vec<String> = rules["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .filter(|r| r["health"] != "ok")
            .map(|r| format!("{} {}: {}", r["name"], r["health"], r["lastError"]))
            .collect();
        let alerts: serde_json::Value = serde_json::from_slice(&alerts).unwrap_or_default();
        let alerts: Vec<String> = alerts["data"]["alerts"].as_array().into_iter().flatten().map(|a| format!("{} {} {}", a["state"], a["labels"]["alertname"], a["labels"])).collect();
        let am = get(am_port, "/api/v2/alerts");
        let own = get(prom_port, "/metrics");
        let notifier: Vec<String> = String::from_utf8_lossy(&own).lines().filter(|l| l.starts_with("prometheus_notifications")).map(str::to_owned).collect();
        format!(
            "--- prometheus notifier\n{}\n--- rules not ok\n{}\n--- prometheus alerts\n{}\n--- alertmanager alerts\n{}\n--- webhook\n{}\n--- alertmanager.log\n{}\n--- prometheus.log (tail)\n{}",
            notifier.join("\n"),
            broken.join("\n"),
            alerts.join("\n"),
            String::from_utf8_lossy(&am),
            hook.received(),
            std::fs::read_to_string(d.join("alertmanager.log")).unwrap_or_default(),
            std::fs::read_to_string(d.join("prometheus.log")).unwrap_or_default().lines().rev().take(30).collect::<Vec<_>>().join("\n")
        )
    };
    let value = |expr: &str| -> Option<f64> {
        let (status, body) = prometheus_query(prom_port, expr);
        (status == 200).then_some(())?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };

    // Every service up, from data, before anything fails.
    wait_until("all three services to be up", Duration::from_secs(90), &logs, || {
        let up = value("count(homelab:service_up == 1)")?;
        (up == 3.0).then(String::new)
    });
    wait_until("the watchdog to reach its receiver", Duration::from_secs(30), &logs, || hook.received().contains("Watchdog").then(String::new));
    let before = hook.bodies.lock().unwrap().len();

    // The NAS dies.
    let stopped_at = Instant::now();
    drop(nas);

    // ServiceDown (after 10s down) is explained by the dead node: it is
    // inhibited by ExporterDown of its node. Checked before the half-RTO
    // alert (at 30s) fires, which would inhibit it too: Alertmanager names
    // only the first inhibiting alert.
    let down = wait_until("ServiceDown of both NAS services, inhibited by ExporterDown of nas", Duration::from_secs(60), &logs, || {
        let nas_down = am_alerts_full(am_port, "ExporterDown").into_iter().find(|(l, state, _, _)| l["node"] == "nas" && state == "active")?;
        let down = am_alerts_full(am_port, "ServiceDown");
        let names: Vec<String> = down.iter().map(|(l, _, _, _)| l.clone()).map(|l| l["service"].as_str().unwrap_or_default().to_owned()).collect();
        let mut names = names;
        names.sort();
        (names == ["nas-shares", "nextcloud"] && down.iter().all(|(_, state, by, _)| state == "suppressed" && by.contains(&nas_down.3))).then(|| format!("{down:?}"))
    });
    println!("ServiceDown in Alertmanager: {down}");

    // Its services' RTO clocks run: half of the 1m RTO, then beyond it.
    wait_until("ServiceDownHalfRTO of both NAS services in Alertmanager", Duration::from_secs(90), &logs, || {
        let half = am_alerts(am_port, "ServiceDownHalfRTO");
        (services_of(&half) == ["nas-shares", "nextcloud"]).then(String::new)
    });

    // Mid-outage, Prometheus restarts: the outage keeps its start.
    let since_query = "homelab:service_down_since_timestamp_seconds{service=\"nextcloud\"}";
    let since_before = value(since_query).unwrap_or_else(|| panic!("no down-since before the restart\n{}", logs()));
    if let Some(p) = prom.take() {
        stop_by_pid(p);
    }
    std::thread::sleep(Duration::from_secs(3));
    prom = Some(start_prometheus(d, prom_port));
    let since_after = wait_until("the rules to run again after the restart", Duration::from_secs(90), &logs, || {
        // A sample newer than the restart: the rule has been evaluated again.
        let age = value(&format!("time() - timestamp({since_query})"))?;
        (age < 2.0).then(|| value(since_query).map(|v| v.to_string())).flatten()
    });
    assert_eq!(since_after.parse::<f64>().unwrap(), since_before, "the outage's start moved when Prometheus restarted\n{}", logs());

    // Beyond the RTO: ServiceDownBeyondRTO is sent, and it silences the
    // half-RTO alert of the same service.
    wait_until("ServiceDownBeyondRTO of both NAS services, HalfRTO inhibited", Duration::from_secs(90), &logs, || {
        let beyond = am_alerts(am_port, "ServiceDownBeyondRTO");
        let half = am_alerts(am_port, "ServiceDownHalfRTO");
        let ok = services_of(&beyond) == ["nas-shares", "nextcloud"]
            && beyond.iter().all(|(_, state, _)| state == "active")
            && half.iter().all(|(_, state, by)| state == "suppressed" && *by > 0);
        ok.then(String::new)
    });
    let received = wait_until("the webhook to receive the RTO alerts", Duration::from_secs(30), &logs, || {
        let bodies = hook.bodies.lock().unwrap();
        let after: String = bodies[before..].join("\n");
        (after.contains("ServiceDownHalfRTO") && after.contains("ServiceDownBeyondRTO")).then_some(after)
    });
    let bodies: Vec<String> = hook.bodies.lock().unwrap()[before..].to_vec();
    println!("node stopped {:.0} s ago; the receivers got {} notifications", stopped_at.elapsed().as_secs_f64(), bodies.len());
    for body in &bodies {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("webhook body is not JSON ({e}): {body}"));
        for a in v["alerts"].as_array().into_iter().flatten() {
            let name = a["labels"]["alertname"].as_str().unwrap_or_default();
            // Resolved notices may still arrive for what fired while the lab
            // started (the pending periods are 2s here); what fires must not
            // concern the healthy node.
            if a["status"] == "firing" {
                assert_ne!(a["labels"]["node"], "pi", "an alert of the healthy node was sent: {a}");
                assert_ne!(name, "ServiceDown", "ServiceDown was sent although its node is down: {a}");
            }
            if name.starts_with("ServiceDown") {
                assert_eq!(a["labels"]["node"], "nas", "{a}");
                assert_eq!(a["labels"]["severity"], "critical", "the critical tier pages: {a}");
            }
        }
    }
    assert!(received.contains("\"service\":\"nextcloud\"") && received.contains("\"service\":\"nas-shares\""), "{received}");
    drop(prom);
    drop(pi);
}

// ------------------------------------------------- the generator's command line

/// `homelab-exporter targets | head`: the reader closes the pipe; the
/// generator exits without a panic.
#[test]
fn targets_into_a_closed_pipe_exits_quietly() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let inventory = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples/homelab.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
        .args(["targets", "--inventory"])
        .arg(&inventory)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?} {stderr}", out.status);
}

/// Each malformed inventory: exit status 2 and a message naming the file,
/// the line and the key.
#[test]
fn malformed_inventories_exit_2_naming_file_line_and_key() {
    const GOOD: &str = "tiers:\n  critical: {rto: 4h, rpo: 1h}\nnodes:\n  - {name: nas, kind: synology}\nservices:\n  - name: nextcloud\n    tier: critical\n    runs_on: {container: nextcloud, node: nas}\nups:\n  - {name: ups, node: nas, powers: [nas], shutdown_budget: 5m}\n";
    let cases: &[(&str, String, usize, &str)] = &[
        ("a key twice", GOOD.replace("{rto: 4h, rpo: 1h}", "{rto: 4h, rpo: 1h, rpo: 2h}"), 2, "rpo"),
        ("a tier twice", GOOD.replace("  critical: {rto: 4h, rpo: 1h}\n", "  critical: {rto: 4h, rpo: 1h}\n  critical: {rto: 1d, rpo: 1d}\n"), 2, "critical"),
        ("two UPSes called ups on one node", GOOD.replace("shutdown_budget: 5m}\n", "shutdown_budget: 5m}\n  - {name: ups, node: nas, shutdown_budget: 2m}\n"), 11, "ups.ups.name"),
        ("rto: 200y", GOOD.replace("rto: 4h", "rto: 200y"), 2, "tiers.critical.rto"),
        ("shutdown_budget: 0s", GOOD.replace("shutdown_budget: 5m", "shutdown_budget: 0s"), 10, "shutdown_budget"),
        ("a runs_on of no known shape", GOOD.replace("{container: nextcloud, node: nas}", "[nextcloud, nas]"), 8, "accepted forms"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (what, text, line, key) in cases {
        let file = dir.path().join("homelab.yaml");
        std::fs::write(&file, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_homelab-exporter")).args(["rules", "--inventory"]).arg(&file).arg("--out").arg(dir.path().join("out")).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
        assert!(stderr.contains(&format!("{}:{line}:", file.display())), "{what}: no file and line {line}: {stderr}");
        assert!(stderr.contains(key), "{what}: the key {key} is not named: {stderr}");
        assert!(!dir.path().join("out").exists(), "{what}: files were written from a refused inventory");
    }
}
