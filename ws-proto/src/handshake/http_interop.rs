//! Conversions to and from the `http` crate's types (feature `http`), for
//! servers built on hyper or axum and clients that already speak `http`.

use super::{
    ClientHandshake, ClientRequest, HandshakeConfig, HandshakeError, Header, Request, RequestError,
    Response, ResponseError, ServerResponse,
};
use crate::Extensions;

fn headers_of(map: &http::HeaderMap) -> Vec<Header> {
    map.iter()
        .map(|(name, value)| Header::new(name.as_str(), value.as_bytes()))
        .collect()
}

impl Request {
    /// Checks a request that an HTTP server already parsed.
    ///
    /// ```
    /// let req = http::Request::get("/chat")
    ///     .header("host", "h")
    ///     .header("upgrade", "websocket")
    ///     .header("connection", "upgrade")
    ///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("sec-websocket-version", "13")
    ///     .body(())
    ///     .unwrap();
    /// let checked = ws_proto::handshake::Request::from_http(&req).unwrap();
    /// assert_eq!(checked.path(), "/chat");
    /// ```
    pub fn from_http<B>(request: &http::Request<B>) -> Result<Self, RequestError> {
        Self::check_http(
            request.method(),
            request.version(),
            request.uri(),
            request.headers(),
        )
    }

    /// [`from_http`](Self::from_http) for a request split into its parts
    /// (what an axum extractor or a tower layer sees).
    ///
    /// ```
    /// use ws_proto::handshake::{Request, RequestError};
    /// let (parts, ()) = http::Request::post("/chat").body(()).unwrap().into_parts();
    /// let err = Request::from_http_parts(&parts).unwrap_err();
    /// assert_eq!(err, RequestError::MethodNotGet("POST".into()));
    /// assert_eq!(err.status(), 405);
    /// ```
    pub fn from_http_parts(parts: &http::request::Parts) -> Result<Self, RequestError> {
        Self::check_http(&parts.method, parts.version, &parts.uri, &parts.headers)
    }

    fn check_http(
        method: &http::Method,
        version: http::Version,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> Result<Self, RequestError> {
        let http11 = version >= http::Version::HTTP_11;
        let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
        Self::check(method.as_str(), http11, target, headers_of(headers))
    }

    /// Whether the headers ask for a WebSocket upgrade: `Upgrade` lists
    /// `websocket` and `Connection` lists `upgrade`, in any case (RFC 6455
    /// section 4.2.1, items 3 and 4). A server that serves pages and
    /// WebSockets on one path routes with this; it checks nothing else
    /// ([`from_http`](Self::from_http) does).
    ///
    /// ```
    /// use ws_proto::handshake::Request;
    /// let mut headers = http::HeaderMap::new();
    /// assert!(!Request::is_upgrade(&headers));
    /// headers.insert("upgrade", "WebSocket".parse().unwrap());
    /// headers.insert("connection", "keep-alive, Upgrade".parse().unwrap());
    /// assert!(Request::is_upgrade(&headers));
    /// ```
    pub fn is_upgrade(headers: &http::HeaderMap) -> bool {
        let has = |name: http::header::HeaderName, token: &str| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        has(http::header::UPGRADE, "websocket") && has(http::header::CONNECTION, "upgrade")
    }

    /// The server's side of an HTTP/1.1 upgrade in one step, for servers
    /// whose HTTP library already parsed the request (hyper, axum): checks
    /// it ([`from_http`](Self::from_http)), asks `callback` for the answer
    /// ([`Request::accept`], [`Request::accept_preferring`], a refusal such
    /// as [`ServerResponse::reject`]), negotiates the extensions `config`
    /// allows (permessage-deflate), and returns the response to send (101,
    /// or the refusal with its body) with the checked request and the
    /// negotiated extensions (start the connection with
    /// [`Connection::with_extensions`](crate::Connection::with_extensions)),
    /// or why there is no WebSocket: [`HandshakeError::Request`] (the
    /// response carries the matching status, and `Sec-WebSocket-Version: 13`
    /// for a wrong version) or [`HandshakeError::Refused`].
    ///
    /// ```
    /// use ws_proto::handshake::{HandshakeError, Request};
    /// use ws_proto::{Config, Connection, Role};
    /// let req = http::Request::get("/chat")
    ///     .header("host", "h")
    ///     .header("upgrade", "websocket")
    ///     .header("connection", "Upgrade")
    ///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("sec-websocket-version", "13")
    ///     .header("sec-websocket-protocol", "chat")
    ///     .header("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")
    ///     .body(())
    ///     .unwrap();
    /// let config = Config::default();
    /// let (response, outcome) = Request::answer_http(&req, &config, |r| r.accept_preferring(["chat"]));
    /// assert_eq!(response.status(), 101);
    /// assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    /// assert_eq!(response.headers()["sec-websocket-extensions"], "permessage-deflate");
    /// let (checked, extensions) = outcome.unwrap();
    /// assert_eq!(checked.path(), "/chat");
    /// let conn = Connection::with_extensions(Role::Server, config.clone(), extensions);
    /// # let _ = conn;
    ///
    /// let post = http::Request::post("/chat").body(()).unwrap();
    /// let (response, outcome) = Request::answer_http(&post, &config, Request::accept);
    /// assert_eq!(response.status(), 405);
    /// assert!(matches!(outcome, Err(HandshakeError::Request(_))));
    /// ```
    #[allow(clippy::type_complexity)]
    pub fn answer_http<B, C: AsRef<HandshakeConfig> + ?Sized>(
        request: &http::Request<B>,
        config: &C,
        callback: impl FnOnce(&Self) -> ServerResponse,
    ) -> (
        http::Response<Vec<u8>>,
        Result<(Self, Extensions), HandshakeError>,
    ) {
        let checked = match Self::from_http(request) {
            Ok(checked) => checked,
            Err(err) => {
                let answer = ServerResponse::from_error(&err).into_http();
                return (answer, Err(HandshakeError::Request(err)));
            }
        };
        let (answer, extensions) = checked.accept_extensions(callback(&checked), config);
        if !answer.is_accept() {
            let status = answer.status();
            return (answer.into_http(), Err(HandshakeError::Refused { status }));
        }
        (answer.into_http(), Ok((checked, extensions)))
    }
}

impl ServerResponse {
    /// The response as an `http::Response<()>` (the body, if any, is dropped:
    /// send [`body`](Self::body) yourself).
    ///
    /// ```
    /// # let req = ws_proto::handshake::Request::example();
    /// let resp = req.accept().to_http();
    /// assert_eq!(resp.status(), 101);
    /// ```
    pub fn to_http(&self) -> http::Response<()> {
        let mut builder = http::Response::builder().status(self.status());
        for h in self.headers() {
            builder = builder.header(h.name.as_str(), h.value.as_slice());
        }
        // Our own headers are valid names and values; fall back to a bare status otherwise.
        builder.body(()).unwrap_or_else(|_| {
            let mut r = http::Response::new(());
            *r.status_mut() =
                http::StatusCode::from_u16(self.status()).unwrap_or(http::StatusCode::BAD_REQUEST);
            r
        })
    }
}

impl ServerResponse {
    /// The response as an `http::Response` with its body (a refusal's
    /// text; empty for a 101).
    ///
    /// ```
    /// use ws_proto::handshake::ServerResponse;
    /// let resp = ServerResponse::reject(403, "not from here").into_http();
    /// assert_eq!(resp.status(), 403);
    /// assert_eq!(resp.body(), b"not from here");
    /// ```
    pub fn into_http(self) -> http::Response<Vec<u8>> {
        self.to_http().map(|()| self.body().to_vec())
    }
}

impl ClientRequest {
    /// The request as an `http::Request<()>`, and the state that checks the answer.
    ///
    /// ```
    /// use ws_proto::handshake::ClientRequest;
    /// let (req, _pending) = ClientRequest::from_url("ws://h/x").unwrap()
    ///     .into_http(&mut ws_proto::Randomness::os());
    /// assert_eq!(req.uri(), "/x");
    /// assert_eq!(req.headers()["sec-websocket-version"], "13");
    /// ```
    pub fn into_http(
        self,
        randomness: &mut crate::Randomness,
    ) -> (http::Request<()>, ClientHandshake) {
        let (bytes, pending) = self.into_handshake(randomness);
        // Parse our own bytes back: one source of truth for what a request holds.
        let mut storage = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut storage);
        let mut builder = http::Request::builder()
            .method("GET")
            .version(http::Version::HTTP_11);
        if parsed.parse(&bytes).is_ok() {
            builder = builder.uri(parsed.path.unwrap_or("/"));
            for h in parsed.headers.iter() {
                builder = builder.header(h.name, h.value);
            }
        }
        let request = builder.body(()).unwrap_or_else(|_| http::Request::new(()));
        (request, pending)
    }
}

impl ClientHandshake {
    /// Checks a response that an HTTP client already parsed.
    ///
    /// ```
    /// use ws_proto::handshake::{ClientRequest, Request};
    /// let (bytes, client) = ClientRequest::from_url("ws://h/").unwrap()
    ///     .into_handshake(&mut ws_proto::Randomness::os());
    /// let answer = Request::parse(&bytes).unwrap().unwrap().0.accept().to_http();
    /// assert!(client.check_http(&answer).is_ok());
    /// ```
    pub fn check_http<B>(&self, response: &http::Response<B>) -> Result<Response, ResponseError> {
        let headers = headers_of(response.headers());
        let status = response.status().as_u16();
        if status != 101 {
            return Err(ResponseError::Rejected(Box::new(super::Rejection {
                status,
                reason: response
                    .status()
                    .canonical_reason()
                    .unwrap_or("")
                    .to_string(),
                headers,
                body: Vec::new(),
            })));
        }
        self.check(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chrome's opening request, as it sends it.
    fn chrome() -> http::request::Builder {
        http::Request::get("/ws?room=1")
            .header("host", "127.0.0.1:8080")
            .header("connection", "Upgrade")
            .header("pragma", "no-cache")
            .header("cache-control", "no-cache")
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0",
            )
            .header("upgrade", "websocket")
            .header("origin", "http://127.0.0.1:8080")
            .header("sec-websocket-version", "13")
            .header("accept-encoding", "gzip, deflate, br, zstd")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header(
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits",
            )
    }

    fn without(name: &str) -> http::Request<()> {
        let mut request = chrome().body(()).unwrap();
        request.headers_mut().remove(name);
        request
    }

    #[test]
    fn refusals_carry_the_core_status() {
        let mut version_8 = chrome().body(()).unwrap();
        version_8
            .headers_mut()
            .insert("sec-websocket-version", "8".parse().unwrap());
        let mut post = chrome().body(()).unwrap();
        *post.method_mut() = http::Method::POST;
        let cases = [
            ("no key", without("sec-websocket-key"), 400),
            ("no upgrade", without("upgrade"), 426),
            ("no connection", without("connection"), 400),
            ("no version", without("sec-websocket-version"), 426),
            ("version 8", version_8, 426),
            ("post", post, 405),
        ];
        for (name, request, status) in cases {
            let (response, outcome) =
                Request::answer_http(&request, &HandshakeConfig::default(), Request::accept);
            assert_eq!(response.status(), status, "{name}");
            assert!(!response.body().is_empty(), "{name}: says why");
            let err = outcome.unwrap_err();
            assert_eq!(err.status(), Some(status), "{name}");
            let names_version = response.headers().get("sec-websocket-version");
            assert_eq!(names_version.is_some(), status == 426, "{name}");
        }
    }

    #[test]
    #[cfg(feature = "deflate")]
    fn chrome_gets_101_with_deflate() {
        let request = chrome().body(()).unwrap();
        assert!(Request::is_upgrade(request.headers()));
        let (response, outcome) =
            Request::answer_http(&request, &HandshakeConfig::default(), Request::accept);
        assert_eq!(response.status(), 101);
        assert!(response.body().is_empty());
        assert_eq!(
            response.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            response.headers()["sec-websocket-extensions"],
            "permessage-deflate"
        );
        let (checked, extensions) = outcome.unwrap();
        assert_eq!(checked.query(), Some("room=1"));
        assert!(extensions.response_header().is_some());

        let plain = HandshakeConfig::default().deflate(None);
        let (response, _) = Request::answer_http(&request, &plain, Request::accept);
        assert!(response.headers().get("sec-websocket-extensions").is_none());
    }

    #[test]
    fn the_callback_refuses_and_chooses() {
        let request = chrome()
            .header("sec-websocket-protocol", "chat.v1, chat.v2")
            .body(())
            .unwrap();
        let config = HandshakeConfig::default();
        let (response, outcome) = Request::answer_http(&request, &config, |_| {
            ServerResponse::reject(403, "cross-site")
        });
        assert_eq!(response.status(), 403);
        assert_eq!(response.body(), b"cross-site");
        assert_eq!(
            outcome.unwrap_err(),
            HandshakeError::Refused { status: 403 }
        );

        // The server's order of preference wins over the client's.
        let (response, _) = Request::answer_http(&request, &config, |r| {
            r.accept_preferring(["chat.v2", "chat.v1"])
        });
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
        let (response, outcome) =
            Request::answer_http(&request, &config, |r| r.accept_preferring(["mqtt"]));
        assert_eq!(response.status(), 101);
        assert!(response.headers().get("sec-websocket-protocol").is_none());
        assert!(outcome.is_ok());
    }

    #[test]
    fn parts_are_checked_as_the_request() {
        let (parts, ()) = chrome().body(()).unwrap().into_parts();
        let checked = Request::from_http_parts(&parts).unwrap();
        assert_eq!(checked.origin(), Some("http://127.0.0.1:8080"));
        let (parts, ()) = without("sec-websocket-key").into_parts();
        assert_eq!(
            Request::from_http_parts(&parts),
            Err(RequestError::MissingKey)
        );
    }
}
