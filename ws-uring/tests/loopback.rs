//! ws-uring over real loopback sockets: its runtime as an echo server with
//! ws-blocking and ws-uring clients, its blocking client against a
//! ws-blocking server. On a machine whose kernel refuses io_uring every
//! test prints why it was skipped and passes.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ws_uring::{CloseCode, Config, Event, Flow, Message, Runtime, RuntimeEvent};

/// A runtime, or `None` after printing why this machine cannot run one.
fn runtime_or_skip(test: &str) -> Option<Runtime> {
    match Runtime::new() {
        Ok(rt) => Some(rt),
        Err(err) if err.is_unavailable() => {
            eprintln!("{test}: skipped: {err}");
            None
        }
        Err(err) => panic!("{test}: {err}"),
    }
}

/// An echo server on a runtime in its own thread; stops when dropped.
struct EchoServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// What the server saw that is not a message: for assertions.
    log: Arc<Mutex<Vec<String>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl EchoServer {
    fn start(mut rt: Runtime, config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        rt.listen(listener, config).expect("listen");
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        let thread = thread::spawn(move || {
            let note = |line: String| shared.lock().unwrap().push(line);
            let started = Instant::now();
            while !stopping.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                // Answered as decoded: a message just before a protocol
                // error is still echoed.
                rt.turn_with(Some(Duration::from_millis(20)), |rt, notice| {
                    match notice {
                        RuntimeEvent::Event { conn, event } => {
                            let _ = match event {
                                Event::Request(request) => rt.respond(conn, request.accept()),
                                Event::Text(text) => rt.send(conn, Message::Text(text)),
                                Event::Binary(data) => rt.send(conn, Message::Binary(data)),
                                Event::Close(frame) => {
                                    note(format!(
                                        "close {} {}",
                                        u16::from(frame.code),
                                        frame.reason.as_str()
                                    ));
                                    Ok(())
                                }
                                _ => Ok(()),
                            };
                        }
                        RuntimeEvent::Failed { error, .. } => note(format!("failed {error}")),
                        RuntimeEvent::Finished { .. } => note("finished".to_string()),
                        _ => {}
                    }
                    Flow::Continue
                })
                .expect("turn");
            }
        });
        Self {
            addr,
            stop,
            log,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/echo", self.addr)
    }

    /// Waits (at most 10 s) until the log has `count` lines equal to
    /// `line`, then stops the server and returns its log.
    fn stop_after(mut self, line: &str, count: usize) -> Vec<String> {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self
                .log
                .lock()
                .unwrap()
                .iter()
                .filter(|l| *l == line)
                .count()
                >= count
            {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("server thread");
        let log = self.log.lock().unwrap().clone();
        log
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn blocking_client(url: &str) -> ws_blocking::WebSocket<ws_blocking::MaybeTlsStream> {
    let (ws, _) = ws_blocking::connect(url).expect("ws-blocking connects");
    ws.get_ref()
        .tcp()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    ws
}

#[test]
fn echoes_text_and_binary_to_a_blocking_client() {
    let Some(rt) = runtime_or_skip("echoes_text_and_binary_to_a_blocking_client") else {
        return;
    };
    let server = EchoServer::start(rt, Config::default());
    let mut ws = blocking_client(&server.url());
    for message in [
        Message::text("hello"),
        Message::binary(vec![1, 2, 3]),
        Message::text(""),
        Message::text("κόσμε".repeat(1000)),
    ] {
        ws.send(message.clone()).unwrap();
        assert_eq!(ws.read().unwrap(), message);
    }
    ws.close(CloseCode::NORMAL, "bye").unwrap();
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => {
                assert_eq!(frame.code, CloseCode::NORMAL);
                assert_eq!(frame.reason.as_str(), "bye");
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let log = server.stop_after("finished", 1);
    assert!(log.contains(&"close 1000 bye".to_string()), "{log:?}");
    assert!(log.contains(&"finished".to_string()), "{log:?}");
}

#[test]
fn large_messages_both_ways() {
    let Some(rt) = runtime_or_skip("large_messages_both_ways") else {
        return;
    };
    let server = EchoServer::start(rt, Config::default());
    let (mut ws, _) = ws_uring::connect(&server.url()).unwrap();
    for len in [65_535, 65_536, 1 << 20, 5 << 20] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        ws.send(Message::binary(payload.clone())).unwrap();
        let back = ws.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        assert_eq!(back, Message::binary(payload), "{len} bytes");
    }
    ws.close(CloseCode::NORMAL, "").unwrap();
    assert!(ws.recv().is_none());
}

#[test]
fn ping_is_answered_and_the_pong_seen() {
    let Some(rt) = runtime_or_skip("ping_is_answered_and_the_pong_seen") else {
        return;
    };
    let server = EchoServer::start(rt, Config::default());
    let (mut ws, _) = ws_uring::connect(&server.url()).unwrap();
    ws.send(Message::Ping("are you there".into())).unwrap();
    let pong = ws.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(pong, Message::Pong("are you there".into()));
    ws.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn close_from_the_server_side_ends_the_client() {
    let Some(_) = runtime_or_skip("close_from_the_server_side_ends_the_client") else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_uring::accept(tcp).unwrap();
        let first = ws.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!(first, Message::text("close me"));
        ws.close_timeout(CloseCode::from(4000), "as asked", Duration::from_secs(10))
            .unwrap();
        assert!(ws.connection().is_none(), "the transport is closed");
    });
    let mut ws = blocking_client(&format!("ws://{addr}/"));
    ws.send(Message::text("close me")).unwrap();
    match ws.read().unwrap() {
        Message::Close(frame) => {
            assert_eq!(frame.code, CloseCode::from(4000));
            assert_eq!(frame.reason.as_str(), "as asked");
        }
        other => panic!("{other:?}"),
    }
    server.join().unwrap();
}

#[test]
fn one_runtime_serves_many_connections() {
    let Some(rt) = runtime_or_skip("one_runtime_serves_many_connections") else {
        return;
    };
    let server = EchoServer::start(rt, Config::default());
    let mut clients: Vec<_> = (0..40).map(|_| blocking_client(&server.url())).collect();
    for round in 0..5 {
        for (i, ws) in clients.iter_mut().enumerate() {
            ws.send(Message::text(format!("{i}:{round}"))).unwrap();
        }
        for (i, ws) in clients.iter_mut().enumerate() {
            assert_eq!(ws.read().unwrap(), Message::text(format!("{i}:{round}")));
        }
    }
    for ws in &mut clients {
        ws.close(CloseCode::NORMAL, "").unwrap();
    }
    for ws in &mut clients {
        while ws.read().is_ok() {}
    }
    let log = server.stop_after("finished", 40);
    let finished = log.iter().filter(|l| *l == "finished").count();
    assert_eq!(finished, 40, "{log:?}");
}

#[test]
fn a_silent_client_is_dropped_at_the_handshake_timeout() {
    let Some(rt) = runtime_or_skip("a_silent_client_is_dropped_at_the_handshake_timeout") else {
        return;
    };
    let config = Config::default().handshake_timeout(Duration::from_millis(300));
    let server = EchoServer::start(rt, config);
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    // The server closes (end of stream, or a reset) without a word.
    let n = std::io::Read::read(&mut tcp, &mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    let log = server.stop_after("finished", 1);
    assert!(
        log.iter()
            .any(|l| l.starts_with("failed opening handshake did not complete")),
        "{log:?}"
    );
}

#[test]
fn a_bad_request_gets_its_http_error() {
    let Some(rt) = runtime_or_skip("a_bad_request_gets_its_http_error") else {
        return;
    };
    let server = EchoServer::start(rt, Config::default());
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::io::Write::write_all(&mut tcp, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = std::io::Read::read_to_end(&mut tcp, &mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 426 "),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}

#[test]
fn the_blocking_client_against_a_ws_blocking_server() {
    let Some(_) = runtime_or_skip("the_blocking_client_against_a_ws_blocking_server") else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut ws = ws_blocking::accept(tcp).unwrap();
        loop {
            match ws.read() {
                Ok(m @ (Message::Text(_) | Message::Binary(_))) => ws.send(m).unwrap(),
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        while ws.read().is_ok() {}
    });
    let (mut ws, response) = ws_uring::connect(&format!("ws://{addr}/x")).unwrap();
    assert!(response.negotiated().contains("permessage-deflate"));
    for i in 0..100 {
        ws.send(Message::text(format!("message {i}"))).unwrap();
        let back = ws.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!(back, Message::text(format!("message {i}")));
    }
    ws.close_timeout(CloseCode::NORMAL, "done", Duration::from_secs(10))
        .unwrap();
    assert!(ws.recv().is_none());
    assert!(matches!(
        ws.send(Message::text("late")),
        Err(ws_uring::Error::ConnectionClosed)
    ));
    server.join().unwrap();
}

/// A text frame and an unmasked frame from a client, in one write: the
/// text is echoed before the close frame with 1002 (Autobahn's strict
/// outcome for cases 3.2 to 4.2.4), by the runtime's server and by the
/// blocking `WebSocket`.
#[test]
fn a_message_just_before_a_protocol_error_is_still_answered() {
    let Some(rt) = runtime_or_skip("a_message_just_before_a_protocol_error_is_still_answered")
    else {
        return;
    };
    let server = EchoServer::start(rt, Config::default());
    check_echo_then_1002(server.addr, "/");
    let log = server.stop_after("finished", 1);
    assert!(log.iter().any(|l| l.starts_with("failed")), "{log:?}");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let blocking = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_uring::accept(tcp).unwrap();
        let first = ws.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        ws.send(first).unwrap();
        assert!(matches!(
            ws.recv_timeout(Duration::from_secs(10)),
            Some(Err(ws_uring::Error::Protocol(_)))
        ));
        assert!(ws.recv_timeout(Duration::from_secs(10)).is_none());
    });
    check_echo_then_1002(addr, "/");
    blocking.join().unwrap();
}

/// The raw client's half of the case above.
fn check_echo_then_1002(addr: SocketAddr, path: &str) {
    use std::io::{Read, Write};
    use ws_uring::ws_proto::{handshake::ClientRequest, Connection, Event as CoreEvent};

    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let request = ClientRequest::from_url(&format!("ws://{addr}{path}")).unwrap();
    let mut client = Connection::client(request, Config::default().deflate(None));
    let mut wire: Vec<u8> = client.transmit_slices().flatten().copied().collect();
    client.advance_transmit(wire.len());
    tcp.write_all(&wire).unwrap();
    let mut buf = [0u8; 4096];
    let mut events = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        match client.poll_event() {
            Ok(Some(CoreEvent::Response(_))) => {
                // Opened: the text, then an unmasked frame, in one write.
                client.send(Message::text("before")).unwrap();
                wire = client.transmit_slices().flatten().copied().collect();
                client.advance_transmit(wire.len());
                wire.extend_from_slice(b"\x81\x00");
                tcp.write_all(&wire).unwrap();
            }
            Ok(Some(event)) => {
                let ends = event.ends_connection();
                events.push(event);
                if ends {
                    break;
                }
            }
            Ok(None) => match tcp.read(&mut buf) {
                Ok(0) | Err(_) => client.receive_eof(),
                Ok(n) => client.receive(&buf[..n]),
            },
            Err(err) => panic!("{err}"),
        }
    }
    assert!(
        matches!(events.first(), Some(CoreEvent::Text(t)) if t.as_str() == "before"),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(CoreEvent::Close(f)) if f.code == CloseCode::PROTOCOL_ERROR),
        "{events:?}"
    );
}

/// The runtime as a client: its own io_uring connect, then the handshake
/// and an echo; a refused address is a failure with the kernel's error.
#[test]
fn the_runtime_connects_as_a_client() {
    let Some(rt) = runtime_or_skip("the_runtime_connects_as_a_client") else {
        return;
    };
    let server = EchoServer::start(rt, Config::default());
    let mut rt = Runtime::new().unwrap();
    let request = ws_uring::ClientRequest::from_url(&server.url()).unwrap();
    let id = rt.connect(request, Config::default()).unwrap();
    // A port nothing listens on: bound, then closed.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = ws_uring::ClientRequest::from_url(&format!("ws://{closed}/")).unwrap();
    let refused = rt.connect(refused, Config::default()).unwrap();

    let mut echoed = None;
    let mut refusal = None;
    let started = Instant::now();
    while (echoed.is_none() || refusal.is_none()) && started.elapsed() < Duration::from_secs(10) {
        rt.turn_with(Some(Duration::from_millis(100)), |rt, notice| {
            match notice {
                RuntimeEvent::Event {
                    conn,
                    event: Event::Response(_),
                } if conn == id => rt.send(id, Message::text("over io_uring")).unwrap(),
                RuntimeEvent::Event {
                    conn,
                    event: Event::Text(text),
                } if conn == id => echoed = Some(text),
                RuntimeEvent::Failed { conn, error } if conn == refused => refusal = Some(error),
                _ => {}
            }
            Flow::Continue
        })
        .unwrap();
    }
    assert_eq!(echoed.as_ref().map(|t| t.as_str()), Some("over io_uring"));
    match refusal {
        Some(ws_uring::Error::Io(err)) => {
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused)
        }
        other => panic!("{other:?}"),
    }
    rt.close(id, CloseCode::NORMAL, "").unwrap();
    let started = Instant::now();
    while rt.connections() > 0 && started.elapsed() < Duration::from_secs(10) {
        rt.turn(&mut Vec::new(), Some(Duration::from_millis(100)))
            .unwrap();
    }
    assert_eq!(
        rt.connections(),
        0,
        "left: id {:?}, refused {:?}",
        rt.connection(id).map(|c| c.ready_state()),
        rt.connection(refused).map(|c| c.ready_state())
    );
}
