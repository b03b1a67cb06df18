//! The `Sec-WebSocket-Accept` computation (RFC 6455 section 4.2.2, item 5.4).

#[allow(unused_imports)]
use crate::prelude::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha1::{Digest, Sha1};

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `base64(SHA-1(key + GUID))`: the value a server answers a
/// `Sec-WebSocket-Key` with.
///
/// ```
/// // RFC 6455 section 1.3.
/// assert_eq!(
///     ws_proto::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    STANDARD.encode(sha.finalize())
}

/// Whether `key` is the base64 encoding of 16 bytes (section 4.1, item 7).
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24 && matches!(STANDARD.decode(key), Ok(raw) if raw.len() == 16)
}

/// A fresh random key.
pub(crate) fn new_key(randomness: &mut crate::Randomness) -> String {
    let mut raw = [0u8; 16];
    randomness.fill(&mut raw);
    STANDARD.encode(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_validation() {
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ")); // unpadded
        assert!(!is_valid_key(b"AAAA")); // 3 bytes
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ!=")); // not base64
        let mut r = crate::Randomness::seeded(5);
        assert!(is_valid_key(new_key(&mut r).as_bytes()));
    }
}
