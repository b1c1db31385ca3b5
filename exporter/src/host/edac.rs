//! The `edac` collector: memory error counts per controller, chip-select
//! row and channel from `/sys/devices/system/edac/mc` as `node_edac_*`.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{attr_opt, list_dir, read_u64};
use crate::metrics::{Kind, Snapshot};

/// The number after `prefix` in a directory name such as `mc0` or
/// `csrow12`: the digits that follow it (possibly none), or `None` when
/// the name does not start with `prefix` and a digit.
pub fn index<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = name.strip_prefix(prefix)?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0).then(|| rest.get(..digits)).flatten()
}

/// The channel of a `ch<N>_ce_count` file name.
pub fn channel(name: &str) -> Option<&str> {
    let n = name.strip_prefix("ch")?.strip_suffix("_ce_count")?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

/// node_exporter's form of a DIMM label: `#` dropped and an underscore
/// put before `csrow` and `channel` (`mc#0csrow#0channel#0` becomes
/// `mc0_csrow0_channel0`).
pub fn dimm_label(raw: &str) -> String {
    raw.trim().replace('#', "").replace("csrow", "_csrow").replace("channel", "_channel")
}

const CE: (&str, &str) = ("node_edac_correctable_errors_total", "Total correctable memory errors.");
const UE: (&str, &str) = ("node_edac_uncorrectable_errors_total", "Total uncorrectable memory errors.");
const CSROW_CE: (&str, &str) = ("node_edac_csrow_correctable_errors_total", "Total correctable memory errors for this csrow.");
const CSROW_UE: (&str, &str) = ("node_edac_csrow_uncorrectable_errors_total", "Total uncorrectable memory errors for this csrow.");
const CHANNEL_CE: (&str, &str) = ("node_edac_channel_correctable_errors_total", "Total correctable memory errors for this channel.");
const CHANNEL_UE: (&str, &str) = ("node_edac_channel_uncorrectable_errors_total", "Total uncorrectable memory errors for this channel.");

struct Edac(Arc<HostPaths>);

impl Edac {
    fn controller(&self, dir: &Path, mc: &str, out: &mut Snapshot) -> Result<(), Error> {
        let count = |name: &str| read_u64(&dir.join(name)).map(|v| v as f64);
        out.counter(CE.0, CE.1, &[("controller", mc)], count("ce_count")?);
        out.counter(CSROW_CE.0, CSROW_CE.1, &[("controller", mc), ("csrow", "unknown")], count("ce_noinfo_count")?);
        out.counter(UE.0, UE.1, &[("controller", mc)], count("ue_count")?);
        out.counter(CSROW_UE.0, CSROW_UE.1, &[("controller", mc), ("csrow", "unknown")], count("ue_noinfo_count")?);
        for name in list_dir(dir)? {
            let Some(row) = index(&name, "csrow") else { continue };
            let row_dir = dir.join(&name);
            let count = |name: &str| read_u64(&row_dir.join(name)).map(|v| v as f64);
            out.counter(CSROW_CE.0, CSROW_CE.1, &[("controller", mc), ("csrow", row)], count("ce_count")?);
            out.counter(CSROW_UE.0, CSROW_UE.1, &[("controller", mc), ("csrow", row)], count("ue_count")?);
            for file in list_dir(&row_dir)? {
                let Some(ch) = channel(&file) else { continue };
                let label = attr_opt(&row_dir.join(format!("ch{ch}_dimm_label")), |s| Some(dimm_label(s)))
                    .unwrap_or_else(|| "unknown".to_owned());
                let labels = [("channel", ch), ("controller", mc), ("csrow", row), ("dimm_label", label.as_str())];
                out.family(CHANNEL_CE.0, CHANNEL_CE.1, Kind::Counter).add(&labels, count(&file)?);
                // Not every driver counts uncorrectable errors per channel.
                if let Some(ue) = attr_opt(&row_dir.join(format!("ch{ch}_ue_count")), |s| s.trim().parse::<u64>().ok()) {
                    out.family(CHANNEL_UE.0, CHANNEL_UE.1, Kind::Counter).add(&labels, ue as f64);
                }
            }
        }
        Ok(())
    }
}

impl HostCollector for Edac {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let root = self.0.sys("devices/system/edac/mc");
        let names = match list_dir(&root) {
            Ok(n) => n,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no EDAC memory controllers in sysfs".into())),
            Err(e) => return Err(e),
        };
        let mut found = false;
        for name in &names {
            let Some(mc) = index(name, "mc") else { continue };
            found = true;
            self.controller(&root.join(name), mc, out)?;
        }
        if found {
            Ok(())
        } else {
            Err(Error::NoData("no EDAC memory controllers in sysfs".into()))
        }
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Edac(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels() {
        assert_eq!(index("mc0", "mc"), Some("0"));
        assert_eq!(index("csrow12", "csrow"), Some("12"));
        assert_eq!(index("mc", "mc"), None);
        assert_eq!(index("mcx", "mc"), None);
        assert_eq!(index("power", "mc"), None);
        assert_eq!(channel("ch1_ce_count"), Some("1"));
        assert_eq!(channel("ch_ce_count"), None);
        assert_eq!(channel("ch1_ue_count"), None);
        assert_eq!(channel("chx_ce_count"), None);
        assert_eq!(dimm_label("mc#0csrow#0channel#1\n"), "mc0_csrow0_channel1");
    }

    #[test]
    fn reads_a_controller_tree_and_refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let mc = dir.path().join("devices/system/edac/mc/mc0");
        std::fs::create_dir_all(mc.join("csrow0")).unwrap();
        for (f, v) in [("ce_count", "1"), ("ce_noinfo_count", "2"), ("ue_count", "5"), ("ue_noinfo_count", "6")] {
            std::fs::write(mc.join(f), v).unwrap();
        }
        for (f, v) in [("ce_count", "3"), ("ue_count", "4"), ("ch0_ce_count", "7"), ("ch0_dimm_label", "DIMM A\n")] {
            std::fs::write(mc.join("csrow0").join(f), v).unwrap();
        }
        let paths = Arc::new(HostPaths { sysfs: dir.path().to_owned(), ..HostPaths::default() });
        let scrape = Scrape { deadline: std::time::Instant::now() };
        let mut out = Snapshot::new();
        Edac(paths.clone()).gather(&scrape, &mut out).unwrap();
        assert_eq!(out.sample_count(), 7);
        let ch = out.families.iter().find(|f| f.name == CHANNEL_CE.0).unwrap();
        assert_eq!(ch.samples[0].labels[3].1, "DIMM A");
        assert_eq!(ch.samples[0].value, 7.0);

        std::fs::write(mc.join("csrow0/ue_count"), "lots").unwrap();
        let err = Edac(paths).gather(&scrape, &mut Snapshot::new()).unwrap_err();
        assert!(err.to_string().contains("csrow0/ue_count"), "{err}");

        let empty = Arc::new(HostPaths { sysfs: dir.path().join("nothing"), ..HostPaths::default() });
        assert!(matches!(Edac(empty).gather(&scrape, &mut Snapshot::new()), Err(Error::NoData(_))));
    }
}
