//! `poll_event_ref` (payloads lent out) against `poll_event` (payloads
//! handed over): for any input, split anywhere, with any mix of the two
//! calls, the same events, errors, output and state.

mod common;

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use ws_proto::{
    Config, Connection, Event, EventRef, Extensions, Fragment, MessageKind, ProtocolError,
    Randomness, Role,
};

/// Which call drains events.
#[derive(Debug, Clone, Copy)]
enum Drain {
    Owned,
    Borrowed,
    /// Borrowed or owned, by the bits of the seed, call by call.
    Mixed(u64),
}

/// Everything observable after a run.
#[derive(Debug, PartialEq)]
struct Trace {
    events: Vec<Event>,
    error: Option<ws_proto::Error>,
    output: Vec<u8>,
    /// `receive_size_hint` and `ready_state` after each chunk.
    states: Vec<(usize, ws_proto::ReadyState)>,
}

fn receiver(role: Role, fragments: bool, max: usize, deflate: bool) -> Connection {
    let config = Config::default()
        .deliver_fragments(fragments)
        .max_frame_size(max)
        .max_message_size(max * 2)
        .randomness(Randomness::seeded(5));
    let extensions = if deflate {
        deflate_extensions()
    } else {
        Extensions::none()
    };
    Connection::with_extensions(role, config, extensions)
}

#[cfg(feature = "deflate")]
fn deflate_extensions() -> Extensions {
    let agreed = ws_proto::DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    Extensions::deflate(agreed)
}

#[cfg(not(feature = "deflate"))]
fn deflate_extensions() -> Extensions {
    Extensions::none()
}

/// Feeds `wire` in chunks of the given sizes (cycled), draining after each.
fn run(mut conn: Connection, wire: &[u8], sizes: &[usize], drain: Drain) -> Trace {
    let mut trace = Trace {
        events: Vec::new(),
        error: None,
        output: Vec::new(),
        states: Vec::new(),
    };
    let mut calls = 0u32;
    let mut at = 0;
    let mut i = 0;
    while at < wire.len() && trace.error.is_none() {
        let n = sizes[i % sizes.len()].min(wire.len() - at);
        conn.receive(&wire[at..at + n]);
        loop {
            let borrowed = match drain {
                Drain::Owned => false,
                Drain::Borrowed => true,
                Drain::Mixed(seed) => seed.rotate_left(calls) & 1 == 1,
            };
            calls += 1;
            let next = if borrowed {
                conn.poll_event_ref().map(|e| e.map(|e| e.to_event()))
            } else {
                conn.poll_event()
            };
            match next {
                Ok(Some(event)) => trace.events.push(event),
                Ok(None) => break,
                Err(err) => {
                    trace.error = Some(err);
                    break;
                }
            }
        }
        trace.output.extend(take_output(&mut conn));
        trace
            .states
            .push((conn.receive_size_hint(), conn.ready_state()));
        at += n;
        i += 1;
    }
    conn.receive_eof();
    loop {
        match conn.poll_event_ref() {
            Ok(Some(event)) => trace.events.push(event.to_event()),
            Ok(None) => break,
            Err(err) => {
                assert_eq!(trace.error.as_ref(), Some(&err), "errors are sticky");
                break;
            }
        }
    }
    trace
}

/// Frames a peer of `role`'s opposite would send: messages whole and in
/// pieces, pings, pongs, sometimes compressed, sometimes a close (the end).
fn valid_wire(role: Role, deflate: bool, seed: u64, ops: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let peer_role = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let config = Config::default().randomness(Randomness::seeded(seed));
    let extensions = if deflate {
        deflate_extensions()
    } else {
        Extensions::none()
    };
    let mut peer = Connection::with_extensions(peer_role, config, extensions);
    for (kind, data) in ops {
        let text = String::from_utf8_lossy(data).into_owned();
        match kind % 7 {
            0 => peer.send_binary(data.clone()).unwrap(),
            1 => peer.send_text(text).unwrap(),
            2 => peer
                .send_ping(data[..data.len().min(125)].to_vec())
                .unwrap(),
            3 => peer
                .send_pong(data[..data.len().min(125)].to_vec())
                .unwrap(),
            4 | 5 => {
                let (kind, bytes) = if kind % 7 == 4 {
                    (MessageKind::Binary, Bytes::from(data.clone()))
                } else {
                    (MessageKind::Text, Bytes::from(text.into_bytes()))
                };
                let mid = bytes.len() / 2;
                for (i, piece) in [bytes.slice(..mid), bytes.slice(mid..)]
                    .into_iter()
                    .enumerate()
                {
                    peer.send_fragment(Fragment {
                        kind,
                        data: piece,
                        is_first: i == 0,
                        is_last: i == 1,
                    })
                    .unwrap();
                }
            }
            _ => {
                peer.close(ws_proto::CloseCode::NORMAL, "bye").unwrap();
                break;
            }
        }
    }
    take_output(&mut peer)
}

fn all_three(wire: &[u8], sizes: &[usize], make: impl Fn() -> Connection, seed: u64) {
    let owned = run(make(), wire, sizes, Drain::Owned);
    let borrowed = run(make(), wire, sizes, Drain::Borrowed);
    let mixed = run(make(), wire, sizes, Drain::Mixed(seed));
    assert_eq!(owned, borrowed, "owned vs borrowed");
    assert_eq!(owned, mixed, "owned vs mixed");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn borrowed_and_owned_agree_on_valid_traffic(
        ops in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..300)), 1..10),
        server_role in any::<bool>(),
        fragments in any::<bool>(),
        deflate in any::<bool>(),
        chunks in prop::collection::vec(1usize..400, 1..6),
        seed in any::<u64>(),
    ) {
        let role = if server_role { Role::Server } else { Role::Client };
        let wire = valid_wire(role, deflate, seed, &ops);
        all_three(&wire, &chunks, || receiver(role, fragments, 1 << 20, deflate), seed);
    }

    #[test]
    fn borrowed_and_owned_agree_on_damaged_traffic(
        ops in prop::collection::vec((any::<u8>(), prop::collection::vec(any::<u8>(), 0..200)), 1..6),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        tail in prop::collection::vec(any::<u8>(), 0..40),
        server_role in any::<bool>(),
        fragments in any::<bool>(),
        deflate in any::<bool>(),
        max in 0usize..300,
        chunks in prop::collection::vec(1usize..60, 1..6),
        seed in any::<u64>(),
    ) {
        let role = if server_role { Role::Server } else { Role::Client };
        let mut wire = valid_wire(role, deflate, seed, &ops);
        for (at, bits) in flips {
            if !wire.is_empty() {
                let i = at.index(wire.len());
                wire[i] ^= bits;
            }
        }
        wire.extend_from_slice(&tail);
        all_three(&wire, &chunks, || receiver(role, fragments, max, deflate), seed);
    }

    #[test]
    fn borrowed_and_owned_agree_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        server_role in any::<bool>(),
        fragments in any::<bool>(),
        max in 0usize..300,
        chunks in prop::collection::vec(1usize..50, 1..5),
        seed in any::<u64>(),
    ) {
        let role = if server_role { Role::Server } else { Role::Client };
        all_three(&bytes, &chunks, || receiver(role, fragments, max, false), seed);
    }
}

#[test]
fn every_split_of_a_mixed_stream_gives_the_same_events() {
    let mut wire = Vec::new();
    wire.extend(client_frame(true, 0x2, &[1, 2, 3]));
    wire.extend(client_frame(true, 0x1, "héllo".as_bytes()));
    wire.extend(client_frame(false, 0x1, b"in "));
    wire.extend(client_frame(true, 0x9, b"ping"));
    wire.extend(client_frame(true, 0x0, b"pieces"));
    wire.extend(client_frame(true, 0x2, &[7; 300]));
    wire.extend(client_frame(true, 0xA, b""));
    wire.extend(client_frame(true, 0x8, &[0x03, 0xe8]));
    let whole = run(server(), &wire, &[wire.len()], Drain::Owned);
    assert_eq!(whole.events.len(), 7);
    for split in 1..wire.len() {
        let sizes = [split, wire.len()];
        for drain in [
            Drain::Owned,
            Drain::Borrowed,
            Drain::Mixed(0x5555_5555_5555_5555),
        ] {
            let mut trace = run(server(), &wire, &sizes, drain);
            trace.states.clear();
            let mut want = run(server(), &wire, &[wire.len()], Drain::Owned);
            want.states.clear();
            assert_eq!(trace, want, "split at {split}, {drain:?}");
        }
    }
}

#[test]
fn lent_payloads_are_unmasked_in_place_and_text_is_validated() {
    let mut conn = server();
    let mut wire = client_frame(true, 0x1, "héllo".as_bytes());
    wire.extend(client_frame(true, 0x2, &[0xff; 130]));
    conn.receive(&wire);
    assert_eq!(conn.poll_event_ref(), Ok(Some(EventRef::Text("héllo"))));
    assert_eq!(
        conn.poll_event_ref(),
        Ok(Some(EventRef::Binary(&[0xff; 130][..])))
    );
    assert_eq!(conn.poll_event_ref(), Ok(None));

    conn.receive(&client_frame(true, 0x1, b"\xc3\x28"));
    assert_eq!(
        conn.poll_event_ref(),
        Err(ProtocolError::InvalidUtf8.into())
    );
    assert_eq!(conn.poll_event(), Err(ProtocolError::InvalidUtf8.into()));
    let out = take_output(&mut conn);
    assert_eq!(sent_close_code(&out), Some(1007));
}

#[test]
fn reassembled_messages_and_control_frames_are_lent_too() {
    let mut conn = server();
    let mut wire = client_frame(false, 0x2, b"ab");
    wire.extend(client_frame(true, 0x9, b"p"));
    wire.extend(client_frame(false, 0x0, b"cd"));
    wire.extend(client_frame(true, 0x0, b"ef"));
    conn.receive(&wire);
    assert_eq!(conn.poll_event_ref(), Ok(Some(EventRef::Ping(b"p"))));
    assert_eq!(conn.poll_event_ref(), Ok(Some(EventRef::Binary(b"abcdef"))));
    assert_eq!(conn.poll_event_ref(), Ok(None));
    // The automatic pong went out as with poll_event.
    assert_eq!(take_output(&mut conn), b"\x8a\x01p");
}

#[test]
fn a_close_frame_ends_the_borrowed_stream_as_the_owned_one() {
    let mut conn = server();
    let mut wire = client_frame(true, 0x2, b"last");
    wire.extend(client_frame(true, 0x8, &[0x03, 0xe8, b'o', b'k']));
    wire.extend(client_frame(true, 0x2, b"ignored"));
    conn.receive(&wire);
    assert_eq!(conn.poll_event_ref(), Ok(Some(EventRef::Binary(b"last"))));
    match conn.poll_event_ref() {
        Ok(Some(EventRef::Close(frame))) => assert_eq!(frame.code.0, 1000),
        other => panic!("{other:?}"),
    }
    assert_eq!(conn.poll_event_ref(), Ok(None));
    assert_eq!(conn.poll_event(), Ok(None));
}
