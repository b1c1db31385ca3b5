//! The web configuration's `tls_server_config`: its settings checked, the
//! certificate, key and client CA files loaded, and the rustls server
//! configuration assembled from them.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
    SupportedCipherSuite, SupportedProtocolVersion,
};


use serde::Deserialize;

use super::files::{read_named, Stamps, WebConfigError};

/// exporter-toolkit's `client_auth_type` values.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    #[serde(default)]
    cert: Option<String>,
    /// Untyped for the same reason as the users' hashes.
    #[serde(default)]
    key: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    client_ca: Option<String>,
    #[serde(default)]
    cert_file: Option<String>,
    #[serde(default)]
    key_file: Option<String>,
    #[serde(default)]
    client_auth_type: Option<String>,
    #[serde(default)]
    client_ca_file: Option<String>,
    #[serde(default)]
    cipher_suites: Option<Vec<String>>,
    #[serde(default)]
    curve_preferences: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<String>,
    #[serde(default)]
    max_version: Option<String>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    pub(super) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" | "NoClientCert" => Self::NoClientCert,
            "RequestClientCert" => Self::RequestClientCert,
            // The second name is exporter-toolkit's older spelling.
            "RequireAnyClientCert" | "RequireClientCert" => Self::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => Self::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => Self::RequireAndVerifyClientCert,
            _ => return None,
        })
    }
}

/// Go's names of the TLS 1.3 suites: accepted in `cipher_suites` and
/// ignored, as Go does (TLS 1.3 suites are not configurable).
const TLS13_SUITE_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
];

/// TLS 1.2 suites Go knows and rustls does not implement (CBC, RSA key
/// exchange, RC4, 3DES): named in a clearer refusal than an unknown name.
const GO_ONLY_SUITE_NAMES: &[&str] = &[
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
];

fn tls12_suites() -> impl Iterator<Item = (&'static str, SupportedCipherSuite)> {
    rustls::crypto::ring::ALL_CIPHER_SUITES
        .iter()
        .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
        .filter_map(|s| s.suite().as_str().map(|name| (name, *s)))
}

fn tls_version(s: &str) -> Result<&'static SupportedProtocolVersion, String> {
    match s {
        "TLS12" => Ok(&rustls::version::TLS12),
        "TLS13" => Ok(&rustls::version::TLS13),
        "TLS10" | "TLS11" => Err(format!(
            "{s} is not supported: rustls implements TLS 1.2 and 1.3 only (use TLS12 or TLS13)"
        )),
        _ => Err(format!(
            "unknown TLS version: {s} (expected TLS12 or TLS13)"
        )),
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// A checked `tls_server_config`.
pub(super) struct BuiltTls {
    pub(super) config: Arc<ServerConfig>,
    pub(super) own_cert: CertificateDer<'static>,
    pub(super) client_cert_required: bool,
}

pub(super) fn build_tls(
    t: &RawTls,
    dir: &Path,
    stamps: &mut Stamps,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Option<BuiltTls>, WebConfigError> {
    let settings = check_settings(t, invalid)?;
    let key_inline = inline_key(t, invalid)?;
    let enabled = non_empty(&t.cert).is_some()
        || non_empty(&t.cert_file).is_some()
        || key_inline.is_some()
        || non_empty(&t.key_file).is_some()
        || non_empty(&t.client_ca).is_some()
        || non_empty(&t.client_ca_file).is_some()
        || non_empty(&t.client_auth_type).is_some();
    if !enabled {
        return Ok(None);
    }

    let chain = load_chain(t, dir, stamps, invalid)?;
    let key = load_key(t, key_inline, dir, stamps, invalid)?;
    let roots = load_client_roots(t, dir, stamps, invalid)?;
    assemble(t, settings, chain, key, roots, invalid).map(Some)
}

/// What `tls_server_config` says that needs no file, checked whether TLS
/// is on or not.
struct Settings {
    client_auth: ClientAuth,
    versions: Vec<&'static SupportedProtocolVersion>,
    suites: Vec<SupportedCipherSuite>,
    groups: Vec<&'static dyn rustls::crypto::SupportedKxGroup>,
}

fn check_settings(t: &RawTls, invalid: &dyn Fn(&str, String) -> WebConfigError) -> Result<Settings, WebConfigError> {
    let client_auth = ClientAuth::parse(t.client_auth_type.as_deref().unwrap_or("")).ok_or_else(|| {
        invalid(
            "client_auth_type",
            format!(
                "tls_server_config.client_auth_type: invalid ClientAuth {:?} (expected NoClientCert, RequestClientCert, \
                 RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert)",
                t.client_auth_type.as_deref().unwrap_or("")
            ),
        )
    })?;
    let min = tls_version(non_empty(&t.min_version).unwrap_or("TLS12"))
        .map_err(|e| invalid("min_version", format!("tls_server_config.min_version: {e}")))?;
    let max = tls_version(non_empty(&t.max_version).unwrap_or("TLS13"))
        .map_err(|e| invalid("max_version", format!("tls_server_config.max_version: {e}")))?;
    let versions: Vec<&'static SupportedProtocolVersion> = match (min.version, max.version) {
        (rustls::ProtocolVersion::TLSv1_3, rustls::ProtocolVersion::TLSv1_2) => {
            return Err(invalid(
                "min_version",
                "tls_server_config: min_version TLS13 is above max_version TLS12".into(),
            ))
        }
        (a, b) if a == b => vec![min],
        _ => vec![&rustls::version::TLS13, &rustls::version::TLS12],
    };
    let suites = cipher_suites(t, invalid)?;
    let groups = curves(t, invalid)?;
    if t.client_allowed_sans
        .as_ref()
        .is_some_and(|s| !s.is_empty())
    {
        return Err(invalid(
            "client_allowed_sans",
            "tls_server_config.client_allowed_sans is not supported by homelab-exporter; \
             use client_auth_type RequireAndVerifyClientCert with a CA that signs only the allowed clients"
                .into(),
        ));
    }

    Ok(Settings { client_auth, versions, suites, groups })
}

/// The TLS 1.2 suites of `cipher_suites` (TLS 1.3's are always on).
fn cipher_suites(t: &RawTls, invalid: &dyn Fn(&str, String) -> WebConfigError) -> Result<Vec<SupportedCipherSuite>, WebConfigError> {
    let mut suites = Vec::new();
    for name in t.cipher_suites.iter().flatten() {
        if TLS13_SUITE_NAMES.contains(&name.as_str()) {
            continue;
        }
        match tls12_suites().find(|(n, _)| n == name) {
            Some((_, suite)) => suites.push(suite),
            None => {
                let offered: Vec<&str> = tls12_suites().map(|(n, _)| n).collect();
                let why = if GO_ONLY_SUITE_NAMES.contains(&name.as_str()) {
                    "not implemented by rustls"
                } else {
                    "unknown cipher"
                };
                return Err(invalid(
                    "cipher_suites",
                    format!("tls_server_config.cipher_suites: {name}: {why} (TLS 1.2 suites available: {})", offered.join(", ")),
                ));
            }
        }
    }
    Ok(suites)
}

/// The key-exchange groups of `curve_preferences`.
fn curves(
    t: &RawTls,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Vec<&'static dyn rustls::crypto::SupportedKxGroup>, WebConfigError> {
    let mut groups = Vec::new();
    for name in t.curve_preferences.iter().flatten() {
        let group = match name.as_str() {
            "X25519" => rustls::crypto::ring::kx_group::X25519,
            "CurveP256" => rustls::crypto::ring::kx_group::SECP256R1,
            "CurveP384" => rustls::crypto::ring::kx_group::SECP384R1,
            "CurveP521" => {
                return Err(invalid(
                    "curve_preferences",
                    "tls_server_config.curve_preferences: CurveP521 is not implemented by rustls (use X25519, CurveP256 or CurveP384)".into(),
                ))
            }
            other => {
                return Err(invalid(
                    "curve_preferences",
                    format!("tls_server_config.curve_preferences: unknown curve {other:?} (expected X25519, CurveP256 or CurveP384)"),
                ))
            }
        };
        groups.push(group);
    }
    Ok(groups)
}

/// The inline private key (`key`), when one is given.
fn inline_key(t: &RawTls, invalid: &dyn Fn(&str, String) -> WebConfigError) -> Result<Option<Vec<u8>>, WebConfigError> {
    Ok(match &t.key {
        None | Some(serde_yaml_ng::Value::Null) => None,
        Some(serde_yaml_ng::Value::String(s)) if s.is_empty() => None,
        Some(serde_yaml_ng::Value::String(s)) => Some(s.as_bytes().to_vec()),
        Some(_) => {
            return Err(invalid(
                "key",
                "tls_server_config.key: expected the PEM text of the private key".into(),
            ))
        }
    })
}

/// The served certificate chain: its PEM parsed, and where it came from
/// (for messages).
struct Chain {
    certs: Vec<CertificateDer<'static>>,
    own_cert: CertificateDer<'static>,
    origin: String,
}

fn load_chain(t: &RawTls, dir: &Path, stamps: &mut Stamps, invalid: &dyn Fn(&str, String) -> WebConfigError) -> Result<Chain, WebConfigError> {
    let (cert_pem, cert_origin) = match (non_empty(&t.cert_file), non_empty(&t.cert)) {
        (Some(file), _) => {
            let (path, data) = read_named(dir, file, stamps);
            let data = data.map_err(|e| {
                invalid(
                    "cert_file",
                    format!("tls_server_config.cert_file {}: {e}", path.display()),
                )
            })?;
            (data, format!("cert_file {}", path.display()))
        }
        (None, Some(text)) => (text.as_bytes().to_vec(), "cert".to_owned()),
        (None, None) => {
            return Err(invalid(
                "tls_server_config",
                "tls_server_config: missing one of cert or cert_file".into(),
            ))
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|_| {
            invalid(
                "cert_file",
                format!("tls_server_config.{cert_origin}: not valid PEM"),
            )
        })?;
    let Some(own_cert) = chain.first().cloned() else {
        return Err(invalid(
            "cert_file",
            format!("tls_server_config.{cert_origin}: no PEM certificate in it"),
        ));
    };

    Ok(Chain { certs: chain, own_cert, origin: cert_origin })
}

/// The private key and where it came from. Its content never goes into a
/// message.
fn load_key(
    t: &RawTls,
    key_inline: Option<Vec<u8>>,
    dir: &Path,
    stamps: &mut Stamps,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<(PrivateKeyDer<'static>, String), WebConfigError> {
    let (key_pem, key_origin) = match (non_empty(&t.key_file), key_inline) {
        (Some(file), _) => {
            let (path, data) = read_named(dir, file, stamps);
            let data = data.map_err(|e| {
                invalid(
                    "key_file",
                    format!(
                        "tls_server_config.key_file {}: {}",
                        path.display(),
                        e.kind()
                    ),
                )
            })?;
            (data, format!("key_file {}", path.display()))
        }
        (None, Some(bytes)) => (bytes, "key".to_owned()),
        (None, None) => {
            return Err(invalid(
                "tls_server_config",
                "tls_server_config: missing one of key or key_file".into(),
            ))
        }
    };
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| {
        invalid(
            "key_file",
            format!("tls_server_config.{key_origin}: no PEM private key in it (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"),
        )
    })?;
    drop(key_pem);

    Ok((key, key_origin))
}

/// The CAs that client certificates must chain to, when given.
fn load_client_roots(
    t: &RawTls,
    dir: &Path,
    stamps: &mut Stamps,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Option<RootCertStore>, WebConfigError> {
    Ok(match (non_empty(&t.client_ca_file), non_empty(&t.client_ca)) {
        (Some(file), _) => {
            let (path, data) = read_named(dir, file, stamps);
            let data = data.map_err(|e| {
                invalid(
                    "client_ca_file",
                    format!("tls_server_config.client_ca_file {}: {e}", path.display()),
                )
            })?;
            Some(crate::tls::ca_roots_pem(&data).map_err(|e| {
                invalid(
                    "client_ca_file",
                    format!("tls_server_config.client_ca_file {}: {e}", path.display()),
                )
            })?)
        }
        (None, Some(text)) => Some(
            crate::tls::ca_roots_pem(text.as_bytes())
                .map_err(|e| invalid("client_ca", format!("tls_server_config.client_ca: {e}")))?,
        ),
        (None, None) => None,
    })
}

/// The rustls server configuration from the checked settings and the
/// loaded files.
fn assemble(
    t: &RawTls,
    settings: Settings,
    chain: Chain,
    (key, key_origin): (PrivateKeyDer<'static>, String),
    roots: Option<RootCertStore>,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<BuiltTls, WebConfigError> {
    let Settings { client_auth, versions, suites, groups } = settings;
    let Chain { certs: chain, own_cert, origin: cert_origin } = chain;
    let mut provider = rustls::crypto::ring::default_provider();
    if !suites.is_empty() {
        provider
            .cipher_suites
            .retain(|s| matches!(s, SupportedCipherSuite::Tls13(_)));
        provider.cipher_suites.extend(suites);
    }
    if !groups.is_empty() {
        provider.kx_groups = groups;
    }
    let provider = Arc::new(provider);
    let verifier = client_verifier(client_auth, roots, &provider)
        .map_err(|e| invalid("client_auth_type", e))?;

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| invalid("tls_server_config", format!("tls_server_config: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => invalid(
                "key_file",
                format!("tls_server_config: the private key ({key_origin}) does not match the certificate ({cert_origin})"),
            ),
            other => invalid("key_file", format!("tls_server_config: certificate or key refused: {other}")),
        })?;
    config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    // HTTP/1.1 only, whatever http_server_config.http2 says.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(BuiltTls {
        config: Arc::new(config),
        own_cert,
        client_cert_required: matches!(
            client_auth,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        ),
    })
}

pub(super) fn client_verifier(
    auth: ClientAuth,
    roots: Option<RootCertStore>,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    let verified = |roots: Option<RootCertStore>, optional: bool| {
        let Some(roots) = roots else {
            return Err(format!(
                "tls_server_config.client_auth_type {auth:?} verifies client certificates: it needs client_ca_file or client_ca"
            ));
        };
        let builder =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        let builder = if optional {
            builder.allow_unauthenticated()
        } else {
            builder
        };
        builder
            .build()
            .map_err(|e| format!("tls_server_config: client certificate verifier: {e}"))
    };
    match auth {
        ClientAuth::NoClientCert if roots.is_some() => {
            Err("tls_server_config: client CA's have been configured without a Client Auth Policy (set client_auth_type)".into())
        }
        ClientAuth::NoClientCert => Ok(WebPkiClientVerifier::no_client_auth()),
        ClientAuth::RequestClientCert => Ok(Arc::new(AnyClientCert::new(false, provider))),
        ClientAuth::RequireAnyClientCert => Ok(Arc::new(AnyClientCert::new(true, provider))),
        ClientAuth::VerifyClientCertIfGiven => verified(roots, true),
        ClientAuth::RequireAndVerifyClientCert => verified(roots, false),
    }
}

/// Go's `RequestClientCert` and `RequireAnyClientCert`: asks for a client
/// certificate and takes any, checking only that the client holds its key
/// (the handshake signature).
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    fn new(mandatory: bool, provider: &CryptoProvider) -> Self {
        Self {
            mandatory,
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
