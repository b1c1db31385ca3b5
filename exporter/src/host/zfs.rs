//! The `zfs` collector: OpenZFS kernel statistics from the kstat files
//! under `/proc/spl/kstat/zfs`.
//!
//! - Module-wide files (`arcstats`, `abdstats`, `zil`, ...): every 64-bit
//!   integer row becomes `node_zfs_<subsystem>_<stat>` (untyped), the
//!   subsystem named by [`SUBSYSTEMS`].
//! - Per pool, `<pool>/io`: the columns of its one value line become
//!   `node_zfs_zpool_<column>{zpool}`.
//! - Per dataset, `<pool>/objset-*`: the unsigned rows become
//!   `node_zfs_zpool_dataset_<stat>{zpool,dataset}`.
//! - Per pool, `<pool>/state`: `node_zfs_zpool_state{zpool,state}`, one
//!   series per state name, 1 for the pool's current state.
//!
//! Names are derived from the files, as node_exporter derives them (a `-`
//! in a stat name becomes `_`), and the help text is the kstat's dotted
//! name (`kstat.zfs.misc.arcstats.hits`), so a new OpenZFS release's stats
//! appear without a change here.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{read_into, BuildError, Collector, Context, Error, HostCollector, HostPaths, Scrape};
use crate::host::util::{is_name_part, static_name, Memo};
use crate::metrics::{Kind, Name, Snapshot};

/// The module-wide kstat files read, each with the subsystem its metric
/// names carry (`node_zfs_<subsystem>_<stat>`).
pub const SUBSYSTEMS: [(&str, &str); 11] = [
    ("abdstats", "abd"),
    ("arcstats", "arc"),
    ("dbufstats", "dbuf"),
    ("dmu_tx", "dmu_tx"),
    ("dnodestats", "dnode"),
    ("fm", "fm"),
    ("vdev_cache_stats", "vdev_cache"),
    ("vdev_mirror_stats", "vdev_mirror"),
    ("xuio_stats", "xuio"),
    ("zfetchstats", "zfetch"),
    ("zil", "zil"),
];

/// Pool states, in the order node_exporter reports them.
pub const POOL_STATES: [&str; 7] = ["online", "degraded", "faulted", "offline", "removed", "unavail", "suspended"];

/// kstat data type of a signed 64-bit row (`KSTAT_DATA_INT64`).
const KSTAT_INT64: &str = "3";
/// kstat data type of an unsigned 64-bit row (`KSTAT_DATA_UINT64`).
const KSTAT_UINT64: &str = "4";

/// Calls `f(line number, name, type, data)` for every row of a named kstat
/// file: the lines after its `name type data` header that have at least
/// three fields. `data` is the rest of the line from the third field on.
/// A file without the header is an error.
fn visit_rows<'a>(text: &'a str, mut f: impl FnMut(usize, &'a str, &'a str, &'a str) -> Result<(), String>) -> Result<(), String> {
    let mut in_table = false;
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_ascii_whitespace();
        let (Some(name), Some(kind), Some(first)) = (fields.next(), fields.next(), fields.next()) else { continue };
        if !in_table {
            in_table = (name, kind, first) == ("name", "type", "data") && fields.next().is_none();
            continue;
        }
        f(n + 1, name, kind, after_two_words(line))?;
    }
    if in_table {
        Ok(())
    } else {
        Err("no \"name type data\" header".into())
    }
}

/// `line` from its third whitespace-separated word on.
fn after_two_words(line: &str) -> &str {
    let mut rest = line;
    for _ in 0..2 {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        rest = rest.trim_start_matches(|c: char| !c.is_ascii_whitespace());
    }
    rest.trim_start_matches(|c: char| c.is_ascii_whitespace())
}

/// The first whitespace-separated word of a row's data.
fn first_word(data: &str) -> &str {
    data.split_ascii_whitespace().next().unwrap_or("")
}

/// Calls `f(stat, value)` for each signed or unsigned 64-bit row of a
/// module-wide kstat file (`arcstats` and the like); rows of other types
/// (strings, 32-bit) are skipped, as node_exporter skips them.
pub fn visit_kstat<'a>(text: &'a str, mut f: impl FnMut(&'a str, f64) -> Result<(), String>) -> Result<(), String> {
    visit_rows(text, |n, name, kind, data| {
        let word = first_word(data);
        let value = match kind {
            KSTAT_UINT64 => word.parse::<u64>().map(|v| v as f64).map_err(|_| format!("line {n}: {name}: not an unsigned integer: {word:?}"))?,
            KSTAT_INT64 => word.parse::<i64>().map(|v| v as f64).map_err(|_| format!("line {n}: {name}: not an integer: {word:?}"))?,
            _ => return Ok(()),
        };
        f(name, value).map_err(|e| format!("line {n}: {e}"))
    })
}

/// One dataset's counters from a pool's `objset-*` file.
#[derive(Debug, Default, PartialEq)]
pub struct Objset<'a> {
    /// The `dataset_name` row: the dataset's full name, spaces kept.
    pub dataset: &'a str,
    /// The unsigned 64-bit rows, in file order.
    pub stats: Vec<(&'a str, u64)>,
}

/// Parses a pool's `objset-*` kstat file.
pub fn parse_objset(text: &str) -> Result<Objset<'_>, String> {
    let mut objset = Objset::default();
    visit_rows(text, |n, name, kind, data| {
        if name == "dataset_name" {
            objset.dataset = data.trim_end_matches('\r');
        } else if kind == KSTAT_UINT64 {
            let word = first_word(data);
            let v = word.parse::<u64>().map_err(|_| format!("line {n}: {name}: not an unsigned integer: {word:?}"))?;
            objset.stats.push((name, v));
        }
        Ok(())
    })?;
    Ok(objset)
}

/// Parses a pool's `io` kstat file: a header line of column names starting
/// with `nread` (at least twelve of them), then one line of as many values.
/// A file without that header has nothing to report.
pub fn parse_pool_io(text: &str) -> Result<Vec<(&str, u64)>, String> {
    let mut lines = text.lines().enumerate();
    let Some((header_at, header)) = lines.find(|(_, l)| {
        let mut words = l.split_ascii_whitespace();
        words.next() == Some("nread") && words.count() >= 11
    }) else {
        return Ok(Vec::new());
    };
    let mut rows = lines.filter(|(_, l)| !l.trim_ascii().is_empty());
    let Some((n, values)) = rows.next() else {
        return Err(format!("line {}: column names without a value line", header_at + 1));
    };
    if let Some((extra, _)) = rows.next() {
        return Err(format!("line {}: more than one value line", extra + 1));
    }
    let mut values = values.split_ascii_whitespace();
    header
        .split_ascii_whitespace()
        .map(|column| {
            let v = values.next().ok_or_else(|| format!("line {}: no value for column {column:?}", n + 1))?;
            let v = v.parse::<u64>().map_err(|_| format!("line {}: {column}: not an unsigned integer: {v:?}", n + 1))?;
            Ok((column, v))
        })
        .collect()
}

/// The pool state named on the first line of a pool's `state` file,
/// lowercased (`ONLINE` → `online`); empty for an empty file.
pub fn parse_pool_state(text: &str) -> String {
    text.lines().next().unwrap_or("").to_lowercase()
}

/// The metric-name part node_exporter makes of a stat name: its last
/// dot-separated piece, `-` turned into `_`; `None` when the result cannot
/// be part of a metric name.
fn name_part(stat: &str) -> Option<String> {
    let last = stat.rsplit('.').next().unwrap_or(stat).replace('-', "_");
    is_name_part(&last).then_some(last)
}

/// A metric name and help, or `None` for a stat that cannot be named.
type Named = Option<(Name, Name)>;

/// Names `node_<subsystem>_<stat>` with help `kstat.zfs.misc.<file>.<stat>`.
fn make_name(subsystem: &str, file: &str, stat: &str) -> Named {
    let part = name_part(stat)?;
    Some((static_name(format!("node_{subsystem}_{part}")), static_name(format!("kstat.zfs.misc.{file}.{stat}"))))
}

/// One pool directory: its name and the objset files in it.
struct Pool {
    name: String,
    objsets: Vec<String>,
}

struct Zfs {
    paths: Arc<HostPaths>,
    /// Per entry of [`SUBSYSTEMS`], its stats' names, made once.
    subsystem_names: Vec<Memo<Named>>,
    /// Names of the `io` columns.
    io_names: Memo<Named>,
    /// Names of the `objset-*` stats.
    objset_names: Memo<Named>,
}

/// Reads `path` into `buf` as text; `None` when the file has gone (a pool
/// exported, a stat dropped, between listing and reading).
fn read_text<'b>(path: &Path, buf: &'b mut Vec<u8>) -> Result<Option<&'b str>, Error> {
    match read_into(path, buf) {
        Ok(()) => std::str::from_utf8(buf).map(Some).map_err(|_| Error::parse(path, "not UTF-8")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// `name`'s metric name and help, or a parse error on `path`.
fn named(memo: &Memo<Named>, stat: &str, make: impl FnOnce(&str) -> Named) -> Result<(Name, Name), String> {
    memo.get(stat, make).ok_or_else(|| format!("stat {stat:?} cannot be made a metric name"))
}

impl Zfs {
    /// Lists the kstat directory: the module-wide files present and the
    /// pool directories with their objset files.
    fn list(&self, base: &Path) -> Result<(Vec<String>, Vec<Pool>), Error> {
        let entries = match std::fs::read_dir(base) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoData(format!("{} does not exist: the zfs module is not loaded", base.display())));
            }
            Err(e) => return Err(Error::io(base, e)),
        };
        let mut files = Vec::new();
        let mut pools = Vec::new();
        for entry in entries.filter_map(Result::ok) {
            let Ok(name) = entry.file_name().into_string() else { continue };
            let is_dir = match entry.file_type() {
                Ok(t) if t.is_symlink() => entry.path().is_dir(),
                Ok(t) => t.is_dir(),
                Err(_) => false,
            };
            if !is_dir {
                if SUBSYSTEMS.iter().any(|(file, _)| *file == name) {
                    files.push(name);
                }
                continue;
            }
            // A pool exported since the listing has no directory any more.
            let Ok(inner) = std::fs::read_dir(entry.path()) else { continue };
            let mut objsets: Vec<String> = inner
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with("objset-"))
                .collect();
            objsets.sort();
            pools.push(Pool { name, objsets });
        }
        pools.sort_by(|a, b| a.name.cmp(&b.name));
        Ok((files, pools))
    }
}

impl HostCollector for Zfs {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        let base = self.paths.proc("spl/kstat/zfs");
        let (files, pools) = self.list(&base)?;
        let mut buf = Vec::new();

        for (i, (file, subsystem)) in SUBSYSTEMS.iter().enumerate() {
            let Some(memo) = self.subsystem_names.get(i) else { continue };
            if !files.iter().any(|f| f == file) {
                continue;
            }
            let path = base.join(file);
            let Some(text) = read_text(&path, &mut buf)? else { continue };
            visit_kstat(text, |stat, v| {
                let (name, help) = named(memo, stat, |s| make_name(&format!("zfs_{subsystem}"), file, s))?;
                out.family(name, help, Kind::Untyped).add(&[], v);
                Ok(())
            })
            .map_err(|d| Error::parse(&path, d))?;
        }

        for pool in &pools {
            let path = base.join(&pool.name).join("io");
            let Some(text) = read_text(&path, &mut buf)? else { continue };
            for (column, v) in parse_pool_io(text).map_err(|d| Error::parse(&path, d))? {
                let (name, help) = named(&self.io_names, column, |s| make_name("zfs_zpool", "io", s)).map_err(|d| Error::parse(&path, d))?;
                out.family(name, help, Kind::Untyped).add(&[("zpool", &pool.name)], v as f64);
            }
        }

        for pool in &pools {
            for objset in &pool.objsets {
                let path = base.join(&pool.name).join(objset);
                let Some(text) = read_text(&path, &mut buf)? else { continue };
                let parsed = parse_objset(text).map_err(|d| Error::parse(&path, d))?;
                for (stat, v) in parsed.stats {
                    let (name, help) = named(&self.objset_names, stat, |s| make_name("zfs_zpool_dataset", "objset", s)).map_err(|d| Error::parse(&path, d))?;
                    out.family(name, help, Kind::Untyped).add(&[("dataset", parsed.dataset), ("zpool", &pool.name)], v as f64);
                }
            }
        }

        for pool in &pools {
            let path = base.join(&pool.name).join("state");
            let Some(text) = read_text(&path, &mut buf)? else { continue };
            let current = parse_pool_state(text);
            let family = out.family("node_zfs_zpool_state", "kstat.zfs.misc.state", Kind::Gauge);
            for state in POOL_STATES {
                family.add(&[("state", state), ("zpool", &pool.name)], if current == state { 1.0 } else { 0.0 });
            }
        }
        Ok(())
    }
}

/// Builds the collector.
pub fn build(cx: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Zfs {
        paths: cx.paths.clone(),
        subsystem_names: SUBSYSTEMS.iter().map(|_| Memo::default()).collect(),
        io_names: Memo::default(),
        objset_names: Memo::default(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABDSTATS: &str = "7 1 0x01 21 5712 73163810083184 309946154984654\nname                            type data\nstruct_size                     4    2520\nlinear_cnt                      4    62\n";
    const FM: &str = "0 1 0x01 4 192 8007255140 354329591145385\nname                            type data\nerpt-dropped                    4    18\nerpt-set-failed                 4    0\n";
    const IO: &str = "12 3 0x00 1 80 79205351707403 395818011156865\nnread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  wcnt     rcnt    \n1884160  3206144  22       132      7155162  104112268 79210489694949 24168078 104112268 79210489849220 0        0       \n";
    const OBJSET: &str = "24 1 0x01 7 2160 221611904716 7145015038451\nname                            type data\ndataset_name                    7    pool3/dataset with  space\nwrites                          4    4\nnwritten                        4    12302\nreads                           4    2\n";

    fn collect(text: &str) -> Result<Vec<(String, f64)>, String> {
        let mut v = Vec::new();
        visit_kstat(text, |s, x| {
            v.push((s.to_owned(), x));
            Ok(())
        })?;
        Ok(v)
    }

    #[test]
    fn reads_64_bit_rows_after_the_header() {
        assert_eq!(collect(ABDSTATS).unwrap(), vec![("struct_size".into(), 2520.0), ("linear_cnt".into(), 62.0)]);
        assert_eq!(collect(FM).unwrap()[0], ("erpt-dropped".into(), 18.0));
        // Signed rows are read, other types skipped.
        let v = collect("1 1 0x01\nname type data\narc_loaned_bytes 3 -4\nhostid 2 7\nname_str 7 abc\n").unwrap();
        assert_eq!(v, vec![("arc_loaned_bytes".into(), -4.0)]);
    }

    #[test]
    fn refuses_bad_kstat_files() {
        assert!(collect("").unwrap_err().contains("header"));
        assert!(collect("7 1 0x01 21\nstruct_size 4 2520\n").is_err());
        let e = collect("1\nname type data\nhits 4 12x\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("hits"), "{e}");
        assert!(collect("1\nname type data\nhits 4 18446744073709551616\n").is_err());
        assert!(collect("1\nname type data\nhits 3 -9223372036854775809\n").is_err());
        // Truncated rows are passed over.
        assert_eq!(collect("1\nname type data\nhits 4\nmisses\n").unwrap(), vec![]);
    }

    #[test]
    fn names_stats_as_node_exporter_does() {
        let (name, help) = make_name("zfs_fm", "fm", "erpt-dropped").unwrap();
        assert_eq!((name.as_ref(), help.as_ref()), ("node_zfs_fm_erpt_dropped", "kstat.zfs.misc.fm.erpt-dropped"));
        assert_eq!(make_name("zfs_arc", "arcstats", "a.b").unwrap().0, "node_zfs_arc_b");
        assert!(make_name("zfs_arc", "arcstats", "bad{name}").is_none());
        assert!(make_name("zfs_arc", "arcstats", "x.").is_none());
    }

    #[test]
    fn parses_pool_io() {
        let v = parse_pool_io(IO).unwrap();
        assert_eq!(v.len(), 12);
        assert_eq!(v[0], ("nread", 1884160));
        assert_eq!(v[6], ("wupdate", 79210489694949));
        assert_eq!(v[11], ("rcnt", 0));
        assert_eq!(parse_pool_io("").unwrap(), vec![]);
        assert_eq!(parse_pool_io("nread nwritten\n1 2\n").unwrap(), vec![]);
    }

    #[test]
    fn refuses_bad_pool_io() {
        let header = "nread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n";
        assert!(parse_pool_io(header).unwrap_err().contains("without a value line"));
        let e = parse_pool_io(&format!("{header}1 2 3\n")).unwrap_err();
        assert!(e.contains("line 2") && e.contains("writes"), "{e}");
        assert!(parse_pool_io(&format!("{header}1 2 3 4 5 6 7 8 9 10 11 x\n")).unwrap_err().contains("rcnt"));
        let line = "1 2 3 4 5 6 7 8 9 10 11 12\n";
        assert!(parse_pool_io(&format!("{header}{line}{line}")).unwrap_err().contains("more than one"));
    }

    #[test]
    fn parses_objset_with_spaces_in_the_dataset_name() {
        let o = parse_objset(OBJSET).unwrap();
        assert_eq!(o.dataset, "pool3/dataset with  space");
        assert_eq!(o.stats, vec![("writes", 4), ("nwritten", 12302), ("reads", 2)]);
        assert!(parse_objset("dataset_name 7 x\n").is_err());
        assert!(parse_objset("1\nname type data\nreads 4 -1\n").unwrap_err().contains("reads"));
    }

    #[test]
    fn reads_pool_state() {
        assert_eq!(parse_pool_state("DEGRADED\n"), "degraded");
        assert_eq!(parse_pool_state(""), "");
    }

    #[test]
    fn no_kstat_directory_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Arc::new(HostPaths { procfs: dir.path().into(), ..HostPaths::default() });
        let Some(Collector::Host(c)) = build(&Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        let scrape = Scrape { deadline: std::time::Instant::now() };
        let err = c.gather(&scrape, &mut Snapshot::new()).unwrap_err();
        assert!(matches!(&err, Error::NoData(m) if m.contains("zfs module is not loaded")), "{err}");
    }

    #[test]
    fn gathers_a_pool_tree_and_fails_on_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let zfs = dir.path().join("spl/kstat/zfs");
        std::fs::create_dir_all(zfs.join("tank")).unwrap();
        std::fs::write(zfs.join("fm"), FM).unwrap();
        std::fs::write(zfs.join("vdev_raidz_bench"), "not a kstat\n").unwrap();
        std::fs::write(zfs.join("tank/io"), IO).unwrap();
        std::fs::write(zfs.join("tank/objset-0x36"), OBJSET).unwrap();
        std::fs::write(zfs.join("tank/state"), "ONLINE\n").unwrap();
        let paths = Arc::new(HostPaths { procfs: dir.path().into(), ..HostPaths::default() });
        let Some(Collector::Host(c)) = build(&Context::new(&paths)).unwrap() else { panic!("not a host collector") };
        let scrape = Scrape { deadline: std::time::Instant::now() };
        let mut out = Snapshot::new();
        c.gather(&scrape, &mut out).unwrap();
        let find = |n: &str| out.families.iter().find(|f| f.name == n).unwrap();
        assert_eq!(find("node_zfs_fm_erpt_dropped").samples[0].value, 18.0);
        assert_eq!(find("node_zfs_zpool_nread").samples[0].labels[0].1, "tank");
        assert_eq!(find("node_zfs_zpool_dataset_nwritten").samples[0].labels[0].1, "pool3/dataset with  space");
        let state = find("node_zfs_zpool_state");
        assert_eq!(state.samples.len(), 7);
        assert_eq!(state.samples.iter().filter(|s| s.value == 1.0).count(), 1);
        assert_eq!(state.samples[0].value, 1.0);
        assert_eq!(out.sample_count(), 2 + 12 + 3 + 7);

        std::fs::write(zfs.join("tank/io"), "nread nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n1 2\n").unwrap();
        let err = c.gather(&scrape, &mut Snapshot::new()).unwrap_err().to_string();
        assert!(err.contains("tank/io") && err.contains("line 2"), "{err}");
    }
}
