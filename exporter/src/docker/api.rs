//! The Docker Engine API client: HTTP/1.1 `GET`s over the daemon's Unix
//! socket (or TCP, for a socket proxy), each bounded by a deadline, and the
//! two answers the collector reads — the container list and a container's
//! inspect — decoded into plain structs. Nothing here knows about metrics.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;
use hyper::client::conn::http1;
use hyper::header::{HeaderValue, HOST};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::http_get::{self, GetError, Sender};

/// The endpoint used when `--collector.docker.host` is not given.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// Largest response body read (a host with thousands of containers lists
/// in well under this).
pub const MAX_BODY: usize = 32 << 20;

/// Where the Engine API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///path/to/docker.sock`
    Unix(PathBuf),
    /// `tcp://host:port` (plain HTTP: a socket proxy on the same host).
    Tcp(String),
}

impl Endpoint {
    /// Parses `unix:///path` or `tcp://host[:port]` (port 2375 by default).
    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let bad = |why: &'static str| ApiError::BadHost { host: text.to_owned(), why };
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(bad("a unix socket path must be absolute, as in unix:///var/run/docker.sock"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        let rest = text
            .strip_prefix("tcp://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(|| bad("expected unix:///PATH or tcp://HOST:PORT"))?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || authority.contains('@') {
            return Err(bad("expected tcp://HOST:PORT without a path"));
        }
        let has_port = match authority.rsplit_once(':') {
            // An IPv6 literal without a port ends with ']'.
            Some((_, port)) => !port.ends_with(']'),
            None => false,
        };
        if has_port {
            let port = authority.rsplit_once(':').map(|(_, p)| p).unwrap_or_default();
            if port.parse::<u16>().is_err() {
                return Err(bad("the port must be a number below 65536"));
            }
            Ok(Endpoint::Tcp(authority.to_owned()))
        } else {
            Ok(Endpoint::Tcp(format!("{authority}:2375")))
        }
    }

    /// The value of the HTTP `Host` header for this endpoint.
    fn host_header(&self) -> &str {
        match self {
            Endpoint::Unix(_) => "docker",
            Endpoint::Tcp(authority) => authority,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "unix://{}", path.display()),
            Endpoint::Tcp(authority) => write!(f, "tcp://{authority}"),
        }
    }
}

/// Why a call to the Engine API failed. Every message names the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `--collector.docker.host` is not a usable address.
    #[error("invalid Docker host {host:?}: {why}")]
    BadHost {
        /// The flag's value.
        host: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The socket could not be connected.
    #[error("connecting to {endpoint}: {source}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A deadline passed before the answer was complete.
    #[error("{what} on {endpoint}: no answer before the scrape deadline")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// What was being done (`connect`, `GET /containers/json`).
        what: String,
    },
    /// The HTTP exchange failed (connection reset, malformed response).
    #[error("GET {path} on {endpoint}: {source}")]
    Http {
        /// The endpoint.
        endpoint: String,
        /// The request path.
        path: String,
        /// The underlying error.
        #[source]
        source: hyper::Error,
    },
    /// The body could not be read or was larger than [`MAX_BODY`].
    #[error("GET {path} on {endpoint}: reading the body: {detail}")]
    Body {
        /// The endpoint.
        endpoint: String,
        /// The request path.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The daemon answered with an error status.
    #[error("GET {path} on {endpoint}: HTTP {status}: {message}")]
    Status {
        /// The endpoint.
        endpoint: String,
        /// The request path.
        path: String,
        /// The HTTP status code.
        status: u16,
        /// The daemon's `message`, or the start of the body.
        message: String,
    },
    /// The body was not the JSON expected.
    #[error("GET {path} on {endpoint}: decoding the JSON answer: {source}")]
    Json {
        /// The endpoint.
        endpoint: String,
        /// The request path.
        path: String,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

impl ApiError {
    /// True for a 404: the container was removed after it was listed.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Status { status: 404, .. })
    }
}

/// One open HTTP/1.1 connection to the daemon; requests on it run one after
/// another (keep-alive). The connection's driver task ends when this is dropped.
pub struct Connection {
    sender: Sender,
    driver: JoinHandle<()>,
    endpoint: Endpoint,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Opens a connection, giving up at `deadline`.
pub async fn connect(endpoint: &Endpoint, deadline: Instant) -> Result<Connection, ApiError> {
    let timeout = || ApiError::Timeout { endpoint: endpoint.to_string(), what: "connect".to_owned() };
    let connect_err = |source| ApiError::Connect { endpoint: endpoint.to_string(), source };
    let handshake_err = |source| ApiError::Http { endpoint: endpoint.to_string(), path: String::new(), source };
    let (sender, driver) = match endpoint {
        Endpoint::Unix(path) => {
            let stream = tokio::time::timeout_at(deadline, tokio::net::UnixStream::connect(path))
                .await
                .map_err(|_| timeout())?
                .map_err(connect_err)?;
            let (sender, conn) = tokio::time::timeout_at(deadline, http1::handshake(TokioIo::new(stream)))
                .await
                .map_err(|_| timeout())?
                .map_err(handshake_err)?;
            (sender, tokio::spawn(async move { let _ = conn.await; }))
        }
        Endpoint::Tcp(authority) => {
            let stream = tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(authority.as_str()))
                .await
                .map_err(|_| timeout())?
                .map_err(connect_err)?;
            let _ = stream.set_nodelay(true);
            let (sender, conn) = tokio::time::timeout_at(deadline, http1::handshake(TokioIo::new(stream)))
                .await
                .map_err(|_| timeout())?
                .map_err(handshake_err)?;
            (sender, tokio::spawn(async move { let _ = conn.await; }))
        }
    };
    Ok(Connection { sender, driver, endpoint: endpoint.clone() })
}

impl Connection {
    /// `GET path`, the whole body read by `deadline`. A non-2xx status is an
    /// [`ApiError::Status`] carrying the daemon's message.
    pub async fn get(&mut self, path: &str, deadline: Instant) -> Result<Bytes, ApiError> {
        let endpoint = self.endpoint.to_string();
        let body_err = |detail: String| ApiError::Body { endpoint: endpoint.clone(), path: path.to_owned(), detail };
        let host = HeaderValue::from_str(self.endpoint.host_header()).map_err(|e| body_err(e.to_string()))?;
        let answer = http_get::get(&mut self.sender, path, &[(HOST, host)], MAX_BODY, deadline).await.map_err(|e| match e {
            GetError::Timeout => ApiError::Timeout { endpoint: endpoint.clone(), what: format!("GET {path}") },
            GetError::Http(source) => ApiError::Http { endpoint: endpoint.clone(), path: path.to_owned(), source },
            GetError::Body(detail) | GetError::Request(detail) => body_err(detail),
            e @ GetError::TooLarge(_) => body_err(e.to_string()),
        })?;
        if !answer.status.is_success() {
            return Err(ApiError::Status {
                endpoint: endpoint.clone(),
                path: path.to_owned(),
                status: answer.status.as_u16(),
                message: error_message(&answer.body),
            });
        }
        Ok(answer.body)
    }

    /// `GET /containers/json?all=1`: every container, whatever its state.
    pub async fn list(&mut self, deadline: Instant) -> Result<Vec<ListEntry>, ApiError> {
        let path = "/containers/json?all=1";
        let body = self.get(path, deadline).await?;
        parse_list(&body).map_err(|source| ApiError::Json { endpoint: self.endpoint.to_string(), path: path.to_owned(), source })
    }

    /// `GET /containers/{id}/json`.
    pub async fn inspect(&mut self, id: &str, deadline: Instant) -> Result<Inspect, ApiError> {
        let path = format!("/containers/{id}/json");
        let body = self.get(&path, deadline).await?;
        parse_inspect(&body).map_err(|source| ApiError::Json { endpoint: self.endpoint.to_string(), path, source })
    }
}

/// The daemon's `{"message": "..."}`, or the start of the body.
fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Message {
        message: String,
    }
    match serde_json::from_slice::<Message>(body) {
        Ok(m) => m.message,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_owned(),
    }
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListEntry {
    /// The full 64-hex-digit id.
    pub id: String,
    /// Names, each with a leading `/`.
    pub names: Option<Vec<String>>,
    /// The image as the container was created from it.
    pub image: String,
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    pub state: String,
    /// Human status, e.g. `Up 3 minutes (healthy)`.
    pub status: String,
    /// Docker labels.
    pub labels: Option<HashMap<String, String>>,
}

impl ListEntry {
    /// The first name without its leading `/` (as `docker ps` shows it).
    pub fn name(&self) -> &str {
        self.names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/'))
            .unwrap_or_default()
    }

    /// The health shown in the list's status text, used only to notice that
    /// a cached inspect result is stale.
    pub fn health_hint(&self) -> &'static str {
        if self.status.contains("(healthy)") {
            "healthy"
        } else if self.status.contains("(unhealthy)") {
            "unhealthy"
        } else if self.status.contains("(health: starting)") {
            "starting"
        } else {
            "none"
        }
    }
}

/// The part of `GET /containers/{id}/json` the collector uses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Inspect {
    /// The full id.
    pub id: String,
    /// Creation time, RFC 3339 with nanoseconds.
    pub created: String,
    /// The name with a leading `/`.
    pub name: String,
    /// How often the daemon restarted it under its restart policy.
    pub restart_count: u64,
    /// Runtime state.
    pub state: InspectState,
    /// Creation-time configuration.
    pub config: Option<InspectConfig>,
    /// Host-side configuration.
    pub host_config: Option<HostConfig>,
}

/// `State` of an inspect answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InspectState {
    /// As [`ListEntry::state`].
    pub status: String,
    /// The container's first process in the host's PID namespace (0 when not running).
    pub pid: i64,
    /// The last exit code.
    pub exit_code: i64,
    /// Last start, RFC 3339 (`0001-01-01T00:00:00Z` when never started).
    pub started_at: String,
    /// Last exit, RFC 3339 (`0001-01-01T00:00:00Z` when never exited).
    pub finished_at: String,
    /// Present when the image or run command defines a health check.
    pub health: Option<Health>,
}

/// `State.Health` of an inspect answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
}

/// `Config` of an inspect answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InspectConfig {
    /// The image as given to `docker run` (cAdvisor's `image` label).
    pub image: String,
}

/// `HostConfig` of an inspect answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// Memory limit in bytes, 0 for none.
    pub memory: i64,
    /// `none`, `host`, `bridge`, `container:<id>`, a network name...
    pub network_mode: String,
    /// `--cgroup-parent`, empty for the daemon's default.
    pub cgroup_parent: String,
}

/// Decodes the answer of `GET /containers/json`.
pub fn parse_list(body: &[u8]) -> Result<Vec<ListEntry>, serde_json::Error> {
    serde_json::from_slice(body)
}

/// Decodes the answer of `GET /containers/{id}/json`.
pub fn parse_inspect(body: &[u8]) -> Result<Inspect, serde_json::Error> {
    serde_json::from_slice(body)
}

/// Seconds since the Unix epoch of an RFC 3339 time as Docker writes it
/// (`2024-05-01T10:20:30.123456789Z`, or with a `+02:00` offset). `None`
/// for Go's zero time (year 1, "never") and for anything unparsable.
pub fn parse_timestamp(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> { text.get(from..to)?.parse::<i64>().ok() };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if year <= 1 || !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(after_dot) = rest.strip_prefix('.') {
        let digits = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        fraction = format!("0.{}", &after_dot[..digits]).parse::<f64>().ok()?;
        rest = &after_dot[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let h = rest.get(1..3)?.parse::<i64>().ok()?;
            let m = rest.get(4..6)?.parse::<i64>().ok()?;
            sign * (h * 3600 + m * 60)
        }
    };
    let days = crate::civil::days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(seconds as f64 + fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(Endpoint::parse("unix:///var/run/docker.sock").unwrap(), Endpoint::Unix("/var/run/docker.sock".into()));
        assert_eq!(Endpoint::parse("tcp://127.0.0.1:2375").unwrap(), Endpoint::Tcp("127.0.0.1:2375".into()));
        assert_eq!(Endpoint::parse("tcp://docker-proxy").unwrap(), Endpoint::Tcp("docker-proxy:2375".into()));
        assert_eq!(Endpoint::parse("tcp://[::1]").unwrap(), Endpoint::Tcp("[::1]:2375".into()));
        assert_eq!(Endpoint::parse("tcp://[::1]:2376/").unwrap(), Endpoint::Tcp("[::1]:2376".into()));
        for bad in ["unix://relative.sock", "https://x:1", "tcp://", "tcp://h:99999", "tcp://h:1/v1.41", "/var/run/docker.sock"] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
        assert_eq!(Endpoint::parse(DEFAULT_HOST).unwrap().to_string(), DEFAULT_HOST);
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_timestamp("2024-02-29T12:00:00Z"), Some(1_709_208_000.0));
        let t = parse_timestamp("2026-11-23T07:41:31.696038928Z").unwrap();
        assert!((t - 1_795_419_691.696_039).abs() < 1e-5, "{t}");
        assert_eq!(parse_timestamp("2024-02-29T14:00:00+02:00"), Some(1_709_208_000.0));
        assert_eq!(parse_timestamp("2024-02-29T10:30:00.5-01:30"), Some(1_709_208_000.5));
        assert_eq!(parse_timestamp("0001-01-01T00:00:00Z"), None);
        for bad in ["", "2024-02-29", "2024-13-01T00:00:00Z", "2024-02-29T00:00:00", "2024-02-29T00:00:00.Z", "2024-02-29T00:00:00+0200", "2024-02-29T00:00:0xZ"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn list_and_inspect_decode_real_shapes() {
        let list = br#"[{"Id":"aa","Names":["/web"],"Image":"nginx:1","ImageID":"sha256:x","Command":"nginx","Created":1700000000,
            "Ports":[],"Labels":{"com.docker.compose.project":"lab"},"State":"running","Status":"Up 2 minutes (unhealthy)",
            "HostConfig":{"NetworkMode":"none"},"NetworkSettings":{"Networks":{}},"Mounts":[]},
            {"Id":"bb","Names":null,"Image":"x","State":"exited","Status":"Exited (3) 1 second ago","Labels":null}]"#;
        let entries = parse_list(list).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name(), "web");
        assert_eq!(entries[0].health_hint(), "unhealthy");
        assert_eq!(entries[0].labels.as_ref().unwrap()["com.docker.compose.project"], "lab");
        assert_eq!(entries[1].name(), "");
        assert_eq!(entries[1].health_hint(), "none");

        let inspect = br#"{"Id":"aa","Created":"2026-11-23T07:41:31.696038928Z","Path":"sleep","Args":["1000"],
            "State":{"Status":"running","Running":true,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,
              "Pid":31013,"ExitCode":0,"Error":"","StartedAt":"2026-11-23T07:41:31.9Z","FinishedAt":"0001-01-01T00:00:00Z",
              "Health":{"Status":"unhealthy","FailingStreak":3,"Log":[]}},
            "Name":"/web","RestartCount":2,"HostConfig":{"Memory":67108864,"NetworkMode":"none","CgroupParent":""},
            "Config":{"Image":"local/busybox","Labels":{}}}"#;
        let i = parse_inspect(inspect).unwrap();
        assert_eq!(i.state.pid, 31013);
        assert_eq!(i.restart_count, 2);
        assert_eq!(i.state.health.as_ref().unwrap().status, "unhealthy");
        assert_eq!(i.host_config.as_ref().unwrap().memory, 67_108_864);
        assert_eq!(i.config.as_ref().unwrap().image, "local/busybox");
        assert!(parse_inspect(b"{\"Id\": 3}").is_err());
        assert!(parse_list(b"").is_err());
        assert!(parse_list(b"{}").is_err());
    }

    #[test]
    fn error_messages() {
        assert_eq!(error_message(br#"{"message":"No such container: x"}"#), "No such container: x");
        assert_eq!(error_message(b"plain text\n"), "plain text");
    }
}
