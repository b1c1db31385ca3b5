//! The web configuration file's schema and its checks: users and their
//! bcrypt hashes, response headers, the rate limit, and [`WebConfig`],
//! the checked whole (its TLS part built by `tls_server`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::header::{HeaderName, HeaderValue};
use rustls::pki_types::CertificateDer;
use rustls::ServerConfig;
use serde::Deserialize;

use crate::config_key::line_of_key;

use super::files::{stamp, Stamps, WebConfigError};
use super::tls_server::{build_tls, RawTls};

/// The salt and checksum of a bcrypt hash of a random password nobody
/// knows. A login as an unknown user is checked against it (at the cost of
/// the configured users' hashes) so the answer takes as long as for a
/// known user, and the result is refused whatever it is.
pub(super) const DUMMY_HASH_BODY: &str = "gPsb2BlgCjxKVMCOqt17LujYvx.67v3OgjcE7C6c/1mFGsKfYwRmG";

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

/// A checked web configuration, ready to serve with.
pub struct WebConfig {
    pub(super) tls: Option<Arc<ServerConfig>>,
    /// The certificate the server presents (for the healthcheck's client).
    pub(super) own_cert: Option<CertificateDer<'static>>,
    /// `client_auth_type` makes every client show a certificate.
    pub(super) client_cert_required: bool,
    pub(super) users: BTreeMap<String, String>,
    pub(super) dummy_hash: String,
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) rate_limit: Option<RateLimit>,
    pub(super) http2: bool,
    pub(super) stamps: Stamps,
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
pub(super) fn without_quoted_strings(message: &str) -> String {
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
pub(super) fn check_bcrypt(hash: &str) -> Result<(), &'static str> {
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
pub(super) fn dummy_hash(users: &BTreeMap<String, String>) -> String {
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
