//! One test per protocol rule: the error reported and the close code the peer gets.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use ws_proto::{
    CloseCode, CloseFrame, Config, Connection, Event, Fragment, MessageKind, ProtocolError,
    ReadyState, Role, SendError,
};

/// Feeds `bytes` to a fresh server and expects `err`, a close frame carrying
/// `code`, and the connection closed.
fn server_fails_with(bytes: &[u8], err: ProtocolError, code: u16) {
    let mut conn = server();
    let (_, got) = feed(&mut conn, bytes);
    assert_eq!(got, Some(err.clone()), "input {bytes:x?}");
    assert_eq!(err.close_code().0, code);
    assert_eq!(sent_close_code(&take_output(&mut conn)), Some(code));
    assert_eq!(conn.ready_state(), ReadyState::Closed);
    assert!(conn.should_close_transport());
    // Sticky.
    assert_eq!(conn.poll_event(), Err(err.into()));
    assert_eq!(conn.send_text("x"), Err(SendError::Closed));
}

#[test]
fn rfc_5_7_examples_byte_for_byte() {
    // A single-frame unmasked text message, to a client.
    let mut c = client();
    let (events, _) = feed(&mut c, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(events, [Event::Text("Hello".into())]);
    // A single-frame masked text message, to a server.
    let mut s = server();
    let (events, _) = feed(
        &mut s,
        &[
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    );
    assert_eq!(events, [Event::Text("Hello".into())]);
    // A fragmented unmasked text message.
    let (events, _) = feed(
        &mut c,
        &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
    );
    assert_eq!(events, [Event::Text("Hello".into())]);
    // Unmasked ping; the client answers with a masked pong "Hello".
    let (events, _) = feed(&mut c, &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(events, [Event::Ping(Bytes::from_static(b"Hello"))]);
    let pong = take_output(&mut c);
    assert_eq!(&pong[..2], &[0x8a, 0x85]);
    assert_eq!(parse_frames(&pong), [(0xa, true, b"Hello".to_vec())]);
    // Masked pong "Hello" to a server (the RFC's masked ping with opcode 0xA).
    let (events, _) = feed(
        &mut s,
        &[
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ],
    );
    assert_eq!(events, [Event::Pong(Bytes::from_static(b"Hello"))]);
    // 256 bytes and 64 KiB binary in one unmasked frame.
    let mut big = vec![0x82, 0x7e, 0x01, 0x00];
    big.extend(std::iter::repeat_n(7u8, 256));
    let (events, _) = feed(&mut c, &big);
    assert_eq!(events, [Event::Binary(vec![7; 256].into())]);
    let mut huge = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    huge.extend(std::iter::repeat_n(9u8, 65536));
    let (events, _) = feed(&mut c, &huge);
    assert_eq!(events, [Event::Binary(vec![9; 65536].into())]);
}

#[test]
fn server_rejects_unmasked_frames_and_client_rejects_masked_ones() {
    server_fails_with(
        &server_frame(true, 1, b"hi"),
        ProtocolError::UnmaskedFrameFromClient,
        1002,
    );
    let mut c = client();
    let (_, err) = feed(&mut c, &client_frame(true, 1, b"hi"));
    assert_eq!(err, Some(ProtocolError::MaskedFrameFromServer));
    assert_eq!(sent_close_code(&take_output(&mut c)), Some(1002));
}

#[test]
fn reserved_bits_without_extension() {
    for rsv in 1..8u8 {
        let bytes = frame(true, rsv, 1, Some([1, 2, 3, 4]), b"x");
        server_fails_with(&bytes, ProtocolError::ReservedBitsSet { bits: rsv }, 1002);
    }
}

#[test]
fn reserved_opcodes() {
    for op in (3..=7).chain(0xb..=0xf) {
        server_fails_with(
            &client_frame(true, op, b""),
            ProtocolError::ReservedOpcode(op),
            1002,
        );
    }
}

#[test]
fn control_frame_rules() {
    server_fails_with(
        &client_frame(true, 9, &[0; 126]),
        ProtocolError::ControlFrameTooLong { len: 126 },
        1002,
    );
    server_fails_with(
        &client_frame(false, 9, b"x"),
        ProtocolError::FragmentedControlFrame,
        1002,
    );
    server_fails_with(
        &client_frame(false, 8, b""),
        ProtocolError::FragmentedControlFrame,
        1002,
    );
    // 125 bytes is fine.
    let (events, err) = feed(&mut server(), &client_frame(true, 10, &[1; 125]));
    assert_eq!((events.len(), err), (1, None));
}

#[test]
fn control_frames_between_fragments_are_handled_at_once() {
    let mut s = server();
    let mut bytes = client_frame(false, 1, b"Hel");
    bytes.extend(client_frame(true, 9, b"p1"));
    bytes.extend(client_frame(false, 0, b"l"));
    bytes.extend(client_frame(true, 10, b"p2"));
    bytes.extend(client_frame(true, 0, b"o"));
    let (events, err) = feed(&mut s, &bytes);
    assert_eq!(err, None);
    assert_eq!(
        events,
        [
            Event::Ping(Bytes::from_static(b"p1")),
            Event::Pong(Bytes::from_static(b"p2")),
            Event::Text("Hello".into()),
        ]
    );
    assert_eq!(
        parse_frames(&take_output(&mut s)),
        [(0xa, true, b"p1".to_vec())]
    );
}

#[test]
fn fragmentation_sequence_rules() {
    server_fails_with(
        &client_frame(true, 0, b"x"),
        ProtocolError::UnexpectedContinuation,
        1002,
    );
    let mut bytes = client_frame(false, 1, b"a");
    bytes.extend(client_frame(true, 2, b"b"));
    server_fails_with(&bytes, ProtocolError::ExpectedContinuation, 1002);
    let mut bytes = client_frame(false, 2, b"a");
    bytes.extend(client_frame(true, 1, b"b"));
    server_fails_with(&bytes, ProtocolError::ExpectedContinuation, 1002);
}

#[test]
fn invalid_utf8_fails_fast_within_a_frame() {
    // A 100-byte text frame of which only the first, invalid, part has arrived.
    let mut payload = "κόσμε".as_bytes().to_vec();
    payload.extend_from_slice(&[
        0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80,
    ]);
    payload.resize(100, b'a');
    let bytes = client_frame(true, 1, &payload);
    let mut s = server();
    // Up to and including 0xED the bytes could still be valid.
    let ok_prefix = 6 + "κόσμε".len() + 11 + 1;
    let (_, err) = feed(&mut s, &bytes[..ok_prefix]);
    assert_eq!(err, None);
    // 0xA0 after 0xED is a surrogate: reported now, 70 bytes before the frame ends.
    let (_, err) = feed(&mut s, &bytes[ok_prefix..ok_prefix + 1]);
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1007));
}

#[test]
fn invalid_utf8_fails_fast_across_fragments() {
    let mut s = server();
    let (_, err) = feed(&mut s, &client_frame(false, 1, "κόσμε".as_bytes()));
    assert_eq!(err, None);
    let (_, err) = feed(&mut s, &client_frame(false, 0, &[0xf4]));
    assert_eq!(err, None);
    let (_, err) = feed(&mut s, &client_frame(false, 0, &[0x90]));
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1007));
    // A code point cut off by the final frame.
    let mut bytes = client_frame(false, 1, b"ok");
    bytes.extend(client_frame(true, 0, &[0xe2, 0x82]));
    server_fails_with(&bytes, ProtocolError::InvalidUtf8, 1007);
    // A code point split across fragments is fine.
    let mut bytes = client_frame(false, 1, &[0xe2, 0x82]);
    bytes.extend(client_frame(true, 0, &[0xac]));
    assert_eq!(feed(&mut server(), &bytes).0, [Event::Text("€".into())]);
}

#[test]
fn close_frame_rules() {
    server_fails_with(
        &client_frame(true, 8, &[0x03]),
        ProtocolError::CloseFrameTooShort,
        1002,
    );
    for bad in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        server_fails_with(
            &client_frame(true, 8, &bad.to_be_bytes()),
            ProtocolError::InvalidCloseCode(bad),
            1002,
        );
    }
    server_fails_with(
        &client_frame(true, 8, b"\x03\xe8\xff\xfe"),
        ProtocolError::InvalidUtf8,
        1007,
    );
    for good in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut s = server();
        let (events, err) = feed(&mut s, &client_frame(true, 8, &good.to_be_bytes()));
        assert_eq!(err, None, "{good}");
        assert_eq!(events, [Event::Close(CloseFrame::new(CloseCode(good), ""))]);
        assert_eq!(
            sent_close_code(&take_output(&mut s)),
            Some(good),
            "the code is echoed"
        );
    }
}

#[test]
fn size_limits_are_checked_before_anything_is_buffered() {
    // A header announcing 2^62 bytes: refused from the header alone.
    let header = [0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    server_fails_with(
        &header,
        ProtocolError::FrameTooLarge {
            len: 1 << 62,
            max: 16 << 20,
        },
        1009,
    );
    let config = Config::default().max_frame_size(100).max_message_size(150);
    let mut s = Connection::new(Role::Server, config.clone());
    let (_, err) = feed(&mut s, &client_frame(true, 2, &[0; 101])[..8]);
    assert_eq!(
        err,
        Some(ProtocolError::FrameTooLarge { len: 101, max: 100 })
    );
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1009));
    // The message limit across fragments, refused at the header of the fragment that crosses it.
    let mut s = Connection::new(Role::Server, config);
    let (_, err) = feed(&mut s, &client_frame(false, 2, &[0; 100]));
    assert_eq!(err, None);
    let second = client_frame(true, 0, &[0; 51]);
    let (_, err) = feed(&mut s, &second[..8]);
    assert_eq!(
        err,
        Some(ProtocolError::MessageTooLarge { len: 151, max: 150 })
    );
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1009));
}

#[test]
fn length_with_top_bit_set() {
    server_fails_with(
        &[0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
        ProtocolError::LengthTopBitSet,
        1002,
    );
}

#[test]
fn pings_are_answered_unless_disabled() {
    let mut s = server();
    feed(&mut s, &client_frame(true, 9, b"abc"));
    assert_eq!(
        parse_frames(&take_output(&mut s)),
        [(0xa, true, b"abc".to_vec())]
    );
    let mut s = Connection::new(Role::Server, Config::default().auto_pong(false));
    let (events, _) = feed(&mut s, &client_frame(true, 9, b"abc"));
    assert_eq!(events, [Event::Ping(Bytes::from_static(b"abc"))]);
    assert!(take_output(&mut s).is_empty());
}

#[test]
fn close_handshake_started_by_the_client() {
    let mut pair = Pair::new(Config::default(), Config::default());
    pair.client.close(CloseCode(4000), "rejected").unwrap();
    assert_eq!(pair.client.ready_state(), ReadyState::Closing);
    assert_eq!(pair.client.send_text("late"), Err(SendError::CloseSent));
    assert_eq!(
        pair.client.send_ping(Bytes::new()),
        Err(SendError::CloseSent)
    );
    // The server can still send data before it sees the close.
    pair.server.send_text("in flight").unwrap();
    let (events, _) = pair.deliver_to_server();
    assert_eq!(
        events,
        [Event::Close(CloseFrame::new(CloseCode(4000), "rejected"))]
    );
    assert_eq!(pair.server.ready_state(), ReadyState::Closed);
    assert!(pair.server.should_close_transport());
    let (events, _) = pair.deliver_to_client();
    assert_eq!(
        events,
        [
            Event::Text("in flight".into()),
            // The reply carries the code and the reason back.
            Event::Close(CloseFrame::new(CloseCode(4000), "rejected"))
        ]
    );
    assert_eq!(pair.client.ready_state(), ReadyState::Closed);
    assert!(
        !pair.client.should_close_transport(),
        "the client waits for the server to close TCP"
    );
    // Nothing more is reported, and bytes after the close frame are ignored.
    let (events, err) = feed(&mut pair.client, &server_frame(true, 1, b"ignored"));
    assert_eq!((events, err), (vec![], None));
    pair.client.receive_eof();
    assert!(pair.client.should_close_transport());
    assert_eq!(pair.client.poll_event(), Ok(None));
}

#[test]
fn client_gives_up_waiting_for_the_server_to_close_tcp() {
    let mut pair = Pair::new(
        Config::default().close_timeout(Duration::from_secs(2)),
        Config::default(),
    );
    pair.server.close(CloseCode::GOING_AWAY, "restart").unwrap();
    pair.deliver_to_client();
    pair.deliver_to_server();
    let now = Instant::now();
    assert!(!pair.client.should_close_transport());
    let deadline = pair.client.poll_timeout(now).unwrap();
    assert_eq!(deadline, now + Duration::from_secs(2));
    pair.client.handle_timeout(now + Duration::from_secs(1));
    assert!(
        !pair.client.should_close_transport(),
        "an early timeout does nothing"
    );
    pair.client.handle_timeout(deadline);
    assert!(pair.client.should_close_transport());
    assert_eq!(
        pair.client.poll_event(),
        Ok(None),
        "the close was already reported"
    );
}

#[test]
fn peer_that_never_answers_our_close_times_out_as_abnormal() {
    let mut s = server();
    s.close(CloseCode::NORMAL, "").unwrap();
    let now = Instant::now();
    let deadline = s.poll_timeout(now).unwrap();
    s.handle_timeout(deadline);
    assert_eq!(s.ready_state(), ReadyState::Closed);
    assert!(s.should_close_transport());
    let (events, _) = drain(&mut s);
    let [Event::Close(frame)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(frame.code, CloseCode::ABNORMAL);
    assert!(frame.reason.contains("close timeout"), "{}", frame.reason);
}

#[test]
fn transport_dropping_without_close_is_abnormal_after_buffered_frames() {
    let mut s = server();
    let mut bytes = client_frame(true, 2, b"last words");
    bytes.extend(&client_frame(true, 2, b"cut off")[..5]);
    s.receive(&bytes);
    s.receive_eof();
    let (events, err) = drain(&mut s);
    assert_eq!(err, None);
    assert_eq!(
        events,
        [
            Event::Binary(Bytes::from_static(b"last words")),
            Event::Close(CloseFrame::new(CloseCode::ABNORMAL, "")),
        ]
    );
    assert_eq!(s.send_text("x"), Err(SendError::Closed));
}

#[test]
fn data_arriving_after_our_close_is_still_delivered() {
    let mut s = server();
    s.close(CloseCode::NORMAL, "").unwrap();
    let (events, _) = feed(&mut s, &client_frame(true, 1, b"late"));
    assert_eq!(events, [Event::Text("late".into())]);
    assert!(take_output(&mut s).len() > 2);
    // A ping after our close is not answered: nothing may follow a close frame.
    feed(&mut s, &client_frame(true, 9, b""));
    assert!(take_output(&mut s).is_empty());
}

#[test]
fn empty_close_is_echoed_empty() {
    let mut s = server();
    let (events, _) = feed(&mut s, &client_frame(true, 8, b""));
    assert_eq!(
        events,
        [Event::Close(CloseFrame::new(
            CloseCode::NO_STATUS_RECEIVED,
            ""
        ))]
    );
    assert_eq!(parse_frames(&take_output(&mut s)), [(8, true, vec![])]);
}

#[test]
fn send_errors() {
    let mut c = client();
    assert_eq!(
        c.send_ping(vec![0; 126]),
        Err(SendError::ControlPayloadTooLong { len: 126 })
    );
    assert_eq!(
        c.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(SendError::ControlPayloadTooLong { len: 126 })
    );
    assert_eq!(
        c.close(CloseCode(1005), "r"),
        Err(SendError::InvalidCloseCode(1005))
    );
    assert_eq!(
        c.close(CloseCode(2000), ""),
        Err(SendError::InvalidCloseCode(2000))
    );
    assert!(c.close(CloseCode::NORMAL, &"x".repeat(123)).is_ok());
}

#[test]
fn fragment_delivery_hands_out_pieces_as_they_arrive() {
    let config = Config::default().deliver_fragments(true);
    let mut s = Connection::new(Role::Server, config);
    let frame1 = client_frame(false, 1, "Hello, ".as_bytes());
    let frame2 = client_frame(true, 0, "wörld".as_bytes());
    let (events, _) = feed(&mut s, &frame1[..9]); // header + 3 bytes
    assert_eq!(
        events,
        [Event::Fragment(Fragment {
            kind: MessageKind::Text,
            data: "Hel".into(),
            is_first: true,
            is_last: false
        })]
    );
    let (events, _) = feed(&mut s, &frame1[9..]);
    assert_eq!(
        events,
        [Event::Fragment(Fragment {
            kind: MessageKind::Text,
            data: "lo, ".into(),
            is_first: false,
            is_last: false
        })]
    );
    // The 'ö' is split between two reads; each piece is handed out anyway.
    let (events, _) = feed(&mut s, &frame2[..8]);
    let (more, err) = feed(&mut s, &frame2[8..]);
    assert_eq!(err, None);
    let pieces: Vec<u8> = events
        .into_iter()
        .chain(more)
        .flat_map(|e| match e {
            Event::Fragment(f) => f.data.to_vec(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(pieces, "wörld".as_bytes());
    // Invalid UTF-8 in a piece still fails fast.
    let (_, err) = feed(&mut s, &client_frame(false, 1, &[b'a', 0xff]));
    assert_eq!(err, Some(ProtocolError::InvalidUtf8));
}

#[test]
fn outgoing_messages_are_fragmented_when_configured() {
    let mut pair = Pair::new(Config::default(), Config::default().max_send_frame_size(4));
    pair.server.send_text("abcdefghij").unwrap();
    let wire = take_output(&mut pair.server);
    let frames = parse_frames(&wire);
    assert_eq!(
        frames,
        [
            (1, false, b"abcd".to_vec()),
            (0, false, b"efgh".to_vec()),
            (0, true, b"ij".to_vec())
        ]
    );
    assert_eq!(
        feed(&mut pair.client, &wire).0,
        [Event::Text("abcdefghij".into())]
    );
}

#[test]
fn send_fragment_sequence_is_enforced() {
    let mut c = client();
    let piece = |first, last| Fragment {
        kind: MessageKind::Binary,
        data: Bytes::from_static(b"x"),
        is_first: first,
        is_last: last,
    };
    assert_eq!(
        c.send_fragment(piece(false, true)),
        Err(SendError::FragmentOutOfOrder)
    );
    c.send_fragment(piece(true, false)).unwrap();
    assert_eq!(
        c.send_fragment(piece(true, false)),
        Err(SendError::FragmentOutOfOrder)
    );
    assert_eq!(
        c.send_binary(Bytes::new()),
        Err(SendError::FragmentOutOfOrder)
    );
    c.send_ping(Bytes::new()).unwrap(); // control frames may interleave
    c.send_fragment(piece(false, true)).unwrap();
    c.send_binary(Bytes::new()).unwrap();
    let frames: Vec<(u8, bool)> = parse_frames(&take_output(&mut c))
        .into_iter()
        .map(|(o, f, _)| (o, f))
        .collect();
    assert_eq!(frames, [(2, false), (9, true), (0, true), (2, true)]);
}

#[test]
fn large_server_payloads_are_sent_without_copying() {
    let mut s = server();
    let payload = Bytes::from(vec![5u8; 1 << 20]);
    s.send_binary(payload.clone()).unwrap();
    let header = s.poll_transmit().unwrap();
    assert_eq!(&header[..], &[0x82, 127, 0, 0, 0, 0, 0, 0x10, 0, 0]);
    let body = s.poll_transmit().unwrap();
    assert_eq!(
        body.as_ptr(),
        payload.as_ptr(),
        "the caller's buffer is queued as is"
    );
}

#[test]
fn received_single_frame_payload_is_a_slice_of_the_read_buffer() {
    let mut c = client();
    let bytes = server_frame(true, 2, &[3u8; 1000]);
    c.receive_buffer().extend_from_slice(&bytes);
    let start = c.receive_buffer().as_ptr() as usize;
    let Ok(Some(Event::Binary(payload))) = c.poll_event() else {
        panic!()
    };
    let at = payload.as_ptr() as usize;
    assert!(
        at > start && at < start + bytes.len(),
        "payload points into the read buffer"
    );
}

#[test]
fn every_byte_boundary_gives_the_same_events() {
    let mut stream = Vec::new();
    stream.extend(client_frame(true, 1, "héllo".as_bytes()));
    stream.extend(client_frame(false, 2, &[1; 130]));
    stream.extend(client_frame(true, 9, b"ping"));
    // A 64-bit length (over 65,535 bytes), except under Miri, where feeding
    // it a byte at a time takes minutes; rfc_5_7_examples_byte_for_byte
    // covers that length there.
    let long = if cfg!(miri) { 300 } else { 70_000 };
    stream.extend(client_frame(true, 0, &vec![2; long]));
    stream.extend(client_frame(true, 8, b"\x03\xe8done"));
    let expected = feed(&mut server(), &stream);
    assert_eq!(expected.0.len(), 4);
    // Under Miri every split point costs a second: a sample of them.
    let step = if cfg!(miri) { 7 } else { 1 };
    for split in (0..stream.len().min(400)).step_by(step) {
        let mut s = server();
        let (mut events, err) = feed(&mut s, &stream[..split]);
        assert_eq!(err, None);
        let (more, err) = feed(&mut s, &stream[split..]);
        events.extend(more);
        assert_eq!((events, err), expected.clone(), "split at {split}");
    }
    // And one byte at a time.
    let mut s = server();
    let mut events = Vec::new();
    for b in &stream {
        let (more, err) = feed(&mut s, std::slice::from_ref(b));
        assert_eq!(err, None);
        events.extend(more);
    }
    assert_eq!(events, expected.0);
}

#[test]
fn queued_bytes_are_dropped_when_the_peer_stops_reading_after_the_end() {
    let mut s = server();
    s.send_binary(vec![0; 100_000]).unwrap();
    let (events, _) = feed(&mut s, &client_frame(true, 8, b"\x03\xe8"));
    assert_eq!(events.len(), 1);
    assert!(s.should_close_transport());
    assert!(
        s.buffered_amount() > 100_000,
        "message and close reply still queued"
    );
    let now = Instant::now();
    let deadline = s
        .poll_timeout(now)
        .expect("linger timer while bytes are queued");
    s.handle_timeout(deadline);
    assert_eq!(
        s.buffered_amount(),
        0,
        "given up on a peer that does not read"
    );
    assert_eq!(s.poll_timeout(deadline), None);
}

#[test]
fn receive_buffer_discards_input_after_the_end() {
    let mut s = server();
    feed(&mut s, &client_frame(true, 8, b""));
    s.receive_buffer().extend_from_slice(&[0; 4096]);
    s.receive_buffer().extend_from_slice(&[0; 4096]);
    assert!(s.receive_buffer().len() <= 4096 || s.receive_buffer().is_empty());
    assert!(s.receive_buffer().is_empty());
}

#[test]
fn keepalive_pings_a_quiet_peer_and_gives_up_on_a_dead_one() {
    let s1 = Duration::from_secs(1);
    let config = Config::default()
        .ping_interval(Some(10 * s1))
        .idle_timeout(Some(25 * s1));
    let mut pair = Pair::new(Config::default(), config);
    let t0 = Instant::now();
    assert_eq!(pair.server.poll_timeout(t0), Some(t0 + 10 * s1));
    // Quiet for 10 s: a ping goes out; the client answers it.
    pair.server.handle_timeout(t0 + 10 * s1);
    let (events, _) = pair.deliver_to_client();
    assert!(matches!(events[..], [Event::Ping(_)]), "{events:?}");
    let (events, _) = pair.deliver_to_server();
    assert!(matches!(events[..], [Event::Pong(_)]), "{events:?}");
    // The pong counts as activity: the next ping is 10 s after it.
    assert_eq!(pair.server.poll_timeout(t0 + 11 * s1), Some(t0 + 21 * s1));
    // Now the client goes silent: pings at 21 s and 31 s, then gives up at 36 s.
    pair.server.handle_timeout(t0 + 21 * s1);
    assert_eq!(parse_frames(&take_output(&mut pair.server))[0].0, 9);
    assert_eq!(pair.server.poll_timeout(t0 + 21 * s1), Some(t0 + 31 * s1));
    pair.server.handle_timeout(t0 + 31 * s1);
    take_output(&mut pair.server);
    assert_eq!(pair.server.poll_timeout(t0 + 31 * s1), Some(t0 + 36 * s1));
    pair.server.handle_timeout(t0 + 36 * s1);
    assert_eq!(pair.server.ready_state(), ReadyState::Closed);
    assert!(pair.server.should_close_transport());
    assert_eq!(
        sent_close_code(&take_output(&mut pair.server)),
        Some(1001),
        "the peer is told 1001"
    );
    let (events, err) = drain(&mut pair.server);
    assert_eq!(err, None);
    let [Event::Close(frame)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(frame.code, CloseCode::ABNORMAL, "the application sees 1006");
    assert!(frame.reason.contains("idle"));
}

#[test]
fn keepalive_is_off_by_default_and_stops_once_closing() {
    let mut s = server();
    let t0 = Instant::now();
    assert_eq!(s.poll_timeout(t0), None);
    let config = Config::default().ping_interval(Some(Duration::from_secs(1)));
    let mut s = Connection::new(Role::Server, config.close_timeout(Duration::from_secs(30)));
    assert!(s.poll_timeout(t0).is_some());
    s.close(CloseCode::NORMAL, "").unwrap();
    take_output(&mut s);
    // Only the close timer runs now.
    assert_eq!(s.poll_timeout(t0), Some(t0 + Duration::from_secs(30)));
    s.handle_timeout(t0 + Duration::from_secs(2));
    assert!(take_output(&mut s).is_empty(), "no pings after close");
}

#[test]
fn input_after_an_abnormal_close_is_discarded_and_not_answered() {
    let mut c = client();
    c.receive(&server_frame(true, 9, b"ping"));
    c.receive_eof();
    let (events, _) = drain(&mut c);
    assert_eq!(events.len(), 2, "{events:?}"); // the ping, then Close(1006)
    assert!(
        take_output(&mut c).is_empty(),
        "no pong after the transport ended"
    );
    c.receive(&[0x81, 0x01, b'x']);
    assert_eq!(c.poll_event(), Ok(None));
    assert!(c.receive_buffer().is_empty());
}

#[test]
fn text_fragments_are_checked_across_pieces() {
    let mut s = server();
    let piece = |data: &'static [u8], is_first, is_last| Fragment {
        kind: MessageKind::Text,
        data: Bytes::from_static(data),
        is_first,
        is_last,
    };
    assert_eq!(
        s.send_fragment(piece(b"\xff", true, true)),
        Err(SendError::InvalidUtf8)
    );
    s.send_fragment(piece(b"\xe2\x82", true, false)).unwrap();
    assert_eq!(
        s.send_fragment(piece(b"x", false, true)),
        Err(SendError::InvalidUtf8)
    );
    s.send_fragment(piece(b"\xac", false, true)).unwrap();
    let wire = take_output(&mut s);
    assert_eq!(feed(&mut client(), &wire).0, [Event::Text("€".into())]);
}
