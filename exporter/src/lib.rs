//! homelab-exporter: host, UPS, Docker and Proxmox metrics for Prometheus
//! in one small binary, with node_exporter's names for host metrics.
//!
//! The scrape path: [`server`] receives `GET /metrics`, [`scrape::Engine`]
//! runs every collector from the [`registry`] concurrently under the
//! deadline into plain [`metrics::Snapshot`]s, and [`encode`] writes them.

pub mod civil;
pub mod cli;
pub mod collector;
pub mod compat;
pub mod config;
pub mod config_key;
pub mod docker;
pub mod duration;
pub mod encode;
pub mod host;
pub mod http_get;
pub mod log;
pub mod metrics;
pub mod peer;
pub mod nut;
pub mod process;
pub mod proxmox;
pub mod registry;
pub mod scrape;
pub mod secret;
pub mod server;
pub mod tls;
pub mod webconfig;
