//! The server side: parse and check the client's request, answer it.

use super::accept::{accept_key, is_valid_key};
use super::headers::{self, Header};
use super::{RequestError, ServerResponse};
#[allow(unused_imports)]
use crate::prelude::*;

/// Limits on what [`Request::parse`] buffers before giving up.
///
/// ```
/// use ws_proto::handshake::Limits;
/// let limits = Limits { max_header_bytes: 4096, max_headers: 32 };
/// # let _ = limits;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The request line plus headers, in bytes (default 16 KiB).
    pub max_header_bytes: usize,
    /// The number of headers (default 64).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// A client's opening request, checked against RFC 6455 section 4.2.1.
///
/// ```
/// use ws_proto::handshake::Request;
/// let raw = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
///     Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n";
/// let (req, used) = Request::parse(raw).unwrap().unwrap();
/// assert_eq!(used, raw.len());
/// assert_eq!(req.origin(), Some("http://example.com"));
/// assert_eq!(req.protocols(), ["chat", "superchat"]);
/// let answer = String::from_utf8(req.accept().to_bytes()).unwrap();
/// assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    target: String,
    headers: Vec<Header>,
    key: String,
    protocols: Vec<String>,
    /// An extended CONNECT over HTTP/2 (RFC 8441): no key, answered with 200.
    pub(crate) over_h2: bool,
}

impl Request {
    /// Parses a request from the start of `buf` with the default [`Limits`].
    /// `Ok(None)`: the headers are not complete yet. `Ok(Some((request, n)))`:
    /// the request used `n` bytes; the rest belongs to the connection.
    ///
    /// ```
    /// use ws_proto::handshake::Request;
    /// assert_eq!(Request::parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
    /// ```
    pub fn parse(buf: &[u8]) -> Result<Option<(Self, usize)>, RequestError> {
        Self::parse_with_limits(buf, Limits::default())
    }

    /// [`parse`](Self::parse) with explicit limits.
    ///
    /// ```
    /// use ws_proto::handshake::{Limits, Request, RequestError};
    /// let limits = Limits { max_header_bytes: 10, max_headers: 4 };
    /// assert_eq!(
    ///     Request::parse_with_limits(b"GET / HTTP/1.1\r\nHost: x", limits),
    ///     Err(RequestError::HeadersTooLarge { limit: 10 })
    /// );
    /// ```
    pub fn parse_with_limits(
        buf: &[u8],
        limits: Limits,
    ) -> Result<Option<(Self, usize)>, RequestError> {
        let mut storage = vec![httparse::EMPTY_HEADER; limits.max_headers];
        let mut parsed = httparse::Request::new(&mut storage);
        let window = &buf[..buf.len().min(limits.max_header_bytes)];
        let used = match parsed.parse(window) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if buf.len() >= limits.max_header_bytes => {
                return Err(RequestError::HeadersTooLarge {
                    limit: limits.max_header_bytes,
                })
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(RequestError::TooManyHeaders {
                    limit: limits.max_headers,
                })
            }
            Err(e) => return Err(RequestError::MalformedHttp(e.to_string())),
        };
        let method = parsed.method.unwrap_or_default();
        let target = parsed.path.unwrap_or("/");
        let version = parsed.version.unwrap_or(0);
        let headers = headers::from_httparse(parsed.headers);
        Self::check(method, version >= 1, target, headers).map(|r| Some((r, used)))
    }

    /// The shared checks of section 4.2.1, for any source of a request.
    pub(crate) fn check(
        method: &str,
        http11: bool,
        target: &str,
        headers: Vec<Header>,
    ) -> Result<Self, RequestError> {
        if method != "GET" {
            return Err(RequestError::MethodNotGet(method.to_string()));
        }
        if !http11 {
            return Err(RequestError::NotHttp11);
        }
        if headers::find(&headers, "host").is_none() {
            return Err(RequestError::MissingHost);
        }
        if !headers::has_token(&headers, "upgrade", "websocket") {
            return Err(RequestError::MissingUpgradeWebSocket);
        }
        if !headers::has_token(&headers, "connection", "upgrade") {
            return Err(RequestError::MissingConnectionUpgrade);
        }
        let key = headers::find(&headers, "sec-websocket-key").ok_or(RequestError::MissingKey)?;
        let key = trim(key);
        if !is_valid_key(key) {
            return Err(RequestError::InvalidKey);
        }
        match headers::find(&headers, "sec-websocket-version") {
            Some(v) if trim(v) == b"13" => {}
            Some(v) => {
                return Err(RequestError::UnsupportedVersion(Some(
                    String::from_utf8_lossy(v).into_owned(),
                )))
            }
            None => return Err(RequestError::UnsupportedVersion(None)),
        }
        let protocols = headers::tokens(&headers, "sec-websocket-protocol")
            .map(str::to_string)
            .collect();
        Ok(Self {
            target: target.to_string(),
            // `is_valid_key` accepted only base64 characters.
            key: String::from_utf8_lossy(key).into_owned(),
            headers,
            protocols,
            over_h2: false,
        })
    }

    /// The request target: path and query.
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert_eq!(req.target(), "/chat?room=1");
    /// ```
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path, without the query.
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert_eq!(req.path(), "/chat");
    /// ```
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("/")
    }

    /// The query string after `?`, if any.
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert_eq!(req.query(), Some("room=1"));
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// Every header, in order.
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert!(req.headers().iter().any(|h| h.name == "Host"));
    /// ```
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The first header called `name` (any case), as text.
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert_eq!(req.header("host"), Some("example.com"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        headers::find(&self.headers, name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The `Origin` header, which browsers always send (section 10.2).
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert_eq!(req.origin(), Some("https://example.com"));
    /// ```
    pub fn origin(&self) -> Option<&str> {
        self.header("origin")
    }

    /// The subprotocols the client offered, in its order of preference.
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert_eq!(req.protocols(), ["chat"]);
    /// ```
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extension offers, one string each (for example
    /// `permessage-deflate; client_max_window_bits`).
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert!(req.extension_offers().next().is_none());
    /// ```
    pub fn extension_offers(&self) -> impl Iterator<Item = &str> {
        headers::tokens(&self.headers, "sec-websocket-extensions")
    }

    /// The `Sec-WebSocket-Extensions` values as written (offer elements are
    /// split from them with quoted strings respected).
    pub(crate) fn extension_offers_raw(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("sec-websocket-extensions"))
            .filter_map(|h| core::str::from_utf8(&h.value).ok())
    }

    /// The `Sec-WebSocket-Key` (empty over HTTP/2, which has none).
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert_eq!(req.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The answer that accepts the request without a subprotocol: 101 over
    /// HTTP/1.1, 200 for an extended CONNECT over HTTP/2 (RFC 8441).
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// assert_eq!(req.accept().status(), 101);
    /// ```
    pub fn accept(&self) -> ServerResponse {
        let mut response = if self.over_h2 {
            // RFC 8441 section 5: a 2xx answer, no Upgrade, no accept key.
            ServerResponse::new(200, "OK")
        } else {
            ServerResponse::new(101, "Switching Protocols")
                .header("Upgrade", "websocket")
                .header("Connection", "Upgrade")
                .header("Sec-WebSocket-Accept", accept_key(self.key.as_bytes()))
        };
        response.accepts = true;
        response
    }

    /// The 101 answer choosing `protocol`, which must be one the client offered.
    ///
    /// ```
    /// # use ws_proto::handshake::RequestError;
    /// # let req = ws_proto::handshake::Request::example();
    /// assert!(req.accept_with_protocol("chat").is_ok());
    /// assert_eq!(req.accept_with_protocol("mqtt"), Err(RequestError::ProtocolNotOffered("mqtt".into())));
    /// ```
    pub fn accept_with_protocol(&self, protocol: &str) -> Result<ServerResponse, RequestError> {
        if !self.protocols.iter().any(|p| p == protocol) {
            return Err(RequestError::ProtocolNotOffered(protocol.to_string()));
        }
        Ok(self.accept().header("Sec-WebSocket-Protocol", protocol))
    }

    /// The subprotocol to answer with: the first of `supported` (the
    /// server's, in its order of preference) that the client offered, or
    /// `None` when none was (then accept without one, or refuse: RFC 6455
    /// section 4.2.2 leaves that to the server).
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example(); // offers "chat"
    /// assert_eq!(req.select_protocol(["chat.v2", "chat"]), Some("chat"));
    /// assert_eq!(req.select_protocol(["mqtt"]), None);
    /// ```
    pub fn select_protocol<I>(&self, supported: I) -> Option<&str>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        supported.into_iter().find_map(|wanted| {
            self.protocols()
                .iter()
                .find(|offered| *offered == wanted.as_ref())
                .map(String::as_str)
        })
    }

    /// The answer that accepts the request with the subprotocol
    /// [`select_protocol`](Self::select_protocol) picks from `supported`, or
    /// with none when the client offered none of them.
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example(); // offers "chat"
    /// let yes = req.accept_preferring(["chat.v2", "chat"]);
    /// assert!(yes.headers().iter().any(|h| h.name == "Sec-WebSocket-Protocol" && h.value == b"chat"));
    /// let none = req.accept_preferring(["mqtt"]);
    /// assert!(none.is_accept());
    /// assert!(!none.headers().iter().any(|h| h.name == "Sec-WebSocket-Protocol"));
    /// ```
    pub fn accept_preferring<I>(&self, supported: I) -> ServerResponse
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        match self.select_protocol(supported) {
            // An offered protocol: `accept_with_protocol` accepts it.
            Some(protocol) => self
                .accept_with_protocol(protocol)
                .unwrap_or_else(|err| ServerResponse::from_error(&err)),
            None => self.accept(),
        }
    }

    /// Negotiates extensions for an accepting `response` according to
    /// `config` and adds the `Sec-WebSocket-Extensions` answer to it. A
    /// rejection, or a response that already names extensions (the application
    /// negotiated them itself), is returned unchanged with no extensions;
    /// a response made with
    /// [`ServerResponse::with_extensions`] keeps the extensions it carries.
    ///
    /// ```
    /// use ws_proto::{handshake::Request, Config, Connection, Role};
    /// let raw = b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
    ///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
    ///     Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    /// let (request, _) = Request::parse(raw).unwrap().unwrap();
    /// let config = Config::default();
    /// let (response, extensions) = request.accept_extensions(request.accept(), &config);
    /// assert!(String::from_utf8(response.to_bytes()).unwrap().contains("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
    /// let conn = Connection::with_extensions(Role::Server, config, extensions);
    /// # let _ = conn;
    /// ```
    pub fn accept_extensions<C: AsRef<super::HandshakeConfig> + ?Sized>(
        &self,
        response: ServerResponse,
        config: &C,
    ) -> (ServerResponse, crate::Extensions) {
        answer_extensions(self.extension_offers(), response, config.as_ref())
    }

    /// A checked extended CONNECT request over HTTP/2 (RFC 8441).
    #[cfg(feature = "http")]
    pub(crate) fn h2(target: &str, headers: Vec<Header>) -> Self {
        let protocols = headers::tokens(&headers, "sec-websocket-protocol")
            .map(str::to_string)
            .collect();
        Self {
            target: target.to_string(),
            headers,
            key: String::new(),
            protocols,
            over_h2: true,
        }
    }

    /// A request as a browser would send it, for examples and tests.
    #[doc(hidden)]
    pub fn example() -> Self {
        let raw = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Origin: https://example.com\r\nSec-WebSocket-Protocol: chat\r\n\
            Sec-WebSocket-Version: 13\r\n\r\n";
        Self::parse(raw)
            .ok()
            .flatten()
            .map(|(r, _)| r)
            .unwrap_or_else(|| unreachable!())
    }
}

/// [`Request::accept_extensions`] given the request's extension offers
/// alone (what a connection keeps of a request it has handed out).
pub(crate) fn answer_extensions<'a>(
    offers: impl Iterator<Item = &'a str>,
    response: ServerResponse,
    config: &super::HandshakeConfig,
) -> (ServerResponse, crate::Extensions) {
    let mut response = response;
    if let Some(agreed) = response.agreed.take() {
        // Agreed elsewhere (a relay): named in the response already.
        let agreed = if response.is_accept() {
            *agreed
        } else {
            crate::Extensions::none()
        };
        return (response, agreed);
    }
    let chosen_by_app = headers::find(response.headers(), "sec-websocket-extensions").is_some();
    if !response.is_accept() || chosen_by_app {
        return (response, crate::Extensions::none());
    }
    // Every extension, permessage-deflate included, through the same trait.
    let extensions = crate::extensions::accept_offers(&config.negotiators(), offers);
    let response = match extensions.response_header() {
        Some(value) => response.header("Sec-WebSocket-Extensions", value),
        None => response,
    };
    (response, extensions)
}

fn trim(value: &[u8]) -> &[u8] {
    let start = value
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &value[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn with(from: &str, to: &str) -> Vec<u8> {
        assert!(GOOD.contains(from), "{from}");
        GOOD.replacen(from, to, 1).into_bytes()
    }

    #[test]
    fn rfc_1_3_request_is_accepted_at_every_split() {
        let raw = GOOD.as_bytes();
        for cut in 0..raw.len() {
            assert_eq!(Request::parse(&raw[..cut]), Ok(None), "cut {cut}");
        }
        let mut more = raw.to_vec();
        more.extend_from_slice(b"\x81\x80");
        let (req, used) = Request::parse(&more).unwrap().unwrap();
        assert_eq!(
            used,
            raw.len(),
            "bytes after the headers are left for the connection"
        );
        let answer = String::from_utf8(req.accept().to_bytes()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(answer.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(answer.contains("\r\nUpgrade: websocket\r\n"));
    }

    #[test]
    fn every_requirement_is_checked() {
        let cases: &[(&str, &str, RequestError)] = &[
            (
                "GET /chat",
                "PUT /chat",
                RequestError::MethodNotGet("PUT".into()),
            ),
            (
                "HTTP/1.1\r\nHost",
                "HTTP/1.0\r\nHost",
                RequestError::NotHttp11,
            ),
            (
                "Host: server.example.com\r\n",
                "",
                RequestError::MissingHost,
            ),
            (
                "Upgrade: websocket",
                "Upgrade: h2c",
                RequestError::MissingUpgradeWebSocket,
            ),
            (
                "Connection: Upgrade",
                "Connection: keep-alive",
                RequestError::MissingConnectionUpgrade,
            ),
            (
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                "",
                RequestError::MissingKey,
            ),
            (
                "dGhlIHNhbXBsZSBub25jZQ==",
                "dGhlIHNhbXBsZQ==",
                RequestError::InvalidKey,
            ),
            (
                "Version: 13",
                "Version: 8",
                RequestError::UnsupportedVersion(Some("8".into())),
            ),
            (
                "Sec-WebSocket-Version: 13\r\n",
                "",
                RequestError::UnsupportedVersion(None),
            ),
        ];
        for (from, to, expected) in cases {
            assert_eq!(
                Request::parse(&with(from, to)).as_ref(),
                Err(expected),
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn tokens_are_lists_in_any_case() {
        let raw = with("Connection: Upgrade", "connection: keep-alive, UPGRADE");
        let raw = String::from_utf8(raw)
            .unwrap()
            .replace("Upgrade: websocket", "upgrade: WebSocket");
        assert!(Request::parse(raw.as_bytes()).unwrap().is_some());
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_header_bytes: 64,
            max_headers: 64,
        };
        assert_eq!(
            Request::parse_with_limits(GOOD.as_bytes(), limits),
            Err(RequestError::HeadersTooLarge { limit: 64 })
        );
        let limits = Limits {
            max_header_bytes: 4096,
            max_headers: 3,
        };
        assert_eq!(
            Request::parse_with_limits(GOOD.as_bytes(), limits),
            Err(RequestError::TooManyHeaders { limit: 3 })
        );
        assert!(matches!(
            Request::parse(b"\x00\x01garbage\r\n\r\n"),
            Err(RequestError::MalformedHttp(_))
        ));
    }
}
