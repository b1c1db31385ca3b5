//! The `bcachefs` collector: mounted bcachefs filesystems from
//! `/sys/fs/bcachefs/<uuid>/`: btree cache size, compression, error and
//! btree write tables, the event counters of `counters/` (one family per
//! counter file, named after it), and each member device (`dev-N/`).
//!
//! The counter families are not listed here: the kernel's `counters/`
//! directory is the table. Each file name becomes
//! `node_bcachefs_<name>_total` once per process (see [`Memo`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{static_name, with_attr, Memo};
use crate::metrics::{Kind, Name, Snapshot};

/// A size as bcachefs prints it: `2.05G`, `512k`, `720`, with units of 1024.
pub fn parse_human_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let power = match t.as_bytes().last() {
        None => return Err("empty size".into()),
        Some(b'k' | b'K') => 1,
        Some(b'm' | b'M') => 2,
        Some(b'g' | b'G') => 3,
        Some(b't' | b'T') => 4,
        Some(b'p' | b'P') => 5,
        Some(b'e' | b'E') => 6,
        Some(_) => 0,
    };
    // A unit is one ASCII letter, so the number is the text before it.
    let number = if power > 0 { t.get(..t.len() - 1).unwrap_or("") } else { t };
    let value = number.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).map(|v| v * 1024f64.powi(power));
    // Truncated, as node_exporter converts it.
    value.filter(|v| *v < u64::MAX as f64).map(|v| v as u64).ok_or_else(|| format!("not a size: {s:?}"))
}

fn unsigned(s: &str) -> Result<u64, String> {
    s.parse().map_err(|_| format!("not an unsigned integer: {s:?}"))
}

/// `compression_stats`: per algorithm, (compressed, uncompressed) bytes.
/// The first line is the header; lines with fewer than three columns are
/// skipped.
pub fn parse_compression(text: &str) -> Result<BTreeMap<String, (u64, u64)>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let [algorithm, compressed, uncompressed, rest @ ..] = f.as_slice() else { continue };
        let at = |e: String| format!("line {}: {e}", n + 1);
        let sizes = (parse_human_bytes(compressed).map_err(at)?, parse_human_bytes(uncompressed).map_err(at)?);
        if let Some(average) = rest.first() {
            parse_human_bytes(average).map_err(at)?;
        }
        out.insert(algorithm.trim_end_matches(':').to_owned(), sizes);
    }
    Ok(out)
}

/// `errors`: per error type, its count (`name  count  [time]`).
pub fn parse_errors(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let [name, count, rest @ ..] = f.as_slice() else { continue };
        let at = |e: String| format!("line {}: {e}", n + 1);
        let count = unsigned(count).map_err(at)?;
        if let Some(time) = rest.first() {
            unsigned(time).map_err(at)?;
        }
        out.insert((*name).to_owned(), count);
    }
    Ok(out)
}

/// One file of `counters/`: the count since the filesystem was created
/// (0 when the file has only the count since mount).
pub fn parse_counter(text: &str) -> Result<u64, String> {
    let mut since_creation = None;
    let mut since_mount = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("since mount:") {
            since_mount = Some(parse_human_bytes(v)?);
        } else if let Some(v) = line.strip_prefix("since filesystem creation:") {
            since_creation = Some(parse_human_bytes(v)?);
        }
    }
    match (since_creation, since_mount) {
        (Some(v), _) => Ok(v),
        (None, Some(_)) => Ok(0),
        (None, None) => Err("neither 'since mount:' nor 'since filesystem creation:'".into()),
    }
}

/// `btree_write_stats`: per write type, (writes, average size in bytes).
/// The first line is the header.
pub fn parse_btree_writes(text: &str) -> Result<BTreeMap<String, (u64, u64)>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let [kind, count, size, ..] = f.as_slice() else { continue };
        let at = |e: String| format!("line {}: {e}", n + 1);
        out.insert(kind.trim_end_matches(':').to_owned(), (unsigned(count).map_err(at)?, parse_human_bytes(size).map_err(at)?));
    }
    Ok(out)
}

/// A device's `io_done`: per (operation, data type), bytes. Sections start
/// with `read:` or `write:`; lines before the first are skipped.
pub fn parse_io_done(text: &str) -> Result<BTreeMap<(String, String), u64>, String> {
    let mut out = BTreeMap::new();
    let mut op = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line == "read:" || line == "write:" {
            op = Some(line.trim_end_matches(':'));
            continue;
        }
        let (Some(op), Some((kind, value))) = (op, line.split_once(':')) else { continue };
        let value = unsigned(value.trim()).map_err(|e| format!("line {}: {e}", n + 1))?;
        out.insert((op.to_owned(), kind.trim().to_owned()), value);
    }
    Ok(out)
}

/// A device's `io_errors`: per error type, the count since the filesystem
/// was created (the first section; the "since <time> ago" one is skipped).
pub fn parse_io_errors(text: &str) -> Result<BTreeMap<String, u64>, String> {
    let mut out = BTreeMap::new();
    let mut in_section = false;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("IO errors since filesystem creation") {
            in_section = true;
            continue;
        }
        if line.starts_with("IO errors since ") {
            break;
        }
        if !in_section {
            continue;
        }
        let Some((kind, value)) = line.trim().split_once(':') else { continue };
        let value = unsigned(value.trim()).map_err(|e| format!("line {}: {e}", n + 1))?;
        out.insert(kind.trim().to_owned(), value);
    }
    Ok(out)
}

/// node_exporter's metric-name cleaning: every run of characters that
/// cannot be in a name, with the underscores around it, becomes one `_`.
pub fn sanitize(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(name.len());
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while chars.get(j) == Some(&'_') {
            j += 1;
        }
        let start = j;
        while chars.get(j).is_some_and(|c| !valid(*c)) {
            j += 1;
        }
        if j > start {
            while chars.get(j) == Some(&'_') {
                j += 1;
            }
            out.push('_');
            i = j;
        } else {
            out.extend(chars.get(i));
            i += 1;
        }
    }
    out
}

/// Reads `path` and parses it with `parse`; `None` when it does not exist.
fn optional<T>(path: &Path, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<Option<T>, Error> {
    match with_attr(path, parse) {
        Ok(r) => r.map(Some).map_err(|e| Error::parse(path, e)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The names of the subdirectories of `dir` (not following links), sorted.
fn subdirs(dir: &Path) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

/// The regular entries of `dir` (the counter files), sorted.
fn files(dir: &Path) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    Ok(names)
}

struct Bcachefs {
    paths: Arc<HostPaths>,
    /// Metric name and help per counter file name.
    counters: Memo<(Name, Name)>,
}

impl Bcachefs {
    fn filesystem(&self, dir: &Path, uuid: &str, out: &mut Snapshot) -> Result<(), Error> {
        let id = [("uuid", uuid)];
        out.gauge("node_bcachefs_info", "Filesystem information.", &id, 1.0);
        let cache = optional(&dir.join("btree_cache_size"), |s| if s.trim().is_empty() { Ok(0) } else { parse_human_bytes(s) })?;
        out.gauge("node_bcachefs_btree_cache_size_bytes", "Btree cache memory usage in bytes.", &id, cache.unwrap_or(0) as f64);

        for (algorithm, (compressed, uncompressed)) in optional(&dir.join("compression_stats"), parse_compression)?.unwrap_or_default() {
            let labels = [("uuid", uuid), ("algorithm", algorithm.as_str())];
            out.gauge("node_bcachefs_compression_compressed_bytes", "Compressed size by algorithm.", &labels, compressed as f64);
            out.gauge("node_bcachefs_compression_uncompressed_bytes", "Uncompressed size by algorithm.", &labels, uncompressed as f64);
        }
        for (kind, count) in optional(&dir.join("errors"), parse_errors)?.unwrap_or_default() {
            out.counter("node_bcachefs_errors_total", "Error count by error type.", &[("uuid", uuid), ("error_type", kind.as_str())], count as f64);
        }

        let counters = dir.join("counters");
        let names = match files(&counters) {
            Ok(n) => n,
            Err(e) if e.is_not_found() => Vec::new(),
            Err(e) => return Err(e),
        };
        for file in &names {
            let path = counters.join(file);
            let Some(value) = optional(&path, parse_counter)? else { continue };
            let (name, help) = self.counters.get(file, |f| {
                (static_name(format!("node_bcachefs_{}_total", sanitize(f))), static_name(format!("Bcachefs counter {f} since filesystem creation.")))
            });
            out.family(name, help, Kind::Counter).add(&id, value as f64);
        }

        for (kind, (count, size)) in optional(&dir.join("btree_write_stats"), parse_btree_writes)?.unwrap_or_default() {
            let labels = [("uuid", uuid), ("type", kind.as_str())];
            out.counter("node_bcachefs_btree_writes_total", "Number of btree writes by type.", &labels, count as f64);
            out.gauge("node_bcachefs_btree_write_average_size_bytes", "Average btree write size by type.", &labels, size as f64);
        }

        for entry in subdirs(dir)? {
            let Some(device) = entry.strip_prefix("dev-") else { continue };
            self.device(&dir.join(&entry), uuid, device, out)?;
        }
        Ok(())
    }

    fn device(&self, dir: &Path, uuid: &str, device: &str, out: &mut Snapshot) -> Result<(), Error> {
        let text = |f: &str| with_attr(&dir.join(f), |s| s.trim().to_owned()).unwrap_or_default();
        let (label, state) = (text("label"), text("state"));
        let bucket = text("bucket_size");
        let bucket = if bucket.is_empty() { 0 } else { parse_human_bytes(&bucket).map_err(|e| Error::parse(dir.join("bucket_size"), e))? };
        let number = |f: &str| optional(&dir.join(f), |s| unsigned(s.trim())).map(Option::unwrap_or_default);
        let buckets = number("nbuckets")?;
        let durability = number("durability")?;
        let io_done = optional(&dir.join("io_done"), parse_io_done)?.unwrap_or_default();
        let io_errors = optional(&dir.join("io_errors"), parse_io_errors)?.unwrap_or_default();

        let labels = [("uuid", uuid), ("device", device)];
        out.gauge("node_bcachefs_device_info", "Device information.", &[("uuid", uuid), ("device", device), ("label", &label), ("state", &state)], 1.0);
        out.gauge("node_bcachefs_device_bucket_size_bytes", "Bucket size in bytes.", &labels, bucket as f64);
        out.gauge("node_bcachefs_device_buckets", "Total number of buckets.", &labels, buckets as f64);
        out.gauge("node_bcachefs_device_durability", "Device durability setting.", &labels, durability as f64);
        let done = out.family("node_bcachefs_device_io_done_bytes_total", "IO bytes by operation type and data type.", Kind::Counter);
        for ((op, kind), bytes) in &io_done {
            done.add(&[("uuid", uuid), ("device", device), ("operation", op), ("data_type", kind)], *bytes as f64);
        }
        let errors = out.family("node_bcachefs_device_io_errors_total", "IO errors by error type.", Kind::Counter);
        for (kind, count) in &io_errors {
            errors.add(&[("uuid", uuid), ("device", device), ("type", kind)], *count as f64);
        }
        Ok(())
    }
}

impl HostCollector for Bcachefs {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("fs/bcachefs");
        let filesystems = match subdirs(&base) {
            Ok(f) => f,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /sys/fs/bcachefs: bcachefs module not loaded".into())),
            Err(e) => return Err(e),
        };
        if filesystems.is_empty() {
            return Err(Error::NoData("no bcachefs filesystem mounted".into()));
        }
        for uuid in &filesystems {
            self.filesystem(&base.join(uuid), uuid, out)?;
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Bcachefs { paths: cx.paths.clone(), counters: Memo::default() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_units_of_1024() {
        assert_eq!(parse_human_bytes("2.05G"), Ok(2_201_170_739));
        assert_eq!(parse_human_bytes("512k"), Ok(524_288));
        assert_eq!(parse_human_bytes(" 2.00M\n"), Ok(2_097_152));
        assert_eq!(parse_human_bytes("720"), Ok(720));
        assert_eq!(parse_human_bytes("10.8T"), Ok(11_874_725_579_980));
        for bad in ["", "G", "x", "-1k", "inf", "NaN", "1.2.3", "99999999999E"] {
            assert!(parse_human_bytes(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn compression_table_of_the_fixture() {
        let text = "typetype          compressed    uncompressed     average extent size\nlz4_old                    0               0                       0\nlz4                    48.9G           71.2G                   62.5k\nshort 1\n";
        let c = parse_compression(text).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c["lz4"], (52_505_975_193, 76_450_417_868));
        assert!(parse_compression("header\nzstd lots 1G\n").unwrap_err().contains("line 2"));
        assert!(parse_compression("").unwrap().is_empty());
    }

    #[test]
    fn error_counts_even_when_the_columns_run_together() {
        let text = "btree_node_data_missing                         2       1753593586\nextent_io_opts_not_set                          11299659571772285102\n";
        let e = parse_errors(text).unwrap();
        assert_eq!(e["btree_node_data_missing"], 2);
        assert_eq!(e["extent_io_opts_not_set"], 11_299_659_571_772_285_102);
        assert!(parse_errors("x 1 soon\n").unwrap_err().contains("line 1"));
        assert!(parse_errors("x 99999999999999999999999\n").is_err());
    }

    #[test]
    fn counter_files() {
        assert_eq!(parse_counter("since mount:                   39816825\nsince filesystem creation:     44105502\n"), Ok(44_105_502));
        assert_eq!(parse_counter("since mount: 475G\nsince filesystem creation: 44.5T\n"), Ok(48_928_267_436_032));
        assert_eq!(parse_counter("since mount: 5\n"), Ok(0));
        assert!(parse_counter("").is_err());
        assert!(parse_counter("since filesystem creation: many\n").is_err());
    }

    #[test]
    fn btree_write_stats_of_the_fixture() {
        let w = parse_btree_writes("                   nr        size\ninitial:           3298401   100k\ninterior:          3035363   1.26k\n").unwrap();
        assert_eq!(w["initial"], (3_298_401, 102_400));
        assert_eq!(w["interior"], (3_035_363, 1290));
        assert!(parse_btree_writes("h\ninitial: x 1k\n").is_err());
    }

    #[test]
    fn device_io_tables() {
        let done = parse_io_done("read:\nsb          :       86016\nuser        :102313054208\nwrite:\nbtree       :       16384\n").unwrap();
        assert_eq!(done[&("read".to_owned(), "user".to_owned())], 102_313_054_208);
        assert_eq!(done[&("write".to_owned(), "btree".to_owned())], 16384);
        assert_eq!(parse_io_done("sb: 1\n").unwrap().len(), 0);
        assert!(parse_io_done("read:\nsb: -1\n").unwrap_err().contains("line 2"));

        let text = "IO errors since filesystem creation\n  read:    197416\n  write:   205\n  checksum:0\nIO errors since 8 y ago\n  read:    1\n";
        let errors = parse_io_errors(text).unwrap();
        assert_eq!((errors["read"], errors["write"], errors["checksum"], errors.len()), (197_416, 205, 0, 3));
        assert!(parse_io_errors("IO errors since filesystem creation\n read: x\n").is_err());
    }

    #[test]
    fn sanitize_like_node_exporter() {
        assert_eq!(sanitize("btree_node_read"), "btree_node_read");
        assert_eq!(sanitize("a__-b"), "a_b");
        assert_eq!(sanitize("a-_-b"), "a__b");
        assert_eq!(sanitize("a.b.c"), "a_b_c");
        assert_eq!(sanitize("é_x"), "_x");
        assert_eq!(sanitize("_x_"), "_x_");
    }

    #[test]
    fn missing_sysfs_dir_is_no_data() {
        let c = Bcachefs { paths: Arc::new(HostPaths { sysfs: "/nonexistent-sysfs".into(), ..HostPaths::default() }), counters: Memo::default() };
        assert!(matches!(c.gather(&Scrape { deadline: std::time::Instant::now() }, &mut Snapshot::new()), Err(Error::NoData(_))));
    }
}
