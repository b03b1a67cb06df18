//! An echo server on one thread and one io_uring: every text and binary
//! message comes back; pings are answered and closes replied to by the
//! core. It is the server the Autobahn test suite and the benchmark run
//! against.
//!
//! ```text
//! cargo run --release -p ws-uring --example echo-server -- [ADDR]
//! ```
//!
//! `ADDR` defaults to `127.0.0.1:9001`. Once listening it prints one line,
//! `listening on ws://ADDR`, on standard output. Default limits (16 MiB
//! frames, 64 MiB messages). On a machine without io_uring it says why and
//! exits with status 2.

use std::io::Write;
use std::process::ExitCode;

use ws_uring::{Config, Event, Flow, Message, Runtime, RuntimeEvent};

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let mut rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    match serve(&mut rt, &addr) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}

fn serve(rt: &mut Runtime, addr: &str) -> Result<(), Box<dyn std::error::Error>> {
    let listener = rt.bind(addr, Config::default())?;
    let local = rt.local_addr(listener)?;
    println!("listening on ws://{local}");
    std::io::stdout().flush()?;
    loop {
        // Each message is answered as it is decoded, before the core reads
        // on: one that came just before a protocol error is still echoed.
        rt.turn_with(None, |rt, notice| {
            if let RuntimeEvent::Event { conn, event } = notice {
                // A connection that has gone refuses the send: nothing to do.
                let _ = match event {
                    Event::Request(request) => rt.respond(conn, request.accept()),
                    Event::Text(text) => rt.send(conn, Message::Text(text)),
                    Event::Binary(data) => rt.send(conn, Message::Binary(data)),
                    // Pings are answered and closes replied to by the core.
                    _ => Ok(()),
                };
            }
            Flow::Continue
        })?;
    }
}
