//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929):
//! the client's messages, and the proxy's replies.

use core::net::IpAddr;

#[allow(unused_imports)]
use crate::prelude::*;

use super::ProxyError;

/// The protocol version byte (RFC 1928 section 3).
const VERSION: u8 = 5;
/// The username/password subnegotiation's version (RFC 1929 section 2).
const AUTH_VERSION: u8 = 1;
/// Methods (RFC 1928 section 3).
pub(crate) const NO_AUTH: u8 = 0x00;
pub(crate) const USER_PASSWORD: u8 = 0x02;
const NO_ACCEPTABLE: u8 = 0xff;

/// The greeting: the methods offered.
pub(crate) fn greeting(offer_credentials: bool) -> Vec<u8> {
    if offer_credentials {
        vec![VERSION, 2, NO_AUTH, USER_PASSWORD]
    } else {
        vec![VERSION, 1, NO_AUTH]
    }
}

/// The method the proxy chose, once its two bytes are in.
pub(crate) fn parse_method(
    buf: &[u8],
    offered_credentials: bool,
) -> Result<Option<u8>, ProxyError> {
    let [version, method, ..] = *buf else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(not_socks5(version));
    }
    match method {
        NO_AUTH => Ok(Some(method)),
        USER_PASSWORD if offered_credentials => Ok(Some(method)),
        NO_ACCEPTABLE => Err(ProxyError::SocksNoAcceptableMethod {
            offered_credentials,
        }),
        other => Err(ProxyError::Malformed(format!(
            "the SOCKS5 proxy chose method 0x{other:02x}, which was not offered"
        ))),
    }
}

/// RFC 1929's request; the lengths were checked when the proxy was made.
pub(crate) fn auth_request(user: &str, password: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + user.len() + password.len());
    out.push(AUTH_VERSION);
    out.push(user.len().min(255) as u8);
    out.extend_from_slice(&user.as_bytes()[..user.len().min(255)]);
    out.push(password.len().min(255) as u8);
    out.extend_from_slice(&password.as_bytes()[..password.len().min(255)]);
    out
}

/// Whether the proxy accepted the credentials, once its two bytes are in.
pub(crate) fn parse_auth(buf: &[u8]) -> Result<Option<()>, ProxyError> {
    let [version, status, ..] = *buf else {
        return Ok(None);
    };
    if version != AUTH_VERSION {
        return Err(ProxyError::Malformed(format!(
            "the SOCKS5 authentication reply has version {version}, not 1"
        )));
    }
    match status {
        0 => Ok(Some(())),
        status => Err(ProxyError::SocksAuthFailed { status }),
    }
}

/// The CONNECT request: an IP literal goes as an address, anything else as
/// a name (the proxy resolves it).
pub(crate) fn connect_request(host: &str, port: u16) -> Result<Vec<u8>, ProxyError> {
    let mut out = vec![VERSION, 0x01, 0x00];
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            out.push(0x01);
            out.extend_from_slice(&ip.octets());
        }
        Ok(IpAddr::V6(ip)) => {
            out.push(0x04);
            out.extend_from_slice(&ip.octets());
        }
        Err(_) => {
            let len = u8::try_from(host.len()).map_err(|_| ProxyError::HostTooLong)?;
            if len == 0 {
                return Err(ProxyError::HostTooLong);
            }
            out.push(0x03);
            out.push(len);
            out.extend_from_slice(host.as_bytes());
        }
    }
    out.extend_from_slice(&port.to_be_bytes());
    Ok(out)
}

/// The reply's length once it succeeded (`Ok(Some(n))`), `Ok(None)` while
/// incomplete, or the refusal as soon as its code is in.
pub(crate) fn parse_reply(buf: &[u8]) -> Result<Option<usize>, ProxyError> {
    let [version, code, ..] = *buf else {
        return Ok(None);
    };
    if version != VERSION {
        return Err(not_socks5(version));
    }
    if code != 0 {
        return Err(ProxyError::SocksReply { code });
    }
    match buf.get(3) {
        None | Some(0x01 | 0x03 | 0x04) => {}
        Some(other) => {
            return Err(ProxyError::Malformed(format!(
                "the SOCKS5 reply has address type 0x{other:02x}"
            )))
        }
    }
    Ok(reply_len(buf).filter(|&total| buf.len() >= total))
}

/// A reply's whole length, once its first bytes tell it: VER, REP, RSV,
/// ATYP, the address (4 or 16 bytes, or a length byte and a name), PORT.
pub(crate) fn reply_len(buf: &[u8]) -> Option<usize> {
    let address = match *buf.get(3)? {
        0x01 => 4,
        0x04 => 16,
        0x03 => 1 + usize::from(*buf.get(4)?),
        _ => return None,
    };
    Some(4 + address + 2)
}

fn not_socks5(version: u8) -> ProxyError {
    ProxyError::Malformed(format!(
        "the reply has version {version}, not 5: not a SOCKS5 proxy"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert_eq!(greeting(false), [5, 1, 0]);
        assert_eq!(greeting(true), [5, 2, 0, 2]);
        assert_eq!(auth_request("u", "pw"), [1, 1, b'u', 2, b'p', b'w']);
        assert_eq!(auth_request("u", ""), [1, 1, b'u', 0]);
        assert_eq!(
            connect_request("127.0.0.1", 443).unwrap(),
            [5, 1, 0, 1, 127, 0, 0, 1, 1, 187]
        );
        let v6 = connect_request("::1", 80).unwrap();
        assert_eq!(
            (v6[3], v6.len(), v6[19], &v6[20..]),
            (4, 22, 1, &[0, 80][..])
        );
        assert_eq!(
            connect_request("ab.c", 1).unwrap(),
            [5, 1, 0, 3, 4, b'a', b'b', b'.', b'c', 0, 1]
        );
        assert_eq!(
            connect_request(&"x".repeat(256), 1),
            Err(ProxyError::HostTooLong)
        );
        assert_eq!(connect_request("", 1), Err(ProxyError::HostTooLong));
    }

    #[test]
    fn method_choice() {
        assert_eq!(parse_method(&[5], false), Ok(None));
        assert_eq!(parse_method(&[5, 0], false), Ok(Some(0)));
        assert_eq!(parse_method(&[5, 2], true), Ok(Some(2)));
        assert!(matches!(
            parse_method(&[5, 2], false),
            Err(ProxyError::Malformed(_))
        ));
        assert_eq!(
            parse_method(&[5, 0xff], false),
            Err(ProxyError::SocksNoAcceptableMethod {
                offered_credentials: false
            })
        );
        assert!(
            matches!(parse_method(b"HTTP/1.1", false), Err(ProxyError::Malformed(m)) if m.contains("not a SOCKS5"))
        );
    }

    #[test]
    fn auth_replies() {
        assert_eq!(parse_auth(&[1]), Ok(None));
        assert_eq!(parse_auth(&[1, 0]), Ok(Some(())));
        assert_eq!(
            parse_auth(&[1, 1]),
            Err(ProxyError::SocksAuthFailed { status: 1 })
        );
        assert!(matches!(parse_auth(&[5, 0]), Err(ProxyError::Malformed(_))));
    }

    #[test]
    fn connect_replies() {
        let v4 = [5, 0, 0, 1, 127, 0, 0, 1, 0, 80];
        for cut in 0..v4.len() {
            assert_eq!(parse_reply(&v4[..cut]), Ok(None), "cut {cut}");
        }
        assert_eq!(parse_reply(&v4), Ok(Some(10)));
        let mut v6 = vec![5, 0, 0, 4];
        v6.extend_from_slice(&[0; 18]);
        assert_eq!(parse_reply(&v6), Ok(Some(22)));
        assert_eq!(parse_reply(&v6[..21]), Ok(None));
        let name = [5, 0, 0, 3, 2, b'h', b'i', 0, 1, 0xaa];
        assert_eq!(parse_reply(&name), Ok(Some(9)));
        assert_eq!(parse_reply(&name[..4]), Ok(None));
        for code in 1..=0xffu8 {
            assert_eq!(
                parse_reply(&[5, code]),
                Err(ProxyError::SocksReply { code })
            );
        }
        assert!(matches!(
            parse_reply(&[5, 0, 0, 9]),
            Err(ProxyError::Malformed(_))
        ));
        assert!(matches!(
            parse_reply(&[4, 0x5a]),
            Err(ProxyError::Malformed(_))
        ));
    }
}
