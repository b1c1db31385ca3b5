//! The `raspberrypi` collector: the firmware's throttle word, which says
//! whether the Pi is under-voltage, frequency-capped, throttled or at its
//! soft temperature limit now, and whether each has happened since boot.
//!
//! The Raspberry Pi kernel's firmware driver publishes the word as the
//! `get_throttled` attribute of its firmware device, in hexadecimal
//! without a prefix (`50005`). The device sits under
//! `<sysfs>/devices/platform/`, named after its parent bus: `soc/soc:firmware`
//! on a Pi 3 or 4, `axi/axi:firmware` or a `soc@…` name on a Pi 5. On
//! any other machine the attribute is absent and the collector emits
//! nothing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr};
use crate::metrics::Snapshot;

/// The conditions of the throttle word: its label, and its bit now (the
/// bit since boot is 16 higher).
pub const CONDITIONS: [(&str, u32); 4] = [("under_voltage", 0), ("arm_frequency_capped", 1), ("throttled", 2), ("soft_temp_limit", 3)];

const NOW_HELP: &str = "Whether the condition holds now, from bits 0-3 of the Raspberry Pi firmware's get_throttled word (sysfs).";
const SINCE_BOOT_HELP: &str = "Whether the condition has occurred since boot, from bits 16-19 of the Raspberry Pi firmware's get_throttled word (sysfs).";

/// The throttle word, decoded: (condition, now, since boot).
pub fn decode(word: u32) -> [(&'static str, bool, bool); 4] {
    CONDITIONS.map(|(name, bit)| (name, word & (1 << bit) != 0, word & (1 << (bit + 16)) != 0))
}

/// Parses the attribute's text: hexadecimal, with or without `0x`.
pub fn parse(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    if t.is_empty() || t.len() > 8 {
        return None;
    }
    u32::from_str_radix(t, 16).ok()
}

/// The firmware device's `get_throttled` under `platform`: a device of
/// `platform` itself or one level below, whose name ends in `firmware`.
fn find_attribute(platform: &Path) -> Result<Option<PathBuf>, Error> {
    let buses = match list_dir(platform) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    for bus in &buses {
        let dir = platform.join(bus);
        if bus.ends_with("firmware") && dir.join("get_throttled").is_file() {
            return Ok(Some(dir.join("get_throttled")));
        }
        // Only the firmware's own name is looked for one level down; other
        // devices' directories are not walked.
        let Ok(children) = list_dir(&dir) else { continue };
        if let Some(fw) = children.iter().find(|c| c.ends_with(":firmware") && dir.join(c).join("get_throttled").is_file()) {
            return Ok(Some(dir.join(fw).join("get_throttled")));
        }
    }
    Ok(None)
}

struct RaspberryPi {
    paths: Arc<HostPaths>,
    /// Where the attribute is, once a scrape has looked: the firmware device
    /// is there from boot or never, so devices/platform is listed once, not
    /// on every scrape.
    found: std::sync::Mutex<Option<Option<PathBuf>>>,
}

impl RaspberryPi {
    fn new(paths: Arc<HostPaths>) -> Self {
        Self { paths, found: std::sync::Mutex::new(None) }
    }

    fn attribute(&self) -> Result<Option<PathBuf>, Error> {
        let mut found = self.found.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(known) = found.as_ref() {
            return Ok(known.clone());
        }
        let path = find_attribute(&self.paths.sys("devices/platform"))?;
        *found = Some(path.clone());
        Ok(path)
    }
}

impl HostCollector for RaspberryPi {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let Some(path) = self.attribute()? else { return Ok(()) };
        let text = read_attr(&path)?;
        let word = parse(&text).ok_or_else(|| Error::parse(&path, format!("expected a hexadecimal throttle word, got {:?}", text.trim())))?;
        for (condition, now, since_boot) in decode(word) {
            out.gauge("rpi_throttled", NOW_HELP, &[("condition", condition)], f64::from(u8::from(now)));
            out.gauge("rpi_throttled_since_boot", SINCE_BOOT_HELP, &[("condition", condition)], f64::from(u8::from(since_boot)));
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(RaspberryPi::new(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(word: u32) -> Vec<(&'static str, bool, bool)> {
        decode(word).to_vec()
    }


    /// A sample as (name, labels, value), for assertions.
    type Flat = (String, Vec<(String, String)>, f64);

    fn samples(out: &Snapshot) -> Vec<Flat> {
        out.families.iter().flat_map(|f| f.samples.iter().map(move |s| (f.name.to_string(), s.labels.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), s.value))).collect()
    }

    fn gather_in(sysfs: &std::path::Path) -> Result<Snapshot, Error> {
        let c = RaspberryPi::new(Arc::new(HostPaths { sysfs: sysfs.to_owned(), ..HostPaths::default() }));
        let mut out = Snapshot::new();
        c.gather(&Scrape { deadline: std::time::Instant::now() + std::time::Duration::from_secs(5) }, &mut out).map(|()| out)
    }

    fn tree(firmware_dir: &str, word: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let fw = dir.path().join("devices/platform").join(firmware_dir);
        std::fs::create_dir_all(&fw).unwrap();
        std::fs::write(fw.join("get_throttled"), word).unwrap();
        // Other platform devices beside it, as on a real Pi.
        std::fs::create_dir_all(dir.path().join("devices/platform/soc/fe300000.mmcnr")).unwrap();
        std::fs::create_dir_all(dir.path().join("devices/platform/leds")).unwrap();
        dir
    }

    fn value(out: &Snapshot, name: &str, condition: &str) -> Option<f64> {
        samples(out).into_iter().find(|(n, l, _)| n == name && l.iter().any(|(k, v)| k == "condition" && v == condition)).map(|(_, _, v)| v)
    }

    #[test]
    fn reads_the_word_where_the_kernel_puts_it_on_a_pi_4_and_a_pi_5() {
        let pi4 = tree("soc/soc:firmware", "50005\n");
        let out = gather_in(pi4.path()).unwrap();
        assert_eq!(value(&out, "rpi_throttled", "under_voltage"), Some(1.0));
        assert_eq!(value(&out, "rpi_throttled", "throttled"), Some(1.0));
        assert_eq!(value(&out, "rpi_throttled", "arm_frequency_capped"), Some(0.0));
        assert_eq!(value(&out, "rpi_throttled_since_boot", "under_voltage"), Some(1.0));
        assert_eq!(value(&out, "rpi_throttled_since_boot", "soft_temp_limit"), Some(0.0));
        assert_eq!(samples(&out).len(), 8);
        let pi5 = tree("axi/axi:firmware", "80008\n");
        let out = gather_in(pi5.path()).unwrap();
        assert_eq!(value(&out, "rpi_throttled", "soft_temp_limit"), Some(1.0));
        assert_eq!(value(&out, "rpi_throttled_since_boot", "soft_temp_limit"), Some(1.0));
        assert_eq!(value(&out, "rpi_throttled", "under_voltage"), Some(0.0));
    }

    #[test]
    fn no_firmware_device_is_no_data_and_garbage_fails_only_this_collector() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("devices/platform/serial8250")).unwrap();
        assert!(gather_in(dir.path()).unwrap().families.is_empty());
        assert!(gather_in(&dir.path().join("missing")).unwrap().families.is_empty());
        for bad in ["", "garbage\n", "throttled=0x50005\n"] {
            let t = tree("soc/soc:firmware", bad);
            let e = gather_in(t.path()).unwrap_err().to_string();
            assert!(e.contains("get_throttled"), "{bad:?}: {e}");
        }
    }

    /// devices/platform is listed on the first scrape only: a firmware
    /// device that appears later (it never does on a real Pi) is not seen.
    #[test]
    fn the_search_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("devices/platform/soc")).unwrap();
        let c = RaspberryPi::new(Arc::new(HostPaths { sysfs: dir.path().to_owned(), ..HostPaths::default() }));
        let scrape = Scrape { deadline: std::time::Instant::now() + std::time::Duration::from_secs(5) };
        let mut out = Snapshot::new();
        c.gather(&scrape, &mut out).unwrap();
        assert!(out.families.is_empty());
        let fw = dir.path().join("devices/platform/soc/soc:firmware");
        std::fs::create_dir_all(&fw).unwrap();
        std::fs::write(fw.join("get_throttled"), "50005\n").unwrap();
        let mut again = Snapshot::new();
        c.gather(&scrape, &mut again).unwrap();
        assert!(again.families.is_empty());
    }

    #[test]
    fn decodes_every_bit() {
        assert!(flags(0).iter().all(|(_, now, since)| !now && !since));
        // Under-voltage and throttled now, and both since boot.
        assert_eq!(flags(0x50005), vec![("under_voltage", true, true), ("arm_frequency_capped", false, false), ("throttled", true, true), ("soft_temp_limit", false, false)]);
        // At the soft temperature limit now and since boot.
        assert_eq!(flags(0x80008), vec![("under_voltage", false, false), ("arm_frequency_capped", false, false), ("throttled", false, false), ("soft_temp_limit", true, true)]);
        // Frequency capped now and since boot.
        assert_eq!(flags(0x20002), vec![("under_voltage", false, false), ("arm_frequency_capped", true, true), ("throttled", false, false), ("soft_temp_limit", false, false)]);
        // Under-voltage since boot only (the supply recovered).
        assert_eq!(flags(0x10000)[0], ("under_voltage", false, true));
    }

    #[test]
    fn parses_the_kernels_format_and_refuses_garbage() {
        assert_eq!(parse("50005\n"), Some(0x50005));
        assert_eq!(parse("0\n"), Some(0));
        assert_eq!(parse("0x80008"), Some(0x80008));
        for bad in ["", "\n", "zz", "-1", "123456789", "throttled=0x0"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
