//! The client side: build the request, validate the server's answer.

use super::accept::{accept_key, new_key};
use super::headers::{self, Header};
use super::url::WsUrl;
use super::{HandshakeConfig, InvalidUrl, Rejection, ResponseError};
#[allow(unused_imports)]
use crate::prelude::*;
use crate::Randomness;
use alloc::sync::Arc;

/// The largest response head the client buffers.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
/// How much of a rejection's body is kept.
const MAX_REJECTION_BODY: usize = 1024;

/// What a client asks for: where, which subprotocols, which extensions, and
/// any extra headers (Origin, cookies, authorization).
///
/// ```
/// use ws_proto::handshake::ClientRequest;
/// let req = ClientRequest::from_url("wss://example.com/feed")
///     .unwrap()
///     .protocol("v2.feed")
///     .header("Authorization", "Bearer abc");
/// assert_eq!(req.host(), "example.com");
/// assert_eq!(req.port(), 443);
/// assert!(req.is_secure());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    url: WsUrl,
    protocols: Vec<String>,
    extensions: Vec<String>,
    headers: Vec<Header>,
    /// The extensions offered with an implementation behind them.
    negotiators: crate::extensions::Negotiators,
    /// The offers are final (a relay's, the client's own): a
    /// configuration's extensions are not added.
    offers_final: bool,
}

impl ClientRequest {
    /// A request for a `ws://` or `wss://` URL.
    ///
    /// ```
    /// use ws_proto::handshake::ClientRequest;
    /// assert!(ClientRequest::from_url("ws://127.0.0.1:9001/").is_ok());
    /// assert!(ClientRequest::from_url("ftp://x").is_err());
    /// ```
    pub fn from_url(url: &str) -> Result<Self, InvalidUrl> {
        Ok(Self {
            url: WsUrl::parse(url)?,
            protocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
            negotiators: Default::default(),
            offers_final: false,
        })
    }

    /// Offers a subprotocol; call once per protocol, most preferred first.
    ///
    /// ```
    /// # use ws_proto::handshake::ClientRequest;
    /// let r = ClientRequest::from_url("ws://h/").unwrap().protocol("a").protocol("b");
    /// # let _ = r;
    /// ```
    pub fn protocol(mut self, name: impl Into<String>) -> Self {
        self.protocols.push(name.into());
        self
    }

    /// Offers an extension, written as it goes in `Sec-WebSocket-Extensions`.
    /// Only the name is offered here: if the server accepts it, the answer
    /// is refused
    /// ([`ResponseError::ExtensionNotSupported`](super::ResponseError::ExtensionNotSupported))
    /// unless [`offer_extensions`](Self::offer_extensions) also offers an
    /// implementation of that name, which then checks the answer.
    ///
    /// ```
    /// # use ws_proto::handshake::ClientRequest;
    /// let r = ClientRequest::from_url("ws://h/").unwrap().extension("permessage-deflate");
    /// # let _ = r;
    /// ```
    pub fn extension(mut self, offer: impl Into<String>) -> Self {
        self.extensions.push(offer.into());
        self
    }

    /// Offers the extensions `config` asks for (permessage-deflate unless it
    /// is turned off, then those added with
    /// [`Config::extension`](crate::Config::extension)); the answer is checked by
    /// [`ClientHandshake::parse_response`] and ends up in [`Response::negotiated`].
    ///
    /// ```
    /// # use ws_proto::handshake::ClientRequest;
    /// let (bytes, _) = ClientRequest::from_url("ws://h/").unwrap()
    ///     .offer_extensions(&ws_proto::Config::default())
    ///     .into_handshake(&mut ws_proto::Randomness::os());
    /// let text = String::from_utf8(bytes).unwrap();
    /// assert!(text.contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"));
    /// ```
    #[allow(unused_mut)]
    pub fn offer_extensions<C: AsRef<HandshakeConfig> + ?Sized>(mut self, config: &C) -> Self {
        if self.offers_final {
            return self;
        }
        for extension in config.as_ref().negotiators() {
            self = self.offer_implemented(extension);
        }
        self
    }

    /// Offers an extension with its implementation, unless one of that
    /// name is offered with an implementation already (a relay's request
    /// keeps its own offers when a configuration is applied to it).
    pub(crate) fn offer_implemented(
        mut self,
        extension: Arc<dyn crate::NegotiateExtension>,
    ) -> Self {
        let name = extension.name();
        if self
            .negotiators
            .0
            .iter()
            .any(|n| n.name().eq_ignore_ascii_case(name))
        {
            return self;
        }
        self.extensions.push(extension.offer());
        self.negotiators.0.push(extension);
        self
    }

    /// Makes the offers so far the only ones: a configuration's extensions
    /// are not added (a relay offers what its client offered, nothing else).
    pub(crate) fn offers_final(mut self) -> Self {
        self.offers_final = true;
        self
    }

    /// Replaces the path and query the request asks for.
    pub(crate) fn set_target(&mut self, target: String) {
        self.url.resource = target;
    }

    /// Adds a header (for example `Origin`, `Cookie`, `Authorization`).
    ///
    /// ```
    /// # use ws_proto::handshake::ClientRequest;
    /// let r = ClientRequest::from_url("ws://h/").unwrap().header("Origin", "http://h");
    /// # let _ = r;
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push(Header::new(name, value));
        self
    }

    /// The host to connect to (IPv6 without brackets).
    ///
    /// ```
    /// # use ws_proto::handshake::ClientRequest;
    /// assert_eq!(ClientRequest::from_url("ws://[::1]:80/").unwrap().host(), "::1");
    /// ```
    pub fn host(&self) -> &str {
        &self.url.host
    }

    /// The port to connect to (80 or 443 unless the URL says otherwise).
    ///
    /// ```
    /// # use ws_proto::handshake::ClientRequest;
    /// assert_eq!(ClientRequest::from_url("ws://h").unwrap().port(), 80);
    /// ```
    pub fn port(&self) -> u16 {
        self.url.port
    }

    /// Whether the URL was `wss://` (TLS).
    ///
    /// ```
    /// # use ws_proto::handshake::ClientRequest;
    /// assert!(!ClientRequest::from_url("ws://h").unwrap().is_secure());
    /// ```
    pub fn is_secure(&self) -> bool {
        self.url.secure
    }

    /// The request target: path and query.
    ///
    /// ```
    /// # use ws_proto::handshake::ClientRequest;
    /// assert_eq!(ClientRequest::from_url("ws://h/a?b").unwrap().target(), "/a?b");
    /// ```
    pub fn target(&self) -> &str {
        &self.url.resource
    }

    /// Builds the request bytes with a fresh key, and the state that checks
    /// the answer.
    ///
    /// ```
    /// # use ws_proto::handshake::ClientRequest;
    /// let (bytes, _pending) = ClientRequest::from_url("ws://h:8080/x").unwrap()
    ///     .into_handshake(&mut ws_proto::Randomness::seeded(1));
    /// let text = String::from_utf8(bytes).unwrap();
    /// assert!(text.starts_with("GET /x HTTP/1.1\r\nHost: h:8080\r\n"));
    /// ```
    pub fn into_handshake(self, randomness: &mut Randomness) -> (Vec<u8>, ClientHandshake) {
        let key = new_key(randomness);
        let mut out = String::with_capacity(256);
        out.push_str("GET ");
        out.push_str(&self.url.resource);
        out.push_str(" HTTP/1.1\r\nHost: ");
        out.push_str(&self.url.host_header());
        out.push_str("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
        out.push_str(&key);
        out.push_str("\r\nSec-WebSocket-Version: 13\r\n");
        if !self.protocols.is_empty() {
            out.push_str("Sec-WebSocket-Protocol: ");
            out.push_str(&self.protocols.join(", "));
            out.push_str("\r\n");
        }
        if !self.extensions.is_empty() {
            out.push_str("Sec-WebSocket-Extensions: ");
            out.push_str(&self.extensions.join(", "));
            out.push_str("\r\n");
        }
        let mut bytes = out.into_bytes();
        for h in &self.headers {
            bytes.extend_from_slice(h.name.as_bytes());
            bytes.extend_from_slice(b": ");
            bytes.extend_from_slice(&h.value);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        let pending = self.pending(key);
        (bytes, pending)
    }

    /// The state that checks the answer, for a request sent with `key`
    /// (empty over HTTP/2, where there is none).
    pub(crate) fn pending(self, key: String) -> ClientHandshake {
        let extension_names = self
            .extensions
            .iter()
            .map(|offer| {
                offer
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect();
        ClientHandshake {
            expected_accept: if key.is_empty() {
                String::new()
            } else {
                accept_key(key.as_bytes())
            },
            key,
            protocols: self.protocols,
            extension_names,
            negotiators: self.negotiators,
        }
    }

    /// The extra headers the caller added.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn extra_headers(&self) -> &[Header] {
        &self.headers
    }

    /// The subprotocols and extension offers, for building other request forms.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn offers(&self) -> (&[String], &[String]) {
        (&self.protocols, &self.extensions)
    }
}

/// A sent request waiting for its answer.
///
/// ```
/// use ws_proto::handshake::{ClientRequest, Request};
/// let (bytes, client) = ClientRequest::from_url("ws://h/").unwrap()
///     .into_handshake(&mut ws_proto::Randomness::os());
/// let (request, _) = Request::parse(&bytes).unwrap().unwrap();
/// assert_eq!(request.key(), client.key());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    key: String,
    expected_accept: String,
    protocols: Vec<String>,
    extension_names: Vec<String>,
    negotiators: crate::extensions::Negotiators,
}

impl ClientHandshake {
    /// The `Sec-WebSocket-Key` that was sent.
    ///
    /// ```
    /// # let (_, c) = ws_proto::handshake::ClientRequest::from_url("ws://h/").unwrap()
    /// #     .into_handshake(&mut ws_proto::Randomness::os());
    /// assert_eq!(c.key().len(), 24);
    /// ```
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Parses and checks the server's answer from the start of `buf`.
    /// `Ok(None)`: the head is not complete yet. `Ok(Some((response, n)))`: the
    /// response used `n` bytes; the rest belongs to the connection.
    ///
    /// ```
    /// use ws_proto::handshake::{ClientRequest, Request};
    /// let (bytes, client) = ClientRequest::from_url("ws://h/").unwrap()
    ///     .into_handshake(&mut ws_proto::Randomness::os());
    /// let answer = Request::parse(&bytes).unwrap().unwrap().0.accept().to_bytes();
    /// assert_eq!(client.parse_response(&answer[..10]), Ok(None));
    /// assert!(client.parse_response(&answer).unwrap().is_some());
    /// ```
    pub fn parse_response(&self, buf: &[u8]) -> Result<Option<(Response, usize)>, ResponseError> {
        let mut storage = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut storage);
        let window = &buf[..buf.len().min(MAX_RESPONSE_HEAD)];
        let used = match parsed.parse(window) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) if buf.len() >= MAX_RESPONSE_HEAD => {
                return Err(ResponseError::HeadersTooLarge {
                    limit: MAX_RESPONSE_HEAD,
                })
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(ResponseError::MalformedHttp(e.to_string())),
        };
        let status = parsed.code.unwrap_or(0);
        let headers = headers::from_httparse(parsed.headers);
        if status != 101 {
            let body = &buf[used..];
            return Err(ResponseError::Rejected(Box::new(Rejection {
                status,
                reason: parsed.reason.unwrap_or("").to_string(),
                headers,
                body: body[..body.len().min(MAX_REJECTION_BODY)].to_vec(),
            })));
        }
        self.check(headers).map(|r| Some((r, used)))
    }

    /// The checks of section 4.1 on a 101 response's headers, for any source.
    pub(crate) fn check(&self, headers: Vec<Header>) -> Result<Response, ResponseError> {
        self.check_upgrade(&headers)?;
        self.check_negotiation(headers)
    }

    /// The HTTP/1.1 upgrade checks of section 4.1.
    fn check_upgrade(&self, headers: &[Header]) -> Result<(), ResponseError> {
        if !headers::has_token(headers, "upgrade", "websocket") {
            return Err(ResponseError::MissingUpgradeWebSocket);
        }
        if !headers::has_token(headers, "connection", "upgrade") {
            return Err(ResponseError::MissingConnectionUpgrade);
        }
        match headers::find(headers, "sec-websocket-accept") {
            Some(v) if v.trim_ascii() == self.expected_accept.as_bytes() => {}
            _ => return Err(ResponseError::AcceptMismatch),
        }
        Ok(())
    }

    /// The subprotocol and extension checks shared by HTTP/1.1 and HTTP/2.
    pub(crate) fn check_negotiation(
        &self,
        headers: Vec<Header>,
    ) -> Result<Response, ResponseError> {
        let protocol = headers::find(&headers, "sec-websocket-protocol")
            .map(|v| String::from_utf8_lossy(v).trim().to_string());
        if let Some(p) = &protocol {
            if !self.protocols.iter().any(|offered| offered == p) {
                return Err(ResponseError::ProtocolNotOffered(p.clone()));
            }
        }
        for name in headers::extension_names(&headers) {
            if !self
                .extension_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name))
            {
                return Err(ResponseError::ExtensionNotOffered(name.to_string()));
            }
        }
        // Every accepted extension is checked by its implementation; one
        // offered by name only cannot be used, so its acceptance is refused.
        let values = headers::tokens(&headers, "sec-websocket-extensions");
        let negotiated =
            crate::extensions::check_answer(&self.negotiators.0, values).map_err(|e| match e {
                crate::extensions::AnswerError::NotImplemented(name) => {
                    ResponseError::ExtensionNotSupported(name)
                }
                crate::extensions::AnswerError::Invalid(why) => {
                    ResponseError::InvalidExtension(why)
                }
            })?;
        Ok(Response {
            headers,
            protocol,
            negotiated,
        })
    }
}

/// A server's accepted (101) answer.
///
/// ```
/// # use ws_proto::handshake::{ClientRequest, Request};
/// # let (bytes, client) = ClientRequest::from_url("ws://h/").unwrap().protocol("chat")
/// #     .into_handshake(&mut ws_proto::Randomness::os());
/// # let answer = Request::parse(&bytes).unwrap().unwrap().0.accept_with_protocol("chat").unwrap().to_bytes();
/// let (response, _) = client.parse_response(&answer).unwrap().unwrap();
/// assert_eq!(response.protocol(), Some("chat"));
/// assert_eq!(response.header("upgrade"), Some("websocket"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    headers: Vec<Header>,
    protocol: Option<String>,
    negotiated: crate::Extensions,
}

impl Response {
    /// The subprotocol the server chose, if any.
    ///
    /// ```
    /// # use ws_proto::handshake::{ClientRequest, Request};
    /// # let (bytes, client) = ClientRequest::from_url("ws://h/").unwrap()
    /// #     .into_handshake(&mut ws_proto::Randomness::os());
    /// # let answer = Request::parse(&bytes).unwrap().unwrap().0.accept().to_bytes();
    /// assert_eq!(client.parse_response(&answer).unwrap().unwrap().0.protocol(), None);
    /// ```
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Every header, in order.
    ///
    /// ```
    /// # use ws_proto::handshake::{ClientRequest, Request};
    /// # let (bytes, client) = ClientRequest::from_url("ws://h/").unwrap()
    /// #     .into_handshake(&mut ws_proto::Randomness::os());
    /// # let answer = Request::parse(&bytes).unwrap().unwrap().0.accept().to_bytes();
    /// assert_eq!(client.parse_response(&answer).unwrap().unwrap().0.headers().len(), 3);
    /// ```
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The first header called `name` (any case), as text.
    ///
    /// ```
    /// # use ws_proto::handshake::{ClientRequest, Request};
    /// # let (bytes, client) = ClientRequest::from_url("ws://h/").unwrap()
    /// #     .into_handshake(&mut ws_proto::Randomness::os());
    /// # let answer = Request::parse(&bytes).unwrap().unwrap().0.accept().to_bytes();
    /// assert_eq!(client.parse_response(&answer).unwrap().unwrap().0.header("CONNECTION"), Some("Upgrade"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        headers::find(&self.headers, name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The extensions agreed on, checked and ready for
    /// [`Connection::with_extensions`](crate::Connection::with_extensions).
    ///
    /// ```
    /// # use ws_proto::handshake::{ClientRequest, Request};
    /// # use ws_proto::Config;
    /// let config = Config::default();
    /// let (bytes, client) = ClientRequest::from_url("ws://h/").unwrap()
    ///     .offer_extensions(&config)
    ///     .into_handshake(&mut ws_proto::Randomness::os());
    /// let (request, _) = Request::parse(&bytes).unwrap().unwrap();
    /// let (answer, _) = request.accept_extensions(request.accept(), &config);
    /// let (response, _) = client.parse_response(&answer.to_bytes()).unwrap().unwrap();
    /// assert!(response.negotiated().contains("permessage-deflate"));
    /// ```
    pub fn negotiated(&self) -> &crate::Extensions {
        &self.negotiated
    }

    /// The extensions the server accepted, one string each.
    ///
    /// ```
    /// # use ws_proto::handshake::{ClientRequest, Request};
    /// # let (bytes, client) = ClientRequest::from_url("ws://h/").unwrap()
    /// #     .into_handshake(&mut ws_proto::Randomness::os());
    /// # let answer = Request::parse(&bytes).unwrap().unwrap().0.accept().to_bytes();
    /// assert_eq!(client.parse_response(&answer).unwrap().unwrap().0.extensions().count(), 0);
    /// ```
    pub fn extensions(&self) -> impl Iterator<Item = &str> {
        headers::tokens(&self.headers, "sec-websocket-extensions")
    }
}

#[cfg(test)]
impl Response {
    /// A 101 response choosing `protocol`, for other modules' tests.
    pub(crate) fn for_tests(protocol: Option<&str>) -> Self {
        Self {
            headers: Vec::new(),
            protocol: protocol.map(String::from),
            negotiated: crate::Extensions::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::Request;

    fn pair(req: ClientRequest) -> (ClientHandshake, Request) {
        let (bytes, client) = req.into_handshake(&mut Randomness::seeded(9));
        let (request, used) = Request::parse(&bytes).unwrap().unwrap();
        assert_eq!(used, bytes.len());
        (client, request)
    }

    fn response_with(
        client: &ClientHandshake,
        text: &str,
    ) -> Result<Option<(Response, usize)>, ResponseError> {
        client.parse_response(text.as_bytes())
    }

    #[test]
    fn request_carries_everything_asked_for() {
        let req = ClientRequest::from_url("ws://example.com:9001/chat?x=1")
            .unwrap()
            .protocol("chat")
            .protocol("superchat")
            .extension("permessage-deflate; client_max_window_bits")
            .header("Origin", "http://example.com")
            .header("Cookie", "a=b");
        let (client, request) = pair(req);
        assert_eq!(request.target(), "/chat?x=1");
        assert_eq!(request.header("host"), Some("example.com:9001"));
        assert_eq!(request.protocols(), ["chat", "superchat"]);
        assert_eq!(request.origin(), Some("http://example.com"));
        assert_eq!(request.header("cookie"), Some("a=b"));
        assert_eq!(
            request.extension_offers().collect::<Vec<_>>(),
            ["permessage-deflate; client_max_window_bits"]
        );
        assert_eq!(request.key(), client.key());
    }

    #[test]
    fn response_checks() {
        let (client, _) = pair(ClientRequest::from_url("ws://h/").unwrap().protocol("chat"));
        let accept = client.expected_accept.clone();
        let good = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\nrest"
        );
        let (resp, used) = response_with(&client, &good).unwrap().unwrap();
        assert_eq!(used, good.len() - 4);
        assert_eq!(resp.protocol(), None);
        for cut in 0..used {
            assert_eq!(client.parse_response(&good.as_bytes()[..cut]), Ok(None));
        }
        let cases = [
            (
                "Upgrade: WebSocket\r\n",
                "",
                ResponseError::MissingUpgradeWebSocket,
            ),
            (
                "keep-alive, upgrade",
                "keep-alive",
                ResponseError::MissingConnectionUpgrade,
            ),
            (
                accept.as_str(),
                "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                ResponseError::AcceptMismatch,
            ),
            (
                "\r\n\r\n",
                "\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n",
                ResponseError::ProtocolNotOffered("mqtt".into()),
            ),
            (
                "\r\n\r\n",
                "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                ResponseError::ExtensionNotOffered("permessage-deflate".into()),
            ),
        ];
        for (from, to, expected) in cases {
            let text = good.replacen(from, to, 1);
            assert_eq!(
                response_with(&client, &text),
                Err(expected),
                "{from} -> {to}"
            );
        }
        let chosen = good.replacen("\r\n\r\n", "\r\nSec-WebSocket-Protocol: chat\r\n\r\n", 1);
        assert_eq!(
            response_with(&client, &chosen)
                .unwrap()
                .unwrap()
                .0
                .protocol(),
            Some("chat")
        );
    }

    #[test]
    fn rejection_keeps_status_headers_and_body_start() {
        let (client, _) = pair(ClientRequest::from_url("ws://h/").unwrap());
        let err = response_with(
            &client,
            "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>hello",
        )
        .unwrap_err();
        let ResponseError::Rejected(r) = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (r.status, r.reason.as_str(), &r.body[..]),
            (200, "OK", &b"<html>hello"[..])
        );
        assert_eq!(r.headers[0].name, "Content-Type");
        assert!(r.to_string().contains("proxy"), "{r}");
        let big_body = format!("HTTP/1.1 403 Forbidden\r\n\r\n{}", "x".repeat(5000));
        let ResponseError::Rejected(r) = response_with(&client, &big_body).unwrap_err() else {
            panic!()
        };
        assert_eq!(r.body.len(), MAX_REJECTION_BODY);
    }
}
