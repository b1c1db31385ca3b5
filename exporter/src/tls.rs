//! TLS client pieces shared by the collectors that speak TLS (`proxmox`'s
//! HTTPS, `nut`'s STARTTLS): rustls with the ring provider, and trust in
//! the CA certificates of a PEM file.
//!
//! Each collector keeps its own error type and trust choices; this module
//! only builds what they have in common, so both read a CA file and set up
//! rustls the same way.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WantsClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ConfigBuilder, RootCertStore, WantsVerifier};

/// Why a TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {detail}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The crypto provider every TLS client of the exporter uses (ring: no C
/// toolchain or cmake needed for the static and aarch64 builds).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration builder with `provider` and rustls's safe
/// default protocol versions (TLS 1.2 and 1.3), waiting for a verifier.
pub fn builder(provider: Arc<CryptoProvider>) -> Result<ConfigBuilder<ClientConfig, WantsVerifier>, SetupError> {
    ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SetupError::Config(e.to_string()))
}

/// Every certificate of a PEM file, as trust anchors; a file without any
/// certificate is an error.
pub fn ca_roots(path: &Path) -> Result<RootCertStore, SetupError> {
    let shown = path.display().to_string();
    let ca_err = |detail: String| SetupError::CaFile { path: shown.clone(), detail };
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| ca_err(e.to_string()))?;
    for cert in certs {
        let cert = cert.map_err(|e| ca_err(e.to_string()))?;
        roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(ca_err("no PEM certificate in it".into()));
    }
    Ok(roots)
}

/// A builder that verifies the server's certificate against the CA
/// certificates of a PEM file (chain, validity, and the server name).
pub fn with_ca_file(
    builder: ConfigBuilder<ClientConfig, WantsVerifier>,
    path: &Path,
) -> Result<ConfigBuilder<ClientConfig, WantsClientCert>, SetupError> {
    Ok(builder.with_root_certificates(ca_roots(path)?))
}

/// The client configuration that trusts the CA certificates of a PEM file
/// and sends no client certificate.
pub fn ca_file_config(path: &Path) -> Result<Arc<ClientConfig>, SetupError> {
    Ok(Arc::new(with_ca_file(builder(provider())?, path)?.with_no_client_auth()))
}

/// The name a server's certificate must hold: a DNS name or an IP address
/// (IPv6 without brackets). `None` when it is neither.
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(host.to_owned()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = ca_file_config(&missing).unwrap_err().to_string();
        assert!(e.starts_with(&format!("CA file {}: ", missing.display())), "{e}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = ca_file_config(&empty).unwrap_err().to_string();
        assert_eq!(e, format!("CA file {}: no PEM certificate in it", empty.display()));

        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap().self_signed(&key).unwrap();
        let good = dir.path().join("ca.pem");
        std::fs::write(&good, ca.pem()).unwrap();
        assert!(ca_file_config(&good).is_ok());
    }

    #[test]
    fn server_names() {
        assert!(server_name("nas.lan").is_some());
        assert!(server_name("127.0.0.1").is_some());
        assert!(server_name("::1").is_some());
        assert!(server_name("bad name").is_none());
        assert!(server_name("").is_none());
    }
}
