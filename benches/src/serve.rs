//! What every echo server shares, so they differ only in the library they
//! echo with: the address argument, the one "listening" line, a tokio
//! current-thread runtime, and the accept loop.

use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// The address to listen on: the first argument, else `127.0.0.1:0` (any
/// free port; the "listening" line tells which).
pub fn listen_addr() -> String {
    std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_string())
}

/// Prints the one line the scripts wait for: `listening on ws://ADDR`.
pub fn announce(addr: SocketAddr) {
    let mut out = io::stdout();
    let _ = writeln!(out, "listening on ws://{addr}");
    let _ = out.flush();
}

/// A tokio current-thread runtime with I/O and timers: the runtime every
/// async echo server uses.
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Binds (tokio's listener uses a backlog of 1024), announces, and serves
/// every connection in its own task with `TCP_NODELAY` set. Per-connection
/// errors are the handler's business; the servers stay quiet so that
/// closing 10,000 connections does not flood the terminal.
pub async fn serve<F, Fut>(handler: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind(listen_addr()).await?;
    announce(listener.local_addr()?);
    loop {
        match listener.accept().await {
            Ok((tcp, _)) => {
                let _ = tcp.set_nodelay(true);
                tokio::spawn(handler(tcp));
            }
            Err(err) => {
                // Out of file descriptors and the like: wait a moment.
                eprintln!("accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
