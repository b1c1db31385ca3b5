//! Pointing at a key of the configuration file: the file's error type and
//! the line a key is written on. A leaf module, so that the command line,
//! the configuration file and the collectors that read a section of it
//! word their errors alike without depending on one another.

use std::path::{Path, PathBuf};

/// Why the configuration file was refused. The message names the file, the
/// line and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid for this schema.
    #[error("{path}:{line}: {detail}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key (0 when unknown).
        line: usize,
        /// What is wrong, naming the key.
        detail: String,
    },
}

/// A configuration file's path and text, to point errors at a key's line.
#[derive(Debug, Clone, Copy)]
pub struct Locator<'a> {
    /// The file.
    pub path: &'a Path,
    /// Its raw text.
    pub text: &'a str,
}

impl Locator<'_> {
    /// An error about `key`, pointing at the line where it is written.
    pub fn error_at_key(&self, key: &str, detail: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { path: self.path.to_owned(), line: line_of_key(self.text, key), detail: detail.into() }
    }
}

/// The 1-based line on which `key` is written as a mapping key, or 0.
pub fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches("- ");
            let t = t.trim_start_matches(['"', '\'']);
            t.strip_prefix(key).is_some_and(|rest| {
                rest.trim_start_matches(['"', '\'']).trim_start().starts_with(':')
            })
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_line_of_the_key() {
        let text = "flags:\n  collector.cpu: false\nnut:\n  servers:\n    - target: nas\n";
        assert_eq!(line_of_key(text, "collector.cpu"), 2);
        assert_eq!(line_of_key(text, "target"), 5);
        assert_eq!(line_of_key(text, "absent"), 0);
        let e = Locator { path: Path::new("c.yaml"), text }.error_at_key("target", "nut.servers[0].target: bad");
        assert_eq!(e.to_string(), "c.yaml:5: nut.servers[0].target: bad");
    }
}
