//! The one place that reads the system clock.
//!
//! Everything else takes a [`Clock`], so tests can move time (SLA deadlines, per-sender caps,
//! retry backoff) without sleeping. `clippy.toml` bans `Utc::now` and `SystemTime::now`
//! outside this file.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// How long to really sleep for `d` of this clock's time (a clock that runs fast for a
    /// demo sleeps less).
    fn real(&self, d: std::time::Duration) -> std::time::Duration {
        d
    }
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Shared clock handle passed through the daemon.
pub type SharedClock = Arc<dyn Clock>;

/// A clock that runs from a chosen instant, optionally faster than real time, and can be
/// moved forward: tests put a case at a known business hour and jump hours or days ahead (the
/// daemon's scheduler is woken after each jump); `mailcase run --clock-start --clock-rate`
/// uses it for demos, so a follow-up due in a business day arrives in seconds.
#[derive(Debug)]
pub struct MovableClock {
    start: DateTime<Utc>,
    real_start: std::time::Instant,
    /// Clock seconds per real second.
    rate: f64,
    /// Milliseconds added by [`MovableClock::advance`].
    offset_ms: std::sync::atomic::AtomicI64,
}

impl MovableClock {
    /// A clock that reads `start` now and runs on at real speed.
    pub fn starting_at(start: DateTime<Utc>) -> MovableClock {
        MovableClock::with_rate(start, 1.0)
    }

    /// A clock that reads `start` now and runs `rate` times faster than real time.
    pub fn with_rate(start: DateTime<Utc>, rate: f64) -> MovableClock {
        MovableClock {
            start,
            real_start: std::time::Instant::now(),
            rate: if rate.is_finite() && rate > 0.0 {
                rate
            } else {
                1.0
            },
            offset_ms: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for MovableClock {
    fn now(&self) -> DateTime<Utc> {
        let run = self.real_start.elapsed().as_secs_f64() * self.rate;
        self.start
            + chrono::Duration::milliseconds((run * 1000.0) as i64)
            + chrono::Duration::milliseconds(
                self.offset_ms.load(std::sync::atomic::Ordering::SeqCst),
            )
    }

    fn real(&self, d: std::time::Duration) -> std::time::Duration {
        d.div_f64(self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_movable_clock_starts_where_told_and_jumps() {
        let start = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let c = MovableClock::starting_at(start);
        assert!((c.now() - start).num_seconds().abs() < 2);
        c.advance(chrono::Duration::hours(5));
        assert!(
            (c.now() - start - chrono::Duration::hours(5))
                .num_seconds()
                .abs()
                < 2
        );
        let fast = MovableClock::with_rate(start, 3600.0);
        assert_eq!(
            fast.real(std::time::Duration::from_secs(7200)),
            std::time::Duration::from_secs(2)
        );
    }
}
