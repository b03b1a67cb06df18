//! An echo server on `sockudo-ws` (optional peer) for benches/run.sh, with
//! the same command line, readiness line and shape as the other echo servers
//! (benches/src/bin/echo-*.rs): a tokio current-thread runtime, one task per
//! connection, `TCP_NODELAY`, text and binary messages echoed as received.
//!
//! sockudo-ws's own setup for a server, as its README and examples show it:
//! the handshake by hand with `parse_request`/`build_response`, then
//! `WebSocketStream::server`. Its best write path for echo is the one its
//! `Config::write_coalescing` docs name (on by default): `feed` each reply
//! (it only corks the frame into the write buffer) and let the read path
//! write everything corked out in one vectored write before it waits for
//! more input, so the replies to one read's messages leave in one syscall.
//! `init_clock` is called before the runtime is built, as sockudo-ws asks.
//!
//! Configuration: the defaults (UTF-8 validation of text on, no
//! compression: permessage-deflate is never negotiated here, the answer
//! names no extension) except the heartbeat, which is off (`auto_ping`
//! false, `idle_timeout` 0): none of the other echo servers pings or times
//! out idle connections, and the timers would only add work to sockudo-ws's
//! side of the comparison.
//!
//! ```text
//! echo-sockudo-ws [ADDR]   # prints "listening on ws://ADDR"
//! ```

use std::io::{self, Write};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use sockudo_ws::handshake::{build_response, generate_accept_key, parse_request};
use sockudo_ws::{Config, Message, Role, WebSocketStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    sockudo_ws::init_clock();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        let mut out = io::stdout();
        writeln!(out, "listening on ws://{}", listener.local_addr()?)?;
        out.flush()?;
        let config = Config::builder().auto_ping(false).idle_timeout(0).build();
        loop {
            match listener.accept().await {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(echo(tcp, config.clone()));
                }
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment.
                    eprintln!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
}

async fn echo(tcp: TcpStream, config: Config) {
    let Ok((tcp, leftover)) = handshake(tcp).await else {
        return;
    };
    let mut ws = WebSocketStream::from_raw_with_leftover(tcp, Role::Server, config, leftover);
    loop {
        match ws.next().await {
            Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                // Corked; written out before the stream next waits for input.
                if ws.feed(message).await.is_err() {
                    break;
                }
            }
            // Pings are answered and closes replied to by the library.
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
}

/// Reads the request and answers 101; returns the bytes read past the
/// request (none with the load generator, which waits for the answer).
async fn handshake(mut tcp: TcpStream) -> io::Result<(TcpStream, Option<Bytes>)> {
    let mut buf = BytesMut::with_capacity(2048);
    loop {
        if tcp.read_buf(&mut buf).await? == 0 || buf.len() > 16 * 1024 {
            return Err(io::ErrorKind::InvalidData.into());
        }
        let Some((request, used)) = parse_request(&buf).map_err(io::Error::other)? else {
            continue;
        };
        let answer = build_response(&generate_accept_key(request.key), None, None);
        tcp.write_all(&answer).await?;
        let rest = buf.split_off(used).freeze();
        return Ok((tcp, (!rest.is_empty()).then_some(rest)));
    }
}
