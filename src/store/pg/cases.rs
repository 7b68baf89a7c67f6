//! The PostgreSQL implementation of [`crate::store::cases`].

use chrono::{DateTime, Utc};

use super::values::{col, flag, get, stored_flag};
use super::*;
use crate::case::Status;
use crate::store::cases::*;

impl CaseReads for PgReader<'_> {
    /// A case by its reference.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_reference(&self, reference: &str) -> Result<Option<CaseRow>, StoreError> {
        self.db
            .query_opt(
                &format!("SELECT {CASE_COLS} FROM cases WHERE reference = $1"),
                &[&reference],
            )?
            .as_ref()
            .map(case_from_row)
            .transpose()
    }

    /// All cases, newest first.
    ///
    /// # Errors
    /// SQL errors.
    fn cases(&self) -> Result<Vec<CaseRow>, StoreError> {
        self.db
            .query(
                &format!("SELECT {CASE_COLS} FROM cases ORDER BY id DESC"),
                &[],
            )?
            .iter()
            .map(case_from_row)
            .collect()
    }

    /// Audit events of a case (or of no case when `case_id` is None), oldest first.
    ///
    /// # Errors
    /// SQL errors; an unknown event is a data error.
    fn audit_of_case(&self, case_id: Option<i64>) -> Result<Vec<AuditRow>, StoreError> {
        self.db
            .query(
                "SELECT at, actor, event, detail FROM audit
                 WHERE ($1::BIGINT IS NULL AND case_id IS NULL) OR case_id = $1 ORDER BY id",
                &[&case_id],
            )?
            .iter()
            .map(|r| {
                Ok(AuditRow {
                    at: col(r, 0)?,
                    actor: get(r, 1)?,
                    event: col(r, 2)?,
                    detail: get(r, 3)?,
                })
            })
            .collect()
    }

    /// The rating of a case, as (rating, comment).
    ///
    /// # Errors
    /// SQL errors; a stored rating outside 0..=255 is a data error.
    fn rating(&self, case_id: i64) -> Result<Option<(u8, Option<String>)>, StoreError> {
        self.db
            .query_opt(
                "SELECT rating, comment FROM ratings WHERE case_id = $1",
                &[&case_id],
            )?
            .map(|r| {
                let rating: i64 = get(&r, 0)?;
                let rating = u8::try_from(rating).map_err(|_| {
                    StoreError::Data(format!(
                        "column ratings.rating holds {rating}: not a rating"
                    ))
                })?;
                Ok((rating, get(&r, 1)?))
            })
            .transpose()
    }

    /// Totals for summaries.
    ///
    /// # Errors
    /// SQL errors.
    fn counts(&self) -> Result<Counts, StoreError> {
        let one = |sql: &str| -> Result<i64, StoreError> { get(&self.db.query_one(sql, &[])?, 0) };
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

    /// How the case's complaint reached us, and the agent address that logged it (None for
    /// mail from the customer; an unknown case reads as mail).
    ///
    /// # Errors
    /// SQL errors; an unknown channel is a data error.
    fn case_channel(&self, case_id: i64) -> Result<(Channel, Option<String>), StoreError> {
        let row: Option<(Channel, Option<String>)> = self
            .db
            .query_opt(
                "SELECT channel, logged_by FROM cases WHERE id = $1",
                &[&case_id],
            )?
            .map(|r| Ok::<_, StoreError>((col(&r, 0)?, get(&r, 1)?)))
            .transpose()?;
        Ok(row.unwrap_or((Channel::Email, None)))
    }
}

impl CaseWrites for PgTx<'_> {
    /// The case of the most recent of these Message-IDs that *we* issued (an outbound row).
    /// Only these thread anyone into a case: we sent that message to the case's people.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_our_message_ids(&self, ids: &[String]) -> Result<Option<CaseRow>, StoreError> {
        // Walk from the most recent reference (last in References) back to the root.
        for id in ids.iter().rev() {
            // outbox.message_id is unique: at most one row (LIMIT 1 as SQLite's first row).
            if let Some(r) = self.db.query_opt(
                "SELECT case_id FROM outbox WHERE message_id = $1 AND case_id IS NOT NULL LIMIT 1",
                &[id],
            )? {
                return self.case_by_id(get(&r, 0)?);
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
        for id in ids.iter().rev() {
            if let Some(r) = self.db.query_opt(
                "SELECT case_id FROM messages WHERE message_id = $1 AND case_id IS NOT NULL AND visibility = 'public' ORDER BY id DESC LIMIT 1",
                &[id],
            )? {
                return self.case_by_id(get(&r, 0)?);
            }
        }
        Ok(None)
    }

    /// A case by id.
    ///
    /// # Errors
    /// SQL errors.
    fn case_by_id(&self, id: i64) -> Result<Option<CaseRow>, StoreError> {
        self.db
            .query_opt(
                &format!("SELECT {CASE_COLS} FROM cases WHERE id = $1"),
                &[&id],
            )?
            .as_ref()
            .map(case_from_row)
            .transpose()
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
        get(
            &self.db.query_one(
                "SELECT EXISTS(SELECT 1 FROM participants WHERE case_id = $1 AND address = $2 AND removed_at IS NULL)",
                &[&case_id, &address],
            )?,
            0,
        )
    }

    /// True when a reference is already taken.
    ///
    /// # Errors
    /// SQL errors.
    fn reference_exists(&self, reference: &str) -> Result<bool, StoreError> {
        get(
            &self.db.query_one(
                "SELECT EXISTS(SELECT 1 FROM cases WHERE reference = $1)",
                &[&reference],
            )?,
            0,
        )
    }

    /// Creates a case and returns its id.
    ///
    /// # Errors
    /// SQL errors (a duplicate reference is a constraint error).
    fn insert_case(&self, c: &NewCase<'_>) -> Result<i64, StoreError> {
        let row = self.db.query_one(
            "INSERT INTO cases(reference, status, category, priority, subject, customer_address, customer_name,
                               created_at, updated_at, first_response_due, linked_case_id,
                               resolution_due, last_public_at, language, queue, brand, our_address)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12, $13, $14, $15, $16)
             RETURNING id",
            &[
                &c.reference,
                &c.status.as_str(),
                &c.category.as_str(),
                &c.priority.as_str(),
                &c.subject,
                &c.customer_address,
                &c.customer_name,
                &ts(c.now),
                &c.first_response_due.map(ts),
                &c.linked_case_id,
                &c.resolution_due.map(ts),
                &c.last_public_at.map(ts),
                &c.language,
                &c.queue,
                &c.brand,
                &c.our_address,
            ],
        )?;
        get(&row, 0)
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
        self.db.execute(
            "UPDATE cases SET status = $2, updated_at = $3,
                    escalated_at = CASE WHEN $2 = 'escalated' THEN COALESCE(escalated_at, $3) ELSE escalated_at END
             WHERE id = $1",
            &[&case_id, &to, &ts(now)],
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
        self.db.execute(
            "UPDATE cases SET updated_at = $2 WHERE id = $1",
            &[&case_id, &ts(now)],
        )?;
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
        self.db.execute(
            "INSERT INTO participants(case_id, address, name, role, added_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&case_id, &address, &name, &role, &ts(now)],
        )?;
        Ok(())
    }

    fn people(&self, case_id: i64) -> Result<Vec<Person>, StoreError> {
        people(self.db, case_id)
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
        let n = self.db.execute(
            "INSERT INTO participants(case_id, address, name, role, added_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&case_id, &address, &name, &role, &ts(now)],
        )?;
        if n > 0 || !restore {
            return Ok(n > 0);
        }
        let back = self.db.execute(
            "UPDATE participants SET removed_at = NULL, name = COALESCE($3, name)
             WHERE case_id = $1 AND address = $2 AND removed_at IS NOT NULL",
            &[&case_id, &address, &name],
        )?;
        Ok(back > 0)
    }

    fn remove_participant(
        &self,
        case_id: i64,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self.db.execute(
            "UPDATE participants SET removed_at = $3
             WHERE case_id = $1 AND address = $2 AND removed_at IS NULL AND role <> 'customer'",
            &[&case_id, &address, &ts(now)],
        )?;
        Ok(n > 0)
    }

    /// Marks `address` undeliverable on one case; true when it was not marked before.
    ///
    /// # Errors
    /// SQL errors.
    fn mark_undeliverable_on(&self, case_id: i64, address: &str) -> Result<bool, StoreError> {
        let n = self.db.execute(
            "UPDATE participants SET undeliverable = 1 WHERE case_id = $1 AND address = $2 AND undeliverable = 0",
            &[&case_id, &address],
        )?;
        Ok(n > 0)
    }

    /// True when mail to `address` on this case bounced for good.
    ///
    /// # Errors
    /// SQL errors.
    fn is_undeliverable(&self, case_id: i64, address: &str) -> Result<bool, StoreError> {
        get(
            &self.db.query_one(
                "SELECT EXISTS(SELECT 1 FROM participants WHERE case_id = $1 AND address = $2 AND undeliverable = 1)",
                &[&case_id, &address],
            )?,
            0,
        )
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
        self.db.execute(
            "INSERT INTO audit(case_id, at, actor, event, detail) VALUES ($1, $2, $3, $4, $5)",
            &[&case_id, &ts(now), &actor, &event, &detail.to_string()],
        )?;
        Ok(())
    }

    /// Changes a field of a case, bumps its `updated_at` and audits the change (an event
    /// named for the field, with the stored texts before and after).
    ///
    /// # Errors
    /// SQL errors (an unknown case among them: it has no field to change).
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
        let old: Option<String> = get(
            &self.db.query_one(
                &format!("SELECT {column} FROM cases WHERE id = $1"),
                &[&case_id],
            )?,
            0,
        )?;
        self.db.execute(
            &format!("UPDATE cases SET {column} = $2, updated_at = $3 WHERE id = $1"),
            &[&case_id, &value, &ts(now)],
        )?;
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
        self.db.execute(
            "UPDATE cases SET first_response_at = $2 WHERE id = $1 AND first_response_at IS NULL",
            &[&case_id, &ts(now)],
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
            self.db.execute(
                "UPDATE cases SET resolved_at = $2 WHERE id = $1",
                &[&case_id, &ts(now)],
            )?;
        } else {
            self.db.execute(
                "UPDATE cases SET reopen_count = reopen_count + 1 WHERE id = $1",
                &[&case_id],
            )?;
        }
        Ok(())
    }

    /// Sets a bookkeeping field of a case (times the scheduler keeps) without an audit
    /// event and without bumping `updated_at`.
    ///
    /// # Errors
    /// SQL errors.
    fn update_case(&self, case_id: i64, change: &CaseChange) -> Result<(), StoreError> {
        self.db.execute(
            &format!("UPDATE cases SET {} = $2 WHERE id = $1", change.column()),
            &[&case_id, &change.stored()],
        )?;
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
        self.db.execute(
            "INSERT INTO ratings(case_id, rating, comment, at, message_id) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT(case_id) DO UPDATE SET rating = excluded.rating, comment = excluded.comment,
                                                at = excluded.at, message_id = excluded.message_id",
            &[&case_id, &i64::from(rating), &comment, &ts(now), &message_id],
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
        let messages = self.db.execute(
            "UPDATE messages SET case_id = $2, merged_from = COALESCE(merged_from, $1)
             WHERE case_id = $1",
            &[&from, &into],
        )?;
        let participants = self.db.execute(
            "INSERT INTO participants(case_id, address, name, role, undeliverable, added_at,
                                      removed_at)
             SELECT $2::BIGINT, address, name, CASE role WHEN 'customer' THEN 'cc' ELSE role END,
                    undeliverable, added_at,
                    CASE WHEN $3::BIGINT = 0 AND role IN ('customer', 'cc') THEN COALESCE(removed_at, $4)
                         ELSE removed_at END
             FROM participants WHERE case_id = $1
             ON CONFLICT DO NOTHING",
            &[&from, &into, &stored_flag(copies), &ts(now)],
        )?;
        self.db
            .execute("DELETE FROM participants WHERE case_id = $1", &[&from])?;
        self.db.execute(
            "UPDATE cases SET merged_into = $2 WHERE id = $1",
            &[&from, &into],
        )?;
        Ok(Moved {
            messages: count(messages),
            participants: count(participants),
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
        let r = self.db.query_one(
            "SELECT COUNT(*), MAX(id) FROM cases WHERE customer_address = $1 AND created_at >= $2",
            &[&customer, &ts(since)],
        )?;
        Ok((get(&r, 0)?, get(&r, 1)?))
    }

    fn set_channel(
        &self,
        case_id: i64,
        channel: Channel,
        logged_by: Option<&str>,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "UPDATE cases SET channel = $2, logged_by = $3 WHERE id = $1",
            &[&case_id, &channel.as_str(), &logged_by],
        )?;
        Ok(())
    }
}

impl CaseOps for PgStore {
    fn people_of(&self, case_id: i64) -> Result<Vec<Person>, StoreError> {
        people(&self.db, case_id)
    }
}

/// A row count from the driver as the `usize` the API reports.
fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Everybody on a case (the Tx and the Store read it alike).
fn people(db: &Db, case_id: i64) -> Result<Vec<Person>, StoreError> {
    db.query(
        "SELECT address, name, role, undeliverable, removed_at IS NOT NULL FROM participants
         WHERE case_id = $1 ORDER BY added_at, address",
        &[&case_id],
    )?
    .iter()
    .map(|r| {
        Ok(Person {
            address: get(r, 0)?,
            name: get(r, 1)?,
            role: col(r, 2)?,
            undeliverable: flag(r, 3)?,
            removed: get(r, 4)?,
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::case::{Category, Priority};

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
    }

    fn new_case(s: &mut PgStore, reference: &str, customer: &str, now: DateTime<Utc>) -> i64 {
        let (cat, pri) = (Category::from("billing"), Priority::new("normal"));
        s.write(|tx| {
            tx.insert_case(&NewCase {
                reference,
                status: Status::New,
                category: &cat,
                priority: &pri,
                subject: "Invoice wrong",
                customer_address: customer,
                customer_name: Some("Ann"),
                now,
                first_response_due: Some(now + chrono::Duration::hours(4)),
                resolution_due: None,
                last_public_at: Some(now),
                linked_case_id: None,
                language: Some("de"),
                queue: Some("billing"),
                brand: None,
                our_address: Some("help@example.com"),
            })
        })
        .unwrap()
    }

    fn message(s: &PgStore, id: i64, case_id: i64, message_id: &str, visibility: &str) {
        s.db()
            .execute(
                "INSERT INTO messages(id, case_id, dedupe_id, message_id, content_hash, subject,
                                      received_at, body_text, attachments, outcome, raw_size, visibility)
                 VALUES ($1, $2, $3, $4, 'h', 's', '2026-03-02T09:00:00Z', 'b', '[]', 'case_opened', 1, $5)",
                &[&id, &case_id, &format!("d{id}"), &message_id, &visibility],
            )
            .unwrap();
    }

    #[test]
    fn a_case_is_created_read_and_changed() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        let id = new_case(&mut s, "C-1", "ann@example.com", at(9));
        let c = s.read().case_by_reference("C-1").unwrap().unwrap();
        assert_eq!(
            (c.id, c.status, c.subject.as_str()),
            (id, Status::New, "Invoice wrong")
        );
        assert_eq!(c.created_at, at(9));
        assert_eq!(c.updated_at, at(9));
        assert_eq!(c.first_response_due, Some(at(13)));
        assert_eq!(c.language.as_deref(), Some("de"));
        assert_eq!(c.our_address.as_deref(), Some("help@example.com"));
        assert!(s.read().case_by_reference("C-2").unwrap().is_none());
        let id2 = new_case(&mut s, "C-2", "bob@example.com", at(10));
        let all: Vec<i64> = s.read().cases().unwrap().iter().map(|c| c.id).collect();
        assert_eq!(all, vec![id2, id]);
        assert_eq!(s.read().case_channel(id).unwrap(), (Channel::Email, None));
        assert_eq!(s.read().case_channel(999).unwrap(), (Channel::Email, None));

        s.write(|tx| {
            assert!(tx.reference_exists("C-1")?);
            assert!(!tx.reference_exists("C-9")?);
            assert_eq!(tx.case_by_id(id)?.unwrap().reference, "C-1");
            assert!(tx.case_by_id(999)?.is_none());
            assert_eq!(tx.case_by_reference("C-2")?.unwrap().id, id2);
            tx.set_status(
                id,
                Status::New,
                Status::Escalated,
                "agent@x",
                "angry",
                at(11),
            )?;
            tx.set_status(
                id,
                Status::Escalated,
                Status::InProgress,
                "agent@x",
                "",
                at(12),
            )?;
            tx.set_status(
                id,
                Status::InProgress,
                Status::Escalated,
                "agent@x",
                "",
                at(13),
            )?;
            tx.touch_case(id2, at(14))?;
            tx.set_first_response(id, at(12))?;
            tx.set_first_response(id, at(13))?;
            tx.set_resolved(id, true, at(15))?;
            tx.set_resolved(id, false, at(16))?;
            tx.set_resolved(id, false, at(16))?;
            tx.update_case(id, &CaseChange::ClosedAt(Some(at(17))))?;
            tx.update_case(id, &CaseChange::Brand(Some("acme".into())))?;
            tx.update_case_audited(
                id,
                &CaseChange::Priority(Priority::new("high")),
                "a@x",
                at(18),
            )?;
            tx.update_case_audited(id, &CaseChange::Assignee(Some("a@x".into())), "a@x", at(19))?;
            tx.update_case_audited(id, &CaseChange::Assignee(None), "a@x", at(20))?;
            tx.set_channel(id2, Channel::Logged, Some("agent@x"))?;
            tx.audit(
                None,
                at(21),
                "system",
                AuditEvent::DigestQueued,
                &serde_json::json!({"n": 1}),
            )
        })
        .unwrap();
        let c = s.read().case_by_reference("C-1").unwrap().unwrap();
        assert_eq!(c.status, Status::Escalated);
        assert_eq!(c.first_response_at, Some(at(12)));
        assert_eq!(c.resolved_at, Some(at(15)));
        assert_eq!(c.reopen_count, 2);
        assert_eq!(c.closed_at, Some(at(17)));
        assert_eq!(c.brand.as_deref(), Some("acme"));
        assert_eq!(c.priority, Priority::new("high"));
        assert_eq!(c.assignee, None);
        assert_eq!(c.updated_at, at(20));
        let escalated: Option<String> = s
            .db()
            .query_one("SELECT escalated_at FROM cases WHERE id = $1", &[&id])
            .unwrap()
            .get(0);
        assert_eq!(escalated, Some(ts(at(11))), "the first escalation is kept");
        let c2 = s.read().case_by_reference("C-2").unwrap().unwrap();
        assert_eq!(c2.updated_at, at(14));
        assert_eq!(
            s.read().case_channel(id2).unwrap(),
            (Channel::Logged, Some("agent@x".into()))
        );

        let audit = s.read().audit_of_case(Some(id)).unwrap();
        let events: Vec<AuditEvent> = audit.iter().map(|a| a.event).collect();
        assert_eq!(
            events,
            vec![
                AuditEvent::Status,
                AuditEvent::Status,
                AuditEvent::Status,
                AuditEvent::Priority,
                AuditEvent::Assignee,
                AuditEvent::Assignee
            ]
        );
        let d: serde_json::Value = serde_json::from_str(&audit[0].detail).unwrap();
        assert_eq!(
            d,
            serde_json::json!({"from": "new", "to": "escalated", "reason": "angry"})
        );
        let d: serde_json::Value = serde_json::from_str(&audit[3].detail).unwrap();
        assert_eq!(d, serde_json::json!({"from": "normal", "to": "high"}));
        let d: serde_json::Value = serde_json::from_str(&audit[5].detail).unwrap();
        assert_eq!(d, serde_json::json!({"from": "a@x", "to": null}));
        assert_eq!(audit[0].at, at(11));
        assert_eq!(audit[0].actor, "agent@x");
        let none = s.read().audit_of_case(None).unwrap();
        assert_eq!(none.len(), 1);
        assert_eq!(none[0].event, AuditEvent::DigestQueued);
        assert!(s.read().audit_of_case(Some(id2)).unwrap().is_empty());

        // An unknown case has no field to change (as SQLite's query_row).
        let e =
            s.write(|tx| tx.update_case_audited(999, &CaseChange::Assignee(None), "a@x", at(20)));
        assert!(e.is_err());

        // A stored value that is not a channel is a data error.
        s.db()
            .execute("UPDATE cases SET channel = 'pigeon' WHERE id = $1", &[&id])
            .unwrap();
        match s.read().case_channel(id) {
            Err(StoreError::Data(m)) => assert!(m.contains("channel"), "{m}"),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn ratings_counts_and_recent_cases() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        let id = new_case(&mut s, "C-1", "ann@example.com", at(9));
        new_case(&mut s, "C-2", "ann@example.com", at(11));
        let id3 = new_case(&mut s, "C-3", "ann@example.com", at(12));
        new_case(&mut s, "C-4", "bob@example.com", at(12));
        assert_eq!(s.read().rating(id).unwrap(), None);
        message(&s, 1, id, "<m1@x>", "public");
        s.write(|tx| tx.set_rating(id, 2, Some("slow"), Some(1), at(10)))
            .unwrap();
        assert_eq!(s.read().rating(id).unwrap(), Some((2, Some("slow".into()))));
        s.write(|tx| tx.set_rating(id, 5, None, None, at(11)))
            .unwrap();
        assert_eq!(s.read().rating(id).unwrap(), Some((5, None)));

        assert_eq!(
            s.write(|tx| tx.recent_cases_of("ann@example.com", at(10)))
                .unwrap(),
            (2, Some(id3))
        );
        assert_eq!(
            s.write(|tx| tx.recent_cases_of("nobody@example.com", at(10)))
                .unwrap(),
            (0, None)
        );

        s.db()
            .batch(
                "UPDATE messages SET robot = 'auto-reply' WHERE id = 1;
                 INSERT INTO quarantine(reason, size, at) VALUES ('too big', 1, '2026-03-02T09:00:00Z');
                 INSERT INTO outbox(case_id, kind, automatic, message_id, envelope_from, recipient, subject,
                                    body, status, next_attempt_at, created_at)
                 VALUES (NULL, 'ack', 1, '<o1@x>', 'a@x', 'b@x', 's', '\\x00', 'pending', 't', 't'),
                        (NULL, 'ack', 1, '<o2@x>', 'a@x', 'b@x', 's', '\\x00', 'sent', 't', 't'),
                        (NULL, 'ack', 1, '<o3@x>', 'a@x', 'b@x', 's', '\\x00', 'sent', 't', 't'),
                        (NULL, 'ack', 1, '<o4@x>', 'a@x', 'b@x', 's', '\\x00', 'failed', 't', 't');",
            )
            .unwrap();
        message(&s, 2, id, "<m2@x>", "public");
        assert_eq!(
            s.read().counts().unwrap(),
            Counts {
                cases: 4,
                messages: 2,
                robots: 1,
                quarantined: 1,
                outbox_pending: 1,
                outbox_sent: 2,
                outbox_failed: 1,
            }
        );
    }

    #[test]
    fn threading_finds_the_most_recent_known_message_id() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        let a = new_case(&mut s, "C-1", "ann@example.com", at(9));
        let b = new_case(&mut s, "C-2", "bob@example.com", at(9));
        s.db()
            .execute(
                "INSERT INTO outbox(case_id, kind, automatic, message_id, envelope_from, recipient, subject,
                                    body, status, next_attempt_at, created_at)
                 VALUES ($1, 'ack', 1, '<our-a@x>', 'a@x', 'b@x', 's', '\\x00', 'sent', 't', 't'),
                        ($2, 'ack', 1, '<our-b@x>', 'a@x', 'b@x', 's', '\\x00', 'sent', 't', 't'),
                        (NULL, 'digest', 1, '<our-none@x>', 'a@x', 'b@x', 's', '\\x00', 'sent', 't', 't')",
                &[&a, &b],
            )
            .unwrap();
        message(&s, 1, a, "<in-a@x>", "public");
        message(&s, 2, b, "<in-a@x>", "internal");
        message(&s, 3, b, "<in-b@x>", "public");
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        s.write(|tx| {
            let id_of = |c: Option<CaseRow>| c.map(|c| c.id);
            assert_eq!(
                id_of(tx.case_by_our_message_ids(&ids(&["<our-a@x>", "<our-b@x>"]))?),
                Some(b)
            );
            assert_eq!(
                id_of(tx.case_by_our_message_ids(&ids(&["<our-a@x>", "<x@x>"]))?),
                Some(a)
            );
            assert_eq!(
                id_of(tx.case_by_our_message_ids(&ids(&["<our-none@x>", "<in-a@x>"]))?),
                None
            );
            assert_eq!(id_of(tx.case_by_our_message_ids(&[])?), None);
            assert_eq!(
                id_of(tx.case_by_inbound_message_ids(&ids(&["<in-a@x>"]))?),
                Some(a)
            );
            assert_eq!(
                id_of(tx.case_by_inbound_message_ids(&ids(&["<in-b@x>", "<in-a@x>"]))?),
                Some(a)
            );
            assert_eq!(
                id_of(tx.case_by_inbound_message_ids(&ids(&["<in-a@x>", "<in-b@x>"]))?),
                Some(b)
            );
            assert_eq!(
                id_of(tx.case_by_inbound_message_ids(&ids(&["<our-a@x>"]))?),
                None
            );
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn participants_join_leave_bounce_and_merge() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        let a = new_case(&mut s, "C-1", "ann@example.com", at(9));
        let b = new_case(&mut s, "C-2", "bob@example.com", at(9));
        s.write(|tx| {
            tx.add_participant(
                a,
                "ann@example.com",
                Some("Ann"),
                ParticipantRole::Customer,
                at(9),
            )?;
            tx.add_participant(
                a,
                "ann@example.com",
                Some("Other"),
                ParticipantRole::Cc,
                at(10),
            )?;
            tx.add_participant(a, "agent@x", None, ParticipantRole::Agent, at(10))?;
            assert!(tx.put_participant(
                a,
                "carl@example.com",
                None,
                ParticipantRole::Cc,
                false,
                at(11)
            )?);
            assert!(!tx.put_participant(
                a,
                "carl@example.com",
                None,
                ParticipantRole::Cc,
                true,
                at(11)
            )?);
            assert!(tx.remove_participant(a, "carl@example.com", at(12))?);
            assert!(!tx.remove_participant(a, "carl@example.com", at(12))?);
            assert!(
                !tx.remove_participant(a, "ann@example.com", at(12))?,
                "the customer stays"
            );
            assert!(!tx.is_participant(a, "carl@example.com")?);
            assert!(tx.is_participant(a, "ann@example.com")?);
            assert!(!tx.put_participant(
                a,
                "carl@example.com",
                Some("Carl"),
                ParticipantRole::Cc,
                false,
                at(13)
            )?);
            assert!(!tx.is_participant(a, "carl@example.com")?);
            assert!(tx.put_participant(
                a,
                "carl@example.com",
                Some("Carl"),
                ParticipantRole::Cc,
                true,
                at(13)
            )?);
            assert!(tx.is_participant(a, "carl@example.com")?);
            assert!(tx.mark_undeliverable_on(a, "carl@example.com")?);
            assert!(!tx.mark_undeliverable_on(a, "carl@example.com")?);
            assert!(tx.is_undeliverable(a, "carl@example.com")?);
            assert!(!tx.is_undeliverable(a, "ann@example.com")?);
            assert!(!tx.is_undeliverable(b, "carl@example.com")?);
            tx.remove_participant(a, "carl@example.com", at(14))?;
            let p = tx.people(a)?;
            assert_eq!(p.len(), 3);
            Ok(())
        })
        .unwrap();
        let people = s.people_of(a).unwrap();
        assert_eq!(
            people,
            vec![
                Person {
                    address: "ann@example.com".into(),
                    name: Some("Ann".into()),
                    role: ParticipantRole::Customer,
                    undeliverable: false,
                    removed: false,
                },
                Person {
                    address: "agent@x".into(),
                    name: None,
                    role: ParticipantRole::Agent,
                    undeliverable: false,
                    removed: false,
                },
                Person {
                    address: "carl@example.com".into(),
                    name: Some("Carl".into()),
                    role: ParticipantRole::Cc,
                    undeliverable: true,
                    removed: true,
                },
            ]
        );
        assert_eq!(
            s.participants(a).unwrap()[0],
            ("ann@example.com".into(), ParticipantRole::Customer, false)
        );

        // Merge a into b: b already has agent@x; a's customer joins b as a removed cc.
        message(&s, 1, a, "<m1@x>", "public");
        message(&s, 2, a, "<m2@x>", "public");
        s.db()
            .execute("UPDATE messages SET merged_from = $1 WHERE id = 2", &[&b])
            .unwrap();
        let moved = s
            .write(|tx| {
                tx.add_participant(b, "bob@example.com", None, ParticipantRole::Customer, at(9))?;
                tx.add_participant(b, "agent@x", Some("Agent"), ParticipantRole::Agent, at(9))?;
                tx.merge_case(a, b, false, at(15))
            })
            .unwrap();
        assert_eq!(
            moved,
            Moved {
                messages: 2,
                participants: 2
            }
        );
        assert!(s.people_of(a).unwrap().is_empty());
        let pb = s.people_of(b).unwrap();
        let find = |addr: &str| pb.iter().find(|p| p.address == addr).unwrap().clone();
        assert_eq!(find("ann@example.com").role, ParticipantRole::Cc);
        assert!(find("ann@example.com").removed);
        assert_eq!(
            find("agent@x").name.as_deref(),
            Some("Agent"),
            "b's row is kept"
        );
        assert!(find("carl@example.com").undeliverable);
        assert!(!find("bob@example.com").removed);
        let removed_at: Option<String> = s
            .db()
            .query_one(
                "SELECT removed_at FROM participants WHERE case_id = $1 AND address = 'ann@example.com'",
                &[&b],
            )
            .unwrap()
            .get(0);
        assert_eq!(removed_at, Some(ts(at(15))));
        let moved_from: Vec<(i64, Option<i64>)> = s
            .db()
            .query("SELECT case_id, merged_from FROM messages ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(moved_from, vec![(b, Some(a)), (b, Some(b))]);
        assert_eq!(
            s.read()
                .case_by_reference("C-1")
                .unwrap()
                .unwrap()
                .merged_into,
            Some(b)
        );

        // With copies, the customer side stays on.
        let c = new_case(&mut s, "C-3", "dan@example.com", at(9));
        let moved = s
            .write(|tx| {
                tx.add_participant(c, "dan@example.com", None, ParticipantRole::Customer, at(9))?;
                tx.merge_case(c, b, true, at(16))
            })
            .unwrap();
        assert_eq!(
            moved,
            Moved {
                messages: 0,
                participants: 1
            }
        );
        let dan = s
            .people_of(b)
            .unwrap()
            .into_iter()
            .find(|p| p.address == "dan@example.com")
            .unwrap();
        assert_eq!((dan.role, dan.removed), (ParticipantRole::Cc, false));
    }
}
