//! Measures permessage-deflate on a text-heavy sample: the compression ratio
//! and the throughput of sending (compress + frame) and receiving (decode +
//! inflate + UTF-8 check) through a client/server pair in memory.
//!
//! `cargo run --release -p ws-proto --example deflate-ratio`

use std::time::Instant;

use ws_proto::{Config, Connection, DeflateConfig, Event, Extensions, Role};

/// Chat-like JSON messages: the text-heavy traffic compression is for.
fn sample(count: usize) -> Vec<String> {
    let words = [
        "hello",
        "world",
        "websocket",
        "message",
        "compression",
        "latency",
        "server",
        "client",
        "deflate",
        "window",
        "context",
        "takeover",
        "frame",
        "stream",
        "browser",
        "proxy",
    ];
    (0..count)
        .map(|i| {
            let text: Vec<&str> = (0..12).map(|j| words[(i * 7 + j * 3) % words.len()]).collect();
            format!(
                r#"{{"id":{i},"room":"general","user":"user{}","ts":{},"text":"{}","tags":["chat","v1"]}}"#,
                i % 50,
                1_700_000_000 + i * 13,
                text.join(" ")
            )
        })
        .collect()
}

fn run(label: &str, deflate: DeflateConfig, messages: &[String]) {
    let agreed = deflate.negotiate(["permessage-deflate; client_max_window_bits"].into_iter());
    let ext = Extensions::deflate(agreed);
    let mut server = Connection::with_extensions(Role::Server, Config::default(), ext.clone());
    let mut client = Connection::with_extensions(Role::Client, Config::default(), ext);
    let raw: usize = messages.iter().map(String::len).sum();

    let start = Instant::now();
    let mut wire = Vec::with_capacity(raw);
    for m in messages {
        server.send_text(m.as_str()).expect("open connection");
        while let Some(chunk) = server.poll_transmit() {
            wire.extend_from_slice(&chunk);
        }
    }
    let send_time = start.elapsed();

    let start = Instant::now();
    client.receive(&wire);
    let mut received = 0;
    while let Ok(Some(event)) = client.poll_event() {
        if let Event::Text(t) = event {
            received += t.len();
        }
    }
    let receive_time = start.elapsed();
    assert_eq!(received, raw, "every byte came back");

    let mb = raw as f64 / 1e6;
    println!(
        "| {label} | {} | {:.1} KB | {:.1} KB | {:.2}x | {:.0} MB/s | {:.0} MB/s |",
        messages.len(),
        raw as f64 / 1e3,
        wire.len() as f64 / 1e3,
        raw as f64 / wire.len() as f64,
        mb / send_time.as_secs_f64(),
        mb / receive_time.as_secs_f64(),
    );
}

fn main() {
    let messages = sample(20_000);
    println!(
        "| setting | messages | text | on the wire | ratio | send (compress) | receive (inflate) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    run(
        "context takeover, level 1 (default)",
        DeflateConfig::default(),
        &messages,
    );
    run(
        "context takeover, level 6",
        DeflateConfig::default().level(6),
        &messages,
    );
    run(
        "no context takeover, level 1",
        DeflateConfig::default()
            .server_no_context_takeover(true)
            .client_no_context_takeover(true),
        &messages,
    );
    run(
        "off (threshold above every message)",
        DeflateConfig::default().threshold(usize::MAX),
        &messages,
    );
}
