//! The one error type of this crate.

use core::fmt;
use std::io;

use ws_proto::handshake::proxy::ProxyError;
use ws_proto::handshake::{HandshakeError, InvalidUrl};
use ws_proto::{CloseCode, CloseFrame, ProtocolError, SendError};

/// Everything that can go wrong, sorted by who is at fault: the transport
/// ([`Io`](Self::Io), [`Tls`](Self::Tls)), the peer or the opening handshake
/// ([`Protocol`](Self::Protocol), [`Handshake`](Self::Handshake): the core's
/// own error types, wrapped as they are), the caller ([`Send`](Self::Send),
/// [`Url`](Self::Url)), or, for the [`Reconnecting`](crate::Reconnecting)
/// client, its policy ([`NotConnected`](Self::NotConnected),
/// [`FinalClose`](Self::FinalClose), [`GaveUp`](Self::GaveUp)).
///
/// ```
/// use ws_tokio::ws_proto::handshake::HandshakeError;
/// use ws_tokio::Error;
/// let err = Error::Handshake(HandshakeError::Refused { status: 403 });
/// assert_eq!(err.status(), Some(403));
/// assert!(err.to_string().contains("refused with status 403"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (connection reset, broken pipe).
    Io(io::Error),
    /// The peer broke the protocol; the core has already queued the close
    /// frame with the matching code (1002, 1007, 1009) and the stream ends.
    Protocol(ProtocolError),
    /// The opening handshake failed: the client's request was bad
    /// ([`HandshakeError::Request`], answered with the matching HTTP
    /// error), the server's answer was not an acceptance
    /// ([`HandshakeError::Response`]; a refusal carries the status, headers,
    /// the start of the body and the likely cause), the accept callback
    /// refused ([`HandshakeError::Refused`], the refusal was written), it
    /// did not finish within
    /// [`Config::handshake_timeout`](ws_proto::Config::handshake_timeout)
    /// ([`HandshakeError::TimedOut`]), or the peer closed the transport
    /// first ([`HandshakeError::PeerClosed`], which for a client points at
    /// proxies that do not pass upgrades through). What was owed to the
    /// peer has been written and the transport shut down.
    Handshake(HandshakeError),
    /// The caller asked for something the protocol forbids (sending after a
    /// close, a control payload over 125 bytes, an unsendable close code).
    Send(SendError),
    /// The URL is not a usable `ws://` or `wss://` URL.
    Url(InvalidUrl),
    /// TLS could not be set up (bad server name, certificate, handshake), or
    /// `wss://` was asked for without TLS support.
    Tls(Box<dyn std::error::Error + Send + Sync>),
    /// The proxy did not open the tunnel (407, 403, 502 or another status,
    /// a SOCKS5 reply code or authentication failure, a proxy that closed
    /// early or answered garbage), or its URL is unusable: the core's
    /// [`ProxyError`], in words.
    ///
    /// ```
    /// use ws_tokio::ws_proto::handshake::proxy::ProxyError;
    /// let err = ws_tokio::Error::Proxy(ProxyError::SocksReply { code: 5 });
    /// assert!(err.to_string().contains("connection refused by the destination"));
    /// ```
    Proxy(ProxyError),
    /// The transport is closed (shut down after the close handshake, or broken
    /// by an error reported earlier): nothing more can be sent.
    ConnectionClosed,
    /// [`Reconnecting`](crate::Reconnecting): the message was not sent
    /// because no connection is open right now (it is being re-established).
    /// Nothing is queued: send it again after
    /// [`ReconnectEvent::Reconnected`](crate::ReconnectEvent::Reconnected).
    NotConnected,
    /// [`Reconnecting`](crate::Reconnecting): the server closed with a code
    /// after which the policy never reconnects (1008, or one marked with
    /// [`ReconnectPolicy::final_code`](crate::ReconnectPolicy::final_code)).
    FinalClose(CloseFrame),
    /// [`Reconnecting`](crate::Reconnecting): every attempt the policy
    /// allows ([`ReconnectPolicy::max_attempts`](crate::ReconnectPolicy::max_attempts))
    /// failed.
    GaveUp {
        /// How many attempts were made since the connection was lost.
        attempts: u32,
        /// Why the last one failed.
        last: Box<Self>,
    },
}

impl Error {
    /// The HTTP status of a refused opening handshake, on either side (see
    /// [`HandshakeError::status`]): the status the server answered with, or
    /// the one our accept callback or the request checks chose.
    ///
    /// ```
    /// use ws_tokio::ws_proto::handshake::{HandshakeError, RequestError};
    /// use ws_tokio::Error;
    /// let bad = Error::Handshake(HandshakeError::Request(RequestError::MissingKey));
    /// assert_eq!(bad.status(), Some(400));
    /// assert_eq!(Error::ConnectionClosed.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Handshake(err) => err.status(),
            _ => None,
        }
    }

    /// The close code that goes with this error, when it ended a connection:
    /// a protocol error's code (1002, 1007, 1009, ...), the final code of
    /// [`FinalClose`](Self::FinalClose). With [`CloseKind::of`](crate::CloseKind::of)
    /// it tells what kind of ending this was without looking at the text.
    ///
    /// ```
    /// use ws_tokio::{CloseCode, CloseKind, Error};
    /// use ws_tokio::ws_proto::ProtocolError;
    /// let err = Error::Protocol(ProtocolError::InvalidUtf8);
    /// assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
    /// assert_eq!(err.close_code().map(CloseKind::of), Some(CloseKind::ProtocolError));
    /// assert_eq!(Error::ConnectionClosed.close_code(), None);
    /// ```
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(err) => Some(err.close_code()),
            Self::FinalClose(frame) => Some(frame.code),
            _ => None,
        }
    }

    /// Whether the opening handshake did not finish in time
    /// ([`HandshakeError::TimedOut`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ws_tokio::ws_proto::handshake::HandshakeError;
    /// let err = ws_tokio::Error::Handshake(HandshakeError::TimedOut { after: Duration::from_secs(1) });
    /// assert!(err.is_handshake_timeout());
    /// ```
    pub fn is_handshake_timeout(&self) -> bool {
        matches!(self, Self::Handshake(HandshakeError::TimedOut { .. }))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(err) => write!(f, "I/O error: {err}"),
            Self::Protocol(err) => write!(f, "WebSocket protocol error: {err}"),
            // The core's words already say "opening handshake ...".
            Self::Handshake(err) => fmt::Display::fmt(err, f),
            Self::Send(err) => write!(f, "cannot send: {err}"),
            Self::Url(err) => write!(f, "invalid WebSocket URL: {err}"),
            Self::Tls(err) => write!(f, "TLS error: {err}"),
            Self::Proxy(err) => write!(f, "proxy error: {err}"),
            Self::ConnectionClosed => f.write_str("the WebSocket connection is closed"),
            Self::NotConnected => f.write_str(
                "not connected (reconnecting); the message was not sent, send it again once reconnected",
            ),
            Self::FinalClose(frame) => {
                write!(f, "the server closed with {}", frame.code)?;
                if !frame.reason.is_empty() {
                    write!(f, " {:?}", frame.reason.as_str())?;
                }
                f.write_str(", which the reconnect policy treats as final: not reconnecting")
            }
            Self::GaveUp { attempts, last } => {
                write!(f, "gave up reconnecting after {attempts} attempts; the last failed with: {last}")
            }
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
            Self::Tls(err) => Some(&**err),
            Self::Proxy(err) => Some(err),
            Self::GaveUp { last, .. } => Some(&**last),
            _ => None,
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

impl From<SendError> for Error {
    fn from(err: SendError) -> Self {
        Self::Send(err)
    }
}

impl From<HandshakeError> for Error {
    fn from(err: HandshakeError) -> Self {
        Self::Handshake(err)
    }
}

impl From<ProxyError> for Error {
    fn from(err: ProxyError) -> Self {
        Self::Proxy(err)
    }
}

impl From<ws_proto::handshake::proxy::InvalidProxy> for Error {
    fn from(error: ws_proto::handshake::proxy::InvalidProxy) -> Self {
        Self::Proxy(ProxyError::Url { var: None, error })
    }
}

impl From<InvalidUrl> for Error {
    fn from(err: InvalidUrl) -> Self {
        Self::Url(err)
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
            // still reported, in its own words.
            other => Self::Io(io::Error::other(other)),
        }
    }
}
