//! The opening handshake over a blocking transport, both roles. The checks
//! are the core's; this module writes and reads the bytes.

use std::io::{self, Read};

use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{Config, Connection, Role};

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
/// headers and the start of the body. A read timeout during the handshake
/// fails it (the handshake cannot be resumed).
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
    mut stream: S,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut config = config;
    let (request_bytes, pending) = request
        .offer_extensions(&config)
        .into_handshake(config.randomness_mut());
    stream.write_all(&request_bytes)?;
    stream.flush()?;
    let mut buf = Vec::new();
    let (response, used) = loop {
        if let Some(done) = pending.parse_response(&buf)? {
            break done;
        }
        read_more(&mut stream, &mut buf)?;
    };
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
/// to the connection.
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
    let mut buf = Vec::new();
    let (request, used) = loop {
        match Request::parse(&buf) {
            Ok(Some(done)) => break done,
            Ok(None) => read_more(&mut stream, &mut buf)?,
            Err(err) => {
                // The client gets the explanation if it is still listening.
                let _ = refuse(&mut stream, &ServerResponse::from_error(&err));
                return Err(Error::Request(err));
            }
        }
    };
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

/// Appends one read's worth of bytes to `buf`; the end of the stream is an
/// error here, since the handshake is not complete.
fn read_more<S: Read>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut chunk = [0; HANDSHAKE_READ];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection during the opening handshake",
                ))
            }
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
