//! Shared oracles for the ws-proto fuzz targets.
//!
//! The targets in `fuzz_targets/` are thin; the checks they make live here so
//! that every target states its invariants the same way:
//!
//! * [`wire`]: an independent decoder for the bytes a `Connection` writes,
//!   which asserts that every written frame is well-formed for its role.
//! * [`events`]: checks every `Event` a `Connection` hands out and
//!   reassembles them into [`events::Logical`] messages for comparisons.
//! * [`frames`]: builds peer frames with full control over every field.
//! * [`scenario`]: the random-operations driver behind `server_connection`
//!   and `client_connection`, with [`keepalive`] (the model of the keepalive
//!   timers) and [`peer`] (a second connection opened by the real handshake,
//!   permessage-deflate negotiated or not).
//! * [`roundtrip`]: the encode-then-decode driver behind `roundtrip`.
//! * [`frame_mode`]: a server and a client in frame mode sending each other
//!   random frames, whole and in pieces, behind `frame_mode`.
//! * [`http`]: helpers for the handshake targets.
//! * [`handshake`]: the model-checked driver behind `handshake_server` and
//!   `handshake_client` (the opening handshake inside `Connection`).
//!
//! Every check is an `assert!`: a failed invariant is a crash that libFuzzer
//! records in `fuzz/artifacts/<target>/`.

pub mod events;
pub mod frame_mode;
pub mod frames;
pub mod handshake;
pub mod http;
pub mod keepalive;
pub mod peer;
pub mod roundtrip;
pub mod scenario;
pub mod wire;

/// Limits used by the targets, far below the 16 MiB default, so that
/// `-malloc_limit_mb` catches any allocation sized from an untrusted length.
pub mod limits {
    /// `max_frame_size` for the byte-level decoder target.
    pub const DECODE_MAX_FRAME: usize = 64 * 1024;
    /// `max_message_size` for the byte-level decoder target.
    pub const DECODE_MAX_MESSAGE: usize = 256 * 1024;
}

/// The protocol error inside a connection's [`ws_proto::Error`], for
/// connections built open (`Connection::new`, `with_extensions`), where no
/// handshake runs: a handshake error there is itself a failed invariant.
pub fn protocol_error(err: ws_proto::Error) -> ws_proto::ProtocolError {
    match err {
        ws_proto::Error::Protocol(err) => err,
        other => panic!("a connection built open failed with {other:?}"),
    }
}

/// FNV-1a over `data`: a cheap, deterministic way to derive secondary choices
/// (split points, limits) from a raw input without changing its format.
pub fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
