//! A server `Connection::server` running the opening handshake: the peer's
//! bytes (arbitrary, or ws-proto's own client request followed by a frame,
//! optionally mutated) arrive in arbitrary splits, interleaved with drains,
//! timer calls at arbitrary times, end of stream, writes and `respond` with
//! arbitrary acceptances and refusals. See `ws_proto_fuzz::handshake` for
//! the model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto_fuzz::handshake::{run_server, ServerInput};

fuzz_target!(|input: ServerInput| {
    run_server(input);
});
