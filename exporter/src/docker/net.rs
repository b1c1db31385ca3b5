//! A container's network counters from `/proc/<pid>/net/dev` of its first
//! process, which shows the interfaces of the container's network
//! namespace. Needs the host's `/proc` (`--path.procfs`) and the host's PID
//! namespace when the exporter itself runs in a container.

use super::cgroup::BadLine;

/// Counters of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    /// Interface name.
    pub name: String,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Transmitted packets dropped.
    pub tx_dropped: u64,
}

/// Interfaces cAdvisor leaves out of container network metrics (by prefix).
const IGNORED_PREFIXES: [&str; 3] = ["lo", "veth", "docker"];

/// Whether cAdvisor ignores this interface.
pub fn is_ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    IGNORED_PREFIXES.iter().any(|p| lower.starts_with(p))
}

/// Parses `/proc/<pid>/net/dev` with the host collector's parser.
pub fn parse_net_dev(text: &str) -> Result<Vec<Interface>, BadLine> {
    let devices = crate::host::netdev::parse(text).map_err(|e| BadLine { line: e.line, detail: e.detail })?;
    Ok(devices
        .into_iter()
        .map(|(name, values)| Interface {
            name,
            rx_bytes: values[0],
            rx_packets: values[1],
            rx_errors: values[2],
            rx_dropped: values[3],
            tx_bytes: values[8],
            tx_packets: values[9],
            tx_errors: values[10],
            tx_dropped: values[11],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    #[test]
    fn parses_interfaces() {
        let text = format!("{HEAD}    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0\n  eth0: 1234 12 1 2 0 0 0 3 5678 34 4 5 0 0 0 0\n");
        let ifs = parse_net_dev(&text).unwrap();
        assert_eq!(ifs.len(), 2);
        assert_eq!(
            ifs[1],
            Interface { name: "eth0".into(), rx_bytes: 1234, rx_packets: 12, rx_errors: 1, rx_dropped: 2, tx_bytes: 5678, tx_packets: 34, tx_errors: 4, tx_dropped: 5 }
        );
        assert!(is_ignored(&ifs[0].name));
        assert!(!is_ignored("eth0"));
        assert!(is_ignored("veth12ab") && is_ignored("docker0"));
    }

    #[test]
    fn garbled_lines_are_errors() {
        assert_eq!(parse_net_dev("").unwrap(), vec![]);
        assert_eq!(parse_net_dev(HEAD).unwrap(), vec![]);
        let short = format!("{HEAD}eth0: 1 2 3\n");
        assert_eq!(parse_net_dev(&short).unwrap_err().line, 3);
        let word = format!("{HEAD}eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 x\n");
        assert!(parse_net_dev(&word).unwrap_err().detail.contains("\"x\""));
        let long = format!("{HEAD}eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n");
        assert_eq!(parse_net_dev(&long).unwrap_err().line, 3);
        let colon = format!("{HEAD}eth0 1 2\n");
        assert_eq!(parse_net_dev(&colon).unwrap_err().line, 3);
    }
}
