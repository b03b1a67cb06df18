//! Blocking client against blocking server over 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{accept_tcp, bound, echo, listener, read_until_close, serve_one, LIMIT};
use ws_blocking::ws_proto::handshake::{RequestError, ResponseError};
use ws_blocking::ws_proto::Role;
use ws_blocking::{
    accept, accept_with, connect, connect_with, ClientRequest, CloseCode, Config, Error,
    HandshakeError, Message, ServerResponse,
};

/// Connects to `url` with time-limited socket reads and writes.
fn connect_bounded(url: &str) -> ws_blocking::WebSocket<ws_blocking::MaybeTlsStream> {
    let (ws, _) = connect(url).expect("connect");
    bound(ws.get_ref().tcp()).expect("timeouts");
    ws
}

fn assert_closed<S: ws_blocking::Transport>(ws: &mut ws_blocking::WebSocket<S>) {
    match ws.read() {
        Err(Error::ConnectionClosed) => {}
        other => panic!("expected ConnectionClosed, got {other:?}"),
    }
}

#[test]
fn text_and_binary_at_every_length_class() {
    let (url, server) = serve_one(echo);
    let mut ws = connect_bounded(&format!("{url}/echo"));
    for len in [0, 125, 126, 65535, 65536, 1 << 20] {
        let text: String = (0..len)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        ws.send(Message::text(text.clone())).unwrap();
        assert_eq!(
            ws.read().unwrap(),
            Message::text(text),
            "text of {len} bytes"
        );
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        ws.send(Message::binary(data.clone())).unwrap();
        assert_eq!(
            ws.read().unwrap(),
            Message::binary(data),
            "binary of {len} bytes"
        );
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    let reply = read_until_close(&mut ws).unwrap();
    assert_eq!(reply.code, CloseCode::NORMAL);
    assert_closed(&mut ws);
    let seen = server.join().unwrap().unwrap();
    assert_eq!(seen.code, CloseCode::NORMAL);
}

#[test]
fn pings_are_answered_and_pongs_delivered() {
    let (url, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        // The core answers the ping during this read.
        assert_eq!(ws.read().unwrap(), Message::Ping("tick".into()));
        ws.send(Message::Pong("unsolicited".into())).unwrap();
        read_until_close(&mut ws).unwrap()
    });
    let mut ws = connect_bounded(&url);
    ws.send(Message::Ping("tick".into())).unwrap();
    assert_eq!(ws.read().unwrap(), Message::Pong("tick".into()));
    assert_eq!(ws.read().unwrap(), Message::Pong("unsolicited".into()));
    ws.close(CloseCode::NORMAL, "").unwrap();
    read_until_close(&mut ws).unwrap();
    server.join().unwrap();
}

#[test]
fn client_close_code_and_reason_reach_the_server() {
    let (url, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        let frame = read_until_close(&mut ws).unwrap();
        assert_closed(&mut ws);
        frame
    });
    let mut ws = connect_bounded(&url);
    ws.close(CloseCode(4001), "client is done").unwrap();
    assert!(matches!(
        ws.send(Message::text("late")),
        Err(Error::Send(_))
    ));
    let reply = read_until_close(&mut ws).unwrap();
    assert_eq!(reply.code, CloseCode(4001), "the server echoes the code");
    assert_closed(&mut ws);
    let seen = server.join().unwrap();
    assert_eq!(
        (seen.code, seen.reason.as_str()),
        (CloseCode(4001), "client is done")
    );
}

#[test]
fn server_close_code_and_reason_reach_the_client() {
    let (url, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        ws.close(CloseCode::GOING_AWAY, "server restarting")
            .unwrap();
        let reply = read_until_close(&mut ws).unwrap();
        assert_closed(&mut ws);
        reply
    });
    let mut ws = connect_bounded(&url);
    let frame = read_until_close(&mut ws).unwrap();
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (CloseCode::GOING_AWAY, "server restarting")
    );
    // The server closes TCP first; the client sees that as the end.
    assert_closed(&mut ws);
    assert_closed(&mut ws);
    assert_eq!(server.join().unwrap().code, CloseCode::GOING_AWAY);
}

#[test]
fn a_refusing_callback_gives_the_client_status_403() {
    let (url, server) = serve_one(|tcp| {
        accept_with(tcp, Config::default(), |request| {
            assert_eq!(request.path(), "/private");
            ServerResponse::reject(403, "members only")
        })
    });
    let err = connect(&format!("{url}/private")).unwrap_err();
    match &err {
        Error::Handshake(HandshakeError::Response(ResponseError::Rejected(rejection))) => {
            assert_eq!(rejection.status, 403);
            assert_eq!(rejection.body, b"members only");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert!(err.to_string().contains("403"), "{err}");
    assert_eq!(err.status(), Some(403));
    let refused = server.join().unwrap().unwrap_err();
    assert!(
        matches!(
            refused,
            Error::Handshake(HandshakeError::Refused { status: 403 })
        ),
        "{refused:?}"
    );
    assert_eq!(refused.status(), Some(403));
}

#[test]
fn the_callback_sees_the_request_and_chooses_a_subprotocol() {
    let (url, server) = serve_one(|tcp| {
        let mut seen = None;
        let mut ws = accept_with(tcp, Config::default(), |request| {
            seen = Some((
                request.target().to_string(),
                request.origin().map(str::to_string),
                request.protocols().to_vec(),
            ));
            request.accept_with_protocol("chat.v2").unwrap()
        })
        .unwrap();
        common::echo_until_close(&mut ws).unwrap();
        seen.unwrap()
    });
    let request = ClientRequest::from_url(&format!("{url}/room?id=7"))
        .unwrap()
        .protocol("chat.v1")
        .protocol("chat.v2")
        .header("Origin", "http://app.test");
    let (mut ws, response) = connect_with(request, Config::default(), None).unwrap();
    bound(ws.get_ref().tcp()).unwrap();
    assert_eq!(response.protocol(), Some("chat.v2"));
    ws.send(Message::text("hi")).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("hi"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    read_until_close(&mut ws).unwrap();
    let (target, origin, protocols) = server.join().unwrap();
    assert_eq!(target, "/room?id=7");
    assert_eq!(origin.as_deref(), Some("http://app.test"));
    assert_eq!(protocols, ["chat.v1", "chat.v2"]);
}

#[test]
fn garbage_after_the_handshake_gets_1002_and_the_server_keeps_serving() {
    let (listener, addr) = listener();
    let server = thread::spawn(move || {
        let mut workers = Vec::new();
        for _ in 0..2 {
            let tcp = accept_tcp(&listener).unwrap();
            workers.push(thread::spawn(move || echo(tcp)));
        }
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .collect::<Vec<_>>()
    });
    let url = format!("ws://{addr}");

    let mut bad = connect_bounded(&url);
    // 0xff: FIN, all three reserved bits and reserved opcode 0xF.
    bad.get_mut().write_all(b"\xff\xff garbage").unwrap();
    let frame = read_until_close(&mut bad).unwrap();
    assert_eq!(frame.code, CloseCode::PROTOCOL_ERROR);
    assert_closed(&mut bad);

    let mut good = connect_bounded(&url);
    good.send(Message::text("still there?")).unwrap();
    assert_eq!(good.read().unwrap(), Message::text("still there?"));
    good.close(CloseCode::NORMAL, "").unwrap();
    read_until_close(&mut good).unwrap();

    let results = server.join().unwrap();
    assert!(
        matches!(&results[0], Err(Error::Protocol(e)) if e.close_code() == CloseCode::PROTOCOL_ERROR),
        "{:?}",
        results[0]
    );
    assert_eq!(results[1].as_ref().unwrap().code, CloseCode::NORMAL);
}

#[test]
fn a_read_timeout_is_reported_and_the_connection_goes_on() {
    let (go_on, wait) = mpsc::channel::<()>();
    let (url, server) = serve_one(move |tcp| {
        let mut ws = accept(tcp).unwrap();
        // Half a frame, then the rest once the client has timed out on it.
        ws.get_mut().write_all(b"\x81\x05He").unwrap();
        wait.recv_timeout(LIMIT).unwrap();
        ws.get_mut().write_all(b"llo").unwrap();
        common::echo_until_close(&mut ws).unwrap()
    });
    let mut ws = connect_bounded(&url);
    ws.get_ref()
        .tcp()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let err = ws.read().unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let err = ws.read().unwrap_err();
    assert!(err.is_timeout(), "a second timeout: {err:?}");
    go_on.send(()).unwrap();
    bound(ws.get_ref().tcp()).unwrap();
    assert_eq!(ws.read().unwrap(), Message::text("Hello"));
    ws.send(Message::binary(vec![7; 300])).unwrap();
    assert_eq!(ws.read().unwrap(), Message::binary(vec![7; 300]));
    ws.close(CloseCode::NORMAL, "").unwrap();
    read_until_close(&mut ws).unwrap();
    server.join().unwrap();
}

#[test]
fn a_bad_version_gets_426_with_the_supported_version() {
    let (url, server) = serve_one(accept);
    let addr = url.trim_start_matches("ws://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    bound(&tcp).unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    )
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(
        answer.contains("\r\nSec-WebSocket-Version: 13\r\n"),
        "{answer}"
    );
    assert!(matches!(
        server.join().unwrap(),
        Err(Error::Handshake(HandshakeError::Request(
            RequestError::UnsupportedVersion(_)
        )))
    ));
}

#[test]
fn bytes_right_after_the_handshake_belong_to_the_connection() {
    // Server side: the request and a first frame in one write.
    let (url, server) = serve_one(|tcp| {
        let mut ws = accept(tcp).unwrap();
        ws.read().unwrap()
    });
    let request = ClientRequest::from_url(&format!("{url}/")).unwrap();
    let (mut bytes, pending) = request.into_handshake(&mut ws_blocking::ws_proto::Randomness::os());
    let mut raw_client = ws_blocking::ws_proto::Connection::new(Role::Client, Config::default());
    raw_client.send_text("early").unwrap();
    while let Some(frame) = raw_client.poll_transmit() {
        bytes.extend_from_slice(&frame);
    }
    let mut tcp = std::net::TcpStream::connect(url.trim_start_matches("ws://")).unwrap();
    bound(&tcp).unwrap();
    tcp.write_all(&bytes).unwrap();
    assert_eq!(server.join().unwrap(), Message::text("early"));
    let mut answer = vec![0; 1024];
    let n = tcp.read(&mut answer).unwrap();
    assert!(pending.parse_response(&answer[..n]).unwrap().is_some());

    // Client side: the response and a first frame in one write.
    let (url, server) = serve_one(|mut tcp| {
        let mut buf = vec![0; 4096];
        let mut len = 0;
        let request = loop {
            len += tcp.read(&mut buf[len..]).unwrap();
            if let Some((request, _)) = ws_blocking::Request::parse(&buf[..len]).unwrap() {
                break request;
            }
        };
        let mut answer = request.accept().to_bytes();
        answer.extend_from_slice(b"\x81\x02yo");
        tcp.write_all(&answer).unwrap();
        tcp
    });
    let mut ws = connect_bounded(&url);
    assert_eq!(ws.read().unwrap(), Message::text("yo"));
    drop(server.join().unwrap());
}

#[test]
fn the_close_timeout_ends_the_wait_for_a_silent_peer() {
    let (done, wait) = mpsc::channel::<()>();
    let (url, server) = serve_one(move |tcp| {
        // Completes the handshake, then neither reads nor answers.
        let ws = accept(tcp).unwrap();
        wait.recv_timeout(LIMIT).unwrap();
        drop(ws);
    });
    let request = ClientRequest::from_url(&url).unwrap();
    let config = Config::default().close_timeout(Duration::from_millis(200));
    let (mut ws, _) = connect_with(request, config, None).unwrap();
    bound(ws.get_ref().tcp()).unwrap();
    let start = Instant::now();
    ws.close(CloseCode::NORMAL, "").unwrap();
    let frame = read_until_close(&mut ws).unwrap();
    let waited = start.elapsed();
    assert_eq!(frame.code, CloseCode::ABNORMAL);
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // The user's read timeout is back in place.
    assert_eq!(ws.get_ref().tcp().read_timeout().unwrap(), Some(LIMIT));
    assert_closed(&mut ws);
    done.send(()).unwrap();
    server.join().unwrap();
}

#[test]
fn a_dropped_transport_is_reported_as_1006() {
    let (url, server) = serve_one(|tcp| {
        let ws = accept(tcp).unwrap();
        drop(ws);
    });
    let mut ws = connect_bounded(&url);
    server.join().unwrap();
    let frame = read_until_close(&mut ws).unwrap();
    assert_eq!(frame.code, CloseCode::ABNORMAL);
    assert_closed(&mut ws);
    assert!(matches!(ws.send(Message::text("x")), Err(Error::Send(_))));
}

#[test]
fn a_wrong_url_is_an_error_before_any_io() {
    assert!(matches!(connect("http://127.0.0.1:1/"), Err(Error::Url(_))));
}
