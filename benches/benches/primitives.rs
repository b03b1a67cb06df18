//! Primitives under the frame codec: unmasking and UTF-8 validation.
//!
//! * `mask`: `ws_proto::frame::apply_mask` (the fast path) and
//!   `apply_mask_scalar` (its reference twin) against a naive indexed byte
//!   loop, fastwebsockets' public `unmask`, and `copy_from_slice` of the same
//!   length (a memcpy: roughly the upper bound for one pass over the data).
//! * `utf8_ascii` / `utf8_multibyte`: ours (`Utf8Validator::feed` + `finish`:
//!   `core::str::from_utf8` below 64 bytes, `simdutf8::basic` from 64 up)
//!   against `std::str::from_utf8` and `simdutf8`'s `basic` (valid or not)
//!   and `compat` (with the error position) entry points, from 16 B to
//!   64 KiB: the sizes the 64-byte switch in `ws_proto`'s `utf8.rs` was
//!   chosen from. The `ours_chunked_1460` case feeds the text in
//!   TCP-segment-sized pieces.
//! * `mask_key`: one masking key from `Randomness::os()` (a 64-byte pool
//!   refilled by a `getrandom` system call every 16 keys) and from
//!   `Randomness::seeded` (splitmix64, no system call): what a client pays
//!   per frame for its key.

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ws_benches::wire;
use ws_proto::frame::{apply_mask, apply_mask_scalar};
use ws_proto::{Randomness, Utf8Validator};

mod common;
use common::SIZES;

/// The obvious loop: one byte at a time, indexed, `%` on the key position.
#[allow(clippy::needless_range_loop)]
fn naive_mask(buf: &mut [u8], key: [u8; 4]) {
    for i in 0..buf.len() {
        buf[i] ^= key[i % 4];
    }
}

fn mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    let key = [0x37, 0xfa, 0x21, 0x3d];
    for (size, name) in SIZES {
        let source = wire::payload(size, 4);
        let mut buf = source.clone();
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("apply_mask", name), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), key, 0))
        });
        group.bench_function(BenchmarkId::new("apply_mask_scalar", name), |b| {
            b.iter(|| apply_mask_scalar(black_box(&mut buf), key, 0))
        });
        group.bench_function(BenchmarkId::new("naive_loop", name), |b| {
            b.iter(|| naive_mask(black_box(&mut buf), key))
        });
        group.bench_function(BenchmarkId::new("fastwebsockets_unmask", name), |b| {
            b.iter(|| fastwebsockets::unmask(black_box(&mut buf), key))
        });
        group.bench_function(BenchmarkId::new("memcpy", name), |b| {
            b.iter(|| black_box(&mut buf).copy_from_slice(black_box(&source)))
        });
    }
    group.finish();
}

fn utf8(c: &mut Criterion) {
    for (group_name, make) in [
        ("utf8_ascii", wire::ascii_text as fn(usize) -> String),
        ("utf8_multibyte", wire::multibyte_text),
    ] {
        let mut group = c.benchmark_group(group_name);
        for (size, name) in [
            (16, "16B"),
            (64, "64B"),
            (125, "125B"),
            (4096, "4KiB"),
            (64 * 1024, "64KiB"),
        ] {
            let text = make(size);
            let bytes = text.as_bytes();
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_function(BenchmarkId::new("ours", name), |b| {
                let mut v = Utf8Validator::new();
                b.iter(|| {
                    v.feed(black_box(bytes)).expect("valid");
                    v.finish().expect("complete")
                })
            });
            if size >= 4096 {
                group.bench_function(BenchmarkId::new("ours_chunked_1460", name), |b| {
                    let mut v = Utf8Validator::new();
                    b.iter(|| {
                        for piece in black_box(bytes).chunks(1460) {
                            v.feed(piece).expect("valid");
                        }
                        v.finish().expect("complete")
                    })
                });
            }
            group.bench_function(BenchmarkId::new("std", name), |b| {
                b.iter(|| std::str::from_utf8(black_box(bytes)).is_ok())
            });
            group.bench_function(BenchmarkId::new("simdutf8_basic", name), |b| {
                b.iter(|| simdutf8::basic::from_utf8(black_box(bytes)).is_ok())
            });
            group.bench_function(BenchmarkId::new("simdutf8_compat", name), |b| {
                b.iter(|| simdutf8::compat::from_utf8(black_box(bytes)).is_ok())
            });
        }
        group.finish();
    }
}

fn mask_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask_key");
    let mut os = Randomness::os();
    group.bench_function("os", |b| b.iter(|| os.mask_key()));
    let mut seeded = Randomness::seeded(1);
    group.bench_function("seeded", |b| b.iter(|| seeded.mask_key()));
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = mask, utf8, mask_key
}
criterion_main!(benches);
