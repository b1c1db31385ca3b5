//! The container image (packaging/Dockerfile, FROM scratch) built and run
//! with a real dockerd: read-only root filesystem, uid 65534, the host's
//! /proc and /sys mounted, serving /metrics, and its healthcheck passing.
//! It runs with `--network host` (dockerd has no bridge here), so the
//! exporter listens on 127.0.0.1 only, on its default port 9839.

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
    if TcpListener::bind("127.0.0.1:9839").is_err() {
        panic!("port 9839 on 127.0.0.1 is taken: the image test runs the exporter there on the host network");
    }
    let Some(d) = Dockerd::start() else { return };

    // Build context: the Dockerfile and the static binary where it expects it.
    let ctx = tempfile::tempdir().unwrap();
    let dest = ctx.path().join(BINARY);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::copy(&binary, &dest).unwrap();
    std::fs::copy(root.join("packaging/Dockerfile"), ctx.path().join("Dockerfile")).unwrap();
    let build = Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{}", d.sock.display()))
        .args(["build", "-q", "-t", "homelab-exporter:test", "--build-arg", "TARGET=x86_64-unknown-linux-musl"])
        .arg(ctx.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(build.status.success(), "docker build: {}", String::from_utf8_lossy(&build.stderr));

    let id = d.docker(&[
        "run", "-d", "--read-only", "--network", "host", "--health-interval", "1s", "--health-start-period", "1s",
        "-v", "/proc:/host/proc:ro", "-v", "/sys:/host/sys:ro",
        "homelab-exporter:test",
        "--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--web.listen-address=127.0.0.1:9839",
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
    let (status, _, body) = http_get(9839, "/metrics", &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8_lossy(&body);
    for name in ["node_cpu_seconds_total", "node_memory_MemTotal_bytes", "node_load1"] {
        assert!(text.contains(name), "{name} missing from the container's output");
    }
    let size = d.docker(&["image", "inspect", "-f", "{{.Size}}", "homelab-exporter:test"]);
    println!("image healthy after {:?}; image size {size} bytes", start.elapsed());
    d.docker(&["rm", "-f", &id]);
}
