//! The conformance suite: every case in `cases.rs`, once per adapter, under
//! the same names (`tokio::handshake_accepted`, `blocking::handshake_accepted`,
//! `smol::handshake_accepted`, `uring::handshake_accepted`, ...), and the frame-mode cases of
//! `frame_cases.rs` for every adapter with frame access.
//!
//! Run with `cargo test -p ws-conformance`; one adapter with
//! `cargo test -p ws-conformance -- smol::`, one case everywhere with
//! `cargo test -p ws-conformance -- ::ping_and_pong`.

mod cases;
mod frame_cases;

/// Test functions `case_name` calling `cases::case_name::<Adapter>()` (or
/// `frame_cases::...` with `@frames`).
macro_rules! cases {
    (@frames $adapter:ty, $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                if crate::skipped::<$adapter>(stringify!($case)) {
                    return;
                }
                crate::frame_cases::$case::<$adapter>();
            }
        )+
    };
    ($adapter:ty, $($case:ident),+ $(,)?) => {
        $(
            #[test]
            fn $case() {
                if crate::skipped::<$adapter>(stringify!($case)) {
                    return;
                }
                crate::cases::$case::<$adapter>();
            }
        )+
    };
}

/// The frame-mode cases, for an adapter whose connection is a
/// `ws_conformance::FrameConn`.
macro_rules! frame_cases {
    ($adapter:ty) => {
        cases!(@frames $adapter,
            frames_received_as_sent,
            frame_larger_than_the_chunk_arrives_in_pieces,
            reserved_bits_without_extension_are_1002,
            frames_sent_as_given,
            close_frame_answered_by_the_application,
        );
    };
}

/// Instantiates every case for one adapter: `suite!(module, AdapterType)`
/// makes `module::case_name` tests calling `cases::case_name::<AdapterType>()`;
/// `suite!(module, AdapterType, frame_cases)` adds the frame-mode cases.
macro_rules! suite {
    ($module:ident, $adapter:ty $(, $more:ident)*) => {
        mod $module {
            cases!($adapter,
                handshake_accepted,
                client_handshake_accepted,
                handshake_refused_with_status_and_body,
                client_sees_refusal_status_and_body,
                handshake_bad_request_gets_error_status,
                handshake_timeout_silent_client,
                handshake_timeout_byte_a_second,
                leftover_bytes_after_handshake,
                client_leftover_bytes_after_response,
                messages_both_ways_0b_to_1mib,
                fragments_when_asked_for,
                ping_and_pong,
                close_code_and_reason_both_ways,
                drop_without_close_is_1006,
                protocol_error_close_code,
                recv_timeout_loses_nothing,
                backpressure_against_a_peer_that_does_not_read,
                keepalive_ping_and_idle_timeout,
            );
            $( $more!($adapter); )*
        }
    };
}

/// Whether `A` cannot run on this machine (ws-uring without io_uring): the
/// case is then skipped, with the reason printed.
fn skipped<A: ws_conformance::Adapter>(case: &str) -> bool {
    match A::unavailable() {
        Some(why) => {
            eprintln!("{}::{case}: skipped: {why}", A::NAME);
            true
        }
        None => false,
    }
}

suite!(tokio, ws_conformance::TokioAdapter, frame_cases);
suite!(blocking, ws_conformance::BlockingAdapter, frame_cases);
// No frame cases: the smol example adapter has no frame API (its `recv`
// skips frame-mode events and it has no `send_frame`).
suite!(smol, ws_conformance::SmolAdapter);
// ws-uring's blocking `WebSocket`; each case is skipped, with the reason
// printed, on a kernel that refuses io_uring.
#[cfg(target_os = "linux")]
suite!(uring, ws_conformance::UringAdapter, frame_cases);

// ws-tokio over HTTP/2, through the glue's HTTP/1.1-to-HTTP/2 bridge: only
// the cases about what goes over an open WebSocket (the handshake cases
// would test the bridge, and timing cases its extra hops), frames included.
#[cfg(feature = "h2")]
mod h2 {
    cases!(
        ws_conformance::H2Adapter,
        messages_both_ways_0b_to_1mib,
        ping_and_pong,
        close_code_and_reason_both_ways,
        drop_without_close_is_1006,
    );
    frame_cases!(ws_conformance::H2Adapter);
}
