//! The `hello` collector, standing for a new host collector: this file is
//! all it takes, plus its line in the table. It reads `<procfs>/hello`.

use std::sync::Arc;

use homelab_exporter::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use homelab_exporter::metrics::Snapshot;

/// Parses the number in the file.
pub fn parse(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

struct Hello(Arc<HostPaths>);

impl HostCollector for Hello {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("hello");
        let text = read_to_string(&path)?;
        let value = parse(&text).ok_or_else(|| Error::parse(&path, format!("not a number: {:?}", text.trim())))?;
        out.gauge("hello_answer", "The number in /proc/hello.", &[], value);
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Hello(cx.paths.clone()))))
}
