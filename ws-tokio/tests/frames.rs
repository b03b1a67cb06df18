//! Frame-level access: `recv_frame` and `send_frame`, as a relaying proxy
//! uses them, over in-memory transports.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::DuplexStream;
use ws_tokio::ws_proto::frame::OpCode;
use ws_tokio::ws_proto::Frame;
use ws_tokio::{CloseCode, Config, Error, Message, ReadHalf, Role, WebSocketStream, WriteHalf};

/// Passes every frame from `from` to `to` until `from` ends; returns how
/// many pieces went through.
async fn relay(
    mut from: ReadHalf<DuplexStream>,
    mut to: WriteHalf<DuplexStream>,
) -> Result<usize, Error> {
    let mut pieces = 0;
    while let Some(frame) = from.recv_frame().await {
        to.send_frame(frame?).await?;
        pieces += 1;
    }
    Ok(pieces)
}

#[tokio::test]
async fn a_proxy_relays_frames_pings_and_the_close_handshake() {
    const CHUNK: usize = 16 * 1024;
    let leg = || {
        Config::default()
            .deliver_frames(CHUNK)
            .auto_pong(false)
            .auto_close_reply(false)
    };
    // client <-> [leg A (server) | leg B (client)] <-> upstream echo server
    let (c, a) = tokio::io::duplex(64 * 1024);
    let (b, u) = tokio::io::duplex(64 * 1024);
    let mut client = WebSocketStream::from_raw(c, Role::Client, Config::default());
    let leg_a = WebSocketStream::from_raw(a, Role::Server, leg());
    let leg_b = WebSocketStream::from_raw(b, Role::Client, leg());
    let mut upstream = WebSocketStream::from_raw(u, Role::Server, Config::default());

    let echo = tokio::spawn(async move {
        while let Some(message) = upstream.recv().await {
            match message? {
                m @ (Message::Text(_) | Message::Binary(_)) => upstream.send(m).await?,
                Message::Close(frame) => return Ok::<_, Error>(Some(frame)),
                _ => {}
            }
        }
        Ok(None)
    });
    let (a_reader, a_writer) = leg_a.split();
    let (b_reader, b_writer) = leg_b.split();
    let up = tokio::spawn(relay(a_reader, b_writer));
    let down = tokio::spawn(relay(b_reader, a_writer));

    let big: Bytes = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    client.send(Message::text("hello")).await.unwrap();
    client.send(Message::binary(big.clone())).await.unwrap();
    client.send(Message::Ping("tick".into())).await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::text("hello")
    );
    assert_eq!(client.recv().await.unwrap().unwrap(), Message::binary(big));
    // The ping went to upstream, whose pong came back through the proxy.
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::Pong("tick".into())
    );
    // The close goes upstream; upstream's answer comes back as the reply.
    client.close(CloseCode(4001), "bye").await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), echo)
        .await
        .expect("upstream finishes")
        .unwrap()
        .unwrap()
        .expect("upstream saw the close");
    assert_eq!((seen.code, seen.reason.as_str()), (CloseCode(4001), "bye"));
    let up = up.await.unwrap().unwrap();
    let down = down.await.unwrap().unwrap();
    // Each way: the text, 1 MiB in 64 pieces of 16 KiB, the ping (pong),
    // and the close frame.
    assert_eq!((up, down), (67, 67));
}

#[tokio::test]
async fn frames_in_pieces_and_an_end_without_a_close_frame() {
    let (a, b) = tokio::io::duplex(4096);
    let mut sender = WebSocketStream::from_raw(a, Role::Client, Config::default());
    let mut receiver =
        WebSocketStream::from_raw(b, Role::Server, Config::default().deliver_frames(4));
    let first = Frame::first_piece(true, OpCode::Binary, 10, vec![1; 6]);
    sender.send_frame(first.clone()).await.unwrap();
    sender
        .send_frame(first.next_piece(vec![2; 4]))
        .await
        .unwrap();
    let mut pieces = Vec::new();
    for _ in 0..3 {
        let piece = receiver.recv_frame().await.unwrap().unwrap();
        pieces.push((piece.is_first, piece.remaining, piece.data.to_vec()));
    }
    assert_eq!(
        pieces,
        [
            (true, 6, vec![1; 4]),
            (false, 2, vec![1, 1, 2, 2]),
            (false, 0, vec![2; 2])
        ]
    );
    drop(sender);
    assert!(
        receiver.recv_frame().await.is_none(),
        "ended without a close frame"
    );
}

#[tokio::test]
async fn frames_forward_relays_both_ways_through_stream_and_sink() {
    use futures_util::StreamExt;
    use ws_tokio::Frames;
    let leg = || {
        Config::default()
            .deliver_frames(1024)
            .auto_pong(false)
            .auto_close_reply(false)
    };
    let (c, a) = tokio::io::duplex(8192);
    let (b, u) = tokio::io::duplex(8192);
    let mut client = WebSocketStream::from_raw(c, Role::Client, Config::default());
    let (a_reader, a_writer) = WebSocketStream::from_raw(a, Role::Server, leg()).split();
    let (b_reader, b_writer) = WebSocketStream::from_raw(b, Role::Client, leg()).split();
    let mut upstream = WebSocketStream::from_raw(u, Role::Server, Config::default());
    let up = tokio::spawn(Frames::new(a_reader).forward(Frames::new(b_writer)));
    let down = tokio::spawn(Frames::new(b_reader).forward(Frames::new(a_writer)));

    let text = "x".repeat(5000);
    client.send(Message::text(text.as_str())).await.unwrap();
    assert_eq!(
        upstream.recv().await.unwrap().unwrap(),
        Message::text(text.as_str())
    );
    upstream.send(Message::binary(vec![7; 3000])).await.unwrap();
    assert_eq!(
        client.recv().await.unwrap().unwrap(),
        Message::binary(vec![7; 3000])
    );
    // Upstream closes this time; its close reaches the client, whose answer
    // goes back the same way.
    // Both ends read at once: the client's answer is what ends upstream's
    // close.
    let (closed, reply) = tokio::join!(
        upstream.close(CloseCode::GOING_AWAY, "restart"),
        client.recv()
    );
    closed.unwrap();
    match reply.unwrap().unwrap() {
        Message::Close(frame) => assert_eq!(frame.code, CloseCode::GOING_AWAY),
        other => panic!("{other:?}"),
    }
    assert!(client.recv().await.is_none());
    tokio::time::timeout(Duration::from_secs(10), async {
        up.await.unwrap().unwrap();
        down.await.unwrap().unwrap();
    })
    .await
    .expect("both relays end");
}
