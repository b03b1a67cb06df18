//! The chat server: the page and the WebSocket endpoint on one port.
//!
//! An axum router serves the page at `/`, the WebSocket endpoint at `/ws`
//! (ws-tokio's axum extractor: the core checks the request and answers a
//! bad one with its status) and 404 for anything else. hyper's HTTP/1.1
//! server runs each connection, with a 16 KiB limit on the request head
//! (431 beyond) and 10 s to send it. A page from another site gets 403 at
//! `/ws`. Every browser joins one [`Group`], the room; every text message a
//! browser sends is prepared once ([`PreparedMessage`]) and published to
//! the room, which writes each browser once per round of messages. A
//! browser too slow to keep up skips what does not fit in its queue (1 MiB)
//! instead of making the server buffer it. The server asks browsers for
//! `server_no_context_takeover`, so a long message is compressed once for
//! the whole room rather than once per browser; lines under 1 KiB, which
//! would gain almost nothing, are not compressed.
//!
//! This file is also compiled into `tests/chat.rs`.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use ws_tokio::axum::{WebSocket, WebSocketUpgrade};
use ws_tokio::broadcast::{Group, ShutdownReport};
use ws_tokio::upgrade::UpgradedIo;
use ws_tokio::ws_proto::{DeflateConfig, QueueLimit, WhenFull};
use ws_tokio::{Config, Message, PreparedMessage, Request};

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
    room: Group<UpgradedIo>,
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
    let app = router(Arc::clone(&hub));
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
        let _ = tcp.set_nodelay(true);
        let connection = http1::Builder::new()
            .max_buf_size(MAX_HEAD)
            .timer(TokioTimer::new())
            .header_read_timeout(HEAD_TIMEOUT)
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app.clone()))
            .with_upgrades();
        tokio::spawn(async move {
            match connection.await {
                // A silent client, or an idle keep-alive one, timed out.
                Err(err) if !err.is_timeout() => eprintln!("{peer}: {err}"),
                _ => {}
            }
        });
    }
    // No new connections; one still on its way to the room is sent 1001 at
    // once.
    drop(listener);
    hub.room.shutdown(SHUTDOWN_TIMEOUT).await
}

/// The routes: the page, the WebSocket endpoint, 404 for the rest.
fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/ws", any(chat_endpoint))
        .fallback(not_found)
        .with_state(hub)
}

async fn page() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-cache"),
    ];
    (headers, PAGE).into_response()
}

async fn not_found() -> Response {
    let headers = [(header::CONTENT_TYPE, "text/plain")];
    (StatusCode::NOT_FOUND, headers, "not found\n").into_response()
}

/// Browsers send `Origin`; refuse pages from other sites (cross-site
/// WebSocket hijacking), accept everything else.
fn same_site(request: &Request) -> bool {
    match (request.origin(), request.header("host")) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, origin_host)| origin_host.eq_ignore_ascii_case(host)),
        // Not a browser: no page to protect.
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// `/ws`: a request that is not a valid upgrade never gets here (the
/// extractor answers it with the core's status: 400, 405, 426).
async fn chat_endpoint(ws: WebSocketUpgrade, State(hub): State<Arc<Hub>>) -> Response {
    if !same_site(ws.request()) {
        let refusal = "cross-site WebSocket requests are not allowed\n";
        return (StatusCode::FORBIDDEN, refusal).into_response();
    }
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
    ws.config(config).on_upgrade(move |ws| chat(ws, hub))
}

/// One browser: a member of the room, its messages published to the room.
async fn chat(mut ws: WebSocket, hub: Arc<Hub>) {
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
}
