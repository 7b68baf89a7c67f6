//! The PostgreSQL implementation of [`crate::store::outbox`].
//!
//! Unlike SQLite's, several daemons share this database and each runs an outbox worker: due
//! rows are CLAIMED ([`OutboxOps::claim_due_outbound`]: `FOR UPDATE SKIP LOCKED` and a claim
//! that lapses after [`CLAIM_TTL`]), and recording a row's result (sent, failed, retry
//! scheduled, deferred) clears its claim in the same UPDATE.

use chrono::{DateTime, Utc};

use super::values::{col, col_opt, flag, get, stored_flag};
use super::*;
use crate::store::outbox::*;

/// Pending customer mail to an address that bounced on its case, in PostgreSQL's dialect.
/// (`UNDELIVERABLE_PENDING`, shared with SQLite, says `CROSS JOIN … ON`, which PostgreSQL
/// refuses; this is the same join and the same rows.)
const UNDELIVERABLE_PENDING_PG: &str = "SELECT o.id FROM participants p
     JOIN outbox o ON o.case_id = p.case_id AND o.recipient = p.address
     WHERE p.undeliverable = 1 AND o.status = 'pending' AND o.audience = 'customer'";

impl OutboxReads for PgReader<'_> {
    /// When the next pending row falls due, to sleep until then.
    ///
    /// # Errors
    /// SQL errors.
    ///
    /// A row another daemon claimed is due when its claim lapses (if it is not recorded
    /// before): not before, or every daemon but the sender would wake at once, again and
    /// again, for a row it cannot take.
    fn next_outbound_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let r = self.db.query_one(
            "SELECT MIN(GREATEST(next_attempt_at, claimed_until)) FROM outbox WHERE status = 'pending'",
            &[],
        )?;
        let s: Option<String> = get(&r, 0)?;
        Ok(s.as_deref().and_then(parse_ts))
    }

    /// Messages of every kind sent since `since` (for the circuit breaker).
    ///
    /// # Errors
    /// SQL errors.
    fn sent_since(&self, since: DateTime<Utc>) -> Result<i64, StoreError> {
        // `automatic IN (0, 1)` lets the (automatic, sent_at) index serve it.
        let r = self.db.query_one(
            "SELECT COUNT(*) FROM outbox WHERE automatic IN (0, 1) AND status = 'sent' AND sent_at >= $1",
            &[&ts(since)],
        )?;
        get(&r, 0)
    }

    /// Outbound rows of a case (or all when `case_id` is None), oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn outbox(&self, case_id: Option<i64>) -> Result<Vec<OutboxStatus>, StoreError> {
        let rows = self.db.query(
            "SELECT id, case_id, kind, message_id, recipient, subject, status, attempts, last_error, created_at, sent_at,
                    audience
             FROM outbox WHERE ($1::BIGINT IS NULL OR case_id = $1) ORDER BY id",
            &[&case_id],
        )?;
        rows.iter()
            .map(|r| {
                Ok(OutboxStatus {
                    id: get(r, 0)?,
                    case_id: get(r, 1)?,
                    kind: col(r, 2)?,
                    message_id: get(r, 3)?,
                    recipient: get(r, 4)?,
                    subject: get(r, 5)?,
                    status: col(r, 6)?,
                    attempts: get(r, 7)?,
                    last_error: get(r, 8)?,
                    created_at: col(r, 9)?,
                    sent_at: col_opt(r, 10)?,
                    audience: col(r, 11)?,
                })
            })
            .collect()
    }
}

impl OutboxWrites for PgTx<'_> {
    /// Marks outbound rows sent, in one transaction (and releases their claims).
    ///
    /// # Errors
    /// SQL errors.
    fn mark_sent(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        let now = ts(now);
        for id in ids {
            self.db.execute(
                "UPDATE outbox SET status = 'sent', sent_at = $2, attempts = attempts + 1, last_error = NULL,
                     claimed_by = NULL, claimed_until = NULL
                 WHERE id = $1",
                &[id, &now],
            )?;
        }
        Ok(())
    }

    /// Records a failed attempt: retry at `next` or, when `next` is None, give up (either way
    /// the row's claim is released).
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
            Some(n) => {
                self.db.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3,
                         claimed_by = NULL, claimed_until = NULL
                     WHERE id = $1",
                    &[&row.id, &error, &ts(n)],
                )?;
            }
            None => {
                self.db.execute(
                    "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = $2,
                         claimed_by = NULL, claimed_until = NULL
                     WHERE id = $1",
                    &[&row.id, &error],
                )?;
                self.audit(
                    row.case_id,
                    now,
                    "system",
                    AuditEvent::OutboundFailed,
                    &serde_json::json!({"kind": row.kind, "message_id": row.message_id, "error": error}),
                )?;
            }
        }
        Ok(())
    }

    /// Queues an outbound message; the worker sends it after this transaction commits.
    ///
    /// # Errors
    /// SQL errors.
    fn enqueue(&self, o: &NewOutbound<'_>) -> Result<i64, StoreError> {
        let r = self.db.query_one(
            "INSERT INTO outbox(case_id, kind, automatic, message_id, envelope_from, recipient, subject, body,
                                status, next_attempt_at, created_at, audience)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9, $10)
             RETURNING id",
            &[
                &o.case_id,
                &o.kind,
                &stored_flag(o.automatic),
                &o.message_id,
                &o.envelope_from,
                &o.recipient,
                &o.subject,
                &o.body,
                &ts(o.now),
                &o.audience,
            ],
        )?;
        get(&r, 0)
    }

    fn set_outbound_cc(&self, id: i64, cc: &[String]) -> Result<(), StoreError> {
        let cc = (!cc.is_empty()).then(|| cc.join(","));
        self.db
            .execute("UPDATE outbox SET cc = $2 WHERE id = $1", &[&id, &cc])?;
        Ok(())
    }

    /// The Message-IDs of one side's mail thread of a case, oldest first: what we sent to that
    /// audience and what that side sent us. Replies continue this chain (In-Reply-To the
    /// last, References the chain), so each mail client shows the case as one thread.
    ///
    /// # Errors
    /// SQL errors.
    fn thread_ids(&self, case_id: i64, audience: Audience) -> Result<Vec<String>, StoreError> {
        let rows = self.db.query(
            // At the same instant (one batch), what came in precedes what we sent in answer.
            "SELECT message_id, at FROM (
                 SELECT message_id, created_at AS at, 1 AS side, id AS o FROM outbox
                  WHERE case_id = $1 AND audience = $2::TEXT
                 UNION ALL
                 SELECT message_id, received_at AS at, 0 AS side, id AS o FROM messages
                  WHERE case_id = $1 AND message_id IS NOT NULL AND robot IS NULL
                    AND merged_from IS NULL
                    AND (role = $2::TEXT OR ($2::TEXT = 'customer' AND role = 'cc')
                         OR ($2::TEXT = 'agent' AND role = 'manager'))
             ) AS thread ORDER BY at, side, o",
            &[&case_id, &audience],
        )?;
        rows.iter().map(|r| get::<String>(r, 0)).collect()
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
        let r = self.db.query_one(
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND kind = $2 AND created_at >= $3",
            &[&recipient, &kind, &ts(since)],
        )?;
        get(&r, 0)
    }
}

impl OutboxOps for PgStore {
    /// The rows this daemon is to send now, claimed for it: due pending rows, oldest first,
    /// at most `limit`, leaving out the ids in `except` (in flight here) and rows another
    /// daemon claimed until later than `now`. One statement, its own transaction, without
    /// the write lock: rows another daemon is claiming at the same moment are skipped
    /// (`FOR UPDATE SKIP LOCKED`), so no row goes to two daemons; a claim lapses
    /// [`CLAIM_TTL`] after `now`, so a dead daemon's rows go to another.
    ///
    /// # Errors
    /// SQL errors.
    fn claim_due_outbound(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        except: &std::collections::HashSet<i64>,
    ) -> Result<Vec<OutboundRow>, StoreError> {
        let ttl = chrono::Duration::from_std(CLAIM_TTL)
            .map_err(|e| StoreError::Data(format!("CLAIM_TTL: {e}")))?;
        // Claims of a daemon of this machine that no longer runs (kill -9, OOM) lapse at
        // once, as its leases do: its rows need not wait out the claim.
        let holders = self.db.query(
            "SELECT DISTINCT claimed_by FROM outbox
             WHERE status = 'pending' AND claimed_by IS NOT NULL AND claimed_by <> $1 AND claimed_until > $2",
            &[&self.holder, &ts(now)],
        )?;
        for h in holders {
            let h: String = get(&h, 0)?;
            if crate::store::leases::holder_is_dead(&h) {
                self.db.execute(
                    "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
                     WHERE status = 'pending' AND claimed_by = $1",
                    &[&h],
                )?;
            }
        }
        let except: Vec<i64> = except.iter().copied().collect();
        let rows = self.db.query(
            "WITH claimed AS (
                 UPDATE outbox SET claimed_by = $2, claimed_until = $3
                 WHERE id IN (
                     SELECT id FROM outbox
                     WHERE status = 'pending' AND next_attempt_at <= $1
                       AND (claimed_until IS NULL OR claimed_until <= $1 OR claimed_by = $2)
                       AND NOT (id = ANY($4))
                     ORDER BY next_attempt_at, id LIMIT $5
                     FOR UPDATE SKIP LOCKED)
                 RETURNING id, case_id, kind, automatic, message_id, envelope_from,
                           CASE WHEN cc IS NULL THEN recipient ELSE recipient || ',' || cc END AS recipients,
                           body, attempts, created_at, next_attempt_at)
             SELECT id, case_id, kind, automatic, message_id, envelope_from, recipients, body, attempts,
                    created_at
             FROM claimed ORDER BY next_attempt_at, id",
            &[
                &ts(now),
                &self.holder,
                &ts(now + ttl),
                &except,
                &(limit as i64),
            ],
        )?;
        rows.iter()
            .map(|r| {
                Ok(OutboundRow {
                    id: get(r, 0)?,
                    case_id: get(r, 1)?,
                    kind: col(r, 2)?,
                    automatic: flag(r, 3)?,
                    message_id: get(r, 4)?,
                    envelope_from: get(r, 5)?,
                    recipient: get(r, 6)?,
                    body: get(r, 7)?,
                    attempts: get(r, 8)?,
                    created_at: col(r, 9)?,
                })
            })
            .collect()
    }

    /// Marks pending customer mail to an address that bounced on its case as failed (it would
    /// only bounce again), releasing its claims; returns how many rows.
    ///
    /// # Errors
    /// SQL errors.
    fn drop_undeliverable(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        // Asked first with a read, which does not wait for a writer: the UPDATE would take
        // the write lock even when nothing matches, once per outbox round. Both go through
        // the same rows (UNDELIVERABLE_PENDING_PG).
        let any: bool = get(
            &self
                .db
                .query_one(&format!("SELECT EXISTS({UNDELIVERABLE_PENDING_PG})"), &[])?,
            0,
        )?;
        if !any {
            return Ok(0);
        }
        let now = ts(now);
        let n = self.write(|tx| {
            tx.db.execute(
                &format!(
                    "UPDATE outbox SET status = 'failed', last_error = 'not sent: the address bounced (undeliverable)',
                         sent_at = NULL, next_attempt_at = $1, claimed_by = NULL, claimed_until = NULL
                     WHERE id IN ({UNDELIVERABLE_PENDING_PG})"
                ),
                &[&now],
            )
        })?;
        Ok(n as usize)
    }

    /// Delays all pending mail (circuit breaker) until `until`: relayed answers too, since a
    /// loop between two auto-responders is made of mail that does not look automatic. The
    /// deferred rows' claims are released.
    ///
    /// # Errors
    /// SQL errors.
    fn defer_pending(&mut self, until: DateTime<Utc>) -> Result<usize, StoreError> {
        let until = ts(until);
        let n = self.write(|tx| {
            tx.db.execute(
                "UPDATE outbox SET next_attempt_at = $1, claimed_by = NULL, claimed_until = NULL
                 WHERE status = 'pending' AND next_attempt_at < $1",
                &[&until],
            )
        })?;
        Ok(n as usize)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::HashSet;

    use chrono::TimeZone;

    use super::*;

    /// A fixed instant to build times from.
    pub(in crate::store::pg) fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    /// A case row (plain SQL: the cases room is ported on its own).
    pub(in crate::store::pg) fn new_case(s: &PgStore, reference: &str) -> i64 {
        get(
            &s.db()
                .query_one(
                    "INSERT INTO cases(reference, status, category, priority, subject, customer_address,
                                       created_at, updated_at)
                     VALUES ($1, 'new', 'general', 'normal', 'Help', 'c@example.org', $2, $2) RETURNING id",
                    &[&reference, &ts(t0())],
                )
                .unwrap(),
            0,
        )
        .unwrap()
    }

    pub(in crate::store::pg) fn mail<'a>(
        case_id: Option<i64>,
        message_id: &'a str,
        recipient: &'a str,
        now: DateTime<Utc>,
    ) -> NewOutbound<'a> {
        NewOutbound {
            case_id,
            kind: OutboundKind::Ack,
            automatic: true,
            message_id,
            envelope_from: "support@example.com",
            recipient,
            subject: "Your case",
            body: b"Subject: Your case\r\n\r\nhello\r\n",
            now,
            audience: Audience::Customer,
        }
    }

    fn claim(s: &PgStore, id: i64) -> (Option<String>, Option<String>) {
        let r = s
            .db()
            .query_one(
                "SELECT claimed_by, claimed_until FROM outbox WHERE id = $1",
                &[&id],
            )
            .unwrap();
        (get(&r, 0).unwrap(), get(&r, 1).unwrap())
    }

    fn secs(n: i64) -> chrono::Duration {
        chrono::Duration::seconds(n)
    }

    #[test]
    fn queue_claim_send_fail_and_read_back() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        s.set_holder("alpha");
        let case = new_case(&s, "C-1");
        let now = t0();
        assert_eq!(s.read().next_outbound_due().unwrap(), None);
        let (a, b, c) = s
            .write(|tx| {
                let a = tx.enqueue(&mail(Some(case), "<a@x>", "c@example.org", now))?;
                let mut m = mail(None, "<b@x>", "boss@example.org", now + secs(1));
                m.automatic = false;
                m.kind = OutboundKind::Digest;
                m.audience = Audience::Agent;
                let b = tx.enqueue(&m)?;
                let c = tx.enqueue(&mail(Some(case), "<c@x>", "c@example.org", now + secs(2)))?;
                tx.set_outbound_cc(a, &["p@example.org".into(), "q@example.org".into()])?;
                tx.set_outbound_cc(c, &["gone@example.org".into()])?;
                tx.set_outbound_cc(c, &[])?;
                Ok((a, b, c))
            })
            .unwrap();
        assert!(a < b && b < c);
        assert_eq!(s.read().next_outbound_due().unwrap(), Some(now));
        let all = s.read().outbox(None).unwrap();
        assert_eq!(all.iter().map(|o| o.id).collect::<Vec<_>>(), vec![a, b, c]);
        assert_eq!(all[0].kind, OutboundKind::Ack);
        assert_eq!(all[0].status, OutboundState::Pending);
        assert_eq!(all[0].created_at, now);
        assert_eq!(all[0].sent_at, None);
        assert_eq!(all[1].audience, Audience::Agent);
        assert_eq!(all[1].recipient, "boss@example.org");
        let of_case = s.read().outbox(Some(case)).unwrap();
        assert_eq!(of_case.iter().map(|o| o.id).collect::<Vec<_>>(), vec![a, c]);
        let n = s
            .write(|tx| tx.count_outbound_to("c@example.org", OutboundKind::Ack, now))
            .unwrap();
        assert_eq!(n, 2);
        let n = s
            .write(|tx| tx.count_outbound_to("c@example.org", OutboundKind::Ack, now + secs(1)))
            .unwrap();
        assert_eq!(n, 1);

        // Due at now + 2: all three, oldest first, with their Cc joined; `except` skipped.
        let got = s
            .claim_due_outbound(now + secs(2), 10, &HashSet::from([b]))
            .unwrap();
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a, c]);
        assert_eq!(
            got[0].recipient,
            "c@example.org,p@example.org,q@example.org"
        );
        assert_eq!(got[1].recipient, "c@example.org");
        assert!(got[0].automatic);
        assert_eq!(got[0].kind, OutboundKind::Ack);
        assert_eq!(got[0].body, b"Subject: Your case\r\n\r\nhello\r\n");
        assert_eq!(got[0].attempts, 0);
        assert_eq!(got[0].created_at, now);
        assert_eq!(got[0].envelope_from, "support@example.com");
        assert_eq!(got[0].message_id, "<a@x>");
        assert_eq!(got[0].case_id, Some(case));
        let until = ts(now + secs(2) + chrono::Duration::from_std(CLAIM_TTL).unwrap());
        assert_eq!(claim(&s, a), (Some("alpha".into()), Some(until.clone())));
        assert_eq!(claim(&s, b), (None, None));
        // The limit, and only what is due.
        let got = s.claim_due_outbound(now, 10, &HashSet::new()).unwrap();
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a]);
        let got = s
            .claim_due_outbound(now + secs(2), 2, &HashSet::new())
            .unwrap();
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a, b]);
        assert!(!got[1].automatic);

        // Sent: the claim goes.
        s.write(|tx| tx.mark_sent(&[a], now + secs(3))).unwrap();
        assert_eq!(claim(&s, a), (None, None));
        let st = &s.read().outbox(Some(case)).unwrap()[0];
        assert_eq!(st.status, OutboundState::Sent);
        assert_eq!(st.sent_at, Some(now + secs(3)));
        assert_eq!(st.attempts, 1);
        assert_eq!(s.read().sent_since(now + secs(3)).unwrap(), 1);
        assert_eq!(s.read().sent_since(now + secs(4)).unwrap(), 0);

        // A retry: attempts, error and the next time recorded, the claim gone.
        let rows = s
            .claim_due_outbound(now + secs(2), 10, &HashSet::new())
            .unwrap();
        assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![b, c]);
        assert!(claim(&s, b).0.is_some());
        s.write(|tx| tx.mark_attempt_failed(&rows[0], "451 later", Some(now + secs(60)), now))
            .unwrap();
        assert_eq!(claim(&s, b), (None, None));
        let st = s.read().outbox(None).unwrap();
        let sb = st.iter().find(|o| o.id == b).unwrap();
        assert_eq!(sb.status, OutboundState::Pending);
        assert_eq!(sb.attempts, 1);
        assert_eq!(sb.last_error.as_deref(), Some("451 later"));
        // c is due at +2 s but claimed (until +602 s): b's retry is the next due.
        assert_eq!(s.read().next_outbound_due().unwrap(), Some(now + secs(60)));
        // Given up: failed, audited, the claim gone.
        s.write(|tx| tx.mark_attempt_failed(&rows[1], "550 no", None, now + secs(5)))
            .unwrap();
        assert_eq!(claim(&s, c), (None, None));
        let st = s.read().outbox(None).unwrap();
        let sc = st.iter().find(|o| o.id == c).unwrap();
        assert_eq!(sc.status, OutboundState::Failed);
        assert_eq!(sc.last_error.as_deref(), Some("550 no"));
        let audit = s
            .db()
            .query_one(
                "SELECT case_id, at, actor, event, detail FROM audit WHERE event = 'outbound_failed'",
                &[],
            )
            .unwrap();
        assert_eq!(get::<Option<i64>>(&audit, 0).unwrap(), Some(case));
        assert_eq!(get::<String>(&audit, 1).unwrap(), ts(now + secs(5)));
        assert_eq!(get::<String>(&audit, 2).unwrap(), "system");
        let detail: serde_json::Value =
            serde_json::from_str(&get::<String>(&audit, 4).unwrap()).unwrap();
        assert_eq!(detail["message_id"], "<c@x>");
        assert_eq!(detail["error"], "550 no");
        assert_eq!(detail["kind"], "ack");
        assert_eq!(s.read().next_outbound_due().unwrap(), Some(now + secs(60)));
    }

    #[test]
    fn deferring_and_dropping_undeliverable_mail_release_claims() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        s.set_holder("alpha");
        let case = new_case(&s, "C-1");
        let now = t0();
        let (a, b, c) = s
            .write(|tx| {
                let a = tx.enqueue(&mail(Some(case), "<a@x>", "bounced@example.org", now))?;
                let mut m = mail(Some(case), "<b@x>", "bounced@example.org", now);
                m.audience = Audience::Agent;
                let b = tx.enqueue(&m)?;
                let c = tx.enqueue(&mail(Some(case), "<c@x>", "fine@example.org", now))?;
                Ok((a, b, c))
            })
            .unwrap();
        // Nothing bounced yet: nothing dropped.
        assert_eq!(s.drop_undeliverable(now).unwrap(), 0);
        s.db()
            .execute(
                "INSERT INTO participants(case_id, address, role, undeliverable, added_at)
                 VALUES ($1, 'bounced@example.org', 'customer', 1, $2),
                        ($1, 'fine@example.org', 'cc', 0, $2)",
                &[&case, &ts(now)],
            )
            .unwrap();
        assert_eq!(
            s.claim_due_outbound(now, 10, &HashSet::new())
                .unwrap()
                .len(),
            3
        );
        assert_eq!(s.drop_undeliverable(now + secs(1)).unwrap(), 1);
        assert_eq!(claim(&s, a), (None, None));
        assert!(claim(&s, b).0.is_some());
        let st = s.read().outbox(None).unwrap();
        assert_eq!(st[0].status, OutboundState::Failed);
        assert_eq!(
            st[0].last_error.as_deref(),
            Some("not sent: the address bounced (undeliverable)")
        );
        assert_eq!(st[1].status, OutboundState::Pending);
        assert_eq!(st[2].status, OutboundState::Pending);
        assert_eq!(s.drop_undeliverable(now + secs(1)).unwrap(), 0);

        // The breaker: pending rows due before `until` move to it, their claims released.
        assert_eq!(s.defer_pending(now + secs(600)).unwrap(), 2);
        assert_eq!(claim(&s, b), (None, None));
        assert_eq!(claim(&s, c), (None, None));
        assert_eq!(s.read().next_outbound_due().unwrap(), Some(now + secs(600)));
        assert_eq!(s.defer_pending(now + secs(600)).unwrap(), 0);
        assert!(s
            .claim_due_outbound(now + secs(599), 10, &HashSet::new())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_thread_of_each_side() {
        let Some(mut s) = super::super::tests::fresh() else {
            return;
        };
        let case = new_case(&s, "C-1");
        let other = new_case(&s, "C-2");
        let now = t0();
        let msg = |id: &str,
                   role: &str,
                   at: DateTime<Utc>,
                   robot: Option<&str>,
                   merged: Option<i64>| {
            s.db()
                .execute(
                    "INSERT INTO messages(case_id, dedupe_id, message_id, content_hash, subject, received_at,
                                          body_text, attachments, robot, outcome, raw_size, role, merged_from)
                     VALUES ($1, $2, $2, 'h', 's', $3, 'b', '[]', $4, 'new_case', 0, $5, $6)",
                    &[&case, &id, &ts(at), &robot, &role, &merged],
                )
                .unwrap();
        };
        msg("<in1@c>", "customer", now, None, None);
        msg("<cc1@c>", "cc", now + secs(2), None, None);
        msg("<robot@c>", "customer", now + secs(3), Some("auto"), None);
        msg("<merged@c>", "customer", now + secs(3), None, Some(other));
        msg("<agent1@c>", "agent", now + secs(4), None, None);
        msg("<mgr@c>", "manager", now + secs(5), None, None);
        s.write(|tx| {
            // At the same instant as the customer's first mail: after it.
            tx.enqueue(&mail(Some(case), "<ack@us>", "c@example.org", now))?;
            let mut m = mail(Some(case), "<new@us>", "agents@example.com", now + secs(1));
            m.audience = Audience::Agent;
            tx.enqueue(&m)?;
            Ok(())
        })
        .unwrap();
        let customer = s
            .write(|tx| tx.thread_ids(case, Audience::Customer))
            .unwrap();
        assert_eq!(customer, vec!["<in1@c>", "<ack@us>", "<cc1@c>"]);
        let agent = s.write(|tx| tx.thread_ids(case, Audience::Agent)).unwrap();
        assert_eq!(agent, vec!["<new@us>", "<agent1@c>", "<mgr@c>"]);
        assert!(s
            .write(|tx| tx.thread_ids(other, Audience::Customer))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn two_daemons_claiming_together_never_get_the_same_row() {
        let Some(db) = testing::create() else {
            eprintln!("SKIPPED: MAILCASE_TEST_PG_URL is not set (tests/pgserver/up.sh)");
            return;
        };
        let mut first = db.open().unwrap();
        first.set_holder("alpha");
        let mut second = db.open().unwrap();
        second.set_holder("beta");
        let now = t0();
        let ids: Vec<String> = (0..300).map(|i| format!("<m{i}@x>")).collect();
        let queued: HashSet<i64> = first
            .write(|tx| {
                ids.iter()
                    .enumerate()
                    .map(|(i, m)| {
                        tx.enqueue(&mail(None, m, "c@example.org", now - secs(i as i64 % 7)))
                    })
                    .collect()
            })
            .unwrap();
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let run = |mut s: PgStore, barrier: std::sync::Arc<std::sync::Barrier>| {
            std::thread::spawn(move || {
                let mut mine = HashSet::new();
                barrier.wait();
                loop {
                    let got = s.claim_due_outbound(now, 5, &mine).unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    for r in got {
                        assert!(mine.insert(r.id), "{} claimed twice by one daemon", r.id);
                    }
                }
            })
        };
        let a = run(first, barrier.clone());
        let b = run(second, barrier);
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        assert!(
            a.is_disjoint(&b),
            "rows claimed by both: {:?}",
            a.intersection(&b)
        );
        assert_eq!(a.union(&b).copied().collect::<HashSet<_>>(), queued);
        eprintln!("alpha claimed {}, beta {}", a.len(), b.len());
    }

    #[test]
    fn a_dead_daemons_claims_on_this_machine_lapse_at_once() {
        let Some(db) = testing::create() else {
            eprintln!("SKIPPED: MAILCASE_TEST_PG_URL is not set (tests/pgserver/up.sh)");
            return;
        };
        let me = crate::store::leases::holder_name();
        let ours = format!("pid {} on ", std::process::id());
        assert!(me.starts_with(&ours), "{me}");
        // A daemon of this machine that was killed (no such process), and one of another.
        let dead = me.replacen(&ours, "pid 4000000 on ", 1);
        let elsewhere = "pid 4000000 on another-host.example";
        let mut second = db.open().unwrap();
        second.set_holder(&me);
        let now = t0();
        let none = HashSet::new();
        let until = ts(now + chrono::Duration::from_std(CLAIM_TTL).unwrap());
        for (holder, mid) in [(dead.as_str(), "<d@x>"), (elsewhere, "<e@x>")] {
            let id = second
                .write(|tx| tx.enqueue(&mail(None, mid, "c@example.org", now)))
                .unwrap();
            // Claimed by that daemon before it went away.
            second
                .db()
                .execute(
                    "UPDATE outbox SET claimed_by = $1, claimed_until = $2 WHERE id = $3",
                    &[&holder, &until, &id],
                )
                .unwrap();
            assert_eq!(claim(&second, id).0.as_deref(), Some(holder));
        }
        // The dead holder's row is taken at once; the other machine's waits for its claim.
        let got = second.claim_due_outbound(now + secs(1), 10, &none).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].message_id, "<d@x>");
    }

    #[test]
    fn a_lapsed_claim_goes_to_another_daemon_and_a_result_clears_it() {
        let Some(db) = testing::create() else {
            eprintln!("SKIPPED: MAILCASE_TEST_PG_URL is not set (tests/pgserver/up.sh)");
            return;
        };
        let mut first = db.open().unwrap();
        first.set_holder("alpha");
        let mut second = db.open().unwrap();
        second.set_holder("beta");
        let now = t0();
        let ttl = chrono::Duration::from_std(CLAIM_TTL).unwrap();
        let id = first
            .write(|tx| tx.enqueue(&mail(None, "<a@x>", "c@example.org", now)))
            .unwrap();
        let none = HashSet::new();
        assert_eq!(first.claim_due_outbound(now, 10, &none).unwrap().len(), 1);
        assert_eq!(claim(&first, id).0.as_deref(), Some("alpha"));
        // Held by alpha: beta gets nothing until the claim lapses.
        assert!(second
            .claim_due_outbound(now, 10, &none)
            .unwrap()
            .is_empty());
        assert!(second
            .claim_due_outbound(now + ttl - secs(1), 10, &none)
            .unwrap()
            .is_empty());
        // Alpha may take its own row again (unless it says it is in flight).
        assert_eq!(
            first
                .claim_due_outbound(now + secs(1), 10, &none)
                .unwrap()
                .len(),
            1
        );
        assert!(first
            .claim_due_outbound(now + secs(1), 10, &HashSet::from([id]))
            .unwrap()
            .is_empty());
        let lapsed = now + secs(1) + ttl;
        let got = second.claim_due_outbound(lapsed, 10, &none).unwrap();
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), vec![id]);
        assert_eq!(
            claim(&first, id),
            (Some("beta".into()), Some(ts(lapsed + ttl)))
        );
        assert!(first
            .claim_due_outbound(lapsed + secs(1), 10, &none)
            .unwrap()
            .is_empty());
        // Beta's retry clears its claim: alpha can take the row when it is due again.
        second
            .write(|tx| tx.mark_attempt_failed(&got[0], "timeout", Some(lapsed + secs(10)), lapsed))
            .unwrap();
        assert_eq!(claim(&first, id), (None, None));
        let again = first
            .claim_due_outbound(lapsed + secs(10), 10, &none)
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        first
            .write(|tx| tx.mark_sent(&[id], lapsed + secs(11)))
            .unwrap();
        assert_eq!(claim(&first, id), (None, None));
        assert!(second
            .claim_due_outbound(lapsed + secs(1000), 10, &none)
            .unwrap()
            .is_empty());
    }
}
