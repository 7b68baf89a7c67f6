//! The PostgreSQL implementation of [`crate::store::messages`].

use chrono::{DateTime, Utc};

use super::values::{get, stored_flag, time};
use super::*;
use crate::store::messages::*;

/// A stored UID or UIDVALIDITY (BIGINT) as the `u32` IMAP gives; another value is
/// [`StoreError::Data`] naming the column.
fn imap_number(v: i64, column: &str) -> Result<u32, StoreError> {
    u32::try_from(v)
        .map_err(|_| StoreError::Data(format!("column {column} holds {v}: not an IMAP number")))
}

impl MessageReads for PgReader<'_> {
    /// Messages of a case, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn messages_of_case(&self, case_id: i64) -> Result<Vec<MessageRow>, StoreError> {
        self.messages_where("case_id = $1", &[&case_id])
    }

    /// Every stored inbound message, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn all_messages(&self) -> Result<Vec<MessageRow>, StoreError> {
        self.messages_where("1 = 1", &[])
    }

    /// Quarantined messages as (uid, reason, size), oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn quarantine(&self) -> Result<Vec<(Option<u32>, String, i64)>, StoreError> {
        let rows = self
            .db
            .query("SELECT uid, reason, size FROM quarantine ORDER BY id", &[])?;
        rows.iter()
            .map(|r| {
                let uid = get::<Option<i64>>(r, 0)?
                    .map(|u| imap_number(u, "quarantine.uid"))
                    .transpose()?;
                Ok((uid, get(r, 1)?, get(r, 2)?))
            })
            .collect()
    }

    /// True when this (mailbox, UIDVALIDITY, UID) was already stored or quarantined.
    ///
    /// # Errors
    /// SQL errors.
    fn seen_uid(&self, src: &ImapSource) -> Result<bool, StoreError> {
        let r = self.db.query_one(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE source_mailbox = $1 AND uidvalidity = $2 AND uid = $3)
                 OR EXISTS(SELECT 1 FROM quarantine WHERE source_mailbox = $1 AND uidvalidity = $2 AND uid = $3)",
            &[&src.mailbox, &i64::from(src.uidvalidity), &i64::from(src.uid)],
        )?;
        get(&r, 0)
    }
}

impl MessageWrites for PgTx<'_> {
    fn release_held(&self, message_row: i64) -> Result<bool, StoreError> {
        let n = self.db.execute(
            "UPDATE messages SET outcome = 'agent_reply', visibility = 'public'
             WHERE id = $1 AND outcome = 'answer_held'",
            &[&message_row],
        )?;
        Ok(n > 0)
    }

    fn agent_mail_at(
        &self,
        case_id: i64,
        ids: &[String],
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut latest: Option<DateTime<Utc>> = None;
        for id in ids {
            let at = self
                .db
                .query_opt(
                    "SELECT created_at FROM outbox WHERE case_id = $1 AND message_id = $2 AND audience = 'agent'",
                    &[&case_id, id],
                )?
                .map(|r| time(&r, 0, "outbox.created_at"))
                .transpose()?;
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
        let r = self.db.query_one(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE content_hash = $1), EXISTS(SELECT 1 FROM messages WHERE dedupe_id = $2)",
            &[&content_hash, &dedupe_id],
        )?;
        Ok((get(&r, 0)?, get(&r, 1)?))
    }

    /// Whether a message with this dedupe key was stored.
    ///
    /// # Errors
    /// SQL errors.
    fn seen_dedupe_id(&self, dedupe_id: &str) -> Result<bool, StoreError> {
        let r = self.db.query_one(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE dedupe_id = $1)",
            &[&dedupe_id],
        )?;
        get(&r, 0)
    }

    /// The raw bytes of stored messages with this Message-ID (`None` where they were purged),
    /// to tell a second delivery of a message from another message reusing its id. At most
    /// 20: a sender who reuses one id for ever more messages costs a bounded read. No ORDER
    /// BY, as SQLite's (which re-prepared the statement with one; see timers_of_case).
    ///
    /// # Errors
    /// SQL errors.
    fn raw_of_message_id(&self, message_id: &str) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let rows = self.db.query(
            "SELECT raw FROM messages WHERE message_id = $1 OR dedupe_id = $1 LIMIT 20",
            &[&message_id],
        )?;
        rows.iter().map(|r| get::<Option<Vec<u8>>>(r, 0)).collect()
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
        for id in ids {
            let Some(r) = self.db.query_opt(
                "SELECT case_id, recipient, cc FROM outbox WHERE message_id = $1 AND audience = 'customer' AND case_id IS NOT NULL",
                &[id],
            )?
            else {
                continue;
            };
            let case: i64 = get(&r, 0)?;
            let to: String = get(&r, 1)?;
            let cc: Option<String> = get(&r, 2)?;
            let mut all = vec![to];
            all.extend(
                cc.iter()
                    .flat_map(|c| c.split(','))
                    .filter(|a| !a.is_empty())
                    .map(str::to_string),
            );
            return Ok(Some((case, all)));
        }
        Ok(None)
    }

    /// Stores an inbound message (raw bytes kept) and returns its id.
    ///
    /// # Errors
    /// SQL errors; a duplicate (mailbox, UIDVALIDITY, UID) or dedupe id is a constraint error
    /// (which, on PostgreSQL, aborts the transaction up to its savepoint).
    fn insert_message(&self, m: &NewMessage<'_>) -> Result<i64, StoreError> {
        let msg = m.msg;
        let attachments = serde_json::to_string::<Vec<Attachment>>(&msg.attachments)
            .map_err(|e| StoreError::Data(e.to_string()))?;
        let from = msg.from.as_ref().or(msg.sender.as_ref());
        let r = self.db.query_one(
            "INSERT INTO messages(case_id, source_mailbox, uidvalidity, uid, dedupe_id, message_id, content_hash,
                                  from_address, from_name, reply_address, subject, sent_date, received_at,
                                  body_text, attachments, robot, robot_reason, outcome, raw, raw_size,
                                  reply_text, role, visibility, verified, note)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
                     $21, $22, $23, $24, $25)
             RETURNING id",
            &[
                &m.case_id,
                &m.source.map(|s| s.mailbox.as_str()),
                &m.source.map(|s| i64::from(s.uidvalidity)),
                &m.source.map(|s| i64::from(s.uid)),
                &msg.dedupe_id(),
                &msg.message_id,
                &msg.content_hash,
                &from.map(|f| f.normalized()),
                &from.and_then(|f| f.name.clone()),
                &msg.reply_address().map(|f| f.normalized()),
                &msg.subject,
                &msg.date.map(ts),
                &ts(m.received_at),
                &msg.text,
                &attachments,
                &m.robot.map(|r| r.0),
                &m.robot.map(|r| r.1),
                &m.outcome,
                &m.raw,
                &(m.raw.len() as i64),
                // NULL when it is the whole text (a first message quotes nothing): readers fall
                // back to body_text, and the text is not stored twice.
                &(msg.reply_text != msg.text).then_some(msg.reply_text.as_str()),
                &m.role,
                &m.visibility,
                &stored_flag(m.verified),
                &m.note,
            ],
        )?;
        get(&r, 0)
    }

    /// Records a message that could not be taken in (unparseable, oversized) so it is never
    /// fetched again, and audits the reason. When its (mailbox, UIDVALIDITY, UID) is
    /// quarantined already the row is kept as it is (SQLite's `INSERT OR IGNORE`) and its id
    /// returned.
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
        let mailbox = source.map(|s| s.mailbox.as_str());
        let uidvalidity = source.map(|s| i64::from(s.uidvalidity));
        let uid = source.map(|s| i64::from(s.uid));
        let inserted = self.db.query_opt(
            "INSERT INTO quarantine(source_mailbox, uidvalidity, uid, reason, size, raw, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
            &[
                &mailbox,
                &uidvalidity,
                &uid,
                &reason,
                &(size as i64),
                &raw,
                &ts(now),
            ],
        )?;
        let id: i64 = match inserted {
            Some(r) => get(&r, 0)?,
            // The only conflict is the unique (mailbox, UIDVALIDITY, UID): that row's id.
            None => get(
                &self.db.query_one(
                    "SELECT id FROM quarantine WHERE source_mailbox = $1 AND uidvalidity = $2 AND uid = $3",
                    &[&mailbox, &uidvalidity, &uid],
                )?,
                0,
            )?,
        };
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

impl MessageOps for PgStore {
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
                .db
                .query_opt(
                    "SELECT uidvalidity FROM mailbox_state WHERE mailbox = $1",
                    &[&mailbox],
                )?
                .map(|r| imap_number(get(&r, 0)?, "mailbox_state.uidvalidity"))
                .transpose()?;
            tx.db.execute(
                "INSERT INTO mailbox_state(mailbox, uidvalidity, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT(mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, updated_at = excluded.updated_at",
                &[&mailbox, &i64::from(uidvalidity), &ts(now)],
            )?;
            Ok(prev.filter(|p| *p != uidvalidity))
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::tests::fresh;
    use super::*;
    use crate::parse::{parse, InboundMessage, ParseLimits};

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
    }

    fn new_case(s: &PgStore, reference: &str) -> i64 {
        let r = s
            .db()
            .query_one(
                "INSERT INTO cases(reference, status, category, priority, subject, customer_address,
                                   created_at, updated_at)
                 VALUES ($1, 'new', 'general', 'normal', 'Order', 'c@example.org', $2, $2)
                 RETURNING id",
                &[&reference, &ts(at(1))],
            )
            .unwrap();
        r.get(0)
    }

    fn outbox(s: &PgStore, case: i64, message_id: &str, audience: &str, cc: Option<&str>, h: u32) {
        s.db()
            .execute(
                "INSERT INTO outbox(case_id, kind, automatic, message_id, envelope_from, recipient,
                                    subject, body, status, next_attempt_at, created_at, audience, cc)
                 VALUES ($1, 'reply', 0, $2, 'support@example.com', 'c@example.org', 'Re: Order',
                         '\\x00'::bytea, 'sent', $3, $3, $4, $5)",
                &[&case, &message_id, &ts(at(h)), &audience, &cc],
            )
            .unwrap();
    }

    fn mail(headers: &str, body: &str) -> InboundMessage {
        let raw = format!("{headers}\r\n\r\n{body}\r\n");
        parse(raw.as_bytes(), &ParseLimits::default()).expect("fixture parses")
    }

    fn src(uid: u32) -> ImapSource {
        ImapSource {
            mailbox: "INBOX".into(),
            uidvalidity: 7,
            uid,
        }
    }

    fn new_message<'a>(
        case: Option<i64>,
        source: Option<&'a ImapSource>,
        msg: &'a InboundMessage,
        raw: &'a [u8],
    ) -> NewMessage<'a> {
        NewMessage {
            case_id: case,
            source,
            msg,
            received_at: at(2),
            robot: None,
            outcome: MessageOutcome::AnswerHeld,
            raw,
            role: Some(ParticipantRole::Customer),
            visibility: Visibility::Internal,
            verified: false,
            note: Some("unverified"),
        }
    }

    #[test]
    fn messages_are_stored_read_back_and_found_by_uid_hash_and_message_id() {
        let Some(mut s) = fresh() else { return };
        let case = new_case(&s, "C-1");
        let m = mail(
            "From: Carla <Carla@Example.org>\r\nTo: support@example.com\r\nSubject: Order\r\nMessage-ID: <a@x>\r\nDate: Sun, 1 Mar 2026 01:00:00 +0000",
            "Where is my order?",
        );
        let raw = b"the raw bytes\0with a NUL".to_vec();
        let source = src(42);
        assert!(!s.read().seen_uid(&source).unwrap());
        let id = s
            .write(|tx| {
                assert_eq!(
                    tx.seen_bytes_or_key(&m.content_hash, &m.dedupe_id())
                        .unwrap(),
                    (false, false)
                );
                assert!(!tx.seen_dedupe_id(&m.dedupe_id()).unwrap());
                assert!(tx.raw_of_message_id("<a@x>").unwrap().is_empty());
                tx.insert_message(&new_message(Some(case), Some(&source), &m, &raw))
            })
            .unwrap();
        assert!(id > 0);
        assert!(s.read().seen_uid(&source).unwrap());
        assert!(!s.read().seen_uid(&src(43)).unwrap());
        let other_validity = ImapSource {
            uidvalidity: 8,
            ..source.clone()
        };
        assert!(!s.read().seen_uid(&other_validity).unwrap());

        let rows = s.read().messages_of_case(case).unwrap();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.id, id);
        assert_eq!(row.case_id, Some(case));
        assert_eq!(row.message_id, m.message_id);
        assert_eq!(row.from_address.as_deref(), Some("carla@example.org"));
        assert_eq!(row.subject, "Order");
        assert_eq!(row.received_at, at(2));
        assert_eq!(row.outcome, MessageOutcome::AnswerHeld);
        assert_eq!(row.reply_text, None, "the whole text is not stored twice");
        assert_eq!(row.role, Some(ParticipantRole::Customer));
        assert_eq!(row.visibility, Visibility::Internal);
        assert!(!row.verified);
        assert_eq!(row.note.as_deref(), Some("unverified"));
        assert_eq!(s.read().all_messages().unwrap().len(), 1);
        assert!(s.read().messages_of_case(case + 1).unwrap().is_empty());

        s.write(|tx| {
            assert_eq!(
                tx.seen_bytes_or_key(&m.content_hash, &m.dedupe_id())
                    .unwrap(),
                (true, true)
            );
            assert_eq!(
                tx.seen_bytes_or_key("other", &m.dedupe_id()).unwrap(),
                (false, true)
            );
            assert_eq!(
                tx.seen_bytes_or_key(&m.content_hash, "other").unwrap(),
                (true, false)
            );
            assert!(tx.seen_dedupe_id(&m.dedupe_id()).unwrap());
            assert!(!tx.seen_dedupe_id("<b@x>").unwrap());
            assert_eq!(
                tx.raw_of_message_id(m.message_id.as_deref().unwrap())
                    .unwrap(),
                vec![Some(raw.clone())]
            );
            Ok(())
        })
        .unwrap();
        let stored: (
            Option<i64>,
            Option<i64>,
            String,
            String,
            i64,
            Option<String>,
        ) = {
            let r = s
                .db()
                .query_one(
                    "SELECT uidvalidity, uid, source_mailbox, attachments, raw_size, sent_date FROM messages WHERE id = $1",
                    &[&id],
                )
                .unwrap();
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))
        };
        assert_eq!(stored.0, Some(7));
        assert_eq!(stored.1, Some(42));
        assert_eq!(stored.2, "INBOX");
        assert_eq!(stored.3, "[]");
        assert_eq!(stored.4, raw.len() as i64);
        assert_eq!(stored.5, Some(ts(at(1))));

        // A second message with the same dedupe key or UID is refused, and the transaction
        // with it writes nothing.
        let again =
            s.write(|tx| tx.insert_message(&new_message(Some(case), Some(&src(99)), &m, &raw)));
        assert!(again.is_err());
        let other = mail(
            "From: d@example.org\r\nSubject: Other\r\nMessage-ID: <b@x>",
            "Hi",
        );
        let again =
            s.write(|tx| tx.insert_message(&new_message(Some(case), Some(&source), &other, &raw)));
        assert!(again.is_err());
        assert_eq!(s.read().all_messages().unwrap().len(), 1);

        // A reply text other than the whole text is stored; a message without a source or a
        // case is fine.
        let mut reply = mail(
            "From: d@example.org\r\nSubject: Re: Order\r\nMessage-ID: <c@x>",
            "Thanks\r\n\r\n> Where is my order?",
        );
        reply.reply_text = "Thanks".into();
        let id2 = s
            .write(|tx| {
                let mut n = new_message(None, None, &reply, b"r");
                n.role = None;
                n.robot = Some(("auto", "Auto-Submitted"));
                n.outcome = MessageOutcome::Robot;
                n.verified = true;
                n.visibility = Visibility::Public;
                n.note = None;
                tx.insert_message(&n)
            })
            .unwrap();
        assert!(id2 > id);
        let all = s.read().all_messages().unwrap();
        assert_eq!(all.iter().map(|m| m.id).collect::<Vec<_>>(), vec![id, id2]);
        let r2 = &all[1];
        assert_eq!(r2.reply_text.as_deref(), Some("Thanks"));
        assert_eq!(r2.robot.as_deref(), Some("auto"));
        assert_eq!(r2.role, None);
        assert!(r2.verified);
        assert_eq!(r2.case_id, None);
    }

    #[test]
    fn a_held_answer_is_released_once() {
        let Some(mut s) = fresh() else { return };
        let case = new_case(&s, "C-1");
        let m = mail(
            "From: a@example.com\r\nSubject: x\r\nMessage-ID: <h@x>",
            "answer",
        );
        let id = s
            .write(|tx| tx.insert_message(&new_message(Some(case), None, &m, b"raw")))
            .unwrap();
        assert!(s.write(|tx| tx.release_held(id)).unwrap());
        assert!(!s.write(|tx| tx.release_held(id)).unwrap());
        assert!(!s.write(|tx| tx.release_held(id + 100)).unwrap());
        let row = &s.read().messages_of_case(case).unwrap()[0];
        assert_eq!(row.outcome, MessageOutcome::AgentReply);
        assert_eq!(row.visibility, Visibility::Public);
    }

    #[test]
    fn our_mail_is_found_by_its_message_ids() {
        let Some(mut s) = fresh() else { return };
        let case = new_case(&s, "C-1");
        let other = new_case(&s, "C-2");
        outbox(&s, case, "<agent1@us>", "agent", None, 3);
        outbox(&s, case, "<agent2@us>", "agent", None, 5);
        outbox(&s, other, "<agent3@us>", "agent", None, 9);
        outbox(
            &s,
            case,
            "<cust1@us>",
            "customer",
            Some("x@example.org,,y@example.org"),
            4,
        );
        outbox(&s, case, "<cust2@us>", "customer", None, 6);
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        s.write(|tx| {
            assert_eq!(
                tx.agent_mail_at(case, &ids(&["<agent1@us>", "<agent2@us>", "<cust1@us>"]))?,
                Some(at(5))
            );
            assert_eq!(tx.agent_mail_at(case, &ids(&["<agent1@us>"]))?, Some(at(3)));
            assert_eq!(tx.agent_mail_at(case, &ids(&["<agent3@us>"]))?, None);
            assert_eq!(tx.agent_mail_at(case, &[])?, None);
            assert_eq!(
                tx.customer_mail_by_ids(&ids(&["<nope>", "<agent1@us>", "<cust1@us>"]))?,
                Some((
                    case,
                    ids(&["c@example.org", "x@example.org", "y@example.org"])
                ))
            );
            assert_eq!(
                tx.customer_mail_by_ids(&ids(&["<cust2@us>", "<cust1@us>"]))?,
                Some((case, ids(&["c@example.org"])))
            );
            assert_eq!(tx.customer_mail_by_ids(&ids(&["<agent2@us>"]))?, None);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn quarantine_keeps_one_row_per_uid_and_audits_every_time() {
        let Some(mut s) = fresh() else { return };
        let source = src(5);
        let first = s
            .write(|tx| tx.insert_quarantine(Some(&source), "unparseable", 10, Some(b"xx"), at(1)))
            .unwrap();
        // The same UID again: kept as it was (SQLite's INSERT OR IGNORE), and the
        // transaction goes on (it audits, and commits).
        let second = s
            .write(|tx| {
                let id = tx.insert_quarantine(Some(&source), "again", 20, None, at(2))?;
                assert!(tx.read().seen_uid(&source)?);
                Ok(id)
            })
            .unwrap();
        assert_eq!(first, second);
        let third = s
            .write(|tx| tx.insert_quarantine(None, "no source", 3, None, at(3)))
            .unwrap();
        assert_ne!(third, first);
        assert!(s.read().seen_uid(&source).unwrap());
        assert_eq!(
            s.read().quarantine().unwrap(),
            vec![
                (Some(5), "unparseable".to_string(), 10),
                (None, "no source".to_string(), 3)
            ]
        );
        let audits: i64 = s
            .db()
            .query_one(
                "SELECT COUNT(*) FROM audit WHERE event = 'quarantined' AND case_id IS NULL AND actor = 'system'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(audits, 3);
        let detail: String = s
            .db()
            .query_one("SELECT detail FROM audit ORDER BY id LIMIT 1", &[])
            .unwrap()
            .get(0);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&detail).unwrap(),
            serde_json::json!({"uid": 5, "reason": "unparseable", "size": 10})
        );
        // A stored UID out of IMAP's range is a data error naming its column.
        s.db()
            .execute("UPDATE quarantine SET uid = -1 WHERE uid = 5", &[])
            .unwrap();
        match s.read().quarantine() {
            Err(StoreError::Data(e)) => assert!(e.contains("quarantine.uid"), "{e}"),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn uidvalidity_changes_are_reported() {
        let Some(mut s) = fresh() else { return };
        assert_eq!(s.note_uidvalidity("INBOX", 7, at(1)).unwrap(), None);
        assert_eq!(s.note_uidvalidity("INBOX", 7, at(2)).unwrap(), None);
        assert_eq!(
            s.note_uidvalidity("INBOX", u32::MAX, at(3)).unwrap(),
            Some(7)
        );
        assert_eq!(s.note_uidvalidity("Other", 1, at(3)).unwrap(), None);
        assert_eq!(
            s.note_uidvalidity("INBOX", 8, at(4)).unwrap(),
            Some(u32::MAX)
        );
        let (v, t): (i64, String) = {
            let r = s
                .db()
                .query_one(
                    "SELECT uidvalidity, updated_at FROM mailbox_state WHERE mailbox = 'INBOX'",
                    &[],
                )
                .unwrap();
            (r.get(0), r.get(1))
        };
        assert_eq!((v, t), (8, ts(at(4))));
    }
}
