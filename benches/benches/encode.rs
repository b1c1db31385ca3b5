//! Criterion benches of encoding: merge + text 0.0.4, OpenMetrics, and gzip
//! of the text, at 1k and 10k series.
//! `cargo bench -p homelab-benches --bench encode`
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::io::Write;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use homelab_exporter::encode::{encode, merge, Format};
use homelab_exporter::metrics::{Kind, Snapshot};

/// `n` series in families of 20, with two labels each, like a host's.
fn snapshot(n: usize) -> Snapshot {
    let mut s = Snapshot::new();
    for f in 0..n / 20 {
        let fam = s.family(format!("node_bench_family_{f}_total"), "A family for benchmarks.", Kind::Counter);
        for i in 0..20 {
            fam.add(&[("device", &format!("sd{i}")), ("mode", "read")], (f * 1000 + i) as f64 * 1.5);
        }
    }
    s
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    for n in [1_000usize, 10_000] {
        group.bench_with_input(BenchmarkId::new("merge+text", n), &n, |b, &n| {
            b.iter_batched(|| vec![snapshot(n)], |snaps| {
                let mut out = Vec::with_capacity(n * 64);
                encode(&merge(snaps), Format::Text, &mut out);
                black_box(out.len())
            }, criterion::BatchSize::LargeInput)
        });
        let families = merge(vec![snapshot(n)]);
        group.bench_with_input(BenchmarkId::new("text", n), &families, |b, f| {
            b.iter(|| {
                let mut out = Vec::with_capacity(n * 64);
                encode(black_box(f), Format::Text, &mut out);
                out.len()
            })
        });
        group.bench_with_input(BenchmarkId::new("openmetrics", n), &families, |b, f| {
            b.iter(|| {
                let mut out = Vec::with_capacity(n * 64);
                encode(black_box(f), Format::OpenMetrics, &mut out);
                out.len()
            })
        });
        let mut text = Vec::new();
        encode(&families, Format::Text, &mut text);
        group.bench_with_input(BenchmarkId::new("gzip", n), &text, |b, t| {
            b.iter(|| {
                let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(t.len() / 4), flate2::Compression::fast());
                enc.write_all(black_box(t)).unwrap();
                enc.finish().unwrap().len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
