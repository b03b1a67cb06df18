//! The behaviour cases, each generic over [`Adapter`]. A case runs the
//! adapter on the test's thread and a scripted raw peer ([`Peer`]) in
//! another; both assert, and a failed assertion on either side fails the
//! case. Every wait is bounded (adapter calls by `WAIT` or a limit given
//! here, peer reads by the peer's read timeout), every loop by a count.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ws_conformance::peer::{
    client_frame, client_handshake, encode_frame, read_all, server_handshake, Peer,
};
use ws_conformance::{spawn_peer, tcp_pair, url_for, Adapter, Conn, Failure};
use ws_proto::frame::OpCode;
use ws_proto::handshake::{ClientRequest, Request, ResponseError, ServerResponse};
use ws_proto::{CloseCode, Config, Fragment, Message, MessageKind, Randomness};

/// Slack on top of a configured time limit before a case calls the adapter
/// late (the machine is shared and busy).
const SLACK: Duration = Duration::from_millis(1500);

/// The handshake limit of the timeout cases.
const HANDSHAKE_LIMIT: Duration = Duration::from_millis(500);

/// The adapters' config in every case: the defaults with a short close
/// timeout, so a close that goes wrong costs little time.
pub(crate) fn config() -> Config {
    Config::default().close_timeout(Duration::from_secs(2))
}

/// The raw client's request for the server end of `tcp`.
fn request_for(tcp: &TcpStream, path: &str) -> ClientRequest {
    ClientRequest::from_url(&url_for(tcp, path)).expect("a valid ws:// URL")
}

/// Runs a case with the adapter as the server: the raw client (in its own
/// thread) does the opening handshake and then `peer`; the adapter accepts
/// with `config` and then runs `adapter`. Returns the peer's result.
pub(crate) fn with_server<A, T>(
    name: &str,
    config: Config,
    peer: impl FnOnce(Peer) -> T + Send + 'static,
    adapter: impl FnOnce(&mut A::Conn),
) -> T
where
    A: Adapter,
    T: Send + 'static,
{
    let (server_tcp, client_tcp) = tcp_pair();
    let request = request_for(&client_tcp, "/conformance");
    let peer = spawn_peer(name, move || {
        let (p, _response) = client_handshake(client_tcp, request, &[]).expect("handshake");
        peer(p)
    });
    let mut conn = A::accept(server_tcp, config, Request::accept)
        .unwrap_or_else(|f| panic!("{}: accept failed: {f:?}", A::NAME));
    adapter(&mut conn);
    drop(conn);
    peer.join()
}

/// Runs a case with the adapter as the client: the raw server (in its own
/// thread) accepts the request and then runs `peer`; the adapter connects
/// with `config` and then runs `adapter`. Returns the peer's result.
pub(crate) fn with_client<A, T>(
    name: &str,
    config: Config,
    peer: impl FnOnce(Peer) -> T + Send + 'static,
    adapter: impl FnOnce(&mut A::Conn),
) -> T
where
    A: Adapter,
    T: Send + 'static,
{
    let (server_tcp, client_tcp) = tcp_pair();
    let request = request_for(&client_tcp, "/conformance");
    let peer = spawn_peer(name, move || {
        let (p, _request) = server_handshake(server_tcp, Request::accept, &[]).expect("handshake");
        peer(p)
    });
    let (mut conn, _response) = A::client(client_tcp, request, config)
        .unwrap_or_else(|f| panic!("{}: client handshake failed: {f:?}", A::NAME));
    adapter(&mut conn);
    drop(conn);
    peer.join()
}

/// The next message from the adapter, which must be there.
fn next<C: Conn>(conn: &mut C) -> Message {
    match conn.recv() {
        Some(Ok(message)) => message,
        Some(Err(failure)) => panic!("expected a message, got {failure:?}"),
        None => panic!("expected a message, the connection ended"),
    }
}

/// Reads until the adapter's stream ends (letting it write its close reply
/// and close the transport) and checks it does end.
fn finish<C: Conn>(conn: &mut C) {
    let rest = conn.drain(20);
    assert!(
        !matches!(rest.last(), Some(Err(Failure::WaitTimedOut))),
        "the connection did not end after the close: {rest:?}"
    );
}

/// Asserts `message` is a close with `code` (and `reason`, if given).
fn assert_close(message: &Message, code: CloseCode, reason: Option<&str>) {
    match message {
        Message::Close(frame) => {
            assert_eq!(frame.code, code, "close code of {frame:?}");
            if let Some(reason) = reason {
                assert_eq!(frame.reason.as_str(), reason, "close reason of {frame:?}");
            }
        }
        other => panic!("expected a close with {code}, got {other:?}"),
    }
}

/// The peer closes normally and checks the adapter's reply echoes 1000.
pub(crate) fn close_from_peer(peer: &mut Peer) {
    let reply = peer.close_normally().expect("the adapter's close reply");
    assert_eq!(reply.code, CloseCode::NORMAL, "reply to a 1000 close");
}

/// The adapter side of [`close_from_peer`].
fn close_seen_by_adapter<C: Conn>(conn: &mut C) {
    assert_close(&next(conn), CloseCode::NORMAL, Some("done"));
    finish(conn);
}

// ----- the opening handshake -----

/// Server side: a raw client's request (with a path, a query and a
/// subprotocol) is accepted with 101 and the subprotocol; the accept
/// callback sees the request; then a message each way.
pub(crate) fn handshake_accepted<A: Adapter>() {
    let (server_tcp, client_tcp) = tcp_pair();
    let request = request_for(&client_tcp, "/conformance?room=1").protocol("chat.v1");
    let peer = spawn_peer("handshake_accepted", move || {
        // `client_handshake` checks the status (101), Upgrade, Connection
        // and Sec-WebSocket-Accept with ws_proto, and the subprotocol.
        let (mut peer, response) = client_handshake(client_tcp, request, &[]).expect("101");
        assert_eq!(response.protocol(), Some("chat.v1"));
        peer.send_message(&Message::text("hello from the peer"))
            .unwrap();
        let (opcode, payload) = peer.read_message().expect("the adapter's message");
        assert_eq!(
            (opcode, &payload[..]),
            (OpCode::Text, &b"hello from the adapter"[..])
        );
        close_from_peer(&mut peer);
    });
    let mut seen = None;
    let mut conn = A::accept(server_tcp, config(), |request: &Request| {
        seen = Some((
            request.path().to_owned(),
            request.query().map(str::to_owned),
            request.protocols().to_vec(),
        ));
        request
            .accept_with_protocol("chat.v1")
            .unwrap_or_else(|e| ServerResponse::from_error(&e))
    })
    .unwrap_or_else(|f| panic!("accept failed: {f:?}"));
    let (path, query, protocols) = seen.expect("the accept callback was called");
    assert_eq!(path, "/conformance");
    assert_eq!(query.as_deref(), Some("room=1"));
    assert_eq!(protocols, ["chat.v1"]);
    assert_eq!(next(&mut conn), Message::text("hello from the peer"));
    conn.send(Message::text("hello from the adapter")).unwrap();
    close_seen_by_adapter(&mut conn);
    drop(conn);
    peer.join();
}

/// Client side: the adapter's request reaches a raw server with its path
/// and subprotocol; the server's choice shows in the adapter's response;
/// then a message each way.
pub(crate) fn client_handshake_accepted<A: Adapter>() {
    let (server_tcp, client_tcp) = tcp_pair();
    let request = request_for(&client_tcp, "/chat?v=2").protocol("chat.v1");
    let peer = spawn_peer("client_handshake_accepted", move || {
        let (mut peer, request) = server_handshake(
            server_tcp,
            |request| {
                request
                    .accept_with_protocol("chat.v1")
                    .unwrap_or_else(|e| ServerResponse::from_error(&e))
            },
            &[],
        )
        .expect("the adapter's request");
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.query(), Some("v=2"));
        assert_eq!(request.protocols(), ["chat.v1"]);
        // The frames of a client are masked: `read_frame` checks it.
        let (opcode, payload) = peer.read_message().expect("the adapter's message");
        assert_eq!(
            (opcode, &payload[..]),
            (OpCode::Text, &b"hello from the adapter"[..])
        );
        peer.send_message(&Message::text("hello from the peer"))
            .unwrap();
        close_from_peer(&mut peer);
    });
    let (mut conn, response) = A::client(client_tcp, request, config())
        .unwrap_or_else(|f| panic!("client handshake failed: {f:?}"));
    assert_eq!(response.protocol(), Some("chat.v1"));
    conn.send(Message::text("hello from the adapter")).unwrap();
    assert_eq!(next(&mut conn), Message::text("hello from the peer"));
    close_seen_by_adapter(&mut conn);
    drop(conn);
    peer.join();
}

/// Server side: the accept callback refuses with 403 "go away"; the raw
/// client reads that status and body, and the adapter reports a refusal
/// with 403.
pub(crate) fn handshake_refused_with_status_and_body<A: Adapter>() {
    let (server_tcp, mut client_tcp) = tcp_pair();
    let request = request_for(&client_tcp, "/private");
    let peer = spawn_peer("handshake_refused_with_status_and_body", move || {
        let (bytes, pending) = request.into_handshake(&mut Randomness::os());
        client_tcp.write_all(&bytes).unwrap();
        // The whole answer: the adapter ends the stream after a refusal.
        let answer = read_all(&mut client_tcp, Duration::from_secs(5)).expect("the refusal");
        match pending.parse_response(&answer) {
            Err(ResponseError::Rejected(rejection)) => {
                assert_eq!(rejection.status, 403, "{rejection:?}");
                assert_eq!(rejection.body, b"go away", "{rejection:?}");
            }
            other => panic!("expected a 403 refusal, got {other:?}"),
        }
    });
    let result = A::accept(server_tcp, config(), |_: &Request| {
        ServerResponse::reject(403, "go away")
    });
    match result {
        Err(Failure::Refused { status: 403, .. }) => {}
        Err(other) => panic!("expected Refused {{ status: 403 }}, got {other:?}"),
        Ok(_) => panic!("expected Refused {{ status: 403 }}, the handshake succeeded"),
    }
    peer.join();
}

/// Client side: a raw server answers 403 with a body; the adapter's failure
/// carries the status and, when the adapter exposes it, the body.
pub(crate) fn client_sees_refusal_status_and_body<A: Adapter>() {
    let (server_tcp, client_tcp) = tcp_pair();
    let request = request_for(&client_tcp, "/private");
    let peer = spawn_peer("client_sees_refusal_status_and_body", move || {
        let refuse = |_: &Request| ServerResponse::reject(403, "not here");
        // The answer is written in one write; dropping the peer ends the stream.
        let (_peer, request) = server_handshake(server_tcp, refuse, &[]).expect("the request");
        assert_eq!(request.path(), "/private");
    });
    match A::client(client_tcp, request, config()) {
        Err(Failure::Refused { status, body }) => {
            assert_eq!(status, 403);
            if let Some(body) = body {
                assert_eq!(body, b"not here", "the refusal's body");
            }
        }
        Err(other) => panic!("expected Refused {{ status: 403 }}, got {other:?}"),
        Ok(_) => panic!("expected Refused {{ status: 403 }}, the handshake succeeded"),
    }
    peer.join();
}

/// Server side: a request with `Sec-WebSocket-Version: 8` gets 426 with
/// `Sec-WebSocket-Version: 13` (RFC 6455 section 4.4), and the adapter
/// reports a bad request with 426.
pub(crate) fn handshake_bad_request_gets_error_status<A: Adapter>() {
    let (server_tcp, mut client_tcp) = tcp_pair();
    let request = request_for(&client_tcp, "/conformance");
    let peer = spawn_peer("handshake_bad_request_gets_error_status", move || {
        let (bytes, pending) = request.into_handshake(&mut Randomness::os());
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("Sec-WebSocket-Version: 13\r\n"), "{text}");
        let wrong = text.replace(
            "Sec-WebSocket-Version: 13\r\n",
            "Sec-WebSocket-Version: 8\r\n",
        );
        client_tcp.write_all(wrong.as_bytes()).unwrap();
        let answer = read_all(&mut client_tcp, Duration::from_secs(5)).expect("the answer");
        match pending.parse_response(&answer) {
            Err(ResponseError::Rejected(rejection)) => {
                assert_eq!(rejection.status, 426, "{rejection:?}");
                let version = rejection
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-version"))
                    .and_then(|h| h.value_str());
                assert_eq!(version, Some("13"), "{rejection:?}");
            }
            other => panic!("expected a 426 answer, got {other:?}"),
        }
    });
    match A::accept(server_tcp, config(), Request::accept) {
        Err(Failure::BadRequest { status: 426 }) => {}
        Err(other) => panic!("expected BadRequest {{ status: 426 }}, got {other:?}"),
        Ok(_) => panic!("expected BadRequest {{ status: 426 }}, the handshake succeeded"),
    }
    peer.join();
}

/// Runs the adapter's accept against a client that `stall`s, and checks it
/// gives up with a handshake timeout within the limit plus slack, and that
/// the client then sees the stream end.
fn handshake_times_out<A: Adapter>(name: &str, stall: fn(&mut TcpStream, &AtomicBool)) {
    let (server_tcp, mut client_tcp) = tcp_pair();
    let done = Arc::new(AtomicBool::new(false));
    let peer_done = Arc::clone(&done);
    let peer = spawn_peer(name, move || {
        stall(&mut client_tcp, &peer_done);
        // The adapter drops the transport: the stream ends (what it may
        // have written before, an error response, does not matter).
        read_all(&mut client_tcp, Duration::from_secs(5)).expect("the end of the stream");
    });
    let config = config().handshake_timeout(HANDSHAKE_LIMIT);
    let start = Instant::now();
    let result = A::accept(server_tcp, config, Request::accept);
    let elapsed = start.elapsed();
    done.store(true, Ordering::SeqCst);
    match result {
        Err(Failure::HandshakeTimedOut) => {}
        Err(other) => panic!("expected HandshakeTimedOut, got {other:?} after {elapsed:?}"),
        Ok(_) => panic!("expected HandshakeTimedOut, the handshake succeeded"),
    }
    assert!(
        elapsed >= HANDSHAKE_LIMIT.mul_f32(0.9),
        "gave up after {elapsed:?}, before the limit of {HANDSHAKE_LIMIT:?}"
    );
    assert!(
        elapsed <= HANDSHAKE_LIMIT + SLACK,
        "gave up after {elapsed:?}, limit {HANDSHAKE_LIMIT:?}"
    );
    peer.join();
}

/// A client that connects and sends nothing is dropped at the handshake
/// timeout (500 ms here).
pub(crate) fn handshake_timeout_silent_client<A: Adapter>() {
    handshake_times_out::<A>("handshake_timeout_silent_client", |_, done| {
        // Silent until the adapter has given up, at most 5 s.
        for _ in 0..100 {
            if done.load(Ordering::SeqCst) {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
    });
}

/// A client sending its request one byte every 200 ms (slowloris) does not
/// extend the handshake timeout (500 ms here).
pub(crate) fn handshake_timeout_byte_a_second<A: Adapter>() {
    handshake_times_out::<A>("handshake_timeout_byte_a_second", |tcp, done| {
        let url = url_for(tcp, "/slow");
        let (bytes, _) = ClientRequest::from_url(&url)
            .unwrap()
            .into_handshake(&mut Randomness::os());
        // At most 25 bytes (5 s), far from the whole request.
        for byte in bytes.iter().take(25) {
            if done.load(Ordering::SeqCst) || tcp.write_all(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
}

/// Server side: the raw client sends its request and a masked frame in one
/// write; the adapter delivers the frame (and echoes it back).
pub(crate) fn leftover_bytes_after_handshake<A: Adapter>() {
    let (server_tcp, client_tcp) = tcp_pair();
    let request = request_for(&client_tcp, "/conformance");
    let first = Message::text("sent with the request");
    let frame = client_frame(&first);
    let peer = spawn_peer("leftover_bytes_after_handshake", move || {
        let (mut peer, _) = client_handshake(client_tcp, request, &frame).expect("101");
        let (opcode, payload) = peer.read_message().expect("the echo");
        assert_eq!(
            (opcode, &payload[..]),
            (OpCode::Text, &b"sent with the request"[..])
        );
        close_from_peer(&mut peer);
    });
    let mut conn = A::accept(server_tcp, config(), Request::accept)
        .unwrap_or_else(|f| panic!("accept failed: {f:?}"));
    let got = next(&mut conn);
    assert_eq!(got, first, "the frame that came with the request");
    conn.send(got).unwrap();
    close_seen_by_adapter(&mut conn);
    drop(conn);
    peer.join();
}

/// Client side: the raw server writes its 101 and a frame in one write; the
/// adapter delivers the frame (and echoes it back).
pub(crate) fn client_leftover_bytes_after_response<A: Adapter>() {
    let (server_tcp, client_tcp) = tcp_pair();
    let request = request_for(&client_tcp, "/conformance");
    let peer = spawn_peer("client_leftover_bytes_after_response", move || {
        let frame = encode_frame(true, OpCode::Text, None, b"sent with the 101");
        let (mut peer, _) =
            server_handshake(server_tcp, Request::accept, &frame).expect("the request");
        let (opcode, payload) = peer.read_message().expect("the echo");
        assert_eq!(
            (opcode, &payload[..]),
            (OpCode::Text, &b"sent with the 101"[..])
        );
        close_from_peer(&mut peer);
    });
    let (mut conn, _) = A::client(client_tcp, request, config())
        .unwrap_or_else(|f| panic!("client handshake failed: {f:?}"));
    let got = next(&mut conn);
    assert_eq!(got, Message::text("sent with the 101"));
    conn.send(got).unwrap();
    close_seen_by_adapter(&mut conn);
    drop(conn);
    peer.join();
}

// ----- messages -----

/// The sizes every data message is tried with.
const SIZES: [usize; 7] = [0, 1, 125, 126, 65535, 65536, 1 << 20];

/// Valid UTF-8 of exactly `len` bytes, with two-byte characters mixed in.
fn text_of(len: usize) -> String {
    let mut text = String::with_capacity(len);
    let mut i = 0u32;
    while text.len() < len {
        if i % 7 == 3 && len - text.len() >= 2 {
            text.push('é');
        } else {
            text.push(char::from(b'a' + (i % 26) as u8));
        }
        i += 1;
    }
    text
}

/// The messages of [`messages_both_ways_0b_to_1mib`]: text and binary of
/// every size.
fn all_messages() -> Vec<Message> {
    SIZES
        .iter()
        .flat_map(|&len| {
            let binary: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
            [Message::text(text_of(len)), Message::binary(binary)]
        })
        .collect()
}

/// `message` as (opcode, payload), for comparing with what the peer read.
fn wire_form(message: &Message) -> (OpCode, &[u8]) {
    match message {
        Message::Text(text) => (OpCode::Text, text.as_bytes()),
        Message::Binary(data) => (OpCode::Binary, data),
        other => panic!("not a data message: {other:?}"),
    }
}

/// A short description of a data message, for assertion messages (1 MiB
/// payloads are not printed).
fn describe(message: &Message) -> String {
    match message {
        Message::Text(text) => format!("text of {} bytes", text.len()),
        Message::Binary(data) => format!("binary of {} bytes", data.len()),
        other => format!("{other:?}"),
    }
}

/// The peer's half of the echo: each message sent, and the adapter's echo
/// read back and compared.
fn peer_echo_round(peer: &mut Peer) {
    for message in all_messages() {
        peer.send_message(&message).unwrap();
        let (opcode, payload) = peer
            .read_message()
            .unwrap_or_else(|e| panic!("echo of {}: {e}", describe(&message)));
        let (want_opcode, want) = wire_form(&message);
        assert_eq!(opcode, want_opcode, "echo of {}", describe(&message));
        assert!(payload == want, "echo of {} differs", describe(&message));
    }
    close_from_peer(peer);
}

/// The adapter's half: each message received, compared, and sent back.
fn adapter_echo_round<C: Conn>(conn: &mut C) {
    for message in all_messages() {
        let got = next(conn);
        assert!(
            got == message,
            "expected {}, got {}",
            describe(&message),
            describe(&got)
        );
        conn.send(got)
            .unwrap_or_else(|f| panic!("send {}: {f:?}", describe(&message)));
    }
    close_seen_by_adapter(conn);
}

/// Text and binary messages of 0 B, 1 B, 125, 126, 65535, 65536 and 1 MiB,
/// each sent by the peer and echoed by the adapter, with the adapter as
/// the server and as the client.
pub(crate) fn messages_both_ways_0b_to_1mib<A: Adapter>() {
    with_server::<A, _>(
        "messages_both_ways (adapter as server)",
        config(),
        |mut peer| peer_echo_round(&mut peer),
        adapter_echo_round::<A::Conn>,
    );
    with_client::<A, _>(
        "messages_both_ways (adapter as client)",
        config(),
        |mut peer| peer_echo_round(&mut peer),
        adapter_echo_round::<A::Conn>,
    );
}

/// With `Config::deliver_fragments(true)`: `Message::Fragment`s sent through
/// the adapter go out as one frame each, and a message the peer sends as
/// three frames comes out of the adapter as `Message::Fragment` pieces
/// (however the adapter cuts them) that add up to the message.
pub(crate) fn fragments_when_asked_for<A: Adapter>() {
    const PIECES: [&[u8]; 3] = [b"Hel", b"lo, ", b"world"];
    let outgoing: [&[u8]; 3] = [&[1, 2, 3], &[4, 5], &[6]];
    with_server::<A, _>(
        "fragments_when_asked_for",
        config().deliver_fragments(true),
        move |mut peer| {
            // What the adapter sent: three frames, as they were given.
            for (i, data) in outgoing.iter().enumerate() {
                let frame = peer.read_frame().expect("a fragment's frame");
                let opcode = if i == 0 {
                    OpCode::Binary
                } else {
                    OpCode::Continuation
                };
                assert_eq!(frame.opcode, opcode, "frame {i}: {frame:?}");
                assert_eq!(frame.fin, i == 2, "FIN of frame {i}: {frame:?}");
                assert_eq!(frame.payload, *data, "frame {i}");
            }
            // A text message in three frames.
            for (i, data) in PIECES.iter().enumerate() {
                let opcode = if i == 0 {
                    OpCode::Text
                } else {
                    OpCode::Continuation
                };
                peer.send_frame(i == 2, opcode, data).unwrap();
            }
            close_from_peer(&mut peer);
        },
        move |conn| {
            for (i, data) in outgoing.iter().enumerate() {
                let piece = Fragment {
                    kind: MessageKind::Binary,
                    data: Bytes::from_static(data),
                    is_first: i == 0,
                    is_last: i == 2,
                };
                conn.send(Message::Fragment(piece))
                    .unwrap_or_else(|f| panic!("send fragment {i}: {f:?}"));
            }
            let mut text = Vec::new();
            for count in 0..100 {
                let piece = match next(conn) {
                    Message::Fragment(piece) => piece,
                    other => panic!(
                        "expected Message::Fragment pieces (deliver_fragments is on), got {other:?}"
                    ),
                };
                assert_eq!(piece.kind, MessageKind::Text, "{piece:?}");
                assert_eq!(
                    piece.is_first,
                    count == 0,
                    "is_first of piece {count}: {piece:?}"
                );
                text.extend_from_slice(&piece.data);
                if piece.is_last {
                    break;
                }
            }
            assert_eq!(text, PIECES.concat(), "the pieces put together");
            close_seen_by_adapter(conn);
        },
    );
}

// ----- control frames and closing -----

/// The peer's ping surfaces as `Message::Ping` and is answered with a pong
/// carrying the same payload; the adapter's ping is answered by the peer
/// and surfaces as `Message::Pong`.
pub(crate) fn ping_and_pong<A: Adapter>() {
    with_server::<A, _>(
        "ping_and_pong",
        config(),
        |mut peer| {
            peer.send_message(&Message::Ping(Bytes::from_static(b"tick")))
                .unwrap();
            let pong = peer.read_frame().expect("the pong");
            assert_eq!(
                (pong.opcode, &pong.payload[..]),
                (OpCode::Pong, &b"tick"[..])
            );
            peer.send_message(&Message::text("after the ping")).unwrap();
            let ping = peer.read_frame().expect("the adapter's ping");
            assert_eq!(
                (ping.opcode, &ping.payload[..]),
                (OpCode::Ping, &b"tock"[..])
            );
            peer.send_message(&Message::Pong(Bytes::from_static(b"tock")))
                .unwrap();
            close_from_peer(&mut peer);
        },
        |conn| {
            assert_eq!(next(conn), Message::Ping(Bytes::from_static(b"tick")));
            // Reading on lets the adapter write the pong if it has not yet.
            assert_eq!(next(conn), Message::text("after the ping"));
            conn.send(Message::Ping(Bytes::from_static(b"tock")))
                .unwrap();
            assert_eq!(next(conn), Message::Pong(Bytes::from_static(b"tock")));
            close_seen_by_adapter(conn);
        },
    );
}

/// The peer closes with 4000 "bye": the adapter sees both, and its reply
/// on the wire echoes both. The adapter (as a client) closes with 4001
/// "later": the peer sees both.
pub(crate) fn close_code_and_reason_both_ways<A: Adapter>() {
    with_server::<A, _>(
        "close_code_and_reason (peer closes)",
        config(),
        |mut peer| {
            peer.send_close(CloseCode(4000), "bye").unwrap();
            let (reply, _) = peer.read_until(OpCode::Close).expect("the close reply");
            let reply = reply.close_frame();
            assert_eq!(reply.code, CloseCode(4000), "the reply's code");
            assert_eq!(reply.reason.as_str(), "bye", "the reply's reason");
            // The server closes TCP after the close handshake.
            peer.read_to_end(Duration::from_secs(5))
                .expect("the end of the stream");
        },
        |conn| {
            assert_close(&next(conn), CloseCode(4000), Some("bye"));
            finish(conn);
        },
    );
    with_client::<A, _>(
        "close_code_and_reason (adapter closes)",
        config(),
        |mut peer| {
            let (frame, _) = peer.read_until(OpCode::Close).expect("the adapter's close");
            let close = frame.close_frame();
            assert_eq!(close.code, CloseCode(4001), "the adapter's close code");
            assert_eq!(close.reason.as_str(), "later", "the adapter's close reason");
            peer.send_close(close.code, &close.reason).unwrap();
            // Dropping the peer: the server closes TCP first.
        },
        |conn| {
            conn.close(CloseCode(4001), "later")
                .unwrap_or_else(|f| panic!("close: {f:?}"));
            finish(conn);
        },
    );
}

/// The peer drops TCP without a close frame: the adapter reports a close
/// with code 1006, then the end.
pub(crate) fn drop_without_close_is_1006<A: Adapter>() {
    with_server::<A, _>(
        "drop_without_close_is_1006",
        config(),
        |peer| {
            peer.tcp().shutdown(Shutdown::Both).unwrap();
        },
        |conn| {
            assert_close(&next(conn), CloseCode::ABNORMAL, None);
            finish(conn);
        },
    );
}

/// An unmasked frame from a client gets a close frame with 1002 on the
/// wire and the adapter reports a protocol error with 1002; invalid UTF-8
/// in a text message gets 1007 both ways.
pub(crate) fn protocol_error_close_code<A: Adapter>() {
    let unmasked = encode_frame(true, OpCode::Text, None, b"not masked");
    for (bytes, code) in [
        (Some(unmasked), CloseCode::PROTOCOL_ERROR),
        (None, CloseCode::INVALID_PAYLOAD),
    ] {
        with_server::<A, _>(
            "protocol_error_close_code",
            config(),
            move |mut peer| {
                match bytes {
                    Some(raw) => peer.write_raw(&raw).unwrap(),
                    None => peer
                        .send_frame(true, OpCode::Text, b"\xce\xba\xff\xfe")
                        .unwrap(),
                }
                let (close, _) = peer.read_until(OpCode::Close).expect("the close frame");
                assert_eq!(close.close_frame().code, code, "close code on the wire");
                peer.read_to_end(Duration::from_secs(5))
                    .expect("the end of the stream");
            },
            move |conn| {
                match conn.recv() {
                    Some(Err(Failure::Protocol(got))) => assert_eq!(got, code),
                    other => panic!("expected a protocol error with {code}, got {other:?}"),
                }
                finish(conn);
            },
        );
    }
}

/// A read given up by the caller (a socket read timeout for ws-blocking, a
/// dropped `recv` future for the async adapters, as with `select!` or
/// `timeout`) loses nothing: the next message still arrives intact.
pub(crate) fn recv_timeout_loses_nothing<A: Adapter>() {
    let (waited, waited_rx) = mpsc::channel::<()>();
    with_server::<A, _>(
        "recv_timeout_loses_nothing",
        config(),
        move |mut peer| {
            // Nothing until the adapter's bounded read has given up.
            waited_rx
                .recv_timeout(Duration::from_secs(5))
                .expect("the adapter's read gave up");
            peer.send_message(&Message::text("after the timeout"))
                .unwrap();
            close_from_peer(&mut peer);
        },
        move |conn| {
            match conn.recv_within(Duration::from_millis(200)) {
                Some(Err(Failure::WaitTimedOut)) => {}
                other => panic!("expected nothing to read, got {other:?}"),
            }
            waited.send(()).unwrap();
            assert_eq!(next(conn), Message::text("after the timeout"));
            close_seen_by_adapter(conn);
        },
    );
}

// ----- flow control and timers -----

/// A peer that never reads: the adapter keeps sending 64 KiB messages
/// (up to 32 MiB). It must push back (a send that waits, detected with a
/// 300 ms bound, or fails) instead of queueing it all, and what it queues
/// (`buffered_amount`, where exposed) stays under 4 MiB.
pub(crate) fn backpressure_against_a_peer_that_does_not_read<A: Adapter>() {
    const MESSAGE: usize = 64 * 1024;
    const MAX_MESSAGES: usize = 512;
    const MAX_QUEUED: usize = 4 << 20;
    let (release, released) = mpsc::channel::<()>();
    let peer = move |peer: Peer| {
        // Never reads; holds the connection until the adapter is done (or
        // 10 s), then drops it.
        let _ = released.recv_timeout(Duration::from_secs(10));
        drop(peer);
    };
    with_server::<A, _>("backpressure", config(), peer, move |conn| {
        let payload = Bytes::from(vec![0x5a; MESSAGE]);
        let mut outcomes = Vec::new();
        let mut sent = 0;
        for _ in 0..MAX_MESSAGES {
            match conn.send_within(Message::Binary(payload.clone()), Duration::from_millis(300)) {
                Ok(()) => sent += 1,
                Err(failure) => {
                    outcomes.push(failure);
                    break;
                }
            }
            if let Some(queued) = conn.buffered_amount() {
                assert!(
                    queued <= MAX_QUEUED,
                    "{queued} bytes queued after {sent} messages the peer does not read"
                );
            }
        }
        assert!(
            !outcomes.is_empty(),
            "all {sent} sends of 64 KiB completed against a peer that reads nothing ({} queued)",
            conn.buffered_amount()
                .map_or("unknown".to_owned(), |q| format!("{q} bytes"))
        );
        // Insisting does not make the queue grow without bound either.
        for _ in 0..8 {
            if let Err(failure) =
                conn.send_within(Message::Binary(payload.clone()), Duration::from_millis(100))
            {
                outcomes.push(failure);
            }
            if let Some(queued) = conn.buffered_amount() {
                assert!(
                    queued <= MAX_QUEUED,
                    "{queued} bytes queued after more sends: {outcomes:?}"
                );
            }
        }
        let _ = release.send(());
    });
}

/// With `ping_interval(200 ms)`, a peer that reads (and answers pings)
/// but sends nothing else receives pings. With `idle_timeout(600 ms)` and
/// a peer that stops answering, the adapter reports a close with 1006
/// within the limit plus slack, and the peer gets a close frame with 1001.
pub(crate) fn keepalive_ping_and_idle_timeout<A: Adapter>() {
    const INTERVAL: Duration = Duration::from_millis(200);
    const IDLE: Duration = Duration::from_millis(600);
    let pings = with_server::<A, _>(
        "keepalive pings",
        config().ping_interval(Some(INTERVAL)),
        |mut peer| {
            let start = Instant::now();
            let mut pings = 0;
            while pings < 2 {
                let frame = peer.read_frame().expect("a keepalive ping");
                assert_eq!(frame.opcode, OpCode::Ping, "only pings expected: {frame:?}");
                pings += 1;
                peer.send_frame(true, OpCode::Pong, &frame.payload).unwrap();
            }
            let elapsed = start.elapsed();
            close_from_peer(&mut peer);
            (pings, elapsed)
        },
        |conn| {
            // Pongs may surface; the peer's close ends the loop.
            for _ in 0..50 {
                match next(conn) {
                    Message::Pong(_) => {}
                    close @ Message::Close(_) => {
                        assert_close(&close, CloseCode::NORMAL, None);
                        break;
                    }
                    other => panic!("expected pongs and the peer's close, got {other:?}"),
                }
            }
            finish(conn);
        },
    );
    assert!(
        pings.1 <= INTERVAL * 2 + SLACK,
        "two pings took {:?} at an interval of {INTERVAL:?}",
        pings.1
    );

    let (result, seen_by_peer) = {
        let start = Instant::now();
        let mut outcome = None;
        let seen = with_server::<A, _>(
            "idle timeout",
            config()
                .ping_interval(Some(INTERVAL))
                .idle_timeout(Some(IDLE)),
            |mut peer| {
                // Reads, never answers: pings are ignored until the close.
                let (close, skipped) = peer.read_until(OpCode::Close).expect("the close frame");
                let _ = peer.read_to_end(Duration::from_secs(3));
                (close.close_frame(), skipped)
            },
            |conn| {
                let message = next(conn);
                outcome = Some((message, start.elapsed()));
                finish(conn);
            },
        );
        (outcome.expect("the adapter reported"), seen)
    };
    let (message, elapsed) = result;
    assert_close(&message, CloseCode::ABNORMAL, None);
    assert!(
        elapsed <= IDLE + SLACK,
        "the idle timeout of {IDLE:?} was reported after {elapsed:?}"
    );
    assert!(
        elapsed >= IDLE.mul_f32(0.9),
        "the idle timeout of {IDLE:?} was reported after only {elapsed:?}"
    );
    let (close, pings_before) = seen_by_peer;
    assert_eq!(
        close.code,
        CloseCode::GOING_AWAY,
        "the close frame the peer got"
    );
    assert!(pings_before >= 1, "no keepalive ping before the idle close");
}
