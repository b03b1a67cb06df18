//! The opening handshake over a blocking transport, both roles. The core
//! runs it ([`Connection::server`], [`Connection::client`]: the checks, the
//! answers to bad requests, the head limits, the timeout); this module
//! starts the connection and drives it with the loop `WebSocket::read`
//! uses until the handshake's event comes out.

use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{Config, Connection, Event, ReadyState};

use crate::{Error, Transport, WebSocket};

/// Runs the client's opening handshake over an already connected `stream`
/// (plain TCP, a TLS stream you set up, a Unix socket, ...): writes the
/// request, reads and checks the answer. Returns the connection and the
/// server's response (its chosen subprotocol, headers).
///
/// A server answering with another status than 101 gives
/// `Err(Error::Handshake(HandshakeError::Response(ResponseError::Rejected(_))))`
/// with the status ([`Error::status`]), headers and the start of the body;
/// its message names the status and the likely cause. The handshake must
/// finish within [`Config::handshake_timeout`]
/// (`Err(Error::Handshake(HandshakeError::TimedOut { .. }))` otherwise): the
/// core's timer, which each read waits for through the transport's read
/// timeout. A shorter read timeout of your own fails it with that
/// timeout's `Error::Io` (the handshake cannot be resumed). Your read
/// timeout is restored after each read.
///
/// ```no_run
/// use std::net::TcpStream;
/// use ws_blocking::{client, ClientRequest, Config};
/// let tcp = TcpStream::connect("127.0.0.1:9001")?;
/// let request = ClientRequest::from_url("ws://127.0.0.1:9001/chat")?.protocol("chat.v1");
/// let (ws, response) = client(request, tcp, Config::default())?;
/// println!("subprotocol: {:?}", response.protocol());
/// # drop(ws);
/// # Ok::<(), ws_blocking::Error>(())
/// ```
pub fn client<S: Transport>(
    request: ClientRequest,
    stream: S,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut ws = WebSocket::from_parts(stream, Connection::client(request, config));
    loop {
        // A connecting client's first event is the response (or an error).
        if let Event::Response(response) = ws.drive()? {
            return Ok((ws, *response));
        }
    }
}

/// Runs the server's opening handshake over `stream` with the default
/// [`Config`], accepting any valid request.
///
/// A request failing the checks of RFC 6455 section 4.2.1 gets the matching
/// HTTP error (for example 426 with `Sec-WebSocket-Version: 13`) and
/// `Err(Error::Handshake(HandshakeError::Request(_)))` is returned.
///
/// ```no_run
/// use std::net::TcpListener;
/// let listener = TcpListener::bind("127.0.0.1:9001")?;
/// let (tcp, _) = listener.accept()?;
/// let mut ws = ws_blocking::accept(tcp)?;
/// let first = ws.read()?;
/// # let _ = first;
/// # Ok::<(), ws_blocking::Error>(())
/// ```
pub fn accept<S: Transport>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, Config::default(), Request::accept)
}

/// Runs the server's opening handshake with a [`Config`] and a callback that
/// decides: it sees the request (path, query, headers, `Origin`, offered
/// subprotocols) and returns the answer, usually [`Request::accept`],
/// [`Request::accept_with_protocol`] or [`ServerResponse::reject`].
///
/// An acceptance is written before this returns. A refusal is written, the
/// transport shut down and `Err(Error::Handshake(HandshakeError::Refused {
/// status }))` returned. A request failing the checks gets the matching
/// HTTP error without the callback being called, and
/// `Err(Error::Handshake(HandshakeError::Request(_)))`. Bytes the client
/// sent after its request go to the connection. A client that does not
/// finish its request within [`Config::handshake_timeout`] (10 s by
/// default; a slowloris attack) gets `HandshakeError::TimedOut`: the
/// core's timer, which each read waits for through the transport's read
/// timeout; yours is restored after each read.
///
/// ```no_run
/// use std::net::TcpListener;
/// use ws_blocking::{accept_with, Config, ServerResponse};
/// let listener = TcpListener::bind("127.0.0.1:9001")?;
/// let (tcp, _) = listener.accept()?;
/// let ws = accept_with(tcp, Config::default(), |request| {
///     if request.origin() != Some("https://example.com") {
///         return ServerResponse::reject(403, "unknown origin");
///     }
///     if request.protocols().iter().any(|p| p == "chat.v2") {
///         request.accept_with_protocol("chat.v2").unwrap_or_else(|e| ServerResponse::from_error(&e))
///     } else {
///         request.accept()
///     }
/// })?;
/// # drop(ws);
/// # Ok::<(), ws_blocking::Error>(())
/// ```
pub fn accept_with<S, F>(stream: S, config: Config, callback: F) -> Result<WebSocket<S>, Error>
where
    S: Transport,
    F: FnOnce(&Request) -> ServerResponse,
{
    let mut ws = WebSocket::from_parts(stream, Connection::server(config));
    let request = loop {
        // A connecting server's first event is the request (or an error).
        if let Event::Request(request) = ws.drive()? {
            break request;
        }
    };
    ws.connection_mut().respond(callback(&request))?;
    if ws.connection().ready_state() != ReadyState::Open {
        loop {
            // A refusal: the core reports it as the handshake's error,
            // which `drive` returns once the refusal is written.
            ws.drive()?;
        }
    }
    ws.flush()?;
    Ok(ws)
}
