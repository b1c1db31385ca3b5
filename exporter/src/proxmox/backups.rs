//! What the backup storages and vzdump tasks say about each guest's
//! newest backup: pure, no I/O. The collector fetches what
//! [`logs_to_fetch`] asks for; [`super::emit`] writes the `pve_backup_*`
//! families from [`node_outcomes`] and [`newest_backups`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::api::{Content, LogLine, Num, Task, Text};

/// What a vzdump task log says about one guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestRun {
    /// The guest.
    pub vmid: u32,
    /// `Some(true)` finished, `Some(false)` failed, `None` started only.
    pub ok: Option<bool>,
}

/// Reads the per-guest results out of a vzdump task log: `Starting Backup
/// of VM N (type)`, `Finished Backup of VM N (...)`, `Backup of VM N failed
/// - ...` (PVE::VZDump's messages). Other lines are skipped.
pub fn parse_vzdump_log(lines: &[LogLine]) -> Vec<GuestRun> {
    let mut runs: Vec<GuestRun> = Vec::new();
    let mut set = |vmid: u32, ok: Option<bool>| match runs.iter_mut().find(|r| r.vmid == vmid) {
        Some(r) => {
            if ok.is_some() {
                r.ok = ok;
            }
        }
        None => runs.push(GuestRun { vmid, ok }),
    };
    for line in lines {
        let t = line.t.as_str();
        let msg = t.split_once(": ").map(|(_, m)| m).unwrap_or(t);
        if let Some(rest) = msg.strip_prefix("Starting Backup of VM ") {
            if let Some(vmid) = leading_vmid(rest) {
                set(vmid, None);
            }
        } else if let Some(rest) = msg.strip_prefix("Finished Backup of VM ") {
            if let Some(vmid) = leading_vmid(rest) {
                set(vmid, Some(true));
            }
        } else if let Some(rest) = msg.strip_prefix("Backup of VM ") {
            if let Some(vmid) = leading_vmid(rest) {
                if rest[digits_len(rest)..].starts_with(" failed") {
                    set(vmid, Some(false));
                }
            }
        }
    }
    runs
}

fn digits_len(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

fn leading_vmid(s: &str) -> Option<u32> {
    let n = digits_len(s);
    if n == 0 || !matches!(s.as_bytes().get(n), None | Some(b' ')) {
        return None;
    }
    s[..n].parse().ok()
}

/// A task's status counts as success: `OK` or `WARNINGS: n`.
pub fn task_succeeded(status: &str) -> bool {
    status == "OK" || status.starts_with("WARNINGS")
}

/// The VMID a vzdump task is for, when it backed up exactly one guest.
pub fn single_guest(task: &Task) -> Option<u32> {
    task.id.as_ref().and_then(|id| id.as_str().parse().ok())
}

/// The newest-first order of a node's tasks.
pub fn newest_first(tasks: &[Task]) -> Vec<&Task> {
    let mut sorted: Vec<&Task> = tasks.iter().filter(|t| is_vzdump(t) && t.endtime.is_some()).collect();
    sorted.sort_by(|a, b| {
        let ka = a.starttime.map(|n| n.0).unwrap_or(0.0);
        let kb = b.starttime.map(|n| n.0).unwrap_or(0.0);
        kb.total_cmp(&ka)
    });
    sorted
}

fn is_vzdump(t: &Task) -> bool {
    t.kind.as_ref().is_none_or(|k| k.as_str() == "vzdump")
}

/// Which multi-guest task logs to fetch for a node: walking its tasks
/// newest first until every guest in `guests` is covered by a task already
/// known, taking at most `max` logs not in `known`.
pub fn logs_to_fetch(tasks: &[Task], guests: &HashSet<u32>, known: &HashMap<String, Arc<Vec<GuestRun>>>, max: usize) -> Vec<String> {
    let mut covered: HashSet<u32> = HashSet::new();
    let mut wanted = Vec::new();
    for task in newest_first(tasks) {
        if guests.iter().all(|g| covered.contains(g)) || wanted.len() >= max {
            break;
        }
        match single_guest(task) {
            Some(vmid) => {
                covered.insert(vmid);
            }
            None => match known.get(&task.upid) {
                Some(runs) => covered.extend(runs.iter().map(|r| r.vmid)),
                None => wanted.push(task.upid.clone()),
            },
        }
    }
    wanted
}

/// The newest vzdump outcome of a guest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Task start (Unix seconds), to pick the newest across nodes.
    pub start: f64,
    /// Task end (Unix seconds).
    pub end: f64,
    /// Whether the guest's backup succeeded.
    pub ok: bool,
}

/// Each guest's newest vzdump outcome on one node. A multi-guest task whose
/// log is not known stops the walk: older tasks might be superseded by it.
pub fn node_outcomes(tasks: &[Task], logs: &HashMap<String, Arc<Vec<GuestRun>>>) -> BTreeMap<u32, Outcome> {
    let mut out = BTreeMap::new();
    for task in newest_first(tasks) {
        let status = task.status.as_ref().map(Text::as_str).unwrap_or("");
        let start = task.starttime.map(|n| n.0).unwrap_or(0.0);
        let end = task.endtime.map(|n| n.0).unwrap_or(0.0);
        match single_guest(task) {
            Some(vmid) => {
                out.entry(vmid).or_insert(Outcome { start, end, ok: task_succeeded(status) });
            }
            None => {
                let Some(runs) = logs.get(&task.upid) else { break };
                for run in runs.iter() {
                    let ok = run.ok.unwrap_or_else(|| task_succeeded(status));
                    out.entry(run.vmid).or_insert(Outcome { start, end, ok });
                }
            }
        }
    }
    out
}

/// Newest backup of a guest: (ctime, size).
pub fn newest_backups(contents: &[(String, Vec<Content>)]) -> BTreeMap<u32, (f64, f64)> {
    let mut out: BTreeMap<u32, (f64, f64)> = BTreeMap::new();
    for (_, items) in contents {
        for item in items {
            if item.content.as_ref().is_some_and(|c| c.as_str() != "backup") {
                continue;
            }
            let (Some(Num(vmid)), Some(Num(ctime))) = (item.vmid, item.ctime) else { continue };
            if vmid < 0.0 || vmid > u32::MAX as f64 || vmid.fract() != 0.0 {
                continue;
            }
            let size = item.size.map(|n| n.0).unwrap_or(0.0);
            let slot = out.entry(vmid as u32).or_insert((ctime, size));
            if ctime > slot.0 {
                *slot = (ctime, size);
            }
        }
    }
    out
}

/// Unix time of midnight UTC of a `YYYY-MM-DD` date.
pub fn date_to_unix(date: &str) -> Option<f64> {
    let mut parts = date.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    // Four-digit years only: the arithmetic below must not overflow.
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(0..=9999).contains(&y) {
        return None;
    }
    let days = crate::civil::days_from_civil(y, m, d);
    Some((days * 86_400) as f64)
}

#[cfg(test)]
mod tests {
    use super::super::api::decode;
    use super::*;

    fn lines(text: &str) -> Vec<LogLine> {
        text.lines().map(|t| LogLine { t: t.to_owned() }).collect()
    }

    #[test]
    fn vzdump_log_gives_each_guest_result() {
        let log = lines(
            "INFO: starting new backup job: vzdump 100 101 102 --storage pbs --mode snapshot\n\
             INFO: Starting Backup of VM 100 (qemu)\n\
             INFO: Backup started at 2024-06-11 01:00:02\n\
             INFO: Finished Backup of VM 100 (00:00:42)\n\
             INFO: Starting Backup of VM 101 (lxc)\n\
             ERROR: Backup of VM 101 failed - command 'lxc-freeze -n 101' failed: exit code 1\n\
             INFO: Starting Backup of VM 102 (qemu)\n\
             INFO: Backup of VM 1x failed - garbled\n\
             Backup of VM\n\
             INFO: Backup job finished with errors\n\
             TASK ERROR: job errors",
        );
        assert_eq!(
            parse_vzdump_log(&log),
            vec![
                GuestRun { vmid: 100, ok: Some(true) },
                GuestRun { vmid: 101, ok: Some(false) },
                GuestRun { vmid: 102, ok: None },
            ]
        );
        assert!(parse_vzdump_log(&[]).is_empty());
    }

    fn task(upid: &str, id: &str, start: f64, status: &str) -> Task {
        Task {
            upid: upid.into(),
            kind: Some(Text("vzdump".into())),
            id: Some(Text(id.into())),
            status: Some(Text(status.into())),
            starttime: Some(Num(start)),
            endtime: Some(Num(start + 60.0)),
        }
    }

    #[test]
    fn newest_task_per_guest_wins_and_unknown_logs_stop_the_walk() {
        let tasks = vec![
            task("A", "", 300.0, "job errors"),
            task("B", "100", 400.0, "OK"),
            task("C", "", 200.0, "OK"),
            task("D", "101", 100.0, "OK"),
        ];
        let mut logs = HashMap::new();
        logs.insert("A".to_owned(), Arc::new(vec![GuestRun { vmid: 100, ok: Some(true) }, GuestRun { vmid: 101, ok: Some(false) }, GuestRun { vmid: 102, ok: None }]));
        let out = node_outcomes(&tasks, &logs);
        assert_eq!(out[&100], Outcome { start: 400.0, end: 460.0, ok: true });
        assert_eq!(out[&101], Outcome { start: 300.0, end: 360.0, ok: false });
        // Started but never finished, in a task that ended with errors.
        assert!(!out[&102].ok);
        // C's log is unknown: D (older) must not decide anything.
        assert!(!out.contains_key(&103));
        let guests: HashSet<u32> = [100, 101, 103].into();
        assert_eq!(logs_to_fetch(&tasks, &guests, &logs, 3), vec!["C".to_owned()]);
        assert_eq!(logs_to_fetch(&tasks, &guests, &HashMap::new(), 1), vec!["A".to_owned()]);
        let covered: HashSet<u32> = [100].into();
        assert!(logs_to_fetch(&tasks, &covered, &HashMap::new(), 3).is_empty());
    }

    #[test]
    fn newest_backup_per_guest() {
        let pbs: Vec<Content> = decode(
            br#"{"data":[
              {"volid":"pbs:backup/vm/100/2024-06-10T01:00:00Z","content":"backup","ctime":1717981200,"size":100,"vmid":100,"format":"pbs-vm"},
              {"volid":"pbs:backup/vm/100/2024-06-11T01:00:00Z","content":"backup","ctime":1718067600,"size":110,"vmid":100,"format":"pbs-vm"},
              {"volid":"pbs:backup/ct/101/2024-06-11T01:00:00Z","content":"backup","ctime":1718067700,"size":5,"vmid":"101"}
            ]}"#,
        )
        .unwrap();
        let local: Vec<Content> = decode(
            br#"{"data":[{"volid":"local:backup/vzdump-qemu-100-2024_06_12-01_00_00.vma.zst","content":"backup","ctime":1718154000,"size":90,"vmid":100},
                         {"volid":"local:iso/x.iso","content":"iso","ctime":1,"size":1},
                         {"volid":"local:backup/odd","content":"backup","size":1,"vmid":102}]}"#,
        )
        .unwrap();
        let newest = newest_backups(&[("storage/pve1/pbs".into(), pbs), ("storage/pve1/local".into(), local)]);
        assert_eq!(newest[&100], (1718154000.0, 90.0));
        assert_eq!(newest[&101], (1718067700.0, 5.0));
        assert_eq!(newest.len(), 2);
    }

    #[test]
    fn due_dates_are_utc_midnight() {
        assert_eq!(date_to_unix("1970-01-01"), Some(0.0));
        assert_eq!(date_to_unix("2027-01-01"), Some(1798761600.0));
        assert_eq!(date_to_unix("2024-02-29"), Some(1709164800.0));
        for bad in ["", "2024-13-01", "2024-01", "x-y-z"] {
            assert_eq!(date_to_unix(bad), None, "{bad}");
        }
    }

    /// Found with the proxmox_json fuzz target's harness: a subscription's
    /// `nextduedate` with a huge year overflowed the day arithmetic.
    #[test]
    fn due_dates_with_huge_years_are_refused() {
        for bad in ["9223372036854775807-01-01", "-9223372036854775808-03-01", "10000-01-01", "-1-01-01"] {
            assert_eq!(date_to_unix(bad), None, "{bad}");
        }
        assert_eq!(date_to_unix("9999-12-31"), Some(253402214400.0));
    }
}
