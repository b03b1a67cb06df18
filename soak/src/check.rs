//! What the soak client checks about the echoes of its numbered messages.
//!
//! Every message a client sends carries the next number; the server echoes
//! it. TCP delivers in order and the server echoes in order, so on one
//! connection echoes come back in the order sent, each once. When the
//! connection dies, what was sent after the last echo may have been lost
//! with it (that is allowed: the application sends it again); a message
//! sent before an echo that did arrive, and never echoed, was lost in the
//! middle of a live stream, which is not allowed.

use std::collections::BTreeSet;

/// Totals over all of a client's connections.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Messages sent.
    pub sent: u64,
    /// Echoes received (each counted once).
    pub echoed: u64,
    /// Never echoed though a later message was, or sent on a connection
    /// that was still up at the end and never echoed.
    pub lost: u64,
    /// Echoed after a message sent later.
    pub reordered: u64,
    /// Echoed again, or an echo of something not sent on this connection.
    pub duplicated: u64,
    /// Sent after the last echo on a connection that then died: may or may
    /// not have arrived (not an error).
    pub unconfirmed: u64,
}

impl Counts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &Self) {
        self.sent += other.sent;
        self.echoed += other.echoed;
        self.lost += other.lost;
        self.reordered += other.reordered;
        self.duplicated += other.duplicated;
        self.unconfirmed += other.unconfirmed;
    }
}

/// One client's bookkeeping.
///
/// ```
/// use ws_soak::check::SeqCheck;
/// let mut check = SeqCheck::default();
/// check.sent(1);
/// check.sent(2);
/// check.sent(3);
/// check.echoed(1);
/// check.echoed(3); // 2 was skipped: lost in the middle of the stream
/// check.connection_lost();
/// assert_eq!((check.counts().lost, check.counts().reordered), (1, 0));
/// ```
#[derive(Debug, Default)]
pub struct SeqCheck {
    outstanding: BTreeSet<u64>,
    highest_echo: Option<u64>,
    counts: Counts,
}

impl SeqCheck {
    /// Message `seq` was sent on the current connection.
    pub fn sent(&mut self, seq: u64) {
        self.counts.sent += 1;
        self.outstanding.insert(seq);
    }

    /// The echo of message `seq` arrived on the current connection.
    pub fn echoed(&mut self, seq: u64) {
        if !self.outstanding.remove(&seq) {
            self.counts.duplicated += 1;
            return;
        }
        self.counts.echoed += 1;
        if self.highest_echo.is_some_and(|h| h > seq) {
            self.counts.reordered += 1;
        }
        self.highest_echo = Some(self.highest_echo.map_or(seq, |h| h.max(seq)));
    }

    /// Sent and not yet echoed on the current connection.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// The current connection died: messages sent before the last echo and
    /// never echoed are lost, the tail is unconfirmed. The next connection
    /// starts afresh.
    pub fn connection_lost(&mut self) {
        for seq in core::mem::take(&mut self.outstanding) {
            match self.highest_echo {
                // A reordered echo may still come later only on the same
                // connection, which is gone.
                Some(h) if seq < h => self.counts.lost += 1,
                _ => self.counts.unconfirmed += 1,
            }
        }
        self.highest_echo = None;
    }

    /// The run is over and the current connection is still up: whatever was
    /// never echoed is lost.
    pub fn finish_connected(&mut self) {
        self.counts.lost += self.outstanding.len() as u64;
        self.outstanding.clear();
    }

    /// The totals so far.
    pub fn counts(&self) -> Counts {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(sent: &[u64], echoed: &[u64]) -> SeqCheck {
        let mut check = SeqCheck::default();
        for &s in sent {
            check.sent(s);
        }
        for &e in echoed {
            check.echoed(e);
        }
        check
    }

    #[test]
    fn in_order_is_clean() {
        let mut check = run(&[1, 2, 3], &[1, 2, 3]);
        check.finish_connected();
        let c = check.counts();
        assert_eq!(
            (c.sent, c.echoed, c.lost, c.reordered, c.duplicated),
            (3, 3, 0, 0, 0)
        );
    }

    #[test]
    fn the_tail_of_a_dead_connection_is_unconfirmed_not_lost() {
        let mut check = run(&[1, 2, 3, 4], &[1, 2]);
        check.connection_lost();
        assert_eq!((check.counts().lost, check.counts().unconfirmed), (0, 2));
        // The next connection starts afresh.
        check.sent(5);
        check.echoed(5);
        check.finish_connected();
        assert_eq!(check.counts().lost, 0);
    }

    #[test]
    fn a_gap_is_lost_a_late_one_reordered_a_repeat_duplicated() {
        let mut check = run(&[1, 2, 3, 4], &[1, 3, 2, 3, 9]);
        assert_eq!(check.counts().reordered, 1);
        assert_eq!(check.counts().duplicated, 2);
        check.connection_lost();
        // 4 is the tail.
        assert_eq!((check.counts().lost, check.counts().unconfirmed), (0, 1));
        let mut gap = run(&[1, 2, 3], &[1, 3]);
        gap.connection_lost();
        assert_eq!(gap.counts().lost, 1);
    }

    #[test]
    fn still_up_at_the_end_means_every_missing_echo_is_lost() {
        let mut check = run(&[1, 2, 3], &[1]);
        assert_eq!(check.outstanding(), 2);
        check.finish_connected();
        assert_eq!(check.counts().lost, 2);
        let mut total = Counts::default();
        total.add(&check.counts());
        total.add(&check.counts());
        assert_eq!(total.lost, 4);
    }
}
