//! The server side of the opening handshake, on a typical browser request
//! (Chrome, 14 headers with cookies and a deflate offer).
//!
//! * `ours_parse`: `ws_proto::handshake::Request::parse` (httparse plus the
//!   RFC 6455 section 4.2.1 checks, owning the headers).
//! * `ours_parse_and_answer`: the same plus `accept().to_bytes()` (SHA-1,
//!   base64, the 101 response bytes).
//! * `tungstenite_parse`: tungstenite's `Request::try_parse` (httparse into
//!   an `http::Request`), and `tungstenite_parse_and_answer` with its
//!   `create_response` (the response as an `http::Response`, not yet bytes).
//! * `httparse_only`: httparse into a stack header array: the floor.

// criterion_group! generates undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tungstenite::handshake::machine::TryParse;
use ws_benches::wire::BROWSER_REQUEST;
use ws_proto::handshake::Request;

mod common;

fn handshake(c: &mut Criterion) {
    let mut group = c.benchmark_group("handshake");
    group.throughput(Throughput::Bytes(BROWSER_REQUEST.len() as u64));
    group.bench_function("ours_parse", |b| {
        b.iter(|| Request::parse(black_box(BROWSER_REQUEST)).expect("valid"))
    });
    group.bench_function("ours_parse_and_answer", |b| {
        b.iter(|| {
            let (request, _) = Request::parse(black_box(BROWSER_REQUEST))
                .expect("valid")
                .expect("complete");
            request.accept().to_bytes()
        })
    });
    group.bench_function("tungstenite_parse", |b| {
        b.iter(|| {
            tungstenite::handshake::server::Request::try_parse(black_box(BROWSER_REQUEST))
                .expect("valid")
        })
    });
    group.bench_function("tungstenite_parse_and_answer", |b| {
        b.iter(|| {
            let (_, request) =
                tungstenite::handshake::server::Request::try_parse(black_box(BROWSER_REQUEST))
                    .expect("valid")
                    .expect("complete");
            tungstenite::handshake::server::create_response(&request).expect("valid")
        })
    });
    group.bench_function("httparse_only", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            let status = request.parse(black_box(BROWSER_REQUEST)).expect("valid");
            black_box(request.headers.len());
            status.is_complete()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = handshake
}
criterion_main!(benches);
