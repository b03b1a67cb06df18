//! The chat server: the page and the WebSocket endpoint on one port.
//!
//! Each connection's request head is read here first: `GET /` without an
//! `Upgrade` header gets the page, `/ws` is handed (with the bytes already
//! read) to [`accept_with_prefix`], anything else gets 404. Every browser
//! joins one [`Group`], the room; every text message a browser sends is
//! prepared once ([`PreparedMessage`]) and published to the room, which
//! writes each browser once per round of messages. A browser too slow to
//! keep up skips what does not fit in its queue (1 MiB) instead of making
//! the server buffer it. The server asks browsers for
//! `server_no_context_takeover`, so a long message is compressed once for
//! the whole room rather than once per browser; lines under 1 KiB, which
//! would gain almost nothing, are not compressed.
//!
//! This file is also compiled into `tests/chat.rs`.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_tokio::broadcast::{Group, ShutdownReport};
use ws_tokio::ws_proto::{DeflateConfig, QueueLimit, WhenFull};
use ws_tokio::{accept_with_prefix, Config, Message, PreparedMessage, Request, ServerResponse};

/// The page, served at `/`.
pub(crate) const PAGE: &str = include_str!("index.html");
/// The longest request head read before answering 431.
const MAX_HEAD: usize = 16 * 1024;
/// How long a connection may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Chat lines are short: larger messages fail the connection with 1009.
const MAX_MESSAGE: usize = 16 * 1024;
/// How long a shutdown waits for the browsers' close handshakes.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// What may wait for one browser that falls behind (a few hundred chat
/// lines) before it skips messages.
const BACKLOG_BYTES: usize = 1 << 20;

/// What every connection shares.
struct Hub {
    room: Group<TcpStream>,
    online: AtomicUsize,
}

impl Hub {
    /// A presence notice, as the page expects it.
    fn announce(&self, what: &str) {
        let online = self.online.load(Ordering::Relaxed);
        let notice = format!(r#"{{"system":"{what}","online":{online}}}"#);
        self.room.publish(&PreparedMessage::text(notice));
    }
}

/// Serves the chat on `listener` until the task is dropped.
// `main` uses `serve_until`; tests/chat.rs uses this.
#[allow(dead_code)]
pub(crate) async fn serve(listener: TcpListener) {
    serve_until(listener, std::future::pending()).await;
}

/// Serves the chat on `listener` until `shutdown` completes, then sends
/// every browser 1001 "going away" and waits up to `SHUTDOWN_TIMEOUT` for
/// the close handshakes.
pub(crate) async fn serve_until(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> ShutdownReport {
    let hub = Arc::new(Hub {
        room: Group::with_limit(QueueLimit::new(BACKLOG_BYTES, WhenFull::Drop)),
        online: AtomicUsize::new(0),
    });
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                eprintln!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let hub = Arc::clone(&hub);
        tokio::spawn(async move {
            if let Err(err) = handle(tcp, hub).await {
                eprintln!("{peer}: {err}");
            }
        });
    }
    // No new connections; one still reading its request head and joining
    // later is sent 1001 at once.
    drop(listener);
    hub.room.shutdown(SHUTDOWN_TIMEOUT).await
}

/// Routes one connection by its request head.
async fn handle(mut tcp: TcpStream, hub: Arc<Hub>) -> Result<(), Box<dyn std::error::Error>> {
    let _ = tcp.set_nodelay(true);
    let head = match tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut tcp)).await {
        Ok(Ok(Some(head))) => head,
        Ok(Ok(None)) => {
            return respond(
                tcp,
                "431 Request Header Fields Too Large",
                "text/plain",
                "headers too large\n",
            )
            .await
        }
        Ok(Err(err)) => return Err(err.into()),
        Err(_) => return Ok(()), // silent client
    };
    let text = String::from_utf8_lossy(&head);
    let mut request_line = text.lines().next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("");
    let target = request_line.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    let upgrade = text
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .any(|(name, _)| name.trim().eq_ignore_ascii_case("upgrade"));
    match (method, path, upgrade) {
        ("GET", "/", false) => respond(tcp, "200 OK", "text/html; charset=utf-8", PAGE).await,
        (_, "/ws", _) => chat(tcp, &head, hub).await,
        _ => respond(tcp, "404 Not Found", "text/plain", "not found\n").await,
    }
}

/// Reads until the end of the request head; `None` if it is too large.
/// What is read may include bytes after the head: they are passed on.
async fn read_head(tcp: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Ok(None);
        }
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(head))
}

/// Writes a whole plain HTTP response and closes the connection.
async fn respond(
    mut tcp: TcpStream,
    status: &str,
    content_type: &str,
    body: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await?;
    tcp.write_all(body.as_bytes()).await?;
    tcp.shutdown().await?;
    Ok(())
}

/// Browsers send `Origin`; refuse pages from other sites (cross-site
/// WebSocket hijacking), accept everything else.
fn check_origin(request: &Request) -> ServerResponse {
    let same_site = match (request.origin(), request.header("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, origin_host)| origin_host.eq_ignore_ascii_case(host)),
        // Not a browser: no page to protect.
        (None, _) => true,
        (Some(_), None) => false,
    };
    if same_site {
        request.accept()
    } else {
        ServerResponse::reject(403, "cross-site WebSocket requests are not allowed\n")
    }
}

/// One browser: a member of the room, its messages published to the room.
async fn chat(
    tcp: TcpStream,
    head: &[u8],
    hub: Arc<Hub>,
) -> Result<(), Box<dyn std::error::Error>> {
    // A broadcast is compressed once for every browser that takes it
    // without context takeover (RFC 7692 lets the server require that).
    // Without context takeover a short line gains almost nothing (1.02x on
    // 180-byte JSON lines, examples/deflate-ratio.rs in ws-proto), so lines
    // under 1 KiB go uncompressed, one shared frame for the whole room.
    let deflate = DeflateConfig::default()
        .server_no_context_takeover(true)
        .threshold(1024);
    let config = Config::default()
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .deflate(Some(deflate));
    let mut ws = accept_with_prefix(tcp, head, config, check_origin).await?;
    let membership = hub.room.join(&ws);
    hub.online.fetch_add(1, Ordering::Relaxed);
    hub.announce("someone joined");

    // Reading also answers pings and finishes the close handshake (and
    // writes what the room could not write at once to a slow browser).
    while let Some(Ok(message)) = ws.recv().await {
        if let Message::Text(text) = message {
            hub.room.publish(&PreparedMessage::text(text));
        }
    }

    drop(membership);
    hub.online.fetch_sub(1, Ordering::Relaxed);
    hub.announce("someone left");
    Ok(())
}
