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

/// A tier's recovery targets and who is woken when they are at risk.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Recovery time objective.
    pub rto: Duration,
    /// Recovery point objective.
    pub rpo: Duration,
    /// Whether its RTO and RPO alerts page (severity `critical`). When not
    /// given, the tiers with the shortest RTO page and the others warn.
    #[serde(default)]
    pub page: Option<bool>,
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

impl GuestKind {
    /// The type part of prometheus-pve-exporter's `id` label.
    pub fn as_str(self) -> &'static str {
        match self {
            GuestKind::Qemu => "qemu",
            GuestKind::Lxc => "lxc",
        }
    }
}

/// The shapes `runs_on` accepts, for error messages.
pub const RUNS_ON_SHAPES: &str = "{proxmox_guest: ID, kind: qemu|lxc, cluster: NAME, node: NODE} (kind, cluster and node optional), {container: NAME, node: NODE}, {probe: URL} or {node: NODE}";

/// Where a service runs; decides which metric says it is up.
#[derive(Debug, Clone, PartialEq)]
pub enum RunsOn {
    /// A Proxmox guest (`pve_up{id="qemu/101"}`).
    ProxmoxGuest {
        /// VM or container id.
        proxmox_guest: u32,
        /// qemu (default) or lxc.
        kind: GuestKind,
        /// The Proxmox cluster (`pve_cluster_info{id="cluster/NAME"}` on the
        /// same target), so guest 101 of two clusters stay apart.
        cluster: Option<String>,
        /// The inventory node the guest is pinned to.
        node: Option<String>,
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
    /// The node itself (its exporter's `up`): a NAS's shares, a Pi
    /// appliance.
    Node {
        /// The node.
        node: String,
    },
}

impl RunsOn {
    /// The inventory node the service depends on, where one is known.
    pub fn node(&self) -> Option<&str> {
        match self {
            RunsOn::ProxmoxGuest { node, .. } => node.as_deref(),
            RunsOn::Container { node, .. } | RunsOn::Node { node } => Some(node),
            RunsOn::Probe { .. } => None,
        }
    }

    /// The Proxmox cluster of a guest, where given.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            RunsOn::ProxmoxGuest { cluster, .. } => cluster.as_deref(),
            _ => None,
        }
    }
}

/// Every key any shape of `runs_on` may have; which combination is given
/// decides the shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunsOnKeys {
    proxmox_guest: Option<u32>,
    kind: Option<GuestKind>,
    cluster: Option<String>,
    container: Option<String>,
    probe: Option<String>,
    node: Option<String>,
}

impl<'de> Deserialize<'de> for RunsOn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let shape_error = |what: &str| serde::de::Error::custom(format!("runs_on: {what}; accepted forms: {RUNS_ON_SHAPES}"));
        let k = RunsOnKeys::deserialize(d).map_err(|e| serde::de::Error::custom(format!("{e}; accepted forms: {RUNS_ON_SHAPES}")))?;
        match k {
            RunsOnKeys { proxmox_guest: Some(id), kind, cluster, container: None, probe: None, node } => {
                Ok(RunsOn::ProxmoxGuest { proxmox_guest: id, kind: kind.unwrap_or_default(), cluster, node })
            }
            RunsOnKeys { proxmox_guest: None, kind: None, cluster: None, container: Some(container), probe: None, node: Some(node) } => Ok(RunsOn::Container { container, node }),
            RunsOnKeys { proxmox_guest: None, kind: None, cluster: None, container: Some(_), probe: None, node: None } => Err(shape_error("a container needs the node it runs on")),
            RunsOnKeys { proxmox_guest: None, kind: None, cluster: None, container: None, probe: Some(probe), node: None } => Ok(RunsOn::Probe { probe }),
            RunsOnKeys { proxmox_guest: None, kind: None, cluster: None, container: None, probe: None, node: Some(node) } => Ok(RunsOn::Node { node }),
            RunsOnKeys { proxmox_guest: None, container: None, probe: None, node: None, .. } => Err(shape_error("say where the service runs")),
            _ => Err(shape_error("these keys do not go together")),
        }
    }
}

/// A textfile backup job.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TextfileJob {
    /// The `backup_job` label the backup script writes.
    pub job: String,
}

/// The single-`backup` form of earlier inventories: `{proxmox: true}`,
/// `{textfile: {job: NAME}}` or both; each source runs every RPO.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LegacyBackup {
    /// Backed up by Proxmox (vzdump or PBS) as its guest.
    #[serde(default)]
    pub proxmox: bool,
    /// Backed up by a script that writes a textfile metric.
    #[serde(default)]
    pub textfile: Option<TextfileJob>,
}

/// One entry of a service's `backups` list as written.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackupEntry {
    /// Backed up by Proxmox (vzdump or PBS) as its guest.
    #[serde(default)]
    pub proxmox: bool,
    /// Backed up by a script that writes a textfile metric.
    #[serde(default)]
    pub textfile: Option<TextfileJob>,
    /// How often it runs (default: the tier's RPO).
    #[serde(default)]
    pub every: Option<Duration>,
    /// How late a run may be before it counts as missed (default: a
    /// quarter of `every`, at least 5m).
    #[serde(default)]
    pub grace: Option<Duration>,
}

/// Where a backup's metrics come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupSource {
    /// Proxmox's backups of the service's guest (`pve_backup_*`).
    Proxmox,
    /// A script's textfile metrics (`backup_last_*{backup_job=JOB}`).
    Textfile {
        /// The job label.
        job: String,
    },
}

/// A backup of a service, checked and with its schedule resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// Where its metrics come from.
    pub source: BackupSource,
    /// How often it runs.
    pub every: Duration,
    /// How late a run may be.
    pub grace: Duration,
}

impl Backup {
    /// The `backup` label of its series: `proxmox` or the textfile job.
    pub fn label(&self) -> &str {
        match &self.source {
            BackupSource::Proxmox => "proxmox",
            BackupSource::Textfile { job } => job,
        }
    }

    /// The `source` label: `proxmox` or `textfile`.
    pub fn source_label(&self) -> &'static str {
        match self.source {
            BackupSource::Proxmox => "proxmox",
            BackupSource::Textfile { .. } => "textfile",
        }
    }

    /// Age past which a run counts as missed.
    pub fn deadline(&self) -> Duration {
        Duration(self.every.secs() + self.grace.secs())
    }
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
    /// The single-backup form, folded into `backups` at load.
    #[serde(default, rename = "backup")]
    pub legacy_backup: Option<LegacyBackup>,
    /// Backups as written.
    #[serde(default, rename = "backups")]
    pub backup_entries: Vec<BackupEntry>,
    /// Its backups, checked (empty: no RPO alerts).
    #[serde(skip)]
    pub backups: Vec<Backup>,
}

/// A UPS and what it powers.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ups {
    /// NUT's name of the UPS (the `ups` label).
    pub name: String,
    /// Node whose exporter reads it: with the name, what identifies it
    /// (two Synologies may each call theirs `ups`).
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
    /// How long a UPS must have been on battery before the nodes it powers
    /// may go quiet without an ExporterDown alert.
    pub ups_on_battery_before_inhibit: Duration,
    /// UPS load (0–1) counted as overload.
    pub ups_overload_ratio: f64,
    /// How long a service must be down before ServiceDown fires.
    pub service_down_after: Duration,
    /// How long a state the rules recorded (down since, last up) is
    /// remembered across a gap in the data, such as a Prometheus restart.
    pub state_memory: Duration,
    /// How long a series that said a service was up may vanish, with its
    /// node still answering, before the service counts as down.
    pub absent_grace: Duration,
    /// A container counts as up only when it was running for this share
    /// of `running_window` (a crash loop is down).
    pub running_share: f64,
    /// The window of `running_share`.
    pub running_window: Duration,
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
            ups_on_battery_before_inhibit: Duration(120),
            ups_overload_ratio: 0.9,
            service_down_after: Duration(180),
            state_memory: Duration(6 * 3600),
            absent_grace: Duration(300),
            running_share: 0.9,
            running_window: Duration(600),
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
    line_of_nth(text, key, value, 0)
}

/// The 1-based line of the `n`-th (from 0) `key: value` line whose value is
/// `value`, or 0.
fn line_of_nth(text: &str, key: &str, value: &str, n: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim_start().trim_start_matches("- ").trim_start_matches('{');
            t.split([',', '{']).any(|part| {
                let part = part.trim().trim_start_matches("- ");
                part.strip_prefix(key).and_then(|r| r.trim_start().strip_prefix(':')).is_some_and(|v| v.trim().trim_matches(['"', '\'', '}']) == value)
            })
        })
        .nth(n)
        .map(|(i, _)| i + 1)
        .unwrap_or(0)
}

/// The 1-based line of the first `key:` after line `from` (1-based), or
/// `from` when there is none.
fn line_of_key_after(text: &str, from: usize, key: &str) -> usize {
    let pattern = format!("{key}:");
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find(|(_, l)| l.split(['{', ',', ' ', '-']).any(|w| w == pattern) || l.trim_start().trim_start_matches("- ").starts_with(&pattern))
        .map(|(i, _)| i + 1)
        .unwrap_or(from)
}

/// The range a duration of the inventory must fall in.
struct Bounds {
    min: u64,
    max: u64,
}

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86400;
const YEAR: u64 = 365 * DAY;

impl Bounds {
    fn check(&self, key: &str, d: Duration) -> Result<(), String> {
        if d.secs() < self.min || d.secs() > self.max {
            return Err(format!("{key}: {d} is outside {}..{}", Duration(self.min), Duration(self.max)));
        }
        Ok(())
    }
}


/// Builds the error for `key` of a service, tier or UPS, pointing at the
/// line of `key:` after the line that names it.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn at(&self, line: usize, detail: String) -> Error {
        Error::Invalid { path: self.path.to_owned(), line, detail }
    }

    /// A YAML or schema error. A nested error (a `runs_on` of no known
    /// shape) carries its own position inside the text: the innermost one
    /// gives the line, and the positions leave the text.
    fn yaml(&self, e: &serde_yaml_ng::Error) -> Error {
        let text = e.to_string();
        let mut detail = String::new();
        let mut line = None;
        let mut rest = text.as_str();
        while let Some(i) = rest.find(" at line ") {
            detail.push_str(&rest[..i]);
            let after = &rest[i + " at line ".len()..];
            let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
            line = line.or(digits.parse::<usize>().ok());
            let tail = &after[digits.len()..];
            let tail = tail.strip_prefix(" column ").map(|t| t.trim_start_matches(|c: char| c.is_ascii_digit())).unwrap_or(tail);
            rest = tail;
        }
        detail.push_str(rest);
        let mut line = line.or(e.location().map(|l| l.line())).unwrap_or(0);
        // A shape error is placed at the service it belongs to: point at
        // its runs_on.
        if line > 0 && detail.contains("runs_on") {
            line = line_of_key_after(self.text, line, "runs_on");
        }
        self.at(line, detail)
    }

    /// An error about `key` of the entry whose `anchor_key` is `anchor`.
    fn key(&self, anchor_key: &str, anchor: &str, key: &str, detail: String) -> Error {
        let start = line_of(self.text, anchor_key, anchor);
        self.at(if start == 0 { 0 } else { line_of_key_after(self.text, start, key) }, detail)
    }

    /// An error about `key` of the tier `name` (`name:` opens the tier).
    fn tier(&self, name: &str, key: &str, detail: String) -> Error {
        let start = self.text.lines().position(|l| l.trim_start().starts_with(&format!("{name}:"))).map(|i| i + 1).unwrap_or(0);
        self.at(if start == 0 { 0 } else { line_of_key_after(self.text, start, key) }, detail)
    }

    /// An error about setting `key`.
    fn setting(&self, key: &str, detail: String) -> Error {
        self.tier("settings", key, detail)
    }
}

impl Inventory {
    /// Parses and checks an inventory; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let at = Locator { path, text };
        // A key given twice in one mapping: serde's structs refuse a field
        // twice, but a map (the tiers) would keep the last silently; YAML's
        // own value type refuses both.
        serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text).map_err(|e| at.yaml(&e))?;
        let mut inv: Inventory = serde_yaml_ng::from_str(text).map_err(|e| at.yaml(&e))?;
        let mut names = std::collections::BTreeSet::new();
        for n in &inv.nodes {
            if !names.insert(n.name.clone()) {
                return Err(at.at(line_of_nth(text, "name", &n.name, 1), format!("nodes: node {:?} is listed twice", n.name)));
            }
        }
        for (name, t) in &inv.tiers {
            let bounds = Bounds { min: MINUTE, max: YEAR };
            bounds.check(&format!("tiers.{name}.rto"), t.rto).map_err(|d| at.tier(name, "rto", d))?;
            bounds.check(&format!("tiers.{name}.rpo"), t.rpo).map_err(|d| at.tier(name, "rpo", d))?;
        }
        let mut services = std::collections::BTreeSet::new();
        let tiers = inv.tiers.clone();
        for s in &mut inv.services {
            let svc = s.name.clone();
            let err = |key: &str, detail: String| at.key("name", &svc, key, format!("services.{svc}.{detail}"));
            if !services.insert(svc.clone()) {
                return Err(at.at(line_of_nth(text, "name", &svc, 1), format!("services: service {svc:?} is listed twice")));
            }
            let Some(tier) = tiers.get(&s.tier) else {
                return Err(err("tier", format!("tier: unknown tier {:?} (tiers: {})", s.tier, tiers.keys().cloned().collect::<Vec<_>>().join(", "))));
            };
            if let Some(node) = s.runs_on.node() {
                if !names.contains(node) {
                    return Err(err("node", format!("runs_on.node: unknown node {node:?}")));
                }
            }
            s.backups = backups_of(s, tier).map_err(|(key, detail)| err(key, detail))?;
        }
        let mut upses = std::collections::BTreeSet::new();
        for u in &inv.ups {
            let err = |key: &str, detail: String| at.key("name", &u.name, key, format!("ups.{}.{detail}", u.name));
            if !upses.insert((u.name.clone(), u.node.clone())) {
                let nth = inv.ups.iter().filter(|o| o.name == u.name).count().saturating_sub(1);
                return Err(at.at(line_of_nth(text, "name", &u.name, nth), format!("ups.{}.name: UPS {:?} read by node {:?} is listed twice", u.name, u.name, u.node)));
            }
            for n in u.powers.iter().chain(std::iter::once(&u.node)) {
                if !names.contains(n.as_str()) {
                    return Err(err("node", format!("node: unknown node {n:?}")));
                }
            }
            Bounds { min: 1, max: DAY }.check("shutdown_budget", u.shutdown_budget).map_err(|d| err("shutdown_budget", d))?;
        }
        check_settings(&inv.settings).map_err(|(key, detail)| at.setting(key, format!("settings.{detail}")))?;
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
        self.tiers.get(&s.tier).unwrap_or(&Tier { rto: Duration(3600), rpo: Duration(3600), page: None })
    }

    /// Whether the alerts of a tier page: as the tier says, else the tiers
    /// with the shortest RTO do.
    pub fn pages(&self, tier: &str) -> bool {
        let shortest = self.tiers.values().map(|t| t.rto).min();
        self.tiers.get(tier).is_some_and(|t| t.page.unwrap_or(Some(t.rto) == shortest))
    }
}

/// A service's backups from either form, with schedules resolved; the error
/// names the key.
fn backups_of(s: &Service, tier: &Tier) -> Result<Vec<Backup>, (&'static str, String)> {
    let entries: Vec<BackupEntry> = match (&s.legacy_backup, s.backup_entries.is_empty()) {
        (Some(_), false) => return Err(("backups", "backup: say backup or backups, not both".into())),
        (Some(b), true) => {
            if !b.proxmox && b.textfile.is_none() {
                return Err(("backup", "backup: say proxmox: true or textfile: {job: NAME}".into()));
            }
            let mut out = Vec::new();
            if b.proxmox {
                out.push(BackupEntry { proxmox: true, textfile: None, every: None, grace: None });
            }
            if let Some(t) = &b.textfile {
                out.push(BackupEntry { proxmox: false, textfile: Some(t.clone()), every: None, grace: None });
            }
            out
        }
        (None, _) => s.backup_entries.clone(),
    };
    let mut out: Vec<Backup> = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let source = match (e.proxmox, e.textfile) {
            (true, None) => BackupSource::Proxmox,
            (false, Some(t)) => BackupSource::Textfile { job: t.job },
            _ => return Err(("backups", format!("backups[{i}]: say exactly one source: proxmox: true or textfile: {{job: NAME}}"))),
        };
        if source == BackupSource::Proxmox && !matches!(s.runs_on, RunsOn::ProxmoxGuest { .. }) {
            return Err(("proxmox", format!("backups[{i}].proxmox: only a Proxmox guest is backed up by Proxmox")));
        }
        let every = e.every.unwrap_or(tier.rpo);
        Bounds { min: MINUTE, max: YEAR }.check(&format!("backups[{i}].every"), every).map_err(|d| ("every", d))?;
        let grace = e.grace.unwrap_or(Duration((every.secs() / 4).max(5 * MINUTE)));
        Bounds { min: 0, max: YEAR }.check(&format!("backups[{i}].grace"), grace).map_err(|d| ("grace", d))?;
        let backup = Backup { source, every, grace };
        if out.iter().any(|b| b.label() == backup.label()) {
            return Err(("backups", format!("backups[{i}]: {:?} is listed twice", backup.label())));
        }
        out.push(backup);
    }
    if !out.is_empty() && out.iter().all(|b| b.every > tier.rpo) {
        return Err(("every", format!("backups: no backup runs at least every RPO ({}), so the RPO alert would fire every cycle", tier.rpo)));
    }
    Ok(out)
}

/// Settings out of range; the error names the key.
fn check_settings(s: &Settings) -> Result<(), (&'static str, String)> {
    let durations: [(&'static str, Duration, Bounds); 7] = [
        ("restore_drill_interval", s.restore_drill_interval, Bounds { min: HOUR, max: 2 * YEAR }),
        ("ups_runtime_margin", s.ups_runtime_margin, Bounds { min: 0, max: HOUR }),
        ("ups_on_battery_before_inhibit", s.ups_on_battery_before_inhibit, Bounds { min: 0, max: HOUR }),
        ("service_down_after", s.service_down_after, Bounds { min: 0, max: HOUR }),
        ("state_memory", s.state_memory, Bounds { min: 10 * MINUTE, max: 30 * DAY }),
        ("absent_grace", s.absent_grace, Bounds { min: 0, max: HOUR }),
        ("running_window", s.running_window, Bounds { min: MINUTE, max: DAY }),
    ];
    for (key, d, bounds) in durations {
        bounds.check(key, d).map_err(|e| (key, e))?;
    }
    let ratios: [(&'static str, f64); 7] = [
        ("ups_overload_ratio", s.ups_overload_ratio),
        ("running_share", s.running_share),
        ("filesystem_free_warning", s.filesystem_free_warning),
        ("filesystem_free_critical", s.filesystem_free_critical),
        ("inodes_free_critical", s.inodes_free_critical),
        ("memory_available_warning", s.memory_available_warning),
        ("storage_used_warning", s.storage_used_warning),
    ];
    for (key, r) in ratios {
        if !(r > 0.0 && r <= 1.0) {
            return Err((key, format!("{key}: {r} is not a ratio in (0, 1]")));
        }
    }
    if !(0.0..=150.0).contains(&s.temperature_celsius_warning) {
        return Err(("temperature_celsius_warning", format!("temperature_celsius_warning: {} is outside 0..150", s.temperature_celsius_warning)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "tiers:\n  critical: {rto: 4h, rpo: 1h}\nnodes:\n  - {name: atlantis, address: 10.0.0.10, kind: synology}\nservices:\n  - name: ha\n    tier: critical\n    runs_on: {proxmox_guest: 101}\n    backup: {proxmox: true}\n  - name: web\n    tier: critical\n    runs_on: {container: nginx, node: atlantis}\nups:\n  - {name: ups, node: atlantis, powers: [atlantis], shutdown_budget: 5m}\n";

    #[test]
    fn parses_a_good_inventory() {
        let inv = Inventory::parse(Path::new("h.yaml"), GOOD).unwrap();
        assert_eq!(inv.services.len(), 2);
        assert_eq!(inv.services[0].runs_on, RunsOn::ProxmoxGuest { proxmox_guest: 101, kind: GuestKind::Qemu, cluster: None, node: None });
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
        let inv = Inventory::parse(Path::new("h.yaml"), &GOOD.replace("rto: 4h", "rto: 1y")).unwrap();
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

    /// Each malformed inventory of the recovery-rules issue: refused with
    /// file, line and the key named.
    #[test]
    fn malformed_inventories_name_file_line_and_key() {
        let cases: &[(&str, String, usize, &str)] = &[
            ("a key twice in one mapping", GOOD.replace("{rto: 4h, rpo: 1h}", "{rto: 4h, rpo: 1h, rto: 8h}"), 2, "rto"),
            ("a tier twice", GOOD.replace("  critical: {rto: 4h, rpo: 1h}\n", "  critical: {rto: 4h, rpo: 1h}\n  critical: {rto: 8h, rpo: 1h}\n"), 2, "duplicate entry with key \"critical\""),
            ("two UPSes with one name on one node", GOOD.replace("shutdown_budget: 5m}\n", "shutdown_budget: 5m}\n  - {name: ups, node: atlantis, shutdown_budget: 3m}\n"), 15, "listed twice"),
            ("rto: 200y", GOOD.replace("rto: 4h", "rto: 200y"), 2, "tiers.critical.rto"),
            ("shutdown_budget: 0s", GOOD.replace("shutdown_budget: 5m", "shutdown_budget: 0s"), 14, "shutdown_budget"),
            ("a runs_on of no known shape", GOOD.replace("{container: nginx, node: atlantis}", "{host: nginx}"), 12, "accepted forms"),
            ("a container without its node", GOOD.replace("{container: nginx, node: atlantis}", "{container: nginx}"), 12, "needs the node"),
            ("backups whose every is longer than the RPO", GOOD.replace("backup: {proxmox: true}", "backups: [{proxmox: true, every: 1d}]"), 9, "every RPO"),
            ("a backup with two sources", GOOD.replace("backup: {proxmox: true}", "backups: [{proxmox: true, textfile: {job: x}}]"), 9, "exactly one source"),
            ("a setting out of range", format!("{GOOD}settings:\n  state_memory: 1m\n"), 16, "settings.state_memory"),
        ];
        for (what, text, line, key) in cases {
            let e = match Inventory::parse(Path::new("h.yaml"), text) {
                Ok(_) => panic!("{what}: accepted"),
                Err(e) => e.to_string(),
            };
            assert!(e.starts_with(&format!("h.yaml:{line}:")), "{what}: {e}");
            assert!(e.contains(key), "{what}: {e}");
        }
    }

    #[test]
    fn the_single_backup_form_with_both_sources_keeps_both() {
        let inv = Inventory::parse(Path::new("h.yaml"), &GOOD.replace("backup: {proxmox: true}", "backup: {proxmox: true, textfile: {job: ha-config}}")).unwrap();
        let labels: Vec<&str> = inv.services[0].backups.iter().map(|b| b.label()).collect();
        assert_eq!(labels, ["proxmox", "ha-config"]);
        assert!(inv.services[0].backups.iter().all(|b| b.every == Duration(3600) && b.grace == Duration(900)));
    }

    #[test]
    fn the_tiers_with_the_shortest_rto_page_unless_told() {
        let text = GOOD.replace("  critical: {rto: 4h, rpo: 1h}\n", "  critical: {rto: 4h, rpo: 1h}\n  standard: {rto: 1d, rpo: 1d}\n  lab: {rto: 1w, rpo: 1w, page: true}\n");
        let inv = Inventory::parse(Path::new("h.yaml"), &text).unwrap();
        assert!(inv.pages("critical"));
        assert!(!inv.pages("standard"));
        assert!(inv.pages("lab"));
    }
}

