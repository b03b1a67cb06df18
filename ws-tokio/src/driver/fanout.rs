//! The driver's side of a broadcast group: delivering a prepared message
//! into the core's queue without writing, and writing a member's queue
//! later, once for everything delivered since its last write.
//!
//! A delivery marks the connection's queue *deferred*: the group's flush
//! writes it soon, so the member's own reader does not write it first (in
//! a round where N members each publish one message, a reader that wrote
//! before the flush would add up to two writes per member). Deferral only
//! holds data back while the reader is reading messages; a closing
//! connection, or a `send` of the application's own, writes everything.

use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{Delivery, PreparedMessage, QueueLimit, ReadyState};

use super::wakers::Side;
use super::{ReadPhase, Shared};

impl<S> Shared<S> {
    /// Queues `message` under `limit` (the core's fan-out policy decides),
    /// without writing: the caller flushes with
    /// [`write_deferred`](Self::write_deferred). The flag is `true` when
    /// this delivery is the first since the last write, so the caller adds
    /// the member to its flush once per round.
    pub(crate) fn deliver(&self, message: &PreparedMessage, limit: QueueLimit) -> (Delivery, bool) {
        let mut state = self.state();
        if state.failed || state.shut_down {
            return (Delivery::NotOpen, false);
        }
        let outcome = state.conn.deliver(message, limit);
        let mut newly_deferred = false;
        match outcome {
            Delivery::Queued => {
                newly_deferred = !state.deferred;
                state.deferred = true;
            }
            // The reader starts the close timer and finishes the close.
            Delivery::Closed(_) => {
                state.deferred = false;
                state.wake_reader();
            }
            Delivery::Dropped | Delivery::NotOpen => {}
        }
        (outcome, newly_deferred)
    }

    /// Whether the connection is open: no close sent or received, transport whole.
    pub(crate) fn is_open(&self) -> bool {
        let state = self.state();
        !state.failed && !state.shut_down && state.conn.ready_state() == ReadyState::Open
    }

    /// Server shutdown: queues the core's 1001 close, to be written by the
    /// next flush; the reader runs the close handshake. `false` when the
    /// connection was already closing or closed.
    pub(crate) fn go_away(&self) -> bool {
        let mut state = self.state();
        let started = state.conn.go_away();
        if started {
            state.deferred = false;
            state.wake_reader();
        }
        started
    }

    /// Whether the connection has ended: closed in the core, or its
    /// transport broken or shut down.
    pub(crate) fn has_ended(&self) -> bool {
        let state = self.state();
        state.failed
            || state.shut_down
            || state.phase == ReadPhase::Done
            || state.conn.ready_state() == ReadyState::Closed
    }

    /// Lets go of data held back for a flush that will not come (the
    /// member left its group): the reader writes it.
    pub(crate) fn stop_deferring(&self) {
        let mut state = self.state();
        if state.deferred {
            state.deferred = false;
            state.wake_reader();
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Shared<S> {
    /// Writes everything queued as far as the transport takes it now, in
    /// one vectored write where it can. When the transport is full, the
    /// member's reader is woken once it has room and writes the rest (every
    /// poll of the reader writes what is queued).
    pub(crate) fn write_deferred(&self) {
        let mut state = self.state();
        state.deferred = false;
        if state.failed || state.shut_down || state.conn.buffered_amount() == 0 {
            return;
        }
        let waker = state
            .reader_waker
            .take()
            .unwrap_or_else(|| Waker::noop().clone());
        let result = state.poll_flush_queued(0, Side::Reader, &Context::from_waker(&waker));
        // Put it back unless the reader registered a newer one meanwhile
        // (it cannot: it would need this lock).
        state.reader_waker.get_or_insert(waker);
        if let Poll::Ready(Err(err)) = result {
            state.fail(err);
        }
    }
}
