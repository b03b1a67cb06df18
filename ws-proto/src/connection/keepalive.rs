//! Keepalive: pings while the peer is quiet, and an idle timeout that gives
//! up on a peer that no longer answers.
//!
//! Time comes only from the caller. Any frame decoded counts as activity, and
//! so do bytes of a frame still arriving (a large frame or a fragmented
//! message coming in slowly is a live peer); the
//! next [`poll_timeout`](crate::Connection::poll_timeout) or
//! [`handle_timeout`](crate::Connection::handle_timeout) stamps it with the
//! `now` it is given, so `receive` needs no clock.

use crate::Instant;
use core::time::Duration;

#[derive(Debug, Default)]
pub(crate) struct Keepalive {
    ping_interval: Option<Duration>,
    idle_timeout: Option<Duration>,
    /// A frame, or bytes of one, arrived since the last time stamp.
    activity: bool,
    /// Bytes in the read buffer when last looked at; more since then are
    /// bytes the peer sent.
    buffered_seen: usize,
    /// When the peer was last heard from (or when the timers started).
    last_activity: Option<Instant>,
    /// When the last keepalive ping went out, while the peer stays quiet.
    last_ping: Option<Instant>,
    /// Keepalive pings sent so far; each ping carries its number.
    pings_sent: u64,
}

/// What an expired keepalive timer asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeepaliveAction {
    None,
    /// Send a ping with this number (big-endian) as its payload.
    SendPing(u64),
    GiveUp,
}

impl Keepalive {
    pub(crate) fn new(ping_interval: Option<Duration>, idle_timeout: Option<Duration>) -> Self {
        Self {
            ping_interval,
            idle_timeout,
            ..Self::default()
        }
    }

    fn enabled(&self) -> bool {
        self.ping_interval.is_some() || self.idle_timeout.is_some()
    }

    pub(crate) fn note_activity(&mut self) {
        self.activity = true;
    }

    /// Looks at the read buffer's length: more bytes than last time are
    /// activity (the start of a frame counts before the frame is whole).
    pub(crate) fn note_buffered(&mut self, len: usize) {
        if len > self.buffered_seen {
            self.activity = true;
        }
        self.buffered_seen = len;
    }

    /// Applies activity seen since the last call at time `now`.
    fn stamp(&mut self, now: Instant) {
        if self.activity || self.last_activity.is_none() {
            self.last_activity = Some(now);
            self.last_ping = None;
            self.activity = false;
        }
    }

    /// The next keepalive deadline, if any timer runs.
    pub(crate) fn deadline(&mut self, now: Instant) -> Option<Instant> {
        if !self.enabled() {
            return None;
        }
        self.stamp(now);
        let base = self.last_activity?;
        // A deadline past the end of `Instant` (an interval of
        // `Duration::MAX`, say) never comes: no timer, not a panic.
        let ping = self
            .ping_interval
            .and_then(|every| later(self.last_ping.unwrap_or(base), every));
        let idle = self.idle_timeout.and_then(|limit| later(base, limit));
        match (ping, idle) {
            (Some(p), Some(i)) => Some(p.min(i)),
            (p, i) => p.or(i),
        }
    }

    /// What is due at `now`.
    pub(crate) fn on_timeout(&mut self, now: Instant) -> KeepaliveAction {
        if !self.enabled() {
            return KeepaliveAction::None;
        }
        self.stamp(now);
        let Some(base) = self.last_activity else {
            return KeepaliveAction::None;
        };
        if self
            .idle_timeout
            .and_then(|limit| later(base, limit))
            .is_some_and(|deadline| now >= deadline)
        {
            return KeepaliveAction::GiveUp;
        }
        if let Some(every) = self.ping_interval {
            let due = later(self.last_ping.unwrap_or(base), every);
            if due.is_some_and(|due| now >= due) {
                self.last_ping = Some(now);
                self.pings_sent += 1;
                return KeepaliveAction::SendPing(self.pings_sent);
            }
        }
        KeepaliveAction::None
    }
}

use crate::time::later;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_while_quiet_then_gives_up() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut k = Keepalive::new(Some(10 * s), Some(25 * s));
        assert_eq!(k.deadline(t0), Some(t0 + 10 * s));
        assert_eq!(k.on_timeout(t0 + 5 * s), KeepaliveAction::None);
        assert_eq!(k.on_timeout(t0 + 10 * s), KeepaliveAction::SendPing(1));
        assert_eq!(k.deadline(t0 + 10 * s), Some(t0 + 20 * s));
        assert_eq!(k.on_timeout(t0 + 20 * s), KeepaliveAction::SendPing(2));
        assert_eq!(k.deadline(t0 + 20 * s), Some(t0 + 25 * s));
        assert_eq!(k.on_timeout(t0 + 25 * s), KeepaliveAction::GiveUp);
    }

    #[test]
    fn activity_pushes_everything_back() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut k = Keepalive::new(Some(10 * s), Some(25 * s));
        k.deadline(t0);
        k.note_activity();
        assert_eq!(k.deadline(t0 + 8 * s), Some(t0 + 18 * s));
        assert_eq!(k.on_timeout(t0 + 10 * s), KeepaliveAction::None);
    }

    /// An interval or timeout too long for `Instant` (`Duration::MAX`)
    /// panicked in `Instant + Duration`; such a timer never expires.
    #[test]
    fn durations_past_the_end_of_time_never_expire() {
        let t0 = Instant::now();
        let mut k = Keepalive::new(Some(Duration::MAX), Some(Duration::MAX));
        assert_eq!(k.deadline(t0), None);
        assert_eq!(
            k.on_timeout(t0 + Duration::from_secs(1 << 40)),
            KeepaliveAction::None
        );
        let s = Duration::from_secs(1);
        let mut k = Keepalive::new(Some(Duration::MAX), Some(10 * s));
        assert_eq!(k.deadline(t0), Some(t0 + 10 * s));
        assert_eq!(k.on_timeout(t0 + 10 * s), KeepaliveAction::GiveUp);
        let mut k = Keepalive::new(Some(10 * s), Some(Duration::MAX));
        assert_eq!(k.deadline(t0), Some(t0 + 10 * s));
        assert_eq!(k.on_timeout(t0 + 10 * s), KeepaliveAction::SendPing(1));
        assert_eq!(k.deadline(t0 + 10 * s), Some(t0 + 20 * s));
    }

    #[test]
    fn disabled_by_default() {
        let mut k = Keepalive::default();
        assert_eq!(k.deadline(Instant::now()), None);
        assert_eq!(k.on_timeout(Instant::now()), KeepaliveAction::None);
    }

    /// Drives a server with a 30 ms idle timeout through `steps` steps of
    /// 10 ms, feeding `feed(step)` before each; whether it is still open.
    #[cfg(feature = "std")]
    fn open_after(steps: u32, mut feed: impl FnMut(u32) -> Vec<u8>) -> bool {
        use crate::{Config, Connection, ReadyState, Role};
        let ms = Duration::from_millis(1);
        let mut conn = Connection::new(Role::Server, Config::default().idle_timeout(Some(30 * ms)));
        let t0 = Instant::now();
        conn.poll_timeout(t0);
        for step in 1..=steps {
            conn.receive(&feed(step));
            while let Ok(Some(_)) = conn.poll_event() {}
            conn.handle_timeout(t0 + step * 10 * ms);
        }
        conn.ready_state() == ReadyState::Open
    }

    /// A masked frame header (zero mask) for `len` payload bytes.
    #[cfg(feature = "std")]
    fn header(first: u8, len: u16) -> Vec<u8> {
        let mut h = vec![first, 0x80 | 126];
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(&[0; 4]);
        h
    }

    /// A large frame arriving slowly keeps the connection alive (it used to
    /// time out: only whole frames counted); a peer stalled mid-frame still
    /// times out.
    #[cfg(feature = "std")]
    #[test]
    fn bytes_of_a_frame_still_arriving_are_activity() {
        let slow = |step: u32| {
            if step == 1 {
                header(0x82, 1000)
            } else {
                vec![7; 10]
            }
        };
        assert!(open_after(20, slow), "200 ms of a slow frame, 10 ms apart");
        let stalled = |step: u32| {
            if step == 1 {
                header(0x82, 1000)
            } else {
                Vec::new()
            }
        };
        assert!(!open_after(20, stalled), "a stall mid-frame times out");
    }

    /// The fragments of a message, 10 ms apart, keep the connection alive.
    #[cfg(feature = "std")]
    #[test]
    fn fragments_of_a_message_are_activity() {
        let fragments = |step: u32| {
            let first = if step == 1 { 0x01 } else { 0x00 }; // text, then continuations
            let mut frame = vec![first, 0x80 | 1, 0, 0, 0, 0];
            frame.push(b'a');
            frame
        };
        assert!(open_after(20, fragments));
    }

    /// A close or handshake timeout too long for `Instant` (`Duration::MAX`,
    /// "never") panicked in `Instant + Duration`; such a timer never fires.
    #[cfg(feature = "std")]
    #[test]
    fn close_and_handshake_timeouts_past_the_end_of_time_never_fire() {
        use crate::handshake::ClientRequest;
        use crate::{CloseCode, Config, Connection, ReadyState, Role};
        let never = Config::default()
            .close_timeout(Duration::MAX)
            .handshake_timeout(Duration::MAX);
        let t0 = Instant::now();
        let mut conn = Connection::new(Role::Client, never.clone());
        conn.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(conn.poll_timeout(t0), None);
        conn.handle_timeout(t0 + Duration::from_secs(1 << 40));
        assert_eq!(conn.ready_state(), ReadyState::Closing);
        let mut client = Connection::client(ClientRequest::from_url("ws://h/").unwrap(), never);
        assert_eq!(client.poll_timeout(t0), None);
        client.handle_timeout(t0 + Duration::from_secs(1 << 40));
        assert_eq!(client.ready_state(), ReadyState::Connecting);
    }
}
