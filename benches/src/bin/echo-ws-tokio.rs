//! An echo server on `ws-tokio` (ours) with a tokio current-thread runtime,
//! one task per connection, default [`Config`](ws_tokio::Config) (so
//! permessage-deflate is accepted when a client offers it; the load
//! generator does not offer it unless asked).
//!
//! ```text
//! echo-ws-tokio [ADDR]   # prints "listening on ws://ADDR"
//! ```
//!
//! The task has the shape ws-tokio's docs recommend ("Memory per
//! connection"): `accept` is called before spawning (its future is one
//! box) and the message is moved out of the received item in one match, so
//! the task's future fits tokio's smallest task cell. Answers are fed, not
//! sent: `recv` writes them before it reads again, one write per read.

use futures_util::SinkExt;
use ws_benches::serve;
use ws_tokio::Message;

fn main() -> std::io::Result<()> {
    serve::runtime()?.block_on(serve::serve(|tcp| {
        let handshake = ws_tokio::accept(tcp);
        async move {
            let Ok(mut ws) = handshake.await else {
                return;
            };
            loop {
                let message = match ws.recv().await {
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
                    // Pings are answered and closes replied to by the core;
                    // after an error the stream writes the close frame and
                    // ends.
                    Some(_) => continue,
                    None => break,
                };
                // `feed`: queued, and written (with every other answer to
                // the same read) before `recv` next reads.
                if ws.feed(message).await.is_err() {
                    break;
                }
            }
        }
    }))
}
