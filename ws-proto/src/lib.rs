//! A sans-IO WebSocket core (RFC 6455): bytes in, events out; messages in,
//! bytes out; time passed in. No sockets, no runtime, no clock, no threads,
//! so it runs under tokio, a blocking thread, an embedded executor or a proxy
//! alike.
//!
//! # Layers
//!
//! Each imports only from the layers below it.
//!
//! 1. The vocabulary: [`Role`], [`CloseCode`], [`Message`], [`Instant`], errors.
//! 2. [`frame`] (the header codec and masking, for proxies and fuzzers), the
//!    decoder, UTF-8 validation, and `deflate` (feature `deflate`, on by
//!    default: permessage-deflate, RFC 7692).
//! 3. [`handshake`]: the opening handshake's messages and checks for both
//!    roles (section 4), with its own settings ([`handshake::HandshakeConfig`]).
//! 4. [`Connection`]: the whole protocol as one machine, from the opening
//!    handshake ([`ReadyState::Connecting`]) through frames, masking,
//!    fragmentation, UTF-8, limits, control frames and the close handshake.
//!
//! # The driver loop
//!
//! An adapter for any runtime runs one loop, for the handshake and the
//! messages alike:
//!
//! 1. Build the connection: [`Connection::server`], [`Connection::client`]
//!    (the request is queued at once), or [`Connection::new`] for a
//!    transport upgraded elsewhere.
//! 2. Write what [`Connection::poll_transmit`] returns (or
//!    [`Connection::transmit_slices`] + [`Connection::advance_transmit`];
//!    a completion-based driver, whose write finishes later, borrows owned
//!    chunks with [`Connection::lend_transmit_chunks`] instead).
//! 3. Read from the transport into [`Connection::prepare_receive_buffer`]
//!    (or hand bytes to [`Connection::receive`]); when a read finds nothing,
//!    [`Connection::release_receive_buffer`]; on end of stream
//!    [`Connection::receive_eof`].
//! 4. Drain [`Connection::poll_event`] until `Ok(None)`: the handshake's
//!    [`Event::Request`] (answer with [`Connection::respond`]) or
//!    [`Event::Response`], messages, pings (already answered), and finally
//!    [`Event::Close`] or an [`Error`]. With [`Config::deliver_frames`]
//!    the data comes as [`Event::Frame`]s instead, frame by frame as the
//!    peer sent them (for proxies; [`Connection::send_frame`] sends them on).
//! 5. Sleep until [`Connection::poll_timeout`]; when woken call
//!    [`Connection::handle_timeout`].
//! 6. When [`Connection::should_close_transport`] is true and nothing is
//!    left to write, close the transport.
//!
//! # Example: a client and a server in memory
//!
//! ```
//! use ws_proto::handshake::ClientRequest;
//! use ws_proto::{CloseCode, Config, Connection, Event, ReadyState};
//!
//! let request = ClientRequest::from_url("ws://localhost/echo").unwrap();
//! let mut client = Connection::client(request, Config::default());
//! let mut server = Connection::server(Config::default());
//!
//! // Moves everything one side has queued to the other side.
//! fn pump(from: &mut Connection, to: &mut Connection) {
//!     while let Some(bytes) = from.poll_transmit() {
//!         to.receive(&bytes);
//!     }
//! }
//!
//! // Opening handshake: the server sees the request and accepts it, the
//! // client sees the response.
//! pump(&mut client, &mut server);
//! let Ok(Some(Event::Request(request))) = server.poll_event() else { panic!() };
//! assert_eq!(request.path(), "/echo");
//! server.respond(request.accept()).unwrap();
//! pump(&mut server, &mut client);
//! assert!(matches!(client.poll_event(), Ok(Some(Event::Response(_)))));
//! assert_eq!(client.ready_state(), ReadyState::Open);
//!
//! // A message each way.
//! client.send_text("hello").unwrap();
//! pump(&mut client, &mut server);
//! assert_eq!(server.poll_event(), Ok(Some(Event::Text("hello".into()))));
//! server.send_binary(vec![1, 2, 3]).unwrap();
//! pump(&mut server, &mut client);
//! assert_eq!(client.poll_event(), Ok(Some(Event::Binary(vec![1, 2, 3].into()))));
//!
//! // A ping is answered without the application's help.
//! client.send_ping(&b"tick"[..]).unwrap();
//! pump(&mut client, &mut server);
//! assert_eq!(server.poll_event(), Ok(Some(Event::Ping((&b"tick"[..]).into()))));
//! pump(&mut server, &mut client);
//! assert_eq!(client.poll_event(), Ok(Some(Event::Pong((&b"tick"[..]).into()))));
//!
//! // The close handshake: the client starts it, the server answers.
//! client.close(CloseCode::NORMAL, "bye").unwrap();
//! pump(&mut client, &mut server);
//! match server.poll_event() {
//!     Ok(Some(Event::Close(frame))) => assert_eq!((frame.code, frame.reason.as_str()), (CloseCode::NORMAL, "bye")),
//!     other => panic!("{other:?}"),
//! }
//! assert!(server.should_close_transport()); // the server closes TCP first
//! pump(&mut server, &mut client);
//! assert!(matches!(client.poll_event(), Ok(Some(Event::Close(_)))));
//! assert_eq!(client.ready_state(), ReadyState::Closed);
//! client.receive_eof(); // the server closed TCP
//! assert!(client.should_close_transport());
//! ```

#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_op_in_unsafe_fn)]

extern crate alloc;

/// How to write an adapter for another runtime, step by step (the crate's
/// GUIDE.md). Its code blocks are doc tests: a small blocking adapter over
/// `std::net::TcpStream` runs a real echo and a close. The `examples/ws-smol`
/// adapter in the repository is the same design on an async runtime.
#[doc = include_str!("../GUIDE.md")]
pub mod guide {}

mod connection;
mod decode;
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub mod deflate;
mod error;
pub mod extensions;
pub mod frame;
pub mod handshake;
mod message;
mod prelude;
mod rng;
mod role;
mod time;
mod utf8;

pub use connection::{
    Config, Connection, Delivery, DeliveryCounts, Error, Event, EventRef, FragmentRef,
    PreparedMessage, QueueLimit, ReadBufferPool, ReadyState, SendOptions, WhenFull,
    GOING_AWAY_REASON, SLOW_MEMBER_REASON,
};
#[cfg(feature = "deflate")]
#[cfg_attr(docsrs, doc(cfg(feature = "deflate")))]
pub use deflate::{DeflateConfig, DeflateParams};
pub use error::{ProtocolError, SendError};
pub use extensions::{rsv_allowed, Extension, Extensions, NegotiateExtension, RSV1, RSV2, RSV3};
pub use frame::{CloseCode, CloseFrame, CloseKind, Frame, FrameRef};
pub use message::{Fragment, Message, MessageKind, Utf8Bytes};
pub use rng::Randomness;
pub use role::Role;
pub use time::Instant;
pub use utf8::{InvalidUtf8, Utf8Validator};
