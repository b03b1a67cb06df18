//! Handshake errors, by role.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use super::Header;

/// A client's opening request could not be accepted (RFC 6455 section 4.2.1).
/// [`status`](Self::status) is what to answer with;
/// [`ServerResponse::from_error`](super::ServerResponse::from_error) builds
/// the whole answer, including `Sec-WebSocket-Version: 13` for a wrong version.
///
/// ```
/// use ws_proto::handshake::{Request, RequestError};
/// let err = Request::parse(b"POST / HTTP/1.1\r\n\r\n").unwrap_err();
/// assert_eq!(err, RequestError::MethodNotGet("POST".into()));
/// assert_eq!(err.status(), 405);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// Not parseable as an HTTP/1.x request.
    MalformedHttp(String),
    /// The headers did not end within the size limit.
    HeadersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More headers than the limit allows.
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The method is not GET.
    MethodNotGet(String),
    /// The HTTP version is older than 1.1.
    NotHttp11,
    /// No `Host` header.
    MissingHost,
    /// No `Upgrade: websocket`: probably a plain HTTP request.
    MissingUpgradeWebSocket,
    /// No `upgrade` token in `Connection`.
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key`.
    MissingKey,
    /// `Sec-WebSocket-Key` is not base64 of 16 bytes.
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing or not 13.
    UnsupportedVersion(Option<String>),
    /// The application chose a subprotocol the client did not offer.
    ProtocolNotOffered(String),
    /// Over HTTP/2 (RFC 8441), the method is not CONNECT.
    MethodNotConnect(String),
    /// Over HTTP/2, the `:protocol` pseudo-header is missing or not `websocket`.
    ProtocolNotWebSocket(Option<String>),
}

impl RequestError {
    /// The HTTP status to answer with.
    ///
    /// ```
    /// # use ws_proto::handshake::RequestError;
    /// assert_eq!(RequestError::UnsupportedVersion(Some("8".into())).status(), 426);
    /// assert_eq!(RequestError::HeadersTooLarge { limit: 8192 }.status(), 431);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Self::HeadersTooLarge { .. } | Self::TooManyHeaders { .. } => 431,
            Self::MethodNotGet(_) => 405,
            Self::UnsupportedVersion(_) | Self::MissingUpgradeWebSocket => 426,
            Self::NotHttp11 => 505,
            Self::ProtocolNotOffered(_) => 500,
            _ => 400,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedHttp(why) => write!(f, "malformed HTTP request: {why}"),
            Self::HeadersTooLarge { limit } => {
                write!(f, "request headers exceed the {limit}-byte limit")
            }
            Self::TooManyHeaders { limit } => write!(f, "request has more than {limit} headers"),
            Self::MethodNotGet(m) => write!(f, "WebSocket requests must use GET, not {m}"),
            Self::NotHttp11 => f.write_str("WebSocket requests need HTTP/1.1 or later"),
            Self::MissingHost => f.write_str("request has no Host header"),
            Self::MissingUpgradeWebSocket => {
                f.write_str("request lacks `Upgrade: websocket` (a plain HTTP request?)")
            }
            Self::MissingConnectionUpgrade => {
                f.write_str("request's Connection header lacks the `upgrade` token")
            }
            Self::MissingKey => f.write_str("request has no Sec-WebSocket-Key"),
            Self::InvalidKey => f.write_str("Sec-WebSocket-Key is not base64 of 16 bytes"),
            Self::UnsupportedVersion(Some(v)) => {
                write!(f, "Sec-WebSocket-Version {v:?} is not supported (only 13)")
            }
            Self::UnsupportedVersion(None) => f.write_str("request has no Sec-WebSocket-Version"),
            Self::ProtocolNotOffered(p) => {
                write!(f, "subprotocol {p:?} was not offered by the client")
            }
            Self::MethodNotConnect(m) => {
                write!(
                    f,
                    "WebSocket over HTTP/2 needs an extended CONNECT, not {m}"
                )
            }
            Self::ProtocolNotWebSocket(Some(p)) => {
                write!(f, "extended CONNECT for protocol {p:?}, not websocket")
            }
            Self::ProtocolNotWebSocket(None) => {
                f.write_str("CONNECT request without the :protocol pseudo-header")
            }
        }
    }
}

impl core::error::Error for RequestError {}

/// A server answered the opening handshake with something other than 101.
///
/// ```
/// use ws_proto::handshake::Rejection;
/// let r = Rejection { status: 403, reason: "Forbidden".into(), headers: vec![], body: b"no".to_vec() };
/// assert!(r.to_string().contains("403 Forbidden"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The response headers.
    pub headers: Vec<Header>,
    /// The start of the body: what had arrived with the headers, at most 1 KiB.
    pub body: Vec<u8>,
}

impl Rejection {
    /// A sentence on what this status usually means for a WebSocket upgrade.
    ///
    /// ```
    /// # use ws_proto::handshake::Rejection;
    /// let r = Rejection { status: 200, reason: "OK".into(), headers: vec![], body: vec![] };
    /// assert!(r.likely_cause().contains("proxy"));
    /// ```
    pub fn likely_cause(&self) -> &'static str {
        match self.status {
            200..=299 => "a proxy, CDN or plain web server answered the request itself instead of passing the upgrade through",
            300..=399 => "the endpoint moved; follow the Location header or fix the URL",
            400 => "the server or a proxy found the upgrade request malformed; a proxy that drops the Upgrade and Connection headers causes this",
            401 | 403 => "the server refused the client: authentication, Origin or policy",
            404 => "nothing serves WebSockets at this path",
            426 => "the server wants another protocol version, or a proxy stripped the Upgrade header",
            500..=599 => "the server or a proxy in front of it failed; check its logs",
            _ => "the server did not accept the WebSocket upgrade",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server answered {} {} instead of 101 Switching Protocols: {}",
            self.status,
            self.reason,
            self.likely_cause()
        )
    }
}

/// A server's handshake response was not a valid acceptance (RFC 6455 section 4.1).
///
/// ```
/// use ws_proto::handshake::{ClientRequest, ResponseError};
/// use ws_proto::Randomness;
/// let (_, client) = ClientRequest::from_url("ws://h/").unwrap().into_handshake(&mut Randomness::os());
/// let err = client.parse_response(b"HTTP/1.1 403 Forbidden\r\n\r\n").unwrap_err();
/// assert!(matches!(err, ResponseError::Rejected(ref r) if r.status == 403));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// Not parseable as an HTTP/1.x response.
    MalformedHttp(String),
    /// The headers did not end within the size limit.
    HeadersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The status was not 101.
    Rejected(Box<Rejection>),
    /// No `Upgrade: websocket` in a 101 response.
    MissingUpgradeWebSocket,
    /// No `upgrade` token in the `Connection` header of a 101 response.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` is missing or does not match our key.
    AcceptMismatch,
    /// The server chose a subprotocol we did not offer (or chose one when we offered none).
    ProtocolNotOffered(String),
    /// The server answered with an extension we did not offer.
    ExtensionNotOffered(String),
    /// The server's extension parameters break the extension's rules (for
    /// permessage-deflate, RFC 7692 section 7.1).
    InvalidExtension(String),
    /// The server accepted an extension that was offered by name only
    /// ([`ClientRequest::extension`](super::ClientRequest::extension)), with
    /// no implementation to run it: its reserved bits would fail the
    /// connection, so the answer is refused.
    ExtensionNotSupported(String),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MalformedHttp(why) => write!(f, "malformed HTTP response: {why}"),
            Self::HeadersTooLarge { limit } => {
                write!(f, "response headers exceed the {limit}-byte limit")
            }
            Self::Rejected(r) => fmt::Display::fmt(r, f),
            Self::MissingUpgradeWebSocket => f.write_str("101 response lacks `Upgrade: websocket`"),
            Self::MissingConnectionUpgrade => {
                f.write_str("101 response's Connection header lacks the `upgrade` token")
            }
            Self::AcceptMismatch => f.write_str(
                "Sec-WebSocket-Accept is missing or wrong (not a WebSocket server, or a caching proxy)",
            ),
            Self::ProtocolNotOffered(p) => write!(f, "server chose subprotocol {p:?}, which we did not offer"),
            Self::ExtensionNotOffered(e) => write!(f, "server chose extension {e:?}, which we did not offer"),
            Self::InvalidExtension(why) => write!(f, "server's extension answer is invalid: {why}"),
            Self::ExtensionNotSupported(e) => write!(
                f,
                "server accepted extension {e:?}, which was offered by name only and has no implementation here"
            ),
        }
    }
}

impl core::error::Error for ResponseError {}

/// Why the opening handshake failed, as the
/// [`Connection`](crate::Connection) reports it from
/// [`poll_event`](crate::Connection::poll_event) (inside
/// [`Error::Handshake`](crate::Error::Handshake)). Whatever was owed to the
/// peer (the error response to a bad request, the application's refusal) is
/// already queued, and the transport should be closed once it is written.
///
/// ```
/// use ws_proto::handshake::{HandshakeError, RequestError};
/// use ws_proto::Role;
/// let err = HandshakeError::Request(RequestError::MissingKey);
/// assert_eq!(err.status(), Some(400));
/// let eof = HandshakeError::PeerClosed { peer: Role::Server };
/// assert!(eof.to_string().contains("proxy"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Server role: the client's request failed the checks of section
    /// 4.2.1; the matching error response ([`RequestError::status`]) is queued.
    Request(RequestError),
    /// Client role: the server's answer was not a valid acceptance; for a
    /// status other than 101, [`ResponseError::Rejected`] carries the status,
    /// headers, the start of the body and the likely cause.
    Response(ResponseError),
    /// Server role: the application refused the request with this status
    /// (see [`Connection::respond`](crate::Connection::respond)); the refusal is queued.
    Refused {
        /// The HTTP status of the refusal.
        status: u16,
    },
    /// The handshake did not complete within its timeout
    /// ([`HandshakeConfig::timeout`](super::HandshakeConfig::timeout)): a silent
    /// or very slow peer. Nothing more is sent.
    TimedOut {
        /// The limit that passed.
        after: core::time::Duration,
    },
    /// The transport ended before the handshake completed.
    PeerClosed {
        /// Which end closed: the server (or something in front of it) for a
        /// client, the client for a server.
        peer: crate::Role,
    },
}

impl HandshakeError {
    /// The HTTP status of a refused handshake, on either side: the status
    /// the server answered with, the one the application refused with, or
    /// the one a bad request was answered with.
    ///
    /// ```
    /// use ws_proto::handshake::HandshakeError;
    /// assert_eq!(HandshakeError::Refused { status: 403 }.status(), Some(403));
    /// assert_eq!(HandshakeError::TimedOut { after: Default::default() }.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Request(err) => Some(err.status()),
            Self::Response(ResponseError::Rejected(rejection)) => Some(rejection.status),
            Self::Refused { status } => Some(*status),
            _ => None,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(err) => write!(f, "opening handshake failed: {err}"),
            Self::Response(err) => write!(f, "opening handshake failed: {err}"),
            Self::Refused { status } => {
                write!(f, "opening handshake refused with status {status}")
            }
            Self::TimedOut { after } => {
                write!(f, "opening handshake did not complete within {after:?}")
            }
            // A server that accepts TCP but closes before answering is
            // usually a proxy or load balancer that refuses upgrades.
            Self::PeerClosed {
                peer: crate::Role::Server,
            } => f.write_str(
                "connection closed during the opening handshake (a proxy or load balancer that does not pass WebSocket upgrades?)",
            ),
            Self::PeerClosed {
                peer: crate::Role::Client,
            } => f.write_str("connection closed by the client during the opening handshake"),
        }
    }
}

impl core::error::Error for HandshakeError {}
