//! The daemon's clock, when it is a simulated one (`mailcase run --clock-start
//! --clock-rate`): recorded as the daemon runs, so the admin's commands judge due times at
//! the time the daemon worked in rather than at today's date.

use chrono::{DateTime, Utc};

use super::*;

/// A simulated clock as a daemon last recorded it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SimulatedClock {
    /// The simulated time when it was recorded.
    #[serde(serialize_with = "ser_ts")]
    pub now: DateTime<Utc>,
    /// Where the clock started (`--clock-start`).
    #[serde(serialize_with = "ser_ts")]
    pub started_at: DateTime<Utc>,
    /// Simulated seconds per real second (`--clock-rate`).
    pub rate: f64,
    /// The real time of the recording.
    #[serde(serialize_with = "ser_ts")]
    pub recorded_at: DateTime<Utc>,
}

/// Queries of this room.
pub trait ClockReads {
    /// The simulated clock a daemon recorded, if the last daemon on this database ran on one.
    ///
    /// # Errors
    /// SQL errors, or a stored time that does not parse.
    fn simulated_clock(&self) -> Result<Option<SimulatedClock>, StoreError>;
}

/// Operations of this room outside a caller's transaction (each is its own).
pub trait ClockOps {
    /// Records the daemon's simulated clock, replacing what was recorded; `None` (a daemon on
    /// the real clock) removes it.
    ///
    /// # Errors
    /// SQL errors.
    fn record_clock(&mut self, clock: Option<&SimulatedClock>) -> Result<(), StoreError>;
}
