//! The SQL of the loop and flood guards (`pipeline::guards`): how fast a case's conversation
//! runs, whether it was stopped, and how many cases a sender, a domain or one text opened.

use chrono::{DateTime, Utc};

use super::*;

/// A case that stopped relaying because its conversation looked like a mail loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopStop {
    pub stopped_at: DateTime<Utc>,
    pub reason: String,
}

/// A case's loop state: stopped now, and when an admin last resumed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoopState {
    pub stop: Option<LoopStop>,
    pub resumed_at: Option<DateTime<Utc>>,
}

/// What the flood caps count new cases by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodKey<'a> {
    /// The sender without its `+tag`.
    Sender(&'a str),
    /// The sender's domain and a key of the text.
    Text { domain: &'a str, text_key: &'a str },
    /// The sender's domain.
    Domain(&'a str),
}

/// Writes of this room, inside one transaction ([`Store::write`]).
pub trait GuardWrites {
    /// The case's loop state in one read: its stop, if it is stopped now, and when an admin
    /// last resumed it (the guard counts only what came after that, or the same burst would
    /// stop the case again at once).
    ///
    /// # Errors
    /// SQL errors.
    fn loop_state(&self, case_id: i64) -> Result<LoopState, StoreError>;

    /// Stops the case's relaying (a case already stopped keeps its first stop).
    ///
    /// # Errors
    /// SQL errors.
    fn stop_loop(&self, case_id: i64, reason: &str, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Messages stored on the case since `since` from the customer's side (customer, cc) and
    /// from the agents' side, in one read; mail a flood cap joined to the case is not counted
    /// (the flood caps hold it already).
    ///
    /// # Errors
    /// SQL errors.
    fn messages_by_side_since(
        &self,
        case_id: i64,
        since: DateTime<Utc>,
    ) -> Result<(i64, i64), StoreError>;

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
    ) -> Result<i64, StoreError>;

    /// Mail of every kind queued on the case since `since`.
    ///
    /// # Errors
    /// SQL errors.
    fn outbound_of_case_since(&self, case_id: i64, since: DateTime<Utc>)
        -> Result<i64, StoreError>;

    /// Mail of every kind queued to this one address (a customer-side recipient) since `since`.
    ///
    /// # Errors
    /// SQL errors.
    fn outbound_to_since(&self, recipient: &str, since: DateTime<Utc>) -> Result<i64, StoreError>;

    /// Whether the case's outbox holds a message with this Message-ID.
    ///
    /// # Errors
    /// SQL errors.
    fn is_our_message_on_case(&self, case_id: i64, message_id: &str) -> Result<bool, StoreError>;

    /// Audit events `event` on the case since `since`.
    ///
    /// # Errors
    /// SQL errors.
    fn audit_count_since(
        &self,
        case_id: i64,
        event: AuditEvent,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Whether the agents were sent the flood summary of this case.
    ///
    /// # Errors
    /// SQL errors.
    fn flood_summary_sent(&self, case_id: i64) -> Result<bool, StoreError>;

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
    ) -> Result<(), StoreError>;

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
    ) -> Result<Vec<i64>, StoreError>;
}

/// Operations of this room outside a caller's transaction (each is its own).
pub trait GuardOps {
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
    ) -> Result<Option<i64>, StoreError>;
}
