//! The `hwmon` collector (not written yet).

use crate::cli::Settings;
use crate::collector::{Collector, Error, HostCollector, Scrape};
use crate::metrics::Snapshot;
use crate::registry::BuildError;

/// Flags of the `hwmon` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of hwmon chip to include (mutually exclusive to chip-exclude).
    #[arg(long = "collector.hwmon.chip-include")]
    pub hwmon_chip_include: Option<String>,
    /// Regexp of hwmon chip to exclude (mutually exclusive to chip-include).
    #[arg(long = "collector.hwmon.chip-exclude")]
    pub hwmon_chip_exclude: Option<String>,
    /// Regexp of hwmon sensor to include (mutually exclusive to sensor-exclude).
    #[arg(long = "collector.hwmon.sensor-include")]
    pub hwmon_sensor_include: Option<String>,
    /// Regexp of hwmon sensor to exclude (mutually exclusive to sensor-include).
    #[arg(long = "collector.hwmon.sensor-exclude")]
    pub hwmon_sensor_exclude: Option<String>,
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
