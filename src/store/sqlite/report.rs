//! The SQLite implementation of [`crate::store::report`].

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, OptionalExtension};

use super::*;
use crate::store::report::*;

const REPORT_COLS: &str = "id, reference, status, category, priority, subject, created_at, first_response_due, first_response_at, resolution_due, resolved_at, reopen_count, escalated_at, purged_at, erased_at, queue, brand";

fn report_case(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportCase> {
    Ok(ReportCase {
        id: r.get(0)?,
        reference: r.get(1)?,
        status: values::status(r, 2, "cases.status")?,
        category: values::category(r, 3, "cases.category")?,
        priority: values::priority(r, 4, "cases.priority")?,
        subject: r.get(5)?,
        created_at: values::time(r, 6, "cases.created_at")?,
        first_response_due: values::opt_time(r, 7, "cases.first_response_due")?,
        first_response_at: values::opt_time(r, 8, "cases.first_response_at")?,
        resolution_due: values::opt_time(r, 9, "cases.resolution_due")?,
        resolved_at: values::opt_time(r, 10, "cases.resolved_at")?,
        reopen_count: r.get(11)?,
        escalated_at: values::opt_time(r, 12, "cases.escalated_at")?,
        purged_at: values::opt_time(r, 13, "cases.purged_at")?,
        erased_at: values::opt_time(r, 14, "cases.erased_at")?,
        queue: r.get(15)?,
        brand: r.get(16)?,
    })
}

/// The SQL condition of `scope` on the cases table (alias `c`), starting with ` AND`, and
/// its arguments, numbered from `?3` (`?1` and `?2` are the period).
fn scope_sql(scope: &ReportScope) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut args = Vec::new();
    for (column, m) in [("queue", &scope.queue), ("brand", &scope.brand)] {
        if let Some(m) = m {
            args.push(m.null_as.clone());
            args.push(m.name.clone());
            let n = args.len() + 2;
            sql.push_str(&format!(" AND COALESCE(c.{column}, ?{}) = ?{n}", n - 1));
        }
    }
    (sql, args)
}

/// The period and the scope's arguments.
fn period_args(from: DateTime<Utc>, to: DateTime<Utc>, scope: Vec<String>) -> Vec<String> {
    let mut v = vec![ts(from), ts(to)];
    v.extend(scope);
    v
}

impl ReportReads for SqliteReader<'_> {
    /// Cases of `scope` opened in `[from, to)`, oldest first (purged and erased ones included).
    ///
    /// # Errors
    /// SQL errors.
    fn cases_opened(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &ReportScope,
    ) -> Result<Vec<ReportCase>, StoreError> {
        let (cond, args) = scope_sql(scope);
        let mut st = self.conn.prepare(&format!(
            "SELECT {REPORT_COLS} FROM cases c WHERE created_at >= ?1 AND created_at < ?2{cond} ORDER BY created_at, id"
        ))?;
        let rows = st.query_map(params_from_iter(period_args(from, to, args)), report_case)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Cases of `scope` first escalated in `[from, to)`, whenever they were opened.
    ///
    /// # Errors
    /// SQL errors.
    fn cases_escalated(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &ReportScope,
    ) -> Result<Vec<ReportCase>, StoreError> {
        let (cond, args) = scope_sql(scope);
        let mut st = self.conn.prepare(&format!(
            "SELECT {REPORT_COLS} FROM cases c WHERE escalated_at >= ?1 AND escalated_at < ?2{cond} ORDER BY escalated_at, id"
        ))?;
        let rows = st.query_map(params_from_iter(period_args(from, to, args)), report_case)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Ratings given in `[from, to)` on cases of `scope`, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn ratings_given(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &ReportScope,
    ) -> Result<Vec<ReportRating>, StoreError> {
        let (cond, args) = scope_sql(scope);
        let mut st = self.conn.prepare(&format!(
            "SELECT r.case_id, c.reference, c.category, r.rating, r.comment, r.at
             FROM ratings r JOIN cases c ON c.id = r.case_id
             WHERE r.at >= ?1 AND r.at < ?2{cond} ORDER BY r.at, r.case_id"
        ))?;
        let rows = st.query_map(params_from_iter(period_args(from, to, args)), |r| {
            Ok(ReportRating {
                case_id: r.get(0)?,
                reference: r.get(1)?,
                category: values::category(r, 2, "cases.category")?,
                rating: r.get(3)?,
                comment: r.get(4)?,
                at: col(r, 5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// True when the digest of this slot was already queued.
    ///
    /// # Errors
    /// SQL errors.
    fn digest_sent(&self, slot: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT 1 FROM digests WHERE slot = ?1", [slot], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// True when any slot of this schedule (`weekly`...) was recorded, sent or skipped.
    ///
    /// # Errors
    /// SQL errors.
    fn any_digest(&self, schedule: &str) -> Result<bool, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM digests WHERE slot LIKE ?1 || ':%' LIMIT 1",
                [schedule],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }
}

impl ReportWrites for SqliteTx<'_> {
    /// Records a slot as handled without sending anything (no outbox row).
    ///
    /// # Errors
    /// SQL errors.
    fn skip_digest(
        &self,
        slot: &str,
        period_from: DateTime<Utc>,
        period_to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO digests(slot, period_from, period_to, created_at, outbox_id) VALUES (?1, ?2, ?3, ?4, NULL)
             ON CONFLICT(slot) DO NOTHING",
            params![slot, ts(period_from), ts(period_to), ts(now)],
        )?;
        Ok(())
    }

    /// Queues a digest and records its slot in this transaction; returns false (and queues
    /// nothing) when the slot was already recorded, so a slot goes out once across restarts.
    ///
    /// # Errors
    /// SQL errors.
    fn enqueue_digest(
        &self,
        slot: &str,
        period_from: DateTime<Utc>,
        period_to: DateTime<Utc>,
        mail: &NewOutbound<'_>,
    ) -> Result<bool, StoreError> {
        if self.read().digest_sent(slot)? {
            return Ok(false);
        }
        let id = self.enqueue(mail)?;
        self.tx.execute(
            "INSERT INTO digests(slot, period_from, period_to, created_at, outbox_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![slot, ts(period_from), ts(period_to), ts(mail.now), id],
        )?;
        self.audit(
            None,
            mail.now,
            "system",
            AuditEvent::DigestQueued,
            &serde_json::json!({"slot": slot, "to": mail.recipient, "from": ts(period_from), "until": ts(period_to)}),
        )?;
        Ok(true)
    }
}
