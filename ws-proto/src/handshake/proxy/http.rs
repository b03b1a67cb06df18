//! HTTP `CONNECT` (RFC 9110 section 9.3.6) with Basic credentials
//! (RFC 7617): the request, and the proxy's answer.

use base64::Engine;

#[allow(unused_imports)]
use crate::prelude::*;

use super::ProxyError;

/// The largest answer head buffered from an HTTP proxy.
pub(crate) const MAX_HEAD: usize = 16 * 1024;
/// The most headers read in an answer.
const MAX_HEADERS: usize = 64;

/// `host:port` as a request target and `Host` value (IPv6 in brackets).
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The `CONNECT` request for `host:port`, with `Proxy-Authorization: Basic`
/// when there are credentials.
pub(crate) fn connect_request(host: &str, port: u16, credentials: Option<(&str, &str)>) -> Vec<u8> {
    let target = authority(host, port);
    let mut out = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, password)) = credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        out.push_str("Proxy-Authorization: Basic ");
        out.push_str(&token);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Parses the proxy's answer: `Ok(Some(head length))` for a 2xx,
/// `Ok(None)` while incomplete, else the failure in words.
pub(crate) fn parse_response(
    buf: &[u8],
    sent_credentials: bool,
) -> Result<Option<usize>, ProxyError> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut storage);
    let head = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(ProxyError::ResponseTooLarge { limit: MAX_HEAD })
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ProxyError::Malformed(format!(
                "more than {MAX_HEADERS} headers"
            )))
        }
        Err(err) => {
            return Err(ProxyError::Malformed(format!(
                "not an HTTP response ({err})"
            )))
        }
    };
    // httparse fills both in a complete response.
    let status = response.code.unwrap_or(0);
    let reason = response.reason.unwrap_or("").to_string();
    match status {
        200..=299 => Ok(Some(head)),
        // tinyproxy answers wrong credentials with 401.
        401 | 407 => Err(ProxyError::AuthRequired {
            status,
            sent_credentials,
        }),
        403 => Err(ProxyError::Forbidden { reason }),
        502 => Err(ProxyError::BadGateway { reason }),
        status => Err(ProxyError::Status { status, reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_target_and_credentials() {
        let bytes = connect_request("example.com", 443, None);
        assert_eq!(
            bytes,
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        );
        let bytes = connect_request("::1", 80, Some(("Aladdin", "open sesame")));
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
    }

    #[test]
    fn answers() {
        let ok = b"HTTP/1.1 200 Connection established\r\n\r\n";
        assert_eq!(parse_response(ok, false), Ok(Some(ok.len())));
        let ok10 = b"HTTP/1.0 200 OK\r\nVia: tinyproxy\r\n\r\nrest";
        assert_eq!(parse_response(ok10, false), Ok(Some(ok10.len() - 4)));
        for cut in 0..ok.len() {
            assert_eq!(parse_response(&ok[..cut], false), Ok(None), "cut {cut}");
        }
        let cases: &[(&[u8], bool, ProxyError)] = &[
            (
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
                false,
                ProxyError::AuthRequired {
                    status: 407,
                    sent_credentials: false,
                },
            ),
            (
                b"HTTP/1.1 407 Nope\r\n\r\n",
                true,
                ProxyError::AuthRequired {
                    status: 407,
                    sent_credentials: true,
                },
            ),
            (
                b"HTTP/1.1 401 Unauthorized\r\n\r\n",
                true,
                ProxyError::AuthRequired {
                    status: 401,
                    sent_credentials: true,
                },
            ),
            (
                b"HTTP/1.1 403 Filtered\r\n\r\n",
                false,
                ProxyError::Forbidden {
                    reason: "Filtered".into(),
                },
            ),
            (
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\n",
                false,
                ProxyError::BadGateway {
                    reason: "Bad Gateway".into(),
                },
            ),
            (
                b"HTTP/1.1 503 Busy\r\n\r\n",
                false,
                ProxyError::Status {
                    status: 503,
                    reason: "Busy".into(),
                },
            ),
            (
                b"HTTP/1.1 101 Switching\r\n\r\n",
                false,
                ProxyError::Status {
                    status: 101,
                    reason: "Switching".into(),
                },
            ),
        ];
        for (bytes, creds, err) in cases {
            assert_eq!(parse_response(bytes, *creds).as_ref(), Err(err));
        }
        assert!(matches!(
            parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", false),
            Err(ProxyError::Malformed(_))
        ));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..65 {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert!(
            matches!(parse_response(&many, false), Err(ProxyError::Malformed(m)) if m.contains("headers"))
        );
        let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        long.resize(MAX_HEAD, b'a');
        assert_eq!(
            parse_response(&long, false),
            Err(ProxyError::ResponseTooLarge { limit: MAX_HEAD })
        );
    }
}
