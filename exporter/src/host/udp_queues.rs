//! The `udp_queues` collector: memory queued in the kernel for UDP sockets
//! (the sums of the `tx_queue` and `rx_queue` columns of `/proc/net/udp`
//! and `/proc/net/udp6`). A full receive queue drops datagrams (DNS, syslog).

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::Snapshot;

/// Sums (tx_queue, rx_queue) over the sockets of a `/proc/net/udp*` file.
pub fn parse(text: &str) -> Result<(u64, u64), String> {
    let (mut tx, mut rx) = (0u64, 0u64);
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        if f.is_empty() {
            continue;
        }
        let queues = f.get(4).ok_or_else(|| format!("line {}: too few columns", n + 1))?;
        let (t, r) = queues.split_once(':').ok_or_else(|| format!("line {}: bad queue column {queues:?}", n + 1))?;
        let hex = |s: &str| u64::from_str_radix(s, 16).map_err(|_| format!("line {}: bad hex {s:?}", n + 1));
        tx = tx.saturating_add(hex(t)?);
        rx = rx.saturating_add(hex(r)?);
    }
    Ok((tx, rx))
}

struct UdpQueues(Arc<HostPaths>);

impl HostCollector for UdpQueues {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let mut found = false;
        for (file, ip) in [("net/udp", "v4"), ("net/udp6", "v6")] {
            let path = self.0.proc(file);
            let text = match read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            found = true;
            let (tx, rx) = parse(&text).map_err(|d| Error::parse(&path, d))?;
            let help = "Number of allocated memory in the kernel for UDP datagrams in bytes.";
            out.gauge("node_udp_queues", help, &[("queue", "tx"), ("ip", ip)], tx as f64);
            out.gauge("node_udp_queues", help, &[("queue", "rx"), ("ip", ip)], rx as f64);
        }
        if found {
            Ok(())
        } else {
            Err(Error::NoData("no /proc/net/udp".into()))
        }
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(UdpQueues(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_queues_and_refuses_garbage() {
        let head = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        let text = format!("{head}   0: 00000000:0016 00000000:0000 0A 00000015:00000001 00:00000000 00000000 0 0 2740\n   1: 00000000:0017 00000000:0000 0A 00000001:00000002 00:00000000 00000000 0 0 2741\n");
        assert_eq!(super::parse(&text).unwrap(), (0x16, 3));
        assert!(super::parse(&format!("{head}   0: a b c\n")).is_err());
        assert!(super::parse(&format!("{head}   0: a b c zz:00\n")).is_err());
    }
}
