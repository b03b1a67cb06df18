//! The proxy's faults over loopback, against ws-tokio and ws-blocking
//! endpoints: what each endpoint sees. Timings are asserted loosely (the
//! machine is shared); every test is bounded.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use ws_soak::fault::{parse_entry, Plan};
use ws_soak::log::{field, FaultLog};
use ws_soak::proxy::{Control, Proxy};
use ws_tokio::ws_proto::handshake::proxy::ProxySetting;
use ws_tokio::{
    ClientRequest, CloseCode, CloseKind, Config, Message, ReconnectEvent, ReconnectPolicy,
    Reconnecting,
};

/// Every test is over well within this.
const BOUND: Duration = Duration::from_secs(10);

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines().map(str::to_owned).collect()
    }
}

/// A proxy in front of `upstream` applying `schedule` to every connection.
async fn proxy(upstream: SocketAddr, schedule: &[&str]) -> (SocketAddr, Captured, Arc<Control>) {
    let plan = if schedule.is_empty() {
        Plan::None
    } else {
        Plan::Fixed(schedule.iter().map(|s| parse_entry(s).unwrap()).collect())
    };
    let log = Captured::default();
    let proxy = Proxy::bind(
        "127.0.0.1:0".parse().unwrap(),
        upstream,
        plan,
        Arc::new(FaultLog::new(log.clone())),
    )
    .await
    .unwrap();
    let addr = proxy.local_addr().unwrap();
    let control = proxy.control();
    tokio::spawn(proxy.run());
    (addr, log, control)
}

/// A ws-tokio echo server with `config`; counts the closes it sees.
async fn ws_echo(config: Config) -> (SocketAddr, Arc<Mutex<Vec<CloseCode>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let closes = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&closes);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let config = config.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let Ok(mut ws) = ws_tokio::accept_with(tcp, config, |r| r.accept()).await else {
                    return;
                };
                while let Some(item) = ws.recv().await {
                    match item {
                        Ok(Message::Close(frame)) => {
                            seen.lock().unwrap().push(frame.code);
                        }
                        Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                            if ws.send(m).await.is_err() {
                                break;
                            }
                        }
                        Ok(_) => {}
                        Err(_) => {
                            seen.lock().unwrap().push(CloseCode::ABNORMAL);
                            break;
                        }
                    }
                }
            });
        }
    });
    (addr, closes)
}

async fn tokio_client(
    addr: SocketAddr,
    path: &str,
    config: Config,
) -> ws_tokio::WebSocketStream<ws_tokio::MaybeTlsStream> {
    let request = ClientRequest::from_url(&format!("ws://{addr}{path}")).unwrap();
    let (ws, _) = ws_tokio::connect_with_proxy(request, config, None, ProxySetting::Direct)
        .await
        .unwrap();
    ws
}

fn keepalive(ping_ms: u64, idle_ms: u64) -> Config {
    Config::default()
        .ping_interval(Some(Duration::from_millis(ping_ms)))
        .idle_timeout(Some(Duration::from_millis(idle_ms)))
}

fn faults(log: &Captured, kind: &str) -> Vec<String> {
    log.lines()
        .into_iter()
        .filter(|l| field(l, "event") == Some("fault") && field(l, "fault") == Some(kind))
        .collect()
}

/// The next data message or close, skipping pings and pongs.
async fn next_data(
    ws: &mut ws_tokio::WebSocketStream<ws_tokio::MaybeTlsStream>,
) -> Option<Result<Message, ws_tokio::Error>> {
    loop {
        match ws.recv().await {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn latency_is_added_each_way_within_tolerance() {
    // A raw TCP echo behind the proxy: 150 ms each way.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 64];
        while let Ok(n @ 1..) = tcp.read(&mut buf).await {
            tcp.write_all(&buf[..n]).await.unwrap();
        }
    });
    let (addr, log, _) = proxy(upstream, &["0s@latency:both:150ms:20ms:30s"]).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut rtts = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        tcp.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        timeout(BOUND, tcp.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"ping");
        rtts.push(start.elapsed());
    }
    for rtt in &rtts {
        // 300 ms added in all; the upper bound is only "not stuck".
        assert!(
            *rtt >= Duration::from_millis(290),
            "{rtts:?} {:?}",
            log.lines()
        );
        assert!(*rtt < Duration::from_secs(3), "{rtts:?}");
    }
    assert_eq!(faults(&log, "latency").len(), 1);
}

#[tokio::test]
async fn bandwidth_cap_paces_the_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        tcp.write_all(&[7u8; 24 * 1024]).await.unwrap();
    });
    // 16 KiB/s down: 24 KiB take at least a second (the first chunk goes
    // at once, the pause comes after it).
    let (addr, _, _) = proxy(upstream, &["0s@bandwidth:down:16384:30s"]).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    timeout(BOUND, tcp.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.len(), 24 * 1024);
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn stall_longer_than_idle_timeout_is_detected_by_keepalive() {
    // Only the client runs keepalive (ping 200 ms, idle 700 ms); both ways
    // stall after 300 ms for 8 s: the client must give up on its own.
    let (upstream, _) = ws_echo(Config::default()).await;
    let (addr, log, _) = proxy(upstream, &["300ms@stall:both:8s"]).await;
    let mut ws = tokio_client(addr, "/stall", keepalive(200, 700)).await;
    ws.send(Message::text("before")).await.unwrap();
    let echo = timeout(BOUND, next_data(&mut ws)).await.unwrap();
    assert!(matches!(echo, Some(Ok(Message::Text(t))) if t == "before"));
    let close = timeout(BOUND, next_data(&mut ws))
        .await
        .expect("detected in time");
    let Some(Ok(Message::Close(frame))) = close else {
        panic!("expected a close, got {close:?}");
    };
    assert_eq!(frame.code, CloseCode::ABNORMAL);
    assert_eq!(CloseKind::of(frame.code), CloseKind::Abnormal);
    let stalls = faults(&log, "stall");
    assert_eq!(stalls.len(), 1, "{stalls:?}");
    // Detected after the idle timeout, well before the stall ended.
    let stall_at: u64 = field(&stalls[0], "t_ms").unwrap().parse().unwrap();
    let now_ms = ws_soak::log::now_ms();
    let since_stall = Duration::from_millis(now_ms.saturating_sub(stall_at));
    assert!(since_stall >= Duration::from_millis(500), "{since_stall:?}");
    assert!(since_stall < Duration::from_secs(5), "{since_stall:?}");
}

#[tokio::test]
async fn stall_shorter_than_idle_timeout_delays_but_loses_nothing() {
    let (upstream, closes) = ws_echo(keepalive(300, 1500)).await;
    let (addr, log, _) = proxy(
        upstream,
        &["100ms@stall:up:500ms", "700ms@stall:down:500ms"],
    )
    .await;
    let mut ws = tokio_client(addr, "/short", keepalive(300, 1500)).await;
    for n in 0..20u32 {
        ws.send(Message::text(n.to_string())).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for n in 0..20u32 {
        let echo = timeout(BOUND, next_data(&mut ws)).await.unwrap();
        match echo {
            Some(Ok(Message::Text(t))) => assert_eq!(t.as_str(), n.to_string()),
            other => panic!("echo {n}: {other:?}"),
        }
    }
    assert_eq!(faults(&log, "stall").len(), 2);
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(*closes.lock().unwrap(), [CloseCode::NORMAL]);
}

#[tokio::test]
async fn reset_is_an_abnormal_close_and_the_reconnecting_client_comes_back() {
    // The first connection is reset at 300 ms, the second too: the
    // reconnecting client sees each loss and each return.
    let (upstream, _) = ws_echo(Config::default()).await;
    let (addr, log, _) = proxy(upstream, &["300ms@reset"]).await;
    let request = ClientRequest::from_url(&format!("ws://{addr}/reconnect")).unwrap();
    let policy = ReconnectPolicy::default()
        .base_delay(Duration::from_millis(100))
        .jitter(false);
    let (mut client, _) = Reconnecting::connect(request, Config::default(), None, policy)
        .await
        .unwrap();
    let mut events = Vec::new();
    while events.len() < 3 {
        let event = timeout(BOUND, client.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match event {
            ReconnectEvent::Disconnected {
                close,
                error,
                retry_in,
            } => {
                assert_eq!(CloseKind::of(close.code), CloseKind::Abnormal);
                // An RST is an I/O error (connection reset), not a bare EOF.
                let error = error.expect("the reset is reported");
                assert!(
                    matches!(&error, ws_tokio::Error::Io(e) if e.kind() == io::ErrorKind::ConnectionReset),
                    "{error:?}"
                );
                assert!(retry_in <= Duration::from_millis(200));
                events.push("disconnected");
            }
            ReconnectEvent::Reconnected { attempt, .. } => {
                assert_eq!(attempt, 1);
                events.push("reconnected");
            }
            ReconnectEvent::Message(_) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(events, ["disconnected", "reconnected", "disconnected"]);
    assert!(faults(&log, "reset").len() >= 2);
    // The request's path is logged with each connection.
    let paths: Vec<String> = log
        .lines()
        .iter()
        .filter_map(|l| field(l, "path").map(str::to_owned))
        .collect();
    assert!(
        paths.len() >= 2 && paths.iter().all(|p| p == "/reconnect"),
        "{paths:?}"
    );
}

#[tokio::test]
async fn half_close_toward_the_server_ends_both_sides_with_1006() {
    let (upstream, closes) = ws_echo(Config::default()).await;
    let (addr, log, _) = proxy(upstream, &["300ms@halfclose:up"]).await;
    let mut ws = tokio_client(addr, "/half", Config::default()).await;
    let end = timeout(BOUND, next_data(&mut ws)).await.unwrap();
    let Some(Ok(Message::Close(frame))) = end else {
        panic!("expected a close, got {end:?}");
    };
    // The server saw EOF (1006) and closed TCP; the client then sees EOF.
    assert_eq!(frame.code, CloseCode::ABNORMAL);
    assert_eq!(*closes.lock().unwrap(), [CloseCode::ABNORMAL]);
    assert_eq!(faults(&log, "halfclose").len(), 1);
}

#[test]
fn cut_and_reset_as_a_blocking_client_sees_them() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (upstream, _) = runtime.block_on(ws_echo(Config::default()));
    for (fault, expect_reset) in [("300ms@cut", false), ("300ms@reset", true)] {
        let (addr, log, _) = runtime.block_on(proxy(upstream, &[fault]));
        let request = ClientRequest::from_url(&format!("ws://{addr}/blocking")).unwrap();
        let (mut ws, _) =
            ws_blocking::connect_with_proxy(request, Config::default(), None, ProxySetting::Direct)
                .unwrap();
        ws.get_ref().tcp().set_read_timeout(Some(BOUND)).unwrap();
        let start = Instant::now();
        let seen = loop {
            match ws.read() {
                Ok(Message::Close(frame)) => break Ok(frame.code),
                Ok(_) => continue,
                Err(err) => break Err(err),
            }
        };
        assert!(start.elapsed() < Duration::from_secs(5), "{fault}");
        if expect_reset {
            // An RST comes as an I/O error from `read`, not as a close.
            assert!(
                matches!(&seen, Err(ws_blocking::Error::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset),
                "{fault}: {seen:?}"
            );
        } else {
            // A clean cut (FIN without a close frame) is code 1006.
            assert_eq!(seen.ok(), Some(CloseCode::ABNORMAL), "{fault}");
        }
        assert_eq!(
            log.lines()
                .iter()
                .filter(|l| field(l, "event") == Some("fault"))
                .count(),
            1
        );
    }
}

#[tokio::test]
async fn quiesce_ends_a_stall_in_force() {
    let (upstream, _) = ws_echo(Config::default()).await;
    let (addr, _, control) = proxy(upstream, &["200ms@stall:both:60s", "1s@reset"]).await;
    let mut ws = tokio_client(addr, "/quiet", Config::default()).await;
    // The handshake went through before the stall; now nothing flows.
    tokio::time::sleep(Duration::from_millis(400)).await;
    ws.send(Message::text("held")).await.unwrap();
    assert!(timeout(Duration::from_millis(300), next_data(&mut ws))
        .await
        .is_err());
    control.quiesce();
    let echo = timeout(BOUND, next_data(&mut ws)).await.unwrap();
    assert!(
        matches!(&echo, Some(Ok(Message::Text(t))) if t == "held"),
        "{echo:?}"
    );
    // And the reset planned for 1 s is not applied.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    ws.send(Message::text("after")).await.unwrap();
    let echo = timeout(BOUND, next_data(&mut ws)).await.unwrap();
    assert!(
        matches!(&echo, Some(Ok(Message::Text(t))) if t == "after"),
        "{echo:?}"
    );
    assert_eq!(control.faults(), 1);
}
