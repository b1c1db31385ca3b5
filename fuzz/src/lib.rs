//! Helpers shared by the fuzz targets: the exposition check every target
//! runs on what it gathered, a scratch file tree per process for the
//! collectors that read files, and splitting one fuzz input into parts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use homelab_exporter::collector::{Collector, Scrape};
use homelab_exporter::encode::{self, Format};
use homelab_exporter::host::textfile;
use homelab_exporter::metrics::Snapshot;
use homelab_exporter::registry::{self, Settings};

/// Encodes `snapshots` in both formats and checks that the output is
/// exposition text a scraper accepts: the exporter's own strict
/// Prometheus text parser (the textfile collector's) must read it back,
/// which checks every metric and label name, the escaping of label values
/// and help texts, and that no value is garbled.
pub fn check_exposition(snapshots: Vec<Snapshot>) {
    let families = encode::merge(snapshots);
    for format in [Format::Text, Format::OpenMetrics] {
        let mut out = Vec::new();
        encode::encode(&families, format, &mut out);
        let text = match String::from_utf8(out) {
            Ok(t) => t,
            Err(e) => panic!("{format:?} exposition is not UTF-8: {e}"),
        };
        if let Err(e) = textfile::parse(&text) {
            // prometheus-pve-exporter's deprecated gauges share their
            // counters' family names in OpenMetrics, on purpose (see
            // proxmox::emit::SHARED_FAMILY_NAMES).
            let shared = homelab_exporter::proxmox::emit::SHARED_FAMILY_NAMES.iter().any(|n| e.contains(&format!(" {n} ")));
            if format == Format::OpenMetrics && shared {
                continue;
            }
            panic!(
                "{format:?} exposition does not parse back: {e}\n---\n{}",
                excerpt(&text, e.as_str())
            );
        }
        if format == Format::Text {
            check_help_round_trip(&families, &text);
        }
    }
}

/// Help texts survive the escaping: what the parser reads back is what the
/// collector wrote.
fn check_help_round_trip(families: &[homelab_exporter::metrics::Family], text: &str) {
    let Ok(parsed) = textfile::parse(text) else {
        return;
    };
    for fam in families {
        let Some(back) = parsed.iter().find(|p| p.name == *fam.name) else {
            continue;
        };
        // Lines are read trimmed: white space at the end of a help text is
        // not kept, by this parser as by others.
        let got = back.help.as_deref().unwrap_or("").trim_end();
        assert_eq!(
            got,
            fam.help.trim_end(),
            "help of {} changed through the text format",
            fam.name
        );
    }
}

/// The lines around the line an error message names, for the panic text.
fn excerpt(text: &str, error: &str) -> String {
    let line: usize = error
        .strip_prefix("line ")
        .and_then(|r| r.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    text.lines()
        .skip(line.saturating_sub(3))
        .take(5)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs a host collector once and returns its snapshot when it succeeded.
/// An error must still format (it is logged).
pub fn gather_host(collector: &Collector) -> Option<Snapshot> {
    let Collector::Host(c) = collector else {
        return None;
    };
    let scrape = Scrape {
        deadline: std::time::Instant::now() + std::time::Duration::from_secs(10),
    };
    let mut out = Snapshot::new();
    match c.gather(&scrape, &mut out) {
        Ok(()) => Some(out),
        Err(e) => {
            let _ = e.to_string();
            None
        }
    }
}

/// Settings from command-line arguments (panics on a bad harness setup).
pub fn settings(args: &[String]) -> Settings {
    match registry::parse_settings(args) {
        Ok(s) => s,
        Err(e) => panic!("fuzz harness settings refused: {e}"),
    }
}

/// Builds the named collector from `settings` (panics on a bad harness setup).
pub fn build(name: &str, settings: &Settings) -> Collector {
    let entry =
        homelab_exporter::registry::find(name).unwrap_or_else(|| panic!("no collector {name}"));
    match (entry.build)(settings) {
        Ok(Some(c)) => c,
        Ok(None) => panic!("collector {name} not built"),
        Err(e) => panic!("collector {name}: {e}"),
    }
}

/// Splits a fuzz input into at most `max` parts at NUL bytes (the last part
/// keeps any further NULs).
pub fn parts(data: &[u8], max: usize) -> Vec<&[u8]> {
    data.splitn(max.max(1), |&b| b == 0).collect()
}

/// Text for the pure parsers: invalid UTF-8 replaced, as a file read with
/// a lossy conversion would give.
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// A scratch directory for this process under the system's temporary
/// directory (`TMPDIR`; a tmpfs makes the file targets faster). Trees left
/// behind by earlier runs of the same target whose process is gone are
/// removed when a new one is made.
pub struct Tree {
    root: PathBuf,
}

impl Tree {
    /// Makes `homelab-fuzz-<name>-<pid>` and returns it.
    pub fn new(name: &str) -> Arc<Tree> {
        let tmp = std::env::temp_dir();
        let prefix = format!("homelab-fuzz-{name}-");
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let file_name = e.file_name();
                let Some(pid) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                    continue;
                };
                if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let root = tmp.join(format!("{prefix}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        if let Err(e) = std::fs::create_dir_all(&root) {
            panic!("making {}: {e}", root.display());
        }
        Arc::new(Tree { root })
    }

    /// The tree's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path below the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes `bytes` at `rel`, making its directories. An input whose
    /// paths cannot coexist (`a` a file and `a/b` below it) leaves the later
    /// file out: that is the input's shape, not a finding.
    pub fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            if std::fs::create_dir_all(parent).is_err() {
                return;
            }
        }
        let _ = std::fs::write(&path, bytes);
    }

    /// Removes the file at `rel`, if any.
    pub fn remove(&self, rel: &str) {
        let _ = std::fs::remove_file(self.path(rel));
    }

    /// Empties the directory `rel` (making it if needed).
    pub fn clear(&self, rel: &str) {
        let path = self.path(rel);
        let _ = std::fs::remove_dir_all(&path);
        if let Err(e) = std::fs::create_dir_all(&path) {
            panic!("making {}: {e}", path.display());
        }
    }

    /// Writes each part to its file, in order; files without a part are
    /// removed, so that every run sees only its own input. An empty name
    /// skips its part (the caller places it).
    pub fn write_parts(&self, files: &[&str], parts: &[&[u8]]) {
        for (i, rel) in files.iter().enumerate() {
            if rel.is_empty() {
                continue;
            }
            match parts.get(i) {
                Some(p) => self.write(rel, p),
                None => self.remove(rel),
            }
        }
    }
}

/// A file or directory name from fuzz input, restricted to characters that
/// cannot leave the directory it is joined to; `None` when nothing is left.
pub fn safe_name(raw: &[u8]) -> Option<String> {
    let name: String = raw
        .iter()
        .take(64)
        .map(|&b| b as char)
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ':' | '.'))
        .collect();
    if name.is_empty() || name.chars().all(|c| c == '.') {
        None
    } else {
        Some(name)
    }
}
