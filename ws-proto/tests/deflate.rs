//! permessage-deflate through whole connections (RFC 7692).
#![cfg(feature = "deflate")]

mod common;

use bytes::Bytes;
use common::*;
use ws_proto::handshake::{ClientRequest, Request};
use ws_proto::{
    Config, Connection, DeflateConfig, Event, Extensions, Message, ProtocolError, Randomness, Role,
    SendOptions,
};

/// Runs the real handshake between a client and a server configured with
/// `client` and `server` deflate preferences, and returns the connected pair.
fn negotiated_pair(
    client: Option<DeflateConfig>,
    server: Option<DeflateConfig>,
    frame_size: usize,
) -> Pair {
    let client_config = Config::default()
        .deflate(client)
        .randomness(Randomness::seeded(3))
        .max_send_frame_size(frame_size);
    let server_config = Config::default()
        .deflate(server)
        .max_send_frame_size(frame_size);
    let (bytes, pending) = ClientRequest::from_url("ws://h/")
        .unwrap()
        .offer_extensions(&client_config)
        .into_handshake(&mut Randomness::seeded(4));
    let (request, _) = Request::parse(&bytes).unwrap().unwrap();
    let (answer, server_ext) = request.accept_extensions(request.accept(), &server_config);
    let (response, _) = pending.parse_response(&answer.to_bytes()).unwrap().unwrap();
    assert_eq!(response.negotiated(), &server_ext, "both sides agree");
    Pair {
        client: Connection::with_extensions(
            Role::Client,
            client_config,
            response.negotiated().clone(),
        ),
        server: Connection::with_extensions(Role::Server, server_config, server_ext),
    }
}

fn messages() -> Vec<Message> {
    let text = "permessage-deflate shrinks repetitive text like this sentence. ".repeat(40);
    vec![
        Message::text(text.clone()),
        Message::text("short"),
        Message::binary(vec![0u8; 70_000]),
        Message::text(text),
        Message::binary(
            (0..5000u32)
                .map(|i| (i * 7919 % 251) as u8)
                .collect::<Vec<_>>(),
        ),
        Message::Ping(Bytes::from_static(b"control frames are never compressed")),
        Message::text(""),
        Message::binary(Vec::new()),
    ]
}

fn expected(m: &Message) -> Event {
    match m.clone() {
        Message::Text(t) => Event::Text(t),
        Message::Binary(b) => Event::Binary(b),
        Message::Ping(b) => Event::Ping(b),
        Message::Pong(b) => Event::Pong(b),
        Message::Close(c) => Event::Close(c),
        Message::Fragment(f) => Event::Fragment(f),
    }
}

#[test]
fn round_trips_with_every_parameter_combination() {
    let mut combos = 0;
    for server_nct in [false, true] {
        for client_nct in [false, true] {
            for server_bits in [9, 12, 15] {
                for client_bits in [9, 15] {
                    for frame_size in [usize::MAX, 1000] {
                        let config = DeflateConfig::default()
                            .server_no_context_takeover(server_nct)
                            .client_no_context_takeover(client_nct)
                            .server_max_window_bits(server_bits)
                            .client_max_window_bits(client_bits);
                        let mut pair =
                            negotiated_pair(Some(config.clone()), Some(config), frame_size);
                        for m in messages() {
                            pair.client.send(m.clone()).unwrap();
                            pair.server.send(m.clone()).unwrap();
                        }
                        let want: Vec<Event> = messages().iter().map(expected).collect();
                        let (got, err) = pair.deliver_to_server();
                        assert_eq!(err, None);
                        assert_eq!(got, want, "client -> server {server_nct} {client_nct} {server_bits} {client_bits}");
                        let (got, err) = pair.deliver_to_client();
                        assert_eq!(err, None);
                        // The client also sees the server's automatic pong.
                        let got: Vec<Event> = got
                            .into_iter()
                            .filter(|e| !matches!(e, Event::Pong(_)))
                            .collect();
                        assert_eq!(got, want, "server -> client");
                        combos += 1;
                    }
                }
            }
        }
    }
    assert_eq!(combos, 48);
}

#[test]
fn compressed_messages_are_smaller_and_marked_with_rsv1_on_the_first_frame_only() {
    let mut pair = negotiated_pair(
        Some(DeflateConfig::default()),
        Some(DeflateConfig::default()),
        64,
    );
    let text: String = (0..2000).map(|i| format!("{i},")).collect();
    pair.server.send_text(text.clone()).unwrap();
    let wire = take_output(&mut pair.server);
    assert!(wire.len() < text.len(), "{} of {}", wire.len(), text.len());
    let frames = parse_frames(&wire);
    assert!(frames.len() > 1, "fragmented at 64 bytes");
    assert_eq!(wire[0] & 0x40, 0x40, "RSV1 on the first frame");
    // Walk the headers: no continuation carries RSV1.
    let mut at = 0;
    let mut first = true;
    while at < wire.len() {
        let (h, n) = ws_proto::frame::FrameHeader::decode(&wire[at..])
            .unwrap()
            .unwrap();
        assert_eq!(h.rsv, if first { 0b100 } else { 0 });
        first = false;
        at += n + h.payload_len as usize;
    }
    assert_eq!(feed(&mut pair.client, &wire).0, [Event::Text(text.into())]);
}

#[test]
fn threshold_and_per_message_opt_out() {
    let config = DeflateConfig::default().threshold(100);
    let mut pair = negotiated_pair(Some(config.clone()), Some(config), usize::MAX);
    pair.server.send_text("x".repeat(99)).unwrap();
    let wire = take_output(&mut pair.server);
    assert_eq!(wire[0], 0x81, "below the threshold: not compressed");
    pair.server
        .send_with(
            Message::text("y".repeat(1000)),
            SendOptions::default().compress(false),
        )
        .unwrap();
    let wire2 = take_output(&mut pair.server);
    assert_eq!((wire2[0], wire2.len()), (0x81, 1004), "opted out");
    pair.server.send_text("z".repeat(1000)).unwrap();
    let wire3 = take_output(&mut pair.server);
    assert_eq!(wire3[0], 0xc1, "compressed");
    let mut all = wire;
    all.extend(wire2);
    all.extend(wire3);
    let (events, err) = feed(&mut pair.client, &all);
    assert_eq!(err, None);
    assert_eq!(events.len(), 3);
}

#[test]
fn rfc_7692_sample_through_a_connection() {
    let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    let mut client = Connection::with_extensions(
        Role::Client,
        Config::default(),
        Extensions::deflate(agreed.clone()),
    );
    // Section 7.2.3.1: "Hello" in one compressed frame, then 7.2.3.2 with the shared window,
    // then the same message split into two frames (section 7.2.3.1's second example).
    let mut wire = vec![0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    wire.extend([0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    let (events, err) = feed(&mut client, &wire);
    assert_eq!(err, None);
    assert_eq!(
        events,
        [Event::Text("Hello".into()), Event::Text("Hello".into())]
    );
    let mut client =
        Connection::with_extensions(Role::Client, Config::default(), Extensions::deflate(agreed));
    let split = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(feed(&mut client, &split).0, [Event::Text("Hello".into())]);
}

#[test]
fn decompression_bomb_is_refused_with_1009() {
    let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    let strong = DeflateConfig::default()
        .level(9)
        .negotiate(["permessage-deflate"].into_iter());
    let mut sender =
        Connection::with_extensions(Role::Client, Config::default(), Extensions::deflate(strong));
    sender.send_binary(vec![0u8; 32 << 20]).unwrap();
    let wire = take_output(&mut sender);
    assert!(
        wire.len() < 64 * 1024,
        "32 MiB of zeros compresses to {} bytes",
        wire.len()
    );
    for fragments in [false, true] {
        let config = Config::default()
            .max_message_size(1 << 20)
            .deliver_fragments(fragments);
        let mut server =
            Connection::with_extensions(Role::Server, config, Extensions::deflate(agreed.clone()));
        let (_, err) = feed(&mut server, &wire);
        assert!(
            matches!(err, Some(ProtocolError::MessageTooLarge { max, .. }) if max == 1 << 20),
            "{err:?}"
        );
        assert_eq!(sent_close_code(&take_output(&mut server)), Some(1009));
    }
}

#[test]
fn rsv1_rules_with_deflate() {
    let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    let server = || {
        Connection::with_extensions(
            Role::Server,
            Config::default(),
            Extensions::deflate(agreed.clone()),
        )
    };
    let key = Some([1, 2, 3, 4]);
    // RSV1 on a control frame.
    let (_, err) = feed(&mut server(), &frame(true, 0b100, 9, key, b""));
    assert_eq!(err, Some(ProtocolError::ReservedBitsSet { bits: 0b100 }));
    // RSV1 on a continuation frame.
    let mut bytes = frame(false, 0b100, 1, key, &[0xf2, 0x48]);
    bytes.extend(frame(true, 0b100, 0, key, &[0xcd]));
    let (_, err) = feed(&mut server(), &bytes);
    assert_eq!(err, Some(ProtocolError::ReservedBitsSet { bits: 0b100 }));
    // RSV2 is still reserved.
    let (_, err) = feed(&mut server(), &frame(true, 0b010, 1, key, b"x"));
    assert_eq!(err, Some(ProtocolError::ReservedBitsSet { bits: 0b010 }));
    // Garbage in a compressed frame: 1007.
    let mut s = server();
    let (_, err) = feed(&mut s, &frame(true, 0b100, 2, key, &[0xff, 0xff, 0xff]));
    assert_eq!(err, Some(ProtocolError::InvalidCompressedData));
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1007));
    // Compressed text that inflates to invalid UTF-8: 1007.
    let mut c = Connection::with_extensions(
        Role::Client,
        Config::default(),
        Extensions::deflate(agreed.clone()),
    );
    c.send_binary(vec![0xff; 100]).unwrap();
    let mut wire = take_output(&mut c);
    wire[0] = (wire[0] & 0xf0) | 0x1; // relabel as text
    let (_, err) = feed(&mut server(), &wire);
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
}

#[test]
fn fragment_delivery_inflates_piece_by_piece() {
    let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    let mut sender = Connection::with_extensions(
        Role::Server,
        Config::default().max_send_frame_size(10),
        Extensions::deflate(agreed.clone()),
    );
    let text = "streaming compressed text, ".repeat(50);
    sender.send_text(text.clone()).unwrap();
    sender.send_text(text.clone()).unwrap();
    let wire = take_output(&mut sender);
    let mut receiver = Connection::with_extensions(
        Role::Client,
        Config::default().deliver_fragments(true),
        Extensions::deflate(agreed),
    );
    let mut got = Vec::new();
    let mut messages = 0;
    for chunk in wire.chunks(7) {
        let (events, err) = feed(&mut receiver, chunk);
        assert_eq!(err, None);
        for e in events {
            let Event::Fragment(f) = e else {
                panic!("{e:?}")
            };
            got.extend_from_slice(&f.data);
            messages += usize::from(f.is_last);
        }
    }
    assert_eq!(messages, 2);
    assert_eq!(got, format!("{text}{text}").as_bytes());
}

#[test]
fn no_compression_without_agreement() {
    // Server has deflate off: the client's offer is declined, frames go uncompressed.
    let mut pair = negotiated_pair(Some(DeflateConfig::default()), None, usize::MAX);
    pair.client.send_text("a".repeat(500)).unwrap();
    let wire = take_output(&mut pair.client);
    assert_eq!(wire[0], 0x81);
    assert_eq!(feed(&mut pair.server, &wire).0.len(), 1);
    // And a client that did not offer rejects a server that answers with deflate anyway.
    let (bytes, pending) = ClientRequest::from_url("ws://h/")
        .unwrap()
        .into_handshake(&mut Randomness::seeded(1));
    let (request, _) = Request::parse(&bytes).unwrap().unwrap();
    let answer = request
        .accept()
        .header("Sec-WebSocket-Extensions", "permessage-deflate")
        .to_bytes();
    assert_eq!(
        pending.parse_response(&answer),
        Err(ws_proto::handshake::ResponseError::ExtensionNotOffered(
            "permessage-deflate".into()
        ))
    );
}

/// A compressed message sent a byte of deflate data per frame: pieces that
/// inflate to nothing are not handed out as empty middle fragments (the
/// uncompressed path never hands those out either), and nothing is lost.
#[test]
fn streamed_compressed_pieces_are_never_empty_in_the_middle() {
    let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    let mut client = Connection::with_extensions(
        Role::Client,
        Config::default().max_send_frame_size(1),
        Extensions::deflate(agreed.clone()),
    );
    let mut server = Connection::with_extensions(
        Role::Server,
        Config::default().deliver_fragments(true),
        Extensions::deflate(agreed),
    );
    let text = "a chat message, a chat message, a chat message ".repeat(8);
    client.send_text(text.as_str()).unwrap();
    server.receive(&take_output(&mut client));
    let mut pieces = Vec::new();
    while let Some(event) = server.poll_event().unwrap() {
        let Event::Fragment(piece) = event else {
            panic!("{event:?}")
        };
        pieces.push(piece);
    }
    assert!(pieces.len() > 2, "the message came in pieces");
    assert!(pieces[0].is_first && pieces.last().unwrap().is_last);
    for piece in &pieces[1..pieces.len() - 1] {
        assert!(!piece.data.is_empty(), "an empty middle piece");
    }
    let whole: Vec<u8> = pieces.iter().flat_map(|p| p.data.to_vec()).collect();
    assert_eq!(whole, text.as_bytes());
}
