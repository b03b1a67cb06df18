//! Fan-out policy: how much may wait for one connection of a broadcast, what
//! happens to a connection that falls behind, and how members are sent away
//! when a server shuts down.
//!
//! An adapter's broadcast group calls [`Connection::deliver`] for every
//! member and [`Connection::go_away`] at shutdown; the decisions are made
//! here, once, for every adapter.

use super::Connection;
use crate::{CloseCode, PreparedMessage, ReadyState, SendError};

/// The reason sent with the close frame of a member closed for being slow.
pub const SLOW_MEMBER_REASON: &str = "too slow: send queue full";

/// The reason sent with [`Connection::go_away`]'s close frame.
pub const GOING_AWAY_REASON: &str = "server shutting down";

/// What happens to a message that would take a connection's send queue
/// over its [`QueueLimit`].
///
/// ```
/// use ws_proto::{CloseCode, WhenFull};
/// let policy = WhenFull::Close(CloseCode::TRY_AGAIN_LATER);
/// # let _ = (policy, WhenFull::Drop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Skip the message for this connection (and count it); the connection
    /// stays, and gets later messages once its queue has drained. For
    /// feeds where the latest value matters more than every value.
    Drop,
    /// Skip the message and close the connection with this code (usually
    /// [`CloseCode::POLICY_VIOLATION`] 1008 or
    /// [`CloseCode::TRY_AGAIN_LATER`] 1013) and the reason
    /// [`SLOW_MEMBER_REASON`]. The close frame waits behind what is already
    /// queued; the close timeout bounds how long a peer that reads nothing
    /// is kept. For streams where a gap would be wrong.
    Close(CloseCode),
}

/// The most a broadcast may queue for one connection, and what happens past it.
///
/// A message is over the limit when the connection already has bytes queued
/// and those plus the message's payload exceed `max_buffered`. A connection
/// with nothing queued always takes the next message, however large, so a
/// limit below the size of a message does not silence a healthy member.
///
/// ```
/// use ws_proto::{CloseCode, QueueLimit, WhenFull};
/// let limit = QueueLimit::new(1 << 20, WhenFull::Close(CloseCode::POLICY_VIOLATION));
/// assert_eq!(limit.max_buffered(), 1 << 20);
/// assert_eq!(QueueLimit::default().when_full(), WhenFull::Drop);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimit {
    max_buffered: usize,
    when_full: WhenFull,
}

impl Default for QueueLimit {
    /// 1 MiB, then drop.
    fn default() -> Self {
        Self::new(1 << 20, WhenFull::Drop)
    }
}

impl QueueLimit {
    /// At most `max_buffered` bytes queued per connection, then `when_full`.
    ///
    /// ```
    /// let limit = ws_proto::QueueLimit::new(64 * 1024, ws_proto::WhenFull::Drop);
    /// # let _ = limit;
    /// ```
    pub const fn new(max_buffered: usize, when_full: WhenFull) -> Self {
        Self {
            max_buffered,
            when_full,
        }
    }

    /// The byte limit.
    ///
    /// ```
    /// assert_eq!(ws_proto::QueueLimit::default().max_buffered(), 1 << 20);
    /// ```
    pub const fn max_buffered(&self) -> usize {
        self.max_buffered
    }

    /// The policy past the limit.
    ///
    /// ```
    /// assert_eq!(ws_proto::QueueLimit::default().when_full(), ws_proto::WhenFull::Drop);
    /// ```
    pub const fn when_full(&self) -> WhenFull {
        self.when_full
    }

    fn is_over(&self, buffered: usize, len: usize) -> bool {
        buffered > 0 && buffered.saturating_add(len) > self.max_buffered
    }
}

/// What [`Connection::deliver`] did with one message.
///
/// ```
/// use ws_proto::{Config, Connection, Delivery, PreparedMessage, QueueLimit, Role};
/// let mut member = Connection::new(Role::Server, Config::default());
/// let news = PreparedMessage::text("hi");
/// assert_eq!(member.deliver(&news, QueueLimit::default()), Delivery::Queued);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Queued for the transport.
    Queued,
    /// Not queued: the connection's queue was full and the policy is
    /// [`WhenFull::Drop`].
    Dropped,
    /// Not queued: the queue was full, and a close frame with this code was
    /// queued instead ([`WhenFull::Close`]). Later deliveries find the
    /// connection [`NotOpen`](Self::NotOpen).
    Closed(CloseCode),
    /// Not queued: the connection is not open (still in its handshake, or
    /// closing, or closed). A group should let the member go.
    NotOpen,
}

/// Running totals of [`Delivery`] outcomes, for a member or a whole group.
///
/// ```
/// use ws_proto::{Delivery, DeliveryCounts};
/// let mut counts = DeliveryCounts::default();
/// counts.record(Delivery::Queued);
/// counts.record(Delivery::Dropped);
/// assert_eq!((counts.queued, counts.dropped), (1, 1));
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryCounts {
    /// Messages queued.
    pub queued: u64,
    /// Messages dropped for a full queue.
    pub dropped: u64,
    /// Connections closed for a full queue.
    pub closed: u64,
    /// Deliveries to connections that were no longer open.
    pub not_open: u64,
}

impl DeliveryCounts {
    /// Adds one outcome.
    ///
    /// ```
    /// let mut counts = ws_proto::DeliveryCounts::default();
    /// counts.record(ws_proto::Delivery::NotOpen);
    /// assert_eq!(counts.not_open, 1);
    /// ```
    pub fn record(&mut self, outcome: Delivery) {
        let slot = match outcome {
            Delivery::Queued => &mut self.queued,
            Delivery::Dropped => &mut self.dropped,
            Delivery::Closed(_) => &mut self.closed,
            Delivery::NotOpen => &mut self.not_open,
        };
        *slot += 1;
    }

    /// Adds another set of totals to these.
    ///
    /// ```
    /// let mut total = ws_proto::DeliveryCounts::default();
    /// let mut one = ws_proto::DeliveryCounts::default();
    /// one.record(ws_proto::Delivery::Queued);
    /// total.add(&one);
    /// assert_eq!(total.queued, 1);
    /// ```
    pub fn add(&mut self, other: &Self) {
        self.queued += other.queued;
        self.dropped += other.dropped;
        self.closed += other.closed;
        self.not_open += other.not_open;
    }
}

impl Connection {
    /// Delivers one broadcast message to this connection under `limit`:
    /// queues it ([`send_prepared`](Self::send_prepared)) unless the queue
    /// is full, in which case the policy decides (see [`Delivery`]).
    ///
    /// ```
    /// use ws_proto::{CloseCode, Config, Connection, Delivery, PreparedMessage, QueueLimit, Role, WhenFull};
    /// let mut slow = Connection::new(Role::Server, Config::default());
    /// let tick = PreparedMessage::binary(vec![0u8; 600]);
    /// let limit = QueueLimit::new(1000, WhenFull::Close(CloseCode::TRY_AGAIN_LATER));
    /// assert_eq!(slow.deliver(&tick, limit), Delivery::Queued);
    /// // Nothing was written: a second message would exceed 1,000 bytes.
    /// assert_eq!(slow.deliver(&tick, limit), Delivery::Closed(CloseCode::TRY_AGAIN_LATER));
    /// assert_eq!(slow.deliver(&tick, limit), Delivery::NotOpen);
    /// ```
    pub fn deliver(&mut self, message: &PreparedMessage, limit: QueueLimit) -> Delivery {
        if self.ready_state() != ReadyState::Open {
            return Delivery::NotOpen;
        }
        if limit.is_over(self.buffered_amount(), message.len()) {
            return match limit.when_full {
                WhenFull::Drop => Delivery::Dropped,
                WhenFull::Close(code) => match self.close(code, SLOW_MEMBER_REASON) {
                    Ok(()) => Delivery::Closed(code),
                    // An unsendable code (1005, 1006, 1015, out of range):
                    // close as a policy violation rather than not at all.
                    Err(SendError::InvalidCloseCode(_)) => {
                        let code = CloseCode::POLICY_VIOLATION;
                        match self.close(code, SLOW_MEMBER_REASON) {
                            Ok(()) => Delivery::Closed(code),
                            Err(_) => Delivery::NotOpen,
                        }
                    }
                    Err(_) => Delivery::NotOpen,
                },
            };
        }
        match self.send_prepared(message) {
            Ok(()) => Delivery::Queued,
            // A fragmented message (or a frame in pieces) of the
            // application's own is being sent: a whole message cannot go in
            // between.
            Err(SendError::FragmentOutOfOrder | SendError::FrameInProgress) => Delivery::Dropped,
            Err(_) => Delivery::NotOpen,
        }
    }

    /// Starts the close handshake with 1001 "going away" and
    /// [`GOING_AWAY_REASON`], for a server shutting down. Returns `false`,
    /// doing nothing, when a close was already sent or the connection has
    /// ended or is still in its handshake.
    ///
    /// ```
    /// use ws_proto::{Config, Connection, ReadyState, Role};
    /// let mut member = Connection::new(Role::Server, Config::default());
    /// assert!(member.go_away());
    /// assert!(!member.go_away());
    /// assert_eq!(member.ready_state(), ReadyState::Closing);
    /// ```
    pub fn go_away(&mut self) -> bool {
        self.close(CloseCode::GOING_AWAY, GOING_AWAY_REASON).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Event, Role};

    fn member() -> Connection {
        Connection::new(Role::Server, Config::default())
    }

    #[test]
    fn drop_skips_until_the_queue_drains() {
        let limit = QueueLimit::new(100, WhenFull::Drop);
        let message = PreparedMessage::binary(vec![1u8; 60]);
        let mut conn = member();
        assert_eq!(conn.deliver(&message, limit), Delivery::Queued);
        assert_eq!(conn.deliver(&message, limit), Delivery::Dropped);
        assert_eq!(conn.buffered_amount(), 62);
        while conn.poll_transmit().is_some() {}
        assert_eq!(conn.deliver(&message, limit), Delivery::Queued);
        assert_eq!(conn.ready_state(), ReadyState::Open);
    }

    #[test]
    fn a_message_larger_than_the_limit_reaches_an_empty_queue() {
        let limit = QueueLimit::new(10, WhenFull::Drop);
        let mut conn = member();
        let big = PreparedMessage::binary(vec![0u8; 1000]);
        assert_eq!(conn.deliver(&big, limit), Delivery::Queued);
    }

    #[test]
    fn close_sends_the_code_and_reason_after_what_was_queued() {
        let limit = QueueLimit::new(10, WhenFull::Close(CloseCode::POLICY_VIOLATION));
        let mut conn = member();
        let message = PreparedMessage::text("0123456789");
        assert_eq!(conn.deliver(&message, limit), Delivery::Queued);
        assert_eq!(
            conn.deliver(&message, limit),
            Delivery::Closed(CloseCode::POLICY_VIOLATION)
        );
        let mut client = Connection::new(Role::Client, Config::default());
        while let Some(bytes) = conn.poll_transmit() {
            client.receive(&bytes);
        }
        assert_eq!(
            client.poll_event(),
            Ok(Some(Event::Text("0123456789".into())))
        );
        match client.poll_event() {
            Ok(Some(Event::Close(frame))) => {
                assert_eq!(frame.code, CloseCode::POLICY_VIOLATION);
                assert_eq!(frame.reason.as_str(), SLOW_MEMBER_REASON);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unsendable_close_code_becomes_a_policy_violation() {
        let limit = QueueLimit::new(1, WhenFull::Close(CloseCode::ABNORMAL));
        let mut conn = member();
        let message = PreparedMessage::text("xy");
        conn.deliver(&message, limit);
        assert_eq!(
            conn.deliver(&message, limit),
            Delivery::Closed(CloseCode::POLICY_VIOLATION)
        );
    }

    #[test]
    fn closing_members_are_not_open() {
        let mut conn = member();
        assert!(conn.go_away());
        let message = PreparedMessage::text("late");
        assert_eq!(
            conn.deliver(&message, QueueLimit::default()),
            Delivery::NotOpen
        );
        let mut counts = DeliveryCounts::default();
        counts.record(conn.deliver(&message, QueueLimit::default()));
        assert_eq!(counts.not_open, 1);
    }

    #[test]
    fn a_member_still_in_its_handshake_is_not_open() {
        let mut conn = Connection::server(Config::default());
        assert_eq!(
            conn.deliver(&PreparedMessage::text("x"), QueueLimit::default()),
            Delivery::NotOpen
        );
        assert!(!conn.go_away());
    }
}
