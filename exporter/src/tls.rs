//! TLS pieces shared by everything that speaks TLS (`proxmox`'s HTTPS,
//! `nut`'s STARTTLS, the web configuration's server and the healthcheck's
//! client): rustls with the ring provider, trust in the CA certificates of
//! PEM text, and trust in one pinned certificate.
//!
//! Each user keeps its own error type and trust choices; this module only
//! builds what they have in common, so all read CA certificates and pin a
//! certificate the same way.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WantsClientCert;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ConfigBuilder, DigitallySignedStruct, RootCertStore, SignatureScheme, WantsVerifier};

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

/// Every certificate of PEM text, as trust anchors; text without any
/// certificate is an error.
pub fn ca_roots_pem(pem: &[u8]) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("not valid PEM: {e}"))?;
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    if roots.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(roots)
}

/// Every certificate of a PEM file, as trust anchors (see [`ca_roots_pem`]).
pub fn ca_roots(path: &Path) -> Result<RootCertStore, SetupError> {
    let ca_err = |detail: String| SetupError::CaFile { path: path.display().to_string(), detail };
    let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
    ca_roots_pem(&pem).map_err(ca_err)
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

/// The SHA-256 fingerprint of a DER certificate.
pub fn sha256_fingerprint(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// `AA:BB:...` form of a fingerprint.
pub fn hex_colon(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{b:02X}"));
    }
    s
}

/// Words the refusal of a certificate, given its fingerprint.
pub type Mismatch = fn(&[u8; 32]) -> String;

/// The client configuration (no client certificate) that accepts the one
/// server certificate whose SHA-256 fingerprint is `pin`, or any
/// certificate when `pin` is `None`. Handshake signatures are verified
/// either way; names and expiry are not.
pub fn pinned_config(pin: Option<[u8; 32]>, mismatch: Mismatch) -> Result<Arc<ClientConfig>, SetupError> {
    let provider = provider();
    let verifier = PinnedVerifier { pin, mismatch, algorithms: provider.signature_verification_algorithms };
    let config = builder(provider)?.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth();
    Ok(Arc::new(config))
}

/// The verifier of [`pinned_config`].
#[derive(Debug)]
struct PinnedVerifier {
    pin: Option<[u8; 32]>,
    mismatch: Mismatch,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(pin) = self.pin else { return Ok(ServerCertVerified::assertion()) };
        let seen = sha256_fingerprint(end_entity.as_ref());
        // A certificate hash is public: a plain comparison will do.
        if seen == pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General((self.mismatch)(&seen)))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
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
