//! Broadcast groups over loopback TCP: fan-out to many members, the slow
//! member policies, members leaving mid-publish, shutdown, one write per
//! member per round, and shared permessage-deflate copies.

mod common;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::{listener, AbortOnDrop};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use ws_tokio::broadcast::{Group, Membership};
use ws_tokio::ws_proto::{
    DeflateConfig, QueueLimit, SendOptions, WhenFull, GOING_AWAY_REASON, SLOW_MEMBER_REASON,
};
use ws_tokio::{
    accept_with, client, connect, ClientRequest, CloseCode, Config, Message, PreparedMessage,
    Request, Role, Transport, WebSocketStream, WriteHalf,
};

/// Every wait in these tests is bounded by this.
const STEP: Duration = Duration::from_secs(10);

/// Awaits `future`, failing the test with `what` if it takes longer than [`STEP`].
async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(STEP, future).await {
        Ok(output) => output,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Polls `condition` every 2 ms until it holds, for at most [`STEP`].
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    bounded(what, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await;
}

/// What a server connection does with the data messages it receives.
#[derive(Clone, Copy)]
enum Mode {
    /// Publishes each to the whole group, the sender included.
    Publish,
    /// Publishes each to every member but the sender.
    PublishExcept,
    /// Only reads (which answers pings and runs the close handshake).
    Discard,
}

/// A server on a free port: every connection joins `group` and is read by
/// its own task, which handles data messages as `mode` says.
async fn start_server(
    group: &Group<TcpStream>,
    config: Config,
    mode: Mode,
) -> (SocketAddr, AbortOnDrop) {
    let (listener, addr) = listener().await;
    let group = group.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let handshake = accept_with(tcp, config.clone(), Request::accept);
            let group = group.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = handshake.await else { return };
                let membership = group.join(&ws);
                while let Some(Ok(message)) = ws.recv().await {
                    let Ok(prepared) = PreparedMessage::new(message, SendOptions::default()) else {
                        continue;
                    };
                    match mode {
                        Mode::Publish => group.publish(&prepared),
                        Mode::PublishExcept => group.publish_except(&prepared, membership.id()),
                        Mode::Discard => continue,
                    };
                }
            });
        }
    });
    (addr, AbortOnDrop(task))
}

/// A member whose server side the test keeps: its sending half (to look at
/// its queue) and its membership; its reader runs in a task of its own.
struct ServerMember {
    membership: Membership<TcpStream>,
    writer: WriteHalf<TcpStream>,
    _reader: AbortOnDrop,
}

/// Accepts one connection on `listener` and makes it a member of `group`.
async fn accept_member(
    listener: &TcpListener,
    group: &Group<TcpStream>,
    config: Config,
) -> ServerMember {
    let (tcp, _) = listener.accept().await.expect("accept");
    let _ = tcp.set_nodelay(true);
    let ws = accept_with(tcp, config, Request::accept)
        .await
        .expect("server handshake");
    let (mut reader, writer) = ws.split();
    let membership = group.join_writer(&writer);
    let reader = tokio::spawn(async move { while let Some(Ok(_)) = reader.recv().await {} });
    ServerMember {
        membership,
        writer,
        _reader: AbortOnDrop(reader),
    }
}

/// What a client saw.
#[derive(Debug, Clone, PartialEq)]
enum Got {
    Data(Message),
    Close(u16, String),
    Error(String),
}

/// A client whose messages are read by a task of its own and logged.
struct Recorder {
    log: Arc<Mutex<Vec<Got>>>,
    count: watch::Receiver<usize>,
    _task: AbortOnDrop,
}

impl Recorder {
    /// Reads `ws` until it ends, logging data messages, the close frame and
    /// errors (pings are answered by the core, pongs ignored).
    fn start<S: Transport + Send + 'static>(mut ws: WebSocketStream<S>) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let (count_tx, count) = watch::channel(0);
        let task_log = Arc::clone(&log);
        let task = tokio::spawn(async move {
            let push = |got: Got| {
                let mut log = task_log.lock().unwrap();
                log.push(got);
                count_tx.send_replace(log.len());
            };
            loop {
                match ws.recv().await {
                    Some(Ok(Message::Close(frame))) => {
                        push(Got::Close(frame.code.0, frame.reason.to_string()))
                    }
                    Some(Ok(message)) if message.is_data() => push(Got::Data(message)),
                    Some(Ok(_)) => {}
                    Some(Err(err)) => {
                        push(Got::Error(err.to_string()));
                        break;
                    }
                    None => break,
                }
            }
        });
        Self {
            log,
            count,
            _task: AbortOnDrop(task),
        }
    }

    /// Waits until at least `n` entries are logged.
    async fn wait_for(&mut self, n: usize) {
        let what = format!("a client to receive {n} messages");
        bounded(&what, self.count.wait_for(|&count| count >= n))
            .await
            .expect("recorder task gone");
    }

    fn log(&self) -> Vec<Got> {
        self.log.lock().unwrap().clone()
    }

    fn len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// The sequence numbers of the data messages logged (see [`numbered`]).
    fn seqs(&self) -> Vec<u64> {
        self.log()
            .iter()
            .map(|got| match got {
                Got::Data(message) => seq_of(message),
                other => panic!("expected a numbered message, got {other:?}"),
            })
            .collect()
    }
}

/// A binary message of `len` bytes (at least 8) starting with `seq`; the
/// rest is not compressible into nothing, should deflate be on.
fn numbered(seq: u64, len: usize) -> PreparedMessage {
    let mut data = seq.to_be_bytes().to_vec();
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while data.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.push(x as u8);
    }
    PreparedMessage::binary(data)
}

fn seq_of(message: &Message) -> u64 {
    match message {
        Message::Binary(data) => u64::from_be_bytes(data[..8].try_into().unwrap()),
        other => panic!("expected a numbered binary message, got {other:?}"),
    }
}

fn url(addr: SocketAddr) -> String {
    format!("ws://{addr}/")
}

/// A ws-tokio client over TCP.
async fn ws_client(addr: SocketAddr) -> WebSocketStream<TcpStream> {
    ws_client_with(addr, TcpSocket::new_v4().expect("socket")).await
}

/// A ws-tokio client over a socket set up by the caller (buffer sizes).
async fn ws_client_with(addr: SocketAddr, socket: TcpSocket) -> WebSocketStream<TcpStream> {
    let tcp = socket.connect(addr).await.expect("connect");
    let _ = tcp.set_nodelay(true);
    let request = ClientRequest::from_url(&url(addr)).unwrap();
    client(request, tcp, Config::default())
        .await
        .expect("client handshake")
        .0
}

/// A client that completes the opening handshake by hand and then neither
/// reads nor answers anything.
async fn raw_client(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    // Byte by byte, so nothing after the response head is read.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.expect("response head"));
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    tcp
}

/// Test 1: every member gets every message once, in order per sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_every_member_once_and_in_order() {
    const CLIENTS: usize = 50;
    const ROUNDS: usize = 4;
    let group = Group::new();
    let (addr, _server) = start_server(&group, Config::default(), Mode::Publish).await;

    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(bounded("connect", ws_client(addr)).await);
    }
    wait_until("every client to join", || group.len() == CLIENTS).await;

    // Each round: every client sends one line, then reads the round's
    // CLIENTS lines; nobody starts the next round before all have read.
    let barrier = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let mut tasks = Vec::new();
    for (me, mut ws) in clients.into_iter().enumerate() {
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let mut rounds = Vec::new();
            for round in 0..ROUNDS {
                ws.send(Message::text(format!("{me}:{round}")))
                    .await
                    .unwrap();
                let mut got = Vec::new();
                while got.len() < CLIENTS {
                    match ws.recv().await {
                        Some(Ok(Message::Text(text))) => {
                            let (from, r) = text.split_once(':').unwrap();
                            got.push((from.parse::<usize>().unwrap(), r.parse::<usize>().unwrap()));
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        other => panic!("client {me}: {other:?}"),
                    }
                }
                rounds.push(got);
                barrier.wait().await;
            }
            rounds
        }));
    }
    for (me, task) in tasks.into_iter().enumerate() {
        let rounds = bounded("a client's rounds", task).await.unwrap();
        for (round, mut got) in rounds.into_iter().enumerate() {
            assert!(
                got.iter().all(|&(_, r)| r == round),
                "client {me} round {round}: {got:?}"
            );
            got.sort_unstable();
            let expected: Vec<_> = (0..CLIENTS).map(|from| (from, round)).collect();
            assert_eq!(got, expected, "client {me} round {round}");
        }
    }
    // Counted once the flush in progress ends.
    group.flush();
    let counts = group.counts();
    assert_eq!(counts.queued, (CLIENTS * CLIENTS * ROUNDS) as u64);
    assert_eq!(
        (counts.dropped, counts.closed, counts.not_open),
        (0, 0, 0),
        "{counts:?}"
    );
}

/// Test 2: `publish_except` skips the sender.
#[tokio::test]
async fn publish_except_skips_the_sender() {
    const CLIENTS: usize = 4;
    let group = Group::new();
    let (addr, _server) = start_server(&group, Config::default(), Mode::PublishExcept).await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(bounded("connect", ws_client(addr)).await);
    }
    wait_until("every client to join", || group.len() == CLIENTS).await;
    for (me, ws) in clients.iter_mut().enumerate() {
        bounded("send", ws.send(Message::text(format!("from {me}"))))
            .await
            .unwrap();
    }
    let expected = (CLIENTS * (CLIENTS - 1)) as u64;
    wait_until("every line to be published", || {
        group.counts().queued == expected
    })
    .await;
    // A last line to everyone: what comes before it is all there is.
    let end = PreparedMessage::text("end");
    group.publish(&end);
    group.flush();
    assert_eq!(group.counts().queued, expected + CLIENTS as u64);
    for (me, ws) in clients.iter_mut().enumerate() {
        let mut got = Vec::new();
        loop {
            match bounded("recv", ws.recv()).await {
                Some(Ok(Message::Text(text))) if text.as_str() == "end" => break,
                Some(Ok(Message::Text(text))) => got.push(text.to_string()),
                other => panic!("client {me}: {other:?}"),
            }
        }
        got.sort();
        let others: Vec<String> = (0..CLIENTS)
            .filter(|&from| from != me)
            .map(|from| format!("from {from}"))
            .collect();
        assert_eq!(got, others, "client {me}");
    }
    // Counted once the flush in progress ends.
    group.flush();
    assert_eq!(group.counts().queued, expected + CLIENTS as u64);
}

/// The fan-out scene of the slow-member tests: fast clients that read
/// everything, and one client with a small receive buffer that reads
/// nothing until told to.
struct SlowScene {
    group: Group<TcpStream>,
    fast: Vec<Recorder>,
    slow_client: Option<WebSocketStream<TcpStream>>,
    slow: ServerMember,
    _fast_members: Vec<ServerMember>,
    /// Messages published so far (numbered 0..published).
    published: u64,
    /// The largest queue seen on the slow member's server side.
    slow_peak: usize,
}

const SLOW_LIMIT: usize = 64 * 1024;
const MESSAGE_LEN: usize = 1024;
/// Messages published between waits for the fast clients: well under the
/// limit, so the fast ones never fill up.
const BATCH: u64 = 16;
const FAST: usize = 3;

impl SlowScene {
    async fn new(when_full: WhenFull) -> Self {
        let group = Group::with_limit(QueueLimit::new(SLOW_LIMIT, when_full));
        let (listener, addr) = listener().await;
        // Uncompressed, so what is queued is what the limit sees.
        let config = Config::default().deflate(None);
        let mut fast = Vec::new();
        let mut fast_members = Vec::new();
        for _ in 0..FAST {
            let (client, member) = bounded("connect", async {
                tokio::join!(
                    ws_client(addr),
                    accept_member(&listener, &group, config.clone())
                )
            })
            .await;
            fast.push(Recorder::start(client));
            fast_members.push(member);
        }
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let (slow_client, slow) = bounded("connect", async {
            tokio::join!(
                ws_client_with(addr, socket),
                accept_member(&listener, &group, config.clone())
            )
        })
        .await;
        assert_eq!(group.len(), FAST + 1);
        Self {
            group,
            fast,
            slow_client: Some(slow_client),
            slow,
            _fast_members: fast_members,
            published: 0,
            slow_peak: 0,
        }
    }

    /// Publishes one batch, waits for the fast clients to have all of it,
    /// and checks the slow member's queue. Every other batch is delivered
    /// by an explicit flush, the queue checked right after it (its peak);
    /// the others by the group's flush task.
    async fn publish_batch(&mut self) {
        for _ in 0..BATCH {
            self.group.publish(&numbered(self.published, MESSAGE_LEN));
            self.published += 1;
        }
        if (self.published / BATCH) % 2 == 0 {
            self.group.flush();
            self.check_slow_queue();
        }
        let published = self.published as usize;
        for fast in &mut self.fast {
            fast.wait_for(published).await;
        }
        self.check_slow_queue();
    }

    /// The slow member's queue stays within the limit and one message.
    fn check_slow_queue(&mut self) {
        let buffered = self.slow.writer.buffered_amount();
        self.slow_peak = self.slow_peak.max(buffered);
        assert!(
            buffered <= SLOW_LIMIT + MESSAGE_LEN + 14,
            "slow member holds {buffered} bytes"
        );
    }

    /// Publishes batches until `done` says so (at most 30,000 messages).
    async fn publish_until(&mut self, mut done: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                self.published < 30_000 && start.elapsed() < STEP,
                "gave up after {} messages: {:?}",
                self.published,
                self.group.counts()
            );
            self.publish_batch().await;
        }
    }

    /// Every fast client got every message, in order.
    fn check_fast(&self) {
        let all: Vec<u64> = (0..self.published).collect();
        for (i, fast) in self.fast.iter().enumerate() {
            assert_eq!(fast.seqs(), all, "fast client {i}");
        }
    }
}

/// Test 3: a member that does not read, with `WhenFull::Drop`.
#[tokio::test]
async fn a_slow_member_is_skipped_and_catches_up_with_drop() {
    let mut scene = SlowScene::new(WhenFull::Drop).await;
    // Until its queue overflows, and a little longer.
    let mut first_drop = None;
    scene
        .publish_until(|scene| {
            let dropped = scene.slow.membership.counts().unwrap().dropped;
            if dropped > 0 && first_drop.is_none() {
                first_drop = Some(scene.published);
            }
            first_drop.is_some_and(|at| scene.published >= at + 8 * BATCH)
        })
        .await;
    // Counted once the flush in progress ends.
    scene.group.flush();
    let slow_counts = scene.slow.membership.counts().expect("still a member");
    assert!(slow_counts.dropped > 0, "{slow_counts:?}");
    assert_eq!(slow_counts.closed, 0);
    let group_counts = scene.group.counts();
    assert_eq!(
        group_counts.dropped, slow_counts.dropped,
        "only the slow one"
    );
    assert_eq!(
        slow_counts.queued + slow_counts.dropped,
        scene.published,
        "{slow_counts:?}"
    );
    assert_eq!(scene.group.len(), FAST + 1, "the slow member stays");
    assert!(scene.slow_peak > SLOW_LIMIT / 2, "peak {}", scene.slow_peak);
    scene.check_fast();

    // It reads now: what was queued, in order, from the first message on.
    let queued = slow_counts.queued as usize;
    let mut slow = Recorder::start(scene.slow_client.take().unwrap());
    slow.wait_for(queued).await;
    let seqs = slow.seqs();
    assert_eq!(seqs.len(), queued);
    assert_eq!(seqs[0], 0);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "out of order");
    assert!(*seqs.last().unwrap() < scene.published);

    // Its queue has drained: it gets everything published from now on.
    let before = scene.published;
    for _ in 0..4 {
        scene.publish_batch().await;
    }
    slow.wait_for(queued + 4 * BATCH as usize).await;
    let seqs = slow.seqs();
    let after: Vec<u64> = (before..scene.published).collect();
    assert_eq!(&seqs[queued..], &after[..]);
    assert_eq!(
        scene.slow.membership.counts().unwrap().dropped,
        slow_counts.dropped,
        "no drops once drained"
    );
    scene.check_fast();
}

/// Test 4: a member that does not read, with `WhenFull::Close(code)`.
async fn slow_member_is_closed(code: CloseCode) {
    let mut scene = SlowScene::new(WhenFull::Close(code)).await;
    scene
        .publish_until(|scene| scene.group.counts().closed > 0)
        .await;
    // Counted once the flush in progress ends.
    scene.group.flush();
    let counts = scene.group.counts();
    assert_eq!(counts.closed, 1, "{counts:?}");
    assert_eq!(counts.dropped, 0, "{counts:?}");
    assert_eq!(scene.group.len(), FAST, "the slow member left");
    assert!(scene.slow.membership.counts().is_none());
    // Everything before the close was queued for it, nothing after.
    let slow_queued = counts.queued - FAST as u64 * scene.published;
    assert!(slow_queued > 0 && slow_queued < scene.published);
    // The others carry on.
    for _ in 0..4 {
        scene.publish_batch().await;
    }
    scene.check_fast();
    // Counted once the flush in progress ends.
    scene.group.flush();
    let counts = scene.group.counts();
    assert_eq!(counts.queued, FAST as u64 * scene.published + slow_queued);
    assert_eq!(counts.closed, 1);

    // It reads now: what was queued, then the close.
    let queued = slow_queued as usize;
    let mut slow = Recorder::start(scene.slow_client.take().unwrap());
    slow.wait_for(queued + 1).await;
    let log = slow.log();
    for (seq, got) in log[..queued].iter().enumerate() {
        match got {
            Got::Data(message) => assert_eq!(seq_of(message), seq as u64),
            other => panic!("message {seq}: {other:?}"),
        }
    }
    assert_eq!(
        log[queued],
        Got::Close(code.0, SLOW_MEMBER_REASON.to_owned()),
        "{:?}",
        &log[queued..]
    );
    // It answered; nothing follows the close.
    wait_until("the slow member's connection to end", || {
        scene.slow.writer.ready_state() == ws_tokio::ReadyState::Closed
    })
    .await;
    assert_eq!(slow.len(), queued + 1, "{:?}", &slow.log()[queued..]);
}

#[tokio::test]
async fn a_slow_member_is_closed_with_1013() {
    slow_member_is_closed(CloseCode::TRY_AGAIN_LATER).await;
}

#[tokio::test]
async fn a_slow_member_is_closed_with_1008() {
    slow_member_is_closed(CloseCode::POLICY_VIOLATION).await;
}

/// Test 5: one member closes and another drops its TCP connection while a
/// publisher runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_leaving_mid_publish() {
    const CLIENTS: usize = 6;
    const MESSAGES: u64 = 2000;
    let group = Group::new();
    let (addr, _server) = start_server(&group, Config::default(), Mode::Discard).await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(bounded("connect", ws_client(addr)).await);
    }
    wait_until("every client to join", || group.len() == CLIENTS).await;
    let mut dropper = clients.pop().unwrap();
    let mut closer = clients.pop().unwrap();
    let mut stayers: Vec<Recorder> = clients.into_iter().map(Recorder::start).collect();

    // The closer reads 100 messages, then runs the close handshake.
    let closer = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < 100 {
            match closer.recv().await {
                Some(Ok(message)) if message.is_data() => seqs.push(seq_of(&message)),
                Some(Ok(_)) => {}
                other => panic!("closer: {other:?}"),
            }
        }
        closer.close(CloseCode::NORMAL, "bye").await.unwrap();
        seqs
    });
    // The dropper reads 200, then drops the connection without a word.
    let dropper = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while seqs.len() < 200 {
            match dropper.recv().await {
                Some(Ok(message)) if message.is_data() => seqs.push(seq_of(&message)),
                Some(Ok(_)) => {}
                other => panic!("dropper: {other:?}"),
            }
        }
        drop(dropper.into_inner());
        seqs
    });

    let publisher = {
        let group = group.clone();
        tokio::spawn(async move {
            let mut waited_for_leavers = false;
            for seq in 0..MESSAGES {
                group.publish(&numbered(seq, 100));
                if seq % 20 == 19 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                } else {
                    tokio::task::yield_now().await;
                }
                // Halfway, make sure both have left while publishing goes on.
                if seq == MESSAGES / 2 {
                    let start = Instant::now();
                    while group.len() > CLIENTS - 2 && start.elapsed() < STEP {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    waited_for_leavers = group.len() == CLIENTS - 2;
                }
            }
            waited_for_leavers
        })
    };
    let left_mid_publish = bounded("the publisher", publisher).await.unwrap();
    assert!(left_mid_publish, "the two did not leave: {}", group.len());
    let closer_seqs = bounded("the closer", closer).await.unwrap();
    let dropper_seqs = bounded("the dropper", dropper).await.unwrap();
    assert_eq!(closer_seqs, (0..100).collect::<Vec<_>>());
    assert_eq!(dropper_seqs, (0..200).collect::<Vec<_>>());

    for (i, stayer) in stayers.iter_mut().enumerate() {
        stayer.wait_for(MESSAGES as usize).await;
        assert_eq!(
            stayer.seqs(),
            (0..MESSAGES).collect::<Vec<_>>(),
            "stayer {i}"
        );
    }
    assert_eq!(group.len(), CLIENTS - 2);
    // The stayers can read a round's messages before the flush that wrote
    // them adds its counts (it does so once every member is written): a
    // flush waits for the one in progress.
    group.flush();
    let counts = group.counts();
    assert_eq!((counts.dropped, counts.closed), (0, 0), "{counts:?}");
    let stayers_got = (CLIENTS as u64 - 2) * MESSAGES;
    // The two leavers had at least what they read queued, and no more
    // than every message.
    assert!(
        counts.queued >= stayers_got + 300 && counts.queued <= CLIENTS as u64 * MESSAGES,
        "{counts:?}"
    );
    // Every delivery was to a member that was there when the message was
    // published: at most one per member per message.
    let deliveries = counts.queued + counts.dropped + counts.closed + counts.not_open;
    assert!(deliveries <= CLIENTS as u64 * MESSAGES, "{counts:?}");
}

/// Test 6: shutdown sends 1001 and waits, bounded, for the handshakes.
#[tokio::test]
async fn shutdown_closes_members_with_going_away() {
    const NORMAL: usize = 4;
    let group = Group::new();
    let (addr, _server) = start_server(&group, Config::default(), Mode::Discard).await;
    let mut normal = Vec::new();
    for _ in 0..NORMAL {
        normal.push(Recorder::start(bounded("connect", ws_client(addr)).await));
    }
    let _mute = bounded("raw connect", raw_client(addr)).await;
    wait_until("every client to join", || group.len() == NORMAL + 1).await;

    let shutdown = {
        let group = group.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let report = group.shutdown(Duration::from_millis(300)).await;
            (report, start.elapsed())
        })
    };
    // A connection joining while the shutdown waits is sent 1001 too.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut late = Recorder::start(bounded("connect", ws_client(addr)).await);

    let (report, took) = bounded("shutdown", shutdown).await.unwrap();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    assert!(
        took >= Duration::from_millis(250),
        "returned before the timeout with a member still open: {took:?}"
    );
    assert_eq!(report.members, NORMAL + 1, "{report:?}");
    assert_eq!(report.still_open, 1, "{report:?}");
    assert_eq!(report.closed, NORMAL, "{report:?}");

    let going_away = Got::Close(1001, GOING_AWAY_REASON.to_owned());
    for (i, client) in normal.iter_mut().enumerate() {
        client.wait_for(1).await;
        assert_eq!(client.log(), vec![going_away.clone()], "client {i}");
    }
    late.wait_for(1).await;
    assert_eq!(late.log(), vec![going_away]);
}

/// A transport that counts the writes made to it.
struct CountingIo {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for CountingIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Test 7: K messages published in one go reach each member in one write.
#[tokio::test]
async fn a_round_of_publishes_is_one_write_per_member() {
    const MEMBERS: usize = 4;
    const K: usize = 20;
    let group = Group::new();
    let mut clients = Vec::new();
    let mut writes = Vec::new();
    let mut memberships = Vec::new();
    let mut readers = Vec::new();
    for _ in 0..MEMBERS {
        let (server_end, client_end) = tokio::io::duplex(1 << 20);
        let count = Arc::new(AtomicUsize::new(0));
        let io = CountingIo {
            inner: server_end,
            writes: Arc::clone(&count),
        };
        let mut server = WebSocketStream::from_raw(io, Role::Server, Config::default());
        memberships.push(group.join(&server));
        readers.push(AbortOnDrop(tokio::spawn(async move {
            while let Some(Ok(_)) = server.recv().await {}
        })));
        clients.push(WebSocketStream::from_raw(
            client_end,
            Role::Client,
            Config::default(),
        ));
        writes.push(count);
    }
    // Let the readers start (and find nothing to write).
    for _ in 0..3 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(writes.iter().all(|w| w.load(Ordering::Relaxed) == 0));

    // Small frames (copied together) and large ones (shared) mixed.
    let sizes = |i: usize| [10, 700, 100, 3000, 40][i % 5];
    for round in 0..2 {
        for i in 0..K {
            group.publish(&numbered((round * K + i) as u64, 8 + sizes(i)));
        }
        for (m, client) in clients.iter_mut().enumerate() {
            for i in 0..K {
                let message = bounded("recv", client.recv()).await.unwrap().unwrap();
                assert_eq!(seq_of(&message), (round * K + i) as u64, "member {m}");
                assert_eq!(message.len(), 8 + sizes(i));
            }
        }
        // Counted once the flush in progress ends.
        group.flush();
        assert_eq!(group.counts().queued, ((round + 1) * K * MEMBERS) as u64);
        let seen: Vec<usize> = writes.iter().map(|w| w.load(Ordering::Relaxed)).collect();
        assert_eq!(
            seen,
            vec![round + 1; MEMBERS],
            "writes per member after round {round} of {K} messages"
        );
    }
    drop(memberships);
}

/// Test 8: members without server context takeover share one compressed copy.
#[tokio::test]
async fn deflate_members_share_one_compressed_copy() {
    const CLIENTS: usize = 4;
    let group = Group::new();
    let config = Config::default().deflate(Some(
        DeflateConfig::default().server_no_context_takeover(true),
    ));
    let (addr, _server) = start_server(&group, config, Mode::Discard).await;
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (ws, response) = bounded("connect", connect(&url(addr))).await.unwrap();
        let extensions = response
            .header("sec-websocket-extensions")
            .unwrap_or_default()
            .to_owned();
        assert!(
            extensions.contains("permessage-deflate")
                && extensions.contains("server_no_context_takeover"),
            "{extensions:?}"
        );
        clients.push(ws);
    }
    wait_until("every client to join", || group.len() == CLIENTS).await;

    let mut text = String::new();
    let mut i = 0;
    while text.len() < 1024 {
        text.push_str(&format!(
            r#"{{"user":"user{}","text":"hello everyone, this is line {i}"}}"#,
            i % 3
        ));
        i += 1;
    }
    text.truncate(1024);
    let prepared = PreparedMessage::text(text.clone());
    let kept = prepared.clone();
    group.publish(&prepared);
    drop(prepared);
    for (i, ws) in clients.iter_mut().enumerate() {
        let message = bounded("recv", ws.recv()).await.unwrap().unwrap();
        assert_eq!(message, Message::text(text.clone()), "client {i}");
    }
    // Counted once the flush in progress ends.
    group.flush();
    assert_eq!(group.counts().queued, CLIENTS as u64);
    assert_eq!(kept.compressed_copies(), 1);
}

/// A member receives what was published after it joined, even when it
/// joined before the flush that delivers what was published earlier.
#[tokio::test]
async fn a_member_gets_only_what_is_published_after_it_joined() {
    let group = Group::new();
    let member = |group: &Group<DuplexStream>| {
        let (server_end, client_end) = tokio::io::duplex(1 << 16);
        let server = WebSocketStream::from_raw(server_end, Role::Server, Config::default());
        let membership = group.join(&server);
        let client = WebSocketStream::from_raw(client_end, Role::Client, Config::default());
        (server, membership, client)
    };
    let (_early_server, _early, mut early) = member(&group);
    group.publish(&PreparedMessage::text("before"));
    let (_late_server, _late, mut late) = member(&group);
    group.publish(&PreparedMessage::text("after"));
    group.flush();
    assert_eq!(group.counts().queued, 3);
    for expected in ["before", "after"] {
        let got = bounded("recv", early.recv()).await.unwrap().unwrap();
        assert_eq!(got, Message::text(expected));
    }
    let got = bounded("recv", late.recv()).await.unwrap().unwrap();
    assert_eq!(got, Message::text("after"));
}

/// `into_inner` on a stream that is still a member: the group holds only a
/// weak reference, so the transport comes back, and the next flush finds
/// the member gone.
#[tokio::test]
async fn into_inner_while_a_member() {
    let group = Group::new();
    let (a, _b) = tokio::io::duplex(64);
    let ws = WebSocketStream::from_raw(a, Role::Server, Config::default());
    let membership = group.join(&ws);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(ws.into_inner());
    }));
    assert!(
        result.is_ok(),
        "into_inner panicked while the stream was in a group"
    );
    group.publish(&PreparedMessage::text("to nobody"));
    group.flush();
    assert_eq!(group.len(), 0);
    assert_eq!(group.counts().queued, 0);
    drop(membership);
}
