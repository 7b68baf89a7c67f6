//! The one place that reads the system clock.
//!
//! Everything else takes a [`Clock`], so tests can move time (SLA deadlines, per-sender caps,
//! retry backoff) without sleeping. `clippy.toml` bans `Utc::now` and `SystemTime::now`
//! outside this file.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time in UTC.
    fn now(&self) -> DateTime<Utc>;
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

/// A clock that starts at the real time plus an offset that tests (and the demo) can move.
#[derive(Debug, Clone, Default)]
pub struct OffsetClock {
    offset: Arc<Mutex<Duration>>,
}

impl OffsetClock {
    /// Moves this clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        if let Ok(mut o) = self.offset.lock() {
            *o += d;
        }
    }
}

impl Clock for OffsetClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        let off = self.offset.lock().map(|o| *o).unwrap_or_default();
        Utc::now() + off
    }
}

/// A clock frozen at a given instant, for pure unit tests.
#[derive(Debug, Clone)]
pub struct FixedClock(pub Arc<Mutex<DateTime<Utc>>>);

impl FixedClock {
    /// A clock showing `t` until moved.
    pub fn at(t: DateTime<Utc>) -> Self {
        FixedClock(Arc::new(Mutex::new(t)))
    }
    /// Moves the clock by `d`.
    pub fn advance(&self, d: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += d;
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_default()
    }
}

/// Shared clock handle passed through the daemon.
pub type SharedClock = Arc<dyn Clock>;
