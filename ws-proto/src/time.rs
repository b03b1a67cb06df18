//! The one notion of time the crate takes from its caller.

#[cfg(feature = "std")]
pub use std::time::Instant;

/// A point in time, passed in by the caller (the crate never reads a clock).
///
/// With the `std` feature this is `std::time::Instant`. Without it, it is a
/// duration since any epoch the caller chooses (boot, say), so a `no_std`
/// driver can feed its own monotonic clock:
///
/// ```ignore
/// let now = ws_proto::Instant::from_elapsed(core::time::Duration::from_millis(ticks_ms));
/// ```
#[cfg(not(feature = "std"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(core::time::Duration);

#[cfg(not(feature = "std"))]
impl Instant {
    /// The instant `elapsed` after the caller's epoch.
    pub const fn from_elapsed(elapsed: core::time::Duration) -> Self {
        Self(elapsed)
    }

    /// The time since the caller's epoch.
    pub const fn elapsed_since_epoch(self) -> core::time::Duration {
        self.0
    }
}

#[cfg(not(feature = "std"))]
impl core::ops::Add<core::time::Duration> for Instant {
    type Output = Self;
    fn add(self, rhs: core::time::Duration) -> Self {
        Self(self.0.saturating_add(rhs))
    }
}

/// `at + d`, or `None` past the end of time, where std's `Instant` panics:
/// a timer that far away never expires.
#[cfg(feature = "std")]
pub(crate) fn later(at: Instant, d: core::time::Duration) -> Option<Instant> {
    at.checked_add(d)
}

/// `at + d`: the `no_std` `Instant` saturates, and a deadline at its end
/// is as good as none.
#[cfg(not(feature = "std"))]
pub(crate) fn later(at: Instant, d: core::time::Duration) -> Option<Instant> {
    Some(at + d)
}
