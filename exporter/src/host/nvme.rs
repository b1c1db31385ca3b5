//! The `nvme` collector: NVMe controllers from `/sys/class/nvme/<ctrl>/`
//! (model, serial, firmware, state) and their namespaces
//! (`<ctrl>/nvmeXnY/`: size, use, block size, ANA state).

use std::path::Path;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, with_attr};
use crate::metrics::{Kind, Snapshot};

/// The namespace number of a directory such as `nvme0n1` (`1`), found the
/// way node_exporter finds it: the first `nvme<digits>n<digits>` anywhere
/// in the name.
pub fn namespace_id(name: &str) -> Option<&str> {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    name.match_indices("nvme").find_map(|(at, _)| {
        let rest = name.get(at + 4..)?;
        let ctrl = digits(rest);
        let rest = rest.get(ctrl..)?.strip_prefix('n').filter(|_| ctrl > 0)?;
        let ns = digits(rest);
        rest.get(..ns).filter(|_| ns > 0)
    })
}

/// One attribute's text, surrounding white space trimmed.
fn text(path: &Path) -> Result<String, Error> {
    with_attr(path, |s| s.trim().to_owned())
}

/// One numeric attribute of a namespace: it must be readable; text that is
/// not a number counts as 0, as in node_exporter.
fn number(path: &Path) -> Result<u64, Error> {
    with_attr(path, |s| s.trim().parse().unwrap_or(0))
}

struct Nvme(Arc<HostPaths>);

impl Nvme {
    fn controller(&self, dir: &Path, device: &str, out: &mut Snapshot) -> Result<(), Error> {
        let firmware = text(&dir.join("firmware_rev"))?;
        let model = text(&dir.join("model"))?;
        let serial = text(&dir.join("serial"))?;
        let state = text(&dir.join("state"))?;
        let cntlid = text(&dir.join("cntlid"))?;
        out.gauge(
            "node_nvme_info",
            "Non-numeric data from /sys/class/nvme/<device>, value is always 1.",
            &[("device", device), ("firmware_revision", &firmware), ("model", &model), ("serial", &serial), ("state", &state), ("cntlid", &cntlid)],
            1.0,
        );
        for entry in list_dir(dir)? {
            let Some(nsid) = namespace_id(&entry) else { continue };
            let ns = dir.join(&entry);
            let used = number(&ns.join("nuse"))?;
            let size = number(&ns.join("size"))?;
            let block = number(&ns.join("queue/logical_block_size"))?;
            let ana = with_attr(&ns.join("ana_state"), |s| s.trim().to_owned()).unwrap_or_else(|_| "unknown".to_owned());
            let labels = [("device", device), ("nsid", nsid)];
            out.gauge("node_nvme_namespace_info", "Information about NVMe namespaces. Value is always 1", &[("device", device), ("nsid", nsid), ("ana_state", &ana)], 1.0);
            // node_exporter multiplies the block counts by the block size in
            // 64-bit integers; so does this.
            let bytes = size.wrapping_mul(block) as f64;
            out.gauge(
                "node_nvme_namespace_capacity_bytes",
                "Capacity of the NVMe namespace in bytes. Computed as namespace_size * namespace_logical_block_size",
                &labels,
                bytes,
            );
            out.gauge("node_nvme_namespace_size_bytes", "Size of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/size", &labels, bytes);
            out.gauge(
                "node_nvme_namespace_used_bytes",
                "Used space of the NVMe namespace in bytes. Available in /sys/class/nvme/<device>/<namespace>/nuse",
                &labels,
                used.wrapping_mul(block) as f64,
            );
            out.family(
                "node_nvme_namespace_logical_block_size_bytes",
                "Logical block size of the NVMe namespace in bytes. Usually 4Kb. Available in /sys/class/nvme/<device>/<namespace>/queue/logical_block_size",
                Kind::Gauge,
            )
            .add(&labels, block as f64);
        }
        Ok(())
    }
}

impl HostCollector for Nvme {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.0.sys("class/nvme");
        let devices = match list_dir(&base) {
            Ok(d) => d,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /sys/class/nvme: no NVMe controller or driver".into())),
            Err(e) => return Err(e),
        };
        for device in &devices {
            self.controller(&base.join(device), device, out)?;
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Nvme(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_directories_are_recognised_like_node_exporter() {
        assert_eq!(namespace_id("nvme0n1"), Some("1"));
        assert_eq!(namespace_id("nvme12n34"), Some("34"));
        assert_eq!(namespace_id("xnvme1n2p3"), Some("2"));
        assert_eq!(namespace_id("nvmenvme3n4"), Some("4"));
        for not in ["nvme0", "nvmen1", "nvme0n", "nvme0c0n1", "ng0n1", "power", "device", "", "nvme"] {
            assert_eq!(namespace_id(not), None, "{not}");
        }
    }

    #[test]
    fn fixture_controller_and_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let ctrl = dir.path().join("class/nvme/nvme0");
        std::fs::create_dir_all(ctrl.join("nvme0n1/queue")).unwrap();
        std::fs::create_dir_all(ctrl.join("power")).unwrap();
        for (f, v) in [("model", "Samsung SSD 970 PRO 512GB\n"), ("serial", "S680HF8N190894I   \n"), ("state", "live\n"), ("firmware_rev", "1B2QEXP7\n"), ("cntlid", "1997\n")] {
            std::fs::write(ctrl.join(f), v).unwrap();
        }
        for (f, v) in [("nuse", "488281250\n"), ("size", "3906250000\n"), ("queue/logical_block_size", "4096\n")] {
            std::fs::write(ctrl.join("nvme0n1").join(f), v).unwrap();
        }
        let c = Nvme(Arc::new(HostPaths { sysfs: dir.path().into(), ..HostPaths::default() }));
        let scrape = Scrape { deadline: std::time::Instant::now() };
        let mut out = Snapshot::new();
        c.gather(&scrape, &mut out).unwrap();
        let find = |name: &str| out.families.iter().find(|f| f.name == name).unwrap().samples.clone();
        let info = &find("node_nvme_info")[0];
        assert!(info.labels.iter().any(|(k, v)| k == "serial" && v == "S680HF8N190894I"));
        let ns = &find("node_nvme_namespace_info")[0];
        assert!(ns.labels.iter().any(|(k, v)| k == "ana_state" && v == "unknown"));
        assert_eq!(find("node_nvme_namespace_size_bytes")[0].value, 1.6e13);
        assert_eq!(find("node_nvme_namespace_used_bytes")[0].value, 2e12);

        // A namespace without its size fails the collector, naming the file.
        std::fs::remove_file(ctrl.join("nvme0n1/size")).unwrap();
        let e = c.gather(&scrape, &mut Snapshot::new()).unwrap_err().to_string();
        assert!(e.contains("nvme0n1/size"), "{e}");
    }

    #[test]
    fn missing_class_is_no_data() {
        let c = Nvme(Arc::new(HostPaths { sysfs: "/nonexistent-sysfs".into(), ..HostPaths::default() }));
        let scrape = Scrape { deadline: std::time::Instant::now() };
        assert!(matches!(c.gather(&scrape, &mut Snapshot::new()), Err(Error::NoData(_))));
    }
}
