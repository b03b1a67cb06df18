//! An echo server on `fastwebsockets` (peer) with a tokio current-thread
//! runtime, one task per connection.
//!
//! fastwebsockets leaves the opening handshake to hyper (its `upgrade`
//! feature) or to the caller; this server does it by hand with `httparse`
//! (read the request, answer 101 with the accept key) and then runs
//! `WebSocket::after_handshake` wrapped in a `FragmentCollector`, so it
//! reassembles fragmented messages like the other servers. Automatic pongs
//! and close replies are on (the defaults).
//!
//! ```text
//! echo-fastwebsockets [ADDR]   # prints "listening on ws://ADDR"
//! ```

use std::io;

use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_benches::serve;

fn main() -> io::Result<()> {
    serve::runtime()?.block_on(serve::serve(|mut tcp| async move {
        if upgrade(&mut tcp).await.is_err() {
            return;
        }
        let mut ws = FragmentCollector::new(WebSocket::after_handshake(tcp, Role::Server));
        loop {
            let Ok(frame) = ws.read_frame().await else {
                break;
            };
            let echo = match frame.opcode {
                OpCode::Text | OpCode::Binary => ws.write_frame(frame).await.is_ok(),
                OpCode::Close => false,
                _ => true,
            };
            if !echo {
                break;
            }
        }
    }))
}

/// Reads the request and answers 101. The client sends nothing before the
/// answer, so no frame bytes can be lost here.
async fn upgrade(tcp: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let key = loop {
        let n = tcp.read(&mut chunk).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Err(io::ErrorKind::InvalidData.into());
        }
        head.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&head) {
            Ok(httparse::Status::Complete(used)) if used == head.len() => {
                let key = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
                    .ok_or(io::ErrorKind::InvalidData)?;
                break key.value.to_vec();
            }
            Ok(httparse::Status::Partial) => continue,
            _ => return Err(io::ErrorKind::InvalidData.into()),
        }
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        ws_proto::handshake::accept_key(&key)
    );
    tcp.write_all(response.as_bytes()).await
}
