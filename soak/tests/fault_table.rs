//! The table "When the network fails" in the ws-tokio and ws-blocking crate
//! docs, one test per row per adapter: what the client (ws-tokio's
//! `WebSocketStream` and `Reconnecting`, or ws-blocking's `WebSocket`) and
//! the server (of the same adapter) see when `fault-proxy` does each fault
//! to their connection.
//!
//! Both ends run keepalive: a ping after [`PING`] of quiet, giving up after
//! [`IDLE`] without a frame. Every fault comes 300 ms after the proxy
//! accepted the connection (the handshake and a first echo are through by
//! then); stalls outlast the test. Every wait is bounded.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::time::timeout;
use ws_soak::fault::{parse_entry, Plan};
use ws_soak::log::{field, now_ms, FaultLog};
use ws_soak::proxy::Proxy;
use ws_tokio::ws_proto::handshake::proxy::ProxySetting;
use ws_tokio::{
    ClientRequest, CloseCode, CloseKind, Config, Message, ReconnectEvent, ReconnectPolicy,
    Reconnecting,
};

/// No wait in these tests comes near this.
const BOUND: Duration = Duration::from_secs(10);
/// Keepalive on both ends.
const PING: Duration = Duration::from_millis(200);
const IDLE: Duration = Duration::from_millis(600);
/// A shared machine's scheduling, on top of a timer.
const SLACK: Duration = Duration::from_millis(800);
/// The reason of the 1006 the application gets when its own idle timeout
/// gives up (the core's words).
const IDLE_REASON: &str = "idle timeout: nothing received from the peer";
/// The close frame a side that gives up sends its peer: 1001 with this reason.
const GIVE_UP_REASON: &str = "idle timeout";

fn keepalive() -> Config {
    Config::default()
        .ping_interval(Some(PING))
        .idle_timeout(Some(IDLE))
}

/// How a connection ended, as the application saw it, in order: the items
/// after the last data message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// `Message::Close` with this code and reason.
    Close(CloseCode, String),
    /// `Err(Error::Io(e))` with this kind.
    Io(io::ErrorKind),
    /// Any other error, in words.
    Error(String),
    /// The end: ws-tokio's `None`, ws-blocking's `Err(ConnectionClosed)`.
    End,
}

fn close(code: CloseCode, reason: &str) -> Seen {
    Seen::Close(code, reason.to_owned())
}

/// What each server connection saw, with the request's path, in the order
/// the connections ended.
type Record = Arc<Mutex<Vec<(String, Vec<Seen>)>>>;

/// What the first server connection for `path` saw, once it has ended.
fn server_saw(record: &Record, path: &str) -> Vec<Seen> {
    let start = Instant::now();
    loop {
        let found = record
            .lock()
            .unwrap()
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, seen)| seen.clone());
        if let Some(seen) = found {
            return seen;
        }
        assert!(start.elapsed() < BOUND, "the server never ended {path}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `fault-proxy` in front of `upstream`, applying `schedule` to every
/// connection; its log is kept in memory.
async fn proxy(upstream: SocketAddr, schedule: &[&str]) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let plan = Plan::Fixed(schedule.iter().map(|s| parse_entry(s).unwrap()).collect());
    let log = Arc::new(Mutex::new(Vec::new()));
    let proxy = Proxy::bind(
        "127.0.0.1:0".parse().unwrap(),
        upstream,
        plan,
        Arc::new(FaultLog::new(Sink(Arc::clone(&log)))),
    )
    .await
    .unwrap();
    let addr = proxy.local_addr().unwrap();
    tokio::spawn(proxy.run());
    (addr, log)
}

/// When (ms since the epoch) the proxy applied a `kind` fault to the first
/// connection whose request had `path`.
fn fault_at(log: &Mutex<Vec<u8>>, path: &str, kind: &str) -> u64 {
    let text = String::from_utf8(log.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let conn = lines
        .iter()
        .find(|l| field(l, "path") == Some(path))
        .and_then(|l| field(l, "conn"))
        .unwrap_or_else(|| panic!("no connection for {path}: {text}"));
    let line = lines
        .iter()
        .find(|l| {
            field(l, "conn") == Some(conn)
                && field(l, "event") == Some("fault")
                && field(l, "fault") == Some(kind)
        })
        .unwrap_or_else(|| panic!("no {kind} on {path}: {text}"));
    field(line, "t_ms").unwrap().parse().unwrap()
}

/// Asserts that a keepalive (the client's, or the server's whose 1001 the
/// client then got) gave up on a dead link in time: the client saw the end
/// at `seen_ms`, after the stall the proxy started on `path`.
fn detected_in_time(log: &Mutex<Vec<u8>>, path: &str, seen_ms: u64) {
    let stall = fault_at(log, path, "stall");
    let after = Duration::from_millis(seen_ms.saturating_sub(stall));
    // The last frame came at most a ping interval before the stall (each
    // end pings after PING of quiet), and the give-up IDLE after it.
    assert!(
        after >= IDLE - PING - Duration::from_millis(50),
        "{after:?}"
    );
    assert!(after <= PING + IDLE + SLACK, "{after:?}");
}

// ----- ws-tokio -----

type TokioWs = ws_tokio::WebSocketStream<ws_tokio::MaybeTlsStream>;

/// A ws-tokio echo server with keepalive.
async fn tokio_server() -> (SocketAddr, Record) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let record = Record::default();
    let seen_all = Arc::clone(&record);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let record = Arc::clone(&seen_all);
            tokio::spawn(async move {
                let path = Arc::new(Mutex::new(String::new()));
                let named = Arc::clone(&path);
                let handshake = ws_tokio::accept_with(tcp, keepalive(), move |r| {
                    *named.lock().unwrap() = r.path().to_owned();
                    r.accept()
                });
                let Ok(mut ws) = handshake.await else { return };
                let seen = timeout(BOUND, async {
                    let mut seen = Vec::new();
                    loop {
                        match ws.recv().await {
                            Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => {
                                if let Err(e) = ws.send(m).await {
                                    seen.push(Seen::Error(format!("echo failed: {e}")));
                                }
                            }
                            Some(Ok(Message::Close(frame))) => {
                                seen.push(close(frame.code, frame.reason.as_str()));
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => seen.push(tokio_error(e)),
                            None => {
                                seen.push(Seen::End);
                                return seen;
                            }
                        }
                    }
                })
                .await
                .unwrap_or_else(|_| vec![Seen::Error("no end within the bound".into())]);
                let path = path.lock().unwrap().clone();
                record.lock().unwrap().push((path, seen));
            });
        }
    });
    (addr, record)
}

fn tokio_error(error: ws_tokio::Error) -> Seen {
    match error {
        ws_tokio::Error::Io(e) => Seen::Io(e.kind()),
        other => Seen::Error(other.to_string()),
    }
}

async fn tokio_client(addr: SocketAddr, path: &str) -> TokioWs {
    let request = ClientRequest::from_url(&format!("ws://{addr}{path}")).unwrap();
    let (ws, _) = ws_tokio::connect_with_proxy(request, keepalive(), None, ProxySetting::Direct)
        .await
        .unwrap();
    ws
}

/// A ws-tokio client on `path` that sees one echo, then what ends its
/// connection, and when (ms since the epoch) the first of that came.
async fn tokio_plain(addr: SocketAddr, path: &str) -> (Vec<Seen>, u64) {
    let mut ws = tokio_client(addr, path).await;
    ws.send(Message::text("before")).await.unwrap();
    let ending = timeout(BOUND, async {
        let mut seen = Vec::new();
        let mut first = 0;
        let mut echoed = false;
        loop {
            let item = ws.recv().await;
            if first == 0 && !matches!(item, Some(Ok(Message::Ping(_) | Message::Pong(_)))) {
                if !echoed {
                    assert!(matches!(&item, Some(Ok(Message::Text(t))) if t == "before"));
                    echoed = true;
                    continue;
                }
                first = now_ms();
            }
            match item {
                Some(Ok(Message::Close(frame))) => {
                    seen.push(close(frame.code, frame.reason.as_str()));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(other)) => panic!("{path}: unexpected {other:?}"),
                Some(Err(e)) => seen.push(tokio_error(e)),
                None => {
                    seen.push(Seen::End);
                    return (seen, first);
                }
            }
        }
    });
    ending.await.expect("the client's connection ended in time")
}

/// What a `Reconnecting` client on `path` saw when it lost its first
/// connection: the close, the error, and when (ms since the epoch); it
/// must be back (attempt 1) after that.
async fn tokio_reconnecting(
    addr: SocketAddr,
    path: &str,
) -> (CloseCode, String, Option<ws_tokio::Error>, u64) {
    let request = ClientRequest::from_url(&format!("ws://{addr}{path}")).unwrap();
    let policy = ReconnectPolicy::default()
        .base_delay(Duration::from_millis(100))
        .jitter(false);
    let (mut client, _) = Reconnecting::connect(request, keepalive(), None, policy)
        .await
        .unwrap();
    let mut lost = None;
    loop {
        let event = timeout(BOUND, client.next())
            .await
            .expect("an event in time")
            .expect("the client goes on")
            .expect("no error from the client itself");
        match event {
            ReconnectEvent::Message(_) => {}
            ReconnectEvent::Disconnected {
                close,
                error,
                retry_in,
            } => {
                assert!(lost.is_none(), "{path}: lost twice before coming back");
                assert_eq!(retry_in, Duration::from_millis(100));
                lost = Some((
                    close.code,
                    close.reason.as_str().to_owned(),
                    error,
                    now_ms(),
                ));
            }
            ReconnectEvent::Reconnected { attempt, .. } => {
                assert_eq!(attempt, 1);
                return lost.expect("reconnected without a loss");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
}

/// The stall rows for ws-tokio: the plain and the reconnecting client
/// through one proxy stalling `dir` for good; returns what the plain
/// client, the reconnecting client and the server saw for each.
async fn tokio_stall(
    dir: &str,
) -> (
    Vec<Seen>,
    (CloseCode, String, Option<ws_tokio::Error>, u64),
    Vec<Seen>,
    Vec<Seen>,
) {
    let (server, record) = tokio_server().await;
    let (addr, log) = proxy(server, &[&format!("300ms@stall:{dir}:30s")]).await;
    let ((plain, seen_ms), lost) =
        tokio::join!(tokio_plain(addr, "/plain"), tokio_reconnecting(addr, "/re"));
    let lost_ms = lost.3;
    let server_plain = server_saw(&record, "/plain");
    let server_re = server_saw(&record, "/re");
    // Found by the client's keepalive (down, both) or by the server's,
    // whose 1001 then reaches the client (up), in time either way.
    detected_in_time(&log, "/plain", seen_ms);
    detected_in_time(&log, "/re", lost_ms);
    (plain, lost, server_plain, server_re)
}

#[tokio::test]
async fn tokio_stall_down_past_idle() {
    let (plain, (code, reason, error, _), server_plain, server_re) = tokio_stall("down").await;
    // The client hears nothing: its keepalive gives up, 1006 with the reason.
    assert_eq!(plain, [close(CloseCode::ABNORMAL, IDLE_REASON), Seen::End]);
    assert_eq!(CloseKind::of(CloseCode::ABNORMAL), CloseKind::Abnormal);
    assert_eq!((code, reason.as_str()), (CloseCode::ABNORMAL, IDLE_REASON));
    assert!(error.is_none(), "{error:?}");
    // The server still hears the client's pings, then the 1001 it sent on
    // giving up: a clean close.
    for seen in [server_plain, server_re] {
        assert_eq!(
            seen,
            [close(CloseCode::GOING_AWAY, GIVE_UP_REASON), Seen::End]
        );
    }
    assert_eq!(CloseKind::of(CloseCode::GOING_AWAY), CloseKind::Clean);
}

#[tokio::test]
async fn tokio_stall_both_past_idle() {
    let (plain, (code, reason, error, _), server_plain, server_re) = tokio_stall("both").await;
    assert_eq!(plain, [close(CloseCode::ABNORMAL, IDLE_REASON), Seen::End]);
    assert_eq!((code, reason.as_str()), (CloseCode::ABNORMAL, IDLE_REASON));
    assert!(error.is_none(), "{error:?}");
    // Neither hears the other: the server's own keepalive gives up too.
    for seen in [server_plain, server_re] {
        assert_eq!(seen, [close(CloseCode::ABNORMAL, IDLE_REASON), Seen::End]);
    }
}

#[tokio::test]
async fn tokio_stall_up_past_idle() {
    let (plain, (code, reason, error, _), server_plain, server_re) = tokio_stall("up").await;
    // The server hears nothing and gives up; its 1001 reaches the client,
    // which looks clean.
    assert_eq!(
        plain,
        [close(CloseCode::GOING_AWAY, GIVE_UP_REASON), Seen::End]
    );
    assert_eq!(CloseKind::of(code), CloseKind::Clean);
    assert_eq!(
        (code, reason.as_str()),
        (CloseCode::GOING_AWAY, GIVE_UP_REASON)
    );
    assert!(error.is_none(), "{error:?}");
    for seen in [server_plain, server_re] {
        assert_eq!(seen, [close(CloseCode::ABNORMAL, IDLE_REASON), Seen::End]);
    }
}

/// A stall shorter than the idle timeout, latency with jitter and a
/// bandwidth cap: everything echoed, in order, nothing closed.
const MILD: &[&str] = &[
    "0s@latency:both:40ms:20ms:1200ms",
    "300ms@stall:both:250ms",
    "700ms@stall:up:250ms",
    "1000ms@stall:down:250ms",
    "1300ms@bandwidth:both:2048:1s",
];
/// How long the mild rows send.
const MILD_FOR: Duration = Duration::from_millis(1700);

/// A numbered message of 200 bytes (the bandwidth cap shows).
fn numbered(n: u32) -> String {
    format!("{n:>200}")
}

#[tokio::test]
async fn tokio_short_stall_latency_bandwidth() {
    let (server, record) = tokio_server().await;
    let (addr, _log) = proxy(server, MILD).await;
    let plain = async {
        let mut ws = tokio_client(addr, "/plain").await;
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed() < MILD_FOR {
            ws.send(Message::text(numbered(n))).await.unwrap();
            loop {
                let item = timeout(BOUND, ws.recv()).await.unwrap();
                match item {
                    Some(Ok(Message::Text(t))) => {
                        assert_eq!(t.as_str(), numbered(n));
                        break;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    other => panic!("/plain, message {n}: {other:?}"),
                }
            }
            n += 1;
        }
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        n
    };
    let reconnecting = async {
        let request = ClientRequest::from_url(&format!("ws://{addr}/re")).unwrap();
        let (mut client, _) =
            Reconnecting::connect(request, keepalive(), None, ReconnectPolicy::default())
                .await
                .unwrap();
        let start = Instant::now();
        let mut n = 0u32;
        while start.elapsed() < MILD_FOR {
            client.send(Message::text(numbered(n))).await.unwrap();
            loop {
                let event = timeout(BOUND, client.next()).await.unwrap();
                match event {
                    Some(Ok(ReconnectEvent::Message(Message::Text(t)))) => {
                        assert_eq!(t.as_str(), numbered(n));
                        break;
                    }
                    Some(Ok(ReconnectEvent::Message(_))) => {}
                    other => panic!("/re, message {n}: {other:?}"),
                }
            }
            n += 1;
        }
        client.close(CloseCode::NORMAL, "done").await.unwrap();
        n
    };
    let (sent_plain, sent_re) = tokio::join!(plain, reconnecting);
    assert!(sent_plain >= 3 && sent_re >= 3, "{sent_plain} {sent_re}");
    for path in ["/plain", "/re"] {
        assert_eq!(
            server_saw(&record, path),
            [close(CloseCode::NORMAL, "done"), Seen::End],
            "{path}"
        );
    }
}

/// The rows of faults that end the connection at once (reset, cut,
/// half-close), for ws-tokio: what the plain client, the reconnecting
/// client and the server saw.
async fn tokio_ending_fault(
    fault: &str,
) -> (
    Vec<Seen>,
    (CloseCode, String, Option<ws_tokio::Error>, u64),
    Vec<Seen>,
    Vec<Seen>,
) {
    let (server, record) = tokio_server().await;
    let (addr, _log) = proxy(server, &[&format!("300ms@{fault}")]).await;
    let ((plain, _), lost) =
        tokio::join!(tokio_plain(addr, "/plain"), tokio_reconnecting(addr, "/re"));
    (
        plain,
        lost,
        server_saw(&record, "/plain"),
        server_saw(&record, "/re"),
    )
}

#[tokio::test]
async fn tokio_reset() {
    let (plain, (code, reason, error, _), server_plain, server_re) =
        tokio_ending_fault("reset").await;
    // An I/O error first, not a close; the stream then reports 1006 and ends.
    let reset = Seen::Io(io::ErrorKind::ConnectionReset);
    assert_eq!(
        plain,
        [reset.clone(), close(CloseCode::ABNORMAL, ""), Seen::End]
    );
    assert_eq!((code, reason.as_str()), (CloseCode::ABNORMAL, ""));
    assert!(
        matches!(&error, Some(ws_tokio::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset),
        "{error:?}"
    );
    for seen in [server_plain, server_re] {
        assert_eq!(
            seen,
            [reset.clone(), close(CloseCode::ABNORMAL, ""), Seen::End]
        );
    }
}

#[tokio::test]
async fn tokio_cut() {
    let (plain, (code, reason, error, _), server_plain, server_re) =
        tokio_ending_fault("cut").await;
    assert_eq!(plain, [close(CloseCode::ABNORMAL, ""), Seen::End]);
    assert_eq!((code, reason.as_str()), (CloseCode::ABNORMAL, ""));
    assert!(error.is_none(), "{error:?}");
    for seen in [server_plain, server_re] {
        assert_eq!(seen, [close(CloseCode::ABNORMAL, ""), Seen::End]);
    }
}

#[tokio::test]
async fn tokio_half_close() {
    for dir in ["up", "down", "both"] {
        let (plain, (code, reason, error, _), server_plain, server_re) =
            tokio_ending_fault(&format!("halfclose:{dir}")).await;
        // Whichever end gets the FIN sees 1006 and closes its side, so the
        // other end sees a FIN too.
        assert_eq!(plain, [close(CloseCode::ABNORMAL, ""), Seen::End], "{dir}");
        assert_eq!((code, reason.as_str()), (CloseCode::ABNORMAL, ""), "{dir}");
        assert!(error.is_none(), "{dir}: {error:?}");
        for seen in [server_plain, server_re] {
            assert_eq!(seen, [close(CloseCode::ABNORMAL, ""), Seen::End], "{dir}");
        }
    }
}

// ----- ws-blocking -----

type BlockingWs = ws_blocking::WebSocket<ws_blocking::MaybeTlsStream>;

fn blocking_error(error: ws_blocking::Error) -> Seen {
    match error {
        ws_blocking::Error::Io(e) => Seen::Io(e.kind()),
        ws_blocking::Error::ConnectionClosed => Seen::End,
        other => Seen::Error(other.to_string()),
    }
}

/// A ws-blocking echo server with keepalive, a thread per connection.
fn blocking_server() -> (SocketAddr, Record) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let record = Record::default();
    let seen_all = Arc::clone(&record);
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { return };
            let record = Arc::clone(&seen_all);
            std::thread::spawn(move || {
                tcp.set_read_timeout(Some(BOUND)).unwrap();
                let mut path = String::new();
                let accepted = ws_blocking::accept_with(tcp, keepalive(), |r| {
                    path = r.path().to_owned();
                    r.accept()
                });
                let Ok(mut ws) = accepted else { return };
                let mut seen = Vec::new();
                while seen.len() < 5 {
                    match ws.read() {
                        Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                            if let Err(e) = ws.send(m) {
                                seen.push(Seen::Error(format!("echo failed: {e}")));
                            }
                        }
                        Ok(Message::Close(frame)) => {
                            seen.push(close(frame.code, frame.reason.as_str()));
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let e = blocking_error(e);
                            let end = e == Seen::End;
                            seen.push(e);
                            if end {
                                break;
                            }
                        }
                    }
                }
                record.lock().unwrap().push((path, seen));
            });
        }
    });
    (addr, record)
}

fn blocking_client(addr: SocketAddr, path: &str, config: Config) -> BlockingWs {
    let request = ClientRequest::from_url(&format!("ws://{addr}{path}")).unwrap();
    let (ws, _) =
        ws_blocking::connect_with_proxy(request, config, None, ProxySetting::Direct).unwrap();
    ws.get_ref().tcp().set_read_timeout(Some(BOUND)).unwrap();
    ws
}

/// A ws-blocking client on `path` that sees one echo, then what ends its
/// connection, and when (ms since the epoch) the first of that came.
fn blocking_plain(addr: SocketAddr, path: &str) -> (Vec<Seen>, u64) {
    let mut ws = blocking_client(addr, path, keepalive());
    ws.send(Message::text("before")).unwrap();
    loop {
        match ws.read() {
            Ok(Message::Text(t)) if t == "before" => break,
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            other => panic!("{path}: the echo, not {other:?}"),
        }
    }
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut first = 0;
    while seen.last() != Some(&Seen::End) && seen.len() < 5 {
        let item = ws.read();
        if first == 0 && !matches!(item, Ok(Message::Ping(_) | Message::Pong(_))) {
            first = now_ms();
        }
        match item {
            Ok(Message::Close(frame)) => seen.push(close(frame.code, frame.reason.as_str())),
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(other) => panic!("{path}: unexpected {other:?}"),
            Err(e) => seen.push(blocking_error(e)),
        }
        assert!(start.elapsed() < BOUND, "{path}: {seen:?}");
    }
    (seen, first)
}

/// A runtime for the proxy, a ws-blocking server behind it, and the proxy
/// applying `schedule`.
fn blocking_setup(
    schedule: &[&str],
) -> (
    tokio::runtime::Runtime,
    SocketAddr,
    Record,
    Arc<Mutex<Vec<u8>>>,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (server, record) = blocking_server();
    let (addr, log) = runtime.block_on(proxy(server, schedule));
    (runtime, addr, record, log)
}

fn blocking_stall(dir: &str) -> (Vec<Seen>, Vec<Seen>) {
    let (_runtime, addr, record, log) = blocking_setup(&[&format!("300ms@stall:{dir}:30s")]);
    let (seen, seen_ms) = blocking_plain(addr, "/blocking");
    detected_in_time(&log, "/blocking", seen_ms);
    (seen, server_saw(&record, "/blocking"))
}

#[test]
fn blocking_stall_down_past_idle() {
    let (client, server) = blocking_stall("down");
    assert_eq!(client, [close(CloseCode::ABNORMAL, IDLE_REASON), Seen::End]);
    assert_eq!(
        server,
        [close(CloseCode::GOING_AWAY, GIVE_UP_REASON), Seen::End]
    );
}

#[test]
fn blocking_stall_both_past_idle() {
    let (client, server) = blocking_stall("both");
    assert_eq!(client, [close(CloseCode::ABNORMAL, IDLE_REASON), Seen::End]);
    assert_eq!(server, [close(CloseCode::ABNORMAL, IDLE_REASON), Seen::End]);
}

#[test]
fn blocking_stall_up_past_idle() {
    let (client, server) = blocking_stall("up");
    assert_eq!(
        client,
        [close(CloseCode::GOING_AWAY, GIVE_UP_REASON), Seen::End]
    );
    assert_eq!(server, [close(CloseCode::ABNORMAL, IDLE_REASON), Seen::End]);
}

#[test]
fn blocking_short_stall_latency_bandwidth() {
    let (_runtime, addr, record, _log) = blocking_setup(MILD);
    let mut ws = blocking_client(addr, "/blocking", keepalive());
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < MILD_FOR {
        ws.send(Message::text(numbered(n))).unwrap();
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => {
                    assert_eq!(t.as_str(), numbered(n));
                    break;
                }
                Ok(Message::Ping(_) | Message::Pong(_)) => {}
                other => panic!("message {n}: {other:?}"),
            }
        }
        n += 1;
    }
    assert!(n >= 3, "{n}");
    ws.close(CloseCode::NORMAL, "done").unwrap();
    while !matches!(ws.read().unwrap(), Message::Close(_)) {}
    assert_eq!(
        server_saw(&record, "/blocking"),
        [close(CloseCode::NORMAL, "done"), Seen::End]
    );
}

fn blocking_ending_fault(fault: &str) -> (Vec<Seen>, Vec<Seen>) {
    let (_runtime, addr, record, _log) = blocking_setup(&[&format!("300ms@{fault}")]);
    let (seen, _) = blocking_plain(addr, "/blocking");
    (seen, server_saw(&record, "/blocking"))
}

#[test]
fn blocking_reset() {
    let (client, server) = blocking_ending_fault("reset");
    // `read` returns the I/O error, not a close; the next `read` gives 1006.
    let reset = Seen::Io(io::ErrorKind::ConnectionReset);
    let expected = [reset, close(CloseCode::ABNORMAL, ""), Seen::End];
    assert_eq!(client, expected);
    assert_eq!(server, expected);
}

#[test]
fn blocking_cut() {
    let (client, server) = blocking_ending_fault("cut");
    assert_eq!(client, [close(CloseCode::ABNORMAL, ""), Seen::End]);
    assert_eq!(server, [close(CloseCode::ABNORMAL, ""), Seen::End]);
}

#[test]
fn blocking_half_close() {
    for dir in ["up", "down", "both"] {
        let (client, server) = blocking_ending_fault(&format!("halfclose:{dir}"));
        assert_eq!(client, [close(CloseCode::ABNORMAL, ""), Seen::End], "{dir}");
        assert_eq!(server, [close(CloseCode::ABNORMAL, ""), Seen::End], "{dir}");
    }
}
