//! An echo server, one thread per connection: every text and binary message
//! goes back unchanged; pings and the close handshake are the core's.
//!
//! ```text
//! cargo run --release -p ws-blocking --example echo-server -- 127.0.0.1:9001
//! ```
//!
//! Prints one line once listening. The default limits (16 MiB frames, 64 MiB
//! messages) cover the Autobahn test suite's largest cases.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;

use ws_blocking::{accept, Error, Message};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let listener = TcpListener::bind(&addr)?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on ws://{}", listener.local_addr()?)?;
    stdout.flush()?;
    for tcp in listener.incoming() {
        match tcp {
            Ok(tcp) => {
                thread::spawn(move || {
                    if let Err(err) = serve(tcp) {
                        eprintln!("connection ended: {err}");
                    }
                });
            }
            Err(err) => eprintln!("accept failed: {err}"),
        }
    }
    Ok(())
}

fn serve(tcp: TcpStream) -> Result<(), Error> {
    tcp.set_nodelay(true)?;
    let mut ws = accept(tcp)?;
    loop {
        match ws.read()? {
            msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg)?,
            // The reply is sent and TCP shut down by the time it arrives here.
            Message::Close(_) => return Ok(()),
            _ => {}
        }
    }
}
