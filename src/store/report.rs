//! Queries for reports and the management digest: read-only figures over a period, and the
//! `digests` bookkeeping that makes each digest slot go out exactly once.

use chrono::{DateTime, Utc};

use super::*;
use crate::case::{Category, Priority, Status};

/// A case as reports see it: its figures, never its text beyond the subject (blank once the
/// case was purged or erased).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReportCase {
    pub id: i64,
    pub reference: String,
    pub status: Status,
    pub category: Category,
    pub priority: Priority,
    pub subject: String,
    #[serde(serialize_with = "ser_ts")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub first_response_due: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub first_response_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub resolution_due: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub resolved_at: Option<DateTime<Utc>>,
    pub reopen_count: i64,
    #[serde(serialize_with = "ser_opt_ts")]
    pub escalated_at: Option<DateTime<Utc>>,
    /// Set when retention or an erasure removed the case's personal data.
    #[serde(serialize_with = "ser_opt_ts")]
    pub purged_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub erased_at: Option<DateTime<Utc>>,
    /// Its queue and brand as stored (`None`: a case from before queues).
    pub queue: Option<String>,
    pub brand: Option<String>,
}

/// Which cases a report covers: every case, or one queue's, one brand's or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportScope {
    pub queue: Option<Matching>,
    pub brand: Option<Matching>,
}

/// One satisfaction rating with its case's classification.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ReportRating {
    pub case_id: i64,
    pub reference: String,
    pub category: Category,
    pub rating: u8,
    pub comment: Option<String>,
    #[serde(serialize_with = "ser_ts")]
    pub at: DateTime<Utc>,
}

/// Queries of this room (see the module doc).
pub trait ReportReads {
    /// Cases of `scope` opened in `[from, to)`, oldest first (purged and erased ones included).
    ///
    /// # Errors
    /// SQL errors.
    fn cases_opened(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &ReportScope,
    ) -> Result<Vec<ReportCase>, StoreError>;

    /// Cases of `scope` first escalated in `[from, to)`, whenever they were opened.
    ///
    /// # Errors
    /// SQL errors.
    fn cases_escalated(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &ReportScope,
    ) -> Result<Vec<ReportCase>, StoreError>;

    /// Ratings given in `[from, to)` on cases of `scope`, oldest first.
    ///
    /// # Errors
    /// SQL errors.
    fn ratings_given(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        scope: &ReportScope,
    ) -> Result<Vec<ReportRating>, StoreError>;

    /// True when the digest of this slot was already queued.
    ///
    /// # Errors
    /// SQL errors.
    fn digest_sent(&self, slot: &str) -> Result<bool, StoreError>;

    /// True when any slot of this schedule (`weekly`...) was recorded, sent or skipped.
    ///
    /// # Errors
    /// SQL errors.
    fn any_digest(&self, schedule: &str) -> Result<bool, StoreError>;
}

/// Writes of this room, inside one transaction ([`Store::write`]).
pub trait ReportWrites {
    /// Records a slot as handled without sending anything (no outbox row).
    ///
    /// # Errors
    /// SQL errors.
    fn skip_digest(
        &self,
        slot: &str,
        period_from: DateTime<Utc>,
        period_to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Queues a digest and records its slot in this transaction; returns false (and queues
    /// nothing) when the slot was already recorded, so a slot goes out once across restarts.
    ///
    /// # Errors
    /// SQL errors.
    fn enqueue_digest(
        &self,
        slot: &str,
        period_from: DateTime<Utc>,
        period_to: DateTime<Utc>,
        mail: &NewOutbound<'_>,
    ) -> Result<bool, StoreError>;
}
