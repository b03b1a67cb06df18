//! A WebSocket (RFC 6455) client and server on Linux io_uring: a
//! single-threaded completion loop driving the sans-IO
//! [`ws_proto::Connection`], as `ws_proto`'s adapter guide describes.
//!
//! All protocol rules (the opening handshake, framing, masking, UTF-8,
//! limits, pings, the close handshake and who closes TCP first, the
//! handshake, close and idle timeouts) live in `ws-proto`; this crate moves
//! bytes between io_uring and the core.
//!
//! # Two ways in
//!
//! * [`Runtime`]: one ring, one thread, many connections (servers and
//!   clients). Commands queue; [`Runtime::turn_with`] submits every
//!   connection's sends and receives in one `io_uring_enter` and hands
//!   each [`RuntimeEvent`] to your handler as it is decoded, so an answer
//!   goes out ahead of whatever the core decides next (a close frame for a
//!   protocol error in the same read); [`Runtime::turn`] collects them in
//!   a `Vec` instead.
//! * [`WebSocket`]: one connection with blocking calls ([`connect`],
//!   [`client`], [`accept`], [`accept_with`], then `recv`, `send`,
//!   `close`), on a small runtime of its own.
//!
//! # What io_uring does here
//!
//! * **Multishot accept**: one submission per listener accepts every
//!   connection.
//! * **Multishot receive with a provided buffer ring**: one submission per
//!   connection receives until the end; the kernel picks a buffer from a
//!   ring every connection of the runtime shares, so an idle connection
//!   holds no receive buffer. Its bytes are copied into the core at once
//!   and the buffer goes back.
//! * **One `io_uring_enter` per turn** submits every connection's sends
//!   and (re-)armed receives and waits for the next completions, bounded
//!   by the earliest core timer: no `epoll_wait`, no `read`/`write` calls.
//!
//! The bytes to send are not copied: the core lends the front of its queue
//! as owned, reference-counted chunks
//! ([`Connection::lend_transmit_chunks`](ws_proto::Connection::lend_transmit_chunks)),
//! which one vectored send (`sendmsg`, at most 256 KiB in 64 chunks; a
//! plain send for one chunk) hands to the kernel. The chunks stay queued in
//! the core until the send completes, so its `buffered_amount` and linger
//! timer keep counting the bytes in flight, and the queue advances by what
//! the kernel took; frames queued meanwhile go into fresh room and never
//! move the lent bytes, and a queue the core drops (its linger timer) does
//! not free them under the kernel: the send holds its own references.
//!
//! The received bytes are still copied, from the provided buffer into the
//! core. Before sends were lent, the two copies (received bytes into the
//! core, queued bytes into a send buffer) were 91% of this crate's
//! user-space instructions for 64 KiB echoes (10 connections, one in
//! flight), about 165,000 per echo against ws-tokio's 8,700, which reads
//! into the core's buffer and writes large payloads by reference
//! (callgrind). Lending the sends took the server's user time per 64 KiB
//! echo from 8.9 to 6.3 µs (its whole CPU time from 33.5 to 28.7 µs) and,
//! at 1 KiB (100 connections, 16 in flight), from 0.28 to 0.21 µs. The
//! receive copy remains: removing it needs the core to keep its read
//! buffer in place while a read into it is in flight.
//!
//! # Hardening, all of it the core's
//!
//! * The opening handshake must finish within [`Config::handshake_timeout`]
//!   (a silent or slow client is dropped);
//! * after a close, or a failure, the last writes to a peer that does not
//!   read are bounded by the core's close and linger timers (an expired
//!   linger drops the queue, and the driver cancels the send in flight);
//! * backpressure: a connection whose send queue is above the high-water
//!   mark ([`DEFAULT_HIGH_WATER_MARK`], 64 KiB) stops reading (its receive
//!   is cancelled) until the queue drains below it.
//!
//! # Why the `io-uring` crate and no runtime
//!
//! `ws-proto` is sans-IO, so all an adapter needs from io_uring is six
//! operations (accept, connect, receive, send, cancel, a timed wait), not
//! futures.
//! Measured on a raw 20-byte TCP echo (one connection, one message in
//! flight, 20,000 round trips; the server measured):
//!
//! | server | `io_uring_enter` per message (`strace -c`) | user-space instructions per message (callgrind) |
//! |---|---|---|
//! | a loop on `io-uring` 0.7.16 | 1.00 | 468 |
//! | compio 0.19.2 (read, then `write_all`) | 2.00 | 4,206 |
//!
//! compio's natural echo is a read and a write in sequence, each its own
//! submit-and-wait; a multishot receive kept armed lets a send's
//! completion and the next message come back in one wait. compio would
//! also bring about 50 crates; tokio-uring has had no release since May
//! 2024; monoio (0.2.4) is thread-per-core with buffer traits of its own.
//!
//! The same measurements on the WebSocket echo servers of `benches/`
//! (20-byte messages, 100 connections, one message in flight each): this
//! crate's server makes 0.02 to 0.06 `io_uring_enter` calls per message
//! (the batches grow with the load), where ws-tokio's makes one `sendto`
//! and one `recvfrom`; 2,872 user-space instructions per message against
//! ws-tokio's 2,988 (callgrind). An idle connection costs about 410 bytes
//! of the server's resident memory (from 2,000 to 6,000 idle connections)
//! against ws-tokio's 1,310, plus a fixed 2 MiB or so once the kernel has
//! touched every receive buffer.
//!
//! # What it does not do (yet)
//!
//! * **TLS**: none; for `wss://` use `ws-tokio` or `ws-blocking` with
//!   rustls.
//! * **Split halves**: a [`WebSocket`] belongs to one thread. With a
//!   [`Runtime`], any handler can send to any [`ConnId`] at any time, which
//!   covers what a reader/writer split is for inside that thread.
//! * **`IORING_OP_SEND_ZC` / `MSG_ZEROCOPY`**: not used. Over loopback,
//!   where every benchmark here runs, the kernel copies zero-copy pages
//!   when it delivers them to a local socket, so it cannot pay off there;
//!   over a real NIC it is unmeasured.
//! * **Registered file descriptors**: not used; the `fget` they would save
//!   was 0.8% of the server's samples (1 KiB echoes, 100 connections x 16
//!   in flight).
//!
//! # When the kernel refuses io_uring
//!
//! [`Runtime::new`] (and every function that makes one) fails with
//! [`Error::Unavailable`], whose text says why: a kernel older than 6.0, no
//! io_uring in the kernel or a seccomp filter (`ENOSYS`, `EPERM`),
//! `kernel.io_uring_disabled`. Nothing else in the crate needs io_uring.
//!
//! # Example: an echo server and a client over loopback
//!
//! ```
//! use std::net::TcpListener;
//! use ws_uring::{accept, connect, CloseCode, Message};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || -> Result<(), ws_uring::Error> {
//!     let (tcp, _) = listener.accept()?;
//!     let mut ws = accept(tcp)?;
//!     while let Some(message) = ws.recv() {
//!         if let message @ (Message::Text(_) | Message::Binary(_)) = message? {
//!             ws.send(message)?;
//!         }
//!     }
//!     Ok(())
//! });
//! let (mut ws, _response) = match connect(&format!("ws://{addr}/echo")) {
//!     Err(err) if err.is_unavailable() => {
//!         eprintln!("skipped: {err}");
//!         return Ok(());
//!     }
//!     other => other?,
//! };
//! ws.send(Message::text("hello"))?;
//! assert_eq!(ws.recv().unwrap()?, Message::text("hello"));
//! ws.close(CloseCode::NORMAL, "done")?;
//! server.join().expect("server thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(not(target_os = "linux"))]
compile_error!("ws-uring runs on Linux only (io_uring)");

mod buffers;
mod driver;
mod error;
mod ring;
mod runtime;
mod websocket;

pub use error::{Error, Unavailable};
pub use runtime::{
    Builder, ConnId, Flow, ListenerId, Runtime, RuntimeEvent, DEFAULT_HIGH_WATER_MARK,
};
pub use websocket::{accept, accept_with, client, connect, connect_with, WebSocket};

pub use ws_proto;
pub use ws_proto::handshake::{ClientRequest, Request, Response, ServerResponse};
pub use ws_proto::{CloseCode, CloseFrame, Config, Event, Message};
