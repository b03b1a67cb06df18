//! WebSocket upgrades of hyper 1.x HTTP/1.1 requests (feature `hyper`), in
//! the shape of `hyper-tungstenite`: hand the request to [`upgrade`] (or
//! [`upgrade_with`] to look at it first), return the 101 response to hyper,
//! and await the [`Upgrade`] in a task of its own for the
//! [`WebSocketStream`].
//!
//! The core decides everything ([`Request::answer_http`]): the checks of
//! RFC 6455 section 4.2.1, the status of a refusal (400, 405, 426 with
//! `Sec-WebSocket-Version: 13`, ...), the subprotocol
//! ([`Request::accept_preferring`]) and permessage-deflate, negotiated as
//! the [`Config`] allows. A refusal comes back as a ready-made response in
//! `Err`: send it as it is.
//!
//! Serve the connection with upgrades on
//! (`hyper::server::conn::http1::Builder::serve_connection(..).with_upgrades()`;
//! `axum::serve` does this too), or the [`Upgrade`] fails once hyper has
//! sent the 101. For axum there is an extractor: `ws_tokio::axum`.
//!
//! ```no_run
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::server::conn::http1;
//! use hyper_util::rt::TokioIo;
//! use ws_tokio::{upgrade, Config, Message};
//!
//! async fn serve(mut request: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, hyper::Error> {
//!     if !upgrade::is_upgrade_request(&request) {
//!         return Ok(http::Response::new(Full::from("a WebSocket lives at /ws")));
//!     }
//!     let (response, websocket) = match upgrade::upgrade(&mut request, Config::default()) {
//!         Ok(accepted) => accepted,
//!         Err(refusal) => return Ok(refusal),
//!     };
//!     tokio::spawn(async move {
//!         let mut ws = websocket.await?;
//!         while let Some(message) = ws.recv().await {
//!             if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
//!                 ws.send(message).await?;
//!             }
//!         }
//!         Ok::<_, ws_tokio::Error>(())
//!     });
//!     Ok(response)
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     tokio::spawn(
//!         http1::Builder::new()
//!             .serve_connection(TokioIo::new(tcp), hyper::service::service_fn(serve))
//!             .with_upgrades(),
//!     );
//! }
//! # }
//! ```

use std::borrow::BorrowMut;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use ws_proto::handshake::{Request, ServerResponse};
use ws_proto::{Config, Connection, Role};

use crate::{Error, WebSocketStream};

/// The transport of an upgraded hyper connection: what the
/// [`WebSocketStream`] from an [`Upgrade`] (and from the axum extractor)
/// runs over.
///
/// ```
/// use ws_tokio::{upgrade::UpgradedIo, WebSocketStream};
///
/// async fn count_messages(mut ws: WebSocketStream<UpgradedIo>) -> usize {
///     let mut n = 0;
///     while let Some(Ok(_)) = ws.recv().await {
///         n += 1;
///     }
///     n
/// }
/// # let _ = count_messages;
/// ```
pub type UpgradedIo = TokioIo<hyper::upgrade::Upgraded>;

/// The response type of [`upgrade`] and [`upgrade_with`], the one hyper's
/// own examples (and `hyper-tungstenite`) use. For another body type, map
/// it: `response.map(|body| ...)`.
///
/// ```
/// let response: ws_tokio::upgrade::HttpResponse = http::Response::new("hello".into());
/// # let _ = response;
/// ```
pub type HttpResponse = http::Response<Full<Bytes>>;

/// Whether `request` asks for a WebSocket upgrade (`Upgrade: websocket`
/// and `Connection: upgrade`), for a server that also serves plain HTTP on
/// the same path. It checks nothing else: [`upgrade`] does.
///
/// ```
/// let page = http::Request::get("/").body(()).unwrap();
/// assert!(!ws_tokio::upgrade::is_upgrade_request(&page));
/// let ws = http::Request::get("/")
///     .header("upgrade", "websocket")
///     .header("connection", "Upgrade")
///     .body(())
///     .unwrap();
/// assert!(ws_tokio::upgrade::is_upgrade_request(&ws));
/// ```
pub fn is_upgrade_request<B>(request: &http::Request<B>) -> bool {
    Request::is_upgrade(request.headers())
}

/// Accepts a WebSocket upgrade of `request` with no checks beyond the
/// protocol's (any path, any `Origin`, no subprotocol): [`upgrade_with`]
/// with [`Request::accept`].
///
/// `Ok`: the 101 response to return to hyper and the [`Upgrade`] to await
/// in another task. `Err`: the refusal to return instead, with the status
/// the core chose (400, 405, 426 with `Sec-WebSocket-Version: 13`...) and
/// the reason as its body.
///
/// ```
/// use ws_tokio::{upgrade, Config};
///
/// let post = http::Request::post("/ws").body(()).unwrap();
/// let refusal = upgrade::upgrade(post, Config::default()).unwrap_err();
/// assert_eq!(refusal.status(), 405);
/// ```
#[allow(clippy::result_large_err)]
pub fn upgrade<B>(
    request: impl BorrowMut<http::Request<B>>,
    config: Config,
) -> Result<(HttpResponse, Upgrade), HttpResponse> {
    upgrade_with(request, config, Request::accept)
}

/// Accepts a WebSocket upgrade of `request` after asking `answer`, which
/// sees the checked [`Request`] (path, query, headers, `Origin`, offered
/// subprotocols) and returns the answer: [`Request::accept`],
/// [`Request::accept_preferring`] to choose a subprotocol, or a refusal
/// such as [`ServerResponse::reject`]. permessage-deflate is negotiated as
/// `config` allows, and the stream gets `config`'s limits.
///
/// Returns the response to return to hyper and the [`Upgrade`], or the
/// refusal (the core's, for a request that fails the checks, or
/// `answer`'s) as a response to return as it is. A valid request that hyper
/// cannot upgrade (it did not come from hyper's server) is refused with
/// 426.
///
/// ```
/// use ws_tokio::{upgrade, Config, Request, ServerResponse};
///
/// let request = http::Request::get("/chat")
///     .header("host", "example.com")
///     .header("upgrade", "websocket")
///     .header("connection", "Upgrade")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "13")
///     .header("origin", "https://evil.example")
///     .body(())
///     .unwrap();
/// let refusal = upgrade::upgrade_with(request, Config::default(), |request: &Request| {
///     if request.origin() != Some("https://example.com") {
///         return ServerResponse::reject(403, "cross-site requests are refused");
///     }
///     request.accept_preferring(["chat.v2", "chat.v1"])
/// })
/// .unwrap_err();
/// assert_eq!(refusal.status(), 403);
/// ```
#[allow(clippy::result_large_err)]
pub fn upgrade_with<B, F>(
    mut request: impl BorrowMut<http::Request<B>>,
    config: Config,
    answer: F,
) -> Result<(HttpResponse, Upgrade), HttpResponse>
where
    F: FnOnce(&Request) -> ServerResponse,
{
    let request = request.borrow_mut();
    let (response, outcome) = Request::answer_http(request, &config, answer);
    let Ok((checked, extensions)) = outcome else {
        return Err(response.map(Full::from));
    };
    // hyper's server puts the handle on every request that asks for an
    // upgrade; without it a 101 would leave the client waiting.
    if request.extensions().get::<OnUpgrade>().is_none() {
        return Err(not_upgradable().map(Full::from));
    }
    let protocol = response
        .headers()
        .get(http::header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|p| p.to_str().ok())
        .map(str::to_string);
    let conn = Connection::with_extensions(Role::Server, config, extensions);
    let upgrade = Upgrade::new(hyper::upgrade::on(request), conn, checked, protocol);
    Ok((response.map(Full::from), upgrade))
}

/// The refusal of a valid request on a connection hyper cannot upgrade.
pub(crate) fn not_upgradable() -> http::Response<Vec<u8>> {
    ServerResponse::reject(
        426,
        "this connection cannot be upgraded (the request did not come from hyper's HTTP/1.1 server)",
    )
    .into_http()
}

/// An accepted upgrade on its way: a future that resolves to the
/// [`WebSocketStream`] once hyper has sent the 101 and handed over the
/// connection. Await it in a task of its own, after returning the response
/// to hyper: awaiting it before would wait forever.
///
/// ```no_run
/// # async fn demo(upgrade: ws_tokio::upgrade::Upgrade) -> Result<(), ws_tokio::Error> {
/// println!("{} with {:?}", upgrade.request().path(), upgrade.protocol());
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
    protocol: Option<String>,
}

impl Upgrade {
    pub(crate) fn new(
        on_upgrade: OnUpgrade,
        conn: Connection,
        request: Request,
        protocol: Option<String>,
    ) -> Self {
        Self {
            on_upgrade,
            conn: Some(conn),
            request,
            protocol,
        }
    }

    /// The request that was accepted (path, query, headers, subprotocols).
    ///
    /// ```no_run
    /// # fn demo(upgrade: &ws_tokio::upgrade::Upgrade) {
    /// let room = upgrade.request().query();
    /// # let _ = room;
    /// # }
    /// ```
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The subprotocol the answer chose, if any.
    ///
    /// ```no_run
    /// # fn demo(upgrade: &ws_tokio::upgrade::Upgrade) {
    /// let v2 = upgrade.protocol() == Some("chat.v2");
    /// # let _ = v2;
    /// # }
    /// ```
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }
}

impl Future for Upgrade {
    type Output = Result<WebSocketStream<UpgradedIo>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.conn.is_none() {
            // Polled again after it handed out the stream.
            return Poll::Ready(Err(Error::ConnectionClosed));
        }
        let upgraded = match Pin::new(&mut this.on_upgrade).poll(cx) {
            Poll::Pending => return Poll::Pending,
            // hyper's errors are the transport's: the connection ended, or
            // it was not served with upgrades.
            Poll::Ready(result) => result.map_err(|err| Error::Io(io::Error::other(err)))?,
        };
        match this.conn.take() {
            Some(conn) => Poll::Ready(Ok(WebSocketStream::from_connection(
                TokioIo::new(upgraded),
                conn,
            ))),
            None => Poll::Ready(Err(Error::ConnectionClosed)),
        }
    }
}
