//! The driver behind `roundtrip`: what one endpoint sends, the other must
//! receive, in order, whatever the frame size, the chunking of the byte
//! stream and the delivery mode; and the replies (pongs, the close echo) must
//! come back.

use arbitrary::Arbitrary;
use bytes::Bytes;
use ws_proto::{CloseCode, Config, Connection, Fragment, MessageKind, Randomness, Role};

use crate::events::{EventChecker, Logical};
use crate::scenario::Kind;
use crate::wire::OutputTracker;

/// Large enough for any fuzz input, small enough for the memory limit.
const RECEIVER_LIMIT: usize = 1 << 20;

/// Codes an application may send, plus 1005 (an empty close body).
const CLOSE_CODES: [u16; 14] = [
    1000, 1001, 1002, 1003, 1005, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 4999,
];

/// One thing the sender sends.
#[derive(Arbitrary, Debug)]
pub enum Item {
    /// `send_text`.
    Text(String),
    /// `send_binary`.
    Binary(Vec<u8>),
    /// `send_binary` of `len % 6145` copies of `byte` (64 KiB in all): large payloads from small inputs.
    BinaryFill {
        /// The byte.
        byte: u8,
        /// The length.
        len: u16,
    },
    /// `send_ping` (cut to 125 bytes).
    Ping(Vec<u8>),
    /// `send_pong` (cut to 125 bytes).
    Pong(Vec<u8>),
    /// A message sent with `send_fragment`, cut at `cuts`, with pings between pieces.
    Fragmented {
        /// Text or binary.
        kind: Kind,
        /// The text, for a text message.
        text: String,
        /// The bytes, for a binary message.
        data: Vec<u8>,
        /// Cut positions (taken modulo the length plus one; repeats make empty pieces).
        cuts: Vec<u16>,
        /// Pings sent after piece `i`.
        pings: Vec<Vec<u8>>,
    },
}

/// A whole input for the `roundtrip` target.
#[derive(Arbitrary, Debug)]
pub struct RoundTrip {
    /// What is sent, in order.
    pub items: Vec<Item>,
    /// The sender's `max_send_frame_size` (0: never split).
    pub max_send_frame_size: u16,
    /// Read sizes on the receiving side, cycled (each plus one).
    pub chunks: Vec<u8>,
    /// Masking key seed.
    pub seed: u64,
    /// A close at the end: a code selector and a reason (cut to 123 bytes).
    pub close: Option<(u8, String)>,
}

fn cut_control(mut data: Vec<u8>) -> Vec<u8> {
    data.truncate(125);
    data
}

fn cut_reason(reason: &str) -> &str {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// Sends everything, returning the bytes written and what the peer should see
/// and send back.
fn send_all(sender: &mut Connection, input: &RoundTrip) -> (Vec<Logical>, Vec<Logical>) {
    let mut expected = Vec::new();
    let mut replies = Vec::new();
    let mut fill_budget: usize = 64 << 10;
    for item in &input.items {
        match item {
            Item::Text(t) => {
                sender.send_text(t.clone()).expect("send_text");
                expected.push(Logical::Text(t.clone()));
            }
            Item::Binary(b) => {
                sender.send_binary(b.clone()).expect("send_binary");
                expected.push(Logical::Binary(b.clone()));
            }
            Item::BinaryFill { byte, len } => {
                // At most 6 KiB each and 64 KiB in all, to stay far below the memory limits.
                let len = (usize::from(*len) % 6145).min(fill_budget);
                fill_budget -= len;
                let b = vec![*byte; len];
                sender.send_binary(b.clone()).expect("send_binary");
                expected.push(Logical::Binary(b));
            }
            Item::Ping(p) => {
                let p = cut_control(p.clone());
                sender.send_ping(p.clone()).expect("send_ping");
                expected.push(Logical::Ping(p.clone()));
                replies.push(Logical::Pong(p));
            }
            Item::Pong(p) => {
                let p = cut_control(p.clone());
                sender.send_pong(p.clone()).expect("send_pong");
                expected.push(Logical::Pong(p));
            }
            Item::Fragmented {
                kind,
                text,
                data,
                cuts,
                pings,
            } => {
                let bytes = match kind {
                    Kind::Text => Bytes::from(text.clone()),
                    Kind::Binary => Bytes::from(data.clone()),
                };
                let mut cuts: Vec<usize> = cuts
                    .iter()
                    .map(|&c| usize::from(c) % (bytes.len() + 1))
                    .collect();
                cuts.sort_unstable();
                cuts.push(bytes.len());
                let mut start = 0;
                for (i, &end) in cuts.iter().enumerate() {
                    let fragment = Fragment {
                        kind: MessageKind::from(*kind),
                        data: bytes.slice(start..end),
                        is_first: i == 0,
                        is_last: i + 1 == cuts.len(),
                    };
                    sender.send_fragment(fragment).expect("send_fragment");
                    start = end;
                    if let Some(p) = pings.get(i).filter(|_| i + 1 < cuts.len()) {
                        let p = cut_control(p.clone());
                        sender
                            .send_ping(p.clone())
                            .expect("send_ping between fragments");
                        expected.push(Logical::Ping(p.clone()));
                        replies.push(Logical::Pong(p));
                    }
                }
                expected.push(match kind {
                    Kind::Text => Logical::Text(text.clone()),
                    Kind::Binary => Logical::Binary(data.clone()),
                });
            }
        }
    }
    if let Some((selector, reason)) = &input.close {
        let code = CLOSE_CODES[usize::from(*selector) % CLOSE_CODES.len()];
        let reason = if code == 1005 { "" } else { cut_reason(reason) };
        sender.close(CloseCode(code), reason).expect("close");
        expected.push(Logical::Close(code, reason.to_owned()));
        // The reply echoes the code and the reason (1005: an empty body).
        replies.push(Logical::Close(code, reason.to_owned()));
    }
    (expected, replies)
}

/// Drains a connection's output, checking each frame for `role`.
fn take_output(conn: &mut Connection, role: Role) -> Vec<u8> {
    let mut tracker = OutputTracker::new(role);
    let mut all = Vec::new();
    while let Some(chunk) = conn.poll_transmit() {
        tracker.push(&chunk);
        all.extend_from_slice(&chunk);
    }
    tracker.assert_no_partial_frame();
    all
}

/// Feeds `bytes` to a fresh receiver in the given chunking; returns what it saw
/// and what it wrote back.
fn receive_all(
    role: Role,
    deliver_fragments: bool,
    bytes: &[u8],
    chunks: &[u8],
    seed: u64,
) -> (Vec<Logical>, Vec<u8>) {
    let config = Config::default()
        .max_frame_size(RECEIVER_LIMIT)
        .max_message_size(RECEIVER_LIMIT)
        .deliver_fragments(deliver_fragments)
        .randomness(Randomness::seeded(seed));
    let mut conn = Connection::new(role, config);
    let mut checker = EventChecker::new(deliver_fragments, RECEIVER_LIMIT);
    let mut sizes = chunks.iter().map(|&c| usize::from(c) + 1).cycle();
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = if chunks.is_empty() {
            rest.len()
        } else {
            sizes.next().unwrap_or(1).min(rest.len())
        };
        let (now, later) = rest.split_at(n);
        conn.receive(now);
        rest = later;
        while let Some(event) = conn.poll_event().expect("valid input") {
            checker.on_event(&event, false);
        }
    }
    let written = take_output(&mut conn, role);
    (checker.logical, written)
}

/// One direction: `sender_role` sends, the other role receives in both modes.
fn one_way(sender_role: Role, input: &RoundTrip) {
    let receiver_role = match sender_role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let config = Config::default()
        .max_send_frame_size(match input.max_send_frame_size {
            0 => usize::MAX,
            n => usize::from(n),
        })
        .randomness(Randomness::seeded(input.seed));
    let mut sender = Connection::new(sender_role, config);
    let (expected, replies) = send_all(&mut sender, input);
    let wire = take_output(&mut sender, sender_role);

    let (got, answer) = receive_all(receiver_role, false, &wire, &input.chunks, input.seed);
    assert_eq!(got, expected, "message mode: received != sent");
    let (got, answer_f) = receive_all(receiver_role, true, &wire, &input.chunks, input.seed);
    assert_eq!(got, expected, "fragment mode: received != sent");
    assert_eq!(
        answer, answer_f,
        "the two delivery modes answered differently"
    );

    // The replies go back to the sender.
    sender.receive(&answer);
    let mut checker = EventChecker::new(false, usize::MAX);
    while let Some(event) = sender.poll_event().expect("valid replies") {
        checker.on_event(&event, false);
    }
    assert_eq!(checker.logical, replies, "replies to the sender");
}

/// Runs both directions.
pub fn run(input: &RoundTrip) {
    one_way(Role::Client, input);
    one_way(Role::Server, input);
}
