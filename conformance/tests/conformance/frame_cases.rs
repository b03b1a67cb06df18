//! The frame-mode cases (`Config::deliver_frames`, the adapters'
//! `recv_frame`/`send_frame`), generic over adapters with frame access
//! ([`FrameConn`]): frames come out as the peer sent them (control frames
//! between fragments, a frame longer than the chunk in pieces, reserved
//! bits refused without an extension), go out as the application shapes
//! them (fragments, one frame in pieces), and the peer's close frame is
//! the last frame event. Same peer, same helpers and same bounds as
//! `cases.rs`.

use ws_conformance::peer::Peer;
use ws_conformance::{Adapter, Failure, FrameConn};
use ws_proto::frame::OpCode;
use ws_proto::{CloseCode, Frame};

use crate::cases::{close_from_peer, config, with_client, with_server};

/// The chunk size of the cases that do not test pieces.
const CHUNK: usize = 64 * 1024;

/// (fin, rsv, opcode, payload) of a whole frame, for comparing.
type Summary = (bool, u8, OpCode, Vec<u8>);

/// The next frame from the adapter, which must be there.
fn next_frame<C: FrameConn>(conn: &mut C) -> Frame {
    match conn.recv_frame() {
        Some(Ok(frame)) => frame,
        Some(Err(failure)) => panic!("expected a frame, got {failure:?}"),
        None => panic!("expected a frame, the connection ended"),
    }
}

/// The next frame, which must come whole (not in pieces).
fn next_whole<C: FrameConn>(conn: &mut C) -> Summary {
    let frame = next_frame(conn);
    assert!(
        frame.is_first && frame.is_last_piece(),
        "a piece where a whole frame was expected: {frame:?}"
    );
    (frame.fin, frame.rsv, frame.opcode, frame.data.to_vec())
}

/// The peer's close frame must be the adapter's next frame, with `code`
/// and `reason`, and the last one: then the frames end.
fn close_frame_is_last<C: FrameConn>(conn: &mut C, code: CloseCode, reason: &str) -> Frame {
    let close = next_frame(conn);
    assert_eq!(
        close.opcode,
        OpCode::Close,
        "expected the close frame: {close:?}"
    );
    let body = close.close_frame().expect("a valid close frame");
    assert_eq!((body.code, body.reason.as_str()), (code, reason));
    close
}

/// After the close frame (and its answer) nothing but the end.
fn frames_end<C: FrameConn>(conn: &mut C) {
    match conn.recv_frame() {
        None => {}
        Some(other) => panic!("after the close frame, expected the end, got {other:?}"),
    }
}

/// Reads frames until the end (at most 20), which must come.
fn drain_frames<C: FrameConn>(conn: &mut C) {
    for _ in 0..20 {
        match conn.recv_frame() {
            None => return,
            Some(Err(Failure::WaitTimedOut)) => panic!("the connection did not end"),
            Some(_) => {}
        }
    }
    panic!("the connection did not end within 20 frames");
}

/// Runs `peer` and `adapter` with the adapter as the server, then as the
/// client, with `config`.
fn both_roles<A>(
    name: &str,
    config: ws_proto::Config,
    peer: fn(&mut Peer),
    adapter: fn(&mut A::Conn),
) where
    A: Adapter,
    A::Conn: FrameConn,
{
    with_server::<A, _>(
        &format!("{name} (adapter as server)"),
        config.clone(),
        move |mut p| peer(&mut p),
        adapter,
    );
    with_client::<A, _>(
        &format!("{name} (adapter as client)"),
        config,
        move |mut p| peer(&mut p),
        adapter,
    );
}

/// A text message in two frames with a ping between them comes out as
/// three frames, in order, each whole and as sent; the ping is answered
/// (automatic pongs stay on in frame mode); the peer's close frame is the
/// last frame, then the frames end.
pub(crate) fn frames_received_as_sent<A: Adapter>()
where
    A::Conn: FrameConn,
{
    both_roles::<A>(
        "frames_received_as_sent",
        config().deliver_frames(CHUNK),
        |peer| {
            peer.send_frame(false, OpCode::Text, b"Hel").unwrap();
            peer.send_frame(true, OpCode::Ping, b"p").unwrap();
            peer.send_frame(true, OpCode::Continuation, b"lo").unwrap();
            let pong = peer.read_frame().expect("the pong");
            assert_eq!((pong.opcode, &pong.payload[..]), (OpCode::Pong, &b"p"[..]));
            close_from_peer(peer);
        },
        |conn| {
            let got: Vec<Summary> = (0..3).map(|_| next_whole(conn)).collect();
            assert_eq!(
                got,
                [
                    (false, 0, OpCode::Text, b"Hel".to_vec()),
                    (true, 0, OpCode::Ping, b"p".to_vec()),
                    (true, 0, OpCode::Continuation, b"lo".to_vec()),
                ]
            );
            close_frame_is_last(conn, CloseCode::NORMAL, "done");
            frames_end(conn);
        },
    );
}

/// The payload of [`frame_larger_than_the_chunk_arrives_in_pieces`].
fn thousand_bytes() -> Vec<u8> {
    (0..1000u32).map(|i| (i * 7 + 3) as u8).collect()
}

/// With a 64-byte chunk, a 1,000-byte binary frame comes as sixteen
/// pieces: 64 bytes each and 40 last, the header repeated, `is_first` on
/// the first (which tells the whole length), `remaining` counting down to
/// 0; the pieces add up to the payload. A short frame after it comes whole.
pub(crate) fn frame_larger_than_the_chunk_arrives_in_pieces<A: Adapter>()
where
    A::Conn: FrameConn,
{
    both_roles::<A>(
        "frame_larger_than_the_chunk_arrives_in_pieces",
        config().deliver_frames(64),
        |peer| {
            peer.send_frame(true, OpCode::Binary, &thousand_bytes())
                .unwrap();
            peer.send_frame(true, OpCode::Text, b"short").unwrap();
            close_from_peer(peer);
        },
        |conn| {
            let first = next_frame(conn);
            assert!(first.is_first, "{first:?}");
            assert_eq!(first.frame_len(), Some(1000));
            let mut data = first.data.to_vec();
            let mut remaining = first.remaining;
            let mut pieces = 1;
            while remaining > 0 {
                let piece = next_frame(conn);
                assert!(!piece.is_first, "is_first on a later piece");
                assert_eq!(
                    (piece.fin, piece.rsv, piece.opcode),
                    (true, 0, OpCode::Binary),
                    "a piece's header"
                );
                assert_eq!(piece.data.len() as u64, remaining.min(64), "piece size");
                assert_eq!(piece.remaining, remaining - piece.data.len() as u64);
                remaining = piece.remaining;
                data.extend_from_slice(&piece.data);
                pieces += 1;
            }
            assert_eq!(pieces, 16);
            assert!(data == thousand_bytes(), "the pieces differ from the frame");
            assert_eq!(next_whole(conn), (true, 0, OpCode::Text, b"short".to_vec()));
            close_frame_is_last(conn, CloseCode::NORMAL, "done");
            frames_end(conn);
        },
    );
}

/// A frame with RSV1 set when no extension was negotiated is a protocol
/// error in frame mode as in message mode: 1002 for the application and
/// in the close frame on the wire (RFC 6455 section 5.2).
pub(crate) fn reserved_bits_without_extension_are_1002<A: Adapter>()
where
    A::Conn: FrameConn,
{
    both_roles::<A>(
        "reserved_bits_without_extension_are_1002",
        config().deliver_frames(CHUNK),
        |peer| {
            let mut bytes = peer.encode(true, OpCode::Text, b"rsv1");
            bytes[0] |= 0x40;
            peer.write_raw(&bytes).unwrap();
            let (close, _) = peer.read_until(OpCode::Close).expect("the close frame");
            assert_eq!(close.close_frame().code, CloseCode::PROTOCOL_ERROR);
            let _ = peer.read_to_end(std::time::Duration::from_secs(5));
        },
        |conn| {
            match conn.recv_frame() {
                Some(Err(Failure::Protocol(code))) => {
                    assert_eq!(code, CloseCode::PROTOCOL_ERROR);
                }
                other => panic!("expected a protocol error with 1002, got {other:?}"),
            }
            drain_frames(conn);
        },
    );
}

/// Frames go out as the application shapes them: a text message in two
/// frames with a ping between them, then one binary frame sent in two
/// pieces (one frame on the wire); masked by a client, not by a server
/// (the peer checks). Then the peer's close frame is the last frame.
pub(crate) fn frames_sent_as_given<A: Adapter>()
where
    A::Conn: FrameConn,
{
    both_roles::<A>(
        "frames_sent_as_given",
        config().deliver_frames(CHUNK),
        |peer| {
            let mut got = Vec::new();
            for _ in 0..4 {
                let frame = peer.read_frame().expect("a frame the adapter sent");
                got.push((frame.fin, frame.rsv, frame.opcode, frame.payload));
            }
            assert_eq!(
                got,
                [
                    (false, 0, OpCode::Text, b"Hel".to_vec()),
                    (true, 0, OpCode::Ping, b"p".to_vec()),
                    (true, 0, OpCode::Continuation, b"lo".to_vec()),
                    (true, 0, OpCode::Binary, (0..10).collect()),
                ]
            );
            close_from_peer(peer);
        },
        |conn| {
            conn.send_frame(Frame::new(false, OpCode::Text, "Hel"))
                .unwrap();
            conn.send_frame(Frame::new(true, OpCode::Ping, "p"))
                .unwrap();
            conn.send_frame(Frame::new(true, OpCode::Continuation, "lo"))
                .unwrap();
            let first = Frame::first_piece(true, OpCode::Binary, 10, vec![0, 1, 2, 3]);
            conn.send_frame(first.clone()).unwrap();
            conn.send_frame(first.next_piece(vec![4, 5, 6, 7, 8, 9]))
                .unwrap();
            close_frame_is_last(conn, CloseCode::NORMAL, "done");
            frames_end(conn);
        },
    );
}

/// With `auto_close_reply(false)` (a proxy's setting) the peer's close
/// frame comes out as the last frame and nothing answers it until the
/// application sends its own close frame (here the same one back, as a
/// proxy relays the other side's answer); then the frames end.
pub(crate) fn close_frame_answered_by_the_application<A: Adapter>()
where
    A::Conn: FrameConn,
{
    both_roles::<A>(
        "close_frame_answered_by_the_application",
        config().deliver_frames(CHUNK).auto_close_reply(false),
        |peer| {
            peer.send_close(CloseCode(4000), "relay me").unwrap();
            let (reply, _) = peer.read_until(OpCode::Close).expect("the relayed answer");
            let reply = reply.close_frame();
            assert_eq!(
                (reply.code, reply.reason.as_str()),
                (CloseCode(4000), "relay me")
            );
            let _ = peer.read_to_end(std::time::Duration::from_secs(5));
        },
        |conn| {
            let close = close_frame_is_last(conn, CloseCode(4000), "relay me");
            conn.send_frame(close).unwrap();
            frames_end(conn);
        },
    );
}
