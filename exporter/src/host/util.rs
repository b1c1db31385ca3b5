//! Small helpers shared by the host collectors: include/exclude filters and
//! sysfs attribute reads.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use regex_lite::Regex;

use crate::collector::{read_into, BuildError, Error};
use crate::metrics::Name;

/// Answers computed once per key and remembered: what a collector makes
/// of a kernel's field name (whether the user's pattern selects it, its
/// metric name and help) is the same on every scrape.
///
/// The map stops growing at [`Memo::LIMIT`] keys, so garbled or hostile
/// files cannot make it grow without end; keys beyond it are answered by
/// calling `make` every time.
#[derive(Debug)]
pub struct Memo<V> {
    seen: Mutex<HashMap<Box<str>, V, BuildHasherDefault<Fnv1a>>>,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Self { seen: Mutex::new(HashMap::default()) }
    }
}

/// FNV-1a, the hash of [`Memo`]'s map. Its keys are kernel field and
/// device names, a few hundred looked up per scrape; SipHash (the std
/// default, which resists keys chosen to collide) cost more than the rest
/// of the lookup, and the map's size is capped, so colliding keys could
/// slow a lookup but not grow the map.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl<V: Clone> Memo<V> {
    /// Most keys remembered.
    pub const LIMIT: usize = 4096;

    /// The remembered answer for `key`, or `make(key)`, remembered.
    pub fn get(&self, key: &str, make: impl FnOnce(&str) -> V) -> V {
        let Ok(mut seen) = self.seen.lock() else { return make(key) };
        if let Some(v) = seen.get(key) {
            return v.clone();
        }
        let v = make(key);
        if seen.len() < Self::LIMIT {
            seen.insert(key.into(), v.clone());
        }
        v
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Whether nothing is remembered yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bytes of names given the process's lifetime by [`static_name`] so far.
static STATIC_BYTES: AtomicUsize = AtomicUsize::new(0);
/// At most this many bytes of names are made static; later ones stay owned.
pub const STATIC_LIMIT: usize = 256 * 1024;

/// A metric name or help text made from a kernel's field name, given the
/// process's lifetime so that every later sample borrows it.
///
/// Collectors remember these in a [`Memo`] keyed by the field name; a
/// scrape then allocates nothing for names. The set of field names a
/// kernel has is fixed (some 400 in netstat, vmstat and meminfo together),
/// and the total is capped at [`STATIC_LIMIT`] bytes for the process: past
/// it (collectors rebuilt many times, say, in tests) names stay owned
/// Strings, as they were before, and nothing more is kept.
pub fn static_name(s: String) -> Name {
    let len = s.len();
    if STATIC_BYTES.fetch_add(len, Ordering::Relaxed) + len <= STATIC_LIMIT {
        Cow::Borrowed(Box::leak(s.into_boxed_str()))
    } else {
        STATIC_BYTES.fetch_sub(len, Ordering::Relaxed);
        Cow::Owned(s)
    }
}

/// A field-name pattern that remembers its answers.
///
/// netstat and vmstat match every field name of their files (some 400 on a
/// current kernel) against a user's pattern on every scrape; regex-lite
/// takes about a microsecond a name, which made these the two slowest host
/// collectors. The names are the kernel's and the same from one scrape to
/// the next, so each is matched once (see [`Memo`]).
#[derive(Debug)]
pub struct CachedRegex {
    re: Regex,
    seen: Memo<bool>,
}

impl CachedRegex {
    /// Most names remembered.
    pub const LIMIT: usize = Memo::<bool>::LIMIT;

    /// Wraps a compiled pattern.
    pub fn new(re: Regex) -> Self {
        Self { re, seen: Memo::default() }
    }

    /// Whether the pattern matches `name` anywhere (unanchored).
    pub fn is_match(&self, name: &str) -> bool {
        self.seen.get(name, |n| self.re.is_match(n))
    }
}

/// node_exporter's device filter: a name passes when it matches the include
/// pattern (if any) and does not match the exclude pattern (if any). Like
/// node_exporter's, the patterns are not anchored: write `^eth0$` to mean
/// exactly `eth0`.
///
/// The answers are remembered per name ([`CachedRegex`]): the devices a
/// machine has are the same from one scrape to the next.
#[derive(Debug, Default)]
pub struct Filter {
    include: Option<CachedRegex>,
    exclude: Option<CachedRegex>,
}

impl Filter {
    /// Builds a filter; `flag` names the flags in the error.
    pub fn new(
        collector: &'static str,
        include: Option<&str>,
        exclude: Option<&str>,
    ) -> Result<Self, BuildError> {
        let compile = |pattern: &str| {
            Regex::new(pattern).map(CachedRegex::new).map_err(|e| BuildError {
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

thread_local! {
    /// The buffer sysfs attributes are read into, one per worker thread.
    static ATTR_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Reads a small file into this thread's buffer and passes its text,
/// trailing newlines, spaces and NULs trimmed, to `f`.
///
/// A sysfs attribute is a few bytes, but `std::fs::read_to_string` sizes
/// its buffer by the 4096 bytes sysfs reports for every attribute and asks
/// `statx` for that first; netclass alone reads some 20 attributes per
/// interface. Here the reading reuses one buffer and the caller keeps only
/// what it parses.
pub fn with_attr<R>(path: &Path, f: impl FnOnce(&str) -> R) -> Result<R, Error> {
    match with_file(path, |bytes| attr_text(bytes).map(f)) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(Error::parse(path, "not UTF-8")),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Like [`with_attr`] for attributes that may be absent or unreadable
/// (a driver without `speed`, `carrier` of a down link): `None` then,
/// without building an error nobody reads.
pub fn attr_opt<R>(path: &Path, f: impl FnOnce(&str) -> Option<R>) -> Option<R> {
    with_file(path, |bytes| attr_text(bytes).and_then(f)).ok().flatten()
}

/// Reads `path` into this thread's buffer and passes the bytes to `f`.
fn with_file<R>(path: &Path, f: impl FnOnce(&[u8]) -> R) -> std::io::Result<R> {
    ATTR_BUF.with(|cell| {
        let Ok(mut buf) = cell.try_borrow_mut() else {
            // Re-entered from `f`: read into a buffer of its own.
            let mut own = Vec::new();
            read_into(path, &mut own)?;
            return Ok(f(&own));
        };
        let read = read_into(path, &mut buf);
        let result = read.map(|()| f(&buf));
        if buf.capacity() > 64 * 1024 {
            // One odd large file must not pin its size to the thread.
            *buf = Vec::new();
        }
        result
    })
}

fn attr_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok().map(|s| s.trim_end_matches(['\n', ' ', '\0']))
}

/// Reads a sysfs attribute and trims the trailing newline.
pub fn read_attr(path: &Path) -> Result<String, Error> {
    with_attr(path, str::to_owned)
}

/// Reads a sysfs attribute holding one unsigned integer.
pub fn read_u64(path: &Path) -> Result<u64, Error> {
    with_attr(path, |s| s.trim().parse().map_err(|_| Error::parse(path, format!("not an unsigned integer: {s:?}"))))?
}

/// Reads a sysfs attribute holding one signed integer.
pub fn read_i64(path: &Path) -> Result<i64, Error> {
    with_attr(path, |s| s.trim().parse().map_err(|_| Error::parse(path, format!("not an integer: {s:?}"))))?
}

/// Parses an integer the way Go's `strconv.ParseInt(s, 0, 64)` and
/// `ParseUint(s, 0, 64)` do, which is how node_exporter reads many kernel
/// values: an optional sign, then `0x` hexadecimal, `0o` or a leading `0`
/// octal, `0b` binary, decimal otherwise; underscores between digits only
/// after a prefix. The value is returned wide; callers narrow it.
fn parse_go_integer(s: &str) -> Option<(bool, i128)> {
    let (signed, negative, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, true, rest),
        None => match s.strip_prefix('+') {
            Some(rest) => (true, false, rest),
            None => (false, false, s),
        },
    };
    let prefix = digits.get(..2).map(str::to_ascii_lowercase);
    let (radix, body, prefixed) = match prefix.as_deref() {
        Some("0x") => (16, digits.get(2..)?, true),
        Some("0o") => (8, digits.get(2..)?, true),
        Some("0b") => (2, digits.get(2..)?, true),
        _ if digits.len() > 1 && digits.starts_with('0') => (8, digits.get(1..)?, true),
        _ => (10, digits, false),
    };
    let clean: String;
    let body = if prefixed && body.contains('_') {
        if body.starts_with('_') || body.ends_with('_') || body.contains("__") {
            return None;
        }
        clean = body.replace('_', "");
        clean.as_str()
    } else {
        body
    };
    if body.is_empty() || body.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    Some((signed, if negative { -magnitude } else { magnitude }))
}

/// A signed integer as Go's `strconv.ParseInt(s, 0, 64)` reads it.
pub fn parse_go_int(s: &str) -> Option<i64> {
    parse_go_integer(s).and_then(|(_, v)| i64::try_from(v).ok())
}

/// An unsigned integer as Go's `strconv.ParseUint(s, 0, 64)` reads it (no
/// sign allowed).
pub fn parse_go_uint(s: &str) -> Option<u64> {
    parse_go_integer(s).filter(|(signed, _)| !signed).and_then(|(_, v)| u64::try_from(v).ok())
}

/// Lists the entry names of a directory, sorted, skipping dot-files.
///
/// With rustix: one `open` and the `getdents64` calls, where `read_dir`
/// in the static (musl) build adds an `fcntl` to the `open`.
pub fn list_dir(path: &Path) -> Result<Vec<String>, Error> {
    use rustix::fs::{Mode, OFlags};
    let io = |e: rustix::io::Errno| Error::io(path, std::io::Error::from(e));
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).map_err(io)?;
    let mut dir = rustix::fs::Dir::new(fd).map_err(io)?;
    let mut names = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry.map_err(io)?;
        if let Ok(name) = entry.file_name().to_str() {
            if !name.starts_with('.') {
                names.push(name.to_owned());
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Writes `text` to `rel` below `root`, making its directories: the
/// collectors' tests build their sysfs and procfs trees with it.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub fn write_tree_file(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
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
        assert_eq!(c.seen.len(), CachedRegex::LIMIT);
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
