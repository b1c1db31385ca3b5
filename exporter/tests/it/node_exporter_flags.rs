//! node_exporter's command line, as its 1.12 source documents it
//! (`testdata/upstream/node_exporter/command-line.tsv`), starts this
//! exporter unchanged: every collector switch and every flag, deprecated
//! spellings included; and what the exporter makes of it (a warning for
//! each flag without effect, each collector's state at start, the
//! `collect[]` / `exclude[]` filters, several listen addresses).

use std::collections::BTreeSet;
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, http_get, listens, node_exporter_tree, upstream, Exporter};

struct Row {
    kind: String,
    name: String,
    value: String,
}

fn command_line() -> Vec<Row> {
    let text = std::fs::read_to_string(upstream().join("node_exporter/command-line.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("kind\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 5, "{l}");
            Row { kind: f[0].into(), name: f[1].into(), value: f[3].into() }
        })
        .collect()
}

/// A value of the right kind for a flag that takes one.
fn sample(name: &str, kind: &str) -> String {
    let tree = node_exporter_tree();
    let tree = tree.to_str().unwrap();
    match name {
        "path.procfs" => "/proc".into(),
        "path.sysfs" => "/sys".into(),
        "path.rootfs" => "/".into(),
        "path.udev.data" => "/run/udev/data".into(),
        "collector.textfile.directory" => format!("{tree}/textfile/two_metric_files"),
        "collector.qdisc.fixtures" => format!("{tree}/qdisc"),
        "collector.wifi.fixtures" => format!("{tree}/wifi"),
        "collector.pcidevice.idsfile" => format!("{tree}/pci.ids"),
        "collector.sysctl.include" => "kernel.threads-max".into(),
        "collector.sysctl.include-info" => "kernel.seccomp.actions_avail".into(),
        "collector.ipvs.backend-labels" => "local_address,local_port".into(),
        "collector.supervisord.url" => "http://127.0.0.1:9/RPC2".into(),
        "collector.ntp.server" => "127.0.0.1".into(),
        "collector.runit.servicedir" => "/nonexistent".into(),
        "web.telemetry-path" => "/metrics".into(),
        "web.max-requests" => "40".into(),
        "log.level" => "warn".into(),
        "log.format" => "logfmt".into(),
        _ => match kind {
            "int" => "1".into(),
            "duration" => "2s".into(),
            _ => "^$".into(),
        },
    }
}

/// The two sides of the include/exclude pairs node_exporter holds mutually
/// exclusive: each run passes one side.
fn side(name: &str) -> Option<bool> {
    let leaf = name.rsplit('.').next().unwrap_or(name);
    if leaf.contains("include") || leaf.contains("whitelist") {
        Some(true)
    } else if leaf.contains("exclude") || leaf.contains("blacklist") || leaf.starts_with("ignored-") {
        Some(false)
    } else {
        None
    }
}

fn deprecated(name: &str) -> bool {
    homelab_exporter::compat::ALIASES.iter().any(|(old, _)| *old == name)
}

/// Every flag of one side, every collector switched on (or off), two
/// listen addresses (the second one given here) and a web config file.
fn arguments(rows: &[Row], include_side: bool, switch_on: bool, second_port: u16, web_config: &std::path::Path) -> Vec<String> {
    let mut args = Vec::new();
    for row in rows {
        match row.kind.as_str() {
            "collector" => args.push(if switch_on { format!("--collector.{}", row.name) } else { format!("--no-collector.{}", row.name) }),
            "flag" => {
                // A deprecated name goes in a run of its own: beside its
                // current name it is refused, by node_exporter too.
                if side(&row.name).is_some_and(|s| s != include_side) || deprecated(&row.name) {
                    continue;
                }
                let kind = row.value.split(' ').next().unwrap_or("");
                match row.name.as_str() {
                    "web.listen-address" => args.push(format!("--web.listen-address=127.0.0.1:{second_port}")),
                    "web.config.file" => args.push(format!("--web.config.file={}", web_config.display())),
                    "collector.disable-defaults" if switch_on => args.push("--collector.disable-defaults".into()),
                    "collector.disable-defaults" => args.push("--no-collector.disable-defaults".into()),
                    _ if kind == "bool" => {
                        args.push(if switch_on { format!("--{}", row.name) } else { format!("--no-{}", row.name) });
                    }
                    // A repeatable flag is given twice.
                    _ if kind == "repeatable" => {
                        for _ in 0..2 {
                            args.push(format!("--{}={}", row.name, sample(&row.name, kind)));
                        }
                    }
                    _ => args.push(format!("--{}={}", row.name, sample(&row.name, kind))),
                }
            }
            other => panic!("unknown kind {other}"),
        }
    }
    args
}

#[test]
fn every_flag_and_collector_of_node_exporter_is_accepted() {
    let rows = command_line();
    let collectors = rows.iter().filter(|r| r.kind == "collector").count();
    let flags = rows.iter().filter(|r| r.kind == "flag").count();
    assert!(collectors >= 79 && flags >= 102, "the data file is incomplete: {collectors} collectors, {flags} flags");
    let dir = tempfile::tempdir().unwrap();
    let web_config = dir.path().join("web.yml");
    std::fs::write(&web_config, "# no TLS, no users\n").unwrap();

    for (include_side, switch_on) in [(true, true), (false, false)] {
        let second_port = free_port();
        let args = arguments(&rows, include_side, switch_on, second_port, &web_config);
        let exporter = Exporter::start(&args);
        let second = second_port;
        // Both listen addresses serve.
        let start = Instant::now();
        while !listens(exporter.pid(), second) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (status, _, body) = http_get(second, "/metrics", &[]);
        assert_eq!(status, 200);
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("homelab_exporter_build_info"), "{body}");
        // --web.disable-exporter-metrics was given (as --no-… in the second run).
        assert_eq!(body.contains("process_resident_memory_bytes"), !switch_on, "exporter metrics with disable={switch_on}");
        assert_eq!(body.contains("promhttp_metric_handler_requests_total"), !switch_on, "handler metrics with disable={switch_on}");
        let status = exporter.terminate();
        assert!(status.is_some(), "exporter did not stop");
    }

    // node_exporter's deprecated spellings, on their own, each with a value
    // (one side of the include/exclude pairs per run, as above).
    let mut given = 0;
    for include_side in [true, false] {
        let old: Vec<String> = rows
            .iter()
            .filter(|r| r.kind == "flag" && deprecated(&r.name) && side(&r.name).is_none_or(|s| s == include_side))
            .map(|r| format!("--{}={}", r.name, sample(&r.name, "string")))
            .collect();
        given += old.len();
        let exporter = Exporter::start(&old);
        exporter.metrics();
        assert!(exporter.terminate().is_some(), "exporter did not stop");
    }
    assert!(given >= 9, "deprecated flags given: {given}");
}

/// Starts the binary with `args` and returns what it wrote to stderr within
/// its first second (it logs its start-up lines, then serves).
fn start_up_log(args: &[String]) -> String {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !listens(child.id(), port) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    let mut log = String::new();
    child.stderr.take().unwrap().read_to_string(&mut log).unwrap();
    log
}

#[test]
fn the_start_up_log_says_what_each_collector_does_and_names_flags_without_effect() {
    let dir = tempfile::tempdir().unwrap();
    let log = start_up_log(&[
        "--collector.systemd".into(),
        "--collector.filesystem.ignored-mount-points=^/boot".into(),
        "--collector.perf.cpus=0-1".into(),
        format!("--collector.docker.host=unix://{}/none.sock", dir.path().display()),
    ]);
    let lines: Vec<&str> = log.lines().collect();
    // logfmt, as promslog writes it.
    for line in &lines {
        assert!(line.starts_with("time=") && line.contains(" level=") && line.contains(" msg="), "not logfmt: {line}");
    }
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(has("msg=\"Starting homelab-exporter\" version="), "{log}");
    assert!(has("revision=") && has("platform=linux/"), "{log}");
    assert!(has("level=WARN") && has("--collector.filesystem.ignored-mount-points is deprecated: use --collector.filesystem.mount-points-exclude"), "{log}");
    assert!(has("flag --collector.perf.cpus has no effect: the perf collector is not built"), "{log}");
    assert!(has("collector=systemd state=unavailable reason=\"not built in this exporter: it reads systemd over D-Bus"), "{log}");
    assert!(has("collector=cpu state=enabled"), "{log}");
    assert!(has("collector=nut state=idle reason=\"no upsd to read"), "{log}");

    // JSON: one object per line, the list of collectors as an array.
    let log = start_up_log(&["--log.format=json".into()]);
    let enabled = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .find(|v| v["msg"] == "Enabled collectors")
        .expect("an Enabled collectors line");
    assert!(enabled["collectors"].as_array().unwrap().iter().any(|c| c == "cpu"), "{enabled}");
    assert_eq!(enabled["level"], "INFO");
}

fn families(body: &str) -> BTreeSet<String> {
    body.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).map(str::to_owned).collect()
}

#[test]
fn collect_and_exclude_filter_the_scrape_as_node_exporter_does() {
    let exporter = Exporter::start(&["--collector.disable-defaults".into(), "--collector.loadavg".into(), "--collector.cpu".into()]);
    let (status, _, body) = exporter.get("/metrics?collect[]=loadavg", &[]);
    assert_eq!(status, 200);
    let body = String::from_utf8(body).unwrap();
    assert!(families(&body).contains("node_load1"), "{body}");
    assert!(!body.contains("node_cpu_seconds_total"), "{body}");
    assert!(body.contains("node_scrape_collector_success{collector=\"loadavg\"} 1"), "{body}");
    assert!(!body.contains("collector=\"cpu\""), "{body}");
    // Percent-encoded brackets, as clients send them.
    let (_, _, body) = exporter.get("/metrics?exclude%5B%5D=loadavg", &[]);
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains("node_cpu_seconds_total") && !body.contains("node_load1"), "{body}");
    // node_exporter's refusals.
    for (query, word) in [
        ("collect[]=cpu&exclude[]=loadavg", "Combined collect and exclude queries are not allowed"),
        ("collect[]=nonesuch", "missing collector: nonesuch"),
        ("collect[]=meminfo", "disabled collector: meminfo"),
    ] {
        let (status, _, body) = exporter.get(&format!("/metrics?{query}"), &[]);
        assert_eq!(status, 400, "{query}");
        assert!(String::from_utf8_lossy(&body).contains(word), "{query}: {}", String::from_utf8_lossy(&body));
    }
    // An exclude[] name that runs nothing is ignored, as node_exporter ignores it.
    let (status, _, _) = exporter.get("/metrics?exclude[]=nonesuch", &[]);
    assert_eq!(status, 200);
}

#[test]
fn the_landing_page_shows_absent_hardware_as_no_data_not_as_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("proc")).unwrap();
    let exporter = Exporter::start(&[
        format!("--path.procfs={}/proc", dir.path().display()),
        "--collector.disable-defaults".into(),
        "--collector.mdadm".into(),
        "--collector.loadavg".into(),
    ]);
    exporter.metrics();
    let (status, _, page) = exporter.get("/", &[]);
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    let row = |name: &str| page.lines().find(|l| l.contains(&format!("<td>{name}</td>"))).unwrap_or_else(|| panic!("no row for {name}: {page}")).to_owned();
    // mdadm finds no /proc/mdstat: no data, not failed.
    assert!(row("mdadm").contains("class=\"nodata\"") && row("mdadm").contains("<td>no data</td>"), "{}", row("mdadm"));
    // loadavg finds no /proc/loadavg in an empty procfs: that is a failure.
    assert!(row("loadavg").contains("class=\"failed\""), "{}", row("loadavg"));
    // Switched-off collectors are listed with the flag that turns them on.
    assert!(row("meminfo").contains("--collector.meminfo"), "{}", row("meminfo"));
}
