//! The scrape path through the real binary: failures stay inside their
//! collector, formats and compression are negotiated, bad configuration
//! stops start-up with status 2, live output passes `promtool`.

use std::io::Read as _;
use std::process::Command;

use crate::common::{parse_exposition, promtool_check_metrics, upstream, Exporter};

fn value(text: &str, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    parse_exposition(text)
        .series
        .into_iter()
        .find(|s| s.name == name && label.is_none_or(|(k, v)| s.labels.get(k).map(String::as_str) == Some(v)))
        .map(|s| s.value)
}

#[test]
fn garbled_file_fails_only_its_own_collector() {
    let dir = tempfile::tempdir().unwrap();
    let proc_dir = dir.path().join("proc");
    std::fs::create_dir_all(&proc_dir).unwrap();
    std::fs::write(proc_dir.join("loadavg"), "garbage here\n").unwrap();
    std::fs::copy(upstream().join("node_exporter/proc/meminfo"), proc_dir.join("meminfo")).unwrap();
    let exporter = Exporter::start(&[
        format!("--path.procfs={}", proc_dir.display()),
        "--collector.disable-defaults".into(),
        "--collector.loadavg".into(),
        "--collector.meminfo".into(),
    ]);
    let text = exporter.metrics();
    assert_eq!(value(&text, "node_scrape_collector_success", Some(("collector", "loadavg"))), Some(0.0), "{text}");
    assert_eq!(value(&text, "node_scrape_collector_success", Some(("collector", "meminfo"))), Some(1.0), "{text}");
    assert!(value(&text, "node_memory_MemTotal_bytes", None).is_some(), "{text}");
    assert!(value(&text, "node_load1", None).is_none(), "{text}");
    // The landing page shows the failure and why.
    let (status, _, body) = exporter.get("/", &[]);
    assert_eq!(status, 200);
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("loadavg") && page.contains("failed"), "{page}");
}

#[test]
fn openmetrics_gzip_health_and_unknown_paths() {
    let exporter = Exporter::start(&["--collector.disable-defaults".into(), "--collector.loadavg".into()]);
    let (status, head, body) = exporter.get(
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(status, 200);
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/openmetrics-text; version=1.0.0"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut text).unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("node_load1 "), "{text}");

    let (status, head, body) = exporter.get("/metrics", &[]);
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: text/plain; version=0.0.4"), "{head}");
    assert!(!String::from_utf8(body).unwrap().contains("# EOF"));

    assert_eq!(exporter.get("/-/healthy", &[]).0, 200);
    assert_eq!(exporter.get("/nope", &[]).0, 404);
}

fn run_to_exit(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_homelab-exporter")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn bad_configuration_exits_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, "flags:\n  web.listen-address: \":0\"\n  collector.netdev.nonsense: 3\n").unwrap();
    let (code, err) = run_to_exit(&[&format!("--config.file={}", file.display())]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("config.yaml:3:") && err.contains("collector.netdev.nonsense"), "{err}");

    std::fs::write(&file, "flags: {}\nsurprise: true\n").unwrap();
    let (code, err) = run_to_exit(&[&format!("--config.file={}", file.display())]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("config.yaml:2:") && err.contains("surprise"), "{err}");

    let (code, err) = run_to_exit(&["--config.file=/nonexistent/config.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/config.yaml"), "{err}");

    let (code, err) = run_to_exit(&["--web.no-such-flag"]);
    assert_eq!(code, 2, "{err}");
    let (code, err) = run_to_exit(&["--collector.no-such-collector"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no-such-collector"), "{err}");
}

#[test]
fn config_file_flags_apply_and_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, "flags:\n  web.telemetry-path: /from-file\n  collector.disable-defaults: true\n  collector.loadavg: true\n").unwrap();
    let exporter = Exporter::start(&[format!("--config.file={}", file.display())]);
    let (status, _, body) = exporter.get("/from-file", &[]);
    assert_eq!(status, 200);
    assert!(String::from_utf8(body).unwrap().contains("node_load1 "));
    drop(exporter);
    let exporter = Exporter::start(&[format!("--config.file={}", file.display()), "--web.telemetry-path=/cli".into()]);
    assert_eq!(exporter.get("/cli", &[]).0, 200);
    assert_eq!(exporter.get("/from-file", &[]).0, 404);
}

/// The README's run command with no configuration serves this machine's
/// metrics, and `promtool check metrics` finds no problem in them beyond
/// the lints we accept on purpose (see [`accepted_lint`]).
#[test]
fn default_run_serves_live_host_metrics_that_promtool_accepts() {
    let exporter = Exporter::start(&[]);
    let text = exporter.metrics();
    for name in ["node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_load1", "node_boot_time_seconds", "node_network_receive_bytes_total", "node_filesystem_avail_bytes", "process_resident_memory_bytes"] {
        assert!(value(&text, name, None).is_some(), "{name} missing from live output");
    }
    let (ok, report) = promtool_check_metrics(&text);
    let findings: Vec<&str> = report.lines().filter(|l| !l.trim().is_empty()).collect();
    let accepted = findings.iter().filter(|l| accepted_lint(l)).count();
    println!("promtool check metrics: {} findings, {accepted} of them accepted lints", findings.len());
    for line in &findings {
        assert!(accepted_lint(line), "promtool finding we do not accept: {line}");
    }
    // promtool exits 3 for lint findings only; anything else is an error.
    assert!(ok || !findings.is_empty(), "promtool failed without findings:\n{report}");
}

/// promtool lints we accept because node_exporter's names are kept exactly
/// (dashboards and alert rules query them):
/// - camelCase in `node_memory_*` and `node_netstat_*`: the kernel's own
///   field names of /proc/meminfo and /proc/net/{netstat,snmp,snmp6};
/// - the `bits` unit of `node_entropy_*`: entropy is counted in bits.
fn accepted_lint(line: &str) -> bool {
    let camel = line.contains("should be written in 'snake_case' not 'camelCase'")
        && (line.starts_with("node_memory_") || line.starts_with("node_netstat_"));
    let bits = line.starts_with("node_entropy_") && line.contains("use base unit \"bytes\" instead of \"bits\"");
    camel || bits
}

#[test]
fn healthcheck_subcommand_and_graceful_sigterm() {
    let exporter = Exporter::start(&["--collector.disable-defaults".into(), "--collector.loadavg".into()]);
    let addr = format!("--web.listen-address=127.0.0.1:{}", exporter.port);
    let (code, err) = run_to_exit(&["healthcheck", &addr]);
    assert_eq!(code, 0, "{err}");
    let status = exporter.terminate().expect("exporter did not stop within 10 s of SIGTERM");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let (code, _) = run_to_exit(&["healthcheck", &addr]);
    assert_eq!(code, 1, "healthcheck must fail when nothing listens");
}

#[test]
fn check_config_accepts_good_and_refuses_bad_settings() {
    let (code, err) = run_to_exit(&["check-config", "--collector.netdev.device-include=lo"]);
    assert_eq!(code, 0, "{err}");
    let (code, err) = run_to_exit(&["check-config", "--collector.bogus"]);
    assert_eq!(code, 2, "{err}");
}

/// Garbage in sysfs attributes (a broken driver) costs that attribute, or at
/// worst that collector; the exporter keeps serving everything else.
#[test]
fn garbled_sysfs_attributes_are_skipped_or_fail_only_their_collector() {
    let dir = tempfile::tempdir().unwrap();
    let sys = dir.path().join("sys");
    let files: &[(&str, &str)] = &[
        ("class/hwmon/hwmon0/name", "chip\n"),
        ("class/hwmon/hwmon0/temp1_input", "garbage\n"),
        ("class/hwmon/hwmon0/temp2_input", "42000\n"),
        ("class/net/eth0/operstate", "up\n"),
        ("class/net/eth0/mtu", "xx\n"),
        ("class/net/eth0/flags", "0xZZ\n"),
        ("class/power_supply/BAT0/type", "Battery\n"),
        ("class/power_supply/BAT0/capacity", "??\n"),
        ("class/thermal/thermal_zone0/type", "cpu-thermal\n"),
        ("class/thermal/thermal_zone0/temp", "hot\n"),
        ("class/watchdog/watchdog0/timeout", "x\n"),
        ("devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "bad\n"),
    ];
    for (path, content) in files {
        let p = sys.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    let proc_dir = dir.path().join("proc");
    std::fs::create_dir_all(&proc_dir).unwrap();
    std::fs::write(proc_dir.join("loadavg"), "0.5 0.4 0.3 1/100 42\n").unwrap();
    let mut args = vec![
        format!("--path.sysfs={}", sys.display()),
        format!("--path.procfs={}", proc_dir.display()),
        "--collector.disable-defaults".to_string(),
    ];
    for c in ["hwmon", "netclass", "powersupplyclass", "thermal_zone", "watchdog", "cpufreq", "loadavg"] {
        args.push(format!("--collector.{c}"));
    }
    let exporter = Exporter::start(&args);
    let text = exporter.metrics();
    let success = |c: &str| value(&text, "node_scrape_collector_success", Some(("collector", c)));
    for c in ["hwmon", "netclass", "powersupplyclass", "thermal_zone", "watchdog", "loadavg"] {
        assert_eq!(success(c), Some(1.0), "{c}: {text}");
    }
    assert_eq!(success("cpufreq"), Some(0.0), "a garbled frequency fails cpufreq, as in node_exporter");
    assert_eq!(value(&text, "node_hwmon_temp_celsius", Some(("sensor", "temp2"))), Some(42.0));
    assert_eq!(value(&text, "node_hwmon_temp_celsius", Some(("sensor", "temp1"))), None);
    assert_eq!(value(&text, "node_network_up", Some(("device", "eth0"))), Some(1.0));
    assert_eq!(value(&text, "node_network_mtu_bytes", None), None);
    assert_eq!(value(&text, "node_power_supply_capacity", None), None);
    assert!(value(&text, "node_power_supply_info", None).is_some());
    assert_eq!(value(&text, "node_thermal_zone_temp", None), None);
    assert_eq!(value(&text, "node_load1", None), Some(0.5));
}

#[test]
fn rules_and_targets_subcommands_generate_from_the_inventory() {
    let inv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples/homelab.yaml");
    let out = tempfile::tempdir().unwrap();
    let (code, err) = run_to_exit(&["rules", &format!("--inventory={}", inv.display()), &format!("--out={}", out.path().display())]);
    assert_eq!(code, 0, "{err}");
    for f in ["homelab-rules.yml", "homelab-rules.test.yml", "alertmanager.yml", "TEXTFILE-METRICS.md"] {
        assert!(out.path().join(f).exists(), "{f} not written");
    }
    let targets = Command::new(env!("CARGO_BIN_EXE_homelab-exporter")).args(["targets", &format!("--inventory={}", inv.display())]).output().unwrap();
    assert!(targets.status.success());
    let json: serde_json::Value = serde_json::from_slice(&targets.stdout).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(4));

    let bad = out.path().join("bad.yaml");
    std::fs::write(&bad, "tiers:\n  gold: {rto: 4h, rpo: 1h}\nservices:\n  - {name: a, tier: silver, runs_on: {probe: x}}\n").unwrap();
    let (code, err) = run_to_exit(&["rules", &format!("--inventory={}", bad.display()), &format!("--out={}", out.path().display())]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:4:") && err.contains("silver"), "{err}");
}
