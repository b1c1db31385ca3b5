//! From what the Proxmox VE API answered to metric families: pure, no I/O.
//!
//! The `pve_*` families keep prometheus-pve-exporter's names, HELP texts,
//! types and label sets (its `collector/cluster.py` and `node.py`), so its
//! dashboards and alerts work unchanged. The `pve_backup_*` families are
//! ours: the newest backup of every guest found on the backup storages, and
//! the outcome of its newest vzdump task, for RPO alerts. The
//! `homelab_exporter_*` families say which parts of a scrape failed.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use super::api::{
    status_num, status_str, Content, GuestConfig, Num, NotBackedUp, QDevice, ReplicationJob, Resource,
    StatusEntry, Subscription, Task, Text, Version,
};
use super::backups::{date_to_unix, newest_backups, node_outcomes, GuestRun, Outcome};
use crate::metrics::{Family, Kind, Name, Sample, Snapshot};

/// Everything one endpoint answered during one scrape. `None` where the
/// request failed (or was not made).
#[derive(Debug, Default)]
pub struct Gathered {
    /// The endpoint as shown in the `target` label (`https://HOST:PORT`).
    pub endpoint: String,
    /// `/cluster/status`.
    pub status: Option<Vec<StatusEntry>>,
    /// `/cluster/resources`.
    pub resources: Option<Vec<Resource>>,
    /// `/version`.
    pub version: Option<Version>,
    /// `/cluster/backup-info/not-backed-up`.
    pub not_backed_up: Option<Vec<NotBackedUp>>,
    /// `/cluster/config/qdevice` (an error there means "no QDevice").
    pub qdevice: Option<QDevice>,
    /// Per online node, what its own endpoints answered.
    pub nodes: Vec<NodeGathered>,
    /// Backup content per storage: (`storage/NODE/NAME`, items).
    pub contents: Vec<(String, Vec<Content>)>,
    /// Parsed logs of multi-guest vzdump tasks, by UPID.
    pub logs: HashMap<String, Arc<Vec<GuestRun>>>,
    /// Requests that failed this scrape.
    pub failures: usize,
    /// True when a cluster-wide request failed.
    pub cluster_failed: bool,
}

/// What one node's endpoints answered.
#[derive(Debug, Default)]
pub struct NodeGathered {
    /// Node name.
    pub name: String,
    /// `onboot` of each guest config read: (`qemu`|`lxc`, vmid, config).
    pub configs: Vec<(&'static str, u32, GuestConfig)>,
    /// `/nodes/{node}/replication`.
    pub replication: Option<Vec<ReplicationJob>>,
    /// `/nodes/{node}/subscription`.
    pub subscription: Option<Subscription>,
    /// `/nodes/{node}/tasks?typefilter=vzdump`.
    pub tasks: Option<Vec<Task>>,
    /// False when any request for this node failed.
    pub complete: bool,
}

// prometheus-pve-exporter's HELP texts, verbatim.
const UP_HELP: &str = "Node/VM/CT-Status is online/running";
const VERSION_HELP: &str = "Proxmox VE version info";
const NODE_INFO_HELP: &str = "Node info";
const CLUSTER_INFO_HELP: &str = "Cluster info";
const QDEVICE_INFO_HELP: &str = "Proxmox VE QDevice info (1 if configured)";
const QDEVICE_UP_HELP: &str = "Proxmox VE QDevice is connected (1) or not (0)";
const HA_HELP: &str = "HA service status (for HA managed VMs).";
const LOCK_HELP: &str = "The guest's current config lock (for types 'qemu' and 'lxc')";
const GUEST_INFO_HELP: &str = "VM/CT info";
const STORAGE_INFO_HELP: &str = "Storage info";
const NOT_BACKED_UP_TOTAL_HELP: &str = "Total number of guests not covered by any backup job.";
const NOT_BACKED_UP_INFO_HELP: &str = "Present if guest is not covered by any backup job.";
const ONBOOT_HELP: &str = "Proxmox vm config onboot value";
const SUBSCRIPTION_INFO_HELP: &str = "Proxmox VE subscription info (1 if present)";
const SUBSCRIPTION_STATUS_HELP: &str = "Proxmox VE subscription status (1 if matches status)";
const SUBSCRIPTION_DUE_HELP: &str = "Subscription next due date as Unix timestamp";

/// (field, name, help, type) of the per-resource value families.
/// prometheus-pve-exporter 3.10 still emits the deprecated gauges
/// `pve_network_{transmit,receive}_bytes` and `pve_disk_{write,read}_bytes`
/// beside the `_total` counters, and the most used Proxmox dashboards read
/// them, so they are here too, with its help texts. In OpenMetrics three of
/// them share a family name with a counter; prometheus-pve-exporter writes
/// both families all the same, and Prometheus ingests both (checked with
/// Prometheus 2.42 scraping that output), so this exporter does likewise.
pub const SHARED_FAMILY_NAMES: [&str; 3] = ["pve_disk_read_bytes", "pve_network_receive_bytes", "pve_network_transmit_bytes"];
type ValueFamily = (&'static str, &'static str, &'static str, Kind);

const RESOURCE_VALUES: &[ValueFamily] = &[
    ("maxdisk", "pve_disk_size_bytes", "Storage size in bytes (for type 'storage'), root image size for VMs (for types 'qemu' and 'lxc').", Kind::Gauge),
    ("disk", "pve_disk_usage_bytes", "Used disk space in bytes (for type 'storage'), used root image space for VMs (for types 'qemu' and 'lxc').", Kind::Gauge),
    ("maxmem", "pve_memory_size_bytes", "Number of available memory in bytes (for types 'node', 'qemu' and 'lxc').", Kind::Gauge),
    ("mem", "pve_memory_usage_bytes", "Used memory in bytes (for types 'node', 'qemu' and 'lxc').", Kind::Gauge),
    ("cpu", "pve_cpu_usage_ratio", "CPU utilization (for types 'node', 'qemu' and 'lxc').", Kind::Gauge),
    ("maxcpu", "pve_cpu_usage_limit", "Number of available CPUs (for types 'node', 'qemu' and 'lxc').", Kind::Gauge),
    ("uptime", "pve_uptime_seconds", "Uptime of node or virtual guest in seconds (for types 'node', 'qemu' and 'lxc').", Kind::Gauge),
    ("shared", "pve_storage_shared", "Whether or not the storage is shared among cluster nodes", Kind::Gauge),
    ("netout", "pve_network_transmit_bytes", "The amount of traffic in bytes that was sent from the guest over the network since it was started. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_network_transmit_bytes_total instead.", Kind::Gauge),
    ("netin", "pve_network_receive_bytes", "The amount of traffic in bytes that was sent to the guest over the network since it was started. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_network_receive_bytes_total instead.", Kind::Gauge),
    ("diskwrite", "pve_disk_write_bytes", "The amount of bytes the guest wrote to its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_disk_written_bytes_total instead.", Kind::Gauge),
    ("diskread", "pve_disk_read_bytes", "The amount of bytes the guest read from its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc') DEPRECATED: Use pve_disk_read_bytes_total instead.", Kind::Gauge),
    ("netout", "pve_network_transmit_bytes_total", "The amount of traffic in bytes that was sent from the guest over the network since it was started. (for types 'qemu' and 'lxc')", Kind::Counter),
    ("netin", "pve_network_receive_bytes_total", "The amount of traffic in bytes that was sent to the guest over the network since it was started. (for types 'qemu' and 'lxc')", Kind::Counter),
    ("diskwrite", "pve_disk_written_bytes_total", "The amount of bytes the guest wrote to its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc')", Kind::Counter),
    ("diskread", "pve_disk_read_bytes_total", "The amount of bytes the guest read from its block devices since the guest was started. This info is not available for all storage types. (for types 'qemu' and 'lxc')", Kind::Counter),
];

fn resource_value(r: &Resource, field: &str) -> Option<f64> {
    let v = match field {
        "maxdisk" => r.maxdisk,
        "disk" => r.disk,
        "maxmem" => r.maxmem,
        "mem" => r.mem,
        "netout" => r.netout,
        "netin" => r.netin,
        "diskwrite" => r.diskwrite,
        "diskread" => r.diskread,
        "cpu" => r.cpu,
        "maxcpu" => r.maxcpu,
        "uptime" => r.uptime,
        "shared" => r.shared,
        _ => None,
    };
    v.map(|n| n.0)
}

const GUEST_HA_STATES: &[&str] = &[
    "stopped", "request_stop", "request_start", "request_start_balance", "started", "fence", "recovery", "migrate",
    "relocate", "freeze", "error",
];
const NODE_HA_STATES: &[&str] = &["online", "maintenance", "unknown", "fence", "gone"];
const LOCK_STATES: &[&str] =
    &["backup", "clone", "create", "migrate", "rollback", "snapshot", "snapshot-delete", "suspended", "suspending"];
const SUBSCRIPTION_STATUSES: &[&str] = &["new", "notfound", "active", "invalid", "expired", "suspended"];

/// A family built locally and pushed into the snapshot once.
fn fam(name: &'static str, help: &'static str, kind: Kind) -> Family {
    Family { name: Cow::Borrowed(name), help: Cow::Borrowed(help), kind, samples: Vec::new() }
}

fn push(f: &mut Family, labels: Vec<(Name, String)>, value: f64) {
    f.samples.push(Sample { suffix: "", labels: labels.into(), value, timestamp_ms: None });
}

fn id(v: impl Into<String>) -> Vec<(Name, String)> {
    vec![(Cow::Borrowed("id"), v.into())]
}

/// A boolean as a sample value: 1 or 0.
fn flag(v: bool) -> f64 {
    if v {
        1.0
    } else {
        0.0
    }
}

fn text(t: &Option<Text>) -> String {
    t.as_ref().map(|t| t.0.clone()).unwrap_or_default()
}

fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && bytes.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// Writes every family one endpoint's answers give.
pub fn write(g: &Gathered, out: &mut Snapshot) {
    let resources: &[Resource] = g.resources.as_deref().unwrap_or(&[]);
    write_status(g, resources, out);
    write_resources(resources, out);
    write_version(g, out);
    write_not_backed_up(g, out);
    write_qdevice(g, out);
    write_nodes(g, out);
    write_backups(g, resources, out);
    write_health(g, out);
}

fn write_status(g: &Gathered, resources: &[Resource], out: &mut Snapshot) {
    let mut up = fam("pve_up", UP_HELP, Kind::Gauge);
    let mut node_info = fam("pve_node_info", NODE_INFO_HELP, Kind::Gauge);
    let mut cluster_info = fam("pve_cluster_info", CLUSTER_INFO_HELP, Kind::Gauge);
    for entry in g.status.as_deref().unwrap_or(&[]) {
        match status_str(entry, "type").as_str() {
            "node" => {
                if let Some(online) = status_num(entry, "online") {
                    push(&mut up, id(status_str(entry, "id")), online);
                }
                let labels = ["id", "level", "name", "nodeid"]
                    .iter()
                    .map(|k| (Cow::Borrowed(*k), status_str(entry, k)))
                    .collect();
                push(&mut node_info, labels, 1.0);
            }
            "cluster" => {
                let name = status_str(entry, "name");
                if let Some(quorate) = status_num(entry, "quorate") {
                    push(&mut up, id(format!("cluster/{name}")), quorate);
                }
                let mut labels: Vec<(Name, String)> = vec![(Cow::Borrowed("id"), format!("cluster/{name}"))];
                for (k, v) in entry {
                    if matches!(k.as_str(), "type" | "name" | "id") || !is_label_name(k) {
                        continue;
                    }
                    labels.push((Cow::Owned(k.clone()), super::api::py_str(v)));
                }
                push(&mut cluster_info, labels, 1.0);
            }
            _ => {}
        }
    }
    for r in resources.iter().filter(|r| matches!(r.kind.as_str(), "qemu" | "lxc")) {
        push(&mut up, id(r.id.clone()), flag(r.status.as_ref().is_some_and(|s| s.as_str() == "running")));
    }
    for r in resources.iter().filter(|r| r.kind == "storage") {
        push(&mut up, id(r.id.clone()), flag(r.status.as_ref().is_some_and(|s| s.as_str() == "available")));
    }
    out.families.extend([up, node_info, cluster_info]);
}

fn write_resources(resources: &[Resource], out: &mut Snapshot) {
    let mut values: Vec<Family> = RESOURCE_VALUES.iter().map(|(_, n, h, k)| fam(n, h, *k)).collect();
    let mut ha = fam("pve_ha_state", HA_HELP, Kind::Gauge);
    let mut lock = fam("pve_lock_state", LOCK_HELP, Kind::Gauge);
    let mut guest = fam("pve_guest_info", GUEST_INFO_HELP, Kind::Gauge);
    let mut storage = fam("pve_storage_info", STORAGE_INFO_HELP, Kind::Gauge);
    for r in resources {
        let is_guest = matches!(r.kind.as_str(), "qemu" | "lxc");
        if is_guest {
            let labels = vec![
                (Cow::Borrowed("id"), r.id.clone()),
                (Cow::Borrowed("node"), text(&r.node)),
                (Cow::Borrowed("name"), text(&r.name)),
                (Cow::Borrowed("type"), r.kind.clone()),
                (Cow::Borrowed("template"), text(&r.template)),
                (Cow::Borrowed("tags"), text(&r.tags)),
            ];
            push(&mut guest, labels, 1.0);
        } else if r.kind == "storage" {
            // Proxmox lists content types in random order: sort them.
            let mut content: Vec<&str> = r.content.as_ref().map(|c| c.as_str()).unwrap_or("").split(',').collect();
            content.sort_unstable();
            let labels = vec![
                (Cow::Borrowed("id"), r.id.clone()),
                (Cow::Borrowed("node"), text(&r.node)),
                (Cow::Borrowed("storage"), text(&r.storage)),
                (Cow::Borrowed("plugintype"), text(&r.plugintype)),
                (Cow::Borrowed("content"), content.join(",")),
            ];
            push(&mut storage, labels, 1.0);
        }
        let states = match r.kind.as_str() {
            "qemu" | "lxc" => Some(GUEST_HA_STATES),
            "node" => Some(NODE_HA_STATES),
            _ => None,
        };
        if let Some(states) = states {
            let current = r.hastate.as_ref().map(Text::as_str);
            for state in states {
                push(&mut ha, vec![(Cow::Borrowed("id"), r.id.clone()), (Cow::Borrowed("state"), (*state).to_owned())], flag(current == Some(state)));
            }
        }
        if is_guest {
            let current = r.lock.as_ref().map(Text::as_str);
            for state in LOCK_STATES {
                push(&mut lock, vec![(Cow::Borrowed("id"), r.id.clone()), (Cow::Borrowed("state"), (*state).to_owned())], flag(current == Some(state)));
            }
        }
        for ((field, ..), family) in RESOURCE_VALUES.iter().zip(values.iter_mut()) {
            if let Some(v) = resource_value(r, field) {
                push(family, id(r.id.clone()), v);
            }
        }
    }
    out.families.extend(values);
    out.families.extend([ha, lock, guest, storage]);
}

fn write_version(g: &Gathered, out: &mut Snapshot) {
    let Some(v) = &g.version else { return };
    let labels: Vec<(Name, String)> = [("release", &v.release), ("repoid", &v.repoid), ("version", &v.version)]
        .into_iter()
        .filter_map(|(k, t)| t.as_ref().map(|t| (Cow::Borrowed(k), t.0.clone())))
        .collect();
    if labels.is_empty() {
        return;
    }
    let mut f = fam("pve_version_info", VERSION_HELP, Kind::Gauge);
    push(&mut f, labels, 1.0);
    out.families.push(f);
}

fn write_not_backed_up(g: &Gathered, out: &mut Snapshot) {
    let Some(list) = &g.not_backed_up else { return };
    let mut info = fam("pve_not_backed_up_info", NOT_BACKED_UP_INFO_HELP, Kind::Gauge);
    for entry in list {
        push(&mut info, id(format!("{}/{}", entry.kind, entry.vmid)), 1.0);
    }
    out.families.push(info);
    // As prometheus-pve-exporter: named after the first /cluster/status
    // entry (the cluster, or the node of a standalone host).
    if let Some(first) = g.status.as_ref().and_then(|s| s.first()) {
        let mut total = fam("pve_not_backed_up_total", NOT_BACKED_UP_TOTAL_HELP, Kind::Gauge);
        push(&mut total, id(format!("cluster/{}", status_str(first, "name"))), list.len() as f64);
        out.families.push(total);
    }
}

fn write_qdevice(g: &Gathered, out: &mut Snapshot) {
    let Some(q) = g.qdevice.as_ref().filter(|q| !q.is_empty()) else { return };
    let Some(cluster) = g.status.as_deref().unwrap_or(&[]).iter().find(|e| status_str(e, "type") == "cluster") else {
        return;
    };
    let cluster_id = format!("cluster/{}", status_str(cluster, "name"));
    let field = |k: &str| q.get(k).map(super::api::py_str).unwrap_or_default();
    let mut info = fam("pve_qdevice_info", QDEVICE_INFO_HELP, Kind::Gauge);
    push(
        &mut info,
        vec![
            (Cow::Borrowed("id"), cluster_id.clone()),
            (Cow::Borrowed("model"), field("Model")),
            (Cow::Borrowed("algorithm"), field("Algorithm")),
            (Cow::Borrowed("qnetd_host"), field("QNetd host")),
            (Cow::Borrowed("tie_breaker"), field("Tie-breaker")),
            (Cow::Borrowed("state"), field("State")),
        ],
        1.0,
    );
    let mut up = fam("pve_qdevice_up", QDEVICE_UP_HELP, Kind::Gauge);
    push(&mut up, id(cluster_id), flag(field("State") == "Connected"));
    out.families.extend([info, up]);
}

fn write_nodes(g: &Gathered, out: &mut Snapshot) {
    let mut onboot = fam("pve_onboot_status", ONBOOT_HELP, Kind::Gauge);
    let mut sub_info = fam("pve_subscription_info", SUBSCRIPTION_INFO_HELP, Kind::Gauge);
    let mut sub_status = fam("pve_subscription_status", SUBSCRIPTION_STATUS_HELP, Kind::Gauge);
    let mut sub_due = fam("pve_subscription_next_due_timestamp_seconds", SUBSCRIPTION_DUE_HELP, Kind::Gauge);
    let mut repl: Vec<Family> = vec![
        fam("pve_replication_duration_seconds", "Proxmox vm replication duration", Kind::Gauge),
        fam("pve_replication_last_sync_timestamp_seconds", "Proxmox vm replication last_sync", Kind::Gauge),
        fam("pve_replication_last_try_timestamp_seconds", "Proxmox vm replication last_try", Kind::Gauge),
        fam("pve_replication_next_sync_timestamp_seconds", "Proxmox vm replication next_sync", Kind::Gauge),
        fam("pve_replication_failed_syncs", "Proxmox vm replication fail_count", Kind::Gauge),
    ];
    let mut repl_info = fam("pve_replication_info", "Proxmox vm replication info", Kind::Gauge);
    let mut seen_jobs: HashSet<&str> = HashSet::new();
    for node in &g.nodes {
        for (kind, vmid, config) in &node.configs {
            if let Some(Num(v)) = config.onboot {
                let labels = vec![
                    (Cow::Borrowed("id"), format!("{kind}/{vmid}")),
                    (Cow::Borrowed("node"), node.name.clone()),
                    (Cow::Borrowed("type"), (*kind).to_owned()),
                ];
                push(&mut onboot, labels, v);
            }
        }
        if let Some(sub) = &node.subscription {
            let node_id = format!("node/{}", node.name);
            let level = sub.level.as_ref().map(|t| t.0.clone()).unwrap_or_else(|| "unknown".into());
            push(&mut sub_info, vec![(Cow::Borrowed("id"), node_id.clone()), (Cow::Borrowed("level"), level)], 1.0);
            let status = sub.status.as_ref().map(Text::as_str).unwrap_or("unknown");
            for s in SUBSCRIPTION_STATUSES {
                push(&mut sub_status, vec![(Cow::Borrowed("id"), node_id.clone()), (Cow::Borrowed("status"), (*s).to_owned())], flag(status == *s));
            }
            if let Some(ts) = sub.nextduedate.as_ref().and_then(|d| date_to_unix(d.as_str())) {
                push(&mut sub_due, id(node_id), ts);
            }
        }
        for job in node.replication.as_deref().unwrap_or(&[]) {
            if !seen_jobs.insert(job.id.as_str()) {
                continue;
            }
            let labels = vec![
                (Cow::Borrowed("id"), job.id.0.clone()),
                (Cow::Borrowed("type"), text(&job.kind)),
                (Cow::Borrowed("source"), format!("node/{}", text(&job.source))),
                (Cow::Borrowed("target"), format!("node/{}", text(&job.target))),
                (Cow::Borrowed("guest"), format!("{}/{}", text(&job.vmtype), text(&job.guest))),
            ];
            push(&mut repl_info, labels, 1.0);
            let values = [job.duration, job.last_sync, job.last_try, job.next_sync, job.fail_count];
            for (family, value) in repl.iter_mut().zip(values) {
                if let Some(Num(v)) = value {
                    push(family, id(job.id.0.clone()), v);
                }
            }
        }
    }
    out.families.extend([onboot, sub_info, sub_status, sub_due, repl_info]);
    out.families.extend(repl);
}

const BACKUP_TS_HELP: &str = "Creation time (ctime) of the newest backup of the guest on any backup storage, from /nodes/{node}/storage/{storage}/content?content=backup.";
const BACKUP_SIZE_HELP: &str = "Size in bytes of the newest backup of the guest, from /nodes/{node}/storage/{storage}/content?content=backup.";
const TASK_OK_HELP: &str = "Whether the newest finished vzdump task that backed up the guest succeeded for it, from /nodes/{node}/tasks and the task log.";
const TASK_END_HELP: &str = "End time of the newest finished vzdump task that backed up the guest, from /nodes/{node}/tasks.";

fn write_backups(g: &Gathered, resources: &[Resource], out: &mut Snapshot) {
    // Only guests that exist: stale backups of deleted guests would keep
    // RPO alerts firing forever.
    let guests: HashMap<u32, &str> = resources
        .iter()
        .filter(|r| matches!(r.kind.as_str(), "qemu" | "lxc"))
        .filter_map(|r| r.guest_vmid().map(|v| (v, r.id.as_str())))
        .collect();
    if !g.contents.is_empty() {
        let mut ts = fam("pve_backup_last_timestamp_seconds", BACKUP_TS_HELP, Kind::Gauge);
        let mut size = fam("pve_backup_last_size_bytes", BACKUP_SIZE_HELP, Kind::Gauge);
        for (vmid, (ctime, bytes)) in newest_backups(&g.contents) {
            if let Some(gid) = guests.get(&vmid) {
                push(&mut ts, id(*gid), ctime);
                push(&mut size, id(*gid), bytes);
            }
        }
        out.families.extend([ts, size]);
    }
    let mut newest: BTreeMap<u32, Outcome> = BTreeMap::new();
    for node in &g.nodes {
        for (vmid, o) in node_outcomes(node.tasks.as_deref().unwrap_or(&[]), &g.logs) {
            match newest.get(&vmid) {
                Some(prev) if prev.start >= o.start => {}
                _ => {
                    newest.insert(vmid, o);
                }
            }
        }
    }
    let mut ok = fam("pve_backup_last_task_success", TASK_OK_HELP, Kind::Gauge);
    let mut end = fam("pve_backup_last_task_end_timestamp_seconds", TASK_END_HELP, Kind::Gauge);
    for (vmid, o) in newest {
        if let Some(gid) = guests.get(&vmid) {
            push(&mut ok, id(*gid), flag(o.ok));
            push(&mut end, id(*gid), o.end);
        }
    }
    out.families.extend([ok, end]);
}

/// The per-target reachability gauge shared by the network collectors.
pub const TARGET_UP: &str = "homelab_exporter_target_up";
const TARGET_UP_HELP: &str = "Whether the collector's last scrape of this target succeeded.";
const NODE_SUCCESS_HELP: &str = "Whether every Proxmox VE API request for this online node (guest configs, replication, subscription, vzdump tasks, backup content) succeeded this scrape.";
const FAILURES_HELP: &str = "Number of Proxmox VE API requests that failed during this scrape.";

fn write_health(g: &Gathered, out: &mut Snapshot) {
    let target = || (Cow::Borrowed("target"), g.endpoint.clone());
    let mut up = fam(TARGET_UP, TARGET_UP_HELP, Kind::Gauge);
    push(&mut up, vec![(Cow::Borrowed("collector"), "proxmox".to_owned()), target()], flag(!g.cluster_failed));
    let mut failures = fam("homelab_exporter_proxmox_request_failures", FAILURES_HELP, Kind::Gauge);
    push(&mut failures, vec![target()], g.failures as f64);
    let mut nodes = fam("homelab_exporter_proxmox_node_scrape_success", NODE_SUCCESS_HELP, Kind::Gauge);
    for node in &g.nodes {
        push(&mut nodes, vec![(Cow::Borrowed("id"), format!("node/{}", node.name)), target()], flag(node.complete));
    }
    out.families.extend([up, failures, nodes]);
}

#[cfg(test)]
mod tests {
    use super::super::api::decode;
    use super::*;

    fn series(out: &Snapshot, name: &str) -> Vec<(Vec<(String, String)>, f64)> {
        out.families
            .iter()
            .filter(|f| f.name == name)
            .flat_map(|f| &f.samples)
            .map(|s| (s.labels.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), s.value))
            .collect()
    }

    #[test]
    fn cluster_families_follow_prometheus_pve_exporter() {
        // Shapes from prometheus-pve-exporter's docstrings and test fixture.
        let g = Gathered {
            endpoint: "https://pve1:8006".into(),
            status: Some(decode(br#"{"data":[
                {"type":"cluster","id":"cluster","name":"pvec","nodes":2,"quorate":1,"version":2},
                {"type":"node","id":"node/pve1","name":"pve1","nodeid":1,"ip":"10.0.0.1","level":"c","local":1,"online":1},
                {"type":"node","id":"node/pve2","name":"pve2","nodeid":2,"ip":"10.0.0.2","level":"","local":0,"online":0}]}"#).unwrap()),
            resources: Some(decode(br#"{"data":[
                {"type":"qemu","id":"qemu/100","node":"pve1","name":"vm100","status":"running","template":0,"tags":"web;prod","cpu":0.1234,"maxcpu":2,"netin":5,"hastate":"started","lock":"backup"},
                {"type":"storage","id":"storage/pve1/local","node":"pve1","storage":"local","plugintype":"dir","content":"vztmpl,backup,iso","status":"available","shared":0},
                {"type":"pool","id":"pool/p","pool":"p"}]}"#).unwrap()),
            version: Some(decode(br#"{"data":{"release":"8.2","repoid":"1a2b","version":"8.2.4","console":"xtermjs"}}"#).unwrap()),
            not_backed_up: Some(decode(br#"{"data":[{"type":"qemu","vmid":100}]}"#).unwrap()),
            qdevice: Some(decode(br#"{"data":{"Model":"Net","Algorithm":"Fifty-Fifty split","QNetd host":"10.0.0.9:5403","Tie-breaker":"Node with lowest node ID","State":"Connected"}}"#).unwrap()),
            ..Default::default()
        };
        let mut out = Snapshot::new();
        write(&g, &mut out);
        let up = series(&out, "pve_up");
        let l = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert!(up.contains(&(l(&[("id", "cluster/pvec")]), 1.0)));
        assert!(up.contains(&(l(&[("id", "node/pve2")]), 0.0)));
        assert!(up.contains(&(l(&[("id", "qemu/100")]), 1.0)));
        assert!(up.contains(&(l(&[("id", "storage/pve1/local")]), 1.0)));
        assert_eq!(
            series(&out, "pve_cluster_info"),
            vec![(l(&[("id", "cluster/pvec"), ("nodes", "2"), ("quorate", "1"), ("version", "2")]), 1.0)]
        );
        assert!(series(&out, "pve_node_info").contains(&(l(&[("id", "node/pve1"), ("level", "c"), ("name", "pve1"), ("nodeid", "1")]), 1.0)));
        assert_eq!(
            series(&out, "pve_guest_info"),
            vec![(l(&[("id", "qemu/100"), ("node", "pve1"), ("name", "vm100"), ("type", "qemu"), ("template", "0"), ("tags", "web;prod")]), 1.0)]
        );
        assert_eq!(series(&out, "pve_storage_info")[0].0[4], ("content".to_owned(), "backup,iso,vztmpl".to_owned()));
        assert_eq!(series(&out, "pve_cpu_usage_ratio"), vec![(l(&[("id", "qemu/100")]), 0.1234)]);
        assert_eq!(series(&out, "pve_network_receive_bytes_total"), vec![(l(&[("id", "qemu/100")]), 5.0)]);
        // prometheus-pve-exporter's deprecated gauge beside the counter.
        assert_eq!(series(&out, "pve_network_receive_bytes"), vec![(l(&[("id", "qemu/100")]), 5.0)]);
        // The text format reads back whole; in OpenMetrics the gauge and the
        // counter's family share a name and follow each other, as
        // prometheus-pve-exporter writes them.
        let encoded = |format| {
            let mut text = Vec::new();
            crate::encode::encode(&crate::encode::merge(vec![out.clone()]), format, &mut text);
            String::from_utf8(text).unwrap()
        };
        let text = encoded(crate::encode::Format::Text);
        crate::host::textfile::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let om = encoded(crate::encode::Format::OpenMetrics);
        let types: Vec<&str> = om.lines().filter(|l| l.starts_with("# TYPE pve_network_receive_bytes ")).collect();
        assert_eq!(types, ["# TYPE pve_network_receive_bytes gauge", "# TYPE pve_network_receive_bytes counter"]);
        assert!(om.contains("\npve_network_receive_bytes{id=\"qemu/100\"} 5\n") && om.contains("\npve_network_receive_bytes_total{id=\"qemu/100\"} 5\n"), "{om}");
        assert_eq!(series(&out, "pve_ha_state").len(), GUEST_HA_STATES.len());
        assert!(series(&out, "pve_ha_state").contains(&(l(&[("id", "qemu/100"), ("state", "started")]), 1.0)));
        assert!(series(&out, "pve_lock_state").contains(&(l(&[("id", "qemu/100"), ("state", "backup")]), 1.0)));
        assert_eq!(series(&out, "pve_version_info"), vec![(l(&[("release", "8.2"), ("repoid", "1a2b"), ("version", "8.2.4")]), 1.0)]);
        assert_eq!(series(&out, "pve_not_backed_up_total"), vec![(l(&[("id", "cluster/pvec")]), 1.0)]);
        assert_eq!(series(&out, "pve_not_backed_up_info"), vec![(l(&[("id", "qemu/100")]), 1.0)]);
        assert_eq!(series(&out, "pve_qdevice_up"), vec![(l(&[("id", "cluster/pvec")]), 1.0)]);
        assert_eq!(series(&out, "pve_qdevice_info")[0].0[3], ("qnetd_host".to_owned(), "10.0.0.9:5403".to_owned()));
        assert_eq!(series(&out, "homelab_exporter_target_up"), vec![(l(&[("collector", "proxmox"), ("target", "https://pve1:8006")]), 1.0)]);
    }

    #[test]
    fn node_families_follow_prometheus_pve_exporter() {
        let g = Gathered {
            nodes: vec![NodeGathered {
                name: "pve1".into(),
                configs: vec![("qemu", 100, GuestConfig { onboot: Some(Num(1.0)) }), ("lxc", 102, GuestConfig { onboot: None })],
                replication: Some(decode(br#"{"data":[{"id":"100-0","type":"local","source":"pve1","target":"pve2","vmtype":"qemu","guest":100,"duration":3.5,"last_sync":1700000000,"last_try":1700000000,"next_sync":1700000900,"fail_count":0}]}"#).unwrap()),
                subscription: Some(decode(br#"{"data":{"level":"c","status":"active","nextduedate":"2027-01-01"}}"#).unwrap()),
                tasks: None,
                complete: true,
            }],
            ..Default::default()
        };
        let mut out = Snapshot::new();
        write(&g, &mut out);
        let l = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert_eq!(series(&out, "pve_onboot_status"), vec![(l(&[("id", "qemu/100"), ("node", "pve1"), ("type", "qemu")]), 1.0)]);
        assert_eq!(
            series(&out, "pve_replication_info"),
            vec![(l(&[("id", "100-0"), ("type", "local"), ("source", "node/pve1"), ("target", "node/pve2"), ("guest", "qemu/100")]), 1.0)]
        );
        assert_eq!(series(&out, "pve_replication_duration_seconds"), vec![(l(&[("id", "100-0")]), 3.5)]);
        assert_eq!(series(&out, "pve_replication_failed_syncs"), vec![(l(&[("id", "100-0")]), 0.0)]);
        assert_eq!(series(&out, "pve_subscription_info"), vec![(l(&[("id", "node/pve1"), ("level", "c")]), 1.0)]);
        assert_eq!(series(&out, "pve_subscription_status").iter().filter(|s| s.1 == 1.0).count(), 1);
        assert_eq!(series(&out, "pve_subscription_next_due_timestamp_seconds"), vec![(l(&[("id", "node/pve1")]), 1798761600.0)]);
        assert_eq!(series(&out, "homelab_exporter_proxmox_node_scrape_success"), vec![(l(&[("id", "node/pve1"), ("target", "")]), 1.0)]);
    }
}
