//! The `meminfo` collector: every field of `/proc/meminfo` as
//! `node_memory_<Field>[_bytes]`, with node_exporter's name mangling
//! (`Active(anon)` becomes `Active_anon`; `kB` values become bytes).

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{is_name_part, static_name, Memo};
use crate::metrics::{Kind, Name, Snapshot};

/// Parses `/proc/meminfo` into (metric name stem, value in base units).
pub fn parse(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out = Vec::with_capacity(64);
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split_ascii_whitespace();
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            return Err(format!("line {}: expected 'Key: value [kB]', got {line:?}", n + 1));
        };
        let key = key.strip_suffix(':').ok_or_else(|| format!("line {}: key without colon in {line:?}", n + 1))?;
        let mut v: f64 = value.parse::<u64>().map_err(|_| format!("line {}: bad value in {line:?}", n + 1))? as f64;
        let mut name = String::with_capacity(key.len() + 8);
        for c in key.chars() {
            match c {
                '(' => name.push('_'),
                ')' => {}
                c => name.push(c),
            }
        }
        if !is_name_part(&name) {
            return Err(format!("line {}: key {key:?} cannot be a metric name", n + 1));
        }
        match parts.next() {
            None => {}
            Some("kB") => {
                v *= 1024.0;
                name.push_str("_bytes");
            }
            Some(unit) => return Err(format!("line {}: unknown unit {unit:?}", n + 1)),
        }
        out.push((name, v));
    }
    Ok(out)
}

struct Meminfo {
    paths: Arc<HostPaths>,
    /// Metric name and help per field, made once (see [`Memo`]).
    names: Memo<(Name, Name)>,
}

impl HostCollector for Meminfo {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let path = self.paths.proc("meminfo");
        let fields = parse(&read_to_string(&path)?).map_err(|d| Error::parse(&path, d))?;
        for (stem, v) in fields {
            let (name, help) = self.names.get(&stem, |stem| {
                (static_name(format!("node_memory_{stem}")), static_name(format!("Memory information field {stem}.")))
            });
            out.family(name, help, Kind::Gauge).add(&[], v);
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Meminfo { paths: cx.paths.clone(), names: Memo::default() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mangles_names_and_units() {
        let v = parse("MemTotal:        3742148 kB\nActive(anon):    2019996 kB\nHugePages_Total:       0\n").unwrap();
        assert_eq!(v, vec![("MemTotal_bytes".into(), 3742148.0 * 1024.0), ("Active_anon_bytes".into(), 2019996.0 * 1024.0), ("HugePages_Total".into(), 0.0)]);
    }

    #[test]
    fn garbled_lines_are_errors() {
        assert!(parse("MemTotal 12 kB\n").is_err());
        assert!(parse("MemTotal: x kB\n").is_err());
        assert!(parse("MemTotal:\n").is_err());
        assert!(parse("MemTotal: 1 MB\n").is_err());
    }

    /// Keys become metric names: one a name cannot hold is refused, not
    /// put into the exposition (found fuzzing vmstat, which had the same flaw).
    #[test]
    fn refuses_keys_that_cannot_be_metric_names() {
        for bad in ["Mem\0Total: 1 kB\n", "Mem-Total: 1\n", "Mem{x}: 1\n", ": 1\n"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
