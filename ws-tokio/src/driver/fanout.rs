//! The driver's side of a broadcast group: the messages published since
//! the group's last flush, delivered to one member and written, under one
//! lock of its state.
//!
//! Taking the member's lock once per round rather than once per message is
//! what makes a round cheap: at 1,000 members, locking each member's state
//! for each message cost more than everything else the server did in user
//! space (measured with perf on the broadcast example).

use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{Delivery, DeliveryCounts, PreparedMessage, QueueLimit, ReadyState};

use super::wakers::Side;
use super::{ReadPhase, Shared};

impl<S> Shared<S> {
    /// Server shutdown: queues the core's 1001 close; the reader writes it
    /// and runs the close handshake. `false` when the connection was
    /// already closing or closed.
    pub(crate) fn go_away(&self) -> bool {
        let mut state = self.state();
        let started = state.conn.go_away();
        if started {
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
}

impl<S: AsyncRead + AsyncWrite + Unpin> Shared<S> {
    /// Delivers each of `messages` that `wanted` accepts, under `limit`
    /// (the core's fan-out policy decides), then writes everything queued as
    /// far as the transport takes it now, in one vectored write where it
    /// can. When the transport is full the member's reader is woken once it
    /// has room and writes the rest (every poll of the reader writes what is
    /// queued). Returns the outcomes and whether the member is still open.
    pub(crate) fn deliver_and_write<'a>(
        &self,
        messages: impl Iterator<Item = &'a PreparedMessage>,
        limit: QueueLimit,
    ) -> (DeliveryCounts, bool) {
        let mut counts = DeliveryCounts::default();
        let mut state = self.state();
        if state.failed || state.shut_down {
            for _ in messages {
                counts.record(Delivery::NotOpen);
            }
            return (counts, false);
        }
        for message in messages {
            let outcome = state.conn.deliver(message, limit);
            counts.record(outcome);
            if let Delivery::Closed(_) = outcome {
                // The reader starts the close timer and finishes the close.
                state.wake_reader();
            }
        }
        if state.conn.buffered_amount() > 0 {
            let waker = state
                .reader_waker
                .take()
                .unwrap_or_else(|| Waker::noop().clone());
            let result = state.poll_flush_queued(0, Side::Reader, &Context::from_waker(&waker));
            // The reader cannot have registered another: that needs this lock.
            state.reader_waker.get_or_insert(waker);
            if let Poll::Ready(Err(err)) = result {
                state.fail(err);
            }
        }
        let open =
            !state.failed && !state.shut_down && state.conn.ready_state() == ReadyState::Open;
        (counts, open)
    }
}
