//! The `docker` collector: containers listed through the Engine API at
//! scrape time, their usage read from cgroup files and `/proc/<pid>/net/dev`
//! (never the slow `/containers/{id}/stats` endpoint, and nothing runs
//! between scrapes). Inspect answers are cached per container id, state and
//! health, so a steady host costs one list call per scrape.
//!
//! [`api`] is the HTTP client, [`cgroup`] and [`net`] the file parsers,
//! [`emit`] the metric names and families.

pub mod api;
pub mod cgroup;
pub mod emit;
pub mod net;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::task::JoinSet;
use tokio::time::Instant;

use self::api::{ApiError, Connection, Endpoint, Inspect, ListEntry};
use self::cgroup::{Usage, Version};
use self::emit::{Container, Measured};
use self::net::Interface;
use crate::collector::{AsyncCollector, BuildError, Collector, Context, Error, GatherFuture, Scrape};
use crate::metrics::{Name, Snapshot};

/// Flags of the `docker` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Docker Engine API address: unix:///PATH, or tcp://HOST:PORT for a socket proxy
    /// [default: unix:///var/run/docker.sock, and the collector stays off when that socket is absent].
    #[arg(long = "collector.docker.host", value_name = "URL")]
    pub docker_host: Option<String>,
    /// Root of the host's cgroup filesystem, where container usage is read
    /// [default: <path.sysfs>/fs/cgroup].
    #[arg(long = "collector.docker.cgroup-root", value_name = "DIR")]
    pub docker_cgroup_root: Option<PathBuf>,
    /// Docker labels exported as container_label_<name> on container_* series (comma-separated; empty for none).
    #[arg(
        long = "collector.docker.labels",
        value_name = "LABELS",
        value_delimiter = ',',
        default_value = "com.docker.compose.project,com.docker.compose.service"
    )]
    pub docker_labels: Vec<String>,
    /// Container inspect calls in flight at once (only containers that changed are inspected).
    #[arg(
        long = "collector.docker.inspect-concurrency",
        value_name = "N",
        default_value_t = 4,
        value_parser = clap::value_parser!(u16).range(1..=64)
    )]
    pub docker_inspect_concurrency: u16,
}

/// Builds the collector. With the default host and no socket there, Docker
/// is not installed: no collector, no failure.
pub fn build(opts: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let host = opts.docker_host.as_deref().unwrap_or(api::DEFAULT_HOST);
    let endpoint = Endpoint::parse(host).map_err(|e| BuildError { collector: "docker", detail: e.to_string() })?;
    let explicit = opts.docker_host.is_some();
    if let (false, Endpoint::Unix(path)) = (explicit, &endpoint) {
        if !path.exists() {
            tracing::debug!(socket = %path.display(), "no Docker socket; docker collector not started");
            return Ok(None);
        }
    }
    let labels = opts
        .docker_labels
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty())
        .map(|l| (l.to_owned(), Cow::Owned(emit::label_name(l))))
        .collect();
    Ok(Some(Collector::network(DockerCollector {
        target: host.to_owned(),
        endpoint,
        explicit,
        cgroup_root: opts.docker_cgroup_root.clone().unwrap_or_else(|| cx.paths.sys("fs/cgroup")),
        procfs: cx.paths.procfs.clone(),
        sysfs: cx.paths.sysfs.clone(),
        labels,
        concurrency: usize::from(opts.docker_inspect_concurrency.max(1)),
        clock_ticks: rustix::param::clock_ticks_per_second(),
        cache: Mutex::new(HashMap::new()),
        devices: Mutex::new(HashMap::new()),
    })))
}

/// The collector; one per endpoint.
pub struct DockerCollector {
    /// `target` label value: the endpoint as configured.
    target: String,
    endpoint: Endpoint,
    /// Whether the endpoint was configured (a missing socket is then a failure).
    explicit: bool,
    cgroup_root: PathBuf,
    procfs: PathBuf,
    sysfs: PathBuf,
    /// Allow-listed Docker labels and their metric label names.
    labels: Vec<(String, Name)>,
    concurrency: usize,
    clock_ticks: u64,
    /// Inspect results by container id.
    cache: Mutex<HashMap<String, Known>>,
    /// Block device names by (major, minor).
    devices: Mutex<HashMap<(u32, u32), String>>,
}

/// What an inspect told about a container, and under which list state it
/// was taken (the cache key besides the id).
#[derive(Debug, Clone)]
struct Known {
    list_state: String,
    list_health: &'static str,
    image: String,
    state: String,
    health: String,
    pid: u32,
    restart_count: u64,
    exit_code: i64,
    created: Option<f64>,
    started: Option<f64>,
    finished: Option<f64>,
    network_mode: String,
    cgroup_parent: String,
    /// The cgroup found for it, once looked up.
    cgroup: Option<String>,
}

impl Known {
    fn from_inspect(entry: &ListEntry, i: Inspect) -> Self {
        let host = i.host_config.unwrap_or_default();
        Known {
            list_state: entry.state.clone(),
            list_health: entry.health_hint(),
            image: i.config.map(|c| c.image).filter(|s| !s.is_empty()).unwrap_or_else(|| entry.image.clone()),
            state: if i.state.status.is_empty() { entry.state.clone() } else { i.state.status },
            health: i.state.health.map(|h| h.status).filter(|s| !s.is_empty()).unwrap_or_else(|| "none".to_owned()),
            pid: u32::try_from(i.state.pid).unwrap_or(0),
            restart_count: i.restart_count,
            exit_code: i.state.exit_code,
            created: api::parse_timestamp(&i.created),
            started: api::parse_timestamp(&i.state.started_at),
            finished: api::parse_timestamp(&i.state.finished_at),
            network_mode: host.network_mode,
            cgroup_parent: host.cgroup_parent,
            cgroup: None,
        }
    }

    /// Whether this answer still describes a container listed as `entry`.
    /// A restarting container's count moves while its state does not, so
    /// it is never taken from the cache.
    fn matches(&self, entry: &ListEntry) -> bool {
        self.list_state == entry.state
            && self.list_health == entry.health_hint()
            && !matches!(entry.state.as_str(), "restarting" | "removing" | "dead")
    }

    /// Whether the container has processes whose cgroup can be read.
    fn has_process(&self) -> bool {
        self.pid != 0 && matches!(self.state.as_str(), "running" | "paused" | "restarting")
    }
}

/// Work for the blocking phase: one container's files.
struct Job {
    index: usize,
    id: String,
    pid: u32,
    cgroup: Option<String>,
    cgroup_parent: String,
    read_network: bool,
    /// From the cache: a PID missing from `cgroup.procs` means it restarted.
    check_pid: bool,
}

/// What the blocking phase found for one container.
struct Read {
    index: usize,
    cgroup: Option<String>,
    measured: Option<Measured>,
    stale: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AsyncCollector for DockerCollector {
    fn gather<'a>(&'a self, scrape: &'a Scrape, out: &'a mut Snapshot) -> GatherFuture<'a> {
        Box::pin(async move {
            // Stop our own calls a little before the engine's deadline, so
            // that a hung daemon is reported (target_up 0) rather than cut off.
            let deadline = Instant::now() + scrape.backend_budget();
            match self.gather_until(deadline, out).await {
                Ok(()) => {
                    emit::target_up(out, &self.target, true);
                    Ok(())
                }
                Err(GatherError::Quiet(e)) => Err(e),
                Err(GatherError::Down(e)) => {
                    emit::target_up(out, &self.target, false);
                    Err(Error::Other(e.to_string()))
                }
            }
        })
    }
}

enum GatherError {
    /// The default socket went away: Docker is not there, nothing to report.
    Quiet(Error),
    /// The daemon did not answer the list call.
    Down(ApiError),
}

impl DockerCollector {
    async fn gather_until(&self, deadline: Instant, out: &mut Snapshot) -> Result<(), GatherError> {
        if let (false, Endpoint::Unix(path)) = (self.explicit, &self.endpoint) {
            if !path.exists() {
                return Err(GatherError::Quiet(Error::NoData(format!("no Docker socket at {}", path.display()))));
            }
        }
        // One inspect may use a third of the budget: a daemon stuck on one
        // container's lock costs that container, not the whole scrape.
        let per_call = (deadline.saturating_duration_since(Instant::now()) / 3).max(Duration::from_millis(200));
        let mut conn = api::connect(&self.endpoint, deadline).await.map_err(GatherError::Down)?;
        let list = conn.list(deadline).await.map_err(GatherError::Down)?;

        // Inspect only what is new or changed.
        let mut known: Vec<Option<Known>> = Vec::with_capacity(list.len());
        let mut to_inspect = Vec::new();
        {
            let mut cache = lock(&self.cache);
            let listed: HashSet<&str> = list.iter().map(|e| e.id.as_str()).collect();
            cache.retain(|id, _| listed.contains(id.as_str()));
            for (index, entry) in list.iter().enumerate() {
                match cache.get(&entry.id) {
                    Some(k) if k.matches(entry) => known.push(Some(k.clone())),
                    _ => {
                        known.push(None);
                        to_inspect.push(index);
                    }
                }
            }
        }
        let mut fresh = vec![false; list.len()];
        self.inspect_into(conn, &list, &to_inspect, &mut known, &mut fresh, deadline, per_call).await;

        // Read the files, off the async workers.
        let mut reads = self.read_all(self.jobs(&list, &known, &fresh)).await;
        let stale: Vec<usize> = reads.iter().filter(|r| r.stale).map(|r| r.index).collect();
        if !stale.is_empty() {
            // Restarted since it was cached: inspect again, read again.
            tracing::debug!(containers = stale.len(), "docker: containers restarted since last inspect");
            match api::connect(&self.endpoint, deadline).await {
                Ok(conn) => {
                    self.inspect_into(conn, &list, &stale, &mut known, &mut fresh, deadline, per_call).await;
                    let jobs = self.jobs(&list, &known, &fresh).into_iter().filter(|j| stale.contains(&j.index)).collect();
                    let again = self.read_all(jobs).await;
                    reads.retain(|r| !r.stale);
                    reads.extend(again);
                }
                Err(e) => tracing::warn!(err = %e, "docker: reconnecting to inspect restarted containers"),
            }
        }

        let mut measured: Vec<Option<Measured>> = vec![None; list.len()];
        for r in reads {
            if let Some(Some(k)) = known.get_mut(r.index) {
                k.cgroup = r.cgroup;
            }
            if let Some(slot) = measured.get_mut(r.index) {
                *slot = r.measured;
            }
        }
        {
            let mut cache = lock(&self.cache);
            for (entry, k) in list.iter().zip(&known) {
                if let Some(k) = k {
                    cache.insert(entry.id.clone(), k.clone());
                }
            }
        }

        let containers: Vec<Container> = list
            .iter()
            .zip(known)
            .zip(measured)
            .filter_map(|((entry, k), m)| k.map(|k| self.container(entry, k, m)))
            .collect();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        emit::containers(out, &containers, now);
        Ok(())
    }

    /// Inspects `indices` of `list` with at most `concurrency` connections
    /// (the first reuses `first`), filling `known`; each call ends by
    /// `per_call` or `deadline`, whichever comes first. A 404 means the
    /// container was removed after the list call: it is left out.
    #[allow(clippy::too_many_arguments)]
    async fn inspect_into(
        &self,
        first: Connection,
        list: &[ListEntry],
        indices: &[usize],
        known: &mut [Option<Known>],
        fresh: &mut [bool],
        deadline: Instant,
        per_call: Duration,
    ) {
        if indices.is_empty() {
            return;
        }
        let queue: Arc<Mutex<VecDeque<(usize, String)>>> =
            Arc::new(Mutex::new(indices.iter().filter_map(|&i| list.get(i).map(|e| (i, e.id.clone()))).collect()));
        let mut workers = JoinSet::new();
        let mut first = Some(first);
        for _ in 0..self.concurrency.min(indices.len()) {
            let queue = Arc::clone(&queue);
            let endpoint = self.endpoint.clone();
            let mut conn = first.take();
            workers.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let Some((index, id)) = lock(&queue).pop_front() else { break };
                    let c = match conn.take() {
                        Some(c) => c,
                        None => match api::connect(&endpoint, deadline.min(Instant::now() + per_call)).await {
                            Ok(c) => c,
                            Err(e) => {
                                done.push((index, Err(e)));
                                continue;
                            }
                        },
                    };
                    let mut c = c;
                    let result = c.inspect(&id, deadline.min(Instant::now() + per_call)).await;
                    // Keep the connection unless the exchange itself broke.
                    if matches!(result, Ok(_) | Err(ApiError::Status { .. })) {
                        conn = Some(c);
                    }
                    done.push((index, result));
                }
                done
            });
        }
        let mut failed = 0usize;
        let mut last_error = None;
        while let Some(joined) = workers.join_next().await {
            let Ok(done) = joined else { continue };
            for (index, result) in done {
                match result {
                    Ok(inspect) => {
                        if let (Some(slot), Some(entry)) = (known.get_mut(index), list.get(index)) {
                            *slot = Some(Known::from_inspect(entry, inspect));
                            if let Some(f) = fresh.get_mut(index) {
                                *f = true;
                            }
                        }
                    }
                    Err(e) if e.is_not_found() => {
                        tracing::debug!(err = %e, "docker: container removed between list and inspect");
                        if let Some(slot) = known.get_mut(index) {
                            *slot = None;
                        }
                    }
                    Err(e) => {
                        failed += 1;
                        last_error = Some(e);
                        if let Some(slot) = known.get_mut(index) {
                            *slot = None;
                        }
                    }
                }
            }
        }
        if let Some(e) = last_error {
            tracing::warn!(containers = failed, err = %e, "docker: inspect failed; those containers are left out of this scrape");
        }
    }

    fn jobs(&self, list: &[ListEntry], known: &[Option<Known>], fresh: &[bool]) -> Vec<Job> {
        list.iter()
            .zip(known)
            .enumerate()
            .filter_map(|(index, (entry, k))| {
                let k = k.as_ref()?;
                if !k.has_process() {
                    return None;
                }
                Some(Job {
                    index,
                    id: entry.id.clone(),
                    pid: k.pid,
                    cgroup: k.cgroup.clone(),
                    cgroup_parent: k.cgroup_parent.clone(),
                    read_network: !k.network_mode.starts_with("container:"),
                    check_pid: !fresh.get(index).copied().unwrap_or(false),
                })
            })
            .collect()
    }

    /// Reads every job's files on the blocking pool.
    async fn read_all(&self, jobs: Vec<Job>) -> Vec<Read> {
        if jobs.is_empty() {
            return Vec::new();
        }
        let root = self.cgroup_root.clone();
        let procfs = self.procfs.clone();
        let sysfs = self.sysfs.clone();
        let ticks = self.clock_ticks;
        let known_devices = lock(&self.devices).clone();
        let task = tokio::task::spawn_blocking(move || {
            let version = cgroup::detect(&root);
            let mut devices = known_devices;
            let reads = jobs.into_iter().map(|job| read_one(&root, version, &procfs, &sysfs, ticks, &mut devices, job)).collect();
            (reads, devices)
        });
        match task.await {
            Ok((reads, devices)) => {
                *lock(&self.devices) = devices;
                reads
            }
            Err(e) => {
                tracing::error!(err = %e, "docker: reading cgroup files panicked");
                Vec::new()
            }
        }
    }

    fn container(&self, entry: &ListEntry, k: Known, measured: Option<Measured>) -> Container {
        let docker_labels = entry.labels.as_ref();
        let label = |key: &str| docker_labels.and_then(|l| l.get(key)).cloned().unwrap_or_default();
        let labels = self
            .labels
            .iter()
            .filter_map(|(key, name)| docker_labels.and_then(|l| l.get(key)).map(|v| (name.clone(), v.clone())))
            .collect();
        Container {
            id: entry.id.clone(),
            name: entry.name().to_owned(),
            image: k.image,
            state: k.state,
            health: k.health,
            restart_count: k.restart_count,
            exit_code: k.exit_code,
            created: k.created,
            started: k.started,
            finished: k.finished,
            compose_project: label(emit::COMPOSE_PROJECT),
            compose_service: label(emit::COMPOSE_SERVICE),
            labels,
            measured,
        }
    }
}

/// Reads one container: locates its cgroup (once), reads the usage files,
/// names the block devices, reads the network counters.
fn read_one(
    root: &Path,
    version: Version,
    procfs: &Path,
    sysfs: &Path,
    clock_ticks: u64,
    devices: &mut HashMap<(u32, u32), String>,
    job: Job,
) -> Read {
    let cgroup = job
        .cgroup
        .filter(|c| cgroup::exists(root, version, c))
        .or_else(|| cgroup::locate(root, version, &cgroup::candidate_paths(&job.id, &job.cgroup_parent), procfs, job.pid));
    let Some(rel) = cgroup else {
        tracing::debug!(id = %job.id, root = %root.display(), "docker: no cgroup found for container");
        return Read { index: job.index, cgroup: None, measured: None, stale: false };
    };
    let usage: Usage = match cgroup::read_usage(root, version, &rel, clock_ticks) {
        Ok(u) => u,
        Err(e) => {
            if matches!(e, Error::NoData(_)) || e.is_not_found() {
                tracing::debug!(id = %job.id, err = %e, "docker: container stopped while being read");
            } else {
                tracing::warn!(id = %job.id, err = %e, "docker: reading the container's cgroup");
            }
            return Read { index: job.index, cgroup: Some(rel), measured: None, stale: false };
        }
    };
    if job.check_pid && usage.procs.as_ref().is_some_and(|p| !p.contains(&job.pid)) {
        return Read { index: job.index, cgroup: Some(rel), measured: None, stale: true };
    }
    let names = usage
        .io
        .iter()
        .map(|d| devices.entry((d.major, d.minor)).or_insert_with(|| device_name(sysfs, d.major, d.minor)).clone())
        .collect();
    let interfaces = if job.read_network { read_interfaces(procfs, job.pid) } else { Vec::new() };
    Read {
        index: job.index,
        cgroup: Some(rel.clone()),
        measured: Some(Measured { cgroup: rel, usage, devices: names, interfaces }),
        stale: false,
    }
}

/// `/dev/<DEVNAME>` from `<sysfs>/dev/block/MAJ:MIN/uevent`, else `MAJ:MIN`.
fn device_name(sysfs: &Path, major: u32, minor: u32) -> String {
    let uevent = sysfs.join(format!("dev/block/{major}:{minor}/uevent"));
    std::fs::read_to_string(uevent)
        .ok()
        .and_then(|text| text.lines().find_map(|l| l.strip_prefix("DEVNAME=").map(|n| format!("/dev/{n}"))))
        .unwrap_or_else(|| format!("{major}:{minor}"))
}

/// The container's interfaces, cAdvisor's ignored ones left out. A process
/// that exited meanwhile, or a garbled file, gives none.
fn read_interfaces(procfs: &Path, pid: u32) -> Vec<Interface> {
    let path = procfs.join(pid.to_string()).join("net/dev");
    let Ok(text) = std::fs::read_to_string(&path) else { return Vec::new() };
    match net::parse_net_dev(&text) {
        Ok(ifaces) => ifaces.into_iter().filter(|i| !net::is_ignored(&i.name)).collect(),
        Err(e) => {
            tracing::warn!(path = %path.display(), err = %e, "docker: unreadable network counters");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{parse_options, HostPaths};

    fn options(args: &[&str]) -> Options {
        parse_options(args).unwrap()
    }

    fn built(args: &[&str]) -> Option<Collector> {
        build(&options(args), &Context::new(&Arc::new(HostPaths::default()))).unwrap()
    }

    #[test]
    fn flags_and_defaults() {
        let o = options(&[]);
        assert_eq!(o.docker_host, None);
        assert_eq!(o.docker_labels, vec!["com.docker.compose.project", "com.docker.compose.service"]);
        assert_eq!(o.docker_inspect_concurrency, 4);
        let o = options(&["--collector.docker.labels=a.b", "--collector.docker.labels=c"]);
        assert_eq!(o.docker_labels, vec!["a.b", "c"], "repeated (or a YAML list) adds up");
        let o = options(&["--collector.docker.labels=a.b,c-d"]);
        assert_eq!(o.docker_labels, vec!["a.b", "c-d"]);
        assert!(parse_options::<Options>(&["--collector.docker.inspect-concurrency=0"]).is_err());
    }

    #[test]
    fn build_rules() {
        // A bad address stops start-up, naming the flag's value.
        let err = build(&options(&["--collector.docker.host=http2://x"]), &Context::new(&Arc::new(HostPaths::default()))).err().unwrap();
        assert!(err.to_string().contains("http2://x"), "{err}");
        // An explicit socket is used even when it is not there (yet).
        assert!(built(&["--collector.docker.host=unix:///nonexistent/docker.sock"]).is_some());
        assert!(built(&["--collector.docker.host=tcp://127.0.0.1:2375"]).is_some());
        // The default socket, absent: no collector.
        if !Path::new("/var/run/docker.sock").exists() {
            assert!(built(&[]).is_none());
        }
    }

    #[test]
    fn cache_key_is_state_and_health() {
        let entry = |state: &str, status: &str| ListEntry { id: "a".into(), state: state.into(), status: status.into(), ..Default::default() };
        let inspect = Inspect { id: "a".into(), ..Default::default() };
        let k = Known::from_inspect(&entry("running", "Up 1 second (health: starting)"), inspect.clone());
        assert_eq!(k.health, "none", "no State.Health in this answer");
        assert!(k.matches(&entry("running", "Up 2 hours (health: starting)")));
        assert!(!k.matches(&entry("running", "Up 2 hours (healthy)")));
        assert!(!k.matches(&entry("exited", "Exited (0) 1 second ago")));
        let r = Known::from_inspect(&entry("restarting", "Restarting (1) 1 second ago"), inspect);
        assert!(!r.matches(&entry("restarting", "Restarting (1) 3 seconds ago")), "restart counts move while restarting");
    }
}
