//! Shared pieces of the `ws-benches` crate, which compares the `ws-proto`
//! stack with established WebSocket crates.
//!
//! * `benches/`: criterion benches of the hot path (decode, encode,
//!   masking, UTF-8, reassembly, the opening handshake), in memory.
//! * `src/bin/echo-*`: echo servers on each stack with the same runtime
//!   settings (tokio current-thread, or a thread per connection for
//!   `ws-blocking`).
//! * `src/bin/loadgen.rs`: one load generator that drives any of them.
//! * `run.sh`: runs everything and writes `RESULTS.md`.
//!
//! This library holds what more than one of those share: the load
//! generators' client driver ([`client`]), an in-memory transport ([`mem`]), wire data builders ([`wire`]), statistics
//! ([`stats`]), `/proc` readers ([`procfs`]) and server plumbing ([`serve`]).

pub mod client;
pub mod mem;
pub mod procfs;
pub mod serve;
pub mod stats;
pub mod wire;

/// Timing settings for this crate's criterion benches: short runs, so the
/// whole hot-path suite takes a few minutes on a small shared machine.
/// (Plain numbers: this library does not depend on criterion itself.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchSettings {
    /// Warm-up per benchmark.
    pub warm_up: std::time::Duration,
    /// Measurement per benchmark.
    pub measurement: std::time::Duration,
    /// Samples per benchmark (criterion's minimum is 10).
    pub samples: usize,
    /// Bootstrap resamples for the confidence intervals.
    pub resamples: usize,
}

impl BenchSettings {
    /// 0.5 s + 2 s with 20 samples, or 0.15 s + 0.4 s with 10 samples (and
    /// fewer bootstrap resamples) when the environment variable
    /// `WS_BENCH_QUICK` is set to anything but `0` (`run.sh quick`).
    pub fn from_env() -> Self {
        use std::time::Duration;
        let quick = std::env::var("WS_BENCH_QUICK").is_ok_and(|v| v != "0");
        if quick {
            Self {
                warm_up: Duration::from_millis(150),
                measurement: Duration::from_millis(400),
                samples: 10,
                resamples: 2_000,
            }
        } else {
            Self {
                warm_up: Duration::from_millis(500),
                measurement: Duration::from_secs(2),
                samples: 20,
                resamples: 20_000,
            }
        }
    }
}

/// Polls a future once with a no-op waker and returns its output. For
/// async libraries over [`mem::MemStream`], which never waits; panics if
/// the future does wait (a bug in the bench).
///
/// ```
/// assert_eq!(ws_benches::ready(async { 7 }), 7);
/// ```
pub fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("an in-memory future waited"),
    }
}
