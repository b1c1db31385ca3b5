//! The scrape engine: runs every enabled collector concurrently under the
//! scrape deadline and adds `node_scrape_collector_{success,duration_seconds}`.
//! A failing, panicking or late collector costs only its own series.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;


use crate::collector::{Collector, Error, HostCollector, Scrape};
use crate::metrics::{Kind, Snapshot};

/// What the landing page shows of a collector's last scrape.
#[derive(Debug, Clone, Default)]
pub struct LastStatus {
    /// Collector name.
    pub name: &'static str,
    /// Whether its last gather succeeded; `None` before the first scrape.
    pub success: Option<bool>,
    /// How long it took.
    pub duration: Duration,
    /// The error of its last failure.
    pub error: Option<String>,
    /// Whether that failure was "no data" (absent hardware), not an error.
    pub no_data: bool,
}

/// The built collectors and their last status.
pub struct Engine {
    collectors: Vec<(&'static str, Collector)>,
    /// Per collector, how many families its last good scrape had: a host
    /// collector's snapshot starts with room for them, instead of growing
    /// (and moving its families) five or six times per scrape.
    families: Vec<AtomicUsize>,
    last: Mutex<Vec<LastStatus>>,
    /// The collectors of the table that do not run, and why.
    not_running: Vec<NotRunning>,
    /// Whether the exporter's own `process_*` series are written.
    exporter_metrics: bool,
}

/// A collector that does not run, and why: for the start-up log, the
/// landing page and the answer to `collect[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct NotRunning {
    /// Collector name.
    pub name: &'static str,
    /// How it stands.
    pub state: Standing,
    /// Why, as a sentence.
    pub reason: String,
}

/// How a collector that does not run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Switched on, and its constructor found nothing to do here.
    Idle,
    /// Switched off (by default or by a flag).
    Disabled,
    /// A node_exporter collector this exporter does not build, switched on.
    Unbuilt,
}

impl Standing {
    /// The word for the log and the landing page.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Idle => "idle",
            Standing::Disabled => "disabled",
            Standing::Unbuilt => "unavailable",
        }
    }
}

/// A `collect[]` / `exclude[]` request that cannot be served (HTTP 400).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FilterError {
    /// node_exporter refuses both at once.
    #[error("Combined collect and exclude queries are not allowed.")]
    Combined,
    /// No collector of that name.
    #[error("missing collector: {0}")]
    Missing(String),
    /// A collector that is switched off.
    #[error("disabled collector: {0}")]
    Disabled(String),
}

/// A collector's failure as the engine reports it.
struct Failure {
    message: String,
    /// "No data" (absent hardware) is logged at debug level, not as an error.
    quiet: bool,
    /// What an async collector gathered before it returned its error (the
    /// servers that did answer, say); it is exposed like a success's.
    partial: Option<Snapshot>,
}

impl Failure {
    fn loud(message: String) -> Self {
        Self { message, quiet: false, partial: None }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self { quiet: matches!(e, Error::NoData(_)), message: e.to_string(), partial: None }
    }
}

/// A collector's result as it reaches the engine.
struct Outcome {
    index: usize,
    name: &'static str,
    elapsed: Duration,
    result: Result<Snapshot, Failure>,
}

/// A host collector waiting for a worker.
struct HostJob {
    index: usize,
    name: &'static str,
    collector: Arc<dyn HostCollector>,
    /// Families to make room for (see [`Engine::families`]).
    families: usize,
}

/// Host collectors start this many workers on the blocking pool (the
/// runtime's whole pool, `max_blocking_threads`); more are added only when
/// one is slow. Fewer leave too little parallelism beside the machine's
/// other load (benches/RESULTS.md).
const HOST_WORKERS: usize = 4;
/// At most this many more workers per scrape, for collectors that block.
const MAX_EXTRA_WORKERS: usize = 6;
/// A worker that has reported nothing for this long counts as stuck.
const HOST_STALL: Duration = Duration::from_millis(25);

/// The host collectors of one scrape, shared by a few blocking workers
/// that each take the next one until the queue is empty.
///
/// Why not one blocking task per collector: a host collector takes tens of
/// microseconds, and handing each of ~30 of them to the blocking pool and
/// back costs a thread wake-up and a task each, more than the reading. A
/// few workers keep the cores busy with a fraction of the hand-offs; a worker
/// stuck in a read (an NFS mount, a sysfs attribute that blocks) is
/// covered by the engine adding workers, so it still costs only its own
/// collector's series.
struct HostQueue {
    jobs: Arc<Mutex<VecDeque<HostJob>>>,
    closed: Arc<AtomicBool>,
    extra: AtomicUsize,
    scrape: Scrape,
    /// What the workers gathered. A worker does not wake the runtime per
    /// collector: it wakes it once, when it finds the queue empty (one
    /// wake-up per worker instead of one per collector, each an eventfd
    /// write and a context switch).
    results: Arc<Mutex<Vec<Outcome>>>,
    /// Workers still running; the last one to stop notifies `finished`.
    live: Arc<AtomicUsize>,
    finished: Arc<tokio::sync::Notify>,
    started: Instant,
}

/// Counts a worker down when it stops, however it stops.
struct WorkerGuard {
    live: Arc<AtomicUsize>,
    finished: Arc<tokio::sync::Notify>,
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        if self.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.finished.notify_one();
        }
    }
}

impl HostQueue {
    fn start(jobs: Vec<HostJob>, scrape: Scrape) -> Self {
        let workers = jobs.len().min(HOST_WORKERS);
        let q = Self {
            results: Arc::new(Mutex::new(Vec::with_capacity(jobs.len()))),
            jobs: Arc::new(Mutex::new(jobs.into())),
            closed: Arc::new(AtomicBool::new(false)),
            extra: AtomicUsize::new(0),
            scrape,
            live: Arc::new(AtomicUsize::new(0)),
            finished: Arc::new(tokio::sync::Notify::new()),
            started: Instant::now(),
        };
        for _ in 0..workers {
            q.spawn_worker();
        }
        q
    }

    fn spawn_worker(&self) {
        let jobs = self.jobs.clone();
        let closed = self.closed.clone();
        let scrape = self.scrape.clone();
        let results = self.results.clone();
        self.live.fetch_add(1, Ordering::AcqRel);
        let live = WorkerGuard { live: self.live.clone(), finished: self.finished.clone() };
        tokio::task::spawn_blocking(move || {
            let _live = live;
            loop {
                if closed.load(Ordering::Acquire) || Instant::now() >= scrape.deadline {
                    return;
                }
                let Some(job) = jobs.lock().ok().and_then(|mut q| q.pop_front()) else { return };
                let start = Instant::now();
                let mut out = Snapshot { families: Vec::with_capacity(job.families) };
                let result = match catch_unwind(AssertUnwindSafe(|| job.collector.gather(&scrape, &mut out))) {
                    Ok(Ok(())) => Ok(out),
                    Ok(Err(e)) => Err(Failure::from(e)),
                    Err(panic) => {
                        let what = panic.downcast_ref::<&str>().map(|s| (*s).to_owned()).or_else(|| panic.downcast_ref::<String>().cloned());
                        Err(Failure::loud(format!("collector panicked: {}", what.unwrap_or_default())))
                    }
                };
                if let Ok(mut r) = results.lock() {
                    r.push(Outcome { index: job.index, name: job.name, elapsed: start.elapsed(), result });
                }
            }
        });
    }

    /// How many collectors have reported so far.
    fn reported(&self) -> usize {
        self.results.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Whether every worker has stopped.
    fn idle(&self) -> bool {
        self.live.load(Ordering::Acquire) == 0
    }

    /// What the workers gathered.
    fn take_results(&self) -> Vec<Outcome> {
        self.results.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default()
    }

    /// Adds a worker if the queue still holds collectors and the per-scrape
    /// allowance is not used up.
    fn add_worker(&self) {
        let waiting = self.jobs.lock().map(|q| !q.is_empty()).unwrap_or(false);
        if waiting && self.extra.fetch_add(1, Ordering::Relaxed) < MAX_EXTRA_WORKERS {
            self.spawn_worker();
        }
    }

    /// Stops workers from taking more collectors.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Ok(mut q) = self.jobs.lock() {
            q.clear();
        }
    }
}

const SUCCESS_HELP: &str = "node_exporter: Whether a collector succeeded.";
const DURATION_HELP: &str = "node_exporter: Duration of a collector scrape.";

impl Engine {
    /// An engine over built collectors (see [`crate::registry::engine`]).
    pub fn from_collectors(collectors: Vec<(&'static str, Collector)>) -> Self {
        let last = collectors
            .iter()
            .map(|(name, _)| LastStatus { name, ..Default::default() })
            .collect();
        let families = collectors.iter().map(|_| AtomicUsize::new(0)).collect();
        Self { collectors, families, last: Mutex::new(last), not_running: Vec::new(), exporter_metrics: true }
    }

    /// The same engine, knowing the collectors of the table that do not run.
    pub fn with_not_running(mut self, not_running: Vec<NotRunning>) -> Self {
        self.not_running = not_running;
        self
    }

    /// The same engine, with or without the `process_*` series
    /// (`--web.disable-exporter-metrics`).
    pub fn with_exporter_metrics(mut self, on: bool) -> Self {
        self.exporter_metrics = on;
        self
    }

    /// Whether the exporter's own series are written (`process_*`, the
    /// handler's `promhttp_*`).
    pub fn exporter_metrics(&self) -> bool {
        self.exporter_metrics
    }

    /// The collectors that run, in table order.
    pub fn running(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.collectors.iter().map(|(name, _)| *name)
    }

    /// The collectors that do not run, and why.
    pub fn not_running(&self) -> &[NotRunning] {
        &self.not_running
    }

    /// Which collectors a request's `collect[]` (only these) or `exclude[]`
    /// (all but these) names ask for, with node_exporter's rules: not both
    /// at once; a `collect[]` name must be a collector that is switched
    /// on; an `exclude[]` name that runs nothing is ignored. `None`: all.
    pub fn selection(&self, collect: &[String], exclude: &[String]) -> Result<Option<Vec<bool>>, FilterError> {
        match (collect.is_empty(), exclude.is_empty()) {
            (true, true) => Ok(None),
            (false, false) => Err(FilterError::Combined),
            (false, true) => {
                for name in collect {
                    if self.collectors.iter().any(|(n, _)| n == name) {
                        continue;
                    }
                    match self.not_running.iter().find(|c| c.name == name) {
                        Some(c) if c.state == Standing::Disabled => return Err(FilterError::Disabled(name.clone())),
                        Some(_) => {}
                        None => return Err(FilterError::Missing(name.clone())),
                    }
                }
                Ok(Some(self.collectors.iter().map(|(n, _)| collect.iter().any(|c| c == n)).collect()))
            }
            (true, false) => Ok(Some(self.collectors.iter().map(|(n, _)| !exclude.iter().any(|c| c == n)).collect())),
        }
    }

    /// The status of every collector after its last scrape.
    pub fn last_status(&self) -> Vec<LastStatus> {
        self.last.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Runs one scrape: every collector concurrently, each abandoned at
    /// `deadline`. Returns one snapshot per collector plus the engine's own.
    pub async fn scrape(&self, deadline: Instant) -> Vec<Snapshot> {
        self.scrape_selected(deadline, None).await
    }

    /// [`Engine::scrape`] of the collectors `selected` marks (by position,
    /// as [`Engine::selection`] returns them); all when `None`.
    pub async fn scrape_selected(&self, deadline: Instant, selected: Option<&[bool]>) -> Vec<Snapshot> {
        let runs = |index: usize| selected.is_none_or(|s| s.get(index).copied().unwrap_or(false));
        let scrape = Scrape { deadline };
        let tokio_deadline = tokio::time::Instant::from_std(deadline);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
        let mut host = Vec::new();
        let mut pending = 0;
        for (index, (name, collector)) in self.collectors.iter().enumerate() {
            if !runs(index) {
                continue;
            }
            pending += 1;
            match collector {
                Collector::Host(c) => {
                    let families = self.families.get(index).map_or(0, |f| f.load(Ordering::Relaxed));
                    host.push(HostJob { index, name, collector: c.clone(), families });
                }
                Collector::Async(c) => {
                    let c = c.clone();
                    let scrape = scrape.clone();
                    let tx = tx.clone();
                    let name = *name;
                    // Spawned so that a panic is caught at the task boundary.
                    let task = tokio::spawn(async move {
                        let start = Instant::now();
                        let mut out = Snapshot::new();
                        let result = match tokio::time::timeout_at(tokio_deadline, c.gather(&scrape, &mut out)).await {
                            Ok(Ok(())) => Ok(out),
                            Ok(Err(e)) => Err(Failure { partial: Some(out), ..Failure::from(e) }),
                            Err(_) => Err(Failure::loud("deadline exceeded".to_owned())),
                        };
                        (start.elapsed(), result)
                    });
                    tokio::spawn(async move {
                        let (elapsed, result) = match task.await {
                            Ok(r) => r,
                            Err(join) => (Duration::ZERO, Err(Failure::loud(format!("collector panicked: {join}")))),
                        };
                        let _ = tx.send(Outcome { index, name, elapsed, result });
                    });
                }
            }
        }
        drop(tx);
        let host_jobs = host.len();
        let queue = HostQueue::start(host, scrape);

        let mut outcomes = Vec::with_capacity(pending);
        let stall = tokio::time::sleep(HOST_STALL);
        let late = tokio::time::sleep_until(tokio_deadline);
        tokio::pin!(stall, late);
        let async_jobs = pending - host_jobs;
        let mut host_done = host_jobs == 0;
        let mut seen = 0;
        while outcomes.len() < async_jobs || !host_done {
            tokio::select! {
                received = rx.recv(), if outcomes.len() < async_jobs => {
                    let Some(o) = received else { break };
                    outcomes.push(o);
                }
                () = queue.finished.notified(), if !host_done => {
                    host_done = queue.idle();
                }
                () = &mut stall => {
                    // A host collector is taking long (a slow disk, a stuck
                    // read): let another worker take the rest of the queue so
                    // it costs only its own series.
                    let reported = queue.reported();
                    if !host_done && reported == seen {
                        queue.add_worker();
                    }
                    seen = reported;
                    stall.as_mut().reset(tokio::time::Instant::now() + HOST_STALL);
                }
                () = &mut late => break,
            }
        }
        // Whatever has not reported by now is late: stop the queue so no
        // collector starts after the deadline, and report the rest.
        queue.close();
        outcomes.extend(queue.take_results());
        let mut reported = vec![false; self.collectors.len()];
        for o in &outcomes {
            reported[o.index] = true;
        }
        for (index, (name, _)) in self.collectors.iter().enumerate() {
            if !reported[index] && runs(index) {
                let elapsed = deadline.saturating_duration_since(queue.started);
                outcomes.push(Outcome { index, name, elapsed, result: Err(Failure::loud("deadline exceeded".to_owned())) });
            }
        }

        let mut snapshots = Vec::with_capacity(self.collectors.len() + 1);
        let mut own = Snapshot::new();
        let mut statuses = Vec::with_capacity(self.collectors.len());
        for Outcome { index, name, elapsed, result } in outcomes {
            let ok = result.is_ok();
            match result {
                Ok(snap) => {
                    if let Some(f) = self.families.get(index) {
                        f.store(snap.families.len(), Ordering::Relaxed);
                    }
                    snapshots.push(snap);
                }
                Err(Failure { message, quiet, partial }) => {
                    snapshots.extend(partial);
                    if quiet {
                        tracing::debug!(collector = name, reason = %message, "collector returned no data");
                    } else {
                        tracing::error!(collector = name, duration_seconds = elapsed.as_secs_f64(), err = %message, "collector failed");
                    }
                    statuses.push((index, false, elapsed, Some(message), quiet));
                }
            }
            if ok {
                statuses.push((index, true, elapsed, None, false));
            }
            own.family("node_scrape_collector_duration_seconds", DURATION_HELP, Kind::Gauge)
                .add(&[("collector", name)], elapsed.as_secs_f64());
            own.family("node_scrape_collector_success", SUCCESS_HELP, Kind::Gauge)
                .add(&[("collector", name)], if ok { 1.0 } else { 0.0 });
        }
        if let Ok(mut last) = self.last.lock() {
            for (index, ok, elapsed, err, no_data) in statuses {
                if let Some(slot) = last.get_mut(index) {
                    slot.success = Some(ok);
                    slot.duration = elapsed;
                    slot.error = err;
                    slot.no_data = no_data;
                }
            }
        }
        if self.exporter_metrics {
            crate::process::gather(&mut own);
        } else {
            crate::process::build_info(&mut own);
        }
        snapshots.push(own);
        snapshots
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::collector::{AsyncCollector, GatherFuture, HostCollector};

    struct Fine;
    impl HostCollector for Fine {
        fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
            out.gauge("fine", "A fine value.", &[], 1.0);
            Ok(())
        }
    }
    struct Panics;
    impl HostCollector for Panics {
        fn gather(&self, _: &Scrape, _: &mut Snapshot) -> Result<(), Error> {
            let v: Vec<u8> = Vec::new();
            let _ = v[3];
            Ok(())
        }
    }
    struct Hangs;
    impl AsyncCollector for Hangs {
        fn gather<'a>(&'a self, _: &'a Scrape, _: &'a mut Snapshot) -> GatherFuture<'a> {
            Box::pin(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Ok(())
            })
        }
    }
    struct Blocks;
    impl HostCollector for Blocks {
        fn gather(&self, _: &Scrape, _: &mut Snapshot) -> Result<(), Error> {
            std::thread::sleep(Duration::from_millis(1500));
            Ok(())
        }
    }

    fn success(snaps: &[Snapshot], collector: &str) -> Option<f64> {
        snaps.iter().flat_map(|s| &s.families).filter(|f| f.name == "node_scrape_collector_success")
            .flat_map(|f| &f.samples)
            .find(|s| s.labels.iter().any(|(_, v)| v == collector))
            .map(|s| s.value)
    }

    struct Three;
    impl HostCollector for Three {
        fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
            let room = out.families.capacity();
            out.gauge("a", "A.", &[], 1.0);
            out.gauge("b", "B.", &[], 1.0);
            out.gauge("room", "Families the snapshot had room for.", &[], room as f64);
            Ok(())
        }
    }

    #[test]
    fn a_host_snapshot_starts_with_room_for_the_families_of_the_last_scrape() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let engine = Engine::from_collectors(vec![("three", Collector::host(Three)), ("panics", Collector::host(Panics))]);
        let room = |snaps: &[Snapshot]| {
            snaps.iter().flat_map(|s| &s.families).find(|f| f.name == "room").map(|f| f.samples[0].value)
        };
        let first = rt.block_on(engine.scrape(Instant::now() + Duration::from_secs(5)));
        assert_eq!(room(&first), Some(0.0));
        let second = rt.block_on(engine.scrape(Instant::now() + Duration::from_secs(5)));
        assert_eq!(room(&second), Some(3.0));
        assert_eq!(engine.families[1].load(Ordering::Relaxed), 0, "a failed scrape leaves no hint");
    }

    #[test]
    fn panicking_hanging_and_blocking_collectors_cost_only_their_own_series() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let engine = Engine::from_collectors(vec![
            ("fine", Collector::host(Fine)),
            ("panics", Collector::host(Panics)),
            ("hangs", Collector::network(Hangs)),
            ("blocks", Collector::host(Blocks)),
        ]);
        let start = Instant::now();
        let snaps = rt.block_on(engine.scrape(start + Duration::from_millis(300)));
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1200), "scrape took {took:?}");
        assert_eq!(success(&snaps, "fine"), Some(1.0));
        assert_eq!(success(&snaps, "panics"), Some(0.0));
        assert_eq!(success(&snaps, "hangs"), Some(0.0));
        assert_eq!(success(&snaps, "blocks"), Some(0.0));
        assert!(snaps.iter().flat_map(|s| &s.families).any(|f| f.name == "fine"));
        let last = engine.last_status();
        assert_eq!(last.iter().find(|s| s.name == "hangs").and_then(|s| s.error.clone()).as_deref(), Some("deadline exceeded"));
        assert!(last.iter().find(|s| s.name == "panics").and_then(|s| s.error.clone()).unwrap_or_default().contains("panicked"));
    }

    /// Both first workers stuck in blocking collectors: the engine adds a
    /// worker, and the collectors queued behind them still report.
    #[test]
    fn collectors_queued_behind_stuck_workers_still_report() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().max_blocking_threads(8).build().unwrap();
        let engine = Engine::from_collectors(vec![
            ("blocks1", Collector::host(Blocks)),
            ("blocks2", Collector::host(Blocks)),
            ("fine1", Collector::host(Fine)),
            ("fine2", Collector::host(Fine)),
            ("fine3", Collector::host(Fine)),
        ]);
        let start = Instant::now();
        let snaps = rt.block_on(engine.scrape(start + Duration::from_millis(400)));
        assert!(start.elapsed() < Duration::from_millis(1200), "scrape took {:?}", start.elapsed());
        for name in ["fine1", "fine2", "fine3"] {
            assert_eq!(success(&snaps, name), Some(1.0), "{name}");
        }
        assert_eq!(success(&snaps, "blocks1"), Some(0.0));
        assert_eq!(success(&snaps, "blocks2"), Some(0.0));
    }
}
