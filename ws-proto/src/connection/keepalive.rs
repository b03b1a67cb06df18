//! Keepalive: pings while the peer is quiet, and an idle timeout that gives
//! up on a peer that no longer answers.
//!
//! Time comes only from the caller. Any frame decoded counts as activity; the
//! next [`poll_timeout`](crate::Connection::poll_timeout) or
//! [`handle_timeout`](crate::Connection::handle_timeout) stamps it with the
//! `now` it is given, so `receive` needs no clock.

use crate::Instant;
use core::time::Duration;

#[derive(Debug, Default)]
pub(crate) struct Keepalive {
    ping_interval: Option<Duration>,
    idle_timeout: Option<Duration>,
    /// A frame arrived since the last time stamp.
    activity: bool,
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

/// `at + d`, or `None` past the end of time, where std's `Instant` panics.
#[cfg(feature = "std")]
fn later(at: Instant, d: Duration) -> Option<Instant> {
    at.checked_add(d)
}

/// `at + d`: the `no_std` `Instant` saturates, and a deadline at its end
/// is as good as none.
#[cfg(not(feature = "std"))]
fn later(at: Instant, d: Duration) -> Option<Instant> {
    Some(at + d)
}

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

    /// Found by the connection fuzz targets: an interval or timeout too long
    /// for `Instant` (`Duration::MAX`) panicked in `Instant + Duration`; such
    /// a timer never expires.
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
}
