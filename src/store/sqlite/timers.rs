//! The SQLite implementation of [`crate::store::timers`].

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::*;
use crate::store::timers::*;

impl TimerReads for SqliteReader<'_> {
    /// Active timers due at or before `now`, earliest first.
    ///
    /// # Errors
    /// SQL errors.
    fn due_timers(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<TimerRow>, StoreError> {
        self.timers_where(
            "fired_at IS NULL AND cancelled_at IS NULL AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
            params![ts(now), limit as i64],
        )
    }

    /// When the next active timer falls due.
    ///
    /// # Errors
    /// SQL errors.
    fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let v: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT MIN(due_at) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL",
            )?
            .query_row([], |r| r.get(0))?;
        Ok(v.as_deref().and_then(parse_ts))
    }

    /// Every timer of a case (or all), oldest first, for the case timeline and tests.
    ///
    /// # Errors
    /// SQL errors.
    fn timers(&self, case_id: Option<i64>) -> Result<Vec<TimerRow>, StoreError> {
        self.timers_where("(?1 IS NULL OR case_id = ?1) ORDER BY id", params![case_id])
    }
}

impl TimerWrites for SqliteTx<'_> {
    /// Every timer row of a case, active, fired and cancelled, in no particular order.
    ///
    /// # Errors
    /// SQL errors.
    fn timers_of_case(&self, case_id: i64) -> Result<Vec<TimerRow>, StoreError> {
        // No ORDER BY: with one, a profile of the ingest showed SQLite re-preparing
        // statements here inside their executions (more CPU than the timer inserts); without
        // it, such samples fell from 85 to 11 (not told apart from the scheduler's query).
        self.read().timers_where("case_id = ?1", params![case_id])
    }

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
    ) -> Result<(), StoreError> {
        self.cancel_timers(case_id, &[kind], now, &TimerOutcome::Replaced)?;
        self.insert_timer(case_id, kind, target, due, now)
    }

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
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("INSERT INTO timers(case_id, kind, target_at, due_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")?.execute(
            params![case_id, kind, ts(target), ts(due), ts(now)],
        )?;
        Ok(())
    }

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
    ) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "UPDATE timers SET cancelled_at = ?3, outcome = ?4 WHERE case_id = ?1 AND kind = ?2 AND fired_at IS NULL AND cancelled_at IS NULL",
        )?;
        for k in kinds {
            st.execute(params![case_id, k, ts(now), why])?;
        }
        Ok(())
    }

    /// Moves an active timer's due time (customer mail waiting for the send window).
    ///
    /// # Errors
    /// SQL errors.
    fn defer_timer(&self, id: i64, due: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE timers SET due_at = ?2 WHERE id = ?1")?
            .execute(params![id, ts(due)])?;
        Ok(())
    }

    /// Marks a timer done with what happened.
    ///
    /// # Errors
    /// SQL errors.
    fn settle_timer(
        &self,
        id: i64,
        now: DateTime<Utc>,
        outcome: &TimerOutcome,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("UPDATE timers SET fired_at = ?2, outcome = ?3 WHERE id = ?1 AND fired_at IS NULL AND cancelled_at IS NULL")?.execute(
            params![id, ts(now), outcome],
        )?;
        Ok(())
    }
}
