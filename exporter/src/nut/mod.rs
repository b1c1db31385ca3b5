//! The `nut` collector: UPS metrics from NUT's upsd over its TCP protocol.
//!
//! On each scrape it asks every configured upsd (`--collector.nut.target`,
//! `nut.servers` in the config file), concurrently, for `VER`, `LIST UPS`
//! and `LIST VAR` of each UPS, under a per-target deadline bounded by the
//! scrape's. A target that cannot be reached reports
//! `homelab_exporter_target_up{collector="nut",target} 0` and fails the
//! collector without costing the other targets' series; a UPS that upsd
//! answers with `ERR` (DATA-STALE, DRIVER-NOT-CONNECTED, ...) reports
//! `nut_ups_up 0` and `nut_ups_error{code}` without failing anything.
//!
//! [`client`] speaks the protocol, [`parse`] holds the pure parsers and
//! [`emit`] the names and the conversion into a snapshot.
//! With `--collector.nut.probe`, [`Prober`] also answers
//! `/probe?module=nut&target=HOST:PORT` for the configured targets and an
//! allow-list, never for any other address.
//! With `tls: starttls` (`--collector.nut.tls=starttls` for the flag
//! targets) the session is secured with `STARTTLS` before the credentials
//! or any command are sent, and upsd's certificate must verify against
//! `ca_file`; a upsd that refuses it fails that target, never falling back
//! to plaintext.

pub mod client;
pub mod emit;
pub mod parse;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::collector::{AsyncCollector, BuildError, Collector, Context, Error, GatherFuture, Probe, ProbeError, ProbeFuture, Scrape};
use crate::metrics::Snapshot;
use crate::secret::{Both, Source, SourceError};

use client::{Address, ClientError, Limits, Session, StartTls, Timeouts};
use emit::UpsData;

/// How long connecting to one upsd may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one read or write may wait for progress.
const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// At most this many UPSes are read from one upsd.
const MAX_UPS_PER_TARGET: usize = 256;

/// Flags of the `nut` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// upsd to read every UPS from, as HOST[:PORT] (port 3493 when omitted); repeatable.
    #[arg(long = "collector.nut.target", value_name = "HOST[:PORT]")]
    pub nut_target: Vec<String>,
    /// User name for the upsd targets given by flag (reading variables usually needs none).
    #[arg(long = "collector.nut.username")]
    pub nut_username: Option<String>,
    /// File holding the password of --collector.nut.username.
    #[arg(long = "collector.nut.password-file")]
    pub nut_password_file: Option<PathBuf>,
    /// Also export every numeric NUT variable with the Go NUT exporter's names (network_ups_tools_*).
    #[arg(long = "collector.nut.raw", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub nut_raw: bool,
    /// Longest time one upsd may take per scrape (also bounded by the scrape timeout).
    #[arg(long = "collector.nut.timeout", default_value = "5s", value_parser = crate::duration::parse_timeout)]
    pub nut_timeout: Duration,
    /// Serve /probe?module=nut&target=HOST:PORT for the configured targets and those of --collector.nut.probe-allow.
    #[arg(long = "collector.nut.probe", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub nut_probe: bool,
    /// Another upsd that /probe may query, as HOST[:PORT]; repeatable.
    #[arg(long = "collector.nut.probe-allow", value_name = "HOST[:PORT]")]
    pub nut_probe_allow: Vec<String>,
    /// TLS for the upsd targets given by flag: none, or starttls (needs --collector.nut.ca-file; no plaintext fallback).
    #[arg(long = "collector.nut.tls", value_name = "MODE", value_enum, default_value = "none")]
    pub nut_tls: TlsMode,
    /// PEM file of the CA certificates that upsd's certificate must verify against (with --collector.nut.tls=starttls).
    #[arg(long = "collector.nut.ca-file", value_name = "FILE")]
    pub nut_ca_file: Option<PathBuf>,
}

/// Whether a session with upsd is secured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plaintext, as upsd speaks by default.
    #[default]
    None,
    /// `STARTTLS` before anything else; the target fails when upsd refuses it.
    Starttls,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            nut_target: Vec::new(),
            nut_username: None,
            nut_password_file: None,
            nut_raw: false,
            nut_timeout: Duration::from_secs(5),
            nut_probe: false,
            nut_probe_allow: Vec::new(),
            nut_tls: TlsMode::None,
            nut_ca_file: None,
        }
    }
}

/// The `nut:` section of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// upsd servers, in addition to those given with `--collector.nut.target`.
    #[serde(default)]
    pub servers: Vec<ServerConfig>,
}

/// One upsd in the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `HOST[:PORT]` (port 3493 when omitted).
    pub target: String,
    /// User name sent with `USERNAME` (optional).
    #[serde(default)]
    pub username: Option<String>,
    /// File holding the password (trailing newline removed).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Name of an environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Only these UPSes (default: every UPS upsd lists).
    #[serde(default)]
    pub ups: Vec<String>,
    /// `none` (default) or `starttls`.
    #[serde(default)]
    pub tls: TlsMode,
    /// PEM file of the CA certificates upsd's certificate must verify against
    /// (needed with `tls: starttls`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The name upsd's certificate must hold (default: the target's host).
    #[serde(default)]
    pub server_name: Option<String>,
}

/// A password, never printed.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// One upsd to scrape.
#[derive(Debug)]
struct Target {
    address: Address,
    /// `host:port`, the `target` label.
    label: String,
    credentials: Option<(String, Secret)>,
    only: Vec<String>,
    /// `STARTTLS` settings, when TLS is asked for.
    tls: Option<StartTls>,
}

/// Variables of a UPS, or the code of upsd's `ERR` reply.
type VarsOrErr = Result<Vec<(String, String)>, String>;

/// What one target answered.
struct TargetData {
    version: Option<String>,
    /// (name, description, variables) of each UPS.
    upses: Vec<(String, String, VarsOrErr)>,
}

/// What the collector and the prober share: settings and logged states.
struct Shared {
    raw: bool,
    timeout: Duration,
    /// Last error per target and per `target/ups`, to log changes only.
    seen: Mutex<HashMap<String, Option<String>>>,
}

impl Shared {
    fn new(opts: &Options) -> Self {
        Self { raw: opts.nut_raw, timeout: opts.nut_timeout, seen: Mutex::new(HashMap::new()) }
    }
}

/// The collector behind `/metrics`.
struct NutCollector {
    shared: Shared,
    targets: Vec<Arc<Target>>,
}

/// The handler of `/probe?module=nut&target=HOST:PORT`.
pub struct Prober {
    shared: Shared,
    /// The targets it may query, by `host:port`.
    allowed: HashMap<String, Arc<Target>>,
}

impl Prober {
    /// Queries one allowed target within `scrape` into a snapshot: its
    /// series and `homelab_exporter_target_up`, whatever the outcome.
    pub async fn probe_target(&self, target: &str, scrape: &Scrape) -> Result<Snapshot, ProbeError> {
        let address = Address::parse(target).map_err(|e| ProbeError::BadTarget(format!("target: {e}")))?;
        let label = address.to_string();
        let target = self.allowed.get(&label).ok_or_else(|| {
            ProbeError::NotAllowed(format!("target {label} is not allowed: configure it or add --collector.nut.probe-allow={label}"))
        })?;
        let mut out = Snapshot::new();
        let _failures = self.shared.gather(std::slice::from_ref(target), scrape, &mut out).await;
        Ok(out)
    }

    /// `/ups_metrics?server=HOST[:PORT]&ups=NAME`, the Go NUT exporter's
    /// (DRuggeri/nut_exporter) path: its `network_ups_tools_*` names, of
    /// one UPS when `ups` is given. Without `server`, the one target the
    /// prober may query (an error when it may query several).
    pub async fn probe_go_exporter(&self, server: Option<&str>, ups: Option<&str>, scrape: &Scrape) -> Result<Snapshot, ProbeError> {
        let target = match server {
            Some(server) => {
                let address = Address::parse(server).map_err(|e| ProbeError::BadTarget(format!("server: {e}")))?;
                let label = address.to_string();
                self.allowed.get(&label).cloned().ok_or_else(|| {
                    ProbeError::NotAllowed(format!("server {label} is not allowed: configure it or add --collector.nut.probe-allow={label}"))
                })?
            }
            None => {
                let mut only = self.allowed.values();
                match (only.next(), only.next()) {
                    (Some(t), None) => t.clone(),
                    _ => return Err(ProbeError::BadTarget("several NUT servers may be queried: name one with server=HOST:PORT".into())),
                }
            }
        };
        let mut out = Snapshot::new();
        let _failures = self.shared.gather_as(std::slice::from_ref(&target), scrape, &mut out, true, ups).await;
        // The Go exporter's names alone (raw mode adds them to nut_*), and
        // whether the server answered.
        out.families.retain(|f| f.name.starts_with("network_ups_tools_") || f.name.starts_with("homelab_exporter_"));
        Ok(out)
    }
}

impl Probe for Prober {
    fn module(&self) -> &'static str {
        "nut"
    }

    fn probe<'a>(&'a self, target: &'a str, scrape: &'a Scrape) -> ProbeFuture<'a> {
        Box::pin(self.probe_target(target, scrape))
    }

    fn probe_compat<'a>(&'a self, params: &'a [(String, String)], scrape: &'a Scrape) -> Option<ProbeFuture<'a>> {
        let get = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        Some(Box::pin(self.probe_go_exporter(get("server"), get("ups"), scrape)))
    }
}

fn build_error(detail: impl Into<String>) -> BuildError {
    BuildError { collector: "nut", detail: detail.into() }
}

/// Reads a password from its source (a file with the checks of
/// [`crate::secret::read`], or an environment variable); a file's trailing
/// newline is dropped.
fn read_password(source: &Source) -> Result<Secret, String> {
    let text = source.read().map_err(|e| match e {
        SourceError::File(e) => format!("password file {e}"),
        e => e.to_string(),
    })?;
    let pw = text.strip_suffix('\n').map(|t| t.strip_suffix('\r').unwrap_or(t)).unwrap_or(&text);
    if pw.is_empty() {
        return Err(format!("password file {} is empty", source.name()));
    }
    Ok(Secret(pw.to_owned()))
}

/// Where a TLS setting is wrong: the flag or config key, and why.
type TlsSettingError = (&'static str, String);

/// The `STARTTLS` settings of one target, checked: `ca_file` and
/// `server_name` only go with `starttls`, which needs `ca_file`.
fn start_tls(mode: TlsMode, ca_file: Option<&Path>, server_name: Option<&str>, host: &str) -> Result<Option<StartTls>, TlsSettingError> {
    match mode {
        TlsMode::None => {
            if ca_file.is_some() {
                return Err(("ca_file", "only used with starttls".into()));
            }
            if server_name.is_some() {
                return Err(("server_name", "only used with starttls".into()));
            }
            Ok(None)
        }
        TlsMode::Starttls => {
            let Some(ca_file) = ca_file else {
                return Err(("ca_file", "starttls needs the PEM file of the CA that signed upsd's certificate".into()));
            };
            let name = server_name.unwrap_or(host);
            let Some(server_name) = crate::tls::server_name(name) else {
                return Err(("server_name", format!("{name:?} is neither a DNS name nor an IP address")));
            };
            let config = crate::tls::ca_file_config(ca_file).map_err(|e| ("ca_file", e.to_string()))?;
            Ok(Some(StartTls::new(config, server_name)))
        }
    }
}

/// The `STARTTLS` settings of the flags for a target given by flag.
fn flag_start_tls(opts: &Options, address: &Address) -> Result<Option<StartTls>, BuildError> {
    start_tls(opts.nut_tls, opts.nut_ca_file.as_deref(), None, &address.host).map_err(|(key, e)| {
        let flag = match key {
            "ca_file" => "--collector.nut.ca-file",
            _ => "--collector.nut.tls",
        };
        build_error(format!("{flag}: {e}"))
    })
}

/// Every upsd of the flags and the configuration file, checked.
fn configured_targets(opts: &Options, cx: &Context<Config>) -> Result<Vec<Target>, BuildError> {
    let mut targets: Vec<Target> = Vec::new();

    let flag_credentials = match (&opts.nut_username, &opts.nut_password_file) {
        (Some(user), Some(file)) => Some((
            user.clone(),
            read_password(&Source::File(file.clone())).map_err(|e| build_error(format!("--collector.nut.password-file: {e}")))?,
        )),
        (None, None) => None,
        _ => return Err(build_error("--collector.nut.username and --collector.nut.password-file go together")),
    };
    for text in &opts.nut_target {
        let address = Address::parse(text).map_err(|e| build_error(format!("--collector.nut.target: {e}")))?;
        let tls = flag_start_tls(opts, &address)?;
        targets.push(Target { label: address.to_string(), address, credentials: flag_credentials.clone(), only: Vec::new(), tls });
    }

    if let Some(cfg) = cx.section {
        for (i, server) in cfg.servers.iter().enumerate() {
            let at = |key: &str, detail: String| build_error(cx.at_key(key, format!("nut.servers[{i}].{key}: {detail}")));
            let address = Address::parse(&server.target).map_err(|e| at("target", e))?;
            let source = Source::from_pair(server.password_file.as_deref(), server.password_env.as_deref())
                .map_err(|Both| at("password_env", "give password_file or password_env, not both".into()))?;
            let password = match &source {
                Some(source @ Source::File(_)) => Some(read_password(source).map_err(|e| at("password_file", e))?),
                Some(source @ Source::Env(_)) => Some(read_password(source).map_err(|e| at("password_env", e))?),
                None => None,
            };
            let credentials = match (&server.username, password) {
                (Some(u), Some(p)) => Some((u.clone(), p)),
                (None, None) => None,
                (Some(_), None) => return Err(at("username", "needs password_file or password_env".into())),
                (None, Some(_)) => return Err(at("username", "a password needs a username".into())),
            };
            if let Some(bad) = server.ups.iter().find(|u| !parse::valid_name(u)) {
                return Err(at("ups", format!("{bad:?} is not a UPS name")));
            }
            let tls = start_tls(server.tls, server.ca_file.as_deref(), server.server_name.as_deref(), &address.host)
                .map_err(|(key, e)| at(key, e))?;
            targets.push(Target { label: address.to_string(), address, credentials, only: server.ups.clone(), tls });
        }
    }
    let mut labels = HashSet::new();
    for t in &targets {
        if !labels.insert(t.label.as_str()) {
            return Err(build_error(format!("target {} is configured twice", t.label)));
        }
    }
    Ok(targets)
}

/// Builds the collector; `Ok(None)` when no upsd is configured.
pub fn build(opts: &Options, cx: &Context<Config>) -> Result<Option<Collector>, BuildError> {
    let targets = configured_targets(opts, cx)?;
    if targets.is_empty() {
        return Ok(None);
    }
    Ok(Some(Collector::network(NutCollector {
        shared: Shared::new(opts),
        targets: targets.into_iter().map(Arc::new).collect(),
    })))
}

/// Builds the `/probe?module=nut&target=HOST:PORT` handler when
/// `--collector.nut.probe` is on: it may query the configured targets
/// (with their credentials and UPS filters) and those of
/// `--collector.nut.probe-allow`, and nothing else.
pub fn build_prober(opts: &Options, cx: &Context<Config>) -> Result<Option<Prober>, BuildError> {
    if !opts.nut_probe {
        if !opts.nut_probe_allow.is_empty() {
            return Err(build_error("--collector.nut.probe-allow needs --collector.nut.probe"));
        }
        return Ok(None);
    }
    let mut allowed: HashMap<String, Arc<Target>> = HashMap::new();
    for t in configured_targets(opts, cx)? {
        allowed.insert(t.label.clone(), Arc::new(t));
    }
    for text in &opts.nut_probe_allow {
        let address = Address::parse(text).map_err(|e| build_error(format!("--collector.nut.probe-allow: {e}")))?;
        let label = address.to_string();
        if allowed.contains_key(&label) {
            continue;
        }
        let tls = flag_start_tls(opts, &address)?;
        allowed.insert(label.clone(), Arc::new(Target { address, label, credentials: None, only: Vec::new(), tls }));
    }
    if allowed.is_empty() {
        return Err(build_error("--collector.nut.probe needs targets: --collector.nut.target, nut.servers or --collector.nut.probe-allow"));
    }
    Ok(Some(Prober { shared: Shared::new(opts), allowed }))
}

/// Asks one upsd for everything it serves.
async fn query_target(target: &Target, deadline: Instant) -> Result<TargetData, ClientError> {
    let timeouts = Timeouts { connect: CONNECT_TIMEOUT, io: IO_TIMEOUT, deadline };
    // With TLS asked for, `connect` returns only once the session is
    // secured, so the credentials below never go out in plaintext.
    let mut session = Session::connect(&target.address, target.tls.as_ref(), timeouts, Limits::default()).await?;
    if let Some((user, password)) = &target.credentials {
        session.authenticate(user, &password.0).await?;
    }
    let version = match session.version().await {
        Ok(banner) => Some(parse::parse_version(&banner)),
        Err(e) if e.server_code().is_some() => None,
        Err(e) => return Err(e),
    };
    let listed = session.list_ups().await?;
    let mut upses = Vec::with_capacity(listed.len().min(MAX_UPS_PER_TARGET));
    for entry in listed.into_iter().filter(|e| target.only.is_empty() || target.only.contains(&e.name)) {
        if upses.len() >= MAX_UPS_PER_TARGET {
            tracing::debug!(nut_target = %target.label, limit = MAX_UPS_PER_TARGET, "upsd lists more UPSes than are read");
            break;
        }
        let vars = match session.list_var(&entry.name).await {
            Ok(v) => Ok(v),
            Err(ClientError::Server { code, .. }) => Err(code),
            Err(e) => return Err(e),
        };
        upses.push((entry.name, entry.description, vars));
    }
    for name in &target.only {
        if !upses.iter().any(|(n, _, _)| n == name) {
            upses.push((name.clone(), String::new(), Err("UNKNOWN-UPS".to_owned())));
        }
    }
    session.logout().await;
    Ok(TargetData { version, upses })
}

impl Shared {
    /// Logs a change of state of `key` (a target or a UPS) once, not on every scrape.
    fn note(&self, next: &mut HashMap<String, Option<String>>, previous: &HashMap<String, Option<String>>, key: String, error: Option<String>) {
        match (previous.get(&key), &error) {
            (Some(Some(old)), Some(new)) if old == new => {}
            (_, Some(new)) => tracing::warn!(source = %key, err = %new, "NUT source failing"),
            (Some(Some(_)), None) => tracing::info!(source = %key, "NUT source recovered"),
            _ => {}
        }
        next.insert(key, error);
    }

    /// Queries `targets` concurrently, each until the scrape's deadline
    /// (less a margin) or `--collector.nut.timeout`, and emits their
    /// series. Returns one message per target that failed.
    async fn gather(&self, targets: &[Arc<Target>], scrape: &Scrape, out: &mut Snapshot) -> Vec<String> {
        self.gather_as(targets, scrape, out, self.raw, None).await
    }

    /// [`Shared::gather`] with the names chosen per call (`raw`: the Go NUT
    /// exporter's) and, when `only` names one, that UPS's series alone.
    async fn gather_as(&self, targets: &[Arc<Target>], scrape: &Scrape, out: &mut Snapshot, raw: bool, only: Option<&str>) -> Vec<String> {
        // Leave the caller a moment to take our snapshot before its deadline.
        let budget = scrape.backend_budget();
        let deadline = (Instant::now() + budget).min(Instant::now() + self.timeout);

        let mut set = tokio::task::JoinSet::new();
        for (index, target) in targets.iter().enumerate() {
            let target = Arc::clone(target);
            set.spawn(async move { (index, query_target(&target, deadline).await) });
        }
        let mut results: Vec<Option<Result<TargetData, ClientError>>> = targets.iter().map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            if let Ok((index, result)) = joined {
                if let Some(slot) = results.get_mut(index) {
                    *slot = Some(result);
                }
            }
        }

        let previous = self.seen.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        let mut next = HashMap::with_capacity(previous.len());
        let mut failures = Vec::new();
        let mut used_labels: HashSet<String> = HashSet::new();
        for (target, result) in targets.iter().zip(results) {
            let data = match result {
                Some(Ok(data)) => data,
                Some(Err(e)) => {
                    emit::emit_target_up(out, &target.label, false);
                    self.note(&mut next, &previous, target.label.clone(), Some(e.to_string()));
                    failures.push(format!("{}: {e}", target.label));
                    continue;
                }
                None => {
                    emit::emit_target_up(out, &target.label, false);
                    failures.push(format!("{}: query task failed", target.label));
                    continue;
                }
            };
            emit::emit_target_up(out, &target.label, true);
            self.note(&mut next, &previous, target.label.clone(), None);
            if let Some(v) = &data.version {
                emit::emit_server(out, &target.label, v);
            }
            for (name, description, vars) in data.upses {
                if only.is_some_and(|ups| ups != name) {
                    continue;
                }
                let mut label = name;
                if used_labels.contains(&label) {
                    // Two upsd serve a UPS of the same name: NUT's own notation keeps them apart.
                    label = format!("{label}@{}", target.label);
                }
                used_labels.insert(label.clone());
                let error = vars.as_ref().err().map(|code| format!("LIST VAR answered ERR {code}"));
                self.note(&mut next, &previous, format!("{}/{label}", target.label), error);
                emit::emit_ups(out, &UpsData { label, description, vars }, raw);
            }
        }
        if let Ok(mut seen) = self.seen.lock() {
            *seen = next;
        }
        failures
    }
}

impl NutCollector {
    async fn gather_all(&self, scrape: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let failures = self.shared.gather(&self.targets, scrape, out).await;
        if failures.is_empty() {
            Ok(())
        } else {
            Err(Error::Other(format!("{} of {} NUT targets failed: {}", failures.len(), self.targets.len(), failures.join("; "))))
        }
    }
}

impl AsyncCollector for NutCollector {
    fn gather<'a>(&'a self, scrape: &'a Scrape, out: &'a mut Snapshot) -> GatherFuture<'a> {
        Box::pin(self.gather_all(scrape, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::collector::{parse_options, with_config};

    fn options(args: &[&str]) -> Options {
        parse_options(args).unwrap()
    }

    /// A context without a configuration file.
    fn no_file<R>(f: impl FnOnce(&Context<Config>) -> R) -> R {
        with_config(None, "nut", f).unwrap()
    }

    /// A context with the `nut:` section of the configuration file `text`.
    fn with_file<R>(path: &Path, text: &str, f: impl FnOnce(&Context<Config>) -> R) -> Result<R, serde_yaml_ng::Error> {
        with_config(Some((path, text)), "nut", f)
    }

    fn built(args: &[&str]) -> Option<Collector> {
        no_file(|cx| build(&options(args), cx)).unwrap()
    }

    fn prober(args: &[&str]) -> Result<Option<Prober>, BuildError> {
        no_file(|cx| build_prober(&options(args), cx))
    }

    fn build_err(args: &[&str]) -> String {
        match no_file(|cx| build(&options(args), cx)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{args:?} was accepted"),
        }
    }

    fn file_err(path: &Path, text: &str) -> String {
        match with_file(path, text, |cx| build(&Options::default(), cx)).unwrap() {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{text:?} was accepted"),
        }
    }

    #[test]
    fn building_checks_the_flags() {
        assert!(built(&[]).is_none());
        assert!(built(&["--collector.nut.target=127.0.0.1"]).is_some());
        assert!(build_err(&["--collector.nut.target=nut://u:pw@nas"]).starts_with("collector nut: --collector.nut.target: not HOST[:PORT]"));
        assert!(build_err(&["--collector.nut.target=nas", "--collector.nut.username=u"]).contains("go together"));
        assert!(build_err(&["--collector.nut.target=nas", "--collector.nut.target=nas:3493"]).contains("configured twice"));
        assert!(build_err(&["--collector.nut.target=nas", "--collector.nut.username=u", "--collector.nut.password-file=/nonexistent/pw"])
            .contains("/nonexistent/pw"));
        assert!(prober(&["--collector.nut.target=nas"]).unwrap().is_none());
        assert!(prober(&["--collector.nut.probe-allow=nas"]).is_err());
        assert!(prober(&["--collector.nut.probe"]).is_err());
        assert!(prober(&["--collector.nut.probe", "--collector.nut.probe-allow=nas"]).unwrap().is_some());
        assert!(parse_options::<Options>(&["--collector.nut.timeout=soon"]).is_err());
    }

    /// A fake upsd on 127.0.0.1 serving `ups` (on line, alarm) and `stale` (ERR DATA-STALE).
    async fn fake_upsd() -> String {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let reply: &[u8] = match line.as_str() {
                            "VER" => b"Network UPS Tools upsd 2.8.1 - http://www.networkupstools.org/\n",
                            "LIST UPS" => b"BEGIN LIST UPS\nUPS ups \"A\"\nUPS stale \"B\"\nEND LIST UPS\n",
                            "LIST VAR ups" => b"BEGIN LIST VAR ups\nVAR ups ups.status \"ALARM OL\"\nVAR ups battery.charge \"50\"\nEND LIST VAR ups\n",
                            "LIST VAR stale" => b"ERR DATA-STALE\n",
                            _ => b"ERR UNKNOWN-COMMAND\n",
                        };
                        if w.write_all(reply).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        format!("127.0.0.1:{port}")
    }

    fn value(out: &Snapshot, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        out.families.iter().filter(|f| f.name == name).flat_map(|f| &f.samples).find_map(|s| {
            labels.iter().all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v)).then_some(s.value)
        })
    }

    #[tokio::test]
    async fn two_servers_a_stale_ups_and_a_name_served_twice() {
        let (a, b) = (fake_upsd().await, fake_upsd().await);
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("127.0.0.1:{}", l.local_addr().unwrap().port())
        };
        let s = [format!("--collector.nut.target={a}"), format!("--collector.nut.target={b}"), format!("--collector.nut.target={dead}")];
        let Some(Collector::Async(c)) = built(&s.each_ref().map(String::as_str)) else { panic!("not an async collector") };
        let scrape = Scrape { deadline: std::time::Instant::now() + Duration::from_secs(5) };
        let mut out = Snapshot::new();
        let err = c.gather(&scrape, &mut out).await.unwrap_err().to_string();
        assert!(err.starts_with(&format!("1 of 3 NUT targets failed: {dead}: connecting: ")), "{err}");
        assert_eq!(value(&out, "homelab_exporter_target_up", &[("target", &a)]), Some(1.0));
        assert_eq!(value(&out, "homelab_exporter_target_up", &[("target", &dead)]), Some(0.0));
        assert_eq!(value(&out, "nut_server_info", &[("target", &b), ("version", "2.8.1")]), Some(1.0));
        // The second server's `ups` is told apart with NUT's own notation.
        let twice = format!("ups@{b}");
        for ups in ["ups", twice.as_str()] {
            assert_eq!(value(&out, "nut_battery_charge", &[("ups", ups)]), Some(0.5), "{ups}");
            assert_eq!(value(&out, "nut_ups_status", &[("ups", ups), ("status", "ALARM")]), Some(1.0), "{ups}");
        }
        assert_eq!(value(&out, "nut_ups_up", &[("ups", "stale")]), Some(0.0));
        assert_eq!(value(&out, "nut_ups_error", &[("ups", "stale"), ("code", "DATA-STALE")]), Some(1.0));
    }

    /// A self-signed CA certificate in `dir`, as a PEM file.
    fn ca_file(dir: &Path) -> PathBuf {
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap().self_signed(&key).unwrap();
        let path = dir.join("ca.pem");
        std::fs::write(&path, ca.pem()).unwrap();
        path
    }

    #[test]
    fn tls_flags_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let ca = format!("--collector.nut.ca-file={}", ca_file(dir.path()).display());
        let t = "--collector.nut.target=127.0.0.1";
        assert!(built(&[t, "--collector.nut.tls=starttls", &ca]).is_some());
        assert!(built(&[t, "--collector.nut.tls=none"]).is_some());
        let e = build_err(&[t, "--collector.nut.tls=starttls"]);
        assert_eq!(e, "collector nut: --collector.nut.ca-file: starttls needs the PEM file of the CA that signed upsd's certificate");
        assert_eq!(build_err(&[t, &ca]), "collector nut: --collector.nut.ca-file: only used with starttls");
        let e = build_err(&[t, "--collector.nut.tls=starttls", "--collector.nut.ca-file=/nonexistent/ca.pem"]);
        assert!(e.starts_with("collector nut: --collector.nut.ca-file: CA file /nonexistent/ca.pem: "), "{e}");
        assert!(parse_options::<Options>(&["--collector.nut.tls=ssl"]).is_err());
        // The allow-listed probe targets take the flags' TLS settings too.
        let p = prober(&["--collector.nut.probe", "--collector.nut.probe-allow=nas", "--collector.nut.tls=starttls", &ca]).unwrap().unwrap();
        assert!(p.allowed["nas:3493"].tls.is_some());
    }

    #[test]
    fn tls_config_keys_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_file(dir.path());
        let cfg = dir.path().join("c.yaml");
        let good = format!(
            "nut:\n  servers:\n    - target: 127.0.0.1:3493\n      tls: starttls\n      ca_file: {}\n      server_name: ups.lan\n    - target: 127.0.0.1:3494\n",
            ca.display()
        );
        let targets = with_file(&cfg, &good, |cx| configured_targets(&Options::default(), cx)).unwrap().unwrap();
        assert!(targets[0].tls.as_ref().is_some_and(|t| format!("{t:?}").contains("ups.lan")), "{:?}", targets[0]);
        assert!(targets[1].tls.is_none());
        let e = file_err(&cfg, &good.replace("tls: starttls", "tls: none"));
        assert!(e.contains("c.yaml:5:") && e.contains("nut.servers[0].ca_file: only used with starttls"), "{e}");
        let e = file_err(&cfg, &good.replace("server_name: ups.lan", "server_name: not a name"));
        assert!(e.contains("c.yaml:6:") && e.contains("nut.servers[0].server_name: \"not a name\" is neither"), "{e}");
        assert!(with_file(&cfg, &good.replace("tls: starttls", "tls: ssl"), |_| ()).is_err());
    }

    #[tokio::test]
    async fn a_plaintext_upsd_fails_a_starttls_target_only() {
        let (a, b) = (fake_upsd().await, fake_upsd().await);
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_file(dir.path());
        let cfg = dir.path().join("c.yaml");
        let text = format!("nut:\n  servers:\n    - target: {a}\n    - target: {b}\n      tls: starttls\n      ca_file: {}\n", ca.display());
        let Some(Collector::Async(c)) = with_file(&cfg, &text, |cx| build(&Options::default(), cx)).unwrap().unwrap() else {
            panic!("not an async collector")
        };
        let scrape = Scrape { deadline: std::time::Instant::now() + Duration::from_secs(5) };
        let mut out = Snapshot::new();
        let err = c.gather(&scrape, &mut out).await.unwrap_err().to_string();
        assert!(err.starts_with(&format!("1 of 2 NUT targets failed: {b}: STARTTLS: upsd answered ERR UNKNOWN-COMMAND")), "{err}");
        assert_eq!(value(&out, "homelab_exporter_target_up", &[("target", &a)]), Some(1.0));
        assert_eq!(value(&out, "homelab_exporter_target_up", &[("target", &b)]), Some(0.0));
        assert_eq!(value(&out, "nut_battery_charge", &[("ups", "ups")]), Some(0.5));
        assert!(value(&out, "nut_server_info", &[("target", &b)]).is_none());
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret("hunter2".into())), "<secret>");
    }
}
