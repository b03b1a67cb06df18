//! An axum 0.8 extractor for WebSocket upgrades (feature `axum`), with the
//! methods of `axum::extract::ws::WebSocketUpgrade`: moving a handler over
//! is a change of imports, plus [`Message`](crate::Message)'s shape
//! (`Close` carries a [`CloseFrame`](crate::CloseFrame), not an `Option`).
//!
//! The core checks the request ([`Request::from_http_parts`]), chooses the
//! subprotocol ([`Request::select_protocol`], the server's order of
//! preference) and negotiates permessage-deflate as the [`Config`] allows;
//! a request it refuses is rejected with its status and reason
//! ([`WebSocketUpgradeRejection`]).
//!
//! ```
//! use axum::{response::Response, routing::any, Router};
//! use ws_tokio::axum::{WebSocket, WebSocketUpgrade};
//! use ws_tokio::Message;
//!
//! async fn handler(ws: WebSocketUpgrade) -> Response {
//!     ws.protocols(["chat.v2", "chat.v1"])
//!         .max_message_size(64 * 1024)
//!         .on_upgrade(handle_socket)
//! }
//!
//! async fn handle_socket(mut socket: WebSocket) {
//!     while let Some(Ok(message)) = socket.recv().await {
//!         if let Message::Text(text) = message {
//!             if socket.send(Message::Text(text)).await.is_err() {
//!                 return;
//!             }
//!         }
//!     }
//! }
//!
//! let app: Router = Router::new().route("/ws", any(handler));
//! # let _ = app;
//! ```

use core::fmt;
use std::borrow::Cow;
use std::future::Future;

use axum_core::body::Body;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use hyper::upgrade::OnUpgrade;
use ws_proto::handshake::{Request, RequestError, ServerResponse};
use ws_proto::{Config, Connection, Role};

use crate::upgrade::{self, Upgrade, UpgradedIo};
use crate::{Error, WebSocketStream};

/// The WebSocket an [`on_upgrade`](WebSocketUpgrade::on_upgrade) callback
/// gets: a [`WebSocketStream`] over the upgraded hyper connection, with
/// `recv`, `send`, `close` and `split`.
///
/// ```
/// use ws_tokio::axum::WebSocket;
/// use ws_tokio::Message;
///
/// async fn echo(mut socket: WebSocket) {
///     while let Some(Ok(message)) = socket.recv().await {
///         if message.is_data() && socket.send(message).await.is_err() {
///             return;
///         }
///     }
/// }
/// # let _ = echo;
/// ```
pub type WebSocket = WebSocketStream<UpgradedIo>;

/// The extractor for a WebSocket upgrade: a GET that passed the checks of
/// RFC 6455 section 4.2.1, on a connection hyper can upgrade. Finish it
/// with [`on_upgrade`](Self::on_upgrade), which returns the 101 response
/// and runs the callback with the [`WebSocket`] in a task of its own.
///
/// Extracting `Option<WebSocketUpgrade>` gives `None` for a request that
/// does not ask for an upgrade, for a path that serves a page too.
///
/// ```
/// use axum::{extract::State, response::{IntoResponse, Response}, routing::any, Router};
/// use ws_tokio::axum::WebSocketUpgrade;
/// use ws_tokio::Config;
///
/// async fn handler(ws: WebSocketUpgrade, State(greeting): State<&'static str>) -> Response {
///     // The checked request: refuse pages from other sites.
///     if ws.request().origin().is_some_and(|o| o != "https://example.com") {
///         return (http::StatusCode::FORBIDDEN, "cross-site").into_response();
///     }
///     ws.config(Config::default().max_message_size(1 << 20))
///         .on_upgrade(move |mut socket| async move {
///             let _ = socket.send(ws_tokio::Message::text(greeting)).await;
///         })
/// }
///
/// let app: Router = Router::new().route("/ws", any(handler)).with_state("hello");
/// # let _ = app;
/// ```
#[must_use = "the connection is only upgraded by the response of `on_upgrade`"]
pub struct WebSocketUpgrade<F = DefaultOnFailedUpgrade> {
    request: Request,
    on_upgrade: OnUpgrade,
    config: Config,
    /// The subprotocol `protocols` selected.
    protocol: Option<String>,
    on_failed_upgrade: F,
}

impl<F> fmt::Debug for WebSocketUpgrade<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", &self.request)
            .field("config", &self.config)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl<F> WebSocketUpgrade<F> {
    /// The connection's settings (limits, timeouts, permessage-deflate),
    /// replacing any set before; [`Config::default`] otherwise.
    ///
    /// ```
    /// # use ws_tokio::{axum::WebSocketUpgrade, Config};
    /// # fn demo(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    /// ws.config(Config::default().deflate(None).max_message_size(64 * 1024))
    /// # }
    /// ```
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The largest message accepted, in bytes (a larger one fails the
    /// connection with 1009); [`Config::max_message_size`].
    ///
    /// ```
    /// # fn demo(ws: ws_tokio::axum::WebSocketUpgrade) -> ws_tokio::axum::WebSocketUpgrade {
    /// ws.max_message_size(16 * 1024)
    /// # }
    /// ```
    pub fn max_message_size(mut self, max: usize) -> Self {
        self.config = self.config.max_message_size(max);
        self
    }

    /// The largest frame accepted, in bytes; [`Config::max_frame_size`].
    ///
    /// ```
    /// # fn demo(ws: ws_tokio::axum::WebSocketUpgrade) -> ws_tokio::axum::WebSocketUpgrade {
    /// ws.max_frame_size(16 * 1024)
    /// # }
    /// ```
    pub fn max_frame_size(mut self, max: usize) -> Self {
        self.config = self.config.max_frame_size(max);
        self
    }

    /// The subprotocols this server speaks, in its order of preference: the
    /// first one the client offered is chosen and named in the 101
    /// ([`Request::select_protocol`]); if the client offered none of them,
    /// the connection opens without one.
    ///
    /// ```
    /// # fn demo(ws: ws_tokio::axum::WebSocketUpgrade) {
    /// let ws = ws.protocols(["graphql-transport-ws", "graphql-ws"]);
    /// println!("{:?}", ws.selected_protocol());
    /// # }
    /// ```
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Cow<'static, str>>,
    {
        let supported = protocols.into_iter().map(Into::<Cow<'static, str>>::into);
        self.protocol = self.request.select_protocol(supported).map(str::to_string);
        self
    }

    /// The subprotocols the client offered, in its order.
    ///
    /// ```
    /// # fn demo(ws: &ws_tokio::axum::WebSocketUpgrade) {
    /// let speaks_mqtt = ws.requested_protocols().any(|p| p == "mqtt");
    /// # let _ = speaks_mqtt;
    /// # }
    /// ```
    pub fn requested_protocols(&self) -> impl Iterator<Item = &str> {
        self.request.protocols().iter().map(String::as_str)
    }

    /// The subprotocol [`protocols`](Self::protocols) chose, if any (axum's
    /// returns it as a `HeaderValue`, this as text).
    ///
    /// ```
    /// # fn demo(ws: ws_tokio::axum::WebSocketUpgrade) {
    /// let ws = ws.protocols(["chat.v1"]);
    /// if ws.selected_protocol() != Some("chat.v1") {
    ///     // an old client
    /// }
    /// # }
    /// ```
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The checked request: path, query, headers, `Origin`.
    ///
    /// ```
    /// # fn demo(ws: &ws_tokio::axum::WebSocketUpgrade) {
    /// let same_site = ws.request().origin() == Some("https://example.com");
    /// # let _ = same_site;
    /// # }
    /// ```
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// What to do when the upgrade fails after the 101 was sent (hyper
    /// could not hand the connection over); by default nothing.
    ///
    /// ```
    /// # use axum::response::Response;
    /// async fn handler(ws: ws_tokio::axum::WebSocketUpgrade) -> Response {
    ///     ws.on_failed_upgrade(|error| eprintln!("upgrade failed: {error}"))
    ///         .on_upgrade(|_socket| async {})
    /// }
    /// # let _ = handler;
    /// ```
    pub fn on_failed_upgrade<C: OnFailedUpgrade>(self, callback: C) -> WebSocketUpgrade<C> {
        WebSocketUpgrade {
            request: self.request,
            on_upgrade: self.on_upgrade,
            config: self.config,
            protocol: self.protocol,
            on_failed_upgrade: callback,
        }
    }

    /// Returns the 101 response (with the chosen subprotocol and the
    /// permessage-deflate agreement) and, once hyper has sent it, runs
    /// `callback` with the [`WebSocket`] in a task of its own.
    ///
    /// ```
    /// # use axum::response::Response;
    /// async fn handler(ws: ws_tokio::axum::WebSocketUpgrade) -> Response {
    ///     ws.on_upgrade(|mut socket| async move {
    ///         let _ = socket.send(ws_tokio::Message::text("hello")).await;
    ///     })
    /// }
    /// # let _ = handler;
    /// ```
    #[must_use = "the connection is only upgraded once this response is returned"]
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
        F: OnFailedUpgrade,
    {
        let (answer, extensions) = self.request.accept_extensions(
            self.request.accept_preferring(self.protocol.as_deref()),
            &self.config,
        );
        let response = to_axum(answer.into_http());
        let conn = Connection::with_extensions(Role::Server, self.config, extensions);
        let upgrade = Upgrade::new(self.on_upgrade, conn, self.request, self.protocol);
        let on_failed_upgrade = self.on_failed_upgrade;
        tokio::spawn(async move {
            match upgrade.await {
                Ok(socket) => callback(socket).await,
                Err(err) => on_failed_upgrade.call(err),
            }
        });
        response
    }
}

fn to_axum(response: http::Response<Vec<u8>>) -> Response {
    response.map(Body::from)
}

/// What [`WebSocketUpgrade::on_failed_upgrade`] takes: any
/// `FnOnce(ws_tokio::Error) + Send + 'static`.
///
/// ```
/// fn takes<C: ws_tokio::axum::OnFailedUpgrade>(_: C) {}
/// takes(|error: ws_tokio::Error| eprintln!("{error}"));
/// ```
pub trait OnFailedUpgrade: Send + 'static {
    /// Called with why the upgrade failed.
    ///
    /// ```
    /// use ws_tokio::axum::OnFailedUpgrade;
    /// (|_error: ws_tokio::Error| {}).call(ws_tokio::Error::ConnectionClosed);
    /// ```
    fn call(self, error: Error);
}

impl<F: FnOnce(Error) + Send + 'static> OnFailedUpgrade for F {
    fn call(self, error: Error) {
        self(error);
    }
}

/// The default [`OnFailedUpgrade`]: ignores the error.
///
/// ```
/// use ws_tokio::axum::{DefaultOnFailedUpgrade, OnFailedUpgrade};
/// DefaultOnFailedUpgrade::default().call(ws_tokio::Error::ConnectionClosed);
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct DefaultOnFailedUpgrade;

impl OnFailedUpgrade for DefaultOnFailedUpgrade {
    fn call(self, _error: Error) {}
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade<DefaultOnFailedUpgrade> {
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request =
            Request::from_http_parts(parts).map_err(WebSocketUpgradeRejection::Request)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(WebSocketUpgradeRejection::ConnectionNotUpgradable)?;
        Ok(Self {
            request,
            on_upgrade,
            config: Config::default(),
            protocol: None,
            on_failed_upgrade: DefaultOnFailedUpgrade,
        })
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for WebSocketUpgrade<DefaultOnFailedUpgrade> {
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if !Request::is_upgrade(&parts.headers) {
            return Ok(None);
        }
        <Self as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// Why [`WebSocketUpgrade`] could not be extracted; as a response, the
/// core's status and reason ([`ServerResponse::from_error`]: 400, 405, 426
/// with `Sec-WebSocket-Version: 13`...).
///
/// ```
/// use axum::response::IntoResponse;
/// use ws_tokio::axum::WebSocketUpgradeRejection;
/// use ws_tokio::ws_proto::handshake::RequestError;
///
/// let rejection = WebSocketUpgradeRejection::Request(RequestError::UnsupportedVersion(Some("8".into())));
/// assert_eq!(rejection.status(), 426);
/// let response = rejection.into_response();
/// assert_eq!(response.status(), 426);
/// assert_eq!(response.headers()["sec-websocket-version"], "13");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebSocketUpgradeRejection {
    /// The request failed the checks of RFC 6455 section 4.2.1: not a GET
    /// (405), not an upgrade (426), no or a bad key (400), another version
    /// than 13 (426)...
    Request(RequestError),
    /// A valid request on a connection hyper cannot upgrade (426): it was
    /// not served by hyper's HTTP/1.1 server (for example a router called
    /// directly in a test), or not with upgrades on.
    ConnectionNotUpgradable,
}

impl WebSocketUpgradeRejection {
    /// The HTTP status the rejection answers with.
    ///
    /// ```
    /// use ws_tokio::axum::WebSocketUpgradeRejection;
    /// use ws_tokio::ws_proto::handshake::RequestError;
    /// assert_eq!(WebSocketUpgradeRejection::Request(RequestError::MissingKey).status(), 400);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Self::Request(err) => err.status(),
            Self::ConnectionNotUpgradable => 426,
        }
    }

    /// The text of the response's body.
    ///
    /// ```
    /// use ws_tokio::axum::WebSocketUpgradeRejection;
    /// use ws_tokio::ws_proto::handshake::RequestError;
    /// let body = WebSocketUpgradeRejection::Request(RequestError::MissingKey).body_text();
    /// assert!(body.contains("Sec-WebSocket-Key"));
    /// ```
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for WebSocketUpgradeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(err) => fmt::Display::fmt(err, f),
            Self::ConnectionNotUpgradable => f.write_str(
                "this connection cannot be upgraded (the request did not come from hyper's HTTP/1.1 server)",
            ),
        }
    }
}

impl std::error::Error for WebSocketUpgradeRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Request(err) => Some(err),
            Self::ConnectionNotUpgradable => None,
        }
    }
}

impl IntoResponse for WebSocketUpgradeRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Request(err) => to_axum(ServerResponse::from_error(&err).into_http()),
            Self::ConnectionNotUpgradable => to_axum(upgrade::not_upgradable()),
        }
    }
}
