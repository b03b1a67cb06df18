//! An echo server on `ws-uring` (ours): one thread, one io_uring, every
//! connection driven by the same `Runtime::turn` (multishot accept,
//! multishot receive into a shared provided buffer ring, one
//! `io_uring_enter` per turn for every connection's sends and receives).
//! Default [`Config`], as the other servers.
//!
//! ```text
//! echo-ws-uring [ADDR]   # prints "listening on ws://ADDR"
//! ```
//!
//! On a kernel that refuses io_uring it prints why and exits with status 2.

use std::process::ExitCode;

#[cfg(not(target_os = "linux"))]
fn main() -> ExitCode {
    eprintln!("echo-ws-uring needs Linux (io_uring)");
    ExitCode::from(2)
}

#[cfg(target_os = "linux")]
use ws_benches::serve;
#[cfg(target_os = "linux")]
use ws_uring::{Config, Event, Flow, Message, Runtime, RuntimeEvent};

#[cfg(target_os = "linux")]
fn main() -> ExitCode {
    let mut rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    if let Err(err) = echo(&mut rt) {
        eprintln!("{err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(target_os = "linux")]
fn echo(rt: &mut Runtime) -> Result<(), ws_uring::Error> {
    let listener = rt.bind(serve::listen_addr(), Config::default())?;
    serve::announce(rt.local_addr(listener)?);
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
