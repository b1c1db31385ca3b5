//! The `kernel_hung` collector: tasks the hung-task detector has reported
//! since boot, from `/proc/sys/kernel/hung_task_detect_count`, as
//! `node_kernel_hung_tasks_total`.

use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::with_attr;
use crate::metrics::Snapshot;

/// Parses the count.
pub fn parse(text: &str) -> Result<u64, String> {
    text.trim().parse().map_err(|_| format!("not an unsigned integer: {text:?}"))
}

struct KernelHung(Arc<HostPaths>);

impl HostCollector for KernelHung {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("sys/kernel/hung_task_detect_count");
        let count = match with_attr(&path, parse) {
            Ok(v) => v.map_err(|d| Error::parse(&path, d))?,
            Err(e) if e.is_not_found() => {
                return Err(Error::NoData(format!("no {}: the kernel has no hung-task detector", path.display())));
            }
            Err(e) => return Err(e),
        };
        out.counter(
            "node_kernel_hung_tasks_total",
            "Total number of tasks that have been detected as hung since the system booted.",
            &[],
            count as f64,
        );
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(KernelHung(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_count() {
        assert_eq!(parse(include_str!("../../../testdata/upstream/node_exporter/proc/sys/kernel/hung_task_detect_count")), Ok(42));
        assert!(parse("").is_err());
        assert!(parse("-1").is_err());
        assert!(parse("99999999999999999999999").is_err());
        assert!(parse("4 2").is_err());
    }
}
