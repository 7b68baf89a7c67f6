//! The SQLite implementation of [`crate::store::records`].

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use std::collections::HashMap;

use super::*;
use crate::case::Status;
use crate::store::records::*;

const MESSAGE_COLS: &str = "id, case_id, message_id, from_address, from_name, reply_address, subject, sent_date,
     received_at, body_text, reply_text, attachments, robot, outcome, role, visibility, note, raw_size, raw";

fn stored_message(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredMessage> {
    let attachments: String = r.get(11)?;
    Ok(StoredMessage {
        id: r.get(0)?,
        case_id: r.get(1)?,
        message_id: r.get(2)?,
        from_address: r.get(3)?,
        from_name: r.get(4)?,
        reply_address: r.get(5)?,
        subject: r.get(6)?,
        sent_date: col_opt(r, 7)?,
        received_at: col(r, 8)?,
        body_text: r.get(9)?,
        reply_text: r.get(10)?,
        attachments: serde_json::from_str(&attachments).unwrap_or(serde_json::Value::Null),
        robot: r.get(12)?,
        outcome: col(r, 13)?,
        role: col_opt(r, 14)?,
        visibility: col(r, 15)?,
        note: r.get(16)?,
        raw_size: r.get(17)?,
        raw: r.get(18)?,
    })
}

const OUTBOUND_COLS: &str =
    "id, case_id, kind, message_id, recipient, subject, status, created_at, sent_at, body";

fn stored_outbound(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredOutbound> {
    Ok(StoredOutbound {
        id: r.get(0)?,
        case_id: r.get(1)?,
        kind: col(r, 2)?,
        message_id: r.get(3)?,
        recipient: r.get(4)?,
        subject: r.get(5)?,
        status: col(r, 6)?,
        created_at: col(r, 7)?,
        sent_at: col_opt(r, 8)?,
        body: r.get(9)?,
    })
}

fn collect<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map(p, f)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn message_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageItem> {
    Ok(MessageItem {
        id: r.get(0)?,
        reference: r.get(1)?,
        received_at: col(r, 2)?,
        raw_size: r.get(3)?,
    })
}

/// The blanked columns of a scrubbed message; its time, role, outcome and size stay.
const SCRUB_MESSAGES: &str =
    "UPDATE messages SET dedupe_id = ?2 || ':' || id, message_id = NULL, content_hash = '',
     from_address = NULL, from_name = NULL, reply_address = NULL, subject = '', body_text = '',
     attachments = '[]', robot_reason = NULL, raw = NULL, reply_text = NULL, note = NULL";

/// Replaces every occurrence of the lower-case ASCII-folded `needle` in `s`, comparing
/// without regard to ASCII case (as SQLite's `lower()` does).
fn replace_ascii_ci(s: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return s.to_string();
    }
    let folded = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (i, _) in folded.match_indices(needle) {
        if i < last {
            continue;
        }
        out.push_str(&s[last..i]);
        out.push_str(with);
        last = i + needle.len();
    }
    out.push_str(&s[last..]);
    out
}

impl RecordReads for SqliteReader<'_> {
    /// Closed cases that are neither on hold nor already purged or erased, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn closed_cases_unheld(&self) -> Result<Vec<ClosedCase>, StoreError> {
        collect(
            self.conn,
            "SELECT id, reference, category, priority, closed_at FROM cases
             WHERE status = 'closed' AND closed_at IS NOT NULL AND legal_hold IS NULL
               AND purged_at IS NULL AND erased_at IS NULL
             ORDER BY closed_at, id",
            [],
            |r| {
                Ok(ClosedCase {
                    id: r.get(0)?,
                    reference: r.get(1)?,
                    category: super::values::category(r, 2, "cases.category")?,
                    priority: super::values::priority(r, 3, "cases.priority")?,
                    closed_at: super::values::time(r, 4, "cases.closed_at")?,
                })
            },
        )
    }

    /// Cases under legal hold, by reference.
    ///
    /// # Errors
    /// SQL errors.
    fn held_cases(&self) -> Result<Vec<HeldCase>, StoreError> {
        collect(
            self.conn,
            "SELECT id, reference, legal_hold, legal_hold_at FROM cases WHERE legal_hold IS NOT NULL ORDER BY reference",
            [],
            |r| {
                Ok(HeldCase {
                    id: r.get(0)?,
                    reference: r.get(1)?,
                    reason: r.get(2)?,
                    since: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                })
            },
        )
    }

    /// The legal hold of a case: (reason, since).
    ///
    /// # Errors
    /// SQL errors.
    fn legal_hold(&self, case_id: i64) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT legal_hold, COALESCE(legal_hold_at, '') FROM cases WHERE id = ?1 AND legal_hold IS NOT NULL",
                [case_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// When a case was purged and erased (None: it was not).
    ///
    /// # Errors
    /// SQL errors.
    fn scrubbed_at(&self, case_id: i64) -> Result<(Option<String>, Option<String>), StoreError> {
        Ok(self.conn.query_row(
            "SELECT purged_at, erased_at FROM cases WHERE id = ?1",
            [case_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Quarantined messages stored before `cutoff`.
    ///
    /// # Errors
    /// SQL errors.
    fn quarantine_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<QuarantineItem>, StoreError> {
        collect(
            self.conn,
            "SELECT id, uid, reason, size, at FROM quarantine WHERE at < ?1 ORDER BY id",
            [ts(cutoff)],
            |r| {
                Ok(QuarantineItem {
                    id: r.get(0)?,
                    uid: r.get(1)?,
                    reason: r.get(2)?,
                    size: r.get(3)?,
                    at: col(r, 4)?,
                })
            },
        )
    }

    /// Messages received before `cutoff` that still have their raw bytes, except those of
    /// cases on hold.
    ///
    /// # Errors
    /// SQL errors.
    fn raw_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<MessageItem>, StoreError> {
        collect(
            self.conn,
            "SELECT m.id, c.reference, m.received_at, m.raw_size FROM messages m LEFT JOIN cases c ON c.id = m.case_id
             WHERE m.raw IS NOT NULL AND m.received_at < ?1 AND c.legal_hold IS NULL ORDER BY m.id",
            [ts(cutoff)],
            message_item,
        )
    }

    /// Messages of no case received before `cutoff` and not yet purged.
    ///
    /// # Errors
    /// SQL errors.
    fn unattached_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<MessageItem>, StoreError> {
        collect(
            self.conn,
            "SELECT id, NULL, received_at, raw_size FROM messages
             WHERE case_id IS NULL AND received_at < ?1 AND dedupe_id NOT LIKE 'purged:%' AND dedupe_id NOT LIKE 'erased:%'
             ORDER BY id",
            [ts(cutoff)],
            message_item,
        )
    }

    /// Outbound mail queued before `cutoff`, no longer pending, that still has its body,
    /// except that of cases on hold: how many.
    ///
    /// # Errors
    /// SQL errors.
    fn sent_bodies_before(&self, cutoff: DateTime<Utc>) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM outbox o LEFT JOIN cases c ON c.id = o.case_id
             WHERE o.status <> 'pending' AND length(o.body) > 0 AND o.created_at < ?1 AND c.legal_hold IS NULL",
            [ts(cutoff)],
            |r| r.get(0),
        )?)
    }

    /// Every inbound message with everything stored about it, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn stored_messages(&self) -> Result<Vec<StoredMessage>, StoreError> {
        collect(
            self.conn,
            &format!("SELECT {MESSAGE_COLS} FROM messages ORDER BY id"),
            [],
            stored_message,
        )
    }

    /// The raw bytes kept of each quarantined message (None: not downloaded, or dropped), in
    /// the order of [`Reader::quarantine`].
    ///
    /// # Errors
    /// SQL errors.
    fn quarantine_raw(&self) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        collect(
            self.conn,
            "SELECT raw FROM quarantine ORDER BY id",
            [],
            |r| r.get(0),
        )
    }

    /// When the named periodic job last ran, and what it recorded.
    ///
    /// # Errors
    /// SQL errors.
    fn maintenance(&self, name: &str) -> Result<Option<(DateTime<Utc>, String)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT last_run_at, detail FROM maintenance WHERE name = ?1",
                [name],
                |r| Ok((col(r, 0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Ids of the cases where `address` (any case) is the customer, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn cases_of_customer(&self, address: &str) -> Result<Vec<i64>, StoreError> {
        collect(
            self.conn,
            "SELECT id FROM cases WHERE lower(customer_address) = lower(?1) ORDER BY id",
            [address],
            |r| r.get(0),
        )
    }

    /// Everything stored about `address` (matched without regard to case): their cases, the
    /// cases they take part in or wrote to, their messages, the mail sent to them.
    ///
    /// # Errors
    /// SQL errors.
    fn person_records(&self, address: &str) -> Result<PersonRecords, StoreError> {
        let c = self.conn;
        let case_ids: Vec<i64> = collect(
            c,
            "SELECT id FROM cases WHERE lower(customer_address) = lower(?1)
             UNION SELECT case_id FROM participants WHERE lower(address) = lower(?1)
             UNION SELECT case_id FROM messages WHERE case_id IS NOT NULL
                     AND (lower(from_address) = lower(?1) OR lower(reply_address) = lower(?1))
             UNION SELECT case_id FROM outbox WHERE case_id IS NOT NULL AND (lower(recipient) = lower(?1)
                     OR ',' || lower(cc) || ',' LIKE '%,' || lower(?1) || ',%')
             ORDER BY 1",
            [address],
            |r| r.get(0),
        )?;
        let mut out = PersonRecords::default();
        for id in case_ids {
            let case = c.query_row(
                &format!("SELECT {} FROM cases WHERE id = ?1", super::CASE_COLS),
                [id],
                super::case_from_row,
            )?;
            let (legal_hold, purged_at, erased_at) = c.query_row(
                "SELECT legal_hold, purged_at, erased_at FROM cases WHERE id = ?1",
                [id],
                |r| {
                    Ok((
                        r.get(0)?,
                        super::values::opt_time(r, 1, "cases.purged_at")?,
                        super::values::opt_time(r, 2, "cases.erased_at")?,
                    ))
                },
            )?;
            let own = case.customer_address.eq_ignore_ascii_case(address);
            let participant_entries = collect(
                c,
                "SELECT address, name, role, undeliverable, added_at FROM participants
                 WHERE case_id = ?1 AND lower(address) = lower(?2) ORDER BY added_at",
                params![id, address],
                |r| {
                    Ok(ParticipantEntry {
                        address: r.get(0)?,
                        name: r.get(1)?,
                        role: col(r, 2)?,
                        undeliverable: r.get(3)?,
                        added_at: col(r, 4)?,
                    })
                },
            )?;
            let messages = collect(
                c,
                &format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE case_id = ?1
                     AND (?3 OR lower(from_address) = lower(?2) OR lower(reply_address) = lower(?2)) ORDER BY id"
                ),
                params![id, address, own],
                stored_message,
            )?;
            let outbound = collect(
                c,
                &format!(
                    "SELECT {OUTBOUND_COLS} FROM outbox WHERE case_id = ?1
                     AND ((?3 AND audience = 'customer') OR lower(recipient) = lower(?2)
                          OR ',' || lower(cc) || ',' LIKE '%,' || lower(?2) || ',%') ORDER BY id"
                ),
                params![id, address, own],
                stored_outbound,
            )?;
            let rating = if own {
                c.query_row(
                    "SELECT rating, comment, at FROM ratings WHERE case_id = ?1",
                    [id],
                    |r| {
                        Ok(RatingEntry {
                            rating: r.get(0)?,
                            comment: r.get(1)?,
                            at: col(r, 2)?,
                        })
                    },
                )
                .optional()?
            } else {
                None
            };
            let audit = if own {
                collect(
                    c,
                    "SELECT at, actor, event, detail FROM audit WHERE case_id = ?1 ORDER BY id",
                    [id],
                    |r| {
                        Ok(AuditEntry {
                            at: col(r, 0)?,
                            actor: r.get(1)?,
                            event: col(r, 2)?,
                            detail: r.get(3)?,
                        })
                    },
                )?
            } else {
                Vec::new()
            };
            out.cases.push(PersonCase {
                case,
                relation: if own { "customer" } else { "participant" }.into(),
                legal_hold,
                purged_at,
                erased_at,
                participant_entries,
                messages,
                outbound,
                rating,
                audit,
            });
        }
        out.unattached_messages = collect(
            c,
            &format!(
                "SELECT {MESSAGE_COLS} FROM messages WHERE case_id IS NULL
                 AND (lower(from_address) = lower(?1) OR lower(reply_address) = lower(?1)) ORDER BY id"
            ),
            [address],
            stored_message,
        )?;
        out.unattached_outbound = collect(
            c,
            &format!(
                "SELECT {OUTBOUND_COLS} FROM outbox WHERE case_id IS NULL AND lower(recipient) = lower(?1) ORDER BY id"
            ),
            [address],
            stored_outbound,
        )?;
        Ok(out)
    }
}

impl RecordWrites for SqliteTx<'_> {
    /// Records that the named periodic job ran.
    ///
    /// # Errors
    /// SQL errors.
    fn record_maintenance(
        &self,
        name: &str,
        now: DateTime<Utc>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO maintenance(name, last_run_at, detail) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET last_run_at = excluded.last_run_at, detail = excluded.detail",
            params![name, ts(now), detail.to_string()],
        )?;
        Ok(())
    }

    /// True when a case was purged or erased: nothing may join it any more (an old reply
    /// token still verifies, but there is nobody left on the case to answer).
    ///
    /// # Errors
    /// SQL errors.
    fn is_scrubbed(&self, case_id: i64) -> Result<bool, StoreError> {
        let (p, e) = self.read().scrubbed_at(case_id)?;
        Ok(p.is_some() || e.is_some())
    }

    /// Removes the personal data of a case and keeps its figures (see the module comment);
    /// sets `purged_at` or `erased_at` and audits it with counts only.
    ///
    /// # Errors
    /// SQL errors.
    fn scrub_case(
        &self,
        case_id: i64,
        how: Scrub,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<ScrubCounts, StoreError> {
        let t = self.tx;
        let marker = how.as_str();
        // Addresses acting in the audit trail become their role on the case.
        let roles: HashMap<String, ParticipantRole> = collect(
            t,
            "SELECT lower(address), role FROM participants WHERE case_id = ?1",
            [case_id],
            |r| Ok((r.get(0)?, col(r, 1)?)),
        )?
        .into_iter()
        .collect();
        let mut messages = t.execute(
            &format!("{SCRUB_MESSAGES} WHERE case_id = ?1"),
            params![case_id, marker],
        )?;
        // An erased customer's mail that a merge moved onto another customer's case goes
        // too. A purge leaves it: it belongs to the survivor now and is purged with it.
        if how == Scrub::Erased {
            messages += t.execute(
                &format!("{SCRUB_MESSAGES} WHERE merged_from = ?1 AND case_id IS NOT ?1"),
                params![case_id, marker],
            )?;
        }
        let outbound = t.execute(
            "UPDATE outbox SET message_id = ?2 || ':' || id, envelope_from = '', recipient = '', cc = NULL,
                    subject = '', body = x'', last_error = NULL,
                    status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END
             WHERE case_id = ?1",
            params![case_id, marker],
        )?;
        let participants = t.execute("DELETE FROM participants WHERE case_id = ?1", [case_id])?;
        let timers = t.execute("DELETE FROM timers WHERE case_id = ?1", [case_id])?;
        // The flood caps' record of the first message names its sender.
        t.execute("DELETE FROM flood_keys WHERE case_id = ?1", [case_id])?;
        t.execute(
            "UPDATE ratings SET comment = NULL WHERE case_id = ?1",
            [case_id],
        )?;
        let events: Vec<(i64, String, AuditEvent, String)> = collect(
            t,
            "SELECT id, actor, event, detail FROM audit WHERE case_id = ?1",
            [case_id],
            |r| Ok((r.get(0)?, r.get(1)?, col(r, 2)?, r.get(3)?)),
        )?;
        for (id, actor, event, detail) in &events {
            let actor = if actor.contains('@') {
                roles
                    .get(&actor.to_lowercase())
                    .map_or("person", |r| r.as_str())
                    .to_string()
            } else {
                actor.clone()
            };
            // A status change keeps where it went (reports measure time in each status);
            // every other detail may quote people, addresses or text and goes.
            let kept = if *event == AuditEvent::Status {
                let v: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
                serde_json::json!({"from": v.get("from"), "to": v.get("to")})
            } else {
                serde_json::json!({})
            };
            t.execute(
                "UPDATE audit SET actor = ?2, detail = ?3 WHERE id = ?1",
                params![id, actor, kept.to_string()],
            )?;
        }
        t.execute(
            &format!(
                "UPDATE cases SET subject = '', customer_address = '', customer_name = NULL,
                        {marker}_at = ?2 WHERE id = ?1"
            ),
            params![case_id, ts(now)],
        )?;
        let counts = ScrubCounts {
            messages,
            outbound,
            participants,
            timers,
            audit: events.len(),
        };
        self.audit(
            Some(case_id),
            now,
            actor,
            how.event(),
            &serde_json::json!({
                "messages": messages, "outbound": outbound, "participants": participants,
            }),
        )?;
        Ok(counts)
    }

    /// Closes a case that is still open without a word to anyone (its customer asked to be
    /// erased), audited as a status change.
    ///
    /// # Errors
    /// SQL errors.
    fn close_silently(
        &self,
        case_id: i64,
        actor: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let status =
            self.tx
                .query_row("SELECT status FROM cases WHERE id = ?1", [case_id], |r| {
                    super::values::status(r, 0, "cases.status")
                })?;
        if status == Status::Closed {
            return Ok(false);
        }
        self.tx.execute(
            "UPDATE cases SET closed_at = COALESCE(closed_at, ?2) WHERE id = ?1",
            params![case_id, ts(now)],
        )?;
        self.set_status(case_id, status, Status::Closed, actor, reason, now)?;
        Ok(true)
    }

    /// Blanks messages that belong to no case, as [`Tx::scrub_case`] blanks a case's.
    ///
    /// # Errors
    /// SQL errors.
    fn scrub_messages(&self, ids: &[i64], how: Scrub) -> Result<usize, StoreError> {
        let mut st = self
            .tx
            .prepare_cached(&format!("{SCRUB_MESSAGES} WHERE id = ?1"))?;
        let mut n = 0;
        for id in ids {
            n += st.execute(params![id, how.as_str()])?;
        }
        Ok(n)
    }

    /// Drops the raw bytes of these messages (their text and metadata stay).
    ///
    /// # Errors
    /// SQL errors.
    fn drop_raw(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("UPDATE messages SET raw = NULL WHERE id = ?1 AND raw IS NOT NULL")?;
        let mut n = 0;
        for id in ids {
            n += st.execute([id])?;
        }
        Ok(n)
    }

    /// Drops the bodies of outbound mail queued before `cutoff` and no longer pending, except
    /// on cases under hold.
    ///
    /// # Errors
    /// SQL errors.
    fn drop_sent_bodies(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.tx.execute(
            "UPDATE outbox SET body = x''
             WHERE status <> 'pending' AND length(body) > 0 AND created_at < ?1
               AND (case_id IS NULL OR case_id NOT IN (SELECT id FROM cases WHERE legal_hold IS NOT NULL))",
            [ts(cutoff)],
        )?)
    }

    /// Deletes quarantined messages.
    ///
    /// # Errors
    /// SQL errors.
    fn delete_quarantine(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("DELETE FROM quarantine WHERE id = ?1")?;
        let mut n = 0;
        for id in ids {
            n += st.execute([id])?;
        }
        Ok(n)
    }

    /// Removes one address from every case it takes part in and blanks the messages it
    /// sent (cases of other customers keep their own data); returns (participant rows,
    /// messages).
    ///
    /// # Errors
    /// SQL errors.
    fn remove_person(&self, address: &str, how: Scrub) -> Result<(usize, usize), StoreError> {
        let parts = self.tx.execute(
            "DELETE FROM participants WHERE lower(address) = lower(?1)",
            [address],
        )?;
        let msgs = self.tx.execute(
            &format!(
                "{SCRUB_MESSAGES} WHERE lower(from_address) = lower(?1) OR lower(reply_address) = lower(?1)"
            ),
            params![address, how.as_str()],
        )?;
        self.tx.execute(
            "UPDATE outbox SET message_id = ?2 || ':' || id, recipient = '', subject = '', body = x'', last_error = NULL,
                    status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END
             WHERE lower(recipient) = lower(?1)",
            params![address, how.as_str()],
        )?;
        Ok((parts, msgs))
    }

    /// Finds `needle` (without regard to ASCII case) in every column of every table and
    /// removes it: text has it replaced by `[erased]`, binary values (raw messages, mail
    /// bodies) are dropped, since a message cannot be partly kept. `free_text_only` limits the
    /// search to columns that hold text people wrote (for a needle that is not a whole
    /// address, so status names and keys are never touched).
    ///
    /// # Errors
    /// SQL errors.
    fn sweep(&self, needle: &str, free_text_only: bool) -> Result<SweepCounts, StoreError> {
        const FREE_TEXT: &[(&str, &str)] = &[
            ("cases", "subject"),
            ("cases", "customer_name"),
            ("participants", "name"),
            ("messages", "from_name"),
            ("messages", "subject"),
            ("messages", "body_text"),
            ("messages", "reply_text"),
            ("messages", "attachments"),
            ("messages", "note"),
            ("messages", "robot_reason"),
            ("messages", "raw"),
            ("outbox", "subject"),
            ("outbox", "body"),
            ("outbox", "last_error"),
            ("ratings", "comment"),
            ("audit", "detail"),
            ("quarantine", "reason"),
            ("quarantine", "raw"),
        ];
        let needle = needle.to_ascii_lowercase();
        let mut counts = SweepCounts::default();
        let tables: Vec<String> = collect(
            self.tx,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            [],
            |r| r.get(0),
        )?;
        for table in tables {
            let columns: Vec<(String, bool)> = collect(
                self.tx,
                &format!("SELECT name, \"notnull\" FROM pragma_table_info('{table}')"),
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            for (column, not_null) in columns {
                if free_text_only && !FREE_TEXT.contains(&(table.as_str(), column.as_str())) {
                    continue;
                }
                let hits: Vec<(i64, rusqlite::types::Value)> = collect(
                    self.tx,
                    &format!(
                        "SELECT rowid, \"{column}\" FROM \"{table}\"
                         WHERE instr(lower(CAST(\"{column}\" AS TEXT)), ?1) > 0"
                    ),
                    [&needle],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                for (rowid, value) in hits {
                    use rusqlite::types::Value;
                    let new = match value {
                        Value::Text(s) => {
                            counts.values_redacted += 1;
                            Value::Text(replace_ascii_ci(&s, &needle, "[erased]"))
                        }
                        _ => {
                            counts.blobs_dropped += 1;
                            if not_null {
                                Value::Blob(Vec::new())
                            } else {
                                Value::Null
                            }
                        }
                    };
                    let sql = format!("UPDATE \"{table}\" SET \"{column}\" = ?2 WHERE rowid = ?1");
                    match self.tx.execute(&sql, params![rowid, new]) {
                        Ok(_) => {}
                        // A unique key that becomes equal to another once redacted.
                        Err(rusqlite::Error::SqliteFailure(f, _))
                            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                        {
                            self.tx
                                .execute(&sql, params![rowid, format!("erased:{table}:{rowid}")])?;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(counts)
    }
}

impl RecordOps for SqliteStore {
    /// Zeroes deleted content on this connection (SQLite `secure_delete`), so what a purge
    /// or erasure removes does not linger in freed pages of the file.
    ///
    /// # Errors
    /// SQL errors.
    fn secure_delete(&mut self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "secure_delete", "ON")?;
        Ok(())
    }

    /// Rewrites the database without free pages (VACUUM) and empties the write-ahead log into
    /// it (checkpoint TRUNCATE): afterwards no byte of deleted content is left in the
    /// database file or its `-wal`. The daemon may keep running: VACUUM takes the write lock
    /// like any transaction, and the checkpoint waits (busy timeout) for readers to finish.
    ///
    /// # Errors
    /// SQL errors; a checkpoint that readers kept from completing, after retries.
    fn compact(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("VACUUM")?;
        for attempt in 0..50 {
            let (busy, _log, _done): (i64, i64, i64) =
                self.conn
                    .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?;
            if busy == 0 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(
                100 * (attempt + 1).min(10),
            ));
        }
        Err(StoreError::Data(
            "the write-ahead log could not be emptied (another process kept reading); the erasure is committed, run `mailcase erase` again to finish cleaning the file".into(),
        ))
    }

    /// Sets (`reason` Some) or releases (None) the legal hold of a case, audited.
    ///
    /// # Errors
    /// SQL errors; an unknown reference is a data error.
    fn set_legal_hold(
        &mut self,
        reference: &str,
        reason: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<HoldChange, StoreError> {
        self.write(|tx| {
            let Some(case) = tx.case_by_reference(reference)? else {
                return Err(StoreError::Data(format!("no case {reference}")));
            };
            let current = tx.read().legal_hold(case.id)?;
            let change = match (reason, current) {
                (Some(_), None) => HoldChange::Set,
                (Some(_), Some((previous, _))) => HoldChange::Replaced { previous },
                (None, Some((reason, _))) => HoldChange::Released { reason },
                (None, None) => return Ok(HoldChange::NotHeld),
            };
            match reason {
                Some(r) => {
                    tx.tx.execute(
                        "UPDATE cases SET legal_hold = ?2, legal_hold_at = ?3 WHERE id = ?1",
                        params![case.id, r, ts(now)],
                    )?;
                    tx.audit(
                        Some(case.id),
                        now,
                        actor,
                        AuditEvent::LegalHold,
                        &serde_json::json!({"reason": r}),
                    )?;
                }
                None => {
                    tx.tx.execute(
                        "UPDATE cases SET legal_hold = NULL, legal_hold_at = NULL WHERE id = ?1",
                        [case.id],
                    )?;
                    tx.audit(
                        Some(case.id),
                        now,
                        actor,
                        AuditEvent::LegalHoldReleased,
                        &serde_json::json!({}),
                    )?;
                }
            }
            Ok(change)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_ignores_ascii_case_and_keeps_the_rest() {
        assert_eq!(
            replace_ascii_ci(
                "From: Jane <Jane.Doe@Example.org>, jane.doe@example.org",
                "jane.doe@example.org",
                "[erased]"
            ),
            "From: Jane <[erased]>, [erased]"
        );
        assert_eq!(replace_ascii_ci("Ünïcode ok", "ok", "x"), "Ünïcode x");
    }
}
