//! The `textfile` collector (not written yet).

use crate::cli::Settings;
use crate::collector::{Collector, Error, HostCollector, Scrape};
use crate::metrics::Snapshot;
use crate::registry::BuildError;

/// Flags of the `textfile` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Directories to read text files with metrics from (repeatable, or comma-separated).
    #[arg(long = "collector.textfile.directory")]
    pub textfile_directory: Vec<String>,
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
