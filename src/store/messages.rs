//! Inbound messages: what was stored, deduplication, quarantine and the IMAP positions seen.

use chrono::{DateTime, Utc};

use super::*;
use crate::parse::InboundMessage;

/// Where an inbound message came from, for deduplication by (mailbox, UIDVALIDITY, UID).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImapSource {
    pub mailbox: String,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// An inbound message about to be stored.
#[derive(Debug)]
pub struct NewMessage<'a> {
    pub case_id: Option<i64>,
    pub source: Option<&'a ImapSource>,
    pub msg: &'a InboundMessage,
    pub received_at: DateTime<Utc>,
    pub robot: Option<(&'a str, &'a str)>,
    pub outcome: MessageOutcome,
    pub raw: &'a [u8],
    /// The author's role; None for robots.
    pub role: Option<ParticipantRole>,
    /// Internal: an agent's `#note`, or a message that failed its role's checks.
    pub visibility: Visibility,
    /// False when the message claimed a role it could not prove (see `note`).
    pub verified: bool,
    /// Why it is internal or unverified, for agents reading the case.
    pub note: Option<&'a str>,
}

/// A stored inbound message (metadata and visible text).
#[derive(Debug, Clone, serde::Serialize)]
pub struct MessageRow {
    pub id: i64,
    pub case_id: Option<i64>,
    pub message_id: Option<String>,
    pub from_address: Option<String>,
    pub subject: String,
    #[serde(serialize_with = "ser_ts")]
    pub received_at: DateTime<Utc>,
    pub body_text: String,
    pub robot: Option<String>,
    pub outcome: MessageOutcome,
    /// What the author wrote now (quoted history and signature removed); `None` when that is
    /// the whole text (`body_text`), which is then not stored twice.
    pub reply_text: Option<String>,
    pub role: Option<ParticipantRole>,
    pub visibility: Visibility,
    pub verified: bool,
    pub note: Option<String>,
}

/// Queries of this room (see the module doc).
pub trait MessageReads {
    /// Messages of a case, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn messages_of_case(&self, case_id: i64) -> Result<Vec<MessageRow>, StoreError>;

    /// Every stored inbound message, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn all_messages(&self) -> Result<Vec<MessageRow>, StoreError>;

    /// Quarantined messages as (uid, reason, size), oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn quarantine(&self) -> Result<Vec<(Option<u32>, String, i64)>, StoreError>;

    /// True when this (mailbox, UIDVALIDITY, UID) was already stored or quarantined.
    ///
    /// # Errors
    /// SQL errors.
    fn seen_uid(&self, src: &ImapSource) -> Result<bool, StoreError>;
}

/// Writes of this room, inside one transaction ([`Store::write`]).
pub trait MessageWrites {
    /// Makes a held answer (`answer_held`) an agent's answer on the conversation (`#send`);
    /// false when that message is not held.
    ///
    /// # Errors
    /// SQL errors.
    fn release_held(&self, message_row: i64) -> Result<bool, StoreError>;

    /// When we sent the latest of these Message-IDs to a case's agents (what an agent's
    /// reply answers), or None when none of them is ours.
    ///
    /// # Errors
    /// SQL errors.
    fn agent_mail_at(
        &self,
        case_id: i64,
        ids: &[String],
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Whether these exact raw bytes (hex SHA-256) were stored, and whether a message with
    /// this dedupe key was: one statement for the question every new message asks.
    ///
    /// # Errors
    /// SQL errors.
    fn seen_bytes_or_key(
        &self,
        content_hash: &str,
        dedupe_id: &str,
    ) -> Result<(bool, bool), StoreError>;

    /// Whether a message with this dedupe key was stored.
    ///
    /// # Errors
    /// SQL errors.
    fn seen_dedupe_id(&self, dedupe_id: &str) -> Result<bool, StoreError>;

    /// The raw bytes of stored messages with this Message-ID (`None` where they were purged),
    /// to tell a second delivery of a message from another message reusing its id. At most
    /// 20: a sender who reuses one id for ever more messages costs a bounded read. No ORDER
    /// BY: with one, SQLite re-prepared the statement at its executions (see timers_of_case).
    ///
    /// # Errors
    /// SQL errors.
    fn raw_of_message_id(&self, message_id: &str) -> Result<Vec<Option<Vec<u8>>>, StoreError>;

    /// The case and recipients of our customer-facing message with one of these Message-IDs
    /// (what a bounce returns): the customer first, then the participants in Cc.
    ///
    /// # Errors
    /// SQL errors.
    fn customer_mail_by_ids(
        &self,
        ids: &[String],
    ) -> Result<Option<(i64, Vec<String>)>, StoreError>;

    /// Stores an inbound message (raw bytes kept) and returns its id.
    ///
    /// # Errors
    /// SQL errors; a duplicate (mailbox, UIDVALIDITY, UID) or dedupe id is a constraint error.
    fn insert_message(&self, m: &NewMessage<'_>) -> Result<i64, StoreError>;

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
    ) -> Result<i64, StoreError>;
}

/// Operations of this room outside a caller's transaction (each is its own).
pub trait MessageOps {
    /// Records the UIDVALIDITY of a mailbox; returns the previous value when it changed.
    ///
    /// # Errors
    /// SQL errors.
    fn note_uidvalidity(
        &mut self,
        mailbox: &str,
        uidvalidity: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<u32>, StoreError>;
}
