//! A minimal parser for `ws://` and `wss://` URLs (RFC 6455 section 3).

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

/// Why a WebSocket URL could not be used.
///
/// ```
/// use ws_proto::handshake::{ClientRequest, InvalidUrl};
/// assert_eq!(ClientRequest::from_url("http://x").unwrap_err(), InvalidUrl::Scheme("http".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidUrl {
    /// The scheme is not `ws` or `wss`.
    Scheme(String),
    /// There is no `scheme://` at all.
    MissingScheme,
    /// The host is empty or malformed.
    Host,
    /// The port is not a number from 1 to 65535.
    Port,
    /// The URL has a fragment (`#...`), which section 3 forbids.
    Fragment,
    /// The URL holds user information (`user@`), which cannot be sent in a WebSocket request line.
    UserInfo,
}

impl fmt::Display for InvalidUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scheme(s) => write!(f, "URL scheme {s:?} is not ws or wss"),
            Self::MissingScheme => f.write_str("URL has no ws:// or wss:// scheme"),
            Self::Host => f.write_str("URL has an empty or malformed host"),
            Self::Port => f.write_str("URL port is not a number from 1 to 65535"),
            Self::Fragment => f.write_str("WebSocket URLs may not have a #fragment"),
            Self::UserInfo => f.write_str("WebSocket URLs may not contain user@ information"),
        }
    }
}

impl core::error::Error for InvalidUrl {}

/// The parts of a WebSocket URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WsUrl {
    pub(crate) secure: bool,
    /// The host as written, IPv6 literals without brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path and query, starting with `/`.
    pub(crate) resource: String,
}

impl WsUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, InvalidUrl> {
        let (scheme, rest) = url.split_once("://").ok_or(InvalidUrl::MissingScheme)?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "ws" => false,
            "wss" => true,
            _ => return Err(InvalidUrl::Scheme(scheme.to_string())),
        };
        if rest.contains('#') {
            return Err(InvalidUrl::Fragment);
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') {
            return Err(InvalidUrl::UserInfo);
        }
        let resource = match resource {
            "" => "/".to_string(),
            r if r.starts_with('?') => format!("/{r}"),
            r => r.to_string(),
        };
        let (host, port) = split_authority(authority)?;
        let port = port.unwrap_or(if secure { 443 } else { 80 });
        Ok(Self {
            secure,
            host: host.to_string(),
            port,
            resource,
        })
    }

    /// The `Host` header value: the port only when it is not the default.
    pub(crate) fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Splits `host[:port]` (IPv6 literals in brackets, returned without them)
/// and checks both: a non-empty host without spaces or stray brackets, a
/// port from 1 to 65535. Shared by WebSocket and proxy URLs.
pub(crate) fn split_authority(authority: &str) -> Result<(&str, Option<u16>), InvalidUrl> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or(InvalidUrl::Host)?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or(InvalidUrl::Host)?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '[' || c == ']') {
        return Err(InvalidUrl::Host);
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(InvalidUrl::Port),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let u = WsUrl::parse("ws://example.com").unwrap();
        assert_eq!(
            (u.secure, u.host.as_str(), u.port, u.resource.as_str()),
            (false, "example.com", 80, "/")
        );
        let u = WsUrl::parse("wss://example.com:8443/a/b?x=1&y").unwrap();
        assert_eq!(
            (u.secure, u.port, u.resource.as_str()),
            (true, 8443, "/a/b?x=1&y")
        );
        assert_eq!(u.host_header(), "example.com:8443");
        let u = WsUrl::parse("WS://[::1]:9001?q").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.resource.as_str()),
            ("::1", 9001, "/?q")
        );
        assert_eq!(u.host_header(), "[::1]:9001");
        assert_eq!(WsUrl::parse("wss://h/").unwrap().host_header(), "h");
    }

    #[test]
    fn rejects_what_cannot_be_sent() {
        assert_eq!(WsUrl::parse("example.com"), Err(InvalidUrl::MissingScheme));
        assert_eq!(
            WsUrl::parse("https://x/"),
            Err(InvalidUrl::Scheme("https".into()))
        );
        assert_eq!(WsUrl::parse("ws:///path"), Err(InvalidUrl::Host));
        assert_eq!(WsUrl::parse("ws://h:0/"), Err(InvalidUrl::Port));
        assert_eq!(WsUrl::parse("ws://h:99999/"), Err(InvalidUrl::Port));
        assert_eq!(WsUrl::parse("ws://h/#frag"), Err(InvalidUrl::Fragment));
        assert_eq!(WsUrl::parse("ws://u:p@h/"), Err(InvalidUrl::UserInfo));
        assert_eq!(WsUrl::parse("ws://[::1/"), Err(InvalidUrl::Host));
    }
}
