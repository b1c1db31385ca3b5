//! The container image (packaging/Dockerfile, FROM scratch) built and run
//! with a real dockerd: read-only root filesystem, uid 65534, the host's
//! /proc and /sys mounted, serving /metrics, and its healthcheck passing.
//! It runs with `--network host` (dockerd has no bridge here), so the
//! exporter listens on 127.0.0.1 only, on a free port other than its default 9839 (the image's HEALTHCHECK must find it).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::http_get;
use crate::docker::Dockerd;

const BINARY: &str = "target/x86_64-unknown-linux-musl/release/homelab-exporter";

#[test]
fn scratch_image_runs_read_only_as_nobody_and_its_healthcheck_passes() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = root.join(BINARY);
    if !binary.exists() {
        assert!(
            std::env::var("HOMELAB_REQUIRE_REAL").as_deref() != Ok("1"),
            "{BINARY} is missing: scripts/test.sh builds it with scripts/build-static.sh x86_64-unknown-linux-musl"
        );
        println!("skipped: {BINARY} is missing");
        return;
    }
    // The container listens on another port than the default 9839, which
    // must stay free: the image's HEALTHCHECK (no arguments) has to find the
    // server's own --web.listen-address to pass.
    if TcpListener::bind("127.0.0.1:9839").is_err() {
        panic!("port 9839 on 127.0.0.1 is taken: the image test needs it free to show the healthcheck does not just probe the default");
    }
    let port = crate::common::free_port();
    let Some(d) = Dockerd::start() else { return };

    // Build context laid out like the repository after scripts/build-static.sh:
    // the binary under target/image/linux-amd64/, the repository's
    // .dockerignore, and 32 MiB of other build output that it must keep out.
    let ctx = tempfile::tempdir().unwrap();
    let dest = ctx.path().join("target/image/linux-amd64/homelab-exporter");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(&binary, &dest).unwrap();
    std::fs::create_dir_all(ctx.path().join("packaging")).unwrap();
    std::fs::copy(root.join("packaging/Dockerfile"), ctx.path().join("packaging/Dockerfile")).unwrap();
    std::fs::copy(root.join(".dockerignore"), ctx.path().join(".dockerignore")).unwrap();
    std::fs::create_dir_all(ctx.path().join("target/debug")).unwrap();
    std::fs::File::create(ctx.path().join("target/debug/other-build-output")).unwrap().set_len(32 << 20).unwrap();
    let build = Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(["build", "-f", "packaging/Dockerfile", "-t", "homelab-exporter:test", "."])
        .current_dir(ctx.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&build.stdout).to_string();
    // "Sending build context to Docker daemon  5.12MB"
    let sent = log.lines().find_map(|l| l.strip_prefix("Sending build context to Docker daemon")).map(str::trim).unwrap_or_default().to_owned();
    let sent_mb: f64 = sent.strip_suffix("MB").and_then(|v| v.parse().ok()).or_else(|| sent.strip_suffix("kB").and_then(|v| v.parse::<f64>().ok()).map(|k| k / 1000.0)).unwrap_or(f64::MAX);
    let binary_mb = std::fs::metadata(&binary).unwrap().len() as f64 / 1e6;
    assert!(sent_mb < binary_mb + 1.0, "the build context was {sent} for a {binary_mb:.1} MB binary: .dockerignore lets other files in\n{log}");
    assert!(build.status.success(), "docker build: {}", String::from_utf8_lossy(&build.stderr));

    let id = d.docker(&[
        "run", "-d", "--read-only", "--network", "host", "--health-interval", "1s", "--health-start-period", "1s",
        "-v", "/proc:/host/proc:ro", "-v", "/sys:/host/sys:ro",
        "homelab-exporter:test",
        "--path.procfs=/host/proc", "--path.sysfs=/host/sys", &format!("--web.listen-address=127.0.0.1:{port}"),
        "--no-collector.docker",
    ]);
    let inspect = |fmt: &str| d.docker(&["inspect", "-f", fmt, &id]);
    assert_eq!(inspect("{{.Config.User}}"), "65534:65534");
    assert_eq!(inspect("{{.HostConfig.ReadonlyRootfs}}"), "true");

    let start = Instant::now();
    let mut health = String::new();
    while start.elapsed() < Duration::from_secs(30) {
        health = inspect("{{.State.Health.Status}}");
        if health == "healthy" {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(health, "healthy", "healthcheck; logs: {}", d.docker(&["logs", &id]));
    let (status, _, body) = http_get(port, "/metrics", &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    for name in ["node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_load1"] {
        assert!(text.contains(name), "{name} missing from the container's output");
    }
    let size = d.docker(&["image", "inspect", "-f", "{{.Size}}", "homelab-exporter:test"]);
    println!("image healthy after {:?}; image size {size} bytes", start.elapsed());
    d.docker(&["rm", "-f", &id]);
}
