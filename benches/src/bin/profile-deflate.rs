//! A deterministic driver of permessage-deflate through `Connection`, for
//! `valgrind --tool=callgrind` or plain timing: a client compresses
//! `MESSAGES` chat-like JSON messages of about `SIZE` bytes
//! (`send_text`), a server inflates them (`poll_event`).
//!
//! ```text
//! profile-deflate [SIZE] [MESSAGES]
//! ```
//!
//! Defaults: `1000 20000`. Prints the bytes before and after compression
//! and the wall time (for timing runs outside valgrind).

use std::hint::black_box;
use std::time::Instant;

use ws_proto::{Config, Connection, DeflateConfig, Event, Extensions, Randomness, Role};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut num = |default: usize| {
        args.next()
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let (size, messages) = (num(1000), num(20000));
    let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    let config = || Config::default().randomness(Randomness::seeded(3));
    let mut client =
        Connection::with_extensions(Role::Client, config(), Extensions::deflate(agreed.clone()));
    let mut server =
        Connection::with_extensions(Role::Server, config(), Extensions::deflate(agreed));
    let texts: Vec<String> = (0..16)
        .map(|i| {
            let mut s = String::new();
            while s.len() < size {
                s.push_str(&format!(
                    "{{\"user\":\"user{i}\",\"room\":\"general\",\"seq\":{},\"text\":\"hello there, how are you today?\"}}",
                    s.len()
                ));
            }
            s.truncate(size);
            s
        })
        .collect();
    let (mut wire_bytes, mut got) = (0usize, 0usize);
    let start = Instant::now();
    for i in 0..messages {
        client
            .send_text(texts[i % texts.len()].as_str())
            .expect("open");
        while let Some(chunk) = client.poll_transmit() {
            wire_bytes += chunk.len();
            server.receive(&chunk);
        }
        while let Ok(Some(event)) = server.poll_event() {
            if let Event::Text(text) = event {
                got += black_box(text).len();
            }
        }
    }
    let took = start.elapsed();
    println!(
        "{messages} messages, {got} bytes inflated from {wire_bytes} on the wire, {:.1} us a message",
        took.as_secs_f64() * 1e6 / messages as f64
    );
}
