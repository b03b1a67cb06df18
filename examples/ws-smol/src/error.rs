//! The adapter's error: the transport's, or one of the core's, wrapped.

use core::fmt;
use std::io;

use ws_proto::handshake::{HandshakeError, InvalidUrl};
use ws_proto::{ProtocolError, SendError};

/// What went wrong, by who is at fault: the transport ([`Io`](Self::Io)),
/// the peer or a decision during the opening handshake
/// ([`Handshake`](Self::Handshake)), the peer after it
/// ([`Protocol`](Self::Protocol)), or the caller ([`Send`](Self::Send),
/// [`Url`](Self::Url)). The core's types are wrapped as they are.
///
/// ```
/// use ws_smol_example::ws_proto::handshake::HandshakeError;
/// let err = ws_smol_example::Error::Handshake(HandshakeError::Refused { status: 403 });
/// assert_eq!(err.status(), Some(403));
/// assert!(err.to_string().contains("403"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
    /// The peer broke the protocol after the opening handshake; the core
    /// queued the close frame with the matching code, and the adapter
    /// wrote it.
    Protocol(ProtocolError),
    /// The opening handshake failed: a bad request (answered with its error
    /// status), a refusal (ours, written back, or the server's), a bad
    /// answer, the handshake timeout, or the peer closing during it.
    Handshake(HandshakeError),
    /// The caller asked for something the protocol forbids (sending after
    /// a close, a control payload over 125 bytes).
    Send(SendError),
    /// Not a usable `ws://` URL.
    Url(InvalidUrl),
    /// The connection had ended before the call could do anything.
    ConnectionClosed,
}

impl Error {
    /// The HTTP status of a refused handshake, on either side (see
    /// [`HandshakeError::status`]); `None` for any other error.
    ///
    /// ```
    /// use ws_smol_example::ws_proto::handshake::{HandshakeError, RequestError};
    /// use ws_smol_example::Error;
    /// assert_eq!(Error::Handshake(HandshakeError::Request(RequestError::MissingKey)).status(), Some(400));
    /// assert_eq!(Error::ConnectionClosed.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Handshake(err) => err.status(),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(err) => write!(f, "the transport failed: {err}"),
            Self::Protocol(err) => write!(f, "the peer broke the WebSocket protocol: {err}"),
            Self::Handshake(err) => fmt::Display::fmt(err, f),
            Self::Send(err) => write!(f, "cannot send: {err}"),
            Self::Url(err) => write!(f, "not a usable WebSocket URL: {err}"),
            Self::ConnectionClosed => f.write_str("the connection has already ended"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(err) => Some(err),
            Self::Protocol(err) => Some(err),
            Self::Handshake(err) => Some(err),
            Self::Send(err) => Some(err),
            Self::Url(err) => Some(err),
            Self::ConnectionClosed => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Self::Io(err)
    }
}

impl From<ProtocolError> for Error {
    fn from(err: ProtocolError) -> Self {
        Self::Protocol(err)
    }
}

impl From<HandshakeError> for Error {
    fn from(err: HandshakeError) -> Self {
        Self::Handshake(err)
    }
}

impl From<SendError> for Error {
    fn from(err: SendError) -> Self {
        Self::Send(err)
    }
}

impl From<InvalidUrl> for Error {
    fn from(err: InvalidUrl) -> Self {
        Self::Url(err)
    }
}

/// What [`Connection::poll_event`](ws_proto::Connection::poll_event) fails with.
impl From<ws_proto::Error> for Error {
    fn from(err: ws_proto::Error) -> Self {
        match err {
            ws_proto::Error::Protocol(err) => Self::Protocol(err),
            ws_proto::Error::Handshake(err) => Self::Handshake(err),
            // The core's error is non-exhaustive: a kind added later still
            // reaches the caller, in its own words.
            other => Self::Io(io::Error::other(other)),
        }
    }
}
