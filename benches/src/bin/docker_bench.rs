//! Docker collector scrape time beside Docker's stats endpoint, for the same
//! containers. Starts a private dockerd (Debian's docker.io; root needed),
//! imports an image from busybox-static, runs N idle containers with
//! `--network none`, then measures:
//! - the collector's gather: the first (cold: every container inspected)
//!   and the median / p90 / max of the following (warm: list call only);
//! - `GET /containers/{id}/stats?stream=false` for every container, one
//!   after another (what a stats-based exporter does per scrape), all at
//!   once, and with `one-shot=true` (API 1.41+, one sample instead of two).
//!
//! ```sh
//! cargo run -p homelab-benches --bin docker_bench -- [--containers 30] [--scrapes 50]
//! ```
//! Containers and the daemon are removed at the end (also on error).

use std::io::{Read, Write};
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use homelab_exporter::collector::{Collector, Scrape};
use homelab_exporter::metrics::Snapshot;

struct Dockerd {
    child: Child,
    dir: PathBuf,
    sock: PathBuf,
    ids: Vec<String>,
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if !self.ids.is_empty() {
            let mut rm = vec!["rm".to_owned(), "-f".to_owned()];
            rm.extend(self.ids.iter().cloned());
            let _ = docker(&self.sock, &rm.iter().map(String::as_str).collect::<Vec<_>>());
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let start = Instant::now();
        let mut stopped = false;
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                stopped = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // dockerd leaves its exec root's netns/default mounted after it exits.
        let ours = self.dir.to_string_lossy().to_string();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for point in mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| p.starts_with(&ours)) {
            let _ = Command::new("umount").args(["-l", point]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the docker client against `sock`, bounded to 120 s.
fn docker(sock: &Path, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("docker: {e} (install Debian's docker.io)"))?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(120) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("docker {args:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// One HTTP/1.0 GET on the daemon's socket; returns the status.
fn get(sock: &Path, path: &str) -> Result<u16, String> {
    let mut s = UnixStream::connect(sock).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("GET {path}: no status"))
}

fn start_dockerd() -> Result<Dockerd, String> {
    let dir = PathBuf::from(format!("/tmp/hb{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let sock = dir.join("d.sock");
    let log = std::fs::File::create(dir.join("dockerd.log")).map_err(|e| e.to_string())?;
    let child = Command::new("dockerd")
        .arg(format!("--host=unix://{}", sock.display()))
        .arg(format!("--data-root={}", dir.join("data").display()))
        .arg(format!("--exec-root={}", dir.join("x").display()))
        .arg(format!("--pidfile={}", dir.join("d.pid").display()))
        .args(["--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .spawn()
        .map_err(|e| format!("dockerd: {e} (install Debian's docker.io; run as root)"))?;
    let d = Dockerd { child, dir, sock, ids: Vec::new() };
    let start = Instant::now();
    while get(&d.sock, "/_ping") != Ok(200) {
        if start.elapsed() > Duration::from_secs(60) {
            return Err("dockerd did not answer within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let rootfs = d.dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).map_err(|e| e.to_string())?;
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).map_err(|e| format!("/bin/busybox: {e} (install busybox-static)"))?;
    for applet in ["sh", "sleep"] {
        symlink("busybox", rootfs.join("bin").join(applet)).map_err(|e| e.to_string())?;
    }
    let tar = d.dir.join("rootfs.tar");
    let status = Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg(".").status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("tar failed".into());
    }
    docker(&d.sock, &["import", &tar.display().to_string(), "local/busybox"])?;
    Ok(d)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> Result<(), String> {
    let containers = arg("--containers", 30);
    let scrapes = arg("--scrapes", 50).max(2);
    let mut d = start_dockerd()?;
    for i in 0..containers {
        let name = format!("bench{i:02}");
        let id = docker(&d.sock, &["run", "-d", "--network", "none", "--name", &name, "-l", "com.docker.compose.project=bench", "local/busybox", "sleep", "100000"])?;
        d.ids.push(id);
    }

    let settings = homelab_exporter::registry::parse_settings(&[format!("--collector.docker.host=unix://{}", d.sock.display())])
        .map_err(|e| e.to_string())?;
    let Some(Collector::Async(collector)) = homelab_exporter::docker::build(&settings.flags.docker, &settings.context()).map_err(|e| e.to_string())? else {
        return Err("the docker collector did not build".into());
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(scrapes);
    let mut series = 0;
    for _ in 0..scrapes {
        let scrape = Scrape { deadline: Instant::now() + Duration::from_secs(10) };
        let mut out = Snapshot::new();
        let start = Instant::now();
        rt.block_on(collector.gather(&scrape, &mut out)).map_err(|e| e.to_string())?;
        times.push(start.elapsed());
        series = out.sample_count();
    }
    let cold = times[0];
    let mut warm = times[1..].to_vec();
    warm.sort();

    let start = Instant::now();
    for id in &d.ids {
        if get(&d.sock, &format!("/containers/{id}/stats?stream=false"))? != 200 {
            return Err(format!("stats of {id} failed"));
        }
    }
    let stats_sequential = start.elapsed();
    let start = Instant::now();
    let handles: Vec<_> = d
        .ids
        .iter()
        .map(|id| {
            let sock = d.sock.clone();
            let path = format!("/containers/{id}/stats?stream=false");
            std::thread::spawn(move || get(&sock, &path))
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "stats thread panicked".to_owned())??;
    }
    let stats_parallel = start.elapsed();
    let start = Instant::now();
    for id in &d.ids {
        get(&d.sock, &format!("/containers/{id}/stats?stream=false&one-shot=true"))?;
    }
    let stats_one_shot = start.elapsed();

    println!("docker collector vs stats endpoint, {containers} running containers, {} build", if cfg!(debug_assertions) { "debug" } else { "release" });
    println!("  collector gather, cold (lists + inspects all):   {}", ms(cold));
    println!(
        "  collector gather, warm ({} scrapes, list only):  median {}, p90 {}, max {}  ({series} samples)",
        warm.len(),
        ms(percentile(&warm, 0.5)),
        ms(percentile(&warm, 0.9)),
        ms(percentile(&warm, 1.0))
    );
    println!("  stats?stream=false, one container after another: {}", ms(stats_sequential));
    println!("  stats?stream=false, all containers at once:       {}", ms(stats_parallel));
    println!("  stats?stream=false&one-shot=true, one by one:     {}", ms(stats_one_shot));
    Ok(())
}
