//! The opening handshake over any transport, for both roles. The core
//! builds, parses and checks the HTTP messages; this module writes and reads
//! them.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{Config, Connection, Role};

use crate::{Error, WebSocketStream};

/// Handshake reads go through a buffer of this size; the core bounds the
/// whole head (16 KiB by default).
const HEAD_READ: usize = 2048;

/// Runs the client's opening handshake over a transport you connected
/// yourself (TCP with your own socket options, a proxy tunnel, a Unix
/// socket): writes the request, reads and checks the answer, within
/// [`Config::handshake_timeout`] ([`Error::HandshakeTimedOut`] otherwise).
///
/// A server (or proxy) answering with another status than 101 gives
/// [`Error::Response`] with [`ResponseError::Rejected`](ws_proto::handshake::ResponseError::Rejected):
/// its message names the status and the likely cause.
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
pub async fn client<S>(
    request: ClientRequest,
    stream: S,
    config: Config,
) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limit = config.get_handshake_timeout();
    within(limit, client_handshake(request, stream, config)).await
}

/// [`client`] without the time limit, for callers that bound a larger
/// whole (TCP connect, TLS and the handshake in `connect_with`).
pub(crate) async fn client_handshake<S>(
    request: ClientRequest,
    mut stream: S,
    config: Config,
) -> Result<(WebSocketStream<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut config = config;
    let (bytes, pending) = request
        .offer_extensions(&config)
        .into_handshake(config.randomness_mut());
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    let mut head = Vec::new();
    loop {
        read_more(&mut stream, &mut head, Peer::Server).await?;
        if let Some((response, used)) = pending.parse_response(&head)? {
            let extensions = response.negotiated().clone();
            let mut conn = Connection::with_extensions(
                Role::Client,
                config.deliver_fragments(false),
                extensions,
            );
            conn.receive(&head[used..]);
            return Ok((WebSocketStream::from_connection(stream, conn), response));
        }
    }
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
pub fn accept<S>(stream: S) -> impl Future<Output = Result<WebSocketStream<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, Config::default(), Request::accept)
}

/// Accepts a WebSocket connection after asking `callback`, which sees the
/// request (path, query, headers, `Origin`, offered subprotocols) and returns
/// the answer: [`Request::accept`], [`Request::accept_with_protocol`], or a
/// refusal such as [`ServerResponse::reject`].
///
/// A request that fails the protocol's checks gets the matching error
/// response ([`ServerResponse::from_error`]) and [`Error::Request`]; a
/// refusal is written back and returned as [`Error::Rejected`] with its
/// status. Bytes that followed the request go to the connection. To keep
/// the request (its path, cookies), clone it out of the callback. A client
/// that does not finish its request within [`Config::handshake_timeout`]
/// (10 s by default; a slowloris attack) gets [`Error::HandshakeTimedOut`]
/// and its transport is dropped.
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
pub fn accept_with<S, F>(
    stream: S,
    config: Config,
    callback: F,
) -> impl Future<Output = Result<WebSocketStream<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> ServerResponse,
{
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
pub fn accept_with_prefix<S, F>(
    stream: S,
    prefix: &[u8],
    config: Config,
    callback: F,
) -> impl Future<Output = Result<WebSocketStream<S>, Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> ServerResponse,
{
    // Not an `async fn`: the future returned is one box, so a task that
    // accepts and then serves for hours stays small.
    let limit = config.get_handshake_timeout();
    let head = prefix.to_vec();
    within(limit, accept_handshake(stream, head, config, callback))
}

async fn accept_handshake<S, F>(
    mut stream: S,
    mut head: Vec<u8>,
    config: Config,
    callback: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> ServerResponse,
{
    let (request, used) = loop {
        match Request::parse(&head) {
            Ok(Some(found)) => break found,
            Ok(None) => read_more(&mut stream, &mut head, Peer::Client).await?,
            Err(err) => {
                refuse(&mut stream, &ServerResponse::from_error(&err)).await;
                return Err(Error::Request(err));
            }
        }
    };
    let (response, extensions) = request.accept_extensions(callback(&request), &config);
    if !response.is_accept() {
        refuse(&mut stream, &response).await;
        return Err(Error::Rejected {
            status: response.status(),
        });
    }
    stream.write_all(&response.to_bytes()).await?;
    stream.flush().await?;
    let mut conn =
        Connection::with_extensions(Role::Server, config.deliver_fragments(false), extensions);
    conn.receive(&head[used..]);
    Ok(WebSocketStream::from_connection(stream, conn))
}

/// Writes a refusal and closes the transport; failures are ignored, as the
/// refusal is the outcome either way.
async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, response: &ServerResponse) {
    if stream.write_all(&response.to_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
    }
}

/// Runs a handshake within `limit`, in one box: the handshake's state
/// (buffers, the request, the config) and its timer live on the heap only
/// while the handshake runs, and the future that callers keep inline (in
/// the future of every task that accepts a connection and then serves it
/// for hours) is one pointer. The clock starts at the first poll.
pub(crate) fn within<T, F>(
    limit: Duration,
    handshake: F,
) -> Pin<Box<impl Future<Output = Result<T, Error>>>>
where
    F: Future<Output = Result<T, Error>>,
{
    Box::pin(async move {
        tokio::time::timeout(limit, handshake)
            .await
            .unwrap_or(Err(Error::HandshakeTimedOut { after: limit }))
    })
}

/// Who we wait for during the handshake, for the end-of-stream message.
#[derive(Clone, Copy)]
enum Peer {
    Server,
    Client,
}

/// Appends what the transport has to `head` (read straight into its spare
/// room, so no buffer lives in the future across the wait); end of stream
/// is an error.
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    head: &mut Vec<u8>,
    peer: Peer,
) -> Result<(), Error> {
    head.reserve(HEAD_READ);
    let n = stream.read_buf(head).await?;
    if n == 0 {
        let message = match peer {
            // A server that accepts TCP but closes before answering is
            // usually a proxy or load balancer that refuses upgrades.
            Peer::Server => "connection closed during the opening handshake (a proxy or load balancer that does not pass WebSocket upgrades?)",
            Peer::Client => "connection closed by the client during the opening handshake",
        };
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            message,
        )));
    }
    Ok(())
}
