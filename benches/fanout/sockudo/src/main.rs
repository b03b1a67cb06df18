//! A fan-out (chat-room) server on `sockudo-ws` (optional peer): a tokio
//! current-thread runtime, a task per connection, the library's `PubSub`
//! (uWebSockets/Bun-style topics over unbounded channels); every socket
//! subscribes to one topic and every text or binary message received is
//! published to it with `publish` (the sender included). The opening
//! handshake uses the library's `parse_request` and `build_response`.
//!
//! Its pub/sub example splits the stream and calls `SplitWriter::send` per
//! message, which writes each frame straight to the socket (a syscall per
//! delivery; about 2.5 µs of server CPU per delivery here). A careful user
//! batches instead: one task selects between the stream and the channel,
//! feeds (the `Sink` corks) everything the channel holds, then flushes
//! once, as the other peers' writers do.
//!
//! ```text
//! fanout-sockudo [ADDR]   # prints "listening on ws://ADDR"
//! ```

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use sockudo_ws::handshake::{build_response, generate_accept_key, parse_request};
use sockudo_ws::pubsub::PubSub;
use sockudo_ws::{Config, Message, WebSocketStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const TOPIC: &str = "room";

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        let mut out = io::stdout();
        writeln!(out, "listening on ws://{}", listener.local_addr()?)?;
        out.flush()?;
        let pubsub = Arc::new(PubSub::new());
        loop {
            match listener.accept().await {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(client(tcp, Arc::clone(&pubsub)));
                }
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
}

async fn client(tcp: TcpStream, pubsub: Arc<PubSub>) {
    let Ok(tcp) = handshake(tcp).await else {
        return;
    };
    let mut ws = WebSocketStream::server(tcp, Config::default());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = pubsub.create_subscriber(tx);
    pubsub.subscribe(id, TOPIC);
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    pubsub.publish(TOPIC, message);
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {} // pings are answered by the library
            },
            Some(message) = rx.recv() => {
                // Cork what the channel holds, then one flush.
                if ws.feed(message).await.is_err() {
                    break;
                }
                let mut failed = false;
                while let Ok(message) = rx.try_recv() {
                    if ws.feed(message).await.is_err() {
                        failed = true;
                        break;
                    }
                }
                if failed || ws.flush().await.is_err() {
                    break;
                }
            }
        }
    }
    pubsub.remove_subscriber(id);
}

/// Reads the request and answers 101. The client sends nothing before the
/// answer, so no frame bytes can be lost here.
async fn handshake(mut tcp: TcpStream) -> io::Result<TcpStream> {
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if tcp.read_buf(&mut buf).await? == 0 || buf.len() > 16 * 1024 {
            return Err(io::ErrorKind::InvalidData.into());
        }
        if let Some((request, _)) = parse_request(&buf).map_err(io::Error::other)? {
            let response = build_response(&generate_accept_key(request.key), None, None);
            tcp.write_all(&response).await?;
            return Ok(tcp);
        }
    }
}
