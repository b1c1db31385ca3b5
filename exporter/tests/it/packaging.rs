//! The packaging files: the systemd unit passes `systemd-analyze verify`;
//! the compose file and the Kubernetes manifests parse and have the
//! settings the guides promise (read-only, uid 65534, host /proc and /sys).
//! Both are also validated against their published schemas: the Compose
//! specification (check-jsonschema's bundled copy) and the Kubernetes API
//! (kubernetes-validate), installed by scripts/test.sh into a virtualenv.

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize as _;
use serde_yaml_ng::Value;

fn packaging(rel: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../packaging").join(rel)).unwrap()
}

#[test]
fn systemd_unit_passes_systemd_analyze_verify() {
    // ExecStart must name an existing executable: point it at the binary under test.
    let unit = packaging("homelab-exporter.service").replace("/usr/local/bin/homelab-exporter", env!("CARGO_BIN_EXE_homelab-exporter"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("homelab-exporter.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze not found: install Debian's systemd package (bash scripts/test.sh does)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && !text.contains("homelab-exporter.service:"), "systemd-analyze verify:\n{text}");
    for hardening in ["DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=", "MemoryDenyWriteExecute=yes"] {
        assert!(packaging("homelab-exporter.service").contains(hardening), "{hardening}");
    }
}

#[test]
fn compose_file_runs_read_only_as_nobody_with_the_host_mounted() {
    let v: Value = serde_yaml_ng::from_str(&packaging("compose.yaml")).unwrap();
    let svc = &v["services"]["homelab-exporter"];
    assert_eq!(svc["read_only"], Value::Bool(true));
    assert_eq!(svc["user"].as_str(), Some("65534:65534"));
    assert_eq!(svc["pid"].as_str(), Some("host"));
    assert_eq!(svc["network_mode"].as_str(), Some("host"));
    let volumes: Vec<&str> = svc["volumes"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(volumes.contains(&"/:/host:ro,rslave"), "{volumes:?}");
    let args: Vec<&str> = svc["command"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
    // Every flag in the compose file is one the exporter accepts.
    let mut check = vec!["check-config".to_owned()];
    check.extend(args.iter().map(|a| a.to_string()));
    let out = Command::new(env!("CARGO_BIN_EXE_homelab-exporter")).args(&check).output().unwrap();
    assert!(out.status.success(), "compose flags refused: {}", String::from_utf8_lossy(&out.stderr));
    assert!(v["services"]["docker-proxy"]["environment"]["POST"].as_i64() == Some(0), "the socket proxy must refuse POST");
}

#[test]
fn kubernetes_daemonset_and_service_are_consistent() {
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&packaging("kubernetes/daemonset.yaml")).map(|d| Value::deserialize(d).unwrap()).collect();
    let ds = docs.iter().find(|d| d["kind"].as_str() == Some("DaemonSet")).expect("a DaemonSet");
    let svc = docs.iter().find(|d| d["kind"].as_str() == Some("Service")).expect("a Service");
    assert_eq!(ds["apiVersion"].as_str(), Some("apps/v1"));
    assert_eq!(svc["apiVersion"].as_str(), Some("v1"));
    let selector = &ds["spec"]["selector"]["matchLabels"];
    assert_eq!(selector, &ds["spec"]["template"]["metadata"]["labels"], "selector must match the pod labels");
    assert_eq!(&svc["spec"]["selector"], selector, "the Service selects the DaemonSet's pods");
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["hostPID"], Value::Bool(true));
    assert_eq!(pod["securityContext"]["runAsUser"].as_i64(), Some(65534));
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], Value::Bool(true));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"].as_str(), Some("/-/healthy"));
    let args: Vec<String> = c["args"].as_sequence().unwrap().iter().filter_map(Value::as_str).map(str::to_owned).collect();
    // The image is the release's, by the version every archive is tagged with.
    assert_eq!(c["image"].as_str(), Some(format!("homelab-exporter:{}", env!("CARGO_PKG_VERSION")).as_str()), "the DaemonSet names the release's image");
    assert_eq!(c["imagePullPolicy"].as_str(), Some("Never"), "no registry holds the image");
    // The kubelet's pod volumes are left out of the filesystem collector.
    let exclude = args.iter().find_map(|a| a.strip_prefix("--collector.filesystem.mount-points-exclude=")).expect("a mount point exclude");
    let re = regex_lite::Regex::new(exclude).unwrap();
    for mount in ["/var/lib/kubelet/pods/0a1b/volumes/kubernetes.io~projected/kube-api-access-x", "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs", "/proc", "/sys/fs/cgroup"] {
        assert!(re.is_match(mount), "{mount} is not excluded");
    }
    for mount in ["/", "/var/lib/longhorn", "/mnt/data"] {
        assert!(!re.is_match(mount), "{mount} is excluded");
    }
    let mut check = vec!["check-config".to_owned()];
    check.extend(args);
    let out = Command::new(env!("CARGO_BIN_EXE_homelab-exporter")).args(&check).output().unwrap();
    assert!(out.status.success(), "DaemonSet flags refused: {}", String::from_utf8_lossy(&out.stderr));
}

/// The ServiceMonitor scrapes the Service's `metrics` port and sets the
/// `node` label the generated rules and dashboards select on.
#[test]
fn kubernetes_servicemonitor_selects_the_service_and_labels_the_node() {
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&packaging("kubernetes/daemonset.yaml")).map(|d| Value::deserialize(d).unwrap()).collect();
    let svc = docs.iter().find(|d| d["kind"].as_str() == Some("Service")).expect("a Service");
    let sm: Value = serde_yaml_ng::from_str(&packaging("kubernetes/servicemonitor.yaml")).unwrap();
    assert_eq!(sm["apiVersion"].as_str(), Some("monitoring.coreos.com/v1"));
    assert_eq!(sm["kind"].as_str(), Some("ServiceMonitor"));
    assert_eq!(&sm["spec"]["selector"]["matchLabels"], &svc["metadata"]["labels"], "the ServiceMonitor selects the Service by its labels");
    assert_eq!(sm["spec"]["namespaceSelector"]["matchNames"][0], svc["metadata"]["namespace"]);
    let endpoint = &sm["spec"]["endpoints"][0];
    assert_eq!(endpoint["port"], svc["spec"]["ports"][0]["name"], "the endpoint names the Service's port");
    let relabel = &endpoint["relabelings"][0];
    assert_eq!(relabel["sourceLabels"][0].as_str(), Some("__meta_kubernetes_pod_node_name"));
    assert_eq!(relabel["targetLabel"].as_str(), Some("node"));
}


/// The validators installed by scripts/test.sh (`HOMELAB_SCHEMA_TOOLS`), or
/// `None` (a skip) only outside CI.
fn schema_tool(name: &str) -> Option<PathBuf> {
    let dir = std::env::var("HOMELAB_SCHEMA_TOOLS").ok().map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/schema-venv/bin"));
    let tool = dir.join(name);
    if tool.exists() {
        return Some(tool);
    }
    assert!(
        std::env::var("HOMELAB_REQUIRE_REAL").as_deref() != Ok("1"),
        "{name} is missing: bash scripts/test.sh installs it (pip: check-jsonschema, kubernetes-validate)"
    );
    println!("skipped: {name} is missing");
    None
}

#[test]
fn compose_file_validates_against_the_compose_specification() {
    let Some(tool) = schema_tool("check-jsonschema") else { return };
    for name in ["compose.yaml", "compose.synology.yaml"] {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../packaging").join(name);
        let out = Command::new(&tool).args(["--builtin-schema", "vendor.compose-spec"]).arg(&file).output().unwrap();
        assert!(out.status.success(), "{name}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
}

/// The Synology file avoids what fails on DSM 7.2: no `rslave` on the
/// host's root (DSM's / is not a shared mount), the Docker socket's group
/// added (else "permission denied"), the textfile directory on /volume1;
/// and every flag it passes is one the exporter accepts (after compose's
/// `$$` escape).
#[test]
fn synology_compose_file_avoids_what_fails_on_dsm() {
    let v: Value = serde_yaml_ng::from_str(&packaging("compose.synology.yaml")).unwrap();
    let svc = &v["services"]["homelab-exporter"];
    assert_eq!(svc["read_only"], Value::Bool(true));
    assert_eq!(svc["user"].as_str(), Some("65534:65534"));
    let volumes: Vec<&str> = svc["volumes"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(volumes.iter().all(|v| !v.contains("rslave") && !v.contains("rshared")), "DSM refuses propagation on /: {volumes:?}");
    assert!(volumes.contains(&"/:/host:ro"), "{volumes:?}");
    assert!(volumes.contains(&"/var/run/docker.sock:/var/run/docker.sock:ro"), "{volumes:?}");
    assert!(volumes.iter().any(|v| v.starts_with("/volume1/") && v.ends_with(":/textfile:ro")), "{volumes:?}");
    let groups: Vec<&str> = svc["group_add"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(groups, ["${DOCKER_GID:-0}"], "the socket's group");
    let args: Vec<String> = svc["command"].as_sequence().unwrap().iter().filter_map(Value::as_str).map(|a| a.replace("$$", "$")).collect();
    assert!(args.iter().any(|a| a == "--collector.docker.host=unix:///var/run/docker.sock"), "{args:?}");
    let mut check = vec!["check-config".to_owned()];
    check.extend(args.iter().cloned());
    let out = Command::new(env!("CARGO_BIN_EXE_homelab-exporter")).args(&check).output().unwrap();
    assert!(out.status.success(), "Synology compose flags refused: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn kubernetes_manifests_validate_against_the_kubernetes_schemas() {
    let Some(tool) = schema_tool("kubernetes-validate") else { return };
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../packaging/kubernetes/daemonset.yaml");
    let out = Command::new(tool).arg("--strict").arg(&file).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.matches("passed").count() == 2, "{text}");
}

/// `homelab-exporter dashboards` writes what the dashboards crate's drift
/// test committed for the example inventory; a missing inventory is exit 2.
#[test]
fn dashboards_subcommand_writes_the_committed_examples() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
        .args(["dashboards", "--inventory"])
        .arg(root.join("rules/examples/homelab.yaml"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let listed = String::from_utf8_lossy(&run.stdout);
    assert_eq!(listed.lines().count(), 7, "{listed}");
    for rel in [
        "dashboards/homelab-overview.json",
        "dashboards/homelab-host.json",
        "provisioning/dashboards/homelab.yaml",
    ] {
        let fresh = std::fs::read_to_string(out.path().join(rel)).unwrap();
        let committed =
            std::fs::read_to_string(root.join("dashboards/examples").join(rel)).unwrap();
        assert!(fresh == committed, "{rel} differs from dashboards/examples");
    }
    let missing = Command::new(env!("CARGO_BIN_EXE_homelab-exporter"))
        .args(["dashboards", "--inventory", "no-such.yaml", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no-such.yaml"));
}

/// The syscalls systemd allows for a `SystemCallFilter=` entry: a name, or
/// a `@group` expanded with `systemd-analyze syscall-filter` (the installed
/// systemd's own tables), groups within groups too.
fn syscall_set(entry: &str, out: &mut std::collections::BTreeSet<String>) {
    if !entry.starts_with('@') {
        out.insert(entry.to_owned());
        return;
    }
    let listing = Command::new("systemd-analyze").args(["syscall-filter", entry]).output().expect("systemd-analyze (Debian's systemd)");
    assert!(listing.status.success(), "systemd-analyze syscall-filter {entry}");
    for line in String::from_utf8_lossy(&listing.stdout).lines().skip(1) {
        let name = line.trim();
        if name.is_empty() || name.starts_with('#') {
            continue;
        }
        if name.starts_with('@') {
            syscall_set(name, out);
        } else {
            out.insert(name.to_owned());
        }
    }
}

/// The unit's sandbox lets every default collector work: the exporter,
/// started with no flags and scraped twice under strace, makes no system
/// call that the unit's `SystemCallFilter=` lines refuse. The lines are read
/// from the unit and applied in order as systemd does when the first is an
/// allow list (later entries add, `~` entries remove), each group expanded
/// with the installed systemd's tables. Before
/// the fix, `ProtectClock=yes` and `@system-service` refused `adjtimex`,
/// and the timex collector failed on every scrape.
#[test]
fn systemd_sandbox_allows_every_syscall_a_scrape_makes() {
    let unit = packaging("homelab-exporter.service");
    assert!(!unit.lines().any(|l| l.trim() == "ProtectClock=yes"), "ProtectClock=yes refuses adjtimex(2)");
    let mut allowed = std::collections::BTreeSet::new();
    let lines: Vec<&str> = unit.lines().filter_map(|l| l.trim().strip_prefix("SystemCallFilter=")).collect();
    assert!(lines.first().is_some_and(|l| !l.starts_with('~')), "the unit's first SystemCallFilter= is an allow list");
    for line in lines {
        let mut set = std::collections::BTreeSet::new();
        for entry in line.trim_start_matches('~').split_whitespace() {
            syscall_set(entry, &mut set);
        }
        if line.starts_with('~') {
            allowed.retain(|s| !set.contains(s));
        } else {
            allowed.extend(set);
        }
    }
    assert!(allowed.contains("read") && allowed.contains("adjtimex"), "{allowed:?}");

    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("strace.log");
    let port = crate::common::free_port();
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_homelab-exporter"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("strace (Debian's strace; bash scripts/test.sh installs it)");
    let start = std::time::Instant::now();
    let mut scraped = 0;
    while scraped < 2 && start.elapsed() < std::time::Duration::from_secs(60) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            std::thread::sleep(std::time::Duration::from_millis(200));
            continue;
        }
        let (status, _, body) = crate::common::http_get(port, "/metrics", &[]);
        if status == 200 && String::from_utf8_lossy(&body).contains("node_timex_sync_status") {
            scraped += 1;
        } else {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    // Stop the exporter (strace's child) by its pid; strace then exits.
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", strace.id())).unwrap_or_default();
    for pid in children.split_whitespace() {
        let _ = Command::new("kill").arg("-TERM").arg(pid).status();
    }
    let waited = std::time::Instant::now();
    while strace.try_wait().unwrap().is_none() {
        if waited.elapsed() > std::time::Duration::from_secs(20) {
            let _ = strace.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = strace.wait();
    assert_eq!(scraped, 2, "the exporter under strace did not answer two scrapes with timex metrics");

    let log = std::fs::read_to_string(&trace).unwrap();
    let mut used = std::collections::BTreeSet::new();
    for line in log.lines() {
        // "1234  name(args..." (strace -f writes the pid first).
        let rest = line.split_once(char::is_whitespace).map(|(_, r)| r.trim_start()).unwrap_or(line);
        if let Some(name) = rest.split('(').next().filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')) {
            used.insert(name.to_owned());
        }
    }
    assert!(used.contains("adjtimex") || used.contains("clock_adjtime"), "the timex collector's call is not in the trace: {used:?}");
    let refused: Vec<&String> = used.iter().filter(|s| !allowed.contains(*s)).collect();
    assert!(refused.is_empty(), "the unit's SystemCallFilter refuses system calls a scrape makes: {refused:?}\n(used: {used:?})");
    println!("{} distinct system calls in two scrapes, all allowed by the unit", used.len());
}
