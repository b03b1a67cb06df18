//! The opening handshake over a blocking transport, both roles. The checks
//! are the core's; this module writes and reads the bytes.

use std::io;
use std::time::{Duration, Instant};

use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{Config, Connection, Role};

use crate::error::is_timeout_kind;
use crate::{Error, Transport, WebSocket};

/// How much one handshake read asks for. The core bounds the head's size.
const HANDSHAKE_READ: usize = 4096;

/// Runs the client's opening handshake over an already connected `stream`
/// (plain TCP, a TLS stream you set up, a Unix socket, ...): writes the
/// request, reads and checks the answer. Returns the connection and the
/// server's response (its chosen subprotocol, headers).
///
/// A server answering with another status than 101 gives
/// `Err(Error::Response(ResponseError::Rejected(_)))` with the status,
/// headers and the start of the body; its message names the status and the
/// likely cause. The handshake must finish within
/// [`Config::handshake_timeout`] ([`Error::HandshakeTimedOut`] otherwise),
/// enforced with the transport's read timeout; a shorter read timeout of
/// your own fails it with that timeout's `Error::Io` (the handshake cannot
/// be resumed). Your read timeout is restored afterwards.
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
    let deadline = Deadline::after(config.get_handshake_timeout());
    client_until(request, stream, config, deadline)
}

/// [`client`] with a deadline set earlier (by `connect_with`, which counts
/// the TCP connect and TLS in the same limit).
pub(crate) fn client_until<S: Transport>(
    request: ClientRequest,
    mut stream: S,
    config: Config,
    deadline: Deadline,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut config = config;
    let (request_bytes, pending) = request
        .offer_extensions(&config)
        .into_handshake(config.randomness_mut());
    stream.write_all(&request_bytes)?;
    stream.flush()?;
    let mut buf = Vec::new();
    let (response, used) = deadline.bounding(&mut stream, |stream| loop {
        if let Some(done) = pending.parse_response(&buf)? {
            return Ok(done);
        }
        read_more(stream, &mut buf, &deadline, Peer::Server)?;
    })?;
    let extensions = response.negotiated().clone();
    let mut conn = Connection::with_extensions(Role::Client, config, extensions);
    conn.receive(&buf[used..]);
    Ok((WebSocket::from_parts(stream, conn), response))
}

/// Runs the server's opening handshake over `stream` with the default
/// [`Config`], accepting any valid request.
///
/// A request failing the checks of RFC 6455 section 4.2.1 gets the matching
/// HTTP error (for example 426 with `Sec-WebSocket-Version: 13`) and
/// `Err(Error::Request(_))` is returned.
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
/// A non-101 answer is written, the transport shut down and
/// `Err(Error::Refused { status })` returned. A request failing the checks
/// gets [`ServerResponse::from_error`] without the callback being called,
/// and `Err(Error::Request(_))`. Bytes the client sent after its request go
/// to the connection. A client that does not finish its request within
/// [`Config::handshake_timeout`] (10 s by default; a slowloris attack) gets
/// [`Error::HandshakeTimedOut`]; the limit is enforced with the transport's
/// read timeout, and yours is restored afterwards.
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
pub fn accept_with<S, F>(mut stream: S, config: Config, callback: F) -> Result<WebSocket<S>, Error>
where
    S: Transport,
    F: FnOnce(&Request) -> ServerResponse,
{
    let deadline = Deadline::after(config.get_handshake_timeout());
    let mut buf = Vec::new();
    let (request, used) = deadline.bounding(&mut stream, |stream| loop {
        match Request::parse(&buf) {
            Ok(Some(done)) => return Ok(done),
            Ok(None) => read_more(stream, &mut buf, &deadline, Peer::Client)?,
            Err(err) => {
                // The client gets the explanation if it is still listening.
                let _ = refuse(stream, &ServerResponse::from_error(&err));
                return Err(Error::Request(err));
            }
        }
    })?;
    let (response, extensions) = request.accept_extensions(callback(&request), &config);
    if !response.is_accept() {
        let _ = refuse(&mut stream, &response);
        return Err(Error::Refused {
            status: response.status(),
        });
    }
    stream.write_all(&response.to_bytes())?;
    stream.flush()?;
    let mut conn = Connection::with_extensions(Role::Server, config, extensions);
    conn.receive(&buf[used..]);
    Ok(WebSocket::from_parts(stream, conn))
}

/// Writes a refusal and ends the write direction.
fn refuse<S: Transport>(stream: &mut S, response: &ServerResponse) -> io::Result<()> {
    stream.write_all(&response.to_bytes())?;
    stream.flush()?;
    stream.shutdown_write()
}

/// The opening handshake's time limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now (none if it is too far to represent).
    pub(crate) fn after(limit: Duration) -> Self {
        Self {
            at: Instant::now().checked_add(limit),
            limit,
        }
    }

    /// The time left, or the timeout error once none is.
    pub(crate) fn remaining(&self) -> Result<Option<Duration>, Error> {
        match self.at {
            None => Ok(None),
            Some(at) => match at.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Ok(Some(left)),
                _ => Err(self.expired()),
            },
        }
    }

    pub(crate) fn expired(&self) -> Error {
        Error::HandshakeTimedOut { after: self.limit }
    }

    /// Runs `f` and then puts the caller's read timeout back, whatever `f`
    /// did to it.
    fn bounding<S: Transport, T>(
        &self,
        stream: &mut S,
        f: impl FnOnce(&mut S) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let previous = stream.read_timeout()?;
        let result = f(stream);
        let restored = stream.set_read_timeout(previous);
        let value = result?;
        restored?;
        Ok(value)
    }
}

/// Who we wait for during the handshake, for the end-of-stream message.
#[derive(Clone, Copy)]
enum Peer {
    Server,
    Client,
}

/// Appends one read's worth of bytes to `buf`, waiting at most until the
/// deadline (or the caller's shorter read timeout, whose error is then
/// returned as is). The end of the stream is an error here, since the
/// handshake is not complete.
fn read_more<S: Transport>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    deadline: &Deadline,
    peer: Peer,
) -> Result<(), Error> {
    let mut chunk = [0; HANDSHAKE_READ];
    // The caller's timeout, in force until `bounding` restores it.
    let theirs = stream.read_timeout()?;
    loop {
        let left = deadline.remaining()?;
        let ours = match (left, theirs) {
            (Some(left), Some(theirs)) => left < theirs,
            (left, _) => left.is_some(),
        };
        if ours {
            stream.set_read_timeout(left)?;
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                let message = match peer {
                    // A server that accepts TCP but closes before answering
                    // is usually a proxy or load balancer refusing upgrades.
                    Peer::Server => "connection closed during the opening handshake (a proxy or load balancer that does not pass WebSocket upgrades?)",
                    Peer::Client => "connection closed by the client during the opening handshake",
                };
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    message,
                )));
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Our limit: the next `remaining` reports the timeout (or
            // there is a sliver of time left for one more read).
            Err(e) if is_timeout_kind(e.kind()) && ours => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
}
