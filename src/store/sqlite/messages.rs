//! The SQLite implementation of [`crate::store::messages`].

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::*;
use crate::store::messages::*;

impl MessageReads for SqliteReader<'_> {
    /// Messages of a case, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn messages_of_case(&self, case_id: i64) -> Result<Vec<MessageRow>, StoreError> {
        self.messages_where("case_id = ?1", params![case_id])
    }

    /// Every stored inbound message, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn all_messages(&self) -> Result<Vec<MessageRow>, StoreError> {
        self.messages_where("1 = 1", params![])
    }

    /// Quarantined messages as (uid, reason, size), oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn quarantine(&self) -> Result<Vec<(Option<u32>, String, i64)>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT uid, reason, size FROM quarantine ORDER BY id")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// True when this (mailbox, UIDVALIDITY, UID) was already stored or quarantined.
    ///
    /// # Errors
    /// SQL errors.
    fn seen_uid(&self, src: &ImapSource) -> Result<bool, StoreError> {
        let mut st = self.conn.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE source_mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3)
                 OR EXISTS(SELECT 1 FROM quarantine WHERE source_mailbox = ?1 AND uidvalidity = ?2 AND uid = ?3)",
        )?;
        Ok(st.query_row(params![src.mailbox, src.uidvalidity, src.uid], |r| r.get(0))?)
    }
}

impl MessageWrites for SqliteTx<'_> {
    fn release_held(&self, message_row: i64) -> Result<bool, StoreError> {
        let n = self
            .tx
            .prepare_cached(
                "UPDATE messages SET outcome = 'agent_reply', visibility = 'public'
                 WHERE id = ?1 AND outcome = 'answer_held'",
            )?
            .execute([message_row])?;
        Ok(n > 0)
    }

    fn agent_mail_at(
        &self,
        case_id: i64,
        ids: &[String],
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT created_at FROM outbox WHERE case_id = ?1 AND message_id = ?2 AND audience = 'agent'",
        )?;
        let mut latest: Option<DateTime<Utc>> = None;
        for id in ids {
            let at: Option<DateTime<Utc>> = st
                .query_row(params![case_id, id], |r| col(r, 0))
                .optional()?;
            if let Some(at) = at {
                latest = Some(latest.map_or(at, |l| l.max(at)));
            }
        }
        Ok(latest)
    }

    /// Whether these exact raw bytes (hex SHA-256) were stored, and whether a message with
    /// this dedupe key was: one statement for the question every new message asks.
    ///
    /// # Errors
    /// SQL errors.
    fn seen_bytes_or_key(
        &self,
        content_hash: &str,
        dedupe_id: &str,
    ) -> Result<(bool, bool), StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE content_hash = ?1), EXISTS(SELECT 1 FROM messages WHERE dedupe_id = ?2)",
        )?;
        Ok(st.query_row(params![content_hash, dedupe_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?)
    }

    /// Whether a message with this dedupe key was stored.
    ///
    /// # Errors
    /// SQL errors.
    fn seen_dedupe_id(&self, dedupe_id: &str) -> Result<bool, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM messages WHERE dedupe_id = ?1)")?;
        Ok(st.query_row([dedupe_id], |r| r.get(0))?)
    }

    /// The raw bytes of stored messages with this Message-ID (`None` where they were purged),
    /// to tell a second delivery of a message from another message reusing its id. At most
    /// 20: a sender who reuses one id for ever more messages costs a bounded read. No ORDER
    /// BY: with one, SQLite re-prepared the statement at its executions (see timers_of_case).
    ///
    /// # Errors
    /// SQL errors.
    fn raw_of_message_id(&self, message_id: &str) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT raw FROM messages WHERE message_id = ?1 OR dedupe_id = ?1 LIMIT 20",
        )?;
        let rows = st.query_map([message_id], |r| r.get::<_, Option<Vec<u8>>>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The case and recipient of our customer-facing message with one of these Message-IDs
    /// (what a bounce returns).
    ///
    /// # Errors
    /// SQL errors.
    fn customer_mail_by_ids(
        &self,
        ids: &[String],
    ) -> Result<Option<(i64, Vec<String>)>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT case_id, recipient, cc FROM outbox WHERE message_id = ?1 AND audience = 'customer' AND case_id IS NOT NULL",
        )?;
        for id in ids {
            if let Some((case, to, cc)) = st
                .query_row([id], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                    ))
                })
                .optional()?
            {
                let mut all = vec![to];
                all.extend(
                    cc.iter()
                        .flat_map(|c| c.split(','))
                        .filter(|a| !a.is_empty())
                        .map(str::to_string),
                );
                return Ok(Some((case, all)));
            }
        }
        Ok(None)
    }

    /// Stores an inbound message (raw bytes kept) and returns its id.
    ///
    /// # Errors
    /// SQL errors; a duplicate (mailbox, UIDVALIDITY, UID) or dedupe id is a constraint error.
    fn insert_message(&self, m: &NewMessage<'_>) -> Result<i64, StoreError> {
        let msg = m.msg;
        let attachments = serde_json::to_string::<Vec<Attachment>>(&msg.attachments)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let mut st = self.tx.prepare_cached(
            "INSERT INTO messages(case_id, source_mailbox, uidvalidity, uid, dedupe_id, message_id, content_hash,
                                  from_address, from_name, reply_address, subject, sent_date, received_at,
                                  body_text, attachments, robot, robot_reason, outcome, raw, raw_size,
                                  reply_text, role, visibility, verified, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                     ?21, ?22, ?23, ?24, ?25)",
        )?;
        let from = msg.from.as_ref().or(msg.sender.as_ref());
        st.execute(params![
            m.case_id,
            m.source.map(|s| s.mailbox.as_str()),
            m.source.map(|s| s.uidvalidity),
            m.source.map(|s| s.uid),
            msg.dedupe_id(),
            msg.message_id,
            msg.content_hash,
            from.map(|f| f.normalized()),
            from.and_then(|f| f.name.clone()),
            msg.reply_address().map(|f| f.normalized()),
            msg.subject,
            msg.date.map(ts),
            ts(m.received_at),
            msg.text,
            attachments,
            m.robot.map(|r| r.0),
            m.robot.map(|r| r.1),
            m.outcome,
            m.raw,
            m.raw.len() as i64,
            // NULL when it is the whole text (a first message quotes nothing): readers fall
            // back to body_text, and the text is not stored twice.
            (msg.reply_text != msg.text).then_some(msg.reply_text.as_str()),
            m.role,
            m.visibility,
            m.verified,
            m.note,
        ])?;
        Ok(self.tx.last_insert_rowid())
    }

    /// Records a message that could not be taken in (unparseable, oversized) so it is never
    /// fetched again, and audits the reason.
    ///
    /// # Errors
    /// SQL errors.
    fn insert_quarantine(
        &self,
        source: Option<&ImapSource>,
        reason: &str,
        size: usize,
        raw: Option<&[u8]>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.tx.prepare_cached("INSERT OR IGNORE INTO quarantine(source_mailbox, uidvalidity, uid, reason, size, raw, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
            params![
                source.map(|s| s.mailbox.as_str()),
                source.map(|s| s.uidvalidity),
                source.map(|s| s.uid),
                reason,
                size as i64,
                raw,
                ts(now)
            ],
        )?;
        let id = self.tx.last_insert_rowid();
        self.audit(
            None,
            now,
            "system",
            AuditEvent::Quarantined,
            &serde_json::json!({"uid": source.map(|s| s.uid), "reason": reason, "size": size}),
        )?;
        Ok(id)
    }
}

impl MessageOps for SqliteStore {
    /// Records the UIDVALIDITY of a mailbox; returns the previous value when it changed.
    ///
    /// # Errors
    /// SQL errors.
    fn note_uidvalidity(
        &mut self,
        mailbox: &str,
        uidvalidity: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>, StoreError> {
        self.write(|tx| {
            let prev: Option<u32> = tx
                .tx
                .prepare_cached("SELECT uidvalidity FROM mailbox_state WHERE mailbox = ?1")?.query_row(
                    [mailbox],
                    |r| r.get(0),
                )
                .optional()?;
            tx.tx.prepare_cached("INSERT INTO mailbox_state(mailbox, uidvalidity, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, updated_at = excluded.updated_at")?.execute(
                params![mailbox, uidvalidity, ts(now)],
            )?;
            Ok(prev.filter(|p| *p != uidvalidity))
        })
    }
}
