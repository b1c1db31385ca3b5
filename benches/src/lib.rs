//! Benchmarks and the scrape-latency harness for homelab-exporter (not written yet).
