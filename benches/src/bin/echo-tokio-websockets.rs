//! An echo server on `tokio-websockets` (peer) with a tokio current-thread
//! runtime, one task per connection, default configuration.
//!
//! ```text
//! echo-tokio-websockets [ADDR]   # prints "listening on ws://ADDR"
//! ```

use futures_util::{SinkExt, StreamExt};
use tokio_websockets::ServerBuilder;
use ws_benches::serve;

fn main() -> std::io::Result<()> {
    serve::runtime()?.block_on(serve::serve(|tcp| async move {
        let Ok((_request, mut ws)) = ServerBuilder::new().accept(tcp).await else {
            return;
        };
        while let Some(Ok(message)) = ws.next().await {
            if message.is_binary() || message.is_text() {
                // `send` writes and flushes, as the other servers do.
                if ws.send(message).await.is_err() {
                    break;
                }
            }
            // Pings are answered and closes replied to by the library.
        }
    }))
}
