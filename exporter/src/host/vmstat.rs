//! The `vmstat` collector: chosen fields of `/proc/vmstat` as
//! `node_vmstat_<field>` (untyped, as node_exporter exposes them).

use std::sync::Arc;

use regex_lite::Regex;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::is_name_part;
use crate::metrics::{Kind, Snapshot};
use super::util::CachedRegex;

/// Flags of the `vmstat` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Regexp of fields to return for vmstat collector.
    #[arg(long = "collector.vmstat.fields", default_value = "^(oom_kill|pgpg|pswp|pg.*fault).*")]
    pub vmstat_fields: String,
}

impl Default for Options {
    fn default() -> Self {
        Self { vmstat_fields: "^(oom_kill|pgpg|pswp|pg.*fault).*".into() }
    }
}

/// Parses `/proc/vmstat` lines `name value`, keeping the names `keep` accepts.
pub fn parse<'a>(text: &'a str, keep: &dyn Fn(&str) -> bool) -> Result<Vec<(&'a str, f64)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut parts = line.split_ascii_whitespace();
        let Some(name) = parts.next() else { continue };
        if !keep(name) {
            continue;
        }
        if !is_name_part(name) {
            return Err(format!("line {}: field name {name:?} cannot be a metric name", n + 1));
        }
        let v = parts
            .next()
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or_else(|| format!("line {}: bad value in {line:?}", n + 1))?;
        out.push((name, v as f64));
    }
    Ok(out)
}

struct Vmstat {
    paths: Arc<HostPaths>,
    fields: CachedRegex,
}

impl HostCollector for Vmstat {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.paths.proc("vmstat");
        let text = read_to_string(&path)?;
        let keep = |name: &str| self.fields.is_match(name);
        for (name, v) in parse(&text, &keep).map_err(|d| Error::parse(&path, d))? {
            out.family(format!("node_vmstat_{name}"), format!("/proc/vmstat information field {name}."), Kind::Untyped).add(&[], v);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let pattern = &o.vmstat_fields;
    // Unanchored, as node_exporter's regexp.MatchString is.
    let fields = Regex::new(pattern).map_err(|e| BuildError { collector: "vmstat", detail: format!("--collector.vmstat.fields {pattern:?}: {e}") })?;
    Ok(Some(Collector::host(Vmstat { paths: cx.paths.clone(), fields: CachedRegex::new(fields) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_chosen_fields_and_refuses_bad_values() {
        let re = Regex::new("^(oom_kill|pgpg|pswp|pg.*fault).*").unwrap();
        let keep = |n: &str| re.is_match(n);
        let v = parse("nr_free_pages 1\npgpgin 7344136\npgfault 5\noom_kill 0\n", &keep).unwrap();
        assert_eq!(v, vec![("pgpgin", 7344136.0), ("pgfault", 5.0), ("oom_kill", 0.0)]);
        assert!(parse("pgpgin x\n", &keep).is_err());
        assert!(parse("pgpgin\n", &keep).is_err());
        assert!(parse("nr_free_pages x\n", &keep).is_ok());
    }

    /// Found by fuzzing: a field name with a NUL byte (or any character a
    /// metric name cannot hold) became `node_vmstat_<name>` as it was, an
    /// exposition line Prometheus refuses along with the whole scrape.
    #[test]
    fn refuses_field_names_that_cannot_be_metric_names() {
        let all = |_: &str| true;
        for bad in ["0\0\0\0pgmajfault 1\n", "pg{x} 1\n", "pg-in 1\n", "pgé 1\n"] {
            assert!(parse(bad, &all).is_err(), "{bad:?}");
        }
        assert!(parse("pgmajfault 1\nnr_zone_inactive_anon 2\n", &all).is_ok());
    }
}
