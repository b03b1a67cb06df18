//! A blocking WebSocket (RFC 6455) client and server over `std::io::Read +
//! Write`: a thin driver around the sans-IO [`ws_proto::Connection`].
//!
//! All protocol rules (framing, masking, UTF-8, limits, answering pings, the
//! close handshake and who closes TCP first, the close timeout) live in
//! `ws-proto`; this crate moves bytes between a transport and the core and
//! maps its events to [`Message`]s.
//!
//! # Entry points
//!
//! * Client: [`connect`] (a URL, TCP and, for `wss://`, TLS with rustls),
//!   [`connect_with`] (your request, [`Config`] and TLS settings), or
//!   [`client`] over a stream you connected yourself.
//! * Server: [`accept`], or [`accept_with`] and a callback that looks at the
//!   request (path, `Origin`, subprotocols) and accepts or refuses it.
//! * Then [`WebSocket::read`], [`WebSocket::send`], [`WebSocket::close`].
//!
//! # One loop drives the core
//!
//! The opening handshake and the messages run the same loop (the one
//! `ws_proto`'s crate page describes): [`accept_with`] and [`client`] build
//! a connecting [`ws_proto::Connection`] ([`Connection::server`](ws_proto::Connection::server),
//! [`Connection::client`](ws_proto::Connection::client)) and drive it until
//! the request or the response comes out; [`WebSocket::read`] drives it
//! until the next message.
//!
//! 1. Hand out the next decoded event, after writing what it queued (a pong,
//!    a close reply, the handshake's answer).
//! 2. Write what the core has queued; once the core says the transport
//!    should close and nothing is left, shut the write side down.
//! 3. Read from the transport into the buffer the core prepares (sized by
//!    the frame in progress, recycled by the core's [`ReadBufferPool`](ws_proto::ReadBufferPool));
//!    at end of stream tell the core.
//!
//! The core's timers (the handshake timeout, the close timeout, the linger
//! that bounds the last writes to a peer that stopped reading, and, when
//! configured, keepalive pings and the idle timeout) run inside that loop:
//! each read waits at most until the next deadline, through the
//! transport's read timeout (the caller's own is restored after each read).
//!
//! # Hardening
//!
//! * The opening handshake, on both sides, must finish within
//!   [`Config::handshake_timeout`] (10 s by default), or
//!   `Error::Handshake(HandshakeError::TimedOut { .. })`: the core's timer.
//!   [`connect`] counts TCP and TLS in the same limit.
//! * After [`WebSocket::close`], or a failed handshake, writes to a peer
//!   that does not read are bounded by the core's close and linger timers
//!   (through the transport's write timeout), so a stuck peer never holds
//!   the socket longer.
//! * A refusal by the server or a proxy names the HTTP status and its
//!   likely cause ([`Error::status`] gives the status); a connection closed
//!   during the handshake says so.
//! * [`CloseKind`] tells clean closes, protocol errors, application codes
//!   and abnormal drops apart.
//!
//! # When the network fails
//!
//! What each end sees when the link under it fails, with keepalive on both
//! ends ([`Config::ping_interval`] and [`Config::idle_timeout`]; the table
//! was measured at 200 ms and 600 ms). Each row is a test in
//! `soak/tests/fault_table.rs` (crate `ws-soak`), whose `fault-proxy` does
//! the fault on loopback; the server there is a ws-blocking server, a
//! thread per connection.
//!
//! | fault | client: [`read`](WebSocket::read) returns | server: `read` returns | test |
//! |---|---|---|---|
//! | stall toward the client, past the idle timeout | [`Message::Close`] 1006 ([`CloseKind::Abnormal`]), reason `idle timeout: nothing received from the peer`, then `Err(Error::ConnectionClosed)` | the client's close 1001 `idle timeout` ([`CloseKind::Clean`]) | `blocking_stall_down_past_idle` |
//! | stall both ways, past the idle timeout | the same | its own 1006 `idle timeout: nothing received from the peer` | `blocking_stall_both_past_idle` |
//! | stall toward the server, past the idle timeout | the server's close 1001 `idle timeout`: [`CloseKind::Clean`] | 1006 `idle timeout: nothing received from the peer` | `blocking_stall_up_past_idle` |
//! | stall shorter than the idle timeout; latency and jitter; a bandwidth cap | nothing: messages come late, in order, none lost | nothing | `blocking_short_stall_latency_bandwidth` |
//! | reset (RST) | `Err(`[`Error::Io`]`(e))`, `e.kind()` `ConnectionReset`, not a close; the next `read` gives `Close` 1006 (no reason), then `Err(Error::ConnectionClosed)` | the same | `blocking_reset` |
//! | clean cut (a FIN each way, no close frame) | `Close` 1006 (no reason), then `Err(Error::ConnectionClosed)`; no error before | `Close` 1006 | `blocking_cut` |
//! | half-close toward the server, the client or both | `Close` 1006 (no reason), then `Err(Error::ConnectionClosed)`: the end that gets the FIN ends and closes its side | `Close` 1006 | `blocking_half_close` |
//!
//! * A dead link is found by the end that stops hearing from the other, the
//!   idle timeout after the last frame it heard: within ping interval plus
//!   idle timeout of the failure (each end pings after a ping interval of
//!   quiet, so a live peer is heard at least that often). The timers run
//!   inside `read`: a thread that does not read does not notice. Without an
//!   idle timeout a stalled connection waits as long as the stall lasts
//!   (or the socket's own read timeout).
//! * A reset comes as an I/O error, not as a close: treat
//!   `Err(Error::Io(_))` that is not a timeout ([`Error::is_timeout`]) as
//!   the end of the connection.
//! * The peer's idle timeout looks clean: its 1001 is
//!   [`CloseKind::Clean`], and only the reason (`idle timeout`) says that
//!   the link failed; do not take every clean close for "the peer wants us
//!   gone".
//! * What to do: after a 1006, an I/O error or an idle-timeout 1001, the
//!   connection is gone and what was sent since the peer last acknowledged
//!   it may be lost. This crate has no reconnecting client (ws-tokio's
//!   `Reconnecting` is one): connect again, with a growing delay, restore
//!   the session and send again what was not acknowledged. A server drops
//!   the connection's state.
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
//! use ws_blocking::ws_proto::handshake::proxy::{Proxy, ProxySetting};
//! use ws_blocking::{connect_with_proxy, ClientRequest, Config};
//! let proxy = Proxy::parse("socks5h://user:pass@127.0.0.1:1080")?;
//! let request = ClientRequest::from_url("wss://example.com/feed")?;
//! let (ws, _) = connect_with_proxy(request, Config::default(), None, ProxySetting::Use(proxy))?;
//! # drop(ws);
//! # Ok::<(), ws_blocking::Error>(())
//! ```
//!
//! # Features
//!
//! * `rustls` (default): `wss://` in [`connect`] with rustls (ring provider)
//!   and the `webpki-roots` certificates; [`Transport`] for rustls streams.
//!
//! # Example: an echo server and a client over loopback
//!
//! ```
//! use std::net::TcpListener;
//! use ws_blocking::{accept, connect, CloseCode, Message};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || -> Result<(), ws_blocking::Error> {
//!     let (tcp, _) = listener.accept()?;
//!     let mut ws = accept(tcp)?;
//!     loop {
//!         match ws.read()? {
//!             msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
//!             Message::Close(_) => return Ok(()), // the reply is already sent
//!             _ => {}                             // pings are answered by the core
//!         }
//!     }
//! });
//!
//! let (mut ws, _response) = connect(&format!("ws://{addr}/echo"))?;
//! ws.send(Message::text("hello"))?;
//! assert_eq!(ws.read()?, Message::text("hello"));
//! ws.close(CloseCode::NORMAL, "done")?;
//! assert!(matches!(ws.read()?, Message::Close(frame) if frame.code == CloseCode::NORMAL));
//! assert!(matches!(ws.read(), Err(ws_blocking::Error::ConnectionClosed)));
//! server.join().expect("server thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod connect;
mod driver;
mod error;
mod handshake;
mod proxy;
mod transport;
mod websocket;

// TlsConfig exists with and without `rustls` (an empty enum without it):
// no feature badge.
#[cfg_attr(docsrs, doc(auto_cfg = false))]
pub use connect::{connect, connect_with, connect_with_proxy, TlsConfig};
pub use error::Error;
pub use handshake::{accept, accept_with, client};
pub use transport::{MaybeTlsStream, Transport};
pub use websocket::WebSocket;
pub use ws_proto::CloseKind;

pub use ws_proto;
pub use ws_proto::handshake::{ClientRequest, HandshakeError, Request, Response, ServerResponse};
pub use ws_proto::{CloseCode, CloseFrame, Config, Event, Message};

/// The rustls version this crate uses, for building a [`TlsConfig`] or a
/// server-side TLS stream.
#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
pub use rustls;
