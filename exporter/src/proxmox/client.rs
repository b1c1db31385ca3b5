//! The HTTPS client for the Proxmox VE API: API token authentication, TLS
//! trust (CA file, pinned SHA-256 fingerprint, or an explicit insecure
//! opt-in), HTTP/1.1 connections reused within one scrape, bounded
//! concurrency and the scrape deadline on every request.
//!
//! The token secret lives only in one sensitive header value: it is never
//! part of a URL, a label, a log line or an error message.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hyper::client::conn::http1;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, HOST};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use crate::http_get::{self, GetError, Sender};

/// Largest response body accepted (a big cluster's `/cluster/resources`
/// is about a megabyte; a long vzdump task log a few).
pub const MAX_BODY: usize = 16 << 20;

/// The longest a TCP connect plus TLS handshake may take, whatever the
/// scrape deadline leaves.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a client could not be set up from its settings.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The URL is not `https://HOST[:PORT][/PREFIX]`.
    #[error("URL {url:?}: {detail}")]
    Url {
        /// The URL as given (never holds a secret: user info is refused).
        url: String,
        /// What is wrong.
        detail: &'static str,
    },
    /// The token is not of the form `USER@REALM!TOKENID=SECRET`.
    #[error("API token from {source_name}: {detail}")]
    Token {
        /// Where it was read from (file path or environment variable name).
        source_name: String,
        /// What is wrong; never quotes the token.
        detail: &'static str,
    },
    /// The token file was refused: missing, unreadable, not a regular
    /// file, or writable by others (see [`crate::secret`]).
    #[error("API token file {0}")]
    TokenFile(#[source] crate::secret::Error),
    /// The CA file could not be read or holds no certificate.
    #[error("CA file {path}: {detail}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The fingerprint is not 32 hexadecimal bytes.
    #[error("fingerprint {value:?}: expected a SHA-256 fingerprint, 32 hexadecimal bytes (AA:BB:...)")]
    Fingerprint {
        /// The value as given (a public certificate hash, not a secret).
        value: String,
    },
    /// None or several of the trust settings were given.
    #[error("{0}")]
    Trust(&'static str),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// Why one API request failed. The message names the request path (which
/// never holds a secret).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// TCP connect failed.
    #[error("{path}: connecting to {authority}: {source}")]
    Connect {
        /// The API path requested.
        path: String,
        /// `HOST:PORT`.
        authority: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed (certificate refused, say).
    #[error("{path}: TLS handshake with {authority}: {source}")]
    Tls {
        /// The API path requested.
        path: String,
        /// `HOST:PORT`.
        authority: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed (connection dropped, malformed response).
    #[error("{path}: {source}")]
    Http {
        /// The API path requested.
        path: String,
        /// Why.
        #[source]
        source: hyper::Error,
    },
    /// The server answered with an error status. Proxmox puts its message in
    /// the reason phrase ("Permission check failed ...").
    #[error("{path}: HTTP {status} {reason}")]
    Status {
        /// The API path requested.
        path: String,
        /// The status code.
        status: u16,
        /// The reason phrase, shortened.
        reason: String,
    },
    /// The body was larger than [`MAX_BODY`].
    #[error("{path}: response body larger than {MAX_BODY} bytes")]
    TooLarge {
        /// The API path requested.
        path: String,
    },
    /// Reading the body failed.
    #[error("{path}: reading the response body: {detail}")]
    Body {
        /// The API path requested.
        path: String,
        /// Why.
        detail: String,
    },
    /// The body is not `{"data": ...}` of the expected shape.
    #[error("{path}: unexpected response: {detail}")]
    Decode {
        /// The API path requested.
        path: String,
        /// serde's message (line and column).
        detail: String,
    },
    /// The scrape deadline passed first.
    #[error("{path}: deadline exceeded")]
    Timeout {
        /// The API path requested.
        path: String,
    },
}

impl ApiError {
    /// True for a request the deadline cut short.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ApiError::Timeout { .. })
    }
}

/// An API token, kept only as the ready `Authorization` header value.
#[derive(Clone)]
pub struct Token {
    header: HeaderValue,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Parses `USER@REALM!TOKENID=SECRET` (an optional `PVEAPIToken=`
    /// prefix and surrounding white space are dropped). `source_name` names
    /// the file or variable in errors; the text itself is never quoted.
    pub fn parse(text: &str, source_name: &str) -> Result<Self, SetupError> {
        let err = |detail| SetupError::Token { source_name: source_name.to_owned(), detail };
        let text = text.trim();
        let text = text.strip_prefix("PVEAPIToken=").unwrap_or(text);
        if text.is_empty() {
            return Err(err("empty"));
        }
        let Some((user, rest)) = text.split_once('!') else {
            return Err(err("not of the form USER@REALM!TOKENID=SECRET (no '!')"));
        };
        let Some((token_id, secret)) = rest.split_once('=') else {
            return Err(err("not of the form USER@REALM!TOKENID=SECRET (no '=')"));
        };
        if !user.contains('@') || user.starts_with('@') || user.ends_with('@') {
            return Err(err("the user part is not USER@REALM"));
        }
        if token_id.is_empty() || secret.is_empty() {
            return Err(err("empty token id or secret"));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(err("holds white space or non-ASCII characters"));
        }
        let mut header = HeaderValue::try_from(format!("PVEAPIToken={text}"))
            .map_err(|_| err("not a valid HTTP header value"))?;
        header.set_sensitive(true);
        Ok(Self { header })
    }

    /// `text` with the token's secret replaced by `<redacted>`: for what a
    /// server sends back (a reason phrase echoing the header, say), before
    /// it can reach a log line or the landing page.
    pub fn redact(&self, text: &str) -> String {
        let secret = self.header.to_str().ok().and_then(|h| h.split_once('!')).and_then(|(_, rest)| rest.split_once('='));
        match secret {
            Some((_, secret)) if !secret.is_empty() && text.contains(secret) => text.replace(secret, "<redacted>"),
            _ => text.to_owned(),
        }
    }

}

/// How the server's certificate is trusted.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Certificates chaining to these PEM CA certificates, for the URL's host.
    CaFile(std::path::PathBuf),
    /// Exactly the certificate with this SHA-256 fingerprint (Proxmox shows
    /// it under Node → System → Certificates); name and expiry unchecked.
    Fingerprint([u8; 32]),
    /// Any certificate (explicit opt-in only).
    InsecureSkipVerify,
}

/// Parses a SHA-256 fingerprint: 64 hexadecimal digits, optionally in pairs
/// separated by `:` (the form Proxmox displays), any case.
pub fn parse_fingerprint(value: &str) -> Result<[u8; 32], SetupError> {
    let err = || SetupError::Fingerprint { value: value.to_owned() };
    let digits: Vec<u8> = value.trim().bytes().filter(|b| *b != b':').collect();
    if digits.len() != 64 {
        return Err(err());
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let hex = std::str::from_utf8(pair).map_err(|_| err())?;
        out[i] = u8::from_str_radix(hex, 16).map_err(|_| err())?;
    }
    Ok(out)
}

pub use crate::tls::{hex_colon, sha256_fingerprint};

/// Builds the rustls configuration for a trust setting (ring provider).
pub fn tls_config(trust: &Trust) -> Result<Arc<ClientConfig>, SetupError> {
    let mismatch: crate::tls::Mismatch = |seen| format!("certificate fingerprint {} does not match the configured one", hex_colon(seen));
    Ok(match trust {
        Trust::CaFile(path) => crate::tls::ca_file_config(path)?,
        Trust::Fingerprint(pin) => crate::tls::pinned_config(Some(*pin), mismatch)?,
        Trust::InsecureSkipVerify => crate::tls::pinned_config(None, mismatch)?,
    })
}

impl From<crate::tls::SetupError> for SetupError {
    fn from(e: crate::tls::SetupError) -> Self {
        match e {
            crate::tls::SetupError::CaFile { path, detail } => SetupError::CaFile { path, detail },
            crate::tls::SetupError::Config(detail) => SetupError::Tls(detail),
        }
    }
}

/// Where an endpoint is: parsed from `https://HOST[:PORT][/PREFIX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port (8006 when not given, as Proxmox's).
    pub port: u16,
    /// `HOST:PORT` as sent in the `Host` header.
    pub authority: String,
    /// Path prefix before `/api2/json` (empty, or `/pve` behind a proxy).
    pub prefix: String,
    /// The URL as shown in labels and logs: `https://HOST:PORT[/PREFIX]`.
    pub display: String,
}

impl Target {
    /// Parses an endpoint URL. Only `https` is accepted; user info (a
    /// place for secrets) is refused.
    pub fn parse(url: &str) -> Result<Self, SetupError> {
        let err = |detail| SetupError::Url { url: redact_userinfo(url), detail };
        let rest = url.trim().strip_prefix("https://").ok_or_else(|| err("must start with https://"))?;
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.contains('@') {
            return Err(err("must not hold user info; give the API token with a token file"));
        }
        if path.contains(['?', '#']) {
            return Err(err("must not hold a query or fragment"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(|| err("unterminated IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(err("bad port")),
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(err("no host"));
        }
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| err("bad port"))?,
            None => 8006,
        };
        let prefix = path.trim_end_matches('/').to_owned();
        let host_part = if host.contains(':') { format!("[{host}]") } else { host.clone() };
        let authority = format!("{host_part}:{port}");
        let display = format!("https://{authority}{prefix}");
        Ok(Self { host, port, authority, prefix, display })
    }

    fn server_name(&self) -> Result<ServerName<'static>, SetupError> {
        ServerName::try_from(self.host.clone()).map_err(|_| SetupError::Url {
            url: self.display.clone(),
            detail: "host is neither a DNS name nor an IP address",
        })
    }
}

/// Shows a URL with any user info replaced, for error messages.
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://<redacted>@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// One configured API endpoint: where it is, how to trust it, which token.
/// Built once at start-up; each scrape opens a [`Session`] on it.
#[derive(Clone)]
pub struct Client {
    target: Arc<Target>,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    token: Token,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("target", &self.target.display).field("token", &self.token).finish()
    }
}

impl Client {
    /// A client for `target` trusting per `trust` and sending `token`. The
    /// TLS configuration is kept, so sessions resume across scrapes.
    pub fn new(target: Target, trust: &Trust, token: Token) -> Result<Self, SetupError> {
        let server_name = target.server_name()?;
        let connector = TlsConnector::from(tls_config(trust)?);
        Ok(Self { target: Arc::new(target), server_name, connector, token })
    }

    /// `text` with this client's token secret cut out (see [`Token::redact`]).
    pub fn redact(&self, text: &str) -> String {
        self.token.redact(text)
    }

    /// The endpoint as shown in labels and logs.
    pub fn display(&self) -> &str {
        &self.target.display
    }

    /// Opens a session for one scrape: at most `concurrency` requests at
    /// once, none outliving `deadline`.
    pub fn session(&self, concurrency: usize, deadline: Instant) -> Arc<Session> {
        Arc::new(Session {
            client: self.clone(),
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(concurrency.max(1)),
            deadline,
        })
    }
}

/// One scrape's use of a [`Client`]: a small pool of kept-alive
/// connections, a concurrency bound, and the deadline. Dropping it closes
/// every connection.
pub struct Session {
    client: Client,
    idle: Mutex<Vec<Sender>>,
    permits: Semaphore,
    deadline: Instant,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session").field("endpoint", &self.client.target.display).finish()
    }
}

impl Session {
    /// The session's deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// GETs `/api2/json{path}` (path with its query, already encoded) and
    /// returns the body of a 2xx answer. `limit`, when given, is a further
    /// per-node bound taken before the session's own.
    pub async fn get(&self, path: &str, limit: Option<&Semaphore>) -> Result<Bytes, ApiError> {
        let timeout = || ApiError::Timeout { path: path.to_owned() };
        let work = async {
            let _node_permit = match limit {
                Some(sem) => Some(sem.acquire().await.map_err(|_| timeout())?),
                None => None,
            };
            let _permit = self.permits.acquire().await.map_err(|_| timeout())?;
            self.exchange(path).await
        };
        tokio::time::timeout_at(self.deadline, work).await.unwrap_or_else(|_| Err(timeout()))
    }

    /// Sends on a pooled connection, or a new one; a request that fails on
    /// a reused connection because the server had closed it is sent again
    /// once on a fresh connection (GET is idempotent).
    async fn exchange(&self, path: &str) -> Result<Bytes, ApiError> {
        if let Some(mut sender) = self.take_idle() {
            if sender.ready().await.is_ok() {
                match self.send(&mut sender, path).await {
                    Err(ApiError::Http { source, .. })
                        if source.is_canceled() || source.is_closed() || source.is_incomplete_message() => {}
                    other => {
                        self.put_idle(sender);
                        return other;
                    }
                }
            }
        }
        let mut sender = self.connect(path).await?;
        let result = self.send(&mut sender, path).await;
        self.put_idle(sender);
        result
    }

    fn take_idle(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(s) = idle.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn put_idle(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(sender);
        }
    }

    async fn connect(&self, path: &str) -> Result<Sender, ApiError> {
        let target = &self.client.target;
        let connect_deadline = self.deadline.min(Instant::now() + CONNECT_TIMEOUT);
        let timeout = || ApiError::Timeout { path: path.to_owned() };
        let tcp = tokio::time::timeout_at(connect_deadline, TcpStream::connect((target.host.as_str(), target.port)))
            .await
            .map_err(|_| timeout())?
            .map_err(|source| ApiError::Connect { path: path.to_owned(), authority: target.authority.clone(), source })?;
        let _ = tcp.set_nodelay(true);
        let tls = tokio::time::timeout_at(
            connect_deadline,
            self.client.connector.connect(self.client.server_name.clone(), tcp),
        )
        .await
        .map_err(|_| timeout())?
        .map_err(|source| ApiError::Tls { path: path.to_owned(), authority: target.authority.clone(), source })?;
        let (sender, conn) = http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|source| ApiError::Http { path: path.to_owned(), source })?;
        // The connection task ends when the session drops its sender, and
        // never outlives the scrape.
        let deadline = self.deadline;
        tokio::spawn(async move {
            let _ = tokio::time::timeout_at(deadline, conn).await;
        });
        Ok(sender)
    }

    async fn send(&self, sender: &mut Sender, path: &str) -> Result<Bytes, ApiError> {
        let target = &self.client.target;
        let bad_path = |e: String| ApiError::Decode { path: path.to_owned(), detail: format!("bad request path: {e}") };
        let uri = format!("{}/api2/json{path}", target.prefix);
        let headers = [
            (HOST, HeaderValue::from_str(&target.authority).map_err(|e| bad_path(e.to_string()))?),
            (AUTHORIZATION, self.client.token.header.clone()),
            (ACCEPT, HeaderValue::from_static("application/json")),
        ];
        let answer = http_get::get(sender, &uri, &headers, MAX_BODY, self.deadline).await.map_err(|e| match e {
            GetError::Http(source) => ApiError::Http { path: path.to_owned(), source },
            GetError::TooLarge(_) => ApiError::TooLarge { path: path.to_owned() },
            GetError::Body(detail) => ApiError::Body { path: path.to_owned(), detail },
            GetError::Request(e) => bad_path(e),
            GetError::Timeout => ApiError::Timeout { path: path.to_owned() },
        })?;
        if !answer.status.is_success() {
            let reason = answer
                .reason
                .map(|r| self.client.token.redact(&String::from_utf8_lossy(&r)).chars().take(200).collect::<String>())
                .unwrap_or_else(|| answer.status.canonical_reason().unwrap_or("").to_owned());
            return Err(ApiError::Status { path: path.to_owned(), status: answer.status.as_u16(), reason });
        }
        Ok(answer.body)
    }
}

/// Percent-encodes one path segment (node, storage, UPID): everything but
/// unreserved characters and `:` / `@`.
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b':' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_checked_and_never_shown() {
        let t = Token::parse(" monitor@pve!homelab=0a1b2c3d-aaaa \n", "t.txt").unwrap();
        assert_eq!(t.header.to_str().unwrap(), "PVEAPIToken=monitor@pve!homelab=0a1b2c3d-aaaa");
        assert!(t.header.is_sensitive());
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        let t = Token::parse("PVEAPIToken=monitor@pve!homelab=s3cr3t", "t.txt").unwrap();
        assert_eq!(t.header.to_str().unwrap(), "PVEAPIToken=monitor@pve!homelab=s3cr3t");
        for bad in ["", "s3cr3t", "monitor@pve=s3cr3t", "monitor!homelab=s3cr3t", "monitor@pve!homelab=", "a@b!c=s3 cr3t", "a@b!c=s3cr3t\r\nX: y"] {
            let e = Token::parse(bad, "t.txt").unwrap_err().to_string();
            assert!(e.contains("t.txt"), "{e}");
            assert!(!e.contains("s3cr3t"), "secret in error: {e}");
        }
    }

    #[test]
    fn fingerprints_parse_in_both_forms() {
        let colon = "AB:".repeat(31) + "CD";
        let fp = parse_fingerprint(&colon).unwrap();
        assert_eq!(fp[0], 0xAB);
        assert_eq!(fp[31], 0xCD);
        assert_eq!(parse_fingerprint(&colon.replace(':', "").to_lowercase()).unwrap(), fp);
        assert_eq!(hex_colon(&fp), colon);
        for bad in ["", "AB:CD", &"ZZ".repeat(32), &"AB".repeat(33)] {
            assert!(parse_fingerprint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn targets_parse_and_refuse_user_info() {
        let t = Target::parse("https://pve1.lan:8006").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.authority.as_str(), t.prefix.as_str()), ("pve1.lan", 8006, "pve1.lan:8006", ""));
        let t = Target::parse("https://10.0.0.5/").unwrap();
        assert_eq!((t.port, t.display.as_str()), (8006, "https://10.0.0.5:8006"));
        let t = Target::parse("https://[::1]:8443/pve/").unwrap();
        assert_eq!((t.host.as_str(), t.authority.as_str(), t.prefix.as_str()), ("::1", "[::1]:8443", "/pve"));
        for bad in ["http://pve:8006", "https://:8006", "https://pve:0", "https://pve:x", "https://pve/?a=b", "pve1"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        let e = Target::parse("https://root:hunter2@pve:8006").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("UPID:pve1:0001:vzdump::root@pam!tok:"), "UPID:pve1:0001:vzdump::root@pam%21tok:");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}
