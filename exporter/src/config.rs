//! The YAML configuration file (`--config.file`).
//!
//! Its `flags:` section holds any command-line flag by its long name without
//! the dashes, so every flag has a file equivalent; flags on the command line
//! win. Other sections hold what a flag can't say well.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::config_key::{line_of_key, ConfigError, Locator};

/// A flag's value in the `flags:` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FlagValue {
    /// `true` gives `--flag`, `false` gives `--no-flag`.
    Bool(bool),
    /// A number, given as `--flag=N`.
    Number(serde_yaml_ng::Number),
    /// A string, given as `--flag=VALUE`.
    Text(String),
    /// A repeatable flag, given once per item.
    List(Vec<String>),
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Command-line flags by long name, e.g. `web.listen-address: ":9839"`.
    #[serde(default)]
    pub flags: BTreeMap<String, FlagValue>,
    /// upsd servers for the `nut` collector.
    #[serde(default)]
    pub nut: Option<crate::nut::Config>,
    /// Proxmox VE API endpoints for the `proxmox` collector.
    #[serde(default)]
    pub proxmox: Option<crate::proxmox::Config>,
}

/// A loaded file with its text (kept to point errors at lines).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its raw text.
    pub text: String,
    /// Its parsed content.
    pub file: ConfigFile,
}

impl Loaded {
    /// Reads and parses a configuration file.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let file = parse(path, &text)?;
        Ok(Self { path: path.to_owned(), text, file })
    }

    /// The flags of the `flags:` section as command-line arguments.
    pub fn as_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for (key, value) in &self.file.flags {
            match value {
                FlagValue::Bool(true) => args.push(format!("--{key}")),
                FlagValue::Bool(false) => args.push(format!("--no-{key}")),
                FlagValue::Number(n) => args.push(format!("--{key}={n}")),
                FlagValue::Text(t) => args.push(format!("--{key}={t}")),
                FlagValue::List(items) => {
                    args.extend(items.iter().map(|i| format!("--{key}={i}")));
                }
            }
        }
        args
    }

    /// An error about `key`, pointing at the line where it is written.
    pub fn error_at_key(&self, key: &str, detail: impl Into<String>) -> ConfigError {
        self.locator().error_at_key(key, detail)
    }

    /// Points errors at this file's lines.
    pub fn locator(&self) -> Locator<'_> {
        Locator { path: &self.path, text: &self.text }
    }
}

/// Parses the text of a configuration file.
pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Invalid {
        path: path.to_owned(),
        line: e.location().map(|l| l.line()).unwrap_or(0),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_top_level_key_names_line_and_key() {
        let err = parse(Path::new("c.yaml"), "flags: {}\nnope: 1\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("c.yaml:2:"), "{msg}");
        assert!(msg.contains("nope"), "{msg}");
    }

    #[test]
    fn flags_become_arguments() {
        let text = "flags:\n  web.listen-address: \":1234\"\n  collector.cpu: false\n  collector.nut.target: [a, b]\n  web.max-requests: 3\n";
        let loaded = Loaded { path: "c.yaml".into(), text: text.into(), file: parse(Path::new("c.yaml"), text).unwrap() };
        assert_eq!(
            loaded.as_args(),
            vec!["--no-collector.cpu", "--collector.nut.target=a", "--collector.nut.target=b", "--web.listen-address=:1234", "--web.max-requests=3"]
        );
        assert_eq!(line_of_key(text, "collector.cpu"), 3);
    }
}
