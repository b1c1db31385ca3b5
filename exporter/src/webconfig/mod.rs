//! `--web.config.file`: the Prometheus exporter-toolkit web configuration
//! (TLS, bcrypt basic auth, extra response headers, a rate limit).
//!
//! [`WebConfig::load`] reads a file and checks all of it, the certificate
//! and key files it names included, before anything is served. [`Live`]
//! holds the configuration in force while the server runs: it re-reads the
//! file on SIGHUP and when the file, or a certificate, key or CA file it
//! names, changes (looked at when a connection arrives, at most once a
//! second); a broken new file leaves the last good configuration in force.
//! It also answers basic-auth checks, with a cache of verified credentials
//! that never holds a password.
//!
//! Secrets stay out of messages: no error or log line shows the content of
//! a key file, a password or a password hash.
//!
//! By concept: `schema` (the file's schema and its checks), `tls_server`
//! (the TLS server configuration: settings checked, files loaded, rustls
//! configuration assembled), `live` (the configuration in force, its
//! reloading, the rate limit and the basic-auth cache), and `files` (the
//! files read, their change stamps, the error naming them).

mod files;
mod live;
mod schema;
mod tls_server;
#[cfg(test)]
mod tests;

pub use files::WebConfigError;
pub use live::{parse_basic_auth, Live, Reload, CHECK_INTERVAL};
pub use schema::{RateLimit, WebConfig};
