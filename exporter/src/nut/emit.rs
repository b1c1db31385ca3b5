//! The NUT metric names, help texts and conversions, and the pure step that
//! turns what upsd answered into a snapshot.
//!
//! Two name sets: the Rust NUT exporter's (HON95/prometheus-nut-exporter:
//! `nut_*`, base units, ratios 0–1, `ups` label), always; and, with
//! `--collector.nut.raw`, the Go NUT exporter's (DRuggeri/nut_exporter:
//! `network_ups_tools_<variable>` with raw values, `device_info`,
//! `ups_status{flag}`), so the dashboards of either work unchanged.

use std::collections::BTreeMap;

use crate::metrics::{Kind, Snapshot};

use super::parse;

/// What one UPS answered.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsData {
    /// The value of the `ups` label (its upsd name, qualified with
    /// `@target` when two targets serve the same name).
    pub label: String,
    /// Its description from `LIST UPS`.
    pub description: String,
    /// Its variables, or the code of upsd's `ERR` reply to `LIST VAR`.
    pub vars: Result<Vec<(String, String)>, String>,
}

/// How a variable's text becomes the sample value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// The number as it is.
    Plain,
    /// A percentage, as a ratio 0–1.
    Percent,
    /// `ups.beeper.status`: unknown 0, enabled 1, disabled 2, muted 3.
    Beeper,
    /// `ups.status`: the legacy single code of its first word.
    LegacyStatus,
}

/// One `nut_*` metric read from one variable.
struct VarMetric {
    var: &'static str,
    name: &'static str,
    help: &'static str,
    conv: Conv,
}

macro_rules! m {
    ($var:literal, $name:literal, $help:literal, $conv:ident) => {
        VarMetric { var: $var, name: $name, help: concat!($help, " (NUT variable ", $var, ")"), conv: Conv::$conv }
    };
}

/// The Rust NUT exporter's metrics, by variable.
static VAR_METRICS: &[VarMetric] = &[
    m!("ups.status", "nut_status", "UPS status from the first word of ups.status: unknown 0, on line (OL) 1, on battery (OB) 2, low battery (LB) 3.", LegacyStatus),
    m!("ups.beeper.status", "nut_beeper_status", "Beeper status: unknown 0, enabled 1, disabled 2, muted 3.", Beeper),
    m!("device.uptime", "nut_uptime_seconds", "Device uptime in seconds.", Plain),
    m!("ups.load", "nut_load", "Load as a ratio of the nominal power (0-1).", Percent),
    m!("ups.temperature", "nut_temperature_celsius", "UPS temperature in degrees Celsius.", Plain),
    m!("battery.charge", "nut_battery_charge", "Battery charge (0-1).", Percent),
    m!("battery.charge.low", "nut_battery_charge_low", "Battery charge threshold of the low state (0-1).", Percent),
    m!("battery.charge.warning", "nut_battery_charge_warning", "Battery charge threshold of the warning state (0-1).", Percent),
    m!("battery.charge.restart", "nut_battery_charge_restart", "Battery charge needed to restart after power-off (0-1).", Percent),
    m!("battery.runtime", "nut_battery_runtime_seconds", "Battery runtime left in seconds.", Plain),
    m!("battery.runtime.low", "nut_battery_runtime_low_seconds", "Battery runtime threshold of the low state in seconds.", Plain),
    m!("battery.runtime.restart", "nut_battery_runtime_restart_seconds", "Battery runtime needed to restart after power-off in seconds.", Plain),
    m!("ups.delay.shutdown", "nut_delay_shutdown_seconds", "Delay before shutdown after the shutdown command in seconds.", Plain),
    m!("ups.delay.start", "nut_delay_start_seconds", "Delay before (re)starting the load in seconds.", Plain),
    m!("battery.voltage", "nut_battery_voltage_volts", "Battery voltage in volts.", Plain),
    m!("battery.voltage.nominal", "nut_battery_voltage_nominal_volts", "Nominal battery voltage in volts.", Plain),
    m!("battery.voltage.high", "nut_battery_voltage_high_volts", "Battery voltage when full in volts.", Plain),
    m!("battery.voltage.low", "nut_battery_voltage_low_volts", "Battery voltage when empty in volts.", Plain),
    m!("battery.temperature", "nut_battery_temperature_celsius", "Battery temperature in degrees Celsius.", Plain),
    m!("input.voltage", "nut_input_voltage_volts", "Input voltage in volts.", Plain),
    m!("input.voltage.nominal", "nut_input_voltage_nominal_volts", "Nominal input voltage in volts.", Plain),
    m!("input.voltage.minimum", "nut_input_voltage_minimum_volts", "Lowest input voltage seen in volts.", Plain),
    m!("input.voltage.maximum", "nut_input_voltage_maximum_volts", "Highest input voltage seen in volts.", Plain),
    m!("input.transfer.low", "nut_input_transfer_low_volts", "Input voltage below which the UPS transfers to battery, in volts.", Plain),
    m!("input.transfer.high", "nut_input_transfer_high_volts", "Input voltage above which the UPS transfers to battery, in volts.", Plain),
    m!("input.current", "nut_input_current_amperes", "Input current in amperes.", Plain),
    m!("input.current.nominal", "nut_input_current_nominal_amperes", "Nominal input current in amperes.", Plain),
    m!("input.frequency", "nut_input_frequency_hertz", "Input frequency in hertz.", Plain),
    m!("input.frequency.nominal", "nut_input_frequency_nominal_hertz", "Nominal input frequency in hertz.", Plain),
    m!("input.frequency.low", "nut_input_frequency_low_hertz", "Lowest acceptable input frequency in hertz.", Plain),
    m!("input.frequency.high", "nut_input_frequency_high_hertz", "Highest acceptable input frequency in hertz.", Plain),
    m!("output.voltage", "nut_output_voltage_volts", "Output voltage in volts.", Plain),
    m!("output.voltage.nominal", "nut_output_voltage_nominal_volts", "Nominal output voltage in volts.", Plain),
    m!("output.current", "nut_output_current_amperes", "Output current in amperes.", Plain),
    m!("output.current.nominal", "nut_output_current_nominal_amperes", "Nominal output current in amperes.", Plain),
    m!("output.frequency", "nut_output_frequency_hertz", "Output frequency in hertz.", Plain),
    m!("output.frequency.nominal", "nut_output_frequency_nominal_hertz", "Nominal output frequency in hertz.", Plain),
    m!("ups.power", "nut_power_watts", "Apparent power in volt-amperes.", Plain),
    m!("ups.power.nominal", "nut_power_nominal_watts", "Nominal apparent power in volt-amperes.", Plain),
    m!("ups.realpower", "nut_real_power_watts", "Real power in watts.", Plain),
    m!("ups.realpower.nominal", "nut_real_power_nominal_watts", "Nominal real power in watts.", Plain),
    // The Rust NUT exporter's compatibility names of its renamed metrics.
    m!("battery.voltage", "nut_battery_volts", "Battery voltage in volts (compatibility name of nut_battery_voltage_volts).", Plain),
    m!("input.voltage", "nut_input_volts", "Input voltage in volts (compatibility name of nut_input_voltage_volts).", Plain),
    m!("output.voltage", "nut_output_volts", "Output voltage in volts (compatibility name of nut_output_voltage_volts).", Plain),
];

/// The status words that always get a series (0 when absent): the Go NUT
/// exporter's default `--nut.statuses` plus `ALARM` and `CP`.
pub const STATUS_FLAGS: &[&str] = &[
    "OL", "OB", "LB", "HB", "RB", "CHRG", "DISCHRG", "BYPASS", "CAL", "OFF", "OVER", "TRIM", "BOOST", "FSD", "SD", "ALARM", "CP",
];

/// Labels of `nut_ups_info` and the variables they come from (`None`: the
/// description from `LIST UPS`).
const INFO_LABELS: &[(&str, Option<&str>)] = &[
    ("description", None),
    ("description2", Some("device.description")),
    ("location", Some("device.location")),
    ("type", Some("device.type")),
    ("manufacturer", Some("device.mfr")),
    ("model", Some("device.model")),
    ("serial", Some("device.serial")),
    ("battery_type", Some("battery.type")),
    ("driver", Some("driver.name")),
    ("nut_version", Some("driver.version")),
    ("usb_vendor_id", Some("ups.vendorid")),
    ("usb_product_id", Some("ups.productid")),
    ("ups_firmware", Some("ups.firmware")),
    ("ups_type", Some("ups.type")),
];

/// Labels of the Go NUT exporter's `device_info`, each from `device.<label>`.
const DEVICE_LABELS: &[&str] = &["model", "mfr", "serial", "type", "description", "contact", "location", "part", "macaddr"];

const UPS_STATUS_HELP: &str = "UPS status flags (NUT variable ups.status): 1 when the word is in ups.status, else 0.";
const UPS_INFO_HELP: &str = "Metadata about the UPS from LIST UPS and its device.*, driver.* and ups.* variables; always 1.";
const UPS_UP_HELP: &str = "Whether upsd answered LIST VAR for this UPS (0 on an ERR reply such as DATA-STALE or DRIVER-NOT-CONNECTED).";
const UPS_ERROR_HELP: &str = "The ERR code upsd answered to LIST VAR for this UPS; 1 while it lasts.";
const RAW_STATUS_HELP: &str = "UPS status flags (ups.status), one series per flag, as the Go NUT exporter exports them.";
const RAW_DEVICE_HELP: &str = "UPS device information (device.* variables), as the Go NUT exporter exports it.";

/// Name of the per-target reachability gauge shared by network collectors.
pub const TARGET_UP: &str = "homelab_exporter_target_up";
const TARGET_UP_HELP: &str = "Whether the collector's last scrape of this target succeeded.";

/// `homelab_exporter_target_up{collector="nut",target}`.
pub fn emit_target_up(out: &mut Snapshot, target: &str, up: bool) {
    out.gauge(TARGET_UP, TARGET_UP_HELP, &[("collector", "nut"), ("target", target)], if up { 1.0 } else { 0.0 });
}

/// `nut_server_info{target,version}` from the `VER` banner.
pub fn emit_server(out: &mut Snapshot, target: &str, version: &str) {
    out.gauge(
        "nut_server_info",
        "Metadata about the NUT server (upsd) from its VER banner; always 1.",
        &[("target", target), ("version", version)],
        1.0,
    );
}

/// Every series of one UPS.
pub fn emit_ups(out: &mut Snapshot, ups: &UpsData, raw: bool) {
    let label = ups.label.as_str();
    let empty = Vec::new();
    let vars = match &ups.vars {
        Ok(v) => {
            out.gauge("nut_ups_up", UPS_UP_HELP, &[("ups", label)], 1.0);
            v
        }
        Err(code) => {
            out.gauge("nut_ups_up", UPS_UP_HELP, &[("ups", label)], 0.0);
            out.gauge("nut_ups_error", UPS_ERROR_HELP, &[("ups", label), ("code", code)], 1.0);
            &empty
        }
    };
    let by_name: BTreeMap<&str, &str> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let mut info: Vec<(crate::metrics::Name, String)> = Vec::with_capacity(INFO_LABELS.len() + 1);
    info.push(("ups".into(), label.to_owned()));
    for (name, var) in INFO_LABELS {
        let value = match var {
            None => ups.description.as_str(),
            Some(v) => by_name.get(v).copied().unwrap_or(""),
        };
        info.push(((*name).into(), value.to_owned()));
    }
    out.family("nut_ups_info", UPS_INFO_HELP, Kind::Gauge).add_owned(info, 1.0);

    for metric in VAR_METRICS {
        let Some(text) = by_name.get(metric.var) else { continue };
        let value = match metric.conv {
            Conv::Plain => parse::number(text),
            Conv::Percent => parse::number(text).map(|v| v / 100.0),
            Conv::Beeper => Some(parse::beeper_code(text)),
            Conv::LegacyStatus => Some(parse::legacy_status_code(text)),
        };
        if let Some(v) = value {
            out.gauge(metric.name, metric.help, &[("ups", label)], v);
        }
    }

    let status = by_name.get("ups.status").map(|s| parse::status_words(s));
    if let Some(words) = &status {
        emit_flags(out, "nut_ups_status", UPS_STATUS_HELP, "status", label, words);
    }

    if !raw {
        return;
    }
    if let Some(words) = &status {
        emit_flags(out, "network_ups_tools_ups_status", RAW_STATUS_HELP, "flag", label, words);
    }
    let mut device: Vec<(crate::metrics::Name, String)> = Vec::with_capacity(DEVICE_LABELS.len() + 1);
    device.push(("ups".into(), label.to_owned()));
    for name in DEVICE_LABELS {
        let value = by_name.get(format!("device.{name}").as_str()).copied().unwrap_or("");
        device.push(((*name).into(), value.to_owned()));
    }
    out.family("network_ups_tools_device_info", RAW_DEVICE_HELP, Kind::Gauge).add_owned(device, 1.0);
    for (var, text) in vars {
        if var == "ups.status" {
            continue;
        }
        let Some(value) = parse::raw_value(text) else { continue };
        let name = parse::raw_metric_name(var);
        if name == "network_ups_tools_device_info" || name == "network_ups_tools_ups_status" {
            continue;
        }
        let help = format!("NUT variable {var}, as the Go NUT exporter exports it.");
        out.family(name, help, Kind::Gauge).add(&[("ups", label)], value);
    }
}

/// One series per flag: the fixed set plus any other word present.
fn emit_flags(out: &mut Snapshot, name: &'static str, help: &'static str, key: &'static str, ups: &str, words: &[&str]) {
    let fam = out.family(name, help, Kind::Gauge);
    for flag in STATUS_FLAGS {
        let on = words.contains(flag);
        fam.add(&[("ups", ups), (key, flag)], if on { 1.0 } else { 0.0 });
    }
    for word in words.iter().filter(|w| !STATUS_FLAGS.contains(w)) {
        fam.add(&[("ups", ups), (key, word)], 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ups(vars: &[(&str, &str)]) -> UpsData {
        UpsData {
            label: "ups1".into(),
            description: "Rack UPS".into(),
            vars: Ok(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        }
    }

    fn find(out: &Snapshot, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        out.families.iter().filter(|f| f.name == name).flat_map(|f| &f.samples).find_map(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
                .then_some(s.value)
        })
    }

    #[test]
    fn values_get_base_units_and_ratios() {
        let mut out = Snapshot::new();
        let data = ups(&[
            ("battery.charge", "87"),
            ("battery.runtime", "1800"),
            ("ups.load", "23"),
            ("input.voltage", "230.5"),
            ("ups.beeper.status", "muted"),
            ("ups.status", "OB DISCHRG LB"),
            ("battery.voltage", "garbage"),
        ]);
        emit_ups(&mut out, &data, false);
        let u = [("ups", "ups1")];
        assert_eq!(find(&out, "nut_battery_charge", &u), Some(0.87));
        assert_eq!(find(&out, "nut_battery_runtime_seconds", &u), Some(1800.0));
        assert_eq!(find(&out, "nut_load", &u), Some(0.23));
        assert_eq!(find(&out, "nut_input_voltage_volts", &u), Some(230.5));
        assert_eq!(find(&out, "nut_input_volts", &u), Some(230.5));
        assert_eq!(find(&out, "nut_beeper_status", &u), Some(3.0));
        assert_eq!(find(&out, "nut_status", &u), Some(2.0));
        assert_eq!(find(&out, "nut_battery_voltage_volts", &u), None);
        assert_eq!(find(&out, "nut_ups_up", &u), Some(1.0));
        assert_eq!(find(&out, "nut_ups_info", &[("ups", "ups1"), ("description", "Rack UPS"), ("model", "")]), Some(1.0));
        assert!(out.families.iter().all(|f| !f.name.starts_with("network_ups_tools")));
    }

    #[test]
    fn every_status_word_counts() {
        let mut out = Snapshot::new();
        emit_ups(&mut out, &ups(&[("ups.status", "ALARM OL RB WEIRD")]), true);
        for (flag, v) in [("ALARM", 1.0), ("OL", 1.0), ("RB", 1.0), ("WEIRD", 1.0), ("OB", 0.0), ("CP", 0.0), ("FSD", 0.0)] {
            assert_eq!(find(&out, "nut_ups_status", &[("ups", "ups1"), ("status", flag)]), Some(v), "{flag}");
            assert_eq!(find(&out, "network_ups_tools_ups_status", &[("ups", "ups1"), ("flag", flag)]), Some(v), "{flag}");
        }
        let n = out.families.iter().filter(|f| f.name == "nut_ups_status").map(|f| f.samples.len()).sum::<usize>();
        assert_eq!(n, STATUS_FLAGS.len() + 1);
    }

    #[test]
    fn raw_mode_uses_go_exporter_names_and_values() {
        let mut out = Snapshot::new();
        let data = ups(&[
            ("battery.charge", "87"),
            ("battery.voltage.high", "13.6"),
            ("driver.version", "2.8.0"),
            ("ups.beeper.status", "enabled"),
            ("device.model", "Dummy 1500"),
            ("device.uptime", "86400"),
            ("ups.vendorid", "0463"),
        ]);
        emit_ups(&mut out, &data, true);
        let u = [("ups", "ups1")];
        assert_eq!(find(&out, "network_ups_tools_battery_charge", &u), Some(87.0));
        assert_eq!(find(&out, "network_ups_tools_battery_voltage_high", &u), Some(13.6));
        assert_eq!(find(&out, "network_ups_tools_ups_beeper_status", &u), Some(1.0));
        assert_eq!(find(&out, "network_ups_tools_device_uptime", &u), Some(86400.0));
        assert_eq!(find(&out, "network_ups_tools_ups_vendorid", &u), Some(463.0));
        assert_eq!(find(&out, "network_ups_tools_driver_version", &u), None);
        assert_eq!(find(&out, "network_ups_tools_device_info", &[("ups", "ups1"), ("model", "Dummy 1500"), ("mfr", "")]), Some(1.0));
    }

    #[test]
    fn err_reply_gives_a_clear_per_ups_state() {
        let mut out = Snapshot::new();
        let data = UpsData { label: "ups2".into(), description: "d".into(), vars: Err("DATA-STALE".into()) };
        emit_ups(&mut out, &data, true);
        assert_eq!(find(&out, "nut_ups_up", &[("ups", "ups2")]), Some(0.0));
        assert_eq!(find(&out, "nut_ups_error", &[("ups", "ups2"), ("code", "DATA-STALE")]), Some(1.0));
        assert_eq!(find(&out, "nut_ups_info", &[("ups", "ups2"), ("description", "d")]), Some(1.0));
        assert!(find(&out, "nut_ups_status", &[("ups", "ups2")]).is_none());
    }

    #[test]
    fn help_names_the_variable() {
        assert!(VAR_METRICS.iter().all(|m| m.help.contains(m.var)));
        let mut names: Vec<_> = VAR_METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), VAR_METRICS.len());
    }
}
