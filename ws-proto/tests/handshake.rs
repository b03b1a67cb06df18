//! The opening handshake run by the connection itself: both roles in
//! memory, every split of the heads, limits, refusals, timeouts, end of
//! stream, and the bytes that follow a head.

use std::time::{Duration, Instant};

use ws_proto::handshake::{
    ClientRequest, HandshakeError, Limits, RequestError, ResponseError, ServerResponse,
};
use ws_proto::{CloseCode, Config, Connection, Error, Event, Randomness, ReadyState, SendError};

fn config() -> Config {
    Config::new(Randomness::seeded(7))
}

fn queued(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = conn.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    out
}

fn request_head(url: &str) -> Vec<u8> {
    let mut client = Connection::client(ClientRequest::from_url(url).unwrap(), config());
    queued(&mut client)
}

/// Runs both machines to the open state; returns them.
fn open_pair(server_config: Config, client_config: Config) -> (Connection, Connection) {
    let request = ClientRequest::from_url("ws://example.com/chat")
        .unwrap()
        .protocol("chat");
    let mut client = Connection::client(request, client_config);
    let mut server = Connection::server(server_config);
    server.receive(&queued(&mut client));
    let Ok(Some(Event::Request(request))) = server.poll_event() else {
        panic!("no request event");
    };
    assert_eq!(request.protocols(), ["chat"]);
    server
        .respond(request.accept_with_protocol("chat").unwrap())
        .unwrap();
    assert_eq!(server.ready_state(), ReadyState::Open);
    client.receive(&queued(&mut server));
    let Ok(Some(Event::Response(response))) = client.poll_event() else {
        panic!("no response event");
    };
    assert_eq!(response.protocol(), Some("chat"));
    assert_eq!(client.ready_state(), ReadyState::Open);
    (server, client)
}

#[test]
fn both_machines_open_and_exchange_messages() {
    let (mut server, mut client) = open_pair(config(), config());
    client.send_text("hello").unwrap();
    server.receive(&queued(&mut client));
    assert_eq!(server.poll_event(), Ok(Some(Event::Text("hello".into()))));
    server.close(CloseCode(4000), "bye").unwrap();
    client.receive(&queued(&mut server));
    let Ok(Some(Event::Close(frame))) = client.poll_event() else {
        panic!()
    };
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (CloseCode(4000), "bye")
    );
    // The reply carries the code and the reason back.
    server.receive(&queued(&mut client));
    let Ok(Some(Event::Close(reply))) = server.poll_event() else {
        panic!()
    };
    assert_eq!(
        (reply.code, reply.reason.as_str()),
        (CloseCode(4000), "bye")
    );
}

#[test]
fn permessage_deflate_is_negotiated_by_the_machines() {
    let (mut server, mut client) = open_pair(config(), config());
    let text = "compress me ".repeat(20);
    client.send_text(text.as_str()).unwrap();
    let wire = queued(&mut client);
    assert!(wire[0] & 0x40 != 0, "RSV1: the message was compressed");
    assert!(wire.len() < text.len());
    server.receive(&wire);
    assert_eq!(server.poll_event(), Ok(Some(Event::Text(text.into()))));
}

#[test]
fn the_request_parses_at_every_split() {
    let head = request_head("ws://h/split");
    for cut in 0..=head.len() {
        let mut server = Connection::server(config());
        server.receive(&head[..cut]);
        if cut < head.len() {
            assert_eq!(server.poll_event(), Ok(None), "cut {cut}");
            server.receive(&head[cut..]);
        }
        assert!(
            matches!(server.poll_event(), Ok(Some(Event::Request(r))) if r.path() == "/split"),
            "cut {cut}"
        );
    }
}

#[test]
fn the_response_parses_at_every_split() {
    let mut server = Connection::server(config());
    let mut client = Connection::client(ClientRequest::from_url("ws://h/").unwrap(), config());
    server.receive(&queued(&mut client));
    let Ok(Some(Event::Request(request))) = server.poll_event() else {
        panic!()
    };
    server.respond(request.accept()).unwrap();
    server.send_binary(vec![7; 3]).unwrap();
    let answer = queued(&mut server);
    for cut in 0..=answer.len() {
        let mut client = Connection::client(ClientRequest::from_url("ws://h/").unwrap(), config());
        let _ = queued(&mut client);
        client.receive(&answer[..cut]);
        let mut events = Vec::new();
        while let Some(event) = client.poll_event().unwrap() {
            events.push(event);
        }
        client.receive(&answer[cut..]);
        while let Some(event) = client.poll_event().unwrap() {
            events.push(event);
        }
        assert!(matches!(events[0], Event::Response(_)), "cut {cut}");
        assert_eq!(events[1..], [Event::Binary(vec![7; 3].into())], "cut {cut}");
    }
}

#[test]
fn frames_pipelined_after_the_request_wait_for_the_answer() {
    let request = ClientRequest::from_url("ws://h/").unwrap();
    let mut client = Connection::client(request, config().deflate(None));
    let head = queued(&mut client);
    let mut bytes = head.clone();
    // A masked text frame "Hello" (RFC 6455 section 5.7) in the same read.
    bytes.extend_from_slice(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    let mut server = Connection::server(config());
    server.receive(&bytes);
    let Ok(Some(Event::Request(request))) = server.poll_event() else {
        panic!()
    };
    assert_eq!(server.poll_event(), Ok(None), "not before the answer");
    server.respond(request.accept()).unwrap();
    assert_eq!(server.poll_event(), Ok(Some(Event::Text("Hello".into()))));
}

#[test]
fn a_bad_request_gets_its_error_status() {
    let mut server = Connection::server(config());
    server.receive(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
    let err = server.poll_event().unwrap_err();
    assert_eq!(
        err,
        Error::Handshake(HandshakeError::Request(RequestError::UnsupportedVersion(
            Some("8".into())
        )))
    );
    assert_eq!(err.status(), Some(426));
    let answer = String::from_utf8(queued(&mut server)).unwrap();
    assert!(answer.starts_with("HTTP/1.1 426 "), "{answer}");
    assert!(answer.contains("Sec-WebSocket-Version: 13\r\n"), "{answer}");
    assert!(server.should_close_transport());
    assert_eq!(server.ready_state(), ReadyState::Closed);
    assert_eq!(server.poll_event(), Err(err), "sticky");
}

#[test]
fn a_head_over_the_limit_gets_431() {
    let limits = Limits {
        max_header_bytes: 256,
        max_headers: 8,
    };
    let mut server = Connection::server(config().handshake_limits(limits));
    server.receive(b"GET / HTTP/1.1\r\nHost: h\r\n");
    assert_eq!(server.poll_event(), Ok(None));
    server.receive(&[b'x'; 300]);
    let err = server.poll_event().unwrap_err();
    assert_eq!(err.status(), Some(431));
    assert!(queued(&mut server).starts_with(b"HTTP/1.1 431 "));
}

#[test]
fn a_refusal_is_queued_and_reported() {
    let mut server = Connection::server(config());
    server.receive(&request_head("ws://h/private"));
    let Ok(Some(Event::Request(_))) = server.poll_event() else {
        panic!()
    };
    server
        .respond(ServerResponse::reject(403, "go away"))
        .unwrap();
    assert_eq!(
        server.poll_event(),
        Err(Error::Handshake(HandshakeError::Refused { status: 403 }))
    );
    assert_eq!(
        server.respond(ServerResponse::reject(500, "")),
        Err(SendError::NoRequestToAnswer)
    );
    let answer = queued(&mut server);
    assert!(answer.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    assert!(answer.ends_with(b"\r\n\r\ngo away"));
    assert!(server.should_close_transport());
}

#[test]
fn the_client_waits_for_a_refusals_body() {
    let mut client = Connection::client(ClientRequest::from_url("ws://h/").unwrap(), config());
    let _ = queued(&mut client);
    client.receive(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 7\r\n\r\ngo ");
    assert_eq!(client.poll_event(), Ok(None), "the body is not all here");
    client.receive(b"away");
    match client.poll_event() {
        Err(Error::Handshake(HandshakeError::Response(ResponseError::Rejected(rejection)))) => {
            assert_eq!(
                (rejection.status, &rejection.body[..]),
                (403, &b"go away"[..])
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(client.should_close_transport());
}

#[test]
fn a_refusal_without_its_whole_body_ends_at_end_of_stream() {
    let mut client = Connection::client(ClientRequest::from_url("ws://h/").unwrap(), config());
    let _ = queued(&mut client);
    client.receive(b"HTTP/1.1 503 Busy\r\nContent-Length: 100\r\n\r\nbusy");
    assert_eq!(client.poll_event(), Ok(None));
    client.receive_eof();
    assert_eq!(client.poll_event().unwrap_err().status(), Some(503));
}

#[test]
fn a_wrong_accept_key_fails_the_client() {
    let mut client = Connection::client(ClientRequest::from_url("ws://h/").unwrap(), config());
    let _ = queued(&mut client);
    client.receive(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n");
    assert_eq!(
        client.poll_event(),
        Err(Error::Handshake(HandshakeError::Response(
            ResponseError::AcceptMismatch
        )))
    );
}

#[test]
fn the_handshake_times_out() {
    for mut conn in [
        Connection::server(config().handshake_timeout(Duration::from_secs(2))),
        Connection::client(
            ClientRequest::from_url("ws://h/").unwrap(),
            config().handshake_timeout(Duration::from_secs(2)),
        ),
    ] {
        let start = Instant::now();
        let deadline = conn.poll_timeout(start).expect("the handshake timer runs");
        assert_eq!(deadline, start + Duration::from_secs(2));
        // Later calls keep the first deadline (a byte a second does not extend it).
        conn.receive(b"G");
        assert_eq!(
            conn.poll_timeout(start + Duration::from_secs(1)),
            Some(deadline)
        );
        conn.handle_timeout(start + Duration::from_secs(1));
        assert_eq!(conn.ready_state(), ReadyState::Connecting, "early: nothing");
        conn.handle_timeout(deadline);
        assert_eq!(
            conn.poll_event(),
            Err(Error::Handshake(HandshakeError::TimedOut {
                after: Duration::from_secs(2)
            }))
        );
        assert!(conn.should_close_transport());
    }
}

#[test]
fn end_of_stream_during_the_handshake_names_the_peer() {
    let mut server = Connection::server(config());
    server.receive(b"GET / HT");
    server.receive_eof();
    let err = server.poll_event().unwrap_err();
    assert!(err.to_string().contains("by the client"), "{err}");
    let mut client = Connection::client(ClientRequest::from_url("ws://h/").unwrap(), config());
    client.receive_eof();
    let err = client.poll_event().unwrap_err();
    assert!(err.to_string().contains("proxy"), "{err}");
    assert!(client.should_close_transport());
}

#[test]
fn nothing_is_sent_before_the_handshake_completes() {
    let mut client = Connection::client(ClientRequest::from_url("ws://h/").unwrap(), config());
    assert_eq!(client.send_text("early"), Err(SendError::Connecting));
    assert_eq!(
        client.close(CloseCode::NORMAL, ""),
        Err(SendError::Connecting)
    );
    assert_eq!(
        client.respond(ServerResponse::reject(400, "")),
        Err(SendError::NoRequestToAnswer)
    );
    let mut server = Connection::server(config());
    assert_eq!(server.send_text("early"), Err(SendError::Connecting));
    assert_eq!(
        server.respond(ServerResponse::reject(400, "")),
        Err(SendError::NoRequestToAnswer),
        "no request yet"
    );
}

#[test]
fn keepalive_starts_once_open() {
    let keepalive = config().ping_interval(Some(Duration::from_secs(1)));
    let mut server =
        Connection::server(keepalive.clone().handshake_timeout(Duration::from_secs(9)));
    let now = Instant::now();
    assert_eq!(server.poll_timeout(now), Some(now + Duration::from_secs(9)));
    let (mut server, _client) = open_pair(keepalive, config());
    let later = Instant::now();
    assert_eq!(
        server.poll_timeout(later),
        Some(later + Duration::from_secs(1))
    );
}

#[test]
fn a_head_sent_a_byte_at_a_time_is_found() {
    // Bare `\n` line ends, as the parser also accepts them.
    let head = b"GET /slow HTTP/1.1\nHost: h\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n";
    for head in [&head[..], &request_head("ws://h/slow")[..]] {
        let mut server = Connection::server(config());
        for (i, byte) in head.iter().enumerate() {
            server.receive(&[*byte]);
            let event = server.poll_event().unwrap();
            if i + 1 < head.len() {
                assert_eq!(event, None, "byte {i}");
            } else {
                assert!(matches!(event, Some(Event::Request(r)) if r.path() == "/slow"));
            }
        }
    }
}

#[test]
fn something_that_is_not_http_is_refused_at_once() {
    let mut server = Connection::server(config());
    // The start of a TLS ClientHello on a plain port.
    server.receive(&[
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ]);
    let err = server.poll_event().unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(queued(&mut server).starts_with(b"HTTP/1.1 400 "));
}

#[test]
fn a_response_head_without_an_end_is_refused_at_the_limit() {
    // A server that never ends its head: the client must give up at its
    // 16 KiB response-head limit, not buffer until the timeout.
    let mut client = Connection::client(ClientRequest::from_url("ws://h/").unwrap(), config());
    let _ = queued(&mut client);
    client.receive(b"HTTP/1.1 101 Switching Protocols\r\nX-Filler: ");
    assert_eq!(client.poll_event(), Ok(None));
    for _ in 0..20 {
        client.receive(&[b'a'; 1024]);
        if client.poll_event().is_err() {
            break;
        }
    }
    assert_eq!(
        client.poll_event(),
        Err(Error::Handshake(HandshakeError::Response(
            ResponseError::HeadersTooLarge { limit: 16 * 1024 }
        )))
    );
    assert!(client.should_close_transport());
}
