//! Arbitrary bytes fed to a server and a client `Connection`, each in message
//! mode (with automatic pongs) and in fragment mode (without).
//!
//! Invariants, for every role and mode:
//! * every event is well-formed (`ws_proto_fuzz::events`): text is UTF-8,
//!   control payloads are at most 125 bytes, messages within the limits,
//!   fragments in a legal sequence, nothing after `Event::Close`;
//! * what the connection writes is exactly: one pong per ping event (message
//!   mode), then the echo of the peer's close or, after an error, one close
//!   frame whose code is `err.close_code()`; nothing after it, even when more
//!   bytes arrive; the error is sticky and sends fail with `Closed`;
//! * the outcome does not depend on how the bytes are chunked (one chunk vs.
//!   two, split where the input's hash says), nor, once fragments are put
//!   back together, on the delivery mode;
//! * nor on whether events are drained with `poll_event` or `poll_event_ref`
//!   (always, or mixed call by call as the input's hash says).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::{
    CloseFrame, Config, Connection, Error, Event, ProtocolError, Randomness, ReadyState, Role, SendError,
};
use ws_proto_fuzz::events::{EventChecker, Logical};
use ws_proto_fuzz::limits::{DECODE_MAX_FRAME, DECODE_MAX_MESSAGE};
use ws_proto_fuzz::wire::{OutputTracker, WireFrame};

#[derive(Debug, PartialEq)]
struct Outcome {
    logical: Vec<Logical>,
    error: Option<ProtocolError>,
}

/// Drains with `poll_event`, or with `poll_event_ref` where the bits of
/// `borrow` (rotated call by call) are set.
fn run(role: Role, fragments: bool, chunks: &[&[u8]], borrow: u64) -> Outcome {
    let config = Config::default()
        .max_frame_size(DECODE_MAX_FRAME)
        .max_message_size(DECODE_MAX_MESSAGE)
        .deliver_fragments(fragments)
        .auto_pong(!fragments)
        .randomness(Randomness::seeded(1));
    let mut conn = Connection::new(role, config);
    let mut checker = EventChecker::new(fragments, DECODE_MAX_MESSAGE);
    let mut error = None;
    let mut calls = 0u32;
    for chunk in chunks {
        conn.receive(chunk);
        loop {
            let borrowed = borrow.rotate_left(calls) & 1 == 1;
            calls = calls.wrapping_add(1);
            let next = if borrowed {
                conn.poll_event_ref().map(|e| e.map(|e| e.to_event()))
            } else {
                conn.poll_event()
            };
            match next {
                Ok(Some(event)) => {
                    assert!(error.is_none(), "event after an error");
                    checker.on_event(&event, false);
                    if let Event::Close(_) = event {
                        assert_eq!(conn.poll_event(), Ok(None), "event after Event::Close");
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let e = ws_proto_fuzz::protocol_error(e);
                    if let Some(first) = &error {
                        assert_eq!(&e, first, "errors are sticky");
                    }
                    assert!(!checker.closed, "error after Event::Close");
                    error = Some(e);
                    break;
                }
            }
        }
    }

    let mut out = OutputTracker::new(role);
    while let Some(chunk) = conn.poll_transmit() {
        out.push(&chunk);
    }
    out.assert_no_partial_frame();
    assert_eq!(conn.buffered_amount(), 0);

    // What must have been written: pongs, then at most one close frame.
    let pings: Vec<&Vec<u8>> = checker
        .logical
        .iter()
        .filter_map(|l| match l {
            Logical::Ping(p) => Some(p),
            _ => None,
        })
        .collect();
    let expected_pongs = if fragments { 0 } else { pings.len() };
    let closing = error.is_some() || checker.closed;
    assert_eq!(
        out.frames.len(),
        expected_pongs + usize::from(closing),
        "unexpected frames written: {:?}",
        out.frames
    );
    for (frame, ping) in out.frames.iter().zip(pings.iter().take(expected_pongs)) {
        assert_eq!((frame.opcode, &frame.payload), (0xA, *ping), "pong != ping");
    }
    if let Some(err) = &error {
        let last: &WireFrame = out.last().expect("close frame after an error");
        assert_eq!(last.close_code(), Some(err.close_code().0), "close code");
        assert_eq!(conn.ready_state(), ReadyState::Closed);
        assert!(conn.should_close_transport());
        // Sticky, input ignored, nothing more written, sends refused.
        conn.receive(b"\x89\x80\0\0\0\0\x89\x00");
        assert_eq!(conn.poll_event(), Err(Error::Protocol(err.clone())));
        assert_eq!(conn.send_ping(&b""[..]), Err(SendError::Closed));
        assert_eq!(conn.poll_transmit(), None);
    } else if checker.closed {
        let Some(Logical::Close(code, reason)) = checker.logical.last() else {
            unreachable!("closed is set by a Close event");
        };
        // The echo carries the peer's code and reason (1005: an empty body).
        let echo = CloseFrame::new(ws_proto::CloseCode(*code), reason.as_str()).encode();
        let last = out.last().expect("close echo");
        assert_eq!(
            (last.opcode, &last.payload[..]),
            (0x8, &echo[..]),
            "close echo"
        );
        assert_eq!(conn.ready_state(), ReadyState::Closed);
        assert_eq!(conn.should_close_transport(), role == Role::Server);
        conn.receive(b"\x89\x80\0\0\0\0\x89\x00");
        assert_eq!(conn.poll_event(), Ok(None));
        assert_eq!(conn.send_ping(&b""[..]), Err(SendError::CloseSent));
        assert_eq!(conn.poll_transmit(), None);
    } else {
        assert_eq!(conn.ready_state(), ReadyState::Open);
        assert!(conn.receive_size_hint() <= DECODE_MAX_FRAME);
    }
    Outcome {
        logical: checker.logical,
        error,
    }
}

fuzz_target!(|data: &[u8]| {
    let split = if data.is_empty() {
        0
    } else {
        (ws_proto_fuzz::fnv(data) % (data.len() as u64 + 1)) as usize
    };
    let (a, b) = data.split_at(split);
    let mixed = ws_proto_fuzz::fnv(data).rotate_left(17);
    for role in [Role::Server, Role::Client] {
        let whole = run(role, false, &[data], 0);
        let split_msg = run(role, false, &[a, b], 0);
        assert_eq!(whole, split_msg, "message mode depends on chunking");
        let frag = run(role, true, &[data], 0);
        let split_frag = run(role, true, &[a, b], 0);
        assert_eq!(frag, split_frag, "fragment mode depends on chunking");
        assert_eq!(whole, frag, "delivery modes disagree");
        // poll_event_ref shares poll_event's path: same events, same
        // errors, same output (checked inside `run`), whichever is called.
        let lent = run(role, false, &[a, b], u64::MAX);
        assert_eq!(whole, lent, "poll_event_ref disagrees (message mode)");
        let lent_frag = run(role, true, &[a, b], mixed);
        assert_eq!(
            frag, lent_frag,
            "mixing poll_event_ref in disagrees (fragment mode)"
        );
    }
});
