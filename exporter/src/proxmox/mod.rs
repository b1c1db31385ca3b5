//! The `proxmox` collector: Proxmox VE metrics from the HTTPS API with an
//! API token (a PVEAuditor token is enough), under prometheus-pve-exporter's
//! names, plus the freshness of every guest's backups.
//!
//! Each scrape reads, per configured endpoint (`--collector.proxmox.url`,
//! `proxmox.endpoints` in the configuration file; a cluster or a standalone
//! node), `/cluster/status`, `/cluster/resources`, `/version` and
//! `/cluster/backup-info/not-backed-up`; then, for every online node,
//! guest configs (`onboot`), replication jobs, the subscription, vzdump
//! tasks (and the logs of multi-guest ones, once each) and the backup
//! content of every backup storage. Requests run concurrently, bounded,
//! each cut at the scrape deadline: a slow or failing node costs only its
//! own series.
//!
//! [`client`] is the HTTPS client, [`api`] the answers' shapes and
//! [`emit`] the pure mapping into metric families, [`backups`] the
//! analysis of backup storages and vzdump tasks behind `pve_backup_*`.

pub mod api;
pub mod client;
pub mod backups;
pub mod emit;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::collector::{AsyncCollector, BuildError, Collector, Context, Error, GatherFuture, Scrape};
use crate::metrics::Snapshot;
use crate::secret::{Both, Source, SourceError};

use api::{decode, status_num, status_str, Content, GuestConfig, LogLine, QDevice, Resource, StatusEntry, Task};
use client::{segment, ApiError, Client, Session, SetupError, Target, Token, Trust};
use backups::GuestRun;
use emit::{Gathered, NodeGathered};

/// The environment variable read for the token when no token file is given.
pub const TOKEN_ENV: &str = "HOMELAB_PROXMOX_TOKEN";
/// Multi-guest vzdump task logs fetched per node and scrape, at most, one
/// after the other (each may make older ones unneeded); each is fetched
/// once and kept, as a finished task's log does not change.
const LOGS_PER_NODE: usize = 3;
/// Task logs kept between scrapes, at most.
const LOG_CACHE_MAX: usize = 1024;
/// Lines of a task log read, at most.
const LOG_LINES: usize = 50_000;
/// vzdump tasks listed per node.
const TASKS_LIMIT: usize = 50;

/// Flags of the `proxmox` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Proxmox VE API URL of a cluster node or standalone host, as https://HOST[:PORT] (port 8006 when omitted).
    #[arg(long = "collector.proxmox.url", value_name = "URL")]
    pub proxmox_url: Option<String>,
    /// File holding the API token as USER@REALM!TOKENID=SECRET (default: the HOMELAB_PROXMOX_TOKEN environment variable).
    #[arg(long = "collector.proxmox.token-file", value_name = "FILE")]
    pub proxmox_token_file: Option<PathBuf>,
    /// PEM file of the CA certificates to trust for the API (e.g. the cluster's /etc/pve/pve-root-ca.pem).
    #[arg(long = "collector.proxmox.ca-file", value_name = "FILE")]
    pub proxmox_ca_file: Option<PathBuf>,
    /// Trust exactly the API certificate with this SHA-256 fingerprint (AA:BB:..., as Proxmox shows it).
    #[arg(long = "collector.proxmox.fingerprint", value_name = "SHA256")]
    pub proxmox_fingerprint: Option<String>,
    /// Trust any API certificate (insecure: the token can be intercepted).
    #[arg(long = "collector.proxmox.insecure-skip-verify", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub proxmox_insecure_skip_verify: bool,
    /// Most API requests in flight at once per endpoint.
    #[arg(long = "collector.proxmox.max-concurrency", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub proxmox_max_concurrency: u16,
    /// Read every guest's config for pve_onboot_status (one request per guest).
    #[arg(long = "collector.proxmox.onboot", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub proxmox_onboot: bool,
    /// Read backup storages and vzdump tasks for the pve_backup_* metrics.
    #[arg(long = "collector.proxmox.backups", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true")]
    pub proxmox_backups: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            proxmox_url: None,
            proxmox_token_file: None,
            proxmox_ca_file: None,
            proxmox_fingerprint: None,
            proxmox_insecure_skip_verify: false,
            proxmox_max_concurrency: 4,
            proxmox_onboot: true,
            proxmox_backups: true,
        }
    }
}

/// The `proxmox:` section of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Clusters or standalone nodes, besides `--collector.proxmox.url`.
    #[serde(default)]
    pub endpoints: Vec<EndpointConfig>,
}

/// One API endpoint in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// `https://HOST[:PORT]`.
    pub url: String,
    /// File holding the token as `USER@REALM!TOKENID=SECRET`.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Environment variable holding the token (default `HOMELAB_PROXMOX_TOKEN`).
    #[serde(default)]
    pub token_env: Option<String>,
    /// PEM CA certificates to trust.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// SHA-256 fingerprint of the one certificate to trust.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Trust any certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

fn build_error(detail: impl Into<String>) -> BuildError {
    BuildError { collector: "proxmox", detail: detail.into() }
}

/// The trust setting of one endpoint: exactly one of the three.
fn trust_of(ca: Option<&PathBuf>, fingerprint: Option<&str>, insecure: bool) -> Result<Trust, (&'static str, SetupError)> {
    match (ca, fingerprint, insecure) {
        (Some(ca), None, false) => Ok(Trust::CaFile(ca.clone())),
        (None, Some(fp), false) => client::parse_fingerprint(fp).map(Trust::Fingerprint).map_err(|e| ("fingerprint", e)),
        (None, None, true) => Ok(Trust::InsecureSkipVerify),
        (None, None, false) => Err((
            "ca-file",
            SetupError::Trust("say how to trust the API certificate: a CA file, a SHA-256 fingerprint, or insecure-skip-verify"),
        )),
        _ => Err(("ca-file", SetupError::Trust("give only one of a CA file, a fingerprint and insecure-skip-verify"))),
    }
}

/// Reads and parses the token from its source.
fn read_token(source: &Source) -> Result<Token, SetupError> {
    let text = source.read().map_err(|e| match e {
        SourceError::File(e) => SetupError::TokenFile(e),
        SourceError::Unset(var) => SetupError::Token { source_name: format!("environment variable {var}"), detail: "not set" },
    })?;
    Token::parse(&text, &source.name())
}

/// Every endpoint of the flags and the configuration file, checked.
fn configured_clients(opts: &Options, cx: &Context<Config>) -> Result<Vec<Client>, BuildError> {
    let mut clients = Vec::new();
    match &opts.proxmox_url {
        Some(url) => {
            let flag = |name: &str, e: SetupError| build_error(format!("--collector.proxmox.{name}: {e}"));
            let target = Target::parse(url).map_err(|e| flag("url", e))?;
            let trust = trust_of(opts.proxmox_ca_file.as_ref(), opts.proxmox_fingerprint.as_deref(), opts.proxmox_insecure_skip_verify)
                .map_err(|(name, e)| flag(name, e))?;
            let source = match &opts.proxmox_token_file {
                Some(path) => Source::File(path.clone()),
                None => Source::Env(TOKEN_ENV.to_owned()),
            };
            let token = read_token(&source).map_err(|e| flag("token-file", e))?;
            clients.push(Client::new(target, &trust, token).map_err(|e| flag("ca-file", e))?);
        }
        None => {
            let stray = [
                ("token-file", opts.proxmox_token_file.is_some()),
                ("ca-file", opts.proxmox_ca_file.is_some()),
                ("fingerprint", opts.proxmox_fingerprint.is_some()),
                ("insecure-skip-verify", opts.proxmox_insecure_skip_verify),
            ];
            if let Some((name, _)) = stray.iter().find(|(_, given)| *given) {
                return Err(build_error(format!("--collector.proxmox.{name} needs --collector.proxmox.url")));
            }
        }
    }
    if let Some(cfg) = cx.section {
        for (i, ep) in cfg.endpoints.iter().enumerate() {
            let at = |key: &str, e: SetupError| {
                build_error(cx.at_key(key, format!("proxmox.endpoints[{i}].{key}: {e}")))
            };
            let target = Target::parse(&ep.url).map_err(|e| at("url", e))?;
            let trust = trust_of(ep.ca_file.as_ref(), ep.fingerprint.as_deref(), ep.insecure_skip_verify)
                .map_err(|(name, e)| at(&name.replace('-', "_"), e))?;
            let source = Source::from_pair(ep.token_file.as_deref(), ep.token_env.as_deref())
                .map_err(|Both| at("token_env", SetupError::Trust("give token_file or token_env, not both")))?
                .unwrap_or_else(|| Source::Env(TOKEN_ENV.to_owned()));
            let key = if matches!(source, Source::File(_)) { "token_file" } else { "token_env" };
            let token = read_token(&source).map_err(|e| at(key, e))?;
            clients.push(Client::new(target, &trust, token).map_err(|e| at("ca_file", e))?);
        }
    }
    let mut seen = HashSet::new();
    for c in &clients {
        if !seen.insert(c.display().to_owned()) {
            return Err(build_error(format!("endpoint {} is configured twice", c.display())));
        }
    }
    Ok(clients)
}

/// Builds the collector; `Ok(None)` when no endpoint is configured.
pub fn build(opts: &Options, cx: &Context<Config>) -> Result<Option<Collector>, BuildError> {
    let clients = configured_clients(opts, cx)?;
    if clients.is_empty() {
        return Ok(None);
    }
    let tuning = Tuning {
        concurrency: usize::from(opts.proxmox_max_concurrency),
        onboot: opts.proxmox_onboot,
        backups: opts.proxmox_backups,
    };
    Ok(Some(Collector::network(ProxmoxCollector {
        endpoints: clients
            .into_iter()
            .map(|client| Arc::new(Endpoint { client, logs: Mutex::new(HashMap::new()), seen: Mutex::new(HashMap::new()) }))
            .collect(),
        tuning,
    })))
}

/// What the flags say about the amount of work per scrape.
#[derive(Debug, Clone, Copy)]
struct Tuning {
    concurrency: usize,
    onboot: bool,
    backups: bool,
}

/// One endpoint with what is kept between scrapes: parsed logs of finished
/// vzdump tasks (they never change) and the last error of each part, so
/// that a failure is logged when it starts and when it ends, not on every
/// scrape.
struct Endpoint {
    client: Client,
    logs: Mutex<HashMap<String, Arc<Vec<GuestRun>>>>,
    seen: Mutex<HashMap<String, String>>,
}

/// The collector behind `/metrics`.
struct ProxmoxCollector {
    endpoints: Vec<Arc<Endpoint>>,
    tuning: Tuning,
}

/// A request of the node phase, and what its answer is for.
#[derive(Debug)]
enum Req {
    QDevice,
    Config { node: usize, kind: &'static str, vmid: u32 },
    Replication { node: usize },
    Subscription { node: usize },
    Tasks { node: usize },
    Log { node: usize, upid: String },
    Content { node: usize, storage_id: String },
}

impl Req {
    fn node(&self) -> Option<usize> {
        match self {
            Req::QDevice => None,
            Req::Config { node, .. }
            | Req::Replication { node }
            | Req::Subscription { node }
            | Req::Tasks { node }
            | Req::Log { node, .. }
            | Req::Content { node, .. } => Some(*node),
        }
    }
}

type Answer = (Req, String, Result<Bytes, ApiError>);

/// A failed request: the node it was for (None: cluster-wide) and why.
type Failure = (Option<String>, String);

fn spawn(set: &mut JoinSet<Answer>, session: &Arc<Session>, limit: Option<&Arc<Semaphore>>, path: String, req: Req) {
    let session = Arc::clone(session);
    let limit = limit.cloned();
    set.spawn(async move {
        let result = session.get(&path, limit.as_deref()).await;
        (req, path, result)
    });
}

async fn get_one<T: serde::de::DeserializeOwned>(session: &Session, path: &str) -> Result<T, ApiError> {
    let body = session.get(path, None).await?;
    decode(&body).map_err(|detail| ApiError::Decode { path: path.to_owned(), detail })
}

fn decoded<T: serde::de::DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, ApiError> {
    decode(body).map_err(|detail| ApiError::Decode { path: path.to_owned(), detail })
}

/// Names of the nodes to ask: online per `/cluster/status`, else per
/// `/cluster/resources`.
fn online_nodes(status: Option<&[StatusEntry]>, resources: Option<&[Resource]>) -> Vec<String> {
    let mut nodes: BTreeSet<String> = BTreeSet::new();
    if let Some(status) = status {
        for e in status.iter().filter(|e| status_str(e, "type") == "node") {
            if status_num(e, "online").is_some_and(|v| v != 0.0) {
                nodes.insert(status_str(e, "name"));
            }
        }
    } else if let Some(resources) = resources {
        for r in resources.iter().filter(|r| r.kind == "node") {
            if r.status.as_ref().is_some_and(|s| s.as_str() == "online") {
                nodes.insert(r.node_name().to_owned());
            }
        }
    }
    nodes.into_iter().filter(|n| !n.is_empty()).collect()
}

/// Storages to list backups of: available, offering backup content, on an
/// online node; a shared storage (and any PBS storage) once, through the
/// first online node that has it. Returns (node index, `storage/NODE/NAME`,
/// storage name).
fn backup_storages(resources: &[Resource], nodes: &[String]) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut shared_done: HashSet<String> = HashSet::new();
    let mut candidates: Vec<&Resource> = resources
        .iter()
        .filter(|r| r.kind == "storage" && r.holds_backups())
        .filter(|r| r.status.as_ref().is_some_and(|s| s.as_str() == "available"))
        .collect();
    candidates.sort_by(|a, b| a.id.cmp(&b.id));
    for r in candidates {
        let Some(node) = nodes.iter().position(|n| n == r.node_name()) else { continue };
        let Some(name) = r.storage.as_ref().map(|s| s.0.clone()) else { continue };
        let shared = r.shared.is_some_and(|s| s.0 != 0.0) || r.plugintype.as_ref().is_some_and(|p| p.as_str() == "pbs");
        if shared && !shared_done.insert(name.clone()) {
            continue;
        }
        out.push((node, r.id.clone(), name));
    }
    out
}

/// Scrapes one endpoint under `deadline`: what it answered, and the
/// failures (as messages naming the request). The plan: the cluster-wide
/// requests first; when they name the online nodes, every per-node request
/// at once (bounded per node and per endpoint); then each answer as it
/// comes, a vzdump task list or log possibly asking for further logs.
async fn scrape_endpoint(ep: Arc<Endpoint>, tuning: Tuning, deadline: Instant) -> (Gathered, Vec<Failure>) {
    let session = ep.client.session(tuning.concurrency, deadline);
    let mut round = Round::new(&ep);
    round.read_cluster(&session).await;
    if round.g.status.is_none() && round.g.resources.is_none() {
        return round.finish(&ep);
    }
    round.find_nodes(tuning);
    let mut set: JoinSet<Answer> = JoinSet::new();
    round.ask_nodes(&session, tuning, &mut set);
    while let Some(joined) = set.join_next().await {
        let Ok((req, path, result)) = joined else { continue };
        round.take(&ep, &session, &mut set, req, &path, result);
    }
    round.finish(&ep)
}

/// One scrape of one endpoint, as it goes.
struct Round {
    g: Gathered,
    errors: Vec<Failure>,
    /// The online nodes, by index in `g.nodes`.
    names: Vec<String>,
    /// Per-node bound on requests in flight.
    limits: Vec<Arc<Semaphore>>,
    contents: Vec<(String, Vec<Content>)>,
    /// UPIDs of the tasks listed this scrape (to trim the log cache).
    current_upids: HashSet<String>,
    /// Whether every node's task list was read (else the cache is kept).
    all_task_lists: bool,
    /// Logs asked for per node this scrape.
    logs_fetched: Vec<usize>,
    /// Whether the cluster-wide answers named the nodes to ask.
    nodes_asked: bool,
}

impl Round {
    fn new(ep: &Endpoint) -> Self {
        Self {
            g: Gathered { endpoint: ep.client.display().to_owned(), ..Default::default() },
            errors: Vec::new(),
            names: Vec::new(),
            limits: Vec::new(),
            contents: Vec::new(),
            current_upids: HashSet::new(),
            all_task_lists: true,
            logs_fetched: Vec::new(),
            nodes_asked: false,
        }
    }

    /// The cluster-wide requests, at once.
    async fn read_cluster(&mut self, session: &Session) {
        let (status, resources, version, not_backed_up) = tokio::join!(
            get_one::<Vec<StatusEntry>>(session, "/cluster/status"),
            get_one::<Vec<Resource>>(session, "/cluster/resources"),
            get_one::<api::Version>(session, "/version"),
            get_one::<Vec<api::NotBackedUp>>(session, "/cluster/backup-info/not-backed-up"),
        );
        let errors = &mut self.errors;
        let mut cluster_error = |e: ApiError| errors.push((None, e.to_string()));
        self.g.status = status.map_err(&mut cluster_error).ok();
        self.g.resources = resources.map_err(&mut cluster_error).ok();
        self.g.version = version.map_err(&mut cluster_error).ok();
        self.g.not_backed_up = not_backed_up.map_err(&mut cluster_error).ok();
        self.g.cluster_failed = !self.errors.is_empty();
    }

    /// The online nodes and their request bounds.
    fn find_nodes(&mut self, tuning: Tuning) {
        self.names = online_nodes(self.g.status.as_deref(), self.g.resources.as_deref());
        self.g.nodes = self.names.iter().map(|n| NodeGathered { name: n.clone(), complete: true, ..Default::default() }).collect();
        let per_node = (tuning.concurrency / 2).max(1);
        self.limits = self.names.iter().map(|_| Arc::new(Semaphore::new(per_node))).collect();
        self.logs_fetched = vec![0; self.names.len()];
        self.nodes_asked = true;
    }

    /// Every per-node request (and the QDevice's, for a cluster).
    fn ask_nodes(&self, session: &Arc<Session>, tuning: Tuning, set: &mut JoinSet<Answer>) {
        let resources: &[Resource] = self.g.resources.as_deref().unwrap_or(&[]);
        if self.g.status.as_deref().unwrap_or(&[]).iter().any(|e| status_str(e, "type") == "cluster") {
            spawn(set, session, None, "/cluster/config/qdevice".into(), Req::QDevice);
        }
        for (i, node) in self.names.iter().enumerate() {
            let n = segment(node);
            let limit = Some(&self.limits[i]);
            if tuning.onboot {
                for r in resources.iter().filter(|r| r.node_name() == node) {
                    let kind = match r.kind.as_str() {
                        "qemu" => "qemu",
                        "lxc" => "lxc",
                        _ => continue,
                    };
                    let Some(vmid) = r.guest_vmid() else { continue };
                    spawn(set, session, limit, format!("/nodes/{n}/{kind}/{vmid}/config"), Req::Config { node: i, kind, vmid });
                }
            }
            spawn(set, session, limit, format!("/nodes/{n}/replication"), Req::Replication { node: i });
            spawn(set, session, limit, format!("/nodes/{n}/subscription"), Req::Subscription { node: i });
            if tuning.backups {
                spawn(set, session, limit, format!("/nodes/{n}/tasks?typefilter=vzdump&limit={TASKS_LIMIT}"), Req::Tasks { node: i });
            }
        }
        if tuning.backups {
            for (node, storage_id, storage) in backup_storages(resources, &self.names) {
                let path = format!("/nodes/{}/storage/{}/content?content=backup", segment(&self.names[node]), segment(&storage));
                spawn(set, session, Some(&self.limits[node]), path, Req::Content { node, storage_id });
            }
        }
    }

    /// Guests a node should have a task outcome for (templates aside).
    fn guests_on(&self, node: &str) -> HashSet<u32> {
        self.g
            .resources
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter(|r| matches!(r.kind.as_str(), "qemu" | "lxc") && r.node_name() == node)
            .filter(|r| r.template.as_ref().is_none_or(|t| t.as_str() == "0"))
            .filter_map(Resource::guest_vmid)
            .collect()
    }

    /// Asks for the log of each task in `upids`, on `node`.
    fn ask_logs(&mut self, session: &Arc<Session>, set: &mut JoinSet<Answer>, node: usize, upids: Vec<String>) {
        for upid in upids {
            self.logs_fetched[node] += 1;
            let path = format!("/nodes/{}/tasks/{}/log?limit={LOG_LINES}", segment(&self.names[node]), segment(&upid));
            spawn(set, session, Some(&self.limits[node]), path, Req::Log { node, upid });
        }
    }

    /// Records one answer, or its failure.
    fn take(
        &mut self,
        ep: &Endpoint,
        session: &Arc<Session>,
        set: &mut JoinSet<Answer>,
        req: Req,
        path: &str,
        result: Result<Bytes, ApiError>,
    ) {
        let body = match result {
            Ok(body) => body,
            // No QDevice configured: prometheus-pve-exporter skips it too.
            Err(ApiError::Status { .. }) if matches!(req, Req::QDevice) => return,
            Err(e) => {
                if req.node().is_none() {
                    self.g.cluster_failed = true;
                }
                return self.fail(&req, e);
            }
        };
        if let Err(e) = self.record(ep, session, set, &req, path, &body) {
            self.fail(&req, e);
        }
    }

    /// A failed request: its node (or the cluster) is incomplete.
    fn fail(&mut self, req: &Req, e: ApiError) {
        if matches!(req, Req::Tasks { .. }) {
            self.all_task_lists = false;
        }
        if let Some(slot) = req.node().and_then(|i| self.g.nodes.get_mut(i)) {
            slot.complete = false;
        }
        self.errors.push((req.node().map(|i| self.names[i].clone()), e.to_string()));
    }

    /// Decodes an answer into the gathered data.
    fn record(
        &mut self,
        ep: &Endpoint,
        session: &Arc<Session>,
        set: &mut JoinSet<Answer>,
        req: &Req,
        path: &str,
        body: &[u8],
    ) -> Result<(), ApiError> {
        match req {
            Req::QDevice => self.g.qdevice = Some(decoded::<Option<QDevice>>(path, body)?.unwrap_or_default()),
            Req::Config { node, kind, vmid } => {
                let config: GuestConfig = decoded(path, body)?;
                self.g.nodes[*node].configs.push((kind, *vmid, config));
            }
            Req::Replication { node } => self.g.nodes[*node].replication = Some(decoded(path, body)?),
            Req::Subscription { node } => self.g.nodes[*node].subscription = Some(decoded(path, body)?),
            Req::Content { storage_id, .. } => self.contents.push((storage_id.clone(), decoded(path, body)?)),
            Req::Log { node, upid } => {
                let lines: Vec<LogLine> = decoded(path, body)?;
                let runs = Arc::new(backups::parse_vzdump_log(&lines));
                let next = match ep.logs.lock() {
                    Ok(mut cache) => {
                        cache.insert(upid.clone(), Arc::clone(&runs));
                        let tasks = self.g.nodes[*node].tasks.as_deref().unwrap_or(&[]);
                        backups::logs_to_fetch(tasks, &self.guests_on(&self.names[*node]), &cache, 1)
                    }
                    Err(_) => Vec::new(),
                };
                self.g.logs.insert(upid.clone(), runs);
                // One log at a time per node: each may make older ones unneeded.
                if self.logs_fetched[*node] < LOGS_PER_NODE {
                    self.ask_logs(session, set, *node, next);
                }
            }
            Req::Tasks { node } => {
                let tasks: Vec<Task> = decoded(path, body)?;
                let wanted = match ep.logs.lock() {
                    Ok(cache) => {
                        for t in &tasks {
                            self.current_upids.insert(t.upid.clone());
                            if let Some(runs) = cache.get(&t.upid) {
                                self.g.logs.insert(t.upid.clone(), Arc::clone(runs));
                            }
                        }
                        backups::logs_to_fetch(&tasks, &self.guests_on(&self.names[*node]), &cache, 1)
                    }
                    Err(_) => Vec::new(),
                };
                self.ask_logs(session, set, *node, wanted);
                self.g.nodes[*node].tasks = Some(tasks);
            }
        }
        Ok(())
    }

    /// What was gathered; trims the endpoint's log cache to the tasks
    /// listed, when the nodes were asked, every list was read and the
    /// cache is half full.
    fn finish(mut self, ep: &Endpoint) -> (Gathered, Vec<Failure>) {
        self.g.contents = self.contents;
        if self.nodes_asked && self.all_task_lists {
            if let Ok(mut cache) = ep.logs.lock() {
                if cache.len() > LOG_CACHE_MAX / 2 {
                    cache.retain(|upid, _| self.current_upids.contains(upid));
                }
            }
        }
        self.g.failures = self.errors.len();
        (self.g, self.errors)
    }
}

impl Endpoint {
    /// Logs a part (the endpoint, or one node) that starts or stops failing.
    fn note(&self, failures: &[Failure], nodes: &[NodeGathered]) {
        let Ok(mut seen) = self.seen.lock() else { return };
        let mut now: HashMap<String, String> = HashMap::new();
        for (node, message) in failures {
            let part = match node {
                Some(n) => format!("node/{n}"),
                None => "cluster".to_owned(),
            };
            now.entry(part).or_insert_with(|| message.clone());
        }
        for (part, message) in &now {
            // Once per failing spell: the failing request may change from
            // scrape to scrape, the state does not.
            if !seen.contains_key(part) {
                let count = failures.len();
                tracing::warn!(target_url = %self.client.display(), part = %part, failed_requests = count, err = %message, "Proxmox API requests failing");
            }
        }
        for part in seen.keys() {
            let queried = part == "cluster" || nodes.iter().any(|n| format!("node/{}", n.name) == *part);
            if !now.contains_key(part) && queried {
                tracing::info!(target_url = %self.client.display(), part = %part, "Proxmox API requests recovered");
            }
        }
        *seen = now;
    }
}

/// Drops samples that an earlier endpoint already gave (two endpoints of
/// the same cluster, or clashing ids): the exposition must not repeat a series.
fn drop_duplicates(out: &mut Snapshot) {
    let mut seen: HashSet<(String, Vec<(String, String)>)> = HashSet::new();
    for family in &mut out.families {
        let name = family.name.to_string();
        family.samples.retain(|s| {
            let mut labels: Vec<(String, String)> = s.labels.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
            labels.sort();
            seen.insert((name.clone(), labels))
        });
    }
}

impl ProxmoxCollector {
    async fn gather_all(&self, scrape: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        // Leave the engine a moment to take the snapshot before its deadline.
        let deadline = Instant::now() + scrape.backend_budget();
        let mut set = JoinSet::new();
        for (index, ep) in self.endpoints.iter().enumerate() {
            let ep = Arc::clone(ep);
            let tuning = self.tuning;
            set.spawn(async move { (index, scrape_endpoint(ep, tuning, deadline).await) });
        }
        let mut results: BTreeMap<usize, (Gathered, Vec<Failure>)> = BTreeMap::new();
        while let Some(joined) = set.join_next().await {
            if let Ok((index, (gathered, mut failures))) = joined {
                // A server's words (reason phrases, bodies quoted by the
                // decoder) may echo the token: cut it out before logging.
                if let Some(ep) = self.endpoints.get(index) {
                    for (_, message) in &mut failures {
                        *message = ep.client.redact(message);
                    }
                }
                results.insert(index, (gathered, failures));
            }
        }
        let mut summary = Vec::new();
        for (index, (gathered, failures)) in &results {
            if let Some(ep) = self.endpoints.get(*index) {
                ep.note(failures, &gathered.nodes);
            }
            emit::write(gathered, out);
            if let Some((_, first)) = failures.first() {
                summary.push(format!("{}: {} failed request(s), first: {first}", gathered.endpoint, failures.len()));
            }
        }
        if self.endpoints.len() > 1 {
            drop_duplicates(out);
        }
        if results.len() < self.endpoints.len() {
            summary.push("an endpoint's scrape task failed".to_owned());
        }
        if summary.is_empty() {
            Ok(())
        } else {
            Err(Error::Other(summary.join("; ")))
        }
    }
}

impl AsyncCollector for ProxmoxCollector {
    fn gather<'a>(&'a self, scrape: &'a Scrape, out: &'a mut Snapshot) -> GatherFuture<'a> {
        Box::pin(self.gather_all(scrape, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::collector::{parse_options, with_config};

    fn built(args: &[&str]) -> Result<Option<Collector>, BuildError> {
        with_config(None, "proxmox", |cx| build(&parse_options(args).unwrap(), cx)).unwrap()
    }

    fn build_err(args: &[&str]) -> String {
        match built(args) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{args:?} was accepted"),
        }
    }

    fn from_file(path: &std::path::Path, text: &str) -> Result<Result<Option<Collector>, BuildError>, serde_yaml_ng::Error> {
        with_config(Some((path, text)), "proxmox", |cx| build(&Options::default(), cx))
    }

    #[test]
    fn building_checks_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "monitor@pve!homelab=aaaa-bbbb\n").unwrap();
        let tok = format!("--collector.proxmox.token-file={}", token.display());
        let fp = format!("--collector.proxmox.fingerprint={}", "AB:".repeat(31) + "CD");
        assert!(built(&[]).unwrap().is_none());
        assert!(built(&["--collector.proxmox.url=https://127.0.0.1:8006", &tok, &fp]).unwrap().is_some());
        assert!(built(&["--collector.proxmox.url=https://127.0.0.1", &tok, "--collector.proxmox.insecure-skip-verify"]).unwrap().is_some());
        let e = build_err(&["--collector.proxmox.url=https://127.0.0.1", &tok, "--collector.proxmox.fingerprint=12:34"]);
        assert!(e.starts_with("collector proxmox: --collector.proxmox.fingerprint:"), "{e}");
        let e = build_err(&["--collector.proxmox.url=https://127.0.0.1", "--collector.proxmox.token-file=/nonexistent/token", &fp]);
        assert!(e.contains("--collector.proxmox.token-file") && e.contains("/nonexistent/token"), "{e}");
        let e = build_err(&["--collector.proxmox.url=https://127.0.0.1", &tok]);
        assert!(e.contains("--collector.proxmox.ca-file"), "{e}");
        let e = build_err(&["--collector.proxmox.url=https://127.0.0.1", &tok, &fp, "--collector.proxmox.insecure-skip-verify"]);
        assert!(e.contains("only one"), "{e}");
        let e = build_err(&["--collector.proxmox.url=http://127.0.0.1", &tok, &fp]);
        assert!(e.contains("--collector.proxmox.url"), "{e}");
        let e = build_err(&[&tok]);
        assert!(e.contains("needs --collector.proxmox.url"), "{e}");
        let e = build_err(&["--collector.proxmox.url=https://127.0.0.1", &tok, "--collector.proxmox.ca-file=/nonexistent/ca.pem"]);
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        std::fs::write(&token, "aaaa-bbbb-secret\n").unwrap();
        let e = build_err(&["--collector.proxmox.url=https://127.0.0.1", &tok, &fp]);
        assert!(e.contains("USER@REALM!TOKENID=SECRET") && !e.contains("aaaa-bbbb-secret"), "{e}");
    }

    #[test]
    fn config_file_endpoints_name_their_key_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "monitor@pve!homelab=aaaa-bbbb\n").unwrap();
        let cfg = dir.path().join("c.yaml");
        let good = format!(
            "proxmox:\n  endpoints:\n    - url: https://127.0.0.1:8006\n      token_file: {}\n      insecure_skip_verify: true\n",
            token.display()
        );
        assert!(from_file(&cfg, &good).unwrap().unwrap().is_some());
        let e = from_file(&cfg, &good.replace("insecure_skip_verify: true", "fingerprint: nope")).unwrap().err().unwrap().to_string();
        assert!(e.contains("c.yaml:5:") && e.contains("proxmox.endpoints[0].fingerprint"), "{e}");
        assert!(from_file(&cfg, &good.replace("token_file", "token_flie")).is_err());
    }

    #[test]
    fn storages_shared_ones_once() {
        let resources: Vec<Resource> = decode(
            br#"{"data":[
              {"id":"storage/pve1/local","type":"storage","node":"pve1","storage":"local","content":"iso,backup","status":"available","shared":0},
              {"id":"storage/pve2/local","type":"storage","node":"pve2","storage":"local","content":"backup","status":"available","shared":0},
              {"id":"storage/pve1/nfs","type":"storage","node":"pve1","storage":"nfs","content":"backup","status":"available","shared":1},
              {"id":"storage/pve2/nfs","type":"storage","node":"pve2","storage":"nfs","content":"backup","status":"available","shared":1},
              {"id":"storage/pve2/pbs","type":"storage","node":"pve2","storage":"pbs","plugintype":"pbs","content":"backup","status":"available"},
              {"id":"storage/pve1/pbs","type":"storage","node":"pve1","storage":"pbs","plugintype":"pbs","content":"backup","status":"available"},
              {"id":"storage/pve1/lvm","type":"storage","node":"pve1","storage":"lvm","content":"images","status":"available"},
              {"id":"storage/pve3/local","type":"storage","node":"pve3","storage":"local","content":"backup","status":"unknown"}]}"#,
        )
        .unwrap();
        let nodes = vec!["pve1".to_owned(), "pve2".to_owned()];
        let got: Vec<String> = backup_storages(&resources, &nodes).into_iter().map(|(_, id, _)| id).collect();
        assert_eq!(got, ["storage/pve1/local", "storage/pve1/nfs", "storage/pve1/pbs", "storage/pve2/local"]);
    }
}
