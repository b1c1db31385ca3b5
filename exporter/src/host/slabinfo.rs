//! The `slabinfo` collector: the kernel's slab caches from `/proc/slabinfo`
//! (format 2.1) as `node_slabinfo_*{slab}`. The file is readable by root
//! only.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::Filter;
use crate::metrics::{Kind, Snapshot};

/// Flags of the `slabinfo` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of slabs to include in slabinfo collector.
    #[arg(long = "collector.slabinfo.slabs-include", default_value = ".*")]
    pub slabinfo_slabs_include: String,
    /// Regexp of slabs to exclude in slabinfo collector.
    #[arg(long = "collector.slabinfo.slabs-exclude", default_value = "")]
    pub slabinfo_slabs_exclude: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { slabinfo_slabs_include: ".*".into(), slabinfo_slabs_exclude: String::new() }
    }
}

/// One cache's line.
#[derive(Debug, PartialEq)]
pub struct Slab {
    /// The cache's name.
    pub name: String,
    /// `<active_objs>`, `<num_objs>`, `<objsize>`, `<objperslab>`, `<pagesperslab>`, in the order of [`METRICS`].
    pub values: [i64; 5],
}

/// (metric name, help), in the order of the file's first five numbers.
const METRICS: [(&str, &str); 5] = [
    ("node_slabinfo_active_objects", "The number of objects that are currently active (i.e., in use)."),
    ("node_slabinfo_objects", "The total number of allocated objects (i.e., objects that are both in use and not in use)."),
    ("node_slabinfo_object_size_bytes", "The size of objects in this slab, in bytes."),
    ("node_slabinfo_objects_per_slab", "The number of objects stored in each slab."),
    ("node_slabinfo_pages_per_slab", "The number of pages allocated for each slab."),
];

/// Parses `/proc/slabinfo`; only version 2.1 is understood.
pub fn parse(text: &str) -> Result<Vec<Slab>, String> {
    let mut lines = text.lines();
    match lines.next().map(str::trim) {
        Some("slabinfo - version: 2.1") => {}
        Some(other) => return Err(format!("line 1: unsupported header {other:?} (only version 2.1 is understood)")),
        None => return Err("empty file".into()),
    }
    let mut slabs = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let at = |detail: String| format!("line {}: {detail}", n + 2);
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let [name, a, b, c, d, e, ":", "tunables", _, _, _, ":", "slabdata", _, _, _] = fields.as_slice() else {
            return Err(at(format!("not a slab line of 16 fields: {line:?}")));
        };
        let mut values = [0i64; 5];
        for (slot, text) in values.iter_mut().zip([a, b, c, d, e]) {
            *slot = text.parse().map_err(|_| at(format!("{text:?} is not an integer")))?;
        }
        slabs.push(Slab { name: (*name).to_owned(), values });
    }
    Ok(slabs)
}

struct Slabinfo {
    paths: Arc<HostPaths>,
    filter: Filter,
}

impl HostCollector for Slabinfo {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.paths.proc("slabinfo");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: the kernel does not show its slab caches", path.display()))),
            Err(e) => return Err(e),
        };
        let slabs = parse(&text).map_err(|d| Error::parse(&path, d))?;
        for slab in slabs.iter().filter(|s| self.filter.accepts(&s.name)) {
            for ((name, help), v) in METRICS.iter().zip(slab.values) {
                out.family(*name, *help, Kind::Gauge).add(&[("slab", &slab.name)], v as f64);
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(options: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let filter = Filter::new("slabinfo", Some(&options.slabinfo_slabs_include), Some(&options.slabinfo_slabs_exclude))?;
    Ok(Some(Collector::host(Slabinfo { paths: cx.paths.clone(), filter })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../testdata/upstream/node_exporter/proc/slabinfo");

    #[test]
    fn parses_the_fixture() {
        let slabs = parse(FIXTURE).unwrap();
        assert_eq!(slabs.len(), 4);
        assert_eq!(slabs[1], Slab { name: "dmaengine-unmap-128".into(), values: [1206, 1320, 1088, 30, 8] });
    }

    #[test]
    fn refuses_malformed_input() {
        assert!(parse("").is_err());
        assert!(parse("slabinfo - version: 2.0\n").unwrap_err().contains("2.0"));
        let head = "slabinfo - version: 2.1\n";
        assert!(parse(head).unwrap().is_empty());
        assert!(parse(&format!("{head}kmem_cache 320 320 256 32 2 : tunables 0 0 0\n")).unwrap_err().contains("line 2"));
        assert!(parse(&format!("{head}kmem_cache 320 x 256 32 2 : tunables 0 0 0 : slabdata 10 10 0\n")).is_err());
        assert!(parse(&format!("{head}kmem_cache 99999999999999999999 1 256 32 2 : tunables 0 0 0 : slabdata 10 10 0\n")).is_err());
    }

    #[test]
    fn filters_by_name() {
        let f = Filter::new("slabinfo", Some(".*"), Some("^kmalloc")).unwrap();
        assert!(f.accepts("kmem_cache") && !f.accepts("kmalloc-8192"));
    }
}
