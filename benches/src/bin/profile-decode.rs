//! A small, deterministic driver of `ws-proto`'s server hot path, for
//! `valgrind --tool=callgrind` (criterion's timing loop would drown the
//! profile):
//!
//! ```text
//! profile-decode [decode|echo] [SIZE] [FRAMES] [ROUNDS]
//! ```
//!
//! * `decode` (default): a server `Connection` is fed a buffer of `FRAMES`
//!   masked binary frames of `SIZE` bytes, `ROUNDS` times, and every event
//!   is drained (what `Connection::receive` + `poll_event` cost).
//! * `echo`: the same, and every message is sent back with `send_binary`
//!   and the transmit queue drained, as an echo server's core does.
//!
//! Defaults: `decode 20 1000 200`.

use std::hint::black_box;

use ws_benches::wire;
use ws_proto::{Config, Connection, Event, Role};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "decode".into());
    let mut num = |default: usize| {
        args.next()
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let (size, frames, rounds) = (num(20), num(1000), num(200));
    let echo = match mode.as_str() {
        "decode" => false,
        "echo" => true,
        other => {
            eprintln!("unknown mode {other:?}: decode or echo");
            std::process::exit(2);
        }
    };
    let wire = wire::client_frames(&wire::payload(size, 1), frames, false);
    let mut server = Connection::new(Role::Server, Config::default());
    let mut messages = 0usize;
    let mut sent = 0usize;
    for _ in 0..rounds {
        server.receive(&wire);
        while let Ok(Some(event)) = server.poll_event() {
            if let Event::Binary(data) = event {
                messages += 1;
                if echo {
                    server.send_binary(data).expect("open");
                    let n: usize = server.transmit_slices().map(|s| black_box(s).len()).sum();
                    server.advance_transmit(n);
                    sent += n;
                } else {
                    black_box(data);
                }
            }
        }
    }
    println!("{mode}: {messages} messages of {size} B, {sent} bytes sent");
}
