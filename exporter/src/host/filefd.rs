//! The `filefd` collector: `node_filefd_allocated` and `node_filefd_maximum`
//! from `/proc/sys/fs/file-nr`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::Snapshot;

/// Parses `file-nr`: allocated, unused (always 0 since 2.6), maximum.
pub fn parse(text: &str) -> Option<(u64, u64)> {
    let mut it = text.split_ascii_whitespace().map(|f| f.parse::<u64>().ok());
    let allocated = it.next()??;
    let _unused = it.next()??;
    let maximum = it.next()??;
    Some((allocated, maximum))
}

struct Filefd(Arc<HostPaths>);

impl HostCollector for Filefd {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("sys/fs/file-nr");
        let text = read_to_string(&path)?;
        let (allocated, maximum) = parse(&text).ok_or_else(|| Error::parse(&path, format!("expected three numbers, got {:?}", text.trim())))?;
        out.gauge("node_filefd_allocated", "File descriptor statistics: allocated.", &[], allocated as f64);
        out.gauge("node_filefd_maximum", "File descriptor statistics: maximum.", &[], maximum as f64);
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Filefd(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_and_refuses_garbage() {
        assert_eq!(super::parse("1024\t0\t1631329\n"), Some((1024, 1631329)));
        assert_eq!(super::parse("1024\t0\n"), None);
        assert_eq!(super::parse("a b c"), None);
    }
}
