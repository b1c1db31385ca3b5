//! The `rapl` collector: the energy counters of Intel and AMD RAPL domains
//! (package, core, uncore, dram, psys) from `/sys/class/powercap/*/energy_uj`,
//! in joules, as `node_rapl_<zone>_joules_total{index,path}`, or with
//! `--collector.rapl.enable-zone-label` as one family
//! `node_rapl_joules_total{index,path,rapl_zone}`.
//!
//! Recent kernels let only root read `energy_uj`; the collector then
//! reports no data.

use std::io;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, read_attr, static_name, with_attr, Memo};
use crate::metrics::{Kind, Name, Snapshot};

/// Flags of the `rapl` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Report all zones in one family, node_rapl_joules_total, with the zone's name in the rapl_zone label.
    #[arg(long = "collector.rapl.enable-zone-label", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub rapl_enable_zone_label: bool,
}

/// A zone's `name` split into (name, index): `package-0` is `("package", 0)`;
/// a name without a numeric suffix gets the number of zones of that name
/// seen before it (`seen`), so two `dram` zones are indexes 0 and 1.
pub fn name_and_index<'a>(name: &'a str, seen: &[(String, usize)]) -> (&'a str, usize) {
    if let Some((head, tail)) = name.split_once('-') {
        if !tail.contains('-') {
            if let Ok(index) = tail.parse::<usize>() {
                return (head, index);
            }
        }
    }
    (name, seen.iter().find(|(n, _)| n == name).map_or(0, |(_, next)| *next))
}

/// `name` as part of a metric name: each run of characters other than ASCII
/// letters, digits and `_`, with the underscores around it, becomes one `_`.
pub fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    // Underscores at the end of `out` copied from `name` (not made here).
    let mut trailing = 0;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
            trailing = 0;
        } else if c == '_' {
            out.push(c);
            trailing += 1;
        } else {
            out.truncate(out.len() - trailing);
            out.push('_');
            trailing = 0;
            while chars.next_if(|c| !c.is_ascii_alphanumeric() && *c != '_').is_some() {}
            while chars.next_if(|c| *c == '_').is_some() {}
        }
    }
    out
}

struct Rapl {
    paths: Arc<HostPaths>,
    zone_label: bool,
    /// Metric name and help per zone name, made once (see [`Memo`]).
    names: Memo<(Name, Name)>,
}

impl HostCollector for Rapl {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("class/powercap");
        let entries = match list_dir(&base) {
            Ok(e) => e,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: the platform has no powercap zones", base.display()))),
            Err(e) => return Err(e),
        };
        let mut seen: Vec<(String, usize)> = Vec::new();
        for entry in &entries {
            let dir = base.join(entry);
            // Entries without a name (the control type `intel-rapl`) are no zones.
            let Ok(raw) = read_attr(&dir.join("name")) else { continue };
            let (name, index) = name_and_index(raw.trim(), &seen);
            match seen.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = index + 1,
                None => seen.push((name.to_owned(), index + 1)),
            }
            let path = dir.join("energy_uj");
            let micro = match with_attr(&path, |s| s.trim().parse::<u64>()) {
                Ok(Ok(v)) => v,
                Ok(Err(_)) => return Err(Error::parse(&path, "not an unsigned integer")),
                Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::PermissionDenied => {
                    return Err(Error::NoData(format!("{} is readable by root only", path.display())));
                }
                Err(e) => return Err(e),
            };
            let joules = micro as f64 / 1e6;
            let index = index.to_string();
            let dir = dir.to_string_lossy();
            if self.zone_label {
                out.family("node_rapl_joules_total", "Current RAPL value in joules", Kind::Counter)
                    .add(&[("index", &index), ("path", &dir), ("rapl_zone", name)], joules);
            } else {
                let (metric, help) = self.names.get(name, |name| {
                    (static_name(format!("node_rapl_{}_joules_total", sanitize(name))), static_name(format!("Current RAPL {name} value in joules")))
                });
                out.family(metric, help, Kind::Counter).add(&[("index", &index), ("path", &dir)], joules);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(options: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Rapl { paths: cx.paths.clone(), zone_label: options.rapl_enable_zone_label, names: Memo::default() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indexes_like_node_exporter() {
        assert_eq!(name_and_index("package-0", &[]), ("package", 0));
        assert_eq!(name_and_index("package-1", &[("package".into(), 1)]), ("package", 1));
        assert_eq!(name_and_index("core", &[]), ("core", 0));
        assert_eq!(name_and_index("dram", &[("dram".into(), 1)]), ("dram", 1));
        assert_eq!(name_and_index("a-b", &[]), ("a-b", 0));
        assert_eq!(name_and_index("a-1-2", &[]), ("a-1-2", 0));
    }

    #[test]
    fn sanitizes_like_node_exporter() {
        assert_eq!(sanitize("package"), "package");
        assert_eq!(sanitize("a-b"), "a_b");
        assert_eq!(sanitize("a_-_b"), "a_b");
        assert_eq!(sanitize("a-_-b"), "a__b");
        assert_eq!(sanitize("a__b"), "a__b");
        assert_eq!(sanitize("x.y z"), "x_y_z");
        assert_eq!(sanitize(""), "");
    }

    #[test]
    fn reads_the_fixture_zones() {
        let tree = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/upstream/node_exporter");
        let paths = Arc::new(HostPaths { sysfs: tree.join("sys"), ..HostPaths::default() });
        for zone_label in [false, true] {
            let rapl = Rapl { paths: paths.clone(), zone_label, names: Memo::default() };
            let mut out = Snapshot::new();
            rapl.gather(&Scrape { deadline: std::time::Instant::now() }, &mut out).unwrap();
            let mut got: Vec<(String, f64)> = out.families.iter().flat_map(|f| f.samples.iter().map(move |s| (f.name.to_string(), s.value))).collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            if zone_label {
                assert_eq!(got, [("node_rapl_joules_total".into(), 240422.366267), ("node_rapl_joules_total".into(), 118821.284256)]);
            } else {
                assert_eq!(got, [("node_rapl_core_joules_total".into(), 118821.284256), ("node_rapl_package_joules_total".into(), 240422.366267)]);
            }
        }
    }
}
