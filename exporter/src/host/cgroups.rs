//! The `cgroups` collector: the cgroup v1 controllers the kernel has, from
//! `/proc/cgroups`, as `node_cgroups_cgroups` and `node_cgroups_enabled`
//! per `subsys_name`.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::metrics::{Kind, Snapshot};

/// One controller's line: `name hierarchy num_cgroups enabled`.
#[derive(Debug, PartialEq)]
pub struct Controller {
    /// `subsys_name`.
    pub name: String,
    /// `num_cgroups`.
    pub cgroups: i64,
    /// `enabled` (1 or 0).
    pub enabled: i64,
}

/// Parses `/proc/cgroups`; lines starting with `#` are headers.
pub fn parse(text: &str) -> Result<Vec<Controller>, String> {
    let mut controllers = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let at = |detail: String| format!("line {}: {detail}", n + 1);
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let [name, hierarchy, cgroups, enabled, ..] = fields.as_slice() else {
            return Err(at(format!("fewer than 4 fields: {line:?}")));
        };
        let int = |what: &str, v: &str| v.parse::<i64>().map_err(|_| at(format!("{what} {v:?} is not an integer")));
        int("hierarchy", hierarchy)?;
        controllers.push(Controller { name: (*name).to_owned(), cgroups: int("num_cgroups", cgroups)?, enabled: int("enabled", enabled)? });
    }
    Ok(controllers)
}

struct Cgroups(Arc<HostPaths>);

impl HostCollector for Cgroups {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.0.proc("cgroups");
        let text = match read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() => return Err(Error::NoData(format!("no {}: the kernel has no cgroup controllers to list", path.display()))),
            Err(e) => return Err(e),
        };
        let controllers = parse(&text).map_err(|d| Error::parse(&path, d))?;
        for c in &controllers {
            let labels = [("subsys_name", c.name.as_str())];
            out.family("node_cgroups_cgroups", "Current cgroup number of the subsystem.", Kind::Gauge).add(&labels, c.cgroups as f64);
            out.family("node_cgroups_enabled", "Current cgroup number of the subsystem.", Kind::Gauge).add(&labels, c.enabled as f64);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Cgroups(cx.paths.clone()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../../testdata/upstream/node_exporter/proc/cgroups");

    #[test]
    fn parses_the_fixture() {
        let c = parse(FIXTURE).unwrap();
        assert_eq!(c.len(), 12);
        assert_eq!(c[0], Controller { name: "cpuset".into(), cgroups: 47, enabled: 1 });
        assert_eq!(c[11], Controller { name: "rdma".into(), cgroups: 1, enabled: 1 });
    }

    #[test]
    fn refuses_malformed_input() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("#subsys_name\thierarchy\tnum_cgroups\tenabled\n").unwrap().is_empty());
        assert!(parse("cpuset 5 47\n").unwrap_err().contains("line 1"));
        assert!(parse("cpuset 5 x 1\n").unwrap_err().contains("num_cgroups"));
        assert!(parse("cpuset 5 99999999999999999999 1\n").is_err());
        assert!(parse("cpuset h 1 1\n").unwrap_err().contains("hierarchy"));
    }
}
