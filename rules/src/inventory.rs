//! The inventory: what the lab holds and what it promises. Tiers set the
//! recovery targets (RTO: how long a service may stay down; RPO: how much
//! data, as time, it may lose); services say where they run and how they
//! are backed up; UPSes say which nodes they power and how long those need
//! to shut down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::duration::Duration;

/// Why an inventory was refused. The message names file, line and key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Syntax or schema.
    #[error("{path}:{line}: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong, naming the key.
        detail: String,
    },
    /// Writing the generated files.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A tier's recovery targets.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Recovery time objective.
    pub rto: Duration,
    /// Recovery point objective.
    pub rpo: Duration,
}

/// What kind of machine a node is (decides which alerts apply).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A Synology (or other) NAS.
    Synology,
    /// A Raspberry Pi.
    Raspberrypi,
    /// A Proxmox VE node.
    Proxmox,
    /// A Docker host.
    Docker,
    /// Anything else.
    Generic,
}

impl NodeKind {
    /// The word used in labels.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Synology => "synology",
            NodeKind::Raspberrypi => "raspberrypi",
            NodeKind::Proxmox => "proxmox",
            NodeKind::Docker => "docker",
            NodeKind::Generic => "generic",
        }
    }
}

/// A machine that runs homelab-exporter.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Name, used as the `node` target label.
    pub name: String,
    /// Host name or address Prometheus scrapes (defaults to the name).
    #[serde(default)]
    pub address: Option<String>,
    /// Port of its exporter.
    #[serde(default = "default_port")]
    pub port: u16,
    /// What it is.
    #[serde(default = "default_kind")]
    pub kind: NodeKind,
}

fn default_port() -> u16 {
    9839
}

fn default_kind() -> NodeKind {
    NodeKind::Generic
}

/// Kind of a Proxmox guest.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum GuestKind {
    /// A virtual machine.
    #[default]
    Qemu,
    /// A container.
    Lxc,
}

/// Where a service runs; decides which metric says it is up.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, untagged)]
pub enum RunsOn {
    /// A Proxmox guest (`pve_up{id="qemu/101"}`).
    ProxmoxGuest {
        /// VM or container id.
        proxmox_guest: u32,
        /// qemu (default) or lxc.
        #[serde(default)]
        kind: GuestKind,
    },
    /// A Docker container on a node (`docker_container_state{state="running"}`).
    Container {
        /// Container name.
        container: String,
        /// Node it runs on.
        node: String,
    },
    /// A blackbox probe (`probe_success{instance=URL}`).
    Probe {
        /// The probed URL or address.
        probe: String,
    },
}

/// A textfile backup job.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TextfileJob {
    /// The `job` label the backup script writes.
    pub job: String,
}

/// How a service is backed up; decides which metric gives the newest backup.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// Backed up by Proxmox (vzdump or PBS) as its guest.
    #[serde(default)]
    pub proxmox: bool,
    /// Backed up by a script that writes a textfile metric.
    #[serde(default)]
    pub textfile: Option<TextfileJob>,
}

/// A service of the lab.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Name, the `service` label.
    pub name: String,
    /// Tier name.
    pub tier: String,
    /// Where it runs.
    pub runs_on: RunsOn,
    /// How it is backed up (none: no RPO alerts).
    #[serde(default)]
    pub backup: Option<Backup>,
}

/// A UPS and what it powers.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ups {
    /// NUT's name of the UPS (the `ups` label).
    pub name: String,
    /// Node whose exporter reads it.
    pub node: String,
    /// Nodes it powers.
    #[serde(default)]
    pub powers: Vec<String>,
    /// Time the powered nodes need to shut down cleanly.
    pub shutdown_budget: Duration,
}

/// Thresholds; every one has a default.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// A restore drill must have succeeded within this period.
    pub restore_drill_interval: Duration,
    /// Added to a UPS's shutdown budget before its runtime is too low.
    pub ups_runtime_margin: Duration,
    /// UPS load (0–1) counted as overload.
    pub ups_overload_ratio: f64,
    /// Free space ratio below which a filesystem is almost full (warning).
    pub filesystem_free_warning: f64,
    /// Free space ratio below which a filesystem is almost full (critical).
    pub filesystem_free_critical: f64,
    /// Free inode ratio below which inodes are almost exhausted.
    pub inodes_free_critical: f64,
    /// Available memory ratio below which memory is low.
    pub memory_available_warning: f64,
    /// Temperature (°C) above which a host is too hot (a Pi throttles at 80–85).
    pub temperature_celsius_warning: f64,
    /// Storage use ratio above which a Proxmox storage is almost full.
    pub storage_used_warning: f64,
    /// Base of every alert's `runbook_url` annotation (the alert's name in
    /// lower case is appended); empty for none.
    pub runbook_url: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            restore_drill_interval: Duration(35 * 86400),
            ups_runtime_margin: Duration(120),
            ups_overload_ratio: 0.9,
            filesystem_free_warning: 0.15,
            filesystem_free_critical: 0.05,
            inodes_free_critical: 0.05,
            memory_available_warning: 0.10,
            temperature_celsius_warning: 80.0,
            storage_used_warning: 0.85,
            runbook_url: String::new(),
        }
    }
}

/// The whole inventory.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Tiers by name.
    pub tiers: BTreeMap<String, Tier>,
    /// Nodes.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// Services.
    #[serde(default)]
    pub services: Vec<Service>,
    /// UPSes.
    #[serde(default)]
    pub ups: Vec<Ups>,
    /// Thresholds.
    #[serde(default)]
    pub settings: Settings,
}

/// The 1-based line of the first `key: value` line whose value is `value`
/// (to point semantic errors at their line), or 0.
fn line_of(text: &str, key: &str, value: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ").trim_start_matches('{');
            t.split([',', '{']).any(|part| {
                let part = part.trim();
                part.strip_prefix(key).and_then(|r| r.trim_start().strip_prefix(':')).is_some_and(|v| v.trim().trim_matches(['"', '\'', '}']) == value)
            })
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

impl Inventory {
    /// Parses and checks an inventory; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let inv: Inventory = serde_yaml_ng::from_str(text).map_err(|e| Error::Invalid {
            path: path.to_owned(),
            line: e.location().map(|l| l.line()).unwrap_or(0),
            detail: e.to_string(),
        })?;
        let bad = |key: &str, value: &str, detail: String| Error::Invalid { path: path.to_owned(), line: line_of(text, key, value), detail };
        let mut names = std::collections::BTreeSet::new();
        for n in &inv.nodes {
            if !names.insert(n.name.as_str()) {
                return Err(bad("name", &n.name, format!("nodes: node {:?} is listed twice", n.name)));
            }
        }
        let mut services = std::collections::BTreeSet::new();
        for s in &inv.services {
            if !services.insert(s.name.as_str()) {
                return Err(bad("name", &s.name, format!("services: service {:?} is listed twice", s.name)));
            }
            if !inv.tiers.contains_key(&s.tier) {
                return Err(bad("tier", &s.tier, format!("services.{}.tier: unknown tier {:?} (tiers: {})", s.name, s.tier, inv.tiers.keys().cloned().collect::<Vec<_>>().join(", "))));
            }
            if let RunsOn::Container { node, .. } = &s.runs_on {
                if !names.contains(node.as_str()) {
                    return Err(bad("node", node, format!("services.{}.runs_on.node: unknown node {node:?}", s.name)));
                }
            }
            if let Some(b) = &s.backup {
                if b.proxmox && !matches!(s.runs_on, RunsOn::ProxmoxGuest { .. }) {
                    return Err(bad("name", &s.name, format!("services.{}.backup.proxmox: only a Proxmox guest is backed up by Proxmox", s.name)));
                }
                if !b.proxmox && b.textfile.is_none() {
                    return Err(bad("name", &s.name, format!("services.{}.backup: say proxmox: true or textfile: {{job: NAME}}", s.name)));
                }
            }
        }
        for u in &inv.ups {
            for n in u.powers.iter().chain(std::iter::once(&u.node)) {
                if !names.contains(n.as_str()) {
                    return Err(bad("node", n, format!("ups.{}: unknown node {n:?}", u.name)));
                }
            }
        }
        for (name, t) in &inv.tiers {
            if t.rto.secs() == 0 || t.rpo.secs() == 0 {
                return Err(bad("rto", &t.rto.to_string(), format!("tiers.{name}: rto and rpo must be longer than 0s")));
            }
        }
        Ok(inv)
    }

    /// Reads and checks an inventory file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
        Self::parse(path, &text)
    }

    /// The tier of a service (checked at load).
    pub fn tier_of(&self, s: &Service) -> &Tier {
        // `parse` refused unknown tiers, so the lookup succeeds.
        self.tiers.get(&s.tier).unwrap_or(&Tier { rto: Duration(3600), rpo: Duration(3600) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "tiers:\n  critical: {rto: 4h, rpo: 1h}\nnodes:\n  - {name: atlantis, address: 10.0.0.10, kind: synology}\nservices:\n  - name: ha\n    tier: critical\n    runs_on: {proxmox_guest: 101}\n    backup: {proxmox: true}\n  - name: web\n    tier: critical\n    runs_on: {container: nginx, node: atlantis}\nups:\n  - {name: ups, node: atlantis, powers: [atlantis], shutdown_budget: 5m}\n";

    #[test]
    fn parses_a_good_inventory() {
        let inv = Inventory::parse(Path::new("h.yaml"), GOOD).unwrap();
        assert_eq!(inv.services.len(), 2);
        assert_eq!(inv.services[0].runs_on, RunsOn::ProxmoxGuest { proxmox_guest: 101, kind: GuestKind::Qemu });
        assert_eq!(inv.ups[0].shutdown_budget, Duration(300));
        assert_eq!(inv.settings.restore_drill_interval, Duration(35 * 86400));
    }

    fn err(text: &str) -> String {
        Inventory::parse(Path::new("h.yaml"), text).unwrap_err().to_string()
    }

    /// Found with the inventory fuzz target's harness: an RTO of 500
    /// billion years was accepted, and generating the rules overflowed.
    #[test]
    fn durations_longer_than_prometheus_reads_are_refused() {
        let e = err(&GOOD.replace("rto: 4h", "rto: 500000000000y"));
        assert!(e.starts_with("h.yaml:2:") && e.contains("292 years"), "{e}");
        let inv = Inventory::parse(Path::new("h.yaml"), &GOOD.replace("rto: 4h", "rto: 292y")).unwrap();
        assert!(crate::generate::rules_yaml(&inv).contains("groups"));
        assert!(!crate::promtest::tests_yaml(&inv).is_empty());
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let e = err(&GOOD.replace("    tier: critical\n    runs_on: {container", "    tier: gold\n    runs_on: {container"));
        assert!(e.starts_with("h.yaml:11:") && e.contains("unknown tier \"gold\""), "{e}");
        let e = err(&GOOD.replace("rpo: 1h", "rpo: 1 hour"));
        assert!(e.starts_with("h.yaml:2:") && e.contains("unit"), "{e}");
        let e = err(&GOOD.replace("kind: synology", "kind: synology, colour: red"));
        assert!(e.starts_with("h.yaml:4:") && e.contains("colour"), "{e}");
        let e = err(&GOOD.replace("node: atlantis}", "node: nowhere}"));
        assert!(e.contains("unknown node \"nowhere\""), "{e}");
        let e = err(&GOOD.replace("name: web", "name: ha"));
        assert!(e.contains("listed twice"), "{e}");
    }
}
