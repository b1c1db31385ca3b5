//! Proxmox VE API bodies as the collector decodes them. The input's
//! NUL-separated parts are, in order, the `{"data": ...}` bodies of
//! `/cluster/status`, `/cluster/resources`, `/version`,
//! `/cluster/backup-info/not-backed-up`, `/cluster/config/qdevice`, a guest
//! config, `/nodes/{node}/replication`, `/nodes/{node}/subscription`,
//! `/nodes/{node}/tasks`, a backup storage's content and a task log. Each
//! is decoded into its type with the collector's decoder; what decoded is
//! put together as one endpoint's answers, mapped to families by the
//! collector's pure mapping, and must encode to valid exposition text.

#![no_main]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use homelab_exporter::metrics::Snapshot;
use homelab_exporter::proxmox::api::{
    self, Content, GuestConfig, LogLine, NotBackedUp, QDevice, ReplicationJob, Resource,
    StatusEntry, Subscription, Task, Version,
};
use homelab_exporter::proxmox::backups;
use homelab_exporter::proxmox::emit::{self, Gathered, NodeGathered};
use homelab_fuzz::{check_exposition, parts};
use libfuzzer_sys::fuzz_target;

/// Nodes per input, at most.
const MAX_NODES: usize = 4;

fn decode<T: serde::de::DeserializeOwned>(bodies: &[&[u8]], i: usize) -> Option<T> {
    match api::decode::<T>(bodies.get(i)?) {
        Ok(v) => Some(v),
        Err(e) => {
            assert!(!e.is_empty());
            None
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let bodies = parts(data, 11);
    let status: Option<Vec<StatusEntry>> = decode(&bodies, 0);
    let resources: Option<Vec<Resource>> = decode(&bodies, 1);
    let version: Option<Version> = decode(&bodies, 2);
    let not_backed_up: Option<Vec<NotBackedUp>> = decode(&bodies, 3);
    let qdevice: Option<QDevice> =
        decode::<Option<QDevice>>(&bodies, 4).map(Option::unwrap_or_default);
    let config: Option<GuestConfig> = decode(&bodies, 5);
    let replication: Option<Vec<ReplicationJob>> = decode(&bodies, 6);
    let subscription: Option<Subscription> = decode(&bodies, 7);
    let tasks: Option<Vec<Task>> = decode(&bodies, 8);
    let content: Option<Vec<Content>> = decode(&bodies, 9);
    let log: Option<Vec<LogLine>> = decode(&bodies, 10);

    // The pure helpers the collector calls between requests.
    for entry in status.iter().flatten() {
        let _ = api::status_str(entry, "name");
        let _ = api::status_num(entry, "online");
    }
    let mut names: Vec<String> = Vec::new();
    let mut guests = HashSet::new();
    for r in resources.iter().flatten() {
        let _ = r.holds_backups();
        if let Some(vmid) = r.guest_vmid() {
            guests.insert(vmid);
        }
        if r.kind == "node" && names.len() < MAX_NODES && !names.iter().any(|n| n == r.node_name())
        {
            names.push(r.node_name().to_owned());
        }
    }
    if names.is_empty() {
        names.push("pve1".into());
    }
    let runs = log
        .as_deref()
        .map(backups::parse_vzdump_log)
        .unwrap_or_default();
    let mut logs = HashMap::new();
    if let Some(tasks) = &tasks {
        for t in backups::newest_first(tasks) {
            let _ = backups::single_guest(t);
        }
        // The log belongs to the first task that backed up several guests.
        if let Some(t) = tasks.iter().find(|t| backups::single_guest(t).is_none()) {
            logs.insert(t.upid.clone(), Arc::new(runs));
        }
        let wanted = backups::logs_to_fetch(tasks, &guests, &logs, 3);
        assert!(wanted.len() <= 3);
        let _ = backups::node_outcomes(tasks, &logs);
    }
    if let Some(s) = &subscription {
        if let Some(date) = &s.nextduedate {
            let _ = backups::date_to_unix(date.as_str());
        }
    }
    let contents: Vec<(String, Vec<Content>)> = content
        .map(|c| vec![("storage/pve1/backup".to_owned(), c)])
        .unwrap_or_default();
    let _ = backups::newest_backups(&contents);

    let nodes = names
        .iter()
        .map(|name| NodeGathered {
            name: name.clone(),
            configs: config.iter().map(|c| ("qemu", 100, c.clone())).collect(),
            replication: replication.clone(),
            subscription: subscription.clone(),
            tasks: tasks.clone(),
            complete: true,
        })
        .collect();
    let g = Gathered {
        endpoint: "https://pve1:8006".into(),
        status,
        resources,
        version,
        not_backed_up,
        qdevice,
        nodes,
        contents,
        logs,
        failures: 0,
        cluster_failed: false,
    };
    let mut out = Snapshot::new();
    emit::write(&g, &mut out);
    check_exposition(vec![out]);
});
