//! The write path: queueing in the core, writing what it queued to the
//! transport, flushing, and shutting the transport's write side down.

use std::io::{self, IoSlice};
use std::task::{ready, Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::frame::OpCode;
use ws_proto::{Connection, Frame, Message, SendError};

use super::wakers::Side;
use super::State;
use crate::Error;

/// Up to this many queued chunks go into one vectored write from the stack.
const MAX_SLICES: usize = 64;

/// A longer queue (a broadcast round of shared frames) goes out in one
/// vectored write of up to this many chunks, Linux's `IOV_MAX`, from a
/// vector allocated for that write.
const MAX_SLICES_HEAP: usize = 1024;

impl<S: AsyncRead + AsyncWrite + Unpin> State<S> {
    /// Queues a message in the core.
    pub(super) fn queue<T: Outgoing>(&mut self, item: T) -> Result<(), Error> {
        let is_close = item.queue_in(&mut self.conn)?;
        if is_close {
            // The reader must start the core's close timer and watch for the answer.
            self.wake_reader();
        }
        Ok(())
    }

    /// For the writer: the transport is still usable.
    pub(super) fn check_open(&mut self) -> Result<(), Error> {
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
    pub(super) fn poll_flush(&mut self, cx: &Context<'_>) -> Poll<Result<(), Error>> {
        if self.conn.buffered_amount() == 0 && !self.unflushed && !self.failed {
            return Poll::Ready(Ok(()));
        }
        self.check_open()?;
        self.poll_write_side(0, Side::Writer, cx)
    }

    /// A writer-side transmit with the error handed to the caller.
    pub(super) fn poll_write_side(
        &mut self,
        limit: usize,
        side: Side,
        cx: &Context<'_>,
    ) -> Poll<Result<(), Error>> {
        match ready!(self.poll_flush_queued(limit, side, cx)) {
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
    pub(super) fn poll_flush_queued(
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

    /// [`poll_flush_queued`](Self::poll_flush_queued) with something to write or flush.
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
                let flush = Self::poll_write_op(
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
            return Self::poll_write_op(
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
        for (slot, chunk) in slices[2..].iter_mut().zip(&mut chunks) {
            *slot = IoSlice::new(chunk);
            count += 1;
        }
        let mut more = chunks.peekable();
        if count == MAX_SLICES && more.peek().is_some() {
            let mut long = Vec::with_capacity(MAX_SLICES_HEAP);
            long.extend_from_slice(&slices);
            long.extend(more.take(MAX_SLICES_HEAP - MAX_SLICES).map(IoSlice::new));
            return Self::poll_write_op(
                &mut self.io,
                &mut self.write_wakers,
                side,
                waker,
                |io, cx| io.poll_write_vectored(cx, &long),
            );
        }
        let slices = &slices[..count];
        Self::poll_write_op(
            &mut self.io,
            &mut self.write_wakers,
            side,
            waker,
            |io, cx| io.poll_write_vectored(cx, slices),
        )
    }

    /// Shuts the transport's write side down once; errors end it all the same.
    pub(super) fn poll_shutdown(&mut self, side: Side, cx: &Context<'_>) -> Poll<()> {
        if !self.shut_down {
            // An error here (the peer already gone) leaves the transport just as closed.
            let shutdown = Self::poll_write_op(
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
}

/// What the writer queues in the core: a message or a frame.
pub(crate) trait Outgoing {
    /// Queues it in the core; `true` if it is a close frame.
    fn queue_in(self, conn: &mut Connection) -> Result<bool, SendError>;
}

impl Outgoing for Message {
    #[inline]
    fn queue_in(self, conn: &mut Connection) -> Result<bool, SendError> {
        let is_close = matches!(self, Self::Close(_));
        conn.send(self)?;
        Ok(is_close)
    }
}

impl Outgoing for Frame {
    fn queue_in(self, conn: &mut Connection) -> Result<bool, SendError> {
        let is_close = self.opcode == OpCode::Close;
        conn.send_frame(self)?;
        Ok(is_close)
    }
}
