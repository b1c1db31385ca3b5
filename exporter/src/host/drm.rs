//! The `drm` collector: AMD GPUs (the `amdgpu` driver) from
//! `/sys/class/drm/cardN/device/*` as `node_drm_*{card}`: busy percentage,
//! VRAM and GTT sizes and use, and an info series. Cards of other drivers
//! are not reported.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{attr_opt, list_dir, with_attr};
use crate::metrics::{Kind, Snapshot};

/// (attribute of `device/`, metric name, help) of the numeric values.
const NUMERIC: [(&str, &str, &str); 7] = [
    ("gpu_busy_percent", "node_drm_gpu_busy_percent", "How busy the GPU is as a percentage."),
    ("mem_info_gtt_total", "node_drm_memory_gtt_size_bytes", "The size of the graphics translation table (GTT) block in bytes."),
    ("mem_info_gtt_used", "node_drm_memory_gtt_used_bytes", "The used amount of the graphics translation table (GTT) block in bytes."),
    ("mem_info_vis_vram_total", "node_drm_memory_vis_vram_size_bytes", "The size of visible VRAM in bytes."),
    ("mem_info_vis_vram_used", "node_drm_memory_vis_vram_used_bytes", "The used amount of visible VRAM in bytes."),
    ("mem_info_vram_total", "node_drm_memory_vram_size_bytes", "The size of VRAM in bytes."),
    ("mem_info_vram_used", "node_drm_memory_vram_used_bytes", "The used amount of VRAM in bytes."),
];

/// `card<digit>`: a card (not a connector such as `card0-HDMI-A-1`).
fn is_card(name: &str) -> bool {
    name.strip_prefix("card").is_some_and(|d| d.len() == 1 && d.bytes().all(|b| b.is_ascii_digit()))
}

/// One amdgpu card's values.
#[derive(Debug, Default, PartialEq)]
pub struct Card {
    /// The values of [`NUMERIC`], by index; 0 when the card lacks one.
    pub values: [u64; 7],
    /// `mem_info_vram_vendor`.
    pub memory_vendor: String,
    /// `power_dpm_force_performance_level`.
    pub performance_level: String,
    /// `unique_id`.
    pub unique_id: String,
}

/// Reads a card's `device/` directory; `None` when its driver is not amdgpu.
pub fn read_card(device: &Path) -> Result<Option<Card>, Error> {
    let amdgpu = with_attr(&device.join("uevent"), |u| u.contains("DRIVER=amdgpu"))?;
    if !amdgpu {
        return Ok(None);
    }
    let mut card = Card::default();
    for ((attr, ..), slot) in NUMERIC.iter().zip(card.values.iter_mut()) {
        let path = device.join(attr);
        match with_attr(&path, |s| s.trim().parse::<u64>()) {
            Ok(Ok(v)) => *slot = v,
            Ok(Err(_)) => return Err(Error::parse(&path, "not an unsigned integer")),
            // Attributes a card or kernel lacks are 0, as in node_exporter.
            Err(_) => {}
        }
    }
    let text = |attr: &str| attr_opt(&device.join(attr), |s| Some(s.trim().to_owned())).unwrap_or_default();
    card.memory_vendor = text("mem_info_vram_vendor");
    card.performance_level = text("power_dpm_force_performance_level");
    card.unique_id = text("unique_id");
    Ok(Some(card))
}

struct Drm(Arc<HostPaths>);

impl HostCollector for Drm {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.0.sys("class/drm");
        let entries = match list_dir(&base) {
            Ok(e) => e,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: no graphics cards", base.display()))),
            Err(e) => return Err(e),
        };
        for name in entries.iter().filter(|n| is_card(n)) {
            let Some(card) = read_card(&base.join(name).join("device"))? else { continue };
            out.family("node_drm_card_info", "Card information", Kind::Gauge).add(
                &[
                    ("card", name),
                    ("memory_vendor", &card.memory_vendor),
                    ("power_performance_level", &card.performance_level),
                    ("unique_id", &card.unique_id),
                    ("vendor", "amd"),
                ],
                1.0,
            );
            for ((_, metric, help), v) in NUMERIC.iter().zip(card.values) {
                out.family(*metric, *help, Kind::Gauge).add(&[("card", name)], v as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Drm(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// procfs's amdgpu fixture card.
    fn amdgpu_card(device: &Path) {
        std::fs::create_dir_all(device).unwrap();
        let files = [
            ("uevent", "DRIVER=amdgpu\nPCI_CLASS=30000\nPCI_ID=1002:687F\nPCI_SUBSYS_ID=1043:04C4\nPCI_SLOT_NAME=0000:09:00.0\n"),
            ("gpu_busy_percent", "4\n"),
            ("mem_info_gtt_total", "8573157376\n"),
            ("mem_info_gtt_used", "144560128\n"),
            ("mem_info_vis_vram_total", "8573157376\n"),
            ("mem_info_vis_vram_used", "1490378752\n"),
            ("mem_info_vram_total", "8573157376\n"),
            ("mem_info_vram_used", "1490378752\n"),
            ("mem_info_vram_vendor", "samsung\n"),
            ("power_dpm_force_performance_level", "manual\n"),
            ("unique_id", "0123456789abcdef\n"),
        ];
        for (f, v) in files {
            std::fs::write(device.join(f), v).unwrap();
        }
    }

    #[test]
    fn reads_amdgpu_cards_only() {
        let dir = tempfile::tempdir().unwrap();
        let drm = dir.path().join("class/drm");
        amdgpu_card(&drm.join("card0/device"));
        std::fs::create_dir_all(drm.join("card1/device")).unwrap();
        std::fs::write(drm.join("card1/device/uevent"), "DRIVER=i915\n").unwrap();
        std::fs::create_dir_all(drm.join("card0-HDMI-A-1")).unwrap();
        let card = read_card(&drm.join("card0/device")).unwrap().unwrap();
        assert_eq!(card.values, [4, 8573157376, 144560128, 8573157376, 1490378752, 8573157376, 1490378752]);
        assert_eq!((card.memory_vendor.as_str(), card.performance_level.as_str(), card.unique_id.as_str()), ("samsung", "manual", "0123456789abcdef"));
        assert_eq!(read_card(&drm.join("card1/device")).unwrap(), None);

        let paths = Arc::new(HostPaths { sysfs: dir.path().to_owned(), ..HostPaths::default() });
        let mut out = Snapshot::new();
        Drm(paths.clone()).gather(&Scrape { deadline: std::time::Instant::now() }, &mut out).unwrap();
        assert_eq!(out.families.len(), 8);
        assert!(out.families.iter().all(|f| f.samples.len() == 1 && f.samples[0].labels[0].1 == "card0"));
        let info = out.families.iter().find(|f| f.name == "node_drm_card_info").unwrap();
        assert_eq!(info.samples[0].labels.iter().find(|(k, _)| k == "vendor").unwrap().1, "amd");

        // A garbled value fails the collector, naming the file.
        std::fs::write(drm.join("card0/device/gpu_busy_percent"), "lots\n").unwrap();
        let e = Drm(paths).gather(&Scrape { deadline: std::time::Instant::now() }, &mut Snapshot::new()).unwrap_err().to_string();
        assert!(e.contains("gpu_busy_percent"), "{e}");
    }

    #[test]
    fn no_drm_class_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Arc::new(HostPaths { sysfs: dir.path().to_owned(), ..HostPaths::default() });
        let e = Drm(paths).gather(&Scrape { deadline: std::time::Instant::now() }, &mut Snapshot::new()).unwrap_err();
        assert!(matches!(e, Error::NoData(_)));
        assert!(is_card("card0") && !is_card("card10") && !is_card("card0-DP-1") && !is_card("renderD128"));
    }
}
