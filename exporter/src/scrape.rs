//! The scrape engine: runs every enabled collector concurrently under the
//! scrape deadline and adds `node_scrape_collector_{success,duration_seconds}`.
//! A failing, panicking or late collector costs only its own series.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::cli::Settings;
use crate::collector::{Collector, Error, Scrape};
use crate::metrics::{Kind, Snapshot};
use crate::registry::{BuildError, COLLECTORS};

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
}

/// The built collectors and their last status.
pub struct Engine {
    collectors: Vec<(&'static str, Collector)>,
    last: Mutex<Vec<LastStatus>>,
}

/// A collector's failure as the engine reports it.
struct Failure {
    message: String,
    /// "No data" (absent hardware) is logged at debug level, not as an error.
    quiet: bool,
    /// What a failing network collector gathered before it failed (its
    /// `homelab_exporter_target_up 0`, say), encoded as node_exporter keeps
    /// the metrics a failing collector sent before its error.
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

const SUCCESS_HELP: &str = "node_exporter: Whether a collector succeeded.";
const DURATION_HELP: &str = "node_exporter: Duration of a collector scrape.";

impl Engine {
    /// Builds every enabled collector from the settings.
    pub fn new(settings: &Settings) -> Result<Self, BuildError> {
        let mut collectors = Vec::new();
        for entry in COLLECTORS.iter().filter(|e| settings.enabled.contains(&e.name)) {
            if let Some(c) = (entry.build)(settings)? {
                collectors.push((entry.name, c));
            }
        }
        Ok(Self::from_collectors(collectors))
    }

    /// An engine over collectors built elsewhere (tests).
    pub fn from_collectors(collectors: Vec<(&'static str, Collector)>) -> Self {
        let last = collectors
            .iter()
            .map(|(name, _)| LastStatus { name, ..Default::default() })
            .collect();
        Self { collectors, last: Mutex::new(last) }
    }

    /// The status of every collector after its last scrape.
    pub fn last_status(&self) -> Vec<LastStatus> {
        self.last.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Runs one scrape: every collector concurrently, each abandoned at
    /// `deadline`. Returns one snapshot per collector plus the engine's own.
    pub async fn scrape(&self, deadline: Instant) -> Vec<Snapshot> {
        let scrape = Scrape { deadline };
        let tokio_deadline = tokio::time::Instant::from_std(deadline);
        let mut set = JoinSet::new();
        for (index, (name, collector)) in self.collectors.iter().enumerate() {
            let name = *name;
            let collector = collector.clone();
            let scrape = scrape.clone();
            set.spawn(async move {
                let start = Instant::now();
                let result = match collector {
                    Collector::Host(c) => {
                        let task = tokio::task::spawn_blocking(move || {
                            let mut out = Snapshot::new();
                            c.gather(&scrape, &mut out).map(|()| out)
                        });
                        match tokio::time::timeout_at(tokio_deadline, task).await {
                            Ok(Ok(r)) => r.map_err(Failure::from),
                            Ok(Err(join)) => Err(Failure::loud(format!("collector panicked: {join}"))),
                            Err(_) => Err(Failure::loud("deadline exceeded".to_owned())),
                        }
                    }
                    Collector::Async(c) => {
                        // Spawned so that a panic is caught at the task boundary.
                        let task = tokio::spawn(async move {
                            let mut out = Snapshot::new();
                            let fut = c.gather(&scrape, &mut out);
                            match tokio::time::timeout_at(tokio_deadline, fut).await {
                                Ok(Ok(())) => Ok(out),
                                Ok(Err(e)) => Err(Failure { partial: Some(out), ..Failure::from(e) }),
                                Err(_) => Err(Failure::loud("deadline exceeded".to_owned())),
                            }
                        });
                        match task.await {
                            Ok(r) => r,
                            Err(join) => Err(Failure::loud(format!("collector panicked: {join}"))),
                        }
                    }
                };
                (index, name, start.elapsed(), result)
            });
        }
        let mut snapshots = Vec::with_capacity(self.collectors.len() + 1);
        let mut own = Snapshot::new();
        let mut statuses = Vec::with_capacity(self.collectors.len());
        while let Some(joined) = set.join_next().await {
            let Ok((index, name, elapsed, result)) = joined else { continue };
            let ok = result.is_ok();
            match result {
                Ok(snap) => snapshots.push(snap),
                Err(Failure { message, quiet, partial }) => {
                    snapshots.extend(partial);
                    if quiet {
                        tracing::debug!(collector = name, reason = %message, "collector returned no data");
                    } else {
                        tracing::error!(collector = name, duration_seconds = elapsed.as_secs_f64(), err = %message, "collector failed");
                    }
                    statuses.push((index, false, elapsed, Some(message)));
                }
            }
            if ok {
                statuses.push((index, true, elapsed, None));
            }
            own.family("node_scrape_collector_duration_seconds", DURATION_HELP, Kind::Gauge)
                .add(&[("collector", name)], elapsed.as_secs_f64());
            own.family("node_scrape_collector_success", SUCCESS_HELP, Kind::Gauge)
                .add(&[("collector", name)], if ok { 1.0 } else { 0.0 });
        }
        if let Ok(mut last) = self.last.lock() {
            for (index, ok, elapsed, err) in statuses {
                if let Some(slot) = last.get_mut(index) {
                    slot.success = Some(ok);
                    slot.duration = elapsed;
                    slot.error = err;
                }
            }
        }
        crate::process::gather(&mut own);
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
}
