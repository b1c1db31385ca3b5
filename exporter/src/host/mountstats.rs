//! The `mountstats` collector: per-mount NFS client statistics from
//! `/proc/self/mountstats` as `node_mountstats_nfs_*`, with the server
//! address (`mountaddr`) taken from the `addr=` option of the same mount's
//! line in `/proc/self/mountinfo` (the two files list mounts in the same
//! order).

use std::collections::HashSet;
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// One `device ... mounted on ... with fstype ...` entry.
#[derive(Debug, PartialEq)]
pub struct Mount {
    /// What is mounted (for NFS, `server:/export`).
    pub device: String,
    /// Where it is mounted.
    pub mount_point: String,
    /// The statistics block that follows an NFS entry.
    pub nfs: Option<NfsStats>,
}

/// The statistics of one NFS mount.
#[derive(Debug, Default, PartialEq)]
pub struct NfsStats {
    /// `age:` seconds since the mount.
    pub age: u64,
    /// `bytes:`, the kernel's eight byte and page counters.
    pub bytes: [u64; 8],
    /// `events:`, the kernel's 27 event counters.
    pub events: [u64; 27],
    /// `xprt:` lines, in order.
    pub transports: Vec<Transport>,
    /// `per-op statistics` lines, in order.
    pub ops: Vec<Op>,
}

/// One `xprt:` line. `values` are laid out as a TCP line of statvers 1.1:
/// port, bind, connect, connect idle, idle seconds, sends, receives, bad
/// XIDs, requests, backlog, max slots, sending queue, pending queue. UDP
/// has no connect fields and statvers 1.0 no last three: those are zero.
#[derive(Debug, PartialEq)]
pub struct Transport {
    /// `tcp`, `udp` or `rdma`.
    pub protocol: String,
    /// The counters, laid out as described above.
    pub values: [u64; 13],
}

/// One line of the per-operation statistics.
#[derive(Debug, PartialEq)]
pub struct Op {
    /// The operation (`READ`, `ACCESS`).
    pub name: String,
    /// Requests, transmissions, major timeouts, bytes sent, bytes
    /// received, queue ms, response ms, total request ms.
    pub values: [u64; 8],
}

/// Parses the unsigned integers of `fields` into a vector.
fn numbers(fields: &[&str]) -> Result<Vec<u64>, String> {
    fields.iter().map(|f| f.parse::<u64>().map_err(|_| format!("{f:?} is not an unsigned integer"))).collect()
}

/// Parses an `xprt:` line's fields after the keyword.
fn transport(fields: &[&str], statvers: &str) -> Result<Transport, String> {
    let (&protocol, rest) = fields.split_first().ok_or("xprt: without protocol")?;
    let ok = match (statvers, protocol) {
        ("1.0", "tcp") => rest.len() == 10,
        ("1.0", "udp") => rest.len() == 7,
        ("1.1", "tcp") => rest.len() == 13,
        ("1.1", "udp") => rest.len() == 10,
        ("1.1", "rdma") => rest.len() >= 20,
        ("1.0" | "1.1", _) => return Err(format!("unknown transport {protocol:?}")),
        _ => return Err(format!("unknown statvers {statvers:?}")),
    };
    if !ok {
        return Err(format!("xprt: {protocol} with {} values is not statvers {statvers}", rest.len()));
    }
    let v = numbers(rest)?;
    let mut values = [0; 13];
    match protocol {
        // port and bind, then no connect fields.
        "udp" => {
            for (slot, x) in values.iter_mut().zip(v.iter().take(2).chain([0, 0, 0].iter()).chain(v.iter().skip(2))) {
                *slot = *x;
            }
        }
        // The ten fields TCP has too; RDMA's own counters follow them.
        "rdma" => {
            for (slot, x) in values.iter_mut().zip(v.iter().take(10)) {
                *slot = *x;
            }
        }
        _ => {
            for (slot, x) in values.iter_mut().zip(&v) {
                *slot = *x;
            }
        }
    }
    Ok(Transport { protocol: protocol.to_owned(), values })
}

/// Where the parser is in the file.
enum State {
    /// Between entries.
    Top,
    /// In an NFS entry's statistics, before `per-op statistics`.
    Stats(Mount, NfsStats, String),
    /// In an NFS entry's per-operation lines.
    Ops(Mount, NfsStats),
}

/// Parses `/proc/self/mountstats`.
pub fn parse(text: &str) -> Result<Vec<Mount>, String> {
    let mut mounts = Vec::new();
    let mut state = State::Top;
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let at = |d: String| format!("line {}: {d}", n + 1);
        state = match state {
            State::Top => match fields.as_slice() {
                ["device", device, "mounted", "on", mount_point, "with", "fstype", fstype, rest @ ..] => {
                    let mount = Mount { device: (*device).to_owned(), mount_point: (*mount_point).to_owned(), nfs: None };
                    match rest.first() {
                        None => {
                            mounts.push(mount);
                            State::Top
                        }
                        Some(_) if !matches!(*fstype, "nfs" | "nfs4") => {
                            return Err(at(format!("statistics for fstype {fstype:?}, which is not NFS")));
                        }
                        Some(statvers) => {
                            let statvers = statvers.strip_prefix("statvers=").unwrap_or(statvers).to_owned();
                            State::Stats(mount, NfsStats::default(), statvers)
                        }
                    }
                }
                ["device", ..] => return Err(at(format!("malformed device line {line:?}"))),
                _ => State::Top,
            },
            State::Stats(mut mount, mut stats, statvers) => match fields.as_slice() {
                [] => {
                    mount.nfs = Some(stats);
                    mounts.push(mount);
                    State::Top
                }
                ["per-op", ..] => State::Ops(mount, stats),
                [key @ ("opts:" | "age:" | "bytes:" | "events:")] => return Err(at(format!("{key} without values"))),
                ["age:", age, ..] => {
                    stats.age = age.parse().map_err(|_| at(format!("age {age:?} is not a number of seconds")))?;
                    State::Stats(mount, stats, statvers)
                }
                ["bytes:", values @ ..] => {
                    let v = numbers(values).map_err(at)?;
                    stats.bytes = v.try_into().map_err(|v: Vec<u64>| at(format!("bytes: has {} values, not 8", v.len())))?;
                    State::Stats(mount, stats, statvers)
                }
                ["events:", values @ ..] => {
                    let v = numbers(values).map_err(at)?;
                    stats.events = v.try_into().map_err(|v: Vec<u64>| at(format!("events: has {} values, not 27", v.len())))?;
                    State::Stats(mount, stats, statvers)
                }
                ["xprt:", rest @ ..] => {
                    if rest.len() < 2 {
                        return Err(at("xprt: without values".into()));
                    }
                    stats.transports.push(transport(rest, &statvers).map_err(at)?);
                    State::Stats(mount, stats, statvers)
                }
                _ => State::Stats(mount, stats, statvers),
            },
            State::Ops(mut mount, mut stats) => match fields.as_slice() {
                [] => {
                    mount.nfs = Some(stats);
                    mounts.push(mount);
                    State::Top
                }
                [name, values @ ..] if values.len() >= 8 => {
                    let v = numbers(values).map_err(at)?;
                    let mut values = [0; 8];
                    for (slot, x) in values.iter_mut().zip(&v) {
                        *slot = *x;
                    }
                    stats.ops.push(Op { name: name.trim_end_matches(':').to_owned(), values });
                    State::Ops(mount, stats)
                }
                _ => return Err(at(format!("per-op line with fewer than 8 values: {line:?}"))),
            },
        };
    }
    if let State::Stats(mut mount, stats, _) | State::Ops(mut mount, stats) = state {
        mount.nfs = Some(stats);
        mounts.push(mount);
    }
    Ok(mounts)
}

/// The `addr=` super option of each line of `/proc/self/mountinfo`, in
/// order (empty when a mount has none).
pub fn parse_mountinfo_addrs(text: &str) -> Result<Vec<String>, String> {
    let mut addrs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        // Single spaces separate the fields; a mount's root may be empty.
        let fields: Vec<&str> = line.split(' ').collect();
        let len = fields.len();
        if len < 10 || fields.get(len - 4) != Some(&"-") {
            return Err(format!("line {}: not a mountinfo line: {line:?}", n + 1));
        }
        let super_options = fields.get(len - 1).copied().unwrap_or_default();
        let addr = super_options
            .split(',')
            .find_map(|o| {
                let mut kv = o.split('=');
                (kv.next() == Some("addr")).then(|| kv.next().unwrap_or_default())
            })
            .unwrap_or_default();
        addrs.push(addr.to_owned());
    }
    Ok(addrs)
}

/// Converts a counter as node_exporter does: wrapped to the 53 bits a
/// float holds exactly.
fn wrapped(v: u64) -> f64 {
    (v % (1 << 53)) as f64
}

/// (metric name, help, index in `bytes:`).
const BYTES: [(&str, &str, usize); 8] = [
    ("node_mountstats_nfs_read_bytes_total", "Number of bytes read using the read() syscall.", 0),
    ("node_mountstats_nfs_write_bytes_total", "Number of bytes written using the write() syscall.", 1),
    ("node_mountstats_nfs_direct_read_bytes_total", "Number of bytes read using the read() syscall in O_DIRECT mode.", 2),
    ("node_mountstats_nfs_direct_write_bytes_total", "Number of bytes written using the write() syscall in O_DIRECT mode.", 3),
    ("node_mountstats_nfs_total_read_bytes_total", "Number of bytes read from the NFS server, in total.", 4),
    ("node_mountstats_nfs_total_write_bytes_total", "Number of bytes written to the NFS server, in total.", 5),
    ("node_mountstats_nfs_read_pages_total", "Number of pages read directly via mmap()'d files.", 6),
    ("node_mountstats_nfs_write_pages_total", "Number of pages written directly via mmap()'d files.", 7),
];

/// (metric name, help, index in `events:`); index 18 (congestion waits) is not reported.
const EVENTS: [(&str, &str, usize); 26] = [
    ("node_mountstats_nfs_event_inode_revalidate_total", "Number of times cached inode attributes are re-validated from the server.", 0),
    ("node_mountstats_nfs_event_dnode_revalidate_total", "Number of times cached dentry nodes are re-validated from the server.", 1),
    ("node_mountstats_nfs_event_data_invalidate_total", "Number of times an inode cache is cleared.", 2),
    ("node_mountstats_nfs_event_attribute_invalidate_total", "Number of times cached inode attributes are invalidated.", 3),
    ("node_mountstats_nfs_event_vfs_open_total", "Number of times cached inode attributes are invalidated.", 4),
    ("node_mountstats_nfs_event_vfs_lookup_total", "Number of times a directory lookup has occurred.", 5),
    ("node_mountstats_nfs_event_vfs_access_total", "Number of times permissions have been checked.", 6),
    ("node_mountstats_nfs_event_vfs_update_page_total", "Number of updates (and potential writes) to pages.", 7),
    ("node_mountstats_nfs_event_vfs_read_page_total", "Number of pages read directly via mmap()'d files.", 8),
    ("node_mountstats_nfs_event_vfs_read_pages_total", "Number of times a group of pages have been read.", 9),
    ("node_mountstats_nfs_event_vfs_write_page_total", "Number of pages written directly via mmap()'d files.", 10),
    ("node_mountstats_nfs_event_vfs_write_pages_total", "Number of times a group of pages have been written.", 11),
    ("node_mountstats_nfs_event_vfs_getdents_total", "Number of times directory entries have been read with getdents().", 12),
    ("node_mountstats_nfs_event_vfs_setattr_total", "Number of times directory entries have been read with getdents().", 13),
    ("node_mountstats_nfs_event_vfs_flush_total", "Number of pending writes that have been forcefully flushed to the server.", 14),
    ("node_mountstats_nfs_event_vfs_fsync_total", "Number of times fsync() has been called on directories and files.", 15),
    ("node_mountstats_nfs_event_vfs_lock_total", "Number of times locking has been attempted on a file.", 16),
    ("node_mountstats_nfs_event_vfs_file_release_total", "Number of times files have been closed and released.", 17),
    ("node_mountstats_nfs_event_truncation_total", "Number of times files have been truncated.", 19),
    ("node_mountstats_nfs_event_write_extension_total", "Number of times a file has been grown due to writes beyond its existing end.", 20),
    ("node_mountstats_nfs_event_silly_rename_total", "Number of times a file was removed while still open by another process.", 21),
    ("node_mountstats_nfs_event_short_read_total", "Number of times the NFS server gave less data than expected while reading.", 22),
    ("node_mountstats_nfs_event_short_write_total", "Number of times the NFS server wrote less data than expected while writing.", 23),
    (
        "node_mountstats_nfs_event_jukebox_delay_total",
        "Number of times the NFS server indicated EJUKEBOX; retrieving data from offline storage.",
        24,
    ),
    ("node_mountstats_nfs_event_pnfs_read_total", "Number of NFS v4.1+ pNFS reads.", 25),
    ("node_mountstats_nfs_event_pnfs_write_total", "Number of NFS v4.1+ pNFS writes.", 26),
];

/// (metric name, help, kind, index in [`Transport::values`]).
const TRANSPORT: [(&str, &str, Kind, usize); 10] = [
    (
        "node_mountstats_nfs_transport_bind_total",
        "Number of times the client has had to establish a connection from scratch to the NFS server.",
        Kind::Counter,
        1,
    ),
    ("node_mountstats_nfs_transport_connect_total", "Number of times the client has made a TCP connection to the NFS server.", Kind::Counter, 2),
    ("node_mountstats_nfs_transport_idle_time_seconds", "Duration since the NFS mount last saw any RPC traffic, in seconds.", Kind::Gauge, 4),
    ("node_mountstats_nfs_transport_sends_total", "Number of RPC requests for this mount sent to the NFS server.", Kind::Counter, 5),
    ("node_mountstats_nfs_transport_receives_total", "Number of RPC responses for this mount received from the NFS server.", Kind::Counter, 6),
    (
        "node_mountstats_nfs_transport_bad_transaction_ids_total",
        "Number of times the NFS server sent a response with a transaction ID unknown to this client.",
        Kind::Counter,
        7,
    ),
    ("node_mountstats_nfs_transport_backlog_queue_total", "Total number of items added to the RPC backlog queue.", Kind::Counter, 9),
    ("node_mountstats_nfs_transport_maximum_rpc_slots", "Maximum number of simultaneously active RPC requests ever used.", Kind::Gauge, 10),
    ("node_mountstats_nfs_transport_sending_queue_total", "Total number of items added to the RPC transmission sending queue.", Kind::Counter, 11),
    ("node_mountstats_nfs_transport_pending_queue_total", "Total number of items added to the RPC transmission pending queue.", Kind::Counter, 12),
];

/// (metric name, help, index in [`Op::values`], whether milliseconds reported as seconds).
const OPS: [(&str, &str, usize, bool); 8] = [
    ("node_mountstats_nfs_operations_requests_total", "Number of requests performed for a given operation.", 0, false),
    (
        "node_mountstats_nfs_operations_transmissions_total",
        "Number of times an actual RPC request has been transmitted for a given operation.",
        1,
        false,
    ),
    ("node_mountstats_nfs_operations_major_timeouts_total", "Number of times a request has had a major timeout for a given operation.", 2, false),
    (
        "node_mountstats_nfs_operations_sent_bytes_total",
        "Number of bytes sent for a given operation, including RPC headers and payload.",
        3,
        false,
    ),
    (
        "node_mountstats_nfs_operations_received_bytes_total",
        "Number of bytes received for a given operation, including RPC headers and payload.",
        4,
        false,
    ),
    (
        "node_mountstats_nfs_operations_queue_time_seconds_total",
        "Duration all requests spent queued for transmission for a given operation before they were sent, in seconds.",
        5,
        true,
    ),
    (
        "node_mountstats_nfs_operations_response_time_seconds_total",
        "Duration all requests took to get a reply back after a request for a given operation was transmitted, in seconds.",
        6,
        true,
    ),
    (
        "node_mountstats_nfs_operations_request_time_seconds_total",
        "Duration all requests took from when a request was enqueued to when it was completely handled for a given operation, in seconds.",
        7,
        true,
    ),
];

/// Emits one mount's statistics under `protocol`, as node_exporter does
/// (every transport of the mount, all labelled with that protocol).
fn emit(out: &mut Snapshot, s: &NfsStats, export: &str, protocol: &str, addr: &str) {
    let labels = [("export", export), ("mountaddr", addr), ("protocol", protocol)];
    out.counter("node_mountstats_nfs_age_seconds_total", "The age of the NFS mount in seconds.", &labels, s.age as f64);
    for (name, help, i) in BYTES {
        out.counter(name, help, &labels, s.bytes.get(i).copied().unwrap_or(0) as f64);
    }
    for (index, t) in s.transports.iter().enumerate() {
        let index = index.to_string();
        let labels = [("export", export), ("mountaddr", addr), ("protocol", protocol), ("transport", index.as_str())];
        for (name, help, kind, i) in TRANSPORT {
            let v = t.values.get(i).copied().unwrap_or(0);
            let v = if i == 4 { wrapped(v) } else { v as f64 };
            out.family(name, help, kind).add(&labels, v);
        }
    }
    for op in &s.ops {
        let labels = [("export", export), ("mountaddr", addr), ("operation", op.name.as_str()), ("protocol", protocol)];
        for (name, help, i, ms) in OPS {
            let v = op.values.get(i).copied().unwrap_or(0);
            let v = if ms { wrapped(v) / 1000.0 } else { v as f64 };
            out.counter(name, help, &labels, v);
        }
    }
    for (name, help, i) in EVENTS {
        out.counter(name, help, &labels, s.events.get(i).copied().unwrap_or(0) as f64);
    }
}

struct MountStats(Arc<HostPaths>);

impl HostCollector for MountStats {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("self/mountstats");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /proc/self/mountstats in this procfs".into())),
            Err(e) => return Err(e),
        };
        let mounts = parse(&text).map_err(|d| Error::parse(&path, d))?;
        if mounts.iter().all(|m| m.nfs.is_none()) {
            return Ok(());
        }
        let info = self.0.proc("self/mountinfo");
        let addrs = parse_mountinfo_addrs(&read_to_string(&info)?).map_err(|d| Error::parse(&info, d))?;

        // The same export mounted twice is reported once per protocol and
        // server address; each mount point gets its info series.
        let mut devices: HashSet<(&str, &str, &str)> = HashSet::new();
        let mut mount_points: HashSet<(&str, &str, &str, &str)> = HashSet::new();
        for (idx, m) in mounts.iter().enumerate() {
            let Some(stats) = &m.nfs else { continue };
            let addr = addrs.get(idx).map(String::as_str).unwrap_or("");
            for t in &stats.transports {
                let protocol = t.protocol.as_str();
                if mount_points.insert((&m.device, protocol, addr, &m.mount_point)) {
                    out.gauge(
                        "node_mountstats_nfs_mountpoint_info",
                        "Info metric for an NFS mountpoint.",
                        &[("export", &m.device), ("mountaddr", addr), ("mountpoint", &m.mount_point), ("protocol", protocol)],
                        1.0,
                    );
                }
                if !devices.insert((&m.device, protocol, addr)) {
                    break;
                }
                emit(out, stats, &m.device, protocol, addr);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(MountStats(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NFS4: &str = "device rootfs mounted on / with fstype rootfs\n\
        device 192.168.1.1:/srv/test mounted on /mnt/nfs/test with fstype nfs4 statvers=1.1\n\
        \topts:\trw,vers=4.0,proto=tcp\n\
        \tage:\t13968\n\
        \tcaps:\tcaps=0xfff7,wtmult=512\n\
        \tevents:\t52 226 0 0 1 13 398 0 0 331 0 47 0 0 77 0 0 77 0 0 0 0 0 0 0 0 0\n\
        \tbytes:\t1207640230 0 0 0 1210214218 0 295483 0\n\
        \tRPC iostats version: 1.0  p/v: 100003/4 (nfs)\n\
        \txprt:\ttcp 832 0 1 0 11 6428 6428 0 12154 0 24 26 5726\n\
        \tper-op statistics\n\
        \t        NULL: 0 0 0 0 0 0 0 0\n\
        \t        READ: 1298 1298 0 207680 1210292152 6 79386 79407\n\
        \n\
        device 192.168.1.1:/srv/test mounted on /mnt/nfs/test-dupe with fstype nfs statvers=1.1\n\
        \tage:\t1\n\
        \txprt:\tudp 832 0 6428 6428 0 12154 0 24 26 5726\n\
        \tper-op statistics\n\
        \t      ACCESS: 2927395007 2927394995 0 526931094212 362996810236 18446743919241604546 1667369447 1953587717 4\n";

    #[test]
    fn parses_nfs_entries_and_lays_udp_out_as_tcp() {
        let m = parse(NFS4).unwrap();
        assert_eq!(m.len(), 3);
        assert!(m[0].nfs.is_none());
        let s = m[1].nfs.as_ref().unwrap();
        assert_eq!((s.age, s.bytes[0], s.events[6]), (13968, 1207640230, 398));
        assert_eq!(s.transports[0].values, [832, 0, 1, 0, 11, 6428, 6428, 0, 12154, 0, 24, 26, 5726]);
        assert_eq!(s.ops[1], Op { name: "READ".into(), values: [1298, 1298, 0, 207680, 1210292152, 6, 79386, 79407] });
        let u = m[2].nfs.as_ref().unwrap();
        assert_eq!(u.transports[0].values, [832, 0, 0, 0, 0, 6428, 6428, 0, 12154, 0, 24, 26, 5726]);
        assert_eq!(u.ops[0].values[5], 18446743919241604546);
        assert_eq!(wrapped(u.ops[0].values[5]) / 1000.0, 9007044786793.922);
    }

    #[test]
    fn refuses_malformed_entries() {
        let dev = "device a:/b mounted on /c with fstype nfs statvers=1.1\n";
        assert!(parse("").unwrap().is_empty());
        assert!(parse("device x mounted on\n").unwrap_err().contains("line 1"));
        assert!(parse("device a mounted on /c with fstype ext4 statvers=1.1\n").is_err());
        assert!(parse(&format!("{dev}\tbytes:\t1 2 3\n")).unwrap_err().contains("line 2"));
        assert!(parse(&format!("{dev}\tevents:\t1 2\n")).is_err());
        assert!(parse(&format!("{dev}\tage:\tsoon\n")).is_err());
        assert!(parse(&format!("{dev}\tage:\n")).is_err());
        assert!(parse(&format!("{dev}\txprt:\ttcp 1 2\n")).is_err());
        assert!(parse(&format!("{dev}\txprt:\tsctp 1 2 3 4 5 6 7 8 9 10 11 12 13\n")).is_err());
        assert!(parse("device a:/b mounted on /c with fstype nfs statvers=9\n\txprt:\ttcp 1 2 3 4 5 6 7 8 9 10 11 12 13\n").is_err());
        assert!(parse(&format!("{dev}\tper-op statistics\n\tREAD: 1 2 3\n")).is_err());
        assert!(parse(&format!("{dev}\tper-op statistics\n\tREAD: 1 2 3 4 5 6 7 99999999999999999999999\n")).is_err());
    }

    #[test]
    fn reads_the_server_address_from_mountinfo() {
        let a = parse_mountinfo_addrs(
            "1 1 0:5 /  /root rw,nosuid shared:8 - rootfs rootfs rw\n\
             194 21 0:42 / /mnt/nfs/test rw shared:144 - nfs4 192.168.1.1:/srv/test rw,vers=4.0,clientaddr=192.168.1.5,addr=192.168.1.1,local_lock=none\n",
        )
        .unwrap();
        assert_eq!(a, ["", "192.168.1.1"]);
        assert!(parse_mountinfo_addrs("1 2 3\n").is_err());
    }
}
