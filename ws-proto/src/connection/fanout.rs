//! Fan-out policy: how much may wait for one connection of a broadcast, what
//! happens to a connection that falls behind, and how members are sent away
//! when a server shuts down.
//!
//! An adapter's broadcast group calls [`Connection::deliver`] for every
//! member and [`Connection::go_away`] at shutdown; the decisions are made
//! here, once, for every adapter.

use super::Connection;
use crate::frame::OpCode;
use crate::{CloseCode, CloseFrame, PreparedMessage, ReadyState, SendError};

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
    /// is kept. For streams where a gap would be wrong. While a frame the
    /// application sends in pieces ([`Connection::send_frame`]) is half
    /// sent, the close frame is owed and goes out right after its last
    /// piece, as [`Connection::go_away`]'s does.
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
    /// closing, or closed, or owing a close frame that waits for a
    /// half-sent frame to end). A group should let the member go.
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
    /// While a frame of the application's is half sent
    /// ([`send_frame`](Self::send_frame) in pieces) a whole message cannot
    /// go in between: the delivery is [`Delivery::Dropped`], or
    /// [`Delivery::NotOpen`] once a close is owed ([`go_away`](Self::go_away),
    /// [`WhenFull::Close`]).
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
        if self.ready_state() != ReadyState::Open || self.close_owed() {
            return Delivery::NotOpen;
        }
        if limit.is_over(self.buffered_amount(), message.len()) {
            return match limit.when_full {
                WhenFull::Drop => Delivery::Dropped,
                WhenFull::Close(code) => match self.close_or_owe(code, SLOW_MEMBER_REASON) {
                    Ok(()) => Delivery::Closed(code),
                    // An unsendable code (1005, 1006, 1015, out of range):
                    // close as a policy violation rather than not at all.
                    Err(SendError::InvalidCloseCode(_)) => {
                        let code = CloseCode::POLICY_VIOLATION;
                        match self.close_or_owe(code, SLOW_MEMBER_REASON) {
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
    /// doing nothing, when a close was already sent (or is owed, see
    /// below) or the connection has ended or is still in its handshake.
    ///
    /// While a frame the application sends in pieces
    /// ([`send_frame`](Self::send_frame)) is half sent, a close frame
    /// cannot go inside its payload (RFC 6455 section 5.4: control frames
    /// go between frames). The close is then owed, as pongs and the close
    /// reply are: `go_away` returns `true`, the close frame goes out right
    /// after the frame's last piece, and from then on it counts as sent
    /// ([`ready_state`](Self::ready_state) stays
    /// [`Open`](ReadyState::Open) until then, the close timer starts then,
    /// and [`deliver`](Self::deliver) already answers
    /// [`Delivery::NotOpen`]). Only the rest of that frame can be sent
    /// meanwhile; a relay that never finishes it never sends the close, so
    /// bound a shutdown with a timeout of its own.
    ///
    /// ```
    /// use ws_proto::{frame::OpCode, Config, Connection, Frame, ReadyState, Role};
    /// let mut member = Connection::new(Role::Server, Config::default());
    /// assert!(member.go_away());
    /// assert!(!member.go_away());
    /// assert_eq!(member.ready_state(), ReadyState::Closing);
    ///
    /// // A frame half sent: the close waits for its last piece.
    /// let mut relay = Connection::new(Role::Server, Config::default());
    /// let first = Frame::first_piece(true, OpCode::Binary, 4, vec![1, 2]);
    /// relay.send_frame(first.clone()).unwrap();
    /// assert!(relay.go_away());
    /// assert_eq!(relay.ready_state(), ReadyState::Open);
    /// relay.send_frame(first.next_piece(vec![3, 4])).unwrap();
    /// assert_eq!(relay.ready_state(), ReadyState::Closing);
    /// ```
    pub fn go_away(&mut self) -> bool {
        self.close_or_owe(CloseCode::GOING_AWAY, GOING_AWAY_REASON)
            .is_ok()
    }

    /// Closes with one of this module's reasons now or, while a frame of
    /// ours is half sent, owes the close frame until the frame's last piece
    /// (as the connection owes pongs and its close reply).
    fn close_or_owe(&mut self, code: CloseCode, reason: &'static str) -> Result<(), SendError> {
        if !self.frame_in_progress() {
            return self.close(code, reason);
        }
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        // Ended, or a close already sent or owed: nothing to start.
        if !self.may_queue_control() || self.close_owed() {
            return Err(SendError::CloseSent);
        }
        // The reasons are this module's constants, well under 123 bytes.
        let payload = CloseFrame::new(code, reason).encode();
        // Held: a frame of ours is half sent (checked above).
        self.push_control(OpCode::Close, payload);
        Ok(())
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

    fn drain(conn: &mut Connection) -> Vec<u8> {
        let mut wire = Vec::new();
        while let Some(chunk) = conn.poll_transmit() {
            wire.extend_from_slice(&chunk);
        }
        wire
    }

    /// The close frame of `code` with `reason`, as a server sends it.
    fn close_frame(code: CloseCode, reason: &str) -> Vec<u8> {
        let body = CloseFrame::new(code, reason).encode();
        [&[0x88, body.len() as u8][..], &body].concat()
    }

    #[test]
    fn go_away_mid_frame_owes_the_close_until_the_frame_ends() {
        // Before: go_away returned false and did nothing, so a group's
        // shutdown never closed a member that was relaying a big frame.
        use crate::frame::Frame;
        let mut conn = member();
        let first = Frame::first_piece(true, OpCode::Binary, 4, vec![1, 2]);
        conn.send_frame(first.clone()).unwrap();
        assert!(conn.go_away());
        // Owed, not sent: still open, nothing but the frame's start queued.
        assert_eq!(conn.ready_state(), ReadyState::Open);
        assert!(!conn.go_away(), "a close is already owed");
        assert_eq!(
            conn.deliver(&PreparedMessage::text("x"), QueueLimit::default()),
            Delivery::NotOpen
        );
        assert_eq!(conn.poll_timeout(crate::Instant::now()), None);
        assert_eq!(drain(&mut conn), [0x82, 4, 1, 2]);
        // The frame's last piece: the close follows it at once.
        conn.send_frame(first.next_piece(vec![3, 4])).unwrap();
        assert_eq!(conn.ready_state(), ReadyState::Closing);
        assert!(!conn.go_away());
        assert_eq!(
            conn.send_frame(Frame::new(true, OpCode::Binary, "late")),
            Err(SendError::CloseSent)
        );
        let want = [
            &[3, 4][..],
            &close_frame(CloseCode::GOING_AWAY, GOING_AWAY_REASON),
        ]
        .concat();
        assert_eq!(drain(&mut conn), want);
    }

    #[test]
    fn go_away_mid_fragment_closes_between_the_fragments() {
        // The half-sent frame is the first of a fragmented message: the
        // close goes after it, and the message is never finished (control
        // frames may sit between fragments, section 5.4).
        use crate::frame::Frame;
        let mut conn = member();
        let first = Frame::first_piece(false, OpCode::Text, 2, "a");
        conn.send_frame(first.clone()).unwrap();
        assert!(conn.go_away());
        conn.send_frame(first.next_piece("b")).unwrap();
        assert_eq!(
            conn.send_frame(Frame::new(true, OpCode::Continuation, "c")),
            Err(SendError::CloseSent)
        );
        let mut client = Connection::new(Role::Client, Config::default());
        client.receive(&drain(&mut conn));
        match client.poll_event() {
            Ok(Some(Event::Close(frame))) => {
                assert_eq!(frame.code, CloseCode::GOING_AWAY);
                assert_eq!(frame.reason.as_str(), GOING_AWAY_REASON);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_peers_close_mid_frame_after_go_away_gets_one_close_back() {
        // Owed first: our 1001; the automatic reply to the peer's close,
        // owed after it, is not sent twice.
        use crate::frame::Frame;
        let mut conn = member();
        let first = Frame::first_piece(true, OpCode::Binary, 2, vec![1]);
        conn.send_frame(first.clone()).unwrap();
        assert!(conn.go_away());
        conn.receive(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
        assert!(matches!(conn.poll_event(), Ok(Some(Event::Close(_)))));
        assert!(!conn.go_away());
        conn.send_frame(first.next_piece(vec![2])).unwrap();
        let want = [
            &[0x82, 2, 1, 2][..],
            &close_frame(CloseCode::GOING_AWAY, GOING_AWAY_REASON),
        ]
        .concat();
        assert_eq!(drain(&mut conn), want);
        assert_eq!(conn.ready_state(), ReadyState::Closed);
        assert!(conn.should_close_transport());

        // The other order: the peer's close first owes the echo, and
        // go_away has nothing to start.
        let mut conn = member();
        conn.send_frame(first.clone()).unwrap();
        conn.receive(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8]);
        assert!(matches!(conn.poll_event(), Ok(Some(Event::Close(_)))));
        assert!(!conn.go_away());
        conn.send_frame(first.next_piece(vec![2])).unwrap();
        assert_eq!(drain(&mut conn), [0x82, 2, 1, 2, 0x88, 2, 0x03, 0xe8]);
    }

    #[test]
    fn deliveries_mid_frame_drop_or_owe_the_close() {
        use crate::frame::Frame;
        let first = Frame::first_piece(true, OpCode::Binary, 200, vec![0; 100]);
        let message = PreparedMessage::text("tick");
        // Room in the queue: dropped, the member stays.
        let mut conn = member();
        conn.send_frame(first.clone()).unwrap();
        let roomy = QueueLimit::new(1 << 20, WhenFull::Close(CloseCode::TRY_AGAIN_LATER));
        assert_eq!(conn.deliver(&message, roomy), Delivery::Dropped);
        assert_eq!(conn.ready_state(), ReadyState::Open);
        // Full under WhenFull::Close: the close is owed behind the frame
        // (before: `close` refused mid-frame, deliver said NotOpen, and
        // the member stayed open).
        let tight = QueueLimit::new(10, WhenFull::Close(CloseCode::TRY_AGAIN_LATER));
        assert_eq!(
            conn.deliver(&message, tight),
            Delivery::Closed(CloseCode::TRY_AGAIN_LATER)
        );
        assert_eq!(conn.deliver(&message, tight), Delivery::NotOpen);
        assert!(!conn.go_away());
        drain(&mut conn);
        conn.send_frame(first.next_piece(vec![0; 100])).unwrap();
        let wire = drain(&mut conn);
        let close = close_frame(CloseCode::TRY_AGAIN_LATER, SLOW_MEMBER_REASON);
        assert_eq!(wire[..100], [0; 100]);
        assert_eq!(wire[100..], close[..]);
        assert_eq!(conn.ready_state(), ReadyState::Closing);
        // An unsendable code falls back to 1008 mid-frame too.
        let mut conn = member();
        conn.send_frame(first.clone()).unwrap();
        let odd = QueueLimit::new(10, WhenFull::Close(CloseCode::ABNORMAL));
        assert_eq!(
            conn.deliver(&message, odd),
            Delivery::Closed(CloseCode::POLICY_VIOLATION)
        );
    }
}
