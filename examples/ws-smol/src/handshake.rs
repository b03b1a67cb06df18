//! The opening handshake, both roles, on the loop every call runs: the
//! core builds, parses and checks the HTTP messages, negotiates extensions
//! and times the handshake out; this module only says what to do with the
//! request or the response the loop yields.

use std::io;

use smol::{io::AsyncRead, io::AsyncWrite, net::TcpStream};
use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
use ws_proto::{Config, Connection, Event};

use crate::{Error, WebSocket};

/// Connects to a `ws://` URL over TCP with the default [`Config`] (which
/// offers permessage-deflate), then runs [`client`]. The TCP connect is
/// bounded by the system's connect timeout only (connect yourself, under a
/// timer, and call [`client`] for a shorter one). This example adapter has
/// no TLS: `wss://` gives an [`Error::Io`] of kind `Unsupported`.
///
/// ```no_run
/// # fn main() -> Result<(), ws_smol_example::Error> { smol::block_on(async {
/// let (mut ws, response) = ws_smol_example::connect("ws://127.0.0.1:9001/chat").await?;
/// println!("deflate: {}", response.negotiated().contains("permessage-deflate"));
/// ws.send(ws_smol_example::Message::text("hi")).await?;
/// # Ok(()) }) }
/// ```
pub async fn connect(url: &str) -> Result<(WebSocket<TcpStream>, Response), Error> {
    let request = ClientRequest::from_url(url)?;
    if request.is_secure() {
        let why = "wss:// needs TLS, which this example adapter does not do";
        return Err(Error::Io(io::Error::new(io::ErrorKind::Unsupported, why)));
    }
    let config = Config::default();
    let tcp = TcpStream::connect((request.host(), request.port())).await?;
    tcp.set_nodelay(true)?;
    client(request, tcp, config).await
}

/// Runs the client's handshake over a transport you connected yourself:
/// the core writes the request (offering the extensions `config` asks
/// for), then checks the answer, within [`Config::handshake_timeout`]. A
/// refusal is [`Error::Handshake`] with the status, the start of the body
/// and the likely cause.
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
pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    request: ClientRequest,
    stream: S,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error> {
    let mut ws = WebSocket::new(stream, Connection::client(request, config));
    // The loop every call runs, until the core has checked the response.
    loop {
        if let Event::Response(response) = ws.handshake_event().await? {
            return Ok((ws, *response));
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
/// core's checks gets the matching error response, a refusal is written
/// back, and both end in [`Error::Handshake`] (with the status in
/// [`Error::status`]). All within [`Config::handshake_timeout`].
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
    let mut ws = WebSocket::new(stream, Connection::server(config));
    // The loop every call runs, until the core has a checked request: the
    // server's one handshake event.
    if let Event::Request(request) = ws.handshake_event().await? {
        ws.respond(callback(&request)).await?;
    }
    Ok(ws)
}
