//! A server `Connection` driven by random inputs, commands, writes and timer
//! calls, checked against a model. See `ws_proto_fuzz::scenario` for the
//! invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::Role;
use ws_proto_fuzz::scenario::{run, Scenario};

fuzz_target!(|scenario: Scenario| {
    run(Role::Server, scenario);
});
