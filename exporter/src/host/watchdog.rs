//! The `watchdog` collector: the attributes of each `/sys/class/watchdog`
//! device (timeout, time left, boot status) and an info series.

use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr, read_i64};
use crate::metrics::Snapshot;

/// Numeric attributes: file, metric, help.
const NUMERIC: [(&str, &str, &str); 7] = [
    ("bootstatus", "node_watchdog_bootstatus", "Value of /sys/class/watchdog/<watchdog>/bootstatus"),
    ("fw_version", "node_watchdog_fw_version", "Value of /sys/class/watchdog/<watchdog>/fw_version"),
    ("nowayout", "node_watchdog_nowayout", "Value of /sys/class/watchdog/<watchdog>/nowayout"),
    ("timeleft", "node_watchdog_timeleft_seconds", "Value of /sys/class/watchdog/<watchdog>/timeleft"),
    ("timeout", "node_watchdog_timeout_seconds", "Value of /sys/class/watchdog/<watchdog>/timeout"),
    ("pretimeout", "node_watchdog_pretimeout_seconds", "Value of /sys/class/watchdog/<watchdog>/pretimeout"),
    ("access_cs0", "node_watchdog_access_cs0", "Value of /sys/class/watchdog/<watchdog>/access_cs0"),
];

struct Watchdog(Arc<HostPaths>);

impl HostCollector for Watchdog {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.0.sys("class/watchdog");
        let devices = match list_dir(&base) {
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        };
        for name in &devices {
            let dir = base.join(name);
            for (file, metric, help) in NUMERIC {
                if let Ok(v) = read_i64(&dir.join(file)) {
                    out.gauge(metric, help, &[("name", name)], v as f64);
                }
            }
            let text = |f: &str| read_attr(&dir.join(f)).unwrap_or_default();
            out.gauge(
                "node_watchdog_info",
                "Info of /sys/class/watchdog/<watchdog>",
                &[
                    ("name", name),
                    ("options", &text("options")),
                    ("identity", &text("identity")),
                    ("state", &text("state")),
                    ("status", &text("status")),
                    ("pretimeout_governor", &text("pretimeout_governor")),
                ],
                1.0,
            );
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Watchdog(cx.paths.clone()))))
}
