//! The one error type of this crate: the core's errors wrapped as they are,
//! plus what is ours (the transport, io_uring itself, the URL).

use core::fmt;
use std::io;

use ws_proto::handshake::{HandshakeError, InvalidUrl};
use ws_proto::{CloseCode, ProtocolError, SendError};

/// Everything that can go wrong, sorted by who is at fault: the machine
/// ([`Unavailable`](Self::Unavailable): the kernel refuses io_uring), the
/// transport ([`Io`](Self::Io)), the peer or the opening handshake
/// ([`Protocol`](Self::Protocol), [`Handshake`](Self::Handshake): the
/// core's own types), or the caller ([`Send`](Self::Send),
/// [`Url`](Self::Url), [`UnknownConnection`](Self::UnknownConnection)).
/// A normal close is not an error: it is the last message.
///
/// ```
/// use ws_uring::ws_proto::handshake::HandshakeError;
/// use ws_uring::Error;
/// let err = Error::Handshake(HandshakeError::Refused { status: 403 });
/// assert_eq!(err.status(), Some(403));
/// assert!(err.to_string().contains("403"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// This machine cannot run the io_uring driver: the kernel is too old,
    /// io_uring is disabled (`kernel.io_uring_disabled`), or a seccomp
    /// filter (containers) refuses its system calls. The text says which,
    /// and what to do.
    Unavailable(Unavailable),
    /// The transport failed (connection reset, broken pipe, a failed
    /// `io_uring_enter`).
    Io(io::Error),
    /// The peer broke the protocol; the core has queued the close frame with
    /// the matching code (1002, 1007, 1009) and the connection ends.
    Protocol(ProtocolError),
    /// The opening handshake failed: a bad request (answered with the
    /// matching HTTP error), a refusal on either side (the status is in
    /// [`status`](Self::status)), a bad answer, the handshake timeout, or
    /// the peer closing first. What was owed to the peer is written and the
    /// transport closed.
    Handshake(HandshakeError),
    /// The caller asked for something the protocol forbids (sending after a
    /// close, a control payload over 125 bytes). Nothing was queued.
    Send(SendError),
    /// The URL is not a usable `ws://` URL (or is `wss://`: this crate has
    /// no TLS yet).
    Url(InvalidUrl),
    /// `wss://` was asked for: this crate has no TLS.
    TlsUnavailable,
    /// The [`ConnId`](crate::ConnId) names no open connection of this
    /// runtime (it has finished, or came from another runtime).
    UnknownConnection,
    /// The connection is finished: its last message was handed out and the
    /// transport is closed.
    ConnectionClosed,
    /// A wait given to a blocking call ([`WebSocket::recv_timeout`](crate::WebSocket::recv_timeout),
    /// [`WebSocket::send_timeout`](crate::WebSocket::send_timeout)) passed
    /// first. Nothing is lost: call again.
    TimedOut,
}

impl Error {
    /// The HTTP status of a refused opening handshake, either side.
    ///
    /// ```
    /// use ws_uring::ws_proto::handshake::{HandshakeError, RequestError};
    /// let bad = ws_uring::Error::Handshake(HandshakeError::Request(RequestError::MissingKey));
    /// assert_eq!(bad.status(), Some(400));
    /// assert_eq!(ws_uring::Error::ConnectionClosed.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Handshake(e) => e.status(),
            _ => None,
        }
    }

    /// The close code a protocol error ended the connection with.
    ///
    /// ```
    /// use ws_uring::ws_proto::{CloseCode, ProtocolError};
    /// let err = ws_uring::Error::Protocol(ProtocolError::InvalidUtf8);
    /// assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
    /// ```
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Self::Protocol(e) => Some(e.close_code()),
            _ => None,
        }
    }

    /// Whether this is [`Error::Unavailable`]: the machine cannot run
    /// io_uring, so a test or a program may fall back or skip.
    ///
    /// ```
    /// assert!(!ws_uring::Error::TimedOut.is_unavailable());
    /// ```
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// Why the kernel refuses io_uring, in words: what was tried, what the
/// kernel answered, and what to do about it.
///
/// ```
/// # fn main() {
/// match ws_uring::Runtime::new() {
///     Ok(_) => {}
///     Err(ws_uring::Error::Unavailable(why)) => eprintln!("no io_uring here: {why}"),
///     Err(other) => panic!("{other}"),
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct Unavailable {
    pub(crate) what: String,
    pub(crate) source: Option<io::Error>,
}

impl Unavailable {
    pub(crate) fn new(what: impl Into<String>, source: Option<io::Error>) -> Self {
        Self {
            what: what.into(),
            source,
        }
    }

    /// The kernel's answer, when there was one (`ENOSYS`, `EPERM`, `EINVAL`).
    ///
    /// ```
    /// if let Err(ws_uring::Error::Unavailable(why)) = ws_uring::Runtime::new() {
    ///     println!("{:?}", why.os_error());
    /// }
    /// ```
    pub fn os_error(&self) -> Option<&io::Error> {
        self.source.as_ref()
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)?;
        if let Some(source) = &self.source {
            write!(f, " (the kernel said: {source})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Unavailable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(e) => write!(f, "io_uring is not available: {e}"),
            Self::Io(e) => write!(f, "the transport failed: {e}"),
            Self::Protocol(e) => write!(f, "the peer broke the protocol: {e}"),
            // The core's text already starts with "opening handshake ...".
            Self::Handshake(e) => fmt::Display::fmt(e, f),
            Self::Send(e) => write!(f, "cannot send: {e}"),
            Self::Url(e) => write!(f, "invalid URL: {e}"),
            Self::TlsUnavailable => {
                f.write_str("wss:// needs TLS, which ws-uring does not have yet; use ws://")
            }
            Self::UnknownConnection => {
                f.write_str("no open connection with this id in this runtime")
            }
            Self::ConnectionClosed => f.write_str("the connection is closed"),
            Self::TimedOut => f.write_str("the wait passed before the operation finished"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unavailable(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            Self::Handshake(e) => Some(e),
            Self::Send(e) => Some(e),
            Self::Url(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Self::Send(e)
    }
}

impl From<InvalidUrl> for Error {
    fn from(e: InvalidUrl) -> Self {
        Self::Url(e)
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
