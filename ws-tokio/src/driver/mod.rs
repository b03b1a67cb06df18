//! The driver: the transport and the protocol core behind one lock, and the
//! poll loops that move bytes between them.
//!
//! Nothing here knows a protocol rule. The core decides what to send, when
//! the transport should close and when the close timer runs; the driver
//! writes what the core queued, reads into the core's buffer, sleeps until
//! the core's deadline, and hands out the core's events as [`Message`]s.
//!
//! Both halves of a split stream poll the same transport. A transport keeps
//! one waker per direction, so a write-side poll (write, flush, shutdown)
//! that has to wait is made with a shared waker that wakes each half that
//! waits on the write side ([`WriteWakers`]); only the reader polls the read
//! side and the timer, with its own waker. Most write-side polls finish at
//! once: they are made with a no-op waker first, and the shared waker is
//! only allocated the first time the transport makes a write wait, so a
//! connection that never meets backpressure never has one.

mod fanout;
mod read;
mod timer;
mod wakers;
mod write;

pub(crate) use write::Outgoing;

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Sleep;
use ws_proto::handshake::{Request, Response, ServerResponse};
use ws_proto::{CloseCode, Connection, Frame, Message, SendError};

use self::wakers::{Side, WriteWakers};
use crate::Error;

/// The default high-water mark: [`Sink::poll_ready`](futures_sink::Sink::poll_ready)
/// waits while more than this many bytes are queued for the transport.
pub(crate) const DEFAULT_HIGH_WATER_MARK: usize = 64 * 1024;

/// Locks, ignoring poisoning: the state is only changed through the core's
/// methods, which do not panic, so a panic elsewhere leaves it consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the reader has handed out so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadPhase {
    /// Messages flow.
    Reading,
    /// The end (a close frame, 1006, or a protocol error) was handed out;
    /// the driver finishes writing and closes the transport when the core
    /// says so, reading only to notice the peer's end of stream.
    Draining,
    /// The stream has ended.
    Done,
}

/// What the opening handshake hands out instead of messages.
pub(crate) enum Opened {
    /// Server: the client's request, to answer with [`Shared::respond`].
    Request(Box<Request>),
    /// Client: the server's checked 101; the connection is open.
    Response(Box<Response>),
    /// Server: the request was accepted; the connection is open.
    Accepted,
}

impl Opened {
    /// The server's response, for a client.
    pub(crate) fn response(self) -> Option<Box<Response>> {
        match self {
            Self::Response(response) => Some(response),
            _ => None,
        }
    }
}

/// Everything behind the lock.
struct State<S> {
    io: S,
    conn: Connection,
    /// The write-side wakers, from the first write the transport made wait.
    write_wakers: Option<Arc<WriteWakers>>,
    /// The reader's task, woken when the writer changes what it waits for.
    reader_waker: Option<Waker>,
    /// The core's timer (close, linger, keepalive), allocated only while
    /// one runs.
    timer: Option<Pin<Box<Sleep>>>,
    /// That error, until one caller has been given it.
    io_error: Option<io::Error>,
    high_water: usize,
    phase: ReadPhase,
    /// The transport's write side was shut down.
    shut_down: bool,
    /// Bytes were written since the transport was last flushed.
    unflushed: bool,
    /// An I/O error broke the transport.
    failed: bool,
    /// Reads have found bytes since the last read that found none: each
    /// further read that finds bytes ends the task's turn (see the read
    /// loop).
    read_in_a_row: bool,
}

/// The state shared by a stream and its halves.
pub(crate) struct Shared<S> {
    state: Mutex<State<S>>,
}

impl<S> Shared<S> {
    pub(crate) fn new(io: S, conn: Connection) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                io,
                conn,
                write_wakers: None,
                reader_waker: None,
                timer: None,
                io_error: None,
                high_water: DEFAULT_HIGH_WATER_MARK,
                phase: ReadPhase::Reading,
                shut_down: false,
                unflushed: false,
                failed: false,
                read_in_a_row: false,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State<S>> {
        lock(&self.state)
    }

    /// Runs `f` on the core, for getters.
    pub(crate) fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        f(&lock(&self.state).conn)
    }

    pub(crate) fn set_high_water_mark(&self, bytes: usize) {
        let mut state = self.state();
        state.high_water = bytes;
        // A writer waiting in `poll_ready` may be free to go now.
        state.wake_side(Side::Writer);
    }

    pub(crate) fn high_water_mark(&self) -> usize {
        lock(&self.state).high_water
    }

    /// Whether the reader has handed out the end of the stream.
    pub(crate) fn is_terminated(&self) -> bool {
        lock(&self.state).phase == ReadPhase::Done
    }

    /// Gives the transport back.
    pub(crate) fn into_io_owned(self) -> S {
        self.state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .io
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Shared<S> {
    /// The reader's poll: the next message, `None` once the stream ended.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let mut state = self.state();
        state.poll_next(cx)
    }

    /// The reader's poll in frames: the next frame, `None` once the stream
    /// ended (after the peer's close frame, or without one).
    pub(crate) fn poll_next_frame(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame, Error>>> {
        self.state().poll_next_frame(cx)
    }

    /// The handshake's poll: the next [`Opened`] event or the handshake's
    /// error (after which polling on writes what the core queued and shuts
    /// the transport down, until `None`).
    pub(crate) fn poll_opening(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Opened, Error>>> {
        self.state().poll_opening(cx)
    }

    /// Server: answers the request (see [`Connection::respond`]).
    pub(crate) fn respond(&self, answer: ServerResponse) -> Result<(), Error> {
        Ok(self.state().conn.respond(answer)?)
    }

    /// `Sink::poll_ready`: waits while more than the high-water mark is queued.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut state = self.state();
        state.check_open()?;
        let limit = state.high_water;
        state.poll_write_side(limit, Side::Writer, cx)
    }

    /// `Sink::start_send`: queues a message in the core.
    pub(crate) fn start_send<T: Outgoing>(&self, message: T) -> Result<(), Error> {
        let mut state = self.state();
        state.check_open()?;
        state.queue(message)
    }

    /// The future of `send`: waits for room (as `poll_ready`), queues the
    /// message taken from `message` (as `start_send`), then writes
    /// everything queued (as `poll_flush`), in one locked section per poll.
    pub(crate) fn poll_send<T: Outgoing>(
        &self,
        message: &mut Option<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Error>> {
        let mut state = self.state();
        if message.is_some() {
            state.check_open()?;
            let limit = state.high_water;
            ready!(state.poll_write_side(limit, Side::Writer, cx))?;
            if let Some(message) = message.take() {
                state.queue(message)?;
            }
        }
        state.poll_flush(cx)
    }

    /// `Sink::poll_flush`: writes everything queued.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.state().poll_flush(cx)
    }

    /// Queues a close frame unless one was sent or the connection has ended.
    pub(crate) fn start_close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let mut state = self.state();
        match state.conn.close(code, reason) {
            Ok(()) => {
                state.wake_reader();
                Ok(())
            }
            // Already closing or closed: closing again has nothing to add.
            Err(SendError::CloseSent | SendError::Closed) => Ok(()),
            Err(err) => Err(Error::Send(err)),
        }
    }

    /// `Sink::poll_close`: queues the core's bare close
    /// ([`CloseFrame::default`](ws_proto::CloseFrame::default), 1000) if none
    /// was sent, writes everything, and shuts the transport down if the core
    /// says so.
    pub(crate) fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let bare = ws_proto::CloseFrame::default();
        self.start_close(bare.code, &bare.reason)?;
        let mut state = self.state();
        if state.failed || state.shut_down {
            return Poll::Ready(Ok(()));
        }
        ready!(state.poll_write_side(0, Side::Writer, cx))?;
        if state.conn.should_close_transport() {
            ready!(state.poll_shutdown(Side::Writer, cx));
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> State<S> {
    /// Records a broken transport and wakes both halves so they notice.
    fn fail(&mut self, err: io::Error) {
        if !self.failed {
            self.failed = true;
            self.io_error = Some(err);
        }
        self.wake_reader();
        self.wake_all_writers();
    }
}

#[cfg(test)]
mod sizes {
    use std::mem::size_of_val;

    use tokio::net::{TcpListener, TcpStream};

    /// What every idle connection carries: the shared state (mostly the
    /// core's `Connection`) and, inline in the task that serves it, the
    /// futures of `accept` and of the echo loop's `recv` and `send`. Run
    /// with `--nocapture` to see the figures; the bounds catch regressions.
    #[tokio::test]
    async fn per_connection_sizes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let shared = size_of::<super::Shared<TcpStream>>();
        let conn = size_of::<ws_proto::Connection>();
        let accept = size_of_val(&crate::accept(tcp));
        let (a, _b) = tokio::io::duplex(64);
        let mut ws =
            crate::WebSocketStream::from_raw(a, ws_proto::Role::Server, Default::default());
        let recv = size_of_val(&ws.recv());
        let send = size_of_val(&ws.send(ws_proto::Message::text("x")));
        println!("Shared<TcpStream> {shared} (ws_proto::Connection {conn}), accept future {accept}, recv future {recv}, send future {send}");
        // The handshake and its timer are one box.
        assert!(accept <= 8, "accept future {accept}");
        assert!(recv <= 8, "recv future {recv}");
        assert!(send <= 64, "send future {send}");
        // Beyond the core's `Connection`, the driver's own state stays small.
        assert!(shared <= conn + 112, "Shared {shared}, Connection {conn}");
    }

    /// The task of the crate docs' "Memory per connection" loop fits in
    /// tokio's smallest cell for it (256 bytes: 104 of tokio's own, the
    /// future, rounded up to 128).
    #[tokio::test]
    async fn the_documented_echo_task_is_small() {
        use ws_proto::Message;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let handshake = crate::accept(tcp);
        let task = async move {
            let Ok(mut ws) = handshake.await else { return };
            loop {
                let message = match ws.recv().await {
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => message,
                    Some(_) => continue,
                    None => break,
                };
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        };
        let size = size_of_val(&task);
        assert!(size <= 152, "echo task future {size}");
    }

    fn size_of<T>() -> usize {
        std::mem::size_of::<T>()
    }
}
