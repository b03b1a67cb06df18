//! The adapter's error type: the core's errors, wrapped, plus the failures
//! of the I/O side (the transport, the URL, TLS).

use core::fmt;
use std::io;

use ws_proto::handshake::proxy::{InvalidProxy, ProxyError};
use ws_proto::handshake::{HandshakeError, InvalidUrl};
use ws_proto::{CloseCode, ProtocolError, SendError};

/// Everything that can go wrong in this crate. A normal close is not an
/// error: [`WebSocket::read`](crate::WebSocket::read) returns it as
/// [`Message::Close`](ws_proto::Message::Close).
///
/// The protocol's errors are the core's own types: [`Error::Protocol`]
/// after the opening handshake, [`Error::Handshake`] during it (a refusal
/// on either side, a bad request or response, the handshake timeout, the
/// peer closing early), [`Error::Send`] for a command the protocol does not
/// allow. The rest are this crate's: the transport, the URL, TLS, and the
/// end of the connection.
///
/// ```
/// use ws_blocking::Error;
/// use ws_blocking::ws_proto::handshake::HandshakeError;
/// let err = Error::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
/// assert!(err.is_timeout());
/// let refused = Error::Handshake(HandshakeError::Refused { status: 403 });
/// assert_eq!(refused.status(), Some(403));
/// assert!(refused.to_string().contains("refused with status 403"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed. `WouldBlock` and `TimedOut` (a read timeout on
    /// the socket) leave an open connection usable: call the method again.
    Io(io::Error),
    /// The peer broke RFC 6455. The close frame with the matching code has
    /// been sent and the transport shut down.
    Protocol(ProtocolError),
    /// The opening handshake failed: the client's request was bad
    /// ([`HandshakeError::Request`], answered with the matching HTTP error),
    /// the server's answer was not an acceptance
    /// ([`HandshakeError::Response`]; a refusal carries the status, headers,
    /// start of the body and likely cause), the `accept_with` callback
    /// refused ([`HandshakeError::Refused`], the refusal was sent), it did
    /// not finish within [`Config::handshake_timeout`](ws_proto::Config::handshake_timeout)
    /// ([`HandshakeError::TimedOut`]), or the peer closed the transport
    /// first ([`HandshakeError::PeerClosed`]). What was owed to the peer has
    /// been written and the transport shut down; [`status`](Self::status)
    /// gives the HTTP status of a refusal.
    Handshake(HandshakeError),
    /// The caller asked for something the protocol does not allow (for
    /// example sending after `close`). Nothing was sent.
    Send(SendError),
    /// The URL given to [`connect`](crate::connect) is not a usable `ws://`
    /// or `wss://` URL.
    Url(InvalidUrl),
    /// The TLS handshake failed (bad certificate, unknown issuer, ...).
    #[cfg(feature = "rustls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
    Tls(rustls::Error),
    /// A `wss://` URL, but this build has no TLS (the `rustls` feature is off).
    TlsUnavailable,
    /// The proxy did not open the tunnel (407, 403, 502 or another status,
    /// a SOCKS5 reply code or authentication failure, a proxy that closed
    /// early or answered garbage), or its URL is unusable: the core's
    /// [`ProxyError`], in words.
    ///
    /// ```
    /// use ws_blocking::ws_proto::handshake::proxy::ProxyError;
    /// let err = ws_blocking::Error::Proxy(ProxyError::AuthRequired { status: 407, sent_credentials: true });
    /// assert!(err.to_string().contains("rejected the credentials"));
    /// ```
    Proxy(ProxyError),
    /// The connection is finished: the close (or the error that ended it)
    /// was already returned by `read` and the transport is shut down.
    ConnectionClosed,
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

    /// The HTTP status of a refused opening handshake, on either side (see
    /// [`HandshakeError::status`]): the status the server answered with,
    /// the one the `accept_with` callback refused with, or the one a bad
    /// request was answered with.
    ///
    /// ```
    /// use ws_blocking::Error;
    /// use ws_blocking::ws_proto::handshake::{HandshakeError, RequestError};
    /// let bad = Error::Handshake(HandshakeError::Request(RequestError::MissingKey));
    /// assert_eq!(bad.status(), Some(400));
    /// assert_eq!(Error::ConnectionClosed.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Handshake(e) => e.status(),
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
            Self::Protocol(e) => write!(f, "the peer broke the protocol: {e}"),
            // The core's text already starts with "opening handshake ...".
            Self::Handshake(e) => fmt::Display::fmt(e, f),
            Self::Send(e) => write!(f, "cannot send: {e}"),
            Self::Url(e) => write!(f, "invalid URL: {e}"),
            #[cfg(feature = "rustls")]
            Self::Tls(e) => write!(f, "TLS error: {e}"),
            Self::TlsUnavailable => f.write_str(
                "wss:// needs TLS, but ws-blocking was built without the `rustls` feature",
            ),
            Self::Proxy(e) => write!(f, "proxy error: {e}"),
            Self::ConnectionClosed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::Send(e) => Some(e),
            Self::Url(e) => Some(e),
            #[cfg(feature = "rustls")]
            Self::Tls(e) => Some(e),
            Self::Proxy(e) => Some(e),
            Self::TlsUnavailable | Self::ConnectionClosed => None,
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

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Self::Handshake(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Self::Send(e)
    }
}

impl From<ProxyError> for Error {
    fn from(e: ProxyError) -> Self {
        Self::Proxy(e)
    }
}

impl From<InvalidProxy> for Error {
    fn from(error: InvalidProxy) -> Self {
        Self::Proxy(ProxyError::Url { var: None, error })
    }
}

impl From<InvalidUrl> for Error {
    fn from(e: InvalidUrl) -> Self {
        Self::Url(e)
    }
}

#[cfg(feature = "rustls")]
#[cfg_attr(docsrs, doc(cfg(feature = "rustls")))]
impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Self::Tls(e)
    }
}

/// What the core's [`Connection::poll_event`](ws_proto::Connection::poll_event)
/// reports, wrapped as it is.
impl From<ws_proto::Error> for Error {
    fn from(err: ws_proto::Error) -> Self {
        match err {
            ws_proto::Error::Protocol(err) => Self::Protocol(err),
            ws_proto::Error::Handshake(err) => Self::Handshake(err),
            // The core's error is non-exhaustive: a kind added later is
            // still reported, with its own words.
            other => Self::Io(io::Error::other(other)),
        }
    }
}
