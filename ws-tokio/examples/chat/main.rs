//! A chat room in the browser: one port serves a small page at `/` and a
//! WebSocket endpoint at `/ws`; every message a browser sends is broadcast
//! to every connected browser. Open the page in two tabs and talk.
//!
//! ```text
//! cargo run -p ws-tokio --example chat -- [ADDR]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:8080`. Once listening it prints one line
//! with the page's URL. On Ctrl-C it sends every browser 1001 "going
//! away", waits up to five seconds for the close handshakes and prints one
//! line with what it found. It runs on tokio's multi-threaded runtime; the
//! server itself is in `server.rs`.

mod server;

use std::io::Write;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".to_string());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "chat on http://{}/ (open it in two tabs)",
        listener.local_addr()?
    );
    std::io::stdout().flush()?;
    let ctrl_c = async {
        // Without a signal handler, wait forever (the default action ends
        // the process on Ctrl-C anyway).
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let report = server::serve_until(listener, ctrl_c).await;
    println!(
        "shut down: {} browsers sent 1001, {} closed, {} still open",
        report.members, report.closed, report.still_open
    );
    Ok(())
}
