//! Criterion benches of the parsers behind the network and container
//! collectors: NUT's `LIST VAR` reply, cgroup v1/v2 files, the Docker
//! Engine API's container list and inspect JSON, and Proxmox VE API
//! bodies; plus the /proc formats `parsers` does not cover. Inputs are the
//! repository's own fixtures and node_exporter's fixture tree.
//! `cargo bench -p homelab-benches --bench sources`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use homelab_exporter::docker::{api as docker_api, cgroup, net};
use homelab_exporter::host::{arp, interrupts, netdev, vmstat};
use homelab_exporter::nut::parse as nut;
use homelab_exporter::proxmox::api as pve;

fn repo_fixture(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../exporter/tests/fixtures").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn oracle(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/upstream/node_exporter").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A `LIST VAR` reply of one UPS with `n` variables, as upsd sends it.
fn list_var(n: usize) -> String {
    let mut s = String::from("BEGIN LIST VAR ups1\n");
    for i in 0..n {
        s.push_str(&format!("VAR ups1 ups.var{i}.voltage \"{}.5\"\n", 200 + i));
    }
    s.push_str("VAR ups1 ups.status \"OL CHRG\"\nVAR ups1 device.mfr \"Eaton \\\"Ellipse\\\"\"\nEND LIST VAR ups1\n");
    s
}

/// The Engine API's container list with `n` containers.
fn container_list(n: usize) -> Vec<u8> {
    let one = |i: usize| {
        format!(
            r#"{{"Id":"{i:064x}","Names":["/app{i}"],"Image":"ghcr.io/x/app:1","ImageID":"sha256:{i:064x}","Command":"/app","Created":1700000000,"Ports":[],"Labels":{{"com.docker.compose.project":"lab","com.docker.compose.service":"app{i}","org.opencontainers.image.version":"1"}},"State":"running","Status":"Up 2 hours (healthy)","HostConfig":{{"NetworkMode":"bridge"}},"NetworkSettings":{{"Networks":{{}}}},"Mounts":[]}}"#
        )
    };
    format!("[{}]", (0..n).map(one).collect::<Vec<_>>().join(",")).into_bytes()
}

fn sources(c: &mut Criterion) {
    let reply = list_var(60);
    c.bench_function("nut/list_var_60", |b| {
        b.iter(|| {
            let mut n = 0;
            for line in black_box(&reply).lines() {
                if line.starts_with("VAR ") {
                    n += nut::parse_var_line("ups1", line).map(|(k, v)| k.len() + v.len()).unwrap_or(0);
                }
            }
            n
        })
    });
    c.bench_function("nut/list_ups", |b| b.iter(|| nut::parse_ups_line(black_box("UPS rack \"Rack UPS, 1500 VA\""))));

    let v1 = "v1/memory/docker/65c7ac6b94ff6caf93079e3ff99faa6577f033f8d1802c2b3f341e163fe76ea1";
    let memory_stat = repo_fixture(&format!("cgroup/{v1}/memory.stat"));
    // The captured blkio file is "Total 0" (no throttled IO on that host); a
    // busy container's has these lines per device.
    let blkio = "8:16 Read 1459200\n8:16 Write 314773504\n8:16 Sync 3145728\n8:16 Async 313087976\n8:16 Discard 0\n8:16 Total 316232704\n8:0 Read 90430464\n8:0 Write 299008000\n8:0 Sync 0\n8:0 Async 389438464\n8:0 Discard 0\n8:0 Total 389438464\nTotal 705671168\n";
    let cpu_stat = repo_fixture("cgroup/v1/cpu/docker/65c7ac6b94ff6caf93079e3ff99faa6577f033f8d1802c2b3f341e163fe76ea1/cpu.stat");
    let proc_cgroup = repo_fixture("cgroup/v1/proc/27529/cgroup");
    let net_dev = repo_fixture("cgroup/v1/proc/27529/net/dev");
    c.bench_function("cgroup/v1_memory_stat", |b| b.iter(|| cgroup::parse_keyed(black_box(&memory_stat)).map(|k| k.0.len())));
    c.bench_function("cgroup/v1_blkio", |b| b.iter(|| cgroup::parse_blkio(black_box(blkio)).map(|v| v.len())));
    c.bench_function("cgroup/v1_cpu_stat", |b| b.iter(|| cgroup::parse_keyed(black_box(&cpu_stat)).map(|k| k.0.len())));
    c.bench_function("cgroup/pid_cgroup", |b| b.iter(|| cgroup::parse_pid_cgroup(black_box(&proc_cgroup), cgroup::Version::V1)));
    c.bench_function("cgroup/net_dev", |b| b.iter(|| net::parse_net_dev(black_box(&net_dev)).map(|v| v.len())));
    let io_stat = "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021\n";
    c.bench_function("cgroup/v2_io_stat", |b| b.iter(|| cgroup::parse_io_stat(black_box(io_stat)).map(|v| v.len())));

    let list = container_list(30);
    c.bench_function("docker/list_30", |b| b.iter(|| docker_api::parse_list(black_box(&list)).map(|v| v.len())));
    let inspect = repo_fixture("cgroup/v1/inspect.json");
    c.bench_function("docker/inspect", |b| b.iter(|| docker_api::parse_inspect(black_box(inspect.as_bytes())).is_ok()));

    let resources = repo_fixture("proxmox/cluster/resources.json");
    c.bench_function("proxmox/cluster_resources", |b| b.iter(|| pve::decode::<Vec<pve::Resource>>(black_box(resources.as_bytes())).map(|v| v.len())));
    let content = repo_fixture("proxmox/nodes/pve1/storage/pbs/content.json");
    c.bench_function("proxmox/storage_content", |b| b.iter(|| pve::decode::<Vec<pve::Content>>(black_box(content.as_bytes())).map(|v| v.len())));
    let tasks = repo_fixture("proxmox/nodes/pve1/tasks.json");
    c.bench_function("proxmox/tasks", |b| b.iter(|| pve::decode::<Vec<pve::Task>>(black_box(tasks.as_bytes())).map(|v| v.len())));

    let netdev_text = repo_fixture("cgroup/v1/proc/27529/net/dev");
    let vmstat_text = oracle("proc/vmstat");
    let arp_text = oracle("proc/net/arp");
    let interrupts_text = oracle("proc/interrupts");
    c.bench_function("netdev", |b| b.iter(|| netdev::parse(black_box(&netdev_text)).map(|v| v.len())));
    c.bench_function("vmstat", |b| b.iter(|| vmstat::parse(black_box(&vmstat_text), &|_| true).map(|v| v.len())));
    c.bench_function("arp", |b| b.iter(|| arp::parse(black_box(&arp_text)).map(|v| v.len())));
    c.bench_function("interrupts", |b| b.iter(|| interrupts::parse(black_box(&interrupts_text)).map(|v| v.len())));
}

criterion_group!(benches, sources);
criterion_main!(benches);
