//! The `mdadm` collector: Linux software RAID (what a Synology NAS runs) from
//! `/proc/mdstat`, plus `degraded` and `raid_disks` from `/sys/block/md*/md`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_u64};
use crate::metrics::{Kind, Snapshot};

/// One array of `/proc/mdstat`.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct MdStat {
    /// Device name, e.g. `md0`.
    pub name: String,
    /// `active`, `inactive`, `recovering`, `resyncing` or `checking`.
    pub state: String,
    /// Active disks.
    pub active: u64,
    /// Failed disks (`(F)`).
    pub failed: u64,
    /// Spare disks (`(S)`).
    pub spare: u64,
    /// Disks the array should have.
    pub total: u64,
    /// Size in blocks.
    pub blocks: u64,
    /// Blocks synced (the size when no sync runs).
    pub blocks_synced: u64,
}

/// Counts, size of an array from its device line and status line.
fn eval_status(device_line: &str, status_line: &str) -> Result<(u64, u64, u64), String> {
    let size: u64 = status_line
        .split_ascii_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no block count in {status_line:?}"))?;
    if device_line.contains("raid0") || device_line.contains("linear") {
        // Only member disks carry a "[n]" on the device line.
        let total = device_line.matches('[').count() as u64;
        return Ok((total, total, size));
    }
    if device_line.contains("inactive") {
        return Ok((0, 0, size));
    }
    // "... [total/active] [UU_]"
    let bracket = status_line
        .split_ascii_whitespace()
        .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')).and_then(|w| w.split_once('/')))
        .ok_or_else(|| format!("no [total/active] in {status_line:?}"))?;
    let total = bracket.0.parse().map_err(|_| format!("bad disk count in {status_line:?}"))?;
    let active = bracket.1.parse().map_err(|_| format!("bad disk count in {status_line:?}"))?;
    Ok((active, total, size))
}

/// Parses `/proc/mdstat`.
pub fn parse(text: &str) -> Result<Vec<MdStat>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() || line.starts_with([' ', '\t']) || line.starts_with("Personalities") || line.starts_with("unused") {
            continue;
        }
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < 3 || fields[1] != ":" {
            return Err(format!("line {}: expected 'mdX : state ...', got {line:?}", i + 1));
        }
        let status_line = lines.get(i + 1).ok_or_else(|| format!("line {}: array without a status line", i + 1))?;
        let (active, total, size) = eval_status(line, status_line).map_err(|e| format!("line {}: {e}", i + 2))?;
        let mut md = MdStat {
            name: fields[0].to_owned(),
            state: fields[2].to_owned(),
            active,
            total,
            failed: line.matches("(F)").count() as u64,
            spare: line.matches("(S)").count() as u64,
            blocks: size,
            blocks_synced: size,
        };
        let mut sync_idx = i + 2;
        if lines.get(sync_idx).is_some_and(|l| l.contains("bitmap")) {
            sync_idx += 1;
        }
        let sync = lines.get(sync_idx).copied().unwrap_or("");
        let (recovering, resyncing, checking) = (sync.contains("recovery"), sync.contains("resync"), sync.contains("check"));
        if recovering || resyncing || checking {
            md.state = if recovering { "recovering" } else if checking { "checking" } else { "resyncing" }.to_owned();
            if sync.contains("PENDING") || sync.contains("DELAYED") {
                md.blocks_synced = 0;
            } else {
                // "... (16775552/195310144) ..."
                let done = sync
                    .split_once('(')
                    .and_then(|(_, r)| r.split_once('/'))
                    .and_then(|(d, _)| d.parse().ok())
                    .ok_or_else(|| format!("line {}: no (done/total) in {sync:?}", sync_idx + 1))?;
                md.blocks_synced = done;
            }
        }
        out.push(md);
    }
    Ok(out)
}

struct Mdadm(Arc<HostPaths>);

impl HostCollector for Mdadm {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("mdstat");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /proc/mdstat: md driver not loaded".into())),
            Err(e) => return Err(e),
        };
        let arrays = parse(&text).map_err(|d| Error::parse(&path, d))?;
        for md in &arrays {
            let dev = md.name.as_str();
            let disks = out.family("node_md_disks", "Number of active/failed/spare disks of device.", Kind::Gauge);
            disks.add(&[("device", dev), ("state", "active")], md.active as f64);
            disks.add(&[("device", dev), ("state", "failed")], md.failed as f64);
            disks.add(&[("device", dev), ("state", "spare")], md.spare as f64);
            out.gauge("node_md_disks_required", "Total number of disks of device.", &[("device", dev)], md.total as f64);
            out.gauge("node_md_blocks", "Total number of blocks on device.", &[("device", dev)], md.blocks as f64);
            out.gauge("node_md_blocks_synced", "Number of blocks synced on device.", &[("device", dev)], md.blocks_synced as f64);
            let state = out.family("node_md_state", "Indicates the state of md-device.", Kind::Gauge);
            for (label, s) in [("active", "active"), ("inactive", "inactive"), ("recovering", "recovering"), ("resync", "resyncing"), ("check", "checking")] {
                state.add(&[("device", dev), ("state", label)], if md.state == s { 1.0 } else { 0.0 });
            }
        }
        let block = self.0.sys("block");
        if let Ok(devices) = list_dir(&block) {
            for dev in devices.iter().filter(|d| d.starts_with("md")) {
                let md_dir = block.join(dev).join("md");
                let Ok(raid_disks) = read_u64(&md_dir.join("raid_disks")) else { continue };
                out.gauge("node_md_raid_disks", "Number of raid disks on device.", &[("device", dev)], raid_disks as f64);
                let degraded = read_u64(&md_dir.join("degraded")).unwrap_or(0);
                out.gauge("node_md_degraded", "Number of degraded disks on device.", &[("device", dev)], degraded as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Mdadm(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> MdStat {
        let v = parse(text).unwrap();
        assert_eq!(v.len(), 1, "{v:?}");
        v[0].clone()
    }

    #[test]
    fn healthy_raid1_on_a_synology() {
        let md = one("Personalities : [raid1]\nmd2 : active raid1 sda3[0] sdb3[1]\n      3902196544 blocks super 1.2 [2/2] [UU]\n\nunused devices: <none>\n");
        assert_eq!((md.state.as_str(), md.active, md.total, md.failed, md.blocks_synced), ("active", 2, 2, 0, 3902196544));
    }

    #[test]
    fn degraded_raid5_with_failed_disk() {
        let md = one("md3 : active raid5 sdc1[2](F) sdb1[1] sda1[0]\n      1953260544 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [UU_]\n\n");
        assert_eq!((md.active, md.total, md.failed), (2, 3, 1));
    }

    #[test]
    fn recovery_resync_check_and_pending() {
        let md = one("md6 : active raid1 sdb2[2] sda2[0]\n      195310144 blocks [2/1] [U_]\n      [=>...]  recovery =  8.5% (16775552/195310144) finish=17.0min speed=259783K/sec\n");
        assert_eq!((md.state.as_str(), md.blocks_synced), ("recovering", 16775552));
        let md = one("md1 : active raid1 a[0] b[1]\n      100 blocks [2/2] [UU]\n      [=>...]  check =  5.7% (5/100) finish=0.2min speed=1K/sec\n");
        assert_eq!((md.state.as_str(), md.blocks_synced), ("checking", 5));
        let md = one("md9 : active raid1 a[0] b[1]\n      100 blocks [2/2] [UU]\n      resync=DELAYED\n");
        assert_eq!((md.state.as_str(), md.blocks_synced), ("resyncing", 0));
        let md = one("md7 : active raid6 a[0] b[1] c[2] d[3]\n      100 blocks level 6 [4/4] [UUUU]\n      bitmap: 0/30 pages [0KB], 65536KB chunk\n      [=>...]  resync =  8.5% (10/100)\n");
        assert_eq!((md.state.as_str(), md.blocks_synced), ("resyncing", 10));
    }

    #[test]
    fn raid0_linear_and_inactive() {
        assert_eq!(one("md10 : active raid0 sda1[0] sdb1[1]\n       314159265 blocks 64k chunks\n").total, 2);
        assert_eq!(one("md120 : active linear sda1[1] sdb1[0] sdc1[2]\n        2095104 blocks super 1.2 0k rounding\n").active, 3);
        let md = one("md4 : inactive raid1 sda3[0](F) sdb3[1](S)\n      4883648 blocks [2/2] [UU]\n");
        assert_eq!((md.state.as_str(), md.active, md.total, md.failed, md.spare), ("inactive", 0, 0, 1, 1));
    }

    #[test]
    fn garbled_input_is_an_error_not_a_panic() {
        assert!(parse("md0 : active raid1 a[0]\n").is_err());
        assert!(parse("md0 : active raid1 a[0]\n   x blocks [2/2] [UU]\n").is_err());
        assert!(parse("md0 : active raid1 a[0]\n   10 blocks [2/x] [UU]\n").is_err());
        assert!(parse("md0 active\n").is_err());
        assert!(parse("md0 : active raid1 a[0]\n   10 blocks [2/2] [UU]\n   recovery = 1% (x/10)\n").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
