//! One conformance suite for every WebSocket adapter in this workspace.
//!
//! The behaviour cases live once, in `tests/conformance/cases.rs`, generic
//! over [`Adapter`]; `tests/conformance/main.rs` instantiates them for each
//! adapter with a macro, so every adapter runs the same named tests
//! (`tokio::handshake_accepted`, `blocking::handshake_accepted`,
//! `smol::handshake_accepted`, ...).
//!
//! This library holds what the cases need:
//!
//! * [`Adapter`] and [`Conn`]: a blocking-style view of one adapter, so a
//!   case can drive any of them the same way; [`FrameConn`] adds frame
//!   access (frame mode, `Config::deliver_frames`) for the adapters that
//!   have it (ws-tokio, ws-blocking, ws-tokio over HTTP/2; the smol
//!   example has no frame API yet). Each adapter's glue owns the
//!   runtime it needs: [`TokioAdapter`] a current-thread tokio runtime,
//!   [`SmolAdapter`] `smol::block_on`, [`BlockingAdapter`] direct calls,
//!   [`UringAdapter`] ws-uring's blocking `WebSocket` (a ring per
//!   connection), skipped with its reason where io_uring is refused.
//! * [`Failure`]: an adapter-neutral classification of the adapters' error
//!   types, which the cases assert on. Each glue module maps its adapter's
//!   `Error` in one function named `failure`; when an adapter's error enum
//!   changes, only that function changes.
//! * [`peer`]: the scripted peer, a raw `std::net::TcpStream` that writes
//!   and checks bytes built with `ws_proto`, independent of every adapter.
//!
//! Every wait is bounded: adapter calls by [`WAIT`] (or an explicit limit),
//! peer reads by the socket read timeout [`peer::READ_TIMEOUT`], and every
//! loop by a count, so a misbehaving adapter fails a case instead of hanging
//! the suite, and every peer thread ends by itself.

use std::fmt;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use ws_proto::handshake::{
    ClientRequest, HandshakeError, Request, Response, ResponseError, ServerResponse,
};
use ws_proto::{CloseCode, Config, Frame, Message};

mod blocking_adapter;
#[cfg(feature = "h2")]
mod h2_adapter;
pub mod peer;
mod smol_adapter;
mod tokio_adapter;
#[cfg(target_os = "linux")]
mod uring_adapter;

pub use blocking_adapter::{BlockingAdapter, BlockingConn};
#[cfg(feature = "h2")]
pub use h2_adapter::{H2Adapter, H2Conn};
pub use smol_adapter::{SmolAdapter, SmolConn};
pub use tokio_adapter::{TokioAdapter, TokioConn};
#[cfg(target_os = "linux")]
pub use uring_adapter::{UringAdapter, UringConn};

/// How long an adapter call may take unless a case gives its own limit.
pub const WAIT: Duration = Duration::from_secs(5);

/// What went wrong, in terms every adapter can be mapped to. The cases
/// assert on these; each adapter's glue has one function (`failure`) that
/// turns its `Error` into one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The opening handshake was refused with this HTTP status. Server side:
    /// our accept callback refused (the body is not reported, `None`).
    /// Client side: the server answered this status instead of 101, with
    /// the start of its body when the adapter exposes it.
    Refused {
        /// The HTTP status of the refusal.
        status: u16,
        /// The start of the response body, when the adapter reports it.
        body: Option<Vec<u8>>,
    },
    /// Server side: the client's request failed the protocol's checks and
    /// was answered with this status (400, 426, ...).
    BadRequest {
        /// The HTTP status the adapter answered with.
        status: u16,
    },
    /// Client side: the server's 101 answer was not a valid acceptance
    /// (wrong accept key, a subprotocol we did not offer, ...).
    BadResponse(String),
    /// The opening handshake did not finish within
    /// [`Config::handshake_timeout`].
    HandshakeTimedOut,
    /// The peer closed the transport before the opening handshake finished.
    PeerClosedDuringHandshake,
    /// The peer broke the protocol; the adapter ended the connection with
    /// this close code (1002, 1007, 1009, ...).
    Protocol(CloseCode),
    /// The adapter refused to send (after a close, an invalid message).
    SendRefused(String),
    /// The connection is already closed: nothing more can be sent or read.
    Closed,
    /// The transport failed with this kind of I/O error.
    Io(io::ErrorKind),
    /// The suite's own bound on a call passed: the adapter neither finished
    /// nor failed in time (a send that waits for room, a read with nothing
    /// to read). Never produced by an adapter's error mapping.
    WaitTimedOut,
    /// Anything else, with the adapter's description.
    Other(String),
}

/// The core's handshake errors, which every adapter wraps as they are
/// (`Error::Handshake`): one mapping for all of them.
impl From<HandshakeError> for Failure {
    fn from(err: HandshakeError) -> Self {
        match err {
            HandshakeError::Refused { status } => Self::Refused { status, body: None },
            HandshakeError::Response(ResponseError::Rejected(rejection)) => Self::Refused {
                status: rejection.status,
                body: Some(rejection.body),
            },
            HandshakeError::Response(err) => Self::BadResponse(err.to_string()),
            HandshakeError::Request(err) => Self::BadRequest {
                status: err.status(),
            },
            HandshakeError::TimedOut { .. } => Self::HandshakeTimedOut,
            HandshakeError::PeerClosed { .. } => Self::PeerClosedDuringHandshake,
            other => Self::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for Failure {}

/// One adapter, seen through blocking calls. Implemented by the glue types
/// [`TokioAdapter`], [`BlockingAdapter`] and [`SmolAdapter`].
pub trait Adapter {
    /// A connection after the opening handshake.
    type Conn: Conn;

    /// A short name for messages ("tokio", "blocking", "smol", "uring").
    const NAME: &'static str;

    /// Why this machine cannot run the adapter at all (ws-uring on a
    /// kernel that refuses io_uring), or `None`. The suite skips every case
    /// of such an adapter, printing this reason, instead of failing.
    fn unavailable() -> Option<String> {
        None
    }

    /// Runs the adapter's server handshake on an accepted TCP stream with
    /// `config`, letting `answer` accept or refuse the request.
    fn accept<F>(tcp: TcpStream, config: Config, answer: F) -> Result<Self::Conn, Failure>
    where
        F: FnOnce(&Request) -> ServerResponse;

    /// Runs the adapter's client handshake over a connected TCP stream.
    fn client(
        tcp: TcpStream,
        request: ClientRequest,
        config: Config,
    ) -> Result<(Self::Conn, Response), Failure>;
}

/// An open connection of some adapter, seen through blocking calls.
pub trait Conn {
    /// Sends a message and waits until the adapter says it is sent, at most
    /// `limit` ([`Failure::WaitTimedOut`] then: the adapter is waiting for
    /// room, which is backpressure, not an error of the adapter).
    fn send_within(&mut self, message: Message, limit: Duration) -> Result<(), Failure>;

    /// The next message, waiting at most `limit` ([`Failure::WaitTimedOut`]
    /// then); `None` once the connection has ended. Messages include pings,
    /// pongs, the final [`Message::Close`] and, with
    /// [`Config::deliver_fragments`], [`Message::Fragment`]s.
    fn recv_within(&mut self, limit: Duration) -> Option<Result<Message, Failure>>;

    /// Starts the close handshake with `code` and `reason` and finishes it
    /// the way the adapter documents (waiting for the peer's answer; reads
    /// in between are discarded), within `limit`.
    fn close_within(
        &mut self,
        code: CloseCode,
        reason: &str,
        limit: Duration,
    ) -> Result<(), Failure>;

    /// Bytes queued in the adapter and not yet written to the transport;
    /// `None` when the adapter does not expose it.
    fn buffered_amount(&self) -> Option<usize>;

    /// [`send_within`](Self::send_within) with [`WAIT`].
    fn send(&mut self, message: Message) -> Result<(), Failure> {
        self.send_within(message, WAIT)
    }

    /// [`recv_within`](Self::recv_within) with [`WAIT`].
    fn recv(&mut self) -> Option<Result<Message, Failure>> {
        self.recv_within(WAIT)
    }

    /// [`close_within`](Self::close_within) with [`WAIT`].
    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Failure> {
        self.close_within(code, reason, WAIT)
    }

    /// Reads until the connection ends (`None`), at most `max` times, and
    /// returns what was read. This is how an application lets an adapter
    /// finish writing its close reply and close the transport.
    fn drain(&mut self, max: usize) -> Vec<Result<Message, Failure>> {
        let mut seen = Vec::new();
        for _ in 0..max {
            match self.recv() {
                Some(item) => {
                    let stop = matches!(item, Err(Failure::WaitTimedOut));
                    seen.push(item);
                    if stop {
                        break;
                    }
                }
                None => break,
            }
        }
        seen
    }
}

/// Frame-level access to an open connection, for the frame-mode cases:
/// what the adapter offers for proxies and gateways (ws-tokio's
/// `recv_frame`/`send_frame`, ws-blocking's `read_frame`/`write_frame`).
pub trait FrameConn: Conn {
    /// Sends a frame, or a piece of one, as
    /// [`ws_proto::Connection::send_frame`] takes it, and waits until the
    /// adapter says it is written, at most `limit`.
    fn send_frame_within(&mut self, frame: Frame, limit: Duration) -> Result<(), Failure>;

    /// The next frame (with [`Config::deliver_frames`], every frame or
    /// piece as the peer sent it), waiting at most `limit`
    /// ([`Failure::WaitTimedOut`] then); `None` once the connection has
    /// ended. The peer's close frame is the last frame.
    fn recv_frame_within(&mut self, limit: Duration) -> Option<Result<Frame, Failure>>;

    /// [`send_frame_within`](Self::send_frame_within) with [`WAIT`].
    fn send_frame(&mut self, frame: Frame) -> Result<(), Failure> {
        self.send_frame_within(frame, WAIT)
    }

    /// [`recv_frame_within`](Self::recv_frame_within) with [`WAIT`].
    fn recv_frame(&mut self) -> Option<Result<Frame, Failure>> {
        self.recv_frame_within(WAIT)
    }
}

/// Two ends of a fresh loopback TCP connection: `(server, client)`, with
/// `TCP_NODELAY` on both. Nothing is read or written yet.
///
/// ```
/// let (server, client) = ws_conformance::tcp_pair();
/// assert_eq!(server.local_addr().unwrap(), client.peer_addr().unwrap());
/// ```
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    let client = TcpStream::connect(addr).expect("connect over loopback");
    let (server, _) = listener.accept().expect("accept over loopback");
    server.set_nodelay(true).expect("TCP_NODELAY");
    client.set_nodelay(true).expect("TCP_NODELAY");
    (server, client)
}

/// A `ws://` URL for the server end of `tcp` (the client side), with `path`.
///
/// ```
/// let (_server, client) = ws_conformance::tcp_pair();
/// assert!(ws_conformance::url_for(&client, "/x").starts_with("ws://127.0.0.1:"));
/// ```
pub fn url_for(tcp: &TcpStream, path: &str) -> String {
    let addr = tcp.peer_addr().expect("peer address");
    format!("ws://{addr}{path}")
}

/// A peer running in its own thread; [`join`](Self::join) gives its result
/// or re-raises its panic (a failed assertion on the peer's side fails the
/// case). The peer's own timeouts make the thread end by itself even if
/// the case fails first and never joins it.
#[derive(Debug)]
pub struct PeerThread<T> {
    handle: thread::JoinHandle<T>,
}

impl<T> PeerThread<T> {
    /// Waits for the peer and returns its result; a panic in the peer is
    /// raised again here.
    pub fn join(self) -> T {
        match self.handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Runs `script` in a named thread (the name shows in panic messages).
///
/// ```
/// let peer = ws_conformance::spawn_peer("demo", || 1 + 1);
/// assert_eq!(peer.join(), 2);
/// ```
pub fn spawn_peer<T, F>(name: &str, script: F) -> PeerThread<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let handle = thread::Builder::new()
        .name(format!("peer: {name}"))
        .spawn(script)
        .expect("spawn the peer thread");
    PeerThread { handle }
}
