//! The SQLite implementation of [`crate::store::outbox`].

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::*;
use crate::store::outbox::*;

impl OutboxReads for SqliteReader<'_> {
    /// When the next pending row falls due, to sleep until then.
    ///
    /// # Errors
    /// SQL errors.
    fn next_outbound_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let s: Option<String> = self
            .conn
            .prepare_cached("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'")?
            .query_row([], |r| r.get(0))?;
        Ok(s.as_deref().and_then(parse_ts))
    }

    /// Messages of every kind sent since `since` (for the circuit breaker).
    ///
    /// # Errors
    /// SQL errors.
    fn sent_since(&self, since: DateTime<Utc>) -> Result<i64, StoreError> {
        // `automatic IN (0, 1)` lets SQLite read the (automatic, sent_at) index.
        Ok(self.conn.prepare_cached("SELECT COUNT(*) FROM outbox WHERE automatic IN (0, 1) AND status = 'sent' AND sent_at >= ?1")?.query_row(
            [ts(since)],
            |r| r.get(0),
        )?)
    }

    /// Outbound rows of a case (or all when `case_id` is None), oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn outbox(&self, case_id: Option<i64>) -> Result<Vec<OutboxStatus>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, case_id, kind, message_id, recipient, subject, status, attempts, last_error, created_at, sent_at,
                    audience
             FROM outbox WHERE (?1 IS NULL OR case_id = ?1) ORDER BY id",
        )?;
        let rows = st.query_map([case_id], |r| {
            Ok(OutboxStatus {
                id: r.get(0)?,
                case_id: r.get(1)?,
                kind: col(r, 2)?,
                message_id: r.get(3)?,
                recipient: r.get(4)?,
                subject: r.get(5)?,
                status: col(r, 6)?,
                attempts: r.get(7)?,
                last_error: r.get(8)?,
                created_at: col(r, 9)?,
                sent_at: col_opt(r, 10)?,
                audience: col(r, 11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl OutboxWrites for SqliteTx<'_> {
    /// Marks outbound rows sent, in one transaction.
    ///
    /// # Errors
    /// SQL errors.
    fn mark_sent(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "UPDATE outbox SET status = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
        )?;
        for id in ids {
            st.execute(params![id, ts(now)])?;
        }
        Ok(())
    }

    /// Records a failed attempt: retry at `next` or, when `next` is None, give up.
    ///
    /// # Errors
    /// SQL errors.
    fn mark_attempt_failed(
        &self,
        row: &OutboundRow,
        error: &str,
        next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match next {
            Some(n) => self
                .tx
                .prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                )?
                .execute(params![row.id, error, ts(n)])?,
            None => {
                self.tx
                    .prepare_cached(
                        "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
                    )?
                    .execute(params![row.id, error])?;
                self.audit(
                    row.case_id,
                    now,
                    "system",
                    AuditEvent::OutboundFailed,
                    &serde_json::json!({"kind": row.kind, "message_id": row.message_id, "error": error}),
                )?;
                0
            }
        };
        Ok(())
    }

    /// Queues an outbound message; the worker sends it after this transaction commits.
    ///
    /// # Errors
    /// SQL errors.
    fn enqueue(&self, o: &NewOutbound<'_>) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO outbox(case_id, kind, automatic, message_id, envelope_from, recipient, subject, body,
                                status, next_attempt_at, created_at, audience)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9, ?9, ?10)",
        )?;
        st.execute(params![
            o.case_id,
            o.kind,
            o.automatic,
            o.message_id,
            o.envelope_from,
            o.recipient,
            o.subject,
            o.body,
            ts(o.now),
            o.audience,
        ])?;
        Ok(self.tx.last_insert_rowid())
    }

    fn set_outbound_cc(&self, id: i64, cc: &[String]) -> Result<(), StoreError> {
        let cc = (!cc.is_empty()).then(|| cc.join(","));
        self.tx
            .prepare_cached("UPDATE outbox SET cc = ?2 WHERE id = ?1")?
            .execute(params![id, cc])?;
        Ok(())
    }

    /// The Message-IDs of one side's mail thread of a case, oldest first: what we sent to that
    /// audience and what that side sent us. Replies continue this chain (In-Reply-To the
    /// last, References the chain), so each mail client shows the case as one thread.
    ///
    /// # Errors
    /// SQL errors.
    fn thread_ids(&self, case_id: i64, audience: Audience) -> Result<Vec<String>, StoreError> {
        let mut st = self.tx.prepare_cached(
            // At the same instant (one batch), what came in precedes what we sent in answer.
            "SELECT message_id, at FROM (
                 SELECT message_id, created_at AS at, 1 AS side, id AS o FROM outbox
                  WHERE case_id = ?1 AND audience = ?2
                 UNION ALL
                 SELECT message_id, received_at AS at, 0 AS side, id AS o FROM messages
                  WHERE case_id = ?1 AND message_id IS NOT NULL AND robot IS NULL
                    AND merged_from IS NULL
                    AND (role = ?2 OR (?2 = 'customer' AND role = 'cc')
                         OR (?2 = 'agent' AND role = 'manager'))
             ) ORDER BY at, side, o",
        )?;
        let rows = st.query_map(params![case_id, audience], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Messages of `kind` queued to `recipient` since `since` (for per-sender caps).
    ///
    /// # Errors
    /// SQL errors.
    fn count_outbound_to(
        &self,
        recipient: &str,
        kind: OutboundKind,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM outbox WHERE recipient = ?1 AND kind = ?2 AND created_at >= ?3",
        )?;
        Ok(st.query_row(params![recipient, kind, ts(since)], |r| r.get(0))?)
    }
}

impl OutboxOps for SqliteStore {
    fn claim_due_outbound(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        except: &std::collections::HashSet<i64>,
    ) -> Result<Vec<OutboundRow>, StoreError> {
        // The ids first (from the outbox_due index alone), skipping the rows in `except`
        // (taken by the sender and not yet recorded), then the chosen rows with their bodies.
        let mut ids = Vec::with_capacity(limit);
        {
            let mut st = self.conn.prepare_cached(
                "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2",
            )?;
            let mut rows = st.query(params![ts(now), (limit + except.len()) as i64])?;
            while let Some(r) = rows.next()? {
                let id: i64 = r.get(0)?;
                if !except.contains(&id) {
                    ids.push(id);
                    if ids.len() >= limit {
                        break;
                    }
                }
            }
        }
        let mut st = self.conn.prepare_cached(
            "SELECT id, case_id, kind, automatic, message_id, envelope_from,
                    CASE WHEN cc IS NULL THEN recipient ELSE recipient || ',' || cc END,
                    body, attempts, created_at
             FROM outbox WHERE id = ?1",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(st.query_row([id], |r| {
                Ok(OutboundRow {
                    id: r.get(0)?,
                    case_id: r.get(1)?,
                    kind: col(r, 2)?,
                    automatic: r.get::<_, i64>(3)? != 0,
                    message_id: r.get(4)?,
                    envelope_from: r.get(5)?,
                    recipient: r.get(6)?,
                    body: r.get(7)?,
                    attempts: r.get(8)?,
                    created_at: col(r, 9)?,
                })
            })?);
        }
        Ok(out)
    }

    /// Marks pending customer mail to an address that bounced on its case as failed (it would
    /// only bounce again); returns how many rows.
    ///
    /// # Errors
    /// SQL errors.
    fn drop_undeliverable(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        // Asked first with a read, which does not wait for a writer: the UPDATE would take
        // the write lock even when nothing matches, once per outbox round. Both go through
        // the same rows (UNDELIVERABLE_PENDING).
        let any: bool = self
            .conn
            .prepare_cached(&format!("SELECT EXISTS({UNDELIVERABLE_PENDING})"))?
            .query_row([], |r| r.get(0))?;
        if !any {
            return Ok(0);
        }
        Ok(self
            .conn
            .prepare_cached(&format!(
                "UPDATE outbox SET status = 'failed', last_error = 'not sent: the address bounced (undeliverable)',
                     sent_at = NULL, next_attempt_at = ?1
                 WHERE id IN ({UNDELIVERABLE_PENDING})"
            ))?
            .execute([ts(now)])?)
    }

    /// Delays all pending mail (circuit breaker) until `until`: relayed answers too, since a
    /// loop between two auto-responders is made of mail that does not look automatic.
    ///
    /// # Errors
    /// SQL errors.
    fn defer_pending(&mut self, until: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.conn.prepare_cached("UPDATE outbox SET next_attempt_at = ?1 WHERE status = 'pending' AND next_attempt_at < ?1")?.execute(
            [ts(until)],
        )?)
    }
}
