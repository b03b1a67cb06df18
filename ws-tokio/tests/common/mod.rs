//! Helpers shared by the loopback tests.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use ws_tokio::{accept, Message, WebSocketStream};

/// Every test step is bounded by this.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(LIMIT, future)
        .await
        .expect("test step timed out")
}

/// A listener on a free loopback port, with a backlog deep enough for a
/// burst of connections (`TcpListener::bind` uses 128).
pub async fn listener() -> (TcpListener, SocketAddr) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let listener = socket.listen(1024).expect("listen");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// Echoes text and binary messages until the connection ends.
pub async fn echo<S>(mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(Ok(message)) = ws.recv().await {
        if message.is_data() && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// An echo server on a free port; abort the handle to stop it.
pub async fn echo_server() -> (SocketAddr, AbortOnDrop) {
    let (listener, addr) = listener().await;
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                if let Ok(ws) = accept(tcp).await {
                    echo(ws).await;
                }
            });
        }
    });
    (addr, AbortOnDrop(task))
}

/// A spawned task that is aborted when this guard is dropped.
pub struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Accepts one TCP connection.
pub async fn accept_tcp(listener: &TcpListener) -> TcpStream {
    listener.accept().await.expect("accept").0
}

/// The close code and reason of a close message.
pub fn close_of(message: &Message) -> Option<(u16, String)> {
    match message {
        Message::Close(frame) => Some((frame.code.0, frame.reason.to_string())),
        _ => None,
    }
}
