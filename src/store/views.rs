//! Read-only views for the command line (`mailcase cases`, `mailcase case`): filtered case
//! lists, a case with its records-management state, raw messages and ratings with their time.
//!
//! Kept apart from the daemon's queries so the CLI's needs do not grow the pipeline's API.
//! Columns are read by name, so a later change to `CASE_COLS` cannot shift them.

use chrono::{DateTime, Utc};

use super::*;
use crate::case::{Category, Priority, Status};

/// Which cases `mailcase cases` lists; every set field must match.
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<Status>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    /// Lower-cased customer address.
    pub customer: Option<String>,
    /// Opened at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only open cases whose first-response or resolution target passed unmet at this instant
    /// (at the pause, for a case waiting on the customer: its clock stopped there).
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only open cases with a target not yet met that falls due at or before this instant
    /// (overdue ones included; a paused case counts at its due time, and is never at risk).
    pub due_by: Option<DateTime<Utc>>,
    /// Only cases of this queue.
    pub queue: Option<Matching>,
    /// Only cases of this brand.
    pub brand: Option<Matching>,
}

/// A queue or brand name to match, and what a case with none stored counts as: a case from
/// before queues is in the default queue, of that queue's brand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matching {
    pub name: String,
    pub null_as: String,
}

/// A case with the records-management facts of schema v4.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseView {
    #[serde(flatten)]
    pub case: CaseRow,
    /// The reason a case is on legal hold (never purged).
    pub legal_hold: Option<String>,
    #[serde(serialize_with = "ser_opt_ts")]
    pub escalated_at: Option<DateTime<Utc>>,
    /// Retention removed its personal data.
    #[serde(serialize_with = "ser_opt_ts")]
    pub purged_at: Option<DateTime<Utc>>,
    /// A data-protection request erased its customer's personal data.
    #[serde(serialize_with = "ser_opt_ts")]
    pub erased_at: Option<DateTime<Utc>>,
    /// The loop guard stopped the case's relaying at this time (`mailcase resume` ends it).
    #[serde(serialize_with = "ser_opt_ts")]
    pub loop_stopped_at: Option<DateTime<Utc>>,
}

impl CaseView {
    /// True when the case is open and its first-response target (not yet met) or its
    /// resolution target passed before `now`, or before the pause for a case waiting on the
    /// customer, whose clock stopped there.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        let c = &self.case;
        if matches!(c.status, Status::Resolved | Status::Closed) {
            return false;
        }
        let clock = c.sla_paused_at.unwrap_or(now);
        let passed = |due: Option<DateTime<Utc>>| due.is_some_and(|d| d < clock);
        (c.first_response_at.is_none() && passed(c.first_response_due)) || passed(c.resolution_due)
    }

    /// The earliest target of an open case not yet met: the first response (until the
    /// first answer or a resolution) or the resolution.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        let c = &self.case;
        if matches!(c.status, Status::Resolved | Status::Closed) {
            return None;
        }
        let first = c
            .first_response_due
            .filter(|_| c.first_response_at.is_none() && c.resolved_at.is_none());
        match (first, c.resolution_due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// True when the case is open, its clock runs (not waiting on the customer), no target
    /// has passed yet, and one falls due within `lead` of `now`: the cases an operator still
    /// has time to save.
    pub fn at_risk(&self, now: DateTime<Utc>, lead: chrono::Duration) -> bool {
        self.case.sla_paused_at.is_none()
            && !self.overdue(now)
            && self.next_due().is_some_and(|d| d <= now + lead)
    }

    /// "(purged)" or "(erased)" when the case's personal fields were blanked.
    pub fn blanked(&self) -> Option<&'static str> {
        if self.erased_at.is_some() {
            Some("(erased)")
        } else if self.purged_at.is_some() {
            Some("(purged)")
        } else {
            None
        }
    }
}

/// A rating as stored, with when it was given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RatingRow {
    pub rating: u8,
    pub comment: Option<String>,
    #[serde(serialize_with = "ser_ts")]
    pub at: DateTime<Utc>,
}

/// Queries of this room (see the module doc).
pub trait ViewReads {
    /// Cases matching `f`, newest first.
    ///
    /// # Errors
    /// SQL errors.
    fn cases_matching(&self, f: &CaseFilter) -> Result<Vec<CaseView>, StoreError>;

    /// One case with its records-management facts.
    ///
    /// # Errors
    /// SQL errors.
    fn case_view(&self, reference: &str) -> Result<Option<CaseView>, StoreError>;

    /// The reference and customer address of a case by its id (for linked cases).
    ///
    /// # Errors
    /// SQL errors.
    fn case_reference(&self, case_id: i64) -> Result<Option<(String, String)>, StoreError>;

    /// Every case reference, for suggesting the one a person meant.
    ///
    /// # Errors
    /// SQL errors.
    fn references(&self) -> Result<Vec<String>, StoreError>;

    /// The stored raw bytes of a message: `None` when there is no such message, `Some(None)`
    /// when its bytes were removed (purged or erased).
    ///
    /// # Errors
    /// SQL errors.
    fn raw_message(&self, message_id: i64) -> Result<Option<Option<Vec<u8>>>, StoreError>;

    /// The rating of a case with when it was given.
    ///
    /// # Errors
    /// SQL errors.
    fn rating_row(&self, case_id: i64) -> Result<Option<RatingRow>, StoreError>;
}
