//! Grafana dashboards and their provisioning files, generated from the same
//! inventory as the rules: a homelab overview (every service against its
//! RTO and RPO, UPSes against their shutdown budget), and one dashboard per
//! source: host, UPS, containers, Proxmox VE.
//!
//! The panels query the exporter's metric names and the series the rules
//! record (`homelab:*`); tests hold every expression against promtool's
//! parser and every name against the exporter's real output.

pub mod boards;
pub mod grafana;
pub mod provisioning;

use std::path::{Path, PathBuf};

use homelab_rules::Inventory;

/// Why the dashboards could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing {path}: {source}")]
pub struct Error {
    /// The file or directory.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// One generated dashboard.
#[derive(Debug)]
pub struct Dashboard {
    /// File name under the output directory.
    pub file: String,
    /// The board.
    pub board: grafana::Board,
}

/// The dashboards for `inventory`: the overview, host and containers
/// always; UPS when the inventory has a UPS; Proxmox when it has a Proxmox
/// node or guest.
pub fn dashboards(inventory: &Inventory) -> Vec<Dashboard> {
    let mut out = vec![
        boards::overview::board(inventory),
        boards::host::board(inventory),
        boards::containers::board(),
    ];
    if !inventory.ups.is_empty() {
        out.push(boards::ups::board(inventory));
    }
    if boards::proxmox::applies(inventory) {
        out.push(boards::proxmox::board(inventory));
    }
    out.into_iter()
        .map(|board| Dashboard {
            file: format!("{}.json", board.uid()),
            board,
        })
        .collect()
}

fn write(path: PathBuf, content: &str) -> Result<PathBuf, Error> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(&path, content).map_err(|source| Error {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Writes the dashboards under `out_dir/dashboards/` and Grafana's
/// provisioning files under `out_dir/provisioning/`; returns the paths
/// written.
pub fn generate(inventory: &Inventory, out_dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut written = Vec::new();
    for d in dashboards(inventory) {
        let mut text = serde_json::to_string_pretty(&d.board.to_json()).unwrap_or_default();
        text.push('\n');
        written.push(write(out_dir.join("dashboards").join(&d.file), &text)?);
    }
    written.push(write(
        out_dir.join("provisioning/dashboards/homelab.yaml"),
        provisioning::DASHBOARD_PROVIDER,
    )?);
    written.push(write(
        out_dir.join("provisioning/datasources/prometheus.yaml"),
        provisioning::DATASOURCE,
    )?);
    Ok(written)
}
