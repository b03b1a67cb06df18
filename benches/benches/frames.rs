//! Frame-level hot path, in memory: decoding masked frames (server role),
//! encoding frames (server unmasked, client masked), and reassembling a
//! fragmented message; ours against tungstenite and fastwebsockets.
//!
//! What is compared, per iteration of about 1 MiB of payload:
//!
//! * ours: a long-lived `ws_proto::Connection`; decode = `receive(&wire)`
//!   (one copy into the read buffer) and `poll_event_ref` until `None`: each
//!   payload is unmasked in place and lent out as a slice valid until the
//!   next call, the same work as fastwebsockets' borrowed `Frame`, and the
//!   call a performance-minded user makes when the payload is consumed on
//!   the spot. `ours_owned` drains with `poll_event` instead, which hands
//!   each payload out as `Bytes` split off the read buffer (no copy, but a
//!   reference count per message, as tungstenite's `Message` has); encode =
//!   `send_binary(bytes)` and draining `transmit_slices` + `advance_transmit`
//!   after every message, as an adapter does.
//! * tungstenite: a long-lived `WebSocket::from_raw_socket` over an in-memory
//!   stream (reads copy from a prepared buffer, writes are counted and
//!   dropped); decode = `read()` per message; encode = `send()` (write and
//!   flush) per message.
//! * fastwebsockets: `WebSocket::after_handshake` over the same in-memory
//!   stream, polled once per call with a no-op waker (the stream never
//!   waits, so no runtime is involved); decode = `read_frame()`; encode =
//!   `write_frame(Frame::binary(borrowed payload))`; reassembly through its
//!   `FragmentCollector`.
//!
//! Every library copies the input once from the prepared buffer into its
//! own read buffer, so decode numbers compare like with like.

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fastwebsockets::{FragmentCollector, Frame, Payload};
use ws_benches::mem::MemStream;
use ws_benches::{ready, wire};
use ws_proto::{Config, Connection, Event, Role};

mod common;
use common::{frames_per_iter, SIZES};

fn tungstenite_socket(
    role: tungstenite::protocol::Role,
) -> (
    tungstenite::WebSocket<MemStream>,
    ws_benches::mem::MemHandle,
) {
    let (stream, handle) = MemStream::new();
    (
        tungstenite::WebSocket::from_raw_socket(stream, role, None),
        handle,
    )
}

fn fast_socket(
    role: fastwebsockets::Role,
) -> (
    fastwebsockets::WebSocket<MemStream>,
    ws_benches::mem::MemHandle,
) {
    let (stream, handle) = MemStream::new();
    (
        fastwebsockets::WebSocket::after_handshake(stream, role),
        handle,
    )
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (size, name) in SIZES {
        let count = frames_per_iter(size);
        let wire = Bytes::from(wire::client_frames(&wire::payload(size, 1), count, false));
        group.throughput(Throughput::Bytes((size * count) as u64));

        let mut ours = Connection::new(Role::Server, Config::default());
        group.bench_function(BenchmarkId::new("ours", name), |b| {
            b.iter(|| {
                ours.receive(&wire);
                let mut n = 0;
                while let Some(event) = ours.poll_event_ref().expect("valid frames") {
                    black_box(event);
                    n += 1;
                }
                assert_eq!(n, count);
            })
        });

        let mut ours_owned = Connection::new(Role::Server, Config::default());
        group.bench_function(BenchmarkId::new("ours_owned", name), |b| {
            b.iter(|| {
                ours_owned.receive(&wire);
                let mut n = 0;
                while let Some(event) = ours_owned.poll_event().expect("valid frames") {
                    black_box(event);
                    n += 1;
                }
                assert_eq!(n, count);
            })
        });

        let (mut tung, input) = tungstenite_socket(tungstenite::protocol::Role::Server);
        group.bench_function(BenchmarkId::new("tungstenite", name), |b| {
            b.iter(|| {
                input.refill(wire.clone());
                for _ in 0..count {
                    black_box(tung.read().expect("valid frames"));
                }
            })
        });

        let (mut fast, input) = fast_socket(fastwebsockets::Role::Server);
        group.bench_function(BenchmarkId::new("fastwebsockets", name), |b| {
            b.iter(|| {
                input.refill(wire.clone());
                for _ in 0..count {
                    let frame = ready(fast.read_frame()).expect("valid frames");
                    black_box(frame.payload.len());
                }
            })
        });
        assert_eq!(input.unread(), 0);
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    for (role_name, ours_role, tung_role, fast_role) in [
        (
            "encode_server",
            Role::Server,
            tungstenite::protocol::Role::Server,
            fastwebsockets::Role::Server,
        ),
        (
            "encode_client_masked",
            Role::Client,
            tungstenite::protocol::Role::Client,
            fastwebsockets::Role::Client,
        ),
    ] {
        let mut group = c.benchmark_group(role_name);
        for (size, name) in SIZES {
            let count = frames_per_iter(size);
            let payload = Bytes::from(wire::payload(size, 2));
            group.throughput(Throughput::Bytes((size * count) as u64));

            let mut ours = Connection::new(ours_role, Config::default());
            group.bench_function(BenchmarkId::new("ours", name), |b| {
                b.iter(|| {
                    for _ in 0..count {
                        ours.send_binary(payload.clone()).expect("open");
                        let n: usize = ours.transmit_slices().map(|s| black_box(s).len()).sum();
                        ours.advance_transmit(n);
                    }
                })
            });

            let (mut tung, output) = tungstenite_socket(tung_role);
            group.bench_function(BenchmarkId::new("tungstenite", name), |b| {
                b.iter(|| {
                    for _ in 0..count {
                        tung.send(tungstenite::Message::Binary(payload.clone()))
                            .expect("open");
                    }
                })
            });
            assert!(output.take_written() > 0);

            let (mut fast, output) = fast_socket(fast_role);
            group.bench_function(BenchmarkId::new("fastwebsockets", name), |b| {
                b.iter(|| {
                    for _ in 0..count {
                        let frame = Frame::binary(Payload::Borrowed(&payload));
                        ready(fast.write_frame(frame)).expect("open");
                    }
                })
            });
            assert!(output.take_written() > 0);
        }
        group.finish();
    }
}

fn reassembly(c: &mut Criterion) {
    let mut group = c.benchmark_group("reassembly");
    let size = 1 << 20;
    let wire = Bytes::from(wire::fragmented_message(&wire::payload(size, 3), 64 * 1024));
    group.throughput(Throughput::Bytes(size as u64));
    let name = "1MiB_in_64KiB";

    let mut ours = Connection::new(Role::Server, Config::default());
    group.bench_function(BenchmarkId::new("ours", name), |b| {
        b.iter(|| {
            ours.receive(&wire);
            match ours.poll_event() {
                Ok(Some(Event::Binary(data))) => assert_eq!(black_box(data).len(), size),
                other => panic!("{other:?}"),
            }
        })
    });

    let (mut tung, input) = tungstenite_socket(tungstenite::protocol::Role::Server);
    group.bench_function(BenchmarkId::new("tungstenite", name), |b| {
        b.iter(|| {
            input.refill(wire.clone());
            assert_eq!(black_box(tung.read().expect("valid")).len(), size);
        })
    });

    let (stream, input) = MemStream::new();
    let mut fast = FragmentCollector::new(fastwebsockets::WebSocket::after_handshake(
        stream,
        fastwebsockets::Role::Server,
    ));
    group.bench_function(BenchmarkId::new("fastwebsockets", name), |b| {
        b.iter(|| {
            input.refill(wire.clone());
            let frame = ready(fast.read_frame()).expect("valid");
            assert_eq!(black_box(frame.payload.len()), size);
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = decode, encode, reassembly
}
criterion_main!(benches);
