//! permessage-deflate through `Connection` (the benchmark issue 16 compared
//! before and after the extension trait): chat-like JSON texts, context
//! takeover, level 1 (the defaults), 64 messages an iteration.
//!
//! * `send`: a client compresses, frames and masks (`send_text` then
//!   `poll_transmit` until `None`);
//! * `receive`: a server is fed the wire bytes of 64 compressed messages
//!   and inflates them (`receive` then `poll_event` until `None`);
//! * `echo`: client sends, server inflates and sends the text back
//!   compressed, client inflates it.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ws_proto::{Config, Connection, DeflateConfig, Event, Extensions, Randomness, Role};

mod common;

const COUNT: usize = 64;
const SIZES: [(usize, &str); 3] = [(128, "128B"), (1024, "1KiB"), (16 * 1024, "16KiB")];

fn texts(size: usize) -> Vec<String> {
    (0..16)
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
        .collect()
}

fn pair() -> (Connection, Connection) {
    let agreed = DeflateConfig::default().negotiate(["permessage-deflate"].into_iter());
    assert!(agreed.is_some());
    let config = || Config::default().randomness(Randomness::seeded(3));
    (
        Connection::with_extensions(Role::Client, config(), Extensions::deflate(agreed.clone())),
        Connection::with_extensions(Role::Server, config(), Extensions::deflate(agreed)),
    )
}

fn deflate(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate");
    for (size, name) in SIZES {
        let texts = texts(size);
        group.throughput(Throughput::Bytes((size * COUNT) as u64));

        let (mut client, _) = pair();
        group.bench_function(BenchmarkId::new("send", name), |b| {
            b.iter(|| {
                for i in 0..COUNT {
                    client.send_text(texts[i % texts.len()].as_str()).unwrap();
                }
                while let Some(chunk) = client.poll_transmit() {
                    black_box(chunk);
                }
            })
        });

        let (mut client, mut server) = pair();
        let mut wire = Vec::new();
        for i in 0..COUNT {
            client.send_text(texts[i % texts.len()].as_str()).unwrap();
        }
        while let Some(chunk) = client.poll_transmit() {
            wire.extend_from_slice(&chunk);
        }
        // The replay is valid with context takeover: check twice.
        for _ in 0..2 {
            server.receive(&wire);
            let mut n = 0;
            while let Some(event) = server.poll_event().unwrap() {
                match event {
                    Event::Text(t) => assert_eq!(&*t, texts[n % texts.len()].as_str()),
                    other => panic!("{other:?}"),
                }
                n += 1;
            }
            assert_eq!(n, COUNT);
        }
        group.bench_function(BenchmarkId::new("receive", name), |b| {
            b.iter(|| {
                server.receive(&wire);
                let mut n = 0;
                while let Some(event) = server.poll_event().unwrap() {
                    black_box(event);
                    n += 1;
                }
                assert_eq!(n, COUNT);
            })
        });

        let (mut client, mut server) = pair();
        group.bench_function(BenchmarkId::new("echo", name), |b| {
            b.iter(|| {
                for i in 0..COUNT {
                    client.send_text(texts[i % texts.len()].as_str()).unwrap();
                }
                while let Some(chunk) = client.poll_transmit() {
                    server.receive(&chunk);
                }
                while let Some(event) = server.poll_event().unwrap() {
                    if let Event::Text(t) = event {
                        server.send_text(t).unwrap();
                    }
                }
                while let Some(chunk) = server.poll_transmit() {
                    client.receive(&chunk);
                }
                let mut n = 0;
                while let Some(event) = client.poll_event().unwrap() {
                    black_box(event);
                    n += 1;
                }
                assert_eq!(n, COUNT);
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = deflate
}
criterion_main!(benches);
