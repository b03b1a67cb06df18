//! Each adapter's client against the other adapter's server over loopback
//! TCP: a ws-blocking client against a ws-tokio server, and a ws-tokio
//! client against a ws-blocking server on a std thread.
//!
//! Both directions run the same stories: text and binary messages of every
//! length class echoed intact, with permessage-deflate on both sides, on one
//! side only, and off; pings answered both ways; the close handshake started
//! by either side with code 4000 and a reason; a refused handshake.
//!
//! Every test is bounded by [`LIMIT`]. The blocking side runs on its own std
//! thread with socket timeouts, so it cannot hang either; its result is
//! awaited without blocking the runtime, and the thread is joined before the
//! test ends.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdTcp};
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use ws_tokio::ws_proto::handshake::{HandshakeError, ResponseError};
use ws_tokio::{
    ClientRequest, CloseCode, CloseFrame, Config, Message, Request, Response, ServerResponse,
};

/// The longest any test, or any wait inside one, may take.
const LIMIT: Duration = Duration::from_secs(10);

/// One payload length per frame-header length class (7-bit, 16-bit and
/// 64-bit lengths, each at its edges), and a message of 1 MiB.
const LENGTHS: [usize; 6] = [0, 125, 126, 65535, 65536, 1 << 20];

/// The close code and reason the initiating side sends.
const CLOSE_CODE: CloseCode = CloseCode(4000);
const CLIENT_REASON: &str = "client done";
const SERVER_REASON: &str = "server done";

/// A ws-blocking client connection.
type BlockingWs = ws_blocking::WebSocket<ws_blocking::MaybeTlsStream>;
/// A ws-tokio client connection.
type TokioWs = ws_tokio::WebSocketStream<ws_tokio::MaybeTlsStream>;

// ---------------------------------------------------------------------------
// Payloads and checks
// ---------------------------------------------------------------------------

/// Text of exactly `len` bytes cycling through 1- to 4-byte code points, so
/// frame and deflate block boundaries fall inside characters.
fn text_of(len: usize) -> String {
    const CHARS: [char; 4] = ['a', 'é', '€', '😀'];
    let mut text = String::with_capacity(len);
    for c in CHARS.iter().cycle() {
        if text.len() == len {
            break;
        }
        // Near the end, pad with ASCII to hit the length exactly.
        text.push(if text.len() + c.len_utf8() <= len {
            *c
        } else {
            '.'
        });
    }
    text
}

/// `len` pseudo-random bytes (xorshift), which deflate cannot shrink.
fn noise_of(len: usize) -> Bytes {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64 ^ len as u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}

/// The messages echoed for one length: compressible text, then noise.
fn messages_of(len: usize) -> [Message; 2] {
    [Message::text(text_of(len)), Message::binary(noise_of(len))]
}

/// A short description of a message, without dumping a megabyte.
fn describe(message: &Message) -> String {
    match message {
        Message::Text(text) => format!("text of {} bytes", text.len()),
        Message::Binary(data) => format!("binary of {} bytes", data.len()),
        other => format!("{other:?}"),
    }
}

/// Asserts that `got` is `sent` byte for byte.
#[track_caller]
fn assert_echo(sent: &Message, got: &Message) {
    if sent == got {
        return;
    }
    let payload = |m: &Message| -> Vec<u8> {
        match m {
            Message::Text(text) => text.as_str().as_bytes().to_vec(),
            Message::Binary(data) => data.to_vec(),
            _ => Vec::new(),
        }
    };
    let (a, b) = (payload(sent), payload(got));
    let first_difference = a.iter().zip(&b).position(|(x, y)| x != y);
    panic!(
        "echo differs: sent {}, got {} (first differing byte: {first_difference:?})",
        describe(sent),
        describe(got)
    );
}

/// The close code and reason of a close message.
fn close_of(message: &Message) -> Option<(CloseCode, &str)> {
    match message {
        Message::Close(frame) => Some((frame.code, frame.reason.as_str())),
        _ => None,
    }
}

/// Default settings, or the same with permessage-deflate turned off.
fn config(deflate: bool) -> Config {
    if deflate {
        Config::default()
    } else {
        Config::default().deflate(None)
    }
}

/// Whether the handshake agreed on permessage-deflate, checked against the
/// header the server sent.
fn deflate_negotiated(response: &Response) -> bool {
    let negotiated = response.negotiated().contains("permessage-deflate");
    let header = response
        .header("Sec-WebSocket-Extensions")
        .unwrap_or_default();
    assert_eq!(
        header.contains("permessage-deflate"),
        negotiated,
        "Sec-WebSocket-Extensions: {header:?}"
    );
    negotiated
}

// ---------------------------------------------------------------------------
// Running both sides, bounded
// ---------------------------------------------------------------------------

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

/// A closure running on its own std thread: the blocking adapter's side.
struct Blocking<T> {
    result: oneshot::Receiver<T>,
    thread: thread::JoinHandle<()>,
}

/// Starts `work` on a new std thread.
fn on_thread<T, F>(work: F) -> Blocking<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, result) = oneshot::channel();
    let thread = thread::spawn(move || {
        // The receiver is gone only if the test already failed.
        let _ = tx.send(work());
    });
    Blocking { result, thread }
}

impl<T> Blocking<T> {
    /// Waits for the thread's result within [`LIMIT`] without blocking the
    /// runtime, then joins the thread (which is finishing by then); a panic
    /// on the thread is raised again here.
    async fn join(self) -> T {
        let result = within("the blocking side", self.result).await;
        match (result, self.thread.join()) {
            (Ok(value), Ok(())) => value,
            (_, Err(panic)) => std::panic::resume_unwind(panic),
            (Err(_), Ok(())) => unreachable!("the thread ends by sending its result or panicking"),
        }
    }
}

/// Read and write timeouts of [`LIMIT`] on a blocking socket, so the
/// blocking side cannot hang.
fn bound(tcp: &StdTcp) {
    tcp.set_read_timeout(Some(LIMIT)).expect("read timeout");
    tcp.set_write_timeout(Some(LIMIT)).expect("write timeout");
}

/// A ws-blocking server: a std thread accepting one connection on a free
/// loopback port (within [`LIMIT`], with socket timeouts) and running
/// `handler` on it.
fn blocking_server<T, F>(handler: F) -> (SocketAddr, Blocking<T>)
where
    T: Send + 'static,
    F: FnOnce(StdTcp) -> T + Send + 'static,
{
    let listener = StdListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let server = on_thread(move || {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let deadline = Instant::now() + LIMIT;
        let tcp = loop {
            match listener.accept() {
                Ok((tcp, _)) => break tcp,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("no client within {LIMIT:?}: {e}"),
            }
        };
        tcp.set_nonblocking(false).expect("blocking socket");
        bound(&tcp);
        handler(tcp)
    });
    (addr, server)
}

/// A ws-tokio server: a task accepting one connection on a free loopback
/// port and running `handler` on it. Await the handle with [`within`].
async fn tokio_server<T, F, Fut>(handler: F) -> (SocketAddr, JoinHandle<T>)
where
    T: Send + 'static,
    F: FnOnce(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        handler(tcp).await
    });
    (addr, task)
}

/// Connects the ws-blocking client, then bounds its socket.
fn blocking_connect(
    addr: SocketAddr,
    path: &str,
    config: Config,
) -> Result<(BlockingWs, Response), ws_blocking::Error> {
    let request = ClientRequest::from_url(&format!("ws://{addr}{path}"))?;
    let (ws, response) = ws_blocking::connect_with(request, config, None)?;
    bound(ws.get_ref().tcp());
    Ok((ws, response))
}

/// Connects the ws-tokio client.
async fn tokio_connect(
    addr: SocketAddr,
    path: &str,
    config: Config,
) -> Result<(TokioWs, Response), ws_tokio::Error> {
    let request = ClientRequest::from_url(&format!("ws://{addr}{path}"))?;
    ws_tokio::connect_with(request, config, None).await
}

// ---------------------------------------------------------------------------
// The sides' parts of each story
// ---------------------------------------------------------------------------

/// What a server saw of a connection besides the data it echoed.
#[derive(Debug, Default)]
struct Seen {
    /// Pings and pongs, in order.
    control: Vec<Message>,
    /// The peer's close frame (the initiator's, or the answer to ours).
    close: Option<CloseFrame>,
}

impl Seen {
    fn close(&self) -> Option<(CloseCode, &str)> {
        self.close
            .as_ref()
            .map(|frame| (frame.code, frame.reason.as_str()))
    }
}

/// ws-tokio server: optionally pings and then closes first; otherwise
/// echoes data until the connection ends.
async fn tokio_serve(tcp: TcpStream, config: Config, ping: bool, close_first: bool) -> Seen {
    let mut ws = ws_tokio::accept_with(tcp, config, Request::accept)
        .await
        .expect("server handshake");
    if ping {
        ws.send(Message::Ping(Bytes::from_static(b"from server")))
            .await
            .expect("server ping");
    }
    if close_first {
        ws.send(Message::text("last words"))
            .await
            .expect("server text");
        let close = CloseFrame::new(CLOSE_CODE, SERVER_REASON);
        ws.send(Message::Close(close)).await.expect("server close");
    }
    let mut seen = Seen::default();
    while let Some(message) = ws.recv().await {
        match message.expect("server recv") {
            message @ (Message::Text(_) | Message::Binary(_)) => {
                ws.send(message).await.expect("server echo");
            }
            Message::Close(frame) => seen.close = Some(frame),
            control => seen.control.push(control),
        }
    }
    seen
}

/// ws-blocking server: the same as [`tokio_serve`].
fn blocking_serve(tcp: StdTcp, config: Config, ping: bool, close_first: bool) -> Seen {
    let mut ws = ws_blocking::accept_with(tcp, config, Request::accept).expect("server handshake");
    if ping {
        ws.send(Message::Ping(Bytes::from_static(b"from server")))
            .expect("server ping");
    }
    if close_first {
        ws.send(Message::text("last words")).expect("server text");
        ws.close(CLOSE_CODE, SERVER_REASON).expect("server close");
    }
    let mut seen = Seen::default();
    loop {
        match ws.read().expect("server read") {
            message @ (Message::Text(_) | Message::Binary(_)) => {
                ws.send(message).expect("server echo");
            }
            Message::Close(frame) => {
                seen.close = Some(frame);
                break;
            }
            control => seen.control.push(control),
        }
    }
    // The server closes TCP first once the close handshake is done.
    let after = ws.read();
    assert!(
        matches!(after, Err(ws_blocking::Error::ConnectionClosed)),
        "server read after the close: {after:?}"
    );
    seen
}

/// ws-blocking client: every length echoed, a ping answered, then the close
/// with code 4000 and a reason; the server echoes the code.
fn blocking_echo_then_close(ws: &mut BlockingWs) {
    for len in LENGTHS {
        for message in messages_of(len) {
            ws.send(message.clone()).expect("client send");
            assert_echo(&message, &ws.read().expect("client read"));
        }
    }
    ws.send(Message::Ping(Bytes::from_static(b"tick")))
        .expect("client ping");
    assert_eq!(
        ws.read().expect("client read"),
        Message::Pong(Bytes::from_static(b"tick"))
    );
    ws.close(CLOSE_CODE, CLIENT_REASON).expect("client close");
    let reply = ws.read().expect("the server's close reply");
    assert_eq!(close_of(&reply).map(|(code, _)| code), Some(CLOSE_CODE));
    blocking_assert_ended(ws);
}

/// ws-blocking client: after the close, the server closes TCP and the
/// connection reports that it is over.
fn blocking_assert_ended(ws: &mut BlockingWs) {
    let after = ws.read();
    assert!(
        matches!(after, Err(ws_blocking::Error::ConnectionClosed)),
        "client read after the close: {after:?}"
    );
}

/// ws-tokio client: the same as [`blocking_echo_then_close`].
async fn tokio_echo_then_close(ws: &mut TokioWs) {
    for len in LENGTHS {
        for message in messages_of(len) {
            ws.send(message.clone()).await.expect("client send");
            let got = ws.recv().await.expect("an echo").expect("client recv");
            assert_echo(&message, &got);
        }
    }
    ws.send(Message::Ping(Bytes::from_static(b"tick")))
        .await
        .expect("client ping");
    assert_eq!(
        ws.recv().await.expect("a pong").expect("client recv"),
        Message::Pong(Bytes::from_static(b"tick"))
    );
    let close = CloseFrame::new(CLOSE_CODE, CLIENT_REASON);
    ws.send(Message::Close(close)).await.expect("client close");
    let reply = ws
        .recv()
        .await
        .expect("a close reply")
        .expect("client recv");
    assert_eq!(close_of(&reply).map(|(code, _)| code), Some(CLOSE_CODE));
    assert!(ws.recv().await.is_none(), "the stream ends after the close");
}

// ---------------------------------------------------------------------------
// ws-blocking client, ws-tokio server
// ---------------------------------------------------------------------------

mod blocking_client_tokio_server {
    use super::*;

    /// Echoes every length each way, a ping, then the client closes with
    /// 4000: the server sees the code and reason exactly. Permessage-deflate
    /// is agreed when both configurations ask for it.
    async fn echo(client: Config, server: Config) {
        let expect_deflate = client.get_deflate().is_some() && server.get_deflate().is_some();
        let (addr, server) = tokio_server(move |tcp| tokio_serve(tcp, server, false, false)).await;
        let client = on_thread(move || {
            let (mut ws, response) =
                blocking_connect(addr, "/echo", client).expect("client handshake");
            let negotiated = deflate_negotiated(&response);
            blocking_echo_then_close(&mut ws);
            negotiated
        });
        let negotiated = client.join().await;
        let seen = within("the server", server).await.expect("server task");
        assert_eq!(negotiated, expect_deflate);
        assert_eq!(seen.close(), Some((CLOSE_CODE, CLIENT_REASON)));
        assert!(seen
            .control
            .contains(&Message::Ping(Bytes::from_static(b"tick"))));
    }

    #[tokio::test]
    async fn echo_with_deflate_on_both_sides() {
        within("the test", echo(config(true), config(true))).await;
    }

    #[tokio::test]
    async fn echo_with_deflate_on_the_client_only() {
        within("the test", echo(config(true), config(false))).await;
    }

    #[tokio::test]
    async fn echo_with_deflate_on_the_server_only() {
        within("the test", echo(config(false), config(true))).await;
    }

    #[tokio::test]
    async fn echo_with_deflate_off() {
        within("the test", echo(config(false), config(false))).await;
    }

    /// Both sides send frames of at most 1000 bytes: long messages arrive
    /// as compressed fragments (RFC 7692 section 6.1) and are put together.
    #[tokio::test]
    async fn echo_with_fragmented_compressed_sends() {
        let fragmenting = || config(true).max_send_frame_size(1000);
        within("the test", echo(fragmenting(), fragmenting())).await;
    }

    #[tokio::test]
    async fn pings_are_answered_both_ways() {
        within("the test", async {
            let (addr, server) =
                tokio_server(|tcp| tokio_serve(tcp, Config::default(), true, false)).await;
            let client = on_thread(move || {
                let (mut ws, _) =
                    blocking_connect(addr, "/", Config::default()).expect("client handshake");
                // The core answers the server's ping during this read.
                assert_eq!(
                    ws.read().expect("client read"),
                    Message::Ping(Bytes::from_static(b"from server"))
                );
                ws.send(Message::Ping(Bytes::from_static(b"from client")))
                    .expect("client ping");
                assert_eq!(
                    ws.read().expect("client read"),
                    Message::Pong(Bytes::from_static(b"from client"))
                );
                ws.close(CloseCode::NORMAL, "").expect("client close");
                assert!(close_of(&ws.read().expect("close reply")).is_some());
            });
            client.join().await;
            let seen = within("the server", server).await.expect("server task");
            assert_eq!(
                seen.control,
                [
                    Message::Pong(Bytes::from_static(b"from server")),
                    Message::Ping(Bytes::from_static(b"from client")),
                ]
            );
        })
        .await;
    }

    #[tokio::test]
    async fn the_server_closes_with_4000_and_a_reason() {
        within("the test", async {
            let (addr, server) =
                tokio_server(|tcp| tokio_serve(tcp, Config::default(), false, true)).await;
            let client = on_thread(move || {
                let (mut ws, _) =
                    blocking_connect(addr, "/", Config::default()).expect("client handshake");
                assert_eq!(ws.read().expect("client read"), Message::text("last words"));
                let close = ws.read().expect("the server's close");
                assert_eq!(close_of(&close), Some((CLOSE_CODE, SERVER_REASON)));
                blocking_assert_ended(&mut ws);
            });
            client.join().await;
            let seen = within("the server", server).await.expect("server task");
            // The client's core echoes the code (RFC 6455 section 5.5.1).
            assert_eq!(seen.close.map(|frame| frame.code), Some(CLOSE_CODE));
        })
        .await;
    }

    #[tokio::test]
    async fn a_403_from_the_callback_reaches_the_client() {
        within("the test", async {
            let (addr, server) = tokio_server(|tcp| async move {
                let mut path = None;
                let result = ws_tokio::accept_with(tcp, Config::default(), |request: &Request| {
                    path = Some(request.path().to_owned());
                    ServerResponse::reject(403, "members only")
                })
                .await;
                (path, result.map(drop))
            })
            .await;
            let client = on_thread(move || blocking_connect(addr, "/private", Config::default()));
            let err = client.join().await.map(drop).expect_err("a refusal");
            match &err {
                ws_blocking::Error::Handshake(HandshakeError::Response(
                    ResponseError::Rejected(rejection),
                )) => {
                    assert_eq!(rejection.status, 403);
                    assert_eq!(rejection.body, b"members only");
                }
                other => panic!("expected a 403 rejection, got {other:?}"),
            }
            assert!(err.to_string().contains("403"), "{err}");
            let (path, result) = within("the server", server).await.expect("server task");
            assert_eq!(path.as_deref(), Some("/private"));
            let server_err = result.expect_err("the server refused");
            assert!(
                matches!(
                    server_err,
                    ws_tokio::Error::Handshake(HandshakeError::Refused { status: 403 })
                ),
                "{server_err:?}"
            );
        })
        .await;
    }
}

// ---------------------------------------------------------------------------
// ws-tokio client, ws-blocking server
// ---------------------------------------------------------------------------

mod tokio_client_blocking_server {
    use super::*;

    /// Echoes every length each way, a ping, then the client closes with
    /// 4000: the server sees the code and reason exactly. Permessage-deflate
    /// is agreed when both configurations ask for it.
    async fn echo(client: Config, server: Config) {
        let expect_deflate = client.get_deflate().is_some() && server.get_deflate().is_some();
        let (addr, server) = blocking_server(move |tcp| blocking_serve(tcp, server, false, false));
        let (mut ws, response) = tokio_connect(addr, "/echo", client)
            .await
            .expect("client handshake");
        assert_eq!(deflate_negotiated(&response), expect_deflate);
        tokio_echo_then_close(&mut ws).await;
        let seen = server.join().await;
        assert_eq!(seen.close(), Some((CLOSE_CODE, CLIENT_REASON)));
        assert!(seen
            .control
            .contains(&Message::Ping(Bytes::from_static(b"tick"))));
    }

    #[tokio::test]
    async fn echo_with_deflate_on_both_sides() {
        within("the test", echo(config(true), config(true))).await;
    }

    #[tokio::test]
    async fn echo_with_deflate_on_the_client_only() {
        within("the test", echo(config(true), config(false))).await;
    }

    #[tokio::test]
    async fn echo_with_deflate_on_the_server_only() {
        within("the test", echo(config(false), config(true))).await;
    }

    #[tokio::test]
    async fn echo_with_deflate_off() {
        within("the test", echo(config(false), config(false))).await;
    }

    /// Both sides send frames of at most 1000 bytes: long messages arrive
    /// as compressed fragments (RFC 7692 section 6.1) and are put together.
    #[tokio::test]
    async fn echo_with_fragmented_compressed_sends() {
        let fragmenting = || config(true).max_send_frame_size(1000);
        within("the test", echo(fragmenting(), fragmenting())).await;
    }

    #[tokio::test]
    async fn pings_are_answered_both_ways() {
        within("the test", async {
            let (addr, server) =
                blocking_server(|tcp| blocking_serve(tcp, Config::default(), true, false));
            let (mut ws, _) = tokio_connect(addr, "/", Config::default())
                .await
                .expect("client handshake");
            // The core answers the server's ping before handing it out.
            assert_eq!(
                ws.recv().await.expect("a ping").expect("client recv"),
                Message::Ping(Bytes::from_static(b"from server"))
            );
            ws.send(Message::Ping(Bytes::from_static(b"from client")))
                .await
                .expect("client ping");
            assert_eq!(
                ws.recv().await.expect("a pong").expect("client recv"),
                Message::Pong(Bytes::from_static(b"from client"))
            );
            ws.close(CloseCode::NORMAL, "").await.expect("client close");
            let seen = server.join().await;
            assert_eq!(
                seen.control,
                [
                    Message::Pong(Bytes::from_static(b"from server")),
                    Message::Ping(Bytes::from_static(b"from client")),
                ]
            );
        })
        .await;
    }

    #[tokio::test]
    async fn the_server_closes_with_4000_and_a_reason() {
        within("the test", async {
            let (addr, server) =
                blocking_server(|tcp| blocking_serve(tcp, Config::default(), false, true));
            let (mut ws, _) = tokio_connect(addr, "/", Config::default())
                .await
                .expect("client handshake");
            assert_eq!(
                ws.recv().await.expect("a message").expect("client recv"),
                Message::text("last words")
            );
            let close = ws.recv().await.expect("a close").expect("client recv");
            assert_eq!(close_of(&close), Some((CLOSE_CODE, SERVER_REASON)));
            assert!(ws.recv().await.is_none(), "the stream ends after the close");
            let seen = server.join().await;
            // The client's core echoes the code (RFC 6455 section 5.5.1).
            assert_eq!(seen.close.map(|frame| frame.code), Some(CLOSE_CODE));
        })
        .await;
    }

    #[tokio::test]
    async fn a_403_from_the_callback_reaches_the_client() {
        within("the test", async {
            let (addr, server) = blocking_server(|tcp| {
                let mut path = None;
                let result = ws_blocking::accept_with(tcp, Config::default(), |request| {
                    path = Some(request.path().to_owned());
                    ServerResponse::reject(403, "members only")
                });
                (path, result.map(drop))
            });
            let err = tokio_connect(addr, "/private", Config::default())
                .await
                .map(drop)
                .expect_err("a refusal");
            assert_eq!(err.status(), Some(403), "{err}");
            match &err {
                ws_tokio::Error::Handshake(HandshakeError::Response(ResponseError::Rejected(
                    rejection,
                ))) => {
                    assert_eq!(rejection.status, 403);
                    assert_eq!(rejection.body, b"members only");
                }
                other => panic!("expected a 403 rejection, got {other:?}"),
            }
            let (path, result) = server.join().await;
            assert_eq!(path.as_deref(), Some("/private"));
            let server_err = result.expect_err("the server refused");
            assert!(
                matches!(
                    server_err,
                    ws_blocking::Error::Handshake(HandshakeError::Refused { status: 403 })
                ),
                "{server_err:?}"
            );
        })
        .await;
    }
}
