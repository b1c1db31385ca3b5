//! The `powersupplyclass` collector: batteries and mains adapters from
//! `/sys/class/power_supply` (a laptop in the lab, or a UPS that the kernel
//! drives as a power supply).

use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, Filter};
use crate::metrics::Snapshot;

/// Flags of the `powersupplyclass` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of power supplies to ignore for powersupplyclass collector.
    #[arg(long = "collector.powersupply.ignored-supplies", default_value = "^$")]
    pub powersupply_ignored_supplies: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { powersupply_ignored_supplies: "^$".into() }
    }
}

/// (sysfs attribute, metric suffix, divisor): micro-units become base
/// units, tenths of a degree become degrees.
const NUMERIC: &[(&str, &str, f64)] = &[
    ("authentic", "authentic", 1.0),
    ("calibrate", "calibrate", 1.0),
    ("capacity", "capacity", 1.0),
    ("capacity_alert_max", "capacity_alert_max", 1.0),
    ("capacity_alert_min", "capacity_alert_min", 1.0),
    ("cycle_count", "cyclecount", 1.0),
    ("online", "online", 1.0),
    ("present", "present", 1.0),
    ("time_to_empty_now", "time_to_empty_seconds", 1.0),
    ("time_to_full_now", "time_to_full_seconds", 1.0),
    ("current_boot", "current_boot", 1e6),
    ("current_max", "current_max", 1e6),
    ("current_now", "current_ampere", 1e6),
    ("energy_empty", "energy_empty", 1e6),
    ("energy_empty_design", "energy_empty_design", 1e6),
    ("energy_full", "energy_full", 1e6),
    ("energy_full_design", "energy_full_design", 1e6),
    ("energy_now", "energy_watthour", 1e6),
    ("voltage_boot", "voltage_boot", 1e6),
    ("voltage_max", "voltage_max", 1e6),
    ("voltage_max_design", "voltage_max_design", 1e6),
    ("voltage_min", "voltage_min", 1e6),
    ("voltage_min_design", "voltage_min_design", 1e6),
    ("voltage_now", "voltage_volt", 1e6),
    ("voltage_ocv", "voltage_ocv", 1e6),
    ("charge_control_limit", "charge_control_limit", 1e6),
    ("charge_control_limit_max", "charge_control_limit_max", 1e6),
    ("charge_counter", "charge_counter", 1e6),
    ("charge_empty", "charge_empty", 1e6),
    ("charge_empty_design", "charge_empty_design", 1e6),
    ("charge_full", "charge_full", 1e6),
    ("charge_full_design", "charge_full_design", 1e6),
    ("charge_now", "charge_ampere", 1e6),
    ("charge_term_current", "charge_term_current", 1e6),
    ("constant_charge_current", "constant_charge_current", 1e6),
    ("constant_charge_current_max", "constant_charge_current_max", 1e6),
    ("constant_charge_voltage", "constant_charge_voltage", 1e6),
    ("constant_charge_voltage_max", "constant_charge_voltage_max", 1e6),
    ("precharge_current", "precharge_current", 1e6),
    ("input_current_limit", "input_current_limit", 1e6),
    ("power_now", "power_watt", 1e6),
    ("temp", "temp_celsius", 10.0),
    ("temp_alert_max", "temp_alert_max_celsius", 10.0),
    ("temp_alert_min", "temp_alert_min_celsius", 10.0),
    ("temp_ambient", "temp_ambient_celsius", 10.0),
    ("temp_ambient_max", "temp_ambient_max_celsius", 10.0),
    ("temp_ambient_min", "temp_ambient_min_celsius", 10.0),
    ("temp_max", "temp_max_celsius", 10.0),
    ("temp_min", "temp_min_celsius", 10.0),
];

/// Text attributes that become labels of `node_power_supply_info`.
const INFO: &[&str] = &["capacity_level", "charge_type", "health", "manufacturer", "model_name", "scope", "serial_number", "status", "technology", "type", "usb_type"];

fn read_text(path: &std::path::Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    let s = String::from_utf8_lossy(&bytes);
    Some(s.trim_end_matches(['\n', '\0']).trim().to_owned())
}

struct PowerSupply {
    paths: Arc<HostPaths>,
    ignored: Filter,
}

impl HostCollector for PowerSupply {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("class/power_supply");
        let supplies = match list_dir(&base) {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no power_supply class in sysfs".into())),
            Err(e) => return Err(e),
        };
        for name in supplies.iter().filter(|n| !self.ignored.accepts(n)) {
            let dir = base.join(name);
            for (attr, suffix, divisor) in NUMERIC {
                let Some(text) = read_text(&dir.join(attr)) else { continue };
                let Ok(v) = text.parse::<i64>() else { continue };
                out.gauge(
                    format!("node_power_supply_{suffix}"),
                    format!("{suffix} value of /sys/class/power_supply/<power_supply>."),
                    &[("power_supply", name)],
                    v as f64 / divisor,
                );
            }
            let mut labels = vec![("power_supply".into(), name.clone())];
            for attr in INFO {
                if let Some(v) = read_text(&dir.join(attr)).filter(|v| !v.is_empty()) {
                    labels.push(((*attr).into(), v));
                }
            }
            out.family("node_power_supply_info", "info of /sys/class/power_supply/<power_supply>.", crate::metrics::Kind::Gauge).add_owned(labels, 1.0);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    // The flag names the supplies to ignore: a filter that accepts them.
    let ignored = Filter::new("powersupplyclass", Some(&o.powersupply_ignored_supplies), None)?;
    Ok(Some(Collector::host(PowerSupply { paths: cx.paths.clone(), ignored })))
}
