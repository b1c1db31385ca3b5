//! The `dmmultipath` collector: device-mapper multipath maps (a LUN reached
//! over several iSCSI or FC paths) from `/sys/block/dm-*`: the maps whose
//! `dm/uuid` starts with `mpath-`, their size and suspension, and the state
//! of each path device listed in `slaves/`.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, with_attr};
use crate::metrics::Snapshot;

/// Bytes of a sector of `/sys/block/<dev>/size`, whatever the device's block size.
const SECTOR: u64 = 512;

/// One multipath map.
#[derive(Debug, Default, PartialEq, Clone)]
pub struct Map {
    /// device-mapper name (`dm/name`), e.g. `mpathA`.
    pub name: String,
    /// Kernel name, e.g. `dm-5`.
    pub sysfs_name: String,
    /// `dm/uuid`, e.g. `mpath-3600508b...`.
    pub uuid: String,
    /// `dm/suspended` is 1.
    pub suspended: bool,
    /// `size` in bytes.
    pub size_bytes: u64,
    /// (path device, its `device/state`).
    pub paths: Vec<(String, String)>,
}

/// Whether a path's state means it carries I/O: SCSI `running`, NVMe `live`.
pub fn is_active(state: &str) -> bool {
    state == "running" || state == "live"
}

fn text(path: &Path) -> Result<String, Error> {
    with_attr(path, |s| s.trim().to_owned())
}

fn number(path: &Path) -> Result<u64, Error> {
    with_attr(path, |s| s.trim().parse::<u64>().map_err(|_| Error::parse(path, format!("not an unsigned integer: {s:?}"))))?
}

/// Reads the map `dev` (`dm-5`) below `block`; `None` when it is not a
/// multipath map (an LVM volume, a LUKS mapping, not device-mapper at all).
fn read_map(block: &Path, dev: &str) -> Result<Option<Map>, Error> {
    let dir = block.join(dev);
    let uuid = match text(&dir.join("dm/uuid")) {
        Ok(u) => u,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    if !uuid.starts_with("mpath-") {
        return Ok(None);
    }
    let name = text(&dir.join("dm/name"))?;
    let suspended = number(&dir.join("dm/suspended"))? == 1;
    let sectors = number(&dir.join("size"))?;
    let slaves = match list_dir(&dir.join("slaves")) {
        Ok(s) => s,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut paths = Vec::with_capacity(slaves.len());
    for path in slaves {
        let state = text(&block.join(&path).join("device/state"))?;
        paths.push((path, state));
    }
    Ok(Some(Map { name, sysfs_name: dev.to_owned(), uuid, suspended, size_bytes: sectors.saturating_mul(SECTOR), paths }))
}

struct DmMultipath(Arc<HostPaths>);

impl HostCollector for DmMultipath {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let block = self.0.sys("block");
        let devices = match list_dir(&block) {
            Ok(d) => d,
            Err(e) if e.is_not_found() || matches!(&e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied) => {
                return Err(Error::NoData("no readable /sys/block: cannot look for multipath maps".into()))
            }
            Err(e) => return Err(e),
        };
        for dev in devices.iter().filter(|d| d.starts_with("dm-")) {
            let Some(map) = read_map(&block, dev)? else { continue };
            let labels = [("device", map.name.as_str()), ("sysfs_name", dev.as_str())];
            out.gauge(
                "node_dmmultipath_device_info",
                "Non-numeric information about a DM-multipath device.",
                &[("device", map.name.as_str()), ("sysfs_name", dev.as_str()), ("uuid", map.uuid.as_str())],
                1.0,
            );
            out.gauge(
                "node_dmmultipath_device_active",
                "Whether the multipath device-mapper device is active (1) or suspended (0).",
                &labels,
                if map.suspended { 0.0 } else { 1.0 },
            );
            out.gauge("node_dmmultipath_device_size_bytes", "Size of the multipath device in bytes, read from /sys/block/<dm>/size.", &labels, map.size_bytes as f64);
            let active = map.paths.iter().filter(|(_, state)| is_active(state)).count();
            for (path, state) in &map.paths {
                out.gauge(
                    "node_dmmultipath_path_state",
                    "Reports the underlying device state for a multipath path, as read from /sys/block/<dev>/device/state.",
                    &[("device", map.name.as_str()), ("path", path.as_str()), ("state", state.as_str())],
                    1.0,
                );
            }
            out.gauge("node_dmmultipath_device_paths", "Number of paths for a multipath device.", &labels, map.paths.len() as f64);
            out.gauge(
                "node_dmmultipath_device_paths_active",
                "Number of paths in active state (SCSI running or NVMe live) for a multipath device.",
                &labels,
                active as f64,
            );
            out.gauge("node_dmmultipath_device_paths_failed", "Number of paths not in active state for a multipath device.", &labels, (map.paths.len() - active) as f64);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(DmMultipath(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::host::util::write_tree_file as write;

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        write(b, "dm-5/size", "104857600\n");
        write(b, "dm-5/dm/name", "mpathA\n");
        write(b, "dm-5/dm/suspended", "0\n");
        write(b, "dm-5/dm/uuid", "mpath-3600508b1001c1234567890abcdef1234\n");
        std::fs::create_dir_all(b.join("dm-5/slaves/sdi")).unwrap();
        std::fs::create_dir_all(b.join("dm-5/slaves/sdl")).unwrap();
        write(b, "sdi/device/state", "running\n");
        write(b, "sdl/device/state", "offline\n");
        write(b, "dm-7/size", "41943040\n");
        write(b, "dm-7/dm/name", "vg0-root\n");
        write(b, "dm-7/dm/uuid", "LVM-abcdef\n");
        std::fs::create_dir_all(b.join("dm-8")).unwrap();
        dir
    }

    #[test]
    fn multipath_maps_only_with_their_paths() {
        let dir = fixture();
        assert_eq!(read_map(dir.path(), "dm-7").unwrap(), None);
        assert_eq!(read_map(dir.path(), "dm-8").unwrap(), None);
        let map = read_map(dir.path(), "dm-5").unwrap().unwrap();
        assert_eq!(map.size_bytes, 53_687_091_200);
        assert!(!map.suspended);
        assert_eq!(map.paths, vec![("sdi".to_owned(), "running".to_owned()), ("sdl".to_owned(), "offline".to_owned())]);
        assert!(is_active("live") && !is_active("offline"));
    }

    #[test]
    fn broken_map_fails_naming_the_file() {
        let dir = fixture();
        write(dir.path(), "dm-5/size", "lots\n");
        let e = read_map(dir.path(), "dm-5").unwrap_err().to_string();
        assert!(e.contains("dm-5/size") && e.contains("lots"), "{e}");
        let dir = fixture();
        std::fs::remove_file(dir.path().join("sdl/device/state")).unwrap();
        let e = read_map(dir.path(), "dm-5").unwrap_err().to_string();
        assert!(e.contains("sdl/device/state"), "{e}");
    }

    #[test]
    fn missing_block_class_is_no_data() {
        let c = DmMultipath(Arc::new(HostPaths { sysfs: "/nonexistent-sysfs".into(), ..HostPaths::default() }));
        assert!(matches!(c.gather(&Scrape { deadline: std::time::Instant::now() }, &mut Snapshot::new()), Err(Error::NoData(_))));
    }
}
