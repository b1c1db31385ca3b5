//! The `loadavg` collector: `node_load1`, `node_load5`, `node_load15` from
//! `/proc/loadavg`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::Snapshot;

/// Parses the first three fields of `/proc/loadavg`.
pub fn parse(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_ascii_whitespace().map(|f| f.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

struct Loadavg(Arc<HostPaths>);

impl HostCollector for Loadavg {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("loadavg");
        let text = read_to_string(&path)?;
        let [l1, l5, l15] = parse(&text).ok_or_else(|| Error::parse(&path, format!("expected three load averages, got {:?}", text.trim())))?;
        out.gauge("node_load1", "1m load average.", &[], l1);
        out.gauge("node_load5", "5m load average.", &[], l5);
        out.gauge("node_load15", "15m load average.", &[], l15);
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Loadavg(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_garbage() {
        assert_eq!(parse("0.21 0.37 0.39 1/719 19737\n"), Some([0.21, 0.37, 0.39]));
        assert_eq!(parse("0.21 x 0.39"), None);
        assert_eq!(parse("0.21"), None);
        assert_eq!(parse(""), None);
    }
}
