//! The conformance suite: every case in `cases.rs`, once per adapter, under
//! the same names (`tokio::handshake_accepted`, `blocking::handshake_accepted`,
//! `smol::handshake_accepted`, ...).
//!
//! Run with `cargo test -p ws-conformance`; one adapter with
//! `cargo test -p ws-conformance -- smol::`, one case everywhere with
//! `cargo test -p ws-conformance -- ::ping_and_pong`.

mod cases;

/// Instantiates every case for one adapter: `suite!(module, AdapterType)`
/// makes `module::case_name` tests calling `cases::case_name::<AdapterType>()`.
macro_rules! suite {
    ($module:ident, $adapter:ty) => {
        suite!(@cases $module, $adapter,
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
    };
    (@cases $module:ident, $adapter:ty, $($case:ident),+ $(,)?) => {
        mod $module {
            $(
                #[test]
                fn $case() {
                    crate::cases::$case::<$adapter>();
                }
            )+
        }
    };
}

suite!(tokio, ws_conformance::TokioAdapter);
suite!(blocking, ws_conformance::BlockingAdapter);
suite!(smol, ws_conformance::SmolAdapter);

// ws-tokio over HTTP/2, through the glue's HTTP/1.1-to-HTTP/2 bridge: only
// the cases about what goes over an open WebSocket (the handshake cases
// would test the bridge, and timing cases its extra hops).
#[cfg(feature = "h2")]
suite!(@cases h2, ws_conformance::H2Adapter,
    messages_both_ways_0b_to_1mib,
    ping_and_pong,
    close_code_and_reason_both_ways,
    drop_without_close_is_1006,
);
