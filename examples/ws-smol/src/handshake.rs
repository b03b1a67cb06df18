//! The opening handshake, both roles. The core builds, parses and checks
//! the HTTP messages and negotiates extensions; this module writes and
//! reads them, and bounds the whole with the configured time limit.

use std::future::Future;
use std::io;
use std::time::Duration;

use smol::future::FutureExt;
use smol::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use smol::net::TcpStream;
use smol::Timer;
use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{Config, Connection, Role};

use crate::{Error, WebSocket};

/// Reads during the handshake take at most this much at a time; the core
/// bounds the whole head (16 KiB) and fails past it.
const HEAD_READ: usize = 2048;

/// Connects to a `ws://` URL over TCP with the default [`Config`] (which
/// offers permessage-deflate). This example adapter has no TLS: `wss://`
/// gives an [`Error::Io`] of kind `Unsupported`.
///
/// ```no_run
/// # fn main() -> Result<(), ws_smol_example::Error> { smol::block_on(async {
/// let (mut ws, response) = ws_smol_example::connect("ws://127.0.0.1:9001/chat").await?;
/// println!("deflate: {}", response.negotiated().deflate.is_some());
/// ws.send(ws_smol_example::Message::text("hi")).await?;
/// # Ok(()) }) }
/// ```
pub async fn connect(url: &str) -> Result<(WebSocket<TcpStream>, Response), Error> {
    let request = ClientRequest::from_url(url)?;
    if request.is_secure() {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::Unsupported,
            "wss:// needs TLS, which this example adapter does not do",
        )));
    }
    let config = Config::default();
    within(config.get_handshake_timeout(), async {
        let tcp = TcpStream::connect((request.host(), request.port())).await?;
        tcp.set_nodelay(true)?;
        client_handshake(request, tcp, config).await
    })
    .await
}

/// Runs the client's handshake over a transport you connected yourself:
/// writes the request (offering the extensions `config` asks for), reads
/// and checks the answer, within [`Config::handshake_timeout`].
///
/// ```no_run
/// use ws_smol_example::{client, ClientRequest, Config};
/// # fn main() -> Result<(), ws_smol_example::Error> { smol::block_on(async {
/// let tcp = smol::net::TcpStream::connect("127.0.0.1:9001").await?;
/// let request = ClientRequest::from_url("ws://127.0.0.1:9001/")?.protocol("chat.v1");
/// let (ws, response) = client(request, tcp, Config::default()).await?;
/// assert_eq!(response.protocol(), Some("chat.v1"));
/// # drop(ws); Ok(()) }) }
/// ```
pub async fn client<S>(
    request: ClientRequest,
    stream: S,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limit = config.get_handshake_timeout();
    within(limit, client_handshake(request, stream, config)).await
}

async fn client_handshake<S>(
    request: ClientRequest,
    mut stream: S,
    mut config: Config,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // 1. The core writes the request and keeps what it needs to check the answer.
    let (bytes, pending) = request
        .offer_extensions(&config)
        .into_handshake(config.randomness_mut());
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    // 2. Read until the core has a whole response: `Ok(None)` means "more".
    let mut head = Vec::new();
    loop {
        read_more(&mut stream, &mut head).await?;
        if let Some((response, used)) = pending.parse_response(&head)? {
            // 3. The connection, with the extensions the answer agreed on,
            //    gets the bytes that came after the response.
            let mut conn = Connection::with_extensions(
                Role::Client,
                config.deliver_fragments(false),
                response.negotiated().clone(),
            );
            conn.receive(&head[used..]);
            return Ok((WebSocket::new(stream, conn), response));
        }
    }
}

/// Accepts a WebSocket on an accepted transport: any path, any `Origin`,
/// no subprotocol, extensions as `config` allows.
///
/// ```no_run
/// # fn main() -> Result<(), ws_smol_example::Error> { smol::block_on(async {
/// let listener = smol::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (tcp, _) = listener.accept().await?;
/// let mut ws = ws_smol_example::accept(tcp, ws_smol_example::Config::default()).await?;
/// # let _ = ws.recv().await; Ok(()) }) }
/// ```
pub async fn accept<S>(stream: S, config: Config) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, config, Request::accept).await
}

/// Accepts after asking `callback`, which sees the checked request and
/// returns the answer: [`Request::accept`], [`Request::accept_with_protocol`]
/// or a refusal ([`ServerResponse::reject`]). A request that fails the
/// core's checks gets the matching error response and [`Error::Request`];
/// a refusal is written back and gives [`Error::Rejected`].
///
/// ```no_run
/// use ws_smol_example::{accept_with, Config, ServerResponse};
/// # fn main() -> Result<(), ws_smol_example::Error> { smol::block_on(async {
/// # let listener = smol::net::TcpListener::bind("127.0.0.1:9001").await?;
/// # let (tcp, _) = listener.accept().await?;
/// let ws = accept_with(tcp, Config::default(), |request| {
///     if request.path() == "/chat" {
///         request.accept()
///     } else {
///         ServerResponse::reject(404, "no such room")
///     }
/// })
/// .await?;
/// # drop(ws); Ok(()) }) }
/// ```
pub async fn accept_with<S, F>(
    stream: S,
    config: Config,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> ServerResponse,
{
    let limit = config.get_handshake_timeout();
    within(limit, accept_handshake(stream, config, callback)).await
}

async fn accept_handshake<S, F>(
    mut stream: S,
    config: Config,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> ServerResponse,
{
    // 1. Read until the core has a whole request; it checks every rule
    //    and says which status a bad request gets.
    let mut head = Vec::new();
    let (request, used) = loop {
        read_more(&mut stream, &mut head).await?;
        match Request::parse(&head) {
            Ok(Some(found)) => break found,
            Ok(None) => {}
            Err(err) => {
                refuse(&mut stream, &ServerResponse::from_error(&err)).await;
                return Err(Error::Request(err));
            }
        }
    };
    // 2. The application decides; the core negotiates extensions into the answer.
    let (response, extensions) = request.accept_extensions(callback(&request), &config);
    if !response.is_accept() {
        refuse(&mut stream, &response).await;
        return Err(Error::Rejected {
            status: response.status(),
        });
    }
    stream.write_all(&response.to_bytes()).await?;
    stream.flush().await?;
    // 3. The connection gets the bytes that came after the request.
    let mut conn =
        Connection::with_extensions(Role::Server, config.deliver_fragments(false), extensions);
    conn.receive(&head[used..]);
    Ok(WebSocket::new(stream, conn))
}

/// Writes a refusal and closes the transport; failures are ignored, the
/// refusal is the outcome either way.
async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, response: &ServerResponse) {
    if stream.write_all(&response.to_bytes()).await.is_ok() {
        let _ = stream.close().await;
    }
}

/// Appends what the transport has to `head`; its end is an error here.
async fn read_more<S: AsyncRead + Unpin>(stream: &mut S, head: &mut Vec<u8>) -> Result<(), Error> {
    let start = head.len();
    head.resize(start + HEAD_READ, 0);
    let read = stream.read(&mut head[start..]).await;
    let n = *read.as_ref().unwrap_or(&0);
    head.truncate(start + n);
    if read? == 0 {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed during the opening handshake",
        )));
    }
    Ok(())
}

/// `handshake`, or [`Error::HandshakeTimedOut`] once `limit` has passed.
async fn within<T>(
    limit: Duration,
    handshake: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    handshake
        .or(async {
            Timer::after(limit).await;
            Err(Error::HandshakeTimedOut { after: limit })
        })
        .await
}
