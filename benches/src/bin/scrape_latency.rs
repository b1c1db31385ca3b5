//! The scrape-latency harness: starts homelab-exporter and Debian's
//! prometheus-node-exporter with the same host collectors on loopback (the
//! full default set: every collector node_exporter 1.12 runs by default,
//! from `testdata/upstream/node_exporter/command-line.tsv`, that both
//! binaries have),
//! scrapes them in alternation and writes the figures to `benches/RESULTS.md`.
//!
//! ```sh
//! bash scripts/build-static.sh x86_64-unknown-linux-musl   # what the container ships
//! cargo build --release -p homelab-exporter                 # what `cargo run` builds
//! cargo run --release -p homelab-benches --bin scrape_latency -- [--scrapes 500] [--out benches/RESULTS.md]
//! ```
//! Every build of ours that exists among those two (or each `--ours PATH`,
//! repeatable) runs in the same alternation as node_exporter, so each ratio
//! comes from one run.
//! It also measures the floor: opening and reading the files our exporter
//! reads during one scrape (found with `strace`), and `statfs` of the same
//! mounts, with no parsing or encoding.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// node_exporter 1.12's collectors that run by default (its command line as
/// data in the repository) and that this exporter builds.
fn default_collectors() -> Vec<&'static str> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/upstream/node_exporter/command-line.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let defaults: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("collector\t"))
        .filter_map(|l| l.split_once("\tenabled\t").map(|(name, _)| name))
        .collect();
    homelab_exporter::registry::COLLECTORS.iter().map(|e| e.name).filter(|n| defaults.contains(n)).collect()
}

struct Proc {
    #[allow(dead_code)]
    name: &'static str,
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// The default collectors of ours that `binary` (node_exporter) also has, from its `--help`.
fn shared_collectors(binary: &str) -> Vec<&'static str> {
    let help = Command::new(binary).arg("--help").output().map(|o| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))).unwrap_or_default();
    default_collectors().into_iter().filter(|c| help.contains(&format!("collector.{c} "))).collect()
}

fn start(name: &'static str, binary: &str, textfile_dir: &str, collectors: &[&str]) -> Result<Proc, String> {
    let port = free_port();
    let mut cmd = Command::new(binary);
    cmd.arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--collector.disable-defaults")
        .arg(format!("--collector.textfile.directory={textfile_dir}"))
        .args(collectors.iter().map(|c| format!("--collector.{c}")))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = cmd.spawn().map_err(|e| format!("starting {binary}: {e}"))?;
    let p = Proc { name, child, port };
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(p);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{binary} did not listen on {port}"))
}

/// One scrape over a fresh connection; returns (latency, body bytes, status).
fn scrape(port: u16) -> Result<(Duration, usize, u16), String> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::with_capacity(256 * 1024);
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let took = t0.elapsed();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no header end")?;
    let status = std::str::from_utf8(&raw[9..12]).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((took, raw.len() - split - 4, status))
}

fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rfind(')').map(|i| &stat[i + 1..]).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn status_kb(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

#[derive(Default, Clone)]
struct Figures {
    seq: Vec<Duration>,
    size: usize,
    cpu_per_1000: f64,
    rss_steady_kb: f64,
    rss_peak_kb: f64,
    conc: Vec<(usize, Vec<Duration>, usize, usize)>, // clients, latencies, ok, 503s
}

fn concurrent(port: u16, clients: usize, per_client: usize) -> (Vec<Duration>, usize, usize) {
    let handles: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || {
                let mut out = Vec::new();
                for _ in 0..per_client {
                    out.push(scrape(port));
                }
                out
            })
        })
        .collect();
    let mut lat = Vec::new();
    let (mut ok, mut busy) = (0, 0);
    for h in handles {
        for r in h.join().unwrap_or_default() {
            match r {
                Ok((d, _, 200)) => {
                    ok += 1;
                    lat.push(d);
                }
                Ok((d, _, 503)) => {
                    busy += 1;
                    lat.push(d);
                }
                _ => {}
            }
        }
    }
    lat.sort();
    (lat, ok, busy)
}

/// Files and mounts our exporter touches in one scrape, found with strace.
fn traced_paths(pid: u32, port: u16) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    let log = std::env::temp_dir().join(format!("scrape-trace-{pid}.txt"));
    let mut tracer = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=open,openat,statfs", "-o"])
        .arg(&log)
        .args(["-p", &pid.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("strace (Debian package strace) is needed for the floor: {e}"))?;
    std::thread::sleep(Duration::from_millis(500));
    scrape(port)?;
    std::thread::sleep(Duration::from_millis(200));
    let _ = tracer.kill();
    let _ = tracer.wait();
    let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&log);
    let (mut files, mut mounts) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let quoted = line.split('"').nth(1).map(PathBuf::from);
        let Some(path) = quoted else { continue };
        if line.contains("statfs(") && !line.contains("= -1") {
            mounts.push(path);
        } else if (line.contains("openat(") || line.contains("open(")) && !line.contains("= -1") && !line.contains("O_DIRECTORY") {
            files.push(path);
        }
    }
    Ok((files, mounts))
}

fn floor(files: &[PathBuf], mounts: &[PathBuf], rounds: usize) -> Duration {
    let mut times = Vec::with_capacity(rounds);
    let mut buf = Vec::with_capacity(1 << 20);
    for _ in 0..rounds {
        let t0 = Instant::now();
        for f in files {
            buf.clear();
            if let Ok(fh) = std::fs::File::open(f) {
                // Through `take`: `File::read_to_end` would first ask
                // `statx` and `lseek` for the size; the floor is open, read
                // and close only.
                let _ = fh.take(u64::MAX).read_to_end(&mut buf);
            }
        }
        for m in mounts {
            let _ = rustix::fs::statfs(m);
        }
        times.push(t0.elapsed());
    }
    times.sort();
    percentile(&times, 0.5)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let mut scrapes = 500usize;
    let mut out = PathBuf::from("benches/RESULTS.md");
    let mut ours_bins: Vec<String> = Vec::new();
    let mut theirs_bin = "/usr/bin/prometheus-node-exporter".to_owned();
    // Whose collector list both run; node_exporter's, also when `--theirs`
    // is another build of ours (an A/B comparison of two versions).
    let mut collectors_from = "/usr/bin/prometheus-node-exporter".to_owned();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--scrapes" => scrapes = it.next().and_then(|v| v.parse().ok()).unwrap_or(scrapes),
            "--out" => out = it.next().map(PathBuf::from).unwrap_or(out),
            "--ours" => ours_bins.extend(it.next().cloned()),
            "--theirs" => theirs_bin = it.next().cloned().unwrap_or(theirs_bin),
            "--collectors-from" => collectors_from = it.next().cloned().unwrap_or(collectors_from),
            other => {
                eprintln!("unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    if ours_bins.is_empty() {
        ours_bins = DEFAULT_BUILDS.iter().map(|(p, _)| (*p).to_owned()).filter(|p| std::path::Path::new(p).exists()).collect();
    }
    if ours_bins.is_empty() {
        eprintln!("no build of homelab-exporter found (bash scripts/build-static.sh x86_64-unknown-linux-musl; cargo build --release -p homelab-exporter)");
        std::process::exit(1);
    }
    let textfile = std::env::temp_dir().join("scrape-latency-textfile");
    let _ = std::fs::create_dir_all(&textfile);
    let textfile = textfile.to_string_lossy().to_string();
    let collectors = shared_collectors(&collectors_from);
    if collectors.is_empty() {
        eprintln!("{collectors_from} not found or lists none of our collectors (install Debian's prometheus-node-exporter)");
        std::process::exit(1);
    }
    let mut procs = Vec::new();
    for bin in &ours_bins {
        match start("homelab-exporter", bin, &textfile, &collectors) {
            Ok(p) => procs.push(p),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    match start("node_exporter", &theirs_bin, &textfile, &collectors) {
        Ok(p) => procs.push(p),
        Err(e) => {
            eprintln!("{e} (install Debian's prometheus-node-exporter)");
            std::process::exit(1);
        }
    }
    let n = procs.len();
    let theirs = n - 1;
    // Warm all: caches, lazily started threads, page cache of /proc.
    for _ in 0..20 {
        for p in &procs {
            let _ = scrape(p.port);
        }
    }
    let mut figs = vec![Figures::default(); n];
    let cpu0: Vec<f64> = procs.iter().map(|p| cpu_seconds(p.child.id())).collect();
    for _ in 0..scrapes {
        for (i, p) in procs.iter().enumerate() {
            if let Ok((d, size, _)) = scrape(p.port) {
                figs[i].seq.push(d);
                figs[i].size = size;
            }
        }
    }
    for (i, p) in procs.iter().enumerate() {
        figs[i].cpu_per_1000 = (cpu_seconds(p.child.id()) - cpu0[i]) / scrapes as f64 * 1000.0;
        figs[i].rss_steady_kb = status_kb(p.child.id(), "VmRSS:");
        figs[i].seq.sort();
    }
    for clients in [8usize, 50] {
        let per = (200 / clients).max(4);
        for (i, p) in procs.iter().enumerate() {
            let (lat, ok, busy) = concurrent(p.port, clients, per);
            figs[i].conc.push((clients, lat, ok, busy));
        }
    }
    for (i, p) in procs.iter().enumerate() {
        figs[i].rss_peak_kb = status_kb(p.child.id(), "VmHWM:");
    }
    let floor_line = match traced_paths(procs[0].child.id(), procs[0].port) {
        Ok((files, mounts)) if !files.is_empty() => {
            let f = floor(&files, &mounts, scrapes.min(500));
            Some((f, files.len(), mounts.len()))
        }
        Ok(_) => {
            eprintln!("floor not measured: strace saw no file opened");
            None
        }
        Err(e) => {
            eprintln!("floor not measured: {e}");
            None
        }
    };

    let machine = machine_description();
    let names: Vec<String> = ours_bins.iter().map(|b| build_name(b)).collect();
    let mut md = String::new();
    md.push_str("# Scrape latency: homelab-exporter against node_exporter\n\n");
    md.push_str(&format!("Machine: {machine}\n\n"));
    md.push_str("Command (from the repository root):\n\n```sh\nbash scripts/build-static.sh x86_64-unknown-linux-musl\ncargo build --release -p homelab-exporter\n");
    md.push_str(&format!("cargo run --release -p homelab-benches --bin scrape_latency -- --scrapes {scrapes}\n```\n\n"));
    md.push_str(&format!(
        "All exporters run the same host collectors ({}) on loopback, are warmed with 20 scrapes each, then scraped in alternation: {scrapes} sequential scrapes each, then 8 and 50 concurrent clients. Each scrape opens a new connection. Latency is measured by the client; CPU from `/proc/<pid>/stat` (utime+stime) over the sequential phase; RSS from `/proc/<pid>/status`. Builds of ours: {}.\n\n",
        collectors.join(", "),
        ours_bins.iter().zip(&names).map(|(b, n)| format!("{n} (`{b}`)")).collect::<Vec<_>>().join(", ")
    ));
    let version = Command::new(&theirs_bin).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").to_owned() + String::from_utf8_lossy(&o.stderr).lines().next().unwrap_or("")).unwrap_or_default();
    md.push_str(&format!("node_exporter: {version}\n\n"));
    md.push_str("| figure |");
    for name in &names {
        md.push_str(&format!(" {name} | ratio |"));
    }
    md.push_str(" node_exporter |\n|---|");
    md.push_str(&"---|---|".repeat(names.len()));
    md.push_str("---|\n");
    let row = |md: &mut String, name: &str, vals: &[f64], unit: &str| {
        md.push_str(&format!("| {name} |"));
        let b = vals[vals.len() - 1];
        for a in &vals[..vals.len() - 1] {
            let ratio = if b > 0.0 { format!("{:.2}", a / b) } else { "–".into() };
            md.push_str(&format!(" {a:.2} {unit} | {ratio} |"));
        }
        md.push_str(&format!(" {b:.2} {unit} |\n"));
    };
    let med = |f: &Figures| percentile(&f.seq, 0.5).as_secs_f64() * 1000.0;
    let p99 = |f: &Figures| percentile(&f.seq, 0.99).as_secs_f64() * 1000.0;
    let all = |f: &dyn Fn(&Figures) -> f64| figs.iter().map(f).collect::<Vec<f64>>();
    row(&mut md, "sequential median latency", &all(&med), "ms");
    row(&mut md, "sequential p99 latency", &all(&p99), "ms");
    row(&mut md, "CPU per 1000 scrapes", &all(&|f| f.cpu_per_1000), "s");
    row(&mut md, "steady RSS", &all(&|f| f.rss_steady_kb / 1024.0), "MiB");
    row(&mut md, "peak RSS", &all(&|f| f.rss_peak_kb / 1024.0), "MiB");
    row(&mut md, "response size", &all(&|f| f.size as f64 / 1024.0), "KiB");
    for k in 0..figs[theirs].conc.len() {
        let c = figs[theirs].conc[k].0;
        row(&mut md, &format!("{c} clients: median latency"), &all(&|f| percentile(&f.conc[k].1, 0.5).as_secs_f64() * 1000.0), "ms");
        row(&mut md, &format!("{c} clients: p99 latency"), &all(&|f| percentile(&f.conc[k].1, 0.99).as_secs_f64() * 1000.0), "ms");
        md.push_str(&format!("| {c} clients: answered 200 / 503 |"));
        for f in &figs[..theirs] {
            md.push_str(&format!(" {} / {} | |", f.conc[k].2, f.conc[k].3));
        }
        md.push_str(&format!(" {} / {} |\n", figs[theirs].conc[k].2, figs[theirs].conc[k].3));
    }
    if let Some((f, nfiles, nmounts)) = floor_line {
        let floor_ms = (f.as_secs_f64() * 1000.0).max(1e-9);
        let multiples: Vec<String> = figs[..theirs].iter().zip(&names).map(|(fg, n)| format!("{n} {:.2}×", med(fg) / floor_ms)).collect();
        md.push_str(&format!(
            "\nFloor: opening and reading the {nfiles} files and `statfs` of the {nmounts} mounts that homelab-exporter touches in one scrape (traced with strace), no parsing or encoding: median {} ms. Our sequential median as a multiple of it (this includes the HTTP round trip on a new connection): {}.\n",
            ms(f),
            multiples.join(", ")
        ));
    }
    print!("{md}");
    if let Err(e) = std::fs::write(&out, &md) {
        eprintln!("writing {}: {e}", out.display());
    }
}

/// The builds of ours the harness runs when no `--ours` is given, with
/// their names in the table: the static build first (what the container
/// and the release binaries are), then the glibc build `cargo run` makes.
const DEFAULT_BUILDS: &[(&str, &str)] = &[
    ("target/x86_64-unknown-linux-musl/release/homelab-exporter", "static (musl)"),
    ("target/release/homelab-exporter", "glibc"),
];

fn build_name(path: &str) -> String {
    DEFAULT_BUILDS.iter().find(|(p, _)| *p == path).map(|(_, n)| (*n).to_owned()).unwrap_or_else(|| {
        format!("ours ({path})")
    })
}

fn machine_description() -> String {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cpus} CPUs ({model}), {mem:.0} GiB, Linux {}, shared and noisy", kernel.trim())
}
