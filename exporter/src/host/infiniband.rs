//! The `infiniband` collector: InfiniBand (and RoCE/iWARP) adapters from
//! `/sys/class/infiniband/<device>`: firmware and board identity, each
//! port's state and rate, and the port and hardware counters under
//! `ports/<n>/counters`, `counters_ext` and `hw_counters`.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, Filter};
use crate::metrics::Snapshot;

/// Flags of the `infiniband` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of infiniband devices to include (mutually exclusive to device-exclude).
    #[arg(long = "collector.infiniband.device-include")]
    pub infiniband_device_include: Option<String>,
    /// Regexp of infiniband devices to exclude (mutually exclusive to device-include).
    #[arg(long = "collector.infiniband.device-exclude")]
    pub infiniband_device_exclude: Option<String>,
}

/// Parses an unsigned integer the way Go's `strconv.ParseUint(s, 0, 64)`
/// does, which is how node_exporter reads the kernel's sysfs counters.
pub use crate::host::util::parse_go_uint as parse_uint;

/// Parses a port `state` or `phys_state` file: `"<id>: <NAME>"`.
pub fn parse_state(text: &str) -> Result<(u32, String), String> {
    let mut parts = text.split(':');
    let (Some(id), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("expected \"<id>: <name>\", got {text:?}"));
    };
    let id = id.trim().parse().map_err(|_| format!("state id {:?} is not an unsigned integer", id.trim()))?;
    Ok((id, name.trim().to_owned()))
}

/// Parses a port `rate` file (`"40 Gb/sec (4X QDR)"`) into bytes per
/// second. The number is read at single precision, as node_exporter does.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let Some((number, _)) = text.split_once(' ') else {
        return Err(format!("expected \"<Gb/s> Gb/sec ...\", got {text:?}"));
    };
    let gbits: f32 = number.trim().parse().map_err(|_| format!("rate {:?} is not a number", number.trim()))?;
    let rate = f64::from(gbits) * 125_000_000.0;
    if !(0.0..=u64::MAX as f64).contains(&rate) {
        return Err(format!("rate {gbits} Gb/s out of range"));
    }
    // Truncated toward zero, as node_exporter converts it.
    Ok(rate as u64)
}

/// How a counter file's value becomes the metric's.
#[derive(Clone, Copy)]
enum Scale {
    One,
    /// Data counters count 32-bit words per lane; four of them make the bytes.
    Words,
    /// Milliseconds to whole seconds (integer division).
    Millis,
}

/// (directory, file, metric suffix, help, scale) of every counter.
type Counter = (&'static str, &'static str, &'static str, &'static str, Scale);

const COUNTERS: &[Counter] = &[
    ("counters_ext", "port_multicast_rcv_packets", "node_infiniband_legacy_multicast_packets_received_total", "Number of multicast packets received", Scale::One),
    ("counters_ext", "port_multicast_xmit_packets", "node_infiniband_legacy_multicast_packets_transmitted_total", "Number of multicast packets transmitted", Scale::One),
    ("counters_ext", "port_rcv_data_64", "node_infiniband_legacy_data_received_bytes_total", "Number of data octets received on all links", Scale::Words),
    ("counters_ext", "port_rcv_packets_64", "node_infiniband_legacy_packets_received_total", "Number of data packets received on all links", Scale::One),
    ("counters_ext", "port_unicast_rcv_packets", "node_infiniband_legacy_unicast_packets_received_total", "Number of unicast packets received", Scale::One),
    ("counters_ext", "port_unicast_xmit_packets", "node_infiniband_legacy_unicast_packets_transmitted_total", "Number of unicast packets transmitted", Scale::One),
    ("counters_ext", "port_xmit_data_64", "node_infiniband_legacy_data_transmitted_bytes_total", "Number of data octets transmitted on all links", Scale::Words),
    ("counters_ext", "port_xmit_packets_64", "node_infiniband_legacy_packets_transmitted_total", "Number of data packets received on all links", Scale::One),
    ("counters", "excessive_buffer_overrun_errors", "node_infiniband_excessive_buffer_overrun_errors_total", "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error.", Scale::One),
    ("counters", "link_downed", "node_infiniband_link_downed_total", "Number of times the link failed to recover from an error state and went down", Scale::One),
    ("counters", "link_error_recovery", "node_infiniband_link_error_recovery_total", "Number of times the link successfully recovered from an error state", Scale::One),
    ("counters", "local_link_integrity_errors", "node_infiniband_local_link_integrity_errors_total", "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors.", Scale::One),
    ("counters", "multicast_rcv_packets", "node_infiniband_multicast_packets_received_total", "Number of multicast packets received (including errors)", Scale::One),
    ("counters", "multicast_xmit_packets", "node_infiniband_multicast_packets_transmitted_total", "Number of multicast packets transmitted (including errors)", Scale::One),
    ("counters", "port_rcv_constraint_errors", "node_infiniband_port_constraint_errors_received_total", "Number of packets received on the switch physical port that are discarded", Scale::One),
    ("counters", "port_xmit_constraint_errors", "node_infiniband_port_constraint_errors_transmitted_total", "Number of packets not transmitted from the switch physical port", Scale::One),
    ("counters", "port_rcv_data", "node_infiniband_port_data_received_bytes_total", "Number of data octets received on all links", Scale::Words),
    ("counters", "port_xmit_data", "node_infiniband_port_data_transmitted_bytes_total", "Number of data octets transmitted on all links", Scale::Words),
    ("counters", "port_rcv_discards", "node_infiniband_port_discards_received_total", "Number of inbound packets discarded by the port because the port is down or congested", Scale::One),
    ("counters", "port_xmit_discards", "node_infiniband_port_discards_transmitted_total", "Number of outbound packets discarded by the port because the port is down or congested", Scale::One),
    ("counters", "port_rcv_errors", "node_infiniband_port_errors_received_total", "Number of packets containing an error that were received on this port", Scale::One),
    ("counters", "port_rcv_packets", "node_infiniband_port_packets_received_total", "Number of packets received on all VLs by this port (including errors)", Scale::One),
    ("counters", "port_xmit_packets", "node_infiniband_port_packets_transmitted_total", "Number of packets transmitted on all VLs from this port (including errors)", Scale::One),
    ("counters", "port_xmit_wait", "node_infiniband_port_transmit_wait_total", "Number of ticks during which the port had data to transmit but no data was sent during the entire tick", Scale::One),
    ("counters", "unicast_rcv_packets", "node_infiniband_unicast_packets_received_total", "Number of unicast packets received (including errors)", Scale::One),
    ("counters", "unicast_xmit_packets", "node_infiniband_unicast_packets_transmitted_total", "Number of unicast packets transmitted (including errors)", Scale::One),
    ("counters", "port_rcv_remote_physical_errors", "node_infiniband_port_receive_remote_physical_errors_total", "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port.", Scale::One),
    ("counters", "port_rcv_switch_relay_errors", "node_infiniband_port_receive_switch_relay_errors_total", "Number of packets that could not be forwarded by the switch.", Scale::One),
    ("counters", "symbol_error", "node_infiniband_symbol_error_total", "Number of minor link errors detected on one or more physical lanes.", Scale::One),
    ("counters", "VL15_dropped", "node_infiniband_vl15_dropped_total", "Number of incoming VL15 packets dropped due to resource limitations.", Scale::One),
    ("hw_counters", "lifespan", "node_infiniband_lifespan_seconds", "The maximum period in ms which defines the aging of the counter reads. Two consecutive reads within this period might return the same values.", Scale::Millis),
    ("hw_counters", "duplicate_request", "node_infiniband_duplicate_requests_packets_total", "The number of received packets. A duplicate request is a request that had been previously executed.", Scale::One),
    ("hw_counters", "implied_nak_seq_err", "node_infiniband_implied_nak_seq_errors_total", "The number of time the requested decided an ACK. with a PSN larger than the expected PSN for an RDMA read or response.", Scale::One),
    ("hw_counters", "local_ack_timeout_err", "node_infiniband_local_ack_timeout_errors_total", "The number of times QP's ack timer expired for RC, XRC, DCT QPs at the sender side. The QP retry limit was not exceed, therefore it is still recoverable error.", Scale::One),
    ("hw_counters", "np_cnp_sent", "node_infiniband_np_cnp_packets_sent_total", "The number of CNP packets sent by the Notification Point when it noticed congestion experienced in the RoCEv2 IP header (ECN bits). The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "np_ecn_marked_roce_packets", "node_infiniband_np_ecn_marked_roce_packets_received_total", "The number of RoCEv2 packets received by the notification point which were marked for experiencing the congestion (ECN bits where '11' on the ingress RoCE traffic) . The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "out_of_buffer", "node_infiniband_out_of_buffer_drops_total", "The number of drops occurred due to lack of WQE for the associated QPs.", Scale::One),
    ("hw_counters", "out_of_sequence", "node_infiniband_out_of_sequence_packets_received_total", "The number of out of sequence packets received.", Scale::One),
    ("hw_counters", "packet_seq_err", "node_infiniband_packet_sequence_errors_total", "The number of received NAK sequence error packets. The QP retry limit was not exceeded.", Scale::One),
    ("hw_counters", "req_cqe_error", "node_infiniband_req_cqes_errors_total", "The number of times requester detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "req_cqe_flush_error", "node_infiniband_req_cqes_flush_errors_total", "The number of times requester detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "req_remote_access_errors", "node_infiniband_req_remote_access_errors_total", "The number of times requester detected remote access errors. The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "req_remote_invalid_request", "node_infiniband_req_remote_invalid_request_errors_total", "The number of times requester detected remote invalid request errors. The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "resp_cqe_error", "node_infiniband_resp_cqes_errors_total", "The number of times responder detected CQEs completed with errors. The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "resp_cqe_flush_error", "node_infiniband_resp_cqes_flush_errors_total", "The number of times responder detected CQEs completed with flushed errors. The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "resp_local_length_error", "node_infiniband_resp_local_length_errors_total", "The number of times responder detected local length errors. The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "resp_remote_access_errors", "node_infiniband_resp_remote_access_errors_total", "The number of times responder detected remote access errors. The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "rnr_nak_retry_err", "node_infiniband_rnr_nak_retry_packets_received_total", "The number of received RNR NAK packets. The QP retry limit was not exceeded.", Scale::One),
    ("hw_counters", "roce_adp_retrans", "node_infiniband_roce_adp_retransmits_total", "The number of adaptive retransmissions for RoCE traffic. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0", Scale::One),
    ("hw_counters", "roce_adp_retrans_to", "node_infiniband_roce_adp_retransmits_timeout_total", "The number of times RoCE traffic reached timeout due to adaptive retransmission. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0", Scale::One),
    ("hw_counters", "roce_slow_restart", "node_infiniband_roce_slow_restart_used_total", "The number of times RoCE slow restart was used. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0", Scale::One),
    ("hw_counters", "roce_slow_restart_cnps", "node_infiniband_roce_slow_restart_cnps_total", "The number of times RoCE slow restart generated CNP packets. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0", Scale::One),
    ("hw_counters", "roce_slow_restart_trans", "node_infiniband_roce_slow_restart_total", "The number of times RoCE slow restart changed state to slow restart. The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0", Scale::One),
    ("hw_counters", "rp_cnp_handled", "node_infiniband_rp_cnp_packets_handled_total", "The number of CNP packets handled by the Reaction Point HCA to throttle the transmission rate. The counters was added in MLNX_OFED 4.1", Scale::One),
    ("hw_counters", "rp_cnp_ignored", "node_infiniband_rp_cnp_ignored_packets_received_total", "The number of CNP packets received and ignored by the Reaction Point HCA. This counter should not raise if RoCE Congestion Control was enabled in the network. If this counter raise, verify that ECN was enabled on the adapter.", Scale::One),
    ("hw_counters", "rx_atomic_requests", "node_infiniband_rx_atomic_requests_total", "The number of received ATOMIC request for the associated QPs.", Scale::One),
    ("hw_counters", "rx_dct_connect", "node_infiniband_rx_dct_connect_requests_total", "The number of received connection requests for the associated DCTs.", Scale::One),
    ("hw_counters", "rx_read_requests", "node_infiniband_rx_read_requests_total", "The number of received READ requests for the associated QPs.", Scale::One),
    ("hw_counters", "rx_write_requests", "node_infiniband_rx_write_requests_total", "The number of received WRITE requests for the associated QPs.", Scale::One),
    ("hw_counters", "rx_icrc_encapsulated", "node_infiniband_rx_icrc_encapsulated_errors_total", "The number of RoCE packets with ICRC errors. This counter was added in MLNX_OFED 4.4 and kernel 4.19", Scale::One),
];

/// A counter file's value: `None` when the driver has no value for it
/// (its text says `N/A (no PMA)`), an error when it is anything else that
/// is not an unsigned integer.
pub fn parse_counter(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    match parse_uint(text) {
        Some(v) => Ok(Some(v)),
        None if text.contains("N/A (no PMA)") => Ok(None),
        None => Err(format!("not an unsigned integer: {text:?}")),
    }
}

/// Reads a counter file. Files the driver refuses to read (absent by now,
/// no permission, not supported) count as absent.
fn read_counter(path: &Path) -> Result<Option<u64>, Error> {
    match read_to_string(path) {
        Ok(text) => parse_counter(&text).map_err(|d| Error::parse(path, d)),
        Err(Error::Io { source, .. }) if skippable(&source) => Ok(None),
        Err(e) => Err(e),
    }
}

fn skippable(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied | io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported)
        || e.raw_os_error() == Some(95) // EOPNOTSUPP
}

/// A required text attribute, trimmed.
fn attr(path: &Path) -> Result<String, Error> {
    Ok(read_to_string(path)?.trim().to_owned())
}

/// An optional text attribute: empty when the driver does not expose it.
fn attr_or_empty(path: &Path) -> Result<String, Error> {
    match attr(path) {
        Err(e) if e.is_not_found() => Ok(String::new()),
        other => other,
    }
}

struct Infiniband {
    paths: Arc<HostPaths>,
    filter: Filter,
}

impl Infiniband {
    fn port(&self, device: &str, port_dir: &Path, port: &str, out: &mut Snapshot) -> Result<(), Error> {
        let number: u32 = port.parse().map_err(|_| Error::parse(port_dir, "port directory name is not a port number"))?;
        let port = number.to_string();
        let labels = [("device", device), ("port", port.as_str())];
        // Every port has these; node_exporter refuses a device without them.
        attr(&port_dir.join("link_layer"))?;
        let state_path = port_dir.join("state");
        let (state, _) = parse_state(&attr(&state_path)?).map_err(|d| Error::parse(&state_path, d))?;
        let phys_path = port_dir.join("phys_state");
        let (phys, _) = parse_state(&attr(&phys_path)?).map_err(|d| Error::parse(&phys_path, d))?;
        let rate_path = port_dir.join("rate");
        let rate = parse_rate(&attr(&rate_path)?).map_err(|d| Error::parse(&rate_path, d))?;
        out.gauge("node_infiniband_state_id", "State of the InfiniBand port (0: no change, 1: down, 2: init, 3: armed, 4: active, 5: act defer)", &labels, f64::from(state));
        out.gauge(
            "node_infiniband_physical_state_id",
            "Physical state of the InfiniBand port (0: no change, 1: sleep, 2: polling, 3: disable, 4: shift, 5: link up, 6: link error recover, 7: phytest)",
            &labels,
            f64::from(phys),
        );
        out.gauge("node_infiniband_rate_bytes_per_second", "Maximum signal transfer rate", &labels, rate as f64);

        // counters_ext is read only beside counters, as the kernel has them.
        let counters = regular_files(&port_dir.join("counters"))?;
        let extended = if counters.is_empty() { Vec::new() } else { regular_files(&port_dir.join("counters_ext"))? };
        let hardware = regular_files(&port_dir.join("hw_counters"))?;
        for (dir, file, name, help, scale) in COUNTERS {
            let present = match *dir {
                "counters" => &counters,
                "counters_ext" => &extended,
                _ => &hardware,
            };
            if !present.iter().any(|f| f == file) {
                continue;
            }
            let Some(v) = read_counter(&port_dir.join(dir).join(file))? else { continue };
            match scale {
                Scale::One => out.counter(*name, *help, &labels, v as f64),
                Scale::Words => out.counter(*name, *help, &labels, v.wrapping_mul(4) as f64),
                Scale::Millis => out.gauge(*name, *help, &labels, (v / 1000) as f64),
            }
        }
        Ok(())
    }
}

/// The names of the regular files of a counter directory (node_exporter
/// reads no links there); none when the driver has no such directory.
fn regular_files(dir: &Path) -> Result<Vec<String>, Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    Ok(entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect())
}

impl HostCollector for Infiniband {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("class/infiniband");
        let devices = match list_dir(&base) {
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /sys/class/infiniband: no InfiniBand or RDMA device".into())),
            other => other?,
        };
        for device in devices.iter().filter(|d| self.filter.accepts(d)) {
            let dir = base.join(device);
            let firmware = attr(&dir.join("fw_ver"))?;
            let board = attr_or_empty(&dir.join("board_id"))?;
            let hca = attr_or_empty(&dir.join("hca_type"))?;
            out.gauge(
                "node_infiniband_info",
                "Non-numeric data from /sys/class/infiniband/<device>, value is always 1.",
                &[("device", device), ("board_id", &board), ("firmware_version", &firmware), ("hca_type", &hca)],
                1.0,
            );
            let ports_dir = dir.join("ports");
            for port in list_dir(&ports_dir)? {
                self.port(device, &ports_dir.join(&port), &port, out)?;
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let filter = Filter::exclusive("infiniband", "device", o.infiniband_device_include.as_deref(), o.infiniband_device_exclude.as_deref())?;
    Ok(Some(Collector::host(Infiniband { paths: cx.paths.clone(), filter })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers_as_go_does_with_base_zero() {
        assert_eq!(parse_uint("4294967295"), Some(4_294_967_295));
        assert_eq!(parse_uint("0x13"), Some(19));
        assert_eq!(parse_uint("0xffffffffffffffff"), Some(u64::MAX));
        assert_eq!(parse_uint("010"), Some(8));
        assert_eq!(parse_uint("0"), Some(0));
        assert_eq!(parse_uint("0x1_0"), Some(16));
        assert_eq!(parse_uint("1_0"), None);
        assert_eq!(parse_uint("0x"), None);
        assert_eq!(parse_uint("+1"), None);
        assert_eq!(parse_uint("-1"), None);
        assert_eq!(parse_uint("99999999999999999999999"), None);
        assert_eq!(parse_uint(""), None);
    }

    #[test]
    fn parses_state_and_rate_and_refuses_garbage() {
        assert_eq!(parse_state("4: ACTIVE\n").unwrap(), (4, "ACTIVE".into()));
        assert_eq!(parse_state("5: LinkUp").unwrap(), (5, "LinkUp".into()));
        assert!(parse_state("ACTIVE").is_err());
        assert!(parse_state("x: ACTIVE").is_err());
        assert!(parse_state("1: a: b").is_err());
        assert_eq!(parse_rate("40 Gb/sec (4X QDR)").unwrap(), 5_000_000_000);
        assert_eq!(parse_rate("10 Gb/sec (4X)").unwrap(), 1_250_000_000);
        assert_eq!(parse_rate("2.5 Gb/sec (1X SDR)").unwrap(), 312_500_000);
        assert!(parse_rate("40").is_err());
        assert!(parse_rate("fast Gb/sec").is_err());
        assert!(parse_rate("-1 Gb/sec").is_err());
        assert!(parse_rate("1e300 Gb/sec").is_err());
    }

    #[test]
    fn counters_without_a_value_are_skipped_and_garbage_is_refused() {
        assert_eq!(parse_counter("6825908347\n").unwrap(), Some(6_825_908_347));
        assert_eq!(parse_counter("N/A (no PMA)\n").unwrap(), None);
        assert!(parse_counter("lots").is_err());
        assert!(parse_counter("").is_err());
    }

    use crate::host::util::write_tree_file as write;

    fn gather(root: &Path, o: &Options) -> Result<Snapshot, Error> {
        let paths = Arc::new(HostPaths { sysfs: root.to_owned(), ..HostPaths::default() });
        let Some(Collector::Host(c)) = build(o, &Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        let mut out = Snapshot::new();
        c.gather(&Scrape { deadline: std::time::Instant::now() }, &mut out).map(|()| out)
    }

    fn value(s: &Snapshot, name: &str, port: &str) -> Option<f64> {
        s.families.iter().filter(|f| f.name == name).flat_map(|f| &f.samples).find(|x| x.labels.iter().any(|(k, v)| k == "port" && v == port)).map(|x| x.value)
    }

    #[test]
    fn reads_a_device_scaling_data_and_lifespan() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("class/infiniband/mlx5_0");
        write(&d, "fw_ver", "16.35.1012\n");
        write(&d, "ports/1/link_layer", "Ethernet\n");
        write(&d, "ports/1/state", "4: ACTIVE\n");
        write(&d, "ports/1/phys_state", "5: LinkUp\n");
        write(&d, "ports/1/rate", "25 Gb/sec (1X EDR)\n");
        write(&d, "ports/1/counters/port_rcv_data", "10\n");
        write(&d, "ports/1/counters/port_xmit_wait", "N/A (no PMA)\n");
        write(&d, "ports/1/hw_counters/lifespan", "12\n");
        write(&d, "ports/1/hw_counters/out_of_buffer", "3\n");
        let s = gather(dir.path(), &Options::default()).unwrap();
        assert_eq!(value(&s, "node_infiniband_port_data_received_bytes_total", "1"), Some(40.0));
        assert_eq!(value(&s, "node_infiniband_port_transmit_wait_total", "1"), None);
        assert_eq!(value(&s, "node_infiniband_lifespan_seconds", "1"), Some(0.0));
        assert_eq!(value(&s, "node_infiniband_out_of_buffer_drops_total", "1"), Some(3.0));
        assert_eq!(value(&s, "node_infiniband_rate_bytes_per_second", "1"), Some(3_125_000_000.0));
        let info = s.families.iter().find(|f| f.name == "node_infiniband_info").unwrap();
        assert!(info.samples[0].labels.iter().any(|(k, v)| k == "board_id" && v.is_empty()));

        // Excluded, the device costs nothing; a bad counter fails the collector.
        let skip = Options { infiniband_device_exclude: Some("^mlx".into()), ..Options::default() };
        assert_eq!(gather(dir.path(), &skip).unwrap().sample_count(), 0);
        write(&d, "ports/1/counters/port_rcv_data", "garbage\n");
        let e = gather(dir.path(), &Options::default()).unwrap_err().to_string();
        assert!(e.contains("port_rcv_data") && e.contains("garbage"), "{e}");
        write(&d, "ports/1/counters/port_rcv_data", "1\n");
        write(&d, "ports/1/rate", "\n");
        assert!(gather(dir.path(), &Options::default()).unwrap_err().to_string().contains("rate"));
    }

    #[test]
    fn no_class_directory_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(gather(dir.path(), &Options::default()), Err(Error::NoData(_))));
    }
}
