//! The opening handshake (RFC 6455 section 4).
//!
//! * Client: build a [`ClientRequest`] (from a `ws://` or `wss://` URL), turn
//!   it into request bytes and a [`ClientHandshake`], write the bytes, and feed
//!   what comes back to [`ClientHandshake::parse_response`] until it returns a
//!   [`Response`]. Bytes after the response belong to the connection.
//! * Server: feed bytes to [`Request::parse`] until it returns a [`Request`];
//!   look at it, then write [`Request::accept`] (or a rejection) back. Bytes
//!   after the request belong to the connection.
//!
//! ```
//! use ws_proto::handshake::{ClientRequest, Request};
//! use ws_proto::Randomness;
//!
//! let (request_bytes, client) = ClientRequest::from_url("ws://example.com/chat?room=1")
//!     .unwrap()
//!     .protocol("chat")
//!     .into_handshake(&mut Randomness::os());
//!
//! let (request, used) = Request::parse(&request_bytes).unwrap().unwrap();
//! assert_eq!(used, request_bytes.len());
//! assert_eq!(request.path(), "/chat");
//! assert_eq!(request.query(), Some("room=1"));
//! let response = request.accept_with_protocol("chat").unwrap().to_bytes();
//!
//! let (accepted, _) = client.parse_response(&response).unwrap().unwrap();
//! assert_eq!(accepted.protocol(), Some("chat"));
//! ```

mod accept;
mod answer;
mod client;
mod config;
mod error;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod h2;
mod headers;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
mod http_interop;
pub mod proxy;
mod relay;
mod server;
mod url;

pub use accept::accept_key;
pub use answer::ServerResponse;
pub use client::{ClientHandshake, ClientRequest, Response};
pub use config::HandshakeConfig;
pub use error::{HandshakeError, Rejection, RequestError, ResponseError};
pub use headers::Header;
pub use relay::{Leg, Relay};
pub(crate) use server::answer_extensions;
pub use server::{Limits, Request};
pub use url::InvalidUrl;
