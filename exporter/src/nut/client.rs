//! A small async client of upsd's text protocol over TCP (tokio): connect,
//! optionally `STARTTLS` (rustls), `USERNAME`/`PASSWORD`, `VER`,
//! `LIST UPS`, `LIST VAR`, `LOGOUT`.
//!
//! Every wait is bounded: connecting (with `STARTTLS` and the TLS handshake
//! when asked for) and each read by their own timeouts, and all of it by the
//! session's deadline (itself bounded by the scrape's).
//! When TLS is asked for and cannot be had (upsd refuses `STARTTLS`, the
//! certificate does not verify), connecting fails: there is no fallback to
//! plaintext.
//! Every reply is bounded too: one line by [`Limits::max_line`], one list by
//! [`Limits::max_reply`] bytes, so a server that sends garbage or a 10 MB
//! line costs a clear error and at most those bytes of memory.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::parse::{self, ParseError, UpsEntry};

/// upsd's IANA port.
pub const DEFAULT_PORT: u16 = 3493;

/// Where an upsd listens: `HOST[:PORT]`, `[V6]:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// Host name or IP address (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Address {
    /// Parses `HOST`, `HOST:PORT`, `[V6]` or `[V6]:PORT` (port 3493 when
    /// not given). A URL or anything with a user part is refused, so that
    /// no password can hide in a target.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.is_empty() {
            return Err("empty target".into());
        }
        if t.contains("://") || t.contains('@') || t.contains('/') {
            // Not echoed: it may hold a password.
            return Err("not HOST[:PORT] (no URLs, no user names: put credentials in the config file)".into());
        }
        let (host, port) = if let Some(rest) = t.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(|| format!("{t:?}: missing ']'"))?;
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').ok_or_else(|| format!("{t:?}: expected ':' after ']'"))?)),
            }
        } else if t.matches(':').count() > 1 {
            // A bare IPv6 address.
            (t, None)
        } else {
            match t.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (t, None),
            }
        };
        // Brackets only enclose an IPv6 address; inside a host they would
        // make an address that does not print back as it was given.
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control() || c == '[' || c == ']') {
            return Err(format!("{t:?}: bad host"));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| format!("{t:?}: bad port {p:?}"))?,
        };
        Ok(Self { host: host.to_owned(), port })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// How much a server may send.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest reply line, in bytes.
    pub max_line: usize,
    /// Largest `LIST` reply, in bytes.
    pub max_reply: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // A real UPS has about 100 variables of under 100 bytes each.
        Self { max_line: 64 * 1024, max_reply: 1024 * 1024 }
    }
}

/// How long a session may wait.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For the TCP connection (each address tried).
    pub connect: Duration,
    /// For each read or write to make progress.
    pub io: Duration,
    /// For everything: the session ends at this instant.
    pub deadline: Instant,
}

/// How to secure a session with `STARTTLS`: the rustls configuration (its
/// trust anchors) and the name upsd's certificate must hold.
#[derive(Clone)]
pub struct StartTls {
    connector: TlsConnector,
    server_name: ServerName<'static>,
}

impl StartTls {
    /// Verifies upsd's certificate per `config`, for `server_name`.
    pub fn new(config: Arc<ClientConfig>, server_name: ServerName<'static>) -> Self {
        Self { connector: TlsConnector::from(config), server_name }
    }
}

impl fmt::Debug for StartTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartTls").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

/// Why talking to upsd failed. The message names the step (the command
/// sent; never a password).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The host name did not resolve.
    #[error("resolving {host}: {detail}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        detail: String,
    },
    /// The TCP connection failed.
    #[error("connecting: {0}")]
    Connect(#[source] std::io::Error),
    /// A step did not finish in time.
    #[error("{step}: {why}")]
    Timeout {
        /// The step.
        step: String,
        /// Which bound ran out.
        why: &'static str,
    },
    /// Reading or writing failed.
    #[error("{step}: {source}")]
    Io {
        /// The step.
        step: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The server closed the connection.
    #[error("{step}: connection closed by the server")]
    Closed {
        /// The step.
        step: String,
    },
    /// A reply line was longer than the limit.
    #[error("{step}: reply line longer than {limit} bytes (not upsd?)")]
    LineTooLong {
        /// The step.
        step: String,
        /// The limit.
        limit: usize,
    },
    /// A list reply was larger than the limit.
    #[error("{step}: reply larger than {limit} bytes")]
    ReplyTooLarge {
        /// The step.
        step: String,
        /// The limit.
        limit: usize,
    },
    /// upsd answered `ERR <code>`.
    #[error("{step}: upsd answered ERR {code}")]
    Server {
        /// The step.
        step: String,
        /// The code, e.g. `DATA-STALE`, `UNKNOWN-UPS`, `ACCESS-DENIED`.
        code: String,
    },
    /// upsd answered `STARTTLS` with `ERR` (`FEATURE-NOT-CONFIGURED`: it
    /// has no certificate; `UNKNOWN-COMMAND`: built without TLS).
    #[error("STARTTLS: upsd answered ERR {code}: TLS is not available on this upsd (it needs CERTFILE or CERTPATH in upsd.conf); not falling back to plaintext")]
    StartTlsRefused {
        /// The code.
        code: String,
    },
    /// The TLS handshake after `OK STARTTLS` failed.
    #[error("STARTTLS: TLS handshake: {detail}")]
    Tls {
        /// Why, e.g. `invalid peer certificate: UnknownIssuer`.
        detail: String,
    },
    /// A reply did not have the protocol's shape.
    #[error("{step}: {source}")]
    Protocol {
        /// The step.
        step: String,
        /// What was wrong.
        #[source]
        source: ParseError,
    },
}

impl ClientError {
    /// The upsd error code when the server answered `ERR`.
    pub fn server_code(&self) -> Option<&str> {
        match self {
            ClientError::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The connection under a session: plain TCP, or TLS after `STARTTLS`.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// One connection to upsd.
pub struct Session {
    io: BufReader<Stream>,
    timeouts: Timeouts,
    limits: Limits,
}

impl Session {
    /// Connects to the first address of `addr` that answers and, with
    /// `tls`, secures the connection with `STARTTLS` before anything else
    /// is sent. All of it is bounded by the connect timeout and the deadline.
    pub async fn connect(addr: &Address, tls: Option<&StartTls>, timeouts: Timeouts, limits: Limits) -> Result<Self, ClientError> {
        let connect_by = timeouts.deadline.min(Instant::now() + timeouts.connect);
        let session = Self::connect_tcp(addr, connect_by, timeouts, limits).await?;
        match tls {
            None => Ok(session),
            Some(tls) => match tokio::time::timeout_at(connect_by, session.starttls(tls)).await {
                Ok(result) => result,
                Err(_) => Err(ClientError::Timeout { step: "STARTTLS".into(), why: connect_why(connect_by, timeouts) }),
            },
        }
    }

    async fn connect_tcp(addr: &Address, connect_by: Instant, timeouts: Timeouts, limits: Limits) -> Result<Self, ClientError> {
        let resolved = tokio::time::timeout_at(connect_by, tokio::net::lookup_host((addr.host.as_str(), addr.port)))
            .await
            .map_err(|_| ClientError::Resolve { host: addr.host.clone(), detail: "timed out".into() })?
            .map_err(|e| ClientError::Resolve { host: addr.host.clone(), detail: e.to_string() })?;
        let mut last_err = None;
        for sockaddr in resolved.take(8) {
            match tokio::time::timeout_at(connect_by, TcpStream::connect(sockaddr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(Self { io: BufReader::with_capacity(8 * 1024, Stream::Plain(stream)), timeouts, limits });
                }
                Ok(Err(e)) => last_err = Some(ClientError::Connect(e)),
                Err(_) => return Err(ClientError::Timeout { step: "connecting".into(), why: connect_why(connect_by, timeouts) }),
            }
        }
        Err(last_err.unwrap_or_else(|| ClientError::Resolve { host: addr.host.clone(), detail: "no address".into() }))
    }

    /// `STARTTLS`, then the TLS handshake on the same connection. Anything
    /// but `OK STARTTLS` is an error, and so is any byte the server sends
    /// between that line and the handshake (it could only be injected).
    async fn starttls(mut self, tls: &StartTls) -> Result<Self, ClientError> {
        const STEP: &str = "STARTTLS";
        self.send(STEP, "STARTTLS").await?;
        let reply = self.read_line(STEP).await?;
        if let Some(code) = parse::err_code(&reply) {
            return Err(ClientError::StartTlsRefused { code: code.to_owned() });
        }
        if !reply.starts_with("OK") {
            return Err(ClientError::Protocol {
                step: STEP.into(),
                source: ParseError::Unexpected { expected: "OK STARTTLS", line: parse::excerpt(&reply) },
            });
        }
        if !self.io.buffer().is_empty() {
            return Err(ClientError::Tls { detail: "upsd sent data between OK STARTTLS and the handshake".into() });
        }
        let Stream::Plain(tcp) = self.io.into_inner() else {
            return Err(ClientError::Tls { detail: "the session is already secured".into() });
        };
        let stream = tls.connector.connect(tls.server_name.clone(), tcp).await.map_err(tls_error)?;
        Ok(Self { io: BufReader::with_capacity(8 * 1024, Stream::Tls(Box::new(stream))), timeouts: self.timeouts, limits: self.limits })
    }

    /// True once `STARTTLS` secured the session.
    pub fn is_tls(&self) -> bool {
        matches!(self.io.get_ref(), Stream::Tls(_))
    }

    /// The instant the next read or write must finish by, and why.
    fn io_bound(&self) -> (Instant, &'static str) {
        let io = Instant::now() + self.timeouts.io;
        if io < self.timeouts.deadline {
            (io, "no reply within the read timeout")
        } else {
            (self.timeouts.deadline, "deadline reached")
        }
    }

    async fn send(&mut self, step: &str, line: &str) -> Result<(), ClientError> {
        let (by, why) = self.io_bound();
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        let stream = self.io.get_mut();
        let write = async {
            stream.write_all(&buf).await?;
            // TLS may hold the record until flushed.
            stream.flush().await
        };
        match tokio::time::timeout_at(by, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(ClientError::Io { step: step.to_owned(), source }),
            Err(_) => Err(ClientError::Timeout { step: step.to_owned(), why }),
        }
    }

    /// Reads one line (without its `\n` or `\r\n`), at most
    /// `limits.max_line` bytes; invalid UTF-8 is replaced.
    async fn read_line(&mut self, step: &str) -> Result<String, ClientError> {
        let mut line: Vec<u8> = Vec::new();
        loop {
            let (by, why) = self.io_bound();
            let max = self.limits.max_line;
            if self.io.buffer().is_empty() {
                quick_ack(self.io.get_ref().tcp());
            }
            let (used, done) = {
                let buf = match tokio::time::timeout_at(by, self.io.fill_buf()).await {
                    Ok(Ok(buf)) => buf,
                    Ok(Err(source)) => return Err(ClientError::Io { step: step.to_owned(), source }),
                    Err(_) => return Err(ClientError::Timeout { step: step.to_owned(), why }),
                };
                if buf.is_empty() {
                    return Err(ClientError::Closed { step: step.to_owned() });
                }
                let (take, used, done) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (i, i + 1, true),
                    None => (buf.len(), buf.len(), false),
                };
                if line.len() + take > max {
                    return Err(ClientError::LineTooLong { step: step.to_owned(), limit: max });
                }
                line.extend_from_slice(&buf[..take]);
                (used, done)
            };
            self.io.consume(used);
            if done {
                break;
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(match String::from_utf8(line) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Sends a command and reads its one-line reply, turning `ERR` into an error.
    async fn simple(&mut self, step: &str, command: &str) -> Result<String, ClientError> {
        self.send(step, command).await?;
        let reply = self.read_line(step).await?;
        if let Some(code) = parse::err_code(&reply) {
            return Err(ClientError::Server { step: step.to_owned(), code: code.to_owned() });
        }
        Ok(reply)
    }

    /// `USERNAME` and `PASSWORD`; each must be answered `OK`. What a
    /// server answers instead goes into the error with the password
    /// (as sent and as written) cut out: a broken or hostile server that
    /// echoes the command must not put it in the log or on the landing page.
    pub async fn authenticate(&mut self, username: &str, password: &str) -> Result<(), ClientError> {
        let quoted = quote(password);
        let redact = |text: &str| -> String {
            let mut text = text.to_owned();
            for secret in [quoted.as_str(), quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or(""), password] {
                if !secret.is_empty() {
                    text = text.replace(secret, "<redacted>");
                }
            }
            text
        };
        for (step, command) in [("USERNAME", format!("USERNAME {}", quote(username))), ("PASSWORD", format!("PASSWORD {quoted}"))] {
            let reply = self.simple(step, &command).await.map_err(|e| match e {
                ClientError::Server { step, code } => ClientError::Server { step, code: redact(&code) },
                other => other,
            })?;
            if !reply.starts_with("OK") {
                return Err(ClientError::Protocol {
                    step: step.into(),
                    source: ParseError::Unexpected { expected: "OK", line: parse::excerpt(&redact(&reply)) },
                });
            }
        }
        Ok(())
    }

    /// `VER`: the server's banner, e.g. `Network UPS Tools upsd 2.8.0 - ...`.
    pub async fn version(&mut self) -> Result<String, ClientError> {
        self.simple("VER", "VER").await
    }

    /// `LIST <what>`: the item lines between `BEGIN LIST <what>` and
    /// `END LIST <what>`, at most `limits.max_reply` bytes in all.
    async fn list(&mut self, what: &str) -> Result<Vec<String>, ClientError> {
        let step = format!("LIST {what}");
        self.send(&step, &step).await?;
        let first = self.read_line(&step).await?;
        if let Some(code) = parse::err_code(&first) {
            return Err(ClientError::Server { step, code: code.to_owned() });
        }
        let begin = format!("BEGIN {step}");
        if !same_words(&first, &begin) {
            return Err(ClientError::Protocol {
                step,
                source: ParseError::Unexpected { expected: "BEGIN LIST", line: parse::excerpt(&first) },
            });
        }
        let end = format!("END {step}");
        let mut items = Vec::new();
        let mut total = first.len();
        loop {
            let line = self.read_line(&step).await?;
            total += line.len() + 1;
            if total > self.limits.max_reply {
                return Err(ClientError::ReplyTooLarge { step, limit: self.limits.max_reply });
            }
            if same_words(&line, &end) {
                return Ok(items);
            }
            if let Some(code) = parse::err_code(&line) {
                return Err(ClientError::Server { step, code: code.to_owned() });
            }
            items.push(line);
        }
    }

    /// `LIST UPS`: every UPS this upsd serves.
    pub async fn list_ups(&mut self) -> Result<Vec<UpsEntry>, ClientError> {
        let lines = self.list("UPS").await?;
        lines
            .iter()
            .map(|l| parse::parse_ups_line(l).map_err(|source| ClientError::Protocol { step: "LIST UPS".into(), source }))
            .collect()
    }

    /// `LIST VAR <ups>`: its variables as (name, value) in upsd's order.
    pub async fn list_var(&mut self, ups: &str) -> Result<Vec<(String, String)>, ClientError> {
        let lines = self.list(&format!("VAR {ups}")).await?;
        lines
            .iter()
            .map(|l| {
                parse::parse_var_line(ups, l)
                    .map_err(|source| ClientError::Protocol { step: format!("LIST VAR {ups}"), source })
            })
            .collect()
    }

    /// Says `LOGOUT` without waiting for the answer, then closes.
    pub async fn logout(mut self) {
        let by = self.timeouts.deadline.min(Instant::now() + Duration::from_millis(100));
        let stream = self.io.get_mut();
        let bye = async {
            stream.write_all(b"LOGOUT\n").await?;
            stream.flush().await
        };
        let _ = tokio::time::timeout_at(by, bye).await;
    }
}

/// Which bound a connect step ran out of.
fn connect_why(connect_by: Instant, timeouts: Timeouts) -> &'static str {
    if connect_by == timeouts.deadline {
        "deadline reached"
    } else {
        "connect timeout"
    }
}

/// The handshake's error, with a hint when the certificate was refused.
fn tls_error(e: io::Error) -> ClientError {
    let certificate = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| matches!(r, rustls::Error::InvalidCertificate(_)));
    let detail = if certificate {
        format!("{e} (upsd's certificate does not verify against the CA file for the server name)")
    } else {
        e.to_string()
    };
    ClientError::Tls { detail }
}

/// Asks the kernel to acknowledge the next segments at once. upsd writes a
/// list reply line by line with Nagle's algorithm on, so after its first
/// line it waits for our ACK, which Linux delays by up to 40 ms when we have
/// nothing to send: every `LIST` would cost 40 ms. The flag does not stick,
/// so it is set again before each read. Best effort: errors are ignored.
fn quick_ack(stream: &TcpStream) {
    let _ = rustix::net::sockopt::set_tcp_quickack(stream, true);
}

/// True when two lines hold the same words (upsd separates them by one space).
fn same_words(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// An argument for a command line: quoted, with `"` and `\` escaped, so a
/// password with spaces or quotes stays one argument.
fn quote(arg: &str) -> String {
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        // A line break would end the command: drop it.
        if c != '\n' && c != '\r' {
            out.push(c);
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(Address::parse("nas").unwrap(), Address { host: "nas".into(), port: 3493 });
        assert_eq!(Address::parse("127.0.0.1:1234").unwrap().to_string(), "127.0.0.1:1234");
        assert_eq!(Address::parse("[::1]:99").unwrap(), Address { host: "::1".into(), port: 99 });
        assert_eq!(Address::parse("[::1]").unwrap().to_string(), "[::1]:3493");
        assert_eq!(Address::parse("fe80::1").unwrap().port, 3493);
        for bad in ["", "nas:", "nas:0", "nas:99999", "nut://nas", "user:pw@nas", "[::1", "[::1]x", "a b"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
    }

    /// Found by fuzzing: `PVEAP::1]` was taken as a bare IPv6 host and
    /// printed as `[PVEAP::1]]:3493`, which does not parse again.
    #[test]
    fn brackets_only_around_an_ipv6_address() {
        for bad in ["PVEAP::1]", "fe80::1]:99", "[[::1]]", "[::1]]", "a[b", "x]"] {
            assert!(Address::parse(bad).is_err(), "{bad}");
        }
        let a = Address::parse("[fe80::1]:99").unwrap();
        assert_eq!(Address::parse(&a.to_string()).unwrap(), a);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("pa ss\"w\\d\n"), "\"pa ss\\\"w\\\\d\"");
        let line = format!("PASSWORD {}", quote("a \"b\" \\c"));
        let words = parse::split_words(&line).unwrap();
        assert_eq!(words[1], "a \"b\" \\c");
    }

    /// A fake server on 127.0.0.1: answers each command line with `reply(line)`.
    async fn fake(reply: fn(&str) -> Vec<u8>) -> Address {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut lines = BufReader::new(r).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        if w.write_all(&reply(&line)).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Address { host: "127.0.0.1".into(), port }
    }

    fn timeouts(io_ms: u64) -> Timeouts {
        Timeouts { connect: Duration::from_secs(2), io: Duration::from_millis(io_ms), deadline: Instant::now() + Duration::from_secs(5) }
    }

    fn upsd(line: &str) -> Vec<u8> {
        match line {
            "VER" => b"Network UPS Tools upsd 2.8.0 - http://www.networkupstools.org/\n".to_vec(),
            "LIST UPS" => b"BEGIN LIST UPS\nUPS a \"The \\\"A\\\" one\"\nUPS b \"B\"\nEND LIST UPS\n".to_vec(),
            "LIST VAR a" => b"BEGIN LIST VAR a\r\nVAR a ups.status \"OL CHRG\"\r\nVAR a battery.charge \"87\"\r\nEND LIST VAR a\r\n".to_vec(),
            "LIST VAR b" => b"ERR DATA-STALE\n".to_vec(),
            l if l.starts_with("USERNAME ") || l.starts_with("PASSWORD ") => b"OK\n".to_vec(),
            _ => b"ERR UNKNOWN-COMMAND\n".to_vec(),
        }
    }

    #[tokio::test]
    async fn talks_to_an_upsd() {
        let addr = fake(upsd).await;
        let mut s = Session::connect(&addr, None, timeouts(1000), Limits::default()).await.unwrap();
        s.authenticate("mon", "pa ss").await.unwrap();
        assert_eq!(parse::parse_version(&s.version().await.unwrap()), "2.8.0");
        let upses = s.list_ups().await.unwrap();
        assert_eq!(upses.len(), 2);
        assert_eq!(upses[0].description, "The \"A\" one");
        let vars = s.list_var("a").await.unwrap();
        assert_eq!(vars, vec![("ups.status".to_owned(), "OL CHRG".to_owned()), ("battery.charge".to_owned(), "87".to_owned())]);
        let err = s.list_var("b").await.unwrap_err();
        assert_eq!(err.server_code(), Some("DATA-STALE"));
        // The session goes on after an ERR.
        assert_eq!(s.list_var("a").await.unwrap().len(), 2);
        s.logout().await;
    }

    #[tokio::test]
    async fn garbage_is_a_clear_protocol_error() {
        let addr = fake(|_| b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()).await;
        let mut s = Session::connect(&addr, None, timeouts(1000), Limits::default()).await.unwrap();
        let err = s.list_ups().await.unwrap_err().to_string();
        assert!(err.starts_with("LIST UPS: expected BEGIN LIST, got \"HTTP/1.1 400"), "{err}");
    }

    #[tokio::test]
    async fn a_huge_line_is_refused_after_the_limit() {
        // 10 MB without a line end.
        let addr = fake(|_| vec![b'x'; 10 * 1024 * 1024]).await;
        let limits = Limits::default();
        let mut s = Session::connect(&addr, None, timeouts(2000), limits).await.unwrap();
        let err = s.version().await.unwrap_err();
        assert!(matches!(err, ClientError::LineTooLong { limit, .. } if limit == limits.max_line), "{err}");
        assert_eq!(err.to_string(), "VER: reply line longer than 65536 bytes (not upsd?)");
    }

    #[tokio::test]
    async fn a_huge_list_is_refused_after_the_limit() {
        let addr = fake(|_| {
            let mut r = b"BEGIN LIST UPS\n".to_vec();
            for i in 0..10_000 {
                r.extend_from_slice(format!("UPS u{i} \"desc\"\n").as_bytes());
            }
            r
        })
        .await;
        let limits = Limits { max_line: 1024, max_reply: 16 * 1024 };
        let mut s = Session::connect(&addr, None, timeouts(2000), limits).await.unwrap();
        let err = s.list_ups().await.unwrap_err();
        assert!(matches!(err, ClientError::ReplyTooLarge { .. }), "{err}");
    }

    #[tokio::test]
    async fn silence_and_hangups_end_in_time() {
        let silent = fake(|_| Vec::new()).await;
        let mut s = Session::connect(&silent, None, timeouts(200), Limits::default()).await.unwrap();
        let start = std::time::Instant::now();
        let err = s.version().await.unwrap_err();
        assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_millis(1000));

        // The session deadline bounds a server that trickles.
        let t = Timeouts { connect: Duration::from_secs(2), io: Duration::from_secs(2), deadline: Instant::now() + Duration::from_millis(300) };
        let mut s = Session::connect(&silent, None, t, Limits::default()).await.unwrap();
        let err = s.version().await.unwrap_err().to_string();
        assert_eq!(err, "VER: deadline reached");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                drop(stream);
            }
        });
        let addr = Address { host: "127.0.0.1".into(), port };
        let mut s = Session::connect(&addr, None, timeouts(1000), Limits::default()).await.unwrap();
        let err = s.version().await.unwrap_err();
        assert!(matches!(err, ClientError::Closed { .. } | ClientError::Io { .. }), "{err}");
    }

    #[tokio::test]
    async fn nothing_listening_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let addr = Address { host: "127.0.0.1".into(), port };
        let err = Session::connect(&addr, None, timeouts(1000), Limits::default()).await.err().unwrap();
        assert!(err.to_string().starts_with("connecting: "), "{err}");
    }

    /// A CA and a certificate for 127.0.0.1 signed by it: (CA certificate
    /// as DER, server rustls configuration).
    fn pki() -> (rustls::pki_types::CertificateDer<'static>, Arc<rustls::ServerConfig>) {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let ca_key = KeyPair::generate().unwrap();
        static CAS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        let n = CAS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, format!("Test CA {n}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&key, &ca, &ca_key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())))
            .unwrap();
        (ca.der().clone(), Arc::new(config))
    }

    /// Client settings trusting `ca` for 127.0.0.1.
    fn start_tls(ca: rustls::pki_types::CertificateDer<'static>) -> StartTls {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let config = crate::tls::builder(crate::tls::provider()).unwrap().with_root_certificates(roots).with_no_client_auth();
        StartTls::new(Arc::new(config), crate::tls::server_name("127.0.0.1").unwrap())
    }

    /// What a fake upsd does once it has read `STARTTLS`.
    #[derive(Clone, Copy)]
    enum AfterStartTls {
        /// `OK STARTTLS`, the handshake, then [`upsd`] over TLS.
        Serve,
        /// Answers this line and keeps the connection open.
        Answer(&'static [u8]),
        /// `OK STARTTLS`, then never reads nor writes.
        Stall,
    }

    /// A fake upsd on 127.0.0.1 that speaks plaintext until `STARTTLS`. The
    /// returned log holds every command line received, as `plain: ...` or
    /// `tls: ...`.
    async fn fake_tls(server: Arc<rustls::ServerConfig>, after: AfterStartTls) -> (Address, Arc<std::sync::Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (server, seen) = (Arc::clone(&server), Arc::clone(&seen));
                tokio::spawn(async move {
                    // Byte by byte, so nothing after the command is consumed
                    // before the handshake.
                    let mut line = Vec::new();
                    let mut byte = [0u8; 1];
                    loop {
                        match tokio::io::AsyncReadExt::read(&mut stream, &mut byte).await {
                            Ok(1) if byte[0] == b'\n' => {
                                let text = String::from_utf8_lossy(&line).into_owned();
                                seen.lock().unwrap().push(format!("plain: {text}"));
                                if text == "STARTTLS" {
                                    break;
                                }
                                line.clear();
                                stream.write_all(b"ERR UNKNOWN-COMMAND\n").await.unwrap();
                            }
                            Ok(1) => line.push(byte[0]),
                            _ => return,
                        }
                    }
                    match after {
                        AfterStartTls::Answer(reply) => {
                            let _ = stream.write_all(reply).await;
                            tokio::time::sleep(Duration::from_secs(10)).await;
                        }
                        AfterStartTls::Stall => {
                            let _ = stream.write_all(b"OK STARTTLS\n").await;
                            tokio::time::sleep(Duration::from_secs(10)).await;
                        }
                        AfterStartTls::Serve => {
                            let _ = stream.write_all(b"OK STARTTLS\n").await;
                            let Ok(tls) = tokio_rustls::TlsAcceptor::from(server).accept(stream).await else { return };
                            let (r, mut w) = tokio::io::split(tls);
                            let mut lines = BufReader::new(r).lines();
                            while let Ok(Some(line)) = lines.next_line().await {
                                seen.lock().unwrap().push(format!("tls: {line}"));
                                if w.write_all(&upsd(&line)).await.is_err() || w.flush().await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
        (Address { host: "127.0.0.1".into(), port }, log)
    }

    #[tokio::test]
    async fn starttls_secures_the_session_before_the_credentials() {
        let (ca, server) = pki();
        let (addr, log) = fake_tls(server, AfterStartTls::Serve).await;
        let tls = start_tls(ca);
        let mut s = Session::connect(&addr, Some(&tls), timeouts(1000), Limits::default()).await.unwrap();
        assert!(s.is_tls());
        s.authenticate("mon", "pa ss").await.unwrap();
        assert_eq!(parse::parse_version(&s.version().await.unwrap()), "2.8.0");
        assert_eq!(s.list_var("a").await.unwrap().len(), 2);
        s.logout().await;
        let log = log.lock().unwrap().clone();
        assert_eq!(log[..3], ["plain: STARTTLS", "tls: USERNAME \"mon\"", "tls: PASSWORD \"pa ss\""], "{log:?}");
    }

    #[tokio::test]
    async fn a_refused_starttls_is_an_error_not_plaintext() {
        let (ca, server) = pki();
        let (addr, log) = fake_tls(server, AfterStartTls::Answer(b"ERR FEATURE-NOT-CONFIGURED\n")).await;
        let err = Session::connect(&addr, Some(&start_tls(ca)), timeouts(1000), Limits::default()).await.err().unwrap();
        assert!(matches!(&err, ClientError::StartTlsRefused { code } if code == "FEATURE-NOT-CONFIGURED"), "{err}");
        assert!(err.to_string().starts_with("STARTTLS: upsd answered ERR FEATURE-NOT-CONFIGURED: TLS is not available"), "{err}");
        assert!(err.to_string().contains("not falling back to plaintext"), "{err}");
        assert_eq!(*log.lock().unwrap(), ["plain: STARTTLS"]);
    }

    #[tokio::test]
    async fn data_injected_before_the_handshake_is_refused() {
        let (ca, server) = pki();
        let (addr, _) = fake_tls(server, AfterStartTls::Answer(b"OK STARTTLS\nVAR a ups.status \"OB LB\"\n")).await;
        let err = Session::connect(&addr, Some(&start_tls(ca)), timeouts(1000), Limits::default()).await.err().unwrap();
        assert_eq!(err.to_string(), "STARTTLS: TLS handshake: upsd sent data between OK STARTTLS and the handshake");
        let (ca, server) = pki();
        let (addr, _) = fake_tls(server, AfterStartTls::Answer(b"BEGIN LIST UPS\n")).await;
        let err = Session::connect(&addr, Some(&start_tls(ca)), timeouts(1000), Limits::default()).await.err().unwrap();
        assert!(err.to_string().starts_with("STARTTLS: expected OK STARTTLS, got \"BEGIN LIST UPS\""), "{err}");
    }

    #[tokio::test]
    async fn a_certificate_from_another_ca_is_refused() {
        let (_, server) = pki();
        let (other_ca, _) = pki();
        let (addr, log) = fake_tls(server, AfterStartTls::Serve).await;
        let err = Session::connect(&addr, Some(&start_tls(other_ca)), timeouts(1000), Limits::default()).await.err().unwrap();
        let text = err.to_string();
        assert!(text.starts_with("STARTTLS: TLS handshake: invalid peer certificate: UnknownIssuer"), "{text}");
        assert!(text.contains("does not verify against the CA file"), "{text}");
        assert_eq!(*log.lock().unwrap(), ["plain: STARTTLS"]);
    }

    #[tokio::test]
    async fn a_handshake_that_stalls_ends_in_time() {
        let (ca, server) = pki();
        let (addr, _) = fake_tls(server, AfterStartTls::Stall).await;
        let tls = start_tls(ca);
        // The session deadline bounds the handshake.
        let t = Timeouts { connect: Duration::from_secs(5), io: Duration::from_secs(5), deadline: Instant::now() + Duration::from_millis(300) };
        let start = std::time::Instant::now();
        let err = Session::connect(&addr, Some(&tls), t, Limits::default()).await.err().unwrap();
        assert_eq!(err.to_string(), "STARTTLS: deadline reached");
        assert!(start.elapsed() < Duration::from_millis(1000), "{:?}", start.elapsed());
        // So does the connect timeout, which covers TCP, STARTTLS and the handshake.
        let t = Timeouts { connect: Duration::from_millis(300), io: Duration::from_secs(5), deadline: Instant::now() + Duration::from_secs(5) };
        let start = std::time::Instant::now();
        let err = Session::connect(&addr, Some(&tls), t, Limits::default()).await.err().unwrap();
        assert_eq!(err.to_string(), "STARTTLS: connect timeout");
        assert!(start.elapsed() < Duration::from_millis(1000), "{:?}", start.elapsed());
    }

    #[test]
    fn words_compare_loosely() {
        assert!(same_words("BEGIN LIST VAR ups1", "BEGIN  LIST VAR ups1 "));
        assert!(!same_words("BEGIN LIST VAR ups1", "BEGIN LIST VAR ups2"));
    }
}
