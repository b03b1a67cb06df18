//! A proxy and its URL: `http://`, `socks5://`, `socks5h://`, with
//! optional `user:password@`.

#[allow(unused_imports)]
use crate::prelude::*;
use core::fmt;

use super::super::url::split_authority;
use super::super::InvalidUrl;
use super::InvalidProxy;

/// How a proxy is spoken to.
///
/// ```
/// use ws_proto::handshake::proxy::{Proxy, ProxyScheme};
/// assert_eq!(Proxy::parse("socks5h://p").unwrap().scheme(), ProxyScheme::Socks5h);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyScheme {
    /// An HTTP proxy: `CONNECT host:port` (RFC 9110 section 9.3.6), with
    /// Basic credentials (RFC 7617) when the URL has them.
    Http,
    /// SOCKS5 (RFC 1928) where the client resolves the destination's name
    /// and sends its address (as curl and Python do for `socks5://`).
    Socks5,
    /// SOCKS5 where the proxy resolves the name: the client sends it as is.
    Socks5h,
}

impl ProxyScheme {
    /// The scheme as written in a URL.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::ProxyScheme;
    /// assert_eq!(ProxyScheme::Socks5.as_str(), "socks5");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Socks5 => "socks5",
            Self::Socks5h => "socks5h",
        }
    }
}

/// A proxy to reach servers through: its scheme, host, port and optional
/// credentials. Parsed from a URL ([`Proxy::parse`]) or read from the
/// environment ([`Proxy::from_env_for`]).
///
/// Without a port, an HTTP proxy is on 80 and a SOCKS5 proxy on 1080 (the
/// schemes' registered ports; curl assumes 1080 for both). Without a
/// scheme, `host:port` means an HTTP proxy, as in curl and Python. The
/// password never appears in `Debug` or `Display`.
///
/// ```
/// use ws_proto::handshake::proxy::{Proxy, ProxyScheme};
/// let proxy = Proxy::parse("http://alice:s%40cret@127.0.0.1:3128").unwrap();
/// assert_eq!((proxy.scheme(), proxy.host(), proxy.port()), (ProxyScheme::Http, "127.0.0.1", 3128));
/// assert_eq!(proxy.credentials(), Some(("alice", "s@cret")));
/// assert_eq!(proxy.to_string(), "http://alice@127.0.0.1:3128");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    scheme: ProxyScheme,
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
}

impl Proxy {
    /// Parses `scheme://[user[:password]@]host[:port][/]`. User and
    /// password are percent-decoded. Anything after the authority (a path)
    /// is ignored, as curl does.
    ///
    /// ```
    /// use ws_proto::handshake::proxy::Proxy;
    /// assert_eq!(Proxy::parse("127.0.0.1:3128").unwrap().port(), 3128);
    /// assert_eq!(Proxy::parse("socks5://[::1]").unwrap().port(), 1080);
    /// assert!(Proxy::parse("http://:3128").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Self, InvalidProxy> {
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => (String::from("http"), url),
        };
        let scheme = match scheme.as_str() {
            "http" => ProxyScheme::Http,
            "socks5" => ProxyScheme::Socks5,
            "socks5h" => ProxyScheme::Socks5h,
            "https" => return Err(InvalidProxy::HttpsProxy),
            _ => return Err(InvalidProxy::Scheme(scheme)),
        };
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, authority),
        };
        let (host, port) = split_authority(hostport).map_err(|err| match err {
            InvalidUrl::Port => InvalidProxy::Port,
            _ => InvalidProxy::Host,
        })?;
        let default_port = match scheme {
            ProxyScheme::Http => 80,
            ProxyScheme::Socks5 | ProxyScheme::Socks5h => 1080,
        };
        let credentials = match userinfo {
            None => None,
            Some(userinfo) => {
                let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
                Some((percent_decode(user)?, percent_decode(password)?))
            }
        };
        let proxy = Self {
            scheme,
            host: host.to_string(),
            port: port.unwrap_or(default_port),
            credentials,
        };
        proxy.check_credentials()?;
        Ok(proxy)
    }

    /// The same proxy with these credentials (in place of any from the URL).
    ///
    /// ```
    /// use ws_proto::handshake::proxy::Proxy;
    /// let proxy = Proxy::parse("socks5h://127.0.0.1:1080").unwrap().with_credentials("u", "p").unwrap();
    /// assert_eq!(proxy.credentials(), Some(("u", "p")));
    /// assert!(Proxy::parse("socks5://h").unwrap().with_credentials("", "p").is_err());
    /// ```
    pub fn with_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, InvalidProxy> {
        self.credentials = Some((user.into(), password.into()));
        self.check_credentials()?;
        Ok(self)
    }

    /// SOCKS5 carries user name and password behind one length byte each
    /// (RFC 1929 section 2): at most 255 bytes, and a user name of at least
    /// one. An empty password is sent as length 0.
    fn check_credentials(&self) -> Result<(), InvalidProxy> {
        match (&self.credentials, self.scheme) {
            (Some((user, password)), ProxyScheme::Socks5 | ProxyScheme::Socks5h)
                if user.is_empty() || user.len() > 255 || password.len() > 255 =>
            {
                Err(InvalidProxy::Credentials)
            }
            _ => Ok(()),
        }
    }

    /// How the proxy is spoken to.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::{Proxy, ProxyScheme};
    /// assert_eq!(Proxy::parse("http://p:3128").unwrap().scheme(), ProxyScheme::Http);
    /// ```
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// The proxy's host (IPv6 without brackets): what to connect TCP to.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::Proxy;
    /// assert_eq!(Proxy::parse("http://[::1]:3128").unwrap().host(), "::1");
    /// ```
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::Proxy;
    /// assert_eq!(Proxy::parse("http://p").unwrap().port(), 80);
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// User name and password, if any.
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::Proxy;
    /// assert_eq!(Proxy::parse("http://u@p").unwrap().credentials(), Some(("u", "")));
    /// ```
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Whether the client resolves the destination's name itself and gives
    /// the proxy an address (`socks5://`); otherwise the proxy gets the name
    /// (`socks5h://`, and `CONNECT` always). A driver that sees `true` looks
    /// the name up and passes an IP literal to [`Tunnel::new`](super::Tunnel::new).
    ///
    /// ```
    /// # use ws_proto::handshake::proxy::Proxy;
    /// assert!(Proxy::parse("socks5://p").unwrap().resolves_locally());
    /// assert!(!Proxy::parse("socks5h://p").unwrap().resolves_locally());
    /// ```
    pub fn resolves_locally(&self) -> bool {
        self.scheme == ProxyScheme::Socks5
    }
}

/// Never shows the password.
impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

/// `scheme://[user@]host:port`, without the password.
impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if let Some((user, _)) = &self.credentials {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `%XX` escapes to bytes; the result must be UTF-8.
fn percent_decode(text: &str) -> Result<String, InvalidProxy> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(InvalidProxy::Credentials)?;
            let hex = core::str::from_utf8(hex).map_err(|_| InvalidProxy::Credentials)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| InvalidProxy::Credentials)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| InvalidProxy::Credentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_scheme_with_its_default_port() {
        let cases = [
            ("http://p", ProxyScheme::Http, "p", 80),
            ("HTTP://p:3128/", ProxyScheme::Http, "p", 3128),
            ("p:8080", ProxyScheme::Http, "p", 8080),
            ("socks5://10.0.0.1", ProxyScheme::Socks5, "10.0.0.1", 1080),
            ("socks5h://[::1]:9050", ProxyScheme::Socks5h, "::1", 9050),
            ("  http://p:1/path?q  ", ProxyScheme::Http, "p", 1),
        ];
        for (url, scheme, host, port) in cases {
            let p = Proxy::parse(url).unwrap();
            assert_eq!(
                (p.scheme(), p.host(), p.port()),
                (scheme, host, port),
                "{url}"
            );
            assert_eq!(p.credentials(), None);
        }
    }

    #[test]
    fn credentials_are_percent_decoded_and_hidden() {
        let p = Proxy::parse("http://us%65r:p%3Aw:d@h:1").unwrap();
        assert_eq!(p.credentials(), Some(("user", "p:w:d")));
        assert!(!format!("{p:?}{p}").contains("p:w"));
        // The last @ ends the user information.
        let p = Proxy::parse("socks5://a@b:c@h").unwrap();
        assert_eq!((p.credentials(), p.host()), (Some(("a@b", "c")), "h"));
    }

    #[test]
    fn rejects_what_cannot_be_used() {
        let cases = [
            ("ftp://h", InvalidProxy::Scheme("ftp".into())),
            ("https://h", InvalidProxy::HttpsProxy),
            ("http://", InvalidProxy::Host),
            ("http://u:p@", InvalidProxy::Host),
            ("http://h:0", InvalidProxy::Port),
            ("http://h:65536", InvalidProxy::Port),
            ("http://h:x", InvalidProxy::Port),
            ("http://[::1", InvalidProxy::Host),
            ("http://%zz@h", InvalidProxy::Credentials),
            ("http://%ff@h", InvalidProxy::Credentials),
            ("http://%f@h", InvalidProxy::Credentials),
            ("socks5://:pw@h", InvalidProxy::Credentials),
        ];
        for (url, err) in cases {
            assert_eq!(Proxy::parse(url), Err(err), "{url}");
        }
        let long = "x".repeat(256);
        assert_eq!(
            Proxy::parse(&format!("socks5h://{long}@h")),
            Err(InvalidProxy::Credentials)
        );
        // HTTP Basic has no such limit.
        assert!(Proxy::parse(&format!("http://{long}@h")).is_ok());
    }
}
