//! The adapter's error: the transport's, or one of the core's.

use core::fmt;
use std::io;
use std::time::Duration;

use ws_proto::handshake::{InvalidUrl, RequestError, ResponseError};
use ws_proto::{ProtocolError, SendError};

/// What went wrong, by who is at fault: the transport ([`Io`](Self::Io)),
/// the peer ([`Protocol`](Self::Protocol), [`Request`](Self::Request),
/// [`Response`](Self::Response)), the caller ([`Send`](Self::Send),
/// [`Url`](Self::Url)), time ([`HandshakeTimedOut`](Self::HandshakeTimedOut))
/// or a decision ([`Rejected`](Self::Rejected)).
///
/// ```
/// let err = ws_smol_example::Error::Rejected { status: 403 };
/// assert!(err.to_string().contains("403"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed, or ended during the opening handshake.
    Io(io::Error),
    /// The peer broke the protocol; the core has queued the close frame
    /// with the matching code, and the adapter wrote it.
    Protocol(ProtocolError),
    /// The caller asked for something the protocol forbids (sending after
    /// a close, a control payload over 125 bytes).
    Send(SendError),
    /// Server side: the opening request failed the checks; the matching
    /// error response was written back.
    Request(RequestError),
    /// Client side: the server's answer was not a valid acceptance.
    Response(ResponseError),
    /// Not a usable `ws://` URL.
    Url(InvalidUrl),
    /// Server side: the accept callback refused the request with this
    /// status; its response was written back.
    Rejected {
        /// The HTTP status of the refusal.
        status: u16,
    },
    /// The opening handshake did not finish within
    /// [`Config::handshake_timeout`](ws_proto::Config::handshake_timeout).
    HandshakeTimedOut {
        /// The limit that passed.
        after: Duration,
    },
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
            Self::Rejected { status } => write!(f, "refused the request with status {status}"),
            Self::HandshakeTimedOut { after } => {
                write!(f, "opening handshake timed out after {after:?}")
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
