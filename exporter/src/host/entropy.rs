//! The `entropy` collector: `node_entropy_available_bits` and
//! `node_entropy_pool_size_bits` from `/proc/sys/kernel/random`.

use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::read_u64;
use crate::metrics::Snapshot;

struct Entropy(Arc<HostPaths>);

impl HostCollector for Entropy {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let avail = read_u64(&self.0.proc("sys/kernel/random/entropy_avail"))?;
        let pool = read_u64(&self.0.proc("sys/kernel/random/poolsize"))?;
        out.gauge("node_entropy_available_bits", "Bits of available entropy.", &[], avail as f64);
        out.gauge("node_entropy_pool_size_bits", "Bits of entropy pool.", &[], pool as f64);
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Entropy(cx.paths.clone()))))
}
