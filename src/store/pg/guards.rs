//! The PostgreSQL implementation of [`crate::store::guards`].

use chrono::{DateTime, Utc};

use super::values::{get, opt_time};
use super::*;
use crate::store::guards::*;

impl GuardWrites for PgTx<'_> {
    /// The case's loop state in one read: its stop, if it is stopped now, and when an admin
    /// last resumed it (the guard counts only what came after that, or the same burst would
    /// stop the case again at once).
    ///
    /// # Errors
    /// SQL errors.
    fn loop_state(&self, case_id: i64) -> Result<LoopState, StoreError> {
        let Some(r) = self.db.query_opt(
            "SELECT stopped_at, reason, resumed_at FROM loop_stops WHERE case_id = $1",
            &[&case_id],
        )?
        else {
            return Ok(LoopState::default());
        };
        let stopped_at = opt_time(&r, 0, "loop_stops.stopped_at")?;
        let reason: String = get(&r, 1)?;
        Ok(LoopState {
            stop: stopped_at.map(|stopped_at| LoopStop { stopped_at, reason }),
            resumed_at: opt_time(&r, 2, "loop_stops.resumed_at")?,
        })
    }

    /// Stops the case's relaying (a case already stopped keeps its first stop).
    ///
    /// # Errors
    /// SQL errors.
    fn stop_loop(&self, case_id: i64, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO loop_stops(case_id, stopped_at, reason) VALUES ($1, $2, $3)
             ON CONFLICT(case_id) DO UPDATE SET stopped_at = excluded.stopped_at, reason = excluded.reason
             WHERE loop_stops.stopped_at IS NULL",
            &[&case_id, &ts(now), &reason],
        )?;
        Ok(())
    }

    /// Messages stored on the case since `since` from the customer's side (customer, cc) and
    /// from the agents' side (agents, managers), in one read; mail a flood cap joined to the case is not counted
    /// (the flood caps hold it already).
    ///
    /// # Errors
    /// SQL errors.
    fn messages_by_side_since(
        &self,
        case_id: i64,
        since: DateTime<Utc>,
    ) -> Result<(i64, i64), StoreError> {
        // SQLite sums the 0/1 of `role IN (…)` (NULL for a robot's message, which no sum
        // counts); PostgreSQL does not sum booleans, so the rows are counted by filter.
        let r = self.db.query_one(
            "SELECT COUNT(*) FILTER (WHERE role IN ('customer', 'cc')),
                    COUNT(*) FILTER (WHERE role IN ('agent', 'manager'))
             FROM messages WHERE case_id = $1 AND received_at >= $2 AND outcome != 'flood_joined'",
            &[&case_id, &ts(since)],
        )?;
        Ok((get(&r, 0)?, get(&r, 1)?))
    }

    /// Messages stored on the case since `since` whose new text (`InboundMessage::new_text`:
    /// the reply text, or the whole text when nothing new is left) is this one.
    ///
    /// # Errors
    /// SQL errors.
    fn same_text_on_case_since(
        &self,
        case_id: i64,
        text: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let r = self.db.query_one(
            "SELECT COUNT(*) FROM messages WHERE case_id = $1 AND received_at >= $2
             AND coalesce(nullif(reply_text, ''), body_text) = $3",
            &[&case_id, &ts(since), &text],
        )?;
        get(&r, 0)
    }

    /// Mail of every kind queued on the case since `since`.
    ///
    /// # Errors
    /// SQL errors.
    fn outbound_of_case_since(
        &self,
        case_id: i64,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let r = self.db.query_one(
            "SELECT COUNT(*) FROM outbox WHERE case_id = $1 AND created_at >= $2",
            &[&case_id, &ts(since)],
        )?;
        get(&r, 0)
    }

    /// Mail of every kind queued to this one address (a customer-side recipient) since `since`.
    ///
    /// # Errors
    /// SQL errors.
    fn outbound_to_since(&self, recipient: &str, since: DateTime<Utc>) -> Result<i64, StoreError> {
        let r = self.db.query_one(
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND created_at >= $2",
            &[&recipient, &ts(since)],
        )?;
        get(&r, 0)
    }

    /// Whether the case's outbox holds a message with this Message-ID.
    ///
    /// # Errors
    /// SQL errors.
    fn is_our_message_on_case(&self, case_id: i64, message_id: &str) -> Result<bool, StoreError> {
        let r = self.db.query_one(
            "SELECT EXISTS(SELECT 1 FROM outbox WHERE message_id = $1 AND case_id = $2)",
            &[&message_id, &case_id],
        )?;
        get(&r, 0)
    }

    /// Audit events `event` on the case since `since`.
    ///
    /// # Errors
    /// SQL errors.
    fn audit_count_since(
        &self,
        case_id: i64,
        event: AuditEvent,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let r = self.db.query_one(
            "SELECT COUNT(*) FROM audit WHERE case_id = $1 AND event = $2 AND at >= $3",
            &[&case_id, &event, &ts(since)],
        )?;
        get(&r, 0)
    }

    /// Whether the agents were sent the flood summary of this case.
    ///
    /// # Errors
    /// SQL errors.
    fn flood_summary_sent(&self, case_id: i64) -> Result<bool, StoreError> {
        let r = self.db.query_one(
            "SELECT EXISTS(SELECT 1 FROM audit WHERE case_id = $1 AND event = 'flood_summary')",
            &[&case_id],
        )?;
        get(&r, 0)
    }

    /// Records what a new case's first message looked like, for the flood caps (a case
    /// recorded already gets this row instead: SQLite's `INSERT OR REPLACE`, every column
    /// written).
    ///
    /// # Errors
    /// SQL errors.
    fn record_flood_key(
        &self,
        case_id: i64,
        sender: &str,
        domain: &str,
        text_key: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db.execute(
            "INSERT INTO flood_keys(case_id, sender, domain, text_key, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT(case_id) DO UPDATE SET sender = excluded.sender, domain = excluded.domain,
                text_key = excluded.text_key, created_at = excluded.created_at",
            &[&case_id, &sender, &domain, &text_key, &ts(now)],
        )?;
        Ok(())
    }

    /// Cases opened since `since` under this flood key, oldest first, at most `cap` of them:
    /// a cap of 5 reads at most 5 rows however many a busy domain opened, enough to tell
    /// whether the cap is reached and which case to join.
    ///
    /// The `cap` rows are the oldest by (created_at, case_id): the order SQLite reads them in
    /// along the key's index (whose rows end with the rowid, case_id), written out here as
    /// PostgreSQL promises no order without ORDER BY. A negative cap is no limit, as in
    /// SQLite (PostgreSQL refuses a negative LIMIT; `LIMIT NULL` is none).
    ///
    /// # Errors
    /// SQL errors.
    fn flood_cases(
        &self,
        key: FloodKey<'_>,
        since: DateTime<Utc>,
        cap: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let since = ts(since);
        let cap = (cap >= 0).then_some(cap);
        let rows = match key {
            FloodKey::Sender(sender) => self.db.query(
                "SELECT case_id FROM flood_keys WHERE sender = $1 AND created_at >= $2
                 ORDER BY created_at, case_id LIMIT $3",
                &[&sender, &since, &cap],
            )?,
            FloodKey::Text { domain, text_key } => self.db.query(
                "SELECT case_id FROM flood_keys WHERE domain = $1 AND text_key = $2 AND created_at >= $3
                 ORDER BY created_at, case_id LIMIT $4",
                &[&domain, &text_key, &since, &cap],
            )?,
            FloodKey::Domain(domain) => self.db.query(
                "SELECT case_id FROM flood_keys WHERE domain = $1 AND created_at >= $2
                 ORDER BY created_at, case_id LIMIT $3",
                &[&domain, &since, &cap],
            )?,
        };
        let mut ids = rows
            .iter()
            .map(|r| get::<i64>(r, 0))
            .collect::<Result<Vec<_>, _>>()?;
        ids.sort_unstable();
        Ok(ids)
    }
}

impl GuardOps for PgStore {
    /// An admin resumes a case stopped as a loop: it relays again, and the guard counts only
    /// what comes after `now`. Returns `None` when the case was not stopped, else how many
    /// agent answers were held (stored, not sent) while it was.
    ///
    /// # Errors
    /// SQL errors.
    fn resume_loop(
        &mut self,
        case_id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        self.write(|tx| {
            let Some(stop) = tx.loop_state(case_id)?.stop else {
                return Ok(None);
            };
            // SQLite counts `json_extract(detail, '$.kind') = 'agent_reply'`. The details are
            // read here and their JSON parsed by serde_json, not by PostgreSQL: `json` and
            // `jsonb` refuse a `\u0000` escape (which a serialized error text may hold)
            // anywhere in the text, where SQLite (and serde_json) take it. A detail that is
            // not JSON fails the statement in SQLite: here it is a data error.
            let details = tx.db.query(
                "SELECT detail FROM audit WHERE case_id = $1 AND event = 'not_sent' AND at >= $2",
                &[&case_id, &ts(stop.stopped_at)],
            )?;
            let mut held: i64 = 0;
            for r in &details {
                let detail: String = get(r, 0)?;
                let v: serde_json::Value = serde_json::from_str(&detail).map_err(|e| {
                    StoreError::Data(format!("column audit.detail holds {detail:?}: {e}"))
                })?;
                if v.get("kind").and_then(serde_json::Value::as_str) == Some("agent_reply") {
                    held += 1;
                }
            }
            tx.db.execute(
                "UPDATE loop_stops SET stopped_at = NULL, resumed_at = $2, resumed_by = $3 WHERE case_id = $1",
                &[&case_id, &ts(now), &actor],
            )?;
            tx.audit(
                Some(case_id),
                now,
                actor,
                AuditEvent::LoopResumed,
                &serde_json::json!({"stopped_at": ts(stop.stopped_at), "reason": stop.reason, "held_agent_answers": held}),
            )?;
            Ok(Some(held))
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::tests::fresh;
    use super::*;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, h, 0, 0).unwrap()
    }

    fn new_case(s: &PgStore, reference: &str) -> i64 {
        s.db()
            .query_one(
                "INSERT INTO cases(reference, status, category, priority, subject, customer_address,
                                   created_at, updated_at)
                 VALUES ($1, 'new', 'general', 'normal', 'Order', 'c@example.org', $2, $2)
                 RETURNING id",
                &[&reference, &ts(at(1))],
            )
            .unwrap()
            .get(0)
    }

    /// A message row as the pipeline stores it, the fields the guards read set.
    fn message(
        s: &PgStore,
        case: i64,
        h: u32,
        role: Option<&str>,
        outcome: &str,
        body: &str,
        reply: Option<&str>,
    ) {
        let n: i64 = s
            .db()
            .query_one("SELECT COUNT(*) FROM messages", &[])
            .unwrap()
            .get(0);
        s.db()
            .execute(
                "INSERT INTO messages(case_id, dedupe_id, content_hash, subject, received_at, body_text,
                                      attachments, outcome, raw_size, reply_text, role)
                 VALUES ($1, $2, $2, 's', $3, $4, '[]', $5, 0, $6, $7)",
                &[&case, &format!("<m{n}@x>"), &ts(at(h)), &body, &outcome, &reply, &role],
            )
            .unwrap();
    }

    fn outbox(s: &PgStore, case: i64, message_id: &str, recipient: &str, h: u32) {
        s.db()
            .execute(
                "INSERT INTO outbox(case_id, kind, automatic, message_id, envelope_from, recipient,
                                    subject, body, status, next_attempt_at, created_at)
                 VALUES ($1, 'reply', 0, $2, 'support@example.com', $3, 'Re', '\\x00'::bytea,
                         'sent', $4, $4)",
                &[&case, &message_id, &recipient, &ts(at(h))],
            )
            .unwrap();
    }

    fn audit(s: &PgStore, case: i64, h: u32, event: &str, detail: &str) {
        s.db()
            .execute(
                "INSERT INTO audit(case_id, at, actor, event, detail) VALUES ($1, $2, 'system', $3, $4)",
                &[&case, &ts(at(h)), &event, &detail],
            )
            .unwrap();
    }

    #[test]
    fn a_loop_stop_keeps_its_first_stop_and_a_resume_counts_held_answers() {
        let Some(mut s) = fresh() else { return };
        let case = new_case(&s, "C-1");
        let other = new_case(&s, "C-2");
        s.write(|tx| {
            assert_eq!(tx.loop_state(case)?, LoopState::default());
            tx.stop_loop(case, "fast", at(2))?;
            tx.stop_loop(case, "faster", at(3))?;
            Ok(())
        })
        .unwrap();
        let stopped = LoopStop {
            stopped_at: at(2),
            reason: "fast".into(),
        };
        assert_eq!(
            s.write(|tx| tx.loop_state(case)).unwrap(),
            LoopState {
                stop: Some(stopped.clone()),
                resumed_at: None
            }
        );
        // Held agent answers while stopped: kind agent_reply, at or after the stop; others
        // are not counted. One detail holds a \u0000 escape (an error text), which
        // PostgreSQL's JSON types refuse.
        audit(&s, case, 1, "not_sent", r#"{"kind":"agent_reply"}"#);
        audit(&s, case, 2, "not_sent", r#"{"kind":"agent_reply"}"#);
        audit(
            &s,
            case,
            4,
            "not_sent",
            r#"{"kind":"agent_reply","error":"a\u0000b"}"#,
        );
        audit(&s, case, 4, "not_sent", r#"{"kind":"ack"}"#);
        audit(&s, case, 4, "not_sent", r#"[1, 2]"#);
        audit(&s, case, 4, "status", r#"{"kind":"agent_reply"}"#);
        audit(&s, other, 4, "not_sent", r#"{"kind":"agent_reply"}"#);
        assert_eq!(s.resume_loop(other, "admin", at(5)).unwrap(), None);
        assert_eq!(s.resume_loop(case, "admin", at(5)).unwrap(), Some(2));
        assert_eq!(
            s.write(|tx| tx.loop_state(case)).unwrap(),
            LoopState {
                stop: None,
                resumed_at: Some(at(5))
            }
        );
        assert_eq!(s.resume_loop(case, "admin", at(6)).unwrap(), None);
        let (by, detail): (Option<String>, String) = {
            let r = s
                .db()
                .query_one(
                    "SELECT l.resumed_by, a.detail FROM loop_stops l
                     JOIN audit a ON a.case_id = l.case_id AND a.event = 'loop_resumed'",
                    &[],
                )
                .unwrap();
            (r.get(0), r.get(1))
        };
        assert_eq!(by.as_deref(), Some("admin"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&detail).unwrap(),
            serde_json::json!({"stopped_at": ts(at(2)), "reason": "fast", "held_agent_answers": 2})
        );
        // Stopped again after a resume: the new stop is recorded.
        s.write(|tx| tx.stop_loop(case, "again", at(7))).unwrap();
        let st = s.write(|tx| tx.loop_state(case)).unwrap();
        assert_eq!(
            st.stop,
            Some(LoopStop {
                stopped_at: at(7),
                reason: "again".into()
            })
        );
        assert_eq!(st.resumed_at, Some(at(5)));
        // A stored time that does not parse names its column.
        s.db()
            .execute("UPDATE loop_stops SET resumed_at = 'soon'", &[])
            .unwrap();
        match s.write(|tx| tx.loop_state(case)) {
            Err(StoreError::Data(e)) => assert!(e.contains("loop_stops.resumed_at"), "{e}"),
            other => panic!("expected a data error, got {other:?}"),
        }
    }

    #[test]
    fn the_loop_guard_counts_messages_texts_mail_and_audits() {
        let Some(mut s) = fresh() else { return };
        let case = new_case(&s, "C-1");
        let other = new_case(&s, "C-2");
        message(&s, case, 1, Some("customer"), "new_case", "hello", None);
        message(&s, case, 2, Some("customer"), "appended", "hello", None);
        message(
            &s,
            case,
            2,
            Some("cc"),
            "appended",
            "quoted hello",
            Some("hello"),
        );
        message(&s, case, 3, Some("agent"), "agent_reply", "hi", Some(""));
        message(&s, case, 3, Some("manager"), "agent_reply", "hello", None);
        message(&s, case, 3, None, "robot", "hello", None);
        message(&s, case, 4, Some("customer"), "flood_joined", "hello", None);
        message(&s, other, 4, Some("customer"), "appended", "hello", None);
        outbox(&s, case, "<o1@us>", "c@example.org", 1);
        outbox(&s, case, "<o2@us>", "c@example.org", 2);
        outbox(&s, other, "<o3@us>", "c@example.org", 3);
        outbox(&s, other, "<o4@us>", "d@example.org", 3);
        audit(&s, case, 1, "loop_stopped", "{}");
        audit(&s, case, 2, "loop_stopped", "{}");
        audit(&s, other, 2, "flood_summary", "{}");
        s.write(|tx| {
            assert_eq!(tx.messages_by_side_since(case, at(2))?, (2, 2));
            assert_eq!(tx.messages_by_side_since(case, at(1))?, (3, 2));
            assert_eq!(tx.messages_by_side_since(case, at(5))?, (0, 0));
            // Every message counts here, a robot's and a flood-joined one too.
            assert_eq!(tx.same_text_on_case_since(case, "hello", at(2))?, 5);
            assert_eq!(tx.same_text_on_case_since(case, "hello", at(1))?, 6);
            assert_eq!(tx.same_text_on_case_since(case, "hi", at(1))?, 1);
            assert_eq!(tx.same_text_on_case_since(case, "quoted hello", at(1))?, 0);
            assert_eq!(tx.outbound_of_case_since(case, at(1))?, 2);
            assert_eq!(tx.outbound_of_case_since(case, at(2))?, 1);
            assert_eq!(tx.outbound_of_case_since(other, at(4))?, 0);
            assert_eq!(tx.outbound_to_since("c@example.org", at(2))?, 2);
            assert_eq!(tx.outbound_to_since("C@example.org", at(1))?, 0);
            assert!(tx.is_our_message_on_case(case, "<o1@us>")?);
            assert!(!tx.is_our_message_on_case(other, "<o1@us>")?);
            assert_eq!(
                tx.audit_count_since(case, AuditEvent::LoopStopped, at(1))?,
                2
            );
            assert_eq!(
                tx.audit_count_since(case, AuditEvent::LoopStopped, at(2))?,
                1
            );
            assert_eq!(
                tx.audit_count_since(other, AuditEvent::LoopStopped, at(1))?,
                0
            );
            assert!(tx.flood_summary_sent(other)?);
            assert!(!tx.flood_summary_sent(case)?);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn flood_keys_are_replaced_and_the_oldest_cases_under_a_key_come_first() {
        let Some(mut s) = fresh() else { return };
        let cases: Vec<i64> = (0..6).map(|i| new_case(&s, &format!("C-{i}"))).collect();
        s.write(|tx| {
            // Recorded out of id order: case 5 is the oldest.
            tx.record_flood_key(cases[5], "a@spam.test", "spam.test", "k1", at(1))?;
            tx.record_flood_key(cases[1], "a@spam.test", "spam.test", "k1", at(2))?;
            tx.record_flood_key(cases[0], "a@spam.test", "spam.test", "k2", at(3))?;
            tx.record_flood_key(cases[2], "b@spam.test", "spam.test", "k1", at(3))?;
            tx.record_flood_key(cases[3], "c@other.test", "other.test", "k1", at(4))?;
            // Recorded twice: the second row replaces the first.
            tx.record_flood_key(cases[4], "x@old.test", "old.test", "k0", at(1))?;
            tx.record_flood_key(cases[4], "b@spam.test", "spam.test", "k1", at(5))?;
            Ok(())
        })
        .unwrap();
        let n: i64 = s
            .db()
            .query_one("SELECT COUNT(*) FROM flood_keys", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 6);
        s.write(|tx| {
            let sender = FloodKey::Sender("a@spam.test");
            assert_eq!(tx.flood_cases(sender, at(1), 10)?, {
                let mut v = vec![cases[5], cases[1], cases[0]];
                v.sort_unstable();
                v
            });
            // The two oldest, then sorted by id.
            assert_eq!(tx.flood_cases(sender, at(1), 2)?, vec![cases[1], cases[5]]);
            assert_eq!(tx.flood_cases(sender, at(2), 10)?, vec![cases[0], cases[1]]);
            assert_eq!(tx.flood_cases(sender, at(1), -1)?.len(), 3);
            assert!(tx.flood_cases(sender, at(1), 0)?.is_empty());
            let text = FloodKey::Text {
                domain: "spam.test",
                text_key: "k1",
            };
            assert_eq!(tx.flood_cases(text, at(1), 2)?, vec![cases[1], cases[5]]);
            assert_eq!(tx.flood_cases(text, at(3), 10)?, vec![cases[2], cases[4]]);
            let domain = FloodKey::Domain("spam.test");
            assert_eq!(tx.flood_cases(domain, at(1), 10)?.len(), 5);
            // Two cases at 3:00: the lower id is the older.
            assert_eq!(tx.flood_cases(domain, at(3), 1)?, vec![cases[0]]);
            assert!(tx
                .flood_cases(FloodKey::Domain("old.test"), at(1), 10)?
                .is_empty());
            Ok(())
        })
        .unwrap();
    }
}
