//! The packaged unit under a real systemd. A minimal Debian bookworm root
//! (debootstrap, with systemd; built once and cached under
//! `target/systemd-root`) is booted with `systemd-nspawn --boot` on the
//! host's network, with a throwaway overlay over the cached root. The
//! shipped `packaging/homelab-exporter.service` is installed unchanged, the
//! static build as `/usr/local/bin/homelab-exporter`, and
//! `packaging/examples/config.yaml` as its configuration with only the
//! listen address changed (to the test's loopback port, so the unit needs no
//! drop-in). systemd starts the unit at boot, as `systemctl enable` would
//! have it.
//!
//! Asserted: every default collector that succeeds when the same binary
//! runs outside the sandbox on this machine also succeeds under the unit
//! (`node_scrape_collector_success{collector=X} 1`); the exporter runs as
//! a dynamic user with the unit's seccomp filter, no new privileges and an
//! empty capability bounding set (so the check is not vacuous); a `.prom`
//! file written into the textfile directory the unit creates
//! (`StateDirectory=`) is served.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, http_get, listens, parse_exposition};

const STATIC_BINARY: &str = "target/x86_64-unknown-linux-musl/release/homelab-exporter";
/// The cached root, relative to the repository.
const ROOT: &str = "target/systemd-root";
/// What the cached root was built with; a different recipe rebuilds it.
const RECIPE: &str = "debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A failure in CI (`CI=true` or `HOMELAB_REQUIRE_REAL=1`), a skip otherwise.
fn require(what: &str, how: &str) -> bool {
    if std::env::var("HOMELAB_REQUIRE_REAL").is_ok_and(|v| v == "1") || std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what}: {how}");
    }
    println!("skipped: {what} ({how})");
    false
}

fn found(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// The cached Debian root, built with debootstrap when absent (or built by
/// another recipe). Built beside it and renamed when complete, so an
/// interrupted build is never used.
fn debian_root() -> PathBuf {
    let root = repo().join(ROOT);
    let marker = root.join(".homelab-recipe");
    if std::fs::read_to_string(&marker).is_ok_and(|r| r == RECIPE) {
        return root;
    }
    let partial = repo().join(format!("{ROOT}.partial"));
    for dir in [&partial, &root] {
        if dir.exists() {
            let status = Command::new("rm").arg("-rf").arg(dir).status().unwrap();
            assert!(status.success(), "removing {}", dir.display());
        }
    }
    let started = Instant::now();
    let mut args: Vec<String> = vec!["900".into(), "debootstrap".into()];
    args.extend(RECIPE.split_whitespace().skip(1).map(str::to_owned));
    args.push(partial.display().to_string());
    args.push(MIRROR.into());
    // Bounded: coreutils' timeout ends debootstrap after 15 minutes.
    let out = Command::new("timeout").args(&args).output().expect("timeout (coreutils)");
    assert!(
        out.status.success(),
        "{RECIPE} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout).lines().rev().take(20).collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(partial.join(".homelab-recipe"), RECIPE).unwrap();
    std::fs::rename(&partial, &root).unwrap();
    println!("built the Debian root with {RECIPE} in {:.0} s", started.elapsed().as_secs_f64());
    root
}

/// The example configuration with the listen address set to `port`.
fn config(port: u16) -> String {
    let example = std::fs::read_to_string(repo().join("packaging/examples/config.yaml")).unwrap();
    let mut replaced = 0;
    let text: Vec<String> = example
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("web.listen-address:") {
                replaced += 1;
                format!("  web.listen-address: \"127.0.0.1:{port}\"")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_eq!(replaced, 1, "packaging/examples/config.yaml sets web.listen-address once");
    assert!(example.contains("collector.textfile.directory: /var/lib/homelab-exporter/textfile"), "the example configuration names the unit's textfile directory");
    text.join("\n") + "\n"
}

/// `node_scrape_collector_success` by collector.
fn successes(text: &str) -> BTreeMap<String, f64> {
    parse_exposition(text)
        .series
        .iter()
        .filter(|s| s.name == "node_scrape_collector_success")
        .map(|s| (s.labels["collector"].clone(), s.value))
        .collect()
}

/// The static binary run directly on this machine (as the test's user, no
/// sandbox), scraped once.
fn outside(binary: &Path, config: &Path) -> String {
    let port = free_port();
    let textfile = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--collector.textfile.directory={}", textfile.path().display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the static build");
    let start = Instant::now();
    let mut body = None;
    while start.elapsed() < Duration::from_secs(30) && body.is_none() {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && listens(child.id(), port) {
            let (status, _, b) = http_get(port, "/metrics", &[]);
            assert_eq!(status, 200);
            body = Some(String::from_utf8(b).unwrap());
        } else {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    body.expect("the static build did not answer within 30 s")
}

/// A booted container, powered off when dropped.
struct Container {
    nspawn: Child,
    log: PathBuf,
}

impl Container {
    /// The container's PID 1 (its systemd), as a pid of this machine.
    fn leader(&self) -> Option<u32> {
        let pid = self.nspawn.id();
        children(pid).into_iter().next()
    }

    /// A command run inside the container (all its namespaces), for
    /// diagnostics: its output, or why it failed.
    fn inside(&self, args: &[&str]) -> String {
        let Some(leader) = self.leader() else { return "(the container has no PID 1)".into() };
        match Command::new("nsenter").arg("-t").arg(leader.to_string()).arg("-a").args(args).output() {
            Ok(o) => format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
            Err(e) => format!("nsenter: {e}"),
        }
    }

    /// What to read when the test fails: nspawn's output, the unit's state
    /// and the exporter's log.
    fn diagnostics(&self) -> String {
        format!(
            "systemd-nspawn:\n{}\n--- systemctl status homelab-exporter:\n{}\n--- journalctl -u homelab-exporter:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default(),
            self.inside(&["systemctl", "status", "--no-pager", "homelab-exporter"]),
            self.inside(&["journalctl", "--no-pager", "-n", "60", "-u", "homelab-exporter"]),
        )
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        // nspawn answers SIGTERM with an orderly poweroff of the container.
        let _ = Command::new("kill").arg("-TERM").arg(self.nspawn.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.nspawn.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Killing the container's PID 1 ends every process of its PID namespace.
        if let Some(leader) = self.leader() {
            let _ = Command::new("kill").arg("-KILL").arg(leader.to_string()).status();
        }
        let _ = self.nspawn.kill();
        let _ = self.nspawn.wait();
    }
}

fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default().split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// `/proc/<pid>/status` field.
fn status_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':'))).map(|v| v.trim().to_owned()).unwrap_or_default()
}

#[test]
fn every_default_collector_works_under_the_unit_in_a_booted_debian() {
    let binary = repo().join(STATIC_BINARY);
    if !binary.exists() && !require("the static x86_64 build is missing", "scripts/test.sh builds it with scripts/build-static.sh x86_64-unknown-linux-musl") {
        return;
    }
    if std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap_or(1) != 0
        && !require("booting a container needs root", "run the tests as root, as scripts/test.sh in CI does")
    {
        return;
    }
    for (program, package) in [("debootstrap", "debootstrap"), ("systemd-nspawn", "systemd-container"), ("nsenter", "util-linux")] {
        if !found(program) && !require(&format!("{program} is missing"), &format!("install Debian's {package} (bash scripts/test.sh does)")) {
            return;
        }
    }
    let started = Instant::now();
    let root = debian_root();
    let stage = tempfile::tempdir().unwrap();
    let port = free_port();
    let etc = stage.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(etc.join("config.yaml"), config(port)).unwrap();

    // The same binary and configuration outside any sandbox, as the baseline.
    let baseline = successes(&outside(&binary, &etc.join("config.yaml")));
    assert!(baseline.len() > 30, "too few collectors outside the sandbox: {baseline:?}");

    let unit = repo().join("packaging/homelab-exporter.service");
    let log = stage.path().join("nspawn.log");
    let mut nspawn = Command::new("systemd-nspawn");
    nspawn
        .arg("--directory")
        .arg(&root)
        .arg(format!("--machine=homelab-test-{}", std::process::id()))
        .arg("--boot")
        // Changes go to a tmpfs over the cached root, dropped at exit.
        .arg("--volatile=overlay")
        .arg("--console=pipe")
        // nspawn's own seccomp filter refuses the @clock calls to a
        // container without CAP_SYS_TIME: the timex collector's read-only
        // adjtimex(2) then fails even outside the unit (EPERM, seen from a
        // transient unit without sandboxing inside the container). Allowed
        // here, the unit's SystemCallFilter= is the one that decides.
        .arg("--system-call-filter=adjtimex clock_adjtime")
        .arg(format!("--bind-ro={}:/usr/local/bin/homelab-exporter", binary.display()))
        .arg(format!("--bind-ro={}:/etc/systemd/system/homelab-exporter.service", unit.display()))
        .arg(format!("--bind-ro={}:/etc/homelab-exporter", etc.display()));
    if !Path::new("/run/systemd/system").exists() {
        // No systemd on this machine (a container or a bare VM): no
        // machined to register with, no scope unit to create.
        nspawn.args(["--register=no", "--keep-unit"]);
    }
    // Passed to the container's systemd: enables the unit for this boot,
    // as the [Install] section's multi-user.target would.
    nspawn.arg("--").arg("systemd.wants=homelab-exporter.service");
    let file = std::fs::File::create(&log).unwrap();
    let child = nspawn.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file).spawn().expect("systemd-nspawn");
    let mut container = Container { nspawn: child, log };
    let booting = Instant::now();

    // Wait (bounded) for the unit's exporter: a child of the container's
    // systemd that holds the port.
    let mut exporter = None;
    let mut first = None;
    while booting.elapsed() < Duration::from_secs(120) && first.is_none() {
        if let Ok(Some(status)) = container.nspawn.try_wait() {
            panic!("systemd-nspawn exited with {status} while booting\n{}", container.diagnostics());
        }
        exporter = container.leader().and_then(|l| children(l).into_iter().find(|&p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "homelab-exporte")));
        if let Some(pid) = exporter.filter(|&p| listens(p, port)) {
            let (status, _, body) = http_get(port, "/metrics", &[]);
            assert_eq!(status, 200, "pid {pid}");
            first = Some(String::from_utf8(body).unwrap());
        } else {
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    let Some(first) = first else { panic!("the unit's exporter did not answer on 127.0.0.1:{port} within 120 s of boot\n{}", container.diagnostics()) };
    let pid = exporter.unwrap();
    println!("booted; the unit's exporter answered {:.1} s after systemd-nspawn started", booting.elapsed().as_secs_f64());

    // The sandbox is in effect: a dynamic user, seccomp, no privileges.
    let uid = status_field(pid, "Uid");
    assert!(uid.split_whitespace().all(|u| u != "0"), "the exporter runs as root: Uid {uid}\n{}", container.diagnostics());
    assert_eq!(status_field(pid, "Seccomp"), "2", "no seccomp filter on the exporter");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    assert_eq!(status_field(pid, "CapBnd"), "0000000000000000");

    let inside = successes(&first);
    let mut failed = Vec::new();
    for (collector, &value) in &baseline {
        match inside.get(collector) {
            Some(&v) if v == 1.0 || value != 1.0 => {}
            got => failed.push(format!("{collector}: {got:?} under the unit, {value} outside")),
        }
    }
    assert!(failed.is_empty(), "collectors that work outside the sandbox fail under the unit:\n{}\n{}", failed.join("\n"), container.diagnostics());
    let missing: Vec<&String> = baseline.keys().filter(|c| !inside.contains_key(*c)).collect();
    assert!(missing.is_empty(), "collectors missing under the unit: {missing:?}");
    let working = baseline.values().filter(|&&v| v == 1.0).count();
    let idle: Vec<&String> = baseline.iter().filter(|(_, &v)| v != 1.0).map(|(c, _)| c).collect();
    println!("{working} of {} default collectors succeed outside the sandbox and all of them under the unit; failing in both (nothing to read here): {idle:?}", baseline.len());

    // The textfile directory the unit created, written as a backup script
    // would (a temporary name, then a rename), as root of the container.
    let leader = container.leader().unwrap();
    let textfile = PathBuf::from(format!("/proc/{leader}/root/var/lib/homelab-exporter/textfile"));
    assert!(textfile.is_dir(), "StateDirectory= did not create /var/lib/homelab-exporter/textfile\n{}", container.diagnostics());
    std::fs::write(textfile.join("backup.prom.tmp"), "# HELP homelab_test_backup_success From the test.\n# TYPE homelab_test_backup_success gauge\nhomelab_test_backup_success{job=\"nightly\"} 1\n").unwrap();
    std::fs::rename(textfile.join("backup.prom.tmp"), textfile.join("backup.prom")).unwrap();
    let (status, _, body) = http_get(port, "/metrics", &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("homelab_test_backup_success{job=\"nightly\"} 1"), "the .prom file in the textfile directory is not served\n{}", container.diagnostics());
    assert!(text.contains("node_textfile_scrape_error 0"), "{text}");
    drop(container);
    println!("whole test: {:.0} s", started.elapsed().as_secs_f64());
}
