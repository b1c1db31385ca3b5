//! The inventory model and what is generated from it: Prometheus recording
//! and alerting rules that encode each service's RTO and RPO, `promtool`
//! unit tests for those rules, an Alertmanager configuration, and
//! Prometheus file_sd targets for every node.
//!
//! Policy is recorded as series (`homelab:service_rpo_seconds`, ...), so
//! alerts join observations against policy instead of copying numbers into
//! every expression.

pub mod alertmanager;
pub mod duration;
pub mod generate;
pub mod inventory;
pub mod promtest;
pub mod recovery;
pub mod ups;

use std::path::{Path, PathBuf};

pub use inventory::{Error, Inventory};

/// Reads and checks an inventory file.
pub fn load_inventory(path: &Path) -> Result<Inventory, Error> {
    Inventory::load(path)
}

/// Writes the rule file, its promtool tests, the Alertmanager configuration
/// and the textfile metrics guide into `out_dir`; returns the paths written.
pub fn generate(inventory: &Inventory, out_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Write { path: out_dir.to_owned(), source })?;
    let mut files = vec![(generate::RULES_FILE.to_owned(), generate::rules_yaml(inventory))];
    files.extend(promtest::test_files(inventory));
    files.push((generate::ALERTMANAGER_FILE.to_owned(), alertmanager::config(inventory)));
    files.push((generate::TEXTFILE_GUIDE.to_owned(), generate::textfile_guide(inventory)));
    files.push((generate::ALERTS_REFERENCE.to_owned(), generate::alerts_reference(inventory)));
    let mut written = Vec::new();
    for (name, content) in files {
        let path = out_dir.join(&name);
        std::fs::write(&path, content).map_err(|source| Error::Write { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
}

/// Prometheus file_sd targets for every node's exporter, with `node` and
/// `kind` labels (the rules select containers by `node`).
pub fn file_sd_targets(inventory: &Inventory) -> serde_json::Value {
    serde_json::Value::Array(
        inventory
            .nodes
            .iter()
            .map(|n| {
                let host = n.address.as_deref().unwrap_or(&n.name);
                let target = if host.contains(':') && !host.starts_with('[') { format!("[{host}]:{}", n.port) } else { format!("{host}:{}", n.port) };
                serde_json::json!({"targets": [target], "labels": {"node": n.name, "kind": n.kind.as_str()}})
            })
            .collect(),
    )
}
