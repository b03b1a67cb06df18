//! Large frames against the memory bandwidth limit: decoding masked 64 KiB
//! and 1 MiB frames (server role), binary and text, next to `memcpy` of the
//! same bytes and an in-place unmask of them.
//!
//! The performance target reads "decode and unmask of large frames at least
//! 80% of `memcpy` bandwidth for the same bytes; text at least 60% with UTF-8
//! validation". Each iteration handles about 1 MiB of payload (two frames at
//! 1 MiB), and criterion's throughput is the wire bytes, so the GB/s columns
//! compare directly:
//!
//! * `memcpy`: copying the wire bytes once into a reused buffer (what reading
//!   them from a socket costs at best);
//! * `unmask_in_place`: [`ws_proto::frame::apply_mask`] over the same bytes
//!   (the other pass any decoder makes);
//! * `receive`: `Connection::receive(&wire)` then `poll_event` until `None`:
//!   the bytes are copied in, then unmasked (and validated for text);
//! * `read_into`: the bytes are put into `Connection::receive_buffer` (as an
//!   adapter's socket read does), then `poll_event` until `None`; the same
//!   work as `receive`, through the API the adapters use;
//! * `in_buffer`: the wire bytes are already in the connection's read buffer
//!   when the clock starts (a buffer prepared outside the timing is swapped
//!   in), then `poll_event` until `None`. This is the decoder's own cost in
//!   the adapters, where the socket read is the copy: the kernel writes
//!   straight into `receive_buffer`, so the copy is the same for every
//!   library and the decoder adds the unmask (and validation) pass.

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use ws_benches::wire;
use ws_proto::frame::apply_mask;
use ws_proto::{Config, Connection, Event, Role};

mod common;
use common::frames_per_iter;

const SIZES: [(usize, &str); 2] = [(64 * 1024, "64KiB"), (1024 * 1024, "1MiB")];

/// Decodes everything queued, checking the count and kind of events.
fn drain(conn: &mut Connection, count: usize, text: bool) {
    let mut n = 0;
    while let Some(event) = conn.poll_event().expect("valid frames") {
        match &event {
            Event::Text(_) => assert!(text),
            Event::Binary(_) => assert!(!text),
            other => panic!("unexpected event {other:?}"),
        }
        black_box(event);
        n += 1;
    }
    assert_eq!(n, count);
}

fn bandwidth(c: &mut Criterion) {
    for (size, name) in SIZES {
        let count = frames_per_iter(size);
        let kinds: [(&str, Vec<u8>, bool); 3] = [
            ("binary", wire::payload(size, 7), false),
            ("text_ascii", wire::ascii_text(size).into_bytes(), true),
            (
                "text_multibyte",
                wire::multibyte_text(size).into_bytes(),
                true,
            ),
        ];
        for (kind, payload, text) in kinds {
            let wire = wire::client_frames(&payload, count, text);
            let mut group = c.benchmark_group(format!("bandwidth_{kind}"));
            group.throughput(Throughput::Bytes(wire.len() as u64));

            let mut copy = vec![0u8; wire.len()];
            group.bench_function(BenchmarkId::new("memcpy", name), |b| {
                b.iter(|| {
                    copy.copy_from_slice(black_box(&wire));
                    black_box(&mut copy);
                })
            });

            let mut masked = wire.clone();
            group.bench_function(BenchmarkId::new("unmask_in_place", name), |b| {
                b.iter(|| {
                    apply_mask(black_box(&mut masked), [0x37, 0xfa, 0x21, 0x3d], 0);
                })
            });

            let mut conn = Connection::new(Role::Server, Config::default());
            group.bench_function(BenchmarkId::new("receive", name), |b| {
                b.iter(|| {
                    conn.receive(black_box(&wire));
                    drain(&mut conn, count, text);
                })
            });

            let mut conn = Connection::new(Role::Server, Config::default());
            group.bench_function(BenchmarkId::new("read_into", name), |b| {
                b.iter(|| {
                    conn.receive_buffer().extend_from_slice(black_box(&wire));
                    drain(&mut conn, count, text);
                })
            });

            let mut conn = Connection::new(Role::Server, Config::default());
            group.bench_function(BenchmarkId::new("in_buffer", name), |b| {
                b.iter_batched_ref(
                    || BytesMut::from(&wire[..]),
                    |prepared| {
                        // The emptied buffer goes back out and is dropped
                        // outside the timing.
                        core::mem::swap(conn.receive_buffer(), prepared);
                        drain(&mut conn, count, text);
                    },
                    BatchSize::LargeInput,
                )
            });
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = bandwidth
}
criterion_main!(benches);
