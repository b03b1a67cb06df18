//! Production hardening over loopback: handshake timeouts (slowloris),
//! bounded closes, keepalive and idle timeouts, clear handshake errors,
//! close kinds, many idle connections, a slow reader, and the reconnecting
//! client. Every duration is small and every wait bounded.

mod common;

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{accept_tcp, echo, echo_server, listener, within};
use futures_util::Sink;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use ws_tokio::ws_proto::handshake::{HandshakeError, Request};
use ws_tokio::ws_proto::{Connection, Event, Role};
use ws_tokio::{
    accept, accept_with, client, connect, connect_with, ClientRequest, CloseCode, CloseKind,
    Config, Error, Message, ReadyState, ReconnectEvent, ReconnectPolicy, Reconnecting,
};

const SHORT: Duration = Duration::from_millis(300);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn request(addr: SocketAddr) -> ClientRequest {
    ClientRequest::from_url(&format!("ws://{addr}/")).unwrap()
}

/// Reads until the peer closes the connection (or `limit` passes), and
/// says whether it did.
async fn sees_eof<S: AsyncRead + Unpin>(stream: &mut S, limit: Duration) -> bool {
    let mut sink = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

/// Reads a request head from a raw socket and answers it with a plain
/// acceptance (no extensions), as a minimal server would.
async fn raw_accept(tcp: &mut TcpStream) {
    let mut head = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "client left during the handshake");
        head.extend_from_slice(&chunk[..n]);
        if let Some((request, _)) = Request::parse(&head).unwrap() {
            tcp.write_all(&request.accept().to_bytes()).await.unwrap();
            return;
        }
    }
}

// ----- 1. handshake timeouts -----

#[tokio::test]
async fn a_client_that_sends_nothing_is_dropped_after_the_handshake_timeout() {
    within(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let tcp = accept_tcp(&listener).await;
            let start = Instant::now();
            let result = accept_with(
                tcp,
                Config::default().handshake_timeout(SHORT),
                Request::accept,
            )
            .await;
            (result.map(drop), start.elapsed())
        });
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let (result, waited) = server.await.unwrap();
        let err = result.unwrap_err();
        assert!(err.is_handshake_timeout(), "{err:?}");
        assert!(
            err.to_string().contains("handshake did not complete"),
            "{err}"
        );
        assert!(waited >= ms(250) && waited < ms(3000), "{waited:?}");
        // The socket was dropped: the silent client sees the end.
        assert!(sees_eof(&mut silent, ms(2000)).await);
    })
    .await;
}

#[tokio::test]
async fn a_slowloris_client_is_dropped_although_every_byte_arrives_in_time() {
    within(async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let tcp = accept_tcp(&listener).await;
            let start = Instant::now();
            let result = accept_with(
                tcp,
                Config::default().handshake_timeout(SHORT),
                Request::accept,
            )
            .await;
            (result.map(drop), start.elapsed())
        });
        let mut slow = TcpStream::connect(addr).await.unwrap();
        let (head, _) = request(addr).into_handshake(&mut Default::default());
        let writer = tokio::spawn(async move {
            // A header byte every 200 ms: never silent for long, never done.
            for byte in head {
                if slow.write_all(&[byte]).await.is_err() {
                    return (slow, true);
                }
                tokio::time::sleep(ms(200)).await;
                let mut probe = [0u8; 1];
                if let Ok(Ok(0)) = tokio::time::timeout(ms(1), slow.read(&mut probe)).await {
                    return (slow, true);
                }
            }
            (slow, false)
        });
        let (result, waited) = server.await.unwrap();
        assert!(
            matches!(result, Err(Error::Handshake(HandshakeError::TimedOut { after })) if after == SHORT),
            "{result:?}"
        );
        assert!(waited < ms(3000), "{waited:?}");
        let (_slow, dropped) = writer.await.unwrap();
        assert!(dropped, "the server kept the slow client");
    })
    .await;
}

#[tokio::test]
async fn a_client_gives_up_on_a_server_that_never_answers() {
    within(async {
        let (listener, addr) = listener().await;
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let tcp = accept_tcp(&listener).await; // accepts TCP, says nothing
            let _ = done_rx.await;
            drop(tcp);
        });
        let config = Config::default().handshake_timeout(SHORT);
        let start = Instant::now();
        let err = connect_with(request(addr), config.clone(), None)
            .await
            .unwrap_err();
        assert!(err.is_handshake_timeout(), "{err:?}");
        assert!(start.elapsed() < ms(3000));
        // The same over a transport connected by hand.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = client(request(addr), tcp, config).await.unwrap_err();
        assert!(
            matches!(err, Error::Handshake(HandshakeError::TimedOut { .. })),
            "{err:?}"
        );
        done_tx.send(()).unwrap();
        server.await.unwrap();
    })
    .await;
}

// ----- 4. clear handshake errors -----

/// A "proxy" that answers every request with `response` and closes.
async fn answering(response: &'static [u8]) -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp.write_all(response).await;
            let _ = tcp.shutdown().await;
        }
    });
    addr
}

#[tokio::test]
async fn refusals_name_the_status_and_the_likely_cause() {
    within(async {
        let cases: [(&[u8], u16, &str); 4] = [
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                200,
                "proxy",
            ),
            (
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
                400,
                "Upgrade and Connection headers",
            ),
            (
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
                403,
                "refused the client",
            ),
            (
                b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n",
                426,
                "stripped the Upgrade header",
            ),
        ];
        for (response, status, cause) in cases {
            let addr = answering(response).await;
            let err = connect(&format!("ws://{addr}/")).await.unwrap_err();
            assert_eq!(err.status(), Some(status), "{err:?}");
            let text = err.to_string();
            assert!(text.contains(&status.to_string()), "{text}");
            assert!(text.contains(cause), "{text}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_connection_closed_during_the_handshake_says_so() {
    within(async {
        let (listener, addr) = listener().await;
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = tcp.read(&mut buf).await;
                drop(tcp); // a load balancer that does not do upgrades
            }
        });
        let err = connect(&format!("ws://{addr}/")).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::Handshake(HandshakeError::PeerClosed { peer: Role::Server })
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().contains(
                "connection closed during the opening handshake (a proxy or load balancer that does not pass WebSocket upgrades?)"
            ),
            "{err}"
        );
    })
    .await;
}

// ----- 2. close timeout, keepalive, idle timeout -----

#[tokio::test]
async fn close_returns_within_the_close_timeout_when_the_peer_never_reads() {
    within(async {
        let (listener, addr) = listener().await;
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let peer = tokio::spawn(async move {
            let mut tcp = accept_tcp(&listener).await;
            raw_accept(&mut tcp).await;
            let _ = done_rx.await; // then never reads or answers
            tcp
        });
        let config = Config::default().close_timeout(SHORT).deflate(None);
        let (mut ws, _) = connect_with(request(addr), config, None).await.unwrap();
        // More than the socket buffers take, queued without waiting.
        ws.set_high_water_mark(usize::MAX);
        let chunk = Bytes::from(vec![1u8; 1 << 20]);
        for _ in 0..32 {
            Pin::new(&mut ws)
                .start_send(Message::Binary(chunk.clone()))
                .unwrap();
        }
        let _ = tokio::time::timeout(ms(100), futures_util::SinkExt::flush(&mut ws)).await;
        assert!(
            ws.buffered_amount() > 0,
            "the peer's buffers took everything"
        );
        let start = Instant::now();
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        let waited = start.elapsed();
        assert!(waited >= ms(250) && waited < ms(2500), "{waited:?}");
        assert_eq!(ws.ready_state(), ReadyState::Closed);
        assert_eq!(ws.buffered_amount(), 0, "the queue was dropped");
        // The socket is shut down: the peer, reading at last, sees the end.
        done_tx.send(()).unwrap();
        let mut tcp = peer.await.unwrap();
        assert!(sees_eof(&mut tcp, ms(5000)).await);
    })
    .await;
}

#[tokio::test]
async fn close_returns_within_the_close_timeout_when_the_peer_never_answers() {
    within(async {
        let (listener, addr) = listener().await;
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let peer = tokio::spawn(async move {
            let mut tcp = accept_tcp(&listener).await;
            raw_accept(&mut tcp).await;
            // Reads everything, answers nothing.
            let mut buf = [0u8; 1024];
            let mut done_rx = done_rx;
            loop {
                tokio::select! {
                    _ = &mut done_rx => return,
                    n = tcp.read(&mut buf) => if matches!(n, Ok(0) | Err(_)) { let _ = done_rx.await; return },
                }
            }
        });
        let config = Config::default().close_timeout(SHORT);
        let (mut ws, _) = connect_with(request(addr), config, None).await.unwrap();
        let start = Instant::now();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        let waited = start.elapsed();
        assert!(waited >= ms(250) && waited < ms(2500), "{waited:?}");
        assert!(ws.recv().await.is_none());
        done_tx.send(()).unwrap();
        peer.await.unwrap();
    })
    .await;
}

/// Reads frames from a raw client socket until the end; returns the
/// opcodes seen and the close code, if a close frame came.
async fn frames_until_eof(tcp: &mut TcpStream, leftover: &[u8]) -> (Vec<u8>, Option<u16>) {
    let mut client = Connection::new(Role::Client, Config::default());
    client.receive(leftover);
    let mut opcodes = Vec::new();
    let mut close = None;
    let mut buf = [0u8; 4096];
    loop {
        while let Ok(Some(event)) = client.poll_event() {
            match event {
                Event::Ping(_) => opcodes.push(0x9),
                Event::Close(frame) => {
                    opcodes.push(0x8);
                    close = Some(frame.code.0);
                }
                _ => opcodes.push(0),
            }
        }
        // Never answer: the pongs the core queued are thrown away.
        while client.poll_transmit().is_some() {}
        let n = tcp.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return (opcodes, close);
        }
        client.receive(&buf[..n]);
    }
}

/// Runs a client handshake by hand; returns the socket and any bytes that
/// came after the response.
async fn raw_handshake(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let (head, pending) = request(addr).into_handshake(&mut Default::default());
    tcp.write_all(&head).await.unwrap();
    let mut response = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server left during the handshake");
        response.extend_from_slice(&chunk[..n]);
        if let Some((_, used)) = pending.parse_response(&response).unwrap() {
            return (tcp, response.split_off(used));
        }
    }
}

#[tokio::test]
async fn a_silent_peer_is_pinged_then_dropped_with_1006() {
    within(async {
        let (listener, addr) = listener().await;
        let config = Config::default()
            .ping_interval(Some(ms(100)))
            .idle_timeout(Some(ms(450)));
        let server = tokio::spawn(async move {
            let tcp = accept_tcp(&listener).await;
            let mut ws = accept_with(tcp, config, Request::accept).await.unwrap();
            let start = Instant::now();
            let mut items = Vec::new();
            while let Some(item) = ws.recv().await {
                items.push(item.unwrap());
            }
            (items, start.elapsed())
        });
        let (mut tcp, leftover) = raw_handshake(addr).await;
        let (opcodes, close) = frames_until_eof(&mut tcp, &leftover).await;
        let (items, waited) = server.await.unwrap();
        let pings = opcodes.iter().filter(|&&op| op == 0x9).count();
        assert!(pings >= 2, "pings: {opcodes:?}");
        assert_eq!(close, Some(1001), "the server says it is going away");
        match &items[..] {
            [Message::Close(frame)] => {
                assert_eq!(frame.code, CloseCode::ABNORMAL);
                assert_eq!(CloseKind::from(frame), CloseKind::Abnormal);
            }
            other => panic!("{other:?}"),
        }
        assert!(waited >= ms(400) && waited < ms(3000), "{waited:?}");
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_connected_past_the_idle_timeout() {
    within(async {
        let (listener, addr) = listener().await;
        let config = Config::default()
            .ping_interval(Some(ms(50)))
            .idle_timeout(Some(ms(200)));
        let server = tokio::spawn(async move {
            let tcp = accept_tcp(&listener).await;
            let ws = accept_with(tcp, config, Request::accept).await.unwrap();
            echo(ws).await;
        });
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        // The client reads (so its core answers the pings) for 4 idle timeouts.
        let quiet = tokio::time::timeout(ms(800), async {
            while let Some(item) = ws.recv().await {
                match item.unwrap() {
                    Message::Ping(_) => {}
                    other => return other,
                }
            }
            panic!("stream ended")
        })
        .await;
        assert!(quiet.is_err(), "only pings for 800 ms: {quiet:?}");
        ws.send(Message::text("still here")).await.unwrap();
        let mut reply = ws.recv().await.unwrap().unwrap();
        while matches!(reply, Message::Ping(_)) {
            reply = ws.recv().await.unwrap().unwrap();
        }
        assert_eq!(reply, Message::text("still here"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_client_with_an_idle_timeout_drops_a_silent_server() {
    within(async {
        let (listener, addr) = listener().await;
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let peer = tokio::spawn(async move {
            let mut tcp = accept_tcp(&listener).await;
            raw_accept(&mut tcp).await;
            let _ = done_rx.await;
        });
        let config = Config::default()
            .ping_interval(Some(ms(100)))
            .idle_timeout(Some(SHORT));
        let (mut ws, _) = connect_with(request(addr), config, None).await.unwrap();
        let message = ws.recv().await.unwrap().unwrap();
        let Message::Close(frame) = message else {
            panic!("{message:?}")
        };
        assert_eq!(CloseKind::of(frame.code), CloseKind::Abnormal);
        assert!(frame.reason.contains("idle"), "{:?}", frame.reason);
        assert!(ws.recv().await.is_none());
        done_tx.send(()).unwrap();
        peer.await.unwrap();
    })
    .await;
}

// ----- 4b. close kinds -----

#[tokio::test]
async fn close_kinds_tell_endings_apart() {
    within(async {
        let (listener, addr) = listener().await;
        let codes = [1000u16, 1001, 1002, 1007, 1009, 4000, 4999];
        let server = tokio::spawn(async move {
            for code in codes {
                let mut ws = accept(accept_tcp(&listener).await).await.unwrap();
                ws.close(CloseCode(code), "server says").await.unwrap();
            }
            // One more: dropped without a close frame.
            let ws = accept(accept_tcp(&listener).await).await.unwrap();
            drop(ws.into_inner());
        });
        let want = [
            CloseKind::Clean,
            CloseKind::Clean,
            CloseKind::ProtocolError,
            CloseKind::ProtocolError,
            CloseKind::ProtocolError,
            CloseKind::Application,
            CloseKind::Application,
            CloseKind::Abnormal,
        ];
        for kind in want {
            let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
            let message = ws.recv().await.unwrap().unwrap();
            let Message::Close(frame) = &message else {
                panic!("{message:?}")
            };
            assert_eq!(CloseKind::from(frame), kind, "{frame:?}");
            assert!(ws.recv().await.is_none());
        }
        server.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_protocol_error_has_a_close_code_and_kind() {
    within(async {
        let (listener, addr) = listener().await;
        tokio::spawn(async move {
            let mut tcp = accept_tcp(&listener).await;
            raw_accept(&mut tcp).await;
            // A text frame that is not UTF-8.
            tcp.write_all(&[0x81, 0x02, 0xff, 0xfe]).await.unwrap();
            let mut rest = Vec::new();
            let _ = tcp.read_to_end(&mut rest).await;
        });
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        let err = ws.recv().await.unwrap().unwrap_err();
        assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
        assert_eq!(
            err.close_code().map(CloseKind::of),
            Some(CloseKind::ProtocolError)
        );
    })
    .await;
}

// ----- 6. many idle connections -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_idle_connections_are_held_and_still_answer() {
    within(async {
        let (addr, _server) = echo_server().await;
        let url = format!("ws://{addr}/");
        let mut clients = Vec::new();
        for _ in 0..300 {
            let (ws, _) = connect(&url).await.unwrap();
            clients.push(ws);
        }
        tokio::time::sleep(ms(100)).await; // idle
        for (i, ws) in clients.iter_mut().enumerate() {
            ws.send(Message::text(format!("{i}"))).await.unwrap();
        }
        for (i, ws) in clients.iter_mut().enumerate() {
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::text(format!("{i}"))
            );
        }
        let closes = clients
            .into_iter()
            .map(|mut ws| tokio::spawn(async move { ws.close(CloseCode::NORMAL, "").await }));
        for close in closes.collect::<Vec<_>>() {
            close.await.unwrap().unwrap();
        }
    })
    .await;
}

// ----- 7. slow reader -----

#[tokio::test]
async fn a_client_that_stops_reading_makes_the_server_wait_with_bounded_memory() {
    within(async {
        let (listener, addr) = listener().await;
        let (blocked_tx, blocked_rx) = oneshot::channel::<(usize, usize)>();
        let server = tokio::spawn(async move {
            let tcp = accept_tcp(&listener).await;
            let config = Config::default().deflate(None);
            let mut ws = accept_with(tcp, config, Request::accept).await.unwrap();
            let message = Bytes::from(vec![3u8; 16 * 1024]);
            let mut max_buffered = 0;
            let mut sent = 0usize;
            loop {
                let send = ws.send(Message::Binary(message.clone()));
                match tokio::time::timeout(ms(300), send).await {
                    Ok(result) => result.unwrap(),
                    // `send` waits: the peer's buffers and our high-water mark are full.
                    Err(_) => break,
                }
                sent += message.len();
                max_buffered = max_buffered.max(ws.buffered_amount());
                assert!(sent < 1 << 30, "never blocked");
            }
            max_buffered = max_buffered.max(ws.buffered_amount());
            blocked_tx.send((sent, max_buffered)).unwrap();
            ws
        });
        // Handshake, then never read.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let (head, _) = request(addr).into_handshake(&mut Default::default());
        tcp.write_all(&head).await.unwrap();
        let (sent, max_buffered) = blocked_rx.await.unwrap();
        assert!(sent > 0);
        // What the server holds is bounded by the high-water mark plus one
        // message (the kernel holds the rest), not by what was sent.
        assert!(
            max_buffered <= 64 * 1024 + 16 * 1024 + 14,
            "{max_buffered} queued"
        );
        let ws = server.await.unwrap();
        assert!(ws.buffered_amount() <= 64 * 1024 + 16 * 1024 + 14);
        drop(tcp);
    })
    .await;
}

// ----- 3. the reconnecting client -----

/// A server whose behaviour per connection comes from `plan`, on a fixed
/// address it can leave and come back to.
#[derive(Clone, Copy, Debug)]
enum Plan {
    /// Echo until the client closes.
    Echo,
    /// Echo one message, then drop TCP without a close frame.
    EchoOnceThenDrop,
    /// Close at once with this code.
    CloseWith(u16),
}

async fn bind(addr: SocketAddr) -> TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(addr).unwrap();
    socket.listen(64).unwrap()
}

/// Serves one connection per entry of `plans`, then stops listening.
async fn serve_plans(listener: TcpListener, plans: Vec<Plan>) {
    for plan in plans {
        let tcp = accept_tcp(&listener).await;
        let mut ws = accept(tcp).await.unwrap();
        tokio::spawn(async move {
            match plan {
                Plan::Echo => echo(ws).await,
                Plan::EchoOnceThenDrop => {
                    if let Some(Ok(message)) = ws.recv().await {
                        ws.send(message).await.unwrap();
                    }
                    drop(ws.into_inner());
                }
                Plan::CloseWith(code) => {
                    let _ = ws.close(CloseCode(code), "go away").await;
                }
            }
        });
    }
}

/// Accepts one WebSocket connection, then drops it and the listener.
async fn serve_once_then_leave(listener: TcpListener) {
    let ws = accept(accept_tcp(&listener).await).await.unwrap();
    drop(listener);
    drop(ws.into_inner());
}

fn fast_policy() -> ReconnectPolicy {
    ReconnectPolicy::default()
        .base_delay(ms(20))
        .max_delay(ms(80))
        .jitter(false)
}

async fn next_event(client: &mut Reconnecting) -> Result<ReconnectEvent, Error> {
    client.next().await.expect("the client ended")
}

#[tokio::test]
async fn a_dropped_connection_is_reported_and_reconnected_and_sends_resume() {
    within(async {
        let (listener, addr) = listener().await;
        tokio::spawn(serve_plans(listener, vec![Plan::EchoOnceThenDrop, Plan::Echo]));
        let (mut client, _) =
            Reconnecting::connect(request(addr), Config::default(), None, fast_policy())
                .await
                .unwrap();
        client.send(Message::text("one")).await.unwrap();
        assert!(matches!(next_event(&mut client).await.unwrap(), ReconnectEvent::Message(m) if m == Message::text("one")));
        let event = next_event(&mut client).await.unwrap();
        let ReconnectEvent::Disconnected { close, retry_in, .. } = event else { panic!("{event:?}") };
        assert_eq!(CloseKind::from(&close), CloseKind::Abnormal);
        assert_eq!(retry_in, ms(20));
        // While disconnected, sends fail at once rather than being queued.
        assert!(!client.is_connected());
        assert!(matches!(client.send(Message::text("lost?")).await, Err(Error::NotConnected)));
        let sender = client.sender();
        assert!(matches!(sender.send(Message::text("lost?")).await, Err(Error::NotConnected)));
        let event = next_event(&mut client).await.unwrap();
        assert!(matches!(event, ReconnectEvent::Reconnected { attempt: 1, .. }), "{event:?}");
        // The application resends; the sender handle follows the new connection.
        sender.send(Message::text("two")).await.unwrap();
        assert!(matches!(next_event(&mut client).await.unwrap(), ReconnectEvent::Message(m) if m == Message::text("two")));
        client.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(client.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn a_final_application_code_stops_reconnecting_and_says_why() {
    within(async {
        let (listener, addr) = listener().await;
        tokio::spawn(serve_plans(
            listener,
            vec![Plan::CloseWith(4000), Plan::Echo],
        ));
        let policy = fast_policy().final_code(CloseCode(4000));
        let (mut client, _) = Reconnecting::connect(request(addr), Config::default(), None, policy)
            .await
            .unwrap();
        let err = next_event(&mut client).await.unwrap_err();
        let Error::FinalClose(frame) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(frame.code, CloseCode(4000));
        assert_eq!(
            err.close_code().map(CloseKind::of),
            Some(CloseKind::Application)
        );
        let text = err.to_string();
        assert!(
            text.contains("4000") && text.contains("final") && text.contains("not reconnecting"),
            "{text}"
        );
        assert!(client.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn policy_violation_is_always_final_and_other_codes_reconnect() {
    within(async {
        let (listener, addr) = listener().await;
        tokio::spawn(serve_plans(
            listener,
            vec![Plan::CloseWith(4000), Plan::CloseWith(1001), Plan::CloseWith(1008)],
        ));
        let (mut client, _) =
            Reconnecting::connect(request(addr), Config::default(), None, fast_policy())
                .await
                .unwrap();
        // 4000 is not marked final here, and 1001 never is.
        for code in [4000, 1001] {
            let event = next_event(&mut client).await.unwrap();
            assert!(matches!(&event, ReconnectEvent::Disconnected { close, .. } if close.code.0 == code), "{event:?}");
            let event = next_event(&mut client).await.unwrap();
            assert!(matches!(event, ReconnectEvent::Reconnected { .. }), "{event:?}");
        }
        let err = next_event(&mut client).await.unwrap_err();
        assert!(matches!(&err, Error::FinalClose(frame) if frame.code == CloseCode::POLICY_VIOLATION), "{err:?}");
        assert!(client.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn backoff_grows_while_the_server_is_away_and_the_client_returns_with_it() {
    within(async {
        // Address reuse on both listeners, so the second can bind the port
        // while the first one's connections linger in TIME_WAIT.
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await;
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve_once_then_leave(listener));
        let (mut client, _) =
            Reconnecting::connect(request(addr), Config::default(), None, fast_policy())
                .await
                .unwrap();
        // The server goes away entirely: the connection drops, the port is closed.
        server.await.unwrap();
        let event = next_event(&mut client).await.unwrap();
        assert!(matches!(event, ReconnectEvent::Disconnected { retry_in, .. } if retry_in == ms(20)), "{event:?}");
        let mut delays = Vec::new();
        for attempt in 1..=4 {
            let event = next_event(&mut client).await.unwrap();
            let ReconnectEvent::RetryFailed { attempt: n, retry_in, error } = event else {
                panic!("{event:?}")
            };
            assert_eq!(n, attempt);
            assert!(matches!(error, Error::Io(_)), "{error:?}");
            delays.push(retry_in);
        }
        assert_eq!(delays, [ms(40), ms(80), ms(80), ms(80)]);
        // It comes back on the same port.
        let listener = bind(addr).await;
        tokio::spawn(serve_plans(listener, vec![Plan::Echo]));
        loop {
            match next_event(&mut client).await.unwrap() {
                // An attempt made just before the server was back.
                ReconnectEvent::RetryFailed { retry_in, .. } => assert_eq!(retry_in, ms(80)),
                ReconnectEvent::Reconnected { attempt, .. } => {
                    assert!(attempt >= 5, "{attempt}");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        client.send(Message::binary(vec![5u8; 5])).await.unwrap();
        assert!(matches!(next_event(&mut client).await.unwrap(), ReconnectEvent::Message(Message::Binary(b)) if b.len() == 5));
        client.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_client_gives_up_after_max_attempts() {
    within(async {
        let (listener, addr) = listener().await;
        let policy = fast_policy().max_attempts(Some(2));
        let server = tokio::spawn(serve_once_then_leave(listener));
        let (mut client, _) = Reconnecting::connect(request(addr), Config::default(), None, policy)
            .await
            .unwrap();
        server.await.unwrap();
        assert!(matches!(
            next_event(&mut client).await.unwrap(),
            ReconnectEvent::Disconnected { .. }
        ));
        assert!(matches!(
            next_event(&mut client).await.unwrap(),
            ReconnectEvent::RetryFailed { attempt: 1, .. }
        ));
        let err = next_event(&mut client).await.unwrap_err();
        assert!(matches!(&err, Error::GaveUp { attempts: 2, .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("gave up reconnecting after 2 attempts"),
            "{err}"
        );
        assert!(client.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn a_healthy_period_resets_the_backoff() {
    within(async {
        let (listener, addr) = listener().await;
        tokio::spawn(serve_plans(
            listener,
            vec![
                Plan::EchoOnceThenDrop,
                Plan::EchoOnceThenDrop,
                Plan::EchoOnceThenDrop,
                Plan::Echo,
            ],
        ));
        let policy = fast_policy().healthy_after(ms(150));
        let (mut client, _) = Reconnecting::connect(request(addr), Config::default(), None, policy)
            .await
            .unwrap();
        let mut delays = Vec::new();
        for pause in [0, 0, 200] {
            // Stay connected for `pause` ms, then make the server drop us.
            tokio::time::sleep(ms(pause)).await;
            client.send(Message::text("x")).await.unwrap();
            assert!(matches!(
                next_event(&mut client).await.unwrap(),
                ReconnectEvent::Message(_)
            ));
            match next_event(&mut client).await.unwrap() {
                ReconnectEvent::Disconnected { retry_in, .. } => delays.push(retry_in),
                other => panic!("{other:?}"),
            }
            assert!(matches!(
                next_event(&mut client).await.unwrap(),
                ReconnectEvent::Reconnected { .. }
            ));
        }
        // Short-lived connections keep the delay growing; a healthy one resets it.
        assert_eq!(delays, [ms(20), ms(40), ms(20)]);
        client.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}
