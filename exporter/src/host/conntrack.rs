//! The `conntrack` collector: connection tracking table size and limit from
//! `/proc/sys/net/netfilter`, and the per-CPU counters of
//! `/proc/net/stat/nf_conntrack` summed over CPUs.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::read_u64;
use crate::metrics::Snapshot;

/// Counters of `nf_conntrack` stat we report, with their help texts.
const STATS: [(&str, &str); 8] = [
    ("found", "Number of searched entries which were successful."),
    ("invalid", "Number of packets seen which can not be tracked."),
    ("ignore", "Number of packets seen which are already connected to a conntrack entry."),
    ("insert", "Number of entries inserted into the list."),
    ("insert_failed", "Number of entries for which list insertion was attempted but failed."),
    ("drop", "Number of packets dropped due to conntrack failure."),
    ("early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."),
    ("search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."),
];

/// Parses `/proc/net/stat/nf_conntrack` (a header row, then one row of hex
/// counters per CPU) into the per-column sums, in header order.
pub fn parse_stat(text: &str) -> Result<Vec<(String, u64)>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty file")?.split_ascii_whitespace().collect();
    let mut sums = vec![0u64; header.len()];
    for (n, line) in lines.enumerate() {
        let cols: Vec<&str> = line.split_ascii_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        if cols.len() != header.len() {
            return Err(format!("line {}: {} columns, header has {}", n + 2, cols.len(), header.len()));
        }
        for (sum, c) in sums.iter_mut().zip(&cols) {
            *sum = sum.wrapping_add(u64::from_str_radix(c, 16).map_err(|_| format!("line {}: bad hex {c:?}", n + 2))?);
        }
    }
    Ok(header.into_iter().map(str::to_owned).zip(sums).collect())
}

struct Conntrack(Arc<HostPaths>);

impl HostCollector for Conntrack {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let count = match read_u64(&self.0.proc("sys/net/netfilter/nf_conntrack_count")) {
            Ok(v) => v,
            Err(e) if e.is_not_found() => return Err(Error::NoData("conntrack is not loaded".into())),
            Err(e) => return Err(e),
        };
        out.gauge("node_nf_conntrack_entries", "Number of currently allocated flow entries for connection tracking.", &[], count as f64);
        let max = read_u64(&self.0.proc("sys/net/netfilter/nf_conntrack_max"))?;
        out.gauge("node_nf_conntrack_entries_limit", "Maximum size of connection tracking table.", &[], max as f64);
        let path = self.0.proc("net/stat/nf_conntrack");
        match read_to_string(&path) {
            Ok(text) => {
                let sums = parse_stat(&text).map_err(|d| Error::parse(&path, d))?;
                for (name, help) in STATS {
                    if let Some((_, v)) = sums.iter().find(|(k, _)| k == name) {
                        out.gauge(format!("node_nf_conntrack_stat_{name}"), help, &[], *v as f64);
                    }
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Conntrack(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_columns_over_cpus() {
        let v = parse_stat("entries found invalid\n00000021 00000001 00000003\n00000021 00000000 0000002f\n").unwrap();
        assert_eq!(v, vec![("entries".into(), 0x42), ("found".into(), 1), ("invalid".into(), 50)]);
        assert!(parse_stat("a b\n1\n").is_err());
        assert!(parse_stat("a b\nzz 1\n").is_err());
        assert!(parse_stat("").is_err());
    }
}
