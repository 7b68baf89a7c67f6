//! The SQLite implementation of [`crate::store::cases`].

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::*;
use crate::case::Status;
use crate::store::cases::*;

impl CaseReads for SqliteReader<'_> {
    /// A case by its reference.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_reference(&self, reference: &str) -> Result<Option<CaseRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {CASE_COLS} FROM cases WHERE reference = ?1"),
                [reference],
                case_from_row,
            )
            .optional()?)
    }

    /// All cases, newest first.
    ///
    /// # Errors
    /// SQL errors.
    fn cases(&self) -> Result<Vec<CaseRow>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(&format!("SELECT {CASE_COLS} FROM cases ORDER BY id DESC"))?;
        let rows = st.query_map([], case_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Audit events of a case (or of no case when `case_id` is None), oldest first.
    ///
    /// # Errors
    /// SQL errors; an unknown event is a data error.
    fn audit_of_case(&self, case_id: Option<i64>) -> Result<Vec<AuditRow>, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT at, actor, event, detail FROM audit WHERE (?1 IS NULL AND case_id IS NULL) OR case_id = ?1 ORDER BY id",
        )?;
        let rows = st.query_map([case_id], |r| {
            Ok(AuditRow {
                at: col(r, 0)?,
                actor: r.get(1)?,
                event: col(r, 2)?,
                detail: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The rating of a case, as (rating, comment).
    ///
    /// # Errors
    /// SQL errors.
    fn rating(&self, case_id: i64) -> Result<Option<(u8, Option<String>)>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT rating, comment FROM ratings WHERE case_id = ?1")?
            .query_row([case_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    /// Totals for summaries.
    ///
    /// # Errors
    /// SQL errors.
    fn case_channel(&self, case_id: i64) -> Result<(Channel, Option<String>), StoreError> {
        let row: Option<(Channel, Option<String>)> = self
            .conn
            .query_row(
                "SELECT channel, logged_by FROM cases WHERE id = ?1",
                [case_id],
                |r| Ok((col(r, 0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.unwrap_or((Channel::Email, None)))
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        let one = |sql: &str| -> Result<i64, StoreError> {
            Ok(self.conn.query_row(sql, [], |r| r.get(0))?)
        };
        Ok(Counts {
            cases: one("SELECT COUNT(*) FROM cases")?,
            messages: one("SELECT COUNT(*) FROM messages")?,
            robots: one("SELECT COUNT(*) FROM messages WHERE robot IS NOT NULL")?,
            quarantined: one("SELECT COUNT(*) FROM quarantine")?,
            outbox_pending: one("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")?,
            outbox_sent: one("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")?,
            outbox_failed: one("SELECT COUNT(*) FROM outbox WHERE status = 'failed'")?,
        })
    }
}

impl CaseWrites for SqliteTx<'_> {
    /// The case of the most recent of these Message-IDs that *we* issued (an outbound row).
    /// Only these thread anyone into a case: we sent that message to the case's people.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_our_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
        let mut out = self.tx.prepare_cached(
            "SELECT case_id FROM outbox WHERE message_id = ?1 AND case_id IS NOT NULL",
        )?;
        // Walk from the most recent reference (last in References) back to the root.
        for id in ids.iter().rev() {
            if let Some(c) = out.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
                return self.case_by_id(c);
            }
        }
        Ok(None)
    }

    /// The case of the most recent of these Message-IDs that was stored as a public inbound
    /// message. Anybody who saw (or guessed) a customer's Message-ID can name it, so threading
    /// admits a sender through it only when they already take part in the case.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_inbound_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
        let mut inb = self.tx.prepare_cached(
            "SELECT case_id FROM messages WHERE message_id = ?1 AND case_id IS NOT NULL AND visibility = 'public' ORDER BY id DESC LIMIT 1",
        )?;
        for id in ids.iter().rev() {
            if let Some(c) = inb.query_row([id], |r| r.get::<_, i64>(0)).optional()? {
                return self.case_by_id(c);
            }
        }
        Ok(None)
    }

    /// A case by id.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_id(&self, id: i64) -> Result<Option<CaseRow>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(&format!("SELECT {CASE_COLS} FROM cases WHERE id = ?1"))?
            .query_row([id], case_from_row)
            .optional()?)
    }

    /// A case by reference.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_reference(&self, reference: &str) -> Result<Option<CaseRow>, StoreError> {
        self.read().case_by_reference(reference)
    }

    /// True when `address` (normalised) takes part in the case.
    ///
    /// # Errors
    /// SQL errors.
    fn is_participant(&self, case_id: i64, address: &str) -> Result<bool, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM participants WHERE case_id = ?1 AND address = ?2 AND removed_at IS NULL)",
        )?;
        Ok(st.query_row(params![case_id, address], |r| r.get(0))?)
    }

    /// True when a reference is already taken.
    ///
    /// # Errors
    /// SQL errors.
    fn reference_exists(&self, reference: &str) -> Result<bool, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM cases WHERE reference = ?1)")?;
        Ok(st.query_row([reference], |r| r.get(0))?)
    }

    /// Creates a case and returns its id.
    ///
    /// # Errors
    /// SQL errors (a duplicate reference is a constraint error).
    fn insert_case(&self, c: &NewCase<'_>) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO cases(reference, status, category, priority, subject, customer_address, customer_name,
                               created_at, updated_at, first_response_due, linked_case_id,
                               resolution_due, last_public_at, language, queue, brand, our_address)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        st.execute(params![
            c.reference,
            c.status.as_str(),
            c.category.as_str(),
            c.priority.as_str(),
            c.subject,
            c.customer_address,
            c.customer_name,
            ts(c.now),
            c.first_response_due.map(ts),
            c.linked_case_id,
            c.resolution_due.map(ts),
            c.last_public_at.map(ts),
            c.language,
            c.queue,
            c.brand,
            c.our_address,
        ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Changes a case's status (the caller has checked the transition) and audits it.
    ///
    /// # Errors
    /// SQL errors.
    fn set_status(
        &self,
        case_id: i64,
        from: Status,
        to: Status,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (from, to) = (from.as_str(), to.as_str());
        self.tx.prepare_cached("UPDATE cases SET status = ?2, updated_at = ?3,
                    escalated_at = CASE WHEN ?2 = 'escalated' THEN COALESCE(escalated_at, ?3) ELSE escalated_at END
             WHERE id = ?1")?.execute(
            params![case_id, to, ts(now)],
        )?;
        self.audit(
            Some(case_id),
            now,
            actor,
            AuditEvent::Status,
            &serde_json::json!({"from": from, "to": to, "reason": reason}),
        )
    }

    /// Bumps a case's `updated_at`.
    ///
    /// # Errors
    /// SQL errors.
    fn touch_case(&self, case_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE cases SET updated_at = ?2 WHERE id = ?1")?
            .execute(params![case_id, ts(now)])?;
        Ok(())
    }

    /// Adds a participant (no-op when already there).
    ///
    /// # Errors
    /// SQL errors.
    fn add_participant(
        &self,
        case_id: i64,
        address: &str,
        name: Option<&str>,
        role: ParticipantRole,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO participants(case_id, address, name, role, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        st.execute(params![case_id, address, name, role, ts(now)])?;
        Ok(())
    }

    fn people(&self, case_id: i64) -> Result<Vec<Person>, StoreError> {
        people(self.tx, case_id)
    }

    fn put_participant(
        &self,
        case_id: i64,
        address: &str,
        name: Option<&str>,
        role: ParticipantRole,
        restore: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO participants(case_id, address, name, role, added_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![case_id, address, name, role, ts(now)])?;
        if n > 0 || !restore {
            return Ok(n > 0);
        }
        let back = self
            .tx
            .prepare_cached(
                "UPDATE participants SET removed_at = NULL, name = COALESCE(?3, name)
                 WHERE case_id = ?1 AND address = ?2 AND removed_at IS NOT NULL",
            )?
            .execute(params![case_id, address, name])?;
        Ok(back > 0)
    }

    fn remove_participant(
        &self,
        case_id: i64,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "UPDATE participants SET removed_at = ?3
                 WHERE case_id = ?1 AND address = ?2 AND removed_at IS NULL AND role <> 'customer'",
            )?
            .execute(params![case_id, address, ts(now)])?;
        Ok(n > 0)
    }

    /// Marks `address` undeliverable on one case; true when it was not marked before.
    ///
    /// # Errors
    /// SQL errors.
    fn mark_undeliverable_on(&self, case_id: i64, address: &str) -> Result<bool, StoreError> {
        let n = self.tx.prepare_cached("UPDATE participants SET undeliverable = 1 WHERE case_id = ?1 AND address = ?2 AND undeliverable = 0")?.execute(
            params![case_id, address],
        )?;
        Ok(n > 0)
    }

    /// True when mail to `address` on this case bounced for good.
    ///
    /// # Errors
    /// SQL errors.
    fn is_undeliverable(&self, case_id: i64, address: &str) -> Result<bool, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM participants WHERE case_id = ?1 AND address = ?2 AND undeliverable = 1)",
        )?;
        Ok(st.query_row(params![case_id, address], |r| r.get(0))?)
    }

    /// Appends an audit event.
    ///
    /// # Errors
    /// SQL errors.
    fn audit(
        &self,
        case_id: Option<i64>,
        now: DateTime<Utc>,
        actor: &str,
        event: AuditEvent,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO audit(case_id, at, actor, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        st.execute(params![case_id, ts(now), actor, event, detail.to_string()])?;
        Ok(())
    }

    /// Changes a field of a case, bumps its `updated_at` and audits the change (an event
    /// named for the field, with the stored texts before and after).
    ///
    /// # Errors
    /// SQL errors.
    fn update_case_audited(
        &self,
        case_id: i64,
        change: &CaseChange,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let column = change.column();
        let value = change.stored();
        let event: AuditEvent = column
            .parse()
            .map_err(|e: crate::case::kinds::UnknownName| StoreError::Data(e.to_string()))?;
        let old: Option<String> = self
            .tx
            .prepare_cached(&format!("SELECT {column} FROM cases WHERE id = ?1"))?
            .query_row([case_id], |r| r.get(0))?;
        self.tx
            .prepare_cached(&format!(
                "UPDATE cases SET {column} = ?2, updated_at = ?3 WHERE id = ?1"
            ))?
            .execute(params![case_id, value, ts(now)])?;
        self.audit(
            Some(case_id),
            now,
            actor,
            event,
            &serde_json::json!({"from": old, "to": value}),
        )
    }

    /// Records the first agent answer (only the first one counts).
    ///
    /// # Errors
    /// SQL errors.
    fn set_first_response(&self, case_id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx.prepare_cached("UPDATE cases SET first_response_at = ?2 WHERE id = ?1 AND first_response_at IS NULL")?.execute(
            params![case_id, ts(now)],
        )?;
        Ok(())
    }

    /// Records a resolution (start of the reopen window), or a reopening.
    ///
    /// # Errors
    /// SQL errors.
    fn set_resolved(
        &self,
        case_id: i64,
        resolved: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if resolved {
            self.tx
                .prepare_cached("UPDATE cases SET resolved_at = ?2 WHERE id = ?1")?
                .execute(params![case_id, ts(now)])?;
        } else {
            self.tx
                .prepare_cached("UPDATE cases SET reopen_count = reopen_count + 1 WHERE id = ?1")?
                .execute(params![case_id])?;
        }
        Ok(())
    }

    /// Sets a bookkeeping field of a case (times the scheduler keeps) without an audit
    /// event and without bumping `updated_at`.
    ///
    /// # Errors
    /// SQL errors.
    fn update_case(&self, case_id: i64, change: &CaseChange) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(&format!(
                "UPDATE cases SET {} = ?2 WHERE id = ?1",
                change.column()
            ))?
            .execute(params![case_id, change.stored()])?;
        Ok(())
    }

    /// Records a rating (the last one per case counts).
    ///
    /// # Errors
    /// SQL errors.
    fn set_rating(
        &self,
        case_id: i64,
        rating: u8,
        comment: Option<&str>,
        message_id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.tx.prepare_cached("INSERT INTO ratings(case_id, rating, comment, at, message_id) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(case_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment,
                                                at = excluded.at, message_id = excluded.message_id")?.execute(
            params![case_id, rating, comment, ts(now), message_id],
        )?;
        Ok(())
    }

    /// Merges case `from` into `into` (see the trait).
    ///
    /// # Errors
    /// SQL errors.
    fn merge_case(
        &self,
        from: i64,
        into: i64,
        copies: bool,
        now: DateTime<Utc>,
    ) -> Result<Moved, StoreError> {
        let messages = self
            .tx
            .prepare_cached(
                "UPDATE messages SET case_id = ?2, merged_from = COALESCE(merged_from, ?1)
                 WHERE case_id = ?1",
            )?
            .execute(params![from, into])?;
        let participants = self
            .tx
            .prepare_cached(
                "INSERT OR IGNORE INTO participants(case_id, address, name, role, undeliverable, added_at,
                                                    removed_at)
                 SELECT ?2, address, name, CASE role WHEN 'customer' THEN 'cc' ELSE role END,
                        undeliverable, added_at,
                        CASE WHEN ?3 = 0 AND role IN ('customer', 'cc') THEN COALESCE(removed_at, ?4)
                             ELSE removed_at END
                 FROM participants WHERE case_id = ?1",
            )?
            .execute(params![from, into, copies, ts(now)])?;
        self.tx
            .prepare_cached("DELETE FROM participants WHERE case_id = ?1")?
            .execute([from])?;
        self.tx
            .prepare_cached("UPDATE cases SET merged_into = ?2 WHERE id = ?1")?
            .execute(params![from, into])?;
        Ok(Moved {
            messages,
            participants,
        })
    }

    /// Cases opened by `customer` since `since`, and the latest of them.
    ///
    /// # Errors
    /// SQL errors.
    fn recent_cases_of(
        &self,
        customer: &str,
        since: DateTime<Utc>,
    ) -> Result<(i64, Option<i64>), StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*), MAX(id) FROM cases WHERE customer_address = ?1 AND created_at >= ?2",
        )?;
        Ok(st.query_row(params![customer, ts(since)], |r| Ok((r.get(0)?, r.get(1)?)))?)
    }

    fn set_channel(
        &self,
        case_id: i64,
        channel: Channel,
        logged_by: Option<&str>,
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached("UPDATE cases SET channel = ?2, logged_by = ?3 WHERE id = ?1")?
            .execute(params![case_id, channel.as_str(), logged_by])?;
        Ok(())
    }
}

impl CaseOps for SqliteStore {
    fn people_of(&self, case_id: i64) -> Result<Vec<Person>, StoreError> {
        people(&self.conn, case_id)
    }
}

/// Everybody on a case (the Tx and the Store read it alike).
fn people(conn: &rusqlite::Connection, case_id: i64) -> Result<Vec<Person>, StoreError> {
    let mut st = conn.prepare_cached(
        "SELECT address, name, role, undeliverable, removed_at IS NOT NULL FROM participants
         WHERE case_id = ?1 ORDER BY added_at, address",
    )?;
    let rows = st.query_map([case_id], |r| {
        Ok(Person {
            address: r.get(0)?,
            name: r.get(1)?,
            role: col(r, 2)?,
            undeliverable: r.get(3)?,
            removed: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
