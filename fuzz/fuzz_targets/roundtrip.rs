//! Messages sent by one endpoint arrive intact and in order at the other,
//! client to server and server to client: any `max_send_frame_size`, any read
//! chunking, both delivery modes (fragments reassembled), fragmented sends
//! with pings between the pieces, and an optional close. The receiver's
//! answers (pongs, close echo) are fed back and must match. See
//! `ws_proto_fuzz::roundtrip`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto_fuzz::roundtrip::{run, RoundTrip};

fuzz_target!(|input: RoundTrip| {
    run(&input);
});
