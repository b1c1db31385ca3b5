//! The `thermal_zone` collector: zone temperatures and cooling device states
//! from `/sys/class/thermal` (a Raspberry Pi's SoC temperature is here).

use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr, read_i64};
use crate::metrics::Snapshot;

struct ThermalZone(Arc<HostPaths>);

impl HostCollector for ThermalZone {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.0.sys("class/thermal");
        let entries = match list_dir(&base) {
            Ok(e) => e,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no thermal class in sysfs".into())),
            Err(e) => return Err(e),
        };
        for name in &entries {
            let dir = base.join(name);
            if let Some(zone) = name.strip_prefix("thermal_zone") {
                let Ok(kind) = read_attr(&dir.join("type")) else { continue };
                // A zone whose sensor is asleep or broken answers with an error; skip it.
                let Ok(temp) = read_i64(&dir.join("temp")) else { continue };
                out.gauge("node_thermal_zone_temp", "Zone temperature in Celsius", &[("zone", zone), ("type", &kind)], temp as f64 / 1000.0);
            } else if let Some(device) = name.strip_prefix("cooling_device") {
                let Ok(kind) = read_attr(&dir.join("type")) else { continue };
                if let Ok(v) = read_i64(&dir.join("cur_state")) {
                    out.gauge("node_cooling_device_cur_state", "Current throttle state of the cooling device", &[("name", device), ("type", &kind)], v as f64);
                }
                if let Ok(v) = read_i64(&dir.join("max_state")) {
                    out.gauge("node_cooling_device_max_state", "Maximum throttle state of the cooling device", &[("name", device), ("type", &kind)], v as f64);
                }
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(ThermalZone(cx.paths.clone()))))
}
