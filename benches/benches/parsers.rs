//! Criterion benches of the host collectors' pure parsers, on node_exporter's
//! fixture files (`testdata/upstream/node_exporter`).
//! `cargo bench -p homelab-benches --bench parsers`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use homelab_exporter::host::{conntrack, cpu, diskstats, filesystem, loadavg, mdadm, meminfo, netstat, pressure, schedstat, sockstat, softnet, stat, textfile};

fn fixture(rel: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/upstream/node_exporter").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parsers(c: &mut Criterion) {
    let stat_text = fixture("proc/stat");
    let cpuinfo = fixture("proc/cpuinfo");
    let meminfo_text = fixture("proc/meminfo");
    let diskstats_text = fixture("proc/diskstats");
    let mdstat = fixture("proc/mdstat");
    let mountinfo = fixture("proc/1/mountinfo");
    let netstat_text = fixture("proc/net/netstat");
    let snmp = fixture("proc/net/snmp");
    let snmp6 = fixture("proc/net/snmp6");
    let sockstat_text = fixture("proc/net/sockstat");
    let softnet_text = fixture("proc/net/softnet_stat");
    let schedstat_text = fixture("proc/schedstat");
    let psi = fixture("proc/pressure/io");
    let nf = fixture("proc/net/stat/nf_conntrack");
    let prom = fixture("textfile/histogram/metrics.prom");
    c.bench_function("loadavg", |b| b.iter(|| loadavg::parse(black_box("0.21 0.37 0.39 1/719 19737\n"))));
    c.bench_function("stat", |b| b.iter(|| stat::parse(black_box(&stat_text))));
    c.bench_function("cpu/stat", |b| b.iter(|| cpu::parse_stat(black_box(&stat_text))));
    c.bench_function("cpu/cpuinfo", |b| b.iter(|| cpu::parse_cpuinfo(black_box(&cpuinfo))));
    c.bench_function("meminfo", |b| b.iter(|| meminfo::parse(black_box(&meminfo_text))));
    c.bench_function("diskstats", |b| b.iter(|| diskstats::parse(black_box(&diskstats_text))));
    c.bench_function("mdstat", |b| b.iter(|| mdadm::parse(black_box(&mdstat))));
    c.bench_function("mountinfo", |b| b.iter(|| filesystem::parse_mountinfo(black_box(&mountinfo))));
    c.bench_function("netstat", |b| b.iter(|| netstat::parse_paired(black_box(&netstat_text))));
    c.bench_function("snmp", |b| b.iter(|| netstat::parse_paired(black_box(&snmp))));
    c.bench_function("snmp6", |b| b.iter(|| netstat::parse_snmp6(black_box(&snmp6))));
    c.bench_function("sockstat", |b| b.iter(|| sockstat::parse(black_box(&sockstat_text))));
    c.bench_function("softnet", |b| b.iter(|| softnet::parse(black_box(&softnet_text))));
    c.bench_function("schedstat", |b| b.iter(|| schedstat::parse(black_box(&schedstat_text))));
    c.bench_function("pressure", |b| b.iter(|| pressure::parse(black_box(&psi))));
    c.bench_function("conntrack", |b| b.iter(|| conntrack::parse_stat(black_box(&nf))));
    c.bench_function("textfile/histogram", |b| b.iter(|| textfile::parse(black_box(&prom))));
}

criterion_group!(benches, parsers);
criterion_main!(benches);
