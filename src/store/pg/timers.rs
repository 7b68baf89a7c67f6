//! The PostgreSQL implementation of [`crate::store::timers`].

use chrono::{DateTime, Utc};

use super::values::get;
use super::*;
use crate::store::timers::*;

impl TimerReads for PgReader<'_> {
    /// Active timers due at or before `now`, earliest first.
    ///
    /// # Errors
    /// SQL errors.
    fn due_timers(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<TimerRow>, StoreError> {
        self.timers_where(
            "fired_at IS NULL AND cancelled_at IS NULL AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
            &[&ts(now), &(limit as i64)],
        )
    }

    /// When the next active timer falls due.
    ///
    /// # Errors
    /// SQL errors.
    fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let r = self.db.query_one(
            "SELECT MIN(due_at) FROM timers WHERE fired_at IS NULL AND cancelled_at IS NULL",
            &[],
        )?;
        let v: Option<String> = get(&r, 0)?;
        Ok(v.as_deref().and_then(parse_ts))
    }

    /// Every timer of a case (or all), oldest first, for the case timeline and tests.
    ///
    /// # Errors
    /// SQL errors.
    fn timers(&self, case_id: Option<i64>) -> Result<Vec<TimerRow>, StoreError> {
        self.timers_where(
            "($1::BIGINT IS NULL OR case_id = $1) ORDER BY id",
            &[&case_id],
        )
    }
}

impl TimerWrites for PgTx<'_> {
    /// Every timer row of a case, active, fired and cancelled, in no particular order.
    ///
    /// # Errors
    /// SQL errors.
    fn timers_of_case(&self, case_id: i64) -> Result<Vec<TimerRow>, StoreError> {
        self.read().timers_where("case_id = $1", &[&case_id])
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
    /// timers refuses a second one, and on PostgreSQL that error aborts the transaction).
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
        self.db.execute(
            "INSERT INTO timers(case_id, kind, target_at, due_at, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&case_id, &kind, &ts(target), &ts(due), &ts(now)],
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
        let now = ts(now);
        for k in kinds {
            self.db.execute(
                "UPDATE timers SET cancelled_at = $3, outcome = $4 WHERE case_id = $1 AND kind = $2 AND fired_at IS NULL AND cancelled_at IS NULL",
                &[&case_id, k, &now, why],
            )?;
        }
        Ok(())
    }

    /// Moves an active timer's due time (customer mail waiting for the send window).
    ///
    /// # Errors
    /// SQL errors.
    fn defer_timer(&self, id: i64, due: DateTime<Utc>) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE timers SET due_at = $2 WHERE id = $1",
            &[&id, &ts(due)],
        )?;
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
        self.db.execute(
            "UPDATE timers SET fired_at = $2, outcome = $3 WHERE id = $1 AND fired_at IS NULL AND cancelled_at IS NULL",
            &[&id, &ts(now), outcome],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::outbox::tests::{new_case, t0};
    use super::*;

    fn mins(n: i64) -> chrono::Duration {
        chrono::Duration::minutes(n)
    }

    #[test]
    fn arm_defer_cancel_and_settle_timers() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        let a = new_case(&s, "C-1");
        let b = new_case(&s, "C-2");
        let now = t0();
        assert_eq!(s.read().next_timer_due().unwrap(), None);
        s.write(|tx| {
            tx.insert_timer(
                a,
                TimerKind::FirstResponseWarning,
                now + mins(60),
                now + mins(45),
                now,
            )?;
            tx.insert_timer(
                a,
                TimerKind::FirstResponseBreach,
                now + mins(60),
                now + mins(60),
                now,
            )?;
            tx.insert_timer(b, TimerKind::FollowUp, now + mins(30), now + mins(30), now)?;
            Ok(())
        })
        .unwrap();
        assert_eq!(s.read().next_timer_due().unwrap(), Some(now + mins(30)));
        let all = s.read().timers(None).unwrap();
        assert_eq!(all.len(), 3);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(all[0].kind, TimerKind::FirstResponseWarning);
        assert_eq!(all[0].target_at, now + mins(60));
        assert_eq!(all[0].due_at, now + mins(45));
        assert_eq!(all[0].created_at, now);
        assert_eq!(all[0].fired_at, None);
        assert_eq!(all[0].outcome, None);
        assert_eq!(s.read().timers(Some(b)).unwrap().len(), 1);

        // Due ones, earliest first, with the limit.
        let due = s.read().due_timers(now + mins(60), 10).unwrap();
        assert_eq!(
            due.iter().map(|t| t.kind).collect::<Vec<_>>(),
            vec![
                TimerKind::FollowUp,
                TimerKind::FirstResponseWarning,
                TimerKind::FirstResponseBreach
            ]
        );
        assert_eq!(s.read().due_timers(now + mins(60), 1).unwrap().len(), 1);
        assert_eq!(s.read().due_timers(now + mins(44), 10).unwrap().len(), 1);

        // A second active timer of a kind is refused (and that transaction rolls back).
        assert!(s
            .write(|tx| tx.insert_timer(b, TimerKind::FollowUp, now, now, now))
            .is_err());

        // Re-arming replaces; deferring moves; settling records the outcome once.
        s.write(|tx| {
            tx.arm_timer(
                b,
                TimerKind::FollowUp,
                now + mins(90),
                now + mins(90),
                now + mins(1),
            )
        })
        .unwrap();
        let of_b = s.write(|tx| tx.timers_of_case(b)).unwrap();
        assert_eq!(of_b.len(), 2);
        let old = of_b.iter().find(|t| t.cancelled_at.is_some()).unwrap();
        assert_eq!(old.cancelled_at, Some(now + mins(1)));
        assert_eq!(old.outcome, Some(TimerOutcome::Replaced));
        let new = of_b.iter().find(|t| t.cancelled_at.is_none()).unwrap().id;
        s.write(|tx| tx.defer_timer(new, now + mins(120))).unwrap();
        assert_eq!(s.read().next_timer_due().unwrap(), Some(now + mins(45)));
        let warn = all[0].id;
        s.write(|tx| tx.settle_timer(warn, now + mins(45), &TimerOutcome::AgentsReminded))
            .unwrap();
        s.write(|tx| tx.settle_timer(warn, now + mins(50), &TimerOutcome::Stale))
            .unwrap();
        let t = s.read().timers(Some(a)).unwrap();
        assert_eq!(t[0].fired_at, Some(now + mins(45)));
        assert_eq!(t[0].outcome, Some(TimerOutcome::AgentsReminded));
        assert_eq!(s.read().next_timer_due().unwrap(), Some(now + mins(60)));

        // Cancelling several kinds; a fired one stays as it was.
        s.write(|tx| {
            tx.cancel_timers(
                a,
                &[
                    TimerKind::FirstResponseWarning,
                    TimerKind::FirstResponseBreach,
                ],
                now + mins(46),
                &TimerOutcome::NoLongerDue,
            )
        })
        .unwrap();
        let t = s.read().timers(Some(a)).unwrap();
        assert_eq!(t[0].cancelled_at, None);
        assert_eq!(t[1].cancelled_at, Some(now + mins(46)));
        assert_eq!(t[1].outcome, Some(TimerOutcome::NoLongerDue));
        assert_eq!(s.read().next_timer_due().unwrap(), Some(now + mins(120)));
        assert!(s.read().due_timers(now + mins(119), 10).unwrap().is_empty());
    }
}
