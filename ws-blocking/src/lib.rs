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
//! # How `read` drives the core
//!
//! 1. Hand out the next decoded event, after writing what it queued (a pong,
//!    a close reply).
//! 2. Write what the core has queued; once the core says the transport
//!    should close and nothing is left, shut the write side down.
//! 3. Read from the transport into the core's buffer (sized by the core's
//!    hint for large frames); at end of stream tell the core. While the
//!    core's close timer runs, the read is bounded by it.
//!
//! The core's timers (the close timeout, the linger that bounds the last
//! writes to a peer that stopped reading, and, when configured, keepalive
//! pings and the idle timeout) run inside `read`: each read waits at most
//! until the next deadline, through the transport's read timeout.
//!
//! # Hardening
//!
//! * The opening handshake, on both sides, must finish within
//!   [`Config::handshake_timeout`] (10 s by default), or
//!   [`Error::HandshakeTimedOut`]; the transport's read timeout enforces it
//!   and the caller's own timeout is restored afterwards.
//! * After [`WebSocket::close`], writes to a peer that does not read are
//!   bounded by the close timeout too (through the transport's write
//!   timeout), so a stuck peer never holds the socket longer.
//! * A refusal by the server or a proxy names the HTTP status and its
//!   likely cause; a connection closed during the handshake says so.
//! * [`CloseKind`] tells clean closes, protocol errors, application codes
//!   and abnormal drops apart.
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

mod connect;
mod error;
mod handshake;
mod transport;
mod websocket;

pub use connect::{connect, connect_with, TlsConfig};
pub use error::Error;
pub use handshake::{accept, accept_with, client};
pub use transport::{MaybeTlsStream, Transport};
pub use websocket::WebSocket;
pub use ws_proto::CloseKind;

pub use ws_proto;
pub use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
pub use ws_proto::{CloseCode, CloseFrame, Config, Event, Message};

/// The rustls version this crate uses, for building a [`TlsConfig`] or a
/// server-side TLS stream.
#[cfg(feature = "rustls")]
pub use rustls;
