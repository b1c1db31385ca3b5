//! The `netclass` collector (not written yet).

use crate::cli::Settings;
use crate::collector::{Collector, Error, HostCollector, Scrape};
use crate::metrics::Snapshot;
use crate::registry::BuildError;

/// Flags of the `netclass` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of net devices to ignore for netclass collector.
    #[arg(long = "collector.netclass.ignored-devices", default_value = "^$")]
    pub netclass_ignored_devices: String,
    /// Ignore devices where the speed is invalid. This will be the default behavior in 2.x.
    #[arg(long = "collector.netclass.ignore-invalid-speed", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub netclass_ignore_invalid_speed: bool,
}

struct Gatherer;

impl HostCollector for Gatherer {
    fn gather(&self, _scrape: &Scrape, _out: &mut Snapshot) -> Result<(), Error> {
        Err(Error::Other("not implemented".into()))
    }
}

/// Builds the collector.
pub fn build(_settings: &Settings) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Gatherer)))
}
