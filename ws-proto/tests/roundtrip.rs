//! Property tests: whatever one side sends, the other side decodes the same,
//! whatever the chunking; arbitrary bytes never panic.

mod common;

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use ws_proto::{Config, Connection, Event, Fragment, Message, MessageKind, Role};

#[derive(Debug, Clone)]
enum Op {
    Send(Message),
    /// A message sent piece by piece with `send_fragment`.
    Pieces(MessageKind, Vec<Vec<u8>>),
}

fn op() -> impl Strategy<Value = Op> {
    let small = prop::collection::vec(any::<u8>(), 0..=125);
    prop_oneof![
        4 => ".{0,200}".prop_map(|s: String| Op::Send(Message::text(s))),
        4 => prop::collection::vec(any::<u8>(), 0..3000).prop_map(|b| Op::Send(Message::binary(b))),
        1 => prop::collection::vec(any::<u8>(), 65_530..65_540).prop_map(|b| Op::Send(Message::binary(b))),
        2 => small.clone().prop_map(|b| Op::Send(Message::Ping(b.into()))),
        2 => small.prop_map(|b| Op::Send(Message::Pong(b.into()))),
        2 => prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..5)
            .prop_map(|p| Op::Pieces(MessageKind::Binary, p)),
        2 => prop::collection::vec(".{0,40}", 1..5)
            .prop_map(|p: Vec<String>| Op::Pieces(MessageKind::Text, p.into_iter().map(String::into_bytes).collect())),
    ]
}

/// What the receiver should report for an operation.
fn expected(op: &Op) -> Event {
    match op {
        Op::Send(Message::Text(t)) => Event::Text(t.clone()),
        Op::Send(Message::Binary(b)) => Event::Binary(b.clone()),
        Op::Send(Message::Ping(b)) => Event::Ping(b.clone()),
        Op::Send(Message::Pong(b)) => Event::Pong(b.clone()),
        Op::Send(Message::Close(_) | Message::Fragment(_)) => unreachable!("not generated"),
        Op::Pieces(kind, pieces) => {
            let all: Vec<u8> = pieces.concat();
            match kind {
                MessageKind::Text => Event::Text(String::from_utf8(all).unwrap().into()),
                MessageKind::Binary => Event::Binary(all.into()),
            }
        }
    }
}

fn apply(conn: &mut Connection, op: &Op) {
    match op {
        Op::Send(m) => conn.send(m.clone()).unwrap(),
        Op::Pieces(kind, pieces) => {
            for (i, piece) in pieces.iter().enumerate() {
                conn.send_fragment(Fragment {
                    kind: *kind,
                    data: Bytes::copy_from_slice(piece),
                    is_first: i == 0,
                    is_last: i + 1 == pieces.len(),
                })
                .unwrap();
            }
        }
    }
}

/// Feeds `wire` in chunks of the given sizes (cycled), collecting events.
fn feed_chunked(conn: &mut Connection, wire: &[u8], sizes: &[usize]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < wire.len() {
        let n = sizes[i % sizes.len()].min(wire.len() - at);
        let (more, err) = feed(conn, &wire[at..at + n]);
        assert_eq!(err, None);
        events.extend(more);
        at += n;
        i += 1;
    }
    events
}

/// Joins fragment events back into whole messages; other events pass through.
fn reassemble(events: Vec<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    let mut current: Option<(MessageKind, Vec<u8>)> = None;
    for e in events {
        match e {
            Event::Fragment(f) => {
                if f.is_first {
                    assert!(current.is_none());
                    current = Some((f.kind, Vec::new()));
                }
                let (kind, buf) = current.as_mut().expect("piece without a start");
                buf.extend_from_slice(&f.data);
                if f.is_last {
                    out.push(match kind {
                        MessageKind::Text => {
                            Event::Text(String::from_utf8(buf.clone()).unwrap().into())
                        }
                        MessageKind::Binary => Event::Binary(buf.clone().into()),
                    });
                    current = None;
                }
            }
            other => out.push(other),
        }
    }
    assert!(current.is_none());
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn what_is_sent_is_what_is_received(
        ops in prop::collection::vec(op(), 1..12),
        sender_is_client in any::<bool>(),
        frame_size in prop_oneof![Just(usize::MAX), 1usize..64],
        fragments in any::<bool>(),
        chunks in prop::collection::vec(1usize..200, 1..8),
        seed in any::<u64>(),
    ) {
        let (send_role, recv_role) = if sender_is_client { (Role::Client, Role::Server) } else { (Role::Server, Role::Client) };
        let mut sender = Connection::new(send_role, Config::default()
            .max_send_frame_size(frame_size)
            .randomness(ws_proto::Randomness::seeded(seed)));
        let mut receiver = Connection::new(recv_role, Config::default().deliver_fragments(fragments));
        for op in &ops {
            apply(&mut sender, op);
        }
        let wire = take_output(&mut sender);
        let events = reassemble(feed_chunked(&mut receiver, &wire, &chunks));
        let want: Vec<Event> = ops.iter().map(expected).collect();
        prop_assert_eq!(events, want);
    }

    #[test]
    fn byte_at_a_time_equals_all_at_once(ops in prop::collection::vec(op(), 1..6)) {
        let mut sender = client();
        for op in &ops {
            apply(&mut sender, op);
        }
        let wire = take_output(&mut sender);
        let whole = feed(&mut server(), &wire).0;
        let single = feed_chunked(&mut server(), &wire, &[1]);
        prop_assert_eq!(whole, single);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_failures_end_with_a_close(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        server_role in any::<bool>(),
        fragments in any::<bool>(),
        max in 0usize..300,
        chunks in prop::collection::vec(1usize..50, 1..5),
    ) {
        let role = if server_role { Role::Server } else { Role::Client };
        let config = Config::default().max_frame_size(max).max_message_size(max * 2).deliver_fragments(fragments);
        let mut conn = Connection::new(role, config);
        let mut at = 0;
        let mut i = 0;
        let mut failed = false;
        while at < bytes.len() && !failed {
            let n = chunks[i % chunks.len()].min(bytes.len() - at);
            let (_, err) = feed(&mut conn, &bytes[at..at + n]);
            if let Some(err) = err {
                failed = true;
                let out = take_output(&mut conn);
                prop_assert_eq!(sent_close_code(&out), Some(err.close_code().0));
                prop_assert!(conn.should_close_transport());
                // Nothing more is ever written.
                prop_assert!(conn.send_text("x").is_err());
                conn.receive(&bytes);
                let _ = conn.poll_event();
                prop_assert!(conn.poll_transmit().is_none());
            }
            at += n;
            i += 1;
        }
    }
}
