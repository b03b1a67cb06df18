//! The close handshake, modelled as data (RFC 6455 sections 5.5.1 and 7).

use crate::Instant;

use crate::Role;

/// The connection's state, as a browser's `WebSocket.readyState` names it
/// (0 to 3).
///
/// ```
/// use ws_proto::{Config, Connection, ReadyState, Role};
/// let conn = Connection::new(Role::Client, Config::default());
/// assert_eq!(conn.ready_state(), ReadyState::Open);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadyState {
    /// The opening handshake runs ([`Connection::server`](crate::Connection::server),
    /// [`Connection::client`](crate::Connection::client)); nothing can be sent yet.
    Connecting,
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
    Closing,
    /// The close handshake finished, the connection failed, or the transport ended.
    Closed,
}

/// Facts about how the connection is ending; the [`ReadyState`] and what the
/// adapter should do are derived from them.
#[derive(Debug, Default)]
pub(crate) struct CloseState {
    /// Our close frame is queued or sent.
    pub(crate) sent: bool,
    /// The peer's close frame arrived.
    pub(crate) received: bool,
    /// A protocol error failed the connection.
    pub(crate) failed: bool,
    /// The transport's read side ended.
    pub(crate) eof: bool,
    /// The close timer expired.
    pub(crate) timed_out: bool,
    /// [`Event::Close`](crate::Event::Close) (or the error) was handed out.
    pub(crate) reported: bool,
    /// When the close timer expires, once armed.
    pub(crate) deadline: Option<Instant>,
    /// Why the connection ended without the peer's close frame, for the
    /// reason of the 1006 event (empty when the transport simply ended).
    pub(crate) abnormal_reason: &'static str,
}

impl CloseState {
    fn ended(&self) -> bool {
        self.failed || self.eof || self.timed_out
    }

    pub(crate) fn ready_state(&self) -> ReadyState {
        if self.ended() || (self.sent && self.received) {
            ReadyState::Closed
        } else if self.sent || self.received {
            ReadyState::Closing
        } else {
            ReadyState::Open
        }
    }

    /// Whether the adapter should flush and then close the transport now.
    /// The server closes first after a close handshake (section 7.1.1); the
    /// client waits for it, up to the close timeout.
    pub(crate) fn should_close_transport(&self, role: Role) -> bool {
        self.ended() || (self.sent && self.received && role == Role::Server)
    }

    /// Whether the close timer should run: we wait for the peer's close
    /// frame, for the application to answer the peer's (with automatic
    /// replies off), or (client) for the server to end the transport.
    pub(crate) fn timer_wanted(&self, role: Role) -> bool {
        let both = self.sent && self.received;
        !self.ended() && (self.sent || self.received) && (!both || role == Role::Client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_table() {
        let mut s = CloseState::default();
        assert_eq!(s.ready_state(), ReadyState::Open);
        assert!(!s.timer_wanted(Role::Server));
        s.sent = true;
        assert_eq!(s.ready_state(), ReadyState::Closing);
        assert!(s.timer_wanted(Role::Server));
        assert!(!s.should_close_transport(Role::Server));
        s.received = true;
        assert_eq!(s.ready_state(), ReadyState::Closed);
        assert!(s.should_close_transport(Role::Server));
        assert!(!s.should_close_transport(Role::Client));
        assert!(s.timer_wanted(Role::Client));
        assert!(!s.timer_wanted(Role::Server));
        s.eof = true;
        assert!(s.should_close_transport(Role::Client));
        assert!(!s.timer_wanted(Role::Client));
        // The peer's close, not yet answered: closing, and the timer runs.
        let s = CloseState {
            received: true,
            ..CloseState::default()
        };
        assert_eq!(s.ready_state(), ReadyState::Closing);
        assert!(s.timer_wanted(Role::Server) && s.timer_wanted(Role::Client));
        assert!(!s.should_close_transport(Role::Server));
    }
}
