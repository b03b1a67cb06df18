//! An echo server on `ws-tokio` (ours) with a tokio current-thread runtime,
//! one task per connection, default [`Config`](ws_tokio::Config) (so
//! permessage-deflate is accepted when a client offers it; the load
//! generator does not offer it unless asked).
//!
//! ```text
//! echo-ws-tokio [ADDR]   # prints "listening on ws://ADDR"
//! ```

use ws_benches::serve;

fn main() -> std::io::Result<()> {
    serve::runtime()?.block_on(serve::serve(|tcp| async move {
        let Ok(mut ws) = ws_tokio::accept(tcp).await else {
            return;
        };
        // Pings are answered and closes replied to by the core; after an
        // error the stream writes the close frame and ends.
        while let Some(item) = ws.recv().await {
            let Ok(message) = item else { continue };
            if message.is_data() && ws.send(message).await.is_err() {
                break;
            }
        }
    }))
}
