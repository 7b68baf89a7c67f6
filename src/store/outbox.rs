//! The durable outbox: queued mail, its sending state and the threads it continues.

use chrono::{DateTime, Utc};

use super::*;

/// An outbound message about to be queued; `body` is the complete RFC 5322 message.
#[derive(Debug, Clone)]
pub struct NewOutbound<'a> {
    pub case_id: Option<i64>,
    pub kind: OutboundKind,
    pub automatic: bool,
    pub message_id: &'a str,
    pub envelope_from: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a [u8],
    pub now: DateTime<Utc>,
    /// Whose mail thread this message continues.
    pub audience: Audience,
}

/// A queued outbound message, as the outbox worker sees it.
#[derive(Debug, Clone)]
pub struct OutboundRow {
    pub id: i64,
    pub case_id: Option<i64>,
    pub kind: OutboundKind,
    pub automatic: bool,
    pub message_id: String,
    pub envelope_from: String,
    /// Every recipient, comma-separated: the customer and the participants in Cc.
    pub recipient: String,
    pub body: Vec<u8>,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// A queued or sent outbound message (without its body), for status views and tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutboxStatus {
    pub id: i64,
    pub case_id: Option<i64>,
    pub kind: OutboundKind,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub status: OutboundState,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(serialize_with = "ser_ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub sent_at: Option<DateTime<Utc>>,
    pub audience: Audience,
}

/// Queries of this room (see the module doc).
pub trait OutboxReads {
    /// When the next pending row falls due, to sleep until then.
    ///
    /// # Errors
    /// SQL errors.
    fn next_outbound_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Messages of every kind sent since `since` (for the circuit breaker).
    ///
    /// # Errors
    /// SQL errors.
    fn sent_since(&self, since: DateTime<Utc>) -> Result<i64, StoreError>;

    /// Outbound rows of a case (or all when `case_id` is None), oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn outbox(&self, case_id: Option<i64>) -> Result<Vec<OutboxStatus>, StoreError>;
}

/// Writes of this room, inside one transaction ([`Store::write`]).
pub trait OutboxWrites {
    /// Marks outbound rows sent, in one transaction.
    ///
    /// # Errors
    /// SQL errors.
    fn mark_sent(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Records a failed attempt: retry at `next` or, when `next` is None, give up.
    ///
    /// # Errors
    /// SQL errors.
    fn mark_attempt_failed(
        &self,
        row: &OutboundRow,
        error: &str,
        next: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Queues an outbound message; the worker sends it after this transaction commits.
    ///
    /// # Errors
    /// SQL errors.
    fn enqueue(&self, o: &NewOutbound<'_>) -> Result<i64, StoreError>;

    /// Sets the participants a queued customer message also goes to (its Cc).
    ///
    /// # Errors
    /// SQL errors.
    fn set_outbound_cc(&self, id: i64, cc: &[String]) -> Result<(), StoreError>;

    /// The Message-IDs of one side's mail thread of a case, oldest first: what we sent to that
    /// audience and what that side sent us. Replies continue this chain (In-Reply-To the
    /// last, References the chain), so each mail client shows the case as one thread.
    /// Messages moved in by a merge are not part of it (see `CaseWrites::merge_case`).
    ///
    /// # Errors
    /// SQL errors.
    fn thread_ids(&self, case_id: i64, audience: Audience) -> Result<Vec<String>, StoreError>;

    /// Messages of `kind` queued to `recipient` since `since` (for per-sender caps).
    ///
    /// # Errors
    /// SQL errors.
    fn count_outbound_to(
        &self,
        recipient: &str,
        kind: OutboundKind,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
}

/// Operations of this room outside a caller's transaction (each is its own).
pub trait OutboxOps {
    /// The rows this process is to send now: due pending rows, oldest first, at most
    /// `limit`, leaving out the ids in `except` (in flight here). An engine that several
    /// daemons share hands each row to one of them (a row lock and a claim that expires, so a
    /// dead daemon's rows go to another). The SQLite engine records no claim: its database
    /// has one daemon, which alone sends.
    ///
    /// # Errors
    /// SQL errors.
    fn claim_due_outbound(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        except: &std::collections::HashSet<i64>,
    ) -> Result<Vec<OutboundRow>, StoreError>;

    /// Marks pending customer mail to an address that bounced on its case as failed (it would
    /// only bounce again); returns how many rows.
    ///
    /// # Errors
    /// SQL errors.
    fn drop_undeliverable(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Delays all pending mail (circuit breaker) until `until`: relayed answers too, since a
    /// loop between two auto-responders is made of mail that does not look automatic.
    ///
    /// # Errors
    /// SQL errors.
    fn defer_pending(&mut self, until: DateTime<Utc>) -> Result<usize, StoreError>;
}
