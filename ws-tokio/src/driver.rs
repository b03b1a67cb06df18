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

use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{ready, Context, Poll, Wake, Waker};

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};
use ws_proto::{CloseCode, Connection, Event, Message, ReadyState, SendError};

use crate::{spare, Error};

/// The default high-water mark: [`Sink::poll_ready`](futures_sink::Sink::poll_ready)
/// waits while more than this many bytes are queued for the transport.
pub(crate) const DEFAULT_HIGH_WATER_MARK: usize = 64 * 1024;
/// At most this many queued chunks go into one vectored write.
const MAX_SLICES: usize = 64;
/// Reads with nothing buffered go through a stack buffer of this size, so an
/// idle connection holds no read buffer at all.
const STACK_READ: usize = 8 * 1024;
/// The smallest read made straight into the core's buffer.
const MIN_READ: usize = 4 * 1024;
/// The most reserved in the core's buffer at once for a large frame (the
/// core has already checked the frame against `max_frame_size`).
const MAX_RESERVE: usize = 16 << 20;
/// Reads after the end was reported (waiting for the peer to close the
/// transport) only look for the end of stream; the core discards the bytes.
const DRAIN_READ: usize = 1024;

/// Which half is polling, as an index into [`WriteWakers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Reader = 0,
    Writer = 1,
}

impl Side {
    fn other(self) -> Self {
        match self {
            Self::Reader => Self::Writer,
            Self::Writer => Self::Reader,
        }
    }
}

/// The tasks waiting for the transport's write side, one slot per half. It
/// is itself the waker given to every write-side poll that waits, so
/// whichever half polled last, both are woken.
#[derive(Debug, Default)]
struct WriteWakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl WriteWakers {
    fn register(&self, side: Side, waker: &Waker) {
        let mut slots = lock(&self.slots);
        let slot = &mut slots[side as usize];
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    fn wake_side(&self, side: Side) {
        let waker = lock(&self.slots)[side as usize].take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn wake_all(&self) {
        let slots = core::mem::take(&mut *lock(&self.slots));
        for waker in slots.into_iter().flatten() {
            waker.wake();
        }
    }
}

impl Wake for WriteWakers {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}

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

    /// Gives the transport back, if nothing else holds the state.
    pub(crate) fn into_io(self: Arc<Self>) -> Option<S> {
        Arc::into_inner(self).map(|shared| {
            shared
                .state
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .io
        })
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Shared<S> {
    /// The reader's poll: the next message, `None` once the stream ended.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let mut state = self.state();
        state.poll_next(cx)
    }

    /// `Sink::poll_ready`: waits while more than the high-water mark is queued.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut state = self.state();
        state.check_open()?;
        let limit = state.high_water;
        state.poll_write_side(limit, Side::Writer, cx)
    }

    /// `Sink::start_send`: queues a message in the core.
    pub(crate) fn start_send(&self, message: Message) -> Result<(), Error> {
        let mut state = self.state();
        state.check_open()?;
        state.queue(message)
    }

    /// The future of `send`: waits for room (as `poll_ready`), queues the
    /// message taken from `message` (as `start_send`), then writes
    /// everything queued (as `poll_flush`), in one locked section per poll.
    pub(crate) fn poll_send(
        &self,
        message: &mut Option<Message>,
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

    /// `Sink::poll_close`: queues a 1000 close frame if none was sent,
    /// writes everything, and shuts the transport down if the core says so.
    pub(crate) fn poll_close(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.start_close(CloseCode::NORMAL, "")?;
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

impl<S> State<S> {
    fn wake_reader(&mut self) {
        if let Some(waker) = self.reader_waker.take() {
            waker.wake();
        }
    }

    /// Wakes `side` if it waits on the transport's write side.
    fn wake_side(&self, side: Side) {
        if let Some(wakers) = &self.write_wakers {
            wakers.wake_side(side);
        }
    }

    /// Wakes both halves where they wait on the transport's write side.
    fn wake_all_writers(&self) {
        if let Some(wakers) = &self.write_wakers {
            wakers.wake_all();
        }
    }
}

/// Polls a write-side operation of the transport (write, flush, shutdown):
/// first with a no-op waker, as most finish at once; when the transport
/// makes it wait, registers `waker` for `side` and polls again with the
/// shared write waker (allocated the first time), which the transport then
/// keeps and which wakes every half that waits on the write side.
fn poll_write_op<S, T>(
    io: &mut S,
    write_wakers: &mut Option<Arc<WriteWakers>>,
    side: Side,
    waker: &Waker,
    mut op: impl FnMut(Pin<&mut S>, &mut Context<'_>) -> Poll<T>,
) -> Poll<T>
where
    S: Unpin,
{
    if let Poll::Ready(done) = op(Pin::new(io), &mut Context::from_waker(Waker::noop())) {
        return Poll::Ready(done);
    }
    let wakers = write_wakers.get_or_insert_with(Arc::default);
    wakers.register(side, waker);
    let write_waker = Waker::from(Arc::clone(wakers));
    op(Pin::new(io), &mut Context::from_waker(&write_waker))
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

    /// Queues a message in the core.
    fn queue(&mut self, message: Message) -> Result<(), Error> {
        let is_close = matches!(message, Message::Close(_));
        self.conn.send(message)?;
        if is_close {
            // The reader must start the core's close timer and watch for the answer.
            self.wake_reader();
        }
        Ok(())
    }

    /// For the writer: the transport is still usable.
    fn check_open(&mut self) -> Result<(), Error> {
        if self.failed {
            return Err(self
                .io_error
                .take()
                .map_or(Error::ConnectionClosed, Error::Io));
        }
        if self.shut_down {
            return Err(Error::ConnectionClosed);
        }
        Ok(())
    }

    /// For the writer: writes everything queued and flushes.
    fn poll_flush(&mut self, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        if self.conn.buffered_amount() == 0 && !self.unflushed && !self.failed {
            return Poll::Ready(Ok(()));
        }
        self.check_open()?;
        self.poll_write_side(0, Side::Writer, cx)
    }

    /// A writer-side transmit with the error handed to the caller.
    fn poll_write_side(
        &mut self,
        limit: usize,
        side: Side,
        cx: &Context<'_>,
    ) -> Poll<Result<(), Error>> {
        match ready!(self.poll_transmit(limit, side, cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(err) => {
                self.fail(err);
                Poll::Ready(Err(self
                    .check_open()
                    .err()
                    .unwrap_or(Error::ConnectionClosed)))
            }
        }
    }

    /// Writes queued bytes until at most `limit` remain (then, for 0, flushes
    /// the transport), with vectored writes straight from the core's queue.
    /// Inlined: most calls find nothing to do.
    #[inline]
    fn poll_transmit(
        &mut self,
        limit: usize,
        side: Side,
        cx: &Context<'_>,
    ) -> Poll<io::Result<()>> {
        if self.conn.buffered_amount() <= limit && (limit > 0 || !self.unflushed) {
            return Poll::Ready(Ok(()));
        }
        self.poll_write_out(limit, side, cx)
    }

    /// [`poll_transmit`](Self::poll_transmit) with something to write or flush.
    #[inline(never)]
    fn poll_write_out(
        &mut self,
        limit: usize,
        side: Side,
        cx: &Context<'_>,
    ) -> Poll<io::Result<()>> {
        let mut progressed = false;
        let result = loop {
            if self.conn.buffered_amount() <= limit {
                break Poll::Ready(Ok(()));
            }
            match self.poll_write_queued(side, cx.waker()) {
                Poll::Ready(Ok(0)) => break Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.conn.advance_transmit(n);
                    self.unflushed = true;
                    progressed = true;
                }
                Poll::Ready(Err(err)) if err.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(err)) => break Poll::Ready(Err(err)),
                Poll::Pending => break Poll::Pending,
            }
        };
        if progressed {
            // The other half may be waiting for room in the queue.
            self.wake_side(side.other());
        }
        match result {
            Poll::Ready(Ok(())) if limit == 0 => {
                let flush = poll_write_op(
                    &mut self.io,
                    &mut self.write_wakers,
                    side,
                    cx.waker(),
                    |io, cx| io.poll_flush(cx),
                );
                ready!(flush)?;
                self.unflushed = false;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }

    /// One write of what the core queued: the first chunk alone when it is
    /// the only one (the usual case: small frames share one chunk) or the
    /// transport does not take vectors, else up to [`MAX_SLICES`] chunks in
    /// one vectored write.
    fn poll_write_queued(&mut self, side: Side, waker: &Waker) -> Poll<io::Result<usize>> {
        let mut chunks = self.conn.transmit_slices();
        let first = chunks.next().unwrap_or_default();
        let second = match self.io.is_write_vectored() {
            true => chunks.next(),
            false => None,
        };
        let Some(second) = second else {
            return poll_write_op(
                &mut self.io,
                &mut self.write_wakers,
                side,
                waker,
                |io, cx| io.poll_write(cx, first),
            );
        };
        let mut slices = [IoSlice::new(&[]); MAX_SLICES];
        slices[0] = IoSlice::new(first);
        slices[1] = IoSlice::new(second);
        let mut count = 2;
        for (slot, chunk) in slices[2..].iter_mut().zip(chunks) {
            *slot = IoSlice::new(chunk);
            count += 1;
        }
        let slices = &slices[..count];
        poll_write_op(
            &mut self.io,
            &mut self.write_wakers,
            side,
            waker,
            |io, cx| io.poll_write_vectored(cx, slices),
        )
    }

    /// Shuts the transport's write side down once; errors end it all the same.
    fn poll_shutdown(&mut self, side: Side, cx: &Context<'_>) -> Poll<()> {
        if !self.shut_down {
            // An error here (the peer already gone) leaves the transport just as closed.
            let shutdown = poll_write_op(
                &mut self.io,
                &mut self.write_wakers,
                side,
                cx.waker(),
                |io, cx| io.poll_shutdown(cx),
            );
            let _ = ready!(shutdown);
            self.shut_down = true;
            self.wake_reader();
            self.wake_all_writers();
        }
        Poll::Ready(())
    }

    /// The core's timers (close, linger, keepalive pings, idle timeout):
    /// sleeps until their deadline; `true` once `handle_timeout` was called
    /// because it passed.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.conn.poll_timeout(Instant::now().into_std()) else {
            self.timer = None;
            return false;
        };
        let deadline = Instant::from_std(deadline);
        let sleep = match &mut self.timer {
            Some(sleep) => {
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                sleep
            }
            slot @ None => slot.insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        if sleep.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.timer = None;
        self.conn
            .handle_timeout(Instant::now().max(deadline).into_std());
        true
    }

    /// Reads from the transport into the core: straight into the core's
    /// buffer (sized by its hint for large frames) while data flows, through
    /// a small stack buffer when the connection holds no buffer. A read that
    /// finds nothing waiting gives an empty buffer back, so an idle
    /// connection keeps none. `Ok(0)` is the end of stream.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let hint = self.conn.receive_size_hint();
        let buf = self.conn.receive_buffer();
        if buf.is_empty() && buf.capacity() < MIN_READ {
            if hint <= STACK_READ {
                return self.poll_read_copy::<STACK_READ>(cx);
            }
            *buf = BytesMut::new();
            buf.reserve(hint.min(MAX_RESERVE));
        } else if buf.capacity() - buf.len() < MIN_READ {
            buf.reserve(hint.clamp(MIN_READ, MAX_RESERVE));
        }
        let result = poll_read_spare(Pin::new(&mut self.io), buf, cx);
        if result.is_pending() {
            self.release_read_buffer();
        }
        result
    }

    /// Reads into a stack buffer and hands the bytes to `Connection::receive`
    /// (into the thread's spare buffer when the core has no room).
    fn poll_read_copy<const N: usize>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut stack = [MaybeUninit::<u8>::uninit(); N];
        let mut read = ReadBuf::uninit(&mut stack);
        if Pin::new(&mut self.io)
            .poll_read(cx, &mut read)?
            .is_pending()
        {
            self.release_read_buffer();
            return Poll::Pending;
        }
        let data = read.filled();
        if !data.is_empty() {
            let buf = self.conn.receive_buffer();
            if buf.is_empty() && !buf.try_reclaim(data.len()) {
                *buf = spare::take();
            }
            self.conn.receive(data);
        }
        Poll::Ready(Ok(data.len()))
    }

    /// Waiting for data: an empty read buffer leaves the connection (for the
    /// thread's next read, see [`spare`]), so an idle connection holds none.
    fn release_read_buffer(&mut self) {
        let buf = self.conn.receive_buffer();
        // Even without room (every byte cut off into frames) an empty
        // buffer may hold on to its allocation.
        if buf.is_empty() {
            spare::give(core::mem::take(buf));
        }
    }

    /// A read error or end of stream seen by the reader.
    fn on_read(&mut self, result: io::Result<usize>) {
        match result {
            Ok(0) => self.conn.receive_eof(),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => self.fail(err),
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        if !self
            .reader_waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            self.reader_waker = Some(cx.waker().clone());
        }
        loop {
            match self.phase {
                ReadPhase::Done => return Poll::Ready(None),
                ReadPhase::Reading => {
                    if let Some(item) = self.next_event() {
                        self.settle(cx);
                        return Poll::Ready(Some(item));
                    }
                    if self.failed {
                        if let Some(err) = self.io_error.take() {
                            return Poll::Ready(Some(Err(Error::Io(err))));
                        }
                        // The transport is gone: the core reports 1006 now.
                        self.conn.receive_eof();
                        if let Some(item) = self.next_event() {
                            return Poll::Ready(Some(item));
                        }
                        self.phase = ReadPhase::Done;
                        continue;
                    }
                    // Write what the core queued (pongs); waiting is not needed here.
                    if let Poll::Ready(Err(err)) = self.poll_transmit(0, Side::Reader, cx) {
                        self.fail(err);
                        continue;
                    }
                    // While the connection is open the core's timers are
                    // the keepalive ones, which only matter once the peer
                    // is quiet: they are polled when there is nothing to
                    // read, before the task sleeps. While it closes, the
                    // close timer must fire even if the peer keeps sending.
                    let open = self.conn.ready_state() == ReadyState::Open;
                    if !open && self.poll_timer(cx) {
                        continue;
                    }
                    let result = match self.poll_read(cx) {
                        Poll::Ready(result) => result,
                        Poll::Pending if open && self.poll_timer(cx) => continue,
                        Poll::Pending => return Poll::Pending,
                    };
                    self.on_read(result);
                }
                ReadPhase::Draining => {
                    if self.failed || self.shut_down {
                        self.phase = ReadPhase::Done;
                        continue;
                    }
                    let flushed = match self.poll_transmit(0, Side::Reader, cx) {
                        Poll::Ready(Ok(())) => true,
                        Poll::Ready(Err(err)) => {
                            self.fail(err);
                            continue;
                        }
                        Poll::Pending => false,
                    };
                    // Before waiting on anything: the close timer, or the
                    // linger timer that bounds a write the peer never takes.
                    if self.poll_timer(cx) {
                        continue;
                    }
                    if self.conn.should_close_transport() {
                        if !flushed {
                            return Poll::Pending;
                        }
                        ready!(self.poll_shutdown(Side::Reader, cx));
                        continue;
                    }
                    // The peer is to close the transport (or the timer fires).
                    let result = ready!(self.poll_read_copy::<DRAIN_READ>(cx));
                    self.on_read(result);
                }
            }
        }
    }

    /// Before an item is handed out: writes what the core queued for it (a
    /// pong, a close reply, the close frame of a protocol error) and, if the
    /// core says so, shuts the transport down, as far as that can go without
    /// waiting. A caller that stops reading after the last item still leaves
    /// a finished close behind in the usual case; reading on finishes it in
    /// every case.
    fn settle(&mut self, cx: &Context<'_>) {
        match self.poll_transmit(0, Side::Reader, cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(err)) => return self.fail(err),
            Poll::Pending => return,
        }
        if self.phase == ReadPhase::Draining && self.conn.should_close_transport() {
            let _ = self.poll_shutdown(Side::Reader, cx);
        }
    }

    /// The core's next event as a stream item, if it has one; moves to
    /// draining on the last one.
    fn next_event(&mut self) -> Option<Result<Message, Error>> {
        loop {
            let message = match self.conn.poll_event() {
                Ok(None) => return None,
                Ok(Some(Event::Text(text))) => Message::Text(text),
                Ok(Some(Event::Binary(data))) => Message::Binary(data),
                Ok(Some(Event::Ping(data))) => Message::Ping(data),
                Ok(Some(Event::Pong(data))) => Message::Pong(data),
                Ok(Some(Event::Close(frame))) => {
                    self.end_reading();
                    return Some(Ok(Message::Close(frame)));
                }
                Err(err) => {
                    self.end_reading();
                    return Some(Err(Error::from(err)));
                }
                // A fragment: only a connection built with fragment delivery
                // on makes them, and the stream has no item for one (see
                // `WebSocketStream::from_connection`).
                Ok(Some(_)) => continue,
            };
            return Some(Ok(message));
        }
    }

    /// After the last item: the reader drains, and a writer waiting on the
    /// closed connection finds out.
    fn end_reading(&mut self) {
        self.phase = ReadPhase::Draining;
        self.wake_side(Side::Writer);
    }
}

/// Reads into the spare capacity of `buf` without zeroing it first.
fn poll_read_spare<S: AsyncRead + Unpin>(
    io: Pin<&mut S>,
    buf: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<io::Result<usize>> {
    let spare = buf.chunk_mut();
    // SAFETY: the slice is only handed to `ReadBuf`, which never writes
    // uninitialized bytes into it, so no initialized byte is de-initialized.
    let spare = unsafe { spare.as_uninit_slice_mut() };
    let start = spare.as_ptr();
    let mut read = ReadBuf::uninit(spare);
    ready!(io.poll_read(cx, &mut read))?;
    if read.filled().as_ptr().cast::<MaybeUninit<u8>>() != start {
        return Poll::Ready(Err(io::Error::other(
            "the transport's poll_read swapped the read buffer",
        )));
    }
    let n = read.filled().len();
    // SAFETY: the check above shows `read` still covers our spare capacity,
    // and its first `n` bytes (the filled part) are initialized.
    unsafe { buf.advance_mut(n) };
    Poll::Ready(Ok(n))
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::Waker;

    use tokio::io::AsyncWriteExt;
    use ws_proto::{Config, Role};

    use super::*;

    fn poll_once<S: AsyncRead + AsyncWrite + Unpin>(
        shared: &Shared<S>,
    ) -> Poll<Option<Result<Message, Error>>> {
        shared.poll_next(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test]
    async fn an_idle_connection_keeps_no_read_buffer() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 20);
        let shared = Shared::new(ours, Connection::new(Role::Server, Config::default()));
        let mut client = Connection::new(Role::Client, Config::default());
        for len in [0, 10, 5000, 300_000] {
            client.send_binary(vec![1u8; len]).unwrap();
            client.send_binary(vec![2u8; len]).unwrap();
            while let Some(bytes) = client.poll_transmit() {
                theirs.write_all(&bytes).await.unwrap();
            }
            for _ in 0..2 {
                let message = poll_fn(|cx| shared.poll_next(cx)).await.unwrap().unwrap();
                assert_eq!(message.len(), len);
            }
            // Nothing more to read: the poll waits, holding no buffer.
            assert!(poll_once(&shared).is_pending());
            let mut state = lock(&shared.state);
            let buf = state.conn.receive_buffer();
            assert_eq!(buf.capacity(), 0, "after two {len}-byte messages");
            // Not even an allocation with no room left in it: there is
            // nothing to reclaim.
            assert!(!buf.try_reclaim(1), "after two {len}-byte messages");
        }
    }

    #[tokio::test]
    async fn the_close_timer_fires_while_the_peer_keeps_sending() {
        use std::time::Duration;
        use tokio::io::AsyncReadExt;
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let config = Config::default().close_timeout(Duration::from_millis(100));
        let mut ws = crate::WebSocketStream::from_raw(ours, Role::Server, config);
        // A peer that never answers the close frame and never stops sending.
        let flood = tokio::spawn(async move {
            let (mut from_us, mut to_us) = tokio::io::split(theirs);
            tokio::spawn(async move {
                let mut sink = [0; 4096];
                while from_us.read(&mut sink).await.is_ok_and(|n| n > 0) {}
            });
            let mut client = Connection::new(Role::Client, Config::default());
            loop {
                client.send_text("more").unwrap();
                while let Some(bytes) = client.poll_transmit() {
                    if to_us.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                tokio::task::yield_now().await;
            }
        });
        let closing = ws.close(CloseCode::NORMAL, "");
        let closed = tokio::time::timeout(Duration::from_secs(5), closing).await;
        flood.abort();
        assert!(closed.is_ok(), "the close timer did not end the close");
    }

    /// A counting waker, for tests of who is woken.
    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(Default::default()));
        (Arc::clone(&count), Waker::from(count))
    }

    fn woken(count: &Count) -> usize {
        count.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_full_transport_wakes_both_waiting_halves() {
        use tokio::io::AsyncReadExt;
        let (ours, mut theirs) = tokio::io::duplex(64);
        let shared = Shared::new(ours, Connection::new(Role::Server, Config::default()));
        // Writes that finish at once never allocate the shared write waker.
        shared.start_send(Message::text("small")).unwrap();
        let (writer, writer_waker) = counter();
        let mut cx = Context::from_waker(&writer_waker);
        assert!(shared.poll_flush(&mut cx).is_ready());
        assert!(lock(&shared.state).write_wakers.is_none());
        let mut sink = vec![0; 64];
        theirs.read_exact(&mut sink[..7]).await.unwrap();

        // The writer waits on a full pipe.
        shared.start_send(Message::binary(vec![7; 1000])).unwrap();
        assert!(shared.poll_flush(&mut cx).is_pending());
        assert!(lock(&shared.state).write_wakers.is_some());
        // The reader reads a ping; its pong waits behind the writer's bytes.
        let mut client = Connection::new(Role::Client, Config::default());
        client.send_ping(&b"p"[..]).unwrap();
        while let Some(bytes) = client.poll_transmit() {
            theirs.write_all(&bytes).await.unwrap();
        }
        let (reader, reader_waker) = counter();
        let item = shared.poll_next(&mut Context::from_waker(&reader_waker));
        assert!(matches!(item, Poll::Ready(Some(Ok(Message::Ping(_))))));
        assert!(shared
            .poll_next(&mut Context::from_waker(&reader_waker))
            .is_pending());
        assert_eq!((woken(&writer), woken(&reader)), (0, 0));
        // Room in the pipe wakes both halves.
        theirs.read_exact(&mut sink).await.unwrap();
        assert_eq!((woken(&writer), woken(&reader)), (1, 1));
    }

    #[test]
    fn write_wakers_wake_every_waiting_half() {
        let (reader, reader_waker) = counter();
        let (writer, writer_waker) = counter();
        let wakers = Arc::new(WriteWakers::default());
        wakers.register(Side::Reader, &reader_waker);
        wakers.register(Side::Writer, &writer_waker);
        // The transport holds the shared waker, whoever polled it last.
        Waker::from(Arc::clone(&wakers)).wake_by_ref();
        assert_eq!(woken(&reader), 1);
        assert_eq!(woken(&writer), 1);
        // Each registration is woken once.
        Waker::from(wakers).wake();
        assert_eq!(woken(&reader), 1);
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
