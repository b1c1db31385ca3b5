//! The `swap` collector: each swap device or file from `/proc/swaps` as
//! `node_swap_{size_bytes,used_bytes,priority}{device,swap_type}`.
//! (`node_memory_Swap*` from `/proc/meminfo` are the `meminfo` collector's.)

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// One line of `/proc/swaps`.
#[derive(Debug, PartialEq)]
pub struct Swap {
    /// The device or file, as the kernel writes it (spaces as `\040`).
    pub device: String,
    /// `partition` or `file`.
    pub kind: String,
    /// Size in KiB.
    pub size_kib: i64,
    /// Used in KiB.
    pub used_kib: i64,
    /// Priority (negative when the kernel chose it).
    pub priority: i64,
}

/// Parses `/proc/swaps`: a header line, then `Filename Type Size Used Priority`.
pub fn parse(text: &str) -> Result<Vec<Swap>, String> {
    let mut swaps = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let at = |detail: String| format!("line {}: {detail}", n + 1);
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let [device, kind, size, used, priority, ..] = fields.as_slice() else {
            return Err(at(format!("fewer than 5 fields: {line:?}")));
        };
        let int = |what: &str, v: &str| v.parse::<i64>().map_err(|_| at(format!("{what} {v:?} is not an integer")));
        swaps.push(Swap {
            device: (*device).to_owned(),
            kind: (*kind).to_owned(),
            size_kib: int("size", size)?,
            used_kib: int("used", used)?,
            priority: int("priority", priority)?,
        });
    }
    Ok(swaps)
}

struct SwapCollector(Arc<HostPaths>);

impl HostCollector for SwapCollector {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("swaps");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: the kernel has no swap support", path.display()))),
            Err(e) => return Err(e),
        };
        let swaps = parse(&text).map_err(|d| Error::parse(&path, d))?;
        for s in &swaps {
            let labels = [("device", s.device.as_str()), ("swap_type", s.kind.as_str())];
            out.family("node_swap_size_bytes", "Swap device size in bytes.", Kind::Gauge).add(&labels, s.size_kib as f64 * 1024.0);
            out.family("node_swap_used_bytes", "Swap device used in bytes.", Kind::Gauge).add(&labels, s.used_kib as f64 * 1024.0);
            out.family("node_swap_priority", "Swap device priority.", Kind::Gauge).add(&labels, s.priority as f64);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(SwapCollector(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_fixture() {
        let swaps = parse(include_str!("../../../testdata/upstream/node_exporter/proc/swaps")).unwrap();
        assert_eq!(swaps, [Swap { device: "/dev/zram0".into(), kind: "partition".into(), size_kib: 8388604, used_kib: 76, priority: 100 }]);
        let two = parse("Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition 1048572 0 -2\n/swap\\040file file 4096 12 -3\n").unwrap();
        assert_eq!(two[1], Swap { device: "/swap\\040file".into(), kind: "file".into(), size_kib: 4096, used_kib: 12, priority: -3 });
    }

    #[test]
    fn refuses_malformed_input() {
        assert!(parse("").unwrap().is_empty());
        let head = "Filename Type Size Used Priority\n";
        assert!(parse(head).unwrap().is_empty());
        assert!(parse(&format!("{head}/dev/sda2 partition 1048572 0\n")).unwrap_err().contains("line 2"));
        assert!(parse(&format!("{head}/dev/sda2 partition x 0 -2\n")).unwrap_err().contains("size"));
        assert!(parse(&format!("{head}/dev/sda2 partition 99999999999999999999 0 -2\n")).is_err());
    }
}
