//! One HTTP/1.1 `GET` on an open hyper connection, answered before a
//! deadline: the exchange the Docker and Proxmox clients share. Each keeps
//! its own connections, headers and error type; this module sends the
//! request and reads the bounded body.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, USER_AGENT};
use hyper::StatusCode;
use tokio::time::Instant;

/// The `User-Agent` of every request the exporter sends.
pub const USER_AGENT_VALUE: &str = concat!("homelab-exporter/", env!("CARGO_PKG_VERSION"));

/// A connection's request sender.
pub type Sender = SendRequest<Empty<Bytes>>;

/// What the server answered.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The reason phrase, when the server sent one other than the
    /// status's canonical one.
    pub reason: Option<Vec<u8>>,
    /// The body. For an error status it is what could be read of it
    /// within the size limit, possibly nothing.
    pub body: Bytes,
}

/// Why a `GET` got no answer.
#[derive(Debug, thiserror::Error)]
pub enum GetError {
    /// The request could not be built (a bad path).
    #[error("bad request: {0}")]
    Request(String),
    /// The exchange failed (connection dropped or closed, malformed response).
    #[error(transparent)]
    Http(#[from] hyper::Error),
    /// A 2xx body larger than the limit.
    #[error("body larger than {0} bytes")]
    TooLarge(usize),
    /// Reading the body failed.
    #[error("reading the body: {0}")]
    Body(String),
    /// The deadline passed first.
    #[error("no answer before the deadline")]
    Timeout,
}

/// Sends `GET uri` with `headers` (and the exporter's `User-Agent`) on
/// `sender`, and reads the whole body, at most `max_body` bytes, all before
/// `deadline`.
pub async fn get(
    sender: &mut Sender,
    uri: &str,
    headers: &[(HeaderName, HeaderValue)],
    max_body: usize,
    deadline: Instant,
) -> Result<Answer, GetError> {
    let mut request = hyper::Request::get(uri).header(USER_AGENT, USER_AGENT_VALUE);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = request.body(Empty::new()).map_err(|e| GetError::Request(e.to_string()))?;
    let exchange = async {
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let reason = response.extensions().get::<hyper::ext::ReasonPhrase>().map(|r| r.as_bytes().to_vec());
        if !status.is_success() {
            // Read (bounded) so the connection can be reused; the caller
            // may quote it.
            let body = Limited::new(response.into_body(), max_body).collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            return Ok(Answer { status, reason, body });
        }
        let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_body as u64) {
            return Err(GetError::TooLarge(max_body));
        }
        match Limited::new(response.into_body(), max_body).collect().await {
            Ok(collected) => Ok(Answer { status, reason, body: collected.to_bytes() }),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(GetError::TooLarge(max_body)),
            Err(e) => Err(GetError::Body(e.to_string())),
        }
    };
    tokio::time::timeout_at(deadline, exchange).await.unwrap_or(Err(GetError::Timeout))
}
