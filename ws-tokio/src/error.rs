//! The one error type of this crate.

use core::fmt;
use core::time::Duration;
use std::io;

use ws_proto::handshake::{InvalidUrl, RequestError, ResponseError};
use ws_proto::{CloseCode, CloseFrame, ProtocolError, SendError};

/// Everything that can go wrong, sorted by who is at fault: the transport
/// ([`Io`](Self::Io), [`Tls`](Self::Tls)), the peer ([`Protocol`](Self::Protocol),
/// [`Request`](Self::Request), [`Response`](Self::Response)), the caller
/// ([`Send`](Self::Send), [`Url`](Self::Url)), time
/// ([`HandshakeTimedOut`](Self::HandshakeTimedOut)), or a decision
/// ([`Rejected`](Self::Rejected), and for the [`Reconnecting`](crate::Reconnecting)
/// client [`NotConnected`](Self::NotConnected), [`FinalClose`](Self::FinalClose),
/// [`GaveUp`](Self::GaveUp)).
///
/// ```
/// use ws_tokio::Error;
/// let err = Error::Rejected { status: 403 };
/// assert_eq!(err.status(), Some(403));
/// assert!(err.to_string().contains("403"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (connection reset, broken pipe, end of stream
    /// during the opening handshake: kind `UnexpectedEof`, with a message
    /// pointing at proxies that do not pass upgrades through).
    Io(io::Error),
    /// The peer broke the protocol; the core has already queued the close
    /// frame with the matching code (1002, 1007, 1009) and the stream ends.
    Protocol(ProtocolError),
    /// The caller asked for something the protocol forbids (sending after a
    /// close, a control payload over 125 bytes, an unsendable close code).
    Send(SendError),
    /// Server side: the client's opening request failed the checks of RFC
    /// 6455 section 4.2.1; the matching error response was written back.
    Request(RequestError),
    /// Client side: the server's answer was not a valid acceptance (for a
    /// non-101 status, [`ResponseError::Rejected`] explains the likely cause).
    Response(ResponseError),
    /// The URL is not a usable `ws://` or `wss://` URL.
    Url(InvalidUrl),
    /// TLS could not be set up (bad server name, certificate, handshake), or
    /// `wss://` was asked for without TLS support.
    Tls(Box<dyn std::error::Error + Send + Sync>),
    /// Server side: the accept callback refused the request with this status;
    /// its response was written back.
    Rejected {
        /// The HTTP status of the refusal.
        status: u16,
    },
    /// The transport is closed (shut down after the close handshake, or broken
    /// by an error reported earlier): nothing more can be sent.
    ConnectionClosed,
    /// The opening handshake did not complete within
    /// [`Config::handshake_timeout`](ws_proto::Config::handshake_timeout)
    /// (a silent or very slow peer); the transport was dropped.
    HandshakeTimedOut {
        /// The limit that passed.
        after: Duration,
    },
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
    /// The HTTP status of a refused opening handshake, on either side: the
    /// status the server answered with ([`ResponseError::Rejected`]), or the
    /// one our accept callback or the request checks chose.
    ///
    /// ```
    /// use ws_tokio::Error;
    /// use ws_tokio::ws_proto::handshake::RequestError;
    /// assert_eq!(Error::Request(RequestError::MissingKey).status(), Some(400));
    /// assert_eq!(Error::ConnectionClosed.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status } => Some(*status),
            Self::Request(err) => Some(err.status()),
            Self::Response(ResponseError::Rejected(rejection)) => Some(rejection.status),
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

    /// Whether this is [`HandshakeTimedOut`](Self::HandshakeTimedOut).
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(ws_tokio::Error::HandshakeTimedOut { after: Duration::from_secs(1) }.is_handshake_timeout());
    /// ```
    pub fn is_handshake_timeout(&self) -> bool {
        matches!(self, Self::HandshakeTimedOut { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(err) => write!(f, "I/O error: {err}"),
            Self::Protocol(err) => write!(f, "WebSocket protocol error: {err}"),
            Self::Send(err) => write!(f, "cannot send: {err}"),
            Self::Request(err) => write!(f, "refused the opening handshake: {err}"),
            Self::Response(err) => write!(f, "opening handshake failed: {err}"),
            Self::Url(err) => write!(f, "invalid WebSocket URL: {err}"),
            Self::Tls(err) => write!(f, "TLS error: {err}"),
            Self::Rejected { status } => {
                write!(
                    f,
                    "the accept callback refused the request with status {status}"
                )
            }
            Self::ConnectionClosed => f.write_str("the WebSocket connection is closed"),
            Self::HandshakeTimedOut { after } => {
                write!(f, "opening handshake timed out after {after:?}")
            }
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
            Self::Send(err) => Some(err),
            Self::Request(err) => Some(err),
            Self::Response(err) => Some(err),
            Self::Url(err) => Some(err),
            Self::Tls(err) => Some(&**err),
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

impl From<RequestError> for Error {
    fn from(err: RequestError) -> Self {
        Self::Request(err)
    }
}

impl From<ResponseError> for Error {
    fn from(err: ResponseError) -> Self {
        Self::Response(err)
    }
}

impl From<InvalidUrl> for Error {
    fn from(err: InvalidUrl) -> Self {
        Self::Url(err)
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
                HandshakeError::Refused { status } => Self::Rejected { status },
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
