//! The HTTP server: `/metrics` (or the configured path), a landing page at
//! `/`, and `/-/healthy`. hyper 1 on the single tokio runtime, HTTP/1.1,
//! over TLS and behind basic auth when `--web.config.file` says so
//! ([`crate::webconfig`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::collector::{Probe, ProbeError, Scrape};
use crate::encode::{self, Format};
use crate::metrics::{Kind, Snapshot};
use crate::scrape::Engine;
use crate::webconfig::Live;

/// Scrape timeout assumed when Prometheus sends none.
pub const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to finish the TLS handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address is not an address.
    #[error("--web.listen-address {0:?}: expected HOST:PORT or :PORT")]
    BadAddress(String),
    /// Binding failed.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Shared state of the server.
pub struct Server {
    engine: Engine,
    telemetry_path: String,
    max_requests: usize,
    in_flight: AtomicUsize,
    /// `/metrics` answers so far, by status: 200 and 503 (this handler
    /// has no 500: encoding cannot fail).
    answered_ok: AtomicU64,
    answered_busy: AtomicU64,
    web: Option<Arc<Live>>,
    probe: Option<Arc<dyn Probe>>,
}

/// Parses `:PORT`, `HOST:PORT` or `[V6]:PORT`; an empty host means every
/// address (IPv6 and IPv4).
pub fn parse_listen_address(s: &str) -> Result<SocketAddr, ServeError> {
    let full = if s.starts_with(':') { format!("[::]{s}") } else { s.to_owned() };
    if let Ok(a) = full.parse() {
        return Ok(a);
    }
    if let Some(port) = s.strip_prefix("localhost:") {
        if let Ok(p) = port.parse::<u16>() {
            return Ok(SocketAddr::from(([127, 0, 0, 1], p)));
        }
    }
    Err(ServeError::BadAddress(s.to_owned()))
}

/// The scrape deadline for a request: Prometheus's timeout header minus a
/// margin for encoding and transfer (10 % of it, at most half a second).
pub fn deadline_from_header(value: Option<&HeaderValue>, now: Instant) -> Instant {
    let timeout = value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(|t| Duration::from_secs_f64(t.min(3600.0)))
        .unwrap_or(DEFAULT_SCRAPE_TIMEOUT);
    let margin = (timeout / 10).min(Duration::from_millis(500));
    now + (timeout - margin)
}

impl Server {
    /// A server over this engine; `web` is the `--web.config.file`
    /// configuration in force (TLS, basic auth, headers), if any, and
    /// `probe` the handler of `/probe`, if probing is on.
    pub fn new(
        engine: Engine,
        telemetry_path: String,
        max_requests: usize,
        web: Option<Arc<Live>>,
        probe: Option<Arc<dyn Probe>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            engine,
            telemetry_path,
            max_requests,
            in_flight: AtomicUsize::new(0),
            answered_ok: AtomicU64::new(0),
            answered_busy: AtomicU64::new(0),
            web,
            probe,
        })
    }

    /// Serves on `listener` until `shutdown` resolves, then lets open
    /// connections finish for up to five seconds.
    pub async fn run(self: Arc<Self>, listener: TcpListener, shutdown: impl std::future::Future<Output = ()>) {
        self.run_all(vec![listener], shutdown).await;
    }

    /// Serves on every listener (`--web.listen-address` may be given more
    /// than once, as node_exporter's) until `shutdown` resolves.
    pub async fn run_all(self: Arc<Self>, listeners: Vec<TcpListener>, shutdown: impl std::future::Future<Output = ()>) {
        let mut connections = tokio::task::JoinSet::new();
        let mut accepting = tokio::task::JoinSet::new();
        let (accepted_tx, mut accepted_rx) = tokio::sync::mpsc::channel(16);
        for listener in listeners {
            let tx = accepted_tx.clone();
            accepting.spawn(async move {
                loop {
                    let accepted = listener.accept().await;
                    if tx.send(accepted).await.is_err() {
                        break;
                    }
                }
            });
        }
        drop(accepted_tx);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                Some(accepted) = accepted_rx.recv() => {
                    let (stream, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(err = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    // The TLS settings in force when the connection arrives
                    // (after a look at whether the web config file changed).
                    let tls = self.web.as_ref().and_then(|web| {
                        web.check_for_changes();
                        web.current().tls()
                    });
                    let server = self.clone();
                    connections.spawn(async move {
                        let Some(tls) = tls else {
                            return server.serve_connection(stream).await;
                        };
                        let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accept).await {
                            Ok(Ok(stream)) => server.serve_connection(stream).await,
                            Ok(Err(e)) => tracing::debug!(peer = %peer, err = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                () = &mut shutdown => break,
            }
        }
        accepting.abort_all();
        tracing::info!(open_connections = connections.len(), "shutting down");
        let drain = async { while connections.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), drain).await.is_err() {
            connections.abort_all();
        }
    }

    /// Serves HTTP/1.1 on one connection, plain or TLS, until it closes.
    async fn serve_connection<S>(self: Arc<Self>, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = hyper::service::service_fn(move |req| {
            let server = self.clone();
            async move { Ok::<_, Infallible>(server.respond(req).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(64 * 1024)
            .serve_connection(TokioIo::new(stream), service);
        if let Err(e) = conn.await {
            tracing::debug!(err = %e, "connection ended with an error");
        }
    }

    /// Answers one request under the web configuration: the rate limit
    /// (429), basic auth (401 with `WWW-Authenticate: Basic`), then
    /// [`Server::handle`]; the configured headers go on every answer.
    pub async fn respond(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let Some(web) = &self.web else {
            return self.handle(req).await;
        };
        let config = web.current();
        let mut resp = if !web.allow_request() {
            plain(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n")
        } else if !web.authorize(&config, req.headers().get(AUTHORIZATION)).await {
            let mut resp = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
            resp.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
            resp
        } else {
            self.handle(req).await
        };
        for (name, value) in config.headers() {
            resp.headers_mut().insert(name.clone(), value.clone());
        }
        resp
    }

    /// Answers one request.
    pub async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path();
        let is_read = matches!(*req.method(), Method::GET | Method::HEAD);
        if path == self.telemetry_path {
            if !is_read {
                return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
            }
            return self.metrics(&req).await;
        }
        match path {
            // `/nut?target=HOST:PORT` is the Rust NUT exporter's probe path
            // (the nut_* names are its), so its scrape configs work unchanged.
            "/probe" | "/nut" if is_read => self.probe(&req).await,
            // The Go NUT exporter's path (DRuggeri/nut_exporter): its
            // network_ups_tools_* names, `server=` and `ups=` parameters.
            "/ups_metrics" if is_read => self.probe_compat(&req).await,
            "/" if is_read => self.landing(),
            "/-/healthy" | "/-/ready" if is_read => plain(StatusCode::OK, "Healthy\n"),
            "/" | "/-/healthy" | "/-/ready" => plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n"),
            _ => plain(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    /// Counts a scrape or probe in flight until the guard drops; `None`
    /// beyond `--web.max-requests` (the caller answers 503).
    fn admit(&self) -> Option<InFlight<'_>> {
        let previous = self.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = InFlight(&self.in_flight);
        (self.max_requests == 0 || previous < self.max_requests).then_some(guard)
    }

    async fn metrics(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let now = Instant::now();
        let deadline = deadline_from_header(req.headers().get("x-prometheus-scrape-timeout-seconds"), now);
        let (mut collect, mut exclude) = (Vec::new(), Vec::new());
        for pair in req.uri().query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let list = match percent_decode(key).as_deref() {
                Some("collect[]") => &mut collect,
                Some("exclude[]") => &mut exclude,
                _ => continue,
            };
            match percent_decode(value) {
                Some(v) => list.push(v),
                None => return plain(StatusCode::BAD_REQUEST, "malformed collect[] or exclude[] value\n"),
            }
        }
        let selected = match self.engine.selection(&collect, &exclude) {
            Ok(s) => s,
            Err(e) => return plain(StatusCode::BAD_REQUEST, format!("Couldn't create filtered metrics handler: {e}\n")),
        };
        let Some(_in_flight) = self.admit() else {
            self.answered_busy.fetch_add(1, Ordering::Relaxed);
            return plain(StatusCode::SERVICE_UNAVAILABLE, "too many scrapes in flight\n");
        };
        let mut snapshots = self.engine.scrape_selected(deadline, selected.as_deref()).await;
        if self.engine.exporter_metrics() {
            snapshots.push(self.handler_metrics());
        }
        let response = render(req, snapshots);
        self.answered_ok.fetch_add(1, Ordering::Relaxed);
        response
    }

    /// The `promhttp_metric_handler_*` series node_exporter's handler
    /// writes (Go's client library), with the same meaning: answers before
    /// this one by status code, scrapes being served (this one included),
    /// and internal errors (none: gathering failures are collector
    /// failures here, and encoding cannot fail).
    fn handler_metrics(&self) -> Snapshot {
        let mut out = Snapshot::new();
        out.family(
            "promhttp_metric_handler_errors_total",
            "Total number of internal errors encountered by the promhttp metric handler.",
            Kind::Counter,
        )
        .add(&[("cause", "encoding")], 0.0)
        .add(&[("cause", "gathering")], 0.0);
        out.gauge(
            "promhttp_metric_handler_requests_in_flight",
            "Current number of scrapes being served.",
            &[],
            self.in_flight.load(Ordering::Acquire) as f64,
        );
        out.family("promhttp_metric_handler_requests_total", "Total number of scrapes by HTTP status code.", Kind::Counter)
            .add(&[("code", "200")], self.answered_ok.load(Ordering::Relaxed) as f64)
            .add(&[("code", "500")], 0.0)
            .add(&[("code", "503")], self.answered_busy.load(Ordering::Relaxed) as f64);
        out
    }

    /// `/probe?module=MODULE&target=...` (or `/nut?target=...`): one target
    /// of the probe handler (NUT's: one upsd), when probing is on and the
    /// target is allowed.
    async fn probe(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let Some(prober) = &self.probe else {
            return plain(StatusCode::NOT_FOUND, "probing is off: start with --collector.nut.probe\n");
        };
        let module_name = prober.module();
        let (mut module, mut target) = (None, None);
        for pair in req.uri().query().unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "module" => module = Some(percent_decode(value)),
                "target" => target = Some(percent_decode(value)),
                _ => {}
            }
        }
        if module.as_ref().is_some_and(|m| m.as_deref() != Some(module_name)) {
            return plain(StatusCode::BAD_REQUEST, format!("unknown module: the only module is {module_name}\n"));
        }
        let Some(Some(target)) = target else {
            return plain(StatusCode::BAD_REQUEST, "missing or malformed target parameter (HOST:PORT)\n");
        };
        let deadline = deadline_from_header(req.headers().get("x-prometheus-scrape-timeout-seconds"), Instant::now());
        let Some(_in_flight) = self.admit() else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "too many scrapes in flight\n");
        };
        probe_answer(req, prober.probe(&target, &Scrape { deadline }).await)
    }

    /// `/ups_metrics?server=HOST:PORT&ups=NAME`: the probe module's
    /// compatibility path (see [`Probe::probe_compat`]).
    async fn probe_compat(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        let Some(prober) = &self.probe else {
            return plain(StatusCode::NOT_FOUND, "probing is off: start with --collector.nut.probe\n");
        };
        let mut params = Vec::new();
        for pair in req.uri().query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (percent_decode(key), percent_decode(value)) {
                (Some(k), Some(v)) => params.push((k, v)),
                _ => return plain(StatusCode::BAD_REQUEST, "malformed query parameter\n"),
            }
        }
        let deadline = deadline_from_header(req.headers().get("x-prometheus-scrape-timeout-seconds"), Instant::now());
        let Some(_in_flight) = self.admit() else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, "too many scrapes in flight\n");
        };
        let scrape = Scrape { deadline };
        let Some(answer) = prober.probe_compat(&params, &scrape) else {
            return plain(StatusCode::NOT_FOUND, "not found\n");
        };
        probe_answer(req, answer.await)
    }

    fn landing(&self) -> Response<Full<Bytes>> {
        let mut rows = String::new();
        for s in self.engine.last_status() {
            // "No data" (no such hardware here) is how a collector stands
            // on this machine, not a failure: it is not shown as one.
            let (state, class) = match (s.success, s.no_data) {
                (None, _) => ("not scraped yet", "idle"),
                (Some(true), _) => ("ok", "ok"),
                (Some(false), true) => ("no data", "nodata"),
                (Some(false), false) => ("failed", "failed"),
            };
            let detail = s.error.as_deref().unwrap_or("");
            let detail = if s.no_data { detail.trim_start_matches("no data: ") } else { detail };
            rows.push_str(&format!(
                "<tr class=\"{class}\"><td>{}</td><td>{state}</td><td>{:.4}</td><td>{}</td></tr>\n",
                html_escape(s.name),
                s.duration.as_secs_f64(),
                html_escape(detail),
            ));
        }
        for other in self.engine.not_running() {
            rows.push_str(&format!(
                "<tr class=\"off\"><td>{}</td><td>{}</td><td></td><td>{}</td></tr>\n",
                html_escape(other.name),
                other.state.as_str(),
                html_escape(&other.reason),
            ));
        }
        let body = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>homelab-exporter</title>\
             <style>body{{font-family:sans-serif}}td,th{{padding:2px 10px;text-align:left}}\
             .failed{{color:#b00}}.nodata,.off{{color:#666}}</style></head><body>\n<h1>homelab-exporter {}</h1>\n\
             <p><a href=\"{}\">Metrics</a> · <a href=\"/-/healthy\">Health</a></p>\n\
             <table><tr><th>collector</th><th>last scrape</th><th>seconds</th><th>detail</th></tr>\n{rows}</table>\n</body></html>\n",
            env!("CARGO_PKG_VERSION"),
            html_escape(&self.telemetry_path),
        );
        Response::builder()
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "response\n"))
    }
}

/// A probe's answer: its series, or the refusal with its status (403 for
/// a target that may not be probed, 400 for a malformed one).
fn probe_answer(req: &Request<Incoming>, result: Result<Snapshot, ProbeError>) -> Response<Full<Bytes>> {
    match result {
        Ok(snapshot) => render(req, vec![snapshot]),
        Err(e) => {
            let status = match e {
                ProbeError::NotAllowed(_) => StatusCode::FORBIDDEN,
                ProbeError::BadTarget(_) => StatusCode::BAD_REQUEST,
            };
            plain(status, format!("{e}\n"))
        }
    }
}

/// Encodes snapshots as the request asks: format and compression.
fn render(req: &Request<Incoming>, snapshots: Vec<Snapshot>) -> Response<Full<Bytes>> {
    let format = Format::negotiate(req.headers().get(ACCEPT).and_then(|v| v.to_str().ok()));
    let gzip = req
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let body = encode::body(snapshots, format, gzip);
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, format.content_type());
    if body.gzip {
        builder = builder.header(CONTENT_ENCODING, "gzip");
    }
    builder.body(Full::new(Bytes::from(body.bytes))).unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "response\n"))
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Decodes a query parameter value (`%XX` escapes, `+` as space); `None`
/// when an escape is malformed or the result is not UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = value.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|part| {
        let mut it = part.split(';').map(str::trim);
        let coding = it.next().unwrap_or("");
        let q_zero = it.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
    })
}

fn plain(status: StatusCode, text: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(text.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_address_forms() {
        assert_eq!(parse_listen_address(":9839").unwrap().port(), 9839);
        assert!(parse_listen_address(":9839").unwrap().ip().is_unspecified());
        assert_eq!(parse_listen_address("127.0.0.1:1").unwrap(), SocketAddr::from(([127, 0, 0, 1], 1)));
        assert!(parse_listen_address("nonsense").is_err());
    }

    #[test]
    fn deadline_uses_header_minus_margin() {
        let now = Instant::now();
        let h = HeaderValue::from_static("2");
        assert_eq!(deadline_from_header(Some(&h), now) - now, Duration::from_millis(1800));
        assert_eq!(deadline_from_header(None, now) - now, Duration::from_millis(9500));
        let bad = HeaderValue::from_static("-1");
        assert_eq!(deadline_from_header(Some(&bad), now) - now, Duration::from_millis(9500));
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(percent_decode("127.0.0.1%3A3493").as_deref(), Some("127.0.0.1:3493"));
        assert_eq!(percent_decode("%5B%3A%3A1%5D:1").as_deref(), Some("[::1]:1"));
        assert_eq!(percent_decode("a+b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }
}
