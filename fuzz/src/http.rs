//! Independent checks on handshake bytes with `httparse`.

/// A response head parsed by httparse, with owned headers.
#[derive(Debug)]
pub struct ParsedResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names as written.
    pub headers: Vec<(String, Vec<u8>)>,
    /// Bytes the head used.
    pub head_len: usize,
}

impl ParsedResponse {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| &v[..])
    }

    /// Whether a comma-separated header called `name` lists `token` (any case).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .filter_map(|(_, v)| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// Parses `bytes` as a complete HTTP/1.1 response head; panics with the
/// reason if it is not one (used on what ws-proto writes).
pub fn parse_response_strict(bytes: &[u8]) -> ParsedResponse {
    let mut storage = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut storage);
    let head_len = match resp.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!(
            "ws-proto wrote a response httparse rejects: {other:?}\n{}",
            String::from_utf8_lossy(bytes)
        ),
    };
    assert_eq!(resp.version, Some(1), "response is not HTTP/1.1");
    ParsedResponse {
        status: resp.code.expect("complete response has a code"),
        headers: resp
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect(),
        head_len,
    }
}

/// Parses `bytes` as a response head if httparse can; `None` otherwise.
pub fn parse_response_lenient(bytes: &[u8]) -> Option<ParsedResponse> {
    let mut storage = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut storage);
    match resp.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => Some(ParsedResponse {
            status: resp.code?,
            headers: resp
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), h.value.to_vec()))
                .collect(),
            head_len: n,
        }),
        _ => None,
    }
}
