//! The opening handshake over any transport, for both roles. The core runs
//! it ([`Connection::server`], [`Connection::client`]): it builds, parses and
//! checks the HTTP messages, runs the handshake timer and answers bad
//! requests. The driver that moves the messages moves its bytes too, and
//! hands the core's request or response to this module instead of messages.

use std::future::{poll_fn, Future};
use std::sync::Arc;

use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{Config, Connection};

use crate::driver::{Opened, Shared};
use crate::{Error, Transport, WebSocketStream};

/// Runs the client's opening handshake over a transport you connected
/// yourself (TCP with your own socket options, a proxy tunnel, a Unix
/// socket): writes the request, reads and checks the answer, within
/// [`Config::handshake_timeout`] (else [`Error::Handshake`] with
/// [`HandshakeError::TimedOut`](ws_proto::handshake::HandshakeError::TimedOut)).
///
/// A server (or proxy) answering with another status than 101 gives
/// [`Error::Handshake`] with
/// [`ResponseError::Rejected`](ws_proto::handshake::ResponseError::Rejected):
/// its message names the status and the likely cause, and
/// [`Error::status`] the status.
///
/// ```
/// use ws_tokio::{client, ClientRequest, Config};
///
/// # async fn demo() -> Result<(), ws_tokio::Error> {
/// let tcp = tokio::net::TcpStream::connect("127.0.0.1:9001").await?;
/// let request = ClientRequest::from_url("ws://127.0.0.1:9001/chat")?.protocol("chat.v1");
/// let (ws, response) = client(request, tcp, Config::default()).await?;
/// println!("subprotocol: {:?}", response.protocol());
/// # drop(ws);
/// # Ok(())
/// # }
/// ```
pub async fn client<S: Transport>(
    request: ClientRequest,
    stream: S,
    config: Config,
) -> Result<(WebSocketStream<S>, Response), Error> {
    open_client(stream, Connection::client(request, config)).await
}

/// [`client`] with the connection built (and its timer started) already.
pub(crate) async fn open_client<S: Transport>(
    stream: S,
    conn: Connection,
) -> Result<(WebSocketStream<S>, Response), Error> {
    let (ws, response) = open(stream, conn, Request::accept).await?;
    // A client connection reports a response, never a request.
    Ok((ws, *response.ok_or(Error::ConnectionClosed)?))
}

/// Accepts a WebSocket connection on a freshly accepted transport, with the
/// default [`Config`] and no checks beyond the protocol's (any path, any
/// `Origin`, no subprotocol).
///
/// ```
/// # async fn demo() -> Result<(), ws_tokio::Error> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (tcp, _) = listener.accept().await?;
/// let mut ws = ws_tokio::accept(tcp).await?;
/// while let Some(Ok(message)) = ws.recv().await {
///     if message.is_data() {
///         ws.send(message).await?;
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub fn accept<S: Transport>(stream: S) -> impl Future<Output = Result<WebSocketStream<S>, Error>> {
    accept_with(stream, Config::default(), Request::accept)
}

/// Accepts a WebSocket connection after asking `callback`, which sees the
/// request (path, query, headers, `Origin`, offered subprotocols) and returns
/// the answer: [`Request::accept`], [`Request::accept_with_protocol`], or a
/// refusal such as [`ServerResponse::reject`].
///
/// A request that fails the protocol's checks gets the matching error
/// response and [`Error::Handshake`] with
/// [`HandshakeError::Request`](ws_proto::handshake::HandshakeError::Request);
/// a refusal is written back and returned as
/// [`HandshakeError::Refused`](ws_proto::handshake::HandshakeError::Refused)
/// ([`Error::status`] gives its status). Bytes that followed the request go
/// to the connection. To keep the request (its path, cookies), clone it out
/// of the callback. A client that does not finish its request within
/// [`Config::handshake_timeout`] (10 s by default; a slowloris attack) gets
/// [`HandshakeError::TimedOut`](ws_proto::handshake::HandshakeError::TimedOut)
/// and its transport is closed.
///
/// ```
/// use ws_tokio::{accept_with, Config, Request, ServerResponse};
///
/// # async fn demo(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
/// let ws = accept_with(tcp, Config::default(), |request: &Request| {
///     if request.origin() != Some("https://example.com") {
///         return ServerResponse::reject(403, "unknown origin");
///     }
///     match request.protocols().iter().find(|p| *p == "chat.v1") {
///         Some(p) => request.accept_with_protocol(p).unwrap_or_else(|e| ServerResponse::from_error(&e)),
///         None => request.accept(),
///     }
/// })
/// .await?;
/// # drop(ws);
/// # Ok(())
/// # }
/// ```
pub fn accept_with<S: Transport, F: FnOnce(&Request) -> ServerResponse>(
    stream: S,
    config: Config,
    callback: F,
) -> impl Future<Output = Result<WebSocketStream<S>, Error>> {
    accept_with_prefix(stream, &[], config, callback)
}

/// [`accept_with`] for a transport from which the start of the request was
/// already read (for a server that looks at the request head itself to
/// route between plain HTTP and WebSocket on one port): `prefix` is parsed
/// first, then more is read as needed.
///
/// ```
/// use ws_tokio::{accept_with_prefix, Config, Request};
///
/// # async fn demo(tcp: tokio::net::TcpStream, head: Vec<u8>) -> Result<(), ws_tokio::Error> {
/// // `head` holds the bytes read while deciding this is a WebSocket request.
/// let ws = accept_with_prefix(tcp, &head, Config::default(), Request::accept).await?;
/// # drop(ws);
/// # Ok(())
/// # }
/// ```
pub fn accept_with_prefix<S: Transport, F: FnOnce(&Request) -> ServerResponse>(
    stream: S,
    prefix: &[u8],
    config: Config,
    callback: F,
) -> impl Future<Output = Result<WebSocketStream<S>, Error>> {
    // Not an `async fn`: the future returned is one box, so a task that
    // accepts and then serves for hours stays small.
    let mut conn = Connection::server(config);
    conn.receive(prefix);
    Box::pin(async move { Ok(open(stream, conn, callback).await?.0) })
}

/// A WebSocket request read from a transport and not answered yet, for a
/// server that answers after waiting for something else: a proxy that
/// first opens the backend's connection, a gateway that asks an
/// authorisation service. [`accept_with`] is the same in one step when the
/// answer can be given at once.
///
/// The time between [`read_request`] and [`respond`](Self::respond) is the
/// application's to bound (the handshake timeout covered reading the
/// request); dropping an `Incoming` closes the transport without an answer.
///
/// ```
/// use ws_tokio::{read_request, Config, ServerResponse};
///
/// # async fn demo(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
/// let incoming = read_request(tcp, Config::default()).await?;
/// let allowed = incoming.request().path() == "/feed"; // ask someone, await, ...
/// let answer = if allowed {
///     incoming.request().accept()
/// } else {
///     ServerResponse::reject(403, "not here")
/// };
/// let ws = incoming.respond(answer).await?;
/// # drop(ws);
/// # Ok(())
/// # }
/// ```
pub struct Incoming<S> {
    shared: Arc<Shared<S>>,
    request: Box<Request>,
}

impl<S> std::fmt::Debug for Incoming<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

/// Reads and checks the opening request from a freshly accepted transport,
/// within [`Config::handshake_timeout`], and returns it unanswered. A
/// request that fails the protocol's checks gets the matching error
/// response and [`Error::Handshake`], as with [`accept_with`].
///
/// ```
/// # async fn demo(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
/// let incoming = ws_tokio::read_request(tcp, ws_tokio::Config::default()).await?;
/// println!("{} asks for {}", incoming.request().origin().unwrap_or("?"), incoming.request().target());
/// let answer = incoming.request().accept();
/// let ws = incoming.respond(answer).await?;
/// # drop(ws);
/// # Ok(())
/// # }
/// ```
pub async fn read_request<S: Transport>(stream: S, config: Config) -> Result<Incoming<S>, Error> {
    let shared = Shared::new(stream, Connection::server(config));
    match poll_fn(|cx| shared.poll_opening(cx)).await {
        Some(Ok(Opened::Request(request))) => Ok(Incoming { shared, request }),
        Some(Ok(_)) => Err(Error::ConnectionClosed),
        other => Err(fail_opening(&shared, other).await),
    }
}

impl<S: Transport> Incoming<S> {
    /// The request: path, query, headers, `Origin`, subprotocols and
    /// extension offers.
    ///
    /// ```
    /// # async fn demo(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
    /// let incoming = ws_tokio::read_request(tcp, ws_tokio::Config::default()).await?;
    /// let wants_chat = incoming.request().protocols().iter().any(|p| p == "chat");
    /// # let _ = wants_chat;
    /// # Ok(())
    /// # }
    /// ```
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Writes `response` and, for an acceptance, returns the open stream.
    /// A refusal is written, the transport shut down, and
    /// [`Error::Handshake`] with
    /// [`HandshakeError::Refused`](ws_proto::handshake::HandshakeError::Refused)
    /// returned. Extensions are negotiated from the [`Config`] given to
    /// [`read_request`], or taken from the response when it carries them
    /// ([`ServerResponse::with_extensions`]).
    ///
    /// ```
    /// # async fn demo(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
    /// let incoming = ws_tokio::read_request(tcp, ws_tokio::Config::default()).await?;
    /// let answer = incoming.request().accept_with_protocol("chat").unwrap_or_else(|_| incoming.request().accept());
    /// let ws = incoming.respond(answer).await?;
    /// # drop(ws);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn respond(self, response: ServerResponse) -> Result<WebSocketStream<S>, Error> {
        let Self { shared, request } = self;
        drop(request);
        shared.respond(response)?;
        match poll_fn(|cx| shared.poll_opening(cx)).await {
            Some(Ok(_)) => Ok(WebSocketStream::from_shared(shared)),
            other => Err(fail_opening(&shared, other).await),
        }
    }
}

/// Runs the core's opening handshake over `stream` with the message driver.
/// Server: answers the request with `callback`, writes an acceptance and
/// returns the open stream. Client: returns the open stream and the checked
/// response. On failure (a bad request or answer, a refusal, the timeout,
/// the peer closing) writes what the core queued, shuts the transport down
/// and returns the error.
async fn open<S: Transport>(
    stream: S,
    conn: Connection,
    callback: impl FnOnce(&Request) -> ServerResponse,
) -> Result<(WebSocketStream<S>, Option<Box<Response>>), Error> {
    let shared = Shared::new(stream, conn);
    let mut opened = poll_fn(|cx| shared.poll_opening(cx)).await;
    if let Some(Ok(Opened::Request(request))) = &opened {
        shared.respond(callback(request))?;
        opened = poll_fn(|cx| shared.poll_opening(cx)).await;
    }
    match opened {
        Some(Ok(opened)) => Ok((WebSocketStream::from_shared(shared), opened.response())),
        other => Err(fail_opening(&shared, other).await),
    }
}

/// A handshake that ended without opening: the driver writes what the core
/// owes the peer (an error response, a refusal), then shuts down.
async fn fail_opening<S: Transport>(
    shared: &Shared<S>,
    outcome: Option<Result<Opened, Error>>,
) -> Error {
    while poll_fn(|cx| shared.poll_opening(cx)).await.is_some() {}
    match outcome {
        Some(Err(err)) => err,
        _ => Error::ConnectionClosed,
    }
}
