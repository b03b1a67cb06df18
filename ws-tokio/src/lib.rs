//! An async WebSocket (RFC 6455) client and server for tokio: a thin driver
//! around the sans-IO [`ws_proto::Connection`], over any
//! `AsyncRead + AsyncWrite + Unpin` transport.
//!
//! All protocol rules (framing, masking, UTF-8, limits, answering pings, the
//! close handshake, who closes the transport first, the close timeout) live
//! in `ws-proto`. This crate moves bytes between the transport and the core,
//! sleeps until the core's deadline, and maps its events to [`Message`]s.
//!
//! # Entry points
//!
//! * Client: [`connect`] (a URL; TCP and, for `wss://`, TLS with rustls),
//!   [`connect_with`] (your [`ClientRequest`], [`Config`] and [`Connector`]),
//!   or [`client`] over a transport you connected yourself.
//! * Server: [`accept`], or [`accept_with`] and a callback that sees the
//!   [`Request`] and accepts or refuses it ([`accept_with_prefix`] when you
//!   have already read part of the request).
//! * In an axum or hyper server: the `axum` extractor and the `upgrade`
//!   functions (features `axum`, `hyper`; see [axum and hyper](#axum-and-hyper)).
//! * Already upgraded elsewhere: [`WebSocketStream::from_raw`].
//! * A client that dials again after losing the connection, with backoff
//!   and a visible event for every loss and reconnect: [`Reconnecting`].
//! * Then [`WebSocketStream`]: a `Stream` of messages and a `Sink` for them,
//!   with [`recv`](WebSocketStream::recv), [`send`](WebSocketStream::send),
//!   [`close`](WebSocketStream::close) and [`split`](WebSocketStream::split)
//!   into halves for two tasks.
//!
//! # How the driver runs the core
//!
//! Reading (`recv`, `Stream::poll_next`) does, until it has a message or
//! must wait:
//!
//! 1. Hand out the core's next event ([`Connection::poll_event`](ws_proto::Connection::poll_event)).
//! 2. Write what the core queued (pongs, close replies) with vectored writes.
//! 3. Read from the transport straight into the core's buffer, sized by the
//!    core ([`prepare_receive_buffer`](ws_proto::Connection::prepare_receive_buffer),
//!    with one spare buffer per thread in a [`ReadBufferPool`](ws_proto::ReadBufferPool));
//!    when nothing is waiting, give the buffer back
//!    ([`release_receive_buffer`](ws_proto::Connection::release_receive_buffer));
//!    at end of stream, tell the core.
//! 4. When there is nothing to read, sleep until the core's deadline; when
//!    it passes, call `handle_timeout`. (While the connection closes, the
//!    deadline is checked before every read, so a peer that keeps sending
//!    cannot hold off the close timeout.)
//!
//! The core's timers are its close timeout, the linger after the close
//! (bounding the last writes to a peer that no longer reads), and, when
//! configured, keepalive pings ([`Config::ping_interval`]) and the idle
//! timeout ([`Config::idle_timeout`]; the application then sees
//! [`Message::Close`] with code 1006). They run while the stream is read.
//!
//! # Hardening
//!
//! * The opening handshake, on both sides, must finish within
//!   [`Config::handshake_timeout`] (10 s by default; the core's timer), or
//!   [`Error::Handshake`] with
//!   [`HandshakeError::TimedOut`](ws_proto::handshake::HandshakeError::TimedOut):
//!   a client that connects and sends nothing,
//!   or a byte at a time, does not hold a server's socket.
//! * [`close`](WebSocketStream::close) is bounded by the close timeout even
//!   when the peer neither answers nor reads.
//! * A refusal by the server or a proxy names the HTTP status and its likely
//!   cause; a connection closed during the handshake says so
//!   ([`HandshakeError::PeerClosed`](ws_proto::handshake::HandshakeError::PeerClosed)).
//! * [`CloseKind`] tells clean closes, protocol errors, application codes
//!   and abnormal drops apart.
//!
//! After the last message (a close frame, code 1006, or a protocol error),
//! reading writes what is left and, once the core says so
//! ([`should_close_transport`](ws_proto::Connection::should_close_transport)),
//! shuts the transport down, then the stream ends. Sending queues in the
//! core and writes; `Sink::poll_ready` waits while more than the high-water
//! mark (64 KiB by default) is queued, so a peer that does not read cannot
//! make the sender's memory grow without bound.
//!
//! The transport and the core sit behind one mutex, held only for short,
//! non-async sections, so the halves of a split stream work from two tasks.
//!
//! # When the network fails
//!
//! What each end sees when the link under it fails, with keepalive on both
//! ends ([`Config::ping_interval`] and [`Config::idle_timeout`]; the table
//! was measured at 200 ms and 600 ms). Each row is a test in
//! `soak/tests/fault_table.rs` (crate `ws-soak`), whose `fault-proxy` does
//! the fault on loopback; the server there is a ws-tokio server.
//!
//! | fault | client: [`recv`](WebSocketStream::recv) | [`Reconnecting`] | server | test |
//! |---|---|---|---|---|
//! | stall toward the client, past the idle timeout | [`Message::Close`] 1006 ([`CloseKind::Abnormal`]), reason `idle timeout: nothing received from the peer`, then `None` | `Disconnected { close: 1006, error: None, .. }`, then `Reconnected` | the client's close 1001 `idle timeout` ([`CloseKind::Clean`]) | `tokio_stall_down_past_idle` |
//! | stall both ways, past the idle timeout | the same | the same | its own 1006 `idle timeout: nothing received from the peer` | `tokio_stall_both_past_idle` |
//! | stall toward the server, past the idle timeout | the server's close 1001 `idle timeout`: [`CloseKind::Clean`] | `Disconnected { close: 1001, error: None, .. }`, then `Reconnected` | 1006 `idle timeout: nothing received from the peer` | `tokio_stall_up_past_idle` |
//! | stall shorter than the idle timeout; latency and jitter; a bandwidth cap | nothing: messages come late, in order, none lost | only `Message` events | nothing | `tokio_short_stall_latency_bandwidth` |
//! | reset (RST) | `Err(`[`Error::Io`]`(e))`, `e.kind()` `ConnectionReset`; then `Close` 1006 (no reason), then `None` | `Disconnected { close: 1006, error: Some(Error::Io(_)), .. }`, then `Reconnected` | the same as the client | `tokio_reset` |
//! | clean cut (a FIN each way, no close frame) | `Close` 1006 (no reason), then `None`; no error | `Disconnected { close: 1006, error: None, .. }`, then `Reconnected` | `Close` 1006 | `tokio_cut` |
//! | half-close toward the server, the client or both | `Close` 1006 (no reason), then `None`: the end that gets the FIN ends and closes its side | as for a cut | `Close` 1006 | `tokio_half_close` |
//!
//! * A dead link is found by the end that stops hearing from the other, the
//!   idle timeout after the last frame it heard: within ping interval plus
//!   idle timeout of the failure (each end pings after a ping interval of
//!   quiet, so a live peer is heard at least that often). Without an idle
//!   timeout a stalled connection waits for as long as the stall lasts. The
//!   timers run while the stream is read: keep a `recv` pending.
//! * A reset comes as an I/O error, not as a close: treat
//!   `Err(Error::Io(_))` from `recv` as the end of the connection (the
//!   stream still hands out its 1006 and ends).
//! * The peer's idle timeout looks clean: its 1001 is
//!   [`CloseKind::Clean`], and only the reason (`idle timeout`) says that
//!   the link failed. Do not take every clean close for "the peer wants us
//!   gone"; [`Reconnecting`] reconnects after it (1001 is not final).
//! * What to do: after a 1006, an I/O error or an idle-timeout 1001, the
//!   connection is gone and what was sent since the peer last
//!   acknowledged it may be lost. [`Reconnecting`] dials again after its
//!   backoff; on [`Reconnected`](ReconnectEvent::Reconnected), restore the
//!   session and send again what was not acknowledged. A plain client
//!   reconnects the same way itself; a server drops the connection's state
//!   (the client comes back on a new connection).
//!
//! # Memory per connection
//!
//! An idle connection holds no buffers: the driver's state (the core's
//! [`Connection`](ws_proto::Connection), the transport, a few flags) is one
//! allocation, and the waker shared by the two halves of a split stream is
//! only allocated the first time a write has to wait. The futures are
//! small ([`accept`] returns one pointer, [`recv`](WebSocketStream::recv)
//! one reference, [`send`](WebSocketStream::send) a reference and the
//! message), so the task serving a connection can be small too, which
//! matters with tokio: a task's future lives inline in a cell aligned to
//! 128 bytes. Two habits keep it small:
//!
//! * Call `accept(tcp)` before spawning and move its future into the task,
//!   rather than moving the socket in and accepting there.
//! * Take the message out of the received item in one `match`, and do not
//!   keep the item or call methods on the message before an `.await`: the
//!   compiler keeps every such value in the future for as long as the
//!   connection lives.
//!
//! ```no_run
//! use ws_tokio::{accept, Message};
//!
//! # async fn demo(listener: tokio::net::TcpListener) -> std::io::Result<()> {
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let handshake = accept(tcp);
//!     tokio::spawn(async move {
//!         let Ok(mut ws) = handshake.await else { return };
//!         loop {
//!             let message = match ws.recv().await {
//!                 Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
//!                 Some(_) => continue,
//!                 None => break,
//!             };
//!             if ws.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # }
//! ```
//!
//! With this loop the task's future is 128 bytes and tokio's task cell 256;
//! binding the item first makes it about 240 and the cell 512. The
//! `echo-server` example holds 10,000 idle connections in about 1.45 KiB
//! each (`tests/peers/idle-memory.sh`), most of it tokio's task cell and I/O
//! registration (256 bytes each, aligned to 128, which glibc's allocator
//! pays for with about 150 bytes of fragments apiece) and the driver's
//! state (about 430 bytes); about 100 bytes of it are the example's
//! shutdown registry (a [`broadcast::Group`] entry per connection, from
//! 1.35 KiB without it).
//!
//! # Proxies
//!
//! [`connect`] and [`connect_with`] go through the proxy the environment
//! names for the URL, as curl and Python's `websockets` read it:
//! `https_proxy`/`HTTPS_PROXY` for `wss://`, `http_proxy`/`HTTP_PROXY` for
//! `ws://` (the uppercase one is ignored when `REQUEST_METHOD` is set, in a
//! CGI program), `all_proxy`/`ALL_PROXY` otherwise, and none for a host
//! `no_proxy`/`NO_PROXY` lists (names and domain suffixes, `*`, IP
//! addresses, CIDR networks, `:port`). [`connect_with_proxy`] takes a
//! [`ProxySetting`](ws_proto::handshake::proxy::ProxySetting) instead:
//! `FromEnv`, `Use(proxy)` or `Direct`.
//!
//! * `http://user:pass@host:port`: HTTP `CONNECT`, with Basic credentials
//!   when the URL has them.
//! * `socks5h://user:pass@host:port`: SOCKS5 with RFC 1929 credentials;
//!   the proxy resolves the server's name. `socks5://`: this crate resolves
//!   it and sends the address.
//!
//! TLS for `wss://` runs inside the tunnel, with the server's name. The
//! handshake timeout covers the whole connect: TCP to the proxy, the
//! tunnel, TLS and the WebSocket handshake. A proxy's refusal is
//! [`Error::Proxy`] in words (407, 403, 502, a SOCKS5 reply code, bad
//! credentials, a proxy that closed early or answered garbage). The
//! protocols themselves are `ws-proto`'s sans-IO
//! [`Tunnel`](ws_proto::handshake::proxy::Tunnel); this crate only moves
//! its bytes.
//!
//! ```no_run
//! use ws_tokio::ws_proto::handshake::proxy::{Proxy, ProxySetting};
//! use ws_tokio::{connect_with_proxy, ClientRequest, Config};
//! # async fn demo() -> Result<(), ws_tokio::Error> {
//! let proxy = Proxy::parse("http://user:pass@127.0.0.1:3128")?;
//! let request = ClientRequest::from_url("wss://example.com/feed")?;
//! let (ws, _) = connect_with_proxy(request, Config::default(), None, ProxySetting::Use(proxy)).await?;
//! # drop(ws);
//! # Ok(())
//! # }
//! ```
//!
//! # Features
//!
//! * `rustls` (default): `wss://` in [`connect`] with rustls (ring provider)
//!   and the `webpki-roots` certificates; [`Connector::Rustls`] for your own
//!   rustls configuration.
//! * `h2` (off by default): WebSocket over HTTP/2 (RFC 8441) with hyper
//!   1.x, in the `h2` module: `h2::accept` for extended CONNECT requests
//!   on a hyper server, `h2::connect` over a hyper client connection.
//! * `hyper` (off by default): upgrades of hyper 1.x HTTP/1.1 requests, in
//!   the `upgrade` module (hyper, hyper-util and http-body-util, none of
//!   hyper's own features).
//! * `axum` (off by default, implies `hyper`): the axum 0.8 extractor
//!   `axum::WebSocketUpgrade` (axum-core only).
//!
//! # axum and hyper
//!
//! `ws_tokio::axum::WebSocketUpgrade` is an axum 0.8 extractor with the
//! methods of axum's own (`protocols`, `requested_protocols`,
//! `selected_protocol`, `max_message_size`, `max_frame_size`,
//! `on_failed_upgrade`, `on_upgrade`; `config` for every other setting, and
//! `request` for the checked request: path, `Origin`, headers). The core
//! checks the request, chooses the subprotocol (the first of `protocols`
//! the client offered) and negotiates permessage-deflate; a request it
//! refuses is rejected with its status and reason (400, 405, 426 with
//! `Sec-WebSocket-Version: 13`). A handler moves over with its imports;
//! the messages are [`Message`]s, whose `Close` carries a [`CloseFrame`]
//! rather than an `Option` of one, and whose codes are [`CloseCode`]s.
//!
//! Before, with axum's `ws` feature (tokio-tungstenite underneath):
//!
//! ```text
//! use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
//! use axum::response::Response;
//!
//! async fn handler(ws: WebSocketUpgrade) -> Response {
//!     ws.protocols(["chat.v2", "chat.v1"])
//!         .max_message_size(64 * 1024)
//!         .on_upgrade(handle_socket)
//! }
//!
//! async fn handle_socket(mut socket: WebSocket) {
//!     while let Some(Ok(message)) = socket.recv().await {
//!         match message {
//!             Message::Text(text) => {
//!                 if socket.send(Message::Text(text)).await.is_err() {
//!                     return;
//!                 }
//!             }
//!             Message::Close(_) => return,
//!             _ => {}
//!         }
//!     }
//! }
//! ```
//!
//! After, with ws-tokio's `axum` feature:
//!
//! ```
//! use axum::response::Response;
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
//!         match message {
//!             Message::Text(text) => {
//!                 if socket.send(Message::Text(text)).await.is_err() {
//!                     return;
//!                 }
//!             }
//!             Message::Close(_) => return,
//!             _ => {}
//!         }
//!     }
//! }
//! # let app: axum::Router = axum::Router::new().route("/ws", axum::routing::any(handler));
//! ```
//!
//! Without axum, [`upgrade::upgrade`] and [`upgrade::upgrade_with`] answer a
//! hyper 1.x request in the shape of hyper-tungstenite: the 101 response to
//! return and an [`upgrade::Upgrade`] future to await in a task for the
//! [`WebSocketStream`], or a refusal as a ready-made response; serve the
//! connection with `.with_upgrades()`. The chat example (`examples/chat`)
//! serves its page, `/ws` and 404 through an axum router on hyper's
//! HTTP/1.1 server.
//!
//! # Example: an echo server and a client over loopback
//!
//! ```
//! use ws_tokio::{accept, connect, CloseCode, Message};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let server = tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut ws = accept(tcp).await?;
//!     while let Some(message) = ws.recv().await {
//!         match message? {
//!             message @ (Message::Text(_) | Message::Binary(_)) => ws.send(message).await?,
//!             _ => {} // pings are answered and closes replied to by the core
//!         }
//!     }
//!     Ok::<_, ws_tokio::Error>(())
//! });
//!
//! let (mut ws, _response) = connect(&format!("ws://{addr}/echo")).await?;
//! ws.send(Message::text("hello")).await?;
//! assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//! ws.close(CloseCode::NORMAL, "done").await?;
//! server.await??;
//! # Ok(())
//! # }
//! ```
// Without the `hyper` feature the `upgrade` module is not built: its links
// in the text above point at docs.rs instead of failing.
#![cfg_attr(
    not(feature = "hyper"),
    doc = "[`upgrade::upgrade`]: https://docs.rs/ws-tokio/latest/ws_tokio/upgrade/fn.upgrade.html",
    doc = "[`upgrade::upgrade_with`]: https://docs.rs/ws-tokio/latest/ws_tokio/upgrade/fn.upgrade_with.html",
    doc = "[`upgrade::Upgrade`]: https://docs.rs/ws-tokio/latest/ws_tokio/upgrade/struct.Upgrade.html"
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod broadcast;
mod connect;
mod driver;
mod error;
mod frames;
#[cfg(feature = "h2")]
#[cfg_attr(docsrs, doc(cfg(feature = "h2")))]
pub mod h2;
mod handshake;
mod proxy;
mod reconnect;
mod relay;
mod stream;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod upgrade;

pub use connect::{connect, connect_with, connect_with_proxy, Connector, MaybeTlsStream};
pub use error::Error;
pub use frames::Frames;
pub use handshake::{accept, accept_with, accept_with_prefix, client, read_request, Incoming};
pub use reconnect::{ReconnectEvent, ReconnectPolicy, ReconnectSender, Reconnecting};
pub use relay::{proxy, relay, Direction, RelayReport};
pub use stream::{ReadHalf, Transport, WebSocketStream, WriteHalf};
pub use ws_proto::CloseKind;

pub use ws_proto;
pub use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
pub use ws_proto::{CloseCode, CloseFrame, Config, Message, PreparedMessage, ReadyState, Role};

/// The rustls version this crate uses, for building a
/// [`Connector::Rustls`] configuration or a server-side TLS stream.
///
/// ```
/// let provider = ws_tokio::rustls::crypto::ring::default_provider();
/// # let _ = provider;
/// ```
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use tokio_rustls::rustls;

/// The tokio-rustls version this crate uses (for `TlsAcceptor` on the server side).
///
/// ```
/// # fn demo(config: std::sync::Arc<ws_tokio::rustls::ServerConfig>) {
/// let acceptor = ws_tokio::tokio_rustls::TlsAcceptor::from(config);
/// # let _ = acceptor;
/// # }
/// ```
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use tokio_rustls;
