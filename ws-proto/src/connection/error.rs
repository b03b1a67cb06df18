//! Why a connection failed: the top of the error vocabulary, above both
//! the handshake's errors and the protocol's.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use crate::handshake::HandshakeError;
use crate::{CloseCode, ProtocolError};

/// Why a connection failed, as [`Connection::poll_event`](crate::Connection::poll_event)
/// reports it. Errors are sticky: every later call returns the same one.
/// What is owed to the peer (a close frame with the error's code, an HTTP
/// error response) is already queued, and
/// [`should_close_transport`](crate::Connection::should_close_transport) is true.
///
/// ```
/// use ws_proto::{CloseCode, Error, ProtocolError};
/// let err = Error::from(ProtocolError::InvalidUtf8);
/// assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
/// assert!(err.to_string().contains("UTF-8"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke RFC 6455 after the opening handshake.
    Protocol(ProtocolError),
    /// The opening handshake failed.
    Handshake(HandshakeError),
}

impl Error {
    /// The close code the peer was sent, for a protocol error; `None` for a
    /// handshake failure (the peer got an HTTP status, or nothing).
    ///
    /// ```
    /// use ws_proto::{handshake::HandshakeError, Error};
    /// let err = Error::Handshake(HandshakeError::Refused { status: 403 });
    /// assert_eq!(err.close_code(), None);
    /// ```
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(err) => Some(err.close_code()),
            Self::Handshake(_) => None,
        }
    }

    /// The HTTP status of a refused handshake (see [`HandshakeError::status`]).
    ///
    /// ```
    /// use ws_proto::{handshake::HandshakeError, Error};
    /// assert_eq!(Error::Handshake(HandshakeError::Refused { status: 401 }).status(), Some(401));
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Protocol(_) => None,
            Self::Handshake(err) => err.status(),
        }
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(err) => fmt::Display::fmt(err, f),
            Self::Handshake(err) => fmt::Display::fmt(err, f),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Protocol(err) => Some(err),
            Self::Handshake(err) => Some(err),
        }
    }
}
