//! Shared by the bench files (included with `mod common;`).

use criterion::Criterion;

/// Criterion with this crate's short settings.
pub(crate) fn criterion() -> Criterion {
    let s = ws_benches::BenchSettings::from_env();
    Criterion::default()
        .warm_up_time(s.warm_up)
        .measurement_time(s.measurement)
        .sample_size(s.samples)
        .nresamples(s.resamples)
        .configure_from_args()
}

/// The payload sizes of the hot-path benches.
#[allow(dead_code)]
pub(crate) const SIZES: [(usize, &str); 5] = [
    (16, "16B"),
    (125, "125B"),
    (4096, "4KiB"),
    (64 * 1024, "64KiB"),
    (1024 * 1024, "1MiB"),
];

/// How many frames one iteration handles: about 1 MiB of payload, at least
/// 2 and at most 1,024 frames.
#[allow(dead_code)]
pub(crate) fn frames_per_iter(size: usize) -> usize {
    ((1 << 20) / size).clamp(2, 1024)
}
