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

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use hyper::header::{HeaderName, HeaderValue};
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

use crate::config_key::line_of_key;

/// How often, at most, [`Live::check_for_changes`] looks at the files.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Verified credentials kept at most; the cache is emptied when full.
const CACHE_CAPACITY: usize = 1024;

/// The salt and checksum of a bcrypt hash of a random password nobody
/// knows. A login as an unknown user is checked against it (at the cost of
/// the configured users' hashes) so the answer takes as long as for a
/// known user, and the result is refused whatever it is.
const DUMMY_HASH_BODY: &str = "gPsb2BlgCjxKVMCOqt17LujYvx.67v3OgjcE7C6c/1mFGsKfYwRmG";

/// Why a web configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("--web.config.file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid web configuration.
    #[error("--web.config.file {}: {detail}", located(path, *line))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key (0 when unknown).
        line: usize,
        /// What is wrong, naming the key; never a secret.
        detail: String,
    },
}

fn located(path: &Path, line: usize) -> String {
    if line == 0 {
        path.display().to_string()
    } else {
        format!("{}:{line}", path.display())
    }
}

// ---------------------------------------------------------------------------
// The file, as written.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    /// Values stay untyped until checked, so that no serde message can
    /// quote a hash.
    #[serde(default)]
    basic_auth_users: Option<serde_yaml_ng::Value>,
    #[serde(default)]
    rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    /// Scalars, as Go's YAML reads them into strings (`X-XSS-Protection: 1`).
    headers: Option<BTreeMap<String, Scalar>>,
}

/// A YAML scalar taken as its text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Number(serde_yaml_ng::Number),
    Bool(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Self::Text(t) => t,
            Self::Number(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    #[serde(default)]
    burst: Option<u32>,
    #[serde(default)]
    interval: Option<serde_yaml_ng::Value>,
}

// ---------------------------------------------------------------------------
// The checked configuration.

/// exporter-toolkit's rate limit: `burst` requests at once, then one per
/// `interval`; beyond it a request gets 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Time for one token to come back.
    pub interval: Duration,
    /// Size of the bucket.
    pub burst: u32,
}

/// When a file was last changed, as far as `stat` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
    device: u64,
}

/// The files a configuration was built from and their stamps when read
/// (`None`: it could not be looked at).
type Stamps = Vec<(PathBuf, Option<Stamp>)>;

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: m.len(),
        modified: m.modified().ok(),
        inode: m.ino(),
        device: m.dev(),
    })
}

fn restamp(stamps: &Stamps) -> Stamps {
    stamps.iter().map(|(p, _)| (p.clone(), stamp(p))).collect()
}

/// A checked web configuration, ready to serve with.
pub struct WebConfig {
    tls: Option<Arc<ServerConfig>>,
    /// The certificate the server presents (for the healthcheck's client).
    own_cert: Option<CertificateDer<'static>>,
    /// `client_auth_type` makes every client show a certificate.
    client_cert_required: bool,
    users: BTreeMap<String, String>,
    dummy_hash: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    rate_limit: Option<RateLimit>,
    http2: bool,
    stamps: Stamps,
}

impl fmt::Debug for WebConfig {
    // By hand: the users' hashes must not show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .field("rate_limit", &self.rate_limit)
            .field("http2", &self.http2)
            .finish_non_exhaustive()
    }
}

impl WebConfig {
    /// Reads and checks a web configuration file and every file it names.
    /// Relative paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let before = stamp(path);
        let text = std::fs::read_to_string(path).map_err(|source| WebConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(path, &text)?;
        config.stamps.insert(0, (path.to_owned(), before));
        Ok(config)
    }

    /// Checks the text of a web configuration file read from `path` (used
    /// in messages and to resolve relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<Self, WebConfigError> {
        let invalid = |key: &str, detail: String| WebConfigError::Invalid {
            path: path.to_owned(),
            line: if key.is_empty() {
                0
            } else {
                line_of_key(text, key)
            },
            detail,
        };
        let raw: RawFile = if text.trim().is_empty() {
            RawFile::default()
        } else {
            // Some other file given by mistake (a password file, say) must
            // not be quoted back: anything but a mapping is refused by kind.
            let yaml_error = |e: serde_yaml_ng::Error| WebConfigError::Invalid {
                path: path.to_owned(),
                line: e.location().map(|l| l.line()).unwrap_or(0),
                detail: without_quoted_strings(&e.to_string()),
            };
            match serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text).map_err(yaml_error)? {
                serde_yaml_ng::Value::Null => RawFile::default(),
                serde_yaml_ng::Value::Mapping(_) => serde_yaml_ng::from_str(text).map_err(yaml_error)?,
                _ => {
                    return Err(invalid(
                        "",
                        "expected a mapping with tls_server_config, http_server_config, basic_auth_users or rate_limit".into(),
                    ))
                }
            }
        };
        let dir = path.parent().map(Path::to_owned).unwrap_or_default();
        let mut stamps = Stamps::new();

        let users = check_users(raw.basic_auth_users, &invalid)?;
        let dummy_hash = dummy_hash(&users);
        let http = raw.http_server_config.unwrap_or_default();
        let headers = check_headers(http.headers.unwrap_or_default(), &invalid)?;
        let rate_limit = raw
            .rate_limit
            .map(|r| check_rate_limit(r, &invalid))
            .transpose()?
            .flatten();
        let (tls, own_cert, client_cert_required) = match raw
            .tls_server_config
            .map(|t| build_tls(&t, &dir, &mut stamps, &invalid))
            .transpose()?
            .flatten()
        {
            Some(built) => (
                Some(built.config),
                Some(built.own_cert),
                built.client_cert_required,
            ),
            None => (None, None, false),
        };
        Ok(Self {
            tls,
            own_cert,
            client_cert_required,
            users,
            dummy_hash,
            headers,
            rate_limit,
            http2: http.http2.unwrap_or(true),
            stamps,
        })
    }

    /// The TLS server configuration, when TLS is on.
    pub fn tls(&self) -> Option<Arc<ServerConfig>> {
        self.tls.clone()
    }

    /// A TLS client configuration for the exporter's own `healthcheck`:
    /// it trusts exactly the certificate this configuration serves, and
    /// sends no client certificate. `None` when TLS is off.
    pub fn self_client(&self) -> Option<Arc<rustls::ClientConfig>> {
        let pin = crate::tls::sha256_fingerprint(self.own_cert.as_ref()?.as_ref());
        crate::tls::pinned_config(Some(pin), |_| "the server's certificate is not the one in the web configuration".into()).ok()
    }

    /// Whether the server asks every client for a certificate (then the
    /// `healthcheck`, which has none, cannot get an answer).
    pub fn requires_client_cert(&self) -> bool {
        self.client_cert_required
    }

    /// How many basic-auth users there are (0: no authentication).
    pub fn user_count(&self) -> usize {
        self.users.len()
    }

    /// The extra headers set on every response.
    pub fn headers(&self) -> &[(HeaderName, HeaderValue)] {
        &self.headers
    }

    /// The rate limit, when there is one.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// `http_server_config.http2` as written (default true). Accepted for
    /// compatibility; the server speaks HTTP/1.1 only.
    pub fn http2(&self) -> bool {
        self.http2
    }
}

/// serde's messages quote a string value of the wrong type or shape
/// (`invalid type: string "..."`); such a value may be a secret written in
/// the wrong place, so it is left out.
fn without_quoted_strings(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("string \"") {
        let (before, quoted) = rest.split_at(at + "string ".len());
        out.push_str(before);
        out.push_str("(not shown)");
        // Skip the quoted value, escapes included.
        let mut end = quoted.len();
        let mut escaped = false;
        for (i, c) in quoted.char_indices().skip(1) {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = quoted.get(end..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

fn check_users(
    raw: Option<serde_yaml_ng::Value>,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<BTreeMap<String, String>, WebConfigError> {
    let raw = match raw {
        None | Some(serde_yaml_ng::Value::Null) => serde_yaml_ng::Mapping::new(),
        Some(serde_yaml_ng::Value::Mapping(m)) => m,
        Some(_) => {
            return Err(invalid(
                "basic_auth_users",
                "basic_auth_users: expected a mapping of user names to bcrypt hashes".into(),
            ))
        }
    };
    let mut users = BTreeMap::new();
    for (user, value) in raw {
        let serde_yaml_ng::Value::String(user) = user else {
            return Err(invalid(
                "basic_auth_users",
                "basic_auth_users: a user name is not a string".into(),
            ));
        };
        let serde_yaml_ng::Value::String(hash) = value else {
            return Err(invalid(
                &user,
                format!("basic_auth_users: the password hash of user {user:?} is not a string"),
            ));
        };
        if let Err(why) = check_bcrypt(&hash) {
            return Err(invalid(&user, format!("basic_auth_users: the password hash of user {user:?} is not a bcrypt hash: {why}")));
        }
        users.insert(user, hash);
    }
    Ok(users)
}

/// Checks that `hash` is a bcrypt hash `bcrypt::verify` accepts, without
/// computing one; the reason never quotes the hash.
fn check_bcrypt(hash: &str) -> Result<(), &'static str> {
    use base64::Engine as _;
    let mut parts = hash.split('$');
    let (Some(""), Some(version), Some(cost), Some(body), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(
            "expected $2b$COST$ and 53 characters (as htpasswd -B or Python's bcrypt write)",
        );
    };
    if !matches!(version, "2a" | "2b" | "2x" | "2y") {
        return Err("unknown version (expected 2a, 2b or 2y)");
    }
    if !(cost.len() == 2 && cost.parse::<u32>().is_ok_and(|c| (4..=31).contains(&c))) {
        return Err("the cost must be two digits from 04 to 31");
    }
    if body.len() != 53 || !body.is_char_boundary(22) {
        return Err("the salt and checksum must be 53 characters");
    }
    let (salt, checksum) = body.split_at(22);
    if bcrypt::BASE_64.decode(salt).map(|s| s.len()) != Ok(16)
        || bcrypt::BASE_64.decode(checksum).is_err()
    {
        return Err("the salt or checksum is not bcrypt's base64");
    }
    Ok(())
}

/// A hash no password is known for, at the cost most users' hashes have
/// (the highest such cost on a tie; 10 without users).
fn dummy_hash(users: &BTreeMap<String, String>) -> String {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for hash in users.values() {
        if let Some(cost) = hash.split('$').nth(2).and_then(|c| c.parse::<u32>().ok()) {
            *counts.entry(cost).or_default() += 1;
        }
    }
    let cost = counts
        .iter()
        .max_by_key(|(cost, n)| (**n, **cost))
        .map(|(c, _)| *c)
        .unwrap_or(10);
    format!("$2b${cost:02}${DUMMY_HASH_BODY}")
}

/// The headers exporter-toolkit lets a configuration set, with the values
/// allowed where they are an enumeration.
const EXTRA_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

fn check_headers(
    raw: BTreeMap<String, Scalar>,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Vec<(HeaderName, HeaderValue)>, WebConfigError> {
    let mut out = Vec::new();
    for (name, value) in raw {
        let value = value.into_text();
        let Some((_, allowed)) = EXTRA_HEADERS.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = EXTRA_HEADERS.iter().map(|(n, _)| *n).collect();
            return Err(invalid(
                &name,
                format!("http_server_config.headers: HTTP header {name:?} can not be configured (allowed: {})", names.join(", ")),
            ));
        };
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            return Err(invalid(
                &name,
                format!("http_server_config.headers: invalid value for {name}: expected one of {allowed:?}, got {value:?}"),
            ));
        }
        let header_value = HeaderValue::from_str(&value).map_err(|_| {
            invalid(
                &name,
                format!(
                    "http_server_config.headers: the value of {name} is not a valid header value"
                ),
            )
        })?;
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            invalid(
                &name,
                format!("http_server_config.headers: {name:?} is not a header name"),
            )
        })?;
        out.push((header_name, header_value));
    }
    Ok(out)
}

fn check_rate_limit(
    raw: RawRateLimit,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Option<RateLimit>, WebConfigError> {
    let interval = match raw.interval {
        None | Some(serde_yaml_ng::Value::Null) => Duration::ZERO,
        Some(serde_yaml_ng::Value::String(s)) => crate::duration::parse(&s).ok_or_else(|| {
            invalid(
                "interval",
                format!("rate_limit.interval: {s:?} is not a duration such as 1s, 500ms or 1m30s"),
            )
        })?,
        Some(serde_yaml_ng::Value::Number(n)) => {
            n.as_u64().map(Duration::from_nanos).ok_or_else(|| {
                invalid(
                    "interval",
                    "rate_limit.interval: a number must be whole nanoseconds".into(),
                )
            })?
        }
        Some(_) => {
            return Err(invalid(
                "interval",
                "rate_limit.interval: expected a duration such as 1s".into(),
            ))
        }
    };
    // As exporter-toolkit: no interval, no limit.
    if interval.is_zero() {
        return Ok(None);
    }
    Ok(Some(RateLimit {
        interval,
        burst: raw.burst.unwrap_or(0),
    }))
}

// ---------------------------------------------------------------------------
// TLS.

/// exporter-toolkit's `client_auth_type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(s: &str) -> Option<Self> {
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

/// Reads one file a configuration names, noting its stamp; `dir` makes a
/// relative path absolute as exporter-toolkit does.
fn read_named(dir: &Path, name: &str, stamps: &mut Stamps) -> (PathBuf, std::io::Result<Vec<u8>>) {
    let path = if Path::new(name).is_absolute() {
        PathBuf::from(name)
    } else {
        dir.join(name)
    };
    let before = stamp(&path);
    let data = read_bounded(&path);
    stamps.push((path.clone(), before));
    (path, data)
}

/// Largest certificate, key or CA file read.
const MAX_NAMED_FILE: u64 = 1 << 20;

/// Reads a certificate, key or CA file: a regular file (symbolic links
/// followed) of at most 1 MiB, opened without blocking. A file name that
/// points at a device or a FIFO (`/dev/zero`, say) gets an error instead of
/// an endless read or a start-up that waits for a writer.
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let not_regular = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let fd = rustix::fs::open(path, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())?;
    let file = std::fs::File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(not_regular());
    }
    let mut data = Vec::new();
    file.take(MAX_NAMED_FILE + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_NAMED_FILE {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "larger than 1 MiB"));
    }
    Ok(data)
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// A checked `tls_server_config`.
struct BuiltTls {
    config: Arc<ServerConfig>,
    own_cert: CertificateDer<'static>,
    client_cert_required: bool,
}

fn build_tls(
    t: &RawTls,
    dir: &Path,
    stamps: &mut Stamps,
    invalid: &dyn Fn(&str, String) -> WebConfigError,
) -> Result<Option<BuiltTls>, WebConfigError> {
    // Everything that needs no file is checked whether TLS is on or not.
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

    let key_inline = match &t.key {
        None | Some(serde_yaml_ng::Value::Null) => None,
        Some(serde_yaml_ng::Value::String(s)) if s.is_empty() => None,
        Some(serde_yaml_ng::Value::String(s)) => Some(s.as_bytes().to_vec()),
        Some(_) => {
            return Err(invalid(
                "key",
                "tls_server_config.key: expected the PEM text of the private key".into(),
            ))
        }
    };
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

    // The certificate chain.
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

    // The private key: its content never goes into a message.
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

    // Client certificates.
    let roots = match (non_empty(&t.client_ca_file), non_empty(&t.client_ca)) {
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
    };
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
    Ok(Some(BuiltTls {
        config: Arc::new(config),
        own_cert,
        client_cert_required: matches!(
            client_auth,
            ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert
        ),
    }))
}

fn client_verifier(
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

// ---------------------------------------------------------------------------
// The configuration in force.

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reload {
    /// The files had not changed since the last look.
    Unchanged,
    /// A new configuration is in force.
    Reloaded,
    /// The new files were refused; the previous configuration stays.
    Kept,
}

#[derive(Default)]
struct Watch {
    last_check: Option<Instant>,
    /// Stamps of files already refused, so a broken file is reported once.
    refused: Option<Stamps>,
}

struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            limit,
            tokens: f64::from(limit.burst),
            last: now,
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
        let earned = now.saturating_duration_since(self.last).as_secs_f64()
            / self.limit.interval.as_secs_f64();
        self.tokens = (self.tokens + earned).min(f64::from(self.limit.burst));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The web configuration in force while the server runs, with what it
/// needs between requests: the cache of verified credentials and the rate
/// limiter.
pub struct Live {
    path: PathBuf,
    current: RwLock<Arc<WebConfig>>,
    watch: Mutex<Watch>,
    /// HMAC-SHA256 of (user, hash, password), keyed with a random key made
    /// at start: the cache holds no password, nor anything a password could
    /// be guessed from faster than from its bcrypt hash without the key.
    /// `None` when no random key could be made; then nothing is cached.
    cache_key: Option<ring::hmac::Key>,
    verified: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt computation at a time: they are slow on purpose, and run
    /// on the small blocking pool the collectors also use.
    bcrypt_gate: tokio::sync::Semaphore,
    bucket: Mutex<Option<Bucket>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Live {
    /// The configuration `config`, read from `path`, in force.
    pub fn new(path: &Path, config: WebConfig) -> Arc<Self> {
        let rng = ring::rand::SystemRandom::new();
        let bucket = config.rate_limit.map(|l| Bucket::new(l, Instant::now()));
        Arc::new(Self {
            path: path.to_owned(),
            current: RwLock::new(Arc::new(config)),
            watch: Mutex::new(Watch {
                last_check: Some(Instant::now()),
                refused: None,
            }),
            cache_key: ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng).ok(),
            verified: Mutex::new(HashSet::new()),
            bcrypt_gate: tokio::sync::Semaphore::new(1),
            bucket: Mutex::new(bucket),
        })
    }

    /// The file it is read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The configuration in force.
    pub fn current(&self) -> Arc<WebConfig> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Re-reads the file now (SIGHUP). A broken file keeps the previous
    /// configuration in force; either way the outcome is logged.
    pub fn reload(&self, reason: &str) -> Reload {
        match WebConfig::load(&self.path) {
            Ok(config) => {
                lock(&self.watch).refused = None;
                self.install(config, reason);
                Reload::Reloaded
            }
            Err(e) => {
                lock(&self.watch).refused = Some(restamp(&self.current().stamps));
                tracing::warn!(file = %self.path.display(), reason, err = %e, "web configuration not reloaded: keeping the previous one");
                Reload::Kept
            }
        }
    }

    /// Re-reads the file when it or a file it names has changed since it
    /// was read, looking at most once per [`CHECK_INTERVAL`].
    pub fn check_for_changes(&self) -> Reload {
        let now = Instant::now();
        {
            let mut watch = lock(&self.watch);
            if watch
                .last_check
                .is_some_and(|t| now.saturating_duration_since(t) < CHECK_INTERVAL)
            {
                return Reload::Unchanged;
            }
            watch.last_check = Some(now);
        }
        let stamps = self.current().stamps.clone();
        let fresh = restamp(&stamps);
        if fresh == stamps || lock(&self.watch).refused.as_ref() == Some(&fresh) {
            return Reload::Unchanged;
        }
        match WebConfig::load(&self.path) {
            Ok(config) => {
                lock(&self.watch).refused = None;
                self.install(config, "file changed");
                Reload::Reloaded
            }
            Err(e) => {
                lock(&self.watch).refused = Some(fresh);
                tracing::warn!(file = %self.path.display(), err = %e, "web configuration changed but is not valid: keeping the previous one");
                Reload::Kept
            }
        }
    }

    fn install(&self, config: WebConfig, reason: &str) {
        tracing::info!(
            file = %self.path.display(),
            reason,
            tls = config.tls.is_some(),
            basic_auth_users = config.users.len(),
            "web configuration reloaded"
        );
        {
            let mut bucket = lock(&self.bucket);
            let same = bucket.as_ref().map(|b| b.limit) == config.rate_limit;
            if !same {
                *bucket = config.rate_limit.map(|l| Bucket::new(l, Instant::now()));
            }
        }
        lock(&self.verified).clear();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
    }

    /// Takes one token from the rate limiter; false when the request must
    /// be refused with 429.
    pub fn allow_request(&self) -> bool {
        match lock(&self.bucket).as_mut() {
            Some(bucket) => bucket.allow(Instant::now()),
            None => true,
        }
    }

    /// Whether a request with this `Authorization` header may pass under
    /// `config`: always when it has no users; otherwise only with the
    /// right user and password.
    pub async fn authorize(&self, config: &WebConfig, header: Option<&HeaderValue>) -> bool {
        if config.users.is_empty() {
            return true;
        }
        let Some((user, password)) = header.and_then(parse_basic_auth) else {
            return false;
        };
        let known = config.users.get(&user);
        let hash = known.unwrap_or(&config.dummy_hash).clone();
        let key = self
            .cache_key
            .as_ref()
            .and_then(|k| cache_key(k, &user, &hash, &password));
        let cached = |key: &Option<[u8; 32]>| {
            key.as_ref()
                .is_some_and(|k| lock(&self.verified).contains(k))
        };
        if known.is_some() && cached(&key) {
            return true;
        }
        let Ok(_permit) = self.bcrypt_gate.acquire().await else {
            return false;
        };
        // Verified by another request while this one waited?
        if known.is_some() && cached(&key) {
            return true;
        }
        let matches =
            tokio::task::spawn_blocking(move || bcrypt::verify(&password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        let ok = matches && known.is_some();
        if let (true, Some(key)) = (ok, key) {
            let mut verified = lock(&self.verified);
            if verified.len() >= CACHE_CAPACITY {
                verified.clear();
            }
            verified.insert(key);
        }
        ok
    }
}

/// The cache key of a (user, hash, password): each part length-prefixed,
/// so no two different triples give the same input.
fn cache_key(key: &ring::hmac::Key, user: &str, hash: &str, password: &[u8]) -> Option<[u8; 32]> {
    let mut ctx = ring::hmac::Context::with_key(key);
    for part in [user.as_bytes(), hash.as_bytes(), password] {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    ctx.sign().as_ref().try_into().ok()
}

/// The user and password of a `Basic` `Authorization` header; `None` when
/// it is another scheme, not base64, has no colon or a user that is not
/// UTF-8.
pub fn parse_basic_auth(header: &HeaderValue) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    let text = header.to_str().ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = decoded.iter().position(|b| *b == b':')?;
    let user = String::from_utf8(decoded[..colon].to_vec()).ok()?;
    Some((user, decoded[colon + 1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pki {
        dir: tempfile::TempDir,
    }

    /// A CA, a server certificate for 127.0.0.1 signed by it, and a second
    /// key that belongs to no certificate, written into a temporary directory.
    fn pki() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let other = rcgen::KeyPair::generate().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("other.key"), other.serialize_pem()).unwrap();
        Pki { dir }
    }

    impl Pki {
        fn parse(&self, text: &str) -> Result<WebConfig, WebConfigError> {
            let path = self.dir.path().join("web.yml");
            std::fs::write(&path, text).unwrap();
            WebConfig::load(&path)
        }

        fn error(&self, text: &str) -> String {
            self.parse(text).unwrap_err().to_string()
        }
    }

    fn hash(password: &str) -> String {
        bcrypt::hash(password, 4).unwrap()
    }

    #[test]
    fn empty_file_means_plain_http_without_auth() {
        let p = pki();
        for text in ["", "\n", "# nothing\n", "---\n", "tls_server_config:\n"] {
            let c = p.parse(text).unwrap();
            assert!(c.tls().is_none(), "{text:?}");
            assert_eq!(c.user_count(), 0);
            assert!(c.headers().is_empty());
            assert!(c.http2());
        }
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line() {
        let p = pki();
        let e = p.error("basic_auth_users: {}\nnope: 1\n");
        assert!(e.contains("web.yml:2:"), "{e}");
        assert!(e.contains("unknown field `nope`"), "{e}");
        let e = p.error(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  certfile: x\n",
        );
        assert!(e.contains("unknown field `certfile`"), "{e}");
        let e = p.error("http_server_config:\n  http3: true\n");
        assert!(e.contains("unknown field `http3`"), "{e}");
        let e = p.error("not: [valid\n");
        assert!(e.starts_with("--web.config.file "), "{e}");
    }

    #[test]
    fn a_good_tls_config_builds_with_relative_paths() {
        let p = pki();
        let c = p
            .parse(
                "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS12\n  max_version: TLS13\n  \
                 cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n  \
                 curve_preferences: [CurveP256, X25519]\n  prefer_server_cipher_suites: false\n",
            )
            .unwrap();
        let tls = c.tls().unwrap();
        assert!(!tls.ignore_client_order);
        assert_eq!(tls.alpn_protocols, vec![b"http/1.1".to_vec()]);
        let names: Vec<_> = tls
            .crypto_provider()
            .cipher_suites
            .iter()
            .map(|s| format!("{:?}", s.suite()))
            .collect();
        assert_eq!(
            names,
            [
                "TLS13_AES_256_GCM_SHA384",
                "TLS13_AES_128_GCM_SHA256",
                "TLS13_CHACHA20_POLY1305_SHA256",
                "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
            ]
        );
        let groups: Vec<_> = tls
            .crypto_provider()
            .kx_groups
            .iter()
            .map(|g| format!("{:?}", g.name()))
            .collect();
        assert_eq!(groups, ["secp256r1", "X25519"]);
        // The files read are watched: the configuration and both PEM files.
        assert_eq!(c.stamps.len(), 3);
        assert!(c.stamps.iter().all(|(_, s)| s.is_some()));
    }

    #[test]
    fn missing_or_unreadable_certificate_and_key_are_refused() {
        let p = pki();
        let e = p.error("tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n");
        assert!(
            e.contains("cert_file") && e.contains("missing.pem") && e.contains("No such file"),
            "{e}"
        );
        let e = p.error("tls_server_config:\n  cert_file: server.pem\n  key_file: missing.key\n");
        assert!(e.contains("key_file") && e.contains("missing.key"), "{e}");
        let e = p.error("tls_server_config:\n  cert_file: \"\"\n  key_file: server.key\n");
        assert!(e.contains("missing one of cert or cert_file"), "{e}");
        let e = p.error("tls_server_config:\n  cert_file: server.pem\n");
        assert!(e.contains("missing one of key or key_file"), "{e}");
        // A PEM file without a certificate.
        let e = p.error("tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n");
        assert!(e.contains("no PEM certificate"), "{e}");
    }

    #[test]
    fn a_key_that_is_not_the_certificates_is_refused_without_showing_it() {
        let p = pki();
        let e = p.error("tls_server_config:\n  cert_file: server.pem\n  key_file: other.key\n");
        assert!(e.contains("does not match the certificate"), "{e}");
        assert!(e.contains("web.yml:3:"), "{e}");
        // Garbage where the key should be: the message names the file, not its content.
        let secret = "SECRET-KEY-MATERIAL-4711";
        std::fs::write(
            p.dir.path().join("bad.key"),
            format!("-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n"),
        )
        .unwrap();
        let e = p.error("tls_server_config:\n  cert_file: server.pem\n  key_file: bad.key\n");
        assert!(
            e.contains("bad.key") && e.contains("no PEM private key"),
            "{e}"
        );
        assert!(!e.contains(secret), "{e}");
        let e = p.error(&format!(
            "tls_server_config:\n  cert_file: server.pem\n  key: \"{secret}\"\n"
        ));
        assert!(!e.contains(secret), "{e}");
        let e = p.error("tls_server_config:\n  cert_file: server.pem\n  key: 123456789\n");
        assert!(!e.contains("123456789"), "{e}");
    }

    #[test]
    fn inline_certificate_and_key_work() {
        let p = pki();
        let cert = std::fs::read_to_string(p.dir.path().join("server.pem")).unwrap();
        let key = std::fs::read_to_string(p.dir.path().join("server.key")).unwrap();
        let indent = |s: &str| s.lines().map(|l| format!("    {l}\n")).collect::<String>();
        let c = p
            .parse(&format!(
                "tls_server_config:\n  cert: |\n{}  key: |\n{}",
                indent(&cert),
                indent(&key)
            ))
            .unwrap();
        assert!(c.tls().is_some());
    }

    #[test]
    fn tls_versions_ciphers_and_curves_rustls_lacks_are_refused() {
        let p = pki();
        let base = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";
        let e = p.error(&format!("{base}  min_version: TLS10\n"));
        assert!(
            e.contains(
                "min_version: TLS10 is not supported: rustls implements TLS 1.2 and 1.3 only"
            ),
            "{e}"
        );
        assert!(e.contains("web.yml:4:"), "{e}");
        let e = p.error(&format!("{base}  max_version: TLS11\n"));
        assert!(e.contains("max_version: TLS11 is not supported"), "{e}");
        let e = p.error(&format!("{base}  min_version: TLS14\n"));
        assert!(e.contains("unknown TLS version: TLS14"), "{e}");
        let e = p.error(&format!(
            "{base}  min_version: TLS13\n  max_version: TLS12\n"
        ));
        assert!(e.contains("above max_version"), "{e}");
        let e = p.error(&format!("{base}  cipher_suites: [TLS_INVENTED_CIPHER]\n"));
        assert!(e.contains("TLS_INVENTED_CIPHER: unknown cipher"), "{e}");
        assert!(e.contains("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), "{e}");
        let e = p.error(&format!(
            "{base}  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"
        ));
        assert!(e.contains("not implemented by rustls"), "{e}");
        let e = p.error(&format!("{base}  curve_preferences: [CurveP521]\n"));
        assert!(e.contains("CurveP521 is not implemented by rustls"), "{e}");
        let e = p.error(&format!("{base}  curve_preferences: [InventedCurve]\n"));
        assert!(e.contains("unknown curve"), "{e}");
        // Checked even when TLS is off, as exporter-toolkit does.
        let e = p.error("tls_server_config:\n  min_version: TLS10\n");
        assert!(e.contains("TLS10 is not supported"), "{e}");
        // Only TLS 1.3.
        let c = p.parse(&format!("{base}  min_version: TLS13\n")).unwrap();
        assert!(c.tls().is_some());
    }

    #[test]
    fn client_auth_settings_are_checked() {
        let p = pki();
        let base = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n";
        let e = p.error(&format!("{base}  client_auth_type: Bogus\n"));
        assert!(e.contains("invalid ClientAuth \"Bogus\""), "{e}");
        let e = p.error(&format!("{base}  client_ca_file: ca.pem\n"));
        assert!(
            e.contains("client CA's have been configured without a Client Auth Policy"),
            "{e}"
        );
        let e = p.error(&format!(
            "{base}  client_auth_type: RequireAndVerifyClientCert\n"
        ));
        assert!(e.contains("needs client_ca_file"), "{e}");
        let e = p.error(&format!(
            "{base}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: missing.pem\n"
        ));
        assert!(e.contains("missing.pem"), "{e}");
        let e = p.error(&format!(
            "{base}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: server.key\n"
        ));
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = p.error(&format!("{base}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  client_allowed_sans: [a]\n"));
        assert!(e.contains("client_allowed_sans is not supported"), "{e}");
        for (auth, mandatory, offered) in [
            ("NoClientCert", false, false),
            ("RequestClientCert", false, true),
            ("RequireAnyClientCert", true, true),
            ("RequireClientCert", true, true),
            ("VerifyClientCertIfGiven", false, true),
            ("RequireAndVerifyClientCert", true, true),
        ] {
            let kind = ClientAuth::parse(auth).unwrap();
            let verifies = matches!(
                kind,
                ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
            );
            let ca = if verifies {
                "\n  client_ca_file: ca.pem"
            } else {
                ""
            };
            assert!(
                p.parse(&format!("{base}  client_auth_type: {auth}{ca}\n"))
                    .unwrap()
                    .tls()
                    .is_some(),
                "{auth}"
            );
            let roots = verifies
                .then(|| crate::tls::ca_roots_pem(&std::fs::read(p.dir.path().join("ca.pem")).unwrap()).unwrap());
            let v = client_verifier(
                kind,
                roots,
                &Arc::new(rustls::crypto::ring::default_provider()),
            )
            .unwrap();
            assert_eq!(v.offer_client_auth(), offered, "{auth}");
            assert_eq!(offered && v.client_auth_mandatory(), mandatory, "{auth}");
        }
    }

    #[test]
    fn users_hashes_are_checked_and_never_shown() {
        let p = pki();
        let good = hash("pw");
        let c = p
            .parse(&format!(
                "basic_auth_users:\n  alice: {good}\n  bob: '{good}'\n"
            ))
            .unwrap();
        assert_eq!(c.user_count(), 2);
        assert!(!format!("{c:?}").contains(&good), "{c:?}");
        let broken = "$2y$10$tooShortToBeAHash";
        let e = p.error(&format!(
            "basic_auth_users:\n  alice: {good}\n  carol: {broken}\n"
        ));
        assert!(
            e.contains("web.yml:3:") && e.contains("user \"carol\" is not a bcrypt hash"),
            "{e}"
        );
        assert!(!e.contains("tooShort"), "{e}");
        let e = p.error("basic_auth_users:\n  dave: 12345678\n");
        assert!(e.contains("not a string") && !e.contains("12345678"), "{e}");
        let e = p.error(&format!(
            "basic_auth_users:\n  erin: '{}'\n",
            good.replacen("$04$", "$99$", 1)
        ));
        assert!(e.contains("cost"), "{e}");
        let e = p.error("basic_auth_users:\n  frank: plaintext-password\n");
        assert!(!e.contains("plaintext-password"), "{e}");
    }

    #[test]
    fn values_in_the_wrong_place_are_not_quoted() {
        let p = pki();
        let hash = hash("pw");
        for text in [
            format!("basic_auth_users: \"alice:{hash}\"\n"),
            format!("basic_auth_users: [\"{hash}\"]\n"),
            format!("basic_auth_users:\n  alice: [\"{hash}\"]\n"),
            format!("basic_auth_users:\n  ? [a]\n  : \"{hash}\"\n"),
            format!("{hash}\n"),
            "hunter2-the-password\n".to_owned(),
            "rate_limit:\n  burst: \"hunter2-the-password\"\n".to_owned(),
            "tls_server_config: \"hunter2-the-password\"\n".to_owned(),
        ] {
            let e = p.error(&text);
            assert!(
                !e.contains(&hash[7..]) && !e.contains("hunter2"),
                "{text:?}: {e}"
            );
        }
        assert_eq!(
            without_quoted_strings(
                r#"a: invalid type: string "x\"y", expected u32 and string "z" at line 1"#
            ),
            "a: invalid type: string (not shown), expected u32 and string (not shown) at line 1"
        );
        assert_eq!(
            without_quoted_strings(r#"unterminated string "abc"#),
            "unterminated string (not shown)"
        );
    }

    #[test]
    fn dummy_hashes_are_valid_and_take_the_users_cost() {
        let users: BTreeMap<String, String> =
            [("a", "$2y$12$x"), ("b", "$2y$12$y"), ("c", "$2b$05$z")]
                .iter()
                .map(|(u, h)| (u.to_string(), h.to_string()))
                .collect();
        assert!(dummy_hash(&users).starts_with("$2b$12$"));
        assert!(dummy_hash(&BTreeMap::new()).starts_with("$2b$10$"));
        let cheap = format!("$2b$04${DUMMY_HASH_BODY}");
        assert_eq!(check_bcrypt(&cheap), Ok(()));
        assert_eq!(bcrypt::verify("", &cheap).ok(), Some(false));
    }

    #[test]
    fn headers_are_limited_to_exporter_toolkits_set() {
        let p = pki();
        let c = p
            .parse(
                "http_server_config:\n  http2: false\n  headers:\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    \
                 X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1\n    Content-Security-Policy: default-src 'self'\n",
            )
            .unwrap();
        assert!(!c.http2());
        let got: Vec<_> = c
            .headers()
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
            .collect();
        assert_eq!(got.len(), 5);
        assert!(got.contains(&"x-frame-options: deny".to_owned()), "{got:?}");
        assert!(got.contains(&"x-xss-protection: 1".to_owned()), "{got:?}");
        let e = p.error("http_server_config:\n  headers:\n    X-Powered-By: me\n");
        assert!(
            e.contains("HTTP header \"X-Powered-By\" can not be configured"),
            "{e}"
        );
        let e = p.error("http_server_config:\n  headers:\n    X-Frame-Options: allow\n");
        assert!(e.contains("invalid value for X-Frame-Options"), "{e}");
        let e = p.error("http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n");
        assert!(
            e.contains("invalid value for X-Content-Type-Options"),
            "{e}"
        );
    }

    #[test]
    fn rate_limit_and_go_durations() {
        let p = pki();
        let c = p
            .parse("rate_limit:\n  burst: 2\n  interval: 1m30s\n")
            .unwrap();
        assert_eq!(
            c.rate_limit(),
            Some(RateLimit {
                interval: Duration::from_secs(90),
                burst: 2
            })
        );
        assert_eq!(
            p.parse("rate_limit:\n  burst: 2\n").unwrap().rate_limit(),
            None
        );
        assert!(p
            .error("rate_limit:\n  interval: soon\n")
            .contains("not a duration"));
        assert_eq!(crate::duration::parse("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(crate::duration::parse("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(crate::duration::parse("0"), Some(Duration::ZERO));
        assert_eq!(crate::duration::parse("10"), None);
        assert_eq!(crate::duration::parse("-1s"), None);
        assert_eq!(crate::duration::parse(""), None);

        let now = Instant::now();
        let mut b = Bucket::new(
            RateLimit {
                interval: Duration::from_secs(1),
                burst: 2,
            },
            now,
        );
        assert!(b.allow(now) && b.allow(now) && !b.allow(now));
        assert!(b.allow(now + Duration::from_secs(1)));
        assert!(!b.allow(now + Duration::from_secs(1)));
    }

    #[test]
    fn basic_auth_headers() {
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        // "alice:pa:ss" — the password may hold colons.
        assert_eq!(
            parse_basic_auth(&h("Basic YWxpY2U6cGE6c3M=")),
            Some(("alice".into(), b"pa:ss".to_vec()))
        );
        assert_eq!(
            parse_basic_auth(&h("basic   YWxpY2U6cGE6c3M=")),
            Some(("alice".into(), b"pa:ss".to_vec()))
        );
        assert_eq!(parse_basic_auth(&h("Bearer YWxpY2U6cGE6c3M=")), None);
        assert_eq!(parse_basic_auth(&h("Basic !!!")), None);
        // "alice" without a colon.
        assert_eq!(parse_basic_auth(&h("Basic YWxpY2U=")), None);
        assert_eq!(parse_basic_auth(&h("Basic")), None);
    }

    fn basic(user: &str, password: &str) -> HeaderValue {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {token}")).unwrap()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn only_the_right_password_passes_cached_or_not() {
        let p = pki();
        let alice = hash("alice-pw");
        let path = p.dir.path().join("web.yml");
        std::fs::write(
            &path,
            format!(
                "basic_auth_users:\n  alice: {alice}\n  bob: {}\n",
                hash("bob-pw")
            ),
        )
        .unwrap();
        let live = Live::new(&path, WebConfig::load(&path).unwrap());
        let c = live.current();
        block_on(async {
            assert!(!live.authorize(&c, None).await);
            assert!(live.authorize(&c, Some(&basic("alice", "alice-pw"))).await);
            // Now cached: a wrong password still fails, as does another user's.
            assert!(live.authorize(&c, Some(&basic("alice", "alice-pw"))).await);
            assert!(!live.authorize(&c, Some(&basic("alice", "alice-pw "))).await);
            assert!(!live.authorize(&c, Some(&basic("alice", ""))).await);
            assert!(!live.authorize(&c, Some(&basic("bob", "alice-pw"))).await);
            assert!(live.authorize(&c, Some(&basic("bob", "bob-pw"))).await);
            assert!(
                !live
                    .authorize(&c, Some(&basic("mallory", "alice-pw")))
                    .await
            );
            // CVE-2022-46146's shape: user and hash run together must not
            // meet a cached entry of another split.
            assert!(
                !live
                    .authorize(&c, Some(&basic(&format!("alice{alice}"), "alice-pw")))
                    .await
            );
            assert!(
                !live
                    .authorize(&c, Some(&basic("alice", &format!("{alice}alice-pw"))))
                    .await
            );
        });
        assert_eq!(lock(&live.verified).len(), 2);
    }

    #[test]
    fn reload_takes_good_files_and_keeps_the_last_good_one() {
        let p = pki();
        let path = p.dir.path().join("web.yml");
        std::fs::write(
            &path,
            format!("basic_auth_users:\n  alice: {}\n", hash("one")),
        )
        .unwrap();
        let live = Live::new(&path, WebConfig::load(&path).unwrap());
        block_on(async {
            assert!(
                live.authorize(&live.current(), Some(&basic("alice", "one")))
                    .await
            )
        });
        // Within a second of the last look nothing is read.
        std::fs::write(
            &path,
            format!("basic_auth_users:\n  alice: {}\n", hash("two")),
        )
        .unwrap();
        assert_eq!(live.check_for_changes(), Reload::Unchanged);
        lock(&live.watch).last_check = None;
        assert_eq!(live.check_for_changes(), Reload::Reloaded);
        block_on(async {
            let c = live.current();
            assert!(!live.authorize(&c, Some(&basic("alice", "one"))).await);
            assert!(live.authorize(&c, Some(&basic("alice", "two"))).await);
        });
        // A broken file is refused once and the previous configuration stays.
        std::fs::write(&path, "basic_auth_users:\n  alice: not-a-hash\n").unwrap();
        lock(&live.watch).last_check = None;
        assert_eq!(live.check_for_changes(), Reload::Kept);
        lock(&live.watch).last_check = None;
        assert_eq!(live.check_for_changes(), Reload::Unchanged);
        assert_eq!(live.reload("SIGHUP"), Reload::Kept);
        block_on(async {
            assert!(
                live.authorize(&live.current(), Some(&basic("alice", "two")))
                    .await
            )
        });
        // A removed file is a broken one too.
        std::fs::remove_file(&path).unwrap();
        lock(&live.watch).last_check = None;
        assert_eq!(live.check_for_changes(), Reload::Kept);
        assert_eq!(live.current().user_count(), 1);
        // Fixed again: taken.
        std::fs::write(&path, "").unwrap();
        lock(&live.watch).last_check = None;
        assert_eq!(live.check_for_changes(), Reload::Reloaded);
        assert_eq!(live.current().user_count(), 0);
    }

    #[test]
    fn a_changed_certificate_file_is_reloaded() {
        let p = pki();
        let path = p.dir.path().join("web.yml");
        std::fs::write(
            &path,
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n",
        )
        .unwrap();
        let live = Live::new(&path, WebConfig::load(&path).unwrap());
        // The key replaced by one that does not match: kept.
        std::fs::copy(
            p.dir.path().join("other.key"),
            p.dir.path().join("server.key"),
        )
        .unwrap();
        lock(&live.watch).last_check = None;
        assert_eq!(live.check_for_changes(), Reload::Kept);
        assert!(live.current().tls().is_some());
    }

    #[test]
    fn named_files_must_be_regular_and_small() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_bounded(Path::new("/dev/zero")).is_err(), "a device is not a certificate");
        assert!(read_bounded(dir.path()).is_err(), "a directory is not a certificate");
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'a'; (MAX_NAMED_FILE + 1) as usize]).unwrap();
        assert!(read_bounded(&big).unwrap_err().to_string().contains("1 MiB"));
        let ok = dir.path().join("ok.pem");
        std::fs::write(&ok, b"pem").unwrap();
        assert_eq!(read_bounded(&ok).unwrap(), b"pem");
    }

}
