//! The `ipvs` collector: the kernel's IP Virtual Server load balancer
//! (what kube-proxy's IPVS mode and keepalived use): totals from
//! `/proc/net/ip_vs_stats` and each backend's connections and weight from
//! `/proc/net/ip_vs`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// Every backend label, in the order node_exporter gives them.
const ALL_LABELS: [&str; 6] = ["local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"];

/// Flags of the `ipvs` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Comma separated list for IPVS backend stats labels.
    #[arg(long = "collector.ipvs.backend-labels", default_value = "local_address,local_port,remote_address,remote_port,proto,local_mark")]
    pub ipvs_backend_labels: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { ipvs_backend_labels: ALL_LABELS.join(",") }
    }
}

/// The labels named in the flag, in node_exporter's order; backends that
/// differ only in the labels left out are summed.
pub fn parse_labels(flag: &str) -> Result<Vec<&'static str>, String> {
    let asked: Vec<&str> = flag.split(',').filter(|l| !l.is_empty()).collect();
    let mut unknown: Vec<&str> = asked.iter().copied().filter(|l| !ALL_LABELS.contains(l)).collect();
    if !unknown.is_empty() {
        unknown.sort_unstable();
        unknown.dedup();
        return Err(format!("unknown IPVS backend labels: {:?}", unknown.join(", ")));
    }
    Ok(ALL_LABELS.iter().copied().filter(|l| asked.contains(l)).collect())
}

/// The totals of `/proc/net/ip_vs_stats`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Connections made.
    pub connections: u64,
    /// Packets in.
    pub incoming_packets: u64,
    /// Packets out.
    pub outgoing_packets: u64,
    /// Bytes in.
    pub incoming_bytes: u64,
    /// Bytes out.
    pub outgoing_bytes: u64,
}

/// Parses `/proc/net/ip_vs_stats`: two heading lines, then the five
/// hexadecimal totals (the rates below them are not read).
pub fn parse_totals(text: &str) -> Result<Totals, String> {
    let mut lines = text.splitn(4, '\n');
    let (Some(_), Some(_), Some(line), Some(_)) = (lines.next(), lines.next(), lines.next(), lines.next()) else {
        return Err("too short: no totals line".into());
    };
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    let [c, ip, op, ib, ob] = fields.as_slice() else {
        return Err(format!("line 3: expected 5 fields, got {}", fields.len()));
    };
    let hex = |s: &str| u64::from_str_radix(s, 16).map_err(|_| format!("line 3: {s:?} is not a hexadecimal counter"));
    Ok(Totals { connections: hex(c)?, incoming_packets: hex(ip)?, outgoing_packets: hex(op)?, incoming_bytes: hex(ib)?, outgoing_bytes: hex(ob)? })
}

/// One real server of one virtual service, from `/proc/net/ip_vs`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Backend {
    /// The virtual address; empty for a firewall-mark service.
    pub local_address: String,
    /// The virtual port; 0 for a firewall-mark service.
    pub local_port: u16,
    /// The real server's address.
    pub remote_address: String,
    /// The real server's port.
    pub remote_port: u16,
    /// `TCP`, `UDP`, `SCTP` or `FWM`.
    pub proto: String,
    /// The firewall mark (hexadecimal, as the kernel prints it); empty
    /// for an address service.
    pub local_mark: String,
    /// Weight.
    pub weight: u64,
    /// Active connections.
    pub active: u64,
    /// Inactive connections.
    pub inactive: u64,
}

impl Backend {
    fn label(&self, name: &str) -> String {
        match name {
            "local_address" => self.local_address.clone(),
            "local_port" => self.local_port.to_string(),
            "remote_address" => self.remote_address.clone(),
            "remote_port" => self.remote_port.to_string(),
            "proto" => self.proto.clone(),
            _ => self.local_mark.clone(),
        }
    }
}

/// How Go prints an address: IPv4-mapped IPv6 addresses as IPv4.
fn show(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Parses the kernel's `ADDR:PORT`: `C0A80016:0CEA` (IPv4 in hex) or
/// `[2620:0:...:1]:0050` (IPv6 in full, 39 characters between brackets).
pub fn parse_ip_port(s: &str) -> Result<(String, u16), String> {
    let ip = match s.len() {
        13 => {
            let hex = s.get(..8).and_then(|h| u32::from_str_radix(h, 16).ok()).ok_or_else(|| format!("bad IPv4 address in {s:?}"))?;
            IpAddr::V4(Ipv4Addr::from(hex))
        }
        46 => {
            let v6: Ipv6Addr = s.get(1..40).and_then(|a| a.parse().ok()).ok_or_else(|| format!("bad IPv6 address in {s:?}"))?;
            IpAddr::V6(v6)
        }
        _ => return Err(format!("unexpected address:port {s:?}")),
    };
    let port = s.get(s.len() - 4..).and_then(|p| u16::from_str_radix(p, 16).ok()).ok_or_else(|| format!("bad port in {s:?}"))?;
    Ok((show(ip), port))
}

/// Parses `/proc/net/ip_vs`: a service line (`TCP ADDR:PORT sched`,
/// `FWM MARK sched`) followed by its `-> ADDR:PORT fwd weight active
/// inactive` lines.
pub fn parse_backends(text: &str) -> Result<Vec<Backend>, String> {
    let mut out = Vec::new();
    let (mut proto, mut mark, mut address, mut port) = (String::new(), String::new(), String::new(), 0u16);
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let (Some(&first), second) = (f.first(), f.get(1).copied()) else { continue };
        if first == "IP" || first == "Prot" || second == Some("RemoteAddress:Port") {
            continue;
        }
        match (first, second) {
            ("TCP" | "UDP" | "SCTP", Some(addr)) => {
                proto = first.to_owned();
                mark.clear();
                (address, port) = parse_ip_port(addr).map_err(at)?;
            }
            ("FWM", Some(m)) => {
                proto = first.to_owned();
                mark = m.to_owned();
                address.clear();
                port = 0;
            }
            ("->", Some(addr)) if f.len() >= 6 => {
                let (remote_address, remote_port) = parse_ip_port(addr).map_err(at)?;
                let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok()).ok_or_else(|| at(format!("field {} is not an unsigned integer", i + 1)));
                out.push(Backend {
                    local_address: address.clone(),
                    local_port: port,
                    remote_address,
                    remote_port,
                    proto: proto.clone(),
                    local_mark: mark.clone(),
                    weight: num(3)?,
                    active: num(4)?,
                    inactive: num(5)?,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

struct Ipvs {
    paths: Arc<HostPaths>,
    labels: Vec<&'static str>,
}

impl HostCollector for Ipvs {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let stats_path = self.paths.proc("net/ip_vs_stats");
        let text = match read_to_string(&stats_path) {
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /proc/net/ip_vs_stats: the ip_vs module is not loaded".into())),
            other => other?,
        };
        let t = parse_totals(&text).map_err(|d| Error::parse(&stats_path, d))?;
        out.counter("node_ipvs_connections_total", "The total number of connections made.", &[], t.connections as f64);
        out.counter("node_ipvs_incoming_packets_total", "The total number of incoming packets.", &[], t.incoming_packets as f64);
        out.counter("node_ipvs_outgoing_packets_total", "The total number of outgoing packets.", &[], t.outgoing_packets as f64);
        out.counter("node_ipvs_incoming_bytes_total", "The total amount of incoming data.", &[], t.incoming_bytes as f64);
        out.counter("node_ipvs_outgoing_bytes_total", "The total amount of outgoing data.", &[], t.outgoing_bytes as f64);

        let path = self.paths.proc("net/ip_vs");
        let backends = parse_backends(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        // Backends that differ only in labels left out are summed.
        let mut sums: BTreeMap<Vec<String>, [u64; 3]> = BTreeMap::new();
        for b in &backends {
            let key = self.labels.iter().map(|l| b.label(l)).collect();
            let s = sums.entry(key).or_default();
            s[0] = s[0].wrapping_add(b.active);
            s[1] = s[1].wrapping_add(b.inactive);
            s[2] = s[2].wrapping_add(b.weight);
        }
        const FAMILIES: [(&str, &str); 3] = [
            ("node_ipvs_backend_connections_active", "The current active connections by local and remote address."),
            ("node_ipvs_backend_connections_inactive", "The current inactive connections by local and remote address."),
            ("node_ipvs_backend_weight", "The current backend weight by local and remote address."),
        ];
        for (i, (name, help)) in FAMILIES.iter().enumerate() {
            let fam = out.family(*name, *help, Kind::Gauge);
            for (values, s) in &sums {
                let labels: Vec<(&'static str, &str)> = self.labels.iter().copied().zip(values.iter().map(String::as_str)).collect();
                fam.add(&labels, s.get(i).copied().unwrap_or_default() as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let labels = parse_labels(&o.ipvs_backend_labels).map_err(|detail| BuildError { collector: "ipvs", detail: format!("--collector.ipvs.backend-labels: {detail}") })?;
    Ok(Some(Collector::host(Ipvs { paths: cx.paths.clone(), labels })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATS: &str = "   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes
 16AA370 E33656E5        0     51D8C8883AB3                0

 Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s
       4    1FB3C        0          1282A8F                0
";

    const IP_VS: &str = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C0A80016:0CEA wlc
  -> C0A85216:0CEA      Tunnel  100    248        2
  -> C0A85318:0CEA      Tunnel  100    248        2
FWM  10001000 wlc
  -> C0A8321A:0CEA      Tunnel  20     64         1
UDP  [2620:0000:0000:0000:0000:0000:0000:0001]:0035 rr
  -> [0000:0000:0000:0000:0000:ffff:0a00:0001]:0035 Masq 1 2 3
";

    #[test]
    fn parses_the_totals() {
        let t = parse_totals(STATS).unwrap();
        assert_eq!(t, Totals { connections: 23_765_872, incoming_packets: 3_811_989_221, outgoing_packets: 0, incoming_bytes: 89_991_519_156_915, outgoing_bytes: 0 });
        assert!(parse_totals("a\nb\n").is_err());
        assert!(parse_totals("a\nb\n1 2 3\n").unwrap_err().contains("5 fields"));
        assert!(parse_totals("a\nb\n1 2 3 4 XYZ\n").unwrap_err().contains("XYZ"));
        assert!(parse_totals("a\nb\n1 2 3 4 1FFFFFFFFFFFFFFFFF\n").is_err());
        assert!(parse_totals("").is_err());
    }

    #[test]
    fn parses_services_and_backends() {
        let b = parse_backends(IP_VS).unwrap();
        assert_eq!(b.len(), 4);
        assert_eq!(
            b[0],
            Backend {
                local_address: "192.168.0.22".into(),
                local_port: 3306,
                remote_address: "192.168.82.22".into(),
                remote_port: 3306,
                proto: "TCP".into(),
                local_mark: String::new(),
                weight: 100,
                active: 248,
                inactive: 2
            }
        );
        assert_eq!((b[2].local_address.as_str(), b[2].local_port, b[2].local_mark.as_str(), b[2].proto.as_str()), ("", 0, "10001000", "FWM"));
        assert_eq!((b[3].local_address.as_str(), b[3].remote_address.as_str(), b[3].remote_port), ("2620::1", "10.0.0.1", 53));
    }

    #[test]
    fn refuses_bad_addresses_and_numbers() {
        assert!(parse_backends("TCP  C0A8:0CEA wlc\n").unwrap_err().contains("line 1"));
        assert!(parse_backends("TCP  C0A80016:0CEA wlc\n  -> ZZA85216:0CEA Tunnel 1 2 3\n").unwrap_err().contains("line 2"));
        assert!(parse_backends("TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 1 x 3\n").unwrap_err().contains("field 5"));
        assert!(parse_backends("TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 1 99999999999999999999999 3\n").is_err());
        // Short lines are not backends.
        assert_eq!(parse_backends("TCP  C0A80016:0CEA wlc\n  -> C0A85216:0CEA Tunnel 1\n").unwrap(), vec![]);
        assert_eq!(parse_backends("").unwrap(), vec![]);
    }

    #[test]
    fn labels_follow_node_exporters_order_and_unknown_ones_are_refused() {
        assert_eq!(parse_labels(&Options::default().ipvs_backend_labels).unwrap(), ALL_LABELS.to_vec());
        assert_eq!(parse_labels("proto,local_port,").unwrap(), vec!["local_port", "proto"]);
        assert_eq!(parse_labels("").unwrap(), Vec::<&str>::new());
        assert_eq!(parse_labels("zeta,proto,alpha").unwrap_err(), "unknown IPVS backend labels: \"alpha, zeta\"");
    }

    #[test]
    fn backends_that_differ_in_labels_left_out_are_summed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("net")).unwrap();
        std::fs::write(dir.path().join("net/ip_vs_stats"), STATS).unwrap();
        std::fs::write(dir.path().join("net/ip_vs"), IP_VS).unwrap();
        let paths = Arc::new(HostPaths { procfs: dir.path().to_owned(), ..HostPaths::default() });
        let o = Options { ipvs_backend_labels: "proto".into() };
        let Some(Collector::Host(c)) = build(&o, &Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        let mut out = Snapshot::new();
        c.gather(&Scrape { deadline: std::time::Instant::now() }, &mut out).unwrap();
        let active = out.families.iter().find(|f| f.name == "node_ipvs_backend_connections_active").unwrap();
        let got: Vec<(String, f64)> = active.samples.iter().map(|s| (s.labels[0].1.clone(), s.value)).collect();
        assert_eq!(got, vec![("FWM".into(), 64.0), ("TCP".into(), 496.0), ("UDP".into(), 2.0)]);
        let none = tempfile::tempdir().unwrap();
        let paths = Arc::new(HostPaths { procfs: none.path().to_owned(), ..HostPaths::default() });
        let Some(Collector::Host(c)) = build(&o, &Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        assert!(matches!(c.gather(&Scrape { deadline: std::time::Instant::now() }, &mut Snapshot::new()), Err(Error::NoData(_))));
    }
}
