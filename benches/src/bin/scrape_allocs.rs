//! Heap allocations per scrape, per host collector and for merging and
//! encoding, counted by a global allocator that wraps the system one.
//!
//! ```sh
//! cargo run --release -p homelab-benches --bin scrape_allocs -- [--scrapes 200]
//! ```
//! Each collector's `gather` runs alone on this machine's `/proc` and
//! `/sys` (after 5 warm-up calls), so the counts are its own. Then all
//! their snapshots go through `merge` and `encode` as a scrape's do. The
//! figures are the mean per call; allocations, not time: the allocator's
//! share of a scrape's CPU is what `perf` showed to matter, and a count is
//! the same on a noisy machine.

use std::time::{Duration, Instant};

use homelab_exporter::collector::{Collector, Scrape};
use homelab_exporter::encode::{self, Format};
use homelab_exporter::metrics::Snapshot;
use homelab_exporter::registry::{parse_settings, COLLECTORS};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Allocations (reallocations included) and bytes asked for so far.
fn counters() -> (u64, u64) {
    let s = GLOBAL.stats();
    ((s.allocations + s.reallocations) as u64, (s.bytes_allocated + s.bytes_reallocated.max(0) as usize) as u64)
}

/// The host collectors the scrape-latency harness runs on both exporters.
const HOST: &[&str] = &[
    "arp", "udp_queues", "conntrack", "cpu", "cpufreq", "diskstats", "entropy", "filefd", "filesystem", "hwmon", "loadavg",
    "mdadm", "meminfo", "netclass", "netdev", "netstat", "os", "powersupplyclass", "pressure", "schedstat", "sockstat",
    "softnet", "stat", "textfile", "thermal_zone", "time", "timex", "uname", "vmstat", "watchdog",
];

struct Row {
    name: &'static str,
    samples: usize,
    allocs: f64,
    bytes: f64,
    micros: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scrapes: usize = args
        .iter()
        .position(|a| a == "--scrapes")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(200)
        .max(1);
    let textfiles = std::env::temp_dir().join(format!("scrape-allocs-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&textfiles);
    let mut rows = Vec::new();
    let mut snapshots = Vec::new();
    for name in HOST {
        let settings = match parse_settings(&[
            "--collector.disable-defaults".to_owned(),
            format!("--collector.{name}"),
            format!("--collector.textfile.directory={}", textfiles.display()),
        ]) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{name}: {e}");
                continue;
            }
        };
        let Some(entry) = COLLECTORS.iter().find(|e| e.name == *name) else { continue };
        let collector = match (entry.build)(&settings) {
            Ok(Some(Collector::Host(c))) => c,
            Ok(_) => continue,
            Err(e) => {
                eprintln!("{name}: {e}");
                continue;
            }
        };
        let gather = |out: &mut Snapshot| {
            let scrape = Scrape { deadline: Instant::now() + Duration::from_secs(10) };
            collector.gather(&scrape, out).is_ok()
        };
        for _ in 0..5 {
            gather(&mut Snapshot::new());
        }
        let (a0, b0) = counters();
        let t0 = Instant::now();
        let mut ok = true;
        for _ in 0..scrapes {
            let mut out = Snapshot::new();
            ok &= gather(&mut out);
        }
        let micros = t0.elapsed().as_secs_f64() * 1e6 / scrapes as f64;
        let (a1, b1) = counters();
        let mut last = Snapshot::new();
        gather(&mut last);
        rows.push(Row {
            name: if ok { name } else { leak_failed(name) },
            samples: last.sample_count(),
            allocs: (a1 - a0) as f64 / scrapes as f64,
            bytes: (b1 - b0) as f64 / scrapes as f64,
            micros,
        });
        snapshots.push(last);
    }
    let _ = std::fs::remove_dir(&textfiles);

    // Merge and encode, as the server does with a scrape's snapshots.
    let (a0, b0) = counters();
    let t0 = Instant::now();
    let mut body_len = 0;
    for _ in 0..scrapes {
        let families = encode::merge(snapshots.clone());
        let mut body = Vec::with_capacity(64 * 1024);
        encode::encode(&families, Format::Text, &mut body);
        body_len = body.len();
    }
    let micros = t0.elapsed().as_secs_f64() * 1e6 / scrapes as f64;
    let (a1, b1) = counters();
    // The clone is the collectors' work again; take it out.
    let (c0, d0) = counters();
    for _ in 0..scrapes {
        drop(snapshots.clone());
    }
    let (c1, d1) = counters();
    let merge_allocs = (a1 - a0).saturating_sub(c1 - c0) as f64 / scrapes as f64;
    let merge_bytes = (b1 - b0).saturating_sub(d1 - d0) as f64 / scrapes as f64;

    rows.sort_by(|a, b| b.allocs.total_cmp(&a.allocs));
    println!("| collector | samples | allocations / gather | bytes / gather | µs / gather |");
    println!("|---|---|---|---|---|");
    let (mut ta, mut tb, mut ts) = (0.0, 0.0, 0);
    for r in &rows {
        println!("| {} | {} | {:.0} | {:.0} | {:.1} |", r.name, r.samples, r.allocs, r.bytes, r.micros);
        ta += r.allocs;
        tb += r.bytes;
        ts += r.samples;
    }
    println!("| all collectors | {ts} | {ta:.0} | {tb:.0} | |");
    println!("| merge + encode (text, {body_len} bytes) | | {merge_allocs:.0} | {merge_bytes:.0} | {micros:.1} (with clone) |");
}

/// The row name of a collector whose gather failed here.
fn leak_failed(name: &str) -> &'static str {
    Box::leak(format!("{name} (failed)").into_boxed_str())
}
