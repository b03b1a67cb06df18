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
//! ```
//! use ws_proto::handshake::{ClientRequest, Request};
//! use ws_proto::{Config, Connection, Role};
//!
//! let config = Config::default();
//! let (request, pending) = ClientRequest::from_url("wss://example.com/chat")
//!     .unwrap()
//!     .protocol("chat")
//!     .offer_extensions(&config)
//!     .into_h2();
//! assert_eq!(request.method(), http::Method::CONNECT);
//!
//! // The server side, with the :protocol value taken from the h2 extension.
//! let checked = Request::from_h2(&request, Some("websocket")).unwrap();
//! let (answer, extensions) = checked.accept_extensions(checked.accept_with_protocol("chat").unwrap(), &config);
//! let answer = answer.to_http();
//! assert_eq!(answer.status(), 200);
//! let server = Connection::with_extensions(Role::Server, config.clone(), extensions);
//!
//! // The client checks the 200 and starts its connection.
//! let response = pending.check_h2_response(&answer).unwrap();
//! assert_eq!(response.protocol(), Some("chat"));
//! let client = Connection::with_extensions(Role::Client, config, response.negotiated().clone());
//! # let _ = (server, client);
//! ```

use super::headers::{self, Header};
use super::{
    ClientHandshake, ClientRequest, Rejection, Request, RequestError, Response, ResponseError,
};

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
}
