//! The SQL of the loop and flood guards (`pipeline::guards`): how fast a case's conversation
//! runs, whether it was stopped, and how many cases a sender, a domain or one text opened.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{parse_ts, ts, Store, StoreError, Tx};

/// A case that stopped relaying because its conversation looked like a mail loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopStop {
    pub stopped_at: DateTime<Utc>,
    pub reason: String,
}

/// The cases opened since a time that share a flood key with a new message, read up to the
/// cap only (a cap of 5 reads at most 5 rows, however many a busy domain opened): enough to
/// tell whether the cap is reached, and which case to join.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FloodCount {
    pub count: i64,
    pub latest: Option<i64>,
    /// The cases, oldest first.
    pub ids: Vec<i64>,
}

impl Tx<'_> {
    /// The case's loop stop, if it is stopped now.
    ///
    /// # Errors
    /// SQL errors.
    pub fn loop_stop(&self, case_id: i64) -> Result<Option<LoopStop>, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT stopped_at, reason FROM loop_stops WHERE case_id = ?1 AND stopped_at IS NOT NULL",
        )?;
        let row: Option<(String, String)> = st
            .query_row([case_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.and_then(|(at, reason)| {
            parse_ts(&at).map(|stopped_at| LoopStop { stopped_at, reason })
        }))
    }

    /// When an admin last resumed the case after a loop stop: the guard counts only what
    /// came after it, or the same burst would stop the case again at once.
    ///
    /// # Errors
    /// SQL errors.
    pub fn loop_resumed_at(&self, case_id: i64) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut st = self
            .tx
            .prepare_cached("SELECT resumed_at FROM loop_stops WHERE case_id = ?1")?;
        let at: Option<Option<String>> = st.query_row([case_id], |r| r.get(0)).optional()?;
        Ok(at.flatten().as_deref().and_then(parse_ts))
    }

    /// Stops the case's relaying; false when it was already stopped.
    ///
    /// # Errors
    /// SQL errors.
    pub fn stop_loop(
        &self,
        case_id: i64,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self.tx.prepare_cached(
            "INSERT INTO loop_stops(case_id, stopped_at, reason) VALUES (?1, ?2, ?3)
             ON CONFLICT(case_id) DO UPDATE SET stopped_at = excluded.stopped_at, reason = excluded.reason
             WHERE loop_stops.stopped_at IS NULL",
        )?
        .execute(params![case_id, ts(now), reason])?;
        Ok(n > 0)
    }

    /// Messages stored on the case since `since` whose role is one of `roles`; mail a flood
    /// cap joined to the case is not counted (the flood caps hold it already).
    ///
    /// # Errors
    /// SQL errors.
    pub fn messages_on_case_since(
        &self,
        case_id: i64,
        roles: &[&str],
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE case_id = ?1 AND received_at >= ?2
             AND (role = ?3 OR role = ?4 OR role = ?5) AND outcome != 'flood_joined'",
        )?;
        let r = |i: usize| roles.get(i).copied().unwrap_or("");
        Ok(st.query_row(params![case_id, ts(since), r(0), r(1), r(2)], |r| r.get(0))?)
    }

    /// Messages stored on the case since `since` with this exact text.
    ///
    /// # Errors
    /// SQL errors.
    pub fn same_text_on_case_since(
        &self,
        case_id: i64,
        text: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE case_id = ?1 AND received_at >= ?2
             AND coalesce(reply_text, body_text) = ?3",
        )?;
        Ok(st.query_row(params![case_id, ts(since), text], |r| r.get(0))?)
    }

    /// Mail of every kind queued on the case since `since`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn outbound_of_case_since(
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
    pub fn outbound_to_since(
        &self,
        recipient: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT COUNT(*) FROM outbox WHERE recipient = ?1 AND created_at >= ?2",
        )?;
        Ok(st.query_row(params![recipient, ts(since)], |r| r.get(0))?)
    }

    /// Whether the case's outbox holds a message with this Message-ID.
    ///
    /// # Errors
    /// SQL errors.
    pub fn is_our_message_on_case(
        &self,
        case_id: i64,
        message_id: &str,
    ) -> Result<bool, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM outbox WHERE message_id = ?1 AND case_id = ?2)",
        )?;
        Ok(st.query_row(params![message_id, case_id], |r| r.get(0))?)
    }

    /// Audit events `event` on the case since `since`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn audit_count_since(
        &self,
        case_id: i64,
        event: &str,
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
    pub fn flood_summary_sent(&self, case_id: i64) -> Result<bool, StoreError> {
        let mut st = self.tx.prepare_cached(
            "SELECT EXISTS(SELECT 1 FROM audit WHERE case_id = ?1 AND event = 'flood_summary')",
        )?;
        Ok(st.query_row([case_id], |r| r.get(0))?)
    }

    /// Records what a new case's first message looked like, for the flood caps.
    ///
    /// # Errors
    /// SQL errors.
    pub fn record_flood_key(
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

    /// Cases opened since `since` by this sender (without its +tag), at most `cap`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn flood_by_sender(
        &self,
        sender: &str,
        since: DateTime<Utc>,
        cap: i64,
    ) -> Result<FloodCount, StoreError> {
        self.flood_count(
            "SELECT case_id FROM flood_keys WHERE sender = ?1 AND created_at >= ?2 LIMIT ?3",
            params![sender, ts(since), cap],
        )
    }

    /// Cases opened since `since` from this domain, at most `cap`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn flood_by_domain(
        &self,
        domain: &str,
        since: DateTime<Utc>,
        cap: i64,
    ) -> Result<FloodCount, StoreError> {
        self.flood_count(
            "SELECT case_id FROM flood_keys WHERE domain = ?1 AND created_at >= ?2 LIMIT ?3",
            params![domain, ts(since), cap],
        )
    }

    /// Cases opened since `since` from this domain with this text key, at most `cap`.
    ///
    /// # Errors
    /// SQL errors.
    pub fn flood_by_text(
        &self,
        domain: &str,
        text_key: &str,
        since: DateTime<Utc>,
        cap: i64,
    ) -> Result<FloodCount, StoreError> {
        self.flood_count(
            "SELECT case_id FROM flood_keys WHERE domain = ?1 AND text_key = ?2 AND created_at >= ?3 LIMIT ?4",
            params![domain, text_key, ts(since), cap],
        )
    }

    fn flood_count(&self, sql: &str, p: impl rusqlite::Params) -> Result<FloodCount, StoreError> {
        let mut st = self.tx.prepare_cached(sql)?;
        let mut ids: Vec<i64> = st.query_map(p, |r| r.get(0))?.collect::<Result<_, _>>()?;
        ids.sort_unstable();
        Ok(FloodCount {
            count: ids.len() as i64,
            latest: ids.last().copied(),
            ids,
        })
    }
}

impl Store {
    /// An admin resumes a case stopped as a loop: it relays again, and the guard counts only
    /// what comes after `now`. Returns `None` when the case was not stopped, else how many
    /// agent answers were held (stored, not sent) while it was.
    ///
    /// # Errors
    /// SQL errors.
    pub fn resume_loop(
        &mut self,
        case_id: i64,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        self.write(|tx| {
            let Some(stop) = tx.loop_stop(case_id)? else {
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
                "loop_resumed",
                &serde_json::json!({"stopped_at": ts(stop.stopped_at), "reason": stop.reason, "held_agent_answers": held}),
            )?;
            Ok(Some(held))
        })
    }
}
