//! An echo server: every text and binary message comes back; pings are
//! answered and closes replied to by the core. It is the server the
//! Autobahn test suite runs against.
//!
//! ```text
//! cargo run --release -p ws-tokio --example echo-server -- [ADDR]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:9001`. Once listening it prints one line,
//! `listening on ws://ADDR`, on standard output. It runs on tokio's
//! multi-threaded runtime (one worker per core), one task per connection,
//! with the default limits (16 MiB frames, 64 MiB messages).
//!
//! On Ctrl-C it stops accepting, sends every connection 1001 "going away",
//! waits up to five seconds for the close handshakes, prints what it found
//! on standard error and exits. The connections are kept in a
//! [`Group`] for that, as a registry only: nothing is ever published to
//! it, so echoing is untouched.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use ws_tokio::broadcast::Group;
use ws_tokio::{accept, Message, WebSocketStream};

/// How long Ctrl-C waits for the close handshakes.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let listener = bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    // Every open connection, for the shutdown.
    let connections: Group<TcpStream> = Group::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut ctrl_c => break,
        };
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: wait a moment.
                eprintln!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        // `accept` takes the transport at once and returns a single box,
        // so the task's own future (what every idle connection keeps) stays
        // small; see `echo` for the rest. The handshake, the join and the
        // error report go in a second box, freed once the connection is
        // open: what the task keeps across the echo loop is that loop, the
        // membership and one pointer (120 bytes; capturing `peer` and the
        // group in the task itself would make it 168, past the 128 that
        // keeps tokio's task cell at 256).
        let handshake = accept(tcp);
        let connections = connections.clone();
        let opened = Box::pin(async move {
            match handshake.await {
                Ok(ws) => {
                    let membership = connections.join(&ws);
                    Some((ws, membership))
                }
                Err(err) => {
                    eprintln!("{peer}: {err}");
                    None
                }
            }
        });
        tokio::spawn(async move {
            let Some((ws, membership)) = opened.await else {
                return;
            };
            echo(ws).await;
            // Leaves the registry once the connection has ended.
            drop(membership);
        });
    }
    drop(listener);
    let report = connections.shutdown(SHUTDOWN_TIMEOUT).await;
    eprintln!(
        "shut down: {} connections sent 1001, {} closed, {} still open",
        report.members, report.closed, report.still_open
    );
    Ok(())
}

/// Binds with a deep accept backlog (`TcpListener::bind` uses 128).
async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let addr: SocketAddr = tokio::net::lookup_host(addr)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr} resolves to nothing")))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Echoes until the stream ends; reading on after the close message lets the
/// driver finish the close handshake and close TCP.
///
/// Written so that little lives across an `.await` (the future of this
/// function is what every idle connection keeps): the match moves the
/// message out of the received item whole, so the task holds it once, in
/// the send future. (Binding the item first, or calling a method on the
/// message before sending it, makes the compiler keep each copy in the
/// future: about 240 bytes instead of 80.)
async fn echo(mut ws: WebSocketStream<TcpStream>) {
    loop {
        let message = match ws.recv().await {
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
            // Pings are answered and closes replied to by the core. After a
            // protocol error the core has queued the close frame; the
            // stream ends once it is written.
            Some(_) => continue,
            None => break,
        };
        if ws.send(message).await.is_err() {
            break;
        }
    }
}
