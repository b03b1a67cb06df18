//! A ws-tokio client against a ws-tokio server over loopback TCP.

mod common;

use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{accept_tcp, close_of, echo, echo_server, listener, within, LIMIT};
use futures_sink::Sink;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use ws_tokio::ws_proto::handshake::{HandshakeError, ResponseError};
use ws_tokio::ws_proto::Randomness;
use ws_tokio::{
    accept, accept_with, connect, connect_with, ClientRequest, CloseCode, CloseFrame, Config,
    Error, Message, ReadyState, Request, Role, ServerResponse, WebSocketStream,
};

#[tokio::test]
async fn text_and_binary_of_every_length_class_echo_back() {
    within(async {
        let (addr, _server) = echo_server().await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        for len in [0, 125, 126, 65535, 65536, 1 << 20] {
            let data = Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
            ws.send(Message::Binary(data.clone())).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::Binary(data),
                "binary {len}"
            );
            let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
            ws.send(Message::text(text.clone())).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::text(text),
                "text {len}"
            );
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Closed);
        assert!(ws.recv().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    within(async {
        let (addr, _server) = echo_server().await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        ws.send(Message::Ping(Bytes::from_static(b"tick")))
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Pong(Bytes::from_static(b"tick"))
        );
    })
    .await;
}

#[tokio::test]
async fn a_reader_alone_answers_pings() {
    within(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let mut ws = accept(accept_tcp(&listener).await).await.unwrap();
            ws.send(Message::Ping(Bytes::from_static(b"are you there")))
                .await
                .unwrap();
            let answer = ws.recv().await.unwrap().unwrap();
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            answer
        });
        let (ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        // Only the read half is polled; the write half just stays alive.
        let (mut reader, _writer) = ws.split();
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Message::Ping(Bytes::from_static(b"are you there"))
        );
        let close = reader.recv().await.unwrap().unwrap();
        assert_eq!(close_of(&close), Some((1000, String::new())));
        assert!(reader.recv().await.is_none());
        assert_eq!(
            server.await.unwrap(),
            Message::Pong(Bytes::from_static(b"are you there"))
        );
    })
    .await;
}

#[tokio::test]
async fn close_code_and_reason_are_seen_on_both_sides() {
    within(async {
        let (listener, addr) = listener().await;
        let (seen_tx, seen_rx) = oneshot::channel();
        let server = tokio::spawn(async move {
            let mut ws = accept(accept_tcp(&listener).await).await.unwrap();
            let mut last = None;
            while let Some(message) = ws.recv().await {
                last = Some(message.unwrap());
            }
            seen_tx.send(last).unwrap();
        });
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        ws.send(Message::Close(CloseFrame::new(CloseCode(4000), "bye")))
            .await
            .unwrap();
        // The server echoes the code (RFC 6455 section 5.5.1) and the reason.
        let answer = ws.recv().await.unwrap().unwrap();
        assert_eq!(close_of(&answer), Some((4000, "bye".to_string())));
        assert!(
            ws.recv().await.is_none(),
            "the server closes TCP, the stream ends"
        );
        let seen = seen_rx.await.unwrap().unwrap();
        assert_eq!(close_of(&seen), Some((4000, "bye".to_string())));
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn server_initiated_close_reaches_the_client() {
    within(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let mut ws = accept(accept_tcp(&listener).await).await.unwrap();
            ws.close(CloseCode::GOING_AWAY, "restarting").await.unwrap();
            ws.ready_state()
        });
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        let close = ws.recv().await.unwrap().unwrap();
        assert_eq!(close_of(&close), Some((1001, "restarting".to_string())));
        assert!(ws.recv().await.is_none());
        assert_eq!(server.await.unwrap(), ReadyState::Closed);
    })
    .await;
}

#[tokio::test]
async fn a_dropped_connection_is_reported_as_1006() {
    within(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let ws = accept(accept_tcp(&listener).await).await.unwrap();
            drop(ws); // no close frame
        });
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        server.await.unwrap();
        let close = ws.recv().await.unwrap().unwrap();
        assert_eq!(close_of(&close), Some((1006, String::new())));
        assert!(ws.recv().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn close_times_out_when_the_peer_never_answers() {
    within(async {
        let (listener, addr) = listener().await;
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            // Accepts, then neither reads nor closes until the test is done.
            let ws = accept(accept_tcp(&listener).await).await.unwrap();
            let _ = done_rx.await;
            drop(ws);
        });
        let request = ClientRequest::from_url(&format!("ws://{addr}/")).unwrap();
        let config = Config::default().close_timeout(Duration::from_millis(300));
        let (mut ws, _) = connect_with(request, config, None).await.unwrap();
        let start = Instant::now();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert!(waited < Duration::from_secs(4), "{waited:?}");
        assert_eq!(ws.ready_state(), ReadyState::Closed);
        done_tx.send(()).unwrap();
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_callback_rejection_shows_its_status_on_the_client() {
    within(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let tcp = accept_tcp(&listener).await;
            accept_with(tcp, Config::default(), |request: &Request| {
                assert_eq!(request.path(), "/private");
                ServerResponse::reject(403, "not for you")
            })
            .await
        });
        let err = connect(&format!("ws://{addr}/private")).await.unwrap_err();
        assert_eq!(err.status(), Some(403), "{err}");
        match &err {
            Error::Handshake(HandshakeError::Response(ResponseError::Rejected(rejection))) => {
                assert_eq!(rejection.status, 403);
            }
            other => panic!("{other:?}"),
        }
        let server_err = server.await.unwrap().unwrap_err();
        assert!(
            matches!(
                server_err,
                Error::Handshake(HandshakeError::Refused { status: 403 })
            ),
            "{server_err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_callback_chooses_the_subprotocol() {
    within(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let tcp = accept_tcp(&listener).await;
            let mut offered = Vec::new();
            let ws = accept_with(tcp, Config::default(), |request: &Request| {
                offered = request.protocols().to_vec();
                request
                    .accept_with_protocol("chat.v2")
                    .unwrap_or_else(|err| ServerResponse::from_error(&err))
            })
            .await
            .unwrap();
            echo(ws).await;
            offered
        });
        let request = ClientRequest::from_url(&format!("ws://{addr}/"))
            .unwrap()
            .protocol("chat.v1")
            .protocol("chat.v2");
        let (mut ws, response) = connect_with(request, Config::default(), None)
            .await
            .unwrap();
        assert_eq!(response.protocol(), Some("chat.v2"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(server.await.unwrap(), ["chat.v1", "chat.v2"]);
    })
    .await;
}

#[tokio::test]
async fn a_plain_http_request_gets_an_error_response() {
    within(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move { accept(accept_tcp(&listener).await).await });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
        let err = server.await.unwrap().unwrap_err();
        assert_eq!(err.status(), Some(426), "{err}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_work_from_two_tasks() {
    within(async {
        let (addr, _server) = echo_server().await;
        let (ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        let (mut reader, mut writer) = ws.split();
        const N: usize = 300;
        let writer_task = tokio::spawn(async move {
            for i in 0..N {
                writer
                    .send(Message::text(format!("message {i}")))
                    .await
                    .unwrap();
            }
            writer
        });
        let reader_task = tokio::spawn(async move {
            for i in 0..N {
                let message = reader.recv().await.unwrap().unwrap();
                assert_eq!(message, Message::text(format!("message {i}")));
            }
            reader
        });
        let mut writer = writer_task.await.unwrap();
        let mut reader = reader_task.await.unwrap();
        // Close from the writer while the reader waits in another task.
        let reader_task = tokio::spawn(async move {
            let close = reader.recv().await.unwrap().unwrap();
            assert!(reader.recv().await.is_none());
            (reader, close)
        });
        writer.close(CloseCode::NORMAL, "done").await.unwrap();
        let (reader, close) = reader_task.await.unwrap();
        assert_eq!(close_of(&close), Some((1000, "done".to_string())));
        let ws = reader.reunite(writer).expect("halves of one stream");
        assert_eq!(ws.ready_state(), ReadyState::Closed);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections_are_all_answered() {
    within(async {
        let (addr, _server) = echo_server().await;
        let clients: Vec<_> = (0..200)
            .map(|n| {
                tokio::spawn(async move {
                    let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
                    for i in 0..3 {
                        let text = format!("client {n} message {i}");
                        ws.send(Message::text(text.clone())).await.unwrap();
                        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
                    }
                    ws.send(Message::binary(vec![n as u8; 1000])).await.unwrap();
                    assert_eq!(
                        ws.recv().await.unwrap().unwrap(),
                        Message::binary(vec![n as u8; 1000])
                    );
                    ws.close(CloseCode::NORMAL, "").await.unwrap();
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
    })
    .await;
}

/// Runs the opening handshake by hand and returns the raw TCP stream.
async fn raw_client(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let (request, pending) = ClientRequest::from_url(&format!("ws://{addr}/"))
        .unwrap()
        .into_handshake(&mut Randomness::os());
    tcp.write_all(&request).await.unwrap();
    let mut head = Vec::new();
    loop {
        let mut chunk = [0u8; 512];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server closed during the handshake");
        head.extend_from_slice(&chunk[..n]);
        if let Some((_, used)) = pending.parse_response(&head).unwrap() {
            assert_eq!(used, head.len(), "nothing follows the response");
            return tcp;
        }
    }
}

#[tokio::test]
async fn garbage_after_the_handshake_gets_1002_and_the_server_keeps_serving() {
    within(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let mut results = Vec::new();
            for _ in 0..2 {
                let mut ws = accept(accept_tcp(&listener).await).await.unwrap();
                tokio::spawn(async move {
                    let mut items = Vec::new();
                    while let Some(item) = ws.recv().await {
                        match item {
                            Ok(message) if message.is_data() => {
                                ws.send(message.clone()).await.unwrap();
                                items.push(Ok(message));
                            }
                            other => items.push(other),
                        }
                    }
                    items
                })
                .await
                .map(|items| results.push(items))
                .unwrap();
            }
            results
        });

        // Reserved bits and opcode set: not a frame any extension defines.
        let mut bad = raw_client(addr).await;
        bad.write_all(&[0xff, 0x80, 1, 2, 3, 4, 0xde, 0xad]).await.unwrap();
        let mut reply = Vec::new();
        bad.read_to_end(&mut reply).await.unwrap(); // the server closes TCP
        assert_eq!(reply[0], 0x88, "a close frame: {reply:?}");
        assert_eq!(u16::from_be_bytes([reply[2], reply[3]]), 1002);

        // Another client is served normally.
        let (mut good, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        good.send(Message::text("still there?")).await.unwrap();
        assert_eq!(good.recv().await.unwrap().unwrap(), Message::text("still there?"));
        good.close(CloseCode::NORMAL, "").await.unwrap();

        let results = server.await.unwrap();
        assert!(
            matches!(&results[0][..], [Err(Error::Protocol(err))] if err.close_code() == CloseCode::PROTOCOL_ERROR),
            "{:?}",
            results[0]
        );
        assert!(matches!(&results[1][..], [Ok(Message::Text(_)), Ok(Message::Close(_))]));
    })
    .await;
}

#[tokio::test]
async fn poll_ready_waits_when_the_peer_does_not_read() {
    within(async {
        let (listener, addr) = listener().await;
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let ws = accept(accept_tcp(&listener).await).await.unwrap();
            let _ = done_rx.await; // never reads
            drop(ws);
        });
        // Without compression: the repeated payload would otherwise shrink to nothing.
        let request = ClientRequest::from_url(&format!("ws://{addr}/")).unwrap();
        let (mut ws, _) = connect_with(request, Config::default().deflate(None), None)
            .await
            .unwrap();
        let high_water = 64 * 1024;
        assert_eq!(ws.high_water_mark(), high_water);
        let message = Bytes::from(vec![7u8; 16 * 1024]);
        let mut sent = 0usize;
        let mut max_buffered = 0;
        let blocked = loop {
            let ready =
                std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut ws).poll_ready(cx))).await;
            match ready {
                Poll::Pending => break true,
                Poll::Ready(result) => result.unwrap(),
            }
            Pin::new(&mut ws)
                .start_send(Message::Binary(message.clone()))
                .unwrap();
            sent += message.len();
            max_buffered = max_buffered.max(ws.buffered_amount());
            if sent > 1 << 30 {
                break false;
            }
        };
        assert!(blocked, "poll_ready never waited after {sent} bytes");
        assert!(
            max_buffered <= high_water + message.len() + 14,
            "{max_buffered} bytes queued"
        );
        assert!(ws.buffered_amount() > high_water);
        done_tx.send(()).unwrap();
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn stream_and_sink_traits_work_with_futures_util() {
    within(async {
        let (addr, _server) = echo_server().await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        for i in 0..10 {
            ws.feed(Message::text(format!("{i}"))).await.unwrap();
        }
        SinkExt::flush(&mut ws).await.unwrap();
        let got: Vec<Message> = (&mut ws).take(10).map(Result::unwrap).collect().await;
        let want: Vec<Message> = (0..10).map(|i| Message::text(format!("{i}"))).collect();
        assert_eq!(got, want);
        SinkExt::close(&mut ws).await.unwrap();
        let close = StreamExt::next(&mut ws).await.unwrap().unwrap();
        assert_eq!(close_of(&close), Some((1000, String::new())));
        assert!(StreamExt::next(&mut ws).await.is_none());
    })
    .await;
}

#[tokio::test]
async fn from_raw_over_an_in_memory_pipe_with_a_small_buffer() {
    within(async {
        let (a, b) = tokio::io::duplex(1000);
        let mut client = WebSocketStream::from_raw(a, Role::Client, Config::default());
        let server = WebSocketStream::from_raw(b, Role::Server, Config::default());
        let echo_task = tokio::spawn(echo(server));
        let big = Bytes::from(vec![42u8; 300_000]);
        client.send(Message::Binary(big.clone())).await.unwrap();
        // Both directions go through a 1000-byte pipe, in many small pieces.
        assert_eq!(client.recv().await.unwrap().unwrap(), Message::Binary(big));
        client.close(CloseCode::NORMAL, "").await.unwrap();
        echo_task.await.unwrap();
        assert_eq!(client.ready_state(), ReadyState::Closed);
        let _pipe = client.into_inner();
    })
    .await;
    let _ = LIMIT;
}

#[tokio::test]
async fn sending_after_close_is_an_error() {
    within(async {
        let (addr, _server) = echo_server().await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        let err = ws.send(Message::text("late")).await.unwrap_err();
        assert!(
            matches!(err, Error::Send(_) | Error::ConnectionClosed),
            "{err:?}"
        );
        // Closing again is fine.
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}
