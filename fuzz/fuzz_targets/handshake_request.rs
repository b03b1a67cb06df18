//! `Request::parse` and `Request::parse_with_limits` on arbitrary bytes.
//!
//! Invariants:
//! * `Ok(Some((req, n)))`: `n <= len` and within the header limit; the head
//!   ends with a line feed; parsing just those `n` bytes gives the same
//!   request; the key is 24 base64 characters; `req.accept().to_bytes()` is a
//!   complete HTTP/1.1 101 response to httparse whose `Sec-WebSocket-Accept`
//!   is `accept_key(req.key())` and which carries `Upgrade: websocket` and
//!   `Connection: Upgrade`; `accept_with_protocol` works for every offered
//!   subprotocol (and the response still parses) and refuses one not offered.
//! * `Err(e)`: `ServerResponse::from_error(&e).to_bytes()` starts with
//!   `"HTTP/1.1 "`, parses with httparse, has status `e.status()` (a 4xx or
//!   5xx), a `Content-Length` equal to its body, and `Sec-WebSocket-Version: 13`
//!   for a 426.
//! * Monotone in the input: every prefix parses to `Ok(None)` or to exactly
//!   the whole input's result (the head is judged only once it is complete,
//!   and a limit applies to the same window).
//!
//! Besides the default limits, each input is also parsed with limits derived
//! from its hash, so small header limits get exercised without huge inputs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::handshake::{accept_key, Limits, Request, RequestError, ServerResponse};
use ws_proto_fuzz::http::parse_response_strict;

type Parsed = Result<Option<(Request, usize)>, RequestError>;

fn check(data: &[u8], limits: Limits) {
    let result = Request::parse_with_limits(data, limits);
    match &result {
        Ok(Some((req, n))) => check_accepted(data, limits, req, *n),
        Ok(None) => assert!(
            data.len() < limits.max_header_bytes,
            "no verdict past the limit"
        ),
        Err(e) => check_rejected(e),
    }
    check_prefixes(data, limits, &result);
}

fn check_accepted(data: &[u8], limits: Limits, req: &Request, n: usize) {
    assert!(n <= data.len() && n <= limits.max_header_bytes);
    assert_eq!(data[n - 1], b'\n', "head does not end with a line feed");
    assert_eq!(
        Request::parse_with_limits(&data[..n], limits),
        Ok(Some((req.clone(), n))),
        "the head alone parses differently"
    );
    let key = req.key();
    assert_eq!(key.len(), 24, "key is not 24 characters");
    assert!(key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='));
    assert!(req.target().len() <= n);
    assert!(req.path().len() <= req.target().len());

    let response = req.accept().to_bytes();
    let parsed = parse_response_strict(&response);
    assert_eq!(parsed.status, 101);
    assert_eq!(parsed.head_len, response.len(), "a 101 has no body");
    let expected = accept_key(key.as_bytes());
    assert_eq!(
        parsed.header("sec-websocket-accept"),
        Some(expected.as_bytes()),
        "wrong Sec-WebSocket-Accept"
    );
    assert!(parsed.has_token("upgrade", "websocket"));
    assert!(parsed.has_token("connection", "upgrade"));

    for protocol in req.protocols() {
        assert!(!protocol.is_empty() && protocol.trim() == protocol);
        let response = req
            .accept_with_protocol(protocol)
            .expect("offered protocol refused")
            .to_bytes();
        let parsed = parse_response_strict(&response);
        assert_eq!(
            parsed.header("sec-websocket-protocol"),
            Some(protocol.as_bytes())
        );
    }
    let not_offered = "not-offered\u{1}";
    assert_eq!(
        req.accept_with_protocol(not_offered),
        Err(RequestError::ProtocolNotOffered(not_offered.into()))
    );
    for offer in req.extension_offers() {
        assert!(!offer.is_empty());
    }
}

fn check_rejected(e: &RequestError) {
    let status = e.status();
    assert!((400..600).contains(&status), "status {status} for {e:?}");
    let bytes = ServerResponse::from_error(e).to_bytes();
    assert!(bytes.starts_with(b"HTTP/1.1 "), "rejection status line");
    let parsed = parse_response_strict(&bytes);
    assert_eq!(parsed.status, status, "status line != e.status()");
    let body = &bytes[parsed.head_len..];
    assert_eq!(body, e.to_string().as_bytes(), "body is the error text");
    assert_eq!(
        parsed.header("content-length"),
        Some(body.len().to_string().as_bytes())
    );
    if status == 426 {
        assert_eq!(parsed.header("sec-websocket-version"), Some(&b"13"[..]));
    }
}

/// Every prefix of the input must give `Ok(None)` or the whole input's result.
/// All cuts for short inputs; for long ones a sample, including the ones around
/// the end of the head and the limit.
fn check_prefixes(data: &[u8], limits: Limits, whole: &Parsed) {
    let mut cuts: Vec<usize> = if data.len() <= 64 {
        (0..data.len()).collect()
    } else {
        // Evenly spaced, plus a few the input's hash picks.
        let h = ws_proto_fuzz::fnv(data);
        (0..24)
            .map(|i| i * data.len() / 24)
            .chain((0..8).map(|i| ((h >> (i * 8)) % data.len() as u64) as usize))
            .collect()
    };
    if let Ok(Some((_, n))) = whole {
        cuts.extend([n - 1, *n]);
    }
    cuts.extend([
        limits.max_header_bytes.saturating_sub(1),
        limits.max_header_bytes,
    ]);
    for cut in cuts.into_iter().filter(|&c| c <= data.len()) {
        let part = Request::parse_with_limits(&data[..cut], limits);
        match (&part, whole) {
            (Ok(None), _) => {}
            // With the head complete, the request is the same.
            (Ok(Some(p)), Ok(Some(w))) => assert_eq!(p, w, "prefix {cut}"),
            (p, w) => assert_eq!(p, w, "prefix {cut} is not monotone"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, Limits::default());
    let h = ws_proto_fuzz::fnv(data);
    let limits = Limits {
        max_header_bytes: (h % (2 * data.len() as u64 + 2)) as usize,
        max_headers: ((h >> 32) % 24) as usize,
    };
    check(data, limits);
});
