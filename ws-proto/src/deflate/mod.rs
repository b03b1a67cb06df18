//! permessage-deflate (RFC 7692): negotiation and the per-message codec,
//! built on the [`Extension`](crate::Extension) and
//! [`NegotiateExtension`](crate::NegotiateExtension) traits like any
//! other extension.
//!
//! Negotiation happens during the opening handshake
//! ([`Request::accept_extensions`](crate::handshake::Request::accept_extensions) on the
//! server, [`ClientRequest::offer_extensions`](crate::handshake::ClientRequest::offer_extensions)
//! and [`Response::negotiated`](crate::handshake::Response::negotiated)
//! on the client); [`DeflateConfig`] is the handshake half, and the result
//! goes into [`Extensions`](crate::Extensions) and from there into
//! [`Connection::with_extensions`](crate::Connection::with_extensions).
//!
//! # Memory
//!
//! The compressor and decompressor are created on first use. With the default
//! window (15 bits) and zlib's default memory level the compressor holds about
//! 256 KiB and the decompressor about 40 KiB per connection. Where the side
//! that compresses does not take context over from one message to the next
//! (`*_no_context_takeover`), its state is dropped after every message, so an
//! idle connection holds none; a smaller window shrinks the compressor
//! (`2^(bits+2)` bytes plus 128 KiB).

mod codec;
mod extension;
mod negotiate;

pub(crate) use codec::{Compressor, Decompressor};
pub(crate) use extension::PerMessageDeflate;
pub use negotiate::{DeflateConfig, DeflateParams};
