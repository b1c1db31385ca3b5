//! The `textfile` collector: metrics that scripts write as `*.prom` files
//! (backup jobs, restore drills, SMART checks) into
//! `--collector.textfile.directory`. Files are parsed as Prometheus text;
//! a file that can't be used sets `node_textfile_scrape_error` to 1 and is
//! skipped, never failing the scrape.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::collector::{BuildError, Collector, Context, Error, HostCollector, Scrape};
use crate::metrics::{Family, Kind, Labels, Sample, Snapshot};

/// Flags of the `textfile` collector.
#[derive(Debug, Clone, Default, clap::Args)]
#[group(skip)]
pub struct Options {
    /// Directories to read text files with metrics from (repeatable or
    /// comma-separated; the last path element may hold `*` wildcards).
    #[arg(long = "collector.textfile.directory", value_delimiter = ',')]
    pub textfile_directory: Vec<String>,
}

/// Files larger than this are refused: a runaway script must not take the
/// exporter's memory with it.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A family whose samples use more label names than this, all files
/// together, is refused: every sample gets every name (missing ones padded
/// empty), so the series would grow as samples times names.
const MAX_LABEL_NAMES: usize = 64;

/// One sample of a text file: name suffix, labels, value.
pub type TextSample = (&'static str, Vec<(String, String)>, f64);

/// One parsed family of a text file.
#[derive(Debug, Clone, PartialEq)]
pub struct TextFamily {
    /// Family name.
    pub name: String,
    /// `# HELP` text, if any.
    pub help: Option<String>,
    /// `# TYPE`, untyped when absent.
    pub kind: Kind,
    /// (suffix, labels, value).
    pub samples: Vec<TextSample>,
}

fn parse_kind(word: &str) -> Option<Kind> {
    Some(match word {
        "counter" => Kind::Counter,
        "gauge" => Kind::Gauge,
        "untyped" | "unknown" => Kind::Untyped,
        "summary" => Kind::Summary,
        "histogram" => Kind::Histogram,
        _ => return None,
    })
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A sample line: name, labels, value.
type ParsedLine = (String, Vec<(String, String)>, f64);

/// Parses `name{labels} value [timestamp]`; a timestamp is an error here
/// (node_exporter refuses client-side timestamps in textfiles).
fn parse_sample(line: &str) -> Result<ParsedLine, String> {
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace()).unwrap_or(line.len());
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("invalid metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        let consumed;
        loop {
            while chars.peek().is_some_and(|(_, c)| c.is_whitespace() || *c == ',') {
                chars.next();
            }
            match chars.peek() {
                Some((i, '}')) => {
                    consumed = i + 1;
                    break;
                }
                None => return Err("unterminated label set".into()),
                _ => {}
            }
            let mut key = String::new();
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            let key = key.trim().to_owned();
            if !valid_name(&key) {
                return Err(format!("invalid label name {key:?}"));
            }
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("label {key}: value must be quoted"));
            }
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return Err(format!("label {key}: unterminated value")),
                    Some((_, '"')) => break,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        _ => return Err(format!("label {key}: bad escape")),
                    },
                    Some((_, c)) => value.push(c),
                }
            }
            labels.push((key, value));
        }
        rest = &after[consumed..];
    }
    // Sorted, not pairwise: a line may hold very many labels.
    if labels.len() > 1 {
        let mut keys: Vec<&str> = labels.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        if let Some(pair) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(format!("duplicate label {}", pair[0]));
        }
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("no value")?;
    let value = parse_value(value).ok_or_else(|| format!("invalid value {value:?}"))?;
    if fields.next().is_some() {
        return Err("client-side timestamps are not supported in textfiles".into());
    }
    Ok((name.to_owned(), labels, value))
}

/// Undoes the escaping of a `# HELP` text, left to right: `\\` is a
/// backslash and `\n` a newline; any other backslash stays as written.
fn unescape_help(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Parses a text file into families, in file order.
pub fn parse(text: &str) -> Result<Vec<TextFamily>, String> {
    let mut families: Vec<TextFamily> = Vec::new();
    // The names in `families`: every lookup stays O(1) in a file of many families.
    let mut seen: HashSet<String> = HashSet::new();
    let mut declared: BTreeMap<String, (Option<String>, Option<Kind>)> = BTreeMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = |e: String| format!("line {}: {e}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start();
            let (word, rest) = comment.split_once(char::is_whitespace).unwrap_or((comment, ""));
            if word == "HELP" || word == "TYPE" {
                let (name, arg) = rest.trim_start().split_once(char::is_whitespace).unwrap_or((rest.trim(), ""));
                if !valid_name(name) {
                    return Err(at(format!("invalid metric name {name:?} in {word} line")));
                }
                if seen.contains(name) {
                    return Err(at(format!("{word} line for {name} after its samples")));
                }
                let entry = declared.entry(name.to_owned()).or_default();
                if word == "HELP" {
                    entry.0 = Some(unescape_help(arg));
                } else {
                    if entry.1.is_some() {
                        return Err(at(format!("second TYPE line for {name}")));
                    }
                    entry.1 = Some(parse_kind(arg.trim()).ok_or_else(|| at(format!("unknown type {:?}", arg.trim())))?);
                }
            }
            continue;
        }
        let (name, labels, value) = parse_sample(line).map_err(at)?;
        // Find the family: the name itself, or a summary/histogram stem.
        let mut family_name = name.clone();
        let mut suffix = "";
        for s in ["_bucket", "_sum", "_count"] {
            if let Some(stem) = name.strip_suffix(s) {
                if let Some((_, Some(kind))) = declared.get(stem) {
                    let fits = matches!((kind, s), (Kind::Histogram, _) | (Kind::Summary, "_sum" | "_count"));
                    if fits {
                        family_name = stem.to_owned();
                        suffix = s;
                    }
                }
            }
        }
        match families.last_mut() {
            Some(f) if f.name == family_name => f.samples.push((suffix, labels, value)),
            _ => {
                if seen.contains(&family_name) {
                    return Err(at(format!("samples of {family_name} are not grouped together")));
                }
                // Help and type are copied once per family, not per sample.
                let (help, kind) = declared.get(&family_name).cloned().unwrap_or_default();
                let kind = kind.unwrap_or(Kind::Untyped);
                seen.insert(family_name.clone());
                families.push(TextFamily { name: family_name, help, kind, samples: vec![(suffix, labels, value)] });
            }
        }
    }
    Ok(families)
}

/// Matches `name` against a pattern whose only special character is `*`.
fn wildcard(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            let Some(rest) = name.strip_prefix(head) else { return false };
            (0..=rest.len()).filter(|i| rest.is_char_boundary(*i)).any(|i| wildcard(tail, &rest[i..]))
        }
    }
}

/// Expands the directory flags: a `*` in the last element is a wildcard.
fn directories(flags: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in flags.iter().filter(|d| !d.is_empty()) {
        let p = Path::new(d);
        let last = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !last.contains('*') {
            out.push(p.to_path_buf());
            continue;
        }
        let parent = p.parent().unwrap_or(Path::new("."));
        let mut matched: Vec<PathBuf> = std::fs::read_dir(parent)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| wildcard(&last, &e.file_name().to_string_lossy()))
                    .map(|e| parent.join(e.file_name()))
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default();
        matched.sort();
        out.extend(matched);
    }
    out
}

struct Textfile {
    directories: Vec<String>,
}

/// Opens a textfile without blocking and reads it when it is a regular
/// file of at most [`MAX_FILE_BYTES`]. A FIFO named `*.prom` would block a
/// plain open until some writer came, holding a blocking thread past every
/// scrape's deadline until the pool ran out and every host collector
/// failed; it is refused instead. The outer error is for the file, the
/// inner one (UTF-8) for its content.
fn read_regular(path: &Path) -> Result<(Result<String, String>, std::fs::Metadata), String> {
    use rustix::fs::{Mode, OFlags};
    use std::io::Read as _;
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| std::io::Error::from(e).to_string())?;
    let file = std::fs::File::from(fd);
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok((String::from_utf8(bytes).map_err(|_| "stream did not contain valid UTF-8".to_owned()), meta))
}

struct Merged {
    family: TextFamily,
    files: Vec<String>,
}

impl Textfile {
    /// Reads every `.prom` file; returns (families merged across files,
    /// mtimes of files read, whether any error occurred).
    fn read_all(&self) -> (Vec<Merged>, Vec<(String, f64)>, bool) {
        let mut error = false;
        let mut merged: Vec<Merged> = Vec::new();
        // Index of each name in `merged`.
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut mtimes = Vec::new();
        for dir in directories(&self.directories) {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
                Ok(rd) => rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "prom") && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
                    .collect(),
                Err(e) => {
                    tracing::error!(directory = %dir.display(), err = %e, "reading textfile directory failed");
                    error = true;
                    continue;
                }
            };
            files.sort();
            for path in files {
                let shown = path.display().to_string();
                let (text, meta) = match read_regular(&path) {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::error!(file = %shown, err = %e, "reading textfile failed");
                        error = true;
                        continue;
                    }
                };
                let parsed = text.and_then(|t| parse(&t));
                let families = match parsed {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::error!(file = %shown, err = %e, "textfile skipped");
                        error = true;
                        continue;
                    }
                };
                for fam in families {
                    match index.get(&fam.name).and_then(|&i| merged.get_mut(i)) {
                        None => {
                            index.insert(fam.name.clone(), merged.len());
                            merged.push(Merged { family: fam, files: vec![shown.clone()] });
                        }
                        Some(m) => {
                            let help_a = m.family.help.as_deref().unwrap_or("");
                            let help_b = fam.help.as_deref().unwrap_or("");
                            if m.family.kind != fam.kind || help_a != help_b {
                                tracing::error!(file = %shown, metric = %fam.name, "metric already read from another file with another help or type; skipped");
                                error = true;
                                continue;
                            }
                            m.family.samples.extend(fam.samples);
                            m.files.push(shown.clone());
                        }
                    }
                }
                let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs_f64()).unwrap_or(0.0);
                mtimes.push((shown, mtime));
            }
        }
        (merged, mtimes, error)
    }
}

/// Turns a merged family into a snapshot family: missing labels are
/// padded with empty values so every sample has the same label names.
fn to_family(m: Merged) -> Family {
    let Merged { family, files } = m;
    let special = match family.kind {
        Kind::Histogram => "le",
        Kind::Summary => "quantile",
        _ => "",
    };
    let names: BTreeSet<String> = family.samples.iter().flat_map(|(_, l, _)| l.iter().map(|(k, _)| k.clone())).filter(|k| k != special).collect();
    let mut samples: Vec<Sample> = family
        .samples
        .into_iter()
        .map(|(suffix, labels, value)| {
            let mut out: Labels = names
                .iter()
                .map(|n| (Cow::Owned(n.clone()), labels.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).unwrap_or_default()))
                .collect();
            if let Some((k, v)) = labels.iter().find(|(k, _)| k == special) {
                out.push((Cow::Owned(k.clone()), v.clone()));
            }
            Sample { suffix, labels: out, value, timestamp_ms: None }
        })
        .collect();
    if !special.is_empty() {
        // As client_golang groups them: every label set of a summary or
        // histogram is one metric with a _sum and a _count, zero if absent.
        // Sets kept in order of appearance; hashed lookups, as a histogram
        // may hold very many label sets.
        let mut sets: Vec<Labels> = Vec::new();
        let mut known: HashSet<Labels> = HashSet::new();
        for s in &samples {
            let base: Labels = s.labels.iter().filter(|(k, _)| k != special).cloned().collect();
            if known.insert(base.clone()) {
                sets.push(base);
            }
        }
        let present: HashSet<(&'static str, Labels)> =
            samples.iter().filter(|s| matches!(s.suffix, "_sum" | "_count")).map(|s| (s.suffix, s.labels.clone())).collect();
        for set in sets {
            for suffix in ["_sum", "_count"] {
                if !present.contains(&(suffix, set.clone())) {
                    samples.push(Sample { suffix, labels: set.clone(), value: 0.0, timestamp_ms: None });
                }
            }
        }
    }
    let help = match family.help.filter(|h| !h.is_empty()) {
        Some(h) => h,
        None => format!("Metric read from {}", files.join(", ")),
    };
    Family { name: family.name.into(), help: help.into(), kind: family.kind, samples }
}

/// Leaves out the families whose names are those of another family's
/// samples, read from the same file or another: `X_sum`, `X_count`, and
/// `X_bucket` of a histogram, beside a summary or histogram `X` (as
/// client_golang's registry leaves them out of node_exporter's output), and
/// `X_total` beside a counter `X`, whose samples OpenMetrics (what
/// Prometheus asks for first) names `X_total`, and `X` (not a counter)
/// beside a counter `X_total`, a family OpenMetrics names `X`. An
/// exposition holding both is refused by strict parsers, as the samples or
/// families of the two cannot be told apart.
fn drop_suffix_collisions(merged: &mut Vec<Merged>) {
    let owners: BTreeMap<String, Kind> = merged
        .iter()
        .filter(|m| matches!(m.family.kind, Kind::Summary | Kind::Histogram | Kind::Counter))
        .map(|m| (m.family.name.clone(), m.family.kind))
        .collect();
    if owners.is_empty() {
        return;
    }
    merged.retain(|m| {
        let name = &m.family.name;
        let collides = ["_sum", "_count", "_bucket", "_total"].iter().any(|suffix| {
            let stem = name.strip_suffix(suffix);
            matches!(
                (stem.and_then(|s| owners.get(s)), *suffix),
                (Some(Kind::Histogram), "_sum" | "_count" | "_bucket") | (Some(Kind::Summary), "_sum" | "_count") | (Some(Kind::Counter), "_total")
            )
        }) || (m.family.kind != Kind::Counter && owners.get(&format!("{name}_total")) == Some(&Kind::Counter));
        if collides {
            tracing::warn!(metric = %name, files = %m.files.join(", "), "textfile metric named like the samples of another; skipped");
        }
        !collides
    });
}

impl HostCollector for Textfile {
    fn gather(&self, _: &Scrape, out: &mut Snapshot) -> Result<(), Error> {
        if self.directories.is_empty() {
            return Ok(());
        }
        let (mut merged, mtimes, mut error) = self.read_all();
        drop_suffix_collisions(&mut merged);
        merged.retain(|m| {
            let mut names: HashSet<&str> = HashSet::new();
            let fits = m.family.samples.iter().flat_map(|(_, l, _)| l.iter()).all(|(k, _)| {
                names.insert(k.as_str());
                names.len() <= MAX_LABEL_NAMES
            });
            if !fits {
                tracing::error!(metric = %m.family.name, files = %m.files.join(", "), limit = MAX_LABEL_NAMES, "textfile metric with too many label names; skipped");
                error = true;
            }
            fits
        });
        for m in merged {
            out.families.push(to_family(m));
        }
        if !mtimes.is_empty() {
            let fam = out.family("node_textfile_mtime_seconds", "Unixtime mtime of textfiles successfully read.", Kind::Gauge);
            for (file, t) in &mtimes {
                fam.add(&[("file", file)], *t);
            }
        }
        out.gauge("node_textfile_scrape_error", "1 if there was an error opening or reading a file, 0 otherwise", &[], if error { 1.0 } else { 0.0 });
        Ok(())
    }
}

/// Builds the collector.
pub fn build(o: &Options, _: &Context) -> Result<Option<Collector>, BuildError> {
    Ok(Some(Collector::host(Textfile { directories: o.textfile_directory.clone() })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode;

    #[test]
    fn parses_labels_with_spaces_escapes_and_trailing_commas() {
        let f = parse("# HELP a The \\\\ help\n# TYPE a counter\na{x=\"1\", y=\"q\\\"\\n\",} 2\n").unwrap();
        assert_eq!(f[0].help.as_deref(), Some("The \\ help"));
        assert_eq!(f[0].samples[0].1, vec![("x".into(), "1".into()), ("y".into(), "q\"\n".into())]);
    }

    #[test]
    fn refuses_garbage_timestamps_and_bad_structure() {
        for bad in [
            "metric 1 1441205977284\n",
            "metric{a=1} 2\n",
            "metric{a=\"1\" 2\n",
            "metric x\n",
            "9metric 1\n",
            "# TYPE a counter\n# TYPE a gauge\n",
            "a 1\nb 1\na 2\n",
            "a{x=\"1\",x=\"2\"} 1\n",
            "# TYPE a nonsense\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    /// Found by fuzzing: an untyped `X_count` beside a histogram `X` (here
    /// from two files) was exposed as its own family, and the exposition no
    /// longer parsed: `X_count` samples belong to `X`. Likewise `C_total`
    /// beside a counter `C` in OpenMetrics (found with the host_sys
    /// harness on a hand-written file).
    #[test]
    fn families_named_like_histogram_samples_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.prom"), "# TYPE x histogram\nx_bucket{le=\"+Inf\"} 1\nx_sum 2\nx_count 1\n# TYPE s summary\ns_sum 1\ns_count 1\n").unwrap();
        std::fs::write(dir.path().join("b.prom"), "x_count{foo=\"baz\"} 3\nx_sum 4\ns_bucket 5\ns_count 6\nx_total 7\n# TYPE c counter\nc 1\nc_total 2\nx_count_total 3\n# TYPE g_total counter\ng_total 1\n# TYPE g gauge\ng 2\n").unwrap();
        let t = Textfile { directories: vec![dir.path().display().to_string()] };
        let mut snap = Snapshot::new();
        t.gather(&Scrape { deadline: std::time::Instant::now() }, &mut snap).unwrap();
        let names: Vec<&str> = snap.families.iter().map(|f| &*f.name).collect();
        for kept in ["x", "s", "s_bucket", "x_total", "c", "x_count_total", "g_total"] {
            assert!(names.contains(&kept), "{kept} missing from {names:?}");
        }
        for dropped in ["x_count", "x_sum", "s_count", "c_total", "g"] {
            assert!(!names.contains(&dropped), "{dropped} kept in {names:?}");
        }
        let families = encode::merge(vec![snap]);
        for format in [encode::Format::Text, encode::Format::OpenMetrics] {
            let mut text = Vec::new();
            encode::encode(&families, format, &mut text);
            parse(&String::from_utf8(text).unwrap()).unwrap();
        }
    }

    /// Found reading the parser while fuzzing it (inputs of the fuzzer's
    /// default size stay small): a file of many families, a long help text
    /// with many samples, a line of many labels or a histogram of many label
    /// sets took time quadratic in the file's size, and a 16 MiB file could
    /// hold a scrape for hours. Each case below took minutes before.
    #[test]
    fn large_files_stay_linear() {
        use std::fmt::Write as _;
        let started = std::time::Instant::now();
        let mut many_families = String::new();
        for i in 0..100_000 {
            let _ = writeln!(many_families, "# HELP m{i} help\nm{i} 1");
        }
        assert_eq!(parse(&many_families).unwrap().len(), 100_000);

        let mut long_help = format!("# HELP h {}\n", "x".repeat(4 << 20));
        for i in 0..50_000 {
            let _ = writeln!(long_help, "h{{i=\"{i}\"}} 1");
        }
        assert_eq!(parse(&long_help).unwrap()[0].samples.len(), 50_000);

        let mut many_labels = String::from("w{");
        for i in 0..50_000 {
            let _ = write!(many_labels, "l{i}=\"v\",");
        }
        many_labels.push_str("} 1\n");
        assert_eq!(parse(&many_labels).unwrap()[0].samples[0].1.len(), 50_000);
        assert!(parse(&many_labels.replace("l49999=", "l0=")).unwrap_err().contains("duplicate label l0"));

        let dir = tempfile::tempdir().unwrap();
        let mut histogram = String::from("# TYPE hist histogram\n");
        for i in 0..20_000 {
            let _ = writeln!(histogram, "hist_bucket{{i=\"{i}\",le=\"+Inf\"}} 1");
        }
        std::fs::write(dir.path().join("h.prom"), &histogram).unwrap();
        let t = Textfile { directories: vec![dir.path().display().to_string()] };
        let mut snap = Snapshot::new();
        t.gather(&Scrape { deadline: std::time::Instant::now() }, &mut snap).unwrap();
        let hist = snap.families.iter().find(|f| f.name == "hist").unwrap();
        assert_eq!(hist.samples.len(), 60_000);
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    }

    /// Every sample gets every label name of its family, so a family with
    /// very many names (all files together) is refused with an error
    /// instead of growing as samples times names.
    #[test]
    fn families_with_too_many_label_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let line = |n: usize| (0..n).map(|i| format!("{{l{i}=\"v\"}}")).map(|l| format!("wide{l} 1\n")).collect::<String>();
        std::fs::write(dir.path().join("ok.prom"), line(MAX_LABEL_NAMES).replace("wide", "fits")).unwrap();
        std::fs::write(dir.path().join("wide.prom"), line(MAX_LABEL_NAMES + 1)).unwrap();
        let t = Textfile { directories: vec![dir.path().display().to_string()] };
        let mut snap = Snapshot::new();
        t.gather(&Scrape { deadline: std::time::Instant::now() }, &mut snap).unwrap();
        let names: Vec<&str> = snap.families.iter().map(|f| &*f.name).collect();
        assert!(names.contains(&"fits") && !names.contains(&"wide"), "{names:?}");
        let error = snap.families.iter().find(|f| f.name == "node_textfile_scrape_error").unwrap();
        assert_eq!(error.samples[0].value, 1.0);
    }

    /// Found by the HELP check of the host_sys fuzz target: `\\n` (an
    /// escaped backslash, then `n`) was read as a backslash and a newline,
    /// because the two escapes were undone one after the other.
    #[test]
    fn help_escapes_are_undone_left_to_right() {
        let help = |text: &str| parse(&format!("# HELP m {text}\nm 1\n")).unwrap()[0].help.clone().unwrap();
        assert_eq!(help(r"x\\n y"), r"x\n y");
        assert_eq!(help(r"a\nb"), "a\nb");
        assert_eq!(help(r"c:\\\\dir"), r"c:\\dir");
        assert_eq!(help(r"odd \x and end\"), r"odd \x and end\");
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*_extra_dimension", "histogram_extra_dimension"));
        assert!(!wildcard("*_extra_dimension", "histogram"));
        assert!(wildcard("a*b*c", "aXXbYc"));
    }

    /// node_exporter's textfile test cases: each directory's expected
    /// output, compared family by family (HELP, TYPE and series). The mtime
    /// values depend on the checkout, so only their files are compared.
    #[test]
    fn node_exporter_textfile_cases() {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/upstream/node_exporter/textfile");
        let base = std::fs::canonicalize(&base).expect("oracle textfile cases");
        let prefix = format!("{}/", base.parent().unwrap().display());
        let mut cases = 0;
        for entry in std::fs::read_dir(&base).unwrap() {
            let out_path = entry.unwrap().path();
            if out_path.extension().is_none_or(|e| e != "out") {
                continue;
            }
            let case = out_path.file_stem().unwrap().to_string_lossy().to_string();
            let dir = match case.as_str() {
                "glob_extra_dimension" => base.join("*_extra_dimension"),
                _ => base.join(&case),
            };
            let t = Textfile { directories: vec![dir.display().to_string()] };
            let mut snap = Snapshot::new();
            t.gather(&Scrape { deadline: std::time::Instant::now() }, &mut snap).unwrap();
            let mut text = Vec::new();
            encode::encode(&encode::merge(vec![snap]), encode::Format::Text, &mut text);
            let ours = String::from_utf8(text).unwrap().replace(&prefix, "fixtures/");
            let normalise = |s: &str| -> Vec<String> {
                let mut v: Vec<String> = s
                    .lines()
                    .filter(|l| !l.contains("node_scrape_collector"))
                    .map(|l| if l.starts_with("node_textfile_mtime_seconds{") { format!("{} <mtime>", l.rsplit_once(' ').unwrap().0) } else { l.to_owned() })
                    .map(|l| sort_labels(&l))
                    .collect();
                v.sort();
                v
            };
            let expected = std::fs::read_to_string(&out_path).unwrap();
            assert_eq!(normalise(&ours), normalise(&expected), "case {case}");
            cases += 1;
        }
        assert!(cases >= 14, "only {cases} cases found");
    }

    /// Orders the label pairs of a sample line, so that label order is not
    /// compared (the encoder sorts them; node_exporter keeps `le`/`quantile` last).
    fn sort_labels(line: &str) -> String {
        let (Some(open), Some(close)) = (line.find('{'), line.rfind('}')) else { return line.to_owned() };
        if line.starts_with('#') {
            return line.to_owned();
        }
        let mut pairs: Vec<&str> = line[open + 1..close].split("\",").map(|p| p.trim_end_matches('"')).collect();
        pairs.sort();
        format!("{}{{{}}}{}", &line[..open], pairs.join("\","), &line[close + 1..])
    }
}
