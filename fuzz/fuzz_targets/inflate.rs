//! The permessage-deflate inflater under the message size limit.
//!
//! A server `Connection` with permessage-deflate negotiated (with and without
//! context takeover) is fed arbitrary compressed frames: the fuzz input is
//! the compressed payload of one or more RSV1 data messages, framed and
//! masked here so the bytes reach the inflater rather than the frame checks.
//! A second part compresses arbitrary data with a client and checks the
//! server gets it back exactly.
//!
//! Invariants:
//! * no panic, whatever the compressed bytes;
//! * every text message is valid UTF-8 and every message is at most the
//!   configured `max_message_size` (1009 otherwise, before more than about
//!   twice the limit is allocated; libFuzzer's -malloc_limit_mb catches more);
//! * a failure is one of invalid compressed data or invalid UTF-8 (1007) or
//!   too big (1009), and the close frame written carries that code;
//! * compressing then inflating gives back the input, byte for byte.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use ws_proto::{
    Config, Connection, DeflateConfig, Event, Extensions, ProtocolError, Randomness, Role,
};

/// The inflated-size limit: small, so a bomb must be refused quickly.
const MAX_MESSAGE: usize = 64 * 1024;

#[derive(Arbitrary, Debug)]
struct Input {
    no_context_takeover: bool,
    /// Compressed payloads sent as RSV1 messages (text when the flag is set).
    messages: Vec<(bool, Vec<u8>)>,
    /// Plain data compressed by a client and sent to the server.
    plain: Vec<u8>,
    text: String,
}

fn params(no_context_takeover: bool) -> Extensions {
    let offer = if no_context_takeover {
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
    } else {
        "permessage-deflate"
    };
    Extensions::deflate(DeflateConfig::default().negotiate([offer].into_iter()))
}

/// One masked client frame with RSV1 set.
fn compressed_frame(text: bool, payload: &[u8]) -> Vec<u8> {
    let key = [0x5a, 0xa5, 0x3c, 0xc3];
    let mut out = vec![0x80 | 0x40 | if text { 0x1 } else { 0x2 }];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn written_close_code(conn: &mut Connection) -> Option<u16> {
    let mut wire = Vec::new();
    while let Some(chunk) = conn.poll_transmit() {
        wire.extend_from_slice(&chunk);
    }
    // The server writes unmasked frames; the close is the last one.
    let mut at = 0;
    let mut code = None;
    while at + 2 <= wire.len() {
        let (h, n) = ws_proto::frame::FrameHeader::decode(&wire[at..]).ok()??;
        let payload = &wire[at + n..at + n + h.payload_len as usize];
        if h.opcode == ws_proto::frame::OpCode::Close {
            code = Some(if payload.len() >= 2 { u16::from_be_bytes([payload[0], payload[1]]) } else { 1005 });
        }
        at += n + h.payload_len as usize;
    }
    code
}

fn hostile(input: &Input) {
    let config = Config::default()
        .max_message_size(MAX_MESSAGE)
        .randomness(Randomness::seeded(1));
    let mut server = Connection::with_extensions(Role::Server, config, params(input.no_context_takeover));
    for (text, payload) in &input.messages {
        server.receive(&compressed_frame(*text, payload));
        loop {
            match server.poll_event() {
                Ok(Some(Event::Text(t))) => {
                    assert!(std::str::from_utf8(t.as_bytes()).is_ok());
                    assert!(t.len() <= MAX_MESSAGE);
                }
                Ok(Some(Event::Binary(b))) => assert!(b.len() <= MAX_MESSAGE),
                Ok(Some(other)) => panic!("unexpected event {other:?}"),
                Ok(None) => break,
                Err(err) => {
                    let err = ws_proto_fuzz::protocol_error(err);
                    assert!(
                        matches!(
                            err,
                            ProtocolError::InvalidCompressedData
                                | ProtocolError::InvalidUtf8
                                | ProtocolError::MessageTooLarge { .. }
                        ),
                        "{err:?}"
                    );
                    assert_eq!(written_close_code(&mut server), Some(err.close_code().0));
                    return;
                }
            }
        }
        while server.poll_transmit().is_some() {}
    }
}

fn round_trip(input: &Input) {
    let ext = params(input.no_context_takeover);
    let mut client = Connection::with_extensions(
        Role::Client,
        Config::default().randomness(Randomness::seeded(2)),
        ext.clone(),
    );
    let mut server = Connection::with_extensions(Role::Server, Config::default(), ext);
    client.send_binary(input.plain.clone()).expect("open connection");
    client.send_text(input.text.clone()).expect("open connection");
    while let Some(chunk) = client.poll_transmit() {
        server.receive(&chunk);
    }
    assert_eq!(server.poll_event(), Ok(Some(Event::Binary(input.plain.clone().into()))));
    assert_eq!(server.poll_event(), Ok(Some(Event::Text(input.text.clone().into()))));
    assert_eq!(server.poll_event(), Ok(None));
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    hostile(&input);
    round_trip(&input);
});
