//! A server and a client `Connection` in frame mode (small chunks, small
//! limits, automatic pongs and close replies on or off, permessage-deflate
//! or not) sending each other random frames, whole and in pieces, with the
//! bytes between them split at random. See `ws_proto_fuzz::frame_mode` for
//! the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto_fuzz::frame_mode::{run, FrameMode};

fuzz_target!(|input: FrameMode| {
    run(&input);
});
