//! A WebSocket reverse proxy: accepts WebSocket clients and, for each, opens
//! a connection to one backend, then passes frames both ways as they arrive.
//!
//! ```text
//! cargo run --release -p ws-tokio --example proxy -- LISTEN_ADDR BACKEND_URL
//! cargo run --release -p ws-tokio --example proxy -- 127.0.0.1:9003 ws://127.0.0.1:9001/
//! ```
//!
//! Once listening it prints one line, `listening on ws://LISTEN_ADDR`, on
//! standard output. Each client is served by [`ws_tokio::proxy`]:
//!
//! * The handshake decisions are the core's ([`Relay`]): the backend gets
//!   the client's path and query (after `BACKEND_URL`'s own path), its
//!   subprotocols, its permessage-deflate offers as written and its
//!   end-to-end headers with `X-Forwarded-For`; the client gets the
//!   backend's subprotocol, extension answer and headers. A backend that
//!   refuses passes its status on; one that cannot be reached gets the
//!   client a 502 (504 when it does not answer in time).
//! * The data path is [`ws_tokio::relay`]: both connections deliver frames
//!   in pieces of at most [`CHUNK`] bytes and answer neither pings nor
//!   closes themselves, so messages are never reassembled (a 100 MiB message
//!   passes in a few hundred KiB), compressed frames pass compressed, and
//!   the ping/pong and close handshakes run between client and backend.
//!   When one side ends without a close frame to pass on, the other gets
//!   1001 (or 1014 when the backend broke the protocol).
//! * The proxy checks the protocol's rules on both legs (masking, reserved
//!   bits, control frames, close codes, UTF-8 of uncompressed text) but has
//!   no size limit of its own: the backend's limits apply.
//!
//! One task per relayed pair on tokio's multi-threaded runtime; Ctrl-C
//! stops accepting and exits.

use std::io::Write;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::net::TcpListener;
use ws_tokio::ws_proto::handshake::Relay;
use ws_tokio::{proxy, ClientRequest, Config};

/// The largest piece of a frame held at once, per direction.
const CHUNK: usize = 64 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(backend)) = (args.next(), args.next()) else {
        eprintln!(
            "usage: proxy LISTEN_ADDR BACKEND_URL   (e.g. 127.0.0.1:9003 ws://127.0.0.1:9001/)"
        );
        std::process::exit(2);
    };
    // Checked once, so that a typo fails here rather than for every client.
    ClientRequest::from_url(&backend)?;
    let listener = TcpListener::bind(&listen).await?;
    println!("listening on ws://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let rules = Relay::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut ctrl_c => return Ok(()),
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
        // Made here and mapped rather than awaited in an `async` block
        // (which would hold it twice), so that an idle pair's task keeps the
        // relay's state and the address only: its cell stays at 384 bytes.
        let served = proxy(
            tcp,
            Some(peer.ip()),
            &backend,
            &rules,
            Config::default(),
            CHUNK,
        );
        let task = served.map(move |outcome| match outcome {
            Ok(report) if report.to_backend.ended.is_err() || report.to_client.ended.is_err() => {
                eprintln!("{peer}: {report}");
            }
            Ok(_) => {}
            Err(err) => eprintln!("{peer}: {err}"),
        });
        tokio::spawn(task);
    }
}
