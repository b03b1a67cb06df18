//! Loopback helpers shared by the test files: every wait is bounded.

#![allow(dead_code, unreachable_pub)]

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ws_blocking::{accept, CloseFrame, Error, Message};

/// The longest any single test step may block.
pub const LIMIT: Duration = Duration::from_secs(10);

/// A listener on 127.0.0.1 with an ephemeral port.
pub fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    (listener, addr)
}

/// Accepts one connection within [`LIMIT`], with read and write timeouts set.
pub fn accept_tcp(listener: &TcpListener) -> io::Result<TcpStream> {
    listener.set_nonblocking(true)?;
    let start = Instant::now();
    loop {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false)?;
                bound(&tcp)?;
                return Ok(tcp);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && start.elapsed() < LIMIT => {
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Read and write timeouts of [`LIMIT`], so no test can hang.
pub fn bound(tcp: &TcpStream) -> io::Result<()> {
    tcp.set_read_timeout(Some(LIMIT))?;
    tcp.set_write_timeout(Some(LIMIT))
}

/// A server thread handling one connection with `handler`; returns the
/// `ws://` base URL and the thread to join.
pub fn serve_one<T, F>(handler: F) -> (String, JoinHandle<T>)
where
    T: Send + 'static,
    F: FnOnce(TcpStream) -> T + Send + 'static,
{
    let (listener, addr) = listener();
    let handle = thread::spawn(move || {
        let tcp = accept_tcp(&listener).expect("a client within the time limit");
        handler(tcp)
    });
    (format!("ws://{addr}"), handle)
}

/// Echoes text and binary messages until the peer's close, which it returns.
pub fn echo(tcp: TcpStream) -> Result<CloseFrame, Error> {
    let mut ws = accept(tcp)?;
    echo_until_close(&mut ws)
}

/// The echo loop over an accepted connection.
pub fn echo_until_close<S: ws_blocking::Transport>(
    ws: &mut ws_blocking::WebSocket<S>,
) -> Result<CloseFrame, Error> {
    loop {
        match ws.read()? {
            msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
            Message::Close(frame) => return Ok(frame),
            _ => {}
        }
    }
}

/// Reads until the peer's close frame, skipping other messages (bounded).
pub fn read_until_close<S: ws_blocking::Transport>(
    ws: &mut ws_blocking::WebSocket<S>,
) -> Result<CloseFrame, Error> {
    for _ in 0..1000 {
        if let Message::Close(frame) = ws.read()? {
            return Ok(frame);
        }
    }
    panic!("no close frame within 1000 messages");
}
