//! The `hwmon` collector: hardware sensors from `/sys/class/hwmon`
//! (temperatures, voltages, fans, power), named as node_exporter names them:
//! chip from the device path, sensor from the file name, units in the name.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, Filter};
use crate::metrics::{Kind, Snapshot};

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

/// Sensor types node_exporter reads; other files are ignored.
const SENSOR_TYPES: &[&str] = &["vrm", "beep_enable", "update_interval", "in", "cpu", "fan", "pwm", "temp", "curr", "power", "energy", "humidity", "intrusion", "freq"];

/// Lower-cases and replaces what is not `[a-z0-9:_]` by `_`, trimming `_`.
pub fn clean_name(s: &str) -> String {
    let mapped: String = s
        .trim_end_matches('\n')
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '_' { c } else { '_' })
        .collect();
    mapped.trim_matches('_').to_owned()
}

/// Splits a sensor file name into (type, number, property): `temp1_input`
/// gives `("temp", 1, "input")`, `pwm1` gives `("pwm", 1, "")`.
pub fn explode(file: &str) -> Option<(&str, u32, &str)> {
    let type_end = file.find(|c: char| c.is_ascii_digit()).unwrap_or(file.len());
    let (kind, rest) = file.split_at(type_end);
    if kind.is_empty() {
        return None;
    }
    let num_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let (num, rest) = rest.split_at(num_end);
    let num = if num.is_empty() { 0 } else { num.parse().ok()? };
    // A type without a number may carry its property after an underscore
    // within the type part (beep_enable, update_interval): keep it whole.
    let prop = match rest.strip_prefix('_') {
        Some(p) => p,
        None if rest.is_empty() => "",
        None => return None,
    };
    Some((kind, num, prop))
}

/// Reads at most 128 bytes, once: some hwmon drivers answer EAGAIN forever.
fn read_value(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = [0u8; 128];
    let n = f.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).trim_matches('\n').to_owned())
}

type SensorData = BTreeMap<String, BTreeMap<String, String>>;

fn collect_sensor_data(dir: &Path, data: &mut SensorData) -> Result<(), Error> {
    for file in list_dir(dir)? {
        let Some((kind, num, prop)) = explode(&file) else { continue };
        if !SENSOR_TYPES.contains(&kind) {
            continue;
        }
        let path = dir.join(&file);
        if path.is_dir() {
            continue;
        }
        if let Some(v) = read_value(&path) {
            data.entry(format!("{kind}{num}")).or_default().insert(prop.to_owned(), v);
        }
    }
    Ok(())
}

struct Hwmon {
    paths: Arc<HostPaths>,
    chips: Filter,
    sensors: Filter,
}

/// The stable part of a chip's name: `<bus>_<device>` of the device it
/// hangs off, when `device` is a link; else its `name` file; else `hwmonN`.
fn base_name(dir: &Path) -> Option<String> {
    let device = dir.join("device");
    if std::fs::symlink_metadata(&device).is_ok_and(|m| m.file_type().is_symlink()) {
        if let Ok(real) = std::fs::canonicalize(&device) {
            let dev_name = real.file_name().map(|n| clean_name(&n.to_string_lossy())).unwrap_or_default();
            let dev_type = real.parent().and_then(|p| p.file_name()).map(|n| clean_name(&n.to_string_lossy())).unwrap_or_default();
            match (dev_type.is_empty(), dev_name.is_empty()) {
                (false, false) => return Some(format!("{dev_type}_{dev_name}")),
                (true, false) => return Some(dev_name),
                _ => {}
            }
        }
    }
    if let Some(name) = read_value(&dir.join("name")).map(|n| clean_name(&n)).filter(|n| !n.is_empty()) {
        return Some(name);
    }
    let real = std::fs::canonicalize(dir).ok()?;
    Some(clean_name(&real.file_name()?.to_string_lossy())).filter(|n| !n.is_empty())
}

impl Hwmon {
    fn emit(&self, chip: &str, data: &SensorData, out: &mut Snapshot) {
        for (sensor, props) in data {
            if !self.sensors.accepts(&format!("{chip};{sensor}")) {
                continue;
            }
            let kind = explode(sensor).map(|(k, _, _)| k).unwrap_or("");
            let labels = [("chip", chip), ("sensor", sensor.as_str())];
            if let Some(label) = props.get("label") {
                out.gauge("node_hwmon_sensor_label", "Label for given chip and sensor", &[("chip", chip), ("sensor", sensor), ("label", label.trim())], 1.0);
            }
            let whole = props.get("");
            match kind {
                "beep_enable" => {
                    out.gauge("node_hwmon_beep_enabled", "Hardware beep enabled", &labels, if whole.map(String::as_str) == Some("1") { 1.0 } else { 0.0 });
                    continue;
                }
                "vrm" => {
                    if let Some(v) = whole.and_then(|v| v.trim().parse::<f64>().ok()) {
                        out.gauge("node_hwmon_voltage_regulator_version", "Hardware voltage regulator", &labels, v);
                    }
                    continue;
                }
                "update_interval" => {
                    if let Some(v) = whole.and_then(|v| v.trim().parse::<f64>().ok()) {
                        out.gauge("node_hwmon_update_interval_seconds", "Hardware monitor update interval", &labels, v * 0.001);
                    }
                    continue;
                }
                _ => {}
            }
            let prefix = format!("node_hwmon_{kind}");
            for (element, value) in props {
                if element == "label" {
                    continue;
                }
                let Ok(v) = value.trim().parse::<f64>() else { continue };
                let name = if element == "input" {
                    if whole.is_some() { format!("{prefix}_input") } else { prefix.clone() }
                } else if element.is_empty() {
                    prefix.clone()
                } else {
                    format!("{prefix}_{}", clean_name(element))
                };
                let (name, help, value) = match (kind, element.as_str()) {
                    (_, "fault" | "alarm") => (name, format!("Hardware sensor {element} status ({kind})"), v),
                    (_, "beep") => (format!("{name}_enabled"), "Hardware monitor sensor has beeping enabled".to_owned(), v),
                    ("in" | "cpu", _) => (format!("{name}_volts"), format!("Hardware monitor for voltage ({element})"), v * 0.001),
                    ("temp", e) if e != "type" => {
                        let e = if e.is_empty() { "input" } else { e };
                        (format!("{name}_celsius"), format!("Hardware monitor for temperature ({e})"), v * 0.001)
                    }
                    ("curr", _) => (format!("{name}_amps"), format!("Hardware monitor for current ({element})"), v * 0.001),
                    ("energy", _) => {
                        out.family(format!("{name}_joule_total"), format!("Hardware monitor for joules used so far ({element})"), Kind::Counter).add(&labels, v / 1e6);
                        continue;
                    }
                    ("power", "accuracy") => (name, "Hardware monitor power meter accuracy, as a ratio".to_owned(), v / 1e6),
                    ("power", "average_interval" | "average_interval_min" | "average_interval_max") => {
                        (format!("{name}_seconds"), format!("Hardware monitor power usage update interval ({element})"), v * 0.001)
                    }
                    ("power", _) => (format!("{name}_watt"), format!("Hardware monitor for power usage in watts ({element})"), v / 1e6),
                    ("humidity", _) => (
                        name,
                        format!("Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"),
                        v / 1e6,
                    ),
                    ("fan", "input" | "min" | "max" | "target") => (format!("{name}_rpm"), format!("Hardware monitor for fan revolutions per minute ({element})"), v),
                    ("freq", "input") => {
                        // Reported under its label (a GPU clock name), in MHz.
                        if let Some(label) = props.get("label") {
                            let sensor_label = clean_name(label);
                            out.gauge(format!("{name}_freq_mhz"), "Hardware monitor for GPU frequency in MHz", &[("chip", chip), ("sensor", &sensor_label)], v / 1e6);
                        }
                        continue;
                    }
                    _ => (name, format!("Hardware monitor {kind} element {element}"), v),
                };
                out.family(name, help, Kind::Gauge).add(&labels, value);
            }
        }
    }
}

impl HostCollector for Hwmon {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("class/hwmon");
        let entries = match list_dir(&base) {
            Ok(e) => e,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no hwmon class in sysfs".into())),
            Err(e) => return Err(e),
        };
        let dirs: Vec<_> = entries.iter().map(|e| base.join(e)).filter(|p| p.is_dir()).collect();
        // Several hwmon devices may hang off one device (a Wi-Fi card with
        // one sensor per radio): such names get the chip's own name appended.
        let bases: Vec<Option<String>> = dirs.iter().map(|d| base_name(d)).collect();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for b in bases.iter().flatten() {
            *counts.entry(b.as_str()).or_default() += 1;
        }
        for (dir, b) in dirs.iter().zip(&bases) {
            let Some(b) = b else { continue };
            let chip_name = read_value(&dir.join("name")).map(|n| clean_name(&n)).filter(|n| !n.is_empty());
            let chip = match (&chip_name, counts.get(b.as_str()).copied().unwrap_or(0) > 1) {
                (Some(n), true) if n != b => format!("{b}_{n}"),
                _ => b.clone(),
            };
            if !self.chips.accepts(&chip) {
                continue;
            }
            let mut data = SensorData::new();
            collect_sensor_data(dir, &mut data)?;
            let device = dir.join("device");
            if device.is_dir() {
                collect_sensor_data(&device, &mut data)?;
            }
            if let Some(n) = &chip_name {
                out.gauge("node_hwmon_chip_names", "Annotation metric for human-readable chip names", &[("chip", &chip), ("chip_name", n)], 1.0);
            }
            self.emit(&chip, &data, out);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Hwmon {
        paths: cx.paths.clone(),
        chips: Filter::exclusive("hwmon", "chip", o.hwmon_chip_include.as_deref(), o.hwmon_chip_exclude.as_deref())?,
        sensors: Filter::exclusive("hwmon", "sensor", o.hwmon_sensor_include.as_deref(), o.hwmon_sensor_exclude.as_deref())?,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explodes_sensor_file_names() {
        assert_eq!(explode("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(explode("pwm1"), Some(("pwm", 1, "")));
        assert_eq!(explode("pwm1_auto_point1_pwm"), Some(("pwm", 1, "auto_point1_pwm")));
        assert_eq!(explode("beep_enable"), Some(("beep_enable", 0, "")));
        assert_eq!(explode("name"), Some(("name", 0, "")));
        assert_eq!(explode("1abc"), None);
    }

    #[test]
    fn cleans_names() {
        assert_eq!(clean_name("Core 0\n"), "core_0");
        assert_eq!(clean_name("applesmc.768"), "applesmc_768");
        assert_eq!(clean_name("--x--"), "x");
    }
}
