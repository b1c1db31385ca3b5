//! The `nfs` collector: NFS client RPC statistics from
//! `/proc/net/rpc/nfs` as `node_nfs_*`. Also home of the line reader the
//! `nfsd` collector shares: both files are lines of a keyword followed by
//! unsigned counters.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// Calls `line(keyword, values)` for each line of an RPC statistics file.
///
/// Every value after the keyword must be an unsigned integer, except past
/// the first `limit(keyword)` values (nfsd's `th` line ends in decimals
/// nobody reads). A line with a keyword and no value is an error.
pub fn read_lines(
    text: &str,
    limit: impl Fn(&str) -> usize,
    mut line: impl FnMut(&str, &[u64]) -> Result<(), String>,
) -> Result<(), String> {
    let mut values = Vec::new();
    for (n, text) in text.lines().enumerate() {
        let mut fields = text.split_ascii_whitespace();
        let Some(key) = fields.next() else {
            return Err(format!("line {}: empty line", n + 1));
        };
        values.clear();
        for field in fields.take(limit(key)) {
            let v = field.parse::<u64>().map_err(|_| format!("line {}: {key}: {field:?} is not an unsigned integer", n + 1))?;
            values.push(v);
        }
        if values.is_empty() {
            return Err(format!("line {}: {key} has no values", n + 1));
        }
        line(key, &values).map_err(|d| format!("line {}: {key}: {d}", n + 1))?;
    }
    Ok(())
}

/// Copies `values` into `into`, which must be exactly as long.
pub fn exact(values: &[u64], into: &mut [u64]) -> Result<(), String> {
    if values.len() != into.len() {
        return Err(format!("expected {} values, got {}", into.len(), values.len()));
    }
    into.copy_from_slice(values);
    Ok(())
}

/// The counters of a `procN` line: its first value is their count, which
/// must match the values that follow and be at least `min`.
pub fn counted(values: &[u64], min: usize) -> Result<&[u64], String> {
    let (&count, rest) = values.split_first().ok_or("no count")?;
    if count != rest.len() as u64 || rest.len() < min {
        return Err(format!("count {count} with {} values (at least {min} expected)", rest.len()));
    }
    Ok(rest)
}

/// Procedure names of the `proc2` line, in the kernel's order.
pub const V2: [&str; 18] = [
    "Null", "GetAttr", "SetAttr", "Root", "Lookup", "ReadLink", "Read", "WrCache", "Write", "Create", "Remove", "Rename", "Link",
    "SymLink", "MkDir", "RmDir", "ReadDir", "FsStat",
];

/// Procedure names of the `proc3` line, in the kernel's order.
pub const V3: [&str; 22] = [
    "Null", "GetAttr", "SetAttr", "Lookup", "Access", "ReadLink", "Read", "Write", "Create", "MkDir", "SymLink", "MkNod", "Remove",
    "RmDir", "Rename", "Link", "ReadDir", "ReadDirPlus", "FsStat", "FsInfo", "PathConf", "Commit",
];

/// Names node_exporter gives the client's `proc4` counters, by position.
/// Positions 44 and 45 are named GetDeviceInfo and LayoutGet, the reverse
/// of the kernel's order, as node_exporter (through procfs) reports them.
const CLIENT_V4: [&str; 59] = [
    "Null", "Read", "Write", "Commit", "Open", "OpenConfirm", "OpenNoattr", "OpenDowngrade", "Close", "Setattr", "FsInfo", "Renew",
    "SetClientID", "SetClientIDConfirm", "Lock", "Lockt", "Locku", "Access", "Getattr", "Lookup", "LookupRoot", "Remove", "Rename",
    "Link", "Symlink", "Create", "Pathconf", "StatFs", "ReadLink", "ReadDir", "ServerCaps", "DelegReturn", "GetACL", "SetACL",
    "FsLocations", "ReleaseLockowner", "Secinfo", "FsidPresent", "ExchangeID", "CreateSession", "DestroySession", "Sequence",
    "GetLeaseTime", "ReclaimComplete", "GetDeviceInfo", "LayoutGet", "LayoutCommit", "LayoutReturn", "SecinfoNoName", "TestStateID",
    "FreeStateID", "GetDeviceList", "BindConnToSession", "DestroyClientID", "Seek", "Allocate", "DeAllocate", "LayoutStats", "Clone",
];

/// What `/proc/net/rpc/nfs` says. A line the file lacks leaves zeros, as
/// node_exporter reports them.
#[derive(Debug, PartialEq)]
pub struct Client {
    /// `net`: packets, UDP packets, TCP packets, TCP connections.
    pub net: [u64; 4],
    /// `rpc`: calls, retransmissions, authentication refreshes.
    pub rpc: [u64; 3],
    /// `proc2` counters, by [`V2`].
    pub v2: [u64; 18],
    /// `proc3` counters, by [`V3`].
    pub v3: [u64; 22],
    /// `proc4` counters by position; an older kernel's shorter line is
    /// padded with zeros.
    pub v4: [u64; 59],
}

impl Default for Client {
    fn default() -> Self {
        Self { net: [0; 4], rpc: [0; 3], v2: [0; 18], v3: [0; 22], v4: [0; 59] }
    }
}

/// Copies the first counters of a version line into `into`; missing ones stay zero.
pub fn fill(values: &[u64], into: &mut [u64]) {
    for (slot, v) in into.iter_mut().zip(values) {
        *slot = *v;
    }
}

/// Parses `/proc/net/rpc/nfs`.
pub fn parse(text: &str) -> Result<Client, String> {
    let mut c = Client::default();
    read_lines(text, |_| usize::MAX, |key, values| {
        match key {
            "net" => exact(values, &mut c.net)?,
            "rpc" => exact(values, &mut c.rpc)?,
            "proc2" => fill(counted(values, 18)?, &mut c.v2),
            "proc3" => fill(counted(values, 22)?, &mut c.v3),
            "proc4" => fill(counted(values, 0)?, &mut c.v4),
            // Lines a later kernel may add are not ours to refuse.
            _ => {}
        }
        Ok(())
    })?;
    Ok(c)
}

struct Nfs(Arc<HostPaths>);

impl HostCollector for Nfs {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("net/rpc/nfs");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /proc/net/rpc/nfs: the NFS client is not loaded".into())),
            Err(e) => return Err(e),
        };
        let c = parse(&text).map_err(|d| Error::parse(&path, d))?;
        out.family("node_nfs_packets_total", "Total NFSd network packets (sent+received) by protocol type.", Kind::Counter)
            .add(&[("protocol", "udp")], c.net[1] as f64)
            .add(&[("protocol", "tcp")], c.net[2] as f64);
        out.counter("node_nfs_connections_total", "Total number of NFSd TCP connections.", &[], c.net[3] as f64);
        out.counter("node_nfs_rpcs_total", "Total number of RPCs performed.", &[], c.rpc[0] as f64);
        out.counter("node_nfs_rpc_retransmissions_total", "Number of RPC transmissions performed.", &[], c.rpc[1] as f64);
        out.counter(
            "node_nfs_rpc_authentication_refreshes_total",
            "Number of RPC authentication refreshes performed.",
            &[],
            c.rpc[2] as f64,
        );
        let fam = out.family("node_nfs_requests_total", "Number of NFS procedures invoked.", Kind::Counter);
        let versions: [(&str, &[&str], &[u64]); 3] = [("2", &V2, &c.v2), ("3", &V3, &c.v3), ("4", &CLIENT_V4, &c.v4)];
        for (proto, names, values) in versions {
            for (method, v) in names.iter().zip(values) {
                fam.add(&[("method", method), ("proto", proto)], *v as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Nfs(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = "net 70 70 69 45\nrpc 1218785755 374636 1218815394\n\
        proc2 18 16 57 74 52 71 73 45 86 0 52 83 61 17 53 50 23 70 82\n\
        proc3 22 0 1061909262 48906 4077635 117661341 5 29391916 2570425 2993289 590 0 0 7815 15 1130 0 3983 92385 13332 2 1 23729\n\
        proc4 48 98 51 54 83 85 23 24 1 28 73 68 83 12 84 39 68 59 58 88 29 74 69 96 21 84 15 53 86 54 66 56 97 36 49 32 85 81 11 58 32 67 13 28 35 1 90 26 0\n";

    #[test]
    fn parses_the_fixture_and_pads_a_short_proc4() {
        let c = parse(FIXTURE).unwrap();
        assert_eq!(c.net, [70, 70, 69, 45]);
        assert_eq!(c.rpc, [1218785755, 374636, 1218815394]);
        assert_eq!(c.v2[17], 82);
        assert_eq!(c.v3[1], 1061909262);
        assert_eq!((c.v4[0], c.v4[44], c.v4[45], c.v4[47], c.v4[58]), (98, 1, 90, 0, 0));
    }

    #[test]
    fn refuses_malformed_lines() {
        assert!(parse("").is_ok());
        assert!(parse("net 1 2 3\n").unwrap_err().contains("line 1"));
        assert!(parse("net\n").is_err());
        assert!(parse("rpc 1 2 99999999999999999999999\n").is_err());
        assert!(parse("rpc 1 x 3\n").is_err());
        assert!(parse("proc2 3 1 2 3\n").is_err());
        assert!(parse("proc3 23 1 2\n").is_err());
        assert!(parse("proc4 2 1\n").is_err());
        assert!(parse("\n").is_err());
    }
}
