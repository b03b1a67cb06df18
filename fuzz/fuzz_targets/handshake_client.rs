//! A client `Connection::client` running the opening handshake: the peer's
//! bytes (arbitrary, or what ws-proto's server machine answers to the
//! client's actual request, then a frame it sends, optionally mutated)
//! arrive in arbitrary splits, interleaved with drains, timer calls at
//! arbitrary times, end of stream and writes. See `ws_proto_fuzz::handshake`
//! for the model.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto_fuzz::handshake::{run_client, ClientInput};

fuzz_target!(|input: ClientInput| {
    run_client(input);
});
