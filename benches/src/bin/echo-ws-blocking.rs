//! An echo server on `ws-blocking` (ours), one OS thread per connection
//! (the model that crate is built for), default config.
//!
//! ```text
//! echo-ws-blocking [ADDR]   # prints "listening on ws://ADDR"
//! ```

use std::net::{TcpListener, TcpStream};
use std::thread;

use ws_benches::serve;
use ws_blocking::Message;

fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(serve::listen_addr())?;
    serve::announce(listener.local_addr()?);
    for tcp in listener.incoming() {
        match tcp {
            Ok(tcp) => {
                // Default stacks, as in ws-blocking's own example; only the
                // touched pages count towards the resident set.
                if let Err(err) = thread::Builder::new().spawn(move || echo(tcp)) {
                    eprintln!("spawn failed: {err}");
                }
            }
            Err(err) => eprintln!("accept failed: {err}"),
        }
    }
    Ok(())
}

fn echo(tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let Ok(mut ws) = ws_blocking::accept(tcp) else {
        return;
    };
    while let Ok(message) = ws.read() {
        let stop = match message {
            msg @ (Message::Text(_) | Message::Binary(_)) => ws.send(msg).is_err(),
            Message::Close(_) => true,
            _ => false,
        };
        if stop {
            return;
        }
    }
}
