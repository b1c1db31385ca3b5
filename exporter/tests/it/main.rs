//! Integration tests of the exporter: the real binary, real files, real
//! servers on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerting;
mod arm;
mod common;
mod docs;
mod docker;
mod e2e;
mod guides;
mod hardening;
mod http;
mod image;
mod modules;
mod engine;
mod node_exporter_flags;
mod nut;
mod nut_tls;
mod packaging;
mod proxmox;
mod recovery;
mod release;
mod standalone;
mod systemd;
mod table;
mod webconfig;
