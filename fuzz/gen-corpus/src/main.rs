//! Writes the seed corpora for the fuzz targets: `gen-corpus [OUT_DIR]`
//! (default `corpus`, relative to the working directory). Output is
//! deterministic; existing files with the same names are overwritten, others
//! are left alone.
//!
//! * `handshake_request`: browser-, curl- and library-like upgrade requests,
//!   with subprotocols and extensions, plus typical wrong ones.
//! * `handshake_response`: real 101 answers for the exact clients the target
//!   builds, rejections, and short mutation lists for its structured half.
//! * `frame_header`, `frame_decode`: the RFC 6455 section 5.7 examples,
//!   fragmented and control-interleaved messages, close frames with various
//!   codes, and typical violations.
//! * `server_connection`, `client_connection`, `roundtrip`, `frame_mode`,
//!   `handshake_server`, `handshake_client`: these decode their input with
//!   `arbitrary`, so the seeds are random-ish bytes.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ws_proto::handshake::{ClientRequest, Request};
use ws_proto::Randomness;

/// The RFC 6455 section 5.7 masking key.
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// One frame: FIN, RSV bits, opcode, optional mask, payload.
fn frame(fin: bool, rsv: u8, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(bit | n as u8),
        n @ 126..=0xffff => {
            out.push(bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// A splitmix64 stream for the random-ish seeds.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

struct Writer {
    root: PathBuf,
    count: usize,
}

impl Writer {
    fn put(&mut self, target: &str, name: &str, bytes: &[u8]) -> io::Result<()> {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(name), bytes)?;
        self.count += 1;
        Ok(())
    }
}

/// Sequences of frames as one peer sends them; `mask` decides the role.
fn frame_streams(mask: Option<[u8; 4]>) -> Vec<(&'static str, Vec<u8>)> {
    let f = |fin, opcode, payload: &[u8]| frame(fin, 0, opcode, mask, payload);
    let cat = |parts: &[Vec<u8>]| parts.concat();
    let snowman = "☃ κόσμε".as_bytes();
    vec![
        ("hello", f(true, 0x1, b"Hello")),
        (
            "hello-fragmented",
            cat(&[f(false, 0x1, b"Hel"), f(true, 0x0, b"lo")]),
        ),
        ("ping-hello", f(true, 0x9, b"Hello")),
        ("pong-hello", f(true, 0xA, b"Hello")),
        ("binary-256", f(true, 0x2, &[0xab; 256])),
        (
            "binary-64k-header-only",
            frame(true, 0, 0x2, mask, &[0; 65536])[..20].to_vec(),
        ),
        ("empty-text", f(true, 0x1, b"")),
        ("empty-binary", f(true, 0x2, b"")),
        (
            "fragmented-ping-between",
            cat(&[
                f(false, 0x1, b"frag"),
                f(true, 0x9, b"p"),
                f(false, 0x0, b"men"),
                f(true, 0xA, b""),
                f(true, 0x0, b"ted"),
            ]),
        ),
        (
            "utf8-split-across-frames",
            cat(&[f(false, 0x1, &snowman[..2]), f(true, 0x0, &snowman[2..])]),
        ),
        (
            "binary-three-pieces",
            cat(&[
                f(false, 0x2, &[1, 2]),
                f(false, 0x0, &[]),
                f(true, 0x0, &[3]),
            ]),
        ),
        (
            "messages-then-close",
            cat(&[
                f(true, 0x1, b"one"),
                f(true, 0x2, b"two"),
                f(true, 0x8, &close_payload(1000, "bye")),
            ]),
        ),
        ("close-empty", f(true, 0x8, b"")),
        ("close-1000", f(true, 0x8, &close_payload(1000, ""))),
        (
            "close-1001-reason",
            f(true, 0x8, &close_payload(1001, "going away")),
        ),
        ("close-1002", f(true, 0x8, &close_payload(1002, "protocol"))),
        ("close-1011", f(true, 0x8, &close_payload(1011, "oops"))),
        ("close-3000", f(true, 0x8, &close_payload(3000, ""))),
        ("close-4999-utf8", f(true, 0x8, &close_payload(4999, "☃"))),
        ("close-1005-invalid", f(true, 0x8, &close_payload(1005, ""))),
        ("close-1006-invalid", f(true, 0x8, &close_payload(1006, ""))),
        ("close-999-invalid", f(true, 0x8, &close_payload(999, ""))),
        ("close-one-byte", f(true, 0x8, &[0x03])),
        ("close-bad-utf8", f(true, 0x8, &[0x03, 0xe8, 0xff])),
        (
            "close-then-data",
            cat(&[
                f(true, 0x8, &close_payload(1000, "")),
                f(true, 0x1, b"late"),
            ]),
        ),
        ("bad-utf8-text", f(true, 0x1, &[b'a', 0xc0, 0xaf])),
        ("surrogate-text", f(true, 0x1, &[0xed, 0xa0, 0x80])),
        ("truncated-utf8-final", f(true, 0x1, &snowman[..2])),
        ("control-too-long", f(true, 0x9, &[0; 126])),
        ("fragmented-ping", f(false, 0x9, b"x")),
        ("continuation-first", f(true, 0x0, b"x")),
        (
            "new-message-mid-fragment",
            cat(&[f(false, 0x1, b"a"), f(true, 0x1, b"b")]),
        ),
        ("reserved-opcode-3", f(true, 0x3, b"")),
        ("reserved-opcode-b", f(true, 0xB, b"")),
        ("rsv1-without-extension", frame(true, 4, 0x1, mask, b"x")),
        ("rsv3", frame(true, 1, 0x2, mask, b"x")),
        (
            "length-top-bit",
            [
                vec![0x82, 0x7f | if mask.is_some() { 0x80 } else { 0 }, 0x80],
                vec![0; 7],
            ]
            .concat(),
        ),
        (
            "huge-length",
            [
                vec![
                    0x82,
                    0x7f | if mask.is_some() { 0x80 } else { 0 },
                    0x00,
                    0x10,
                ],
                vec![0; 6],
            ]
            .concat(),
        ),
    ]
}

fn frames(w: &mut Writer) -> io::Result<()> {
    // RFC 6455 section 5.7, byte for byte.
    let rfc: &[(&str, &[u8])] = &[
        ("rfc-unmasked-hello", b"\x81\x05\x48\x65\x6c\x6c\x6f"),
        (
            "rfc-masked-hello",
            b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
        ),
        (
            "rfc-fragmented-hello",
            b"\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f",
        ),
        ("rfc-ping-hello", b"\x89\x05\x48\x65\x6c\x6c\x6f"),
        (
            "rfc-masked-pong-hello",
            b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
        ),
    ];
    for (name, bytes) in rfc {
        w.put("frame_decode", name, bytes)?;
        w.put("frame_header", name, bytes)?;
    }
    let big = frame(true, 0, 0x2, None, &[0; 256]);
    w.put("frame_decode", "rfc-binary-256", &big)?;
    w.put("frame_header", "rfc-binary-256", &big[..4])?;
    w.put(
        "frame_header",
        "rfc-binary-64k",
        b"\x82\x7f\0\0\0\0\0\x01\0\0",
    )?;
    // Header-only seeds for the codec: each length form, masks, violations.
    let headers: &[(&str, &[u8])] = &[
        ("len-125-masked", b"\x82\xfd\x01\x02\x03\x04"),
        ("len-126", b"\x82\x7e\x00\x7e"),
        ("len-16bit-non-minimal", b"\x82\x7e\x00\x05"),
        ("len-64bit-non-minimal", b"\x82\x7f\0\0\0\0\0\0\0\x05"),
        (
            "len-64bit-masked",
            b"\x02\xff\0\0\0\x01\0\0\0\0\xaa\xbb\xcc\xdd",
        ),
        ("len-top-bit", b"\x82\x7f\x80\0\0\0\0\0\0\0"),
        ("control-126", b"\x89\x7e\x00\x7e"),
        ("control-no-fin", b"\x09\x00"),
        ("reserved-opcode", b"\x8f\x00"),
        ("all-rsv", b"\xf1\x80\0\0\0\0"),
    ];
    for (name, bytes) in headers {
        w.put("frame_header", name, bytes)?;
    }
    for (name, bytes) in frame_streams(Some(KEY)) {
        w.put("frame_decode", &format!("from-client-{name}"), &bytes)?;
    }
    for (name, bytes) in frame_streams(None) {
        w.put("frame_decode", &format!("from-server-{name}"), &bytes)?;
    }
    Ok(())
}

fn requests(w: &mut Writer) -> io::Result<()> {
    let crlf = |lines: &[&str]| {
        let mut s = lines.join("\r\n");
        s.push_str("\r\n\r\n");
        s.into_bytes()
    };
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "rfc-1.3",
            crlf(&[
                "GET /chat HTTP/1.1",
                "Host: server.example.com",
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Origin: http://example.com",
                "Sec-WebSocket-Protocol: chat, superchat",
                "Sec-WebSocket-Version: 13",
            ]),
        ),
        (
            "chrome-like",
            crlf(&[
                "GET /socket?room=lobby&token=abc HTTP/1.1",
                "Host: example.com:8080",
                "Connection: Upgrade",
                "Pragma: no-cache",
                "Cache-Control: no-cache",
                "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
                "Upgrade: websocket",
                "Origin: https://example.com",
                "Sec-WebSocket-Version: 13",
                "Accept-Encoding: gzip, deflate, br",
                "Accept-Language: en-US,en;q=0.9",
                "Cookie: session=0123456789abcdef; theme=dark",
                "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
            ]),
        ),
        (
            "firefox-like",
            crlf(&[
                "GET /ws HTTP/1.1",
                "Host: localhost:3000",
                "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
                "Accept: */*",
                "Accept-Language: en-US,en;q=0.5",
                "Accept-Encoding: gzip, deflate, br",
                "Sec-WebSocket-Version: 13",
                "Origin: http://localhost:3000",
                "Sec-WebSocket-Protocol: graphql-ws, graphql-transport-ws",
                "Sec-WebSocket-Extensions: permessage-deflate",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Connection: keep-alive, Upgrade",
                "Sec-Fetch-Dest: empty",
                "Sec-Fetch-Mode: websocket",
                "Sec-Fetch-Site: same-origin",
                "Pragma: no-cache",
                "Cache-Control: no-cache",
                "Upgrade: websocket",
            ]),
        ),
        (
            "curl-like",
            crlf(&[
                "GET /echo HTTP/1.1",
                "Host: 127.0.0.1:9001",
                "User-Agent: curl/8.5.0",
                "Accept: */*",
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==AA",
            ]),
        ),
        (
            "curl-like-valid-key",
            crlf(&[
                "GET /echo HTTP/1.1",
                "Host: 127.0.0.1:9001",
                "User-Agent: curl/8.5.0",
                "Accept: */*",
                "Connection: Upgrade",
                "Upgrade: websocket",
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==",
            ]),
        ),
        (
            "lowercase-and-lf-only",
            b"GET / HTTP/1.1\nhost: h\nupgrade: WebSocket\nconnection: upgrade\n\
sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\nsec-websocket-version: 13\n\n"
                .to_vec(),
        ),
        (
            "extensions-params",
            crlf(&[
                "GET /x HTTP/1.1",
                "Host: h",
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=10; server_no_context_takeover, x-webkit-deflate-frame",
                "Sec-WebSocket-Extensions: permessage-deflate",
                "Sec-WebSocket-Protocol: v2.chat",
                "Sec-WebSocket-Protocol: v1.chat , ,mqtt",
            ]),
        ),
        (
            "version-8",
            crlf(&[
                "GET / HTTP/1.1",
                "Host: h",
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                "Sec-WebSocket-Version: 8",
            ]),
        ),
        ("post", crlf(&["POST / HTTP/1.1", "Host: h", "Content-Length: 0"])),
        ("http-1.0", crlf(&["GET / HTTP/1.0", "Host: h"])),
        ("plain-get", crlf(&["GET /index.html HTTP/1.1", "Host: h", "Accept: text/html"])),
        (
            "h2c-upgrade",
            crlf(&[
                "GET / HTTP/1.1",
                "Host: h",
                "Connection: Upgrade, HTTP2-Settings",
                "Upgrade: h2c",
                "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA",
            ]),
        ),
        (
            "short-key",
            crlf(&[
                "GET / HTTP/1.1",
                "Host: h",
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZQ==",
                "Sec-WebSocket-Version: 13",
            ]),
        ),
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec()),
    ];
    for (name, bytes) in &seeds {
        w.put("handshake_request", name, bytes)?;
    }
    // What ws-proto's own client writes, with and without options, and with a
    // frame right behind the request.
    let ours = [
        ("ours-plain", ClientRequest::from_url("ws://h/")),
        (
            "ours-options",
            ClientRequest::from_url("wss://[::1]:8443/feed?x=1").map(|r| {
                r.protocol("chat")
                    .protocol("superchat")
                    .extension("permessage-deflate; client_max_window_bits")
                    .header("Origin", "https://example.com")
                    .header("Authorization", "Bearer abc")
            }),
        ),
    ];
    for (name, request) in ours {
        let request = request.map_err(|e| io::Error::other(e.to_string()))?;
        let (bytes, _) = request.into_handshake(&mut Randomness::seeded(3));
        w.put("handshake_request", name, &bytes)?;
        let mut with_frame = bytes;
        with_frame.extend_from_slice(&frame(true, 0, 0x1, Some(KEY), b"Hello"));
        w.put(
            "handshake_request",
            &format!("{name}-then-frame"),
            &with_frame,
        )?;
    }
    Ok(())
}

fn responses(w: &mut Writer) -> io::Result<()> {
    // The same clients the target builds (same URLs, options and seed), so
    // these answers carry the right Sec-WebSocket-Accept.
    let clients = [
        ("plain", ClientRequest::from_url("ws://h/"), None),
        (
            "options",
            ClientRequest::from_url("wss://example.com:8443/chat?x=1").map(|r| {
                r.protocol("chat")
                    .protocol("superchat")
                    .extension("permessage-deflate; client_max_window_bits")
            }),
            Some("chat"),
        ),
    ];
    for (name, request, protocol) in clients {
        let request = request.map_err(|e| io::Error::other(e.to_string()))?;
        let (bytes, _) = request.into_handshake(&mut Randomness::seeded(0));
        let (parsed, _) = Request::parse(&bytes)
            .map_err(|e| io::Error::other(e.to_string()))?
            .ok_or_else(|| io::Error::other("incomplete request"))?;
        let answer = match protocol {
            Some(p) => parsed
                .accept_with_protocol(p)
                .map_err(|e| io::Error::other(e.to_string()))?,
            None => parsed.accept(),
        };
        let answer = answer.to_bytes();
        w.put("handshake_response", &format!("accept-{name}"), &answer)?;
        let mut with_frame = answer.clone();
        with_frame.extend_from_slice(&frame(true, 0, 0x1, None, b"Hello"));
        w.put(
            "handshake_response",
            &format!("accept-{name}-then-frame"),
            &with_frame,
        )?;
        let text = String::from_utf8_lossy(&answer).into_owned();
        let deflate = text.replacen(
            "\r\n\r\n",
            "\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n",
            1,
        );
        w.put(
            "handshake_response",
            &format!("accept-{name}-deflate"),
            deflate.as_bytes(),
        )?;
        let lowercase = text.to_ascii_lowercase();
        w.put(
            "handshake_response",
            &format!("accept-{name}-lowercase"),
            lowercase.as_bytes(),
        )?;
    }
    let others: &[(&str, &[u8])] = &[
        (
            "rfc-1.3-accept",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
        ),
        (
            "forbidden",
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nforbidden",
        ),
        (
            "ok-html",
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<html></html>",
        ),
        (
            "upgrade-required",
            b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n\r\n",
        ),
        ("redirect", b"HTTP/1.1 302 Found\r\nLocation: wss://elsewhere/\r\n\r\n"),
        ("http-1.0-101", b"HTTP/1.0 101 Switching Protocols\r\n\r\n"),
        // Mutation lists for the structured half: (operation, position, byte).
        ("mutate-none", b""),
        ("mutate-overwrite", b"\x00\x10X"),
        ("mutate-insert-delete", b"\x01\x20 \x02\x05\x00"),
    ];
    for (name, bytes) in others {
        w.put("handshake_response", name, bytes)?;
    }
    Ok(())
}

fn structured(w: &mut Writer) -> io::Result<()> {
    for target in [
        "server_connection",
        "client_connection",
        "roundtrip",
        "frame_mode",
    ] {
        for (i, len) in [16usize, 48, 96, 160, 256, 512, 1024, 2048]
            .iter()
            .enumerate()
        {
            let seed = (i as u64 + 1) * 0x1000 + target.len() as u64;
            w.put(target, &format!("random-{len}"), &random_bytes(seed, *len))?;
        }
    }
    Ok(())
}

/// The handshake machine targets: more, longer random-ish seeds, since an
/// input there holds settings, a peer (raw or built by ws-proto's other
/// machine, with mutations) and a list of steps.
fn handshake_machines(w: &mut Writer) -> io::Result<()> {
    for (salt, target) in [(0x5e, "handshake_server"), (0xc1, "handshake_client")] {
        for (i, len) in [32usize, 64, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 4096]
            .iter()
            .enumerate()
        {
            let seed = (i as u64 + 1) * 0x1_0000 + salt;
            w.put(target, &format!("random-{len}"), &random_bytes(seed, *len))?;
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let root = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("corpus"), PathBuf::from);
    let mut w = Writer {
        root: root.clone(),
        count: 0,
    };
    frames(&mut w)?;
    requests(&mut w)?;
    responses(&mut w)?;
    structured(&mut w)?;
    handshake_machines(&mut w)?;
    println!(
        "wrote {} seed files under {}",
        w.count,
        Path::new(&root).display()
    );
    Ok(())
}
