//! End to end, the way a homelab runs it: a real Prometheus scrapes the
//! exporter, which reads a real upsd with a dummy UPS and a textfile backup
//! metric; the rules generated from an inventory are loaded; `upsrw` puts
//! the UPS on battery with a runtime below its shutdown budget. The
//! Prometheus API must show the UPS and RPO alerts firing, and a real
//! Alertmanager must deliver them to a webhook receiver run by this test.
//!
//! To finish in seconds, the test shortens the rules' pending periods
//! (`for:`) to 2s and Alertmanager's group waits to 1s; the expressions are
//! the generated ones. Everything listens on 127.0.0.1 and is stopped by pid.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::{free_port, http_get, Exporter};
use crate::nut::{NutServer, UPS1_DEV};

/// A process killed (by pid) when dropped.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn require(program: &str, package: &str) -> bool {
    if Path::new(program).exists() {
        return true;
    }
    let allowed = std::env::var("HOMELAB_ALLOW_MISSING_REAL").as_deref() == Ok("1") && std::env::var("HOMELAB_REQUIRE_REAL").as_deref() != Ok("1");
    if allowed {
        eprintln!("skipping: {program} is missing (Debian package {package})");
        return false;
    }
    panic!("{program} is missing: install Debian's {package} (bash scripts/test.sh does)");
}

/// A webhook receiver: records every POST body, answers 200.
pub(crate) struct Webhook {
    pub(crate) port: u16,
    pub(crate) bodies: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhook {
    pub(crate) fn start() -> Webhook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s) = (bodies.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut raw = Vec::new();
                let mut buf = [0u8; 8192];
                // Read headers, then Content-Length bytes of body (bounded).
                let body = loop {
                    let Ok(n) = stream.read(&mut buf) else { break None };
                    if n == 0 {
                        break None;
                    }
                    raw.extend_from_slice(&buf[..n]);
                    if raw.len() > 1 << 20 {
                        break None;
                    }
                    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                    let len = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok()).unwrap_or(0);
                    if raw.len() >= end + 4 + len {
                        break Some(String::from_utf8_lossy(&raw[end + 4..end + 4 + len]).to_string());
                    }
                };
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                if let Some(body) = body {
                    b.lock().unwrap().push(body);
                }
            }
        });
        Webhook { port, bodies, stop, thread: Some(thread) }
    }

    pub(crate) fn received(&self) -> String {
        self.bodies.lock().unwrap().join("\n")
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(crate) fn wait_until(what: &str, limit: Duration, logs: &dyn Fn() -> String, mut check: impl FnMut() -> Option<String>) -> String {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}\n{}", logs());
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// `GET /api/v1/query?query=EXPR`: status and JSON body.
pub(crate) fn prometheus_query(port: u16, expr: &str) -> (u16, serde_json::Value) {
    let mut encoded = String::new();
    for b in expr.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    // HTTP/1.0, so the reply is not chunked.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET /api/v1/query?query={encoded} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let text = String::from_utf8_lossy(&reply);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or_else(|_| serde_json::Value::String(body.to_owned())))
}

/// `GET path` in HTTP/1.0, so that Go's servers answer unchunked; the body,
/// or empty when the server does not answer.
pub(crate) fn get(port: u16, path: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return Vec::new() };
    let _ = s.set_read_timeout(Some(Duration::from_secs(20)));
    if write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return Vec::new();
    }
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    match reply.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) if reply.starts_with(b"HTTP/1.1 200") || reply.starts_with(b"HTTP/1.0 200") => reply[i + 4..].to_vec(),
        _ => Vec::new(),
    }
}

/// The names of the alerts in `state` from Prometheus's /api/v1/alerts.
pub(crate) fn alerts(port: u16, state: &str) -> Vec<String> {
    // Unchunked: a long list comes chunked over HTTP/1.1.
    let body = get(port, "/api/v1/alerts");
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    v["data"]["alerts"]
        .as_array()
        .map(|a| a.iter().filter(|x| x["state"] == state).filter_map(|x| x["labels"]["alertname"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Generates the rules and the Alertmanager configuration of `inventory`
/// into `d/rules`, every pending period (`for:`) shortened to 2s so that a
/// test sees in seconds what takes minutes; the expressions are the
/// generated ones. Returns the rules directory.
pub(crate) fn generate_fast_rules(inventory: &Path, d: &Path) -> std::path::PathBuf {
    let rules_dir = d.join("rules");
    homelab_rules::generate(&homelab_rules::load_inventory(inventory).unwrap(), &rules_dir).unwrap();
    let rules = std::fs::read_to_string(rules_dir.join("homelab-rules.yml")).unwrap();
    let shortened: String = rules.lines().map(|l| if l.trim_start().starts_with("for: ") { format!("{}for: 2s", &l[..l.len() - l.trim_start().len()]) } else { l.to_owned() }).collect::<Vec<_>>().join("\n");
    std::fs::write(rules_dir.join("homelab-rules.yml"), shortened).unwrap();
    rules_dir
}

/// Starts a real Alertmanager on `port` with the generated configuration
/// of `rules_dir`, its receivers pointed at `hook` and its group timers at
/// 1s; its log goes to `d/alertmanager.log`.
pub(crate) fn start_alertmanager(d: &Path, rules_dir: &Path, hook: &Webhook, port: u16) -> Proc {
    let mut config = std::fs::read_to_string(rules_dir.join("alertmanager.yml")).unwrap().replace("http://127.0.0.1:9095/", &format!("http://127.0.0.1:{}/", hook.port));
    for timer in ["group_wait: 30s", "group_wait: 10s", "group_interval: 5m", "group_interval: 1m", "group_interval: 30m"] {
        let (key, _) = timer.split_once(": ").unwrap();
        config = config.replace(timer, &format!("{key}: 1s"));
    }
    std::fs::write(d.join("alertmanager.yml"), config).unwrap();
    std::fs::create_dir_all(d.join("am-data")).unwrap();
    let log = std::fs::File::create(d.join("alertmanager.log")).unwrap();
    Proc(
        Command::new("/usr/bin/prometheus-alertmanager")
            .arg(format!("--config.file={}", d.join("alertmanager.yml").display()))
            .arg(format!("--storage.path={}", d.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// `d/prometheus.yml`: every second, scrape each (port, node) target as job
/// `homelab` with its `node` label, evaluate the rules of `rules_dir`, send
/// alerts to the Alertmanager on `am_port`.
pub(crate) fn write_prometheus_config(d: &Path, rules_dir: &Path, am_port: u16, targets: &[(u16, &str)]) {
    let targets: String = targets.iter().map(|(port, node)| format!("      - targets: ['127.0.0.1:{port}']\n        labels: {{node: {node}}}\n")).collect();
    std::fs::write(
        d.join("prometheus.yml"),
        format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms}}\nrule_files: [{}]\nalerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\nscrape_configs:\n  - job_name: homelab\n    static_configs:\n{targets}",
            rules_dir.join("homelab-rules.yml").display(),
        ),
    )
    .unwrap();
}

/// Starts Prometheus with `d/prometheus.yml` and its data in `d/tsdb` (a
/// restart finds its data again), and waits (bounded) until it listens;
/// its log is appended to `d/prometheus.log`.
pub(crate) fn start_prometheus(d: &Path, port: u16) -> Proc {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(d.join("prometheus.log")).unwrap();
    let p = Proc(
        Command::new("/usr/bin/prometheus")
            .arg(format!("--config.file={}", d.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            // Alerts sent before Alertmanager is discovered are dropped and
            // sent again only after this delay (1m by default).
            .arg("--rules.alert.resend-delay=1s")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(60), "Prometheus did not listen within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    p
}

#[test]
fn prometheus_fires_ups_and_rpo_alerts_and_alertmanager_delivers_them() {
    if !require("/usr/bin/prometheus", "prometheus") || !require("/usr/bin/prometheus-alertmanager", "prometheus-alertmanager") {
        return;
    }
    let Some(nut) = NutServer::start(&[("ups1", "Rack UPS", UPS1_DEV)]) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // A backup that last succeeded two hours ago, against an RPO of one hour.
    let textfile = d.join("textfile");
    std::fs::create_dir_all(&textfile).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    std::fs::write(textfile.join("backup.prom"), format!("backup_last_success_timestamp_seconds{{backup_job=\"notes-backup\"}} {}\n", now - 7200)).unwrap();

    let exporter = Exporter::start(&[
        "--collector.disable-defaults".into(),
        "--collector.nut".into(),
        format!("--collector.nut.target={}", nut.target()),
        "--collector.textfile".into(),
        format!("--collector.textfile.directory={}", textfile.display()),
    ]);

    // Every nut_* name the generated rules read is in this real upsd's output.
    let scraped = exporter.metrics();
    for n in crate::common::rule_metrics("nut_") {
        assert!(scraped.contains(&format!("\n{n}{{")), "rules read {n}, which the exporter does not emit from a real upsd");
    }

    // Rules from an inventory.
    let inventory = d.join("homelab.yaml");
    std::fs::write(
        &inventory,
        "tiers:\n  critical: {rto: 1h, rpo: 1h}\nnodes:\n  - {name: lab, address: 127.0.0.1}\nservices:\n  - name: notes\n    tier: critical\n    runs_on: {probe: \"http://127.0.0.1:1/\"}\n    backup: {textfile: {job: notes-backup}}\nups:\n  - {name: ups1, node: lab, powers: [lab], shutdown_budget: 5m}\n",
    )
    .unwrap();
    let rules_dir = generate_fast_rules(&inventory, d);

    // Alertmanager with the generated configuration, delivering to our webhook.
    let hook = Webhook::start();
    let am_port = free_port();
    let _am = start_alertmanager(d, &rules_dir, &hook, am_port);

    // Prometheus scraping the exporter every second.
    let prom_port = free_port();
    write_prometheus_config(d, &rules_dir, am_port, &[(exporter.port, "lab")]);
    let _prom = start_prometheus(d, prom_port);
    let logs = || {
        let (_, _, alerts_body) = http_get(prom_port, "/api/v1/alerts", &[]);
        let (_, _, q) = http_get(prom_port, "/api/v1/query?query=homelab:service_backup_age_seconds", &[]);
        format!(
            "--- alerts\n{}\n--- backup age\n{}\n--- prometheus.log\n{}\n--- alertmanager.log\n{}",
            String::from_utf8_lossy(&alerts_body),
            String::from_utf8_lossy(&q),
            std::fs::read_to_string(d.join("prometheus.log")).unwrap_or_default(),
            std::fs::read_to_string(d.join("alertmanager.log")).unwrap_or_default()
        )
    };
    let ready = Instant::now();
    while ready.elapsed() < Duration::from_secs(30) && std::net::TcpStream::connect(("127.0.0.1", prom_port)).is_err() {
        std::thread::sleep(Duration::from_millis(100));
    }

    // On line with plenty of runtime: no UPS alert yet; the stale backup fires.
    wait_until("BackupAgeOverRPO to fire", Duration::from_secs(60), &logs, || alerts(prom_port, "firing").contains(&"BackupAgeOverRPO".to_owned()).then(String::new));
    assert!(!alerts(prom_port, "firing").contains(&"UPSOnBattery".to_owned()), "UPS alert while on line\n{}", logs());

    // Mains lost, 60 s of runtime left: less than 5m budget + 2m margin.
    nut.upsrw_set("ups1", "ups.status", "OB DISCHRG");
    nut.upsrw_set("ups1", "battery.runtime", "60");
    let firing = wait_until("the UPS alerts to fire", Duration::from_secs(60), &logs, || {
        let a = alerts(prom_port, "firing");
        (a.contains(&"UPSOnBattery".to_owned()) && a.contains(&"UPSRuntimeBelowShutdownBudget".to_owned())).then(|| a.join(", "))
    });
    println!("firing in Prometheus: {firing}");

    // The dashboards generated from the same inventory, queried through
    // this Prometheus: every overview and UPS expression evaluates, and the
    // panels that matter show the situation (on battery, 60 s of runtime
    // against a 5m budget, a backup two hours old against a 1h RPO).
    let boards = homelab_dashboards::dashboards(&homelab_rules::load_inventory(&inventory).unwrap());
    let mut evaluated = 0;
    for board in boards.iter().filter(|b| ["homelab-overview", "homelab-ups"].contains(&b.board.uid())) {
        for expr in board.board.expressions() {
            let expr = expr.replace("$__rate_interval", "1m").replace("$job", "homelab").replace("$ups", "ups1").replace("$node", "lab");
            let (status, body) = prometheus_query(prom_port, &expr);
            assert!(status == 200 && body["status"] == "success", "{}: {expr} -> {status} {body}", board.file);
            evaluated += 1;
        }
    }
    println!("Prometheus evaluated {evaluated} overview and UPS dashboard expressions");
    let value = |expr: &str| -> f64 {
        let (_, body) = prometheus_query(prom_port, expr);
        let v = &body["data"]["result"][0]["value"][1];
        v.as_str().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{expr} -> {body}"))
    };
    let overview = boards.iter().find(|b| b.board.uid() == "homelab-overview").unwrap().board.to_json();
    let panel_expr = |title: &str| -> String {
        let panels = overview["panels"].as_array().unwrap();
        let panel = panels.iter().find(|p| p["title"].as_str().is_some_and(|t| t.starts_with(title))).unwrap_or_else(|| panic!("no panel {title}"));
        panel["targets"][0]["expr"].as_str().unwrap().replace("$job", "homelab")
    };
    assert_eq!(value(&panel_expr("UPS ups1: power")), 1.0, "the overview shows the UPS on battery");
    assert_eq!(value(&panel_expr("UPS ups1: runtime beyond budget")), 60.0 - 300.0);
    let age = value(&panel_expr("Newest backup (RPO 1h)"));
    assert!((7200.0..7500.0).contains(&age), "backup age {age}");
    assert!(value(&panel_expr("RPO budget left")) < 0.0);
    assert_eq!(value(&panel_expr("Backups older than RPO")), 1.0);
    assert!(value(&panel_expr("Alerts firing")) >= 2.0);
    assert_eq!(value(&panel_expr("Nodes up")), 1.0);

    let delivered = wait_until("Alertmanager to deliver the alerts to the webhook", Duration::from_secs(60), &logs, || {
        let r = hook.received();
        // UPSOnBattery may be inhibited by the critical runtime alert of the
        // same UPS (the generated inhibitions), so it need not arrive.
        (r.contains("UPSRuntimeBelowShutdownBudget") && r.contains("BackupAgeOverRPO")).then_some(r)
    });
    assert!(delivered.contains("\"ups\":\"ups1\""), "{delivered}");
    assert!(delivered.contains("\"service\":\"notes\""), "{delivered}");
    println!("webhook received {} notification(s)", hook.bodies.lock().unwrap().len());
}
