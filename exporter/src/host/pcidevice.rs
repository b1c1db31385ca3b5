//! The `pcidevice` collector: every PCI device of `/sys/bus/pci/devices`
//! with its place in the tree and its ids (`node_pcidevice_info`, names
//! from a `pci.ids` file with `--collector.pcidevice.names`), PCIe link
//! speed and width, power state, NUMA node and SR-IOV settings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::parse_go_uint as parse_uint;
use crate::host::util::list_dir;
use crate::metrics::{Kind, Snapshot};

/// Flags of the `pcidevice` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Path to pci.ids file to use for PCI device identification.
    #[arg(long = "collector.pcidevice.idsfile")]
    pub pcidevice_idsfile: Option<PathBuf>,
    /// Enable PCI device name resolution (requires pci.ids file).
    #[arg(long = "collector.pcidevice.names", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub pcidevice_names: bool,
}

/// Where distributions install `pci.ids`, tried in order when no file is named.
const DEFAULT_IDS: [&str; 2] = ["/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids"];

/// A device's place: `segment:bus:device.function`, all hexadecimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// PCI segment (domain).
    pub segment: u32,
    /// Bus.
    pub bus: u32,
    /// Device (slot).
    pub device: u32,
    /// Function.
    pub function: u32,
}

impl Location {
    /// Parses `0000:00:02.1`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid PCI location {s:?}");
        let mut parts = s.split(':');
        let (Some(segment), Some(bus), Some(rest), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else { return Err(bad()) };
        let Some((device, function)) = rest.split_once('.') else { return Err(bad()) };
        let hex = |p: &str| u32::from_str_radix(p, 16).ok().filter(|v| i32::try_from(*v).is_ok()).ok_or_else(bad);
        Ok(Self { segment: hex(segment)?, bus: hex(bus)?, device: hex(device)?, function: hex(function)? })
    }

    /// The four label values, formatted as node_exporter formats them.
    pub fn strings(&self) -> [String; 4] {
        [format!("{:04x}", self.segment), format!("{:02x}", self.bus), format!("{:02x}", self.device), format!("{:x}", self.function)]
    }
}

/// The device and its parent from where its sysfs entry links to
/// (`../../../devices/pci0000:00/0000:00:02.1/0000:01:00.0`). A parent
/// named `pci…` is a host bridge, not a device: `None`.
pub fn locations(target: &Path) -> Result<(Location, Option<Location>), String> {
    let name = |p: Option<&Path>| p.and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    let own = Location::parse(&name(Some(target)))?;
    let parent = name(target.parent());
    let parent = if parent.starts_with("pci") { None } else { Some(Location::parse(&parent)?) };
    Ok((own, parent))
}

/// Parses a link speed, `"8.0 GT/s PCIe"`, into transfers per second.
pub fn parse_speed(text: &str) -> Result<f64, String> {
    let Some((number, unit)) = text.split_once(' ') else { return Err(format!("invalid link speed {text:?}")) };
    if unit != "GT/s PCIe" {
        return Err(format!("unknown unit in link speed {text:?}"));
    }
    let gt: f64 = number.trim().parse().map_err(|_| format!("invalid link speed {text:?}"))?;
    Ok(gt * 1e9)
}

/// The names of `pci.ids`: vendors, devices, subsystems and classes.
#[derive(Debug, Default)]
pub struct PciIds {
    vendors: HashMap<String, String>,
    /// Keyed by `vendor:device`.
    devices: HashMap<String, String>,
    /// Keyed by `vendor:device` then `subvendor:subdevice`.
    subsystems: HashMap<String, HashMap<String, String>>,
    /// Keyed by 2 (class), 4 (subclass) or 6 (programming interface) hex digits.
    classes: HashMap<String, String>,
}

/// `id  name` (two spaces between), both trimmed.
fn id_and_name(line: &str) -> Option<(&str, &str)> {
    line.split_once("  ").map(|(id, name)| (id.trim(), name.trim()))
}

impl PciIds {
    /// Parses a `pci.ids` file. Lines it does not understand are skipped,
    /// as the format has more sections than the names need.
    pub fn parse(text: &str) -> Self {
        let mut ids = Self::default();
        let (mut vendor, mut device) = (String::new(), String::new());
        let (mut class, mut subclass) = (String::new(), String::new());
        let mut in_classes = false;
        for line in text.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let tabs = line.len() - line.trim_start_matches('\t').len();
            if let Some(rest) = line.strip_prefix("C ") {
                if let Some((id, name)) = id_and_name(rest) {
                    class = id.to_owned();
                    ids.classes.insert(class.clone(), name.to_owned());
                    in_classes = true;
                }
                continue;
            }
            let body = line.trim_start_matches('\t');
            match (tabs, in_classes) {
                (1, true) => {
                    if let (Some((id, name)), false) = (id_and_name(body), class.is_empty()) {
                        subclass = format!("{class}{id}");
                        ids.classes.insert(subclass.clone(), name.to_owned());
                    }
                }
                (2, true) => {
                    if let (Some((id, name)), false) = (id_and_name(body), subclass.is_empty()) {
                        ids.classes.insert(format!("{subclass}{id}"), name.to_owned());
                    }
                }
                (0, _) => {
                    if let Some((id, name)) = id_and_name(body) {
                        vendor = id.to_owned();
                        ids.vendors.insert(vendor.clone(), name.to_owned());
                        device.clear();
                        in_classes = false;
                    }
                }
                (1, false) => {
                    if let (Some((id, name)), false) = (id_and_name(body), vendor.is_empty()) {
                        device = id.to_owned();
                        ids.devices.insert(format!("{vendor}:{device}"), name.to_owned());
                    }
                }
                _ => {
                    // A subsystem: "subvendor subdevice  name".
                    let Some((id, name)) = id_and_name(body) else { continue };
                    if vendor.is_empty() || device.is_empty() {
                        continue;
                    }
                    let mut sub = id.split_ascii_whitespace();
                    if let (Some(sv), Some(sd), None) = (sub.next(), sub.next(), sub.next()) {
                        ids.subsystems.entry(format!("{vendor}:{device}")).or_default().insert(format!("{sv}:{sd}"), name.to_owned());
                    }
                }
            }
        }
        ids
    }

    /// Vendor name, or the id without `0x` when unknown.
    fn vendor(&self, id: &str) -> String {
        let id = bare(id);
        self.vendors.get(&id).cloned().unwrap_or(id)
    }

    /// Device name, or the device id without `0x` when unknown.
    fn device(&self, vendor: &str, device: &str) -> String {
        let device = bare(device);
        self.devices.get(&format!("{}:{device}", bare(vendor))).cloned().unwrap_or(device)
    }

    /// Subsystem name, or the subsystem device id without `0x` when unknown.
    fn subsystem(&self, vendor: &str, device: &str, sub_vendor: &str, sub_device: &str) -> String {
        let sub_device = bare(sub_device);
        self.subsystems
            .get(&format!("{}:{}", bare(vendor), bare(device)))
            .and_then(|m| m.get(&format!("{}:{sub_device}", bare(sub_vendor))))
            .cloned()
            .unwrap_or(sub_device)
    }

    /// The most specific class name: programming interface, subclass, class.
    fn class(&self, id: &str) -> String {
        let id = bare(id);
        [6, 4, 2]
            .iter()
            .filter_map(|&n| id.get(..n))
            .find_map(|k| self.classes.get(k))
            .cloned()
            .unwrap_or_else(|| format!("Unknown class ({id})"))
    }
}

/// An id without its `0x`, lower case.
fn bare(id: &str) -> String {
    id.strip_prefix("0x").unwrap_or(id).to_ascii_lowercase()
}

/// What one device's directory says.
#[derive(Debug, Default, PartialEq)]
pub struct Device {
    /// `class`, `vendor`, `device`, `subsystem_vendor`, `subsystem_device`, `revision`.
    pub ids: [u32; 6],
    /// `max_link_speed` in transfers per second.
    pub max_speed: Option<f64>,
    /// `max_link_width`.
    pub max_width: Option<f64>,
    /// `current_link_speed` in transfers per second.
    pub current_speed: Option<f64>,
    /// `current_link_width`.
    pub current_width: Option<f64>,
    /// `numa_node` (-1: none).
    pub numa_node: Option<i32>,
    /// `sriov_drivers_autoprobe`.
    pub sriov_autoprobe: Option<bool>,
    /// `sriov_numvfs`.
    pub sriov_numvfs: Option<u32>,
    /// `sriov_totalvfs`.
    pub sriov_totalvfs: Option<u32>,
    /// `sriov_vf_total_msix`.
    pub sriov_vf_total_msix: Option<u64>,
    /// `d3cold_allowed`.
    pub d3cold_allowed: Option<bool>,
    /// `power_state`.
    pub power_state: Option<String>,
}

/// The identity files every PCI device has.
const ID_FILES: [&str; 6] = ["class", "vendor", "device", "subsystem_vendor", "subsystem_device", "revision"];

/// An optional attribute, trimmed; `None` when absent or empty.
fn optional(path: &Path) -> Result<Option<String>, Error> {
    match read_to_string(path) {
        Ok(t) => Ok(Some(t.trim().to_owned()).filter(|t| !t.is_empty())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads an optional attribute and parses it with `parse`.
fn parsed<T>(dir: &Path, file: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>, Error> {
    let path = dir.join(file);
    match optional(&path)? {
        None => Ok(None),
        Some(text) => parse(&text).map(Some).ok_or_else(|| Error::parse(&path, format!("unexpected value {text:?}"))),
    }
}

/// Reads one device's directory.
pub fn read_device(dir: &Path) -> Result<Device, Error> {
    let mut d = Device::default();
    for (slot, file) in d.ids.iter_mut().zip(ID_FILES) {
        let path = dir.join(file);
        let text = read_to_string(&path)?;
        *slot = parse_uint(text.trim()).and_then(|v| u32::try_from(v).ok()).filter(|v| i32::try_from(*v).is_ok()).ok_or_else(|| Error::parse(&path, format!("not an id: {:?}", text.trim())))?;
    }
    // The kernel prints "Unknown" for a link it cannot read.
    let known = |t: &str| !t.starts_with("Unknown");
    let speed = |file: &str| -> Result<Option<f64>, Error> {
        let path = dir.join(file);
        match optional(&path)?.filter(|t| known(t)) {
            Some(t) => parse_speed(&t).map(Some).map_err(|e| Error::parse(&path, e)),
            None => Ok(None),
        }
    };
    d.max_speed = speed("max_link_speed")?;
    d.current_speed = speed("current_link_speed")?;
    let width = |t: &str| if known(t) { t.parse::<i64>().ok().map(|v| Some(v as f64)) } else { Some(None) };
    d.max_width = parsed(dir, "max_link_width", width)?.flatten();
    d.current_width = parsed(dir, "current_link_width", width)?.flatten();
    d.numa_node = parsed(dir, "numa_node", |t| if known(t) { t.parse().ok().map(Some) } else { Some(None) })?.flatten();
    d.sriov_autoprobe = parsed(dir, "sriov_drivers_autoprobe", |t| t.parse::<i32>().ok().map(|v| v != 0))?;
    d.sriov_numvfs = parsed(dir, "sriov_numvfs", |t| t.parse().ok())?;
    d.sriov_totalvfs = parsed(dir, "sriov_totalvfs", |t| t.parse().ok())?;
    d.sriov_vf_total_msix = parsed(dir, "sriov_vf_total_msix", |t| t.parse().ok())?;
    d.d3cold_allowed = parsed(dir, "d3cold_allowed", |t| t.parse::<i32>().ok().map(|v| v != 0))?;
    d.power_state = optional(&dir.join("power_state"))?;
    Ok(d)
}

/// The power states `node_pcidevice_power_state` has a series for.
const POWER_STATES: [&str; 7] = ["D0", "D1", "D2", "D3hot", "D3cold", "unknown", "error"];

/// (metric, help) of the per-device gauges, in [`gauges`]' order.
const GAUGES: [(&str, &str); 9] = [
    ("node_pcidevice_max_link_transfers_per_second", "Value of maximum link's transfers per second (T/s)"),
    ("node_pcidevice_max_link_width", "Value of maximum link's width (number of lanes)"),
    ("node_pcidevice_current_link_transfers_per_second", "Value of current link's transfers per second (T/s)"),
    ("node_pcidevice_current_link_width", "Value of current link's width (number of lanes)"),
    ("node_pcidevice_d3cold_allowed", "Whether the PCIe device supports D3cold power state (0/1)."),
    ("node_pcidevice_sriov_drivers_autoprobe", "Whether SR-IOV drivers autoprobe is enabled for the device (0/1)."),
    ("node_pcidevice_sriov_numvfs", "Number of Virtual Functions (VFs) currently enabled for SR-IOV."),
    ("node_pcidevice_sriov_totalvfs", "Total number of Virtual Functions (VFs) supported by the device."),
    ("node_pcidevice_sriov_vf_total_msix", "Total number of MSI-X vectors for Virtual Functions."),
];

/// The values of [`GAUGES`]: link figures are -1 when unknown, the rest 0.
fn gauges(d: &Device) -> [f64; 9] {
    let flag = |b: Option<bool>| f64::from(u8::from(b.unwrap_or(false)));
    [
        d.max_speed.unwrap_or(-1.0),
        d.max_width.unwrap_or(-1.0),
        d.current_speed.unwrap_or(-1.0),
        d.current_width.unwrap_or(-1.0),
        flag(d.d3cold_allowed),
        flag(d.sriov_autoprobe),
        f64::from(d.sriov_numvfs.unwrap_or(0)),
        f64::from(d.sriov_totalvfs.unwrap_or(0)),
        d.sriov_vf_total_msix.unwrap_or(0) as f64,
    ]
}

struct PciDevice {
    paths: Arc<HostPaths>,
    /// Names to add to the info series, when asked for.
    names: Option<PciIds>,
}

const LOCATION_LABELS: [&str; 4] = ["segment", "bus", "device", "function"];

impl HostCollector for PciDevice {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("bus/pci/devices");
        let entries = match list_dir(&base) {
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /sys/bus/pci/devices: this machine has no PCI bus".into())),
            other => other?,
        };
        for entry in &entries {
            let link = base.join(entry);
            let target = std::fs::read_link(&link).map_err(|e| Error::io(&link, e))?;
            let (own, parent) = locations(&target).map_err(|d| Error::parse(&link, d))?;
            let d = read_device(&link)?;
            let loc = own.strings();
            let parent = parent.map(|p| p.strings()).unwrap_or_else(|| ["*", "*", "*", "*"].map(String::from));
            let [class, vendor, device, sub_vendor, sub_device, revision] = d.ids;
            let ids = [
                format!("0x{class:06x}"),
                format!("0x{vendor:04x}"),
                format!("0x{device:04x}"),
                format!("0x{sub_vendor:04x}"),
                format!("0x{sub_device:04x}"),
                format!("0x{revision:02x}"),
            ];
            let mut info: Vec<(&'static str, &str)> = LOCATION_LABELS.iter().copied().zip(loc.iter().map(String::as_str)).collect();
            info.extend(["parent_segment", "parent_bus", "parent_device", "parent_function"].into_iter().zip(parent.iter().map(String::as_str)));
            info.extend(["class_id", "vendor_id", "device_id", "subsystem_vendor_id", "subsystem_device_id", "revision"].into_iter().zip(ids.iter().map(String::as_str)));
            let names = self.names.as_ref().map(|n| {
                let [class_id, vendor_id, device_id, sub_vendor_id, sub_device_id, _] = &ids;
                [
                    n.vendor(vendor_id),
                    n.device(vendor_id, device_id),
                    n.vendor(sub_vendor_id),
                    n.subsystem(vendor_id, device_id, sub_vendor_id, sub_device_id),
                    n.class(class_id),
                ]
            });
            if let Some(names) = &names {
                info.extend(["vendor_name", "device_name", "subsystem_vendor_name", "subsystem_device_name", "class_name"].into_iter().zip(names.iter().map(String::as_str)));
            }
            out.gauge("node_pcidevice_info", "Non-numeric data from /sys/bus/pci/devices/<location>, value is always 1.", &info, 1.0);

            let labels: Vec<(&'static str, &str)> = LOCATION_LABELS.iter().copied().zip(loc.iter().map(String::as_str)).collect();
            for ((name, help), v) in GAUGES.iter().zip(gauges(&d)) {
                out.gauge(*name, *help, &labels, v);
            }
            if let Some(current) = &d.power_state {
                let fam = out.family("node_pcidevice_power_state", "PCIe device power state, one of: D0, D1, D2, D3hot, D3cold, unknown or error.", Kind::Gauge);
                for state in POWER_STATES {
                    let mut l = labels.clone();
                    l.push(("state", state));
                    fam.add(&l, if current == state { 1.0 } else { 0.0 });
                }
            }
            if let Some(node) = d.numa_node.filter(|n| *n != -1) {
                out.gauge("node_pcidevice_numa_node", "NUMA node number for the PCI device. -1 indicates unknown or not available.", &labels, f64::from(node));
            }
        }
        Ok(())
    }
}

/// Reads the names file: the one named, or the first of the usual places.
fn load_ids(named: Option<&Path>) -> Result<PciIds, BuildError> {
    if let Some(path) = named {
        let bytes = std::fs::read(path).map_err(|e| BuildError { collector: "pcidevice", detail: format!("--collector.pcidevice.idsfile {}: {e}", path.display()) })?;
        return Ok(PciIds::parse(&String::from_utf8_lossy(&bytes)));
    }
    for path in DEFAULT_IDS {
        if let Ok(bytes) = std::fs::read(path) {
            return Ok(PciIds::parse(&String::from_utf8_lossy(&bytes)));
        }
    }
    tracing::warn!(tried = ?DEFAULT_IDS, "No pci.ids file found; PCI devices are named by their ids.");
    Ok(PciIds::default())
}

/// Builds the collector; with `--collector.pcidevice.names` the names file
/// is read once, here.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let names = if o.pcidevice_names { Some(load_ids(o.pcidevice_idsfile.as_deref())?) } else { None };
    Ok(Some(Collector::host(PciDevice { paths: cx.paths.clone(), names })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &str = "# Test PCI IDs file
C 06  Bridge device
\t04  PCI bridge
C 01  Mass storage controller
\t08  Non-Volatile memory controller
\t\t02  NVM Express
C 02  Network controller
\t00  Ethernet controller

1022  Advanced Micro Devices, Inc. [AMD]
\t1634  Renoir/Cezanne PCIe GPP Bridge
\t\t17aa 5095  T540-5095 Unified Wire Ethernet Controller

8086  Intel Corporation
\t1521  I350 Gigabit Network Connection
\t\t8086 00a3  Ethernet Network Adapter I350-T4 for OCP NIC 3.0

17aa  Lenovo";

    #[test]
    fn names_come_from_the_most_specific_entry_and_fall_back_to_ids() {
        let ids = PciIds::parse(IDS);
        assert_eq!(ids.vendor("0x1022"), "Advanced Micro Devices, Inc. [AMD]");
        assert_eq!(ids.vendor("0x17aa"), "Lenovo");
        assert_eq!(ids.vendor("0xc0a9"), "c0a9");
        assert_eq!(ids.device("0x1022", "0x1634"), "Renoir/Cezanne PCIe GPP Bridge");
        assert_eq!(ids.device("0x1022", "0x9999"), "9999");
        assert_eq!(ids.subsystem("0x1022", "0x1634", "0x17aa", "0x5095"), "T540-5095 Unified Wire Ethernet Controller");
        assert_eq!(ids.subsystem("0x8086", "0x1521", "0x8086", "0x0001"), "0001");
        assert_eq!(ids.class("0x060400"), "PCI bridge");
        assert_eq!(ids.class("0x010802"), "NVM Express");
        assert_eq!(ids.class("0x020000"), "Ethernet controller");
        assert_eq!(ids.class("0x068000"), "Bridge device");
        assert_eq!(ids.class("0xff0000"), "Unknown class (ff0000)");
        // Garbage lines are skipped, not fatal.
        let junk = PciIds::parse("\t\t\tnothing\nC\nC x\n\tno vendor yet  name\nzz\n");
        assert_eq!(junk.vendor("0x1022"), "1022");
    }

    #[test]
    fn parses_locations_from_link_targets() {
        let (own, parent) = locations(Path::new("../../../devices/pci0000:00/0000:00:02.1/0000:01:00.0")).unwrap();
        assert_eq!(own.strings(), ["0000", "01", "00", "0"].map(String::from));
        assert_eq!(parent.unwrap().strings(), ["0000", "00", "02", "1"].map(String::from));
        assert_eq!(locations(Path::new("../../../devices/pci0000:00/0000:00:02.1")).unwrap().1, None);
        assert!(locations(Path::new("../x/0000:00:02")).is_err());
        assert!(locations(Path::new("../x/0000:zz:02.1")).is_err());
        assert!(locations(Path::new("../x/1:2:3:4.5")).is_err());
        assert!(locations(Path::new("../bogus/0000:00:02.1")).is_err());
        assert!(locations(Path::new("")).is_err());
    }

    #[test]
    fn parses_link_speeds() {
        assert_eq!(parse_speed("8.0 GT/s PCIe").unwrap(), 8e9);
        assert_eq!(parse_speed("2.5 GT/s PCIe").unwrap(), 2.5e9);
        assert!(parse_speed("8.0 GB/s").is_err());
        assert!(parse_speed("fast GT/s PCIe").is_err());
        assert!(parse_speed("8.0").is_err());
    }

    use crate::host::util::write_tree_file as write;

    #[test]
    fn reads_a_device_and_refuses_bad_values() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (f, v) in [("class", "0x010802"), ("vendor", "0xc0a9"), ("device", "0x540a"), ("subsystem_vendor", "0xc0a9"), ("subsystem_device", "0x5021"), ("revision", "0x01")] {
            write(d, f, &format!("{v}\n"));
        }
        write(d, "max_link_speed", "16.0 GT/s PCIe\n");
        write(d, "current_link_speed", "Unknown\n");
        write(d, "max_link_width", "4\n");
        write(d, "numa_node", "-1\n");
        write(d, "sriov_numvfs", "4\n");
        write(d, "power_state", "D3hot\n");
        let dev = read_device(d).unwrap();
        assert_eq!(dev.ids, [0x010802, 0xc0a9, 0x540a, 0xc0a9, 0x5021, 1]);
        assert_eq!((dev.max_speed, dev.current_speed, dev.max_width, dev.current_width), (Some(16e9), None, Some(4.0), None));
        assert_eq!((dev.numa_node, dev.sriov_numvfs, dev.power_state.as_deref()), (Some(-1), Some(4), Some("D3hot")));
        assert_eq!(gauges(&dev), [16e9, 4.0, -1.0, -1.0, 0.0, 0.0, 4.0, 0.0, 0.0]);

        write(d, "sriov_numvfs", "many\n");
        assert!(read_device(d).unwrap_err().to_string().contains("sriov_numvfs"));
        write(d, "sriov_numvfs", "4\n");
        write(d, "max_link_speed", "16.0 furlongs\n");
        assert!(read_device(d).unwrap_err().to_string().contains("max_link_speed"));
        write(d, "max_link_speed", "16.0 GT/s PCIe\n");
        write(d, "vendor", "0x1ffffffff\n");
        assert!(read_device(d).unwrap_err().to_string().contains("vendor"));
        std::fs::remove_file(d.join("vendor")).unwrap();
        assert!(read_device(d).unwrap_err().is_not_found());
    }

    #[test]
    fn an_idsfile_that_cannot_be_read_is_refused_at_start() {
        let o = Options { pcidevice_idsfile: Some("/nonexistent/pci.ids".into()), pcidevice_names: true };
        let paths = Arc::new(HostPaths::default());
        assert!(build(&o, &Context::new(&paths)).is_err());
    }
}
