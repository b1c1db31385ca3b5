//! Container usage from cgroup files (v1 and v2) and `/proc/<pid>/net/dev`.
//!
//! The first byte picks a case: the pure parsers on the whole input, or a
//! v1 or v2 cgroup directory whose files are the input's NUL-separated
//! parts (in the order below; a missing part is a missing file), read by
//! the collector's `read_usage`. What it reads, as one container, must
//! encode to valid exposition text.

#![no_main]

use std::sync::{Arc, OnceLock};

use homelab_exporter::docker::cgroup::{self, Version};
use homelab_exporter::docker::emit::{self, Container, Measured};
use homelab_exporter::docker::net;
use homelab_exporter::metrics::Snapshot;
use homelab_fuzz::{check_exposition, parts, text, Tree};
use libfuzzer_sys::fuzz_target;

/// The container's cgroup, relative to the hierarchy.
const REL: &str = "/docker/0123456789abcdef";

/// v1 files: (controller, file).
const V1_FILES: &[(&str, &str)] = &[
    ("cpuacct", "cpuacct.usage"),
    ("cpuacct", "cpuacct.stat"),
    ("cpu", "cpu.cfs_quota_us"),
    ("cpu", "cpu.stat"),
    ("memory", "memory.usage_in_bytes"),
    ("memory", "memory.stat"),
    ("memory", "memory.limit_in_bytes"),
    ("memory", "memory.oom_control"),
    ("blkio", "blkio.bfq.io_service_bytes_recursive"),
    ("blkio", "blkio.bfq.io_serviced_recursive"),
    ("blkio", "blkio.io_service_bytes_recursive"),
    ("blkio", "blkio.throttle.io_service_bytes_recursive"),
    ("blkio", "blkio.throttle.io_serviced_recursive"),
    ("pids", "pids.current"),
    ("pids", "pids.max"),
    ("cpu", "cgroup.procs"),
];

/// v2 files of the container's directory.
const V2_FILES: &[&str] = &[
    "cpu.stat",
    "cpu.max",
    "memory.current",
    "memory.stat",
    "memory.swap.current",
    "memory.max",
    "memory.events",
    "io.stat",
    "pids.current",
    "pids.max",
    "cgroup.procs",
];

fn tree() -> &'static Arc<Tree> {
    static T: OnceLock<Arc<Tree>> = OnceLock::new();
    T.get_or_init(|| Tree::new("cgroup"))
}

fn pure(t: &str) {
    let _ = cgroup::parse_value(t);
    let _ = cgroup::parse_limit(t);
    if let Ok(keyed) = cgroup::parse_keyed(t) {
        let _ = keyed.get("user");
        let _ = keyed.or0("system");
    }
    let _ = cgroup::parse_cfs_quota(t);
    let _ = cgroup::parse_cpu_max(t);
    if let Ok(lines) = cgroup::parse_blkio(t) {
        let devices = cgroup::blkio_devices(&lines, &lines);
        assert!(devices.len() <= lines.len());
    }
    let _ = cgroup::parse_io_stat(t);
    let _ = cgroup::parse_procs(t);
    for version in [Version::V1, Version::V2] {
        if let Some(path) = cgroup::parse_pid_cgroup(t, version) {
            assert!(
                path.starts_with('/') && !path.starts_with("/.."),
                "cgroup path {path:?} leaves the hierarchy"
            );
        }
    }
    let (id, parent) = t.split_once('\n').unwrap_or((t, ""));
    let _ = cgroup::candidate_paths(id, parent);
    if let Ok(ifaces) = net::parse_net_dev(t) {
        for i in &ifaces {
            let _ = net::is_ignored(&i.name);
        }
    }
}

fn read(version: Version, contents: &[&[u8]], net_dev: &str) {
    let tree = tree();
    tree.clear("cg");
    let rel = REL.trim_start_matches('/');
    let files: Vec<String> = match version {
        Version::V1 => V1_FILES
            .iter()
            .map(|(c, f)| format!("cg/{c}/{rel}/{f}"))
            .collect(),
        Version::V2 => {
            tree.write("cg/cgroup.controllers", b"cpu io memory pids\n");
            V2_FILES.iter().map(|f| format!("cg/{rel}/{f}")).collect()
        }
    };
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    tree.write_parts(&files, contents);
    let root = tree.path("cg");
    assert_eq!(cgroup::detect(&root), version);
    assert!(contents.is_empty() || cgroup::exists(&root, version, REL));
    let Ok(usage) = cgroup::read_usage(&root, version, REL, 100) else {
        return;
    };
    if let Some(m) = usage.memory {
        assert!(m.working_set <= m.usage);
    }
    let devices = usage
        .io
        .iter()
        .map(|d| format!("{}:{}", d.major, d.minor))
        .collect();
    let interfaces = net::parse_net_dev(net_dev).unwrap_or_default();
    let container = Container {
        id: "0123456789abcdef".into(),
        name: "fuzz".into(),
        image: "busybox".into(),
        state: "running".into(),
        health: "none".into(),
        measured: Some(Measured {
            cgroup: REL.into(),
            usage,
            devices,
            interfaces,
        }),
        ..Default::default()
    };
    let mut out = Snapshot::new();
    emit::containers(&mut out, &[container], 1_700_000_000.0);
    check_exposition(vec![out]);
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => pure(&text(rest)),
        1 => {
            let all = parts(rest, V1_FILES.len() + 1);
            let (files, net_dev) = split_net(&all, V1_FILES.len());
            read(Version::V1, files, &net_dev);
        }
        _ => {
            let all = parts(rest, V2_FILES.len() + 1);
            let (files, net_dev) = split_net(&all, V2_FILES.len());
            read(Version::V2, files, &net_dev);
        }
    }
});

/// The parts after the cgroup files are the container's `net/dev`.
fn split_net<'a>(all: &'a [&'a [u8]], n: usize) -> (&'a [&'a [u8]], String) {
    if all.len() > n {
        (&all[..n], text(all[n]))
    } else {
        (all, String::new())
    }
}
