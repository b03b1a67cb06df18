//! Frame mode (`Config::deliver_frames`, `Connection::send_frame`): frames
//! come out as the peer sent them, with every rule of message mode, and go
//! out as the caller shapes them, with the rules the core must keep.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use ws_proto::frame::OpCode;
use ws_proto::{
    CloseCode, Config, Connection, DeflateConfig, Event, EventRef, Extensions, Frame,
    ProtocolError, Randomness, ReadyState, Role, SendError,
};

fn frame_server(chunk: usize) -> Connection {
    Connection::new(Role::Server, Config::default().deliver_frames(chunk))
}

/// Feeds `bytes` and collects the frames until `Ok(None)` or an error.
fn frames(conn: &mut Connection, bytes: &[u8]) -> (Vec<Frame>, Option<ProtocolError>) {
    let (events, err) = feed(conn, bytes);
    let frames = events
        .into_iter()
        .map(|e| match e {
            Event::Frame(f) => *f,
            other => panic!("not a frame: {other:?}"),
        })
        .collect();
    (frames, err)
}

/// (fin, rsv, opcode, remaining, data) of each piece, for comparing.
fn summary(frames: &[Frame]) -> Vec<(bool, u8, OpCode, u64, Vec<u8>)> {
    frames
        .iter()
        .map(|f| (f.fin, f.rsv, f.opcode, f.remaining, f.data.to_vec()))
        .collect()
}

#[test]
fn fragments_with_interleaved_pings_come_out_in_order() {
    let wire = [
        client_frame(false, 1, b"Hel"),
        client_frame(true, 9, b"ping"),
        client_frame(false, 0, b"l"),
        client_frame(true, 10, b""),
        client_frame(true, 0, b"o"),
    ]
    .concat();
    let mut server = frame_server(1024);
    let (got, err) = frames(&mut server, &wire);
    assert_eq!(err, None);
    assert_eq!(
        summary(&got),
        [
            (false, 0, OpCode::Text, 0, b"Hel".to_vec()),
            (true, 0, OpCode::Ping, 0, b"ping".to_vec()),
            (false, 0, OpCode::Continuation, 0, b"l".to_vec()),
            (true, 0, OpCode::Pong, 0, vec![]),
            (true, 0, OpCode::Continuation, 0, b"o".to_vec()),
        ]
    );
    assert!(got.iter().all(|f| f.is_first && f.is_last_piece()));
    // The ping was answered, as in message mode.
    assert_eq!(
        parse_frames(&take_output(&mut server)),
        [(0xa, true, b"ping".to_vec())]
    );
}

#[test]
fn without_auto_pong_pings_are_left_to_the_application() {
    let config = Config::default().deliver_frames(64).auto_pong(false);
    let mut server = Connection::new(Role::Server, config);
    let (got, _) = frames(&mut server, &client_frame(true, 9, b"x"));
    assert_eq!(got[0].opcode, OpCode::Ping);
    assert!(take_output(&mut server).is_empty());
    // A proxy forwards it; the answer comes back the same way.
    server
        .send_frame(Frame::new(true, OpCode::Pong, got[0].data.clone()))
        .unwrap();
    assert_eq!(
        parse_frames(&take_output(&mut server)),
        [(0xa, true, b"x".to_vec())]
    );
}

#[test]
fn large_frames_come_in_chunks_with_first_and_last_flags() {
    let payload: Vec<u8> = (0..10u8).collect();
    let wire = [client_frame(false, 2, &payload), client_frame(true, 0, b"")].concat();
    let want = vec![
        (false, 0, OpCode::Binary, 6, payload[..4].to_vec()),
        (false, 0, OpCode::Binary, 2, payload[4..8].to_vec()),
        (false, 0, OpCode::Binary, 0, payload[8..].to_vec()),
        (true, 0, OpCode::Continuation, 0, vec![]),
    ];
    // All at once and a byte at a time: the same pieces.
    let (got, err) = frames(&mut frame_server(4), &wire);
    assert_eq!((summary(&got), err), (want.clone(), None));
    let flags: Vec<(bool, bool, Option<u64>)> = got
        .iter()
        .map(|f| (f.is_first, f.is_last_piece(), f.frame_len()))
        .collect();
    assert_eq!(
        flags,
        [
            (true, false, Some(10)),
            (false, false, None),
            (false, true, None),
            (true, true, Some(0))
        ]
    );
    let mut server = frame_server(4);
    let mut one_by_one = Vec::new();
    for b in &wire {
        one_by_one.extend(frames(&mut server, &[*b]).0);
    }
    assert_eq!(summary(&one_by_one), want);
}

#[test]
fn a_piece_is_held_until_it_is_whole_and_the_size_hint_says_so() {
    let mut server = frame_server(4);
    let wire = client_frame(true, 2, &[7; 10]);
    // Header (2 + 4 mask bytes) and 3 payload bytes: not yet a piece.
    let (got, _) = frames(&mut server, &wire[..9]);
    assert!(got.is_empty());
    assert_eq!(server.receive_size_hint(), 1);
    let (got, _) = frames(&mut server, &wire[9..10]);
    assert_eq!(got.len(), 1);
    assert_eq!(server.receive_size_hint(), 4);
}

#[test]
fn poll_event_ref_lends_the_same_frames() {
    let wire = [
        client_frame(false, 1, "h\u{e9}".as_bytes()),
        client_frame(true, 9, b"p"),
        client_frame(true, 0, &[b'x'; 9]),
    ]
    .concat();
    let owned = frames(&mut frame_server(4), &wire).0;
    let mut server = frame_server(4);
    server.receive(&wire);
    let mut lent = Vec::new();
    while let Some(event) = server.poll_event_ref().unwrap() {
        match event {
            EventRef::Frame(piece) => lent.push(piece.to_frame()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(lent, owned);
}

/// The inputs that break a rule, each with the error message mode reports.
fn violations() -> Vec<(&'static str, Vec<u8>, ProtocolError)> {
    let mask = Some([1, 2, 3, 4]);
    vec![
        (
            "unmasked",
            server_frame(true, 2, b"x"),
            ProtocolError::UnmaskedFrameFromClient,
        ),
        (
            "rsv1 without deflate",
            frame(true, 4, 1, mask, b"x"),
            ProtocolError::ReservedBitsSet { bits: 4 },
        ),
        (
            "rsv3 on a ping",
            frame(true, 1, 9, mask, b""),
            ProtocolError::ReservedBitsSet { bits: 1 },
        ),
        (
            "reserved opcode",
            client_frame(true, 3, b""),
            ProtocolError::ReservedOpcode(3),
        ),
        (
            "long ping",
            client_frame(true, 9, &[0; 126]),
            ProtocolError::ControlFrameTooLong { len: 126 },
        ),
        (
            "fragmented ping",
            client_frame(false, 9, b""),
            ProtocolError::FragmentedControlFrame,
        ),
        (
            "continuation first",
            client_frame(true, 0, b"x"),
            ProtocolError::UnexpectedContinuation,
        ),
        (
            "new message mid-way",
            [client_frame(false, 1, b"a"), client_frame(true, 2, b"b")].concat(),
            ProtocolError::ExpectedContinuation,
        ),
        (
            "bad text",
            client_frame(true, 1, b"ok \xff"),
            ProtocolError::InvalidUtf8,
        ),
        (
            "bad text across frames",
            [
                client_frame(false, 1, b"\xe2\x82"),
                client_frame(true, 0, b"x"),
            ]
            .concat(),
            ProtocolError::InvalidUtf8,
        ),
        (
            "text ends mid code point",
            [client_frame(false, 1, b"a"), client_frame(true, 0, b"\xe2")].concat(),
            ProtocolError::InvalidUtf8,
        ),
        (
            "one-byte close",
            client_frame(true, 8, b"\x03"),
            ProtocolError::CloseFrameTooShort,
        ),
        (
            "close 1006",
            client_frame(true, 8, &1006u16.to_be_bytes()),
            ProtocolError::InvalidCloseCode(1006),
        ),
        (
            "close reason not UTF-8",
            client_frame(true, 8, b"\x03\xe8\xff"),
            ProtocolError::InvalidUtf8,
        ),
        (
            "frame too large",
            client_frame(true, 2, &[0; 301]),
            ProtocolError::FrameTooLarge { len: 301, max: 300 },
        ),
        (
            "message too large",
            [
                client_frame(false, 2, &[0; 300]),
                client_frame(false, 0, &[0; 300]),
                client_frame(true, 0, &[0; 1]),
            ]
            .concat(),
            ProtocolError::MessageTooLarge { len: 601, max: 600 },
        ),
        (
            "length top bit",
            vec![0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
            ProtocolError::LengthTopBitSet,
        ),
    ]
}

#[test]
fn every_protocol_error_of_message_mode_is_an_error_in_frame_mode() {
    let limits = |c: Config| c.max_frame_size(300).max_message_size(600);
    for (name, wire, err) in violations() {
        let mut message_mode = Connection::new(Role::Server, limits(Config::default()));
        assert_eq!(
            feed(&mut message_mode, &wire).1,
            Some(err.clone()),
            "{name}"
        );
        for chunk in [1, 2, 5, 1 << 20] {
            let config = limits(Config::default()).deliver_frames(chunk);
            let mut conn = Connection::new(Role::Server, config);
            let (_, got) = frames(&mut conn, &wire);
            assert_eq!(got, Some(err.clone()), "{name}, chunk {chunk}");
            // The same close code goes to the peer, and the failure sticks.
            let code = err.close_code().0;
            assert_eq!(
                sent_close_code(&take_output(&mut conn)),
                Some(code),
                "{name}"
            );
            assert_eq!(conn.ready_state(), ReadyState::Closed);
            assert!(conn.should_close_transport());
            assert_eq!(conn.poll_event(), Err(err.clone().into()));
            assert_eq!(
                conn.send_frame(Frame::new(true, OpCode::Binary, "x")),
                Err(SendError::Closed)
            );
        }
    }
}

#[test]
fn the_peers_close_frame_comes_out_as_a_frame_and_is_answered() {
    let mut server = frame_server(16);
    let (got, _) = frames(&mut server, &client_frame(true, 8, b"\x03\xe8bye"));
    assert_eq!(
        summary(&got),
        [(true, 0, OpCode::Close, 0, b"\x03\xe8bye".to_vec())]
    );
    let close = got[0].close_frame().unwrap();
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::NORMAL, "bye")
    );
    assert_eq!(sent_close_code(&take_output(&mut server)), Some(1000));
    assert_eq!(server.ready_state(), ReadyState::Closed);
    assert!(server.should_close_transport());
    // Nothing follows it; an end without one is still `Event::Close`.
    assert_eq!(server.poll_event(), Ok(None));
    let mut other = frame_server(16);
    other.receive_eof();
    assert!(
        matches!(other.poll_event(), Ok(Some(Event::Close(f))) if f.code == CloseCode::ABNORMAL)
    );
}

#[test]
fn without_auto_close_reply_the_application_relays_the_answer() {
    // A proxy's leg towards a client: the client's close is forwarded
    // upstream, and upstream's answer comes back through `send_frame`.
    let config = Config::default()
        .deliver_frames(16)
        .auto_pong(false)
        .auto_close_reply(false);
    let mut leg = Connection::new(Role::Server, config);
    let (got, _) = frames(&mut leg, &client_frame(true, 8, b"\x0f\xa0going"));
    assert_eq!(got[0].opcode, OpCode::Close);
    assert!(take_output(&mut leg).is_empty(), "no automatic reply");
    assert_eq!(leg.ready_state(), ReadyState::Closing);
    assert!(!leg.should_close_transport());
    // Data may still go out before the answer (section 5.5.1 lets the
    // answer wait for a message in progress).
    leg.send_frame(Frame::new(true, OpCode::Binary, "late"))
        .unwrap();
    leg.send_frame(Frame::close(CloseCode(4000), "going"))
        .unwrap();
    assert_eq!(leg.ready_state(), ReadyState::Closed);
    assert!(leg.should_close_transport());
    let out = take_output(&mut leg);
    assert_eq!(parse_frames(&out)[0], (2, true, b"late".to_vec()));
    assert_eq!(sent_close_code(&out), Some(4000));
    assert_eq!(
        leg.send_frame(Frame::close(CloseCode::NORMAL, "")),
        Err(SendError::CloseSent)
    );
}

#[test]
fn an_unanswered_close_ends_at_the_close_timeout() {
    let config = Config::default()
        .auto_close_reply(false)
        .close_timeout(Duration::from_secs(1));
    // Message mode too: the knob is shared.
    let mut server = Connection::new(Role::Server, config);
    let (events, _) = feed(&mut server, &client_frame(true, 8, b"\x03\xe8"));
    assert!(matches!(&events[..], [Event::Close(_)]));
    let now = Instant::now();
    let deadline = server.poll_timeout(now).expect("the close timer runs");
    assert_eq!(deadline, now + Duration::from_secs(1));
    server.handle_timeout(deadline);
    assert_eq!(server.ready_state(), ReadyState::Closed);
    assert!(server.should_close_transport());
}

#[test]
fn outgoing_rules_are_enforced_with_clear_errors() {
    let mut s = server();
    let cases: Vec<(Frame, SendError)> = vec![
        (
            Frame::new(false, OpCode::Ping, ""),
            SendError::FragmentedControlFrame,
        ),
        (
            Frame::new(true, OpCode::Pong, vec![0; 126]),
            SendError::ControlPayloadTooLong { len: 126 },
        ),
        (
            Frame::first_piece(true, OpCode::Ping, 4, "ab"),
            SendError::ControlFrameInPieces,
        ),
        (
            Frame::new(true, OpCode::Binary, "x").with_rsv(0b100),
            SendError::ReservedBitsNotNegotiated { bits: 0b100 },
        ),
        (
            Frame::new(true, OpCode::Binary, "x").with_rsv(0b010),
            SendError::ReservedBitsNotNegotiated { bits: 0b010 },
        ),
        (
            Frame::new(true, OpCode::Ping, "").with_rsv(0b001),
            SendError::ReservedBitsNotNegotiated { bits: 0b001 },
        ),
        (
            Frame::new(true, OpCode::Continuation, "x"),
            SendError::FragmentOutOfOrder,
        ),
        (
            Frame::new(true, OpCode::Text, b"\xff".to_vec()),
            SendError::InvalidUtf8,
        ),
        (
            Frame::new(true, OpCode::Close, vec![3]),
            SendError::CloseFrameTooShort,
        ),
        (
            Frame::new(true, OpCode::Close, 1006u16.to_be_bytes().to_vec()),
            SendError::InvalidCloseCode(1006),
        ),
        (
            Frame::new(true, OpCode::Close, b"\x03\xe8\xff".to_vec()),
            SendError::InvalidUtf8,
        ),
        (
            // Longer than any frame can be.
            Frame {
                remaining: u64::MAX,
                ..Frame::new(true, OpCode::Binary, "ab")
            },
            SendError::PieceTooLong,
        ),
        (
            Frame::first_piece(true, OpCode::Binary, 4, "ab").next_piece("cd"),
            SendError::PieceOutOfOrder,
        ),
    ];
    for (frame, err) in cases {
        assert_eq!(s.send_frame(frame.clone()), Err(err), "{frame:?}");
    }
    assert!(
        take_output(&mut s).is_empty(),
        "rejected frames queue nothing"
    );
    // Fragmentation order, and text checked across frames.
    s.send_frame(Frame::new(false, OpCode::Text, b"\xe2\x82".to_vec()))
        .unwrap();
    assert_eq!(
        s.send_frame(Frame::new(true, OpCode::Binary, "x")),
        Err(SendError::FragmentOutOfOrder)
    );
    assert_eq!(s.send_text("x"), Err(SendError::FragmentOutOfOrder));
    assert_eq!(
        s.send_frame(Frame::new(true, OpCode::Continuation, "x")),
        Err(SendError::InvalidUtf8)
    );
    s.send_frame(Frame::new(true, OpCode::Ping, "between"))
        .unwrap();
    s.send_frame(Frame::new(true, OpCode::Continuation, b"\xac".to_vec()))
        .unwrap();
    // After our close, nothing.
    s.send_frame(Frame::close(CloseCode::NORMAL, "")).unwrap();
    assert_eq!(
        s.send_frame(Frame::new(true, OpCode::Binary, "x")),
        Err(SendError::CloseSent)
    );
    assert_eq!(
        s.send_frame(Frame::new(true, OpCode::Ping, "")),
        Err(SendError::CloseSent)
    );
    let sent = parse_frames(&take_output(&mut s));
    let opcodes: Vec<(u8, bool)> = sent.iter().map(|(op, fin, _)| (*op, *fin)).collect();
    assert_eq!(opcodes, [(1, false), (9, true), (0, true), (8, true)]);
    // Nothing before the handshake is done.
    let mut connecting = Connection::server(Config::default());
    assert_eq!(
        connecting.send_frame(Frame::new(true, OpCode::Binary, "")),
        Err(SendError::Connecting)
    );
}

fn deflate_pair_config() -> (Extensions, Extensions) {
    let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    (
        Extensions::deflate(agreed.clone()),
        Extensions::deflate(agreed),
    )
}

#[test]
fn a_compressed_message_is_relayed_without_inflating() {
    // client -> [proxy leg A (server) | proxy leg B (client)] -> upstream,
    // permessage-deflate negotiated alike on both sides of the proxy.
    let (ext_a, ext_b) = deflate_pair_config();
    let seeded = || Config::default().randomness(Randomness::seeded(5));
    let mut client = Connection::with_extensions(Role::Client, seeded(), ext_a.clone());
    let relay_config = || seeded().deliver_frames(32).auto_pong(false);
    let mut leg_a = Connection::with_extensions(Role::Server, relay_config(), ext_a);
    let mut leg_b = Connection::with_extensions(Role::Client, relay_config(), ext_b.clone());
    let mut upstream = Connection::with_extensions(Role::Server, Config::default(), ext_b);
    let text = "hello hello hello hello hello hello hello hello hello hello".repeat(4);
    client.send_text(text.as_str()).unwrap();
    client.send_ping("are you there").unwrap();
    let (pieces, err) = frames(&mut leg_a, &take_output(&mut client));
    assert_eq!(err, None);
    assert_eq!(pieces[0].rsv, 0b100, "RSV1 preserved");
    assert_eq!(pieces.last().unwrap().opcode, OpCode::Ping);
    let compressed: usize = pieces[..pieces.len() - 1]
        .iter()
        .map(|p| p.data.len())
        .sum();
    assert!(compressed < text.len(), "still compressed");
    for piece in pieces {
        leg_b.send_frame(piece).unwrap();
    }
    let (events, err) = feed(&mut upstream, &take_output(&mut leg_b));
    assert_eq!(err, None);
    assert_eq!(
        events,
        [
            Event::Text(text.as_str().into()),
            Event::Ping(Bytes::from_static(b"are you there"))
        ]
    );
}

#[test]
fn a_large_frame_is_relayed_in_bounded_memory() {
    const LEN: usize = 8 << 20;
    const CHUNK: usize = 64 << 10;
    let config = || Config::default().max_frame_size(LEN).deliver_frames(CHUNK);
    let mut leg_a = Connection::new(Role::Server, config());
    let mut leg_b = Connection::new(Role::Client, config().randomness(Randomness::seeded(9)));
    let mut upstream = Connection::new(
        Role::Server,
        Config::default().max_frame_size(LEN).deliver_frames(CHUNK),
    );
    // The sender's frame is produced piece by piece too.
    let mut sender = Connection::new(Role::Client, Config::default());
    let byte_at = |at: usize| (at / 50_000) as u8;
    let mut piece: Option<Frame> = None;
    let mut received = 0usize;
    let mut sent = 0usize;
    while sent < LEN {
        let n = (LEN - sent).min(50_000);
        let data = vec![byte_at(sent); n];
        let next = match &piece {
            None => Frame::first_piece(true, OpCode::Binary, LEN as u64, data),
            Some(previous) => previous.next_piece(data),
        };
        sender.send_frame(next.clone()).unwrap();
        piece = Some(next);
        sent += n;
        let (pieces, err) = frames(&mut leg_a, &take_output(&mut sender));
        assert_eq!(err, None);
        for p in pieces {
            assert!(p.data.len() <= CHUNK);
            leg_b.send_frame(p).unwrap();
        }
        assert!(leg_b.buffered_amount() <= 2 * CHUNK + 14);
        let (pieces, err) = frames(&mut upstream, &take_output(&mut leg_b));
        assert_eq!(err, None);
        for p in pieces {
            assert_eq!(p.remaining as usize, LEN - received - p.data.len());
            for (i, b) in p.data.iter().enumerate() {
                assert_eq!(*b, byte_at(received + i));
            }
            received += p.data.len();
        }
    }
    assert_eq!(received, LEN);
}

// ----- property tests -----

/// A frame as sent: (fin, opcode, payload); control frames are whole.
type Sent = (bool, OpCode, Vec<u8>);

/// A valid sequence of frames: messages split into frames, with control
/// frames between them.
fn frame_sequence() -> impl Strategy<Value = Vec<Sent>> {
    let message = (
        any::<bool>(),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..4),
        prop::collection::vec((0u8..3, prop::collection::vec(any::<u8>(), 0..=125)), 0..3),
    );
    prop::collection::vec(message, 1..6).prop_map(|messages| {
        let mut out = Vec::new();
        for (text, parts, controls) in messages {
            let count = parts.len();
            for (i, part) in parts.into_iter().enumerate() {
                let opcode = match (i, text) {
                    (0, true) => OpCode::Text,
                    (0, false) => OpCode::Binary,
                    _ => OpCode::Continuation,
                };
                // Text stays valid UTF-8: ASCII only, split anywhere.
                let part = if text {
                    part.into_iter().map(|b| b'a' + b % 26).collect()
                } else {
                    part
                };
                out.push((i + 1 == count, opcode, part));
                // Control frames may come between the fragments.
                if let Some((kind, payload)) = controls.get(i) {
                    let opcode = if *kind == 0 {
                        OpCode::Ping
                    } else {
                        OpCode::Pong
                    };
                    out.push((true, opcode, payload.clone()));
                }
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn frames_sent_are_frames_received_at_any_split(
        sequence in frame_sequence(),
        sender_is_client in any::<bool>(),
        piece_size in 1usize..300,
        chunk in 1usize..300,
        splits in prop::collection::vec(1usize..100, 1..6),
        seed in any::<u64>(),
    ) {
        let (send_role, recv_role) = if sender_is_client {
            (Role::Client, Role::Server)
        } else {
            (Role::Server, Role::Client)
        };
        let mut sender = Connection::new(send_role, Config::default().randomness(Randomness::seeded(seed)));
        let mut receiver = Connection::new(recv_role, Config::default().deliver_frames(chunk).auto_pong(false));
        for (fin, opcode, payload) in &sequence {
            let payload = Bytes::copy_from_slice(payload);
            if opcode.is_control() || payload.len() <= piece_size {
                sender.send_frame(Frame::new(*fin, *opcode, payload)).unwrap();
                continue;
            }
            // Longer data frames go out in pieces.
            let mut piece = Frame::first_piece(*fin, *opcode, payload.len() as u64, payload.slice(..piece_size));
            sender.send_frame(piece.clone()).unwrap();
            let mut at = piece_size;
            while at < payload.len() {
                let end = payload.len().min(at + piece_size);
                piece = piece.next_piece(payload.slice(at..end));
                sender.send_frame(piece.clone()).unwrap();
                at = end;
            }
        }
        let wire = take_output(&mut sender);
        let mut received: Vec<Sent> = Vec::new();
        let mut at = 0;
        let mut i = 0;
        while at < wire.len() {
            let n = splits[i % splits.len()].min(wire.len() - at);
            let (pieces, err) = frames(&mut receiver, &wire[at..at + n]);
            prop_assert_eq!(err, None);
            for p in pieces {
                // Control frames (at most 125 bytes) always come whole.
                prop_assert!(p.data.len() <= chunk || p.opcode.is_control());
                prop_assert_eq!(p.rsv, 0);
                if p.is_first {
                    received.push((p.fin, p.opcode, Vec::new()));
                }
                let last = received.last_mut().expect("a first piece came first");
                prop_assert_eq!((last.0, last.1), (p.fin, p.opcode));
                last.2.extend_from_slice(&p.data);
            }
            at += n;
            i += 1;
        }
        prop_assert_eq!(received, sequence);
    }

    #[test]
    fn arbitrary_bytes_fail_alike_in_both_modes(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        server_role in any::<bool>(),
        max in 0usize..200,
        chunk in 1usize..64,
        splits in prop::collection::vec(1usize..50, 1..5),
    ) {
        // Fed in the same pieces, both modes fail at the same point with
        // the same error (or neither fails).
        let role = if server_role { Role::Server } else { Role::Client };
        let config = || Config::default().max_frame_size(max).max_message_size(max * 2).randomness(Randomness::seeded(1));
        let mut messages = Connection::new(role, config());
        let mut frames_mode = Connection::new(role, config().deliver_frames(chunk));
        let mut at = 0;
        let mut i = 0;
        while at < bytes.len() {
            let n = splits[i % splits.len()].min(bytes.len() - at);
            let a = feed(&mut messages, &bytes[at..at + n]).1;
            let b = feed(&mut frames_mode, &bytes[at..at + n]).1;
            prop_assert_eq!(&a, &b);
            if a.is_some() {
                prop_assert_eq!(take_output(&mut messages), take_output(&mut frames_mode));
                break;
            }
            at += n;
            i += 1;
        }
    }
}
