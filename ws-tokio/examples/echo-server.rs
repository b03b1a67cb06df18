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

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use ws_tokio::{accept, WebSocketStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let listener = bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: wait a moment.
                eprintln!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            match accept(tcp).await {
                Ok(ws) => echo(ws).await,
                Err(err) => eprintln!("{peer}: {err}"),
            }
        });
    }
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
async fn echo(mut ws: WebSocketStream<TcpStream>) {
    while let Some(item) = ws.recv().await {
        match item {
            Ok(message) if message.is_data() => {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
            // Pings, pongs and the close message: nothing to do.
            Ok(_) => {}
            // A protocol error: the core queued the close frame; the stream
            // ends after it is written.
            Err(_) => {}
        }
    }
}
