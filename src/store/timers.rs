//! Timers: a case's deadlines as rows, armed, deferred, fired or cancelled.

use chrono::{DateTime, Utc};

use super::*;

/// A scheduled deadline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TimerRow {
    pub id: i64,
    pub case_id: i64,
    pub kind: TimerKind,
    #[serde(serialize_with = "ser_ts")]
    pub target_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_ts")]
    pub due_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub fired_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub cancelled_at: Option<DateTime<Utc>>,
    pub outcome: Option<TimerOutcome>,
}

/// Queries of this room (see the module doc).
pub trait TimerReads {
    /// Active timers due at or before `now`, earliest first.
    ///
    /// # Errors
    /// SQL errors.
    fn due_timers(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<TimerRow>, StoreError>;

    /// When the next active timer falls due.
    ///
    /// # Errors
    /// SQL errors.
    fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Every timer of a case (or all), oldest first, for the case timeline and tests.
    ///
    /// # Errors
    /// SQL errors.
    fn timers(&self, case_id: Option<i64>) -> Result<Vec<TimerRow>, StoreError>;
}

/// Writes of this room, inside one transaction ([`Store::write`]).
pub trait TimerWrites {
    /// Every timer row of a case, active, fired and cancelled, in no particular order.
    ///
    /// # Errors
    /// SQL errors.
    fn timers_of_case(&self, case_id: i64) -> Result<Vec<TimerRow>, StoreError>;

    /// Arms a timer (the active one of that kind, if any, is cancelled first).
    ///
    /// # Errors
    /// SQL errors.
    fn arm_timer(
        &self,
        case_id: i64,
        kind: TimerKind,
        target: DateTime<Utc>,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Arms a timer of a kind the case has no active timer of (the unique index on active
    /// timers refuses a second one).
    ///
    /// # Errors
    /// SQL errors.
    fn insert_timer(
        &self,
        case_id: i64,
        kind: TimerKind,
        target: DateTime<Utc>,
        due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Cancels the active timers of these kinds.
    ///
    /// # Errors
    /// SQL errors.
    fn cancel_timers(
        &self,
        case_id: i64,
        kinds: &[TimerKind],
        now: DateTime<Utc>,
        why: &TimerOutcome,
    ) -> Result<(), StoreError>;

    /// Moves an active timer's due time (customer mail waiting for the send window).
    ///
    /// # Errors
    /// SQL errors.
    fn defer_timer(&self, id: i64, due: DateTime<Utc>) -> Result<(), StoreError>;

    /// Marks a timer done with what happened.
    ///
    /// # Errors
    /// SQL errors.
    fn settle_timer(
        &self,
        id: i64,
        now: DateTime<Utc>,
        outcome: &TimerOutcome,
    ) -> Result<(), StoreError>;
}
