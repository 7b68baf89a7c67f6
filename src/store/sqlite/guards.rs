//! The SQLite implementation of [`crate::store::guards`].

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::*;
use crate::store::guards::*;

impl GuardWrites for SqliteTx<'_> {
    /// The case's loop state in one read: its stop, if it is stopped now, and when an admin
    /// last resumed it (the guard counts only what came after that, or the same burst would
    /// stop the case again at once).
    ///
    /// # Errors
    /// SQL errors.
    fn loop_state(&self, case_id: i64) -> Result<LoopState, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT stopped_at, reason, resumed_at FROM loop_stops WHERE case_id = ?1",
        )?;
        let state = st
            .query_row([case_id], |r| {
                let stopped_at: Option<DateTime<Utc>> = col_opt(r, 0)?;
                let reason: String = r.get(1)?;
                Ok(LoopState {
                    stop: stopped_at.map(|stopped_at| LoopStop { stopped_at, reason }),
                    resumed_at: col_opt(r, 2)?,
                })
            })
            .optional()?;
        Ok(state.unwrap_or_default())
    }

    /// Stops the case's relaying (a case already stopped keeps its first stop).
    ///
    /// # Errors
    /// SQL errors.
    fn stop_loop(&self, case_id: i64, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx.prepare_cached(
            "INSERT INTO loop_stops(case_id, stopped_at, reason) VALUES (?1, ?2, ?3)
             ON CONFLICT(case_id) DO UPDATE SET stopped_at = excluded.stopped_at, reason = excluded.reason
             WHERE loop_stops.stopped_at IS NULL",
        )?
        .execute(params![case_id, ts(now), reason])?;
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
        let mut st = self.tx.prepare_cached(
            "SELECT coalesce(sum(role IN ('customer', 'cc')), 0), coalesce(sum(role IN ('agent', 'manager')), 0)
             FROM messages WHERE case_id = ?1 AND received_at >= ?2 AND outcome != 'flood_joined'",
        )?;
        Ok(st.query_row(params![case_id, ts(since)], |r| Ok((r.get(0)?, r.get(1)?)))?)
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
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE case_id = ?1 AND received_at >= ?2
             AND coalesce(nullif(reply_text, ''), body_text) = ?3",
        )?;
        Ok(st.query_row(params![case_id, ts(since), text], |r| r.get(0))?)
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
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM outbox WHERE case_id = ?1 AND created_at >= ?2",
        )?;
        Ok(st.query_row(params![case_id, ts(since)], |r| r.get(0))?)
    }

    /// Mail of every kind queued to this one address (a customer-side recipient) since `since`.
    ///
    /// # Errors
    /// SQL errors.
    fn outbound_to_since(&self, recipient: &str, since: DateTime<Utc>) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM outbox WHERE recipient = ?1 AND created_at >= ?2",
        )?;
        Ok(st.query_row(params![recipient, ts(since)], |r| r.get(0))?)
    }

    /// Whether the case's outbox holds a message with this Message-ID.
    ///
    /// # Errors
    /// SQL errors.
    fn is_our_message_on_case(&self, case_id: i64, message_id: &str) -> Result<bool, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM outbox WHERE message_id = ?1 AND case_id = ?2)",
        )?;
        Ok(st.query_row(params![message_id, case_id], |r| r.get(0))?)
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
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM audit WHERE case_id = ?1 AND event = ?2 AND at >= ?3",
        )?;
        Ok(st.query_row(params![case_id, event, ts(since)], |r| r.get(0))?)
    }

    /// Whether the agents were sent the flood summary of this case.
    ///
    /// # Errors
    /// SQL errors.
    fn flood_summary_sent(&self, case_id: i64) -> Result<bool, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM audit WHERE case_id = ?1 AND event = 'flood_summary')",
        )?;
        Ok(st.query_row([case_id], |r| r.get(0))?)
    }

    /// Records what a new case's first message looked like, for the flood caps.
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
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO flood_keys(case_id, sender, domain, text_key, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![case_id, sender, domain, text_key, ts(now)])?;
        Ok(())
    }

    /// Cases opened since `since` under this flood key, oldest first, at most `cap` of them:
    /// a cap of 5 reads at most 5 rows however many a busy domain opened, enough to tell
    /// whether the cap is reached and which case to join.
    ///
    /// # Errors
    /// SQL errors.
    fn flood_cases(
        &self,
        key: FloodKey<'_>,
        since: DateTime<Utc>,
        cap: i64,
    ) -> Result<Vec<i64>, StoreError> {
        use rusqlite::types::Value;
        let text = |s: &str| Value::Text(s.to_string());
        let (since, cap) = (Value::Text(ts(since)), Value::Integer(cap));
        let (sql, values) = match key {
            FloodKey::Sender(sender) => (
                "SELECT case_id FROM flood_keys WHERE sender = ?1 AND created_at >= ?2 LIMIT ?3",
                vec![text(sender), since, cap],
            ),
            FloodKey::Text { domain, text_key } => (
                "SELECT case_id FROM flood_keys WHERE domain = ?1 AND text_key = ?2 AND created_at >= ?3 LIMIT ?4",
                vec![text(domain), text(text_key), since, cap],
            ),
            FloodKey::Domain(domain) => (
                "SELECT case_id FROM flood_keys WHERE domain = ?1 AND created_at >= ?2 LIMIT ?3",
                vec![text(domain), since, cap],
            ),
        };
        let mut st = self.tx.prepare_cached(sql)?;
        let mut ids: Vec<i64> = st
            .query_map(rusqlite::params_from_iter(values), |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        ids.sort_unstable();
        Ok(ids)
    }
}

impl GuardOps for SqliteStore {
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
            let held: i64 = tx
                .tx
                .prepare_cached(
                    "SELECT COUNT(*) FROM audit WHERE case_id = ?1 AND event = 'not_sent' AND at >= ?2
                     AND json_extract(detail, '$.kind') = 'agent_reply'",
                )?
                .query_row(params![case_id, ts(stop.stopped_at)], |r| r.get(0))?;
            tx.tx
                .prepare_cached(
                    "UPDATE loop_stops SET stopped_at = NULL, resumed_at = ?2, resumed_by = ?3 WHERE case_id = ?1",
                )?
                .execute(params![case_id, ts(now), actor])?;
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
