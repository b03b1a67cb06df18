//! The adapter's error type: the core's errors plus I/O, URL and TLS failures.

use core::fmt;
use core::time::Duration;
use std::io;

use ws_proto::handshake::{InvalidUrl, RequestError, ResponseError};
use ws_proto::{CloseCode, ProtocolError, SendError};

/// Everything that can go wrong in this crate. A normal close is not an
/// error: [`WebSocket::read`](crate::WebSocket::read) returns it as
/// [`Message::Close`](ws_proto::Message::Close).
///
/// ```
/// use ws_blocking::Error;
/// let err = Error::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
/// assert!(matches!(err, Error::Io(ref e) if e.kind() == std::io::ErrorKind::TimedOut));
/// assert!(err.to_string().contains("I/O"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed. `WouldBlock` and `TimedOut` (a read timeout on
    /// the socket) leave the connection usable: call the method again.
    Io(io::Error),
    /// The peer broke RFC 6455. The close frame with the matching code has
    /// been sent and the transport shut down.
    Protocol(ProtocolError),
    /// The caller asked for something the protocol does not allow (for
    /// example sending after `close`). Nothing was sent.
    Send(SendError),
    /// Server side: the client's opening request failed the checks of
    /// RFC 6455 section 4.2.1. The matching HTTP error response was written.
    Request(RequestError),
    /// Client side: the server's answer was not a valid acceptance; a
    /// non-101 status is [`ResponseError::Rejected`] with the status,
    /// headers and the start of the body.
    Response(ResponseError),
    /// Server side: the `accept_with` callback answered with this non-101
    /// status, which was written to the client.
    Refused {
        /// The HTTP status sent.
        status: u16,
    },
    /// The URL given to [`connect`](crate::connect) is not a usable `ws://`
    /// or `wss://` URL.
    Url(InvalidUrl),
    /// The TLS handshake failed (bad certificate, unknown issuer, ...).
    #[cfg(feature = "rustls")]
    Tls(rustls::Error),
    /// A `wss://` URL, but this build has no TLS (the `rustls` feature is off).
    TlsUnavailable,
    /// The connection is finished: the close (or the protocol error) was
    /// already returned by `read` and the transport is shut down.
    ConnectionClosed,
    /// The opening handshake did not complete within
    /// [`Config::handshake_timeout`](ws_proto::Config::handshake_timeout)
    /// (a silent or very slow peer). The handshake cannot be resumed.
    HandshakeTimedOut {
        /// The limit that passed.
        after: Duration,
    },
    /// [`WebSocket::read`](crate::WebSocket::read) met a fragment, which
    /// only arrives with [`Config::deliver_fragments`](ws_proto::Config::deliver_fragments);
    /// use [`WebSocket::read_event`](crate::WebSocket::read_event) then.
    UnexpectedFragment,
}

impl Error {
    /// Whether this is a `WouldBlock` or `TimedOut` I/O error, after which
    /// the connection is intact and the call can be repeated.
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// assert!(ws_blocking::Error::from(std::io::Error::from(ErrorKind::WouldBlock)).is_timeout());
    /// assert!(!ws_blocking::Error::ConnectionClosed.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Io(e) if is_timeout_kind(e.kind()))
    }

    /// The close code that goes with this error when it ended the
    /// connection: a protocol error's (1002, 1007, 1009, ...). With
    /// [`CloseKind::of`](crate::CloseKind::of) it tells what kind of ending
    /// this was without looking at the text.
    ///
    /// ```
    /// use ws_blocking::{CloseCode, CloseKind, Error};
    /// use ws_blocking::ws_proto::ProtocolError;
    /// let err = Error::Protocol(ProtocolError::InvalidUtf8);
    /// assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
    /// assert_eq!(err.close_code().map(CloseKind::of), Some(CloseKind::ProtocolError));
    /// ```
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(e) => Some(e.close_code()),
            _ => None,
        }
    }
}

/// The error kinds a socket read or write timeout produces (`WouldBlock` on
/// Unix, `TimedOut` on Windows).
pub(crate) fn is_timeout_kind(kind: io::ErrorKind) -> bool {
    matches!(kind, io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::Send(e) => write!(f, "cannot send: {e}"),
            Self::Request(e) => write!(f, "bad opening request: {e}"),
            Self::Response(e) => write!(f, "opening handshake failed: {e}"),
            Self::Refused { status } => write!(f, "the handshake was refused with HTTP {status}"),
            Self::Url(e) => write!(f, "invalid URL: {e}"),
            #[cfg(feature = "rustls")]
            Self::Tls(e) => write!(f, "TLS error: {e}"),
            Self::TlsUnavailable => f.write_str(
                "wss:// needs TLS, but ws-blocking was built without the `rustls` feature",
            ),
            Self::ConnectionClosed => f.write_str("the connection is closed"),
            Self::HandshakeTimedOut { after } => {
                write!(f, "opening handshake timed out after {after:?}")
            }
            Self::UnexpectedFragment => f.write_str(
                "received a message fragment (Config::deliver_fragments is on); use read_event",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Send(e) => Some(e),
            Self::Request(e) => Some(e),
            Self::Response(e) => Some(e),
            Self::Url(e) => Some(e),
            #[cfg(feature = "rustls")]
            Self::Tls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Self::Send(e)
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Self {
        Self::Response(e)
    }
}

impl From<InvalidUrl> for Error {
    fn from(e: InvalidUrl) -> Self {
        Self::Url(e)
    }
}

#[cfg(feature = "rustls")]
impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Self::Tls(e)
    }
}

// Transitional: the core's error vocabulary mapped onto this crate's
// variants until the adapter runs the core's handshake.
impl From<ws_proto::Error> for Error {
    fn from(err: ws_proto::Error) -> Self {
        use ws_proto::handshake::HandshakeError;
        match err {
            ws_proto::Error::Protocol(err) => Self::Protocol(err),
            ws_proto::Error::Handshake(err) => match err {
                HandshakeError::Request(err) => Self::Request(err),
                HandshakeError::Response(err) => Self::Response(err),
                HandshakeError::Refused { status } => Self::Refused { status },
                HandshakeError::TimedOut { after } => Self::HandshakeTimedOut { after },
                other => Self::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    other.to_string(),
                )),
            },
            _ => Self::Io(io::Error::other(err.to_string())),
        }
    }
}
