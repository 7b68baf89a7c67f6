//! Records management in the store: legal hold, the retention purge, and what a
//! data-protection request needs (everything about one address, and its erasure).
//!
//! A purged or erased case keeps its row with the figures reports need (category, priority,
//! created/first response/resolved/closed times, due times, escalated_at, reopen count,
//! rating score) and loses what identifies a person: its messages keep only their metadata
//! (time, role, outcome, size), its outbound mail only kind, status and times, its audit
//! trail only event names, actors' roles and times; participants and timers go.

use chrono::{DateTime, Utc};

use super::*;
use crate::case::{Category, Priority};

/// Why a case loses its personal data; also the marker written into the unique keys it had
/// (`purged:<id>`), so they stay unique and say what happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scrub {
    /// The retention policy's time was up (`cases.purged_at`).
    Purged,
    /// A data-protection request (`cases.erased_at`).
    Erased,
}

impl Scrub {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scrub::Purged => "purged",
            Scrub::Erased => "erased",
        }
    }

    /// The audit event of a scrubbed case.
    pub(crate) fn event(self) -> AuditEvent {
        match self {
            Scrub::Purged => AuditEvent::Purged,
            Scrub::Erased => AuditEvent::Erased,
        }
    }
}

/// A closed case the retention policy may purge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClosedCase {
    pub id: i64,
    pub reference: String,
    pub category: Category,
    pub priority: Priority,
    #[serde(serialize_with = "ser_ts")]
    pub closed_at: DateTime<Utc>,
}

/// A case under legal hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HeldCase {
    pub id: i64,
    pub reference: String,
    pub reason: String,
    pub since: String,
}

/// A quarantined message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuarantineItem {
    pub id: i64,
    pub uid: Option<u32>,
    pub reason: String,
    pub size: i64,
    #[serde(serialize_with = "ser_ts")]
    pub at: DateTime<Utc>,
}

/// A stored message, as retention lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MessageItem {
    pub id: i64,
    /// The reference of its case (None: it belongs to none).
    pub reference: Option<String>,
    #[serde(serialize_with = "ser_ts")]
    pub received_at: DateTime<Utc>,
    pub raw_size: i64,
}

/// What scrubbing one case removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScrubCounts {
    pub messages: usize,
    pub outbound: usize,
    pub participants: usize,
    pub timers: usize,
    pub audit: usize,
}

/// A legal hold set or released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldChange {
    Set,
    /// It was already on hold; the reason was replaced.
    Replaced {
        previous: String,
    },
    Released {
        reason: String,
    },
    /// `--release` on a case that was not on hold: nothing changed.
    NotHeld,
}

/// Everything stored about one address, for an export.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PersonRecords {
    /// Cases where the address is the customer or a participant, oldest first.
    pub cases: Vec<PersonCase>,
    /// Messages the address sent that belong to no case (robots, ignored mail).
    pub unattached_messages: Vec<StoredMessage>,
    /// Mail we queued or sent to the address outside any case.
    pub unattached_outbound: Vec<StoredOutbound>,
}

/// One case in an export.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PersonCase {
    pub case: super::CaseRow,
    /// `customer` when the case is theirs, else `participant`.
    pub relation: String,
    pub legal_hold: Option<String>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub purged_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub erased_at: Option<DateTime<Utc>>,
    /// Participant entries of this address on the case.
    pub participant_entries: Vec<ParticipantEntry>,
    /// Their own case: every message; someone else's: the messages this address sent.
    pub messages: Vec<StoredMessage>,
    /// Their own case: all mail to them; someone else's: mail to this address.
    pub outbound: Vec<StoredOutbound>,
    pub rating: Option<RatingEntry>,
    /// Their own case only: the audit trail.
    pub audit: Vec<AuditEntry>,
}

/// A participant row.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ParticipantEntry {
    pub address: String,
    pub name: Option<String>,
    pub role: ParticipantRole,
    pub undeliverable: bool,
    #[serde(serialize_with = "ser_ts")]
    pub added_at: DateTime<Utc>,
}

/// An inbound message with everything stored about it (`raw` is written as a file).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredMessage {
    pub id: i64,
    pub case_id: Option<i64>,
    pub message_id: Option<String>,
    pub from_address: Option<String>,
    pub from_name: Option<String>,
    pub reply_address: Option<String>,
    pub subject: String,
    #[serde(serialize_with = "ser_opt_ts")]
    pub sent_date: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_ts")]
    pub received_at: DateTime<Utc>,
    pub body_text: String,
    /// The text without quoted history and signature; `None` when it is all of `body_text`.
    pub reply_text: Option<String>,
    /// Attachment metadata as stored (JSON list of name, content type, size).
    pub attachments: serde_json::Value,
    pub robot: Option<String>,
    pub outcome: MessageOutcome,
    pub role: Option<ParticipantRole>,
    pub visibility: Visibility,
    pub note: Option<String>,
    pub raw_size: i64,
    #[serde(skip)]
    pub raw: Option<Vec<u8>>,
}

/// An outbound message (the body, a complete RFC 5322 message, is written as a file).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredOutbound {
    pub id: i64,
    pub case_id: Option<i64>,
    pub kind: OutboundKind,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub status: OutboundState,
    #[serde(serialize_with = "ser_ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// A rating.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RatingEntry {
    pub rating: u8,
    pub comment: Option<String>,
    #[serde(serialize_with = "ser_ts")]
    pub at: DateTime<Utc>,
}

/// An audit event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    #[serde(serialize_with = "ser_ts")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub event: AuditEvent,
    pub detail: String,
}

/// Where an erased address was still found after its cases and messages were scrubbed, and
/// what was done: text had it replaced by `[erased]`, binary values (raw messages, mail
/// bodies) were dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SweepCounts {
    pub values_redacted: usize,
    pub blobs_dropped: usize,
}

/// Queries of this room (see the module doc).
pub trait RecordReads {
    /// Closed cases that are neither on hold nor already purged or erased, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn closed_cases_unheld(&self) -> Result<Vec<ClosedCase>, StoreError>;

    /// Cases under legal hold, by reference.
    ///
    /// # Errors
    /// SQL errors.
    fn held_cases(&self) -> Result<Vec<HeldCase>, StoreError>;

    /// The legal hold of a case: (reason, since).
    ///
    /// # Errors
    /// SQL errors.
    fn legal_hold(&self, case_id: i64) -> Result<Option<(String, String)>, StoreError>;

    /// When a case was purged and erased (None: it was not).
    ///
    /// # Errors
    /// SQL errors.
    fn scrubbed_at(&self, case_id: i64) -> Result<(Option<String>, Option<String>), StoreError>;

    /// Quarantined messages stored before `cutoff`.
    ///
    /// # Errors
    /// SQL errors.
    fn quarantine_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<QuarantineItem>, StoreError>;

    /// Messages received before `cutoff` that still have their raw bytes, except those of
    /// cases on hold.
    ///
    /// # Errors
    /// SQL errors.
    fn raw_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<MessageItem>, StoreError>;

    /// Messages of no case received before `cutoff` and not yet purged.
    ///
    /// # Errors
    /// SQL errors.
    fn unattached_before(&self, cutoff: DateTime<Utc>) -> Result<Vec<MessageItem>, StoreError>;

    /// Outbound mail queued before `cutoff`, no longer pending, that still has its body,
    /// except that of cases on hold: how many.
    ///
    /// # Errors
    /// SQL errors.
    fn sent_bodies_before(&self, cutoff: DateTime<Utc>) -> Result<i64, StoreError>;

    /// Every inbound message with everything stored about it, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn stored_messages(&self) -> Result<Vec<StoredMessage>, StoreError>;

    /// The raw bytes kept of each quarantined message (None: not downloaded, or dropped), in
    /// the order of [`Reader::quarantine`].
    ///
    /// # Errors
    /// SQL errors.
    fn quarantine_raw(&self) -> Result<Vec<Option<Vec<u8>>>, StoreError>;

    /// When the named periodic job last ran, and what it recorded.
    ///
    /// # Errors
    /// SQL errors.
    fn maintenance(&self, name: &str) -> Result<Option<(DateTime<Utc>, String)>, StoreError>;

    /// Ids of the cases where `address` (any case) is the customer, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn cases_of_customer(&self, address: &str) -> Result<Vec<i64>, StoreError>;

    /// Everything stored about `address` (matched without regard to case): their cases, the
    /// cases they take part in or wrote to, their messages, the mail sent to them.
    ///
    /// # Errors
    /// SQL errors.
    fn person_records(&self, address: &str) -> Result<PersonRecords, StoreError>;
}

/// Writes of this room, inside one transaction ([`Store::write`]).
pub trait RecordWrites {
    /// True when a case was purged or erased: nothing may join it any more (an old reply
    /// token still verifies, but there is nobody left on the case to answer).
    ///
    /// # Errors
    /// SQL errors.
    fn is_scrubbed(&self, case_id: i64) -> Result<bool, StoreError>;

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
    ) -> Result<ScrubCounts, StoreError>;

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
    ) -> Result<bool, StoreError>;

    /// Blanks messages that belong to no case, as [`Tx::scrub_case`] blanks a case's.
    ///
    /// # Errors
    /// SQL errors.
    fn scrub_messages(&self, ids: &[i64], how: Scrub) -> Result<usize, StoreError>;

    /// Drops the raw bytes of these messages (their text and metadata stay).
    ///
    /// # Errors
    /// SQL errors.
    fn drop_raw(&self, ids: &[i64]) -> Result<usize, StoreError>;

    /// Drops the bodies of outbound mail queued before `cutoff` and no longer pending, except
    /// on cases under hold.
    ///
    /// # Errors
    /// SQL errors.
    fn drop_sent_bodies(&self, cutoff: DateTime<Utc>) -> Result<usize, StoreError>;

    /// Deletes quarantined messages.
    ///
    /// # Errors
    /// SQL errors.
    fn delete_quarantine(&self, ids: &[i64]) -> Result<usize, StoreError>;

    /// Removes one address from every case it takes part in and blanks the messages it
    /// sent (cases of other customers keep their own data); returns (participant rows,
    /// messages).
    ///
    /// # Errors
    /// SQL errors.
    fn remove_person(&self, address: &str, how: Scrub) -> Result<(usize, usize), StoreError>;

    /// Finds `needle` (without regard to ASCII case) in every column of every table and
    /// removes it: text has it replaced by `[erased]`, binary values (raw messages, mail
    /// bodies) are dropped, since a message cannot be partly kept. `free_text_only` limits the
    /// search to columns that hold text people wrote (for a needle that is not a whole
    /// address, so status names and keys are never touched).
    ///
    /// # Errors
    /// SQL errors.
    fn sweep(&self, needle: &str, free_text_only: bool) -> Result<SweepCounts, StoreError>;

    /// Records that the named periodic job ran, in the transaction of its last step, so
    /// whoever sees the record sees all the job did.
    ///
    /// # Errors
    /// SQL errors.
    fn record_maintenance(
        &self,
        name: &str,
        now: DateTime<Utc>,
        detail: &serde_json::Value,
    ) -> Result<(), StoreError>;
}

/// Operations of this room outside a caller's transaction (each is its own).
pub trait RecordOps {
    /// Zeroes deleted content on this connection (SQLite `secure_delete`), so what a purge
    /// or erasure removes does not linger in freed pages of the file.
    ///
    /// # Errors
    /// SQL errors.
    fn secure_delete(&mut self) -> Result<(), StoreError>;

    /// Rewrites the database without free pages (VACUUM) and empties the write-ahead log into
    /// it (checkpoint TRUNCATE): afterwards no byte of deleted content is left in the
    /// database file or its `-wal`. The daemon may keep running: VACUUM takes the write lock
    /// like any transaction, and the checkpoint waits (busy timeout) for readers to finish.
    ///
    /// # Errors
    /// SQL errors; a checkpoint that readers kept from completing, after retries.
    fn compact(&mut self) -> Result<(), StoreError>;

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
    ) -> Result<HoldChange, StoreError>;
}
