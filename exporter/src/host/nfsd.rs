//! The `nfsd` collector: NFS server statistics from `/proc/net/rpc/nfsd`
//! as `node_nfsd_*`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::nfs::{counted, exact, fill, read_lines, V2, V3};
use crate::metrics::{Kind, Snapshot};

/// The `proc4ops` counters node_exporter reports: (position after the
/// count, name). Positions 0–2 are unused opcodes, 23 and 24 PUTPUBFH and
/// PUTROOTFH, which node_exporter leaves out.
const V4_OPS: [(usize, &str); 35] = [
    (3, "Access"),
    (4, "Close"),
    (5, "Commit"),
    (6, "Create"),
    (7, "DelegPurge"),
    (8, "DelegReturn"),
    (9, "GetAttr"),
    (10, "GetFH"),
    (11, "Link"),
    (12, "Lock"),
    (13, "Lockt"),
    (14, "Locku"),
    (15, "Lookup"),
    (16, "LookupRoot"),
    (17, "Nverify"),
    (18, "Open"),
    (19, "OpenAttr"),
    (20, "OpenConfirm"),
    (21, "OpenDgrd"),
    (22, "PutFH"),
    (25, "Read"),
    (26, "ReadDir"),
    (27, "ReadLink"),
    (28, "Remove"),
    (29, "Rename"),
    (30, "Renew"),
    (31, "RestoreFH"),
    (32, "SaveFH"),
    (33, "SecInfo"),
    (34, "SetAttr"),
    (35, "SetClientID"),
    (36, "SetClientIDConfirm"),
    (37, "Verify"),
    (38, "Write"),
    (39, "RelLockOwner"),
];

/// What `/proc/net/rpc/nfsd` says. A line the file lacks leaves zeros.
#[derive(Debug, PartialEq)]
pub struct Server {
    /// `rc`: reply cache hits, misses, uncached.
    pub rc: [u64; 3],
    /// `fh`: stale handles and four counters the kernel no longer updates.
    pub fh: [u64; 5],
    /// `io`: bytes read, bytes written.
    pub io: [u64; 2],
    /// `th`: threads, times all were busy.
    pub th: [u64; 2],
    /// `ra`: cache size, ten histogram buckets, not found.
    pub ra: [u64; 12],
    /// `net`: packets, UDP packets, TCP packets, TCP connections.
    pub net: [u64; 4],
    /// `rpc`: calls, bad calls, bad format, bad auth, bad client.
    pub rpc: [u64; 5],
    /// `proc2` counters, by the client's names.
    pub v2: [u64; 18],
    /// `proc3` counters.
    pub v3: [u64; 22],
    /// `proc4ops` counters, by position; a missing 40th is zero.
    pub v4_ops: [u64; 40],
    /// `wdeleg_getattr`.
    pub wdeleg_getattr: u64,
}

/// Parses `/proc/net/rpc/nfsd`.
pub fn parse(text: &str) -> Result<Server, String> {
    let mut s = Server::default();
    let limit = |key: &str| if key == "th" { 2 } else { usize::MAX };
    read_lines(text, limit, |key, values| {
        match key {
            "rc" => exact(values, &mut s.rc)?,
            "fh" => exact(values, &mut s.fh)?,
            "io" => exact(values, &mut s.io)?,
            "th" => exact(values, &mut s.th)?,
            "ra" => exact(values, &mut s.ra)?,
            "net" => exact(values, &mut s.net)?,
            "rpc" => exact(values, &mut s.rpc)?,
            "proc2" => fill(counted(values, 18)?, &mut s.v2),
            "proc3" => fill(counted(values, 22)?, &mut s.v3),
            // NULL and COMPOUND; not reported, but checked like the rest.
            "proc4" => exact(counted(values, 2)?, &mut [0; 2])?,
            "proc4ops" => fill(counted(values, 39)?, &mut s.v4_ops),
            "wdeleg_getattr" => s.wdeleg_getattr = values.first().copied().unwrap_or(0),
            // Lines a later kernel may add are not ours to refuse.
            _ => {}
        }
        Ok(())
    })?;
    Ok(s)
}

impl Default for Server {
    fn default() -> Self {
        Self {
            rc: [0; 3],
            fh: [0; 5],
            io: [0; 2],
            th: [0; 2],
            ra: [0; 12],
            net: [0; 4],
            rpc: [0; 5],
            v2: [0; 18],
            v3: [0; 22],
            v4_ops: [0; 40],
            wdeleg_getattr: 0,
        }
    }
}

struct Nfsd(Arc<HostPaths>);

impl HostCollector for Nfsd {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("net/rpc/nfsd");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /proc/net/rpc/nfsd: the NFS server is not loaded".into())),
            Err(e) => return Err(e),
        };
        let s = parse(&text).map_err(|d| Error::parse(&path, d))?;
        let counters: [(&'static str, &'static str, u64); 9] = [
            ("node_nfsd_reply_cache_hits_total", "Total number of NFSd Reply Cache hits (client lost server response).", s.rc[0]),
            (
                "node_nfsd_reply_cache_misses_total",
                "Total number of NFSd Reply Cache an operation that requires caching (idempotent).",
                s.rc[1],
            ),
            (
                "node_nfsd_reply_cache_nocache_total",
                "Total number of NFSd Reply Cache non-idempotent operations (rename/delete/…).",
                s.rc[2],
            ),
            ("node_nfsd_file_handles_stale_total", "Total number of NFSd stale file handles", s.fh[0]),
            ("node_nfsd_disk_bytes_read_total", "Total NFSd bytes read.", s.io[0]),
            ("node_nfsd_disk_bytes_written_total", "Total NFSd bytes written.", s.io[1]),
            ("node_nfsd_read_ahead_cache_not_found_total", "Total number of NFSd read ahead cache not found.", s.ra[11]),
            ("node_nfsd_connections_total", "Total number of NFSd TCP connections.", s.net[3]),
            ("node_nfsd_server_rpcs_total", "Total number of NFSd RPCs.", s.rpc[0]),
        ];
        for (name, help, v) in counters {
            out.counter(name, help, &[], v as f64);
        }
        out.gauge("node_nfsd_server_threads", "Total number of NFSd kernel threads that are running.", &[], s.th[0] as f64);
        out.gauge("node_nfsd_read_ahead_cache_size_blocks", "How large the read ahead cache is in blocks.", &[], s.ra[0] as f64);
        out.family("node_nfsd_packets_total", "Total NFSd network packets (sent+received) by protocol type.", Kind::Counter)
            .add(&[("proto", "udp")], s.net[1] as f64)
            .add(&[("proto", "tcp")], s.net[2] as f64);
        out.family("node_nfsd_rpc_errors_total", "Total number of NFSd RPC errors by error type.", Kind::Counter)
            .add(&[("error", "fmt")], s.rpc[2] as f64)
            .add(&[("error", "auth")], s.rpc[3] as f64)
            .add(&[("error", "cInt")], s.rpc[4] as f64);

        let fam = out.family("node_nfsd_requests_total", "Total number NFSd Requests by method and protocol.", Kind::Counter);
        // The server's Null procedures are not reported.
        for (method, v) in V2.iter().zip(&s.v2).skip(1) {
            fam.add(&[("method", method), ("proto", "2")], *v as f64);
        }
        for (method, v) in V3.iter().zip(&s.v3).skip(1) {
            fam.add(&[("method", method), ("proto", "3")], *v as f64);
        }
        for (i, method) in V4_OPS {
            fam.add(&[("method", method), ("proto", "4")], s.v4_ops.get(i).copied().unwrap_or(0) as f64);
        }
        fam.add(&[("method", "WdelegGetattr"), ("proto", "4")], s.wdeleg_getattr as f64);
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Nfsd(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "rc 0 6 18622\nfh 0 0 0 0 0\nio 157286400 72864\n\
        th 8 0 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000 0.000\nra 32 0 0 0 0 0 0 0 0 0 0 0\n\
        net 972 55 917 1\nrpc 18628 3 1 2 0\nproc2 18 2 69 0 0 4410 0 0 0 0 0 0 0 0 0 0 0 99 2\n\
        proc3 22 2 112 0 2719 111 0 0 0 0 0 0 0 0 0 0 0 27 216 0 2 1 0\nproc4 2 2 10853\n\
        proc4ops 72 0 0 0 1098 2 0 0 0 0 8179 5896 0 0 0 0 5900 0 0 2 0 2 0 9609 0 2 150 1272 0 0 0 1236 0 0 0 0 3 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n\
        wdeleg_getattr 15\n";

    #[test]
    fn parses_the_fixture() {
        let s = parse(FIXTURE).unwrap();
        assert_eq!(s.rc, [0, 6, 18622]);
        assert_eq!(s.th, [8, 0]);
        assert_eq!(s.ra[0], 32);
        assert_eq!(s.rpc, [18628, 3, 1, 2, 0]);
        assert_eq!(s.v2[16], 99);
        assert_eq!((s.v4_ops[3], s.v4_ops[9], s.v4_ops[22]), (1098, 8179, 9609));
        assert_eq!(s.wdeleg_getattr, 15);
    }

    #[test]
    fn refuses_malformed_lines() {
        assert!(parse("").is_ok());
        assert!(parse("rc 0 6\n").unwrap_err().contains("line 1"));
        assert!(parse("th 8\n").is_err());
        assert!(parse("th 8 x\n").is_err());
        assert!(parse("io 1 184467440737095516150\n").is_err());
        assert!(parse("proc4ops 3 1 2 3\n").is_err());
        assert!(parse("proc4 3 1 2 3\n").is_err());
        assert!(parse("wdeleg_getattr\n").is_err());
    }
}
