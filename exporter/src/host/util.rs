//! Small helpers shared by the host collectors: include/exclude filters and
//! sysfs attribute reads.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use regex_lite::Regex;

use crate::collector::Error;
use crate::registry::BuildError;

/// A field-name pattern that remembers its answers.
///
/// netstat and vmstat match every field name of their files (some 400 on a
/// current kernel) against a user's pattern on every scrape; regex-lite
/// takes about a microsecond a name, which made these the two slowest host
/// collectors. The names are the kernel's and the same from one scrape to
/// the next, so each is matched once. The map stops growing at
/// [`CachedRegex::LIMIT`] names, so garbled files cannot make it grow
/// without end; names beyond it are matched every time.
#[derive(Debug)]
pub struct CachedRegex {
    re: Regex,
    seen: Mutex<HashMap<String, bool>>,
}

impl CachedRegex {
    /// Most names remembered.
    pub const LIMIT: usize = 4096;

    /// Wraps a compiled pattern.
    pub fn new(re: Regex) -> Self {
        Self { re, seen: Mutex::new(HashMap::new()) }
    }

    /// Whether the pattern matches `name` anywhere (unanchored).
    pub fn is_match(&self, name: &str) -> bool {
        let Ok(mut seen) = self.seen.lock() else { return self.re.is_match(name) };
        if let Some(&hit) = seen.get(name) {
            return hit;
        }
        let hit = self.re.is_match(name);
        if seen.len() < Self::LIMIT {
            seen.insert(name.to_owned(), hit);
        }
        hit
    }
}

/// node_exporter's device filter: a name passes when it matches the include
/// pattern (if any) and does not match the exclude pattern (if any). Like
/// node_exporter's, the patterns are not anchored: write `^eth0$` to mean
/// exactly `eth0`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

impl Filter {
    /// Builds a filter; `flag` names the flags in the error.
    pub fn new(
        collector: &'static str,
        include: Option<&str>,
        exclude: Option<&str>,
    ) -> Result<Self, BuildError> {
        let compile = |pattern: &str| {
            Regex::new(pattern).map_err(|e| BuildError {
                collector,
                detail: format!("bad pattern {pattern:?}: {e}"),
            })
        };
        Ok(Self {
            include: include.filter(|p| !p.is_empty()).map(compile).transpose()?,
            exclude: exclude.filter(|p| !p.is_empty()).map(compile).transpose()?,
        })
    }

    /// A filter from a pair of node_exporter flags
    /// `--collector.<collector>.<stem>-include` / `-exclude`, which are
    /// mutually exclusive.
    pub fn exclusive(collector: &'static str, stem: &str, include: Option<&str>, exclude: Option<&str>) -> Result<Self, BuildError> {
        if include.is_some() && exclude.is_some() {
            return Err(BuildError {
                collector,
                detail: format!("--collector.{collector}.{stem}-include and --collector.{collector}.{stem}-exclude are mutually exclusive"),
            });
        }
        Self::new(collector, include, exclude)
    }

    /// True when `name` should be reported.
    pub fn accepts(&self, name: &str) -> bool {
        if let Some(inc) = &self.include {
            if !inc.is_match(name) {
                return false;
            }
        }
        if let Some(exc) = &self.exclude {
            if exc.is_match(name) {
                return false;
            }
        }
        true
    }
}

/// True when `s` can be part of a metric name: ASCII letters, digits and
/// underscores, and not empty. The collectors whose metric names come from
/// a file's content (vmstat fields, meminfo keys, netstat and sockstat
/// counters) refuse other names: a garbled file must cost its collector an
/// error, not put a line into the exposition that makes Prometheus refuse
/// the whole scrape.
pub fn is_name_part(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Reads a sysfs attribute and trims the trailing newline.
pub fn read_attr(path: &Path) -> Result<String, Error> {
    let mut s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let trimmed = s.trim_end_matches(['\n', ' ', '\0']).len();
    s.truncate(trimmed);
    Ok(s)
}

/// Reads a sysfs attribute holding one unsigned integer.
pub fn read_u64(path: &Path) -> Result<u64, Error> {
    let s = read_attr(path)?;
    s.trim().parse().map_err(|_| Error::parse(path, format!("not an unsigned integer: {s:?}")))
}

/// Reads a sysfs attribute holding one signed integer.
pub fn read_i64(path: &Path) -> Result<i64, Error> {
    let s = read_attr(path)?;
    s.trim().parse().map_err(|_| Error::parse(path, format!("not an integer: {s:?}")))
}

/// Lists the entry names of a directory, sorted, skipping dot-files.
pub fn list_dir(path: &Path) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = std::fs::read_dir(path)
        .map_err(|e| Error::io(path, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cached_regex_answers_as_the_regex_does_and_stops_growing() {
        let c = CachedRegex::new(Regex::new("^(Tcp|Udp)_").unwrap());
        for _ in 0..2 {
            assert!(c.is_match("Tcp_InSegs"));
            assert!(!c.is_match("Ip_Forwarding"));
        }
        for i in 0..CachedRegex::LIMIT + 10 {
            assert!(c.is_match(&format!("Udp_{i}")));
        }
        assert_eq!(c.seen.lock().unwrap().len(), CachedRegex::LIMIT);
        assert!(c.is_match("Udp_beyond_the_limit") && !c.is_match("Icmp_beyond"));
    }

    use super::*;

    #[test]
    fn filter_matches_like_node_exporter_and_exclude_wins() {
        let f = Filter::new("t", Some("^(lo|eth.*)$"), Some("eth1")).unwrap();
        assert!(f.accepts("lo"));
        assert!(f.accepts("eth0"));
        assert!(!f.accepts("eth1"));
        assert!(!f.accepts("xlo"));
        // Unanchored, as in node_exporter.
        assert!(Filter::new("t", Some("lo"), None).unwrap().accepts("xlo"));
        assert!(Filter::new("t", Some("("), None).is_err());
        assert!(Filter::default().accepts("anything"));
        let both = Filter::exclusive("netdev", "device", Some("a"), Some("b")).unwrap_err().to_string();
        assert!(both.contains("--collector.netdev.device-include and --collector.netdev.device-exclude"), "{both}");
    }
}
