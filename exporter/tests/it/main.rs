//! Integration tests of the exporter: the real binary, real files, real
//! servers on loopback.

mod common;
mod docker;
mod e2e;
mod engine;
