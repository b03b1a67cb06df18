//! Production hardening over loopback: handshake timeouts (slowloris),
//! clear handshake errors, bounded closes, keepalive and idle timeouts,
//! close kinds, and a slow reader. Every duration is small and every wait
//! bounded.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{accept_tcp, bound, listener, read_until_close, serve_one, LIMIT};
use ws_blocking::ws_proto::handshake::Request;
use ws_blocking::ws_proto::{Connection, Role};
use ws_blocking::{
    accept, accept_with, client, connect, connect_with, ClientRequest, CloseCode, CloseKind,
    Config, Error, Event, HandshakeError, Message,
};

const SHORT: Duration = Duration::from_millis(300);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn request(addr: SocketAddr) -> ClientRequest {
    ClientRequest::from_url(&format!("ws://{addr}/")).unwrap()
}

/// Reads until the peer ends the connection or `limit` passes; says whether it ended.
fn sees_eof(tcp: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut sink = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        tcp.set_read_timeout(Some(left)).unwrap();
        match tcp.read(&mut sink) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// Answers a client's handshake on a raw socket with a plain acceptance.
fn raw_accept(tcp: &mut TcpStream) {
    let mut head = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).unwrap();
        assert!(n > 0, "client left during the handshake");
        head.extend_from_slice(&chunk[..n]);
        if let Some((request, _)) = Request::parse(&head).unwrap() {
            tcp.write_all(&request.accept().to_bytes()).unwrap();
            return;
        }
    }
}

/// Runs a client handshake by hand; returns the socket and the bytes that
/// followed the response.
fn raw_handshake(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    bound(&tcp).unwrap();
    let (head, pending) = request(addr).into_handshake(&mut Default::default());
    tcp.write_all(&head).unwrap();
    let mut response = Vec::new();
    loop {
        let mut chunk = [0u8; 1024];
        let n = tcp.read(&mut chunk).unwrap();
        assert!(n > 0, "server left during the handshake");
        response.extend_from_slice(&chunk[..n]);
        if let Some((_, used)) = pending.parse_response(&response).unwrap() {
            return (tcp, response.split_off(used));
        }
    }
}

// ----- handshake timeouts -----

#[test]
fn a_client_that_sends_nothing_is_dropped_after_the_handshake_timeout() {
    let (url, server) = serve_one(|tcp| {
        let start = Instant::now();
        let result = accept_with(
            tcp,
            Config::default().handshake_timeout(SHORT),
            Request::accept,
        );
        (result.map(drop), start.elapsed())
    });
    let mut silent = TcpStream::connect(url.trim_start_matches("ws://")).unwrap();
    let (result, waited) = server.join().unwrap();
    let err = result.unwrap_err();
    assert!(
        matches!(err, Error::Handshake(HandshakeError::TimedOut { after }) if after == SHORT),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("opening handshake did not complete within"),
        "{err}"
    );
    assert!(waited >= ms(250) && waited < ms(3000), "{waited:?}");
    assert!(sees_eof(&mut silent, ms(2000)));
}

#[test]
fn a_slowloris_client_is_dropped_although_every_byte_arrives_in_time() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let tcp = accept_tcp(&listener).unwrap();
        let start = Instant::now();
        let result = accept_with(
            tcp,
            Config::default().handshake_timeout(SHORT),
            Request::accept,
        );
        (result.map(drop), start.elapsed())
    });
    let mut slow = TcpStream::connect(addr).unwrap();
    let (head, _) = request(addr).into_handshake(&mut Default::default());
    let writer = thread::spawn(move || {
        for byte in head {
            if slow.write_all(&[byte]).is_err() {
                return true;
            }
            thread::sleep(ms(200));
            slow.set_read_timeout(Some(ms(1))).unwrap();
            let mut probe = [0u8; 1];
            if matches!(slow.read(&mut probe), Ok(0)) {
                return true;
            }
        }
        false
    });
    let (result, waited) = server.join().unwrap();
    assert!(
        matches!(
            result,
            Err(Error::Handshake(HandshakeError::TimedOut { .. }))
        ),
        "{result:?}"
    );
    assert!(waited < ms(3000), "{waited:?}");
    assert!(writer.join().unwrap(), "the server kept the slow client");
}

#[test]
fn the_handshake_restores_the_callers_read_timeout() {
    let (url, server) = serve_one(|tcp| {
        tcp.set_read_timeout(Some(ms(7000))).unwrap();
        let config = Config::default().handshake_timeout(ms(2000));
        let ws = accept_with(tcp, config, Request::accept).unwrap();
        ws.get_ref().read_timeout().unwrap()
    });
    let tcp = TcpStream::connect(url.trim_start_matches("ws://")).unwrap();
    tcp.set_read_timeout(Some(ms(9000))).unwrap();
    let config = Config::default().handshake_timeout(ms(2000));
    let (ws, _) = client(ClientRequest::from_url(&url).unwrap(), tcp, config).unwrap();
    assert_eq!(ws.get_ref().read_timeout().unwrap(), Some(ms(9000)));
    assert_eq!(server.join().unwrap(), Some(ms(7000)));
}

#[test]
fn a_client_gives_up_on_a_server_that_never_answers() {
    let (done, wait) = mpsc::channel::<()>();
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let first = accept_tcp(&listener).unwrap();
        let second = accept_tcp(&listener).unwrap();
        let _ = wait.recv_timeout(LIMIT);
        drop((first, second));
    });
    let config = Config::default().handshake_timeout(SHORT);
    let start = Instant::now();
    let err = connect_with(request(addr), config.clone(), None).unwrap_err();
    // The whole limit is named, though TCP took part of it.
    assert!(
        matches!(err, Error::Handshake(HandshakeError::TimedOut { after }) if after == SHORT),
        "{err:?}"
    );
    assert!(start.elapsed() < ms(3000));
    // Over a socket connected by hand, with a longer timeout of the caller's.
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(LIMIT)).unwrap();
    let err = client(request(addr), tcp, config).unwrap_err();
    assert!(
        matches!(err, Error::Handshake(HandshakeError::TimedOut { .. })),
        "{err:?}"
    );
    done.send(()).unwrap();
    server.join().unwrap();
}

// ----- clear handshake errors -----

/// A "proxy" answering every request with `response`, then closing.
fn answering(response: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { return };
            bound(&tcp).unwrap();
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf);
            let _ = tcp.write_all(response);
        }
    });
    addr
}

#[test]
fn refusals_name_the_status_and_the_likely_cause() {
    let cases: [(&[u8], u16, &str); 4] = [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            200,
            "proxy",
        ),
        (
            b"HTTP/1.1 400 Bad Request\r\n\r\n",
            400,
            "Upgrade and Connection headers",
        ),
        (b"HTTP/1.1 403 Forbidden\r\n\r\n", 403, "refused the client"),
        (
            b"HTTP/1.1 426 Upgrade Required\r\n\r\n",
            426,
            "stripped the Upgrade header",
        ),
    ];
    for (response, status, cause) in cases {
        let addr = answering(response);
        let err = connect(&format!("ws://{addr}/")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("{status}")) && text.contains(cause),
            "{text}"
        );
    }
}

#[test]
fn a_connection_closed_during_the_handshake_says_so() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        if let Ok((mut tcp, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = tcp.read(&mut buf);
        }
    });
    let err = connect(&format!("ws://{addr}/")).unwrap_err();
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
}

// ----- close timeout, keepalive, idle timeout -----

#[test]
fn close_returns_within_the_close_timeout_when_the_peer_never_reads() {
    let (done, wait) = mpsc::channel::<()>();
    let (listener, addr) = listener();
    let peer = thread::spawn(move || {
        let mut tcp = accept_tcp(&listener).unwrap();
        raw_accept(&mut tcp);
        let _ = wait.recv_timeout(LIMIT); // then never reads or answers
        tcp
    });
    let config = Config::default().close_timeout(SHORT).deflate(None);
    let (mut ws, _) = connect_with(request(addr), config, None).unwrap();
    // Queue more than the socket buffers take; write until the writes stall.
    for _ in 0..32 {
        ws.connection_mut().send_binary(vec![1u8; 1 << 20]).unwrap();
    }
    ws.get_ref().tcp().set_write_timeout(Some(ms(100))).unwrap();
    assert!(ws.flush().unwrap_err().is_timeout());
    assert!(ws.connection().buffered_amount() > 0);
    // No write timeout of ours from here on: only the close timer bounds it.
    ws.get_ref().tcp().set_write_timeout(None).unwrap();
    ws.get_ref().tcp().set_read_timeout(Some(LIMIT)).unwrap();
    let start = Instant::now();
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    let frame = read_until_close(&mut ws).unwrap();
    let waited = start.elapsed();
    assert_eq!(frame.code, CloseCode::ABNORMAL);
    assert!(waited >= ms(250) && waited < ms(2500), "{waited:?}");
    assert_eq!(
        ws.connection().buffered_amount(),
        0,
        "the queue was dropped"
    );
    assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
    // Our timeouts are as we left them.
    assert_eq!(ws.get_ref().tcp().write_timeout().unwrap(), None);
    assert_eq!(ws.get_ref().tcp().read_timeout().unwrap(), Some(LIMIT));
    drop(ws);
    done.send(()).unwrap();
    let mut tcp = peer.join().unwrap();
    assert!(sees_eof(&mut tcp, ms(5000)));
}

#[test]
fn close_returns_within_the_close_timeout_when_a_raw_peer_never_answers() {
    let (done, wait) = mpsc::channel::<()>();
    let (listener, addr) = listener();
    let peer = thread::spawn(move || {
        let mut tcp = accept_tcp(&listener).unwrap();
        raw_accept(&mut tcp);
        let _ = wait.recv_timeout(LIMIT);
    });
    let config = Config::default().close_timeout(SHORT);
    let (mut ws, _) = connect_with(request(addr), config, None).unwrap();
    let start = Instant::now();
    ws.close(CloseCode::NORMAL, "").unwrap();
    let frame = read_until_close(&mut ws).unwrap();
    let waited = start.elapsed();
    assert_eq!(CloseKind::from(&frame), CloseKind::Abnormal);
    assert!(waited >= ms(250) && waited < ms(2500), "{waited:?}");
    done.send(()).unwrap();
    peer.join().unwrap();
}

#[test]
fn a_silent_peer_is_pinged_then_dropped_with_1006() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let tcp = accept_tcp(&listener).unwrap();
        let config = Config::default()
            .ping_interval(Some(ms(100)))
            .idle_timeout(Some(ms(450)));
        let mut ws = accept_with(tcp, config, Request::accept).unwrap();
        let start = Instant::now();
        let message = ws.read().unwrap();
        let waited = start.elapsed();
        assert!(matches!(ws.read(), Err(Error::ConnectionClosed)));
        (message, waited)
    });
    let (mut tcp, leftover) = raw_handshake(addr);
    // Read what the server sends, never answering.
    let mut peer = Connection::new(Role::Client, Config::default());
    peer.receive(&leftover);
    let (mut pings, mut close) = (0, None);
    let mut buf = [0u8; 4096];
    loop {
        while let Ok(Some(event)) = peer.poll_event() {
            match event {
                Event::Ping(_) => pings += 1,
                Event::Close(frame) => close = Some(frame.code),
                _ => {}
            }
        }
        while peer.poll_transmit().is_some() {}
        match tcp.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => peer.receive(&buf[..n]),
        }
    }
    let (message, waited) = server.join().unwrap();
    assert!(pings >= 2, "{pings} pings");
    assert_eq!(close, Some(CloseCode::GOING_AWAY));
    let Message::Close(frame) = message else {
        panic!("{message:?}")
    };
    assert_eq!(CloseKind::of(frame.code), CloseKind::Abnormal);
    assert!(waited >= ms(400) && waited < ms(3000), "{waited:?}");
}

#[test]
fn a_peer_that_answers_pings_stays_connected_past_the_idle_timeout() {
    let (url, server) = serve_one(|tcp| {
        let config = Config::default()
            .ping_interval(Some(ms(50)))
            .idle_timeout(Some(ms(200)));
        let mut ws = accept_with(tcp, config, Request::accept).unwrap();
        common::echo_until_close(&mut ws)
    });
    let (mut ws, _) = connect(&url).unwrap();
    ws.get_ref().tcp().set_read_timeout(Some(ms(50))).unwrap();
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < ms(800) {
        match ws.read() {
            Ok(Message::Ping(_)) => pings += 1,
            Err(err) if err.is_timeout() => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(pings >= 5, "{pings}");
    ws.get_ref().tcp().set_read_timeout(Some(LIMIT)).unwrap();
    ws.send(Message::text("still here")).unwrap();
    loop {
        match ws.read().unwrap() {
            Message::Ping(_) => {}
            other => {
                assert_eq!(other, Message::text("still here"));
                break;
            }
        }
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(read_until_close(&mut ws).unwrap().code, CloseCode::NORMAL);
    assert_eq!(server.join().unwrap().unwrap().code, CloseCode::NORMAL);
}

// ----- close kinds -----

#[test]
fn close_kinds_tell_endings_apart() {
    let cases = [
        (1000, CloseKind::Clean),
        (1001, CloseKind::Clean),
        (1002, CloseKind::ProtocolError),
        (1007, CloseKind::ProtocolError),
        (1009, CloseKind::ProtocolError),
        (4000, CloseKind::Application),
        (1011, CloseKind::Other),
    ];
    for (code, kind) in cases {
        let (url, server) = serve_one(move |tcp| {
            let mut ws = accept(tcp).unwrap();
            ws.close(CloseCode(code), "server says").unwrap();
            read_until_close(&mut ws).unwrap()
        });
        let (mut ws, _) = connect(&url).unwrap();
        bound(ws.get_ref().tcp()).unwrap();
        let frame = read_until_close(&mut ws).unwrap();
        assert_eq!(CloseKind::from(&frame), kind, "{frame:?}");
        server.join().unwrap();
    }
    // A protocol error seen locally carries its code too.
    let (url, server) = serve_one(|mut tcp| {
        raw_accept(&mut tcp);
        tcp.write_all(&[0x81, 0x02, 0xff, 0xfe]).unwrap(); // text, not UTF-8
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest);
    });
    let (mut ws, _) = connect(&url).unwrap();
    bound(ws.get_ref().tcp()).unwrap();
    let err = ws.read().unwrap_err();
    assert_eq!(
        err.close_code().map(CloseKind::of),
        Some(CloseKind::ProtocolError)
    );
    drop(ws);
    server.join().unwrap();
}

// ----- slow reader -----

#[test]
fn a_client_that_stops_reading_makes_the_server_wait_with_bounded_memory() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let tcp = accept_tcp(&listener).unwrap();
        let mut ws = accept_with(tcp, Config::default().deflate(None), Request::accept).unwrap();
        ws.get_ref().set_write_timeout(Some(ms(200))).unwrap();
        let message = vec![3u8; 16 * 1024];
        let mut sent = 0usize;
        loop {
            match ws.send(Message::binary(message.clone())) {
                Ok(()) => sent += message.len(),
                // `send` blocks once the peer's and the kernel's buffers are full.
                Err(err) if err.is_timeout() => break,
                Err(err) => panic!("{err:?}"),
            }
            assert!(sent < 1 << 30, "never blocked");
        }
        (sent, ws.connection().buffered_amount())
    });
    // Handshake, then never read.
    let (tcp, _) = raw_handshake(addr);
    let (sent, buffered) = server.join().unwrap();
    assert!(sent > 0);
    // The server holds at most the one message it was writing.
    assert!(buffered <= 16 * 1024 + 14, "{buffered} queued");
    drop(tcp);
}

#[test]
fn echo_helpers_still_work_with_timeouts_configured() {
    // The ordinary path with every timer configured: nothing fires early.
    let (url, server) = serve_one(|tcp| {
        let config = Config::default()
            .handshake_timeout(ms(2000))
            .ping_interval(Some(ms(1000)))
            .idle_timeout(Some(ms(5000)));
        let mut ws = accept_with(tcp, config, Request::accept).unwrap();
        common::echo_until_close(&mut ws)
    });
    let (mut ws, _) = connect(&url).unwrap();
    bound(ws.get_ref().tcp()).unwrap();
    for i in 0..20 {
        ws.send(Message::text(format!("{i}"))).unwrap();
        assert_eq!(ws.read().unwrap(), Message::text(format!("{i}")));
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(read_until_close(&mut ws).unwrap().code, CloseCode::NORMAL);
    assert_eq!(server.join().unwrap().unwrap().code, CloseCode::NORMAL);
}
