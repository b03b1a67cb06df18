//! The chat server: the page and the WebSocket endpoint on one port.
//!
//! Each connection's request head is read here first: `GET /` without an
//! `Upgrade` header gets the page, `/ws` is handed (with the bytes already
//! read) to [`accept_with_prefix`], anything else gets 404. Every text
//! message a browser sends is broadcast to every connected browser through
//! a `tokio::sync::broadcast` channel; a browser too slow to keep up skips
//! what it missed instead of making the server buffer it.
//!
//! This file is also compiled into `tests/chat.rs`.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use ws_tokio::ws_proto::Utf8Bytes;
use ws_tokio::{accept_with_prefix, Config, Message, Request, ServerResponse};

/// The page, served at `/`.
pub(crate) const PAGE: &str = include_str!("index.html");
/// The longest request head read before answering 431.
const MAX_HEAD: usize = 16 * 1024;
/// How long a connection may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Chat lines are short: larger messages fail the connection with 1009.
const MAX_MESSAGE: usize = 16 * 1024;
/// Messages kept for browsers that fall behind before they skip some.
const BACKLOG: usize = 256;

/// What every connection shares.
struct Hub {
    messages: broadcast::Sender<Utf8Bytes>,
    online: AtomicUsize,
}

impl Hub {
    /// A presence notice, as the page expects it.
    fn announce(&self, what: &str) {
        let online = self.online.load(Ordering::Relaxed);
        let notice = format!(r#"{{"system":"{what}","online":{online}}}"#);
        // No receiver (nobody connected) is fine.
        let _ = self.messages.send(notice.into());
    }
}

/// Serves the chat on `listener` until the task is dropped.
pub(crate) async fn serve(listener: TcpListener) {
    let hub = Arc::new(Hub {
        messages: broadcast::channel(BACKLOG).0,
        online: AtomicUsize::new(0),
    });
    loop {
        let (tcp, peer) = match listener.accept().await {
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

/// One browser: its messages go to the hub, the hub's messages go to it.
async fn chat(
    tcp: TcpStream,
    head: &[u8],
    hub: Arc<Hub>,
) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::default()
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE);
    let ws = accept_with_prefix(tcp, head, config, check_origin).await?;
    let (mut reader, mut writer) = ws.split();

    let mut inbox = hub.messages.subscribe();
    let forward = tokio::spawn(async move {
        loop {
            match inbox.recv().await {
                Ok(text) => {
                    if writer.send(Message::Text(text)).await.is_err() {
                        break;
                    }
                }
                // Too slow: skip what was missed.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    hub.online.fetch_add(1, Ordering::Relaxed);
    hub.announce("someone joined");

    // Reading also answers pings and finishes the close handshake.
    while let Some(Ok(message)) = reader.recv().await {
        if let Message::Text(text) = message {
            let _ = hub.messages.send(text);
        }
    }

    forward.abort();
    hub.online.fetch_sub(1, Ordering::Relaxed);
    hub.announce("someone left");
    Ok(())
}
