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
