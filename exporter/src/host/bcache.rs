//! The `bcache` collector: the Linux block cache (an SSD in front of the
//! NAS's disks) from `/sys/fs/bcache/<set uuid>/`, its backing devices
//! (`bdevN`) and cache devices (`cacheN`).
//!
//! bcache prints most values through the kernel's `bch_hprint`: a number
//! with a unit letter (`20.4G`, `1.1M/sec`) whose one fractional digit is
//! tenths of 1024ths, not of tens; [`dehumanize`] undoes it the way
//! node_exporter does, so the values agree with its output.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{read_to_string, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{list_dir, with_attr};
use crate::metrics::Snapshot;

/// Flags of the `bcache` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Expose expensive priority stats.
    #[arg(long = "collector.bcache.priorityStats", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub bcache_priority_stats: bool,
}

/// The multiplier of a `bch_hprint` unit letter.
fn unit(letter: u8) -> Option<f64> {
    let power = match letter {
        b'k' => 1,
        b'M' => 2,
        b'G' => 3,
        b'T' => 4,
        b'P' => 5,
        b'E' => 6,
        b'Z' => 7,
        b'Y' => 8,
        _ => return None,
    };
    Some(1024f64.powi(power))
}

/// `bch_hprint`'s mantissa: `20` or `20.4`, where the digit after the
/// point counts 1024ths in steps of ten (`.4` is 40/1024 of the unit).
fn pseudo_float(s: &str) -> Option<f64> {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if !digits(int) || !frac.is_none_or(digits) {
        return None;
    }
    let int: f64 = int.parse().ok()?;
    let frac: f64 = frac.map_or(Some(0.0), |f| f.parse().ok())?;
    Some(int + frac / 10.24)
}

/// A non-negative number as bcache prints it: plain (`1305`) or with a
/// unit letter (`20.4G`, `427.5k`).
pub fn dehumanize(s: &str) -> Result<u64, String> {
    let Some(&last) = s.as_bytes().last() else { return Err("empty value".into()) };
    let value = if last.is_ascii_digit() {
        s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
    } else {
        let mantissa = s.get(..s.len() - 1).and_then(pseudo_float);
        unit(last).zip(mantissa).map(|(m, v)| v * m)
    };
    // Truncated, as node_exporter converts it.
    value.filter(|v| *v < u64::MAX as f64).map(|v| v as u64).ok_or_else(|| format!("not a bcache number: {s:?}"))
}

/// [`dehumanize`] with an optional leading minus sign.
pub fn dehumanize_signed(s: &str) -> Result<i64, String> {
    match s.strip_prefix('-') {
        Some(rest) => dehumanize(rest).map(|v| (v as i64).wrapping_neg()),
        None => dehumanize(s).map(|v| v as i64),
    }
}

/// What node_exporter reports of a backing device's `writeback_rate_debug`.
#[derive(Debug, Default, PartialEq, Clone, Copy)]
pub struct WritebackRate {
    /// `rate:` in bytes per second.
    pub rate: u64,
    /// `target:` dirty data threshold in bytes.
    pub target: u64,
    /// `proportional:` term of the rate controller.
    pub proportional: i64,
    /// `integral:` term of the rate controller.
    pub integral: i64,
    /// `change:` last step of the rate, per second.
    pub change: i64,
}

/// The last word of `line`, without `suffix`.
fn last_word<'a>(line: &'a str, suffix: &str) -> &'a str {
    let word = line.split_ascii_whitespace().last().unwrap_or("");
    word.strip_suffix(suffix).unwrap_or(word)
}

/// Parses `writeback_rate_debug` (`rate:  1.1M/sec`, `target:  20.4G`, ...).
/// Lines it does not use (`dirty:`, `next io:`) are skipped.
pub fn parse_writeback_rate(text: &str) -> Result<WritebackRate, String> {
    let mut w = WritebackRate::default();
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        if line.starts_with("rate:") {
            w.rate = dehumanize(last_word(line, "/sec")).map_err(at)?;
        } else if line.starts_with("target:") {
            w.target = dehumanize(last_word(line, "")).map_err(at)?;
        } else if line.starts_with("proportional:") {
            w.proportional = dehumanize_signed(last_word(line, "")).map_err(at)?;
        } else if line.starts_with("integral:") {
            w.integral = dehumanize_signed(last_word(line, "")).map_err(at)?;
        } else if line.starts_with("change:") {
            w.change = dehumanize_signed(last_word(line, "/sec")).map_err(at)?;
        }
    }
    Ok(w)
}

/// The two shares of a cache device's `priority_stats` node_exporter reports.
#[derive(Debug, Default, PartialEq, Clone, Copy)]
pub struct Priority {
    /// `Unused:` percent of the cache holding no data.
    pub unused_percent: u64,
    /// `Metadata:` percent of the cache holding bcache's metadata.
    pub metadata_percent: u64,
}

/// Parses `priority_stats` (`Unused:  99%`, `Metadata:  0%`, ...).
pub fn parse_priority(text: &str) -> Result<Priority, String> {
    let mut p = Priority::default();
    for (n, line) in text.lines().enumerate() {
        let slot = if line.starts_with("Unused:") {
            &mut p.unused_percent
        } else if line.starts_with("Metadata:") {
            &mut p.metadata_percent
        } else {
            continue;
        };
        let word = last_word(line, "%");
        *slot = word.parse().map_err(|_| format!("line {}: not a percentage: {line:?}", n + 1))?;
    }
    Ok(p)
}

/// One value file of bcache: 0 when it does not exist (older kernels lack
/// some), an error when it cannot be read or parsed.
fn value(path: &Path) -> Result<u64, Error> {
    match with_attr(path, |s| dehumanize(s.trim()).map_err(|e| Error::parse(path, e))) {
        Ok(v) => v,
        Err(e) if e.is_not_found() => Ok(0),
        Err(e) => Err(e),
    }
}

/// The names among `names` made of `prefix` and a number (`bdev0`, `cache1`).
fn members<'a>(names: &'a [String], prefix: &'a str) -> impl Iterator<Item = &'a String> {
    names.iter().filter(move |n| n.strip_prefix(prefix).is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit())))
}

/// Values of a cache set's own directory (file, metric, help).
const SET: &[(&str, &str, &str)] = &[
    ("average_key_size", "node_bcache_average_key_size_sectors", "Average data per key in the btree (sectors)."),
    ("btree_cache_size", "node_bcache_btree_cache_size_bytes", "Amount of memory currently used by the btree cache."),
    ("cache_available_percent", "node_bcache_cache_available_percent", "Percentage of cache device without dirty data, usable for writeback (may contain clean cached data)."),
    ("congested", "node_bcache_congested", "Congestion."),
    ("root_usage_percent", "node_bcache_root_usage_percent", "Percentage of the root btree node in use (tree depth increases if too high)."),
    ("tree_depth", "node_bcache_tree_depth", "Depth of the btree."),
    ("internal/active_journal_entries", "node_bcache_active_journal_entries", "Number of journal entries that are newer than the index."),
    ("internal/btree_nodes", "node_bcache_btree_nodes", "Total nodes in the btree."),
];

/// Counters of a backing device's `stats_total/` (file, metric, help).
const PERIOD: &[(&str, &str, &str)] = &[
    ("bypassed", "node_bcache_bypassed_bytes_total", "Amount of IO (both reads and writes) that has bypassed the cache."),
    ("cache_hits", "node_bcache_cache_hits_total", "Hits counted per individual IO as bcache sees them."),
    ("cache_misses", "node_bcache_cache_misses_total", "Misses counted per individual IO as bcache sees them."),
    ("cache_bypass_hits", "node_bcache_cache_bypass_hits_total", "Hits for IO intended to skip the cache."),
    ("cache_bypass_misses", "node_bcache_cache_bypass_misses_total", "Misses for IO intended to skip the cache."),
    ("cache_miss_collisions", "node_bcache_cache_miss_collisions_total", "Instances where data insertion from cache miss raced with write (data already present)."),
];

struct Bcache {
    paths: Arc<HostPaths>,
    priority_stats: bool,
}

impl Bcache {
    fn set(&self, dir: &Path, uuid: &str, out: &mut Snapshot) -> Result<(), Error> {
        let id = [("uuid", uuid)];
        for (file, name, help) in SET {
            out.gauge(*name, *help, &id, value(&dir.join(file))? as f64);
        }
        let read_ns = value(&dir.join("internal/btree_read_average_duration_us"))?;
        // node_exporter scales this microsecond file by 1e-9; kept for equal values.
        out.gauge("node_bcache_btree_read_average_duration_seconds", "Average btree read duration.", &id, read_ns as f64 * 1e-9);
        let races = value(&dir.join("internal/cache_read_races"))?;
        out.counter(
            "node_bcache_cache_read_races_total",
            "Counts instances where while data was being read from the cache, the bucket was reused and invalidated - i.e. where the pointer was stale after the read completed.",
            &id,
            races as f64,
        );

        let names = list_dir(dir)?;
        for bdev in members(&names, "bdev") {
            let bdir = dir.join(bdev);
            let labels = [("uuid", uuid), ("backing_device", bdev.as_str())];
            let dirty = value(&bdir.join("dirty_data"))?;
            let rate_path = bdir.join("writeback_rate_debug");
            let rate = parse_writeback_rate(&read_to_string(&rate_path)?).map_err(|e| Error::parse(&rate_path, e))?;
            out.gauge("node_bcache_dirty_data_bytes", "Amount of dirty data for this backing device in the cache.", &labels, dirty as f64);
            out.gauge("node_bcache_dirty_target_bytes", "Current dirty data target threshold for this backing device in bytes.", &labels, rate.target as f64);
            out.gauge("node_bcache_writeback_rate", "Current writeback rate for this backing device in bytes.", &labels, rate.rate as f64);
            out.gauge("node_bcache_writeback_rate_proportional_term", "Current result of proportional controller, part of writeback rate", &labels, rate.proportional as f64);
            out.gauge("node_bcache_writeback_rate_integral_term", "Current result of integral controller, part of writeback rate", &labels, rate.integral as f64);
            out.gauge("node_bcache_writeback_change", "Last writeback rate change step for this backing device.", &labels, rate.change as f64);
            let total = bdir.join("stats_total");
            for (file, name, help) in PERIOD {
                out.counter(*name, *help, &labels, value(&total.join(file))? as f64);
            }
            // Reported only when non-zero, as node_exporter does.
            let readaheads = value(&total.join("cache_readaheads"))?;
            if readaheads != 0 {
                out.counter("node_bcache_cache_readaheads_total", "Count of times readahead occurred.", &labels, readaheads as f64);
            }
        }
        for cache in members(&names, "cache") {
            let cdir = dir.join(cache);
            let labels = [("uuid", uuid), ("cache_device", cache.as_str())];
            out.gauge("node_bcache_io_errors", "Number of errors that have occurred, decayed by io_error_halflife.", &labels, value(&cdir.join("io_errors"))? as f64);
            out.counter(
                "node_bcache_metadata_written_bytes_total",
                "Sum of all non data writes (btree writes and all other metadata).",
                &labels,
                value(&cdir.join("metadata_written"))? as f64,
            );
            out.counter("node_bcache_written_bytes_total", "Sum of all data that has been written to the cache.", &labels, value(&cdir.join("written"))? as f64);
            if self.priority_stats {
                let path = cdir.join("priority_stats");
                let p = parse_priority(&read_to_string(&path)?).map_err(|e| Error::parse(&path, e))?;
                out.gauge("node_bcache_priority_stats_unused_percent", "The percentage of the cache that doesn't contain any data.", &labels, p.unused_percent as f64);
                out.gauge("node_bcache_priority_stats_metadata_percent", "Bcache's metadata overhead.", &labels, p.metadata_percent as f64);
            }
        }
        Ok(())
    }
}

impl HostCollector for Bcache {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.sys("fs/bcache");
        let sets = match list_dir(&base) {
            Ok(s) => s,
            Err(e) if e.is_not_found() => return Err(Error::NoData("no /sys/fs/bcache: bcache module not loaded".into())),
            Err(e) => return Err(e),
        };
        // Cache sets are named by their UUID; the directory also holds
        // `register` and `register_quiet`.
        for uuid in sets.iter().filter(|n| n.contains('-')) {
            self.set(&base.join(uuid), uuid, out)?;
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Bcache { paths: cx.paths.clone(), priority_stats: o.bcache_priority_stats })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dehumanize_undoes_bch_hprint_like_node_exporter() {
        assert_eq!(dehumanize("1305"), Ok(1305));
        assert_eq!(dehumanize("1.1M"), Ok(1_150_976));
        assert_eq!(dehumanize("20.4G"), Ok(21_894_266_880));
        assert_eq!(dehumanize("790.0k"), Ok(808_960));
        assert_eq!(dehumanize_signed("427.5k"), Ok(437_748));
        assert_eq!(dehumanize_signed("-321.5k"), Ok(-329_204));
    }

    #[test]
    fn dehumanize_refuses_garbage() {
        for bad in ["", "k", "1.2.3M", "1x", "abc", "-1", "1e400", "nan", "1.M", ".5k", "99999999999999999999Y"] {
            assert!(dehumanize(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writeback_rate_debug_of_the_fixture() {
        let text = "rate:           1.1M/sec\ndirty:          20.4G\ntarget:         20.4G\nproportional:   427.5k\nintegral:       790.0k\nchange:         321.5k/sec\nnext io:        17ms\n";
        let w = parse_writeback_rate(text).unwrap();
        assert_eq!(w, WritebackRate { rate: 1_150_976, target: 21_894_266_880, proportional: 437_748, integral: 808_960, change: 329_204 });
        assert_eq!(parse_writeback_rate("").unwrap(), WritebackRate::default());
        let e = parse_writeback_rate("rate: 1.1M/sec\ntarget: lots\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("lots"), "{e}");
        assert!(parse_writeback_rate("rate:").is_err());
    }

    #[test]
    fn priority_stats_of_the_fixture() {
        let text = "Unused:\t\t99%\nMetadata:\t0%\nAverage:\t10473\nSectors per Q:\t64\nQuantiles:\t[0 0 20946]\n";
        assert_eq!(parse_priority(text).unwrap(), Priority { unused_percent: 99, metadata_percent: 0 });
        assert!(parse_priority("Unused: many%\n").unwrap_err().contains("line 1"));
        assert!(parse_priority("Unused: 99999999999999999999999%\n").is_err());
        assert!(parse_priority("Metadata:").is_err());
    }

    #[test]
    fn only_numbered_members_are_devices() {
        let names: Vec<String> = ["bdev0", "bdev1", "bdev_x", "cache0", "cache_available_percent", "stats_total"].iter().map(|s| s.to_string()).collect();
        assert_eq!(members(&names, "bdev").collect::<Vec<_>>(), ["bdev0", "bdev1"]);
        assert_eq!(members(&names, "cache").collect::<Vec<_>>(), ["cache0"]);
    }

    #[test]
    fn missing_bcache_is_no_data() {
        let paths = Arc::new(HostPaths { sysfs: "/nonexistent-sysfs".into(), ..HostPaths::default() });
        let c = Bcache { paths, priority_stats: false };
        let scrape = Scrape { deadline: std::time::Instant::now() };
        assert!(matches!(c.gather(&scrape, &mut Snapshot::new()), Err(Error::NoData(_))));
    }
}
