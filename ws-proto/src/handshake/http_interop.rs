//! Conversions to and from the `http` crate's types (feature `http`), for
//! servers built on hyper or axum and clients that already speak `http`.

use super::{
    ClientHandshake, ClientRequest, Header, Request, RequestError, Response, ResponseError,
    ServerResponse,
};

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
        let http11 = request.version() >= http::Version::HTTP_11;
        let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
        Self::check(
            request.method().as_str(),
            http11,
            target,
            headers_of(request.headers()),
        )
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
