//! What can go wrong on the way through a proxy, in words.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;
use core::time::Duration;

/// A proxy URL that cannot be used (from [`Proxy::parse`](super::Proxy::parse)
/// or an environment variable).
///
/// ```
/// use ws_proto::handshake::proxy::{InvalidProxy, Proxy};
/// assert_eq!(Proxy::parse("ftp://p:21").unwrap_err(), InvalidProxy::Scheme("ftp".into()));
/// assert!(Proxy::parse("https://p:3128").unwrap_err().to_string().contains("TLS to the proxy"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidProxy {
    /// The scheme is not `http`, `socks5` or `socks5h`.
    Scheme(String),
    /// `https://`: TLS to the proxy itself is not supported (TLS to the
    /// server, inside the tunnel, is).
    HttpsProxy,
    /// The host is empty or malformed.
    Host,
    /// The port is not a number from 1 to 65535.
    Port,
    /// The user name or password is not valid percent-encoding of UTF-8, or
    /// (SOCKS5, RFC 1929 section 2) empty or longer than 255 bytes.
    Credentials,
}

impl fmt::Display for InvalidProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheme(s) => write!(f, "proxy scheme {s:?} is not http, socks5 or socks5h"),
            Self::HttpsProxy => f.write_str(
                "https:// proxies (TLS to the proxy) are not supported; use http:// (wss:// still runs TLS to the server inside the tunnel)",
            ),
            Self::Host => f.write_str("proxy URL has an empty or malformed host"),
            Self::Port => f.write_str("proxy URL port is not a number from 1 to 65535"),
            Self::Credentials => f.write_str(
                "proxy credentials are not valid percent-encoded UTF-8, or (SOCKS5) empty or over 255 bytes",
            ),
        }
    }
}

impl core::error::Error for InvalidProxy {}

/// Why a connection through a proxy failed. Each says what happened in
/// words; [`status`](Self::status) gives an HTTP proxy's status and
/// [`socks_reply`](Self::socks_reply) a SOCKS5 proxy's reply code.
///
/// ```
/// use ws_proto::handshake::proxy::ProxyError;
/// let err = ProxyError::SocksReply { code: 0x05 };
/// assert_eq!(err.to_string(), "the SOCKS5 proxy could not connect: connection refused by the destination (reply 0x05)");
/// let err = ProxyError::AuthRequired { status: 407, sent_credentials: false };
/// assert_eq!(err.status(), Some(407));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy URL (given, or read from `var`) cannot be used.
    Url {
        /// The environment variable it came from, if any.
        var: Option<String>,
        /// What is wrong with it.
        error: InvalidProxy,
    },
    /// HTTP 407 (or 401, which some proxies such as tinyproxy send for
    /// wrong credentials): the proxy wants credentials, or rejected the
    /// ones sent.
    AuthRequired {
        /// 407 or 401.
        status: u16,
        /// Whether a `Proxy-Authorization` header was sent.
        sent_credentials: bool,
    },
    /// HTTP 403: the proxy's rules do not allow this destination or port.
    Forbidden {
        /// The reason phrase.
        reason: String,
    },
    /// HTTP 502: the proxy could not reach the destination.
    BadGateway {
        /// The reason phrase.
        reason: String,
    },
    /// Another non-2xx answer to `CONNECT`.
    Status {
        /// The status code.
        status: u16,
        /// The reason phrase.
        reason: String,
    },
    /// A SOCKS5 reply other than success (RFC 1928 section 6).
    SocksReply {
        /// The REP field.
        code: u8,
    },
    /// The SOCKS5 proxy accepts none of the methods offered (RFC 1928
    /// section 3: `X'FF'`).
    SocksNoAcceptableMethod {
        /// Whether username/password was among them.
        offered_credentials: bool,
    },
    /// The SOCKS5 proxy rejected the username and password (RFC 1929
    /// section 2: a non-zero STATUS).
    SocksAuthFailed {
        /// The STATUS field.
        status: u8,
    },
    /// The proxy closed the connection before its answer was complete.
    Closed {
        /// How many bytes of the answer had arrived.
        received: usize,
    },
    /// The proxy's answer does not follow its protocol.
    Malformed(String),
    /// The proxy's answer head did not end within the limit.
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The proxy sent bytes after its answer, before the client spoke (a
    /// WebSocket or TLS server waits for the client).
    UnexpectedData,
    /// The destination's host name is longer than SOCKS5 can carry (255 bytes).
    HostTooLong,
    /// The tunnel was not set up within the time given to
    /// [`Tunnel::timeout`](super::Tunnel::timeout).
    TimedOut {
        /// That time.
        after: Duration,
    },
}

impl ProxyError {
    /// The HTTP status an HTTP proxy answered `CONNECT` with, if that was
    /// the failure.
    ///
    /// ```
    /// use ws_proto::handshake::proxy::ProxyError;
    /// assert_eq!(ProxyError::BadGateway { reason: "Bad Gateway".into() }.status(), Some(502));
    /// assert_eq!(ProxyError::HostTooLong.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::AuthRequired { status, .. } => Some(*status),
            Self::Forbidden { .. } => Some(403),
            Self::BadGateway { .. } => Some(502),
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The SOCKS5 reply code, if the proxy refused with one.
    ///
    /// ```
    /// use ws_proto::handshake::proxy::ProxyError;
    /// assert_eq!(ProxyError::SocksReply { code: 4 }.socks_reply(), Some(4));
    /// ```
    pub fn socks_reply(&self) -> Option<u8> {
        match self {
            Self::SocksReply { code } => Some(*code),
            _ => None,
        }
    }
}

/// RFC 1928 section 6's reply codes in words.
pub(crate) fn socks_reply_words(code: u8) -> &'static str {
    match code {
        0x01 => "general SOCKS server failure",
        0x02 => "connection not allowed by the proxy's ruleset",
        0x03 => "network unreachable",
        0x04 => "host unreachable",
        0x05 => "connection refused by the destination",
        0x06 => "TTL expired",
        0x07 => "command not supported by the proxy",
        0x08 => "address type not supported by the proxy",
        _ => "unassigned reply code",
    }
}

fn auth_reason(status: u16) -> &'static str {
    match status {
        401 => "Unauthorized",
        _ => "Proxy Authentication Required",
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Url { var: Some(var), error } => write!(f, "proxy URL in {var} is unusable: {error}"),
            Self::Url { var: None, error } => write!(f, "proxy URL is unusable: {error}"),
            Self::AuthRequired {
                status,
                sent_credentials: false,
            } => write!(
                f,
                "the proxy needs credentials ({status} {}); put them in the proxy URL (http://user:pass@host:port)",
                auth_reason(*status)
            ),
            Self::AuthRequired {
                status,
                sent_credentials: true,
            } => write!(
                f,
                "the proxy rejected the credentials ({status} {})",
                auth_reason(*status)
            ),
            Self::Forbidden { reason } => write!(
                f,
                "the proxy refused to open a tunnel to this destination (403 {reason}): its rules do not allow the host or port"
            ),
            Self::BadGateway { reason } => write!(
                f,
                "the proxy could not reach the destination (502 {reason}): it is down, refused the connection, or does not resolve"
            ),
            Self::Status { status, reason } => {
                write!(f, "the proxy answered CONNECT with {status} {reason}")
            }
            Self::SocksReply { code } => write!(
                f,
                "the SOCKS5 proxy could not connect: {} (reply 0x{code:02x})",
                socks_reply_words(*code)
            ),
            Self::SocksNoAcceptableMethod { offered_credentials: false } => f.write_str(
                "the SOCKS5 proxy requires authentication; put a user name and password in the proxy URL (socks5://user:pass@host:port)",
            ),
            Self::SocksNoAcceptableMethod { offered_credentials: true } => f.write_str(
                "the SOCKS5 proxy accepts neither username/password nor no authentication",
            ),
            Self::SocksAuthFailed { status } => write!(
                f,
                "the SOCKS5 proxy rejected the user name and password (RFC 1929 status 0x{status:02x})"
            ),
            Self::Closed { received: 0 } => {
                f.write_str("the proxy closed the connection before answering")
            }
            Self::Closed { received } => write!(
                f,
                "the proxy closed the connection in the middle of its answer (after {received} bytes)"
            ),
            Self::Malformed(why) => write!(f, "the proxy's answer is malformed: {why}"),
            Self::ResponseTooLarge { limit } => {
                write!(f, "the proxy's answer head exceeds the {limit}-byte limit")
            }
            Self::UnexpectedData => f.write_str(
                "bytes followed the proxy's answer before the client spoke (the destination is not a WebSocket or TLS server?)",
            ),
            Self::HostTooLong => {
                f.write_str("the host name is longer than the 255 bytes SOCKS5 can carry")
            }
            Self::TimedOut { after } => {
                write!(f, "the proxy did not open the tunnel within {after:?}")
            }
        }
    }
}

impl core::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Url { error, .. } => Some(error),
            _ => None,
        }
    }
}
