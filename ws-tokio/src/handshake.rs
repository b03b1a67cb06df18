//! The opening handshake over any transport, for both roles. The core
//! builds, parses and checks the HTTP messages; this module writes and reads
//! them.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{Config, Connection, Role};

use crate::{Error, WebSocketStream};

/// Handshake reads go through a buffer of this size; the core bounds the
/// whole head (16 KiB by default).
const HEAD_READ: usize = 2048;

/// Runs the client's opening handshake over a transport you connected
/// yourself (TCP with your own socket options, a proxy tunnel, a Unix
/// socket): writes the request, reads and checks the answer.
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
        read_more(&mut stream, &mut head, "the server").await?;
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
pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, Config::default(), Request::accept).await
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
/// that never finishes its request holds the call: bound it with
/// `tokio::time::timeout`.
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
pub async fn accept_with<S, F>(
    stream: S,
    config: Config,
    callback: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> ServerResponse,
{
    accept_with_prefix(stream, &[], config, callback).await
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
pub async fn accept_with_prefix<S, F>(
    mut stream: S,
    prefix: &[u8],
    config: Config,
    callback: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> ServerResponse,
{
    let mut head = prefix.to_vec();
    let (request, used) = loop {
        match Request::parse(&head) {
            Ok(Some(found)) => break found,
            Ok(None) => read_more(&mut stream, &mut head, "the client").await?,
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

/// Appends what the transport has to `head`; end of stream is an error.
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    head: &mut Vec<u8>,
    peer: &str,
) -> Result<(), Error> {
    let mut chunk = [0u8; HEAD_READ];
    let n = stream.read(&mut chunk).await?;
    if n == 0 {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("{peer} closed the connection during the opening handshake"),
        )));
    }
    head.extend_from_slice(&chunk[..n]);
    Ok(())
}
