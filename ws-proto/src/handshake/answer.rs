//! The server's answer to the opening request: 101 to accept, or a refusal.

#[allow(unused_imports)]
use crate::prelude::*;

use super::headers::Header;
use super::RequestError;

/// A server's answer to the opening request: 101 to accept, anything else to reject.
///
/// ```
/// use ws_proto::handshake::ServerResponse;
/// let no = ServerResponse::reject(403, "not allowed here");
/// let text = String::from_utf8(no.to_bytes()).unwrap();
/// assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"));
/// assert!(text.ends_with("\r\n\r\nnot allowed here"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerResponse {
    status: u16,
    reason: String,
    headers: Vec<Header>,
    body: Vec<u8>,
    pub(super) accepts: bool,
    /// Extensions agreed elsewhere, for the connection that sends this.
    pub(super) agreed: Option<Box<crate::Extensions>>,
}

impl ServerResponse {
    /// A response with a status line and no headers.
    ///
    /// ```
    /// # use ws_proto::handshake::ServerResponse;
    /// assert_eq!(ServerResponse::new(503, "Busy").status(), 503);
    /// ```
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            headers: Vec::new(),
            body: Vec::new(),
            accepts: false,
            agreed: None,
        }
    }

    /// A rejection with `status`, its standard reason phrase and a plain-text body.
    ///
    /// ```
    /// # use ws_proto::handshake::ServerResponse;
    /// assert_eq!(ServerResponse::reject(404, "").status(), 404);
    /// ```
    pub fn reject(status: u16, body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        Self::new(status, reason_phrase(status))
            .header("Content-Type", "text/plain; charset=utf-8")
            .header("Content-Length", body.len().to_string())
            .header("Connection", "close")
            .with_body(body)
    }

    /// The answer to a request that failed the checks: its status, the error
    /// as the body, and `Sec-WebSocket-Version: 13` where the version was wrong
    /// (section 4.4).
    ///
    /// ```
    /// use ws_proto::handshake::{Request, ServerResponse};
    /// let raw = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\
    ///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
    /// let err = Request::parse(raw).unwrap_err();
    /// let text = String::from_utf8(ServerResponse::from_error(&err).to_bytes()).unwrap();
    /// assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    /// assert!(text.contains("Sec-WebSocket-Version: 13\r\n"));
    /// ```
    pub fn from_error(err: &RequestError) -> Self {
        let response = Self::reject(err.status(), err.to_string());
        match err.status() {
            426 => response
                .header("Sec-WebSocket-Version", "13")
                .header("Upgrade", "websocket"),
            _ => response,
        }
    }

    /// Adds a header (for example `Set-Cookie`).
    ///
    /// ```
    /// # use ws_proto::handshake::ServerResponse;
    /// let r = ServerResponse::new(101, "Switching Protocols").header("X-Server", "ws");
    /// assert_eq!(r.headers().len(), 1);
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(Header::new(name, value));
        self
    }

    fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// The status code.
    ///
    /// ```
    /// # use ws_proto::handshake::ServerResponse;
    /// assert_eq!(ServerResponse::reject(400, "").status(), 400);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers.
    ///
    /// ```
    /// # use ws_proto::handshake::ServerResponse;
    /// assert!(ServerResponse::new(200, "OK").headers().is_empty());
    /// ```
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The body (empty for a 101).
    ///
    /// ```
    /// # use ws_proto::handshake::ServerResponse;
    /// assert_eq!(ServerResponse::reject(400, "bad").body(), b"bad");
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Whether this accepts the upgrade: true only for answers built by
    /// [`Request::accept`](super::Request::accept) (101, or 200 over HTTP/2) and their derivatives.
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert!(req.accept().is_accept());
    /// ```
    pub fn is_accept(&self) -> bool {
        self.accepts
    }

    /// Names `extensions`, agreed outside this handshake, in
    /// `Sec-WebSocket-Extensions`, and has the connection that answers with
    /// this response run them
    /// ([`Connection::respond`](crate::Connection::respond) and
    /// [`Request::accept_extensions`](super::Request::accept_extensions)
    /// take them instead of negotiating from their configuration). A relay
    /// answers this way with the extensions its backend agreed to (see
    /// [`Relay::client_answer`](super::Relay::client_answer)). On a refusal
    /// the extensions are ignored.
    ///
    /// ```
    /// use ws_proto::handshake::Request;
    /// use ws_proto::{Config, DeflateConfig, Extensions};
    /// let request = Request::example();
    /// let agreed = Extensions::deflate(DeflateConfig::default().negotiate(["permessage-deflate"].into_iter()));
    /// let answer = request.accept().with_extensions(agreed.clone());
    /// assert!(String::from_utf8(answer.to_bytes()).unwrap().contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
    /// let (_, taken) = request.accept_extensions(answer, &Config::default());
    /// assert_eq!(taken, agreed);
    /// ```
    pub fn with_extensions(mut self, extensions: crate::Extensions) -> Self {
        if let Some(value) = extensions.response_header() {
            self = self.header("Sec-WebSocket-Extensions", value);
        }
        self.agreed = Some(Box::new(extensions));
        self
    }

    /// The response as bytes to write.
    ///
    /// ```
    /// # use ws_proto::handshake::ServerResponse;
    /// assert_eq!(ServerResponse::new(101, "Switching Protocols").to_bytes(), b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    /// ```
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160 + self.body.len());
        out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", self.status, self.reason).as_bytes());
        for h in &self.headers {
            out.extend_from_slice(h.name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(&h.value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }
}

/// The standard reason phrase for the statuses a WebSocket server uses.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}
