//! The PostgreSQL implementation of [`crate::store::records`].
//!
//! Addresses are compared as SQLite compares them: `lower()` of a `COLLATE "C"` column folds
//! ASCII letters only (as SQLite's built-in `lower()`), and the address it is compared with
//! is folded the same way in Rust (`to_ascii_lowercase`) rather than by `lower($1)`, whose
//! folding would follow the database's locale (a parameter has the default collation).

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::values::{col, col_opt, flag, get, opt_time, text_named, time};
use super::*;
use crate::case::Status;
use crate::store::records::*;

const MESSAGE_COLS: &str = "id, case_id, message_id, from_address, from_name, reply_address, subject, sent_date,
     received_at, body_text, reply_text, attachments, robot, outcome, role, visibility, note, raw_size, raw";

fn stored_message(r: &Row) -> Result<StoredMessage, StoreError> {
    let attachments: String = get(r, 11)?;
    Ok(StoredMessage {
        id: get(r, 0)?,
        case_id: get(r, 1)?,
        message_id: get(r, 2)?,
        from_address: get(r, 3)?,
        from_name: get(r, 4)?,
        reply_address: get(r, 5)?,
        subject: get(r, 6)?,
        sent_date: col_opt(r, 7)?,
        received_at: col(r, 8)?,
        body_text: get(r, 9)?,
        reply_text: get(r, 10)?,
        attachments: serde_json::from_str(&attachments).unwrap_or(serde_json::Value::Null),
        robot: get(r, 12)?,
        outcome: col(r, 13)?,
        role: col_opt(r, 14)?,
        visibility: col(r, 15)?,
        note: get(r, 16)?,
        raw_size: get(r, 17)?,
        raw: get(r, 18)?,
    })
}

const OUTBOUND_COLS: &str =
    "id, case_id, kind, message_id, recipient, subject, status, created_at, sent_at, body";

fn stored_outbound(r: &Row) -> Result<StoredOutbound, StoreError> {
    Ok(StoredOutbound {
        id: get(r, 0)?,
        case_id: get(r, 1)?,
        kind: col(r, 2)?,
        message_id: get(r, 3)?,
        recipient: get(r, 4)?,
        subject: get(r, 5)?,
        status: col(r, 6)?,
        created_at: col(r, 7)?,
        sent_at: col_opt(r, 8)?,
        body: get(r, 9)?,
    })
}

/// Every row of `sql`, mapped.
fn collect<T>(
    db: &Db,
    sql: &str,
    p: Params<'_>,
    f: impl FnMut(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    db.query(sql, p)?.iter().map(f).collect()
}

fn message_item(r: &Row) -> Result<MessageItem, StoreError> {
    Ok(MessageItem {
        id: get(r, 0)?,
        reference: get(r, 1)?,
        received_at: col(r, 2)?,
        raw_size: get(r, 3)?,
    })
}

/// An integer column read into a narrower type; out of range is a data error naming it.
fn narrow<T: TryFrom<i64>>(v: i64, column: &str) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| StoreError::Data(format!("column {column} holds {v}: out of range")))
}

/// The blanked columns of a scrubbed message; its time, role, outcome and size stay.
const SCRUB_MESSAGES: &str =
    "UPDATE messages SET dedupe_id = $2::TEXT || ':' || id, message_id = NULL, content_hash = '',
     from_address = NULL, from_name = NULL, reply_address = NULL, subject = '', body_text = '',
     attachments = '[]', robot_reason = NULL, raw = NULL, reply_text = NULL, note = NULL";

/// Replaces every occurrence of the lower-case ASCII-folded `needle` in `s`, comparing
/// without regard to ASCII case (as `lower()` of a `COLLATE "C"` text does).
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

/// How a column of the current schema is searched for an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Bytes,
}

/// A searchable column: (table, column, kind, NOT NULL).
type Column = (String, String, Kind, bool);

/// Every text and bytea column of every table of the current schema, read from the catalog
/// when called, so a column added by a later migration is searched too. (Integer and float
/// columns are not: an address has an `@`, and a local part alone is searched only in free
/// text; SQLite's sweep looks at them through `CAST(… AS TEXT)` and can never find either.)
fn searchable_columns(db: &Db) -> Result<Vec<Column>, StoreError> {
    collect(
        db,
        "SELECT c.table_name::TEXT, c.column_name::TEXT, c.data_type::TEXT, c.is_nullable::TEXT
         FROM information_schema.columns c
         JOIN information_schema.tables t
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
           AND c.data_type IN ('text', 'character varying', 'character', 'bytea')
         ORDER BY c.table_name, c.ordinal_position",
        &[],
        |r| {
            let ty: String = get(r, 2)?;
            let nullable: String = get(r, 3)?;
            Ok((
                get(r, 0)?,
                get(r, 1)?,
                if ty == "bytea" {
                    Kind::Bytes
                } else {
                    Kind::Text
                },
                nullable == "NO",
            ))
        },
    )
}

/// A quoted SQL identifier.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The condition "column `c` holds the needle", the needle given as `$1`: for a text column
/// as TEXT (ASCII lower-case), for a bytea column as BYTEA (its UTF-8 bytes, ASCII
/// lower-case); [`needle_param`] makes it.
///
/// Text: `lower()` under `COLLATE "C"` folds ASCII letters only, whatever the column's own
/// collation, as SQLite's `lower()` and `trace_on_disk` do.
///
/// Bytea (raw messages, mail bodies): the bytes are compared as bytes, not decoded (a raw
/// message need not be valid UTF-8 and may hold NUL bytes, which no text can):
/// `encode(…, 'escape')` writes every byte as a fixed spelling (printable ASCII as itself,
/// `\` as `\\`, NUL and bytes ≥ 0x80 as `\ooo`) and never fails, so the needle's bytes occur
/// in the value exactly when the needle's escaped spelling occurs in the value's escaped
/// spelling (no occurrence is missed; a false hit needs a value spelling out a literal
/// backslash-octal sequence, and only errs toward dropping the value). ASCII folding of the
/// escaped value folds exactly the ASCII letters of the bytes (the escapes hold digits and
/// backslashes only), as `trace_on_disk` folds a file's bytes.
fn holds(c: &str, kind: Kind) -> String {
    match kind {
        Kind::Text => format!("strpos(lower({c} COLLATE \"C\"), $1::TEXT) > 0"),
        Kind::Bytes => format!(
            "strpos(lower(encode({c}, 'escape') COLLATE \"C\"), encode($1::BYTEA, 'escape')) > 0"
        ),
    }
}

/// The needle (ASCII lower-case already) as [`holds`] takes it for a column of `kind`.
fn needle_param(needle: &str, kind: Kind) -> Box<dyn ToSql + Sync + '_> {
    match kind {
        Kind::Text => Box::new(needle),
        Kind::Bytes => Box::new(needle.as_bytes()),
    }
}

/// Tables that have an `id` column (their rows are named by it).
fn tables_with_id(db: &Db) -> Result<Vec<String>, StoreError> {
    collect(
        db,
        "SELECT table_name::TEXT FROM information_schema.columns
         WHERE table_schema = current_schema() AND column_name = 'id'",
        &[],
        |r| get(r, 0),
    )
}

/// Columns that take part in a unique index or constraint of their table (an update can
/// collide there).
fn unique_columns(db: &Db) -> Result<Vec<(String, String)>, StoreError> {
    collect(
        db,
        "SELECT DISTINCT c.relname::TEXT, a.attname::TEXT
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indisunique
           AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
        &[],
        |r| Ok((get(r, 0)?, get(r, 1)?)),
    )
}

impl RecordReads for PgReader<'_> {
    /// Closed cases that are neither on hold nor already purged or erased, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn closed_cases_unheld(&self) -> Result<Vec<ClosedCase>, StoreError> {
        collect(
            self.db,
            "SELECT id, reference, category, priority, closed_at FROM cases
             WHERE status = 'closed' AND closed_at IS NOT NULL AND legal_hold IS NULL
               AND purged_at IS NULL AND erased_at IS NULL
             ORDER BY closed_at, id",
            &[],
            |r| {
                Ok(ClosedCase {
                    id: get(r, 0)?,
                    reference: get(r, 1)?,
                    category: text_named(r, 2, Some("cases.category"))?,
                    priority: text_named(r, 3, Some("cases.priority"))?,
                    closed_at: time(r, 4, "cases.closed_at")?,
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
            self.db,
            "SELECT id, reference, legal_hold, legal_hold_at FROM cases WHERE legal_hold IS NOT NULL ORDER BY reference",
            &[],
            |r| {
                Ok(HeldCase {
                    id: get(r, 0)?,
                    reference: get(r, 1)?,
                    reason: get(r, 2)?,
                    since: get::<Option<String>>(r, 3)?.unwrap_or_default(),
                })
            },
        )
    }

    /// The legal hold of a case: (reason, since).
    ///
    /// # Errors
    /// SQL errors.
    fn legal_hold(&self, case_id: i64) -> Result<Option<(String, String)>, StoreError> {
        self.db
            .query_opt(
                "SELECT legal_hold, COALESCE(legal_hold_at, '') FROM cases WHERE id = $1 AND legal_hold IS NOT NULL",
                &[&case_id],
            )?
            .map(|r| Ok((get(&r, 0)?, get(&r, 1)?)))
            .transpose()
    }

    /// When a case was purged and erased (None: it was not).
    ///
    /// # Errors
    /// SQL errors (an unknown case among them, as SQLite's `query_row`).
    fn scrubbed_at(&self, case_id: i64) -> Result<(Option<String>, Option<String>), StoreError> {
        let r = self.db.query_one(
            "SELECT purged_at, erased_at FROM cases WHERE id = $1",
            &[&case_id],
        )?;
        Ok((get(&r, 0)?, get(&r, 1)?))
    }

    /// Quarantined messages stored before `cutoff`.
    ///
    /// # Errors
    /// SQL errors.
    fn quarantine_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<QuarantineItem>, StoreError> {
        collect(
            self.db,
            "SELECT id, uid, reason, size, at FROM quarantine WHERE at < $1 ORDER BY id",
            &[&ts(cutoff)],
            |r| {
                Ok(QuarantineItem {
                    id: get(r, 0)?,
                    uid: get::<Option<i64>>(r, 1)?
                        .map(|v| narrow(v, "quarantine.uid"))
                        .transpose()?,
                    reason: get(r, 2)?,
                    size: get(r, 3)?,
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
            self.db,
            "SELECT m.id, c.reference, m.received_at, m.raw_size FROM messages m LEFT JOIN cases c ON c.id = m.case_id
             WHERE m.raw IS NOT NULL AND m.received_at < $1 AND c.legal_hold IS NULL ORDER BY m.id",
            &[&ts(cutoff)],
            message_item,
        )
    }

    /// Messages of no case received before `cutoff` and not yet purged.
    ///
    /// # Errors
    /// SQL errors.
    fn unattached_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<MessageItem>, StoreError> {
        collect(
            self.db,
            "SELECT id, NULL::TEXT, received_at, raw_size FROM messages
             WHERE case_id IS NULL AND received_at < $1 AND dedupe_id NOT ILIKE 'purged:%' AND dedupe_id NOT ILIKE 'erased:%'
             ORDER BY id",
            &[&ts(cutoff)],
            message_item,
        )
    }

    /// Outbound mail queued before `cutoff`, no longer pending, that still has its body,
    /// except that of cases on hold: how many.
    ///
    /// # Errors
    /// SQL errors.
    fn sent_bodies_before(&self, cutoff: DateTime<Utc>) -> Result<i64, StoreError> {
        get(
            &self.db.query_one(
                "SELECT COUNT(*) FROM outbox o LEFT JOIN cases c ON c.id = o.case_id
                 WHERE o.status <> 'pending' AND length(o.body) > 0 AND o.created_at < $1 AND c.legal_hold IS NULL",
                &[&ts(cutoff)],
            )?,
            0,
        )
    }

    /// Every inbound message with everything stored about it, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn stored_messages(&self) -> Result<Vec<StoredMessage>, StoreError> {
        collect(
            self.db,
            &format!("SELECT {MESSAGE_COLS} FROM messages ORDER BY id"),
            &[],
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
            self.db,
            "SELECT raw FROM quarantine ORDER BY id",
            &[],
            |r| get(r, 0),
        )
    }

    /// When the named periodic job last ran, and what it recorded.
    ///
    /// # Errors
    /// SQL errors.
    fn maintenance(&self, name: &str) -> Result<Option<(DateTime<Utc>, String)>, StoreError> {
        self.db
            .query_opt(
                "SELECT last_run_at, detail FROM maintenance WHERE name = $1",
                &[&name],
            )?
            .map(|r| Ok((col(&r, 0)?, get(&r, 1)?)))
            .transpose()
    }

    /// Ids of the cases where `address` (any case) is the customer, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn cases_of_customer(&self, address: &str) -> Result<Vec<i64>, StoreError> {
        collect(
            self.db,
            "SELECT id FROM cases WHERE lower(customer_address) = $1 ORDER BY id",
            &[&address.to_ascii_lowercase()],
            |r| get(r, 0),
        )
    }

    /// Everything stored about `address` (matched without regard to case): their cases, the
    /// cases they take part in or wrote to, their messages, the mail sent to them.
    ///
    /// # Errors
    /// SQL errors.
    fn person_records(&self, address: &str) -> Result<PersonRecords, StoreError> {
        let c = self.db;
        let lower = address.to_ascii_lowercase();
        // `ESCAPE ''`: SQLite's LIKE has no escape character, PostgreSQL's is `\` by default.
        let case_ids: Vec<i64> = collect(
            c,
            "SELECT id FROM cases WHERE lower(customer_address) = $1
             UNION SELECT case_id FROM participants WHERE lower(address) = $1
             UNION SELECT case_id FROM messages WHERE case_id IS NOT NULL
                     AND (lower(from_address) = $1 OR lower(reply_address) = $1)
             UNION SELECT case_id FROM outbox WHERE case_id IS NOT NULL AND (lower(recipient) = $1
                     OR ',' || lower(cc) || ',' ILIKE '%,' || $1 || ',%' ESCAPE '')
             ORDER BY 1",
            &[&lower],
            |r| get(r, 0),
        )?;
        let mut out = PersonRecords::default();
        for id in case_ids {
            let case = case_from_row(&c.query_one(
                &format!("SELECT {CASE_COLS} FROM cases WHERE id = $1"),
                &[&id],
            )?)?;
            let r = c.query_one(
                "SELECT legal_hold, purged_at, erased_at FROM cases WHERE id = $1",
                &[&id],
            )?;
            let (legal_hold, purged_at, erased_at) = (
                get(&r, 0)?,
                opt_time(&r, 1, "cases.purged_at")?,
                opt_time(&r, 2, "cases.erased_at")?,
            );
            let own = case.customer_address.eq_ignore_ascii_case(address);
            let participant_entries = collect(
                c,
                "SELECT address, name, role, undeliverable, added_at FROM participants
                 WHERE case_id = $1 AND lower(address) = $2 ORDER BY added_at",
                &[&id, &lower],
                |r| {
                    Ok(ParticipantEntry {
                        address: get(r, 0)?,
                        name: get(r, 1)?,
                        role: col(r, 2)?,
                        undeliverable: flag(r, 3)?,
                        added_at: col(r, 4)?,
                    })
                },
            )?;
            let messages = collect(
                c,
                &format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE case_id = $1
                     AND ($3::BOOLEAN OR lower(from_address) = $2 OR lower(reply_address) = $2) ORDER BY id"
                ),
                &[&id, &lower, &own],
                stored_message,
            )?;
            let outbound = collect(
                c,
                &format!(
                    "SELECT {OUTBOUND_COLS} FROM outbox WHERE case_id = $1
                     AND (($3::BOOLEAN AND audience = 'customer') OR lower(recipient) = $2
                          OR ',' || lower(cc) || ',' ILIKE '%,' || $2 || ',%' ESCAPE '') ORDER BY id"
                ),
                &[&id, &lower, &own],
                stored_outbound,
            )?;
            let rating = if own {
                c.query_opt(
                    "SELECT rating, comment, at FROM ratings WHERE case_id = $1",
                    &[&id],
                )?
                .map(|r| {
                    Ok::<_, StoreError>(RatingEntry {
                        rating: narrow(get(&r, 0)?, "ratings.rating")?,
                        comment: get(&r, 1)?,
                        at: col(&r, 2)?,
                    })
                })
                .transpose()?
            } else {
                None
            };
            let audit = if own {
                collect(
                    c,
                    "SELECT at, actor, event, detail FROM audit WHERE case_id = $1 ORDER BY id",
                    &[&id],
                    |r| {
                        Ok(AuditEntry {
                            at: col(r, 0)?,
                            actor: get(r, 1)?,
                            event: col(r, 2)?,
                            detail: get(r, 3)?,
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
                 AND (lower(from_address) = $1 OR lower(reply_address) = $1) ORDER BY id"
            ),
            &[&lower],
            stored_message,
        )?;
        out.unattached_outbound = collect(
            c,
            &format!(
                "SELECT {OUTBOUND_COLS} FROM outbox WHERE case_id IS NULL AND lower(recipient) = $1 ORDER BY id"
            ),
            &[&lower],
            stored_outbound,
        )?;
        Ok(out)
    }
}

impl RecordWrites for PgTx<'_> {
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
        self.db.execute(
            "INSERT INTO maintenance(name, last_run_at, detail) VALUES ($1, $2, $3)
             ON CONFLICT(name) DO UPDATE SET last_run_at = excluded.last_run_at, detail = excluded.detail",
            &[&name, &ts(now), &detail.to_string()],
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
        let t = self.db;
        let marker = how.as_str();
        // Addresses acting in the audit trail become their role on the case.
        let roles: HashMap<String, ParticipantRole> = collect(
            t,
            "SELECT lower(address), role FROM participants WHERE case_id = $1",
            &[&case_id],
            |r| Ok((get(r, 0)?, col(r, 1)?)),
        )?
        .into_iter()
        .collect();
        let mut messages = t.execute(
            &format!("{SCRUB_MESSAGES} WHERE case_id = $1"),
            &[&case_id, &marker],
        )? as usize;
        // An erased customer's mail that a merge moved onto another customer's case goes
        // too. A purge leaves it: it belongs to the survivor now and is purged with it.
        if how == Scrub::Erased {
            messages += t.execute(
                &format!("{SCRUB_MESSAGES} WHERE merged_from = $1 AND case_id IS DISTINCT FROM $1"),
                &[&case_id, &marker],
            )? as usize;
        }
        let outbound = t.execute(
            "UPDATE outbox SET message_id = $2::TEXT || ':' || id, envelope_from = '', recipient = '', cc = NULL,
                    subject = '', body = '\\x'::BYTEA, last_error = NULL,
                    status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END
             WHERE case_id = $1",
            &[&case_id, &marker],
        )? as usize;
        let participants =
            t.execute("DELETE FROM participants WHERE case_id = $1", &[&case_id])? as usize;
        let timers = t.execute("DELETE FROM timers WHERE case_id = $1", &[&case_id])? as usize;
        // The flood caps' record of the first message names its sender.
        t.execute("DELETE FROM flood_keys WHERE case_id = $1", &[&case_id])?;
        t.execute(
            "UPDATE ratings SET comment = NULL WHERE case_id = $1",
            &[&case_id],
        )?;
        let events: Vec<(i64, String, AuditEvent, String)> = collect(
            t,
            "SELECT id, actor, event, detail FROM audit WHERE case_id = $1",
            &[&case_id],
            |r| Ok((get(r, 0)?, get(r, 1)?, col(r, 2)?, get(r, 3)?)),
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
                "UPDATE audit SET actor = $2, detail = $3 WHERE id = $1",
                &[id, &actor, &kept.to_string()],
            )?;
        }
        t.execute(
            &format!(
                "UPDATE cases SET subject = '', customer_address = '', customer_name = NULL,
                        {marker}_at = $2 WHERE id = $1"
            ),
            &[&case_id, &ts(now)],
        )?;
        let counts = ScrubCounts {
            messages,
            outbound,
            participants,
            timers,
            audit: events.len(),
        };
        PgTx { db: t }.audit(
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
        let status: Status = text_named(
            &self
                .db
                .query_one("SELECT status FROM cases WHERE id = $1", &[&case_id])?,
            0,
            Some("cases.status"),
        )?;
        if status == Status::Closed {
            return Ok(false);
        }
        self.db.execute(
            "UPDATE cases SET closed_at = COALESCE(closed_at, $2) WHERE id = $1",
            &[&case_id, &ts(now)],
        )?;
        self.set_status(case_id, status, Status::Closed, actor, reason, now)?;
        Ok(true)
    }

    /// Blanks messages that belong to no case, as [`Tx::scrub_case`] blanks a case's.
    ///
    /// # Errors
    /// SQL errors.
    fn scrub_messages(&self, ids: &[i64], how: Scrub) -> Result<usize, StoreError> {
        let sql = format!("{SCRUB_MESSAGES} WHERE id = $1");
        let mut n = 0;
        for id in ids {
            n += self.db.execute(&sql, &[id, &how.as_str()])? as usize;
        }
        Ok(n)
    }

    /// Drops the raw bytes of these messages (their text and metadata stay).
    ///
    /// # Errors
    /// SQL errors.
    fn drop_raw(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let mut n = 0;
        for id in ids {
            n += self.db.execute(
                "UPDATE messages SET raw = NULL WHERE id = $1 AND raw IS NOT NULL",
                &[id],
            )? as usize;
        }
        Ok(n)
    }

    /// Drops the bodies of outbound mail queued before `cutoff` and no longer pending, except
    /// on cases under hold.
    ///
    /// # Errors
    /// SQL errors.
    fn drop_sent_bodies(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError> {
        Ok(self.db.execute(
            "UPDATE outbox SET body = '\\x'::BYTEA
             WHERE status <> 'pending' AND length(body) > 0 AND created_at < $1
               AND (case_id IS NULL OR case_id NOT IN (SELECT id FROM cases WHERE legal_hold IS NOT NULL))",
            &[&ts(cutoff)],
        )? as usize)
    }

    /// Deletes quarantined messages.
    ///
    /// # Errors
    /// SQL errors.
    fn delete_quarantine(&self, ids: &[i64]) -> Result<usize, StoreError> {
        let mut n = 0;
        for id in ids {
            n += self
                .db
                .execute("DELETE FROM quarantine WHERE id = $1", &[id])? as usize;
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
        let lower = address.to_ascii_lowercase();
        let parts = self.db.execute(
            "DELETE FROM participants WHERE lower(address) = $1",
            &[&lower],
        )? as usize;
        let msgs = self.db.execute(
            &format!(
                "{SCRUB_MESSAGES} WHERE lower(from_address) = $1 OR lower(reply_address) = $1"
            ),
            &[&lower, &how.as_str()],
        )? as usize;
        self.db.execute(
            "UPDATE outbox SET message_id = $2::TEXT || ':' || id, recipient = '', subject = '', body = '\\x'::BYTEA,
                    last_error = NULL,
                    status = CASE WHEN status = 'pending' THEN 'failed' ELSE status END
             WHERE lower(recipient) = $1",
            &[&lower, &how.as_str()],
        )?;
        Ok((parts, msgs))
    }

    /// Finds `needle` (without regard to ASCII case) in every column of every table and
    /// removes it: text has it replaced by `[erased]`, binary values (raw messages, mail
    /// bodies) are dropped, since a message cannot be partly kept. `free_text_only` limits the
    /// search to columns that hold text people wrote (for a needle that is not a whole
    /// address, so status names and keys are never touched).
    ///
    /// The tables and columns are read from the catalog (every text and bytea column of the
    /// current schema; see [`searchable_columns`] and [`holds`] for how each is compared).
    /// Rows found are locked (`FOR UPDATE`) and rewritten by their `ctid`, which no other
    /// transaction can then move. A text that, once redacted, equals another row's value of a
    /// unique key is set to `erased:TABLE:ID` instead, as on SQLite; since a failed statement
    /// would abort the whole transaction, updates of columns in a unique index run under a
    /// savepoint, rolled back to on an integrity error (SQLSTATE class 23) before the retry.
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
        let columns = searchable_columns(self.db)?;
        let with_id = tables_with_id(self.db)?;
        let unique = unique_columns(self.db)?;
        for (table, column, kind, not_null) in columns {
            if free_text_only && !FREE_TEXT.contains(&(table.as_str(), column.as_str())) {
                continue;
            }
            let (t, c) = (ident(&table), ident(&column));
            let key = if with_id.contains(&table) {
                "id::TEXT"
            } else {
                "ctid::TEXT"
            };
            let rows = self.db.query(
                &format!(
                    "SELECT ctid::TEXT, {key}, {c} FROM {t} WHERE {} ORDER BY ctid FOR UPDATE",
                    holds(&c, kind)
                ),
                &[&*needle_param(&needle, kind)],
            )?;
            let guarded = unique.contains(&(table.clone(), column.clone()));
            for r in &rows {
                let ctid: String = get(r, 0)?;
                let rowkey: String = get(r, 1)?;
                let sql = format!("UPDATE {t} SET {c} = $2 WHERE ctid = $1::TEXT::TID");
                let fallback = format!("erased:{table}:{rowkey}");
                match kind {
                    Kind::Text => {
                        counts.values_redacted += 1;
                        let s: String = get(r, 2)?;
                        let new = replace_ascii_ci(&s, &needle, "[erased]");
                        if guarded {
                            self.db.batch("SAVEPOINT sweep")?;
                            match self.db.execute(&sql, &[&ctid, &new]) {
                                Ok(_) => self.db.batch("RELEASE SAVEPOINT sweep")?,
                                // A unique key that becomes equal to another once redacted.
                                Err(StoreError::Pg(e))
                                    if e.code().is_some_and(|c| c.code().starts_with("23")) =>
                                {
                                    self.db.batch(
                                        "ROLLBACK TO SAVEPOINT sweep; RELEASE SAVEPOINT sweep",
                                    )?;
                                    self.db.execute(&sql, &[&ctid, &fallback])?;
                                }
                                Err(e) => return Err(e),
                            }
                        } else {
                            self.db.execute(&sql, &[&ctid, &new])?;
                        }
                    }
                    Kind::Bytes => {
                        counts.blobs_dropped += 1;
                        let new: Option<Vec<u8>> = not_null.then(Vec::new);
                        self.db.execute(&sql, &[&ctid, &new])?;
                    }
                }
            }
        }
        Ok(counts)
    }
}

/// Where any of `needles` is still stored in the database (the PostgreSQL counterpart of
/// `trace_on_disk`, which reads SQLite's files): every text and bytea column of every table
/// of the current schema, read from the catalog now (so a column added later is searched
/// too), compared without regard to ASCII case as [`holds`] describes. The first hit is
/// returned as `table.column row id N` (or, for a table without an `id`, its `case_id` if
/// it has one and the row's `ctid`), offset 0.
///
/// What this proves is narrower than SQLite's check: no live row holds the address. The
/// server's files may still hold old row versions (until overwritten), its write-ahead log,
/// archived WAL, replicas and backups keep history; see [`RecordOps::compact`].
///
/// # Errors
/// SQL errors.
// Used by the erasure's final check once the engine is wired (`engine.rs`); tested below.
#[allow(dead_code)]
pub(crate) fn trace_in_database(
    store: &PgStore,
    needles: &[String],
) -> Result<Option<crate::store::Trace>, StoreError> {
    let db = &store.db;
    let columns = searchable_columns(db)?;
    let with_id = tables_with_id(db)?;
    let with_case: Vec<String> = collect(
        db,
        "SELECT table_name::TEXT FROM information_schema.columns
         WHERE table_schema = current_schema() AND column_name = 'case_id'",
        &[],
        |r| get(r, 0),
    )?;
    for needle in needles {
        let needle = needle.to_ascii_lowercase();
        if needle.is_empty() {
            // As `file_contains_ci`: an empty needle is found nowhere.
            continue;
        }
        for (table, column, kind, _) in &columns {
            let (t, c) = (ident(table), ident(column));
            let key = if with_id.contains(table) {
                "'id ' || id::TEXT".to_string()
            } else if with_case.contains(table) {
                "'case_id ' || COALESCE(case_id::TEXT, 'NULL') || ' ctid ' || ctid::TEXT"
                    .to_string()
            } else {
                "'ctid ' || ctid::TEXT".to_string()
            };
            let hit = db.query_opt(
                &format!("SELECT {key} FROM {t} WHERE {} LIMIT 1", holds(&c, *kind)),
                &[&*needle_param(&needle, *kind)],
            )?;
            if let Some(r) = hit {
                let row: String = get(&r, 0)?;
                return Ok(Some(crate::store::Trace {
                    place: format!("{table}.{column} row {row}"),
                    offset: 0,
                }));
            }
        }
    }
    Ok(None)
}

impl RecordOps for PgStore {
    /// SQLite's `secure_delete` has no PostgreSQL counterpart: a deleted or updated row stays
    /// in its page as a dead tuple until VACUUM makes the space reusable and a later write
    /// overwrites it. Nothing to set; [`RecordOps::compact`] does what can be done.
    ///
    /// # Errors
    /// None.
    fn secure_delete(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// VACUUMs every table of the current schema (a purge or erasure may touch any of them,
    /// through `sweep`), outside any transaction (VACUUM cannot run in one), listing them
    /// from the catalog. The daemons keep running: plain VACUUM takes no lock that blocks
    /// reads or writes.
    ///
    /// What it guarantees: the old versions of the rows the erasure changed (dead tuples, in
    /// the tables and their TOAST tables, where large raw messages live) are removed from
    /// the tables' indexes and their space marked reusable, once no open transaction can
    /// still see them (a snapshot older than the erasure keeps them until a later VACUUM or
    /// autovacuum). What it does not: the bytes are not zeroed, they stay in the data files
    /// until new rows overwrite them (VACUUM FULL would rewrite the tables, but under a lock
    /// that stops every daemon, and the old files are only unlinked, not wiped); the
    /// write-ahead log, archived WAL, replicas' copies and backups keep the history as it
    /// was. Unlike SQLite's `compact`, it cannot make the database's files free of the
    /// address; `trace_in_database` checks the live rows only.
    ///
    /// # Errors
    /// SQL errors.
    fn compact(&mut self) -> Result<(), StoreError> {
        let tables: Vec<String> = collect(
            &self.db,
            "SELECT table_name::TEXT FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
            &[],
            |r| get(r, 0),
        )?;
        if tables.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = tables.iter().map(|t| ident(t)).collect();
        self.db.batch(&format!("VACUUM {}", list.join(", ")))
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
            let Some(case) = tx.read().case_by_reference(reference)? else {
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
                    tx.db.execute(
                        "UPDATE cases SET legal_hold = $2, legal_hold_at = $3 WHERE id = $1",
                        &[&case.id, &r, &ts(now)],
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
                    tx.db.execute(
                        "UPDATE cases SET legal_hold = NULL, legal_hold_at = NULL WHERE id = $1",
                        &[&case.id],
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
    use crate::store::pg::tests::fresh;

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

    fn at(s: &str) -> DateTime<Utc> {
        crate::store::parse_ts(s).unwrap()
    }

    const JANE: &str = "jane.doe@example.org";

    /// Cases 1 (Jane's, in progress), 2 (Tom's, closed, Jane in cc), 3 (Ann's, closed and
    /// held), 4 (Bob's, closed, free); with messages, mail, ratings, audit, timers, flood
    /// keys, quarantine.
    fn fixture(s: &PgStore) {
        s.db()
            .batch(
                r#"
INSERT INTO cases(id, reference, status, category, priority, subject, customer_address, customer_name,
                  created_at, updated_at, closed_at, legal_hold, legal_hold_at) VALUES
 (1, 'REF-1', 'in_progress', 'general', 'normal', 'Help for Jane', 'Jane.Doe@Example.org', 'Jane Doe',
  '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', NULL, NULL, NULL),
 (2, 'REF-2', 'closed', 'billing', 'high', 'Tom asks', 'tom@example.org', 'Tom',
  '2026-01-01T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z', NULL, NULL),
 (3, 'REF-3', 'closed', 'general', 'normal', 'Ann asks', 'ann@example.org', NULL,
  '2026-01-01T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z', '2026-01-01T12:00:00.000000Z', 'lawsuit', '2026-01-03T00:00:00.000000Z'),
 (4, 'REF-4', 'closed', 'general', 'low', 'Bob asks', 'bob@example.org', NULL,
  '2026-01-01T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z', '2026-01-03T00:00:00.000000Z', NULL, NULL);
INSERT INTO participants(case_id, address, name, role, undeliverable, added_at) VALUES
 (1, 'jane.doe@example.org', 'Jane Doe', 'customer', 0, '2026-01-01T00:00:00.000000Z'),
 (1, 'agent@us.test', 'Agent', 'agent', 0, '2026-01-01T00:00:01.000000Z'),
 (2, 'tom@example.org', 'Tom', 'customer', 0, '2026-01-01T00:00:00.000000Z'),
 (2, 'JANE.DOE@example.org', 'Jane', 'cc', 1, '2026-01-01T00:00:02.000000Z');
INSERT INTO messages(id, case_id, dedupe_id, message_id, content_hash, from_address, from_name, reply_address,
                     subject, received_at, body_text, attachments, outcome, raw, raw_size, role, visibility, note) VALUES
 (1, 1, 'd1', '<m1@example.org>', 'h1', 'Jane.Doe@Example.org', 'Jane Doe', NULL, 'Help', '2026-01-01T00:00:00.000000Z',
  'I am Jane', '[]', 'new_case', convert_to('From: Jane.Doe@Example.org', 'UTF8'), 26, 'customer', 'public', NULL),
 (2, 2, 'd2', '<m2@example.org>', 'h2', 'tom@example.org', 'Tom', NULL, 'Tom asks', '2026-01-01T00:00:00.000000Z',
  'cc jane.doe@EXAMPLE.org please', '[]', 'new_case', '\x00ff4a414e452e444f45406578616d706c652e6f7267'::BYTEA, 23, 'customer', 'public', NULL),
 (3, 2, 'd3', NULL, 'h3', 'jane.doe@example.org', 'Jane', NULL, 'Re: Tom asks', '2026-01-01T01:00:00.000000Z',
  'me too', '[]', 'joined', NULL, 10, 'cc', 'public', NULL),
 (4, NULL, 'stray', NULL, 'h4', 'x@y.test', NULL, NULL, 'spam', '2025-12-01T00:00:00.000000Z',
  'nothing', '[]', 'new_case', 'raw4'::BYTEA, 4, NULL, 'public', NULL),
 (5, NULL, '<a-jane.doe@example.org>', NULL, 'h5', 'x@y.test', NULL, NULL, 's', '2025-12-01T00:00:00.000000Z',
  'b', '[]', 'new_case', NULL, 1, NULL, 'public', NULL),
 (6, NULL, '<a-JANE.DOE@example.org>', NULL, 'h6', 'x@y.test', NULL, NULL, 's', '2025-12-01T00:00:00.000000Z',
  'b', '[]', 'new_case', NULL, 1, NULL, 'public', NULL),
 (7, 3, 'd7', NULL, 'h7', 'ann@example.org', NULL, NULL, 'held', '2025-12-01T00:00:00.000000Z',
  'b', '[]', 'new_case', 'raw7'::BYTEA, 4, 'customer', 'public', NULL);
INSERT INTO outbox(id, case_id, kind, automatic, message_id, envelope_from, recipient, cc, subject, body, status,
                   next_attempt_at, created_at, audience) VALUES
 (1, 1, 'ack', 1, '<o1@us>', 'support@us.test', 'jane.doe@example.org', NULL, 'Ack', 'hello jane'::BYTEA, 'sent',
  '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 'customer'),
 (2, 2, 'agent_reply', 0, '<o2@us>', 'support@us.test', 'tom@example.org', 'a@b.test,Jane.Doe@example.org', 'Re', 'hi tom'::BYTEA, 'sent',
  '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 'customer'),
 (3, 3, 'ack', 1, '<o3@us>', 'support@us.test', 'ann@example.org', NULL, 'Ack', 'held body'::BYTEA, 'sent',
  '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 'customer'),
 (4, NULL, 'ack', 1, '<o4@us>', 'support@us.test', 'JANE.doe@example.org', NULL, 'Stray', 'x'::BYTEA, 'pending',
  '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 'customer');
INSERT INTO ratings(case_id, rating, comment, at) VALUES (1, 4, 'Jane liked it', '2026-01-01T00:00:00.000000Z');
INSERT INTO audit(case_id, at, actor, event, detail) VALUES
 (1, '2026-01-01T00:00:00.000000Z', 'JANE.DOE@example.org', 'status', '{"from":"new","to":"in_progress","reason":"Jane wrote"}'),
 (1, '2026-01-01T00:00:01.000000Z', 'stranger@else.test', 'agent_answer', '{"text":"x"}'),
 (1, '2026-01-01T00:00:02.000000Z', 'system', 'case_opened', '{"by":"jane.doe@example.org"}');
INSERT INTO timers(case_id, kind, target_at, due_at, created_at) VALUES
 (1, 'first_response_warning', '2026-01-02T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z');
INSERT INTO flood_keys(case_id, sender, domain, text_key, created_at) VALUES
 (1, 'jane.doe@example.org', 'example.org', 'k', '2026-01-01T00:00:00.000000Z');
INSERT INTO quarantine(id, uid, reason, size, raw, at) VALUES
 (1, 7, 'too big', 3, 'abc'::BYTEA, '2025-12-01T00:00:00.000000Z'),
 (2, NULL, 'sender Jane.Doe@example.org looped', 0, NULL, '2026-02-01T00:00:00.000000Z');
"#,
            )
            .unwrap();
    }

    #[test]
    fn retention_hold_export_and_erasure_on_postgres() {
        let Some(mut s) = fresh() else {
            return;
        };
        fixture(&s);
        let now = at("2026-03-01T00:00:00.000000Z");
        let r = s.read();

        // Retention reads.
        let closed = r.closed_cases_unheld().unwrap();
        assert_eq!(
            closed.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![2, 4],
            "{closed:?}"
        );
        assert_eq!(closed[0].category.as_str(), "billing");
        let held = r.held_cases().unwrap();
        assert_eq!(held.len(), 1);
        assert_eq!((held[0].id, held[0].reason.as_str()), (3, "lawsuit"));
        assert_eq!(
            r.legal_hold(3).unwrap(),
            Some(("lawsuit".into(), "2026-01-03T00:00:00.000000Z".into()))
        );
        assert_eq!(r.legal_hold(1).unwrap(), None);
        assert_eq!(r.scrubbed_at(1).unwrap(), (None, None));
        let q = r
            .quarantine_before(at("2026-01-01T00:00:00.000000Z"))
            .unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!((q[0].id, q[0].uid, q[0].size), (1, Some(7), 3));
        let raw = r.raw_before(at("2026-01-01T00:30:00.000000Z")).unwrap();
        // Message 7 is on the held case; 1 and 2 have raw bytes, 4 has no case.
        assert_eq!(raw.iter().map(|m| m.id).collect::<Vec<_>>(), vec![1, 2, 4]);
        assert_eq!(raw[0].reference.as_deref(), Some("REF-1"));
        assert_eq!(raw[2].reference, None);
        let un = r
            .unattached_before(at("2026-01-01T00:00:00.000000Z"))
            .unwrap();
        assert_eq!(un.iter().map(|m| m.id).collect::<Vec<_>>(), vec![4, 5, 6]);
        assert_eq!(r.sent_bodies_before(now).unwrap(), 2);
        let all = r.stored_messages().unwrap();
        assert_eq!(all.len(), 7);
        assert_eq!(
            all[0].raw.as_deref(),
            Some(&b"From: Jane.Doe@Example.org"[..])
        );
        assert_eq!(all[0].attachments, serde_json::json!([]));
        assert_eq!(
            r.quarantine_raw().unwrap(),
            vec![Some(b"abc".to_vec()), None]
        );
        assert_eq!(r.maintenance("purge").unwrap(), None);
        assert_eq!(
            r.cases_of_customer("JANE.DOE@example.org").unwrap(),
            vec![1]
        );

        // Export.
        let p = r.person_records("Jane.Doe@EXAMPLE.org").unwrap();
        assert_eq!(
            p.cases.iter().map(|c| c.case.id).collect::<Vec<_>>(),
            vec![1, 2]
        );
        let own = &p.cases[0];
        assert_eq!(own.relation, "customer");
        assert_eq!(own.messages.len(), 1);
        assert_eq!(own.outbound.len(), 1);
        assert_eq!(own.rating.as_ref().map(|r| r.rating), Some(4));
        assert_eq!(own.audit.len(), 3);
        assert_eq!(own.participant_entries.len(), 1);
        let other = &p.cases[1];
        assert_eq!(other.relation, "participant");
        assert_eq!(other.participant_entries.len(), 1);
        assert!(other.participant_entries[0].undeliverable);
        // Only her own message on Tom's case; the mail where she is in cc.
        assert_eq!(
            other.messages.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![3]
        );
        assert_eq!(
            other.outbound.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![2]
        );
        assert!(other.rating.is_none() && other.audit.is_empty());
        assert!(p.unattached_messages.is_empty());
        assert_eq!(
            p.unattached_outbound
                .iter()
                .map(|o| o.id)
                .collect::<Vec<_>>(),
            vec![4]
        );

        // Legal hold.
        assert_eq!(
            s.set_legal_hold("REF-4", Some("audit"), "admin", now)
                .unwrap(),
            HoldChange::Set
        );
        assert_eq!(
            s.set_legal_hold("REF-4", Some("audit 2"), "admin", now)
                .unwrap(),
            HoldChange::Replaced {
                previous: "audit".into()
            }
        );
        assert_eq!(
            s.set_legal_hold("REF-4", None, "admin", now).unwrap(),
            HoldChange::Released {
                reason: "audit 2".into()
            }
        );
        assert_eq!(
            s.set_legal_hold("REF-4", None, "admin", now).unwrap(),
            HoldChange::NotHeld
        );
        assert!(matches!(
            s.set_legal_hold("NOPE", Some("x"), "admin", now),
            Err(StoreError::Data(_))
        ));
        let events: Vec<String> = s
            .db()
            .query("SELECT event FROM audit WHERE case_id = 4 ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(events, ["legal_hold", "legal_hold", "legal_hold_released"]);

        // Retention writes.
        s.write(|tx| {
            tx.record_maintenance("purge", now, &serde_json::json!({"n": 1}))?;
            tx.record_maintenance("purge", now, &serde_json::json!({"n": 2}))?;
            assert_eq!(tx.drop_raw(&[4, 4, 99])?, 1);
            assert_eq!(tx.drop_sent_bodies(now)?, 2);
            assert_eq!(tx.delete_quarantine(&[1, 99])?, 1);
            assert_eq!(tx.scrub_messages(&[4], Scrub::Purged)?, 1);
            assert!(!tx.is_scrubbed(2)?);
            let c = tx.scrub_case(2, Scrub::Purged, "system", now)?;
            assert_eq!((c.messages, c.outbound, c.participants), (2, 1, 2));
            assert!(tx.is_scrubbed(2)?);
            Ok(())
        })
        .unwrap();
        let r = s.read();
        assert_eq!(
            r.maintenance("purge").unwrap(),
            Some((now, "{\"n\":2}".to_string()))
        );
        assert_eq!(r.sent_bodies_before(now).unwrap(), 0);
        let held_body: Vec<u8> = s
            .db()
            .query_one("SELECT body FROM outbox WHERE id = 3", &[])
            .unwrap()
            .get(0);
        assert_eq!(held_body, b"held body");
        let m4 = s
            .db()
            .query_one("SELECT dedupe_id, raw FROM messages WHERE id = 4", &[])
            .unwrap();
        assert_eq!(m4.get::<_, String>(0), "purged:4");
        assert_eq!(m4.get::<_, Option<Vec<u8>>>(1), None);
        assert!(r.unattached_before(now).unwrap().iter().all(|m| m.id != 4));
        assert!(r.scrubbed_at(2).unwrap().0.is_some());

        // Erasure, as `records::erase` runs it.
        assert!(trace_in_database(&s, &[JANE.to_string()])
            .unwrap()
            .is_some());
        s.secure_delete().unwrap();
        let swept = s
            .write(|tx| {
                assert!(tx.close_silently(1, "admin", "erased on request", now)?);
                assert!(!tx.close_silently(1, "admin", "again", now)?);
                let c = tx.scrub_case(1, Scrub::Erased, "admin", now)?;
                assert_eq!(
                    (c.messages, c.outbound, c.participants, c.timers),
                    (1, 1, 2, 1)
                );
                let (parts, msgs) = tx.remove_person(JANE, Scrub::Erased)?;
                assert_eq!((parts, msgs), (0, 0));
                let mut swept = tx.sweep(JANE, false)?;
                let more = tx.sweep("jane.doe", true)?;
                swept.values_redacted += more.values_redacted;
                swept.blobs_dropped += more.blobs_dropped;
                Ok(swept)
            })
            .unwrap();
        assert!(swept.values_redacted >= 3, "{swept:?}");
        s.compact().unwrap();
        assert_eq!(
            trace_in_database(&s, &[JANE.to_string(), "jane.doe".to_string()]).unwrap(),
            None
        );
        let r = s.read();
        assert!(r.scrubbed_at(1).unwrap().1.is_some());
        // The colliding unique keys: one redacted, the other renamed.
        let keys: Vec<String> = s
            .db()
            .query(
                "SELECT dedupe_id FROM messages WHERE id IN (5, 6) ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(keys, ["<a-[erased]>", "erased:messages:6"]);
        let q: String = s
            .db()
            .query_one("SELECT reason FROM quarantine WHERE id = 2", &[])
            .unwrap()
            .get(0);
        assert_eq!(q, "sender [erased] looped");
        let a: Vec<(String, String)> = s
            .db()
            .query(
                "SELECT actor, detail FROM audit WHERE case_id = 1 ORDER BY id",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(a[0].0, "customer");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&a[0].1).unwrap(),
            serde_json::json!({"from": "new", "to": "in_progress"})
        );
        assert_eq!(a[1], ("person".to_string(), "{}".to_string()));
        assert_eq!(a[2].1, "{}");
        let statuses: Vec<String> = s
            .db()
            .query("SELECT status FROM cases WHERE id = 1", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(statuses, ["closed"]);
        // Tom's raw message quoted Jane in binary: dropped (nullable column).
        let m2: Option<Vec<u8>> = s
            .db()
            .query_one("SELECT raw FROM messages WHERE id = 2", &[])
            .unwrap()
            .get(0);
        assert_eq!(m2, None);
        // Erased without unrelated damage: Ann's held case keeps its data.
        let ann: String = s
            .db()
            .query_one("SELECT customer_address FROM cases WHERE id = 3", &[])
            .unwrap()
            .get(0);
        assert_eq!(ann, "ann@example.org");
    }

    #[test]
    fn a_trace_is_found_in_text_and_in_bytes_in_any_case_and_none_in_a_clean_database() {
        let Some(s) = fresh() else {
            return;
        };
        let needles = vec![JANE.to_string()];
        assert_eq!(trace_in_database(&s, &needles).unwrap(), None);
        s.db()
            .batch(
                r"INSERT INTO cases(id, reference, status, category, priority, subject, customer_address,
                                    created_at, updated_at)
                  VALUES (7, 'REF-7', 'new', 'general', 'normal', 's', 'Jane.Doe@Example.ORG',
                          '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')",
            )
            .unwrap();
        assert_eq!(
            trace_in_database(&s, &needles).unwrap(),
            Some(crate::store::Trace {
                place: "cases.customer_address row id 7".into(),
                offset: 0
            })
        );
        s.db()
            .batch("UPDATE cases SET customer_address = 'someone@else.test' WHERE id = 7")
            .unwrap();
        assert_eq!(trace_in_database(&s, &needles).unwrap(), None);
        // Only in raw bytes, between a NUL, a backslash and non-UTF-8 bytes, upper case.
        s.db()
            .batch(
                r"INSERT INTO quarantine(id, reason, size, raw, at)
                  VALUES (3, 'r', 1, '\x00ff5c4a414e452e444f45404558414d504c452e4f5247fe00'::BYTEA,
                          '2026-01-01T00:00:00.000000Z')",
            )
            .unwrap();
        assert_eq!(
            trace_in_database(&s, &needles).unwrap(),
            Some(crate::store::Trace {
                place: "quarantine.raw row id 3".into(),
                offset: 0
            })
        );
        // A table without an id names the row by its case and ctid.
        s.db()
            .batch(
                r"UPDATE quarantine SET raw = NULL;
                  INSERT INTO participants(case_id, address, role, added_at)
                  VALUES (7, 'x@y.test', 'cc', '2026-01-01T00:00:00.000000Z');
                  UPDATE participants SET name = 'JANE.DOE@example.org'",
            )
            .unwrap();
        let t = trace_in_database(&s, &needles).unwrap().unwrap();
        assert!(
            t.place
                .starts_with("participants.name row case_id 7 ctid ("),
            "{t:?}"
        );
        assert_eq!(trace_in_database(&s, &["".to_string()]).unwrap(), None);
    }
}
