//! Header helpers shared by both roles.

#[allow(unused_imports)]
use crate::prelude::*;
/// One HTTP header, as received or to be sent.
///
/// ```
/// use ws_proto::handshake::Header;
/// let h = Header::new("Origin", "https://example.com");
/// assert_eq!(h.value_str(), Some("https://example.com"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name, as written by the sender.
    pub name: String,
    /// The raw value.
    pub value: Vec<u8>,
}

impl Header {
    /// A header from a name and a value.
    ///
    /// ```
    /// # use ws_proto::handshake::Header;
    /// let h = Header::new("X-Token", "abc");
    /// assert_eq!(h.name, "X-Token");
    /// ```
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }

    /// The value as text, if it is UTF-8.
    ///
    /// ```
    /// # use ws_proto::handshake::Header;
    /// assert_eq!(Header::new("A", vec![0xff]).value_str(), None);
    /// ```
    pub fn value_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.value).ok()
    }
}

/// Finds the first header called `name` (any case).
pub(crate) fn find<'a>(headers: &'a [Header], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| &h.value[..])
}

/// Every comma-separated, trimmed, non-empty token of every header called `name`.
pub(crate) fn tokens<'a>(
    headers: &'a [Header],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .filter_map(|h| core::str::from_utf8(&h.value).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Whether some header called `name` lists `token` (any case).
pub(crate) fn has_token(headers: &[Header], name: &str, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

/// The extension names in `Sec-WebSocket-Extensions` values: the part of each
/// comma-separated offer before its first `;`.
pub(crate) fn extension_names<'a>(headers: &'a [Header]) -> impl Iterator<Item = &'a str> + 'a {
    tokens(headers, "sec-websocket-extensions")
        .map(|offer| offer.split(';').next().unwrap_or("").trim())
}

/// Copies parsed httparse headers into owned ones.
pub(crate) fn from_httparse(parsed: &[httparse::Header<'_>]) -> Vec<Header> {
    parsed
        .iter()
        .map(|h| Header::new(h.name, h.value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_across_headers_and_case() {
        let headers = vec![
            Header::new("Connection", "keep-alive, Upgrade"),
            Header::new("connection", " foo ,,bar"),
        ];
        assert!(has_token(&headers, "CONNECTION", "upgrade"));
        assert_eq!(
            tokens(&headers, "connection").collect::<Vec<_>>(),
            ["keep-alive", "Upgrade", "foo", "bar"]
        );
        assert!(!has_token(&headers, "connection", "upgrade2"));
    }
}
