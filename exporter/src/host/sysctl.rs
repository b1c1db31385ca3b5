//! The `sysctl` collector: the kernel parameters the user names, read from
//! `/proc/sys`, as `node_sysctl_<name>` (numbers) or `node_sysctl_info`
//! (strings).
//!
//! Each flag value is `name` or `name:key1,key2,...`; with keys, a
//! numeric sysctl holding several values (`fs.file-nr`) gets one metric per
//! value, `node_sysctl_<name>_<key>`, instead of one metric with an
//! `index` label.

use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{is_name_part, static_name};
use crate::metrics::{Kind, Name, Snapshot};

/// Flags of the `sysctl` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Select sysctl metrics to include (NAME or NAME:KEY1,KEY2,...); repeatable.
    #[arg(long = "collector.sysctl.include", action = clap::ArgAction::Append)]
    pub sysctl_include: Vec<String>,
    /// Select sysctl metrics to include as info metrics; repeatable.
    #[arg(long = "collector.sysctl.include-info", action = clap::ArgAction::Append)]
    pub sysctl_include_info: Vec<String>,
}

/// node_exporter's metric-name form of a sysctl name: each run of
/// characters other than ASCII letters, digits and `_`, with the
/// underscores around it, becomes one `_` (`fs.file-nr` → `fs_file_nr`).
pub fn sanitize(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        // A run of underscores counts only when a run of invalid
        // characters follows it.
        let start = i + chars.iter().skip(i).take_while(|&&c| c == '_').count();
        let end = start + chars.iter().skip(start).take_while(|&&c| !valid(c)).count();
        if end > start {
            out.push('_');
            i = end + chars.iter().skip(end).take_while(|&&c| c == '_').count();
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Parses one value of a sysctl as an integer, inferring the base from
/// its prefix as node_exporter does (Go's `strconv.ParseInt(s, 0, 64)`).
pub use crate::host::util::parse_go_int as parse_int;

/// What to do with one sysctl.
#[derive(Debug)]
enum Shape {
    /// A number or numbers: `node_sysctl_<name>`, with `index` when several.
    Numeric {
        /// `node_sysctl_<name>`.
        name: Name,
        /// `sysctl <name>`.
        help: Name,
        /// One (metric name, help) per value, when keys were given.
        keyed: Vec<(Name, Name)>,
    },
    /// Strings: `node_sysctl_info` samples.
    Info,
}

/// One sysctl the user asked for.
#[derive(Debug)]
struct Sysctl {
    /// Its dotted name, as given.
    name: String,
    /// Its path below `/proc/sys`.
    path: String,
    shape: Shape,
}

impl Sysctl {
    fn new(flag: &str, numeric: bool) -> Result<Self, BuildError> {
        let bad = |detail: String| BuildError { collector: "sysctl", detail };
        let (name, keys) = match flag.split_once(':') {
            Some((n, k)) => (n, Some(k.split(',').collect::<Vec<_>>())),
            None => (flag, None),
        };
        if name.is_empty() || name.split(['.', '/']).any(|p| p.is_empty() || p == "..") {
            return Err(bad(format!("{flag:?} is not a sysctl name")));
        }
        let shape = if numeric {
            let metric = format!("node_sysctl_{}", sanitize(name));
            let mut keyed = Vec::new();
            for (i, key) in keys.iter().flatten().enumerate() {
                if !is_name_part(key) {
                    return Err(bad(format!("{flag:?}: key {key:?} cannot be part of a metric name")));
                }
                keyed.push((static_name(format!("{metric}_{key}")), static_name(format!("sysctl {name}, field {i}"))));
            }
            Shape::Numeric { name: static_name(metric), help: static_name(format!("sysctl {name}")), keyed }
        } else {
            if keys.is_some() {
                return Err(bad(format!("{flag:?}: keys are not supported for info sysctls")));
            }
            Shape::Info
        };
        Ok(Self { path: name.replace('.', "/"), name: name.to_owned(), shape })
    }

    /// Emits this sysctl's samples from the words of its file.
    fn emit(&self, words: &[&str], out: &mut Snapshot) -> Result<(), String> {
        if words.is_empty() {
            return Err(format!("sysctl {} has no values", self.name));
        }
        match &self.shape {
            Shape::Info => {
                let fam = out.family("node_sysctl_info", "sysctl info", Kind::Gauge);
                for (i, value) in words.iter().enumerate() {
                    let index = i.to_string();
                    fam.add(&[("index", &index), ("name", &self.name), ("value", value)], 1.0);
                }
            }
            Shape::Numeric { name, help, keyed } => {
                let values = words
                    .iter()
                    .map(|w| parse_int(w).map(|v| v as f64).ok_or_else(|| format!("sysctl {}: {w:?} is not an integer", self.name)))
                    .collect::<Result<Vec<f64>, String>>()?;
                if keyed.is_empty() {
                    let fam = out.family(name.clone(), help.clone(), Kind::Untyped);
                    if let [v] = values.as_slice() {
                        fam.add(&[], *v);
                    } else {
                        for (i, v) in values.iter().enumerate() {
                            fam.add(&[("index", &i.to_string())], *v);
                        }
                    }
                } else if values.len() == 1 {
                    return Err(format!("sysctl {} has only one value, but keys were given", self.name));
                } else if values.len() != keyed.len() {
                    return Err(format!("sysctl {} has {} values but {} keys were given", self.name, values.len(), keyed.len()));
                } else {
                    for ((name, help), v) in keyed.iter().zip(values) {
                        out.family(name.clone(), help.clone(), Kind::Untyped).add(&[], v);
                    }
                }
            }
        }
        Ok(())
    }
}

struct Sysctls {
    paths: Arc<HostPaths>,
    sysctls: Vec<Sysctl>,
}

impl HostCollector for Sysctls {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        for s in &self.sysctls {
            let path = self.paths.proc("sys").join(&s.path);
            let text = read_to_string(&path)?;
            let words: Vec<&str> = text.split_ascii_whitespace().collect();
            s.emit(&words, out).map_err(|d| Error::parse(&path, d))?;
        }
        Ok(())
    }
}

/// Builds the collector from its flags.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    let numeric = o.sysctl_include.iter().map(|f| Sysctl::new(f, true));
    let info = o.sysctl_include_info.iter().map(|f| Sysctl::new(f, false));
    let sysctls = numeric.chain(info).collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Collector::host(Sysctls { paths: cx.paths.clone(), sysctls })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_as_node_exporter() {
        assert_eq!(sanitize("fs.file-nr"), "fs_file_nr");
        assert_eq!(sanitize("kernel.threads-max"), "kernel_threads_max");
        assert_eq!(sanitize("a._.b"), "a__b");
        assert_eq!(sanitize("a__.b"), "a_b");
        assert_eq!(sanitize("net.ipv4.tcp_rmem"), "net_ipv4_tcp_rmem");
    }

    #[test]
    fn parses_integers_with_base_prefixes() {
        assert_eq!(parse_int("7801"), Some(7801));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_int("abc"), None);
        assert_eq!(parse_int("0x"), None);
        assert_eq!(parse_int("--1"), None);
    }

    #[test]
    fn emits_plain_indexed_keyed_and_info_forms() {
        let mut out = Snapshot::new();
        Sysctl::new("fs.file-nr", true).unwrap().emit(&["1024", "0", "1631329"], &mut out).unwrap();
        Sysctl::new("fs.file-nr:total,current,max", true).unwrap().emit(&["1024", "0", "1631329"], &mut out).unwrap();
        Sysctl::new("kernel.threads-max", true).unwrap().emit(&["7801"], &mut out).unwrap();
        Sysctl::new("kernel.seccomp.actions_avail", false).unwrap().emit(&["kill_process", "trap"], &mut out).unwrap();
        let names: Vec<&str> = out.families.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "node_sysctl_fs_file_nr",
                "node_sysctl_fs_file_nr_total",
                "node_sysctl_fs_file_nr_current",
                "node_sysctl_fs_file_nr_max",
                "node_sysctl_kernel_threads_max",
                "node_sysctl_info"
            ]
        );
        assert_eq!(out.sample_count(), 3 + 3 + 1 + 2);

        let mut out = Snapshot::new();
        assert!(Sysctl::new("fs.file-nr:a,b", true).unwrap().emit(&["1", "2", "3"], &mut out).is_err());
        assert!(Sysctl::new("kernel.threads-max:a", true).unwrap().emit(&["1"], &mut out).is_err());
        assert!(Sysctl::new("kernel.threads-max", true).unwrap().emit(&["many"], &mut out).is_err());
        assert!(Sysctl::new("kernel.threads-max", true).unwrap().emit(&[], &mut out).is_err());
        assert!(Sysctl::new("a.b:x-y", true).is_err());
        assert!(Sysctl::new("a.b:x", false).is_err());
        assert!(Sysctl::new("a...b", true).is_err());
        assert!(Sysctl::new("", true).is_err());
    }
}
