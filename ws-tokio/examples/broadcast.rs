//! A broadcast server: every text or binary message any client sends goes,
//! unchanged, to every connected client, the sender included.
//!
//! ```text
//! cargo run --release -p ws-tokio --example broadcast -- 127.0.0.1:9002
//! ```
//!
//! It accepts WebSocket connections on any path, runs on a current-thread
//! runtime, and prints `listening on ws://ADDR` once it accepts
//! connections. Each message is prepared once (`PreparedMessage`) and
//! published to the group, which writes each client once per round of
//! messages. On Ctrl-C every client is sent 1001 "going away", with up to
//! five seconds for the close handshakes.
//!
//! The per-client queue limit is 16 MiB (then the message is dropped for
//! that client and counted): a round of 1,000 clients each sending 1 KiB
//! queues about 1 MiB per client before the group's write.

use std::time::Duration;

use tokio::net::TcpListener;
use ws_tokio::broadcast::Group;
use ws_tokio::ws_proto::{QueueLimit, WhenFull};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(serve(addr))
}

async fn serve(addr: String) -> std::io::Result<()> {
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    let group = Group::with_limit(QueueLimit::new(16 << 20, WhenFull::Drop));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(err) => {
                    eprintln!("accept: {err}");
                    continue;
                }
            },
            _ = &mut ctrl_c => break,
        };
        let _ = tcp.set_nodelay(true);
        let handshake = ws_tokio::accept(tcp);
        let group = group.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = handshake.await else { return };
            let _membership = group.join(&ws);
            while let Some(Ok(message)) = ws.recv().await {
                // Text and binary are prepared once and published; pings
                // (answered by the core) and the close are given back.
                let _ = group.publish_message(message);
            }
        });
    }
    let report = group.shutdown(Duration::from_secs(5)).await;
    let counts = group.counts();
    println!(
        "shut down: {} clients, {} closed, {} still open; {} delivered, {} dropped",
        report.members, report.closed, report.still_open, counts.queued, counts.dropped
    );
    Ok(())
}
