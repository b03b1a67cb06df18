//! A model of a connection's keepalive timers (`Config::ping_interval`,
//! `Config::idle_timeout`), written from their documented contract for the
//! connection targets ([`crate::scenario`]):
//!
//! * activity is a frame decoded by `poll_event`; the next `poll_timeout` or
//!   `handle_timeout` of an open connection stamps it with its `now` (and
//!   the first of them starts the timers);
//! * the deadline is the earlier of "interval after the last activity or
//!   the last keepalive ping" and "idle timeout after the last activity";
//! * at or after it, `handle_timeout` gives up first (close 1001 to the
//!   peer, `Event::Close` 1006 to the application) or sends a ping whose
//!   payload is its number (1, 2, ...; 8 bytes big-endian).
//!
//! The driver sees events, not frames: a frame that gives no event (a
//! fragment gathered in message mode, a compressed piece that inflates to
//! nothing) may or may not have been decoded. After such a stamp the model
//! stops predicting (`known` is false) and learns from what
//! `handle_timeout` did instead, until a stamp with certain activity puts
//! both back on the same footing.

use std::time::{Duration, Instant};

/// What `handle_timeout` did for keepalive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing was due.
    None,
    /// A ping with this number went out.
    Ping(u64),
    /// The idle timeout ended the connection.
    GiveUp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activity {
    None,
    /// Bytes arrived and were polled, but no event showed a decoded frame.
    Possible,
    /// An event came from a frame.
    Definite,
}

/// The keepalive timers as the driver can predict them.
#[derive(Debug)]
pub struct KeepaliveModel {
    every: Option<Duration>,
    limit: Option<Duration>,
    base: Option<Instant>,
    last_ping: Option<Instant>,
    activity: Activity,
    known: bool,
    /// Keepalive pings sent so far.
    pub pings: u64,
}

impl KeepaliveModel {
    /// Timers as configured (`None` or zero: off, as `Config` filters zero).
    pub fn new(every: Option<Duration>, limit: Option<Duration>) -> Self {
        Self {
            every: every.filter(|d| !d.is_zero()),
            limit: limit.filter(|d| !d.is_zero()),
            base: None,
            last_ping: None,
            activity: Activity::None,
            known: true,
            pings: 0,
        }
    }

    /// Any keepalive timer configured.
    pub fn enabled(&self) -> bool {
        self.every.is_some() || self.limit.is_some()
    }

    /// Whether some configured timer can expire at all from `now` (a
    /// duration past the end of `Instant`, such as `Duration::MAX`, never
    /// does, and then the connection reports no keepalive deadline).
    pub fn can_expire(&self, now: Instant) -> bool {
        [self.every, self.limit]
            .into_iter()
            .flatten()
            .any(|d| now.checked_add(d).is_some())
    }

    /// The idle timeout is configured.
    pub fn gives_up(&self) -> bool {
        self.limit.is_some()
    }

    /// Pings are configured.
    pub fn pings_enabled(&self) -> bool {
        self.every.is_some()
    }

    /// An event showed that a frame was decoded.
    pub fn frame_seen(&mut self) {
        self.activity = Activity::Definite;
    }

    /// Bytes arrived and were polled without an event from a frame.
    pub fn maybe_frame(&mut self) {
        if self.activity == Activity::None {
            self.activity = Activity::Possible;
        }
    }

    fn stamp(&mut self, now: Instant) {
        let certain = self.activity == Activity::Definite || (self.known && self.base.is_none());
        if certain {
            self.base = Some(now);
            self.last_ping = None;
            self.known = true;
        } else if self.activity == Activity::Possible {
            self.known = false;
        }
        self.activity = Activity::None;
    }

    /// The keepalive deadline `poll_timeout(now)` must include: `None` when
    /// the model cannot say, `Some(None)` when no keepalive timer runs.
    pub fn deadline(&mut self, now: Instant) -> Option<Option<Instant>> {
        if !self.enabled() {
            return Some(None);
        }
        self.stamp(now);
        if !self.known {
            return None;
        }
        let base = self.base.expect("stamped");
        // Past the end of `Instant` (`Duration::MAX`): never, not a panic.
        let ping = self
            .every
            .and_then(|every| self.last_ping.unwrap_or(base).checked_add(every));
        let idle = self.limit.and_then(|limit| base.checked_add(limit));
        Some(match (ping, idle) {
            (Some(p), Some(i)) => Some(p.min(i)),
            (p, i) => p.or(i),
        })
    }

    /// What `handle_timeout(now)` must do; `None` when the model cannot say.
    pub fn on_timeout(&mut self, now: Instant) -> Option<Action> {
        if !self.enabled() {
            return Some(Action::None);
        }
        self.stamp(now);
        if !self.known {
            return None;
        }
        let base = self.base.expect("stamped");
        let after = |at: Instant, d: Duration| at.checked_add(d).is_some_and(|t| now >= t);
        if self.limit.is_some_and(|limit| after(base, limit)) {
            return Some(Action::GiveUp);
        }
        if let Some(every) = self.every {
            if after(self.last_ping.unwrap_or(base), every) {
                self.last_ping = Some(now);
                self.pings += 1;
                return Some(Action::Ping(self.pings));
            }
        }
        Some(Action::None)
    }

    /// What `handle_timeout` was seen to do while the model could not say.
    pub fn observed(&mut self, action: Action) {
        match action {
            Action::None => {}
            Action::Ping(n) => {
                assert!(self.pings_enabled(), "keepalive ping without an interval");
                assert_eq!(n, self.pings + 1, "keepalive pings are numbered");
                self.pings = n;
            }
            Action::GiveUp => assert!(self.gives_up(), "idle timeout without one configured"),
        }
    }
}
