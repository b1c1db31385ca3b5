//! The `dmi` collector: the machine's firmware, board, chassis and product
//! strings from `/sys/class/dmi/id/*` as one `node_dmi_info` series. They
//! cannot change while the system runs, so they are read once, when the
//! collector is built.

use std::path::Path;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, Scrape};
use crate::metrics::{Kind, Snapshot};

/// (sysfs file, label), in label order. `chassis_type` is not reported.
const ATTRS: [(&str, &str); 20] = [
    ("bios_date", "bios_date"),
    ("bios_release", "bios_release"),
    ("bios_vendor", "bios_vendor"),
    ("bios_version", "bios_version"),
    ("board_asset_tag", "board_asset_tag"),
    ("board_name", "board_name"),
    ("board_serial", "board_serial"),
    ("board_vendor", "board_vendor"),
    ("board_version", "board_version"),
    ("chassis_asset_tag", "chassis_asset_tag"),
    ("chassis_serial", "chassis_serial"),
    ("chassis_vendor", "chassis_vendor"),
    ("chassis_version", "chassis_version"),
    ("product_family", "product_family"),
    ("product_name", "product_name"),
    ("product_serial", "product_serial"),
    ("product_sku", "product_sku"),
    ("product_uuid", "product_uuid"),
    ("product_version", "product_version"),
    ("sys_vendor", "system_vendor"),
];

/// The most of an attribute that is read, as node_exporter reads it.
const MAX_ATTR: usize = 128;

/// An attribute's bytes as label text: at most [`MAX_ATTR`] bytes,
/// surrounding whitespace trimmed, each run of bytes that are not UTF-8
/// replaced by one U+FFFD.
pub fn label_text(bytes: &[u8]) -> String {
    let bytes = bytes.get(..MAX_ATTR).unwrap_or(bytes);
    let mut text = String::with_capacity(bytes.len());
    let mut replaced = false;
    for chunk in bytes.utf8_chunks() {
        if !chunk.valid().is_empty() {
            text.push_str(chunk.valid());
            replaced = false;
        }
        if !chunk.invalid().is_empty() && !replaced {
            text.push('\u{FFFD}');
            replaced = true;
        }
    }
    text.trim().to_owned()
}

/// Reads the label pairs from a DMI directory. Files that are absent or
/// unreadable (the serials and UUID are readable by root only) are left out.
pub fn read(dir: &Path) -> Vec<(&'static str, String)> {
    ATTRS
        .iter()
        .filter_map(|(file, label)| std::fs::read(dir.join(file)).ok().map(|b| (*label, label_text(&b))))
        .collect()
}

struct Dmi(Vec<(&'static str, String)>);

impl HostCollector for Dmi {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        if self.0.is_empty() {
            return Err(Error::NoData("the platform provides no DMI information".into()));
        }
        let labels: Vec<(&'static str, &str)> = self.0.iter().map(|(k, v)| (*k, v.as_str())).collect();
        out.family(
            "node_dmi_info",
            "A metric with a constant '1' value labeled by bios_date, bios_release, bios_vendor, bios_version, board_asset_tag, board_name, board_serial, board_vendor, board_version, chassis_asset_tag, chassis_serial, chassis_vendor, chassis_version, product_family, product_name, product_serial, product_sku, product_uuid, product_version, system_vendor if provided by DMI.",
            Kind::Gauge,
        )
        .add(&labels, 1.0);
        Ok(())
    }
}

/// Builds the collector, reading the DMI strings once.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Dmi(read(&cx.paths.sys("class/dmi/id"))))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fixture() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/upstream/node_exporter/sys/class/dmi/id");
        let labels = read(&dir);
        assert_eq!(labels.len(), 19, "{labels:?}");
        assert!(labels.contains(&("system_vendor", "Dell Inc.".into())));
        assert!(labels.contains(&("chassis_asset_tag", String::new())));
        assert!(!labels.iter().any(|(k, _)| *k == "board_asset_tag"));
        assert!(read(&dir.join("nonesuch")).is_empty());
    }

    #[test]
    fn makes_label_text_of_any_bytes() {
        assert_eq!(label_text(b"  Dell Inc.\n"), "Dell Inc.");
        assert_eq!(label_text(b"a\xff\xfe\xfdb\xffc"), "a\u{FFFD}b\u{FFFD}c");
        assert_eq!(label_text(&[b'x'; 300]).len(), MAX_ATTR);
        assert_eq!(label_text(b""), "");
    }
}
