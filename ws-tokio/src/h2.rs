//! WebSocket over HTTP/2 (RFC 8441) with hyper 1.x (feature `h2`).
//!
//! Over HTTP/2 a WebSocket is one stream of a shared connection: the client
//! sends an extended CONNECT (`:method CONNECT`, `:protocol websocket`,
//! RFC 8441 section 4), the server answers 200, and from then on the
//! stream's DATA frames carry ordinary WebSocket frames. The core runs the
//! handshake ([`ws_proto::handshake::h2::accept`],
//! [`ws_proto::handshake::h2::connect`]): the checks,
//! the answer, the extension negotiation and the handshake timer, exactly as
//! over HTTP/1.1; this module moves the request and response through hyper
//! and wraps the upgraded stream in a [`WebSocketStream`].
//!
//! * Server: build the HTTP/2 connection with
//!   `hyper::server::conn::http2::Builder::enable_connect_protocol()` (which
//!   sends `SETTINGS_ENABLE_CONNECT_PROTOCOL`, RFC 8441 section 3), and in
//!   the service call [`accept`] or [`accept_with`]: return the response to
//!   hyper and await the [`Upgrade`] in a task of its own.
//! * Client: over a `hyper::client::conn::http2::SendRequest`, call
//!   [`connect`] once per WebSocket; one HTTP/2 connection carries as many
//!   at once as the server's `SETTINGS_MAX_CONCURRENT_STREAMS` allows.
//!
//! ```no_run
//! use hyper::server::conn::http2;
//! use hyper_util::rt::{TokioExecutor, TokioIo};
//! use ws_tokio::{h2, Config, Message};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let (tcp, _) = listener.accept().await?;
//! let service = hyper::service::service_fn(|request| async move {
//!     let (response, upgrade) = h2::accept::<_, String>(request, Config::default());
//!     if let Ok(upgrade) = upgrade {
//!         tokio::spawn(async move {
//!             let mut ws = upgrade.await?;
//!             while let Some(message) = ws.recv().await {
//!                 if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
//!                     ws.send(message).await?;
//!                 }
//!             }
//!             Ok::<_, ws_tokio::Error>(())
//!         });
//!     }
//!     Ok::<_, std::convert::Infallible>(response)
//! });
//! http2::Builder::new(TokioExecutor::new())
//!     .enable_connect_protocol()
//!     .serve_connection(TokioIo::new(tcp), service)
//!     .await?;
//! # Ok(())
//! # }
//! ```

use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Incoming};
use hyper::client::conn::http2::SendRequest;
use hyper::ext::Protocol;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ws_proto::handshake::h2::{self as core_h2, H2Client, MAX_REFUSAL_BODY};
use ws_proto::handshake::{
    ClientRequest, HandshakeError, Request, Response, ResponseError, ServerResponse,
};
use ws_proto::{Config, Connection, Role};

use crate::{Error, WebSocketStream};

/// The transport of a WebSocket over HTTP/2: hyper's upgraded stream (one
/// HTTP/2 stream), with tokio's I/O traits.
///
/// It differs from `TokioIo<Upgraded>` in one way: when the peer ends the
/// stream with RST_STREAM(NO_ERROR), which an HTTP/2 server sends once it
/// has finished while our half is still open (RFC 9113 section 8.1, as
/// hyper does after the close handshake), flushing and shutting down
/// succeed: that reset means "done", not "failed". Writes after it still
/// fail, as on a closed TCP connection.
///
/// ```
/// use ws_tokio::{h2::H2Stream, WebSocketStream};
///
/// // What `h2::accept`'s `Upgrade` and `h2::connect` hand out.
/// async fn count_messages(mut ws: WebSocketStream<H2Stream>) -> usize {
///     let mut n = 0;
///     while let Some(Ok(_)) = ws.recv().await {
///         n += 1;
///     }
///     n
/// }
/// # let _ = count_messages;
/// ```
#[derive(Debug)]
pub struct H2Stream {
    io: TokioIo<Upgraded>,
}

impl H2Stream {
    fn new(upgraded: Upgraded) -> Self {
        Self {
            io: TokioIo::new(upgraded),
        }
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx).map(finished_is_ok)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx).map(finished_is_ok)
    }
}

/// `Ok` for the peer's RST_STREAM(NO_ERROR): hyper reports it as a failed
/// body write whose cause is the h2 reason.
fn finished_is_ok(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(err) if is_no_error_reset(&err) => Ok(()),
        other => other,
    }
}

fn is_no_error_reset(err: &io::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = err.get_ref().map(|e| e as _);
    while let Some(e) = cause {
        if let Some(h2) = e.downcast_ref::<::h2::Error>() {
            return h2.reason() == Some(::h2::Reason::NO_ERROR);
        }
        cause = e.source();
    }
    false
}

/// Answers an extended CONNECT request with the default checks (any path,
/// any `Origin`, no subprotocol): [`accept_with`] with [`Request::accept`].
///
/// Returns the response to hand back to hyper, and either the [`Upgrade`]
/// to await once hyper has sent it, or why the request was refused (the
/// response then carries the matching 4xx status and says why in its
/// body). Any body type made from a `String` works: `String`,
/// `http_body_util::Full<Bytes>`, axum's `Body`.
///
/// ```
/// use ws_tokio::{h2, Config};
///
/// // A GET is not an extended CONNECT: refused with 400.
/// let request = http::Request::get("/chat").body(()).unwrap();
/// let (response, upgrade) = h2::accept::<_, String>(request, Config::default());
/// assert_eq!(response.status(), 400);
/// assert!(upgrade.is_err());
/// ```
pub fn accept<B, R>(
    request: http::Request<B>,
    config: Config,
) -> (http::Response<R>, Result<Upgrade, Error>)
where
    R: From<String>,
{
    accept_with(request, config, Request::accept)
}

/// Answers an extended CONNECT request after asking `callback`, which sees
/// the checked [`Request`] (path, query, headers, `Origin`, offered
/// subprotocols) and returns the answer: [`Request::accept`],
/// [`Request::accept_with_protocol`], or a refusal such as
/// [`ServerResponse::reject`] (its body is sent; the status line's reason
/// phrase when it has none).
///
/// The request is checked against RFC 8441 section 5 first (CONNECT,
/// `:protocol` `websocket` from hyper's [`Protocol`] extension,
/// `sec-websocket-version: 13`); a failure gives the matching error status
/// and [`Error::Handshake`] with [`HandshakeError::Request`], a refusal by
/// `callback` [`HandshakeError::Refused`].
/// Extensions (permessage-deflate) are negotiated according to `config`.
///
/// ```
/// use hyper::ext::Protocol;
/// use ws_tokio::{h2, Config, ServerResponse};
///
/// let mut request = http::Request::connect("https://example.com/chat")
///     .header("sec-websocket-version", "13")
///     .header("sec-websocket-protocol", "chat.v1")
///     .body(())
///     .unwrap();
/// request.extensions_mut().insert(Protocol::from_static("websocket"));
/// let (response, upgrade) = h2::accept_with::<_, String, _>(request, Config::default(), |req| {
///     match req.protocols().iter().find(|p| *p == "chat.v1") {
///         Some(p) => req.accept_with_protocol(p).unwrap_or_else(|e| ServerResponse::from_error(&e)),
///         None => ServerResponse::reject(403, "chat.v1 only"),
///     }
/// });
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v1");
/// assert_eq!(upgrade.unwrap().request().path(), "/chat");
/// ```
pub fn accept_with<B, R, F>(
    mut request: http::Request<B>,
    config: Config,
    callback: F,
) -> (http::Response<R>, Result<Upgrade, Error>)
where
    R: From<String>,
    F: FnOnce(&Request) -> ServerResponse,
{
    let protocol = request.extensions().get::<Protocol>().map(Protocol::as_str);
    let (response, outcome) = core_h2::accept(&request, protocol, &config, callback);
    let response = response.map(|body| R::from(String::from_utf8_lossy(&body).into_owned()));
    match outcome {
        Ok((request_seen, extensions)) => {
            let conn = Connection::with_extensions(Role::Server, config, extensions);
            let upgrade = Upgrade {
                on_upgrade: hyper::upgrade::on(&mut request),
                conn: Some(conn),
                request: request_seen,
            };
            (response, Ok(upgrade))
        }
        Err(err) => (response, Err(Error::Handshake(err))),
    }
}

/// An accepted WebSocket over HTTP/2 on its way: a future that resolves
/// once hyper has sent the 200 and handed over the stream. Await it in a
/// task of its own, after returning the response to hyper (awaiting it in
/// the service, before the response is returned, would wait forever).
///
/// ```no_run
/// # async fn demo(upgrade: ws_tokio::h2::Upgrade) -> Result<(), ws_tokio::Error> {
/// println!("WebSocket over HTTP/2 on {}", upgrade.request().path());
/// let mut ws = upgrade.await?;
/// ws.send(ws_tokio::Message::text("welcome")).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "the WebSocket is only there once the upgrade is awaited"]
pub struct Upgrade {
    on_upgrade: OnUpgrade,
    /// Taken when the stream is handed out.
    conn: Option<Connection>,
    request: Request,
}

impl Upgrade {
    /// The request that was accepted (path, query, headers, subprotocols).
    ///
    /// ```no_run
    /// # fn demo(upgrade: &ws_tokio::h2::Upgrade) {
    /// let room = upgrade.request().query();
    /// # let _ = room;
    /// # }
    /// ```
    pub fn request(&self) -> &Request {
        &self.request
    }
}

impl Future for Upgrade {
    type Output = Result<WebSocketStream<H2Stream>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let upgraded = match Pin::new(&mut this.on_upgrade).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result.map_err(hyper_error)?,
        };
        match this.conn.take() {
            Some(conn) => Poll::Ready(Ok(WebSocketStream::from_connection(
                H2Stream::new(upgraded),
                conn,
            ))),
            None => Poll::Ready(Err(Error::ConnectionClosed)),
        }
    }
}

/// Opens a WebSocket over an HTTP/2 client connection: sends the extended
/// CONNECT for `request` (with the extensions `config` offers), checks the
/// answer, and wraps the upgraded stream. The handshake must finish within
/// [`Config::handshake_timeout`] ([`HandshakeError::TimedOut`] otherwise).
///
/// `sender` is cloned, so several calls can run at once over one
/// connection. The request's scheme and authority come from the URL
/// (`ws://h/x` gives `http://h:80/x`). A refusal (any status but 2xx)
/// gives [`Error::Handshake`] with [`HandshakeError::Response`] and
/// [`ResponseError::Rejected`], holding the start of the body; a server
/// that did not enable extended CONNECT resets the stream, which hyper
/// reports as [`Error::Io`].
///
/// ```no_run
/// use hyper::client::conn::http2;
/// use hyper_util::rt::{TokioExecutor, TokioIo};
/// use ws_tokio::{h2, ClientRequest, Config, Message};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let tcp = tokio::net::TcpStream::connect("127.0.0.1:8080").await?;
/// let (sender, connection) = http2::handshake::<_, _, String>(TokioExecutor::new(), TokioIo::new(tcp)).await?;
/// tokio::spawn(connection);
/// let (mut chat, _) = h2::connect(&sender, ClientRequest::from_url("ws://127.0.0.1:8080/chat")?, Config::default()).await?;
/// let (mut feed, _) = h2::connect(&sender, ClientRequest::from_url("ws://127.0.0.1:8080/feed")?, Config::default()).await?;
/// chat.send(Message::text("hello")).await?;
/// # let _ = feed.recv().await;
/// # Ok(())
/// # }
/// ```
pub async fn connect<B>(
    sender: &SendRequest<B>,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocketStream<H2Stream>, Response), Error>
where
    B: Body + Default + Send + 'static,
{
    let (request, mut pending) = core_h2::connect(request, &config);
    // The core's handshake timer: sleep until its deadline.
    let deadline = pending.poll_timeout(tokio::time::Instant::now().into_std());
    let mut sender = sender.clone();
    let exchange = Box::pin(exchange(&mut sender, request, &pending, config));
    match tokio::time::timeout_at(deadline.into(), exchange).await {
        Ok(result) => result,
        Err(_elapsed) => Err(pending
            .handle_timeout(deadline)
            .map_or(Error::ConnectionClosed, Error::Handshake)),
    }
}

/// Sends the extended CONNECT, has the core check the answer, and waits
/// for hyper to hand over the stream.
async fn exchange<B>(
    sender: &mut SendRequest<B>,
    request: http::Request<()>,
    pending: &H2Client,
    config: Config,
) -> Result<(WebSocketStream<H2Stream>, Response), Error>
where
    B: Body + Default + Send + 'static,
{
    let mut request = request.map(|()| B::default());
    request
        .extensions_mut()
        .insert(Protocol::from_static("websocket"));
    sender.ready().await.map_err(hyper_error)?;
    let mut response = sender.send_request(request).await.map_err(hyper_error)?;
    let accepted = match pending.open(&response) {
        Ok(opened) => opened,
        Err(mut err) => {
            if let HandshakeError::Response(ResponseError::Rejected(rejection)) = &mut err {
                rejection.body = body_start(response.body_mut()).await;
            }
            return Err(Error::Handshake(err));
        }
    };
    let upgraded = hyper::upgrade::on(&mut response)
        .await
        .map_err(hyper_error)?;
    let conn = Connection::with_extensions(Role::Client, config, accepted.negotiated().clone());
    let stream = WebSocketStream::from_connection(H2Stream::new(upgraded), conn);
    Ok((stream, accepted))
}

/// Up to [`MAX_REFUSAL_BODY`] bytes of a refusal's body; a body that
/// fails midway gives what arrived before.
async fn body_start(body: &mut Incoming) -> Vec<u8> {
    let mut start = Vec::new();
    while start.len() < MAX_REFUSAL_BODY {
        let frame = poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await;
        let Some(Ok(frame)) = frame else { break };
        if let Ok(data) = frame.into_data() {
            let data: Bytes = data;
            let room = MAX_REFUSAL_BODY - start.len();
            start.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    start
}

/// hyper's errors are the HTTP/2 transport's: they become [`Error::Io`],
/// with hyper's error as the source.
fn hyper_error(err: hyper::Error) -> Error {
    Error::Io(io::Error::other(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_no_error_reset_counts_as_finished() {
        let wrap = |reason| io::Error::other(::h2::Error::from(reason));
        assert!(finished_is_ok(Err(wrap(::h2::Reason::NO_ERROR))).is_ok());
        assert!(finished_is_ok(Err(wrap(::h2::Reason::CANCEL))).is_err());
        assert!(finished_is_ok(Err(io::ErrorKind::BrokenPipe.into())).is_err());
        assert!(finished_is_ok(Ok(())).is_ok());
    }
}
