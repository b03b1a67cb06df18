//! WebSocket over HTTP/2 (RFC 8441): the extended CONNECT handshake, with the
//! `http` crate's types (feature `http`).
//!
//! Over HTTP/2 the opening handshake is one extended CONNECT request on a
//! stream (`:method CONNECT`, `:protocol websocket`, `sec-websocket-version:
//! 13`, subprotocols and extensions as usual, no key) answered with a 2xx.
//! After that, frames and the [`Connection`](crate::Connection) are exactly
//! as over HTTP/1.1, carried in the stream's DATA frames.
//!
//! The `http` crate has no field for the `:protocol` pseudo-header: HTTP/2
//! libraries carry it as a request extension (`h2::ext::Protocol`,
//! re-exported by hyper as `hyper::ext::Protocol`). Set it to `websocket` on
//! requests built by [`ClientRequest::into_h2`], and pass its value to
//! [`Request::from_h2`] on the server.
//!
//! [`accept`] and [`connect`] run the whole handshake for an adapter (the
//! checks of RFC 8441, the answer, the extension negotiation, the handshake
//! timer), so that the adapter only moves its HTTP/2 library's pieces and
//! starts the [`Connection`](crate::Connection) with the extensions they
//! negotiated ([`Connection::with_extensions`](crate::Connection::with_extensions)).
//!
//! ```
//! use ws_proto::handshake::{h2, ClientRequest};
//! use ws_proto::{Config, Connection, Role};
//!
//! let config = Config::default();
//! let url = ClientRequest::from_url("wss://example.com/chat").unwrap().protocol("chat");
//! let (request, pending) = h2::connect(url, &config);
//! assert_eq!(request.method(), http::Method::CONNECT);
//!
//! // The server side, with the :protocol value taken from the h2 extension.
//! let (answer, accepted) = h2::accept(&request, Some("websocket"), &config, |req| {
//!     req.accept_with_protocol("chat").unwrap()
//! });
//! assert_eq!(answer.status(), 200);
//! let (checked, extensions) = accepted.unwrap();
//! assert_eq!(checked.path(), "/chat");
//! let server = Connection::with_extensions(Role::Server, config.clone(), extensions);
//!
//! // The client checks the 200 and opens its connection.
//! let response = pending.open(&answer).unwrap();
//! assert_eq!(response.protocol(), Some("chat"));
//! let client = Connection::with_extensions(Role::Client, config, response.negotiated().clone());
//! # let _ = (server, client);
//! ```

use core::time::Duration;

use super::headers::{self, Header};
use super::{
    ClientHandshake, ClientRequest, HandshakeConfig, HandshakeError, Rejection, Request,
    RequestError, Response, ResponseError, ServerResponse,
};
use crate::{Extensions, Instant};

/// How much of a refusal's body an adapter reads for
/// [`Rejection::body`] (as the HTTP/1.1 handshake keeps).
///
/// ```
/// assert_eq!(ws_proto::handshake::h2::MAX_REFUSAL_BODY, 1024);
/// ```
pub const MAX_REFUSAL_BODY: usize = 1024;

/// The server's side of an RFC 8441 handshake in one step: checks the
/// extended CONNECT (`protocol` is its `:protocol` pseudo-header, from the
/// HTTP/2 library's request extensions), asks `callback` for the answer
/// ([`Request::accept`], [`Request::accept_with_protocol`], a refusal such
/// as [`ServerResponse::reject`]), negotiates the extensions `config`
/// allows, and returns the response to send with the checked request and
/// the negotiated extensions (start the connection with
/// [`Connection::with_extensions`](crate::Connection::with_extensions)), or
/// why there is no WebSocket ([`HandshakeError::Request`], with the matching
/// error status in the response, or [`HandshakeError::Refused`]).
///
/// The response always carries a body when it refuses (the refusal's, or
/// its status line): an HTTP/2 client may report a refusal that ends with
/// its HEADERS frame, followed by the server's RST_STREAM(NO_ERROR) (RFC
/// 9113 section 8.1), as a reset instead.
///
/// ```
/// use ws_proto::handshake::{h2, HandshakeError, Request};
/// let get = http::Request::get("/chat").body(()).unwrap();
/// let (response, outcome) = h2::accept(&get, None, &ws_proto::Config::default(), Request::accept);
/// assert_eq!(response.status(), 400);
/// assert!(matches!(outcome, Err(HandshakeError::Request(_))));
/// ```
#[allow(clippy::type_complexity)]
pub fn accept<B, C: AsRef<HandshakeConfig> + ?Sized>(
    request: &http::Request<B>,
    protocol: Option<&str>,
    config: &C,
    callback: impl FnOnce(&Request) -> ServerResponse,
) -> (
    http::Response<Vec<u8>>,
    Result<(Request, Extensions), HandshakeError>,
) {
    let checked = match Request::from_h2(request, protocol) {
        Ok(checked) => checked,
        Err(err) => {
            let answer = ServerResponse::from_error(&err);
            return (answer_h2(&answer), Err(HandshakeError::Request(err)));
        }
    };
    let (answer, extensions) = checked.accept_extensions(callback(&checked), config);
    let response = answer_h2(&answer);
    if !answer.is_accept() {
        let status = answer.status();
        return (response, Err(HandshakeError::Refused { status }));
    }
    (response, Ok((checked, extensions)))
}

/// The client's side of an RFC 8441 handshake: the extended CONNECT for
/// `request` (with the permessage-deflate offer `config` makes; set your
/// HTTP/2 library's `:protocol` extension to `websocket` before sending
/// it), and the [`H2Client`] that checks the answer and runs the handshake
/// timer.
///
/// ```
/// use ws_proto::handshake::{h2, ClientRequest};
/// let url = ClientRequest::from_url("ws://h/feed").unwrap();
/// let (request, _pending) = h2::connect(url, &ws_proto::Config::default());
/// assert_eq!(request.uri(), "http://h:80/feed");
/// ```
pub fn connect<C: AsRef<HandshakeConfig> + ?Sized>(
    request: ClientRequest,
    config: &C,
) -> (http::Request<()>, H2Client) {
    let (request, pending) = request.offer_extensions(config).into_h2();
    let client = H2Client {
        pending,
        timeout: config.as_ref().get_timeout(),
        deadline: None,
    };
    (request, client)
}

/// The client's side of an RFC 8441 handshake while the answer is awaited
/// (from [`connect`]).
///
/// ```
/// use std::time::{Duration, Instant};
/// use ws_proto::handshake::{h2, ClientRequest, HandshakeError};
/// let config = ws_proto::Config::default().handshake_timeout(Duration::from_secs(2));
/// let (_, mut pending) = h2::connect(ClientRequest::from_url("ws://h/").unwrap(), &config);
/// let start = Instant::now();
/// let deadline = pending.poll_timeout(start);
/// assert_eq!(deadline, start + Duration::from_secs(2));
/// assert_eq!(pending.handle_timeout(start), None);
/// assert!(matches!(pending.handle_timeout(deadline), Some(HandshakeError::TimedOut { .. })));
/// ```
#[derive(Debug)]
pub struct H2Client {
    pending: ClientHandshake,
    timeout: Duration,
    /// Armed by the first `poll_timeout`.
    deadline: Option<Instant>,
}

impl H2Client {
    /// When the handshake times out (the config's handshake timeout after
    /// the first call): sleep until then, then call
    /// [`handle_timeout`](Self::handle_timeout).
    ///
    /// ```
    /// # use ws_proto::handshake::{h2, ClientRequest};
    /// let (_, mut pending) = h2::connect(ClientRequest::from_url("ws://h/").unwrap(), &ws_proto::Config::default());
    /// let now = std::time::Instant::now();
    /// assert!(pending.poll_timeout(now) > now);
    /// ```
    pub fn poll_timeout(&mut self, now: Instant) -> Instant {
        let timeout = self.timeout;
        *self.deadline.get_or_insert_with(|| now + timeout)
    }

    /// The handshake's error once its deadline has passed
    /// ([`HandshakeError::TimedOut`]), `None` before.
    ///
    /// ```
    /// # use ws_proto::handshake::{h2, ClientRequest};
    /// let (_, mut pending) = h2::connect(ClientRequest::from_url("ws://h/").unwrap(), &ws_proto::Config::default());
    /// let now = std::time::Instant::now();
    /// pending.poll_timeout(now);
    /// assert_eq!(pending.handle_timeout(now), None);
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) -> Option<HandshakeError> {
        let passed = self.deadline.is_some_and(|deadline| now >= deadline);
        passed.then_some(HandshakeError::TimedOut {
            after: self.timeout,
        })
    }

    /// Checks the answer: any 2xx accepts, subprotocol and extensions are
    /// checked as over HTTP/1.1; start the connection with the extensions
    /// of [`Response::negotiated`]. A refusal is
    /// [`HandshakeError::Response`] with [`ResponseError::Rejected`]: read up
    /// to [`MAX_REFUSAL_BODY`] bytes of its body into [`Rejection::body`]
    /// for the error.
    ///
    /// ```
    /// # use ws_proto::handshake::{h2, ClientRequest};
    /// let (_, pending) = h2::connect(ClientRequest::from_url("ws://h/").unwrap(), &ws_proto::Config::default());
    /// let refused = http::Response::builder().status(403).body(()).unwrap();
    /// assert_eq!(pending.open(&refused).unwrap_err().status(), Some(403));
    /// let ok = http::Response::builder().status(200).body(()).unwrap();
    /// assert!(pending.open(&ok).is_ok());
    /// ```
    pub fn open<B>(&self, response: &http::Response<B>) -> Result<Response, HandshakeError> {
        self.pending
            .check_h2_response(response)
            .map_err(HandshakeError::Response)
    }
}

/// The answer as an `http::Response`, with a body when it refuses.
fn answer_h2(answer: &ServerResponse) -> http::Response<Vec<u8>> {
    let body = if answer.is_accept() {
        Vec::new()
    } else if answer.body().is_empty() {
        let status = http::StatusCode::from_u16(answer.status()).ok();
        let reason = status
            .and_then(|s| s.canonical_reason())
            .unwrap_or("refused");
        format!("{} {reason}\n", answer.status()).into_bytes()
    } else {
        answer.body().to_vec()
    };
    answer.to_http().map(|()| body)
}

impl ClientRequest {
    /// The extended CONNECT request for this URL (RFC 8441 section 4), and the
    /// state that checks the answer. Set the `:protocol` extension of your
    /// HTTP/2 library to `websocket` before sending it.
    ///
    /// ```
    /// use ws_proto::handshake::ClientRequest;
    /// let (req, _) = ClientRequest::from_url("wss://h:8443/feed?x=1").unwrap().into_h2();
    /// assert_eq!(req.uri(), "https://h:8443/feed?x=1");
    /// assert_eq!(req.headers()["sec-websocket-version"], "13");
    /// assert!(req.headers().get("sec-websocket-key").is_none());
    /// ```
    pub fn into_h2(self) -> (http::Request<()>, ClientHandshake) {
        let scheme = if self.is_secure() { "https" } else { "http" };
        let authority = {
            let host = if self.host().contains(':') {
                format!("[{}]", self.host())
            } else {
                self.host().to_string()
            };
            format!("{host}:{}", self.port())
        };
        let uri = format!("{scheme}://{authority}{}", self.target());
        let mut builder = http::Request::builder()
            .method(http::Method::CONNECT)
            .version(http::Version::HTTP_2)
            .uri(uri)
            .header("sec-websocket-version", "13");
        let (protocols, extensions) = self.offers();
        if !protocols.is_empty() {
            builder = builder.header("sec-websocket-protocol", protocols.join(", "));
        }
        if !extensions.is_empty() {
            builder = builder.header("sec-websocket-extensions", extensions.join(", "));
        }
        for h in self.extra_headers() {
            builder = builder.header(h.name.as_str(), h.value.as_slice());
        }
        // Parts that do not form a valid request (a header name with spaces,
        // say) leave an empty CONNECT that the peer will refuse.
        let request = builder.body(()).unwrap_or_else(|_| {
            let mut r = http::Request::new(());
            *r.method_mut() = http::Method::CONNECT;
            r
        });
        (request, self.pending(String::new()))
    }
}

impl Request {
    /// Checks an extended CONNECT request (RFC 8441 section 5). `protocol` is
    /// the value of its `:protocol` pseudo-header (from your HTTP/2 library's
    /// request extensions). [`accept`](Self::accept) then answers 200.
    ///
    /// ```
    /// use ws_proto::handshake::{Request, RequestError};
    /// let get = http::Request::get("/").body(()).unwrap();
    /// assert_eq!(Request::from_h2(&get, Some("websocket")), Err(RequestError::MethodNotConnect("GET".into())));
    /// ```
    pub fn from_h2<B>(
        request: &http::Request<B>,
        protocol: Option<&str>,
    ) -> Result<Self, RequestError> {
        if request.method() != http::Method::CONNECT {
            return Err(RequestError::MethodNotConnect(request.method().to_string()));
        }
        match protocol {
            Some(p) if p.eq_ignore_ascii_case("websocket") => {}
            other => {
                return Err(RequestError::ProtocolNotWebSocket(
                    other.map(str::to_string),
                ))
            }
        }
        let headers: Vec<Header> = request
            .headers()
            .iter()
            .map(|(name, value)| Header::new(name.as_str(), value.as_bytes()))
            .collect();
        match headers::find(&headers, "sec-websocket-version") {
            Some(v) if v.trim_ascii() == b"13" => {}
            Some(v) => {
                return Err(RequestError::UnsupportedVersion(Some(
                    String::from_utf8_lossy(v).into_owned(),
                )))
            }
            None => return Err(RequestError::UnsupportedVersion(None)),
        }
        let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        Ok(Self::h2(target, headers))
    }
}

impl ClientHandshake {
    /// Checks the answer to an extended CONNECT (RFC 8441 section 4): any 2xx
    /// accepts; subprotocol and extensions are checked as over HTTP/1.1.
    ///
    /// ```
    /// use ws_proto::handshake::ClientRequest;
    /// let (_, pending) = ClientRequest::from_url("ws://h/").unwrap().into_h2();
    /// let refused = http::Response::builder().status(403).body(()).unwrap();
    /// assert!(pending.check_h2_response(&refused).is_err());
    /// let ok = http::Response::builder().status(200).body(()).unwrap();
    /// assert!(pending.check_h2_response(&ok).is_ok());
    /// ```
    pub fn check_h2_response<B>(
        &self,
        response: &http::Response<B>,
    ) -> Result<Response, ResponseError> {
        let headers: Vec<Header> = response
            .headers()
            .iter()
            .map(|(name, value)| Header::new(name.as_str(), value.as_bytes()))
            .collect();
        if !response.status().is_success() {
            return Err(ResponseError::Rejected(Box::new(Rejection {
                status: response.status().as_u16(),
                reason: response
                    .status()
                    .canonical_reason()
                    .unwrap_or("")
                    .to_string(),
                headers,
                body: Vec::new(),
            })));
        }
        self.check_negotiation(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_checks() {
        let base = || {
            http::Request::builder()
                .method(http::Method::CONNECT)
                .uri("https://h/chat")
        };
        let good = base()
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap();
        let req = Request::from_h2(&good, Some("websocket")).unwrap();
        assert_eq!((req.path(), req.key()), ("/chat", ""));
        let answer = req.accept();
        assert_eq!(answer.status(), 200);
        assert!(answer.is_accept());
        assert!(
            answer.headers().is_empty(),
            "no Upgrade, Connection or accept key over HTTP/2"
        );
        assert_eq!(
            Request::from_h2(&good, None),
            Err(RequestError::ProtocolNotWebSocket(None))
        );
        assert_eq!(
            Request::from_h2(&good, Some("mqtt")),
            Err(RequestError::ProtocolNotWebSocket(Some("mqtt".into())))
        );
        let v8 = base()
            .header("sec-websocket-version", "8")
            .body(())
            .unwrap();
        assert_eq!(
            Request::from_h2(&v8, Some("websocket")),
            Err(RequestError::UnsupportedVersion(Some("8".into())))
        );
    }

    #[test]
    fn client_checks_subprotocols_over_h2_too() {
        let (_, pending) = ClientRequest::from_url("ws://h/")
            .unwrap()
            .protocol("a")
            .into_h2();
        let chose_b = http::Response::builder()
            .status(200)
            .header("sec-websocket-protocol", "b")
            .body(())
            .unwrap();
        assert_eq!(
            pending.check_h2_response(&chose_b),
            Err(ResponseError::ProtocolNotOffered("b".into()))
        );
    }

    fn connect_request(config: &HandshakeConfig) -> (http::Request<()>, H2Client) {
        let url = ClientRequest::from_url("wss://h/room?id=7")
            .unwrap()
            .protocol("chat");
        connect(url, config)
    }

    #[test]
    fn accept_answers_and_negotiates_what_connect_offered() {
        let config = HandshakeConfig::default();
        let (request, pending) = connect_request(&config);
        let mut seen = None;
        let (response, outcome) = accept(&request, Some("websocket"), &config, |req| {
            seen = Some(req.path().to_string());
            req.accept_with_protocol("chat").unwrap()
        });
        assert_eq!(seen.as_deref(), Some("/room"));
        assert_eq!(response.status(), 200);
        assert!(response.body().is_empty());
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
        let (checked, extensions) = outcome.unwrap();
        assert_eq!(checked.query(), Some("id=7"));
        let accepted = pending.open(&response).unwrap();
        assert_eq!(accepted.protocol(), Some("chat"));
        assert_eq!(accepted.negotiated(), &extensions);
        #[cfg(feature = "deflate")]
        {
            let offered = request.headers()["sec-websocket-extensions"]
                .to_str()
                .unwrap();
            assert!(offered.contains("permessage-deflate"), "{offered}");
            let answered = response.headers()["sec-websocket-extensions"]
                .to_str()
                .unwrap();
            assert!(answered.contains("permessage-deflate"), "{answered}");
        }
    }

    #[test]
    fn refusals_and_bad_requests_carry_a_body() {
        let config = HandshakeConfig::default();
        let (request, pending) = connect_request(&config);
        let (response, outcome) = accept(&request, Some("websocket"), &config, |_| {
            ServerResponse::reject(403, "")
        });
        assert_eq!(response.status(), 403);
        assert_eq!(response.body(), b"403 Forbidden\n");
        assert_eq!(
            outcome.unwrap_err(),
            HandshakeError::Refused { status: 403 }
        );
        match pending.open(&response) {
            Err(HandshakeError::Response(ResponseError::Rejected(rejection))) => {
                assert_eq!(rejection.status, 403)
            }
            other => panic!("{other:?}"),
        }
        let (response, outcome) = accept(&request, Some("mqtt"), &config, |_| {
            unreachable!("a bad request is not handed to the callback")
        });
        assert_eq!(response.status(), 400);
        assert!(!response.body().is_empty());
        assert!(matches!(
            outcome,
            Err(HandshakeError::Request(RequestError::ProtocolNotWebSocket(
                Some(_)
            )))
        ));
    }

    #[test]
    fn the_client_times_out_at_the_configured_deadline() {
        let timeout = Duration::from_millis(500);
        let (_, mut pending) = connect_request(&HandshakeConfig::default().timeout(timeout));
        let start = Instant::now();
        assert_eq!(
            pending.handle_timeout(start + timeout),
            None,
            "not armed yet"
        );
        let deadline = pending.poll_timeout(start);
        assert_eq!(deadline, start + timeout);
        assert_eq!(pending.poll_timeout(deadline), deadline, "armed once");
        assert_eq!(pending.handle_timeout(start), None);
        assert_eq!(
            pending.handle_timeout(deadline),
            Some(HandshakeError::TimedOut { after: timeout })
        );
    }
}
