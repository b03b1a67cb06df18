//! Frame-level access over 127.0.0.1: `read_frame` and `write_frame`.

mod common;

use common::{bound, serve_one};
use ws_blocking::ws_proto::frame::OpCode;
use ws_blocking::ws_proto::Frame;
use ws_blocking::{accept_with, connect, CloseCode, Config, Error, Message};

/// (opcode, fin, is_first, remaining, data) of a piece.
type Piece = (OpCode, bool, bool, u64, Vec<u8>);

#[test]
fn frames_come_and_go_as_shaped_over_loopback() {
    // The server reads frames in pieces of at most 4 bytes and answers
    // pings and the close itself (both automatic replies off).
    let (url, server) = serve_one(|tcp| -> Result<Vec<Piece>, Error> {
        bound(&tcp)?;
        let config = Config::default()
            .deflate(None)
            .deliver_frames(4)
            .auto_pong(false)
            .auto_close_reply(false);
        let mut ws = accept_with(tcp, config, |request| request.accept())?;
        let mut seen = Vec::new();
        while let Some(frame) = ws.read_frame()? {
            let piece = (
                frame.opcode,
                frame.fin,
                frame.is_first,
                frame.remaining,
                frame.data.to_vec(),
            );
            seen.push(piece);
            match frame.opcode {
                OpCode::Ping => ws.write_frame(Frame::new(true, OpCode::Pong, frame.data))?,
                OpCode::Close => {
                    // The answer the core would have sent, sent by hand.
                    ws.write_frame(frame)?;
                    break;
                }
                _ => {}
            }
        }
        assert!(matches!(ws.read_frame(), Err(Error::ConnectionClosed)));
        Ok(seen)
    });
    let (mut ws, _) = connect(&format!("{url}/frames")).expect("connect");
    bound(ws.get_ref().tcp()).unwrap();
    ws.write_frame(Frame::new(false, OpCode::Text, "Hel"))
        .unwrap();
    ws.write_frame(Frame::new(true, OpCode::Ping, "p")).unwrap();
    ws.write_frame(Frame::new(true, OpCode::Continuation, "lo"))
        .unwrap();
    // One binary frame, its payload written in two pieces.
    let first = Frame::first_piece(true, OpCode::Binary, 10, (0..6).collect::<Vec<u8>>());
    ws.write_frame(first.clone()).unwrap();
    ws.write_frame(first.next_piece((6..10).collect::<Vec<u8>>()))
        .unwrap();
    // The client is in message mode: the pong comes as a message.
    assert_eq!(ws.read().unwrap(), Message::Pong("p".into()));
    ws.close(CloseCode(4000), "done").unwrap();
    match ws.read().unwrap() {
        Message::Close(reply) => assert_eq!(reply.code, CloseCode(4000)),
        other => panic!("{other:?}"),
    }
    let seen = server.join().unwrap().unwrap();
    let bytes: Vec<u8> = (0..10).collect();
    assert_eq!(
        seen,
        [
            (OpCode::Text, false, true, 0, b"Hel".to_vec()),
            (OpCode::Ping, true, true, 0, b"p".to_vec()),
            (OpCode::Continuation, true, true, 0, b"lo".to_vec()),
            (OpCode::Binary, true, true, 6, bytes[..4].to_vec()),
            (OpCode::Binary, true, false, 2, bytes[4..8].to_vec()),
            (OpCode::Binary, true, false, 0, bytes[8..].to_vec()),
            (
                OpCode::Close,
                true,
                true,
                0,
                [&4000u16.to_be_bytes()[..], b"done"].concat()
            ),
        ]
    );
}

#[test]
fn read_frame_in_message_mode_gives_one_frame_a_message_and_none_at_a_drop() {
    let (url, server) = serve_one(|tcp| -> Result<(), Error> {
        bound(&tcp)?;
        let mut ws = accept_with(tcp, Config::default(), |request| request.accept())?;
        ws.send(Message::text("whole"))?;
        // Drop the transport without a close frame.
        Ok(())
    });
    let (mut ws, _) = connect(&url).expect("connect");
    bound(ws.get_ref().tcp()).unwrap();
    let frame = ws.read_frame().unwrap().expect("a frame");
    assert_eq!(frame, Frame::new(true, OpCode::Text, "whole"));
    server.join().unwrap().unwrap();
    assert_eq!(
        ws.read_frame().unwrap(),
        None,
        "ended without a close frame"
    );
}
