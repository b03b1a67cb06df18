//! Which proxy a connection uses: the environment, as curl and Python read
//! it, or the caller's choice; and `NO_PROXY` matching.

#[allow(unused_imports)]
use crate::prelude::*;
use core::net::IpAddr;

use super::super::ClientRequest;
use super::{Proxy, ProxyError};

/// Which proxy a client connection goes through: the one the environment
/// names (the default), a given one, or none.
///
/// An explicit [`Use`](Self::Use) applies to every destination: `NO_PROXY`
/// only filters proxies taken from the environment.
///
/// ```
/// use ws_proto::handshake::proxy::{Proxy, ProxySetting};
/// use ws_proto::handshake::ClientRequest;
/// let request = ClientRequest::from_url("wss://example.com/feed").unwrap();
/// let env = |name: &str| (name == "HTTPS_PROXY").then(|| "http://127.0.0.1:3128".to_string());
/// let proxy = ProxySetting::FromEnv.resolve_with(&request, env).unwrap();
/// assert_eq!(proxy.unwrap().port(), 3128);
/// assert_eq!(ProxySetting::Direct.resolve_with(&request, env).unwrap(), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxySetting {
    /// The proxy the environment names for the destination
    /// ([`Proxy::from_env_for`]).
    #[default]
    FromEnv,
    /// Always this proxy.
    Use(Proxy),
    /// Never a proxy: connect directly.
    Direct,
}

impl ProxySetting {
    /// The proxy for `target`, reading environment variables through `env`
    /// (so tests need not touch the process environment).
    ///
    /// ```
    /// use ws_proto::handshake::proxy::{Proxy, ProxySetting};
    /// use ws_proto::handshake::ClientRequest;
    /// let request = ClientRequest::from_url("ws://example.com/").unwrap();
    /// let fixed = ProxySetting::Use(Proxy::parse("socks5h://127.0.0.1:1080").unwrap());
    /// assert!(fixed.resolve_with(&request, |_| None).unwrap().is_some());
    /// ```
    pub fn resolve_with(
        &self,
        target: &ClientRequest,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Proxy>, ProxyError> {
        match self {
            Self::FromEnv => Proxy::from_env_for(target, env),
            Self::Use(proxy) => Ok(Some(proxy.clone())),
            Self::Direct => Ok(None),
        }
    }

    /// [`resolve_with`](Self::resolve_with) the process environment.
    ///
    /// ```
    /// use ws_proto::handshake::proxy::ProxySetting;
    /// use ws_proto::handshake::ClientRequest;
    /// let request = ClientRequest::from_url("ws://example.com/").unwrap();
    /// assert_eq!(ProxySetting::Direct.resolve(&request).unwrap(), None);
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn resolve(&self, target: &ClientRequest) -> Result<Option<Proxy>, ProxyError> {
        self.resolve_with(target, |name| std::env::var(name).ok())
    }
}

impl Proxy {
    /// The proxy the environment names for `target`, read through `env`:
    ///
    /// 1. `no_proxy` (else `NO_PROXY`) listing the destination: none
    ///    (see [`NoProxy`]).
    /// 2. `wss://`: `https_proxy`, else `HTTPS_PROXY`.
    ///    `ws://`: `http_proxy`, else `HTTP_PROXY`, except when
    ///    `REQUEST_METHOD` is set: in a CGI program `HTTP_PROXY` may come
    ///    from a request's `Proxy:` header ("httpoxy"), so it is ignored
    ///    there, as Python's `urllib` does. (curl ignores `HTTP_PROXY`
    ///    always; Python and most tools honour it, and so do we.)
    /// 3. `all_proxy`, else `ALL_PROXY`.
    ///
    /// Lowercase wins over uppercase; an empty variable counts as unset.
    /// A value that is not a usable proxy URL is an error naming the
    /// variable, not a silent direct connection.
    ///
    /// ```
    /// use ws_proto::handshake::proxy::Proxy;
    /// use ws_proto::handshake::ClientRequest;
    /// let env = |name: &str| match name {
    ///     "ALL_PROXY" => Some("socks5h://127.0.0.1:1080".to_string()),
    ///     "NO_PROXY" => Some("localhost,.internal".to_string()),
    ///     _ => None,
    /// };
    /// let out = ClientRequest::from_url("ws://example.com/").unwrap();
    /// assert_eq!(Proxy::from_env_for(&out, env).unwrap().unwrap().port(), 1080);
    /// let inside = ClientRequest::from_url("ws://db.internal/").unwrap();
    /// assert_eq!(Proxy::from_env_for(&inside, env).unwrap(), None);
    /// ```
    pub fn from_env_for(
        target: &ClientRequest,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ProxyError> {
        let get = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let either = |lower: &'static str, upper: &'static str| {
            get(lower)
                .map(|value| (lower, value))
                .or_else(|| get(upper).map(|value| (upper, value)))
        };
        if let Some((_, list)) = either("no_proxy", "NO_PROXY") {
            if NoProxy::parse(&list).matches(target.host(), target.port()) {
                return Ok(None);
            }
        }
        let specific = if target.is_secure() {
            either("https_proxy", "HTTPS_PROXY")
        } else if get("REQUEST_METHOD").is_some() {
            get("http_proxy").map(|value| ("http_proxy", value))
        } else {
            either("http_proxy", "HTTP_PROXY")
        };
        let Some((var, url)) = specific.or_else(|| either("all_proxy", "ALL_PROXY")) else {
            return Ok(None);
        };
        Self::parse(&url)
            .map(Some)
            .map_err(|error| ProxyError::Url {
                var: Some(var.to_string()),
                error,
            })
    }

    /// [`from_env_for`](Self::from_env_for) the process environment.
    ///
    /// ```
    /// use ws_proto::handshake::proxy::Proxy;
    /// use ws_proto::handshake::ClientRequest;
    /// let request = ClientRequest::from_url("ws://example.com/").unwrap();
    /// let proxy = Proxy::from_env(&request).unwrap(); // None unless the environment names one
    /// # let _ = proxy;
    /// ```
    #[cfg(feature = "std")]
    #[cfg_attr(docsrs, doc(cfg(feature = "std")))]
    pub fn from_env(target: &ClientRequest) -> Result<Option<Self>, ProxyError> {
        Self::from_env_for(target, |name| std::env::var(name).ok())
    }
}

/// A `NO_PROXY` list: destinations reached directly. Entries are separated
/// by commas or spaces and compared without case:
///
/// * `*` matches everything;
/// * a name matches itself and its subdomains, with or without a leading
///   dot (`example.com` and `.example.com` both match `example.com` and
///   `a.example.com`; `*.example.com` is read as `.example.com`);
/// * an IP address matches that address (the destination as written: names
///   are not resolved, so `127.0.0.1` does not match `localhost`);
/// * `address/bits` (CIDR) matches the addresses in that network;
/// * any of these with `:port` (`[v6]:port` for IPv6) matches only that port.
///
/// Entries that parse as none of these are skipped.
///
/// ```
/// use ws_proto::handshake::proxy::NoProxy;
/// let list = NoProxy::parse("localhost, .example.com,10.0.0.0/8 [::1]:9001");
/// assert!(list.matches("api.example.com", 443));
/// assert!(list.matches("example.com", 80));
/// assert!(list.matches("10.1.2.3", 80));
/// assert!(list.matches("::1", 9001) && !list.matches("::1", 9002));
/// assert!(!list.matches("notexample.com", 80));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<(Pattern, Option<u16>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    All,
    /// A domain, lowercase, without leading or trailing dots.
    Domain(String),
    Address(IpAddr),
    Network(IpAddr, u8),
}

impl NoProxy {
    /// Reads a list as found in `NO_PROXY`.
    ///
    /// ```
    /// use ws_proto::handshake::proxy::NoProxy;
    /// assert!(NoProxy::parse("*").matches("anything", 1));
    /// assert!(!NoProxy::parse("").matches("anything", 1));
    /// ```
    pub fn parse(list: &str) -> Self {
        let entries = list
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|entry| !entry.is_empty())
            .filter_map(parse_entry)
            .collect();
        Self { entries }
    }

    /// Whether `host` (as in the URL; IPv6 without brackets) on `port` is
    /// to be reached directly.
    ///
    /// ```
    /// use ws_proto::handshake::proxy::NoProxy;
    /// let list = NoProxy::parse("example.com:8443");
    /// assert!(list.matches("EXAMPLE.com.", 8443));
    /// assert!(!list.matches("example.com", 443));
    /// ```
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let address = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|(pattern, only)| {
            only.is_none_or(|only| only == port)
                && match pattern {
                    Pattern::All => true,
                    Pattern::Domain(domain) => {
                        host == *domain
                            || host
                                .strip_suffix(domain.as_str())
                                .is_some_and(|head| head.ends_with('.'))
                    }
                    Pattern::Address(ip) => address == Some(*ip),
                    Pattern::Network(net, bits) => {
                        address.is_some_and(|ip| in_network(ip, *net, *bits))
                    }
                }
        })
    }
}

fn parse_entry(entry: &str) -> Option<(Pattern, Option<u16>)> {
    let entry = entry.to_ascii_lowercase();
    if entry == "*" {
        return Some((Pattern::All, None));
    }
    // `[v6]`, `[v6]:port`, `[v6]/bits`; a bare IPv6 (two colons or more)
    // has no port; otherwise a last `:digits` is the port.
    let (body, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        match after.strip_prefix(':') {
            Some(port) => (inside.to_string(), Some(port.parse().ok()?)),
            None if after.is_empty() => (inside.to_string(), None),
            None => (format!("{inside}{after}"), None),
        }
    } else if entry.matches(':').count() >= 2 {
        (entry.clone(), None)
    } else {
        match entry.rsplit_once(':') {
            Some((body, port)) => (body.to_string(), Some(port.parse().ok()?)),
            None => (entry.clone(), None),
        }
    };
    if let Some((net, bits)) = body.split_once('/') {
        let net: IpAddr = net.parse().ok()?;
        let bits: u8 = bits.parse().ok()?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        return (bits <= max).then_some((Pattern::Network(net, bits), port));
    }
    if let Ok(ip) = body.parse::<IpAddr>() {
        return Some((Pattern::Address(ip), port));
    }
    let domain = body
        .strip_prefix("*.")
        .unwrap_or(&body)
        .trim_start_matches('.')
        .trim_end_matches('.');
    if domain.is_empty() || domain.contains(['/', '[', ']', '*', '@']) {
        return None;
    }
    Some((Pattern::Domain(domain.to_string()), port))
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::proxy::{InvalidProxy, ProxyScheme};

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    fn resolve(url: &str, vars: &[(&str, &str)]) -> Option<String> {
        let request = ClientRequest::from_url(url).unwrap();
        Proxy::from_env_for(&request, env(vars))
            .unwrap()
            .map(|p| p.to_string())
    }

    #[test]
    fn picks_the_variable_for_the_scheme() {
        let vars = [
            ("https_proxy", "http://s:1"),
            ("http_proxy", "http://p:2"),
            ("ALL_PROXY", "socks5h://a:3"),
        ];
        assert_eq!(resolve("wss://h/", &vars).as_deref(), Some("http://s:1"));
        assert_eq!(resolve("ws://h/", &vars).as_deref(), Some("http://p:2"));
        assert_eq!(
            resolve("ws://h/", &vars[2..]).as_deref(),
            Some("socks5h://a:3")
        );
        assert_eq!(
            resolve("wss://h/", &vars[1..]).as_deref(),
            Some("socks5h://a:3"),
            "http_proxy is not for wss"
        );
        assert_eq!(resolve("ws://h/", &[]), None);
    }

    #[test]
    fn lowercase_wins_and_empty_is_unset() {
        let vars = [
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:1"),
        ];
        assert_eq!(
            resolve("wss://h/", &vars).as_deref(),
            Some("http://lower:1")
        );
        let vars = [("https_proxy", " "), ("HTTPS_PROXY", "http://upper:1")];
        assert_eq!(
            resolve("wss://h/", &vars).as_deref(),
            Some("http://upper:1")
        );
        let vars = [("all_proxy", ""), ("ALL_PROXY", "http://upper:1")];
        assert_eq!(resolve("ws://h/", &vars).as_deref(), Some("http://upper:1"));
    }

    #[test]
    fn uppercase_http_proxy_is_ignored_under_cgi() {
        let vars = [("HTTP_PROXY", "http://evil:1")];
        assert_eq!(resolve("ws://h/", &vars).as_deref(), Some("http://evil:1"));
        let vars = [("HTTP_PROXY", "http://evil:1"), ("REQUEST_METHOD", "GET")];
        assert_eq!(resolve("ws://h/", &vars), None);
        let vars = [("http_proxy", "http://ok:1"), ("REQUEST_METHOD", "GET")];
        assert_eq!(resolve("ws://h/", &vars).as_deref(), Some("http://ok:1"));
    }

    #[test]
    fn no_proxy_filters_the_environment_only() {
        let vars = [("ALL_PROXY", "http://p:1"), ("NO_PROXY", "example.com")];
        assert_eq!(resolve("ws://a.example.com/", &vars), None);
        assert!(resolve("ws://example.org/", &vars).is_some());
        let vars = [
            ("ALL_PROXY", "http://p:1"),
            ("no_proxy", "other"),
            ("NO_PROXY", "example.com"),
        ];
        assert!(
            resolve("ws://example.com/", &vars).is_some(),
            "lowercase wins"
        );
        let request = ClientRequest::from_url("ws://example.com/").unwrap();
        let fixed = ProxySetting::Use(Proxy::parse("http://p:1").unwrap());
        assert!(fixed
            .resolve_with(&request, env(&[("NO_PROXY", "*")]))
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_bad_url_names_its_variable() {
        let request = ClientRequest::from_url("wss://h/").unwrap();
        let err = Proxy::from_env_for(&request, env(&[("HTTPS_PROXY", "ftp://x")])).unwrap_err();
        assert_eq!(
            err,
            ProxyError::Url {
                var: Some("HTTPS_PROXY".into()),
                error: InvalidProxy::Scheme("ftp".into())
            }
        );
        assert!(err.to_string().contains("HTTPS_PROXY"));
        let p = Proxy::from_env_for(&request, env(&[("HTTPS_PROXY", "127.0.0.1:3128")]))
            .unwrap()
            .unwrap();
        assert_eq!(p.scheme(), ProxyScheme::Http);
    }

    #[test]
    fn no_proxy_entries() {
        let cases: &[(&str, &str, u16, bool)] = &[
            ("*", "x", 1, true),
            ("example.com", "example.com", 80, true),
            ("example.com", "a.b.example.com", 80, true),
            ("example.com", "badexample.com", 80, false),
            (".example.com", "example.com", 80, true),
            (".example.com", "a.example.com", 80, true),
            ("*.example.com", "a.example.com", 80, true),
            ("Example.COM.", "a.example.com.", 80, true),
            ("example.com:8080", "example.com", 8080, true),
            ("example.com:8080", "example.com", 80, false),
            ("127.0.0.1", "127.0.0.1", 9, true),
            ("127.0.0.1", "localhost", 9, false),
            ("127.0.0.1:9", "127.0.0.1", 10, false),
            ("::1", "::1", 1, true),
            ("[::1]", "::1", 1, true),
            ("[::1]:5", "::1", 5, true),
            ("[::1]:5", "::1", 6, false),
            ("10.0.0.0/8", "10.255.0.1", 1, true),
            ("10.0.0.0/8", "11.0.0.1", 1, false),
            ("10.0.0.0/8", "ten.example", 1, false),
            ("0.0.0.0/0", "1.2.3.4", 1, true),
            ("192.168.1.7/32", "192.168.1.7", 1, true),
            ("192.168.1.7/32", "192.168.1.8", 1, false),
            ("fd00::/8", "fd12::1", 1, true),
            ("fd00::/8", "fe80::1", 1, false),
            ("[fd00::]/8", "fd12::1", 1, true),
            ("10.0.0.0/8", "fd12::1", 1, false),
            ("10.0.0.0/33", "10.0.0.1", 1, false),
            ("10.0.0.0/x", "10.0.0.1", 1, false),
            ("h:notaport", "h", 1, false),
            ("", "h", 1, false),
            (" , ,", "h", 1, false),
            ("a b,c", "c", 1, true),
        ];
        for &(list, host, port, expected) in cases {
            assert_eq!(
                NoProxy::parse(list).matches(host, port),
                expected,
                "{list:?} vs {host}:{port}"
            );
        }
    }
}
