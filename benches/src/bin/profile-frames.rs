//! `profile-decode`'s twin for frame mode, for `valgrind --tool=callgrind`:
//! a server `Connection` in frame mode (`Config::deliver_frames`, 64 KiB
//! pieces) is fed a buffer of `FRAMES` masked binary frames of `SIZE`
//! bytes, `ROUNDS` times, and every frame is drained with `poll_event_ref`
//! (no allocation per frame), as a relaying proxy reads. A bin of its own
//! so that `profile-decode`'s code, and so its counts, stay as they were.
//!
//! ```text
//! profile-frames [SIZE] [FRAMES] [ROUNDS]
//! ```
//!
//! Defaults: `20 1000 200`.

use std::hint::black_box;

use ws_benches::wire;
use ws_proto::{Config, Connection, EventRef, Role};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut num = |default: usize| {
        args.next()
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let (size, frames, rounds) = (num(20), num(1000), num(200));
    let wire = wire::client_frames(&wire::payload(size, 1), frames, false);
    let config = Config::default().deliver_frames(64 * 1024);
    let mut server = Connection::new(Role::Server, config);
    let mut pieces = 0usize;
    for _ in 0..rounds {
        server.receive(&wire);
        while let Ok(Some(event)) = server.poll_event_ref() {
            if let EventRef::Frame(piece) = event {
                pieces += 1;
                black_box(piece.data);
            }
        }
    }
    println!("frames: {pieces} pieces of {size} B");
}
