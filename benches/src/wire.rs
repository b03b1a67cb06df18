//! Test data: payloads, texts and wire bytes built with `ws-proto` itself
//! (client role, seeded masks, so every run decodes the same bytes).

use ws_proto::{Config, Connection, Fragment, MessageKind, Randomness, Role};

/// `len` pseudo-random bytes (xorshift64*), the same for the same `seed`.
///
/// ```
/// assert_eq!(ws_benches::wire::payload(16, 1), ws_benches::wire::payload(16, 1));
/// ```
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// Printable ASCII text of exactly `len` bytes.
///
/// ```
/// assert_eq!(ws_benches::wire::ascii_text(100).len(), 100);
/// ```
pub fn ascii_text(len: usize) -> String {
    const WORDS: &str = "The quick brown fox jumps over the lazy dog; 0123456789 {\"k\":\"v\"} ";
    WORDS.chars().cycle().take(len).collect()
}

/// Text mixing 1-, 2-, 3- and 4-byte UTF-8 sequences (Latin, Greek,
/// Cyrillic, CJK, emoji), cut at a character boundary at most `len` bytes.
///
/// ```
/// let text = ws_benches::wire::multibyte_text(1000);
/// assert!(text.len() <= 1000 && text.len() > 990);
/// ```
pub fn multibyte_text(len: usize) -> String {
    const SAMPLE: &str = "héllo wörld κόσμε привет мир 日本語のテキスト 🎉🚀 naïve café ";
    let mut out = String::with_capacity(len);
    for c in SAMPLE.chars().cycle() {
        if out.len() + c.len_utf8() > len {
            break;
        }
        out.push(c);
    }
    out
}

fn client(config: Config) -> Connection {
    Connection::new(
        Role::Client,
        config.randomness(Randomness::seeded(7)).deflate(None),
    )
}

fn drain(conn: &mut Connection) -> Vec<u8> {
    let mut wire = Vec::with_capacity(conn.buffered_amount());
    while let Some(chunk) = conn.poll_transmit() {
        wire.extend_from_slice(&chunk);
    }
    wire
}

/// `count` masked single-frame messages carrying `payload`, as a client
/// sends them (binary, or text if `text`; a text payload must be UTF-8).
///
/// ```
/// let wire = ws_benches::wire::client_frames(&[1, 2, 3], 2, false);
/// assert_eq!(wire.len(), 2 * (2 + 4 + 3));
/// ```
pub fn client_frames(payload: &[u8], count: usize, text: bool) -> Vec<u8> {
    let mut conn = client(Config::default());
    for _ in 0..count {
        let data = bytes::Bytes::copy_from_slice(payload);
        let sent = if text {
            let text = String::from_utf8(data.to_vec()).expect("text payloads are UTF-8");
            conn.send_text(text)
        } else {
            conn.send_binary(data)
        };
        sent.expect("a fresh connection can send");
    }
    drain(&mut conn)
}

/// One masked binary message carrying `payload`, split into frames of at
/// most `fragment` bytes (a first frame and continuations).
///
/// ```
/// let wire = ws_benches::wire::fragmented_message(&[0; 10], 4);
/// assert_eq!(wire.len(), 3 * 6 + 10);
/// ```
pub fn fragmented_message(payload: &[u8], fragment: usize) -> Vec<u8> {
    let mut conn = client(Config::default());
    let pieces: Vec<&[u8]> = payload.chunks(fragment.max(1)).collect();
    for (i, piece) in pieces.iter().enumerate() {
        conn.send_fragment(Fragment {
            kind: MessageKind::Binary,
            data: bytes::Bytes::copy_from_slice(piece),
            is_first: i == 0,
            is_last: i + 1 == pieces.len(),
        })
        .expect("fragments in order");
    }
    drain(&mut conn)
}

/// The opening request of a current desktop Chrome, with the usual headers
/// (cookies, user agent, permessage-deflate offer).
pub const BROWSER_REQUEST: &[u8] = b"GET /chat?room=lobby HTTP/1.1\r\n\
Host: example.com:8080\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: https://example.com\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n\
Cookie: session=3f9a1c2e7b6d4e0f8a1b2c3d4e5f6a7b; theme=dark; _ga=GA1.2.123456789.1700000000\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\
\r\n";

#[cfg(test)]
mod tests {
    use super::*;
    use ws_proto::Event;

    #[test]
    fn frames_decode_back_to_their_payloads() {
        let data = payload(300, 3);
        let mut server = Connection::new(Role::Server, Config::default());
        server.receive(&client_frames(&data, 3, false));
        for _ in 0..3 {
            assert_eq!(
                server.poll_event(),
                Ok(Some(Event::Binary(data.clone().into())))
            );
        }
        server.receive(&fragmented_message(&data, 64));
        assert_eq!(server.poll_event(), Ok(Some(Event::Binary(data.into()))));
        let text = multibyte_text(500);
        server.receive(&client_frames(text.as_bytes(), 1, true));
        assert_eq!(server.poll_event(), Ok(Some(Event::Text(text.into()))));
    }

    #[test]
    fn the_browser_request_is_accepted() {
        let (request, used) = ws_proto::handshake::Request::parse(BROWSER_REQUEST)
            .unwrap()
            .unwrap();
        assert_eq!(used, BROWSER_REQUEST.len());
        assert_eq!(request.path(), "/chat");
    }
}
