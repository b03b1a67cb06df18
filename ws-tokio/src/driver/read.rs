//! The read path: reading from the transport into the core and handing out
//! the core's events as stream items.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ws_proto::{Connection, Event, EventRef, Frame, Message, ReadBufferPool, ReadyState};

use super::wakers::Side;
use super::{Opened, ReadPhase, State};
use crate::Error;

/// Reads after the end was reported (waiting for the peer to close the
/// transport) only look for the end of stream; the core discards the bytes.
const DRAIN_READ: usize = 1024;

thread_local! {
    /// The thread's spare read buffer, shared by the connections its tasks
    /// drive (see [`ReadBufferPool`]).
    static POOL: RefCell<ReadBufferPool> = RefCell::new(ReadBufferPool::new());
}

/// [`Connection::prepare_receive_buffer`] with this thread's pool (a fresh
/// one during thread teardown).
#[inline]
fn prepare(conn: &mut Connection) {
    let prepared = POOL.try_with(|pool| {
        conn.prepare_receive_buffer(&mut pool.borrow_mut());
    });
    if prepared.is_err() {
        conn.prepare_receive_buffer(&mut ReadBufferPool::new());
    }
}

/// [`Connection::release_receive_buffer`] into this thread's pool (freed
/// during thread teardown).
#[inline]
fn release(conn: &mut Connection) {
    let released = POOL.try_with(|pool| conn.release_receive_buffer(&mut pool.borrow_mut()));
    if released.is_err() {
        conn.release_receive_buffer(&mut ReadBufferPool::new());
    }
}

/// Ends the task's turn and has it polled again after the other tasks
/// ready to run: tokio's `yield_now`, which defers the wake-up so that the
/// task is not run again at once (as a wake-up from inside its own poll
/// could be on the multi-thread runtime).
fn yield_turn<T>(cx: &mut Context<'_>) -> Poll<T> {
    let yielded = std::pin::pin!(tokio::task::yield_now()).poll(cx);
    debug_assert!(
        yielded.is_pending(),
        "yield_now is pending when first polled"
    );
    Poll::Pending
}

impl<S: AsyncRead + AsyncWrite + Unpin> State<S> {
    /// Reads from the transport straight into the core's buffer, which the
    /// core sizes (its policy: [`Connection::prepare_receive_buffer`]); a
    /// read that finds nothing waiting gives the buffer back
    /// ([`Connection::release_receive_buffer`]), so an idle connection holds
    /// none. `Ok(0)` is the end of stream.
    ///
    /// [`Connection::prepare_receive_buffer`]: ws_proto::Connection::prepare_receive_buffer
    /// [`Connection::release_receive_buffer`]: ws_proto::Connection::release_receive_buffer
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        prepare(&mut self.conn);
        let buf = self.conn.receive_buffer();
        let result = Self::poll_read_spare(Pin::new(&mut self.io), buf, cx);
        if result.is_pending() {
            release(&mut self.conn);
        }
        result
    }

    /// Reads into a stack buffer and hands the bytes to `Connection::receive`
    /// (while draining: the core only looks for the end of stream).
    fn poll_read_copy<const N: usize>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut stack = [MaybeUninit::<u8>::uninit(); N];
        let mut read = ReadBuf::uninit(&mut stack);
        ready!(Pin::new(&mut self.io).poll_read(cx, &mut read))?;
        let data = read.filled();
        self.conn.receive(data);
        Poll::Ready(Ok(data.len()))
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

    pub(super) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        self.poll_items::<true, _>(cx, Self::next_message)
    }

    /// [`poll_next`](Self::poll_next) in frames.
    pub(super) fn poll_next_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame, Error>>> {
        self.poll_items::<true, _>(cx, Self::next_frame)
    }

    /// The handshake's poll: the same loop as [`poll_next`](Self::poll_next),
    /// handing out the core's [`Opened`] events (and the handshake's error)
    /// instead of messages.
    pub(super) fn poll_opening(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Opened, Error>>> {
        self.poll_items::<false, _>(cx, Self::next_opened)
    }

    /// The read loop, for messages or the handshake's events (`next` takes
    /// the next one from the core): write what the core queued, run its
    /// timers, read, feed, until `next` has an item or the task must wait.
    ///
    /// `LAZY`: an item that the core did not answer leaves what is queued
    /// for the next read (see [`settle`](Self::settle)); the handshake's
    /// items write at once (the server's response is queued before its
    /// `Accepted`).
    #[inline(always)]
    fn poll_items<const LAZY: bool, T>(
        &mut self,
        cx: &mut Context<'_>,
        next: impl Fn(&mut Self) -> Option<Result<T, Error>>,
    ) -> Poll<Option<Result<T, Error>>> {
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
                    let queued = self.conn.buffered_amount();
                    if let Some(item) = next(self) {
                        self.settle(LAZY && self.conn.buffered_amount() <= queued, cx);
                        return Poll::Ready(Some(item));
                    }
                    if self.failed {
                        if let Some(err) = self.io_error.take() {
                            return Poll::Ready(Some(Err(Error::Io(err))));
                        }
                        // The transport is gone: the core reports 1006 now.
                        self.conn.receive_eof();
                        if let Some(item) = next(self) {
                            return Poll::Ready(Some(item));
                        }
                        self.phase = ReadPhase::Done;
                        continue;
                    }
                    // Write what the core queued (pongs); waiting is not needed here.
                    if let Poll::Ready(Err(err)) = self.poll_flush_queued(0, Side::Reader, cx) {
                        self.fail(err);
                        continue;
                    }
                    // The core says when its timers only matter once the
                    // peer is quiet (keepalive): then they are polled when
                    // there is nothing to read, before the task sleeps.
                    // Otherwise (handshake, close) they are polled before
                    // every read, so a peer that keeps sending cannot hold
                    // them off.
                    let quiet_only = self.conn.timers_wait_for_quiet();
                    if !quiet_only && self.poll_timer(cx) {
                        continue;
                    }
                    let result = match self.poll_read(cx) {
                        Poll::Ready(result) => result,
                        Poll::Pending if quiet_only && self.poll_timer(cx) => continue,
                        Poll::Pending => {
                            self.read_in_a_row = false;
                            return Poll::Pending;
                        }
                    };
                    self.on_read(result);
                    // Fairness: once reads keep finding bytes, each one
                    // ends the task's turn, and what it read is handed out
                    // in the next: one read's worth of messages per turn. A
                    // peer that keeps sending would otherwise keep this task
                    // reading (tokio's budget allows 128 reads a turn) while
                    // the other connections' tasks wait: at 100 connections
                    // with 16 messages in flight, 1 in 100 messages waited
                    // over 26 ms. A read that finds nothing ends the run (and
                    // the turn anyway), so one message at a time costs no
                    // yield.
                    if self.read_in_a_row {
                        return yield_turn(cx);
                    }
                    self.read_in_a_row = true;
                }
                ReadPhase::Draining => {
                    if self.failed || self.shut_down {
                        self.phase = ReadPhase::Done;
                        continue;
                    }
                    let flushed = match self.poll_flush_queued(0, Side::Reader, cx) {
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

    /// Before an item is handed out, unless `lazy` (a message the core did
    /// not answer with a pong, a close reply or the close frame of a
    /// protocol error) and it is not the last: writes what is
    /// queued and, if the core says so, shuts the transport down, as far as
    /// that can go without waiting. A caller that stops reading after the
    /// last item still leaves a finished close behind in the usual case;
    /// reading on finishes it in every case.
    ///
    /// A data message writes nothing: what the application feeds
    /// (`SinkExt::feed`) while it reads goes out in one write before the
    /// next read, so a server that answers each message of a read with
    /// `feed` makes one write per read rather than one per message.
    fn settle(&mut self, lazy: bool, cx: &Context<'_>) {
        if lazy && self.phase != ReadPhase::Draining {
            return;
        }
        match self.poll_flush_queued(0, Side::Reader, cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(err)) => return self.fail(err),
            Poll::Pending => return,
        }
        if self.phase == ReadPhase::Draining && self.conn.should_close_transport() {
            let _ = self.poll_shutdown(Side::Reader, cx);
        }
    }

    /// The core's next event as a stream item, if it has one; moves to
    /// draining on the last one. A function of its own, with the core's
    /// `poll_event` inlined into it: this is the path of every message.
    #[inline(never)]
    fn next_message(&mut self) -> Option<Result<Message, Error>> {
        let message = match self.conn.poll_event() {
            Ok(None) => return None,
            Ok(Some(Event::Text(text))) => Message::Text(text),
            Ok(Some(Event::Binary(data))) => Message::Binary(data),
            Ok(Some(Event::Ping(data))) => Message::Ping(data),
            Ok(Some(Event::Pong(data))) => Message::Pong(data),
            Ok(Some(Event::Fragment(piece))) => Message::Fragment(piece),
            Ok(Some(Event::Close(frame))) => {
                self.end_reading();
                return Some(Ok(Message::Close(frame)));
            }
            Err(err) => {
                self.end_reading();
                return Some(Err(Error::from(err)));
            }
            // The handshake's events come before the stream exists; frames
            // (frame mode) are read with `recv_frame`. The last event still
            // ends the stream.
            Ok(Some(other)) => {
                if other.ends_connection() {
                    self.end_reading();
                }
                return None;
            }
        };
        Some(Ok(message))
    }

    /// The core's next event as a frame ([`Event::into_frame`]); moves to
    /// draining on the last one. An end without a close frame ends the
    /// stream with no item.
    fn next_frame(&mut self) -> Option<Result<Frame, Error>> {
        match self.conn.poll_event() {
            Ok(None) => None,
            Ok(Some(event)) => {
                if event.ends_connection() {
                    self.end_reading();
                }
                event.into_frame().map(Ok)
            }
            Err(err) => {
                self.end_reading();
                Some(Err(Error::from(err)))
            }
        }
    }

    /// The core's next handshake event ([`Opened`]), or the handshake's error.
    #[inline(never)]
    fn next_opened(&mut self) -> Option<Result<Opened, Error>> {
        // Server, after the acceptance: the events that follow are messages.
        if self.conn.ready_state() == ReadyState::Open {
            return Some(Ok(Opened::Accepted));
        }
        // `poll_event_ref`: `poll_event` has one call site in the crate
        // (the message path), where it is inlined. The handshake's events
        // are owned boxes either way.
        match self.conn.poll_event_ref() {
            Ok(Some(EventRef::Request(request))) => Some(Ok(Opened::Request(request))),
            Ok(Some(EventRef::Response(response))) => Some(Ok(Opened::Response(response))),
            Ok(_) => None,
            Err(err) => {
                self.end_reading();
                Some(Err(Error::from(err)))
            }
        }
    }

    /// After the last item: the reader drains, and a writer waiting on the
    /// closed connection finds out.
    fn end_reading(&mut self) {
        self.phase = ReadPhase::Draining;
        self.wake_side(Side::Writer);
    }
}

// An associated function rather than a free one: see `State::poll_write_op`.
impl<S: AsyncRead + Unpin> State<S> {
    /// Reads into the spare capacity of `buf` without zeroing it first.
    fn poll_read_spare(
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
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::Waker;

    use tokio::io::AsyncWriteExt;
    use ws_proto::{Config, Connection, Role};

    use super::super::{lock, Shared};
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
    async fn a_peer_that_keeps_sending_gets_one_read_per_turn() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let shared = Shared::new(ours, Connection::new(Role::Server, Config::default()));
        let mut client = Connection::new(Role::Client, Config::default());
        let mut send = async |len: usize| {
            client.send_binary(vec![7u8; len]).unwrap();
            while let Some(bytes) = client.poll_transmit() {
                theirs.write_all(&bytes).await.unwrap();
            }
        };
        // Each message is waiting when the poll reads, so every read finds
        // bytes: the first read hands its message out at once; from the
        // second on, each read ends the turn and its message comes in the
        // next poll.
        for (len, yields) in [(10, false), (20, true), (30, true), (40, true)] {
            send(len).await;
            let mut polled = poll_once(&shared);
            if yields {
                assert!(
                    polled.is_pending(),
                    "no yield before the {len}-byte message"
                );
                polled = poll_once(&shared);
            }
            match polled {
                Poll::Ready(Some(Ok(message))) => assert_eq!(message.len(), len),
                other => panic!("expected the {len}-byte message, got {other:?}"),
            }
        }
        // A read that finds nothing ends the run: the next message is
        // handed out without a yield.
        assert!(poll_once(&shared).is_pending());
        send(50).await;
        match poll_once(&shared) {
            Poll::Ready(Some(Ok(message))) => assert_eq!(message.len(), 50),
            other => panic!("expected the 50-byte message at once, got {other:?}"),
        }
    }

    /// A transport that counts the writes made to it.
    struct CountingWrites {
        inner: tokio::io::DuplexStream,
        writes: usize,
    }

    impl AsyncRead for CountingWrites {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for CountingWrites {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.writes += 1;
            Pin::new(&mut self.inner).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.writes += 1;
            Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    #[tokio::test]
    async fn answers_fed_while_reading_go_out_in_one_write_before_the_next_read() {
        use futures_util::SinkExt;
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let counting = CountingWrites {
            inner: ours,
            writes: 0,
        };
        let mut ws = crate::WebSocketStream::from_raw(counting, Role::Server, Config::default());
        let mut client = Connection::new(Role::Client, Config::default());
        // Sixteen messages in one write, then a ping after them.
        for i in 0..16u8 {
            client.send_binary(vec![i; 100]).unwrap();
        }
        client.send(Message::Ping("p".into())).unwrap();
        let mut wire = Vec::new();
        while let Some(bytes) = client.poll_transmit() {
            wire.extend_from_slice(&bytes);
        }
        theirs.write_all(&wire).await.unwrap();
        // The echo loop: each message fed back while the next is read.
        for i in 0..16u8 {
            match ws.recv().await {
                Some(Ok(Message::Binary(data))) => assert_eq!(data, vec![i; 100]),
                other => panic!("message {i}: {other:?}"),
            }
            ws.feed(Message::binary(vec![i; 100])).await.unwrap();
        }
        // The ping is an item the core answered: its pong goes out, with
        // the sixteen answers ahead of it, in one write.
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Ping("p".into()));
        let writes = ws.into_inner().writes;
        assert_eq!(writes, 1, "16 fed answers and a pong");
        let mut echoed = vec![0u8; 16 * 102 + 3];
        tokio::io::AsyncReadExt::read_exact(&mut theirs, &mut echoed)
            .await
            .unwrap();
        client.receive(&echoed);
        for i in 0..16u8 {
            match client.poll_event().unwrap() {
                Some(ws_proto::Event::Binary(data)) => assert_eq!(data, vec![i; 100]),
                other => panic!("answer {i}: {other:?}"),
            }
        }
        assert!(matches!(
            client.poll_event().unwrap(),
            Some(ws_proto::Event::Pong(_))
        ));
    }

    #[tokio::test]
    async fn fragments_pass_through_when_the_config_asks_for_them() {
        use ws_proto::{Fragment, MessageKind};
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let config = Config::default().deliver_fragments(true);
        let mut ws = crate::WebSocketStream::from_raw(ours, Role::Server, config);
        let mut client = Connection::new(Role::Client, Config::default());
        for (i, piece) in [&b"ab"[..], b"cd"].into_iter().enumerate() {
            let fragment = Fragment {
                kind: MessageKind::Binary,
                data: bytes::Bytes::from_static(piece),
                is_first: i == 0,
                is_last: i == 1,
            };
            client.send(Message::Fragment(fragment)).unwrap();
        }
        while let Some(bytes) = client.poll_transmit() {
            theirs.write_all(&bytes).await.unwrap();
        }
        for (first, last, data) in [(true, false, b"ab"), (false, true, b"cd")] {
            match ws.recv().await {
                Some(Ok(Message::Fragment(piece))) => {
                    assert_eq!((piece.is_first, piece.is_last), (first, last));
                    assert_eq!(piece.data, &data[..]);
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
