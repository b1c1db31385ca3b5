//! The docker collector against a real `dockerd` (Debian's docker.io, on a
//! private socket, containers with `--network none` from an image imported
//! from busybox-static), against cgroup fixtures of both versions, and
//! against Engine API endpoints that misbehave: a container removed between
//! list and inspect, a missing socket, a socket that never answers.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::symlink;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use homelab_exporter::docker::cgroup::{self, Version};
use homelab_exporter::docker::net;

use crate::common::{parse_exposition, Exporter, Parsed, Series};

// ------------------------------------------------------------------ helpers

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Polls `check` until it is true or `limit` passes.
fn wait_for(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}

/// Runs a command, killing it after `limit`.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let start = Instant::now();
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("wait")
}

/// One HTTP/1.0 request on a Unix socket (so the daemon closes the
/// connection after the body: no chunked framing to undo).
fn unix_http(sock: &Path, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!("{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let status = String::from_utf8_lossy(&raw[..split]).split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, raw[split + 4..].to_vec())
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(body)))
}

/// Samples of `name` whose labels include every pair of `labels`.
fn samples<'a>(parsed: &'a Parsed, name: &str, labels: &[(&str, &str)]) -> Vec<&'a Series> {
    parsed
        .series
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect()
}

fn one(parsed: &Parsed, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found = samples(parsed, name, labels);
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    found[0].value
}

// ------------------------------------------------------------- fake APIs

/// A minimal HTTP/1.1 server on a Unix socket answering each request line
/// with `handler(path)`, keep-alive, Content-Length framing.
struct FakeApi {
    stop: Arc<AtomicBool>,
    pub(crate) sock: PathBuf,
    thread: Option<JoinHandle<()>>,
}

type Handler = Arc<dyn Fn(&str) -> (u16, Vec<u8>) + Send + Sync>;

impl FakeApi {
    fn start(sock: &Path, handler: Handler) -> FakeApi {
        let listener = UnixListener::bind(sock).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let handler = Arc::clone(&handler);
                std::thread::spawn(move || serve_connection(conn, handler));
            }
        });
        FakeApi { stop, sock: sock.to_owned(), thread: Some(thread) }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.sock);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve_connection(conn: UnixStream, handler: Handler) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let (status, body) = handler(&path);
        let head = format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
        if writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(&body)).is_err() {
            return;
        }
    }
}

/// Accepts connections and never answers.
fn silent_socket(sock: &Path) -> JoinHandle<()> {
    let listener = UnixListener::bind(sock).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().take(16) {
            held.push(conn);
        }
        std::thread::sleep(Duration::from_secs(60));
    })
}

// ----------------------------------------------------------------- dockerd

/// A private dockerd; containers removed and the daemon stopped on drop.
pub(crate) struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
    pub(crate) sock: PathBuf,
}

impl Dockerd {
    /// Starts dockerd, or explains why it can't: a failure under
    /// `HOMELAB_REQUIRE_REAL=1` (the CI script), a skip otherwise.
    pub(crate) fn start() -> Option<Dockerd> {
        let missing = |why: String| -> Option<Dockerd> {
            if std::env::var_os("HOMELAB_REQUIRE_REAL").is_some() {
                panic!("{why}: install Debian's docker.io and busybox-static (bash .ci/run does) and run the tests as root");
            }
            eprintln!("skipping the real-dockerd test: {why}");
            None
        };
        let Some(dockerd) = which("dockerd") else { return missing("dockerd not found".into()) };
        if which("docker").is_none() {
            return missing("the docker client is not installed".into());
        }
        if !Path::new("/bin/busybox").exists() {
            return missing("/bin/busybox not found".into());
        }
        if std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap_or(1) != 0 {
            return missing("dockerd needs root".into());
        }
        // A short path: unix socket paths are limited to 108 bytes, and
        // containerd's live below the exec root.
        let dir = tempfile::Builder::new().prefix("hd").tempdir_in("/tmp").unwrap();
        let sock = dir.path().join("d.sock");
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let child = Command::new(dockerd)
            .arg(format!("--host=unix://{}", sock.display()))
            .arg(format!("--data-root={}", dir.path().join("data").display()))
            .arg(format!("--exec-root={}", dir.path().join("x").display()))
            .arg(format!("--pidfile={}", dir.path().join("d.pid").display()))
            .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start dockerd");
        let d = Dockerd { child, dir, sock };
        let up = wait_for(Duration::from_secs(60), || d.sock.exists() && UnixStream::connect(&d.sock).is_ok() && d.api("GET", "/_ping").0 == 200);
        if !up {
            let log = std::fs::read_to_string(d.dir.path().join("dockerd.log")).unwrap_or_default();
            panic!("dockerd did not answer within 60 s:\n{log}");
        }
        d.import_busybox();
        Some(d)
    }

    fn api(&self, method: &str, path: &str) -> (u16, Vec<u8>) {
        unix_http(&self.sock, method, path, b"")
    }

    pub(crate) fn docker(&self, args: &[&str]) -> String {
        let out = run_bounded(Command::new("docker").arg("-H").arg(format!("unix://{}", self.sock.display())).args(args), Duration::from_secs(60));
        assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// `local/busybox`: busybox-static and the links the tests use.
    fn import_busybox(&self) {
        let rootfs = self.dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("bin")).unwrap();
        std::fs::create_dir_all(rootfs.join("tmp")).unwrap();
        std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for applet in ["sh", "sleep", "true", "false", "cat", "dd", "echo"] {
            symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
        let tar = rootfs.with_extension("tar");
        let out = run_bounded(Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg("."), Duration::from_secs(60));
        assert!(out.status.success(), "tar: {}", String::from_utf8_lossy(&out.stderr));
        self.docker(&["import", &tar.display().to_string(), "local/busybox"]);
    }

    /// `docker run -d --network none ARGS` → the full id.
    pub(crate) fn run(&self, args: &[&str]) -> String {
        let mut all = vec!["run", "-d", "--network", "none"];
        all.extend_from_slice(args);
        self.docker(&all)
    }

    fn inspect(&self, id: &str) -> serde_json::Value {
        let (status, body) = self.api("GET", &format!("/containers/{id}/json"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        json(&body)
    }

    /// Docker's own numbers: `GET /containers/{id}/stats?stream=false`.
    fn stats(&self, id: &str) -> serde_json::Value {
        let (status, body) = self.api("GET", &format!("/containers/{id}/stats?stream=false"));
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        json(&body)
    }

    pub(crate) fn host_flag(&self) -> String {
        format!("--collector.docker.host=unix://{}", self.sock.display())
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let (_, body) = self.api("GET", "/containers/json?all=1");
        let ids: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&body)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c["Id"].as_str().map(str::to_owned))
            .collect();
        if !ids.is_empty() {
            let _ = run_bounded(
                Command::new("docker").arg("-H").arg(format!("unix://{}", self.sock.display())).args(["rm", "-f"]).args(&ids),
                Duration::from_secs(60),
            );
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let stopped = wait_for(Duration::from_secs(20), || matches!(self.child.try_wait(), Ok(Some(_))));
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // dockerd leaves its exec root's netns/default (an nsfs bind mount)
        // mounted after it exits; take down every mount under our directory
        // so a test run leaves the host's mount table as it found it.
        let ours = self.dir.path().to_string_lossy().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for point in mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(&ours)) {
            let _ = run_bounded(Command::new("umount").args(["-l", point]), Duration::from_secs(10));
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn scrape(exporter: &Exporter) -> Parsed {
    parse_exposition(&exporter.metrics())
}

fn docker_exporter(d: &Dockerd) -> Exporter {
    Exporter::start(&["--collector.disable-defaults".into(), "--collector.docker".into(), d.host_flag()])
}

// ------------------------------------------------------------- real dockerd

/// Containers in every interesting state appear with the right state,
/// health, restart count and limit; CPU and memory agree with what dockerd's
/// own stats endpoint reports for the same containers.
#[test]
fn real_containers_match_docker_inspect_and_stats() {
    let Some(d) = Dockerd::start() else { return };
    let running = d.run(&["--name", "running", "-l", "com.docker.compose.project=lab", "-l", "com.docker.compose.service=web", "-l", "other=x", "local/busybox", "sleep", "1000"]);
    let exited = d.run(&["--name", "exited", "local/busybox", "sh", "-c", "exit 3"]);
    let restarting = d.run(&["--name", "restarting", "--restart", "always", "local/busybox", "sh", "-c", "exit 1"]);
    let unhealthy = d.run(&["--name", "unhealthy", "--health-cmd", "exit 1", "--health-interval", "1s", "--health-retries", "1", "local/busybox", "sleep", "1000"]);
    let healthy = d.run(&["--name", "healthy", "--health-cmd", "true", "--health-interval", "1s", "local/busybox", "sleep", "1000"]);
    let limited = d.run(&["--name", "limited", "-m", "64m", "local/busybox", "sleep", "1000"]);
    let burner = d.run(&["--name", "burner", "--cpus", "0.5", "local/busybox", "sh", "-c", "while :; do :; done"]);
    // Containers run with --network none (only lo, which cAdvisor leaves
    // out); give "running" a veth whose other end stays on this host, so it
    // has an interface to count. No packet leaves the pair.
    let pid = d.inspect(&running)["State"]["Pid"].as_u64().unwrap();
    let host_end = format!("hx{}", std::process::id() % 100_000);
    let out = run_bounded(Command::new("ip").args(["link", "add", &host_end, "type", "veth", "peer", "name", "eth1", "netns", &pid.to_string()]), Duration::from_secs(10));
    assert!(out.status.success(), "ip link add: {}", String::from_utf8_lossy(&out.stderr));

    assert!(wait_for(Duration::from_secs(30), || d.inspect(&exited)["State"]["Status"] == "exited"), "exited never exited");
    assert!(wait_for(Duration::from_secs(30), || d.inspect(&restarting)["RestartCount"].as_u64() >= Some(3)), "no restarts");
    assert!(wait_for(Duration::from_secs(30), || d.inspect(&unhealthy)["State"]["Health"]["Status"] == "unhealthy"), "never unhealthy");
    assert!(wait_for(Duration::from_secs(30), || d.inspect(&healthy)["State"]["Health"]["Status"] == "healthy"), "never healthy");

    let exporter = docker_exporter(&d);
    let m = scrape(&exporter);
    assert_eq!(one(&m, "node_scrape_collector_success", &[("collector", "docker")]), 1.0);
    assert_eq!(one(&m, "homelab_exporter_target_up", &[("collector", "docker")]), 1.0);

    // State: one series per state, 1 for the current one.
    for (name, state) in [("running", "running"), ("exited", "exited"), ("unhealthy", "running"), ("limited", "running"), ("burner", "running")] {
        assert_eq!(samples(&m, "docker_container_state", &[("name", name)]).len(), 7, "{name}");
        assert_eq!(one(&m, "docker_container_state", &[("name", name), ("state", state)]), 1.0, "{name}");
        let current: Vec<_> = samples(&m, "docker_container_state", &[("name", name)]).into_iter().filter(|s| s.value == 1.0).collect();
        assert_eq!(current.len(), 1, "{name}: {current:?}");
    }
    // The restarting container flips between restarting and running; its
    // backoff keeps it mostly in "restarting".
    let mut seen_restarting = false;
    for _ in 0..20 {
        let m = scrape(&exporter);
        let state = samples(&m, "docker_container_state", &[("name", "restarting")]).into_iter().find(|s| s.value == 1.0).map(|s| s.labels["state"].clone());
        if state.as_deref() == Some("restarting") {
            seen_restarting = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(seen_restarting, "never saw the restarting container in state restarting");

    // Health.
    for (name, status) in [("unhealthy", "unhealthy"), ("healthy", "healthy"), ("running", "none"), ("exited", "none")] {
        assert_eq!(samples(&m, "docker_container_health_status", &[("name", name)]).len(), 4, "{name}");
        assert_eq!(one(&m, "docker_container_health_status", &[("name", name), ("status", status)]), 1.0, "{name}");
    }
    // Restarts and exit codes.
    let restarts = one(&m, "docker_container_restarts_total", &[("name", "restarting")]);
    let after = d.inspect(&restarting)["RestartCount"].as_u64().unwrap() as f64;
    assert!((3.0..=after).contains(&restarts), "restart count {restarts}, inspect says {after} now");
    assert_eq!(one(&m, "docker_container_restarts_total", &[("name", "running")]), 0.0);
    assert_eq!(one(&m, "docker_container_exit_code", &[("name", "exited")]), 3.0);
    assert_eq!(one(&m, "docker_container_exit_code", &[("name", "running")]), 0.0);
    assert_eq!(one(&m, "docker_container_info", &[("name", "running"), ("image", "local/busybox"), ("compose_project", "lab"), ("compose_service", "web")]), 1.0);

    // cAdvisor's labels: id is the cgroup, name and image; only allow-listed Docker labels.
    let id = format!("/docker/{running}");
    let cpu = samples(&m, "container_cpu_usage_seconds_total", &[("id", &id), ("name", "running"), ("image", "local/busybox"), ("cpu", "total")]);
    assert_eq!(cpu.len(), 1, "{:?}", samples(&m, "container_cpu_usage_seconds_total", &[]));
    assert_eq!(cpu[0].labels.get("container_label_com_docker_compose_project").map(String::as_str), Some("lab"));
    assert_eq!(cpu[0].labels.get("container_label_com_docker_compose_service").map(String::as_str), Some("web"));
    assert!(!cpu[0].labels.contains_key("container_label_other"), "{:?}", cpu[0].labels);
    // Only containers with processes have usage.
    assert!(samples(&m, "container_memory_usage_bytes", &[("name", "exited")]).is_empty());
    assert!(one(&m, "container_processes", &[("name", "running")]) >= 1.0);
    assert!(one(&m, "container_threads", &[("name", "running")]) >= 1.0);
    let created = samples(&m, "container_start_time_seconds", &[("name", "running")])[0].value;
    let inspect_created = homelab_exporter::docker::api::parse_timestamp(d.inspect(&running)["Created"].as_str().unwrap()).unwrap();
    assert!((created - inspect_created).abs() < 1e-3, "{created} vs {inspect_created}");
    // --network none: only lo, which cAdvisor leaves out; "running" has the
    // test's veth end eth1 besides.
    let net = samples(&m, "container_network_receive_bytes_total", &[]);
    assert!(net.iter().all(|s| s.labels["name"] == "running" && s.labels["interface"] == "eth1"), "{net:?}");
    assert_eq!(net.len(), 1);

    // Limits.
    assert_eq!(one(&m, "container_spec_memory_limit_bytes", &[("name", "limited")]), 67_108_864.0);
    assert_eq!(one(&m, "container_spec_memory_limit_bytes", &[("name", "running")]), 0.0);
    assert!(samples(&m, "container_cpu_cfs_periods_total", &[("name", "running")]).is_empty(), "no quota, no CFS series");

    // CPU against dockerd's stats endpoint: both read the same kernel
    // counters, so dockerd's value, taken between two scrapes of ours, must
    // lie between our two values (tolerance: 1 ms for the float printing).
    for (name, cid) in [("burner", &burner), ("limited", &limited)] {
        let before = scrape(&exporter);
        let stats = d.stats(cid);
        let after = scrape(&exporter);
        let get = |p: &Parsed, metric: &str| one(p, metric, &[("name", name)]);
        let sandwich = |metric: &str, docker: f64| {
            let (lo, hi) = (get(&before, metric), get(&after, metric));
            assert!(lo - 1e-3 <= docker && docker <= hi + 1e-3, "{name} {metric}: docker {docker} not within ours [{lo}, {hi}]");
        };
        let cpu_stats = &stats["cpu_stats"];
        sandwich("container_cpu_usage_seconds_total", cpu_stats["cpu_usage"]["total_usage"].as_f64().unwrap() / 1e9);
        sandwich("container_cpu_user_seconds_total", cpu_stats["cpu_usage"]["usage_in_usermode"].as_f64().unwrap() / 1e9);
        sandwich("container_cpu_system_seconds_total", cpu_stats["cpu_usage"]["usage_in_kernelmode"].as_f64().unwrap() / 1e9);
        if name == "burner" {
            sandwich("container_cpu_cfs_periods_total", cpu_stats["throttling_data"]["periods"].as_f64().unwrap());
            sandwich("container_cpu_cfs_throttled_periods_total", cpu_stats["throttling_data"]["throttled_periods"].as_f64().unwrap());
            sandwich("container_cpu_cfs_throttled_seconds_total", cpu_stats["throttling_data"]["throttled_time"].as_f64().unwrap() / 1e9);
            assert!(get(&after, "container_cpu_usage_seconds_total") > 0.2, "the burner burned nothing");
            assert!(get(&after, "container_cpu_cfs_periods_total") > 0.0, "--cpus 0.5 but no CFS periods");
        }
        // Memory: an idle or CPU-bound process barely moves; tolerance 5 %
        // or 256 KiB, whichever is larger.
        let mem = &stats["memory_stats"];
        let docker_usage = mem["usage"].as_f64().unwrap();
        for ours in [get(&before, "container_memory_usage_bytes"), get(&after, "container_memory_usage_bytes")] {
            assert!((ours - docker_usage).abs() <= (docker_usage * 0.05).max(262_144.0), "{name} memory: ours {ours}, docker {docker_usage}");
        }
        let inactive = mem["stats"]["total_inactive_file"].as_f64().unwrap_or(0.0);
        let ws = get(&after, "container_memory_working_set_bytes");
        let expected_ws = (docker_usage - inactive).max(0.0);
        assert!((ws - expected_ws).abs() <= (expected_ws * 0.05).max(262_144.0), "{name} working set: ours {ws}, docker {expected_ws}");
        let rss = get(&after, "container_memory_rss");
        let docker_rss = mem["stats"]["total_rss"].as_f64().unwrap();
        assert!((rss - docker_rss).abs() <= (docker_rss * 0.05).max(262_144.0), "{name} rss: ours {rss}, docker {docker_rss}");
        if name == "limited" {
            assert_eq!(mem["limit"].as_f64(), Some(67_108_864.0));
        }
    }

    // The output passes promtool.
    let text = exporter.metrics();
    let (ok, report) = crate::common::promtool_check_metrics(&text);
    assert!(ok, "{report}");
    // Every docker_* and container_* name the generated rules and
    // dashboards read is in this real output, but block IO: this machine's
    // cgroup v1 blkio counters stay 0 even for O_DIRECT writes (the kernel's
    // blk-throttle counts only throttled IO), so no container has a device
    // entry; those names are checked on the v2 fixture
    // (fixture_v2_container_through_a_fake_api).
    let mut names = crate::common::rule_metrics("docker_");
    names.extend(crate::common::rule_metrics("container_").into_iter().filter(|n| !n.starts_with("container_fs_")));
    assert!(!names.is_empty());
    for n in names {
        assert!(text.contains(&format!("\n{n}{{")), "rules or dashboards read {n}, which the exporter does not emit");
    }
}

/// A container removed after the list call (dockerd answers 404 to its
/// inspect) is left out; everything else is reported.
#[test]
fn container_removed_between_list_and_inspect_is_skipped() {
    let Some(d) = Dockerd::start() else { return };
    let kept = d.run(&["--name", "kept", "local/busybox", "sleep", "1000"]);
    let doomed = d.run(&["--name", "doomed", "local/busybox", "sleep", "1000"]);

    // A proxy in front of dockerd that removes "doomed" right after passing
    // on the list that still shows it.
    let proxy_dir = tempfile::Builder::new().prefix("hp").tempdir_in("/tmp").unwrap();
    let proxy_sock = proxy_dir.path().join("p.sock");
    let real = d.sock.clone();
    let doomed_id = doomed.clone();
    let _proxy = FakeApi::start(
        &proxy_sock,
        Arc::new(move |path: &str| {
            let answer = unix_http(&real, "GET", path, b"");
            if path.starts_with("/containers/json") {
                let (status, _) = unix_http(&real, "DELETE", &format!("/containers/{doomed_id}?force=1"), b"");
                assert_eq!(status, 204);
            }
            answer
        }),
    );
    let exporter = Exporter::start(&[
        "--collector.disable-defaults".into(),
        "--collector.docker".into(),
        format!("--collector.docker.host=unix://{}", proxy_sock.display()),
    ]);
    let m = scrape(&exporter);
    assert_eq!(one(&m, "node_scrape_collector_success", &[("collector", "docker")]), 1.0);
    assert_eq!(one(&m, "docker_container_state", &[("name", "kept"), ("state", "running")]), 1.0);
    assert!(samples(&m, "docker_container_state", &[("name", "doomed")]).is_empty());
    assert_eq!(samples(&m, "container_cpu_user_seconds_total", &[("id", &format!("/docker/{kept}"))]).len(), 1);
    assert_eq!(d.api("GET", &format!("/containers/{doomed}/json")).0, 404, "the proxy did not remove it");
}

// ------------------------------------------------------- failing endpoints

/// Runs one scrape in-process: the docker collector built from `args`
/// beside a collector that always works, under `deadline_in`.
fn scrape_with_a_fine_collector(args: &[String], deadline_in: Duration) -> (Parsed, Duration) {
    use homelab_exporter::collector::{Collector, Error, HostCollector, Scrape};
    use homelab_exporter::metrics::Snapshot;
    struct Fine;
    impl HostCollector for Fine {
        fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
            out.gauge("fine", "Always there.", &[], 1.0);
            Ok(())
        }
    }
    let settings = homelab_exporter::registry::parse_settings(args).unwrap();
    let docker = homelab_exporter::docker::build(&settings.flags.docker, &settings.context()).unwrap().expect("an explicit host always builds");
    let engine = homelab_exporter::scrape::Engine::from_collectors(vec![("docker", docker), ("fine", Collector::host(Fine))]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let start = Instant::now();
    let snapshots = rt.block_on(engine.scrape(start + deadline_in));
    let took = start.elapsed();
    let mut text = Vec::new();
    homelab_exporter::encode::encode(&homelab_exporter::encode::merge(snapshots), homelab_exporter::encode::Format::Text, &mut text);
    (parse_exposition(&String::from_utf8(text).unwrap()), took)
}

/// A configured socket that does not exist: the docker collector fails
/// (target_up 0) at once, the other collectors are unaffected.
#[test]
fn missing_socket_fails_only_the_docker_collector() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("--collector.docker.host=unix://{}", dir.path().join("none.sock").display());
    let (m, took) = scrape_with_a_fine_collector(&[host], Duration::from_secs(5));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(one(&m, "node_scrape_collector_success", &[("collector", "docker")]), 0.0);
    assert_eq!(one(&m, "homelab_exporter_target_up", &[("collector", "docker")]), 0.0);
    assert_eq!(one(&m, "node_scrape_collector_success", &[("collector", "fine")]), 1.0);
    assert_eq!(one(&m, "fine", &[]), 1.0);
}

/// Without `--collector.docker.host` and without Docker's socket, the
/// collector is simply not there: no failure on hosts without Docker.
#[test]
fn no_default_socket_means_no_docker_collector() {
    if Path::new(homelab_exporter::docker::api::DEFAULT_HOST.trim_start_matches("unix://")).exists() {
        eprintln!("skipping: this host has Docker's default socket");
        return;
    }
    let settings = homelab_exporter::registry::parse_settings(&["--collector.disable-defaults".into(), "--collector.docker".into()]).unwrap();
    assert!(homelab_exporter::docker::build(&settings.flags.docker, &settings.context()).unwrap().is_none());
    let exporter = Exporter::start(&["--collector.disable-defaults".into(), "--collector.docker".into()]);
    let m = scrape(&exporter);
    assert!(samples(&m, "node_scrape_collector_success", &[("collector", "docker")]).is_empty());
    assert!(samples(&m, "homelab_exporter_target_up", &[]).is_empty());
}

/// A socket that accepts and never answers: the scrape still answers
/// within its deadline, with everything else and docker's target_up 0.
#[test]
fn silent_socket_is_abandoned_within_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("silent.sock");
    let _holder = silent_socket(&sock);
    let host = format!("--collector.docker.host=unix://{}", sock.display());

    let (m, took) = scrape_with_a_fine_collector(std::slice::from_ref(&host), Duration::from_millis(1500));
    assert!(took < Duration::from_millis(1500), "scrape took {took:?}");
    assert_eq!(one(&m, "node_scrape_collector_success", &[("collector", "docker")]), 0.0);
    assert_eq!(one(&m, "homelab_exporter_target_up", &[("collector", "docker")]), 0.0);
    assert_eq!(one(&m, "fine", &[]), 1.0);

    // Through the binary, with Prometheus's timeout header.
    let exporter = Exporter::start(&["--collector.disable-defaults".into(), "--collector.docker".into(), host]);
    let start = Instant::now();
    let (status, _, body) = exporter.get("/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "2")]);
    let took = start.elapsed();
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(2000), "scrape took {took:?}");
    assert!(took > Duration::from_millis(500), "gave up too early: {took:?}");
    let m = parse_exposition(&String::from_utf8(body).unwrap());
    assert_eq!(one(&m, "node_scrape_collector_success", &[("collector", "docker")]), 0.0);
    assert_eq!(one(&m, "homelab_exporter_target_up", &[("collector", "docker")]), 0.0);
    assert_eq!(one(&m, "homelab_exporter_build_info", &[]), 1.0);
}

/// The daemon stuck on one container (its inspect never answers): that
/// container is left out after a third of the budget, the rest reported.
#[test]
fn one_stuck_inspect_costs_only_that_container() {
    let dir = tempfile::Builder::new().prefix("hs").tempdir_in("/tmp").unwrap();
    let sock = dir.path().join("api.sock");
    let list = r#"[{"Id":"aaa","Names":["/ok"],"Image":"x","State":"exited","Status":"Exited (0) 1 hour ago"},
                   {"Id":"bbb","Names":["/stuck"],"Image":"x","State":"exited","Status":"Exited (0) 1 hour ago"}]"#;
    let _api = FakeApi::start(
        &sock,
        Arc::new(move |path: &str| match path {
            "/containers/json?all=1" => (200, list.as_bytes().to_vec()),
            "/containers/aaa/json" => (200, br#"{"Id":"aaa","Name":"/ok","State":{"Status":"exited","ExitCode":4}}"#.to_vec()),
            _ => {
                std::thread::sleep(Duration::from_secs(30));
                (500, Vec::new())
            }
        }),
    );
    let host = format!("--collector.docker.host=unix://{}", sock.display());
    let (m, took) = scrape_with_a_fine_collector(&[host], Duration::from_secs(6));
    assert!(took < Duration::from_secs(3), "scrape took {took:?}");
    assert_eq!(one(&m, "node_scrape_collector_success", &[("collector", "docker")]), 1.0);
    assert_eq!(one(&m, "docker_container_exit_code", &[("name", "ok")]), 4.0);
    assert!(samples(&m, "docker_container_state", &[("name", "stuck")]).is_empty());
}

// ------------------------------------------------------------- fixtures

const V1_ID: &str = "65c7ac6b94ff6caf93079e3ff99faa6577f033f8d1802c2b3f341e163fe76ea1";
const V1_PID: u32 = 27529;
const V2_ID: &str = "ef7db03c44ff1c96fe2dcb8a28de06a1561ea6be0bdd81872e257a496d9c89b6";
const V2_PID: u32 = 4242;

/// cgroup v1 files captured from a running container (cgroupfs driver).
#[test]
fn cgroup_v1_files_captured_from_a_container() {
    let root = fixtures().join("cgroup/v1");
    let procfs = root.join("proc");
    assert_eq!(cgroup::detect(&root), Version::V1);
    let rel = cgroup::locate(&root, Version::V1, &cgroup::candidate_paths(V1_ID, ""), &procfs, V1_PID).unwrap();
    assert_eq!(rel, format!("/docker/{V1_ID}"));
    // The fallback: the path the container's first process reports.
    assert_eq!(cgroup::locate(&root, Version::V1, &[], &procfs, V1_PID).as_deref(), Some(rel.as_str()));
    assert_eq!(cgroup::locate(&root, Version::V1, &cgroup::candidate_paths("nope", ""), &procfs, 0), None);

    let u = cgroup::read_usage(&root, Version::V1, &rel, 100).unwrap();
    let cpu = u.cpu.unwrap();
    assert_eq!(cpu.total_ns, 2_082_159_869);
    assert_eq!((cpu.user_ns, cpu.system_ns), (2_070_000_000, 10_000_000));
    let cfs = u.cfs.unwrap();
    assert_eq!((cfs.periods, cfs.throttled_periods, cfs.throttled_ns), (42, 41, 1_251_803_862));
    let mem = u.memory.unwrap();
    assert_eq!(mem.usage, 9_166_848);
    assert_eq!(mem.cache, 8_388_608);
    assert_eq!(mem.rss, 57_344);
    assert_eq!(mem.working_set, 9_166_848 - 8_388_608);
    assert_eq!((mem.swap, mem.mapped_file), (0, 0));
    assert_eq!(u.memory_limit, Some(67_108_864));
    assert_eq!(u.oom_kills, Some(0));
    assert_eq!(u.io, vec![], "blkio reads Total 0 on this kernel");
    assert_eq!((u.threads, u.threads_max), (Some(1), Some(0)));
    assert_eq!(u.procs, Some(vec![V1_PID]));

    let netdev = std::fs::read_to_string(procfs.join(format!("{V1_PID}/net/dev"))).unwrap();
    let ifaces = net::parse_net_dev(&netdev).unwrap();
    assert_eq!(ifaces.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["lo"]);
    assert!(ifaces.iter().all(|i| net::is_ignored(&i.name)));

    // The inspect answer of the same container decodes.
    let inspect = homelab_exporter::docker::api::parse_inspect(&std::fs::read(root.join("inspect.json")).unwrap()).unwrap();
    assert_eq!(inspect.id, V1_ID);
    assert_eq!(inspect.state.pid, i64::from(V1_PID));
    assert_eq!(inspect.host_config.unwrap().memory, 67_108_864);
}

/// cgroup v2 files in the kernel documentation's formats (systemd driver).
#[test]
fn cgroup_v2_files_in_the_kernel_documentation_formats() {
    let root = fixtures().join("cgroup/v2");
    let procfs = root.join("proc");
    assert_eq!(cgroup::detect(&root), Version::V2);
    let rel = cgroup::locate(&root, Version::V2, &cgroup::candidate_paths(V2_ID, ""), &procfs, V2_PID).unwrap();
    assert_eq!(rel, format!("/system.slice/docker-{V2_ID}.scope"));
    assert_eq!(cgroup::locate(&root, Version::V2, &[], &procfs, V2_PID).as_deref(), Some(rel.as_str()));

    let u = cgroup::read_usage(&root, Version::V2, &rel, 100).unwrap();
    let cpu = u.cpu.unwrap();
    assert_eq!((cpu.total_ns, cpu.user_ns, cpu.system_ns), (2_871_334_522_000, 2_650_120_000_000, 221_214_522_000));
    let cfs = u.cfs.unwrap();
    assert_eq!((cfs.periods, cfs.throttled_periods, cfs.throttled_ns), (48_712, 1201, 90_412_345_000));
    let mem = u.memory.unwrap();
    assert_eq!((mem.usage, mem.rss, mem.cache, mem.mapped_file, mem.swap), (104_857_600, 52_428_800, 46_137_344, 12_582_912, 0));
    assert_eq!(mem.working_set, 104_857_600 - 31_457_280);
    assert_eq!(u.memory_limit, Some(268_435_456));
    assert_eq!(u.oom_kills, Some(2));
    assert_eq!(u.io.len(), 2);
    assert_eq!((u.io[1].major, u.io[1].minor, u.io[1].read_bytes, u.io[1].write_bytes, u.io[1].reads, u.io[1].writes), (8, 0, 90_430_464, 299_008_000, 8950, 1252));
    assert_eq!((u.threads, u.threads_max), (Some(7), Some(512)));
    assert_eq!(u.procs, Some(vec![4242, 4301]));
}

/// The host's `/proc/net/dev`, captured: cAdvisor keeps eth0, drops lo.
#[test]
fn net_dev_captured_from_a_host() {
    let text = std::fs::read_to_string(fixtures().join("proc/net_dev")).unwrap();
    let ifaces = net::parse_net_dev(&text).unwrap();
    let kept: Vec<_> = ifaces.iter().filter(|i| !net::is_ignored(&i.name)).map(|i| i.name.as_str()).collect();
    assert!(kept.contains(&"eth0"), "{kept:?}");
    assert!(!kept.contains(&"lo"));
    let eth0 = ifaces.iter().find(|i| i.name == "eth0").unwrap();
    assert!(eth0.rx_bytes > 0 && eth0.rx_packets > 0 && eth0.tx_packets > 0);
}

/// The whole collector on the v2 fixture behind a fake Engine API: a
/// systemd-driver container gets cAdvisor's series with its scope as `id`,
/// and a listed container whose inspect answers 404 is left out.
#[test]
fn fixture_v2_container_through_a_fake_api() {
    let dir = tempfile::Builder::new().prefix("hf").tempdir_in("/tmp").unwrap();
    let sock = dir.path().join("api.sock");
    let list = format!(
        r#"[{{"Id":"{V2_ID}","Names":["/app"],"Image":"ghcr.io/x/app:1","State":"running","Status":"Up 2 hours (healthy)",
             "Labels":{{"com.docker.compose.project":"lab","com.docker.compose.service":"app","secret.label":"no"}}}},
            {{"Id":"{gone}","Names":["/gone"],"Image":"x","State":"running","Status":"Up 1 second","Labels":{{}}}}]"#,
        gone = "0".repeat(64)
    );
    let inspect = format!(
        r#"{{"Id":"{V2_ID}","Created":"2024-05-01T10:00:00Z","Name":"/app","RestartCount":1,
            "State":{{"Status":"running","Pid":{V2_PID},"ExitCode":0,"StartedAt":"2024-05-01T10:00:01.5Z",
                      "FinishedAt":"2024-05-01T09:59:00Z","Health":{{"Status":"healthy"}}}},
            "Config":{{"Image":"ghcr.io/x/app:1"}},"HostConfig":{{"Memory":268435456,"NetworkMode":"bridge","CgroupParent":""}}}}"#
    );
    let calls = Arc::new(std::sync::Mutex::new(BTreeMap::<String, usize>::new()));
    let seen = Arc::clone(&calls);
    let _api = FakeApi::start(
        &sock,
        Arc::new(move |path: &str| {
            *seen.lock().unwrap().entry(path.to_owned()).or_default() += 1;
            if path.starts_with("/containers/json") {
                (200, list.clone().into_bytes())
            } else if path == format!("/containers/{V2_ID}/json") {
                (200, inspect.clone().into_bytes())
            } else {
                (404, br#"{"message":"No such container"}"#.to_vec())
            }
        }),
    );
    let root = fixtures().join("cgroup/v2");
    // A sysfs that names one of the two block devices.
    let sysfs = dir.path().join("sys");
    std::fs::create_dir_all(sysfs.join("dev/block/8:0")).unwrap();
    std::fs::write(sysfs.join("dev/block/8:0/uevent"), "MAJOR=8\nMINOR=0\nDEVNAME=sda\nDEVTYPE=disk\n").unwrap();
    let exporter = Exporter::start(&[
        "--collector.disable-defaults".into(),
        "--collector.docker".into(),
        format!("--collector.docker.host=unix://{}", sock.display()),
        format!("--collector.docker.cgroup-root={}", root.display()),
        format!("--path.procfs={}", root.join("proc").display()),
        format!("--path.sysfs={}", sysfs.display()),
    ]);
    let m = scrape(&exporter);
    assert_eq!(one(&m, "node_scrape_collector_success", &[("collector", "docker")]), 1.0);
    let id = format!("/system.slice/docker-{V2_ID}.scope");
    let base = [("id", id.as_str()), ("name", "app"), ("image", "ghcr.io/x/app:1"), ("container_label_com_docker_compose_project", "lab")];
    assert_eq!(one(&m, "container_cpu_usage_seconds_total", &[base.as_slice(), &[("cpu", "total")]].concat()), 2871.334522);
    assert_eq!(one(&m, "container_cpu_cfs_throttled_seconds_total", &base), 90.412345);
    assert_eq!(one(&m, "container_memory_working_set_bytes", &base), 73_400_320.0);
    assert_eq!(one(&m, "container_spec_memory_limit_bytes", &base), 268_435_456.0);
    assert_eq!(one(&m, "container_oom_events_total", &base), 2.0);
    assert_eq!(one(&m, "container_fs_writes_bytes_total", &[base.as_slice(), &[("device", "8:16")]].concat()), 314_773_504.0);
    assert_eq!(one(&m, "container_fs_reads_bytes_total", &[base.as_slice(), &[("device", "/dev/sda")]].concat()), 90_430_464.0);
    assert_eq!(one(&m, "container_threads_max", &base), 512.0);
    assert_eq!(one(&m, "container_processes", &base), 2.0);
    assert_eq!(one(&m, "container_start_time_seconds", &base), 1_714_557_600.0);
    assert!(samples(&m, "container_cpu_usage_seconds_total", &[]).iter().all(|s| !s.labels.contains_key("container_label_secret_label")));
    assert_eq!(one(&m, "docker_container_health_status", &[("name", "app"), ("status", "healthy")]), 1.0);
    assert_eq!(one(&m, "docker_container_restarts_total", &[("name", "app")]), 1.0);
    assert_eq!(one(&m, "docker_container_started_time_seconds", &[("name", "app")]), 1_714_557_601.5);
    assert!(samples(&m, "docker_container_state", &[("name", "gone")]).is_empty(), "404 on inspect: left out");
    // The block IO names the rules and dashboards read (the real dockerd's
    // containers have no blkio counts on this machine; see above).
    for n in crate::common::rule_metrics("container_fs_") {
        assert!(!samples(&m, &n, &[]).is_empty(), "rules or dashboards read {n}, which the exporter does not emit from the v2 fixture");
    }

    // A steady host: the second scrape lists, and inspects only what it could not cache.
    let _ = scrape(&exporter);
    let calls = calls.lock().unwrap();
    assert_eq!(calls.get("/containers/json?all=1"), Some(&2));
    assert_eq!(calls.get(&format!("/containers/{V2_ID}/json")), Some(&1), "{calls:?}");
}
